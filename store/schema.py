"""SQLAlchemy models: the same schema on SQLite (default) and PostgreSQL.

Timestamps are stored as naive UTC (``ts_utc``) next to the calendar day in
the event's own offset (``local_day``): "known by the end of day D" is then
``local_day <= D`` on either database.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Candidate(Base):
    __tablename__ = "candidates"

    candidate_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    season: Mapped[str] = mapped_column(String(32), index=True)
    school: Mapped[str | None] = mapped_column(String(200))
    school_tier: Mapped[int | None] = mapped_column(SmallInteger)
    major: Mapped[str | None] = mapped_column(String(200))
    degree: Mapped[str | None] = mapped_column(String(16))
    role_family: Mapped[str | None] = mapped_column(String(64))
    department: Mapped[str | None] = mapped_column(String(200))
    work_city: Mapped[str | None] = mapped_column(String(100))
    home_city: Mapped[str | None] = mapped_column(String(100))
    hr_owner: Mapped[str] = mapped_column(String(64), index=True)
    birthday: Mapped[dt.date | None] = mapped_column(Date)
    start_date: Mapped[dt.date | None] = mapped_column(Date)
    consent_external_signals: Mapped[bool] = mapped_column(Boolean, default=False)
    # Kept for bias audits only; never a model input.
    gender: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_utcnow)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("ingest_batches.batch_id"))


class Event(Base):
    __tablename__ = "events"

    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    candidate_id: Mapped[str] = mapped_column(String(64))
    ts_utc: Mapped[dt.datetime] = mapped_column(DateTime)
    utc_offset_min: Mapped[int] = mapped_column(SmallInteger)
    local_day: Mapped[dt.date] = mapped_column(Date)
    type: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str | None] = mapped_column(String(16))
    content_id: Mapped[str | None] = mapped_column(String(64))
    topic: Mapped[str | None] = mapped_column(String(32))
    value: Mapped[float | None] = mapped_column(Float)
    actor: Mapped[str | None] = mapped_column(String(16))
    # Personal data: never logged, never in an error message.
    text: Mapped[str | None] = mapped_column(Text)
    batch_id: Mapped[int | None] = mapped_column(BigInteger)

    # One secondary index: per-candidate timelines. Feature building scans by day range
    # over everyone, where an index on local_day would cost every insert and help no query.
    __table_args__ = (Index("ix_events_candidate_day", "candidate_id", "local_day"),)


class Outcome(Base):
    __tablename__ = "outcomes"

    candidate_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(16))
    outcome_date: Mapped[dt.date] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(String(32))
    batch_id: Mapped[int | None] = mapped_column(BigInteger)


class Content(Base):
    __tablename__ = "content"

    content_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str | None] = mapped_column(String(300))
    kind: Mapped[str | None] = mapped_column(String(16))
    role_families: Mapped[str | None] = mapped_column(String(300))
    topics: Mapped[str | None] = mapped_column(String(300))
    stage: Mapped[str | None] = mapped_column(String(16))


class Truth(Base):
    """The simulator's own renege probability: for evaluation only, never a model input."""

    __tablename__ = "sim_truth"

    candidate_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    as_of: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    p_true: Mapped[float] = mapped_column(Float)


class IngestBatch(Base):
    __tablename__ = "ingest_batches"

    batch_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(500))
    fingerprint: Mapped[str] = mapped_column(String(64))
    loaded_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_utcnow)
    counts: Mapped[dict[str, int]] = mapped_column(JSON)
    # The candidates a small write changed (API, webhook), so every serving process can
    # refresh just those; NULL for a bundle, after which servers rebuild their caches.
    touched: Mapped[list[str] | None] = mapped_column(JSON)


class Score(Base):
    """Daily score history: one row per candidate, day and model version."""

    __tablename__ = "scores"

    score_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    candidate_id: Mapped[str] = mapped_column(String(64))
    as_of: Mapped[dt.date] = mapped_column(Date)
    model_version: Mapped[str] = mapped_column(String(32))
    risk: Mapped[float] = mapped_column(Float)
    rank: Mapped[int | None] = mapped_column(Integer)
    reasons: Mapped[list[dict[str, object]] | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_utcnow)

    __table_args__ = (
        UniqueConstraint("candidate_id", "as_of", "model_version", name="uq_scores_cand_day_model"),
        Index("ix_scores_day", "as_of"),
    )


class OutreachAction(Base):
    """A planned outreach step for a recruiter, and what became of it."""

    __tablename__ = "outreach_actions"

    action_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    candidate_id: Mapped[str] = mapped_column(String(64), index=True)
    hr_owner: Mapped[str] = mapped_column(String(64))
    plan_date: Mapped[dt.date] = mapped_column(Date)
    action: Mapped[str] = mapped_column(String(32))
    content_id: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(500))
    reason_en: Mapped[str | None] = mapped_column(String(500))
    risk: Mapped[float | None] = mapped_column(Float)
    expected_benefit: Mapped[float | None] = mapped_column(Float)
    # planned (a recruiter's), auto (the cadence, sent by the system), done, not_planned
    # (a watched candidate without a task: ``action`` holds the reason code)
    status: Mapped[str] = mapped_column(String(16), default="planned")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_utcnow)
    done_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    place: Mapped[int | None] = mapped_column(Integer)  # in the recruiter's queue, 1 = first
    urgent: Mapped[bool | None] = mapped_column(Boolean)  # placed first as urgent work
    outcome: Mapped[str | None] = mapped_column(String(16))  # a call's: connected, ...
    note: Mapped[str | None] = mapped_column(Text)  # the recruiter's note: personal, never logged

    __table_args__ = (Index("ix_outreach_owner_day", "hr_owner", "plan_date"),)


class ApiKey(Base):
    """An API key: only its SHA-256 is kept; the key itself is shown once, at creation."""

    __tablename__ = "api_keys"

    key_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    prefix: Mapped[str] = mapped_column(String(16))  # the key's first characters, to recognise it
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    hr_owner: Mapped[str | None] = mapped_column(String(64))
    label: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class WebhookDelivery(Base):
    """One delivery from an ATS webhook, kept so a redelivery changes nothing.

    ``detail`` holds only the fields keepwarm maps (ids, statuses, dates), never names or notes;
    a delivery whose candidate keepwarm does not know yet waits here as ``pending``.
    """

    __tablename__ = "webhook_deliveries"

    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    delivery_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    action: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # applied, pending, ignored
    application_id: Mapped[str | None] = mapped_column(String(64))
    candidate_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, object] | None] = mapped_column(JSON)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_utcnow)

    __table_args__ = (Index("ix_webhook_status", "status"),)


class AtsLink(Base):
    """Which keepwarm candidate an ATS application belongs to."""

    __tablename__ = "ats_links"

    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    application_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    candidate_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_utcnow)


class Alert(Base):
    """A risk warning (outreach.alerts): raised by an event, resolved by the one answering it."""

    __tablename__ = "alerts"

    alert_id: Mapped[str] = mapped_column(String(240), primary_key=True)  # kind:trigger
    candidate_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    trigger_event_id: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)  # naive UTC
    notify: Mapped[str] = mapped_column(String(16))  # hr, dept_manager, hr_director
    detail: Mapped[dict[str, object] | None] = mapped_column(JSON)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(128))
    as_of: Mapped[dt.date] = mapped_column(Date)  # the last day the daily flow looked at it


class ConsoleUser(Base):
    """A person who signs in to the console; the password is kept as an Argon2 hash only."""

    __tablename__ = "console_users"

    user_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))  # hr, lead, admin
    hr_owner: Mapped[str | None] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_utcnow)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class ConsoleSession(Base):
    """A signed-in browser: the cookie's token as SHA-256, and the CSRF token of its forms."""

    __tablename__ = "console_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("console_users.user_id"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)


class AuditEntry(Base):
    """Who read or changed whose data, when and from where: append-only.

    Triggers (migration 0007) refuse every UPDATE, and every DELETE of an entry younger
    than ``store.audit.MIN_KEEP_DAYS``; only the retention purge removes older ones.
    Entries hold ids, endpoints and counts, never names or free text.
    """

    __tablename__ = "audit_log"

    audit_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=_utcnow)  # naive UTC
    actor: Mapped[str] = mapped_column(String(128))  # key:3, user:wang, cli:root, flow:daily
    role: Mapped[str | None] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32))  # read, export, write, erase, ...
    target: Mapped[str] = mapped_column(String(200))  # the endpoint, page or command
    candidate_id: Mapped[str | None] = mapped_column(String(64))  # one subject
    subjects: Mapped[list[str] | None] = mapped_column(JSON)  # many subjects (a list read)
    origin: Mapped[str | None] = mapped_column(String(64))  # client address, or cli/flow
    detail: Mapped[dict[str, object] | None] = mapped_column(JSON)

    __table_args__ = (
        Index("ix_audit_at", "at"),
        Index("ix_audit_candidate", "candidate_id"),
        Index("ix_audit_actor", "actor"),
    )


class Tombstone(Base):
    """A candidate id erased or retired: its salted SHA-256 only, so re-ingest skips it."""

    __tablename__ = "tombstones"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # erased, retired
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=_utcnow)


class TierOverride(Base):
    """A recruiter's judgement over the model's tier, with their reason; the latest one holds.

    ``cleared_at`` ends it. The reason is free text: shown to those who may see the
    candidate, never logged or audited.
    """

    __tablename__ = "tier_overrides"

    override_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    candidate_id: Mapped[str] = mapped_column(String(64), index=True)
    tier: Mapped[str] = mapped_column(String(8))  # high, medium, low
    model_tier: Mapped[str | None] = mapped_column(String(8))
    model_risk: Mapped[float | None] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(String(500))
    actor: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_utcnow)
    cleared_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class ProfileVersion(Base):
    """A candidate's model-relevant profile as known from ``known_from`` on (point-in-time).

    ``candidates`` holds the latest values, overwritten in place; this table keeps every
    version of the fields features read, so a score or a training row "as of day D" uses
    the profile as known at the end of D (``features.source.load_candidates``). A
    candidate's first version holds from ``store.contract.EARLIEST``; a later change from
    the day it was written (in ``KEEPWARM_TIMEZONE``). No names, school, birthday or gender.
    """

    __tablename__ = "profile_history"

    version_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    candidate_id: Mapped[str] = mapped_column(String(64))
    known_from: Mapped[dt.date] = mapped_column(Date)
    school_tier: Mapped[int | None] = mapped_column(SmallInteger)
    major: Mapped[str | None] = mapped_column(String(200))
    degree: Mapped[str | None] = mapped_column(String(16))
    role_family: Mapped[str | None] = mapped_column(String(64))
    work_city: Mapped[str | None] = mapped_column(String(100))
    home_city: Mapped[str | None] = mapped_column(String(100))
    start_date: Mapped[dt.date | None] = mapped_column(Date)
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_utcnow)
    batch_id: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_profile_history_candidate", "candidate_id", "known_from"),)


class CalibrationCheck(Base):
    """One in-season calibration check of a model version, and the intercept it leaves in force.

    Observed reneges in recent windows against the number the model expected
    (``training.monitor``); ``shift`` is the logit shift applied at scoring time from
    this check on (0 when the check passed): refitted from the same windows when the
    observed/expected ratio's 95% interval excludes 1.
    """

    __tablename__ = "calibration_checks"

    check_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_version: Mapped[str] = mapped_column(String(32))
    as_of: Mapped[dt.date] = mapped_column(Date)  # outcomes known by the end of this day
    window_days: Mapped[int] = mapped_column(Integer)
    windows: Mapped[int] = mapped_column(Integer)  # how many windows were graded
    cohort: Mapped[int] = mapped_column(Integer)  # candidate-windows graded
    observed: Mapped[int] = mapped_column(Integer)
    expected: Mapped[float] = mapped_column(Float)
    ratio_low: Mapped[float | None] = mapped_column(Float)
    ratio_high: Mapped[float | None] = mapped_column(Float)
    flagged: Mapped[bool] = mapped_column(Boolean)
    shift: Mapped[float] = mapped_column(Float)  # logit shift in force from this check on
    expected_shifted: Mapped[float] = mapped_column(Float)  # the windows under that shift
    reference: Mapped[str | None] = mapped_column(String(200))  # seasons the timing came from
    detail: Mapped[dict[str, object] | None] = mapped_column(JSON)  # per window
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_utcnow)
    actor: Mapped[str | None] = mapped_column(String(128))

    __table_args__ = (Index("ix_calibration_checks_model", "model_version", "as_of"),)


class ActionEffect(Base):
    """An outreach action's effect on renege, learned from the store (``outreach.effects``).

    One row per (learned_on, action, segment). ``effect`` is the relative cut in
    renege risk the plan uses (the learned one, or the assumed default when
    ``assumed``); ``abs_*`` the cut in renege probability; ``*_low``/``*_high`` the
    candidate-clustered bootstrap interval; support counted in candidates.
    """

    __tablename__ = "action_effects"

    effect_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    learned_on: Mapped[dt.date] = mapped_column(Date, index=True)
    action: Mapped[str] = mapped_column(String(32))
    segment: Mapped[str] = mapped_column(String(64))
    # None only on a holdout row with too few candidates to measure
    effect: Mapped[float | None] = mapped_column(Float)
    effect_low: Mapped[float | None] = mapped_column(Float)
    effect_high: Mapped[float | None] = mapped_column(Float)
    abs_effect: Mapped[float | None] = mapped_column(Float)
    abs_low: Mapped[float | None] = mapped_column(Float)
    abs_high: Mapped[float | None] = mapped_column(Float)
    assumed: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(120))
    units: Mapped[int] = mapped_column(Integer)
    candidates: Mapped[int] = mapped_column(Integer)
    treated_candidates: Mapped[int] = mapped_column(Integer)
    treated_units: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_utcnow)

    __table_args__ = (
        UniqueConstraint("learned_on", "action", "segment", name="uq_action_effects_day"),
    )


class ShadowAction(Base):
    """What the plan would have given a holdout candidate on a day (never sent to anyone).

    The holdout gets the cadence only; these rows make "candidates given action k
    vs holdout candidates the plan would have given k" measurable. Kept apart from
    ``outreach_actions`` so no recruiter's list, digest or export can show them.
    """

    __tablename__ = "shadow_actions"

    shadow_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    candidate_id: Mapped[str] = mapped_column(String(64), index=True)
    hr_owner: Mapped[str] = mapped_column(String(64))
    plan_date: Mapped[dt.date] = mapped_column(Date, index=True)
    action: Mapped[str] = mapped_column(String(32))
    content_id: Mapped[str | None] = mapped_column(String(64))
    risk: Mapped[float | None] = mapped_column(Float)
    expected_benefit: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_utcnow)

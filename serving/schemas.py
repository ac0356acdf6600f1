"""Request and response bodies of the API, with the examples OpenAPI shows.

Enumerations come from the data contract (``store.contract``), so the API and
the bundle files can never disagree about what a valid value is. The
contract's finer checks (timestamps with an offset, known candidates, consent
for outside signals) run after these, in the same code that checks bundles.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
)

from outreach.alerts import KINDS as ALERT_KINDS
from store.contract import ACTORS, CHANNELS, DEGREES, EVENT_TYPES, OUTCOMES, REASONS, TOPICS

MAX_EVENTS = 5000
MAX_ITEMS = 5000
MAX_SCORE_IDS = 10_000
MAX_PAGE = 500

EventType = Literal[EVENT_TYPES]  # type: ignore[valid-type]
Channel = Literal[CHANNELS]  # type: ignore[valid-type]
Topic = Literal[TOPICS]  # type: ignore[valid-type]
Actor = Literal[ACTORS]  # type: ignore[valid-type]
Degree = Literal[DEGREES]  # type: ignore[valid-type]
OutcomeKind = Literal[OUTCOMES]  # type: ignore[valid-type]
OutcomeReason = Literal[REASONS]  # type: ignore[valid-type]
Tier = Literal["high", "medium", "low"]
AlertKind = Literal[ALERT_KINDS]  # type: ignore[valid-type]
# One id rule for API ids (candidates, recruiters): the store's column is 64 characters.
ID_PATTERN = r"^[A-Za-z0-9._:@-]{1,64}$"
Id = Field(min_length=1, max_length=64, pattern=ID_PATTERN)
IdStr = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=ID_PATTERN)]
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_date(value: object) -> object:
    """Dates as the contract writes them, YYYY-MM-DD; no numbers read as Unix time."""
    if isinstance(value, dt.date) or (isinstance(value, str) and _DATE.match(value)):
        return value
    raise ValueError("must be a date YYYY-MM-DD")


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]


def _number(value: object) -> object:
    """A JSON number: not a string of digits, not true/false."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a number")
    return value


Number = Annotated[float, BeforeValidator(_number), Field(allow_inf_nan=False)]


def _utc(value: dt.datetime) -> dt.datetime:
    """The store keeps naive UTC; the API says so (RFC 3339 wants an offset)."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


Utc = Annotated[dt.datetime, AfterValidator(_utc)]


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore")  # the contract: unknown columns are ignored


class EventIn(_In):
    event_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@-]+$")
    candidate_id: str = Id
    ts: str = Field(
        max_length=40,
        description="ISO 8601 with an offset",
        examples=["2024-10-12T09:30:00+08:00"],
    )
    type: EventType
    channel: Channel | None = None
    content_id: str | None = Field(default=None, max_length=64)
    topic: Topic | None = None
    value: Number | None = None
    actor: Actor | None = None
    text: str | None = Field(
        default=None, max_length=4000, description="Free text; personal data, never logged."
    )

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "event_id": "ats-88121",
                    "candidate_id": "c2024-00017",
                    "ts": "2024-11-02T10:15:00+08:00",
                    "type": "candidate_question",
                    "channel": "wechat",
                    "topic": "housing",
                    "actor": "candidate",
                }
            ]
        },
    )


class CandidateIn(_In):
    candidate_id: str = Id
    season: str = Field(min_length=1, max_length=32, examples=["2024-autumn"])
    school: str | None = Field(default=None, max_length=200)
    school_tier: Annotated[StrictInt, Field(ge=1, le=3)] | None = None
    major: str | None = Field(default=None, max_length=200)
    degree: Degree | None = None
    role_family: str | None = Field(default=None, max_length=64, examples=["tech"])
    department: str | None = Field(default=None, max_length=200)
    work_city: str | None = Field(default=None, max_length=100)
    home_city: str | None = Field(default=None, max_length=100)
    hr_owner: str = Id
    birthday: IsoDate | None = None
    start_date: IsoDate | None = None
    consent_external_signals: StrictBool | None = None
    gender: str | None = Field(
        default=None, max_length=32, description="For bias audits only; never a model input."
    )


class OutcomeIn(_In):
    candidate_id: str = Id
    outcome: OutcomeKind
    outcome_date: IsoDate
    reason: OutcomeReason | None = None


class Written(BaseModel):
    """What a write changed; sending the same items again changes nothing."""

    batch_id: int
    received: int
    new: int
    updated: int = 0
    already_known: int = 0
    # loaded, but read in part (as `keepwarm ingest` prints): unplaced cities, unknown roles
    warnings: list[str] = []


class ScoreRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"candidate_ids": ["c2024-00017"], "as_of": "2024-12-02"}]},
    )

    candidate_ids: list[IdStr] = Field(min_length=1, max_length=MAX_SCORE_IDS)
    as_of: IsoDate | None = Field(
        default=None, description="Score as of the end of this day (default: today)."
    )


class Reason(BaseModel):
    code: str = Field(description="Feature name from the catalogue")
    text_zh: str
    text_en: str
    value: float | str | None
    contribution: float = Field(description="Push on the log-odds of reneging")


class ScoreItem(BaseModel):
    candidate_id: str
    risk: float = Field(ge=0, le=1, description="Calibrated probability of reneging")
    risk_tier: Tier
    rank_percentile: float = Field(
        ge=0, le=100, description="Share of active candidates at or below this risk"
    )
    reasons: list[Reason]
    model_version: str


class ItemError(BaseModel):
    candidate_id: str
    error: Literal["unknown", "not_active"]
    message: str


class ScoreResponse(BaseModel):
    as_of: dt.date
    model_version: str
    results: list[ScoreItem]
    errors: list[ItemError]


class RiskRow(BaseModel):
    rank: int
    candidate_id: str
    hr_owner: str | None
    department: str | None
    role_family: str | None
    risk: float
    risk_tier: Tier
    reasons: list[Reason]
    alerts: list[str] = Field(
        description="The brief's warnings that fire: no_reply, approval_slow, "
        "competing_offer, extension_requested"
    )
    days_to_start: int | None
    start_date: dt.date | None
    override_tier: Tier | None = Field(
        default=None, description="A recruiter's tier over the model's, when set"
    )


class RiskList(BaseModel):
    as_of: dt.date
    model_version: str
    total: int
    rows: list[RiskRow]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page")


class Profile(BaseModel):
    candidate_id: str
    season: str
    school: str | None
    school_tier: int | None
    major: str | None
    degree: str | None
    role_family: str | None
    department: str | None
    work_city: str | None
    home_city: str | None
    hr_owner: str
    birthday: dt.date | None
    start_date: dt.date | None
    consent_external_signals: bool | None


class TimelineEvent(BaseModel):
    event_id: str
    ts: str
    local_day: dt.date
    type: str
    channel: str | None
    content_id: str | None
    topic: str | None
    value: float | None
    actor: str | None
    text: str | None


class ScorePoint(BaseModel):
    as_of: dt.date
    risk: float
    rank: int | None
    model_version: str


class CandidateDetail(BaseModel):
    profile: Profile
    outcome: OutcomeIn | None
    timeline: list[TimelineEvent]
    score_history: list[ScorePoint]
    current: ScoreItem | None = Field(description="Today's score; null when not active today")


class Problem(BaseModel):
    index: int | None = Field(description="Position in the request's array, when it is one")
    field: str | None
    message: str


class ErrorInfo(BaseModel):
    code: str
    message: str
    problems: list[Problem] = []


class ErrorBody(BaseModel):
    error: ErrorInfo


class WebhookResult(BaseModel):
    delivery_id: str
    action: str
    status: Literal["applied", "pending", "ignored", "duplicate"]
    events: int


class ReloadResult(BaseModel):
    model_version: str
    changed: bool


class Health(BaseModel):
    status: str
    model_version: str | None = None
    detail: str | None = None


class AlertOut(BaseModel):
    alert_id: str
    candidate_id: str
    hr_owner: str
    kind: AlertKind
    notify: Literal["hr", "dept_manager", "hr_director"] = Field(
        description="Who must act: the recruiter, or the approver to remind"
    )
    text_zh: str
    text_en: str
    created_at: Utc = Field(description="When the alert was due (UTC)")
    resolved_at: Utc | None
    resolved_by: str | None = Field(description="The event that answered it")


class AlertList(BaseModel):
    as_of: dt.date | None = Field(description="The daily run these alerts come from")
    total: int
    rows: list[AlertOut]
    next_cursor: str | None


class PlannedAction(BaseModel):
    action_id: int
    candidate_id: str
    hr_owner: str
    plan_date: dt.date
    action: str = Field(
        description="call, answer_question, escalate_approval, send_content; "
        "cadence:* for the automatic stage cadence"
    )
    automatic: bool = Field(description="Sent by the cadence, not a recruiter's task")
    content_id: str | None
    reason_zh: str | None
    reason_en: str | None
    risk: float | None
    expected_benefit: float | None
    status: Literal["planned", "auto", "done"]
    done_at: Utc | None


class OutreachPlan(BaseModel):
    plan_date: dt.date
    owner: str | None
    actions: list[PlannedAction]


# --- trust: overrides, explanations, erasure, audit ------------------------------------------


class OverrideIn(BaseModel):
    tier: Tier | None = Field(description="The tier a recruiter judges right; null clears it")
    reason: str = Field(
        min_length=3, max_length=500, description="Why: shown with the override, never logged"
    )


class Override(BaseModel):
    candidate_id: str
    tier: Tier
    model_tier: Tier | None
    model_risk: float | None
    reason: str
    actor: str
    created_at: Utc


class ModelFacts(BaseModel):
    version: str
    trained_on: list[str]
    tested_on: str | None
    auc: float | None = Field(description="On the held-out season: 0.5 is chance, 1 perfect")
    calibration_error: float | None = Field(description="Mean gap between risk and outcome rate")
    fairness_flagged: list[str]


class Explanation(BaseModel):
    """What keepwarm thinks of one candidate and why, for the candidate or a reviewer."""

    candidate_id: str
    as_of: dt.date
    lang: Literal["zh", "en"]
    risk: float | None = Field(description="Calibrated chance of reneging; null when not scored")
    risk_tier: Tier | None
    override: Override | None = Field(description="A recruiter's tier over the model's, if any")
    summary: str
    reasons: list[str] = Field(description="The main reasons, most important first")
    data_used: list[str]
    data_not_used: list[str]
    model: ModelFacts | None
    automated_decisions: str
    human_review: str


class Erased(BaseModel):
    candidate_id: str
    removed: dict[str, int] = Field(description="Rows removed per table")


class ConsentWithdrawn(BaseModel):
    candidate_id: str
    signals_deleted: int


class AuditRow(BaseModel):
    audit_id: int
    at: Utc
    actor: str
    role: str | None
    action: str
    target: str
    candidate_id: str | None
    subjects: list[str] | None
    origin: str | None
    detail: dict[str, Any] | None


class AuditList(BaseModel):
    total: int
    rows: list[AuditRow]

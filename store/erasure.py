"""Erasure, retention and consent: removing a person's data from everything keepwarm keeps.

PIPL art. 47 and GDPR art. 17: delete on request, when consent is withdrawn, and when the
purpose is met. ``forget`` removes one candidate from every table; ``retire`` applies the
retention period to candidates whose outcome is old (deleting them, or keeping a
pseudonymised record for training); ``withdraw_consent`` deletes stored outside signals.
Each leaves a tombstone (the id's salted hash, never the id) so that an old bundle loaded
again does not bring the person back.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd
from sqlalchemy import Connection, Engine, String, and_, cast, delete, insert, select, update

from store.db import chunks, upsert
from store.schema import (
    Alert,
    AtsLink,
    Candidate,
    Event,
    IngestBatch,
    Outcome,
    OutreachAction,
    ProfileVersion,
    Score,
    ShadowAction,
    TierOverride,
    Tombstone,
    Truth,
    WebhookDelivery,
)

_SALT = b"keepwarm-tombstone-v1:"
# Every table that names a candidate, and what it holds about them.
OWNED: dict[str, Any] = {
    "candidates": Candidate,
    "profile_history": ProfileVersion,
    "events": Event,
    "outcomes": Outcome,
    "scores": Score,
    "outreach_actions": OutreachAction,
    "shadow_actions": ShadowAction,
    "alerts": Alert,
    "tier_overrides": TierOverride,
    "ats_links": AtsLink,
    "webhook_deliveries": WebhookDelivery,
    "sim_truth": Truth,
}
# Profile fields a pseudonymised record drops: they identify a person and no model uses them.
IDENTIFYING = ("school", "birthday")
# An external_signal is the one kind of event that needs consent (contract README).
SIGNAL = "external_signal"


def id_hash(candidate_id: str) -> str:
    return hashlib.sha256(_SALT + candidate_id.encode()).hexdigest()


def pseudonym(candidate_id: str) -> str:
    return "anon-" + id_hash(candidate_id)[:24]


def tombstoned(conn: Connection, ids: Iterable[str]) -> set[str]:
    """Which of ``ids`` were erased or retired."""
    by_hash = {id_hash(i): i for i in set(ids)}
    found: set[str] = set()
    for part in chunks(list(by_hash)):
        rows = conn.execute(select(Tombstone.id_hash).where(Tombstone.id_hash.in_(part)))
        found |= {by_hash[r[0]] for r in rows}
    return found


@dataclass
class Removed:
    """What an erasure removed: rows per table (no values)."""

    candidates: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    batch_id: int | None = None  # the batch that tells serving processes

    def add(self, table: str, n: int) -> None:
        if n:
            self.rows[table] = self.rows.get(table, 0) + n

    def as_dict(self) -> dict[str, Any]:
        return {"candidates": self.candidates, "rows": dict(sorted(self.rows.items()))}


def _bury(conn: Connection, ids: list[str], kind: str) -> None:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rows = [{"id_hash": id_hash(i), "kind": kind, "at": now} for i in ids]
    upsert(conn, Tombstone.__table__, rows, ["id_hash"])  # type: ignore[arg-type]


def _scrub_batches(conn: Connection, ids: list[str], replace: dict[str, str]) -> int:
    """Take erased ids out of the batches' ``touched`` lists (or rename them)."""
    changed = 0
    for cid in ids:
        like = cast(IngestBatch.touched, String).like(f'%"{cid}"%')
        for batch_id, touched in conn.execute(
            select(IngestBatch.batch_id, IngestBatch.touched).where(like)
        ).all():
            new = [replace.get(t, t) for t in touched or [] if t != cid or cid in replace]
            conn.execute(
                update(IngestBatch).where(IngestBatch.batch_id == batch_id).values(touched=new)
            )
            changed += 1
    return changed


def changed(conn: Connection, source: str, touched: list[str] | None = None) -> int:
    """Note the change as a batch, so every serving process drops what it cached.

    ``touched=None`` (as after a bundle) makes servers rebuild: an erased id must not be
    written down again, even in the list of what changed.
    """
    return int(
        conn.execute(
            insert(IngestBatch)
            .values(source=source, fingerprint="", counts={}, touched=touched)
            .returning(IngestBatch.batch_id)
        ).scalar_one()
    )


def delete_candidates(conn: Connection, ids: list[str], kind: str = "erased") -> Removed:
    """Delete every row about ``ids`` and leave their tombstones; the caller's transaction."""
    removed = Removed()
    for part in chunks(ids):
        for name, model in OWNED.items():
            result = conn.execute(delete(model).where(model.candidate_id.in_(part)))
            removed.add(name, int(result.rowcount or 0))
    removed.candidates = removed.rows.get("candidates", 0)
    removed.add("ingest_batches.touched", _scrub_batches(conn, ids, {}))
    _bury(conn, ids, kind)
    removed.batch_id = changed(conn, kind)
    return removed


def forget(conn: Connection, candidate_id: str) -> Removed:
    """Erase one person (``keepwarm forget``, ``DELETE /v1/admin/candidates/{id}``)."""
    return delete_candidates(conn, [candidate_id], "erased")


def withdraw_consent(conn: Connection, ids: list[str]) -> int:
    """Set consent off and delete the stored outside signals; returns the signals deleted."""
    deleted = 0
    for part in chunks(ids):
        conn.execute(
            update(Candidate)
            .where(Candidate.candidate_id.in_(part))
            .values(consent_external_signals=False)
        )
        deleted += _delete_signals(conn, part)
    changed(conn, "consent-withdrawn", sorted(ids))
    return deleted


def _delete_signals(conn: Connection, ids: Iterable[str]) -> int:
    result = conn.execute(
        delete(Event).where(and_(Event.candidate_id.in_(list(ids)), Event.type == SIGNAL))
    )
    return int(result.rowcount or 0)


def signals_without_consent(conn: Connection, ids: list[str]) -> int:
    """After a candidates load: delete outside signals of those among ``ids`` without consent.

    A candidates row with ``consent_external_signals=false`` is how the contract says
    consent was withdrawn.
    """
    deleted = 0
    for part in chunks(ids):
        refused = [
            r[0]
            for r in conn.execute(
                select(Candidate.candidate_id).where(
                    Candidate.candidate_id.in_(part),
                    Candidate.consent_external_signals.is_not(True),
                )
            )
        ]
        if refused:
            deleted += _delete_signals(conn, refused)
    return deleted


def expired(conn: Connection, today: dt.date, keep_days: int) -> list[str]:
    """Candidates whose outcome is older than ``keep_days`` (not yet pseudonymised)."""
    cutoff = today - dt.timedelta(days=keep_days)
    rows = conn.execute(
        select(Outcome.candidate_id).where(
            Outcome.outcome_date < cutoff, ~Outcome.candidate_id.like("anon-%")
        )
    )
    return sorted(r[0] for r in rows)


def pseudonymise(conn: Connection, ids: list[str]) -> Removed:
    """Keep a record for training under a new id; drop what identifies the person.

    The id becomes ``anon-<hash>`` everywhere (events get new ids too, since the
    contract's event ids embed the candidate's), identifying profile fields and every
    event's free text are dropped, ATS links and webhook deliveries are deleted, and the
    old id is tombstoned.
    """
    removed = Removed()
    new = {i: pseudonym(i) for i in ids}
    for part in chunks(ids):
        conn.execute(
            update(Candidate)
            .where(Candidate.candidate_id.in_(part))
            .values(dict.fromkeys(IDENTIFYING))
        )
        # a recruiter's reason is free text about the person
        conn.execute(
            update(TierOverride).where(TierOverride.candidate_id.in_(part)).values(reason="")
        )
        events = pd.DataFrame(
            conn.execute(select(Event).where(Event.candidate_id.in_(part))).mappings().all()
        )
        if len(events):
            conn.execute(delete(Event).where(Event.candidate_id.in_(part)))
            removed.add("events.text", int(events["text"].notna().sum()))
            events = events.assign(
                event_id=events["event_id"].map(lambda e: "anon-" + id_hash(e)[:32]),
                candidate_id=events["candidate_id"].map(new),
                text=None,
            )
            records = events.astype(object).where(events.notna(), None).to_dict("records")
            conn.execute(insert(Event), records)
        for name in ("ats_links", "webhook_deliveries"):
            model = OWNED[name]
            result = conn.execute(delete(model).where(model.candidate_id.in_(part)))
            removed.add(name, int(result.rowcount or 0))
        for name, model in OWNED.items():
            if name in ("events", "ats_links", "webhook_deliveries"):
                continue
            for old in part:
                result = conn.execute(
                    update(model).where(model.candidate_id == old).values(candidate_id=new[old])
                )
                removed.add(f"{name} (renamed)", int(result.rowcount or 0))
    removed.candidates = len(ids)
    removed.add("ingest_batches.touched", _scrub_batches(conn, ids, new))
    _bury(conn, ids, "retired")
    removed.batch_id = changed(conn, "retired")
    return removed


RetentionMode = Literal["pseudonymise", "delete"]


def retire(
    engine: Engine, today: dt.date, keep_days: int, mode: RetentionMode
) -> tuple[list[str], Removed]:
    """Apply the retention period in one transaction: all expired candidates, or none."""
    with engine.begin() as conn:
        ids = expired(conn, today, keep_days)
        if not ids:
            return [], Removed()
        done = (
            pseudonymise(conn, ids)
            if mode == "pseudonymise"
            else delete_candidates(conn, ids, "retired")
        )
    return ids, done

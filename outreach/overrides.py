"""A recruiter's tier over the model's: set with a reason, cleared, and read back.

Nothing adverse happens automatically in keepwarm: plans are suggestions. An override
is how a recruiter's judgement is recorded when it differs from the model's; it is
shown wherever the tier is, audited, and counted in the season review.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from sqlalchemy import Connection, insert, select, update

from store.db import chunks
from store.schema import Outcome, TierOverride


def set_override(
    conn: Connection,
    candidate_id: str,
    tier: str,
    reason: str,
    actor: str,
    model_risk: float | None,
    model_tier: str | None,
) -> None:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    clear_override(conn, candidate_id, now)
    conn.execute(
        insert(TierOverride).values(
            candidate_id=candidate_id,
            tier=tier,
            reason=reason,
            actor=actor,
            model_risk=model_risk,
            model_tier=model_tier,
            created_at=now,
        )
    )


def clear_override(conn: Connection, candidate_id: str, now: dt.datetime | None = None) -> int:
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    result = conn.execute(
        update(TierOverride)
        .where(TierOverride.candidate_id == candidate_id, TierOverride.cleared_at.is_(None))
        .values(cleared_at=now)
    )
    return int(result.rowcount or 0)


def current(conn: Connection, ids: list[str] | None = None) -> dict[str, Any]:
    """The override in force per candidate (all, or among ``ids``)."""
    query = select(TierOverride).where(TierOverride.cleared_at.is_(None))
    rows: list[Any] = []
    if ids is None:
        rows = list(conn.execute(query).all())
    else:
        for part in chunks(ids):
            rows += conn.execute(query.where(TierOverride.candidate_id.in_(part))).all()
    return {r.candidate_id: r for r in rows}


def override_review(conn: Connection, ids: list[str] | None = None) -> pd.DataFrame:
    """Every override (cleared ones too) against the outcome: did the recruiter's call hold?

    One row per direction (raised, lowered): how many, how many reneged, how many are open.
    """
    query = select(
        TierOverride.candidate_id,
        TierOverride.tier,
        TierOverride.model_tier,
        Outcome.outcome,
    ).outerjoin(Outcome, Outcome.candidate_id == TierOverride.candidate_id)
    frame = pd.DataFrame(
        conn.execute(query).all(), columns=["candidate_id", "tier", "model_tier", "outcome"]
    )
    if ids is not None:
        frame = frame[frame["candidate_id"].isin(ids)]
    order = {"low": 0, "medium": 1, "high": 2}
    frame["direction"] = [
        "raised"
        if order[t] > order.get(m or "", 1)
        else "lowered"
        if order[t] < order.get(m or "", 1)
        else "same"
        for t, m in zip(frame["tier"], frame["model_tier"], strict=True)
    ]
    out = frame.groupby("direction").agg(
        overrides=("candidate_id", "size"),
        reneged=("outcome", lambda s: int((s == "reneged").sum())),
        open=("outcome", lambda s: int(s.isna().sum())),
    )
    return out.reset_index()

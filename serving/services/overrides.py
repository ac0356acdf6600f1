"""Recruiters' overrides (human oversight, EU AI Act art. 14).

A recruiter's tier over the model's, set with a reason and cleared; audited with
the tier and the model's, never the reason (free text).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, func, select

from outreach import overrides
from serving.auth import Principal
from serving.services.scope import visible
from serving.services.scores import current_score
from serving.trust_schemas import Override
from store import audit
from store.schema import Score

if TYPE_CHECKING:
    from serving.state import AppState


def override_of(engine: Engine, candidate_id: str) -> Any:
    """The candidate's current override (a row), or None."""
    with engine.connect() as conn:
        return overrides.current(conn, [candidate_id]).get(candidate_id)


def set_override(
    state: AppState,
    principal: Principal,
    who: audit.Actor,
    candidate_id: str,
    tier: str,
    reason: str,
    target: str,
    day: dt.date | None = None,
) -> Override:
    """Set a recruiter's tier (with a reason) over the model's; ``NotFound`` outside scope.

    The model's tier and risk kept beside it are those of ``day``: the daily run the
    recruiter was looking at (default: the latest run, else today), not a fresh score
    at the machine's clock, which in a replayed season is long after the data.
    """
    with state.engine.connect() as conn:
        visible(conn, principal, candidate_id)
        latest = conn.execute(select(func.max(Score.as_of))).scalar()
    current = current_score(state, candidate_id, day or latest or state.today())
    with state.write_lock, state.engine.begin() as conn:
        overrides.set_override(
            conn,
            candidate_id,
            tier,
            reason,
            principal.name,
            None if current is None else current.risk,
            None if current is None else current.risk_tier,
        )
        # the tier and the model's, not the reason: that is free text
        audit.record(
            conn,
            who,
            "override",
            target,
            [candidate_id],
            {"tier": tier, "model_tier": None if current is None else current.risk_tier},
        )
    return Override.model_validate(override_of(state.engine, candidate_id), from_attributes=True)


def clear_override(
    state: AppState, principal: Principal, who: audit.Actor, candidate_id: str, target: str
) -> None:
    """Clear the override: the model's tier shows again. ``NotFound`` outside scope."""
    with state.write_lock, state.engine.begin() as conn:
        visible(conn, principal, candidate_id)
        cleared = overrides.clear_override(conn, candidate_id)
        audit.record(conn, who, "override_cleared", target, [candidate_id], {"cleared": cleared})

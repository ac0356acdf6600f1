"""Scores of named candidates as of a day: risk, tier, rank percentile, reasons.

Built as plain dicts (the shape of ``serving.schemas.ScoreResponse``): for one
candidate, pydantic models would cost more than the trees do. The schemathesis
test holds the two together.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from outreach.daily import candidate_owners
from serving.auth import Principal
from serving.schemas import ScoreItem
from serving.scorer import DayScores
from serving.services.risk import day_scores, risk_words, urgency_of

if TYPE_CHECKING:
    from serving.state import AppState


def score_candidates(
    state: AppState, principal: Principal, as_of: dt.date, ids: list[str]
) -> dict[str, Any]:
    """``{"as_of", "model_version", "results", "errors"}`` for ``ids`` (deduplicated).

    A candidate the caller may not see, or not active on ``as_of``, is a per-item
    error (``unknown`` / ``not_active``), never a failed request. Raises ``NoModel``.
    """
    ids = list(dict.fromkeys(ids))
    scores = day_scores(state, as_of, ids)
    rows, absent = [], []
    for cid in ids:
        i = scores.row.get(cid)
        if i is None or not principal.sees_owner(scores.owners[i]):
            absent.append(cid)
        else:
            rows.append(i)
    return {
        "as_of": as_of.isoformat(),
        "model_version": scores.model.version,
        "results": score_dicts(state, scores, rows),
        "errors": _missing(state, absent, principal, as_of),
    }


INLINE_IDS = 10  # a request this small, on a day already built, needs no worker thread


def score_cached(
    state: AppState, principal: Principal, as_of: dt.date, ids: list[str]
) -> dict[str, Any] | None:
    """``score_candidates`` for a few candidates on a built day, or None if it needs more.

    It touches no store (every id is on the day and visible, the day is current for
    them), so the API may answer it without a thread-pool hop: most of a single
    candidate's time was the hop, not the trees.
    """
    ids = list(dict.fromkeys(ids))
    if len(ids) > INLINE_IDS:
        return None
    scores = state.scorer.cached(as_of, ids)
    if scores is None:
        return None
    rows = [scores.row.get(cid) for cid in ids]
    if any(i is None or not principal.sees_owner(scores.owners[i]) for i in rows):
        return None
    return {
        "as_of": as_of.isoformat(),
        "model_version": scores.model.version,
        "results": score_dicts(state, scores, [i for i in rows if i is not None]),
        "errors": [],
    }


def score_dicts(state: AppState, scores: DayScores, rows: list[int]) -> list[dict[str, Any]]:
    """One ``ScoreItem``-shaped dict per row of ``scores``."""
    if not rows:
        return []
    risk, reasons = scores.scored(rows)
    version = scores.model.version
    soon = scores.risk_30d
    place, total = scores.owner_places()
    return [
        {
            "candidate_id": scores.ids[i],
            "risk": round(r, 4),
            "risk_30d": None if soon is None else round(float(soon[i]), 4),
            "urgency": None if soon is None else urgency_of(float(soon[i])),
            **risk_words(r),
            "risk_tier": state.tier(r),
            "rank_percentile": pct,
            "owner_rank": int(place[i]),
            "owner_total": int(total[i]),
            "reasons": rs,
            "model_version": version,
        }
        for i, r, pct, rs in zip(
            rows, risk.tolist(), scores.rank_percentiles(scores.risk[rows]), reasons, strict=True
        )
    ]


def current_score(state: AppState, candidate_id: str, as_of: dt.date) -> ScoreItem | None:
    """The candidate's score as of a day; None without a model or when not active then."""
    if state.model is None:
        return None
    scores = state.scorer.day(as_of, [candidate_id])
    i = scores.row.get(candidate_id)
    return None if i is None else ScoreItem.model_validate(score_dicts(state, scores, [i])[0])


def _missing(
    state: AppState, ids: list[str], principal: Principal, as_of: dt.date
) -> list[dict[str, Any]]:
    """Per-item errors: unknown (or not the caller's), or known but not active on ``as_of``.

    One query for all of them; another recruiter's candidate looks unknown.
    """
    if not ids:
        return []
    with state.engine.connect() as conn:
        owners = candidate_owners(conn, ids)
    inactive = "not in the scored population on that day (no offer yet, or outcome known)"
    return [
        {"candidate_id": cid, "error": "not_active", "message": inactive}
        if cid in owners and principal.sees_owner(owners[cid])
        else {"candidate_id": cid, "error": "unknown", "message": "no such candidate"}
        for cid in ids
    ]

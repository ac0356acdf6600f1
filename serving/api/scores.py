"""Scores for the ATS and HR: named candidates' scores, and the day's ranked risk list."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import orjson
import pandas as pd
from fastapi import APIRouter, Query, Response
from starlette.concurrency import run_in_threadpool

from serving.api.paging import cursor_offset, make_cursor
from serving.deps import OwnerQuery, Reader, Scoring, StateDep, Who
from serving.errors import BAD_CURSOR, ERRORS, UNAVAILABLE
from serving.schemas import (
    MAX_PAGE,
    IsoDate,
    Reason,
    RiskList,
    RiskRow,
    ScoreRequest,
    ScoreResponse,
    Tier,
)
from serving.services.risk import RiskFilters, risk_table, risk_words, with_reasons
from serving.services.scope import check_day
from serving.services.scores import score_cached, score_candidates
from serving.state import AppState
from store import audit

router = APIRouter(responses={**ERRORS, **UNAVAILABLE})


def day_asked(state: AppState, day: dt.date | None, field: str = "as_of") -> dt.date:
    """The day a request asks for (default today), within the data's range and today."""
    return check_day(day or state.today(), state.data_range.first_day(), state.today(), field)


@router.post("/v1/score", response_model=ScoreResponse, tags=["scores"])
async def post_score(
    request: ScoreRequest, principal: Scoring, state: StateDep, who: Who
) -> Response:
    """Risk, tier, rank and reasons for up to 10,000 candidates as of a day (default today).

    Unknown or inactive candidates come back in `errors`, not as a failed request.
    """
    as_of = day_asked(state, request.as_of)
    out = score_cached(state, principal, as_of, request.candidate_ids)
    if out is None:  # a day to build, a store to ask, or many rows: off the event loop
        out = await run_in_threadpool(
            score_candidates, state, principal, as_of, request.candidate_ids
        )
    return Response(_recorded(state, who, out), media_type="application/json")


def _recorded(state: AppState, who: audit.Actor, out: dict[str, Any]) -> bytes:
    """Audit and count the scores served; the body encoded by orjson."""
    ids = [r["candidate_id"] for r in out["results"]]
    state.audit(who, "read", "POST /v1/score", ids)
    state.metrics.scored(len(ids))
    return orjson.dumps(out)


@router.get("/v1/risk-list", response_model=RiskList, tags=["hr"], responses=BAD_CURSOR)
def risk_list(
    principal: Reader,
    state: StateDep,
    who: Who,
    owner: OwnerQuery = None,
    department: Annotated[str | None, Query(max_length=200)] = None,
    tier: Annotated[Tier | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    as_of: Annotated[IsoDate | None, Query(description="default: today")] = None,
) -> RiskList:
    """The day's ranked list of active candidates, highest risk first, with reasons and alerts.

    `rank` is the place among all that day's active candidates, filters or not.
    """
    day = day_asked(state, as_of)
    offset = cursor_offset(cursor, day)
    filters = RiskFilters(owner=owner, department=department, tier=tier)
    table = risk_table(state, principal, day, filters, extras=False)
    page = with_reasons(state, day, table.iloc[offset : offset + limit])
    rows = [
        RiskRow(
            rank=int(r.rank),
            candidate_id=str(r.candidate_id),
            hr_owner=_text(r.hr_owner),
            department=_text(r.department),
            role_family=_text(r.role_family),
            risk=round(float(r.risk), 4),
            risk_30d=None if pd.isna(r.risk_30d) else round(float(r.risk_30d), 4),
            urgency=r.urgency,
            **risk_words(float(r.risk)),
            owner_rank=int(r.owner_rank),
            owner_total=int(r.owner_total),
            risk_tier=r.tier,
            reasons=[Reason.model_validate(x) for x in r.reasons],
            alerts=list(r.alerts),
            days_to_start=None if pd.isna(r.days_to_start) else int(r.days_to_start),
            start_date=None if pd.isna(r.start_date) else r.start_date,
            override_tier=_text(r.override),
        )
        for r in page.itertuples(index=False)
    ]
    state.audit(who, "read", "GET /v1/risk-list", [r.candidate_id for r in rows])
    more = offset + limit < len(table)
    return RiskList(
        as_of=day,
        model_version=state.model.version if state.model else "",
        total=len(table),
        rows=rows,
        next_cursor=make_cursor(offset + limit, day) if more else None,
    )


def _text(value: object) -> Any:
    """A text cell of a frame (pandas marks missing text as NaN) as str or None."""
    return None if value is None or pd.isna(value) else str(value)

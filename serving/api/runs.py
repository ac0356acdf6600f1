"""Runs an outside scheduler starts: the day's scoring, alerts and plans."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from outreach.daily import plan_config
from serving.auth import Principal
from serving.deps import StateDep, Who, allow
from serving.errors import ERRORS, UNAVAILABLE, ApiError
from serving.schemas import DailyRunIn, DailyRunOut
from serving.services.daily import run_day
from serving.services.scope import check_day

router = APIRouter(tags=["admin"], responses=ERRORS)

Scheduler = Annotated[Principal, Depends(allow("scheduler", "admin"))]


@router.post("/v1/runs/daily", response_model=DailyRunOut, responses=UNAVAILABLE)
def daily_run(body: DailyRunIn, principal: Scheduler, state: StateDep, who: Who) -> DailyRunOut:
    """Run a day as the daily flow does (scores, alerts, plans, stored); answer counts.

    Incremental from the previous run in this process: only candidates with new events
    are rebuilt. Running the same day again stores the same result (idempotent).
    """
    model = state.model
    if model is None:
        raise ApiError(503, "no_model", "no champion model yet: run `keepwarm train`")
    state.data_range.refresh(force=True)
    day = check_day(body.as_of, state.data_range.first_day(), state.today())
    with state.write_lock:
        plan = plan_config(state.settings)
        run = run_day(state.engine, model, day, state.day_state, who, plan)
    return DailyRunOut(**run.counts())

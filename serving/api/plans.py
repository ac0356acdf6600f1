"""A recruiter's plan for the day, and marking an action done."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from serving.deps import OwnerQuery, Reader, StateDep, Who
from serving.errors import ERRORS, NOT_FOUND
from serving.schemas import IsoDate, OutreachPlan, PlannedAction
from serving.services.plans import mark_done, plan_rows, planned_action
from serving.services.scope import owner_scope

router = APIRouter(tags=["hr"], responses=ERRORS)


@router.get("/v1/outreach-plan", response_model=OutreachPlan)
def outreach_plan(
    principal: Reader,
    state: StateDep,
    who: Who,
    owner: OwnerQuery = None,
    date: Annotated[IsoDate | None, Query(description="default: today")] = None,
) -> OutreachPlan:
    """A recruiter's plan for a day: their tasks in the plan's order, then the cadence."""
    owner = owner_scope(principal, owner)
    day = date or state.today()
    actions = [planned_action(r) for r in plan_rows(state, principal, day, owner)]
    state.audit(who, "read", "GET /v1/outreach-plan", [a.candidate_id for a in actions])
    return OutreachPlan(plan_date=day, owner=owner, actions=actions)


@router.post("/v1/actions/{action_id}/done", response_model=PlannedAction, responses=NOT_FOUND)
def action_done(
    action_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    principal: Reader,
    state: StateDep,
    who: Who,
) -> PlannedAction:
    """Record that the action was done: as contract events, so the next scores see it."""
    return mark_done(state, principal, action_id, who, "POST /v1/actions/{id}/done")

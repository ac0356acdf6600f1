"""A recruiter's plan for the day, and marking an action done."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from serving.api.paging import cursor_offset, make_cursor
from serving.deps import OwnerQuery, Reader, StateDep, Who
from serving.errors import ERRORS, NOT_FOUND
from serving.schemas import MAX_PAGE, IsoDate, OutreachPlan, PlannedAction
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
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = MAX_PAGE,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> OutreachPlan:
    """A day's plan: a recruiter's, or (lead, admin) every recruiter's, paged.

    Each recruiter's tasks in the plan's order, then the cadence's messages; each action
    with its candidate, kind, content item and the item's topics.
    """
    owner = owner_scope(principal, owner)
    day = date or state.today()
    offset = cursor_offset(cursor, day)
    rows = plan_rows(state, principal, day, owner)
    actions = [planned_action(r) for r in rows[offset : offset + limit]]
    state.audit(who, "read", "GET /v1/outreach-plan", [a.candidate_id for a in actions])
    more = offset + limit < len(rows)
    return OutreachPlan(
        plan_date=day,
        owner=owner,
        actions=actions,
        total=len(rows),
        next_cursor=make_cursor(offset + limit, day) if more else None,
    )


@router.post("/v1/actions/{action_id}/done", response_model=PlannedAction, responses=NOT_FOUND)
def action_done(
    action_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    principal: Reader,
    state: StateDep,
    who: Who,
) -> PlannedAction:
    """Record that the action was done: as contract events, so the next scores see it."""
    return mark_done(state, principal, action_id, who, "POST /v1/actions/{id}/done")

"""A recruiter's plan for the day, and marking an action done."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query

from serving.api.paging import cursor_offset, make_cursor
from serving.deps import Lead, OwnerQuery, Reader, StateDep, Who
from serving.errors import ERRORS, NOT_FOUND
from serving.plan_schemas import ActionDone, Team
from serving.schemas import MAX_PAGE, IsoDate, OutreachPlan, PlannedAction
from serving.services.plans import (
    mark_done,
    not_planned_rows,
    plan_rows,
    planned_action,
    undo_done,
)
from serving.services.scope import owner_scope
from serving.services.team import team_rows

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
    with its candidate, kind, content item and the item's topics. ``not_planned`` (on
    the first page): each of a recruiter's ten highest risks and every open question
    that has no task, with a reason code and its words in Chinese and English.
    """
    owner = owner_scope(principal, owner)
    day = date or state.today()
    offset = cursor_offset(cursor, day)
    rows = plan_rows(state, principal, day, owner)
    actions = [planned_action(r) for r in rows[offset : offset + limit]]
    missing = not_planned_rows(state, principal, day, owner) if offset == 0 else []
    ids = [a.candidate_id for a in actions] + [n.candidate_id for n in missing]
    state.audit(who, "read", "GET /v1/outreach-plan", ids)
    more = offset + limit < len(rows)
    return OutreachPlan(
        plan_date=day,
        owner=owner,
        actions=actions,
        not_planned=missing,
        total=len(rows),
        next_cursor=make_cursor(offset + limit, day) if more else None,
    )


@router.post("/v1/actions/{action_id}/done", response_model=PlannedAction, responses=NOT_FOUND)
def action_done(
    action_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    principal: Reader,
    state: StateDep,
    who: Who,
    body: Annotated[ActionDone | None, Body()] = None,
) -> PlannedAction:
    """Record that the action was done: as contract events, so the next scores see it.

    Optional body: a call's ``outcome`` and a ``note`` (stored, never logged). The open
    alerts the action answers close at once.
    """
    done = body or ActionDone()
    return mark_done(
        state, principal, action_id, who, "POST /v1/actions/{id}/done", done.outcome, done.note
    )


@router.post("/v1/actions/{action_id}/undo", response_model=PlannedAction, responses=NOT_FOUND)
def action_undo(
    action_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    principal: Reader,
    state: StateDep,
    who: Who,
) -> PlannedAction:
    """Take back a mistaken done mark, on its own day: its events go, its alerts reopen."""
    return undo_done(state, principal, action_id, who, "POST /v1/actions/{id}/undo")


@router.get("/v1/team", response_model=Team)
def team(
    principal: Lead,
    state: StateDep,
    who: Who,
    date: Annotated[IsoDate | None, Query(description="default: today")] = None,
) -> Team:
    """The lead's team view: per recruiter, tasks planned, done and overdue, the watched
    candidates not planned, open alerts by kind and the high-risk count (counts only)."""
    day = date or state.today()
    rows = team_rows(state, principal, day)
    state.audit(who, "read", "GET /v1/team", [])
    return Team(plan_date=day, rows=rows)

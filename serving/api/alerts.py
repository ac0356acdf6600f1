"""The brief's warnings from the latest daily run."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from serving.api.paging import cursor_offset, make_cursor
from serving.deps import OwnerQuery, Reader, StateDep, Who
from serving.errors import BAD_CURSOR, ERRORS
from serving.schemas import MAX_PAGE, AlertKind, AlertList
from serving.services.plans import alert_rows
from serving.services.scope import owner_scope

router = APIRouter(tags=["hr"], responses={**ERRORS, **BAD_CURSOR})


@router.get("/v1/alerts", response_model=AlertList)
def list_alerts(
    principal: Reader,
    state: StateDep,
    who: Who,
    owner: OwnerQuery = None,
    kind: Annotated[AlertKind | None, Query()] = None,
    status: Annotated[Literal["open", "resolved", "all"], Query(alias="state")] = "open",
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> AlertList:
    """The brief's warnings from the latest daily run, oldest first, each in both languages."""
    latest, rows = alert_rows(state, owner_scope(principal, owner), kind, status)
    offset = cursor_offset(cursor, latest)
    page = rows[offset : offset + limit]
    state.audit(who, "read", "GET /v1/alerts", [r.candidate_id for r in page])
    more = latest is not None and offset + limit < len(rows)
    return AlertList(
        as_of=latest,
        total=len(rows),
        rows=page,
        next_cursor=make_cursor(offset + limit, latest) if more and latest else None,
    )

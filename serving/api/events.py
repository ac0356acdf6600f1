"""The ATS's writes: events, candidate profiles and outcomes in the contract's shape."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from serving.deps import StateDep, Who, Writer
from serving.errors import ERRORS
from serving.schemas import MAX_EVENTS, MAX_ITEMS, CandidateIn, EventIn, OutcomeIn, Written
from serving.services.writes import write_items

router = APIRouter(tags=["ats"], responses=ERRORS)

EventsBody = Body(min_length=1, max_length=MAX_EVENTS)
ItemsBody = Body(min_length=1, max_length=MAX_ITEMS)


@router.post("/v1/events", response_model=Written)
def post_events(
    items: Annotated[list[EventIn], EventsBody], principal: Writer, state: StateDep, who: Who
) -> Written:
    """Add events in the contract's shape.

    All or nothing: one bad item refuses the request. A known `event_id` changes nothing.
    """
    rows = [i.model_dump() for i in items]
    report = write_items(state, "events", rows, principal, who, "POST /v1/events")
    state.metrics.events(report.events_new)
    return Written(
        batch_id=report.batch_id,
        received=len(rows),
        new=report.events_new,
        already_known=report.events_known,
    )


@router.post("/v1/candidates", response_model=Written)
def post_candidates(
    items: Annotated[list[CandidateIn], ItemsBody], principal: Writer, state: StateDep, who: Who
) -> Written:
    """Add or update candidate profiles (the contract's candidates.csv columns)."""
    rows = [i.model_dump() for i in items]
    report = write_items(state, "candidates", rows, principal, who, "POST /v1/candidates")
    return Written(
        batch_id=report.batch_id,
        received=len(rows),
        new=report.candidates_new,
        updated=report.candidates_updated,
        warnings=report.warnings,
    )


@router.post("/v1/outcomes", response_model=Written)
def post_outcomes(
    items: Annotated[list[OutcomeIn], ItemsBody], principal: Writer, state: StateDep, who: Who
) -> Written:
    """Record who joined and who reneged (and why): the labels of the next retraining."""
    rows = [i.model_dump() for i in items]
    report = write_items(state, "outcomes", rows, principal, who, "POST /v1/outcomes")
    return Written(batch_id=report.batch_id, received=len(rows), new=report.outcomes)

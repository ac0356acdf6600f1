"""One candidate: detail, explanation, a recruiter's override, consent withdrawal."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from serving.api.scores import day_asked
from serving.deps import Reader, StateDep, Who, Writer
from serving.errors import ERRORS, NOT_FOUND
from serving.schemas import CandidateDetail, IdStr, IsoDate
from serving.services.candidates import DETAIL_FIELDS, candidate_detail
from serving.services.erasure import withdraw_consent
from serving.services.explain import explanation
from serving.services.overrides import clear_override, set_override
from serving.trust_schemas import ConsentWithdrawn, Explanation, Override, OverrideIn

router = APIRouter(responses={**ERRORS, **NOT_FOUND})

CandidateId = Annotated[IdStr, Path()]
AsOf = Annotated[IsoDate | None, Query(description="as of the end of this day; default today")]


@router.get("/v1/candidates/{candidate_id}", response_model=CandidateDetail, tags=["hr"])
def get_candidate(
    candidate_id: CandidateId, principal: Reader, state: StateDep, who: Who, as_of: AsOf = None
) -> CandidateDetail:
    """Profile, event timeline, score history and the current score with its reasons."""
    detail = candidate_detail(state, principal, candidate_id, day_asked(state, as_of))
    state.audit(who, "read", "GET /v1/candidates/{id}", [candidate_id], {"fields": DETAIL_FIELDS})
    return detail


@router.get("/v1/candidates/{candidate_id}/explanation", response_model=Explanation, tags=["hr"])
def get_explanation(
    candidate_id: CandidateId,
    principal: Reader,
    state: StateDep,
    who: Who,
    lang: Annotated[Literal["zh", "en"], Query()] = "zh",
    as_of: AsOf = None,
) -> Explanation:
    """Why this risk, in plain words: for a candidate who asks, or a person reviewing it."""
    out = explanation(state, principal, candidate_id, day_asked(state, as_of), lang)
    state.audit(who, "explain", "GET /v1/candidates/{id}/explanation", [candidate_id])
    return out


@router.put("/v1/candidates/{candidate_id}/override", response_model=Override | None, tags=["hr"])
def put_override(
    candidate_id: CandidateId, body: OverrideIn, principal: Reader, state: StateDep, who: Who
) -> Override | None:
    """Set a recruiter's tier over the model's, with a reason; it holds until cleared.

    `"tier": null` clears it: the model's tier shows again (the answer is then null).
    """
    target = "PUT /v1/candidates/{id}/override"
    if body.tier is None:
        clear_override(state, principal, who, candidate_id, target)
        return None
    return set_override(
        state, principal, who, candidate_id, body.tier, body.reason, target, body.as_of
    )


@router.post(
    "/v1/candidates/{candidate_id}/consent-withdrawal",
    response_model=ConsentWithdrawn,
    tags=["ats"],
)
def post_consent_withdrawal(
    candidate_id: CandidateId, principal: Writer, state: StateDep, who: Who
) -> ConsentWithdrawn:
    """The candidate withdrew consent to outside signals: delete them, stop using them."""
    target = "POST /v1/candidates/{id}/consent-withdrawal"
    with state.write_lock:
        deleted = withdraw_consent(state.engine, candidate_id, who, target, principal)
    state.scorer.touch({candidate_id})
    return ConsentWithdrawn(candidate_id=candidate_id, signals_deleted=deleted)

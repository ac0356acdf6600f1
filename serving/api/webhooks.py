"""Greenhouse's webhooks (offers, applications), verified by their HMAC signature."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Header, Request
from starlette.concurrency import run_in_threadpool

from serving import greenhouse
from serving.deps import StateDep, origin
from serving.errors import ERRORS, ApiError
from serving.schemas import ErrorBody, WebhookResult
from store import audit

router = APIRouter(tags=["ats"])


@router.post(
    "/v1/webhooks/greenhouse",
    response_model=WebhookResult,
    responses={
        400: ERRORS[400],
        401: {"model": ErrorBody, "description": "Missing or wrong Signature"},
        403: {"model": ErrorBody, "description": "Webhook not configured"},
        413: ERRORS[413],
        422: {"model": ErrorBody, "description": "Signed, but not a delivery keepwarm reads"},
    },
)
async def greenhouse_webhook(
    request: Request,
    state: StateDep,
    signature: Annotated[str | None, Header(alias="Signature", max_length=200)] = None,
    event_id: Annotated[str | None, Header(alias="Greenhouse-Event-ID", max_length=128)] = None,
) -> WebhookResult:
    """A Greenhouse delivery: checked against its signature before anything is parsed."""
    secret = state.settings.greenhouse_secret
    if secret is None:
        raise ApiError(403, "not_configured", "set KEEPWARM_GREENHOUSE_SECRET to accept it")
    raw = await request.body()  # verified as received, before any parsing
    if not greenhouse.signature_ok(secret.get_secret_value().encode(), raw, signature):
        raise ApiError(401, "bad_signature", "Signature does not match the body")
    try:
        body = orjson.loads(raw)  # refuses nesting deeper than 1024 instead of recursing
    except orjson.JSONDecodeError:
        raise ApiError(422, "invalid", "body is not JSON (or nested too deep)") from None
    if not isinstance(body, dict):
        raise ApiError(422, "invalid", "body is not a JSON object")
    who = audit.Actor("webhook:greenhouse", "ats", origin(request))

    def run() -> greenhouse.Outcome:
        with state.write_lock:
            return greenhouse.handle(state.engine, raw, event_id, body, state.zone, who)

    try:
        outcome = await run_in_threadpool(run)
    except greenhouse.WebhookError as exc:
        raise ApiError(422, "invalid", str(exc)) from None
    state.scorer.touch(outcome.candidate_ids)
    return WebhookResult(
        delivery_id=outcome.delivery_id,
        action=str(body.get("action"))[:64],
        status=outcome.status,  # type: ignore[arg-type]
        events=outcome.events,
    )

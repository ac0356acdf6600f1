"""The HTTP service: FastAPI over the store, the scorer and the model registry.

The app is thin: each route checks who is calling, then calls a plain function
(``store.ingest``, ``serving.engine``, ``serving.greenhouse``). Sync routes run
in FastAPI's thread pool, so scoring and database work never block the event loop.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import datetime as dt
import hashlib
import json
import logging
import socket
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import numpy as np
import orjson
import pandas as pd
from fastapi import Body, Depends, FastAPI, Header, HTTPException, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from limits import parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import Connection, Engine, func, select, text, update
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from config import Settings, get_settings
from outreach import overrides
from outreach.alerts import alert_text
from outreach.store import candidate_owners
from serving import greenhouse
from serving.auth import KeyCache, Principal
from serving.engine import FLAGS, DayScores, LoadedModel, Scorer
from serving.explain import explain, override_of
from serving.metrics import Metrics, MetricsMiddleware, TooLarge
from serving.schemas import (
    MAX_EVENTS,
    MAX_ITEMS,
    MAX_PAGE,
    AlertList,
    AlertOut,
    AuditList,
    AuditRow,
    CandidateDetail,
    CandidateIn,
    ConsentWithdrawn,
    Erased,
    ErrorBody,
    EventIn,
    Explanation,
    Health,
    IsoDate,
    ItemError,
    OutcomeIn,
    OutreachPlan,
    Override,
    OverrideIn,
    PlannedAction,
    Profile,
    Reason,
    ReloadResult,
    RiskList,
    RiskRow,
    ScoreItem,
    ScorePoint,
    ScoreRequest,
    ScoreResponse,
    Tier,
    TimelineEvent,
    WebhookResult,
    Written,
)
from store import audit, erasure
from store.bundle import BundleError, KeepwarmError
from store.db import open_store
from store.ingest import check_items, load_bundle
from store.schema import Alert, Candidate, Event, Outcome, OutreachAction, Score
from training.config import load_config

log = logging.getLogger("keepwarm.serving")

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Unreadable request (e.g. a body that is not UTF-8)"},
    401: {"model": ErrorBody, "description": "No API key, or an unknown or revoked one"},
    403: {"model": ErrorBody, "description": "The key's role may not do this"},
    413: {"model": ErrorBody, "description": "Request body too large"},
    422: {
        "model": ErrorBody,
        "description": "Invalid input: which item and field, nothing written",
    },
    429: {"model": ErrorBody, "description": "Rate limit of this key exceeded"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "Unknown, or not yours to see"}
}
BAD_CURSOR: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "A cursor this API did not give out"}
}
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorBody, "description": "No champion model loaded yet"}
}


class ApiError(HTTPException):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(status, message)
        self.code = code


def _error(status: int, code: str, message: str, problems: list[dict[str, Any]] | None = None):
    body = {"error": {"code": code, "message": message, "problems": problems or []}}
    return JSONResponse(body, status_code=status)


# --- the service's state --------------------------------------------------------------------


# MLflow's error codes for a registry that answered, with "not there".
ANSWERED = ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND")


class Service:
    """Everything the routes share: store, keys, limiter, scorer, metrics."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self.keys = KeyCache(engine)
        # Each worker process counts its own requests: it enforces its share of the limit.
        self.limits = [
            type(item)(max(1, item.amount // settings.workers), item.multiples, item.namespace)
            for item in parse_many(settings.rate_limit)
        ]
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self.scorer = Scorer(engine, load_config().rules)
        self.metrics = Metrics()
        self.zone = ZoneInfo(settings.timezone)
        self._reload_lock = threading.Lock()
        # SQLite has one writer at a time: queue writes here instead of in its busy loop.
        self.write_lock = threading.Lock()
        self.refused: set[str] = set()  # model versions that failed their load check
        self.registry_error: str | None = None
        self._cards: dict[str, dict[str, Any]] = {}
        # read entries of the audit log, written in batches (changes are recorded in
        # their own transactions)
        self.reads = audit.ReadLog(engine)

    def today(self) -> dt.date:
        return dt.datetime.now(self.zone).date()

    def tier(self, risk: float) -> Tier:
        if risk >= self.settings.tier_high:
            return "high"
        return "medium" if risk >= self.settings.tier_medium else "low"

    def reload_model(self) -> tuple[str | None, bool]:
        """Load the champion if the alias moved; returns (version, changed).

        A registry that does not answer, or a version that cannot serve (a bad file, a
        feature list this keepwarm does not build), leaves the current model serving:
        the service never crashes on it, and reports not ready while it has no model.
        """
        from mlflow.exceptions import MlflowException

        from training.tracking import MODEL_NAME, configure, load_model_version

        with self._reload_lock:
            current = self.scorer.model.version if self.scorer.model else None
            if not _answers(self.settings.tracking_uri):
                # MLflow's client would retry for minutes: ask the socket first
                log.warning("the model registry does not answer; keeping version %s", current)
                self.registry_error = "model registry unreachable"
                return current, False
            try:
                client = configure(self.settings)
                version = str(client.get_model_version_by_alias(MODEL_NAME, "champion").version)
            except MlflowException as exc:
                # the registry answered "no such alias": no champion yet, not a fault
                answered = exc.error_code in ANSWERED
                self.registry_error = None if answered else "model registry unreachable"
                return current, False
            except Exception:  # a registry that does not answer at all
                log.warning("the model registry does not answer; keeping version %s", current)
                self.registry_error = "model registry unreachable"
                return current, False
            self.registry_error = None
            if version == current or version in self.refused:
                return current, False
            try:
                loaded = LoadedModel.of(load_model_version(version), version)
            except Exception as exc:
                # a registry or store that failed mid-download is retried at the next
                # poll; a version whose content is wrong is not asked for again
                if not isinstance(exc, (MlflowException, ConnectionError, TimeoutError)):
                    self.refused.add(version)
                log.error(
                    "model version %s refused (%s); version %s keeps serving",
                    version,
                    type(exc).__name__,
                    current,
                )
                return current, False
            self.scorer.set_model(loaded)
            self.metrics.model_loaded(version)
            log.warning("serving model version %s (was %s)", version, current)
            return version, True

    def card(self, version: str) -> dict[str, Any]:
        """The version's model card (from MLflow, once per version)."""
        if version not in self._cards:
            from training.tracking import version_details

            try:
                self._cards[version] = version_details(self.settings, version).get("card", {})
            except Exception:
                log.warning("model card of version %s unavailable", version)
                return {}
        return self._cards[version]

    def audit(
        self,
        who: audit.Actor,
        action: str,
        target: str,
        candidates: list[str] | tuple[str, ...] = (),
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Record a read in the audit log (queued: ``audit.ReadLog``)."""
        self.reads.add(who, action, target, candidates, detail)


def _answers(uri: str, timeout: float = 2.0) -> bool:
    """Whether an HTTP tracking server accepts a connection (a database URI: assume so)."""
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return True
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False


async def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <key>")
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="X-API-Key: <key>")


async def caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    api_key: Annotated[str | None, Depends(api_key_header)],
) -> Principal:
    """The key's owner, or 401; then the key's rate limit, or 429.

    Dependencies are coroutines: they are cheap, and a sync dependency would cost a
    thread-pool round trip per request. Only a key not seen lately goes to the database,
    and that query runs in the thread pool.
    """
    service: Service = request.app.state.service
    key = credentials.credentials if credentials else api_key
    principal = None
    if key:
        found, principal = service.keys.cached(key)
        if not found:
            principal = await run_in_threadpool(service.keys.lookup, key)
    if principal is None:
        raise ApiError(401, "unauthorized", "send a valid API key: Authorization: Bearer <key>")
    for item in service.limits:
        if not service.limiter.hit(item, "key", str(principal.key_id)):
            raise ApiError(429, "rate_limited", f"rate limit {item} exceeded for this key")
    request.state.principal = principal
    return principal


async def actor(request: Request, principal: Annotated[Principal, Depends(caller)]) -> audit.Actor:
    """The caller as the audit log names them: key or user, role, and address."""
    return audit.Actor(principal.name, principal.role, _origin(request))


def _origin(request: Request) -> str | None:
    return request.client.host if request.client else None


def allow(*roles: str) -> Callable[[Principal], Awaitable[Principal]]:
    async def check(principal: Annotated[Principal, Depends(caller)]) -> Principal:
        if principal.role not in roles:
            raise ApiError(403, "forbidden", f"role {principal.role} may not do this")
        return principal

    return check


Writer = Annotated[Principal, Depends(allow("ats", "admin"))]
Scorer_ = Annotated[Principal, Depends(allow("ats", "hr", "lead", "admin"))]
Reader = Annotated[Principal, Depends(allow("hr", "lead", "admin"))]
Admin = Annotated[Principal, Depends(allow("admin"))]
ServiceDep = Annotated[Service, Depends(_service)]
Who = Annotated[audit.Actor, Depends(actor)]


# --- helpers -----------------------------------------------------------------------------------


def _reasons(detail: list[dict[str, Any]]) -> list[Reason]:
    return [Reason.model_validate(r) for r in detail]


def _scores(service: Service, as_of: dt.date, ids: list[str]) -> DayScores:
    if service.scorer.model is None:
        raise ApiError(503, "no_model", "no champion model yet: run `keepwarm train`")
    return service.scorer.day(as_of, ids)


def _write(
    service: Service,
    table: str,
    items: list[dict[str, Any]],
    principal: Principal,
    who: audit.Actor,
):
    body = json.dumps(items, sort_keys=True, default=str).encode()
    fingerprint = hashlib.sha256(body).hexdigest()
    bundle = check_items(service.engine, table, items, f"api:{table}:{principal.name}", fingerprint)
    touched = {str(i["candidate_id"]) for i in items}
    with service.write_lock, service.engine.begin() as conn:
        report = load_bundle(conn, bundle, touched=sorted(touched))
        # in the same transaction: the change and its record land together or not at all
        audit.record(
            conn, who, "write", f"POST /v1/{table}", sorted(touched), {"items": len(items)}
        )
    service.scorer.wrote(report.batch_id, touched)
    if table == "candidates":
        service.scorer.touch(greenhouse.replay_pending(service.engine))
    return report


# --- the app -----------------------------------------------------------------------------------


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = await run_in_threadpool(open_store, settings)
        service = Service(settings, engine)
        app.state.service = service
        await run_in_threadpool(service.reload_model)
        pollers = [asyncio.create_task(_poll(service)), asyncio.create_task(_sync(service))]
        try:
            yield
        finally:
            for task in pollers:
                task.cancel()
            await run_in_threadpool(service.reads.close)
            engine.dispose()

    app = FastAPI(
        title="keepwarm",
        version="1",
        summary="Dropout risk, reasons and ranked lists for campus candidates between offer "
        "and first day.",
        description="Send an API key as `Authorization: Bearer <key>` or `X-API-Key: <key>`. "
        "Roles: `ats` writes events, candidates and outcomes and asks for scores; `hr` reads "
        "its own candidates only; `lead` reads all; `admin` manages keys and the model.",
        lifespan=lifespan,
    )
    app.add_middleware(MetricsMiddleware, max_body=settings.max_body_bytes)
    _handlers(app)
    _routes(app)
    from serving.console import add_console  # the console builds on this module's helpers

    add_console(app)
    return app


async def _poll(service: Service) -> None:
    every = service.settings.model_poll_seconds
    if every <= 0:
        return
    while True:
        await asyncio.sleep(every)
        try:
            await run_in_threadpool(service.reload_model)
        except Exception:  # keep serving the current model; say why in the log
            log.exception("checking the champion alias failed")


async def _sync(service: Service) -> None:
    every = service.settings.cache_sync_seconds
    if every <= 0:
        return
    while True:
        await asyncio.sleep(every)
        try:
            await run_in_threadpool(service.scorer.sync)
        except Exception:
            log.exception("catching up with the store's new batches failed")


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors()[:50]:
            loc = [p for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
            index = next((p for p in loc if isinstance(p, int)), None)
            names = [str(p) for p in loc if not isinstance(p, int)]
            # The message only: pydantic's "input" would echo personal data back.
            problems.append(
                {"index": index, "field": ".".join(names) or None, "message": err.get("msg", "")}
            )
        return _error(422, "invalid", "invalid request; nothing was written", problems)

    @app.exception_handler(BundleError)
    async def rejected(request: Request, exc: BundleError) -> JSONResponse:
        problems = [
            {"index": p.index, "field": p.column, "message": p.message} for p in exc.problems
        ]
        return _error(422, "invalid", "invalid items; nothing was written", problems)

    @app.exception_handler(TooLarge)
    async def too_large(request: Request, exc: TooLarge) -> JSONResponse:
        limit = request.app.state.service.settings.max_body_bytes
        return _error(413, "too_large", f"request body over {limit} bytes")

    @app.exception_handler(KeepwarmError)
    async def user_error(request: Request, exc: KeepwarmError) -> JSONResponse:
        return _error(400, "bad_request", str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = getattr(exc, "code", None) or {404: "not_found", 405: "method_not_allowed"}.get(
            exc.status_code, "error"
        )
        response = _error(exc.status_code, code, str(exc.detail))
        response.headers.update(exc.headers or {})  # e.g. Allow on a 405
        if exc.status_code == 429:
            response.headers["Retry-After"] = "1"
        return response

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    async def store_down(request: Request, exc: Exception) -> JSONResponse:
        # The transaction was rolled back: nothing was half-written. The pool reconnects
        # by itself when the store is back (pool_pre_ping), so no restart is needed.
        log.error(
            "store unavailable on %s %s: %s", request.method, request.url.path, type(exc).__name__
        )
        response = _error(503, "store_unavailable", "the store is unavailable; try again")
        response.headers["Retry-After"] = "5"
        return response

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        # The traceback goes to the server log (no request body in it); the client gets none.
        log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
        return _error(500, "internal", "internal error; it has been logged")


def _routes(app: FastAPI) -> None:
    @app.get("/healthz", response_model=Health, tags=["ops"])
    def healthz() -> Health:
        """The process is alive."""
        return Health(status="ok")

    @app.get(
        "/readyz",
        response_model=Health,
        tags=["ops"],
        responses={503: {"model": Health, "description": "Not ready"}},
    )
    def readyz(service: ServiceDep, response: Response) -> Health:
        """The store answers and a model is loaded."""
        try:
            with service.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:
            response.status_code = 503
            return Health(status="not ready", detail="store unreachable")
        model = service.scorer.model
        if model is None:
            response.status_code = 503
            return Health(status="not ready", detail=service.registry_error or "no champion model")
        return Health(status="ready", model_version=model.version)

    @app.get("/metrics", tags=["ops"], response_class=Response)
    def metrics(service: ServiceDep) -> Response:
        """Prometheus metrics: requests, latencies, scores served, model version."""
        body, content_type = service.metrics.render()
        return Response(body, media_type=content_type)

    # --- writes (the ATS) ---------------------------------------------------------------------

    @app.post("/v1/events", response_model=Written, tags=["ats"], responses=ERRORS)
    def post_events(
        items: Annotated[list[EventIn], EventsBody],
        principal: Writer,
        service: ServiceDep,
        who: Who,
    ) -> Written:
        """Add events in the contract's shape.

        All or nothing: one bad item refuses the request. A known `event_id` changes nothing.
        """
        rows = [i.model_dump() for i in items]
        report = _write(service, "events", rows, principal, who)
        service.metrics.events(report.events_new)
        return Written(
            batch_id=report.batch_id,
            received=len(rows),
            new=report.events_new,
            already_known=report.events_known,
        )

    @app.post("/v1/candidates", response_model=Written, tags=["ats"], responses=ERRORS)
    def post_candidates(
        items: Annotated[list[CandidateIn], ItemsBody],
        principal: Writer,
        service: ServiceDep,
        who: Who,
    ) -> Written:
        """Add or update candidate profiles (the contract's candidates.csv columns)."""
        rows = [i.model_dump() for i in items]
        report = _write(service, "candidates", rows, principal, who)
        return Written(
            batch_id=report.batch_id,
            received=len(rows),
            new=report.candidates_new,
            updated=report.candidates_updated,
        )

    @app.post("/v1/outcomes", response_model=Written, tags=["ats"], responses=ERRORS)
    def post_outcomes(
        items: Annotated[list[OutcomeIn], ItemsBody],
        principal: Writer,
        service: ServiceDep,
        who: Who,
    ) -> Written:
        """Record who joined and who reneged (and why): the labels of the next retraining."""
        rows = [i.model_dump() for i in items]
        report = _write(service, "outcomes", rows, principal, who)
        return Written(batch_id=report.batch_id, received=len(rows), new=report.outcomes)

    # --- scores ---------------------------------------------------------------------------------

    @app.post(
        "/v1/score",
        response_model=ScoreResponse,
        tags=["scores"],
        responses={**ERRORS, **UNAVAILABLE},
    )
    async def post_score(
        request: ScoreRequest, principal: Scorer_, service: ServiceDep, who: Who
    ) -> Response:
        """Risk, tier, rank and reasons for up to 10,000 candidates as of a day (default today).

        Unknown or inactive candidates come back in `errors`, not as a failed request.
        """
        as_of = request.as_of or service.today()
        ids = list(dict.fromkeys(request.candidate_ids))
        body = await run_in_threadpool(_score_body, service, principal, who, as_of, ids)
        return Response(body, media_type="application/json")

    @app.get(
        "/v1/risk-list",
        response_model=RiskList,
        tags=["hr"],
        responses={**ERRORS, **BAD_CURSOR, **UNAVAILABLE},
    )
    def risk_list(
        principal: Reader,
        service: ServiceDep,
        who: Who,
        owner: Annotated[str | None, Query(max_length=64, description="hr_owner")] = None,
        department: Annotated[str | None, Query(max_length=200)] = None,
        tier: Annotated[Tier | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
        cursor: Annotated[str | None, Query(max_length=200)] = None,
        as_of: Annotated[IsoDate | None, Query(description="default: today")] = None,
    ) -> RiskList:
        """Today's ranked list of active candidates, highest risk first, with reasons and alerts."""
        owner = _owner_scope(principal, owner)
        day = as_of or service.today()
        offset = _cursor_offset(cursor, day)
        scores = _scores(service, day, [])
        order = scores.ordered()
        meta = scores.day.meta
        keep = np.ones(len(order), dtype=bool)
        if owner is not None:
            keep &= meta["hr_owner"].to_numpy()[order] == owner
        if department is not None:
            keep &= meta["department"].to_numpy()[order] == department
        if tier is not None:
            tiers = np.array([service.tier(r) for r in scores.risk[order]], dtype=object)
            keep &= tiers == tier
        ranks = np.arange(1, len(order) + 1)[keep]
        picked = order[keep]
        page = picked[offset : offset + limit]
        details = scores.scored([int(i) for i in page])[1] if len(page) else []
        rows = [
            _risk_row(service, scores, int(i), int(rank), detail)
            for i, rank, detail in zip(page, ranks[offset : offset + limit], details, strict=True)
        ]
        with service.engine.connect() as conn:
            held = overrides.current(conn, [r.candidate_id for r in rows])
        for r in rows:
            r.override_tier = held[r.candidate_id].tier if r.candidate_id in held else None
        more = offset + limit < len(picked)
        service.audit(who, "read", "GET /v1/risk-list", [r.candidate_id for r in rows])
        return RiskList(
            as_of=day,
            model_version=scores.model.version,
            total=len(picked),
            rows=rows,
            next_cursor=_make_cursor(offset + limit, day) if more else None,
        )

    @app.get(
        "/v1/candidates/{candidate_id}",
        response_model=CandidateDetail,
        tags=["hr"],
        responses={**ERRORS, **NOT_FOUND},
    )
    def candidate_detail(
        candidate_id: Annotated[str, Path(min_length=1, max_length=64)],
        principal: Reader,
        service: ServiceDep,
        who: Who,
        as_of: Annotated[
            IsoDate | None, Query(description="current score as of; default today")
        ] = None,
    ) -> CandidateDetail:
        """Profile, event timeline, score history and today's reasons for one candidate."""
        detail = _detail(service, principal, candidate_id, as_of or service.today())
        service.audit(
            who, "read", "GET /v1/candidates/{id}", [candidate_id], {"fields": DETAIL_FIELDS}
        )
        return detail

    @app.get(
        "/v1/alerts",
        response_model=AlertList,
        tags=["hr"],
        responses={**ERRORS, **BAD_CURSOR},
    )
    def list_alerts(
        principal: Reader,
        service: ServiceDep,
        who: Who,
        owner: Annotated[str | None, Query(max_length=64, description="hr_owner")] = None,
        kind: Annotated[str | None, Query(max_length=32)] = None,
        state: Annotated[Literal["open", "resolved", "all"], Query()] = "open",
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
        cursor: Annotated[str | None, Query(max_length=200)] = None,
    ) -> AlertList:
        """The brief's warnings from the latest daily run, oldest first, each in both languages."""
        owner = _owner_scope(principal, owner)
        found = _alerts(service, owner, kind, state, limit, cursor)
        service.audit(who, "read", "GET /v1/alerts", [r.candidate_id for r in found.rows])
        return found

    @app.get("/v1/outreach-plan", response_model=OutreachPlan, tags=["hr"], responses=ERRORS)
    def outreach_plan(
        principal: Reader,
        service: ServiceDep,
        who: Who,
        owner: Annotated[str | None, Query(max_length=64, description="hr_owner")] = None,
        date: Annotated[IsoDate | None, Query(description="default: today")] = None,
    ) -> OutreachPlan:
        """A recruiter's plan for a day: their tasks by expected benefit, then the cadence."""
        owner = _owner_scope(principal, owner)
        day = date or service.today()
        query = select(OutreachAction).where(OutreachAction.plan_date == day)
        if owner is not None:
            query = query.where(OutreachAction.hr_owner == owner)
        with service.engine.connect() as conn:
            rows = conn.execute(query).all()
        actions = sorted(
            (_planned(r) for r in rows),
            # the plan's own order (urgent work first, then by expected benefit) is the
            # order it was stored in
            key=lambda a: (a.automatic, a.hr_owner, a.action_id),
        )
        service.audit(who, "read", "GET /v1/outreach-plan", [a.candidate_id for a in actions])
        return OutreachPlan(plan_date=day, owner=owner, actions=actions)

    @app.post(
        "/v1/actions/{action_id}/done",
        response_model=PlannedAction,
        tags=["hr"],
        responses={**ERRORS, **NOT_FOUND},
    )
    def action_done(
        action_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
        principal: Annotated[Principal, Depends(allow("hr", "lead", "admin"))],
        service: ServiceDep,
        who: Who,
    ) -> PlannedAction:
        """Record that the action was done: as contract events, so the next scores see it."""
        return _done(service, principal, action_id, who)

    # --- webhooks -------------------------------------------------------------------------------

    @app.post(
        "/v1/webhooks/greenhouse",
        response_model=WebhookResult,
        tags=["ats"],
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
        service: ServiceDep,
        signature: Annotated[str | None, Header(alias="Signature")] = None,
        event_id: Annotated[str | None, Header(alias="Greenhouse-Event-ID", max_length=128)] = None,
    ) -> WebhookResult:
        """Greenhouse's webhooks (offers, applications), verified by their HMAC signature."""
        secret = service.settings.greenhouse_secret
        if secret is None:
            raise ApiError(403, "not_configured", "set KEEPWARM_GREENHOUSE_SECRET to accept it")
        raw = await request.body()  # verified as received, before any parsing
        if not greenhouse.signature_ok(secret.get_secret_value().encode(), raw, signature):
            raise ApiError(401, "bad_signature", "Signature does not match the body")
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise ApiError(422, "invalid", "body is not JSON") from None
        if not isinstance(body, dict):
            raise ApiError(422, "invalid", "body is not a JSON object")
        delivery = event_id or "sha256:" + hashlib.sha256(raw).hexdigest()

        def run() -> greenhouse.Outcome:
            with service.write_lock:
                return greenhouse.handle(service.engine, delivery, body, service.settings.timezone)

        try:
            outcome = await run_in_threadpool(run)
        except greenhouse.WebhookError as exc:
            raise ApiError(422, "invalid", str(exc)) from None
        service.scorer.touch(outcome.candidate_ids)
        return WebhookResult(
            delivery_id=delivery,
            action=str(body.get("action")),
            status=outcome.status,  # type: ignore[arg-type]
            events=outcome.events,
        )

    # --- trust: explanations, overrides, consent, erasure, audit --------------------------------

    @app.get(
        "/v1/candidates/{candidate_id}/explanation",
        response_model=Explanation,
        tags=["hr"],
        responses={**ERRORS, **NOT_FOUND},
    )
    def explanation(
        candidate_id: Annotated[str, Path(min_length=1, max_length=64)],
        principal: Reader,
        service: ServiceDep,
        who: Who,
        lang: Annotated[Literal["zh", "en"], Query()] = "zh",
        as_of: Annotated[IsoDate | None, Query(description="default: today")] = None,
    ) -> Explanation:
        """Why this risk, in plain words: for a candidate who asks, or a person reviewing it."""
        out = _explanation(service, principal, candidate_id, as_of or service.today(), lang)
        service.audit(who, "explain", "GET /v1/candidates/{id}/explanation", [candidate_id])
        return out

    @app.put(
        "/v1/candidates/{candidate_id}/override",
        response_model=Override | None,
        tags=["hr"],
        responses={**ERRORS, **NOT_FOUND},
    )
    def put_override(
        candidate_id: Annotated[str, Path(min_length=1, max_length=64)],
        body: OverrideIn,
        principal: Reader,
        service: ServiceDep,
        who: Who,
    ) -> Override | None:
        """Set a recruiter's tier over the model's, with a reason; it holds until cleared.

        `"tier": null` clears it: the model's tier shows again (the answer is then null).
        """
        if body.tier is None:
            _clear_override(service, principal, who, candidate_id)
            return None
        return _set_override(service, principal, who, candidate_id, body.tier, body.reason)

    @app.post(
        "/v1/candidates/{candidate_id}/consent-withdrawal",
        response_model=ConsentWithdrawn,
        tags=["ats"],
        responses={**ERRORS, **NOT_FOUND},
    )
    def withdraw_consent(
        candidate_id: Annotated[str, Path(min_length=1, max_length=64)],
        principal: Writer,
        service: ServiceDep,
        who: Who,
    ) -> ConsentWithdrawn:
        """The candidate withdrew consent to outside signals: delete them, stop using them."""
        with service.write_lock, service.engine.begin() as conn:
            _visible(conn, principal, candidate_id)
            deleted = erasure.withdraw_consent(conn, [candidate_id])
            audit.record(
                conn,
                who,
                "consent_withdrawn",
                "POST /v1/candidates/{id}/consent-withdrawal",
                [candidate_id],
                {"signals_deleted": deleted},
            )
        service.scorer.touch({candidate_id})
        return ConsentWithdrawn(candidate_id=candidate_id, signals_deleted=deleted)

    @app.delete(
        "/v1/admin/candidates/{candidate_id}",
        response_model=Erased,
        tags=["admin"],
        responses={**ERRORS, **NOT_FOUND},
    )
    def forget(
        candidate_id: Annotated[str, Path(min_length=1, max_length=64)],
        principal: Admin,
        service: ServiceDep,
        who: Who,
    ) -> Erased:
        """Erase a candidate's personal data everywhere keepwarm keeps it (PIPL art. 47)."""
        removed = _forget(service.engine, candidate_id, who, "DELETE /v1/admin/candidates/{id}")
        if removed is None:
            raise ApiError(404, "not_found", "no such candidate")
        service.scorer.reset()
        return Erased(candidate_id=candidate_id, removed=removed.rows)

    @app.get("/v1/admin/audit", response_model=AuditList, tags=["admin"], responses=ERRORS)
    def audit_log(
        principal: Admin,
        service: ServiceDep,
        who: Who,
        candidate: Annotated[str | None, Query(max_length=64)] = None,
        actor: Annotated[str | None, Query(max_length=128)] = None,
        since: Annotated[IsoDate | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    ) -> AuditList:
        """The audit log, newest first: who read or changed whose data, when, from where."""
        service.reads.flush()  # this process's latest reads first
        frame = audit.entries(service.engine, candidate, actor, since, limit=limit)
        service.audit(
            who, "read", "GET /v1/admin/audit", detail={"candidate_filter": bool(candidate)}
        )
        rows = [AuditRow.model_validate(r) for r in _records(frame)]
        return AuditList(total=len(rows), rows=rows)

    # --- admin ----------------------------------------------------------------------------------

    @app.post(
        "/v1/admin/reload-model",
        response_model=ReloadResult,
        tags=["admin"],
        responses={**ERRORS, **UNAVAILABLE},
    )
    def reload_model(principal: Admin, service: ServiceDep) -> ReloadResult:
        """Load the model behind the `champion` alias now, without a restart."""
        version, changed = service.reload_model()
        if version is None:
            raise ApiError(503, "no_model", "no champion model yet: run `keepwarm train`")
        return ReloadResult(model_version=version, changed=changed)


EventsBody = Body(min_length=1, max_length=MAX_EVENTS)
ItemsBody = Body(min_length=1, max_length=MAX_ITEMS)


def _missing(
    service: Service, ids: list[str], principal: Principal, as_of: dt.date
) -> list[dict[str, Any]]:
    """Per-item errors: unknown, or known but not active on ``as_of``.

    One query for all of them; another recruiter's candidate looks unknown.
    """
    if not ids:
        return []
    with service.engine.connect() as conn:
        owners = candidate_owners(conn, ids)
    inactive = f"not in the scored population on {as_of} (no offer yet, or outcome known)"
    return [
        ItemError(candidate_id=cid, error="not_active", message=inactive).model_dump()
        if cid in owners and principal.sees_owner(owners[cid])
        else ItemError(candidate_id=cid, error="unknown", message="no such candidate").model_dump()
        for cid in ids
    ]


def _score_body(
    service: Service, principal: Principal, who: audit.Actor, as_of: dt.date, ids: list[str]
) -> bytes:
    """The /v1/score response as JSON bytes: the whole computation, off the event loop.

    Built as plain dicts and encoded by orjson: for one candidate, pydantic models
    and FastAPI's response validation would cost more than the trees do. The shape is
    ``ScoreResponse``; the schemathesis test holds the two together.
    """
    scores = _scores(service, as_of, ids)
    rows, absent = [], []
    for cid in ids:
        i = scores.row.get(cid)
        if i is None or not principal.sees_owner(scores.owners[i]):
            absent.append(cid)
        else:
            rows.append(i)
    errors = _missing(service, absent, principal, as_of)
    results = _score_dicts(service, scores, rows)
    service.audit(who, "read", "POST /v1/score", [r["candidate_id"] for r in results])
    service.metrics.scored(len(results))
    return orjson.dumps(
        {
            "as_of": as_of.isoformat(),
            "model_version": scores.model.version,
            "results": results,
            "errors": errors,
        }
    )


def _score_dicts(service: Service, scores: DayScores, rows: list[int]) -> list[dict[str, Any]]:
    if not rows:
        return []
    risk, reasons = scores.scored(rows)
    version = scores.model.version
    return [
        {
            "candidate_id": scores.ids[i],
            "risk": round(r, 4),
            "risk_tier": service.tier(r),
            "rank_percentile": pct,
            "reasons": rs,
            "model_version": version,
        }
        for i, r, pct, rs in zip(
            rows, risk.tolist(), scores.rank_percentiles(risk), reasons, strict=True
        )
    ]


def _score_items(service: Service, scores: DayScores, rows: list[int]) -> list[ScoreItem]:
    return [ScoreItem.model_validate(d) for d in _score_dicts(service, scores, rows)]


def _risk_row(
    service: Service, scores: DayScores, i: int, rank: int, detail: list[dict[str, Any]]
) -> RiskRow:
    meta = scores.day.meta.iloc[i]
    risk = float(scores.risk[i])
    days = meta["days_to_start"]
    return RiskRow(
        rank=rank,
        candidate_id=str(scores.day.frame["candidate_id"].iat[i]),
        hr_owner=meta["hr_owner"],
        department=meta["department"],
        role_family=meta["role_family"],
        risk=round(risk, 4),
        risk_tier=service.tier(risk),
        reasons=_reasons(detail),
        alerts=[f for f in FLAGS if bool(meta[f])],
        days_to_start=None if pd.isna(days) else int(days),
        start_date=meta["start_date"],
    )


def _alerts(
    service: Service,
    owner: str | None,
    kind: str | None,
    state: str,
    limit: int,
    cursor: str | None,
) -> AlertList:
    with service.engine.connect() as conn:
        latest = conn.execute(select(func.max(Alert.as_of))).scalar()
        offset = _cursor_offset(cursor, latest)
        if latest is None:
            return AlertList(as_of=None, total=0, rows=[], next_cursor=None)
        query = (
            select(Alert, Candidate.hr_owner)
            .join(Candidate, Candidate.candidate_id == Alert.candidate_id)
            .where(Alert.as_of == latest)
        )
        if owner is not None:
            query = query.where(Candidate.hr_owner == owner)
        if kind is not None:
            query = query.where(Alert.kind == kind)
        if state == "open":
            query = query.where(Alert.resolved_at.is_(None))
        elif state == "resolved":
            query = query.where(Alert.resolved_at.is_not(None))
        rows = conn.execute(query.order_by(Alert.created_at, Alert.alert_id)).all()
    page = rows[offset : offset + limit]
    out = [
        AlertOut(
            alert_id=r.alert_id,
            candidate_id=r.candidate_id,
            hr_owner=r.hr_owner,
            kind=r.kind,
            notify=r.notify,
            text_zh=alert_text(r.kind, r.detail or {}, r.notify, latest, "zh"),
            text_en=alert_text(r.kind, r.detail or {}, r.notify, latest, "en"),
            created_at=r.created_at,
            resolved_at=r.resolved_at,
            resolved_by=r.resolved_by,
        )
        for r in page
    ]
    more = offset + limit < len(rows)
    return AlertList(
        as_of=latest,
        total=len(rows),
        rows=out,
        next_cursor=_make_cursor(offset + limit, latest) if more else None,
    )


def _planned(r: Any) -> PlannedAction:
    return PlannedAction(
        action_id=r.action_id,
        candidate_id=r.candidate_id,
        hr_owner=r.hr_owner,
        plan_date=r.plan_date,
        action=r.action,
        automatic=r.action.startswith("cadence:"),
        content_id=r.content_id,
        reason_zh=r.reason,
        reason_en=r.reason_en,
        risk=r.risk,
        expected_benefit=r.expected_benefit,
        status=r.status,
        done_at=r.done_at,
    )


# What a done action becomes in the contract's events (escalating reminds the approver,
# which the contract has no event for: it is recorded on the action only).
DONE_EVENTS = {
    "call": ("call_made", "phone"),
    "send_content": ("message_sent", "wechat"),
    "answer_question": ("message_sent", "wechat"),
}


def _done(
    service: Service, principal: Principal, action_id: int, who: audit.Actor
) -> PlannedAction:
    with service.engine.connect() as conn:
        row = conn.execute(
            select(OutreachAction).where(OutreachAction.action_id == action_id)
        ).first()
    if row is None or not principal.sees_owner(row.hr_owner):
        raise ApiError(404, "not_found", "no such action")
    if row.status == "done":
        return _planned(row)
    now = dt.datetime.now(service.zone)
    items = []
    if row.action in DONE_EVENTS:
        kind, channel = DONE_EVENTS[row.action]
        items.append(
            {
                "event_id": f"action-{action_id}",
                "candidate_id": row.candidate_id,
                "ts": now.isoformat(timespec="seconds"),
                "type": kind,
                "channel": channel,
                "content_id": row.content_id if kind == "message_sent" else None,
                "actor": "hr",
            }
        )
    with service.write_lock, service.engine.begin() as conn:
        if items:
            bundle = check_items(
                service.engine, "events", items, f"api:action:{principal.name}", str(action_id)
            )
            report = load_bundle(conn, bundle, touched=[row.candidate_id])
            service.scorer.wrote(report.batch_id, {row.candidate_id})
        conn.execute(
            update(OutreachAction)
            .where(OutreachAction.action_id == action_id)
            .values(status="done", done_at=now.astimezone(dt.UTC).replace(tzinfo=None))
        )
        audit.record(
            conn,
            who,
            "write",
            "POST /v1/actions/{id}/done",
            [row.candidate_id],
            {"action_id": action_id, "action": row.action},
        )
        done = conn.execute(
            select(OutreachAction).where(OutreachAction.action_id == action_id)
        ).one()
    return _planned(done)


def _owner_scope(principal: Principal, owner: str | None) -> str | None:
    """The recruiter a list is narrowed to: an hr key's own, whatever it asks for."""
    if principal.role != "hr":
        return owner
    if owner not in (None, principal.hr_owner):
        raise ApiError(403, "forbidden", "an hr key sees its own candidates only")
    return principal.hr_owner


def _make_cursor(offset: int, day: dt.date) -> str:
    raw = json.dumps({"o": offset, "d": day.isoformat()}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _cursor_offset(cursor: str | None, day: dt.date | None) -> int:
    if not cursor:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        offset = int(data["o"])
        same_day = day is not None and data["d"] == day.isoformat()
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise ApiError(400, "bad_cursor", "cursor is not one this API gave out") from None
    if offset < 0 or not same_day:
        raise ApiError(400, "bad_cursor", "cursor belongs to another day's list")
    return offset


def _detail(
    service: Service, principal: Principal, candidate_id: str, as_of: dt.date
) -> CandidateDetail:
    with service.engine.connect() as conn:
        cand = conn.execute(select(Candidate).where(Candidate.candidate_id == candidate_id)).first()
        if cand is None or not principal.sees_owner(cand.hr_owner):
            raise ApiError(404, "not_found", "no such candidate")
        events = conn.execute(
            select(Event).where(Event.candidate_id == candidate_id).order_by(Event.ts_utc)
        ).all()
        history = conn.execute(
            select(Score).where(Score.candidate_id == candidate_id).order_by(Score.as_of)
        ).all()
        outcome = conn.execute(select(Outcome).where(Outcome.candidate_id == candidate_id)).first()
    profile = Profile.model_validate(
        {k: getattr(cand, k) for k in Profile.model_fields}, from_attributes=False
    )
    timeline = [
        TimelineEvent(
            event_id=e.event_id,
            ts=(e.ts_utc + dt.timedelta(minutes=e.utc_offset_min)).isoformat()
            + _offset(e.utc_offset_min),
            local_day=e.local_day,
            type=e.type,
            channel=e.channel,
            content_id=e.content_id,
            topic=e.topic,
            value=e.value,
            actor=e.actor,
            text=e.text,
        )
        for e in events
    ]
    current = _current(service, candidate_id, as_of)
    return CandidateDetail(
        profile=profile,
        outcome=None
        if outcome is None
        else OutcomeIn(
            candidate_id=outcome.candidate_id,
            outcome=outcome.outcome,
            outcome_date=outcome.outcome_date,
            reason=outcome.reason,
        ),
        timeline=timeline,
        score_history=[
            ScorePoint(as_of=s.as_of, risk=s.risk, rank=s.rank, model_version=s.model_version)
            for s in history
        ],
        current=current,
    )


DETAIL_FIELDS = "profile,outcome,timeline,score_history,current"


def _current(service: Service, candidate_id: str, as_of: dt.date) -> ScoreItem | None:
    """The candidate's score as of a day; None without a model or when not active."""
    if service.scorer.model is None:
        return None
    scores = service.scorer.day(as_of, [candidate_id])
    i = scores.row.get(candidate_id)
    return None if i is None else _score_items(service, scores, [i])[0]


def _visible(conn: Connection, principal: Principal, candidate_id: str) -> None:
    """404 unless the candidate exists and the caller may see them."""
    owner = candidate_owners(conn, [candidate_id]).get(candidate_id)
    if owner is None or not principal.sees_owner(owner):
        raise ApiError(404, "not_found", "no such candidate")


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {k: (None if (not isinstance(v, (list, dict)) and pd.isna(v)) else v) for k, v in r.items()}
        for r in frame.to_dict("records")
    ]


def _forget(engine: Engine, candidate_id: str, who: audit.Actor, target: str):
    """Erase one candidate and record it (without the id) in one transaction."""
    with engine.begin() as conn:
        if candidate_owners(conn, [candidate_id]).get(candidate_id) is None:
            return None
        removed = erasure.forget(conn, candidate_id)
        audit.record(
            conn,
            who,
            "erase",
            target,
            detail={"subject_hash": erasure.id_hash(candidate_id), **removed.as_dict()},
        )
    return removed


def _explanation(
    service: Service, principal: Principal, candidate_id: str, as_of: dt.date, lang: str
) -> Explanation:
    detail = _detail(service, principal, candidate_id, as_of)
    model = service.scorer.model
    version = detail.current.model_version if detail.current else None
    return explain(
        detail,
        override_of(service, candidate_id),
        list(model.features) if model else None,
        service.card(version) if version else {},
        as_of,
        lang,
        service.settings.review_contact,
    )


def _set_override(
    service: Service,
    principal: Principal,
    who: audit.Actor,
    candidate_id: str,
    tier: str,
    reason: str,
    target: str = "PUT /v1/candidates/{id}/override",
) -> Override:
    with service.engine.connect() as conn:
        _visible(conn, principal, candidate_id)
    current = _current(service, candidate_id, service.today())
    with service.write_lock, service.engine.begin() as conn:
        overrides.set_override(
            conn,
            candidate_id,
            tier,
            reason,
            principal.name,
            None if current is None else current.risk,
            None if current is None else current.risk_tier,
        )
        # the tier and the model's, not the reason: that is free text
        audit.record(
            conn,
            who,
            "override",
            target,
            [candidate_id],
            {"tier": tier, "model_tier": None if current is None else current.risk_tier},
        )
    found = override_of(service, candidate_id)
    return Override.model_validate(found, from_attributes=True)


def _clear_override(
    service: Service,
    principal: Principal,
    who: audit.Actor,
    candidate_id: str,
    target: str = "PUT /v1/candidates/{id}/override",
) -> None:
    with service.write_lock, service.engine.begin() as conn:
        _visible(conn, principal, candidate_id)
        cleared = overrides.clear_override(conn, candidate_id)
        audit.record(
            conn,
            who,
            "override_cleared",
            target,
            [candidate_id],
            {"cleared": cleared},
        )


def _offset(minutes: int) -> str:
    sign = "-" if minutes < 0 else "+"
    minutes = abs(minutes)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"

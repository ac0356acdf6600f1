"""The app factory: ``create_app`` wires state, middleware, the API routers and the console.

Routes live in ``serving.api`` (one router per resource) and ``serving.console``;
what they do lives in ``serving.services``. The OpenAPI docs (``/docs``,
``/redoc``) are served from the ``fastapi-offline`` package: no page loads
anything from another site.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from starlette.concurrency import run_in_threadpool
from starlette.middleware.gzip import GZipMiddleware

from config import Settings, get_settings
from config.logs import install_safe_formatting
from serving.api import ROUTERS
from serving.console import add_console
from serving.errors import install_handlers
from serving.metrics import MetricsMiddleware
from serving.state import AppState
from store.db import open_store

log = logging.getLogger("keepwarm.serving")

# How long a thread holding the GIL keeps it when another asks (CPython's default: 5 ms).
# Each worker's audit thread writes a batch of read entries four times a second; with
# the default, a request arriving meanwhile waited up to 5 ms for the event loop's turn,
# which was most of the single-candidate p99 (benchmarks/bench_serve.py).
GIL_SWITCH_SECONDS = 0.0005


def create_app(settings: Settings | None = None) -> FastAPI:
    """The service: API, console and docs over the configured store and champion model."""
    settings = settings or get_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # uvicorn has set up its handlers by now: no exception message reaches a log
        install_safe_formatting()
        sys.setswitchinterval(GIL_SWITCH_SECONDS)
        engine = await run_in_threadpool(open_store, settings)
        state = AppState(settings, engine)
        app.state.service = state
        await run_in_threadpool(state.reload_model)
        await run_in_threadpool(state.data_range.first_day)  # before the first request needs it
        pollers = [
            asyncio.create_task(run_in_threadpool(state.warm)),  # /readyz waits for it
            asyncio.create_task(_poll(state)),
            asyncio.create_task(_sync(state)),
        ]
        try:
            yield
        finally:
            for task in pollers:
                task.cancel()
            await run_in_threadpool(state.reads.close)
            engine.dispose()

    app = FastAPIOffline(
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
    # pages, JSON and plotly.min.js (4.8 MB, about 1.5 MB gzipped) go compressed
    app.add_middleware(GZipMiddleware, minimum_size=1000)
    install_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    add_console(app)
    return app


async def _poll(state: AppState) -> None:
    """Check the champion alias every ``model_poll_seconds``; keep serving on failure."""
    every = state.settings.model_poll_seconds
    if every <= 0:
        return
    while True:
        await asyncio.sleep(every)
        try:
            version, _ = await run_in_threadpool(state.reload_model)
            if version is not None and state.warmed != version:
                await run_in_threadpool(state.warm)
        except Exception:  # keep serving the current model; say why in the log
            log.exception("checking the champion alias failed")


async def _sync(state: AppState) -> None:
    """Catch up with writes of other processes every ``cache_sync_seconds``."""
    every = state.settings.cache_sync_seconds
    if every <= 0:
        return
    while True:
        await asyncio.sleep(every)
        try:
            if await run_in_threadpool(state.scorer.sync):
                state.data_range.expire()
            await run_in_threadpool(state.data_range.refresh)
        except Exception:
            log.exception("catching up with the store's new batches failed")

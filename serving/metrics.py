"""Prometheus metrics, and the one ASGI middleware: request counts, latencies, body limit.

A pure ASGI middleware (not Starlette's BaseHTTPMiddleware) costs microseconds
per request. It labels requests by route template (``/v1/candidates/{candidate_id}``),
never by the concrete path, so candidate ids never reach the metrics.
"""

from __future__ import annotations

import os
import time
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class Metrics:
    """The service's metrics in a registry of its own (one per app, so tests can make many)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "keepwarm_http_requests",
            "HTTP requests by route, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "keepwarm_http_request_seconds",
            "HTTP request latency by route",
            ["route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
            registry=self.registry,
        )
        self.scores = Counter(
            "keepwarm_scores_served", "Candidate scores returned", registry=self.registry
        )
        self.events_written = Counter(
            "keepwarm_events_written", "New events stored through the API", registry=self.registry
        )
        self.model = Gauge(
            "keepwarm_model_info",
            "The model version being served (value 1)",
            ["version"],
            registry=self.registry,
            multiprocess_mode="livemax",
        )
        self._version: str | None = None

    def model_loaded(self, version: str) -> None:
        if self._version is not None:
            self.model.labels(version=self._version).set(0)
        self.model.labels(version=version).set(1)
        self._version = version

    def scored(self, n: int) -> None:
        self.scores.inc(n)

    def events(self, n: int) -> None:
        self.events_written.inc(n)

    def render(self) -> tuple[bytes, str]:
        """This process's metrics, or all workers' when ``keepwarm serve --workers N`` runs."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def _reply(status: int, code: str, message: str) -> tuple[Message, Message]:
    import json

    body = json.dumps({"error": {"code": code, "message": message, "problems": []}}).encode()
    start: Message = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
    }
    return start, {"type": "http.response.body", "body": body}


class TooLarge(Exception):
    pass


NO_STORE = (b"cache-control", b"no-store")


class MetricsMiddleware:
    """Counts and times each request; guards what reaches the app.

    - a body over ``max_body`` bytes is refused with 413: at once when its
      Content-Length says so, else (a chunked body) when the bytes read pass it;
    - a URL holding a NUL character is refused with 400 (no store keeps one);
    - API answers carry ``Cache-Control: no-store``: they hold people's data.
    """

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        sent_start = False

        async def reply(code: int, error: str, message: str) -> None:
            status["code"] = code
            for part in _reply(code, error, message):
                await send(part)

        async def counting_send(message: Message) -> None:
            nonlocal sent_start
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                sent_start = True
                if scope["path"].startswith("/v1/"):
                    kept = [h for h in message.get("headers", []) if h[0] != NO_STORE[0]]
                    message = {**message, "headers": [*kept, NO_STORE]}
            await send(message)

        try:
            raw = scope.get("raw_path") or scope["path"].encode()
            if b"\x00" in scope["path"].encode() or b"%00" in (raw + scope["query_string"]):
                await reply(400, "bad_request", "the address holds a NUL character")
                return
            if length is not None and length.isdigit() and int(length) > self.max_body:
                raise TooLarge
            if length is None and scope["method"] in ("POST", "PUT", "PATCH"):
                # chunked: read it whole (up to the limit) before the app sees it, so an
                # oversized body is a 413 and not the framework's "cannot parse" 400
                receive = await self._buffered(receive)
            await self.app(scope, self._limited(receive), counting_send)
        except TooLarge:
            if sent_start:
                raise
            await reply(413, "too_large", f"request body over {self.max_body} bytes")
        finally:
            app_state: Any = getattr(scope.get("app"), "state", None)
            service = getattr(app_state, "service", None) if app_state is not None else None
            if service is not None:
                route = scope.get("route")
                name = getattr(route, "path", None) or "unmatched"
                service.metrics.requests.labels(name, scope["method"], str(status["code"])).inc()
                service.metrics.latency.labels(name).observe(time.perf_counter() - started)

    async def _buffered(self, receive: Receive) -> Receive:
        chunks, seen = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                chunks.append(message)
                break
            seen += len(message.get("body", b""))
            if seen > self.max_body:
                raise TooLarge
            chunks.append(message)
            if not message.get("more_body", False):
                break
        body = b"".join(m.get("body", b"") for m in chunks if m["type"] == "http.request")
        replay: list[Message] = [{"type": "http.request", "body": body, "more_body": False}]

        async def replayed() -> Message:
            return replay.pop(0) if replay else await receive()

        return replayed

    def _limited(self, receive: Receive) -> Receive:
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise TooLarge
            return message

        return limited_receive

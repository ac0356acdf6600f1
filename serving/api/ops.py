"""Health, readiness and Prometheus metrics: for load balancers and monitoring."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy import text

from serving.deps import StateDep
from serving.schemas import Health

router = APIRouter(tags=["ops"])


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """The process is alive."""
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Health,
    responses={503: {"model": Health, "description": "Not ready"}},
)
def readyz(state: StateDep, response: Response) -> Health:
    """The store answers, a model is loaded, and today's scores are built with it."""
    try:
        with state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:
        response.status_code = 503
        return Health(status="not ready", detail="store unreachable")
    model = state.model
    if model is None:
        response.status_code = 503
        return Health(status="not ready", detail=state.registry_error or "no champion model")
    if state.warmed != model.version:  # the first requests would wait for the day's build
        response.status_code = 503
        detail = state.warm_error or "building today's scores"
        return Health(status="not ready", model_version=model.version, detail=detail)
    return Health(status="ready", model_version=model.version)


@router.get("/metrics", response_class=Response)
def metrics(state: StateDep) -> Response:
    """Prometheus metrics: requests, latencies, scores served, model version."""
    body, content_type = state.metrics.render()
    return Response(body, media_type=content_type)

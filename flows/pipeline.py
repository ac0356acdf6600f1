"""Prefect wiring of keepwarm's stages: retraining per season and daily scoring.

Nothing but wiring: every task calls a package function. Tasks are coarse (a
stage, not a candidate). Each is wrapped in ``withhold_messages``: Prefect
records a failure by its type.

A run opens one store engine and hands it to its tasks (disposed when the run
ends). Tasks that reach a server (the store, MLflow, SMTP or a chat bot) retry
and have a timeout. Every task's result is persisted under the run's own cache
key (``flows.runs.RUN_STEP``): "Retry" on a failed run in Prefect's UI (or its
API) resumes it from the tasks that had finished; a finished run's results are
removed. Daily runs hold a one-slot global concurrency limit (one per tenant); a
failure after the last retry is reported to the operators (``flows.runs.notify_failure``).

Each flow takes a ``tenant`` (README, "Tenants"): the run works with that tenant's
settings, store and model (``config.tenant_scope``); ``flows.tenants`` starts one run
of a deployment per tenant through the work pool.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from typing import Any

import pandas as pd
from prefect import flow, task
from sqlalchemy import Engine

from config import get_settings, tenant_scope
from flows.runs import RUN_STEP, notify_failure, one_at_a_time, remove_run_results, transient
from flows.runtime import withhold_messages
from outreach.daily import plan_config
from outreach.digest import SendReport, send_digests
from serving.services.daily import DayRun, run_day
from store import audit, erasure
from store.db import open_store
from training.config import load_config
from training.fairness import audit_scores
from training.predictor import Predictor
from training.tracking import Promote, Registered, load_champion, log_and_register
from training.train import (
    SeasonData,
    TrainResult,
    fit_and_evaluate,
    labelled,
    load_season_data,
    season_features,
    season_spine,
)

# Seconds a task that reaches a server may take before it is stopped and retried; far
# above what it takes (a daily run at 20k active candidates: about a minute in all).
STORE_TIMEOUT = 1800
MODEL_TIMEOUT = 600
SEND_TIMEOUT = 300
# How long a daily run waits for another one of the same kind to finish.
DAILY_LOCK = "keepwarm-daily-scoring"
DAILY_LOCK_WAIT_SECONDS = 3600.0
# Each run's results are kept until it finishes; what failed runs left, this long.
KEEP_FAILED_RUN_RESULTS_DAYS = 7
_SERVER: dict[str, Any] = {
    "retries": 2,
    "retry_delay_seconds": [10, 60],
    "retry_condition_fn": transient,
}
_STEP: dict[str, Any] = {"cache_policy": RUN_STEP, "persist_result": True}


@task(name="load-season-data", timeout_seconds=STORE_TIMEOUT, **_SERVER, **_STEP)
@withhold_messages
def load_data_task(engine: Engine) -> SeasonData:
    return load_season_data(engine)


@task(name="build-features", timeout_seconds=STORE_TIMEOUT, **_SERVER, **_STEP)
@withhold_messages
def build_features_task(engine: Engine, spine: pd.DataFrame, content: pd.DataFrame) -> pd.DataFrame:
    """The one feature builder (shared with daily scoring), a part of candidates at a time."""
    return season_features(engine, spine, content, load_config().feature_chunk_candidates)


@task(name="fit-and-evaluate", **_STEP)
@withhold_messages
def fit_task(
    train: pd.DataFrame,
    test: pd.DataFrame,
    data: SeasonData,
    train_seasons: list[str],
    test_season: str,
) -> TrainResult:
    return fit_and_evaluate(train, test, data.truth, train_seasons, test_season, load_config())


@task(name="bias-audit", timeout_seconds=STORE_TIMEOUT, **_SERVER, **_STEP)
@withhold_messages
def fairness_task(engine: Engine, result: TrainResult) -> dict[str, Any]:
    test = result.test.rename(columns={"risk_keepwarm": "risk"})
    return audit_scores(engine, test, load_config().hr_capacity_share)


@task(name="log-and-register", timeout_seconds=MODEL_TIMEOUT, **_SERVER, **_STEP)
@withhold_messages
def register_task(
    result: TrainResult,
    train_seasons: list[str],
    test_season: str,
    promote: Promote,
    fairness: dict[str, Any] | None = None,
    refit_winner: bool = False,
) -> Registered:
    # the seasons, settings, chosen rounds, calibrator and code version come from the
    # result itself (training.tracking.lineage), as for a run started anywhere else
    params = {"trained_by": "flow:train"}
    return log_and_register(result, params, get_settings(), promote, fairness, refit_winner)


def _finished(flow: Any, flow_run: Any, state: Any) -> None:
    """A run that completed needs its persisted results no more: they hold candidates' rows."""
    remove_run_results(str(flow_run.id))


_HOOKS: dict[str, Any] = {
    "on_completion": [_finished],
    "on_failure": [notify_failure],
    "on_crashed": [notify_failure],
}


@contextlib.contextmanager
def _run_engine() -> Iterator[Engine]:
    """The run's one engine on the store (its pool holds one connection at a time)."""
    engine = open_store(get_settings())
    try:
        yield engine
    finally:
        engine.dispose()


@flow(name="train", log_prints=False, **_HOOKS)
@withhold_messages
def train_flow(
    train_seasons: list[str],
    test_season: str,
    promote: Promote = "auto",
    refit_winner: bool = False,
    tenant: str | None = None,
) -> tuple[TrainResult, Registered]:
    """Snapshots -> features -> fit -> evaluate -> bias audit -> gate -> log -> register.

    With ``refit_winner``, a challenger the gate promotes is refitted on the training and
    test seasons together before it is registered (training.tracking.log_and_register).
    """
    with tenant_scope(tenant), _run_engine() as engine:
        return _train(engine, train_seasons, test_season, promote, refit_winner)


def _train(
    engine: Engine,
    train_seasons: list[str],
    test_season: str,
    promote: Promote,
    refit_winner: bool,
) -> tuple[TrainResult, Registered]:
    cfg = load_config()
    data = load_data_task(engine)
    train_spine = season_spine(data, train_seasons, cfg)
    test_spine = season_spine(data, [test_season], cfg, with_truth_days=True)
    train = labelled(build_features_task(engine, train_spine, data.content), train_spine, data)
    test = labelled(build_features_task(engine, test_spine, data.content), test_spine, data)
    result = fit_task(train, test, data, train_seasons, test_season)
    fairness = fairness_task(engine, result)
    registered = register_task(result, train_seasons, test_season, promote, fairness, refit_winner)
    return result, registered


@task(name="day-run", timeout_seconds=MODEL_TIMEOUT, **_SERVER, **_STEP)
@withhold_messages
def day_run_task(engine: Engine, as_of: dt.date) -> DayRun:
    """The day's run (calibration check, scores, alerts, plans, stored): the one the API's
    ``/v1/runs/daily`` runs (``serving.services.daily.run_day``).

    A retry reruns the whole day: every step replaces what it stored for the day.
    """
    settings = get_settings()
    model, version = load_champion(settings)
    return run_day(engine, Predictor.of(model, version), as_of, plan=plan_config(settings))


@task(
    name="digests",
    timeout_seconds=SEND_TIMEOUT,
    retries=2,
    retry_delay_seconds=30,
    retry_condition_fn=transient,
    **_STEP,
)
@withhold_messages
def digest_task(engine: Engine, as_of: dt.date) -> SendReport:
    """Each recruiter's digest by e-mail and chat bot, where configured (off by default)."""
    return send_digests(engine, get_settings(), as_of)


def day_of_run(as_of: dt.date | None) -> dt.date:
    """The day a run is for: the one asked, else today in ``KEEPWARM_TIMEZONE``.

    A scheduled run (no day given) at 07:00 Asia/Shanghai starts at 23:00 UTC the day
    before: the worker's own date would be yesterday.
    """
    return as_of or get_settings().today()


@flow(name="retention", log_prints=False, **_HOOKS)
@withhold_messages
def retention_flow(today: dt.date | None = None, tenant: str | None = None) -> dict[str, Any]:
    """Apply the retention periods: candidates whose outcome is old, and old audit entries.

    One transaction for the candidates (all of them or none), recorded in the audit log
    with counts only; then the audit entries past ``audit_keep_days`` (never under six
    months: the store refuses).
    """
    with tenant_scope(tenant) as settings, _run_engine() as engine:
        return _retain(engine, settings, day_of_run(today))


def _retain(engine: Engine, settings: Any, day: dt.date) -> dict[str, Any]:
    ids, removed = erasure.retire(engine, day, settings.retention_days, settings.retention_mode)
    if ids:
        audit.record(
            engine,
            audit.Actor.flow("retention"),
            settings.retention_mode,
            "retention",
            detail={"retention_days": settings.retention_days, **removed.as_dict()},
        )
    purged = audit.purge(engine, settings.audit_keep_days)
    return {
        "candidates": len(ids),
        "mode": settings.retention_mode,
        "rows": removed.rows,
        "audit_entries_purged": purged,
        "run_results_removed": remove_run_results(older_than_days=KEEP_FAILED_RUN_RESULTS_DAYS),
    }


@flow(name="daily-scoring", log_prints=False, **_HOOKS)
@withhold_messages
def daily_scoring_flow(
    as_of: dt.date | None = None, tenant: str | None = None
) -> tuple[pd.DataFrame, str]:
    """The day's run (``serving.services.daily.run_day``: calibration check, scores and
    reasons, history, alerts, plans), then the recruiters' digests.

    ``as_of`` defaults to today in ``KEEPWARM_TIMEZONE`` (the tenant's). One daily run
    at a time per tenant: a second one waits for the first (``DAILY_LOCK_WAIT_SECONDS``),
    then fails with ``RunLocked``; a killed one holds the slot ``KEEPWARM_RUN_LEASE_SECONDS``
    longer at most.
    """
    with tenant_scope(tenant) as settings:
        day = day_of_run(as_of)
        lock = daily_lock(settings.tenant)
        lease = settings.run_lease_seconds
        with one_at_a_time(lock, DAILY_LOCK_WAIT_SECONDS, lease), _run_engine() as engine:
            run = day_run_task(engine, day)
            digest_task(engine, day)
            return run.scores, run.model_version


def daily_lock(tenant: str | None) -> str:
    """The daily runs' concurrency limit: one run per day and tenant, tenants side by side."""
    return DAILY_LOCK if tenant is None else f"{DAILY_LOCK}-{tenant}"

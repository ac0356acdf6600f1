"""Prefect wiring of keepwarm's stages: retraining per season and daily scoring.

Nothing but wiring: every task calls a package function. Tasks are coarse (a
stage, not a candidate) and not cached: their inputs are whole seasons. Each
is wrapped in ``withhold_messages``: Prefect records a failure by its type.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from config import get_settings
from features.build import build_features
from flows.runtime import withhold_messages
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
    season_spine,
)


@task(name="load-season-data", cache_policy=NO_CACHE)
@withhold_messages
def load_data_task() -> SeasonData:
    return load_season_data(open_store(get_settings()))


@task(name="build-features", cache_policy=NO_CACHE)
@withhold_messages
def build_features_task(
    events: pd.DataFrame, candidates: pd.DataFrame, spine: pd.DataFrame, content: pd.DataFrame
) -> pd.DataFrame:
    """The one feature builder, shared by retraining and daily scoring."""
    return build_features(events, candidates, spine, content)


@task(name="fit-and-evaluate", cache_policy=NO_CACHE)
@withhold_messages
def fit_task(
    train: pd.DataFrame,
    test: pd.DataFrame,
    data: SeasonData,
    train_seasons: list[str],
    test_season: str,
) -> TrainResult:
    return fit_and_evaluate(train, test, data.truth, train_seasons, test_season, load_config())


@task(name="bias-audit", cache_policy=NO_CACHE)
@withhold_messages
def fairness_task(result: TrainResult) -> dict[str, Any]:
    test = result.test.rename(columns={"risk_keepwarm": "risk"})
    return audit_scores(open_store(get_settings()), test, load_config().hr_capacity_share)


@task(name="log-and-register", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2)
@withhold_messages
def register_task(
    result: TrainResult,
    train_seasons: list[str],
    test_season: str,
    promote: Promote,
    fairness: dict[str, Any] | None = None,
) -> Registered:
    cfg = load_config()
    params = {
        "train_seasons": ",".join(train_seasons),
        "test_season": test_season,
        **cfg.lightgbm,
        "num_boost_round": cfg.num_boost_round,
        "folds": cfg.folds,
        "early_stopping_rounds": cfg.early_stopping_rounds,
        "snapshot_every_days": cfg.snapshot_every_days,
    }
    return log_and_register(result, params, get_settings(), promote, fairness)


@flow(name="train", log_prints=False)
@withhold_messages
def train_flow(
    train_seasons: list[str], test_season: str, promote: Promote = "auto"
) -> tuple[TrainResult, Registered]:
    """Snapshots -> features -> fit -> evaluate -> bias audit -> log -> register/promote."""
    cfg = load_config()
    data = load_data_task()
    train_spine = season_spine(data, train_seasons, cfg)
    test_spine = season_spine(data, [test_season], cfg, with_truth_days=True)
    train = labelled(
        build_features_task(data.events, data.candidates, train_spine, data.content),
        train_spine,
        data,
    )
    test = labelled(
        build_features_task(data.events, data.candidates, test_spine, data.content),
        test_spine,
        data,
    )
    result = fit_task(train, test, data, train_seasons, test_season)
    fairness = fairness_task(result)
    registered = register_task(result, train_seasons, test_season, promote, fairness)
    return result, registered


@task(name="day-run", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2)
@withhold_messages
def day_run_task(as_of: dt.date) -> DayRun:
    """The day's run (scores, alerts, plans, stored): the one the API's ``/v1/runs/daily`` runs.

    A retry reruns the whole day: every step replaces what it stored for the day.
    """
    model, version = load_champion(get_settings())
    return run_day(open_store(get_settings()), Predictor.of(model, version), as_of)


@task(name="digests", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=30)
@withhold_messages
def digest_task(as_of: dt.date) -> SendReport:
    """Each recruiter's digest by e-mail and chat bot, where configured (off by default)."""
    settings = get_settings()
    return send_digests(open_store(settings), settings, as_of)


@flow(name="retention", log_prints=False)
@withhold_messages
def retention_flow(today: dt.date | None = None) -> dict[str, Any]:
    """Apply the retention periods: candidates whose outcome is old, and old audit entries.

    One transaction for the candidates (all of them or none), recorded in the audit log
    with counts only; then the audit entries past ``audit_keep_days`` (never under six
    months: the store refuses).
    """
    settings = get_settings()
    day = today or dt.date.today()
    engine = open_store(settings)
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
    }


@flow(name="daily-scoring", log_prints=False)
@withhold_messages
def daily_scoring_flow(as_of: dt.date | None = None) -> tuple[pd.DataFrame, str]:
    """The day's run (``serving.services.daily.run_day``), then the recruiters' digests."""
    day = as_of or dt.date.today()
    run = day_run_task(day)
    digest_task(day)
    return run.scores, run.model_version

"""In-season calibration: a season whose renege rate shifted is flagged and refitted;
a stable one is not."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, logit
from sqlalchemy import Engine

from config import Settings, get_settings
from training.monitor import (
    MonitorConfig,
    check_calibration,
    checks,
    fit_shift,
    in_force,
    poisson_interval,
    renege_timing,
    share_for,
    shifted,
    store_check,
)
from training.predictor import Predictor


def test_poisson_interval_matches_the_exact_tables() -> None:
    # Garwood's exact limits (Breslow & Day 1987): 0 -> [0, 3.689], 10 -> [4.795, 18.39]
    assert poisson_interval(0) == pytest.approx((0.0, 3.689), abs=1e-3)
    assert poisson_interval(10) == pytest.approx((4.795, 18.390), abs=1e-3)


def test_fit_shift_recovers_a_known_shift() -> None:
    rng = np.random.default_rng(3)
    risk = rng.uniform(0.05, 0.6, 500)
    share = rng.uniform(0.1, 0.5, 500)
    for true in (-0.8, 0.0, 0.7):
        target = float(np.sum(share * expit(logit(risk) + true)))
        assert fit_shift(risk, share, target) == pytest.approx(true, abs=1e-4)
    assert fit_shift(risk, share, 0.0) == -3.0  # out of reach: clipped
    np.testing.assert_allclose(shifted(risk, 0.0), risk)


def test_timing_share_by_horizon() -> None:
    """Among reneges, the share that came within the window, per band of days to start."""
    day = dt.date(2024, 10, 1)
    pop = pd.DataFrame(
        {
            "candidate_id": ["a", "b", "c"],
            "entry_day": [day, day, day],
            "outcome_date": [day + dt.timedelta(days=10), day + dt.timedelta(days=60), day],
            "label": [1.0, 1.0, 0.0],
        }
    )
    starts = pd.Series({c: dt.date(2025, 7, 1) for c in "abc"})
    cfg = MonitorConfig(window_days=28, horizon_bin_days=400, min_reneges_per_bin=1)
    timing = renege_timing(pop, starts, cfg)
    # a: 2 weekly rows, both within 28 days; b: 9 rows, those from day 35 on within 28 days
    b_days = [60 - 7 * k for k in range(9)]
    hits = 2 + sum(d <= 28 for d in b_days)
    assert timing.loc[timing["bin"] == -1, "share"].item() == pytest.approx(hits / 11)
    assert share_for(timing, np.array([200.0, np.nan]), cfg).tolist() == [hits / 11] * 2


def test_a_shifted_predictor_moves_every_risk_by_the_same_log_odds(
    engine: Engine, settings: Settings
) -> None:
    from training.tracking import load_champion

    model, version = load_champion(get_settings())
    base = Predictor.of(model, version)
    X = np.zeros((3, len(base.features)))
    X[:, 0] = [0, 5, 50]
    up = base.with_shift(0.5, 1)
    np.testing.assert_allclose(
        logit(up.risk(X)), logit(np.clip(base.risk(X), 1e-6, 1 - 1e-6)) + 0.5, atol=1e-9
    )
    np.testing.assert_allclose(up.with_shift(0.0).risk(X), base.risk(X))
    assert up.explain(X)[0] == pytest.approx(up.risk(X))
    # what a store's latest check leaves in force is what scoring applies
    assert in_force(engine, base).shift == 0.0


CHECK_DAY = dt.date(2026, 1, 15)  # mid-season: 3 windows of 28 days back to late October


def _season_in_progress(engine: Engine, tmp: Path, **params: float) -> pd.DataFrame:
    """A third season (400 candidates) as the store knows it on CHECK_DAY; returns the
    outcomes it will have once it has ended (what the people active then went on to do)."""
    from simulator import simulate_season, write_bundle
    from simulator.params import SimParams
    from store.ingest import ingest_bundle

    full = simulate_season("2025-autumn", 400, 5, params=SimParams(**params), truth=False)
    ingest_bundle(engine, write_bundle(full.until(CHECK_DAY), tmp / "2025-autumn"))
    return full.outcomes


def _active_rows(engine: Engine) -> pd.DataFrame:
    from features.build import build_features
    from features.population import load_day

    day = load_day(engine, CHECK_DAY)
    return build_features(day.events, day.candidates, day.spine, day.content)


def _champion() -> Predictor:
    from training.tracking import load_champion

    model, version = load_champion(get_settings())
    return Predictor.of(model, version)


def test_a_stable_season_is_not_flagged(engine: Engine, tmp_path: Path) -> None:
    _season_in_progress(engine, tmp_path)
    result = check_calibration(engine, _champion(), CHECK_DAY)
    assert result.verdict == "ok" and not result.flagged and result.shift == 0.0
    assert result.windows == 3 and result.observed > 10
    assert result.ratio_low is not None and result.ratio_low < 1 < (result.ratio_high or 0)
    assert result.reference == ["2023-autumn", "2024-autumn"]  # the finished seasons


def test_a_season_with_more_reneges_is_flagged_and_the_refit_brings_risk_in(
    engine: Engine, tmp_path: Path
) -> None:
    """More competing offers (2.4 times the simulator's rate): 35% renege instead of 22%.

    The model ranks as before but shows risks too low; the check on the early reneges
    flags it, and the refitted intercept brings the mean risk shown to the people active
    on the check day inside the 95% interval of the rate at which they went on to renege.
    """
    from scipy.stats import binomtest

    outcomes = _season_in_progress(engine, tmp_path, competing_rate=0.012)
    model = _champion()
    result = check_calibration(engine, model, CHECK_DAY)
    assert result.flagged and result.verdict == "low"
    assert result.ratio_low is not None and result.ratio_low > 1
    assert 0 < result.shift <= result.shift_best

    rows = _active_rows(engine)
    risk, ids = model.risk(model.matrix(rows)), rows["candidate_id"].tolist()
    went = outcomes.set_index("candidate_id")["outcome"].reindex(ids).eq("reneged")
    ci = binomtest(int(went.sum()), len(ids)).proportion_ci(method="wilson")
    assert risk.mean() < ci.low  # before: shown too low
    assert ci.low <= shifted(risk, result.shift).mean() <= ci.high  # after: inside

    # stored with its provenance, and applied wherever the version scores
    check_id = store_check(engine, result, model.version, "test")
    scored = in_force(engine, model)
    assert (scored.shift, scored.shift_check) == (result.shift, check_id)
    # ... within the range the model's held-out calibration supports (issue 16's cap)
    cal = model.own_calibration
    expected = np.clip(shifted(risk, result.shift), cal.floor, cal.cap)
    np.testing.assert_allclose(scored.risk(scored.matrix(rows)), expected)
    latest = checks(engine, model.version)[0]
    assert latest["flagged"] and latest["as_of"] == CHECK_DAY and latest["actor"] == "test"
    assert latest["shift"] == pytest.approx(result.shift)
    # a later check that passes sets it back to the model's own
    passed = dataclasses.replace(result, flagged=False, verdict="ok", shift=0.0)
    store_check(engine, passed, model.version, "test")
    assert in_force(engine, model).shift == 0.0

"""Per-season quality and drift as the review page shows them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.report import calibration_table, drift, evaluation_summary, population_stability


def test_calibration_table_bins_hold_every_row() -> None:
    rng = np.random.default_rng(0)
    p = rng.random(1000)
    y = (rng.random(1000) < p).astype(int)
    table = calibration_table(y, p)
    assert table["n"].sum() == 1000 and len(table) == 10
    assert table["predicted"].is_monotonic_increasing
    assert np.abs(table["observed"] - table["predicted"]).max() < 0.15


def test_psi_is_zero_for_the_same_distribution_and_large_for_a_shift() -> None:
    assert population_stability([10, 20, 30], [20, 40, 60]) == pytest.approx(0.0)
    assert population_stability([90, 10, 0], [10, 10, 80]) > 0.25


def _test_frame() -> pd.DataFrame:
    """A held-out season where risk is low far from the start and high close to it."""
    rng = np.random.default_rng(1)
    far = pd.DataFrame({"days_to_start": 200, "risk_keepwarm": rng.uniform(0.0, 0.2, 500)})
    near = pd.DataFrame({"days_to_start": 30, "risk_keepwarm": rng.uniform(0.4, 0.8, 500)})
    test = pd.concat([far, near], ignore_index=True)
    test["label"] = (rng.random(len(test)) < test["risk_keepwarm"]).astype(int)
    test["season"] = "2024-autumn"
    return test


def test_drift_compares_with_the_held_out_season_at_the_same_horizons() -> None:
    summary = evaluation_summary(_test_frame(), [60, 120, 180])
    assert summary["seasons"][0]["season"] == "2024-autumn"
    assert set(summary["score_counts_by_horizon"]) == {"<=60d", ">180d"}
    rng = np.random.default_rng(2)
    # Early in a new season everyone is far from the start: low risk, as last year then.
    early = rng.uniform(0.0, 0.2, 300)
    bands, psi = drift(summary, early, np.full(300, 200.0))
    assert psi < 0.1
    assert bands["training"].sum() == pytest.approx(1.0)
    # Against the season's whole mix the same scores would look like a shift.
    whole = {k: v for k, v in summary.items() if k != "score_counts_by_horizon"}
    assert drift(whole, early, np.full(300, 200.0))[1] > 0.25
    # A real shift at the same horizon is caught.
    assert drift(summary, rng.uniform(0.5, 0.9, 300), np.full(300, 200.0))[1] > 0.25


def test_drift_without_scores_is_empty() -> None:
    bands, psi = drift({}, np.array([]), np.array([]))
    assert bands.empty and np.isnan(psi)

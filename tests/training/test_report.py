"""Per-season quality and drift as the review page shows them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from config import Settings
from training.evaluate import SEGMENTS, segment_calibration
from training.modelcard import build_card, card_markdown
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


def _segment_rows(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Held-out-like rows where candidates who mentioned another offer are under-rated."""
    rng = np.random.default_rng(seed)
    cid = np.repeat(np.arange(n // 4), 4)
    mentioned = (cid % 5 == 0).astype(float)
    truth = np.where(mentioned > 0, 0.30, 0.10)
    test = pd.DataFrame(
        {
            "candidate_id": cid,
            "label": (rng.random(len(cid)) < truth).astype(int),
            "days_to_start": rng.integers(10, 250, len(cid)),
            "competing_offer_mentions": mentioned,
            "competing_offer_signals": 0.0,
            "far_from_home": rng.integers(0, 2, len(cid)).astype(float),
            "school_tier": rng.integers(1, 4, len(cid)).astype(float),
            "as_of": "2024-10-01",
            "season": "2024-autumn",
        }
    )
    model_risk = np.full(len(cid), 0.14)  # the model says 14% for everyone
    return test, model_risk


def test_segment_calibration_finds_the_under_rated_competing_offers() -> None:
    test, risk = _segment_rows(8000, 1)
    rows = {(r["segment"], r["group"]): r for r in segment_calibration(test, risk, [60, 120, 180])}
    mentioned = rows[("competing_offer", "mentioned")]
    assert mentioned["off"] and mentioned["gap_low"] > 0.1
    assert rows[("competing_offer", "no")]["gap"] < 0
    assert {s for s, _ in rows} == set(SEGMENTS)
    assert all(r["candidates"] <= r["rows"] for r in rows.values())


def test_per_segment_calibration_is_in_the_evaluation_and_the_model_card(
    settings: Settings,
) -> None:
    test, risk = _segment_rows(4000, 2)
    evaluation = evaluation_summary(test.assign(risk_keepwarm=risk), [60, 120, 180])
    assert any(s["segment"] == "competing_offer" for s in evaluation["segments"])
    card = build_card(["days_since_reply"], {}, {}, evaluation, None, [], settings)
    assert card["calibration"]["by_segment"] == evaluation["segments"]
    assert any("competing_offer = mentioned is off" in x for x in card["known_limits"])
    text = card_markdown(card, "7")
    assert "## Calibration" in text and "| competing_offer | mentioned |" in text

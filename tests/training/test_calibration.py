"""Calibrator choice, the cap the held-out outcomes support, and the ties recruiters see."""

from __future__ import annotations

import numpy as np
import pytest

from training.evaluate import top_tie_share
from training.model import Calibration, choose_calibration, supported_bounds
from training.predictor import shown_percent, shown_risk


def _season(
    candidates: int, rows_each: int, seed: int, sharpness: float = 1.0, top: float = 0.97
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Raw scores, outcomes, candidate ids and weekly days; a candidate's outcome is fixed."""
    rng = np.random.default_rng(seed)
    p = np.clip(rng.beta(1.2, 4.0, candidates), 0.005, top)
    y_c = (rng.random(candidates) < p).astype(float)
    logit = np.log(p / (1 - p))
    raw_c = 1 / (1 + np.exp(-sharpness * logit))
    groups = np.repeat(np.arange(candidates), rows_each)
    jitter = rng.normal(0, 0.05, len(groups))
    raw = np.clip(raw_c[groups] + jitter * raw_c[groups] * (1 - raw_c[groups]), 1e-4, 1 - 1e-4)
    days = np.tile(np.arange(rows_each), candidates)
    return raw, y_c[groups], groups, days


@pytest.mark.parametrize(
    ("risk", "shown"),
    [
        (0.374, "37%"),
        (0.125, "13%"),
        (0.9, "90%"),
        (0.905, "> 90%"),
        (0.995, "> 90%"),
        (0.004, "< 1%"),
        (0.0, "< 1%"),
        (0.61496, "62%"),
        (0.615, "62%"),
        (0.90004, "90%"),
    ],
)
def test_risk_is_shown_without_false_precision(risk: float, shown: str) -> None:
    assert shown_risk(risk) == shown


def test_the_per_item_and_the_per_array_rounding_show_the_same_value() -> None:
    # shown_risk (plain Python, the API's items) and shown_percent (numpy, the tie share
    # and the console's counts) state one rule twice, for speed: they must not drift
    grid = np.concatenate([np.linspace(0, 1, 20_001), [0.005, 0.00499, 0.90005, 0.89995]])
    rng = np.random.default_rng(3)
    risks = np.round(np.concatenate([grid, rng.random(20_000)]), 4)
    pct = shown_percent(risks)
    words = {0: "< 1%", 91: "> 90%"}
    assert [shown_risk(r) for r in risks] == [words.get(int(p), f"{p}%") for p in pct]


def test_ties_count_what_is_shown_within_each_day() -> None:
    days = np.repeat([0, 1], 400)  # 20 rows in each day's top 5%
    one_day = np.concatenate([np.linspace(0.05, 0.5, 380), 0.6 + 0.01 * np.arange(20)])
    distinct = np.concatenate([one_day, one_day])
    assert top_tie_share(distinct, days) == 0.0
    plateau = distinct.copy()
    plateau[400:][-20:] = 0.995  # day 1's whole top 5% on one isotonic step
    assert top_tie_share(plateau, days) == 1.0
    above = distinct.copy()
    above[-8:] = np.linspace(0.91, 0.99, 8)  # different numbers, one shown value: "> 90%"
    assert top_tie_share(above, days) == pytest.approx(8 / 20)
    assert (shown_percent(np.linspace(0.91, 0.99, 8)) == 91).all()
    few = np.array([0.5, 0.5, 0.5])  # a day too small to have a top 5% worth judging
    assert top_tie_share(few, np.zeros(3)) == 0.0


def test_support_is_counted_in_candidates_not_snapshot_rows() -> None:
    raw, y, groups, days = _season(400, 30, seed=1)  # ~2,500 positive rows, ~90 candidates
    assert y.sum() > 1000
    cal = choose_calibration(raw, y, groups, days, isotonic_min_candidates=1000)
    assert cal.support["candidates_reneged"] < 150
    assert "isotonic" not in cal.support["held_out"]


def test_equal_log_loss_goes_to_the_calibrator_with_fewer_ties() -> None:
    raw, y, groups, days = _season(3000, 6, seed=2)  # the raw scores are already calibrated
    cal = choose_calibration(raw, y, groups, days, isotonic_min_candidates=100)
    held = cal.support["held_out"]
    assert set(held) == {"identity", "platt", "beta", "isotonic"}
    assert held["isotonic"]["top_tie_share"] > held[cal.kind]["top_tie_share"]
    assert cal.kind != "isotonic"
    assert top_tie_share(cal(raw), days) <= 1 / 3


def test_a_clearly_better_log_loss_wins_over_fewer_ties() -> None:
    raw, y, groups, days = _season(3000, 6, seed=3, sharpness=3.0)  # overconfident trees
    cal = choose_calibration(raw, y, groups, days)
    held = cal.support["held_out"]
    assert held["identity"]["log_loss"] - held[cal.kind]["log_loss"] > 0.01
    assert cal.kind in {"platt", "beta"}


def test_nothing_is_shown_above_what_held_out_outcomes_support() -> None:
    raw, y, groups, days = _season(2000, 5, seed=4, top=0.6)  # nobody is truly above 60%
    cal = choose_calibration(raw, y, groups, days, cap_candidates=50)
    assert cal.cap < 0.9
    assert cal(np.array([0.999, 0.99]))[0] <= cal.cap
    # the cap is the upper end of the Wilson interval of the top 50 candidates' renege rate
    floor, cap = supported_bounds(np.asarray(raw), y, groups, 50)
    assert 0.005 <= floor < cap <= 0.995
    order = np.argsort(-raw, kind="stable")
    first = list(dict.fromkeys(groups[order]))[:50]
    rate = y[np.isin(groups, first)].mean()
    assert rate < cap < rate + 0.2


def test_an_old_saved_calibration_still_loads() -> None:
    old = Calibration(**{"kind": "platt", "x": [], "y": [], "a": 1.0, "b": 0.0})
    assert old(np.array([0.9999]))[0] == pytest.approx(0.995)

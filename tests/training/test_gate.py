"""Paired, candidate-clustered comparisons and the gate's rules, on constructed scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import log_loss, roc_auc_score

from training.config import GateRules
from training.evaluate import expected_calibration_error
from training.gate import gate_decision, paired_comparison, segments

HORIZONS = [60, 120, 180]


def season(candidates: int = 600, rows: int = 12, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Snapshots of candidates (``rows`` each, one outcome per candidate) and their true risk."""
    rng = np.random.default_rng(seed)
    risk = rng.beta(1.5, 4, candidates)
    label = rng.random(candidates) < risk
    ids = np.repeat([f"K{i:05d}" for i in range(candidates)], rows)
    frame = pd.DataFrame(
        {
            "candidate_id": ids,
            "label": np.repeat(label.astype(int), rows),
            "days_to_start": np.tile(np.linspace(250, 10, rows).round(), candidates),
            "as_of": np.tile(pd.date_range("2024-09-01", periods=rows, freq="7D").date, candidates),
        }
    )
    true = np.repeat(risk, rows)
    return frame, true


def _noisy(p: np.ndarray, scale: float, seed: int) -> np.ndarray:
    z = np.log(p / (1 - p)) + np.random.default_rng(seed).normal(0, scale, len(p))
    return 1 / (1 + np.exp(-z))


def test_point_estimates_are_the_usual_metrics_and_intervals_cover_them() -> None:
    frame, true = season()
    a, b = _noisy(true, 0.5, 1), _noisy(true, 1.0, 2)
    cmp = paired_comparison(frame, a, b, segments(frame, HORIZONS), resamples=100)
    y = frame["label"].to_numpy()
    row = cmp.row("all", "auc")
    assert row["challenger"] == pytest.approx(roc_auc_score(y, a))
    assert row["champion"] == pytest.approx(roc_auc_score(y, b))
    assert cmp.row("all", "log_loss")["challenger"] == pytest.approx(log_loss(y, a))
    assert cmp.row("all", "ece")["champion"] == pytest.approx(
        expected_calibration_error(y, b), abs=0.003
    )
    for r in cmp.table.itertuples():
        assert r.lo <= r.hi
    assert {"horizon=<=60d", "horizon=>180d"} <= set(cmp.table["slice"])
    assert row["candidates"] == 600 and row["n"] == 600 * 12


def test_intervals_resample_candidates_not_rows() -> None:
    # Each candidate seen 12 times with the same scores, or once: twelve copies carry no
    # more evidence, so the interval must not shrink by sqrt(12) as a row bootstrap's does.
    once, true = season(rows=1)
    a, b = _noisy(true, 0.3, 3), _noisy(true, 0.6, 4)
    weekly = once.loc[once.index.repeat(12)].reset_index(drop=True)

    def width(frame: pd.DataFrame, pa: np.ndarray, pb: np.ndarray) -> float:
        r = paired_comparison(frame, pa, pb, {"all": np.ones(len(frame), bool)}, 300).row(
            "all", "auc"
        )
        return float(r["hi"] - r["lo"])

    base = width(once, a, b)
    clustered = width(weekly, np.repeat(a, 12), np.repeat(b, 12))
    by_row = width(
        weekly.assign(candidate_id=np.arange(len(weekly))), np.repeat(a, 12), np.repeat(b, 12)
    )
    assert 0.75 * base < clustered < 1.33 * base
    assert by_row < 0.5 * base


def test_the_gate_refuses_a_within_noise_gain() -> None:
    frame, true = season()
    champion, challenger = _noisy(true, 0.6, 5), _noisy(true, 0.6, 6)  # same "recipe"
    decision = gate_decision(frame, challenger, champion, HORIZONS, GateRules(), "champion v1")
    assert not decision.promoted
    assert "does not clear zero (within noise)" in decision.reason
    assert decision.figures["auc_diff_lo"] < 0 < decision.figures["auc_diff_hi"]


def test_the_gate_promotes_a_real_gain() -> None:
    frame, true = season()
    crippled, better = _noisy(true, 2.0, 7), _noisy(true, 0.3, 8)
    decision = gate_decision(frame, better, crippled, HORIZONS, GateRules(), "champion v1")
    assert decision.promoted, decision.reason
    assert decision.reason.endswith("promoted")
    assert decision.figures["auc_diff_lo"] > 0


def test_a_minimum_gain_is_required_when_set() -> None:
    frame, true = season()
    a, b = _noisy(true, 0.5, 9), _noisy(true, 0.8, 10)
    rules = GateRules(min_auc_gain=0.2)
    decision = gate_decision(frame, a, b, HORIZONS, rules, "champion v1")
    assert not decision.promoted and "does not clear the minimum gain 0.2" in decision.reason


def test_a_calibration_regression_at_one_horizon_refuses_a_better_ranking() -> None:
    frame, true = season()
    champion = _noisy(true, 1.0, 11)
    challenger = _noisy(true, 0.3, 12)
    late = frame["days_to_start"].to_numpy() <= 60
    challenger = np.where(late, np.clip(challenger * 2.5, 0, 0.99), challenger)
    decision = gate_decision(frame, challenger, champion, HORIZONS, GateRules(), "champion v1")
    assert decision.figures["auc_diff_lo"] > 0
    assert not decision.promoted
    assert "log_loss worse at horizon=<=60d" in decision.reason
    assert "ece worse at horizon=<=60d" in decision.reason


def test_the_standing_simple_model_is_reported_and_can_veto() -> None:
    frame, true = season()
    champion, challenger, simple = (_noisy(true, s, i) for i, s in enumerate((2.0, 1.0, 0.2)))
    decision = gate_decision(
        frame, challenger, champion, HORIZONS, GateRules(), "champion v1", p_standing=simple
    )
    assert decision.figures["standing_auc_diff_hi"] < 0
    assert not decision.promoted and "the logistic regression beats it" in decision.reason

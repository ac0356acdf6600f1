"""The dropout model: calibrated, persisted natively, explained, and behaving as it must."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.catalogue import ACTIONS, FEATURE_NAMES
from training.evaluate import expected_calibration_error
from training.model import MONOTONE, DropoutClassifier
from training.predictor import REASON_POOL, ModelRefused, Predictor, worded

# OpenMP's default number of threads, which tests/conftest.py sets to this process's share
# of the cores (the model's own default of two oversubscribes them under pytest-xdist).
THREADS = {"num_threads": 0}
# training/config.toml's learning rate (the model's own default is half that): early
# stopping ends each fold in half the rounds, and the fits cost half as much.
FIT = {"min_data_in_leaf": 50, "learning_rate": 0.1, **THREADS}


def _synthetic(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """Snapshot-like rows whose true renege probability is known."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(0, 1, (n, len(FEATURE_NAMES))), columns=list(FEATURE_NAMES))
    X["role_family"] = rng.choice(["tech", "sales", "design"], n)
    X["days_since_reply"] = rng.integers(0, 30, n).astype(float)
    X["replies_total"] = rng.integers(0, 10, n).astype(float)
    logit = (
        -1.5 + 0.12 * X["days_since_reply"] - 0.3 * X["replies_total"] + 0.8 * X["far_from_home"]
    )
    p = 1 / (1 + np.exp(-logit.to_numpy()))
    y = (rng.random(n) < p).astype(int)
    groups = np.arange(n) // 5  # five snapshots per "candidate"
    return X, y, p, groups


@pytest.fixture(scope="module")
def fitted() -> tuple[DropoutClassifier, pd.DataFrame, np.ndarray, np.ndarray]:
    X, y, _, groups = _synthetic(12_000, 1)
    model = DropoutClassifier(params=FIT, num_boost_round=400).fit(X, y, groups)
    X_test, y_test, p_test, _ = _synthetic(20_000, 2)
    return model, X_test, y_test, p_test


def test_fit_returns_self_and_sets_fitted_attributes() -> None:
    X, y, _, groups = _synthetic(1000, 3)  # any fit: small and short
    model = DropoutClassifier(params=THREADS, num_boost_round=20)
    assert model.fit(X, y, groups) is model
    assert model.features_ == list(X.columns)
    assert hasattr(model, "booster_") and hasattr(model, "calibration_")


def test_probabilities_are_calibrated_on_unseen_data(fitted) -> None:  # type: ignore[no-untyped-def]
    model, X, y, p_true = fitted
    risk = model.predict_proba(X)[:, 1]
    assert expected_calibration_error(y, risk) < 0.02
    assert abs(risk.mean() - y.mean()) < 0.01
    assert np.corrcoef(risk, p_true)[0, 1] > 0.9
    assert risk.min() >= 0.005 and risk.max() <= 0.995


def test_native_save_and_load_give_the_same_risks(fitted, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model, X, _, _ = fitted
    model.save(tmp_path / "m")
    assert (tmp_path / "m" / "booster.txt").read_text().startswith("tree")
    again = DropoutClassifier.load(tmp_path / "m")
    np.testing.assert_allclose(again.predict_proba(X)[:, 1], model.predict_proba(X)[:, 1])


def test_a_model_with_a_foreign_feature_list_is_refused(fitted, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model, _, _, _ = fitted
    model.save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    meta["features"][0] = "shoe_size"
    (tmp_path / "m" / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelRefused, match="features"):
        DropoutClassifier.load(tmp_path / "m")


def test_reasons_are_the_largest_positive_contributions(fitted) -> None:  # type: ignore[no-untyped-def]
    model, X, _, _ = fitted
    rows = X.head(50)
    predictor = Predictor.of(model)
    matrix = predictor.matrix(rows)
    contrib = pd.DataFrame(
        np.asarray(model.booster_.predict(matrix, pred_contrib=True))[:, :-1],
        columns=model.features_,
    )
    risk, _, picked = predictor.explain(matrix, top=3)
    np.testing.assert_allclose(risk, model.predict_proba(rows)[:, 1], atol=1e-9)
    moved = 0
    for i, reasons in enumerate(picked):
        # the 8 strongest pushes up; those a recruiter can act on first, then the rest
        pool = contrib.iloc[i][contrib.iloc[i] > 0].sort_values(ascending=False, kind="stable")
        pool = pool.head(REASON_POOL)
        acts = [c for c in pool.index if c in ACTIONS]
        expected = (acts + [c for c in pool.index if c not in ACTIONS])[:3]
        assert [r["code"] for r in reasons] == expected
        assert all(r["contribution"] > 0 for r in reasons)
        assert [r["value"] for r in reasons] == [rows.iloc[i][c] for c in expected]
        moved += expected != list(pool.index[:3])
    assert moved > 0  # the rule changed what some rows show
    silent = X.head(1).assign(days_since_reply=29.0)
    said = [worded(r) for r in predictor.explain(predictor.matrix(silent))[2][0]]
    assert {"code": "days_since_reply", "text_en": "no reply for 29 days"}.items() <= next(
        r for r in said if r["code"] == "days_since_reply"
    ).items()


def test_a_model_using_gender_is_refused(fitted) -> None:  # type: ignore[no-untyped-def]
    model, _, _, _ = fitted
    names = list(model.features_)
    names[0] = "gender"
    with pytest.raises(ModelRefused):
        Predictor.of(type("M", (), {"booster_": model.booster_, "features_": names})())  # type: ignore[arg-type]


def test_a_fresh_reply_never_raises_risk(fitted) -> None:  # type: ignore[no-untyped-def]
    model, X, _, _ = fitted
    rows = X.head(2000)
    replied = rows.copy()
    for w in ("7d", "14d", "30d", "total"):
        replied[f"replies_{w}"] = rows[f"replies_{w}"] + 1
    replied["days_since_reply"] = 0.0
    # (the synthetic columns are unit normals: a fresh reply takes them to their minimum,
    # never above where they were)
    replied["days_since_candidate_activity"] = np.minimum(rows["days_since_candidate_activity"], 0)
    replied["unreplied_hr_messages"] = np.minimum(rows["unreplied_hr_messages"], 0)
    before, after = model.predict_proba(rows)[:, 1], model.predict_proba(replied)[:, 1]
    assert (after <= before + 1e-12).all()
    assert (after < before).mean() > 0.3  # and it usually lowers it


def test_monotone_directions_name_real_features() -> None:
    assert set(MONOTONE) <= set(FEATURE_NAMES)


def test_the_calibrator_is_chosen_on_held_out_log_loss(fitted) -> None:  # type: ignore[no-untyped-def]
    model, X, y, _ = fitted
    held = model.calibration_.support["held_out"]
    best = min(f["log_loss"] for f in held.values())
    chosen = held[model.calibration_.kind]
    assert chosen["log_loss"] - best <= max(chosen["gap_se"], 0.0005)
    assert expected_calibration_error(y, model.predict_proba(X)[:, 1]) < 0.03


def test_isotonic_is_tried_only_with_enough_candidates_not_rows() -> None:
    X, y, _, groups = _synthetic(1500, 4)  # 300 "candidates", five snapshots each
    model = DropoutClassifier(params=FIT, num_boost_round=200)
    model.fit(X, y, groups)
    support = model.calibration_.support
    assert support["candidates_reneged"] <= 300 and "isotonic" not in support["held_out"]
    X_test, y_test, _, _ = _synthetic(20_000, 5)
    assert expected_calibration_error(y_test, model.predict_proba(X_test)[:, 1]) < 0.03

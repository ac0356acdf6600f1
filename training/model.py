"""The dropout model: LightGBM trees and their calibration, fitted the scikit-learn way.

Saved in native formats (the booster as LightGBM text, the calibration and the
feature list as JSON), never pickled, so the serving side loads exactly what
was trained without importing scikit-learn on the hot path. Encoding, reasons
and words live in ``training.predictor``, the one front-end every scorer uses.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from training.predictor import CATEGORICAL, ModelRefused, check_features, encode, within_risk

WITHIN_DIR = "within"  # the time-to-renege model's folder inside a saved model

DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_data_in_leaf": 100,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "verbose": -1,
    "num_threads": 2,
    "seed": 7,
}


# Directions the model must respect whatever the data says (behavioural guarantees):
# a reply, or any sign of life, never raises risk; silence and competing offers never lower it.
MONOTONE: dict[str, int] = {
    **{f"replies_{w}": -1 for w in ("7d", "14d", "30d", "total")},
    "reply_rate_14d": -1,
    "reply_rate_30d": -1,
    "reply_rate_total": -1,
    "reply_trend": -1,
    "days_since_reply": 1,
    "days_since_candidate_activity": 1,
    "unreplied_hr_messages": 1,
    "competing_offer_signals": 1,
    "competing_offer_mentions": 1,
    "silent_days_total": 1,
    "housing_wait_days": 1,
}


def _group_folds(groups: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """A fold number per row, all rows of a group (a candidate) in the same fold."""
    unique, index = np.unique(groups, return_inverse=True)
    order = np.random.default_rng(seed).permutation(len(unique))
    fold_of_group = np.empty(len(unique), dtype=int)
    fold_of_group[order] = np.arange(len(unique)) % folds
    return fold_of_group[index]


@dataclass
class Calibration:
    """A map from raw tree probability to calibrated risk, stored as plain numbers.

    Isotonic (``x``/``y`` steps) when the calibration set is large enough to
    support it; otherwise Platt scaling (``a * logit(p) + b``), which needs far
    fewer cases and does not produce long flat plateaus of tied risks.
    """

    kind: str = "identity"
    x: list[float] = field(default_factory=list)
    y: list[float] = field(default_factory=list)
    a: float = 1.0
    b: float = 0.0

    def __call__(self, p: np.ndarray) -> np.ndarray:
        if self.kind == "isotonic":
            return np.interp(p, self.x, self.y)
        if self.kind == "platt":
            z = self.a * _logit(p) + self.b
            return np.clip(1 / (1 + np.exp(-z)), 0.005, 0.995)
        return p

    @classmethod
    def fit(cls, raw: np.ndarray, y: np.ndarray, min_positives: int) -> Calibration:
        if y.sum() >= min_positives and (len(y) - y.sum()) >= min_positives:
            # Certainty is never warranted: the map stays inside [0.5%, 99.5%].
            iso = IsotonicRegression(out_of_bounds="clip", y_min=0.005, y_max=0.995)
            iso.fit(raw, y)
            return cls(
                "isotonic",
                [float(v) for v in iso.X_thresholds_],
                [float(v) for v in iso.y_thresholds_],
            )
        platt = LogisticRegression(C=1e6).fit(_logit(raw).reshape(-1, 1), y)
        return cls("platt", a=float(platt.coef_[0, 0]), b=float(platt.intercept_[0]))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


class DropoutClassifier(ClassifierMixin, BaseEstimator):
    """Gradient-boosted trees with probabilities calibrated on candidates the trees never saw.

    ``fit(X, y, groups)`` cross-fits by candidate (every candidate's snapshots
    in one fold): each fold's trees are grown on the other folds, stopped early
    on this one, and predict it. Those out-of-fold predictions, from trees that
    never saw the candidate, fit the calibration; the number of rounds they
    chose grows the final trees on every candidate (as scikit-learn's
    ``CalibratedClassifierCV(ensemble=False)`` does). Holding a fixed share out
    for calibration instead left a third of the season unused by the trees,
    which cost accuracy and made it depend on the split's seed.
    """

    def __init__(
        self,
        params: dict[str, Any] | None = None,
        num_boost_round: int = 600,
        early_stopping_rounds: int = 40,
        folds: int = 5,
        seed: int = 7,
        isotonic_min_positives: int = 1000,
        within_days: int = 30,
    ) -> None:
        self.params = params
        self.num_boost_round = num_boost_round
        self.early_stopping_rounds = early_stopping_rounds
        self.folds = folds
        self.seed = seed
        self.isotonic_min_positives = isotonic_min_positives
        self.within_days = within_days

    def fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray | pd.Series,
        groups: np.ndarray | None = None,
        y_within: np.ndarray | pd.Series | None = None,
    ) -> DropoutClassifier:
        """Fit on feature rows ``X``, labels ``y`` (reneged: 1) and candidate ``groups``.

        With ``y_within`` (reneged within ``within_days`` days of the row's day: 1), a
        second model of the same kind, on the same rows and folds, gives the
        time-to-renege output (``within_``, ``predict_within_proba``).
        """
        self.within_: DropoutClassifier | None = None
        if y_within is not None:
            self.within_ = clone(self).set_params(within_days=0).fit(X, y_within, groups)
        y = np.asarray(y, dtype=float)
        groups = np.asarray(groups if groups is not None else np.arange(len(y)))
        self.features_ = list(X.columns)
        matrix = encode(X, self.features_)
        categorical = [i for i, f in enumerate(self.features_) if f in CATEGORICAL]
        params = {**DEFAULT_PARAMS, **(self.params or {}), "seed": self.seed}
        params["monotone_constraints"] = [MONOTONE.get(f, 0) for f in self.features_]
        params.setdefault("monotone_constraints_method", "advanced")
        fold = _group_folds(groups, self.folds, self.seed)
        out_of_fold = np.zeros(len(y))
        rounds = []
        for k in range(self.folds):
            held = fold == k
            grow = self._dataset(matrix[~held], y[~held], categorical)
            booster = lgb.train(
                params,
                grow,
                num_boost_round=self.num_boost_round,
                valid_sets=[lgb.Dataset(matrix[held], y[held], reference=grow)],
                callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False)],
            )
            out_of_fold[held] = booster.predict(matrix[held], num_iteration=booster.best_iteration)
            rounds.append(booster.best_iteration)
        self.rounds_ = max(1, round(float(np.mean(rounds))))
        self.booster_ = lgb.train(
            params,
            self._dataset(matrix, y, categorical),
            num_boost_round=self.rounds_,
        )
        self.calibration_ = Calibration.fit(out_of_fold, y, self.isotonic_min_positives)
        self.classes_ = np.array([0, 1])
        return self

    def _dataset(self, matrix: np.ndarray, y: np.ndarray, categorical: list[int]) -> lgb.Dataset:
        return lgb.Dataset(matrix, y, feature_name=self.features_, categorical_feature=categorical)

    def raw_proba(self, X: pd.DataFrame) -> np.ndarray:
        """The trees' probability before calibration; ``X`` holds ``features_`` columns."""
        return np.asarray(self.booster_.predict(encode(X, self.features_)))

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = self.calibration_(self.raw_proba(X))
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    def predict_within_proba(self, X: pd.DataFrame) -> np.ndarray | None:
        """Chance of reneging within ``within_days`` days, never above the eventual risk.

        Shape ``(n_rows,)``; None for a model fitted without ``y_within``.
        """
        if self.within_ is None:
            return None
        return within_risk(self.within_.predict_proba(X)[:, 1], self.predict_proba(X)[:, 1])

    # --- native persistence -------------------------------------------------------
    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.booster_.save_model(str(folder / "booster.txt"))
        meta = {
            "features": self.features_,
            "calibration": asdict(self.calibration_),
            "params": self.get_params(),
        }
        (folder / "model.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
        if self.within_ is not None:
            self.within_.save(folder / WITHIN_DIR)

    @classmethod
    def load(cls, folder: Path) -> DropoutClassifier:
        meta = json.loads((folder / "model.json").read_text(encoding="utf-8"))
        known = cls().get_params()
        model = cls(**{k: v for k, v in meta["params"].items() if k in known})
        model.booster_ = lgb.Booster(model_file=str(folder / "booster.txt"))
        model.features_ = list(meta["features"])
        check_features(model.features_, model.booster_)
        if model.booster_.feature_name() != model.features_:
            raise ModelRefused("the trees' feature names differ from the model's list")
        model.calibration_ = Calibration(**meta["calibration"])
        model.classes_ = np.array([0, 1])
        # a model saved before the time-to-renege output has none: it serves risk alone
        within = folder / WITHIN_DIR
        model.within_ = cls.load(within) if within.is_dir() else None
        return model

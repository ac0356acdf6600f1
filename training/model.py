"""The dropout model: LightGBM trees, isotonic calibration, reasons from contributions.

Saved in native formats (the booster as LightGBM text, the calibration and the
feature list as JSON), never pickled, so the serving side loads exactly what
was trained without importing scikit-learn on the hot path.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from features.catalogue import BY_NAME, ROLE_FAMILIES, reason_text

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


def prepare(frame: pd.DataFrame, features: list[str]) -> pd.DataFrame:
    """The model's input frame: the feature columns, role family as a fixed category."""
    X = frame[features].copy()
    if "role_family" in X:
        X["role_family"] = pd.Categorical(
            X["role_family"].astype("string"), categories=list(ROLE_FAMILIES)
        )
    return X


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
    ) -> None:
        self.params = params
        self.num_boost_round = num_boost_round
        self.early_stopping_rounds = early_stopping_rounds
        self.folds = folds
        self.seed = seed
        self.isotonic_min_positives = isotonic_min_positives

    def fit(
        self, X: pd.DataFrame, y: np.ndarray | pd.Series, groups: np.ndarray | None = None
    ) -> DropoutClassifier:
        y = np.asarray(y, dtype=float)
        groups = np.asarray(groups if groups is not None else np.arange(len(y)))
        self.features_ = list(X.columns)
        X = prepare(X, self.features_)
        params = {**DEFAULT_PARAMS, **(self.params or {}), "seed": self.seed}
        params["monotone_constraints"] = [MONOTONE.get(f, 0) for f in self.features_]
        params.setdefault("monotone_constraints_method", "advanced")
        fold = _group_folds(groups, self.folds, self.seed)
        out_of_fold = np.zeros(len(y))
        rounds = []
        for k in range(self.folds):
            held = fold == k
            grow = lgb.Dataset(X[~held], y[~held], categorical_feature="auto")
            booster = lgb.train(
                params,
                grow,
                num_boost_round=self.num_boost_round,
                valid_sets=[lgb.Dataset(X[held], y[held], reference=grow)],
                callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False)],
            )
            out_of_fold[held] = booster.predict(X[held], num_iteration=booster.best_iteration)
            rounds.append(booster.best_iteration)
        self.rounds_ = max(1, round(float(np.mean(rounds))))
        self.booster_ = lgb.train(
            params,
            lgb.Dataset(X, y, categorical_feature="auto"),
            num_boost_round=self.rounds_,
        )
        self.calibration_ = Calibration.fit(out_of_fold, y, self.isotonic_min_positives)
        self.classes_ = np.array([0, 1])
        return self

    def raw_proba(self, X: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.booster_.predict(prepare(X, self.features_)))

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = self.calibration_(self.raw_proba(X))
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Each feature's push on the log-odds (LightGBM's own ``pred_contrib``)."""
        contrib = self.booster_.predict(prepare(X, self.features_), pred_contrib=True)
        return pd.DataFrame(np.asarray(contrib)[:, :-1], columns=self.features_, index=X.index)

    def reasons(self, X: pd.DataFrame, top: int = 3) -> list[list[dict[str, Any]]]:
        """The features that raise each row's risk most: code, value and contribution.

        Language-free, so they can be stored; ``explain`` adds the words.
        """
        contrib = self.contributions(X).to_numpy()
        order = np.argsort(-contrib, axis=1, kind="stable")[:, :top]
        picked = np.take_along_axis(contrib, order, axis=1).round(4)
        numeric = X[self.features_].drop(columns=["role_family"], errors="ignore")
        column = {name: i for i, name in enumerate(numeric.columns)}
        values = numeric.to_numpy(dtype=float)
        names = self.features_
        labels = (
            X["role_family"].astype(object).to_numpy()
            if "role_family" in X
            else np.full(len(X), None, dtype=object)
        )
        return [
            [
                {
                    "code": names[j],
                    "value": _num(values[i, column[names[j]]])
                    if names[j] in column
                    else _text(labels[i]),
                    "contribution": float(c),
                }
                for j, c in zip(order[i].tolist(), picked[i].tolist(), strict=True)
                if c > 0
            ]
            for i in range(len(contrib))
        ]

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

    @classmethod
    def load(cls, folder: Path) -> DropoutClassifier:
        meta = json.loads((folder / "model.json").read_text(encoding="utf-8"))
        known = cls().get_params()
        model = cls(**{k: v for k, v in meta["params"].items() if k in known})
        model.booster_ = lgb.Booster(model_file=str(folder / "booster.txt"))
        model.features_ = list(meta["features"])
        unknown = [f for f in model.features_ if f not in BY_NAME]
        if unknown or model.booster_.feature_name() != model.features_:
            raise ValueError(f"model features do not match the catalogue: {unknown[:5]}")
        model.calibration_ = Calibration(**meta["calibration"])
        model.classes_ = np.array([0, 1])
        return model


def explain(reasons: list[dict[str, Any]], lang: str = "zh") -> list[dict[str, Any]]:
    """Reasons with the recruiter-facing text added, in Chinese or English."""
    return [{**r, "text": reason_text(r["code"], r.get("value"), lang)} for r in reasons]


def _text(value: object) -> str | None:
    return None if value is None or pd.isna(value) else str(value)


def _num(value: object) -> float | None:
    try:
        out = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if np.isnan(out) else out

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

from training.evaluate import clustered_se, top_tie_share
from training.predictor import (
    CATEGORICAL,
    ModelRefused,
    check_features,
    encode,
    row_chunks,
    within_risk,
)

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

    ``kind`` is one of ``CALIBRATORS``: ``identity``; ``platt``
    (``sigmoid(a * logit(p) + b)``); ``beta`` (``sigmoid(a * ln p - c * ln(1 - p) + b)``,
    Kull, Silva Filho and Flach 2017); ``isotonic`` (``x``/``y`` steps). Every risk is
    kept inside ``[floor, cap]``: the bounds the held-out calibration supports (see
    ``choose_calibration``), never certainty. ``support`` records why this kind and these
    bounds were chosen (candidates counted, held-out log loss and ties of each kind tried).
    """

    kind: str = "identity"
    x: list[float] = field(default_factory=list)
    y: list[float] = field(default_factory=list)
    a: float = 1.0
    b: float = 0.0
    c: float = 0.0
    floor: float = 0.005
    cap: float = 0.995
    support: dict[str, Any] = field(default_factory=dict)

    def __call__(self, p: np.ndarray) -> np.ndarray:
        return np.clip(self.unbounded(p), self.floor, self.cap)

    def unbounded(self, p: np.ndarray) -> np.ndarray:
        """The map before ``floor`` and ``cap``; shape of ``p``."""
        p = np.asarray(p, dtype=float)
        if self.kind == "isotonic":
            return np.interp(p, self.x, self.y)
        if self.kind == "platt":
            return _sigmoid(self.a * _logit(p) + self.b)
        if self.kind == "beta":
            q = np.clip(p, 1e-6, 1 - 1e-6)
            return _sigmoid(self.a * np.log(q) - self.c * np.log1p(-q) + self.b)
        return p

    @classmethod
    def fit(cls, kind: str, raw: np.ndarray, y: np.ndarray) -> Calibration:
        """``kind`` fitted on raw probabilities ``raw`` and 0/1 outcomes ``y`` (unbounded)."""
        if kind == "isotonic":
            iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, y)
            return cls(
                "isotonic",
                [float(v) for v in iso.X_thresholds_],
                [float(v) for v in iso.y_thresholds_],
            )
        if kind == "platt":
            lr = LogisticRegression(C=1e6, solver="newton-cholesky").fit(
                _logit(raw).reshape(-1, 1), y
            )
            return cls("platt", a=float(lr.coef_[0, 0]), b=float(lr.intercept_[0]))
        if kind == "beta":
            q = np.clip(raw, 1e-6, 1 - 1e-6)
            lr = LogisticRegression(C=1e6, solver="newton-cholesky").fit(
                np.column_stack([np.log(q), -np.log1p(-q)]), y
            )
            a, c = (float(v) for v in lr.coef_[0])
            if a < 0 or c < 0:  # the map must rise with the trees' score: fall back to Platt
                return cls.fit("platt", raw, y)
            return cls("beta", a=a, b=float(lr.intercept_[0]), c=c)
        if kind == "identity":
            return cls("identity")
        raise ValueError(f"unknown calibrator {kind!r}; known: {', '.join(CALIBRATORS)}")


CALIBRATORS = ("identity", "platt", "beta", "isotonic")  # simplest first: the last tie-break


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-z)))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _wilson(rate: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``rate`` observed on ``n`` cases."""
    if n <= 0:
        return 0.0, 1.0
    centre = (rate + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(centre - half), float(centre + half)


def supported_bounds(
    q: np.ndarray, y: np.ndarray, groups: np.ndarray, min_candidates: int
) -> tuple[float, float]:
    """The lowest and highest risk that held-out outcomes support, as ``(floor, cap)``.

    ``q`` are held-out calibrated risks. The ``min_candidates`` distinct candidates
    scored highest (all their rows at or above the cut) give an observed renege rate;
    the cap is the upper end of its 95% Wilson interval, counting candidates, not
    their correlated snapshot rows, as the cases. The floor is the lower end of the
    same interval for the lowest-scored candidates. Kept within [0.5%, 99.5%].
    """

    def edge(order: np.ndarray, upper: bool) -> float:
        seen = pd.unique(groups[order])
        if len(seen) < min_candidates:
            return 0.995 if upper else 0.005
        last = seen[min_candidates - 1]
        cut = int(np.flatnonzero(groups[order] == last)[0]) + 1
        rows = order[:cut]
        low, high = _wilson(float(y[rows].mean()), min_candidates)
        return high if upper else low

    order = np.argsort(-q, kind="stable")
    cap = min(0.995, edge(order, upper=True))
    floor = max(0.005, edge(order[::-1], upper=False))
    return floor, max(cap, floor)


def choose_calibration(
    raw: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    days: np.ndarray | None = None,
    *,
    folds: int = 5,
    seed: int = 7,
    isotonic_min_candidates: int = 1000,
    cap_candidates: int = 50,
    top_share: float = 0.05,
) -> Calibration:
    """The calibrator with the best held-out log loss; ties in what is shown break ties.

    ``raw`` are out-of-fold tree probabilities (trees that never saw the candidate), ``y``
    0/1 outcomes, ``groups`` candidate ids, ``days`` each row's snapshot day. Each kind of
    ``CALIBRATORS`` is cross-fitted by candidate (``folds``) on ``raw``: its held-out log
    loss, and the largest share of a day's top ``top_share`` rows showing one value
    (``training.evaluate.top_tie_share``). Isotonic is tried only with
    ``isotonic_min_candidates`` candidates on each side (reneged, not): counted in
    candidates, since a candidate's weekly snapshots are not independent cases
    (Niculescu-Mizil and Caruana 2005 found isotonic overfits below ~1,000 cases).
    Kinds within one candidate-clustered standard error of the best log loss (the
    one-standard-error rule; at least 0.0005) count as equal; of those, the fewest
    ties, then the simplest. The chosen kind is refitted on every row and bounded by
    ``supported_bounds`` of its held-out risks.
    """
    y = np.asarray(y, dtype=float)
    groups = np.asarray(groups)
    days = np.zeros(len(y)) if days is None else np.asarray(days)
    by_candidate = pd.DataFrame({"g": groups, "y": y}).groupby("g")["y"]
    reneged, stayed = int((by_candidate.max() > 0).sum()), int((by_candidate.min() < 1).sum())
    kinds = [
        k for k in CALIBRATORS if k != "isotonic" or min(reneged, stayed) >= isotonic_min_candidates
    ]
    if min(reneged, stayed) == 0:
        kinds = ["identity"]
    fold = _group_folds(groups, folds, seed)
    held: dict[str, np.ndarray] = {}
    for kind in kinds:
        q = np.zeros(len(y))
        for k in range(folds):
            out = fold == k
            if out.any():
                fitted = (
                    Calibration.fit(kind, raw[~out], y[~out])
                    if kind != "identity"
                    else Calibration()
                )
                q[out] = fitted.unbounded(raw[out])
        held[kind] = np.clip(q, 1e-6, 1 - 1e-6)
    loss = {k: -(y * np.log(q) + (1 - y) * np.log(1 - q)) for k, q in held.items()}
    mean = {k: float(v.mean()) for k, v in loss.items()}
    best = min(kinds, key=lambda k: mean[k])
    figures: dict[str, dict[str, float]] = {}
    for kind in kinds:
        se = clustered_se(loss[kind] - loss[best], groups)
        floor, cap = supported_bounds(held[kind], y, groups, cap_candidates)
        shown = np.clip(held[kind], floor, cap)
        figures[kind] = {
            "log_loss": mean[kind],
            "gap_se": se,
            "top_tie_share": top_tie_share(shown, days, top_share),
            "floor": floor,
            "cap": cap,
        }
    equal = [k for k in kinds if mean[k] - mean[best] <= max(figures[k]["gap_se"], 0.0005)]
    chosen = min(equal, key=lambda k: (round(figures[k]["top_tie_share"], 3), kinds.index(k)))
    calibration = (
        Calibration.fit(chosen, raw, y) if chosen != "identity" else Calibration("identity")
    )
    calibration.floor = figures[chosen]["floor"]
    calibration.cap = figures[chosen]["cap"]
    calibration.support = {
        "candidates_reneged": reneged,
        "candidates_stayed": stayed,
        "isotonic_min_candidates": isotonic_min_candidates,
        "cap_candidates": cap_candidates,
        "held_out": figures,
    }
    return calibration


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
        isotonic_min_candidates: int = 1000,
        cap_candidates: int = 50,
        within_days: int = 30,
    ) -> None:
        self.params = params
        self.num_boost_round = num_boost_round
        self.early_stopping_rounds = early_stopping_rounds
        self.folds = folds
        self.seed = seed
        self.isotonic_min_candidates = isotonic_min_candidates
        self.cap_candidates = cap_candidates
        self.within_days = within_days

    def fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray | pd.Series,
        groups: np.ndarray | None = None,
        y_within: np.ndarray | pd.Series | None = None,
        days: np.ndarray | None = None,
        features: list[str] | None = None,
    ) -> DropoutClassifier:
        """Fit on rows ``X`` (``n_rows`` x features), 0/1 ``y``, candidate ``groups``.

        ``days`` (each row's snapshot day) lets the calibrator choice count ties within
        a day's list, as recruiters see it; without it, all rows are one list. With
        ``y_within`` (reneged within ``within_days`` days of the row's day: 1), a
        second model of the same kind, on the same rows and folds, gives the
        time-to-renege output (``within_``, ``predict_within_proba``). ``features``:
        the columns of ``X`` to fit on (default: all of them), so a caller need not
        copy its frame's feature columns out.

        Each fold's rows are encoded from ``X`` when its trees are grown (``encode``'s
        ``rows``), and the whole matrix only for the final trees: never a season's
        matrix and a fold's copy of it at once (issue 19: 3.2M rows x 66 features
        are 1.7 GB as float64).
        """
        self.within_: DropoutClassifier | None = None
        if y_within is not None:
            self.within_ = (
                clone(self)
                .set_params(within_days=0)
                .fit(X, y_within, groups, days=days, features=features)
            )
        y = np.asarray(y, dtype=float)
        groups = np.asarray(groups if groups is not None else np.arange(len(y)))
        self.features_ = list(X.columns) if features is None else list(features)
        categorical = [i for i, f in enumerate(self.features_) if f in CATEGORICAL]
        params = {**DEFAULT_PARAMS, **(self.params or {}), "seed": self.seed}
        params["monotone_constraints"] = [MONOTONE.get(f, 0) for f in self.features_]
        params.setdefault("monotone_constraints_method", "advanced")
        fold = _group_folds(groups, self.folds, self.seed)
        out_of_fold = np.zeros(len(y))
        rounds = []
        for k in range(self.folds):
            held = fold == k
            grow = self._dataset(encode(X, self.features_, ~held), y[~held], categorical)
            check = encode(X, self.features_, held)
            booster = lgb.train(
                params,
                grow,
                num_boost_round=self.num_boost_round,
                valid_sets=[lgb.Dataset(check, y[held], reference=grow)],
                callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False)],
            )
            del grow  # its rows, binned; the raw ones went when it was built
            out_of_fold[held] = booster.predict(check, num_iteration=booster.best_iteration)
            rounds.append(booster.best_iteration)
            del check, booster
        self.rounds_ = max(1, round(float(np.mean(rounds))))
        self.booster_ = lgb.train(
            params,
            self._dataset(encode(X, self.features_), y, categorical),
            num_boost_round=self.rounds_,
        )
        # kept for diagnostics (benchmarks/bench_risk.py): what the calibration was fitted on
        self.out_of_fold_, self.train_y_ = out_of_fold, y
        self.calibration_ = choose_calibration(
            out_of_fold,
            y,
            groups,
            days,
            folds=self.folds,
            seed=self.seed,
            isotonic_min_candidates=self.isotonic_min_candidates,
            cap_candidates=self.cap_candidates,
        )
        self.classes_ = np.array([0, 1])
        return self

    def _dataset(self, matrix: np.ndarray, y: np.ndarray, categorical: list[int]) -> lgb.Dataset:
        return lgb.Dataset(matrix, y, feature_name=self.features_, categorical_feature=categorical)

    def raw_proba(self, X: pd.DataFrame) -> np.ndarray:
        """The trees' probability before calibration; ``X`` holds ``features_`` columns.

        Encoded and predicted a part at a time (``training.predictor.row_chunks``).
        """
        parts = [
            np.asarray(self.booster_.predict(encode(X, self.features_, slice(start, stop))))
            for start, stop in row_chunks(len(X))
        ]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

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

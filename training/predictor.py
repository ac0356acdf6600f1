"""The one model front-end: encode feature rows, predict, pick reasons, put them in words.

Training (``DropoutClassifier``), the daily batch (``serving.services.daily``) and
the service (``serving.scorer``) all go through this module, so a candidate's
risk, its rank among ties and its reasons are the same wherever they are shown.

- ``encode``: feature frame -> the booster's float matrix (role family as its
  category code, in ``ROLE_FAMILIES`` order; missing as NaN).
- ``Predictor``: a fitted booster, its calibration and feature names, checked
  before it serves; ``risk``, ``explain`` (risk and reasons from one
  ``pred_contrib`` pass), ``contributions`` (both ways, for a candidate page).
- ``rank_order``: highest risk first; ties (an isotonic step) by the trees' own
  score, then by candidate id.
- ``worded``: a language-free reason with its Chinese and English words.
- ``within_risk``: the time-to-renege output (the chance of reneging within 30
  days), bounded by the eventual risk.
"""

from __future__ import annotations

import ctypes
import threading
import weakref
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from lightgbm.basic import _LIB, _c_str, _safe_call

from features.catalogue import ACTIONS, FEATURE_NAMES, ROLE_FAMILIES, reason_action, reason_text
from store.errors import KeepwarmError

if TYPE_CHECKING:
    from training.model import Calibration, DropoutClassifier

_NORMAL = 0  # C_API_PREDICT_NORMAL: the probability
_CONTRIB = 3  # C_API_PREDICT_CONTRIB
_FLOAT64 = 1  # C_API_DTYPE_FLOAT64
_ROLE_CODE = {name: float(i) for i, name in enumerate(ROLE_FAMILIES)}
CATEGORICAL = ("role_family",)


class ModelRefused(KeepwarmError):
    """A model (a registered version, a file) that keepwarm cannot feed or trust."""


def check_features(features: list[str] | tuple[str, ...], booster: lgb.Booster) -> None:
    """Refuse a model whose feature list keepwarm does not build, or that uses ``gender``.

    Raises ``ModelRefused`` naming at most five unknown features (names, never values).
    """
    unknown = [f for f in features if f not in FEATURE_NAMES]
    n = booster.num_feature()
    if unknown or n != len(features) or "gender" in features:
        raise ModelRefused(
            f"the model does not fit this keepwarm: {n} features in the trees, "
            f"{len(features)} names, unknown {unknown[:5]}"
        )


PREDICT_ROWS = 250_000  # rows encoded and predicted at a time (about 130 MB as float64)


def row_chunks(n: int, size: int = PREDICT_ROWS) -> list[tuple[int, int]]:
    """``(start, stop)`` of consecutive row ranges of at most ``size`` rows; one if ``n`` is 0.

    What a season's predictions go through (the model's and the logistic baseline's):
    each row's probability is its own, and a season's matrix (gigabytes) is never whole.
    """
    return [(start, min(start + size, n)) for start in range(0, max(n, 1), size)]


def encode(
    frame: pd.DataFrame,
    features: list[str] | tuple[str, ...],
    rows: np.ndarray | slice | None = None,
) -> np.ndarray:
    """Feature rows as an ``(n_rows, n_features)`` float64 matrix, in ``features`` order.

    ``role_family`` becomes its index in ``ROLE_FAMILIES`` (an unknown family, NaN);
    every other column is taken as a number, missing values as NaN. ``rows`` (a boolean
    mask or a slice) encodes only those rows: the same matrix as
    ``encode(frame)[rows]``, without the whole one (a training season's is gigabytes).
    """
    if isinstance(rows, slice):  # a slice of the frame is a view (copy-on-write)
        frame, rows = frame.iloc[rows], None
    n = len(frame) if rows is None else int(np.count_nonzero(rows))
    out = np.empty((n, len(features)))  # C order, as np.column_stack gave: LightGBM's layout
    for j, name in enumerate(features):
        if name in CATEGORICAL:
            col = frame[name].map(_ROLE_CODE).to_numpy(dtype=float, na_value=np.nan)
        else:
            col = frame[name].to_numpy(dtype=float, na_value=np.nan)
        out[:, j] = col if rows is None else col[rows]
    return out


def rank_order(risk: np.ndarray, raw: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Row numbers from highest to lowest risk; ties by the trees' score, then by id.

    Calibration maps ranges of the trees' score to one risk (isotonic steps); within
    a step the trees' own score still orders candidates, so it breaks the tie.
    """
    return np.lexsort((ids, -raw, -risk))


class _FastRow:
    """LightGBM's single-row fast path (``LGBM_BoosterPredictForMatSingleRowFast``).

    ``Booster.predict`` re-validates its input and builds a predictor on every call,
    which costs more than the trees for one row. The fast path prepares once per
    thread (its buffers are not shared between threads) and then only walks the trees.
    """

    def __init__(self, booster: lgb.Booster, ncol: int, predict_type: int) -> None:
        self.booster = booster
        self.ncol = ncol
        self.predict_type = predict_type
        self.width = ncol + 1 if predict_type == _CONTRIB else 1
        self._local = threading.local()
        self._handles: list[ctypes.c_void_p] = []
        self._lock = threading.Lock()
        weakref.finalize(self, _free_handles, self._handles)

    def _handle(self) -> ctypes.c_void_p:
        handle = getattr(self._local, "handle", None)
        if handle is None:
            handle = ctypes.c_void_p()
            _safe_call(
                _LIB.LGBM_BoosterPredictForMatSingleRowFastInit(
                    self.booster._handle,
                    ctypes.c_int(self.predict_type),
                    ctypes.c_int(0),
                    ctypes.c_int(-1),
                    ctypes.c_int(_FLOAT64),
                    ctypes.c_int32(self.ncol),
                    _c_str("num_threads=1"),
                    ctypes.byref(handle),
                )
            )
            self._local.handle = handle
            with self._lock:
                self._handles.append(handle)
        return handle

    def __call__(self, row: np.ndarray) -> np.ndarray:
        data = np.ascontiguousarray(row, dtype=np.float64)
        out = np.empty(self.width, dtype=np.float64)
        out_len = ctypes.c_int64(0)
        _safe_call(
            _LIB.LGBM_BoosterPredictForMatSingleRowFast(
                self._handle(),
                data.ctypes.data_as(ctypes.c_void_p),
                ctypes.byref(out_len),
                out.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
            )
        )
        return out


def _free_handles(handles: list[ctypes.c_void_p]) -> None:
    for handle in handles:
        _LIB.LGBM_FastConfigFree(handle)


def within_risk(soon: np.ndarray, risk: np.ndarray) -> np.ndarray:
    """The chance of reneging within 30 days (``soon``, from the time-to-renege model),
    held at or below the chance of reneging at all (``risk``): two separately
    calibrated models may cross, and a recruiter must never read "30% within a
    month, 20% ever". Shapes ``(n_rows,)``, probabilities in [0, 1].
    """
    return np.minimum(np.asarray(soon, dtype=float), np.asarray(risk, dtype=float))


@dataclass(frozen=True)
class Predictor:
    """A fitted model reduced to what scoring needs: booster, calibration, feature names.

    Build it with ``Predictor.of`` (which checks the model first). Runs the booster
    itself (no scikit-learn, no pandas on the hot path) on one thread per call.
    """

    version: str
    booster: lgb.Booster
    features: tuple[str, ...]
    calibration: Calibration | Shifted
    fast_risk: _FastRow
    fast_contrib: _FastRow
    # the time-to-renege model (reneges within 30 days); None for a model without one
    within: Predictor | None = None
    shift: float = 0.0  # the in-season intercept shift in force (logit; training.monitor)
    shift_check: int | None = None  # the calibration check that set it

    def with_shift(self, shift: float, check_id: int | None = None) -> Predictor:
        """This model with ``shift`` added to its calibrated log-odds (0: its own risks)."""
        base = self.own_calibration
        calibration: Calibration | Shifted = Shifted(base, shift) if shift else base
        return replace(self, calibration=calibration, shift=shift, shift_check=check_id)

    @property
    def own_calibration(self) -> Calibration:
        """The calibration the model was trained with, without any in-season shift."""
        cal = self.calibration
        return cal.base if isinstance(cal, Shifted) else cal

    @classmethod
    def of(cls, model: DropoutClassifier, version: str = "local") -> Predictor:
        """Check the model before it serves: one keepwarm cannot feed is refused.

        Raises ``ModelRefused`` for a foreign feature list, ``gender``, or a model
        that predicts non-numbers.
        """
        booster = model.booster_
        check_features(model.features_, booster)
        n = booster.num_feature()
        probe = booster.predict(np.zeros((1, n)), num_threads=1)
        if not np.isfinite(probe).all():
            raise ModelRefused(f"model version {version} predicts non-numbers")
        soon = getattr(model, "within_", None)
        within = cls.of(soon, version) if soon is not None else None
        if within is not None and within.features != tuple(model.features_):
            raise ModelRefused(f"model version {version}: its two parts read different features")
        return cls(
            str(version),
            booster,
            tuple(model.features_),
            model.calibration_,
            _FastRow(booster, n, _NORMAL),
            _FastRow(booster, n, _CONTRIB),
            within,
        )

    def matrix(self, frame: pd.DataFrame) -> np.ndarray:
        """``encode`` with this model's features."""
        return encode(frame, self.features)

    def raw(self, X: np.ndarray) -> np.ndarray:
        """The trees' own probability, before calibration; shape ``(n_rows,)``."""
        if len(X) == 1:
            return np.asarray(self.fast_risk(X[0]))
        return np.asarray(self.booster.predict(X, num_threads=1))

    def risk(self, X: np.ndarray) -> np.ndarray:
        """Calibrated probability of reneging before the start date; shape ``(n_rows,)``."""
        return np.asarray(self.calibration(self.raw(X)), dtype=float)

    def risk_30d(self, X: np.ndarray, risk: np.ndarray) -> np.ndarray | None:
        """Chance of reneging within 30 days of the row's day (``within_risk``), given the
        rows' ``risk``; shape ``(n_rows,)``. None when the model has no time-to-renege part.
        """
        if self.within is None:
            return None
        if len(X) == 0:
            return np.empty(0)
        return within_risk(self.within.risk(X), risk)

    def explain(
        self, X: np.ndarray, top: int = 3
    ) -> tuple[np.ndarray, np.ndarray, list[list[dict[str, Any]]]]:
        """Risk, raw score and reasons from one pass over the trees (TreeSHAP).

        The contributions (and the bias term) add up to the raw log-odds, so the
        probability comes from the same ``pred_contrib`` call as the reasons. A
        reason is ``{"code", "value", "contribution"}``: language-free, storable.
        The ``top`` reasons are picked from the ``REASON_POOL`` strongest pushes up,
        those a recruiter can act on first (``features.catalogue.ACTIONS``), each group
        strongest first.
        """
        if len(X) == 1:
            contrib = self.fast_contrib(X[0]).reshape(1, -1)
        elif len(X) == 0:
            return np.empty(0), np.empty(0), []
        else:
            contrib = np.asarray(self.booster.predict(X, pred_contrib=True, num_threads=1))
        raw = 1.0 / (1.0 + np.exp(-contrib.sum(axis=1)))
        risk = np.asarray(self.calibration(raw), dtype=float)
        return risk, raw, self._reasons(X, contrib, top)

    def contributions(self, x: np.ndarray, top: int = 8) -> list[dict[str, Any]]:
        """One row's strongest pushes on the risk, either way (a reason lowers it when < 0)."""
        contrib = self.fast_contrib(x).reshape(1, -1)
        return self._reasons(x.reshape(1, -1), contrib, top, both_ways=True)[0]

    def _reasons(
        self, X: np.ndarray, contrib_with_bias: np.ndarray, top: int, both_ways: bool = False
    ) -> list[list[dict[str, Any]]]:
        contrib = contrib_with_bias[:, :-1]
        key = -np.abs(contrib) if both_ways else -contrib
        pool = top if both_ways else max(top, REASON_POOL)
        order = np.argsort(key, axis=1, kind="stable")[:, :pool]
        out = []
        for i in range(len(X)):
            picked = [
                j for j in order[i] if contrib[i, j] != 0 and (both_ways or contrib[i, j] > 0)
            ]
            if not both_ways:  # stable: each group keeps its strongest-first order
                picked = sorted(picked, key=lambda j: self.features[j] not in ACTIONS)[:top]
            row = []
            for j in picked:
                name = self.features[j]
                value: float | str | None = None if np.isnan(X[i, j]) else float(X[i, j])
                if name in CATEGORICAL and value is not None:
                    value = ROLE_FAMILIES[int(value)]
                row.append(
                    {"code": name, "value": value, "contribution": round(float(contrib[i, j]), 4)}
                )
            out.append(row)
        return out


@dataclass(frozen=True)
class Shifted:
    """A calibration followed by a shift of its log-odds: an in-season intercept refit.

    ``training.monitor`` fits ``shift`` when the reneges that arrived early say the
    risks are off for a whole season; the result stays inside the range the model's
    held-out calibration supports (``Calibration.floor`` to ``Calibration.cap``).
    """

    base: Calibration
    shift: float

    def __call__(self, p: np.ndarray) -> np.ndarray:
        return shift_risk(self.base(p), self.shift, self.base.floor, self.base.cap)


def shift_risk(risk: np.ndarray, shift: float, floor: float, cap: float) -> np.ndarray:
    """Risks with their log-odds moved by ``shift``, kept inside ``[floor, cap]``.

    The one formula for an in-season intercept shift: ``Shifted`` scores with it and
    ``training.monitor`` grades with it. Shape of ``risk``.
    """
    q = np.clip(np.asarray(risk, dtype=float), 1e-6, 1 - 1e-6)
    z = np.log(q / (1 - q)) + shift
    return np.asarray(np.clip(1 / (1 + np.exp(-z)), floor, cap), dtype=float)


REASON_POOL = 8  # the strongest pushes up among which a day's shown reasons are picked
SHOWN_ABOVE = 90  # per cent: above it, a whole percentage would claim precision nobody has
SHOWN_BELOW = 1


def shown_percent(risk: np.ndarray) -> np.ndarray:
    """Risks as the whole percentages shown, ``SHOWN_ABOVE + 1`` for any risk above 90%.

    Rounded half up from the four decimals the API gives (0.125 -> 13, 0.61496 -> 0.615
    -> 62), so the API's risk and its shown percentage agree; below 1% -> 0. Shape of
    ``risk``, integers.
    """
    basis_points = np.rint(np.asarray(risk, dtype=float) * 10_000).astype(int)
    pct = (basis_points + 50) // 100
    pct = np.where(basis_points > SHOWN_ABOVE * 100, SHOWN_ABOVE + 1, pct)
    return np.where(pct < SHOWN_BELOW, 0, pct)


def shown_risk(risk: float) -> str:
    """A calibrated risk as a recruiter reads it: "37%", "> 90%" or "< 1%".

    ``shown_percent`` for one risk, in plain Python: a 1,000-candidate score request
    words every item, and a one-element array per item was most of its time. Python's
    ``round`` rounds half to even, as ``np.rint`` does.
    """
    basis_points = round(float(risk) * 10_000)
    pct = SHOWN_ABOVE + 1 if basis_points > SHOWN_ABOVE * 100 else (basis_points + 50) // 100
    if pct > SHOWN_ABOVE:
        return f"> {SHOWN_ABOVE}%"
    if pct < SHOWN_BELOW:
        return f"< {SHOWN_BELOW}%"
    return f"{pct}%"


def worded(reason: dict[str, Any]) -> dict[str, Any]:
    """A reason as people read it: code, Chinese and English words, what a recruiter can
    do about it (None for a fact), value, contribution."""
    code, value = reason["code"], reason.get("value")
    return {
        "code": code,
        "text_zh": reason_text(code, value, "zh"),
        "text_en": reason_text(code, value, "en"),
        "action_zh": reason_action(code, "zh"),
        "action_en": reason_action(code, "en"),
        "value": value,
        "contribution": reason["contribution"],
    }

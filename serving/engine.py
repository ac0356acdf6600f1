"""The scorer behind the API: the champion's booster, features cached per day, reasons.

Features "as of day D" come from the same builder as training and daily scoring
(``features.build``). Building them for everyone active on D takes seconds, so
the service keeps one day's feature rows in memory and rebuilds only the
candidates whose data changed (events, profile or outcome posted since). Each
score request then runs the LightGBM booster itself (no scikit-learn wrapper,
no pandas) on those rows: risk, calibrated, and reasons from ``pred_contrib``.

Everything a request reads is an immutable snapshot; a refresh or a model
reload builds a new one and swaps the reference, so no request ever sees half
of either.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from lightgbm.basic import _LIB, _c_str, _safe_call
from sqlalchemy import Engine, func, select

from features.build import build_features
from features.catalogue import FEATURE_NAMES, ROLE_FAMILIES, reason_text
from features.source import load_candidates, load_content, load_events, load_outcomes
from store.bundle import KeepwarmError
from store.schema import IngestBatch
from training.baselines import rule_flags
from training.config import RuleThresholds
from training.model import Calibration, DropoutClassifier
from training.snapshots import active_on, scored_population

_NORMAL = 0  # C_API_PREDICT_NORMAL: the probability
_CONTRIB = 3  # C_API_PREDICT_CONTRIB
_FLOAT64 = 1  # C_API_DTYPE_FLOAT64
FLAGS = ("no_reply", "approval_slow", "competing_offer", "extension_requested")
_ROLE_CODE = {name: float(i) for i, name in enumerate(ROLE_FAMILIES)}


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


class ModelRefused(KeepwarmError):
    """A registered model version that cannot serve (its file or its feature list)."""


@dataclass(frozen=True)
class LoadedModel:
    """A registered model version reduced to what scoring needs: booster, calibration, names."""

    version: str
    booster: lgb.Booster
    features: tuple[str, ...]
    calibration: Calibration

    fast_risk: _FastRow
    fast_contrib: _FastRow

    @classmethod
    def of(cls, model: DropoutClassifier, version: str) -> LoadedModel:
        """Check the version before it serves: a model keepwarm cannot feed is refused."""
        booster = model.booster_
        n = booster.num_feature()
        unknown = [f for f in model.features_ if f not in FEATURE_NAMES]
        if unknown or n != len(model.features_) or "gender" in model.features_:
            raise ModelRefused(
                f"model version {version} does not fit this keepwarm: "
                f"{n} features in the trees, {len(model.features_)} names, unknown {unknown[:5]}"
            )
        probe = booster.predict(np.zeros((1, n)), num_threads=1)
        if not np.isfinite(probe).all():
            raise ModelRefused(f"model version {version} predicts non-numbers")
        return cls(
            str(version),
            booster,
            tuple(model.features_),
            model.calibration_,
            _FastRow(booster, n, _NORMAL),
            _FastRow(booster, n, _CONTRIB),
        )

    def matrix(self, frame: pd.DataFrame) -> np.ndarray:
        """Feature rows as the booster's float matrix (role family as its category code)."""
        cols = []
        for name in self.features:
            if name == "role_family":
                cols.append(frame[name].map(_ROLE_CODE).to_numpy(dtype=float, na_value=np.nan))
            else:
                cols.append(frame[name].to_numpy(dtype=float, na_value=np.nan))
        return np.column_stack(cols) if cols else np.empty((len(frame), 0))

    def raw(self, X: np.ndarray) -> np.ndarray:
        """The trees' own probability, before calibration."""
        if len(X) == 1:
            return np.asarray(self.fast_risk(X[0]))
        return np.asarray(self.booster.predict(X, num_threads=1))

    def risk(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.calibration(self.raw(X)), dtype=float)

    def explain(self, X: np.ndarray, top: int = 3) -> tuple[np.ndarray, list[list[dict[str, Any]]]]:
        """Risk and reasons from one pass over the trees.

        The contributions (and the bias term) add up to the raw log-odds, so the
        probability comes from the same ``pred_contrib`` call as the reasons.
        """
        if len(X) == 1:
            contrib = self.fast_contrib(X[0]).reshape(1, -1)
        else:
            contrib = np.asarray(self.booster.predict(X, pred_contrib=True, num_threads=1))
        raw = 1.0 / (1.0 + np.exp(-contrib.sum(axis=1)))
        return np.asarray(self.calibration(raw), dtype=float), self._reasons(X, contrib, top)

    def contributions(self, x: np.ndarray, top: int = 8) -> list[dict[str, Any]]:
        """One row's strongest pushes on the risk, either way (a reason lowers it when < 0)."""
        contrib = self.fast_contrib(x).reshape(1, -1)
        return self._reasons(x.reshape(1, -1), contrib, top, both_ways=True)[0]

    def _reasons(
        self, X: np.ndarray, contrib_with_bias: np.ndarray, top: int, both_ways: bool = False
    ) -> list[list[dict[str, Any]]]:
        contrib = contrib_with_bias[:, :-1]
        key = -np.abs(contrib) if both_ways else -contrib
        order = np.argsort(key, axis=1, kind="stable")[:, :top]
        out = []
        for i in range(len(X)):
            row = []
            for j in order[i]:
                c = float(contrib[i, j])
                if c == 0 or (c < 0 and not both_ways):
                    break
                name = self.features[j]
                value: float | str | None = None if np.isnan(X[i, j]) else float(X[i, j])
                if name == "role_family" and value is not None:
                    value = ROLE_FAMILIES[int(value)]
                row.append({"code": name, "value": value, "contribution": round(c, 4)})
            out.append(row)
        return out


@dataclass(frozen=True)
class DayFeatures:
    """Everyone active at the end of ``as_of``: feature rows and what lists show beside them."""

    as_of: dt.date
    frame: pd.DataFrame  # candidate_id, as_of, FEATURE_NAMES
    meta: pd.DataFrame  # hr_owner, department, start_date, days_to_start, flags; by candidate_id

    @property
    def ids(self) -> pd.Index:
        return self.meta.index


@dataclass(frozen=True)
class DayScores:
    """One day's features scored by one model version: the basis of ranks and lists."""

    day: DayFeatures
    model: LoadedModel
    X: np.ndarray
    risk: np.ndarray
    raw: np.ndarray  # before calibration: breaks ties within an isotonic step
    row: dict[str, int]
    sorted_risk: np.ndarray
    ids: np.ndarray  # candidate ids by row, as plain Python strings
    owners: np.ndarray  # hr_owner by row
    # Reasons by row, computed on first request: TreeSHAP costs far more than the risk,
    # and a row's reasons change only when the row does (which makes a new DayScores).
    memo: dict[int, list[dict[str, Any]]] = field(default_factory=dict)

    @classmethod
    def of(cls, day: DayFeatures, model: LoadedModel) -> DayScores:
        X = model.matrix(day.frame)
        raw = model.raw(X) if len(X) else np.empty(0)
        risk = np.asarray(model.calibration(raw), dtype=float) if len(X) else np.empty(0)
        ids = np.array(day.frame["candidate_id"].tolist(), dtype=object)
        owners = np.array(day.meta["hr_owner"].tolist(), dtype=object)
        row = {cid: i for i, cid in enumerate(ids)}
        return cls(day, model, X, risk, raw, row, np.sort(risk), ids, owners)

    def scored(self, rows: list[int]) -> tuple[np.ndarray, list[list[dict[str, Any]]]]:
        """Risk (from the booster, now) and worded reasons (worked out once per row)."""
        X = self.X[rows]
        missing = [i for i in dict.fromkeys(rows) if i not in self.memo]
        if len(missing) == len(rows):
            risk, reasons = self.model.explain(X)
            worded = [[with_texts(r) for r in rs] for rs in reasons]
            self.memo.update(zip(rows, worded, strict=True))
            return risk, worded
        if missing:
            _, fresh = self.model.explain(self.X[missing])
            self.memo.update(
                (i, [with_texts(r) for r in rs]) for i, rs in zip(missing, fresh, strict=True)
            )
        return self.model.risk(X), [self.memo[i] for i in rows]

    def rank_percentiles(self, risk: np.ndarray) -> list[float]:
        """Share of the day's active candidates at or below each risk (0..100)."""
        n = len(self.sorted_risk)
        if n == 0:
            return [100.0] * len(risk)
        at = np.searchsorted(self.sorted_risk, risk, side="right")
        return list(np.round(100.0 * at / n, 1).tolist())

    def ordered(self) -> np.ndarray:
        """Row numbers from highest to lowest risk; ties by the trees' score, then id."""
        return np.lexsort((self.ids, -self.raw, -self.risk))


def with_texts(reason: dict[str, Any]) -> dict[str, Any]:
    """A reason as the API shows it: code, both languages' words, value, contribution."""
    code, value = reason["code"], reason.get("value")
    return {
        "code": code,
        "text_zh": reason_text(code, value, "zh"),
        "text_en": reason_text(code, value, "en"),
        "value": value,
        "contribution": reason["contribution"],
    }


def build_day(
    engine: Engine,
    as_of: dt.date,
    rules: RuleThresholds,
    candidate_ids: list[str] | None = None,
) -> DayFeatures:
    """Features for everyone (or the given candidates) active at the end of ``as_of``."""
    events = load_events(engine, until=as_of, candidate_ids=candidate_ids)
    outcomes = load_outcomes(engine, candidate_ids=candidate_ids)
    known = outcomes[outcomes["outcome_date"] <= as_of]
    active = active_on(scored_population(events, known), as_of)
    ids = active["candidate_id"].astype(str).tolist()
    spine = pd.DataFrame({"candidate_id": ids, "as_of": [as_of] * len(ids)})
    candidates = load_candidates(engine, candidate_ids=ids if candidate_ids is not None else None)
    frame = build_features(events, candidates, spine, load_content(engine))
    profile = candidates.set_index("candidate_id").reindex(ids)
    start = pd.to_datetime(profile["start_date"])
    meta = pd.DataFrame(
        {
            "hr_owner": profile["hr_owner"].to_numpy(dtype=object),
            "department": profile["department"].to_numpy(dtype=object),
            "role_family": profile["role_family"].to_numpy(dtype=object),
            "start_date": start.dt.date.to_numpy(dtype=object),
            "days_to_start": (start - pd.Timestamp(as_of)).dt.days.to_numpy(dtype=float),
        },
        index=pd.Index(ids, name="candidate_id"),
    )
    flags = rule_flags(frame, rules)
    for name in FLAGS:
        meta[name] = flags[name].to_numpy(dtype=bool)
    return DayFeatures(as_of, frame, meta)


def merge_days(old: DayFeatures, fresh: DayFeatures, refreshed: list[str]) -> DayFeatures:
    """``old`` with the ``refreshed`` candidates replaced by their rows in ``fresh``.

    A refreshed candidate absent from ``fresh`` is no longer active (an outcome arrived).
    """
    keep = ~old.frame["candidate_id"].isin(refreshed).to_numpy()
    frame = pd.concat([old.frame[keep], fresh.frame], ignore_index=True)
    meta = pd.concat([old.meta[keep], fresh.meta])
    return DayFeatures(old.as_of, frame[["candidate_id", "as_of", *FEATURE_NAMES]], meta)


class Scorer:
    """The loaded model and a few days of scores, refreshed as data arrives.

    ``dirty`` collects candidates whose data changed since their rows were built;
    the next read of a day rebuilds just those rows.
    """

    def __init__(self, engine: Engine, rules: RuleThresholds, keep_days: int = 4) -> None:
        self.engine = engine
        self.rules = rules
        self.keep_days = keep_days
        self.model: LoadedModel | None = None
        self._days: OrderedDict[dt.date, DayScores] = OrderedDict()
        self._dirty: dict[dt.date, set[str]] = {}
        self._lock = threading.RLock()
        self._own: set[int] = set()
        self._seen_batch = self._last_batch()

    # --- writes made elsewhere ----------------------------------------------------------
    def _last_batch(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.max(IngestBatch.batch_id))).scalar() or 0)

    def wrote(self, batch_id: int, candidate_ids: set[str]) -> None:
        """This process wrote a batch: refresh its candidates now, skip it in ``sync``."""
        with self._lock:
            self._own.add(batch_id)
        self.touch(candidate_ids)

    def sync(self) -> int:
        """Catch up with batches written by other processes (workers, ``keepwarm ingest``).

        A small write names its candidates, which get refreshed; a bundle does not, and
        every cached day is dropped to be rebuilt on its next read. Returns batches seen.
        """
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(IngestBatch.batch_id, IngestBatch.touched)
                .where(IngestBatch.batch_id > self._seen_batch)
                .order_by(IngestBatch.batch_id)
            ).all()
        with self._lock:
            for batch_id, touched in rows:
                if batch_id in self._own:
                    self._own.discard(batch_id)
                elif touched is None:
                    self.reset()
                else:
                    self.touch(set(touched))
                self._seen_batch = max(self._seen_batch, int(batch_id))
        return len(rows)

    # --- the model ------------------------------------------------------------------
    def set_model(self, model: LoadedModel) -> None:
        """Swap in a model: cached days are rescored with it first, then both swap at once."""
        with self._lock:
            rescored = OrderedDict((d, DayScores.of(s.day, model)) for d, s in self._days.items())
            self._days, self.model = rescored, model

    # --- data changes -----------------------------------------------------------------
    def reset(self) -> None:
        """Drop every cached day (after an erasure: nothing of the person may linger)."""
        with self._lock:
            self._days.clear()
            self._dirty.clear()

    def touch(self, candidate_ids: set[str]) -> None:
        """Mark candidates whose events, profile or outcome changed."""
        if not candidate_ids:
            return
        with self._lock:
            for day in self._days:
                self._dirty.setdefault(day, set()).update(candidate_ids)

    # --- reading ----------------------------------------------------------------------
    def day(self, as_of: dt.date, ids: list[str] | None = None) -> DayScores:
        """The scores of ``as_of``, built on first use; rows of changed candidates rebuilt.

        With ``ids``, only those of the changed candidates are rebuilt (a score request);
        without, all of them (a list).
        """
        model = self.model
        if model is None:
            raise RuntimeError("no model loaded")
        current = self._days.get(as_of)
        if current is not None and current.model is model:
            pending = self._dirty.get(as_of)
            if not pending or (ids is not None and pending.isdisjoint(ids)):
                return current
        with self._lock:
            current = self._days.get(as_of)
            model = self.model
            assert model is not None
            if current is None or current.model is not model:
                day = (
                    current.day
                    if current is not None
                    else build_day(self.engine, as_of, self.rules)
                )
                scores = DayScores.of(day, model)
            else:
                pending = self._dirty.get(as_of, set())
                todo = sorted(pending if ids is None else pending.intersection(ids))
                if not todo:
                    return current
                fresh = build_day(self.engine, as_of, self.rules, candidate_ids=todo)
                scores = DayScores.of(merge_days(current.day, fresh, todo), model)
                pending.difference_update(todo)
            self._days[as_of] = scores
            self._days.move_to_end(as_of)
            self._dirty.setdefault(as_of, set())
            while len(self._days) > self.keep_days:
                old, _ = self._days.popitem(last=False)
                self._dirty.pop(old, None)
            return scores

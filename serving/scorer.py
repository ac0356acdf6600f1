"""The service's scorer: the champion's predictor, feature rows cached per day, reasons.

Features "as of day D" come from the same loader and builder as training and
the daily batch (``features.population.load_day``, ``features.build``).
Building them for everyone active on D takes seconds, so the scorer keeps a few
days' rows in memory and rebuilds only the candidates whose data changed
(events, profile or outcome written since). Each score request then runs the
booster itself (``training.predictor``) on those rows.

Everything a request reads is an immutable snapshot; a refresh or a model
reload builds a new one and swaps the reference, so no request ever sees half
of either. Each day has its own lock: a cold day being built never holds up a
request for a day already built, and cold builds run one at a time, so a caller
cycling through uncached days costs one core, not the machine.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, func, select

from features.build import build_features
from features.catalogue import FEATURE_NAMES
from features.population import load_day
from store.schema import IngestBatch
from training.baselines import rule_flags
from training.config import RuleThresholds
from training.predictor import Predictor, rank_order, worded

FLAGS = ("no_reply", "approval_slow", "competing_offer", "extension_requested")


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
    model: Predictor
    X: np.ndarray
    risk: np.ndarray
    raw: np.ndarray  # before calibration: breaks ties within an isotonic step
    row: dict[str, int]
    sorted_risk: np.ndarray
    ids: np.ndarray  # candidate ids by row, as plain Python strings
    owners: np.ndarray  # hr_owner by row
    # chance of reneging within 30 days by row (``Predictor.risk_30d``); None if the model
    # has no time-to-renege part
    risk_30d: np.ndarray | None
    # Reasons by row, computed on first request: TreeSHAP costs far more than the risk,
    # and a row's reasons change only when the row does (which makes a new DayScores).
    memo: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    _places: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)

    @classmethod
    def of(cls, day: DayFeatures, model: Predictor) -> DayScores:
        X = model.matrix(day.frame)
        raw = model.raw(X) if len(X) else np.empty(0)
        risk = np.asarray(model.calibration(raw), dtype=float) if len(X) else np.empty(0)
        ids = np.array(day.frame["candidate_id"].tolist(), dtype=object)
        owners = np.array(day.meta["hr_owner"].tolist(), dtype=object)
        row = {cid: i for i, cid in enumerate(ids)}
        soon = model.risk_30d(X, risk)
        return cls(day, model, X, risk, raw, row, np.sort(risk), ids, owners, soon)

    def scored(self, rows: list[int]) -> tuple[np.ndarray, list[list[dict[str, Any]]]]:
        """Risk (from the booster, now) and worded reasons (worked out once per row)."""
        X = self.X[rows]
        missing = [i for i in dict.fromkeys(rows) if i not in self.memo]
        if len(missing) == len(rows):
            risk, _, reasons = self.model.explain(X)
            words = [[worded(r) for r in rs] for rs in reasons]
            self.memo.update(zip(rows, words, strict=True))
            return risk, words
        if missing:
            _, _, fresh = self.model.explain(self.X[missing])
            self.memo.update(
                (i, [worded(r) for r in rs]) for i, rs in zip(missing, fresh, strict=True)
            )
        return self.model.risk(X), [self.memo[i] for i in rows]

    def rank_percentiles(self, risk: np.ndarray) -> list[float]:
        """Share of the day's active candidates at or below each risk (0..100)."""
        n = len(self.sorted_risk)
        if n == 0:
            return [100.0] * len(risk)
        at = np.searchsorted(self.sorted_risk, risk, side="right")
        return list(np.round(100.0 * at / n, 1).tolist())

    def owner_places(self) -> tuple[np.ndarray, np.ndarray]:
        """By row: the place among the same recruiter's candidates that day (1 = highest
        risk, in ``ordered`` order) and how many candidates that recruiter has that day."""
        if not self._places:
            order = self.ordered()
            owners = pd.Series(self.owners[order]).fillna("")
            place = np.empty(len(order), dtype=int)
            place[order] = owners.groupby(owners).cumcount().to_numpy() + 1
            total = np.empty(len(order), dtype=int)
            total[order] = owners.map(owners.value_counts()).to_numpy(dtype=int)
            self._places.append((place, total))
        return self._places[0]

    def ordered(self) -> np.ndarray:
        """Row numbers from highest to lowest risk (``training.predictor.rank_order``)."""
        return rank_order(self.risk, self.raw, self.ids)


def build_day(
    engine: Engine,
    as_of: dt.date,
    rules: RuleThresholds,
    candidate_ids: list[str] | None = None,
) -> DayFeatures:
    """Features for everyone (or the given candidates) active at the end of ``as_of``."""
    inputs = load_day(engine, as_of, candidate_ids)
    frame = build_features(inputs.events, inputs.candidates, inputs.spine, inputs.content)
    ids = inputs.spine["candidate_id"].tolist()
    profile = inputs.candidates.set_index("candidate_id").reindex(ids)
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

    ``_dirty`` collects candidates whose data changed since their rows were built;
    the next read of a day rebuilds just those rows (a list: all of them; a score
    request: those it asks for).
    """

    def __init__(self, engine: Engine, rules: RuleThresholds, keep_days: int = 4) -> None:
        self.engine = engine
        self.rules = rules
        self.keep_days = keep_days
        self.model: Predictor | None = None
        self._days: OrderedDict[dt.date, DayScores] = OrderedDict()
        self._dirty: dict[dt.date, set[str]] = {}
        self._lock = threading.Lock()  # the maps above; held for microseconds
        self._day_locks: dict[dt.date, threading.Lock] = {}
        self._cold = threading.Lock()  # one cold day built at a time
        self._building: set[dt.date] = set()
        self._generation = 0  # bumped by reset: a build begun before it is not kept
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
        for batch_id, touched in rows:
            with self._lock:
                own = batch_id in self._own
                self._own.discard(batch_id)
                self._seen_batch = max(self._seen_batch, int(batch_id))
            if own:
                continue
            if touched is None:
                self.reset()
            else:
                self.touch(set(touched))
        return len(rows)

    # --- the model ------------------------------------------------------------------
    def set_model(self, model: Predictor) -> None:
        """Swap in a model: cached days are rescored with it first, then both swap at once."""
        with self._lock:
            days = list(self._days.items())
        rescored = OrderedDict((d, DayScores.of(s.day, model)) for d, s in days)
        with self._lock:
            for d, s in rescored.items():
                if d in self._days and self._days[d].day is s.day:
                    self._days[d] = s
            self.model = model

    # --- data changes -----------------------------------------------------------------
    def reset(self) -> None:
        """Drop every cached day (after an erasure: nothing of the person may linger)."""
        with self._lock:
            self._days.clear()
            self._dirty.clear()
            self._generation += 1

    def touch(self, candidate_ids: set[str]) -> None:
        """Mark candidates whose events, profile or outcome changed."""
        if not candidate_ids:
            return
        with self._lock:
            for day in [*self._days, *self._building]:
                self._dirty.setdefault(day, set()).update(candidate_ids)

    def cached_days(self) -> list[dt.date]:
        with self._lock:
            return list(self._days)

    # --- reading ----------------------------------------------------------------------
    def _fresh(self, as_of: dt.date, ids: list[str] | None) -> DayScores | None:
        """The cached scores of ``as_of`` if nothing the caller reads has changed since."""
        with self._lock:
            current = self._days.get(as_of)
            if current is None or current.model is not self.model:
                return None
            pending = self._dirty.get(as_of)
            if not pending or (ids is not None and pending.isdisjoint(ids)):
                return current
        return None

    def cached(self, as_of: dt.date, ids: list[str] | None = None) -> DayScores | None:
        """The scores of ``as_of`` if built and current for ``ids``; never builds (cheap)."""
        return self._fresh(as_of, ids) if self.model is not None else None

    def day(self, as_of: dt.date, ids: list[str] | None = None) -> DayScores:
        """The scores of ``as_of``, built on first use; rows of changed candidates rebuilt.

        With ``ids``, only those of the changed candidates are rebuilt (a score request);
        without, all of them (a list, an export). Raises ``RuntimeError`` without a model.
        """
        if self.model is None:
            raise RuntimeError("no model loaded")
        hit = self._fresh(as_of, ids)
        if hit is not None:
            return hit
        with self._lock:
            lock = self._day_locks.setdefault(as_of, threading.Lock())
        with lock:
            hit = self._fresh(as_of, ids)
            if hit is not None:
                return hit
            with self._lock:
                current = self._days.get(as_of)
                model = self.model
                pending = self._dirty.setdefault(as_of, set())
                # taken off before reading the store: a write made during the build marks
                # the candidate again, so it is never lost
                todo = sorted(pending if ids is None else pending.intersection(ids))
                pending.difference_update(todo)
                if current is None:
                    pending.clear()
                self._building.add(as_of)
                generation = self._generation
            assert model is not None
            try:
                if current is None:
                    with self._cold:
                        day = build_day(self.engine, as_of, self.rules)
                else:
                    day = current.day
                    if todo:
                        fresh = build_day(self.engine, as_of, self.rules, candidate_ids=todo)
                        day = merge_days(day, fresh, todo)
                scores = DayScores.of(day, model)
            except BaseException:
                with self._lock:
                    self._dirty.setdefault(as_of, set()).update(todo)
                raise
            finally:
                with self._lock:
                    self._building.discard(as_of)
            with self._lock:
                if self.model is not model:  # swapped while building: score with the new one
                    scores = DayScores.of(day, self.model)
                stale = generation != self._generation
                if not stale:
                    self._days[as_of] = scores
                    self._days.move_to_end(as_of)
                while len(self._days) > self.keep_days:
                    old, _ = self._days.popitem(last=False)
                    self._dirty.pop(old, None)
                    self._day_locks.pop(old, None)
        # an erasure came in during the build: nothing read before it may be served
        return self.day(as_of, ids) if stale else scores

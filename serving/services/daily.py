"""The daily batch: everyone active at the end of a day, scored, ranked and stored.

"As of day D" uses only what was known at the end of D (``features.population.
load_day``), the same builder as training makes the rows, and the same front-end
as the service scores them (``training.predictor``), so the daily list and the
API agree on every risk, rank and reason.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, Select, func, select

from features.build import build_features
from features.incremental import FeatureState
from features.population import active_ids, load_day, read_ids
from features.source import PLAUSIBLE, load_candidates, load_content, load_events
from outreach.daily import day_alerts, plan_day, store_alerts
from store import audit
from store.db import chunks, upsert
from store.schema import Event, Score
from training.monitor import check_calibration, in_force, store_check
from training.predictor import Predictor, rank_order

COLUMNS = [
    "candidate_id",
    "as_of",
    "risk",
    "risk_30d",
    "rank",
    "hr_owner",
    "reasons",
    "reasons_detail",
]


def rank_scores(
    model: Predictor,
    features: pd.DataFrame,
    candidates: pd.DataFrame,
    top: int = 3,
) -> pd.DataFrame:
    """Risk, rank and reasons for feature rows of one day, highest risk first.

    Columns ``COLUMNS``: ``risk_30d`` the chance of reneging within 30 days (NaN for a
    model without a time-to-renege part), ``reasons`` the codes joined by ``;``,
    ``reasons_detail`` the language-free reasons (code, value, contribution) as stored.
    """
    if features.empty:
        return pd.DataFrame(columns=COLUMNS)
    X = model.matrix(features)
    # the trees' score as the service computes it (``DayScores``): ties break alike
    raw = model.raw(X)
    risk = np.asarray(model.calibration(raw), dtype=float)
    soon = model.risk_30d(X, risk)
    _, _, detail = model.explain(X, top=top)
    owners = candidates.set_index("candidate_id")["hr_owner"]
    ids = features["candidate_id"].to_numpy()
    out = pd.DataFrame(
        {
            "candidate_id": ids,
            "as_of": features["as_of"].to_numpy(),
            "risk": risk.round(4),
            "risk_30d": np.full(len(risk), np.nan) if soon is None else soon.round(4),
            "hr_owner": features["candidate_id"].map(owners).to_numpy(),
            "reasons": [";".join(r["code"] for r in rs) for rs in detail],
            "reasons_detail": detail,
        }
    )
    out = out.iloc[rank_order(risk, raw, ids.astype(str))]
    out["rank"] = range(1, len(out) + 1)
    return out[COLUMNS].reset_index(drop=True)


def score_day(engine: Engine, model: Predictor, as_of: dt.date, top: int = 3) -> pd.DataFrame:
    """Score everyone active at the end of ``as_of`` with what was known then."""
    inputs = load_day(engine, as_of)
    features = build_features(inputs.events, inputs.candidates, inputs.spine, inputs.content)
    return rank_scores(model, features, inputs.candidates, top)


def store_scores(engine: Engine, scores: pd.DataFrame, model_version: str) -> int:
    """Write a day's scores into the score history (one row per candidate, day, version)."""
    if scores.empty:
        return 0
    rows = [
        {
            "candidate_id": r.candidate_id,
            "as_of": r.as_of,
            "model_version": model_version,
            "risk": float(r.risk),
            "rank": int(r.rank),
            "reasons": r.reasons_detail,
        }
        for r in scores.itertuples(index=False)
    ]
    with engine.begin() as conn:
        upsert(conn, Score.__table__, rows, ["candidate_id", "as_of", "model_version"])  # type: ignore[arg-type]
    return len(rows)


@dataclass
class DayRun:
    """What one day's run did: counts only (no candidate data), as the API answers them."""

    as_of: dt.date
    model_version: str
    scored: int  # active candidates scored and stored
    rebuilt: int  # candidates whose running feature totals were rebuilt (new events)
    alerts: int  # alerts known that day (stored or updated)
    open_alerts: int
    actions: int  # planned and automatic actions stored for the day
    scores: pd.DataFrame = field(repr=False)
    features: pd.DataFrame = field(repr=False)

    def counts(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "model_version": self.model_version,
            "scored": self.scored,
            "rebuilt": self.rebuilt,
            "alerts": self.alerts,
            "open_alerts": self.open_alerts,
            "actions": self.actions,
        }


def _event_counts(engine: Engine, as_of: dt.date, active: Select[Any]) -> dict[str, int]:
    """Events known by the end of ``as_of`` per active candidate (what ``load_events``
    would read for them)."""
    query = (
        select(Event.candidate_id, func.count())
        .where(PLAUSIBLE, Event.local_day <= as_of, Event.candidate_id.in_(active))
        .group_by(Event.candidate_id)
    )
    with engine.connect() as conn:
        return {str(c): int(n) for c, n in conn.execute(query)}


def day_features(
    engine: Engine, as_of: dt.date, state: FeatureState | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """The day's feature rows of everyone active at the end of ``as_of``, and their candidates.

    With ``state`` (kept between days), only candidates whose events changed since the
    state last saw them are read and rebuilt; without, everything is (``load_day``). The
    rows are equal either way (``tests/features/test_incremental.py``). Either way only
    the active candidates are read (``active_ids``), and the state drops the rows of
    those no longer active. Returns ``(features, candidates, rebuilt)``.
    """
    if state is None:
        inputs = load_day(engine, as_of)
        feats = build_features(inputs.events, inputs.candidates, inputs.spine, inputs.content)
        return feats, inputs.candidates, int(inputs.events["candidate_id"].nunique())
    active = active_ids(as_of)
    counts = _event_counts(engine, as_of, active)
    # a candidate no longer active is stale too: with no events read it loses its rows
    stale = state.stale(counts)
    fresh = [c for c in stale if c in counts]
    events = pd.concat(
        [load_events(engine, until=as_of, candidate_ids=list(part)) for part in chunks(fresh)]
        or [load_events(engine, until=as_of, candidate_ids=[])],
        ignore_index=True,
    )
    content = load_content(engine)
    state.update(events, content, candidate_ids=stale)
    ids = read_ids(engine, active)
    spine = pd.DataFrame({"candidate_id": ids, "as_of": [as_of] * len(ids)})
    # the profiles as known at the end of the day (issue 16: profile history)
    candidates = load_candidates(engine, candidate_ids=active, as_of=as_of)
    candidates = candidates[candidates["candidate_id"].isin(set(ids))].reset_index(drop=True)
    return state.features(spine, candidates), candidates, len(fresh)


def run_day(
    engine: Engine,
    model: Predictor,
    as_of: dt.date,
    state: FeatureState | None = None,
    actor: audit.Actor | None = None,
) -> DayRun:
    """The day's run: check the calibration, score everyone active, store the scores,
    the alerts and the plans.

    One function for the Prefect daily flow, ``keepwarm score`` and
    ``POST /v1/runs/daily``. First the in-season calibration check of ``model``
    (``training.monitor``), stored with the intercept shift it leaves in force, which
    the day's scores then use. Rerunning a day replaces what it stored (scores by
    ``(candidate, day, version)``, alerts by id, the day's planned actions; done ones
    stay), so it is idempotent. The run is recorded in the audit log with counts only.
    """
    who = actor or audit.Actor.flow("daily-scoring")
    store_check(engine, check_calibration(engine, model, as_of), str(model.version), who.name)
    model = in_force(engine, model)
    feats, candidates, rebuilt = day_features(engine, as_of, state)
    scores = rank_scores(model, feats, candidates)
    version = str(model.version)
    store_scores(engine, scores, version)
    audit.record(
        engine,
        who,
        "score",
        "daily-scoring",
        detail={"as_of": as_of.isoformat(), "candidates": len(scores), "model_version": version},
    )
    active = scores["candidate_id"].astype(str).tolist()
    alerts = day_alerts(engine, as_of, active)
    store_alerts(engine, alerts, as_of)
    actions = plan_day(engine, as_of, scores, feats, alerts)
    open_alerts = int(alerts["resolved_at"].isna().sum()) if len(alerts) else 0
    return DayRun(
        as_of, version, len(scores), rebuilt, len(alerts), open_alerts, actions, scores, feats
    )

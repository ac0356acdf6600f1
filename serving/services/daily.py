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
from sqlalchemy import Engine, Select, case, func, select

from features.build import build_features
from features.incremental import FeatureState
from features.population import active_ids, load_day, read_ids
from features.source import PLAUSIBLE, load_candidates, load_content
from outreach.alerts import EPISODE_TYPES, AlertRules, AlertState
from outreach.daily import (
    RECENT_DAYS,
    alert_events,
    day_alerts,
    plan_day,
    risk_history,
    store_alerts,
)
from outreach.plan import PlanConfig
from store import audit
from store.db import upsert
from store.schema import Event, Score
from training.monitor import CohortCache, check_calibration, in_force, store_check
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


def _event_counts(
    engine: Engine, as_of: dt.date, active: Select[Any], before: dt.date | None = None
) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """Events known by the end of ``as_of`` per active candidate (what ``load_events``
    would read for them); of those, the ones alert episodes read (``EPISODE_TYPES``);
    and the ones known by the end of ``before`` (empty without it)."""
    episodic = func.sum(case((Event.type.in_(EPISODE_TYPES), 1), else_=0))
    earlier = func.sum(case((Event.local_day <= before, 1), else_=0)) if before else func.count()
    query = (
        select(Event.candidate_id, func.count(), episodic, earlier)
        .where(PLAUSIBLE, Event.local_day <= as_of, Event.candidate_id.in_(active))
        .group_by(Event.candidate_id)
    )
    with engine.connect() as conn:
        rows = [(str(c), int(n), int(e or 0), int(b or 0)) for c, n, e, b in conn.execute(query)]
    counts = {c: n for c, n, _, _ in rows}
    episodes = {c: e for c, _, e, _ in rows if e}
    known = {c: b for c, _, _, b in rows if b} if before else {}
    return counts, episodes, known


class DayState:
    """What the service keeps between its day runs, so that a day rebuilds only what changed.

    ``features``: the running feature totals (``features.incremental.FeatureState``);
    ``alerts``: the alert episodes (``outreach.alerts.AlertState``); ``cohorts``: the
    in-season check's scored cohorts (``training.monitor.CohortCache``). The first two
    bring up to date a candidate whose count of known events changed since the last
    run (new, late or erased events; for the alerts, events of the types episodes are
    made of), the third a cohort whose counts changed. A candidate whose only new events
    are of the days after the last run gets those days' feature rows appended (read:
    those events only, ``FeatureState.append``); the others are read whole and rebuilt.
    A day's run stores
    the same with a state or without (``tests/test_flows.py``,
    ``tests/features/test_population.py``). One run at a time uses a state (the
    service's write lock).
    """

    def __init__(self, rules: AlertRules | None = None) -> None:
        self.features = FeatureState()
        self.alerts = AlertState(rules or AlertRules())
        self.cohorts = CohortCache()

    def forget(self, candidate_ids: list[str]) -> None:
        """Rebuild these candidates at the next run whatever their event counts
        (an event corrected in place: the counts stay the same)."""
        self.features.forget(candidate_ids)
        self.alerts.forget(candidate_ids)
        self.cohorts.forget()


@dataclass
class DayInputs:
    """A day's feature rows of everyone active at its end, with what the rest of the run reads.

    ``rebuilt``: the candidates whose features were brought up to date from their events
    (rebuilt or appended to). With a ``DayState``, ``events`` holds the whole known
    history, in ``outreach.daily.alert_events``' columns, of the candidates rebuilt and
    of those whose alert episodes changed (what the alerts rebuild from), ``counts``
    the known events per active candidate and ``episodic`` those of ``EPISODE_TYPES``;
    without, ``events`` is ``load_day``'s and both None.
    """

    features: pd.DataFrame
    candidates: pd.DataFrame
    events: pd.DataFrame
    rebuilt: list[str]
    counts: dict[str, int] | None = None
    episodic: dict[str, int] | None = None


def day_inputs(engine: Engine, as_of: dt.date, state: DayState | None = None) -> DayInputs:
    """The day's feature rows of everyone active at the end of ``as_of``, and their candidates.

    With ``state`` (kept between days), only candidates whose events changed since the
    state last saw them are read and brought up to date (their new days appended where
    that gives the same rows, else rebuilt); without, everything is (``load_day``). The
    rows are equal either way (``tests/features/test_population.py``). Either way only
    the active candidates are read (``active_ids``), and the state drops the rows of
    those no longer active.
    """
    if state is None:
        inputs = load_day(engine, as_of)
        feats = build_features(inputs.events, inputs.candidates, inputs.spine, inputs.content)
        ids = sorted(inputs.events["candidate_id"].astype(str).unique())
        return DayInputs(feats, inputs.candidates, inputs.events, ids)
    active = active_ids(as_of)
    last = state.features.day
    kept = last if last is not None and last < as_of else None
    counts, episodic, known = _event_counts(engine, as_of, active, kept)
    # a candidate no longer active is stale too: with no events read it loses its rows
    stale = state.features.stale(counts)
    fresh = [c for c in stale if c in counts]
    content = load_content(engine)
    appended: list[str] = []
    growing = state.features.appendable(fresh, known, as_of) if kept is not None else []
    if growing and kept is not None:  # only their events of the days since the last run
        new = alert_events(engine, as_of, growing, since=kept + dt.timedelta(days=1))
        appended = state.features.append(new, content, counts)
    rebuild = sorted(set(stale) - set(appended))
    # one read of the whole history for the features rebuilt and the alert episodes
    # (alert_events' columns hold both)
    changed = {c for c in rebuild if c in counts} | set(state.alerts.stale(episodic))
    events = alert_events(engine, as_of, sorted(c for c in changed if c in counts))
    state.features.update(events, content, candidate_ids=rebuild)
    state.features.settle(as_of)
    ids = read_ids(engine, active)
    spine = pd.DataFrame({"candidate_id": ids, "as_of": [as_of] * len(ids)})
    # the profiles as known at the end of the day (issue 16: profile history)
    candidates = load_candidates(engine, candidate_ids=active, as_of=as_of)
    candidates = candidates[candidates["candidate_id"].isin(set(ids))].reset_index(drop=True)
    feats = state.features.features(spine, candidates)
    return DayInputs(feats, candidates, events, fresh, counts, episodic)


def day_features(
    engine: Engine, as_of: dt.date, state: DayState | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """``day_inputs``' feature rows and candidates, and how many candidates were rebuilt."""
    inputs = day_inputs(engine, as_of, state)
    return inputs.features, inputs.candidates, len(inputs.rebuilt)


def _day_alerts(
    engine: Engine,
    as_of: dt.date,
    active: list[str],
    inputs: DayInputs,
    recent: pd.DataFrame,
    state: DayState | None,
) -> pd.DataFrame:
    """The day's alerts: from the state's kept episodes, or from everyone's history."""
    if state is None or inputs.episodic is None:
        return day_alerts(engine, as_of, active)
    rules = state.alerts.rules
    state.alerts.update(inputs.events, inputs.episodic)
    # the risk jumps' answers are HR's contacts from the day's start (UTC) on: in
    # ``recent``, which holds the last 30 days and more
    history = risk_history(engine, as_of, rules.risk_jump_days)
    return state.alerts.current(recent, as_of, set(active), history)


def run_day(
    engine: Engine,
    model: Predictor,
    as_of: dt.date,
    state: DayState | None = None,
    actor: audit.Actor | None = None,
    plan: PlanConfig | None = None,
) -> DayRun:
    """The day's run: check the calibration, score everyone active, store the scores,
    the alerts and the plans.

    One function for the Prefect daily flow, ``keepwarm score`` and
    ``POST /v1/runs/daily``. First the in-season calibration check of ``model``
    (``training.monitor``), stored with the intercept shift it leaves in force, which
    the day's scores then use. Rerunning a day replaces what it stored (scores by
    ``(candidate, day, version)``, alerts by id, the day's planned actions; done ones
    stay), so it is idempotent. With ``state`` (the service keeps one), only what
    changed since the previous run is rebuilt; the result is the same. ``plan``: the
    plan's rules (``outreach.daily.plan_config``: the tenant's capacities). The run is
    recorded in the audit log with counts only.
    """
    who = actor or audit.Actor.flow("daily-scoring")
    cohorts = state.cohorts if state is not None else None
    check = check_calibration(engine, model, as_of, cache=cohorts)
    store_check(engine, check, str(model.version), who.name)
    model = in_force(engine, model)
    inputs = day_inputs(engine, as_of, state)
    feats = inputs.features
    scores = rank_scores(model, feats, inputs.candidates)
    version = str(model.version)
    store_scores(engine, scores, version)
    if state is not None:  # the day's cohort, for the checks of the weeks to come
        state.cohorts.keep(engine, model, as_of, feats)
    audit.record(
        engine,
        who,
        "score",
        "daily-scoring",
        detail={"as_of": as_of.isoformat(), "candidates": len(scores), "model_version": version},
    )
    active = scores["candidate_id"].astype(str).tolist()
    # the active candidates' recent events, read once: the plan's and the risk jumps'
    recent = alert_events(engine, as_of, active, since=as_of - dt.timedelta(days=RECENT_DAYS))
    alerts = _day_alerts(engine, as_of, active, inputs, recent, state)
    store_alerts(engine, alerts, as_of)
    actions = plan_day(engine, as_of, scores, feats, alerts, plan, recent=recent)
    open_alerts = int(alerts["resolved_at"].isna().sum()) if len(alerts) else 0
    return DayRun(
        as_of,
        version,
        len(scores),
        len(inputs.rebuilt),
        len(alerts),
        open_alerts,
        actions,
        scores,
        feats,
    )

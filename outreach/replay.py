"""Season replay: the same simulated season under three outreach policies, at equal effort.

(a) no outreach beyond the offer; (b) the brief's practice: the template cadence
plus the rule alerts, each recruiter working them oldest first; (c) keepwarm:
the same cadence plus the daily plan. (b) and (c) get the same capacity: HR
contacts (calls, answered questions, personalised messages) per recruiter per day.

keepwarm's policy never sees the simulator's state: each day it reads the event
log as the store would hold it and runs production's own functions on it
(``build_features``, the model, ``find_alerts``, ``make_plan``). The same seed
gives the same candidates; draws the policies change (who answers a call) differ.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from features.build import build_features
from outreach.alerts import AlertRules, find_alerts
from outreach.plan import PlanConfig, make_plan
from simulator.engine import ACTOR_CODES, EventLog, World
from simulator.policy import Actions, NoOutreach, Observation, TemplateCadence
from simulator.population import Population, content_library
from store.contract import EVENT_TYPES, TOPICS
from training.model import DropoutClassifier

_TYPES = np.array(EVENT_TYPES, dtype=object)
_TOPICS = np.array([*TOPICS, None], dtype=object)  # -1 -> None
_ACTORS = np.array([*ACTOR_CODES, None], dtype=object)


def log_frame(log: EventLog, pop: Population, w: World) -> pd.DataFrame:
    """The event log so far in the store's shape (what features and alerts read)."""
    f = log.frame()
    if not f:
        return pd.DataFrame(
            columns=[
                "event_id",
                "candidate_id",
                "ts_utc",
                "utc_offset_min",
                "local_day",
                "type",
                "topic",
                "value",
                "actor",
                "content_id",
            ]
        )
    ids = pop.frame["candidate_id"].to_numpy()[f["cand"]]
    contents = np.array([*content_library(w.params)["content_id"], None], dtype=object)
    local = np.datetime64(w.day0, "m") + f["day"].astype("timedelta64[D]")
    ts = local + f["minute"].astype("timedelta64[m]") - np.timedelta64(480, "m")
    days = (np.datetime64(w.day0, "D") + f["day"].astype("timedelta64[D]")).astype(object)
    return pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(len(ids))],
            "candidate_id": ids,
            "ts_utc": pd.to_datetime(ts),
            "utc_offset_min": 480,
            "local_day": days,
            "type": _TYPES[f["type"]],
            "topic": _TOPICS[f["topic"]],
            "value": f["value"].astype(float),
            "actor": _ACTORS[f["actor"]],
            "content_id": contents[f["content"]],
        }
    )


def _cadence_only(pop: Population) -> TemplateCadence:
    """The template cadence every policy but (a) sends: diligent, generic, nothing else."""
    n = len(pop.owners)
    return TemplateCadence(np.ones(n), np.zeros(n))


def _cadence(base: TemplateCadence, obs: Observation, rng: np.random.Generator) -> Actions:
    acts = base.act(obs, rng)
    n = obs.active.shape[0]
    empty = np.zeros(0, dtype=np.int64)
    return Actions(acts.message, np.zeros(n, dtype=bool), np.full(n, -1), (empty, empty), np.zeros(n, dtype=bool))


@dataclass
class Counted:
    """HR contacts a policy made (calls, answered questions, personalised messages)."""

    contacts: int = 0


@dataclass
class RulesPolicy(Counted):
    """(b): cadence + the brief's rule alerts, each recruiter working them oldest first."""

    capacity: int = 5
    no_reply_days: int = 3

    def attach(self, pop: Population, w: World, log: EventLog) -> None:
        self.base = _cadence_only(pop)

    def act(self, obs: Observation, rng: np.random.Generator) -> Actions:
        acts = _cadence(self.base, obs, rng)
        live = obs.active & (obs.phase >= 1)
        silent = (obs.unreplied_messages > 0) & (obs.days_since_reply > self.no_reply_days)
        asked = obs.n_open > 0
        signal = obs.competing_signal.astype(bool)
        flagged = np.flatnonzero(live & (silent | asked | signal))
        if not flagged.size:
            return acts
        # arrival order: the alert that has waited longest first
        age = np.where(silent[flagged], obs.days_since_reply[flagged] - self.no_reply_days, 0)
        age = np.maximum(age, np.where(asked[flagged], obs.days_since_hr_contact[flagged], 0))
        order = flagged[np.lexsort((flagged, -age))]
        owners = obs.owner_idx[order]
        rank = pd.Series(owners).groupby(owners).cumcount().to_numpy()
        chosen = order[rank < self.capacity]
        answer_rows, answer_cols = np.nonzero(obs.open_questions[chosen] & asked[chosen, None])
        answering = chosen[answer_rows]
        calling = chosen[~asked[chosen]]
        acts.call[calling] = True
        acts.message[np.unique(answering)] = True
        acts.answer = (answering, answer_cols)
        self.contacts += len(chosen)
        return acts


@dataclass
class KeepwarmPolicy(Counted):
    """(c): cadence + keepwarm's daily plan, from the event log through production code."""

    model: DropoutClassifier | None = None
    capacity: int = 5
    rules: AlertRules = field(default_factory=AlertRules)

    def attach(self, pop: Population, w: World, log: EventLog) -> None:
        self.pop, self.w, self.log = pop, w, log
        self.base = _cadence_only(pop)
        self.ids = pop.frame["candidate_id"].to_numpy()
        self.owners = pop.frame["hr_owner"].to_numpy()
        self.row = {c: i for i, c in enumerate(self.ids)}
        self.content = content_library(w.params)
        self.topic_of = {
            c: (str(t).split(";")[0] if isinstance(t, str) and t else None)
            for c, t in zip(self.content["content_id"], self.content["topics"], strict=True)
        }
        self.cfg = PlanConfig(capacity=self.capacity, holdout_share=0.0)

    def act(self, obs: Observation, rng: np.random.Generator) -> Actions:
        acts = _cadence(self.base, obs, rng)
        live = np.flatnonzero(obs.active & (obs.phase >= 1))
        if not live.size or self.model is None:
            return acts
        day = self.w.day0 + dt.timedelta(days=obs.day)
        events = log_frame(self.log, self.pop, self.w)
        ids = self.ids[live]
        spine = pd.DataFrame({"candidate_id": ids, "as_of": [day] * len(ids)})
        feats = build_features(events, self.pop.frame, spine, self.content)
        risk = self.model.predict_proba(feats[self.model.features_])[:, 1]
        alerts = find_alerts(events, day, self.rules, set(ids))
        open_alerts = alerts[alerts["resolved_at"].isna()]
        scores = pd.DataFrame({"candidate_id": ids, "risk": risk, "hr_owner": self.owners[live]})
        plan = make_plan(day, scores, feats, open_alerts, events, self.content, self.cfg)
        for r in plan.itertuples(index=False):
            i = self.row[r.candidate_id]
            if r.action == "call":
                acts.call[i] = True
            elif r.action in ("send_content", "answer_question"):
                acts.message[i] = True
                topic = self.topic_of.get(r.content_id) if isinstance(r.content_id, str) else None
                sim_topics = list(self.w.params.topics)
                if topic in sim_topics:
                    acts.topic[i] = sim_topics.index(topic)
                    acts.personalised[i] = True
                if r.action == "answer_question":
                    cols = np.flatnonzero(obs.open_questions[i])
                    acts.answer = (
                        np.concatenate([acts.answer[0], np.full(cols.size, i)]),
                        np.concatenate([acts.answer[1], cols]),
                    )
            else:
                continue
            self.contacts += 1
        return acts


@dataclass
class ReplayResult:
    renege_rate: dict[str, list[float]]
    contacts: dict[str, list[int]]
    candidates: int

    def reductions(self) -> list[float]:
        return [
            1 - k / r if r > 0 else 0.0
            for k, r in zip(self.renege_rate["keepwarm"], self.renege_rate["rules"], strict=True)
        ]

    def summary(self) -> dict[str, Any]:
        cuts = self.reductions()
        mean = statistics.fmean(cuts)
        half = 0.0
        if len(cuts) > 1:
            from scipy import stats

            half = float(stats.t.ppf(0.975, len(cuts) - 1)) * statistics.stdev(cuts) / math.sqrt(len(cuts))
        return {
            "renege_rate": {k: round(statistics.fmean(v), 4) for k, v in self.renege_rate.items()},
            "contacts": {k: round(statistics.fmean(v), 1) for k, v in self.contacts.items()},
            "relative_reduction": round(mean, 4),
            "ci95": [round(mean - half, 4), round(mean + half, 4)],
            "seeds": len(cuts),
            "candidates": self.candidates,
        }


def train_replay_model(candidates: int, seed: int) -> DropoutClassifier:
    """A model trained on a simulated earlier season under the brief's practice."""
    from simulator import simulate_season
    from training.config import load_config
    from training.snapshots import scored_population, snapshot_spine
    from features.catalogue import FEATURE_NAMES

    cfg = load_config()
    season = simulate_season("2023-autumn", candidates, seed, truth=False)
    events = season.events.copy()
    from store.bundle import split_timestamps

    events = pd.concat([events.drop(columns=["ts"]), split_timestamps(events["ts"])], axis=1)
    events["local_day"] = pd.to_datetime(events["local_day"]).dt.date
    events["value"] = pd.to_numeric(events["value"], errors="coerce")
    for col in ("topic", "actor", "content_id", "channel"):
        events[col] = events[col].replace("", None)
    outcomes = season.outcomes.assign(
        outcome_date=pd.to_datetime(season.outcomes["outcome_date"]).dt.date
    )
    pop = scored_population(events, outcomes)
    spine = snapshot_spine(pop, cfg.snapshot_every_days)
    cands = season.candidates.copy()
    cands["start_date"] = pd.to_datetime(cands["start_date"]).dt.date
    cands["school_tier"] = pd.to_numeric(cands["school_tier"], errors="coerce")
    feats = build_features(events, cands, spine, season.content)
    y = spine["label"].to_numpy()
    return DropoutClassifier(params=cfg.lightgbm, num_boost_round=cfg.num_boost_round).fit(
        feats[list(FEATURE_NAMES)], y, groups=spine["candidate_id"].to_numpy()
    )


def replay(
    candidates: int, seeds: int, capacity: int, model: DropoutClassifier
) -> ReplayResult:
    from simulator import simulate_season

    rates: dict[str, list[float]] = {"none": [], "rules": [], "keepwarm": []}
    contacts: dict[str, list[int]] = {"none": [], "rules": [], "keepwarm": []}
    for k in range(seeds):
        policies: dict[str, Any] = {
            "none": NoOutreach(),
            "rules": RulesPolicy(capacity=capacity),
            "keepwarm": KeepwarmPolicy(model=model, capacity=capacity),
        }
        for name, policy in policies.items():
            season = simulate_season("2024-autumn", candidates, 100 + k, policy=policy, truth=False)
            done = season.outcomes
            rates[name].append(float((done["outcome"] == "reneged").mean()))
            contacts[name].append(int(getattr(policy, "contacts", 0)))
    return ReplayResult(rates, contacts, candidates)

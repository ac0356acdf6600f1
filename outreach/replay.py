"""Season replay: the same simulated season under three outreach policies, at equal effort.

(a) ``none``: nothing beyond the offer process itself.
(b) ``rules``: the brief's practice. The template cadence, plus the brief's rule
    alerts (no reply for more than 3 days, an open question, a competing-offer
    signal), each recruiter working them in arrival order, oldest first, up to a
    daily capacity.
(c) ``keepwarm``: the same cadence, plus keepwarm's daily plan, with each
    recruiter making exactly as many contacts each day as they made under (b).

An HR contact is a call, an answered question or a personalised message; the
cadence's template messages are sent in (b) and (c) alike and are not counted.

keepwarm never sees the simulator's state. Each simulated day it reads the event
log, as the store would hold it, and runs production's own functions:
``build_features`` (incrementally, as the service's daily run: ``FeatureState``),
the model, ``find_alerts`` and ``make_plan``. Each seed gives the same candidates
to every policy and the same random draws until a policy's actions make them differ.
"""

from __future__ import annotations

import datetime as dt
import math
import multiprocessing
import os
import statistics
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from features.build import build_features, profiles
from features.incremental import FeatureState
from features.population import scored_population
from outreach.alerts import AlertRules, AlertState, open_questions
from outreach.plan import PlanConfig, make_plan
from simulator.engine import ACTOR_CODES, EventLog, World
from simulator.params import SimParams
from simulator.policy import Actions, NoOutreach, Observation, TemplateCadence
from simulator.population import Population
from simulator.season import SeasonResult, simulate_season
from store.bundle import Origin, as_text, check_tables
from store.contract import CHANNELS, EVENT_TYPES, TOPICS
from training.config import TrainConfig
from training.model import DropoutClassifier
from training.snapshots import snapshot_spine
from training.train import fit_dropout

POLICIES = ("none", "rules", "keepwarm")
TRAIN_SEASON = "2023-autumn"
REPLAY_SEASON = "2024-autumn"
_TYPES = np.array(EVENT_TYPES, dtype=object)
_TOPICS = np.array([*TOPICS, None], dtype=object)  # index -1 -> None
_ACTORS = np.array([*ACTOR_CODES, None], dtype=object)
_CHANNELS = np.array([*CHANNELS, None], dtype=object)
_UTC_OFFSET_MIN = 480  # the simulator's candidates live in UTC+8


class StoreView:
    """The simulator's event log as the store holds it, converted as it grows."""

    def __init__(self, pop: Population, w: World, log: EventLog, content: pd.DataFrame) -> None:
        self.ids = pop.frame["candidate_id"].to_numpy()
        self.contents = np.array([*content["content_id"], None], dtype=object)
        self.day0 = np.datetime64(w.day0, "D")
        self.log = log
        self.done = 0
        self.count = 0
        self.frames: list[pd.DataFrame] = []

    def events(self) -> pd.DataFrame:
        new = self.log.parts[self.done :]
        self.done = len(self.log.parts)
        if new:
            f = {k: np.concatenate([p[k] for p in new]) for k in new[0]}
            days = self.day0 + f["day"].astype("timedelta64[D]")
            local = days.astype("datetime64[m]") + f["minute"].astype("timedelta64[m]")
            n = f["cand"].shape[0]
            self.frames.append(
                pd.DataFrame(
                    {
                        "event_id": [f"e{i}" for i in range(self.count, self.count + n)],
                        "candidate_id": self.ids[f["cand"]],
                        "ts_utc": local - np.timedelta64(_UTC_OFFSET_MIN, "m"),
                        "utc_offset_min": _UTC_OFFSET_MIN,
                        "local_day": days.astype(object),
                        "type": _TYPES[f["type"]],
                        "channel": _CHANNELS[f["channel"]],
                        "topic": _TOPICS[f["topic"]],
                        "value": f["value"].astype(float),
                        "actor": _ACTORS[f["actor"]],
                        "content_id": self.contents[f["content"]],
                    }
                )
            )
            self.count += n
            if len(self.frames) > 1:
                self.frames = [pd.concat(self.frames, ignore_index=True)]
        return self.frames[0] if self.frames else pd.DataFrame(columns=["candidate_id"])


def _cadence(pop: Population) -> TemplateCadence:
    """The template cadence (b) and (c) both send: every recruiter diligent, nothing personal."""
    n = len(pop.owners)
    return TemplateCadence(np.ones(n), np.zeros(n))


def _cadence_messages(base: TemplateCadence, obs: Observation, rng: np.random.Generator) -> Actions:
    """Only the cadence's messages: the contacts are the policy's to choose."""
    n = obs.active.shape[0]
    none = np.zeros(n, dtype=bool)
    empty = np.zeros(0, dtype=np.int64)
    return Actions(base.act(obs, rng).message, none.copy(), np.full(n, -1), (empty, empty), none)


@dataclass
class Counted:
    """Contacts made, per (day, recruiter index) and by kind."""

    used: Counter[tuple[int, int]] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)

    @property
    def contacts(self) -> int:
        return sum(self.used.values())

    def count(self, day: int, owner: int, kind: str) -> None:
        self.used[(day, owner)] += 1
        self.kinds[kind] += 1


@dataclass
class RulesPolicy(Counted):
    """(b): the cadence plus the brief's rule alerts, worked oldest first up to ``capacity``."""

    capacity: int = 2
    no_reply_days: int = 3

    def attach(self, pop: Population, w: World, log: EventLog) -> None:
        self.base = _cadence(pop)

    def act(self, obs: Observation, rng: np.random.Generator) -> Actions:
        acts = _cadence_messages(self.base, obs, rng)
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
        rows, cols = np.nonzero(obs.open_questions[chosen])
        acts.answer = (chosen[rows], cols)
        acts.message[chosen[asked[chosen]]] = True
        acts.call[chosen[~asked[chosen]]] = True
        for i in chosen.tolist():
            self.count(obs.day, int(obs.owner_idx[i]), "answer" if asked[i] else "call")
        return acts


@dataclass
class KeepwarmPolicy(Counted):
    """(c): the cadence plus keepwarm's daily plan, ``budget`` contacts per (day, recruiter)."""

    model: DropoutClassifier | None = None
    budget: Counter[tuple[int, int]] = field(default_factory=Counter)
    rules: AlertRules = field(default_factory=AlertRules)

    def attach(self, pop: Population, w: World, log: EventLog) -> None:
        from simulator.population import content_library

        self.w = w
        self.frame = pop.frame
        self.content = content_library(w.params)
        self.view = StoreView(pop, w, log, self.content)
        self.base = _cadence(pop)
        self.ids = pop.frame["candidate_id"].to_numpy()
        self.owners = pop.frame["hr_owner"].to_numpy()
        self.owner_idx = pop.owner_idx
        self.row = {c: i for i, c in enumerate(self.ids)}
        topic_of = dict(zip(self.content["content_id"], self.content["topics"], strict=True))
        sim_topics = list(w.params.topics)
        self.other_topics = [t for t in TOPICS if t not in sim_topics]
        self.sim_topic = {
            c: sim_topics.index(t) if t in sim_topics else -1 for c, t in topic_of.items()
        }
        # no holdout here: the replay measures the plan itself; capacity is the budget
        self.cfg = PlanConfig(capacity=10_000, holdout_share=0.0)
        self.history: list[pd.DataFrame] = []  # the daily scores, as the store keeps them
        self.state = FeatureState()
        self.profile = profiles(pop.frame)  # the candidates' profiles never change here
        self.alert_state = AlertState(self.rules)  # ``find_alerts``, incrementally

    def act(self, obs: Observation, rng: np.random.Generator) -> Actions:
        acts = _cadence_messages(self.base, obs, rng)
        live = np.flatnonzero(obs.active & (obs.phase >= 1))
        if not live.size or self.model is None:
            return acts
        day = self.w.day0 + dt.timedelta(days=obs.day)
        events = self.view.events()
        ids = self.ids[live]
        spine = pd.DataFrame({"candidate_id": ids, "as_of": [day] * len(ids)})
        # the incremental day: only live candidates with new events are rebuilt (equal to
        # ``build_features`` over the whole log, ``tests/features/test_incremental.py``);
        # the others' rows are neither read nor kept up to date until they are live again
        self.state.update(events, self.content, candidate_ids=ids)
        feats = self.state.features(spine, self.frame, self.profile)
        # alerts and plans only concern the live candidates: the others' events change nothing
        events = events[events["candidate_id"].isin(set(ids))]
        risk = self.model.predict_proba(feats[self.model.features_])[:, 1]
        today = pd.DataFrame({"candidate_id": ids, "as_of": day, "risk": risk})
        self.history = [*self.history[-7:], today]
        history = pd.concat(self.history, ignore_index=True)
        alerts = self.alert_state.alerts(events, day, set(ids), risk_history=history)
        open_alerts = alerts[alerts["resolved_at"].isna()]
        scores = pd.DataFrame({"candidate_id": ids, "risk": risk, "hr_owner": self.owners[live]})
        plan = make_plan(day, scores, feats, open_alerts, events, self.content, self.cfg)
        # chasing an approval is not a candidate contact (and approvals keep their own pace
        # in the simulator); the rest is worked best first, within the day's budget
        plan = plan[plan["action"] != "escalate_approval"]
        left = {o: self.budget[(obs.day, o)] for o in np.unique(obs.owner_idx[live]).tolist()}
        answer_rows: list[np.ndarray] = [acts.answer[0]]
        answer_cols: list[np.ndarray] = [acts.answer[1]]
        other = open_questions(events, self.other_topics) if len(plan) else {}
        other_rows: list[int] = []
        other_topics: list[int] = []
        for r in plan.itertuples(index=False):
            i = self.row[r.candidate_id]
            owner = int(self.owner_idx[i])
            if left.get(owner, 0) <= 0:
                continue
            left[owner] -= 1
            if r.action == "call":
                acts.call[i] = True
            elif r.action == "answer_question":
                # every question the store shows open: the simulator's interest topics,
                # and the others (another offer, the location) as plain answers
                cols = np.flatnonzero(obs.open_questions[i])
                answer_rows.append(np.full(cols.size, i))
                answer_cols.append(cols)
                for asked in other.get(r.candidate_id, ()):
                    other_rows.append(i)
                    other_topics.append(TOPICS.index(asked))
            else:  # send_content: personalised when the item's topic is one the simulator knows
                topic = self.sim_topic.get(r.content_id, -1) if r.content_id else -1
                acts.message[i] = True
                acts.topic[i] = topic
                acts.personalised[i] = topic >= 0
            self.count(obs.day, owner, str(r.action))
        acts.answer = (np.concatenate(answer_rows), np.concatenate(answer_cols))
        acts.answer_other = (np.array(other_rows, dtype=np.int64), np.array(other_topics))
        return acts


def season_frames(season: SeasonResult) -> dict[str, pd.DataFrame]:
    """A simulated season as the store would load it: through the bundle check itself."""
    frames = {
        "candidates": season.candidates,
        "events": season.events,
        "outcomes": season.outcomes,
        "content": season.content,
    }
    texts = {name: as_text(frame) for name, frame in frames.items()}
    origins = {name: Origin(f"{name}.csv", ".csv") for name in frames}
    typed = check_tables(texts, origins, None, season.season)
    typed["events"]["local_day"] = typed["events"]["local_day"].dt.date  # as the store gives it
    return typed


def train_replay_model(
    candidates: int, seed: int, cfg: TrainConfig, params: SimParams | None = None
) -> DropoutClassifier:
    """The model keepwarm would have: trained on an earlier season run the old way
    (in the world ``params``, the simulator's default if None)."""
    t = season_frames(simulate_season(TRAIN_SEASON, candidates, seed, params, truth=False))
    population = scored_population(t["events"], t["outcomes"])
    spine = snapshot_spine(population, cfg.snapshot_every_days)
    feats = build_features(t["events"], t["candidates"], spine, t["content"])
    return fit_dropout(feats.assign(label=spine["label"].to_numpy()), cfg)


@dataclass
class SeedResult:
    seed: int
    renege_rate: dict[str, float]
    joined: dict[str, int]
    contacts: dict[str, int]
    kinds: dict[str, dict[str, int]]
    causes: dict[str, dict[str, int]]
    used: dict[str, Counter[tuple[int, int]]]  # contacts per (day, recruiter index)


def replay_seed(
    candidates: int,
    seed: int,
    capacity: int,
    model: DropoutClassifier,
    params: SimParams | None = None,
) -> SeedResult:
    """One seed: (a), then (b), then (c) with (b)'s contacts as its budget."""
    rules = RulesPolicy(capacity=capacity)
    policies: dict[str, Any] = {
        "none": NoOutreach(),
        "rules": rules,
        "keepwarm": KeepwarmPolicy(model=model, budget=rules.used),
    }
    rate, joined, contacts, kinds, causes, used = {}, {}, {}, {}, {}, {}
    for name, policy in policies.items():  # in order: keepwarm's budget is what rules used
        out = simulate_season(REPLAY_SEASON, candidates, seed, params, policy=policy, truth=False)
        reneged = out.outcomes["outcome"] == "reneged"
        rate[name] = float(reneged.sum() / len(out.candidates))
        joined[name] = int((out.outcomes["outcome"] == "joined").sum())
        contacts[name] = int(getattr(policy, "contacts", 0))
        kinds[name] = dict(getattr(policy, "kinds", {}))
        causes[name] = out.outcomes.loc[reneged, "reason"].value_counts().to_dict()
        used[name] = Counter(getattr(policy, "used", {}))
    return SeedResult(seed, rate, joined, contacts, kinds, causes, used)


@dataclass
class ReplayResult:
    candidates: int
    capacity: int
    seeds: list[SeedResult]
    first_day: tuple[int, int] = (
        SimParams.start_date_month_day
    )  # (month, day): the first working day

    def reductions(self) -> list[float]:
        """(c)'s renege rate relative to (b)'s, per seed: 1 - keepwarm / rules."""
        return [
            1 - s.renege_rate["keepwarm"] / s.renege_rate["rules"]
            for s in self.seeds
            if s.renege_rate["rules"] > 0
        ]

    def summary(self) -> dict[str, Any]:
        cuts = self.reductions()
        mean = statistics.fmean(cuts) if cuts else float("nan")
        if len(cuts) > 1:
            half = stats.t.ppf(0.975, len(cuts) - 1) * statistics.stdev(cuts) / math.sqrt(len(cuts))
            ci = [round(mean - half, 4), round(mean + half, 4)]
        else:
            ci = [None, None]  # one seed gives no spread to bound
        return {
            "renege_rate": {
                p: round(statistics.fmean(s.renege_rate[p] for s in self.seeds), 4)
                for p in POLICIES
            },
            "contacts": {
                p: round(statistics.fmean(s.contacts[p] for s in self.seeds), 1) for p in POLICIES
            },
            "relative_reduction": None if math.isnan(mean) else round(mean, 4),
            "ci95": ci,
            "seeds": len(self.seeds),
            "candidates": self.candidates,
            "first_day": "{:02d}-{:02d}".format(*self.first_day),
        }


def policy_eval(
    candidates: int,
    seeds: int,
    capacity: int,
    cfg: TrainConfig,
    train_candidates: int = 2000,
    first_seed: int = 100,
    workers: int | None = None,
    first_day: tuple[int, int] | None = None,
) -> ReplayResult:
    """Train the model on an earlier simulated season, then replay ``seeds`` seasons.

    ``first_day``: (month, day) of the new hires' first working day in the year after
    the offers, for both seasons (default: the simulator's, 6 July, as in the brief).
    An earlier one is a shorter wait between offer and start, and a shorter replay.

    Seeds run in parallel processes when there are cores for it; each seed's
    result depends only on its seed, not on how many workers ran it. Up to twice as
    many processes as cores: 3 seeds on 2 cores then share both cores to the end
    (about 1.5 seeds' time) instead of the last seed running alone (2 seeds' time).
    """
    params = SimParams() if first_day is None else SimParams(start_date_month_day=first_day)
    model = train_replay_model(train_candidates, first_seed - 1, cfg, params)
    todo = [first_seed + k for k in range(seeds)]
    cores = os.cpu_count() or 1
    workers = min(seeds, workers or (seeds if seeds <= 2 * cores else cores))
    if workers <= 1:
        results = [replay_seed(candidates, seed, capacity, model, params) for seed in todo]
    else:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            futures = [
                pool.submit(replay_seed, candidates, seed, capacity, model, params) for seed in todo
            ]
            results = [f.result() for f in futures]
    return ReplayResult(candidates, capacity, results, params.start_date_month_day)

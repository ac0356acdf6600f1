"""The simulator's own effect of each outreach action on renege, by paired roll-outs.

For a candidate on a day, the season is re-run from the end of the day before
twice (``rollouts`` times each): once with the action done that day and once
without, the policy's own action of that kind suppressed for that day in both
arms, everything else as the season's policy would do. The difference in the
share who renege is the action's true effect for that candidate-day, in the
same units ``outreach.effects`` learns (a cut in renege probability). Both
arms draw from the same generator seed (common random numbers), so most of
the noise cancels.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from simulator.engine import (
    PENDING,
    RENEGED,
    EventLog,
    _answer,
    _call,
    _outreach,
    initial_state,
    make_world,
    run_season,
)
from simulator.params import SimParams
from simulator.policy import Actions, Observation, Policy, pick_column
from simulator.population import make_population
from simulator.season import default_policy
from store.contract import TOPICS

_CODES = {"call": 1, "answer_question": 2, "send_content": 3}


@dataclasses.dataclass
class _Without:
    """The season's policy, minus its own action of one kind on one day."""

    inner: Policy
    action: str
    day: int

    def act(self, obs: Observation, rng: np.random.Generator) -> Actions:
        act = self.inner.act(obs, rng)
        if obs.day != self.day:
            return act
        if self.action == "call":
            act.call = np.zeros_like(act.call)
        elif self.action == "answer_question":
            empty = np.zeros(0, dtype=np.int64)
            act.answer = (empty, empty)
            act.answer_other = (empty, empty)
        else:
            act.message = np.zeros_like(act.message)
        return act


def _apply(action: str, arm: int, s: dict[str, Any], day: int, w: Any, rng: Any) -> None:
    n = s["c"].shape[0]
    everyone = np.ones(n, bool)
    if action == "call":
        if arm:
            _call(s, everyone, day, w.params, rng, None)
    elif action == "answer_question":
        if not arm:
            return
        topic = pick_column(s["open_q"], rng)
        inside = topic >= 0
        _answer(s, (np.flatnonzero(inside), topic[inside]), day, w, rng, None)
        # an open question outside the interest topics: another offer, answered in words
        other = np.flatnonzero(~inside)
        code = np.full(other.size, TOPICS.index("competing_offer"))
        _answer(s, (other, code), day, w, rng, None, interest_topics=False)
    else:
        topic = pick_column(s["asked"], rng) if arm else np.full(n, -1)
        _outreach(s, everyone, np.full(n, bool(arm)), topic, day, w, rng, None)


def true_effects(
    season: str,
    n: int,
    seed: int,
    units: pd.DataFrame,
    rollouts: int = 16,
    params: SimParams | None = None,
) -> pd.DataFrame:
    """The true cut in renege probability of each unit's action, by paired roll-outs.

    ``season``, ``n``, ``seed``, ``params`` must be those ``simulate_season`` was
    called with (the default policy): the run is repeated identically.
    ``units``: candidate_id, day (date the action is done), action (``call``,
    ``answer_question``, ``send_content``). Returns ``units`` with ``true_cut``
    (P(renege | not done) - P(renege | done), 0..1) per row; NaN where the
    candidate had already left by then.
    """
    p = params or SimParams()
    year = int(season[:4])
    rng = np.random.default_rng([seed, year])
    pop = make_population(season, n, rng, p, id_prefix=f"K{year % 100:02d}")
    w = make_world(season, pop, p, default_policy(pop))
    state = initial_state(pop, p, rng)
    log = EventLog()  # the run draws event minutes from ``rng``: log them to stay identical
    index = {c: i for i, c in enumerate(pop.frame["candidate_id"])}
    out = units.reset_index(drop=True).copy()
    out["true_cut"] = np.nan
    day_of = np.array([(pd.Timestamp(d).date() - w.day0).days for d in out["day"]])
    by_eve = {int(d) - 1: np.flatnonzero(day_of == d) for d in np.unique(day_of)}

    def on_day_end(day: int, s: dict[str, Any]) -> None:
        rows = by_eve.get(day)
        if rows is None:
            return
        for action in np.unique(out["action"].to_numpy()[rows]):
            sel = rows[out["action"].to_numpy()[rows] == action]
            idx = np.array([index[c] for c in out["candidate_id"].to_numpy()[sel]])
            live = (s["phase"][idx] >= PENDING) & (s["phase"][idx] <= 3)
            sel, idx = sel[live], idx[live]
            if not idx.size:
                continue
            rep = np.repeat(idx, rollouts)
            share = []
            for arm in (0, 1):
                clone = {k: v[rep].copy() for k, v in s.items()}
                stream = [seed, year, day, _CODES[str(action)]]
                _apply(str(action), arm, clone, day + 1, w, np.random.default_rng([*stream, 1]))
                world = dataclasses.replace(w, policy=_Without(w.policy, str(action), day + 1))
                run_season(clone, world, np.random.default_rng(stream), None, first_day=day + 1)
                share.append((clone["phase"] == RENEGED).reshape(idx.size, rollouts).mean(axis=1))
            out.loc[sel, "true_cut"] = share[0] - share[1]

    run_season(state, w, rng, log, on_day_end=on_day_end)
    return out

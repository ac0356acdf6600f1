"""Simulate whole seasons and write them as contract bundles."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from simulator.engine import (
    CAUSES,
    JOINED,
    RENEGED,
    EventLog,
    events_frame,
    initial_state,
    make_world,
    rollout_truth,
    run_season,
)
from simulator.params import SimParams
from simulator.policy import Policy, TemplateCadence
from simulator.population import Population, content_library, make_population


@dataclass
class SeasonResult:
    season: str
    candidates: pd.DataFrame
    events: pd.DataFrame
    outcomes: pd.DataFrame
    content: pd.DataFrame
    truth: pd.DataFrame | None

    def until(self, day: dt.date) -> SeasonResult:
        """The season as its store would hold it at the end of ``day``: a season in progress.

        Events up to that day (in their own offset), outcomes dated by then, and the
        candidates who had appeared in an event; later ones are not known yet.
        """
        local_day = self.events["ts"].astype(str).str[:10]
        events = self.events[local_day <= day.isoformat()]
        seen = set(events["candidate_id"])
        outcomes = self.outcomes[pd.to_datetime(self.outcomes["outcome_date"]).dt.date <= day]
        truth = None
        if self.truth is not None:
            truth = self.truth[
                (pd.to_datetime(self.truth["as_of"]).dt.date <= day)
                & self.truth["candidate_id"].isin(seen)
            ]
        return SeasonResult(
            self.season,
            self.candidates[self.candidates["candidate_id"].isin(seen)],
            events,
            outcomes[outcomes["candidate_id"].isin(seen)],
            self.content,
            truth,
        )

    def summary(self) -> str:
        n = len(self.candidates)
        reneged = int((self.outcomes["outcome"] == "reneged").sum())
        return (
            f"{n} candidates, {len(self.events)} events, "
            f"{reneged} reneged ({reneged / max(n, 1):.1%})"
        )


def default_policy(pop: Population) -> Policy:
    return TemplateCadence(
        pop.owners["diligence"].to_numpy(), pop.owners["personalisation"].to_numpy()
    )


def simulate_season(
    season: str,
    n: int,
    seed: int,
    params: SimParams | None = None,
    policy: Policy | None = None,
    truth: bool = True,
) -> SeasonResult:
    """One season of ``n`` offer candidates under ``policy`` (the template cadence by default)."""
    p = params or SimParams()
    year = int(season[:4])
    rng = np.random.default_rng([seed, year])
    pop = make_population(season, n, rng, p, id_prefix=f"K{year % 100:02d}")
    w = make_world(season, pop, p, policy or default_policy(pop))
    state = initial_state(pop, p, rng)
    log = EventLog()
    attach = getattr(w.policy, "attach", None)
    if callable(attach):  # a policy that reads the event log, as the store would hold it
        attach(pop, w, log)

    truth_days = {}
    for month, day in p.truth_days:
        d = dt.date(year + (month < 9), month, day)
        truth_days[(d - w.day0).days] = d
    truth_parts: list[pd.DataFrame] = []
    truth_rng = np.random.default_rng([seed, year, 1])

    def on_day_end(day: int, s: dict[str, np.ndarray]) -> None:
        if truth and day in truth_days:
            idx, prob = rollout_truth(s, day, w, truth_rng, p.truth_rollouts)
            truth_parts.append(
                pd.DataFrame(
                    {
                        "candidate_id": pop.frame["candidate_id"].to_numpy()[idx],
                        "as_of": truth_days[day].isoformat(),
                        "p_true": np.round(prob, 4),
                    }
                )
            )

    run_season(state, w, rng, log, on_day_end=on_day_end)

    done = np.isin(state["phase"], (JOINED, RENEGED))
    days = state["outcome_day"][done]
    outcome_dates = [(w.day0 + dt.timedelta(days=int(d))).isoformat() for d in days]
    reneged = state["phase"][done] == RENEGED
    reasons = np.array(CAUSES, dtype=object)[np.maximum(state["reason"][done], 0)]
    outcomes = pd.DataFrame(
        {
            "candidate_id": pop.frame["candidate_id"].to_numpy()[done],
            "outcome": np.where(reneged, "reneged", "joined"),
            "outcome_date": outcome_dates,
            "reason": np.where(reneged, reasons, ""),
        }
    )
    return SeasonResult(
        season=season,
        candidates=pop.frame,
        events=events_frame(log, pop, w),
        outcomes=outcomes,
        content=content_library(p),
        truth=pd.concat(truth_parts, ignore_index=True) if truth_parts else None,
    )


def simulate_seasons(
    seasons: list[str],
    n: int,
    seed: int,
    truth: bool = True,
    params: SimParams | None = None,
    workers: int | None = None,
) -> Iterator[SeasonResult]:
    """Simulate several seasons, in parallel processes when there are cores for it.

    Each season draws from its own seed stream, so the result does not depend
    on how many workers ran it.
    """
    workers = min(len(seasons), workers or os.cpu_count() or 1)
    if workers <= 1:
        for season in seasons:
            yield simulate_season(season, n, seed, params=params, truth=truth)
        return
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        futures = [
            pool.submit(simulate_season, season, n, seed, params, None, truth) for season in seasons
        ]
        for future in futures:
            yield future.result()


def write_bundle(result: SeasonResult, folder: Path) -> Path:
    """Write a season as a contract bundle (CSV, UTF-8)."""
    folder.mkdir(parents=True, exist_ok=True)
    result.candidates.to_csv(folder / "candidates.csv", index=False)
    result.events.to_csv(folder / "events.csv", index=False)
    result.outcomes.to_csv(folder / "outcomes.csv", index=False)
    result.content.to_csv(folder / "content.csv", index=False)
    if result.truth is not None:
        result.truth.to_csv(folder / "truth.csv", index=False)
    return folder

"""One day's run (``run_day``: scores, alerts, plans, stored), incremental from the day before.

Run: .venv/bin/python benchmarks/bench_day_run.py [--runs 3] [--candidates 6000] [--new-events N]

Builds (once, cached under benchmarks/out/) a SQLite store holding one simulated
season of ``--candidates`` candidates and a model trained on an earlier simulated
season (``outreach.replay.train_replay_model``), then picks the season's day with
the most active candidates. Each run: a fresh ``DayState`` runs the day four weeks
before and the day before (untimed), then the day itself is timed: what ``POST
/v1/runs/daily`` does in a service that runs every day (the in-season check's first
window is the day run four weeks before; ``training.monitor.CohortCache``). For
comparison, the same day without a state (everything rebuilt, as the Prefect flow
in a fresh process does). Prints the active candidates, the day's new events,
medians and each run, in wall-clock and in CPU seconds (``time.process_time``, the
process's threads together), and the load average.

``--candidates 2700`` gives the issue's size: about 2,600 active on the chosen day,
with about 600 new events that day. ``--new-events 3000`` tops the day up to the
issue's 3,000 new events (candidates opening messages, spread over the active ones,
written through the store's checked load) in a copy of the store, so that more
candidates have new events to rebuild.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import shutil
import statistics

from common import OUT, describe, machine, timed_runs
from sqlalchemy import Engine, func, select

from features.population import active_on, scored_population
from features.source import load_events, load_outcomes
from serving.services.daily import DayState, run_day
from store.db import make_engine, migrate
from store.schema import Event
from training.config import load_config
from training.monitor import MonitorConfig
from training.predictor import Predictor


def _store(candidates: int) -> Engine:
    from outreach.replay import REPLAY_SEASON
    from simulator import simulate_season, write_bundle
    from store.ingest import ingest_bundle

    OUT.mkdir(parents=True, exist_ok=True)  # a fresh clone has no benchmarks/out yet
    path = OUT / f"day-run-{candidates}.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    if not path.exists():
        migrate(engine)
        folder = write_bundle(
            simulate_season(REPLAY_SEASON, candidates, 21, truth=False), OUT / "day-run-bundle"
        )
        ingest_bundle(engine, folder)
    return engine


def _topped_up(engine: Engine, candidates: int, wanted: int) -> Engine:
    """A copy of the store whose busiest-by-actives day has ``wanted`` new events."""
    from serving.services.writes import check_and_load

    path = OUT / f"day-run-{candidates}-{wanted}.sqlite"
    shutil.copyfile(OUT / f"day-run-{candidates}.sqlite", path)
    copy = make_engine(f"sqlite:///{path}")
    events = load_events(copy)
    population = scored_population(events, load_outcomes(copy))
    day = max(sorted(set(events["local_day"])), key=lambda d: len(active_on(population, d)))
    ids = sorted(active_on(population, day)["candidate_id"])
    have = int((events["local_day"] == day).sum())
    rng = random.Random(7)
    items = [
        {
            "event_id": f"bench-open-{n}",
            "candidate_id": rng.choice(ids),
            "type": "message_opened",
            "ts": f"{day}T{9 + n % 12:02d}:{n % 60:02d}:00+08:00",
            "channel": "wechat",
            "actor": "candidate",
        }
        for n in range(max(0, wanted - have))
    ]
    with copy.begin() as conn:
        check_and_load(copy, conn, "events", items, "bench:top-up")
    return copy


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--candidates", type=int, default=6000)
    parser.add_argument("--new-events", type=int, default=0)
    args = parser.parse_args()
    from outreach.replay import train_replay_model

    engine = _store(args.candidates)
    if args.new_events:
        engine = _topped_up(engine, args.candidates, args.new_events)
    model = Predictor.of(train_replay_model(1000, 20, load_config()), "bench")
    events = load_events(engine)
    population = scored_population(events, load_outcomes(engine))
    days = sorted(set(events["local_day"]))
    day = max(days, key=lambda d: len(active_on(population, d)))
    before = day - dt.timedelta(days=1)
    active = len(active_on(population, day))
    with engine.connect() as conn:
        new = conn.execute(
            select(func.count()).select_from(Event).where(Event.local_day == day)
        ).scalar_one()
    state: dict[str, DayState] = {}

    def warm() -> None:
        state["s"] = DayState()
        run_day(engine, model, day - dt.timedelta(days=MonitorConfig().window_days), state["s"])
        run_day(engine, model, before, state["s"])

    cpu_incremental: list[float] = []
    cpu_full: list[float] = []
    incremental = timed_runs(
        lambda: run_day(engine, model, day, state["s"]), args.runs, warm, cpu_incremental
    )
    full = timed_runs(lambda: run_day(engine, model, day), args.runs, cpu=cpu_full)
    with open("/proc/loadavg") as f:  # a shared machine: the load the figures ran under
        load = f.read().split()[0]
    print(f"{machine()}; day {day}: {active} active candidates, {new} new events that day")
    print(f"incremental day run: {describe(incremental)}; CPU {describe(cpu_incremental)}")
    print(f"full rebuild day run: {describe(full)}; CPU {describe(cpu_full)}")
    print(f"load average at the end: {load}")
    print(
        json.dumps(
            {
                "active": active,
                "new_events": new,
                "incremental_s": round(statistics.median(incremental), 2),
                "full_s": round(statistics.median(full), 2),
                "incremental_cpu_s": round(statistics.median(cpu_incremental), 2),
                "full_cpu_s": round(statistics.median(cpu_full), 2),
            }
        )
    )


if __name__ == "__main__":
    main()

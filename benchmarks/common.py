"""Helpers shared by the benchmark scripts: timing runs and a cached large bundle."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine

OUT = Path(__file__).parent / "out"


def timed_runs(
    fn: Callable[[], object],
    runs: int,
    setup: Callable[[], object] | None = None,
    cpu: list[float] | None = None,
) -> list[float]:
    """Wall-clock seconds of ``runs`` calls of ``fn`` (``setup`` untimed before each);
    ``cpu`` (if given) gets each call's CPU seconds of this process, all its threads
    (``time.process_time``: less noisy than the wall clock on a shared machine)."""
    times = []
    for _ in range(runs):
        if setup is not None:
            setup()
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - start)
        if cpu is not None:
            cpu.append(time.process_time() - start_cpu)
    return times


def describe(times: list[float]) -> str:
    runs = ", ".join(f"{t:.1f}" for t in times)
    return f"median {statistics.median(times):6.1f} s  (runs: {runs})"


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def large_bundle(events_wanted: int = 1_000_000, seed: int = 11) -> Path:
    """A one-season bundle with exactly ``events_wanted`` events (simulated once, then cached)."""
    from simulator import simulate_season, write_bundle

    folder = OUT / f"bundle-{events_wanted}"
    if (folder / "events.csv").is_file():
        return folder
    n = max(100, events_wanted // 70)
    while True:
        result = simulate_season("2023-autumn", n, seed, truth=False)
        if len(result.events) >= events_wanted:
            break
        n = int(n * events_wanted / len(result.events) * 1.05) + 1
    result.events = result.events.iloc[:events_wanted]
    keep = set(result.events["candidate_id"])
    result.candidates = result.candidates[result.candidates["candidate_id"].isin(keep)]
    result.outcomes = result.outcomes[result.outcomes["candidate_id"].isin(keep)]
    return write_bundle(result, folder)


def season_store(name: str, candidates: int, seed: int) -> Engine:
    """A SQLite store of 2023-autumn and 2024-autumn, ``candidates`` each (no truth.csv),
    simulated with ``seed`` and ingested once, then cached under ``OUT`` as ``name``."""
    from simulator import simulate_seasons, write_bundle
    from store.db import make_engine, migrate
    from store.ingest import ingest_bundle

    path = OUT / f"{name}-store-{candidates}-{seed}.db"
    engine = make_engine(f"sqlite:///{path}")
    if not path.exists():
        migrate(engine)
        seasons = ["2023-autumn", "2024-autumn"]
        for r in simulate_seasons(seasons, candidates, seed, truth=False):
            folder = OUT / f"{name}-bundles-{candidates}-{seed}" / r.season
            ingest_bundle(engine, write_bundle(r, folder))
    return engine

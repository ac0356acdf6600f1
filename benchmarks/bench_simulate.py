"""Simulate two seasons of 10,000 candidates: with and without truth roll-outs.

Run: .venv/bin/python benchmarks/bench_simulate.py [--runs 3] [--candidates 10000]
Side by side: the parallel run (one process per season, the default) and the
same work in one process.
"""

from __future__ import annotations

import argparse
import json
import statistics

from common import describe, machine, timed_runs

from simulator import simulate_seasons

SEASONS = ["2023-autumn", "2024-autumn"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--candidates", type=int, default=10_000)
    args = parser.parse_args()
    n = args.candidates
    print(f"simulate {len(SEASONS)} seasons x {n} candidates, {args.runs} runs; {machine()}")

    def run(truth: bool, workers: int | None) -> None:
        for result in simulate_seasons(SEASONS, n, 7, truth=truth, workers=workers):
            assert len(result.candidates) == n

    cases = {
        "with truth, 2 processes": (True, None),
        "with truth, 1 process": (True, 1),
        "no truth, 2 processes": (False, None),
        "no truth, 1 process": (False, 1),
    }
    figures = {}
    for label, (truth, workers) in cases.items():
        times = timed_runs(lambda t=truth, w=workers: run(t, w), args.runs)
        figures[label] = round(statistics.median(times), 1)
        print(f"  {label:26s} {describe(times)}")
    print(json.dumps({"candidates": n, "seasons": len(SEASONS), "median_s": figures}))


if __name__ == "__main__":
    main()

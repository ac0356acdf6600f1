"""Learned action effects against the simulator's own, on bigger seasons and several seeds.

Run: .venv/bin/python benchmarks/bench_effects.py [--candidates 2000] [--seeds 3] [--days 8]
For each seed: simulate one season (the template cadence), learn each action's
effect (``outreach.effects``), and measure the true effect by paired roll-outs
on the units of ``--days`` random days (``simulator.effects``). Prints each
action's learned cut in renege probability with its 95% interval, the true cut,
whether the interval covers it, and the time each step took; last a JSON line.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from common import machine

from outreach.effects import EffectsConfig, build_units, effects_from_units
from outreach.plan import PlanConfig
from outreach.replay import season_frames
from simulator.effects import true_effects
from simulator.season import simulate_season

SEASON = "2024-25"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--candidates", type=int, default=2000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--days", type=int, default=8)
    parser.add_argument("--rollouts", type=int, default=12)
    args = parser.parse_args()
    n = args.candidates
    print(f"effects on {args.seeds} seasons x {n} candidates; {machine()}")
    cfg = EffectsConfig(segments=(), max_width=10.0)
    results = []
    for seed in range(1, args.seeds + 1):
        t0 = time.perf_counter()
        frames = season_frames(simulate_season(SEASON, n, seed, truth=False))
        t1 = time.perf_counter()
        units = build_units(
            frames["events"], frames["candidates"], frames["outcomes"], frames["content"], cfg
        )
        learned = effects_from_units(units, PlanConfig().effects, cfg).set_index("action")
        t2 = time.perf_counter()
        u = units.frame
        rng = np.random.default_rng(seed)
        days = np.sort(u["day"].unique())
        picked = u[u["day"].isin(set(rng.choice(days, args.days, replace=False)))]
        truth = true_effects(
            SEASON, n, seed, picked[["candidate_id", "day", "action"]], rollouts=args.rollouts
        )
        truth["weight"] = picked["weight"].to_numpy()
        truth = truth.dropna()
        t3 = time.perf_counter()
        took = f"simulate {t1 - t0:.0f} s, learn {t2 - t1:.0f} s, truth {t3 - t2:.0f} s"
        print(f"seed {seed}: {took}")
        for action in ("call", "answer_question", "send_content"):
            row = learned.loc[action]
            part = truth[truth["action"] == action]
            true_cut = float(np.average(part["true_cut"], weights=part["weight"]))
            covered = bool(row["abs_low"] <= true_cut <= row["abs_high"])
            print(
                f"  {action:<16} learned {100 * row['abs_effect']:+5.1f} "
                f"[{100 * row['abs_low']:+5.1f}, {100 * row['abs_high']:+5.1f}] pp, "
                f"true {100 * true_cut:+5.1f} pp ({len(part)} units), covered: {covered}"
            )
            results.append(
                {
                    "seed": seed,
                    "action": action,
                    "learned": float(row["abs_effect"]),
                    "low": float(row["abs_low"]),
                    "high": float(row["abs_high"]),
                    "true": true_cut,
                    "covered": covered,
                }
            )
    covered = sum(r["covered"] for r in results)
    print(f"covered {covered} of {len(results)}")
    print(json.dumps({"candidates": n, "results": results}))


if __name__ == "__main__":
    main()

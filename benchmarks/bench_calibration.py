"""The in-season calibration check on a stable and on shifted seasons (README, "In-season
calibration and profile history").

Two finished seasons (400 candidates each, seed 5: the tests' small store), a model
trained on the first with the tests' small configuration, then a third season as known
on 2026-01-15 simulated with the usual parameters and with shifted ones. For each: the
check, and the mean risk shown to the people active that day (before and after the
refit) against the rate at which they went on to renege (Wilson 95% interval); the same
on the whole season's weekly snapshots once it has ended.

    KEEPWARM_TRAINING_CONFIG=tests/data/training-small.toml \\
        .venv/bin/python benchmarks/bench_calibration.py [--candidates 400]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
from pathlib import Path

from scipy.stats import binomtest

CHECK_DAY = dt.date(2026, 1, 15)
SEASONS = {
    "usual": {},
    "competing_rate 0.012": {"competing_rate": 0.012},
    "withdraw_rate 0.03": {"withdraw_rate": 0.03},
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--candidates", type=int, default=400)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("KEEPWARM_TRAINING_CONFIG", "tests/data/training-small.toml")
    from config import Settings
    from features.build import build_features
    from features.population import load_day
    from simulator import simulate_season, simulate_seasons, write_bundle
    from simulator.params import SimParams
    from store.db import open_store
    from store.ingest import ingest_bundle
    from training.config import load_config
    from training.monitor import check_calibration, shifted
    from training.predictor import Predictor
    from training.train import load_season_data, season_snapshots, train_model

    root = Path(tempfile.mkdtemp(prefix="bench-calibration-"))
    past = list(
        simulate_seasons(["2023-autumn", "2024-autumn"], args.candidates, args.seed, workers=1)
    )
    for name, params in SEASONS.items():
        home = root / name.replace(" ", "-")
        engine = open_store(Settings(home=home))
        for r in past:
            ingest_bundle(engine, write_bundle(r, home / "bundles" / r.season))
        if name == "usual":  # the first: the model every season is checked with
            result = train_model(
                load_season_data(engine), ["2023-autumn"], "2024-autumn", load_config()
            )
            model = Predictor.of(result.model, "bench")
        full = simulate_season(
            "2025-autumn", args.candidates, args.seed, SimParams(**params), truth=False
        )
        ingest_bundle(engine, write_bundle(full.until(CHECK_DAY), home / "bundles" / "cut"))
        check = check_calibration(engine, model, CHECK_DAY)
        day = load_day(engine, CHECK_DAY)
        rows = build_features(day.events, day.candidates, day.spine, day.content)
        risk = model.risk(model.matrix(rows))
        went = (
            rows["candidate_id"]
            .map(full.outcomes.set_index("candidate_id")["outcome"])
            .eq("reneged")
        )
        ci = binomtest(int(went.sum()), len(went)).proportion_ci(method="wilson")
        print(f"{name}: {full.summary()}")
        print(f"  {check.line()}")
        print(
            f"  active on {CHECK_DAY}: {len(rows)}, mean risk {risk.mean():.3f}, after the refit "
            f"{shifted(risk, check.shift).mean():.3f}, "
            f"best fit {shifted(risk, check.shift_best).mean():.3f}; "
            f"went on to renege {went.mean():.3f} [{ci.low:.3f}, {ci.high:.3f}]"
        )
        ingest_bundle(engine, write_bundle(full, home / "bundles" / "whole"))
        snaps = season_snapshots(load_season_data(engine), ["2025-autumn"], load_config())
        p = model.risk(model.matrix(snaps))
        print(
            f"  whole season's weekly snapshots: observed {snaps['label'].mean():.3f}, shown "
            f"{p.mean():.3f}, after the refit {shifted(p, check.shift).mean():.3f}"
        )
        engine.dispose()


if __name__ == "__main__":
    main()

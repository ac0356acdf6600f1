"""Features, training and daily scoring at size, on a simulated store.

Run: .venv/bin/python benchmarks/bench_model.py [--runs 3] [--candidates 10000]
Builds a SQLite store with two simulated seasons (cached under
benchmarks/out/), then times, each as the median of several runs:
- the feature builder on ~300,000 snapshot rows drawn from ~1.5M events;
- training (LightGBM, calibration) on those rows, next to the logistic
  regression baseline on the same rows (the peer a data scientist would try first);
- daily scoring with reasons for 100,000 active candidates (a day's rows
  replicated to that size), next to a bare booster.predict on the same rows.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import pandas as pd
from common import OUT, describe, machine, timed_runs

from features.build import build_features
from features.catalogue import FEATURE_NAMES
from features.source import load_events
from simulator import simulate_seasons, write_bundle
from store.db import make_engine, migrate
from store.ingest import ingest_bundle
from training.baselines import fit_logistic
from training.config import load_config
from training.model import DropoutClassifier
from training.predictor import Predictor
from training.train import load_season_data, season_spine


def _store(candidates: int):  # type: ignore[no-untyped-def]
    path = OUT / f"model-store-{candidates}.db"
    engine = make_engine(f"sqlite:///{path}")
    if not path.exists():
        migrate(engine)
        for r in simulate_seasons(["2023-autumn", "2024-autumn"], candidates, 7, truth=False):
            ingest_bundle(engine, write_bundle(r, OUT / f"model-bundles-{candidates}" / r.season))
    return engine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--candidates", type=int, default=10_000)
    parser.add_argument("--snapshots", type=int, default=300_000)
    parser.add_argument("--active", type=int, default=100_000)
    args = parser.parse_args()
    cfg = load_config()
    engine = _store(args.candidates)
    started = time.perf_counter()
    data = load_season_data(engine)
    events = load_events(engine)  # the feature build below is timed on frames in memory
    load_s = time.perf_counter() - started
    spine = season_spine(data, ["2023-autumn", "2024-autumn"], cfg)
    spine = spine.sample(n=min(args.snapshots, len(spine)), random_state=1).reset_index(drop=True)
    print(f"model benchmarks, {args.runs} runs; {machine()}")
    print(
        f"  store: {len(events)} events, {len(data.candidates)} candidates "
        f"(read from SQLite in {load_s:.1f} s); {len(spine)} snapshot rows"
    )
    figures: dict[str, float] = {}

    frame: dict[str, pd.DataFrame] = {}

    def features() -> None:
        frame["x"] = build_features(events, data.candidates, spine, data.content)

    times = timed_runs(features, args.runs)
    figures["features_s"] = statistics.median(times)
    print(f"  {'features for ' + str(len(spine)) + ' snapshots':38s} {describe(times)}")

    x, y = frame["x"], spine["label"].to_numpy()
    groups = spine["candidate_id"].to_numpy()
    feats = list(FEATURE_NAMES)
    model: dict[str, DropoutClassifier] = {}

    def train() -> None:
        model["m"] = DropoutClassifier(params=cfg.lightgbm, num_boost_round=cfg.num_boost_round)
        model["m"].fit(x[feats], y, groups)

    times = timed_runs(train, args.runs)
    figures["train_s"] = statistics.median(times)
    print(f"  {'train LightGBM + calibration':38s} {describe(times)}")
    times = timed_runs(lambda: fit_logistic(x, y, feats), args.runs)
    figures["train_logistic_s"] = statistics.median(times)
    print(f"  {'train logistic regression (peer)':38s} {describe(times)}")

    reps = int(np.ceil(args.active / len(x)))
    day = pd.concat([x] * reps, ignore_index=True).head(args.active)
    m = model["m"]

    predictor = Predictor.of(m)

    def score() -> None:
        predictor.explain(predictor.matrix(day), top=3)

    times = timed_runs(score, args.runs)
    figures["score_with_reasons_s"] = statistics.median(times)
    print(f"  {'score ' + str(len(day)) + ' candidates with reasons':38s} {describe(times)}")
    prepared = day[feats]
    times = timed_runs(
        lambda: m.booster_.predict(
            prepared.assign(role_family=prepared["role_family"].astype("category"))
        ),
        args.runs,
    )
    figures["bare_predict_s"] = statistics.median(times)
    print(f"  {'bare booster.predict (peer)':38s} {describe(times)}")
    print(json.dumps({k: round(v, 1) for k, v in figures.items()}))


if __name__ == "__main__":
    main()

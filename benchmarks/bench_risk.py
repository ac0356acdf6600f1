"""The risk a recruiter sees, on a 2,500-candidate season (issue 16).

Run: .venv/bin/python benchmarks/bench_risk.py [--candidates 2500] [--seeds 1 2 3]
For each seed, simulates 2023-autumn and 2024-autumn (cached under benchmarks/out/),
trains on 2023 with the project's configuration and tests on 2024, the season the
model never saw. Prints, per seed and as medians over seeds:
- the calibrator chosen and the held-out (nested, by candidate) figures of each kind;
- on the test season, each kind's log loss, ECE and ties: the largest share of a
  day's top 5% rows showing one value (issue 16 asks for at most a third);
- the cap the held-out calibration supports against the highest risk shown and the
  observed renege rate of the test season's top rows;
- calibration per segment (competing offer, far from home, tier, horizon).
"""

from __future__ import annotations

import argparse
import json
import statistics

import numpy as np
from common import machine, season_store

from training.config import load_config
from training.evaluate import expected_calibration_error, segment_calibration, top_tie_share
from training.model import CALIBRATORS, Calibration
from training.train import load_season_data, train_model

SEASONS = ["2023-autumn", "2024-autumn"]


def _log_loss(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def run(candidates: int, seed: int) -> dict[str, object]:
    cfg = load_config()
    engine = season_store("risk", candidates, seed)
    result = train_model(load_season_data(engine), SEASONS[:1], SEASONS[1], cfg)
    model, test = result.model, result.test
    train_y = model.train_y_
    raw = model.raw_proba(test[model.features_])
    y = test["label"].to_numpy(dtype=float)
    days = test["as_of"].astype(str).to_numpy()
    chosen = model.calibration_
    kinds: dict[str, dict[str, float]] = {}
    for kind in CALIBRATORS:
        # before: each kind as it was fitted until now, clipped at [0.5%, 99.5%]
        p = Calibration.fit(kind, model.out_of_fold_, train_y)(raw)
        kinds[kind] = {
            "log_loss": _log_loss(y, p),
            "ece": expected_calibration_error(y, p),
            "top_tie_share": top_tie_share(p, days),
            "max_risk": float(p.max()),
        }
    risk = test["risk_keepwarm"].to_numpy()
    top = risk >= np.quantile(risk, 0.99)
    segments = segment_calibration(test, risk, cfg.horizons)
    return {
        "seed": seed,
        "test_rows": len(test),
        "test_candidates": int(test["candidate_id"].nunique()),
        "chosen": chosen.kind,
        "cap": chosen.cap,
        "floor": chosen.floor,
        "held_out_in_training": chosen.support.get("held_out"),
        "test_by_kind": kinds,
        "shown": {
            "log_loss": _log_loss(y, risk),
            "ece": expected_calibration_error(y, risk),
            "top_tie_share": top_tie_share(risk, days),
            "max_risk": float(risk.max()),
            "top_1pct_predicted": float(risk[top].mean()),
            "top_1pct_observed": float(y[top].mean()),
        },
        "segments": segments,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--candidates", type=int, default=2500)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    args = parser.parse_args()
    print(f"risk shown, {args.candidates} candidates a season, seeds {args.seeds}; {machine()}")
    runs = []
    for seed in args.seeds:
        out = run(args.candidates, seed)
        runs.append(out)
        shown = out["shown"]
        print(
            f"\nseed {seed}: {out['test_rows']} held-out rows, {out['test_candidates']} candidates"
        )
        print(f"  chosen {out['chosen']}, shown within [{out['floor']:.3f}, {out['cap']:.3f}]")
        print("  kind       log loss   ECE     ties (top 5%)  max risk   (test season)")
        for kind, f in out["test_by_kind"].items():
            print(
                f"  {kind:10s} {f['log_loss']:.4f}    {f['ece']:.4f}  {f['top_tie_share']:.2f}"
                f"           {f['max_risk']:.3f}"
            )
        print(
            f"  shown      {shown['log_loss']:.4f}    {shown['ece']:.4f}  "
            f"{shown['top_tie_share']:.2f}           {shown['max_risk']:.3f}"
            f"  (top 1%: predicted {shown['top_1pct_predicted']:.3f}, "
            f"observed {shown['top_1pct_observed']:.3f})"
        )
        print("  segment          group    rows  predicted observed gap (95%)")
        for s in out["segments"]:
            print(
                f"  {s['segment']:16s} {s['group']:8s} {s['rows']:6d}  {s['predicted']:.3f}"
                f"     {s['observed']:.3f}    {s['gap']:+.3f} ({s['gap_low']:+.3f}, "
                f"{s['gap_high']:+.3f}){'  OFF' if s['off'] else ''}"
            )
    ties = [r["shown"]["top_tie_share"] for r in runs]  # type: ignore[index]
    print(f"\nmedian ties over seeds: {statistics.median(ties):.2f} (max {max(ties):.2f})")
    print(json.dumps({"ties": ties, "chosen": [r["chosen"] for r in runs]}))


if __name__ == "__main__":
    main()

"""When, not only whether: risk_30d against the eventual risk on "reneges within 30 days".

Run: .venv/bin/python benchmarks/bench_within.py [--candidates 2500] [--seeds 1 2 3]
For each seed, a SQLite store with two simulated seasons (cached under
benchmarks/out/); the model is trained on 2023-autumn with training/config.toml
(``training.train.train_model``, the path ``keepwarm train`` takes) and scored
on 2024-autumn, which it never saw. Printed per seed and horizon (days to the
start date): the AUC of risk_30d and of the eventual risk for "reneges within
30 days of the snapshot", their difference, each with a 95% interval from 200
candidate-clustered bootstrap draws (``training.evaluate.within_comparison``);
and how much the day's top 5% by risk_30d overlaps the top 5% by risk. Then the
median over seeds.
"""

from __future__ import annotations

import argparse
import json
import statistics

import numpy as np
import pandas as pd
from common import OUT, machine, season_store

from training.config import load_config
from training.evaluate import top_of_each_day
from training.train import load_season_data, train_model

SEASONS = ["2023-autumn", "2024-autumn"]


def top_overlap(test: pd.DataFrame, share: float) -> float:
    """Share of the day's top ``share`` by risk_30d that is also in the top by risk."""
    days = test["as_of"].astype(str).to_numpy()
    soon = top_of_each_day(test["risk_30d"].to_numpy(), days, share)
    ever = top_of_each_day(test["risk_keepwarm"].to_numpy(), days, share)
    return float((soon & ever).sum() / max(soon.sum(), 1))


def _line(row: pd.Series) -> str:
    def ci(key: str) -> str:
        return f"{row[key]:.3f} ({row[key + '_low']:.3f} to {row[key + '_high']:.3f})"

    return (
        f"  {row['slice']:<18} {int(row['n']):>7} rows {int(row['positives']):>5} pos  "
        f"risk_30d {ci('auc_30d')}  eventual {ci('auc_eventual')}  diff {ci('difference')}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--candidates", type=int, default=2500)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    args = parser.parse_args()
    cfg = load_config()
    print(f"risk_30d vs eventual risk, {args.candidates} candidates a season; {machine()}")
    tables, overlaps = [], []
    for seed in args.seeds:
        data = load_season_data(season_store("within", args.candidates, seed))
        result = train_model(data, SEASONS[:1], SEASONS[1], cfg)
        assert result.within is not None
        overlap = top_overlap(result.test, cfg.hr_capacity_share)
        print(f"seed {seed}: top {cfg.hr_capacity_share:.0%} a day overlap {overlap:.2f}")
        for _, row in result.within.iterrows():
            print(_line(row))
        tables.append(result.within.assign(seed=seed))
        overlaps.append(overlap)
    both = pd.concat(tables, ignore_index=True)
    print(f"median over seeds {args.seeds} (top-5% overlap {statistics.median(overlaps):.2f}):")
    cols = ["auc_30d", "auc_eventual", "difference", "difference_low", "difference_high"]
    medians = both.groupby("slice", sort=False)[cols].median()
    for name, row in medians.iterrows():
        print(
            f"  {name:<18} risk_30d {row['auc_30d']:.3f}  eventual {row['auc_eventual']:.3f}  "
            f"diff {row['difference']:+.3f} (interval {row['difference_low']:+.3f} "
            f"to {row['difference_high']:+.3f})"
        )
    OUT.mkdir(exist_ok=True)
    out = OUT / f"within-{args.candidates}.json"
    out.write_text(
        json.dumps(
            {
                "seeds": args.seeds,
                "overlap_top": overlaps,
                "rows": json.loads(both.replace({np.nan: None}).to_json(orient="records")),
            },
            indent=1,
        )
    )
    print(f"written {out}")


if __name__ == "__main__":
    main()

"""``keepwarm compare``: two registered versions on the same held-out snapshots, logged.

The season is a closed one that neither version was fitted on (the latest such, unless
named); both score its weekly labelled snapshots, and ``training.gate`` gives paired,
candidate-clustered intervals of the differences (challenger minus champion) pooled, by
horizon and by segment, and each day's AUCs and top-of-list overlap.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd

from config import Settings
from store.db import open_store
from store.errors import KeepwarmError
from training.config import TrainConfig
from training.gate import Comparison, by_day, paired_comparison, segments
from training.tracking import Champion, configure, load_version, model_name
from training.train import closed_seasons, load_season_data, season_snapshots


@dataclass
class VersionComparison:
    challenger: Champion
    champion: Champion
    season: str
    comparison: Comparison
    daily: pd.DataFrame
    run_id: str

    def summary(self) -> dict[str, Any]:
        row = self.comparison.row("all", "auc")
        out: dict[str, Any] = {
            "challenger": self.challenger.version,
            "champion": self.champion.version,
            "season": self.season,
            "run_id": self.run_id,
        }
        for metric in ("auc", "log_loss", "ece"):
            r = self.comparison.row("all", metric)
            out[metric] = {
                "challenger": round(float(r["challenger"]), 4),
                "champion": round(float(r["champion"]), 4),
                "diff": round(float(r["diff"]), 4),
                "ci95": [round(float(r["lo"]), 4), round(float(r["hi"]), 4)],
            }
        out["auc_gain_clears_zero"] = bool(row["lo"] > 0)
        out["mean_top_overlap"] = round(float(self.daily["top_overlap"].mean()), 4)
        return out


def _held_out(closed: list[str], a: Champion, b: Champion, season: str | None) -> str:
    for model in (a, b):
        if model.fitted_on is None:
            raise KeepwarmError(
                f"model v{model.version} has no record of the seasons it was fitted on: "
                "no season can be shown to be held out for it"
            )
    seen = set(a.fitted_on or []) | set(b.fitted_on or [])
    if season is not None:
        if season not in closed:
            raise KeepwarmError(
                f"--season {season} is not a closed season; closed: {', '.join(closed) or 'none'}"
            )
        for model in (a, b):
            if season in (model.fitted_on or []):
                raise KeepwarmError(
                    f"--season {season}: model v{model.version} was fitted on it, so it is "
                    "not held out"
                )
        return season
    free = [s for s in closed if s not in seen]
    if not free:
        raise KeepwarmError(
            f"no closed season is held out from both models (fitted on {', '.join(sorted(seen))}; "
            f"closed: {', '.join(closed) or 'none'}): ingest a newer finished season"
        )
    return free[-1]


def compare_versions(
    settings: Settings,
    cfg: TrainConfig,
    challenger: str,
    champion: str | None = None,
    season: str | None = None,
    resamples: int | None = None,
) -> VersionComparison:
    """Compare two registered versions (``champion`` None: the one behind the alias) on a
    held-out closed season; logs the comparison as an MLflow run.

    Raises KeepwarmError for an unknown version, no champion, no held-out season, or a
    version needing features the data lacks.
    """
    client = configure(settings)
    if champion is None:
        try:
            champion = str(
                client.get_model_version_by_alias(model_name(settings), "champion").version
            )
        except mlflow.exceptions.MlflowException as exc:
            raise KeepwarmError("no champion model yet: give --champion V") from exc
    new, old = load_version(settings, challenger), load_version(settings, champion)
    engine = open_store(settings)
    try:
        chosen = _held_out(closed_seasons(engine), new, old, season)
        snaps = season_snapshots(load_season_data(engine), [chosen], cfg)
    finally:
        engine.dispose()
    risks = []
    for m in (new, old):
        missing = [f for f in m.model.features_ if f not in snaps.columns]
        if missing:
            raise KeepwarmError(
                f"model v{m.version} needs features this data lacks: {', '.join(missing[:5])}"
            )
        risks.append(m.model.predict_proba(snaps[m.model.features_])[:, 1])
    rules = cfg.gate
    cmp = paired_comparison(
        snaps,
        risks[0],
        risks[1],
        segments(snaps, cfg.horizons),
        resamples or rules.resamples,
        rules.level,
        rules.seed,
    )
    daily = by_day(snaps, risks[0], risks[1], cfg.hr_capacity_share)
    with (
        tempfile.TemporaryDirectory() as tmp,
        mlflow.start_run(run_name=f"compare v{new.version} vs v{old.version}") as run,
    ):
        mlflow.set_tags(
            {
                "kind": "comparison",
                "comparison.challenger": new.version,
                "comparison.champion": old.version,
                "comparison.season": chosen,
            }
        )
        mlflow.log_params({"resamples": cmp.resamples, "level": cmp.level, "season": chosen})
        metrics: dict[str, float] = {}
        for r in cmp.table.itertuples(index=False):
            slug = r.slice.replace("=", "_").replace(">", "gt").replace("<", "le")
            for key in ("challenger", "champion", "diff", "lo", "hi"):
                value = float(getattr(r, key))
                if value == value:  # not NaN
                    metrics[f"{slug}.{r.metric}.{key}"] = value
        mlflow.log_metrics(metrics)  # one batch (log_batch), not a call a metric
        folder = Path(tmp)
        cmp.table.to_csv(folder / "comparison.csv", index=False)
        daily.to_csv(folder / "by_day.csv", index=False)
        mlflow.log_artifact(str(folder / "comparison.csv"))
        mlflow.log_artifact(str(folder / "by_day.csv"))
        run_id = run.info.run_id
    return VersionComparison(new, old, chosen, cmp, daily, run_id)

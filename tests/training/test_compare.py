"""``keepwarm compare`` on the shared trained state: two versions, one held-out season."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pytest

from config import get_settings
from store.db import open_store
from store.errors import KeepwarmError
from tests.conftest import cli_here
from training.compare import compare_versions
from training.config import load_config
from training.tracking import configure, log_and_register
from training.train import fit_and_evaluate, load_season_data, season_snapshots


def _second_version() -> str:
    """Another recipe fitted on 2023-autumn, registered unpromoted."""
    settings = get_settings()
    engine = open_store(settings)
    data = load_season_data(engine)
    engine.dispose()
    cfg = load_config()
    # another recipe, cheap to fit: half the learning rate, two folds
    cfg = cfg.model_copy(update={"lightgbm": {**cfg.lightgbm, "learning_rate": 0.05}, "folds": 2})
    train = season_snapshots(data, ["2023-autumn"], cfg)
    test = season_snapshots(data, ["2024-autumn"], cfg)
    result = fit_and_evaluate(train, test, data.truth, ["2023-autumn"], "2024-autumn", cfg)
    return log_and_register(result, {"trained_by": "a test"}, settings, "never", {}).version


def test_compare_prints_both_versions_on_a_held_out_season_and_logs_it(
    served_home: Path,
) -> None:
    assert get_settings().mlflow_tracking_uri is None  # the served home's own registry
    version = _second_version()
    # in this process (the CLI's command, not its process, is what is tested): a fresh
    # process would import everything again
    done = cli_here("compare", "--challenger", version, "--bootstrap", "40")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert f"challenger v{version} vs champion v1 on 2024-autumn" in out
    for row in ("all ", "horizon=<=60d", "horizon=>180d", "competing_offer=yes", "school_tier="):
        assert row in out
    assert "by day" in out and "2024-" in out.split("by day", 1)[1]
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["season"] == "2024-autumn" and summary["champion"] == "1"
    lo, hi = summary["auc"]["ci95"]
    assert lo <= summary["auc"]["diff"] <= hi
    assert 0 <= summary["mean_top_overlap"] <= 1

    configure(get_settings())
    run = mlflow.get_run(summary["run_id"])
    assert run.data.tags["kind"] == "comparison"
    assert run.data.tags["comparison.season"] == "2024-autumn"
    assert "all.auc.diff" in run.data.metrics
    names = {a.path for a in mlflow.MlflowClient().list_artifacts(summary["run_id"])}
    assert {"comparison.csv", "by_day.csv"} <= names

    # a season either model was fitted on is not held out; nor is an unknown version
    cfg = load_config()
    with pytest.raises(KeepwarmError) as refused:
        compare_versions(get_settings(), cfg, version, season="2023-autumn")
    assert str(refused.value) == (
        f"--season 2023-autumn: model v{version} was fitted on it, so it is not held out"
    )
    with pytest.raises(KeepwarmError, match="no model version 99 of keepwarm-dropout"):
        compare_versions(get_settings(), cfg, "99")

"""The bias audit: group metrics, the four-fifths flag, intervals, and the CLI's JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame, selection_rate

from features.catalogue import FEATURE_NAMES
from tests.conftest import cli_here
from training.evaluate import top_of_each_day as selected
from training.fairness import GROUPINGS, fairness_report, home_region


def test_home_region_maps_cities_and_says_when_it_cannot() -> None:
    assert home_region("北京") == "华北" and home_region("成都") == "西南"
    assert home_region("火星") == "other" and home_region(None) == "unknown"


def test_selection_is_the_top_share_of_each_day() -> None:
    risk = np.array([0.9, 0.1, 0.5, 0.2, 0.8, 0.3])
    days = np.array(["d1", "d1", "d1", "d2", "d2", "d2"])
    assert selected(risk, days, 0.34).tolist() == [True, False, False, False, True, False]


def _frame(tilt: float, seed: int = 0) -> pd.DataFrame:
    """300 candidates x 10 days; ``tilt`` raises women's risk (0: the groups alike)."""
    rng = np.random.default_rng(seed)
    ids = np.repeat([f"c{i}" for i in range(300)], 10)
    women = np.repeat(rng.random(300) < 0.5, 10)
    days = np.tile([f"d{k}" for k in range(10)], 300)
    risk = np.clip(rng.random(len(ids)) * 0.5 + tilt * women, 0, 1)
    frame = pd.DataFrame(
        {
            "candidate_id": ids,
            "as_of": days,
            "risk": risk,
            "label": (rng.random(len(ids)) < risk).astype(int),
            "gender": np.where(women, "female", "male"),
            "school_tier": np.repeat(rng.choice(["tier 1", "tier 2"], 300), 10),
            "home_region": np.repeat(rng.choice(["华东", "华北"], 300), 10),
        }
    )
    frame["selected"] = selected(risk, days, 0.2)
    return frame


def test_a_tilted_model_is_flagged_and_an_even_one_is_not() -> None:
    tilted = fairness_report(_frame(tilt=0.4), boot=100)["gender"]
    assert tilted["flagged"] and tilted["min_impact_ratio"] < 0.8
    assert tilted["groups"]["female"]["impact_ratio"] == 1.0
    even = fairness_report(_frame(tilt=0.0), boot=100)["gender"]
    assert not even["flagged"] and even["min_impact_ratio"] > 0.8


def test_group_figures_agree_with_fairlearn_and_sit_inside_their_intervals() -> None:
    frame = _frame(tilt=0.2)
    report = fairness_report(frame, boot=200)
    by_hand = MetricFrame(
        metrics=selection_rate,
        y_true=frame["label"],
        y_pred=frame["selected"].astype(int),
        sensitive_features=frame["gender"],
    ).by_group
    for group, g in report["gender"]["groups"].items():
        assert g["selection_rate"] == pytest.approx(by_hand[group], abs=1e-4)
        women = frame[frame["gender"] == group]
        assert g["recall"] == pytest.approx(
            women.loc[women["label"] == 1, "selected"].mean(), abs=1e-4
        )
        for metric in ("selection_rate", "recall", "fpr", "observed_rate"):
            low, high = g[f"{metric}_ci95"]
            assert low <= g[metric] <= high
    assert set(report) == set(GROUPINGS)


def test_gender_is_never_a_model_input() -> None:
    assert "gender" not in FEATURE_NAMES
    assert not any("gender" in name for name in FEATURE_NAMES)


def test_the_cli_audits_the_finished_season_and_ends_with_json(served_home: Path) -> None:
    # the command's answers, not a process's: the CLI's entry point in this process, on
    # the trained home (served_home is this test's KEEPWARM_HOME)
    done = cli_here("fairness", "--bootstrap", "50")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(report) == {"gender", "school_tier", "home_region"}
    for part in report.values():
        assert part["groups"] and 0 <= part["min_impact_ratio"] <= 1
        for g in part["groups"].values():
            assert {"selection_rate", "recall", "fpr"} <= set(g)
    assert set(report["gender"]["groups"]) <= {"female", "male", "unknown"}
    refused = cli_here("fairness", "--season", "2031-autumn")
    assert refused.returncode == 1 and "not a finished season" in refused.stderr

"""The promotion gate on real models of the small seasons: which model serves, and why.

One challenger (LightGBM, the tests' configuration, fitted on 2023-autumn and tested on
2024-autumn) meets champions built to probe the gate: the same recipe with another seed,
a crippled one, one fitted on the test season, one needing a feature the data lacks.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from sqlalchemy import Engine

from config import Settings
from features.catalogue import FEATURE_NAMES
from store.db import make_engine, migrate
from store.ingest import ingest_bundle
from training.config import load_config
from training.model import DropoutClassifier
from training.tracking import Champion, current_champion, decide_promotion, log_and_register
from training.train import (
    TrainResult,
    load_season_data,
    season_snapshots,
)


@pytest.fixture(scope="module")
def season_engine(
    small_seasons: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('gate') / 'store.db'}")
    migrate(engine)
    for folder in small_seasons.values():
        ingest_bundle(engine, folder)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def snapshots(season_engine: Engine) -> dict[str, pd.DataFrame]:
    data = load_season_data(season_engine)
    cfg = load_config()
    return {s: season_snapshots(data, [s], cfg) for s in ("2023-autumn", "2024-autumn")}


@pytest.fixture(scope="module")
def challenger(trained_result: TrainResult) -> TrainResult:
    """The tests' configuration fitted on 2023-autumn and tested on 2024-autumn: the
    shared trained home's model (tests/conftest.py), fitted once per test run."""
    return trained_result


def _fit(train: pd.DataFrame, features: list[str], seed: int = 7) -> DropoutClassifier:
    cfg = load_config()
    model = DropoutClassifier(
        params=cfg.lightgbm,
        num_boost_round=cfg.num_boost_round,
        early_stopping_rounds=cfg.early_stopping_rounds,
        folds=cfg.folds,
        seed=seed,
    )
    return model.fit(train[features], train["label"].to_numpy(), train["candidate_id"].to_numpy())


def test_two_seeds_of_the_same_recipe_are_within_noise(
    challenger: TrainResult, snapshots: dict[str, pd.DataFrame]
) -> None:
    other_seed = _fit(snapshots["2023-autumn"], list(FEATURE_NAMES), seed=8)
    champion = Champion("1", other_seed, ["2023-autumn"])
    decision = decide_promotion(challenger, "auto", champion)
    assert not decision.promoted
    assert "does not clear zero (within noise)" in decision.reason
    assert decision.comparison is not None
    # compared as served: the champion itself on the season it never saw
    served = other_seed.predict_proba(challenger.test[other_seed.features_])[:, 1]
    auc = roc_auc_score(challenger.test["label"], served)
    assert decision.figures["auc_champion"] == pytest.approx(auc)


def test_a_real_gain_over_a_crippled_champion_is_promoted(
    challenger: TrainResult, snapshots: dict[str, pd.DataFrame]
) -> None:
    crippled = _fit(snapshots["2023-autumn"], ["school_tier", "degree_level", "far_from_home"])
    decision = decide_promotion(challenger, "auto", Champion("1", crippled, ["2023-autumn"]))
    assert decision.promoted, decision.reason
    assert decision.figures["auc_diff_lo"] > 0
    # the standing simple challenger is measured beside it, every time
    assert "standing_auc_diff" in decision.figures


def test_an_in_sample_champion_is_compared_through_its_recipe_refitted(
    challenger: TrainResult, snapshots: dict[str, pd.DataFrame]
) -> None:
    # The champion was fitted on the test season: scored there it looks better than it is.
    seen = _fit(snapshots["2024-autumn"], list(FEATURE_NAMES))
    test = challenger.test
    in_sample = roc_auc_score(test["label"], seen.predict_proba(test[seen.features_])[:, 1])
    decision = decide_promotion(challenger, "auto", Champion("4", seen, ["2024-autumn"]))
    assert "was fitted on 2024-autumn, the test season" in decision.reason
    assert "its recipe refitted on 2023-autumn" in decision.reason
    assert decision.figures["auc_champion"] < in_sample
    # the refit is the challenger's recipe on the same seasons: nothing to choose between
    assert not decision.promoted and "within noise" in decision.reason


def test_without_training_snapshots_an_in_sample_comparison_is_refused(
    challenger: TrainResult, snapshots: dict[str, pd.DataFrame]
) -> None:
    seen = _fit(snapshots["2024-autumn"], list(FEATURE_NAMES))
    bare = TrainResult(
        challenger.model,
        challenger.metrics,
        challenger.oracle,
        challenger.test,
        challenger.fingerprint,
        challenger.horizons,
        train=None,
        config=challenger.config,
    )
    for fitted_on in (["2023-autumn", "2024-autumn"], None):
        decision = decide_promotion(bare, "auto", Champion("4", seen, fitted_on))
        assert not decision.promoted
        assert "no honest comparison" in decision.reason
        assert decision.comparison is None


def test_a_champion_missing_features_is_compared_not_replaced(
    challenger: TrainResult, snapshots: dict[str, pd.DataFrame]
) -> None:
    # a champion from a code version whose feature has since been renamed
    train = snapshots["2023-autumn"].rename(columns={"days_since_reply": "days_since_last_reply"})
    features = [f if f != "days_since_reply" else "days_since_last_reply" for f in FEATURE_NAMES]
    old = _fit(train, features)
    decision = decide_promotion(challenger, "auto", Champion("2", old, ["2023-autumn"]))
    assert "needs features this data lacks (days_since_last_reply)" in decision.reason
    assert decision.comparison is not None  # compared through its recipe, not replaced
    assert "replaced" not in decision.reason


@pytest.mark.parametrize(
    ("promote", "has_champion", "promoted", "words"),
    [
        ("auto", False, True, "first model: no champion to beat"),
        ("never", False, False, "no champion yet, but --promote=never"),
        ("force", True, True, "forced with --promote=force"),
        ("never", True, False, "(--promote=never)"),
    ],
)
def test_the_modes(
    challenger: TrainResult,
    snapshots: dict[str, pd.DataFrame],
    promote: str,
    has_champion: bool,
    promoted: bool,
    words: str,
) -> None:
    crippled = DropoutClassifier(num_boost_round=1, folds=2).fit(
        snapshots["2023-autumn"][["school_tier"]],
        snapshots["2023-autumn"]["label"].to_numpy(),
        snapshots["2023-autumn"]["candidate_id"].to_numpy(),
    )
    champion = Champion("3", crippled, ["2023-autumn"]) if has_champion else None
    decision = decide_promotion(challenger, promote, champion)  # type: ignore[arg-type]
    assert decision.promoted is promoted
    assert words in decision.reason
    # the standing logistic challenger is measured beside LightGBM whatever the mode
    assert decision.standing is not None and "standing_auc_diff_lo" in decision.figures


def test_a_promoted_challenger_is_refitted_on_every_closed_season(
    challenger: TrainResult, settings: Settings
) -> None:
    import mlflow

    done = log_and_register(
        challenger, {"trained_by": "a test"}, settings, "auto", {}, refit_winner=True
    )
    assert done.alias == "champion"
    assert done.reason.endswith("refitted on 2023-autumn, 2024-autumn")
    lineage = mlflow.artifacts.load_dict(f"runs:/{done.run_id}/lineage.json")
    assert lineage["fitted_on"] == ["2023-autumn", "2024-autumn"]
    assert lineage["train_seasons"] == ["2023-autumn"] and lineage["test_season"] == "2024-autumn"
    assert lineage["calibrator"] and lineage["chosen_rounds"] > 0
    assert len(lineage["code.git_commit"]) == 40
    data = mlflow.artifacts.load_dict(f"runs:/{done.run_id}/data_fingerprint.json")
    both = data["fitted"]
    assert both["candidates"] == data["train"]["candidates"] + data["test"]["candidates"]
    served = current_champion(settings)
    assert served is not None and served.fitted_on == ["2023-autumn", "2024-autumn"]
    # the refit serves risk_30d too: its time-to-renege part was refitted with it (a
    # retraining deployment once registered a refit without it: risk_30d null everywhere)
    assert challenger.model.within_ is not None
    assert served.model.within_ is not None
    test = challenger.test
    soon = served.model.predict_within_proba(test[served.model.features_])
    assert soon is not None and (soon <= served.model.predict_proba(test)[:, 1] + 1e-12).all()
    # refitted on both seasons, not the challenger's part carried over
    before = challenger.model.predict_within_proba(test[challenger.model.features_])
    assert before is not None and not np.allclose(soon, before)
    # the next challenger tested on 2024-autumn meets this champion's recipe, not itself
    again = decide_promotion(challenger, "auto", served)
    assert "was fitted on 2024-autumn, the test season" in again.reason

"""Training's features built a part of candidates at a time equal one build over everything.

The season data no longer holds the events: each part of at most
``feature_chunk_candidates`` reads its own events and profile versions. Features are
per candidate, so any part size gives the rows the whole-season build gave (the path
before issue 19), on SQLite and PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine

from features.build import build_features
from features.population import scored_population
from features.source import load_content, load_events, load_outcomes, load_profile_versions
from store.ingest import ingest_bundle
from tests.conftest import simulated_bundles
from training.config import load_config
from training.train import load_season_data, season_features, season_snapshots, season_spine

SEASONS = ["2023-autumn", "2024-autumn"]


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two small seasons, simulated once for both databases."""
    return simulated_bundles(tmp_path_factory, 50, 5)


def test_features_in_parts_equal_the_whole_season_build(store: Engine, bundles: list[Path]) -> None:
    for folder in bundles:
        ingest_bundle(store, folder)
    data = load_season_data(store)
    events = load_events(store)
    # the population from first entries equals the one from every event
    whole = scored_population(events, load_outcomes(store))
    pd.testing.assert_frame_equal(
        data.population.drop(columns="season").sort_values("candidate_id").reset_index(drop=True),
        whole.sort_values("candidate_id").reset_index(drop=True),
    )
    cfg = load_config()
    spine = season_spine(data, SEASONS, cfg)
    assert spine["candidate_id"].nunique() > 60
    before = build_features(events, load_profile_versions(store), spine, load_content(store))
    # each part is a feature build of its own (its cost): a few parts, the last one short
    for size in (30, 10**6):
        pd.testing.assert_frame_equal(season_features(store, spine, data.content, size), before)
    small = season_snapshots(data, SEASONS, cfg.model_copy(update={"feature_chunk_candidates": 40}))
    pd.testing.assert_frame_equal(small, season_snapshots(data, SEASONS, cfg))


def test_a_spine_without_rows_gives_the_empty_frame(store: Engine) -> None:
    empty = season_features(store, pd.DataFrame(columns=["candidate_id", "as_of"]), None, 5)  # type: ignore[arg-type]
    assert empty.empty and "days_to_start" in empty.columns

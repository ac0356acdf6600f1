"""A day reads only its active candidates, and reads them as the whole history would.

``active_ids`` is ``active_on``'s rule run in the store; ``load_day`` reads the
active candidates' events and profiles only. On a store holding a finished season
and the next one, on SQLite and PostgreSQL, both must give what reading every
event up to the day gave (the path before issue 19): the same ids, inputs,
features and scores.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine

from features.build import build_features
from features.catalogue import FEATURE_NAMES, ROLE_FAMILIES
from features.population import (
    DayInputs,
    active_ids,
    active_on,
    load_day,
    read_ids,
    scored_population,
)
from features.source import load_candidates, load_content, load_events, load_outcomes
from serving.services.daily import DayState, day_features, rank_scores
from store.ingest import ingest_bundle
from tests.conftest import as_home, migrated_store, simulated_bundles
from training.model import DropoutClassifier
from training.predictor import Predictor

SEASONS = ("2023-autumn", "2024-autumn")


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """A finished season and the next one, simulated once for both databases."""
    return simulated_bundles(tmp_path_factory, 60, 3)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def two_seasons(
    request: pytest.FixtureRequest, bundles: list[Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Engine, pd.DataFrame]]:
    """A store on each database holding both seasons, and the whole scored population.

    Built once per database for this module: its tests only read the store.
    """
    folder = tmp_path_factory.mktemp(request.param)
    engine = migrated_store(request, folder)
    with as_home(folder / "home"):  # set up before any test's own home
        for bundle in bundles:
            ingest_bundle(engine, bundle)
    yield engine, scored_population(load_events(engine), load_outcomes(engine))
    engine.dispose()


def _whole_history_day(engine: Engine, as_of: dt.date) -> DayInputs:
    """``load_day`` as it was before issue 19: every event up to the day, then who is active."""
    events = load_events(engine, until=as_of)
    outcomes = load_outcomes(engine)
    known = outcomes[outcomes["outcome_date"] <= as_of]
    ids = active_on(scored_population(events, known), as_of)["candidate_id"].astype(str).tolist()
    spine = pd.DataFrame({"candidate_id": ids, "as_of": [as_of] * len(ids)})
    candidates = load_candidates(engine, as_of=as_of)
    return DayInputs(as_of, events, candidates, load_content(engine), spine)


def _days(population: pd.DataFrame) -> list[dt.date]:
    """Weekly over both seasons, and every entry and outcome day with the days either side."""
    first, last = min(population["entry_day"]), max(population["outcome_date"].dropna())
    weekly = [first + dt.timedelta(days=7 * k) for k in range((last - first).days // 7 + 2)]
    edges = {*population["entry_day"], *population["outcome_date"].dropna()}
    around = {d + dt.timedelta(days=s) for d in list(edges)[:40] for s in (-1, 0, 1)}
    return sorted({first - dt.timedelta(days=1), *weekly, *around})


def _sorted(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Sorted, and missing text as None: pandas reads a text column with no text in it
    (a day's few candidates without topics) as objects, with text as strings."""
    out = frame.sort_values(by, kind="stable").reset_index(drop=True).astype(object)
    return out.where(out.notna(), None)


@pytest.fixture(scope="module")
def model() -> Predictor:
    """A small real model: the scores only need to depend on the features."""
    rng = np.random.default_rng(0)
    n = 2000
    X = pd.DataFrame(rng.normal(0, 1, (n, len(FEATURE_NAMES))), columns=list(FEATURE_NAMES))
    X["role_family"] = rng.choice(list(ROLE_FAMILIES), n)
    y = (rng.random(n) < 1 / (1 + np.exp(-X["replies_total"].to_numpy()))).astype(int)
    return Predictor.of(
        DropoutClassifier(params={"num_threads": 1}, num_boost_round=20).fit(
            X, y, np.arange(n) // 5
        )
    )


def test_the_store_and_active_on_agree_on_who_is_active(
    two_seasons: tuple[Engine, pd.DataFrame],
) -> None:
    store, population = two_seasons
    days = _days(population)
    nonempty = 0
    for day in days:
        expected = sorted(active_on(population, day)["candidate_id"].astype(str))
        assert read_ids(store, active_ids(day)) == expected, day
        nonempty += bool(expected)
    assert nonempty > 20
    some = sorted(population["candidate_id"].astype(str))[::3]
    day = days[len(days) // 2]
    narrowed = read_ids(store, active_ids(day, some))
    assert narrowed == sorted(set(read_ids(store, active_ids(day))) & set(some))


def test_a_day_reads_only_its_active_candidates_and_scores_as_before(
    two_seasons: tuple[Engine, pd.DataFrame], model: Predictor
) -> None:
    store, population = two_seasons
    first = population[population["candidate_id"].str.startswith("K23")]
    second = population[population["candidate_id"].str.startswith("K24")]
    start = min(second["entry_day"])
    # the first season's middle, then the second's start, middle and end: the finished
    # season's events are in the store and must not be read
    days = [
        min(first["entry_day"]) + dt.timedelta(days=60),
        start + dt.timedelta(days=3),
        start + dt.timedelta(days=60),
        max(second["outcome_date"].dropna()) - dt.timedelta(days=1),
    ]
    for day in days:
        old, new = _whole_history_day(store, day), load_day(store, day)
        ids = new.spine["candidate_id"].tolist()
        pd.testing.assert_frame_equal(new.spine, old.spine)
        # only the active candidates' events and profiles, and all of them
        assert set(new.events["candidate_id"]) == set(ids) == set(new.candidates["candidate_id"])
        if day >= start:
            assert not new.events["candidate_id"].str.startswith("K23").any()
            assert old.events["candidate_id"].str.startswith("K23").any()
        columns = list(new.events.columns)
        pd.testing.assert_frame_equal(
            _sorted(new.events, columns),
            _sorted(old.events[old.events["candidate_id"].isin(ids)], columns),
        )
        pd.testing.assert_frame_equal(
            _sorted(new.candidates, ["candidate_id"]),
            _sorted(old.candidates[old.candidates["candidate_id"].isin(ids)], ["candidate_id"]),
        )
        pd.testing.assert_frame_equal(new.content, old.content)
        features = build_features(new.events, new.candidates, new.spine, new.content)
        before = build_features(old.events, old.candidates, old.spine, old.content)
        pd.testing.assert_frame_equal(features, before)
        pd.testing.assert_frame_equal(
            rank_scores(model, features, new.candidates),
            rank_scores(model, before, old.candidates),
        )


def test_the_kept_state_gives_the_days_features_and_forgets_the_inactive(
    two_seasons: tuple[Engine, pd.DataFrame],
) -> None:
    store, population = two_seasons
    first = min(population["entry_day"])
    state = DayState()
    # every 40 days from the first season's third week into the next season's start: its
    # candidates entering (whole builds), mid-season days (new days appended to kept
    # rows, others rebuilt), its end (everyone dropped), the empty gap and a new season
    for k in range(20, 400, 40):
        day = first + dt.timedelta(days=k)
        kept, candidates, _ = day_features(store, day, state)
        # without a state, day_features gives load_day's candidates as load_day read them
        full, loaded, _ = day_features(store, day)
        pd.testing.assert_frame_equal(kept, full)
        pd.testing.assert_frame_equal(
            _sorted(candidates, ["candidate_id"]), _sorted(loaded, ["candidate_id"])
        )
    # rows of candidates no longer active were dropped, not kept for ever
    last_ids = set(read_ids(store, active_ids(day)))
    kept_state = state.features
    with kept_state._lock:
        held = set(
            kept_state._con.execute("SELECT DISTINCT candidate_id FROM daily").df()["candidate_id"]
        )
    assert held <= last_ids

"""The incremental day's features equal the full rebuild, day after day."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from features.build import build_features
from features.incremental import FeatureState
from features.population import active_on, scored_population
from outreach.replay import season_frames
from simulator.season import simulate_season


@pytest.fixture(scope="module")
def season() -> dict[str, pd.DataFrame]:
    return season_frames(simulate_season("2024-autumn", 40, 11, truth=False))


def _known(events: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    return events[events["local_day"] <= day]


def test_incremental_features_equal_the_full_rebuild_on_sampled_days(
    season: dict[str, pd.DataFrame],
) -> None:
    events, candidates, content = season["events"], season["candidates"], season["content"]
    population = scored_population(events, season["outcomes"])
    first = min(population["entry_day"])
    # every fifth day of the first four months: entries, replies, outcomes all move there
    days = [first + dt.timedelta(days=k) for k in range(0, 120, 5)]
    state = FeatureState()
    compared = rebuilt_less = 0
    for day in days:
        known = _known(events, day)
        ids = active_on(population, day)["candidate_id"].astype(str).tolist()
        changed = state.update(known, content)
        rebuilt_less += len(changed) < known["candidate_id"].nunique()
        if not ids:
            continue
        spine = pd.DataFrame({"candidate_id": ids, "as_of": [day] * len(ids)})
        full = build_features(known, candidates, spine, content)
        pd.testing.assert_frame_equal(state.features(spine, candidates), full)
        compared += 1
    assert compared > 15
    assert rebuilt_less > 0  # unchanged candidates were kept, not rebuilt


def test_a_late_event_rebuilds_its_candidate(season: dict[str, pd.DataFrame]) -> None:
    events, candidates, content = season["events"], season["candidates"], season["content"]
    day = min(events["local_day"]) + dt.timedelta(days=60)
    known = _known(events, day)
    one = str(known["candidate_id"].iloc[0])
    late = known[known["candidate_id"] == one].tail(1).assign(event_id="late-1", type="call_made")
    state = FeatureState()
    state.update(known, content)
    assert state.update(known, content) == []  # nothing new: nothing rebuilt
    grown = pd.concat([known, late], ignore_index=True)
    assert state.update(grown, content) == [one]
    spine = pd.DataFrame({"candidate_id": [one], "as_of": [day]})
    pd.testing.assert_frame_equal(
        state.features(spine, candidates), build_features(grown, candidates, spine, content)
    )


def test_an_erased_candidate_loses_their_rows(season: dict[str, pd.DataFrame]) -> None:
    events, candidates, content = season["events"], season["candidates"], season["content"]
    day = min(events["local_day"]) + dt.timedelta(days=60)
    known = _known(events, day)
    one = str(known["candidate_id"].iloc[0])
    state = FeatureState()
    state.update(known, content)
    assert state.stale({one: 0}) == sorted({*known["candidate_id"].astype(str)})  # others gone
    rest = known[known["candidate_id"] != one]  # the store after the erasure
    assert state.update(rest.iloc[:0], content, candidate_ids=[one]) == [one]
    spine = pd.DataFrame({"candidate_id": [one], "as_of": [day]})
    pd.testing.assert_frame_equal(
        state.features(spine, candidates), build_features(rest, candidates, spine, content)
    )

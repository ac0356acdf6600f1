"""The incremental day's features equal the full rebuild, day after day."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

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


def _next_day(
    state: FeatureState, events: pd.DataFrame, content: pd.DataFrame, day: dt.date
) -> tuple[list[str], list[str]]:
    """What a day's run does (``serving.services.daily.day_inputs``): append the new days
    of those whose only new events are dated after the last run, rebuild the rest."""
    known = _known(events, day)
    counts = known["candidate_id"].astype(str).value_counts().to_dict()
    stale = state.stale(counts)
    appended: list[str] = []
    if state.day is not None:
        last = state.day
        before = _known(events, last)["candidate_id"].astype(str).value_counts().to_dict()
        growing = set(state.appendable(stale, before, day))
        new = known[(known["local_day"] > last) & known["candidate_id"].astype(str).isin(growing)]
        appended = state.append(new, content, counts)
    rebuilt = sorted(set(stale) - set(appended))
    state.update(known, content, candidate_ids=rebuilt)
    state.settle(day)
    return appended, rebuilt


def test_appended_days_equal_the_full_rebuild(season: dict[str, pd.DataFrame]) -> None:
    events, candidates, content = season["events"], season["candidates"], season["content"]
    population = scored_population(events, season["outcomes"])
    day = min(population["entry_day"])
    state = FeatureState()
    appended_one = appended_more = rebuilt = 0
    for k in range(18):
        step = 1 if k % 2 else 4  # one new day (no windows), and several
        day += dt.timedelta(days=step)
        appended, fresh = _next_day(state, events, content, day)
        rebuilt += len(fresh)
        appended_one += len(appended) * (step == 1)
        appended_more += len(appended) * (step > 1)
        if k % 3 != 2:  # compared every third day, after one or four new days
            continue
        ids = active_on(population, day)["candidate_id"].astype(str).tolist()
        spine = pd.DataFrame({"candidate_id": ids, "as_of": [day] * len(ids)})
        full = build_features(_known(events, day), candidates, spine, content)
        pd.testing.assert_frame_equal(state.features(spine, candidates), full, obj=str(day))
    # both ways were taken: replies and scored interviews are rebuilt, the rest appended
    assert appended_one > 10 and appended_more > 10 and rebuilt > 10


def test_what_cannot_be_appended_is_left_to_a_rebuild(season: dict[str, pd.DataFrame]) -> None:
    events, content = season["events"], season["content"]
    replies = events[events["type"] == "message_replied"]
    one = str(replies["candidate_id"].iloc[0])
    day = replies["local_day"].iloc[0] + dt.timedelta(days=2)
    known = _known(events, day)
    state = FeatureState()
    _next_day(state, events, content, day)
    mine = known[known["candidate_id"] == one]
    counts = {one: len(mine) + 1}
    last = mine[mine["type"] == "message_replied"].tail(1)
    tomorrow = last.assign(local_day=day + dt.timedelta(days=1))

    def one_new(**change: object) -> pd.DataFrame:
        return tomorrow.assign(event_id="new-1", **change)

    # a reply (its delay reaches back), a scored interview (a sum in floating point), an
    # HR message sent before the last kept reply (that reply's delay would change)
    for refused in (
        one_new(),
        one_new(type="interview_completed", value=4.0),
        one_new(type="message_sent", actor="hr", ts_utc=last["ts_utc"].iloc[0]),
    ):
        assert state.append(refused, content, counts) == []
    # an event dated on or before the last run, or fewer new events than counted
    assert state.append(one_new(type="message_opened", local_day=day), content, counts) == []
    assert state.append(one_new(type="message_opened"), content, {one: len(mine) + 2}) == []
    # a late event (the count up to the last run grew): not even a candidate for it
    assert state.appendable([one], {one: len(mine) + 1}, day + dt.timedelta(days=1)) == []
    assert state.appendable([one], {one: len(mine)}, day) == []  # no day after the last run
    assert state.appendable([one], {one: len(mine)}, day + dt.timedelta(days=1)) == [one]
    assert state.append(one_new(type="message_opened"), content, counts) == [one]


def test_states_on_the_process_database_keep_their_own_rows(
    season: dict[str, pd.DataFrame],
) -> None:
    # every state and build is a connection to one DuckDB database per process
    # (features.build.duckdb_connection): a state's kept table must be its own
    events, candidates, content = season["events"], season["candidates"], season["content"]
    day = min(events["local_day"]) + dt.timedelta(days=60)
    known = _known(events, day)
    ids = sorted(known["candidate_id"].astype(str).unique())
    half = known[known["candidate_id"].astype(str).isin(ids[: len(ids) // 2])]
    spine = pd.DataFrame({"candidate_id": ids, "as_of": [day] * len(ids)})
    whole, part = FeatureState(), FeatureState()
    whole.update(known, content)
    part.update(half, content)
    pd.testing.assert_frame_equal(
        whole.features(spine, candidates), build_features(known, candidates, spine, content)
    )
    pd.testing.assert_frame_equal(
        part.features(spine, candidates), build_features(half, candidates, spine, content)
    )
    part.close()
    pd.testing.assert_frame_equal(  # and closing one leaves the other's rows
        whole.features(spine, candidates), build_features(known, candidates, spine, content)
    )


FORK = """
import os, sys
from features.build import duckdb_connection

con = duckdb_connection()
con.execute("SELECT 1")
pid = os.fork()
if pid == 0:
    child = duckdb_connection()
    assert child.execute("SELECT 42").fetchall() == [(42,)]
    sys.exit(0)  # the interpreter's own exit, which frees what the child inherited
_, status = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(status))
"""


def test_a_forked_child_opens_its_own_database_and_exits_cleanly() -> None:
    # DuckDB's threads do not survive a fork: freeing the inherited database in the child
    # waited for them for ever, or aborted the child at its exit
    done = subprocess.run(
        [sys.executable, "-c", FORK], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["0"], done.stderr[-2000:]

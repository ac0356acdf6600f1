"""The incremental day's alerts (``AlertState``) equal ``find_alerts`` over the whole log."""

from __future__ import annotations

import datetime as dt
import zlib

import pandas as pd
import pytest

from features.population import active_on, scored_population
from outreach.alerts import AlertRules, AlertState, find_alerts
from outreach.replay import season_frames
from simulator.season import simulate_season


@pytest.fixture(scope="module")
def season() -> dict[str, pd.DataFrame]:
    return season_frames(simulate_season("2024-autumn", 40, 11, truth=False))


def _risks(ids: list[str], day: dt.date) -> pd.DataFrame:
    """A made-up daily score that moves by day, so that some risks jump."""
    risk = [zlib.crc32(f"{c}:{day}".encode()) % 100 / 100 for c in ids]
    return pd.DataFrame({"candidate_id": ids, "as_of": day, "risk": risk})


def test_incremental_alerts_equal_find_alerts_day_after_day(
    season: dict[str, pd.DataFrame],
) -> None:
    events = season["events"]  # the whole season: later events must not count
    population = scored_population(events, season["outcomes"])
    first = min(population["entry_day"])
    rules = AlertRules()
    state = AlertState(rules)
    history: list[pd.DataFrame] = []
    compared = kept = 0
    kinds: set[str] = set()
    resolved = open_ = 0
    for k in range(0, 150, 3):
        day = first + dt.timedelta(days=k)
        ids = active_on(population, day)["candidate_id"].astype(str).tolist()
        history = [*history[-4:], _risks(ids, day)]
        scores = pd.concat(history, ignore_index=True)
        got = state.alerts(events, day, set(ids), risk_history=scores)
        want = find_alerts(events, day, rules, set(ids), risk_history=scores)
        pd.testing.assert_frame_equal(got, want)
        compared += bool(len(want))
        kept += state.rebuilt < len(ids)
        kinds |= set(want["kind"])
        resolved += int(want["resolved_at"].notna().sum())
        open_ += int(want["resolved_at"].isna().sum())
    assert compared > 30
    assert kept > 0  # candidates without new events were not rebuilt
    assert {"no_reply", "question_unanswered", "risk_jump"} <= kinds
    assert resolved and open_


def test_without_active_every_candidate_counts(season: dict[str, pd.DataFrame]) -> None:
    events = season["events"]
    rules = AlertRules()
    state = AlertState(rules)
    start = min(events["local_day"])
    for k in (20, 21, 40, 90):
        day = start + dt.timedelta(days=k)
        pd.testing.assert_frame_equal(state.alerts(events, day), find_alerts(events, day, rules))


@pytest.fixture(scope="module")
def silence(season: dict[str, pd.DataFrame]) -> tuple[str, dt.date]:
    """A candidate and a day on which they have an open no_reply alert."""
    events, rules = season["events"], AlertRules()
    start = min(events["local_day"])
    # Each day looked at is a search of the whole season: start the day before the
    # season's first no_reply alert was created (one known on a day is in the season's
    # list too, created by then), not weeks before it.
    listed = find_alerts(events, max(events["local_day"]), rules)
    created = listed.loc[listed["kind"] == "no_reply", "created_at"]
    first = max(10, (min(created).date() - start).days - 1) if len(created) else 10
    for k in range(first, 150):
        day = start + dt.timedelta(days=k)
        found = find_alerts(events, day, rules)
        silent = found[(found["kind"] == "no_reply") & found["resolved_at"].isna()]
        if len(silent):
            return str(silent["candidate_id"].iloc[0]), day
    raise AssertionError("no open no_reply alert in the season")


def _kept_on_silent_day(
    season: dict[str, pd.DataFrame], silence: tuple[str, dt.date]
) -> tuple[AlertState, pd.DataFrame, pd.DataFrame]:
    """A state that ran the silent day; the events known then; the silent one's last."""
    one, day = silence
    known = season["events"][season["events"]["local_day"] <= day]
    state = AlertState(AlertRules())
    before = state.alerts(known, day)
    assert state.alerts(known, day).equals(before) and state.rebuilt == 0  # nothing new
    return state, known, known[known["candidate_id"] == one].tail(1)


def test_a_late_reply_resolves_the_alert_it_answers(
    season: dict[str, pd.DataFrame], silence: tuple[str, dt.date]
) -> None:
    one, day = silence
    state, known, last = _kept_on_silent_day(season, silence)
    rules = state.rules
    offset = int(last["utc_offset_min"].iloc[0])
    # the last second of the day in the candidate's offset: after the alert fell due
    end = pd.Timestamp(day) + pd.Timedelta(days=1, minutes=-offset, seconds=-1)
    reply = last.assign(
        event_id="late-reply", type="message_replied", actor="candidate", ts_utc=end
    )
    grown = pd.concat([known, reply], ignore_index=True)
    after = state.alerts(grown, day)
    assert state.rebuilt == 1
    pd.testing.assert_frame_equal(after, find_alerts(grown, day, rules))
    mine = after[(after["candidate_id"] == one) & (after["kind"] == "no_reply")]
    assert "late-reply" in set(mine["resolved_by"])


def test_an_opened_message_rebuilds_no_episode(
    season: dict[str, pd.DataFrame], silence: tuple[str, dt.date]
) -> None:
    _, day = silence
    state, known, last = _kept_on_silent_day(season, silence)
    rules = state.rules
    opened = last.assign(event_id="opened-1", type="message_opened", actor="candidate")
    grown = pd.concat([known, opened], ignore_index=True)
    after = state.alerts(grown, day)
    assert state.rebuilt == 0  # no episode is made of it (``EPISODE_TYPES``)
    pd.testing.assert_frame_equal(after, find_alerts(grown, day, rules))


def test_an_erased_candidate_loses_their_alerts(
    season: dict[str, pd.DataFrame], silence: tuple[str, dt.date]
) -> None:
    events, rules = season["events"], AlertRules()
    one, day = silence
    known = events[events["local_day"] <= day]
    state = AlertState(rules)
    assert one in set(state.alerts(known, day)["candidate_id"])
    rest = known[known["candidate_id"] != one]  # the store after the erasure
    after = state.alerts(rest, day)
    assert one not in set(after["candidate_id"])
    pd.testing.assert_frame_equal(after, find_alerts(rest, day, rules))

"""Point-in-time features: known values on a small case, and nothing from after as_of."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.build import build_features
from features.catalogue import CATALOGUE, FEATURE_NAMES, reason_text
from store.bundle import read_bundle
from store.contract import ACTORS, EVENT_TYPES, TOPICS
from tests.conftest import SAMPLE


@pytest.fixture(scope="module")
def sample() -> tuple[pd.DataFrame, pd.DataFrame]:
    bundle = read_bundle(SAMPLE)
    events = bundle.events.assign(local_day=bundle.events["local_day"].dt.date)
    return events, bundle.candidates


def _row(events: pd.DataFrame, cands: pd.DataFrame, cid: str, day: str) -> pd.Series:
    spine = pd.DataFrame({"candidate_id": [cid], "as_of": [day]})
    return build_features(events, cands, spine).iloc[0]


def test_known_values_for_a_sample_candidate(sample: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    events, cands = sample
    # K2200003: question 10-18, interview 10-18 (score 3), approval requested 10-21,
    # offer sent and approved 10-23, first HR message 10-24.
    row = _row(events, cands, "K2200003", "2022-10-25")
    expected = {
        "offer_sent": 1,
        "offer_accepted": 0,
        "approval_days_taken": 2,
        "interview_to_offer_days": 5,
        "days_since_offer_sent": 2,
        "hr_messages_7d": 1,
        "unreplied_hr_messages": 1,
        "days_since_candidate_activity": 7,
        "days_since_hr_contact": 1,
        "open_questions": 1,
        "open_question_days": 7,
        "asked_training": 1,
        "interview_score": 3,
        "days_since_entry": 4,
        "far_from_home": 0,
    }
    for name, value in expected.items():
        assert row[name] == value, name
    assert np.isnan(row["days_since_reply"])


def _events(rows: list[tuple[str, str, str | None]]) -> pd.DataFrame:
    """Events of one candidate ``X1`` from (local day, type, topic)."""
    frame = pd.DataFrame(rows, columns=["local_day", "type", "topic"])
    frame["local_day"] = pd.to_datetime(frame["local_day"]).dt.date
    frame["ts_utc"] = pd.to_datetime(frame["local_day"]) + pd.Timedelta(hours=2)
    frame["actor"] = np.where(frame["type"] == "message_sent", "hr", "system")
    return frame.assign(candidate_id="X1", value=np.nan, content_id=None)


def _candidate(home_city: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "candidate_id": ["X1"],
            "school_tier": [2],
            "degree": ["master"],
            "role_family": ["tech"],
            "major": ["计算机科学"],
            "work_city": ["深圳"],
            "home_city": [home_city],
            "start_date": [dt.date(2024, 7, 1)],
        }
    )


def test_silence_and_housing_wait_add_up_as_known() -> None:
    events = _events(
        [
            ("2023-10-01", "offer_approval_requested", None),
            ("2023-10-03", "message_sent", None),
            ("2023-10-20", "message_sent", "housing"),  # a 17-day gap: 10 days beyond a week
        ]
    )
    spine = pd.DataFrame(
        {"candidate_id": ["X1"] * 3, "as_of": ["2023-10-10", "2023-10-19", "2023-11-05"]}
    )
    far = build_features(events, _candidate("长沙"), spine)
    # 10-10: 7 days since the last touch, nothing beyond a week; 10-19: the open gap is 16
    # days (9 beyond a week); 11-05: the closed gap's 10 plus the open gap's 16 - 7 = 9.
    assert far["silent_days_total"].tolist() == [0, 9, 19]
    # from another city: the wait runs from entry (10-01) until housing information (10-20)
    assert far["housing_wait_days"].tolist() == [9, 18, 19]
    near = build_features(events, _candidate("深圳"), spine)
    assert near["housing_wait_days"].tolist() == [0, 0, 0]


def test_before_entry_the_offer_features_are_empty(
    sample: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    events, cands = sample
    row = _row(events, cands, "K2200003", "2022-10-20")
    assert row["offer_sent"] == 0
    assert np.isnan(row["days_since_entry"])
    assert row["hr_messages_total"] == 0


def test_one_row_per_spine_pair_in_spine_order(sample: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    events, cands = sample
    spine = pd.DataFrame(
        {
            "candidate_id": ["K2200010", "K2200003", "K2200010", "K2200003"],
            "as_of": ["2023-03-01", "2022-11-01", "2022-11-01", "2022-11-01"],
        }
    )
    out = build_features(events, cands, spine)
    assert list(out["candidate_id"]) == list(spine["candidate_id"])
    assert list(out["as_of"].astype(str)) == list(spine["as_of"])
    assert list(out.columns[2:]) == list(FEATURE_NAMES)
    pd.testing.assert_series_equal(out.iloc[1, 2:], out.iloc[3, 2:], check_names=False)


def test_gender_is_never_a_feature() -> None:
    assert not any("gender" in f.name for f in CATALOGUE)


def test_every_feature_has_reasons_in_both_languages() -> None:
    for f in CATALOGUE:
        assert f.description and f.reason_zh and f.reason_en
        assert reason_text(f.name, 3.0, "zh")
        assert reason_text(f.name, 3.0, "en")
    assert reason_text("days_since_reply", 3, "zh") == "3 天未回复消息"
    assert reason_text("days_since_reply", 3, "en") == "no reply for 3 days"


_event = st.fixed_dictionaries(
    {
        "candidate_id": st.sampled_from(["K2200003", "K2200000", "K2200010"]),
        "days_after": st.integers(min_value=1, max_value=400),
        "type": st.sampled_from(EVENT_TYPES),
        "topic": st.one_of(st.none(), st.sampled_from(TOPICS)),
        "value": st.one_of(st.none(), st.floats(min_value=1, max_value=5)),
        "actor": st.one_of(st.none(), st.sampled_from(ACTORS)),
    }
)


# Each example costs two feature builds whatever its size: fewer examples, each with more
# future events (of every type, over a year, up to 50), test as many events for less.
@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    as_of=st.dates(min_value=dt.date(2022, 9, 1), max_value=dt.date(2023, 7, 6)),
    later=st.lists(_event, min_size=1, max_size=50),
)
def test_events_after_as_of_change_nothing(
    sample: tuple[pd.DataFrame, pd.DataFrame], as_of: dt.date, later: list[dict[str, object]]
) -> None:
    events, cands = sample
    spine = pd.DataFrame(
        {"candidate_id": ["K2200003", "K2200000", "K2200010"], "as_of": [as_of] * 3}
    )
    known = events[events["local_day"] <= as_of]
    future = pd.DataFrame(
        [
            {
                "candidate_id": e["candidate_id"],
                "local_day": as_of + dt.timedelta(days=int(e["days_after"])),  # type: ignore[call-overload]
                "ts_utc": pd.Timestamp(as_of) + pd.Timedelta(days=int(e["days_after"]), hours=3),  # type: ignore[call-overload]
                "type": e["type"],
                "topic": e["topic"],
                "value": e["value"],
                "actor": e["actor"],
            }
            for e in later
        ]
    )
    before = build_features(known, cands, spine)
    after = build_features(pd.concat([events, future], ignore_index=True), cands, spine)
    pd.testing.assert_frame_equal(before, after)

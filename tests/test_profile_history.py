"""Profiles changed after the fact: features and training rows as of earlier days stay as they were.

The ATS overwrites a profile in place. A start date or work city edited after a
candidate reneged must not reach that candidate's training rows or any score as of
a day before the edit (store.profiles keeps every version with the day it was known).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from sqlalchemy import Engine, delete, select

from features.build import build_features
from features.population import load_day
from features.source import load_candidates, load_events, load_profile_versions
from store.ingest import check_items, ingest_bundle, load_bundle
from store.profiles import record_versions
from store.schema import ProfileVersion
from tests.conftest import SAMPLE
from training.config import load_config
from training.train import load_season_data, season_snapshots

RENEGED = "K2200003"  # reneged on 2022-12-03 in the contract's sample bundle
BEFORE_OUTCOME = dt.date(2022, 11, 20)


def _edit_after_outcome(engine: Engine, **changes: str) -> None:
    """What an ATS sends months after the renege: the same person, new start date and city."""
    rows = pd.read_csv(SAMPLE / "candidates.csv", dtype=str, keep_default_na=False)
    item = {**rows[rows["candidate_id"] == RENEGED].iloc[0].to_dict(), **changes}
    bundle = check_items(engine, "candidates", [item], "api:candidates", "test")
    with engine.begin() as conn:
        load_bundle(conn, bundle, touched=[RENEGED])


def test_a_post_outcome_edit_leaves_earlier_rows_unchanged(store: Engine) -> None:
    ingest_bundle(store, SAMPLE)
    cfg = load_config()
    training_before = season_snapshots(load_season_data(store), ["2022-autumn"], cfg)
    day_before = load_day(store, BEFORE_OUTCOME)
    features_before = build_features(
        day_before.events, day_before.candidates, day_before.spine, day_before.content
    )
    assert RENEGED in set(training_before["candidate_id"])
    assert RENEGED in set(features_before["candidate_id"])
    old = load_candidates(store, candidate_ids=[RENEGED]).iloc[0]

    # moved start, and now works in their home city (no longer "far from home")
    _edit_after_outcome(store, start_date="2023-09-01", work_city=str(old["home_city"]))

    now = load_candidates(store, candidate_ids=[RENEGED]).iloc[0]
    assert str(now["start_date"]) == "2023-09-01"  # the store holds the edit ...
    training_after = season_snapshots(load_season_data(store), ["2022-autumn"], cfg)
    pd.testing.assert_frame_equal(training_before, training_after)  # ... training never sees it
    day_after = load_day(store, BEFORE_OUTCOME)
    # (PostgreSQL returns an updated row in another place: compare by candidate)
    pd.testing.assert_frame_equal(
        day_before.candidates.set_index("candidate_id").sort_index(),
        day_after.candidates.set_index("candidate_id").sort_index(),
    )
    features_after = build_features(
        day_after.events, day_after.candidates, day_after.spine, day_after.content
    )
    pd.testing.assert_frame_equal(features_before, features_after)

    # the edit is kept as a second version, known from the day it was written
    with store.connect() as conn:
        versions = conn.execute(
            select(ProfileVersion.known_from, ProfileVersion.start_date)
            .where(ProfileVersion.candidate_id == RENEGED)
            .order_by(ProfileVersion.version_id)
        ).all()
    assert [str(v.start_date) for v in versions] == [str(old["start_date"]), "2023-09-01"]
    assert versions[1].known_from > BEFORE_OUTCOME
    today = load_candidates(store, candidate_ids=[RENEGED], as_of=versions[1].known_from)
    assert str(today.iloc[0]["start_date"]) == "2023-09-01"


def test_an_unchanged_profile_adds_no_version(store: Engine) -> None:
    ingest_bundle(store, SAMPLE)
    ingest_bundle(store, SAMPLE)  # the same bundle again
    _edit_after_outcome(store)  # the same values through the API
    with store.connect() as conn:
        rows = conn.execute(select(ProfileVersion.candidate_id)).all()
    assert len(rows) == 25  # one first version per candidate


@pytest.mark.parametrize("known_from", [dt.date(2022, 10, 1), dt.date(2022, 11, 1)])
def test_each_row_reads_the_version_known_by_its_day(store: Engine, known_from: dt.date) -> None:
    """A change known mid-season applies from that day on, never to the days before."""
    ingest_bundle(store, SAMPLE)
    _edit_after_outcome(store, start_date="2023-09-01")
    with store.begin() as conn:  # the same change, as if it had been written on known_from
        conn.execute(
            delete(ProfileVersion).where(
                ProfileVersion.candidate_id == RENEGED,
                ProfileVersion.start_date == dt.date(2023, 9, 1),
            )
        )
        record_versions(conn, [RENEGED], known_from=known_from)
    days = [known_from - dt.timedelta(days=1), known_from, known_from + dt.timedelta(days=7)]
    spine = pd.DataFrame({"candidate_id": [RENEGED] * 3, "as_of": days})
    events = load_events(store, candidate_ids=[RENEGED])
    rows = build_features(events, load_profile_versions(store, [RENEGED]), spine)
    start = [dt.date(2023, 7, 6), dt.date(2023, 9, 1), dt.date(2023, 9, 1)]
    assert rows["days_to_start"].tolist() == [
        (s - d).days for s, d in zip(start, days, strict=True)
    ]
    # and a day's load reads the same versions
    for day, expected in zip(days, start, strict=True):
        profile = load_candidates(store, candidate_ids=[RENEGED], as_of=day).iloc[0]
        assert str(profile["start_date"]) == expected.isoformat()

"""The scored population and its snapshots respect entry, outcome and point in time."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from features.population import active_on, scored_population
from training.snapshots import snapshot_spine

D = dt.date


def _events() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "candidate_id": ["a", "a", "b", "c"],
            "local_day": [D(2023, 10, 1), D(2023, 10, 3), D(2023, 10, 10), D(2023, 11, 1)],
            "type": ["interview_completed", "offer_approval_requested", "offer_sent", "offer_sent"],
        }
    )


def _outcomes() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "candidate_id": ["a", "b"],
            "outcome": ["reneged", "joined"],
            "outcome_date": [D(2023, 11, 1), D(2024, 7, 6)],
        }
    )


def test_entry_is_the_first_approval_request_or_offer() -> None:
    pop = scored_population(_events(), _outcomes()).set_index("candidate_id")
    assert pop.at["a", "entry_day"] == D(2023, 10, 3)
    assert pop.at["b", "entry_day"] == D(2023, 10, 10)
    assert pop.at["a", "label"] == 1 and pop.at["b", "label"] == 0
    assert pd.isna(pop.at["c", "label"])  # still open: no label


def test_snapshots_lie_between_entry_and_outcome() -> None:
    pop = scored_population(_events(), _outcomes())
    spine = snapshot_spine(pop, every_days=7, extra_days=(D(2023, 10, 31),))
    merged = spine.merge(pop, on="candidate_id")
    assert (merged["as_of"] >= merged["entry_day"]).all()
    assert (merged["as_of"] < merged["outcome_date"]).all()
    assert "c" not in set(spine["candidate_id"])
    assert D(2023, 10, 31) in set(spine.loc[spine["candidate_id"] == "a", "as_of"])
    a_days = sorted(spine.loc[spine["candidate_id"] == "a", "as_of"])
    assert a_days[0] == D(2023, 10, 3) and a_days[-1] < D(2023, 11, 1)


def test_active_population_on_a_day() -> None:
    pop = scored_population(_events(), _outcomes())
    assert set(active_on(pop, D(2023, 10, 5))["candidate_id"]) == {"a"}
    assert set(active_on(pop, D(2023, 11, 1))["candidate_id"]) == {"b", "c"}
    assert active_on(pop, D(2023, 9, 1)).empty

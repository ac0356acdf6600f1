"""The season review's tables on tiny hand-made seasons, where every number is known."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from outreach.plan import PlanConfig, in_holdout
from outreach.review import (
    SeasonFrames,
    alert_response,
    content_response,
    funnel_by_month,
    holdout_effect,
    personalised,
    renege_reasons,
)

CONTENT = pd.DataFrame(
    {
        "content_id": ["HOUSE", "NEWS"],
        "kind": ["guide", "news"],
        "topics": ["housing", "team"],
        "role_families": [None, None],
    }
)


def ev(cid: str, ts: str, type_: str, **extra: object) -> dict[str, object]:
    stamp = pd.Timestamp(ts)
    return {
        "candidate_id": cid,
        "ts_utc": stamp,
        "local_day": stamp.date(),
        "type": type_,
        "content_id": extra.get("content_id"),
        "topic": extra.get("topic"),
        "actor": extra.get("actor", "candidate"),
    }


def frames(
    events: list[dict[str, object]],
    outcomes: list[tuple[str, str, str, str | None]] = (),  # type: ignore[assignment]
    alerts: pd.DataFrame | None = None,
) -> SeasonFrames:
    out = pd.DataFrame(outcomes, columns=["candidate_id", "outcome", "outcome_date", "reason"])
    out["outcome_date"] = pd.to_datetime(out["outcome_date"]).dt.date
    return SeasonFrames(
        "2024-autumn",
        pd.DataFrame(columns=["candidate_id", "hr_owner", "department", "role_family"]),
        pd.DataFrame(
            events,
            columns=["candidate_id", "ts_utc", "local_day", "type", "content_id", "topic", "actor"],
        ),
        out,
        CONTENT,
        alerts
        if alerts is not None
        else pd.DataFrame(
            columns=["alert_id", "candidate_id", "kind", "created_at", "resolved_at", "hr_owner"]
        ),
    )


def test_funnel_counts_offers_by_event_month_and_outcomes_by_outcome_month() -> None:
    f = frames(
        [
            ev("a", "2024-10-03 10:00", "offer_sent", actor="hr"),
            ev("b", "2024-10-20 10:00", "offer_sent", actor="hr"),
            ev("a", "2024-11-02 10:00", "offer_accepted"),
        ],
        [("a", "joined", "2025-07-01", None), ("b", "reneged", "2024-11-30", "salary")],
    )
    table = funnel_by_month(f).set_index("month")
    assert table.loc["2024-10"].tolist() == [2, 0, 0, 0]
    assert table.loc["2024-11"].tolist() == [0, 1, 0, 1]
    assert table.loc["2025-07"].tolist() == [0, 0, 1, 0]


def test_renege_reasons_count_unrecorded_ones_as_unknown() -> None:
    f = frames(
        [],
        [
            ("a", "reneged", "2025-01-01", "competing_offer"),
            ("b", "reneged", "2025-01-02", "competing_offer"),
            ("c", "reneged", "2025-01-03", None),
            ("d", "joined", "2025-07-01", None),
        ],
    )
    table = renege_reasons(f)
    assert table.to_dict("list") == {
        "reason": ["competing_offer", "unknown"],
        "reneged": [2, 1],
        "share": [pytest.approx(2 / 3), pytest.approx(1 / 3)],
    }


def test_a_message_is_personalised_only_on_a_topic_asked_before_it() -> None:
    events = pd.DataFrame(
        [
            ev("a", "2024-10-01 09:00", "message_sent", content_id="HOUSE", actor="hr"),
            ev("a", "2024-10-02 09:00", "candidate_question", topic="housing"),
            ev("a", "2024-10-03 09:00", "message_sent", content_id="HOUSE", actor="hr"),
            ev("a", "2024-10-04 09:00", "message_sent", content_id="NEWS", actor="hr"),
            ev("b", "2024-10-04 09:00", "message_sent", content_id="HOUSE", actor="hr"),
        ]
    )
    sends = events[events["type"] == "message_sent"]
    assert personalised(sends, events, CONTENT).tolist() == [False, True, False, False]


def test_content_rates_count_answers_within_the_window_only() -> None:
    f = frames(
        [
            ev("a", "2024-10-01 09:00", "candidate_question", topic="housing"),
            ev("a", "2024-10-02 09:00", "message_sent", content_id="HOUSE", actor="hr"),
            ev("a", "2024-10-02 10:00", "message_opened"),
            ev("a", "2024-10-02 10:05", "link_clicked", content_id="HOUSE"),
            ev("b", "2024-10-02 09:00", "message_sent", content_id="NEWS", actor="hr"),
            ev("b", "2024-10-02 09:30", "link_clicked", content_id="HOUSE"),  # another content
            ev("b", "2024-10-09 09:00", "message_replied"),  # a week later: not an answer
        ]
    )
    table = content_response(f).set_index("content")
    assert table.loc["personalised"].tolist() == [1, 1.0, 1.0, 0.0]
    assert table.loc["template"].tolist() == [1, 0.0, 0.0, 0.0]


def test_alert_response_times_per_recruiter() -> None:
    t0 = pd.Timestamp("2024-10-01 09:00")
    alerts = pd.DataFrame(
        {
            "alert_id": ["1", "2", "3"],
            "candidate_id": ["a", "b", "c"],
            "kind": ["no_reply"] * 3,
            "created_at": [t0, t0, t0],
            "resolved_at": [t0 + pd.Timedelta(hours=2), t0 + pd.Timedelta(hours=6), pd.NaT],
            "hr_owner": ["hr01", "hr01", "hr02"],
        }
    )
    table = alert_response(frames([], alerts=alerts)).set_index("hr_owner")
    assert table.loc["hr01", ["alerts", "answered", "open"]].tolist() == [2, 2, 0]
    assert table.loc["hr01", "median_hours"] == pytest.approx(4.0)
    assert table.loc["hr02", "open"] == 1 and math.isnan(table.loc["hr02", "median_hours"])


def test_holdout_effect_compares_the_holdout_with_the_planned() -> None:
    cfg = PlanConfig()
    ids = [f"c{i}" for i in range(400)]
    held = {c for c in ids if in_holdout(c, cfg)}
    assert 10 < len(held) < 80
    offers = [ev(c, "2024-10-01 09:00", "offer_sent", actor="hr") for c in ids]
    # mid-season: every holdout candidate has reneged; a tenth of the others have,
    # and the rest have no outcome yet (they count, as not reneged so far)
    outcomes = [
        (c, "reneged", "2024-12-01", None) for i, c in enumerate(ids) if c in held or i % 10 == 0
    ]
    table = holdout_effect(frames(offers, outcomes), cfg).set_index("group")
    assert table.loc["holdout", "renege_rate"] == 1.0
    planned = table.loc["planned"]
    assert planned["candidates"] == 400 - len(held)
    assert planned["open"] == planned["candidates"] - planned["reneged"]
    assert planned["renege_rate"] == pytest.approx(0.1, abs=0.02)
    assert planned["effect"] == pytest.approx(1.0 - planned["renege_rate"])
    assert planned["ci_low"] < planned["effect"] < planned["ci_high"]


def test_an_empty_season_gives_empty_tables_not_errors() -> None:
    f = frames([])
    assert funnel_by_month(f).empty
    assert renege_reasons(f).empty
    assert content_response(f)["sent"].tolist() == [0, 0]
    assert alert_response(f).empty
    assert holdout_effect(f)["candidates"].tolist() == [0, 0]

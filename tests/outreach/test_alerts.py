"""Each alert rule on small known cases: when it fires, what resolves it, and point-in-time."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from outreach.alerts import AlertRules, _answer_positions, _ns, alert_text, find_alerts

RULES = AlertRules()


def ev(*rows: tuple[str, str, str, dict[str, str]]) -> pd.DataFrame:
    """(event_id, local time 'YYYY-MM-DD HH:MM' in +08:00, type, extra columns)."""
    out = []
    for event_id, local, type_, extra in rows:
        ts = pd.Timestamp(local) - pd.Timedelta(hours=8)
        out.append(
            {
                "event_id": event_id,
                "candidate_id": extra.get("cid", "c1"),
                "ts_utc": ts,
                "utc_offset_min": 480,
                "local_day": pd.Timestamp(local).date(),
                "type": type_,
                "topic": extra.get("topic"),
                "actor": extra.get("actor"),
            }
        )
    return pd.DataFrame(out)


def alerts_on(events: pd.DataFrame, day: str, **kw: object) -> pd.DataFrame:
    return find_alerts(events, dt.date.fromisoformat(day), RULES, **kw)  # type: ignore[arg-type]


HR = {"actor": "hr"}
CAND = {"actor": "candidate"}


def test_no_reply_after_three_days_then_resolved_by_the_reply() -> None:
    events = ev(
        ("m1", "2024-11-01 10:00", "message_sent", HR),
        ("m2", "2024-11-02 10:00", "message_sent", HR),  # same silence: no second alert
        ("r1", "2024-11-06 09:00", "message_replied", CAND),
    )
    assert alerts_on(events, "2024-11-03").empty  # within 3 days
    open_ = alerts_on(events, "2024-11-04")  # 3 days after 11-01 10:00 falls on 11-04
    assert open_[["kind", "trigger_event_id"]].values.tolist() == [["no_reply", "m1"]]
    assert open_["resolved_at"].isna().all()
    # the reply on 11-06 is not known on 11-05 (point in time) ...
    assert alerts_on(events, "2024-11-05")["resolved_by"].isna().all()
    # ... and resolves it from 11-06 on
    done = alerts_on(events, "2024-11-06")
    assert done["resolved_by"].tolist() == ["r1"]


def test_a_reply_in_time_raises_nothing_and_a_new_silence_starts_over() -> None:
    events = ev(
        ("m1", "2024-11-01 10:00", "message_sent", HR),
        ("r1", "2024-11-02 10:00", "message_replied", CAND),
        ("m2", "2024-11-05 10:00", "message_sent", HR),
    )
    assert alerts_on(events, "2024-11-07").empty
    late = alerts_on(events, "2024-11-08")
    assert late["trigger_event_id"].tolist() == ["m2"]


def test_approval_waits_on_each_approver_with_its_own_sla() -> None:
    events = ev(
        ("req", "2024-11-01 09:00", "offer_approval_requested", HR),
        ("dm", "2024-11-03 09:00", "offer_approval_step", {"actor": "dept_manager"}),
        ("hd", "2024-11-06 09:00", "offer_approval_step", {"actor": "hr_director"}),
    )
    first = alerts_on(events, "2024-11-02")
    assert first[["trigger_event_id", "notify"]].values.tolist() == [["req", "dept_manager"]]
    on_4th = alerts_on(events, "2024-11-04")
    assert on_4th.set_index("trigger_event_id")["resolved_by"].to_dict() == {"req": "dm"}
    on_5th = alerts_on(events, "2024-11-05")  # manager approved 11-03; director's 2 days ran out
    director = on_5th[on_5th["trigger_event_id"] == "dm"]
    assert director["notify"].tolist() == ["hr_director"]
    assert director["resolved_at"].isna().all()
    assert (
        alerts_on(events, "2024-11-06").set_index("trigger_event_id")["resolved_by"]["dm"] == "hd"
    )


def test_a_quick_approval_raises_nothing() -> None:
    events = ev(
        ("req", "2024-11-01 09:00", "offer_approval_requested", HR),
        ("dm", "2024-11-01 15:00", "offer_approval_step", {"actor": "dept_manager"}),
        ("ok", "2024-11-02 09:00", "offer_approved", {"actor": "system"}),
    )
    assert alerts_on(events, "2024-11-10").empty


def test_unanswered_question_and_its_answer() -> None:
    events = ev(
        (
            "q1",
            "2024-11-01 20:00",
            "candidate_question",
            {"actor": "candidate", "topic": "housing"},
        ),
        ("q2", "2024-11-02 20:00", "candidate_question", {"actor": "candidate", "topic": "salary"}),
        ("a1", "2024-11-05 09:00", "message_sent", HR),
    )
    assert alerts_on(events, "2024-11-02").empty
    open_ = alerts_on(events, "2024-11-03")
    assert open_["trigger_event_id"].tolist() == ["q1"]
    assert open_["detail"].iloc[0]["topic"] == "housing"
    assert alerts_on(events, "2024-11-05")["resolved_by"].tolist() == ["a1"]


@pytest.mark.parametrize(
    ("trigger", "extra", "kind", "answer"),
    [
        ("external_signal", {"topic": "competing_offer"}, "competing_offer", "call_made"),
        ("offer_extension_requested", CAND, "extension_requested", "message_sent"),
    ],
)
def test_signals_alert_at_once_until_hr_answers(
    trigger: str, extra: dict[str, str], kind: str, answer: str
) -> None:
    events = ev(
        ("t", "2024-11-01 22:00", trigger, extra),
        ("a", "2024-11-03 10:00", answer, HR),
    )
    now = alerts_on(events, "2024-11-01")
    assert now["kind"].tolist() == [kind] and now["resolved_at"].isna().all()
    assert alerts_on(events, "2024-11-03")["resolved_by"].tolist() == ["a"]


def test_a_template_message_does_not_answer_a_competing_offer() -> None:
    events = ev(
        ("t", "2024-11-01 22:00", "external_signal", {"topic": "competing_offer"}),
        ("m", "2024-11-02 10:00", "message_sent", HR),
    )
    assert alerts_on(events, "2024-11-04")["resolved_at"].isna().all()


def test_risk_jump_from_the_score_history() -> None:
    history = pd.DataFrame(
        {
            "candidate_id": ["c1", "c1", "c1", "c2", "c2"],
            "as_of": [dt.date(2024, 11, d) for d in (1, 4, 8)]
            + [dt.date(2024, 11, d) for d in (1, 8)],
            "risk": [0.20, 0.25, 0.40, 0.30, 0.35],
        }
    )
    events = ev(("m", "2024-11-09 10:00", "call_made", HR))
    jumps = alerts_on(events, "2024-11-08", risk_history=history)
    assert jumps[["candidate_id", "kind"]].values.tolist() == [["c1", "risk_jump"]]
    assert jumps["detail"].iloc[0]["jump"] == pytest.approx(0.20)
    assert jumps["resolved_at"].isna().all()  # the call on 11-09 is not known on 11-08
    assert alerts_on(events, "2024-11-09", risk_history=history).empty  # no new jump that day


def test_only_active_candidates_and_no_future_events() -> None:
    events = ev(
        ("m1", "2024-11-01 10:00", "message_sent", {"actor": "hr", "cid": "c1"}),
        ("m2", "2024-11-01 10:00", "message_sent", {"actor": "hr", "cid": "c2"}),
        ("later", "2024-11-20 10:00", "message_replied", {"actor": "candidate", "cid": "c1"}),
    )
    got = alerts_on(events, "2024-11-10", active={"c1"})
    assert got["candidate_id"].tolist() == ["c1"]
    assert got["resolved_at"].isna().all()


def test_words_in_both_languages() -> None:
    events = ev(("m1", "2024-11-01 10:00", "message_sent", HR))
    row = alerts_on(events, "2024-11-05").iloc[0]
    zh = alert_text(row["kind"], row["detail"], row["notify"], dt.date(2024, 11, 5), "zh")
    en = alert_text(row["kind"], row["detail"], row["notify"], dt.date(2024, 11, 5), "en")
    assert zh == "HR 需要回复的消息 4 天未获回复，请跟进"
    assert en == "no reply for 4 days to an HR message that asked for one: please follow up"
    approval = alert_text(
        "approval_pending", {"since": "2024-11-01"}, "hr_director", dt.date(2024, 11, 4), "en"
    )
    assert approval == "offer approval waiting on the HR director for 3 days: please chase"


def test_timestamps_of_any_resolution() -> None:
    """Stores and frames hand timestamps in s, us or ns; alerts must not care."""
    events = ev(
        ("m1", "2024-11-01 10:00", "message_sent", HR),
        ("r1", "2024-11-06 09:00", "message_replied", CAND),
    )
    for unit in ("s", "us", "ns"):
        typed = events.assign(ts_utc=events["ts_utc"].astype(f"datetime64[{unit}]"))
        assert alerts_on(typed, "2024-11-06")["resolved_by"].tolist() == ["r1"]


def test_no_reply_counts_only_messages_that_asked_for_one() -> None:
    news = {**HR, "content_id": "N1"}  # company news: asks for no reply
    answer = {**HR, "content_id": "H1", "topic": "housing"}  # an answer: does
    events = ev(("m1", "2024-11-01 10:00", "message_sent", news))
    events["content_id"] = ["N1"]
    assert alerts_on(events, "2024-11-10").empty
    both = ev(
        ("m1", "2024-11-01 10:00", "message_sent", news),
        ("m2", "2024-11-02 10:00", "message_sent", answer),
    )
    both["content_id"] = ["N1", "H1"]
    late = alerts_on(both, "2024-11-06")
    assert late["trigger_event_id"].tolist() == ["m2"]
    assert "asked for one" in alert_text("no_reply", {"since": "2024-11-02"}, "hr",
                                         dt.date(2024, 11, 6), "en")  # fmt: skip


def _merge_asof_answer(triggers: pd.DataFrame, answers: pd.DataFrame) -> pd.DataFrame:
    """The reference: pandas' forward as-of join by candidate (what alerts used before)."""
    left = triggers.sort_values("ts", kind="stable").reset_index(drop=True)
    right = answers[["candidate_id", "ts", "event_id"]].rename(
        columns={"ts": "answered_at", "event_id": "answered_by"}
    )
    right = right.sort_values("answered_at", kind="stable")
    right["_key"] = right["answered_at"].astype("datetime64[ns]")
    left["_key"] = (left["ts"] + pd.Timedelta(microseconds=1)).astype("datetime64[ns]")
    merged = pd.merge_asof(left, right, on="_key", by="candidate_id", direction="forward")
    return merged.drop(columns="_key")


def _next_answer(triggers: pd.DataFrame, answers: pd.DataFrame) -> pd.DataFrame:
    """``_answer_positions`` on two frames, as ``_merge_asof_answer`` gives its result:
    ``triggers`` sorted by ``ts`` (stable), with ``answered_at`` and ``answered_by``."""
    left = triggers.sort_values("ts", kind="stable").reset_index(drop=True)
    n_left = len(left)
    ids = np.concatenate(
        [left["candidate_id"].to_numpy(dtype=object), answers["candidate_id"].to_numpy(object)]
    )
    answer = _answer_positions(
        np.arange(n_left),
        np.arange(n_left, len(ids)),
        np.concatenate([_ns(left["ts"]), _ns(answers["ts"])]),
        pd.factorize(ids)[0],
    )
    answer[answer >= 0] -= n_left
    found = answers[["ts", "event_id"]].reset_index(drop=True).reindex(answer)  # -1: none
    found = found.set_axis(left.index)
    return left.assign(answered_at=found["ts"], answered_by=found["event_id"])


def test_the_next_answer_is_the_forward_as_of_join_by_candidate() -> None:
    rng = np.random.default_rng(14)
    start = pd.Timestamp("2024-10-01")

    def events(n: int, prefix: str, objects: bool) -> pd.DataFrame:
        # few candidates and coarse times: ties within and across the two frames,
        # and each frame in its own resolution, as stores and frames give them
        seconds = rng.integers(0, 6, n) * 3600 + rng.integers(0, 2, n)
        # an answer a microsecond after its trigger is the closest "strictly after"
        micro = pd.to_timedelta(rng.integers(0, 2, n), unit="us")
        unit = str(rng.choice(["s", "us", "ns"]))
        frame = pd.DataFrame(
            {
                "event_id": [f"{prefix}{i}" for i in range(n)],
                "candidate_id": rng.choice(["A", "B", "C"], n),
                "ts": (start + pd.to_timedelta(seconds, unit="s") + micro).astype(
                    f"datetime64[{unit}]"
                ),
            }
        )
        # pandas' strings, or Python objects (a concatenation with an empty frame gives them)
        return frame.astype({"event_id": object, "candidate_id": object}) if objects else frame

    for case in range(200):
        objects = bool(case % 2)  # both frames alike: they are parts of one events frame
        triggers = events(int(rng.integers(1, 12)), "t", objects)
        answers = events(int(rng.integers(0, 12)), "a", objects)
        expected = _merge_asof_answer(triggers, answers)
        got = _next_answer(triggers, answers)
        try:
            pd.testing.assert_frame_equal(got, expected)
        except AssertionError as error:
            raise AssertionError(f"case {case}:\n{triggers}\n{answers}") from error

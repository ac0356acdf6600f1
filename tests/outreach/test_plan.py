"""The daily plan on small known cases: actions, content, capacity, holdout, cadence."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from types import SimpleNamespace

import numpy as np
import pandas as pd

from features.catalogue import FEATURE_NAMES
from outreach.plan import (
    PlanConfig,
    answer_content,
    build_plan,
    cadence,
    choose_action,
    in_holdout,
    library,
    make_plan,
    pick_content,
    plan_with_shadow,
)

DAY = dt.date(2024, 12, 2)
CONTENT = pd.DataFrame(
    {
        "content_id": ["G1", "H1", "S1", "T1", "N1", "GR1"],
        "title": ["guide", "housing", "salary", "tech", "news", "greeting"],
        "kind": ["guide", "article", "article", "video", "news", "greeting"],
        "role_families": ["", "", "", "tech", "", ""],
        "topics": ["", "housing", "salary", "tech_stack;training", "", ""],
        "stage": ["offer", "any", "any", "any", "any", "any"],
    }
)


def feature_rows(n: int, **values: object) -> pd.DataFrame:
    rows = pd.DataFrame({name: [0.0] * n for name in FEATURE_NAMES})
    rows["role_family"] = "tech"
    rows["days_to_start"] = 200.0
    rows["days_since_hr_contact"] = 7.0
    rows["candidate_id"] = [f"c{i:03d}" for i in range(n)]
    for k, v in values.items():
        rows[k] = v
    return rows


def no_events() -> pd.DataFrame:
    return pd.DataFrame(columns=["candidate_id", "local_day", "type", "topic", "content_id"])


def plan_for(
    scores: pd.DataFrame,
    feats: pd.DataFrame,
    cfg: PlanConfig,
    alerts: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
    day: dt.date = DAY,
) -> pd.DataFrame:
    """``make_plan`` with no open alerts and no events unless a test gives some."""
    alerts = pd.DataFrame(columns=["candidate_id", "kind"]) if alerts is None else alerts
    return make_plan(
        day, scores, feats, alerts, no_events() if events is None else events, CONTENT, cfg
    )


def test_actions_follow_the_open_alerts() -> None:
    cfg = PlanConfig()
    quiet = SimpleNamespace(hr_messages_7d=0, replies_7d=0, open_questions=0)
    assert choose_action(quiet, {"approval_pending", "no_reply"}, cfg) == "escalate_approval"
    assert choose_action(quiet, {"question_unanswered"}, cfg) == "answer_question"
    assert choose_action(quiet, {"competing_offer"}, cfg) == "call"
    assert choose_action(quiet, {"no_reply"}, cfg) == "call"
    assert choose_action(quiet, set(), cfg) == "send_content"
    flooded = SimpleNamespace(hr_messages_7d=4, replies_7d=0, open_questions=0)
    assert choose_action(flooded, {"no_reply"}, cfg) == "leave_alone"
    # a question asked this morning is answered today, before its 2-day alert
    asked = SimpleNamespace(hr_messages_7d=0, replies_7d=0, open_questions=1)
    assert choose_action(asked, set(), cfg) == "answer_question"


def test_content_matches_interest_role_and_far_from_home_and_never_repeats() -> None:
    asked = Counter({"housing": 2})
    item, zh, en = pick_content("tech", "accepted", asked, True, set(), CONTENT)
    assert item == "H1"
    assert en == "asked about housing twice; far from home" and "住房" in zh
    again, _, _ = pick_content("tech", "accepted", asked, True, {"H1"}, CONTENT)
    assert again != "H1"
    # role family: a tech item never goes to sales; stage: the offer-stage guide only at offer
    for _ in range(3):
        sales, _, _ = pick_content(
            "sales", "accepted", Counter({"tech_stack": 3}), False, set(), CONTENT
        )
        assert sales not in ("T1", "G1")
    offer_item, _, _ = pick_content(
        "sales", "offer", Counter(), False, {"H1", "S1", "N1", "GR1"}, CONTENT
    )
    assert offer_item == "G1"


def test_recently_sent_content_is_skipped_within_the_window() -> None:
    feats = feature_rows(1, far_from_home=1.0)
    scores = pd.DataFrame({"candidate_id": ["c000"], "risk": [0.5], "hr_owner": ["hr01"]})
    events = pd.DataFrame(
        {
            "candidate_id": ["c000", "c000"],
            "local_day": [DAY - dt.timedelta(days=3), DAY - dt.timedelta(days=1)],
            "type": ["candidate_question", "message_sent"],
            "topic": ["housing", None],
            "content_id": [None, "H1"],
        }
    )
    cfg = PlanConfig(holdout_share=0.0)
    plan = plan_for(scores, feats, cfg, events=events)
    assert plan["content_id"].tolist() != ["H1"]
    later = plan_for(scores, feats, cfg, events=events, day=DAY + dt.timedelta(days=20))
    assert later["content_id"].tolist() == ["H1"]


def test_urgent_work_comes_first_and_a_recent_contact_waits() -> None:
    feats = feature_rows(3)
    feats.loc[1, "days_since_hr_contact"] = 1.0  # heard from HR yesterday
    feats.loc[2, "open_questions"] = 1.0  # asked something this morning
    feats.loc[2, "days_since_hr_contact"] = 1.0
    scores = pd.DataFrame(
        {"candidate_id": ["c000", "c001", "c002"], "risk": [0.5, 0.5, 0.05], "hr_owner": "hr01"}
    )
    cfg = PlanConfig(holdout_share=0.0, capacity=1)
    plan = plan_for(scores, feats, cfg)
    # the question is answered first, even at a low risk and right after a contact
    assert plan[["candidate_id", "action"]].values.tolist() == [["c002", "answer_question"]]
    roomy = plan_for(scores, feats, cfg.model_copy(update={"capacity": 5}))
    assert roomy["candidate_id"].tolist() == ["c002", "c000"]  # c001 was contacted yesterday
    waited = cfg.model_copy(update={"capacity": 5, "cooldown_days": 0})
    assert len(plan_for(scores, feats, waited)) == 3
    # a live threat is urgent too: a competing offer gets its call despite yesterday's contact
    threat = pd.DataFrame({"candidate_id": ["c001"], "kind": ["competing_offer"]})
    called = plan_for(scores, feats, cfg.model_copy(update={"capacity": 5}), alerts=threat)
    assert called.set_index("candidate_id").loc["c001", "action"] == "call"


def test_capacity_and_benefit_order() -> None:
    n = 40
    feats = feature_rows(n)
    risks = [0.02 + 0.95 * i / (n - 1) for i in range(n)]
    scores = pd.DataFrame(
        {
            "candidate_id": feats["candidate_id"],
            "risk": risks,
            "hr_owner": ["hr01"] * 30 + ["hr02"] * 10,
        }
    )
    cfg = PlanConfig(capacity=5, capacity_by_owner={"hr02": 2}, holdout_share=0.0)
    plan = plan_for(scores, feats, cfg)
    assert plan.groupby("hr_owner").size().to_dict() == {"hr01": 5, "hr02": 2}
    chosen = plan[plan["hr_owner"] == "hr01"]["risk"]
    # value is the risk an action removes: the riskiest of hr01 come first, not the middling
    assert sorted(chosen, reverse=True) == sorted(risks[:30], reverse=True)[:5]
    for _, rows in plan.groupby("hr_owner"):
        assert rows["expected_benefit"].is_monotonic_decreasing
        assert rows["place"].tolist() == list(range(1, len(rows) + 1))


def test_holdout_is_stable_and_about_its_share() -> None:
    cfg = PlanConfig()
    ids = [f"K24{i:06d}" for i in range(5000)]
    first = [in_holdout(c, cfg) for c in ids]
    assert first == [in_holdout(c, cfg) for c in ids]
    assert 0.08 < sum(first) / len(ids) < 0.12
    feats = feature_rows(200)
    scores = pd.DataFrame({"candidate_id": feats["candidate_id"], "risk": 0.5, "hr_owner": "hr01"})
    plan = plan_for(scores, feats, PlanConfig(capacity=1000))
    held = {c for c in feats["candidate_id"] if in_holdout(c, cfg)}
    assert held and not held & set(plan["candidate_id"])


def test_cadence_days_birthdays_and_holidays() -> None:
    feats = feature_rows(4)
    feats["days_since_offer_sent"] = [1.0, 3.0, 14.0, 5.0]
    feats["far_from_home"] = [0.0, 1.0, 0.0, 0.0]
    cands = pd.DataFrame(
        {
            "candidate_id": feats["candidate_id"],
            "birthday": [None, None, None, dt.date(2001, 12, 2)],
        }
    )
    got = cadence(DAY, cands, feats, CONTENT).set_index("candidate_id")["action"].to_dict()
    assert got == {
        "c000": "cadence:offer_confirmation",
        "c001": "cadence:onboarding_guide_housing",
        "c002": "cadence:company_news",
        "c003": "cadence:birthday",
    }
    mid_autumn = cadence(
        dt.date(2024, 9, 17), cands, feats.assign(days_since_offer_sent=5.0), CONTENT
    )
    assert set(mid_autumn["action"]) == {"cadence:mid_autumn"}
    national = cadence(
        dt.date(2024, 10, 1), cands, feats.assign(days_since_offer_sent=5.0), CONTENT
    )
    assert set(national["action"]) == {"cadence:national_day"}
    spring = cadence(dt.date(2025, 1, 29), cands, feats.assign(days_since_offer_sent=5.0), CONTENT)
    assert set(spring["action"]) == {"cadence:spring_festival"}
    assert set(spring["content_id"]) == {"GR1"}


def test_every_top_risk_and_open_question_is_planned_or_listed_with_why() -> None:
    n = 30
    feats = feature_rows(n)
    risks = [0.9 - 0.02 * i for i in range(n)]  # c000 riskiest
    feats.loc[1, "days_since_hr_contact"] = 1.0  # contacted yesterday: waits
    feats.loc[2, ["hr_messages_7d", "replies_7d"]] = [4.0, 0.0]  # flooded: left alone
    feats.loc[29, "open_questions"] = 1.0  # a low-risk question
    scores = pd.DataFrame(
        {"candidate_id": feats["candidate_id"], "risk": risks, "hr_owner": "hr01"}
    )
    cfg = PlanConfig(capacity=4, holdout_share=0.0)
    plan = build_plan(DAY, scores, feats, pd.DataFrame(columns=["candidate_id", "kind"]),
                      no_events(), CONTENT, cfg)  # fmt: skip
    planned = set(plan.tasks["candidate_id"])
    listed = plan.not_planned.set_index("candidate_id")
    top10 = scores.nlargest(10, "risk")["candidate_id"]
    for cid in [*top10, "c029"]:
        assert (cid in planned) != (cid in listed.index), cid
    assert listed.loc["c001", "code"] == "contacted_recently"
    assert listed.loc["c001", "reason_en"] == "contacted 1 days ago: waiting for a reply"
    assert listed.loc["c002", "code"] == "over_contacted"
    queued = listed[listed["code"] == "capacity"]
    assert not queued.empty and (queued["place"] > cfg.capacity).all()
    assert all("第" in z and "位" in z for z in queued["reason"])
    # the question is urgent and fits in the urgent share: answered first, at 32% risk
    assert plan.tasks.iloc[0]["candidate_id"] == "c029"
    assert bool(plan.tasks.iloc[0]["urgent"])
    # the holdout is listed too, by its own reason
    held = build_plan(DAY, scores, feats, pd.DataFrame(columns=["candidate_id", "kind"]),
                      no_events(), CONTENT, PlanConfig(capacity=4, holdout_share=0.99))  # fmt: skip
    assert set(held.not_planned["code"]) == {"holdout"}


def test_the_plan_and_its_shadow_from_one_pass_equal_the_two_made_apart() -> None:
    from outreach.shadow import shadow_plan

    n = 120
    rng = np.random.default_rng(3)
    feats = feature_rows(n)
    feats["open_questions"] = (rng.random(n) < 0.3).astype(float)
    feats["days_since_hr_contact"] = rng.integers(0, 10, n).astype(float)
    feats.loc[rng.random(n) < 0.1, ["hr_messages_7d", "replies_7d"]] = [4.0, 0.0]
    scores = pd.DataFrame(
        {
            "candidate_id": feats["candidate_id"],
            "risk": rng.random(n).round(3),
            "hr_owner": [f"hr{i % 4}" for i in range(n)],
        }
    )
    alerts = pd.DataFrame({"candidate_id": ["c005", "c017"], "kind": ["competing_offer"] * 2})
    cfg = PlanConfig(capacity=6, holdout_share=0.3)
    plan, shadow = plan_with_shadow(DAY, scores, feats, alerts, no_events(), CONTENT, cfg)
    apart = build_plan(DAY, scores, feats, alerts, no_events(), CONTENT, cfg)
    pd.testing.assert_frame_equal(plan.tasks, apart.tasks)
    pd.testing.assert_frame_equal(plan.not_planned, apart.not_planned)
    alone = shadow_plan(DAY, scores, feats, alerts, no_events(), CONTENT, cfg)
    assert len(shadow) > 0 and (shadow["candidate_id"].map(lambda c: in_holdout(c, cfg))).all()
    pd.testing.assert_frame_equal(shadow, alone)


def test_questions_beyond_the_urgent_share_compete_by_value_and_say_so() -> None:
    n = 10
    feats = feature_rows(n)
    feats["open_questions"] = [1.0] * 6 + [0.0] * 4  # six low-risk questions
    risks = [0.05] * 6 + [0.8, 0.7, 0.6, 0.5]
    scores = pd.DataFrame(
        {"candidate_id": feats["candidate_id"], "risk": risks, "hr_owner": "hr01"}
    )
    plan = build_plan(DAY, scores, feats, pd.DataFrame(columns=["candidate_id", "kind"]),
                      no_events(), CONTENT, PlanConfig(capacity=4, holdout_share=0.0))  # fmt: skip
    tasks = plan.tasks
    # half the capacity goes to questions first, the rest to the riskiest by value
    assert tasks["action"].tolist()[:2] == ["answer_question"] * 2
    assert tasks["urgent"].tolist() == [True, True, False, False]
    assert set(tasks["candidate_id"][2:]) == {"c006", "c007"}
    waiting = plan.not_planned[plan.not_planned["code"] == "capacity_question"]
    assert len(waiting) == 4 and all("weighed by value" in w for w in waiting["reason_en"])


def test_answer_content_matches_the_question_topic_or_says_none_fits() -> None:
    items = library(CONTENT)
    item, zh, en = answer_content(["training"], "tech", "accepted", set(), items)
    assert item == "T1" and "培训" in zh
    # housing content never answers a training question, far from home or not
    none, zh, en = answer_content(["training"], "sales", "accepted", set(), items)
    assert none is None and "亲自答复" in zh and "answer in person" in en and "training" in en
    feats = feature_rows(1, far_from_home=1.0, open_questions=1.0)
    scores = pd.DataFrame({"candidate_id": ["c000"], "risk": [0.3], "hr_owner": ["hr01"]})
    events = pd.DataFrame(
        {
            "candidate_id": ["c000", "c000"],
            "local_day": [DAY - dt.timedelta(days=5), DAY - dt.timedelta(days=1)],
            "type": ["candidate_question", "candidate_question"],
            "topic": ["housing", "training"],
            "content_id": [None, None],
        }
    )
    plan = plan_for(scores, feats.assign(role_family="design"), PlanConfig(holdout_share=0.0),
                    events=events)  # fmt: skip
    row = plan.iloc[0]
    assert row["action"] == "answer_question"
    # housing has content, the newer training question has none: the words say both
    assert row["content_id"] == "H1"
    assert "培训" in row["reason"] and "亲自答复" in row["reason"]
    assert "training" in row["reason_en"] and "异地" not in row["reason"]

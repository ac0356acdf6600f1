"""The daily plan on small known cases: actions, content, capacity, holdout, cadence."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from types import SimpleNamespace

import pandas as pd

from features.catalogue import FEATURE_NAMES
from outreach.plan import PlanConfig, cadence, choose_action, in_holdout, make_plan, pick_content

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
    # middling risks beat near-certain ones either way: the riskiest of hr01 is not picked
    assert chosen.max() < max(risks[:30]) and chosen.min() > min(risks[:30])
    for _, rows in plan.groupby("hr_owner"):
        assert rows["expected_benefit"].is_monotonic_decreasing


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

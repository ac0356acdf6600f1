"""Each recruiter's daily plan: who to contact, how, with which content, within capacity.

Plain functions over frames the daily flow already has (the day's scores and
feature rows, open alerts, recent events, the content library):

- ``choose_action``: the action most likely to keep a candidate, from open alerts
  and engagement (an over-contacted, silent candidate is left alone);
- ``pick_content``: a content item matched on role family, the topics the
  candidate asked about or clicked, and stage, never one sent within the
  repeat window, with the reason in words;
- ``make_plan``: urgent work first (an open question, a stuck approval, a
  competing offer, an extension request), the rest ranked by expected benefit
  (risk x (1 - risk) x the action's effect: someone certain to leave, or
  certain to stay, gains little; raised by ``urgency_factor`` when much of the
  risk falls due within 30 days); a call or content waits ``cooldown_days``
  after HR's last contact unless urgent; keeps each recruiter's capacity; a
  stable random holdout gets only the cadence;
- ``cadence``: the brief's stage cadence, sent for everyone (holdout included):
  offer confirmation on day 1, onboarding guide on day 3 (with the housing
  note for candidates from another city), company news on day 7 and weekly
  after, birthday and Chinese holiday greetings (from the ``holidays`` library).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from typing import Any

import holidays
import pandas as pd
from pydantic import BaseModel, Field

ACTIONS = (
    "call",
    "answer_question",
    "escalate_approval",
    "send_content",
    "leave_alone",
)
WORDS = {
    "call": ("电话沟通", "call"),
    "answer_question": ("答复候选人的问题", "answer the open question"),
    "escalate_approval": ("催办 offer 审批", "chase the offer approval"),
    "send_content": ("发送个性化内容", "send personalised content"),
    "leave_alone": ("暂不打扰 (近期联系过多)", "leave alone (contacted a lot lately)"),
}
TOPIC_WORDS = {
    "salary": ("薪酬", "salary"),
    "housing": ("住房", "housing"),
    "training": ("培训", "training"),
    "team": ("团队", "the team"),
    "tech_stack": ("技术栈", "the tech stack"),
    "growth": ("发展", "growth"),
    "location": ("工作地点", "the location"),
    "competing_offer": ("其他 offer", "other offers"),
    "other": ("其他", "other things"),
}
HOLIDAYS = {  # the greetings the brief names, by the holidays library's English names
    "Mid-Autumn Festival": "mid_autumn",
    "National Day": "national_day",
    "Chinese New Year (Spring Festival)": "spring_festival",
}


# Work that cannot wait for the ranking: a question asked, an approval stuck, a live threat.
URGENT_ACTIONS = frozenset({"answer_question", "escalate_approval"})
URGENT_ALERTS = frozenset({"competing_offer", "extension_requested"})


class PlanConfig(BaseModel):
    capacity: int = Field(default=15, ge=0, description="Actions per recruiter per day")
    capacity_by_owner: dict[str, int] = Field(default_factory=dict)
    holdout_share: float = Field(default=0.10, ge=0, lt=1)
    holdout_salt: str = "keepwarm-holdout-1"
    repeat_window_days: int = Field(default=14, ge=0)
    over_contacted_7d: int = Field(default=3, ge=1, description="HR messages in 7 days, no reply")
    cooldown_days: int = Field(
        default=3,
        ge=0,
        description="No call or content within this many days of HR's last contact, unless urgent",
    )
    pre_start_days: int = Field(default=30, ge=0)
    urgency_weight: float = Field(
        default=1.0,
        ge=0,
        description="Extra weight on expected benefit for the share of the risk due within 30 days",
    )
    # Relative cut in renege risk an action is assumed to bring, until holdout data says better.
    effects: dict[str, float] = Field(
        default_factory=lambda: {
            "call": 0.25,
            "answer_question": 0.30,
            "escalate_approval": 0.20,
            "send_content": 0.10,
            "leave_alone": 0.0,
        }
    )


def in_holdout(candidate_id: str, cfg: PlanConfig) -> bool:
    """Stable per candidate: the same id is in or out on every day and in every process."""
    digest = hashlib.sha256(f"{cfg.holdout_salt}:{candidate_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < cfg.holdout_share


def stage_of(offer_accepted: float, days_to_start: float, cfg: PlanConfig) -> str:
    if not offer_accepted:
        return "offer"
    if pd.notna(days_to_start) and days_to_start <= cfg.pre_start_days:
        return "pre_start"
    return "accepted"


def choose_action(row: Any, open_kinds: set[str], cfg: PlanConfig) -> str:
    """The next best action for one candidate's feature row and open alerts."""
    if "approval_pending" in open_kinds:
        return "escalate_approval"
    # An open question is answered today: the 2-day alert is a warning, not a waiting time.
    if "question_unanswered" in open_kinds or row.open_questions > 0:
        return "answer_question"
    if open_kinds & {"competing_offer", "extension_requested", "risk_jump"}:
        return "call"
    if row.hr_messages_7d >= cfg.over_contacted_7d and not row.replies_7d:
        return "leave_alone"
    if "no_reply" in open_kinds:
        return "call"
    return "send_content"


Item = tuple[str, list[str], list[str], str | None]  # id, role families, topics, stage


def library(content: pd.DataFrame) -> list[Item]:
    """The content library parsed once: id, role families, topics, stage."""
    return [
        (
            item,
            [f for f in str(families or "").split(";") if f],
            [t for t in str(topics or "").split(";") if t],
            item_stage if isinstance(item_stage, str) else None,
        )
        for item, families, topics, item_stage in zip(
            content["content_id"],
            content["role_families"],
            content["topics"],
            content["stage"],
            strict=True,
        )
    ]


def interests(events: pd.DataFrame, items: list[Item]) -> dict[str, Counter[str]]:
    """Topics each candidate asked about or clicked on."""
    out: dict[str, Counter[str]] = {}
    asked = events[events["type"].isin(["candidate_question", "info_session_question"])]
    for cid, topic in zip(asked["candidate_id"], asked["topic"], strict=True):
        if isinstance(topic, str):
            out.setdefault(cid, Counter())[topic] += 1
    topics = {item: tops for item, _, tops, _ in items}
    clicks = events[(events["type"] == "link_clicked") & events["content_id"].notna()]
    for cid, item in zip(clicks["candidate_id"], clicks["content_id"], strict=True):
        for topic in topics.get(item, ()):
            out.setdefault(cid, Counter())[topic] += 1
    return out


def pick_content(
    role_family: str | None,
    stage: str,
    asked: Counter[str],
    far_from_home: bool,
    recently_sent: set[str],
    content: pd.DataFrame | list[Item],
) -> tuple[str | None, str, str]:
    """The best unsent item for this candidate, and why (Chinese, English)."""
    items = library(content) if isinstance(content, pd.DataFrame) else content
    best: tuple[float, str, list[str]] | None = None
    for item, fams, tops, item_stage in items:
        if item in recently_sent:
            continue
        if fams and role_family not in fams:
            continue
        if item_stage is not None and item_stage not in ("any", stage):
            continue
        score = 2.0 * sum(asked[t] for t in tops) + (1.0 if fams else 0.0)
        score += 1.5 if far_from_home and "housing" in tops else 0.0
        score += 0.5 if item_stage == stage else 0.0
        if best is None or (score, item) > best[:2]:
            best = (score, item, tops)
    if best is None:
        return None, "", ""
    _, item, tops = best
    zh, en = [], []
    for t in tops:
        if asked[t]:
            words = TOPIC_WORDS.get(t, (t, t))
            zh.append(f"问过{words[0]} {asked[t]} 次")
            en.append(f"asked about {words[1]} {_times(asked[t])}")
    if far_from_home and "housing" in tops:
        zh.append("异地入职")
        en.append("far from home")
    if not zh:
        zh.append("适合当前阶段与岗位")
        en.append("fits the stage and role")
    return item, "；".join(zh), "; ".join(en)


def urgency_factor(score: Any, cfg: PlanConfig) -> float:
    """``1 + urgency_weight x risk_30d / risk``: between two equal risks, the one due
    within 30 days comes first (a renege that is months away can be worked on later;
    issue 16). 1 when the score has no ``risk_30d`` (a model without the
    time-to-renege part) or no risk.
    """
    risk, soon = float(score.risk), getattr(score, "risk_30d", None)
    if soon is None or pd.isna(soon) or risk <= 0:
        return 1.0
    return 1.0 + cfg.urgency_weight * min(float(soon) / risk, 1.0)


def _times(n: int) -> str:
    return {1: "once", 2: "twice"}.get(n, f"{n} times")


def make_plan(
    day: dt.date,
    scores: pd.DataFrame,
    features: pd.DataFrame,
    alerts: pd.DataFrame,
    events: pd.DataFrame,
    content: pd.DataFrame,
    cfg: PlanConfig,
) -> pd.DataFrame:
    """Each recruiter's actions for ``day``, best first, at most their capacity.

    ``scores``: candidate_id, risk, hr_owner (and risk_30d, if the model has it).
    ``features``: the day's feature rows.
    ``alerts``: open alerts (candidate_id, kind). ``events``: recent events with content_id.
    """
    feats = features.set_index("candidate_id")
    open_by = alerts.groupby("candidate_id")["kind"].agg(set).to_dict() if len(alerts) else {}
    since = day - dt.timedelta(days=cfg.repeat_window_days)
    sent = events[(events["type"] == "message_sent") & (events["local_day"] > since)]
    recently: dict[str, set[str]] = (
        sent.dropna(subset=["content_id"]).groupby("candidate_id")["content_id"].agg(set).to_dict()
    )
    items = library(content)
    asked = interests(events, items)
    rows = []
    for s in scores.itertuples(index=False):
        if in_holdout(s.candidate_id, cfg) or s.candidate_id not in feats.index:
            continue
        f = feats.loc[s.candidate_id]
        kinds = open_by.get(s.candidate_id, set())
        action = choose_action(f, kinds, cfg)
        if action == "leave_alone":
            continue
        urgent = action in URGENT_ACTIONS or bool(kinds & URGENT_ALERTS)
        since = f.days_since_hr_contact
        if not urgent and pd.notna(since) and since < cfg.cooldown_days:
            continue  # heard from HR lately: another touch can wait
        item, why_zh, why_en = None, WORDS[action][0], WORDS[action][1]
        if action in ("send_content", "answer_question"):
            stage = stage_of(f.offer_accepted, f.days_to_start, cfg)
            item, zh, en = pick_content(
                f.role_family,
                stage,
                asked.get(s.candidate_id, Counter()),
                bool(f.far_from_home),
                recently.get(s.candidate_id, set()),
                items,
            )
            if item is None and action == "send_content":
                continue
            why_zh, why_en = f"{why_zh}：{zh}", f"{why_en}: {en}"
        if kinds:
            why_zh += " (预警: " + ", ".join(sorted(kinds)) + ")"
            why_en += " (alerts: " + ", ".join(sorted(kinds)) + ")"
        risk = float(s.risk)
        benefit = cfg.effects.get(action, 0.0) * risk * (1 - risk) * urgency_factor(s, cfg)
        rows.append(
            {
                "candidate_id": s.candidate_id,
                "hr_owner": s.hr_owner,
                "plan_date": day,
                "action": action,
                "content_id": item,
                "reason": why_zh,
                "reason_en": why_en,
                "risk": risk,
                "expected_benefit": round(benefit, 5),
                "_urgent": urgent,
            }
        )
    plan = pd.DataFrame(
        rows,
        columns=[
            "candidate_id",
            "hr_owner",
            "plan_date",
            "action",
            "content_id",
            "reason",
            "reason_en",
            "risk",
            "expected_benefit",
            "_urgent",
        ],
    )
    plan = plan.sort_values(
        ["hr_owner", "_urgent", "expected_benefit", "candidate_id"],
        ascending=[True, False, False, True],
    )
    capacity = plan["hr_owner"].map(lambda o: cfg.capacity_by_owner.get(o, cfg.capacity))
    keep = plan.groupby("hr_owner").cumcount() < capacity
    return plan[keep].drop(columns="_urgent").reset_index(drop=True)


def cadence(
    day: dt.date,
    candidates: pd.DataFrame,
    features: pd.DataFrame,
    content: pd.DataFrame,
) -> pd.DataFrame:
    """The stage cadence for ``day``: automatic messages, holdout included.

    ``candidates``: candidate_id, birthday. ``features``: the day's rows (days since
    the offer was sent, far from home).
    """
    by_kind = content.groupby("kind")["content_id"].first().to_dict() if len(content) else {}
    cn = holidays.China(years=[day.year], language="en_US")
    holiday = next((HOLIDAYS[n] for n in cn.get_list(day) if n in HOLIDAYS), None)
    birthdays = candidates.set_index("candidate_id")["birthday"].to_dict()
    rows = []
    for f in features.itertuples(index=False):
        since = f.days_since_offer_sent
        what = None
        if pd.notna(since):
            n = int(since)
            if n == 1:
                what = ("offer_confirmation", "guide")
            elif n == 3:
                what = (
                    "onboarding_guide_housing" if f.far_from_home else "onboarding_guide",
                    "guide",
                )
            elif n >= 7 and n % 7 == 0:
                what = ("company_news", "news")
        born = birthdays.get(f.candidate_id)
        if isinstance(born, dt.date) and (born.month, born.day) == (day.month, day.day):
            what = ("birthday", "greeting")
        elif holiday is not None:
            what = (holiday, "greeting")
        if what is not None:
            rows.append(
                {
                    "candidate_id": f.candidate_id,
                    "plan_date": day,
                    "action": f"cadence:{what[0]}",
                    "content_id": by_kind.get(what[1]),
                }
            )
    return pd.DataFrame(rows, columns=["candidate_id", "plan_date", "action", "content_id"])

"""Each recruiter's daily plan: who to contact, how, with which content, within capacity.

Plain functions over frames the daily flow already has (the day's scores and
feature rows, open alerts, recent events, the content library):

- ``choose_action``: the action most likely to keep a candidate, from open alerts
  and engagement (an over-contacted, silent candidate is left alone);
- ``pick_content``: a content item matched on role family, the topics the
  candidate asked about or clicked, and stage, never one sent within the
  repeat window, with the reason in words;
- ``build_plan`` (``make_plan`` for the tasks only): a call or content waits
  ``cooldown_days`` after HR's last contact unless urgent; a stable random holdout
  gets only the cadence; ``rank`` orders each recruiter's tasks (urgent work first
  while it fits in ``urgent_share`` of capacity, then everything by ``action_value``,
  risk x the action's effect, raised by ``urgency_factor`` when much of the risk
  falls due within 30 days) and cuts at capacity; each of a recruiter's
  ``watch_top`` highest risks and every open question without a task is listed as
  not planned, with why (holdout, over-contacted, contacted recently, capacity with
  its place in the queue, no content);
- ``answer_content``: for a question, content on that question's topic, or words
  saying the library has none and the recruiter answers in person;
- ``cadence``: the brief's stage cadence, sent for everyone (holdout included):
  offer confirmation on day 1, onboarding guide on day 3 (with the housing
  note for candidates from another city), company news on day 7 and weekly
  after, birthday and Chinese holiday greetings (from the ``holidays`` library).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from typing import Any, NamedTuple

import holidays
import numpy as np
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
    "leave_alone": ("暂不打扰（近期联系过多）", "leave alone (contacted a lot lately)"),
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
ALERT_WORDS = {
    "no_reply": ("未回复 HR", "no reply to HR"),
    "approval_pending": ("审批卡住", "approval stuck"),
    "question_unanswered": ("问题未答复", "question unanswered"),
    "competing_offer": ("有其他 offer", "another offer"),
    "extension_requested": ("申请延期", "asked for more time"),
    "risk_jump": ("风险骤升", "risk jumped"),
}
# Why a watched candidate (a top risk, an open question) has no task today.
NOT_PLANNED = {
    "holdout": (
        "在对照组：按实验设计今天不安排任务，只发自动消息",
        "in the holdout: no tasks by design, only the automatic messages",
    ),
    "over_contacted": (
        "近 7 天已联系 {n} 次仍未回复，暂不打扰",
        "contacted {n} times in 7 days without a reply: left alone for now",
    ),
    "contacted_recently": (
        "{d} 天前刚联系过，等待回复",
        "contacted {d} days ago: waiting for a reply",
    ),
    "capacity": (
        "今日名额已满：排在第 {place} 位（每日 {cap} 项）",
        "over today's capacity: place {place} in the queue ({cap} a day)",
    ),
    "capacity_question": (
        "今日问题多于名额：按价值与其他任务比较后排在第 {place} 位（每日 {cap} 项）",
        "more questions than capacity today: weighed by value against other work, "
        "place {place} in the queue ({cap} a day)",
    ),
    "no_content": (
        "没有未发过的合适内容",
        "no suitable content left unsent",
    ),
    "no_action": ("今天没有需要做的事", "nothing to do today"),
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
    urgent_share: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Share of capacity urgent work takes first; beyond it, it competes by value",
    )
    watch_top: int = Field(
        default=10, ge=0, description="A recruiter's highest risks the plan accounts for by name"
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


class Plan(NamedTuple):
    """A day's plan: the tasks (plan order, within capacity) and who is not on it, and why."""

    tasks: pd.DataFrame
    not_planned: pd.DataFrame


TASK_COLUMNS = [
    "candidate_id",
    "hr_owner",
    "plan_date",
    "action",
    "content_id",
    "reason",
    "reason_en",
    "risk",
    "expected_benefit",
    "urgent",
    "place",
]
NOT_PLANNED_COLUMNS = [
    "candidate_id",
    "hr_owner",
    "plan_date",
    "code",
    "reason",
    "reason_en",
    "risk",
    "place",
]


def make_plan(
    day: dt.date,
    scores: pd.DataFrame,
    features: pd.DataFrame,
    alerts: pd.DataFrame,
    events: pd.DataFrame,
    content: pd.DataFrame,
    cfg: PlanConfig,
) -> pd.DataFrame:
    """Each recruiter's actions for ``day``, in plan order, at most their capacity.

    The tasks of ``build_plan`` (which see); kept for callers that need only them.
    """
    return build_plan(day, scores, features, alerts, events, content, cfg).tasks


def build_plan(
    day: dt.date,
    scores: pd.DataFrame,
    features: pd.DataFrame,
    alerts: pd.DataFrame,
    events: pd.DataFrame,
    content: pd.DataFrame,
    cfg: PlanConfig,
) -> Plan:
    """Each recruiter's tasks for ``day`` and the watched candidates left off, with reasons.

    ``scores``: candidate_id, risk, hr_owner (and risk_30d, if the model has it).
    ``features``: the day's feature rows.
    ``alerts``: open alerts (candidate_id, kind). ``events``: recent events with content_id
    and topic. Tasks: ``TASK_COLUMNS``, ordered by ``rank`` (``place`` 1, 2, ...).
    Not planned: ``NOT_PLANNED_COLUMNS``, one row for each candidate among a recruiter's
    ``watch_top`` highest risks or with an open question who has no task, with a reason
    code (``NOT_PLANNED``) and its words in Chinese and English.
    """
    return _plans(day, scores, features, alerts, events, content, cfg, shadow=False)[0]


def plan_with_shadow(
    day: dt.date,
    scores: pd.DataFrame,
    features: pd.DataFrame,
    alerts: pd.DataFrame,
    events: pd.DataFrame,
    content: pd.DataFrame,
    cfg: PlanConfig,
) -> tuple[Plan, pd.DataFrame]:
    """``build_plan`` and the holdout's shadow plan (``outreach.shadow.shadow_plan``)
    from one pass over the candidates: each candidate's task is worked out once, then
    ranked without the holdout (the plan) and with it (the shadow, cut to the holdout).
    Equal to the two made apart (``tests/outreach/test_plan.py``)."""
    plan, shadow = _plans(day, scores, features, alerts, events, content, cfg, shadow=True)
    assert shadow is not None
    return plan, shadow


def _plans(
    day: dt.date,
    scores: pd.DataFrame,
    features: pd.DataFrame,
    alerts: pd.DataFrame,
    events: pd.DataFrame,
    content: pd.DataFrame,
    cfg: PlanConfig,
    shadow: bool,
) -> tuple[Plan, pd.DataFrame | None]:
    # one row object per candidate, read once: a label lookup per candidate costs more
    # than the rest of the plan together
    rows_of = {f.candidate_id: f for f in features.itertuples(index=False)}
    # sets per candidate in plain Python: a group-by's ``agg(set)`` makes a Series per
    # candidate (seconds for a few thousand)
    open_by = _sets(alerts["candidate_id"], alerts["kind"]) if len(alerts) else {}
    since = day - dt.timedelta(days=cfg.repeat_window_days)
    sent = events[(events["type"] == "message_sent") & (events["local_day"] > since)]
    sent = sent.dropna(subset=["content_id"])
    recently: dict[str, set[str]] = _sets(sent["candidate_id"], sent["content_id"])
    items = library(content)
    asked = interests(events, items)
    unanswered = question_topics(events)
    rows: list[dict[str, Any]] = []
    held_rows: list[dict[str, Any]] = []  # the holdout's tasks, for the shadow plan only
    skipped: dict[str, tuple[str, dict[str, Any]]] = {}
    for s in scores.itertuples(index=False):
        f = rows_of.get(s.candidate_id)
        if f is None:
            continue
        held = in_holdout(s.candidate_id, cfg)
        if held:
            skipped[s.candidate_id] = ("holdout", {})
            if not shadow:
                continue
        # the holdout's other reasons are the shadow plan's, never recorded
        noted: dict[str, tuple[str, dict[str, Any]]] = {} if held else skipped
        kinds = open_by.get(s.candidate_id, set())
        action = choose_action(f, kinds, cfg)
        if action == "leave_alone":
            noted[s.candidate_id] = ("over_contacted", {"n": int(f.hr_messages_7d)})
            continue
        urgent = action in URGENT_ACTIONS or bool(kinds & URGENT_ALERTS)
        last = f.days_since_hr_contact
        if not urgent and pd.notna(last) and last < cfg.cooldown_days:
            noted[s.candidate_id] = ("contacted_recently", {"d": int(last)})
            continue  # heard from HR lately: another touch can wait
        item, zh, en = None, "", ""
        stage = stage_of(f.offer_accepted, f.days_to_start, cfg)
        if action == "answer_question":
            topics = unanswered.get(s.candidate_id) or [
                t for t, _ in asked.get(s.candidate_id, Counter()).most_common(1)
            ]
            item, zh, en = answer_content(
                topics, f.role_family, stage, recently.get(s.candidate_id, set()), items
            )
        elif action == "send_content":
            item, zh, en = pick_content(
                f.role_family,
                stage,
                asked.get(s.candidate_id, Counter()),
                bool(f.far_from_home),
                recently.get(s.candidate_id, set()),
                items,
            )
            if item is None:
                noted[s.candidate_id] = ("no_content", {})
                continue
        why_zh, why_en = WORDS[action]
        if action == "call":
            interest = [t for t, _ in asked.get(s.candidate_id, Counter()).most_common(2)]
            points_zh, points_en = talking_points(kinds, interest, f)
            if points_zh:
                zh = "；".join(f"{i}. {p}" for i, p in enumerate(points_zh, 1))
                en = "; ".join(f"{i}. {p}" for i, p in enumerate(points_en, 1))
                zh, en = f"要点：{zh}", f"talking points: {en}"
        if zh:
            why_zh, why_en = f"{why_zh}：{zh}", f"{why_en}: {en}"
        if kinds:
            why_zh += "（预警：" + "、".join(ALERT_WORDS[k][0] for k in sorted(kinds)) + "）"
            why_en += " (alerts: " + ", ".join(ALERT_WORDS[k][1] for k in sorted(kinds)) + ")"
        risk = float(s.risk)
        (held_rows if held else rows).append(
            {
                "candidate_id": s.candidate_id,
                "hr_owner": s.hr_owner,
                "plan_date": day,
                "action": action,
                "content_id": item,
                "reason": why_zh,
                "reason_en": why_en,
                "risk": risk,
                "expected_benefit": action_value(risk, action, cfg, urgency_factor(s, cfg)),
                "urgent": urgent,
            }
        )
    tasks = pd.DataFrame(rows, columns=TASK_COLUMNS[:-1])
    held_plan = None
    if shadow:  # everyone ranked as if nobody were held out, then cut to the holdout
        whole = pd.DataFrame(rows + held_rows, columns=TASK_COLUMNS[:-1])
        ranked_all = _rank_owners(whole, cfg)
        ranked_all = ranked_all[ranked_all["planned"].astype(bool)]
        held_ids = {r["candidate_id"] for r in held_rows}
        held_plan = ranked_all[ranked_all["candidate_id"].isin(held_ids)]
        held_plan = held_plan[TASK_COLUMNS].reset_index(drop=True)
    ranked = _rank_owners(tasks, cfg)
    on = ranked["planned"].astype(bool)
    planned, queued = ranked.loc[on], ranked.loc[~on]
    for r in queued.itertuples(index=False):
        capacity = cfg.capacity_by_owner.get(str(r.hr_owner), cfg.capacity)
        code = "capacity_question" if r.action in URGENT_ACTIONS else "capacity"
        skipped[r.candidate_id] = (code, {"place": int(r.place), "cap": capacity})
    not_planned = _not_planned(day, scores, rows_of, open_by, unanswered, planned, skipped, cfg)
    out = planned.drop(columns=["planned", "ranked_by_value"]).reset_index(drop=True)
    return Plan(out[TASK_COLUMNS], not_planned), held_plan


def _sets(keys: pd.Series, values: pd.Series) -> dict[Any, set[Any]]:
    """``values`` gathered into a set per key (missing keys left out, as a group-by does)."""
    out: dict[Any, set[Any]] = {}
    for k, v in zip(keys, values, strict=True):
        if not pd.isna(k):
            out.setdefault(k, set()).add(v)
    return out


def action_value(risk: float, action: str, cfg: PlanConfig, urgency: float = 1.0) -> float:
    """What an action is worth: the renege risk it is expected to remove.

    ``risk`` (0-1, the day's calibrated renege risk) x the action's relative effect
    (``cfg.effects``, a share of the risk removed; learned ones where the store has
    them, ``outreach.effects.plan_effects``): an expected count of reneges averted, so
    a 90% candidate is worth more than a 15% one for the same action; x ``urgency``
    (``urgency_factor``, 1 to 1 + ``urgency_weight``: how much of the risk falls due
    within 30 days).
    """
    return round(cfg.effects.get(action, 0.0) * float(risk) * urgency, 5)


def rank(tasks: pd.DataFrame, capacity: int, cfg: PlanConfig) -> pd.DataFrame:
    """One recruiter's candidate tasks in plan order: the single ranking rule of the plan.

    ``tasks``: rows with action, urgent and expected_benefit (``action_value``). Urgent
    work (an open question, a stuck approval, a competing offer, an extension request)
    comes first, by value, while it fits in ``cfg.urgent_share`` of ``capacity``; the
    rest of the urgent work then competes with everything else by value alone, so
    questions cannot crowd out the calls to people who are leaving. Adds ``place``
    (1 = first), ``planned`` (place within ``capacity``) and ``ranked_by_value`` (an
    urgent task that was weighed by value because the urgent share was full).
    """
    return _ranked(tasks, np.zeros(len(tasks), dtype=np.int64), np.full(len(tasks), capacity), cfg)


def _rank_owners(tasks: pd.DataFrame, cfg: PlanConfig) -> pd.DataFrame:
    """``rank`` for every recruiter at once, recruiters in sorted order (one sort, not one
    per recruiter). Tasks without a recruiter are left out, as a group-by leaves them."""
    tasks = tasks[tasks["hr_owner"].notna()]
    if tasks.empty:
        return pd.DataFrame(columns=[*TASK_COLUMNS, "planned", "ranked_by_value"])
    codes, owners = pd.factorize(tasks["hr_owner"], sort=True)
    caps = [cfg.capacity_by_owner.get(str(o), cfg.capacity) for o in owners]
    ranked = _ranked(tasks, codes, np.asarray(caps, dtype=np.int64)[codes], cfg)
    return ranked.reset_index(drop=True)


def _ranked(
    tasks: pd.DataFrame, group: np.ndarray, capacity: np.ndarray, cfg: PlanConfig
) -> pd.DataFrame:
    """``rank`` within each ``group`` (a code per row, in the order groups come out),
    ``capacity`` per row."""
    benefit = tasks["expected_benefit"].to_numpy(dtype=float)
    ids = pd.factorize(tasks["candidate_id"], sort=True)[0]
    by_value = np.lexsort((ids, -benefit, group))  # group, value high first, then id
    g = group[by_value]
    urgent = tasks["urgent"].to_numpy(dtype=bool)[by_value]
    slots = np.ceil(cfg.urgent_share * capacity[by_value]).astype(np.int64)
    # the urgent tasks' running count within their group, in value order
    count = np.cumsum(urgent)
    start = np.r_[0, np.flatnonzero(np.diff(g)) + 1] if len(g) else np.zeros(0, dtype=np.int64)
    before = np.repeat(np.r_[0, count][start], np.diff(np.r_[start, len(g)]))
    first = urgent & (count - before <= slots)
    order = np.lexsort((np.arange(len(g)), ~first, g))
    rows = by_value[order]
    ordered = tasks.iloc[rows].copy()
    g_sorted = g[order]
    starts = np.r_[0, np.flatnonzero(np.diff(g_sorted)) + 1] if len(g) else start
    place = np.arange(len(g)) - np.repeat(starts, np.diff(np.r_[starts, len(g)])) + 1
    ordered["place"] = place
    ordered["ranked_by_value"] = ~first[order] & urgent[order]
    ordered["urgent"] = first[order]
    ordered["planned"] = place <= capacity[rows]
    return ordered


def _not_planned(
    day: dt.date,
    scores: pd.DataFrame,
    rows_of: dict[str, Any],
    open_by: dict[str, set[str]],
    unanswered: dict[str, list[str]],
    planned: pd.DataFrame,
    skipped: dict[str, tuple[str, dict[str, Any]]],
    cfg: PlanConfig,
) -> pd.DataFrame:
    """Watched candidates without a task: each recruiter's top risks and open questions."""
    done = set(planned["candidate_id"])
    scored = scores[scores["candidate_id"].isin(list(rows_of))]
    top = set(
        scored.sort_values(["risk", "candidate_id"], ascending=[False, True])
        .groupby("hr_owner")
        .head(cfg.watch_top)["candidate_id"]
    )
    rows = []
    for s in scored.sort_values(["hr_owner", "risk"], ascending=[True, False]).itertuples(
        index=False
    ):
        cid = s.candidate_id
        asks = "question_unanswered" in open_by.get(cid, set()) or bool(unanswered.get(cid))
        asks = asks or float(rows_of[cid].open_questions or 0) > 0
        if cid in done or not (cid in top or asks):
            continue
        code, values = skipped.get(cid, ("no_action", {}))
        zh, en = NOT_PLANNED[code]
        rows.append(
            {
                "candidate_id": cid,
                "hr_owner": s.hr_owner,
                "plan_date": day,
                "code": code,
                "reason": zh.format(**values),
                "reason_en": en.format(**values),
                "risk": float(s.risk),
                "place": values.get("place"),
            }
        )
    return pd.DataFrame(rows, columns=NOT_PLANNED_COLUMNS)


def question_topics(events: pd.DataFrame) -> dict[str, list[str]]:
    """Per candidate, the topics of open questions, the latest asked first.

    Open as the ``open_questions`` feature counts them: a topic asked about (a candidate
    question) after HR last wrote on that topic. ``events``: type, topic, actor and
    ts_utc (or local_day) columns.
    """
    if events.empty or "topic" not in events:
        return {}
    order = "ts_utc" if "ts_utc" in events else "local_day"
    ev = events[events["topic"].notna()]
    asked = ev[ev["type"] == "candidate_question"]
    if asked.empty:
        return {}
    answers = ev[ev["type"] == "message_sent"]
    if "actor" in ev:
        answers = answers[answers["actor"].fillna("hr") == "hr"]
    last_ask = asked.groupby(["candidate_id", "topic"])[order].max()
    last_answer = answers.groupby(["candidate_id", "topic"])[order].max()
    both = pd.concat([last_ask.rename("ask"), last_answer.rename("answer")], axis=1)
    both = both[both["ask"].notna() & ~(both["answer"] >= both["ask"])]
    out: dict[str, list[str]] = {}
    for (cid, topic), _ in both.sort_values("ask", ascending=False).iterrows():
        out.setdefault(str(cid), []).append(str(topic))
    return out


POINTS = {
    "competing_offer": (
        "提到有其他 offer：问清对方条件，和他最看重什么",
        "mentioned another offer: ask what it offers and what matters most to them",
    ),
    "extension_requested": (
        "申请延期答复：问清原因和顾虑",
        "asked for more time: find out why and what worries them",
    ),
    "no_reply": (
        "消息一直没回：确认联系方式可用，关心近况",
        "has not replied: check the contact details work, ask how things are",
    ),
    "risk_jump": (
        "风险最近骤升：了解最近有什么变化",
        "risk rose sharply: find out what changed lately",
    ),
    "quiet": (
        "已 {d} 天无人联系：先关心近况",
        "no contact for {d} days: start by asking how things are",
    ),
    "far_from_home": (
        "异地入职：介绍住房与安家支持",
        "moving from another city: go over housing and relocation help",
    ),
    "topic": ("关心{topic}：把这方面讲清楚", "cares about {topic}: cover it"),
}


def talking_points(
    kinds: set[str], topics: list[str], row: Any, limit: int = 3
) -> tuple[list[str], list[str]]:
    """Up to ``limit`` things to raise on a call, from the candidate's own alerts,
    questions and interests (``topics``, most asked first) and how long HR has been quiet.

    Returns (Chinese points, English points), most pressing first.
    """
    keys: list[tuple[str, dict[str, Any]]] = []
    for kind in ("competing_offer", "extension_requested", "risk_jump", "no_reply"):
        if kind in kinds:
            keys.append((kind, {}))
    for topic in topics[:2]:
        if not (topic == "competing_offer" and "competing_offer" in kinds):
            keys.append(("topic", {"topic": topic}))
    quiet = getattr(row, "days_since_hr_contact", None)
    if quiet is not None and pd.notna(quiet) and quiet >= 7:
        keys.append(("quiet", {"d": int(quiet)}))
    if bool(getattr(row, "far_from_home", 0) or 0) and "housing" not in topics:
        keys.append(("far_from_home", {}))
    zh, en = [], []
    for key, values in keys[:limit]:
        z, e = POINTS[key]
        if "topic" in values:
            words = TOPIC_WORDS.get(values["topic"], (values["topic"], values["topic"]))
            z, e = z.format(topic=words[0]), e.format(topic=words[1])
        else:
            z, e = z.format(**values), e.format(**values)
        zh.append(z)
        en.append(e)
    return zh, en


def answer_content(
    topics: list[str],
    role_family: str | None,
    stage: str,
    recently_sent: set[str],
    items: list[Item],
) -> tuple[str | None, str, str]:
    """Content that answers the open question's topic, or words saying none does.

    Only items tagged with one of ``topics`` (newest question first) qualify; role family
    and stage filter as in ``pick_content``. Returns (content id or None, why in Chinese,
    why in English); with none, the words ask the recruiter to answer in person.
    """
    found: tuple[str, str] | None = None  # (item, topic)
    missing: list[str] = []
    for topic in topics:
        best: tuple[float, str] | None = None
        for item, fams, tops, item_stage in items:
            if topic not in tops or item in recently_sent:
                continue
            if fams and role_family not in fams:
                continue
            if item_stage is not None and item_stage not in ("any", stage):
                continue
            score = (1.0 if fams else 0.0) + (0.5 if item_stage == stage else 0.0)
            if best is None or (score, item) > best:
                best = (score, item)
        if best is None:
            missing.append(topic)
        elif found is None:
            found = (best[1], topic)
    words = [TOPIC_WORDS.get(t, (t, t)) for t in missing or ["other"]]
    gap_zh = "、".join(w[0] for w in words)
    gap_en = ", ".join(w[1] for w in words)
    if found is None:
        return (
            None,
            f"问的是{gap_zh}，资料库里没有相关内容，请亲自答复",
            f"asked about {gap_en}; nothing in the library on it: answer in person",
        )
    item, topic = found
    zh_topic, en_topic = TOPIC_WORDS.get(topic, (topic, topic))
    zh = f"问的是{zh_topic}，可附上这份资料"
    en = f"asked about {en_topic}: this answers it"
    if missing:
        zh += f"；关于{gap_zh}，资料库里没有相关内容，请亲自答复"
        en += f"; nothing in the library on {gap_en}: answer that in person"
    return item, zh, en


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


def action_row(r: Any, day: dt.date) -> dict[str, Any]:
    """The columns a planned action and a shadow action share, from a ``make_plan`` row."""
    return {
        "candidate_id": r.candidate_id,
        "hr_owner": r.hr_owner,
        "plan_date": day,
        "action": r.action,
        "content_id": r.content_id if isinstance(r.content_id, str) else None,
        "risk": float(r.risk),
        "expected_benefit": float(r.expected_benefit),
    }

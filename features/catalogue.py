"""Every model feature: its name, what it means, and the reason a recruiter reads.

Reason texts take the feature's value as ``{v}``; the model's reason codes are
feature names, so whatever the model blames can be said in plain words.
``gender`` is deliberately absent: it is never a model input.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Feature:
    name: str
    family: str
    description: str
    reason_zh: str
    reason_en: str
    categorical: bool = False


def _f(name: str, family: str, description: str, zh: str, en: str, cat: bool = False) -> Feature:
    return Feature(name, family, description, zh, en, cat)


TOPICS = ("salary", "housing", "training", "team", "tech_stack", "growth", "location")
TOPIC_ZH = {
    "salary": "薪资",
    "housing": "住房",
    "training": "培训",
    "team": "团队",
    "tech_stack": "技术栈",
    "growth": "发展",
    "location": "工作地点",
}
ROLE_FAMILIES = ("tech", "product", "design", "marketing", "sales", "operations", "manufacturing")

_WINDOWED = [
    (
        "hr_messages",
        "messages HR sent",
        "HR 只发了 {v:.0f} 条消息",
        "HR sent only num({v:.0f}) plural_noun('message')",
    ),
    (
        "opens",
        "messages the candidate opened",
        "只打开了 {v:.0f} 条消息",
        "opened only num({v:.0f}) plural_noun('message')",
    ),
    (
        "clicks",
        "links the candidate clicked",
        "只点击了 {v:.0f} 次链接",
        "clicked only num({v:.0f}) plural_noun('link')",
    ),
    (
        "replies",
        "messages the candidate replied to",
        "只回复了 {v:.0f} 次",
        "replied only num({v:.0f}) plural_noun('time')",
    ),
]

CATALOGUE: tuple[Feature, ...] = (
    # offer process
    _f("offer_sent", "offer", "the offer has been sent", "offer 已发出", "offer sent"),
    _f(
        "offer_accepted",
        "offer",
        "the candidate accepted the offer",
        "已接受 offer",
        "offer accepted",
    ),
    _f(
        "approval_pending_days",
        "offer",
        "days the offer approval has been waiting (0 once approved)",
        "offer 审批已等待 {v:.0f} 天",
        "offer approval pending for num({v:.0f}) plural_noun('day')",
    ),
    _f(
        "approval_steps_done",
        "offer",
        "approval steps completed",
        "已完成 {v:.0f} 步审批",
        "num({v:.0f}) plural('approval step') done",
    ),
    _f(
        "approval_days_taken",
        "offer",
        "days from approval request to approval",
        "审批用了 {v:.0f} 天",
        "approval took num({v:.0f}) plural_noun('day')",
    ),
    _f(
        "interview_to_offer_days",
        "offer",
        "days from the last interview to the offer",
        "面试后 {v:.0f} 天才发 offer",
        "offer came num({v:.0f}) plural_noun('day') after the interview",
    ),
    _f(
        "days_since_offer_sent",
        "offer",
        "days since the offer was sent",
        "offer 发出已 {v:.0f} 天",
        "num({v:.0f}) plural_noun('day') since the offer",
    ),
    _f(
        "accept_lag_days",
        "offer",
        "days the candidate took to accept the offer",
        "考虑了 {v:.0f} 天才接受 offer",
        "took num({v:.0f}) plural_noun('day') to accept",
    ),
    _f(
        "extension_requested",
        "offer",
        "the candidate asked for more time to decide",
        "申请延期答复",
        "asked for more time to decide",
    ),
    # engagement
    *(
        _f(
            f"{key}_{w}d",
            "engagement",
            f"{desc} in the last {w} days",
            zh + f"（近 {w} 天）",
            en + f" (last {w} days)",
        )
        for key, desc, zh, en in _WINDOWED
        for w in (7, 14, 30)
    ),
    *(
        _f(f"{key}_total", "engagement", f"{desc} so far", zh + "（累计）", en + " (so far)")
        for key, desc, zh, en in _WINDOWED
    ),
    _f(
        "reply_rate_30d",
        "engagement",
        "replies per HR message, last 30 days",
        "近 30 天回复率仅 {v:.0%}",
        "reply rate only {v:.0%} over 30 days",
    ),
    _f(
        "reply_rate_total",
        "engagement",
        "replies per HR message so far",
        "累计回复率仅 {v:.0%}",
        "reply rate only {v:.0%} so far",
    ),
    _f(
        "reply_rate_14d",
        "engagement",
        "replies per HR message, last 14 days",
        "近 14 天回复率仅 {v:.0%}",
        "reply rate only {v:.0%} over 14 days",
    ),
    _f(
        "opens_rate_total",
        "engagement",
        "share of HR messages the candidate opened",
        "消息打开率仅 {v:.0%}",
        "opens only {v:.0%} of messages",
    ),
    _f(
        "clicks_rate_total",
        "engagement",
        "links clicked per HR message",
        "链接点击率仅 {v:.0%}",
        "clicks only {v:.0%} of links",
    ),
    _f(
        "reply_hours_30d",
        "engagement",
        "mean hours from an HR message to the reply, last 30 days",
        "回复要 {v:.0f} 小时",
        "takes num({v:.0f}) plural_noun('hour') to reply",
    ),
    _f(
        "reply_hours_total",
        "engagement",
        "mean hours from an HR message to the reply, so far",
        "平均 {v:.0f} 小时才回复",
        "replies after num({v:.0f}) plural_noun('hour') on average",
    ),
    _f(
        "reply_trend",
        "engagement",
        "replies in the last 14 days minus the 16 days before",
        "回复在减少（{v:+.0f}）",
        "replies falling ({v:+.0f})",
    ),
    _f(
        "days_since_candidate_activity",
        "engagement",
        "days since the candidate last did anything",
        "{v:.0f} 天没有任何回应",
        "no response at all for num({v:.0f}) plural_noun('day')",
    ),
    _f(
        "days_since_reply",
        "engagement",
        "days since the candidate last replied or answered a call",
        "{v:.0f} 天未回复消息",
        "no reply for num({v:.0f}) plural_noun('day')",
    ),
    _f(
        "days_since_hr_contact",
        "engagement",
        "days since HR last reached out",
        "HR 已 {v:.0f} 天未联系",
        "HR silent for num({v:.0f}) plural_noun('day')",
    ),
    _f(
        "silent_days_total",
        "engagement",
        "days HR left the candidate without contact beyond a week at a time, so far",
        "累计 {v:.0f} 天超过一周无人联系",
        "num({v:.0f}) plural_noun('day') in total beyond a week without contact",
    ),
    _f(
        "unreplied_hr_messages",
        "engagement",
        "HR messages since the candidate's last reply",
        "{v:.0f} 条消息未获回复",
        "num({v:.0f}) plural_noun('message') unanswered",
    ),
    _f(
        "calls_made_30d",
        "engagement",
        "calls HR made, last 30 days",
        "近 30 天打了 {v:.0f} 次电话",
        "num({v:.0f}) plural_noun('call') in 30 days",
    ),
    _f(
        "calls_answered_30d",
        "engagement",
        "calls the candidate answered, last 30 days",
        "近 30 天接听 {v:.0f} 次电话",
        "answered num({v:.0f}) plural_noun('call') in 30 days",
    ),
    _f(
        "open_questions",
        "engagement",
        "topics the candidate asked about that HR has not answered since",
        "{v:.0f} 个问题未答复",
        "num({v:.0f}) plural_noun('question') unanswered",
    ),
    _f(
        "session_questions_unfollowed",
        "interest",
        "topics asked about at an info session that no HR message has followed up since",
        "宣讲会上问过的 {v:.0f} 个话题未跟进",
        "num({v:.0f}) plural('info-session topic') never followed up",
    ),
    _f(
        "open_question_days",
        "engagement",
        "days the longest-waiting open question has waited",
        "问题已等待 {v:.0f} 天未答复",
        "a question waiting num({v:.0f}) plural_noun('day')",
    ),
    _f(
        "housing_messages",
        "engagement",
        "HR messages about housing (by topic or by the content sent)",
        "收到 {v:.0f} 条住房相关信息",
        "num({v:.0f}) plural_noun('message') about housing",
    ),
    _f(
        "housing_wait_days",
        "engagement",
        "from another city: days from the offer process start to the first housing information",
        "异地候选人 {v:.0f} 天未收到住房信息",
        "from another city, num({v:.0f}) plural_noun('day') without housing information",
    ),
    _f(
        "materials_submitted",
        "engagement",
        "the candidate submitted onboarding materials",
        "已提交入职材料",
        "onboarding materials submitted",
    ),
    # interest signals
    _f(
        "info_session_attended",
        "interest",
        "attended an info session",
        "参加过宣讲会",
        "attended an info session",
    ),
    _f(
        "questions_total",
        "interest",
        "questions the candidate asked so far",
        "共提问 {v:.0f} 次",
        "asked num({v:.0f}) plural_noun('question')",
    ),
    *(
        _f(
            f"asked_{t}",
            "interest",
            f"questions about {t} so far",
            f"关心{TOPIC_ZH[t]}（问过 {{v:.0f}} 次）",
            f"cares about {t.replace('_', ' ')}: asked num({{v:.0f}}) plural_noun('time')",
        )
        for t in TOPICS
    ),
    _f(
        "interview_score",
        "interest",
        "mean interview score (1-5)",
        "面试评分 {v:.1f}：抢手人才，易被竞争对手争取",
        "interview score {v:.1f}: sought after by competitors",
    ),
    # profile fit
    _f(
        "far_from_home",
        "profile",
        "home city differs from the work city",
        "异地入职（非本地）",
        "would move from another city",
    ),
    _f(
        "school_tier", "profile", "school tier (1 = top)", "学校层级 {v:.0f}", "school tier {v:.0f}"
    ),
    _f(
        "degree_level",
        "profile",
        "0 bachelor, 1 master, 2 phd",
        "学历层级 {v:.0f}",
        "degree level {v:.0f}",
    ),
    _f("role_family", "profile", "role family", "岗位类别：{v}", "role family: {v}", cat=True),
    _f(
        "major_role_fit",
        "profile",
        "the major fits the role",
        "专业与岗位匹配",
        "major fits the role",
    ),
    # consented outside signals
    _f(
        "competing_offer_signals",
        "outside",
        "consented public signals of a competing offer",
        "公开信息显示有其他 offer（{v:.0f} 次）",
        "num({v:.0f}) plural('sign') of a competing offer",
    ),
    _f(
        "competing_offer_mentions",
        "outside",
        "times the candidate told HR about another offer",
        "候选人提到其他 offer（{v:.0f} 次）",
        "mentioned another offer num({v:.0f}) plural_noun('time')",
    ),
    _f(
        "days_since_competing_signal",
        "outside",
        "days since the last competing-offer signal",
        "{v:.0f} 天前出现竞争 offer 信号",
        "competing-offer signal num({v:.0f}) plural_noun('day') ago",
    ),
    # stage
    _f(
        "days_since_entry",
        "stage",
        "days since the offer process began",
        "offer 流程已 {v:.0f} 天",
        "num({v:.0f}) plural_noun('day') since the offer process began",
    ),
    _f(
        "days_to_start",
        "stage",
        "days until the start date",
        "距入职还有 {v:.0f} 天",
        "num({v:.0f}) plural_noun('day') to the start date",
    ),
)

FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in CATALOGUE)
BY_NAME = {f.name: f for f in CATALOGUE}

# What a recruiter can do about a reason, in their words (Chinese, English). A reason
# without an entry is a fact to know (a profile field, the days to the start date, how
# the candidate used to reply), not a task. Reasons are shown with the actionable ones
# first (``training.predictor.Predictor.explain``): issue 17 found "43 days without
# contact", the one a recruiter can change, eighth of eight behind profile fields.
_GET_IN_TOUCH = ("主动联系候选人", "get in touch")
_CALL = ("打电话：消息没有得到回应", "call: messages are not getting an answer")
_OTHER_OFFER = ("电话了解另一个 offer", "call about the other offer")
ACTIONS: dict[str, tuple[str, str]] = {
    "approval_pending_days": ("催办 offer 审批", "chase the offer approval"),
    "days_since_hr_contact": _GET_IN_TOUCH,
    "silent_days_total": _GET_IN_TOUCH,
    **{f"hr_messages_{w}": _GET_IN_TOUCH for w in ("7d", "14d", "30d", "total")},
    "calls_made_30d": ("打个电话", "call"),
    "unreplied_hr_messages": _CALL,
    "days_since_reply": _CALL,
    "days_since_candidate_activity": _CALL,
    "open_questions": ("回答候选人的问题", "answer the candidate's question"),
    "open_question_days": ("回答候选人的问题", "answer the candidate's question"),
    "session_questions_unfollowed": (
        "跟进宣讲会上问过的话题",
        "follow up the info-session topics",
    ),
    "housing_wait_days": ("发送住房信息", "send the housing information"),
    "housing_messages": ("发送住房信息", "send the housing information"),
    "competing_offer_signals": _OTHER_OFFER,
    "competing_offer_mentions": _OTHER_OFFER,
    "days_since_competing_signal": _OTHER_OFFER,
    "materials_submitted": ("提醒提交入职材料", "remind them of the onboarding materials"),
}


def reason_action(name: str, lang: str = "zh") -> str | None:
    """What a recruiter can do about reason ``name`` ("zh" or "en"); None for a fact."""
    words = ACTIONS.get(name)
    return None if words is None else words[0 if lang == "zh" else 1]


if len(BY_NAME) != len(CATALOGUE):  # a duplicate name would silently shadow a reason
    raise RuntimeError("duplicate feature names in the catalogue")


def reason_text(name: str, value: float | str | None, lang: str = "zh") -> str:
    """The recruiter-facing reason for a feature at a value, in ``lang`` ("zh" or "en").

    A missing value (None, NaN), a zero count or an unset flag gives the feature's
    "none yet" words (``NONE_YET``) instead of a template with a hole. English counts
    agree with their number ("1 day", "2 days"): English templates mark them as
    ``num(N) plural_noun('day')``, inflect's notation (``english_counts``).
    """
    feature = BY_NAME[name]
    template = feature.reason_zh if lang == "zh" else feature.reason_en
    none_zh, none_en, zero_is_none = NONE_YET[name]
    none = none_zh if lang == "zh" else none_en
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return none
    if feature.categorical:
        return template.replace("{v}", str(value))
    try:
        number = float(value)
    except (TypeError, ValueError):
        return none
    if math.isnan(number):
        return none
    if number == 0 and name in FLAG_OFF:
        return FLAG_OFF[name][0 if lang == "zh" else 1]
    if number == 0 and zero_is_none:
        return none
    text = template.format(v=number) if "{v" in template else template
    return english_counts(text) if lang != "zh" else text


# What a reason says when its value is missing (nothing to measure yet: no reply to time,
# no message to take a rate of, a profile field not recorded), and, for counts marked
# True, when the count is zero ("clicked only 0 links" reads as a template, not a person).
_WINDOW_WORDS = {
    "7d": ("近 7 天", "in the last 7 days"),
    "14d": ("近 14 天", "in the last 14 days"),
}
_WINDOW_WORDS |= {"30d": ("近 30 天", "in the last 30 days"), "total": ("至今", "so far")}
_COUNT_NONE = {
    "hr_messages": ("HR 没有发过消息", "no message from HR"),
    "opens": ("没有打开过消息", "no message opened"),
    "clicks": ("没有点击过链接", "no link clicked"),
    "replies": ("没有回复过", "no reply"),
}
NONE_YET: dict[str, tuple[str, str, bool]] = {
    "offer_sent": ("offer 尚未发出", "offer not sent yet", True),
    "offer_accepted": ("尚未接受 offer", "offer not accepted yet", True),
    "approval_pending_days": ("offer 尚未提交审批", "offer approval not requested yet", False),
    "approval_steps_done": ("还没有完成任何审批步骤", "no approval step done yet", True),
    "approval_days_taken": ("审批尚未完成", "approval not finished yet", False),
    "interview_to_offer_days": (
        "尚无面试或 offer 记录",
        "no interview or offer on record yet",
        False,
    ),
    "days_since_offer_sent": ("offer 尚未发出", "offer not sent yet", False),
    "accept_lag_days": ("尚未接受 offer", "offer not accepted yet", False),
    "extension_requested": ("未申请延期", "no extension asked for", True),
    **{
        f"{key}_{w}": (
            f"{wz} {zh}" if zh.isascii() or zh[0].isascii() else wz + zh,
            f"{en} {we}",
            True,
        )
        for key, (zh, en) in _COUNT_NONE.items()
        for w, (wz, we) in _WINDOW_WORDS.items()
    },
    "reply_rate_30d": (
        "近 30 天 HR 没有发过消息，尚无回复率",
        "no HR message in 30 days to reply to",
        False,
    ),
    "reply_rate_total": ("HR 还没有发过消息，尚无回复率", "no HR message yet to reply to", False),
    "reply_rate_14d": (
        "近 14 天 HR 没有发过消息，尚无回复率",
        "no HR message in 14 days to reply to",
        False,
    ),
    "opens_rate_total": ("HR 还没有发过消息，尚无打开率", "no HR message yet to open", False),
    "clicks_rate_total": ("HR 还没有发过消息，尚无点击率", "no HR message yet to click", False),
    "reply_hours_30d": ("近 30 天还没有回复过", "no reply in the last 30 days yet", False),
    "reply_hours_total": ("还没有回复过消息", "has not replied to any message yet", False),
    "reply_trend": ("尚无回复趋势", "no trend in replies yet", False),
    "days_since_candidate_activity": ("还没有任何回应", "no response at all yet", False),
    "days_since_reply": ("从未回复过消息", "has never replied yet", False),
    "days_since_hr_contact": ("HR 还没有联系过", "HR has not been in touch yet", False),
    "silent_days_total": ("从未超过一周无人联系", "never a week without contact yet", True),
    "unreplied_hr_messages": ("没有未获回复的消息", "no message left unanswered", True),
    "calls_made_30d": ("近 30 天没有打过电话", "no call in 30 days", True),
    "calls_answered_30d": ("近 30 天没有接听过电话", "no call answered in 30 days", True),
    "open_questions": ("没有未答复的问题", "no question left unanswered", True),
    "session_questions_unfollowed": (
        "宣讲会话题都已跟进",
        "every info-session topic followed up",
        True,
    ),
    "open_question_days": ("没有等待答复的问题", "no question waiting for an answer", False),
    "housing_messages": ("还没有收到住房相关信息", "no message about housing yet", True),
    "housing_wait_days": ("尚未收到住房信息", "no housing information yet", False),
    "materials_submitted": ("尚未提交入职材料", "onboarding materials not submitted yet", True),
    "info_session_attended": ("未参加宣讲会", "no info session attended", True),
    "questions_total": ("还没有提过问题", "no question asked yet", True),
    **{
        f"asked_{t}": (
            f"没有问过{TOPIC_ZH[t]}",
            f"no question about {t.replace('_', ' ')} yet",
            True,
        )
        for t in TOPICS
    },
    "interview_score": ("尚无面试评分", "no interview score yet", False),
    "far_from_home": ("家乡或工作城市未记录", "home or work city not recorded", False),
    "school_tier": ("学校层级未记录", "school tier not recorded", False),
    "degree_level": ("学历未记录", "degree not recorded", False),
    "role_family": ("岗位类别未记录", "role family not recorded", False),
    "major_role_fit": ("专业或岗位未记录", "major or role not recorded", False),
    "competing_offer_signals": ("尚无竞争 offer 信号", "no sign of a competing offer yet", True),
    "competing_offer_mentions": ("候选人没有提到其他 offer", "no other offer mentioned yet", True),
    "days_since_competing_signal": (
        "尚无竞争 offer 信号",
        "no sign of a competing offer yet",
        False,
    ),
    "days_since_entry": (
        "offer 流程开始日期未记录",
        "start of the offer process not recorded",
        False,
    ),
    "days_to_start": ("入职日期未定", "start date not set yet", False),
}

# A flag at 0 is a fact of its own, not a missing one.
FLAG_OFF: dict[str, tuple[str, str]] = {
    "far_from_home": ("在家乡城市入职", "would work in their home city"),
    "major_role_fit": ("专业与岗位不匹配", "major does not fit the role"),
}


# The plural of each noun the English templates count, as inflect gives it
# (tests/features/test_reasons.py holds the two equal, template by template). inflect
# itself costs 3-4 s of CPU to import (typeguard instruments its functions), which every
# process that scores paid for these ten words: the daily run, each service worker.
PLURALS = {
    "approval step": "approval steps",
    "call": "calls",
    "day": "days",
    "hour": "hours",
    "info-session topic": "info-session topics",
    "link": "links",
    "message": "messages",
    "question": "questions",
    "sign": "signs",
    "time": "times",
}
_COUNTED = re.compile(r"num\((-?\d+)\) (?:plural|plural_noun)\('([^']+)'\)")


def english_counts(text: str) -> str:
    """``text`` with each ``num(N) plural_noun('word')`` (or ``plural``) said as inflect's
    ``engine().inflect`` says it: "N word" for N of 1, "N words" otherwise.

    Raises ``KeyError`` for a word missing from ``PLURALS``.
    """
    return _COUNTED.sub(lambda m: f"{m[1]} {m[2] if m[1] == '1' else PLURALS[m[2]]}", text)

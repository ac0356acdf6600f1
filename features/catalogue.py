"""Every model feature: its name, what it means, and the reason a recruiter reads.

Reason texts take the feature's value as ``{v}``; the model's reason codes are
feature names, so whatever the model blames can be said in plain words.
``gender`` is deliberately absent: it is never a model input.
"""

from __future__ import annotations

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
        "HR sent only {v:.0f} messages",
    ),
    (
        "opens",
        "messages the candidate opened",
        "只打开了 {v:.0f} 条消息",
        "opened only {v:.0f} messages",
    ),
    (
        "clicks",
        "links the candidate clicked",
        "只点击了 {v:.0f} 次链接",
        "clicked only {v:.0f} links",
    ),
    (
        "replies",
        "messages the candidate replied to",
        "只回复了 {v:.0f} 次",
        "replied only {v:.0f} times",
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
        "offer approval pending for {v:.0f} days",
    ),
    _f(
        "approval_steps_done",
        "offer",
        "approval steps completed",
        "已完成 {v:.0f} 步审批",
        "{v:.0f} approval steps done",
    ),
    _f(
        "approval_days_taken",
        "offer",
        "days from approval request to approval",
        "审批用了 {v:.0f} 天",
        "approval took {v:.0f} days",
    ),
    _f(
        "interview_to_offer_days",
        "offer",
        "days from the last interview to the offer",
        "面试后 {v:.0f} 天才发 offer",
        "offer came {v:.0f} days after the interview",
    ),
    _f(
        "days_since_offer_sent",
        "offer",
        "days since the offer was sent",
        "offer 发出已 {v:.0f} 天",
        "{v:.0f} days since the offer",
    ),
    _f(
        "accept_lag_days",
        "offer",
        "days the candidate took to accept the offer",
        "考虑了 {v:.0f} 天才接受 offer",
        "took {v:.0f} days to accept",
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
            zh + f" (近 {w} 天)",
            en + f" (last {w} days)",
        )
        for key, desc, zh, en in _WINDOWED
        for w in (7, 14, 30)
    ),
    *(
        _f(f"{key}_total", "engagement", f"{desc} so far", zh + " (累计)", en + " (so far)")
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
        "takes {v:.0f} hours to reply",
    ),
    _f(
        "reply_hours_total",
        "engagement",
        "mean hours from an HR message to the reply, so far",
        "平均 {v:.0f} 小时才回复",
        "replies after {v:.0f} hours on average",
    ),
    _f(
        "reply_trend",
        "engagement",
        "replies in the last 14 days minus the 16 days before",
        "回复在减少 ({v:+.0f})",
        "replies falling ({v:+.0f})",
    ),
    _f(
        "days_since_candidate_activity",
        "engagement",
        "days since the candidate last did anything",
        "{v:.0f} 天没有任何回应",
        "no response at all for {v:.0f} days",
    ),
    _f(
        "days_since_reply",
        "engagement",
        "days since the candidate last replied or answered a call",
        "{v:.0f} 天未回复消息",
        "no reply for {v:.0f} days",
    ),
    _f(
        "days_since_hr_contact",
        "engagement",
        "days since HR last reached out",
        "HR 已 {v:.0f} 天未联系",
        "HR silent for {v:.0f} days",
    ),
    _f(
        "silent_days_total",
        "engagement",
        "days HR left the candidate without contact beyond a week at a time, so far",
        "累计 {v:.0f} 天超过一周无人联系",
        "{v:.0f} days in total beyond a week without contact",
    ),
    _f(
        "unreplied_hr_messages",
        "engagement",
        "HR messages since the candidate's last reply",
        "{v:.0f} 条消息未获回复",
        "{v:.0f} messages unanswered",
    ),
    _f(
        "calls_made_30d",
        "engagement",
        "calls HR made, last 30 days",
        "近 30 天打了 {v:.0f} 次电话",
        "{v:.0f} calls in 30 days",
    ),
    _f(
        "calls_answered_30d",
        "engagement",
        "calls the candidate answered, last 30 days",
        "近 30 天接听 {v:.0f} 次电话",
        "answered {v:.0f} calls in 30 days",
    ),
    _f(
        "open_questions",
        "engagement",
        "topics the candidate asked about that HR has not answered since",
        "{v:.0f} 个问题未答复",
        "{v:.0f} questions unanswered",
    ),
    _f(
        "session_questions_unfollowed",
        "interest",
        "topics asked about at an info session that no HR message has followed up since",
        "宣讲会上问过的 {v:.0f} 个话题未跟进",
        "{v:.0f} info-session topics never followed up",
    ),
    _f(
        "open_question_days",
        "engagement",
        "days the longest-waiting open question has waited",
        "问题已等待 {v:.0f} 天未答复",
        "a question waiting {v:.0f} days",
    ),
    _f(
        "housing_messages",
        "engagement",
        "HR messages about housing (by topic or by the content sent)",
        "收到 {v:.0f} 条住房相关信息",
        "{v:.0f} messages about housing",
    ),
    _f(
        "housing_wait_days",
        "engagement",
        "from another city: days from the offer process start to the first housing information",
        "异地候选人 {v:.0f} 天未收到住房信息",
        "from another city, {v:.0f} days without housing information",
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
        "asked {v:.0f} questions",
    ),
    *(
        _f(
            f"asked_{t}",
            "interest",
            f"questions about {t} so far",
            f"关心{TOPIC_ZH[t]} (问过 {{v:.0f}} 次)",
            f"cares about {t.replace('_', ' ')} (asked {{v:.0f}} times)",
        )
        for t in TOPICS
    ),
    _f(
        "interview_score",
        "interest",
        "mean interview score (1-5)",
        "面试评分 {v:.1f}: 抢手人才, 易被竞争对手争取",
        "interview score {v:.1f}: sought after by competitors",
    ),
    # profile fit
    _f(
        "far_from_home",
        "profile",
        "home city differs from the work city",
        "异地入职 (非本地)",
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
    _f("role_family", "profile", "role family", "岗位类别: {v}", "role family: {v}", cat=True),
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
        "公开信息显示有其他 offer ({v:.0f} 次)",
        "signals of a competing offer ({v:.0f})",
    ),
    _f(
        "competing_offer_mentions",
        "outside",
        "times the candidate told HR about another offer",
        "候选人提到其他 offer ({v:.0f} 次)",
        "mentioned another offer ({v:.0f} times)",
    ),
    _f(
        "days_since_competing_signal",
        "outside",
        "days since the last competing-offer signal",
        "{v:.0f} 天前出现竞争 offer 信号",
        "competing-offer signal {v:.0f} days ago",
    ),
    # stage
    _f(
        "days_since_entry",
        "stage",
        "days since the offer process began",
        "offer 流程已 {v:.0f} 天",
        "{v:.0f} days since the offer process began",
    ),
    _f(
        "days_to_start",
        "stage",
        "days until the start date",
        "距入职还有 {v:.0f} 天",
        "{v:.0f} days to the start date",
    ),
)

FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in CATALOGUE)
BY_NAME = {f.name: f for f in CATALOGUE}

if len(BY_NAME) != len(CATALOGUE):  # a duplicate name would silently shadow a reason
    raise RuntimeError("duplicate feature names in the catalogue")


def reason_text(name: str, value: float | str | None, lang: str = "zh") -> str:
    """The recruiter-facing reason for a feature at a value."""
    feature = BY_NAME[name]
    template = feature.reason_zh if lang == "zh" else feature.reason_en
    if feature.categorical:
        return template.replace("{v}", "?" if value is None else str(value))
    if "{v" not in template or value is None:
        return template
    try:
        return template.format(v=float(value))
    except (TypeError, ValueError):
        return template.replace("{v:.0f}", "?").replace("{v:.1f}", "?").replace("{v:.0%}", "?")

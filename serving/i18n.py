"""The console's words in Chinese (the default) and English.

Plan actions, topics and alert texts have their words beside their code
(``outreach.plan.WORDS``, ``outreach.alerts``); this holds the page furniture.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from outreach.plan import TOPIC_WORDS, WORDS

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")

TEXT: dict[str, tuple[str, str]] = {
    "app": ("keepwarm 候选人保温", "keepwarm"),
    "audit": ("审计日志", "Audit log"),
    "explanation": ("评分说明", "Explanation"),
    "explanation_for": (
        "候选人 {cid} 的评分说明",
        "Why keepwarm scores candidate {cid} as it does",
    ),
    "main_reasons": ("主要原因", "Main reasons"),
    "data_used": ("使用的数据", "Data used"),
    "data_not_used": ("从不使用的数据", "Data never used"),
    "model_facts": ("模型与准确度", "The model and its accuracy"),
    "trained_on": ("训练赛季", "Trained on"),
    "tested_on": ("检验赛季", "Tested on"),
    "calibration_error": ("校准误差", "Calibration error"),
    "automated": ("自动化决定", "Automated decisions"),
    "human_review": ("人工复核", "Human review"),
    "override": ("人工调整的关注等级", "Recruiter's tier"),
    "override_by": (
        "由 {actor} 于 {at} 调整；模型为 {model}",
        "set by {actor} on {at}; the model said {model}",
    ),
    "set_override": ("调整关注等级", "Override the tier"),
    "override_reason": ("原因（必填）", "Reason (required)"),
    "clear_override": ("恢复模型等级", "Back to the model's tier"),
    "override_invalid": ("请选择等级并填写原因", "Choose a tier and give a reason"),
    "overrides": ("人工调整", "Overrides"),
    "raised": ("调高", "raised"),
    "lowered": ("调低", "lowered"),
    "same": ("不变", "unchanged"),
    "direction": ("方向", "Direction"),
    "reneged_n": ("已毁约", "reneged"),
    "open_n": ("未定", "open"),
    "at": ("时间", "When"),
    "actor": ("操作者", "Who"),
    "target": ("对象", "What"),
    "origin": ("来源", "From"),
    "subjects": ("涉及候选人", "Candidates"),
    "since": ("起始日期", "Since"),
    "model_card": ("模型卡", "Model card"),
    "intended_use": ("用途", "Intended use"),
    "out_of_scope": ("不适用的用途", "Out of scope"),
    "known_limits": ("已知局限", "Known limits"),
    "fairness_flagged": ("公平性警示", "Fairness flags"),
    "retention": ("数据保留", "Retention"),
    "today": ("今日", "Today"),
    "risk": ("风险名单", "Risk list"),
    "review": ("赛季复盘", "Season review"),
    "model": ("模型", "Model"),
    "sign_in": ("登录", "Sign in"),
    "sign_out": ("退出", "Sign out"),
    "user": ("用户名", "User name"),
    "password": ("密码", "Password"),
    "bad_login": ("用户名或密码错误", "Wrong user name or password"),
    "too_many": ("尝试次数过多，请稍后再试", "Too many attempts; try again in a minute"),
    "as_of": ("数据日期", "As of"),
    "plan": ("今日计划", "Today's plan"),
    "no_plan": ("今天没有计划任务", "Nothing planned for today"),
    "order_rule": (
        "排序：先做紧急事项（未答复的问题、卡住的审批、其他 offer、申请延期，"
        "最多占每日名额的一半），其余按价值排序：价值 = 流失风险 × 该行动预计降低的比例。",
        "Order: urgent work first (an open question, a stuck approval, another offer, "
        "a request for more time; at most half of the day's capacity), then everything "
        "else by value: value = renege risk × the share of it the action is expected to remove.",
    ),
    "urgent_tag": ("紧急", "urgent"),
    "team": ("团队概览", "Team"),
    "tasks": ("任务", "Tasks"),
    "to_do": ("待办", "To do"),
    "overdue": ("逾期", "Overdue"),
    "high_risk": ("高风险人数", "High risk"),
    "question_unanswered": ("问题未答复", "question unanswered"),
    "approval_pending": ("审批卡住", "approval stuck"),
    "risk_jump": ("风险骤升", "risk jumped"),
    "outcome_connected": ("已接通", "connected"),
    "outcome_no_answer": ("无人接听", "no answer"),
    "outcome_wrong_number": ("号码错误", "wrong number"),
    "note": ("备注（选填）", "Note (optional)"),
    "undo": ("撤销", "Undo"),
    "value_parts": ("{risk} × {effect} = {value}", "{risk} × {effect} = {value}"),
    "value": ("价值", "Value"),
    "place": ("序号", "#"),
    "not_planned": ("未列入今日计划", "Not on today's plan"),
    "not_planned_intro": (
        "风险最高的 10 人和所有未答复的问题，如果今天没有任务，都列在这里并说明原因。",
        "Each of the 10 highest risks and every open question without a task today, and why.",
    ),
    "everyone_planned": (
        "风险最高的 10 人和所有提问的候选人都已在计划中",
        "Every top-10 risk and every open question is on the plan",
    ),
    "open_alerts": ("未处理预警", "Open alerts"),
    "no_alerts": ("没有未处理的预警", "No open alerts"),
    "candidate": ("候选人", "Candidate"),
    "owner": ("负责 HR", "Recruiter"),
    "all": ("全部", "All"),
    "department": ("部门", "Department"),
    "role_family": ("岗位族", "Role family"),
    "tier": ("风险等级", "Tier"),
    "alert": ("预警", "Alert"),
    "action": ("行动", "Action"),
    "content": ("内容", "Content"),
    "why": ("原因", "Why"),
    "risk_col": ("风险", "Risk"),
    "risk_meaning": ("入职前毁约的可能性", "chance of reneging before the start date"),
    "risk_sentence": ("入职前毁约的可能性 {p}", "{p} chance of reneging before the start date"),
    "owner_rank": ("{owner} 的 {n} 人中第 {rank}", "{rank} of {owner}'s {n}"),
    "own_rank": ("你的 {n} 人中第 {rank}", "{rank} of your {n}"),
    "owner_rank_col": ("在负责 HR 名下的排名", "Rank among the recruiter's candidates"),
    "change": ("周变化（百分点）", "Change vs last week (points)"),
    "points": ("个百分点", "percentage points"),
    "people": ("人数", "people"),
    "hours": ("小时", "hours"),
    "verdict_better": (
        "计划组的毁约率明显低于对照组：计划有可测量的效果。",
        "The planned group reneged less than the holdout: a measurable effect.",
    ),
    "verdict_worse": (
        "计划组的毁约率高于对照组：计划组表现更差，需要查明原因。",
        "The planned group did worse than the holdout: find out why.",
    ),
    "verdict_none": (
        "尚无可测量的效果：区间包含 0，差值可能只是偶然。",
        "No measurable effect yet: the interval includes 0, so the difference may be chance.",
    ),
    "reasons": ("主要原因", "Top reasons"),
    "days_to_start": ("距入职天数", "Days to start"),
    "next_action": ("下一步", "Next action"),
    "status": ("状态", "Status"),
    "done": ("已完成", "Done"),
    "mark_done": ("标记完成", "Mark done"),
    "filter": ("筛选", "Filter"),
    "export_csv": ("导出 CSV", "Export CSV"),
    "export_xlsx": ("导出 Excel", "Export Excel"),
    "rank": ("排名", "Rank"),
    "total": ("共 {n} 人", "{n} candidates"),
    "page": ("第 {p} / {n} 页", "Page {p} of {n}"),
    "prev": ("上一页", "Previous"),
    "next": ("下一页", "Next"),
    "profile": ("基本信息", "Profile"),
    "timeline": ("时间线", "Timeline"),
    "score_history": ("风险变化", "Risk over time"),
    "contributions": ("原因贡献", "What drives the risk"),
    "contribution": ("贡献（对数几率）", "Contribution (log-odds)"),
    "content_sent": ("已发送内容及反馈", "Content sent and how they responded"),
    "open_questions": ("未答复的问题", "Open questions"),
    "none": ("无", "None"),
    "outcome": ("结果", "Outcome"),
    "not_active": (
        "该候选人不在当日评分范围内（尚未发 offer 或已有结果）",
        "Not scored on this day (no offer yet, or the outcome is known)",
    ),
    "opened": ("已打开", "Opened"),
    "clicked": ("已点击", "Clicked"),
    "replied": ("已回复", "Replied"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "time": ("时间", "Time"),
    "event": ("事件", "Event"),
    "detail": ("详情", "Detail"),
    "season": ("赛季", "Season"),
    "funnel": ("月度漏斗", "Funnel by month"),
    "month": ("月份", "Month"),
    "offers": ("发出 offer", "Offers sent"),
    "accepted": ("接受", "Accepted"),
    "joined": ("入职", "Joined"),
    "reneged": ("毁约", "Reneged"),
    "renege_reasons": ("毁约原因", "Renege reasons"),
    "reason": ("原因", "Reason"),
    "share": ("占比", "Share"),
    "content_rates": ("个性化内容 vs 模板内容", "Personalised vs template content"),
    "sent": ("发送数", "Sent"),
    "open_rate": ("打开率", "Open rate"),
    "click_rate": ("点击率", "Click rate"),
    "reply_rate": ("回复率", "Reply rate"),
    "personalised": ("个性化", "personalised"),
    "template": ("模板", "template"),
    "alert_response": ("预警响应时间（按 HR）", "Alert response times per recruiter"),
    "alerts_n": ("预警数", "Alerts"),
    "answered": ("已响应", "Answered"),
    "open": ("未响应", "Open"),
    "median_hours": ("响应中位数（小时）", "Median hours"),
    "p90_hours": ("90 分位（小时）", "90th percentile hours"),
    "holdout_effect": ("对照组效果", "The holdout's effect"),
    "holdout": ("对照组", "holdout"),
    "holdout_note": (
        "对照组（随机 10%）只收到固定节奏的消息；毁约率 = 已毁约 / 所有收到 offer 的人；"
        "差值 = 对照组毁约率 − 计划组毁约率。",
        "The holdout (a random 10%) gets only the cadence; renege rate = reneged so far / "
        "everyone with an offer; effect = holdout rate minus planned rate.",
    ),
    "action_effects": ("各项行动的效果（从数据学得）", "Each action's effect (learned from data)"),
    "action_effects_note": (
        "效果 = 该行动使毁约风险降低的比例（计划排序所用），括号内为按候选人重抽样的 95% 区间；"
        "绝对值 = 毁约概率降低的百分点；支持 = 接受该行动的候选人 / 全部符合条件的候选人。"
        "数据不足或区间过宽时沿用预设值并注明。对照组一行比较计划给出该行动的候选人与"
        "对照组中计划本会给出该行动的候选人。",
        "Effect = the share of renege risk the action takes away (what the plan ranks by), "
        "with a 95% interval from resampling candidates; absolute = points of renege "
        "probability; support = candidates given the action / all candidates it fitted. "
        "Where the data is thin or the interval too wide the assumed default is kept and "
        "marked. The holdout row compares candidates the plan gave the action with holdout "
        "candidates it would have given it.",
    ),
    "no_effects": (
        "尚未学习行动效果（运行 keepwarm effects），计划使用预设值。",
        "No effects learned yet (run keepwarm effects): the plan uses the assumed defaults.",
    ),
    "segment": ("人群", "Segment"),
    "relative_cut": ("效果（95% 区间）", "Effect (95% interval)"),
    "absolute_cut": ("绝对值（百分点）", "Absolute (points)"),
    "support": ("支持（候选人）", "Support (candidates)"),
    "effect_source": ("来源", "Source"),
    "learned": ("从数据学得", "learned"),
    "assumed": ("预设值", "assumed default"),
    "too_few": ("人数太少，无法衡量", "too few candidates to measure"),
    "stage:offer": ("offer 未答复", "offer out"),
    "stage:accepted": ("已接受 offer", "offer accepted"),
    "learned_on": ("学习日期", "Learned on"),
    "group": ("组", "Group"),
    "candidates": ("人数", "Candidates"),
    "renege_rate": ("毁约率（截至目前）", "Renege rate (so far)"),
    "no_outcome": ("尚无结果", "No outcome yet"),
    "effect": ("差值（95% 区间）", "Effect (95% interval)"),
    "planned": ("计划组", "planned"),
    "model_quality": ("模型校准与 AUC（按赛季）", "Model calibration and AUC per season"),
    "kind": ("类别", "Kind"),
    "held out": ("训练时留出", "held out at training"),
    "served": ("线上评分（事后对照结果）", "served (graded by outcomes since)"),
    "n": ("样本数", "Rows"),
    "fairness": ("偏差审计（模型测试赛季）", "Bias audit (the model's test season)"),
    "fairness_note": (
        "入选 = 每天名单的前 5%（优先联系）。影响比 = 该组入选率 / 最高组入选率，"
        "低于 0.8（五分之四规则）需人工评估。性别从不作为模型输入。",
        "Selected = the top 5% of each day's list (priority outreach). Impact ratio = the "
        "group's selection rate / the highest group's; under 0.8 (the four-fifths rule) "
        "needs a person's review. Gender is never a model input.",
    ),
    "gender": ("性别", "Gender"),
    "home_region": ("生源地区", "Home region"),
    "min_impact_ratio": ("最低影响比", "lowest impact ratio"),
    "below_four_fifths": ("低于 0.8", "under 0.8"),
    "selection_rate": ("入选率（95% 区间）", "Selection rate (95% interval)"),
    "impact_ratio": ("影响比", "Impact ratio"),
    "recall": ("毁约者召回率", "Recall of reneges"),
    "fpr": ("误报率", "False-positive rate"),
    "quality_note": (
        "线上评分在赛季结束（所有人都有结果） 后才评估：赛季中已知的结果几乎都是提前毁约。",
        "Served scores are graded once a season ends (every scored candidate has an outcome): "
        "mid-season, the known outcomes are nearly all early reneges.",
    ),
    "auc": ("AUC", "AUC"),
    "ece": ("校准误差 ECE", "Calibration error (ECE)"),
    "calibration": ("校准曲线", "Calibration"),
    "predicted": ("预测风险", "Predicted risk"),
    "observed": ("实际毁约率", "Observed renege rate"),
    "drift": ("本周评分分布 vs 训练", "This week's scores vs training (drift)"),
    "psi": ("PSI（群体稳定性指数）", "PSI (population stability index)"),
    "psi_note": (
        "PSI < 0.1 稳定；0.1–0.25 有变化；> 0.25 明显偏移，应考虑重新训练。",
        "PSI under 0.1: stable; 0.1 to 0.25: moving; over 0.25: shifted, consider retraining.",
    ),
    "in_season": ("赛季中校准（提前毁约）", "In-season calibration (early reneges)"),
    "in_season_note": (
        "每天的运行把最近几个窗口里实际发生的毁约数与模型预期的数目比较（预期 = 风险 × "
        "往季在该距入职天数下于窗口内毁约的比例）。比值的 95% 区间不含 1 即为失准，并据同样的"
        "窗口重估截距（logit 平移），评分时使用；通过检查则平移归零。",
        "Each daily run counts the reneges that happened in recent windows against the "
        "number the model expected (risk x the share of past seasons' reneges that came "
        "within the window at that many days to start). A ratio whose 95% interval excludes "
        "1 flags the model as off; the intercept is then refitted on the same windows (a "
        "logit shift) and applied when scoring; a check that passes sets it back to 0.",
    ),
    "check_day": ("检查日", "Checked on"),
    "windows_col": ("窗口", "Windows"),
    "observed_n": ("实际毁约", "Observed reneges"),
    "expected_n": ("预期毁约", "Expected reneges"),
    "oe_ratio": ("实际/预期（95% 区间）", "Observed / expected (95% interval)"),
    "verdict": ("结论", "Verdict"),
    "verdict_ok": ("校准正常", "calibrated"),
    "verdict_low": ("风险偏低", "risks too low"),
    "verdict_high": ("风险偏高", "risks too high"),
    "verdict_too_few": ("数据不足", "too few to judge"),
    "shift_in_force": ("截距平移（logit）", "Intercept shift (logit)"),
    "expected_shifted": ("平移后预期", "Expected after the shift"),
    "window_start": ("窗口起始", "Window from"),
    "no_checks": (
        "当前模型还没有赛季中检查（每日运行 keepwarm score 时进行）。",
        "No in-season check of this model yet (the daily run, keepwarm score, makes one).",
    ),
    "score_bin": ("风险区间", "Risk band"),
    "training_share": (
        "留出赛季（同样距入职天数） 占比",
        "Held-out season's share (same days to start)",
    ),
    "this_week_share": ("本周占比", "This week's share"),
    "show_table": ("查看数据表", "Show the table"),
    "champion": ("当前线上模型", "Champion"),
    "version": ("版本", "Version"),
    "trained": ("训练时间", "Trained"),
    "data": ("数据", "Data"),
    "train_data": ("训练数据", "Training data"),
    "test_data": ("测试数据（未参与训练）", "Test data (not seen in training)"),
    "snapshots": ("快照数", "Snapshots"),
    "metrics": ("指标", "Metrics"),
    "auc_rules": ("规则基线 AUC", "Rules baseline AUC"),
    "share_of_oracle": ("达到理论上限的比例", "Share of the best possible"),
    "promotion_history": ("上线记录", "Promotion history"),
    "alias": ("别名", "Alias"),
    "decision": ("决定", "Decision"),
    "no_model": ("还没有模型：先运行 keepwarm train", "No model yet: run `keepwarm train`"),
    "not_found": ("没有这个页面，或无权查看", "No such page, or not yours to see"),
    "forbidden": ("表单已过期，请刷新后重试", "The form expired; reload the page and try again"),
    "error": ("出错了", "Something went wrong"),
    "admins_only": ("仅管理员可查看", "For admins only"),
    "back": ("返回", "Back"),
    "high": ("高", "high"),
    "medium": ("中", "medium"),
    "low": ("低", "low"),
    # the time-to-renege output, shown as urgency (serving.services.risk.urgency_of)
    "risk_30d_col": ("30 天内毁约", "Within 30 days"),
    "risk_30d_help": (
        "30 天内毁约的可能性：越高越需要尽快跟进",
        "Chance of reneging within the next 30 days: the higher, the sooner to act",
    ),
    "urgency": ("紧急程度", "Urgency"),
    "urgent": ("紧急", "act now"),
    "soon": ("本月内", "this month"),
    "later": ("不急", "not urgent"),
    "no_reply": ("未回复", "no reply"),
    "approval_slow": ("审批慢", "slow approval"),
    "competing_offer": ("竞争 offer", "competing offer"),
    "extension_requested": ("申请延期", "extension requested"),
    "language": ("English", "中文"),
    "no_follow_up": ("跟进不足", "no follow-up"),
    "school": ("学校", "School"),
    "school_tier": ("学校层级", "School tier"),
    "major": ("专业", "Major"),
    "degree": ("学历", "Degree"),
    "work_city": ("工作城市", "Work city"),
    "home_city": ("家乡", "Home city"),
    "start_date": ("入职日期", "Start date"),
    "hr_owner": ("负责 HR", "Recruiter"),
    "personal": ("个人原因", "personal"),
    "content_not_relevant": ("内容不相关", "content not relevant"),
    "unknown": ("未记录", "not recorded"),
    "sort": ("排序", "Sort"),
    "print": ("打印", "Print"),
}

EVENT_WORDS: dict[str, tuple[str, str]] = {
    "info_session_attended": ("参加宣讲会", "attended an info session"),
    "info_session_question": ("宣讲会提问", "asked at an info session"),
    "interview_completed": ("完成面试", "interview completed"),
    "candidate_question": ("候选人提问", "asked a question"),
    "offer_approval_requested": ("发起 offer 审批", "offer approval requested"),
    "offer_approval_step": ("审批节点通过", "approval step"),
    "offer_approved": ("offer 审批通过", "offer approved"),
    "offer_sent": ("发出 offer", "offer sent"),
    "offer_accepted": ("接受 offer", "offer accepted"),
    "offer_declined": ("拒绝 offer", "offer declined"),
    "offer_extension_requested": ("申请延期答复", "asked for more time"),
    "message_sent": ("发送消息", "message sent"),
    "message_opened": ("打开消息", "message opened"),
    "link_clicked": ("点击链接", "link clicked"),
    "message_replied": ("回复消息", "replied"),
    "call_made": ("HR 来电", "call made"),
    "call_answered": ("接听电话", "call answered"),
    "materials_submitted": ("提交材料", "materials submitted"),
    "external_signal": ("外部信号（已授权）", "outside signal (consented)"),
}


# The contract's codes a page shows as values: degrees, channels, actors, role families.
CODE_WORDS: dict[str, tuple[str, str]] = {
    # content kinds (store.contract.CONTENT_KINDS)
    "video": ("视频", "video"),
    "article": ("文章", "article"),
    "guide": ("指南", "guide"),
    "greeting": ("问候", "greeting"),
    "news": ("公司新闻", "company news"),
    "bachelor": ("本科", "Bachelor's"),
    "master": ("硕士", "Master's"),
    "phd": ("博士", "PhD"),
    "wechat": ("微信", "WeChat"),
    "email": ("邮件", "e-mail"),
    "sms": ("短信", "text message"),
    "phone": ("电话", "phone"),
    "portal": ("招聘门户", "careers portal"),
    "onsite": ("现场", "on site"),
    "system": ("系统", "system"),
    "candidate": ("候选人", "candidate"),
    "hr": ("HR", "HR"),
    "dept_manager": ("部门经理", "department manager"),
    "hr_director": ("HR 总监", "HR director"),
    "tech": ("技术", "engineering"),
    "product": ("产品", "product"),
    "design": ("设计", "design"),
    "marketing": ("市场", "marketing"),
    "sales": ("销售", "sales"),
    "operations": ("运营", "operations"),
    "manufacturing": ("制造", "manufacturing"),
    # bias-audit groups (training.fairness): gender as recorded, school tier, home region
    "female": ("女", "female"),
    "male": ("男", "male"),
    "华东": ("华东", "East China"),
    "华北": ("华北", "North China"),
    "华南": ("华南", "South China"),
    "华中": ("华中", "Central China"),
    "西南": ("西南", "Southwest"),
    "西北": ("西北", "Northwest"),
    "东北": ("东北", "Northeast"),
}


# A calibration segment's groups (``training.evaluate.segment_labels``), for the model
# card's known limits; school tiers and horizon bands are worded by ``segment_group``.
SEGMENT_GROUP_WORDS: dict[tuple[str, str], tuple[str, str]] = {
    ("competing_offer", "mentioned"): ("提到过竞争 offer", "mentioned a competing offer"),
    ("competing_offer", "signal"): (
        "有竞争 offer 的外部信号",
        "an outside signal of a competing offer",
    ),
    ("competing_offer", "no"): ("未见竞争 offer", "no competing offer seen"),
    ("far_from_home", "yes"): ("异地入职", "working away from home"),
    ("far_from_home", "no"): ("在家乡入职", "working in their home city"),
    ("far_from_home", "unknown"): ("家乡未记录", "home city not recorded"),
    ("school_tier", "unknown"): ("学校层级未记录", "school tier not recorded"),
}
_HORIZON = re.compile(r"^(?:<=(\d+)|(\d+)-(\d+)|>(\d+))d$")


def segment_group(segment: str, group: str, lang: str) -> str:
    """A segment's group as a reader says it: ("school_tier", "3") -> 学校层级 3 / school
    tier 3; ("horizon", "31-90d") -> 距入职 31-90 天 / 31-90 days to the start. A group
    with no words is given as the segment's name and the group."""
    zh = lang == "zh"
    pair = SEGMENT_GROUP_WORDS.get((segment, group))
    if pair is not None:
        return pair[0] if zh else pair[1]
    if segment == "school_tier" and group.isdigit():
        return f"学校层级 {group}" if zh else f"school tier {group}"
    found = _HORIZON.match(group) if segment == "horizon" else None
    if found is not None:
        upto, low, high, over = found.groups()
        if upto:
            return f"距入职 {upto} 天内" if zh else f"{upto} days or less to the start"
        if over:
            return f"距入职超过 {over} 天" if zh else f"over {over} days to the start"
        return f"距入职 {low}-{high} 天" if zh else f"{low}-{high} days to the start"
    name = t(segment, "zh") if zh else t(segment, "en")
    return f"{name}: {group}"


MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def date_words(day: dt.date, lang: str) -> str:
    """A day as a reader of ``lang`` writes it: 2024年12月2日, or 2 Dec 2024."""
    if lang == "en":
        return f"{day.day} {MONTHS_EN[day.month - 1]} {day.year}"
    return f"{day.year}年{day.month}月{day.day}日"


def t(key: str, lang: Lang, **values: object) -> str:
    """The word for ``key`` in ``lang`` (the key itself when there is none)."""
    pair = (
        TEXT.get(key)
        or WORDS.get(key)
        or TOPIC_WORDS.get(key)
        or EVENT_WORDS.get(key)
        or CODE_WORDS.get(key)
    )
    if pair is None:
        return key
    word = pair[0] if lang == "zh" else pair[1]
    return word.format(**values) if values else word

"""The model card: what a registered version is for, what it saw, how good and how fair it is.

Built at registration from the same figures training logs (held-out evaluation, bias
audit, data fingerprint), logged with the model as ``model_card.json`` and
``model_card.md``, and shown on the console's Model page and in every explanation.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from config import Settings
from features.catalogue import CATALOGUE

FAMILY_WORDS = {
    "offer": ("offer 与审批进度", "offer and approval progress"),
    "stage": ("入职准备阶段", "onboarding stage"),
    "engagement": (
        "互动记录(消息、电话、内容的打开与回复)",
        "engagement (messages, calls, content opened and answered)",
    ),
    "interest": ("关注点(宣讲会、所提问题的主题)", "interests (info sessions, topics asked about)"),
    "profile": ("档案(学校层级、学历、岗位、城市)", "profile (school tier, degree, role, cities)"),
    "outside": ("经本人同意的外部信号", "outside signals the candidate consented to"),
}
# What is never a model input, and why it matters to say so.
NOT_USED = {
    "zh": [
        "性别(只用于偏差审计)",
        "出生日期与年龄",
        "姓名、学校名称",
        "消息与提问的原文(只用其主题)",
        "未经同意的外部信息",
    ],
    "en": [
        "gender (kept for the bias audit only)",
        "birthday and age",
        "names and the school's name",
        "the words of messages and questions (only their topic)",
        "outside information without consent",
    ],
}
INTENDED = {
    "use": (
        "Rank a company's own offer holders by the chance that they renege before their "
        "start date, with reasons, so that recruiters choose whom to contact and how."
    ),
    "users": "Campus recruiters, their leads, and the data scientists who retrain it.",
    "out_of_scope": [
        "Any decision about a person without a recruiter: withdrawing an offer, changing "
        "pay, level or start date, or ranking applicants before an offer.",
        "Candidates of another company, or seasons unlike the training seasons (other "
        "countries' calendars, experienced hires).",
        "Judging recruiters' performance.",
    ],
}


def data_kinds(features: list[str], lang: str) -> list[str]:
    """The kinds of data a model with ``features`` uses, in words."""
    by_name = {f.name: f.family for f in CATALOGUE}
    families = Counter(by_name.get(f, "engagement") for f in features)
    index = 0 if lang == "zh" else 1
    return [FAMILY_WORDS[f][index] for f in FAMILY_WORDS if families.get(f)]


def build_card(
    features: list[str],
    params: dict[str, object],
    fingerprint: dict[str, Any],
    evaluation: dict[str, Any],
    fairness: dict[str, Any] | None,
    flagged: list[str],
    settings: Settings,
) -> dict[str, Any]:
    seasons = evaluation.get("seasons", [])
    limits = [
        "Trained on past seasons of one company: a new recruiting calendar or a new "
        "kind of role needs a season of data before its scores mean much.",
        "Risk is a probability for a group of similar candidates, not a verdict on a "
        "person; reasons say what moved the score, not why someone decides.",
        "Scores rise as the start date nears; compare candidates at similar horizons.",
    ]
    for part in seasons:
        if part.get("ece") is not None and part["ece"] > 0.05:
            limits.append(
                f"Calibration on {part['season']} is off by {part['ece']:.1%} on average "
                "(ECE): read risks as ranks more than exact chances."
            )
    segments = evaluation.get("segments") or []
    for seg in segments:
        if seg.get("off"):
            limits.append(
                f"On the held-out season, risk for {seg['segment']} = {seg['group']} is off "
                f"by {seg['gap']:+.1%} (observed minus predicted, 95% "
                f"{seg['gap_low']:+.1%} to {seg['gap_high']:+.1%})."
            )
    limits += [f"Bias audit flag: {f}." for f in flagged]
    calibrator = evaluation.get("calibrator") or {}
    return {
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "intended_use": INTENDED["use"],
        "intended_users": INTENDED["users"],
        "out_of_scope": INTENDED["out_of_scope"],
        "training": {
            "train_seasons": str(params.get("train_seasons", "")).split(","),
            "test_season": params.get("test_season"),
            "data": {
                k: {"rows": v.get("rows")} for k, v in fingerprint.items() if isinstance(v, dict)
            },
            "retention": (
                f"personal data is kept {settings.retention_days} days after a candidate's "
                f"outcome, then {settings.retention_mode}d; training reads only what is left "
                "(pseudonymised records have no id, school name, birthday or free text)"
            ),
        },
        "inputs": {
            "features": len(features),
            "kinds_en": data_kinds(features, "en"),
            "not_used_en": NOT_USED["en"],
        },
        "metrics_by_season": [
            {k: part.get(k) for k in ("season", "kind", "n", "auc", "ece", "calibration")}
            for part in seasons
        ],
        "calibration": {
            "calibrator": calibrator.get("kind"),
            "shown_between": [calibrator.get("floor"), calibrator.get("cap")],
            "held_out_choice": (calibrator.get("support") or {}).get("held_out"),
            "top_tie_share": evaluation.get("top_tie_share"),
            "by_segment": segments,
        },
        "fairness": {
            by: {
                "min_impact_ratio": part.get("min_impact_ratio"),
                "groups": {
                    g: {
                        k: v.get(k)
                        for k in (
                            "n",
                            "selection_rate",
                            "recall",
                            "fpr",
                            "mean_risk",
                            "observed_rate",
                        )
                    }
                    for g, v in part.get("groups", {}).items()
                },
            }
            for by, part in (fairness or {}).items()
        },
        "fairness_flagged": flagged,
        "known_limits": limits,
        "human_oversight": (
            "Scores and plans are suggestions: a recruiter decides and acts, and can "
            "override a tier with a reason, which is audited and reviewed each season."
        ),
    }


def card_markdown(card: dict[str, Any], version: str) -> str:
    lines = [
        f"# Model card: keepwarm-dropout version {version}",
        "",
        f"Created {card['created']}.",
        "",
        "## Intended use",
        card["intended_use"],
        "",
        f"Users: {card['intended_users']}",
        "",
        "## Out of scope",
    ]
    lines += [f"- {x}" for x in card["out_of_scope"]]
    t = card["training"]
    lines += [
        "",
        "## Training data",
        f"Trained on {', '.join(t['train_seasons'])}; tested on {t['test_season']}.",
        f"Retention: {t['retention']}.",
        "",
        "## Inputs",
        f"{card['inputs']['features']} features: " + "; ".join(card["inputs"]["kinds_en"]),
        "",
        "Never used: " + "; ".join(card["inputs"]["not_used_en"]),
        "",
        "## Quality on seasons it did not see",
        "",
        "| season | AUC | ECE |",
        "|---|---|---|",
    ]
    for m in card["metrics_by_season"]:
        lines.append(f"| {m['season']} | {_num(m.get('auc'))} | {_num(m.get('ece'))} |")
    lines += _calibration_lines(card.get("calibration") or {})
    lines += ["", "## Fairness (four-fifths rule on priority outreach)", ""]
    for by, part in card["fairness"].items():
        lines.append(f"- {by}: lowest impact ratio {_num(part['min_impact_ratio'])}")
    lines.append("- flagged: " + ("; ".join(card["fairness_flagged"]) or "none"))
    lines += ["", "## Known limits"] + [f"- {x}" for x in card["known_limits"]]
    lines += ["", "## Human oversight", card["human_oversight"], ""]
    return "\n".join(lines)


def _calibration_lines(cal: dict[str, Any]) -> list[str]:
    """The card's calibration section: the calibrator, the range shown, each segment."""
    if not cal.get("calibrator") and not cal.get("by_segment"):
        return []
    lines = ["", "## Calibration", ""]
    if cal.get("calibrator"):
        low, high = cal["shown_between"]
        lines.append(
            f"Calibrator: {cal['calibrator']}, chosen on held-out log loss with ties as the "
            f"tie-breaker; risks are shown between {low:.1%} and {high:.1%}, what the "
            "held-out outcomes support."
        )
    if cal.get("top_tie_share") is not None:
        lines.append(
            f"Largest share of a held-out day's top 5% showing one value: "
            f"{cal['top_tie_share']:.0%}."
        )
    if cal.get("by_segment"):
        lines += [
            "",
            "| segment | group | rows | candidates | predicted | observed | gap (95%) |",
            "|---|---|---|---|---|---|---|",
        ]
        for s in cal["by_segment"]:
            lines.append(
                f"| {s['segment']} | {s['group']} | {s['rows']} | {s['candidates']} | "
                f"{s['predicted']:.3f} | {s['observed']:.3f} | {s['gap']:+.3f} "
                f"({s['gap_low']:+.3f}, {s['gap_high']:+.3f}){' off' if s['off'] else ''} |"
            )
    return lines


def _num(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3f}"

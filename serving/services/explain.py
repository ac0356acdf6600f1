"""Explanations on request (PIPL art. 24, GDPR art. 22, EU AI Act art. 86).

One plain function builds what the API's ``/v1/candidates/{id}/explanation``
returns and the console's printable page shows: risk and tier (and a recruiter's
override), the main reasons in words, which kinds of data were used and which
never are, the model and its measured accuracy, and how to ask a person to review.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from serving.auth import Principal
from serving.i18n import date_words
from serving.schemas import CandidateDetail
from serving.services.candidates import candidate_detail
from serving.services.overrides import override_of
from serving.trust_schemas import Explanation, ModelFacts, Override
from training.modelcard import NOT_USED, data_kinds

if TYPE_CHECKING:
    from serving.state import AppState

WORDS: dict[str, dict[str, Any]] = {
    "zh": {
        "summary": "截至 {day}，keepwarm 估计该候选人在入职前放弃 offer 的概率约为 {risk}，"
        "属于{tier}关注。",
        "summary_override": "截至 {day}，模型估计的概率约为 {risk}；招聘专员判断为{tier}关注。",
        "not_scored": "截至 {day}，该候选人不在评分范围内（尚无 offer，或结果已知）。",
        "tiers": {"high": "高", "medium": "中", "low": "低"},
        "automated": "keepwarm 不会自动做出任何对候选人不利的决定：风险与计划只是给招聘专员的"
        "建议，由人来决定是否联系、如何联系。",
        "review": "如需人工复核或对结果有异议，请联系{contact}，并注明候选人编号 {cid}。",
    },
    "en": {
        "summary": "As of {day}, keepwarm estimates the chance that this candidate turns down "
        "the offer before the start date at about {risk}: {tier} priority.",
        "summary_override": "As of {day}, the model estimates about {risk}; a recruiter "
        "judged the priority {tier}.",
        "not_scored": "As of {day}, this candidate is not scored (no offer yet, or the "
        "outcome is known).",
        "tiers": {"high": "high", "medium": "medium", "low": "low"},
        "automated": "keepwarm makes no decision against a candidate by itself: risks and "
        "plans are suggestions to a recruiter, who decides whether and how to get in touch.",
        "review": "To ask a person to review this, or to object, contact {contact} and "
        "quote candidate id {cid}.",
    },
}


def explanation(
    state: AppState, principal: Principal, candidate_id: str, as_of: dt.date, lang: str
) -> Explanation:
    """The explanation of one candidate's risk as of a day; ``NotFound`` outside scope."""
    detail = candidate_detail(state, principal, candidate_id, as_of)
    model = state.model
    version = detail.current.model_version if detail.current else None
    return explain(
        detail,
        override_of(state.engine, candidate_id),
        list(model.features) if model else None,
        state.card(version) if version else {},
        as_of,
        lang,
        state.settings.review_contact,
    )


def explain(
    detail: CandidateDetail,
    override: Any,
    features: list[str] | None,
    card: dict[str, Any],
    as_of: dt.date,
    lang: str,
    contact: str,
) -> Explanation:
    """Everything from what the caller may already see: ``detail`` is scope-checked."""
    words = WORDS["en" if lang == "en" else "zh"]
    cid = detail.profile.candidate_id
    current = detail.current
    shown = None
    if override is not None:
        # the tier only: the recruiter's reason is internal and never on the explanation
        shown = Override.model_validate(override, from_attributes=True).model_copy(
            update={"reason": ""}
        )
    if current is None:
        summary, reasons = words["not_scored"].format(day=date_words(as_of, lang)), []
    else:
        tier = shown.tier if shown else current.risk_tier
        key = "summary_override" if shown else "summary"
        summary = words[key].format(
            day=date_words(as_of, lang), risk=f"{current.risk:.0%}", tier=words["tiers"][tier]
        )
        reasons = [r.text_en if lang == "en" else r.text_zh for r in current.reasons]
    model = None
    if current is not None:
        season = (card.get("metrics_by_season") or [{}])[0]
        training = card.get("training", {})
        model = ModelFacts(
            version=current.model_version,
            trained_on=training.get("train_seasons", []),
            tested_on=training.get("test_season"),
            auc=season.get("auc"),
            calibration_error=season.get("ece"),
            fairness_flagged=card.get("fairness_flagged", []),
        )
    used = data_kinds(features or [], lang)
    return Explanation(
        candidate_id=cid,
        as_of=as_of,
        lang="en" if lang == "en" else "zh",
        risk=None if current is None else current.risk,
        risk_tier=None if current is None else current.risk_tier,
        override=shown,
        summary=summary,
        reasons=reasons,
        data_used=used,
        data_not_used=NOT_USED["en" if lang == "en" else "zh"],
        model=model,
        automated_decisions=words["automated"],
        human_review=words["review"].format(contact=contact, cid=cid),
    )

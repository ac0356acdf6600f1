"""The season review: the brief's monthly review, and the model's quality and drift."""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from outreach import overrides, review
from outreach.effects import load_effects
from serving import charts
from serving.console.pages import console_day
from serving.console.render import render, season_words
from serving.deps import Signed, Viewer
from serving.i18n import Lang, t
from serving.services.errors import NoModel
from serving.services.risk import day_scores
from training import monitor, report
from training.tracking import version_details

router = APIRouter(include_in_schema=False)


@router.get("/review", response_class=HTMLResponse)
def season_review(
    request: Request, who: Signed, season: Annotated[str | None, Query(max_length=32)] = None
) -> HTMLResponse:
    state, lang = who.state, who.lang
    seasons = review.season_names(state.engine)
    if not seasons:
        return render(request, "message.html", who, 200, key="no_model")
    season = season if season in seasons else seasons[-1]
    owner = who.principal.hr_owner if who.principal.role == "hr" else None
    frames = review.load_season(state.engine, season, owner=owner)
    funnel = review.funnel_by_month(frames)
    reasons = review.renege_reasons(frames)
    content = review.content_response(frames)
    alerts = review.alert_response(frames)
    holdout = review.holdout_effect(frames)
    effects = load_effects(state.engine)
    quality, drift, psi, fairness = _model_quality(who)
    checks = monitor.checks(state.engine, state.model.version) if state.model else []
    ctx: dict[str, Any] = {
        "season": season,
        "seasons": seasons,
        "funnel": funnel.to_dict("records"),
        "reasons": reasons.to_dict("records"),
        "content": content.to_dict("records"),
        "alerts": alerts.to_dict("records"),
        "holdout": holdout.to_dict("records"),
        "effects": effects.to_dict("records"),
        "quality": quality,
        "drift": drift,
        "psi": psi,
        "fairness": fairness,
        "checks": checks,
        "charts": {
            "funnel": charts.bars(
                funnel["month"],
                {t(k, lang): funnel[k] for k in ("offers", "accepted", "joined", "reneged")},
                t("funnel", lang),
                y_title=t("people", lang),
                x_title=t("month", lang),
                counts=True,
            ),
            "reasons": charts.bars(
                [t(r, lang) for r in reasons["reason"]],
                {t("reneged", lang): reasons["reneged"]},
                t("renege_reasons", lang),
                y_title=t("people", lang),
                counts=True,
            ),
            "content": charts.bars(
                [t(k, lang) for k in ("open_rate", "click_rate", "reply_rate")],
                {
                    t(row["content"], lang): [
                        row["open_rate"],
                        row["click_rate"],
                        row["reply_rate"],
                    ]
                    for row in content.to_dict("records")
                },
                t("content_rates", lang),
                percent=True,
            ),
            "alerts": charts.bars(
                alerts["hr_owner"],
                {t("median_hours", lang): alerts["median_hours"]},
                t("alert_response", lang),
                y_title=t("hours", lang),
                x_title=t("owner", lang),
            )
            if len(alerts)
            else None,
            "holdout": charts.bars(
                [t(g, lang) for g in holdout["group"]],
                {t("renege_rate", lang): holdout["renege_rate"]},
                t("holdout_effect", lang),
                y_title=t("renege_rate", lang),
                percent=True,
            ),
            "calibration": charts.lines(
                {
                    f"{season_words(q['season'], lang)}（{t(q['kind'], lang)}）": (
                        [b["predicted"] for b in q["calibration"]],
                        [b["observed"] for b in q["calibration"]],
                    )
                    for q in quality
                    if q["calibration"]
                },
                t("calibration", lang),
                y_title=t("observed", lang),
                x_title=t("predicted", lang),
                diagonal=True,
            )
            if quality
            else None,
            "in_season": _in_season_chart(checks, lang),
            "drift": charts.bars(
                [d["band"] for d in drift],
                {
                    t("training_share", lang): [d["training"] for d in drift],
                    t("this_week_share", lang): [d["this_week"] for d in drift],
                },
                t("drift", lang),
                percent=True,
            )
            if drift
            else None,
        },
    }
    with state.engine.connect() as conn:
        ctx["overrides"] = overrides.override_review(
            conn, frames.candidates["candidate_id"].astype(str).tolist()
        ).to_dict("records")
    who.audit("read", "/review", frames.candidates["candidate_id"].astype(str).tolist())
    return render(request, "review.html", who, **ctx)


def _in_season_chart(checks: list[dict[str, Any]], lang: Lang) -> str | None:
    """The latest check's windows: reneges observed against expected (and after the shift)."""
    if not checks or not checks[0]["per_window"]:
        return None
    windows = checks[0]["per_window"]
    return charts.bars(
        [w["start"] for w in windows],
        {
            t("observed_n", lang): [w["observed"] for w in windows],
            t("expected_n", lang): [w["expected"] for w in windows],
        },
        t("in_season", lang),
        x_title=t("window_start", lang),
    )


def _model_quality(
    who: Viewer,
) -> tuple[list[dict[str, Any]], list[dict], float, dict[str, Any]]:
    """Per-season AUC and calibration (held out at training, and as served), and drift."""
    state = who.state
    model = state.model
    if model is None:
        return [], [], math.nan, {}
    details = version_details(state.settings, model.version)
    evaluation = details.get("evaluation", {})
    quality = list(evaluation.get("seasons", []))
    quality += report.served_quality(state.engine, model.version)
    # Drift is the model's, so it is judged on everyone scored (an HR user sees only the
    # histogram, no candidate): one recruiter's few dozen would be mostly noise.
    try:
        scores = day_scores(state, console_day(state))
    except NoModel:
        return quality, [], math.nan, details.get("fairness", {})
    bands, psi = report.drift(evaluation, scores.risk, scores.day.meta["days_to_start"].to_numpy())
    return quality, bands.to_dict("records"), psi, details.get("fairness", {})

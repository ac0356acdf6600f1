"""The console's pages: Today, Risk list, Candidate, Explanation, Audit log, Model.

Each page reads through ``serving.services`` with the signed-in user's
``Principal``, so an HR user sees their own candidates only, exports included.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import func, select

from outreach.alerts import KINDS
from serving import charts
from serving.console.render import render, safe_next
from serving.deps import PageError, Posted, Signed
from serving.i18n import t
from serving.scorer import FLAGS
from serving.services import candidates as cand
from serving.services.errors import Invalid, ServiceError
from serving.services.explain import explanation
from serving.services.overrides import clear_override, override_of, set_override
from serving.services.plans import (
    alert_rows,
    mark_done,
    not_planned_rows,
    plan_owners,
    plan_rows,
    undo_done,
)
from serving.services.risk import SORTS, TIERS, RiskFilters, choices, risk_table, with_reasons
from serving.services.scope import check_day, owner_scope
from serving.services.team import team_rows
from serving.state import AppState
from store import audit
from store.schema import Score
from training.tracking import model_history, version_details

PAGE_SIZE = 50
# the risk list filters on every alert: the features' rule flags and the run's alert kinds
ALERT_FILTERS = tuple(dict.fromkeys([*FLAGS, *KINDS]))
router = APIRouter(include_in_schema=False)


def console_day(state: AppState) -> dt.date:
    """The day the console shows: the latest daily scoring run, else today."""
    with state.engine.connect() as conn:
        latest = conn.execute(select(func.max(Score.as_of))).scalar()
    return latest or state.today()


def page_day(request: Request, state: AppState) -> dt.date:
    """``?as_of=`` (a day between the data's first and today), else the latest run's day."""
    value = request.query_params.get("as_of")
    if not value:
        return console_day(state)
    try:
        day = dt.date.fromisoformat(value)
        return check_day(day, state.data_range.first_day(), state.today())
    except (ValueError, Invalid):
        raise PageError(400, "error") from None


def filters_of(request: Request) -> RiskFilters:
    q = request.query_params
    return RiskFilters(
        owner=q.get("owner") or None,
        department=q.get("department") or None,
        role_family=q.get("role_family") or None,
        tier=q.get("tier") if q.get("tier") in TIERS else None,
        alert=q.get("alert") if q.get("alert") in ALERT_FILTERS else None,
        sort=str(q.get("sort")) if q.get("sort") in SORTS else "risk",
        descending=q.get("dir", "desc") != "asc",
    )


def page_error(exc: ServiceError) -> PageError:
    """A service's refusal as a console page (an unknown candidate and another's look alike)."""
    return PageError({"forbidden": 403, "no_model": 503}.get(exc.code, 404), exc.code)


# --- today ---------------------------------------------------------------------------------


@router.get("/today", response_class=HTMLResponse)
def today(
    request: Request,
    who: Signed,
    owner: Annotated[str | None, Query(max_length=64)] = None,
    page: Annotated[int, Query(ge=1)] = 1,
) -> HTMLResponse:
    """A recruiter's plan; for a lead, the team view first, and every list paged."""
    state, principal = who.state, who.principal
    day = console_day(state)
    try:
        scope = owner_scope(principal, owner)
    except ServiceError as exc:
        raise page_error(exc) from None
    plan = [a for a in plan_rows(state, principal, day, scope) if not a["automatic"]]
    missing = not_planned_rows(state, principal, day, scope)
    _, alerts = alert_rows(state, scope, None, "open")
    team = team_rows(state, principal, day) if principal.role != "hr" and scope is None else []
    pages = max(1, *(math.ceil(len(x) / PAGE_SIZE) for x in (plan, missing, alerts)))
    page = min(page, pages)
    cut = slice((page - 1) * PAGE_SIZE, page * PAGE_SIZE)
    ids = [a["candidate_id"] for a in plan[cut]] + [n.candidate_id for n in missing[cut]]
    who.audit("read", "/today", ids)
    query = {k: v for k, v in request.query_params.items() if k != "page" and v}
    return render(
        request, "today.html", who, day=day, plan=plan[cut], plan_total=len(plan),
        alerts=alerts[cut], alerts_total=len(alerts), not_planned=missing[cut],
        not_planned_total=len(missing), team=team, owner=scope, page=page, pages=pages,
        qs=lambda **kw: urlencode({**query, **kw}), owners=plan_owners(state, principal, day),
    )  # fmt: skip


@router.post("/actions/{action_id}/done", response_class=RedirectResponse)
def action_done(
    request: Request,
    action_id: int,
    who: Posted,
    outcome: Annotated[str, Form(max_length=16)] = "",
    note: Annotated[str, Form(max_length=1000)] = "",
) -> RedirectResponse:
    try:
        mark_done(who.state, who.principal, action_id, who.actor, "/actions/{id}/done",
                  outcome or None, note.strip() or None)  # fmt: skip
    except ServiceError as exc:
        raise page_error(exc) from None
    return _back(request)


@router.post("/actions/{action_id}/undo", response_class=RedirectResponse)
def action_undo(request: Request, action_id: int, who: Posted) -> RedirectResponse:
    try:
        undo_done(who.state, who.principal, action_id, who.actor, "/actions/{id}/undo")
    except ServiceError as exc:
        raise page_error(exc) from None
    return _back(request)


def _back(request: Request) -> RedirectResponse:
    referer = request.headers.get("referer", "")
    path = referer.split(str(request.base_url).rstrip("/"), 1)[-1] if referer else "/today"
    return RedirectResponse(safe_next(path), status_code=303)


# --- the risk list -------------------------------------------------------------------------


@router.get("/risk", response_class=HTMLResponse)
def risk(request: Request, who: Signed, page: Annotated[int, Query(ge=1)] = 1) -> HTMLResponse:
    state = who.state
    day = page_day(request, state)
    filters = filters_of(request)
    try:
        table = risk_table(state, who.principal, day, filters)
    except ServiceError as exc:
        if exc.code == "no_model":
            return render(request, "message.html", who, 503, key="no_model")
        raise page_error(exc) from None
    pages = max(1, math.ceil(len(table) / PAGE_SIZE))
    page = min(page, pages)
    rows = with_reasons(state, day, table.iloc[(page - 1) * PAGE_SIZE : page * PAGE_SIZE])
    who.audit("read", "/risk", rows["candidate_id"].astype(str).tolist())
    query = {k: v for k, v in request.query_params.items() if k != "page" and v}
    return render(
        request,
        "risk.html",
        who,
        day=day,
        rows=rows.to_dict("records"),
        total=len(table),
        page=page,
        pages=pages,
        filters=filters,
        choices=choices(state, who.principal, day),
        query=query,
        qs=lambda **kw: urlencode({**query, **{k: v for k, v in kw.items() if v is not None}}),
        flags=ALERT_FILTERS,
        tiers=TIERS,
    )


# --- one candidate -------------------------------------------------------------------------


@router.get("/candidates/{candidate_id}", response_class=HTMLResponse)
def candidate(request: Request, candidate_id: str, who: Signed) -> HTMLResponse:
    state = who.state
    day = page_day(request, state)
    try:
        detail = cand.candidate_detail(state, who.principal, candidate_id, day)
    except ServiceError as exc:
        raise page_error(exc) from None
    # Asked for a past day, the page shows the candidate as known at its end, nothing later.
    # Without one it shows all the store knows (the latest daily run's score beside it).
    if "as_of" in request.query_params:
        detail = cand.as_known_on(detail, day)
    who.audit("read", "/candidates/{id}", [candidate_id], fields=cand.DETAIL_FIELDS)
    lang = who.lang
    history = cand.risk_history(state, candidate_id, day)
    stored = [(s.as_of, s.risk) for s in detail.score_history][-cand.HISTORY_WEEKS * 7 :]
    series = {t("risk_col", lang): (list(history["as_of"]), list(history["risk"]))}
    if stored:
        label = "每日评分 (已存)" if lang == "zh" else "daily runs (stored)"
        series[label] = ([d for d, _ in stored], [r for _, r in stored])
    contributions = cand.contributions(state, day, candidate_id)
    text = "text_zh" if lang == "zh" else "text_en"
    sends = cand.content_sent(state, detail.timeline)
    return render(
        request,
        "candidate.html",
        who,
        day=day,
        d=detail,
        history=history.to_dict("records"),
        history_chart=charts.lines(series, t("score_history", lang), percent=True),
        contributions=contributions,
        contributions_chart=charts.bars(
            [r[text] for r in contributions],
            {t("contribution", lang): [r["contribution"] for r in contributions]},
            t("contributions", lang),
            horizontal=True,
        )
        if contributions
        else None,
        sends=sends.to_dict("records"),
        questions=cand.unanswered(detail.timeline),
        text_key=text,
        override=override_of(state.engine, candidate_id),
        tiers=TIERS,
    )


@router.get("/candidates/{candidate_id}/explanation", response_class=HTMLResponse)
def explanation_page(request: Request, candidate_id: str, who: Signed) -> HTMLResponse:
    """The explanation a candidate may ask for: printable, in the page's language."""
    day = page_day(request, who.state)
    try:
        out = explanation(who.state, who.principal, candidate_id, day, who.lang)
    except ServiceError as exc:
        raise page_error(exc) from None
    who.audit("explain", "/candidates/{id}/explanation", [candidate_id])
    return render(request, "explanation.html", who, e=out)


HERE_OVERRIDE = "/candidates/{id}/override"


@router.post("/candidates/{candidate_id}/override", response_class=RedirectResponse)
def override_tier(
    candidate_id: str,
    who: Posted,
    tier: Annotated[str, Form()] = "",
    reason: Annotated[str, Form(max_length=500)] = "",
    clear: Annotated[str, Form()] = "",
    as_of: Annotated[str, Form(max_length=10)] = "",
) -> RedirectResponse:
    try:
        shown = dt.date.fromisoformat(as_of) if as_of else None
    except ValueError:
        raise PageError(400, "override_invalid") from None
    try:
        if clear:
            clear_override(who.state, who.principal, who.actor, candidate_id, HERE_OVERRIDE)
        elif tier in TIERS and len(reason.strip()) >= 3:
            set_override(who.state, who.principal, who.actor, candidate_id, tier, reason,
                         HERE_OVERRIDE, shown)  # fmt: skip
        else:
            raise PageError(400, "override_invalid")
    except ServiceError as exc:
        raise page_error(exc) from None
    return RedirectResponse(f"/candidates/{quote(candidate_id, safe='')}", status_code=303)


# --- the audit log (admins) ------------------------------------------------------------------


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    who: Signed,
    candidate: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[str | None, Query(max_length=128)] = None,
    since: Annotated[str | None, Query(max_length=10)] = None,
) -> HTMLResponse:
    if who.principal.role != "admin":
        raise PageError(403, "admins_only")
    try:
        day = dt.date.fromisoformat(since) if since else None
    except ValueError:
        raise PageError(400, "error") from None
    who.state.reads.flush()  # this process's latest reads first
    frame = audit.entries(who.state.engine, candidate or None, actor or None, day, limit=500)
    who.audit("read", "/audit", filtered=bool(candidate or actor or since))
    return render(
        request, "audit.html", who, rows=frame.to_dict("records"),
        filters={"candidate": candidate or "", "actor": actor or "", "since": since or ""},
    )  # fmt: skip


# --- the model -----------------------------------------------------------------------------


@router.get("/model", response_class=HTMLResponse)
def model_page(request: Request, who: Signed) -> HTMLResponse:
    state = who.state
    history = model_history(state.settings)
    loaded = state.model.version if state.model else None
    champion = next((m for m in history if "champion" in m["aliases"]), None)
    details = version_details(state.settings, champion["version"]) if champion else {}
    card = details.get("card") or {}
    return render(
        request, "model.html", who, history=history, champion=champion, details=details,
        loaded=loaded, card=card,
    )  # fmt: skip

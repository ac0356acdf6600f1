"""The HR console: server-rendered pages on the same app as the API, at ``/``.

Sign-in makes a session (``serving.users``): an HttpOnly, SameSite cookie holds
its token, and every form carries the session's CSRF token (the sign-in form a
double-submit one). The pages read through ``serving.views`` with the user's
``Principal``, so an HR user sees their own candidates only, exports included.
Chinese by default; ``/lang/en`` switches (a cookie).
"""

from __future__ import annotations

import datetime as dt
import hmac
import io
import math
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import pandas as pd
from fastapi import APIRouter, Depends, FastAPI, Form, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.concurrency import run_in_threadpool

from outreach import overrides, review
from serving import charts, views
from serving.app import (
    DETAIL_FIELDS,
    ApiError,
    Service,
    _alerts,
    _clear_override,
    _detail,
    _done,
    _explanation,
    _origin,
    _set_override,
)
from serving.explain import override_of
from serving.i18n import LANGS, Lang, t
from serving.users import Session, session_of, sign_in, sign_out
from store import audit
from store.audit import Actor
from training import report
from training.tracking import model_history, version_details

HERE = Path(__file__).parent
COOKIE = "kw_session"
LANG_COOKIE = "kw_lang"
LOGIN_CSRF = "kw_login_csrf"
PAGE_SIZE = 50
SECURITY_HEADERS = {
    # plotly.js sets inline styles; scripts come from this app only, data as JSON blocks
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(include_in_schema=False)


class SignInFirst(Exception):
    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


class PageError(Exception):
    def __init__(self, status: int, key: str) -> None:
        self.status = status
        self.key = key


@dataclass(frozen=True)
class Viewer:
    service: Service
    session: Session
    lang: Lang
    origin: str | None = None

    @property
    def principal(self) -> Any:
        return self.session.principal

    def audit(
        self, action: str, target: str, ids: list[str] | tuple[str, ...] = (), **detail: Any
    ) -> None:
        self.service.audit(self.actor, action, target, ids, detail or None)

    @property
    def actor(self) -> Actor:
        return Actor(self.principal.name, self.principal.role, self.origin)


def _lang(request: Request) -> Lang:
    value = request.cookies.get(LANG_COOKIE)
    return value if value in LANGS else "zh"


def _safe_next(value: str | None) -> str:
    """Only a path on this site: never an absolute or scheme-relative address."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/today"
    return value


async def viewer(request: Request) -> Viewer:
    service: Service = request.app.state.service
    session = await run_in_threadpool(session_of, service.engine, request.cookies.get(COOKIE))
    if session is None:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInFirst(here)
    return Viewer(service, session, _lang(request), _origin(request))


Signed = Annotated[Viewer, Depends(viewer)]


async def checked(request: Request, who: Signed) -> Viewer:
    """A signed-in user's form, carrying their session's CSRF token, or 403."""
    form = await request.form()
    sent = str(form.get("csrf_token", ""))
    if not hmac.compare_digest(sent.encode(), who.session.csrf.encode()):
        raise PageError(403, "forbidden")
    return who


Posted = Annotated[Viewer, Depends(checked)]


def _fmt_pct(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{100 * float(value):.{digits}f}%"


def _fmt_pp(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{100 * float(value):+.1f}"


def _fmt_num(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{float(value):,.{digits}f}"


templates.env.filters.update(pct=_fmt_pct, pp=_fmt_pp, num=_fmt_num)


def render(
    request: Request, name: str, who: Viewer | None, status: int = 200, **context: Any
) -> HTMLResponse:
    lang = who.lang if who else _lang(request)
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    response = templates.TemplateResponse(
        request,
        name,
        {
            "lang": lang,
            "t": lambda key, **kw: t(key, lang, **kw),
            "who": who.principal if who else None,
            "csrf": who.session.csrf if who else "",
            "here": here,
            "here_quoted": quote(here, safe=""),
            **context,
        },
        status_code=status,
    )
    response.headers.update(SECURITY_HEADERS)
    return response


def _set_cookie(request: Request, response: Response, name: str, value: str, age: int) -> None:
    settings = request.app.state.service.settings
    response.set_cookie(
        name,
        value,
        max_age=age,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/",
    )


# --- signing in and out ------------------------------------------------------------------


@router.get("/", response_class=RedirectResponse)
def home() -> RedirectResponse:
    return RedirectResponse("/today", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None) -> HTMLResponse:
    token = request.cookies.get(LOGIN_CSRF) or secrets.token_urlsafe(32)
    response = render(request, "login.html", None, next=_safe_next(next), login_csrf=token)
    _set_cookie(request, response, LOGIN_CSRF, token, 3600)
    return response


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    name: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/today",
) -> Response:
    service: Service = request.app.state.service
    cookie = request.cookies.get(LOGIN_CSRF, "")
    if not cookie or not hmac.compare_digest(cookie.encode(), csrf_token.encode()):
        raise PageError(403, "forbidden")
    per_name = parse(service.settings.sign_in_limit)
    # An office signs in from one address: it gets ten names' worth of attempts.
    per_address = type(per_name)(per_name.amount * 10, per_name.multiples, per_name.namespace)
    address = request.client.host if request.client else "-"
    limiter: MovingWindowRateLimiter = request.app.state.sign_in_limiter
    if not (
        limiter.hit(per_name, "sign-in-name", name)
        and limiter.hit(per_address, "sign-in-address", address)
    ):
        return render(
            request, "login.html", None, 429, next=_safe_next(next), login_csrf=cookie,
            error="too_many",
        )  # fmt: skip
    lifetime = dt.timedelta(hours=service.settings.session_hours)
    session = await run_in_threadpool(sign_in, service.engine, name, password, lifetime)
    if session is None:
        return render(
            request, "login.html", None, 401, next=_safe_next(next), login_csrf=cookie,
            error="bad_login",
        )  # fmt: skip
    response = RedirectResponse(_safe_next(next), status_code=303)
    _set_cookie(request, response, COOKIE, session.token, int(lifetime.total_seconds()))
    response.delete_cookie(LOGIN_CSRF, path="/")
    return response


@router.post("/logout", response_class=RedirectResponse)
async def logout(request: Request, who: Posted) -> RedirectResponse:
    await run_in_threadpool(sign_out, who.service.engine, who.session.token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/lang/{lang}", response_class=RedirectResponse)
def switch_language(request: Request, lang: str, next: str | None = None) -> RedirectResponse:
    response = RedirectResponse(_safe_next(next), status_code=303)
    if lang in LANGS:
        _set_cookie(request, response, LANG_COOKIE, lang, 365 * 86400)
    return response


# --- today ---------------------------------------------------------------------------------


@router.get("/today", response_class=HTMLResponse)
def today(
    request: Request, who: Signed, owner: Annotated[str | None, Query(max_length=64)] = None
) -> HTMLResponse:
    service, principal = who.service, who.principal
    day = views.console_day(service)
    scope = views.owner_of(principal, owner)
    plan = views.plan_rows(service, principal, day, scope)
    alerts = _alerts(service, scope, None, "open", 500, None)
    owners = sorted({a["hr_owner"] for a in views.plan_rows(service, principal, day, None)})
    who.audit("read", "/today", [a["candidate_id"] for a in plan])
    return render(
        request, "today.html", who, day=day, plan=plan, alerts=alerts.rows, owner=scope,
        owners=owners,
    )  # fmt: skip


@router.post("/actions/{action_id}/done", response_class=RedirectResponse)
def action_done(request: Request, action_id: int, who: Posted) -> RedirectResponse:
    try:
        _done(who.service, who.principal, action_id, who.actor)
    except ApiError as exc:
        raise PageError(exc.status_code, "not_found") from None
    referer = request.headers.get("referer", "")
    path = referer.split(str(request.base_url).rstrip("/"), 1)[-1] if referer else "/today"
    return RedirectResponse(_safe_next(path), status_code=303)


# --- the risk list -------------------------------------------------------------------------


def _filters(request: Request) -> views.RiskFilters:
    q = request.query_params
    return views.RiskFilters(
        owner=q.get("owner") or None,
        department=q.get("department") or None,
        role_family=q.get("role_family") or None,
        tier=q.get("tier") if q.get("tier") in views.TIERS else None,
        alert=q.get("alert") if q.get("alert") in views.FLAGS else None,
        sort=str(q.get("sort")) if q.get("sort") in views.SORTS else "risk",
        descending=q.get("dir", "desc") != "asc",
    )


def _day(request: Request, service: Service) -> dt.date:
    value = request.query_params.get("as_of")
    if value:
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise PageError(400, "error") from None
    return views.console_day(service)


@router.get("/risk", response_class=HTMLResponse)
def risk(request: Request, who: Signed, page: Annotated[int, Query(ge=1)] = 1) -> HTMLResponse:
    service = who.service
    day = _day(request, service)
    filters = _filters(request)
    try:
        table = views.risk_table(service, who.principal, day, filters)
    except views.NoModel:
        return render(request, "message.html", who, 503, key="no_model")
    pages = max(1, math.ceil(len(table) / PAGE_SIZE))
    page = min(page, pages)
    rows = views.with_reasons(service, day, table.iloc[(page - 1) * PAGE_SIZE : page * PAGE_SIZE])
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
        choices=views.choices(service, who.principal, day),
        query=query,
        qs=lambda **kw: urlencode({**query, **{k: v for k, v in kw.items() if v is not None}}),
        flags=views.FLAGS,
        tiers=views.TIERS,
    )


def _export_frame(who: Viewer, request: Request) -> tuple[pd.DataFrame, dt.date]:
    day = _day(request, who.service)
    try:
        table = views.risk_table(who.service, who.principal, day, _filters(request))
    except views.NoModel:
        raise PageError(503, "no_model") from None
    rows = views.with_reasons(who.service, day, table)
    who.audit("export", request.url.path, rows["candidate_id"].astype(str).tolist())
    lang = who.lang
    text = "text_zh" if lang == "zh" else "text_en"
    out = pd.DataFrame(
        {
            t("rank", lang): rows["rank"],
            t("candidate", lang): rows["candidate_id"],
            t("owner", lang): rows["hr_owner"],
            t("department", lang): rows["department"],
            t("role_family", lang): rows["role_family"],
            t("risk_col", lang): rows["risk"].round(4),
            t("tier", lang): [t(x, lang) for x in rows["tier"]],
            t("change", lang): rows["change"].round(4),
            t("days_to_start", lang): rows["days_to_start"],
            t("alert", lang): ["; ".join(t(a, lang) for a in al) for al in rows["alerts"]],
            t("next_action", lang): [
                t(a, lang) if isinstance(a, str) else "" for a in rows["next_action"]
            ],
            t("reasons", lang): ["; ".join(r[text] for r in rs) for rs in rows["reasons"]],
        }
    )
    return out, day


@router.get("/risk.csv", response_class=Response)
def risk_csv(request: Request, who: Signed) -> Response:
    frame, day = _export_frame(who, request)
    body = frame.to_csv(index=False).encode("utf-8-sig")  # the BOM lets Excel read Chinese
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="keepwarm-risk-{day}.csv"'},
    )


@router.get("/risk.xlsx", response_class=Response)
def risk_xlsx(request: Request, who: Signed) -> Response:
    frame, day = _export_frame(who, request)
    buffer = io.BytesIO()
    frame.to_excel(buffer, index=False, sheet_name=str(day), engine="openpyxl")
    return Response(
        buffer.getvalue(),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="keepwarm-risk-{day}.xlsx"'},
    )


# --- one candidate -------------------------------------------------------------------------


@router.get("/candidates/{candidate_id}", response_class=HTMLResponse)
def candidate(request: Request, candidate_id: str, who: Signed) -> HTMLResponse:
    service = who.service
    day = _day(request, service)
    try:
        detail = _detail(service, who.principal, candidate_id, day)
    except ApiError:
        raise PageError(404, "not_found") from None
    # Asked for a past day, the page shows the candidate as known at its end, nothing later.
    # Without one it shows all the store knows (the latest daily run's score beside it).
    if "as_of" in request.query_params:
        detail = _as_known_on(detail, day)
    who.audit("read", "/candidates/{id}", [candidate_id], fields=DETAIL_FIELDS)
    lang = who.lang
    history = views.risk_history(service, candidate_id, day)
    stored = [(s.as_of, s.risk) for s in detail.score_history]
    series = {t("risk_col", lang): (list(history["as_of"]), list(history["risk"]))}
    if stored:
        label = "每日评分 (已存)" if lang == "zh" else "daily runs (stored)"
        series[label] = ([d for d, _ in stored], [r for _, r in stored])
    contributions = views.contributions(service, day, candidate_id)
    text = "text_zh" if lang == "zh" else "text_en"
    sends = views.content_sent(service, detail.timeline)
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
        questions=views.unanswered(detail.timeline),
        text_key=text,
        override=override_of(service, candidate_id),
        tiers=views.TIERS,
    )


@router.get("/candidates/{candidate_id}/explanation", response_class=HTMLResponse)
def explanation_page(request: Request, candidate_id: str, who: Signed) -> HTMLResponse:
    """The explanation a candidate may ask for: printable, in the page's language."""
    day = _day(request, who.service)
    try:
        out = _explanation(who.service, who.principal, candidate_id, day, who.lang)
    except ApiError:
        raise PageError(404, "not_found") from None
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
) -> RedirectResponse:
    try:
        if clear:
            _clear_override(who.service, who.principal, who.actor, candidate_id, HERE_OVERRIDE)
        elif tier in views.TIERS and len(reason.strip()) >= 3:
            _set_override(
                who.service, who.principal, who.actor, candidate_id, tier, reason, HERE_OVERRIDE
            )
        else:
            raise PageError(400, "override_invalid")
    except ApiError:
        raise PageError(404, "not_found") from None
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
    who.service.reads.flush()  # this process's latest reads first
    frame = audit.entries(who.service.engine, candidate or None, actor or None, day, limit=500)
    who.audit("read", "/audit", filtered=bool(candidate or actor or since))
    return render(
        request, "audit.html", who, rows=frame.to_dict("records"),
        filters={"candidate": candidate or "", "actor": actor or "", "since": since or ""},
    )  # fmt: skip


def _as_known_on(detail: Any, day: dt.date) -> Any:
    return detail.model_copy(
        update={
            "timeline": [e for e in detail.timeline if e.local_day <= day],
            "score_history": [s for s in detail.score_history if s.as_of <= day],
            "outcome": detail.outcome
            if detail.outcome is not None and detail.outcome.outcome_date <= day
            else None,
        }
    )


# --- the season review ---------------------------------------------------------------------


@router.get("/review", response_class=HTMLResponse)
def season_review(
    request: Request, who: Signed, season: Annotated[str | None, Query(max_length=32)] = None
) -> HTMLResponse:
    service, lang = who.service, who.lang
    seasons = review.season_names(service.engine)
    if not seasons:
        return render(request, "message.html", who, 200, key="no_model")
    season = season if season in seasons else seasons[-1]
    owner = who.principal.hr_owner if who.principal.role == "hr" else None
    frames = review.load_season(service.engine, season, owner=owner)
    funnel = review.funnel_by_month(frames)
    reasons = review.renege_reasons(frames)
    content = review.content_response(frames)
    alerts = review.alert_response(frames)
    holdout = review.holdout_effect(frames)
    quality, drift, psi, fairness = _model_quality(who)
    ctx: dict[str, Any] = {
        "season": season,
        "seasons": seasons,
        "funnel": funnel.to_dict("records"),
        "reasons": reasons.to_dict("records"),
        "content": content.to_dict("records"),
        "alerts": alerts.to_dict("records"),
        "holdout": holdout.to_dict("records"),
        "quality": quality,
        "drift": drift,
        "psi": psi,
        "fairness": fairness,
        "charts": {
            "funnel": charts.bars(
                funnel["month"],
                {t(k, lang): funnel[k] for k in ("offers", "accepted", "joined", "reneged")},
                t("funnel", lang),
            ),
            "reasons": charts.bars(
                [t(r, lang) for r in reasons["reason"]],
                {t("reneged", lang): reasons["reneged"]},
                t("renege_reasons", lang),
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
            )
            if len(alerts)
            else None,
            "holdout": charts.bars(
                [t(g, lang) for g in holdout["group"]],
                {t("renege_rate", lang): holdout["renege_rate"]},
                t("holdout_effect", lang),
                percent=True,
            ),
            "calibration": charts.lines(
                {
                    f"{q['season']} ({t(q['kind'], lang)})": (
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
    with service.engine.connect() as conn:
        ctx["overrides"] = overrides.override_review(
            conn, frames.candidates["candidate_id"].astype(str).tolist()
        ).to_dict("records")
    who.audit("read", "/review", frames.candidates["candidate_id"].astype(str).tolist())
    return render(request, "review.html", who, **ctx)


def _model_quality(
    who: Viewer,
) -> tuple[list[dict[str, Any]], list[dict], float, dict[str, Any]]:
    """Per-season AUC and calibration (held out at training, and as served), and drift."""
    service = who.service
    model = service.scorer.model
    if model is None:
        return [], [], math.nan, {}
    details = version_details(service.settings, model.version)
    evaluation = details.get("evaluation", {})
    quality = list(evaluation.get("seasons", []))
    quality += report.served_quality(service.engine, model.version)
    # Drift is the model's, so it is judged on everyone scored (an HR user sees only the
    # histogram, no candidate): one recruiter's few dozen would be mostly noise.
    try:
        scores = views.day_scores(service, views.console_day(service))
    except views.NoModel:
        return quality, [], math.nan, details.get("fairness", {})
    bands, psi = report.drift(evaluation, scores.risk, scores.day.meta["days_to_start"].to_numpy())
    return quality, bands.to_dict("records"), psi, details.get("fairness", {})


# --- the model -----------------------------------------------------------------------------


@router.get("/model", response_class=HTMLResponse)
def model_page(request: Request, who: Signed) -> HTMLResponse:
    service = who.service
    history = model_history(service.settings)
    loaded = service.scorer.model.version if service.scorer.model else None
    champion = next((m for m in history if "champion" in m["aliases"]), None)
    details = version_details(service.settings, champion["version"]) if champion else {}
    card = details.get("card") or {}
    return render(
        request, "model.html", who, history=history, champion=champion, details=details,
        loaded=loaded, card=card,
    )  # fmt: skip


# --- wiring --------------------------------------------------------------------------------


def add_console(app: FastAPI) -> None:
    """Mount the console's pages, its static files and plotly.js on the app."""
    app.include_router(router)
    # Each process counts its own sign-in attempts (as the API's rate limits do).
    app.state.sign_in_limiter = MovingWindowRateLimiter(MemoryStorage())
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.get("/assets/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        return FileResponse(
            charts.PLOTLY_JS,
            media_type="text/javascript",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    @app.exception_handler(SignInFirst)
    async def sign_in_first(request: Request, exc: SignInFirst) -> RedirectResponse:
        return RedirectResponse(f"/login?next={quote(exc.next_url, safe='')}", status_code=303)

    @app.exception_handler(PageError)
    async def page_error(request: Request, exc: PageError) -> HTMLResponse:
        return render(request, "message.html", None, exc.status, key=exc.key)

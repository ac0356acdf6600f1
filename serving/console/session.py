"""Signing in and out, and the language switch."""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from limits import parse
from starlette.concurrency import run_in_threadpool

from serving.console.render import render, safe_next, set_cookie
from serving.deps import LANG_COOKIE, SESSION_COOKIE, PageError, Posted
from serving.i18n import LANGS
from serving.state import AppState
from serving.users import sign_in, sign_out

LOGIN_CSRF = "kw_login_csrf"

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=RedirectResponse)
def home() -> RedirectResponse:
    return RedirectResponse("/today", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None) -> HTMLResponse:
    token = request.cookies.get(LOGIN_CSRF) or secrets.token_urlsafe(32)
    response = render(request, "login.html", None, next=safe_next(next), login_csrf=token)
    set_cookie(request, response, LOGIN_CSRF, token, 3600)
    return response


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    name: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/today",
) -> Response:
    state: AppState = request.app.state.service
    cookie = request.cookies.get(LOGIN_CSRF, "")
    if not cookie or not hmac.compare_digest(cookie.encode(), csrf_token.encode()):
        raise PageError(403, "forbidden")
    per_name = parse(state.settings.sign_in_limit)
    # An office signs in from one address: it gets ten names' worth of attempts.
    per_address = type(per_name)(per_name.amount * 10, per_name.multiples, per_name.namespace)
    address = request.client.host if request.client else "-"
    limiter = state.sign_in_limiter
    if not (
        limiter.hit(per_name, "sign-in-name", name)
        and limiter.hit(per_address, "sign-in-address", address)
    ):
        return render(
            request, "login.html", None, 429, next=safe_next(next), login_csrf=cookie,
            error="too_many",
        )  # fmt: skip
    lifetime = dt.timedelta(hours=state.settings.session_hours)
    # no store keeps a NUL: such a name is simply not a user's
    session = (
        None
        if "\x00" in name
        else await run_in_threadpool(sign_in, state.engine, name, password, lifetime)
    )
    if session is None:
        return render(
            request, "login.html", None, 401, next=safe_next(next), login_csrf=cookie,
            error="bad_login",
        )  # fmt: skip
    response = RedirectResponse(safe_next(next), status_code=303)
    set_cookie(request, response, SESSION_COOKIE, session.token, int(lifetime.total_seconds()))
    response.delete_cookie(LOGIN_CSRF, path="/")
    return response


@router.post("/logout", response_class=RedirectResponse)
async def logout(request: Request, who: Posted) -> RedirectResponse:
    await run_in_threadpool(sign_out, who.state.engine, who.session.token)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/lang/{lang}", response_class=RedirectResponse)
def switch_language(request: Request, lang: str, next: str | None = None) -> RedirectResponse:
    response = RedirectResponse(safe_next(next), status_code=303)
    if lang in LANGS:
        set_cookie(request, response, LANG_COOKIE, lang, 365 * 86400)
    return response

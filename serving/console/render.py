"""Rendering console pages: templates, number formats, cookies, security headers."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context

from serving.deps import Viewer, page_lang
from serving.i18n import t

HERE = Path(__file__).parent
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


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _fmt_pct(value: Any, digits: int = 1) -> str:
    return "–" if _missing(value) else f"{100 * float(value):.{digits}f}%"


def _fmt_pp(value: Any) -> str:
    return "–" if _missing(value) else f"{100 * float(value):+.1f}"


def _fmt_num(value: Any, digits: int = 1) -> str:
    return "–" if _missing(value) else f"{float(value):,.{digits}f}"


MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def when(value: Any, lang: str, time: bool = False) -> str:
    """A day (or an ISO timestamp) as a reader of ``lang`` writes it: 2024年12月2日 or
    2 Dec 2024, with the hour and minute when ``time``; "–" for none."""
    if _missing(value) or value == "":
        return "–"
    text = str(value)
    try:
        stamp = dt.datetime.fromisoformat(text[:19]) if len(text) > 10 else None
        day = stamp.date() if stamp else dt.date.fromisoformat(text[:10])
    except ValueError:
        return text
    clock = f" {stamp:%H:%M}" if time and stamp else ""
    if lang == "en":
        return f"{day.day} {MONTHS_EN[day.month - 1]} {day.year}{clock}"
    return f"{day.year}年{day.month}月{day.day}日{clock}"


@pass_context
def _fmt_date(ctx: Any, value: Any, time: bool = False) -> str:
    return when(value, ctx.get("lang", "zh"), time)


templates.env.filters.update(pct=_fmt_pct, pp=_fmt_pp, num=_fmt_num, date=_fmt_date)


def render(
    request: Request, name: str, who: Viewer | None, status: int = 200, **context: Any
) -> HTMLResponse:
    lang = who.lang if who else page_lang(request)
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


def set_cookie(request: Request, response: Response, name: str, value: str, age: int) -> None:
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


def safe_next(value: str | None) -> str:
    """Only a path on this site: never an absolute or scheme-relative address."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/today"
    return value

"""Rendering console pages: templates, number formats, cookies, security headers."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

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


templates.env.filters.update(pct=_fmt_pct, pp=_fmt_pp, num=_fmt_num)


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

"""Rendering console pages: templates, number formats, cookies, security headers."""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context

from serving.deps import Viewer, page_lang
from serving.i18n import date_words, segment_group, t
from training.predictor import shown_risk

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


def _fmt_risk(value: Any) -> str:
    """A risk as recruiters read it everywhere: a whole percentage, "> 90%", "< 1%"."""
    return "–" if _missing(value) else shown_risk(float(value))


def _fmt_pp(value: Any) -> str:
    return "–" if _missing(value) else f"{100 * float(value):+.1f}"


def _fmt_num(value: Any, digits: int = 1) -> str:
    return "–" if _missing(value) else f"{float(value):,.{digits}f}"


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
    return date_words(day, lang) + clock


@pass_context
def _fmt_date(ctx: Any, value: Any, time: bool = False) -> str:
    return when(value, ctx.get("lang", "zh"), time)


FLAG = re.compile(r"(\w+) impact ratio ([\d.]+) < ([\d.]+)")
# the model card's limit for a segment whose held-out calibration is off
# (``training.modelcard.build_card``)
SEGMENT_OFF = re.compile(
    r"On the held-out season, risk for (\w+) = (\S+) is off by ([+-][\d.]+%) "
    r"\(observed minus predicted, 95% ([+-][\d.]+%) to ([+-][\d.]+%)\)\."
)


@pass_context
def _fmt_flag(ctx: Any, value: Any) -> str:
    """A known limit of the model card in the reader's words: a bias-audit flag
    ("school_tier impact ratio 0.72 < 0.8", ``training.fairness``) or a segment whose
    risk is off on the held-out season ("risk for far_from_home = yes is off by ...")."""
    lang = ctx.get("lang", "zh")

    def flag(found: re.Match[str]) -> str:
        group, ratio, floor = found.groups()
        name = t(group, lang)
        if lang == "en":
            return f"{name}: lowest impact ratio {ratio}, under {floor}"
        return f"{name}：最低影响比 {ratio}，低于 {floor}"

    def segment(found: re.Match[str]) -> str:
        name, group, gap, low, high = found.groups()
        words = segment_group(name, group, lang)
        if lang == "en":
            return (
                f"On the held-out season, risk for the group “{words}” is off by {gap} "
                f"(observed minus predicted, 95% {low} to {high})."
            )
        return (
            f"留出赛季中，“{words}”这组候选人的风险偏差 {gap}"
            f"（实际减预测，95% 区间 {low} 至 {high}）。"
        )

    return SEGMENT_OFF.sub(segment, FLAG.sub(flag, str(value)))


SEASON = re.compile(r"^(\d{4})-(autumn|spring|summer|winter)$")
SEASON_WORDS = {"autumn": "秋招", "spring": "春招", "summer": "暑期", "winter": "冬季"}


def season_words(value: Any, lang: str) -> str:
    """A season code ("2024-autumn") as a recruiter says it: 2024 秋招 / autumn 2024."""
    found = SEASON.match(str(value))
    if not found:
        return "–" if _missing(value) else str(value)
    year, part = found.groups()
    return f"{part} {year}" if lang == "en" else f"{year} {SEASON_WORDS[part]}"


@pass_context
def _fmt_season(ctx: Any, value: Any) -> str:
    return season_words(value, ctx.get("lang", "zh"))


@pass_context
def _fmt_seasons(ctx: Any, values: Any) -> str:
    sep = ", " if ctx.get("lang") == "en" else "、"
    return sep.join(_fmt_season(ctx, v) for v in values or [])


templates.env.filters.update(
    pct=_fmt_pct,
    risk=_fmt_risk,
    pp=_fmt_pp,
    num=_fmt_num,
    date=_fmt_date,
    flag=_fmt_flag,
    season=_fmt_season,
    seasons=_fmt_seasons,
)


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

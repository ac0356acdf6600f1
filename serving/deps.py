"""Typed dependencies of the API and the console: the app's state, the caller, roles.

API callers send a key (``Authorization: Bearer`` or ``X-API-Key``); console users
a session cookie. Either way a route receives a ``Principal`` and an audit
``Actor``. Dependencies are coroutines: they are cheap, and a sync dependency
would cost a thread-pool round trip per request; only a key not seen lately goes
to the database, in the thread pool.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from serving.auth import Principal
from serving.errors import ApiError
from serving.i18n import LANGS, Lang
from serving.schemas import IdStr
from serving.state import AppState
from serving.users import Session, session_of
from store import audit

SESSION_COOKIE = "kw_session"
LANG_COOKIE = "kw_lang"


async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.service
    return state


StateDep = Annotated[AppState, Depends(get_state)]

bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <key>")
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="X-API-Key: <key>")


async def caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    api_key: Annotated[str | None, Depends(api_key_header)],
) -> Principal:
    """The key's owner, or 401; then the key's rate limit, or 429."""
    state: AppState = request.app.state.service
    key = credentials.credentials if credentials else api_key
    principal = None
    if key:
        found, principal = state.keys.cached(key)
        if not found:
            principal = await run_in_threadpool(state.keys.lookup, key)
    if principal is None:
        raise ApiError(
            401,
            "unauthorized",
            "send a valid API key: X-API-Key: <key>, or Authorization: Bearer <key>",
        )
    for item in state.limits:
        if not state.limiter.hit(item, "key", str(principal.key_id)):
            raise ApiError(429, "rate_limited", f"rate limit {item} exceeded for this key")
    request.state.principal = principal
    return principal


def origin(request: Request) -> str | None:
    """The client's address, as the audit log records it."""
    return request.client.host if request.client else None


async def actor(request: Request, principal: Annotated[Principal, Depends(caller)]) -> audit.Actor:
    """The caller as the audit log names them: key or user, role, and address."""
    return audit.Actor(principal.name, principal.role, origin(request))


def allow(*roles: str) -> Callable[[Principal], Awaitable[Principal]]:
    async def check(principal: Annotated[Principal, Depends(caller)]) -> Principal:
        if principal.role not in roles:
            raise ApiError(403, "forbidden", "this key's role may not do this")
        return principal

    return check


Writer = Annotated[Principal, Depends(allow("ats", "admin"))]
Scoring = Annotated[Principal, Depends(allow("ats", "hr", "lead", "admin"))]
Reader = Annotated[Principal, Depends(allow("hr", "lead", "admin"))]
Admin = Annotated[Principal, Depends(allow("admin"))]
Lead = Annotated[Principal, Depends(allow("lead", "admin"))]
Who = Annotated[audit.Actor, Depends(actor)]
# ?owner= on the lists: a recruiter (hr_owner), under the one id rule
OwnerQuery = Annotated[IdStr | None, Query(description="hr_owner")]


# --- the console: signed-in users -------------------------------------------------------


class SignInFirst(Exception):
    """No valid session: the console sends the browser to the sign-in page."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


class PageError(Exception):
    """A console page that cannot be shown: its status and the message's i18n key."""

    def __init__(self, status: int, key: str) -> None:
        self.status = status
        self.key = key


@dataclass(frozen=True)
class Viewer:
    """A signed-in console user: state, session, language, and where they connect from."""

    state: AppState
    session: Session
    lang: Lang
    origin: str | None = None

    @property
    def principal(self) -> Principal:
        return self.session.principal

    @property
    def actor(self) -> audit.Actor:
        return audit.Actor(self.principal.name, self.principal.role, self.origin)

    def audit(
        self, action: str, target: str, ids: list[str] | tuple[str, ...] = (), **detail: Any
    ) -> None:
        self.state.audit(self.actor, action, target, ids, detail or None)


def page_lang(request: Request) -> Lang:
    value = request.cookies.get(LANG_COOKIE)
    return value if value in LANGS else "zh"


async def viewer(request: Request) -> Viewer:
    state: AppState = request.app.state.service
    session = await run_in_threadpool(session_of, state.engine, request.cookies.get(SESSION_COOKIE))
    if session is None:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInFirst(here)
    return Viewer(state, session, page_lang(request), origin(request))


Signed = Annotated[Viewer, Depends(viewer)]


async def checked(request: Request, who: Signed) -> Viewer:
    """A signed-in user's form, carrying their session's CSRF token, or 403."""
    form = await request.form()
    sent = str(form.get("csrf_token", ""))
    if not hmac.compare_digest(sent.encode(), who.session.csrf.encode()):
        raise PageError(403, "forbidden")
    return who


Posted = Annotated[Viewer, Depends(checked)]

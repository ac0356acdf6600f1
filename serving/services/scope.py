"""What a caller may see, and which days may be asked for: one function for each fact.

- ``owner_scope``: the recruiter a list is narrowed to (an HR caller: their own;
  asking for another recruiter's is refused, in the API and the console alike).
- ``visible``: a candidate the caller may see, else ``NotFound`` (exactly as for
  an id that does not exist).
- ``check_day``: a day between the data's first day and today, else ``Invalid``;
  a day outside costs a whole build and shows nothing true.
"""

from __future__ import annotations

import datetime as dt
import threading
import time

from sqlalchemy import Connection, Engine, func, select

from outreach.daily import candidate_owners
from serving.auth import Principal
from serving.services.errors import Forbidden, Invalid, NotFound
from store.schema import Event


def owner_scope(principal: Principal, asked: str | None) -> str | None:
    """The ``hr_owner`` a list is narrowed to: an HR caller's own; others' choice (or all).

    Raises ``Forbidden`` when an HR caller asks for another recruiter's list.
    """
    asked = asked or None
    if principal.role != "hr":
        return asked
    if asked not in (None, principal.hr_owner):
        raise Forbidden("an hr user sees their own candidates only", "owner")
    return principal.hr_owner


def visible(conn: Connection, principal: Principal, candidate_id: str) -> str:
    """The candidate's ``hr_owner`` if the caller may see them; ``NotFound`` otherwise."""
    owner = candidate_owners(conn, [candidate_id]).get(candidate_id)
    if owner is None or not principal.sees_owner(owner):
        raise NotFound("no such candidate")
    return owner


class DataRange:
    """The store's first event day, kept off the request path.

    Looked up once on first use; after that ``refresh`` (called by the service's
    background sync, at most every ``ttl`` seconds or when ``expire`` was called)
    keeps it current, so no request waits on a scan of the events.
    """

    def __init__(self, engine: Engine, ttl: float = 60.0) -> None:
        self.engine = engine
        self.ttl = ttl
        self._at = -float("inf")
        self._first: dt.date | None = None
        self._lock = threading.Lock()

    def first_day(self) -> dt.date | None:
        if self._at == -float("inf"):
            self.refresh(force=True)
        return self._first

    def refresh(self, force: bool = False) -> None:
        with self._lock:
            if not force and time.monotonic() - self._at < self.ttl:
                return
            with self.engine.connect() as conn:
                first = conn.execute(select(func.min(Event.local_day))).scalar()
            self._first = dt.date.fromisoformat(str(first)) if first is not None else None
            self._at = time.monotonic()

    def expire(self) -> None:
        """Look again at the next refresh (events were written)."""
        self._at = min(self._at, time.monotonic() - self.ttl)


def check_day(day: dt.date, first: dt.date | None, today: dt.date, field: str = "as_of") -> dt.date:
    """``day`` if it lies between the data's first day and today; ``Invalid`` otherwise."""
    start = first or today
    if not start <= day <= today:
        raise Invalid(
            f"must be a day from {start.isoformat()} (the data's first day) "
            f"to {today.isoformat()} (today)",
            field,
        )
    return day

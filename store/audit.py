"""The audit log: every read and change of a candidate's data, who did it, when, from where.

``record`` appends one entry; the store's triggers refuse updates and early deletes, so
the application cannot rewrite its own history (migration 0007). Entries carry ids,
the endpoint or command, counts and field names: never names, notes or message text.
"""

from __future__ import annotations

import datetime as dt
import getpass
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, String, cast, delete, insert, or_, select

from store.erasure import id_hash
from store.schema import AuditEntry

log = logging.getLogger(__name__)

# EU AI Act art. 19 and 26(6): automatically generated logs kept at least six months.
MIN_KEEP_DAYS = 183
# A list read names at most this many candidates; the count says how many there were.
MAX_SUBJECTS = 10_000


@dataclass(frozen=True)
class Actor:
    """Who acts: ``key:3``, ``user:wang``, ``cli:<os user>`` or ``flow:<name>``."""

    name: str
    role: str | None = None
    origin: str | None = None

    @classmethod
    def cli(cls) -> Actor:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):  # no passwd entry (some containers)
            user = "unknown"
        return cls(f"cli:{user}", "operator", "cli")

    @classmethod
    def flow(cls, name: str) -> Actor:
        return cls(f"flow:{name}", "system", "flow")


class ReadLog:
    """Read entries of a serving process, written in batches by a background thread.

    One insert per read would make every API read a write transaction: on SQLite,
    several workers then queue on its one writer lock (measured: single-candidate
    scoring fell from 2,365 to 776 requests/s, p99 7 to 79 ms). Reads are instead
    queued here and written every ``every`` seconds, in one transaction; a process
    killed in between loses at most that window's read entries. Changes never go
    through here: they are recorded in their own transaction.
    """

    def __init__(self, engine: Engine, every: float = 0.25) -> None:
        self.engine = engine
        self.every = every
        self._rows: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="audit-reads", daemon=True)
        self._thread.start()

    def add(
        self,
        actor: Actor,
        action: str,
        target: str,
        candidates: Iterable[str] = (),
        detail: dict[str, Any] | None = None,
    ) -> None:
        with self._lock:
            self._rows.append(_row(actor, action, target, candidates, detail))

    def flush(self) -> int:
        """Write what is queued now; returns how many entries."""
        with self._lock:
            rows, self._rows = self._rows, []
        if rows:
            try:
                with self.engine.begin() as conn:
                    conn.execute(insert(AuditEntry), rows)
            except Exception:
                with self._lock:  # keep them for the next try (the store may be back)
                    self._rows[:0] = rows
                raise
        return len(rows)

    def close(self) -> None:
        self._stop = True
        self._wake.set()
        self._thread.join(timeout=10)
        self.flush()

    def _run(self) -> None:
        while not self._stop:
            self._wake.wait(self.every)
            try:
                self.flush()
            except Exception:
                log.warning("writing audit entries failed; they are kept for the next try")


def _row(
    actor: Actor,
    action: str,
    target: str,
    candidates: Iterable[str],
    detail: dict[str, Any] | None,
) -> dict[str, Any]:
    ids = list(dict.fromkeys(candidates))
    return {
        "at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
        "actor": actor.name[:128],
        "role": actor.role,
        "action": action,
        "target": target[:200],
        "candidate_id": ids[0] if len(ids) == 1 else None,
        "subjects": ids[:MAX_SUBJECTS] if len(ids) > 1 else None,
        "origin": (actor.origin or "")[:64] or None,
        "detail": ({"count": len(ids)} if len(ids) > 1 else {}) | (detail or {}) or None,
    }


def record(
    conn: Connection | Engine,
    actor: Actor,
    action: str,
    target: str,
    candidates: Iterable[str] = (),
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one entry now; on an Engine, in a transaction of its own."""
    row = _row(actor, action, target, candidates, detail)
    if isinstance(conn, Engine):
        with conn.begin() as c:
            c.execute(insert(AuditEntry).values(**row))
    else:
        conn.execute(insert(AuditEntry).values(**row))


def entries(
    engine: Engine,
    candidate: str | None = None,
    actor: str | None = None,
    since: dt.date | None = None,
    action: str | None = None,
    limit: int = 1000,
) -> pd.DataFrame:
    """Entries, newest first (by time). ``candidate`` also finds list reads naming them, and an
    erasure (which keeps only the id's hash)."""
    # by time, not id: queued reads are inserted after changes made later than them
    query = (
        select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.audit_id.desc()).limit(limit)
    )
    if candidate is not None:
        query = query.where(
            or_(
                AuditEntry.candidate_id == candidate,
                cast(AuditEntry.subjects, String).like(f'%"{_like(candidate)}"%', escape="\\"),
                cast(AuditEntry.detail, String).like(f'%"{id_hash(candidate)}"%'),
            )
        )
    if actor is not None:
        query = query.where(or_(AuditEntry.actor == actor, AuditEntry.actor.like(f"%:{actor}")))
    if since is not None:
        query = query.where(AuditEntry.at >= dt.datetime.combine(since, dt.time()))
    if action is not None:
        query = query.where(AuditEntry.action == action)
    columns = [c.name for c in AuditEntry.__table__.columns]
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return pd.DataFrame([tuple(r) for r in rows], columns=columns)


def purge(engine: Engine, keep_days: int, now: dt.datetime | None = None) -> int:
    """Delete entries older than ``keep_days`` (never under MIN_KEEP_DAYS); returns how many."""
    keep_days = max(keep_days, MIN_KEEP_DAYS)
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        result = conn.execute(
            delete(AuditEntry).where(AuditEntry.at < now - dt.timedelta(days=keep_days))
        )
    return int(result.rowcount or 0)


def _like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")

"""API keys: created by ``keepwarm keys create``, stored as SHA-256, checked on every request.

A key is 32 random bytes (``secrets.token_urlsafe``), so a fast hash is the
right tool: unlike a password it cannot be guessed, and hashing must not cost
milliseconds on every request. Lookups go through a short-lived cache so that
a revoked key stops working within ``ttl`` seconds without a query per request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Engine, insert, select, update

from store.errors import KeepwarmError
from store.schema import ApiKey

# scheduler: an outside system that runs the day (``POST /v1/runs/daily``) and reads nothing
Role = Literal["ats", "hr", "lead", "admin", "scheduler"]
ROLES: tuple[Role, ...] = ("ats", "hr", "lead", "admin", "scheduler")
PREFIX = "kw_"


@dataclass(frozen=True)
class Principal:
    """Who is calling (an API key or a console user), their role, and (for HR) their recruiter."""

    key_id: int | None
    role: Role
    hr_owner: str | None
    user: str | None = None  # a console user's name; None for an API key

    @property
    def name(self) -> str:
        return f"user:{self.user}" if self.user else f"key:{self.key_id}"

    def sees_owner(self, owner: str | None) -> bool:
        """Whether this caller may see a candidate owned by ``owner``."""
        if self.role == "hr":
            return owner is not None and owner == self.hr_owner
        return self.role in ("lead", "admin", "ats")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class NewKey:
    key_id: int
    key: str
    role: Role
    hr_owner: str | None


def create_key(
    engine: Engine, role: str, hr_owner: str | None = None, label: str | None = None
) -> NewKey:
    """Make a key; only its hash is stored, so this is the one time the key is seen."""
    if role not in ROLES:
        raise KeepwarmError(f"--role must be one of {', '.join(ROLES)}")
    if role == "hr" and not hr_owner:
        raise KeepwarmError("an hr key needs --owner: the recruiter whose candidates it sees")
    if role != "hr" and hr_owner:
        raise KeepwarmError(
            "--owner binds hr keys only; ats, lead and admin keys see everyone, "
            "scheduler keys no one"
        )
    key = PREFIX + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        key_id = conn.execute(
            insert(ApiKey)
            .values(
                prefix=key[:10],
                key_hash=hash_key(key),
                role=role,
                hr_owner=hr_owner,
                label=label,
            )
            .returning(ApiKey.key_id)
        ).scalar_one()
    return NewKey(int(key_id), key, role, hr_owner)


def revoke_key(engine: Engine, key_id: int) -> bool:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        done = conn.execute(
            update(ApiKey)
            .where(ApiKey.key_id == key_id, ApiKey.revoked_at.is_(None))
            .values(revoked_at=now)
        )
    return bool(done.rowcount)


def list_keys(engine: Engine) -> list[dict[str, object]]:
    with engine.connect() as conn:
        rows = conn.execute(select(ApiKey).order_by(ApiKey.key_id)).all()
    return [
        {
            "key_id": r.key_id,
            "prefix": r.prefix,
            "role": r.role,
            "hr_owner": r.hr_owner,
            "label": r.label,
            "created_at": r.created_at.isoformat(timespec="seconds"),
            "revoked": r.revoked_at is not None,
        }
        for r in rows
    ]


class KeyCache:
    """Key hash -> Principal (or None for unknown/revoked), each answer kept ``ttl`` seconds."""

    def __init__(self, engine: Engine, ttl: float = 10.0) -> None:
        self.engine = engine
        self.ttl = ttl
        self._seen: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

    def cached(self, key: str) -> tuple[bool, Principal | None]:
        """(True, answer) when a fresh answer is at hand, without touching the database."""
        hit = self._seen.get(hash_key(key))
        if hit is not None and time.monotonic() - hit[0] < self.ttl:
            return True, hit[1]
        return False, None

    def lookup(self, key: str) -> Principal | None:
        hit, known = self.cached(key)
        if hit:
            return known
        digest = hash_key(key)
        now = time.monotonic()
        with self.engine.connect() as conn:
            row = conn.execute(
                select(ApiKey.key_id, ApiKey.key_hash, ApiKey.role, ApiKey.hr_owner).where(
                    ApiKey.key_hash == digest, ApiKey.revoked_at.is_(None)
                )
            ).first()
        found = None
        # The index found the row; compare the digests in constant time all the same.
        if row is not None and hmac.compare_digest(row.key_hash, digest):
            found = Principal(int(row.key_id), row.role, row.hr_owner)
        with self._lock:
            if len(self._seen) > 10_000:  # unknown keys must not grow it without bound
                self._seen.clear()
            self._seen[digest] = (now, found)
        return found

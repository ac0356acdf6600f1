"""Console users: ``keepwarm users create``, Argon2 password hashes, and sign-in sessions.

A password can be guessed, so it is hashed with Argon2 (pwdlib's recommended
hasher), which is slow on purpose. A session is a random token in an HttpOnly
cookie; the store keeps only its SHA-256 (like API keys), with an expiry and
the CSRF token every form of that session must carry back.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from pwdlib import PasswordHash
from sqlalchemy import Engine, delete, insert, select, update

from serving.auth import Principal
from store.errors import KeepwarmError
from store.schema import ConsoleSession, ConsoleUser

USER_ROLES = ("hr", "lead", "admin")
MIN_PASSWORD = 10
_hasher = PasswordHash.recommended()
# Verified against when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY = _hasher.hash("keepwarm-no-such-user")


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise KeepwarmError(f"a password needs at least {MIN_PASSWORD} characters")


def create_user(
    engine: Engine, name: str, role: str, password: str, hr_owner: str | None = None
) -> int:
    """Add a console user; the same role rules as API keys (an hr user needs its recruiter)."""
    name = name.strip()
    if not name or len(name) > 64 or any(c.isspace() for c in name):
        raise KeepwarmError("a user name is 1 to 64 characters without spaces")
    if role not in USER_ROLES:
        raise KeepwarmError(f"--role must be one of {', '.join(USER_ROLES)}")
    if role == "hr" and not hr_owner:
        raise KeepwarmError("an hr user needs --owner: the recruiter whose candidates they see")
    if role != "hr" and hr_owner:
        raise KeepwarmError("--owner binds hr users only; lead and admin users see everyone")
    check_password(password)
    with engine.begin() as conn:
        if conn.execute(select(ConsoleUser.user_id).where(ConsoleUser.name == name)).first():
            raise KeepwarmError(f"user {name} exists; `keepwarm users password` changes it")
        user_id = conn.execute(
            insert(ConsoleUser)
            .values(name=name, role=role, hr_owner=hr_owner, password_hash=_hasher.hash(password))
            .returning(ConsoleUser.user_id)
        ).scalar_one()
    return int(user_id)


def _change_user(engine: Engine, name: str, **values: object) -> None:
    """Update a user and end all their sessions, in one transaction."""
    with engine.begin() as conn:
        user_id = conn.execute(select(ConsoleUser.user_id).where(ConsoleUser.name == name)).scalar()
        if user_id is None:
            raise KeepwarmError(f"no user {name}")
        conn.execute(update(ConsoleUser).where(ConsoleUser.user_id == user_id).values(**values))
        conn.execute(delete(ConsoleSession).where(ConsoleSession.user_id == user_id))


def set_password(engine: Engine, name: str, password: str) -> None:
    """A new password; every session of the user ends."""
    check_password(password)
    _change_user(engine, name, password_hash=_hasher.hash(password))


def disable_user(engine: Engine, name: str) -> None:
    """The user can no longer sign in, and is signed out everywhere now."""
    _change_user(engine, name, disabled_at=_utcnow())


def list_users(engine: Engine) -> list[dict[str, object]]:
    with engine.connect() as conn:
        rows = conn.execute(select(ConsoleUser).order_by(ConsoleUser.name)).all()
    return [
        {
            "name": r.name,
            "role": r.role,
            "hr_owner": r.hr_owner,
            "created_at": r.created_at.isoformat(timespec="seconds"),
            "disabled": r.disabled_at is not None,
        }
        for r in rows
    ]


@dataclass(frozen=True)
class Session:
    token: str  # goes into the cookie; the store has only its hash
    csrf: str
    principal: Principal


def _principal(row: Any) -> Principal:
    return Principal(key_id=None, role=row.role, hr_owner=row.hr_owner, user=row.name)


def sign_in(engine: Engine, name: str, password: str, lifetime: dt.timedelta) -> Session | None:
    """A new session for the right password of an enabled user, else None."""
    with engine.connect() as conn:
        row = conn.execute(
            select(ConsoleUser).where(ConsoleUser.name == name, ConsoleUser.disabled_at.is_(None))
        ).first()
    if row is None:
        _hasher.verify(password, _DUMMY)
        return None
    valid, new_hash = _hasher.verify_and_update(password, row.password_hash)
    if not valid:
        return None
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = _utcnow()
    with engine.begin() as conn:
        if new_hash is not None:  # the recommended parameters moved on: re-hash
            conn.execute(
                update(ConsoleUser)
                .where(ConsoleUser.user_id == row.user_id)
                .values(password_hash=new_hash)
            )
        conn.execute(delete(ConsoleSession).where(ConsoleSession.expires_at < now))
        conn.execute(
            insert(ConsoleSession).values(
                token_hash=_token_hash(token),
                user_id=row.user_id,
                csrf_token=csrf,
                created_at=now,
                expires_at=now + lifetime,
            )
        )
    return Session(token, csrf, _principal(row))


def session_of(engine: Engine, token: str | None) -> Session | None:
    """The live session behind a cookie, or None (unknown, expired, or user disabled)."""
    if not token:
        return None
    digest = _token_hash(token)
    with engine.connect() as conn:
        row = conn.execute(
            select(
                ConsoleSession.token_hash,
                ConsoleSession.csrf_token,
                ConsoleUser.name,
                ConsoleUser.role,
                ConsoleUser.hr_owner,
            )
            .join(ConsoleUser, ConsoleUser.user_id == ConsoleSession.user_id)
            .where(
                ConsoleSession.token_hash == digest,
                ConsoleSession.expires_at > _utcnow(),
                ConsoleUser.disabled_at.is_(None),
            )
        ).first()
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    return Session(token, row.csrf_token, _principal(row))


def sign_out(engine: Engine, token: str | None) -> None:
    if token:
        with engine.begin() as conn:
            conn.execute(
                delete(ConsoleSession).where(ConsoleSession.token_hash == _token_hash(token))
            )

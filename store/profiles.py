"""Profile history: every version of the profile fields features read, with when it was known.

The ATS overwrites a profile in place (a new start date, another work city); read
as it stands now, a change made after a candidate reneged would leak into that
candidate's training rows and into any back-test. So each write to ``candidates``
(a bundle, an API item, a Greenhouse offer update) appends the changed profiles to
``profile_history`` (``store.schema.ProfileVersion``), and "as of day D" reads the
version known at the end of D (``as_of_profiles``).

Versions are dated by knowledge, not by what the value says: a candidate's first
version holds from ``store.contract.EARLIEST`` (it is all anyone knew of them), a
change from the day it was written, in ``KEEPWARM_TIMEZONE``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import Connection, Select, insert, select

from config import get_settings
from store.contract import EARLIEST
from store.db import chunks
from store.schema import Candidate, ProfileVersion

# The profile fields a feature reads (features.build.CANDIDATE_COLUMNS without the id).
TRACKED = (
    "school_tier",
    "major",
    "degree",
    "role_family",
    "work_city",
    "home_city",
    "start_date",
)


def today_local() -> dt.date:
    """The day a change written now is known from: today in ``KEEPWARM_TIMEZONE``."""
    return dt.datetime.now(ZoneInfo(get_settings().timezone)).date()


def _text(value: object) -> str | None:
    """A value as comparable text: the store's and a frame's types differ slightly."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, (dt.date, pd.Timestamp)):
        return value.isoformat()[:10]
    return str(value).removesuffix(".0")


def _comparable(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[list(TRACKED)].astype(object).map(_text)


def latest_versions(conn: Connection, ids: Sequence[str]) -> pd.DataFrame:
    """The newest stored version of each of ``ids`` (those with none are absent)."""
    cols = [ProfileVersion.candidate_id, *(getattr(ProfileVersion, c) for c in TRACKED)]
    parts = []
    for part in chunks(list(ids)):
        rows = conn.execute(
            select(*cols, ProfileVersion.known_from, ProfileVersion.version_id).where(
                ProfileVersion.candidate_id.in_(part)
            )
        ).all()
        parts.append(
            pd.DataFrame(rows, columns=["candidate_id", *TRACKED, "known_from", "version_id"])
        )
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if frame.empty:
        return pd.DataFrame(columns=["candidate_id", *TRACKED])
    frame = frame.sort_values(["candidate_id", "known_from", "version_id"])
    return frame.groupby("candidate_id", as_index=False).tail(1)


def record_versions(
    conn: Connection,
    ids: Sequence[str],
    batch_id: int | None = None,
    known_from: dt.date | None = None,
) -> int:
    """After a write to ``candidates``: append the profiles of ``ids`` that changed.

    A candidate with no version yet gets its first one (from ``EARLIEST``); one whose
    tracked fields differ from its newest version gets a new one from ``known_from``
    (default: today in ``KEEPWARM_TIMEZONE``). Runs in the caller's transaction.
    Returns the versions written.
    """
    ids = sorted(set(ids))
    if not ids:
        return 0
    current_parts = []
    for part in chunks(ids):
        rows = conn.execute(
            select(Candidate.candidate_id, *(getattr(Candidate, c) for c in TRACKED)).where(
                Candidate.candidate_id.in_(part)
            )
        ).all()
        current_parts.append(pd.DataFrame(rows, columns=["candidate_id", *TRACKED]))
    current = pd.concat(current_parts, ignore_index=True)
    if current.empty:
        return 0
    old = latest_versions(conn, current["candidate_id"].tolist()).set_index("candidate_id")
    now = _comparable(current.set_index("candidate_id"))
    before = _comparable(old).reindex(now.index)
    is_new = ~now.index.isin(old.index)
    differs = (now.fillna("\0") != before.fillna("\0")).any(axis=1).to_numpy()
    day = known_from or today_local()
    versions: list[dict[str, Any]] = []
    for (cid, values), new, change in zip(
        current.set_index("candidate_id").iterrows(), is_new, differs, strict=True
    ):
        if not (new or change):
            continue
        row = {c: (None if pd.isna(values[c]) else values[c]) for c in TRACKED}
        versions.append(
            {
                "candidate_id": cid,
                "known_from": EARLIEST if new else day,
                "batch_id": batch_id,
                **row,
            }
        )
    if versions:
        conn.execute(insert(ProfileVersion), versions)
    return len(versions)


def as_of_profiles(conn: Connection, candidates: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """``candidates`` (one row each, current values) with the tracked fields as known at ``as_of``.

    The version in force is the newest with ``known_from <= as_of``; a candidate without
    history keeps its current values. Other columns (owner, department) stay current.
    """
    if candidates.empty:
        return candidates
    ids = candidates["candidate_id"].astype(str).tolist()
    versions = history(conn, ids, until=as_of)
    if versions.empty:
        return candidates
    newest = versions.groupby("candidate_id", as_index=False).tail(1).set_index("candidate_id")
    out = candidates.copy()
    has = out["candidate_id"].isin(newest.index).to_numpy()
    for col in TRACKED:
        if col in out.columns:
            picked = out["candidate_id"].map(newest[col])
            out[col] = out[col].astype(object).where(~has, picked.astype(object))
    return out


def history(
    conn: Connection,
    ids: Sequence[str] | Select[Any] | None = None,
    until: dt.date | None = None,
) -> pd.DataFrame:
    """Versions (``candidate_id``, ``known_from``, tracked fields), oldest first per candidate.

    ``ids``: a list of candidates, or a query selecting them (one round trip, no list).
    """
    cols = [
        ProfileVersion.candidate_id,
        ProfileVersion.known_from,
        *(getattr(ProfileVersion, c) for c in TRACKED),
    ]
    query = select(*cols, ProfileVersion.version_id)
    if until is not None:
        query = query.where(ProfileVersion.known_from <= until)
    names = ["candidate_id", "known_from", *TRACKED, "version_id"]
    if ids is None:
        frame = pd.DataFrame(conn.execute(query).all(), columns=names)
    elif isinstance(ids, Select):
        frame = pd.DataFrame(
            conn.execute(query.where(ProfileVersion.candidate_id.in_(ids))).all(), columns=names
        )
    else:
        parts = [
            pd.DataFrame(
                conn.execute(query.where(ProfileVersion.candidate_id.in_(part))).all(),
                columns=names,
            )
            for part in chunks(list(ids))
        ]
        frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=names)
    frame["known_from"] = pd.to_datetime(frame["known_from"]).dt.date
    frame = frame.sort_values(["candidate_id", "known_from", "version_id"], kind="stable")
    return frame.drop(columns="version_id").reset_index(drop=True)

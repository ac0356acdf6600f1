"""The day's features, rebuilt only for candidates whose events changed.

``build_features`` computes, for every candidate, running totals per day with
events (``features.build.daily_table``) and then looks them up at each spine
row's ``as_of`` and 7, 14 and 30 days before. A running-total row of day d
depends only on the candidate's events up to d, so the rows stay true on every
later day: ``FeatureState`` keeps them in one DuckDB table between days and,
each day, rebuilds them only for candidates whose events differ from last time
(new, late or erased ones). The point-in-time lookup and the profile columns are
recomputed for every spine row each day (they move with the day itself), so the
result equals ``build_features`` on the same events row for row
(``tests/features/test_incremental.py``).

A candidate's events are compared by count: the store and the simulator only add
or erase events. An event corrected in place (same count) needs ``forget``.

A day's run (``serving.services.daily.day_inputs``) need not read a changed
candidate's whole history: when the kept rows hold their events up to the last
day run (``day``) and only days after it got new events, ``append`` adds the new
days' rows from the last kept row and those events alone (``features.build.
append_sql``), where that gives what a rebuild would: no reply (its delay is
measured against every earlier HR message), no scored interview (a sum in floating
point), and no HR message before a kept reply (that reply's delay would change).
The others are rebuilt by ``update``.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable

import pandas as pd

from features.build import (
    EVENT_COLUMNS,
    append_sql,
    build_features,
    daily_sql,
    duckdb_connection,
    empty_features,
    event_frame,
    finish_features,
    point_frame,
)


class FeatureState:
    """Running totals per candidate and day, kept between days; ``update`` then ``features``.

    Thread-safe (one lock around the DuckDB connection): the service's daily run and
    a replay's simulated days use it the same way.
    """

    def __init__(self) -> None:
        self._con = duckdb_connection()
        self._lock = threading.Lock()
        self._seen: dict[str, int] = {}
        self._replied: dict[str, pd.Timestamp] = {}  # a kept candidate's latest reply
        self._has_table = False
        self.rebuilt = 0  # candidates rebuilt by the last ``update``
        # the day up to which every kept candidate's rows hold all their known events
        # (``settle``; an ``update`` without one leaves it unknown)
        self.day: dt.date | None = None

    def close(self) -> None:
        self._con.close()

    def forget(self, candidate_ids: Iterable[str]) -> None:
        """Rebuild these candidates at the next ``update`` whatever their event count."""
        with self._lock:
            for c in candidate_ids:
                self._seen.pop(str(c), None)
                self._replied.pop(str(c), None)

    def stale(self, counts: dict[str, int]) -> list[str]:
        """Candidates whose event count differs from ``counts`` (absent there: erased)."""
        with self._lock:
            gone = [c for c in self._seen if c not in counts and self._seen[c]]
            return sorted({*gone, *(c for c, n in counts.items() if self._seen.get(c) != n)})

    def update(
        self,
        events: pd.DataFrame,
        content: pd.DataFrame | None,
        candidate_ids: Iterable[str] | None = None,
    ) -> list[str]:
        """Bring the kept rows up to ``events``; returns the candidates rebuilt.

        ``events``: the candidates' whole event history as ``build_features`` takes it.
        ``candidate_ids``: the candidates ``events`` is complete for (default: those in
        it); a listed candidate without events loses its rows.
        """
        counts = events["candidate_id"].astype(str).value_counts().to_dict()
        ids = set(counts) if candidate_ids is None else {str(c) for c in candidate_ids}
        with self._lock:
            self.day = None
            changed = sorted(c for c in ids if self._seen.get(c) != counts.get(c, 0))
            if changed:
                part = events[events["candidate_id"].astype(str).isin(set(changed))]
                replies = part[part["type"] == "message_replied"]
                latest = replies.groupby(replies["candidate_id"].astype(str))["ts_utc"].max()
                for c in changed:
                    self._replied.pop(c, None)
                self._replied.update(latest.to_dict())
                self._con.register("ev", event_frame(part, content))
                self._con.register("changed", pd.DataFrame({"candidate_id": changed}))
                try:
                    if self._has_table:
                        self._con.execute(
                            "DELETE FROM daily WHERE candidate_id IN "
                            "(SELECT candidate_id FROM changed)"
                        )
                    if len(part):  # erased candidates only lose their rows
                        # in DuckDB throughout: the kept rows keep the types build_features has
                        self._con.execute(f"CREATE OR REPLACE TEMP TABLE fresh AS {daily_sql()}")
                        if self._has_table:
                            self._con.execute("INSERT INTO daily SELECT * FROM fresh")
                        else:
                            self._con.execute("CREATE TEMP TABLE daily AS SELECT * FROM fresh")
                            self._has_table = True
                finally:
                    self._con.unregister("ev")
                    self._con.unregister("changed")
                for c in changed:
                    self._seen[c] = counts.get(c, 0)
            self.rebuilt = len(changed)
        return changed

    def settle(self, as_of: dt.date) -> None:
        """Every kept candidate's rows now hold all their events known by the end of
        ``as_of`` (a day's run brought everyone active up to date and dropped the rest)."""
        with self._lock:
            self.day = as_of

    def appendable(self, stale: Iterable[str], before: dict[str, int], as_of: dt.date) -> list[str]:
        """Of the ``stale`` candidates, those whose rows ``append`` may bring up to ``as_of``:
        kept up to ``day`` (before ``as_of``), with as many events known by the end of
        ``day`` as then (``before``: none late, none erased), so that their new events are
        those of the days after ``day``."""
        with self._lock:
            if self.day is None or self.day >= as_of:
                return []
            return [c for c in stale if self._seen.get(c) and before.get(c, 0) == self._seen[c]]

    def append(
        self, new: pd.DataFrame, content: pd.DataFrame | None, counts: dict[str, int]
    ) -> list[str]:
        """Add the rows of the days in ``new`` where that equals a rebuild; returns the
        candidates brought up to date (the others need ``update`` with their whole history).

        ``new``: the events of ``appendable`` candidates dated after ``day`` (as
        ``build_features`` takes them); ``counts``: every candidate's known events now.
        A candidate qualifies when ``new`` holds all their events not yet seen, no reply,
        no scored interview, and no HR message at or before their latest kept reply.
        """
        if new.empty:
            return []
        with self._lock:
            if self.day is None:
                return []
            cands = new["candidate_id"].astype(str)
            kind = new["type"]
            blocked = kind.eq("message_replied") | (
                kind.eq("interview_completed") & new["value"].notna()
            )
            replied = pd.to_datetime(cands.map(self._replied))
            blocked |= kind.eq("message_sent") & replied.notna() & (new["ts_utc"] <= replied)
            blocked |= pd.to_datetime(new["local_day"]).dt.date <= self.day
            grown = cands.value_counts()
            ok = sorted(
                c
                for c in set(cands) - set(cands[blocked])
                if self._seen.get(c) and self._seen[c] + int(grown[c]) == counts.get(c)
            )
            if ok:
                part = new[cands.isin(set(ok))]
                days = part.groupby(part["candidate_id"].astype(str))["local_day"].nunique()
                # most candidates have one new day (the day after the last run): no windows
                for one_day in (True, False):
                    some = days.index[(days == 1) == one_day]
                    if len(some):
                        self._append(
                            part[part["candidate_id"].astype(str).isin(set(some))], content, one_day
                        )
                for c in ok:
                    self._seen[c] = counts[c]
        return ok

    def _append(self, part: pd.DataFrame, content: pd.DataFrame | None, one_day: bool) -> None:
        self._con.register("ev", event_frame(part, content))
        try:
            self._con.execute(f"CREATE OR REPLACE TEMP TABLE fresh AS {append_sql(one_day)}")
            self._con.execute("INSERT INTO daily BY NAME SELECT * FROM fresh")
        finally:
            self._con.unregister("ev")

    def features(
        self,
        spine: pd.DataFrame,
        candidates: pd.DataFrame,
        profile: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        """``build_features`` for ``spine`` from the kept rows (``update`` them first).

        ``profile``: ``features.build.profiles(candidates)``, for a caller that passes the
        same candidates (one row each) every day and keeps it: the same rows, sooner.
        """
        if spine.empty:
            return empty_features()
        with self._lock:
            if not self._has_table:  # no events seen yet: what the full build gives
                return build_features(_no_events(), candidates, spine)
            point = point_frame(self._con, spine)
        return finish_features(point, candidates, profile)


def _no_events() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=object) for c in EVENT_COLUMNS})
    frame["ts_utc"] = pd.Series(dtype="datetime64[ns]")
    frame["value"] = pd.Series(dtype=float)
    frame["local_day"] = pd.Series(dtype="datetime64[ns]")
    return frame

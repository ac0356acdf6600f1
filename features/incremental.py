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
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

import duckdb
import pandas as pd

from features.build import (
    EVENT_COLUMNS,
    build_features,
    daily_sql,
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
        self._con = duckdb.connect()
        self._lock = threading.Lock()
        self._seen: dict[str, int] = {}
        self._has_table = False
        self.rebuilt = 0  # candidates rebuilt by the last ``update``

    def close(self) -> None:
        self._con.close()

    def forget(self, candidate_ids: Iterable[str]) -> None:
        """Rebuild these candidates at the next ``update`` whatever their event count."""
        with self._lock:
            for c in candidate_ids:
                self._seen.pop(str(c), None)

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
            changed = sorted(c for c in ids if self._seen.get(c) != counts.get(c, 0))
            if changed:
                part = events[events["candidate_id"].astype(str).isin(set(changed))]
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
                            self._con.execute("CREATE TABLE daily AS SELECT * FROM fresh")
                            self._has_table = True
                finally:
                    self._con.unregister("ev")
                    self._con.unregister("changed")
                for c in changed:
                    self._seen[c] = counts.get(c, 0)
            self.rebuilt = len(changed)
        return changed

    def features(self, spine: pd.DataFrame, candidates: pd.DataFrame) -> pd.DataFrame:
        """``build_features`` for ``spine`` from the kept rows (``update`` them first)."""
        if spine.empty:
            return empty_features()
        with self._lock:
            if not self._has_table:  # no events seen yet: what the full build gives
                return build_features(_no_events(), candidates, spine)
            point = point_frame(self._con, spine)
        return finish_features(point, candidates)


def _no_events() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=object) for c in EVENT_COLUMNS})
    frame["ts_utc"] = pd.Series(dtype="datetime64[ns]")
    frame["value"] = pd.Series(dtype=float)
    frame["local_day"] = pd.Series(dtype="datetime64[ns]")
    return frame

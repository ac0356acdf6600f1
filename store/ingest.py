"""Load a checked bundle into the store: one transaction, idempotent on keys."""

from __future__ import annotations

import io
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, Table, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from store.bundle import Bundle, known_candidates_frame, read_bundle
from store.schema import Candidate, Content, Event, IngestBatch, Outcome, Truth

log = logging.getLogger(__name__)

_EVENT_COLUMNS = [
    "event_id",
    "candidate_id",
    "ts_utc",
    "utc_offset_min",
    "local_day",
    "type",
    "channel",
    "content_id",
    "topic",
    "value",
    "actor",
    "text",
    "batch_id",
]


@dataclass
class IngestReport:
    batch_id: int
    source: str
    candidates_new: int
    candidates_updated: int
    events_new: int
    events_known: int
    outcomes: int
    content: int
    truth: int

    def summary(self) -> str:
        return (
            f"ingested {self.source} (batch {self.batch_id}): "
            f"candidates {self.candidates_new} new, {self.candidates_updated} updated; "
            f"events {self.events_new} new, {self.events_known} already known; "
            f"outcomes {self.outcomes}; content {self.content}; truth rows {self.truth}"
        )


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    clean = frame.astype(object).where(frame.notna(), None)
    return clean.to_dict("records")


def _upsert(conn: Connection, table: Table, rows: list[dict[str, Any]], keys: list[str]) -> None:
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table)
    updates = {c: stmt.excluded[c] for c in rows[0] if c not in keys}
    conn.execute(stmt.on_conflict_do_update(index_elements=keys, set_=updates), rows)


def _event_frame(events: pd.DataFrame, batch_id: int) -> pd.DataFrame:
    out = events.copy()
    out["batch_id"] = batch_id
    return out[_EVENT_COLUMNS]


def _insert_events_sqlite(conn: Connection, frame: pd.DataFrame) -> int:
    frame = frame.copy()
    # The text formats SQLAlchemy's SQLite types read back.
    frame["ts_utc"] = frame["ts_utc"].dt.strftime("%Y-%m-%d %H:%M:%S.%f")
    frame["local_day"] = frame["local_day"].dt.strftime("%Y-%m-%d")
    rows = list(frame.astype(object).where(frame.notna(), None).itertuples(index=False, name=None))
    cols = ", ".join(_EVENT_COLUMNS)
    marks = ", ".join("?" for _ in _EVENT_COLUMNS)
    before = conn.exec_driver_sql("SELECT total_changes()").scalar_one()
    conn.exec_driver_sql(
        f"INSERT INTO events ({cols}) VALUES ({marks}) ON CONFLICT(event_id) DO NOTHING", rows
    )
    after = conn.exec_driver_sql("SELECT total_changes()").scalar_one()
    return int(after - before)


def _insert_events_postgres(conn: Connection, frame: pd.DataFrame) -> int:
    cols = ", ".join(_EVENT_COLUMNS)
    buf = io.StringIO()
    frame.to_csv(buf, index=False, header=False, date_format="%Y-%m-%d %H:%M:%S.%f")
    data = buf.getvalue()
    conn.exec_driver_sql(
        "CREATE TEMP TABLE _events_in (LIKE events INCLUDING DEFAULTS) ON COMMIT DROP"
    )
    raw = conn.connection.driver_connection
    copy_sql = f"COPY _events_in ({cols}) FROM STDIN WITH (FORMAT csv)"
    with raw.cursor() as cur, cur.copy(copy_sql) as copy:  # type: ignore[union-attr]
        for start in range(0, len(data), 1 << 22):
            copy.write(data[start : start + (1 << 22)])
    result = conn.exec_driver_sql(
        f"INSERT INTO events ({cols}) SELECT {cols} FROM _events_in "
        "ON CONFLICT (event_id) DO NOTHING"
    )
    conn.exec_driver_sql("DROP TABLE _events_in")
    return int(result.rowcount)


def _insert_events(conn: Connection, frame: pd.DataFrame) -> int:
    if frame.empty:
        return 0
    if conn.dialect.name == "postgresql":
        return _insert_events_postgres(conn, frame)
    return _insert_events_sqlite(conn, frame)


def _known_candidates(conn: Connection) -> pd.DataFrame:
    rows = conn.execute(select(Candidate.candidate_id, Candidate.consent_external_signals))
    return known_candidates_frame((r[0], bool(r[1])) for r in rows)


def load_bundle(conn: Connection, bundle: Bundle) -> IngestReport:
    """Write a checked bundle through ``conn``; the caller owns the transaction."""
    batch_id = conn.execute(
        insert(IngestBatch)
        .values(source=Path(bundle.source).name, fingerprint=bundle.fingerprint, counts={})
        .returning(IngestBatch.batch_id)
    ).scalar_one()

    ids = list(bundle.candidates["candidate_id"])
    existing: set[str] = set()
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        existing |= set(
            conn.execute(select(Candidate.candidate_id).where(Candidate.candidate_id.in_(chunk)))
            .scalars()
            .all()
        )
    cands = bundle.candidates.assign(
        batch_id=batch_id, updated_at=pd.Timestamp.utcnow().tz_localize(None)
    )
    _upsert(conn, Candidate.__table__, _records(cands), ["candidate_id"])  # type: ignore[arg-type]

    events_new = _insert_events(conn, _event_frame(bundle.events, batch_id))

    n_outcomes = n_content = n_truth = 0
    if bundle.outcomes is not None:
        rows = _records(bundle.outcomes.assign(batch_id=batch_id))
        _upsert(conn, Outcome.__table__, rows, ["candidate_id"])  # type: ignore[arg-type]
        n_outcomes = len(rows)
    if bundle.content is not None:
        rows = _records(bundle.content)
        _upsert(conn, Content.__table__, rows, ["content_id"])  # type: ignore[arg-type]
        n_content = len(rows)
    if bundle.truth is not None:
        rows = _records(bundle.truth)
        _upsert(conn, Truth.__table__, rows, ["candidate_id", "as_of"])  # type: ignore[arg-type]
        n_truth = len(rows)

    report = IngestReport(
        batch_id=batch_id,
        source=Path(bundle.source).name,
        candidates_new=len(set(ids) - existing),
        candidates_updated=len(existing),
        events_new=events_new,
        events_known=len(bundle.events) - events_new,
        outcomes=n_outcomes,
        content=n_content,
        truth=n_truth,
    )
    counts = {k: v for k, v in asdict(report).items() if isinstance(v, int) and k != "batch_id"}
    conn.execute(update(IngestBatch).where(IngestBatch.batch_id == batch_id).values(counts=counts))
    return report


def ingest_bundle(engine: Engine, folder: Path | str, max_problems: int = 50) -> IngestReport:
    """Check a bundle and load it whole, or raise and leave the store untouched."""
    with engine.connect() as conn:
        known = _known_candidates(conn)
    bundle = read_bundle(folder, known=known, max_problems=max_problems)
    with engine.begin() as conn:
        report = load_bundle(conn, bundle)
    log.info("%s", report.summary())
    return report


def count_rows(engine: Engine) -> dict[str, int]:
    tables = {
        "candidates": Candidate,
        "events": Event,
        "outcomes": Outcome,
        "content": Content,
        "truth": Truth,
        "batches": IngestBatch,
    }
    with engine.connect() as conn:
        return {
            name: int(conn.execute(select(func.count()).select_from(model)).scalar_one())
            for name, model in tables.items()
        }

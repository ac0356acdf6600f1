"""Load a checked bundle into the store: one transaction, idempotent on keys."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from sqlalchemy import Connection, Engine, func, insert, select, update

from features.checks import warn_profile_values
from store.bundle import (
    CANDIDATES,
    EVENTS,
    Bundle,
    BundleError,
    Origin,
    check_tables,
    empty_typed,
    known_candidates_frame,
    read_bundle,
    text_frame,
)
from store.contract import normalise_code
from store.db import chunks, upsert
from store.erasure import signals_without_consent, tombstoned
from store.profiles import record_versions
from store.schema import Candidate, Content, Event, IngestBatch, Outcome, Truth

if TYPE_CHECKING:
    from store.workbook import ColumnMapping

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
    skipped_erased: int = 0  # candidates erased or retired before: not stored again
    signals_deleted: int = 0  # outside signals of candidates whose consent is off
    # loaded, but read in part: cities it cannot place, role families the model lacks
    warnings: list[str] = field(default_factory=list)
    # values stored normalised (trimmed, NFKC), per "file column": said, never silent
    normalised: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        return (
            f"ingested {self.source} (batch {self.batch_id}): "
            f"candidates {self.candidates_new} new, {self.candidates_updated} updated; "
            f"events {self.events_new} new, {self.events_known} already known; "
            f"new or changed: outcomes {self.outcomes}, content {self.content}, "
            f"truth rows {self.truth}"
            + (f"; skipped {self.skipped_erased} erased candidates" if self.skipped_erased else "")
            + (
                f"; deleted {self.signals_deleted} outside signals (consent withdrawn)"
                if self.signals_deleted
                else ""
            )
            + self._normalised_summary()
            + "".join(f"\n  warning: {w}" for w in self.warnings)
        )

    def _normalised_summary(self) -> str:
        if not self.normalised:
            return ""
        where = ", ".join(f"{k} {n}" for k, n in sorted(self.normalised.items()))
        total = sum(self.normalised.values())
        return f"; normalised {total} values (blanks trimmed, full-width forms made plain): {where}"


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    clean = frame.astype(object).where(frame.notna(), None)
    return clean.to_dict("records")


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


def _copy_csv(conn: Connection, table: str, frame: pd.DataFrame) -> None:
    """COPY a frame into ``table`` (Arrow writes CSV far faster than pandas does)."""
    out = pa.BufferOutputStream()
    pacsv.write_csv(
        pa.Table.from_pandas(frame, preserve_index=False),
        out,
        pacsv.WriteOptions(include_header=False),
    )
    data = memoryview(out.getvalue())
    raw = conn.connection.driver_connection
    sql = f"COPY {table} ({', '.join(frame.columns)}) FROM STDIN WITH (FORMAT csv)"
    with raw.cursor() as cur, cur.copy(sql) as copy:  # type: ignore[union-attr]
        for start in range(0, len(data), 1 << 22):
            copy.write(data[start : start + (1 << 22)])


def _insert_events_postgres(conn: Connection, frame: pd.DataFrame) -> int:
    # Rows in index order keep the B-tree pages hot (about 40% faster at 1M rows).
    frame = frame.sort_values(["candidate_id", "local_day"], kind="stable")
    probe = frame["event_id"].iloc[:: max(1, len(frame) // 1000)].tolist()
    known = conn.execute(
        select(func.count()).select_from(Event).where(Event.event_id.in_(probe))
    ).scalar_one()
    if not known:
        # Fast path for a bundle of new events: straight into the table. A savepoint
        # makes a late duplicate fall back to the slower path, not fail the load.
        try:
            with conn.begin_nested():
                _copy_csv(conn, "events", frame)
            return len(frame)
        except psycopg.errors.UniqueViolation:
            log.info("events overlap the store; loading through a staging table")
    conn.exec_driver_sql(
        "CREATE TEMP TABLE _events_in (LIKE events INCLUDING DEFAULTS) ON COMMIT DROP"
    )
    _copy_csv(conn, "_events_in", frame)
    cols = ", ".join(_EVENT_COLUMNS)
    result = conn.exec_driver_sql(
        f"INSERT INTO events ({cols}) SELECT {cols} FROM _events_in "
        "ORDER BY candidate_id, local_day ON CONFLICT (event_id) DO NOTHING"
    )
    conn.exec_driver_sql("DROP TABLE _events_in")
    return int(result.rowcount)


def _insert_events(conn: Connection, frame: pd.DataFrame) -> int:
    if frame.empty:
        return 0
    if conn.dialect.name == "postgresql":
        return _insert_events_postgres(conn, frame)
    return _insert_events_sqlite(conn, frame)


def _known_candidates(conn: Connection, ids: list[str] | None = None) -> pd.DataFrame:
    """The store's candidates (all, or those among ``ids``) and their consent flags."""
    query = select(Candidate.candidate_id, Candidate.consent_external_signals)
    if ids is None:
        return known_candidates_frame((r[0], bool(r[1])) for r in conn.execute(query))
    found: list[tuple[str, bool]] = []
    for part in chunks(ids):
        rows = conn.execute(query.where(Candidate.candidate_id.in_(part)))
        found += [(r[0], bool(r[1])) for r in rows]
    return known_candidates_frame(found)


def _normalised(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Values as comparable text: the store's and the bundle's types differ slightly."""
    out = frame[columns].astype(object).where(frame[columns].notna(), None)
    return out.map(lambda v: None if v is None else str(v).removesuffix(".0"))


def _existing(conn: Connection, model: type, frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    table = model.__table__  # type: ignore[attr-defined]
    columns = list(frame.columns)
    first = table.c[keys[0]]
    values = frame[keys[0]].unique().tolist()
    parts = [
        pd.DataFrame(
            conn.execute(select(*(table.c[c] for c in columns)).where(first.in_(part))).all(),
            columns=columns,
        )
        for part in chunks(values)
    ]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)


def _upsert_changed(
    conn: Connection, model: type, frame: pd.DataFrame, keys: list[str], extra: dict[str, Any]
) -> tuple[int, int]:
    """Insert new rows and update changed ones; identical rows are left alone.

    Returns (new, updated).
    """
    if frame.empty:
        return 0, 0
    columns = list(frame.columns)
    old = _existing(conn, model, frame, keys)
    mine, theirs = _normalised(frame, columns), _normalised(old, columns)
    merged = mine.reset_index().merge(
        theirs, on=keys, how="left", suffixes=("", "_old"), indicator=True
    )
    is_new = merged["_merge"] == "left_only"
    others = [c for c in columns if c not in keys]
    differs = pd.Series(False, index=merged.index)
    for c in others:
        differs |= merged[c].fillna("\0") != merged[f"{c}_old"].fillna("\0")
    pick = merged.loc[is_new | differs, "index"]
    rows = _records(frame.loc[pick].assign(**extra))
    upsert(conn, model.__table__, rows, keys)  # type: ignore[attr-defined]
    n_new = int(is_new.sum())
    return n_new, len(rows) - n_new


def load_bundle(conn: Connection, bundle: Bundle, touched: list[str] | None = None) -> IngestReport:
    """Write a checked bundle through ``conn``; the caller owns the transaction.

    ``touched`` names the candidates a small write changes (kept with the batch so that
    serving processes refresh only those); a bundle leaves it None.
    Candidates erased or retired before are left out, whatever the bundle says.
    """
    bundle, skipped = _without_erased(conn, bundle)
    batch_id = conn.execute(
        insert(IngestBatch)
        .values(
            source=Path(bundle.source).name,
            fingerprint=bundle.fingerprint,
            counts={},
            touched=sorted(set(touched)) if touched is not None else None,
        )
        .returning(IngestBatch.batch_id)
    ).scalar_one()
    now = pd.Timestamp.now(tz="UTC").tz_localize(None).to_pydatetime()
    cand_new, cand_updated = _upsert_changed(
        conn,
        Candidate,
        bundle.candidates,
        ["candidate_id"],
        {"batch_id": batch_id, "updated_at": now},
    )
    # the profile as it was known before this write stays readable (point-in-time)
    record_versions(conn, bundle.candidates["candidate_id"].astype(str).tolist(), batch_id)
    events_new = _insert_events(conn, _event_frame(bundle.events, batch_id))
    optional: tuple[tuple[type, pd.DataFrame | None, list[str], dict[str, Any]], ...] = (
        (Outcome, bundle.outcomes, ["candidate_id"], {"batch_id": batch_id}),
        (Content, bundle.content, ["content_id"], {}),
        (Truth, bundle.truth, ["candidate_id", "as_of"], {}),
    )
    changed = [
        sum(_upsert_changed(conn, model, frame, keys, extra)) if frame is not None else 0
        for model, frame, keys, extra in optional
    ]
    report = IngestReport(
        batch_id=batch_id,
        source=Path(bundle.source).name,
        candidates_new=cand_new,
        candidates_updated=cand_updated,
        events_new=events_new,
        events_known=len(bundle.events) - events_new,
        outcomes=changed[0],
        content=changed[1],
        truth=changed[2],
        skipped_erased=skipped,
        normalised=dict(bundle.normalised),
        signals_deleted=signals_without_consent(
            conn, bundle.candidates["candidate_id"].astype(str).tolist()
        ),
        warnings=warn_profile_values(
            bundle.candidates, bundle.files.get("candidates", "candidates")
        ),
    )
    counts = {k: v for k, v in asdict(report).items() if isinstance(v, int) and k != "batch_id"}
    conn.execute(update(IngestBatch).where(IngestBatch.batch_id == batch_id).values(counts=counts))
    return report


def _without_erased(conn: Connection, bundle: Bundle) -> tuple[Bundle, int]:
    ids = set(bundle.candidates["candidate_id"].astype(str)) | set(
        bundle.events["candidate_id"].astype(str)
    )
    for frame in (bundle.outcomes, bundle.truth):
        if frame is not None:
            ids |= set(frame["candidate_id"].astype(str))
    gone = tombstoned(conn, ids)
    if not gone:
        return bundle, 0

    def keep(frame: pd.DataFrame | None) -> pd.DataFrame | None:
        if frame is None:
            return None
        return frame[~frame["candidate_id"].astype(str).isin(gone)].reset_index(drop=True)

    kept = replace(
        bundle,
        candidates=keep(bundle.candidates),
        events=keep(bundle.events),
        outcomes=keep(bundle.outcomes),
        truth=keep(bundle.truth),
    )
    return kept, len(gone)


def ingest_bundle(
    engine: Engine,
    folder: Path | str,
    max_problems: int = 50,
    columns: ColumnMapping | None = None,
) -> IngestReport:
    """Check a bundle and load it whole, or raise and leave the store untouched.

    ``columns`` maps the team's own sheets, files and headers to the contract's.
    """
    with engine.connect() as conn:
        known = _known_candidates(conn)
    bundle = read_bundle(folder, known=known, max_problems=max_problems, columns=columns)
    with engine.begin() as conn:
        report = load_bundle(conn, bundle)
    log.info("%s", report.summary())
    return report


def check_items(
    engine: Engine,
    table: str,
    items: list[dict[str, Any]],
    source: str,
    fingerprint: str,
    max_problems: int = 50,
) -> Bundle:
    """Check a JSON array of one table's rows (an API request) as a bundle of that one table.

    The same checks as a bundle file; problems name the array index ("item 3") and field.
    """
    texts = {table: text_frame(items)}
    # the ids as the gate will store them (trimmed, NFKC), to look them up first
    given = [item_candidate_id(i) for i in items]
    ids = sorted({c for c in given if c})
    with engine.connect() as conn:
        known = _known_candidates(conn, ids)
        gone = tombstoned(conn, ids)
    origin = Origin(table, "item")
    if gone:
        erased = [
            origin.problem(n, "candidate_id", "this candidate was erased; it is not stored again")
            for n, cid in enumerate(given)
            if cid in gone
        ]
        raise BundleError(source, erased[:max_problems], truncated=len(erased) > max_problems)
    normalised: dict[str, int] = {}
    typed = check_tables(texts, {table: origin}, known, source, max_problems, normalised)
    return Bundle(
        source=source,
        fingerprint=fingerprint,
        candidates=typed.get("candidates", empty_typed(CANDIDATES)),
        events=typed.get("events", empty_typed(EVENTS)),
        outcomes=typed.get("outcomes"),
        content=typed.get("content"),
        normalised=normalised,
    )


def item_candidate_id(item: dict[str, Any]) -> str:
    """An API item's candidate_id as the gate stores it ('' when it has none)."""
    value = item.get("candidate_id")
    return normalise_code(str(value)) if value not in (None, "") else ""


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

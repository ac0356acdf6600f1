"""Read a season bundle and check it against the contract.

Everything is read as text first so that every problem can be reported with
its file, row and column; only a bundle with no problem is converted into
typed frames. Values of personal columns never appear in a message.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera import Check

from store.contract import (
    CANDIDATES,
    CONTENT,
    EARLIEST,
    EVENTS,
    ID_RULE,
    LATEST,
    MAX_OFFSET_MINUTES,
    OUTCOMES_SPEC,
    TABLES,
    TOPICS,
    TRUTH,
    Field,
    TableSpec,
    is_id,
    normalise_code,
    trim,
)
from store.errors import KeepwarmError

if TYPE_CHECKING:
    from store.workbook import ColumnMapping

_FORMATS = (".csv", ".jsonl", ".parquet", ".xlsx")
# The offset: Z, +08:00, +0800 or +08 (hour only).
_OFFSET = r"(?:Z|[+-]\d{2}(?::?\d{2})?)"
_TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?" + _OFFSET + "$")
_ASCII_ID = r"[A-Za-z0-9_.:@-]+"  # is_id's rule for ASCII text, for vectorised checks
# A date, or a timestamp at midnight without offset (pandas writes dates that way).
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ]00:00(?::00(?:\.0{1,9})?)?)?$")
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


@dataclass(frozen=True)
class Problem:
    file: str
    where: str | None  # "row 12", "line 3", "item 0", or None for the whole file
    column: str | None
    message: str
    index: int | None = None  # position in the frame or request array, 0-based

    def __str__(self) -> str:
        parts = [self.file]
        if self.where:
            parts.append(self.where)
        if self.column:
            parts.append(f"column {self.column}")
        return ", ".join(parts) + ": " + self.message


class BundleError(KeepwarmError):
    def __init__(self, source: str, problems: list[Problem], truncated: bool = False) -> None:
        self.source = source
        self.problems = problems
        self.truncated = truncated
        more = " (more not shown)" if truncated else ""
        head = f"bundle {source} rejected, nothing was loaded: {len(problems)} problem(s){more}"
        super().__init__("\n".join([head, *(f"  {p}" for p in problems)]))


@dataclass
class Bundle:
    """A checked bundle: typed frames, one per table present."""

    source: str
    fingerprint: str
    candidates: pd.DataFrame
    events: pd.DataFrame
    outcomes: pd.DataFrame | None = None
    content: pd.DataFrame | None = None
    truth: pd.DataFrame | None = None
    files: dict[str, str] = field(default_factory=dict)
    normalised: dict[str, int] = field(default_factory=dict)  # "file column" -> values changed


# --- reading ---------------------------------------------------------------


def _find_file(folder: Path, table: str, mapping: ColumnMapping | None = None) -> Path | None:
    mapped = mapping.of(table).file if mapping else None
    wanted = [mapped] if mapped else [f"{table}{ext}" for ext in _FORMATS]
    found = [folder / name for name in wanted if (folder / name).is_file()]
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise BundleError(
            str(folder), [Problem(found[0].name, None, None, f"several files for {table}: {names}")]
        )
    return found[0] if found else None


def _as_text(value: object) -> str:
    if value is None or value is pd.NaT or value is pd.NA:
        return ""
    if isinstance(value, float) and np.isnan(value):
        return ""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, pd.Timestamp):
        return value.isoformat()  # a naive one has no offset, and the check says so
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _read_text_frame(path: Path) -> pd.DataFrame:
    """The file as a frame of strings, '' for missing, in file order."""
    if path.suffix == ".csv":
        return pd.read_csv(
            path,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            encoding="utf-8-sig",  # a byte-order mark (Excel's "CSV UTF-8") is not a header
            skipinitialspace=False,
        ).fillna("")
    if path.suffix == ".jsonl":
        raw = pd.read_json(path, lines=True, dtype=False, encoding="utf-8-sig")
    else:
        raw = pd.read_parquet(path)
    out = pd.DataFrame(index=raw.index)
    for col in raw.columns:
        series = raw[col]
        if series.dtype == object or pd.api.types.is_string_dtype(series):
            out[str(col)] = series.map(_as_text).astype(str)
        else:
            out[str(col)] = series.astype(object).map(_as_text).astype(str)
    return out


def text_frame(items: list[dict[str, object]]) -> pd.DataFrame:
    """JSON objects (an API request's array) as a frame of strings, '' for missing.

    Only an absent field or null is missing: a NaN sent as a number is refused as one.
    """
    columns = list(dict.fromkeys(k for item in items for k in item))
    return pd.DataFrame(
        {c: [_item_text(item.get(c)) for item in items] for c in columns},
        index=pd.RangeIndex(len(items)),
        dtype=str,
    )


def _item_text(value: object) -> str:
    return "nan" if isinstance(value, float) and np.isnan(value) else _as_text(value)


def as_text(raw: pd.DataFrame) -> pd.DataFrame:
    """Any frame as the frame of strings a file would give, '' for missing."""
    return raw.astype(object).map(_as_text).astype(str) if len(raw.columns) else raw


@dataclass(frozen=True)
class Origin:
    """Where a table's rows came from, so problems name the file and row (or array item).

    A workbook's table also names its sheet; ``headers`` maps a contract column to the
    team's own header (from a column mapping), so a problem names what the team sees.
    """

    name: str
    style: str  # ".csv", ".jsonl", ".parquet", ".xlsx", or "item" for a request's JSON array
    sheet: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(
        cls, path: Path, sheet: str | None = None, headers: Mapping[str, str] | None = None
    ) -> Origin:
        return cls(path.name, path.suffix.lower(), sheet, dict(headers or {}))

    def header(self, column: str | None) -> str | None:
        return None if column is None else self.headers.get(column, column)

    def whole(self, column: str | None, message: str) -> Problem:
        """A problem of the whole table (or of a column in every row)."""
        where = f"sheet {self.sheet}" if self.sheet else None
        return Problem(self.name, where, self.header(column), message)

    def where(self, index: int) -> str:
        if self.style == ".xlsx":
            return f"sheet {self.sheet}, row {index + 2}"  # as Excel shows it
        if self.style == ".csv":
            return f"row {index + 2}"  # as a spreadsheet shows it: the header is row 1
        if self.style == ".jsonl":
            return f"line {index + 1}"
        if self.style == "item":
            return f"item {index}"
        return f"row {index + 1}"

    def problem(self, index: int, column: str | None, message: str) -> Problem:
        return Problem(self.name, self.where(index), self.header(column), message, index)

    def shown(self, value: object) -> str:
        """A value quoted in a message: for a file's owner at the command line only.

        An API request's error body never echoes what was sent (it may be personal, and
        it is the caller's own input): it names the item and the field.
        """
        return "" if self.style == "item" else " " + _shown(value)


# --- normalising -----------------------------------------------------------


def _normalise(spec: TableSpec, frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """Every contract column trimmed, codes also NFKC-normalised; how many values changed.

    Runs before any check, so a rule (and a duplicate key) sees what will be stored.
    """
    out = frame.copy()
    counts: dict[str, int] = {}
    for f in spec.fields:
        if f.name not in frame.columns:
            continue
        s = frame[f.name].astype(str)
        new = s.str.strip()
        odd = ~new.str.isascii()  # only these can hold NFKC forms, NBSP, U+3000, ZWSP, BOM
        if odd.any():
            fix = normalise_code if f.is_code else trim
            new = new.where(~odd, new[odd].map(fix))
        changed = int((new != s).sum())
        if changed:
            counts[f.name] = changed
        out[f.name] = new
    return out, counts


# --- checks ----------------------------------------------------------------


def _offset_parts(ts: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(offset in minutes, its minutes part) of ISO strings; NaN where there is no offset.

    Z, +08:00, +0800 or +08 at the end: told apart by where the sign is (slices keep this
    vectorised; a regex extract cost 5 s per million rows).
    """
    sign_at = {n: ts.str[-n].isin(["+", "-"]) for n in (6, 5, 3)}
    colon = sign_at[6] & (ts.str[-3] == ":")
    basic = sign_at[5] & ~colon
    hour = sign_at[3] & ~colon & ~basic
    sign = ts.str[-6].where(colon, ts.str[-5].where(basic, ts.str[-3]))
    hh = ts.str[-5:-3].where(colon, ts.str[-4:-2].where(basic, ts.str[-2:]))
    mm = ts.str[-2:].where(colon | basic, "0")
    hours, mins = pd.to_numeric(hh, errors="coerce"), pd.to_numeric(mm, errors="coerce")
    minutes = (hours * 60 + mins) * np.where(sign == "-", -1, 1)
    minutes = minutes.where(colon | basic | hour, np.nan).where(~ts.str.endswith("Z"), 0.0)
    return minutes, mins


def offset_minutes(ts: pd.Series) -> pd.Series:
    """The UTC offset in minutes of normalised ISO 8601 strings (Z, +08:00, +0800, +08)."""
    return _offset_parts(ts)[0]


def _valid_timestamp(s: pd.Series, earliest: dt.date = EARLIEST) -> pd.Series:
    """ISO 8601 with an offset of at most 14:00, between ``earliest`` and ``LATEST`` in UTC."""
    ok = s.str.match(_TS_RE)
    parsed = pd.to_datetime(s.where(ok, None), format="ISO8601", utc=True, errors="coerce")
    minutes, mins = _offset_parts(s.where(ok, ""))
    offset_ok = minutes.abs().le(MAX_OFFSET_MINUTES) & ~(mins >= 60)
    start = pd.Timestamp(earliest, tz="UTC")
    end = pd.Timestamp(LATEST, tz="UTC") + pd.Timedelta(days=1)
    return ok & parsed.notna() & offset_ok & (parsed >= start) & (parsed < end)


def _valid_date(s: pd.Series, earliest: dt.date = EARLIEST) -> pd.Series:
    """YYYY-MM-DD (or that day at midnight) between ``earliest`` and ``LATEST``."""
    ok = s.str.match(_DATE_RE)
    parsed = pd.to_datetime(s.where(ok, None).str[:10], format="%Y-%m-%d", errors="coerce")
    in_range = (parsed >= pd.Timestamp(earliest)) & (parsed <= pd.Timestamp(LATEST))
    return ok & parsed.notna() & in_range


def _finite(s: pd.Series) -> pd.Series:
    """Numbers, finite ones: inf, nan and 1e400 (inf as a float) are not."""
    return pd.Series(np.isfinite(pd.to_numeric(s, errors="coerce")), index=s.index).fillna(False)


def _valid_id(s: pd.Series, limit: int) -> pd.Series:
    """The contract's id rule (``is_id``), vectorised for the ASCII ids most files hold."""
    plain = s.str.isascii()
    ok = plain & s.str.fullmatch(_ASCII_ID) & (s.str.len() <= limit)
    if not plain.all():
        ok = ok.where(plain, s[~plain].map(lambda v: is_id(v, limit)))
    return ok.astype(bool)


def _tier(s: pd.Series) -> pd.Series:
    """1, 2 or 3; also written 2.0 (pandas writes an int column with blanks that way)."""
    return pd.to_numeric(s, errors="coerce").isin([1, 2, 3]) & s.str.match(r"^[0-9.]+$")


def _valid_topic_list(s: pd.Series) -> pd.Series:
    allowed = set(TOPICS)
    return s.map(lambda v: all(t.strip() in allowed for t in v.split(";") if t.strip()))


def _kind_check(f: Field) -> tuple[Callable[[pd.Series], pd.Series], str]:
    if f.kind == "enum":
        allowed = set(f.choices)
        return (lambda s: s.isin(allowed)), "must be one of " + ", ".join(f.choices)
    if f.kind == "int_1_3":
        return _tier, "must be 1, 2 or 3"
    if f.kind == "id":
        limit = f.max_length or 0
        return (lambda s: _valid_id(s, limit)), f"must be an id: 1 to {limit} {ID_RULE}"
    span = f"between {f.earliest.isoformat()} and {LATEST.isoformat()}"
    if f.kind == "date":
        return (
            lambda s: _valid_date(s, f.earliest)
        ), f"must be a date YYYY-MM-DD (or that day at 00:00) {span}"
    if f.kind == "timestamp":
        return (
            lambda s: _valid_timestamp(s, f.earliest)
        ), f"must be an ISO 8601 timestamp with an offset (at most 14:00), {span}"
    if f.kind == "bool":
        return (lambda s: s.str.lower().isin(_TRUE | _FALSE)), "must be true or false"
    if f.kind == "number":
        return _finite, "must be a finite number"
    if f.kind == "prob":
        return (lambda s: pd.to_numeric(s, errors="coerce").between(0, 1)), "must be in 0..1"
    if f.kind == "topic_list":
        return _valid_topic_list, "must be ;-separated topics from: " + ", ".join(TOPICS)
    return (lambda s: pd.Series(True, index=s.index)), ""


def _schema(spec: TableSpec) -> pa.DataFrameSchema:
    columns = {}
    for f in spec.fields:
        # a NUL character is refused by PostgreSQL's text type: refuse it here, named
        # Values arrive normalised (``_normalise``: trimmed), so no check strips them again.
        checks = [Check(lambda s: ~s.str.contains("\x00", regex=False), error="contains NUL")]
        if not f.nullable:
            checks.append(Check(lambda s: s != "", error="is empty but required"))
        if f.kind != "str":
            fn, msg = _kind_check(f)
            checks.append(Check(lambda s, fn=fn: (s == "") | fn(s), error=msg))
        if f.max_length and f.kind not in ("id", "enum"):
            # the store's column length: PostgreSQL refuses longer text (SQLite keeps it)
            n = f.max_length
            checks.append(
                Check(lambda s, n=n: s.str.len() <= n, error=f"longer than {n} characters")
            )
        # No dtype to check: ``_normalise`` made every column text. Pandera's dtype check
        # was a third of a validation's fixed cost (32 of 98 ms per contract sample bundle,
        # whatever its rows: an API batch of one event paid it too).
        columns[f.name] = pa.Column(None, checks=checks, required=f.required, nullable=False)
    return pa.DataFrameSchema(columns, strict=False, coerce=False)


_SCHEMAS = {spec.name: _schema(spec) for spec in TABLES}


def _column_problems(spec: TableSpec, origin: Origin, frame: pd.DataFrame) -> list[Problem]:
    try:
        _SCHEMAS[spec.name].validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        personal = {f.name for f in spec.fields if f.personal}
        problems = []
        for row in exc.failure_cases.itertuples(index=False):
            if row.column is None or pd.isna(row.index):
                col = str(row.failure_case) if row.check == "column_in_dataframe" else row.column
                problems.append(origin.whole(col, "required column is missing"))
                continue
            message = str(row.check)
            if row.column not in personal and str(row.failure_case).strip() and origin.shown(1):
                message += f" (got{origin.shown(row.failure_case)})"
            problems.append(origin.problem(int(row.index), row.column, message))
        return problems
    return []


def _shown(value: object) -> str:
    text = str(value)
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _duplicate_problems(
    spec: TableSpec, origin: Origin, frame: pd.DataFrame, allow_identical: bool
) -> tuple[list[Problem], pd.DataFrame]:
    key = list(spec.key)
    if not set(key) <= set(frame.columns):
        return [], frame
    dup = frame.duplicated(subset=key, keep="first")
    if allow_identical and dup.any():
        # only rows that share a key can be exact copies: compare just those
        shared = frame.duplicated(subset=key, keep=False)
        copies = frame[shared].duplicated(keep="first")
        frame = frame.drop(index=copies.index[copies])
        dup = frame.duplicated(subset=key, keep="first")
    # the first row with the same key, so the message names both
    rows = pd.Series(frame.index, index=frame.index)
    first = rows.groupby([frame[k] for k in key], sort=False).transform("first")
    problems = [
        origin.problem(
            int(i),
            key[0],
            f"duplicate {'/'.join(key)}{origin.shown(frame.loc[i, key[0]])}"
            + (" with different values" if allow_identical else "")
            + f" (the same as {origin.where(int(first[i]))})",
        )
        for i in frame.index[dup]
    ]
    return problems, frame


# --- typing ----------------------------------------------------------------


def _blank_to_none(s: pd.Series) -> pd.Series:
    """A normalised text column with its empty cells as None."""
    return s.where(s != "", None)


def _typed(spec: TableSpec, frame: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(index=frame.index)
    for f in spec.fields:
        if f.name not in frame.columns:
            out[f.name] = None
            continue
        s = _blank_to_none(frame[f.name])
        if f.kind == "date":
            out[f.name] = pd.to_datetime(s.str[:10], format="%Y-%m-%d").dt.date
        elif f.kind == "int_1_3":
            out[f.name] = pd.to_numeric(s).astype("Int64")
        elif f.kind in ("number", "prob"):
            out[f.name] = pd.to_numeric(s).astype(float)
        elif f.kind == "bool":
            out[f.name] = s.str.lower().isin(_TRUE)
        elif f.kind == "timestamp":
            out[f.name] = s
        else:
            out[f.name] = s.astype(object)
    return out


def split_timestamps(ts: pd.Series) -> pd.DataFrame:
    """ISO strings with offsets -> naive UTC, offset minutes, and the local calendar day."""
    ts = ts.astype(str).str.strip()
    utc = pd.to_datetime(ts, format="ISO8601", utc=True)
    minutes = offset_minutes(ts).astype(int).to_numpy()
    naive = utc.dt.tz_localize(None)
    local = naive + pd.to_timedelta(minutes, unit="min")
    return pd.DataFrame(
        {"ts_utc": naive, "utc_offset_min": minutes, "local_day": local.dt.normalize()},
        index=ts.index,
    )


# --- the whole bundle --------------------------------------------------------


def _fingerprint(paths: Iterable[Path]) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(p.name.encode())
        with p.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def check_tables(
    texts: dict[str, pd.DataFrame],
    origins: dict[str, Origin],
    known: pd.DataFrame | None,
    source: str,
    max_problems: int = 50,
    normalised: dict[str, int] | None = None,
) -> dict[str, pd.DataFrame]:
    """Check text frames (one per table present) and return them typed, or raise.

    The one gate for every way data comes in: bundle files and API requests alike.
    Values are normalised first (``_normalise``); ``normalised``, if given, receives how
    many per "file column". Events come back with ``ts`` split into ``ts_utc``,
    ``utc_offset_min`` and ``local_day``.
    """
    problems: list[Problem] = []
    checked: dict[str, pd.DataFrame] = {}
    for spec in TABLES:
        if spec.name not in texts:
            continue
        origin = origins[spec.name]
        frame, counts = _normalise(spec, texts[spec.name])
        if normalised is not None:
            normalised.update({f"{origin.name} {col}": n for col, n in counts.items()})
        problems += _column_problems(spec, origin, frame)
        dups, frame = _duplicate_problems(spec, origin, frame, allow_identical=spec is EVENTS)
        problems += dups
        checked[spec.name] = frame
    if problems:
        _raise(source, problems, max_problems)

    typed = {name: _typed(spec, checked[name]) for spec in TABLES if (name := spec.name) in checked}
    problems += _reference_problems(typed, origins, known)
    if problems:
        _raise(source, problems, max_problems)
    if "events" in typed:
        typed["events"] = pd.concat(
            [typed["events"].drop(columns=["ts"]), split_timestamps(typed["events"]["ts"])],
            axis=1,
        )
    return {name: frame.reset_index(drop=True) for name, frame in typed.items()}


def empty_typed(spec: TableSpec) -> pd.DataFrame:
    """A typed frame of ``spec`` with no rows (made once per table, copied on use)."""
    if spec.name not in _EMPTY:
        _EMPTY[spec.name] = _empty_typed(spec)
    return _EMPTY[spec.name].copy()


_EMPTY: dict[str, pd.DataFrame] = {}


def _empty_typed(spec: TableSpec) -> pd.DataFrame:
    frame = _typed(spec, pd.DataFrame({f.name: pd.Series([], dtype=str) for f in spec.fields}))
    if spec is EVENTS:
        frame = pd.concat(
            [frame.drop(columns=["ts"]), split_timestamps(pd.Series([], dtype=str))], axis=1
        )
    return frame


def read_bundle(
    folder: Path | str,
    known: pd.DataFrame | None = None,
    max_problems: int = 50,
    columns: ColumnMapping | None = None,
) -> Bundle:
    """Read and check a bundle; raise BundleError listing what is wrong.

    ``known`` holds the store's candidates (``candidate_id``,
    ``consent_external_signals``) that events and outcomes may refer to. ``columns``
    names the team's own sheets, files and headers (store.workbook.read_mapping).
    """
    from store import workbook  # openpyxl is imported only when a bundle is read

    folder = Path(folder)
    source = folder.name or str(folder)
    single = folder.is_file() and folder.suffix.lower() == workbook.WORKBOOK  # one workbook
    if not folder.is_dir() and not single:
        raise KeepwarmError(f"no bundle folder at {folder}")
    problems: list[Problem] = []
    paths: dict[str, Path] = {}
    texts: dict[str, pd.DataFrame] = {}
    origins: dict[str, Origin] = {}
    own: dict[str, Path | None] = {spec.name: None for spec in TABLES}
    try:
        if not single:
            own = {spec.name: _find_file(folder, spec.name, columns) for spec in TABLES}
    except BundleError as exc:
        _raise(source, exc.problems, max_problems)
    claimed = {p for p in own.values() if p is not None}
    books = [folder] if single else workbook.workbooks(folder, claimed)
    for spec in TABLES:
        path, sheet = own[spec.name], None
        try:
            found = workbook.find_sheet(path, books, spec.name, columns)
            if found is not None:
                path, sheet = found.path, found.sheet
            if path is None:
                if spec.required or (columns and columns.of(spec.name).file):
                    problems.append(_missing(spec.name, books, columns))
                continue
            shown = path.name + (f", sheet {sheet}" if sheet else "")
            if found is not None:
                frame = workbook.read_sheet(found, max_problems)
            else:
                frame = _read_text_frame(path)
            texts[spec.name], headers = workbook.apply_mapping(frame, spec.name, columns, shown)
        except workbook.SheetError as exc:
            problems += [Problem(*p) for p in exc.problems]
            continue
        except (ValueError, UnicodeDecodeError, OSError) as exc:
            kind = "not UTF-8" if isinstance(exc, UnicodeDecodeError) else "cannot be read"
            name = path.name if path else spec.name
            problems.append(Problem(name, None, None, f"{kind} ({type(exc).__name__})"))
            continue
        paths[spec.name] = path
        origins[spec.name] = Origin.of(path, sheet, headers)
    if problems:
        _raise(source, problems, max_problems)
    normalised: dict[str, int] = {}
    typed = check_tables(texts, origins, known, source, max_problems, normalised)
    return Bundle(
        source=str(folder),
        fingerprint=_fingerprint(set(paths.values())),
        candidates=typed["candidates"],
        events=typed["events"],
        outcomes=typed.get("outcomes"),
        content=typed.get("content"),
        truth=typed.get("truth"),
        files={k: p.name for k, p in paths.items()},
        normalised=normalised,
    )


def _missing(table: str, books: list[Path], columns: ColumnMapping | None) -> Problem:
    mapped = columns.of(table).file if columns else None
    if books and not mapped:
        names = ", ".join(p.name for p in books)
        return Problem(names, None, None, f"no sheet {table} and no {table} file: required")
    return Problem(mapped or f"{table}.csv", None, None, "required file is missing")


def _raise(source: str, problems: list[Problem], limit: int) -> NoReturn:
    raise BundleError(source, problems[:limit], truncated=len(problems) > limit)


def _reference_problems(
    typed: dict[str, pd.DataFrame], origins: dict[str, Origin], known: pd.DataFrame | None
) -> list[Problem]:
    cands = typed.get("candidates", pd.DataFrame(columns=["candidate_id"]))
    cands = cands.reindex(columns=["candidate_id", "consent_external_signals"])
    if known is not None and len(known):
        known = known[~known["candidate_id"].isin(cands["candidate_id"])]
        cands = pd.concat([cands, known[["candidate_id", "consent_external_signals"]]])
    consent = dict(
        zip(
            cands["candidate_id"],
            cands["consent_external_signals"]
            .astype(object)
            .where(cands["consent_external_signals"].notna(), False),
            strict=True,
        )
    )
    problems: list[Problem] = []
    for name in ("events", "outcomes", "truth"):
        if name not in typed:
            continue
        frame, origin = typed[name], origins[name]
        unknown = ~frame["candidate_id"].isin(consent.keys())
        problems += [
            origin.problem(
                int(i),
                "candidate_id",
                f"unknown candidate{origin.shown(frame.at[i, 'candidate_id'])}",
            )
            for i in frame.index[unknown]
        ]
    if "events" not in typed:
        return problems
    ev, origin = typed["events"], origins["events"]
    signal = ev["type"] == "external_signal"
    # An unknown candidate was reported above; only a known one without consent counts here.
    consented = ev["candidate_id"].map(lambda c: bool(consent.get(c, True)))
    no_consent = signal & ~consented.astype(bool)
    problems += [
        origin.problem(
            int(i), "type", "external_signal for a candidate without consent_external_signals=true"
        )
        for i in ev.index[no_consent]
    ]
    return problems


def known_candidates_frame(rows: Iterable[tuple[str, bool]]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=["candidate_id", "consent_external_signals"])


__all__ = [
    "CANDIDATES",
    "CONTENT",
    "EVENTS",
    "OUTCOMES_SPEC",
    "TRUTH",
    "Bundle",
    "BundleError",
    "KeepwarmError",
    "Origin",
    "Problem",
    "check_tables",
    "empty_typed",
    "read_bundle",
    "split_timestamps",
    "text_frame",
]

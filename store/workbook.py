"""Excel workbooks and a team's own headers: read as the text frames a CSV file gives.

A bundle folder may hold ``.xlsx`` files: one per table (``candidates.xlsx``, its
first or only sheet), or one workbook whose sheets are the tables (named
``candidates``, ``events``, ...). A column mapping (a small TOML file, see
``read_mapping``) names the team's own sheets, files and headers once::

    [candidates]
    sheet = "候选人"
    [candidates.columns]
    "候选人编号" = "candidate_id"
    "期望入职日期" = "start_date"

Cells become the text a CSV export would hold, never a different value: a date
cell is ``YYYY-MM-DD``, a date-and-time cell ISO 8601 without an offset (which the
timestamp check refuses, as it refuses the same text in a CSV), an integral
number ``7`` (not ``7.0``), a blank cell ``''``. An Excel error value (``#N/A``)
is refused, named by sheet, row and header. Values never appear in a message.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import tomllib
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from store.contract import TABLES
from store.errors import KeepwarmError

WORKBOOK = ".xlsx"
# A formula element in a worksheet's XML (<f>, <f t="shared" .../>, or with a prefix).
_FORMULA = re.compile(rb"<(?:\w+:)?f[\s>/]")
_ZEROS = re.compile(r"^0{2,}$")  # a number format that pads with zeros, as ids often are
_TABLE_NAMES = tuple(spec.name for spec in TABLES)
_TABLE_KEYS = {"sheet", "file", "columns"}


Found = tuple[str, str | None, str | None, str]  # file, where, column (the team's), message


class SheetError(KeepwarmError):
    """A workbook, sheet or mapping that keepwarm cannot read a table from, and where."""

    def __init__(self, problems: list[Found]) -> None:
        self.problems = problems
        super().__init__("; ".join(p[3] for p in problems))


@dataclass(frozen=True)
class TableMapping:
    """One table's names in the team's own files: sheet or file, and header -> contract column."""

    sheet: str | None = None
    file: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ColumnMapping:
    """A mapping file, checked: table name -> how that table is named by the team."""

    name: str  # the mapping file's name, for messages
    tables: Mapping[str, TableMapping] = field(default_factory=dict)

    def of(self, table: str) -> TableMapping:
        return self.tables.get(table, TableMapping())


def _mapping_error(path: Path, message: str) -> KeepwarmError:
    return KeepwarmError(f"column mapping {path.name}: {message}")


def read_mapping(path: Path | str) -> ColumnMapping:
    """Read and check a column mapping file (TOML); raise KeepwarmError naming the file."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _mapping_error(path, "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _mapping_error(path, f"cannot be read ({type(exc).__name__})") from None
    except tomllib.TOMLDecodeError as exc:
        raise _mapping_error(path, f"not valid TOML ({exc})") from None
    tables: dict[str, TableMapping] = {}
    problems: list[str] = []
    for table, entry in raw.items():
        if table not in _TABLE_NAMES:
            problems.append(f"[{table}] is not a table (one of {', '.join(_TABLE_NAMES)})")
            continue
        if not isinstance(entry, dict):
            problems.append(f"{table} must be a table: [{table}]")
            continue
        problems += [
            f"[{table}] {key}: unknown key (sheet, file, columns)"
            for key in entry
            if key not in _TABLE_KEYS
        ]
        names = {}
        for key in ("sheet", "file"):
            value = entry.get(key)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                problems.append(f"[{table}] {key} must be a non-empty string")
            names[key] = value.strip() if isinstance(value, str) and value.strip() else None
        columns = entry.get("columns", {})
        if not isinstance(columns, dict):
            problems.append(f"[{table}] columns must be a table: [{table}.columns]")
            columns = {}
        allowed = next(spec for spec in TABLES if spec.name == table).columns
        seen: dict[str, str] = {}
        for header, column in columns.items():
            where = f"[{table}.columns] {header!r}"
            if not isinstance(column, str) or column not in allowed:
                problems.append(
                    f"{where} = {column!r}: not a column of {table} ({', '.join(allowed)})"
                )
            elif column in seen:
                problems.append(
                    f"{where} and {seen[column]!r} both map to {column}: keep one of them"
                )
            else:
                seen[column] = header
        tables[table] = TableMapping(
            sheet=names["sheet"],
            file=names["file"],
            columns={h.strip(): c for h, c in columns.items() if isinstance(c, str)},
        )
    if problems:
        raise _mapping_error(path, "; ".join(problems))
    return ColumnMapping(path.name, tables)


def apply_mapping(
    frame: pd.DataFrame, table: str, mapping: ColumnMapping | None, shown_as: str
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Rename the team's headers to the contract's; returns the frame and contract -> header.

    ``shown_as`` names the file (and sheet) in messages. Raises SheetError naming the
    mapping file when a mapped header is not there or a contract column would come twice.
    """
    if mapping is None or not mapping.of(table).columns:
        return frame, {}
    columns = mapping.of(table).columns
    headers = [str(c) for c in frame.columns]
    problems = [
        f"[{table}.columns] header {header!r} is not in row 1 of {shown_as}"
        + _near(header, headers)
        for header in columns
        if header not in headers
    ]
    problems += [
        f"[{table}.columns] {header!r} maps to {column}, but {shown_as} "
        f"also has a column named {column}"
        for header, column in columns.items()
        if column in headers and column not in columns
    ]
    if problems:
        raise SheetError([(mapping.name, None, None, p) for p in problems])
    return frame.rename(columns=dict(columns)), {c: h for h, c in columns.items()}


def _near(header: str, headers: list[str]) -> str:
    """A likely typo's fix. Only a close header is named: row 1 might hold data, not headers."""
    close = difflib.get_close_matches(header, headers, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


# --- finding tables ---------------------------------------------------------------------


@dataclass(frozen=True)
class Sheet:
    """A table's rows in a workbook: the file and the sheet's name."""

    path: Path
    sheet: str


def _open(path: Path) -> Any:
    from openpyxl import load_workbook

    try:
        return load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types on a damaged or foreign file
        raise SheetError(
            [(path.name, None, None, f"cannot be read as a workbook ({type(exc).__name__})")]
        ) from None


_NAMES: dict[tuple[Path, int, int], list[str]] = {}
_FORMULAS: dict[tuple[Path, int, int], bool] = {}


def _version(path: Path) -> tuple[Path, int, int]:
    """One version of a file: its path, modification time and size."""
    stat = path.stat()
    return path.resolve(), stat.st_mtime_ns, stat.st_size


def sheet_names(path: Path) -> list[str]:
    """The sheets of ``path`` (opened once per version of the file: a big one is slow)."""
    key = _version(path)
    if key not in _NAMES:
        book = _open(path)
        try:
            _NAMES[key] = list(book.sheetnames)
        finally:
            book.close()
    return _NAMES[key]


def workbooks(folder: Path, claimed: set[Path]) -> list[Path]:
    """The folder's ``.xlsx`` files that are no single table's own file."""
    return sorted(
        p
        for p in folder.iterdir()
        if p.suffix.lower() == WORKBOOK
        and p.is_file()
        and p not in claimed
        and not p.name.startswith("~$")  # Excel's lock file while a workbook is open
    )


def find_sheet(
    own: Path | None, books: list[Path], table: str, mapping: ColumnMapping | None
) -> Sheet | None:
    """The sheet that holds ``table``, or None when it is not in a workbook.

    ``own`` is the table's own file (``candidates.xlsx``, or the mapped ``file``): its
    mapped sheet, the sheet named like the table, or its only sheet. Otherwise the
    folder's ``books`` are searched for the mapped sheet or one named like the table.
    Raises SheetError when the choice is not clear or the mapped sheet is nowhere.
    """
    wanted = mapping.of(table).sheet if mapping else None
    name = wanted or table
    hits = [Sheet(book, name) for book in books if name in sheet_names(book)]
    if own is not None and hits:
        also = ", ".join(f"{h.path.name}, sheet {h.sheet}" for h in hits)
        raise SheetError([(own.name, None, None, f"{table} is also in {also}: keep one")])
    if own is not None:
        if own.suffix.lower() != WORKBOOK:
            return None
        names = sheet_names(own)
        if wanted is not None and wanted not in names:
            sheets = ", ".join(names)
            raise SheetError(
                [(own.name, None, None, f"has no sheet {wanted} for {table} (sheets: {sheets})")]
            )
        pick = wanted or (table if table in names else None)
        if pick is None and len(names) == 1:
            pick = names[0]
        if pick is None:
            raise SheetError(
                [
                    (
                        own.name,
                        None,
                        None,
                        f"several sheets ({', '.join(names)}): name the one for {table} "
                        f"with sheet = ... under [{table}] in a column mapping (--columns)",
                    )
                ]
            )
        return Sheet(own, pick)
    if len(hits) > 1:
        found = ", ".join(h.path.name for h in hits)
        raise SheetError([(hits[0].path.name, None, None, f"sheet {name} is in {found}: keep one")])
    if not hits and wanted is not None:
        where = ", ".join(b.name for b in books) or "no workbook in the folder"
        raise SheetError(
            [
                (
                    mapping.name if mapping else "",
                    None,
                    None,
                    f"[{table}] sheet {wanted} is not there ({where})",
                )
            ]
        )
    return hits[0] if hits else None


# --- reading ----------------------------------------------------------------------------


def _cell_text(value: object, number_format: str) -> str:
    from openpyxl.styles.numbers import is_datetime

    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        if is_datetime(number_format) == "date" and value.time() == dt.time():
            return value.date().isoformat()
        return value.isoformat()  # no offset: Excel keeps none, and the check says so
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and _ZEROS.match(number_format):
        return str(value).zfill(len(number_format))  # shown as 00123: a code, not a number
    return str(value)


def read_sheet(sheet: Sheet, max_problems: int = 50) -> pd.DataFrame:
    """A sheet as a frame of strings, '' for missing; row ``i`` of the frame is Excel row i + 2.

    Row 1 holds the headers; a column without one is ignored, as a CSV's unknown
    columns are. Wholly empty rows are left out, their numbers kept, so a problem
    names the row Excel shows. Raises SheetError.
    """
    book = _open(sheet.path)
    file, where = sheet.path.name, f"sheet {sheet.sheet}"
    try:
        rows = book[sheet.sheet].iter_rows()
        header_row = next(rows, ())
        headers = ["" if c.value is None else str(c.value).strip() for c in header_row]
        keep = [i for i, h in enumerate(headers) if h]
        problems: list[Found] = []
        if not keep:
            problems.append((file, where, None, "has no headers in row 1"))
        seen: set[str] = set()
        for i in keep:
            if headers[i] in seen:
                problems.append((file, where, headers[i], "is a header twice in row 1"))
            seen.add(headers[i])
        if problems:
            raise SheetError(problems)
        data: list[list[str]] = []
        index: list[int] = []
        blanks: set[tuple[int, int]] = set()  # (row number, column) of empty cells
        for number, cells in enumerate(rows):
            texts = []
            for i in keep:
                cell = cells[i] if i < len(cells) else None
                if cell is None or cell.value is None:
                    blanks.add((number, i))
                if cell is None:
                    texts.append("")
                    continue
                if getattr(cell, "data_type", None) == "e":
                    row = f"{where}, row {number + 2}"
                    problems.append((file, row, headers[i], "is an Excel error value"))
                texts.append(_cell_text(cell.value, getattr(cell, "number_format", "General")))
            if any(texts):
                data.append(texts)
                index.append(number)
        problems += _unsaved_formulas(sheet, headers, blanks)
        if problems:
            raise SheetError(problems[:max_problems])
        columns = [headers[i] for i in keep]
        return pd.DataFrame(data, columns=columns, index=index, dtype=str).reindex(
            columns=columns, fill_value=""
        )
    except SheetError:
        raise
    except Exception as exc:  # a damaged sheet fails while it is read, in many ways
        raise SheetError([(file, where, None, f"cannot be read ({type(exc).__name__})")]) from None
    finally:
        book.close()


def _unsaved_formulas(
    sheet: Sheet, headers: list[str], blanks: set[tuple[int, int]]
) -> list[Found]:
    """Empty cells that hold a formula without a saved value: refused, not read as empty.

    A workbook written by a program and never opened in Excel keeps formulas but no
    values; reading those cells as empty would change the data silently. Checked only
    when the file has a formula at all (a byte search of its sheets), with a second,
    formula-reading pass over the sheet.
    """
    if not blanks or not _has_formulas(sheet.path):
        return []
    from openpyxl import load_workbook

    book = load_workbook(sheet.path, read_only=True, data_only=False)
    file, where = sheet.path.name, f"sheet {sheet.sheet}"
    found: list[Found] = []
    try:
        for number, cells in enumerate(book[sheet.sheet].iter_rows()):
            if number == 0:
                continue  # the headers
            for i, cell in enumerate(cells):
                if (number - 1, i) in blanks and getattr(cell, "data_type", None) == "f":
                    found.append((file, f"{where}, row {number + 1}", headers[i],
                                  "is a formula with no saved value: open and save the "
                                  "workbook in Excel, or write the value"))  # fmt: skip
    finally:
        book.close()
    return found


def _has_formulas(path: Path) -> bool:
    """Whether any sheet of ``path`` holds a formula (searched once per version of the file,
    not once per table read from it)."""
    key = _version(path)
    if key not in _FORMULAS:
        with zipfile.ZipFile(path) as archive:
            _FORMULAS[key] = any(
                _FORMULA.search(archive.read(name)) is not None
                for name in archive.namelist()
                if name.startswith("xl/worksheets/") and name.endswith(".xml")
            )
    return _FORMULAS[key]

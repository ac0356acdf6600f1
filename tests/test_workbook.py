"""Excel workbooks with a team's own (Chinese) headers, read through a column mapping."""

from __future__ import annotations

import datetime as dt
import shutil
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook
from sqlalchemy import Engine

from store.bundle import BundleError, KeepwarmError, read_bundle
from store.db import make_engine, migrate
from store.ingest import ingest_bundle
from store.workbook import read_mapping
from tests.conftest import SAMPLE, assert_same, cli_here, run_cli, snapshot

# The team's headers -> the contract's columns, one sheet per table.
SHEETS = {
    "candidates": (
        "候选人",
        {
            "candidate_id": "候选人编号",
            "season": "届别",
            "school": "学校",
            "school_tier": "学校层级",
            "major": "专业",
            "degree": "学历",
            "role_family": "岗位族",
            "department": "部门",
            "work_city": "工作城市",
            "home_city": "生源地",
            "hr_owner": "负责HR",
            "birthday": "生日",
            "start_date": "期望入职日期",
            "consent_external_signals": "授权外部信息",
            "gender": "性别",
        },
    ),
    "events": (
        "事件",
        {
            "event_id": "事件编号",
            "candidate_id": "候选人编号",
            "ts": "时间",
            "type": "类型",
            "channel": "渠道",
            "content_id": "内容编号",
            "topic": "话题",
            "value": "面试评分",
            "actor": "操作人",
            "text": "备注",
        },
    ),
    "outcomes": (
        "结果",
        {
            "candidate_id": "候选人编号",
            "outcome": "结果",
            "outcome_date": "结果日期",
            "reason": "原因",
        },
    ),
    "content": ("内容", {}),  # contract headers, only the sheet is named
}
DATES = {"birthday", "start_date", "outcome_date"}


def mapping_text() -> str:
    parts = []
    for table, (sheet, headers) in SHEETS.items():
        parts.append(f'[{table}]\nsheet = "{sheet}"\n')
        if headers:
            parts.append(f"[{table}.columns]\n")
            parts += [f'"{zh}" = "{col}"\n' for col, zh in headers.items()]
        parts.append("\n")
    return "".join(parts)


def _cell(column: str, text: str) -> object:
    """The value as Excel holds it: real dates, numbers and booleans, not text."""
    if text == "":
        return None
    if column in DATES:
        return dt.date.fromisoformat(text)
    if column == "school_tier":
        return int(text)
    if column == "value":
        return float(text)
    if column == "consent_external_signals":
        return text == "true"
    return text


def write_workbook(path: Path, edit: dict[tuple[str, int, str], object] | None = None) -> Path:
    """The contract sample as one workbook, a sheet per table; ``edit`` sets (table, row, col)."""
    book = Workbook()
    book.remove(book.active)
    for table, (sheet_name, headers) in SHEETS.items():
        frame = pd.read_csv(SAMPLE / f"{table}.csv", dtype=str, keep_default_na=False)
        sheet = book.create_sheet(sheet_name)
        sheet.append([headers.get(c, c) for c in frame.columns])
        for i, row in enumerate(frame.itertuples(index=False)):
            values = [_cell(c, v) for c, v in zip(frame.columns, row, strict=True)]
            for (t, r, c), v in (edit or {}).items():
                if t == table and r == i:
                    values[list(frame.columns).index(c)] = v
            sheet.append(values)
    book.save(path)
    return path


@pytest.fixture(scope="module")
def sample_workbook(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``write_workbook``'s unedited workbook, written once for the module (copy it)."""
    return write_workbook(tmp_path_factory.mktemp("workbook") / "offers.xlsx")


@pytest.fixture
def workbook_dir(tmp_path: Path, sample_workbook: Path) -> Path:
    folder = tmp_path / "offers"
    folder.mkdir()
    shutil.copyfile(sample_workbook, folder / "offers.xlsx")
    (tmp_path / "mapping.toml").write_text(mapping_text(), encoding="utf-8")
    return folder


def twin(request: pytest.FixtureRequest, tmp_path: Path) -> Engine:
    """Another empty store on the same database as ``store``."""
    if "postgres" in request.node.name:
        url = request.getfixturevalue("pg_server").create_database()
    else:
        url = f"sqlite:///{tmp_path / 'twin.db'}"
    engine = make_engine(url)
    migrate(engine)
    return engine


def test_a_workbook_with_chinese_headers_stores_what_the_csv_stores(
    store: Engine, workbook_dir: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    mapping = read_mapping(tmp_path / "mapping.toml")
    report = ingest_bundle(store, workbook_dir, columns=mapping)
    assert (report.candidates_new, report.events_new) == (25, 2596)

    from_csv = twin(request, tmp_path)
    ingest_bundle(from_csv, SAMPLE)
    got, want = snapshot(store), snapshot(from_csv)
    from_csv.dispose()
    del got["sim_truth"], want["sim_truth"]  # the sample's truth.csv is not in the workbook
    assert_same(got, want)


def test_a_bad_cell_names_sheet_row_and_the_teams_header(
    store: Engine, workbook_dir: Path, tmp_path: Path
) -> None:
    before = snapshot(store)
    # row 6 of the candidates (0-based 5) is Excel row 7: a start date typed as text
    write_workbook(
        workbook_dir / "offers.xlsx",
        {
            ("candidates", 5, "start_date"): "2023/07/06",
            ("candidates", 6, "birthday"): "not a birthday",
        },
    )
    with pytest.raises(BundleError) as err:
        ingest_bundle(store, workbook_dir, columns=read_mapping(tmp_path / "mapping.toml"))
    lines = str(err.value).splitlines()
    assert (
        "  offers.xlsx, sheet 候选人, row 7, column 期望入职日期: must be a date YYYY-MM-DD "
        "(or that day at 00:00) "
        "between 1990-01-01 and 2099-12-31 (got '2023/07/06')"
    ) in lines
    # a personal column is named, its value never shown
    assert any("sheet 候选人, row 8, column 生日: must be a date" in line for line in lines)
    assert "not a birthday" not in str(err.value)
    assert_same(before, snapshot(store))


def test_an_excel_datetime_without_offset_is_refused_not_guessed(
    workbook_dir: Path, tmp_path: Path
) -> None:
    write_workbook(
        workbook_dir / "offers.xlsx", {("events", 0, "ts"): dt.datetime(2022, 8, 27, 12, 31)}
    )
    with pytest.raises(BundleError) as err:
        read_bundle(workbook_dir, columns=read_mapping(tmp_path / "mapping.toml"))
    assert (
        "offers.xlsx, sheet 事件, row 2, column 时间: must be an ISO 8601 timestamp with an offset"
    ) in str(err.value)
    assert "(got '2022-08-27T12:31:00')" in str(err.value)


def test_one_file_per_table_needs_no_mapping(tmp_path: Path) -> None:
    folder = tmp_path / "bundle"
    folder.mkdir()
    for table in ("candidates", "events"):
        frame = pd.read_csv(SAMPLE / f"{table}.csv", dtype=str, keep_default_na=False)
        book = Workbook()
        sheet = book.active
        sheet.append(list(frame.columns))
        for row in frame.itertuples(index=False):
            sheet.append([_cell(c, v) for c, v in zip(frame.columns, row, strict=True)])
        sheet.append([None] * len(frame.columns))  # an empty row at the end is no row
        book.save(folder / f"{table}.xlsx")
    bundle = read_bundle(folder)
    want = read_bundle(SAMPLE)
    pd.testing.assert_frame_equal(bundle.candidates, want.candidates)
    pd.testing.assert_frame_equal(bundle.events, want.events)
    assert bundle.candidates.loc[0, "start_date"] == dt.date(2023, 7, 6)


def test_excel_error_cells_are_refused_by_sheet_row_and_header(
    workbook_dir: Path, tmp_path: Path
) -> None:
    path = workbook_dir / "offers.xlsx"
    write_workbook(path)
    from openpyxl import load_workbook

    book = load_workbook(path)
    book["候选人"]["C4"] = "#N/A"  # 学校, a free-text column
    book["候选人"]["C4"].data_type = "e"
    book.save(path)
    with pytest.raises(BundleError) as err:
        read_bundle(workbook_dir, columns=read_mapping(tmp_path / "mapping.toml"))
    assert "offers.xlsx, sheet 候选人, row 4, column 学校: is an Excel error value" in str(
        err.value
    )


def test_a_formula_without_a_saved_value_is_refused_not_read_as_empty(
    workbook_dir: Path, tmp_path: Path
) -> None:
    # A workbook a program wrote keeps its formulas but no values until Excel saves it:
    # openpyxl reads such a cell as empty, which would drop the value silently.
    path = workbook_dir / "offers.xlsx"
    from openpyxl import load_workbook

    book = load_workbook(path)
    book["候选人"]["C5"] = '=CONCAT("A", "B")'  # 学校: no cached value written
    book.save(path)
    with pytest.raises(BundleError) as err:
        read_bundle(workbook_dir, columns=read_mapping(tmp_path / "mapping.toml"))
    assert "offers.xlsx, sheet 候选人, row 5, column 学校: is a formula with no saved value" in str(
        err.value
    )
    # the sample itself has no formula: it reads in one pass, as before
    write_workbook(path)
    assert read_bundle(workbook_dir, columns=read_mapping(tmp_path / "mapping.toml"))


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('[candidates.columns]\n"候选人编号" = "candidate_idd"\n', "not a column of candidates"),
        (
            '[candidates.columns]\n"候选人编号" = "candidate_id"\n"编号" = "candidate_id"\n',
            "both map to candidate_id",
        ),
        ('[candidate]\nsheet = "候选人"\n', "[candidate] is not a table"),
        ('[candidates]\nsheets = "候选人"\n', "sheets: unknown key"),
        ('[candidates]\nsheet = "候选人\n', "not valid TOML"),
    ],
)
def test_a_bad_mapping_file_is_named(tmp_path: Path, text: str, said: str) -> None:
    path = tmp_path / "团队映射.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(KeepwarmError) as err:
        read_mapping(path)
    assert str(err.value).startswith("column mapping 团队映射.toml: ")
    assert said in str(err.value)


def test_a_mapped_header_missing_from_the_sheet_names_the_mapping(
    workbook_dir: Path, tmp_path: Path
) -> None:
    text = mapping_text().replace('"期望入职日期" = "start_date"', '"入职日期" = "start_date"')
    (tmp_path / "mapping.toml").write_text(text, encoding="utf-8")
    with pytest.raises(BundleError) as err:
        read_bundle(workbook_dir, columns=read_mapping(tmp_path / "mapping.toml"))
    message = str(err.value)
    assert (
        "mapping.toml: [candidates.columns] header '入职日期' "
        "is not in row 1 of offers.xlsx, sheet 候选人"
    ) in message
    assert "(did you mean '期望入职日期'?)" in message  # the close header, not all of row 1


def test_a_mapped_sheet_that_is_not_there_is_named(workbook_dir: Path, tmp_path: Path) -> None:
    text = mapping_text().replace('sheet = "结果"', 'sheet = "结局"')
    (tmp_path / "mapping.toml").write_text(text, encoding="utf-8")
    with pytest.raises(BundleError) as err:
        read_bundle(workbook_dir, columns=read_mapping(tmp_path / "mapping.toml"))
    assert "mapping.toml: [outcomes] sheet 结局 is not there (offers.xlsx)" in str(err.value)


def test_cli_ingests_a_workbook_and_refuses_without_a_traceback(
    workbook_dir: Path, tmp_path: Path, keepwarm_home: Path
) -> None:
    mapping = str(tmp_path / "mapping.toml")
    # the workbook is ingested as a user runs the CLI, in a process of its own; the
    # refusals are answered by its entry point in this process (tests.conftest.cli_here),
    # in the same home
    ok = run_cli("ingest", str(workbook_dir), "--columns", mapping, home=keepwarm_home)
    assert ok.returncode == 0, ok.stderr
    assert "candidates 25 new, 0 updated; events 2596 new" in ok.stdout

    bad = tmp_path / "bad.toml"
    bad.write_text('[events.columns]\n"面试评分" = "score"\n', encoding="utf-8")
    refused = cli_here("ingest", str(workbook_dir), "--columns", str(bad))
    assert refused.returncode == 1
    assert "column mapping bad.toml: [events.columns] '面试评分' = 'score'" in refused.stderr
    assert "Traceback" not in refused.stderr + refused.stdout

    missing = cli_here("ingest", str(workbook_dir), "--columns", str(tmp_path / "no.toml"))
    assert missing.returncode == 1
    assert "column mapping no.toml: no such file" in missing.stderr

    write_workbook(workbook_dir / "offers.xlsx", {("candidates", 5, "start_date"): "2023/07/06"})
    cell = cli_here("ingest", str(workbook_dir), "--columns", mapping)
    assert cell.returncode == 1
    assert "offers.xlsx, sheet 候选人, row 7, column 期望入职日期: must be a date" in cell.stderr
    assert "Traceback" not in cell.stderr


def test_mapping_file_format_is_documented_in_readme() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    assert "--columns mapping.toml" in readme
    assert textwrap.dedent('[candidates.columns]\n"候选人编号" = "candidate_id"') in readme


def test_a_csv_export_with_the_teams_headers_maps_too(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    cands = pd.read_csv(SAMPLE / "candidates.csv", dtype=str, keep_default_na=False)
    cands.rename(columns=SHEETS["candidates"][1]).to_csv(folder / "候选人.csv", index=False)
    events = pd.read_csv(SAMPLE / "events.csv", dtype=str, keep_default_na=False)
    events.to_csv(folder / "events.csv", index=False)
    headers = "".join(f'"{zh}" = "{col}"\n' for col, zh in SHEETS["candidates"][1].items())
    path = tmp_path / "m.toml"
    path.write_text(f'[candidates]\nfile = "候选人.csv"\n[candidates.columns]\n{headers}', "utf-8")
    bundle = read_bundle(folder, columns=read_mapping(path))
    pd.testing.assert_frame_equal(bundle.candidates, read_bundle(SAMPLE).candidates)


def test_ids_shown_with_leading_zeros_keep_them(tmp_path: Path) -> None:
    folder = tmp_path / "b"
    folder.mkdir()
    write_workbook(folder / "offers.xlsx")
    from openpyxl import load_workbook

    path = folder / "offers.xlsx"
    book = load_workbook(path)
    sheet = book["候选人"]
    sheet["C2"] = 123  # 学校 (any text column): typed as a number, shown as 00123
    sheet["C2"].number_format = "00000"
    book.save(path)
    (tmp_path / "m.toml").write_text(mapping_text(), "utf-8")
    bundle = read_bundle(folder, columns=read_mapping(tmp_path / "m.toml"))
    assert bundle.candidates.loc[0, "school"] == "00123"


def test_a_table_in_two_places_is_refused(workbook_dir: Path, tmp_path: Path) -> None:
    (workbook_dir / "结果.csv").write_text("candidate_id,outcome,outcome_date\n", "utf-8")
    text = mapping_text().replace('sheet = "结果"', 'file = "结果.csv"\nsheet = "结果"')
    (tmp_path / "mapping.toml").write_text(text, encoding="utf-8")
    with pytest.raises(BundleError) as err:
        read_bundle(workbook_dir, columns=read_mapping(tmp_path / "mapping.toml"))
    assert "结果.csv: outcomes is also in offers.xlsx, sheet 结果: keep one" in str(err.value)


def test_a_workbook_may_be_given_alone(workbook_dir: Path, tmp_path: Path) -> None:
    (workbook_dir / "candidates.csv").write_text("not read: only the workbook is", "utf-8")
    mapping = read_mapping(tmp_path / "mapping.toml")
    bundle = read_bundle(workbook_dir / "offers.xlsx", columns=mapping)
    assert len(bundle.candidates) == 25 and bundle.outcomes is not None


def test_a_file_that_is_no_workbook_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "b"
    folder.mkdir()
    (folder / "candidates.xlsx").write_text("candidate_id\nC1\n", "utf-8")  # a CSV, renamed
    (folder / "events.xlsx").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(BundleError) as err:
        read_bundle(folder)
    lines = str(err.value).splitlines()[1:]
    assert [line.split(" (")[0] for line in lines] == [
        "  candidates.xlsx: cannot be read as a workbook",
        "  events.xlsx: cannot be read as a workbook",
    ]

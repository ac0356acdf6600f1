"""Reading bundles: everything the contract allows is read, everything it forbids is named."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from store.bundle import BundleError, read_bundle
from tests.conftest import SAMPLE


def _edit(folder: Path, name: str, change: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
    path = folder / name
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    change(frame).to_csv(path, index=False)


def _set(row: int, column: str, value: str) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[row, column] = value
        return frame

    return change


def _consent_false_row() -> int:
    cands = pd.read_csv(SAMPLE / "candidates.csv", dtype=str)
    events = pd.read_csv(SAMPLE / "events.csv", dtype=str)
    no_consent = set(cands.loc[cands["consent_external_signals"] == "false", "candidate_id"])
    return int(events.index[events["candidate_id"].isin(no_consent)][0])


def test_sample_bundle_reads_whole() -> None:
    bundle = read_bundle(SAMPLE)
    assert len(bundle.candidates) == 25
    assert len(bundle.events) == 2596
    assert bundle.outcomes is not None and len(bundle.outcomes) == 25
    assert bundle.content is not None and len(bundle.content) == 42
    assert bundle.truth is not None and len(bundle.truth) == 38
    assert bundle.candidates["school"].str.contains("大学").all()
    assert bundle.events["ts_utc"].notna().all()


# (file, mutation, where, column, words in the message)
BROKEN = {
    "bad event type": ("events.csv", _set(4, "type", "offer_maybe"), "row 6", "type", "one of"),
    "unparseable ts": ("events.csv", _set(0, "ts", "yesterday"), "row 2", "ts", "ISO 8601"),
    "ts without offset": (
        "events.csv",
        _set(9, "ts", "2022-10-01T09:30:00"),
        "row 11",
        "ts",
        "offset",
    ),
    "impossible date in ts": (
        "events.csv",
        _set(3, "ts", "2022-13-45T09:30:00+08:00"),
        "row 5",
        "ts",
        "ISO 8601",
    ),
    "unknown candidate in events": (
        "events.csv",
        _set(7, "candidate_id", "NOBODY"),
        "row 9",
        "candidate_id",
        "unknown candidate",
    ),
    "value not a number": ("events.csv", _set(3, "value", "good"), "row 5", "value", "number"),
    "bad topic": ("events.csv", _set(3, "topic", "pets"), "row 5", "topic", "one of"),
    "empty event_id": ("events.csv", _set(2, "event_id", ""), "row 4", "event_id", "empty"),
    "external signal without consent": (
        "events.csv",
        lambda f: _set(_consent_false_row(), "type", "external_signal")(f),
        f"row {_consent_false_row() + 2}",
        "type",
        "consent",
    ),
    "duplicate candidate": (
        "candidates.csv",
        _set(3, "candidate_id", "K2200000"),
        "row 5",
        "candidate_id",
        "duplicate",
    ),
    "missing hr_owner column": (
        "candidates.csv",
        lambda f: f.drop(columns=["hr_owner"]),
        None,
        "hr_owner",
        "missing",
    ),
    "empty hr_owner": ("candidates.csv", _set(1, "hr_owner", ""), "row 3", "hr_owner", "empty"),
    "school tier out of range": (
        "candidates.csv",
        _set(2, "school_tier", "4"),
        "row 4",
        "school_tier",
        "1, 2 or 3",
    ),
    "bad degree": ("candidates.csv", _set(0, "degree", "diploma"), "row 2", "degree", "one of"),
    "bad start date": (
        "candidates.csv",
        _set(5, "start_date", "2023/07/06"),
        "row 7",
        "start_date",
        "YYYY-MM-DD",
    ),
    "bad consent flag": (
        "candidates.csv",
        _set(6, "consent_external_signals", "maybe"),
        "row 8",
        "consent_external_signals",
        "true or false",
    ),
    "bad outcome": ("outcomes.csv", _set(0, "outcome", "ghosted"), "row 2", "outcome", "one of"),
    "unknown candidate in outcomes": (
        "outcomes.csv",
        _set(1, "candidate_id", "K9999999"),
        "row 3",
        "candidate_id",
        "unknown candidate",
    ),
    "bad reason": ("outcomes.csv", _set(3, "reason", "weather"), "row 5", "reason", "one of"),
    "bad content stage": ("content.csv", _set(0, "stage", "later"), "row 2", "stage", "one of"),
    "bad content topics": (
        "content.csv",
        _set(0, "topics", "salary;pets"),
        "row 2",
        "topics",
        "topics",
    ),
    "truth out of range": ("truth.csv", _set(0, "p_true", "1.5"), "row 2", "p_true", "0..1"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_bundle_names_file_row_and_column(case: str, sample_copy: Path) -> None:
    name, change, where, column, words = BROKEN[case]
    _edit(sample_copy, name, change)
    with pytest.raises(BundleError) as info:
        read_bundle(sample_copy)
    problems = info.value.problems
    assert any(
        p.file == name and p.where == where and p.column == column and words in p.message
        for p in problems
    ), [str(p) for p in problems]
    assert "nothing was loaded" in str(info.value)


def test_missing_required_file(sample_copy: Path) -> None:
    (sample_copy / "events.csv").unlink()
    with pytest.raises(BundleError) as info:
        read_bundle(sample_copy)
    assert [(p.file, p.message) for p in info.value.problems] == [
        ("events.csv", "required file is missing")
    ]


def test_file_that_is_not_utf8(sample_copy: Path) -> None:
    text = (sample_copy / "candidates.csv").read_text(encoding="utf-8")
    (sample_copy / "candidates.csv").write_bytes(text.encode("gbk"))
    with pytest.raises(BundleError) as info:
        read_bundle(sample_copy)
    assert info.value.problems[0].file == "candidates.csv"
    assert "UTF-8" in info.value.problems[0].message


def test_every_problem_is_reported_not_just_the_first(sample_copy: Path) -> None:
    _edit(sample_copy, "events.csv", _set(0, "type", "nope"))
    _edit(sample_copy, "events.csv", _set(5, "ts", "soon"))
    _edit(sample_copy, "candidates.csv", _set(2, "degree", "none"))
    with pytest.raises(BundleError) as info:
        read_bundle(sample_copy)
    found = {(p.file, p.where, p.column) for p in info.value.problems}
    assert found == {
        ("events.csv", "row 2", "type"),
        ("events.csv", "row 7", "ts"),
        ("candidates.csv", "row 4", "degree"),
    }


def test_problem_report_is_capped(sample_copy: Path) -> None:
    def all_bad(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[:199, "type"] = "nope"
        return frame

    _edit(sample_copy, "events.csv", all_bad)
    with pytest.raises(BundleError) as info:
        read_bundle(sample_copy, max_problems=50)
    assert len(info.value.problems) == 50
    assert info.value.truncated
    assert "more not shown" in str(info.value)


def test_personal_values_never_appear_in_errors(sample_copy: Path) -> None:
    marker = "秘密-MARKER-42"

    def leak(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[0, "text"] = marker
        frame.loc[0, "type"] = "not_a_type"
        return frame

    _edit(sample_copy, "events.csv", leak)
    _edit(sample_copy, "candidates.csv", _set(0, "birthday", "1999-99-99"))
    with pytest.raises(BundleError) as info:
        read_bundle(sample_copy)
    message = str(info.value)
    assert "candidates.csv, row 2, column birthday" in message
    assert marker not in message
    assert "1999-99-99" not in message


def test_identical_duplicate_events_are_one_event(sample_copy: Path) -> None:
    _edit(sample_copy, "events.csv", lambda f: pd.concat([f, f.iloc[[10]]]))
    bundle = read_bundle(sample_copy)
    assert len(bundle.events) == 2596


def test_conflicting_duplicate_event_ids_are_refused(sample_copy: Path) -> None:
    def clash(frame: pd.DataFrame) -> pd.DataFrame:
        extra = frame.iloc[[10]].copy()
        extra["channel"] = "sms"
        return pd.concat([frame, extra], ignore_index=True)

    _edit(sample_copy, "events.csv", clash)
    with pytest.raises(BundleError) as info:
        read_bundle(sample_copy)
    assert any("different values" in p.message for p in info.value.problems)


def test_column_order_extra_columns_and_empty_optionals(sample_copy: Path) -> None:
    def shuffle(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame[list(reversed(frame.columns))].copy()
        frame["ats_internal_note"] = "x"
        return frame

    _edit(sample_copy, "events.csv", shuffle)
    _edit(sample_copy, "candidates.csv", lambda f: f.drop(columns=["home_city", "gender"]))
    bundle = read_bundle(sample_copy)
    assert len(bundle.events) == 2596
    assert bundle.candidates["home_city"].isna().all()
    assert "ats_internal_note" not in bundle.events.columns


def test_offsets_give_utc_and_the_local_day(sample_copy: Path) -> None:
    def offsets(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[0, "ts"] = "2022-10-12T23:30:00-05:00"
        frame.loc[1, "ts"] = "2022-10-12T01:30:00Z"
        frame.loc[2, "ts"] = "2022-10-12T07:00:00+0800"
        return frame

    _edit(sample_copy, "events.csv", offsets)
    ev = read_bundle(sample_copy).events.iloc[:3]
    assert list(ev["ts_utc"].astype(str)) == [
        "2022-10-13 04:30:00",
        "2022-10-12 01:30:00",
        "2022-10-11 23:00:00",
    ]
    assert list(ev["utc_offset_min"]) == [-300, 0, 480]
    assert [d.date().isoformat() for d in ev["local_day"]] == ["2022-10-12"] * 3


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_events_as_json_lines_or_parquet(fmt: str, sample_copy: Path) -> None:
    events = pd.read_csv(sample_copy / "events.csv", dtype=str, keep_default_na=False)
    (sample_copy / "events.csv").unlink()
    if fmt == "jsonl":
        events.replace("", None).to_json(
            sample_copy / "events.jsonl", orient="records", lines=True, force_ascii=False
        )
    else:
        events["value"] = pd.to_numeric(events["value"])
        events.replace("", None).to_parquet(sample_copy / "events.parquet")
    bundle = read_bundle(sample_copy)
    csv_bundle = read_bundle(SAMPLE)
    pd.testing.assert_frame_equal(bundle.events, csv_bundle.events)


def test_jsonl_problems_name_the_line(sample_copy: Path) -> None:
    events = pd.read_csv(sample_copy / "events.csv", dtype=str, keep_default_na=False)
    events.loc[4, "type"] = "nope"
    (sample_copy / "events.csv").unlink()
    events.to_json(sample_copy / "events.jsonl", orient="records", lines=True, force_ascii=False)
    with pytest.raises(BundleError) as info:
        read_bundle(sample_copy)
    assert [(p.where, p.column) for p in info.value.problems] == [("line 5", "type")]


def test_two_formats_of_one_table_are_ambiguous(sample_copy: Path) -> None:
    pd.read_csv(sample_copy / "events.csv", dtype=str).to_json(
        sample_copy / "events.jsonl", orient="records", lines=True
    )
    with pytest.raises(BundleError, match="several files for events"):
        read_bundle(sample_copy)

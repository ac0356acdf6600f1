"""Ingest into real stores: whole or nothing, and never twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, select

from store.bundle import BundleError
from store.ingest import count_rows, ingest_bundle
from store.schema import Candidate, Event
from tests.conftest import SAMPLE, assert_same, snapshot


def test_sample_bundle_ingests(store: Engine) -> None:
    report = ingest_bundle(store, SAMPLE)
    assert (report.candidates_new, report.events_new, report.events_known) == (25, 2596, 0)
    counts = count_rows(store)
    assert counts["candidates"] == 25
    assert counts["events"] == 2596
    assert counts["outcomes"] == 25
    assert counts["content"] == 42
    assert counts["truth"] == 38


def test_second_ingest_adds_nothing(store: Engine) -> None:
    ingest_bundle(store, SAMPLE)
    before = snapshot(store)
    report = ingest_bundle(store, SAMPLE)
    assert (report.candidates_new, report.candidates_updated, report.events_new) == (0, 0, 0)
    assert report.events_known == 2596
    assert_same(before, snapshot(store))


def test_chinese_text_and_timestamps_round_trip(store: Engine) -> None:
    ingest_bundle(store, SAMPLE)
    with store.connect() as conn:
        school = conn.execute(
            select(Candidate.school).where(Candidate.candidate_id == "K2200000")
        ).scalar_one()
        event = conn.execute(select(Event).where(Event.event_id == "K2200014-85")).one()
    assert school == "南京工业大学"
    assert str(event.ts_utc) == "2022-08-27 04:31:00"
    assert event.utc_offset_min == 480
    assert str(event.local_day) == "2022-08-27"


def test_rejected_bundle_leaves_store_unchanged(store: Engine, sample_copy: Path) -> None:
    ingest_bundle(store, SAMPLE)
    before = snapshot(store)
    batches = count_rows(store)["batches"]
    events = pd.read_csv(sample_copy / "events.csv", dtype=str, keep_default_na=False)
    extra = events.iloc[:5].copy()
    extra["event_id"] = extra["event_id"] + "-new"
    bad = pd.concat([events, extra], ignore_index=True)
    bad.loc[len(bad) - 1, "ts"] = "not a time"
    bad.to_csv(sample_copy / "events.csv", index=False)
    with pytest.raises(BundleError):
        ingest_bundle(store, sample_copy)
    assert_same(before, snapshot(store))
    assert count_rows(store)["batches"] == batches


def test_overlapping_bundle_adds_only_what_is_new(store: Engine, tmp_path: Path) -> None:
    first = tmp_path / "first"
    first.mkdir()
    events = pd.read_csv(SAMPLE / "events.csv", dtype=str, keep_default_na=False)
    (first / "candidates.csv").write_bytes((SAMPLE / "candidates.csv").read_bytes())
    events.iloc[:1000].to_csv(first / "events.csv", index=False)
    assert ingest_bundle(store, first).events_new == 1000
    report = ingest_bundle(store, SAMPLE)
    assert (report.events_new, report.events_known) == (1596, 1000)
    assert count_rows(store)["events"] == 2596


def test_later_bundle_updates_candidates_and_adds_outcomes(
    store: Engine, sample_copy: Path
) -> None:
    (sample_copy / "outcomes.csv").unlink()
    ingest_bundle(store, sample_copy)
    assert count_rows(store)["outcomes"] == 0
    later = sample_copy.parent / "later"
    later.mkdir()
    cands = pd.read_csv(SAMPLE / "candidates.csv", dtype=str, keep_default_na=False)
    cands.loc[0, "department"] = "新部门"
    cands.iloc[:3].to_csv(later / "candidates.csv", index=False)
    pd.DataFrame(columns=["event_id", "candidate_id", "ts", "type"]).to_csv(
        later / "events.csv", index=False
    )
    (later / "outcomes.csv").write_bytes((SAMPLE / "outcomes.csv").read_bytes())
    report = ingest_bundle(store, later)
    assert (report.candidates_new, report.candidates_updated, report.outcomes) == (0, 1, 25)
    with store.connect() as conn:
        dept = conn.execute(
            select(Candidate.department).where(
                Candidate.candidate_id == cands.loc[0, "candidate_id"]
            )
        ).scalar_one()
    assert dept == "新部门"


def test_events_may_refer_to_candidates_already_in_the_store(store: Engine, tmp_path: Path) -> None:
    ingest_bundle(store, SAMPLE)
    only_events = tmp_path / "only-events"
    only_events.mkdir()
    pd.DataFrame(columns=pd.read_csv(SAMPLE / "candidates.csv").columns).to_csv(
        only_events / "candidates.csv", index=False
    )
    pd.DataFrame(
        [["X-1", "K2200001", "2023-01-05T10:00:00+08:00", "message_replied", "wechat"]],
        columns=["event_id", "candidate_id", "ts", "type", "channel"],
    ).to_csv(only_events / "events.csv", index=False)
    assert ingest_bundle(store, only_events).events_new == 1


_CRASH = textwrap.dedent(
    """
    import os, signal, sys
    from store.bundle import read_bundle
    from store.db import make_engine
    from store.ingest import load_bundle
    engine = make_engine(sys.argv[1])
    bundle = read_bundle(sys.argv[2])
    with engine.begin() as conn:
        load_bundle(conn, bundle)        # every row written, not yet committed
        print("written", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """
)


def test_killed_ingest_writes_nothing_and_a_rerun_completes(store: Engine) -> None:
    url = store.url.render_as_string(hide_password=False)
    done = subprocess.run(
        [sys.executable, "-c", _CRASH, url, str(SAMPLE)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ},
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert "written" in done.stdout
    store.dispose()
    assert count_rows(store) == {
        "candidates": 0,
        "events": 0,
        "outcomes": 0,
        "content": 0,
        "truth": 0,
        "batches": 0,
    }
    assert ingest_bundle(store, SAMPLE).events_new == 2596


def test_events_already_known_deep_in_a_bundle_are_skipped(
    store: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """On PostgreSQL this takes the staging path after the direct COPY meets a known id."""
    first = tmp_path / "first"
    first.mkdir()
    (first / "candidates.csv").write_bytes((SAMPLE / "candidates.csv").read_bytes())
    events = pd.read_csv(SAMPLE / "events.csv", dtype=str, keep_default_na=False)
    # The loader probes every other row of the bundle in (candidate, day) order for known
    # ids; the row at position 1 in that order escapes the probe.
    order = events.assign(day=events["ts"].str[:10]).sort_values(
        ["candidate_id", "day"], kind="stable"
    )
    order.iloc[[1]].drop(columns="day").to_csv(first / "events.csv", index=False)
    assert ingest_bundle(store, first).events_new == 1
    caplog.set_level("INFO", logger="store.ingest")
    report = ingest_bundle(store, SAMPLE)
    assert (report.events_new, report.events_known) == (2595, 1)
    assert count_rows(store)["events"] == 2596
    if store.dialect.name == "postgresql":
        assert "staging table" in caplog.text

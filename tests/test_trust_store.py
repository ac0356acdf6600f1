"""Audit log, erasure, retention and consent, on real SQLite and PostgreSQL stores."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, delete, insert, select, text, update
from sqlalchemy.exc import DBAPIError

from store import audit, erasure
from store.bundle import BundleError
from store.ingest import check_items, ingest_bundle
from store.schema import AuditEntry, Base, Candidate, Event, Tombstone

WHO = audit.Actor("user:li", "admin", "127.0.0.1")
ERASED = "K2200017"  # has outcomes, events and a question with free text in the sample


def _values(engine: Engine, needle: str, skip: tuple[str, ...] = ("audit_log",)) -> list[str]:
    """Every table.column whose text holds ``needle`` (the audit log aside)."""
    found = []
    with engine.connect() as conn:
        for table in sorted(n for n in Base.metadata.tables if n not in skip):
            frame = pd.read_sql(text(f"SELECT * FROM {table}"), conn)
            for column in frame.columns:
                if frame[column].astype(str).str.contains(needle, regex=False).any():
                    found.append(f"{table}.{column}")
    return found


def test_the_audit_log_cannot_be_changed_or_emptied_early(store: Engine) -> None:
    audit.record(store, WHO, "read", "GET /v1/candidates/{id}", ["K1"])
    audit.record(store, WHO, "export", "/risk.csv", ["K1", "K2", "K3"], {"format": "csv"})
    for statement in (
        update(AuditEntry).values(actor="someone else"),
        delete(AuditEntry),
    ):
        with (
            pytest.raises(DBAPIError, match=r"append-only|kept at least"),
            store.begin() as conn,
        ):
            conn.execute(statement)
    if store.dialect.name == "postgresql":
        with pytest.raises(DBAPIError, match="append-only"), store.begin() as conn:
            conn.execute(text("TRUNCATE audit_log"))
    assert len(audit.entries(store)) == 2
    # the retention purge never goes under six months, whatever it is asked
    assert audit.purge(store, keep_days=1) == 0
    found = audit.entries(store, candidate="K2")
    assert found["action"].tolist() == ["export"] and found["detail"][0]["count"] == 3
    assert audit.entries(store, candidate="K1")["action"].tolist() == ["export", "read"]
    assert audit.entries(store, actor="li", since=dt.date.today()).shape[0] == 2
    assert audit.entries(store, since=dt.date.today() + dt.timedelta(days=1)).empty


def test_entries_older_than_the_retention_are_purged(store: Engine) -> None:
    old = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(days=400)
    with store.begin() as conn:
        conn.execute(insert(AuditEntry).values(at=old, actor="key:1", action="read", target="x"))
    audit.record(store, WHO, "read", "y", ["K1"])
    assert audit.purge(store, keep_days=365) == 1
    assert audit.entries(store)["target"].tolist() == ["y"]


def test_forget_removes_the_person_everywhere_and_keeps_them_out(
    store: Engine, sample_copy: Path
) -> None:
    ingest_bundle(store, sample_copy)
    assert _values(store, ERASED)  # before: profile, events, outcome, truth ...
    with store.begin() as conn:
        removed = erasure.forget(conn, ERASED)
        audit.record(
            conn,
            WHO,
            "erase",
            "keepwarm forget",
            detail={"subject_hash": erasure.id_hash(ERASED)} | removed.as_dict(),
        )
    assert removed.candidates == 1 and removed.rows["events"] > 10 and removed.rows["outcomes"] == 1
    assert _values(store, ERASED) == []
    with store.connect() as conn:
        stones = conn.execute(select(Tombstone.id_hash, Tombstone.kind)).all()
    assert [tuple(s) for s in stones] == [(erasure.id_hash(ERASED), "erased")]
    # the erasure is in the log without the id, and found by it
    entry = audit.entries(store, candidate=ERASED)
    assert entry["action"].tolist() == ["erase"] and entry["candidate_id"].isna().all()
    # the old bundle again: everyone else reloads, the erased person does not come back
    report = ingest_bundle(store, sample_copy)
    assert report.skipped_erased == 1 and report.candidates_new == 0
    assert _values(store, ERASED) == []
    # an API write naming them is refused, and says why
    with pytest.raises(BundleError, match="erased") as caught:
        check_items(store, "events", [_question(ERASED)], "api:events:key:1", "f")
    assert caught.value.problems[0].index == 0


def _question(cid: str) -> dict[str, object]:
    return {
        "event_id": f"{cid}-x",
        "candidate_id": cid,
        "ts": "2022-11-01T10:00:00+08:00",
        "type": "candidate_question",
        "topic": "salary",
        "actor": "candidate",
    }


def test_a_candidates_row_without_consent_deletes_their_outside_signals(
    store: Engine, sample_copy: Path, tmp_path: Path
) -> None:
    ingest_bundle(store, sample_copy)
    with store.connect() as conn:
        signals = pd.read_sql(
            select(Event.candidate_id).where(Event.type == "external_signal"), conn
        )["candidate_id"]
    who = signals.value_counts().index[0]
    # the next delivery: that candidate's row with consent off, and no new events
    frame = pd.read_csv(sample_copy / "candidates.csv", dtype=str)
    frame = frame[frame["candidate_id"] == who].assign(consent_external_signals="false")
    later = tmp_path / "later"
    later.mkdir()
    frame.to_csv(later / "candidates.csv", index=False)
    header = (sample_copy / "events.csv").read_text().splitlines()[0]
    (later / "events.csv").write_text(header + "\n")
    report = ingest_bundle(store, later)
    assert report.signals_deleted == int((signals == who).sum()) > 0
    with store.connect() as conn:
        left = (
            conn.execute(select(Event.candidate_id).where(Event.type == "external_signal"))
            .scalars()
            .all()
        )
    assert who not in left and len(left) == len(signals) - report.signals_deleted
    # and the API's withdrawal call does the same for another
    other = next(c for c in left)
    with store.begin() as conn:
        assert erasure.withdraw_consent(conn, [other]) > 0
    with store.connect() as conn:
        assert not conn.execute(
            select(Candidate.consent_external_signals).where(Candidate.candidate_id == other)
        ).scalar_one()


@pytest.mark.parametrize("mode", ["pseudonymise", "delete"])
def test_retention_removes_people_whose_outcome_is_old(
    store: Engine, sample_copy: Path, mode: erasure.RetentionMode
) -> None:
    ingest_bundle(store, sample_copy)
    outcomes = pd.read_csv(sample_copy / "outcomes.csv", dtype=str)
    events = pd.read_csv(sample_copy / "events.csv", dtype=str)
    dates = pd.to_datetime(outcomes["outcome_date"]).dt.date
    year = dt.timedelta(days=365)
    assert erasure.retire(store, dates.min() + year, keep_days=365, mode=mode)[0] == []
    # a year after the reneges of the autumn, only they are due
    day = dates.max() + year
    early = sorted(outcomes.loc[dates < dates.max(), "candidate_id"])
    assert 0 < len(early) < len(outcomes)
    ids, removed = erasure.retire(store, day, keep_days=365, mode=mode)
    assert ids == early and removed.candidates == len(ids)
    assert events.loc[events["candidate_id"].isin(ids), "text"].notna().any()
    for cid in ids:
        assert _values(store, cid) == []
    with store.connect() as conn:
        left = pd.read_sql(text("SELECT * FROM candidates"), conn)
        texts = pd.read_sql(
            text("SELECT text FROM events WHERE candidate_id LIKE 'anon-%' AND text IS NOT NULL"),
            conn,
        )
    if mode == "pseudonymise":
        anon = left[left["candidate_id"].str.startswith("anon-")]
        assert len(anon) == len(ids)
        assert anon["school"].isna().all() and anon["birthday"].isna().all()
        assert anon["school_tier"].notna().all()  # what training needs is kept
        assert texts.empty  # their questions' words are gone
    else:
        assert not left["candidate_id"].isin(ids).any()
    assert ingest_bundle(store, sample_copy).skipped_erased == len(ids)
    # a second run finds nothing more to do
    assert erasure.retire(store, day, keep_days=365, mode=mode)[0] == []


def test_reads_are_written_in_batches_and_at_close(store: Engine) -> None:
    reads = audit.ReadLog(store, every=60)  # no timed flush during the test
    for n in range(3):
        reads.add(WHO, "read", "GET /v1/candidates/{id}", [f"K{n}"])
    assert audit.entries(store).empty  # queued
    assert reads.flush() == 3 and len(audit.entries(store)) == 3
    reads.add(WHO, "read", "x", ["K9"])
    reads.close()  # shutting down writes the rest
    assert audit.entries(store, candidate="K9")["target"].tolist() == ["x"]

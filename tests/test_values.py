"""Values as HR spreadsheets and ATSs really send them: normalised first, then checked.

Every case is stored with the right value (read back from the store) or refused naming
file, row and column with the store unchanged, on SQLite and PostgreSQL; the bundle,
the API and the Greenhouse webhook give the same answer for the same values.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, String, inspect, select, text

from config import get_settings
from store.bundle import BundleError
from store.contract import TABLES
from store.ingest import count_rows, ingest_bundle
from store.schema import Base, Candidate, Event
from tests.conftest import assert_same, migrated_store, snapshot
from tests.serving.test_greenhouse import deliver, fixture

CANDIDATE = {
    "candidate_id": "C0001",
    "season": "2025-autumn",
    "school": "某大学",
    "school_tier": "2",
    "major": "计算机",
    "degree": "master",
    "role_family": "tech",
    "department": "研发部",
    "work_city": "上海",
    "home_city": "",
    "hr_owner": "hr01",
    "birthday": "",
    "start_date": "2026-07-06",
    "consent_external_signals": "false",
}
EVENT = {
    "event_id": "E1",
    "candidate_id": "C0001",
    "ts": "2025-10-10T10:00:00+08:00",
    "type": "interview_completed",
    "value": "4",
}


def _csv(path: Path, rows: list[dict[str, Any]], bom: bool = False, crlf: bool = False) -> None:
    """Rows written as a spreadsheet would: exactly these characters, no quoting."""
    columns = list(dict.fromkeys(k for r in rows for k in r))
    lines = [",".join(columns), *(",".join(str(r.get(c, "")) for c in columns) for r in rows)]
    end = "\r\n" if crlf else "\n"
    data = ("\ufeff" if bom else "") + end.join(lines) + end
    path.write_bytes(data.encode())


def _bundle(
    folder: Path,
    candidates: list[dict[str, Any]] | None = None,
    events: list[dict[str, Any]] | None = None,
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    _csv(folder / "candidates.csv", candidates or [CANDIDATE])
    _csv(folder / "events.csv", events if events is not None else [EVENT])
    return folder


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def module_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """One migrated store per database for this module's many small cases (``store``
    empties it for each): creating and migrating a store per case cost more than the case."""
    engine = migrated_store(request, tmp_path_factory.mktemp("values"))
    yield engine
    engine.dispose()


@pytest.fixture
def store(module_store: Engine) -> Engine:
    """``module_store`` with every table emptied (ids counting from 1 again): as new. The
    audit log is append-only (its triggers refuse this); nothing here writes it: checked."""
    skip = ("alembic_version", "audit_log")
    tables = [t for t in inspect(module_store).get_table_names() if t not in skip]
    known = [t.name for t in reversed(Base.metadata.sorted_tables)]  # children first
    ordered = [t for t in tables if t not in known] + [t for t in known if t in tables]
    with module_store.begin() as conn:
        if module_store.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(ordered)} RESTART IDENTITY CASCADE"))
        else:
            for table in ordered:
                conn.execute(text(f"DELETE FROM {table}"))
            counters = "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'"
            if conn.execute(text(counters)).first():  # AUTOINCREMENT's next ids
                conn.execute(text("DELETE FROM sqlite_sequence"))
        assert conn.execute(text("SELECT COUNT(*) FROM audit_log")).scalar_one() == 0
    return module_store


# --- spaces, full-width forms, offsets: stored right, and said ------------------------------

# (table, column, as sent, SQL reading the stored value, stored value)
NORMALISED = {
    "trailing space in an id": ("candidates", "candidate_id", "C0001 ", "candidate_id", "C0001"),
    "leading space in an id": ("candidates", "candidate_id", " C0001", "candidate_id", "C0001"),
    "tab": ("candidates", "candidate_id", "C0001\t", "candidate_id", "C0001"),
    "non-breaking space": ("candidates", "candidate_id", "\u00a0C0001", "candidate_id", "C0001"),
    "ideographic space": ("candidates", "candidate_id", "C0001\u3000", "candidate_id", "C0001"),
    "full-width id": ("candidates", "candidate_id", "Ｃ０００１", "candidate_id", "C0001"),
    "full-width tier": ("candidates", "school_tier", "２", "school_tier", 2),
    "tier written 2.0": ("candidates", "school_tier", "2.0", "school_tier", 2),
    "full-width date": (
        "candidates",
        "start_date",
        "２０２６-０７-０６",
        "start_date",
        "2026-07-06",
    ),
    "midnight timestamp as date": (
        "candidates",
        "start_date",
        "2026-07-06T00:00:00",
        "start_date",
        "2026-07-06",
    ),
    "midnight with a space": (
        "candidates",
        "start_date",
        "2026-07-06 00:00:00",
        "start_date",
        "2026-07-06",
    ),
    "spaced enum": ("candidates", "degree", " master ", "degree", "master"),
    "spaced flag": ("candidates", "consent_external_signals", " true", "consent", True),
    "spaced name is trimmed only": ("candidates", "school", " Ｘ大学 ", "school", "Ｘ大学"),
    "basic offset then a space": (
        "events",
        "ts",
        "2025-10-10T10:00:00+0800 ",
        "ts",
        ("2025-10-10 02:00:00", 480),
    ),
    "hour-only offset": (
        "events",
        "ts",
        "2025-10-10T10:00:00+08",
        "ts",
        ("2025-10-10 02:00:00", 480),
    ),
    "Z then a tab": ("events", "ts", "2025-10-10T02:00:00Z\t", "ts", ("2025-10-10 02:00:00", 0)),
    "full-width timestamp": (
        "events",
        "ts",
        "２０２５-１０-１０T１０:００:００+０８:００",
        "ts",
        ("2025-10-10 02:00:00", 480),
    ),
    "spaced number": ("events", "value", " 4.5\u00a0", "value", 4.5),
    "spaced event id": ("events", "event_id", "E1 ", "event_id", "E1"),
}

# formats the contract accepts as written (no text changed, so nothing to report)
READ_AS_WRITTEN = {
    "tier written 2.0",
    "hour-only offset",
    "midnight timestamp as date",
    "midnight with a space",
}
_READ = {
    "candidate_id": Candidate.candidate_id,
    "school_tier": Candidate.school_tier,
    "start_date": Candidate.start_date,
    "degree": Candidate.degree,
    "consent": Candidate.consent_external_signals,
    "school": Candidate.school,
    "value": Event.value,
    "event_id": Event.event_id,
}


@pytest.mark.parametrize("case", sorted(NORMALISED))
def test_values_are_normalised_then_stored(case: str, store: Engine, tmp_path: Path) -> None:
    table, column, sent, read, stored = NORMALISED[case]
    cand, event = dict(CANDIDATE), dict(EVENT)
    (cand if table == "candidates" else event)[column] = sent
    report = ingest_bundle(store, _bundle(tmp_path / "b", [cand], [event]))
    with store.connect() as conn:
        if read == "ts":
            row = conn.execute(select(Event.ts_utc, Event.utc_offset_min)).one()
            assert (str(row[0]), row[1]) == stored
        else:
            got = conn.execute(select(_READ[read])).scalar_one()
            assert (str(got) if isinstance(got, dt.date) else got) == stored
    if case not in READ_AS_WRITTEN:
        assert report.normalised == {f"{table}.csv {column}": 1}
        assert "normalised 1 values" in report.summary()


# --- refusals: file, row and column named, nothing loaded -----------------------------------

MESSY_CANDIDATE = {**CANDIDATE, "school_tier": "2.0", "start_date": "2026-07-06 00:00:00"}
MESSY_EVENT = {**EVENT, "ts": "2025-10-10T10:00:00+08 "}
# (table, column, as sent, words in the message)
REFUSED = {
    "inf": ("events", "value", "inf", "finite number"),
    "-inf": ("events", "value", "-inf", "finite number"),
    "nan": ("events", "value", "nan", "finite number"),
    "1e400": ("events", "value", "1e400", "finite number"),
    "tier 2.5": ("candidates", "school_tier", "2.5", "1, 2 or 3"),
    "a time in a date": ("candidates", "start_date", "2026-07-06T10:00:00", "or that day at 00:00"),
    "instant out of range": ("events", "ts", "0001-01-01T00:00:00+14:00", "between"),
    "offset too large": ("events", "ts", "2025-10-10T10:00:00+15", "offset"),
    "70-character id": ("candidates", "candidate_id", "C" * 70, "1 to 64"),
    "slash in an id": ("candidates", "candidate_id", "C0/01", "id"),
    "space inside an id": ("candidates", "candidate_id", "C0 01", "id"),
    "percent in an id": ("candidates", "candidate_id", "C0%01", "id"),
    "hash in an event id": ("events", "event_id", "E#1", "id"),
    "long hr_owner": ("candidates", "hr_owner", "h" * 65, "1 to 64"),
    "long department": ("candidates", "department", "部" * 201, "longer than 200"),
    "long season": ("candidates", "season", "s" * 33, "longer than 32"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_bad_values_are_refused_naming_file_row_and_column(
    case: str, store: Engine, tmp_path: Path
) -> None:
    ingest_bundle(store, _bundle(tmp_path / "before"))
    before, batches = snapshot(store), count_rows(store)["batches"]
    table, column, sent, words = REFUSED[case]
    # the other cells as exports write them: valid, and not named
    cand = {**MESSY_CANDIDATE, "candidate_id": "C0002"}
    event = {**MESSY_EVENT, "event_id": "E2", "candidate_id": "C0002"}
    (cand if table == "candidates" else event)[column] = sent
    if table == "candidates" and column == "candidate_id":
        event["candidate_id"] = "C0001"
    with pytest.raises(BundleError) as err:
        ingest_bundle(store, _bundle(tmp_path / "bad", [CANDIDATE, cand], [EVENT, event]))
    message = str(err.value)
    assert f"{table}.csv, row 3, column {column}" in message
    assert words in message and "Traceback" not in message
    assert len(err.value.problems) == 1, message
    assert_same(before, snapshot(store))
    assert count_rows(store)["batches"] == batches


@pytest.mark.parametrize("table", ["candidates", "events"])
def test_keys_that_differ_by_spaces_are_one_key_and_both_rows_are_named(
    table: str, store: Engine, tmp_path: Path
) -> None:
    if table == "candidates":
        cands = [CANDIDATE, {**CANDIDATE, "candidate_id": "C0001 ", "department": "销售部"}]
        events = [EVENT]
    else:
        cands = [CANDIDATE]
        events = [EVENT, {**EVENT, "event_id": "E1\u00a0", "value": "5"}]
    with pytest.raises(BundleError) as err:
        ingest_bundle(store, _bundle(tmp_path / "b", cands, events))
    message = str(err.value)
    assert f"{table}.csv, row 3, column" in message and "the same as row 2" in message
    assert count_rows(store)["candidates"] == 0


def test_a_redelivered_event_differing_by_a_space_is_one_event(
    store: Engine, tmp_path: Path
) -> None:
    report = ingest_bundle(
        store, _bundle(tmp_path / "b", events=[EVENT, {**EVENT, "event_id": "E1 "}])
    )
    # one event delivered twice in one file: one new event, none "already known"
    assert (report.events_new, report.events_known, count_rows(store)["events"]) == (1, 0, 1)


# --- files: byte-order marks, CRLF, JSON Lines, Parquet ---------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_byte_order_mark_and_crlf_are_read(fmt: str, store: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "b"
    folder.mkdir()
    cand = {**CANDIDATE, "school_tier": "2.0"}
    if fmt == "csv":
        _csv(folder / "candidates.csv", [cand], bom=True, crlf=True)
        _csv(folder / "events.csv", [EVENT], bom=True, crlf=True)
    else:
        for name, row in (("candidates", {**cand, "school_tier": 2.0}), ("events", EVENT)):
            data = "\ufeff" + json.dumps(row, ensure_ascii=False) + "\r\n"
            (folder / f"{name}.jsonl").write_bytes(data.encode())
    ingest_bundle(store, folder)
    with store.connect() as conn:
        row = conn.execute(
            select(
                Candidate.candidate_id, Candidate.school_tier, Candidate.consent_external_signals
            )
        ).one()
        event = conn.execute(select(Event.event_id, Event.ts_utc, Event.value)).one()
    assert tuple(row) == ("C0001", 2, False)
    assert (event[0], str(event[1]), event[2]) == ("E1", "2025-10-10 02:00:00", 4.0)


@pytest.mark.parametrize("kind", ["date32", "timestamp"])
def test_parquet_dates_and_integral_floats(kind: str, store: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "b"
    folder.mkdir()
    cands = pd.DataFrame([CANDIDATE, {**CANDIDATE, "candidate_id": "C0002"}])
    days = [dt.date(2026, 7, 6), None]
    cands["start_date"] = (
        pd.Series(days, dtype="date32[pyarrow]")
        if kind == "date32"
        else pd.to_datetime(pd.Series(days))  # how pandas writes a date column
    )
    cands["school_tier"] = [2.0, None]  # an int column with a blank, as pandas writes it
    cands.to_parquet(folder / "candidates.parquet")
    _csv(folder / "events.csv", [EVENT])
    ingest_bundle(store, folder)
    with store.connect() as conn:
        rows = conn.execute(
            select(Candidate.start_date, Candidate.school_tier).order_by(Candidate.candidate_id)
        ).all()
    assert [(str(r[0]) if r[0] else None, r[1]) for r in rows] == [("2026-07-06", 2), (None, None)]


def test_parquet_time_of_day_in_a_date_column_is_refused(store: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "b"
    folder.mkdir()
    cands = pd.DataFrame([CANDIDATE])
    cands["start_date"] = pd.to_datetime(["2026-07-06 10:30:00"])
    cands.to_parquet(folder / "candidates.parquet")
    _csv(folder / "events.csv", [EVENT])
    with pytest.raises(
        BundleError, match=re.escape("candidates.parquet, row 1, column start_date")
    ):
        ingest_bundle(store, folder)
    with pytest.raises(BundleError, match=r"or that day at 00:00"):
        ingest_bundle(store, folder)
    assert count_rows(store)["candidates"] == 0


def test_infinite_values_from_parquet_are_refused(store: Engine, tmp_path: Path) -> None:
    folder = _bundle(tmp_path / "b")
    (folder / "events.csv").unlink()
    events = pd.DataFrame([EVENT, {**EVENT, "event_id": "E2"}])
    events["value"] = [4.0, float("inf")]
    events.to_parquet(folder / "events.parquet")
    with pytest.raises(
        BundleError, match=re.escape("events.parquet, row 2, column value: must be a finite")
    ):
        ingest_bundle(store, folder)
    assert count_rows(store)["events"] == 0


def test_contract_lengths_are_the_store_columns() -> None:
    """The gate's limits are the store's: PostgreSQL never refuses what SQLite took."""
    tables = {"truth": "sim_truth"}
    for spec in TABLES:
        columns = Base.metadata.tables[tables.get(spec.name, spec.name)].columns
        for f in spec.fields:
            if f.name not in columns:  # ts: stored as ts_utc, utc_offset_min, local_day
                continue
            kind = columns[f.name].type
            length = kind.length if isinstance(kind, String) else None
            assert f.max_length == length, (spec.name, f.name)


# --- the same rules on every path: bundle, API, Greenhouse webhook ---------------------------

SECRET = b"gh-test-secret"  # the one tests.serving.test_greenhouse signs with


@dataclass
class Paths:
    client: TestClient  # the service, for the API and the webhook
    key: str  # an ATS key
    engine: Engine  # the service's store
    bundle_store: Engine  # another empty store of the same kind, for the bundle


@pytest.fixture(params=["sqlite", "postgres"])
def paths(
    request: pytest.FixtureRequest,
    keepwarm_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Paths]:
    """The service on a fresh store (no model: writes need none), and a store for bundles."""
    from serving.auth import create_key
    from serving.main import create_app
    from store.db import make_engine, migrate, open_store

    if request.param == "postgres":
        server = request.getfixturevalue("pg_server")
        monkeypatch.setenv("KEEPWARM_DATABASE_URL", server.create_database())
        bundle_store = make_engine(server.create_database())
    else:
        bundle_store = make_engine(f"sqlite:///{tmp_path / 'bundle.db'}")
    migrate(bundle_store)
    monkeypatch.setenv("KEEPWARM_MODEL_POLL_SECONDS", "0")
    monkeypatch.setenv("KEEPWARM_GREENHOUSE_SECRET", SECRET.decode())
    monkeypatch.setenv("KEEPWARM_RATE_LIMIT", "100000/second")
    get_settings.cache_clear()
    engine = open_store(get_settings())
    key = create_key(engine, "ats").key
    with TestClient(create_app(get_settings()), raise_server_exceptions=False) as client:
        yield Paths(client, key, engine, bundle_store)
    engine.dispose()
    bundle_store.dispose()


def _deliver(client: TestClient, name: str, n: int, **changes: Any) -> Any:
    return deliver(client, fixture(name, **changes), f"evt-{name}-{n}")


# ids as an ATS or a spreadsheet sends them -> the stored id, or None for refused
IDS = {
    "张三-01": "张三-01",
    "C0001 ": "C0001",
    "Ｃ０００２": "C0002",
    "mail@corp.example": "mail@corp.example",
    "C" * 70: None,
    "a/b": None,
    "a b": None,
}


def _rows(sent: str) -> tuple[dict[str, Any], dict[str, Any]]:
    cand = {
        **CANDIDATE,
        "candidate_id": sent,
        "school_tier": "2.0",
        "start_date": "2026-07-06 00:00:00",
        "degree": " master",
    }
    event = {
        **EVENT,
        "candidate_id": sent,
        "event_id": f"E-{sent}",
        "ts": "2025-10-10T10:00:00+0800 ",
    }
    return cand, event


_PROFILE = select(
    Candidate.candidate_id,
    Candidate.season,
    Candidate.school,
    Candidate.school_tier,
    Candidate.degree,
    Candidate.home_city,
    Candidate.birthday,
    Candidate.start_date,
    Candidate.consent_external_signals,
).order_by(Candidate.candidate_id)
_EVENTS = (
    select(
        Event.event_id,
        Event.candidate_id,
        Event.ts_utc,
        Event.utc_offset_min,
        Event.local_day,
        Event.type,
        Event.value,
    )
    .where(~Event.event_id.startswith("gh-"))
    .order_by(Event.event_id)
)


def _stored(engine: Engine) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    with engine.connect() as conn:
        return (
            [tuple(map(str, r)) for r in conn.execute(_PROFILE)],
            [tuple(map(str, r)) for r in conn.execute(_EVENTS)],
        )


def test_the_same_rows_give_the_same_result_on_every_path(paths: Paths, tmp_path: Path) -> None:
    client, key, engine, bundle_store = paths.client, paths.key, paths.engine, paths.bundle_store
    headers = {"Authorization": f"Bearer {key}"}
    for n, (sent, expected) in enumerate(IDS.items()):
        cand, event = _rows(sent)
        # 1. a bundle folder
        try:
            ingest_bundle(bundle_store, _bundle(tmp_path / f"b{n}", [cand], [event]))
            by_bundle: str | None = "stored"
        except BundleError as exc:
            assert "candidates.csv, row 2, column candidate_id" in str(exc)
            by_bundle = None
        # 2. the API, with "" for the empty optional fields as ATSs send them
        r1 = client.post("/v1/candidates", json=[cand], headers=headers)
        r2 = client.post("/v1/events", json=[event], headers=headers)
        if r1.status_code == 422:
            problem = r1.json()["error"]["problems"][0]
            assert (problem["index"], problem["field"]) == (0, "candidate_id")
            assert sent.strip() not in r1.text  # the body names, never echoes
        by_api = "stored" if (r1.status_code, r2.status_code) == (200, 200) else None
        # 3. a Greenhouse application with that external id, then an offer for it
        app_id, offer_id = 7000 + n, 8000 + n
        candidate = {"external_id": sent, "id": 900 + n}
        link = _deliver(
            client,
            "new_candidate_application",
            n,
            payload__application__id=app_id,
            payload__application__candidate=candidate,
        )
        offer = _deliver(
            client,
            "offer_created",
            n,
            payload__application_id=app_id,
            payload__id=offer_id,
            payload__start_date="",  # the profile's start date stays the one sent above
        )
        by_webhook = None
        if link.status_code == 200:
            assert offer.json()["status"] == "applied"
            with engine.connect() as conn:
                got = conn.execute(
                    text("SELECT DISTINCT candidate_id FROM events WHERE event_id LIKE :e"),
                    {"e": f"gh-offer-{offer_id}-%"},
                ).scalar_one()
            assert got == expected
            by_webhook = "stored"
        else:
            assert link.status_code == 422 and "external_id" in link.text
        outcome = "stored" if expected else None
        assert (by_bundle, by_api, by_webhook) == (outcome, outcome, outcome), sent
    # what the bundle and the API stored is the same, value for value
    assert _stored(bundle_store) == _stored(engine)
    profiles, events = _stored(engine)
    assert [p[0] for p in profiles] == sorted(v for v in IDS.values() if v)
    assert {(p[3], p[4], p[5], p[6], p[7]) for p in profiles} == {
        ("2", "master", "None", "None", "2026-07-06")
    }
    assert {(e[2], e[3]) for e in events} == {("2025-10-10 02:00:00", "480")}


def test_api_items_are_named_never_echoed(paths: Paths) -> None:
    """Infinity, a 70-character id: refused naming item and field; an id like 张三-01 works
    in a path too."""
    from serving.auth import create_key

    client, headers = paths.client, {"Authorization": f"Bearer {paths.key}"}
    cand = {**CANDIDATE, "candidate_id": "张三-01", "school_tier": 2.0, "school": ""}
    assert client.post("/v1/candidates", json=[cand], headers=headers).status_code == 200
    for number in ("Infinity", "-Infinity", "NaN", "1e400"):  # Python's JSON reads them all
        event = json.dumps([{**EVENT, "candidate_id": "张三-01"}]).replace('"4"', number)
        r = client.post(
            "/v1/events", content=event, headers={**headers, "Content-Type": "application/json"}
        )
        assert r.status_code == 422 and number not in r.text and "inf" not in r.text, number
        problems = r.json()["error"]["problems"]
        assert [(p["index"], p["field"]) for p in problems] == [(0, "value")], number
    long_id = "Q" * 70
    r = client.post("/v1/candidates", json=[{**cand, "candidate_id": long_id}], headers=headers)
    assert r.status_code == 422 and long_id not in r.text
    assert r.json()["error"]["problems"][0]["field"] == "candidate_id"
    lead = {"Authorization": f"Bearer {create_key(paths.engine, 'lead').key}"}
    assert client.get("/v1/candidates/张三-01", headers=lead).status_code != 422
    assert client.get("/v1/candidates/a%20b", headers=lead).status_code == 422
    with paths.engine.connect() as conn:
        stored = conn.execute(select(Candidate.school_tier, Candidate.school)).one()
    assert tuple(stored) == (2, None)
    assert count_rows(paths.engine)["events"] == 0


def test_ingest_says_what_it_normalised(tmp_path: Path, keepwarm_home: Path) -> None:
    """keepwarm ingest prints the counts per file and column, never the values."""
    from tests.conftest import run_cli

    cand = {**CANDIDATE, "candidate_id": "Ｃ０００１", "school": " 私人大学 "}
    event = {**EVENT, "ts": "2025-10-10T10:00:00+0800\u00a0"}
    done = run_cli("ingest", str(_bundle(tmp_path / "b", [cand], [event])), home=keepwarm_home)
    assert done.returncode == 0, done.stderr
    assert (
        "normalised 3 values (blanks trimmed, full-width forms made plain): "
        "candidates.csv candidate_id 1, candidates.csv school 1, events.csv ts 1"
    ) in done.stdout + done.stderr
    assert "私人" not in done.stdout + done.stderr

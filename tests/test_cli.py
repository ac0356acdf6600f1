"""The console script as a user runs it: exit codes, messages, no tracebacks."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, text

from store.db import open_store
from tests.conftest import SAMPLE, DemoRun, run_cli


def test_simulate_then_ingest_then_ingest_again(tmp_path: Path, keepwarm_home: Path) -> None:
    out = tmp_path / "bundles"
    sim = run_cli(
        "simulate",
        str(out),
        "--seasons",
        "2023,2024",
        "--candidates",
        "120",
        "--seed",
        "9",
        home=keepwarm_home,
    )
    assert sim.returncode == 0, sim.stderr
    assert {p.name for p in out.iterdir()} == {"2023-autumn", "2024-autumn"}
    for name in ("candidates", "events", "outcomes", "content", "truth"):
        assert (out / "2023-autumn" / f"{name}.csv").is_file()
    first = run_cli("ingest", str(out / "2023-autumn"), home=keepwarm_home)
    assert first.returncode == 0, first.stderr
    assert "candidates 120 new" in first.stdout
    again = run_cli("ingest", str(out / "2023-autumn"), home=keepwarm_home)
    assert again.returncode == 0
    assert "events 0 new" in again.stdout
    assert (keepwarm_home / "keepwarm.db").is_file()


def test_bad_bundle_exits_1_with_file_row_column_and_no_traceback(
    tmp_path: Path, keepwarm_home: Path
) -> None:
    bundle = tmp_path / "bad"
    shutil.copytree(SAMPLE, bundle)
    events = pd.read_csv(bundle / "events.csv", dtype=str, keep_default_na=False)
    events.loc[2, "type"] = "offer_maybe"
    events.loc[2, "text"] = "私人问题-MARKER"
    events.to_csv(bundle / "events.csv", index=False)
    done = run_cli("ingest", str(bundle), home=keepwarm_home)
    assert done.returncode == 1
    assert "events.csv, row 4, column type" in done.stderr
    assert "nothing was loaded" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert "MARKER" not in done.stderr + done.stdout


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("ingest", "/no/such/bundle"), "no bundle folder"),
        (("simulate", "x", "--seasons", "autumn"), "not a year"),
        (("simulate", "x", "--candidates", "0"), "--candidates"),
        (("frobnicate",), "No such command"),
    ],
)
def test_user_errors_exit_1_without_traceback(
    args: tuple[str, ...], words: str, keepwarm_home: Path
) -> None:
    done = run_cli(*args, home=keepwarm_home)
    assert done.returncode == 1
    assert words in done.stderr
    assert "Traceback" not in done.stderr


def test_demo_loads_two_past_seasons_and_one_in_progress(
    demo_run: DemoRun, keepwarm_home: Path
) -> None:
    from sqlalchemy import func, select

    from config import get_settings
    from store.schema import Event, Outcome, Score

    # demo_run ran `keepwarm demo --candidates 60` (and checked it exited 0)
    shutil.copytree(demo_run.home, keepwarm_home)
    for season in ("2023-autumn", "2024-autumn", "2025-autumn"):
        assert f"simulated {season}" in demo_run.stdout
    assert "store now holds: candidates 1" in demo_run.stdout
    engine = open_store(get_settings())
    with engine.connect() as conn:
        last_event = conn.execute(select(func.max(Event.local_day))).scalar()
        last_outcome = conn.execute(select(func.max(Outcome.outcome_date))).scalar()
        runs = conn.execute(select(Score.as_of).distinct().order_by(Score.as_of)).scalars().all()
    # the 2025 season is in progress: the store knows nothing after the demo's today
    today = dt.date(2025, 12, 1)
    assert last_event <= today and last_outcome <= today
    assert runs == [today - dt.timedelta(days=7), today]


def test_keys_create_prints_the_key_alone_on_the_last_line(keepwarm_home: Path) -> None:
    from config import get_settings
    from serving.auth import KeyCache
    from store.db import open_store

    done = run_cli("keys", "create", "--role", "hr", "--owner", "hr07", home=keepwarm_home)
    assert done.returncode == 0, done.stderr
    key = done.stdout.strip().splitlines()[-1]
    assert key.startswith("kw_") and " " not in key and len(key) > 40
    principal = KeyCache(open_store(get_settings())).lookup(key)
    assert principal is not None and (principal.role, principal.hr_owner) == ("hr", "hr07")

    listed = run_cli("keys", "list", home=keepwarm_home)
    assert "hr07" in listed.stdout and key not in listed.stdout  # only a prefix is ever shown
    db = (keepwarm_home / "keepwarm.db").read_bytes()
    assert key.encode() not in db  # stored hashed

    revoked = run_cli("keys", "revoke", str(principal.key_id), home=keepwarm_home)
    assert revoked.returncode == 0
    assert KeyCache(open_store(get_settings())).lookup(key) is None


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--role", "hr"), "needs --owner"),
        (("--role", "lead", "--owner", "hr01"), "hr keys only"),
        (("--role", "root"), "--role must be one of"),
    ],
)
def test_keys_create_refuses_bad_roles(
    args: tuple[str, ...], words: str, keepwarm_home: Path
) -> None:
    done = run_cli("keys", "create", *args, home=keepwarm_home)
    assert done.returncode == 1
    assert words in done.stderr and "Traceback" not in done.stderr


def test_forget_consent_retention_and_audit_from_the_cli(served_home: Path, engine: Engine) -> None:
    with engine.connect() as conn:
        cid, other = [r[0] for r in conn.execute(text(
            "SELECT candidate_id FROM candidates ORDER BY candidate_id LIMIT 2"))]  # fmt: skip
    assert run_cli("forget", cid, home=served_home).returncode == 1  # asks; no answer: no
    done = run_cli("forget", cid, "--yes", home=served_home)
    assert done.returncode == 0, done.stderr
    removed = json.loads(done.stdout.strip().splitlines()[-1])["removed"]
    assert removed["candidates"] == 1 and removed["events"] > 0
    assert "no candidate" in run_cli("forget", cid, "--yes", home=served_home).stderr
    consent = run_cli("withdraw-consent", other, home=served_home)
    assert consent.returncode == 0 and "outside signals deleted" in consent.stdout
    # the small seasons' outcomes are all before July 2025: a year and a half on, all are due
    kept = run_cli("retention", "--today", "2026-12-31", home=served_home, timeout=600)
    assert kept.returncode == 0, kept.stderr[-2000:]
    result = json.loads(kept.stdout.strip().splitlines()[-1])
    assert result["candidates"] > 700 and result["mode"] == "pseudonymise"
    with engine.connect() as conn:
        named = conn.execute(
            text("SELECT COUNT(*) FROM candidates WHERE candidate_id NOT LIKE 'anon-%'")
        ).scalar_one()
    assert named == 0
    listed = run_cli("audit", "--json", home=served_home)
    assert listed.returncode == 0, listed.stderr
    entries = [json.loads(line) for line in listed.stdout.splitlines()]
    actions = [e["action"] for e in entries]
    assert {"erase", "consent_withdrawn", "pseudonymise"} <= set(actions)
    assert all(e["actor"].startswith(("cli:", "flow:")) for e in entries)
    erased = run_cli("audit", "--candidate", cid, home=served_home)
    assert "erase" in erased.stdout and cid not in erased.stdout  # found by id, shown by hash

"""The console script as a user runs it: exit codes, messages, no tracebacks."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
import pytest
from sqlalchemy import Engine, text

from config import get_settings
from store.db import make_engine, migrate, open_store
from store.pgserver import PostgresServer
from tests.conftest import KEEPWARM, SAMPLE, DemoRun, PrefectServer, cli_here, run_cli


def test_simulate_then_ingest_then_ingest_again(tmp_path: Path, keepwarm_home: Path) -> None:
    # `simulate` runs as a user runs it, in a process of its own; the ingests are answered
    # by the CLI's entry point in this process (cli_here: the other ingest tests run it in
    # a process). 40 candidates a season: their number is checked, not a season's size.
    out = tmp_path / "bundles"
    sim = run_cli(
        "simulate",
        str(out),
        "--seasons",
        "2023,2024",
        "--candidates",
        "40",
        "--seed",
        "9",
        home=keepwarm_home,
    )
    assert sim.returncode == 0, sim.stderr
    assert {p.name for p in out.iterdir()} == {"2023-autumn", "2024-autumn"}
    for name in ("candidates", "events", "outcomes", "content", "truth"):
        assert (out / "2023-autumn" / f"{name}.csv").is_file()
    first = cli_here("ingest", str(out / "2023-autumn"))
    assert first.returncode == 0, first.stderr
    assert "candidates 40 new" in first.stdout
    again = cli_here("ingest", str(out / "2023-autumn"))
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
        (("policy-eval", "--first-day", "02-29"), "--first-day: expected MM-DD"),
        (("policy-eval", "--first-day", "09-01"), "--first-day: expected MM-DD"),
        (("frobnicate",), "No such command"),
    ],
)
def test_user_errors_exit_1_without_traceback(
    args: tuple[str, ...], words: str, keepwarm_home: Path
) -> None:
    done = cli_here(*args)  # the entry point's answer (the bundle test: in a process)
    assert done.returncode == 1
    assert words in done.stderr
    assert "Traceback" not in done.stderr


def test_demo_loads_two_past_seasons_and_one_in_progress(
    demo_run: DemoRun, keepwarm_home: Path
) -> None:
    from sqlalchemy import func, select

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
    from serving.auth import KeyCache
    from store.db import open_store

    done = run_cli("keys", "create", "--role", "hr", "--owner", "hr07", home=keepwarm_home)
    assert done.returncode == 0, done.stderr
    key = done.stdout.strip().splitlines()[-1]
    assert key.startswith("kw_") and " " not in key and len(key) > 40
    principal = KeyCache(open_store(get_settings())).lookup(key)
    assert principal is not None and (principal.role, principal.hr_owner) == ("hr", "hr07")

    # what a script reads off the process's last line: the create runs in a process of its
    # own; listing and revoking are answered by the CLI's entry point here (cli_here)
    listed = cli_here("keys", "list")
    assert "hr07" in listed.stdout and key not in listed.stdout  # only a prefix is ever shown
    db = (keepwarm_home / "keepwarm.db").read_bytes()
    assert key.encode() not in db  # stored hashed

    revoked = cli_here("keys", "revoke", str(principal.key_id))
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
    done = cli_here("keys", "create", *args)
    assert done.returncode == 1
    assert words in done.stderr and "Traceback" not in done.stderr


def test_forget_consent_retention_and_audit_from_the_cli(
    served_home: Path, engine: Engine, prefect_server: PrefectServer
) -> None:
    # The retention run is the one that needs a process of its own (Prefect configured
    # before its import, the run's server); forget, consent and audit are answered by the
    # CLI's entry point in this process (cli_here): a process each cost seconds of CPU.
    with engine.connect() as conn:
        cid, other = [r[0] for r in conn.execute(text(
            "SELECT candidate_id FROM candidates ORDER BY candidate_id LIMIT 2"))]  # fmt: skip
    assert cli_here("forget", cid).returncode == 1  # asks; no answer: no
    done = cli_here("forget", cid, "--yes")
    assert done.returncode == 0, done.stderr
    removed = json.loads(done.stdout.strip().splitlines()[-1])["removed"]
    assert removed["candidates"] == 1 and removed["events"] > 0
    assert "no such candidate" in cli_here("forget", cid, "--yes").stderr
    consent = cli_here("withdraw-consent", other)
    assert consent.returncode == 0 and "outside signals deleted" in consent.stdout
    # the small seasons' outcomes are all before July 2025: a year and a half on, all are due
    kept = run_cli(
        "retention", "--today", "2026-12-31", home=served_home, timeout=600,
        prefect_api=prefect_server.url,
    )  # fmt: skip
    assert kept.returncode == 0, kept.stderr[-2000:]
    result = json.loads(kept.stdout.strip().splitlines()[-1])
    assert result["candidates"] > 700 and result["mode"] == "pseudonymise"
    with engine.connect() as conn:
        named = conn.execute(
            text("SELECT COUNT(*) FROM candidates WHERE candidate_id NOT LIKE 'anon-%'")
        ).scalar_one()
    assert named == 0
    listed = cli_here("audit", "--json")
    assert listed.returncode == 0, listed.stderr
    entries = [json.loads(line) for line in listed.stdout.splitlines()]
    actions = [e["action"] for e in entries]
    assert {"erase", "consent_withdrawn", "pseudonymise"} <= set(actions)
    assert all(e["actor"].startswith(("cli:", "flow:")) for e in entries)
    erased = cli_here("audit", "--candidate", cid)
    assert "erase" in erased.stdout and cid not in erased.stdout  # found by id, shown by hash


@dataclass
class BusyCore:
    """A core to keep busy with a busy loop from ``start()`` to ``stop()``, for a process
    started with ``preexec_fn=pin`` to share."""

    core: int
    loop: subprocess.Popen[bytes] | None = None

    def pin(self) -> None:
        os.sched_setaffinity(0, {self.core})

    def start(self) -> None:
        if self.loop is None:
            self.loop = subprocess.Popen([sys.executable, "-c", "while True: pass"],
                                         preexec_fn=self.pin)  # fmt: skip

    def stop(self) -> None:
        if self.loop is not None:
            self.loop.kill()
            self.loop.wait()


@pytest.fixture
def busy_machine() -> Iterator[BusyCore]:
    """The busy machine, confined to one core: the run under test and a busy loop share
    it (the run and its temporary server get half of it at most, as on a 2-core machine
    at a load of 4), while the other cores stay free for the rest of the suite.

    A loop on every core, kept to the end of the run, made this the suite's slowest
    test (115 s on CI) and starved the other test worker; one a core until the
    temporary server answered still burned about 80 s of CPU. The test starts the loop
    when the temporary server's process appears: the server's start is what failed.
    """
    busy = BusyCore(max(os.sched_getaffinity(0)))
    try:
        yield busy
    finally:
        busy.stop()


def _temporary_server_port(parent: int) -> int | None:
    """The port of the Prefect temporary server that process ``parent`` launched, if any."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) != parent:
                continue
            args = (stat.parent / "cmdline").read_bytes().decode().split("\0")
            if "uvicorn" in args and "--port" in args:
                return int(args[args.index("--port") + 1])
    return None


def _answers(client: httpx.Client, port: int) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return client.get(f"http://127.0.0.1:{port}/api/health").status_code == 200
    return False


def test_a_flow_runs_on_a_busy_machine(busy_machine: BusyCore, tmp_path: Path) -> None:
    # The busy machine of issue 14, where Prefect's temporary server took longer than its
    # 20 s to start: the run's core is kept busy from the moment the temporary server's
    # process appears until it answers (its start-up is what failed there), then the run
    # must finish.
    # `retention` on an empty home is the cheapest command that runs a flow. A run
    # stopped with a reason: a user's too-short budget in the test after next (the
    # message), any Prefect failure at the CLI in the next one (one line, exit 1).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_"))}
    with (
        (tmp_path / "out").open("w+") as out,
        (tmp_path / "err").open("w+") as err,
        httpx.Client(timeout=2) as client,  # one: each new client loads the CA certificates
    ):
        run = subprocess.Popen(
            [KEEPWARM, "retention"],
            env={**env, "KEEPWARM_HOME": str(tmp_path / "home")},
            stdout=out,
            stderr=err,
            text=True,
            preexec_fn=busy_machine.pin,  # the run, and the server it starts, on the busy core
        )
        port, loaded = None, 0.0
        while run.poll() is None:
            port = _temporary_server_port(run.pid) or port  # a second start has a new port
            if port is not None and not loaded:
                busy_machine.start()  # the server is starting: from now on, under load
                loaded = time.monotonic()
            if port is not None and _answers(client, port):
                break
            time.sleep(0.1 if port is None else 0.5)
        loaded = time.monotonic() - loaded if loaded else 0.0
        busy_machine.stop()  # the server started (or the run ended) under load
        run.wait(timeout=900)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()

    assert port is not None, "no temporary server seen"
    assert run.returncode == 0, stderr[-2000:]
    assert json.loads(stdout.strip().splitlines()[-1])["candidates"] == 0
    assert "Traceback" not in stderr and "internal error" not in stderr
    print(f"temporary server answered after {loaded:.0f} s under load")


def test_an_unusable_prefect_api_stops_the_run_with_one_line(tmp_path: Path) -> None:
    # No temporary server here: a user's PREFECT_API_URL that does not answer. Any reason
    # Prefect cannot be used (a temporary server too slow for the user's budget too: the
    # next test's message) ends a run this way: exit 1, one line, no traceback.
    done = run_cli("retention", home=tmp_path, prefect_api="http://127.0.0.1:9/api")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "keepwarm: Prefect's API at http://127.0.0.1:9/api did not answer (ConnectError); "
        "start that server, or unset PREFECT_API_URL to run with a temporary one"
    ]
    assert done.stdout == ""


_SLOW_START = """
import json
from prefect.server.api.server import SubprocessASGIServer
from config import get_settings
from flows.runtime import PrefectUnavailable, _start_temporary_server, configure_prefect

configure_prefect(get_settings())
launched, launch = [], SubprocessASGIServer._run_uvicorn_command
SubprocessASGIServer._run_uvicorn_command = lambda self: launched.append(1) or launch(self)
try:
    _start_temporary_server(1)
    print(json.dumps({"launched": len(launched), "error": None}))
except PrefectUnavailable as exc:
    print(json.dumps({"launched": len(launched), "error": str(exc)}))
"""


def test_a_slow_temporary_server_keeps_its_work_for_the_second_budget(tmp_path: Path) -> None:
    # The second try used to kill a server still starting and start one from nothing,
    # which on a loaded machine missed the deadline again (CI, after 2 x 120 s).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_"))}
    done = subprocess.run(
        [sys.executable, "-c", _SLOW_START], env={**env, "KEEPWARM_HOME": str(tmp_path)},
        capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    result = json.loads(done.stdout.strip().splitlines()[-1])
    # a real server takes more than 2 s to import and migrate: it is launched once, waited for twice
    assert result == {
        "launched": 1,
        "error": "Prefect's temporary server did not start within 1 s, twice (machine busy?); "
        "set PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS higher, or PREFECT_API_URL to a "
        "running Prefect server",
    }


def test_a_row_the_store_refuses_gives_a_reason_and_leaves_no_personal_data(
    pg_server: PostgresServer,
    sample_copy: Path,
    keepwarm_home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A store stricter than the contract (here a DBA's narrower school column; before
    # issue 15 any over-long id) refuses a row the checks passed. PostgreSQL's error
    # used to carry every row of the batch into crash.log: school, birthday and gender.
    marks = {"school": "MARKschool5e1f", "birthday": "1901-02-03", "gender": "MARKgender77"}
    candidates = pd.read_csv(sample_copy / "candidates.csv", dtype=str, keep_default_na=False)
    row = candidates.iloc[[0]].assign(candidate_id="K-new-1", **marks)
    pd.concat([candidates, row]).to_csv(sample_copy / "candidates.csv", index=False)
    url = pg_server.create_database()
    engine = make_engine(url)
    migrate(engine)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE candidates ALTER COLUMN school TYPE varchar(12)"))
    engine.dispose()
    monkeypatch.setenv("KEEPWARM_DATABASE_URL", url)

    done = run_cli("ingest", str(sample_copy), home=keepwarm_home)

    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("keepwarm: the store postgresql+psycopg://")
    assert "refused the data (StringDataRightTruncation, SQLSTATE 22001)" in lines[0]
    assert "longer than its column allows" in lines[0]
    crash = (keepwarm_home / "logs" / "crash.log").read_text(encoding="utf-8")
    assert "sqlalchemy.exc.DataError" in crash and "SQLSTATE 22001" in crash
    assert "INSERT INTO candidates" in crash  # the statement, its values hidden
    for mark in [*marks.values(), "1901, 2, 3"]:
        assert mark not in crash, mark
        assert mark not in done.stdout + done.stderr, mark


def test_effects_learns_and_stores_or_says_what_is_wrong(keepwarm_home: Path) -> None:
    # the command's answers, not a process's: the CLI's entry point in this process
    bad = cli_here("effects", "--as-of", "31/07/2025")
    assert bad.returncode == 1 and "--as-of" in bad.stderr and "Traceback" not in bad.stderr
    # an empty store: nothing to learn from, so every action keeps its assumed default
    done = cli_here("effects", "--as-of", "2025-07-31")
    assert done.returncode == 0, done.stderr
    assert "action effects learned as of 2025-07-31" in done.stdout
    lines = [line for line in done.stdout.splitlines() if line.startswith("  ")]
    assert {line.split()[0] for line in lines} >= {"call", "answer_question", "escalate_approval"}
    assert all("assumed default" in line for line in lines)

"""A company deployment, as the README's "Deploy" section sets it up, tested for real.

PostgreSQL with the roles and databases of ``deploy/create-databases.sql``; the
processes of ``deploy/systemd/*.service`` started by their own ``ExecStart`` lines,
with ``deploy/keepwarm.env.example``'s variables (this test's paths and ports in place
of the example's): ``mlflow server`` on PostgreSQL with its artifact store, ``prefect
server`` on PostgreSQL, a process worker, and ``keepwarm serve --workers 2``.
``prefect.yaml``'s deployments are registered with ``prefect deploy``; retraining and
a daily-scoring run go through the worker; the scores and plans are read back from
the store and through the API.

Minutes, not seconds (three servers start, a model trains): ``make test-deploy``,
which CI runs, and not ``make test``. The backup script's test is quick and runs in both.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from store.pgserver import PostgresServer, psql_command, running_postgres

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent
APP_DIR = "/opt/keepwarm"  # where the units expect the checkout; here, this one
DAY = "2024-12-02"
# Generous: a busy 2-core machine starts Prefect's server in 10-100 s. A deadline, not
# a timed assertion: nothing here depends on how fast a step is, only that it ends.
START_BUDGET = 300
RUN_BUDGET = 1200


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=value lines, as systemd's EnvironmentFile= reads them (comments skipped)."""
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def unit_command(unit: str, env: dict[str, str], port: int | None = None) -> list[str]:
    """A unit's ExecStart, with ${VAR} expanded from ``env`` as systemd does."""
    text_ = (DEPLOY / "systemd" / unit).read_text(encoding="utf-8")
    [line] = [x for x in text_.splitlines() if x.startswith("ExecStart=")]
    command = line.removeprefix("ExecStart=").replace(APP_DIR, str(ROOT))
    command = re.sub(r"\$\{(\w+)\}", lambda m: env[m.group(1)], command)
    if port is not None:
        command = re.sub(r"--port \d+", f"--port {port}", command)
    return shlex.split(command)


def test_no_unit_puts_a_secret_on_its_command_line() -> None:
    """A process's arguments are every local user's to read (``ps``): database URLs
    (they hold passwords) and keys stay in the environment file, which the processes
    read (an operator's walk-through found MLflow's backend URL in ``ps``)."""
    secrets = ("_URI", "_URL", "_PASSWORD", "_SECRET", "_KEY")
    for unit in sorted((DEPLOY / "systemd").glob("*.service")):
        [line] = [x for x in unit.read_text(encoding="utf-8").splitlines() if "ExecStart=" in x]
        named = re.findall(r"\$\{?(\w+)", line)
        assert not [v for v in named if v.endswith(secrets)], (unit.name, named)


@dataclass
class Stack:
    env: dict[str, str]
    logs: Path
    pg: PostgresServer
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, unit: str, port: int | None = None) -> None:
        log = (self.logs / f"{unit}.log").open("wb")
        self.processes[unit] = subprocess.Popen(
            unit_command(unit, self.env, port),
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log(self, unit: str) -> str:
        path = self.logs / f"{unit}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def await_http(self, unit: str, url: str, ok: tuple[int, ...] = (200,)) -> None:
        deadline = time.monotonic() + START_BUDGET
        process = self.processes[unit]
        with httpx.Client(timeout=5) as client:  # one: each new client loads the CA certificates
            while time.monotonic() < deadline:
                assert process.poll() is None, f"{unit} stopped:\n{self.log(unit)}"
                try:
                    if client.get(url).status_code in ok:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(1)
        pytest.fail(f"{unit} did not answer {url} within {START_BUDGET} s:\n{self.log(unit)}")

    def run(self, *args: str, budget: int = 600) -> subprocess.CompletedProcess[str]:
        """A command an operator types, in the checkout, with the deployment's environment."""
        done = subprocess.run(
            [str(BIN / args[0]), *args[1:]],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=budget,
            check=False,
        )
        assert done.returncode == 0, f"{args}: {done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done

    def stop(self) -> None:
        for process in reversed(self.processes.values()):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("deploy")
    with running_postgres(superuser="postgres") as pg:
        # the roles and databases, as the README has the operator create them
        psql = psql_command(pg, pg.url())
        passwords = ("-v", "kw_pass='kw'", "-v", "mlflow_pass='ml'", "-v", "prefect_pass='pf'")
        subprocess.run(
            [
                *psql,
                "-v",
                "ON_ERROR_STOP=1",
                *passwords,
                "-f",
                str(DEPLOY / "create-databases.sql"),
            ],
            check=True,
            capture_output=True,
            cwd=pg.root,
        )

        def url(driver: str, role: str) -> str:
            # the roles sign in over the server's private socket (trust): no password here
            return f"postgresql+{driver}://{role}@/{role}?host={pg.root}&port={pg.port}"

        mlflow_port, prefect_port = _port(), _port()
        example = read_env_file(DEPLOY / "keepwarm.env.example")
        values = {
            "KEEPWARM_HOME": str(tmp / "home"),
            "KEEPWARM_DATABASE_URL": url("psycopg", "keepwarm"),
            "KEEPWARM_TIMEZONE": "Asia/Shanghai",
            "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{mlflow_port}",
            "KEEPWARM_SECURE_COOKIES": "false",  # plain HTTP here; the proxy does TLS
            "MLFLOW_BACKEND_STORE_URI": url("psycopg", "mlflow"),
            "MLFLOW_ARTIFACTS_DESTINATION": str(tmp / "mlartifacts"),
            "PREFECT_API_DATABASE_CONNECTION_URL": url("asyncpg", "prefect"),
            "PREFECT_SERVER_API_HOST": "127.0.0.1",
            "PREFECT_SERVER_API_PORT": str(prefect_port),
            "PREFECT_API_URL": f"http://127.0.0.1:{prefect_port}/api",
            "PREFECT_HOME": str(tmp / "prefect"),
            "PREFECT_UI_STATIC_DIRECTORY": str(tmp / "prefect" / "ui"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        }
        assert set(example) == set(values), "the example's variables changed: set them here"
        # a user's shell (no settings of this test process), then the deployment's file
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_"))}
        env = {k: v for k, v in env.items() if not k.startswith("KEEPWARM_")}
        env.update(values)
        env["KEEPWARM_TRAINING_CONFIG"] = os.environ["KEEPWARM_TRAINING_CONFIG"]  # small model
        env["PATH"] = f"{BIN}:{env.get('PATH', '')}"
        logs = tmp / "logs"
        logs.mkdir()
        stack = Stack(env=env, logs=logs, pg=pg)
        try:
            stack.start("keepwarm-mlflow.service", port=mlflow_port)
            stack.start("keepwarm-prefect-server.service")
            stack.await_http("keepwarm-mlflow.service", f"http://127.0.0.1:{mlflow_port}/health")
            stack.await_http(
                "keepwarm-prefect-server.service", f"http://127.0.0.1:{prefect_port}/api/health"
            )
            yield stack
        finally:
            stack.stop()


@pytest.mark.deploy
def test_a_daily_run_through_the_worker_reaches_the_store_and_the_api(
    stack: Stack, small_seasons: dict[str, Path]
) -> None:
    # the seasons' bundles, as the ATS exports them
    for folder in small_seasons.values():
        stack.run("keepwarm", "ingest", str(folder))
    # the work pool, the deployments of prefect.yaml, and the worker
    stack.run("prefect", "work-pool", "create", "keepwarm", "--type", "process", "--overwrite")
    deployed = stack.run("prefect", "deploy", "--all", "--no-prompt")
    for name in ("daily-scoring", "retention", "retrain-when-a-season-closes"):
        assert name in deployed.stdout
    stack.start("keepwarm-prefect-worker.service")

    # the first model: the retraining deployment, through the worker
    stack.run(
        "prefect", "deployment", "run", "retrain-on-closed-seasons/retrain-when-a-season-closes",
        "--watch", "--watch-timeout", str(RUN_BUDGET),
        budget=RUN_BUDGET + 60,
    )  # fmt: skip
    # the day's scoring, through the worker
    stack.run(
        "prefect", "deployment", "run", "daily-scoring/daily-scoring",
        "--param", f"as_of={DAY}", "--watch", "--watch-timeout", str(RUN_BUDGET),
        budget=RUN_BUDGET + 60,
    )  # fmt: skip
    assert stack.processes["keepwarm-prefect-worker.service"].poll() is None

    store = create_engine(stack.env["KEEPWARM_DATABASE_URL"])
    with store.connect() as conn:
        scored = conn.execute(
            text("SELECT count(*), min(model_version) FROM scores WHERE as_of = :d"), {"d": DAY}
        ).one()
        owner, planned = conn.execute(
            text(
                "SELECT hr_owner, count(*) FROM outreach_actions "
                "WHERE plan_date = :d AND status = 'planned' "
                "GROUP BY hr_owner ORDER BY count(*) DESC, hr_owner LIMIT 1"
            ),
            {"d": DAY},
        ).one()
        mine = conn.execute(
            text(
                "SELECT count(*) FROM scores s JOIN candidates c USING (candidate_id) "
                "WHERE s.as_of = :d AND c.hr_owner = :o"
            ),
            {"d": DAY, "o": owner},
        ).scalar_one()
    store.dispose()
    assert scored[0] > 100 and scored[1] == "1"
    assert planned > 0 and mine > 0

    # the API, as recruiters reach it: two workers, the champion from MLflow's server
    key = stack.run("keepwarm", "keys", "create", "--role", "hr", "--owner", owner)
    key_text = key.stdout.strip().splitlines()[-1]
    api_port = _port()
    stack.start("keepwarm-api.service", port=api_port)
    api = f"http://127.0.0.1:{api_port}"
    stack.await_http("keepwarm-api.service", f"{api}/readyz")
    headers = {"X-API-Key": key_text}
    plan = httpx.get(f"{api}/v1/outreach-plan", params={"date": DAY}, headers=headers, timeout=60)
    assert plan.status_code == 200, plan.text
    tasks = [a for a in plan.json()["actions"] if a["status"] == "planned"]
    assert len(tasks) == planned
    risk = httpx.get(
        f"{api}/v1/risk-list", params={"as_of": DAY, "limit": 500}, headers=headers, timeout=60
    )
    assert risk.status_code == 200, risk.text
    rows = risk.json()["rows"]
    assert len(rows) == mine and {r["hr_owner"] for r in rows} == {owner}
    # the retraining deployment's refitted champion serves "when" too (it once lost its
    # time-to-renege part in the refit: risk_30d null for everyone)
    assert all(r["risk_30d"] is not None for r in rows)
    # Prefect's UI, where an operator retries a failed run: served from the env file's
    # PREFECT_UI_STATIC_DIRECTORY (the venv's own folder is not the keepwarm user's)
    prefect_ui = stack.env["PREFECT_API_URL"].removesuffix("/api")
    assert httpx.get(prefect_ui, timeout=30, follow_redirects=True).status_code == 200
    assert any(Path(stack.env["PREFECT_UI_STATIC_DIRECTORY"]).iterdir())


def _worker(stack: Stack) -> None:
    """The work pool and its process worker, as the first test left them (or started here)."""
    if "keepwarm-prefect-worker.service" in stack.processes:
        return
    stack.run("prefect", "work-pool", "create", "keepwarm", "--type", "process", "--overwrite")
    stack.start("keepwarm-prefect-worker.service")


def _tenant_runs(stack: Stack, flow: str) -> dict[str, tuple[str, str | None]]:
    """Each tenant's run of ``flow``: its final state and the pool it went through."""
    api = stack.env["PREFECT_API_URL"]
    found = httpx.post(
        f"{api}/flow_runs/filter",
        json={"flows": {"name": {"any_": [flow]}}, "limit": 50},
        timeout=30,
    )
    assert found.status_code == 200, found.text
    return {
        run["parameters"]["tenant"]: (run["state_type"], run["work_pool_name"])
        for run in found.json()
        if run["parameters"].get("tenant")
    }


@pytest.mark.deploy
def test_two_tenants_daily_runs_fan_out_through_the_one_work_pool(
    stack: Stack, small_seasons: dict[str, Path]
) -> None:
    """An HR-SaaS vendor: prefect-tenants.yaml on the same servers, pool and worker.

    Each tenant's store is a schema of the one keepwarm database and its model is its own
    on the one MLflow server; the fan-outs start each tenant's retraining and daily run
    through the worker. One candidate is erased in globex only: its run must not score
    them, while acme's does (a run reading the other's schema would show it).
    """
    from features.population import load_day
    from store.db import make_engine

    home = Path(stack.env["KEEPWARM_HOME"])
    for tenant in ("acme", "globex"):
        (home / "tenants" / tenant).mkdir(parents=True, exist_ok=True)
        for folder in small_seasons.values():
            stack.run("keepwarm", "--tenant", tenant, "ingest", str(folder))
    # globex's recruiters work in Berlin: its own file, read by its runs only
    (home / "tenants" / "globex" / "keepwarm.env").write_text(
        "KEEPWARM_TIMEZONE=Europe/Berlin\n", encoding="utf-8"
    )
    url = stack.env["KEEPWARM_DATABASE_URL"]
    acme = make_engine(url, "tenant_acme")
    erased = load_day(acme, dt.date.fromisoformat(DAY)).spine["candidate_id"].iloc[0]
    acme.dispose()
    stack.run("keepwarm", "--tenant", "globex", "forget", erased, "--yes")

    _worker(stack)
    deployed = stack.run(
        "prefect", "--no-prompt", "deploy", "--all", "--prefect-file", "prefect-tenants.yaml"
    )
    for name in ("daily-all-tenants", "retrain-all-tenants", "retention-all-tenants"):
        assert name in deployed.stdout
    stack.run(
        "prefect", "deployment", "run", "all-tenants/retrain-all-tenants",
        "--watch", "--watch-timeout", str(RUN_BUDGET),
        budget=RUN_BUDGET + 60,
    )  # fmt: skip
    stack.run(
        "prefect", "deployment", "run", "all-tenants/daily-all-tenants",
        "--params", json.dumps({"parameters": {"as_of": DAY}}),
        "--watch", "--watch-timeout", str(RUN_BUDGET),
        budget=RUN_BUDGET + 60,
    )  # fmt: skip
    assert stack.processes["keepwarm-prefect-worker.service"].poll() is None
    pool = "keepwarm"
    for flow in ("retrain-on-closed-seasons", "daily-scoring"):
        runs = _tenant_runs(stack, flow)
        assert runs == {"acme": ("COMPLETED", pool), "globex": ("COMPLETED", pool)}, flow

    store = create_engine(url)
    with store.connect() as conn:
        scored = {
            tenant: set(
                conn.execute(
                    text(f"SELECT candidate_id FROM tenant_{tenant}.scores WHERE as_of = :d"),
                    {"d": DAY},
                ).scalars()
            )
            for tenant in ("acme", "globex")
        }
        versions = (
            conn.execute(text("SELECT DISTINCT model_version FROM tenant_acme.scores"))
            .scalars()
            .all()
        )
    store.dispose()
    assert len(scored["acme"]) > 100 and versions == ["1"]  # acme's own first version
    assert scored["globex"] == scored["acme"] - {erased}

    # each tenant's champion under its own name on the one MLflow server
    ml = stack.env["MLFLOW_TRACKING_URI"]
    for tenant in ("acme", "globex"):
        got = httpx.get(
            f"{ml}/api/2.0/mlflow/registered-models/alias",
            params={"name": f"keepwarm-dropout-{tenant}", "alias": "champion"},
            timeout=30,
        )
        assert got.status_code == 200 and got.json()["model_version"]["version"] == "1"


def test_the_backup_script_dumps_every_database_and_the_artifacts(tmp_path: Path) -> None:
    """Every database, each tenant's schema apart (with the tenant's own role where it has
    one: the keepwarm role cannot read that schema), the artifacts; files for the
    keepwarm user alone; and a failed backup leaves no dated folder that looks whole (an
    operator's walk-through found a 0-byte keepwarm.dump after a refused pg_dump)."""
    from store.pgserver import _bindir

    with running_postgres(superuser="postgres") as pg:
        psql = psql_command(pg, pg.url())
        args = ("-v", "kw_pass='kw'", "-v", "mlflow_pass='ml'", "-v", "prefect_pass='pf'")
        sql = str(DEPLOY / "create-databases.sql")
        subprocess.run([*psql, "-v", "ON_ERROR_STOP=1", *args, "-f", sql], check=True, cwd=pg.root)
        socket_ = f"host={pg.root}&port={pg.port}"
        url = f"postgresql+psycopg://keepwarm@/keepwarm?{socket_}"
        store = create_engine(url)
        with store.begin() as conn:
            conn.execute(text("CREATE TABLE marker (x int)"))
            conn.execute(text("INSERT INTO marker VALUES (42)"))
            conn.execute(text("CREATE SCHEMA tenant_globex"))  # a tenant without a role
            conn.execute(text("CREATE TABLE tenant_globex.marker (x int)"))
        store.dispose()
        on_store = psql_command(pg, url.replace("keepwarm@", "postgres@"))
        role = ("-v", "tenant=acme", "-v", "tenant_pass='unused'")
        role_sql = str(DEPLOY / "tenant-role.sql")
        subprocess.run([*on_store, "-v", "ON_ERROR_STOP=1", *role, "-f", role_sql], check=True)
        acme_url = url.replace("keepwarm@", "tenant_acme@")
        acme = create_engine(acme_url)
        with acme.begin() as conn:
            conn.execute(text("CREATE TABLE marker (x int)"))  # in its schema: search_path
            conn.execute(text("INSERT INTO marker VALUES (7)"))
        acme.dispose()
        home = tmp_path / "home"
        (home / "tenants" / "acme").mkdir(parents=True)
        (home / "tenants" / "acme" / "keepwarm.env").write_text(
            f'KEEPWARM_DATABASE_URL="{acme_url}"\n'
        )
        artifacts = tmp_path / "mlartifacts"
        (artifacts / "1").mkdir(parents=True)
        (artifacts / "1" / "model.txt").write_text("tree")
        settings = (
            f"KEEPWARM_HOME={home}\n"
            f"KEEPWARM_DATABASE_URL={url}\n"
            f"MLFLOW_BACKEND_STORE_URI=postgresql+psycopg://mlflow@/mlflow?{socket_}\n"
            f"PREFECT_API_DATABASE_CONNECTION_URL=postgresql+asyncpg://prefect@/prefect?{socket_}\n"
            f"MLFLOW_ARTIFACTS_DESTINATION={artifacts}"  # no newline at the end: still read
        )
        env_file = tmp_path / "keepwarm.env"
        env_file.write_text(settings)
        env = {
            "PATH": f"{_bindir()}:/usr/bin:/bin",
            "KEEPWARM_ENV_FILE": str(env_file),
            "HOME": str(tmp_path),
        }
        backups = tmp_path / "backups"

        def backup() -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                ["bash", str(DEPLOY / "backup.sh"), str(backups)],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )

        done = backup()
        assert done.returncode == 0, done.stderr
        [folder] = backups.iterdir()
        assert sorted(p.name for p in folder.iterdir()) == [
            "keepwarm-tenant_acme.dump",
            "keepwarm-tenant_globex.dump",
            "keepwarm.dump",
            "mlartifacts.tar.gz",
            "mlflow.dump",
            "prefect.dump",
        ]
        assert folder.stat().st_mode & 0o777 == 0o700
        assert {p.stat().st_mode & 0o777 for p in folder.iterdir()} == {0o600}

        def listed(dump: str) -> str:
            return subprocess.run(
                [str(_bindir() / "pg_restore"), "--list", str(folder / dump)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout

        assert "TABLE DATA public marker" in listed("keepwarm.dump")
        assert "tenant_" not in listed("keepwarm.dump")
        assert "TABLE DATA tenant_acme marker" in listed("keepwarm-tenant_acme.dump")
        assert "TABLE DATA tenant_globex marker" in listed("keepwarm-tenant_globex.dump")

        # the README's restore (step 12): a new database, the tenant's role made again by
        # tenant-role.sql, then the dumps with --clean (the tenant's empty schema replaced)
        restore = [str(_bindir() / "pg_restore"), "-h", str(pg.root), "-p", str(pg.port)]
        restore += ["-U", "postgres", "--clean", "--if-exists", "--exit-on-error"]
        subprocess.run([*psql, "-c", "CREATE DATABASE restored OWNER keepwarm"], check=True)
        into = url.replace("keepwarm@", "postgres@").replace("/keepwarm?", "/restored?")
        again = psql_command(pg, into)
        subprocess.run([*again, "-v", "ON_ERROR_STOP=1", *role, "-f", role_sql], check=True)
        for dump in ("keepwarm.dump", "keepwarm-tenant_acme.dump", "keepwarm-tenant_globex.dump"):
            with (folder / dump).open("rb") as file:  # on stdin, as the README gives it
                subprocess.run([*restore, "-d", "restored"], stdin=file, check=True)
        back = create_engine(into.replace("postgres@", "tenant_acme@"))
        with back.connect() as conn:
            assert conn.execute(text("SELECT current_user")).scalar_one() == "tenant_acme"
            assert conn.execute(text("SELECT x FROM marker")).scalar_one() == 7
        back.dispose()
        back = create_engine(into.replace("postgres@", "keepwarm@"))
        with back.connect() as conn:
            assert conn.execute(text("SELECT x FROM public.marker")).scalar_one() == 42
            assert conn.execute(text("SELECT count(*) FROM tenant_globex.marker")).scalar_one() == 0
        back.dispose()

        # a database that refuses (here: gone) fails the backup, and nothing dated is added
        env_file.write_text(settings.replace("/mlflow?", "/no_such_db?"))
        failed = backup()
        assert failed.returncode != 0
        assert list(backups.iterdir()) == [folder]

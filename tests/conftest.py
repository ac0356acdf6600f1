"""Shared fixtures: a private KEEPWARM_HOME per test, real SQLite and PostgreSQL stores."""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import gc
import inspect
import io
import json
import logging
import os
import pickle
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

SMALL_TRAINING = Path(__file__).parent / "data" / "training-small.toml"
# Set before numpy, LightGBM or a child process starts, so the whole run sees them.
# Models trained in tests (in process, by the CLI, by notebooks) use the small configuration;
# KEEPWARM_TRAINING_CONFIG=training/config.toml runs the tests on the production one.
os.environ.setdefault("KEEPWARM_TRAINING_CONFIG", str(SMALL_TRAINING))
# The test processes (pytest-xdist workers) share the cores: each gets its share of OpenMP
# (LightGBM) and BLAS threads, and waiting threads sleep. More threads than cores, spinning
# while they wait for one, made training four times as slow (and worse on a busy machine).
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // _WORKERS)))
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from sqlalchemy import Engine, text  # noqa: E402

from config import Settings, get_settings  # noqa: E402
from store.db import make_engine, migrate, open_store  # noqa: E402
from store.pgserver import PostgresServer, running_postgres  # noqa: E402

if TYPE_CHECKING:
    from training.train import TrainResult

SAMPLE = Path(__file__).parent / "data" / "contract_sample"
KEEPWARM = str(Path(sys.executable).parent / "keepwarm")
DOMAIN_TABLES = ("candidates", "events", "outcomes", "content", "sim_truth")


# Files whose tests take half a minute or more, longest first (seconds on two busy
# workers). They go out to the workers first (the Makefile keeps this order), so a run ends
# on short files spread over both workers. Ordered by number of tests, as pytest-xdist
# does by default, they came last, and one worker ran two of them back to back while the
# other had finished: 471 s against 357 s. A file missing here only costs balance.
LONG_FILES = (
    "tests/test_notebooks.py",  # 150
    "tests/serving/test_faults.py",  # 113
    "tests/outreach/test_replay.py",  # 96
    "tests/test_flows.py",  # 82
    "tests/training/test_tracking.py",  # ~60: five models fitted to probe the gate
    "tests/test_cli.py",  # 57
    "tests/serving/test_console.py",  # 51
    "tests/serving/test_api.py",  # 36
    "tests/training/test_model.py",  # 34
    "tests/serving/test_no_personal_text.py",  # 32
    "tests/serving/test_console_browser.py",  # 30
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::")[0]
        return LONG_FILES.index(path) if path in LONG_FILES else len(LONG_FILES)

    items.sort(key=rank)  # stable: within a file, and among the others, the order stays


def pytest_collection_finish(session: pytest.Session) -> None:
    """Fewer, cheaper garbage collections in a test process: what is alive once the tests
    are collected (the modules and their objects) is frozen, out of every later collection,
    and the collector keeps the pace of a keepwarm process (``config.runtime``).

    A test process holds about a million objects by the end (models, frames, apps); with
    CPython's defaults, its collections took 8.4 s of an 89 s run of three test files
    (test_api, test_values, test_console; timed by ``gc.callbacks``), 4.4 s with this.
    """
    from config.runtime import pace_garbage_collector

    gc.collect()
    gc.freeze()
    pace_garbage_collector()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """What is alive once the tests are done is frozen too: pytest's collections at the end
    of the run (its unraisable-exception check runs two) and the interpreter's last one
    would each walk every object the tests left, and a run waits for its slowest worker to
    exit: 6-9 s of wall at the end of a whole run, one worker's gc passes and exit while
    the other idled (py-spy, 2026-12-02). A test's own unraisable exceptions are still
    reported with that test."""
    gc.freeze()


@pytest.fixture(autouse=True)
def keepwarm_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "keepwarm-home"
    monkeypatch.setenv("KEEPWARM_HOME", str(home))
    monkeypatch.delenv("KEEPWARM_DATABASE_URL", raising=False)
    # a shell working for a tenant would move every test's store and model under tenants/
    monkeypatch.delenv("KEEPWARM_TENANT", raising=False)
    monkeypatch.delenv("KEEPWARM_TENANTS", raising=False)
    # MLflow's set_tracking_uri exports MLFLOW_TRACKING_URI; keep it from leaking between
    # tests. Set, then deleted: monkeypatch undoes only what it saw, and a delenv of an unset
    # variable it does not see, so what MLflow exported during the test outlived it (into
    # the next module's fixtures, built before that test's own home).
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "")
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    get_settings.cache_clear()
    yield home
    get_settings.cache_clear()


@pytest.fixture
def settings(keepwarm_home: Path) -> Settings:
    return get_settings()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    # No skip: `make test` installs PostgreSQL, so its absence is a failure.
    with running_postgres() as server:
        yield server


def migrated_store(request: pytest.FixtureRequest, folder: Path) -> Engine:
    """A migrated, empty store on the database ``request.param`` names ("sqlite": a file
    in ``folder``; "postgres": a new database on the run's server)."""
    if request.param == "sqlite":
        url = f"sqlite:///{folder / 'store.db'}"
    else:
        url = request.getfixturevalue("pg_server").create_database()
    engine = make_engine(url)
    migrate(engine)
    return engine


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated, empty store on each database keepwarm supports."""
    engine = migrated_store(request, tmp_path)
    yield engine
    engine.dispose()


@pytest.fixture
def sample_copy(tmp_path: Path) -> Path:
    """A writable copy of the contract's sample bundle."""
    dest = tmp_path / "sample"
    shutil.copytree(SAMPLE, dest)
    return dest


def snapshot(engine: Engine) -> dict[str, pd.DataFrame]:
    """Every domain table, sorted, for before/after comparisons."""
    out = {}
    with engine.connect() as conn:
        for table in DOMAIN_TABLES:
            frame = pd.read_sql(text(f"SELECT * FROM {table}"), conn)
            frame = frame.drop(columns=[c for c in ("updated_at",) if c in frame.columns])
            out[table] = frame.sort_values(list(frame.columns[:2])).reset_index(drop=True)
    return out


def assert_same(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> None:
    assert a.keys() == b.keys()
    for table in a:
        pd.testing.assert_frame_equal(a[table], b[table], obj=table)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def built_once(factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """A folder that ``build`` fills once per test run, however many workers ask for it.

    pytest-xdist's pattern: the first worker builds under a lock in the run's shared
    temporary folder; the others wait for the lock and use what it built. Read it, or
    copy it to write: it is shared.
    """
    base = factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    folder, done = root / name, root / f"{name}.done"
    with _locked(root / f"{name}.lock"):
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)  # left by a worker whose build failed
            build(folder)
            done.touch()
    return folder


SEASONS = ("2023-autumn", "2024-autumn")
TRAINED_RESULT = "trained-home.result.pickle"


@pytest.fixture(scope="session")
def small_seasons(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two small simulated seasons (truth included), written once per test run."""

    def build(root: Path) -> None:
        from simulator import simulate_seasons, write_bundle

        for r in simulate_seasons(list(SEASONS), 400, 5, workers=1):
            write_bundle(r, root / r.season)

    root = built_once(tmp_path_factory, "seasons", build)
    return {season: root / season for season in SEASONS}


def simulated_bundles(
    factory: pytest.TempPathFactory, candidates: int, first_seed: int
) -> list[Path]:
    """Bundles of a finished season and the next one (``SEASONS``), ``candidates`` each,
    without truth, seeded ``first_seed`` and ``first_seed + 1``: for a module's fixture."""
    from simulator import simulate_season, write_bundle

    tmp = factory.mktemp("seasons")
    return [
        write_bundle(simulate_season(season, candidates, first_seed + k, truth=False), tmp / season)
        for k, season in enumerate(SEASONS)
    ]


@pytest.fixture
def small_store(small_seasons: dict[str, Path], settings: Settings) -> Engine:
    """The configured store (under this test's KEEPWARM_HOME) holding both small seasons."""
    from store.db import open_store
    from store.ingest import ingest_bundle

    engine = open_store(settings)
    for folder in small_seasons.values():
        ingest_bundle(engine, folder)
    return engine


@pytest.fixture(scope="session")
def trained_home(small_seasons: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home (store with both small seasons, MLflow registry with a champion), built once
    per test run with the small training configuration; copy it to use it."""

    def build(home: Path) -> None:
        from store.ingest import ingest_bundle
        from training.config import load_config
        from training.fairness import audit_scores
        from training.tracking import log_and_register
        from training.train import load_season_data, train_model

        # Built whenever a test first needs it: by then MLflow may have exported an earlier
        # test's MLFLOW_TRACKING_URI, which Settings would read; this home's registry is its
        # own. What MLflow exports while registering here (this home's URI) goes on leaving:
        # kept, it sent the asking test's registrations into this shared registry.
        with as_home(home) as settings:
            assert settings.mlflow_tracking_uri is None
            engine = open_store(settings)
            for folder in small_seasons.values():
                ingest_bundle(engine, folder)
            cfg = load_config()
            result = train_model(load_season_data(engine), ["2023-autumn"], "2024-autumn", cfg)
            with (home.parent / TRAINED_RESULT).open("wb") as fh:
                pickle.dump(result, fh)  # the gate's tests meet their champions with this model
            test = result.test.rename(columns={"risk_keepwarm": "risk"})
            fairness = audit_scores(engine, test, cfg.hr_capacity_share, boot=50)
            params = {"train_seasons": "2023-autumn", "test_season": "2024-autumn"}
            log_and_register(result, params, settings, "force", fairness)
            engine.dispose()

    return built_once(tmp_path_factory, "trained-home", build)


@pytest.fixture(scope="session")
def trained_result(trained_home: Path) -> TrainResult:
    """The ``TrainResult`` behind ``trained_home``'s champion (read it, do not change it)."""
    with (trained_home.parent / TRAINED_RESULT).open("rb") as fh:
        result: TrainResult = pickle.load(fh)
    return result


DEMO_CANDIDATES = 60


@dataclass
class DemoRun:
    """``keepwarm demo``'s home and what it printed."""

    home: Path
    stdout: str
    stderr: str


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory, prefect_server: PrefectServer) -> DemoRun:
    """``keepwarm demo`` as a user runs it, once per test run (the CLI's test and the
    notebooks' share it); copy the home to use it.

    It asks the run's Prefect server, as a user with a server does: Prefect's temporary
    server, what ``make demo`` starts on a new machine, is ~20 s of CPU here, and its own
    tests start it (test_cli: on a busy core, and with too short a budget)."""

    def build(root: Path) -> None:
        args = ("demo", "--candidates", str(DEMO_CANDIDATES))
        done = run_cli(*args, home=root / "home", timeout=600, prefect_api=prefect_server.url)
        assert done.returncode == 0, done.stderr
        (root / "stdout.txt").write_text(done.stdout, encoding="utf-8")
        (root / "stderr.txt").write_text(done.stderr, encoding="utf-8")

    root = built_once(tmp_path_factory, "demo", build)
    out, err = ((root / f"{name}.txt").read_text(encoding="utf-8") for name in ("stdout", "stderr"))
    return DemoRun(root / "home", out, err)


@pytest.fixture
def served_home(request: pytest.FixtureRequest, keepwarm_home: Path) -> Path:
    """A copy of ``trained_home`` as this test's KEEPWARM_HOME; of ``scored_home`` (the
    trained home after the daily run of ``SCORED_DAY``) for a test marked ``scored_day``."""
    scored = request.node.get_closest_marker("scored_day") is not None
    source: Path = request.getfixturevalue("scored_home" if scored else "trained_home")
    shutil.copytree(source, keepwarm_home)
    get_settings.cache_clear()
    return keepwarm_home


@pytest.fixture
def engine(served_home: Path) -> Iterator[Engine]:
    engine = open_store(get_settings())
    yield engine
    engine.dispose()


SCORED_DAY = dt.date(2024, 12, 2)  # the day ``scored_home`` has been run for


@contextlib.contextmanager
def as_home(home: Path) -> Iterator[Settings]:
    """This process configured for ``home`` (for building a shared home), then as it was."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("KEEPWARM_HOME", str(home))
        # MLflow exports MLFLOW_TRACKING_URI when it loads the champion: set then deleted
        # here, it is deleted again on leaving, whatever MLflow did meanwhile.
        for name in ("MLFLOW_TRACKING_URI", "KEEPWARM_MLFLOW_TRACKING_URI"):
            env.setenv(name, "")
            env.delenv(name)
        get_settings.cache_clear()
        try:
            yield get_settings()
        finally:
            get_settings.cache_clear()


@pytest.fixture(scope="session")
def scored_home(trained_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``trained_home`` after ``run_daily`` for ``SCORED_DAY`` (its scores, alerts and
    plans stored), built once per test run; copy it to use it, as ``served_home`` copies
    ``trained_home``. The day's run is seconds of CPU that tests starting from a scored day
    no longer each pay."""

    def build(home: Path) -> None:
        shutil.copytree(trained_home, home)
        with as_home(home) as settings:
            engine = open_store(settings)
            try:
                run_daily(engine, SCORED_DAY)
            finally:
                engine.dispose()

    return built_once(tmp_path_factory, "scored-home", build)


def run_daily(engine: Engine, day: dt.date = dt.date(2024, 12, 2)) -> None:
    """What the daily flow does, as plain calls (no Prefect): scores, alerts, plans for a day."""
    from features.build import build_features
    from features.population import load_day
    from outreach.daily import day_alerts, plan_day, store_alerts
    from serving.services.daily import rank_scores, store_scores
    from training.predictor import Predictor
    from training.tracking import load_champion

    model, version = load_champion(get_settings())
    inputs = load_day(engine, day)
    feats = build_features(inputs.events, inputs.candidates, inputs.spine, inputs.content)
    scores = rank_scores(Predictor.of(model, version), feats, inputs.candidates)
    store_scores(engine, scores, version)
    alerts = day_alerts(engine, day, scores["candidate_id"].tolist())
    store_alerts(engine, alerts, day)
    plan_day(engine, day, scores, feats, alerts)


def run_cli(
    *args: str,
    home: Path,
    timeout: int = 300,
    input: str | None = None,
    prefect_api: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the installed ``keepwarm`` as a user would: fresh process, no Prefect settings
    (Prefect's temporary server), or a user's PREFECT_API_URL when ``prefect_api`` is given."""
    # A user's shell: no Prefect settings, and no MLflow URI that MLflow exported into
    # this process for another test's home.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_"))}
    env["KEEPWARM_HOME"] = str(home)
    if prefect_api is not None:
        env["PREFECT_API_URL"] = prefect_api
    return subprocess.run(
        [KEEPWARM, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
        input=input if input is not None else "",
    )


def cli_here(*args: str, input: str = "") -> subprocess.CompletedProcess[str]:
    """``keepwarm ARGS`` through the console script's own entry point (``cli.main.main``:
    its exit codes, its one-line messages) in this process, for checks about a command's
    answer rather than about a fresh process: a process of its own (``run_cli``) costs
    seconds of CPU for its imports alone.

    As in a fresh process: ``sys.argv``, standard input (``input``, then end of file: a
    question asked gets no answer), output and error captured, and ``main``'s own logging
    set-up (its console handler writes into the captured error); the logging and the
    environment this process had are restored afterwards. KEEPWARM_HOME is the test's.
    """
    from cli.main import main

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in ("mlflow", "alembic")}
    environ = dict(os.environ)
    out, err = io.StringIO(), io.StringIO()
    code: int | str | None = 0
    saved = sys.argv, sys.stdin, sys.stdout, sys.stderr
    sys.argv, sys.stdin, sys.stdout, sys.stderr = ["keepwarm", *args], io.StringIO(input), out, err
    root.handlers = []  # so that main's logging.basicConfig installs its console handler
    get_settings.cache_clear()
    try:
        main()
    except SystemExit as exc:
        code = exc.code
    finally:
        sys.argv, sys.stdin, sys.stdout, sys.stderr = saved
        root.handlers, root.level = handlers, level
        for name, was in levels.items():
            logging.getLogger(name).setLevel(was)
        for name in set(os.environ) - set(environ):  # what main set (MLflow's URI, say)
            del os.environ[name]
        os.environ.update(environ)
        get_settings.cache_clear()
    returncode = code if isinstance(code, int) else (0 if code is None else 1)
    return subprocess.CompletedProcess(
        ["keepwarm", *args], returncode, out.getvalue(), err.getvalue()
    )


PREFECT_SERVER_BUDGET = 300  # wall-clock seconds: a fresh server takes 10-15 idle, far more busy


@dataclass
class PrefectServer:
    """The run's own Prefect server: its API URL and the folder its database is in."""

    url: str
    home: Path


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    """One Prefect server for the whole test run, shared by both workers, as PREFECT_API_URL.

    A CLI flow run (train, score, retention) without one starts Prefect's temporary server,
    about 20 s of CPU each time; tests that are not about that server give this one to the
    CLI instead (``run_cli(..., prefect_api=prefect_server.url)``), as a user with a server
    does (the demo run too). The temporary server's own tests keep the temporary server.

    The workers count themselves in and out under a lock; the last one out stops it (and
    a worker that asks after that starts another).
    """
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    lock, state = root / "prefect-server.lock", root / "prefect-server.json"
    home = root / "prefect-server"
    with _locked(lock):
        info = json.loads(state.read_text()) if state.exists() else None
        if info is None:
            info = {**_start_prefect_server(home), "users": 0}
        info["users"] += 1
        state.write_text(json.dumps(info))
    try:
        yield PrefectServer(info["url"], home)
    finally:
        with _locked(lock):
            info = json.loads(state.read_text())
            info["users"] -= 1
            if info["users"] == 0:
                _stop(info["pid"])
                state.unlink()
            else:
                state.write_text(json.dumps(info))


def drain_prefect_workers() -> None:
    """Send this process's pending Prefect logs and events while its server still answers
    (what Prefect's test harness does on leaving): left for exit, they retry for a minute
    against a server stopped by then."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.utilities.asyncutils import run_coro_as_sync

    async def drain() -> None:
        with contextlib.suppress(RuntimeError):  # never started: nothing to send
            result = APILogWorker.instance().drain()
            if inspect.isawaitable(result):
                await result
        result = EventsWorker.drain_all()
        if inspect.isawaitable(result):
            await result

    run_coro_as_sync(drain())


def _start_prefect_server(home: Path) -> dict[str, object]:
    from flows.runtime import _SERVICES

    home.mkdir(parents=True, exist_ok=True)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_"))}
    env |= {
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_DATABASE_TIMEOUT": "30",
        "PREFECT_LOGGING_LEVEL": "WARNING",
    }
    # One service runs: the task-run recorder, which stores the task runs' states that
    # reach the server as events (test_flows checks a resumed run by them); the others
    # (schedulers, triggers, the repossessor...) are the deployment's, not the tests'.
    env |= {
        f"PREFECT_SERVER_SERVICES_{service}_ENABLED": "false"
        for service in _SERVICES
        if service != "TASK_RUN_RECORDER"
    }
    command = [str(Path(sys.executable).parent / "prefect"), "server", "start", "--host",
               "127.0.0.1", "--port", str(port), "--no-ui"]  # fmt: skip
    with (home / "server.log").open("ab") as log:
        proc = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}/api"
    if answered(f"{url}/health", proc, PREFECT_SERVER_BUDGET, every=0.5):
        return {"url": url, "pid": proc.pid}
    _stop(proc.pid)
    raise RuntimeError(f"the tests' Prefect server did not start; see {home / 'server.log'}")


def answered(
    url: str, proc: subprocess.Popen[Any], budget: float, every: float, timeout: float = 5
) -> bool:
    """Whether ``url`` answered 200 within ``budget`` wall-clock seconds while ``proc``
    (the server behind it) ran, asked every ``every`` seconds through one client: each
    new httpx client (``httpx.get``'s own) loads the CA certificates again, ~60 ms of
    CPU, which made these waits ~80 s of a run's CPU."""
    import httpx

    deadline = time.monotonic() + budget
    with httpx.Client(timeout=timeout) as client:
        while time.monotonic() < deadline and proc.poll() is None:
            with contextlib.suppress(httpx.TransportError):
                if client.get(url).status_code == 200:
                    return True
            time.sleep(every)
    return False


def _stop(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    for _ in range(100):
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # this worker started it: reap it
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, IndexError):
            return
        if state == "Z":  # the other worker started it and has not reaped it yet
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)

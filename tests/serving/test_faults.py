"""Faults lose nothing: a killed process, a store that goes away, a registry that does not answer.

Each test does it for real: a child process killed with SIGKILL at several moments, a
PostgreSQL server stopped under a running service, a tracking server that is not there.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import itertools
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from config import Settings, get_settings
from serving.auth import create_key
from serving.schemas import MAX_EVENTS
from store.db import make_engine, migrate, open_store
from store.pgserver import running_postgres
from tests.conftest import KEEPWARM, PrefectServer, cli_here, run_cli
from tests.serving.conftest import DAY, app_client, auth, running_server

COUNTED = ("candidates", "events", "outcomes")


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_"))}
    return {**env, "KEEPWARM_HOME": str(home), **extra}


def _counts(engine: Engine, tables: tuple[str, ...], where: str = "") -> tuple[int, ...]:
    with engine.connect() as conn:
        return tuple(
            int(conn.execute(text(f"SELECT COUNT(*) FROM {t} {where}")).scalar_one())
            for t in tables
        )


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'kill.db'}"
    return str(request.getfixturevalue("pg_server").create_database())


def _writing(engine: Engine) -> bool:
    """Whether another connection is writing to the store now (an open write transaction)."""
    if engine.dialect.name == "sqlite":
        # one writer at a time: an immediate write lock is refused while another holds it
        probe = sqlite3.connect(str(engine.url.database), timeout=0)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.rollback()
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            probe.close()
    with engine.connect() as conn:
        return bool(conn.execute(text(
            "SELECT EXISTS (SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "WHERE c.relname IN ('candidates', 'events', 'outcomes') "
            "AND l.mode = 'RowExclusiveLock' AND l.pid <> pg_backend_pid())"
        )).scalar_one())  # fmt: skip


def _left_in_session(sid: int) -> list[str]:
    """The command names of the live processes of session ``sid`` (zombies are gone)."""
    left = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError):
            name, rest = stat.read_text().rsplit(")", 1)
            fields = rest.split()
            if fields[0] != "Z" and int(fields[3]) == sid:
                left.append(name.split("(", 1)[1])
    return left


def _kill_while(
    args: list[str], env: dict[str, str], busy: Callable[[], bool], delay: float
) -> bool:
    """Run a keepwarm command and SIGKILL it ``delay`` seconds after ``busy()`` is first
    seen true (in a store write, holding the day's slot).

    Returns True for a kill while it was busy (at ``delay`` 0: as soon as it is seen,
    since a short write may end before a second look); False if it ended first (the run
    is then left to finish, and has, with exit 0). The run alone is killed, as the OOM
    killer or a ``kill -9`` does, and what it started (Prefect's temporary server) must
    go with it: a run that left its server behind used to hold its memory and port.
    """
    proc = subprocess.Popen(
        [KEEPWARM, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    began = None
    while proc.poll() is None:
        if began is None and busy():
            began = time.monotonic()
        if began is not None and time.monotonic() - began >= delay:
            if delay and not busy():  # later than at once: only while still busy
                break
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            deadline = time.monotonic() + 120  # a server stops at once; a busy machine
            while (left := _left_in_session(proc.pid)) and time.monotonic() < deadline:
                time.sleep(0.2)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # what outlived it, for the next runs
            assert left == [], f"processes outlived the killed run: {left}"
            return True
        time.sleep(0.02)
    assert proc.wait(timeout=300) == 0
    return False


KILLED_INGEST = 200  # candidates in the killed ingest's bundle


@pytest.fixture(scope="module")
def killed_bundle(small_seasons: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small 2023 season's first ``KILLED_INGEST`` candidates (half of them) with
    all their rows, the files' other lines as they were: each run, killed or not, reads,
    checks and writes half as much, and the write still lasts long enough (a second or
    more) for kills at several moments in it."""
    source = small_seasons["2023-autumn"]
    dest = tmp_path_factory.mktemp("killed-ingest") / source.name
    dest.mkdir()
    kept: set[str] | None = None
    for path in sorted(source.iterdir(), key=lambda p: p.name != "candidates.csv"):
        if path.suffix != ".csv":
            shutil.copy(path, dest / path.name)
            continue
        with path.open(newline="", encoding="utf-8") as src:
            rows = csv.reader(src)
            header = next(rows)
            if "candidate_id" not in header:  # content.csv
                shutil.copy(path, dest / path.name)
                continue
            if kept is None:  # candidates.csv
                chosen = list(itertools.islice(rows, KILLED_INGEST))
                kept = {row[header.index("candidate_id")] for row in chosen}
            else:
                at = header.index("candidate_id")
                chosen = [row for row in rows if row[at] in kept]
        with (dest / path.name).open("w", newline="", encoding="utf-8") as out:
            csv.writer(out, lineterminator="\n").writerows([header, *chosen])
    return dest


def test_a_killed_ingest_leaves_the_store_before_or_after(
    store_url: str, killed_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(store_url)
    migrate(engine)
    bundle = killed_bundle
    env = _env(tmp_path / "home", KEEPWARM_DATABASE_URL=store_url)
    # Kills land in the ingest's write (seen from the store: its write lock): as it
    # begins, 0.05 s in, then twice as far (plus 0.2 s) each time, until a run writes to
    # the end; a kill while it reads and checks the bundle, before any write, would prove
    # nothing. Steps of 0.4 s all along took a run (a process) per 0.4 s of the write; a
    # first step of 0.4 s outlasted the whole write on a quiet machine (one kill only).
    seen, kills, delay = set(), 0, 0.0
    while _kill_while(["ingest", str(bundle)], env, lambda: _writing(engine), delay):
        kills += 1
        seen.add(_counts(engine, COUNTED))
        delay = 2 * delay + (0.2 if delay else 0.05)
    full = _counts(engine, COUNTED)
    assert kills >= 2 and full[0] == KILLED_INGEST
    # every kill left nothing or everything, never a part
    assert seen <= {(0, 0, 0), full}, (seen, full)
    # and loading again is complete and changes nothing more: the command's entry point in
    # this process (a process of its own is for the kills)
    monkeypatch.setenv("KEEPWARM_DATABASE_URL", store_url)
    again = cli_here("ingest", str(bundle))
    assert again.returncode == 0, again.stderr
    assert _counts(engine, COUNTED) == full
    engine.dispose()


def _holding(lock: Path) -> bool:
    """Whether a run holds the day's slot (the file lock ``lock``:
    ``flows.runs.one_at_a_time``)."""
    if not lock.exists():
        return False
    with lock.open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fh, fcntl.LOCK_UN)  # free: not taken yet, give it back
        return False


def test_killed_daily_scoring_is_before_or_after_and_a_rerun_completes(
    served_home: Path, engine: Engine, prefect_server: PrefectServer
) -> None:
    env = _env(served_home)
    args = ["score", "--as-of", DAY.isoformat()]
    day = f"WHERE as_of = '{DAY.isoformat()}'"
    plan_day = f"WHERE plan_date = '{DAY.isoformat()}'"
    lock = served_home / "locks" / "keepwarm-daily-scoring.lock"
    seen_scores, seen_plans, kills = set(), set(), 0
    # Killed while it holds the day's slot, a second into its work (the check, the
    # scores, the alerts, the plans), or at once if it finished within that second: a
    # slot left taken by a killed run (Prefect's temporary server keeps its lease in
    # memory) made every later run wait an hour, then fail. One kill shows it: each run
    # starts a temporary server (~20 s of CPU), and a kill at once, then 3 s in, took two.
    for delay in (1.0, 0.0):
        if _kill_while(args, env, lambda: _holding(lock), delay):
            kills += 1
            seen_scores.add(_counts(engine, ("scores",), day)[0])
            seen_plans.add(_counts(engine, ("outreach_actions",), plan_day)[0])
            break
    # The rerun asks a Prefect server of the user's (the tests' own): the day's slot is
    # keepwarm's file lock, not the server's; a second temporary server is ~15 s of CPU.
    rerun = run_cli(*args, home=served_home, timeout=600, prefect_api=prefect_server.url)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    scores = _counts(engine, ("scores",), day)[0]
    plans = _counts(engine, ("outreach_actions",), plan_day)[0]
    assert kills >= 1 and scores > 0 and plans > 0
    assert seen_scores <= {0, scores} and seen_plans <= {0, plans}


def test_a_server_killed_in_a_write_keeps_the_batch_whole(
    served_home: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    key = create_key(engine, "ats").key
    with engine.connect() as conn:
        ids = [r[0] for r in conn.execute(text("SELECT candidate_id FROM candidates LIMIT 200"))]
    batch = [
        {"event_id": f"kill-{n}", "candidate_id": ids[n % len(ids)], "type": "message_opened",
         "ts": "2024-12-02T09:00:00+08:00", "channel": "wechat", "actor": "candidate"}
        for n in range(MAX_EVENTS)
    ]  # fmt: skip
    before = _counts(engine, ("events",))[0]
    cut = False
    for delay in (0.3, 0.6, 0.15):
        with running_server(served_home, KEEPWARM_MODEL_POLL_SECONDS="0") as url:
            answer: list[object] = []
            sent = threading.Thread(target=_post_quietly, args=(url, key, batch, answer))
            sent.start()
            time.sleep(delay)  # the batch is being checked or written
            os.kill(url.pid, signal.SIGKILL)  # type: ignore[attr-defined]
            sent.join()
        after = _counts(engine, ("events",))[0]
        assert after in (before, before + len(batch))
        cut = not answer  # the request died with the server, unanswered
        if cut:
            break
    assert cut, "the server always answered before the kill: make the batch slower"
    # the service started again over the same home takes the batch whole, once
    with _service_here(monkeypatch, caplog, KEEPWARM_MODEL_POLL_SECONDS="0") as api:
        r = api.post("/v1/events", json=batch, headers=auth(key))
        assert r.status_code == 200, r.text
    assert _counts(engine, ("events",))[0] == before + len(batch)


@contextlib.contextmanager
def _service_here(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, **env: str
) -> Iterator[TestClient]:
    """The service as ``keepwarm serve`` makes it (``create_app``: its start-up, its
    store, its registry and model, its shutdown) over this test's KEEPWARM_HOME and
    ``env``, in this process, for the checks where the server's process is not the point:
    a ``keepwarm serve`` of its own costs seconds of CPU for its imports alone. A record
    logged with a traceback fails the test, as ``running_server`` fails on a traceback in
    the server's error output."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    with app_client(get_settings()) as api:
        yield api
    get_settings.cache_clear()
    traced = [r.getMessage() for r in caplog.records if r.exc_info]
    assert traced == [], traced


def _post_quietly(url: str, key: str, batch: list[dict[str, str]], answer: list) -> None:
    with contextlib.suppress(httpx.HTTPError):  # the server dies mid-request: the point
        answer.append(httpx.post(f"{url}/v1/events", json=batch, headers=auth(key), timeout=60))


@pytest.fixture
def pg_alone() -> Iterator:
    """A PostgreSQL server of this test's own, to stop and start under a running service."""
    # durable: an immediate stop is a crash, and only fsync'd commits survive one
    with running_postgres(durable=True) as server:
        yield server


def test_a_lost_store_answers_503_and_comes_back_without_a_restart(
    pg_alone, keepwarm_home: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    url = pg_alone.create_database()
    engine = open_store(Settings(home=keepwarm_home, database_url=url))
    key = create_key(engine, "admin").key
    engine.dispose()
    headers = auth(key)
    profile = {"candidate_id": "F1", "season": "2025-autumn", "hr_owner": "hr01"}
    # the service in this process: the store goes away under it, not the service's process
    with _service_here(
        monkeypatch, caplog, KEEPWARM_DATABASE_URL=url,
        KEEPWARM_MODEL_POLL_SECONDS="0", KEEPWARM_CACHE_SYNC_SECONDS="0",
    ) as api:  # fmt: skip
        assert api.get("/healthz").status_code == 200
        assert api.post("/v1/candidates", json=[profile], headers=headers).status_code == 200
        pg_alone.stop()
        down = api.post("/v1/candidates", json=[{**profile, "candidate_id": "F2"}],
                        headers=headers)  # fmt: skip
        assert down.status_code == 503 and down.headers["retry-after"]
        assert down.json()["error"]["code"] == "store_unavailable"
        ready = api.get("/readyz")
        assert ready.status_code == 503 and ready.json()["detail"] == "store unreachable"
        pg_alone.start()
        up = api.post("/v1/candidates", json=[{**profile, "candidate_id": "F2"}],
                      headers=headers)  # fmt: skip
        assert up.status_code == 200, up.text
        seen = api.get("/v1/candidates/F1", headers=headers)
        assert seen.status_code == 200, seen.text
        assert api.get("/readyz").json()["detail"] == "no champion model"
    engine = make_engine(url)
    assert _counts(engine, ("candidates",))[0] == 2  # F1, and F2 once: nothing half-written
    engine.dispose()


def test_an_unreachable_registry_at_start_means_not_ready_not_a_crash(
    served_home: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # the service's start-up in this process: a crash would raise here, or log a traceback
    with _service_here(
        monkeypatch, caplog, KEEPWARM_MLFLOW_TRACKING_URI="http://127.0.0.1:9",
        KEEPWARM_MODEL_POLL_SECONDS="0",
    ) as api:  # fmt: skip
        assert api.get("/healthz").status_code == 200
        ready = api.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["detail"] == "model registry unreachable"


def test_a_broken_model_version_is_refused_and_the_old_one_keeps_serving(
    client, keys, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import mlflow

    from training.tracking import MODEL_NAME, PYFUNC_CODE, configure, load_model_version

    service = client.app.state.service
    serving = service.scorer.model.version
    mlflow_client = configure(get_settings())
    good = load_model_version(serving)
    broken = {
        "garbage": lambda d: (d / "model.txt").write_text("not a booster"),
        "gender": lambda d: _with_features(good, d, [*good.features_[:-1], "gender"]),
    }
    for name, make in broken.items():
        folder = tmp_path / name
        folder.mkdir()
        make(folder)
        with mlflow.start_run():
            info = mlflow.pyfunc.log_model(
                name="model", python_model=str(PYFUNC_CODE),
                artifacts={"model_dir": str(folder)}, registered_model_name=MODEL_NAME,
                pip_requirements=[],  # not inferred: MLflow would load the model in a subprocess
            )  # fmt: skip
        mlflow_client.set_registered_model_alias(
            MODEL_NAME, "champion", str(info.registered_model_version)
        )
        r = client.post("/v1/admin/reload-model", headers=auth(keys.admin))
        assert r.status_code == 200 and r.json() == {"model_version": serving, "changed": False}
        assert client.get("/readyz").json()["model_version"] == serving
        assert f"model version {info.registered_model_version} refused" in caplog.text
    scored = client.post("/v1/score", json={"candidate_ids": ["x"], "as_of": DAY.isoformat()},
                         headers=auth(keys.ats))  # fmt: skip
    assert scored.status_code == 200 and scored.json()["model_version"] == serving


def _with_features(model: Any, folder: Path, features: list[str]) -> None:
    """The good model's trees under another feature list (one a keepwarm build never makes)."""
    model.save(folder)
    meta = folder / "model.json"
    data = json.loads(meta.read_text())
    data["features"] = features
    meta.write_text(json.dumps(data))

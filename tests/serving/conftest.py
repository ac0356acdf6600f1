"""A trained keepwarm home (store + MLflow registry), built once, copied into each test.

Each test gets its own copy under its KEEPWARM_HOME, so tests that write, move the
champion alias or create keys never see each other's changes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from config import Settings, get_settings
from serving.auth import create_key
from serving.main import create_app
from store.db import open_store
from tests.conftest import SCORED_DAY, answered, as_home

DAY = SCORED_DAY  # the day the tests serve; marked scored_day, they start with its run done


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "scored_day: served_home starts from the daily run of DAY (tests.conftest.scored_home), "
        "built once per test run, instead of each test running it",
    )


@pytest.fixture
def client(served_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    for name, value in TEST_APP_SETTINGS.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    with app_client(get_settings()) as c:
        yield c


# The tests' app: a new model version is seen at the next request, the webhook is on with
# a known secret, and no test meets the rate limit unless it sets its own.
TEST_APP_SETTINGS = {
    "KEEPWARM_MODEL_POLL_SECONDS": "0",
    "KEEPWARM_GREENHOUSE_SECRET": "gh-test-secret",
    "KEEPWARM_RATE_LIMIT": "100000/second",
}


@contextlib.contextmanager
def app_client(settings: Settings) -> Iterator[TestClient]:
    """The app over ``settings`` in a test client (server errors as 500 answers)."""
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        c.app.state.service.keys.ttl = 0  # type: ignore[attr-defined]  # revocation at once
        yield c


class Keys:
    """One key per role (and two HR keys bound to different recruiters)."""

    def __init__(self, engine: Engine, owners: list[str]) -> None:
        self.ats = create_key(engine, "ats").key
        self.lead = create_key(engine, "lead").key
        self.admin = create_key(engine, "admin").key
        self.owner, self.other_owner = owners[0], owners[1]
        self.hr = create_key(engine, "hr", self.owner).key
        self.other_hr = create_key(engine, "hr", self.other_owner).key


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def make_keys(engine: Engine) -> Keys:
    from sqlalchemy import text

    with engine.connect() as conn:
        owners = [
            r[0]
            for r in conn.execute(
                text("SELECT hr_owner FROM candidates GROUP BY hr_owner ORDER BY hr_owner")
            )
        ]
    return Keys(engine, owners)


@pytest.fixture
def keys(engine: Engine) -> Keys:
    return make_keys(engine)


@dataclass
class Shared:
    client: TestClient
    keys: Keys
    engine: Engine


@pytest.fixture(scope="module")
def shared(trained_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shared]:
    """One app (as ``client`` makes it) over one copy of ``trained_home``, with its keys,
    per test module, for the tests that store nothing (reads, and writes the API refuses):
    the app's start-up and the day's scores it builds are paid once, not by each of them.
    A test that writes, counts metrics or changes the app's settings uses ``client``."""
    home = tmp_path_factory.mktemp("api-shared") / "home"
    shutil.copytree(trained_home, home)
    with as_home(home), pytest.MonkeyPatch.context() as env:
        for name, value in TEST_APP_SETTINGS.items():
            env.setenv(name, value)
        get_settings.cache_clear()
        settings = get_settings()
    get_settings.cache_clear()
    engine = open_store(settings)
    keys = make_keys(engine)
    with app_client(settings) as c:
        yield Shared(c, keys, engine)
    engine.dispose()


class ServerUrl(str):
    """A running server's base URL, and its process id (for tests that kill it)."""

    pid: int


@contextlib.contextmanager
def running_server(
    home: Path, *args: str, ready: str = "/readyz", **env_extra: str
) -> Iterator[str]:
    """`keepwarm serve` on a free loopback port, as a user starts it; yields its base URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    # A user's shell: no Prefect settings, and no MLflow URI that MLflow exported into
    # this process for another test's home.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_"))}
    env.update(KEEPWARM_HOME=str(home), **env_extra)
    keepwarm = str(Path(sys.executable).parent / "keepwarm")
    # Output goes to files in the home, for tests that read what the server logged.
    home.mkdir(parents=True, exist_ok=True)
    out = (home / "serve.out").open("a")
    err_file = home / "serve.err"
    err_out = err_file.open("a")
    proc = subprocess.Popen(
        [keepwarm, "serve", "--port", str(port), *args],
        env=env,
        stdout=out,
        stderr=err_out,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        if not answered(f"{url}{ready}", proc, 120, every=0.3, timeout=2):
            if proc.poll() is not None:
                raise RuntimeError("keepwarm serve exited: " + err_file.read_text()[-2000:])
            raise RuntimeError("keepwarm serve did not become ready")
        served = ServerUrl(url)
        served.pid = proc.pid
        yield served
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        out.close()
        err_out.close()
    err = err_file.read_text()
    assert "Traceback" not in err, err

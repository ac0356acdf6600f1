"""A throwaway PostgreSQL server for tests and benchmarks.

Starts Debian's PostgreSQL binaries on a private socket directory and a free
port, as the ``postgres`` user when run as root (PostgreSQL refuses root).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, make_url, text


class PostgresUnavailable(RuntimeError):
    pass


def _bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    raise PostgresUnavailable(
        "PostgreSQL server binaries not found; "
        "`make test` installs them (apt-get install postgresql)"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    root: Path
    port: int
    user: str = "keepwarm"
    control: list[str] = field(default_factory=list)  # pg_ctl -D ... (as the right user)
    options: str = ""

    def stop(self) -> None:
        """Stop at once, as a crash would (tests of a store that goes away)."""
        subprocess.run([*self.control, "-m", "immediate", "stop"], check=True,
                       capture_output=True, cwd=self.root)  # fmt: skip

    def start(self) -> None:
        log = str(self.root / "log")
        subprocess.run([*self.control, "-o", self.options, "-l", log, "-w", "start"],
                       check=True, capture_output=True, cwd=self.root)  # fmt: skip

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}@/{database}?host={self.root}&port={self.port}"

    def create_database(self) -> str:
        """A fresh, empty database; returns its SQLAlchemy URL."""
        name = "kw_" + uuid.uuid4().hex[:12]
        admin = create_engine(self.url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        return self.url(name)


@contextmanager
def running_postgres(
    durable: bool = False, superuser: str = "keepwarm"
) -> Iterator[PostgresServer]:
    """Start a server; ``durable=False`` turns fsync off, which only tests should do.

    ``superuser`` names the cluster's superuser (a deployment's own roles, ``keepwarm``
    among them, are then created as in production: see deploy/create-databases.sql).
    """
    bindir = _bindir()
    root = Path(tempfile.mkdtemp(prefix="keepwarm-pg-"))
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    if as_root:
        shutil.chown(root, "postgres", "postgres")
    data = root / "data"
    port = _free_port()
    server = PostgresServer(root=root, port=port, user=superuser)
    server.control = [*prefix, str(bindir / "pg_ctl"), "-D", str(data)]

    def run(*args: str) -> None:
        subprocess.run([*prefix, *args], check=True, capture_output=True, cwd=root)

    try:
        run(
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            server.user,
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-locale",
        )
        opts = f"-p {port} -k {root} -c listen_addresses=''"
        if not durable:
            opts += " -c fsync=off -c synchronous_commit=off"
        server.options = opts
        run(
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            opts,
            "-l",
            str(root / "log"),
            "-w",
            "start",
        )
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(root, ignore_errors=True)
        raise PostgresUnavailable(f"could not start PostgreSQL: {exc.stderr!r}") from exc
    try:
        yield server
    finally:
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            cwd=root,
        )
        shutil.rmtree(root, ignore_errors=True)


def psql_command(server: PostgresServer, url: str) -> list[str]:
    """A psql command line for the database behind ``url`` on ``server``."""
    database = str(make_url(url).database)
    return [
        str(_bindir() / "psql"),
        "-q",
        "-h",
        str(server.root),
        "-p",
        str(server.port),
        "-U",
        server.user,
        "-d",
        database,
    ]

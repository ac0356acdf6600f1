"""Engines and migrations for the store."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, Table, create_engine, event, inspect
from sqlalchemy.dialects import postgresql, sqlite

from config import Settings

_MIGRATIONS = Path(__file__).parent / "migrations"
T = TypeVar("T")


def _sqlite_pragmas(dbapi_conn: object, _record: object) -> None:
    cur = dbapi_conn.cursor()  # type: ignore[attr-defined]
    # WAL lets the API read while an ingest writes; NORMAL sync is safe under WAL.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    # A larger page cache keeps bulk loads from thrashing the event indexes (allocated lazily).
    cur.execute("PRAGMA cache_size=-262144")
    cur.execute("PRAGMA temp_store=MEMORY")
    cur.close()


def chunks(values: Sequence[T], size: int = 5000) -> Iterator[Sequence[T]]:
    """``values`` in slices small enough for one ``IN (...)`` on either database."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def make_engine(url: str, schema: str | None = None) -> Engine:
    """An engine on ``url``; on PostgreSQL, ``schema`` is every connection's only schema.

    A tenant's engine (``Settings.database_schema``) sees its own schema's tables and no
    other's: ``search_path`` is set when each connection opens, so every query, migration
    and alembic's version table stay in it.
    """
    # Hidden parameters: an error's message never repeats the rows it was writing
    # (a candidate's school, birthday, gender), wherever the message is logged.
    if url.startswith("sqlite"):
        if schema is not None:
            raise ValueError("a schema is a PostgreSQL store's; a SQLite store is its own file")
        engine = create_engine(url, hide_parameters=True)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if schema is None:
        return create_engine(url, pool_pre_ping=True, hide_parameters=True)
    engine = create_engine(
        url,
        pool_pre_ping=True,
        hide_parameters=True,
        connect_args={"options": f"-csearch_path={_quoted(schema)}"},
    )
    with engine.begin() as conn:
        # Looked up first: a tenant's own role (deploy/tenant-role.sql) may use its schema
        # without the right to create schemas, which CREATE SCHEMA IF NOT EXISTS asks for.
        found = conn.exec_driver_sql(
            "SELECT 1 FROM pg_namespace WHERE nspname = %(s)s", {"s": schema}
        ).first()
        if found is None:
            conn.exec_driver_sql(f"CREATE SCHEMA {_quoted(schema)}")
    return engine


def _quoted(schema: str) -> str:
    if not schema.replace("_", "").isalnum() or not schema.islower():
        raise ValueError(f"{schema!r} is not a tenant schema name")
    return f'"{schema}"'


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (a no-op when it is there)."""
    with engine.begin() as conn:
        cfg = alembic_config(engine)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def open_store(settings: Settings) -> Engine:
    """An engine on the configured store, migrated to the current schema."""
    if settings.database_url is None:
        settings.ensure_home()
    engine = make_engine(settings.store_url, settings.database_schema)
    migrate(engine)
    return engine


def table_names(engine: Engine) -> list[str]:
    return sorted(inspect(engine).get_table_names())


def upsert(conn: Connection, table: Table, rows: list[dict[str, Any]], keys: list[str]) -> None:
    """Insert rows, or update every non-key column they carry where the key exists."""
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table)
    updates = {c: stmt.excluded[c] for c in rows[0] if c not in keys}
    conn.execute(stmt.on_conflict_do_update(index_elements=keys, set_=updates), rows)

"""The schema: the same tables on SQLite and PostgreSQL, migrations that can be rerun."""

from __future__ import annotations

from sqlalchemy import Engine, inspect

from store.db import migrate, open_store, table_names
from store.pgserver import PostgresServer
from store.schema import Base

EXPECTED = {
    "action_effects",
    "shadow_actions",
    "alembic_version",
    "alerts",
    "api_keys",
    "ats_links",
    "audit_log",
    "tier_overrides",
    "tombstones",
    "console_sessions",
    "console_users",
    "webhook_deliveries",
    "candidates",
    "content",
    "events",
    "ingest_batches",
    "outcomes",
    "outreach_actions",
    "scores",
    "sim_truth",
    "profile_history",
    "calibration_checks",
}


def _columns(engine: Engine) -> dict[str, list[str]]:
    insp = inspect(engine)
    return {t: sorted(c["name"] for c in insp.get_columns(t)) for t in insp.get_table_names()}


def test_migrations_create_every_table(store: Engine) -> None:
    assert set(table_names(store)) == EXPECTED


def test_migrations_match_the_models(store: Engine) -> None:
    columns = _columns(store)
    for table in Base.metadata.sorted_tables:
        assert columns[table.name] == sorted(c.name for c in table.columns), table.name


def test_migrating_twice_changes_nothing(store: Engine) -> None:
    before = _columns(store)
    migrate(store)
    assert _columns(store) == before


def test_sqlite_and_postgres_have_the_same_schema(
    pg_server: PostgresServer, tmp_path: object
) -> None:
    from sqlalchemy import create_engine

    from store.db import make_engine

    sqlite = make_engine("sqlite://")
    migrate(sqlite)
    pg = create_engine(pg_server.create_database())
    migrate(pg)
    assert _columns(sqlite) == _columns(pg)


def test_open_store_defaults_to_sqlite_under_home(settings: object, keepwarm_home: object) -> None:
    from config import get_settings

    engine = open_store(get_settings())
    assert engine.dialect.name == "sqlite"
    assert str(engine.url.database).startswith(str(keepwarm_home))
    assert set(table_names(engine)) == EXPECTED

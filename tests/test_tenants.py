"""Tenants kept apart: a silo per tenant (its home, schema, model name and settings).

On SQLite (a file per tenant) and PostgreSQL (a schema per tenant in one database):
what one tenant stores, another neither sees nor collides with; a key or console user
of one tenant is unknown to another's service; tenants sharing one MLflow store keep
their own model and champion; a flow run for one tenant writes only into its store.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, exc, func, select, text

from config import Settings, get_settings, list_tenants, load_settings, tenant_scope
from outreach.daily import plan_config
from store.db import open_store
from store.ingest import ingest_bundle
from store.pgserver import PostgresServer, psql_command
from store.schema import Candidate, Event, OutreachAction, Score
from tests.conftest import SAMPLE, PrefectServer, cli_here, drain_prefect_workers

ROOT = Path(__file__).resolve().parent.parent
DAY = dt.date(2024, 12, 2)
PASSWORD = "correct horse battery"
Tenants = Callable[[str], Settings]


@pytest.fixture(params=["sqlite", "postgres"])
def tenant(request: pytest.FixtureRequest, keepwarm_home: Path) -> Iterator[Tenants]:
    """A tenant's settings by name, as its process reads them, on each database."""
    if request.param == "postgres":
        url = request.getfixturevalue("pg_server").create_database()
        request.getfixturevalue("monkeypatch").setenv("KEEPWARM_DATABASE_URL", url)

    def settings(name: str) -> Settings:
        return load_settings(tenant=name)

    yield settings


@pytest.fixture
def ats_bundle(tmp_path: Path) -> Path:
    """The contract's sample bundle, its first event renamed to the ATS's own id ``ats-1``."""
    dest = tmp_path / "bundle"
    shutil.copytree(SAMPLE, dest)
    events = dest / "events.csv"
    lines = events.read_text(encoding="utf-8").splitlines()
    first = lines[1].split(",", 1)
    lines[1] = f"ats-1,{first[1]}"
    events.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return dest


def _count(engine: Engine, table: type, *where: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


# --- settings --------------------------------------------------------------------------


def test_a_tenant_has_its_own_home_schema_and_model_name(tmp_path: Path) -> None:
    from training.tracking import MODEL_NAME, model_name

    plain = Settings(home=tmp_path)
    acme = Settings(home=tmp_path, tenant="acme")
    assert plain.resolved_home == tmp_path and plain.database_schema is None
    assert acme.resolved_home == tmp_path / "tenants" / "acme"
    assert acme.store_url == f"sqlite:///{tmp_path / 'tenants' / 'acme' / 'keepwarm.db'}"
    assert acme.tracking_uri == f"sqlite:///{tmp_path / 'tenants' / 'acme' / 'mlflow.db'}"
    assert acme.prefect_home == tmp_path / "tenants" / "acme" / "prefect"
    # its own registry under its home: the plain name is its own there
    assert model_name(acme) == model_name(plain) == MODEL_NAME

    pg = "postgresql+psycopg://kw@/kw?host=/tmp"
    shared = {"home": tmp_path, "database_url": pg, "mlflow_tracking_uri": "http://ml:5000"}
    assert Settings(**shared, tenant="acme").database_schema == "tenant_acme"
    assert Settings(**shared).database_schema is None
    assert model_name(Settings(**shared, tenant="acme")) == "keepwarm-dropout-acme"
    assert model_name(Settings(**shared)) == MODEL_NAME


@pytest.mark.parametrize("name", ["acme", "a", "hr_saas_2", "x" + "y" * 30])
def test_a_tenant_name_is_a_short_slug(name: str) -> None:
    assert Settings(tenant=name).tenant == name


@pytest.mark.parametrize("name", ["Acme", "1acme", "ac-me", "../acme", "a" * 32, "acme;drop"])
def test_anything_else_is_refused_before_it_names_a_folder_or_schema(name: str) -> None:
    with pytest.raises(ValueError, match="not a tenant name"):
        Settings(tenant=name)


def test_a_tenants_file_sets_its_own_keys_over_the_environment_and_nothing_else(
    keepwarm_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEEPWARM_TIMEZONE", "Asia/Shanghai")
    monkeypatch.setenv("KEEPWARM_RETENTION_DAYS", "400")
    acme = keepwarm_home / "tenants" / "acme"
    acme.mkdir(parents=True)
    (acme / "keepwarm.env").write_text(
        "KEEPWARM_TIMEZONE=Europe/Berlin\n"
        "KEEPWARM_TIER_HIGH=0.5\n"
        "KEEPWARM_RETENTION_MODE=delete\n"
        'KEEPWARM_PLAN_CAPACITY_BY_OWNER={"hr_li": 8}\n'
        "KEEPWARM_HOME=/elsewhere\n"  # not a tenant's key: ignored
        "MLFLOW_TRACKING_URI=http://elsewhere:5000\n"
        "KEEPWARM_WORKERS=8\n",
        encoding="utf-8",
    )
    mine = load_settings(tenant="acme")
    assert (mine.timezone, mine.tier_high, mine.retention_mode) == ("Europe/Berlin", 0.5, "delete")
    assert mine.retention_days == 400  # not in its file: the environment's
    assert plan_config(mine).capacity_by_owner == {"hr_li": 8} and plan_config(mine).capacity == 15
    assert plan_config(load_settings(tenant="globex")).capacity_by_owner == {}
    assert mine.resolved_home == acme and mine.mlflow_tracking_uri is None and mine.workers == 1
    # another tenant, and the process without one, never read acme's file
    for other in (load_settings(tenant="globex"), load_settings()):
        assert (other.timezone, other.tier_high, other.retention_mode) == (
            "Asia/Shanghai",
            0.4,
            "pseudonymise",
        )


def test_a_tenant_scope_is_the_processs_tenant_until_it_ends(
    keepwarm_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KEEPWARM_TENANT", raising=False)
    assert get_settings().tenant is None
    with tenant_scope("acme") as settings:
        assert settings.tenant == "acme" and os.environ["KEEPWARM_TENANT"] == "acme"
        assert get_settings().resolved_home == keepwarm_home / "tenants" / "acme"
    assert "KEEPWARM_TENANT" not in os.environ and get_settings().tenant is None
    with pytest.raises(RuntimeError), tenant_scope("acme"):
        raise RuntimeError("a failed run")
    assert "KEEPWARM_TENANT" not in os.environ and get_settings().tenant is None
    with pytest.raises(ValueError), tenant_scope("Bad Name"):
        pass
    assert "KEEPWARM_TENANT" not in os.environ


def test_the_tenants_are_the_setting_or_the_folders(
    keepwarm_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert list_tenants(get_settings()) == []
    for name in ("globex", "acme", "Not-A-Tenant"):
        (keepwarm_home / "tenants" / name).mkdir(parents=True)
    assert list_tenants(get_settings()) == ["acme", "globex"]
    monkeypatch.setenv("KEEPWARM_TENANTS", '["initech"]')
    get_settings.cache_clear()
    assert list_tenants(get_settings()) == ["initech"]


# --- the store -------------------------------------------------------------------------


def test_the_same_ats_event_id_is_kept_by_both_tenants(tenant: Tenants, ats_bundle: Path) -> None:
    acme, globex = open_store(tenant("acme")), open_store(tenant("globex"))
    try:
        first = ingest_bundle(acme, ats_bundle)
        second = ingest_bundle(globex, ats_bundle)
        assert first.events_new == second.events_new > 0
        assert second.events_known == 0  # one shared store called them "already known"
        for engine in (acme, globex):
            assert _count(engine, Event, Event.event_id == "ats-1") == 1
        # within one tenant, a delivery twice is still the same event
        assert ingest_bundle(acme, ats_bundle).events_known == first.events_new
    finally:
        acme.dispose()
        globex.dispose()


def test_a_tenants_store_sees_none_of_another_tenants_rows(
    tenant: Tenants, ats_bundle: Path
) -> None:
    acme, globex = open_store(tenant("acme")), open_store(tenant("globex"))
    try:
        ingest_bundle(acme, ats_bundle)
        assert _count(acme, Candidate) > 0
        assert _count(globex, Candidate) == 0 and _count(globex, Event) == 0
        if acme.dialect.name == "postgresql":
            with acme.connect() as conn:
                schemas = conn.execute(text("SHOW search_path")).scalar_one()
            assert schemas == '"tenant_acme"'
    finally:
        acme.dispose()
        globex.dispose()


def test_a_tenants_own_role_cannot_read_another_tenants_schema(
    pg_server: PostgresServer,
    keepwarm_home: Path,
    ats_bundle: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """deploy/tenant-role.sql: with a role per tenant, PostgreSQL itself keeps them apart."""
    url = pg_server.create_database()
    for name in ("acme", "globex"):  # roles are the cluster's: this test alone makes these
        _tenant_role(pg_server, url, name)
        home = keepwarm_home / "tenants" / name
        home.mkdir(parents=True)
        own_url = url.replace(f"//{pg_server.user}@", f"//tenant_{name}@")
        (home / "keepwarm.env").write_text(f"KEEPWARM_DATABASE_URL={own_url}\n", encoding="utf-8")
    monkeypatch.setenv("KEEPWARM_DATABASE_URL", url)  # the vendor's own, for other tenants
    acme, globex = (
        open_store(load_settings(tenant="acme")),
        open_store(load_settings(tenant="globex")),
    )
    try:
        ingest_bundle(globex, ats_bundle)
        with acme.connect() as conn:
            assert conn.execute(text("SELECT current_user")).scalar_one() == "tenant_acme"
            with pytest.raises(exc.ProgrammingError, match="permission denied"):
                conn.execute(text("SELECT count(*) FROM tenant_globex.candidates"))
    finally:
        acme.dispose()
        globex.dispose()


def _tenant_role(pg_server: PostgresServer, url: str, name: str) -> None:
    subprocess.run(
        [*psql_command(pg_server, url), "-v", "ON_ERROR_STOP=1", "-v", f"tenant={name}",
         "-v", "tenant_pass='unused'", "-f", str(ROOT / "deploy" / "tenant-role.sql")],
        check=True, capture_output=True, cwd=pg_server.root,
    )  # fmt: skip


def test_a_tenant_used_before_its_role_passes_to_it_and_a_rerun_is_safe(
    pg_server: PostgresServer,
    keepwarm_home: Path,
    ats_bundle: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An operator who ingests first and makes the tenant's role after (the walk-through
    of the Deploy section did): the script used to stop at "schema already exists" with
    the role half made. Now the schema and its tables pass to the role."""
    url = pg_server.create_database()
    monkeypatch.setenv("KEEPWARM_DATABASE_URL", url)
    (keepwarm_home / "tenants" / "initech").mkdir(parents=True)
    used = open_store(load_settings(tenant="initech"))  # as the vendor's role
    try:
        ingest_bundle(used, ats_bundle)
    finally:
        used.dispose()
    for _ in range(2):  # once to pass it over, once more: nothing breaks
        _tenant_role(pg_server, url, "initech")
    own_url = url.replace(f"//{pg_server.user}@", "//tenant_initech@")
    env = keepwarm_home / "tenants" / "initech" / "keepwarm.env"
    env.write_text(f"KEEPWARM_DATABASE_URL={own_url}\n", encoding="utf-8")
    own = open_store(load_settings(tenant="initech"))  # migrations run as the role, too
    try:
        with own.begin() as conn:
            assert conn.execute(text("SELECT current_user")).scalar_one() == "tenant_initech"
            assert conn.execute(select(func.count()).select_from(Candidate)).scalar_one() > 0
            conn.execute(text("UPDATE candidates SET department = department"))
            owners = conn.execute(
                text("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = :s"),
                {"s": "tenant_initech"},
            ).scalars()
            assert set(owners) == {"tenant_initech"}
    finally:
        own.dispose()


# --- keys and console users ------------------------------------------------------------


def _app(settings: Settings) -> TestClient:
    from serving.main import create_app

    quiet = settings.model_copy(update={"model_poll_seconds": 0, "cache_sync_seconds": 0})
    return TestClient(create_app(quiet), raise_server_exceptions=False)


def test_a_key_or_user_of_one_tenant_is_unknown_to_anothers_service(tenant: Tenants) -> None:
    from serving.auth import create_key
    from serving.users import create_user

    acme_settings, globex_settings = tenant("acme"), tenant("globex")
    acme, globex = open_store(acme_settings), open_store(globex_settings)
    key = create_key(acme, "admin").key
    create_user(acme, "lena", "admin", PASSWORD)
    acme.dispose()
    globex.dispose()
    answers = {}
    for name, settings in (("acme", acme_settings), ("globex", globex_settings)):
        with _app(settings) as client:
            audit = client.get("/v1/admin/audit", headers={"Authorization": f"Bearer {key}"})
            page = client.get("/login")
            login = client.post(
                "/login",
                data={"name": "lena", "password": PASSWORD, "csrf_token": _csrf(page.text)},
                follow_redirects=False,
            )
            answers[name] = (audit.status_code, login.status_code)
    assert answers == {"acme": (200, 303), "globex": (401, 401)}


def _csrf(page: str) -> str:
    import re

    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def test_the_cli_works_for_the_tenant_it_is_given(keepwarm_home: Path) -> None:
    # the CLI's entry point in this process (cli_here): the tenant is chosen by its
    # option, not by anything a fresh process would do differently
    home = keepwarm_home
    made = cli_here("--tenant", "acme", "keys", "create", "--role", "hr", "--owner", "hr01")
    assert made.returncode == 0, made.stderr
    assert (home / "tenants" / "acme" / "keepwarm.db").exists()
    assert not (home / "keepwarm.db").exists()
    listed = cli_here("--tenant", "globex", "keys", "list")
    assert listed.returncode == 0 and "hr01" not in listed.stdout
    assert "hr01" in cli_here("--tenant", "acme", "keys", "list").stdout
    refused = cli_here("--tenant", "Acme", "keys", "list")
    assert refused.returncode == 1 and "not a tenant name" in refused.stderr


# --- models ----------------------------------------------------------------------------


def test_tenants_on_one_tracking_store_keep_their_own_model_and_champion(
    trained_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow

    from training.tracking import (
        PYFUNC_CODE,
        configure,
        load_champion,
        model_history,
        model_name,
    )

    model, _ = load_champion(Settings(home=trained_home, mlflow_tracking_uri=None))
    model_dir = tmp_path / "model_dir"
    model.save(model_dir)
    monkeypatch.chdir(tmp_path)  # a tracking store without a server keeps artifacts here
    shared = f"sqlite:///{tmp_path / 'shared-mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", shared)
    acme, globex = load_settings(tenant="acme"), load_settings(tenant="globex")
    assert model_name(acme) != model_name(globex)

    def register(settings: Settings, times: int) -> str:
        client = configure(settings)
        for _ in range(times):
            with mlflow.start_run():
                info = mlflow.pyfunc.log_model(
                    name="model", python_model=str(PYFUNC_CODE),
                    artifacts={"model_dir": str(model_dir)},
                    registered_model_name=model_name(settings),
                    pip_requirements=[],  # not inferred: MLflow loads the model in a subprocess
                )  # fmt: skip
        version = str(info.registered_model_version)
        client.set_registered_model_alias(model_name(settings), "champion", version)
        return version

    assert register(acme, 2) == "2"
    assert register(globex, 1) == "1"  # its own numbering: acme's champion is untouched
    assert load_champion(acme)[1] == "2" and load_champion(globex)[1] == "1"
    assert [v["version"] for v in model_history(acme)] == ["2", "1"]
    assert [(v["version"], v["aliases"]) for v in model_history(globex)] == [("1", ["champion"])]
    client = configure(acme)
    experiments = {e.name for e in client.search_experiments()}
    assert {"keepwarm-dropout-acme", "keepwarm-dropout-globex"} <= experiments


# --- flows -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def harness(prefect_server: PrefectServer) -> Iterator[None]:
    """The run's Prefect server for this module's flows (test_flows.py keeps Prefect's
    test harness, a temporary server of its own)."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: prefect_server.url}):
        yield
        drain_prefect_workers()


def test_a_daily_run_for_one_tenant_writes_only_into_its_store(
    harness: None, trained_home: Path, keepwarm_home: Path
) -> None:
    from flows.pipeline import daily_scoring_flow

    for name in ("acme", "globex"):  # two tenants with the same history and model
        shutil.copytree(trained_home, keepwarm_home / "tenants" / name)
    # acme's recruiters plan one action a day (its own setting); the default is 15
    (keepwarm_home / "tenants" / "acme" / "keepwarm.env").write_text(
        "KEEPWARM_PLAN_CAPACITY=1\n", encoding="utf-8"
    )
    scores, version = daily_scoring_flow(DAY, tenant="acme")
    assert len(scores) > 0 and version == "1"
    assert "KEEPWARM_TENANT" not in os.environ  # the test process is nobody's again
    acme, globex = (
        open_store(load_settings(tenant="acme")),
        open_store(load_settings(tenant="globex")),
    )
    try:
        assert _count(acme, Score, Score.as_of == DAY) == len(scores)
        assert _count(globex, Score) == 0
        with acme.connect() as conn:
            planned = pd.read_sql(
                select(OutreachAction.hr_owner, OutreachAction.status, OutreachAction.action).where(
                    OutreachAction.plan_date == DAY
                ),
                conn,
            )
        per_owner = planned[planned["status"] == "planned"].groupby("hr_owner").size()
        assert len(per_owner) > 1 and per_owner.max() == 1
        # the rest waits its turn, and says so
        waiting = planned[planned["status"] == "not_planned"]["action"]
        assert waiting.str.startswith("capacity").any()
    finally:
        acme.dispose()
        globex.dispose()
    assert not (keepwarm_home / "keepwarm.db").exists()  # nor into the tenantless home


def test_a_retention_run_applies_the_tenants_own_period(
    harness: None, keepwarm_home: Path, ats_bundle: Path
) -> None:
    """Only acme's file says "delete": its run removes its candidates; globex keeps its own."""
    from flows.pipeline import retention_flow

    engines = {}
    for name in ("acme", "globex"):
        engines[name] = open_store(load_settings(tenant=name))
        ingest_bundle(engines[name], ats_bundle)
    (keepwarm_home / "tenants" / "acme" / "keepwarm.env").write_text(
        "KEEPWARM_RETENTION_DAYS=1\nKEEPWARM_RETENTION_MODE=delete\n", encoding="utf-8"
    )
    before = _count(engines["globex"], Candidate)
    try:
        result = retention_flow(dt.date(2030, 1, 1), tenant="acme")
        assert result["mode"] == "delete" and result["candidates"] > 0
        assert _count(engines["acme"], Candidate) < before
        assert _count(engines["globex"], Candidate) == before
    finally:
        for engine in engines.values():
            engine.dispose()

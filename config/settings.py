"""The one object that reads the environment.

Everything keepwarm keeps (the store, MLflow's tracking data, Prefect's home)
lives under ``KEEPWARM_HOME`` unless a URL points elsewhere.

Tenants (README, "Tenants"): with ``KEEPWARM_TENANT`` set, the home is
``<KEEPWARM_HOME>/tenants/<tenant>``, a PostgreSQL store is the schema
``tenant_<tenant>`` of ``KEEPWARM_DATABASE_URL``'s database, a shared MLflow
server keeps the tenant's model under its own name, and the tenant's own file
``<tenant home>/keepwarm.env`` sets its ``TENANT_KEYS`` over the environment.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, FilePath, SecretStr, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

TENANT_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,30}")


def not_a_tenant(value: object) -> str:
    """What is wrong with a tenant name that does not match ``TENANT_PATTERN``."""
    return (
        f"{value!r} is not a tenant name (a lower-case letter, then up to 30 lower-case "
        "letters, digits or _)"
    )


# What a tenant's own keepwarm.env may set, over the process environment: how its
# recruiters work (their day, tiers, sign-in, retention, digests, webhook secret), and the
# store URL of its own PostgreSQL role (deploy/tenant-role.sql). Where the rest lives
# (home, MLflow, Prefect) and how the process runs are the operator's, for all tenants.
TENANT_KEYS = frozenset(
    {
        "database_url",
        "timezone",
        "tier_high",
        "tier_medium",
        "rate_limit",
        "greenhouse_secret",
        "session_hours",
        "sign_in_limit",
        "audit_keep_days",
        "retention_days",
        "retention_mode",
        "plan_capacity",
        "plan_capacity_by_owner",
        "review_contact",
        "smtp_from",
        "digest_email_domain",
        "digest_emails",
        "chat_webhook_url",
        "chat_flavor",
        "ops_email",
        "ops_chat_webhook_url",
        "training_config",
        "max_reported_problems",
    }
)
TENANT_FILE = "keepwarm.env"


class _TenantFile(PydanticBaseSettingsSource):
    """The tenant's keepwarm.env (pydantic-settings' dotenv source), its TENANT_KEYS only."""

    def __init__(self, settings_cls: type[BaseSettings], dotenv: PydanticBaseSettingsSource):
        super().__init__(settings_cls)
        self._dotenv = dotenv

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ answers for all fields at once

    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in self._dotenv().items() if k in TENANT_KEYS}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KEEPWARM_", extra="ignore")

    home: Path = Field(default=Path(".keepwarm"), description="Directory holding all state.")
    tenant: str | None = Field(
        default=None,
        description="The tenant this process works for (a short slug): its own home under "
        "home/tenants/, its own PostgreSQL schema, model name and keepwarm.env.",
    )
    tenants: list[str] | None = Field(
        default=None,
        description='The tenants the fan-out flow runs (JSON list, e.g. ["acme","globex"]); '
        "the folders under home/tenants/ when unset.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the store; SQLite under home when unset.",
    )
    mlflow_tracking_uri: str | None = Field(
        default=None,
        validation_alias=AliasChoices("MLFLOW_TRACKING_URI", "KEEPWARM_MLFLOW_TRACKING_URI"),
        description="MLflow tracking server; a SQLite store under home when unset.",
    )
    prefect_api_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("PREFECT_API_URL", "KEEPWARM_PREFECT_API_URL"),
        description="A Prefect server for scheduled deployments; none for one-shot runs.",
    )
    max_reported_problems: int = Field(
        default=50, ge=1, description="How many problems a rejected bundle reports."
    )
    training_config: FilePath | None = Field(
        default=None,
        description="A training configuration file used instead of the versioned "
        "training/config.toml (the tests' small one, or an experiment's).",
    )

    # --- serving (keepwarm serve) -------------------------------------------------
    timezone: str = Field(
        default="Asia/Shanghai",
        description="Where 'today' is decided (service, CLI, scheduled flows), and the "
        "offset of events the service stamps.",
    )
    tier_high: float = Field(
        default=0.40, gt=0, lt=1, description="Risk from which a tier is high."
    )
    tier_medium: float = Field(
        default=0.20, gt=0, lt=1, description="Risk from which a tier is medium."
    )
    rate_limit: str = Field(
        default="50/second;2000/minute",
        description="Requests allowed per API key (the `limits` notation, ';'-separated).",
    )
    max_body_bytes: int = Field(
        default=8 * 1024 * 1024, ge=1024, description="Largest request body accepted (413 above)."
    )
    model_poll_seconds: float = Field(
        default=30.0, ge=0, description="How often serving checks the champion alias (0: never)."
    )
    cache_sync_seconds: float = Field(
        default=1.0,
        ge=0,
        description="How often serving looks for data written by other processes (0: never).",
    )
    workers: int = Field(
        default=1, ge=1, description="Serving worker processes (set by `keepwarm serve`)."
    )
    greenhouse_secret: SecretStr | None = Field(
        default=None, description="Greenhouse webhook secret key; the webhook is off when unset."
    )

    # --- the web console (keepwarm serve, at /) ---------------------------------------
    session_hours: float = Field(
        default=12.0, gt=0, description="How long a console sign-in lasts."
    )
    secure_cookies: bool = Field(
        default=False,
        description="Mark console cookies Secure (set it when the console is served over HTTPS).",
    )
    sign_in_limit: str = Field(
        default="10/minute", description="Sign-in attempts allowed per user name and per address."
    )

    # --- privacy and compliance ------------------------------------------------------
    audit_keep_days: int = Field(
        default=365,
        ge=183,
        description="How long audit entries are kept (the store refuses to delete any "
        "younger than 183 days, the EU AI Act's six months).",
    )
    run_lease_seconds: float = Field(
        default=120.0,
        ge=60.0,  # Prefect's shortest lease
        description="How long a daily run killed outright keeps the day's slot (Prefect's "
        "concurrency lease, renewed while the run lives) before the next run may start.",
    )
    plan_capacity: int = Field(
        default=15,
        ge=0,
        description="Planned actions per recruiter per day (the daily plan's capacity).",
    )
    plan_capacity_by_owner: dict[str, int] = Field(
        default_factory=dict,
        description='Capacities of single recruiters over plan_capacity (JSON, e.g. {"hr_li": 8}).',
    )
    retention_days: int = Field(
        default=365,
        ge=1,
        description="Days after a candidate's outcome (joined or reneged) until their "
        "personal data is removed by the retention flow.",
    )
    retention_mode: Literal["pseudonymise", "delete"] = Field(
        default="pseudonymise",
        description="pseudonymise: keep a record without id, school, birthday or free text "
        "for training; delete: remove the candidate entirely.",
    )
    review_contact: str = Field(
        default="your recruiter, or the HR data protection contact",
        description="Who a candidate asks for a human review (shown on explanations).",
    )

    # --- daily digests (off until configured) ----------------------------------------
    smtp_host: str | None = Field(default=None, description="SMTP server for e-mail digests.")
    smtp_port: int = 25
    smtp_from: str = "keepwarm@localhost"
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    digest_email_domain: str | None = Field(
        default=None, description="Recruiters' addresses as <hr_owner>@<domain>."
    )
    digest_emails: dict[str, str] = Field(
        default_factory=dict, description='JSON map {"hr07": "name@corp.cn"}; wins over the domain.'
    )
    chat_webhook_url: str | None = Field(
        default=None, description="A WeCom or Feishu group bot's webhook for digests."
    )
    chat_flavor: Literal["wecom", "feishu"] = "wecom"
    ops_email: str | None = Field(
        default=None,
        description="Where a failed scheduled run is reported by e-mail (needs smtp_host).",
    )
    ops_chat_webhook_url: str | None = Field(
        default=None, description="A WeCom or Feishu bot's webhook for failed scheduled runs."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # No env file is read unless load_settings names the tenant's (``_env_file``): then
        # its TENANT_KEYS come before the environment, and nothing else of it is read.
        tenant_file = _TenantFile(settings_cls, dotenv_settings)
        return init_settings, tenant_file, env_settings, file_secret_settings

    @field_validator("tenant", mode="before")
    @classmethod
    def _tenant_slug(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None  # KEEPWARM_TENANT= means no tenant
        if value is not None and not TENANT_PATTERN.fullmatch(str(value)):
            raise ValueError(f"KEEPWARM_TENANT: {not_a_tenant(value)}")
        return value

    @field_validator("tenants", mode="after")
    @classmethod
    def _tenant_slugs(cls, value: list[str] | None) -> list[str] | None:
        for name in value or []:
            cls._tenant_slug(name)
        return value

    @field_validator("timezone", mode="after")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"KEEPWARM_TIMEZONE: {value!r} is not an IANA time zone (e.g. Asia/Shanghai)"
            ) from None
        return value

    @field_validator("greenhouse_secret", "smtp_password", mode="after")
    @classmethod
    def _blank_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        """``KEEPWARM_GREENHOUSE_SECRET=`` turns nothing on: an empty key would sign anything."""
        if value is not None and not value.get_secret_value().strip():
            return None
        return value

    @property
    def base_home(self) -> Path:
        """``KEEPWARM_HOME`` itself, whatever the tenant."""
        return self.home.expanduser().resolve()

    @property
    def resolved_home(self) -> Path:
        """Where this process keeps its state: the tenant's own folder when one is set."""
        if self.tenant:
            return self.base_home / "tenants" / self.tenant
        return self.base_home

    @property
    def database_schema(self) -> str | None:
        """The tenant's PostgreSQL schema (None: the database's default, or SQLite)."""
        if self.tenant and self.database_url and not self.database_url.startswith("sqlite"):
            return f"tenant_{self.tenant}"
        return None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def today(self) -> dt.date:
        """Today where the recruiters are (``KEEPWARM_TIMEZONE``), never the host's date.

        A 07:00 Asia/Shanghai run on a UTC host starts at 23:00 UTC the day before:
        the host's ``date.today()`` would name yesterday.
        """
        return dt.datetime.now(self.zone).date()

    @property
    def store_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.resolved_home / 'keepwarm.db'}"

    @property
    def tracking_uri(self) -> str:
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return f"sqlite:///{self.registry_file}"

    @property
    def registry_file(self) -> Path | None:
        """The embedded MLflow registry's SQLite file, made by the first ``configure``
        (``training.tracking``); None when a tracking URI is configured."""
        return None if self.mlflow_tracking_uri else self.resolved_home / "mlflow.db"

    @property
    def prefect_home(self) -> Path:
        return self.resolved_home / "prefect"

    def ensure_home(self) -> Path:
        home = self.resolved_home
        home.mkdir(parents=True, exist_ok=True)
        return home


def load_settings(**values: Any) -> Settings:
    """Settings from the environment (``values`` over it); a tenant's with its keepwarm.env."""
    settings = Settings(**values)
    if settings.tenant is None:
        return settings
    tenant_file = settings.resolved_home / TENANT_FILE
    if not tenant_file.is_file():
        return settings
    return Settings(_env_file=tenant_file, **values)  # type: ignore[call-arg]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()


def list_tenants(settings: Settings) -> list[str]:
    """``KEEPWARM_TENANTS``, else the tenants' folders under the home, sorted."""
    if settings.tenants is not None:
        return list(settings.tenants)
    root = settings.base_home / "tenants"
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and TENANT_PATTERN.fullmatch(p.name))


@contextlib.contextmanager
def tenant_scope(tenant: str | None) -> Iterator[Settings]:
    """This process works for ``tenant`` (None: as it was) until the block ends.

    A flow run started by a process worker has a process of its own, so the tenant set
    here is the only one in it; the previous value is put back (and the cached settings
    dropped) however the block ends.
    """
    if tenant is None:
        yield get_settings()
        return
    Settings(tenant=tenant)  # refuse a bad name before anything changes
    before = os.environ.get("KEEPWARM_TENANT")
    os.environ["KEEPWARM_TENANT"] = tenant
    get_settings.cache_clear()
    try:
        yield get_settings()
    finally:
        if before is None:
            os.environ.pop("KEEPWARM_TENANT", None)
        else:
            os.environ["KEEPWARM_TENANT"] = before
        get_settings.cache_clear()

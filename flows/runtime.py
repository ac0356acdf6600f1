"""Prefect's settings, derived from keepwarm's: set before Prefect is imported.

Without a Prefect server (no PREFECT_API_URL), Prefect runs flows against a
temporary local server whose SQLite database lives under KEEPWARM_HOME. Its
background services (schedulers, triggers, late-run marking...) write to the
same SQLite file while the flow does, which is where "database is locked"
comes from; a one-shot run needs none of them, so they are switched off and
the flow is the database's only writer. With a real server configured,
nothing here changes its behaviour.
"""

from __future__ import annotations

import os

from config import Settings

_SERVICES = (
    "CANCELLATION_CLEANUP",
    "EVENT_PERSISTER",
    "EVENT_LOGGER",
    "FOREMAN",
    "LATE_RUNS",
    "SCHEDULER",
    "PAUSE_EXPIRATIONS",
    "REPOSSESSOR",
    "TASK_RUN_RECORDER",
    "TRIGGERS",
    "PROACTIVE_TRIGGERS",
    "REACTIVE_TRIGGERS",
    "FLOW_RUN_NOTIFICATIONS",
    "MARK_LATE_RUNS",
)


def configure_prefect(settings: Settings) -> None:
    home = settings.prefect_home
    home.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_HOME", str(home))
    # Flow and task logs go to Prefect's own store (its API handler); the console
    # stays quiet so a user never sees Prefect's tracebacks: keepwarm reports errors.
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO")
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_API_HOST", "127.0.0.1")
    if settings.prefect_api_url:
        os.environ.setdefault("PREFECT_API_URL", settings.prefect_api_url)
        return
    os.environ.setdefault("PREFECT_SERVER_DATABASE_TIMEOUT", "30")
    # The temporary server creates its database on a first run; on a busy machine that
    # took longer than Prefect's 20 s, and the command died with an internal error.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    for service in _SERVICES:
        os.environ.setdefault(f"PREFECT_SERVER_SERVICES_{service}_ENABLED", "false")

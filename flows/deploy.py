"""The deployments of ``prefect.yaml``, and serving them from one process without a worker.

A company deployment registers ``prefect.yaml`` on a Prefect server and runs it with a
process worker (README, "Deploy"). For a trial, the same deployments can be served
from this one process instead:

    .venv/bin/prefect server start --host 127.0.0.1 &
    export PREFECT_API_URL=http://127.0.0.1:4200/api
    .venv/bin/python -m flows.deploy

Daily scoring runs at 07:00, retention at 02:30, retraining each 1 August (after the
last start dates of the season before, on every closed season), all in
``KEEPWARM_TIMEZONE``: the schedules come from ``prefect.yaml``, whichever way is used.
"""

from __future__ import annotations

from config import get_settings, tenant_scope
from config.logs import install_safe_formatting
from flows.runtime import configure_prefect

configure_prefect(get_settings())

import importlib  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, cast  # noqa: E402

import yaml  # noqa: E402
from prefect import flow, serve  # noqa: E402
from prefect.deployments.runner import RunnerDeployment  # noqa: E402
from prefect.schedules import Cron  # noqa: E402

from flows.pipeline import train_flow  # noqa: E402
from flows.runs import notify_failure  # noqa: E402
from store.db import open_store  # noqa: E402
from store.errors import KeepwarmError  # noqa: E402
from training.train import closed_seasons  # noqa: E402


@flow(
    name="retrain-on-closed-seasons",
    on_failure=[notify_failure],
    on_crashed=[notify_failure],
)
def retrain_closed_seasons(tenant: str | None = None) -> str:
    """Train on every closed season but the newest, test on the newest, gate against the
    champion there; a promoted challenger is refitted on every closed season."""
    with tenant_scope(tenant) as settings:
        engine = open_store(settings)
        try:
            seasons = closed_seasons(engine)
        finally:
            engine.dispose()
    if len(seasons) < 2:
        raise KeepwarmError("retraining needs two closed seasons")
    _, registered = train_flow(seasons[:-1], seasons[-1], "auto", refit_winner=True, tenant=tenant)
    return f"{registered.version} -> {registered.alias}: {registered.reason}"


PREFECT_YAML = Path(__file__).resolve().parent.parent / "prefect.yaml"
_ZONE = "{{ $KEEPWARM_TIMEZONE }}"


def deployments() -> list[RunnerDeployment]:
    """``prefect.yaml``'s deployments (names, flows, cron schedules), to serve here."""
    spec: dict[str, Any] = yaml.safe_load(PREFECT_YAML.read_text(encoding="utf-8"))
    zone = get_settings().timezone
    out = []
    for entry in spec["deployments"]:
        path, name = entry["entrypoint"].split(":")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        schedules = [
            Cron(s["cron"], timezone=s["timezone"].replace(_ZONE, zone))
            for s in entry.get("schedules", [])
        ]
        found = getattr(module, name).to_deployment(name=entry["name"], schedules=schedules)
        out.append(cast(RunnerDeployment, found))
    return out


def main() -> None:
    install_safe_formatting(("", "prefect", "keepwarm"))  # no exception message in its logs
    serve(*deployments())


if __name__ == "__main__":
    main()

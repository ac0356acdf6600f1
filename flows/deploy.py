"""Serve the flows on schedules from a Prefect server.

Start a server (it binds to loopback), point keepwarm at it, then serve:

    .venv/bin/prefect server start --host 127.0.0.1 &
    export PREFECT_API_URL=http://127.0.0.1:4200/api
    .venv/bin/python -m flows.deploy

Daily scoring runs at 07:00 Asia/Shanghai; retraining runs each 1 August,
after the last start dates of the season before, on every closed season; the retention
flow runs nightly at 02:30.
"""

from __future__ import annotations

from config import get_settings
from config.logs import install_safe_formatting
from flows.runtime import configure_prefect

configure_prefect(get_settings())

from typing import cast  # noqa: E402

from prefect import flow, serve  # noqa: E402
from prefect.deployments.runner import RunnerDeployment  # noqa: E402
from prefect.schedules import Cron  # noqa: E402

from flows.pipeline import daily_scoring_flow, retention_flow, train_flow  # noqa: E402
from store.bundle import KeepwarmError  # noqa: E402
from store.db import open_store  # noqa: E402
from training.train import closed_seasons  # noqa: E402


@flow(name="retrain-on-closed-seasons")
def retrain_closed_seasons() -> str:
    """Train on every closed season but the newest, test on the newest, gate against the
    champion there; a promoted challenger is refitted on every closed season."""
    seasons = closed_seasons(open_store(get_settings()))
    if len(seasons) < 2:
        raise KeepwarmError("retraining needs two closed seasons")
    _, registered = train_flow(seasons[:-1], seasons[-1], "auto", refit_winner=True)
    return f"{registered.version} -> {registered.alias}: {registered.reason}"


def deployments() -> list[RunnerDeployment]:
    scoring = daily_scoring_flow.to_deployment(
        name="daily-scoring", schedules=[Cron("0 7 * * *", timezone="Asia/Shanghai")]
    )
    retraining = retrain_closed_seasons.to_deployment(
        name="retrain-when-a-season-closes",
        schedules=[Cron("0 3 1 8 *", timezone="Asia/Shanghai")],
    )
    retention = retention_flow.to_deployment(
        name="retention", schedules=[Cron("30 2 * * *", timezone="Asia/Shanghai")]
    )
    return [cast(RunnerDeployment, d) for d in (scoring, retraining, retention)]


def main() -> None:
    install_safe_formatting(("", "prefect", "keepwarm"))  # no exception message in its logs
    serve(*deployments())


if __name__ == "__main__":
    main()

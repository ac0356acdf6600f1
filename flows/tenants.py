"""The fan-out across tenants: one run of a deployment per tenant, through the work pool.

A vendor's scheduled runs (``prefect-tenants.yaml``) are this flow's: at 07:00 it starts
``daily-scoring`` once per tenant with ``tenant=<name>``; the process worker starts each
of those in a process of its own, where ``config.tenant_scope`` gives it that tenant's
settings, store and model. Started first and awaited after, so tenants run side by side
(as many as the worker takes; ``prefect work-pool set-concurrency-limit`` caps them).
"""

from __future__ import annotations

import time
from typing import Any, cast

from prefect import flow
from prefect.context import FlowRunContext

from config import get_settings, list_tenants
from flows.runs import notify_failure
from flows.runtime import withhold_messages
from store.errors import KeepwarmError

# How long the fan-out waits for its tenants' runs, all together.
FAN_OUT_WAIT_SECONDS = 6 * 3600.0
POLL_SECONDS = 5.0


class TenantRunsFailed(KeepwarmError):
    """Some tenants' runs did not complete: the message names the tenants and states."""


@flow(
    name="all-tenants", log_prints=False, on_failure=[notify_failure], on_crashed=[notify_failure]
)
@withhold_messages
def all_tenants_flow(
    deployment: str = "daily-scoring/daily-scoring",
    parameters: dict[str, Any] | None = None,
    wait_seconds: float = FAN_OUT_WAIT_SECONDS,
) -> dict[str, str]:
    """One run of ``deployment`` per tenant (``config.list_tenants``), through its work pool.

    ``parameters`` go to every run, with ``tenant`` added. All runs are started, then
    awaited; this run fails naming the tenants whose run did not complete. A retry of it
    starts no second run for a tenant (one idempotency key per run and tenant).
    Returns each tenant's final state.
    """
    from prefect.client.schemas.objects import FlowRun
    from prefect.deployments import run_deployment

    tenants = list_tenants(get_settings())
    if not tenants:
        raise KeepwarmError(
            "no tenants: create <KEEPWARM_HOME>/tenants/<name> or set KEEPWARM_TENANTS"
        )
    ctx = FlowRunContext.get()
    parent = str(ctx.flow_run.id) if ctx and ctx.flow_run else "none"
    started = {
        tenant: cast(
            FlowRun,
            run_deployment(
                deployment,
                parameters={**(parameters or {}), "tenant": tenant},
                timeout=0,  # start it and go on: the worker runs them side by side
                idempotency_key=f"{parent}-{deployment}-{tenant}",
                flow_run_name=f"{tenant}",
            ),
        )
        for tenant in tenants
    }
    states = _await_all({t: run.id for t, run in started.items()}, wait_seconds)
    failed = {t: s for t, s in states.items() if s != "COMPLETED"}
    if failed:
        raise TenantRunsFailed(
            f"{deployment}: " + ", ".join(f"{t} {s.lower()}" for t, s in sorted(failed.items()))
        )
    return states


def _await_all(runs: dict[str, Any], wait_seconds: float) -> dict[str, str]:
    """Each run's final state type, polled until all are final or the wait is over."""
    from prefect.client.orchestration import get_client

    deadline = time.monotonic() + wait_seconds
    states: dict[str, str] = {}
    with get_client(sync_client=True) as client:
        while True:
            for tenant, run_id in runs.items():
                if tenant not in states:
                    state = client.read_flow_run(run_id).state
                    if state is not None and state.is_final():
                        states[tenant] = state.type.value
            if len(states) == len(runs) or time.monotonic() > deadline:
                break
            time.sleep(POLL_SECONDS)
    return {t: states.get(t, "NOT FINISHED") for t in runs}

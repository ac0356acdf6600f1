"""What makes a scheduled run safe to leave alone: it resumes, runs alone, reports failure.

- ``RUN_STEP``: the cache policy of every task; with persisted results, a retried run
  reads back what its finished tasks returned instead of starting over.
- ``remove_run_results``: persisted results hold candidates' rows; a finished run's are
  removed, and the retention flow removes what failed runs left.
- ``one_at_a_time``: a Prefect global concurrency limit of one slot (a file lock without
  a Prefect server), so two daily runs (a schedule and a manual rerun, two workers)
  never write the same day at once, and a killed one does not block the next for good.
- ``notify_failure``: a flow's failure hook, sent through the digests' channels.

Imported by ``flows.pipeline`` only, after ``flows.runtime.configure_prefect``.
"""

from __future__ import annotations

import contextlib
import fcntl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prefect.cache_policies import CachePolicy
from prefect.context import FlowRunContext, TaskRunContext

from store.errors import KeepwarmError

# Persisted task results are named after their run, so that a finished run's can be found
# and removed: they hold candidates' rows, which keepwarm's retention rules also cover.
RESULT_PREFIX = "keepwarm-run-"


class RunStep(CachePolicy):
    """The n-th call of a task in one flow run: a retried run reuses what already completed.

    The key is the flow run's id, the task's key and its call index in that run attempt
    (the flows call their tasks one after another, in a fixed order; Prefect's own
    ``dynamic_key`` is random). A new run of the same day computes everything again (new
    events may have arrived); a retry of a failed run ("Retry" on the run in Prefect's
    UI, or its API) reads back the persisted results of the tasks that had finished.
    Nothing is hashed, so large frames cost nothing here. A task's own retries keep
    their first key.
    """

    def compute_key(
        self,
        task_ctx: TaskRunContext,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
        **kwargs: Any,
    ) -> str | None:
        if not task_ctx or task_ctx.task_run.flow_run_id is None:
            return None
        run = task_ctx.task_run
        with _LOCK:
            if run.id not in _KEYS:
                flow_ctx = FlowRunContext.get()
                attempt = flow_ctx.flow_run.run_count if flow_ctx and flow_ctx.flow_run else 0
                slot = (run.flow_run_id, attempt, task_ctx.task.task_key)
                n = _CALLS.get(slot, 0)
                _CALLS[slot] = n + 1
                _KEYS[run.id] = f"{RESULT_PREFIX}{run.flow_run_id}-{task_ctx.task.task_key}-{n}"
            return _KEYS[run.id]


_LOCK = threading.Lock()
_CALLS: dict[tuple[Any, int, str], int] = {}  # (flow run, attempt, task) -> calls so far
_KEYS: dict[Any, str] = {}  # task run -> its key

RUN_STEP = RunStep()


def remove_run_results(flow_run_id: str | None = None, older_than_days: float | None = None) -> int:
    """Delete persisted task results: one run's, or every run's older than a number of days.

    Returns how many files went. Results live in Prefect's local result storage
    (``PREFECT_LOCAL_STORAGE_PATH``, by default ``$KEEPWARM_HOME/prefect/storage``).
    """
    from prefect.settings import PREFECT_LOCAL_STORAGE_PATH

    folder = Path(PREFECT_LOCAL_STORAGE_PATH.value())
    if not folder.is_dir():
        return 0
    pattern = f"{RESULT_PREFIX}{flow_run_id or ''}*"
    cutoff = None if older_than_days is None else time.time() - older_than_days * 86400
    removed = 0
    for path in folder.glob(pattern):
        if cutoff is not None and path.stat().st_mtime >= cutoff:
            continue
        path.unlink(missing_ok=True)
        removed += 1
    return removed


def transient(task: Any, task_run: Any, state: Any) -> bool:
    """Retry a failed task unless its error is the user's to fix (``KeepwarmError``).

    A missing champion or a refused row fails at once; a store, MLflow or mail server
    that did not answer gets the task's retries.
    """
    try:
        state.result()
    except KeepwarmError:
        return False
    except BaseException:
        return True
    return True


class RunLocked(KeepwarmError):
    """Another run holds the slot this run needs (e.g. the day's scoring is already running)."""


@contextlib.contextmanager
def one_at_a_time(name: str, wait_seconds: float, lease_seconds: float = 120.0) -> Iterator[None]:
    """Hold the one slot ``name``: one run at a time, however many start.

    A second run waits for the slot up to ``wait_seconds``, then fails with ``RunLocked``.
    With a Prefect server (``PREFECT_API_URL``), the slot is the server's global
    concurrency limit ``name`` (created if missing), so it holds across workers,
    machines and the CLI pointed at the same server; it is held under a lease of
    ``lease_seconds`` that Prefect renews while the run lives, and a run killed outright
    (SIGKILL, a lost machine) frees it ``lease_seconds`` later, when the server's
    repossessor finds the lease expired. Without one, runs share the home's store on
    one machine, each with its own temporary Prefect server, which runs no repossessor
    and keeps leases in memory: a killed run's slot stayed taken for good. There the
    slot is an OS file lock under ``KEEPWARM_HOME/locks`` (``fcntl.flock``), which the
    system releases when the process ends, however it ends.
    """
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        with _file_slot(name, wait_seconds):
            yield
        return
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.concurrency.sync import concurrency
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            with contextlib.suppress(ObjectAlreadyExists):  # another run created it first
                client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(name=name, limit=1)
                )
    try:
        slot = concurrency(
            name,
            occupy=1,
            timeout_seconds=wait_seconds,
            strict=True,
            lease_duration=lease_seconds,
        )
        slot.__enter__()
    except TimeoutError:
        raise _locked(name, wait_seconds) from None
    try:
        yield
    finally:
        slot.__exit__(None, None, None)


def _locked(name: str, wait_seconds: float) -> RunLocked:
    return RunLocked(
        f"another run holds {name!r} (waited {wait_seconds:g} s); "
        "it finishes first, then run this one again"
    )


@contextlib.contextmanager
def _file_slot(name: str, wait_seconds: float) -> Iterator[None]:
    """``one_at_a_time`` on one machine: an exclusive ``flock`` on ``locks/<name>.lock``."""
    from config import get_settings

    path = get_settings().resolved_home / "locks" / f"{name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_seconds
    with path.open("a") as fh:
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise _locked(name, wait_seconds) from None
                time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def notify_failure(flow: Any, flow_run: Any, state: Any) -> None:
    """A flow's failure or crash, to the operators (``KEEPWARM_OPS_EMAIL``, ``..._CHAT_...``).

    Prefect calls this after the last retry. The notice names the flow, the run, its
    parameters (days and seasons) and the state's message, which ``withhold_messages``
    keeps to an error's type and place; it is sent through the digests' channels.
    """
    from prefect.settings import PREFECT_UI_URL

    from config import tenant_scope
    from outreach.digest import send_notice

    ui = PREFECT_UI_URL.value()
    link = f"{ui.rstrip('/')}/runs/flow-run/{flow_run.id}" if ui else f"flow run id {flow_run.id}"
    params = ", ".join(f"{k}={v}" for k, v in (flow_run.parameters or {}).items())
    subject = f"keepwarm: {flow.name} {state.name.lower()} ({flow_run.name})"
    lines = [
        f"Flow: {flow.name} ({params or 'no parameters'})",
        f"State: {state.name}: {state.message or ''}",
        f"Run: {link}",
        "Retry the run in Prefect (it resumes from the tasks that finished), or run "
        "`keepwarm score --as-of DAY` for a daily run.",
    ]
    # a tenant's run is reported through that tenant's channels (its keepwarm.env)
    with tenant_scope((flow_run.parameters or {}).get("tenant")) as settings:
        send_notice(settings, subject, lines)

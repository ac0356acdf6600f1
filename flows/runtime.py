"""Prefect's settings, derived from keepwarm's: set before Prefect is imported.

Without a Prefect server (no PREFECT_API_URL), Prefect runs flows against a
temporary local server whose SQLite database lives under KEEPWARM_HOME. Its
background services (schedulers, triggers, late-run marking...) write to the
same SQLite file while the flow does, which is where "database is locked"
comes from; a one-shot run needs none of them, so they are switched off and
the flow is the database's only writer. With a real server configured,
nothing here changes its behaviour.

Prefect 3 cannot run a flow without an API, so a one-shot run starts that
temporary server as a subprocess and gives it Prefect's start-up budget (20 s
by default: too little on a busy machine). keepwarm raises the budget, starts
the server itself, gives a slow one a second budget (a dead one a second
start), and otherwise stops with a reason. The server goes when the run goes,
however the run ends (``TemporaryServer``).

Prefect records a failed run's exception message in its database (run states
and logs); tasks and flows are wrapped so that what it records is the type of
the error, never its message, which can hold a candidate's data.
"""

from __future__ import annotations

import functools
import inspect
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import httpx

from config import Settings
from config.logs import SafeFormatter, WithheldError, public_url
from store.errors import KeepwarmError

if TYPE_CHECKING:
    from prefect.server.api.server import SubprocessASGIServer

P = ParamSpec("P")
R = TypeVar("R")
# Wall-clock seconds Prefect's temporary server may take to answer, unless the user's
# PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS says otherwise; it usually takes 5-10.
STARTUP_BUDGET = 120

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
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", str(STARTUP_BUDGET))
    for service in _SERVICES:
        os.environ.setdefault(f"PREFECT_SERVER_SERVICES_{service}_ENABLED", "false")


class PrefectUnavailable(KeepwarmError):
    """Prefect's API, temporary or configured, cannot be used: the message says what to set."""


def ensure_prefect_api() -> None:
    """Make sure flows have a Prefect API before one is run; call after configure_prefect.

    With PREFECT_API_URL set, that server must answer; without, Prefect's temporary
    server is started here (Prefect's own code then finds it running), twice at most.
    """
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_SERVER_EPHEMERAL_ENABLED,
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
    )

    _protect_run_logs()
    url = PREFECT_API_URL.value()
    if url:
        _check_server(url)
        return
    if not PREFECT_SERVER_EPHEMERAL_ENABLED.value():
        raise PrefectUnavailable(
            "no Prefect API: set PREFECT_API_URL to a running server, or "
            "PREFECT_SERVER_EPHEMERAL_ENABLED=true for a temporary one"
        )
    _start_temporary_server(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value())


def _start_temporary_server(budget: int) -> None:
    """Start Prefect's temporary server: ``budget`` wall-clock seconds, then a second chance.

    A server still starting at the deadline is slow, not broken (a fresh one takes
    70-100 s on a 2-core machine with 10 busy loops, against 10-15 s idle): it keeps
    its work and gets a second budget. One that stopped is started again, once.
    """
    server, exit_code = temporary_server(), None
    for _ in range(2):
        process = server.server_process
        try:
            if process is not None and process.poll() is None:
                _await_health(server.api_url, process, budget)
                server.running = True  # what Prefect's own start() records on success
            else:
                server.start(timeout=budget)  # a no-op when it already runs
            return
        except Exception:
            process = server.server_process
            exit_code = process.poll() if process is not None else None
            if exit_code is not None:
                server.stop()
                server = temporary_server()
    server.stop()
    if exit_code is not None:
        raise PrefectUnavailable(
            f"Prefect's temporary server stopped while starting (exit code {exit_code}), "
            "twice; set PREFECT_API_URL to a running Prefect server"
        )
    raise PrefectUnavailable(
        f"Prefect's temporary server did not start within {budget} s, twice (machine busy?); "
        "set PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS higher, or PREFECT_API_URL to a "
        "running Prefect server"
    )


# A watcher's whole program: wait for end of file on stdin, whose only writer is the
# run (so it comes when the run is gone, however it ended), then end the server through
# its pidfd (never another process that took its pid). Terminal signals are the run's.
_WATCH = """
import signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
sys.stdin.buffer.read()
try:
    signal.pidfd_send_signal(int(sys.argv[1]), signal.SIGTERM)
except ProcessLookupError:
    pass
"""
_watchers: list[subprocess.Popen[bytes]] = []  # held for the run's life: their pipes' writer


def _watch(pid: int) -> None:
    """Start a watcher that ends process ``pid`` when this process is gone (Linux pidfds;
    elsewhere, nothing: Prefect's own stop at exit is all there is)."""
    if not hasattr(os, "pidfd_open"):
        return
    fd = os.pidfd_open(pid)
    try:
        _watchers.append(
            subprocess.Popen(
                [sys.executable, "-S", "-c", _WATCH, str(fd)],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                pass_fds=(fd,),
                start_new_session=True,
            )
        )
    finally:
        os.close(fd)


def temporary_server() -> SubprocessASGIServer:
    """Prefect's temporary server: its one instance, which Prefect's own code then finds,
    each of whose processes ends with the run that started it.

    Prefect stops the server at exit; a run killed outright (SIGKILL, the OOM killer, a
    timeout's ``kill -9``) runs no exit code, and its server used to live on, holding a
    few hundred MB, a port and a share of a core. Each server process now gets a watcher
    (``_watch``). A signal on the parent's death (``PR_SET_PDEATHSIG``) would fire when
    the starting *thread* ends, and needs ``preexec_fn``, unsafe with threads.
    """
    return _server_class()()


@functools.cache
def _server_class() -> type[SubprocessASGIServer]:
    from prefect.server.api.server import SubprocessASGIServer

    class TemporaryServer(SubprocessASGIServer):
        # Prefect keeps one instance per port for the base class and its subclasses alike:
        # made first, this one is what Prefect's ``SubprocessASGIServer()`` returns.
        def _run_uvicorn_command(self) -> subprocess.Popen[Any]:
            process = super()._run_uvicorn_command()
            _watch(process.pid)
            return process

    return TemporaryServer


def _await_health(api_url: str, process: subprocess.Popen[bytes], budget: int) -> None:
    """Wait until the server at ``api_url`` answers its health check; TimeoutError if not."""
    deadline = time.monotonic() + budget
    with httpx.Client(timeout=5) as client:
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if client.get(f"{api_url}/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
    raise TimeoutError(f"no health answer within {budget} s")


def _check_server(url: str) -> None:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        problem = client.api_healthcheck()
    if problem is not None:
        raise PrefectUnavailable(
            f"Prefect's API at {public_url(url)} did not answer ({type(problem).__name__}); "
            "start that server, or unset PREFECT_API_URL to run with a temporary one"
        )


def _protect_run_logs() -> None:
    """Prefect's run logs: to its API with tracebacks without messages, not to the console.

    keepwarm's console handler sits on the root logger (Prefect keeps a user's root
    handler), where Prefect's errors would arrive as tracebacks: keepwarm reports
    errors itself, in one line.
    """
    import logging

    import prefect.main  # noqa: F401 (Prefect configures its logging on this import)
    from prefect.logging.handlers import APILogHandler

    logging.getLogger("prefect").propagate = False
    for name in ("prefect.flow_runs", "prefect.task_runs", "prefect.extra"):
        for handler in logging.getLogger(name).handlers:
            if isinstance(handler, APILogHandler):
                handler.setFormatter(SafeFormatter())


def withhold_messages(fn: Callable[P, R]) -> Callable[P, R]:
    """Wrap a task's or flow's function: errors reach Prefect by type, not by message.

    keepwarm's user errors pass unchanged (their messages are safe by contract);
    anything else is raised as ``WithheldError``, its original kept on it and out of
    the traceback Prefect logs.
    """

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except (KeepwarmError, WithheldError):
            raise
        except Exception as exc:
            raise WithheldError(exc, fn.__name__) from None

    # Prefect validates parameters against the signature; with its annotations still
    # strings, they would be resolved in this module, which does not import their types.
    run.__signature__ = inspect.signature(fn, eval_str=True)  # type: ignore[attr-defined]
    return run

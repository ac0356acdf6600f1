"""What a running service shares: settings, store, keys, limits, scorer, metrics, audit reads.

One ``AppState`` per app (``app.state.service``); the API and the console reach it
through ``serving.deps``, the services take it (or just its engine) as an
argument. The champion model is loaded here and reloaded when its alias moves.
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
import threading
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from limits import parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter, SlidingWindowCounterRateLimiter
from sqlalchemy import Engine

from config import Settings
from serving.auth import KeyCache
from serving.metrics import Metrics
from serving.schemas import Tier
from serving.scorer import Scorer
from serving.services.daily import DayState
from serving.services.scope import DataRange
from store import audit
from training.config import load_config
from training.monitor import in_force, shift_in_force
from training.predictor import Predictor

log = logging.getLogger("keepwarm.serving")

# MLflow's error codes for a registry that answered, with "not there".
ANSWERED = ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND")


class AppState:
    """Everything the routes share: store, keys, limiter, scorer, metrics."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self.keys = KeyCache(engine)
        # Each worker process counts its own requests: it enforces its share of the limit.
        self.limits = [
            type(item)(max(1, item.amount // settings.workers), item.multiples, item.namespace)
            for item in parse_many(settings.rate_limit)
        ]
        # A sliding-window counter: two counters per key, where a moving window keeps one
        # timestamp per request (a list as long as the limit, walked on every hit).
        self.limiter = SlidingWindowCounterRateLimiter(MemoryStorage())
        # Sign-ins: few, and counted exactly (password guessing).
        self.sign_in_limiter = MovingWindowRateLimiter(MemoryStorage())
        self.scorer = Scorer(engine, load_config().rules)
        self.data_range = DataRange(engine)  # the days a request may ask for
        # what the daily run keeps between days (``POST /v1/runs/daily``): it rebuilds
        # only the candidates, alerts and check cohorts that changed
        self.day_state = DayState()
        self.metrics = Metrics()
        self.zone = ZoneInfo(settings.timezone)
        self._reload_lock = threading.Lock()
        # SQLite has one writer at a time: queue writes here instead of in its busy loop.
        self.write_lock = threading.Lock()
        self.refused: set[str] = set()  # model versions that failed their load check
        self.registry_error: str | None = None
        # the model version whose scores of today are built (``warm``): ready only then
        self.warmed: str | None = None
        self.warm_error: str | None = None
        self._cards: dict[str, dict[str, Any]] = {}
        # read entries of the audit log, written in batches (changes are recorded in
        # their own transactions)
        self.reads = audit.ReadLog(engine)

    @property
    def model(self) -> Predictor | None:
        return self.scorer.model

    def today(self) -> dt.date:
        """Today where the recruiters are (``KEEPWARM_TIMEZONE``), not on the host's clock."""
        return self.settings.today()

    def tier(self, risk: float) -> Tier:
        if risk >= self.settings.tier_high:
            return "high"
        return "medium" if risk >= self.settings.tier_medium else "low"

    def audit(
        self,
        who: audit.Actor,
        action: str,
        target: str,
        candidates: list[str] | tuple[str, ...] = (),
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Record a read in the audit log (queued: ``audit.ReadLog``)."""
        self.reads.add(who, action, target, candidates, detail)

    def warm(self) -> None:
        """Build today's scores for the loaded model, so no request waits for the build.

        ``/readyz`` says ready only once this has run for the model being served (at
        start, and after each model change); a build that fails is logged (no
        personal data) and tried again at the next model poll.
        """
        model = self.model
        if model is None:
            return
        try:
            self.scorer.day(self.today())
        except Exception:
            log.exception("building today's scores failed; trying again at the next poll")
            self.warm_error = "today's scores could not be built"
            return
        self.warm_error = None
        self.warmed = model.version

    def reload_model(self) -> tuple[str | None, bool]:
        """Load the champion if the alias moved; returns (version, changed).

        A registry that does not answer, or a version that cannot serve (a bad file, a
        feature list this keepwarm does not build), leaves the current model serving:
        the service never crashes on it, and reports not ready while it has no model.
        """
        from mlflow.exceptions import MlflowException

        from training.tracking import configure, load_model_version, model_name

        with self._reload_lock:
            self._refresh_shift()
            current = self.model.version if self.model else None
            registry = self.settings.registry_file
            if registry is not None and not registry.exists():
                # nothing trained in this home: no champion, and no empty registry made
                # for the asking (MLflow's set-up of a new one: ~4 s of CPU at each start)
                self.registry_error = None
                return current, False
            if not _answers(self.settings.tracking_uri):
                # MLflow's client would retry for minutes: ask the socket first
                log.warning("the model registry does not answer; keeping version %s", current)
                self.registry_error = "model registry unreachable"
                return current, False
            try:
                client, name = configure(self.settings), model_name(self.settings)
                version = str(client.get_model_version_by_alias(name, "champion").version)
            except MlflowException as exc:
                # the registry answered "no such alias": no champion yet, not a fault
                answered = exc.error_code in ANSWERED
                self.registry_error = None if answered else "model registry unreachable"
                return current, False
            except Exception:  # a registry that does not answer at all
                log.warning("the model registry does not answer; keeping version %s", current)
                self.registry_error = "model registry unreachable"
                return current, False
            self.registry_error = None
            if version == current or version in self.refused:
                return current, False
            try:
                loaded = in_force(
                    self.engine, Predictor.of(load_model_version(version, name), version)
                )
            except Exception as exc:
                # a registry or store that failed mid-download is retried at the next
                # poll; a version whose content is wrong is not asked for again
                if not isinstance(exc, (MlflowException, ConnectionError, TimeoutError)):
                    self.refused.add(version)
                log.error(
                    "model version %s refused (%s); version %s keeps serving",
                    version,
                    type(exc).__name__,
                    current,
                )
                return current, False
            self.scorer.set_model(loaded)
            self.metrics.model_loaded(version)
            log.warning("serving model version %s (was %s)", version, current)
            return version, True

    def _refresh_shift(self) -> None:
        """Apply a new in-season intercept shift of the serving version (``training.monitor``).

        The daily run's calibration check stores it; every process picks it up at its
        next poll, as it does a new champion.
        """
        model = self.model
        if model is None:
            return
        shift, check_id = shift_in_force(self.engine, model.version)
        if check_id != model.shift_check:
            self.scorer.set_model(model.with_shift(shift, check_id))
            log.warning("model version %s: intercept shift %+.3f in force", model.version, shift)

    def card(self, version: str) -> dict[str, Any]:
        """The version's model card (from MLflow, once per version)."""
        if version not in self._cards:
            from training.tracking import version_details

            try:
                self._cards[version] = version_details(self.settings, version).get("card", {})
            except Exception:
                log.warning("model card of version %s unavailable", version)
                return {}
        return self._cards[version]


def _answers(uri: str, timeout: float = 2.0) -> bool:
    """Whether an HTTP tracking server accepts a connection (a database URI: assume so)."""
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return True
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            return True
    except OSError:
        return False

"""Domain errors of the services; ``serving.errors`` maps each to an HTTP answer.

Messages name the field and the reason, never a value the caller sent.
"""

from __future__ import annotations

from store.errors import KeepwarmError


class ServiceError(KeepwarmError):
    """A request the service refuses; ``code`` is the API's machine-readable error code."""

    code = "bad_request"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFound(ServiceError):
    """Unknown, or not the caller's to see (the two look alike on purpose)."""

    code = "not_found"


class Forbidden(ServiceError):
    """The caller's role or scope does not allow it."""

    code = "forbidden"


class NoModel(ServiceError):
    """No champion model is loaded yet."""

    code = "no_model"


class Invalid(ServiceError):
    """A parameter outside what the service accepts (``field`` names it)."""

    code = "invalid"

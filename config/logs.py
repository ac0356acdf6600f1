"""Tracebacks without personal data, for crash logs and every log handler.

An exception's message can hold the data that caused it: a PostgreSQL error's
DETAIL line repeats the failing row, pandas and pydantic errors echo values.
What is kept instead is where it happened (file, line, function, source line)
and what it was (the type of every exception in the chain), plus facts known
to hold no values: a SQL statement whose parameters were hidden, PostgreSQL's
SQLSTATE and the names of the table, column and constraint involved, an OS
error's errno, and the place a withheld error came from.
"""

from __future__ import annotations

import copy
import errno
import logging
import traceback
from types import TracebackType
from urllib.parse import urlsplit, urlunsplit

_STATEMENT_CHARS = 600
_PG_NAMES = ("table_name", "column_name", "constraint_name", "datatype_name")


class WithheldError(Exception):
    """An error whose message was withheld because it may hold personal data.

    Raised in place of ``original`` where a message would be recorded by someone
    else (Prefect's run states and logs); ``original`` keeps the real error for
    the crash log and for deciding what to tell the user.
    """

    def __init__(self, original: BaseException, where: str) -> None:
        self.original = original
        self.where = where
        super().__init__(f"{_type_name(original)} in {where} (message withheld)")

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.original, self.where))


def _type_name(exc: BaseException) -> str:
    kind = type(exc)
    if kind.__module__ in ("builtins", "__main__"):
        return kind.__qualname__
    return f"{kind.__module__}.{kind.__qualname__}"


def _safe_facts(exc: BaseException) -> list[str]:
    """What can be said about ``exc`` without its message."""
    facts = []
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str):
        facts.append(f"SQLSTATE {sqlstate}")
        diag = getattr(exc, "diag", None)
        for name in _PG_NAMES:
            value = getattr(diag, name, None) if diag is not None else None
            if value:
                facts.append(f"{name.removesuffix('_name')} {value}")
    if getattr(exc, "hide_parameters", False) and getattr(exc, "statement", None):
        statement = " ".join(str(exc.statement).split())  # type: ignore[attr-defined]
        if len(statement) > _STATEMENT_CHARS:
            statement = statement[:_STATEMENT_CHARS] + " ..."
        facts.append(f"SQL: {statement}")
    if isinstance(exc, WithheldError):
        facts.append(f"in {exc.where}")
    if isinstance(exc, OSError) and exc.errno is not None:
        facts.append(f"{errno.errorcode.get(exc.errno, exc.errno)}: {exc.strerror}")
    return facts


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it came from, oldest first (suppressed context too)."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and not any(current is s for s in seen):
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen[::-1]


def _frames(tb: TracebackType | None) -> str:
    stack = traceback.StackSummary.extract(traceback.walk_tb(tb), capture_locals=False)
    return "".join(stack.format())


def safe_traceback(exc: BaseException) -> str:
    """The traceback of ``exc`` and its chain: frames and type names, no messages."""
    parts = []
    for i, link in enumerate(_chain(exc)):
        if i:
            parts.append("\nwhich led to:\n\n")
        if link.__traceback__ is not None:
            parts.append("Traceback (most recent call last):\n" + _frames(link.__traceback__))
        facts = _safe_facts(link)
        parts.append(_type_name(link) + " (message withheld)")
        parts.append("".join(f"\n  {fact}" for fact in facts) + "\n")
        if isinstance(link, BaseExceptionGroup):
            inner = ", ".join(_type_name(e) for e in link.exceptions)
            parts.append(f"  grouping: {inner}\n")
    return "".join(parts)


class _Withheld:
    """Stands in for an exception passed as a log argument: its type, not its message."""

    def __init__(self, exc: BaseException) -> None:
        self.name = _type_name(exc)

    def __repr__(self) -> str:
        return f"{self.name}(message withheld)"

    __str__ = __repr__


class SafeFormatter(logging.Formatter):
    """A formatter that shows tracebacks as ``safe_traceback`` does.

    Exceptions passed as arguments (``log.error("failed: %s", exc)``) are shown by
    type only. A message that already contains an exception's text cannot be
    cleaned: pass the exception as an argument or as ``exc_info``.
    """

    def formatException(self, ei: logging._SysExcInfoType) -> str:
        exc = ei[1]
        return safe_traceback(exc).rstrip("\n") if exc is not None else ""

    def format(self, record: logging.LogRecord) -> str:
        record = copy.copy(record)
        record.exc_text = None  # another handler may have cached a full traceback there
        if isinstance(record.args, tuple):
            record.args = tuple(
                _Withheld(a)
                if isinstance(a, BaseException) and not isinstance(a, WithheldError)
                else a
                for a in record.args
            )
        return super().format(record)


def public_url(url: str) -> str:
    """``url`` without a password or query string, to name a service in a message."""
    parts = urlsplit(url)
    if not parts.netloc:
        return url.split("?")[0]
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    if parts.username:
        host = f"{parts.username}@{host}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


SERVER_LOGGERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access", "keepwarm")


def install_safe_formatting(names: tuple[str, ...] = SERVER_LOGGERS) -> None:
    """Put ``SafeFormatter`` on every handler of these loggers (the root one included).

    A server logs tracebacks through handlers someone else set up (uvicorn's, or
    none at all in a worker process, where Python's last-resort handler would print
    the exception's message): each keeps its format, minus exception messages. A
    process with no root handler gets one on standard error, at WARNING.
    """
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setLevel(logging.WARNING)
        root.addHandler(handler)
        handler.setFormatter(SafeFormatter("%(levelname)s %(name)s: %(message)s"))
    for name in names:
        for each in logging.getLogger(name).handlers:
            if isinstance(each.formatter, SafeFormatter):
                continue
            old = each.formatter
            fmt = getattr(old, "_fmt", None) or "%(levelname)s %(name)s: %(message)s"
            each.setFormatter(SafeFormatter(fmt, getattr(old, "datefmt", None)))

"""Tracebacks for crash logs and log handlers: where and what, never an error's message."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert
from sqlalchemy.exc import IntegrityError

from config.logs import SafeFormatter, WithheldError, public_url, safe_traceback
from store.schema import Candidate

MARK = "MARKschool5e1f"


def _read_row(row: dict[str, str]) -> None:
    raise KeyError(f"no school for {row['school']}")


def _load(row: dict[str, str]) -> None:
    try:
        _read_row(row)
    except KeyError as exc:
        raise ValueError(f"row {row} rejected") from exc


def test_safe_traceback_keeps_frames_and_types_of_the_chain_but_no_message() -> None:
    try:
        try:
            _load({"school": MARK})
        except ValueError:
            raise RuntimeError(f"while loading {MARK}") from None
    except RuntimeError as exc:
        report = safe_traceback(exc)
    assert MARK not in report
    # the whole chain, oldest first, the suppressed context included
    assert report.index("KeyError") < report.index("ValueError") < report.index("RuntimeError")
    assert "in _read_row" in report and "in _load" in report  # the frames
    assert "raise KeyError(f\"no school for {row['school']}\")" in report  # their source lines
    assert report.count("(message withheld)") == 3


def test_a_withheld_error_shows_the_original_and_where_it_was_withheld() -> None:
    try:
        try:
            _read_row({"school": MARK})
        except KeyError as exc:
            raise WithheldError(exc, "load_task") from None
    except WithheldError as exc:
        assert str(exc) == "KeyError in load_task (message withheld)"
        report = safe_traceback(exc)
    assert MARK not in report
    assert "KeyError (message withheld)" in report and "in load_task" in report


def test_store_errors_keep_value_free_facts_and_the_statement_not_the_values(
    store: Engine,
) -> None:
    row = {"candidate_id": "MARKid77", "season": "2024-autumn", "school": MARK, "hr_owner": "hr01"}
    with pytest.raises(IntegrityError) as caught, store.begin() as conn:
        conn.execute(insert(Candidate), [row, row])
    message = str(caught.value)
    assert MARK not in message  # the engine hides parameters ...
    if store.dialect.name == "postgresql":  # ... but PostgreSQL's DETAIL repeats the key
        assert "Key (candidate_id)=(MARKid77) already exists" in message
    report = safe_traceback(caught.value)
    assert MARK not in report and "MARKid77" not in report
    assert "sqlalchemy.exc.IntegrityError (message withheld)" in report
    assert "SQL: INSERT INTO candidates" in report
    if store.dialect.name == "postgresql":
        assert "SQLSTATE 23505" in report and "constraint candidates_pkey" in report


def test_safe_formatter_shows_exceptions_by_type_in_messages_and_tracebacks() -> None:
    formatter = SafeFormatter("%(levelname)s %(message)s")
    try:
        _load({"school": MARK})
    except ValueError as exc:
        record = logging.LogRecord(
            "keepwarm", logging.ERROR, __file__, 1, "load failed: %s", (exc,), sys.exc_info()
        )
        record.exc_text = f"a full traceback another handler cached: {MARK}"
    shown = formatter.format(record)
    assert MARK not in shown
    assert shown.startswith("ERROR load failed: ValueError(message withheld)")
    assert "in _read_row" in shown and "KeyError (message withheld)" in shown
    assert record.exc_text is not None and MARK in record.exc_text  # the record is left alone


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://user:secret@mlflow.corp:5000/api?token=abc", "http://user@mlflow.corp:5000/api"),
        ("http://127.0.0.1:4200/api", "http://127.0.0.1:4200/api"),
        ("sqlite:////srv/keepwarm/mlflow.db", "sqlite:////srv/keepwarm/mlflow.db"),
    ],
)
def test_public_url_drops_passwords_and_queries(url: str, shown: str) -> None:
    assert public_url(url) == shown


def test_the_service_puts_the_safe_formatter_on_every_server_handler(
    served_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from fastapi.testclient import TestClient

    from config import get_settings
    from serving.main import create_app

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logging.getLogger("uvicorn.error").addHandler(handler)
    monkeypatch.setenv("KEEPWARM_MODEL_POLL_SECONDS", "0")
    get_settings.cache_clear()
    try:
        with TestClient(create_app(get_settings())):
            assert isinstance(handler.formatter, SafeFormatter)
            school = "北京" + "大学 MARKER-" + str(7731)  # not on the raising line's source
            try:
                raise ValueError(school)
            except ValueError:
                logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
    finally:
        logging.getLogger("uvicorn.error").removeHandler(handler)
    out = stream.getvalue()
    assert "Exception in ASGI application" in out and "ValueError" in out
    assert "MARKER-7731" not in out and "北京大学" not in out

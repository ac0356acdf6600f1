"""Opaque cursors for paged lists: an offset into one day's list, base64 JSON."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json

from serving.errors import ApiError

MAX_OFFSET = 10_000_000


def make_cursor(offset: int, day: dt.date) -> str:
    raw = json.dumps({"o": offset, "d": day.isoformat()}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_offset(cursor: str | None, day: dt.date | None) -> int:
    """The offset a cursor holds; 400 ``bad_cursor`` for one this API did not give out."""
    if not cursor:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        offset = data["o"]
        same_day = day is not None and data["d"] == day.isoformat()
    except (ValueError, KeyError, TypeError, binascii.Error, RecursionError):
        raise ApiError(400, "bad_cursor", "cursor is not one this API gave out") from None
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= MAX_OFFSET:
        raise ApiError(400, "bad_cursor", "cursor is not one this API gave out")
    if not same_day:
        raise ApiError(400, "bad_cursor", "cursor belongs to another day's list")
    return offset

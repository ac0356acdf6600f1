"""Tables handed to spreadsheets: cells a spreadsheet would run stay text.

Text starting with ``= + - @``, a tab or a carriage return is what Excel, LibreOffice
and Google Sheets evaluate as a formula (OWASP, "CSV Injection"): such cells get a
leading apostrophe, so a department named ``=HYPERLINK(...)`` is shown, not run.
Used by the console's CSV and Excel exports and by ``keepwarm score --out``.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralised(value: Any) -> Any:
    """Text a spreadsheet would evaluate, made inert with a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def inert(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every text cell ``neutralised`` (numbers are left as they are)."""
    out = frame.copy()
    text = out.select_dtypes(include=["object", "string"]).columns
    out[text] = out[text].map(neutralised)
    return out

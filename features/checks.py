"""What a candidates file holds that the features can only partly read: said, not refused.

A city the gazetteer cannot place is still compared, as written; a role family the
model does not know is scored as missing. Neither is an error in the contract, so
ingest loads the file and prints these warnings, with counts and a few of the values.
"""

from __future__ import annotations

import re

import pandas as pd

from features.places import place_city
from features.roles import role_family_of

CITY_COLUMNS = ("home_city", "work_city")
SHOWN = 5  # distinct values named in one warning; the rest are counted
# A value is named only when it looks like a name: an address or a phone number
# typed into a city field is personal data, and stays out of the output.
_NAME_LIKE = re.compile(r"[^\d@/\\]{1,20}")


def _listed(counts: pd.Series, word: dict[str, str] | None = None) -> str:
    """``Suzhou ×2, 火星 ×1`` for the most frequent values that look like names."""
    named = [(v, int(n)) for v, n in counts.items() if _NAME_LIKE.fullmatch(str(v).strip())]
    parts = [f"{v} -> {word[v]} ×{n}" if word else f"{v} ×{n}" for v, n in named[:SHOWN]]
    rest = len(counts) - len(parts)
    if rest:
        parts.append(f"{rest} other value{'s' if rest > 1 else ''} not shown")
    return ", ".join(parts)


def _values(column: pd.Series) -> pd.Series:
    """The non-empty text values of a column."""
    text = column.dropna().astype(str)
    return text[text.str.strip() != ""]


def warn_unplaced_cities(candidates: pd.DataFrame, file: str) -> list[str]:
    """One warning for the city names in ``file`` that the gazetteer cannot place."""
    unplaced = {
        c: found[[place_city(v) is None for v in found]]
        for c in CITY_COLUMNS
        if c in candidates
        for found in [_values(candidates[c])]
    }
    total = sum(len(v) for v in unplaced.values())
    if not total:
        return []
    by_column = ", ".join(f"{c} {len(v)}" for c, v in unplaced.items() if len(v))
    names = pd.concat(list(unplaced.values())).value_counts()
    return [
        f"{file}: {total} city name(s) it cannot place ({by_column}), compared as written: "
        + _listed(names)
    ]


def warn_role_families(candidates: pd.DataFrame, file: str) -> list[str]:
    """Warnings for role families read as another name of a family, or unknown to the model."""
    if "role_family" not in candidates:
        return []
    roles = _values(candidates["role_family"])
    family = {v: role_family_of(v) for v in roles.unique()}
    unknown = roles[[family[v] is None for v in roles]]
    mapped = roles[[family[v] not in (None, v) for v in roles]]
    out = []
    if not mapped.empty:
        out.append(
            f"{file}: {len(mapped)} role_family value(s) read as the model's family: "
            + _listed(mapped.value_counts(), {v: str(f) for v, f in family.items()})
        )
    if not unknown.empty:
        out.append(
            f"{file}: {len(unknown)} role_family value(s) the model does not know, scored as "
            f"missing: {_listed(unknown.value_counts())}"
        )
    return out


def warn_profile_values(candidates: pd.DataFrame, file: str) -> list[str]:
    """Everything a candidates file says that the features read only in part."""
    return warn_unplaced_cities(candidates, file) + warn_role_families(candidates, file)

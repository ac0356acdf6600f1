"""Who is scored when, and with which label: the training spine.

A candidate enters the scored population on the day of its first
``offer_approval_requested`` or ``offer_sent`` and leaves it on its outcome
date; a snapshot "as of D" exists for every D from entry up to the day before
the outcome. The label is ``outcome == reneged``.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

ENTRY_TYPES = ("offer_approval_requested", "offer_sent")


def scored_population(events: pd.DataFrame, outcomes: pd.DataFrame) -> pd.DataFrame:
    """candidate_id, entry_day, outcome_date (NaT while open), label (NaN while open)."""
    entries = (
        events.loc[events["type"].isin(ENTRY_TYPES)]
        .groupby("candidate_id", as_index=False)["local_day"]
        .min()
        .rename(columns={"local_day": "entry_day"})
    )
    out = entries.merge(outcomes[["candidate_id", "outcome", "outcome_date"]], how="left")
    out["label"] = np.where(out["outcome"].isna(), np.nan, (out["outcome"] == "reneged") * 1.0)
    return out.drop(columns="outcome")


def active_on(population: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    """Candidates in the scored population at the end of ``day``, as the store knew it then.

    An outcome recorded for a later date does not remove anyone early.
    """
    entered = population["entry_day"] <= day
    gone = population["outcome_date"].notna() & (population["outcome_date"] <= day)
    return population.loc[entered & ~gone]


def snapshot_spine(
    population: pd.DataFrame,
    every_days: int = 7,
    anchor: dt.date | None = None,
    extra_days: tuple[dt.date, ...] = (),
) -> pd.DataFrame:
    """Labelled snapshots on a calendar grid (every ``every_days`` from ``anchor``) plus extra days.

    A grid shared by all candidates keeps snapshot days comparable across them;
    ``extra_days`` adds, e.g., the days a truth.csv was computed for.
    """
    done = population.dropna(subset=["label", "outcome_date"])
    if done.empty:
        return pd.DataFrame(columns=["candidate_id", "as_of", "label"])
    first = min(done["entry_day"])
    last = max(done["outcome_date"])
    anchor = anchor or first
    start = anchor + dt.timedelta(days=((first - anchor).days // every_days) * every_days)
    grid = pd.date_range(start, last, freq=f"{every_days}D").date.tolist()
    days = sorted(set(grid) | set(extra_days))
    day_frame = pd.DataFrame({"as_of": days})
    pairs = done.merge(day_frame, how="cross")
    keep = (pairs["as_of"] >= pairs["entry_day"]) & (pairs["as_of"] < pairs["outcome_date"])
    return pairs.loc[keep, ["candidate_id", "as_of", "label"]].reset_index(drop=True)

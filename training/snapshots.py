"""The training spine: labelled snapshots of the scored population.

Who is scored when is ``features.population`` (entry on the first offer event,
exit on the outcome date); a snapshot "as of D" exists for every D from entry up
to the day before the outcome. The label is ``outcome == reneged``; ``label_30d``
(the time-to-renege model's) is a renege within 30 days of the snapshot's day.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd


def snapshot_spine(
    population: pd.DataFrame,
    every_days: int = 7,
    anchor: dt.date | None = None,
    extra_days: tuple[dt.date, ...] = (),
    within_days: int = 30,
) -> pd.DataFrame:
    """Labelled snapshots on a calendar grid (every ``every_days`` from ``anchor``) plus extra days.

    A grid shared by all candidates keeps snapshot days comparable across them;
    ``extra_days`` adds, e.g., the days a truth.csv was computed for. Columns:
    candidate_id, as_of, label, label_30d (reneged at most ``within_days`` days after
    ``as_of``: the outcome date is the day the renege became known).
    """
    done = population.dropna(subset=["label", "outcome_date"])
    if done.empty:
        return pd.DataFrame(columns=["candidate_id", "as_of", "label", "label_30d"])
    first = min(done["entry_day"])
    last = max(done["outcome_date"])
    anchor = anchor or first
    start = anchor + dt.timedelta(days=((first - anchor).days // every_days) * every_days)
    grid = pd.date_range(start, last, freq=f"{every_days}D").date.tolist()
    days = sorted(set(grid) | set(extra_days))
    day_frame = pd.DataFrame({"as_of": days})
    pairs = done.merge(day_frame, how="cross")
    keep = (pairs["as_of"] >= pairs["entry_day"]) & (pairs["as_of"] < pairs["outcome_date"])
    pairs = pairs.loc[keep].reset_index(drop=True)
    days_left = (pd.to_datetime(pairs["outcome_date"]) - pd.to_datetime(pairs["as_of"])).dt.days
    pairs["label_30d"] = ((pairs["label"] == 1) & (days_left <= within_days)).astype(float)
    return pairs[["candidate_id", "as_of", "label", "label_30d"]]

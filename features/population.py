"""Who is scored when: the scored population, and everyone active at the end of a day.

A candidate enters the scored population on the day of its first
``offer_approval_requested`` or ``offer_sent`` and leaves it on its outcome
date (the data contract). "Active on day D" is one rule, ``active_on``, and one
loader, ``load_day``: training's spine, the daily batch, the service and the
console's history all go through them. ``active_ids`` is the same rule as a query,
run inside the store, so a day reads its active candidates' events and nothing of
the finished seasons behind it (``tests/features/test_population.py`` holds the two
to agree).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, Select, select

from features.source import (
    PLAUSIBLE,
    load_candidates,
    load_content,
    load_events,
    load_outcomes,
)
from store.schema import Candidate, Event, Outcome

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


def active_ids(day: dt.date, candidate_ids: list[str] | None = None) -> Select[Any]:
    """``active_on``'s rule as a query on the store: the ids active at the end of ``day``.

    Entered by an ``ENTRY_TYPES`` event dated on or before ``day`` (a plausible one,
    as ``load_events`` reads them), and no outcome dated on or before ``day``.
    ``candidate_ids`` narrows it to those candidates. Use it as a subquery
    (``Event.candidate_id.in_(active_ids(day))``): the ids never leave the store.
    """
    # Driven by the candidates, not by a scan of the events: a finished candidate is
    # ruled out by its outcome (a key lookup), the entry is looked up on the index of
    # per-candidate timelines. Every event's candidate is known (the checks refuse others).
    gone = select(Outcome.candidate_id).where(
        Outcome.candidate_id == Candidate.candidate_id, Outcome.outcome_date <= day
    )
    entered = select(Event.candidate_id).where(
        Event.candidate_id == Candidate.candidate_id,
        Event.local_day <= day,
        Event.type.in_(ENTRY_TYPES),
        PLAUSIBLE,
    )
    query = select(Candidate.candidate_id).where(~gone.exists(), entered.exists())
    if candidate_ids is not None:
        query = query.where(Candidate.candidate_id.in_(candidate_ids))
    return query


def read_ids(engine: Engine, query: Select[Any]) -> list[str]:
    """The ids a query selects, in the order ``scored_population`` gives them (sorted)."""
    with engine.connect() as conn:
        return sorted(str(c) for c in conn.execute(query).scalars())


@dataclass
class DayInputs:
    """What the store knew at the end of ``as_of``, and who was active then.

    ``spine`` is ``(candidate_id, as_of)``, one row per active candidate: the feature
    builder's entity frame. ``events`` hold the active candidates' events up to the end
    of the day, ``candidates`` their profiles as known then (``store.profiles``).
    """

    as_of: dt.date
    events: pd.DataFrame
    candidates: pd.DataFrame
    content: pd.DataFrame
    spine: pd.DataFrame


def load_day(engine: Engine, as_of: dt.date, candidate_ids: list[str] | None = None) -> DayInputs:
    """Everyone (or the given candidates) active at the end of ``as_of``, with their inputs.

    The store picks the active candidates (``active_ids``) and only their events and
    profiles are read: the day costs what its active candidates cost, however many
    finished seasons the store holds.
    """
    active = active_ids(as_of, candidate_ids)
    ids = read_ids(engine, active)
    keep = set(ids)  # a write between the reads does not add anyone to the day
    events = load_events(engine, until=as_of, candidate_ids=active)
    events = events[events["candidate_id"].isin(keep)].reset_index(drop=True)
    candidates = load_candidates(engine, candidate_ids=active, as_of=as_of)
    candidates = candidates[candidates["candidate_id"].isin(keep)].reset_index(drop=True)
    spine = pd.DataFrame({"candidate_id": ids, "as_of": [as_of] * len(ids)})
    return DayInputs(as_of, events, candidates, load_content(engine), spine)


def active_days(
    engine: Engine, candidate_id: str, until: dt.date, every_days: int = 7, most: int = 60
) -> list[dt.date]:
    """Days the candidate was active, every ``every_days`` back from ``until``, oldest first.

    At most ``most`` days (the newest), so a long history costs a bounded amount. Each
    day is judged by ``active_on``: an entry and an outcome are both dated, so what was
    known at the end of each day follows from the dates.
    """
    ids = [candidate_id]
    population = scored_population(
        load_events(engine, until=until, candidate_ids=ids), load_outcomes(engine, ids)
    )
    if population.empty:
        return []
    days = [until - dt.timedelta(days=every_days * k) for k in range(most)]
    return sorted(d for d in days if not active_on(population, d).empty)

"""Read what features need from the store: events without free text, profiles without names."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from sqlalchemy import Engine, Select, select

from features.build import CANDIDATE_COLUMNS, EVENT_COLUMNS
from store.contract import EARLIEST, LATEST
from store.profiles import as_of_profiles, history
from store.schema import Candidate, Content, Event, Outcome

# Rows outside the contract's plausible range can only be there from before the entries
# refused them (or a hand-made write): they are never read, so one cannot break a day.
PLAUSIBLE = Event.local_day.between(EARLIEST, LATEST) & Event.ts_utc.between(
    dt.datetime.combine(EARLIEST, dt.time()), dt.datetime.combine(LATEST, dt.time.max)
)

# Which candidates to read: a list of ids, or a query selecting them (run inside the
# store, so a day's active candidates never travel as a long ``IN (...)`` list).
CandidateIds = list[str] | Select[Any]


def load_events(
    engine: Engine, until: dt.date | None = None, candidate_ids: CandidateIds | None = None
) -> pd.DataFrame:
    """Events known by the end of ``until`` (all when None); never the ``text`` column.

    ``candidate_ids`` narrows it to those candidates (the serving side refreshes a few;
    a day reads its active candidates by query, ``features.population.active_ids``).
    """
    query = select(*(getattr(Event, c) for c in EVENT_COLUMNS), Event.content_id).where(PLAUSIBLE)
    if until is not None:
        query = query.where(Event.local_day <= until)
    if candidate_ids is not None:
        query = query.where(Event.candidate_id.in_(candidate_ids))
    with engine.connect() as conn:
        frame = pd.read_sql(query, conn)
    frame["local_day"] = pd.to_datetime(frame["local_day"]).dt.date
    return frame


def load_candidates(
    engine: Engine,
    seasons: list[str] | None = None,
    candidate_ids: CandidateIds | None = None,
    as_of: dt.date | None = None,
) -> pd.DataFrame:
    """One row per candidate: profile fields, season, owner, department.

    With ``as_of``, the fields features read are those known at the end of that day
    (``store.profiles``): a start date or city changed later does not show. Owner and
    department are always the current ones (they decide who may see the candidate).
    """
    columns = [*CANDIDATE_COLUMNS, "season", "hr_owner", "department"]
    query = select(*(getattr(Candidate, c) for c in columns))
    if seasons:
        query = query.where(Candidate.season.in_(seasons))
    if candidate_ids is not None:
        query = query.where(Candidate.candidate_id.in_(candidate_ids))
    with engine.connect() as conn:
        frame = pd.read_sql(query, conn)
        return frame if as_of is None else as_of_profiles(conn, frame, as_of)


def load_profile_versions(
    engine: Engine, candidate_ids: CandidateIds | None = None
) -> pd.DataFrame:
    """Every known version of the profile fields features read, with ``known_from``.

    ``features.build.build_features`` takes this in place of ``load_candidates`` when a
    spine spans many days (training, a candidate's weekly history): each row then gets
    the version known at the end of its own ``as_of``.
    """
    with engine.connect() as conn:
        return history(conn, candidate_ids)


def load_outcomes(engine: Engine, candidate_ids: CandidateIds | None = None) -> pd.DataFrame:
    query = select(Outcome.candidate_id, Outcome.outcome, Outcome.outcome_date, Outcome.reason)
    if candidate_ids is not None:
        query = query.where(Outcome.candidate_id.in_(candidate_ids))
    with engine.connect() as conn:
        frame = pd.read_sql(query, conn)
    frame["outcome_date"] = pd.to_datetime(frame["outcome_date"]).dt.date
    return frame


def load_content(engine: Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql(
            select(
                Content.content_id,
                Content.topics,
                Content.role_families,
                Content.kind,
                Content.stage,
            ),
            conn,
        )

"""What the console's pages show, as plain data: one function per page.

Each takes the service and who is asking, and never returns a candidate that
person may not see. ``serving.console`` only turns these into HTML.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select

from features.build import build_features
from features.source import load_candidates, load_content, load_events, load_outcomes
from outreach import overrides
from outreach.alerts import open_questions
from outreach.plan import TOPIC_WORDS, URGENT_ACTIONS
from outreach.review import message_responses
from serving.auth import Principal
from serving.engine import FLAGS, DayScores, with_texts
from store.schema import Content, OutreachAction, Score
from training.snapshots import scored_population

if TYPE_CHECKING:
    from serving.app import Service

SORTS = ("risk", "change", "days_to_start", "candidate_id")
TIERS = ("high", "medium", "low")


class NoModel(Exception):
    """No champion is loaded: lists and scores cannot be shown yet."""


def console_day(service: Service) -> dt.date:
    """The day the console shows: the latest daily scoring run, else today."""
    with service.engine.connect() as conn:
        latest = conn.execute(select(func.max(Score.as_of))).scalar()
    return latest or service.today()


def owner_of(principal: Principal, asked: str | None) -> str | None:
    """An HR user's own recruiter whatever they ask for; anyone else's choice."""
    return principal.hr_owner if principal.role == "hr" else (asked or None)


def day_scores(service: Service, day: dt.date) -> DayScores:
    if service.scorer.model is None:
        raise NoModel
    return service.scorer.day(day, [])


# --- the risk list -------------------------------------------------------------------------


@dataclass(frozen=True)
class RiskFilters:
    owner: str | None = None
    department: str | None = None
    role_family: str | None = None
    tier: str | None = None
    alert: str | None = None
    sort: str = "risk"
    descending: bool = True


def _last_week(service: Service, day: dt.date, ids: list[str]) -> pd.Series:
    """Each candidate's stored risk from the daily run 7 to 10 days before ``day``."""
    with service.engine.connect() as conn:
        rows = pd.read_sql(
            select(Score.candidate_id, Score.as_of, Score.risk).where(
                Score.as_of >= day - dt.timedelta(days=10),
                Score.as_of <= day - dt.timedelta(days=7),
            ),
            conn,
        )
    rows = rows[rows["candidate_id"].isin(ids)].sort_values("as_of")
    return rows.groupby("candidate_id")["risk"].last()


def _next_actions(service: Service, day: dt.date) -> pd.Series:
    with service.engine.connect() as conn:
        rows = pd.read_sql(
            select(OutreachAction.candidate_id, OutreachAction.action)
            .where(OutreachAction.plan_date == day, OutreachAction.status == "planned")
            .order_by(OutreachAction.action_id),
            conn,
        )
    return rows.groupby("candidate_id")["action"].first()


def risk_table(
    service: Service, principal: Principal, day: dt.date, filters: RiskFilters
) -> pd.DataFrame:
    """Everyone active on ``day`` that the caller may see, filtered and sorted; no reasons yet.

    ``rank`` is the place in the whole day's list (highest risk 1), whatever the filters.
    """
    scores = day_scores(service, day)
    order = scores.ordered()
    meta = scores.day.meta.iloc[order]
    frame = pd.DataFrame(
        {
            "row": order,
            "rank": np.arange(1, len(order) + 1),
            "candidate_id": scores.ids[order],
            "hr_owner": meta["hr_owner"].to_numpy(),
            "department": meta["department"].to_numpy(),
            "role_family": meta["role_family"].to_numpy(),
            "risk": scores.risk[order],
            "days_to_start": meta["days_to_start"].to_numpy(),
        }
    )
    frame["tier"] = [service.tier(r) for r in frame["risk"]]
    flags = meta[list(FLAGS)].to_numpy(dtype=bool)
    frame["alerts"] = [[f for f, on in zip(FLAGS, row, strict=True) if on] for row in flags]
    owner = owner_of(principal, filters.owner)
    keep = np.array([principal.sees_owner(o) for o in frame["hr_owner"]], dtype=bool)
    for column, wanted in (
        ("hr_owner", owner),
        ("department", filters.department),
        ("role_family", filters.role_family),
        ("tier", filters.tier),
    ):
        if wanted:
            keep &= (frame[column] == wanted).to_numpy()
    if filters.alert:
        keep &= np.array([filters.alert in a for a in frame["alerts"]], dtype=bool)
    frame = frame[keep].reset_index(drop=True)
    before = _last_week(service, day, frame["candidate_id"].tolist())
    frame["change"] = frame["risk"] - frame["candidate_id"].map(before).astype(float)
    frame["next_action"] = frame["candidate_id"].map(_next_actions(service, day))
    with service.engine.connect() as conn:
        held = overrides.current(conn, frame["candidate_id"].tolist())
    # a recruiter's tier, shown beside the model's (which the filters and ranks still use)
    frame["override"] = [held[c].tier if c in held else None for c in frame["candidate_id"]]
    sort = filters.sort if filters.sort in SORTS else "risk"
    if sort != "risk" or not filters.descending:
        frame = frame.sort_values(
            [sort, "rank"], ascending=[not filters.descending, True], na_position="last"
        )
    return frame.reset_index(drop=True)


def with_reasons(service: Service, day: dt.date, rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` of ``risk_table`` with their top reasons (worked out only for these rows)."""
    scores = day_scores(service, day)
    out = rows.copy()
    out["reasons"] = scores.scored([int(i) for i in rows["row"]])[1] if len(rows) else []
    return out


def choices(service: Service, principal: Principal, day: dt.date) -> dict[str, list[str]]:
    """The values a filter can take, from what the caller can see today."""
    meta = day_scores(service, day).day.meta
    seen = meta[[principal.sees_owner(o) for o in meta["hr_owner"]]]
    return {
        col: sorted({str(v) for v in seen[col].dropna()})
        for col in ("hr_owner", "department", "role_family")
    }


# --- today ---------------------------------------------------------------------------------


def plan_rows(
    service: Service, principal: Principal, day: dt.date, owner: str | None
) -> list[dict[str, Any]]:
    """The day's plan in the order it was made (urgent first), with content titles."""
    owner = owner_of(principal, owner)
    query = (
        select(OutreachAction, Content.title)
        .outerjoin(Content, Content.content_id == OutreachAction.content_id)
        .where(OutreachAction.plan_date == day, ~OutreachAction.action.startswith("cadence:"))
        .order_by(OutreachAction.hr_owner, OutreachAction.action_id)
    )
    if owner is not None:
        query = query.where(OutreachAction.hr_owner == owner)
    with service.engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        {**r._asdict(), "urgent": r.action in URGENT_ACTIONS}
        for r in rows
        if principal.sees_owner(r.hr_owner)
    ]


# --- one candidate -------------------------------------------------------------------------


def risk_history(service: Service, candidate_id: str, day: dt.date) -> pd.DataFrame:
    """The current model's risk for the candidate every week since the offer, up to ``day``.

    Each point is scored from the features as known at the end of that day (the same
    builder as training), so it shows how the risk moved, not what was known later.
    """
    model = service.scorer.model
    if model is None:
        return pd.DataFrame(columns=["as_of", "risk"])
    ids = [candidate_id]
    events = load_events(service.engine, until=day, candidate_ids=ids)
    outcomes = load_outcomes(service.engine, candidate_ids=ids)
    pop = scored_population(events, outcomes[outcomes["outcome_date"] <= day])
    if pop.empty:
        return pd.DataFrame(columns=["as_of", "risk"])
    first = pop["entry_day"].iloc[0]
    end = pop["outcome_date"].iloc[0]
    last = day if pd.isna(end) else min(day, end - dt.timedelta(days=1))
    days = sorted({last - dt.timedelta(days=7 * k) for k in range((last - first).days // 7 + 1)})
    if not days:
        return pd.DataFrame(columns=["as_of", "risk"])
    spine = pd.DataFrame({"candidate_id": ids * len(days), "as_of": days})
    frame = build_features(
        events,
        load_candidates(service.engine, candidate_ids=ids),
        spine,
        load_content(service.engine),
    )
    risk = model.risk(model.matrix(frame)) if len(frame) else np.empty(0)
    return pd.DataFrame({"as_of": frame["as_of"].to_numpy(), "risk": risk})


def contributions(service: Service, day: dt.date, candidate_id: str, top: int = 8) -> list[dict]:
    """The features that push this candidate's risk most, both ways, in both languages."""
    model = service.scorer.model
    if model is None:
        return []
    scores = service.scorer.day(day, [candidate_id])
    i = scores.row.get(candidate_id)
    if i is None:
        return []
    return [with_texts(r) for r in scores.model.contributions(scores.X[i], top)]


def content_sent(service: Service, timeline: list[Any]) -> pd.DataFrame:
    """The candidate's HR messages with content, and whether they opened, clicked, replied."""
    events = pd.DataFrame(
        [
            {
                "candidate_id": "c",
                "ts_utc": pd.Timestamp(e.ts).tz_convert("UTC").tz_localize(None),
                "ts": e.ts,
                "type": e.type,
                "content_id": e.content_id,
                "topic": e.topic,
                "actor": e.actor,
            }
            for e in timeline
        ],
        columns=["candidate_id", "ts_utc", "ts", "type", "content_id", "topic", "actor"],
    )
    with service.engine.connect() as conn:
        content = pd.read_sql(
            select(
                Content.content_id,
                Content.title,
                Content.kind,
                Content.topics,
                Content.role_families,
            ),
            conn,
        )
    sends = message_responses(events, content)
    titles = content.set_index("content_id")["title"]
    sends["title"] = sends["content_id"].map(titles)
    return sends[["ts", "content_id", "title", "kind", "opened", "clicked", "replied"]]


def unanswered(timeline: list[Any]) -> list[str]:
    """Topics the candidate asked about that no HR message has answered since."""
    events = pd.DataFrame(
        [
            {
                "candidate_id": "c",
                "ts_utc": e.ts,
                "type": e.type,
                "topic": e.topic,
                "actor": e.actor,
            }
            for e in timeline
        ],
        columns=["candidate_id", "ts_utc", "type", "topic", "actor"],
    )
    events["ts_utc"] = pd.to_datetime(events["ts_utc"], utc=True)
    return open_questions(events, list(TOPIC_WORDS)).get("c", [])

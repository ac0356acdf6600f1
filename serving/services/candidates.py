"""One candidate: profile, timeline, score history, current score, and what drives it.

``candidate_detail`` is what the API's ``/v1/candidates/{id}`` returns and the
console's candidate page and the explanation start from; it checks scope first.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sqlalchemy import select

from features.build import build_features
from features.population import active_days
from features.source import PLAUSIBLE, load_content, load_events, load_profile_versions
from outreach.alerts import open_questions
from outreach.plan import TOPIC_WORDS
from outreach.review import message_responses
from serving.auth import Principal
from serving.schemas import (
    CandidateDetail,
    OutcomeOut,
    Profile,
    ScorePoint,
    TimelineEvent,
)
from serving.services.errors import NotFound
from serving.services.scores import current_score
from store.schema import Candidate, Content, Event, Outcome, Score
from training.predictor import worded

if TYPE_CHECKING:
    from serving.state import AppState

DETAIL_FIELDS = "profile,outcome,timeline,score_history,current"
HISTORY_WEEKS = 60  # points on a candidate's risk chart: more than a season


def candidate_detail(
    state: AppState, principal: Principal, candidate_id: str, as_of: dt.date
) -> CandidateDetail:
    """Profile (no gender), timeline in local times, stored score history, current score.

    Raises ``NotFound`` for an unknown candidate or one the caller may not see.
    """
    with state.engine.connect() as conn:
        cand = conn.execute(select(Candidate).where(Candidate.candidate_id == candidate_id)).first()
        if cand is None or not principal.sees_owner(cand.hr_owner):
            raise NotFound("no such candidate")
        events = conn.execute(
            select(Event)
            .where(Event.candidate_id == candidate_id, PLAUSIBLE)
            .order_by(Event.ts_utc)
        ).all()
        history = conn.execute(
            select(Score).where(Score.candidate_id == candidate_id).order_by(Score.as_of)
        ).all()
        outcome = conn.execute(select(Outcome).where(Outcome.candidate_id == candidate_id)).first()
    profile = Profile.model_validate(
        {k: getattr(cand, k) for k in Profile.model_fields}, from_attributes=False
    )
    timeline = [
        TimelineEvent(
            event_id=e.event_id,
            ts=(e.ts_utc + dt.timedelta(minutes=e.utc_offset_min)).isoformat()
            + _offset(e.utc_offset_min),
            local_day=e.local_day,
            type=e.type,
            channel=e.channel,
            content_id=e.content_id,
            topic=e.topic,
            value=e.value,
            actor=e.actor,
            text=e.text,
        )
        for e in events
    ]
    return CandidateDetail(
        profile=profile,
        outcome=None
        if outcome is None
        else OutcomeOut(
            candidate_id=outcome.candidate_id,
            outcome=outcome.outcome,
            outcome_date=outcome.outcome_date,
            reason=outcome.reason,
        ),
        timeline=timeline,
        score_history=[
            ScorePoint(as_of=s.as_of, risk=s.risk, rank=s.rank, model_version=s.model_version)
            for s in history
        ],
        current=current_score(state, candidate_id, as_of),
    )


def as_known_on(detail: CandidateDetail, day: dt.date) -> CandidateDetail:
    """The detail as known at the end of ``day``: nothing that happened later."""
    return detail.model_copy(
        update={
            "timeline": [e for e in detail.timeline if e.local_day <= day],
            "score_history": [s for s in detail.score_history if s.as_of <= day],
            "outcome": detail.outcome
            if detail.outcome is not None and detail.outcome.outcome_date <= day
            else None,
        }
    )


def risk_history(state: AppState, candidate_id: str, day: dt.date) -> pd.DataFrame:
    """The current model's risk for the candidate every week since the offer, up to ``day``.

    Each point is scored from the features as known at the end of that day (the same
    builder as training), so it shows how the risk moved, not what was known later.
    At most ``HISTORY_WEEKS`` points, the newest. Columns: as_of, risk.
    """
    model = state.model
    days = active_days(state.engine, candidate_id, day, most=HISTORY_WEEKS) if model else []
    if model is None or not days:
        return pd.DataFrame(columns=["as_of", "risk"])
    ids = [candidate_id]
    spine = pd.DataFrame({"candidate_id": ids * len(days), "as_of": days})
    frame = build_features(
        load_events(state.engine, until=day, candidate_ids=ids),
        load_profile_versions(state.engine, candidate_ids=ids),
        spine,
        load_content(state.engine),
    )
    risk = model.risk(model.matrix(frame)) if len(frame) else np.empty(0)
    return pd.DataFrame({"as_of": frame["as_of"].to_numpy(), "risk": risk})


def contributions(
    state: AppState, day: dt.date, candidate_id: str, top: int = 8
) -> list[dict[str, Any]]:
    """The features that push this candidate's risk most, both ways, in both languages."""
    if state.model is None:
        return []
    scores = state.scorer.day(day, [candidate_id])
    i = scores.row.get(candidate_id)
    if i is None:
        return []
    return [worded(r) for r in scores.model.contributions(scores.X[i], top)]


def content_sent(state: AppState, timeline: list[TimelineEvent]) -> pd.DataFrame:
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
    with state.engine.connect() as conn:
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


def unanswered(timeline: list[TimelineEvent]) -> list[str]:
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


def _offset(minutes: int) -> str:
    sign = "-" if minutes < 0 else "+"
    minutes = abs(minutes)
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"

"""The brief's monthly season review, as plain tables from the store.

Each function takes frames (or a ``SeasonFrames`` read once by ``load_season``)
and returns a DataFrame, so the console, the notebooks and tests share them.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select

from features.population import scored_population
from features.source import PLAUSIBLE
from outreach.plan import PlanConfig, in_holdout
from store.contract import REASONS
from store.schema import Alert, Candidate, Content, Event, Outcome


@dataclass(frozen=True)
class SeasonFrames:
    season: str
    candidates: pd.DataFrame  # candidate_id, hr_owner, department, role_family
    events: pd.DataFrame  # candidate_id, ts_utc, local_day, type, content_id, topic, actor
    outcomes: pd.DataFrame  # candidate_id, outcome, outcome_date, reason
    content: pd.DataFrame  # content_id, kind, topics, role_families
    alerts: pd.DataFrame  # alert_id, candidate_id, kind, created_at, resolved_at, hr_owner


def season_names(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(select(Candidate.season).distinct().order_by(Candidate.season)).all()
    return [str(r[0]) for r in rows]


def load_season(
    engine: Engine, season: str, until: dt.date | None = None, owner: str | None = None
) -> SeasonFrames:
    """One season's data as known at the end of ``until`` (all when None); no free text.

    With ``owner``, only that recruiter's candidates (what an HR user may see).
    """
    in_season = select(Candidate.candidate_id).where(Candidate.season == season)
    if owner is not None:
        in_season = in_season.where(Candidate.hr_owner == owner)
    events_q = select(
        Event.candidate_id,
        Event.ts_utc,
        Event.local_day,
        Event.type,
        Event.content_id,
        Event.topic,
        Event.actor,
    ).where(Event.candidate_id.in_(in_season), PLAUSIBLE)
    outcomes_q = select(
        Outcome.candidate_id, Outcome.outcome, Outcome.outcome_date, Outcome.reason
    ).where(Outcome.candidate_id.in_(in_season))
    if until is not None:
        events_q = events_q.where(Event.local_day <= until)
        outcomes_q = outcomes_q.where(Outcome.outcome_date <= until)
    with engine.connect() as conn:
        candidates = pd.read_sql(
            select(
                Candidate.candidate_id,
                Candidate.hr_owner,
                Candidate.department,
                Candidate.role_family,
            ).where(Candidate.candidate_id.in_(in_season)),
            conn,
        )
        events = pd.read_sql(events_q, conn)
        outcomes = pd.read_sql(outcomes_q, conn)
        content = pd.read_sql(
            select(Content.content_id, Content.kind, Content.topics, Content.role_families), conn
        )
        alerts = pd.read_sql(
            select(
                Alert.alert_id,
                Alert.candidate_id,
                Alert.kind,
                Alert.created_at,
                Alert.resolved_at,
                Candidate.hr_owner,
            )
            .join(Candidate, Candidate.candidate_id == Alert.candidate_id)
            .where(Candidate.candidate_id.in_(in_season)),
            conn,
        )
    events["ts_utc"] = pd.to_datetime(events["ts_utc"])
    events["local_day"] = pd.to_datetime(events["local_day"]).dt.date
    outcomes["outcome_date"] = pd.to_datetime(outcomes["outcome_date"]).dt.date
    for col in ("created_at", "resolved_at"):
        alerts[col] = pd.to_datetime(alerts[col])
    return SeasonFrames(season, candidates, events, outcomes, content, alerts)


def _month(days: pd.Series) -> pd.Series:
    return pd.to_datetime(days).dt.strftime("%Y-%m")


def funnel_by_month(frames: SeasonFrames) -> pd.DataFrame:
    """Offers sent and accepted (by event day), joined and reneged (by outcome day), per month."""
    ev = frames.events
    parts = {
        "offers": _month(ev.loc[ev["type"] == "offer_sent", "local_day"]),
        "accepted": _month(ev.loc[ev["type"] == "offer_accepted", "local_day"]),
    }
    out = frames.outcomes
    for kind in ("joined", "reneged"):
        parts[kind] = _month(out.loc[out["outcome"] == kind, "outcome_date"])
    counts = pd.DataFrame({k: v.value_counts() for k, v in parts.items()}).fillna(0).astype(int)
    counts = counts.reindex(columns=list(parts), fill_value=0).sort_index()
    counts.index.name = "month"
    return counts.reset_index()


def renege_reasons(frames: SeasonFrames) -> pd.DataFrame:
    """Reneges by the reason the ATS recorded (unknown when none was)."""
    reneged = frames.outcomes[frames.outcomes["outcome"] == "reneged"]
    reasons = reneged["reason"].fillna("unknown")
    counts = reasons.value_counts()
    order = [r for r in (*REASONS, "unknown") if r in counts.index]
    table = pd.DataFrame({"reason": order, "reneged": [int(counts[r]) for r in order]})
    table["share"] = table["reneged"] / max(len(reneged), 1)
    return table.sort_values("reneged", ascending=False, kind="stable").reset_index(drop=True)


def personalised(sends: pd.DataFrame, events: pd.DataFrame, content: pd.DataFrame) -> np.ndarray:
    """Whether each message carried content on a topic its candidate had raised before.

    That is what personalising means to a recruiter: the brief's "content that does
    not speak to them" is content on no topic the candidate asked about.
    """
    topics = content.assign(topic=content["topics"].fillna("").str.split(";"))[
        ["content_id", "topic"]
    ].explode("topic")
    topics = topics[topics["topic"].str.strip().ne("")]
    asks = events[
        events["type"].isin(["candidate_question", "info_session_question"])
        & events["topic"].notna()
    ]
    first_ask = asks.groupby(["candidate_id", "topic"], as_index=False)["ts_utc"].min()
    pairs = (
        sends[["candidate_id", "content_id", "ts_utc"]]
        .reset_index()
        .merge(topics, on="content_id")
        .merge(first_ask.rename(columns={"ts_utc": "ask_ts"}), on=["candidate_id", "topic"])
    )
    hit = set(pairs.loc[pairs["ask_ts"] < pairs["ts_utc"], "index"])
    return np.array([i in hit for i in sends.index], dtype=bool)


def _responded(sends: pd.DataFrame, answers: pd.DataFrame, window: pd.Timedelta) -> np.ndarray:
    """Whether each send got an answer from the same candidate within ``window``."""
    if sends.empty or answers.empty:
        return np.zeros(len(sends), dtype=bool)
    left = sends[["candidate_id", "ts_utc"]].reset_index().sort_values("ts_utc")
    right = answers[["candidate_id", "ts_utc"]].rename(columns={"ts_utc": "answer_ts"})
    matched = pd.merge_asof(
        left,
        right.sort_values("answer_ts"),
        left_on="ts_utc",
        right_on="answer_ts",
        by="candidate_id",
        direction="forward",
        tolerance=window,
        allow_exact_matches=False,
    ).set_index("index")
    return matched.loc[sends.index, "answer_ts"].notna().to_numpy()


def message_responses(
    events: pd.DataFrame, content: pd.DataFrame, window_days: int = 3
) -> pd.DataFrame:
    """Each HR message that carried content: personalised or not, and whether the
    candidate opened it, clicked it (the same content) or replied within ``window_days``."""
    sends = events[
        (events["type"] == "message_sent")
        & (events["actor"] == "hr")
        & events["content_id"].notna()
    ].copy()
    sends["kind"] = np.where(personalised(sends, events, content), "personalised", "template")
    window = pd.Timedelta(days=window_days)
    sends["opened"] = _responded(sends, events[events["type"] == "message_opened"], window)
    sends["replied"] = _responded(sends, events[events["type"] == "message_replied"], window)
    clicks = events[events["type"] == "link_clicked"]
    sends["clicked"] = False
    for content_id, group in sends.groupby("content_id"):
        sends.loc[group.index, "clicked"] = _responded(
            group, clicks[clicks["content_id"] == content_id], window
        )
    return sends


def content_response(frames: SeasonFrames, window_days: int = 3) -> pd.DataFrame:
    """Open, click and reply rates of HR messages: personalised vs template content."""
    sends = message_responses(frames.events, frames.content, window_days)
    rows = []
    for kind in ("personalised", "template"):
        part = sends[sends["kind"] == kind]
        n = len(part)
        rows.append(
            {
                "content": kind,
                "sent": n,
                "open_rate": float(part["opened"].mean()) if n else math.nan,
                "click_rate": float(part["clicked"].mean()) if n else math.nan,
                "reply_rate": float(part["replied"].mean()) if n else math.nan,
            }
        )
    return pd.DataFrame(rows)


def alert_response(frames: SeasonFrames) -> pd.DataFrame:
    """Per recruiter: alerts raised, answered, still open, and hours to answer (median, p90)."""
    alerts = frames.alerts.copy()
    waited = pd.to_datetime(alerts["resolved_at"]) - pd.to_datetime(alerts["created_at"])
    alerts["hours"] = waited.dt.total_seconds() / 3600
    rows = []
    for owner, group in alerts.groupby("hr_owner", sort=True):
        hours = group["hours"].dropna()
        rows.append(
            {
                "hr_owner": owner,
                "alerts": len(group),
                "answered": len(hours),
                "open": int(group["resolved_at"].isna().sum()),
                "median_hours": float(hours.median()) if len(hours) else math.nan,
                "p90_hours": float(hours.quantile(0.9)) if len(hours) else math.nan,
            }
        )
    columns = ["hr_owner", "alerts", "answered", "open", "median_hours", "p90_hours"]
    return pd.DataFrame(rows, columns=columns)


def holdout_effect(frames: SeasonFrames, cfg: PlanConfig | None = None) -> pd.DataFrame:
    """Renege rate of the plan's random holdout (cadence only) vs everyone else.

    Over everyone who got an offer, reneged so far: mid-season the outcomes known are
    mostly early reneges, so rates among those with an outcome would mean nothing. The
    difference, with a normal-approximation 95% interval, is the plan's measured effect;
    with few holdout candidates the interval says how little that proves.
    """
    cfg = cfg or PlanConfig()
    pop = scored_population(frames.events, frames.outcomes)
    held = np.array([in_holdout(str(c), cfg) for c in pop["candidate_id"]], dtype=bool)
    rows = []
    for name, mask in (("planned", ~held), ("holdout", held)):
        part = pop[mask]
        n = len(part)
        reneged = int((part["label"] == 1).sum())
        rows.append(
            {
                "group": name,
                "candidates": n,
                "reneged": reneged,
                "open": int(part["label"].isna().sum()),
                "renege_rate": reneged / n if n else math.nan,
            }
        )
    table = pd.DataFrame(rows)
    p1, n1 = table.at[0, "renege_rate"], table.at[0, "candidates"]
    p0, n0 = table.at[1, "renege_rate"], table.at[1, "candidates"]
    diff = p0 - p1
    se = math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0) if n1 and n0 else math.nan
    table["effect"] = [diff, math.nan]
    table["ci_low"] = [diff - 1.96 * se, math.nan]
    table["ci_high"] = [diff + 1.96 * se, math.nan]
    return table

"""Alerts in and out of the store: what the daily flow writes and the API reads."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from sqlalchemy import Engine, select

from outreach.alerts import AlertRules, find_alerts
from store.db import upsert
from store.schema import Alert, Event, Score


def alert_events(engine: Engine, until: dt.date, candidate_ids: list[str]) -> pd.DataFrame:
    """The events alerts read (no free text), for some candidates, known by the end of ``until``."""
    cols = [
        Event.event_id,
        Event.candidate_id,
        Event.ts_utc,
        Event.utc_offset_min,
        Event.local_day,
        Event.type,
        Event.topic,
        Event.actor,
    ]
    frames = []
    for i in range(0, len(candidate_ids), 5000):
        query = select(*cols).where(
            Event.local_day <= until, Event.candidate_id.in_(candidate_ids[i : i + 5000])
        )
        with engine.connect() as conn:
            frames.append(pd.read_sql(query, conn))
    frame = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=[c.key for c in cols])
    )
    frame["local_day"] = pd.to_datetime(frame["local_day"]).dt.date
    frame["ts_utc"] = pd.to_datetime(frame["ts_utc"])
    return frame


def risk_history(engine: Engine, until: dt.date, days: int) -> pd.DataFrame:
    since = until - dt.timedelta(days=days)
    query = select(Score.candidate_id, Score.as_of, Score.risk).where(
        Score.as_of >= since, Score.as_of <= until
    )
    with engine.connect() as conn:
        frame = pd.read_sql(query, conn)
    frame["as_of"] = pd.to_datetime(frame["as_of"]).dt.date
    return frame


def day_alerts(
    engine: Engine, as_of: dt.date, active: list[str], rules: AlertRules | None = None
) -> pd.DataFrame:
    """Alerts of the active candidates as of the end of ``as_of`` (scores of that day stored)."""
    rules = rules or AlertRules()
    events = alert_events(engine, as_of, active)
    history = risk_history(engine, as_of, rules.risk_jump_days)
    return find_alerts(events, as_of, rules, set(active), history)


def store_alerts(engine: Engine, alerts: pd.DataFrame, as_of: dt.date) -> int:
    """Insert new alerts, record resolutions; rerunning a day changes nothing."""
    if alerts.empty:
        return 0
    rows: list[dict[str, Any]] = []
    for r in alerts.itertuples(index=False):
        rows.append(
            {
                "alert_id": r.alert_id,
                "candidate_id": r.candidate_id,
                "kind": r.kind,
                "trigger_event_id": str(r.trigger_event_id),
                "created_at": pd.Timestamp(r.created_at).to_pydatetime(),
                "notify": r.notify,
                "detail": r.detail,
                "resolved_at": None
                if pd.isna(r.resolved_at)
                else pd.Timestamp(r.resolved_at).to_pydatetime(),
                "resolved_by": None if pd.isna(r.resolved_by) else str(r.resolved_by),
                "as_of": as_of,
            }
        )
    with engine.begin() as conn:
        upsert(conn, Alert.__table__, rows, ["alert_id"])  # type: ignore[arg-type]
    return len(rows)

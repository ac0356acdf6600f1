"""The day's alerts and plans, read from and written to the store: the daily flow writes them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, delete, insert, select

from config import Settings
from features.source import PLAUSIBLE
from outreach.alerts import AlertRules, find_alerts
from outreach.plan import PlanConfig, action_row, cadence, plan_with_shadow
from store.db import chunks, upsert
from store.schema import Alert, Candidate, Event, OutreachAction, Score


def alert_events(
    engine: Engine, until: dt.date, candidate_ids: list[str], since: dt.date | None = None
) -> pd.DataFrame:
    """The events alerts and plans read (no free text), known by the end of ``until``."""
    cols = [
        Event.content_id,
        Event.event_id,
        Event.candidate_id,
        Event.ts_utc,
        Event.utc_offset_min,
        Event.local_day,
        Event.type,
        Event.topic,
        Event.actor,
        Event.value,  # the features' too: a day with a state reads its events once
    ]
    frames = []
    for part in chunks(candidate_ids):
        query = select(*cols).where(
            Event.local_day <= until, Event.candidate_id.in_(part), PLAUSIBLE
        )
        if since is not None:
            query = query.where(Event.local_day >= since)
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


def birthdays(engine: Engine, candidate_ids: list[str]) -> pd.DataFrame:
    """Birthdays for the greeting cadence (personal data: read here, never logged)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(Candidate.candidate_id, Candidate.birthday).where(
                Candidate.candidate_id.in_(candidate_ids)
            )
        ).all()
    return pd.DataFrame(rows, columns=["candidate_id", "birthday"])


def store_plan(
    engine: Engine,
    day: dt.date,
    plan: pd.DataFrame,
    auto: pd.DataFrame,
    not_planned: pd.DataFrame | None = None,
) -> int:
    """Replace the day's planned, automatic and not-planned rows; what a recruiter did stays.

    A candidate with an action already done that day gets no new one (and is not listed
    as not planned). ``not_planned`` rows are stored with status ``not_planned`` and the
    reason code as their action.
    """
    owners = dict(zip(plan["candidate_id"], plan["hr_owner"], strict=True))
    with engine.begin() as conn:
        done = {
            r[0]
            for r in conn.execute(
                select(OutreachAction.candidate_id).where(
                    OutreachAction.plan_date == day, OutreachAction.status == "done"
                )
            )
        }
        conn.execute(
            delete(OutreachAction).where(
                OutreachAction.plan_date == day,
                OutreachAction.status.in_(["planned", "auto", "not_planned"]),
            )
        )
        rows = [
            {
                **action_row(r, day),
                "reason": r.reason,
                "reason_en": r.reason_en,
                "status": "planned",
                "place": int(r.place) if "place" in plan else None,
                "urgent": bool(r.urgent) if "urgent" in plan else None,
            }
            for r in plan.itertuples(index=False)
            if r.candidate_id not in done
        ]
        if not_planned is not None:
            rows += [
                {
                    "candidate_id": r.candidate_id,
                    "hr_owner": r.hr_owner,
                    "plan_date": day,
                    "action": r.code,
                    "content_id": None,
                    "reason": r.reason,
                    "reason_en": r.reason_en,
                    "risk": float(r.risk),
                    "expected_benefit": None,
                    "status": "not_planned",
                    "place": None if pd.isna(r.place) else int(r.place),
                    "urgent": None,
                }
                for r in not_planned.itertuples(index=False)
                if r.candidate_id not in done
            ]
        if not auto.empty:
            unplanned = [c for c in auto["candidate_id"] if c not in owners]
            auto_owner = {**candidate_owners(conn, unplanned), **owners}
            rows += [
                {
                    "candidate_id": r.candidate_id,
                    "hr_owner": auto_owner[r.candidate_id],
                    "plan_date": day,
                    "action": r.action,
                    "content_id": r.content_id if isinstance(r.content_id, str) else None,
                    "reason": None,
                    "reason_en": None,
                    "risk": None,
                    "expected_benefit": None,
                    "status": "auto",
                    "place": None,
                    "urgent": None,
                }
                for r in auto.itertuples(index=False)
            ]
        if rows:
            conn.execute(insert(OutreachAction), rows)
    return len(rows)


def candidate_owners(conn: Connection, ids: Sequence[str]) -> dict[str, str]:
    """The recruiter of each known candidate among ``ids`` (unknown ids are left out)."""
    found: dict[str, str] = {}
    for part in chunks(ids):
        rows = conn.execute(
            select(Candidate.candidate_id, Candidate.hr_owner).where(
                Candidate.candidate_id.in_(part)
            )
        )
        found.update({r[0]: r[1] for r in rows})
    return found


def plan_config(settings: Settings) -> PlanConfig:
    """The plan's rules with the tenant's own capacities (``KEEPWARM_PLAN_CAPACITY``,
    ``KEEPWARM_PLAN_CAPACITY_BY_OWNER``); everything else as ``PlanConfig`` has it."""
    return PlanConfig(
        capacity=settings.plan_capacity, capacity_by_owner=settings.plan_capacity_by_owner
    )


# Days of events the plan reads before its day (at least; ``PlanConfig.repeat_window_days``).
RECENT_DAYS = 30


def plan_day(
    engine: Engine,
    day: dt.date,
    scores: pd.DataFrame,
    features: pd.DataFrame,
    alerts: pd.DataFrame,
    cfg: PlanConfig | None = None,
    recent: pd.DataFrame | None = None,
) -> int:
    """Make and store the day's plans from the day's scores, features and alerts.

    ``recent``: the scored candidates' events (``alert_events``) from ``RECENT_DAYS``
    before ``day`` or earlier, when the caller has read them already.
    """
    from features.source import load_content
    from outreach.effects import load_effects, plan_effects
    from outreach.shadow import store_shadow

    cfg = cfg or PlanConfig()
    learned = load_effects(engine, day)
    if len(learned):  # learned effects where the data supports them, the defaults elsewhere
        cfg = cfg.model_copy(update={"effects": plan_effects(learned, cfg.effects)})
    active = scores["candidate_id"].tolist()
    since = day - dt.timedelta(days=max(RECENT_DAYS, cfg.repeat_window_days))
    if recent is not None and cfg.repeat_window_days <= RECENT_DAYS:
        events = recent[recent["local_day"] >= since].reset_index(drop=True)
    else:
        events = alert_events(engine, day, active, since=since)
    content = load_content(engine)
    open_alerts = alerts[alerts["resolved_at"].isna()] if len(alerts) else alerts
    # with the holdout's shadow plan: the control group of each action (outreach.effects)
    plan, shadow = plan_with_shadow(day, scores, features, open_alerts, events, content, cfg)
    auto = cadence(day, birthdays(engine, active), features, content)
    store_shadow(engine, day, shadow)
    return store_plan(engine, day, plan.tasks, auto, plan.not_planned)

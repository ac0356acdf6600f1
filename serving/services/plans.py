"""Plans and alerts as stored by the daily run, and marking a planned action done.

One query each for the API (``/v1/outreach-plan``, ``/v1/alerts``,
``/v1/actions/{id}/done``), the console's Today page and its "mark done" button.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select, update

from outreach.alerts import alert_text
from outreach.plan import URGENT_ACTIONS
from serving.auth import Principal
from serving.schemas import AlertOut, NotPlanned, PlannedAction
from serving.services.errors import Invalid, NotFound
from serving.services.writes import check_and_load
from store import audit
from store.schema import Alert, Candidate, Content, Event, OutreachAction

if TYPE_CHECKING:
    from serving.state import AppState

# What a done action becomes in the contract's events (escalating reminds the approver,
# which the contract has no event for: it is recorded on the action only).
DONE_EVENTS = {
    "call": ("call_made", "phone"),
    "send_content": ("message_sent", "wechat"),
    "answer_question": ("message_sent", "wechat"),
}


def plan_rows(
    state: AppState, principal: Principal, day: dt.date, owner: str | None
) -> list[dict[str, Any]]:
    """The day's plan of ``owner`` (None: every recruiter the caller sees), in plan order.

    The plan's own order (urgent work first, then by expected benefit) is the order it
    was stored in; the cadence's automatic messages come after a recruiter's tasks.
    Each row: the stored action, its content title, ``urgent`` and ``automatic``.
    """
    query = (
        select(OutreachAction, Content.title, Content.kind, Content.topics)
        .outerjoin(Content, Content.content_id == OutreachAction.content_id)
        .where(OutreachAction.plan_date == day, OutreachAction.status != "not_planned")
    )
    if owner is not None:
        query = query.where(OutreachAction.hr_owner == owner)
    with state.engine.connect() as conn:
        rows = conn.execute(query).all()
    out = [
        {
            **r._asdict(),
            "urgent": r.action in URGENT_ACTIONS if r.urgent is None else r.urgent,
            "automatic": r.action.startswith("cadence:"),
        }
        for r in rows
        if principal.sees_owner(r.hr_owner)
    ]
    return sorted(out, key=lambda a: (a["automatic"], a["hr_owner"], a["action_id"]))


def not_planned_rows(
    state: AppState, principal: Principal, day: dt.date, owner: str | None
) -> list[NotPlanned]:
    """The day's watched candidates without a task (top risks, open questions), and why.

    Stored by the daily run beside the plan (``outreach.plan.build_plan``); riskiest first
    per recruiter. ``owner`` None: every recruiter the caller sees.
    """
    query = select(OutreachAction).where(
        OutreachAction.plan_date == day, OutreachAction.status == "not_planned"
    )
    if owner is not None:
        query = query.where(OutreachAction.hr_owner == owner)
    with state.engine.connect() as conn:
        rows = conn.execute(query).all()
    out = [
        NotPlanned(
            candidate_id=r.candidate_id,
            hr_owner=r.hr_owner,
            plan_date=r.plan_date,
            code=r.action,
            reason_zh=r.reason or "",
            reason_en=r.reason_en or "",
            risk=r.risk,
            place=r.place,
        )
        for r in rows
        if principal.sees_owner(r.hr_owner)
    ]
    return sorted(out, key=lambda n: (n.hr_owner, -(n.risk or 0.0), n.candidate_id))


def planned_action(row: Any) -> PlannedAction:
    """A stored action (row or ``plan_rows`` dict) as the API shows it."""
    values: dict[str, Any] = row if isinstance(row, dict) else row._asdict()
    get = values.__getitem__
    return PlannedAction(
        action_id=get("action_id"),
        candidate_id=get("candidate_id"),
        hr_owner=get("hr_owner"),
        plan_date=get("plan_date"),
        action=get("action"),
        automatic=get("action").startswith("cadence:"),
        content_id=get("content_id"),
        topics=[t.strip() for t in (values.get("topics") or "").split(";") if t.strip()],
        reason_zh=get("reason"),
        reason_en=get("reason_en"),
        risk=get("risk"),
        expected_benefit=get("expected_benefit"),
        status=get("status"),
        done_at=get("done_at"),
        urgent=bool(values.get("urgent") if values.get("urgent") is not None else False),
        place=values.get("place"),
        outcome=values.get("outcome"),
        note=values.get("note"),
    )


def plan_owners(state: AppState, principal: Principal, day: dt.date) -> list[str]:
    """Recruiters with a plan that day, among those the caller sees."""
    with state.engine.connect() as conn:
        owners = conn.execute(
            select(OutreachAction.hr_owner).where(OutreachAction.plan_date == day).distinct()
        ).scalars()
        return sorted(o for o in owners if principal.sees_owner(o))


OUTCOMES = ("connected", "no_answer", "wrong_number")


def action_stamp(state: AppState, plan_date: dt.date) -> dt.datetime:
    """When a recruiter's work on a plan counts as done (aware, in the recruiters' zone).

    Now, on the plan's own day (production); on an older plan (the demo, whose data
    ends before today) the plan's day at the current time of day, so the work lands on
    the data's day and never a year after it.
    """
    now = dt.datetime.now(state.zone)
    if plan_date >= now.date():
        return now
    return dt.datetime.combine(plan_date, now.time(), tzinfo=state.zone)


def mark_done(
    state: AppState,
    principal: Principal,
    action_id: int,
    who: audit.Actor,
    target: str,
    outcome: str | None = None,
    note: str | None = None,
) -> PlannedAction:
    """Record that a planned action was done: as contract events, so the next scores see it.

    A call becomes ``call_made`` (and ``call_answered`` when ``outcome`` is connected),
    content or an answer ``message_sent`` (with the content id); the alerts the new events
    answer close at once (``close_answered``). ``outcome``: one of ``OUTCOMES``, for calls
    only; ``note``: the recruiter's free text, stored on the action and never logged or
    audited. Twice is once. Raises ``NotFound`` for another recruiter's action or none,
    ``Invalid`` for an outcome on a non-call or an unknown one.
    """
    with state.engine.connect() as conn:
        row = conn.execute(
            select(OutreachAction).where(OutreachAction.action_id == action_id)
        ).first()
    if row is None or not principal.sees_owner(row.hr_owner) or row.status == "not_planned":
        raise NotFound("no such action")
    if row.status == "done":
        return planned_action(row)
    if outcome is not None and (row.action != "call" or outcome not in OUTCOMES):
        raise Invalid("outcome: one of connected, no_answer, wrong_number, for a call only")
    stamp = action_stamp(state, row.plan_date)
    items = []
    if row.action in DONE_EVENTS:
        kind, channel = DONE_EVENTS[row.action]
        items.append(
            {
                "event_id": f"action-{action_id}",
                "candidate_id": row.candidate_id,
                "ts": stamp.isoformat(timespec="seconds"),
                "type": kind,
                "channel": channel,
                "content_id": row.content_id if kind == "message_sent" else None,
                "actor": "hr",
            }
        )
        if row.action == "call" and outcome == "connected":
            items.append(
                {
                    "event_id": f"action-{action_id}-answered",
                    "candidate_id": row.candidate_id,
                    "ts": (stamp + dt.timedelta(seconds=1)).isoformat(timespec="seconds"),
                    "type": "call_answered",
                    "channel": "phone",
                    "content_id": None,
                    "actor": "candidate",
                }
            )
    with state.write_lock, state.engine.begin() as conn:
        if items:
            report = check_and_load(
                state.engine, conn, "events", items, f"api:action:{principal.name}"
            )
            state.scorer.wrote(report.batch_id, {row.candidate_id})
        conn.execute(
            update(OutreachAction)
            .where(OutreachAction.action_id == action_id)
            .values(
                status="done",
                done_at=stamp.astimezone(dt.UTC).replace(tzinfo=None),
                outcome=outcome,
                note=note or None,
            )
        )
        # ids and the outcome, never the note: that is personal free text
        audit.record(
            conn,
            who,
            "write",
            target,
            [row.candidate_id],
            {"action_id": action_id, "action": row.action, "outcome": outcome},
        )
    if items:
        close_answered(state, row.candidate_id, row.plan_date, f"action-{action_id}", stamp)
    with state.engine.connect() as conn:
        done = conn.execute(
            select(OutreachAction).where(OutreachAction.action_id == action_id)
        ).one()
    return planned_action(done)


def close_answered(
    state: AppState, candidate_id: str, day: dt.date, event_id: str, stamp: dt.datetime
) -> int:
    """Close the candidate's open alerts that the events just written answer.

    The alert rules (``outreach.alerts.find_alerts``) rerun for this one candidate as of
    ``day`` with the new events: an alert of the latest run that is resolved there, or no
    longer raised (answered before its window ran out), is resolved by ``event_id`` at
    ``stamp``. Returns how many closed.
    """
    from outreach.daily import day_alerts

    fresh = day_alerts(state.engine, day, [candidate_id])
    still_open = set(fresh.loc[fresh["resolved_at"].isna(), "alert_id"]) if len(fresh) else set()
    with state.write_lock, state.engine.begin() as conn:
        latest = conn.execute(select(func.max(Alert.as_of))).scalar()
        rows = conn.execute(
            select(Alert.alert_id).where(
                Alert.candidate_id == candidate_id,
                Alert.as_of == latest,
                Alert.resolved_at.is_(None),
            )
        ).scalars()
        answered = [a for a in rows if a not in still_open]
        if answered:
            conn.execute(
                update(Alert)
                .where(Alert.alert_id.in_(answered))
                .values(
                    resolved_at=stamp.astimezone(dt.UTC).replace(tzinfo=None),
                    resolved_by=event_id,
                )
            )
    return len(answered)


def undo_done(
    state: AppState, principal: Principal, action_id: int, who: audit.Actor, target: str
) -> PlannedAction:
    """Take back a mistaken "done" the same day: its events go, its alerts reopen.

    Same day: the action belongs to the latest plan and was marked on the working day
    it is stamped with (``action_stamp``). Raises ``NotFound`` (not the caller's, or not
    done) or ``Invalid`` (marked on an earlier day).
    """
    with state.engine.connect() as conn:
        row = conn.execute(
            select(OutreachAction).where(OutreachAction.action_id == action_id)
        ).first()
        latest = conn.execute(
            select(func.max(OutreachAction.plan_date)).where(OutreachAction.status != "not_planned")
        ).scalar()
    if row is None or not principal.sees_owner(row.hr_owner) or row.status != "done":
        raise NotFound("no such done action")
    stamp_day = action_stamp(state, row.plan_date).date()
    done_day = (
        row.done_at.replace(tzinfo=dt.UTC).astimezone(state.zone).date() if row.done_at else None
    )
    if row.plan_date != latest or done_day != stamp_day:
        raise Invalid("a done mark can be undone on its own day only")
    ids = [f"action-{action_id}", f"action-{action_id}-answered"]
    with state.write_lock, state.engine.begin() as conn:
        conn.execute(delete(Event).where(Event.event_id.in_(ids)))
        conn.execute(
            update(Alert)
            .where(Alert.resolved_by.in_(ids), Alert.as_of == latest)
            .values(resolved_at=None, resolved_by=None)
        )
        conn.execute(
            update(OutreachAction)
            .where(OutreachAction.action_id == action_id)
            .values(status="planned", done_at=None, outcome=None, note=None)
        )
        audit.record(
            conn, who, "write", target, [row.candidate_id], {"action_id": action_id, "undo": True}
        )
        back = conn.execute(
            select(OutreachAction).where(OutreachAction.action_id == action_id)
        ).one()
    state.scorer.touch({row.candidate_id})
    return planned_action(back)


def alert_rows(
    state: AppState, owner: str | None, kind: str | None, status: str
) -> tuple[dt.date | None, list[AlertOut]]:
    """The latest daily run's alerts (``status``: open, resolved, all), oldest first.

    Returns the run's day (None before any run) and the alerts, each in both languages.
    """
    with state.engine.connect() as conn:
        latest = conn.execute(select(func.max(Alert.as_of))).scalar()
        if latest is None:
            return None, []
        query = (
            select(Alert, Candidate.hr_owner)
            .join(Candidate, Candidate.candidate_id == Alert.candidate_id)
            .where(Alert.as_of == latest)
        )
        if owner is not None:
            query = query.where(Candidate.hr_owner == owner)
        if kind is not None:
            query = query.where(Alert.kind == kind)
        if status == "open":
            query = query.where(Alert.resolved_at.is_(None))
        elif status == "resolved":
            query = query.where(Alert.resolved_at.is_not(None))
        rows = conn.execute(query.order_by(Alert.created_at, Alert.alert_id)).all()
    return latest, [
        AlertOut(
            alert_id=r.alert_id,
            candidate_id=r.candidate_id,
            hr_owner=r.hr_owner,
            kind=r.kind,
            notify=r.notify,
            text_zh=alert_text(r.kind, r.detail or {}, r.notify, latest, "zh"),
            text_en=alert_text(r.kind, r.detail or {}, r.notify, latest, "en"),
            created_at=r.created_at,
            resolved_at=r.resolved_at,
            resolved_by=r.resolved_by,
        )
        for r in rows
    ]

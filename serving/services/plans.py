"""Plans and alerts as stored by the daily run, and marking a planned action done.

One query each for the API (``/v1/outreach-plan``, ``/v1/alerts``,
``/v1/actions/{id}/done``), the console's Today page and its "mark done" button.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update

from outreach.alerts import alert_text
from outreach.plan import URGENT_ACTIONS
from serving.auth import Principal
from serving.schemas import AlertOut, PlannedAction
from serving.services.errors import NotFound
from serving.services.writes import check_and_load
from store import audit
from store.schema import Alert, Candidate, Content, OutreachAction

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
        select(OutreachAction, Content.title, Content.topics)
        .outerjoin(Content, Content.content_id == OutreachAction.content_id)
        .where(OutreachAction.plan_date == day)
    )
    if owner is not None:
        query = query.where(OutreachAction.hr_owner == owner)
    with state.engine.connect() as conn:
        rows = conn.execute(query).all()
    out = [
        {
            **r._asdict(),
            "urgent": r.action in URGENT_ACTIONS,
            "automatic": r.action.startswith("cadence:"),
        }
        for r in rows
        if principal.sees_owner(r.hr_owner)
    ]
    return sorted(out, key=lambda a: (a["automatic"], a["hr_owner"], a["action_id"]))


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
    )


def plan_owners(state: AppState, principal: Principal, day: dt.date) -> list[str]:
    """Recruiters with a plan that day, among those the caller sees."""
    with state.engine.connect() as conn:
        owners = conn.execute(
            select(OutreachAction.hr_owner).where(OutreachAction.plan_date == day).distinct()
        ).scalars()
        return sorted(o for o in owners if principal.sees_owner(o))


def mark_done(
    state: AppState, principal: Principal, action_id: int, who: audit.Actor, target: str
) -> PlannedAction:
    """Record that a planned action was done: as contract events, so the next scores see it.

    A call becomes ``call_made``, content or an answer ``message_sent`` (with the content
    id); twice is once. Raises ``NotFound`` for another recruiter's action or none.
    """
    with state.engine.connect() as conn:
        row = conn.execute(
            select(OutreachAction).where(OutreachAction.action_id == action_id)
        ).first()
    if row is None or not principal.sees_owner(row.hr_owner):
        raise NotFound("no such action")
    if row.status == "done":
        return planned_action(row)
    now = dt.datetime.now(state.zone)
    items = []
    if row.action in DONE_EVENTS:
        kind, channel = DONE_EVENTS[row.action]
        items.append(
            {
                "event_id": f"action-{action_id}",
                "candidate_id": row.candidate_id,
                "ts": now.isoformat(timespec="seconds"),
                "type": kind,
                "channel": channel,
                "content_id": row.content_id if kind == "message_sent" else None,
                "actor": "hr",
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
            .values(status="done", done_at=now.astimezone(dt.UTC).replace(tzinfo=None))
        )
        audit.record(
            conn,
            who,
            "write",
            target,
            [row.candidate_id],
            {"action_id": action_id, "action": row.action},
        )
        done = conn.execute(
            select(OutreachAction).where(OutreachAction.action_id == action_id)
        ).one()
    return planned_action(done)


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

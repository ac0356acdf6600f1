"""The lead's team view: per recruiter, the day's plan, what is done and overdue, alerts, risk.

One query for the API (``GET /v1/team``) and the console's Today page for a lead.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from outreach.alerts import KINDS
from serving.auth import Principal
from serving.plan_schemas import TeamRow
from store.schema import Alert, Candidate, OutreachAction, Score

if TYPE_CHECKING:
    from serving.state import AppState

OVERDUE_DAYS = 7


def team_rows(state: AppState, principal: Principal, day: dt.date) -> list[TeamRow]:
    """Each recruiter the caller sees, by name: tasks of ``day``'s plan (planned, done),
    candidates with a task in the ``OVERDUE_DAYS`` before it never done and not carried
    into ``day``'s plan (overdue), not-planned watched
    candidates, open alerts of the latest run by kind, and candidates at or above the
    high tier's risk that day. Counts add up to the plan: ``tasks`` = ``planned`` +
    ``done``, the same rows ``/v1/outreach-plan`` returns without its cadence.
    """
    since = day - dt.timedelta(days=OVERDUE_DAYS)
    with state.engine.connect() as conn:
        plan = conn.execute(
            select(OutreachAction.hr_owner, OutreachAction.status, func.count())
            .where(
                OutreachAction.plan_date == day,
                OutreachAction.status.in_(["planned", "done", "not_planned"]),
            )
            .group_by(OutreachAction.hr_owner, OutreachAction.status)
        ).all()
        # a task carried into today's plan (the same candidate) is today's, not overdue
        today = select(OutreachAction.candidate_id).where(
            OutreachAction.plan_date == day, OutreachAction.status.in_(["planned", "done"])
        )
        overdue = conn.execute(
            select(OutreachAction.hr_owner, func.count(func.distinct(OutreachAction.candidate_id)))
            .where(
                OutreachAction.plan_date >= since,
                OutreachAction.plan_date < day,
                OutreachAction.status == "planned",
                OutreachAction.candidate_id.not_in(today),
            )
            .group_by(OutreachAction.hr_owner)
        ).all()
        latest = conn.execute(select(func.max(Alert.as_of))).scalar()
        alerts = conn.execute(
            select(Candidate.hr_owner, Alert.kind, func.count())
            .join(Candidate, Candidate.candidate_id == Alert.candidate_id)
            .where(Alert.as_of == latest, Alert.resolved_at.is_(None))
            .group_by(Candidate.hr_owner, Alert.kind)
        ).all()
        high = conn.execute(
            select(Candidate.hr_owner, func.count(func.distinct(Score.candidate_id)))
            .join(Candidate, Candidate.candidate_id == Score.candidate_id)
            .where(Score.as_of == day, Score.risk >= state.settings.tier_high)
            .group_by(Candidate.hr_owner)
        ).all()
    rows: dict[str, dict[str, object]] = {}

    def row(owner: str) -> dict[str, object]:
        return rows.setdefault(
            owner,
            {"planned": 0, "done": 0, "not_planned": 0, "overdue": 0, "high_risk": 0,
             "alerts": dict.fromkeys(KINDS, 0)},
        )  # fmt: skip

    for owner, status, n in plan:
        row(owner)[status] = n
    for owner, n in overdue:
        row(owner)["overdue"] = n
    for owner, kind, n in alerts:
        row(owner)["alerts"][kind] = n  # type: ignore[index]
    for owner, n in high:
        row(owner)["high_risk"] = n
    return [
        TeamRow(
            hr_owner=owner,
            tasks=int(r["planned"]) + int(r["done"]),  # type: ignore[call-overload]
            open_alerts=sum(r["alerts"].values()),  # type: ignore[attr-defined]
            **r,  # type: ignore[arg-type]
        )
        for owner, r in sorted(rows.items())
        if principal.sees_owner(owner)
    ]

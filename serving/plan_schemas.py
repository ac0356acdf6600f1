"""The plan's API shapes beyond the plan itself: done reports, not-planned items, the team.

Kept apart from ``serving.schemas`` (which re-exports them) so no file in serving/
grows past 500 lines.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field


class ActionDone(BaseModel):
    """What a recruiter reports with a done action (both optional)."""

    outcome: Literal["connected", "no_answer", "wrong_number"] | None = Field(
        default=None, description="For a call: connected, no_answer or wrong_number"
    )
    note: str | None = Field(
        default=None, max_length=1000, description="Free text: stored on the action, never logged"
    )


NOT_PLANNED_CODES = (
    "holdout",
    "over_contacted",
    "contacted_recently",
    "capacity",
    "capacity_question",
    "no_content",
    "no_action",
)


class NotPlanned(BaseModel):
    """A watched candidate (a top-10 risk, an open question) with no task today, and why."""

    candidate_id: str
    hr_owner: str
    plan_date: dt.date
    code: str = Field(description="Why not planned: " + ", ".join(NOT_PLANNED_CODES))
    reason_zh: str
    reason_en: str
    risk: float | None
    place: int | None = Field(description="For capacity: the place in the queue (1 = first)")


class TeamRow(BaseModel):
    """One recruiter in the lead's team view (counts; see ``serving.services.team``)."""

    hr_owner: str
    tasks: int = Field(description="Tasks in the day's plan: planned + done")
    planned: int = Field(description="Still to do")
    done: int
    overdue: int = Field(
        description="Candidates with a task in the 7 days before, never done and not in "
        "today's plan"
    )
    not_planned: int = Field(description="Top-10 risks and open questions without a task")
    high_risk: int = Field(description="Candidates at or above the high tier that day")
    open_alerts: int
    alerts: dict[str, int] = Field(description="Open alerts of the latest run, by kind")


class Team(BaseModel):
    plan_date: dt.date
    rows: list[TeamRow]

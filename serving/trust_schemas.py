"""The API's trust shapes: overrides, explanations, erasure, consent and the audit log.

Kept apart from ``serving.schemas`` (the scoring and data shapes they build on) so no
file in serving/ grows past 500 lines.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field

from serving.schemas import Tier, Utc


class OverrideIn(BaseModel):
    tier: Tier | None = Field(description="The tier a recruiter judges right; null clears it")
    reason: str = Field(
        min_length=3,
        max_length=500,
        description="Why: internal, shown to recruiters with the override; never logged "
        "and never on the candidate's explanation",
    )
    as_of: dt.date | None = Field(
        default=None,
        description="The daily run the recruiter was looking at; its model tier and risk "
        "are kept with the override (default: the latest run)",
    )


class Override(BaseModel):
    candidate_id: str
    tier: Tier
    model_tier: Tier | None
    model_risk: float | None
    reason: str
    actor: str
    created_at: Utc


class ModelFacts(BaseModel):
    version: str
    trained_on: list[str]
    tested_on: str | None
    auc: float | None = Field(description="On the held-out season: 0.5 is chance, 1 perfect")
    calibration_error: float | None = Field(description="Mean gap between risk and outcome rate")
    fairness_flagged: list[str]


class Explanation(BaseModel):
    """What keepwarm thinks of one candidate and why, for the candidate or a reviewer."""

    candidate_id: str
    as_of: dt.date
    lang: Literal["zh", "en"]
    risk: float | None = Field(description="Calibrated chance of reneging; null when not scored")
    risk_tier: Tier | None
    override: Override | None = Field(description="A recruiter's tier over the model's, if any")
    summary: str
    reasons: list[str] = Field(description="The main reasons, most important first")
    data_used: list[str]
    data_not_used: list[str]
    model: ModelFacts | None
    automated_decisions: str
    human_review: str


class Erased(BaseModel):
    candidate_id: str
    removed: dict[str, int] = Field(description="Rows removed per table")


class ConsentWithdrawn(BaseModel):
    candidate_id: str
    signals_deleted: int


class AuditRow(BaseModel):
    audit_id: int
    at: Utc
    actor: str
    role: str | None
    action: str
    target: str
    candidate_id: str | None
    subjects: list[str] | None
    origin: str | None
    detail: dict[str, Any] | None


class AuditList(BaseModel):
    total: int
    rows: list[AuditRow]

"""Request and response bodies of the API, with the examples OpenAPI shows.

The write items (``EventIn``, ``CandidateIn``, ``OutcomeIn``) check only the
shape of a request (fields, JSON types); every value rule (ids, enumerations,
timestamps, numbers, lengths, known candidates, consent) is the data contract's,
applied after these by the same gate that checks bundle files
(``store.bundle.check_tables``), so the API, files and webhooks can never
disagree about what a valid value is. ``""`` for an optional field is missing,
as an empty cell is.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)

from outreach.alerts import KINDS as ALERT_KINDS
from store.contract import (
    ACTORS,
    CHANNELS,
    DEGREES,
    EVENT_TYPES,
    ID_MAX,
    ID_RULE,
    OUTCOMES,
    REASONS,
    TOPICS,
    is_id,
    normalise_code,
)

MAX_EVENTS = 5000
MAX_ITEMS = 5000
MAX_SCORE_IDS = 10_000
MAX_PAGE = 500

OutcomeKind = Literal[OUTCOMES]  # type: ignore[valid-type]
OutcomeReason = Literal[REASONS]  # type: ignore[valid-type]
Tier = Literal["high", "medium", "low"]
AlertKind = Literal[ALERT_KINDS]  # type: ignore[valid-type]
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def as_id(value: str) -> str:
    """An id asked for (path, query, score request) under the contract's one id rule."""
    text = normalise_code(value)
    if not is_id(text):
        raise ValueError(f"must be an id: 1 to {ID_MAX} {ID_RULE}")
    return text


# Any longer can never be an id: refused before it is normalised.
IdStr = Annotated[
    str, StringConstraints(min_length=1, max_length=4 * ID_MAX), AfterValidator(as_id)
]


def _not_bool(value: object) -> object:
    """true/false is not a number (pydantic would read it as 1/0)."""
    if isinstance(value, bool):
        raise ValueError("must be a number")
    return value


# Value rules are the gate's: these are JSON shapes. A number may come as a string,
# as it does in a JSON Lines file.
NumberIn = Annotated[float | str | None, BeforeValidator(_not_bool)]
IntIn = Annotated[int | float | str | None, BeforeValidator(_not_bool)]


def _one_of(choices: tuple[str, ...], **kw: Any) -> Any:
    return Field(description="One of: " + ", ".join(choices), **kw)


def _iso_date(value: object) -> object:
    """Dates as the contract writes them, YYYY-MM-DD; no numbers read as Unix time."""
    if isinstance(value, dt.date) or (isinstance(value, str) and _DATE.match(value)):
        return value
    raise ValueError("must be a date YYYY-MM-DD")


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]


def _utc(value: dt.datetime) -> dt.datetime:
    """The store keeps naive UTC; the API says so (RFC 3339 wants an offset)."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


Utc = Annotated[dt.datetime, AfterValidator(_utc)]


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore")  # the contract: unknown columns are ignored


class EventIn(_In):
    event_id: str = Field(description=f"1 to 128 {ID_RULE}")
    candidate_id: str = Field(description=f"1 to {ID_MAX} {ID_RULE}")
    ts: str = Field(
        description="ISO 8601 with an offset (Z, +08:00, +0800 or +08)",
        examples=["2024-10-12T09:30:00+08:00"],
    )
    type: str = _one_of(EVENT_TYPES)
    channel: str | None = _one_of(CHANNELS, default=None)
    content_id: str | None = None
    topic: str | None = _one_of(TOPICS, default=None)
    value: NumberIn = Field(default=None, description="A finite number")
    actor: str | None = _one_of(ACTORS, default=None)
    text: str | None = Field(default=None, description="Free text; personal data, never logged.")

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "event_id": "ats-88121",
                    "candidate_id": "c2024-00017",
                    "ts": "2024-11-02T10:15:00+08:00",
                    "type": "candidate_question",
                    "channel": "wechat",
                    "topic": "housing",
                    "actor": "candidate",
                }
            ]
        },
    )


class CandidateIn(_In):
    candidate_id: str = Field(description=f"1 to {ID_MAX} {ID_RULE}")
    season: str = Field(examples=["2024-autumn"])
    school: str | None = None
    school_tier: IntIn = Field(default=None, description="1, 2 or 3")
    major: str | None = None
    degree: str | None = _one_of(DEGREES, default=None)
    role_family: str | None = Field(default=None, examples=["tech"])
    department: str | None = None
    work_city: str | None = None
    home_city: str | None = None
    hr_owner: str = Field(description=f"1 to {ID_MAX} {ID_RULE}")
    birthday: str | None = Field(default=None, description="YYYY-MM-DD")
    start_date: str | None = Field(default=None, description="YYYY-MM-DD")
    consent_external_signals: bool | str | None = None
    gender: str | None = Field(
        default=None, description="For bias audits only; never a model input."
    )


class OutcomeIn(_In):
    candidate_id: str = Field(description=f"1 to {ID_MAX} {ID_RULE}")
    outcome: str = _one_of(OUTCOMES)
    outcome_date: str = Field(description="YYYY-MM-DD")
    reason: str | None = _one_of(REASONS, default=None)


class OutcomeOut(BaseModel):
    """A recorded outcome, as the store holds it."""

    candidate_id: str
    outcome: OutcomeKind
    outcome_date: dt.date
    reason: OutcomeReason | None = None


class Written(BaseModel):
    """What a write changed; sending the same items again changes nothing."""

    batch_id: int
    received: int
    new: int
    updated: int = 0
    already_known: int = 0
    # loaded, but read in part (as `keepwarm ingest` prints): unplaced cities, unknown roles
    warnings: list[str] = []


class ScoreRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"candidate_ids": ["c2024-00017"], "as_of": "2024-12-02"}]},
    )

    candidate_ids: list[IdStr] = Field(min_length=1, max_length=MAX_SCORE_IDS)
    as_of: IsoDate | None = Field(
        default=None, description="Score as of the end of this day (default: today)."
    )


RISK_30D = (
    "Chance of reneging within 30 days of as_of (the time-to-renege output), never above "
    "risk; null for a model without one"
)
URGENCY = "risk_30d in words: urgent from 10%, soon from 3%, else later"
Urgency = Literal["urgent", "soon", "later"]


class Reason(BaseModel):
    code: str = Field(description="Feature name from the catalogue")
    text_zh: str
    text_en: str
    action_zh: str | None = Field(
        default=None, description="What a recruiter can do about it; null for a fact"
    )
    action_en: str | None = Field(
        default=None, description="What a recruiter can do about it; null for a fact"
    )
    value: float | str | None
    contribution: float = Field(description="Push on the log-odds of reneging")


class ShownRisk(BaseModel):
    """The risk as a recruiter reads it, beside the exact figure."""

    risk_shown: str = Field(
        description='Whole percentage, "> 90%" above 90% and "< 1%" below 1% '
        "(no precision the calibration does not have)",
        examples=["37%", "> 90%"],
    )
    risk_words_zh: str = Field(description="What the risk is the chance of, in Chinese")
    risk_words_en: str = Field(
        description="What the risk is the chance of, in English",
        examples=["37% chance of reneging before the start date"],
    )
    owner_rank: int = Field(
        ge=1, description="Place among the same recruiter's candidates active that day"
    )
    owner_total: int = Field(ge=1, description="The recruiter's candidates active that day")


class ScoreItem(ShownRisk):
    candidate_id: str
    risk: float = Field(
        ge=0,
        le=1,
        description="Calibrated probability of reneging before the start date, within what "
        "the held-out calibration supports",
    )
    risk_30d: float | None = Field(default=None, ge=0, le=1, description=RISK_30D)
    urgency: Urgency | None = Field(default=None, description=URGENCY)
    risk_tier: Tier
    rank_percentile: float = Field(
        ge=0, le=100, description="Share of active candidates at or below this risk"
    )
    reasons: list[Reason]
    model_version: str


class ItemError(BaseModel):
    candidate_id: str
    error: Literal["unknown", "not_active"]
    message: str


class ScoreResponse(BaseModel):
    as_of: dt.date
    model_version: str
    results: list[ScoreItem]
    errors: list[ItemError]


class RiskRow(ShownRisk):
    rank: int
    candidate_id: str
    hr_owner: str | None
    department: str | None
    role_family: str | None
    risk: float
    risk_30d: float | None = Field(default=None, ge=0, le=1, description=RISK_30D)
    urgency: Urgency | None = Field(default=None, description=URGENCY)
    risk_tier: Tier
    reasons: list[Reason]
    alerts: list[str] = Field(
        description="The brief's warnings that fire: no_reply, approval_slow, "
        "competing_offer, extension_requested (rules on the day's features), and the "
        "daily run's open alerts of that day: question_unanswered, approval_pending, "
        "risk_jump and the rest"
    )
    days_to_start: int | None
    start_date: dt.date | None
    override_tier: Tier | None = Field(
        default=None, description="A recruiter's tier over the model's, when set"
    )


class RiskList(BaseModel):
    as_of: dt.date
    model_version: str
    total: int
    rows: list[RiskRow]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page")


class Profile(BaseModel):
    candidate_id: str
    season: str
    school: str | None
    school_tier: int | None
    major: str | None
    degree: str | None
    role_family: str | None
    department: str | None
    work_city: str | None
    home_city: str | None
    hr_owner: str
    birthday: dt.date | None
    start_date: dt.date | None
    consent_external_signals: bool | None


class TimelineEvent(BaseModel):
    event_id: str
    ts: str
    local_day: dt.date
    type: str
    channel: str | None
    content_id: str | None
    topic: str | None
    value: float | None
    actor: str | None
    text: str | None


class ScorePoint(BaseModel):
    as_of: dt.date
    risk: float
    rank: int | None
    model_version: str


class CandidateDetail(BaseModel):
    profile: Profile
    outcome: OutcomeOut | None
    timeline: list[TimelineEvent]
    score_history: list[ScorePoint]
    current: ScoreItem | None = Field(description="Today's score; null when not active today")


class Problem(BaseModel):
    index: int | None = Field(description="Position in the request's array, when it is one")
    field: str | None
    message: str


class ErrorInfo(BaseModel):
    code: str
    message: str
    problems: list[Problem] = []


class ErrorBody(BaseModel):
    error: ErrorInfo


class WebhookResult(BaseModel):
    delivery_id: str
    action: str
    status: Literal["applied", "pending", "ignored", "duplicate"]
    events: int


class ReloadResult(BaseModel):
    model_version: str
    changed: bool


class Health(BaseModel):
    status: str
    model_version: str | None = None
    detail: str | None = None


class AlertOut(BaseModel):
    alert_id: str
    candidate_id: str
    hr_owner: str
    kind: AlertKind
    notify: Literal["hr", "dept_manager", "hr_director"] = Field(
        description="Who must act: the recruiter, or the approver to remind"
    )
    text_zh: str
    text_en: str
    created_at: Utc = Field(description="When the alert was due (UTC)")
    resolved_at: Utc | None
    resolved_by: str | None = Field(description="The event that answered it")


class AlertList(BaseModel):
    as_of: dt.date | None = Field(description="The daily run these alerts come from")
    total: int
    rows: list[AlertOut]
    next_cursor: str | None


class PlannedAction(BaseModel):
    action_id: int
    candidate_id: str
    hr_owner: str
    plan_date: dt.date
    action: str = Field(
        description="call, answer_question, escalate_approval, send_content; "
        "cadence:* for the automatic stage cadence"
    )
    automatic: bool = Field(description="Sent by the cadence, not a recruiter's task")
    content_id: str | None
    topics: list[str] = Field(
        default_factory=list, description="The topics of the content item (none: no content)"
    )
    reason_zh: str | None
    reason_en: str | None
    risk: float | None
    expected_benefit: float | None
    status: Literal["planned", "auto", "done"]
    done_at: Utc | None
    urgent: bool = Field(
        default=False, description="Placed first as urgent work (else ranked by expected_benefit)"
    )
    place: int | None = Field(
        default=None, description="Place in the recruiter's queue (1 = first); null: cadence"
    )
    outcome: Literal["connected", "no_answer", "wrong_number"] | None = Field(
        default=None, description="A done call's outcome"
    )
    note: str | None = Field(default=None, description="The recruiter's note (never logged)")


from serving.plan_schemas import NotPlanned  # noqa: E402


class OutreachPlan(BaseModel):
    plan_date: dt.date
    owner: str | None
    actions: list[PlannedAction]
    not_planned: list[NotPlanned] = Field(
        default_factory=list,
        description="Each of a recruiter's 10 highest risks and every open question "
        "without a task, with the reason (on the first page)",
    )
    total: int = Field(description="Actions of the day the caller sees (all pages)")
    next_cursor: str | None = Field(None, description="The next page; null on the last")


class DailyRunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    as_of: IsoDate = Field(description="The day to run, YYYY-MM-DD (its end: what was known)")


class DailyRunOut(BaseModel):
    """Counts only: the day's scores, alerts and plans are read from their own routes."""

    as_of: dt.date
    model_version: str
    scored: int = Field(description="Active candidates scored and stored")
    rebuilt: int = Field(description="Candidates whose features were rebuilt (new events)")
    alerts: int = Field(description="Alerts known that day, open or resolved")
    open_alerts: int
    actions: int = Field(description="Planned and automatic actions stored for the day")

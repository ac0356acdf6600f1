"""The data contract (shared/contract/README.md) as data: files, columns, enums."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

Kind = Literal[
    "str", "int_1_3", "date", "timestamp", "bool", "number", "prob", "enum", "topic_list"
]

EVENT_TYPES = (
    "info_session_attended",
    "info_session_question",
    "interview_completed",
    "candidate_question",
    "offer_approval_requested",
    "offer_approval_step",
    "offer_approved",
    "offer_sent",
    "offer_accepted",
    "offer_declined",
    "offer_extension_requested",
    "message_sent",
    "message_opened",
    "link_clicked",
    "message_replied",
    "call_made",
    "call_answered",
    "materials_submitted",
    "external_signal",
)
CHANNELS = ("wechat", "email", "sms", "phone", "portal", "onsite", "system")
TOPICS = (
    "salary",
    "housing",
    "training",
    "team",
    "tech_stack",
    "growth",
    "location",
    "competing_offer",
    "other",
)
ACTORS = ("candidate", "hr", "dept_manager", "hr_director", "system")
DEGREES = ("bachelor", "master", "phd")
OUTCOMES = ("joined", "reneged")
REASONS = (
    "competing_offer",
    "approval_slow",
    "no_follow_up",
    "location",
    "salary",
    "content_not_relevant",
    "personal",
    "other",
)
CONTENT_KINDS = ("video", "article", "guide", "greeting", "news")
CONTENT_STAGES = ("offer", "accepted", "pre_start", "any")

# The plausible range of every instant and date keepwarm keeps: a value outside it is a
# typo or an attack (UTC year 0 or 10000 broke every score that read it), refused where
# it enters and never read back. Birthdays may be older.
EARLIEST = dt.date(1990, 1, 1)
LATEST = dt.date(2099, 12, 31)
EARLIEST_BIRTHDAY = dt.date(1900, 1, 1)
MAX_OFFSET_MINUTES = 14 * 60  # UTC-12:00 .. UTC+14:00 are the offsets in use


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind = "str"
    required: bool = True  # the column must be present
    nullable: bool = False  # an empty cell is allowed
    choices: tuple[str, ...] = ()
    personal: bool = False  # its values never appear in a message
    earliest: dt.date = EARLIEST  # dates and timestamps: the plausible range


@dataclass(frozen=True)
class TableSpec:
    name: str
    required: bool
    fields: tuple[Field, ...]
    key: tuple[str, ...]

    @property
    def columns(self) -> list[str]:
        return [f.name for f in self.fields]


CANDIDATES = TableSpec(
    "candidates",
    required=True,
    key=("candidate_id",),
    fields=(
        Field("candidate_id"),
        Field("season"),
        Field("school", nullable=True),
        Field("school_tier", "int_1_3", required=False, nullable=True),
        Field("major", nullable=True),
        Field("degree", "enum", nullable=True, choices=DEGREES),
        Field("role_family", nullable=True),
        Field("department", nullable=True),
        Field("work_city", nullable=True),
        Field("home_city", required=False, nullable=True),
        Field("hr_owner"),
        Field(
            "birthday",
            "date",
            required=False,
            nullable=True,
            personal=True,
            earliest=EARLIEST_BIRTHDAY,
        ),
        Field("start_date", "date", nullable=True),
        Field("consent_external_signals", "bool", nullable=True),
        Field("gender", required=False, nullable=True, personal=True),
    ),
)

EVENTS = TableSpec(
    "events",
    required=True,
    key=("event_id",),
    fields=(
        Field("event_id"),
        Field("candidate_id"),
        Field("ts", "timestamp"),
        Field("type", "enum", choices=EVENT_TYPES),
        Field("channel", "enum", required=False, nullable=True, choices=CHANNELS),
        Field("content_id", required=False, nullable=True),
        Field("topic", "enum", required=False, nullable=True, choices=TOPICS),
        Field("value", "number", required=False, nullable=True),
        Field("actor", "enum", required=False, nullable=True, choices=ACTORS),
        Field("text", required=False, nullable=True, personal=True),
    ),
)

OUTCOMES_SPEC = TableSpec(
    "outcomes",
    required=False,
    key=("candidate_id",),
    fields=(
        Field("candidate_id"),
        Field("outcome", "enum", choices=OUTCOMES),
        Field("outcome_date", "date"),
        Field("reason", "enum", required=False, nullable=True, choices=REASONS),
    ),
)

CONTENT = TableSpec(
    "content",
    required=False,
    key=("content_id",),
    fields=(
        Field("content_id"),
        Field("title", nullable=True, personal=True),
        Field("kind", "enum", nullable=True, choices=CONTENT_KINDS),
        Field("role_families", nullable=True),
        Field("topics", "topic_list", nullable=True),
        Field("stage", "enum", required=False, nullable=True, choices=CONTENT_STAGES),
    ),
)

TRUTH = TableSpec(
    "truth",
    required=False,
    key=("candidate_id", "as_of"),
    fields=(Field("candidate_id"), Field("as_of", "date"), Field("p_true", "prob")),
)

TABLES = (CANDIDATES, EVENTS, OUTCOMES_SPEC, CONTENT, TRUTH)

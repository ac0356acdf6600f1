"""The data contract (shared/contract/README.md) as data: files, columns, enums."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

Kind = Literal[
    "str", "id", "int_1_3", "date", "timestamp", "bool", "number", "prob", "enum", "topic_list"
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

# The one id rule (candidate_id, event_id, hr_owner, content_id, in files, API items, API
# paths and webhooks): after normalising, 1 to the store column's length of Unicode
# letters and digits plus . _ : @ -, so `张三-01` is an id everywhere. No whitespace,
# control characters or URL syntax (/ ? # %): an id must work as an API path parameter.
ID_MAX = 64  # candidates.candidate_id, hr_owner, content_id: VARCHAR(64) in PostgreSQL
EVENT_ID_MAX = 128  # events.event_id
ID_RULE = "letters, digits or . _ : @ - (no spaces, no / ? # %)"
_ID_RE = re.compile(r"[\w.:@-]+")
# Leading and trailing blanks a spreadsheet or a CRLF file leaves: Unicode whitespace
# (tabs, NBSP U+00A0, ideographic space U+3000, CR) and the invisible zero-width space/BOM.
_EDGES = re.compile(r"^[\s\u200b\ufeff]+|[\s\u200b\ufeff]+$")


def trim(text: str) -> str:
    """``text`` without leading and trailing blanks (see ``_EDGES``)."""
    return _EDGES.sub("", text)


def normalise_code(text: str) -> str:
    """A code (id, enum, date, number) as compared and stored: NFKC (full-width digits and
    letters become ASCII), then trimmed."""
    return trim(unicodedata.normalize("NFKC", text))


def is_id(text: str, limit: int = ID_MAX) -> bool:
    """Whether an already normalised ``text`` follows the id rule (at most ``limit`` long)."""
    return 0 < len(text) <= limit and _ID_RE.fullmatch(text) is not None


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind = "str"
    required: bool = True  # the column must be present
    nullable: bool = False  # an empty cell is allowed
    choices: tuple[str, ...] = ()
    personal: bool = False  # its values never appear in a message
    earliest: dt.date = EARLIEST  # dates and timestamps: the plausible range
    max_length: int | None = None  # the store column's length (None: unlimited text)
    code: bool = False  # a code, not words: NFKC-normalised (every kind but "str" is)

    @property
    def is_code(self) -> bool:
        return self.code or self.kind != "str"


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
        Field("candidate_id", "id", max_length=ID_MAX),
        Field("season", max_length=32, code=True),
        Field("school", nullable=True, personal=True, max_length=200),
        Field("school_tier", "int_1_3", required=False, nullable=True),
        Field("major", nullable=True, max_length=200),
        Field("degree", "enum", nullable=True, choices=DEGREES, max_length=16),
        Field("role_family", nullable=True, max_length=64),
        Field("department", nullable=True, max_length=200),
        Field("work_city", nullable=True, max_length=100),
        Field("home_city", required=False, nullable=True, max_length=100),
        Field("hr_owner", "id", max_length=ID_MAX),
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
        Field("gender", required=False, nullable=True, personal=True, max_length=32),
    ),
)

EVENTS = TableSpec(
    "events",
    required=True,
    key=("event_id",),
    fields=(
        Field("event_id", "id", max_length=EVENT_ID_MAX),
        Field("candidate_id", "id", max_length=ID_MAX),
        Field("ts", "timestamp"),
        Field("type", "enum", choices=EVENT_TYPES, max_length=40),
        Field("channel", "enum", required=False, nullable=True, choices=CHANNELS, max_length=16),
        Field("content_id", "id", required=False, nullable=True, max_length=ID_MAX),
        Field("topic", "enum", required=False, nullable=True, choices=TOPICS, max_length=32),
        Field("value", "number", required=False, nullable=True),
        Field("actor", "enum", required=False, nullable=True, choices=ACTORS, max_length=16),
        Field("text", required=False, nullable=True, personal=True),
    ),
)

OUTCOMES_SPEC = TableSpec(
    "outcomes",
    required=False,
    key=("candidate_id",),
    fields=(
        Field("candidate_id", "id", max_length=ID_MAX),
        Field("outcome", "enum", choices=OUTCOMES, max_length=16),
        Field("outcome_date", "date"),
        Field("reason", "enum", required=False, nullable=True, choices=REASONS, max_length=32),
    ),
)

CONTENT = TableSpec(
    "content",
    required=False,
    key=("content_id",),
    fields=(
        Field("content_id", "id", max_length=ID_MAX),
        Field("title", nullable=True, personal=True, max_length=300),
        Field("kind", "enum", nullable=True, choices=CONTENT_KINDS, max_length=16),
        Field("role_families", nullable=True, max_length=300),
        Field("topics", "topic_list", nullable=True, max_length=300),
        Field(
            "stage", "enum", required=False, nullable=True, choices=CONTENT_STAGES, max_length=16
        ),
    ),
)

TRUTH = TableSpec(
    "truth",
    required=False,
    key=("candidate_id", "as_of"),
    fields=(
        Field("candidate_id", "id", max_length=ID_MAX),
        Field("as_of", "date"),
        Field("p_true", "prob"),
    ),
)

TABLES = (CANDIDATES, EVENTS, OUTCOMES_SPEC, CONTENT, TRUTH)

"""Greenhouse webhooks: verify, deduplicate, map to contract events.

Greenhouse signs each delivery with ``Signature: sha256 <hex>``, the
HMAC-SHA256 of the raw body under the webhook's secret key, and names it with
a ``Greenhouse-Event-ID`` header; it retries failed deliveries for hours, so
the same delivery can arrive several times. Quirks of its documented
payloads that this module handles:

- offer payloads carry ``application_id`` only, never the candidate: the link
  application -> candidate comes from application webhooks
  (``new_candidate_application``, ``application_updated``, ``hire_candidate``);
- ``start_date`` on offers is ``MM/DD/YYYY``, while ``sent_on`` is ISO;
- ``offer_deleted`` nests the offer under ``payload.offer``, the other offer
  actions put it directly in ``payload``;
- a candidate's keepwarm id is Greenhouse's ``external_id`` when the ATS
  set one, else ``gh-<candidate id>``;
- an event is stamped with the payload's own time, not the delivery's arrival
  (deliveries arrive late, retried for hours): ``offer_updated`` Accepted or
  Rejected at ``resolved_at``, ``offer_created`` at ``created_at`` (not in the
  documented example, sent by some accounts), and ``sent_on``, an ISO date,
  becomes ``offer_sent`` at 00:00 of that day in the configured time zone. The
  documented payload has no approval time, so ``offer_approved`` keeps the
  arrival time, as does any event whose time is absent. A time without an
  offset, or outside the plausible range, refuses the delivery.

A delivery is known by the SHA-256 of its signed body, not by its
``Greenhouse-Event-ID`` header (which is not signed): a replayed body under a new
or no id is a duplicate. An offer version older than one already applied changes
nothing (deliveries can arrive out of order). Every write is in the audit log.

An offer delivery for a candidate keepwarm does not know yet is kept as
``pending`` (ids, statuses and dates only: no names, no notes) and applied as
soon as the candidate is known. Nothing from a delivery is logged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from store import audit
from store.contract import EARLIEST, ID_MAX, ID_RULE, LATEST, is_id, normalise_code
from store.errors import KeepwarmError
from store.ingest import check_items, load_bundle
from store.profiles import record_versions
from store.schema import AtsLink, Candidate, IngestBatch, WebhookDelivery

SOURCE = "greenhouse"
OFFER_ACTIONS = ("offer_created", "offer_approved", "offer_updated", "offer_deleted")
APPLICATION_ACTIONS = ("new_candidate_application", "application_updated", "hire_candidate")
# Offer status -> the contract's event (other statuses, e.g. Deprecated, change nothing).
STATUS_EVENTS = {"accepted": "offer_accepted", "rejected": "offer_declined"}
ACTION_EVENTS = {"offer_created": "offer_approval_requested", "offer_approved": "offer_approved"}


class WebhookError(KeepwarmError):
    """A delivery keepwarm cannot read: its message names the field, never a value."""


def signature_ok(secret: bytes, body: bytes, header: str | None) -> bool:
    """``Signature: sha256 <hex>`` is HMAC-SHA256(secret, raw body), compared in constant time."""
    if not header:
        return False
    algorithm, _, digest = header.strip().partition(" ")
    if algorithm.lower() != "sha256" or not digest:
        return False
    expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), digest.strip().lower().encode())


def sign(secret: bytes, body: bytes) -> str:
    """The header value Greenhouse would send for ``body`` (for tests and tools)."""
    return "sha256 " + hmac.new(secret, body, hashlib.sha256).hexdigest()


def _in_range(moment: dt.datetime, name: str) -> None:
    start = dt.datetime.combine(EARLIEST, dt.time(), dt.UTC)
    end = dt.datetime.combine(LATEST + dt.timedelta(days=1), dt.time(), dt.UTC)
    if not start <= moment < end:
        raise WebhookError(f"payload {name} is outside {EARLIEST} .. {LATEST}")


def _instant(value: object, name: str, zone: ZoneInfo) -> str | None:
    """An ISO 8601 instant from the payload, in ``zone`` (the same instant), or None."""
    if value in (None, ""):
        return None
    try:
        moment = dt.datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise WebhookError(f"payload {name} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise WebhookError(f"payload {name} has no UTC offset")
    _in_range(moment, name)
    return moment.astimezone(zone).isoformat(timespec="seconds")


def _day_start(value: object, name: str, zone: ZoneInfo) -> str | None:
    """An ISO date from the payload as 00:00 of that day in ``zone``, or None.

    The event then counts from that day on: a score as of day D sees what happened on D.
    """
    if value in (None, ""):
        return None
    try:
        day = dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise WebhookError(f"payload {name} is not a date (YYYY-MM-DD)") from None
    moment = dt.datetime.combine(day, dt.time(), zone)
    _in_range(moment, name)
    return moment.isoformat(timespec="seconds")


def _us_date(value: object) -> str | None:
    """Greenhouse's webhook ``start_date`` (MM/DD/YYYY) as ISO; ISO passes through."""
    if value in (None, ""):
        return None
    text = str(value)
    for fmt in ("%m/%d/%Y", "%Y-%m-%d"):
        try:
            day = dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
        if not EARLIEST <= day <= LATEST:
            raise WebhookError(f"payload start_date is outside {EARLIEST} .. {LATEST}")
        return day.isoformat()
    raise WebhookError("payload start_date is not a date (MM/DD/YYYY)")


TARGET = "POST /v1/webhooks/greenhouse"


def _id(value: object, name: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise WebhookError(f"payload {name} is missing or not an id")
    text = normalise_code(str(value))  # the contract's one id rule, as for files and the API
    if not is_id(text):
        raise WebhookError(f"payload {name} is missing or not an id (1 to {ID_MAX} {ID_RULE})")
    return text


def _version(offer: dict[str, Any]) -> int:
    version = offer.get("version")
    return version if isinstance(version, int) and not isinstance(version, bool) else 0


@dataclass
class Parsed:
    """What keepwarm keeps of a delivery: ids, statuses and dates, no personal data."""

    action: str
    application_id: str | None = None
    candidate_id: str | None = None  # from an application webhook
    facts: list[dict[str, Any]] = field(default_factory=list)  # events to write
    start_date: str | None = None
    offer_id: str | None = None
    version: int = 0

    def detail(self) -> dict[str, Any]:
        return {
            "facts": self.facts,
            "start_date": self.start_date,
            "offer_id": self.offer_id,
            "version": self.version,
        }


def _candidate_id(candidate: dict[str, Any]) -> str:
    external = candidate.get("external_id")
    if isinstance(external, str | int) and str(external).strip():
        return _id(external, "application.candidate.external_id")
    return "gh-" + _id(candidate.get("id"), "application.candidate.id")


def _offer_facts(action: str, offer: dict[str, Any], zone: ZoneInfo) -> list[dict[str, Any]]:
    """The contract events an offer delivery stands for, each with its own time (or None).

    ``ts`` None means the payload has no time for it: the arrival time stands in.
    """
    if action == "offer_deleted":
        return []
    offer_id = _id(offer.get("id"), "offer id")
    version = _version(offer)
    status = str(offer.get("offer_status") or offer.get("status") or "").lower()
    facts: list[dict[str, Any]] = []
    sent = _day_start(offer.get("sent_on"), "sent_on", zone)
    if sent is not None:
        # one event per sending, whichever version or delivery reports it
        day = sent[:10]
        facts.append(
            {"type": "offer_sent", "event_id": f"gh-offer-{offer_id}-sent-{day}", "ts": sent}
        )
    kind = ACTION_EVENTS.get(action) or (
        STATUS_EVENTS.get(status) if action == "offer_updated" else None
    )
    if kind is not None:
        field_name = {"offer_created": "created_at", "offer_updated": "resolved_at"}.get(action)
        ts = _instant(offer.get(field_name), field_name, zone) if field_name else None
        facts.append({"type": kind, "event_id": f"gh-offer-{offer_id}-v{version}-{kind}", "ts": ts})
    return facts


def parse(body: dict[str, Any], zone: ZoneInfo | None = None) -> Parsed:
    """Map one delivery's JSON to what keepwarm records; payload times go into ``zone``."""
    zone = zone or ZoneInfo("UTC")
    action = body.get("action")
    payload = body.get("payload")
    if not isinstance(action, str) or not action or len(action) > 64:
        raise WebhookError("delivery has no action (or one over 64 characters)")
    if not isinstance(payload, dict):
        raise WebhookError("delivery has no payload object")
    if action in OFFER_ACTIONS:
        offer = payload.get("offer") if action == "offer_deleted" else payload
        if not isinstance(offer, dict):
            raise WebhookError("payload has no offer")
        return Parsed(
            action,
            application_id=_id(offer.get("application_id"), "application_id"),
            facts=_offer_facts(action, offer, zone),
            start_date=None if action == "offer_deleted" else _us_date(offer.get("start_date")),
            offer_id=_id(offer.get("id"), "offer id"),
            version=_version(offer),
        )
    if action in APPLICATION_ACTIONS:
        app = payload.get("application")
        if not isinstance(app, dict) or not isinstance(app.get("candidate"), dict):
            raise WebhookError("payload has no application with a candidate")
        parsed = Parsed(
            action,
            application_id=_id(app.get("id"), "application.id"),
            candidate_id=_candidate_id(app["candidate"]),
        )
        offer = app.get("offer")
        if action == "hire_candidate" and isinstance(offer, dict):
            kind = "offer_accepted"
            offer_id = _id(offer.get("id"), "application.offer.id")
            version = _version(offer)
            ts = _instant(offer.get("resolved_at"), "application.offer.resolved_at", zone)
            event_id = f"gh-offer-{offer_id}-v{version}-{kind}"
            parsed.facts = [{"type": kind, "event_id": event_id, "ts": ts}]
            parsed.start_date = _us_date(offer.get("starts_at") or offer.get("start_date"))
            parsed.offer_id, parsed.version = offer_id, version
        return parsed
    return Parsed(action)  # ping and actions keepwarm has no use for: acknowledged, kept


@dataclass
class Outcome:
    delivery_id: str  # the Greenhouse-Event-ID header, or the body's hash
    status: str  # applied, pending, ignored, duplicate
    events: int
    candidate_ids: set[str]


def _resolve(conn: Connection, application_id: str | None) -> str | None:
    if application_id is None:
        return None
    return conn.execute(
        select(AtsLink.candidate_id).where(
            AtsLink.source == SOURCE, AtsLink.application_id == application_id
        )
    ).scalar_one_or_none()


def _known(conn: Connection, candidate_id: str) -> bool:
    found = conn.execute(
        select(Candidate.candidate_id).where(Candidate.candidate_id == candidate_id)
    )
    return found.first() is not None


def _stale(conn: Connection, parsed: Parsed, key: str) -> bool:
    """A newer version of the same offer was already applied (or is waiting): skip this one."""
    if parsed.offer_id is None or parsed.application_id is None:
        return False
    rows = conn.execute(
        select(WebhookDelivery.detail).where(
            WebhookDelivery.source == SOURCE,
            WebhookDelivery.application_id == parsed.application_id,
            WebhookDelivery.status.in_(("applied", "pending")),
            WebhookDelivery.delivery_id != key,
        )
    ).scalars()
    newer: list[int] = []
    for d in rows:
        if not isinstance(d, dict) or d.get("offer_id") != parsed.offer_id:
            continue
        version = d.get("version")
        if isinstance(version, int):
            newer.append(version)
    return bool(newer) and max(newer) > parsed.version


def _apply(
    engine: Engine,
    conn: Connection,
    parsed: Parsed,
    candidate_id: str,
    received: dt.datetime,
    who: audit.Actor,
) -> int:
    """Write a delivery's events and start date for a known candidate; returns events written.

    Either way a batch records the candidate as touched, so every serving process
    refreshes it, and the audit log records the write (ids and counts only).
    """
    if parsed.start_date:
        conn.execute(
            update(Candidate)
            .where(Candidate.candidate_id == candidate_id)
            .values(start_date=dt.date.fromisoformat(parsed.start_date))
        )
        record_versions(conn, [candidate_id])
    written = 0
    if not parsed.facts:
        conn.execute(
            insert(IngestBatch).values(
                source=f"{SOURCE}:{parsed.action}",
                fingerprint="-",
                counts={},
                touched=[candidate_id],
            )
        )
    else:
        items = [
            {
                "event_id": f["event_id"],
                "candidate_id": candidate_id,
                "ts": f.get("ts") or received.isoformat(timespec="seconds"),
                "type": f["type"],
                "channel": "system",
                "actor": "system",
            }
            for f in parsed.facts
        ]
        fingerprint = hashlib.sha256(repr(items).encode()).hexdigest()
        bundle = check_items(engine, "events", items, f"{SOURCE}:{parsed.action}", fingerprint)
        written = load_bundle(conn, bundle, touched=[candidate_id]).events_new
    audit.record(
        conn,
        who,
        "write",
        TARGET,
        [candidate_id],
        {"action": parsed.action, "events": written, "start_date": bool(parsed.start_date)},
    )
    return written


def handle(
    engine: Engine,
    raw: bytes,
    event_id: str | None,
    body: dict[str, Any],
    zone: ZoneInfo,
    who: audit.Actor,
) -> Outcome:
    """Record one delivery once; apply it now if its candidate is known, else keep it pending.

    ``raw`` is the signed body: its SHA-256 names the delivery, so a replay of it (with
    any ``Greenhouse-Event-ID``) is a ``duplicate``. Raises ``WebhookError``.
    """
    parsed = parse(body, zone)
    key = "sha256:" + hashlib.sha256(raw).hexdigest()
    shown = event_id or key
    received = dt.datetime.now(zone)
    touched: set[str] = set()
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(WebhookDelivery).values(
                    source=SOURCE,
                    delivery_id=key,
                    action=parsed.action,
                    status="ignored",
                    application_id=parsed.application_id,
                    candidate_id=parsed.candidate_id,
                    detail={
                        **parsed.detail(),
                        "received": received.isoformat(),
                        "event_id": event_id,
                    },
                )
            )
            if parsed.candidate_id and parsed.application_id:
                _link(conn, parsed.application_id, parsed.candidate_id)
            candidate_id = parsed.candidate_id or _resolve(conn, parsed.application_id)
            status, written = "ignored", 0
            if (parsed.facts or parsed.start_date) and not _stale(conn, parsed, key):
                if candidate_id and _known(conn, candidate_id):
                    written = _apply(engine, conn, parsed, candidate_id, received, who)
                    status = "applied"
                    touched.add(candidate_id)
                else:
                    status = "pending"
            elif parsed.candidate_id and not (parsed.facts or parsed.start_date):
                status = "applied"
            conn.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.source == SOURCE, WebhookDelivery.delivery_id == key)
                .values(status=status, candidate_id=candidate_id)
            )
    except IntegrityError:
        return Outcome(shown, "duplicate", 0, set())
    if parsed.candidate_id:
        touched |= replay_pending(engine, who)
    return Outcome(shown, status, written, touched)


def _link(conn: Connection, application_id: str, candidate_id: str) -> None:
    if _resolve(conn, application_id) is None:
        conn.execute(
            insert(AtsLink).values(
                source=SOURCE, application_id=application_id, candidate_id=candidate_id
            )
        )


def replay_pending(engine: Engine, who: audit.Actor | None = None) -> set[str]:
    """Apply pending deliveries whose candidate is now known; returns the candidates touched."""
    who = who or audit.Actor("webhook:greenhouse", "ats", None)
    touched: set[str] = set()
    with engine.begin() as conn:
        rows = conn.execute(
            select(WebhookDelivery).where(
                WebhookDelivery.source == SOURCE, WebhookDelivery.status == "pending"
            )
        ).all()
        for row in sorted(rows, key=lambda r: r.received_at):
            candidate_id = row.candidate_id or _resolve(conn, row.application_id)
            if not candidate_id or not _known(conn, candidate_id):
                continue
            detail = row.detail or {}
            parsed = Parsed(
                row.action,
                application_id=row.application_id,
                facts=list(detail.get("facts", [])),
                start_date=detail.get("start_date"),
                offer_id=detail.get("offer_id"),
                version=int(detail.get("version") or 0),
            )
            received = dt.datetime.fromisoformat(str(detail["received"]))
            status = "ignored"
            if not _stale(conn, parsed, row.delivery_id):
                _apply(engine, conn, parsed, candidate_id, received, who)
                status = "applied"
                touched.add(candidate_id)
            conn.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.source == SOURCE,
                    WebhookDelivery.delivery_id == row.delivery_id,
                )
                .values(status=status, candidate_id=candidate_id)
            )
    return touched

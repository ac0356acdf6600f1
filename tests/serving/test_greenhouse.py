"""Greenhouse webhooks with Greenhouse's own documented payloads as fixtures."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from features.build import build_features
from features.source import load_candidates, load_events
from serving.greenhouse import WebhookError, parse, sign
from tests.serving.conftest import Keys, auth

FIXTURES = Path(__file__).parents[1] / "data" / "greenhouse"
SECRET = b"gh-test-secret"
URL = "/v1/webhooks/greenhouse"


def fixture(name: str, **changes: Any) -> dict[str, Any]:
    body = json.loads((FIXTURES / f"{name}.json").read_text())
    for path, value in changes.items():
        node = body
        *parents, last = path.split("__")
        for p in parents:
            node = node[p]
        node[last] = value
    return body


def deliver(
    client: TestClient, body: dict[str, Any] | bytes, event_id: str, signature: str | None = None
) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "Greenhouse-Event-ID": event_id}
    headers["Signature"] = signature if signature is not None else sign(SECRET, raw)
    return client.post(URL, content=raw, headers=headers)


def events_of(engine: Engine, cid: str) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT event_id, type FROM events WHERE candidate_id = :c ORDER BY event_id"),
            {"c": cid},
        )
        return [(r[0], r[1]) for r in rows]


def add_candidate(client: TestClient, keys: Keys, cid: str) -> None:
    profile = {"candidate_id": cid, "season": "2024-autumn", "hr_owner": keys.owner}
    r = client.post("/v1/candidates", json=[profile], headers=auth(keys.ats))
    assert r.status_code == 200


def test_signature_is_checked_before_anything_else(client: TestClient) -> None:
    body = json.dumps(fixture("offer_created")).encode()
    good = sign(SECRET, body)
    wrong = sign(b"another-secret", body)
    for header in ("", "sha256", wrong, good.replace("sha256", "sha1"), "sha256 zz"):
        r = deliver(client, body, "evt-1", signature=header)
        assert r.status_code == 401, header
        assert r.json()["error"]["code"] == "bad_signature"
    tampered = body.replace(b"234556", b"234557")
    assert deliver(client, tampered, "evt-1", signature=good).status_code == 401
    # Greenhouse signs the body exactly as sent, \u escapes included
    escaped = body.replace(b'"Example"', b'"\\u003cp\\u003eExample\\u003c/p\\u003e"')
    assert deliver(client, escaped, "evt-2").status_code == 200


def test_webhook_is_off_without_a_secret(client: TestClient) -> None:
    client.app.state.service.settings.greenhouse_secret = None  # type: ignore[attr-defined]
    r = deliver(client, fixture("offer_created"), "evt-1")
    assert r.status_code == 403


def test_offer_waits_for_its_candidate_then_lands_once(
    client: TestClient, keys: Keys, engine: Engine
) -> None:
    # The documented offer (application 234556) arrives before keepwarm knows who that is.
    first = deliver(client, fixture("offer_created"), "evt-offer-1")
    assert first.status_code == 200
    assert first.json() == {
        "delivery_id": "evt-offer-1",
        "action": "offer_created",
        "status": "pending",
        "events": 0,
    }
    # Greenhouse retries: the same delivery changes nothing.
    again = deliver(client, fixture("offer_created"), "evt-offer-1")
    assert again.json()["status"] == "duplicate"

    # The documented application_updated, for that application: candidate 13857579 with no
    # external_id becomes keepwarm's gh-13857579.
    add_candidate(client, keys, "gh-13857579")
    link = deliver(
        client, fixture("application_updated", payload__application__id=234556), "evt-app-1"
    )
    assert link.json()["status"] == "applied"
    assert events_of(engine, "gh-13857579") == [
        ("gh-offer-12345-sent-2013-03-22", "offer_sent"),
        ("gh-offer-12345-v1-offer_approval_requested", "offer_approval_requested"),
    ]
    with engine.connect() as conn:
        start = conn.execute(
            text("SELECT start_date FROM candidates WHERE candidate_id = 'gh-13857579'")
        ).scalar_one()
        offsets = conn.execute(
            text("SELECT utc_offset_min FROM events WHERE candidate_id = 'gh-13857579'")
        ).scalars()
        assert set(offsets) == {480}  # stamped in the service's time zone (Asia/Shanghai)
    assert str(start) == "2013-04-15"  # MM/DD/YYYY in the webhook

    approved = deliver(client, fixture("offer_approved"), "evt-offer-2")
    assert approved.json()["status"] == "applied" and approved.json()["events"] == 1
    deprecated = deliver(client, fixture("offer_updated"), "evt-offer-3")
    assert deprecated.json()["events"] == 0
    accepted = deliver(
        client, fixture("offer_updated", payload__offer_status="Accepted"), "evt-offer-4"
    )
    assert accepted.json()["events"] == 1
    # the same acceptance delivered under a new id adds no second event
    dup = deliver(client, fixture("offer_updated", payload__offer_status="Accepted"), "evt-5")
    assert dup.json()["events"] == 0
    assert [t for _, t in events_of(engine, "gh-13857579")] == [
        "offer_sent",  # once, although every delivery repeats sent_on
        "offer_approval_requested",
        "offer_approved",
        "offer_accepted",
    ]
    # The candidate is now scorable (an offer entered them into the population).
    detail = client.get("/v1/candidates/gh-13857579", headers=auth(keys.lead)).json()
    # the acceptance sits at its resolved_at (2013), before the approval that arrived today
    assert "offer_accepted" in [e["type"] for e in detail["timeline"]]


def test_rejected_offer_maps_to_declined(client: TestClient, keys: Keys, engine: Engine) -> None:
    add_candidate(client, keys, "gh-60304594")
    r = deliver(client, fixture("new_candidate_application"), "evt-new")
    assert r.json()["status"] == "applied"
    body = fixture(
        "offer_updated", payload__application_id=71980812, payload__offer_status="Rejected"
    )
    assert deliver(client, body, "evt-rej").json()["events"] == 2  # sent_on and the decline
    assert [t for _, t in events_of(engine, "gh-60304594")] == ["offer_sent", "offer_declined"]


@pytest.mark.parametrize("name", ["offer_deleted", "delete_application"])
def test_deliveries_without_a_contract_event_are_acknowledged(
    client: TestClient, name: str
) -> None:
    r = deliver(client, fixture(name), f"evt-{name}")
    assert r.status_code == 200 and r.json()["status"] == "ignored"
    assert deliver(client, {"action": "ping", "payload": {}}, "evt-ping").status_code == 200


def test_signed_but_unreadable_deliveries_get_422(client: TestClient) -> None:
    for body in (b"not json", b"[1, 2]", json.dumps({"payload": {}}).encode()):
        r = deliver(client, body, "evt-x")
        assert r.status_code == 422
    bad_date = fixture("offer_created", payload__start_date="15th of April")
    r = deliver(client, bad_date, "evt-y")
    assert r.status_code == 422 and "start_date" in r.json()["error"]["message"]


def test_parse_keeps_no_personal_data() -> None:
    parsed = parse(fixture("new_candidate_application"))
    kept = json.dumps(parsed.detail()) + str(parsed.candidate_id)
    for personal in ("Jane", "Smith", "person@", "555-555", "Stanford"):
        assert personal not in kept
    with pytest.raises(WebhookError):
        parse({"action": "offer_created", "payload": {"id": 1}})


def stamps(engine: Engine, cid: str) -> dict[str, tuple[str, int, str]]:
    """type -> (UTC instant, offset minutes, local day) of a candidate's events."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT type, ts_utc, utc_offset_min, local_day FROM events WHERE candidate_id = :c"
            ),
            {"c": cid},
        )
        return {r[0]: (str(r[1])[:19], r[2], str(r[3])[:10]) for r in rows}


def linked(client: TestClient, keys: Keys) -> str:
    """The documented application 71980812 linked to a known candidate."""
    add_candidate(client, keys, "gh-60304594")
    assert deliver(client, fixture("new_candidate_application"), "evt-new").status_code == 200
    return "gh-60304594"


def test_late_acceptance_is_stored_when_it_happened(
    client: TestClient, keys: Keys, engine: Engine
) -> None:
    cid = linked(client, keys)
    body = fixture(
        "offer_updated",
        payload__application_id=71980812,
        payload__offer_status="Accepted",
        payload__sent_on="2025-11-10",
        payload__resolved_at="2025-11-20T03:15:00Z",
    )
    assert deliver(client, body, "evt-late").json()["events"] == 2
    got = stamps(engine, cid)
    # resolved_at, the same instant, shown in the service's zone (Asia/Shanghai)
    assert got["offer_accepted"] == ("2025-11-20 03:15:00", 480, "2025-11-20")
    # sent_on is a date: 00:00 of that day in the service's zone
    assert got["offer_sent"] == ("2025-11-09 16:00:00", 480, "2025-11-10")

    # point in time: the day before resolved_at does not see the acceptance
    spine = pd.DataFrame(
        {"candidate_id": [cid, cid], "as_of": [dt.date(2025, 11, 19), dt.date(2025, 11, 20)]}
    )
    feats = build_features(load_events(engine), load_candidates(engine), spine)
    assert feats["offer_accepted"].tolist() == [0, 1]


def test_offer_created_is_stored_at_created_at(
    client: TestClient, keys: Keys, engine: Engine
) -> None:
    cid = linked(client, keys)
    body = fixture(
        "offer_created",
        payload__application_id=71980812,
        payload__created_at="2025-10-01T09:30:00+08:00",
        payload__sent_on=None,
    )
    assert deliver(client, body, "evt-created").json()["events"] == 1
    assert stamps(engine, cid) == {
        "offer_approval_requested": ("2025-10-01 01:30:00", 480, "2025-10-01")
    }


def test_without_a_payload_time_the_arrival_time_stands_in(
    client: TestClient, keys: Keys, engine: Engine
) -> None:
    cid = linked(client, keys)
    body = fixture("offer_approved", payload__application_id=71980812, payload__sent_on=None)
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    assert deliver(client, body, "evt-approved").json()["events"] == 1
    ts, offset, _ = stamps(engine, cid)["offer_approved"]
    assert offset == 480
    assert dt.datetime.fromisoformat(ts) >= before


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("resolved_at", "1970-01-01T00:00:00Z", "resolved_at is outside"),
        ("resolved_at", "9999-01-01T00:00:00Z", "resolved_at is outside"),
        ("resolved_at", "2025-11-20T10:00:00", "resolved_at has no UTC offset"),
        ("resolved_at", "the 20th", "resolved_at is not an ISO 8601 time"),
        ("sent_on", "1980-01-01", "sent_on is outside"),
        ("sent_on", "22/03/2013", "sent_on is not a date"),
    ],
)
def test_implausible_payload_times_are_refused(
    client: TestClient, engine: Engine, field: str, value: str, said: str
) -> None:
    body = fixture(
        "offer_updated", payload__offer_status="Accepted", **{f"payload__{field}": value}
    )
    r = deliver(client, body, "evt-bad-time")
    assert r.status_code == 422
    assert said in r.json()["error"]["message"]
    assert value not in r.json()["error"]["message"]

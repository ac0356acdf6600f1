"""Greenhouse webhooks with Greenhouse's own documented payloads as fixtures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

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
        ("gh-offer-12345-v1-offer_approval_requested", "offer_approval_requested")
    ]
    with engine.connect() as conn:
        start = conn.execute(
            text("SELECT start_date FROM candidates WHERE candidate_id = 'gh-13857579'")
        ).scalar_one()
        offset = conn.execute(
            text("SELECT utc_offset_min FROM events WHERE candidate_id = 'gh-13857579'")
        ).scalar_one()
    assert str(start) == "2013-04-15"  # MM/DD/YYYY in the webhook
    assert offset == 480  # stamped in the service's time zone (Asia/Shanghai)

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
        "offer_approval_requested",
        "offer_approved",
        "offer_accepted",
    ]
    # The candidate is now scorable (an offer entered them into the population).
    detail = client.get("/v1/candidates/gh-13857579", headers=auth(keys.lead)).json()
    assert [e["type"] for e in detail["timeline"]][-1] == "offer_accepted"


def test_rejected_offer_maps_to_declined(client: TestClient, keys: Keys, engine: Engine) -> None:
    add_candidate(client, keys, "gh-60304594")
    r = deliver(client, fixture("new_candidate_application"), "evt-new")
    assert r.json()["status"] == "applied"
    body = fixture(
        "offer_updated", payload__application_id=71980812, payload__offer_status="Rejected"
    )
    assert deliver(client, body, "evt-rej").json()["events"] == 1
    assert [t for _, t in events_of(engine, "gh-60304594")] == ["offer_declined"]


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

"""Audit, explanations, overrides, consent and erasure through the API, on a real store."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text

from store import audit, erasure
from store.schema import Event
from tests.serving.conftest import DAY, Keys, auth


def _ids(client: TestClient, keys: Keys, key: str | None = None) -> list[str]:
    body = client.get(
        "/v1/risk-list", params={"as_of": DAY.isoformat(), "limit": 20},
        headers=auth(key or keys.lead),
    ).json()  # fmt: skip
    return [r["candidate_id"] for r in body["rows"]]


def test_every_read_and_write_is_in_the_audit_log(
    client: TestClient, keys: Keys, engine: Engine
) -> None:
    listed = _ids(client, keys)
    cid = listed[0]
    client.get(f"/v1/candidates/{cid}", headers=auth(keys.lead))
    client.post("/v1/score", json={"candidate_ids": [cid], "as_of": DAY.isoformat()},
                headers=auth(keys.ats))  # fmt: skip
    event = {"event_id": "audit-1", "candidate_id": cid, "ts": "2024-12-02T10:00:00+08:00",
             "type": "message_sent", "channel": "wechat", "actor": "hr"}  # fmt: skip
    assert client.post("/v1/events", json=[event], headers=auth(keys.ats)).status_code == 200
    client.app.state.service.reads.flush()  # type: ignore[attr-defined]  # reads go in batches
    log = audit.entries(engine, candidate=cid).iloc[::-1]  # oldest first
    assert log["target"].tolist() == [
        "GET /v1/risk-list", "GET /v1/candidates/{id}", "POST /v1/score", "POST /v1/events",
    ]  # fmt: skip
    assert log["action"].tolist() == ["read", "read", "read", "write"]
    assert log["actor"].str.startswith("key:").all() and log["origin"].notna().all()
    assert set(log["role"]) == {"lead", "ats"}
    assert log.iloc[0]["subjects"] == listed  # a list read names everyone on the page
    # admins read the log over the API, filtered; others may not
    r = client.get("/v1/admin/audit", params={"candidate": cid}, headers=auth(keys.admin))
    assert r.status_code == 200 and r.json()["total"] == 4
    assert r.json()["rows"][0]["at"].endswith("Z") or "+00:00" in r.json()["rows"][0]["at"]
    assert client.get("/v1/admin/audit", headers=auth(keys.lead)).status_code == 403


def test_an_explanation_in_both_languages_for_those_who_may_see_it(
    client: TestClient, keys: Keys
) -> None:
    cid = _ids(client, keys, keys.hr)[0]
    params = {"as_of": DAY.isoformat()}
    zh = client.get(f"/v1/candidates/{cid}/explanation", params=params, headers=auth(keys.hr))
    assert zh.status_code == 200, zh.text
    body = zh.json()
    assert body["lang"] == "zh" and body["risk_tier"] in ("high", "medium", "low")
    assert "%" in body["summary"] and body["reasons"]
    assert any("性别" in x for x in body["data_not_used"])
    assert not any("性别" in x or "gender" in x for x in body["data_used"])
    assert body["model"]["auc"] > 0.5 and body["model"]["trained_on"] == ["2023-autumn"]
    assert cid in body["human_review"] and "不会自动" in body["automated_decisions"]
    en = client.get(f"/v1/candidates/{cid}/explanation", params={**params, "lang": "en"},
                    headers=auth(keys.hr)).json()  # fmt: skip
    assert en["risk"] == body["risk"] and "gender" in " ".join(en["data_not_used"])
    other = _ids(client, keys, keys.other_hr)[0]
    r = client.get(f"/v1/candidates/{other}/explanation", headers=auth(keys.hr))
    assert r.status_code == 404


def test_an_override_is_shown_audited_without_its_reason_and_cleared(
    client: TestClient, keys: Keys, engine: Engine
) -> None:
    cid = _ids(client, keys, keys.hr)[-1]
    reason = "电话里说已拒掉别家 offer"
    r = client.put(f"/v1/candidates/{cid}/override", json={"tier": "low", "reason": reason},
                   headers=auth(keys.hr))  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["tier"] == "low" and r.json()["reason"] == reason
    shown = client.get(f"/v1/candidates/{cid}/explanation", headers=auth(keys.hr)).json()
    assert shown["override"]["tier"] == "low"
    listed = client.get("/v1/risk-list", params={"as_of": DAY.isoformat(), "limit": 20},
                        headers=auth(keys.hr)).json()["rows"]  # fmt: skip
    tiers = {r["candidate_id"]: r["override_tier"] for r in listed}
    assert tiers[cid] == "low" and sum(t is not None for t in tiers.values()) == 1
    entry = audit.entries(engine, candidate=cid, action="override")
    assert entry["detail"][0]["tier"] == "low"
    assert reason not in entry.to_json(force_ascii=False, date_format="iso")
    # another recruiter cannot override someone else's candidate
    r = client.put(f"/v1/candidates/{cid}/override", json={"tier": "high", "reason": "xyz"},
                   headers=auth(keys.other_hr))  # fmt: skip
    assert r.status_code == 404
    r = client.put(f"/v1/candidates/{cid}/override", json={"tier": None, "reason": "done"},
                   headers=auth(keys.hr))  # fmt: skip
    assert r.status_code == 200 and r.json() is None
    assert client.get(f"/v1/candidates/{cid}/explanation",
                      headers=auth(keys.hr)).json()["override"] is None  # fmt: skip


def _signals_seen(client: TestClient, cid: str) -> float:
    """The feature the service scored ``cid`` with today: competing-offer signals so far."""
    scores = client.app.state.service.scorer.day(DAY, [cid])  # type: ignore[attr-defined]
    return float(scores.day.frame["competing_offer_signals"].iat[scores.row[cid]])


def test_withdrawn_consent_deletes_signals_and_changes_the_next_score(
    client: TestClient, keys: Keys, engine: Engine
) -> None:
    with engine.connect() as conn:
        counts = pd.read_sql(
            text("SELECT e.candidate_id, COUNT(*) AS n FROM events e WHERE e.type = "
                 "'external_signal' AND e.local_day <= :d GROUP BY e.candidate_id "
                 "ORDER BY n DESC"), conn, params={"d": DAY},
        )  # fmt: skip
    active = set(_ids(client, keys)) | set(
        client.get("/v1/risk-list", params={"as_of": DAY.isoformat(), "limit": 500},
                   headers=auth(keys.lead)).json()["rows"][i]["candidate_id"]
        for i in range(50)
    )  # fmt: skip
    cid = next(c for c in counts["candidate_id"] if c in active)
    body = {"candidate_ids": [cid], "as_of": DAY.isoformat()}
    client.post("/v1/score", json=body, headers=auth(keys.ats))
    assert _signals_seen(client, cid) > 0
    r = client.post(f"/v1/candidates/{cid}/consent-withdrawal", headers=auth(keys.ats))
    assert r.status_code == 200 and r.json()["signals_deleted"] > 0
    with engine.connect() as conn:
        left = conn.execute(select(Event.event_id).where(
            Event.candidate_id == cid, Event.type == "external_signal")).all()  # fmt: skip
    assert left == []
    after = client.post("/v1/score", json=body, headers=auth(keys.ats)).json()["results"][0]
    assert not {r["code"] for r in after["reasons"]} & {"competing_offer_signals"}
    assert _signals_seen(client, cid) == 0  # the very next score no longer uses them
    # a new signal for them is now refused, as the contract says
    signal = {
        "event_id": "sig-after",
        "candidate_id": cid,
        "ts": "2024-12-02T11:00:00+08:00",
        "type": "external_signal",
        "topic": "competing_offer",
        "actor": "system",
    }
    assert client.post("/v1/events", json=[signal], headers=auth(keys.ats)).status_code == 422


@pytest.mark.scored_day  # DAY's scores, plans and alerts to erase too
def test_an_admin_erases_a_candidate_who_then_stays_gone(
    client: TestClient, keys: Keys, engine: Engine
) -> None:
    with engine.connect() as conn:
        planned = set(conn.execute(text("SELECT candidate_id FROM outreach_actions")).scalars())
    cid = next(c for c in _ids(client, keys) if c in planned)
    client.put(f"/v1/candidates/{cid}/override", json={"tier": "high", "reason": "note"},
               headers=auth(keys.lead))  # fmt: skip
    assert client.delete(f"/v1/admin/candidates/{cid}", headers=auth(keys.lead)).status_code == 403
    r = client.delete(f"/v1/admin/candidates/{cid}", headers=auth(keys.admin))
    assert r.status_code == 200, r.text
    removed = r.json()["removed"]
    assert removed["candidates"] == 1 and removed["events"] > 0 and removed["scores"] > 0
    assert removed["outreach_actions"] > 0 and removed["tier_overrides"] == 1
    assert client.get(f"/v1/candidates/{cid}", headers=auth(keys.lead)).status_code == 404
    assert cid not in _ids(client, keys)  # the served cache forgot them too
    body = client.post("/v1/score", json={"candidate_ids": [cid], "as_of": DAY.isoformat()},
                       headers=auth(keys.ats)).json()  # fmt: skip
    assert body["errors"][0]["error"] == "unknown"
    again = {"candidate_id": cid, "season": "2024-autumn", "hr_owner": "hr01"}
    r = client.post("/v1/candidates", json=[again], headers=auth(keys.ats))
    assert r.status_code == 422 and "erased" in r.text
    assert client.delete(f"/v1/admin/candidates/{cid}", headers=auth(keys.admin)).status_code == 404
    with engine.connect() as conn:
        for table in erasure.OWNED:
            n = conn.execute(
                text(f"SELECT COUNT(*) FROM {table} WHERE candidate_id = :c"), {"c": cid}
            ).scalar_one()
            assert n == 0, table
    erased = audit.entries(engine, candidate=cid, action="erase")
    assert len(erased) == 1 and erased["candidate_id"].isna().all()
    assert erased["detail"][0]["rows"]["events"] == removed["events"]
    assert erased["detail"][0]["subject_hash"] == erasure.id_hash(cid)
    assert dt.datetime.now() - erased["at"][0] < dt.timedelta(hours=24)

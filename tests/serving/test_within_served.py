"""risk_30d (the chance of reneging within 30 days) wherever the risk is served:
the API's score and risk-list items, the daily list and its CSV, the console and its
exports; the same from a store cut at the day scored."""

from __future__ import annotations

import csv
import io
import re

import numpy as np
import pandas as pd
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete

from config import get_settings
from serving.services.daily import score_day
from serving.services.risk import urgency_of
from serving.services.sheets import inert
from store.schema import Event, Outcome, Truth
from tests.serving.conftest import DAY, Keys, auth
from tests.serving.test_console import (  # noqa: F401  (fixtures)
    console,
    console_home,
    console_source,
    sign_in,
)
from training.predictor import Predictor
from training.tracking import load_champion


def _served_day(engine: Engine) -> pd.DataFrame:
    model, version = load_champion(get_settings())
    return score_day(engine, Predictor.of(model, version), DAY)


def test_the_api_serves_risk_30d_beside_the_risk(client: TestClient, keys: Keys) -> None:
    day = DAY.isoformat()
    listed = client.get(
        "/v1/risk-list", params={"as_of": day, "limit": 500}, headers=auth(keys.lead)
    ).json()["rows"]
    assert listed
    for row in listed:
        assert 0 <= row["risk_30d"] <= row["risk"] <= 1
        assert row["urgency"] == urgency_of(row["risk_30d"])
    # not a constant: the time-to-renege model ranks people its own way
    assert len({r["risk_30d"] for r in listed}) > 5
    ids = [r["candidate_id"] for r in listed[:3]]
    scored = client.post(
        "/v1/score", json={"candidate_ids": ids, "as_of": day}, headers=auth(keys.lead)
    ).json()["results"]
    by_id = {r["candidate_id"]: r for r in listed}
    for item in scored:
        assert item["risk_30d"] == by_id[item["candidate_id"]]["risk_30d"]
        assert item["urgency"] in ("urgent", "soon", "later")


def test_the_daily_list_and_its_csv_carry_risk_30d(engine: Engine) -> None:
    scores = _served_day(engine)
    assert len(scores) and scores["risk_30d"].between(0, 1).all()
    assert (scores["risk_30d"] <= scores["risk"]).all()
    # what `keepwarm score --out` writes
    written = inert(scores.drop(columns="reasons_detail")).to_csv(index=False)
    rows = list(csv.DictReader(io.StringIO(written)))
    assert all(0 <= float(r["risk_30d"]) <= 1 for r in rows)


def test_a_store_cut_at_the_day_gives_the_same_risk_30d(engine: Engine) -> None:
    before = _served_day(engine).set_index("candidate_id")
    with engine.begin() as conn:  # forget everything learned after the end of DAY
        conn.execute(delete(Event).where(Event.local_day > DAY))
        conn.execute(delete(Outcome).where(Outcome.outcome_date > DAY))
        conn.execute(delete(Truth))
    after = _served_day(engine).set_index("candidate_id")
    assert list(after.index) == list(before.index)
    np.testing.assert_array_equal(after["risk_30d"], before["risk_30d"])


def test_the_console_shows_urgency_and_exports_it(console: TestClient) -> None:  # noqa: F811
    sign_in(console, "lena")
    page = console.get("/risk").text
    assert "30 天内毁约" in page
    shown = [float(v) for v in re.findall(r'data-risk-30d="([^"]+)"', page)]
    assert shown and all(0 <= v <= 1 for v in shown)
    assert re.search(r'class="urgency urgency-(urgent|soon|later)">(紧急|本月内|不急)<', page)
    ordered = console.get("/risk?sort=risk_30d&dir=desc").text
    values = [float(v) for v in re.findall(r'data-risk-30d="([^"]+)"', ordered)]
    assert values == sorted(values, reverse=True)
    rows = list(csv.DictReader(io.StringIO(console.get("/risk.csv").content.decode("utf-8-sig"))))
    assert rows and all(0 <= float(r["30 天内毁约"]) <= 1 for r in rows)
    assert {r["紧急程度"] for r in rows} <= {"紧急", "本月内", "不急"}
    console.get("/lang/en")
    english = console.get("/risk").text
    assert "Within 30 days" in english
    first = re.search(r'href="/candidates/([^"]+)"', english)
    assert first is not None
    card = console.get(f"/candidates/{first.group(1)}").text
    assert 'id="risk-30d"' in card and "Within 30 days" in card

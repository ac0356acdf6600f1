"""`keepwarm serve` as a user runs it: a real uvicorn process on loopback.

The champion alias moves while clients keep scoring: the service picks the new
version up by itself, and no request fails during the swap.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from config import get_settings
from serving.auth import create_key
from store.db import open_store
from tests.serving.conftest import DAY, Keys, auth, running_server
from training.tracking import MODEL_NAME, configure


def _new_champion_version() -> str:
    """Register the champion's model again as a new version and move the alias to it."""
    client = configure(get_settings())
    current = client.get_model_version_by_alias(MODEL_NAME, "champion")
    new = client.create_model_version(MODEL_NAME, current.source, run_id=current.run_id)
    client.set_registered_model_alias(MODEL_NAME, "champion", new.version)
    return str(new.version)


@pytest.fixture
def live(served_home: Path) -> Iterator[tuple[str, str]]:
    key = create_key(open_store(get_settings()), "ats").key
    with running_server(
        served_home, KEEPWARM_MODEL_POLL_SECONDS="0.5", KEEPWARM_RATE_LIMIT="100000/second"
    ) as url:
        yield url, key


def test_model_reloads_under_traffic_without_a_failed_request(live: tuple[str, str]) -> None:
    url, key = live
    warm = httpx.post(
        f"{url}/v1/score",
        json={"candidate_ids": ["none"], "as_of": DAY.isoformat()},
        headers=auth(key),
        timeout=300,  # building the day takes seconds, more on a busy machine
    )
    assert warm.status_code == 200  # the day is built before the clock starts
    body = {"candidate_ids": [f"K24{n:06d}" for n in range(400)], "as_of": DAY.isoformat()}
    seen: list[tuple[int, str | None]] = []
    stop = threading.Event()

    def hammer() -> None:
        with httpx.Client(base_url=url, headers=auth(key), timeout=30) as http:
            while not stop.is_set():
                r = http.post("/v1/score", json=body)
                version = r.json().get("model_version") if r.status_code == 200 else None
                seen.append((r.status_code, version))

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while len(seen) < 2 * len(threads) and time.monotonic() < deadline:
        time.sleep(0.05)  # traffic flowing (answers coming back) before the alias moves
    new = _new_champion_version()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(v == new for _, v in seen[-8:]):
        time.sleep(0.2)
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join()
    codes = {c for c, _ in seen}
    versions = [v for _, v in seen]
    assert codes == {200}, codes
    assert versions[0] == "1" and new in versions
    # the last answers come from the new champion (each thread's last one started after it)
    assert set(versions[-4:]) == {new}


def test_admin_reload_moves_to_the_new_champion(client: TestClient, keys: Keys) -> None:
    r = client.post("/v1/admin/reload-model", headers=auth(keys.admin))
    assert r.json() == {"model_version": "1", "changed": False}
    new = _new_champion_version()
    r = client.post("/v1/admin/reload-model", headers=auth(keys.admin))
    assert r.json() == {"model_version": new, "changed": True}
    assert client.get("/readyz").json()["model_version"] == new


def test_two_workers_agree_after_a_write(served_home: Path) -> None:
    """A write through one worker reaches the other's cache within a second or two.

    The write is an outcome (the ATS reports a renege): from then on the candidate
    is out of the scored population whatever the model makes of events, so every
    answer from either worker must say so.
    """
    engine = open_store(get_settings())
    key = create_key(engine, "ats").key
    with engine.connect() as conn:
        cid = conn.execute(
            text(
                "SELECT c.candidate_id FROM candidates c JOIN outcomes o USING (candidate_id) "
                "WHERE c.season = '2024-autumn' AND o.outcome_date > :day "
                "ORDER BY c.candidate_id LIMIT 1"
            ),
            {"day": DAY},
        ).scalar_one()
    ask = {"candidate_ids": [cid], "as_of": DAY.isoformat()}
    served = 0

    def answers(http: httpx.Client) -> set[str]:
        """What 12 requests, spread over both workers, said: scored or not active."""
        nonlocal served
        said = []
        for _ in range(12):
            r = http.post("/v1/score", json=ask)
            assert r.status_code == 200, r.text
            body = r.json()
            said.append("scored" if body["results"] else body["errors"][0]["error"])
        served += said.count("scored")  # the metric counts scores, not refusals
        return set(said)

    with (
        running_server(served_home, "--workers", "2") as url,
        httpx.Client(base_url=url, headers=auth(key), timeout=60) as http,
    ):
        assert answers(http) == {"scored"}
        outcome = {"candidate_id": cid, "outcome": "reneged", "outcome_date": DAY.isoformat()}
        assert http.post("/v1/outcomes", json=[outcome]).status_code == 200
        deadline = time.monotonic() + 20
        while (after := answers(http)) != {"not_active"} and time.monotonic() < deadline:
            time.sleep(1)
        assert after == {"not_active"}
        metrics = http.get("/metrics").text
        line = next(m for m in metrics.splitlines() if m.startswith("keepwarm_scores_served_total"))
        assert float(line.split()[-1]) == served  # both workers' counts, added up
    engine.dispose()

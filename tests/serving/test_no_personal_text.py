"""No personal free text in any log: ingest, API calls and daily scoring with marker strings.

Markers go into the contract's ``text`` field (and a school's name), through every way
data comes in, good and bad; then every log the run produced is searched for them: the
commands' output, the server's output, every file under KEEPWARM_HOME that is not
the store itself, and the Prefect server's database, where flow run logs go (the run's
shared server: its other tests' runs carry no marker).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pandas as pd
from sqlalchemy import Engine, text

from serving.auth import create_key
from tests.conftest import SAMPLE, PrefectServer, run_cli
from tests.serving.conftest import DAY, auth, running_server

MARKS = ("MARK问题7f3a", "MARKschool19c2", "MARK回复c0de")


def _bundle(root: Path, broken: bool) -> Path:
    folder = root / ("broken" if broken else "marked")
    shutil.copytree(SAMPLE, folder)
    events = pd.read_csv(folder / "events.csv", dtype=str, keep_default_na=False)
    asked = events["text"] != ""
    events.loc[asked, "text"] = MARKS[0]
    if broken:  # a bad type on a row that carries text: the error must name row, not words
        events.loc[asked.idxmax(), "type"] = "not_a_type"
    events.to_csv(folder / "events.csv", index=False)
    cands = pd.read_csv(folder / "candidates.csv", dtype=str, keep_default_na=False)
    cands["school"] = MARKS[1]
    cands.to_csv(folder / "candidates.csv", index=False)
    return folder


def test_no_log_holds_personal_text(
    served_home: Path, engine: Engine, tmp_path: Path, prefect_server: PrefectServer
) -> None:
    outputs = []
    for broken in (True, False):
        done = run_cli("ingest", str(_bundle(tmp_path, broken)), home=served_home)
        assert done.returncode == (1 if broken else 0), done.stderr[-1000:]
        outputs.append(done.stdout + done.stderr)
    key = create_key(engine, "admin").key
    with engine.connect() as conn:
        query = "SELECT candidate_id FROM candidates WHERE season = '2024-autumn' LIMIT 3"
        active = [r[0] for r in conn.execute(text(query))]
    reply = {"ts": "2024-12-01T20:00:00+08:00", "type": "message_replied", "channel": "wechat",
             "actor": "candidate", "text": MARKS[2]}  # fmt: skip
    good = [{**reply, "event_id": f"mark-{c}", "candidate_id": c} for c in active]
    bad = [{**good[0], "event_id": "mark-bad", "ts": "yesterday"}]
    # a first score builds the day: on a busy machine that takes longer than httpx's 5 s
    with (
        running_server(served_home, KEEPWARM_MODEL_POLL_SECONDS="0") as url,
        httpx.Client(base_url=url, headers=auth(key), timeout=300) as http,
    ):
        assert http.post("/v1/events", json=good).status_code == 200
        refused = http.post("/v1/events", json=bad)
        assert refused.status_code == 422 and MARKS[2] not in refused.text
        http.post("/v1/score", json={"candidate_ids": active, "as_of": DAY.isoformat()})
        assert http.get(f"/v1/candidates/{active[0]}", params={"as_of": DAY.isoformat()}).is_success
    scored = run_cli(
        "score", "--as-of", DAY.isoformat(), home=served_home, timeout=600,
        prefect_api=prefect_server.url,
    )  # fmt: skip
    assert scored.returncode == 0, scored.stderr[-1000:]
    outputs.append(scored.stdout + scored.stderr)
    # the text did reach the store (so the search below means something) ...
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT COUNT(*) FROM events WHERE text = :m"),
                              {"m": MARKS[2]}).scalar_one()  # fmt: skip
    assert stored == len(active)
    # ... and no log output or log file holds any of it
    logs = [
        f for f in served_home.rglob("*") if f.is_file() and not f.name.startswith("keepwarm.db")
    ]
    assert any(f.name == "serve.err" for f in logs)
    prefect_db = [f for f in prefect_server.home.rglob("*") if f.name.startswith("prefect.db")]
    assert prefect_db, "the Prefect server's database was not found"
    logs += prefect_db
    for mark in MARKS:
        needle = mark.encode()
        assert not any(mark in out for out in outputs), mark
        leaked = [str(f) for f in logs if needle in f.read_bytes()]
        assert leaked == [], (mark, leaked)

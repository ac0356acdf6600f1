"""Serving speed: `keepwarm serve` next to `mlflow models serve`, same model, same host, one run.

Run: .venv/bin/python benchmarks/bench_serve.py [--runs 3] [--seconds 10] [--workers 2]
Needs `wrk` (`make bench` installs it). Builds (once, cached under benchmarks/out/) a
store with two simulated seasons and a champion model trained on the first, then
starts both servers on loopback with the same number of worker processes and drives
them with wrk at 8 connections, alternating, several runs each:

- one candidate per request: keepwarm's POST /v1/score (API key, feature lookup, risk,
  tier, rank, three reasons in two languages) vs mlflow's /invocations on that
  candidate's feature row (no auth, no lookup, risk only);
- 1,000 candidates per request, the same way;
- POST /v1/events: 500 new events per request into SQLite, then the store is counted
  to check that every acknowledged event is there.

Prints medians, each run, and the ratios the serving issue asks for.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from common import OUT, machine

DAY = dt.date(2024, 12, 2)
BIN = Path(sys.executable).parent
LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
{auth}
local bodies = {{}}
for line in io.lines("{bodies}") do bodies[#bodies + 1] = line end
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, bodies[(n % #bodies) + 1])
end
"""
EVENTS_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {key}"
local ids = {{}}
for line in io.lines("{ids}") do ids[#ids + 1] = line end
local n = 0
local counter = 1
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end
function init(args)
  tag = tostring(id) .. "-" .. tostring(os.time())
end
request = function()
  n = n + 1
  local parts = {{}}
  for k = 1, {per} do
    local cid = ids[((n * {per} + k) % #ids) + 1]
    parts[k] = string.format(
      '{{"event_id":"bench-%s-%d-%d","candidate_id":"%s","ts":"2024-12-02T10:00:00+08:00",'
      .. '"type":"message_opened","channel":"wechat","actor":"candidate"}}', tag, n, k, cid)
  end
  return wrk.format(nil, nil, nil, "[" .. table.concat(parts, ",") .. "]")
end
"""


def _home(candidates: int) -> Path:
    """A keepwarm home with two simulated seasons and a registered champion (cached)."""
    home = OUT / f"serve-home-{candidates}"
    if (home / "ready").is_file():
        return home
    shutil.rmtree(home, ignore_errors=True)
    from config import Settings
    from simulator import simulate_seasons, write_bundle
    from store.db import open_store
    from store.ingest import ingest_bundle
    from training.config import load_config
    from training.tracking import log_and_register
    from training.train import load_season_data, train_model

    settings = Settings(home=home)
    engine = open_store(settings)
    for r in simulate_seasons(["2023-autumn", "2024-autumn"], candidates, 7, truth=False):
        ingest_bundle(engine, write_bundle(r, home / "bundles" / r.season))
    result = train_model(load_season_data(engine), ["2023-autumn"], "2024-autumn", load_config())
    log_and_register(result, {"benchmark": "serve"}, settings, "force")
    (home / "ready").write_text("ok")
    return home


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _server(cmd: list[str], env: dict[str, str], ready: str) -> Iterator[str]:
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 180
        with httpx.Client(timeout=2) as client:  # one: each new client loads the CA certificates
            while time.monotonic() < deadline:
                try:
                    if client.get(ready).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if proc.poll() is not None:
                    raise RuntimeError(f"{cmd[0]} exited early")
                time.sleep(0.5)
            else:
                raise RuntimeError(f"{cmd[0]} did not become ready")
        yield ready.rsplit("/", 1)[0]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)


def _wrk(url: str, script: Path, seconds: int, connections: int = 8) -> dict[str, float]:
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "--timeout",
            "30s",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    def ms(label: str) -> float:
        m = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return math.nan
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: .*", out)
    return {
        "rps": rps,
        "p50": ms("50%"),
        "p99": ms("99%"),
        "requests": total,
        "non2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": 0 if errors is None else 1,
    }


def _write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--candidates", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--events-per-request", type=int, default=1000)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: run `make bench` (it installs Debian's wrk)")

    from sqlalchemy import func, select

    from config import Settings
    from serving.auth import create_key
    from serving.scorer import build_day
    from store.db import open_store
    from store.schema import Event
    from training.config import load_config
    from training.tracking import load_champion

    home = _home(args.candidates)
    settings = Settings(home=home)
    engine = open_store(settings)
    key = create_key(engine, "ats", label="benchmark").key
    model, version = load_champion(settings)
    day = build_day(engine, DAY, load_config().rules)
    ids = day.frame["candidate_id"].tolist()
    rows = day.frame[model.features_]
    work = OUT / "serve-wrk"
    work.mkdir(parents=True, exist_ok=True)

    def row_json(frame) -> list[list[object]]:  # type: ignore[no-untyped-def]
        return [
            [None if isinstance(v, float) and math.isnan(v) else v for v in r]
            for r in frame.itertuples(index=False)
        ]

    def mlflow_body(frame) -> str:  # type: ignore[no-untyped-def]
        split = {"columns": list(frame.columns), "data": row_json(frame)}
        return json.dumps({"dataframe_split": split})

    batch = min(1000, len(ids))
    singles = min(200, len(ids))
    as_of = DAY.isoformat()
    bodies = {
        "kw1": [json.dumps({"candidate_ids": [c], "as_of": as_of}) for c in ids[:singles]],
        "ml1": [mlflow_body(rows.iloc[[i]]) for i in range(singles)],
        "kwN": [json.dumps({"candidate_ids": ids[:batch], "as_of": as_of})],
        "mlN": [mlflow_body(rows.iloc[:batch])],
    }
    scripts = {}
    for name, lines in bodies.items():
        auth = f'wrk.headers["Authorization"] = "Bearer {key}"' if name.startswith("kw") else ""
        data = _write_lines(work / f"{name}.jsonl", lines)
        scripts[name] = work / f"{name}.lua"
        scripts[name].write_text(LUA.format(auth=auth, bodies=data), encoding="utf-8")
    id_file = _write_lines(work / "ids.txt", ids)
    scripts["events"] = work / "events.lua"
    scripts["events"].write_text(
        EVENTS_LUA.format(key=key, ids=id_file, per=args.events_per_request), encoding="utf-8"
    )

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_"))}
    env["PATH"] = f"{BIN}:{env.get('PATH', '')}"
    kw_env = {**env, "KEEPWARM_HOME": str(home), "KEEPWARM_RATE_LIMIT": "1000000/second"}
    ml_env = {**env, "MLFLOW_TRACKING_URI": settings.tracking_uri}
    kw_port, ml_port = _port(), _port()
    kw_cmd = [str(BIN / "keepwarm"), "serve", "--port", str(kw_port)]
    kw_cmd += ["--workers", str(args.workers)]
    ml_cmd = [str(BIN / "mlflow"), "models", "serve", "-m", "models:/keepwarm-dropout@champion"]
    ml_cmd += ["--env-manager", "local", "-p", str(ml_port), "--workers", str(args.workers)]

    print(f"serving benchmark, {args.runs} runs of {args.seconds} s; {machine()}")
    print(
        f"model v{version}: {model.booster_.num_trees()} trees, {len(model.features_)} features; "
        f"{len(ids)} candidates active on {DAY}; {args.workers} worker processes per server; "
        "wrk -t2 -c8"
    )
    results: dict[str, list[dict[str, float]]] = {k: [] for k in ("kw1", "ml1", "kwN", "mlN")}
    with (
        _server(kw_cmd, kw_env, f"http://127.0.0.1:{kw_port}/readyz") as kw_url,
        _server(ml_cmd, ml_env, f"http://127.0.0.1:{ml_port}/ping") as ml_url,
    ):
        urls = {"kw": f"{kw_url}/v1/score", "ml": f"{ml_url}/invocations"}
        for name in results:  # warm both: each worker builds the day on its first request
            _wrk(urls[name[:2]], scripts[name], 6)
        for _ in range(args.runs):
            for name in results:
                time.sleep(2)  # let the previous server finish what wrk left in flight
                results[name].append(_wrk(urls[name[:2]], scripts[name], args.seconds))

        with engine.connect() as conn:
            before = conn.execute(select(func.count()).select_from(Event)).scalar_one()
        events_runs = []
        for _ in range(args.runs):
            started = time.perf_counter()
            r = _wrk(f"{kw_url}/v1/events", scripts["events"], args.seconds)
            r["wall"] = time.perf_counter() - started
            events_runs.append(r)
        time.sleep(2)  # requests still in flight when wrk stopped finish
        with engine.connect() as conn:
            after = conn.execute(select(func.count()).select_from(Event)).scalar_one()

    def med(name: str, field: str) -> float:
        return statistics.median(r[field] for r in results[name])

    def line(label: str, name: str, rows_per_request: int) -> None:
        runs = ", ".join(f"{r['rps']:.0f}" for r in results[name])
        bad = sum(r["non2xx"] + r["socket_errors"] for r in results[name])
        rows = med(name, "rps") * rows_per_request
        print(
            f"  {label:<44} {med(name, 'rps'):8.0f} req/s  {rows:9.0f}"
            f" rows/s  p50 {med(name, 'p50'):6.1f} ms  p99 {med(name, 'p99'):6.1f} ms"
            f"  (runs: {runs}; errors {bad})"
        )

    print("one candidate per request:")
    line("keepwarm POST /v1/score (auth, reasons)", "kw1", 1)
    line("mlflow models serve /invocations", "ml1", 1)
    print(f"{batch} candidates per request:")
    line("keepwarm POST /v1/score", "kwN", batch)
    line("mlflow models serve /invocations", "mlN", batch)
    per = args.events_per_request
    acked = sum(r["requests"] - r["non2xx"] for r in events_runs) * per
    rates = sorted(r["requests"] * per / r["wall"] for r in events_runs)
    print(
        f"events: POST /v1/events, {per} per request, into SQLite: median "
        f"{statistics.median(rates):.0f} events/s (runs: {', '.join(f'{x:.0f}' for x in rates)})"
    )
    print(
        f"  acknowledged {acked} events; the store gained {after - before} "
        f"({'nothing lost' if after - before >= acked else 'EVENTS MISSING'})"
    )
    single = med("kw1", "rps") / med("ml1", "rps")
    batched = med("kwN", "rps") / med("mlN", "rps")
    print(
        f"ratios: single {single:.1f}x mlflow's requests/s (issue asks >= 20x), "
        f"p99 {med('kw1', 'p99'):.1f} ms (asks < 10 ms); "
        f"batch {batched:.1f}x mlflow's rows/s (asks >= 5x); "
        f"events {statistics.median(rates):.0f}/s (asks >= 5000/s)"
    )


if __name__ == "__main__":
    main()

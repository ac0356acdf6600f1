"""Console pages' server time on the demo: each page, signed in, several runs, medians.

Run: .venv/bin/python benchmarks/bench_pages.py [--runs 5] [--candidates 1000]
Builds (once, cached under benchmarks/out/demo-pages/) the state `keepwarm demo` makes
(three seasons of --candidates each, the 2025 season in progress, two daily runs), adds
a lead and a recruiter, starts `keepwarm serve` on loopback and times each page as the
browser asks for it (one warm-up request, then --runs timed ones, gzip accepted):
Today (recruiter and lead), the risk list, a candidate, the explanation, the season
review, the model page, the plan API and plotly.min.js. Time is from sending the request
to the last byte over loopback: the server's time plus a loopback transfer. Prints the
median and every run per page, and the bytes sent (compressed).
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
from common import OUT, machine

BIN = Path(sys.executable).parent
PASSWORD = "bench horse battery staple"


def demo_home(candidates: int) -> Path:
    """The demo's state (built once per --candidates), with a lead and a recruiter."""
    home = OUT / f"demo-pages-{candidates}"
    if (home / ".built").is_file():
        return home
    env = {**_env(home)}
    subprocess.run([BIN / "keepwarm", "demo", "--candidates", str(candidates)], env=env,
                   check=True, stdout=subprocess.DEVNULL)  # fmt: skip
    from sqlalchemy import text

    from config import Settings
    from serving.users import create_user
    from store.db import open_store

    engine = open_store(Settings(home=home))
    with engine.connect() as conn:
        owner = (
            conn.execute(
                text("SELECT hr_owner FROM candidates GROUP BY hr_owner ORDER BY count(*) DESC")
            )
            .scalars()
            .first()
        )
    create_user(engine, "bench-lead", "lead", PASSWORD)
    create_user(engine, "bench-hr", "hr", PASSWORD, owner)
    engine.dispose()
    (home / ".built").touch()
    return home


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "MLFLOW_"))}
    env.update(KEEPWARM_HOME=str(home), KEEPWARM_MODEL_POLL_SECONDS="0")
    return env


def sign_in(client: httpx.Client, name: str) -> None:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, "no sign-in form"
    done = client.post(
        "/login",
        data={"name": name, "password": PASSWORD, "csrf_token": token.group(1), "next": "/today"},
    )
    assert done.status_code in (200, 303), done.status_code


def timed(client: httpx.Client, path: str, runs: int) -> tuple[list[float], int]:
    client.get(path)  # warm-up: the day's scores cached, as after the first visitor
    times, size = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        with client.stream("GET", path) as response:
            assert response.status_code == 200, (path, response.status_code)
            size = sum(len(chunk) for chunk in response.iter_raw())
        times.append(time.perf_counter() - start)
    return times, size


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--candidates", type=int, default=1000)
    args = parser.parse_args()
    home = demo_home(args.candidates)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = subprocess.Popen([BIN / "keepwarm", "serve", "--port", str(port)], env=_env(home),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(timeout=2) as client:  # one: each new client loads the CA certificates
            for _ in range(600):
                try:
                    if client.get(f"{url}/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.3)
        headers = {"Accept-Encoding": "gzip"}
        lead = httpx.Client(base_url=url, headers=headers, timeout=120, follow_redirects=True)
        hr = httpx.Client(base_url=url, headers=headers, timeout=120, follow_redirects=True)
        sign_in(lead, "bench-lead")
        sign_in(hr, "bench-hr")
        first = re.search(r'data-candidate="([^"]+)"', hr.get("/today").text)
        cid = first.group(1) if first else ""
        pages = [
            (hr, "/today", "Today (recruiter)"),
            (lead, "/today", "Today (lead: team view, page 1)"),
            (lead, "/risk", "Risk list"),
            (hr, f"/candidates/{cid}", "Candidate"),
            (hr, f"/candidates/{cid}/explanation", "Explanation"),
            (lead, "/review", "Season review"),
            (lead, "/model", "Model"),
            (hr, "/assets/plotly.min.js", "plotly.min.js"),
        ]
        print(f"console pages on the demo ({args.candidates} candidates a season), {machine()}")
        for client, path, name in pages:
            times, size = timed(client, path, args.runs)
            runs = ", ".join(f"{t * 1000:.0f}" for t in times)
            print(f"{name:34s} median {statistics.median(times) * 1000:6.0f} ms  "
                  f"{size / 1024:8.0f} KiB sent  (runs: {runs})")  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()

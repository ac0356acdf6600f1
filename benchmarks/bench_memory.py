"""Peak memory and time of ingest, training and one day's run, next to another checkout.

Run: .venv/bin/python benchmarks/bench_memory.py --against ../wt-main [--sizes 5000,20000]
     [--runs 3] [--only-this 100000] [--together]

For each size (candidates per season) it simulates three seasons without truth
(``keepwarm simulate --no-truth``, cached under benchmarks/out/memory/) and, for
this checkout and the one given by ``--against`` (e.g. a ``git worktree`` of main
with its own ``make install``), each step in its own child process, whose peak
memory is its maximum resident set (``os.wait4``'s ``ru_maxrss``):

1. ingest 2023-autumn and 2024-autumn (``keepwarm ingest``, one process each);
2. training: ``load_season_data`` then ``train_model`` on 2023-autumn, tested on
   2024-autumn, with ``training/config.toml`` (the feature pass and the fit);
3. one day's run (``run_day``: the in-season check, scores, alerts, plans) on the
   2024-autumn day with the most active candidates, with the model from step 2;
4. ingest 2022-autumn (one more finished season behind the scored day), and the
   same day's run again: its memory must not grow with the finished seasons.

``--together`` runs the two checkouts of each ``--sizes`` size at the same time, one
process each (their steps still one child each): half the wall time, at the cost of
times that compete for the cores (the memory figures are each child's own).

``--only-this`` sizes run this checkout alone (the other would not fit in memory).
Steps 1 and 2 run once (their memory is the point, and they take minutes), the
day's run ``--runs`` times: medians, and the runs. Prints a table and JSON lines.

``--steps`` runs only some of the steps: ``ingest`` (1), ``training`` (2), ``day``
(3 and 4); by default all three. ``--home`` keeps the store in that folder instead of
a fresh one removed afterwards: a store ingested by an earlier ``--steps ingest`` run
(or by ``keepwarm ingest`` of 2023-autumn and 2024-autumn) can then be measured with
``--steps training`` alone, e.g. training at 100,000 a season (the ingest takes 11
minutes, the day's runs 15 more)::

    .venv/bin/python benchmarks/bench_memory.py --against . --sizes '' \
        --only-this 100000 --steps training --home /tmp/home100k

``--day-only`` sizes measure the day's run alone, both checkouts on one store: this
checkout ingests (the ingest code is the same in both), the other gets a copy of the
store, and the model is a small one trained on another simulated season
(``outreach.replay.train_replay_model``): for sizes whose training would not fit in
the time at hand. With ``--home`` (one ``--day-only`` size) the store is a copy of that
kept store (2023-autumn and 2024-autumn ingested) instead of a fresh ingest, and
``--history-runs 0`` leaves out the second finished season (its ingest and runs)::

    .venv/bin/python benchmarks/bench_memory.py --against ../wt-before --sizes '' \
        --day-only 100000 --runs 1 --home /tmp/home100k --history-runs 0
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path

from common import OUT, machine

HERE = Path(__file__).resolve().parent.parent
SEASONS = ["2022-autumn", "2023-autumn", "2024-autumn"]

TRAIN = """
import sys
from pathlib import Path
from config import get_settings
from store.db import open_store
from training.config import load_config
from training.train import load_season_data, train_model
engine = open_store(get_settings())
result = train_model(load_season_data(engine), ["2023-autumn"], "2024-autumn", load_config())
result.model.save(Path(sys.argv[1]))
print(len(result.train), "training rows", len(result.test), "test rows")
"""

SMALL_MODEL = """
import sys
from pathlib import Path
from outreach.replay import train_replay_model
from training.config import load_config
train_replay_model(1000, 20, load_config()).save(Path(sys.argv[1]))
"""

DAY = """
import sys, datetime as dt
from pathlib import Path
from config import get_settings
from serving.services.daily import run_day
from store.db import open_store
from training.model import DropoutClassifier
from training.predictor import Predictor
engine = open_store(get_settings())
model = Predictor.of(DropoutClassifier.load(Path(sys.argv[1])), "bench")
run = run_day(engine, model, dt.date.fromisoformat(sys.argv[2]))
print(run.scored, "scored")
"""

BUSIEST = """
import datetime as dt
from config import get_settings
from store.db import open_store
from training.train import load_season_data
pop = load_season_data(open_store(get_settings())).population
pop = pop[pop["season"] == "2024-autumn"]
days = [min(pop["entry_day"]) + dt.timedelta(days=k) for k in range(0, 300, 7)]
def active(d):
    gone = pop["outcome_date"].notna() & (pop["outcome_date"] <= d)
    return int(((pop["entry_day"] <= d) & ~gone).sum())
print(max(days, key=active))
"""


def child(tree: Path, home: Path, args: list[str]) -> tuple[float, float, str]:
    """Run ``args`` in ``tree``'s venv with ``home``: (seconds, peak GB, stdout)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KEEPWARM_", "PREFECT_"))}
    env.update(KEEPWARM_HOME=str(home), PYTHONPATH=str(tree))
    binary = tree / ".venv" / "bin" / args[0]
    start = time.perf_counter()
    proc = subprocess.Popen(
        [str(binary), *args[1:]], cwd=tree, env=env, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{args[:2]} failed in {tree} (status {status})")
    last = (out.strip().splitlines() or [""])[-1]  # after any progress bars
    return seconds, usage.ru_maxrss / 1024**2, last  # ru_maxrss is in KB on Linux


def bundles(size: int) -> Path:
    folder = OUT / "memory" / f"bundles-{size}"
    if not all((folder / s / "events.csv").is_file() for s in SEASONS):
        shutil.rmtree(folder, ignore_errors=True)
        seasons = ",".join(s[:4] for s in SEASONS)
        subprocess.run(
            [str(HERE / ".venv/bin/keepwarm"), "simulate", str(folder), "--seasons", seasons,
             "--candidates", str(size), "--seed", "19", "--no-truth"],
            check=True, cwd=HERE, stdout=subprocess.DEVNULL,
        )  # fmt: skip
    return folder


STEPS = ("ingest", "training", "day")


def measure(
    tree: Path,
    name: str,
    size: int,
    runs: int,
    steps: tuple[str, ...] = STEPS,
    kept: Path | None = None,
) -> dict[str, object]:
    """``steps`` of ``tree`` at ``size``; in the store at ``kept`` if given (not removed)."""
    data = bundles(size) if "ingest" in steps or "day" in steps else None
    work = OUT / "memory" / f"{name}-{size}"
    shutil.rmtree(work, ignore_errors=True)
    home, model = (kept if kept is not None else work / "home"), work / "model"
    home.mkdir(parents=True, exist_ok=kept is not None)
    work.mkdir(parents=True, exist_ok=True)
    figures: dict[str, object] = {"tree": name, "candidates": size}
    if "ingest" in steps:
        assert data is not None
        ingest = [child(tree, home, ["keepwarm", "ingest", str(data / s)]) for s in SEASONS[1:]]
        figures["ingest_s"] = round(sum(t for t, _, _ in ingest), 1)
        figures["ingest_gb"] = round(max(m for _, m, _ in ingest), 2)
    if "training" in steps:
        seconds, peak, out = child(tree, home, ["python", "-c", TRAIN, str(model)])
        figures.update(train_s=round(seconds, 1), train_gb=round(peak, 2), train_rows=out)
    if "day" in steps:
        assert data is not None
        if "training" not in steps:  # the day needs a model: a small one, as --day-only's
            child(tree, home, ["python", "-c", SMALL_MODEL, str(model)])
        figures.update(day_runs(tree, home, model, data, runs))
    print(json.dumps(figures), flush=True)
    shutil.rmtree(work)  # a store of 100k candidates a season takes gigabytes
    return figures


def day_runs(tree: Path, home: Path, model: Path, data: Path, runs: int) -> dict[str, object]:
    """Steps 3 and 4: the day's run, then 2022-autumn ingested and the day's run again."""
    figures: dict[str, object] = {}
    day = child(HERE, home, ["python", "-c", BUSIEST])[2]
    figures["day"] = day
    for label in ("day1", "day2"):
        if label == "day2":  # one more finished season behind the scored day
            seconds, peak, _ = child(tree, home, ["keepwarm", "ingest", str(data / SEASONS[0])])
            figures.update(ingest3_s=round(seconds, 1), ingest3_gb=round(peak, 2))
        done = [child(tree, home, ["python", "-c", DAY, str(model), day]) for _ in range(runs)]
        figures[f"{label}_s"] = round(statistics.median(t for t, _, _ in done), 1)
        figures[f"{label}_gb"] = round(statistics.median(m for _, m, _ in done), 2)
        figures[f"{label}_runs"] = [round(t, 1) for t, _, _ in done]
        figures["scored"] = done[0][2]
    return figures


def day_only(
    against: Path, size: int, runs: int, kept: Path | None = None, history: bool = True
) -> list[dict[str, object]]:
    """The day's run of both checkouts on one store (see the module's docstring): a
    fresh ingest, or a copy of the ``kept`` store; ``history``: the second season too."""
    data = bundles(size) if kept is None or history else None
    work = OUT / "memory" / f"day-{size}"
    shutil.rmtree(work, ignore_errors=True)
    homes = {"this": work / "this", "against": work / "against"}
    model = work / "model"
    if kept is None:
        assert data is not None
        homes["this"].mkdir(parents=True)
        ingest = [
            child(HERE, homes["this"], ["keepwarm", "ingest", str(data / s)]) for s in SEASONS[1:]
        ]
    else:  # the store alone: no models, MLflow or Prefect files of the kept home
        homes["this"].mkdir(parents=True)
        shutil.copyfile(kept / "keepwarm.db", homes["this"] / "keepwarm.db")
        ingest = []
    child(HERE, homes["this"], ["python", "-c", SMALL_MODEL, str(model)])
    day = child(HERE, homes["this"], ["python", "-c", BUSIEST])[2]
    rows = {name: {"tree": name, "candidates": size, "day": day} for name in homes}
    if ingest:
        rows["this"].update(
            ingest_s=round(sum(t for t, _, _ in ingest), 1),
            ingest_gb=round(max(m for _, m, _ in ingest), 2),
        )
    for label in ("day1", "day2") if history else ("day1",):
        if label == "day2":
            assert data is not None
            seconds, peak, _ = child(
                HERE, homes["this"], ["keepwarm", "ingest", str(data / SEASONS[0])]
            )
            rows["this"].update(ingest3_s=round(seconds, 1), ingest3_gb=round(peak, 2))
        shutil.rmtree(homes["against"], ignore_errors=True)
        shutil.copytree(homes["this"], homes["against"])
        for name, tree in (("against", against), ("this", HERE)):
            done = [
                child(tree, homes[name], ["python", "-c", DAY, str(model), day])
                for _ in range(runs)
            ]
            rows[name][f"{label}_s"] = round(statistics.median(t for t, _, _ in done), 1)
            rows[name][f"{label}_gb"] = round(statistics.median(m for _, m, _ in done), 2)
            rows[name][f"{label}_runs"] = [round(t, 1) for t, _, _ in done]
            rows[name]["scored"] = done[0][2]
    for row in rows.values():
        print(json.dumps(row), flush=True)
    shutil.rmtree(work)
    return list(rows.values())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--against", type=Path, required=True, help="another checkout, installed")
    parser.add_argument("--sizes", default="5000,20000")
    parser.add_argument("--only-this", default="", help="sizes to run this checkout alone")
    parser.add_argument("--day-only", default="", help="sizes to measure the day's run alone")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--steps", default=",".join(STEPS), help=f"some of {','.join(STEPS)} (not --day-only)"
    )
    parser.add_argument(
        "--home",
        type=Path,
        default=None,
        help="a kept store for --only-this or --day-only (one size)",
    )
    parser.add_argument(
        "--history-runs",
        type=int,
        choices=(0, 1),
        default=1,
        help="--day-only: 0 leaves out the second finished season",
    )
    parser.add_argument(
        "--together", action="store_true", help="both checkouts of a size at once (see above)"
    )
    args = parser.parse_args()
    steps = tuple(s for s in args.steps.split(",") if s)
    if not steps or set(steps) - set(STEPS):
        parser.error(f"--steps: some of {', '.join(STEPS)}")
    only_this = [int(s) for s in args.only_this.split(",") if s]
    day_sizes = [int(s) for s in args.day_only.split(",") if s]
    if args.home is not None and (args.sizes or len(only_this) + len(day_sizes) != 1):
        parser.error("--home is one store: with --sizes '' and one --only-this or --day-only size")
    print(f"{machine()}; load {os.getloadavg()[0]:.2f}", flush=True)
    rows = []
    for size in [int(s) for s in args.sizes.split(",") if s]:
        pair = [(args.against.resolve(), "against", size, args.runs, steps)]
        pair.append((HERE, "this", size, args.runs, steps))
        if args.together:
            bundles(size)  # simulated once, before the two processes need it
            with concurrent.futures.ProcessPoolExecutor(2) as pool:
                rows.extend(pool.map(measure, *zip(*pair, strict=True)))
        else:
            rows.extend(measure(*job) for job in pair)
    for size in only_this:
        rows.append(measure(HERE, "this", size, args.runs, steps, args.home))
    for size in day_sizes:
        history = bool(args.history_runs)
        rows.extend(day_only(args.against.resolve(), size, args.runs, args.home, history))
    print(f"load after {os.getloadavg()[0]:.2f}")
    print("| candidates/season | tree | ingest 2 seasons | training | day run (1 season behind) "
          "| day run (2 seasons behind) |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for r in rows:
        ingest = f"{r['ingest_s']} s, {r['ingest_gb']} GB" if "ingest_s" in r else "(not run)"
        train = f"{r['train_s']} s, {r['train_gb']} GB" if "train_s" in r else "(small model)"
        day1 = f"{r['day1_s']} s, {r['day1_gb']} GB" if "day1_s" in r else "(not run)"
        day2 = f"{r['day2_s']} s, {r['day2_gb']} GB" if "day2_s" in r else "(not run)"
        print(f"| {r['candidates']:,} | {r['tree']} | {ingest} | {train} | {day1} | {day2} |")


if __name__ == "__main__":
    main()

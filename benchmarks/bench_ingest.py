"""Ingest 1,000,000 events into SQLite and PostgreSQL.

Run: .venv/bin/python benchmarks/bench_ingest.py [--runs 3] [--events 1000000]
Each figure is the median of several runs into a fresh store, next to the
peer a user would otherwise reach for, in the same run:
- SQLite: pandas read_csv + DataFrame.to_sql (no checks, no idempotency);
- PostgreSQL: psql \\copy of the raw CSV into a bare table (no checks, no
  indexes: the floor for moving these bytes into the server).
keepwarm's figure includes reading, checking every row against the contract,
and the one-transaction load with its indexes. The PostgreSQL server runs with
fsync on (its defaults), started here on a private socket.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import subprocess
import tempfile
from pathlib import Path

import pandas as pd
from common import describe, large_bundle, machine, timed_runs
from sqlalchemy import Engine, create_engine

from store.db import make_engine, migrate
from store.ingest import count_rows, ingest_bundle
from store.pgserver import PostgresServer, psql_command, running_postgres


class Bench:
    def __init__(self, bundle: Path, events: int, runs: int) -> None:
        self.bundle, self.events, self.runs = bundle, events, runs
        self.figures: dict[str, float] = {}
        self.engine: Engine | None = None

    def record(self, key: str, label: str, times: list[float], note: str = "") -> None:
        self.figures[key] = round(statistics.median(times), 1)
        print(f"  {label:34s} {describe(times)}{note}")

    def load(self) -> None:
        assert self.engine is not None
        assert ingest_bundle(self.engine, self.bundle).events_new == self.events

    def reload(self) -> None:
        assert self.engine is not None
        assert ingest_bundle(self.engine, self.bundle).events_new == 0

    def sqlite(self, folder: Path) -> None:
        names = (folder / f"db{i}.sqlite" for i in itertools.count())

        def fresh() -> None:
            self.engine = make_engine(f"sqlite:///{next(names)}")
            migrate(self.engine)

        self.record(
            "sqlite_keepwarm", "SQLite     keepwarm ingest", timed_runs(self.load, self.runs, fresh)
        )
        assert self.engine is not None and count_rows(self.engine)["events"] == self.events
        self.record(
            "sqlite_reingest",
            "SQLite     keepwarm re-ingest",
            timed_runs(self.reload, 1),
            "  (adds nothing)",
        )

        def peer() -> None:
            engine = create_engine(f"sqlite:///{next(names)}")
            frame = pd.read_csv(self.bundle / "events.csv", dtype=str, keep_default_na=False)
            frame.to_sql("events", engine, index=False, chunksize=50_000)
            engine.dispose()

        self.record(
            "sqlite_pandas_to_sql", "SQLite     pandas to_sql (peer)", timed_runs(peer, self.runs)
        )

    def postgres(self, pg: PostgresServer) -> None:
        def fresh() -> None:
            self.engine = make_engine(pg.create_database())
            migrate(self.engine)

        self.record(
            "postgres_keepwarm",
            "PostgreSQL keepwarm ingest",
            timed_runs(self.load, self.runs, fresh),
        )
        self.record(
            "postgres_reingest",
            "PostgreSQL keepwarm re-ingest",
            timed_runs(self.reload, 1),
            "  (adds nothing)",
        )
        columns = pd.read_csv(self.bundle / "events.csv", nrows=0).columns
        ddl = ", ".join(f'"{c}" text' for c in columns)
        copy = f"\\copy events FROM '{self.bundle / 'events.csv'}' WITH (FORMAT csv, HEADER)"

        def peer() -> None:
            psql = psql_command(pg, pg.create_database())
            subprocess.run([*psql, "-c", f"CREATE TABLE events ({ddl})"], check=True)
            subprocess.run([*psql, "-c", copy], check=True)

        self.record(
            "postgres_psql_copy", "PostgreSQL psql \\copy (peer)", timed_runs(peer, self.runs)
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    bundle = large_bundle(args.events)
    print(f"ingest {args.events} events ({bundle.name}), {args.runs} runs; {machine()}")
    bench = Bench(bundle, args.events, args.runs)
    with tempfile.TemporaryDirectory() as tmp:
        bench.sqlite(Path(tmp))
    with running_postgres(durable=True) as pg:
        bench.postgres(pg)
    print(json.dumps({"events": args.events, "median_s": bench.figures}))


if __name__ == "__main__":
    main()

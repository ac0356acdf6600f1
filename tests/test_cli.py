"""The console script as a user runs it: exit codes, messages, no tracebacks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import SAMPLE, run_cli


def test_simulate_then_ingest_then_ingest_again(tmp_path: Path, keepwarm_home: Path) -> None:
    out = tmp_path / "bundles"
    sim = run_cli(
        "simulate",
        str(out),
        "--seasons",
        "2023,2024",
        "--candidates",
        "120",
        "--seed",
        "9",
        home=keepwarm_home,
    )
    assert sim.returncode == 0, sim.stderr
    assert {p.name for p in out.iterdir()} == {"2023-autumn", "2024-autumn"}
    for name in ("candidates", "events", "outcomes", "content", "truth"):
        assert (out / "2023-autumn" / f"{name}.csv").is_file()
    first = run_cli("ingest", str(out / "2023-autumn"), home=keepwarm_home)
    assert first.returncode == 0, first.stderr
    assert "candidates 120 new" in first.stdout
    again = run_cli("ingest", str(out / "2023-autumn"), home=keepwarm_home)
    assert again.returncode == 0
    assert "events 0 new" in again.stdout
    assert (keepwarm_home / "keepwarm.db").is_file()


def test_bad_bundle_exits_1_with_file_row_column_and_no_traceback(
    tmp_path: Path, keepwarm_home: Path
) -> None:
    bundle = tmp_path / "bad"
    shutil.copytree(SAMPLE, bundle)
    events = pd.read_csv(bundle / "events.csv", dtype=str, keep_default_na=False)
    events.loc[2, "type"] = "offer_maybe"
    events.loc[2, "text"] = "私人问题-MARKER"
    events.to_csv(bundle / "events.csv", index=False)
    done = run_cli("ingest", str(bundle), home=keepwarm_home)
    assert done.returncode == 1
    assert "events.csv, row 4, column type" in done.stderr
    assert "nothing was loaded" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert "MARKER" not in done.stderr + done.stdout


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("ingest", "/no/such/bundle"), "no bundle folder"),
        (("simulate", "x", "--seasons", "autumn"), "not a year"),
        (("simulate", "x", "--candidates", "0"), "--candidates"),
        (("frobnicate",), "No such command"),
    ],
)
def test_user_errors_exit_1_without_traceback(
    args: tuple[str, ...], words: str, keepwarm_home: Path
) -> None:
    done = run_cli(*args, home=keepwarm_home)
    assert done.returncode == 1
    assert words in done.stderr
    assert "Traceback" not in done.stderr


def test_demo_simulates_and_ingests_two_seasons(keepwarm_home: Path) -> None:
    done = run_cli("demo", "--candidates", "60", home=keepwarm_home)
    assert done.returncode == 0, done.stderr
    assert "simulated 2023-autumn" in done.stdout
    assert "simulated 2024-autumn" in done.stdout
    assert "store now holds: candidates 120" in done.stdout

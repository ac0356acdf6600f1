"""The notebooks run top to bottom on demo data, so they never rot.

Each runs in a real Jupyter kernel (nbclient) on its own copy of a small demo
home; the cells have a time limit, and the notebook's own settings are made small
through environment variables it reads.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient

from config import get_settings
from tests.conftest import run_cli

NOTEBOOKS = Path(__file__).parents[1] / "notebooks"
CANDIDATES = 150


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("notebook-demo") / "home"
    done = run_cli("demo", "--candidates", str(CANDIDATES), home=home, timeout=600)
    assert done.returncode == 0, done.stderr
    return home


def test_every_notebook_is_a_jupytext_script_without_outputs() -> None:
    names = sorted(p.name for p in NOTEBOOKS.iterdir() if not p.name.startswith("."))
    assert names == ["model_report.py", "retraining.py", "season_exploration.py"]
    for path in NOTEBOOKS.glob("*.py"):
        assert "format_name: percent" in path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["season_exploration", "model_report", "retraining"])
def test_notebook_runs_top_to_bottom(
    name: str, demo_home: Path, keepwarm_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(demo_home, keepwarm_home)
    monkeypatch.setenv("KEEPWARM_NB_CANDIDATES", str(CANDIDATES))
    monkeypatch.setenv("KEEPWARM_NB_REPLAY_CANDIDATES", "40")
    monkeypatch.setenv("KEEPWARM_NB_REPLAY_SEEDS", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    get_settings.cache_clear()
    notebook = jupytext.read(NOTEBOOKS / f"{name}.py")
    client = NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(keepwarm_home)}},
    )
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any error
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert outputs, "the notebook showed nothing"
    nbformat.validate(notebook)

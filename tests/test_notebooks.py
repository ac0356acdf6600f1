"""The notebooks run top to bottom on demo data, so they never rot.

Each runs in a real Jupyter kernel (nbclient) on its own copy of a small demo
home; the cells have a time limit, and the notebook's own settings are made small
through environment variables it reads.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import DEMO_CANDIDATES, DemoRun

NOTEBOOKS = Path(__file__).parents[1] / "notebooks"


def test_every_notebook_is_a_jupytext_script_without_outputs() -> None:
    names = sorted(p.name for p in NOTEBOOKS.iterdir() if not p.name.startswith("."))
    assert names == ["model_report.py", "retraining.py", "season_exploration.py"]
    for path in NOTEBOOKS.glob("*.py"):
        assert "format_name: percent" in path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["season_exploration", "model_report", "retraining"])
def test_notebook_runs_top_to_bottom(name: str, demo_run: DemoRun, keepwarm_home: Path) -> None:
    shutil.copytree(demo_run.home, keepwarm_home)
    # The kernel starts from a clean environment, as a data scientist's would: no tracking
    # URI or Prefect setting left behind by tests that ran in this process.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("KEEPWARM_", "MLFLOW_", "PREFECT_"))
    }
    env.update(
        KEEPWARM_HOME=str(keepwarm_home),
        KEEPWARM_TRAINING_CONFIG=os.environ["KEEPWARM_TRAINING_CONFIG"],  # the tests' small one
        KEEPWARM_NB_CANDIDATES=str(DEMO_CANDIDATES),  # the demo's people
        KEEPWARM_NB_REPLAY_CANDIDATES="40",
        KEEPWARM_NB_REPLAY_SEEDS="1",
        KEEPWARM_NB_REPLAY_TRAIN_CANDIDATES="100",  # the CLI's least (policy-eval)
        # the shortest season the simulator has (its year ends on 31 December; every
        # offer of these seeds is decided before the new year): a replay costs by the day
        KEEPWARM_NB_REPLAY_FIRST_DAY="01-01",
        MPLBACKEND="Agg",
    )
    # Jupyter's libraries load in the worker that runs the notebooks only (not at collection)
    import jupytext
    import nbformat
    from nbclient import NotebookClient

    notebook = jupytext.read(NOTEBOOKS / f"{name}.py")
    client = NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(keepwarm_home)}},
    )
    client.execute(env=env)  # raises CellExecutionError, with the cell and traceback, on error
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert outputs, "the notebook showed nothing"
    nbformat.validate(notebook)

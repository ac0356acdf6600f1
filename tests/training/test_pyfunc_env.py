"""The registered model loads and predicts in a fresh virtual environment, from its own
requirements and the code it carries: not from this checkout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pytest
from mlflow.models import Model

from config import get_settings
from training.tracking import MODEL_NAME, configure, load_model_version

# What the fresh environment runs: nothing of keepwarm is importable but what the model
# carries (MLflow puts its code/ folder on the path when it loads the model).
SCRIPT = """
import importlib.util, json, sys
import pandas as pd
assert importlib.util.find_spec("training") is None, "keepwarm is importable before loading"
import mlflow.pyfunc
model = mlflow.pyfunc.load_model(sys.argv[1])
frame = pd.read_json(sys.argv[2], orient="split", dtype={"role_family": "object"})
frame = frame.astype({c: "float64" for c in frame.columns if c != "role_family"})
print(json.dumps(model.predict(frame)["risk"].tolist()))
"""


def _installer() -> list[str]:
    """uv when it is installed (seconds from its cache), else pip."""
    uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    return [uv] if Path(uv).exists() else []


@pytest.mark.slow
def test_the_registered_model_loads_in_a_fresh_virtual_environment(
    served_home: Path, tmp_path: Path
) -> None:
    configure(get_settings())
    local = Path(
        mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{MODEL_NAME}/1", dst_path=str(tmp_path / "model")
        )
    )
    requirements = (local / "requirements.txt").read_text(encoding="utf-8").split()
    for package in ("mlflow", "lightgbm", "pandas", "scikit-learn"):
        assert any(r.startswith(f"{package}==") for r in requirements), requirements
    assert (local / "code" / "training" / "model.py").exists()

    venv = tmp_path / "venv"
    python = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    uv = _installer()
    if uv:
        subprocess.run(
            [*uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True, env=env
        )
        install = [*uv, "pip", "install", "--quiet", "--python", str(python)]
    else:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=env)
        install = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    # uv's cache first, with no network (seconds, and offline-safe); the index if it lacks any
    attempts = [[*install, "--offline"], install] if uv else [install]
    for command in attempts:
        done = subprocess.run(
            [*command, "-r", str(local / "requirements.txt")],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if done.returncode == 0:
            break
    assert done.returncode == 0, done.stderr[-2000:]

    example = Model.load(str(local)).load_input_example(str(local))
    assert example is not None
    (tmp_path / "input.json").write_text(example.to_json(orient="split"), encoding="utf-8")
    ran = subprocess.run(
        [str(python), "-I", "-c", SCRIPT, str(local), str(tmp_path / "input.json")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    fresh = np.array(json.loads(ran.stdout.strip().splitlines()[-1]))
    here = load_model_version("1").predict_proba(example)[:, 1]
    assert np.allclose(fresh, here)

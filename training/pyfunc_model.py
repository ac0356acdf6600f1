"""MLflow "models from code" entry point: the registered model as a pyfunc.

MLflow loads this file instead of unpickling an object; the model itself is
the native LightGBM text file and JSON beside it (artifact ``model_dir``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel

from training.model import DropoutClassifier


class KeepwarmDropoutModel(PythonModel):
    def load_context(self, context: Any) -> None:
        self.model = DropoutClassifier.load(Path(context.artifacts["model_dir"]))

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        """``risk`` (reneges before the start date) and ``risk_30d`` (within 30 days;
        NaN for a model without the time-to-renege part), one row per input row."""
        risk = self.model.predict_proba(model_input)[:, 1]
        soon = self.model.predict_within_proba(model_input)
        risk_30d = soon if soon is not None else float("nan")
        return pd.DataFrame({"risk": risk, "risk_30d": risk_30d}, index=model_input.index)


mlflow.models.set_model(KeepwarmDropoutModel())

"""The promotion gate, as a plain function: which model serves after a retraining, and why."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.tracking import Promote, decide_promotion
from training.train import TrainResult

NEW_AUC = 0.75
# One test season: its labels, and columns a champion may score it by.
SEASON = pd.DataFrame(
    {
        "label": [0, 0, 1, 1],
        "better": [0.1, 0.2, 0.8, 0.9],  # AUC 1.0
        "equal": [0.1, 0.3, 0.2, 0.4],  # AUC 0.75, the new model's
        "worse": [0.9, 0.8, 0.2, 0.1],  # AUC 0.0
    }
)


class Champion:
    """The serving model, scoring the test season by one of its columns."""

    def __init__(self, column: str) -> None:
        self.column = column
        self.features_ = [column]

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        risk = frame[self.column].to_numpy(dtype=float)
        return np.column_stack([1 - risk, risk])


def _result() -> TrainResult:
    metrics = pd.DataFrame(
        [
            {"scorer": "keepwarm", "slice": "all", "auc": NEW_AUC},
            {"scorer": "rules", "slice": "all", "auc": 0.6},
        ]
    )
    return TrainResult(model=None, metrics=metrics, oracle={}, test=SEASON)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("promote", "column", "promoted", "words", "champion_auc"),
    [
        ("auto", None, True, "first model: no champion to beat", None),
        ("never", None, False, "no champion yet, but --promote=never", None),
        ("auto", "worse", True, "AUC 0.7500 beats champion v3 at 0.0000", 0.0),
        ("auto", "better", False, "AUC 0.7500 does not beat champion v3 at 1.0000", 1.0),
        ("auto", "equal", False, "does not beat champion v3 at 0.7500", 0.75),  # a tie keeps it
        (
            "never",
            "worse",
            False,
            "beats champion v3 at 0.0000 on the same test season (--promote=never)",
            0.0,
        ),
        ("force", "better", True, "forced with --promote=force", None),
        ("force", None, True, "forced with --promote=force", None),
        ("auto", "gender", True, "champion v3 needs features this data lacks; replaced", None),
    ],
)
def test_the_gate_promotes_only_a_model_that_beats_the_champion(
    promote: Promote, column: str | None, promoted: bool, words: str, champion_auc: float | None
) -> None:
    champion = None if column is None else ("3", Champion(column))
    decided, reason, auc = decide_promotion(_result(), promote, champion)  # type: ignore[arg-type]
    assert decided is promoted
    assert words in reason
    assert auc == (None if champion_auc is None else pytest.approx(champion_auc))

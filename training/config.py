"""Typed training configuration, loaded from the versioned ``training/config.toml``.

``KEEPWARM_TRAINING_CONFIG`` names another file to load instead (the tests' small one).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from config import get_settings

DEFAULT_CONFIG = Path(__file__).with_name("config.toml")


class RuleThresholds(BaseModel):
    """The brief's warnings (BRIEF.md, capability 4)."""

    no_reply_days: int = 3
    approval_pending_days: int = 2


class GateRules(BaseModel):
    """What a challenger must show on a held-out season to become champion (training.gate).

    Intervals are paired and resample candidates; ``level`` is their coverage.
    """

    min_auc_gain: float = Field(default=0.0, ge=0)  # the AUC gain's lower bound must exceed this
    max_log_loss_regression: float = Field(default=0.0, ge=0)  # refused if surely worse by more
    max_ece_regression: float = Field(default=0.0, ge=0)
    resamples: int = Field(default=300, ge=20)
    level: float = Field(default=0.95, gt=0.5, lt=1)
    seed: int = 7


class TrainConfig(BaseModel):
    snapshot_every_days: int = Field(7, ge=1)
    hr_capacity_share: float = Field(0.05, gt=0, le=1)
    top_share: float = Field(0.10, gt=0, le=1)
    horizons: list[int] = Field(default_factory=lambda: [60, 120, 180])
    lightgbm: dict[str, Any] = Field(default_factory=dict)
    num_boost_round: int = 600
    # cross-fitting: folds by candidate, each stopped early on its held-out candidates
    folds: int = Field(5, ge=2)
    early_stopping_rounds: int = Field(40, ge=1)
    rules: RuleThresholds = Field(default_factory=RuleThresholds)
    # the time-to-renege output: the chance of reneging within this many days of a score
    within_days: int = Field(30, ge=1)
    # candidate-clustered bootstrap draws behind its held-out intervals
    within_boot: int = Field(200, ge=0)
    gate: GateRules = Field(default_factory=GateRules)
    # features are built for at most this many candidates at a time, each part reading
    # only its own events: training's peak memory follows this, not the season's size
    feature_chunk_candidates: int = Field(5000, ge=1)
    # the logistic baseline is fitted on at most this many training candidates (a fixed
    # random sample of them, all their snapshots): scikit-learn's pipeline holds several
    # float64 copies of its input, 10 GiB at 100,000 candidates a season
    logistic_max_candidates: int = Field(20000, ge=1)


def load_config(path: Path | None = None) -> TrainConfig:
    """``path``, else the file named by ``KEEPWARM_TRAINING_CONFIG``, else ``config.toml``."""
    path = path or get_settings().training_config or DEFAULT_CONFIG
    with path.open("rb") as fh:
        return TrainConfig.model_validate(tomllib.load(fh))

"""The daily batch: everyone active at the end of a day, scored, ranked and stored.

"As of day D" uses only what was known at the end of D (``features.population.
load_day``), the same builder as training makes the rows, and the same front-end
as the service scores them (``training.predictor``), so the daily list and the
API agree on every risk, rank and reason.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from features.build import build_features
from features.population import load_day
from store.db import upsert
from store.schema import Score
from training.predictor import Predictor, rank_order

COLUMNS = [
    "candidate_id",
    "as_of",
    "risk",
    "risk_30d",
    "rank",
    "hr_owner",
    "reasons",
    "reasons_detail",
]


def rank_scores(
    model: Predictor,
    features: pd.DataFrame,
    candidates: pd.DataFrame,
    top: int = 3,
) -> pd.DataFrame:
    """Risk, rank and reasons for feature rows of one day, highest risk first.

    Columns ``COLUMNS``: ``risk_30d`` the chance of reneging within 30 days (NaN for a
    model without a time-to-renege part), ``reasons`` the codes joined by ``;``,
    ``reasons_detail`` the language-free reasons (code, value, contribution) as stored.
    """
    if features.empty:
        return pd.DataFrame(columns=COLUMNS)
    X = model.matrix(features)
    # the trees' score as the service computes it (``DayScores``): ties break alike
    raw = model.raw(X)
    risk = np.asarray(model.calibration(raw), dtype=float)
    soon = model.risk_30d(X, risk)
    _, _, detail = model.explain(X, top=top)
    owners = candidates.set_index("candidate_id")["hr_owner"]
    ids = features["candidate_id"].to_numpy()
    out = pd.DataFrame(
        {
            "candidate_id": ids,
            "as_of": features["as_of"].to_numpy(),
            "risk": risk.round(4),
            "risk_30d": np.full(len(risk), np.nan) if soon is None else soon.round(4),
            "hr_owner": features["candidate_id"].map(owners).to_numpy(),
            "reasons": [";".join(r["code"] for r in rs) for rs in detail],
            "reasons_detail": detail,
        }
    )
    out = out.iloc[rank_order(risk, raw, ids.astype(str))]
    out["rank"] = range(1, len(out) + 1)
    return out[COLUMNS].reset_index(drop=True)


def score_day(engine: Engine, model: Predictor, as_of: dt.date, top: int = 3) -> pd.DataFrame:
    """Score everyone active at the end of ``as_of`` with what was known then."""
    inputs = load_day(engine, as_of)
    features = build_features(inputs.events, inputs.candidates, inputs.spine, inputs.content)
    return rank_scores(model, features, inputs.candidates, top)


def store_scores(engine: Engine, scores: pd.DataFrame, model_version: str) -> int:
    """Write a day's scores into the score history (one row per candidate, day, version)."""
    if scores.empty:
        return 0
    rows = [
        {
            "candidate_id": r.candidate_id,
            "as_of": r.as_of,
            "model_version": model_version,
            "risk": float(r.risk),
            "rank": int(r.rank),
            "reasons": r.reasons_detail,
        }
        for r in scores.itertuples(index=False)
    ]
    with engine.begin() as conn:
        upsert(conn, Score.__table__, rows, ["candidate_id", "as_of", "model_version"])  # type: ignore[arg-type]
    return len(rows)

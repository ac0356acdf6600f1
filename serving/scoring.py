"""Daily scoring: the active population as of a day, its risks, reasons and ranks.

"As of day D" uses only what was known at the end of D: events with
``local_day <= D`` and outcomes dated on or before D. The same feature
builder as training makes the rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import Engine

from features.build import build_features
from features.source import load_candidates, load_content, load_events, load_outcomes
from store.db import upsert
from store.schema import Score
from training.model import DropoutClassifier
from training.snapshots import active_on, scored_population


@dataclass
class DayInputs:
    """What the store knew at the end of ``as_of``, and who was active then."""

    as_of: dt.date
    events: pd.DataFrame
    candidates: pd.DataFrame
    content: pd.DataFrame
    spine: pd.DataFrame


COLUMNS = ["candidate_id", "as_of", "risk", "rank", "hr_owner", "reasons", "reasons_detail"]


def day_inputs(engine: Engine, as_of: dt.date) -> DayInputs:
    events = load_events(engine, until=as_of)
    outcomes = load_outcomes(engine)
    known = outcomes[outcomes["outcome_date"] <= as_of]
    active = active_on(scored_population(events, known), as_of)
    spine = pd.DataFrame({"candidate_id": active["candidate_id"].to_numpy(), "as_of": as_of})
    return DayInputs(as_of, events, load_candidates(engine), load_content(engine), spine)


def rank_scores(
    model: DropoutClassifier,
    features: pd.DataFrame,
    candidates: pd.DataFrame,
    top: int = 3,
) -> pd.DataFrame:
    """Risk, rank and reasons for feature rows of one day, highest risk first."""
    if features.empty:
        return pd.DataFrame(columns=COLUMNS)
    raw = model.raw_proba(features[model.features_])
    risk = model.calibration_(raw)
    detail = model.reasons(features, top=top)
    owners = candidates.set_index("candidate_id")["hr_owner"]
    out = pd.DataFrame(
        {
            "candidate_id": features["candidate_id"].to_numpy(),
            "as_of": features["as_of"].to_numpy(),
            "risk": risk.round(4),
            "hr_owner": features["candidate_id"].map(owners).to_numpy(),
            "reasons": [";".join(r["code"] for r in rs) for rs in detail],
            "reasons_detail": detail,
        }
    )
    # Calibration maps ranges of the trees' score to one risk (isotonic steps): within a
    # step, the trees' own score still orders candidates, so it breaks the tie.
    out["raw"] = raw
    out = out.sort_values(
        ["risk", "raw", "candidate_id"], ascending=[False, False, True], kind="stable"
    )
    out["rank"] = range(1, len(out) + 1)
    return out[COLUMNS].reset_index(drop=True)


def score_day(
    engine: Engine, model: DropoutClassifier, as_of: dt.date, top: int = 3
) -> pd.DataFrame:
    """Score everyone active at the end of ``as_of`` with what was known then."""
    inputs = day_inputs(engine, as_of)
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

"""What the review page and the model card show about a model: per-season quality, drift.

``evaluation_summary`` is logged with every training run (``evaluation.json``):
the held-out season's AUC and calibration, and the distribution of its scores,
against which this week's scores are compared (``population_stability``).
``served_quality`` measures the scores the service actually stored against the
outcomes that arrived since.
"""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sqlalchemy import Engine, select

from store.schema import Candidate, Outcome, Score
from training.evaluate import (
    expected_calibration_error,
    horizon_label,
    segment_calibration,
    top_tie_share,
)

if TYPE_CHECKING:
    from training.model import Calibration

SCORE_EDGES = np.linspace(0.0, 1.0, 21)


def calibration_table(y: np.ndarray, p: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Equal-count bins of predicted risk: mean predicted, observed renege rate, size."""
    order = np.argsort(p, kind="stable")
    rows = [
        {
            "predicted": float(p[chunk].mean()),
            "observed": float(y[chunk].mean()),
            "n": len(chunk),
        }
        for chunk in np.array_split(order, bins)
        if len(chunk)
    ]
    return pd.DataFrame(rows, columns=["predicted", "observed", "n"])


def _quality(y: np.ndarray, p: np.ndarray) -> dict[str, Any]:
    both = len(np.unique(y)) == 2
    return {
        "n": len(y),
        "positives": int(y.sum()),
        "auc": float(roc_auc_score(y, p)) if both else None,
        "ece": expected_calibration_error(y, p) if len(y) else None,
        "calibration": calibration_table(y, p).to_dict("records") if len(y) else [],
    }


def score_counts(p: np.ndarray) -> list[int]:
    counts, _ = np.histogram(np.clip(p, 0.0, 1.0), bins=SCORE_EDGES)
    return [int(c) for c in counts]


def evaluation_summary(
    test: pd.DataFrame, horizons: list[int], calibration: Calibration | None = None
) -> dict[str, Any]:
    """Per held-out season: quality; and the score distribution per horizon (days to start).

    ``test`` holds the test snapshots with ``label``, ``season``, ``days_to_start`` and
    ``risk_keepwarm``. Risk rises as the start date nears, so drift is judged against
    snapshots at the same horizons, not the season's whole mix (``drift``).
    With the segment features (``training.evaluate.SEGMENTS``) and ``candidate_id``,
    ``segments`` is the calibration per segment (``segment_calibration``); with the
    model's ``calibration``, ``calibrator`` says which was chosen, why, and the range
    of risks shown. ``top_tie_share`` is the largest share of a held-out day's top 5%
    showing one value (issue 16: at most a third).
    """
    seasons = []
    for season, part in test.groupby("season", sort=True):
        y = part["label"].to_numpy(dtype=int)
        p = part["risk_keepwarm"].to_numpy(dtype=float)
        seasons.append({"season": str(season), "kind": "held out", **_quality(y, p)})
    risk = test["risk_keepwarm"].to_numpy(dtype=float)
    horizon = horizon_label(test["days_to_start"], horizons).to_numpy()
    out: dict[str, Any] = {}
    needed = {"candidate_id", "competing_offer_signals", "far_from_home", "school_tier"}
    if needed <= set(test.columns):
        out["segments"] = segment_calibration(test, risk, horizons)
    if "as_of" in test.columns:
        out["top_tie_share"] = top_tie_share(risk, test["as_of"].astype(str).to_numpy())
    if calibration is not None:
        out["calibrator"] = {
            "kind": calibration.kind,
            "floor": calibration.floor,
            "cap": calibration.cap,
            "support": calibration.support,
        }
    return {
        **out,
        "seasons": seasons,
        "score_edges": SCORE_EDGES.tolist(),
        "score_counts": score_counts(risk),
        "horizons": list(horizons),
        "score_counts_by_horizon": {
            str(h): score_counts(risk[horizon == h]) for h in sorted(set(horizon))
        },
    }


def drift(
    evaluation: dict[str, Any], risk: np.ndarray, days_to_start: np.ndarray
) -> tuple[pd.DataFrame, float]:
    """This week's scores against the held-out season's, at this week's mix of horizons.

    Returns the share of each risk band in both (``band``, ``training``, ``this_week``)
    and their PSI; an empty frame and NaN when either side has no scores.
    """
    edges = evaluation.get("score_edges")
    by_horizon = evaluation.get("score_counts_by_horizon") or {}
    now = np.asarray(score_counts(risk), dtype=float)
    if not edges or not now.sum():
        return pd.DataFrame(columns=["band", "training", "this_week"]), math.nan
    expected = np.zeros_like(now)
    if by_horizon:
        labels = horizon_label(pd.Series(days_to_start), evaluation["horizons"]).to_numpy()
        for h, counts in by_horizon.items():
            base = np.asarray(counts, dtype=float)
            if base.sum():
                expected += (labels == h).mean() * base / base.sum()
    if not expected.sum():  # an older run, or horizons the held-out season never had
        expected = np.asarray(evaluation.get("score_counts") or np.zeros_like(now), dtype=float)
    if not expected.sum():
        return pd.DataFrame(columns=["band", "training", "this_week"]), math.nan
    table = pd.DataFrame(
        {
            "band": [f"{a:.0%}–{b:.0%}" for a, b in itertools.pairwise(edges)],
            "training": expected / expected.sum(),
            "this_week": now / now.sum(),
        }
    )
    return table, population_stability(list(expected), list(now))


def population_stability(expected: list[float], actual: list[float]) -> float:
    """PSI between two histograms on the same bins (under 0.1 stable, over 0.25 shifted)."""
    e = np.asarray(expected, dtype=float)
    a = np.asarray(actual, dtype=float)
    if e.sum() == 0 or a.sum() == 0:
        return math.nan
    e = np.clip(e / e.sum(), 1e-4, None)
    a = np.clip(a / a.sum(), 1e-4, None)
    return float(np.sum((a - e) * np.log(a / e)))


def served_quality(engine: Engine, model_version: str | None = None) -> list[dict[str, Any]]:
    """The stored daily scores of each season against the outcomes known now.

    This is what recruiters were shown, graded afterwards. Only seasons whose scored
    candidates all have an outcome count: mid-season the known outcomes are nearly all
    early reneges (joining happens at the start date), which would grade any model as
    badly calibrated.
    """
    query = (
        select(Score.as_of, Score.risk, Outcome.outcome, Candidate.season)
        .join(Outcome, Outcome.candidate_id == Score.candidate_id, isouter=True)
        .join(Candidate, Candidate.candidate_id == Score.candidate_id)
    )
    if model_version is not None:
        query = query.where(Score.model_version == model_version)
    with engine.connect() as conn:
        frame = pd.read_sql(query, conn)
    out = []
    for season, part in frame.groupby("season", sort=True):
        if part["outcome"].isna().any():
            continue  # in progress: graded when every scored candidate's outcome is in
        y = (part["outcome"] == "reneged").to_numpy(dtype=int)
        p = part["risk"].to_numpy(dtype=float)
        out.append(
            {"season": str(season), "kind": "served", "days": part["as_of"].nunique()}
            | _quality(y, p)
        )
    return out

"""Honest metrics: on a season the model never saw, per horizon, next to rules and oracle."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Mean |observed rate - predicted risk| over equal-count bins, weighted by bin size."""
    order = np.argsort(p)
    total = 0.0
    for chunk in np.array_split(order, bins):
        if len(chunk):
            total += len(chunk) * abs(float(y[chunk].mean()) - float(p[chunk].mean()))
    return total / max(len(y), 1)


def top_of_each_day(p: np.ndarray, days: np.ndarray, share: float) -> np.ndarray:
    """Whether each row is in the top ``share`` of its day's list (at least one a day)."""
    picked = np.zeros(len(p), dtype=bool)
    for day in np.unique(days):
        idx = np.flatnonzero(days == day)
        k = max(1, round(len(idx) * share))
        picked[idx[np.argsort(-p[idx], kind="stable")[:k]]] = True
    return picked


def top_tie_share(
    risk: np.ndarray, days: np.ndarray, share: float = 0.05, min_rows: int = 10
) -> float:
    """The largest share of a day's top ``share`` rows that show one and the same risk.

    ``risk`` is calibrated risk per row, ``days`` each row's day; the risk counts as
    shown (``training.predictor.shown_percent``: whole percentages, one value above
    90%), so rows a recruiter cannot tell apart count as tied. Days whose top share
    holds fewer than ``min_rows`` rows are skipped (two of three is no plateau).
    Returns 0.0 when no day has enough rows. Issue 16 asks for at most one third.
    """
    from training.predictor import shown_percent

    risk = np.asarray(risk, dtype=float)
    days = np.asarray(days)
    worst = 0.0
    for day in np.unique(days):
        idx = np.flatnonzero(days == day)
        k = max(1, round(len(idx) * share))
        if k < min_rows:
            continue
        top = idx[np.argsort(-risk[idx], kind="stable")[:k]]
        _, counts = np.unique(shown_percent(risk[top]), return_counts=True)
        most = int(counts.max())
        worst = max(worst, most / k if most > 1 else 0.0)
    return worst


def _top_share(y: np.ndarray, p: np.ndarray, days: np.ndarray, share: float) -> tuple[float, float]:
    """Precision and recall when HR acts on the top ``share`` of each day's list."""
    picked = top_of_each_day(p, days, share)
    hits = float((y[picked] == 1).sum())
    return hits / max(picked.sum(), 1), hits / max((y == 1).sum(), 1)


def metrics(
    y: np.ndarray, p: np.ndarray, days: np.ndarray, top_share: float, capacity_share: float
) -> dict[str, float]:
    y = np.asarray(y, dtype=int)
    p = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    if len(np.unique(y)) < 2:
        return {"n": float(len(y)), "positives": float(y.sum())}
    prec_top, rec_top = _top_share(y, p, days, top_share)
    prec_cap, rec_cap = _top_share(y, p, days, capacity_share)
    return {
        "n": float(len(y)),
        "positives": float(y.sum()),
        "auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
        "log_loss": float(log_loss(y, p)),
        "ece": expected_calibration_error(y, p),
        "precision_top": prec_top,
        "recall_top": rec_top,
        "precision_capacity": prec_cap,
        "recall_capacity": rec_cap,
    }


def horizon_label(days_to_start: pd.Series, edges: list[int]) -> pd.Series:
    bins = [-np.inf, *edges, np.inf]
    labels = [f"<={edges[0]}d"] + [f"{a + 1}-{b}d" for a, b in itertools.pairwise(edges)]
    labels.append(f">{edges[-1]}d")
    return pd.cut(days_to_start, bins=bins, labels=labels).astype(str)


def evaluate(
    test: pd.DataFrame,
    scores: dict[str, np.ndarray],
    top_share: float,
    capacity_share: float,
    horizons: list[int],
) -> pd.DataFrame:
    """One row per (scorer, slice): pooled, per season, per horizon."""
    rows = []
    slices: list[tuple[str, np.ndarray]] = [("all", np.ones(len(test), dtype=bool))]
    for season in sorted(test["season"].unique()):
        slices.append((f"season={season}", (test["season"] == season).to_numpy()))
    horizon = horizon_label(test["days_to_start"], horizons)
    for h in sorted(horizon.unique()):
        slices.append((f"horizon={h}", (horizon == h).to_numpy()))
    y, days = test["label"].to_numpy(), test["as_of"].astype(str).to_numpy()
    for name, p in scores.items():
        for label, mask in slices:
            rows.append(
                {
                    "scorer": name,
                    "slice": label,
                    **metrics(y[mask], p[mask], days[mask], top_share, capacity_share),
                }
            )
    return pd.DataFrame(rows)


def oracle_comparison(
    test: pd.DataFrame, truth: pd.DataFrame, model_p: np.ndarray, rules_p: np.ndarray
) -> dict[str, float | None]:
    """AUC of the simulator's p_true vs the model's on exactly the same (candidate, day) rows."""
    if truth.empty:
        return {"auc_oracle": None, "auc_model_on_truth": None, "share_of_oracle": None}
    keyed = test[["candidate_id", "as_of", "label"]].assign(
        model=model_p, rules=rules_p, as_of=pd.to_datetime(test["as_of"]).dt.date
    )
    t = truth.assign(as_of=pd.to_datetime(truth["as_of"]).dt.date)
    both = keyed.merge(t, on=["candidate_id", "as_of"])
    if both.empty or both["label"].nunique() < 2:
        return {"auc_oracle": None, "auc_model_on_truth": None, "share_of_oracle": None}
    oracle = float(roc_auc_score(both["label"], both["p_true"]))
    model = float(roc_auc_score(both["label"], both["model"]))
    return {
        "truth_rows": float(len(both)),
        "auc_oracle": oracle,
        "auc_model_on_truth": model,
        "auc_rules_on_truth": float(roc_auc_score(both["label"], both["rules"])),
        "share_of_oracle": model / oracle,
    }


class _SortedAuc:
    """ROC AUC of one score on fixed rows, recomputed cheaply under row weights.

    Sorted once; each weighting costs two ``bincount`` passes, so a bootstrap of
    hundreds of draws over 10^5-10^6 rows stays in seconds. Ties count one half,
    as in ``sklearn.metrics.roc_auc_score`` (which it equals with unit weights).
    """

    def __init__(self, y: np.ndarray, p: np.ndarray) -> None:
        values, self.tie = np.unique(np.asarray(p, dtype=float), return_inverse=True)
        self.groups = len(values)
        self.y = np.asarray(y, dtype=float)

    def __call__(self, w: np.ndarray) -> float:
        pos = np.bincount(self.tie, w * self.y, minlength=self.groups)
        neg = np.bincount(self.tie, w * (1 - self.y), minlength=self.groups)
        total_pos, total_neg = pos.sum(), neg.sum()
        if total_pos <= 0 or total_neg <= 0:
            return float("nan")
        below = np.cumsum(neg) - neg
        return float((pos * (below + 0.5 * neg)).sum() / (total_pos * total_neg))


def weighted_auc(y: np.ndarray, p: np.ndarray, w: np.ndarray | None = None) -> float:
    """ROC AUC of scores ``p`` for 0/1 labels ``y`` with row weights ``w`` (default 1).

    NaN when either class has no weight. Ties count one half.
    """
    y = np.asarray(y, dtype=float)
    return _SortedAuc(y, p)(np.ones(len(y)) if w is None else np.asarray(w, dtype=float))


def within_comparison(
    test: pd.DataFrame,
    horizons: list[int],
    boot: int = 200,
    seed: int = 0,
    days: int = 30,
) -> pd.DataFrame:
    """ "Reneges within ``days`` days": the time-to-renege output against the eventual risk.

    ``test``: held-out snapshots with candidate_id, days_to_start, ``label_30d``
    (reneged within ``days`` days of the row's day), ``risk_30d`` and ``risk_keepwarm``
    (the eventual risk, whose ranking a list without ``risk_30d`` would use).
    One row per slice (``all``, then each horizon of days to start, as
    ``horizon_label``): rows, candidates, positives, each scorer's AUC and the
    difference, with 95% percentile intervals from ``boot`` bootstrap draws of
    candidates (every snapshot of a drawn candidate, the same draws for both
    scorers: a paired interval). A slice without both classes has NaN AUCs.
    Source: candidate-clustered bootstrap (Field & Welsh 2007, "Bootstrapping
    clustered data"), as the fairness audit's intervals.
    """
    y = test["label_30d"].to_numpy(dtype=float)
    ids, cluster = np.unique(test["candidate_id"].astype(str).to_numpy(), return_inverse=True)
    rng = np.random.default_rng(seed)
    # Each draw as counts per candidate (boot x candidates); a slice's row weights are
    # made from them one draw at a time. Kept as row weights, the draws took boot x rows
    # floats: 5 GB for a season of 100,000 candidates (3.2M snapshots, 200 draws).
    counts = [
        np.bincount(rng.integers(0, len(ids), len(ids)), minlength=len(ids)) for _ in range(boot)
    ]
    horizon = horizon_label(test["days_to_start"], horizons).to_numpy()
    order = horizon_label(pd.Series([-1e9, *[h + 0.5 for h in horizons]]), horizons).tolist()
    slices = [("all", np.ones(len(test), dtype=bool))]
    slices += [(f"horizon={h}", horizon == h) for h in order if (horizon == h).any()]
    rows = []
    for name, mask in slices:
        soon = _SortedAuc(y[mask], test["risk_30d"].to_numpy()[mask])
        ever = _SortedAuc(y[mask], test["risk_keepwarm"].to_numpy()[mask])
        one = np.ones(int(mask.sum()))
        row: dict[str, object] = {
            "slice": name,
            "n": int(mask.sum()),
            "candidates": len(np.unique(cluster[mask])),
            "positives": int(y[mask].sum()),
            "auc_30d": soon(one),
            "auc_eventual": ever(one),
        }
        row["difference"] = float(row["auc_30d"]) - float(row["auc_eventual"])  # type: ignore[arg-type]
        of_row = cluster[mask]
        weights = (c[of_row].astype(float) for c in counts)
        draws = np.array([(soon(w), ever(w)) for w in weights]).reshape(-1, 2)
        draws = draws[~np.isnan(draws).any(axis=1)]
        for key, values in (
            ("auc_30d", draws[:, 0]),
            ("auc_eventual", draws[:, 1]),
            ("difference", draws[:, 0] - draws[:, 1]),
        ):
            lo, hi = np.percentile(values, [2.5, 97.5]) if len(values) else (np.nan, np.nan)
            row[f"{key}_low"], row[f"{key}_high"] = float(lo), float(hi)
        rows.append(row)
    return pd.DataFrame(rows)


SEGMENTS = ("competing_offer", "far_from_home", "school_tier", "horizon")


def segment_labels(test: pd.DataFrame, horizons: list[int]) -> dict[str, pd.Series]:
    """Each row's group in every segment of ``SEGMENTS`` (as known on the row's day).

    ``competing_offer``: the candidate told HR of another offer ("mentioned"), else a
    consented public signal of one ("signal"), else "no", so far; ``far_from_home``: home
    city differs from the work city ("yes"/"no"/"unknown"); ``school_tier``: "1".."3" or
    "unknown"; ``horizon``: days to the start date in the bands of ``horizon_label``.
    """
    mentioned = test["competing_offer_mentions"].fillna(0).to_numpy() > 0
    signalled = test["competing_offer_signals"].fillna(0).to_numpy() > 0
    competing = np.where(mentioned, "mentioned", np.where(signalled, "signal", "no"))
    far = test["far_from_home"].map({1.0: "yes", 0.0: "no"}).fillna("unknown")
    tier = test["school_tier"].map(lambda v: "unknown" if pd.isna(v) else f"{v:.0f}")
    return {
        "competing_offer": pd.Series(competing, index=test.index),
        "far_from_home": far.astype(str),
        "school_tier": tier.astype(str),
        "horizon": horizon_label(test["days_to_start"], horizons),
    }


def segment_calibration(
    test: pd.DataFrame, p: np.ndarray, horizons: list[int], off_by: float = 0.02
) -> list[dict[str, object]]:
    """Calibration per segment group on held-out rows: mean risk vs observed renege rate.

    ``test`` holds ``label``, ``candidate_id``, ``days_to_start`` and the segment
    features; ``p`` the risk per row. One dict per (segment, group): rows, candidates,
    ``predicted`` (mean risk), ``observed`` (renege rate), ``gap`` = observed - predicted
    with a 95% interval clustered by candidate (a candidate's snapshots are not
    independent), ``ece`` within the group, and ``off``: the interval excludes zero and
    the gap is at least ``off_by`` (2 points) either way.
    """
    p = np.asarray(p, dtype=float)
    y = test["label"].to_numpy(dtype=float)
    groups = test["candidate_id"].to_numpy()
    out: list[dict[str, object]] = []
    for segment, labels in segment_labels(test, horizons).items():
        values = labels.to_numpy()
        for group in sorted(set(values)):
            mask = values == group
            diff = y[mask] - p[mask]
            gap = float(diff.mean())
            half = 1.96 * clustered_se(diff, groups[mask])
            out.append(
                {
                    "segment": segment,
                    "group": str(group),
                    "rows": int(mask.sum()),
                    "candidates": len(set(groups[mask])),
                    "predicted": float(p[mask].mean()),
                    "observed": float(y[mask].mean()),
                    "gap": gap,
                    "gap_low": gap - half,
                    "gap_high": gap + half,
                    "ece": expected_calibration_error(y[mask], p[mask]),
                    "off": bool(abs(gap) >= off_by and (gap - half > 0 or gap + half < 0)),
                }
            )
    return out


def clustered_se(values: np.ndarray, groups: np.ndarray) -> float:
    """Standard error of ``values.mean()`` with rows clustered by ``groups``."""
    n = len(values)
    sums = pd.Series(values - values.mean()).groupby(groups).sum().to_numpy()
    m = len(sums)
    return float(np.sqrt(m / (m - 1) * np.sum(sums**2)) / n) if m > 1 else 0.0

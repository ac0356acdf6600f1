"""Champion/challenger comparison: paired, candidate-clustered intervals on a held-out season.

Two scorers are compared on the same labelled snapshots of a season neither was
fitted on. Snapshots of one candidate are correlated (a season's ~30 weekly rows
of one person are one outcome), so intervals resample candidates, not rows: each
bootstrap draw picks candidates with replacement and weights every snapshot by
how often its candidate was drawn, the same weights for both scorers (paired).
The percentile interval of the difference (challenger minus champion) is reported.
Method: the cluster (block) bootstrap of Davison & Hinkley, *Bootstrap Methods
and their Application* (1997), section 3.8, applied to paired differences.

The gate (``gate_decision``) promotes a challenger only when the interval of its
AUC gain clears ``min_auc_gain`` and, pooled and at every horizon (days to the
start date), neither its log loss nor its ECE is worse with 95% confidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from training.config import GateRules
from training.evaluate import horizon_label, top_of_each_day

METRICS = ("auc", "log_loss", "ece")
# Whether a larger value of the metric is better.
HIGHER_IS_BETTER = {"auc": True, "log_loss": False, "ece": False}


class _Slice:
    """One subset of the snapshots with what every weighted metric of it reuses."""

    def __init__(self, y: np.ndarray, p_new: np.ndarray, p_old: np.ndarray) -> None:
        self.y = y.astype(float)
        self.scores = []
        for p in (p_new, p_old):
            p = np.clip(p.astype(float), 1e-6, 1 - 1e-6)
            levels, inverse = np.unique(p, return_inverse=True)
            order = np.argsort(p, kind="stable")
            self.scores.append((p, inverse, len(levels), order))

    def values(self, w: np.ndarray, bins: int = 10) -> dict[str, tuple[float, float]]:
        """(challenger, champion) for each metric under row weights ``w``."""
        out: dict[str, list[float]] = {m: [] for m in METRICS}
        y = self.y
        pos, neg = w * y, w * (1 - y)
        total = float(w.sum())
        for p, inverse, levels, order in self.scores:
            # AUC with ties counted half (Mann-Whitney), on weighted counts per score level
            pos_at = np.bincount(inverse, pos, minlength=levels)
            neg_at = np.bincount(inverse, neg, minlength=levels)
            below = np.cumsum(neg_at) - neg_at
            denom = pos_at.sum() * neg_at.sum()
            auc = float((pos_at * (below + 0.5 * neg_at)).sum() / denom) if denom > 0 else np.nan
            loss = -float((pos * np.log(p) + neg * np.log(1 - p)).sum()) / total
            # ECE over equal-weight bins of predicted risk (evaluate.expected_calibration_error)
            cw = np.cumsum(w[order])
            which = np.minimum(((cw - w[order] / 2) / total * bins).astype(int), bins - 1)
            gap = np.bincount(which, (w * (y - p))[order], minlength=bins)
            out["auc"].append(auc)
            out["log_loss"].append(loss)
            out["ece"].append(float(np.abs(gap).sum() / total))
        return {m: (v[0], v[1]) for m, v in out.items()}


@dataclass
class Comparison:
    """Both scorers on the same snapshots: one row per (slice, metric)."""

    # slice, n, candidates, positives, metric, challenger, champion, diff, lo, hi
    table: pd.DataFrame
    level: float
    resamples: int

    def row(self, slice_: str, metric: str) -> pd.Series:
        hit = self.table[(self.table["slice"] == slice_) & (self.table["metric"] == metric)]
        if hit.empty:
            raise KeyError(f"no {metric} for slice {slice_}")
        return hit.iloc[0]

    def records(self) -> list[dict[str, Any]]:
        return [
            {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()}
            for r in self.table.to_dict("records")
        ]


def segments(test: pd.DataFrame, horizons: list[int]) -> dict[str, np.ndarray]:
    """Named boolean masks: all, each horizon, and the segments the review reads.

    Horizons are days to the start date (``evaluate.horizon_label``); segments are a
    competing-offer signal, far from home, and school tier, where the columns exist.
    """
    masks: dict[str, np.ndarray] = {"all": np.ones(len(test), dtype=bool)}
    if "days_to_start" in test:
        horizon = horizon_label(test["days_to_start"], horizons).to_numpy()
        nearest_first = horizon_label(pd.Series([-1e9, *horizons, 1e9]), horizons).unique()
        for h in nearest_first:
            if (horizon == h).any():
                masks[f"horizon={h}"] = horizon == h
    if "competing_offer_signals" in test:
        signal = test["competing_offer_signals"].fillna(0).to_numpy() > 0
        masks["competing_offer=yes"] = signal
        masks["competing_offer=no"] = ~signal
    if "far_from_home" in test:
        far = test["far_from_home"].fillna(0).to_numpy() > 0
        masks["far_from_home=yes"] = far
        masks["far_from_home=no"] = ~far
    if "school_tier" in test:
        tier = test["school_tier"].to_numpy()
        for t in sorted({float(v) for v in tier if not pd.isna(v)}):
            masks[f"school_tier={t:.0f}"] = tier == t
    return masks


def paired_comparison(
    test: pd.DataFrame,
    p_new: np.ndarray,
    p_old: np.ndarray,
    masks: dict[str, np.ndarray],
    resamples: int = 300,
    level: float = 0.95,
    seed: int = 7,
) -> Comparison:
    """AUC, log loss and ECE of both scorers per slice, with paired clustered intervals.

    ``test`` holds ``label`` and ``candidate_id`` (the cluster); ``p_new``/``p_old`` are
    risks in [0, 1] for its rows; ``masks`` names the slices. ``diff`` is challenger
    minus champion; ``lo``/``hi`` its percentile interval over ``resamples`` draws of
    candidates. A slice with one class only has NaN AUC.
    """
    y = test["label"].to_numpy(dtype=float)
    _, cluster = np.unique(test["candidate_id"].to_numpy(), return_inverse=True)
    n_clusters = int(cluster.max()) + 1 if len(cluster) else 0
    rng = np.random.default_rng(seed)
    slices = {
        name: (mask, _Slice(y[mask], np.asarray(p_new)[mask], np.asarray(p_old)[mask]))
        for name, mask in masks.items()
        if mask.any()
    }
    draws: dict[tuple[str, str], list[float]] = {(s, m): [] for s in slices for m in METRICS}
    for _ in range(resamples):
        counts = np.bincount(rng.integers(0, n_clusters, n_clusters), minlength=n_clusters)
        w = counts[cluster].astype(float)
        for name, (mask, sl) in slices.items():
            wm = w[mask]
            if wm.sum() == 0:
                continue
            for metric, (new, old) in sl.values(wm).items():
                draws[(name, metric)].append(new - old)
    alpha = (1 - level) / 2
    rows = []
    for name, (mask, sl) in slices.items():
        point = sl.values(np.ones(int(mask.sum())))
        for metric in METRICS:
            d = np.asarray(draws[(name, metric)], dtype=float)
            d = d[~np.isnan(d)]
            new, old = point[metric]
            lo, hi = np.quantile(d, [alpha, 1 - alpha]) if len(d) else (np.nan, np.nan)
            rows.append(
                {
                    "slice": name,
                    "n": int(mask.sum()),
                    "candidates": len(np.unique(cluster[mask])),
                    "positives": int(y[mask].sum()),
                    "metric": metric,
                    "challenger": new,
                    "champion": old,
                    "diff": new - old,
                    "lo": float(lo),
                    "hi": float(hi),
                }
            )
    return Comparison(pd.DataFrame(rows), level, resamples)


def by_day(test: pd.DataFrame, p_new: np.ndarray, p_old: np.ndarray, share: float) -> pd.DataFrame:
    """Per snapshot day: rows, reneges, both AUCs and how much the top ``share`` lists overlap.

    The overlap is the share of the champion's top-``share`` list (HR's daily capacity)
    that the challenger's list also holds.
    """
    from sklearn.metrics import roc_auc_score

    days = test["as_of"].astype(str).to_numpy()
    y = test["label"].to_numpy(dtype=int)
    top_new = top_of_each_day(np.asarray(p_new), days, share)
    top_old = top_of_each_day(np.asarray(p_old), days, share)
    rows = []
    for day in sorted(set(days)):
        m = days == day
        both = len(set(y[m])) == 2
        rows.append(
            {
                "day": day,
                "n": int(m.sum()),
                "positives": int(y[m].sum()),
                "auc_challenger": float(roc_auc_score(y[m], p_new[m])) if both else np.nan,
                "auc_champion": float(roc_auc_score(y[m], p_old[m])) if both else np.nan,
                "top_overlap": float((top_new[m] & top_old[m]).sum() / max(top_old[m].sum(), 1)),
            }
        )
    return pd.DataFrame(rows)


@dataclass
class GateDecision:
    promoted: bool
    reason: str
    comparison: Comparison | None = None
    standing: Comparison | None = None  # the challenger against the simple standing model
    figures: dict[str, float] = field(default_factory=dict)


def _fmt(row: pd.Series, digits: int = 4) -> str:
    return f"{row['diff']:+.{digits}f} (95% {row['lo']:+.{digits}f} to {row['hi']:+.{digits}f})"


def gate_decision(
    test: pd.DataFrame,
    p_new: np.ndarray,
    p_old: np.ndarray,
    horizons: list[int],
    rules: GateRules,
    champion_name: str,
    p_standing: np.ndarray | None = None,
    standing_name: str = "the logistic regression",
) -> GateDecision:
    """Whether the challenger (``p_new``) replaces the champion (``p_old``), and why.

    Both risks score the same held-out snapshots (``test``: label, candidate_id,
    days_to_start). Promoted only if the AUC gain's interval lies above
    ``rules.min_auc_gain``, no slice (pooled, each horizon) has a log loss or ECE
    worse by more than its tolerance with ``rules.level`` confidence, and the simple
    standing model (``p_standing``) is not significantly better than the challenger.
    """
    masks = {k: v for k, v in segments(test, horizons).items() if k == "all" or "horizon" in k}
    cmp = paired_comparison(test, p_new, p_old, masks, rules.resamples, rules.level, rules.seed)
    auc = cmp.row("all", "auc")
    figures = {
        "auc_challenger": float(auc["challenger"]),
        "auc_champion": float(auc["champion"]),
        "auc_diff": float(auc["diff"]),
        "auc_diff_lo": float(auc["lo"]),
        "auc_diff_hi": float(auc["hi"]),
    }
    problems: list[str] = []
    gain = auc["lo"] > rules.min_auc_gain
    if not gain:
        floor = "zero" if rules.min_auc_gain == 0 else f"the minimum gain {rules.min_auc_gain}"
        problems.append(f"the AUC gain {_fmt(auc)} does not clear {floor} (within noise)")
    tolerance = {"log_loss": rules.max_log_loss_regression, "ece": rules.max_ece_regression}
    for row in cmp.table[cmp.table["metric"].isin(tolerance)].itertuples(index=False):
        if row.lo > tolerance[row.metric]:  # worse (higher) with 95% confidence
            problems.append(
                f"{row.metric} worse at {row.slice}: {row.diff:+.4f} "
                f"(95% {row.lo:+.4f} to {row.hi:+.4f})"
            )
    standing = None
    if p_standing is not None:
        standing, more = standing_comparison(test, p_new, p_standing, rules)
        figures.update(more)
        s = standing.row("all", "auc")
        if s["hi"] < 0:
            problems.append(f"{standing_name} beats it: AUC {_fmt(s)}")
    head = f"AUC {auc['challenger']:.4f} vs {champion_name} {auc['champion']:.4f}, gain {_fmt(auc)}"
    if problems:
        return GateDecision(
            False, f"{head}; kept the champion: " + "; ".join(problems), cmp, standing, figures
        )
    return GateDecision(True, f"{head}; promoted", cmp, standing, figures)


def standing_comparison(
    test: pd.DataFrame, p_new: np.ndarray, p_standing: np.ndarray, rules: GateRules
) -> tuple[Comparison, dict[str, float]]:
    """The challenger against the simple standing model on the same snapshots (pooled)."""
    every = {"all": np.ones(len(test), dtype=bool)}
    cmp = paired_comparison(
        test, p_new, p_standing, every, rules.resamples, rules.level, rules.seed
    )
    s = cmp.row("all", "auc")
    return cmp, {
        "standing_auc": float(s["champion"]),
        "standing_auc_diff": float(s["diff"]),
        "standing_auc_diff_lo": float(s["lo"]),
        "standing_auc_diff_hi": float(s["hi"]),
    }


def standing_note(decision: GateDecision, standing_name: str) -> str:
    """One sentence on the standing simple model beside the challenger."""
    if decision.standing is None:
        return ""
    s = decision.standing.row("all", "auc")
    verdict = (
        "significantly better"
        if s["lo"] > 0
        else "significantly worse"
        if s["hi"] < 0
        else "not significantly different"
    )
    return f"LightGBM vs {standing_name}: AUC {_fmt(s)}, {verdict}"

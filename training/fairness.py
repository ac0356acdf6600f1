"""The bias audit: who the model selects for priority outreach, by group, on a finished season.

Groups come from fields kept for auditing (gender, school tier, home region).
Gender is never a model input; the model does see school tier, and whether home
and work city differ (housing), so those groups can differ for reasons the audit
must show: its observed renege rate per group sits beside the selection rate.
A snapshot is *selected* when it is in the top ``share`` of its day's list, the
same rule as the capacity metrics. Per group:
selection rate, its ratio to the best-treated group (the four-fifths rule), recall
and false-positive rate of dropouts, and calibration (mean risk vs observed rate),
each with a bootstrap interval over candidates. Metrics come from fairlearn.
"""

from __future__ import annotations

import math
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame, false_positive_rate, selection_rate, true_positive_rate
from sqlalchemy import Engine, select

from features.places import place_city
from store.schema import Candidate
from training.evaluate import top_of_each_day

GROUPINGS = ("gender", "school_tier", "home_region")
FOUR_FIFTHS = 0.8

# China's seven geographic regions, for the cities candidates come from; others are "other".
REGIONS = {
    "华东": "上海 南京 苏州 杭州 宁波 合肥 南昌 福州 厦门 济南 青岛 无锡 温州",
    "华北": "北京 天津 石家庄 太原 呼和浩特",
    "华南": "深圳 广州 东莞 佛山 南宁 海口",
    "华中": "武汉 长沙 郑州",
    "西南": "成都 重庆 昆明 贵阳 拉萨",
    "西北": "西安 兰州 西宁 银川 乌鲁木齐",
    "东北": "哈尔滨 长春 沈阳 大连",
}


@cache
def _region_of() -> dict[str, str]:
    """Prefecture (as the gazetteer names it) -> region."""
    return {_placed(city): region for region, cities in REGIONS.items() for city in cities.split()}


def _placed(city: str) -> str:
    found = place_city(city)
    if found is None or found.prefecture is None:
        raise ValueError(f"REGIONS names {city!r}, which the gazetteer does not place as a city")
    return found.prefecture


def home_region(city: object) -> str:
    """The region of a home city however it is written (上海, 上海市, Shanghai); else "other"."""
    if not isinstance(city, str) or not city.strip():
        return "unknown"
    found = place_city(city)
    return _region_of().get(found.prefecture or "", "other") if found is not None else "other"


def audit_fields(engine: Engine, candidate_ids: list[str]) -> pd.DataFrame:
    """The audit-only fields of these candidates, by candidate_id."""
    with engine.connect() as conn:
        rows = pd.read_sql(
            select(
                Candidate.candidate_id,
                Candidate.gender,
                Candidate.school_tier,
                Candidate.home_city,
            ),
            conn,
        )
    rows = rows[rows["candidate_id"].isin(candidate_ids)]
    return pd.DataFrame(
        {
            "candidate_id": rows["candidate_id"],
            "gender": rows["gender"].fillna("unknown").astype(str),
            "school_tier": rows["school_tier"].map(
                lambda t: "unknown" if pd.isna(t) else f"tier {int(t)}"
            ),
            "home_region": rows["home_city"].map(home_region),
        }
    ).set_index("candidate_id")


def _group_metrics(frame: pd.DataFrame, by: str) -> pd.DataFrame:
    y, picked = frame["label"].to_numpy(dtype=int), frame["selected"].to_numpy(dtype=int)
    rates = MetricFrame(
        metrics={
            "selection_rate": selection_rate,
            "recall": true_positive_rate,
            "fpr": false_positive_rate,
        },
        y_true=y,
        y_pred=picked,
        sensitive_features=frame[by].to_numpy(),
    ).by_group
    calib = frame.groupby(by)[["risk", "label"]].mean()
    out = rates.join(calib.rename(columns={"risk": "mean_risk", "label": "observed_rate"}))
    out["n"] = frame.groupby(by).size()
    return out


_SUMS = ("rows", "selected", "positives", "true_pos", "false_pos", "negatives", "risk")


def _candidate_sums(frame: pd.DataFrame) -> pd.DataFrame:
    """Per candidate, the counts every group metric is a ratio of (for the bootstrap)."""
    y = frame["label"].astype(bool)
    picked = frame["selected"].astype(bool)
    parts = pd.DataFrame(
        {
            "candidate_id": frame["candidate_id"],
            "rows": 1,
            "selected": picked,
            "positives": y,
            "true_pos": picked & y,
            "false_pos": picked & ~y,
            "negatives": ~y,
            "risk": frame["risk"],
        }
    )
    return parts.groupby("candidate_id").sum().astype(float)


def _ratios(sums: np.ndarray) -> dict[str, np.ndarray]:
    """Group metrics from summed counts (last axis in ``_SUMS`` order)."""
    rows, sel, pos, tp, fp, neg, risk = (sums[..., k] for k in range(len(_SUMS)))
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "selection_rate": sel / rows,
            "recall": tp / pos,
            "fpr": fp / neg,
            "mean_risk": risk / rows,
            "observed_rate": pos / rows,
        }


def fairness_report(frame: pd.DataFrame, boot: int = 200, seed: int = 0) -> dict[str, Any]:
    """Per grouping: each group's metrics with 95% bootstrap intervals, and the lowest
    impact ratio. ``frame``: candidate_id, as_of, label, risk, selected, and GROUPINGS.

    Point estimates come from fairlearn's ``MetricFrame``. The bootstrap resamples
    candidates (a person's snapshots together: their days are not independent); each
    resample is a vector of counts per candidate, so every metric is a weighted ratio.
    """
    rng = np.random.default_rng(seed)
    sums = _candidate_sums(frame)
    n = len(sums)
    weights = rng.multinomial(n, np.full(n, 1.0 / n), size=boot) if n else np.zeros((boot, 0))
    report: dict[str, Any] = {}
    for by in GROUPINGS:
        point = _group_metrics(frame, by)
        group_of = frame.groupby("candidate_id")[by].first().reindex(sums.index)
        groups = {}
        best = point["selection_rate"].max()
        for name, row in point.iterrows():
            members = (group_of == name).to_numpy()
            resampled = _ratios(weights[:, members] @ sums.to_numpy()[members])
            entry: dict[str, Any] = {"n": int(row["n"])}
            for metric in ("selection_rate", "recall", "fpr", "mean_risk", "observed_rate"):
                values = resampled[metric][~np.isnan(resampled[metric])]
                entry[metric] = _round(row[metric])
                entry[f"{metric}_ci95"] = (
                    [_round(np.percentile(values, 2.5)), _round(np.percentile(values, 97.5))]
                    if len(values)
                    else [None, None]
                )
            entry["impact_ratio"] = _round(row["selection_rate"] / best) if best else None
            groups[str(name)] = entry
        ratios = [g["impact_ratio"] for g in groups.values() if g["impact_ratio"] is not None]
        low = min(ratios) if ratios else None
        report[by] = {
            "groups": groups,
            "min_impact_ratio": low,
            "flagged": low is not None and low < FOUR_FIFTHS,
        }
    return report


def _round(value: Any) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return round(float(value), 4)


def audit_scores(
    engine: Engine, scores: pd.DataFrame, share: float, boot: int = 200
) -> dict[str, Any]:
    """The audit of scored, labelled snapshots (candidate_id, as_of, label, risk)."""
    frame = pd.DataFrame(
        {
            "candidate_id": scores["candidate_id"].to_numpy(),
            "as_of": scores["as_of"].astype(str).to_numpy(),
            "label": scores["label"].to_numpy(dtype=int),
            "risk": scores["risk"].to_numpy(dtype=float),
        }
    )
    frame["selected"] = top_of_each_day(frame["risk"].to_numpy(), frame["as_of"].to_numpy(), share)
    fields = audit_fields(engine, frame["candidate_id"].unique().tolist())
    return fairness_report(frame.join(fields, on="candidate_id"), boot)


def audit_season(
    engine: Engine, model: Any, season: str, share: float, boot: int = 200
) -> dict[str, Any]:
    """The audit of ``model`` on a finished season's labelled snapshots (as in training)."""
    from training.config import load_config
    from training.train import load_season_data, season_snapshots

    snaps = season_snapshots(load_season_data(engine), [season], load_config())
    risk = model.predict_proba(snaps[model.features_])[:, 1]
    return audit_scores(engine, snaps.assign(risk=risk), share, boot)


def flagged(report: dict[str, Any]) -> list[str]:
    """The groupings whose lowest impact ratio is under four-fifths, in words."""
    return [
        f"{by} impact ratio {part['min_impact_ratio']:.2f} < {FOUR_FIFTHS}"
        for by, part in report.items()
        if part.get("flagged")
    ]

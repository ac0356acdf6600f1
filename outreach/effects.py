"""Each outreach action's effect on renege risk, learned from the store's own logs.

The plan's ``PlanConfig.effects`` are assumptions; this module measures them.
A unit is a candidate-day on which an action was possible (the candidate was
still deciding or waiting to start and met the action's condition, read from
the features as of the day before); the treatment is whether the logged events
show the action that day; the outcome is whether the candidate reneged.

Actions and their conditions (``ACTION_UNITS``):

- ``call``: a candidate still in play with at least two HR messages since their
  last reply (or none ever) and no reply for over three days: the calls HR
  makes when worried. Treated: ``call_made`` that day.
- ``answer_question``: a candidate with an open question (asked, not yet
  answered by an HR message). Treated: an HR message on a topic that day.
- ``send_content``: a day HR sent a message without a topic to a candidate who
  had asked about something. Treated: the content was on a topic the
  candidate asked about; control: a template (company news, guides).
- ``escalate_approval``: the event contract has no "approval chased" event,
  so it always falls back to the assumed default.

Method: augmented inverse-propensity weighting (AIPW, the doubly robust
estimator of Robins, Rotnitzky and Zhao 1994; Kennedy 2023, "Towards optimal
doubly robust estimation of heterogeneous causal effects") with a T-learner
outcome model and a propensity model (LightGBM both), cross-fitted on two
folds split by candidate. The interval is a percentile bootstrap that resamples
candidates (all of one candidate's days together, since they share one
outcome) over the fitted influence values. Support is counted in candidates.
An action or segment with fewer than ``min_treated`` treated candidates, or
an interval wider than ``max_width``, keeps the assumed default and says so.

The effect is reported both as an absolute cut in renege probability (points)
and, like ``PlanConfig.effects``, as a relative cut (the absolute cut over the
untreated renege rate of the same units).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd
from pydantic import BaseModel, Field
from sqlalchemy import Engine, delete, func, insert, select

from features.build import build_features
from features.catalogue import FEATURE_NAMES
from features.source import load_candidates, load_content, load_events, load_outcomes
from store.schema import ActionEffect, OutreachAction, ShadowAction

ACTION_UNITS = ("call", "answer_question", "send_content")
EFFECT_COLUMNS = [
    "action",
    "segment",
    "effect",
    "effect_low",
    "effect_high",
    "abs_effect",
    "abs_low",
    "abs_high",
    "assumed",
    "source",
    "units",
    "candidates",
    "treated_candidates",
    "treated_units",
]


class EffectsConfig(BaseModel):
    min_treated: int = Field(default=30, ge=1, description="Treated candidates to learn from")
    max_width: float = Field(
        default=0.5, gt=0, description="Widest relative-cut interval still used by the plan"
    )
    bootstrap: int = Field(default=300, ge=50)
    level: float = Field(default=0.95, gt=0, lt=1)
    propensity_floor: float = Field(default=0.01, gt=0, lt=0.5)
    max_controls_per_treated: int = Field(
        default=20, ge=1, description="Untreated days sampled per treated one (reweighted)"
    )
    seed: int = 0
    segments: tuple[str, ...] = ("stage",)


@dataclass
class Units:
    """One row per candidate-day unit: candidate_id, day, action, treated, reneged, weight."""

    frame: pd.DataFrame
    features: pd.DataFrame


def _outcome_days(outcomes: pd.DataFrame) -> pd.DataFrame:
    out = outcomes[["candidate_id", "outcome", "outcome_date"]].copy()
    out["outcome_date"] = pd.to_datetime(out["outcome_date"]).dt.date
    out["reneged"] = (out["outcome"] == "reneged").astype(int)
    return out.drop_duplicates("candidate_id", keep="last")


def _active_days(events: pd.DataFrame, outcomes: pd.DataFrame) -> pd.DataFrame:
    """Every (candidate, day) from the offer request to the day before the outcome."""
    req = events[events["type"] == "offer_approval_requested"]
    first = req.groupby("candidate_id")["local_day"].min()
    out = _outcome_days(outcomes).set_index("candidate_id")
    out = out[out.index.isin(first.index)]
    starts = pd.to_datetime(first.reindex(out.index)).to_numpy()
    ends = pd.to_datetime(out["outcome_date"]).to_numpy()
    lengths = np.maximum((ends - starts) // np.timedelta64(1, "D"), 0).astype(int)
    cid = np.repeat(out.index.to_numpy(), lengths)
    offset = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    day = np.repeat(starts, lengths) + offset.astype("timedelta64[D]")
    return pd.DataFrame(
        {
            "candidate_id": cid,
            "day": pd.to_datetime(day).date,
            "reneged": np.repeat(out["reneged"].to_numpy(), lengths),
        }
    )


def _content_topics(content: pd.DataFrame) -> dict[str, set[str]]:
    return {
        str(c): {t for t in str(tops or "").split(";") if t}
        for c, tops in zip(content["content_id"], content["topics"], strict=True)
    }


def _asked_before(events: pd.DataFrame) -> pd.DataFrame:
    """(candidate_id, topic, first day asked)."""
    asked = events[
        events["type"].isin(["candidate_question", "info_session_question"])
        & events["topic"].notna()
        & (events["topic"] != "")
    ]
    return asked.groupby(["candidate_id", "topic"])["local_day"].min().reset_index()


def _treatments(events: pd.DataFrame, content: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per action: (candidate_id, day, treated) for days the action's data shows."""
    calls = events[events["type"] == "call_made"][["candidate_id", "local_day"]]
    hr = events[(events["type"] == "message_sent") & (events["actor"] == "hr")]
    has_topic = hr["topic"].notna() & (hr["topic"] != "")
    answers = hr[has_topic][["candidate_id", "local_day"]]
    plain = hr[~has_topic]
    topics = _content_topics(content)
    asked = _asked_before(events)
    first_asked = asked.groupby("candidate_id")["local_day"].min()
    first = pd.to_datetime(plain["candidate_id"].map(first_asked))
    plain = plain[(first < pd.to_datetime(plain["local_day"])).to_numpy()]
    asked_sets = asked.groupby("candidate_id")[["topic", "local_day"]].apply(
        lambda g: list(zip(g["topic"], g["local_day"], strict=True))
    )
    on_topic = [
        any(t in topics.get(str(item), set()) and when < day for t, when in asked_sets.get(cid, []))
        for cid, day, item in zip(
            plain["candidate_id"], plain["local_day"], plain["content_id"], strict=True
        )
    ]
    content_days = plain[["candidate_id", "local_day"]].assign(treated=np.array(on_topic, int))
    content_days = content_days.groupby(["candidate_id", "local_day"], as_index=False)[
        "treated"
    ].max()
    return {
        "call": calls.drop_duplicates().assign(treated=1),
        "answer_question": answers.drop_duplicates().assign(treated=1),
        "send_content": content_days,
    }


def _covariate_matrix(feats: pd.DataFrame, owners: pd.Series) -> pd.DataFrame:
    numeric = [n for n in FEATURE_NAMES if n != "role_family" and n in feats.columns]
    x = feats[numeric].astype(float).reset_index(drop=True)
    x["role_family"] = feats["role_family"].astype("category").cat.codes.to_numpy()
    x["hr_owner"] = owners.astype("category").cat.codes.to_numpy()
    return x


def build_units(
    events: pd.DataFrame,
    candidates: pd.DataFrame,
    outcomes: pd.DataFrame,
    content: pd.DataFrame,
    cfg: EffectsConfig,
) -> Units:
    """The candidate-day units of every action, with covariates as of the day before.

    ``events``: the store's events (``local_day`` a date, with content_id and actor);
    ``outcomes``: candidate_id, outcome, outcome_date. Candidates with no outcome yet
    are left out (their outcome is unknown). Untreated ``call`` and
    ``answer_question`` days are sampled down to ``max_controls_per_treated`` per
    treated day and carry the inverse sampling rate as ``weight``.
    """
    days = _active_days(events, outcomes)
    empty = pd.DataFrame(
        columns=["candidate_id", "day", "action", "treated", "reneged", "weight", "stage"]
    )
    if days.empty:
        return Units(empty, pd.DataFrame())
    prev = pd.to_datetime(days["day"]) - pd.Timedelta(days=1)
    spine = pd.DataFrame({"candidate_id": days["candidate_id"], "as_of": prev.dt.date})
    feats = build_features(events, candidates, spine, content)
    open_q = feats["open_questions"].fillna(0).to_numpy() > 0
    silent = (feats["days_since_reply"].fillna(999).to_numpy() > 3) & (
        feats["unreplied_hr_messages"].fillna(0).to_numpy() >= 2
    )
    eligible = {"call": silent, "answer_question": open_q}
    treats = _treatments(events, content)
    rng = np.random.default_rng(cfg.seed)
    parts, rows = [], []
    key = pd.MultiIndex.from_arrays([days["candidate_id"], days["day"]])
    for action in ACTION_UNITS:
        t = treats[action].set_index(["candidate_id", "local_day"])["treated"]
        treated = t.reindex(key).to_numpy()
        if action == "send_content":
            mask = ~np.isnan(treated)
            weight = np.ones(int(mask.sum()))
        else:
            mask = eligible[action].copy()
            treated = np.nan_to_num(treated)
            n_treated = int(treated[mask].sum())
            controls = np.flatnonzero(mask & (treated == 0))
            keep_n = min(controls.size, max(n_treated, 1) * cfg.max_controls_per_treated)
            rate = keep_n / max(controls.size, 1)
            dropped = rng.choice(controls, controls.size - keep_n, replace=False)
            mask[dropped] = False
            weight = np.where(treated[mask] == 1, 1.0, 1.0 / max(rate, 1e-9))
        idx = np.flatnonzero(mask)
        rows.append(idx)
        f = feats.iloc[idx]
        stage = np.where(
            f["offer_accepted"].fillna(0).to_numpy() > 0,
            "accepted",
            np.where(f["offer_sent"].fillna(0).to_numpy() > 0, "offer", "approval"),
        )
        parts.append(
            pd.DataFrame(
                {
                    "candidate_id": days["candidate_id"].to_numpy()[idx],
                    "day": days["day"].to_numpy()[idx],
                    "action": action,
                    "treated": np.nan_to_num(treated[mask]).astype(int),
                    "reneged": days["reneged"].to_numpy()[idx],
                    "weight": weight,
                    "stage": stage,
                }
            )
        )
    order = np.concatenate(rows)
    owners = candidates.set_index("candidate_id")["hr_owner"]
    unit_feats = feats.iloc[order].reset_index(drop=True)
    frame = pd.concat(parts, ignore_index=True)
    x = _covariate_matrix(unit_feats, frame["candidate_id"].map(owners))
    return Units(frame, x)


def _fold(candidate_ids: pd.Series) -> np.ndarray:
    return np.array(
        [hashlib.sha256(str(c).encode()).digest()[0] % 2 for c in candidate_ids], dtype=int
    )


def _model(seed: int) -> lgb.LGBMClassifier:
    return lgb.LGBMClassifier(
        n_estimators=120,
        learning_rate=0.05,
        num_leaves=15,
        min_child_samples=40,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.8,
        random_state=seed,
        n_jobs=1,
        verbose=-1,
    )


def _fit_predict(
    x: pd.DataFrame, y: np.ndarray, w: np.ndarray, train: np.ndarray, seed: int
) -> np.ndarray:
    """P(y=1) on the rows not in ``train``, from a model fitted on ``train``."""
    test = ~train
    if y[train].min() == y[train].max():  # one class only: its rate is the prediction
        return np.full(int(test.sum()), float(y[train][0]))
    model = _model(seed).fit(x[train], y[train], sample_weight=w[train])
    return np.asarray(model.predict_proba(x[test]))[:, 1]


def influence_values(units: pd.DataFrame, x: pd.DataFrame, cfg: EffectsConfig) -> np.ndarray:
    """AIPW influence value per unit: its contribution to E[Y(1) - Y(0)] (renege, 0..1).

    Cross-fitted: each unit's nuisance models were fitted on the other candidates.
    A positive value means the action raised renege risk.
    """
    t = units["treated"].to_numpy()
    y = units["reneged"].to_numpy().astype(int)
    w = units["weight"].to_numpy()
    fold = _fold(units["candidate_id"])
    psi = np.zeros(len(units))
    for k in (0, 1):
        train, test = fold != k, fold == k
        if not test.any():
            continue
        e = _fit_predict(x, t, w, train, cfg.seed)
        e = np.clip(e, cfg.propensity_floor, 1 - cfg.propensity_floor)
        mu = {}
        for arm in (0, 1):
            arm_train = train & (t == arm)
            if not arm_train.any():
                mu[arm] = np.full(int(test.sum()), y[train].mean())
                continue
            fit_rows = arm_train | test  # rows for prediction are the test ones
            sub = np.flatnonzero(fit_rows)
            pred = _fit_predict(x.iloc[sub], y[sub], w[sub], arm_train[sub], cfg.seed)
            mu[arm] = pred
        tt, yy = t[test], y[test]
        psi[test] = mu[1] - mu[0] + tt * (yy - mu[1]) / e - (1 - tt) * (yy - mu[0]) / (1 - e)
    return psi


def _clustered(
    psi: np.ndarray,
    w: np.ndarray,
    y0: np.ndarray,
    w0: np.ndarray,
    cids: np.ndarray,
    cfg: EffectsConfig,
) -> tuple[float, float, float, float, float, float]:
    """(abs, low, high, rel, low, high) with a bootstrap over candidates."""
    codes, _ = pd.factorize(cids)
    n = codes.max() + 1
    sums = np.bincount(codes, weights=psi * w, minlength=n)
    weights = np.bincount(codes, weights=w, minlength=n)
    base_sums = np.bincount(codes, weights=y0 * w0, minlength=n)
    base_w = np.bincount(codes, weights=w0, minlength=n)
    rng = np.random.default_rng(cfg.seed)
    draws = rng.integers(0, n, (cfg.bootstrap, n))
    counts = np.apply_along_axis(np.bincount, 1, draws, minlength=n)
    abs_b = (counts @ sums) / np.maximum(counts @ weights, 1e-12)
    base_b = (counts @ base_sums) / np.maximum(counts @ base_w, 1e-12)
    rel_b = abs_b / np.maximum(base_b, 1e-6)
    a = (1 - cfg.level) / 2
    est = sums.sum() / weights.sum()
    base = base_sums.sum() / max(base_w.sum(), 1e-12)
    rel = est / max(base, 1e-6)
    lo, hi = np.quantile(abs_b, [a, 1 - a])
    rlo, rhi = np.quantile(rel_b, [a, 1 - a])
    # a cut in risk is the negative of the change in renege probability
    return -est, -hi, -lo, -rel, -rhi, -rlo


def estimate_effects(
    events: pd.DataFrame,
    candidates: pd.DataFrame,
    outcomes: pd.DataFrame,
    content: pd.DataFrame,
    defaults: dict[str, float],
    cfg: EffectsConfig | None = None,
) -> pd.DataFrame:
    """Learned effects per action (segment ``all``) and per stage, with defaults where thin.

    Returns ``EFFECT_COLUMNS``: ``effect`` is a relative cut in renege risk (0.25 =
    a quarter fewer reneges; the unit of ``PlanConfig.effects``), ``abs_effect`` the
    cut in renege probability; ``*_low``/``*_high`` the bootstrap interval;
    ``assumed`` True where the default was kept, with ``source`` saying why.
    ``candidates``/``treated_candidates`` count candidates, ``units`` candidate-days.
    """
    cfg = cfg or EffectsConfig()
    return effects_from_units(
        build_units(events, candidates, outcomes, content, cfg), defaults, cfg
    )


def effects_from_units(
    units: Units, defaults: dict[str, float], cfg: EffectsConfig
) -> pd.DataFrame:
    """``estimate_effects`` on units already built (``build_units``)."""
    u, x = units.frame, units.features
    rows = []
    for action in sorted(set(defaults) | set(ACTION_UNITS)):
        default = float(defaults.get(action, 0.0))
        if action == "leave_alone":
            continue
        sel = (u["action"] == action).to_numpy()
        if action not in ACTION_UNITS or not sel.any():
            rows.append(_assumed(action, "all", default, "no data for this action", sel, u))
            continue
        sub, xs = u[sel].reset_index(drop=True), x[sel].reset_index(drop=True)
        psi = influence_values(sub, xs, cfg)
        segs: list[tuple[str, np.ndarray]] = [("all", np.ones(len(sub), bool))]
        if "stage" in cfg.segments:
            segs += [(f"stage:{s}", (sub["stage"] == s).to_numpy()) for s in ("offer", "accepted")]
        for name, m in segs:
            part = sub[m]
            treated_c = part.loc[part["treated"] == 1, "candidate_id"].nunique()
            if treated_c < cfg.min_treated or (part["treated"] == 0).sum() == 0:
                rows.append(
                    _assumed(action, name, default, f"{treated_c} treated candidates", m, sub)
                )
                continue
            est = _clustered_split(psi[m], part, cfg)
            absolute, alo, ahi, rel, rlo, rhi = est
            wide = rhi - rlo > cfg.max_width
            rows.append(
                {
                    "action": action,
                    "segment": name,
                    "effect": default if wide else round(rel, 4),
                    "effect_low": round(rlo, 4),
                    "effect_high": round(rhi, 4),
                    "abs_effect": round(absolute, 5),
                    "abs_low": round(alo, 5),
                    "abs_high": round(ahi, 5),
                    "assumed": bool(wide),
                    "source": "interval too wide: assumed default" if wide else "learned (AIPW)",
                    "units": len(part),
                    "candidates": int(part["candidate_id"].nunique()),
                    "treated_candidates": int(treated_c),
                    "treated_units": int(part["treated"].sum()),
                }
            )
    return pd.DataFrame(rows, columns=EFFECT_COLUMNS)


def _clustered_split(
    psi: np.ndarray, part: pd.DataFrame, cfg: EffectsConfig
) -> tuple[float, float, float, float, float, float]:
    w = part["weight"].to_numpy()
    y = part["reneged"].to_numpy().astype(float)
    control = (part["treated"] == 0).to_numpy()
    return _clustered(
        psi,
        w,
        np.where(control, y, 0.0),
        np.where(control, w, 0.0),
        part["candidate_id"].to_numpy(),
        cfg,
    )


def _assumed(
    action: str, segment: str, default: float, why: str, sel: np.ndarray, u: pd.DataFrame
) -> dict[str, object]:
    part = u[sel] if len(u) and sel.any() else u.iloc[0:0]
    return {
        "action": action,
        "segment": segment,
        "effect": default,
        "effect_low": np.nan,
        "effect_high": np.nan,
        "abs_effect": np.nan,
        "abs_low": np.nan,
        "abs_high": np.nan,
        "assumed": True,
        "source": f"assumed default ({why})",
        "units": len(part),
        "candidates": int(part["candidate_id"].nunique()) if len(part) else 0,
        "treated_candidates": int(part.loc[part["treated"] == 1, "candidate_id"].nunique())
        if len(part)
        else 0,
        "treated_units": int(part["treated"].sum()) if len(part) else 0,
    }


def plan_effects(learned: pd.DataFrame, defaults: dict[str, float]) -> dict[str, float]:
    """The effects the plan should use: learned (segment ``all``) where used, else defaults.

    The hook for ``PlanConfig.effects``: ``cfg.model_copy(update={"effects": ...})``.
    """
    out = dict(defaults)
    rows = learned[(learned["segment"] == "all") & ~learned["assumed"].astype(bool)]
    for action, effect in zip(rows["action"], rows["effect"], strict=True):
        out[str(action)] = float(effect)
    return out


def learn_effects(
    engine: Engine,
    day: dt.date,
    defaults: dict[str, float],
    cfg: EffectsConfig | None = None,
) -> pd.DataFrame:
    """Learn the effects from everything the store knew by the end of ``day`` and store them.

    Replaces any effects stored for the same ``day`` (idempotent for a day), so the
    retraining or daily flow can call it again. Returns the stored rows.
    """
    events = load_events(engine, until=day)
    outcomes = load_outcomes(engine)
    outcomes = outcomes[outcomes["outcome_date"] <= day]
    cfg = cfg or EffectsConfig()
    frame = estimate_effects(
        events, load_candidates(engine), outcomes, load_content(engine), defaults, cfg
    )
    with engine.connect() as conn:
        given = pd.read_sql(
            select(OutreachAction.candidate_id, OutreachAction.action).where(
                OutreachAction.plan_date <= day, OutreachAction.status.in_(["planned", "done"])
            ),
            conn,
        )
        shadow = pd.read_sql(
            select(ShadowAction.candidate_id, ShadowAction.action).where(
                ShadowAction.plan_date <= day
            ),
            conn,
        )
    if len(given) or len(shadow):
        contrast = holdout_contrast(given, shadow, outcomes, cfg)
        frame = pd.concat([frame, contrast], ignore_index=True)
    records = [
        {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
        for row in frame.to_dict("records")
    ]
    with engine.begin() as conn:
        conn.execute(delete(ActionEffect).where(ActionEffect.learned_on == day))
        if records:
            conn.execute(
                insert(ActionEffect),
                [{**r, "learned_on": day, "created_at": _now()} for r in records],
            )
    return frame


def load_effects(engine: Engine, day: dt.date | None = None) -> pd.DataFrame:
    """The latest effects learned on or before ``day`` (all days when None); empty if none.

    Columns: ``learned_on`` and ``EFFECT_COLUMNS``.
    """
    latest = select(func.max(ActionEffect.learned_on))
    if day is not None:
        latest = latest.where(ActionEffect.learned_on <= day)
    cols = [getattr(ActionEffect, c) for c in ("learned_on", *EFFECT_COLUMNS)]
    query = select(*cols).where(ActionEffect.learned_on == latest.scalar_subquery())
    with engine.connect() as conn:
        frame = pd.read_sql(query.order_by(ActionEffect.action, ActionEffect.segment), conn)
    frame["assumed"] = frame["assumed"].astype(bool)
    return frame


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def holdout_contrast(
    given: pd.DataFrame, shadow: pd.DataFrame, outcomes: pd.DataFrame, cfg: EffectsConfig
) -> pd.DataFrame:
    """Per action: candidates the plan gave it against holdout candidates it would have.

    ``given``/``shadow``: candidate_id, action (the planned and the shadow actions);
    ``outcomes``: candidate_id, outcome. Candidates without an outcome are left out.
    The holdout is random, so this is an unbiased intention-to-treat contrast of
    "the plan picks k for you" (k and whatever the plan did after it). Returns
    ``EFFECT_COLUMNS`` rows with segment ``holdout`` and a candidate-bootstrap interval.
    """
    out = _outcome_days(outcomes).set_index("candidate_id")["reneged"]
    rows = []
    for action in sorted(set(given["action"]) | set(shadow["action"])):
        treated = out.reindex(given.loc[given["action"] == action, "candidate_id"].unique())
        control = out.reindex(shadow.loc[shadow["action"] == action, "candidate_id"].unique())
        treated, control = treated.dropna().to_numpy(), control.dropna().to_numpy()
        row: dict[str, object] = {
            "action": action,
            "segment": "holdout",
            "assumed": True,
            "units": int(treated.size + control.size),
            "candidates": int(treated.size + control.size),
            "treated_candidates": int(treated.size),
            "treated_units": int(treated.size),
        }
        if treated.size < cfg.min_treated or control.size < 10:
            rows.append(
                {
                    **row,
                    "effect": np.nan,
                    "source": f"holdout contrast: {control.size} holdout candidates, too few",
                }
            )
            continue
        rng = np.random.default_rng(cfg.seed)
        t_b = treated[rng.integers(0, treated.size, (cfg.bootstrap, treated.size))].mean(axis=1)
        c_b = control[rng.integers(0, control.size, (cfg.bootstrap, control.size))].mean(axis=1)
        a = (1 - cfg.level) / 2
        base = control.mean()
        abs_cut = base - treated.mean()
        abs_b = c_b - t_b
        rel_b = abs_b / np.maximum(c_b, 1e-6)
        rows.append(
            {
                **row,
                "assumed": False,
                "effect": round(abs_cut / max(base, 1e-6), 4),
                "effect_low": round(float(np.quantile(rel_b, a)), 4),
                "effect_high": round(float(np.quantile(rel_b, 1 - a)), 4),
                "abs_effect": round(abs_cut, 5),
                "abs_low": round(float(np.quantile(abs_b, a)), 5),
                "abs_high": round(float(np.quantile(abs_b, 1 - a)), 5),
                "source": f"holdout contrast ({control.size} holdout candidates)",
            }
        )
    return pd.DataFrame(rows, columns=EFFECT_COLUMNS)

"""The shadow plan: what the plan would have given the holdout, recorded, never sent.

The holdout gets the cadence only. Recording the actions the plan would have
chosen for them makes the holdout a control group per action: candidates the
plan gave action k against holdout candidates it would have given k
(``outreach.effects.holdout_contrast``).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Engine, delete, insert

from outreach.plan import PlanConfig, action_row, in_holdout, make_plan
from store.schema import ShadowAction


def shadow_plan(
    day: dt.date,
    scores: pd.DataFrame,
    features: pd.DataFrame,
    alerts: pd.DataFrame,
    events: pd.DataFrame,
    content: pd.DataFrame,
    cfg: PlanConfig,
) -> pd.DataFrame:
    """The plan's rows for holdout candidates, as if nobody were held out.

    The plan is made once for everyone (so the holdout competes for the same
    capacity as in the real plan) and cut to the holdout; same columns as
    ``make_plan``. Inputs as ``make_plan``.
    """
    if cfg.holdout_share == 0 or scores.empty:
        return make_plan(day, scores.iloc[0:0], features, alerts, events, content, cfg)
    everyone = cfg.model_copy(update={"holdout_share": 0.0})
    whole = make_plan(day, scores, features, alerts, events, content, everyone)
    held = [in_holdout(c, cfg) for c in whole["candidate_id"]]
    return whole[held].reset_index(drop=True)


def store_shadow(engine: Engine, day: dt.date, shadow: pd.DataFrame) -> int:
    """Replace the day's shadow actions; returns how many were stored."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    rows = [{**action_row(r, day), "created_at": now} for r in shadow.itertuples(index=False)]
    with engine.begin() as conn:
        conn.execute(delete(ShadowAction).where(ShadowAction.plan_date == day))
        if rows:
            conn.execute(insert(ShadowAction), rows)
    return len(rows)

"""A day's run with the state the service keeps between days stores what a run without does.

``DayState`` rebuilds only what changed: features and alert episodes of candidates with
new, late or erased events, and the in-season check's cohorts whose counts changed. Each
day below is run with the state, then again from nothing; the stored scores, alerts,
actions and the check must be the same.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import Engine, select

from config import get_settings
from features.population import active_ids, read_ids
from serving.services.daily import DayState, run_day
from serving.services.writes import check_and_load
from store.schema import CalibrationCheck
from tests.serving.conftest import DAY
from tests.test_flows import _day_stored, _forget_day
from training.predictor import Predictor
from training.tracking import load_champion


def _last_checks(engine: Engine, day: dt.date, n: int) -> pd.DataFrame:
    with engine.connect() as conn:
        frame = pd.read_sql(
            select(CalibrationCheck)
            .where(CalibrationCheck.as_of == day)
            .order_by(CalibrationCheck.check_id.desc())
            .limit(n),
            conn,
        )
    return frame.drop(columns=["check_id", "created_at", "actor"], errors="ignore")


def _same_with_and_without(engine: Engine, model: Predictor, day: dt.date, state: DayState) -> int:
    """Run ``day`` with ``state``, then from nothing; returns the cohorts the check scored."""
    state.cohorts.scored = 0
    run_day(engine, model, day, state)
    kept = _day_stored(engine, day)
    scored = state.cohorts.scored
    _forget_day(engine, day)
    run_day(engine, model, day)
    fresh = _day_stored(engine, day)
    for name, frame in fresh.items():
        pd.testing.assert_frame_equal(kept[name], frame, check_like=True, obj=f"{day} {name}")
    checks = _last_checks(engine, day, 2)
    pd.testing.assert_series_equal(checks.iloc[0], checks.iloc[1], check_names=False)
    return scored


def test_a_kept_day_state_stores_what_a_fresh_run_stores(engine: Engine) -> None:
    model, version = load_champion(get_settings())
    predictor = Predictor.of(model, version)
    state = DayState()
    month = dt.timedelta(days=28)  # the check's window
    assert _same_with_and_without(engine, predictor, DAY - month, state) == 3
    # the next day: every window is new
    assert _same_with_and_without(engine, predictor, DAY - month + dt.timedelta(days=1), state) == 3
    # 28 days later: the first window is the day run 28 days before (its own feature rows),
    # the two others that day's check scored
    assert _same_with_and_without(engine, predictor, DAY, state) == 0

    # a late event, dated before the second window's first day: the two windows that
    # started after it are scored again, the candidate's features and alerts rebuilt
    cid = sorted(
        set(read_ids(engine, active_ids(DAY))) & set(read_ids(engine, active_ids(DAY - 2 * month)))
    )[0]
    late = {
        "event_id": "late-question-1",
        "candidate_id": cid,
        "type": "candidate_question",
        "ts": f"{DAY - 2 * month - dt.timedelta(days=3)}T10:00:00+08:00",
        "channel": "wechat",
        "actor": "candidate",
        "topic": "housing",
    }
    with engine.begin() as conn:
        check_and_load(engine, conn, "events", [late], "test:late")
    assert _same_with_and_without(engine, predictor, DAY, state) == 2

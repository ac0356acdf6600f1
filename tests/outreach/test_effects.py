"""Effects learned from the store's logs: against the simulator's own true effects,
the defaults where data is thin, the holdout contrast, and the stored table."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine

from outreach.effects import (
    EFFECT_COLUMNS,
    EffectsConfig,
    Units,
    build_units,
    effects_from_units,
    holdout_contrast,
    plan_effects,
)
from outreach.plan import PlanConfig
from outreach.replay import season_frames
from simulator.effects import true_effects
from simulator.season import simulate_season

SEASON, N, SEED = "2024-25", 600, 3
DEFAULTS = PlanConfig().effects


@pytest.fixture(scope="module")
def season_units() -> tuple[dict[str, pd.DataFrame], Units]:
    frames = season_frames(simulate_season(SEASON, N, SEED, truth=False))
    cfg = EffectsConfig(bootstrap=200, segments=(), max_controls_per_treated=5)
    return frames, build_units(
        frames["events"], frames["candidates"], frames["outcomes"], frames["content"], cfg
    )


def test_learned_effects_cover_the_simulators_true_effects(
    season_units: tuple[dict[str, pd.DataFrame], Units],
) -> None:
    _, units = season_units
    cfg = EffectsConfig(bootstrap=200, segments=(), max_width=10.0, max_controls_per_treated=5)
    learned = effects_from_units(units, DEFAULTS, cfg).set_index("action")
    u = units.frame
    rng = np.random.default_rng(1)
    days = np.sort(u["day"].unique())
    picked = u[u["day"].isin(set(rng.choice(days, 6, replace=False)))]
    truth = true_effects(SEASON, N, SEED, picked[["candidate_id", "day", "action"]], rollouts=12)
    truth["weight"] = picked["weight"].to_numpy()
    truth = truth.dropna()
    for action in ("call", "answer_question", "send_content"):
        row = learned.loc[action]
        part = truth[truth["action"] == action]
        assert len(part) >= 20, action
        true_cut = np.average(part["true_cut"], weights=part["weight"])
        assert not row["assumed"], action
        assert row["abs_low"] <= true_cut <= row["abs_high"], (action, true_cut, row.to_dict())
        # an interval this wide would say nothing
        assert row["abs_high"] - row["abs_low"] < 0.12, action


def test_thin_data_keeps_the_assumed_defaults_and_says_so(
    season_units: tuple[dict[str, pd.DataFrame], Units],
) -> None:
    _, units = season_units
    cfg = EffectsConfig(bootstrap=50, segments=(), min_treated=10**6)
    learned = effects_from_units(units, DEFAULTS, cfg)
    assert list(learned.columns) == EFFECT_COLUMNS
    assert learned["assumed"].all()
    for row in learned.itertuples():
        assert row.effect == DEFAULTS[row.action]
        assert row.source.startswith("assumed default")
    approval = learned.set_index("action").loc["escalate_approval"]
    assert "no data" in approval["source"]  # the contract has no "approval chased" event
    assert plan_effects(learned, DEFAULTS) == DEFAULTS


def test_the_plan_reads_learned_effects_only_where_they_are_used() -> None:
    learned = pd.DataFrame(
        [
            {"action": "call", "segment": "all", "effect": 0.05, "assumed": False},
            {"action": "call", "segment": "stage:offer", "effect": 0.5, "assumed": False},
            {"action": "send_content", "segment": "all", "effect": 0.9, "assumed": True},
        ]
    )
    effects = plan_effects(learned, DEFAULTS)
    assert effects["call"] == 0.05
    assert effects["send_content"] == DEFAULTS["send_content"]
    assert effects["answer_question"] == DEFAULTS["answer_question"]


def _people(prefix: str, n: int, reneged: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "candidate_id": [f"{prefix}{i}" for i in range(n)],
            "outcome": ["reneged"] * reneged + ["joined"] * (n - reneged),
            "outcome_date": dt.date(2025, 7, 1),
        }
    )


def test_holdout_contrast_compares_given_with_would_have_been_given() -> None:
    planned, held, few = _people("p", 100, 30), _people("h", 50, 25), _people("f", 5, 1)
    outcomes = pd.concat([planned, held, few])
    given = pd.DataFrame(
        {
            "candidate_id": [*planned["candidate_id"], *planned["candidate_id"][:40]],
            "action": ["call"] * 100 + ["send_content"] * 40,
        }
    )
    shadow = pd.DataFrame(
        {
            "candidate_id": [*held["candidate_id"], *few["candidate_id"]],
            "action": ["call"] * 50 + ["send_content"] * 5,
        }
    )
    rows = holdout_contrast(given, shadow, outcomes, EffectsConfig(bootstrap=400)).set_index(
        "action"
    )
    call = rows.loc["call"]
    assert call["segment"] == "holdout" and not call["assumed"]
    assert call["effect"] == pytest.approx(0.4)  # (50% - 30%) / 50%
    assert call["abs_effect"] == pytest.approx(0.2)
    assert call["effect_low"] < 0.4 < call["effect_high"]
    assert (call["treated_candidates"], call["candidates"]) == (100, 150)
    content = rows.loc["send_content"]
    assert content["assumed"] and np.isnan(content["effect"])
    assert "too few" in content["source"]


def test_effects_are_stored_once_per_day_with_the_holdouts_contrast(
    store: Engine, tmp_path: Path
) -> None:
    from sqlalchemy import insert

    from outreach.effects import learn_effects, load_effects
    from outreach.shadow import store_shadow
    from simulator.season import write_bundle
    from store.ingest import ingest_bundle
    from store.schema import OutreachAction

    season = simulate_season(SEASON, 150, SEED, truth=False)
    ingest_bundle(store, write_bundle(season, tmp_path / "bundle"))
    ids = season.outcomes["candidate_id"].tolist()
    day = dt.date(2025, 7, 31)
    with store.begin() as conn:
        conn.execute(
            insert(OutreachAction),
            [
                {
                    "candidate_id": c,
                    "hr_owner": "hr1",
                    "plan_date": dt.date(2024, 11, 1),
                    "action": "call",
                    "status": "planned",
                }
                for c in ids[:100]
            ],
        )
    shadow = pd.DataFrame(
        {
            "candidate_id": ids[100:],
            "hr_owner": "hr1",
            "action": "call",
            "content_id": None,
            "risk": 0.2,
            "expected_benefit": 0.01,
        }
    )
    assert store_shadow(store, dt.date(2024, 11, 1), shadow) == len(ids) - 100
    cfg = EffectsConfig(bootstrap=50, min_treated=5)
    first = learn_effects(store, day, DEFAULTS, cfg)
    learn_effects(store, day, DEFAULTS, cfg)  # again: replaces, never duplicates
    stored = load_effects(store)
    assert len(stored) == len(first)
    assert set(stored["learned_on"].astype(str)) == {day.isoformat()}
    assert {"call", "answer_question", "send_content", "escalate_approval"} <= set(stored["action"])
    holdout = stored[stored["segment"] == "holdout"].set_index("action")
    assert holdout.loc["call", "candidates"] > 100
    assert load_effects(store, dt.date(2025, 1, 1)).empty  # nothing learned by then


def test_the_daily_plan_records_what_it_would_have_given_the_holdout(engine: Engine) -> None:
    from sqlalchemy import select

    from outreach.plan import in_holdout
    from store.schema import OutreachAction, ShadowAction
    from tests.conftest import run_daily

    day = dt.date(2024, 12, 2)

    def read() -> tuple[pd.DataFrame, pd.DataFrame]:
        with engine.connect() as conn:
            shadow = pd.read_sql(select(ShadowAction).where(ShadowAction.plan_date == day), conn)
            planned = pd.read_sql(
                select(OutreachAction).where(
                    OutreachAction.plan_date == day, OutreachAction.status == "planned"
                ),
                conn,
            )
        return shadow, planned

    run_daily(engine, day)
    shadow, planned = read()
    cfg = PlanConfig()
    assert len(shadow) > 0
    assert all(in_holdout(c, cfg) for c in shadow["candidate_id"])
    assert not any(in_holdout(c, cfg) for c in planned["candidate_id"])  # never sent to them
    assert set(shadow["action"]) <= {"call", "answer_question", "escalate_approval", "send_content"}
    run_daily(engine, day)  # the day again: its shadow plan is replaced, not doubled
    again, _ = read()
    assert len(again) == len(shadow)
    # learned effects reach the plan: content's benefit scales with its learned effect
    from sqlalchemy import insert

    from store.schema import ActionEffect

    before = planned[planned["action"] == "send_content"].set_index("candidate_id")
    assert len(before) > 0
    row = {"segment": "all", "units": 1, "candidates": 1, "treated_candidates": 1}
    with engine.begin() as conn:
        conn.execute(
            insert(ActionEffect),
            [
                {
                    **row,
                    "learned_on": day,
                    "action": "send_content",
                    "effect": 0.4,
                    "assumed": False,
                    "source": "learned (AIPW)",
                    "treated_units": 1,
                },
                {
                    **row,
                    "learned_on": day,
                    "action": "call",
                    "effect": 0.9,
                    "assumed": True,
                    "source": "assumed default",
                    "treated_units": 1,
                },
            ],
        )
    run_daily(engine, day)
    _, after = read()
    after = after[after["action"] == "send_content"].set_index("candidate_id")
    both = before.index.intersection(after.index)
    assert len(both) > 0
    ratio = after.loc[both, "expected_benefit"] / before.loc[both, "expected_benefit"]
    assert ratio.to_numpy() == pytest.approx(4.0, rel=1e-2)  # 0.4 learned / 0.10 assumed

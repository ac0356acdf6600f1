"""The plan's use of the time-to-renege output: between equal risks, the sooner renege first."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

from outreach.plan import PlanConfig, urgency_factor
from tests.outreach.test_plan import feature_rows, plan_for


def test_urgency_factor_is_one_without_risk_30d_and_grows_with_its_share() -> None:
    cfg = PlanConfig(urgency_weight=1.0)
    assert urgency_factor(SimpleNamespace(risk=0.4), cfg) == 1.0
    assert urgency_factor(SimpleNamespace(risk=0.4, risk_30d=float("nan")), cfg) == 1.0
    assert urgency_factor(SimpleNamespace(risk=0.4, risk_30d=0.0), cfg) == 1.0
    assert urgency_factor(SimpleNamespace(risk=0.4, risk_30d=0.2), cfg) == 1.5
    assert urgency_factor(SimpleNamespace(risk=0.4, risk_30d=0.4), cfg) == 2.0
    assert (
        urgency_factor(SimpleNamespace(risk=0.4, risk_30d=0.4), PlanConfig(urgency_weight=0)) == 1
    )


def test_equal_risks_the_one_due_within_30_days_is_planned_first() -> None:
    feats = feature_rows(3)
    scores = pd.DataFrame(
        {
            "candidate_id": feats["candidate_id"],
            "risk": [0.4, 0.4, 0.4],
            "risk_30d": [0.01, 0.3, 0.1],
            "hr_owner": ["hr01"] * 3,
        }
    )
    plan = plan_for(scores, feats, PlanConfig(capacity=2, holdout_share=0.0))
    assert plan["candidate_id"].tolist() == ["c001", "c002"]
    # without risk_30d (an older model) the order is the risk's alone, as before
    alone = plan_for(
        scores.drop(columns="risk_30d"), feats, PlanConfig(capacity=3, holdout_share=0)
    )
    assert alone["expected_benefit"].nunique() == 1

"""The season simulator: contract-true bundles whose mechanisms push the right way."""

from __future__ import annotations

import dataclasses
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from simulator import SimParams, simulate_season, simulate_seasons, write_bundle
from simulator.policy import NoOutreach
from simulator.season import SeasonResult
from store.bundle import read_bundle

N = 1500


@cache
def _season(n: int = N, seed: int = 3, truth: bool = False) -> SeasonResult:
    return simulate_season("2023-autumn", n, seed, truth=truth)


def _renege_rate(result: SeasonResult) -> float:
    return float((result.outcomes["outcome"] == "reneged").mean())


def test_bundle_follows_the_contract(tmp_path: Path) -> None:
    result = simulate_season("2024-autumn", 200, 1, truth=True)
    bundle = read_bundle(write_bundle(result, tmp_path / "b"))
    assert len(bundle.candidates) == 200
    assert len(bundle.events) == len(result.events)
    assert bundle.truth is not None and len(bundle.truth) > 0
    assert set(bundle.candidates["season"]) == {"2024-autumn"}


def test_same_seed_same_season_other_seed_other_season() -> None:
    a = simulate_season("2023-autumn", 300, 5, truth=False)
    b = simulate_season("2023-autumn", 300, 5, truth=False)
    pd.testing.assert_frame_equal(a.events, b.events)
    pd.testing.assert_frame_equal(a.outcomes, b.outcomes)
    c = simulate_season("2023-autumn", 300, 6, truth=False)
    assert not a.outcomes["outcome"].equals(c.outcomes["outcome"])


def test_parallel_seasons_equal_serial_ones() -> None:
    serial = list(simulate_seasons(["2023-autumn", "2024-autumn"], 150, 2, truth=False, workers=1))
    parallel = list(simulate_seasons(["2023-autumn", "2024-autumn"], 150, 2, truth=False))
    for s, p in zip(serial, parallel, strict=True):
        pd.testing.assert_frame_equal(s.events, p.events)


def test_every_candidate_ends_joined_or_reneged_at_a_realistic_rate() -> None:
    result = _season()
    assert len(result.outcomes) == N
    assert 0.10 <= _renege_rate(result) <= 0.32
    reasons = result.outcomes.loc[result.outcomes["outcome"] == "reneged", "reason"]
    top_two = set(reasons.value_counts().index[:2])
    assert "competing_offer" in top_two
    assert reasons.isin(["competing_offer", "location"]).mean() > 0.5


def test_nothing_happens_after_the_outcome() -> None:
    result = _season()
    last = result.events.groupby("candidate_id")["ts"].max().str[:10]
    out = result.outcomes.set_index("candidate_id")["outcome_date"]
    assert (last <= out.reindex(last.index)).all()


def test_outside_signals_only_with_consent() -> None:
    result = _season()
    consent = result.candidates.set_index("candidate_id")["consent_external_signals"]
    signals = result.events.loc[result.events["type"] == "external_signal", "candidate_id"]
    assert len(signals) > 0
    assert (consent.reindex(signals) == "true").all()


def test_no_outreach_loses_more_candidates_than_the_template_cadence() -> None:
    base = _season()
    silent = simulate_season("2023-autumn", N, 3, truth=False, policy=NoOutreach())
    assert _renege_rate(silent) > _renege_rate(base) + 0.05
    assert (silent.events["type"] == "message_sent").sum() == 0


def test_far_from_home_candidates_renege_more() -> None:
    result = _season()
    c = result.candidates.merge(result.outcomes, on="candidate_id")
    far = c["home_city"] != c["work_city"]
    rate = (c["outcome"] == "reneged").groupby(far).mean()
    assert rate[True] > rate[False] + 0.05


@pytest.mark.parametrize(
    ("change", "direction"),
    [
        ({"competing_rate": 0.0}, -1),
        ({"approval_slow_loss": 0.3}, +1),
        ({"silence_loss": 0.05}, +1),
        ({"message_fit_lift": 0.4}, -1),
    ],
)
def test_mechanisms_move_the_renege_rate(change: dict[str, float], direction: int) -> None:
    params = dataclasses.replace(SimParams(), **change)
    moved = simulate_season("2023-autumn", N, 3, truth=False, params=params)
    assert direction * (_renege_rate(moved) - _renege_rate(_season())) > 0.02


def test_without_competing_offers_no_one_leaves_for_one() -> None:
    params = SimParams(competing_rate=0.0)
    result = simulate_season("2023-autumn", 500, 3, truth=False, params=params)
    assert "competing_offer" not in set(result.outcomes["reason"])
    assert (result.events["type"] == "external_signal").sum() == 0


def test_engagement_reads_out_commitment() -> None:
    result = _season()
    ev = result.events
    sent = ev[ev["type"] == "message_sent"].groupby("candidate_id").size()
    replied = ev[ev["type"] == "message_replied"].groupby("candidate_id").size()
    rate = (replied.reindex(sent.index, fill_value=0) / sent).rename("rate")
    out = result.outcomes.set_index("candidate_id")["outcome"].reindex(rate.index)
    assert rate[out == "joined"].mean() > rate[out == "reneged"].mean() + 0.05
    overall = len(ev[ev["type"] == "message_replied"]) / len(ev[ev["type"] == "message_sent"])
    assert 0.15 < overall < 0.7


def test_truth_covers_the_active_population_and_predicts_outcomes() -> None:
    result = simulate_season("2023-autumn", 600, 4, truth=True)
    truth = result.truth
    assert truth is not None
    assert truth["p_true"].between(0, 1).all()
    merged = truth.merge(result.outcomes, on="candidate_id")
    assert (merged["as_of"] < merged["outcome_date"]).all()
    entered = (
        result.events[result.events["type"] == "offer_approval_requested"]
        .set_index("candidate_id")["ts"]
        .str[:10]
    )
    assert (merged["as_of"] >= merged["candidate_id"].map(entered)).all()
    auc = roc_auc_score(merged["outcome"] == "reneged", merged["p_true"])
    assert auc > 0.75
    # and on each truth day on its own, not only pooled across days
    by_day = merged.groupby("as_of").apply(
        lambda g: roc_auc_score(g["outcome"] == "reneged", g["p_true"]), include_groups=False
    )
    assert np.all(by_day > 0.6)


def test_questions_and_signals_carry_their_topic() -> None:
    ev = _season().events
    asked = ev[ev["type"].isin(["candidate_question", "info_session_question", "external_signal"])]
    assert len(asked) > 0
    assert (asked["topic"] != "").all()
    questions = asked[asked["type"] != "external_signal"]
    assert (questions["text"] != "").all()

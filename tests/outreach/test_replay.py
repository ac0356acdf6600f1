"""The season replay: what keepwarm sees is what the store would hold, at equal effort."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cli.main import app
from outreach import replay
from outreach.alerts import open_questions
from outreach.replay import (
    REPLAY_SEASON,
    ReplayResult,
    SeedResult,
    StoreView,
    season_frames,
)
from simulator.engine import EventLog, World
from simulator.policy import Actions, NoOutreach, Observation
from simulator.population import Population, content_library
from simulator.season import simulate_season


class Watching(NoOutreach):
    """No outreach, but keeps the store's view of the log for the test to read."""

    def attach(self, pop: Population, w: World, log: EventLog) -> None:
        self.view = StoreView(pop, w, log, content_library(w.params))
        self.seen: list[pd.DataFrame] = []

    def act(self, obs: Observation, rng: np.random.Generator) -> Actions:
        if obs.day % 50 == 0:  # read it as it grows, not only at the end
            self.seen.append(self.view.events())
        return super().act(obs, rng)


def test_the_view_is_the_bundle_the_store_would_load() -> None:
    policy = Watching()
    season = simulate_season(REPLAY_SEASON, 60, 3, policy=policy, truth=False)
    bundle = season_frames(season)["events"]
    view = policy.view.events()
    columns = ["candidate_id", "ts_utc", "local_day", "type", "topic", "actor", "content_id"]

    def canonical(frame: pd.DataFrame) -> pd.DataFrame:
        out = frame[columns].astype(str).replace({"nan": "None"})
        return out.sort_values(columns).reset_index(drop=True)

    pd.testing.assert_frame_equal(canonical(view), canonical(bundle))
    assert len(policy.seen) > 3 and all(
        len(a) <= len(b) for a, b in zip(policy.seen, policy.seen[1:], strict=False)
    )


def test_open_questions_are_those_no_hr_message_answered_since() -> None:
    ts = pd.to_datetime(["2024-10-01 10:00", "2024-10-01 12:00", "2024-10-02 09:00"])
    events = pd.DataFrame(
        {
            "candidate_id": ["A", "A", "B"],
            "ts_utc": ts,
            "type": ["candidate_question", "message_sent", "candidate_question"],
            "topic": ["competing_offer", "competing_offer", "competing_offer"],
            "actor": ["candidate", "hr", "candidate"],
        }
    )
    assert open_questions(events, ["competing_offer"]) == {"B": ["competing_offer"]}
    # an answer sent before the question does not answer it
    earlier = events.assign(
        ts_utc=pd.to_datetime(["2024-10-01 12:00", "2024-10-01 10:00", "2024-10-02 09:00"])
    )
    assert open_questions(earlier, ["competing_offer"]) == {
        "A": ["competing_offer"],
        "B": ["competing_offer"],
    }


def _seed(seed: int, rules: float, keepwarm: float) -> SeedResult:
    rates = {"none": 0.9, "rules": rules, "keepwarm": keepwarm}
    counts = {"none": 0, "rules": 100, "keepwarm": 100}
    return SeedResult(seed, rates, counts, counts, {}, {}, {})


def test_the_reduction_is_per_seed_with_a_t_interval() -> None:
    result = ReplayResult(
        100, 2, [_seed(1, 0.10, 0.06), _seed(2, 0.08, 0.06), _seed(3, 0.12, 0.06)]
    )
    summary = result.summary()
    cuts = [0.4, 0.25, 0.5]
    assert summary["relative_reduction"] == pytest.approx(np.mean(cuts), abs=1e-4)
    half = 4.302653 * np.std(cuts, ddof=1) / np.sqrt(3)  # t(0.975, 2 df)
    assert summary["ci95"] == pytest.approx([np.mean(cuts) - half, np.mean(cuts) + half], abs=1e-4)
    assert summary["renege_rate"]["rules"] == pytest.approx(0.10)
    assert ReplayResult(100, 2, [_seed(1, 0.10, 0.06)]).summary()["ci95"] == [None, None]


def test_policy_eval_replays_at_equal_effort_and_ends_with_json(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[SeedResult] = []
    real = replay.replay_seed

    def watched(*args: Any) -> SeedResult:
        seen.append(real(*args))
        return seen[-1]

    monkeypatch.setattr(replay, "replay_seed", watched)  # one seed runs in this process
    # a start on 1 January, the earliest the CLI takes: the replay's days are its cost, and
    # this season has 122, not 308 (every offer of these seeds is decided by then); the
    # model learns from the least earlier season the CLI takes
    args = ["policy-eval", "--candidates", "24", "--seeds", "1", "--train-candidates", "100",
            "--first-day", "01-01"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    summary = json.loads(lines[-1])
    assert set(summary) == {
        "renege_rate",
        "contacts",
        "relative_reduction",
        "ci95",
        "seeds",
        "candidates",
        "first_day",
    }
    assert set(summary["renege_rate"]) == set(summary["contacts"]) == {"none", "rules", "keepwarm"}
    assert summary["seeds"] == 1 and summary["candidates"] == 24
    assert summary["first_day"] == "01-01"
    assert any(line.startswith("keepwarm vs the rules at equal contacts") for line in lines)

    (one,) = seen
    # the season the policies lived in is the one asked for: it ends on its first day
    last = (dt.date(2025, 1, 1) - dt.date(2024, 9, 1)).days  # days after 1 September
    assert last - 14 < max(day for day, _ in one.used["rules"]) <= last
    assert one.contacts["none"] == 0 and one.contacts["rules"] > 0 and one.contacts["keepwarm"] > 0
    assert all(n <= 2 for n in one.used["rules"].values())  # the rules' daily capacity
    # keepwarm never makes more contacts than the rules did, recruiter by recruiter, day by day
    assert all(n <= one.used["rules"][key] for key, n in one.used["keepwarm"].items())
    assert sum(one.kinds["keepwarm"].values()) == one.contacts["keepwarm"]

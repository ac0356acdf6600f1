"""The Prefect flows over real stores: one smoke test per flow, and the CLI that runs them.

The promotion gate's decisions are unit-tested in tests/training/test_tracking.py; the
scoring and retention flows start from the trained home (tests/conftest.py) instead of
training a model of their own, and the train flow's smoke test reads what `keepwarm
demo`'s run of it registered. Where another test runs a flow end to end, a test of what
its body does calls that body as a plain function (`.fn`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, func, select

from config import Settings
from serving.services.daily import score_day
from store import audit
from store.db import open_store
from store.ingest import ingest_bundle
from store.schema import Alert, Candidate, OutreachAction, Score
from tests.conftest import DemoRun, PrefectServer, drain_prefect_workers, run_cli
from tests.outreach.test_digest import bot  # noqa: F401 (a fixture: a local chat-bot receiver)
from training.config import load_config
from training.monitor import checks
from training.predictor import Predictor
from training.tracking import MODEL_NAME, configure, load_champion, log_and_register
from training.train import TrainResult

DAY = dt.date(2024, 12, 2)
DEMO_DAY = dt.date(2025, 12, 1)  # `keepwarm demo`'s today


@pytest.fixture(scope="module")
def harness(prefect_server: PrefectServer) -> Iterator[None]:
    # The run's Prefect server (conftest.prefect_server; its task-run recorder stores the
    # task runs' states a resumed run is checked by) instead of Prefect's test harness,
    # which started one more server (about 20 s of CPU). The other worker's CLI runs share
    # that server: the daily slot gets a name of this module's own.
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows import pipeline

    patch = pytest.MonkeyPatch()
    patch.setattr(pipeline, "DAILY_LOCK", f"{pipeline.DAILY_LOCK}-{uuid.uuid4().hex[:8]}")
    try:
        with temporary_settings({PREFECT_API_URL: prefect_server.url}):
            yield
            drain_prefect_workers()
    finally:
        patch.undo()


def test_train_flow_registers_the_model_with_its_evidence(
    demo_run: DemoRun, keepwarm_home: Path
) -> None:
    # The train flow's run is `keepwarm demo`'s (conftest.demo_run: the CLI's train path,
    # `train_flow`, built once per test run): what it registered is read here, in a copy
    # of its home, instead of training another model in this process. The CLI printed
    # the flow's result: its headline (to 4 decimals) and the registration.
    import mlflow

    from config import get_settings

    shutil.copytree(demo_run.home, keepwarm_home)
    get_settings.cache_clear()
    settings = get_settings()
    lines = demo_run.stdout.splitlines()
    head = next(json.loads(line) for line in lines if line.startswith('{"auc'))
    said = next(line for line in lines if line.startswith("model version "))
    version, alias, reason = re.fullmatch(r"model version (\S+) -> (\S+): (.*)", said).groups()
    assert (version, alias) == ("1", "champion")
    assert "first model" in reason
    assert head["auc"] > head["auc_rules"]
    assert head["auc_oracle"] is not None

    client = configure(settings)
    run_id = client.get_model_version(MODEL_NAME, version).run_id
    model, served_version = load_champion(settings)  # the model the flow fitted
    run = client.get_run(run_id)
    assert run.data.metrics["keepwarm.all.auc"] == pytest.approx(head["auc"], abs=5e-5)
    assert run.data.tags["promotion.decision"] == "champion"
    assert run.data.params["folds"] == str(load_config().folds)  # the configuration it used
    # lineage: seasons, what fitting chose, and the code it ran
    assert run.data.params["train_seasons"] == "2023-autumn"
    assert run.data.params["fitted_on"] == "2023-autumn"
    # (the registered model keeps its trees, not the fitting's ``rounds_``: one tree a round)
    assert int(run.data.params["chosen_rounds"]) == model.booster_.current_iteration()
    assert run.data.params["calibrator"] == model.calibration_.kind
    assert run.data.params["trained_by"] == "flow:train"
    assert run.data.tags["code.package_version"]
    assert len(run.data.tags.get("code.git_commit", "")) == 40
    artifacts = {a.path for a in client.list_artifacts(run_id)}
    assert {
        "plots",
        "data_fingerprint.json",
        "metrics.csv",
        "features.json",
        "evaluation.json",
        "fairness.json",
        "model_card.json",
        "model_card.md",
        "lineage.json",
        "promotion.json",
    } <= artifacts
    # the bias audit runs with every training: logged, and any breach named in the decision
    assert "fairness.gender.min_impact_ratio" in run.data.metrics
    breach = run.data.tags["fairness.flagged"]
    # the model card: what it is for, what it saw, how good and how fair, its limits
    card = mlflow.artifacts.load_dict(f"runs:/{run_id}/model_card.json")
    assert card["training"]["train_seasons"] == ["2023-autumn"]
    assert card["metrics_by_season"][0]["auc"] == pytest.approx(head["auc"], abs=0.05)
    assert set(card["fairness"]) == {"gender", "school_tier", "home_region"}
    assert card["fairness_flagged"] == ([] if breach == "none" else breach.split("; "))
    assert any("gender" in x for x in card["inputs"]["not_used_en"]) and card["known_limits"]
    assert (breach == "none") == ("fairness flagged" not in reason)
    plots = {Path(a.path).name for a in client.list_artifacts(run_id, "plots")}
    assert plots == {"roc.png", "calibration.png", "lift.png", "feature_importance.png"}
    assert served_version == version and model.features_


def test_a_model_no_better_than_the_champion_is_registered_as_the_challenger(
    served_home: Path, trained_result: TrainResult
) -> None:
    # the gate's decision reaches the registry: a model no better than the champion is
    # registered as the challenger, and the champion keeps serving (the trained home's
    # champion is ``trained_result``'s model: the same model again)
    import mlflow

    from config import get_settings

    settings = get_settings()
    client = configure(settings)
    first = client.get_registered_model(MODEL_NAME).aliases["champion"]
    same = log_and_register(trained_result, {"trained_by": "a test"}, settings, "auto")
    assert (same.version, same.alias) == ("2", "challenger")
    assert "does not clear zero" in same.reason
    gate = mlflow.artifacts.load_dict(f"runs:/{same.run_id}/promotion.json")
    assert {r["slice"] for r in gate["comparison"]} >= {"all", "horizon=<=60d"}
    assert "LightGBM vs the logistic regression" in gate["standing_challenger"]
    assert client.get_run(same.run_id).data.metrics["promotion.auc_diff"] == 0
    aliases = client.get_registered_model(MODEL_NAME).aliases
    assert {a: str(v) for a, v in aliases.items()} == {
        "champion": str(first),
        "challenger": same.version,
    }
    assert client.get_run(same.run_id).data.tags["promotion.decision"] == "challenger"
    served, version = load_champion(settings)
    assert version == str(first) and served.features_


def test_daily_scoring_flow_stores_the_score_history(harness: None, engine: Engine) -> None:
    from flows.pipeline import daily_scoring_flow

    scores, version = daily_scoring_flow(DAY)
    assert len(scores) > 100
    assert list(scores["rank"]) == list(range(1, len(scores) + 1))
    assert scores["risk"].is_monotonic_decreasing
    assert scores["reasons"].str.len().gt(0).mean() > 0.9
    with engine.connect() as conn:
        stored = conn.execute(
            select(func.count())
            .select_from(Score)
            .where(Score.as_of == DAY, Score.model_version == version)
        ).scalar_one()
    assert stored == len(scores)
    with engine.connect() as conn:
        alerts = pd.read_sql(select(Alert), conn)
    assert len(alerts) > 0 and set(alerts["candidate_id"]) <= set(scores["candidate_id"])
    assert {"no_reply", "approval_pending"} <= set(alerts["kind"])
    assert (alerts["as_of"].astype(str) == DAY.isoformat()).all()
    with engine.connect() as conn:
        plan = pd.read_sql(select(OutreachAction), conn)
    tasks = plan[plan["status"] == "planned"]
    assert len(tasks) > 0 and tasks.groupby("hr_owner").size().max() <= 15
    assert set(tasks["candidate_id"]) <= set(scores["candidate_id"])
    assert plan["action"].str.startswith("cadence:").any()
    # the calibration check ran first and was kept, with the flow as its author
    (check,) = checks(engine, version)
    assert check["as_of"] == DAY and check["actor"] == "flow:daily-scoring"
    assert 1 <= check["windows"] <= 3 and check["expected"] > 0  # no one active in early Sept
    daily_scoring_flow(DAY)  # a rerun replaces, never duplicates
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Score)).scalar_one() == stored
        assert conn.execute(select(func.count()).select_from(Alert)).scalar_one() == len(alerts)
        assert conn.execute(select(func.count()).select_from(OutreachAction)).scalar_one() == len(
            plan
        )


def _cut_bundle(src: Path, dest: Path, day: dt.date) -> Path:
    """The bundle as an ATS would have exported it at the end of ``day``."""
    shutil.copytree(src, dest)
    events = pd.read_csv(dest / "events.csv", dtype=str, keep_default_na=False)
    events[events["ts"].str[:10] <= day.isoformat()].to_csv(dest / "events.csv", index=False)
    outcomes = pd.read_csv(dest / "outcomes.csv", dtype=str, keep_default_na=False)
    outcomes[outcomes["outcome_date"] <= day.isoformat()].to_csv(dest / "outcomes.csv", index=False)
    (dest / "truth.csv").unlink()
    return dest


def test_scoring_a_past_day_sees_only_what_was_known_then(
    engine: Engine,
    small_seasons: dict[str, Path],
    settings: Settings,
    tmp_path: Path,
) -> None:
    model, _ = load_champion(settings)
    today = score_day(engine, Predictor.of(model), DAY)

    then = Settings(home=tmp_path / "then")
    past = open_store(then)
    ingest_bundle(past, small_seasons["2023-autumn"])
    ingest_bundle(past, _cut_bundle(small_seasons["2024-autumn"], tmp_path / "cut", DAY))
    back_then = score_day(past, Predictor.of(model), DAY)
    pd.testing.assert_frame_equal(today, back_then)


def test_retention_flow_retires_old_candidates_and_records_it(engine: Engine) -> None:
    # The flow runs end to end in tests/test_cli.py (`keepwarm retention` on the trained
    # home, with this test's first checks); here its body runs as a plain function
    # (`.fn`: no Prefect run), for the record it keeps and what a second run finds.
    from flows.pipeline import retention_flow

    # the small seasons' outcomes are all before July 2025: a year and a half on, all are due
    result = retention_flow.fn(dt.date(2026, 12, 31))
    assert result["candidates"] > 700 and result["mode"] == "pseudonymise"
    with engine.connect() as conn:
        named = conn.execute(
            select(func.count())
            .select_from(Candidate)
            .where(~Candidate.candidate_id.startswith("anon-"))
        ).scalar_one()
    assert named == 0
    recorded = audit.entries(engine, action="pseudonymise")
    assert list(recorded["actor"]) == ["flow:retention"]
    assert retention_flow.fn(dt.date(2026, 12, 31))["candidates"] == 0  # nothing left to retire


def test_cli_trains_scores_and_writes_the_scores_file_without_noise(
    demo_run: DemoRun, keepwarm_home: Path, tmp_path: Path, prefect_server: PrefectServer
) -> None:
    # `keepwarm demo` trained and scored through the CLI's own train and score paths
    # (a temporary Prefect server, no settings); its home is scored again here by
    # `keepwarm score`, on the run's shared Prefect server: a temporary server of its own
    # cost ~20 s of CPU and is the demo's (and the killed daily scoring's) to show.
    summary = next(
        json.loads(line) for line in demo_run.stdout.splitlines() if line.startswith('{"auc')
    )
    assert {"auc", "auc_rules", "auc_oracle", "model_version", "alias"} <= set(summary)
    shutil.copytree(demo_run.home, keepwarm_home)
    out = tmp_path / "scores.csv"
    args = ("score", "--as-of", DEMO_DAY.isoformat(), "--out", str(out))
    score = run_cli(*args, home=keepwarm_home, timeout=600, prefect_api=prefect_server.url)
    assert score.returncode == 0, score.stderr[-2000:]
    frame = pd.read_csv(out)
    assert list(frame.columns) == [
        "candidate_id", "as_of", "risk", "risk_30d", "rank", "hr_owner", "reasons"
    ]  # fmt: skip
    assert len(frame) > 0 and set(frame["as_of"]) == {DEMO_DAY.isoformat()}
    # the run's output says how the model's risks compared with the reneges of recent weeks
    assert f" x 28 days before {DEMO_DAY}" in score.stdout and "reneges observed" in score.stdout
    for noise in (demo_run.stderr, score.stderr):
        assert "Traceback" not in noise
        assert "database is locked" not in noise
        assert "ERROR" not in noise


def test_a_failed_run_leaves_no_error_message_in_prefects_records(harness: None) -> None:
    from prefect import flow, task
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterId,
        LogFilter,
        LogFilterFlowRunId,
    )
    from prefect.logging.handlers import APILogHandler

    from flows.runtime import ensure_prefect_api, withhold_messages

    ensure_prefect_api()  # as the CLI does before a run
    row = {"school": "MARKschool5e1f"}  # data a task read, not a parameter (those are kept)

    @task(name="refuse-row", retries=1)
    @withhold_messages
    def refuse_row() -> None:
        raise ValueError(f"bad row {row}")

    @flow(name="refusing")
    @withhold_messages
    def refusing() -> None:
        refuse_row()

    state = refusing(return_state=True)
    assert state.is_failed()
    APILogHandler().flush()  # the logs are sent in batches, in the background
    run_id = state.state_details.flow_run_id
    assert run_id is not None
    with get_client(sync_client=True) as client:
        logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])))
        ids = FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))
        tasks = client.read_task_runs(flow_run_filter=ids)
        states = [client.read_flow_run(run_id).state, *(t.state for t in tasks)]
    recorded = [log.message for log in logs] + [s.message or "" for s in states if s]
    # the failure is recorded, by type and place, with a traceback ...
    assert any("ValueError in refuse_row (message withheld)" in m for m in recorded)
    assert any("Traceback" in m and "in refuse_row" in m for m in recorded)
    # ... and what the failing row held is not
    assert not [m for m in recorded if "MARKschool5e1f" in m]


def test_deployments_schedule_scoring_retraining_and_retention(
    harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from config import get_settings
    from flows.deploy import deployments

    monkeypatch.setenv("KEEPWARM_TIMEZONE", "Europe/Berlin")  # a subsidiary's recruiters
    get_settings.cache_clear()
    scoring, retention, retraining = deployments()  # prefect.yaml's, in its order
    assert scoring.name == "daily-scoring"
    assert retraining.name == "retrain-when-a-season-closes"
    assert retention.name == "retention"
    crons = [
        (d.schedules[0].schedule.cron, d.schedules[0].schedule.timezone)
        for d in (scoring, retraining, retention)
    ]
    assert crons == [
        ("0 7 * * *", "Europe/Berlin"),
        ("0 3 1 8 *", "Europe/Berlin"),
        ("30 2 * * *", "Europe/Berlin"),
    ]


def test_a_scheduled_run_scores_the_recruiters_day_not_the_workers(
    harness: None, engine: Engine
) -> None:
    """07:00 in Shanghai is 23:00 UTC the day before on the worker: the run is for the 2nd."""
    import time_machine

    from flows.pipeline import daily_scoring_flow

    with time_machine.travel("2024-12-01T23:00:00+00:00", tick=True):
        scores, _ = daily_scoring_flow()  # as the schedule starts it: no day given
    assert set(scores["as_of"].astype(str)) == {"2024-12-02"}
    with engine.connect() as conn:
        days = conn.execute(select(Score.as_of).distinct()).scalars().all()
    assert [str(d) for d in days] == ["2024-12-02"]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_failed_daily_run_resumes_from_its_finished_tasks_and_notifies(
    harness: None,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    bot: tuple[str, list[dict[str, Any]]],  # noqa: F811 (the fixture imported above)
) -> None:
    from aiosmtpd.controller import Controller
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.flow_engine import run_flow
    from prefect.settings import PREFECT_LOCAL_STORAGE_PATH
    from prefect.states import Scheduled

    from config import get_settings
    from flows import pipeline

    # the digests' mail server is down when the run reaches it
    port = _free_port()
    monkeypatch.setenv("KEEPWARM_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("KEEPWARM_SMTP_PORT", str(port))
    monkeypatch.setenv("KEEPWARM_DIGEST_EMAIL_DOMAIN", "corp.example")
    monkeypatch.setenv("KEEPWARM_OPS_CHAT_WEBHOOK_URL", bot[0])
    get_settings.cache_clear()
    monkeypatch.setattr(pipeline.digest_task, "retries", 0)  # it stays down: no need to wait

    first = pipeline.daily_scoring_flow(DAY, return_state=True)
    assert first.is_failed()
    run_id = first.state_details.flow_run_id
    storage = Path(PREFECT_LOCAL_STORAGE_PATH.value())
    kept = list(storage.glob(f"keepwarm-run-{run_id}-*"))
    assert len(kept) >= 1  # the day's run (scores, alerts, plans): done before the digests
    with engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(Score)).scalar_one()
    assert stored > 100
    # the operators heard of it, by flow and state, with no candidate in the notice
    [notice] = bot[1]
    text = json.dumps(notice, ensure_ascii=False)
    assert "daily-scoring" in text and "Failed" in text and "2024-12-02" in text
    assert "K24" not in text  # no candidate id

    # the mail server is back; "Retry" in Prefect's UI schedules the same run again
    from tests.outreach.test_digest import Inbox

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with get_client(sync_client=True) as client:
            client.set_flow_run_state(run_id, Scheduled(), force=True)
            flow_run = client.read_flow_run(run_id)
        second = run_flow(
            pipeline.daily_scoring_flow,
            flow_run=flow_run,
            parameters={"as_of": DAY},
            return_type="state",
        )
    finally:
        controller.stop()
    assert second.is_completed()
    assert inbox.messages  # the digests went out
    # task runs' states reach the server as events, recorded in the background: wait until
    # every one has its final state (a deadline, not a timed assertion)
    deadline = time.monotonic() + 120
    while True:
        with get_client(sync_client=True) as client:
            runs = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))
            )
        if all(r.state and r.state.is_final() for r in runs) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    states: dict[str, list[str]] = {}
    for run in runs:
        states.setdefault(run.name.rsplit("-", 1)[0], []).append(run.state_name or "")
    # what had finished was read back, not done again
    assert "Cached" in states["day-run"], states["day-run"]
    assert "Completed" in states["digests"]
    # the finished run's results (candidates' rows) are not kept
    assert not list(storage.glob(f"keepwarm-run-{run_id}-*"))
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Score)).scalar_one() == stored


def test_a_second_daily_run_waits_for_the_first_then_gives_up(
    harness: None, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows import pipeline
    from flows.runs import one_at_a_time

    monkeypatch.setattr(pipeline, "DAILY_LOCK_WAIT_SECONDS", 1.0)
    with one_at_a_time(pipeline.DAILY_LOCK, 10):  # a run in progress holds the slot
        state = pipeline.daily_scoring_flow(DAY, return_state=True)
    assert state.is_failed()
    assert "RunLocked" in (state.message or "") and "another run holds" in (state.message or "")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Score)).scalar_one() == 0


def test_a_daily_run_on_postgresql_holds_one_connection_and_leaves_none(
    harness: None,
    served_home: Path,
    pg_server: Any,
    small_seasons: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The store role may hold two connections at once: one engine per run needs one."""

    from sqlalchemy import create_engine, text

    from config import get_settings
    from flows.pipeline import daily_scoring_flow

    role = "kw_" + uuid.uuid4().hex[:8]
    admin = create_engine(pg_server.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE ROLE {role} LOGIN CONNECTION LIMIT 2"))
        conn.execute(text(f"CREATE DATABASE {role} OWNER {role}"))
    url = pg_server.url(role).replace(f"{pg_server.user}@", f"{role}@")
    monkeypatch.setenv("KEEPWARM_DATABASE_URL", url)
    get_settings.cache_clear()
    store = open_store(get_settings())
    for folder in small_seasons.values():
        ingest_bundle(store, folder)
    store.dispose()

    scores, _ = daily_scoring_flow(DAY)
    assert len(scores) > 100
    with admin.connect() as conn:
        held = conn.execute(
            text("SELECT count(*) FROM pg_stat_activity WHERE usename = :r"), {"r": role}
        ).scalar_one()
    admin.dispose()
    assert held == 0


def _day_stored(engine: Engine, day: dt.date) -> dict[str, pd.DataFrame]:
    """What a day's run stored: its scores, the alerts it saw, its actions (ids aside)."""
    with engine.connect() as conn:
        scores = pd.read_sql(select(Score).where(Score.as_of == day), conn)
        alerts = pd.read_sql(select(Alert).where(Alert.as_of == day), conn)
        actions = pd.read_sql(select(OutreachAction).where(OutreachAction.plan_date == day), conn)
    actions = actions.drop(columns=["action_id", "created_at"])
    scores = scores.drop(columns=["score_id", "created_at"])  # a key and a clock: new rows
    return {
        "scores": scores.sort_values(["candidate_id", "model_version"]).reset_index(drop=True),
        "alerts": alerts.sort_values("alert_id").reset_index(drop=True),
        "actions": actions.sort_values(["candidate_id", "action"]).reset_index(drop=True),
    }


def _forget_day(engine: Engine, day: dt.date) -> None:
    from sqlalchemy import delete

    with engine.begin() as conn:
        conn.execute(delete(Score).where(Score.as_of == day))
        conn.execute(delete(Alert).where(Alert.as_of == day))
        conn.execute(delete(OutreachAction).where(OutreachAction.plan_date == day))


def test_the_api_day_run_stores_what_the_daily_flow_stores(engine: Engine) -> None:
    # The daily flow runs end to end in the tests above; what it stores is its day-run
    # task's, called here as a plain function (`.fn`: no Prefect run) on the same day.
    from fastapi.testclient import TestClient

    from config import get_settings
    from flows.pipeline import day_run_task
    from serving.auth import create_key
    from serving.main import create_app

    before = DAY - dt.timedelta(days=1)
    day_run_task.fn(engine, DAY)
    by_flow = _day_stored(engine, DAY)
    assert len(by_flow["scores"]) > 100 and len(by_flow["actions"]) > 0
    _forget_day(engine, DAY)
    key = create_key(engine, "scheduler").key
    with TestClient(create_app(get_settings()), raise_server_exceptions=False) as client:
        run = lambda day: client.post(  # noqa: E731
            "/v1/runs/daily",
            json={"as_of": day.isoformat()},
            headers={"Authorization": f"Bearer {key}"},
        )
        first = run(before)  # the previous day: the service keeps its running totals
        assert first.status_code == 200, first.text
        answer = run(DAY)
        assert answer.status_code == 200, answer.text
    counts = answer.json()
    by_api = _day_stored(engine, DAY)
    for name, frame in by_flow.items():
        pd.testing.assert_frame_equal(by_api[name], frame, check_like=True, obj=name)
    assert counts["scored"] == len(by_flow["scores"])
    assert counts["actions"] == len(by_flow["actions"])
    assert 0 < counts["rebuilt"] < first.json()["rebuilt"]  # only what changed in a day

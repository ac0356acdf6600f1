"""``keepwarm``: simulate, ingest, and (in later stages) train, score, serve.

Every failure ends with exit code 1 and one line on stderr, never a traceback: a user
error says what to fix; a failure of the machine or a dependency (the store, MLflow,
Prefect's server, the disk) says what failed and what to set; anything else is an
internal error. The latter two keep a traceback without messages in crash.log.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import logging
import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, cast

import typer
from typer.exceptions import TyperException

from config import get_settings
from config.logs import SafeFormatter, WithheldError, public_url, safe_traceback
from config.runtime import pace_garbage_collector
from store.errors import KeepwarmError

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy import Engine

    from training.train import TrainResult

Promote = Literal["auto", "force", "never"]

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="keepwarm: keep campus candidates warm between offer and first day.",
)


@app.callback()
def _tenant(
    tenant: Annotated[
        str | None,
        typer.Option(
            help="The tenant to work for (its own store, model and settings; README, Tenants).",
            envvar="KEEPWARM_TENANT",
            show_envvar=True,
        ),
    ] = None,
) -> None:
    """keepwarm: keep campus candidates warm between offer and first day."""
    from config.settings import TENANT_PATTERN, not_a_tenant

    if tenant is None or not tenant.strip():
        return
    if not TENANT_PATTERN.fullmatch(tenant):
        raise KeepwarmError(f"--tenant: {not_a_tenant(tenant)}")
    # The environment, not a global: `keepwarm serve`'s workers and a flow's processes
    # inherit it, and every get_settings() in this process now reads the tenant's.
    os.environ["KEEPWARM_TENANT"] = tenant
    get_settings.cache_clear()


def _parse_seasons(value: str) -> list[str]:
    seasons = []
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        year = part.split("-")[0]
        if not (year.isdigit() and len(year) == 4):
            raise KeepwarmError(f"--seasons: {part!r} is not a year like 2024 or 2024-autumn")
        seasons.append(f"{year}-autumn")
    if not seasons:
        raise KeepwarmError("--seasons: give at least one year, e.g. 2023,2024")
    return seasons


@app.command()
def simulate(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write bundles into.")],
    seasons: Annotated[str, typer.Option(help="Comma-separated autumn seasons.")] = "2023,2024",
    candidates: Annotated[int, typer.Option(min=1, help="Candidates per season.")] = 500,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    truth: Annotated[bool, typer.Option(help="Write truth.csv (Monte-Carlo roll-outs).")] = True,
) -> None:
    """Write simulated season bundles that follow the data contract (truth.csv included)."""
    from simulator import simulate_seasons, write_bundle

    for result in simulate_seasons(_parse_seasons(seasons), candidates, seed, truth=truth):
        folder = write_bundle(result, out_dir / result.season)
        typer.echo(f"{result.season}: {result.summary()} -> {folder}")


@app.command()
def ingest(
    bundle_dir: Annotated[
        Path, typer.Argument(help="A season bundle folder, or one .xlsx workbook.")
    ],
    columns: Annotated[
        Path | None,
        typer.Option(
            help="A column mapping (TOML): the team's own sheet, file and header names.",
        ),
    ] = None,
) -> None:
    """Load a season bundle (CSV, JSON lines, Parquet or Excel) into the store, all or nothing."""
    from store.db import open_store
    from store.ingest import ingest_bundle
    from store.workbook import read_mapping

    settings = get_settings()
    mapping = read_mapping(columns) if columns is not None else None
    engine = open_store(settings)
    report = ingest_bundle(
        engine, bundle_dir, max_problems=settings.max_reported_problems, columns=mapping
    )
    typer.echo(report.summary())


def _print_metrics(result: TrainResult) -> None:
    table = result.metrics
    cols = [
        "scorer",
        "slice",
        "n",
        "auc",
        "pr_auc",
        "brier",
        "ece",
        "precision_top",
        "recall_top",
        "precision_capacity",
        "recall_capacity",
    ]
    typer.echo(table[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    oracle = result.oracle
    if oracle.get("auc_oracle") is not None:
        typer.echo(
            f"oracle (truth.csv rows: {oracle['truth_rows']:.0f}): p_true AUC "
            f"{oracle['auc_oracle']:.3f}, model {oracle['auc_model_on_truth']:.3f}, "
            f"share {oracle['share_of_oracle']:.3f}"
        )
    if result.within is not None:
        typer.echo('"reneges within 30 days" (AUC, 95% interval over candidates):')
        for row in result.within.itertuples(index=False):
            typer.echo(
                f"  {row.slice:<18} risk_30d {row.auc_30d:.3f} ({row.auc_30d_low:.3f}-"
                f"{row.auc_30d_high:.3f})  eventual risk {row.auc_eventual:.3f} "
                f"({row.auc_eventual_low:.3f}-{row.auc_eventual_high:.3f})"
            )


def _prepare_flows() -> None:
    """Prefect's settings before its import, then an API that answers (or a reason)."""
    from flows.runtime import configure_prefect, ensure_prefect_api

    configure_prefect(get_settings())
    ensure_prefect_api()


def _run_train(
    train_seasons: list[str], test_season: str, promote: Promote, refit_winner: bool = False
) -> dict[str, object]:
    _prepare_flows()
    from flows.pipeline import train_flow

    result, registered = train_flow(train_seasons, test_season, promote, refit_winner)
    _print_metrics(result)
    typer.echo(f"model version {registered.version} -> {registered.alias}: {registered.reason}")
    if registered.decision is not None and registered.decision.standing is not None:
        from training.gate import standing_note

        typer.echo(standing_note(registered.decision, "the logistic regression"))
    head = result.headline()
    rounded = {k: None if v is None else round(v, 4) for k, v in head.items()}
    keys = ("auc", "auc_rules", "auc_logistic", "auc_oracle", "share_of_oracle", "ece")
    return {
        **{k: rounded[k] for k in keys},
        "model_version": registered.version,
        "alias": registered.alias,
    }


@app.command()
def train(
    train_seasons: Annotated[
        str, typer.Option(help="Comma-separated seasons to train on.")
    ] = "2023-autumn",
    test_season: Annotated[str, typer.Option(help="The later season to test on.")] = "2024-autumn",
    promote: Annotated[
        str,
        typer.Option(
            help="auto: champion only if it beats the current one on a held-out season "
            "(paired interval); force; never."
        ),
    ] = "auto",
    refit_winner: Annotated[
        bool,
        typer.Option(help="Refit a promoted model on the training and test seasons together."),
    ] = False,
) -> None:
    """Train on past seasons, test on a later one, register in MLflow, gate promotion."""
    if promote not in ("auto", "force", "never"):
        raise KeepwarmError("--promote must be auto, force or never")
    seasons = [s.strip() for s in train_seasons.split(",") if s.strip()]
    summary = _run_train(seasons, test_season.strip(), cast(Promote, promote), refit_winner)
    typer.echo(json.dumps(summary))


def _ci(row: pd.Series, digits: int = 4) -> str:
    return f"{row['diff']:+.{digits}f} [{row['lo']:+.{digits}f}, {row['hi']:+.{digits}f}]"


@app.command()
def compare(
    challenger: Annotated[str, typer.Option(help="The registered version to compare.")],
    champion: Annotated[
        str | None, typer.Option(help="The version to compare with (default: the champion).")
    ] = None,
    season: Annotated[
        str | None,
        typer.Option(help="A closed season neither was fitted on (default: the latest)."),
    ] = None,
    bootstrap: Annotated[
        int | None, typer.Option(min=20, help="Resamples of candidates for the intervals.")
    ] = None,
) -> None:
    """Two registered versions on the same held-out snapshots: by horizon, segment and day,
    with paired 95% intervals (resampling candidates); logged to MLflow."""
    from training.compare import compare_versions
    from training.config import load_config

    cfg = load_config()
    done = compare_versions(get_settings(), cfg, challenger.strip(), champion, season, bootstrap)
    new, old = done.challenger.version, done.champion.version
    cmp = done.comparison
    typer.echo(
        f"challenger v{new} vs champion v{old} on {done.season} (v{new} fitted on "
        f"{', '.join(done.challenger.fitted_on or [])}; v{old} on "
        f"{', '.join(done.champion.fitted_on or [])}); differences are challenger minus "
        f"champion, [{cmp.level:.0%} interval over {cmp.resamples} resamples of candidates]"
    )
    typer.echo(
        f"{'slice':<24} {'n':>7} {'cand.':>6} {'AUC v' + new:>9} {'AUC v' + old:>9} "
        f"{'AUC diff':>27} {'log loss diff':>27} {'ECE diff':>27}"
    )
    for name in cmp.table["slice"].unique():
        auc, loss, ece = (cmp.row(name, m) for m in ("auc", "log_loss", "ece"))
        typer.echo(
            f"{name:<24} {auc['n']:>7} {auc['candidates']:>6} {auc['challenger']:>9.4f} "
            f"{auc['champion']:>9.4f} {_ci(auc):>27} {_ci(loss):>27} {_ci(ece):>27}"
        )
    typer.echo(
        f"\nby day: AUC of each and the share of v{old}'s top "
        f"{cfg.hr_capacity_share:.0%} list that v{new}'s list also holds"
    )
    typer.echo(
        f"{'day':<11} {'n':>6} {'reneges':>8} {'AUC v' + new:>9} {'AUC v' + old:>9} {'overlap':>8}"
    )
    for d in done.daily.itertuples(index=False):
        typer.echo(
            f"{d.day:<11} {d.n:>6} {d.positives:>8} {d.auc_challenger:>9.4f} "
            f"{d.auc_champion:>9.4f} {d.top_overlap:>8.1%}"
        )
    typer.echo(f"logged as MLflow run {done.run_id}")
    typer.echo(json.dumps(done.summary()))


def _parse_day(value: str | None) -> dt.date:
    if value is None:
        return get_settings().today()
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise KeepwarmError(f"--as-of: {value!r} is not a date YYYY-MM-DD") from exc


def _run_score(day: dt.date) -> tuple[pd.DataFrame, str]:
    _prepare_flows()
    from flows.pipeline import daily_scoring_flow

    return daily_scoring_flow(day)


@app.command()
def score(
    as_of: Annotated[
        str | None, typer.Option(help="Day to score, YYYY-MM-DD (default today).")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Write the ranked list to this CSV.")] = None,
    top: Annotated[int, typer.Option(help="Rows to print.")] = 10,
) -> None:
    """Score the candidates active on a day with the champion model and store the scores."""
    day = _parse_day(as_of)
    scores, version = _run_score(day)
    from store import audit
    from store.db import open_store

    engine = open_store(get_settings())
    if out is not None:
        from serving.services.sheets import inert

        inert(scores.drop(columns="reasons_detail")).to_csv(out, index=False)
        ids = scores["candidate_id"].astype(str).tolist()
        audit.record(engine, audit.Actor.cli(), "export", "keepwarm score --out", ids)
    typer.echo(f"scored {len(scores)} active candidates as of {day} with model v{version}")
    _print_calibration(engine, version)
    shown = scores["candidate_id"].astype(str).head(top).tolist()
    if shown:  # the printed top of the list is a read of those candidates
        audit.record(engine, audit.Actor.cli(), "read", "keepwarm score", shown)
    _print_top(scores, top)


def _print_calibration(engine: Engine, version: str) -> None:
    """The daily run's calibration check of this version, and the shift it left in force."""
    from training.monitor import check_line, checks

    latest = checks(engine, version, limit=1)
    if latest:
        typer.echo(check_line(latest[0]))


def _print_top(frame: pd.DataFrame, top: int) -> None:
    from training.predictor import shown_risk, worded

    for row in frame.head(top).itertuples(index=False):
        reasons = "；".join(worded(r)["text_zh"] for r in row.reasons_detail) or "-"
        typer.echo(
            f"{row.rank:>4}  {row.candidate_id:<12} {row.hr_owner:<6} "
            f"风险 {shown_risk(row.risk):>6}  {reasons}"
        )


@app.command()
def demo(
    candidates: Annotated[int, typer.Option(min=20, help="Candidates per season.")] = 1000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
) -> None:
    """Two past seasons and one in progress: ingest, train on 2023, test on 2024, score 2025."""
    from simulator import simulate_seasons, write_bundle
    from store.db import open_store
    from store.ingest import count_rows, ingest_bundle

    settings = get_settings()
    home = settings.ensure_home()
    engine = open_store(settings)
    typer.echo(f"keepwarm demo: state in {home}, store {engine.url.render_as_string()}")
    day = dt.date(2025, 12, 1)  # the demo's "today", in the 2025 season
    seasons = ["2023-autumn", "2024-autumn", "2025-autumn"]
    for result in simulate_seasons(seasons, candidates, seed):
        if result.season == "2025-autumn":
            result = result.until(day)  # a season in progress: only what is known by today
        folder = write_bundle(result, home / "bundles" / result.season)
        typer.echo(f"simulated {result.season}: {result.summary()}")
        typer.echo("  " + ingest_bundle(engine, folder).summary())
    counts = count_rows(engine)
    typer.echo("store now holds: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    typer.echo("\ntraining on 2023-autumn, testing on 2024-autumn ...")
    summary = _run_train(["2023-autumn"], "2024-autumn", "auto")
    typer.echo(json.dumps(summary))
    _run_score(day - dt.timedelta(days=7))  # last week's run: the console shows the change
    scores, version = _run_score(day)
    _print_calibration(engine, version)
    typer.echo(
        f"\n{day} 风险名单 (risk list), model v{version}, {len(scores)} active candidates; top 10:"
    )
    _print_top(scores, 10)
    _print_plan(engine, day)
    typer.echo(
        "\nnext: `keepwarm users create NAME --role lead` (it asks for a password), then "
        "`keepwarm serve` and sign in at http://127.0.0.1:8000/ ; for the API, "
        "`keepwarm keys create --role lead` (docs at /docs). The README shows both."
    )


@app.command()
def fairness(
    season: Annotated[
        str | None, typer.Option(help="A finished season (default: the latest finished one).")
    ] = None,
    bootstrap: Annotated[int, typer.Option(min=20, help="Bootstrap resamples for the CIs.")] = 200,
) -> None:
    """Bias audit of the champion on a finished season, by gender, school tier, home region."""
    from store.db import open_store
    from training.train import closed_seasons

    settings = get_settings()
    engine = open_store(settings)
    finished = closed_seasons(engine)
    if not finished:
        raise KeepwarmError("no finished season: the audit needs every candidate's outcome")
    season = season or finished[-1]
    if season not in finished:
        raise KeepwarmError(
            f"--season {season} is not a finished season; finished: {', '.join(finished)}"
        )
    # after the checks: MLflow and fairlearn take seconds to import, a refusal needs neither
    from training.config import load_config
    from training.fairness import FOUR_FIFTHS, GROUPINGS, audit_season
    from training.tracking import load_champion

    model, version = load_champion(settings)
    share = load_config().hr_capacity_share
    typer.echo(
        f"bias audit of model v{version} on {season}: selected = top {share:.0%} of each "
        f"day's list; 95% bootstrap intervals over candidates ({bootstrap} resamples)"
    )
    report = audit_season(engine, model, season, share, bootstrap)
    for by in GROUPINGS:
        part = report[by]
        flag = f"  FLAGGED: under {FOUR_FIFTHS}" if part["flagged"] else ""
        typer.echo(f"\n{by}: lowest impact ratio {part['min_impact_ratio']}{flag}")
        typer.echo(
            f"  {'group':<10} {'n':>6} {'selected':>9} {'ratio':>6} {'recall':>7} {'fpr':>6} "
            f"{'risk':>6} {'observed':>8}"
        )
        for name, g in part["groups"].items():
            typer.echo(
                f"  {name:<10} {g['n']:>6} {_pct(g['selection_rate']):>9} "
                f"{g['impact_ratio'] if g['impact_ratio'] is not None else '-':>6} "
                f"{_pct(g['recall']):>7} {_pct(g['fpr']):>6} {_pct(g['mean_risk']):>6} "
                f"{_pct(g['observed_rate']):>8}"
            )
    typer.echo(json.dumps(report, ensure_ascii=False))


def _month_day(text: str) -> tuple[int, int]:
    """``MM-DD`` between 01-01 and 08-31 as (month, day); a clear error otherwise."""
    try:
        day = dt.datetime.strptime(
            f"2001-{text}", "%Y-%m-%d"
        ).date()  # no 02-29: not every year has one
    except ValueError:
        day = None
    if day is None or len(text) != 5 or day.month > 8:
        raise KeepwarmError(
            "--first-day: expected MM-DD between 01-01 and 08-31 (the year after the offers)"
        )
    return day.month, day.day


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


@app.command("policy-eval")
def policy_eval(
    candidates: Annotated[int, typer.Option(min=20, help="Candidates in the season.")] = 200,
    seeds: Annotated[int, typer.Option(min=1, help="Seasons replayed (one per seed).")] = 3,
    capacity: Annotated[
        int, typer.Option(min=1, help="Contacts per recruiter per day under the rules.")
    ] = 2,
    train_candidates: Annotated[
        int, typer.Option(min=100, help="Candidates in the earlier season the model learns from.")
    ] = 2000,
    first_day: Annotated[
        str,
        typer.Option(
            help="The new hires' first working day, MM-DD, between 01-01 and 08-31 of the "
            "year after the offers (an earlier one: a shorter wait, and a shorter replay)."
        ),
    ] = "07-06",
) -> None:
    """Replay a simulated season under no outreach, the brief's rules and keepwarm's plan."""
    start = _month_day(first_day)  # before the imports: a typo costs no wait

    from outreach.replay import POLICIES
    from outreach.replay import policy_eval as replay
    from training.config import load_config

    typer.echo(
        f"replaying {seeds} simulated season(s) of {candidates} candidates starting work on "
        f"{first_day}; keepwarm makes as many HR contacts per recruiter and day as the rules "
        f"did (up to {capacity}) ..."
    )
    result = replay(
        candidates,
        seeds,
        capacity,
        load_config(),
        train_candidates=train_candidates,
        first_day=start,
    )
    typer.echo(
        f"{'seed':>5} {'policy':<9} {'renege':>7} {'joined':>7} {'contacts':>9}  contacts by kind"
    )
    for s in result.seeds:
        for p in POLICIES:
            kinds = ", ".join(f"{k} {v}" for k, v in sorted(s.kinds[p].items())) or "-"
            typer.echo(
                f"{s.seed:>5} {p:<9} {s.renege_rate[p]:>7.1%} {s.joined[p]:>7} "
                f"{s.contacts[p]:>9}  {kinds}"
            )
    summary = result.summary()
    rates = summary["renege_rate"]
    line = (
        "keepwarm vs the rules at equal contacts: renege rate "
        f"{rates['keepwarm']:.1%} vs {rates['rules']:.1%}"
    )
    cut, (lo, hi) = summary["relative_reduction"], summary["ci95"]
    if cut is None:
        line += "; the rules lost nobody, so there is no reduction to measure"
    else:
        line += f", a relative reduction of {cut:.1%}"
        line += (
            f" (95% CI over seeds {lo:.1%} .. {hi:.1%})" if lo is not None else " (one seed: no CI)"
        )
    typer.echo(line)
    typer.echo(json.dumps(summary))


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Serve the API (and the champion model) with uvicorn."""
    import uvicorn

    from store.db import open_store

    settings = get_settings()
    open_store(settings).dispose()  # migrate once, before workers start
    os.environ["KEEPWARM_WORKERS"] = str(workers)
    if workers > 1:
        # Each worker writes its metrics to files here; /metrics adds them up.
        metrics_dir = settings.ensure_home() / "prometheus"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir()
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    where = settings.store_url.split("@")[-1]  # never print a password from the URL
    typer.echo(f"keepwarm serving on http://{host}:{port} (docs at /docs), store {where}")
    uvicorn.run(
        "serving.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        # uvicorn restarts a worker that does not answer its supervisor within 5 s; a busy
        # host starting workers that load a model takes longer (MLflow's server looped so).
        timeout_worker_healthcheck=60,
        log_level="warning",
        access_log=False,
    )


keys_app = typer.Typer(help="API keys: create, list, revoke.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help="ats, hr, lead or admin.")],
    owner: Annotated[
        str | None, typer.Option(help="For hr keys: the hr_owner whose candidates it sees.")
    ] = None,
    label: Annotated[str | None, typer.Option(help="A note to recognise the key by.")] = None,
) -> None:
    """Create an API key. The key is printed once, alone on the last line; only its hash is kept."""
    from serving.auth import create_key
    from store.db import open_store

    new = create_key(open_store(get_settings()), role, owner, label)
    scope = f" for {new.hr_owner}" if new.hr_owner else ""
    typer.echo(f"created key {new.key_id} ({new.role}{scope}); it is shown this once:")
    typer.echo(new.key)


@keys_app.command("list")
def keys_list() -> None:
    """List keys (ids, roles, owners; never the keys themselves)."""
    from serving.auth import list_keys
    from store.db import open_store

    for k in list_keys(open_store(get_settings())):
        state = "revoked" if k["revoked"] else "active"
        typer.echo(
            f"{k['key_id']:>4}  {k['prefix']}...  {k['role']:<5} {k['hr_owner'] or '-':<8} "
            f"{state:<8} {k['created_at']}  {k['label'] or ''}"
        )


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[int, typer.Argument(help="The key's id (keys list).")]) -> None:
    """Revoke a key; the service refuses it within seconds."""
    from serving.auth import revoke_key
    from store.db import open_store

    if not revoke_key(open_store(get_settings()), key_id):
        raise KeepwarmError(f"no active key with id {key_id}")
    typer.echo(f"revoked key {key_id}")


users_app = typer.Typer(
    help="Console users: create, list, password, disable.", no_args_is_help=True
)
app.add_typer(users_app, name="users")


def _read_password(confirm: bool = True) -> str:
    """From standard input when it is not a terminal (scripts), else asked twice, unechoed."""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    import getpass

    password = getpass.getpass("password: ")
    if confirm and getpass.getpass("again: ") != password:
        raise KeepwarmError("the two passwords differ")
    return password


@users_app.command("create")
def users_create(
    name: Annotated[str, typer.Argument(help="The name to sign in with.")],
    role: Annotated[str, typer.Option(help="hr, lead or admin.")],
    owner: Annotated[
        str | None, typer.Option(help="For hr users: the hr_owner whose candidates they see.")
    ] = None,
) -> None:
    """Create a console user; the password comes from standard input, or is asked for."""
    from serving.users import create_user
    from store.db import open_store

    engine = open_store(get_settings())
    create_user(engine, name, role, _read_password(), owner)
    scope = f" for {owner}" if owner else ""
    typer.echo(f"created user {name} ({role}{scope})")


@users_app.command("list")
def users_list() -> None:
    """List console users (never their passwords)."""
    from serving.users import list_users
    from store.db import open_store

    for u in list_users(open_store(get_settings())):
        state = "disabled" if u["disabled"] else "active"
        typer.echo(
            f"{u['name']:<16} {u['role']:<5} {u['hr_owner'] or '-':<8} {state:<8} {u['created_at']}"
        )


@users_app.command("password")
def users_password(name: Annotated[str, typer.Argument(help="The user's name.")]) -> None:
    """Set a new password (from standard input, or asked for); the user's sessions end."""
    from serving.users import set_password
    from store.db import open_store

    set_password(open_store(get_settings()), name, _read_password())
    typer.echo(f"password of {name} changed; their sessions ended")


@users_app.command("disable")
def users_disable(name: Annotated[str, typer.Argument(help="The user's name.")]) -> None:
    """Stop a user from signing in, and sign them out now."""
    from serving.users import disable_user
    from store.db import open_store

    disable_user(open_store(get_settings()), name)
    typer.echo(f"disabled {name}")


# --- privacy and compliance -------------------------------------------------------------


@app.command("audit")
def audit_cmd(
    candidate: Annotated[
        str | None, typer.Option(help="Entries about this candidate (an erasure too).")
    ] = None,
    actor: Annotated[
        str | None, typer.Option(help="key:3, user:wang, cli:root, or just the name.")
    ] = None,
    since: Annotated[str | None, typer.Option(help="From this day on, YYYY-MM-DD.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """List the audit log: who read or changed whose data, when, and from where."""
    from store import audit
    from store.db import open_store

    engine = open_store(get_settings())
    day = _parse_day(since) if since else None
    frame = audit.entries(engine, candidate, actor, day, limit=limit)
    audit.record(engine, audit.Actor.cli(), "read", "keepwarm audit",
                 detail={"candidate_filter": candidate is not None})  # fmt: skip
    for row in frame.itertuples(index=False):
        if as_json:
            typer.echo(json.dumps({k: getattr(row, k) for k in frame.columns}, default=str,
                                  ensure_ascii=False))  # fmt: skip
            continue
        who = row.candidate_id or (
            f"{len(row.subjects)} candidates" if isinstance(row.subjects, list) else ""
        )
        if not who and isinstance(row.detail, dict) and "subject_hash" in row.detail:
            who = "#" + str(row.detail["subject_hash"])[:12]
        typer.echo(
            f"{row.at:%Y-%m-%d %H:%M:%S}  {row.actor:<18} {row.action:<16} {row.target:<40} "
            f"{who}  {row.origin or ''}"
        )
    typer.echo(f"{len(frame)} entries", err=True)


@app.command()
def forget(
    candidate_id: Annotated[str, typer.Argument(help="The candidate to erase.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Erase a candidate's personal data from every table keepwarm keeps (PIPL art. 47).

    The erasure is recorded in the audit log without the erased data, and a tombstone of
    the id's hash keeps an old bundle from bringing the person back.
    """
    from serving.services.erasure import forget as erase
    from store import audit
    from store.db import open_store

    if not yes and not typer.confirm(f"erase {candidate_id} everywhere? this cannot be undone"):
        raise typer.Exit(1)
    removed = erase(open_store(get_settings()), candidate_id, audit.Actor.cli(), "keepwarm forget")
    typer.echo(f"erased {candidate_id}: " + ", ".join(
        f"{table} {n}" for table, n in sorted(removed.rows.items())))  # fmt: skip
    typer.echo(json.dumps({"candidate_id": candidate_id, "removed": removed.rows}))


@app.command("withdraw-consent")
def withdraw_consent(
    candidate_id: Annotated[str, typer.Argument(help="The candidate who withdrew consent.")],
) -> None:
    """Delete a candidate's stored outside signals and stop using them from the next score."""
    from serving.services.erasure import withdraw_consent as withdraw
    from store import audit
    from store.db import open_store

    engine = open_store(get_settings())
    deleted = withdraw(engine, candidate_id, audit.Actor.cli(), "keepwarm withdraw-consent")
    typer.echo(f"consent withdrawn for {candidate_id}: {deleted} outside signals deleted")


@app.command()
def effects(
    as_of: Annotated[
        str | None, typer.Option(help="Learn from what was known by this day (default today).")
    ] = None,
) -> None:
    """Learn each action's effect on renege from the store's logs and store it with intervals."""
    from outreach.effects import learn_effects
    from outreach.plan import PlanConfig
    from store.db import open_store

    day = _parse_day(as_of)
    frame = learn_effects(open_store(get_settings()), day, PlanConfig().effects)
    typer.echo(f"action effects learned as of {day} (relative cut in renege risk, 95% interval)")
    for r in frame.itertuples(index=False):
        interval = (
            f"[{r.effect_low:+.2f}, {r.effect_high:+.2f}]" if r.effect_low == r.effect_low else "-"
        )
        typer.echo(
            f"  {r.action:<18} {r.segment:<16} {r.effect:+.2f} {interval:<16} "
            f"{r.treated_candidates}/{r.candidates} candidates  {r.source}"
        )


@app.command()
def retention(
    today: Annotated[
        str | None, typer.Option(help="Apply the periods as of this day (default today).")
    ] = None,
) -> None:
    """Apply the retention periods now (the nightly `retention` flow does it on a schedule)."""
    settings = get_settings()
    _prepare_flows()
    from flows.pipeline import retention_flow

    result = retention_flow(_parse_day(today))
    typer.echo(
        f"retention ({settings.retention_days} days after the outcome, {result['mode']}): "
        f"{result['candidates']} candidates; {result['audit_entries_purged']} audit entries "
        f"older than {settings.audit_keep_days} days purged"
    )
    typer.echo(json.dumps(result))


def _print_plan(engine: Engine, day: dt.date) -> None:
    """The day's open alerts by kind, and one recruiter's plan, as the daily flow stored them."""
    import pandas as pd
    from sqlalchemy import select

    from store.schema import Alert, OutreachAction

    with engine.connect() as conn:
        alerts = pd.read_sql(select(Alert.kind).where(Alert.resolved_at.is_(None)), conn)
        plan = pd.read_sql(select(OutreachAction).where(OutreachAction.plan_date == day), conn)
    from outreach.plan import ALERT_WORDS

    kinds = alerts["kind"].value_counts()
    counts = "，".join(f"{ALERT_WORDS[k][0]} {v}" for k, v in kinds.items())
    typer.echo(f"\n预警 (open alerts): {len(alerts)}：{counts}")
    tasks = plan[plan["status"] == "planned"]
    auto = plan[plan["status"] == "auto"]
    typer.echo(
        f"今日计划 (plans): {len(tasks)} tasks for {tasks['hr_owner'].nunique()} recruiters, "
        f"{len(auto)} cadence messages"
    )
    if tasks.empty:
        return
    from outreach.digest import build_digests

    digest = build_digests(engine, day)[0]
    typer.echo(f"{digest.owner} 的每日摘要 (digest; e-mail and chat bot are off until configured):")
    for line in [digest.subject, *digest.lines[:6]]:
        typer.echo(f"  {line}")


def _log_crash(exc: BaseException) -> Path | None:
    """Keep where an unexpected error happened in a file, not on the user's screen.

    Frames and exception types only: a message can hold a candidate's data.
    """
    try:
        folder = get_settings().ensure_home() / "logs"
        folder.mkdir(exist_ok=True)
        path = folder / "crash.log"
        when = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        command = " ".join(sys.argv[1:2])  # the command, not its arguments (ids, paths)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(f"--- {when} keepwarm {command}\n{safe_traceback(exc)}\n")
        return path
    except Exception:  # a full disk, an unreadable setting: the one line still goes out
        return None


def _store_name() -> str:
    """The configured store, as a user would recognise it, without a password."""
    try:
        from sqlalchemy import make_url

        return make_url(get_settings().store_url).render_as_string(hide_password=True)
    except Exception:
        return "the configured store"


def _is(exc: BaseException, module: str, *names: str) -> bool:
    """Whether ``exc`` is one of ``module``'s types, without importing it (MLflow is slow to)."""
    loaded = sys.modules.get(module)
    return loaded is not None and isinstance(exc, tuple(getattr(loaded, n) for n in names))


def _reason(exc: BaseException) -> str | None:
    """One line on a failure of the machine or a dependency, or None if it is a bug.

    Built from types, codes and settings, never from an exception's message (the
    store's messages repeat the rows they refused), except a connection error's.
    """
    if _is(exc, "sqlalchemy.exc", "OperationalError", "InterfaceError", "TimeoutError"):
        # Connection-class errors: "connection refused", "database is locked", "disk is full".
        orig = getattr(exc, "orig", None) or exc
        first = (str(orig).strip().splitlines() or [""])[0][:200]
        if get_settings().store_url.startswith("sqlite"):
            hint = "check that the disk has room and no other program holds the file"
        else:
            hint = "check that it is running and reachable, and KEEPWARM_DATABASE_URL"
        return (
            f"the store {_store_name()} could not be used ({type(orig).__name__}: {first}); " + hint
        )
    if _is(exc, "sqlalchemy.exc", "DBAPIError"):
        orig = getattr(exc, "orig", None)
        code = getattr(orig, "sqlstate", None)
        what = type(orig).__name__ + (f", SQLSTATE {code}" if code else "")
        hint = _SQLSTATE_HINTS.get(code or "", "")
        return (
            f"the store {_store_name()} refused the data ({what}){hint}; the values are "
            "not shown or logged"
        )
    if _is(exc, "mlflow.exceptions", "MlflowException"):
        return (
            f"MLflow at {public_url(get_settings().tracking_uri)} failed "
            f"({getattr(exc, 'error_code', '?')}); check that it is reachable, and "
            "MLFLOW_TRACKING_URI"
        )
    if _is(exc, "httpx", "TransportError"):
        try:
            where = public_url(str(exc.request.url))  # type: ignore[attr-defined]
        except RuntimeError:  # no request attached
            where = "a service"
        return f"{where} did not answer ({type(exc).__name__}); is it running and reachable?"
    if isinstance(exc, MemoryError):
        return "out of memory; free some, or run this on a larger machine"
    if isinstance(exc, OSError) and exc.errno is not None:
        name = errno.errorcode.get(exc.errno, str(exc.errno))
        where = f" ({exc.filename})" if exc.filename else ""
        hint = _ERRNO_HINTS.get(exc.errno, "")
        return f"{exc.strerror or name} [{name}]{where}{hint}"
    return None


_SQLSTATE_HINTS = {
    "22001": ": a value is longer than its column allows",
    "22003": ": a number is out of its column's range",
    "23502": ": a required value is missing",
    "23505": ": a key is there already",
    "23503": ": a row refers to one that is not there",
    "40001": ": it clashed with another write; run the command again",
    "40P01": ": it clashed with another write; run the command again",
}
_ERRNO_HINTS = {
    errno.ENOSPC: "; free some space and run the command again",
    errno.EDQUOT: "; free some space and run the command again",
    errno.EACCES: "; check the permissions of KEEPWARM_HOME and the paths given",
    errno.EPERM: "; check the permissions of KEEPWARM_HOME and the paths given",
    errno.EROFS: "; KEEPWARM_HOME must be on a writable disk",
}


def main() -> None:
    pace_garbage_collector()  # before the command imports MLflow, scikit-learn, Prefect...
    # MLflow configures its own console logger at import; keep it to warnings.
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    console = logging.StreamHandler()
    console.setFormatter(SafeFormatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[console])
    # Libraries set their own loggers to INFO (Prefect, MLflow); the console shows warnings up.
    for handler in logging.getLogger().handlers:
        handler.setLevel(logging.WARNING)
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        app(standalone_mode=False)
    except KeepwarmError as exc:
        print(f"keepwarm: {exc}", file=sys.stderr)
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        print("keepwarm: aborted", file=sys.stderr)
        sys.exit(1)
    except TyperException as exc:  # usage errors: bad option, bad value
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            print(f"keepwarm: {exc}", file=sys.stderr)
        sys.exit(1)
    except Exception as exc:
        where = _log_crash(exc)
        hint = f"; details in {where}" if where else ""
        cause = exc.original if isinstance(exc, WithheldError) else exc
        reason = _reason(cause) or f"internal error ({type(cause).__name__})"
        print(f"keepwarm: {reason}{hint}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

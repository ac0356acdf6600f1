"""MLflow at the edge: log a training run, register the model, gate its promotion.

Tracking lives under KEEPWARM_HOME by default (a SQLite backend and local
artifacts); MLFLOW_TRACKING_URI points it at a server. Serving and scoring load
the model by alias (``models:/keepwarm-dropout@champion``), never by a path. A tenant
on a shared server has its own registered model and experiment (``model_name``).
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST, ErrorCode
from mlflow.types import ColSpec, Schema
from sklearn.base import clone
from sklearn.calibration import calibration_curve
from sklearn.metrics import roc_auc_score, roc_curve

from config import Settings
from store.errors import KeepwarmError
from training.config import GateRules
from training.fairness import audit_scores, flagged
from training.gate import GateDecision, gate_decision, standing_comparison, standing_note
from training.model import DropoutClassifier
from training.modelcard import build_card, card_markdown
from training.report import evaluation_summary
from training.train import TrainResult, fingerprint

MODEL_NAME = "keepwarm-dropout"
EXPERIMENT = "keepwarm-dropout"
PYFUNC_CODE = Path(__file__).with_name("pyfunc_model.py")
Promote = Literal["auto", "force", "never"]
log = logging.getLogger(__name__)
_NOT_FOUND = {ErrorCode.Name(RESOURCE_DOES_NOT_EXIST), ErrorCode.Name(INVALID_PARAMETER_VALUE)}


@dataclass
class Registered:
    """A logged training run: its registered version and alias ("" and "unregistered" for
    a run logged without registering), the gate's reason, and the decision with figures."""

    run_id: str
    version: str
    alias: str
    reason: str
    decision: GateDecision | None = None


def model_name(settings: Settings) -> str:
    """The registered model's name: a tenant's own on a shared tracking server.

    A tenant without ``MLFLOW_TRACKING_URI`` has a registry of its own under its home, where
    the plain name is already its own (and a company's home moved under ``tenants/`` keeps
    its models); on a shared server each tenant's versions and ``champion`` alias live
    under ``keepwarm-dropout-<tenant>``.
    """
    if settings.tenant and settings.mlflow_tracking_uri:
        return f"{MODEL_NAME}-{settings.tenant}"
    return MODEL_NAME


def experiment_name(settings: Settings) -> str:
    """The experiment training runs are logged in: a tenant's own on a shared server."""
    if settings.tenant and settings.mlflow_tracking_uri:
        return f"{EXPERIMENT}-{settings.tenant}"
    return EXPERIMENT


def configure(settings: Settings) -> MlflowClient:
    """Point MLflow at keepwarm's store and make sure the experiment exists."""
    if settings.mlflow_tracking_uri is None:
        settings.ensure_home()
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_registry_uri(settings.tracking_uri)
    client = MlflowClient()
    experiment = experiment_name(settings)
    if client.get_experiment_by_name(experiment) is None:
        artifacts = None
        if settings.mlflow_tracking_uri is None:
            artifacts = (settings.resolved_home / "mlartifacts").as_uri()
        client.create_experiment(experiment, artifact_location=artifacts)
    mlflow.set_experiment(experiment)
    return client


def _plots(result: TrainResult, folder: Path) -> list[Path]:
    """The test season's ROC, calibration, lift and gain-importance charts, as PNGs in
    ``folder``. Drawn on ``matplotlib.figure.Figure`` without pyplot (matplotlib's way for
    servers: no global backend or figure registry), imported here: matplotlib is ~1 s of
    each serving or CLI process's start-up that never draws."""
    from matplotlib.figure import Figure

    def subplots(figsize: tuple[float, float]) -> tuple[Any, Any]:
        fig = Figure(figsize=figsize)
        return fig, fig.subplots()

    test = result.test
    y = test["label"].to_numpy()
    paths = []
    fig, ax = subplots(figsize=(5, 5))
    for name in ("keepwarm", "logistic", "rules"):
        fpr, tpr, _ = roc_curve(y, test[f"risk_{name}"])
        ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(y, test[f'risk_{name}']):.3f})")
    ax.plot([0, 1], [0, 1], ":", color="grey")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC, test season")
    ax.legend()
    paths.append(folder / "roc.png")
    fig.savefig(paths[-1], dpi=100, bbox_inches="tight")

    fig, ax = subplots(figsize=(5, 5))
    obs, pred = calibration_curve(y, test["risk_keepwarm"], n_bins=10, strategy="quantile")
    ax.plot(pred, obs, "o-", label="keepwarm")
    ax.plot([0, 1], [0, 1], ":", color="grey")
    ax.set(xlabel="predicted risk", ylabel="observed renege rate", title="Calibration")
    paths.append(folder / "calibration.png")
    fig.savefig(paths[-1], dpi=100, bbox_inches="tight")

    fig, ax = subplots(figsize=(6, 4))
    order = np.argsort(-test["risk_keepwarm"].to_numpy())
    share = np.arange(1, len(y) + 1) / len(y)
    ax.plot(share, np.cumsum(y[order]) / max(y.sum(), 1), label="keepwarm")
    ax.plot([0, 1], [0, 1], ":", color="grey", label="random")
    ax.set(
        xlabel="share of snapshots contacted",
        ylabel="share of reneges reached",
        title="Lift (cumulative gains)",
    )
    ax.legend()
    paths.append(folder / "lift.png")
    fig.savefig(paths[-1], dpi=100, bbox_inches="tight")

    booster = result.model.booster_
    gain = pd.Series(booster.feature_importance("gain"), index=booster.feature_name())
    top = gain.sort_values().tail(20)
    fig, ax = subplots(figsize=(6, 6))
    ax.barh(top.index, top.to_numpy())
    ax.set(title="Feature importance (gain)")
    paths.append(folder / "feature_importance.png")
    fig.savefig(paths[-1], dpi=100, bbox_inches="tight")
    return paths


def _signature(features: list[str]) -> ModelSignature:
    """Every feature may be missing (LightGBM handles it); role family is text."""
    inputs = Schema(
        [ColSpec("string" if f == "role_family" else "double", f, required=False) for f in features]
    )
    outputs = Schema([ColSpec("double", "risk"), ColSpec("double", "risk_30d")])
    return ModelSignature(inputs=inputs, outputs=outputs)


@dataclass
class Champion:
    """The serving model, and the seasons its trees and calibration were fitted on.

    ``fitted_on`` is None when its run did not record them: the gate then treats every
    season as possibly seen.
    """

    version: str
    model: DropoutClassifier
    fitted_on: list[str] | None


def _fitted_on(run_id: str | None) -> list[str] | None:
    """The seasons a run's model was fitted on (lineage.json, else its data fingerprint)."""
    if not run_id:
        return None
    lineage = _run_dict(run_id, "lineage.json")
    if lineage.get("fitted_on"):
        return [str(s) for s in lineage["fitted_on"]]
    train = _run_dict(run_id, "data_fingerprint.json").get("train") or {}
    seasons = train.get("seasons")
    return [str(s) for s in seasons] if seasons else None


def _champion(client: MlflowClient, name: str = MODEL_NAME) -> Champion | None:
    try:
        mv = client.get_model_version_by_alias(name, "champion")
    except MlflowException:
        return None
    return Champion(str(mv.version), load_model_version(mv.version, name), _fitted_on(mv.run_id))


def load_model_version(model_version: str, name: str = MODEL_NAME) -> DropoutClassifier:
    with tempfile.TemporaryDirectory() as tmp:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{name}/{model_version}", dst_path=tmp
        )
        return DropoutClassifier.load(Path(local) / "artifacts" / "model_dir")


def load_version(settings: Settings, model_version: str) -> Champion:
    """A registered version, with the seasons it was fitted on; KeepwarmError if none."""
    client, name = configure(settings), model_name(settings)
    try:
        mv = client.get_model_version(name, model_version)
    except MlflowException as exc:
        if exc.error_code not in _NOT_FOUND:
            raise
        raise KeepwarmError(f"no model version {model_version} of {name}") from exc
    return Champion(
        str(mv.version), load_model_version(str(mv.version), name), _fitted_on(mv.run_id)
    )


def current_champion(settings: Settings) -> Champion | None:
    """The version behind the ``champion`` alias with its fitted-on seasons, or None."""
    return _champion(configure(settings), model_name(settings))


def load_champion(settings: Settings) -> tuple[DropoutClassifier, str]:
    """The model behind the ``champion`` alias, and its version."""
    client, name = configure(settings), model_name(settings)
    try:
        mv = client.get_model_version_by_alias(name, "champion")
    except MlflowException as exc:
        # Only "no such model or alias" means there is none; a registry that failed to
        # answer is a different problem, and the caller names it.
        if exc.error_code not in _NOT_FOUND:
            raise
        raise KeepwarmError("no champion model yet: run `keepwarm train` first") from exc
    return load_model_version(mv.version, name), str(mv.version)


def _seasons(result: TrainResult, key: str) -> list[str]:
    part = result.fingerprint.get(key)
    if isinstance(part, dict) and part.get("seasons"):
        return [str(s) for s in part["seasons"]]
    frame = result.test if key == "test" else result.train
    if frame is None or "season" not in frame:
        return []
    return sorted(str(s) for s in frame["season"].unique())


def refit_recipe(
    model: DropoutClassifier, train: pd.DataFrame, within: bool = False
) -> DropoutClassifier:
    """``model``'s recipe (its parameters and the features of it the data still has)
    fitted afresh on ``train`` (labelled snapshots with ``candidate_id``), as
    ``training.train.fit_dropout`` fits one: with the snapshots' days (``as_of``) for
    the calibrator's choice where ``train`` has them.

    ``within``: also refit its time-to-renege part (``label_30d``), when ``model`` has
    one; a refit that is served needs it (``risk_30d``), a refit the gate only compares
    on eventual risk does not. Raises KeepwarmError when no feature is left, or when the
    part is asked for and ``train`` has no ``label_30d``.
    """
    features = [f for f in model.features_ if f in train.columns]
    if not features:
        raise KeepwarmError("none of the champion's features exist in this data")
    y_within = None
    if within and model.within_ is not None:
        if "label_30d" not in train.columns:
            raise KeepwarmError("the time-to-renege part needs label_30d to be refitted")
        y_within = train["label_30d"].to_numpy()
    days = train["as_of"].astype(str).to_numpy() if "as_of" in train.columns else None
    return clone(model).fit(
        train,
        train["label"].to_numpy(),
        groups=train["candidate_id"].to_numpy(),
        y_within=y_within,
        days=days,
        features=features,
    )


def decide_promotion(
    result: TrainResult,
    promote: Promote,
    champion: Champion | None,
    rules: GateRules | None = None,
) -> GateDecision:
    """The promotion gate: whether the new model becomes champion, and why, with figures.

    The champion is scored on the challenger's test season only if it was not fitted on
    it and has every feature it needs; otherwise its recipe (parameters, and the features
    that still exist) is refitted on the challenger's training snapshots and that refit is
    compared, or, without training snapshots, nothing is promoted. See ``training.gate``.
    """
    rules = rules or (result.config.gate if result.config is not None else GateRules())
    test = result.test
    if promote == "force" or champion is None:
        if promote == "force":
            decision = GateDecision(True, "forced with --promote=force")
        elif promote == "never":
            decision = GateDecision(False, "no champion yet, but --promote=never")
        else:
            decision = GateDecision(True, "first model: no champion to beat")
        if {"risk_keepwarm", "risk_logistic"} <= set(test.columns):
            # the standing simple model is measured beside every run, gate or not
            decision.standing, decision.figures = standing_comparison(
                test, test["risk_keepwarm"].to_numpy(), test["risk_logistic"].to_numpy(), rules
            )
        return decision
    test_seasons = _seasons(result, "test")
    seen = (
        sorted(set(champion.fitted_on) & set(test_seasons))
        if champion.fitted_on is not None
        else None
    )
    missing = [f for f in champion.model.features_ if f not in test.columns]
    name = f"champion v{champion.version}"
    if seen == [] and not missing:
        p_old = champion.model.predict_proba(test[champion.model.features_])[:, 1]
    else:
        why = (
            f"needs features this data lacks ({', '.join(missing[:5])})"
            if missing
            else "has no record of its training seasons"
            if seen is None
            else f"was fitted on {', '.join(seen)}, the test season"
        )
        if result.train is None:
            return GateDecision(
                False,
                f"{name} {why}: no honest comparison and no training snapshots to refit its "
                "recipe on; kept the champion",
            )
        refit = refit_recipe(champion.model, result.train)
        p_old = refit.predict_proba(test[refit.features_])[:, 1]
        trained = ", ".join(_seasons(result, "train")) or "the challenger's seasons"
        name = f"{name} ({why}; its recipe refitted on {trained})"
    decision = gate_decision(
        test,
        test["risk_keepwarm"].to_numpy(),
        p_old,
        result.horizons,
        rules,
        name,
        test["risk_logistic"].to_numpy() if "risk_logistic" in test else None,
    )
    if promote == "never":
        decision.promoted = False
        decision.reason += " (--promote=never)"
    return decision


def code_version() -> dict[str, str]:
    """The code a run was trained with: package version, and the git commit if a checkout."""
    out = {"code.package_version": _package_version()}
    root = Path(__file__).resolve().parents[1]
    if (root / ".git").exists():
        try:
            commit = subprocess.run(
                ["git", "-C", str(root), "rev-parse", "HEAD"],
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            ).stdout.strip()
            dirty = subprocess.run(
                ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return out
        out["code.git_commit"] = commit
        out["code.git_dirty"] = "true" if dirty else "false"
    return out


def _package_version() -> str:
    try:
        return version("keepwarm")
    except PackageNotFoundError:
        return "unknown"


def lineage(result: TrainResult, fitted_on: list[str]) -> dict[str, Any]:
    """Everything needed to say how a model was made: seasons, settings, what fitting chose."""
    model = result.model
    cfg = result.config
    return {
        "train_seasons": _seasons(result, "train"),
        "test_season": ",".join(_seasons(result, "test")),
        "fitted_on": fitted_on,
        "settings": cfg.model_dump(mode="json") if cfg is not None else None,
        "chosen_rounds": int(getattr(model, "rounds_", 0)),
        "calibrator": getattr(getattr(model, "calibration_", None), "kind", None),
        "features": len(model.features_),
        "model_params": {k: v for k, v in model.get_params().items() if k != "params"},
        **code_version(),
    }


def _flat_params(lin: dict[str, Any]) -> dict[str, str]:
    """The lineage as MLflow parameters (flat keys, values as text, at most 6000 chars)."""
    out = {
        "train_seasons": ",".join(lin["train_seasons"]),
        "test_season": lin["test_season"],
        "fitted_on": ",".join(lin["fitted_on"]),
        "chosen_rounds": str(lin["chosen_rounds"]),
        "calibrator": str(lin["calibrator"]),
        "features": str(lin["features"]),
    }
    for k, v in lin["model_params"].items():
        out[f"model.{k}"] = str(v)
    settings = lin.get("settings") or {}
    for k, v in settings.items():
        if isinstance(v, dict):
            for kk, vv in v.items():
                out[f"{k}.{kk}"] = str(vv)[:6000]
        else:
            out[k] = str(v)[:6000]
    return out


PYFUNC_MODULES = (
    "training/__init__.py",
    "training/model.py",
    "training/predictor.py",
    "training/evaluate.py",
    "features/__init__.py",
    "features/catalogue.py",
    "store/__init__.py",
    "store/errors.py",
)


def _code_bundle(folder: Path) -> list[str]:
    """The keepwarm modules the pyfunc imports, copied as packages (MLflow ``code_paths``)."""
    root = Path(__file__).resolve().parents[1]
    for rel in PYFUNC_MODULES:
        dest = folder / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / rel, dest)
    return sorted({str(folder / rel.split("/")[0]) for rel in PYFUNC_MODULES})


PYFUNC_REQUIREMENTS = ("lightgbm", "pandas", "numpy", "scikit-learn", "scipy", "mlflow")


def _refit_on_all(result: TrainResult) -> tuple[DropoutClassifier, pd.DataFrame]:
    """The challenger's recipe fitted again on its training and test snapshots together."""
    assert result.train is not None
    cols = [*result.model.features_, "label", "candidate_id", "as_of", "season"]
    frames = (result.train, result.test)
    within = result.model.within_ is not None and all("label_30d" in f for f in frames)
    if within:
        cols.append("label_30d")  # the served model's risk_30d is refitted too
    both = pd.concat([f[cols] for f in frames], ignore_index=True)
    return refit_recipe(result.model, both, within=within), both


def log_within(within: pd.DataFrame, folder: Path) -> None:
    """The time-to-renege output's held-out comparison (``training.evaluate.within_comparison``)
    as metrics ``within30.<slice>.<column>`` and the table ``within_30d.csv``."""
    metrics: dict[str, float] = {}
    for row in within.to_dict("records"):
        slug = str(row["slice"]).replace("=", "_").replace(">", "gt").replace("<", "le")
        for key, value in row.items():
            if key != "slice" and value is not None and not pd.isna(value):
                metrics[f"within30.{slug}.{key}"] = float(value)
    mlflow.log_metrics(metrics)  # one batch: a call a metric took seconds per run
    within.to_csv(folder / "within_30d.csv", index=False)
    mlflow.log_artifact(str(folder / "within_30d.csv"))


def log_and_register(
    result: TrainResult,
    params: Mapping[str, object] | None,
    settings: Settings,
    promote: Promote = "auto",
    fairness: dict[str, Any] | None = None,
    refit_winner: bool = False,
    register: bool = True,
) -> Registered:
    """The one logging path of a training run: lineage, data fingerprint, held-out metrics,
    plots, bias audit, the gate's decision and figures; then the model, registered, and
    its alias.

    ``params`` adds to the lineage (who started the run, say). Without ``fairness`` the bias
    audit of the test season is computed here. With ``refit_winner``, a promoted challenger
    is refitted on its training and test seasons (every closed season, when the caller
    trained on all but the newest) and that refit is what is registered; its held-out
    figures are the recipe's, measured before the refit. With ``register=False`` the run
    (the gate's view included) is logged and the model stays unregistered.
    """
    client, name = configure(settings), model_name(settings)
    # a forced promotion needs no champion: it is not downloaded
    champion = None if promote == "force" else _champion(client, name)
    decision = decide_promotion(result, promote, champion)
    reason = decision.reason
    note = standing_note(decision, "the logistic regression")
    model, fitted_on = result.model, _seasons(result, "train")
    fingerprints = dict(result.fingerprint)
    if decision.promoted and refit_winner and result.train is not None:
        model, both = _refit_on_all(result)
        fitted_on = sorted(set(fitted_on) | set(_seasons(result, "test")))
        fingerprints["fitted"] = fingerprint(both, fitted_on)
        reason += f"; refitted on {', '.join(fitted_on)}"
    if fairness is None:
        from store.db import open_store

        share = result.config.hr_capacity_share if result.config is not None else 0.05
        test = result.test.rename(columns={"risk_keepwarm": "risk"})
        fairness = audit_scores(open_store(settings), test, share)
    lin = lineage(result, fitted_on)
    logged: dict[str, object] = {
        **_flat_params(lin),
        **{k: str(v) for k, v in (params or {}).items()},
    }
    with tempfile.TemporaryDirectory() as tmp, mlflow.start_run() as run:
        folder = Path(tmp)
        mlflow.log_params(logged)
        mlflow.log_dict(lin, "lineage.json")
        mlflow.set_tags({k: v for k, v in lin.items() if k.startswith("code.")})
        mlflow.log_dict(fingerprints, "data_fingerprint.json")
        mlflow.set_tags(
            {
                f"data.{k}.sha256": str(v["sha256"])  # type: ignore[index]
                for k, v in fingerprints.items()
            }
        )
        # the held-out metrics in one batch (MLflow's log_batch), not a call each: about
        # 180 calls cost 4 s of a registration
        metrics: dict[str, float] = {}
        for row in result.metrics.itertuples(index=False):
            for metric in (
                "auc",
                "pr_auc",
                "brier",
                "log_loss",
                "ece",
                "precision_top",
                "recall_top",
                "precision_capacity",
                "recall_capacity",
            ):
                value = getattr(row, metric, None)
                if value is not None and not pd.isna(value):
                    slug = row.slice.replace("=", "_").replace(">", "gt").replace("<", "le")
                    metrics[f"{row.scorer}.{slug}.{metric}"] = float(value)
        for key, value in result.oracle.items():
            if value is not None:
                metrics[f"oracle.{key}"] = float(value)
        mlflow.log_metrics(metrics)
        result.metrics.to_csv(folder / "metrics.csv", index=False)
        mlflow.log_artifact(str(folder / "metrics.csv"))
        if result.within is not None:
            log_within(result.within, folder)
        mlflow.log_dict({"features": model.features_}, "features.json")
        evaluation = evaluation_summary(result.test, result.horizons, result.model.calibration_)
        if result.within is not None:  # the time-to-renege output, by horizon
            evaluation["within_30d"] = [
                {k: (None if pd.isna(v) else v) for k, v in row.items()}
                for row in result.within.to_dict("records")
            ]
        mlflow.log_dict(evaluation, "evaluation.json")
        for path in _plots(result, folder):
            mlflow.log_artifact(str(path), artifact_path="plots")

        # the bias audit of the test season: logged, and any four-fifths breach is
        # written into the promotion decision for a person to weigh
        mlflow.log_dict(fairness, "fairness.json")
        mlflow.log_metrics(
            {
                f"fairness.{by}.min_impact_ratio": part["min_impact_ratio"]
                for by, part in fairness.items()
                if part.get("min_impact_ratio") is not None
            }
        )
        breaches = flagged(fairness)
        mlflow.set_tag("fairness.flagged", "; ".join(breaches) or "none")
        if breaches:
            reason += "; fairness flagged: " + "; ".join(breaches)

        model_dir = folder / "model_dir"
        model.save(model_dir)
        example = result.test[model.features_].head(5).copy()
        if "role_family" in example:
            example["role_family"] = example["role_family"].astype(object)
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(PYFUNC_CODE),
            artifacts={"model_dir": str(model_dir)},
            code_paths=_code_bundle(folder / "code"),
            signature=_signature(model.features_),
            input_example=example,
            pip_requirements=[f"{p}=={version(p)}" for p in PYFUNC_REQUIREMENTS],
            registered_model_name=name if register else None,
        )
        model_version = str(info.registered_model_version) if register else ""
        card = build_card(
            model.features_, logged, fingerprints, evaluation, fairness, breaches, settings
        )
        mlflow.log_dict(card, "model_card.json")
        mlflow.log_text(card_markdown(card, model_version), "model_card.md")
        alias = "champion" if decision.promoted else "challenger"
        if register:
            client.set_registered_model_alias(name, alias, model_version)
            client.set_model_version_tag(name, model_version, "promotion", reason)
        else:
            alias, reason = "unregistered", f"not registered; the gate's view: {reason}"
        mlflow.set_tags(
            {
                "promotion.decision": alias,
                "promotion.reason": reason[:5000],
                "promotion.mode": promote,
                "promotion.standing_challenger": note or "none",
            }
        )
        promotion = {f"promotion.{key}": value for key, value in decision.figures.items()}
        if "auc_champion" in decision.figures:
            promotion["promotion.champion_auc"] = decision.figures["auc_champion"]
        mlflow.log_metrics(promotion)
        gate: dict[str, Any] = {
            "alias": alias,
            "reason": reason,
            "version": model_version,
            "standing_challenger": note,
        }
        if decision.comparison is not None:
            gate["comparison"] = decision.comparison.records()
            gate["level"] = decision.comparison.level
            gate["resamples"] = decision.comparison.resamples
        if decision.standing is not None:
            gate["standing"] = decision.standing.records()
        mlflow.log_dict(gate, "promotion.json")
        log.info("model version %s -> %s: %s", model_version, alias, reason)
        return Registered(run.info.run_id, model_version, alias, reason, decision)


def _run_dict(run_id: str, name: str) -> dict[str, Any]:
    try:
        return dict(mlflow.artifacts.load_dict(f"runs:/{run_id}/{name}"))
    except (MlflowException, OSError):  # a run logged before the file existed
        return {}


def model_history(settings: Settings) -> list[dict[str, Any]]:
    """Every registered version, newest first: when, on which data, how good, and its fate."""
    client, name = configure(settings), model_name(settings)
    try:
        versions = client.search_model_versions(f"name='{name}'")
        # a search leaves versions' aliases empty; the registered model has them
        aliases = client.get_registered_model(name).aliases
    except MlflowException:
        return []
    out = []
    for mv in sorted(versions, key=lambda v: int(v.version), reverse=True):
        run = client.get_run(mv.run_id) if mv.run_id else None
        metrics = run.data.metrics if run else {}
        out.append(
            {
                "version": str(mv.version),
                "created": pd.Timestamp(mv.creation_timestamp, unit="ms", tz="UTC"),
                "aliases": sorted(a for a, v in aliases.items() if str(v) == str(mv.version)),
                "promotion": (mv.tags or {}).get("promotion", ""),
                "run_id": mv.run_id,
                "auc": metrics.get("keepwarm.all.auc"),
                "auc_rules": metrics.get("rules.all.auc"),
                "ece": metrics.get("keepwarm.all.ece"),
                "share_of_oracle": metrics.get("oracle.share_of_oracle"),
                "champion_auc": metrics.get("promotion.champion_auc"),
            }
        )
    return out


def version_details(settings: Settings, model_version: str) -> dict[str, Any]:
    """A registered version's data fingerprint, held-out evaluation, bias audit, parameters."""
    client = configure(settings)
    try:
        run_id = client.get_model_version(model_name(settings), model_version).run_id
    except MlflowException:
        return {}
    if not run_id:
        return {}
    run = client.get_run(run_id)
    return {
        "params": dict(run.data.params),
        "data": _run_dict(run_id, "data_fingerprint.json"),
        "evaluation": _run_dict(run_id, "evaluation.json"),
        "fairness": _run_dict(run_id, "fairness.json"),
        "card": _run_dict(run_id, "model_card.json"),
    }

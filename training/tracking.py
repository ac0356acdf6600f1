"""MLflow at the edge: log a training run, register the model, gate its promotion.

Tracking lives under KEEPWARM_HOME by default (a SQLite backend and local
artifacts); MLFLOW_TRACKING_URI points it at a server. Serving and scoring load
the model by alias (``models:/keepwarm-dropout@champion``), never by a path.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any, Literal

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST, ErrorCode
from mlflow.types import ColSpec, Schema
from sklearn.calibration import calibration_curve
from sklearn.metrics import roc_auc_score, roc_curve

from config import Settings
from store.bundle import KeepwarmError
from training.fairness import flagged
from training.model import DropoutClassifier
from training.modelcard import build_card, card_markdown
from training.report import evaluation_summary
from training.train import TrainResult

MODEL_NAME = "keepwarm-dropout"
EXPERIMENT = "keepwarm-dropout"
PYFUNC_CODE = Path(__file__).with_name("pyfunc_model.py")
Promote = Literal["auto", "force", "never"]
log = logging.getLogger(__name__)
_NOT_FOUND = {ErrorCode.Name(RESOURCE_DOES_NOT_EXIST), ErrorCode.Name(INVALID_PARAMETER_VALUE)}


@dataclass
class Registered:
    run_id: str
    version: str
    alias: str
    reason: str


def configure(settings: Settings) -> MlflowClient:
    """Point MLflow at keepwarm's store and make sure the experiment exists."""
    if settings.mlflow_tracking_uri is None:
        settings.ensure_home()
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_registry_uri(settings.tracking_uri)
    client = MlflowClient()
    if client.get_experiment_by_name(EXPERIMENT) is None:
        artifacts = None
        if settings.mlflow_tracking_uri is None:
            artifacts = (settings.resolved_home / "mlartifacts").as_uri()
        client.create_experiment(EXPERIMENT, artifact_location=artifacts)
    mlflow.set_experiment(EXPERIMENT)
    return client


def _plots(result: TrainResult, folder: Path) -> list[Path]:
    test = result.test
    y = test["label"].to_numpy()
    paths = []
    fig, ax = plt.subplots(figsize=(5, 5))
    for name in ("keepwarm", "logistic", "rules"):
        fpr, tpr, _ = roc_curve(y, test[f"risk_{name}"])
        ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(y, test[f'risk_{name}']):.3f})")
    ax.plot([0, 1], [0, 1], ":", color="grey")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC, test season")
    ax.legend()
    paths.append(folder / "roc.png")
    fig.savefig(paths[-1], dpi=100, bbox_inches="tight")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 5))
    obs, pred = calibration_curve(y, test["risk_keepwarm"], n_bins=10, strategy="quantile")
    ax.plot(pred, obs, "o-", label="keepwarm")
    ax.plot([0, 1], [0, 1], ":", color="grey")
    ax.set(xlabel="predicted risk", ylabel="observed renege rate", title="Calibration")
    paths.append(folder / "calibration.png")
    fig.savefig(paths[-1], dpi=100, bbox_inches="tight")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
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
    plt.close(fig)

    booster = result.model.booster_
    gain = pd.Series(booster.feature_importance("gain"), index=booster.feature_name())
    top = gain.sort_values().tail(20)
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.barh(top.index, top.to_numpy())
    ax.set(title="Feature importance (gain)")
    paths.append(folder / "feature_importance.png")
    fig.savefig(paths[-1], dpi=100, bbox_inches="tight")
    plt.close(fig)
    return paths


def _signature(features: list[str]) -> ModelSignature:
    """Every feature may be missing (LightGBM handles it); role family is text."""
    inputs = Schema(
        [ColSpec("string" if f == "role_family" else "double", f, required=False) for f in features]
    )
    return ModelSignature(inputs=inputs, outputs=Schema([ColSpec("double", "risk")]))


def _champion(client: MlflowClient) -> tuple[str, DropoutClassifier] | None:
    try:
        mv = client.get_model_version_by_alias(MODEL_NAME, "champion")
    except MlflowException:
        return None
    return mv.version, load_model_version(mv.version)


def load_model_version(model_version: str) -> DropoutClassifier:
    with tempfile.TemporaryDirectory() as tmp:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{MODEL_NAME}/{model_version}", dst_path=tmp
        )
        return DropoutClassifier.load(Path(local) / "artifacts" / "model_dir")


def load_champion(settings: Settings) -> tuple[DropoutClassifier, str]:
    """The model behind the ``champion`` alias, and its version."""
    client = configure(settings)
    try:
        mv = client.get_model_version_by_alias(MODEL_NAME, "champion")
    except MlflowException as exc:
        # Only "no such model or alias" means there is none; a registry that failed to
        # answer is a different problem, and the caller names it.
        if exc.error_code not in _NOT_FOUND:
            raise
        raise KeepwarmError("no champion model yet: run `keepwarm train` first") from exc
    return load_model_version(mv.version), str(mv.version)


def decide_promotion(
    result: TrainResult, promote: Promote, champion: tuple[str, DropoutClassifier] | None
) -> tuple[bool, str, float | None]:
    """The promotion gate: whether the new model becomes champion, why, and the AUC the
    champion (``(version, model)``, or None) reaches on the new model's test season."""
    new_auc = float(result.metrics.query("scorer == 'keepwarm' and slice == 'all'")["auc"].iloc[0])
    if promote == "force":
        return True, "forced with --promote=force", None
    if champion is None:
        if promote == "never":
            return False, "no champion yet, but --promote=never", None
        return True, "first model: no champion to beat", None
    old_version, old_model = champion
    test = result.test
    missing = [f for f in old_model.features_ if f not in test.columns]
    if missing:
        old_auc = None
        verdict = new_auc is not None
        reason = f"champion v{old_version} needs features this data lacks; replaced"
    else:
        old_auc = float(roc_auc_score(test["label"], old_model.predict_proba(test)[:, 1]))
        verdict = new_auc > old_auc
        word = "beats" if verdict else "does not beat"
        reason = (
            f"AUC {new_auc:.4f} {word} champion v{old_version} at {old_auc:.4f} "
            "on the same test season"
        )
    if promote == "never":
        return False, reason + " (--promote=never)", old_auc
    return verdict, reason, old_auc


def log_and_register(
    result: TrainResult,
    params: dict[str, object],
    settings: Settings,
    promote: Promote = "auto",
    fairness: dict[str, Any] | None = None,
) -> Registered:
    """One MLflow run: params, data fingerprint, metrics, plots, model; then the alias."""
    client = configure(settings)
    with tempfile.TemporaryDirectory() as tmp, mlflow.start_run() as run:
        folder = Path(tmp)
        mlflow.log_params({k: str(v) for k, v in params.items()})
        mlflow.log_dict(result.fingerprint, "data_fingerprint.json")
        mlflow.set_tags(
            {
                f"data.{k}.sha256": str(v["sha256"])  # type: ignore[index]
                for k, v in result.fingerprint.items()
            }
        )
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
                    mlflow.log_metric(f"{row.scorer}.{slug}.{metric}", float(value))
        for key, value in result.oracle.items():
            if value is not None:
                mlflow.log_metric(f"oracle.{key}", float(value))
        result.metrics.to_csv(folder / "metrics.csv", index=False)
        mlflow.log_artifact(str(folder / "metrics.csv"))
        mlflow.log_dict({"features": result.model.features_}, "features.json")
        evaluation = evaluation_summary(result.test, result.horizons, result.model.calibration_)
        mlflow.log_dict(evaluation, "evaluation.json")
        for path in _plots(result, folder):
            mlflow.log_artifact(str(path), artifact_path="plots")

        model_dir = folder / "model_dir"
        result.model.save(model_dir)
        example = result.test[result.model.features_].head(5).copy()
        example["role_family"] = example["role_family"].astype(object)
        signature = _signature(result.model.features_)
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(PYFUNC_CODE),
            artifacts={"model_dir": str(model_dir)},
            signature=signature,
            input_example=example,
            pip_requirements=[
                f"{p}=={version(p)}"
                for p in ("lightgbm", "pandas", "numpy", "scikit-learn", "mlflow")
            ],
            registered_model_name=MODEL_NAME,
        )
        model_version = str(info.registered_model_version)
        # a forced promotion needs no champion: it is not downloaded
        champion = None if promote == "force" else _champion(client)
        promoted, reason, champion_auc = decide_promotion(result, promote, champion)
        if fairness is not None:
            # the bias audit of the test season: logged, and any four-fifths breach is
            # written into the promotion decision for a person to weigh
            mlflow.log_dict(fairness, "fairness.json")
            for by, part in fairness.items():
                if part.get("min_impact_ratio") is not None:
                    mlflow.log_metric(f"fairness.{by}.min_impact_ratio", part["min_impact_ratio"])
            breaches = flagged(fairness)
            mlflow.set_tag("fairness.flagged", "; ".join(breaches) or "none")
            if breaches:
                reason += "; fairness flagged: " + "; ".join(breaches)
        card = build_card(
            result.model.features_,
            params,
            result.fingerprint,
            evaluation,
            fairness,
            flagged(fairness) if fairness is not None else [],
            settings,
        )
        mlflow.log_dict(card, "model_card.json")
        mlflow.log_text(card_markdown(card, model_version), "model_card.md")
        alias = "champion" if promoted else "challenger"
        client.set_registered_model_alias(MODEL_NAME, alias, model_version)
        client.set_model_version_tag(MODEL_NAME, model_version, "promotion", reason)
        mlflow.set_tags(
            {"promotion.decision": alias, "promotion.reason": reason, "promotion.mode": promote}
        )
        if champion_auc is not None:
            mlflow.log_metric("promotion.champion_auc", champion_auc)
        mlflow.log_dict(
            {"alias": alias, "reason": reason, "version": model_version}, "promotion.json"
        )
        log.info("model version %s -> %s: %s", model_version, alias, reason)
        return Registered(run.info.run_id, model_version, alias, reason)


def _run_dict(run_id: str, name: str) -> dict[str, Any]:
    try:
        return dict(mlflow.artifacts.load_dict(f"runs:/{run_id}/{name}"))
    except (MlflowException, OSError):  # a run logged before the file existed
        return {}


def model_history(settings: Settings) -> list[dict[str, Any]]:
    """Every registered version, newest first: when, on which data, how good, and its fate."""
    client = configure(settings)
    try:
        versions = client.search_model_versions(f"name='{MODEL_NAME}'")
        # a search leaves versions' aliases empty; the registered model has them
        aliases = client.get_registered_model(MODEL_NAME).aliases
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
        run_id = client.get_model_version(MODEL_NAME, model_version).run_id
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

"""Train on past seasons, test on a later one: plain functions, no MLflow or Prefect here."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline
from sqlalchemy import Engine, func, select

from features.build import build_features, empty_features
from features.catalogue import FEATURE_NAMES
from features.population import ENTRY_TYPES, scored_population
from features.source import (
    PLAUSIBLE,
    load_candidates,
    load_content,
    load_events,
    load_outcomes,
    load_profile_versions,
)
from store.db import chunks
from store.errors import KeepwarmError
from store.schema import Event, Truth
from training.baselines import fit_logistic, logistic_proba, rules_score
from training.config import TrainConfig
from training.evaluate import evaluate, oracle_comparison, within_comparison
from training.model import DropoutClassifier
from training.snapshots import snapshot_spine


@dataclass
class SeasonData:
    """What a training run reads from the store up front: one row per candidate, no events.

    The events and profile versions are read when features are built, a part of at most
    ``TrainConfig.feature_chunk_candidates`` candidates at a time (``season_features``):
    a season's events are never all in memory at once.
    """

    engine: Engine = field(repr=False)
    candidates: pd.DataFrame
    population: pd.DataFrame  # with season
    truth: pd.DataFrame
    content: pd.DataFrame

    def __getstate__(self) -> dict[str, object]:
        # a persisted task result (flows) holds no connection pool or credentials
        return {k: v for k, v in self.__dict__.items() if k != "engine"}

    def __setstate__(self, state: dict[str, object]) -> None:
        # read back from a persisted result: the flow passes its own engine on
        self.__dict__.update(state, engine=None)


@dataclass
class TrainResult:
    model: DropoutClassifier
    metrics: pd.DataFrame
    oracle: dict[str, float | None]
    test: pd.DataFrame  # test snapshots with features, label and every scorer's risk
    fingerprint: dict[str, object] = field(default_factory=dict)
    horizons: list[int] = field(default_factory=lambda: [60, 120, 180])  # days-to-start slices
    # the training snapshots (features, label, candidate_id, season) and the configuration
    # they were fitted with: the gate refits a recipe on them, lineage logs the settings
    train: pd.DataFrame | None = None
    config: TrainConfig | None = None
    # "reneges within 30 days": risk_30d vs the eventual risk, by horizon (within_comparison)
    within: pd.DataFrame | None = None

    def headline(self) -> dict[str, float | None]:
        pooled = self.metrics[self.metrics["slice"] == "all"].set_index("scorer")
        return {
            "auc": float(pooled.at["keepwarm", "auc"]),
            "auc_rules": float(pooled.at["rules", "auc"]),
            "auc_logistic": float(pooled.at["logistic", "auc"]),
            "ece": float(pooled.at["keepwarm", "ece"]),
            "auc_oracle": self.oracle.get("auc_oracle"),
            "auc_model_on_truth": self.oracle.get("auc_model_on_truth"),
            "share_of_oracle": self.oracle.get("share_of_oracle"),
        }


def load_season_data(engine: Engine) -> SeasonData:
    candidates = load_candidates(engine)
    with engine.connect() as conn:
        # each candidate's first entry: all ``scored_population`` reads of the events
        entries = pd.read_sql(
            select(Event.candidate_id, func.min(Event.local_day).label("local_day"))
            .where(PLAUSIBLE, Event.type.in_(ENTRY_TYPES))
            .group_by(Event.candidate_id),
            conn,
        )
        truth = pd.read_sql(select(Truth.candidate_id, Truth.as_of, Truth.p_true), conn)
    entries["type"] = ENTRY_TYPES[0]
    entries["local_day"] = pd.to_datetime(entries["local_day"]).dt.date
    population = scored_population(entries, load_outcomes(engine)).merge(
        candidates[["candidate_id", "season"]], on="candidate_id"
    )
    truth["as_of"] = pd.to_datetime(truth["as_of"]).dt.date
    return SeasonData(engine, candidates, population, truth, load_content(engine))


def season_features(
    engine: Engine, spine: pd.DataFrame, content: pd.DataFrame, chunk_candidates: int
) -> pd.DataFrame:
    """``build_features`` for ``spine`` (in its order), a part of candidates at a time.

    Each part reads only its candidates' events and profile versions from the store,
    so the peak memory follows ``chunk_candidates``, not the seasons. Features are per
    candidate: the rows equal one build over everything
    (``tests/training/test_season_features.py``).

    The parts are kept column by column and joined one column at a time, each part's
    piece dropped as it is copied, into a frame of one block per column: the season's
    features are held once, not twice (the parts beside their ``pd.concat``, 2 GB
    each for a season of 100,000 candidates; issue 19).
    """
    if spine.empty:
        return empty_features()
    ids = sorted(set(spine["candidate_id"].astype(str)))
    # the part each spine row falls in: candidates in sorted order, chunk_candidates a part
    part_of = pd.Index(ids).get_indexer(spine["candidate_id"].astype(str)) // chunk_candidates
    pieces: list[dict[str, pd.Series]] = []
    positions = []
    for k, part in enumerate(chunks(ids, chunk_candidates)):
        rows = np.flatnonzero(part_of == k)
        events = pd.concat(
            [load_events(engine, candidate_ids=list(few)) for few in chunks(part)],
            ignore_index=True,
        )
        profiles = load_profile_versions(engine, list(part))
        built = build_features(events, profiles, spine.iloc[rows], content)
        del events, profiles
        pieces.append({name: built[name].copy() for name in built.columns})
        positions.append(rows)
        del built
    where = np.concatenate(positions)
    order = None if bool((np.diff(where) > 0).all()) else np.argsort(where, kind="stable")
    columns: dict[str, pd.Series] = {}
    for name in list(pieces[0]):
        column = pd.concat([piece.pop(name) for piece in pieces], ignore_index=True)
        columns[name] = column if order is None else column.take(order).reset_index(drop=True)
    return pd.DataFrame(columns, copy=False)


def season_spine(
    data: SeasonData, seasons: list[str], cfg: TrainConfig, with_truth_days: bool = False
) -> pd.DataFrame:
    """Labelled (candidate_id, as_of) snapshots of the seasons' finished candidates."""
    pop = data.population[data.population["season"].isin(seasons)]
    extra: tuple[dt.date, ...] = ()
    if with_truth_days:
        truth = data.truth[data.truth["candidate_id"].isin(pop["candidate_id"])]
        extra = tuple(sorted(set(truth["as_of"])))
    spine = snapshot_spine(
        pop, cfg.snapshot_every_days, extra_days=extra, within_days=cfg.within_days
    )
    if spine.empty:
        raise KeepwarmError(f"no finished candidates with outcomes in {', '.join(seasons)}")
    return spine


def labelled(features: pd.DataFrame, spine: pd.DataFrame, data: SeasonData) -> pd.DataFrame:
    """Feature rows (in spine order) with their label and season.

    ``features`` is not changed; its columns are not copied (copy-on-write: the new
    frame shares them until either is written to).
    """
    out = features.copy(deep=False)
    out["label"] = spine["label"].to_numpy()
    if "label_30d" in spine.columns:
        out["label_30d"] = spine["label_30d"].to_numpy()
    season = data.candidates.set_index("candidate_id")["season"]
    out["season"] = out["candidate_id"].map(season).to_numpy()
    return out


def season_snapshots(
    data: SeasonData, seasons: list[str], cfg: TrainConfig, with_truth_days: bool = False
) -> pd.DataFrame:
    spine = season_spine(data, seasons, cfg, with_truth_days)
    features = season_features(data.engine, spine, data.content, cfg.feature_chunk_candidates)
    return labelled(features, spine, data)


def fingerprint(frame: pd.DataFrame, seasons: list[str]) -> dict[str, object]:
    digest = hashlib.sha256(
        pd.util.hash_pandas_object(
            frame[["candidate_id", "as_of", "label"]], index=False
        ).to_numpy()
    ).hexdigest()
    return {
        "seasons": seasons,
        "snapshots": len(frame),
        "candidates": int(frame["candidate_id"].nunique()),
        "positives": int(frame["label"].sum()),
        "sha256": digest,
    }


def fit_dropout(snapshots: pd.DataFrame, cfg: TrainConfig) -> DropoutClassifier:
    """The dropout model fitted on labelled snapshots (features, label, candidate_id);
    with a ``label_30d`` column, its time-to-renege part too (``DropoutClassifier.fit``)."""
    within = snapshots["label_30d"].to_numpy() if "label_30d" in snapshots.columns else None
    return DropoutClassifier(
        params=cfg.lightgbm,
        num_boost_round=cfg.num_boost_round,
        early_stopping_rounds=cfg.early_stopping_rounds,
        folds=cfg.folds,
        within_days=cfg.within_days,
    ).fit(
        snapshots,
        snapshots["label"].to_numpy(),
        groups=snapshots["candidate_id"].to_numpy(),
        y_within=within,
        days=snapshots["as_of"].astype(str).to_numpy(),
        features=list(FEATURE_NAMES),
    )


@dataclass
class Fitted:
    """The models fitted on the training snapshots: the dropout model and the logistic baseline."""

    model: DropoutClassifier
    logistic: Pipeline


def fit_models(train: pd.DataFrame, cfg: TrainConfig) -> Fitted:
    """The dropout model fitted on ``train``; the logistic baseline on ``baseline_rows``."""
    model = fit_dropout(train, cfg)
    rows = baseline_rows(train, cfg.logistic_max_candidates)
    return Fitted(model, fit_logistic(rows, rows["label"].to_numpy(), list(FEATURE_NAMES)))


def baseline_rows(train: pd.DataFrame, max_candidates: int) -> pd.DataFrame:
    """``train`` whole if it has at most ``max_candidates`` candidates, else every row of
    ``max_candidates`` of them drawn at random (seed 0, from the sorted ids: the same
    draw for the same candidates whatever their order), in ``train``'s order."""
    ids = np.sort(train["candidate_id"].astype(str).unique())
    if len(ids) <= max_candidates:
        return train
    keep = np.random.default_rng(0).choice(ids, size=max_candidates, replace=False)
    return train[train["candidate_id"].astype(str).isin(set(keep.tolist()))]


def evaluate_fitted(
    fitted: Fitted,
    train: pd.DataFrame,
    test: pd.DataFrame,
    truth: pd.DataFrame,
    train_seasons: list[str],
    test_season: str,
    cfg: TrainConfig,
) -> TrainResult:
    """Score the test season with ``fitted`` next to the baselines.

    ``test`` is not changed: the result's ``test`` is a new frame that shares its
    columns (copy-on-write) and adds each scorer's risk.
    """
    features = list(FEATURE_NAMES)
    model = fitted.model
    scores = {
        "keepwarm": model.predict_proba(test)[:, 1],
        "rules": rules_score(test, cfg.rules),
        "logistic": logistic_proba(fitted.logistic, test, features),
    }
    table = evaluate(test, scores, cfg.top_share, cfg.hr_capacity_share, cfg.horizons)
    truth = truth[truth["candidate_id"].isin(test["candidate_id"])]
    oracle = oracle_comparison(test, truth, scores["keepwarm"], scores["rules"])
    test = test.assign(**{f"risk_{name}": p for name, p in scores.items()})
    soon = model.predict_within_proba(test)
    within = None
    if soon is not None and "label_30d" in test.columns:
        test = test.assign(risk_30d=soon)
        within = within_comparison(test, cfg.horizons, boot=cfg.within_boot)
    return TrainResult(
        model=model,
        metrics=table,
        oracle=oracle,
        within=within,
        test=test,
        fingerprint={
            "train": fingerprint(train, train_seasons),
            "test": fingerprint(test, [test_season]),
        },
        horizons=list(cfg.horizons),
        train=train,
        config=cfg,
    )


def fit_and_evaluate(
    train: pd.DataFrame,
    test: pd.DataFrame,
    truth: pd.DataFrame,
    train_seasons: list[str],
    test_season: str,
    cfg: TrainConfig,
) -> TrainResult:
    """Fit on the training snapshots; score the test season next to the baselines."""
    fitted = fit_models(train, cfg)
    return evaluate_fitted(fitted, train, test, truth, train_seasons, test_season, cfg)


def train_model(
    data: SeasonData, train_seasons: list[str], test_season: str, cfg: TrainConfig
) -> TrainResult:
    """Fit on ``train_seasons``, evaluate on ``test_season`` next to the baselines.

    The test season's snapshots are built after the fit, so the fit's matrices and the
    test season's features are never in memory at once (issue 19).
    """
    if test_season in train_seasons:
        raise KeepwarmError("the test season must not be a training season")
    train = season_snapshots(data, train_seasons, cfg)
    # the test season's spine (small) before the fit: a season without finished
    # candidates stops the run at once, not after the fit
    spine = season_spine(data, [test_season], cfg, with_truth_days=True)
    fitted = fit_models(train, cfg)
    features = season_features(data.engine, spine, data.content, cfg.feature_chunk_candidates)
    test = labelled(features, spine, data)
    del features, spine
    return evaluate_fitted(fitted, train, test, data.truth, train_seasons, test_season, cfg)


def closed_seasons(engine: Engine) -> list[str]:
    """Seasons in which every candidate who entered has an outcome, oldest first."""
    data = load_season_data(engine)
    pop = data.population
    open_ = pop.groupby("season")["label"].apply(lambda s: s.isna().any())
    return sorted(str(s) for s, is_open in open_.items() if not is_open)

"""In-season calibration: are the risks shown still right, judged on the outcomes that arrive early?

A model's risk is the chance of reneging before the start date; the joins arrive on
the start date, so mid-season the only outcomes known are the early reneges, and
any calibration measured on "the outcomes so far" is biased. The check instead
grades the reneges that arrived in recent, disjoint windows against the number the
model expected in them:

- a cohort per window: everyone active at the end of day ``D`` (``D = as_of - k *
  window_days``, ``k = 1..windows``), scored with the model from what was known then;
- each candidate is expected to renege within the window with probability
  ``risk * share(days_to_start)``, where ``share`` is, among the reneges of finished
  seasons, the share that came within ``window_days`` of a day at that many days to
  start (``renege_timing``): P(renege in the window) = P(renege) * P(in the window |
  renege), the discrete-time hazard split into "whether" and "when";
- observed O against expected E as a standardised ratio O/E with an exact (Garwood)
  Poisson 95% interval (Breslow & Day 1987, vol. II, ch. 2). An interval that
  excludes 1 flags the model as off.

When flagged, the intercept is refitted on the same windows: the logit shift ``d``
with ``sum(share * expit(logit(risk) + d)) = O`` is the maximum-likelihood shift under
the Poisson approximation, and O's interval gives its interval. The shift applied is
the end of that interval nearest 0: early reneges over-state a season's shift (when
a season turns, the undecided leave first), and in the simulator the best fit put
the risks of those still active far above the rate at which they went on to renege,
while the interval's end put them inside it (README, "In-season calibration"). It is
stored with the check (``store.schema.CalibrationCheck``); scoring applies the shift
in force for the model version (``in_force``). A check that passes sets it back to
0. The check always grades the model's own risks, never shifted ones, so a shift
never feeds on itself.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import expit, logit
from scipy.stats import chi2
from sqlalchemy import Engine, case, func, insert, select, union

from features.build import build_features
from features.population import ENTRY_TYPES, active_ids, read_ids
from features.source import PLAUSIBLE, load_content, load_events, load_profile_versions
from store.schema import CalibrationCheck, Candidate, Content, Event, Outcome, ProfileVersion
from training.predictor import Predictor, shift_risk

MAX_SHIFT = 3.0  # logit units: a factor of 20 in the odds; beyond it, retrain


@dataclass(frozen=True)
class MonitorConfig:
    """How the in-season check looks: windows, horizon bins, interval level."""

    window_days: int = 28
    windows: int = 3
    horizon_bin_days: int = 30
    level: float = 0.95
    min_expected: float = 5.0  # fewer expected reneges than this: too little to judge
    min_reneges_per_bin: int = 20  # a horizon bin with fewer reneges uses the pooled share


@dataclass
class CheckResult:
    """One check: O against E over the windows, the verdict and the shift it leaves in force.

    ``ratio`` is O/E with its ``level`` interval (``ratio_low``, ``ratio_high``);
    ``shift`` (logit units, with its interval) is 0 unless ``flagged``;
    ``expected_shifted`` is E again with the shift applied (about O when refitted).
    """

    as_of: dt.date
    window_days: int
    windows: int
    cohort: int
    observed: int
    expected: float
    ratio: float | None
    ratio_low: float | None
    ratio_high: float | None
    flagged: bool
    shift: float
    shift_low: float | None
    shift_high: float | None
    shift_best: float  # the maximum-likelihood shift on the windows (reported, not applied)
    expected_shifted: float
    expected_shown: float  # the windows under the shift in force when checked (was shown)
    shift_shown: float
    reference: list[str]
    verdict: str  # ok, low (risks shown too low), high (too high), too_few
    per_window: list[dict[str, Any]] = field(default_factory=list)

    def line(self) -> str:
        """The check in one line, for the daily run's output."""
        return check_line(asdict(self))


def check_line(c: dict[str, Any]) -> str:
    """A check (``CheckResult`` fields, or a row of ``checks``) in one line of English."""
    head = (
        f"calibration check ({c['windows']} x {c['window_days']} days before {c['as_of']}, "
        f"{c['cohort']} candidate-windows): {c['observed']} reneges observed, "
        f"{c['expected']:.1f} expected"
    )
    if c["verdict"] == "too_few" or c["ratio"] is None:
        return f"{head}: too few to judge; intercept shift 0"
    words = {"ok": "within the interval", "low": "risks too LOW", "high": "risks too HIGH"}
    shift = (
        f"intercept refitted: logit shift {c['shift']:+.2f} (the smallest its 95% interval "
        f"[{c['shift_low']:+.2f}, {c['shift_high']:+.2f}] allows; best fit "
        f"{c['shift_best']:+.2f}), expected with it {c['expected_shifted']:.1f}"
        if c["flagged"]
        else "intercept shift 0"
    )
    return (
        f"{head}, ratio {c['ratio']:.2f} [{c['ratio_low']:.2f}, {c['ratio_high']:.2f}] "
        f"({c.get('level', 0.95):.0%}): {words[c['verdict']]}; {shift}"
    )


def poisson_interval(observed: int, level: float = 0.95) -> tuple[float, float]:
    """Exact (Garwood) interval for a Poisson mean given ``observed`` counts."""
    alpha = 1 - level
    low = 0.0 if observed == 0 else chi2.ppf(alpha / 2, 2 * observed) / 2
    high = chi2.ppf(1 - alpha / 2, 2 * observed + 2) / 2
    return float(low), float(high)


def fit_shift(risk: np.ndarray, share: np.ndarray, target: float) -> float:
    """The logit shift ``d`` with ``sum(share * expit(logit(risk) + d)) == target``.

    Clipped to ``[-MAX_SHIFT, MAX_SHIFT]`` (also when ``target`` is out of reach).
    """
    z = logit(np.clip(risk, 1e-6, 1 - 1e-6))

    def gap(d: float) -> float:
        return float(np.sum(share * expit(z + d)) - target)

    if gap(-MAX_SHIFT) >= 0:
        return -MAX_SHIFT
    if gap(MAX_SHIFT) <= 0:
        return MAX_SHIFT
    return float(brentq(gap, -MAX_SHIFT, MAX_SHIFT, xtol=1e-6))


def shifted(risk: np.ndarray, shift: float, floor: float = 0.005, cap: float = 0.995) -> np.ndarray:
    """Risks with their log-odds moved by ``shift`` (0 leaves them as they are), inside
    ``[floor, cap]``: ``training.predictor.shift_risk``, the numbers ``Shifted`` shows."""
    if shift == 0:
        return np.asarray(risk, dtype=float)
    return shift_risk(risk, shift, floor, cap)


def _horizon_bin(days_to_start: np.ndarray, width: int) -> np.ndarray:
    return np.floor(np.maximum(np.nan_to_num(days_to_start, nan=0.0), 0) / width).astype(int)


def renege_timing(
    population: pd.DataFrame, start_dates: pd.Series, cfg: MonitorConfig
) -> pd.DataFrame:
    """Among reneges of finished seasons: the share that came within the window, by horizon.

    ``population``: ``candidate_id, entry_day, outcome_date, label`` (finished candidates);
    ``start_dates`` by candidate id. For every reneged candidate and every week from
    entry to the renege, whether the renege came within ``window_days`` of that day,
    pooled per ``horizon_bin_days`` of days to start. Columns: ``bin`` (days to start //
    width), ``share``, ``n`` (candidate-days); bin -1 holds the pooled share.
    """
    reneged = population[population["label"] == 1]
    rows: list[tuple[int, bool]] = []
    for cid, entry, out in reneged[["candidate_id", "entry_day", "outcome_date"]].itertuples(
        index=False
    ):
        start = start_dates.get(cid)
        if start is None or pd.isna(start):
            continue
        start = pd.Timestamp(start).date()
        day = entry
        while day < out:
            rows.append(((start - day).days, (out - day).days <= cfg.window_days))
            day += dt.timedelta(days=7)
    if not rows:
        return pd.DataFrame({"bin": [-1], "share": [math.nan], "n": [0]})
    frame = pd.DataFrame(rows, columns=["days_to_start", "hit"])
    frame["bin"] = _horizon_bin(frame["days_to_start"].to_numpy(float), cfg.horizon_bin_days)
    table = frame.groupby("bin")["hit"].agg(share="mean", n="size").reset_index()
    pooled = pd.DataFrame({"bin": [-1], "share": [frame["hit"].mean()], "n": [len(frame)]})
    return pd.concat([pooled, table], ignore_index=True)


def share_for(timing: pd.DataFrame, days_to_start: np.ndarray, cfg: MonitorConfig) -> np.ndarray:
    """Each row's share of reneges expected within the window, by its horizon bin."""
    pooled = float(timing.loc[timing["bin"] == -1, "share"].iloc[0])
    usable = timing[(timing["bin"] >= 0) & (timing["n"] >= cfg.min_reneges_per_bin)]
    by_bin = dict(zip(usable["bin"].astype(int), usable["share"].astype(float), strict=True))
    bins = _horizon_bin(days_to_start, cfg.horizon_bin_days)
    return np.array([by_bin.get(int(b), pooled) for b in bins], dtype=float)


def _reference(
    engine: Engine, as_of: dt.date, exclude: set[str]
) -> tuple[pd.DataFrame, pd.Series, list[str]]:
    """Finished seasons as known at the end of ``as_of``: population, start dates, names."""
    with engine.connect() as conn:
        entries = pd.read_sql(
            select(Event.candidate_id, func.min(Event.local_day).label("entry_day"))
            .where(Event.type.in_(ENTRY_TYPES), Event.local_day <= as_of, PLAUSIBLE)
            .group_by(Event.candidate_id),
            conn,
        )
        outcomes = pd.read_sql(
            select(Outcome.candidate_id, Outcome.outcome, Outcome.outcome_date).where(
                Outcome.outcome_date <= as_of
            ),
            conn,
        )
        people = pd.read_sql(
            select(Candidate.candidate_id, Candidate.season, Candidate.start_date), conn
        )
    entries["entry_day"] = pd.to_datetime(entries["entry_day"]).dt.date
    outcomes["outcome_date"] = pd.to_datetime(outcomes["outcome_date"]).dt.date
    pop = entries.merge(outcomes, how="left", on="candidate_id")
    pop["label"] = np.where(pop["outcome"].isna(), np.nan, (pop["outcome"] == "reneged") * 1.0)
    pop = pop.merge(people[["candidate_id", "season"]], on="candidate_id")
    still_open = pop.groupby("season")["label"].apply(lambda s: s.isna().any())
    closed = sorted(str(s) for s, is_open in still_open.items() if not is_open and s not in exclude)
    starts = people.set_index("candidate_id")["start_date"]
    return pop[pop["season"].isin(closed)], starts, closed


def _window_rows(
    engine: Engine, model: Predictor, days: list[dt.date]
) -> dict[dt.date, pd.DataFrame]:
    """Everyone active at the end of each of ``days``, scored from what was known then.

    Per day, columns ``candidate_id`` (sorted, as ``read_ids`` gives them), ``risk`` (the
    model's own calibrated risk, never a shifted one) and ``days_to_start``. One read
    and one feature build for all the days; only the cohorts' events are read
    (``features.population.active_ids``), never the finished seasons'.
    """
    columns = ["candidate_id", "risk", "days_to_start"]
    spine = pd.concat(
        [pd.DataFrame({"candidate_id": read_ids(engine, active_ids(d)), "as_of": d}) for d in days]
        or [pd.DataFrame(columns=["candidate_id", "as_of"])],
        ignore_index=True,
    )
    if spine.empty:
        return {d: pd.DataFrame(columns=columns) for d in days}
    cohort = select(union(*(active_ids(d) for d in days)).subquery().c.candidate_id)
    events = load_events(engine, until=max(days), candidate_ids=cohort)
    frame = build_features(
        events, load_profile_versions(engine, cohort), spine, load_content(engine)
    )
    risk = model.own_calibration(model.raw(model.matrix(frame)))
    rows = pd.DataFrame(
        {
            "candidate_id": spine["candidate_id"].to_numpy(),
            "as_of": spine["as_of"].to_numpy(),
            "risk": np.asarray(risk, dtype=float),
            "days_to_start": frame["days_to_start"].to_numpy(dtype=float),
        }
    )
    return {d: rows.loc[rows["as_of"] == d, columns].reset_index(drop=True) for d in days}


def _fingerprints(engine: Engine, days: list[dt.date]) -> dict[dt.date, tuple[int, ...]]:
    """What ``_window_rows`` of each of ``days`` reads, counted store-wide (one pass per
    table): events and profile versions dated by then, outcomes dated by then (who is
    in the cohort), and the content library. Store-wide counts are coarser than the
    cohort's own (a late event of anyone dated by then changes them) and far cheaper."""

    def upto(column: Any) -> list[Any]:
        return [func.coalesce(func.sum(case((column <= d, 1), else_=0)), 0) for d in days]

    with engine.connect() as conn:
        events = conn.execute(select(*upto(Event.local_day)).where(PLAUSIBLE)).one()
        versions = conn.execute(select(*upto(ProfileVersion.known_from))).one()
        outcomes = conn.execute(select(*upto(Outcome.outcome_date))).one()
        content = conn.execute(select(func.count()).select_from(Content)).scalar_one()
    return {
        d: (int(events[i]), int(versions[i]), int(outcomes[i]), int(content))
        for i, d in enumerate(days)
    }


class CohortCache:
    """The check's scored cohorts, kept between days: ``_window_rows`` once per window.

    The windows' first days move with the day checked (``as_of - k * window_days``),
    so on consecutive days each window is new, but a window's first day comes back
    ``window_days`` later as the next window: kept, a day's check scores one cohort
    instead of ``windows``. A kept cohort is used again only for the same model and
    while the counts of what it read are unchanged (``_fingerprints``: late,
    new or erased events, profile versions, content); otherwise it is scored again,
    so the check equals ``check_calibration`` without a cache
    (``tests/training/test_monitor.py``). As with ``features.incremental``, an event
    corrected in place (same counts) needs ``forget``.
    Thread-safe; keeps the cohorts of the last ``keep_days`` days before the newest.
    """

    def __init__(self, keep_days: int = 120) -> None:
        self.keep_days = keep_days
        self._lock = threading.Lock()
        self._kept: dict[dt.date, tuple[object, tuple[int, ...], pd.DataFrame]] = {}
        self.scored = 0  # cohorts scored so far (not found kept)

    def forget(self) -> None:
        with self._lock:
            self._kept.clear()

    def rows(self, engine: Engine, model: Predictor, days: list[dt.date]) -> list[pd.DataFrame]:
        """``_window_rows(engine, model, days)``, in the order of ``days``, from the kept
        ones when still true (the others scored together)."""
        marks = _fingerprints(engine, days)
        found: dict[dt.date, pd.DataFrame] = {}
        for day in days:
            with self._lock:
                kept = self._kept.get(day)
            if kept is not None and kept[0] is model.booster and kept[1] == marks[day]:
                found[day] = kept[2]
        missing = [d for d in days if d not in found]
        if missing:
            scored = _window_rows(engine, model, missing)
            self.scored += len(missing)
            for day in missing:
                self._keep(model, day, marks[day], scored[day])
            found.update(scored)
        return [found[d] for d in days]

    def keep(self, engine: Engine, model: Predictor, day: dt.date, features: pd.DataFrame) -> None:
        """Keep the cohort of ``day`` from that day's own feature rows (everyone active at
        its end, as the daily run builds them): when ``day`` becomes a window's first
        day, it is not scored again unless what it read changed since."""
        mark = _fingerprints(engine, [day])[day]
        risk = model.own_calibration(model.raw(model.matrix(features)))
        rows = pd.DataFrame(
            {
                "candidate_id": features["candidate_id"].astype(str).to_numpy(),
                "risk": np.asarray(risk, dtype=float),
                "days_to_start": features["days_to_start"].to_numpy(dtype=float),
            }
        )
        self._keep(model, day, mark, rows.sort_values("candidate_id", ignore_index=True))

    def _keep(
        self, model: Predictor, day: dt.date, mark: tuple[int, ...], rows: pd.DataFrame
    ) -> None:
        with self._lock:
            self._kept[day] = (model.booster, mark, rows)
            newest = max(self._kept)
            for old in [d for d in self._kept if (newest - d).days > self.keep_days]:
                del self._kept[old]


def _cohorts(
    engine: Engine,
    model: Predictor,
    as_of: dt.date,
    cfg: MonitorConfig,
    cache: CohortCache | None = None,
) -> pd.DataFrame:
    """One row per candidate and window: risk as of the window's first day, and the outcome.

    Columns: ``window_start``, ``candidate_id``, ``risk``, ``days_to_start``, ``reneged``
    (within the window), ``season``. Everything read was known by the end of ``as_of``;
    each row's features only what was known at the end of its ``window_start``.
    """
    days = [as_of - dt.timedelta(days=k * cfg.window_days) for k in range(1, cfg.windows + 1)]
    with engine.connect() as conn:
        outcomes = pd.read_sql(
            select(Outcome.candidate_id, Outcome.outcome, Outcome.outcome_date).where(
                Outcome.outcome_date <= as_of
            ),
            conn,
        )
        seasons = pd.read_sql(select(Candidate.candidate_id, Candidate.season), conn)
    outcomes["outcome_date"] = pd.to_datetime(outcomes["outcome_date"]).dt.date
    columns = ["window_start", "candidate_id", "risk", "days_to_start", "reneged", "season"]
    if cache is not None:
        rows = cache.rows(engine, model, days)
    else:
        scored_days = _window_rows(engine, model, days)
        rows = [scored_days[d] for d in days]
    scored = [r.assign(window_start=d) for r, d in zip(rows, days, strict=True)]
    frame = pd.concat([s for s in scored if len(s)] or [pd.DataFrame()], ignore_index=True)
    if frame.empty:
        return pd.DataFrame(columns=columns)
    out = outcomes.set_index("candidate_id")
    starts = pd.to_datetime(frame["window_start"])
    ends = starts + pd.Timedelta(days=cfg.window_days)
    day_out = pd.to_datetime(frame["candidate_id"].map(out["outcome_date"]))
    kind = frame["candidate_id"].map(out["outcome"])
    hit = (kind == "reneged") & (day_out > starts) & (day_out <= ends)
    return pd.DataFrame(
        {
            "window_start": frame["window_start"].to_numpy(),
            "candidate_id": frame["candidate_id"].to_numpy(),
            "risk": frame["risk"].to_numpy(dtype=float),
            "days_to_start": frame["days_to_start"].to_numpy(dtype=float),
            "reneged": hit.to_numpy(dtype=bool),
            "season": frame["candidate_id"].map(seasons.set_index("candidate_id")["season"]),
        }
    )


def check_calibration(
    engine: Engine,
    model: Predictor,
    as_of: dt.date,
    cfg: MonitorConfig | None = None,
    cache: CohortCache | None = None,
) -> CheckResult:
    """Grade the model's risks on the reneges of the last ``windows`` windows before ``as_of``.

    Uses only what the store knew at the end of ``as_of``. The model's own risks are
    graded (``expected``); ``expected_shown`` is the same windows under the shift that
    ``model`` carries (what was shown, when a refit was in force). Raises nothing for a
    store with too little data: the verdict is then ``too_few`` and the shift 0.
    ``cache`` (kept between days by the service's daily runs) saves scoring a window's
    cohort again; the result is the same with or without.
    """
    cfg = cfg or MonitorConfig()
    cohort = _cohorts(engine, model, as_of, cfg, cache)
    ref_pop, starts, reference = _reference(engine, as_of, set(cohort["season"].dropna()))
    timing = renege_timing(ref_pop, starts, cfg)
    pooled = timing.loc[timing["bin"] == -1, "share"].iloc[0]
    if cohort.empty or pd.isna(pooled):
        return _too_few(as_of, cfg, cohort, reference)
    share = share_for(timing, cohort["days_to_start"].to_numpy(float), cfg)
    risk = cohort["risk"].to_numpy(float)
    observed = int(cohort["reneged"].sum())
    expected = float(np.sum(risk * share))
    bounds = (model.own_calibration.floor, model.own_calibration.cap)
    expected_shown = float(np.sum(shifted(risk, model.shift, *bounds) * share))
    per_window = [
        {
            "start": str(day),
            "candidates": len(part),
            "observed": int(part["reneged"].sum()),
            "expected": round(float(np.sum(part["risk"] * share[part.index])), 2),
        }
        for day, part in cohort.groupby("window_start", sort=True)
    ]
    if expected < cfg.min_expected:
        return _too_few(
            as_of, cfg, cohort, reference, observed, expected, per_window, expected_shown
        )
    low, high = poisson_interval(observed, cfg.level)
    ratio_low, ratio_high = low / expected, high / expected
    flagged = ratio_low > 1 or ratio_high < 1
    best = fit_shift(risk, share, observed) if flagged else 0.0
    shift_low = fit_shift(risk, share, low) if flagged else None
    shift_high = fit_shift(risk, share, high) if flagged else None
    # the smallest shift the interval allows: see the module's docstring
    shift = (shift_low if ratio_low > 1 else shift_high) if flagged else 0.0
    assert shift is not None
    return CheckResult(
        as_of=as_of,
        window_days=cfg.window_days,
        windows=cohort["window_start"].nunique(),
        cohort=len(cohort),
        observed=observed,
        expected=expected,
        ratio=observed / expected,
        ratio_low=ratio_low,
        ratio_high=ratio_high,
        flagged=flagged,
        shift=shift,
        shift_low=shift_low,
        shift_high=shift_high,
        shift_best=best,
        expected_shifted=float(np.sum(shifted(risk, shift, *bounds) * share)),
        expected_shown=expected_shown,
        shift_shown=model.shift,
        reference=reference,
        verdict=("low" if ratio_low > 1 else "high") if flagged else "ok",
        per_window=per_window,
    )


def _too_few(
    as_of: dt.date,
    cfg: MonitorConfig,
    cohort: pd.DataFrame,
    reference: list[str],
    observed: int = 0,
    expected: float = 0.0,
    per_window: list[dict[str, Any]] | None = None,
    expected_shown: float = 0.0,
) -> CheckResult:
    return CheckResult(
        as_of=as_of,
        window_days=cfg.window_days,
        windows=int(cohort["window_start"].nunique()) if len(cohort) else 0,
        cohort=len(cohort),
        observed=observed,
        expected=expected,
        ratio=None,
        ratio_low=None,
        ratio_high=None,
        flagged=False,
        shift=0.0,
        shift_low=None,
        shift_high=None,
        shift_best=0.0,
        expected_shifted=expected,
        expected_shown=expected_shown,
        shift_shown=0.0,
        reference=reference,
        verdict="too_few",
        per_window=per_window or [],
    )


def store_check(engine: Engine, result: CheckResult, model_version: str, actor: str) -> int:
    """Keep the check and the shift it leaves in force (its provenance); returns its id."""
    detail = {
        k: v
        for k, v in asdict(result).items()
        if k
        in (
            "ratio",
            "shift_low",
            "shift_high",
            "shift_best",
            "verdict",
            "per_window",
            "expected_shown",
            "shift_shown",
        )
    }
    with engine.begin() as conn:
        return int(
            conn.execute(
                insert(CalibrationCheck)
                .values(
                    model_version=str(model_version),
                    as_of=result.as_of,
                    window_days=result.window_days,
                    windows=result.windows,
                    cohort=result.cohort,
                    observed=result.observed,
                    expected=result.expected,
                    ratio_low=result.ratio_low,
                    ratio_high=result.ratio_high,
                    flagged=result.flagged,
                    shift=result.shift,
                    expected_shifted=result.expected_shifted,
                    reference=",".join(result.reference)[:200] or None,
                    detail=detail,
                    actor=actor,
                )
                .returning(CalibrationCheck.check_id)
            ).scalar_one()
        )


def checks(engine: Engine, model_version: str, limit: int = 12) -> list[dict[str, Any]]:
    """The version's latest checks, newest first, as plain dicts (for pages and the CLI)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(CalibrationCheck.__table__)
            .where(CalibrationCheck.model_version == str(model_version))
            .order_by(CalibrationCheck.check_id.desc())
            .limit(limit)
        ).mappings()
        out = []
        for r in rows:
            detail = dict(r["detail"] or {})
            out.append(
                {
                    "check_id": r["check_id"],
                    "as_of": r["as_of"],
                    "window_days": r["window_days"],
                    "windows": r["windows"],
                    "cohort": r["cohort"],
                    "observed": r["observed"],
                    "expected": r["expected"],
                    "ratio": detail.get("ratio"),
                    "ratio_low": r["ratio_low"],
                    "ratio_high": r["ratio_high"],
                    "flagged": bool(r["flagged"]),
                    "verdict": detail.get("verdict"),
                    "shift": r["shift"],
                    "shift_low": detail.get("shift_low"),
                    "shift_high": detail.get("shift_high"),
                    "shift_best": detail.get("shift_best", r["shift"]),
                    "expected_shifted": r["expected_shifted"],
                    "expected_shown": detail.get("expected_shown"),
                    "shift_shown": detail.get("shift_shown", 0.0),
                    "reference": r["reference"],
                    "per_window": detail.get("per_window", []),
                    "created_at": r["created_at"],
                    "actor": r["actor"],
                }
            )
    return out


def shift_in_force(engine: Engine, model_version: str) -> tuple[float, int | None]:
    """The logit shift the version's latest check left in force, and that check's id."""
    with engine.connect() as conn:
        row = conn.execute(
            select(CalibrationCheck.shift, CalibrationCheck.check_id)
            .where(CalibrationCheck.model_version == str(model_version))
            .order_by(CalibrationCheck.check_id.desc())
            .limit(1)
        ).first()
    return (float(row[0]), int(row[1])) if row else (0.0, None)


def in_force(engine: Engine, model: Predictor) -> Predictor:
    """``model`` with the intercept shift in force for its version (itself when none)."""
    shift, check_id = shift_in_force(engine, model.version)
    return model.with_shift(shift, check_id)

"""Risk rows: one day's ranked list, filtered to what the caller may see.

The API's ``/v1/risk-list``, the console's risk list and its CSV/Excel exports,
and the Today page's counts all read this one table.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sqlalchemy import select

from outreach import overrides
from serving.auth import Principal
from serving.i18n import t
from serving.scorer import FLAGS, DayScores
from serving.services.errors import NoModel
from serving.services.scope import owner_scope
from store.schema import Alert, OutreachAction, Score
from training.predictor import shown_risk

if TYPE_CHECKING:
    from serving.state import AppState

SORTS = ("risk", "risk_30d", "change", "days_to_start", "candidate_id")
TIERS = ("high", "medium", "low")


def day_scores(state: AppState, day: dt.date, ids: list[str] | None = None) -> DayScores:
    """The day's scores with every write made so far (``ids``: only those must be current).

    Raises ``NoModel`` before a champion is loaded.
    """
    if state.model is None:
        raise NoModel("no champion model yet: run `keepwarm train`")
    return state.scorer.day(day, ids)


def risk_words(risk: float) -> dict[str, str]:
    """A risk as recruiters read it: ``risk_shown`` ("37%", "> 90%"; never false
    precision) and the sentence saying what it is the chance of, in Chinese and English.

    The same dict for the same shown value (about a hundred of them): do not change it.
    """
    return _words(shown_risk(risk))


@functools.lru_cache(maxsize=256)
def _words(shown: str) -> dict[str, str]:
    return {
        "risk_shown": shown,
        "risk_words_zh": t("risk_sentence", "zh", p=shown),
        "risk_words_en": t("risk_sentence", "en", p=shown),
    }


@dataclass(frozen=True)
class RiskFilters:
    owner: str | None = None
    department: str | None = None
    role_family: str | None = None
    tier: str | None = None
    alert: str | None = None
    sort: str = "risk"
    descending: bool = True


def risk_table(
    state: AppState,
    principal: Principal,
    day: dt.date,
    filters: RiskFilters,
    extras: bool = True,
) -> pd.DataFrame:
    """Everyone active on ``day`` that the caller may see, filtered and sorted; no reasons yet.

    Columns: row (in the day's scores), rank (the place in the whole day's list,
    whatever the filters), owner_rank and owner_total (the place among the same
    recruiter's candidates that day, and how many they have), candidate_id, hr_owner,
    department, role_family, risk, risk_shown (``training.predictor.shown_risk``),
    risk_30d (the chance of reneging within 30 days; NaN without a time-to-renege
    model), urgency (``urgency_of``), days_to_start, start_date, tier, alerts,
    override; with ``extras`` also change (since the daily run 7-10 days before) and
    next_action (today's planned task).
    Raises ``Forbidden`` (another recruiter's list) and ``NoModel``.
    """
    owner = owner_scope(principal, filters.owner)
    scores = day_scores(state, day)
    order = scores.ordered()
    meta = scores.day.meta.iloc[order]
    place, total = scores.owner_places()
    frame = pd.DataFrame(
        {
            "row": order,
            "rank": np.arange(1, len(order) + 1),
            "owner_rank": place[order],
            "owner_total": total[order],
            "candidate_id": scores.ids[order],
            "hr_owner": meta["hr_owner"].to_numpy(),
            "department": meta["department"].to_numpy(),
            "role_family": meta["role_family"].to_numpy(),
            "risk": scores.risk[order],
            "risk_30d": np.full(len(order), np.nan)
            if scores.risk_30d is None
            else scores.risk_30d[order],
            "days_to_start": meta["days_to_start"].to_numpy(),
            "start_date": meta["start_date"].to_numpy(),
        }
    )
    frame["tier"] = [state.tier(r) for r in frame["risk"]]
    frame["urgency"] = [urgency_of(r) for r in frame["risk_30d"]]
    frame["risk_shown"] = [shown_risk(r) for r in frame["risk"]]
    flags = meta[list(FLAGS)].to_numpy(dtype=bool)
    frame["alerts"] = [[f for f, on in zip(FLAGS, row, strict=True) if on] for row in flags]
    raised = _open_alerts(state, day)
    frame["alerts"] = [
        a + sorted(raised.get(c, set()) - set(a))
        for a, c in zip(frame["alerts"], frame["candidate_id"], strict=True)
    ]
    keep = np.array([principal.sees_owner(o) for o in frame["hr_owner"]], dtype=bool)
    for column, wanted in (
        ("hr_owner", owner),
        ("department", filters.department),
        ("role_family", filters.role_family),
        ("tier", filters.tier),
    ):
        if wanted:
            keep &= (frame[column] == wanted).to_numpy()
    if filters.alert:
        keep &= np.array([filters.alert in a for a in frame["alerts"]], dtype=bool)
    frame = frame[keep].reset_index(drop=True)
    ids = frame["candidate_id"].tolist()
    with state.engine.connect() as conn:
        held = overrides.current(conn, ids)
    # a recruiter's tier, shown beside the model's (which the filters and ranks still use)
    frame["override"] = [held[c].tier if c in held else None for c in ids]
    if extras:
        before = _last_week(state, day, ids)
        frame["change"] = frame["risk"] - frame["candidate_id"].map(before).astype(float)
        frame["next_action"] = frame["candidate_id"].map(_next_actions(state, day))
    sort = filters.sort if filters.sort in SORTS else "risk"
    if sort != "risk" or not filters.descending:
        frame = frame.sort_values(
            [sort, "rank"], ascending=[not filters.descending, True], na_position="last"
        )
    return frame.reset_index(drop=True)


# Urgency bands of the chance of reneging within 30 days: "act now" from 10%, "this
# month" from 3%, else "not urgent". On held-out simulated seasons 2.7% of weekly
# snapshots renege within 30 days (benchmarks/bench_within.py: 2,189 of 80,223):
# "this month" is above that base rate, "act now" nearly four times it.
URGENCY_BANDS = ((0.10, "urgent"), (0.03, "soon"))
URGENCIES = ("urgent", "soon", "later")


def urgency_of(risk_30d: float | None) -> str | None:
    """The urgency band of a chance of reneging within 30 days; None when not known."""
    if risk_30d is None or pd.isna(risk_30d):
        return None
    return next((name for floor, name in URGENCY_BANDS if risk_30d >= floor), "later")


def with_reasons(state: AppState, day: dt.date, rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` of ``risk_table`` with their top reasons (worked out only for these rows).

    Looked up by candidate: a write between the table and this call may have rebuilt
    the day, and a candidate who left the list since gets no reasons.
    """
    ids = rows["candidate_id"].astype(str).tolist()
    out = rows.copy()
    if not ids:
        out["reasons"] = []
        return out
    scores = day_scores(state, day, ids)
    found = [scores.row[c] for c in ids if c in scores.row]
    words = dict(zip(found, scores.scored(found)[1], strict=True)) if found else {}
    out["reasons"] = [words.get(scores.row.get(c, -1), []) for c in ids]
    return out


def choices(state: AppState, principal: Principal, day: dt.date) -> dict[str, list[str]]:
    """The values a filter can take, from what the caller can see that day."""
    meta = day_scores(state, day).day.meta
    seen = meta[[principal.sees_owner(o) for o in meta["hr_owner"]]]
    return {
        col: sorted({str(v) for v in seen[col].dropna()})
        for col in ("hr_owner", "department", "role_family")
    }


def _last_week(state: AppState, day: dt.date, ids: list[str]) -> pd.Series:
    """Each candidate's stored risk from the daily run 7 to 10 days before ``day``."""
    with state.engine.connect() as conn:
        rows = pd.read_sql(
            select(Score.candidate_id, Score.as_of, Score.risk).where(
                Score.as_of >= day - dt.timedelta(days=10),
                Score.as_of <= day - dt.timedelta(days=7),
            ),
            conn,
        )
    rows = rows[rows["candidate_id"].isin(ids)].sort_values("as_of")
    return rows.groupby("candidate_id")["risk"].last()


def _open_alerts(state: AppState, day: dt.date) -> dict[str, set[str]]:
    """Each candidate's open alerts (any kind) from the daily run of ``day``."""
    with state.engine.connect() as conn:
        rows = conn.execute(
            select(Alert.candidate_id, Alert.kind).where(
                Alert.as_of == day, Alert.resolved_at.is_(None)
            )
        ).all()
    out: dict[str, set[str]] = {}
    for cid, kind in rows:
        out.setdefault(cid, set()).add(kind)
    return out


def _next_actions(state: AppState, day: dt.date) -> pd.Series:
    with state.engine.connect() as conn:
        rows = pd.read_sql(
            select(OutreachAction.candidate_id, OutreachAction.action)
            .where(OutreachAction.plan_date == day, OutreachAction.status == "planned")
            .order_by(OutreachAction.action_id),
            conn,
        )
    return rows.groupby("candidate_id")["action"].first()

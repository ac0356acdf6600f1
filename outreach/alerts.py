"""The brief's risk warnings as alerts: raised from events, resolved by the event that answers them.

Every alert is an *episode*: a trigger event, a window in which an answer would
have prevented the alert, and (maybe) the answer that resolves it. As of day D
only events known by the end of D count (``local_day <= D``): an alert is open on
D if its window ran out by the end of D and no answer came by then.

- no_reply: the first HR message that asks for a reply (``asks_reply``: a personal
  message, or an answer to the candidate's question; never a newsletter, greeting or
  content push) since the candidate last replied; 3 days; answered by the candidate's
  reply (or an answered call); tells the recruiter.
- approval_pending: approval requested (waits on the department manager, 1 day) or
  the manager's step (waits on the HR director, 2 days); answered by the next step or
  the approval; tells the approver.
- question_unanswered: the first candidate question since HR last wrote or called;
  2 days; answered by an HR message or call.
- competing_offer: a consented outside signal about a competing offer; at once;
  answered by an HR call.
- extension_requested: the candidate asks for more time; at once; answered by an HR
  message or call.
- risk_jump: risk up by ``risk_jump`` or more within ``risk_jump_days``; at once;
  answered by an HR message or call.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

KINDS = (
    "no_reply",
    "approval_pending",
    "question_unanswered",
    "competing_offer",
    "extension_requested",
    "risk_jump",
)

TEXT = {
    "no_reply": (
        "HR 需要回复的消息 {d} 天未获回复，请跟进",
        "no reply for {d} days to an HR message that asked for one: please follow up",
    ),
    "approval_pending": (
        "offer 审批在{who}处已等待 {d} 天，请催办",
        "offer approval waiting on the {who_en} for {d} days: please chase",
    ),
    "question_unanswered": (
        "候选人关于{topic}的问题 {d} 天无人答复",
        "the candidate's question ({topic}) unanswered for {d} days",
    ),
    "competing_offer": (
        "候选人公开提到其他 offer（已授权），请尽快电话沟通",
        "the candidate posted about another offer (consented): call soon",
    ),
    "extension_requested": (
        "候选人申请延期答复 offer，请联系了解原因",
        "the candidate asked for more time on the offer: find out why",
    ),
    "risk_jump": (
        "流失风险一周内上升 {jump:.0%}",
        "dropout risk up {jump:.0%} within a week",
    ),
}
APPROVERS = {
    "dept_manager": ("部门经理", "department manager"),
    "hr_director": ("HR 总监", "HR director"),
}
COLUMNS = [
    "alert_id",
    "candidate_id",
    "kind",
    "trigger_event_id",
    "created_at",
    "notify",
    "detail",
    "resolved_at",
    "resolved_by",
]
HR_CONTACT = ("message_sent", "call_made")
# the events an alert episode is made of (``_episodes`` reads no other type): a
# candidate's episodes change only when their count of these does
EPISODE_TYPES = (
    "message_sent",
    "call_made",
    "message_replied",
    "call_answered",
    "candidate_question",
    "offer_approval_requested",
    "offer_approval_step",
    "offer_approved",
    "external_signal",
    "offer_extension_requested",
)


class AlertRules(BaseModel):
    """Thresholds, defaults from the brief (BRIEF.md, capability 4 and the manufacturer case)."""

    no_reply_days: float = Field(default=3, gt=0)
    question_days: float = Field(default=2, gt=0)
    dept_manager_days: float = Field(default=1, gt=0)
    hr_director_days: float = Field(default=2, gt=0)
    risk_jump: float = Field(default=0.15, gt=0, lt=1)
    risk_jump_days: int = Field(default=7, ge=1)


def _end_of_day_utc(day: dt.date, offset_min: pd.Series) -> pd.Series:
    """The end of ``day`` in each event's own offset, as naive UTC."""
    end = pd.Timestamp(day) + pd.Timedelta(days=1)
    return end - pd.to_timedelta(offset_min, unit="min")


def _ns(ts: pd.Series) -> np.ndarray:
    """Times as int64 nanoseconds (NaT as numpy's NaT): one resolution for every frame
    (stores and frames disagree: s, us, ns)."""
    return ts.to_numpy("datetime64[ns]").view("i8")


_NAT = np.datetime64("NaT", "ns").view("i8")


def _answer_positions(
    trig: np.ndarray, ans: np.ndarray, ts_ns: np.ndarray, code: np.ndarray
) -> np.ndarray:
    """For each trigger in ``trig`` (positions into ``ts_ns``, the times as ``_ns`` gives
    them, and ``code``, the candidates factorized), the position (from ``ans``) of the
    first answer strictly after it of the same candidate, -1 when none; of answers at
    the same instant, the first in ``ans``. What ``pd.merge_asof(direction="forward",
    by="candidate_id")`` gives (``tests/outreach/test_alerts.py``), in numpy on
    positions: merge_asof paid 6 ms a call on a handful of rows (pandas' string
    columns), and alerts make six such calls per day."""
    n_left = trig.shape[0]
    if not n_left:
        return np.zeros(0, dtype=np.int64)
    # "strictly after" is at or after the trigger plus a microsecond
    at = ts_ns[trig]
    key = np.concatenate([np.where(at == _NAT, _NAT, at + 1000), ts_ns[ans]])
    codes = np.concatenate([code[trig], code[ans]])
    is_answer = np.arange(len(key)) >= n_left
    # by candidate, then time; on a tie a trigger before the answer (it counts), and
    # answers in their own order (lexsort is stable)
    order = np.lexsort((is_answer, key, codes))
    position = np.where(is_answer[order], np.arange(len(order)), len(order))
    following = np.minimum.accumulate(position[::-1])[::-1]  # next answer at or after
    found_at = np.empty(n_left, dtype=np.int64)
    found_at[order[~is_answer[order]]] = following[~is_answer[order]]
    hit = found_at < len(order)
    answer = np.full(n_left, -1, dtype=np.int64)
    answer[hit] = order[found_at[hit]] - n_left
    same = np.zeros(n_left, dtype=bool)
    same[hit] = codes[answer[hit] + n_left] == codes[:n_left][hit]
    answer[~same] = -1
    out = np.full(n_left, -1, dtype=np.int64)
    out[same] = ans[answer[same]]
    return out


def asks_reply(events: pd.DataFrame) -> pd.Series:
    """Which messages ask for a reply: those without content (a recruiter's own message)
    or on a topic (an answer to the candidate's question). Content sent without a topic
    (company news, greetings, guides, an article) asks for none, so silence after it is
    not a "no reply". ``events``: rows with optional content_id and topic columns."""
    no_content = (
        events["content_id"].isna()
        if "content_id" in events
        else pd.Series(True, index=events.index)
    )
    on_topic = (
        events["topic"].notna() if "topic" in events else pd.Series(False, index=events.index)
    )
    return no_content | on_topic


def _episodes(events: pd.DataFrame, rules: AlertRules) -> pd.DataFrame:
    """Every alert episode in ``events`` (``ts`` for ``ts_utc``): the trigger's row with
    ``answered_at`` and ``answered_by`` (``_answer_positions``), ``kind``, ``window`` (days)
    and ``notify``, kind by kind, each by time; a frame without columns when none.

    On positions into ``events`` and one frame made at the end: a frame per kind paid
    pandas' fixed costs a dozen times over on the few candidates a day rebuilds."""
    ev = events
    if ev.empty:
        return pd.DataFrame()
    kind = ev["type"].to_numpy(dtype=object)
    actor = ev["actor"].to_numpy(dtype=object)
    topic = ev["topic"].to_numpy(dtype=object)
    ts_ns = _ns(ev["ts"])
    code = pd.factorize(ev["candidate_id"].to_numpy(dtype=object))[0]
    sort_key = np.where(ts_ns == _NAT, np.iinfo(np.int64).max, ts_ns)  # NaT last

    def of(*types: str) -> np.ndarray:
        out = kind == types[0]
        for t in types[1:]:
            out = out | (kind == t)
        return np.asarray(out, dtype=bool)

    ids = ev["event_id"].to_numpy(dtype=object)
    by_hr = np.asarray(pd.isna(actor) | (actor == "hr"), dtype=bool)
    cand_answer = of("message_replied", "call_answered")
    hr_contact = of(*HR_CONTACT) & by_hr
    hr_call = of("call_made")
    steps = of("offer_approval_step", "offer_approved")
    parts: list[tuple[np.ndarray, np.ndarray, str, float, str]] = []

    def episode(
        triggers: np.ndarray, answers: np.ndarray, first: bool, kind: str, window: float, who: str
    ) -> None:
        trig = np.flatnonzero(triggers)
        if not trig.size:
            return
        trig = trig[np.argsort(sort_key[trig], kind="stable")]
        answer = _answer_positions(trig, np.flatnonzero(answers), ts_ns, code)
        if first:  # of runs of triggers with no answer between them, the first of each run
            seen: set[tuple[int, object]] = set()
            keep = np.zeros(trig.size, dtype=bool)
            for i, (c, a) in enumerate(zip(code[trig].tolist(), answer.tolist(), strict=True)):
                by = ids[a] if a >= 0 and not pd.isna(ids[a]) else "<open>"
                if (c, by) not in seen:
                    seen.add((c, by))
                    keep[i] = True
            trig, answer = trig[keep], answer[keep]
        parts.append((trig, answer, kind, window, who))

    hr_msgs = of("message_sent") & by_hr & asks_reply(ev).to_numpy(dtype=bool)
    episode(hr_msgs, cand_answer, True, "no_reply", rules.no_reply_days, "hr")
    questions = of("candidate_question")
    episode(questions, hr_contact, True, "question_unanswered", rules.question_days, "hr")
    requested = of("offer_approval_requested")
    episode(requested, steps, False, "approval_pending", rules.dept_manager_days, "dept_manager")
    after_manager = steps & (of("offer_approved") | np.asarray(actor == "hr_director", dtype=bool))
    manager = of("offer_approval_step") & np.asarray(actor == "dept_manager", dtype=bool)
    episode(
        manager, after_manager, False, "approval_pending", rules.hr_director_days, "hr_director"
    )
    signals = of("external_signal") & np.asarray(topic == "competing_offer", dtype=bool)
    episode(signals, hr_call, False, "competing_offer", 0.0, "hr")
    extension = of("offer_extension_requested")
    episode(extension, hr_contact, False, "extension_requested", 0.0, "hr")
    if not parts:
        return pd.DataFrame()
    rows = np.concatenate([p[0] for p in parts])
    answer = np.concatenate([p[1] for p in parts])
    sizes = [p[0].size for p in parts]
    out = ev.iloc[rows].reset_index(drop=True)
    found = ev[["ts", "event_id"]].reset_index(drop=True).reindex(answer)  # -1: none
    found = found.set_axis(out.index)
    return out.assign(
        answered_at=found["ts"],
        answered_by=found["event_id"],
        kind=[p[2] for p, n in zip(parts, sizes, strict=True) for _ in range(n)],
        # each kind's window as the rules hold it (an int stays one, as in a concat)
        window=np.concatenate([np.full(n, p[3]) for p, n in zip(parts, sizes, strict=True)]),
        notify=[p[4] for p, n in zip(parts, sizes, strict=True) for _ in range(n)],
    )


def find_alerts(
    events: pd.DataFrame,
    as_of: dt.date,
    rules: AlertRules,
    active: set[str] | None = None,
    risk_history: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Alerts known at the end of ``as_of``: open ones, and ones resolved by then.

    ``events``: event_id, candidate_id, ts_utc, utc_offset_min, local_day, type, topic, actor.
    ``active``: candidates still in the scored population (others get no alert).
    ``risk_history``: candidate_id, as_of, risk (the daily scores) for ``risk_jump``.
    """
    ev = _known(events, as_of, active)
    return _alerts_of(_episodes(ev, rules), ev, as_of, rules, risk_history)


def _known(events: pd.DataFrame, as_of: dt.date, active: set[str] | None) -> pd.DataFrame:
    """The events alerts read on ``as_of``: known by the end of it, of ``active`` only."""
    ev = events[events["local_day"] <= as_of].rename(columns={"ts_utc": "ts"})
    if active is not None:
        ev = ev[ev["candidate_id"].isin(active)]
    return ev


def _alerts_of(
    ep: pd.DataFrame,
    ev: pd.DataFrame,
    as_of: dt.date,
    rules: AlertRules,
    risk_history: pd.DataFrame | None,
) -> pd.DataFrame:
    """The alerts known at the end of ``as_of`` from the episodes ``ep`` (``_episodes``
    of ``ev``; with a ``detail`` column already, it is kept)."""
    if ep.empty:
        alerts = pd.DataFrame(columns=COLUMNS)
    else:
        ep = ep.copy()
        ep["created_at"] = ep["ts"] + pd.to_timedelta(ep["window"], unit="D")
        day_end = _end_of_day_utc(as_of, ep["utc_offset_min"])
        late = ep["answered_at"].isna() | (ep["answered_at"] > ep["created_at"])
        due = ep["created_at"] <= day_end
        ep, day_end = ep[late & due].copy(), day_end[late & due]
        known = ep["answered_at"].notna() & (ep["answered_at"] <= day_end)
        ep["resolved_at"] = ep["answered_at"].where(known)
        ep["resolved_by"] = ep["answered_by"].where(known)
        if "detail" not in ep:
            ep["detail"] = _details(ep)
        alerts = ep.rename(columns={"event_id": "trigger_event_id"})
    if risk_history is not None and not risk_history.empty:
        alerts = pd.concat([alerts, _risk_jumps(ev, as_of, rules, risk_history)], ignore_index=True)
    alerts["alert_id"] = alerts["kind"] + ":" + alerts["trigger_event_id"].astype(str)
    return alerts[COLUMNS].sort_values(["created_at", "alert_id"]).reset_index(drop=True)


class AlertState:
    """Each candidate's alert episodes, kept between days: ``find_alerts`` without
    re-reading everyone's whole history every day.

    An episode (trigger, window, first answer) depends only on the candidate's own
    events of ``EPISODE_TYPES`` known by then, so it is rebuilt only for candidates
    whose count of such events changed since the state last saw them (new, late or
    erased events; the same rule as ``features.incremental.FeatureState``): an opened
    message or a clicked link rebuilds nothing. Whether it is due, open or
    resolved on the day is worked out for everyone each day, as ``find_alerts`` does.
    ``alerts`` equals ``find_alerts`` on the same arguments
    (``tests/outreach/test_alerts_incremental.py``).
    """

    def __init__(self, rules: AlertRules) -> None:
        self.rules = rules
        self._seen: dict[str, int] = {}
        self._episodes: pd.DataFrame = pd.DataFrame()
        self.rebuilt = 0  # candidates rebuilt by the last ``alerts``

    def forget(self, candidate_ids: Iterable[str]) -> None:
        """Rebuild these candidates at the next update whatever their event count."""
        for c in candidate_ids:
            self._seen.pop(str(c), None)

    def stale(self, counts: dict[str, int]) -> list[str]:
        """The candidates ``update`` would rebuild for ``counts``."""
        gone = [c for c, n in self._seen.items() if n and c not in counts]
        return sorted({*gone, *(c for c, n in counts.items() if self._seen.get(c, 0) != n)})

    def update(self, events: pd.DataFrame, counts: dict[str, int]) -> list[str]:
        """Rebuild the episodes of candidates whose count of known events is not the last
        one seen; returns them.

        ``counts``: every candidate's count of events of ``EPISODE_TYPES`` known on the
        day (absent: none; a candidate seen before and absent now loses its episodes).
        ``events``: the known events (the columns of ``find_alerts``), complete at least
        for the changed ones (at least their events of ``EPISODE_TYPES``).
        """
        ids = set(counts) | {c for c, n in self._seen.items() if n}
        changed = {c for c in ids if self._seen.get(c, 0) != counts.get(c, 0)}
        self.rebuilt = len(changed)
        if changed:
            ev = events[events["candidate_id"].isin(changed)].rename(columns={"ts_utc": "ts"})
            fresh = _episodes(ev, self.rules)
            if not fresh.empty:
                fresh["detail"] = _details(fresh)
            kept = self._episodes
            if not kept.empty:
                kept = kept[~kept["candidate_id"].isin(changed)]
            parts = [p for p in (kept, fresh) if not p.empty]
            self._episodes = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
            for c in changed:
                if counts.get(c, 0):
                    self._seen[c] = counts[c]
                else:
                    self._seen.pop(c, None)
        return sorted(changed)

    def current(
        self,
        contacts: pd.DataFrame,
        as_of: dt.date,
        active: set[str] | None = None,
        risk_history: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        """The alerts known at the end of ``as_of`` from the kept episodes (``update``
        first). ``contacts``: the known events of ``active`` (or at least HR's contacts
        from the day before ``as_of`` on: the risk jumps' answers)."""
        ep = self._episodes
        if not ep.empty and active is not None:
            ep = ep[ep["candidate_id"].isin(active)]
        contacts = contacts[contacts["type"].isin(HR_CONTACT)].rename(columns={"ts_utc": "ts"})
        return _alerts_of(ep, contacts, as_of, self.rules, risk_history)

    def alerts(
        self,
        events: pd.DataFrame,
        as_of: dt.date,
        active: set[str] | None = None,
        risk_history: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        """``find_alerts(events, as_of, self.rules, active, risk_history)``."""
        # one pass over the whole log: a mask, never a copy of it
        known = (events["local_day"] <= as_of).to_numpy(dtype=bool, copy=True)
        if active is not None:
            known &= events["candidate_id"].isin(active).to_numpy(dtype=bool)
        cands = events["candidate_id"].to_numpy()
        episodic = known & events["type"].isin(EPISODE_TYPES).to_numpy(dtype=bool)
        counts = pd.Series(cands[episodic]).value_counts().to_dict()
        if active is not None:  # the inactive keep their episodes, only filtered out
            counts = {**{c: n for c, n in self._seen.items() if c not in active}, **counts}
        seen = events[known]
        self.update(seen, counts)
        return self.current(seen, as_of, active, risk_history)


def _details(episodes: pd.DataFrame) -> list[dict[str, object]]:
    """Non-personal facts each alert's words need: since when, and the topic (two
    columns read, not whole rows: ``itertuples`` made every timestamp of the row)."""
    days = episodes["local_day"]
    topics = episodes["topic"] if "topic" in episodes else [None] * len(episodes)
    out: list[dict[str, object]] = []
    for day, topic in zip(days, topics, strict=True):
        one: dict[str, object] = {"since": day.isoformat()}
        if isinstance(topic, str):
            one["topic"] = topic
        out.append(one)
    return out


def _risk_jumps(
    ev: pd.DataFrame, as_of: dt.date, rules: AlertRules, history: pd.DataFrame
) -> pd.DataFrame:
    """A risk up by ``risk_jump`` or more against the lowest of the previous days' scores."""
    h = history[history["as_of"] <= as_of]
    today = h[h["as_of"] == as_of].groupby("candidate_id")["risk"].max()
    since = as_of - dt.timedelta(days=rules.risk_jump_days)
    before = h[(h["as_of"] >= since) & (h["as_of"] < as_of)].groupby("candidate_id")["risk"].min()
    jump = (today - before).dropna()
    jump = jump[jump >= rules.risk_jump]
    if jump.empty:
        return pd.DataFrame(columns=COLUMNS)
    created = pd.Timestamp(as_of)  # the day's scores are made early that morning
    frame = pd.DataFrame(
        {
            "candidate_id": jump.index,
            "kind": "risk_jump",
            "trigger_event_id": [f"{c}@{as_of.isoformat()}" for c in jump.index],
            "created_at": created,
            "notify": "hr",
            "detail": [
                {"jump": round(float(j), 4), "since": as_of.isoformat()} for j in jump.to_numpy()
            ],
            "resolved_at": pd.NaT,
            "resolved_by": None,
        }
    )
    contact = ev[ev["type"].isin(HR_CONTACT) & (ev["ts"] >= created)]
    first = contact.sort_values("ts").groupby("candidate_id").first()
    frame["resolved_by"] = frame["candidate_id"].map(first["event_id"].to_dict())
    frame["resolved_at"] = pd.to_datetime(frame["candidate_id"].map(first["ts"].to_dict()))
    return frame


def topic_words(topic: str, lang: str) -> str:
    """A question topic in the reader's words (``outreach.plan.TOPIC_WORDS``)."""
    from outreach.plan import TOPIC_WORDS

    zh, en = TOPIC_WORDS.get(topic, TOPIC_WORDS["other"])
    return zh if lang == "zh" else en


def alert_text(
    kind: str, detail: dict[str, object], notify: str, as_of: dt.date, lang: str = "zh"
) -> str:
    """The alert in words for the recruiter, in Chinese or English."""
    zh, en = TEXT[kind]
    since = detail.get("since")
    days = (as_of - dt.date.fromisoformat(str(since))).days if since else 0
    who_zh, who_en = APPROVERS.get(notify, ("HR", "recruiter"))
    jump = detail.get("jump", 0.0)
    values = {
        "d": days,
        "who": who_zh,
        "who_en": who_en,
        "topic": topic_words(str(detail.get("topic", "other")), lang),
        "jump": float(jump) if isinstance(jump, int | float) else 0.0,
    }
    return (zh if lang == "zh" else en).format(**values)


def open_questions(events: pd.DataFrame, topics: list[str]) -> dict[str, list[str]]:
    """Per candidate, the ``topics`` asked about and not answered by an HR message since."""
    asked = events[(events["type"] == "candidate_question") & events["topic"].isin(topics)]
    if asked.empty:
        return {}
    answered = events[
        (events["type"] == "message_sent")
        & (events["actor"] == "hr")
        & events["topic"].isin(topics)
    ]
    last_ask = asked.groupby(["candidate_id", "topic"])["ts_utc"].max()
    last_answer = answered.groupby(["candidate_id", "topic"])["ts_utc"].max()
    both = pd.concat([last_ask.rename("ask"), last_answer.rename("answer")], axis=1)
    both = both[both["ask"].notna() & ~(both["answer"] >= both["ask"])]
    out: dict[str, list[str]] = {}
    for cid, topic in both.index:
        out.setdefault(str(cid), []).append(str(topic))
    return out


__all__ = [
    "COLUMNS",
    "EPISODE_TYPES",
    "KINDS",
    "AlertRules",
    "AlertState",
    "alert_text",
    "asks_reply",
    "find_alerts",
    "open_questions",
]

"""The day-by-day season simulation, vectorised over candidates.

One ``_step`` advances every candidate by a day: the offer process, competing
offers, questions, the policy's outreach and its read-out in engagement,
commitment losses, decisions and dropouts. The same step, with no event log,
runs the Monte-Carlo roll-outs behind truth.csv.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from simulator.params import SimParams
from simulator.policy import Observation, Policy, pick_column
from simulator.population import ROLES, Population, content_library
from store.contract import CHANNELS, EVENT_TYPES, TOPICS

CAUSES = (
    "competing_offer",
    "approval_slow",
    "no_follow_up",
    "location",
    "content_not_relevant",
    "salary",
    "personal",
)
_C = {c: i for i, c in enumerate(CAUSES)}
_T = {t: i for i, t in enumerate(EVENT_TYPES)}
_CH = {c: i for i, c in enumerate(CHANNELS)}
ACTOR_CODES = ("candidate", "hr", "dept_manager", "hr_director", "system")
_A = {a: i for i, a in enumerate(ACTOR_CODES)}
PRE, PENDING, OFFERED, ACCEPTED, JOINED, RENEGED = range(6)

QUESTION_TEXT = {
    "competing_offer": "我收到了其他公司的 offer, 能再谈谈吗?",
    "salary": "薪资结构和年终奖是怎样的?",
    "housing": "公司有住房补贴或宿舍吗?",
    "training": "入职后有哪些培训?",
    "team": "团队现在有多少人, 做什么方向?",
    "tech_stack": "团队主要用什么技术栈?",
    "growth": "晋升通道是怎样的?",
}


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class EventLog:
    """Collects events as arrays; turned into one frame at the end."""

    def __init__(self) -> None:
        self.parts: list[dict[str, np.ndarray]] = []

    def add(
        self,
        cand: np.ndarray,
        day: int,
        etype: str,
        minute: np.ndarray | None = None,
        rng: np.random.Generator | None = None,
        channel: str | np.ndarray | None = None,
        actor: str | None = None,
        topic: np.ndarray | None = None,
        content: np.ndarray | None = None,
        value: np.ndarray | None = None,
        text: bool = False,
    ) -> None:
        n = cand.shape[0]
        if n == 0:
            return
        if minute is None:
            if rng is None:
                raise ValueError("an event needs a minute or a generator to draw one")
            minute = np.asarray(rng.integers(9 * 60, 21 * 60, n))
        if isinstance(channel, str):
            ch = np.full(n, _CH[channel])
        else:
            ch = np.full(n, -1) if channel is None else channel
        self.parts.append(
            {
                "cand": cand.astype(np.int32),
                "day": np.full(n, day, dtype=np.int16),
                "minute": np.minimum(minute, 1439).astype(np.int16),
                "type": np.full(n, _T[etype], dtype=np.int8),
                "channel": ch.astype(np.int8),
                "actor": np.full(n, -1 if actor is None else _A[actor], dtype=np.int8),
                "topic": (np.full(n, -1) if topic is None else topic).astype(np.int8),
                "content": (np.full(n, -1) if content is None else content).astype(np.int16),
                "value": (np.full(n, np.nan) if value is None else value).astype(np.float32),
                "text": np.full(n, text, dtype=bool),
            }
        )

    def frame(self) -> dict[str, np.ndarray]:
        if not self.parts:
            return {}
        return {k: np.concatenate([p[k] for p in self.parts]) for k in self.parts[0]}


@dataclass
class World:
    """Static facts a step needs besides the per-candidate state."""

    params: SimParams
    policy: Policy
    day0: dt.date
    end_day: int
    shape: np.ndarray  # competing-offer seasonality per day
    weekday: np.ndarray  # per day
    content_for: np.ndarray  # (roles, topics) -> content index, -1 none
    generic_content: np.ndarray  # content indices of news/greeting/guides


def _month_shape(day0: dt.date, days: int) -> np.ndarray:
    months = np.array([(day0 + dt.timedelta(days=int(d))).month for d in range(days + 1)])
    table = {
        9: 0.6,
        10: 1.0,
        11: 1.0,
        12: 0.8,
        1: 0.3,
        2: 0.25,
        3: 0.55,
        4: 0.5,
        5: 0.2,
        6: 0.12,
        7: 0.05,
        8: 0.05,
    }
    return np.array([table[m] for m in months])


def make_world(season: str, pop: Population, params: SimParams, policy: Policy) -> World:
    year = int(season[:4])
    day0 = dt.date(year, *params.season_start_month_day)
    start = dt.date(year + 1, *params.start_date_month_day)
    end_day = (start - day0).days
    lib = content_library(params)
    roles = list(ROLES)
    content_for = np.full((len(roles), len(params.topics)), -1)
    for i, row in lib.iterrows():
        if row["role_families"] in roles and row["topics"] in params.topics:
            content_for[roles.index(row["role_families"]), params.topics.index(row["topics"])] = i
    generic = lib.index[lib["role_families"] == ""].to_numpy()
    weekday = np.array([(day0 + dt.timedelta(days=d)).weekday() for d in range(end_day + 1)])
    return World(
        params, policy, day0, end_day, _month_shape(day0, end_day), weekday, content_for, generic
    )


def initial_state(pop: Population, params: SimParams, rng: np.random.Generator) -> dict[str, Any]:
    n = len(pop.frame)
    n_topics = len(params.topics)
    c = (
        params.base_commitment
        + params.base_commitment_sd * pop.affinity
        - params.far_from_home_penalty * pop.far
        - params.major_misfit_penalty * pop.misfit
        - params.attractiveness_penalty * pop.attractiveness
    )
    request = pop.interview_day + rng.integers(1, 5, n)
    dm = request + np.ceil(rng.exponential(pop.dept_manager_days)).astype(int)
    hd = dm + np.ceil(rng.exponential(pop.hr_director_days)).astype(int)
    return {
        # static
        "owner_idx": pop.owner_idx,
        "attract": pop.attractiveness,
        "far": pop.far,
        "role_idx": pop.role_idx,
        "interests": pop.interests,
        "consent": pop.consent,
        "interview_day": pop.interview_day,
        "interview_score": pop.interview_score,
        "info_day": pop.info_session_day,
        "request_day": request,
        "dm_day": dm,
        "hd_day": hd,
        # dynamic
        "c": c,
        "phase": np.zeros(n, dtype=np.int8),
        "sent_day": np.full(n, -1),
        "deadline": np.full(n, -1),
        "extended": np.zeros(n, bool),
        "last_contact": np.full(n, -1),
        "last_reply": np.full(n, -1),
        "unreplied": np.zeros(n, dtype=np.int16),
        "open_q": np.zeros((n, n_topics), bool),
        "open_since": np.zeros((n, n_topics), np.int16),
        "asked": np.zeros((n, n_topics), bool),
        "addressed": np.zeros((n, n_topics), bool),
        "contacts": np.zeros((n, 7), dtype=np.int8),
        "contacts_7d": np.zeros(n, dtype=np.int16),
        "any_interest": pop.interests.any(axis=1),
        "n_open": np.zeros(n, dtype=np.int8),
        "comp_pending": np.zeros(n, bool),
        "comp_deadline": np.full(n, -1),
        "comp_pull": np.zeros(n),
        "comp_seen": np.zeros(n, bool),
        "losses": np.zeros((n, len(CAUSES))),
        "materials": np.zeros(n, bool),
        "outcome_day": np.full(n, -1),
        "reason": np.full(n, -1, dtype=np.int8),
    }


def subset_state(state: dict[str, Any], idx: np.ndarray) -> dict[str, Any]:
    return {k: v[idx] for k, v in state.items()}


def _renege(s: dict[str, Any], who: np.ndarray, day: int, reason: np.ndarray | int) -> None:
    s["phase"][who] = RENEGED
    s["outcome_day"][who] = day
    s["reason"][who] = reason


def _blame(
    s: dict[str, Any], who: np.ndarray, rng: np.random.Generator, p: SimParams
) -> np.ndarray:
    losses = s["losses"][who]
    reason = losses.argmax(axis=1)
    weak = losses.max(axis=1) < 0.25
    personal = rng.random(who.shape[0]) < p.personal_share
    return np.where(weak | personal, _C["personal"], reason)


def step(
    s: dict[str, Any], day: int, w: World, rng: np.random.Generator, log: EventLog | None
) -> None:
    """Advance every candidate in ``s`` through ``day``."""
    p = w.params
    n = s["c"].shape[0]
    ph = s["phase"]

    # -- recruiting history (before the offer) -------------------------------------
    # State changes happen whether or not events are logged, so roll-outs match the run.
    att = np.flatnonzero(s["info_day"] == day)
    asks = att[rng.random(att.size) < 0.25]
    topic = pick_column(s["interests"][asks], rng)
    asks, topic = asks[topic >= 0], topic[topic >= 0]
    s["asked"][asks, topic] = True
    if log is not None:
        log.add(att, day, "info_session_attended", rng=rng, channel="onsite")
        log.add(
            asks,
            day,
            "info_session_question",
            rng=rng,
            channel="onsite",
            actor="candidate",
            topic=_contract_topic(topic, p),
            text=True,
        )
        iv = np.flatnonzero(s["interview_day"] == day)
        log.add(iv, day, "interview_completed", rng=rng, actor="hr", value=s["interview_score"][iv])

    # -- offer approval ---------------------------------------------------------------
    req = np.flatnonzero((s["request_day"] == day) & (ph == PRE))
    ph[req] = PENDING
    if log is not None:
        log.add(req, day, "offer_approval_requested", rng=rng, channel="system", actor="hr")
        dm = np.flatnonzero((s["dm_day"] == day) & (ph == PENDING))
        log.add(
            dm,
            day,
            "offer_approval_step",
            minute=rng.integers(540, 1080, dm.size),
            channel="system",
            actor="dept_manager",
        )
    done = np.flatnonzero((s["hd_day"] == day) & (ph == PENDING))
    if log is not None and done.size:
        m = rng.integers(540, 1080, done.size)
        log.add(done, day, "offer_approval_step", minute=m, channel="system", actor="hr_director")
        log.add(done, day, "offer_approved", minute=m + 5, channel="system", actor="system")
        log.add(done, day, "offer_sent", minute=m + 30, channel="email", actor="hr")
    ph[done] = OFFERED
    s["sent_day"][done] = day
    s["deadline"][done] = day + p.decision_days
    s["last_contact"][done] = day
    pending = ph == PENDING
    slow = pending & (day - s["request_day"] > p.approval_sla_days)
    s["c"][slow] -= p.approval_slow_loss
    s["losses"][slow, _C["approval_slow"]] += p.approval_slow_loss

    live = (ph >= PENDING) & (ph <= ACCEPTED)

    # -- competing offers -------------------------------------------------------------
    rate = p.competing_rate * w.shape[day] * np.exp(p.competing_attractiveness * s["attract"])
    arrive = live & ~s["comp_pending"] & (rng.random(n) < rate)
    idx = np.flatnonzero(arrive)
    if idx.size:
        pull = rng.exponential(p.competing_pull_mean, idx.size) + 0.3 * s["attract"][idx]
        s["comp_pending"][idx] = True
        s["comp_pull"][idx] = pull
        s["comp_deadline"][idx] = day + rng.integers(*p.competing_deadline_days, idx.size)
        hit = p.competing_hit * pull
        s["c"][idx] -= hit
        salary = s["interests"][idx, p.topics.index("salary")]
        s["losses"][idx, _C["competing_offer"]] += hit
        s["losses"][idx[salary], _C["salary"]] += 0.5 * hit[salary]
        seen = idx[s["consent"][idx] & (rng.random(idx.size) < p.signal_share)]
        s["comp_seen"][seen] = True
        if log is not None:
            log.add(
                seen,
                day,
                "external_signal",
                rng=rng,
                channel="portal",
                actor="system",
                topic=np.full(seen.size, TOPICS.index("competing_offer")),
            )
        # some tell HR themselves ("I have another offer, can you match it?"),
        # whatever their consent to outside signals: it is their own message
        tells = idx[rng.random(idx.size) < p.mention_share]
        if log is not None:
            log.add(
                tells,
                day,
                "candidate_question",
                rng=rng,
                channel="wechat",
                actor="candidate",
                topic=np.full(tells.size, TOPICS.index("competing_offer")),
                text=True,
            )
        asks_salary = idx[rng.random(idx.size) < 0.3]
        _ask(s, asks_salary, np.full(asks_salary.size, p.topics.index("salary")), day, p, rng, log)
        ext = idx[(ph[idx] == OFFERED) & ~s["extended"][idx] & (rng.random(idx.size) < 0.6)]
        s["extended"][ext] = True
        s["deadline"][ext] += p.extension_days
        if log is not None:
            log.add(
                ext, day, "offer_extension_requested", rng=rng, channel="wechat", actor="candidate"
            )

    # -- questions the candidate raises ---------------------------------------------------
    has_interest = s["any_interest"]
    q_rate = p.question_rate * _sigmoid(s["c"]) * 2
    asks = np.flatnonzero(live & has_interest & (rng.random(n) < q_rate))
    if asks.size:
        _ask(s, asks, pick_column(s["interests"][asks], rng), day, p, rng, log)

    # -- the policy acts on what is observable ------------------------------------------
    obs = Observation(
        day=day,
        weekday=np.full(n, w.weekday[day]),
        active=live,
        phase=ph.copy(),
        days_since_offer_sent=np.where(s["sent_day"] >= 0, day - s["sent_day"], -1),
        days_since_hr_contact=np.where(s["last_contact"] >= 0, day - s["last_contact"], 999),
        days_since_reply=np.where(s["last_reply"] >= 0, day - s["last_reply"], 999),
        unreplied_messages=s["unreplied"],
        open_questions=s["open_q"],
        n_open=s["n_open"],
        asked_topics=s["asked"],
        contacts_last_7d=s["contacts_7d"],
        far_from_home=s["far"],
        owner_idx=s["owner_idx"],
        competing_signal=s["comp_seen"],
    )
    act = w.policy.act(obs, rng)
    s["contacts_7d"] -= s["contacts"][:, day % 7]
    s["contacts"][:, day % 7] = 0
    _outreach(s, act.message & live, act.personalised, act.topic, day, w, rng, log)
    _answer(s, act.answer, day, w, rng, log)
    _answer(s, act.answer_other, day, w, rng, log, interest_topics=False)
    _call(s, act.call & live, day, p, rng, log)
    over = live & (s["contacts_7d"] > p.over_contact_per_week)
    s["c"][over] -= p.over_contact_loss

    # -- what silence and waiting cost ------------------------------------------------
    silent = day - np.where(s["last_contact"] >= 0, s["last_contact"], s["request_day"])
    lag = live & (silent > p.silence_grace_days)
    loss = p.silence_loss * np.minimum((silent - p.silence_grace_days) / p.silence_grace_days, 3)
    s["c"][lag] -= loss[lag]
    s["losses"][lag, _C["no_follow_up"]] += loss[lag]
    asking = np.flatnonzero(live & (s["n_open"] > 0))
    if asking.size:
        waiting = s["open_q"][asking] & (day - s["open_since"][asking] > p.question_grace_days)
        qloss = p.open_question_loss * waiting.sum(axis=1)
        s["c"][asking] -= qloss
        s["losses"][asking, _C["no_follow_up"]] += qloss
    housing = p.topics.index("housing")
    drift = live & s["far"] & ~s["addressed"][:, housing]
    s["c"][drift] -= p.location_drift
    s["losses"][drift, _C["location"]] += p.location_drift
    s["c"][live] += rng.normal(0, p.daily_noise_sd, int(live.sum()))

    # -- decisions and dropouts ----------------------------------------------------------
    due = live & s["comp_pending"] & (s["comp_deadline"] <= day)
    idx = np.flatnonzero(due)
    if idx.size:
        switching = np.where(
            ph[idx] == ACCEPTED, p.switching_cost_accepted, p.switching_cost_offered
        )
        take = s["comp_pull"][idx] + rng.normal(0, 0.3, idx.size) > s["c"][idx] + switching
        s["comp_pending"][idx] = False
        s["c"][idx[~take]] += 0.1
        gone = idx[take]
        if log is not None:
            loud = gone[rng.random(gone.size) < 0.7]
            log.add(loud, day, "offer_declined", rng=rng, channel="wechat", actor="candidate")
        _renege(s, gone, day, _C["competing_offer"])

    ph = s["phase"]
    deciding = np.flatnonzero(
        (ph == OFFERED)
        & (
            (s["deadline"] <= day)
            | (
                (day - s["sent_day"] >= 1)
                & (
                    rng.random(n)
                    < p.decide_early_base
                    + p.decide_early_keen * _sigmoid(2 * (s["c"] - p.base_commitment))
                )
            )
        )
    )
    if deciding.size:
        accept = s["c"][deciding] + rng.normal(0, p.decline_noise_sd, deciding.size) > 0
        yes, no = deciding[accept], deciding[~accept]
        ph[yes] = ACCEPTED
        if log is not None:
            log.add(yes, day, "offer_accepted", rng=rng, channel="portal", actor="candidate")
            log.add(no, day, "offer_declined", rng=rng, channel="portal", actor="candidate")
        _renege(s, no, day, _blame(s, no, rng, p))

    acc = np.flatnonzero(s["phase"] == ACCEPTED)
    if day < w.end_day and acc.size:
        hazard = p.withdraw_rate * _sigmoid(-p.withdraw_slope * s["c"][acc])
        gone = acc[rng.random(acc.size) < hazard]
        if log is not None:
            loud = gone[rng.random(gone.size) < 0.5]
            log.add(loud, day, "offer_declined", rng=rng, channel="wechat", actor="candidate")
        _renege(s, gone, day, _blame(s, gone, rng, p))
        docs = acc[
            (w.end_day - day <= 45)
            & ~s["materials"][acc]
            & (rng.random(acc.size) < 0.08 * _sigmoid(2 * s["c"][acc]))
        ]
        docs = docs[s["phase"][docs] == ACCEPTED]
        s["materials"][docs] = True
        if log is not None:
            log.add(docs, day, "materials_submitted", rng=rng, channel="portal", actor="candidate")
    if day == w.end_day:
        for still in (PENDING, OFFERED):  # never decided: counts as a withdrawal
            idx = np.flatnonzero(s["phase"] == still)
            _renege(s, idx, day, _blame(s, idx, rng, p))
        acc = np.flatnonzero(s["phase"] == ACCEPTED)
        no_show = rng.random(acc.size) < _sigmoid(p.no_show_base - p.no_show_slope * s["c"][acc])
        _renege(s, acc[no_show], day, _blame(s, acc[no_show], rng, p))
        joined = acc[~no_show]
        s["phase"][joined] = JOINED
        s["outcome_day"][joined] = day


def _contract_topic(sim_topic: np.ndarray, p: SimParams) -> np.ndarray:
    """Simulator topic indices -> the contract's topic codes (-1 stays -1)."""
    table = np.array([TOPICS.index(t) for t in p.topics])
    return np.where(sim_topic >= 0, table[np.maximum(sim_topic, 0)], -1)


def _ask(
    s: dict[str, Any],
    who: np.ndarray,
    topic: np.ndarray,
    day: int,
    p: SimParams,
    rng: np.random.Generator,
    log: EventLog | None,
) -> None:
    ok = topic >= 0
    who, topic = who[ok], topic[ok]
    if not who.size:
        return
    new = ~s["open_q"][who, topic]
    s["open_q"][who, topic] = True
    np.add.at(s["n_open"], who[new], 1)
    s["open_since"][who[new], topic[new]] = day
    s["asked"][who, topic] = True
    if log is not None:
        channel = np.where(rng.random(who.size) < 0.8, _CH["wechat"], _CH["email"])
        log.add(
            who,
            day,
            "candidate_question",
            rng=rng,
            channel=channel,
            actor="candidate",
            topic=_contract_topic(topic, p),
            text=True,
        )


def _content(
    s: dict[str, Any], who: np.ndarray, topic: np.ndarray, w: World, rng: np.random.Generator
) -> np.ndarray:
    specific = w.content_for[s["role_idx"][who], np.maximum(topic, 0)]
    generic = w.generic_content[rng.integers(0, 2, who.size)]
    return np.where((topic >= 0) & (specific >= 0), specific, generic)


def _readout(
    s: dict[str, Any],
    who: np.ndarray,
    fit: np.ndarray,
    content: np.ndarray,
    minute: np.ndarray,
    channel: np.ndarray,
    day: int,
    p: SimParams,
    rng: np.random.Generator,
    log: EventLog | None,
) -> None:
    """Opens, clicks and replies: a noisy read-out of commitment."""
    c = s["c"][who]
    opened = rng.random(who.size) < _sigmoid(p.open_base + p.engagement_slope * c)
    clicked = opened & (rng.random(who.size) < _sigmoid(p.click_base + c + p.fit_engagement * fit))
    replied = rng.random(who.size) < _sigmoid(
        p.reply_base + p.engagement_slope * c + p.fit_engagement * fit
    )
    delay = rng.exponential(60 + 240 * _sigmoid(-c), who.size).astype(int)
    s["unreplied"][who] += 1
    s["unreplied"][who[replied]] = 0
    s["last_reply"][who[replied]] = day
    if log is not None:
        log.add(
            who[opened],
            day,
            "message_opened",
            minute=minute[opened] + delay[opened] // 3,
            channel=channel[opened],
            actor="candidate",
            content=content[opened],
        )
        log.add(
            who[clicked],
            day,
            "link_clicked",
            minute=minute[clicked] + delay[clicked] // 2,
            channel=channel[clicked],
            actor="candidate",
            content=content[clicked],
        )
        log.add(
            who[replied],
            day,
            "message_replied",
            minute=minute[replied] + delay[replied],
            channel=channel[replied],
            actor="candidate",
        )


def _touch(s: dict[str, Any], who: np.ndarray, day: int) -> None:
    s["last_contact"][who] = day
    np.add.at(s["contacts"], (who, np.full(who.size, day % 7)), 1)
    np.add.at(s["contacts_7d"], who, 1)


def _outreach(
    s: dict[str, Any],
    send: np.ndarray,
    personalised: np.ndarray,
    topic: np.ndarray,
    day: int,
    w: World,
    rng: np.random.Generator,
    log: EventLog | None,
) -> None:
    p = w.params
    who = np.flatnonzero(send)
    if not who.size:
        return
    t = topic[who]
    fit = (t >= 0) & s["interests"][who, np.maximum(t, 0)] & personalised[who]
    knows = s["asked"][who].any(axis=1)
    lift = np.where(fit, p.message_fit_lift, p.message_lift)
    s["c"][who] += lift
    misfit = who[~fit & knows]
    s["c"][misfit] -= p.generic_misfit_loss
    s["losses"][misfit, _C["content_not_relevant"]] += p.generic_misfit_loss
    s["addressed"][who[fit], t[fit]] = True
    _touch(s, who, day)
    content = _content(s, who, np.where(personalised[who], t, -1), w, rng)
    minute = rng.integers(9 * 60, 19 * 60, who.size)
    channel = np.where(rng.random(who.size) < 0.7, _CH["wechat"], _CH["email"])
    if log is not None:
        log.add(
            who, day, "message_sent", minute=minute, channel=channel, actor="hr", content=content
        )
    _readout(s, who, fit, content, minute, channel, day, p, rng, log)


def _answer(
    s: dict[str, Any],
    answer: tuple[np.ndarray, np.ndarray],
    day: int,
    w: World,
    rng: np.random.Generator,
    log: EventLog | None,
    interest_topics: bool = True,
) -> None:
    """HR answers questions: on the interest topics (simulator topic indices, closing
    them), or on any other topic (contract topic codes: another offer, the location)."""
    who, topic = answer
    if not who.size:
        return
    if interest_topics:
        s["open_q"][who, topic] = False
        np.subtract.at(s["n_open"], who, 1)
        s["addressed"][who, topic] = True
        today = s["open_since"][who, topic] == day
        contract_topic, content_topic = _contract_topic(topic, w.params), topic
    else:
        today = np.ones(who.size, bool)
        contract_topic, content_topic = topic, np.full(who.size, -1)
    np.add.at(s["c"], who, w.params.answer_lift)
    _touch(s, who, day)
    content = _content(s, who, content_topic, w, rng)
    minute = rng.integers(9 * 60, 19 * 60, who.size)
    # a question asked today is answered that evening, after it was asked
    minute = np.where(today, 21 * 60 + minute % 180, minute)
    channel = np.full(who.size, _CH["wechat"])
    if log is not None:
        log.add(
            who,
            day,
            "message_sent",
            minute=minute,
            channel=channel,
            actor="hr",
            topic=contract_topic,
            content=content,
        )
    _readout(s, who, np.ones(who.size, bool), content, minute, channel, day, w.params, rng, log)


def _call(
    s: dict[str, Any],
    call: np.ndarray,
    day: int,
    p: SimParams,
    rng: np.random.Generator,
    log: EventLog | None,
) -> None:
    who = np.flatnonzero(call)
    if not who.size:
        return
    answered = rng.random(who.size) < _sigmoid(p.call_answer_base + s["c"][who])
    s["c"][who[answered]] += p.call_lift
    s["last_reply"][who[answered]] = day
    s["unreplied"][who[answered]] = 0
    _touch(s, who, day)
    minute = rng.integers(9 * 60, 19 * 60, who.size)
    if log is not None:
        log.add(who, day, "call_made", minute=minute, channel="phone", actor="hr")
        log.add(
            who[answered],
            day,
            "call_answered",
            minute=minute[answered] + 1,
            channel="phone",
            actor="candidate",
        )


def run_season(
    state: dict[str, Any],
    w: World,
    rng: np.random.Generator,
    log: EventLog | None,
    first_day: int = 0,
    on_day_end: Any = None,
) -> dict[str, Any]:
    for day in range(first_day, w.end_day + 1):
        step(state, day, w, rng, log)
        if on_day_end is not None:
            on_day_end(day, state)
    return state


def rollout_truth(
    state: dict[str, Any], day: int, w: World, rng: np.random.Generator, rollouts: int
) -> tuple[np.ndarray, np.ndarray]:
    """P(renege) for candidates active at the end of ``day``, by Monte-Carlo roll-outs."""
    active = np.flatnonzero((state["phase"] >= PENDING) & (state["phase"] <= ACCEPTED))
    if not active.size:
        return active, np.zeros(0)
    rep = np.repeat(active, rollouts)
    clone = {k: v[rep].copy() for k, v in state.items()}
    run_season(clone, w, rng, None, first_day=day + 1)
    reneged = (clone["phase"] == RENEGED).reshape(active.size, rollouts)
    return active, reneged.mean(axis=1)


def events_frame(log: EventLog, pop: Population, w: World) -> pd.DataFrame:
    """The event log as the contract's events.csv columns."""
    f = log.frame()
    order = np.lexsort((f["minute"], f["day"]))
    f = {k: v[order] for k, v in f.items()}
    ids = pop.frame["candidate_id"].to_numpy()[f["cand"]]
    base = np.datetime64(w.day0, "m")
    when = base + f["day"].astype("timedelta64[D]") + f["minute"].astype("timedelta64[m]")
    ts = np.char.add(np.datetime_as_string(when, unit="m"), ":00+08:00")
    lib = content_library(w.params)["content_id"].to_numpy()
    channels = np.array([*CHANNELS, ""], dtype=object)
    actors = np.array([*ACTOR_CODES, ""], dtype=object)
    topics = np.array([*TOPICS, ""], dtype=object)
    contents = np.array([*lib, ""], dtype=object)
    topic_names = np.array(TOPICS)
    text = np.where(
        f["text"] & (f["topic"] >= 0),
        np.array([QUESTION_TEXT.get(t, "想了解一下") for t in topic_names], dtype=object)[
            np.maximum(f["topic"], 0)
        ],
        "",
    )
    value = np.where(np.isnan(f["value"]), "", np.nan_to_num(f["value"]).astype(int).astype(str))
    seq = np.arange(len(ids)).astype(str)
    return pd.DataFrame(
        {
            "event_id": np.char.add(np.char.add(ids.astype(str), "-"), seq),
            "candidate_id": ids,
            "ts": ts,
            "type": np.array(EVENT_TYPES, dtype=object)[f["type"]],
            "channel": channels[f["channel"]],
            "content_id": contents[f["content"]],
            "topic": topics[f["topic"]],
            "value": value,
            "actor": actors[f["actor"]],
            "text": text,
        }
    )

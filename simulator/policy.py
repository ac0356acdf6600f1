"""Outreach policies: what HR does each day, seen only through observable state.

A policy never reads the latent commitment: it gets an ``Observation`` built
from what the store would hold, so a later replay can swap in keepwarm's own
plan and compare at equal effort.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


@dataclass
class Observation:
    day: int
    weekday: np.ndarray  # 0 = Monday, same for all; kept per candidate for simplicity
    active: np.ndarray  # in the scored population today
    phase: np.ndarray  # 1 approval pending, 2 offer out, 3 accepted
    days_since_offer_sent: np.ndarray  # -1 before it is sent
    days_since_hr_contact: np.ndarray
    days_since_reply: np.ndarray
    unreplied_messages: np.ndarray  # HR messages since the candidate last replied
    open_questions: np.ndarray  # (n, topics) bool
    n_open: np.ndarray  # open questions per candidate
    asked_topics: np.ndarray  # (n, topics) bool: every topic the candidate raised so far
    contacts_last_7d: np.ndarray
    far_from_home: np.ndarray  # from the profile: home city != work city
    owner_idx: np.ndarray
    competing_signal: np.ndarray  # a consented signal was seen


@dataclass
class Actions:
    message: np.ndarray  # bool: send a message today
    personalised: np.ndarray  # bool: the message matches the candidate's known topics
    topic: np.ndarray  # int topic index the message is about, -1 = generic
    answer: tuple[np.ndarray, np.ndarray]  # (candidates, topics): open questions answered today
    call: np.ndarray  # bool
    # (candidates, contract topic codes): answers to questions outside the simulator's
    # interest topics (a candidate who mentions another offer and asks to talk)
    answer_other: tuple[np.ndarray, np.ndarray] = field(
        default_factory=lambda: (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    )


class Policy(Protocol):
    def act(self, obs: Observation, rng: np.random.Generator) -> Actions: ...


def pick_column(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One random True column per row (-1 where a row has none)."""
    weights = mask * rng.random(mask.shape)
    return np.where(mask.any(axis=1), weights.argmax(axis=1), -1)


class NoOutreach:
    """(a) in the replay: nothing beyond the offer process itself."""

    def act(self, obs: Observation, rng: np.random.Generator) -> Actions:
        n = obs.active.shape[0]
        none = np.zeros(n, dtype=bool)
        empty = np.zeros(0, dtype=np.int64)
        return Actions(none, none, np.full(n, -1), (empty, empty), none)


@dataclass
class TemplateCadence:
    """The brief's practice: a template cadence, answered questions, calls when worried.

    Each recruiter works it with their own diligence and habit of
    personalising; this is the default policy of simulated seasons.
    """

    diligence: np.ndarray  # per owner
    personalisation: np.ndarray  # per owner
    cadence_days: tuple[int, ...] = (1, 3, 7)
    weekly_weekday: int = 4  # Friday news
    worry_after_days: int = 4

    def act(self, obs: Observation, rng: np.random.Generator) -> Actions:
        n = obs.active.shape[0]
        d = self.diligence[obs.owner_idx]
        pers = self.personalisation[obs.owner_idx]
        live = obs.active & (obs.phase >= 1)
        since = obs.days_since_offer_sent
        cadence = np.isin(since, self.cadence_days) & (rng.random(n) < 0.5 + 0.5 * d)
        weekly = (obs.weekday == self.weekly_weekday) & (since > 7) & (rng.random(n) < d * 0.8)
        message = live & (since >= 0) & (cadence | weekly)
        topic = np.full(n, -1)
        sending = np.flatnonzero(message)
        asked = obs.asked_topics[sending]
        personal = asked.any(axis=1) & (rng.random(sending.size) < pers[sending])
        # a recruiter who personalises picks one of the topics the candidate raised
        topic[sending[personal]] = pick_column(asked[personal], rng)
        personalised = topic >= 0
        who = np.flatnonzero(live & (obs.n_open > 0))
        rows, cols = np.nonzero(obs.open_questions[who])
        rows = who[rows]
        keep = rng.random(rows.size) < 0.1 + 0.4 * d[rows]
        answer = (rows[keep], cols[keep])
        worried = (obs.unreplied_messages >= 2) & (obs.days_since_reply > self.worry_after_days)
        call = live & worried & (rng.random(n) < 0.12 * d) & (obs.contacts_last_7d < 4)
        return Actions(message, personalised, topic, answer, call)

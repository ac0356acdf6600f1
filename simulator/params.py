"""Every parameter of the season simulator, in one place.

docs/simulator.md explains the mechanisms these numbers drive. Rates are per
day unless named otherwise; commitment is on a logit-like scale where 0 is
"could go either way".
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SimParams:
    # calendar (day 0 = 1 September of the season's year)
    season_start_month_day: tuple[int, int] = (9, 1)
    start_date_month_day: tuple[int, int] = (7, 6)  # first working day, next July
    interview_window: tuple[int, int] = (14, 85)  # mid-Sep .. late Nov
    info_session_share: float = 0.55
    info_session_affinity: float = 0.8  # log-odds of attending per unit of affinity
    decision_days: int = 14  # offer deadline after sending
    extension_days: int = 14

    # people
    hr_candidates_per_owner: int = 40
    consent_share: float = 0.6
    far_from_home_share: float = 0.6
    tier_shares: tuple[float, float, float] = (0.2, 0.4, 0.4)

    # latent commitment
    base_commitment: float = 2.5
    base_commitment_sd: float = 0.8
    far_from_home_penalty: float = 0.35
    major_misfit_penalty: float = 0.3
    attractiveness_penalty: float = 0.25  # attractive people are less committed to any one offer
    daily_noise_sd: float = 0.035

    # offer approval (department-dependent speed)
    dept_manager_days_mean: tuple[float, float] = (0.6, 4.0)  # range across departments
    hr_director_days_mean: tuple[float, float] = (0.6, 3.0)
    approval_sla_days: int = 2
    approval_slow_loss: float = 0.05  # per day past the SLA

    # HR follow-up
    silence_grace_days: int = 7
    silence_loss: float = 0.008  # per day past the grace, growing to 3x
    question_grace_days: int = 2
    open_question_loss: float = 0.05  # per day an asked question waits past the grace
    location_drift: float = 0.009  # per day for those far from home, until housing is addressed
    message_lift: float = 0.03
    message_fit_lift: float = 0.14
    generic_misfit_loss: float = 0.02  # a template to someone whose interests are known
    call_lift: float = 0.18
    answer_lift: float = 0.12
    over_contact_per_week: int = 5
    over_contact_loss: float = 0.05

    # competing offers
    competing_rate: float = 0.005  # per day at the autumn peak, average candidate
    competing_attractiveness: float = 0.8  # log-rate per unit of attractiveness
    competing_pull_mean: float = 0.9
    competing_hit: float = 0.45  # commitment lost when one arrives, per unit of pull
    competing_deadline_days: tuple[int, int] = (5, 15)
    switching_cost_offered: float = 0.3
    switching_cost_accepted: float = 0.9
    signal_share: float = 0.55  # of competing offers seen as a consented public post
    mention_share: float = 0.3  # of competing offers the candidate tells HR about

    # engagement read-out
    open_base: float = -0.5
    reply_base: float = -3.2
    click_base: float = -2.5
    engagement_slope: float = 1.2
    fit_engagement: float = 1.2  # personalised content is read and answered more
    question_rate: float = 0.008
    call_answer_base: float = 0.4

    # dropping out
    decline_noise_sd: float = 0.5
    decide_early_base: float = 0.04  # daily chance of deciding before the deadline ...
    decide_early_keen: float = 0.3  # ... rising with commitment: keen people say yes fast
    withdraw_rate: float = 0.01  # scale of the daily hazard once accepted
    withdraw_slope: float = 4.0
    no_show_base: float = -3.2
    no_show_slope: float = 2.0
    personal_share: float = 0.08  # withdrawals for reasons outside the model

    # truth roll-outs
    truth_days: tuple[tuple[int, int], ...] = ((11, 15), (1, 15), (3, 15), (5, 15))
    truth_rollouts: int = 24

    topics: tuple[str, ...] = field(
        default=("salary", "housing", "training", "team", "tech_stack", "growth")
    )

# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Season exploration
#
# What happened in a season: the offer funnel month by month, how candidates
# engaged with what HR sent, and why those who left, left. Everything comes from
# the store under `KEEPWARM_HOME` (run `make demo` first), through the same
# functions as the console's season review (`outreach.review`).

# %%
import os

import matplotlib.pyplot as plt
import pandas as pd

from config import get_settings
from features.population import scored_population
from outreach import review
from store.db import open_store

engine = open_store(get_settings())
seasons = review.season_names(engine)
SEASON = os.environ.get("KEEPWARM_NB_SEASON", seasons[-2] if len(seasons) > 1 else seasons[-1])
frames = review.load_season(engine, SEASON)
print(f"seasons in the store: {seasons}; exploring {SEASON}")
print(f"{len(frames.candidates)} candidates, {len(frames.events)} events, {len(frames.outcomes)} outcomes")

# %% [markdown]
# ## The funnel by month
# Offers sent and accepted by the month of the event; joined and reneged by the
# month of the outcome. Reneging spreads over the whole wait, not only the end.

# %%
funnel = review.funnel_by_month(frames)
funnel.plot(x="month", kind="bar", figsize=(9, 3.5), title=f"{SEASON}: funnel by month")
plt.tight_layout()
funnel

# %% [markdown]
# ## Who reneged, and when
# The renege rate, and how many days before the start date people left.

# %%
outcomes = frames.outcomes.merge(
    frames.candidates[["candidate_id", "department", "role_family"]], on="candidate_id"
)
rate = (outcomes["outcome"] == "reneged").mean()
print(f"renege rate: {rate:.1%} of {len(outcomes)} candidates with an outcome")
by_role = (
    outcomes.assign(reneged=outcomes["outcome"] == "reneged")
    .groupby("role_family")["reneged"]
    .agg(["mean", "size"])
    .rename(columns={"mean": "renege_rate", "size": "candidates"})
    .sort_values("renege_rate", ascending=False)
)
by_role

# %%
reasons = review.renege_reasons(frames)
reasons.plot(x="reason", y="reneged", kind="barh", legend=False, figsize=(6, 3), title="Renege reasons")
plt.gca().invert_yaxis()
plt.tight_layout()
reasons

# %% [markdown]
# ## Engagement
# Events per candidate by type, and whether personalised content (on a topic the
# candidate had asked about) is answered more than a template.

# %%
per_type = frames.events.groupby("type").size().sort_values(ascending=False)
(per_type / len(frames.candidates)).round(2).rename("per candidate").to_frame()

# %%
content = review.content_response(frames)
content.set_index("content")[["open_rate", "click_rate", "reply_rate"]].T.plot(
    kind="bar", figsize=(6, 3), title="Personalised vs template"
)
plt.tight_layout()
content

# %% [markdown]
# ## Time to an answer
# Hours from an alert (a question, a silence, a competing offer) to HR's answer,
# per recruiter. Empty when no daily run kept alerts for this season.

# %%
review.alert_response(frames)

# %% [markdown]
# ## Days in the scored population
# From the first offer event to the outcome: how long keepwarm has to keep
# each person warm.

# %%
pop = scored_population(frames.events, frames.outcomes)
days = (pd.to_datetime(pop["outcome_date"]) - pd.to_datetime(pop["entry_day"])).dt.days
days.describe().round(1).to_frame("days from offer to outcome")

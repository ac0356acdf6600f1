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
# # Model report
#
# Train a challenger on the past seasons in the store, test it on the latest
# finished season (never seen in training, split by season), compare it with the
# champion on the same snapshots, check its calibration, read the reasons it gives
# for a few candidates, and replay a simulated season under the outreach policies.
# The run is logged to MLflow by the one training-run path (lineage, metrics, bias
# audit, the gate's view) but not registered: `keepwarm train` does that.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

from config import get_settings
from features.catalogue import FEATURE_NAMES
from outreach.replay import policy_eval
from store.db import open_store
from training.config import load_config
from training.predictor import Predictor, worded
from training.report import calibration_table
from training.tracking import log_and_register
from training.train import closed_seasons, load_season_data, train_model

settings = get_settings()
engine = open_store(settings)
cfg = load_config()
closed = closed_seasons(engine)
TRAIN, TEST = closed[:-1], closed[-1]
print(f"finished seasons: {closed}; train on {TRAIN}, test on {TEST}")

# %%
data = load_season_data(engine)
result = train_model(data, TRAIN, TEST, cfg)
result.metrics.query("slice == 'all'")[["scorer", "n", "auc", "pr_auc", "ece", "recall_capacity"]]

# %% [markdown]
# ## Against the champion
# The promotion gate's view, as `keepwarm train --promote auto` would decide: both
# score the same held-out snapshots (or, when the champion was fitted on this season,
# its recipe refitted on the challenger's seasons); intervals are paired and resample
# candidates. The run is logged, not registered.

# %%
run = log_and_register(
    result, {"trained_by": "notebooks/model_report"}, settings, "never", register=False
)
print(f"MLflow run {run.run_id}: {run.reason}")
test = result.test
y = test["label"].to_numpy()
if run.decision is not None and run.decision.comparison is not None:
    table = run.decision.comparison.table
    print(table[["slice", "metric", "challenger", "champion", "diff", "lo", "hi"]].round(4))

# %% [markdown]
# ## Calibration
# A risk of 30% should mean about 30 in 100 such candidates renege. Equal-count bins.

# %%
cal = calibration_table(y, test["risk_keepwarm"].to_numpy())
ax = cal.plot(x="predicted", y="observed", marker="o", figsize=(4, 4), legend=False)
ax.plot([0, 1], [0, 1], ":", color="grey")
ax.set(xlabel="predicted risk", ylabel="observed renege rate", title=f"Calibration, {TEST}")
plt.tight_layout()
cal.round(3)

# %% [markdown]
# ## Reasons for a few candidates
# The top contributions (TreeSHAP) for the riskiest snapshots on the last day of the
# test season's spine, in the words a recruiter reads.

# %%
last_day = test["as_of"].max()
riskiest = test[test["as_of"] == last_day].nlargest(3, "risk_keepwarm")
predictor = Predictor.of(result.model)
_, _, picked = predictor.explain(predictor.matrix(riskiest), top=3)
for row, reasons in zip(riskiest.itertuples(), picked, strict=True):
    words = "; ".join(worded(r)["text_en"] for r in reasons)
    print(f"{row.candidate_id} risk {row.risk_keepwarm:.0%}: {words}")

# %% [markdown]
# ## What the model leans on
# Gain importance of the top features.

# %%
booster = result.model.booster_
gain = dict(zip(booster.feature_name(), booster.feature_importance("gain"), strict=True))
top = sorted(gain.items(), key=lambda kv: kv[1])[-12:]
plt.figure(figsize=(6, 4))
plt.barh([k for k, _ in top], [v for _, v in top])
plt.title("Feature importance (gain)")
plt.tight_layout()

# %% [markdown]
# ## The outreach replay
# The same simulated season under no outreach, the brief's rules and keepwarm's plan
# (with as many HR contacts as the rules made). Small here so it runs in minutes;
# `keepwarm policy-eval --candidates 300 --seeds 6` gives the README's figures.

# %%
REPLAY_CANDIDATES = int(os.environ.get("KEEPWARM_NB_REPLAY_CANDIDATES", "150"))
REPLAY_SEEDS = int(os.environ.get("KEEPWARM_NB_REPLAY_SEEDS", "2"))
# the new hires' first working day (month, day); July's, as in the brief, unless set
FIRST_DAY = tuple(
    int(x) for x in os.environ.get("KEEPWARM_NB_REPLAY_FIRST_DAY", "07-06").split("-")
)
# the earlier season the replay's model learns from
TRAIN_CANDIDATES = int(
    os.environ.get("KEEPWARM_NB_REPLAY_TRAIN_CANDIDATES", str(max(200, REPLAY_CANDIDATES * 2)))
)
replay = policy_eval(
    REPLAY_CANDIDATES,
    REPLAY_SEEDS,
    capacity=2,
    cfg=cfg,
    train_candidates=TRAIN_CANDIDATES,
    first_day=FIRST_DAY,
)
summary = replay.summary()
print({k: summary[k] for k in ("renege_rate", "contacts", "relative_reduction", "ci95")})
np.round([s.renege_rate["keepwarm"] for s in replay.seeds], 3)

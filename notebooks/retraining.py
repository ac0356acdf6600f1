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
# # Retraining on a new season's bundle
#
# The season in progress has ended: the ATS delivers the whole 2025-autumn bundle,
# outcomes included. This walk-through loads it, checks which seasons are now
# finished, trains on all but the newest, tests on the newest, and lets the
# promotion gate decide whether the new model replaces the champion.
# It is what the scheduled `retrain-on-closed-seasons` flow does, step by step.
#
# Here the bundle is simulated with the demo's settings (the same people as the
# season in progress); with real data, point `BUNDLE` at the folder the ATS wrote.

# %%
import os
import tempfile
from pathlib import Path

from config import get_settings
from simulator import simulate_seasons, write_bundle
from store.db import open_store
from store.ingest import count_rows, ingest_bundle
from training.config import load_config
from training.tracking import log_and_register, model_history
from training.train import closed_seasons, load_season_data, train_model

settings = get_settings()
engine = open_store(settings)
CANDIDATES = int(os.environ.get("KEEPWARM_NB_CANDIDATES", "1000"))
SEED = int(os.environ.get("KEEPWARM_NB_SEED", "7"))
print("before:", closed_seasons(engine), count_rows(engine))

# %% [markdown]
# ## 1. The new bundle
# It follows the data contract; the check refuses the whole bundle on any bad row,
# saying which file, row and field.

# %%
(season,) = simulate_seasons(["2025-autumn"], CANDIDATES, SEED, truth=False, workers=1)
BUNDLE = write_bundle(season, Path(tempfile.mkdtemp()) / "2025-autumn")
sorted(p.name for p in BUNDLE.iterdir())

# %% [markdown]
# ## 2. Load it
# Events already in the store (delivered while the season ran) change nothing;
# the outcomes are new.

# %%
report = ingest_bundle(engine, BUNDLE)
print(report.summary())
print("finished seasons now:", closed_seasons(engine))

# %% [markdown]
# ## 3. Train on the older seasons, test on the newest
# Split by season, never by row: the test season's candidates are never seen in training.

# %%
closed = closed_seasons(engine)
train_on, test_on = closed[:-1], closed[-1]
result = train_model(load_season_data(engine), train_on, test_on, load_config())
result.metrics.query("slice == 'all' or slice.str.startswith('horizon')", engine="python")[
    ["scorer", "slice", "n", "auc", "ece"]
].round(3)

# %% [markdown]
# ## 4. Register, and let the gate decide
# The run goes to MLflow by the same path as the scheduled flow's: seasons, settings,
# chosen rounds, calibrator, code version, data fingerprint, metrics, plots, bias
# audit. The new version becomes champion only if, on a season neither model was
# fitted on, the 95% interval of its AUC gain (paired, resampling candidates) clears
# zero and no horizon's log loss or ECE is surely worse; a champion fitted on the
# test season is compared through its recipe refitted on the same training seasons.
# A promoted model is then refitted on every closed season, as the flow does.

# %%
registered = log_and_register(
    result, {"trained_by": "notebooks/retraining"}, settings, "auto", refit_winner=True
)
print(f"v{registered.version} -> {registered.alias}: {registered.reason}")
decision = registered.decision
if decision is not None and decision.comparison is not None:
    shown = decision.comparison.table.query("metric == 'auc' or slice == 'all'")
    print(shown[["slice", "metric", "challenger", "champion", "diff", "lo", "hi"]].round(4))

# %%
import pandas as pd  # noqa: E402

pd.DataFrame(model_history(settings))[["version", "aliases", "auc", "ece", "promotion"]]

# %% [markdown]
# A running `keepwarm serve` picks up a new champion within `KEEPWARM_MODEL_POLL_SECONDS`
# (or at once with `POST /v1/admin/reload-model`).

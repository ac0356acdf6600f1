"""What keepwarm must beat: the brief's rules, and a logistic regression on the same features."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from training.config import RuleThresholds
from training.predictor import row_chunks


def rule_flags(frame: pd.DataFrame, rules: RuleThresholds) -> pd.DataFrame:
    """The brief's warnings per row, one boolean column each.

    No reply for more than N days after an HR message; approval pending past its
    SLA; a competing-offer signal; a request for more time.
    """
    no_reply = (frame["unreplied_hr_messages"] > 0) & (
        frame["days_since_reply"].fillna(frame["days_since_offer_sent"]).fillna(0)
        > rules.no_reply_days
    )
    return pd.DataFrame(
        {
            "no_reply": no_reply,
            "approval_slow": frame["approval_pending_days"] > rules.approval_pending_days,
            "competing_offer": frame["competing_offer_signals"] > 0,
            "extension_requested": frame["extension_requested"] > 0,
        },
        index=frame.index,
    )


def rules_score(frame: pd.DataFrame, rules: RuleThresholds) -> np.ndarray:
    """How many of the brief's warnings fire for each snapshot (0-4), as a risk score."""
    return rule_flags(frame, rules).sum(axis=1).to_numpy(dtype=float)


def logistic_baseline(features: list[str]) -> Pipeline:
    numeric = [f for f in features if f != "role_family"]
    pre = ColumnTransformer(
        [
            (
                "num",
                make_pipeline(
                    SimpleImputer(strategy="median", add_indicator=True), StandardScaler()
                ),
                numeric,
            ),
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="unknown"),
                    OneHotEncoder(handle_unknown="ignore"),
                ),
                ["role_family"],
            ),
        ]
    )
    return make_pipeline(pre, LogisticRegression(max_iter=2000, C=1.0))


def _as_logistic_input(frame: pd.DataFrame, features: list[str]) -> pd.DataFrame:
    # copy-on-write: the selection shares ``frame``'s columns; only role_family is new
    X = frame[features]
    X["role_family"] = X["role_family"].astype(object)
    return X


def fit_logistic(train: pd.DataFrame, y: np.ndarray, features: list[str]) -> Pipeline:
    return logistic_baseline(features).fit(_as_logistic_input(train, features), y)


def logistic_proba(model: Pipeline, frame: pd.DataFrame, features: list[str]) -> np.ndarray:
    """The logistic baseline's risk per row of ``frame``, a part at a time
    (``training.predictor.row_chunks``: its imputed and scaled copies of a whole test
    season would be gigabytes)."""
    parts = [
        model.predict_proba(_as_logistic_input(frame.iloc[start:stop], features))[:, 1]
        for start, stop in row_chunks(len(frame))
    ]
    return parts[0] if len(parts) == 1 else np.concatenate(parts)

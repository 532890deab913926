"""Code a user's project would hold, named by dotted path from the specs in the pipeline tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import is_numeric_dtype
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder


def fit_forest(x_train: pd.DataFrame, y_train: pd.Series, params: dict[str, Any]) -> Pipeline:
    """A trainer function: one-hot encode the text columns, then a small random forest."""
    text = [name for name, dtype in x_train.dtypes.items() if not is_numeric_dtype(dtype)]
    encode = ColumnTransformer(
        [("text", OneHotEncoder(handle_unknown="ignore"), text)], remainder="passthrough"
    )
    return Pipeline([("encode", encode), ("forest", RandomForestClassifier(**params))]).fit(
        x_train, y_train
    )


def fit_that_raises(x_train: pd.DataFrame, y_train: pd.Series, params: dict[str, Any]) -> None:
    """A trainer whose fit fails."""
    raise RuntimeError("the solver diverged")


def mean_overestimate(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """A custom regression metric: how much the predictions overshoot on average."""
    return float(np.clip(np.asarray(y_pred) - np.asarray(y_true), 0, None).mean())

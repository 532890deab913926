"""Fitting a candidate: the feature dtypes its estimator can take, the estimator or the user's
trainer function, and the safe format its artifact will be stored in (scikit-learn is imported
by the step that fits, not by the code location)."""

from __future__ import annotations

from typing import Any

import pandas as pd
from pandas.api.types import (
    is_bool_dtype,
    is_numeric_dtype,
    is_object_dtype,
    is_string_dtype,
)

from registry_core import formats
from registry_pipelines.specs import FieldProblem, ModelSpec, import_path


def fit_candidate(spec: ModelSpec, x_train: pd.DataFrame, y_train: pd.Series) -> tuple[Any, str]:
    """The fitted model and the format to store it in; FieldProblem on any bad input."""
    from sklearn.base import is_classifier, is_regressor
    from sklearn.pipeline import Pipeline

    training = spec.training
    estimator = training.build() if training.estimator is not None else None
    check_feature_dtypes(x_train, encodes_text=estimator is None or isinstance(estimator, Pipeline))
    field = ("training", "estimator" if estimator is not None else "trainer")
    try:
        if estimator is not None:
            model = estimator.fit(x_train, y_train)
        else:
            assert training.trainer is not None
            trainer = import_path(training.trainer, field)
            model = trainer(x_train, y_train, dict(training.params))
    except FieldProblem:
        raise
    except Exception as exc:
        raise FieldProblem(field, f"fitting raised {type(exc).__name__}: {exc}") from exc
    if not callable(getattr(model, "predict", None)):
        raise FieldProblem(field, f"returned a {type(model).__name__}, which has no predict")
    fits = is_classifier if spec.task == "classification" else is_regressor
    if not fits(model):
        raise FieldProblem(field, f"returned a {type(model).__name__}, not a {spec.task} model")
    fmt = formats.default_format(model)
    if fmt == formats.PICKLE:
        raise FieldProblem(
            field,
            f"returned a {type(model).__name__}, which has no safe format: return a scikit-learn, "
            "XGBoost or LightGBM estimator",
        )
    return model, fmt


def check_feature_dtypes(features: pd.DataFrame, *, encodes_text: bool) -> None:
    """Refuse feature columns the model cannot take: numbers and booleans always pass; text and
    categories only when a Pipeline or a trainer function does its own encoding."""
    problems = []
    for name, dtype in features.dtypes.items():
        if is_bool_dtype(dtype) or (is_numeric_dtype(dtype) and dtype.kind in "biuf"):
            continue
        text = isinstance(dtype, pd.CategoricalDtype) or _is_text(features[name])
        if text and encodes_text:
            continue
        hint = (
            "encode it upstream, or train with a Pipeline or trainer function that does"
            if text
            else "convert it to numbers upstream"
        )
        problems.append(f"column {name!r} has dtype {dtype}: {hint}")
    if problems:
        raise FieldProblem(("data", "features"), "; ".join(problems))


def _is_text(column: pd.Series) -> bool:
    """True for string columns, including object columns holding only strings."""
    if is_string_dtype(column.dtype) and not is_object_dtype(column.dtype):
        return True
    return is_object_dtype(column.dtype) and bool(
        column.dropna().map(lambda value: isinstance(value, str)).all()
    )

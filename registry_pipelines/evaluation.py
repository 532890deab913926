"""Holdout metrics, threshold and champion-regression checks, and the comparison table
(scikit-learn's metrics are imported when metrics are computed, not by the code location)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from registry_pipelines.specs import BUILTIN_METRICS, Direction, FieldProblem, ModelSpec, Task

# Absorbs float noise such as 0.95 - 0.93 = 0.020000000000000018 against a 0.02 tolerance.
_TOLERANCE_SLACK = 1e-9

_LABEL_SCORERS = {"f1": "f1_score", "precision": "precision_score", "recall": "recall_score"}


def compute_metrics(
    task: Task,
    names: Iterable[str],
    y_true: ArrayLike,
    y_pred: ArrayLike,
    y_score: ArrayLike | None = None,
) -> dict[str, float]:
    """The named built-in metrics as floats: binary for 2 classes, macro for more; roc_auc needs
    y_score."""
    from sklearn import metrics as skm

    wanted = list(names)
    unsupported = [name for name in wanted if name not in BUILTIN_METRICS[task]]
    if unsupported:
        raise ValueError(f"unsupported {task} metrics: {', '.join(unsupported)}")
    truth = np.asarray(y_true)
    predicted = np.asarray(y_pred)
    if task == "regression":
        return {name: _regression_metric(name, truth, predicted) for name in wanted}
    labels = np.unique(np.concatenate([truth, predicted]))
    averaging: dict[str, object] = (
        {"average": "binary", "pos_label": labels[-1]} if len(labels) <= 2 else {"average": "macro"}
    )
    computed: dict[str, float] = {}
    for name in wanted:
        if name == "accuracy":
            computed[name] = float(skm.accuracy_score(truth, predicted))
        elif name == "roc_auc":
            if y_score is not None:
                computed[name] = _roc_auc(truth, np.asarray(y_score), binary=len(labels) <= 2)
        else:
            scorer = getattr(skm, _LABEL_SCORERS[name])
            computed[name] = float(scorer(truth, predicted, zero_division=0, **averaging))
    return computed


def model_metrics(
    spec: ModelSpec, model: Any, features: pd.DataFrame, target: pd.Series
) -> dict[str, float]:
    """Every declared metric, built-in and custom, of a fitted (or loaded) model on some rows."""
    predicted = model.predict(features)
    scores = None
    if spec.task == "classification" and callable(getattr(model, "predict_proba", None)):
        scores = model.predict_proba(features)
    builtin = [m for m in spec.metrics if isinstance(m, str)]
    computed = compute_metrics(spec.task, builtin, target, predicted, scores)
    for index, metric in enumerate(spec.metrics):
        if isinstance(metric, str):
            continue
        try:
            computed[metric.name] = metric.compute(np.asarray(target), predicted, scores)
        except FieldProblem:
            raise
        except Exception as exc:
            raise FieldProblem(
                ("metrics", index, "function"), f"{metric.function} raised {exc!r}"
            ) from exc
    return {name: computed[name] for name in spec.metric_names if name in computed}


def check_thresholds(spec: ModelSpec, metrics: Mapping[str, float]) -> list[str]:
    """Why the metrics miss the spec's thresholds, one reason per miss; empty when all pass."""
    return [
        reason
        for name in spec.validation.thresholds
        for reason in threshold_failures(spec, name, metrics)
    ]


def threshold_failures(spec: ModelSpec, name: str, metrics: Mapping[str, float]) -> list[str]:
    """Why one metric misses its threshold in the spec (one check per metric); empty on a pass."""
    bound = spec.validation.thresholds[name]
    value = metrics.get(name)
    if value is None or math.isnan(value):
        return [f"{name} is missing from the evaluation"]
    failures = []
    if bound.min is not None and value < bound.min:
        failures.append(f"{name} = {value:.4f} is below the minimum {bound.min:g}")
    if bound.max is not None and value > bound.max:
        failures.append(f"{name} = {value:.4f} is above the maximum {bound.max:g}")
    return failures


def check_regression(
    spec: ModelSpec, candidate: Mapping[str, float], champion: Mapping[str, float] | None
) -> list[str]:
    """Why the candidate regressed past max_regression; metrics the champion lacks are skipped."""
    if champion is None:
        return []
    failures = []
    for name, tolerance in spec.validation.max_regression.items():
        reference = champion.get(name)
        if reference is None or math.isnan(reference):
            continue
        value = candidate.get(name)
        if value is None or math.isnan(value):
            failures.append(f"{name} is missing from the candidate's evaluation")
            continue
        worsening = value - reference if spec.directions[name] == "lower" else reference - value
        if worsening > tolerance + _TOLERANCE_SLACK:
            failures.append(
                f"{name} = {value:.4f} is {worsening:.4f} worse than the champion's "
                f"{reference:.4f} (tolerance {tolerance:g})"
            )
    return failures


def comparison_markdown(
    candidate: Mapping[str, float],
    champion: Mapping[str, float] | None,
    champion_label: str,
    directions: Mapping[str, Direction],
) -> str:
    """A Markdown table of candidate vs champion per metric, with the delta and which one wins."""
    reference = champion or {}
    names = list(candidate) + [name for name in reference if name not in candidate]
    lines = [
        f"| metric | candidate | {_cell(champion_label)} | delta | verdict |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for name in names:
        value = candidate.get(name)
        other = reference.get(name)
        delta = "—" if value is None or other is None else f"{value - other:+.4f}"
        lines.append(
            f"| {_cell(name)} | {_number(value)} | {_number(other)} | {delta} "
            f"| {_verdict(directions.get(name), value, other)} |"
        )
    return "\n".join(lines)


def _regression_metric(name: str, truth: np.ndarray, predicted: np.ndarray) -> float:
    """One regression metric; rmse is the square root of the mean squared error."""
    from sklearn import metrics as skm

    if name == "r2":
        return float(skm.r2_score(truth, predicted))
    if name == "rmse":
        return float(math.sqrt(skm.mean_squared_error(truth, predicted)))
    return float(skm.mean_absolute_error(truth, predicted))


def _roc_auc(truth: np.ndarray, score: np.ndarray, binary: bool) -> float:
    """ROC AUC from a positive-class score or predict_proba; one-vs-rest macro for multiclass."""
    from sklearn import metrics as skm

    if binary:
        positive = score[:, -1] if score.ndim == 2 else score
        return float(skm.roc_auc_score(truth, positive))
    return float(skm.roc_auc_score(truth, score, multi_class="ovr", average="macro"))


def _number(value: float | None) -> str:
    """A metric value for the table, or a dash when there is none."""
    return "—" if value is None else f"{value:.4f}"


def _verdict(direction: Direction | None, value: float | None, other: float | None) -> str:
    """better / worse / same for the candidate, blank when not comparable."""
    if value is None or other is None or direction is None:
        return ""
    if value == other:
        return "same"
    better = value > other if direction == "higher" else value < other
    return "better" if better else "**worse**"


def _cell(text: str) -> str:
    """Escape a pipe so free text cannot break the table."""
    return text.replace("|", "\\|")

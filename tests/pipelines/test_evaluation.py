"""Holdout metrics, threshold and regression checks, and the candidate-vs-champion table."""

from __future__ import annotations

import math

import numpy as np
import pytest

from registry_pipelines.definitions import SPECS
from registry_pipelines.evaluation import (
    check_regression,
    check_thresholds,
    comparison_markdown,
    compute_metrics,
)
from registry_pipelines.specs import ModelSpec

# churn: accuracy >= 0.90, f1 >= 0.88, may regress 0.03 / 0.04 from the champion
# house: r2 >= 0.95, rmse <= 1.25, may regress 0.02 / 0.15
CHURN, HOUSE = (
    next(s for s in SPECS if s.name == n) for n in ("churn-predictor", "HousePricePredictor")
)
CLASSIFICATION = ["accuracy", "f1", "precision", "recall", "roc_auc"]


def test_binary_metrics() -> None:
    y_true = [0, 0, 1, 1, 1, 0]
    y_pred = [0, 1, 1, 1, 0, 0]
    score = [0.1, 0.6, 0.8, 0.9, 0.4, 0.2]
    metrics = compute_metrics("classification", CLASSIFICATION, y_true, y_pred, score)
    assert metrics == pytest.approx(
        {"accuracy": 4 / 6, "f1": 2 / 3, "precision": 2 / 3, "recall": 2 / 3, "roc_auc": 8 / 9}
    )
    assert all(type(value) is float for value in metrics.values())
    proba = np.column_stack([1 - np.array(score), score])
    assert compute_metrics("classification", ["roc_auc"], y_true, y_pred, proba) == pytest.approx(
        {"roc_auc": 8 / 9}
    )


def test_binary_metrics_use_the_greater_label_as_positive() -> None:
    y_true = ["stay", "stay", "leave", "leave"]
    y_pred = ["stay", "stay", "leave", "stay"]
    metrics = compute_metrics("classification", ["precision", "recall"], y_true, y_pred)
    assert metrics == pytest.approx({"precision": 2 / 3, "recall": 1.0})  # positive is "stay"


def test_multiclass_metrics_are_macro_averaged() -> None:
    y_true = [0, 0, 1, 1, 2, 2]
    y_pred = [0, 1, 1, 1, 2, 0]
    proba = np.eye(3)[y_true]
    metrics = compute_metrics("classification", CLASSIFICATION, y_true, y_pred, proba)
    assert metrics == pytest.approx(
        {
            "accuracy": 4 / 6,
            "f1": (0.5 + 0.8 + 2 / 3) / 3,
            "precision": (0.5 + 2 / 3 + 1.0) / 3,
            "recall": (0.5 + 1.0 + 0.5) / 3,
            "roc_auc": 1.0,
        }
    )


def test_roc_auc_is_skipped_without_scores() -> None:
    metrics = compute_metrics("classification", CLASSIFICATION, [0, 1, 1], [0, 1, 0])
    assert list(metrics) == ["accuracy", "f1", "precision", "recall"]


def test_regression_metrics() -> None:
    metrics = compute_metrics("regression", ["r2", "rmse", "mae"], [1, 2, 3, 4], [1, 2, 3, 5])
    assert metrics == pytest.approx({"r2": 0.8, "rmse": 0.5, "mae": 0.25})


def test_metrics_of_another_task_are_rejected() -> None:
    with pytest.raises(ValueError, match="unsupported regression metrics: accuracy"):
        compute_metrics("regression", ["r2", "accuracy"], [1.0], [1.0])


@pytest.mark.parametrize(
    ("spec", "metrics", "expected"),
    [
        pytest.param(CHURN, {"accuracy": 0.95, "f1": 0.93, "recall": 0.1}, [], id="pass"),
        pytest.param(CHURN, {"accuracy": 0.90, "f1": 0.88}, [], id="at-the-bounds"),
        pytest.param(
            CHURN,
            {"accuracy": 0.85, "f1": 0.93},
            ["accuracy = 0.8500 is below the minimum 0.9"],
            id="below-min",
        ),
        pytest.param(
            CHURN, {"accuracy": 0.95}, ["f1 is missing from the evaluation"], id="missing"
        ),
        pytest.param(
            CHURN,
            {"accuracy": math.nan, "f1": 0.93},
            ["accuracy is missing from the evaluation"],
            id="nan",
        ),
        pytest.param(
            HOUSE,
            {"r2": 0.80, "rmse": 1.3},
            ["r2 = 0.8000 is below the minimum 0.95", "rmse = 1.3000 is above the maximum 1.25"],
            id="two-misses",
        ),
    ],
)
def test_check_thresholds(spec: ModelSpec, metrics: dict[str, float], expected: list[str]) -> None:
    assert check_thresholds(spec, metrics) == expected


CHURN_CHAMPION = {"accuracy": 0.95, "f1": 0.93}


@pytest.mark.parametrize(
    ("spec", "candidate", "champion", "expected"),
    [
        pytest.param(CHURN, {"accuracy": 0.5, "f1": 0.5}, None, [], id="no-champion"),
        pytest.param(CHURN, {"accuracy": 0.96, "f1": 0.94}, CHURN_CHAMPION, [], id="better"),
        pytest.param(
            CHURN, {"accuracy": 0.92, "f1": 0.89}, CHURN_CHAMPION, [], id="exactly-at-tolerance"
        ),
        pytest.param(
            CHURN,
            {"accuracy": 0.91, "f1": 0.93},
            CHURN_CHAMPION,
            ["accuracy = 0.9100 is 0.0400 worse than the champion's 0.9500 (tolerance 0.03)"],
            id="higher-is-better-regressed",
        ),
        pytest.param(HOUSE, {"r2": 0.97, "rmse": 1.1}, {"r2": 0.98, "rmse": 1.0}, [], id="within"),
        pytest.param(
            HOUSE,
            {"r2": 0.98, "rmse": 1.2},
            {"r2": 0.98, "rmse": 1.0},
            ["rmse = 1.2000 is 0.2000 worse than the champion's 1.0000 (tolerance 0.15)"],
            id="lower-is-better-regressed",
        ),
        pytest.param(HOUSE, {"r2": 0.99, "rmse": 0.5}, {"r2": 0.98, "rmse": 1.0}, [], id="lower"),
        pytest.param(CHURN, {"accuracy": 0.95}, {"accuracy": 0.95}, [], id="champion-lacks-f1"),
        pytest.param(
            CHURN,
            {"accuracy": 0.95},
            CHURN_CHAMPION,
            ["f1 is missing from the candidate's evaluation"],
            id="candidate-lacks-f1",
        ),
    ],
)
def test_check_regression(
    spec: ModelSpec,
    candidate: dict[str, float],
    champion: dict[str, float] | None,
    expected: list[str],
) -> None:
    assert check_regression(spec, candidate, champion) == expected


def test_comparison_markdown_against_a_champion() -> None:
    table = comparison_markdown(
        {"accuracy": 0.95, "rmse": 1.2, "f1": 0.9},
        {"accuracy": 0.94, "rmse": 1.0, "f1": 0.9, "mae": 0.8},
        "champion v3",
        {"accuracy": "higher", "rmse": "lower", "f1": "higher", "mae": "lower"},
    )
    assert table.splitlines() == [
        "| metric | candidate | champion v3 | delta | verdict |",
        "| --- | ---: | ---: | ---: | --- |",
        "| accuracy | 0.9500 | 0.9400 | +0.0100 | better |",
        "| rmse | 1.2000 | 1.0000 | +0.2000 | **worse** |",
        "| f1 | 0.9000 | 0.9000 | +0.0000 | same |",
        "| mae | — | 0.8000 | — |  |",
    ]


def test_comparison_markdown_without_a_champion() -> None:
    table = comparison_markdown({"r2": 0.99}, None, "no champion | yet", {"r2": "higher"})
    assert table.splitlines() == [
        "| metric | candidate | no champion \\| yet | delta | verdict |",
        "| --- | ---: | ---: | ---: | --- |",
        "| r2 | 0.9900 | — | — |  |",
    ]

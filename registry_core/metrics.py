"""Which direction is better for well-known metrics, so comparisons can say which version wins."""

from __future__ import annotations

from typing import Literal

Direction = Literal["higher", "lower"]

METRIC_DIRECTIONS: dict[str, Direction] = {
    "accuracy": "higher",
    "balanced_accuracy": "higher",
    "f1": "higher",
    "precision": "higher",
    "recall": "higher",
    "roc_auc": "higher",
    "r2": "higher",
    "explained_variance": "higher",
    "rmse": "lower",
    "mse": "lower",
    "mae": "lower",
    "log_loss": "lower",
}


def metric_direction(name: str) -> Direction | None:
    """The better direction for a metric, by its last dotted part (`holdout.f1` is `f1`)."""
    return METRIC_DIRECTIONS.get(name.rsplit(".", 1)[-1].lower())


def is_better(name: str, candidate: float, reference: float) -> bool | None:
    """True when `candidate` beats `reference`; None when the metric's direction is unknown."""
    direction = metric_direction(name)
    if direction is None:
        return None
    return candidate > reference if direction == "higher" else candidate < reference

"""A business metric beside the built-in ones."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def cancellations_caught(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """The share of customers who cancelled that the model flagged (recall on `cancelled`)."""
    truth, predicted = np.asarray(y_true), np.asarray(y_pred)
    cancelled = truth == 1
    return float((predicted[cancelled] == 1).mean()) if cancelled.any() else 0.0

"""The test metrics of the LTC paper's tasks, computed in NumPy from model outputs.

* ``accuracy``: the fraction of correct argmax predictions over every labelled
  step (per-step tasks) or every sequence (smnist);
* ``mse``: ``mean((prediction - target) ** 2)`` over all steps and target features;
* ``f1``: the F1 score of the positive class (1), pooled over every step of the
  split: ``2 tp / (2 tp + fp + fn)`` (0 when there is no positive at all).
"""

from __future__ import annotations

import numpy as np

from liquidtime.data._task import ACCURACY, F1, MSE

METRICS = (ACCURACY, MSE, F1)


def accuracy(outputs: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of steps (or sequences) whose argmax output equals the label.

    Args:
        outputs: Logits or probabilities ``(..., classes)``.
        labels: Integer labels of shape ``outputs.shape[:-1]``.

    Returns:
        The accuracy as a fraction in ``[0, 1]``.
    """
    return float(np.mean(np.argmax(outputs, axis=-1) == labels))


def mean_squared_error(outputs: np.ndarray, targets: np.ndarray) -> float:
    """``mean((outputs - targets) ** 2)`` over every element."""
    difference = np.asarray(outputs, np.float64) - np.asarray(targets, np.float64)
    return float(np.mean(difference**2))


def positive_f1(outputs: np.ndarray, labels: np.ndarray) -> float:
    """F1 score of class 1 pooled over every step: ``2 tp / (2 tp + fp + fn)``.

    Args:
        outputs: Logits or probabilities ``(..., 2)``.
        labels: Integer labels 0/1 of shape ``outputs.shape[:-1]``.

    Returns:
        The F1 score in ``[0, 1]``; 0 when neither predictions nor labels contain a 1.
    """
    predicted = np.argmax(outputs, axis=-1) == 1
    actual = np.asarray(labels) == 1
    true_positive = np.sum(predicted & actual)
    errors = np.sum(predicted != actual)
    denominator = 2 * true_positive + errors
    return float(2 * true_positive / denominator) if denominator else 0.0


def compute_metric(metric: str, outputs: np.ndarray, targets: np.ndarray) -> float:
    """Computes the named metric (``"accuracy"``, ``"mse"`` or ``"f1"``).

    Raises:
        ValueError: For another metric name.
    """
    if metric == ACCURACY:
        return accuracy(outputs, targets)
    if metric == MSE:
        return mean_squared_error(outputs, targets)
    if metric == F1:
        return positive_f1(outputs, targets)
    raise ValueError(
        f"Received an invalid value for argument `metric`, expected one of {list(METRICS)}, "
        f"got {metric!r}."
    )


def is_better(metric: str, candidate: float, best: float | None) -> bool:
    """Whether ``candidate`` improves on ``best`` (higher accuracy/F1, lower MSE).

    A NaN candidate never improves; anything improves on ``None``.
    """
    if not np.isfinite(candidate):
        return False
    if best is None or not np.isfinite(best):
        return True
    return candidate < best if metric == MSE else candidate > best

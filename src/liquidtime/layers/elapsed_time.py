"""Validation and shaping of per-step elapsed times for irregularly sampled sequences."""

from __future__ import annotations

from typing import Any

import numpy as np
from keras import ops


def concrete_values(value: Any) -> np.ndarray | None:
    """Returns the values of ``value`` as NumPy if they are known now, else None.

    Symbolic tensors (JAX tracers, TensorFlow graph tensors, Keras symbolic inputs)
    have no values at trace time; they are returned as None and not checked.
    """
    if isinstance(value, (int, float, np.ndarray, np.generic)):
        return np.asarray(value)
    try:
        return np.asarray(ops.convert_to_numpy(value))
    except Exception:  # noqa: BLE001 - any backend's "not concrete" error
        return None


def check_elapsed_time_values(value: Any, argument: str = "elapsed_time") -> None:
    """Raises ValueError for negative or non-finite elapsed times, when concrete."""
    values = concrete_values(value)
    if values is None:
        return
    if not np.all(np.isfinite(values)):
        raise ValueError(
            f"Received an invalid value for argument `{argument}`: elapsed times must be "
            f"finite, got {int(np.sum(~np.isfinite(values)))} NaN or infinite value(s)."
        )
    if np.any(values < 0):
        raise ValueError(
            f"Received an invalid value for argument `{argument}`: elapsed times must be "
            f">= 0, got a minimum of {float(np.min(values))}."
        )


def prepare_elapsed_time(elapsed_time: Any, sequences: Any, dtype: str) -> Any:
    """Brings elapsed times into the form the scan uses.

    Args:
        elapsed_time: None (every step lasts 1.0), a Python or NumPy scalar, or a
            tensor of shape ``(batch, time)`` or ``(batch, time, 1)``.
        sequences: The input sequences ``(batch, time, features)``, for shape checks.
        dtype: The compute dtype.

    Returns:
        A Python float for a constant step, or a ``(batch, time, 1)`` tensor.

    Raises:
        ValueError: For a shape that does not match the sequences, or negative or
            non-finite values (when the values are concrete).
    """
    if elapsed_time is None:
        return 1.0
    if isinstance(elapsed_time, (int, float, np.generic)) or (
        isinstance(elapsed_time, np.ndarray) and elapsed_time.ndim == 0
    ):
        check_elapsed_time_values(elapsed_time)
        return float(elapsed_time)
    shape = tuple(elapsed_time.shape)
    batch, timesteps = sequences.shape[0], sequences.shape[1]
    rank_ok = len(shape) == 2 or (len(shape) == 3 and shape[2] == 1)
    dims_ok = rank_ok and all(
        expected is None or got is None or expected == got
        for expected, got in zip((batch, timesteps), shape[:2])
    )
    if not dims_ok:
        raise ValueError(
            "Received an invalid value for argument `elapsed_time`: expected a scalar or "
            f"a tensor of shape (batch, time) or (batch, time, 1) = ({batch}, {timesteps}"
            f"[, 1]) matching the input sequences, got shape {shape}."
        )
    check_elapsed_time_values(elapsed_time)
    elapsed_time = ops.cast(elapsed_time, dtype)
    if len(shape) == 2:
        elapsed_time = ops.expand_dims(elapsed_time, -1)
    return elapsed_time

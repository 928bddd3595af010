"""Validation and shaping of per-step elapsed times for irregularly sampled sequences."""

from __future__ import annotations

import functools
from typing import Any

import keras
import numpy as np
from keras import ops

from liquidtime import config
from liquidtime._backend_ops import check_on_host


def _raise_for_summary(summary: np.ndarray, argument: str) -> None:
    """Raises ValueError for a summary ``(non-finite count, negative count, minimum)``."""
    nonfinite, negative, minimum = (float(v) for v in summary)
    if nonfinite:
        raise ValueError(
            f"Received an invalid value for argument `{argument}`: elapsed times must be "
            f"finite, got {int(nonfinite)} NaN or infinite value(s)."
        )
    if negative:
        raise ValueError(
            f"Received an invalid value for argument `{argument}`: elapsed times must be "
            f">= 0, got {int(negative)} negative value(s), the smallest {minimum}."
        )


def check_elapsed_time_values(value: Any, argument: str = "elapsed_time") -> Any:
    """Raises ValueError for negative or non-finite elapsed times, also inside compiled code.

    Concrete values are checked at once. In a traced function (``fit``,
    ``predict``, ``jax.jit``, ``tf.function``) the values are reduced on the device
    to ``(non-finite count, negative count, smallest finite value)`` and the error
    is raised when the function runs (see
    :func:`liquidtime._backend_ops.check_on_host`). Skipped when
    :func:`liquidtime.config.runtime_checks` is off.

    Args:
        value: A scalar or a tensor of elapsed times.
        argument: The argument's name, for the message.

    Returns:
        ``value``; on TensorFlow graphs an identity of it that depends on the check.
    """
    if not config.runtime_checks():
        return value
    if isinstance(value, (int, float, np.generic, np.ndarray)):
        values = np.asarray(value, dtype="float64")
        finite = np.isfinite(values)
        summary = np.array(
            [np.sum(~finite), np.sum(values < 0), np.min(np.where(finite, values, np.inf))]
            if values.size
            else [0.0, 0.0, 0.0]
        )
        _raise_for_summary(summary, argument)
        return value
    values = ops.convert_to_tensor(value)
    if "float" not in keras.backend.standardize_dtype(values.dtype):
        values = ops.cast(values, "float32")
    finite = ops.isfinite(values)
    negative = ops.logical_and(finite, ops.less(values, 0))
    nonfinite_count = ops.sum(ops.cast(ops.logical_not(finite), "float32"))
    negative_count = ops.sum(ops.cast(negative, "float32"))
    smallest = ops.min(ops.cast(ops.where(finite, values, 0), "float32"))
    ok = ops.logical_and(ops.equal(nonfinite_count, 0), ops.equal(negative_count, 0))
    return check_on_host(
        ok,
        ops.stack([nonfinite_count, negative_count, smallest]),
        functools.partial(_raise_for_summary, argument=argument),
        f"Received an invalid value for argument `{argument}`: elapsed times must be finite "
        "and >= 0; got (NaN or infinite count, negative count, smallest value) =",
        value,
    )


def prepare_elapsed_time(
    elapsed_time: Any, sequences: Any, dtype: str, mask: Any = None
) -> Any:
    """Brings elapsed times into the form the scan uses.

    Args:
        elapsed_time: None (every step lasts 1.0), a Python or NumPy scalar, or a
            tensor of shape ``(batch, time)`` or ``(batch, time, 1)``.
        sequences: The input sequences ``(batch, time, features)``, for shape checks.
        dtype: The compute dtype.
        mask: None, or the boolean ``(batch, time, 1)`` mask of the steps to compute:
            masked steps' elapsed times are replaced by 0 (they are not used), so
            padding may hold any value.

    Returns:
        A Python float for a constant step, or a ``(batch, time, 1)`` tensor.

    Raises:
        ValueError: For a shape that does not match the sequences, or negative or
            non-finite values (inside compiled functions: when the function runs,
            see :func:`check_elapsed_time_values`).
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
    elapsed_time = ops.cast(elapsed_time, dtype)
    if len(shape) == 2:
        elapsed_time = ops.expand_dims(elapsed_time, -1)
    if mask is not None:
        elapsed_time = ops.where(mask, elapsed_time, ops.zeros_like(elapsed_time))
    return check_elapsed_time_values(elapsed_time)

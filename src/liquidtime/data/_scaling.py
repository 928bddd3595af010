"""Standardisation (z-scoring)."""

from __future__ import annotations

import numpy as np


def standardise(
    values: np.ndarray, mean: np.ndarray | float, std: np.ndarray | float
) -> np.ndarray:
    """Returns ``(values - mean) / std``, dividing by 1 where ``std`` is 0."""
    std = np.asarray(std)
    return (values - mean) / np.where(std > 0, std, 1).astype(std.dtype)

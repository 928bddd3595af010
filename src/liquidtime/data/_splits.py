"""The original code's seeded random splits of window indices."""

from __future__ import annotations

import numpy as np

from liquidtime.data._task import Split, Splits
from liquidtime.data._windows import window_pairs, window_starts


def random_split(
    num_items: int, seed: int, valid_fraction: float = 0.1, test_fraction: float = 0.15
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Splits ``range(num_items)`` into train, validation and test indices.

    ``p = np.random.RandomState(seed).permutation(num_items)``; validation is
    ``p[:v]`` with ``v = int(valid_fraction * num_items)``, test the next
    ``t = int(test_fraction * num_items)`` entries and training the rest, each
    in permutation order.

    Returns:
        ``(train, valid, test)`` int arrays.
    """
    permutation = np.random.RandomState(seed).permutation(num_items)
    num_valid = int(valid_fraction * num_items)
    num_test = int(test_fraction * num_items)
    return (
        permutation[num_valid + num_test :],
        permutation[:num_valid],
        permutation[num_valid : num_valid + num_test],
    )


def split_at_random(x: np.ndarray, y: np.ndarray, seed: int) -> Splits:
    """Windows split by :func:`random_split` (10% validation, 15% test, the rest training).

    Args:
        x: Input windows, one per item of the first axis.
        y: Their targets.
        seed: The permutation's seed.

    Returns:
        ``(train, valid, test)``, each ``(x[indices], y[indices])``.
    """
    train, valid, test = random_split(len(x), seed)
    return (x[train], y[train]), (x[valid], y[valid]), (x[test], y[test])


def split_off_validation(
    x: np.ndarray, y: np.ndarray, length: int, stride: int, seed: int
) -> tuple[Split, Split]:
    """Training windows of a series, 10% of them (by :func:`random_split`) for validation.

    The starts are split before any window is cut, so that the windows are cut once.

    Args:
        x: Inputs, time on the first axis.
        y: Targets, one per row of ``x``.
        length: Window length.
        stride: Rows between consecutive starts (see :func:`window_starts`).
        seed: The permutation's seed.

    Returns:
        ``(train, valid)`` windows.
    """
    starts = window_starts(len(x), length, stride)
    train, valid, _ = random_split(len(starts), seed, valid_fraction=0.1, test_fraction=0.0)
    return window_pairs(x, y, starts[train], length), window_pairs(x, y, starts[valid], length)

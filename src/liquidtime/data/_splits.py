"""The original code's seeded random splits of window indices."""

from __future__ import annotations

import numpy as np


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

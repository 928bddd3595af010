"""Randomly chosen synapses at a given sparsity."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from liquidtime._validation import probability
from liquidtime.wirings.base import Wiring, random_state, resolve_seed
from liquidtime.wirings.fully_connected import random_polarities


def sparse_polarities(
    rng: np.random.RandomState, shape: tuple[int, int], sparsity_level: float
) -> np.ndarray:
    """A polarity matrix with ``round(size * (1 - sparsity_level))`` synapses at random places.

    Args:
        rng: The random stream.
        shape: ``(sources, targets)``.
        sparsity_level: Fraction of the possible synapses left out, in [0, 1).

    Returns:
        An int8 matrix of ``shape`` with values in {-1, 0, +1}.
    """
    size = shape[0] * shape[1]
    count = int(np.round(size * (1.0 - sparsity_level)))
    chosen = rng.choice(size, size=count, replace=False)
    flat = np.zeros(size, dtype=np.int8)
    flat[chosen] = random_polarities(rng, count)
    return flat.reshape(shape)


@keras.saving.register_keras_serializable(package="liquidtime")
class Random(Wiring):
    """Random sparse wiring.

    Of the ``units * units`` possible synapses between neurons (self-synapses
    included), ``round(units**2 * (1 - sparsity_level))`` are chosen uniformly
    without replacement; likewise ``round(input_dim * units * (1 - sparsity_level))``
    of the sensory synapses. Each synapse is excitatory with probability 2/3.

    Args:
        units: Number of neurons N.
        output_dim: Number of motor neurons (default: all ``units``).
        sparsity_level: Fraction of possible synapses left out, in [0, 1).
        seed: Seed of the synapses (an int in [0, 2**32)); None draws one from
            NumPy's global generator and records it in the config.
        input_dim: Number of input features, or None to take it from the data.

    Example:
    >>> Random(10, output_dim=2, sparsity_level=0.75, seed=0).synapse_count
    25
    """

    def __init__(
        self,
        units: int,
        output_dim: int | None = None,
        sparsity_level: float = 0.0,
        seed: int | None = None,
        input_dim: int | None = None,
    ):
        sparsity_level = probability("sparsity_level", sparsity_level, allow_numpy=True)
        seed = resolve_seed(seed)
        super().__init__(units, output_dim=output_dim, input_dim=input_dim)
        self.sparsity_level = sparsity_level
        self.seed = seed

    def make_adjacency_matrix(self) -> np.ndarray:
        return sparse_polarities(
            random_state(self.seed, 0), (self.units, self.units), self.sparsity_level
        )

    def make_sensory_adjacency_matrix(self, input_dim: int) -> np.ndarray:
        return sparse_polarities(
            random_state(self.seed, 1), (input_dim, self.units), self.sparsity_level
        )

    def get_config(self) -> dict[str, Any]:
        config = {
            "units": self.units,
            "output_dim": self.output_dim,
            "sparsity_level": self.sparsity_level,
            "seed": self.seed,
        }
        return {**super().get_config(), **config}

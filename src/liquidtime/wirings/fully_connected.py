"""Every neuron connected to every neuron and to every input."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from liquidtime.wirings.base import Wiring, random_state, resolve_seed

EXCITATORY_SHARE = 2.0 / 3.0
"""Probability that a synapse of a dense or random wiring is excitatory (as in ncps)."""


def random_polarities(rng: np.random.RandomState, size: Any) -> np.ndarray:
    """Draws synapse polarities: +1 with probability 2/3, -1 with probability 1/3."""
    return np.where(rng.random_sample(size) < EXCITATORY_SHARE, 1, -1).astype(np.int8)


@keras.saving.register_keras_serializable(package="liquidtime")
class FullyConnected(Wiring):
    """All-to-all wiring with random synapse polarities.

    Every neuron receives a synapse from every neuron (itself included unless
    ``self_connections=False``) and from every input feature. Each synapse is
    excitatory with probability 2/3 and inhibitory otherwise, drawn from ``seed``.

    Args:
        units: Number of neurons N.
        output_dim: Number of motor neurons (default: all ``units``).
        self_connections: Whether neuron i has a synapse onto itself.
        seed: Seed of the polarities (an int in [0, 2**32)); None draws one from
            NumPy's global generator and records it in the config.
        input_dim: Number of input features, or None to take it from the data.

    Example:
    >>> wiring = FullyConnected(6, output_dim=2, self_connections=False, seed=1)
    >>> wiring.synapse_count          # 6 * 6 - 6
    30
    """

    def __init__(
        self,
        units: int,
        output_dim: int | None = None,
        self_connections: bool = True,
        seed: int | None = None,
        input_dim: int | None = None,
    ):
        seed = resolve_seed(seed)
        super().__init__(units, output_dim=output_dim, input_dim=input_dim)
        self.self_connections = bool(self_connections)
        self.seed = seed

    def make_adjacency_matrix(self) -> np.ndarray:
        polarities = random_polarities(random_state(self.seed, 0), (self.units, self.units))
        if not self.self_connections:
            np.fill_diagonal(polarities, 0)
        return polarities

    def make_sensory_adjacency_matrix(self, input_dim: int) -> np.ndarray:
        return random_polarities(random_state(self.seed, 1), (input_dim, self.units))

    def get_config(self) -> dict[str, Any]:
        config = {
            "units": self.units,
            "output_dim": self.output_dim,
            "self_connections": self.self_connections,
            "seed": self.seed,
        }
        return {**super().get_config(), **config}

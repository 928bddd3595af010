"""A wiring given by explicit polarity matrices."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from liquidtime.wirings.base import Wiring


def _as_polarity_matrix(name: str, value: Any) -> np.ndarray:
    array = np.asarray(value)
    if array.ndim != 2 or array.size == 0 or not np.isin(array, (-1, 0, 1)).all():
        raise ValueError(
            f"Received an invalid value for argument `{name}`, expected a non-empty 2D "
            f"matrix of synapse polarities in {{-1, 0, +1}}, got an array of shape "
            f"{array.shape} with values {np.unique(array)[:8].tolist()}."
        )
    return array.astype(np.int8)


@keras.saving.register_keras_serializable(package="liquidtime")
class MatrixWiring(Wiring):
    """A wiring given by its two polarity matrices, for hand-made circuits.

    Args:
        adjacency_matrix: ``(units, units)`` polarities; entry ``[j, i]`` is the
            synapse from neuron ``j`` to neuron ``i`` (+1, -1 or 0).
        sensory_adjacency_matrix: ``(input_dim, units)`` polarities of the synapses
            from the input features.
        output_dim: Number of motor neurons, the first ones (default: all).
        input_dim: Must equal the rows of ``sensory_adjacency_matrix`` if given
            (it is part of the config only for uniformity).

    Example:
    >>> chain = MatrixWiring([[0, 1], [0, 0]], [[0, 1]], output_dim=1)  # input -> 1 -> 0
    >>> chain.synapse_count, chain.sensory_synapse_count
    (1, 1)
    """

    def __init__(
        self,
        adjacency_matrix: Any,
        sensory_adjacency_matrix: Any,
        output_dim: int | None = None,
        input_dim: int | None = None,
    ):
        adjacency = _as_polarity_matrix("adjacency_matrix", adjacency_matrix)
        sensory = _as_polarity_matrix("sensory_adjacency_matrix", sensory_adjacency_matrix)
        if adjacency.shape[0] != adjacency.shape[1]:
            raise ValueError(
                "Received an invalid value for argument `adjacency_matrix`, expected a "
                f"square (units, units) matrix, got shape {adjacency.shape}."
            )
        if sensory.shape[1] != adjacency.shape[0]:
            raise ValueError(
                "Received an invalid value for argument `sensory_adjacency_matrix`, expected "
                f"shape (input_dim, {adjacency.shape[0]}) to match the {adjacency.shape[0]} "
                f"neurons of `adjacency_matrix`, got shape {sensory.shape}."
            )
        if input_dim is not None and input_dim != sensory.shape[0]:
            raise ValueError(
                f"Received an invalid value for argument `input_dim`: {input_dim!r} conflicts "
                f"with the {sensory.shape[0]} rows of `sensory_adjacency_matrix`."
            )
        super().__init__(adjacency.shape[0], output_dim=output_dim, input_dim=sensory.shape[0])
        self._given_adjacency = adjacency
        self._given_sensory = sensory

    def make_adjacency_matrix(self) -> np.ndarray:
        return self._given_adjacency

    def make_sensory_adjacency_matrix(self, input_dim: int) -> np.ndarray:
        return self._given_sensory

    def get_config(self) -> dict[str, Any]:
        config = {
            "adjacency_matrix": self._given_adjacency.tolist(),
            "sensory_adjacency_matrix": self._given_sensory.tolist(),
            "output_dim": self.output_dim,
        }
        return {**super().get_config(), **config}

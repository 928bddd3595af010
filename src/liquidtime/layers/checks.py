"""Checks of the input sequences that the sequence layers make before scanning.

Shapes known when a function is traced are checked at once (a ``ValueError``);
a dimension unknown until the function runs (a TensorFlow graph's ``None``) is
checked there (see :func:`liquidtime._backend_ops.check_on_host`). These checks
are always made: they cost nothing on static shapes and one scalar comparison
otherwise.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from keras import ops

from liquidtime._backend_ops import check_on_host


def _raise_empty(summary: np.ndarray, layer_name: str) -> None:
    raise ValueError(
        f"Received an invalid value for argument `sequences` of {layer_name}: expected "
        f"at least one time step, got a sequence of length {int(summary[0])}."
    )


def check_not_empty(sequences: Any, layer_name: str) -> Any:
    """Raises ValueError for sequences with no time steps.

    A sequence of length 0 has no last output to return (Keras's own LSTM fails
    on one with an ``IndexError`` or a backend error); the layers reject it.

    Args:
        sequences: ``(batch, time, features)``.
        layer_name: The layer, for the message.

    Returns:
        ``sequences`` (on TensorFlow graphs with an unknown length, an identity that
        depends on the check).
    """
    length = sequences.shape[1]
    if length is not None:
        if length == 0:
            _raise_empty(np.array([0]), layer_name)
        return sequences
    length = ops.shape(sequences)[1]
    return check_on_host(
        ops.greater(length, 0),
        ops.reshape(length, (1,)),
        functools.partial(_raise_empty, layer_name=layer_name),
        f"Received an invalid value for argument `sequences` of {layer_name}: expected at "
        "least one time step; got length",
        sequences,
    )


def _raise_batch(summary: np.ndarray, layer_name: str, expected: int) -> None:
    raise ValueError(
        f"Received an invalid value for argument `sequences` of {layer_name}: the layer is "
        f"stateful and holds states for a batch of {expected} sequences (the batch size it "
        f"was built with), got a batch of {int(summary[0])}. Feed batches of exactly "
        f"{expected} sequences (in `fit`/`predict`, a `batch_size` that divides the number "
        "of samples), or use a new layer for another batch size; `reset_states()` zeroes "
        "the states but keeps their batch size."
    )


def check_stateful_batch(sequences: Any, expected: int, layer_name: str) -> Any:
    """Raises ValueError when a stateful layer receives a batch of another size.

    Like ``keras.layers.RNN``, which raises for a static batch size that differs
    from its states'; here also when the batch size is only known at run time.

    Args:
        sequences: ``(batch, time, features)``.
        expected: The batch size of the layer's state variables.
        layer_name: The layer, for the message.

    Returns:
        ``sequences`` (on TensorFlow graphs with an unknown batch size, an identity
        that depends on the check).
    """
    raise_batch = functools.partial(_raise_batch, layer_name=layer_name, expected=expected)
    batch = sequences.shape[0]
    if batch is not None:
        if batch != expected:
            raise_batch(np.array([batch]))
        return sequences
    batch = ops.shape(sequences)[0]
    return check_on_host(
        ops.equal(batch, expected),
        ops.reshape(batch, (1,)),
        raise_batch,
        f"Received an invalid value for argument `sequences` of {layer_name}: the layer is "
        f"stateful with states for a batch of {expected} sequences; feed batches of exactly "
        f"{expected}. Got a batch of",
        sequences,
    )

"""Activations used by liquidtime's cells, registered for Keras serialization."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras

from liquidtime._backend_ops import tanh


@keras.saving.register_keras_serializable(package="liquidtime")
def lecun_tanh(x: Any) -> Any:
    """LeCun's scaled tanh, ``1.7159 * tanh(0.666 * x)`` (LeCun et al., "Efficient BackProp", 1998).

    The CfC paper's default backbone activation: it keeps unit variance for
    unit-variance inputs.

    Args:
        x: Input tensor.

    Returns:
        Tensor of the same shape.
    """
    return 1.7159 * tanh(0.666 * x)


# "tanh" maps to the dtype-preserving tanh (keras.ops.tanh turns float64 into float32 on JAX).
_LIQUIDTIME_ACTIVATIONS = {"lecun_tanh": lecun_tanh, "tanh": tanh}


_NOT_ELEMENTWISE = ("softmax", "log_softmax")
"""Keras's activations that mix the values of a row."""


def is_elementwise(activation: Callable) -> bool:
    """Whether ``activation`` is known to act on each value alone.

    True for liquidtime's activations and Keras's built-in ones other than
    ``softmax`` and ``log_softmax``; False for any other callable, which may mix
    values (the kernels that differentiate an activation value by value need this).
    """
    if any(activation is function for function in _LIQUIDTIME_ACTIVATIONS.values()):
        return True
    name = getattr(activation, "__name__", None)
    if not isinstance(name, str) or name in _NOT_ELEMENTWISE:
        return False
    try:
        return keras.activations.get(name) is activation
    except ValueError:
        return False


def get_activation(identifier: str | Callable | dict | None) -> Callable:
    """Like ``keras.activations.get``, and also knows ``"lecun_tanh"``.

    Args:
        identifier: A name, a callable, or a serialized activation.

    Returns:
        The activation function.

    Raises:
        ValueError: If the identifier names no known activation.
    """
    if isinstance(identifier, str) and identifier in _LIQUIDTIME_ACTIVATIONS:
        return _LIQUIDTIME_ACTIVATIONS[identifier]
    try:
        return keras.activations.get(identifier)
    except ValueError as error:
        raise ValueError(
            "Received an invalid value for argument `activation`, expected a Keras "
            f"activation name, 'lecun_tanh' or a callable, got {identifier!r}."
        ) from error


def serialize_activation(activation: Callable) -> Any:
    """Serializes an activation so that :func:`get_activation` restores it."""
    for name, function in _LIQUIDTIME_ACTIVATIONS.items():
        if activation is function:
            return name
    return keras.activations.serialize(activation)

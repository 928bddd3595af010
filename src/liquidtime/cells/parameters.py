"""Positive parameters (time constants, conductances, capacitances, synaptic weights).

Two ways to keep a parameter ``p > 0``, selected by ``positivity``:

* ``"softplus"`` (default): the variable stores ``softplus^-1(p)`` and the cell uses
  ``p = softplus(variable)``. Gradient steps can never leave the domain.
* ``"clip"``: the variable stores ``p`` and a projection constraint clips it to
  ``>= min_value`` after every optimizer step (what the original LTC code did).

Either way, initializers and regularizers given by the user see ``p`` itself, not
the stored variable.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from liquidtime import _validation

POSITIVITY_MODES = ("softplus", "clip")
CLIP_MIN_VALUE = 1e-6


@keras.saving.register_keras_serializable(package="liquidtime")
class SoftplusInverse(keras.initializers.Initializer):
    """Draws ``p`` from an inner initializer and returns ``log(expm1(p))``.

    Args:
        initializer: The initializer of the positive value ``p``; its values must be > 0.
    """

    def __init__(self, initializer: Any):
        self.initializer = keras.initializers.get(initializer)

    def __call__(self, shape, dtype=None):
        value = ops.maximum(self.initializer(shape, dtype=dtype), CLIP_MIN_VALUE)
        # log(expm1(p)) = p + log(1 - exp(-p)), stable for large p.
        return value + ops.log(-ops.expm1(-value))

    def get_config(self) -> dict[str, Any]:
        return {"initializer": keras.initializers.serialize(self.initializer)}


@keras.saving.register_keras_serializable(package="liquidtime")
class OnPositiveValue(keras.regularizers.Regularizer):
    """Applies a regularizer to ``softplus(variable)`` instead of the raw variable.

    Args:
        regularizer: The user's regularizer of the positive value.
    """

    def __init__(self, regularizer: Any):
        self.regularizer = keras.regularizers.get(regularizer)

    def __call__(self, variable):
        return self.regularizer(ops.softplus(variable))

    def get_config(self) -> dict[str, Any]:
        return {"regularizer": keras.regularizers.serialize(self.regularizer)}


@keras.saving.register_keras_serializable(package="liquidtime")
class MinValue(keras.constraints.Constraint):
    """Projects a weight onto ``[min_value, inf)``, after an optional inner constraint.

    Args:
        min_value: The lower bound.
        constraint: An optional constraint applied first.
    """

    def __init__(self, min_value: float = CLIP_MIN_VALUE, constraint: Any = None):
        self.min_value = float(min_value)
        self.constraint = keras.constraints.get(constraint)

    def __call__(self, w):
        if self.constraint is not None:
            w = self.constraint(w)
        return ops.maximum(w, ops.cast(self.min_value, w.dtype))

    def get_config(self) -> dict[str, Any]:
        return {
            "min_value": self.min_value,
            "constraint": keras.constraints.serialize(self.constraint),
        }


def positive_initializer(name: str, value: Any) -> Any:
    """A positive finite number becomes a ``Constant`` initializer; anything else is passed on.

    Args:
        name: The argument's name, for the message.
        value: A number (the initial value of every element) or anything
            ``keras.initializers.get`` takes.

    Returns:
        A Keras initializer.

    Raises:
        ValueError: For a number that is not positive and finite, or a bool.
    """
    if isinstance(value, (int, float)):
        return keras.initializers.Constant(_validation.positive_float(name, value))
    return keras.initializers.get(value)


def add_positive_weight(
    layer: keras.layers.Layer,
    name: str,
    shape: tuple[int, ...],
    *,
    positivity: str,
    initializer: Any,
    regularizer: Any = None,
    constraint: Any = None,
) -> keras.Variable:
    """Creates a variable that represents a positive parameter.

    Args:
        layer: The owning layer.
        name: Variable name.
        shape: Variable shape.
        positivity: ``"softplus"`` or ``"clip"`` (see the module docstring).
        initializer: Initializer of the positive value.
        regularizer: Regularizer of the positive value, or None.
        constraint: Extra constraint. With ``"clip"`` it runs before the projection;
            with ``"softplus"`` it applies to the stored (pre-softplus) variable.

    Returns:
        The variable; read the parameter with :func:`positive_value`.
    """
    initializer = keras.initializers.get(initializer)
    regularizer = keras.regularizers.get(regularizer)
    constraint = keras.constraints.get(constraint)
    if positivity == "softplus":
        return layer.add_weight(
            name=name,
            shape=shape,
            initializer=SoftplusInverse(initializer),
            regularizer=OnPositiveValue(regularizer) if regularizer is not None else None,
            constraint=constraint,
        )
    return layer.add_weight(
        name=name,
        shape=shape,
        initializer=initializer,
        regularizer=regularizer,
        constraint=MinValue(CLIP_MIN_VALUE, constraint),
    )


def positive_value(variable: Any, positivity: str) -> Any:
    """Reads the positive parameter that ``variable`` represents."""
    if positivity == "softplus":
        return ops.softplus(variable)
    return ops.convert_to_tensor(variable)

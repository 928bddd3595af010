"""The cells' own argument checks, run before ``super().__init__``.

The generic checks (positive integers, probabilities, choices, ...) are in
:mod:`liquidtime._validation`.
"""

from __future__ import annotations

from typing import Any

import keras

from liquidtime import _validation
from liquidtime.wirings.base import Wiring


def backbone(units: Any, layers: Any, dropout: Any, *, units_required: bool) -> tuple[int, int, float]:
    """Validates a backbone specification.

    Args:
        units: Width of each backbone layer, or None when there is no backbone.
        layers: Number of backbone layers (0 for none).
        dropout: Dropout rate on the backbone's activations.
        units_required: Whether ``layers > 0`` needs ``units`` (always True here;
            kept explicit for the error message).

    Returns:
        ``(units, layers, dropout)`` with ``units`` 0 when there is no backbone.
    """
    layers = _validation.non_negative_int("backbone_layers", layers)
    dropout = _validation.probability("backbone_dropout", dropout)
    if layers == 0:
        if units not in (None, 0):
            raise ValueError(
                f"Inconsistent backbone arguments: `backbone_units={units!r}` was given but "
                "`backbone_layers=0`. Set `backbone_layers` >= 1 to use a backbone, or "
                "leave `backbone_units` as None."
            )
        if dropout > 0:
            raise ValueError(
                f"Inconsistent backbone arguments: `backbone_dropout={dropout}` needs a "
                "backbone, but `backbone_layers=0`."
            )
        return 0, 0, dropout
    if units is None and units_required:
        raise ValueError(
            f"Inconsistent backbone arguments: `backbone_layers={layers}` needs "
            "`backbone_units` (a positive integer), got None."
        )
    return _validation.positive_int("backbone_units", units), layers, dropout


def wiring(value: Any) -> Wiring:
    """The ``wiring`` argument of a wired cell, restored from its Keras serialization if needed.

    Args:
        value: A :class:`~liquidtime.wirings.Wiring` or its serialization (a dict).

    Returns:
        The wiring.

    Raises:
        ValueError: For anything else.
    """
    if isinstance(value, dict):
        value = keras.saving.deserialize_keras_object(value)
    if not isinstance(value, Wiring):
        raise ValueError(
            "Received an invalid value for argument `wiring`, expected a "
            f"liquidtime.wirings.Wiring, got {value!r}."
        )
    return value


KERAS_RNN_HABITS: dict[str, str] = {
    "dropout": (
        "liquidtime layers do not drop their inputs: put keras.layers.Dropout(rate) (or "
        "SpatialDropout1D) before the layer; the CfC, CT-RNN, Neural ODE and dense LTC also take "
        "`backbone_dropout` for their backbone network"
    ),
    "recurrent_dropout": (
        "dropping components of a continuous-time state would perturb the ODE it integrates; use "
        "`backbone_dropout` (CfC, CT-RNN, Neural ODE, dense LTC) or keras.layers.Dropout between "
        "layers"
    ),
    "use_bias": (
        "the biases are terms of the cell's equation and always present (start one at zero with "
        "its initializer, e.g. bias_initializer='zeros')"
    ),
    "unit_forget_bias": "liquidtime cells have no LSTM forget gate (mixed_memory=True adds an "
    "LSTM memory, whose forget bias starts at 1 as Keras's)",
    "recurrent_activation": "liquidtime cells have no gates with their own activation",
    "reset_after": "liquidtime cells have no GRU reset gate",
    "use_cudnn": "liquidtime layers have no cuDNN kernel",
    "time_major": "liquidtime layers take (batch, time, features) inputs",
}
"""Arguments of ``keras.layers.LSTM``/``GRU`` that a continuous-time cell does not take, with
what to use instead."""


def reject_keras_rnn_habits(owner: str, kwargs: dict[str, Any]) -> None:
    """Raises a ValueError naming the alternative when ``kwargs`` holds an LSTM/GRU argument.

    Args:
        owner: The class name, for the message.
        kwargs: The constructor's remaining keyword arguments.
    """
    for name, advice in KERAS_RNN_HABITS.items():
        if name in kwargs:
            raise ValueError(
                f"{owner} does not take the argument `{name}` of keras.layers.LSTM/GRU: {advice}."
            )

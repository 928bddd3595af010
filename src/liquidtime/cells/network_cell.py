"""What the cells driven by an :class:`InputStateNetwork` share: one constructor path.

The CfC, the CT-RNN, the Neural ODE and the dense LTC take the same initializer,
regularizer and constraint for each kind of weight, pass them with their backbone
settings and dtype policy to the network, and write them to their config. That is
written here once (:class:`NetworkCell`), so that a new argument of the network is
added in one place. The cells without the network (CT-GRU, wired CfC) and the CT-RNN's
own ``tau`` and ``gain`` use the same two functions for their weight options.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import keras

from liquidtime.cells.network import InputStateNetwork

RNN_WEIGHT_KINDS: tuple[str, ...] = ("kernel", "recurrent", "bias")
"""The weight kinds of Keras's RNN cells and of :class:`InputStateNetwork`: the input-side
kernels, the state (recurrent) kernel and the biases."""

_GETTERS: dict[str, Callable[[Any], Any]] = {
    "initializer": keras.initializers.get,
    "regularizer": keras.regularizers.get,
    "constraint": keras.constraints.get,
}


def weight_option_names(kinds: Sequence[str]) -> list[str]:
    """The argument names ``<kind>_initializer``, ``_regularizer``, ``_constraint`` of ``kinds``."""
    return [f"{kind}_{part}" for kind in kinds for part in _GETTERS]


def set_weight_options(
    layer: keras.layers.Layer, kinds: Sequence[str], arguments: Mapping[str, Any]
) -> None:
    """Sets the initializer, regularizer and constraint of each weight kind on ``layer``.

    Args:
        layer: The cell; it gets one attribute per argument, e.g. ``kernel_initializer``.
        kinds: The weight kinds, e.g. :data:`RNN_WEIGHT_KINDS`.
        arguments: The constructor's arguments by name; each value goes through Keras's
            ``initializers.get``, ``regularizers.get`` or ``constraints.get``.
    """
    for kind in kinds:
        for part, get in _GETTERS.items():
            name = f"{kind}_{part}"
            setattr(layer, name, get(arguments[name]))


def weight_options_config(layer: keras.layers.Layer, kinds: Sequence[str]) -> dict[str, Any]:
    """The serialized options of :func:`set_weight_options`, for ``get_config``."""
    return {
        name: keras.saving.serialize_keras_object(getattr(layer, name))
        for name in weight_option_names(kinds)
    }


class NetworkCell:
    """Mixin of the cells whose step runs an :class:`InputStateNetwork` (``self.network``).

    The cell sets ``backbone_units``, ``backbone_layers``, ``backbone_dropout`` and ``seed``,
    calls the Keras layer constructor, then :meth:`init_network`; its ``get_config``
    adds :meth:`weight_options_config`.
    """

    weight_kinds: tuple[str, ...] = RNN_WEIGHT_KINDS
    """The kinds whose options the cell takes: the network's, and the cell's own (LTC)."""

    # Set by the cell (and by keras.layers.Layer for dtype_policy).
    backbone_units: int
    backbone_layers: int
    backbone_dropout: float
    seed: int | None
    dtype_policy: Any

    def init_network(
        self, head_units: int, backbone_activation: Callable, arguments: Mapping[str, Any]
    ) -> None:
        """Sets the weight options of :attr:`weight_kinds` and creates ``self.network``.

        Args:
            head_units: Total width of the network's heads.
            backbone_activation: Activation of the backbone layers.
            arguments: The constructor's arguments by name (its ``locals()``), holding
                ``<kind>_initializer``, ``<kind>_regularizer`` and ``<kind>_constraint``
                for each of :attr:`weight_kinds`.
        """
        set_weight_options(self, self.weight_kinds, arguments)
        network_options = {
            name: getattr(self, name) for name in weight_option_names(RNN_WEIGHT_KINDS)
        }
        self.network = InputStateNetwork(
            head_units,
            backbone_units=self.backbone_units,
            backbone_layers=self.backbone_layers,
            backbone_activation=backbone_activation,
            backbone_dropout=self.backbone_dropout,
            seed=self.seed,
            name="network",
            dtype=self.dtype_policy,
            **network_options,
        )

    def weight_options_config(self) -> dict[str, Any]:
        """The serialized weight options of :attr:`weight_kinds`, for ``get_config``."""
        return weight_options_config(self, self.weight_kinds)

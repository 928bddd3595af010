"""What the cells driven by an :class:`InputStateNetwork` share: one constructor path.

The CfC, the CT-RNN, the Neural ODE and the dense LTC validate the same backbone
arguments, take the same initializer, regularizer and constraint for each kind of
weight, pass them with their backbone settings and dtype policy to the network, and
write them to their config. That is written here once (:class:`NetworkCell`), so that
a new argument of the network is added in one place (besides the explicit
signatures). The cells without the network (CT-GRU, wired CfC, the mixed memory's
LSTM) and the CT-RNN's own ``tau`` and ``gain`` use the same functions for their
weight options.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import keras

from liquidtime.activations import get_activation, serialize_activation
from liquidtime.cells import validation
from liquidtime.cells.network import InputStateNetwork

if TYPE_CHECKING:
    # The mixin is listed before the cell's base class: type-check it as one.
    from liquidtime.cells.base import BaseCell as _MixinBase
else:
    _MixinBase = object

RNN_WEIGHT_KINDS: tuple[str, ...] = ("kernel", "recurrent", "bias")
"""The weight kinds of Keras's RNN cells and of :class:`InputStateNetwork`: the input-side
kernels, the state (recurrent) kernel and the biases."""

_GETTERS: dict[str, Callable[[Any], Any]] = {
    "initializer": keras.initializers.get,
    "regularizer": keras.regularizers.get,
    "constraint": keras.constraints.get,
}

WEIGHT_OPTION_PARTS: tuple[str, ...] = tuple(_GETTERS)
"""The options of a weight kind: ``initializer``, ``regularizer``, ``constraint``."""


def weight_option_names(
    kinds: Sequence[str], parts: Sequence[str] = WEIGHT_OPTION_PARTS
) -> list[str]:
    """The argument names ``<kind>_initializer``, ``_regularizer``, ``_constraint`` of ``kinds``.

    Args:
        kinds: The weight kinds, e.g. :data:`RNN_WEIGHT_KINDS`.
        parts: The options taken, a subset of :data:`WEIGHT_OPTION_PARTS` (all by default).
    """
    return [f"{kind}_{part}" for kind in kinds for part in parts]


def set_weight_options(
    layer: keras.layers.Layer,
    kinds: Sequence[str],
    arguments: Mapping[str, Any],
    parts: Sequence[str] = WEIGHT_OPTION_PARTS,
) -> None:
    """Sets the initializer, regularizer and constraint of each weight kind on ``layer``.

    Args:
        layer: The cell; it gets one attribute per argument, e.g. ``kernel_initializer``.
        kinds: The weight kinds, e.g. :data:`RNN_WEIGHT_KINDS`.
        arguments: The constructor's arguments by name; each value goes through Keras's
            ``initializers.get``, ``regularizers.get`` or ``constraints.get``.
        parts: The options taken, a subset of :data:`WEIGHT_OPTION_PARTS` (all by default).
    """
    for kind in kinds:
        for part in parts:
            name = f"{kind}_{part}"
            setattr(layer, name, _GETTERS[part](arguments[name]))


def weight_options_config(
    layer: keras.layers.Layer, kinds: Sequence[str], parts: Sequence[str] = WEIGHT_OPTION_PARTS
) -> dict[str, Any]:
    """The serialized options of :func:`set_weight_options`, for ``get_config``."""
    return {
        name: keras.saving.serialize_keras_object(getattr(layer, name))
        for name in weight_option_names(kinds, parts)
    }


def weight_options(layer: keras.layers.Layer, kind: str) -> dict[str, Any]:
    """``{"initializer": ..., "regularizer": ..., "constraint": ...}`` of ``kind`` on ``layer``.

    The options set by :func:`set_weight_options`, as keyword arguments of ``add_weight``.
    """
    return {part: getattr(layer, f"{kind}_{part}") for part in WEIGHT_OPTION_PARTS}


def add_weight_of_kind(
    layer: keras.layers.Layer, name: str, shape: tuple[int, ...], kind: str
) -> keras.Variable:
    """Adds the weight ``name`` with the options of ``kind`` (:func:`weight_options`)."""
    return layer.add_weight(name=name, shape=shape, **weight_options(layer, kind))


class NetworkCell(_MixinBase):
    """Mixin of the cells whose step runs an :class:`InputStateNetwork` (``self.network``).

    The cell's ``__init__`` checks its own arguments, then calls :meth:`init_network_cell`
    with its ``locals()`` in place of ``super().__init__``; its ``get_config`` adds
    :meth:`network_config`. The mixin also gives the cell the network's weights
    (:meth:`build_weights`), its input projection (:meth:`project_inputs`) and its
    dropout masks (:meth:`sequence_constants`), which a cell extends with ``super()``.

    The network arguments a cell takes: ``activation``, ``backbone_units``,
    ``backbone_layers``, ``backbone_dropout``, ``backbone_activation`` (unless
    :attr:`activation_is_backbone_activation`), ``seed``, and the weight options of
    :attr:`weight_kinds`.
    """

    weight_kinds: tuple[str, ...] = RNN_WEIGHT_KINDS
    """The kinds whose options the cell takes: the network's, and the cell's own (LTC)."""

    activation_is_backbone_activation: bool = False
    """True for a cell whose ``activation`` is its backbone's (the CfC's): it takes no
    ``backbone_activation``. Otherwise ``activation`` is the cell's own nonlinearity."""

    # Set by init_network_cell.
    backbone_units: int
    backbone_layers: int
    backbone_dropout: float
    activation: Callable
    backbone_activation: Callable
    seed: int | None

    def init_network_cell(
        self,
        units: int,
        arguments: Mapping[str, Any],
        head_units: int | None = None,
        **base_arguments: Any,
    ) -> None:
        """The rest of a network cell's constructor, from its arguments.

        Validates and sets the backbone arguments and the activations, calls the next
        constructor (:class:`~liquidtime.cells.base.BaseCell`'s or
        :class:`~liquidtime.cells.base.ContinuousTimeCell`'s), then sets ``seed`` and
        creates ``self.network`` (:meth:`init_network`).

        Args:
            units: Number of neurons.
            arguments: The cell constructor's arguments by name (its ``locals()``):
                the network arguments (see the class), ``elapsed_time_as_feature``
                and ``kwargs``.
            head_units: Total width of the network's heads (default ``units``).
            **base_arguments: Further arguments of the next constructor (``solver``,
                ``ode_unfolds``).
        """
        self.backbone_units, self.backbone_layers, self.backbone_dropout = validation.backbone(
            arguments["backbone_units"],
            arguments["backbone_layers"],
            arguments["backbone_dropout"],
            units_required=True,
        )
        self.activation = get_activation(arguments["activation"])
        if self.activation_is_backbone_activation:
            self.backbone_activation = self.activation
        else:
            self.backbone_activation = get_activation(arguments["backbone_activation"])
        super().__init__(
            units,
            elapsed_time_as_feature=arguments["elapsed_time_as_feature"],
            **base_arguments,
            **arguments["kwargs"],
        )
        self.seed = arguments["seed"]
        self.init_network(units if head_units is None else head_units, arguments)

    def init_network(self, head_units: int, arguments: Mapping[str, Any]) -> None:
        """Sets the weight options of :attr:`weight_kinds` and creates ``self.network``.

        Args:
            head_units: Total width of the network's heads.
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
            backbone_activation=self.backbone_activation,
            backbone_dropout=self.backbone_dropout,
            seed=self.seed,
            name="network",
            dtype=self.dtype_policy,
            **network_options,
        )

    def build_weights(self, input_dim: int) -> None:
        """Creates the network's weights (a cell adds its own after them)."""
        self.network.build(input_dim, self.units)

    def project_inputs(self, inputs: Any) -> Any:
        """The network's input part, for any leading shape."""
        self.check_input_features(inputs)
        return self.network.project_inputs(inputs)

    def sequence_constants(self, batch_size: Any, training: bool | None = None) -> dict[str, Any]:
        """``dropout``: the backbone's masks for the sequence (or None)."""
        return {"dropout": self.network.dropout_masks(batch_size, training)}

    def network_arrays(self, head_map: Callable[[Any], Any] | None = None) -> tuple:
        """The network's weights as arrays, for the whole-sequence kernels.

        Args:
            head_map: As in :meth:`InputStateNetwork.mapped_weights`.

        Returns:
            ``(input_kernel, first_bias, state_kernel, [(kernel, bias) per backbone
            layer])`` (see :class:`~liquidtime.cells.network.NetworkWeights`).
        """
        weights = self.network.mapped_weights(head_map)
        return (
            _value(weights.input_kernel),
            _value(weights.first_bias),
            _value(weights.state_kernel),
            [(_value(kernel), _value(bias)) for kernel, bias in weights.layers],
        )

    def kernel_activations(self) -> dict[str, Callable]:
        """The activations the cell's equations use, by argument name (for the kernels'
        :func:`~liquidtime.kernels.selection.elementwise_activations`)."""
        used = {} if self.activation_is_backbone_activation else {"activation": self.activation}
        if self.backbone_layers:
            name = "activation" if self.activation_is_backbone_activation else "backbone_activation"
            used[name] = self.backbone_activation
        return used

    def network_config(self) -> dict[str, Any]:
        """The network arguments (see the class), serialized for ``get_config``."""
        config = {
            "activation": serialize_activation(self.activation),
            "backbone_units": self.backbone_units or None,
            "backbone_layers": self.backbone_layers,
            "backbone_dropout": self.backbone_dropout,
        }
        if not self.activation_is_backbone_activation:
            config["backbone_activation"] = serialize_activation(self.backbone_activation)
        return {**config, "seed": self.seed, **weight_options_config(self, self.weight_kinds)}


def _value(tensor: Any) -> Any:
    """The array behind a Keras variable (the tensor itself otherwise)."""
    return getattr(tensor, "value", tensor)

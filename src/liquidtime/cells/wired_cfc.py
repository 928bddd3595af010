"""The closed-form continuous-time cell on a wiring: one sparse CfC block per wiring layer."""

from __future__ import annotations

import functools
from typing import Any

import keras
import numpy as np
from keras import ops

from liquidtime import _validation
from liquidtime._backend_ops import matmul
from liquidtime.cells import validation
from liquidtime.cells.base import BaseCell
from liquidtime.cells.cfc import CFC_MODES, cfc_update
from liquidtime.cells.network_cell import (
    RNN_WEIGHT_KINDS,
    add_weight_of_kind,
    set_weight_options,
    weight_options_config,
)
from liquidtime.wirings.base import Wiring

_ser = keras.saving.serialize_keras_object

LAYERED_KINDS = ("inter", "command", "motor")
"""Neuron kinds of a layered wiring (NCP), in signal-flow order."""


def wiring_layers(wiring: Wiring) -> list[tuple[int, int]]:
    """The layers of a wiring as neuron-id ranges ``(start, stop)``, in signal-flow order.

    A wiring with command neurons (an :class:`~liquidtime.wirings.NCP`) has the
    layers inter -> command -> motor; any other wiring is one layer of all its
    neurons (as in ncps).

    Args:
        wiring: The wiring.

    Returns:
        One ``(start, stop)`` range of neuron ids per layer.

    Raises:
        ValueError: If the neurons of a kind do not have consecutive ids.
    """
    kinds = wiring.neuron_types
    if "command" not in kinds:
        return [(0, wiring.units)]
    layers = []
    for kind in LAYERED_KINDS:
        ids = wiring.neurons_of_type(kind)
        if ids.size == 0:
            continue
        if not np.array_equal(ids, np.arange(ids[0], ids[0] + ids.size)):
            raise ValueError(
                f"The {kind} neurons of the {type(wiring).__name__} wiring do not have "
                f"consecutive ids ({ids.tolist()}); a wired CfC needs each layer to be a "
                "range of neuron ids."
            )
        layers.append((int(ids[0]), int(ids[0] + ids.size)))
    return layers


@keras.saving.register_keras_serializable(package="liquidtime")
class WiredCfCCell(BaseCell):
    """Closed-form continuous-time cell whose synapses follow a wiring.

    The wiring's neurons are split into layers (:func:`wiring_layers`: inter ->
    command -> motor for an NCP, one layer otherwise). Layer ``l`` with state
    ``x_l`` is a CfC block (the equations of :class:`~liquidtime.cells.CfCCell`,
    without a backbone) driven by the *new* state ``u_l`` of the layer before it
    (the input ``I`` for the first layer), at the same step:

        heads_l = u_l (W_l * M_l) + x_l (R_l * Q_l) + b_l
        g, h, time_a, time_b = split(heads_l)                 (f in pure mode)
        x_l' = CfC update of (g, h, time_a, time_b) over the elapsed time dt

    ``M_l`` is the absolute value of the wiring's synapses into layer ``l``: the
    sensory adjacency for the first layer, the adjacency between the previous
    layer and this one for the others. It masks **every** head, the time gates
    included, so a missing synapse carries no signal at all. ``Q_l`` is all ones
    when ``fully_recurrent=True`` (every neuron sees its whole layer's state, as
    in ncps) and the wiring's synapses within layer ``l`` otherwise (for an NCP:
    the recurrent command synapses; inter and motor neurons then have no
    recurrence). Synapses that the layer order does not cover (from a later layer
    back to an earlier one) are not used. The masked-out weights receive zero
    gradients and never influence the output.

    The state is kept in neuron-id order, so ``state[:, :output_dim]`` are the
    motor neurons, and the output is those motor neurons.

    The first layer's input projection ``I (W_0 * M_0) + b_0`` does not depend on
    the state, so the sequence layers compute it for the whole sequence before the
    time loop.

    Args:
        wiring: A :class:`~liquidtime.wirings.Wiring` (or its Keras serialization).
            It is not modified: the cell uses ``wiring.build(input_dim)``.
        mode: ``"default"``, ``"pure"`` or ``"no_gate"`` (see ``CfCCell``).
        fully_recurrent: Whether each layer sees its whole own state (True, default)
            or only the wiring's synapses within the layer (False).
        kernel_initializer, recurrent_initializer, bias_initializer: Initializers
            of ``W_l``, ``R_l`` and ``b_l``.
        *_regularizer, *_constraint: Likewise.
        elapsed_time_as_feature: See :class:`~liquidtime.cells.base.BaseCell`.

    Returns:
        ``(motor_state, [state])`` for a step, with ``motor_state`` of shape
        ``(batch, wiring.output_dim)`` and ``state`` of shape ``(batch, wiring.units)``.

    Example:
    >>> cell = WiredCfCCell(AutoNCP(16, output_size=2, seed=0))
    >>> keras.layers.RNN(cell)(np.zeros((4, 20, 3))).shape
    (4, 2)
    """

    def __init__(
        self,
        wiring: Wiring | dict,
        mode: str = "default",
        fully_recurrent: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        recurrent_regularizer: Any = None,
        bias_regularizer: Any = None,
        kernel_constraint: Any = None,
        recurrent_constraint: Any = None,
        bias_constraint: Any = None,
        elapsed_time_as_feature: bool = False,
        **kwargs: Any,
    ):
        wiring = validation.wiring(wiring)
        self.mode = _validation.one_of("mode", mode, CFC_MODES)
        if not isinstance(fully_recurrent, (bool, np.bool_)):
            raise ValueError(
                "Received an invalid value for argument `fully_recurrent`, expected a bool, "
                f"got {fully_recurrent!r}."
            )
        layers = wiring_layers(wiring)
        super().__init__(wiring.units, elapsed_time_as_feature=elapsed_time_as_feature, **kwargs)
        self.wiring = wiring
        self.fully_recurrent = bool(fully_recurrent)
        self.layer_ranges = layers
        set_weight_options(self, RNN_WEIGHT_KINDS, locals())
        self.built_wiring: Wiring | None = None

    @property
    def num_heads(self) -> int:
        """Heads per neuron: f (pure) or g, h, time-a, time-b (gated modes)."""
        return 1 if self.mode == "pure" else 4

    @property
    def output_size(self) -> int:
        return self.wiring.output_dim

    def layer_masks(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The 0/1 masks ``(M_l, Q_l)`` of each layer's input and recurrent kernels.

        Returns:
            Per layer, ``M_l`` of shape ``(sources, n_l)`` and ``Q_l`` of shape
            ``(n_l, n_l)``, before tiling over the heads. Needs the built wiring.
        """
        wiring = self.built_wiring
        if wiring is None:
            raise ValueError("`layer_masks()` needs the built wiring: build the cell first.")
        adjacency = np.abs(wiring.adjacency_matrix).astype(np.float64)
        sensory = np.abs(wiring.sensory_adjacency_matrix).astype(np.float64)
        masks = []
        for index, (start, stop) in enumerate(self.layer_ranges):
            if index == 0:
                input_mask = sensory[:, start:stop]
            else:
                previous_start, previous_stop = self.layer_ranges[index - 1]
                input_mask = adjacency[previous_start:previous_stop, start:stop]
            if self.fully_recurrent:
                recurrent_mask = np.ones((stop - start, stop - start))
            else:
                recurrent_mask = adjacency[start:stop, start:stop]
            masks.append((input_mask, recurrent_mask))
        return masks

    def build_weights(self, input_dim: int) -> None:
        self.built_wiring = self.wiring.build(input_dim)
        heads = self.num_heads
        self._masks = [
            (np.tile(input_mask, (1, heads)), np.tile(recurrent_mask, (1, heads)))
            for input_mask, recurrent_mask in self.layer_masks()
        ]
        add = functools.partial(add_weight_of_kind, self)  # (name, shape, kind)
        self.kernels, self.recurrent_kernels, self.biases = [], [], []
        for index, (input_mask, recurrent_mask) in enumerate(self._masks):
            self.kernels.append(add(f"kernel_{index}", input_mask.shape, "kernel"))
            self.recurrent_kernels.append(
                add(f"recurrent_kernel_{index}", recurrent_mask.shape, "recurrent")
            )
            self.biases.append(add(f"bias_{index}", (input_mask.shape[1],), "bias"))
        if self.mode == "pure":
            self.A = self.add_weight(name="A", shape=(self.units,), initializer="ones")
            self.w_tau = self.add_weight(name="w_tau", shape=(self.units,), initializer="zeros")

    def _masked(self, variable: keras.Variable, mask: np.ndarray) -> Any:
        return variable * ops.convert_to_tensor(mask, dtype=self.compute_dtype)

    def project_inputs(self, inputs: Any) -> Any:
        """The first layer's input part ``I (W_0 * M_0) + b_0``, any leading shape."""
        self.check_input_features(inputs)
        return matmul(inputs, self._masked(self.kernels[0], self._masks[0][0])) + self.biases[0]

    def sequence_constants(self, batch_size, training=None):
        """The masked kernels, computed once per call.

        Returns:
            ``kernels``: ``W_l * M_l`` for the layers after the first;
            ``recurrent_kernels``: ``R_l * Q_l`` for every layer.
        """
        return {
            "kernels": [
                self._masked(kernel, masks[0])
                for kernel, masks in zip(self.kernels[1:], self._masks[1:])
            ],
            "recurrent_kernels": [
                self._masked(kernel, masks[1])
                for kernel, masks in zip(self.recurrent_kernels, self._masks)
            ],
        }

    def transition(self, projected, states, elapsed_time, constants, training=None):
        state = states[0]
        new_layers = []
        for index, (start, stop) in enumerate(self.layer_ranges):
            recurrent = matmul(state[:, start:stop], constants["recurrent_kernels"][index])
            if index == 0:
                heads = projected + recurrent
            else:
                kernel = constants["kernels"][index - 1]
                heads = matmul(new_layers[-1], kernel) + self.biases[index] + recurrent
            pure = (self.A[start:stop], self.w_tau[start:stop]) if self.mode == "pure" else ()
            new_layers.append(cfc_update(self.mode, heads, elapsed_time, pure))
        in_id_order = [new_layers[i] for i in np.argsort([start for start, _ in self.layer_ranges])]
        new_state = in_id_order[0] if len(in_id_order) == 1 else ops.concatenate(in_id_order, -1)
        return new_state[:, : self.wiring.output_dim], [new_state, *states[1:]]

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.pop("units")
        config.update(
            {
                "wiring": _ser(self.wiring),
                "mode": self.mode,
                "fully_recurrent": self.fully_recurrent,
                **weight_options_config(self, RNN_WEIGHT_KINDS),
            }
        )
        return config

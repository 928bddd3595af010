"""The ``LTC`` sequence layer: dense LTC for an int, synaptic LTC for a wiring."""

from __future__ import annotations

from typing import Any

import keras

from liquidtime.cells.base import BaseCell
from liquidtime.cells.ltc import LTCCell
from liquidtime.cells.synaptic_ltc import SynapticLTCCell
from liquidtime.layers._arguments import named_arguments
from liquidtime.layers.base import CellSequenceLayer, split_cell_arguments
from liquidtime.layers.mixed_memory import MixedMemoryOption
from liquidtime.solvers import Solver
from liquidtime.wirings.base import Wiring


def _units_or_wiring(units: Any) -> Any:
    """Restores a serialized wiring (from a saved config); other values pass through."""
    if isinstance(units, dict):
        return keras.saving.deserialize_keras_object(units)
    return units


@keras.saving.register_keras_serializable(package="liquidtime")
class LTC(MixedMemoryOption, CellSequenceLayer):
    """Liquid Time-Constant network over whole sequences.

    ``LTC(units: int, ...)`` runs the dense LTC cell of the paper's Algorithm 1
    (:class:`~liquidtime.cells.LTCCell`: tau, gamma, gamma_r, mu, A);
    ``LTC(wiring, ...)`` runs the synaptic LTC of the original code and ncps on that
    wiring (:class:`~liquidtime.cells.SynapticLTCCell`: per-synapse w, erev, mu,
    sigma; per-neuron cm, gleak, vleak), whose output is the wiring's motor
    neurons. Both go through :class:`~liquidtime.layers.ContinuousTimeRNN`. Every
    argument of the chosen cell (``solver``, ``ode_unfolds``, ... for both;
    ``activation`` and the backbone for the dense cell; ``input_mapping``,
    ``output_mapping``, ``epsilon``, ``initialization_ranges`` for the synaptic
    cell) and every sequence-layer argument (``return_sequences``,
    ``return_state``, ``go_backwards``, ``stateful``, ``zero_output_for_mask``) is
    accepted. The wiring is saved in the layer's config, so ``.keras`` files of
    wired LTCs (NCP included) load back. With ``mixed_memory=True`` the cell is
    wrapped in a :class:`~liquidtime.cells.MixedMemoryCell` (an LSTM memory path,
    Lechner & Hasani 2020).

    Args:
        units: An int (the dense LTC's number of neurons) or a
            :class:`~liquidtime.wirings.Wiring` (the synaptic LTC), or a wiring's
            Keras serialization.
        mixed_memory: Wrap the cell in a :class:`~liquidtime.cells.MixedMemoryCell`.
        solver, ode_unfolds: The ODE solver and its sub-steps per input step (both
            forms); see :class:`~liquidtime.cells.LTCCell`.
        positivity: How the positive parameters stay positive (both forms).
        activation, backbone_units, backbone_layers, backbone_dropout,
            backbone_activation, kernel_initializer, recurrent_initializer,
            bias_initializer, tau_initializer, reversal_initializer, *_regularizer,
            *_constraint, seed: The dense LTC's (an int ``units``); see
            :class:`~liquidtime.cells.LTCCell`.
        input_mapping, output_mapping, epsilon, initialization_ranges, regularizers:
            The synaptic LTC's (a wiring); see :class:`~liquidtime.cells.SynapticLTCCell`.
            Giving an argument of the other form is an error.
        elapsed_time_as_feature: Read the elapsed time from the last input feature.
        implementation: ``"auto"``, ``"reference"`` or a kernel of the cell
            (:mod:`liquidtime.kernels.selection`).
        return_sequences, return_state, go_backwards, stateful, unroll,
            zero_output_for_mask: As for ``keras.layers.RNN``; see
            :class:`~liquidtime.layers.ContinuousTimeRNN`.
        **kwargs: Passed to ``keras.layers.Layer`` (``name``, ``dtype``, ...).

    Call arguments:
        sequences: ``(batch, time, features)``.
        elapsed_time: Optional elapsed time per step, ``(batch, time)``,
            ``(batch, time, 1)`` or a scalar (default 1.0).
        initial_state, mask, training: As for ``keras.layers.RNN``.

    Example:
    >>> layer = LTC(32, return_sequences=True)
    >>> y = layer(x, elapsed_time=dt)   # x: (batch, time, features), dt: (batch, time)
    >>> wired = LTC(AutoNCP(32, output_size=4), return_sequences=True)
    >>> y = wired(x)                    # (batch, time, 4): the motor neurons
    """

    cell_class = LTCCell

    def __init__(
        self,
        units: int | Wiring | dict,
        mixed_memory: bool = False,
        solver: str | Solver | dict = "fused",
        ode_unfolds: int = 6,
        positivity: str = "softplus",
        activation: Any = "sigmoid",
        backbone_units: int | None = None,
        backbone_layers: int = 0,
        backbone_dropout: float = 0.0,
        backbone_activation: Any = "lecun_tanh",
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        tau_initializer: Any = 1.0,
        reversal_initializer: Any = None,
        kernel_regularizer: Any = None,
        recurrent_regularizer: Any = None,
        bias_regularizer: Any = None,
        tau_regularizer: Any = None,
        reversal_regularizer: Any = None,
        kernel_constraint: Any = None,
        recurrent_constraint: Any = None,
        bias_constraint: Any = None,
        tau_constraint: Any = None,
        reversal_constraint: Any = None,
        seed: int | None = None,
        input_mapping: str = "affine",
        output_mapping: str = "affine",
        epsilon: float = 1e-8,
        initialization_ranges: dict[str, Any] | None = None,
        regularizers: dict[str, Any] | None = None,
        elapsed_time_as_feature: bool = False,
        implementation: str = "auto",
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool | int = False,
        zero_output_for_mask: bool = False,
        **kwargs: Any,
    ):
        given = locals()
        units = _units_or_wiring(units)
        cell_class = self.cell_class_for(units)
        other = LTCCell if cell_class is SynapticLTCCell else SynapticLTCCell
        unused = set(split_cell_arguments(other, given)[0]) - set(
            split_cell_arguments(cell_class, given)[0]
        )
        kwargs = {**named_arguments(LTC.__init__, given, unused), **kwargs}
        own_arguments = split_cell_arguments(cell_class, kwargs)[0]
        foreign = sorted(set(split_cell_arguments(other, kwargs)[0]) - set(own_arguments))
        if foreign:
            kind = (
                "a wiring (synaptic LTC)" if cell_class is SynapticLTCCell else "an int (dense LTC)"
            )
            raise ValueError(
                f"LTC was given {kind} as `units`, which does not take the argument(s) "
                f"{foreign}; they belong to {other.__name__}."
            )
        super().__init__(units, mixed_memory=mixed_memory, **kwargs)

    def cell_class_for(self, units: Any) -> type[BaseCell]:
        return SynapticLTCCell if isinstance(units, Wiring) else LTCCell

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        if "wiring" in config:
            config["units"] = config.pop("wiring")
        return config

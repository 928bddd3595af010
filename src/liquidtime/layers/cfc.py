"""The ``CfC`` sequence layer: dense CfC for an int, wired CfC for a wiring."""

from __future__ import annotations

from typing import Any

import keras

from liquidtime.cells.base import BaseCell
from liquidtime.cells.cfc import CfCCell
from liquidtime.cells.wired_cfc import WiredCfCCell
from liquidtime.layers._arguments import named_arguments
from liquidtime.layers.base import CellSequenceLayer, split_cell_arguments
from liquidtime.layers.mixed_memory import MixedMemoryOption
from liquidtime.wirings.base import Wiring


@keras.saving.register_keras_serializable(package="liquidtime")
class CfC(MixedMemoryOption, CellSequenceLayer):
    """Closed-form continuous-time network over whole sequences.

    ``CfC(units: int, mode="default", ...)`` runs :class:`~liquidtime.cells.CfCCell`
    (with its optional backbone); ``CfC(wiring, ...)`` runs
    :class:`~liquidtime.cells.WiredCfCCell` (one sparse CfC block per wiring layer,
    every head masked by the wiring, ``fully_recurrent`` choosing the recurrence
    within a layer), whose output is the wiring's motor neurons. With
    ``mixed_memory=True`` the cell is wrapped in a
    :class:`~liquidtime.cells.MixedMemoryCell` (an LSTM memory path, Lechner &
    Hasani 2020). Every argument of the chosen cell and every sequence-layer
    argument (``return_sequences``, ``return_state``, ``go_backwards``,
    ``stateful``, ``zero_output_for_mask``) is accepted.

    Args:
        units: An int (the dense CfC's number of neurons) or a
            :class:`~liquidtime.wirings.Wiring` (the wired CfC), or a wiring's Keras
            serialization.
        mixed_memory: Wrap the cell in a :class:`~liquidtime.cells.MixedMemoryCell`.
        mode: ``"default"``, ``"pure"`` or ``"no_gate"`` (both forms).
        activation, backbone_units, backbone_layers, backbone_dropout, seed: The dense
            CfC's (an int ``units``); see :class:`~liquidtime.cells.CfCCell`.
        fully_recurrent: The wired CfC's (a wiring); see
            :class:`~liquidtime.cells.WiredCfCCell`. Giving an argument of the other
            form is an error.
        kernel_initializer, recurrent_initializer, bias_initializer, *_regularizer,
            *_constraint: Of the weights (both forms).
        elapsed_time_as_feature: Read the elapsed time from the last input feature.
        implementation: ``"auto"``, ``"reference"`` or a kernel of the cell
            (:mod:`liquidtime.kernels.selection`).
        return_sequences, return_state, go_backwards, stateful, unroll,
            zero_output_for_mask: As for ``keras.layers.RNN``; see
            :class:`~liquidtime.layers.ContinuousTimeRNN`.
        **kwargs: Passed to ``keras.layers.Layer`` (``name``, ``dtype``, ...).

    Example:
    >>> y = CfC(32, mode="pure", return_sequences=True)(x, elapsed_time=dt)
    >>> y = CfC(AutoNCP(32, output_size=4), mixed_memory=True)(x)   # (batch, 4)
    """

    cell_class = CfCCell

    def __init__(
        self,
        units: int | Wiring | dict,
        mixed_memory: bool = False,
        mode: str = "default",
        activation: Any = "lecun_tanh",
        backbone_units: int | None = 128,
        backbone_layers: int = 1,
        backbone_dropout: float = 0.0,
        seed: int | None = None,
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
        if isinstance(units, dict):
            units = keras.saving.deserialize_keras_object(units)
        cell_class = self.cell_class_for(units)
        other = CfCCell if cell_class is WiredCfCCell else WiredCfCCell
        unused = set(split_cell_arguments(other, given)[0]) - set(
            split_cell_arguments(cell_class, given)[0]
        )
        kwargs = {**named_arguments(CfC.__init__, given, unused), **kwargs}
        own_arguments = split_cell_arguments(cell_class, kwargs)[0]
        foreign = sorted(set(split_cell_arguments(other, kwargs)[0]) - set(own_arguments))
        if foreign:
            kind = "a wiring (wired CfC)" if cell_class is WiredCfCCell else "an int (dense CfC)"
            raise ValueError(
                f"CfC was given {kind} as `units`, which does not take the argument(s) "
                f"{foreign}; they belong to {other.__name__}."
            )
        super().__init__(units, mixed_memory=mixed_memory, **kwargs)

    def cell_class_for(self, units: Any) -> type[BaseCell]:
        return WiredCfCCell if isinstance(units, Wiring) else CfCCell

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        if "wiring" in config:
            config["units"] = config.pop("wiring")
        return config

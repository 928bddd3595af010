"""The ``CfC`` sequence layer: dense CfC for an int, wired CfC for a wiring."""

from __future__ import annotations

from typing import Any

import keras

from liquidtime.cells.base import BaseCell
from liquidtime.cells.cfc import CfCCell
from liquidtime.cells.wired_cfc import WiredCfCCell
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

    Example:
    >>> y = CfC(32, mode="pure", return_sequences=True)(x, elapsed_time=dt)
    >>> y = CfC(AutoNCP(32, output_size=4), mixed_memory=True)(x)   # (batch, 4)
    """

    cell_class = CfCCell

    def __init__(self, units: int | Wiring | dict, mixed_memory: bool = False, **kwargs: Any):
        if isinstance(units, dict):
            units = keras.saving.deserialize_keras_object(units)
        cell_class = self.cell_class_for(units)
        other = CfCCell if cell_class is WiredCfCCell else WiredCfCCell
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

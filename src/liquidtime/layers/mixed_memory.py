"""The ``mixed_memory`` option of the sequence layers (LSTM memory beside the cell)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from liquidtime.cells.base import BaseCell
from liquidtime.cells.mixed_memory import MixedMemoryCell

if TYPE_CHECKING:
    # The mixin is listed before CellSequenceLayer: type-check it as one.
    from liquidtime.layers.base import CellSequenceLayer as _MixinBase
else:
    _MixinBase = object

_LAYER_BASE_KEYS = ("name", "trainable", "dtype")


class MixedMemoryOption(_MixinBase):
    """Mixin for :class:`~liquidtime.layers.CellSequenceLayer` subclasses: ``mixed_memory``.

    With ``mixed_memory=True`` the layer's cell is wrapped in a
    :class:`~liquidtime.cells.MixedMemoryCell` (an LSTM memory whose output is the
    state the continuous-time cell evolves; see there). The layer's states are
    then ``[*cell_states, lstm_memory]``; its output is unchanged in shape. The
    config stays flat: the wrapped cell's arguments plus ``mixed_memory``.

    List it before ``CellSequenceLayer`` in the bases:
    ``class CfC(MixedMemoryOption, CellSequenceLayer)``.

    Args:
        units: As for the layer.
        mixed_memory: Whether to add the LSTM memory (default False).
        **kwargs: The layer's other arguments.
    """

    def __init__(self, units: Any, mixed_memory: bool = False, **kwargs: Any):
        if not isinstance(mixed_memory, bool):
            raise ValueError(
                "Received an invalid value for argument `mixed_memory`, expected a bool, "
                f"got {mixed_memory!r}."
            )
        self._wrap_in_memory = mixed_memory  # read by make_cell, during super().__init__
        super().__init__(units, **kwargs)

    @property
    def mixed_memory(self) -> bool:
        """Whether the cell is wrapped in a :class:`~liquidtime.cells.MixedMemoryCell`."""
        return isinstance(self.cell, MixedMemoryCell)

    def make_cell(self, units: Any, cell_kwargs: dict[str, Any], dtype: Any) -> BaseCell:
        cell = super().make_cell(units, cell_kwargs, dtype)
        if not self._wrap_in_memory:
            return cell
        return MixedMemoryCell(cell, dtype=dtype, name="mixed_memory")

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        if self.mixed_memory:
            # super() flattened the wrapper's config; put the wrapped cell's in its place.
            for key in self.cell.get_config():
                if key not in _LAYER_BASE_KEYS:
                    config.pop(key)
            cell_config = self.cell.cell.get_config()
            config.update({k: v for k, v in cell_config.items() if k not in _LAYER_BASE_KEYS})
        config["mixed_memory"] = self.mixed_memory
        return config

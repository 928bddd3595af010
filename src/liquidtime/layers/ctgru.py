"""The ``CTGRU`` sequence layer."""

from __future__ import annotations

import keras

from liquidtime.cells.ctgru import CTGRUCell
from liquidtime.layers.base import CellSequenceLayer


@keras.saving.register_keras_serializable(package="liquidtime")
class CTGRU(CellSequenceLayer):
    """Continuous-time GRU (Mozer et al., 2017) over whole sequences.

    ``CTGRU(units, num_traces=8, ...)`` runs :class:`~liquidtime.cells.CTGRUCell`
    through :class:`~liquidtime.layers.ContinuousTimeRNN`; every ``CTGRUCell``
    argument and every sequence-layer argument is accepted. The traces decay by
    ``exp(-dt / tau_k)`` over the elapsed time ``dt`` of each step. The output has
    ``units`` entries; with ``return_state`` the state is the flattened
    ``(units, num_traces)`` trace matrix.

    The paper's original code: ``CTGRU(units, per_trace_scales=True,
    original_decay=True)`` (see the cell's docstring for that decay quirk).

    Call arguments:
        sequences: ``(batch, time, features)``.
        elapsed_time: Optional elapsed time per step, ``(batch, time)``,
            ``(batch, time, 1)`` or a scalar (default 1.0).
        initial_state, mask, training: As for ``keras.layers.RNN``.

    Example:
    >>> y = CTGRU(32, return_sequences=True)(x, elapsed_time=dt)   # (batch, time, 32)
    """

    cell_class = CTGRUCell

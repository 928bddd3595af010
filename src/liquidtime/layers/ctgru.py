"""The ``CTGRU`` sequence layer."""

from __future__ import annotations

import math
from typing import Any

import keras

from liquidtime.cells.ctgru import CTGRUCell
from liquidtime.layers._arguments import named_arguments
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

    Args:
        units: Number of neurons.
        num_traces, min_timescale, timescale_ratio, per_trace_scales, original_decay,
            kernel_initializer, recurrent_initializer, bias_initializer,
            *_regularizer, *_constraint: See :class:`~liquidtime.cells.CTGRUCell`.
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
    >>> y = CTGRU(32, return_sequences=True)(x, elapsed_time=dt)   # (batch, time, 32)
    """

    cell_class = CTGRUCell

    def __init__(
        self,
        units: int,
        num_traces: int = 8,
        min_timescale: float = 1.0,
        timescale_ratio: float = math.sqrt(10.0),
        per_trace_scales: bool = False,
        original_decay: bool = False,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
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
        super().__init__(units, **named_arguments(CTGRU.__init__, locals()), **kwargs)

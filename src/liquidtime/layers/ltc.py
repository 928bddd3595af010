"""The ``LTC`` sequence layer."""

from __future__ import annotations

import keras

from liquidtime.cells.ltc import LTCCell
from liquidtime.layers.base import CellSequenceLayer


@keras.saving.register_keras_serializable(package="liquidtime")
class LTC(CellSequenceLayer):
    """Liquid Time-Constant network over whole sequences.

    ``LTC(units, ...)`` runs the dense LTC cell of the paper's Algorithm 1
    (:class:`~liquidtime.cells.LTCCell`: tau, gamma, gamma_r, mu, A) through
    :class:`~liquidtime.layers.ContinuousTimeRNN`. Every ``LTCCell`` argument
    (``activation``, ``solver``, ``ode_unfolds``, backbone, initializers, ...) and
    every sequence-layer argument (``return_sequences``, ``return_state``,
    ``go_backwards``, ``stateful``, ``zero_output_for_mask``) is accepted.

    Call arguments:
        sequences: ``(batch, time, features)``.
        elapsed_time: Optional elapsed time per step, ``(batch, time)``,
            ``(batch, time, 1)`` or a scalar (default 1.0).
        initial_state, mask, training: As for ``keras.layers.RNN``.

    Example:
    >>> layer = LTC(32, return_sequences=True)
    >>> y = layer(x, elapsed_time=dt)   # x: (batch, time, features), dt: (batch, time)
    """

    cell_class = LTCCell

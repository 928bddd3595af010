"""The ``NeuralODE`` sequence layer."""

from __future__ import annotations

import keras

from liquidtime.cells.node import NeuralODECell
from liquidtime.layers.base import CellSequenceLayer


@keras.saving.register_keras_serializable(package="liquidtime")
class NeuralODE(CellSequenceLayer):
    """The LTC paper's Neural ODE baseline over whole sequences.

    ``NeuralODE(units, ...)`` runs :class:`~liquidtime.cells.NeuralODECell`
    (``dx/dt = tanh(W [I; x] + b)``, RK4 by default) through
    :class:`~liquidtime.layers.ContinuousTimeRNN`. Every ``NeuralODECell`` argument
    (``solver``, ``ode_unfolds``, ``time_scale``, ``clip_state``, ...) and every
    sequence-layer argument is accepted. Not Rubanova et al.'s ODE-RNN (see the
    cell's docstring).

    The defaults integrate the elapsed time of each step with 6 RK4 sub-steps. The
    paper's original code: ``NeuralODE(units, time_scale=0.6)`` (6 RK4 steps of 0.1
    per input step), with ``clip_state=10.0`` for traffic and power.

    Call arguments:
        sequences: ``(batch, time, features)``.
        elapsed_time: Optional elapsed time per step, ``(batch, time)``,
            ``(batch, time, 1)`` or a scalar (default 1.0).
        initial_state, mask, training: As for ``keras.layers.RNN``.

    Example:
    >>> y = NeuralODE(32, solver="dopri5")(x, elapsed_time=dt)   # (batch, 32)
    """

    cell_class = NeuralODECell

"""The ``NeuralODE`` sequence layer."""

from __future__ import annotations

from typing import Any

import keras

from liquidtime.cells.node import NeuralODECell
from liquidtime.layers._arguments import named_arguments
from liquidtime.layers.base import CellSequenceLayer
from liquidtime.solvers import Solver


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

    Args:
        units: Number of neurons.
        activation, solver, ode_unfolds, time_scale, clip_state: See
            :class:`~liquidtime.cells.NeuralODECell`.
        backbone_units, backbone_layers, backbone_dropout, backbone_activation: The
            optional backbone network; kernel_initializer, recurrent_initializer,
            bias_initializer, *_regularizer, *_constraint: its weights; seed: its
            dropout masks. See :class:`~liquidtime.cells.NetworkODECell`.
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
    >>> y = NeuralODE(32, solver="dopri5")(x, elapsed_time=dt)   # (batch, 32)
    """

    cell_class = NeuralODECell

    def __init__(
        self,
        units: int,
        activation: Any = "tanh",
        solver: str | Solver | dict = "rk4",
        ode_unfolds: int = 6,
        time_scale: float = 1.0,
        clip_state: float | None = None,
        backbone_units: int | None = None,
        backbone_layers: int = 0,
        backbone_dropout: float = 0.0,
        backbone_activation: Any = "lecun_tanh",
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        recurrent_regularizer: Any = None,
        bias_regularizer: Any = None,
        kernel_constraint: Any = None,
        recurrent_constraint: Any = None,
        bias_constraint: Any = None,
        seed: int | None = None,
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
        super().__init__(units, **named_arguments(NeuralODE.__init__, locals()), **kwargs)

"""The ``CTRNN`` sequence layer."""

from __future__ import annotations

from typing import Any

import keras

from liquidtime.cells.ctrnn import LIQUID_NEURON_CONFIG, CTRNNCell
from liquidtime.layers._arguments import named_arguments
from liquidtime.layers.base import CellSequenceLayer
from liquidtime.solvers import Solver


@keras.saving.register_keras_serializable(package="liquidtime")
class CTRNN(CellSequenceLayer):
    """Continuous-time RNN over whole sequences (the LTC paper's CT-RNN baseline).

    ``CTRNN(units, ...)`` runs :class:`~liquidtime.cells.CTRNNCell`
    (``dx/dt = -x / tau + f(W [I; x] + b)``) through
    :class:`~liquidtime.layers.ContinuousTimeRNN`. Every ``CTRNNCell`` argument
    (``learn_tau``, ``solver``, ``ode_unfolds``, ``time_scale``, ...) and every
    sequence-layer argument (``return_sequences``, ``return_state``, ...) is accepted.

    The defaults integrate the elapsed time of each step with 6 Euler sub-steps
    and a learnable tau. The paper's original code: ``CTRNN(units, learn_tau=False,
    time_scale=0.6)`` (6 Euler steps of 0.1 per input step, tau = 1).

    Args:
        units: Number of neurons.
        activation, learn_tau, tau_scales_drive, use_gain, positivity, solver,
            ode_unfolds, time_scale, clip_state, tau_initializer, gain_initializer,
            tau_regularizer, gain_regularizer, tau_constraint, gain_constraint: See
            :class:`~liquidtime.cells.CTRNNCell`.
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
    >>> y = CTRNN(32, return_sequences=True)(x, elapsed_time=dt)   # (batch, time, 32)
    """

    cell_class = CTRNNCell

    def __init__(
        self,
        units: int,
        activation: Any = "tanh",
        learn_tau: bool = True,
        tau_scales_drive: bool = False,
        use_gain: bool = False,
        positivity: str = "softplus",
        solver: str | Solver | dict = "euler",
        ode_unfolds: int = 6,
        time_scale: float = 1.0,
        clip_state: float | None = None,
        tau_initializer: Any = 1.0,
        gain_initializer: Any = "ones",
        tau_regularizer: Any = None,
        gain_regularizer: Any = None,
        tau_constraint: Any = None,
        gain_constraint: Any = None,
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
        super().__init__(units, **named_arguments(CTRNN.__init__, locals()), **kwargs)

    @classmethod
    def liquid_neuron(cls, units: int, **kwargs: Any) -> CTRNN:
        """The seed's "liquid neuron" over sequences; see :meth:`CTRNNCell.liquid_neuron`.

        Its tau is a learnable constant per neuron, independent of the input: a
        CT-RNN with a learnable time constant, not a liquid time-constant network.
        """
        return cls(units, **{**LIQUID_NEURON_CONFIG, **kwargs})

"""Continuous-time RNN cells driven by a network of ``[input, state]``.

This module holds :class:`NetworkODECell`, the shared base of the CT-RNN and the
Neural ODE baselines of the LTC paper, and :class:`CTRNNCell` itself (with the
seed "liquid neuron" as one of its configurations, :meth:`CTRNNCell.liquid_neuron`).

Both models integrate ``dx/dt = -a x + b`` with a drive ``f = activation(W [I; x] + c)``
that the solver re-evaluates at every sub-step. The interval integrated per input
step is ``time_scale * dt``: with the default ``time_scale=1.0`` it is the elapsed
time itself; the LTC paper's baselines integrated a fixed ``6 * 0.1 = 0.6`` time
units per input step, which ``time_scale=0.6, ode_unfolds=6`` reproduces for
regularly sampled data (``dt = 1``).
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from liquidtime import _validation
from liquidtime.cells.base import ContinuousTimeCell
from liquidtime.cells.network import BackboneDropoutRNNHook
from liquidtime.cells.network_cell import (
    NetworkCell,
    add_weight_of_kind,
    set_weight_options,
    weight_options,
    weight_options_config,
)
from liquidtime.cells.parameters import (
    POSITIVITY_MODES,
    add_positive_weight,
    positive_initializer,
    positive_value,
)
from liquidtime.solvers import Solver

_CTRNN_WEIGHT_KINDS = ("tau", "gain")  # the CT-RNN's own weights, beside the network's


class NetworkODECell(NetworkCell, ContinuousTimeCell, BackboneDropoutRNNHook):
    """Base of the cells whose drive is ``f = activation(network([I, x]))``.

    Subclasses implement :meth:`decay_and_drive` from :meth:`drive`. This base owns
    the network (affine map on ``[I, x]``, optionally behind an MLP backbone; the
    input part is hoisted out of the time loop), the time scale and the optional
    state clipping.

    Args:
        units: Number of neurons N.
        activation: The nonlinearity of f (default ``"tanh"``).
        solver: ``"euler"``, ``"fused"``, ``"rk4"``, ``"dopri5"`` or a Solver.
        ode_unfolds: Solver sub-steps per input step (``dopri5``: first trial step).
        time_scale: Model time per unit of elapsed time, > 0: each input step
            integrates the ODE over ``time_scale * dt``.
        clip_state: None, or a positive float ``c``: the state is clipped to
            ``[-c, c]`` after every solver sub-step of a fixed-step solver (as the
            original code did), or after the input step for an adaptive solver.
        backbone_units, backbone_layers, backbone_dropout, backbone_activation:
            Optional MLP backbone on ``[I, x]`` before the affine head (default none).
        kernel_initializer, recurrent_initializer, bias_initializer: Initializers of
            the input kernel, the state kernel and the bias.
        kernel_regularizer, recurrent_regularizer, bias_regularizer,
        kernel_constraint, recurrent_constraint, bias_constraint: Likewise.
        elapsed_time_as_feature: See :class:`~liquidtime.cells.base.BaseCell`.
        seed: Seed of the backbone dropout masks.
        **kwargs: Passed to :class:`~liquidtime.cells.base.ContinuousTimeCell`.
    """

    def __init__(
        self,
        units: int,
        activation: Any = "tanh",
        solver: str | Solver | dict = "euler",
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
        elapsed_time_as_feature: bool = False,
        seed: int | None = None,
        **kwargs: Any,
    ):
        self.time_scale = _validation.positive_float("time_scale", time_scale)
        if clip_state is not None:
            clip_state = _validation.positive_float("clip_state", clip_state)
        self.clip_state = clip_state
        self.init_network_cell(units, locals(), solver=solver, ode_unfolds=ode_unfolds)

    def drive(self, state: Any, projected: Any, constants: dict[str, Any]) -> Any:
        """``f = activation(W [I; x] + c)`` (through the backbone if any), ``(batch, units)``."""
        return self.activation(self.network.step(projected, state, constants["dropout"]))

    def transition(self, projected, states, elapsed_time, constants, training=None):
        output, new_states, _ = self.transition_and_status(
            projected, states, elapsed_time, constants, training
        )
        return output, new_states

    def transition_and_status(self, projected, states, elapsed_time, constants, training=None):
        field = lambda x: self.decay_and_drive(x, projected, constants)  # noqa: E731
        interval = elapsed_time if self.time_scale == 1.0 else elapsed_time * self.time_scale
        result = self.solver.integrate(
            field, states[0], interval, self.ode_unfolds, clip=self.clip_state
        )
        return self.readout(result.state), [result.state, *states[1:]], result.status()

    def get_config(self) -> dict[str, Any]:
        config = {
            "time_scale": self.time_scale,
            "clip_state": self.clip_state,
            **self.network_config(),
        }
        return {**super().get_config(), **config}


@keras.saving.register_keras_serializable(package="liquidtime")
class CTRNNCell(NetworkODECell):
    """Continuous-time RNN cell (Funahashi & Nakamura, 1993), the LTC paper's CT-RNN baseline.

    With input ``I``, state ``x``, ``f = activation(I W + x U + c)`` and optional
    learnable gain ``alpha`` (``use_gain``, else 1):

        dx/dt = -x / tau + alpha * f                 (default; the LTC paper's form)
        dx/dt = (alpha * f - x) / tau                (``tau_scales_drive=True``)

    The second form is the classical leaky-integrator CT-RNN ``tau dx/dt = -x +
    alpha f``. In decay-drive form ``a = 1/tau`` and ``b = alpha f`` (or ``alpha f /
    tau``); ``b`` depends on ``x`` and is re-evaluated at every solver sub-step.
    ``solver="fused"`` then gives the semi-implicit step ``x <- (x + h b) / (1 + h /
    tau)``, which is stable for any ``h``; the default explicit Euler step needs
    ``h / tau < 2``.

    The time constant ``tau`` (N, positive) is learnable (``learn_tau=True``,
    default) or fixed at its initial value. It does not depend on the input: unlike
    an LTC, whose time constant ``tau / (1 + tau f)`` varies with the input, a
    CT-RNN has one time constant per neuron.

    Step size. Each input step integrates over ``time_scale * dt`` with
    ``ode_unfolds`` sub-steps of ``time_scale * dt / ode_unfolds``. The defaults
    (``time_scale=1``, ``ode_unfolds=6``) integrate exactly the elapsed time. The
    paper's original code took 6 Euler steps of 0.1 per input step, i.e. 0.6 time
    units per input step; ``CTRNNCell(units, learn_tau=False, time_scale=0.6)``
    reproduces it (see :func:`liquidtime.models.make_rnn_layer` with
    ``preset="paper"``).

    Weights: ``kernel`` W (M x N), ``recurrent_kernel`` U (N x N), ``bias`` c (N)
    (with a backbone, the first backbone layer's and the head's), ``tau`` (N) and,
    with ``use_gain``, ``gain`` alpha (N).

    Args:
        units: Number of neurons N.
        activation: The nonlinearity of f (default ``"tanh"``).
        learn_tau: Learn tau (default True) or keep it at its initial value.
        tau_scales_drive: Divide the drive by tau too (``tau dx/dt = -x + alpha f``).
        use_gain: Learn a per-neuron gain ``alpha`` on the drive (default False).
        positivity: How tau is kept positive: ``"softplus"`` (default) or ``"clip"``.
        solver: ``"euler"`` (default), ``"fused"``, ``"rk4"``, ``"dopri5"`` or a Solver.
        ode_unfolds: Sub-steps per input step (default 6).
        time_scale: Model time per unit of elapsed time (default 1.0; the paper 0.6).
        clip_state: Optional symmetric state clipping (see :class:`NetworkODECell`).
        tau_initializer: Initial (positive) tau: a number (default 1.0) or an
            initializer of the positive value.
        gain_initializer: Initializer of alpha (default ones).
        tau_regularizer, gain_regularizer, tau_constraint, gain_constraint: For tau
            (seen as its positive value) and alpha.
        **kwargs: Network, backbone and base arguments of :class:`NetworkODECell`.

    Call arguments (inside ``keras.layers.RNN``):
        inputs: ``(batch, M)``, or ``(batch, M + 1)`` with the elapsed time last.
        states: ``[x]`` with ``x`` of shape ``(batch, N)``.

    Returns:
        ``(x_new, [x_new])``.

    Example:
    >>> cell = CTRNNCell(16)
    >>> y = keras.layers.RNN(cell)(np.zeros((2, 20, 3)))   # (2, 16)
    """

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
        **kwargs: Any,
    ):
        self.positivity = _validation.one_of("positivity", positivity, POSITIVITY_MODES)
        tau_initializer = positive_initializer("tau_initializer", tau_initializer)
        super().__init__(
            units,
            activation=activation,
            solver=solver,
            ode_unfolds=ode_unfolds,
            time_scale=time_scale,
            clip_state=clip_state,
            **kwargs,
        )
        self.learn_tau = bool(learn_tau)
        self.tau_scales_drive = bool(tau_scales_drive)
        self.use_gain = bool(use_gain)
        set_weight_options(self, _CTRNN_WEIGHT_KINDS, locals())

    @classmethod
    def liquid_neuron(cls, units: int, **kwargs: Any) -> CTRNNCell:
        """The seed's "liquid neuron" (there called an LTCN), as a CT-RNN configuration.

        It implements, with ``tau = softplus(p)`` and learnable ``alpha``, ``beta``:

            dh/dt = (alpha * tanh(W_in x + W_rec h + beta) - h) / tau
            h <- h + dt * dh/dt                       (one Euler step per input)

        Plainly: this tau is one learnable number per neuron and does not depend on
        the input, so the model is a CT-RNN with a learnable time constant, not a
        liquid time-constant network (for that, see :class:`~liquidtime.cells.LTCCell`).
        It is ``CTRNNCell(units, activation="tanh", learn_tau=True,
        tau_scales_drive=True, use_gain=True, solver="euler", ode_unfolds=1)``;
        ``beta`` is the cell's ``bias``, ``W_in`` its ``kernel``, ``W_rec`` its
        ``recurrent_kernel``.

        Args:
            units: Number of neurons.
            **kwargs: Overrides of any :class:`CTRNNCell` argument (e.g.
                ``solver="fused"`` for the stable semi-implicit step).

        Returns:
            A :class:`CTRNNCell`.
        """
        config = {**LIQUID_NEURON_CONFIG, **kwargs}
        return cls(units, **config)

    def build_weights(self, input_dim: int) -> None:
        super().build_weights(input_dim)
        tau_options = weight_options(self, "tau")
        if not self.learn_tau:
            tau_options["regularizer"] = None
        self.tau = add_positive_weight(
            self, "tau", (self.units,), positivity=self.positivity, **tau_options
        )
        self.tau.trainable = self.learn_tau
        self.gain = None
        if self.use_gain:
            self.gain = add_weight_of_kind(self, "gain", (self.units,), "gain")

    def time_constant(self) -> Any:
        """The positive time constants tau, shape ``(units,)``."""
        return positive_value(self.tau, self.positivity)

    def sequence_constants(self, batch_size, training=None):
        inverse_tau = 1.0 / self.time_constant()
        drive_scale = None
        if self.use_gain:
            drive_scale = ops.convert_to_tensor(self.gain)
        if self.tau_scales_drive:
            drive_scale = inverse_tau if drive_scale is None else drive_scale * inverse_tau
        return {
            **super().sequence_constants(batch_size, training),
            "inverse_tau": inverse_tau,
            "drive_scale": drive_scale,
        }

    def decay_and_drive(self, state, projected, constants):
        f = self.drive(state, projected, constants)
        if constants["drive_scale"] is not None:
            f = f * constants["drive_scale"]
        return constants["inverse_tau"], f

    def get_config(self) -> dict[str, Any]:
        config = {
            "learn_tau": self.learn_tau,
            "tau_scales_drive": self.tau_scales_drive,
            "use_gain": self.use_gain,
            "positivity": self.positivity,
            **weight_options_config(self, _CTRNN_WEIGHT_KINDS),
        }
        return {**super().get_config(), **config}


LIQUID_NEURON_CONFIG: dict[str, Any] = {
    "activation": "tanh",
    "learn_tau": True,
    "tau_scales_drive": True,
    "use_gain": True,
    "solver": "euler",
    "ode_unfolds": 1,
    "time_scale": 1.0,
}
"""The :class:`CTRNNCell` arguments of the seed's "liquid neuron" (see :meth:`CTRNNCell.liquid_neuron`)."""

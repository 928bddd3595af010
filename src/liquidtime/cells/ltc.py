"""The dense Liquid Time-Constant cell of the LTC paper (Hasani et al., 2021, Eq. 1, Alg. 1)."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from liquidtime import _validation
from liquidtime.cells.base import ContinuousTimeCell
from liquidtime.cells.network import BackboneDropoutRNNHook
from liquidtime.cells.network_cell import (
    RNN_WEIGHT_KINDS,
    NetworkCell,
    add_weight_of_kind,
    weight_options,
)
from liquidtime.cells.parameters import (
    POSITIVITY_MODES,
    add_positive_weight,
    positive_initializer,
    positive_value,
)
from liquidtime.kernels.selection import Kernel, elementwise_activations
from liquidtime.solvers import FusedSolver, Solver


@keras.saving.register_keras_serializable(package="liquidtime")
class LTCCell(NetworkCell, ContinuousTimeCell, BackboneDropoutRNNHook):
    """Dense LTC cell: Eq. 1 of the LTC paper, solved by the fused step of Eq. 3.

    With input ``I`` (M features) and state ``x`` (N neurons):

        f = activation(I gamma + x gamma_r + mu)
        dx/dt = -[1/tau + f] * x + f * A                         (Eq. 1)

    and, with ``L = ode_unfolds`` sub-steps of ``h = dt / L``, the default fused
    solver applies Eq. 3 ``L`` times:

        x <- (x + h f A) / (1 + h (1/tau + f)).

    The liquid time constant is ``tau_sys = tau / (1 + tau f)``. The paper's
    stability results (Theorem 1: ``tau / (1 + tau W) <= tau_sys <= tau``; Theorem
    2: ``min(0, A) <= x <= max(0, A)``) assume ``f`` bounded, non-negative and
    monotonic, hence the default ``activation="sigmoid"``. With ``tanh`` (as in seed
    designs and some ports) ``f`` can be negative, ``1/tau + f`` can change sign,
    the time constant can become negative or infinite and the state is no longer
    confined to the envelope: allowed, but without the guarantees.

    Weights: ``kernel`` is gamma (M x N), ``recurrent_kernel`` gamma_r (N x N),
    ``bias`` mu (N), ``tau`` (N, positive) and ``A`` (N). With a backbone, the
    network computing f's argument becomes an MLP on ``[I, x]`` (see
    :class:`~liquidtime.cells.network.InputStateNetwork`) followed by the affine
    head ``kernel``/``bias``.

    Args:
        units: Number of neurons N.
        activation: The nonlinearity of f (default ``"sigmoid"``).
        solver: ``"fused"`` (default), ``"euler"``, ``"rk4"``, ``"dopri5"`` or a Solver.
        ode_unfolds: Sub-steps L per input step (default 6, as in the paper).
        backbone_units, backbone_layers, backbone_dropout: Optional MLP backbone on
            ``[I, x]`` (default none). ``backbone_activation`` defaults to
            ``"lecun_tanh"``.
        positivity: How tau is kept positive: ``"softplus"`` (default) or ``"clip"``.
        kernel_initializer, recurrent_initializer, bias_initializer,
        tau_initializer, reversal_initializer: Initializers of gamma, gamma_r, mu,
            tau (positive values; default 1.0) and A (default uniform in [-1, 1]).
        *_regularizer, *_constraint: As in Keras's own cells, for the same weights.
        elapsed_time_as_feature: See :class:`~liquidtime.cells.base.BaseCell`.
        seed: Seed of the backbone dropout masks.
        implementation: ``"auto"``, ``"reference"`` or ``"torch"``: for the fused
            solver on PyTorch, ``"torch"`` runs whole sequences natively
            (:mod:`liquidtime.kernels.torch_dense_ltc`, a hand-written backward pass;
            elementwise activations only); ``"auto"`` picks it there. See
            :class:`~liquidtime.cells.base.BaseCell`.

    Call arguments (inside ``keras.layers.RNN``):
        inputs: ``(batch, M)``, or ``(batch, M + 1)`` with the elapsed time last.
        states: ``[x]`` with ``x`` of shape ``(batch, N)``.

    Returns:
        ``(x_new, [x_new])``.

    Example:
    >>> model = keras.Sequential([keras.Input((20, 3)), keras.layers.RNN(LTCCell(16)),
    ...                           keras.layers.Dense(1)])
    >>> model(np.zeros((2, 20, 3))).shape
    (2, 1)
    """

    weight_kinds = (*RNN_WEIGHT_KINDS, "tau", "reversal")

    named_kernels = {
        "torch": Kernel(backends=("torch",), solver=FusedSolver, condition=elementwise_activations),
    }

    def __init__(
        self,
        units: int,
        activation: Any = "sigmoid",
        solver: str | Solver | dict = "fused",
        ode_unfolds: int = 6,
        backbone_units: int | None = None,
        backbone_layers: int = 0,
        backbone_dropout: float = 0.0,
        backbone_activation: Any = "lecun_tanh",
        positivity: str = "softplus",
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        tau_initializer: Any = 1.0,
        reversal_initializer: Any = None,
        kernel_regularizer: Any = None,
        recurrent_regularizer: Any = None,
        bias_regularizer: Any = None,
        tau_regularizer: Any = None,
        reversal_regularizer: Any = None,
        kernel_constraint: Any = None,
        recurrent_constraint: Any = None,
        bias_constraint: Any = None,
        tau_constraint: Any = None,
        reversal_constraint: Any = None,
        elapsed_time_as_feature: bool = False,
        seed: int | None = None,
        **kwargs: Any,
    ):
        self.positivity = _validation.one_of("positivity", positivity, POSITIVITY_MODES)
        tau_initializer = positive_initializer("tau_initializer", tau_initializer)
        if reversal_initializer is None:
            reversal_initializer = keras.initializers.RandomUniform(-1.0, 1.0, seed=seed)
        self.init_network_cell(units, locals(), solver=solver, ode_unfolds=ode_unfolds)

    def build_weights(self, input_dim: int) -> None:
        super().build_weights(input_dim)
        self.tau = add_positive_weight(
            self, "tau", (self.units,), positivity=self.positivity, **weight_options(self, "tau")
        )
        self.A = add_weight_of_kind(self, "A", (self.units,), "reversal")

    def time_constant(self) -> Any:
        """The positive resting time constants tau, shape ``(units,)``."""
        return positive_value(self.tau, self.positivity)

    def sequence_constants(self, batch_size, training=None):
        return {
            "inverse_tau": 1.0 / self.time_constant(),
            "reversal": ops.convert_to_tensor(self.A),
            **super().sequence_constants(batch_size, training),
        }

    def synaptic_activation(self, state: Any, projected: Any, constants: dict[str, Any]) -> Any:
        """f(x, I) of Eq. 1, shape ``(batch, units)``."""
        return self.activation(self.network.step(projected, state, constants["dropout"]))

    def decay_and_drive(self, state, projected, constants):
        f = self.synaptic_activation(state, projected, constants)
        return constants["inverse_tau"] + f, f * constants["reversal"]

    def fused_scan(
        self, inputs, states, elapsed_time, constants, training=None, return_sequences=True
    ):
        """On PyTorch with the fused solver, the sequence by the native torch kernel.

        :func:`~liquidtime.kernels.torch_dense_ltc.dense_ltc_sequence`: the values of
        scanning :meth:`transition`, with ``I gamma + mu`` for the whole sequence in
        one matmul and a hand-written backward pass. Returns None (scan
        :meth:`transition`) unless the ``"torch"`` kernel runs (:meth:`uses_kernel`).
        """
        if not self.uses_kernel("torch"):
            return None
        from liquidtime.kernels.torch_dense_ltc import dense_ltc_sequence

        self.check_input_features(inputs)
        sequence = dense_ltc_sequence(
            self.activation, self.backbone_activation, inputs, states[0], elapsed_time,
            self.ode_unfolds, constants["inverse_tau"], constants["reversal"],
            *self.network_arrays(), constants["dropout"],
        )
        outputs = sequence if return_sequences else sequence[-1]
        return outputs, [sequence[-1], *states[1:]]

    def get_config(self) -> dict[str, Any]:
        config = {"positivity": self.positivity, **self.network_config()}
        return {**super().get_config(), **config}

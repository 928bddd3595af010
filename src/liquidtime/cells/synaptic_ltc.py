"""The synaptic LTC cell on a wiring: the form of the original LTC code and of ncps."""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
from keras import ops

from liquidtime import _validation
from liquidtime._backend_ops import checkpoint, sum_over_axis
from liquidtime.cells import validation
from liquidtime.cells.base import ContinuousTimeCell
from liquidtime.cells.parameters import POSITIVITY_MODES, add_positive_weight, positive_value
from liquidtime.kernels.fused_unfolds import (
    fused_unfolds,
    scale_synapses,
    synapse_activation,
    synaptic_sums,
)
from liquidtime.kernels.selection import ALL_BACKENDS, Kernel
from liquidtime.solvers import FusedSolver, Solver
from liquidtime.wirings.base import Wiring

MAPPINGS = ("affine", "linear", "none")

DEFAULT_INITIALIZATION_RANGES: dict[str, tuple[float, float]] = {
    "gleak": (0.001, 1.0),
    "vleak": (-0.2, 0.2),
    "cm": (0.4, 0.6),
    "w": (0.001, 1.0),
    "sigma": (3.0, 8.0),
    "mu": (0.3, 0.8),
    "sensory_w": (0.001, 1.0),
    "sensory_sigma": (3.0, 8.0),
    "sensory_mu": (0.3, 0.8),
}
"""Uniform initialisation ranges ``(low, high)`` of the synaptic LTC's parameters (as ncps)."""

POSITIVE_PARAMETERS = ("gleak", "cm", "w", "sensory_w")
"""Parameters kept positive (by ``positivity``); their ranges must have ``low > 0``."""

PARAMETERS = (
    "gleak", "vleak", "cm", "sigma", "mu", "w", "erev", "sensory_sigma", "sensory_mu",
    "sensory_w", "sensory_erev", "input_w", "input_b", "output_w", "output_b",
)
"""Every parameter of the cell (the names accepted by ``regularizers``)."""


def check_regularizers(regularizers: Any) -> dict[str, Any]:
    """Returns ``{parameter name: keras regularizer}`` from the ``regularizers`` argument.

    Raises:
        ValueError: For a value that is not a dict, or an unknown parameter name.
    """
    if regularizers is None:
        return {}
    if not isinstance(regularizers, dict):
        raise ValueError(
            "Received an invalid value for argument `regularizers`, expected a dict from "
            f"parameter name to regularizer, got {regularizers!r}."
        )
    unknown = sorted(set(regularizers) - set(PARAMETERS))
    if unknown:
        raise ValueError(
            f"Received unknown parameter(s) {unknown} in `regularizers`; expected names "
            f"among {list(PARAMETERS)}."
        )
    return {name: keras.regularizers.get(value) for name, value in regularizers.items()}


def check_initialization_ranges(ranges: Any) -> dict[str, tuple[float, float]]:
    """Merges user ranges into :data:`DEFAULT_INITIALIZATION_RANGES`, checking them.

    Args:
        ranges: None, or a dict from parameter name to ``(low, high)``.

    Returns:
        The full dict of ranges.

    Raises:
        ValueError: For an unknown name, a range that is not two finite numbers with
            ``low <= high``, or ``low <= 0`` for a positive parameter.
    """
    merged = dict(DEFAULT_INITIALIZATION_RANGES)
    if ranges is None:
        return merged
    if not isinstance(ranges, dict):
        raise ValueError(
            "Received an invalid value for argument `initialization_ranges`, expected a dict "
            f"from parameter name to (low, high), got {ranges!r}."
        )
    for name, value in ranges.items():
        if name not in merged:
            raise ValueError(
                f"Received an unknown parameter {name!r} in `initialization_ranges`; "
                f"expected names among {list(merged)}."
            )
        try:
            low, high = (float(bound) for bound in value)
        except (TypeError, ValueError):
            raise ValueError(
                f"Received an invalid initialization range for {name!r}, expected a pair "
                f"(low, high) of numbers, got {value!r}."
            ) from None
        if not (math.isfinite(low) and math.isfinite(high)) or low > high:
            raise ValueError(
                f"Received an invalid initialization range for {name!r}, expected finite "
                f"numbers with low <= high, got ({low}, {high})."
            )
        if name in POSITIVE_PARAMETERS and low <= 0:
            raise ValueError(
                f"Received an invalid initialization range for {name!r}, a positive "
                f"parameter: expected low > 0, got ({low}, {high})."
            )
        merged[name] = (low, high)
    return merged


def _uniform(bounds: tuple[float, float]) -> keras.initializers.Initializer:
    low, high = bounds
    if low == high:
        return keras.initializers.Constant(low)
    return keras.initializers.RandomUniform(low, high)


def _polarity_initializer(polarity: np.ndarray) -> Any:
    """Initializer returning the wiring's polarities as floats (never an integer tensor)."""

    def initializer(shape, dtype=None):
        return ops.cast(ops.convert_to_tensor(polarity.astype(np.float64)), dtype)

    return initializer


def _kernel_synapses(constants: dict[str, Any]) -> tuple[Any, Any, Any, Any]:
    """The folded recurrent synapses that both kernels take, in their order.

    Args:
        constants: From :meth:`SynapticLTCCell.sequence_constants`.

    Returns:
        ``(sigma, sigma_mu, w_over_cm, w_erev_over_cm)``.
    """
    return (
        constants["sigma"],
        constants["sigma_mu"],
        constants["w_over_cm"],
        constants["w_erev_over_cm"],
    )


@keras.saving.register_keras_serializable(package="liquidtime")
class SynapticLTCCell(ContinuousTimeCell):
    """LTC cell with conductance-based synapses on a wiring (original LTC code, ncps).

    Neuron i has membrane potential ``v_i``; the ``N`` neurons are connected by the
    synapses of ``wiring`` and the ``M`` mapped input features ``u_k`` by its
    sensory synapses. With ``s(x) = sigmoid(x)``:

        cm_i dv_i/dt = gleak_i (vleak_i - v_i)
                     + sum_j  w_ji  s(sigma_ji  (v_j - mu_ji))  (erev_ji  - v_i)
                     + sum_k sw_ki  s(ssigma_ki (u_k - smu_ki)) (serev_ki - v_i)
                     - epsilon v_i

    where only the wiring's synapses exist (``w`` and ``sw`` are masked by the
    absolute polarities), ``erev`` and ``serev`` (the reversal potentials) start at
    the wiring's polarities (+1 excitatory, -1 inhibitory) and are trained, and
    ``u = input_w * x + input_b`` (``"affine"``), ``input_w * x`` (``"linear"``) or
    ``x`` (``"none"``). In decay-drive form ``dv/dt = -a v + b``:

        a_i = (gleak_i + epsilon + sum_j w_ji s_ji + sum_k sw_ki ss_ki) / cm_i
        b_i = (gleak_i vleak_i + sum_j w_ji s_ji erev_ji + sum_k sw_ki ss_ki serev_ki) / cm_i

    so the default fused solver's sub-step of ``h = dt / ode_unfolds`` is exactly
    ncps's update:

        v <- (cm/h v + gleak vleak + num) / (cm/h + gleak + den + epsilon)

    ncps adds ``epsilon`` to that denominator "to avoid dividing by zero"; here it
    is a tiny extra leak conductance towards 0 in the ODE itself, which is the same
    for the fused step and consistent for the other solvers.

    The output is the motor neurons' potentials (the first ``wiring.output_dim``
    neurons) mapped by ``output_w * v + output_b`` (``output_mapping="affine"``),
    ``output_w * v`` (``"linear"``) or not at all (``"none"``).

    The sensory synapses depend only on the input. :meth:`project_inputs` computes
    their sums for inputs of any leading shape; the layer's loop, however, receives
    only the mapped inputs (:meth:`sequence_inputs`) and each step evaluates its
    ``M x N`` sensory synapses before the ``N x N`` recurrent ones, rematerialised in
    the backward pass (on JAX). Hoisting them over the whole sequence would
    materialise ``(batch, time, M, N)`` tensors, several per training step, whose
    memory traffic dominates long sequences (at batch 128, length 256, 16 inputs,
    64 neurons: forward 408 -> 297 ms, forward + gradient 1.60 -> 1.45 s).

    Args:
        wiring: A :class:`~liquidtime.wirings.Wiring` (or its Keras serialization).
            It is not modified: the cell uses ``wiring.build(input_dim)``.
        input_mapping: ``"affine"`` (default), ``"linear"`` or ``"none"``.
        output_mapping: ``"affine"`` (default), ``"linear"`` or ``"none"``.
        solver: ``"fused"`` (default), ``"euler"``, ``"rk4"``, ``"dopri5"`` or a Solver.
        ode_unfolds: Sub-steps per input step (default 6).
        epsilon: The extra leak conductance, >= 0 (default 1e-8, as ncps).
        positivity: How ``w``, ``sensory_w``, ``cm`` and ``gleak`` stay positive:
            ``"softplus"`` (default; the variables hold ``softplus^-1`` of the
            values) or ``"clip"`` (the variables hold the values, projected onto
            ``>= 1e-6`` after each optimizer step).
        initialization_ranges: Dict overriding entries of
            :data:`DEFAULT_INITIALIZATION_RANGES` (uniform ``(low, high)``; ``low ==
            high`` gives a constant).
        regularizers: Dict from parameter name (:data:`PARAMETERS`) to a Keras
            regularizer; those of positive parameters see the positive value. For
            example ``{"vleak": r, "erev": r, "sensory_erev": r}`` with
            ``r = liquidtime.bounds.RangeRegularizer(-1, 1)`` keeps Theorem 2's
            state envelope inside ``[-1, 1]`` (see ``docs/stability.md``).
        elapsed_time_as_feature: See :class:`~liquidtime.cells.base.BaseCell`.
        implementation: ``"auto"``, ``"reference"``, ``"fused_unfolds"`` or
            ``"torch"``, for the fused solver: ``"fused_unfolds"`` runs each step's
            unfolds as :func:`~liquidtime.kernels.fused_unfolds.fused_unfolds` (the
            same maths with a recomputing hand-written gradient, every backend),
            ``"torch"`` the whole sequence natively on PyTorch, ``"reference"`` the
            solver's plain steps (rematerialised in the backward pass); ``"auto"``
            the fastest of these here. See :class:`~liquidtime.cells.base.BaseCell`.

    Call arguments (inside ``keras.layers.RNN``):
        inputs: ``(batch, M)``, or ``(batch, M + 1)`` with the elapsed time last.
        states: ``[v]`` with ``v`` of shape ``(batch, N)``.

    Returns:
        ``(output, [v_new])`` with output ``(batch, wiring.output_dim)``.

    Example:
    >>> cell = SynapticLTCCell(AutoNCP(16, output_size=2, seed=0))
    >>> keras.layers.RNN(cell)(np.zeros((4, 20, 3))).shape   # (batch, motor neurons)
    (4, 2)
    """

    named_kernels = {
        "fused_unfolds": Kernel(backends=ALL_BACKENDS, solver=FusedSolver),
        "torch": Kernel(backends=("torch",), solver=FusedSolver),
    }

    def __init__(
        self,
        wiring: Wiring | dict,
        input_mapping: str = "affine",
        output_mapping: str = "affine",
        solver: str | Solver | dict = "fused",
        ode_unfolds: int = 6,
        epsilon: float = 1e-8,
        positivity: str = "softplus",
        initialization_ranges: dict[str, Any] | None = None,
        elapsed_time_as_feature: bool = False,
        regularizers: dict[str, Any] | None = None,
        **kwargs: Any,
    ):
        wiring = validation.wiring(wiring)
        self.input_mapping = _validation.one_of("input_mapping", input_mapping, MAPPINGS)
        self.output_mapping = _validation.one_of("output_mapping", output_mapping, MAPPINGS)
        self.positivity = _validation.one_of("positivity", positivity, POSITIVITY_MODES)
        _validation.non_negative_float("epsilon", epsilon)
        self.initialization_ranges = check_initialization_ranges(initialization_ranges)
        self.regularizers = check_regularizers(regularizers)
        super().__init__(
            wiring.units,
            solver=solver,
            ode_unfolds=ode_unfolds,
            elapsed_time_as_feature=elapsed_time_as_feature,
            **kwargs,
        )
        self.wiring = wiring
        self.epsilon = float(epsilon)
        self.built_wiring: Wiring | None = None

    @property
    def output_size(self) -> int:
        return self.wiring.output_dim

    def build_weights(self, input_dim: int) -> None:
        self.built_wiring = self.wiring.build(input_dim)
        adjacency = self.built_wiring.adjacency_matrix
        sensory = self.built_wiring.sensory_adjacency_matrix
        self._mask = np.abs(adjacency).astype(np.float64)
        self._sensory_mask = np.abs(sensory).astype(np.float64)
        n, m, k = self.units, input_dim, self.wiring.output_dim
        ranges = self.initialization_ranges

        def positive(name: str, shape: tuple[int, ...]) -> keras.Variable:
            return add_positive_weight(
                self,
                name,
                shape,
                positivity=self.positivity,
                initializer=_uniform(ranges[name]),
                regularizer=self.regularizers.get(name),
            )

        def plain(name: str, shape: tuple[int, ...], initializer: Any) -> keras.Variable:
            return self.add_weight(
                name=name,
                shape=shape,
                initializer=initializer,
                regularizer=self.regularizers.get(name),
            )

        self.gleak = positive("gleak", (n,))
        self.vleak = plain("vleak", (n,), _uniform(ranges["vleak"]))
        self.cm = positive("cm", (n,))
        self.sigma = plain("sigma", (n, n), _uniform(ranges["sigma"]))
        self.mu = plain("mu", (n, n), _uniform(ranges["mu"]))
        self.w = positive("w", (n, n))
        self.erev = plain("erev", (n, n), _polarity_initializer(adjacency))
        self.sensory_sigma = plain("sensory_sigma", (m, n), _uniform(ranges["sensory_sigma"]))
        self.sensory_mu = plain("sensory_mu", (m, n), _uniform(ranges["sensory_mu"]))
        self.sensory_w = positive("sensory_w", (m, n))
        self.sensory_erev = plain("sensory_erev", (m, n), _polarity_initializer(sensory))
        self.input_w = self.input_b = self.output_w = self.output_b = None
        if self.input_mapping in ("affine", "linear"):
            self.input_w = plain("input_w", (m,), "ones")
        if self.input_mapping == "affine":
            self.input_b = plain("input_b", (m,), "zeros")
        if self.output_mapping in ("affine", "linear"):
            self.output_w = plain("output_w", (k,), "ones")
        if self.output_mapping == "affine":
            self.output_b = plain("output_b", (k,), "zeros")

    def _masks(self) -> tuple[Any, Any]:
        dtype = self.compute_dtype
        return (
            ops.convert_to_tensor(self._mask, dtype=dtype),
            ops.convert_to_tensor(self._sensory_mask, dtype=dtype),
        )

    def map_inputs(self, inputs: Any) -> Any:
        """The input mapping ``u = input_w * x + input_b`` (or its linear / identity form)."""
        if self.input_w is not None:
            inputs = inputs * self.input_w
        if self.input_b is not None:
            inputs = inputs + self.input_b
        return inputs

    def project_inputs(self, inputs: Any) -> tuple[Any, Any]:
        """The input-only part of ``a`` and ``b``, for any leading shape.

        Returns:
            ``(a0, b0)``, each ``(..., N)``:
            ``a0 = (gleak + epsilon + sum_k sw_k ss_k) / cm`` and
            ``b0 = (gleak vleak + sum_k sw_k ss_k serev_k) / cm``.
        """
        self.check_input_features(inputs)
        return self.sensory_projection(self.map_inputs(inputs))

    def sequence_inputs(self, inputs: Any) -> Any:
        """The mapped inputs ``u``, ``(batch, time, M)``: the loop finishes the projection."""
        self.check_input_features(inputs)
        return self.map_inputs(inputs)

    def sensory_projection(self, inputs: Any) -> tuple[Any, Any]:
        """:meth:`project_inputs` of already mapped inputs ``u``, any leading shape."""
        sensory_mask = self._masks()[1]
        sensory_sigma = ops.convert_to_tensor(self.sensory_sigma)
        activation = synapse_activation(
            inputs, *scale_synapses(sensory_sigma, sensory_sigma * self.sensory_mu)
        )  # (..., M, N)
        weight = positive_value(self.sensory_w, self.positivity) * sensory_mask
        denominator = sum_over_axis(activation * weight, -2)
        numerator = sum_over_axis(activation * (weight * self.sensory_erev), -2)
        gleak = positive_value(self.gleak, self.positivity)
        inverse_cm = 1.0 / positive_value(self.cm, self.positivity)
        a0 = (gleak + self.epsilon + denominator) * inverse_cm
        b0 = (gleak * self.vleak + numerator) * inverse_cm
        return a0, b0

    def sequence_constants(self, batch_size, training=None):
        """Recurrent synapse parameters folded once per call.

        Returns:
            ``sigma`` and ``sigma * mu`` (so that ``sigma (v - mu) = sigma v - sigma mu``),
            ``w_over_cm = w * mask / cm_target`` and ``w_erev_over_cm = w_over_cm * erev``,
            each ``(N, N)``, and ``scaled_synapses``, the pair of
            :func:`~liquidtime.kernels.fused_unfolds.scale_synapses` that the step's
            :func:`~liquidtime.kernels.fused_unfolds.synapse_activation` takes.
        """
        mask = self._masks()[0]
        inverse_cm = 1.0 / positive_value(self.cm, self.positivity)
        w_over_cm = positive_value(self.w, self.positivity) * mask * inverse_cm
        sigma = ops.convert_to_tensor(self.sigma)
        return {
            "sigma": sigma,
            "sigma_mu": sigma * self.mu,
            "w_over_cm": w_over_cm,
            "w_erev_over_cm": w_over_cm * self.erev,
            "scaled_synapses": scale_synapses(sigma, sigma * self.mu),
        }

    def decay_and_drive(self, state, projected, constants):
        a0, b0 = projected
        # activation[b, j, i] = sigmoid(sigma_ji (v_j - mu_ji)): presynaptic j, postsynaptic i.
        activation = synapse_activation(state, *constants["scaled_synapses"])
        a, b = synaptic_sums(activation, constants["w_over_cm"], constants["w_erev_over_cm"])
        return a0 + a, b0 + b

    @property
    def rematerialize(self) -> bool:  # type: ignore[override]  # a class attribute in BaseCell
        """False when :func:`fused_unfolds` runs: it recomputes by itself."""
        return not self.uses_kernel("fused_unfolds")

    def transition(self, projected, states, elapsed_time, constants, training=None):
        """One input step from the mapped inputs ``u`` of the step, ``(batch, M)``.

        The sensory sums are rematerialised in the backward pass; the
        ``"fused_unfolds"`` kernel (:meth:`uses_kernel`) runs :func:`fused_unfolds`
        (recomputing gradient), otherwise the solver steps.
        """
        a0, b0 = checkpoint(self.sensory_projection)(projected)
        if not self.uses_kernel("fused_unfolds"):
            return super().transition((a0, b0), states, elapsed_time, constants, training)
        state = fused_unfolds(
            states[0], a0, b0, elapsed_time, *_kernel_synapses(constants), self.ode_unfolds
        )
        return self.readout(state), [state, *states[1:]]

    def transition_and_status(self, projected, states, elapsed_time, constants, training=None):
        """:meth:`transition` with the solver's status (solvers other than the fused one)."""
        a0, b0 = checkpoint(self.sensory_projection)(projected)
        return super().transition_and_status(
            (a0, b0), states, elapsed_time, constants, training
        )

    def fused_scan(
        self, inputs, states, elapsed_time, constants, training=None, return_sequences=True
    ):
        """On PyTorch with the fused solver, the sequence by the native torch kernel.

        :func:`~liquidtime.kernels.torch_synaptic_ltc.synaptic_ltc_sequence`: the
        values of scanning :meth:`transition`, with the sensory sums ``(a0, b0)``
        computed for the whole sequence first and a backward pass that recomputes
        each step's synapse activations. Returns None (scan :meth:`transition`)
        unless the ``"torch"`` kernel runs (:meth:`uses_kernel`: PyTorch backend,
        fused solver, ``implementation`` ``"auto"`` or ``"torch"``).
        """
        if not self.uses_kernel("torch"):
            return None
        from liquidtime.kernels.torch_synaptic_ltc import synaptic_ltc_sequence

        a0, b0 = self.project_inputs(inputs)
        sequence = synaptic_ltc_sequence(
            a0, b0, states[0], elapsed_time, *_kernel_synapses(constants), self.ode_unfolds
        )
        last_state = sequence[-1]
        if not return_sequences:
            return self.readout(last_state), [last_state, *states[1:]]
        time, batch = sequence.shape[0], sequence.shape[1]
        outputs = self.readout(ops.reshape(sequence, (time * batch, self.units)))
        return ops.reshape(outputs, (time, batch, -1)), [last_state, *states[1:]]

    def readout(self, state: Any) -> Any:
        """The motor neurons' potentials, mapped by ``output_mapping``."""
        output = state[:, : self.wiring.output_dim]
        if self.output_w is not None:
            output = output * self.output_w
        if self.output_b is not None:
            output = output + self.output_b
        return output

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.pop("units")
        config.update(
            {
                "wiring": keras.saving.serialize_keras_object(self.wiring),
                "input_mapping": self.input_mapping,
                "output_mapping": self.output_mapping,
                "epsilon": self.epsilon,
                "positivity": self.positivity,
                "initialization_ranges": {
                    name: list(bounds) for name, bounds in self.initialization_ranges.items()
                },
                "regularizers": {
                    name: keras.regularizers.serialize(regularizer)
                    for name, regularizer in self.regularizers.items()
                },
            }
        )
        return config

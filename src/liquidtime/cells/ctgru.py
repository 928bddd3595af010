"""The continuous-time GRU (Mozer, Kazakov & Lindsey, 2017), a baseline of the LTC paper."""

from __future__ import annotations

import functools
import math
from typing import Any

import keras
import numpy as np
from keras import ops

from liquidtime import _validation
from liquidtime._backend_ops import matmul, tanh
from liquidtime.cells.base import BaseCell
from liquidtime.cells.network_cell import (
    RNN_WEIGHT_KINDS,
    add_weight_of_kind,
    set_weight_options,
    weight_options_config,
)

_PLAIN_DISTANCE = 1e3
"""Largest ``|ln tau - ln tau_k|`` for which the CT-GRU's softmax keeps its plain form."""


def trace_timescales(num_traces: int, min_timescale: float, timescale_ratio: float) -> np.ndarray:
    """The fixed time scales ``tau_k = min_timescale * timescale_ratio ** k`` of the traces."""
    return min_timescale * timescale_ratio ** np.arange(num_traces, dtype=np.float64)


def original_decay_factors(timescales: np.ndarray) -> np.ndarray:
    """The per-step decay ``exp(-1 / ln tau_k)`` of the original LTC experiment code.

    For ``tau_k = 1`` the original divided by ``ln 1 = 0`` and got ``exp(-inf) = 0``;
    this returns that 0 without dividing by zero.
    """
    log_tau = np.log(timescales)
    safe = np.where(log_tau > 0, log_tau, 1.0)
    return np.where(log_tau > 0, np.exp(-1.0 / safe), 0.0)


@keras.saving.register_keras_serializable(package="liquidtime")
class CTGRUCell(BaseCell):
    """Continuous-time GRU: a GRU whose memory is a mixture of exponential traces.

    Each neuron n holds ``K = num_traces`` traces ``h_hat[n, k]`` with fixed time
    scales ``tau_k = min_timescale * timescale_ratio ** k`` (default ``10 ** (k/2)``,
    ``k = 0..7``). With input ``I``, elapsed time ``dt`` and ``h = sum_k h_hat_k``:

        ln_tau_R = I W_R + h U_R + c_R,    r_k = softmax_k(-(ln_tau_R - ln tau_k)^2)
        q        = tanh(I W_Q + (sum_k r_k h_hat_k) U_Q + c_Q)        (event signal)
        ln_tau_S = I W_S + h U_S + c_S,    s_k = softmax_k(-(ln_tau_S - ln tau_k)^2)
        h_hat_k' = [(1 - s_k) h_hat_k + s_k q] * exp(-dt / tau_k)
        output   = sum_k h_hat_k'

    The retrieval scale ``ln_tau_R`` chooses which traces are read to detect the
    event, the storage scale ``ln_tau_S`` where it is written; each trace then
    decays over the elapsed time of the step. As in Mozer et al., each neuron has
    one retrieval and one storage scale (S = N values per head); with
    ``per_trace_scales=True`` each neuron and trace has its own (S = N K values per
    head, so ``softmax_k(-(ln_tau_{n,k} - ln tau_k)^2)``), as the original LTC
    experiment code had it.

    Quirk of the original LTC code (``original_decay=True``): its decay was
    ``exp(-1 / ln tau_k)`` instead of ``exp(-dt / tau_k)``. It ignores the elapsed
    time, decays the slow traces much faster than their time scales say, and since
    ``ln tau_0 = ln 1 = 0`` its first factor is ``exp(-inf) = 0``: the fastest trace
    is zeroed at every step. The paper's CT-GRU numbers come from this version
    (with ``per_trace_scales=True``); use it only to reproduce them. It requires
    ``min_timescale >= 1`` (otherwise ``ln tau_k < 0`` and the factor exceeds 1).

    The state is the flattened ``(N, K)`` trace matrix (``state_size = N * K``,
    index ``n * K + k``); the output has N entries. The input-side matmuls of the
    three heads are one ``(M, 2 S + N)`` matmul hoisted out of the time loop.

    Weights: ``kernel`` ``[W_R, W_S, W_Q]`` (M x (2S + N)), ``recurrent_kernel``
    ``[U_R, U_S]`` (N x 2S), ``retrieval_kernel`` U_Q (N x N), ``bias``
    ``[c_R, c_S, c_Q]`` (2S + N).

    Args:
        units: Number of neurons N.
        num_traces: Number of traces K per neuron (default 8).
        min_timescale: The fastest time scale ``tau_0`` (default 1.0).
        timescale_ratio: Ratio of successive time scales (default ``sqrt(10)``).
        per_trace_scales: One retrieval and storage scale per neuron and trace
            (the original code) instead of one per neuron (default False).
        original_decay: Use the original code's ``exp(-1 / ln tau_k)`` (see above).
        kernel_initializer, recurrent_initializer, bias_initializer: Initializers of
            the input kernel, the state kernels (``recurrent_kernel`` and
            ``retrieval_kernel``) and the bias.
        kernel_regularizer, recurrent_regularizer, bias_regularizer,
        kernel_constraint, recurrent_constraint, bias_constraint: Likewise.
        elapsed_time_as_feature: See :class:`~liquidtime.cells.base.BaseCell`.

    Call arguments (inside ``keras.layers.RNN``):
        inputs: ``(batch, M)``, or ``(batch, M + 1)`` with the elapsed time last.
        states: ``[h_hat]`` of shape ``(batch, N * K)``.

    Returns:
        ``(h, [h_hat_new])`` with ``h`` of shape ``(batch, N)``.

    Example:
    >>> cell = CTGRUCell(16)            # state 16 * 8 = 128, output 16
    >>> y = keras.layers.RNN(cell)(np.zeros((2, 20, 3)))   # (2, 16)
    """

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
        **kwargs: Any,
    ):
        self.num_traces = _validation.positive_int("num_traces", num_traces)
        for name, value, lower in (
            ("min_timescale", min_timescale, 0.0),
            ("timescale_ratio", timescale_ratio, 1.0),
        ):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > lower:
                raise ValueError(
                    f"Received an invalid value for argument `{name}`, expected a number "
                    f"> {lower}, got {value!r}."
                )
        self.per_trace_scales = bool(per_trace_scales)
        self.original_decay = bool(original_decay)
        if self.original_decay and min_timescale < 1.0:
            raise ValueError(
                "Received an invalid value for argument `min_timescale`: "
                "`original_decay=True` needs min_timescale >= 1 (its factor exp(-1 / ln "
                f"tau_k) exceeds 1 for tau_k < 1), got {min_timescale!r}."
            )
        super().__init__(units, elapsed_time_as_feature=elapsed_time_as_feature, **kwargs)
        self.min_timescale = float(min_timescale)
        self.timescale_ratio = float(timescale_ratio)
        self.timescales = trace_timescales(self.num_traces, self.min_timescale, self.timescale_ratio)
        set_weight_options(self, RNN_WEIGHT_KINDS, locals())

    @property
    def state_size(self) -> int:
        return self.units * self.num_traces

    @property
    def output_size(self) -> int:
        return self.units

    @property
    def scales_per_head(self) -> int:
        """S: the number of log time scales each of the retrieval and storage heads computes."""
        return self.units * self.num_traces if self.per_trace_scales else self.units

    def build_weights(self, input_dim: int) -> None:
        add = functools.partial(add_weight_of_kind, self)  # (name, shape, kind)
        scales = 2 * self.scales_per_head
        self.kernel = add("kernel", (input_dim, scales + self.units), "kernel")
        self.recurrent_kernel = add("recurrent_kernel", (self.units, scales), "recurrent")
        self.retrieval_kernel = add("retrieval_kernel", (self.units, self.units), "recurrent")
        self.bias = add("bias", (scales + self.units,), "bias")

    def project_inputs(self, inputs: Any) -> Any:
        """``I [W_R, W_S, W_Q] + [c_R, c_S, c_Q]`` for any leading shape."""
        self.check_input_features(inputs)
        return matmul(inputs, self.kernel) + self.bias

    def sequence_constants(self, batch_size, training=None):
        dtype = self.compute_dtype
        constants = {"log_timescales": ops.convert_to_tensor(np.log(self.timescales), dtype)}
        if self.original_decay:
            constants["decay"] = ops.convert_to_tensor(original_decay_factors(self.timescales), dtype)
        else:
            constants["inverse_timescales"] = ops.convert_to_tensor(1.0 / self.timescales, dtype)
        return constants

    def _scale_weights(self, log_tau: Any, log_timescales: Any) -> Any:
        """softmax over traces of ``-(ln tau - ln tau_k)^2``; ``(batch, S)`` -> ``(batch, N, K)``.

        With ``d_k = |ln tau - ln tau_k|`` (per trace with ``per_trace_scales``), rows
        whose ``d_k`` all stay below :data:`_PLAIN_DISTANCE` use the plain form; the
        others the same softmax written as ``softmax(-(d_k - m)(d_k + m))``, ``m =
        min_k d_k``. The plain form's logits grow with the square of the inputs: at
        inputs of 1e5 they reach -1e10, whose ulp is 1e3, and XLA (on JAX), which
        evaluates the softmax's max and its ``exp(x - max)`` in separately fused
        copies of the logits (one with a fused multiply-add), got ``exp(+500) = inf``
        and NaN. In the second form every factor is one correctly rounded
        operation and the largest logit is exactly 0. The values are finite at
        any input; on JAX the gradients of rows beyond :data:`_PLAIN_DISTANCE` are
        still NaN (they go through the plain branch's NaN, which ``where`` does not
        stop).
        """
        per_neuron = self.scales_per_head // self.units
        distance = ops.reshape(log_tau, (-1, self.units, per_neuron)) - log_timescales
        plain = ops.max(ops.abs(distance), axis=-1, keepdims=True) <= _PLAIN_DISTANCE
        # The plain form, exactly as it always was (training numerics are compared
        # across versions; sanitising its input here changed XLA's rounding).
        plain_weights = ops.softmax(-ops.square(distance), axis=-1)
        # Treated as a constant for differentiation: beyond 1e3 the weights are one-hot
        # to float precision (zero gradient) except at near-ties.
        distance = ops.abs(ops.stop_gradient(distance))
        nearest = ops.min(distance, axis=-1, keepdims=True)
        stable_weights = ops.softmax(-(distance - nearest) * (distance + nearest), axis=-1)
        return ops.where(plain, plain_weights, stable_weights)

    def transition(self, projected, states, elapsed_time, constants, training=None):
        traces = ops.reshape(states[0], (-1, self.units, self.num_traces))
        h = ops.sum(traces, axis=-1)
        scales = 2 * self.scales_per_head
        input_scales, input_event = projected[..., :scales], projected[..., scales:]
        log_tau_r, log_tau_s = ops.split(
            input_scales + matmul(h, self.recurrent_kernel), 2, axis=-1
        )
        log_timescales = constants["log_timescales"]
        retrieval = self._scale_weights(log_tau_r, log_timescales)
        retrieved = ops.sum(retrieval * traces, axis=-1)
        event = tanh(input_event + matmul(retrieved, self.retrieval_kernel))
        storage = self._scale_weights(log_tau_s, log_timescales)
        stored = traces + storage * (ops.expand_dims(event, -1) - traces)
        if self.original_decay:
            decay = constants["decay"]
        else:
            dt = elapsed_time if isinstance(elapsed_time, float) else ops.expand_dims(elapsed_time, -1)
            decay = ops.exp(-dt * constants["inverse_timescales"])
        new_traces = stored * decay
        output = ops.sum(new_traces, axis=-1)
        return output, [ops.reshape(new_traces, (-1, self.state_size)), *states[1:]]

    def get_config(self) -> dict[str, Any]:
        config = {
            "num_traces": self.num_traces,
            "min_timescale": self.min_timescale,
            "timescale_ratio": self.timescale_ratio,
            "per_trace_scales": self.per_trace_scales,
            "original_decay": self.original_decay,
            **weight_options_config(self, RNN_WEIGHT_KINDS),
        }
        return {**super().get_config(), **config}

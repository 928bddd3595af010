"""The synaptic LTC's fused-solver unfolds for one input step, with a recomputing gradient.

Every ODE unfold of the synaptic LTC evaluates a ``(batch, N, N)`` tensor of synapse
activations. Reverse-mode autodiff of the unfolds would store those tensors for
every unfold of every input step (``T * L * B * N * N`` floats, gigabytes for long
sequences) and read them back. :func:`fused_unfolds` keeps only its inputs (the
state before the step, ``(batch, N)``) and recomputes the unfolds in the backward
pass, so the memory of training does not grow with the number of unfolds, and the
backward pass is a hand-written one whose reductions and elementwise work fuse.

With ``s_ji = sigmoid(sigma_ji v_j - (sigma mu)_ji)`` (presynaptic j, postsynaptic
i), ``W = w mask / cm`` and ``E = W erev``, one unfold of ``h = dt / L`` is the fused
step

    a_i = a0_i + sum_j s_ji W_ji,   b_i = b0_i + sum_j s_ji E_ji
    v_i <- (v_i + h b_i) / (1 + h a_i)

and its vector-Jacobian product, with ``g`` the cotangent of the new state
``v'`` and ``q = g / (1 + h a)``, ``c = h q`` (for ``b``) and ``d = -h q v'``
(for ``a``):

    dz_ji = s_ji (1 - s_ji) (d_i W_ji + c_i E_ji)
    g_v_j = q_j + sum_i dz_ji sigma_ji
    g_W += sum_batch s d,   g_E += sum_batch s c,   g_a0 += d,   g_b0 += c
    g_sigma += sum_batch dz v_j,   g_(sigma mu) -= sum_batch dz
    g_h += q (b - a v')
"""

from __future__ import annotations

from typing import Any, NamedTuple

from keras import ops

from liquidtime._backend_ops import (
    custom_gradient,
    sigmoid_argument_scale,
    sigmoid_of_scaled,
    sum_over_axis,
)
from liquidtime.solvers.fused import fused_step


class Synapses(NamedTuple):
    """The folded ``(N, N)`` synapse parameters of one step's unfolds."""

    sigma: Any
    """``sigma_ji``, the steepness of synapse ``j -> i``."""
    sigma_mu: Any
    """``sigma_ji mu_ji``."""
    w: Any
    """``W = w mask / cm``."""
    w_erev: Any
    """``E = W erev``."""


def scale_synapses(sigma: Any, sigma_mu: Any) -> tuple[Any, Any]:
    """``(c sigma, c sigma mu)`` with ``c`` = ``sigmoid_argument_scale()``, once per call.

    Args:
        sigma, sigma_mu: The synapses' ``sigma`` and ``sigma * mu``, shape ``(J, I)``.

    Returns:
        The parameters that :func:`synapse_activation` takes.
    """
    scale = sigmoid_argument_scale()
    return (sigma, sigma_mu) if scale == 1.0 else (scale * sigma, scale * sigma_mu)


def synapse_activation(presynaptic: Any, scaled_sigma: Any, scaled_sigma_mu: Any) -> Any:
    """The synapse activation ``s_ji = sigmoid(sigma_ji (v_j - mu_ji))``: its one definition.

    Computed as ``sigmoid(sigma_ji v_j - (sigma mu)_ji)`` from the parameters scaled by
    :func:`scale_synapses`: on JAX ``0.5 + 0.5 tanh(v c sigma - c sigma mu)`` with
    ``c = 1/2``, the form XLA:CPU evaluates fastest, without a multiply per element for
    the ``1 / 2``; elsewhere the backend's sigmoid. The synaptic LTC's recurrent and
    sensory synapses and this module's unfolds all call it.

    Args:
        presynaptic: The presynaptic values ``v_j``, shape ``(..., J)``.
        scaled_sigma, scaled_sigma_mu: From :func:`scale_synapses`, ``(J, I)``.

    Returns:
        ``s[..., j, i]``, shape ``(..., J, I)``.
    """
    return sigmoid_of_scaled(ops.expand_dims(presynaptic, -1) * scaled_sigma - scaled_sigma_mu)


def synaptic_sums(activation: Any, w: Any, w_erev: Any) -> tuple[Any, Any]:
    """``(sum_j s_ji W_ji, sum_j s_ji E_ji)``, each ``(batch, N)``."""
    return sum_over_axis(activation * w, 1), sum_over_axis(activation * w_erev, 1)


def _decay_and_drive(state, a0, b0, scaled_sigma, scaled_sigma_mu, w, w_erev):
    """``(a, b)`` of ``dv/dt = -a v + b`` at ``state``, each ``(batch, N)``."""
    activation = synapse_activation(state, scaled_sigma, scaled_sigma_mu)
    recurrent_a, recurrent_b = synaptic_sums(activation, w, w_erev)
    return a0 + recurrent_a, b0 + recurrent_b


def fused_unfolds(
    state: Any,
    a0: Any,
    b0: Any,
    elapsed_time: Any,
    sigma: Any,
    sigma_mu: Any,
    w: Any,
    w_erev: Any,
    unfolds: int,
) -> Any:
    """``unfolds`` fused-solver sub-steps of the synaptic LTC over one input step.

    Args:
        state: ``v`` before the step, ``(batch, N)``.
        a0, b0: The input-only parts of ``a`` and ``b`` for this step, ``(batch, N)``.
        elapsed_time: A Python float or a ``(batch, 1)`` tensor; each sub-step is
            ``elapsed_time / unfolds``.
        sigma, sigma_mu, w, w_erev: The folded ``(N, N)`` synapse parameters
            ``sigma``, ``sigma * mu``, ``W = w mask / cm`` and ``E = W erev``.
        unfolds: The number of sub-steps ``L``.

    Returns:
        ``v`` after the step, ``(batch, N)``. Its gradient recomputes the unfolds
        (see the module docstring) instead of storing them.
    """
    tensor_time = not isinstance(elapsed_time, (int, float))

    def forward(state, a0, b0, synapses: Synapses, h):
        scaled = scale_synapses(synapses.sigma, synapses.sigma_mu)
        for _ in range(unfolds):
            a, b = _decay_and_drive(state, a0, b0, *scaled, synapses.w, synapses.w_erev)
            state = fused_step(state, a, b, h)
        return state

    @custom_gradient
    def unfold_step(state, a0, b0, sigma, sigma_mu, w, w_erev, *tensor_time_argument):
        synapses = Synapses(sigma, sigma_mu, w, w_erev)
        step_time = tensor_time_argument[0] if tensor_time else elapsed_time
        h = step_time / unfolds

        def gradient(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            grads = _backward(upstream, state, a0, b0, synapses, h, unfolds, tensor_time)
            return grads if tensor_time else grads[:-1]

        return forward(state, a0, b0, synapses, h), gradient

    time_argument = (elapsed_time,) if tensor_time else ()
    return unfold_step(state, a0, b0, sigma, sigma_mu, w, w_erev, *time_argument)


def _backward(
    upstream: Any,
    state: Any,
    a0: Any,
    b0: Any,
    synapses: Synapses,
    h: Any,
    unfolds: int,
    tensor_time: bool,
) -> tuple[Any, ...]:
    """The vector-Jacobian product of :func:`fused_unfolds` (recomputes the unfolds).

    Returns:
        The gradients with respect to ``(state, a0, b0, sigma, sigma_mu, w, w_erev,
        elapsed_time)``; the last is None unless ``tensor_time``.
    """
    sigma, sigma_mu, w, w_erev = synapses
    scaled = scale_synapses(sigma, sigma_mu)
    states, inverses, decays, drives = [state], [], [], []
    for _ in range(unfolds):
        a, b = _decay_and_drive(states[-1], a0, b0, *scaled, w, w_erev)
        states.append(fused_step(states[-1], a, b, h))
        inverses.append(1.0 / (1.0 + h * a))
        decays.append(a)
        drives.append(b)
    grad = upstream
    grad_a0 = grad_b0 = grad_h = None
    grad_sigma = grad_sigma_mu = grad_w = grad_w_erev = None
    for k in reversed(range(unfolds)):
        activation = synapse_activation(states[k], *scaled)
        q = grad * inverses[k]
        c = h * q
        d = -c * states[k + 1]
        dz = (d[:, None, :] * w + c[:, None, :] * w_erev) * (
            activation - activation * activation
        )
        grad_a0 = _add(grad_a0, d)
        grad_b0 = _add(grad_b0, c)
        grad_w = _add(grad_w, sum_over_axis(activation * d[:, None, :], 0))
        grad_w_erev = _add(grad_w_erev, sum_over_axis(activation * c[:, None, :], 0))
        grad_sigma = _add(grad_sigma, sum_over_axis(dz * states[k][:, :, None], 0))
        grad_sigma_mu = _add(grad_sigma_mu, -sum_over_axis(dz, 0))
        if tensor_time:
            grad_h = _add(grad_h, q * (drives[k] - decays[k] * states[k + 1]))
        grad = q + sum_over_axis(dz * sigma, 2)
    grad_time = ops.sum(grad_h, axis=-1, keepdims=True) / unfolds if tensor_time else None
    return (grad, grad_a0, grad_b0, grad_sigma, grad_sigma_mu, grad_w, grad_w_erev, grad_time)


def _add(total: Any, term: Any) -> Any:
    return term if total is None else total + term


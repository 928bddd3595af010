"""The synaptic LTC's fused-solver recurrence over a whole sequence, native PyTorch.

The same equations as :func:`liquidtime.kernels.fused_unfolds.fused_unfolds` scanned
over the steps. With ``s_ji = sigmoid(sigma_ji v_j - (sigma mu)_ji)`` (presynaptic
``j``, postsynaptic ``i``), ``W = w mask / cm``, ``E = W erev`` and ``h = dt / L``,
each of the ``L`` unfolds of an input step is

    a_i = sum_j s_ji W_ji,   b_i = sum_j s_ji E_ji
    v_i <- (v_i + h b0_i + h b_i) / (1 + h a0_i + h a_i)

where ``a0``, ``b0`` (the input-only parts of the decay and the drive) come for the
whole sequence at once. When a gradient is needed, the forward pass keeps the state
before every unfold and the unfold's denominator ``1 + h a`` (``2 L N`` floats per
sequence element, never a ``(batch, N, N)`` tensor). The backward pass recomputes the synapse activations of
one step's ``L`` unfolds from those states in one operation (they live for one
step: ``L x N x N x batch`` floats) and runs the vector-Jacobian product of the
module docstring of :mod:`liquidtime.kernels.fused_unfolds`; the weight gradients
of a step are accumulated by batched matmuls (``baddbmm``). Inference keeps only
the state after every step.

Layout: states are kept neuron-major, ``(N, batch)``, and the activations of one
unfold as ``s[i, j, b]``, so that both synaptic sums are one batched matmul
``[W^T; E^T] s`` (batch over ``i``) and every elementwise operation runs over
contiguous memory.
"""

from __future__ import annotations

from typing import Any

import torch

from liquidtime.kernels.torch_network import flush_negligible_


def synaptic_ltc_sequence(
    a0: torch.Tensor,
    b0: torch.Tensor,
    initial_state: torch.Tensor,
    elapsed_time: float | torch.Tensor,
    sigma: torch.Tensor,
    sigma_mu: torch.Tensor,
    w: torch.Tensor,
    w_erev: torch.Tensor,
    unfolds: int,
) -> torch.Tensor:
    """The fused-solver states of the synaptic LTC after every input step.

    Args:
        a0, b0: The input-only parts of the decay and the drive, time-major
            ``(time, batch, N)``.
        initial_state: ``v`` before the first step, ``(batch, N)``.
        elapsed_time: A Python float, or time-major ``(time, batch, 1)``; each
            unfold is ``elapsed_time / unfolds``.
        sigma, sigma_mu, w, w_erev: The folded ``(N, N)`` synapse parameters
            ``sigma``, ``sigma * mu``, ``W = w mask / cm`` and ``E = W erev``
            (``[j, i]``: presynaptic ``j``, postsynaptic ``i``).
        unfolds: The number of unfolds ``L`` per input step.

    Returns:
        The states after every step, ``(time, batch, N)``. Differentiable with
        respect to every tensor argument.
    """
    if isinstance(elapsed_time, torch.Tensor):
        return _SynapticSequence.apply(
            a0, b0, initial_state, sigma, sigma_mu, w, w_erev, unfolds, None, elapsed_time
        )
    return _SynapticSequence.apply(
        a0, b0, initial_state, sigma, sigma_mu, w, w_erev, unfolds, float(elapsed_time), None
    )


class _Parameters:
    """The synapse parameters in the kernel's layout, shared by both passes.

    ``sigma_t[i, j, b] = sigma[j, i]`` and ``minus_sigma_mu_t[i, j, b] = -(sigma
    mu)[j, i]``, expanded over the batch (an elementwise operation with full-size
    operands runs several times faster than one that broadcasts the last axis),
    ``decay_drive[i]`` the ``(2, N)`` rows ``(W[:, i], E[:, i])``, and for the
    backward pass ``cotangent_map[i]`` the ``(N, 2)`` columns ``(-W[:, i], E[:, i])``
    and ``sigma_rows[j, 0, i] = sigma[j, i]``.
    """

    def __init__(
        self,
        sigma: torch.Tensor,
        sigma_mu: torch.Tensor,
        w: torch.Tensor,
        w_erev: torch.Tensor,
        batch: int,
        backward: bool,
    ):
        n = sigma.shape[0]
        self.sigma_t = sigma.t().unsqueeze(-1).expand(n, n, batch).contiguous()
        self.minus_sigma_mu_t = sigma_mu.t().neg().unsqueeze(-1).expand(n, n, batch).contiguous()
        self.decay_drive = torch.stack([w.t(), w_erev.t()], dim=1)
        if backward:
            self.cotangent_map = torch.stack([-w.t(), w_erev.t()], dim=2)
            self.sigma_rows = sigma.unsqueeze(1)


def _unfold(
    v: torch.Tensor,
    p: _Parameters,
    h: torch.Tensor,
    h_a0_plus_1: torch.Tensor,
    h_b0: torch.Tensor,
    activation: torch.Tensor,
    sums: torch.Tensor,
    new_v: torch.Tensor,
    denominator: torch.Tensor,
) -> None:
    """One fused unfold from ``v`` ``(N, B)``: writes the new state into ``new_v`` and
    ``1 + h a`` into ``denominator`` (each ``(N, B)``), using the buffers ``activation``
    ``(N, N, B)`` and ``sums`` ``(N, 2, B)``."""
    torch.addcmul(p.minus_sigma_mu_t, p.sigma_t, v.unsqueeze(0), out=activation).sigmoid_()
    torch.bmm(p.decay_drive, activation, out=sums)
    torch.addcmul(h_a0_plus_1, sums[:, 0], h, out=denominator)
    numerator = torch.addcmul(h_b0, sums[:, 1], h).add_(v)
    torch.div(numerator, denominator, out=new_v)


def _step_sizes(
    unfolds: int, constant_dt: float | None, dt: torch.Tensor | None, like: torch.Tensor
) -> torch.Tensor:
    """``h = dt / L`` per step as ``(time, 1, batch)``, or a scalar tensor (constant ``dt``)."""
    if dt is not None:
        return dt.permute(0, 2, 1) / unfolds
    if constant_dt is None:
        raise ValueError("Received neither a constant elapsed time nor an `elapsed_time` tensor.")
    return like.new_tensor(constant_dt / unfolds)


def _step(h: torch.Tensor, t: int) -> torch.Tensor:
    """``h`` of step ``t``, broadcasting over ``(N, batch)``."""
    return h if h.dim() == 0 else h[t]


class _SynapticSequence(torch.autograd.Function):
    """``synaptic_ltc_sequence`` with the recomputing backward pass.

    For the backward pass the forward pass keeps the state before every unfold and
    the unfold's denominator ``1 + h a`` (``2 L N`` floats per sequence element;
    no ``(N, N)`` tensor): the backward pass then recomputes the synapse
    activations of all the unfolds of a step in one operation.
    """

    @staticmethod
    def forward(
        ctx: Any,
        a0: torch.Tensor,
        b0: torch.Tensor,
        v0: torch.Tensor,
        sigma: torch.Tensor,
        sigma_mu: torch.Tensor,
        w: torch.Tensor,
        w_erev: torch.Tensor,
        unfolds: int,
        constant_dt: float | None,
        dt: torch.Tensor | None,
    ) -> torch.Tensor:
        length, batch, n = a0.shape
        h = _step_sizes(unfolds, constant_dt, dt, a0)
        h_a0_plus_1 = (a0.permute(0, 2, 1) * h).add_(1.0).unbind(0)  # (N, B) per step
        h_b0 = (b0.permute(0, 2, 1) * h).unbind(0)
        p = _Parameters(sigma, sigma_mu, w, w_erev, batch, backward=False)
        activation = a0.new_empty((n, n, batch))
        sums = a0.new_empty((n, 2, batch))
        training = any(ctx.needs_input_grad)
        if training:
            # The state before every unfold (index t L + k), the last state last, and
            # every unfold's denominator.
            trajectory = a0.new_empty((length * unfolds + 1, n, batch))
            denominators = a0.new_empty((length * unfolds, n, batch))
            new_states, new_denominators = trajectory.unbind(0)[1:], denominators.unbind(0)
            outputs = trajectory[unfolds::unfolds]
        else:
            outputs = a0.new_empty((length, n, batch))
            step_ends, scratch = outputs.unbind(0), a0.new_empty((2, n, batch)).unbind(0)
            denominator = a0.new_empty((n, batch))
        v = v0.t()
        if training:
            trajectory[0] = v
            v = trajectory[0]
        for t in range(length):
            h_t = _step(h, t)
            for k in range(unfolds):
                i = t * unfolds + k
                if training:
                    new_v, denominator = new_states[i], new_denominators[i]
                else:
                    new_v = step_ends[t] if k == unfolds - 1 else scratch[i % 2]
                _unfold(v, p, h_t, h_a0_plus_1[t], h_b0[t], activation, sums, new_v, denominator)
                v = new_v
        ctx.unfolds, ctx.constant_dt = unfolds, constant_dt
        if training:
            ctx.save_for_backward(sigma, sigma_mu, w, w_erev, trajectory, denominators, dt, a0, b0)
        return outputs.permute(0, 2, 1)

    @staticmethod
    def backward(ctx: Any, grad_states: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        sigma, sigma_mu, w, w_erev, trajectory, denominators, dt, a0, b0 = ctx.saved_tensors
        unfolds = ctx.unfolds
        length, batch, n = a0.shape
        h = _step_sizes(unfolds, ctx.constant_dt, dt, a0)
        p = _Parameters(sigma, sigma_mu, w, w_erev, batch, backward=True)
        grad_states = grad_states.permute(0, 2, 1)  # (T, N, B)
        # (q v', q) per unfold, q = g / denominator: the cotangents of (-h a, h b) over h.
        scaled = a0.new_empty((unfolds, n, 2, batch))
        scaled_h = a0.new_empty((unfolds, n, 2, batch))
        cotangents = a0.new_empty((unfolds, n, n, batch))  # of the activations' arguments
        # augmented[k, j, b] = (v_k[j, b], -1): sum_b dz v and -sum_b dz as one bmm.
        augmented = a0.new_full((unfolds, n, batch, 2), -1.0)

        grad_decay_drive = a0.new_zeros((n, 2, n))
        grad_sigma_pair = a0.new_zeros((n, n, 2))
        grad_a0b0 = a0.new_empty((length, n, 2, batch))
        grad_h = a0.new_empty((length, batch)) if dt is not None else None

        after_views, denominator_views = trajectory.unbind(0)[1:], denominators.unbind(0)
        scaled_views, scaled_h_views = scaled.unbind(0), scaled_h.unbind(0)
        q_views, qv_views = scaled[:, :, 1].unbind(0), scaled[:, :, 0].unbind(0)
        cotangent_views = cotangents.unbind(0)
        g = torch.zeros_like(grad_states[0])
        for t in reversed(range(length)):
            h_t = _step(h, t)
            g = g + grad_states[t]
            flush_negligible_(g)
            first = t * unfolds
            before = trajectory[first : first + unfolds]  # (L, N, B)
            after, step_denominators = after_views[first:], denominator_views[first:]
            activations = torch.addcmul(
                p.minus_sigma_mu_t, p.sigma_t, before.unsqueeze(1)
            ).sigmoid_()  # (L, N, N, B)
            slopes = torch.addcmul(activations, activations, activations, value=-1.0)
            for k in reversed(range(unfolds)):
                q = torch.div(g, step_denominators[k], out=q_views[k])
                torch.mul(q, after[k], out=qv_views[k])
                torch.mul(scaled_views[k], h_t, out=scaled_h_views[k])
                dz = torch.bmm(p.cotangent_map, scaled_h_views[k], out=cotangent_views[k])
                dz.mul_(slopes[k])
                g = torch.bmm(p.sigma_rows, dz.transpose(0, 1)).squeeze(1).add_(q)
            augmented[..., 0] = before
            for k in range(unfolds):
                grad_decay_drive.baddbmm_(scaled_h[k], activations[k].transpose(1, 2))
                grad_sigma_pair.baddbmm_(cotangents[k].transpose(0, 1), augmented[k])
            grad_a0b0[t] = scaled_h.sum(0)
            if grad_h is not None:
                a, b = _decay_and_drive(p, activations, a0[t].t(), b0[t].t())
                grad_h[t] = (scaled[:, :, 1] * b - scaled[:, :, 0] * a).sum((0, 1))

        flush_negligible_(grad_a0b0)
        grad_a0 = -grad_a0b0[:, :, 0].permute(0, 2, 1)
        grad_b0 = grad_a0b0[:, :, 1].permute(0, 2, 1)
        grad_w = -grad_decay_drive[:, 0].t()
        grad_w_erev = grad_decay_drive[:, 1].t()
        grad_dt = None if grad_h is None else (grad_h / unfolds).unsqueeze(-1)
        return (
            grad_a0, grad_b0, g.t(), grad_sigma_pair[..., 0], grad_sigma_pair[..., 1],
            grad_w, grad_w_erev, None, None, grad_dt,
        )


def _decay_and_drive(
    p: _Parameters, activations: torch.Tensor, a0: torch.Tensor, b0: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(a0 + a, b0 + b)`` of every unfold of a step, each ``(L, N, B)``."""
    sums = torch.matmul(p.decay_drive, activations)  # (L, N, 2, B)
    return sums[:, :, 0] + a0, sums[:, :, 1] + b0

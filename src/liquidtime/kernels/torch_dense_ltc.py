"""The dense LTC's fused-solver recurrence over a whole sequence, native PyTorch.

:class:`~liquidtime.cells.LTCCell` with the fused solver: for input step ``t`` with
projected inputs ``P_t = I_t V + c`` and ``h = dt_t / L``, each of the ``L`` unfolds
computes, from the state ``x``,

    f = act(heads(P_t, x))                          (the network of torch_network)
    x <- (x + h f A) / (1 + h (1/tau + f))           (Eq. 3 of the LTC paper)

Forward: ``P`` for the whole sequence in one matmul; when a gradient is needed, the
state before every unfold, the network's pre-activations and the heads are kept
(``(backbone layers + 2) L`` rows of ``(batch, width)`` per input step; the dense
LTC has no ``(N, N)`` tensor per unfold, so keeping them costs less than
recomputing them). Inference keeps only the state after every step.

Backward: with ``x'`` an unfold's result and ``D = 1 + h (1/tau + f)``,

    d x'/d x = 1/D (direct),   d x'/d heads = act'(heads) h (A - x') / D,
    d x'/d (1/tau) = -h x'/D,   d x'/d A = h f / D,   d x'/d h = (f A - x' (1/tau + f)) / D.

The factors are computed for every unfold at once; the reverse loop carries only the
state's cotangent (one matmul per network layer and unfold) and keeps the network's
cotangents, from which every weight gradient is one matmul over all the rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import torch

from liquidtime.kernels import torch_network
from liquidtime.kernels.torch_network import rows


class Structure(NamedTuple):
    """The static shape of the recurrence.

    Attributes:
        activation: ``act``, the nonlinearity of ``f`` (elementwise).
        backbone_activation: ``phi`` (elementwise; unused without a backbone).
        num_layers: Backbone layers (0: the first map gives the heads).
        dropout: Whether dropout masks are given.
        unfolds: ``L``.
        constant_dt: The elapsed time of every step, or None when it is per step.
    """

    activation: Callable[[Any], Any]
    backbone_activation: Callable[[Any], Any]
    num_layers: int
    dropout: bool
    unfolds: int
    constant_dt: float | None


def dense_ltc_sequence(
    activation: Callable[[Any], Any],
    backbone_activation: Callable[[Any], Any],
    inputs: torch.Tensor,
    initial_state: torch.Tensor,
    elapsed_time: float | torch.Tensor,
    unfolds: int,
    inverse_tau: torch.Tensor,
    reversal: torch.Tensor,
    input_kernel: torch.Tensor,
    first_bias: torch.Tensor,
    state_kernel: torch.Tensor,
    layers: Sequence[tuple[torch.Tensor, torch.Tensor]],
    dropout_masks: Sequence[torch.Tensor] | None,
) -> torch.Tensor:
    """The dense LTC's fused-solver states after every step of a sequence.

    Args:
        activation: ``act``, elementwise.
        backbone_activation: ``phi``, elementwise.
        inputs: ``I``, time-major ``(time, batch, features)``.
        initial_state: ``x_0``, ``(batch, n)``.
        elapsed_time: A Python float, or time-major ``(time, batch, 1)``.
        unfolds: ``L``, the unfolds per input step.
        inverse_tau, reversal: ``1/tau`` and ``A``, each ``(n,)``.
        input_kernel, first_bias, state_kernel: ``V`` ``(features, width)``, ``c``
            ``(width,)``, ``R`` ``(n, width)``.
        layers: ``(W_k, b_k)`` for ``k = 2..L+1``, the last giving the ``n`` heads.
        dropout_masks: One mask ``(batch, width)`` per backbone layer, already
            scaled, or None.

    Returns:
        The states after every step, ``(time, batch, n)``; differentiable with
        respect to every tensor argument but the masks.
    """
    backbone_activation, input_kernel, first_bias, state_kernel, layers = (
        torch_network.fold_lecun_scales(
            backbone_activation, input_kernel, first_bias, state_kernel, layers
        )
    )
    constant_dt = float(elapsed_time) if not isinstance(elapsed_time, torch.Tensor) else None
    structure = Structure(
        torch_network.native(activation), backbone_activation, len(layers),
        dropout_masks is not None, unfolds, constant_dt,
    )
    return _DenseLTCSequence.apply(
        structure,
        inputs,
        initial_state,
        None if constant_dt is not None else elapsed_time,
        inverse_tau,
        reversal,
        input_kernel,
        first_bias,
        state_kernel,
        *(tensor for layer in layers for tensor in layer),
        *(dropout_masks or ()),
    )


def _step_sizes(structure: Structure, dt: torch.Tensor | None) -> Any:
    """``h = dt / L``: a float, or ``(time, batch, 1)``."""
    if dt is None:
        assert structure.constant_dt is not None  # set by dense_ltc_sequence
        return structure.constant_dt / structure.unfolds
    return dt / structure.unfolds


def _per_unfold(h: Any, unfolds: int) -> Any:
    """``h`` of every unfold, ``(time * L, batch, 1)``, from ``(time, batch, 1)`` (a float stays)."""
    if not isinstance(h, torch.Tensor):
        return h
    return h.repeat_interleave(unfolds, dim=0)


class _DenseLTCSequence(torch.autograd.Function):
    """:func:`dense_ltc_sequence` with the hand-written backward pass."""

    @staticmethod
    def forward(
        ctx: Any,
        structure: Structure,
        inputs: torch.Tensor,
        x0: torch.Tensor,
        dt: torch.Tensor | None,
        inverse_tau: torch.Tensor,
        reversal: torch.Tensor,
        input_kernel: torch.Tensor,
        first_bias: torch.Tensor,
        state_kernel: torch.Tensor,
        *rest: torch.Tensor,
    ) -> torch.Tensor:
        num_layers, unfolds = structure.num_layers, structure.unfolds
        layers = [(rest[2 * k], rest[2 * k + 1]) for k in range(num_layers)]
        masks = rest[2 * num_layers :] if structure.dropout else None
        length, batch, _ = inputs.shape
        n = x0.shape[1]
        projected = torch.addmm(first_bias, rows(inputs), input_kernel).view(length, batch, -1)
        h = _step_sizes(structure, dt)
        # 1 + h / tau and h A for every step (h a float or (batch, 1) per step).
        per_step = isinstance(h, torch.Tensor)
        if per_step:
            bases = list((h * inverse_tau).add_(1.0).unbind(0))
            drives, h_steps = list((h * reversal).unbind(0)), list(h.unbind(0))
        else:
            bases, drives = [1.0 + h * inverse_tau] * length, [h * reversal] * length
        training = any(ctx.needs_input_grad)
        steps = length * unfolds
        no_targets: list[torch.Tensor | None] = [None] * (num_layers + 1)
        if training:
            trajectory = x0.new_empty((steps + 1, batch, n))
            trajectory[0] = x0
            pre_activations = [projected.new_empty((steps, batch, projected.shape[-1]))
                               for _ in range(num_layers)]
            heads_all = x0.new_empty((steps, batch, n))
            targets = list(zip(*(a.unbind(0) for a in pre_activations), heads_all.unbind(0)))
            new_states = trajectory.unbind(0)[1:]
            outputs = trajectory[unfolds::unfolds]
            x = trajectory[0]
        else:
            outputs = x0.new_empty((length, batch, n))
            step_ends = outputs.unbind(0)
            x = x0
        for t in range(length):
            for k in range(unfolds):
                i = t * unfolds + k
                heads = torch_network.heads(
                    projected[t], x, state_kernel, layers, structure.backbone_activation, masks,
                    targets[i] if training else no_targets,
                )
                f = structure.activation(heads)
                if per_step:
                    denominator = torch.addcmul(bases[t], f, h_steps[t])
                else:
                    denominator = torch.add(bases[t], f, alpha=h)
                numerator = torch.addcmul(x, f, drives[t])
                if training:
                    x = torch.div(numerator, denominator, out=new_states[i])
                elif k == unfolds - 1:
                    x = torch.div(numerator, denominator, out=step_ends[t])
                else:
                    x = numerator.div_(denominator)
        ctx.structure = structure
        if training:
            ctx.save_for_backward(
                inputs, dt, inverse_tau, reversal, input_kernel, state_kernel, trajectory,
                heads_all, *pre_activations, *(kernel for kernel, _ in layers), *(masks or ()),
            )
        return outputs

    @staticmethod
    def backward(ctx: Any, grad_states: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        structure: Structure = ctx.structure
        num_layers, unfolds = structure.num_layers, structure.unfolds
        (inputs, dt, inverse_tau, reversal, input_kernel, state_kernel, trajectory, heads,
         *rest) = ctx.saved_tensors
        pre_activations = rest[:num_layers]
        kernels = rest[num_layers : 2 * num_layers]
        masks = rest[2 * num_layers :] if structure.dropout else None
        length, batch, _ = inputs.shape
        steps = length * unfolds
        h = _per_unfold(_step_sizes(structure, dt), unfolds)
        before, after = trajectory[:-1], trajectory[1:]

        # The unfolds' Jacobian factors, all at once.
        f, f_slope = torch_network.value_and_slope(structure.activation, heads)
        decay = f + inverse_tau
        direct = 1.0 / (decay * h + 1.0)  # d x'/d x = 1/D
        through_heads = f_slope * h * (reversal - after) * direct  # d x'/d heads
        activated, slopes = torch_network.backbone_activations(
            pre_activations, structure.backbone_activation, masks
        )

        state_cotangents = torch.empty_like(after)  # d x' of every unfold
        head_cotangents = torch.empty_like(heads)
        layer_cotangents = [torch.empty_like(a) for a in pre_activations]
        first_cotangents = layer_cotangents[0] if num_layers else head_cotangents
        kernels_t = [kernel.t() for kernel in kernels]
        state_kernel_t = state_kernel.t()
        d_x = torch.zeros_like(trajectory[0])
        step_views = [
            tensor.unbind(0) for tensor in (state_cotangents, head_cotangents, through_heads, direct)
        ]
        slope_views = [slope.unbind(0) for slope in slopes]
        layer_views = [cotangents.unbind(0) for cotangents in layer_cotangents]
        for i in reversed(range(steps)):
            state_cotangent, head_cotangent, through_heads_i, direct_i = (v[i] for v in step_views)
            if (i + 1) % unfolds == 0:
                d_x = torch_network.flush_negligible_(d_x + grad_states[i // unfolds])
            state_cotangent.copy_(d_x)
            torch.mul(d_x, through_heads_i, out=head_cotangent)
            _, d_network = torch_network.state_cotangent(
                head_cotangent, kernels_t, [s[i] for s in slope_views], state_kernel_t,
                [c[i] for c in layer_views],
            )
            d_x = torch.addcmul(d_network, d_x, direct_i)

        scaled = state_cotangents * direct  # d x' / D
        h_scaled = scaled * h
        grad_inverse_tau = -(h_scaled * after).sum((0, 1))
        grad_reversal = (h_scaled * f).sum((0, 1))
        grad_dt = None
        if dt is not None:
            per_unfold = (scaled * (f * reversal - after * decay)).sum(-1, keepdim=True)
            grad_dt = per_unfold.view(length, unfolds, batch, 1).sum(1) / unfolds

        first_rows = rows(first_cotangents)
        per_step = first_cotangents.view(length, unfolds, batch, -1).sum(1)
        grad_inputs = rows(per_step).mm(input_kernel.t()).view(inputs.shape)
        grad_input_kernel = rows(inputs).t().mm(rows(per_step))
        grad_state_kernel = rows(before).t().mm(first_rows)
        grad_first_bias = first_rows.sum(0)
        grad_layers = torch_network.layer_gradients(activated, layer_cotangents, head_cotangents)
        grad_masks = [None] * (num_layers if structure.dropout else 0)
        return (
            None, grad_inputs, d_x, grad_dt, grad_inverse_tau, grad_reversal, grad_input_kernel,
            grad_first_bias, grad_state_kernel, *grad_layers, *grad_masks,
        )

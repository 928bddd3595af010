"""The CfC recurrence over a whole sequence, native PyTorch, with a hand-written backward.

The recurrence of :mod:`liquidtime.kernels.jax_cfc` (the JAX form), for one step
``t`` with input ``I_t``, state ``x``, backbone activation ``phi`` and dropout masks
``m_k``:

    a_1 = I_t V + x R + c,   z_k = phi(a_k) m_k,   a_{k+1} = z_k W_{k+1} + b_{k+1}
    heads = a_{L+1}   (a_1 without a backbone),   x' = update(heads, dt_t)

with the CfC updates (``s = sigmoid``, heads split in groups of ``n`` columns):

    default:  x' = tanh(h) + s(u) (tanh(g) - tanh(h))
    no_gate:  x' = tanh(h) + s(u) tanh(g)
    pure:     x' = A - A f exp(-dt (|w_tau| + |f|))

where ``u = tb - dt ta`` from heads ``[g | h | ta | tb]``, or, for a constant
``dt`` (heads folded by :func:`~liquidtime.cells.cfc.fold_time_gate`), ``u`` is
the third group of ``[g | h | u]``.

The forward pass computes ``I V + c`` for the whole sequence in one matmul and
keeps the pre-activations and heads of every step. The backward pass first turns
them, for the whole sequence at once, into the update's Jacobian factors ``J``
(``d heads = J * d x'``, group by group) and the activation's derivative; its
reverse loop then carries only the state's cotangent (one matmul per layer and
step) and stores the pre-activation cotangents, from which every weight gradient
is one matmul over the ``time x batch`` rows.
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
        mode: ``"default"``, ``"no_gate"`` or ``"pure"``.
        activation: The backbone activation ``phi`` (elementwise).
        num_layers: Backbone layers ``L`` (0: the first map gives the heads).
        dropout: Whether dropout masks are given.
        constant_dt: The elapsed time of every step, or None when it is per step.
    """

    mode: str
    activation: Callable[[Any], Any]
    num_layers: int
    dropout: bool
    constant_dt: float | None


def cfc_sequence(
    mode: str,
    activation: Callable[[Any], Any],
    inputs: torch.Tensor,
    initial_state: torch.Tensor,
    elapsed_time: float | torch.Tensor,
    update_params: tuple[torch.Tensor, ...],
    input_kernel: torch.Tensor,
    first_bias: torch.Tensor,
    state_kernel: torch.Tensor,
    layers: Sequence[tuple[torch.Tensor, torch.Tensor]],
    dropout_masks: Sequence[torch.Tensor] | None,
) -> torch.Tensor:
    """The CfC states after every step of a sequence.

    Args:
        mode: ``"default"``, ``"no_gate"`` or ``"pure"``.
        activation: The backbone activation ``phi``, elementwise.
        inputs: ``I``, time-major ``(time, batch, features)``.
        initial_state: ``x_0``, ``(batch, n)``.
        elapsed_time: A Python float (the gated modes then take folded heads
            ``[g | h | u]``), or time-major ``(time, batch, 1)``.
        update_params: ``(A, w_tau)``, each ``(n,)``, in ``pure`` mode; else ``()``.
        input_kernel, first_bias, state_kernel: ``V`` ``(features, width)``, ``c``
            ``(width,)``, ``R`` ``(n, width)``.
        layers: ``(W_k, b_k)`` for ``k = 2..L+1``, the last giving the heads.
        dropout_masks: ``L`` masks ``(batch, width)``, already scaled, or None.

    Returns:
        The states after every step, ``(time, batch, n)``; differentiable with
        respect to every tensor argument but the masks.
    """
    activation, input_kernel, first_bias, state_kernel, layers = torch_network.fold_lecun_scales(
        activation, input_kernel, first_bias, state_kernel, layers
    )
    constant_dt = float(elapsed_time) if not isinstance(elapsed_time, torch.Tensor) else None
    structure = Structure(mode, activation, len(layers), dropout_masks is not None, constant_dt)
    flat_layers = [tensor for layer in layers for tensor in layer]
    return _CfCSequence.apply(
        structure,
        inputs,
        initial_state,
        None if constant_dt is not None else elapsed_time,
        input_kernel,
        first_bias,
        state_kernel,
        *flat_layers,
        *(dropout_masks or ()),
        *update_params,
    )


def _update(
    mode: str, heads: torch.Tensor, dt: Any, params: Sequence[torch.Tensor], out: torch.Tensor
) -> torch.Tensor:
    """The new state from the heads of one step (``dt`` a float or ``(batch, 1)``),
    written into ``out``."""
    n = heads.shape[-1] // (1 if mode == "pure" else 3 if not isinstance(dt, torch.Tensor) else 4)
    if mode == "pure":
        amplitude, w_tau = params
        decay = heads.abs().add_(w_tau.abs()).mul_(-dt).exp_()
        return torch.addcmul(amplitude, amplitude * decay, heads, value=-1.0, out=out)
    tanh_heads = torch.tanh(heads[:, : 2 * n])
    g, h = tanh_heads[:, :n], tanh_heads[:, n:]
    if isinstance(dt, torch.Tensor):
        gate = torch.addcmul(heads[:, 3 * n :], heads[:, 2 * n : 3 * n], dt, value=-1.0)
    else:
        gate = heads[:, 2 * n :]
    gate = torch.sigmoid(gate)
    if mode == "default":
        return torch.lerp(h, g, gate, out=out)
    return torch.addcmul(h, gate, g, out=out)


def _update_factors(
    mode: str, heads: torch.Tensor, dt: Any, params: Sequence[torch.Tensor]
) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    """The update's Jacobian factors for every step at once.

    Args:
        heads: ``(time, batch, groups * n)``.
        dt: A float or ``(time, batch, 1)``.

    Returns:
        ``(factors, extra)``: ``factors`` of the heads' shape, with ``d heads = factors
        * d x'`` group by group; ``extra`` the tensors the parameter and time
        gradients need (see :func:`_parameter_gradients`).
    """
    if mode == "pure":
        amplitude, w_tau = params
        magnitude = heads.abs()
        decay = torch.exp(-dt * (magnitude + w_tau.abs()))
        factors = -amplitude * decay * (1.0 - dt * magnitude)
        return factors, (decay, magnitude)
    per_step = isinstance(dt, torch.Tensor)
    n = heads.shape[-1] // (4 if per_step else 3)
    tanh_heads = torch.tanh(heads[..., : 2 * n])
    g, h = tanh_heads[..., :n], tanh_heads[..., n:]
    if per_step:
        gate_argument = heads[..., 3 * n :] - heads[..., 2 * n : 3 * n] * dt
    else:
        gate_argument = heads[..., 2 * n :]
    gate = torch.sigmoid(gate_argument)
    gate_slope = gate - gate * gate
    one_minus_h2 = 1.0 - h * h
    g_factor = gate * (1.0 - g * g)
    if mode == "default":
        groups = [g_factor, (1.0 - gate) * one_minus_h2, (g - h) * gate_slope]
    else:
        groups = [g_factor, one_minus_h2, g * gate_slope]
    if per_step:
        groups = [groups[0], groups[1], -dt * groups[2], groups[2]]
    return torch.cat(groups, dim=-1), ()


def _parameter_gradients(
    mode: str,
    heads: torch.Tensor,
    dt: Any,
    params: Sequence[torch.Tensor],
    extra: tuple[torch.Tensor, ...],
    state_cotangents: torch.Tensor | None,
    head_cotangents: torch.Tensor,
) -> tuple[tuple[torch.Tensor, ...], torch.Tensor | None]:
    """The gradients of ``update_params`` and of a per-step ``dt`` (None where absent)."""
    grad_params: tuple = ()
    grad_dt = None
    if mode == "pure":
        assert state_cotangents is not None  # kept by the backward pass in pure mode
        amplitude, w_tau = params
        decay, magnitude = extra
        decayed = heads * decay
        grad_amplitude = (state_cotangents * (1.0 - decayed)).sum((0, 1))
        weighted = state_cotangents * amplitude * decayed
        grad_w_tau = (weighted * dt).sum((0, 1)) * torch.sign(w_tau)
        grad_params = (grad_amplitude, grad_w_tau)
        if isinstance(dt, torch.Tensor):
            grad_dt = (weighted * (magnitude + w_tau.abs())).sum(-1, keepdim=True)
    elif isinstance(dt, torch.Tensor):
        n = heads.shape[-1] // 4
        grad_dt = -(head_cotangents[..., 3 * n :] * heads[..., 2 * n : 3 * n]).sum(-1, keepdim=True)
    return grad_params, grad_dt


class _CfCSequence(torch.autograd.Function):
    """:func:`cfc_sequence` with the hand-written backward pass."""

    @staticmethod
    def forward(
        ctx: Any,
        structure: Structure,
        inputs: torch.Tensor,
        x0: torch.Tensor,
        dt: torch.Tensor | None,
        input_kernel: torch.Tensor,
        first_bias: torch.Tensor,
        state_kernel: torch.Tensor,
        *rest: torch.Tensor,
    ) -> torch.Tensor:
        num_layers = structure.num_layers
        layers = [(rest[2 * k], rest[2 * k + 1]) for k in range(num_layers)]
        masks = rest[2 * num_layers : 3 * num_layers] if structure.dropout else None
        params = rest[(3 if structure.dropout else 2) * num_layers :]
        length, batch, _ = inputs.shape
        projected = torch.addmm(first_bias, rows(inputs), input_kernel).view(length, batch, -1)
        training = any(ctx.needs_input_grad)
        states = x0.new_empty((length, *x0.shape))
        # Every step's output written in place: a_k (training), the heads (training),
        # the state.
        pre_activations = [torch.empty_like(projected) for _ in range(num_layers if training else 0)]
        heads_all = None
        targets = [[None] * (num_layers + 1) for _ in range(length)]
        if training:
            width = layers[-1][0].shape[1] if layers else projected.shape[-1]
            heads_all = x0.new_empty((length, batch, width))
            for t, views in enumerate(zip(*(b.unbind(0) for b in pre_activations), heads_all.unbind(0))):
                targets[t] = list(views)
        projected_steps, state_steps = projected.unbind(0), states.unbind(0)
        dt_steps = [structure.constant_dt] * length if dt is None else dt.unbind(0)
        x = x0
        for t in range(length):
            a = torch_network.heads(
                projected_steps[t], x, state_kernel, layers, structure.activation, masks, targets[t]
            )
            x = _update(structure.mode, a, dt_steps[t], params, out=state_steps[t])
        ctx.structure = structure
        if training:
            ctx.save_for_backward(
                inputs, x0, dt, input_kernel, state_kernel, states, heads_all,
                *pre_activations, *(kernel for kernel, _ in layers), *(masks or ()), *params,
            )
        return states

    @staticmethod
    def backward(ctx: Any, grad_states: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        structure: Structure = ctx.structure
        num_layers = structure.num_layers
        inputs, x0, dt, input_kernel, state_kernel, states, heads, *rest = ctx.saved_tensors
        pre_activations = rest[:num_layers]
        kernels = rest[num_layers : 2 * num_layers]
        masks = rest[2 * num_layers : 3 * num_layers] if structure.dropout else None
        params = rest[(3 if structure.dropout else 2) * num_layers :]
        length, batch, n = states.shape
        time_argument = structure.constant_dt if dt is None else dt
        factors, extra = _update_factors(structure.mode, heads, time_argument, params)
        groups = heads.shape[-1] // n
        factors = factors.view(length, batch, groups, n)

        activated, slopes = torch_network.backbone_activations(
            pre_activations, structure.activation, masks
        )

        head_cotangents = torch.empty_like(heads)
        layer_cotangents = [torch.empty_like(a) for a in pre_activations]
        state_cotangents = torch.empty_like(states) if structure.mode == "pure" else None
        kernels_t = [kernel.t() for kernel in kernels]
        state_kernel_t = state_kernel.t()
        d_x = torch.zeros_like(x0)
        for t in reversed(range(length)):
            d_x = d_x + grad_states[t]
            if state_cotangents is not None:
                state_cotangents[t] = d_x
            torch.mul(factors[t], d_x.unsqueeze(1), out=head_cotangents[t].view(batch, groups, n))
            _, d_x = torch_network.state_cotangent(
                head_cotangents[t], kernels_t, [slope[t] for slope in slopes], state_kernel_t,
                [cotangents[t] for cotangents in layer_cotangents],
            )

        first = layer_cotangents[0] if num_layers else head_cotangents
        first_rows = rows(first)
        grad_inputs = first_rows.mm(input_kernel.t()).view(inputs.shape)
        grad_input_kernel = rows(inputs).t().mm(first_rows)
        previous_states = torch.cat([x0.unsqueeze(0), states[:-1]], dim=0)
        grad_state_kernel = rows(previous_states).t().mm(first_rows)
        grad_first_bias = first_rows.sum(0)
        grad_layers = torch_network.layer_gradients(activated, layer_cotangents, head_cotangents)
        grad_params, grad_dt = _parameter_gradients(
            structure.mode, heads, time_argument, params, extra, state_cotangents, head_cotangents
        )
        grad_masks = [None] * (num_layers if structure.dropout else 0)
        return (
            None, grad_inputs, d_x, grad_dt, grad_input_kernel, grad_first_bias, grad_state_kernel,
            *grad_layers, *grad_masks, *grad_params,
        )

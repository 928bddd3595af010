"""The input-state network of :mod:`liquidtime.cells.network` in the PyTorch kernels.

The CfC's and the dense LTC's kernels (:mod:`liquidtime.kernels.torch_cfc`,
:mod:`liquidtime.kernels.torch_dense_ltc`) evaluate the same network at every step
(or unfold) ``i`` from the projected inputs ``P = I V + c`` and the state ``x``:

    a_1 = P + x R,   z_k = phi(a_k) m_k,   a_{k+1} = z_k W_{k+1} + b_{k+1},   heads = a_{L+1}

(``heads = a_1`` without a backbone; ``m_k`` the dropout masks). Their backward
passes carry a heads cotangent back through it: ``d a_k = (d a_{k+1} W_{k+1}^T)
phi'(a_k) m_k`` and ``d x = d a_1 R^T``; every weight gradient is then one matmul
over all the rows. This module holds those pieces once, with the flush of
negligible cotangents that every PyTorch kernel's backward pass applies
(:func:`flush_negligible_`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras
import torch

from liquidtime.activations import get_activation, lecun_tanh

_LECUN_OUTER, _LECUN_INNER = 1.7159, 0.666
"""The constants of :func:`~liquidtime.activations.lecun_tanh`, ``1.7159 tanh(0.666 x)``."""

Layers = Sequence[tuple[torch.Tensor, torch.Tensor]]


def negligible(dtype: torch.dtype) -> float:
    """Cotangents below this are set to zero: ``tiny / eps`` of the dtype (float32: 1e-31).

    The cotangent of the state shrinks step by step towards the start of a long
    sequence; once it is that small, its products are subnormal numbers, on which a
    CPU's arithmetic is some ten to forty times slower (a matmul of 64 x 32 by 32 x 32
    here: 10 us, 360 us with subnormal entries; the synaptic LTC's training step at
    batch 64, length 64, 32 neurons went from 0.13 s to 0.6 s of CPU time). Dropped
    contributions are below float rounding of any gradient larger than ``tiny``.
    """
    info = torch.finfo(dtype)
    return info.tiny / info.eps


def flush_negligible_(tensor: torch.Tensor) -> torch.Tensor:
    """Sets the entries of ``tensor`` below :func:`negligible` in magnitude to zero, in place."""
    return tensor.masked_fill_(tensor.abs() < negligible(tensor.dtype), 0.0)


_NATIVE = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}
"""PyTorch's own functions for Keras's (and liquidtime's) activations of these names."""


def native(activation: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``torch.sigmoid`` for ``keras.activations.sigmoid`` and so on: the same values,
    without Keras's dispatch at every call. Other activations are returned unchanged."""
    name = getattr(activation, "__name__", None)
    if name in _NATIVE and activation in (keras.activations.get(name), get_activation(name)):
        return _NATIVE[name]
    return activation


def fold_lecun_scales(
    activation: Callable[[Any], Any],
    input_kernel: torch.Tensor,
    first_bias: torch.Tensor,
    state_kernel: torch.Tensor,
    layers: Layers,
) -> tuple[Callable[[Any], Any], torch.Tensor, torch.Tensor, torch.Tensor, list]:
    """The backbone with ``lecun_tanh`` as ``tanh`` on rescaled weights.

    ``phi(a) = c tanh(k a)``: every map into a backbone layer is multiplied by ``k``
    and every map out of one by ``c``, so that each step runs one ``tanh`` per
    layer instead of two extra multiplications (the same values up to rounding).
    Other activations (and any without a backbone) come as :func:`native` gives them.

    Returns:
        ``(activation, input_kernel, first_bias, state_kernel, layers)``.
    """
    if activation is not lecun_tanh or not layers:
        return native(activation), input_kernel, first_bias, state_kernel, list(layers)
    inner, outer = _LECUN_INNER, _LECUN_OUTER
    scaled = [(outer * inner * kernel, inner * bias) for kernel, bias in layers[:-1]]
    scaled.append((outer * layers[-1][0], layers[-1][1]))
    return torch.tanh, inner * input_kernel, inner * first_bias, inner * state_kernel, scaled


def rows(tensor: torch.Tensor) -> torch.Tensor:
    """``(..., k)`` as ``(rows, k)``."""
    return tensor.reshape(-1, tensor.shape[-1])


def heads(
    projected: torch.Tensor,
    state: torch.Tensor,
    state_kernel: torch.Tensor,
    layers: Layers,
    activation: Callable[[Any], Any],
    masks: Sequence[torch.Tensor] | None,
    targets: Sequence[torch.Tensor | None],
) -> torch.Tensor:
    """The network's heads for one step.

    Args:
        projected: ``P`` of the step, ``(batch, width)``.
        state: ``x``, ``(batch, n)``.
        state_kernel, layers, activation, masks: ``R``, the ``(W_k, b_k)``, ``phi``
            and the masks (or None).
        targets: Where to write ``a_1 .. a_{L+1}`` (None: new tensors).

    Returns:
        The heads, ``a_{L+1}``.
    """
    a = torch.addmm(projected, state, state_kernel, out=targets[0])
    for k, (kernel, bias) in enumerate(layers):
        z = activation(a)
        if masks is not None:
            z = z * masks[k]
        a = torch.addmm(bias, z, kernel, out=targets[k + 1])
    return a


def value_and_slope(
    activation: Callable[[Any], Any], argument: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(f(a), f'(a))`` of an elementwise ``f``, from one vector-Jacobian product."""
    with torch.enable_grad():
        argument = argument.detach().requires_grad_()
        value = activation(argument)
        (slope,) = torch.autograd.grad(value, argument, torch.ones_like(value))
    return value.detach(), slope


def backbone_activations(
    pre_activations: Sequence[torch.Tensor],
    activation: Callable[[Any], Any],
    masks: Sequence[torch.Tensor] | None,
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """``phi(a_k) m_k`` and ``phi'(a_k) m_k`` of every backbone layer, for all rows at once."""
    activated, slopes = [], []
    for k, a in enumerate(pre_activations):
        z, slope = value_and_slope(activation, a)
        if masks is not None:
            z, slope = z * masks[k], slope * masks[k]
        activated.append(z)
        slopes.append(slope)
    return activated, slopes


def state_cotangent(
    head_cotangent: torch.Tensor,
    kernels_t: Sequence[torch.Tensor],
    slopes: Sequence[torch.Tensor],
    state_kernel_t: torch.Tensor,
    targets: Sequence[torch.Tensor],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Carries one step's heads cotangent back through the network.

    Args:
        head_cotangent: ``d heads``, ``(batch, heads)``.
        kernels_t: The transposed ``W_{k+1}^T``.
        slopes: ``phi'(a_k) m_k`` of the step.
        state_kernel_t: ``R^T``.
        targets: Where to write ``d a_1 .. d a_L``.

    Returns:
        ``(d a_1, d x)`` (``d a_1`` is ``head_cotangent`` without a backbone).
    """
    d_a = head_cotangent
    for k in reversed(range(len(kernels_t))):
        d_a = torch.mul(d_a.mm(kernels_t[k]), slopes[k], out=targets[k])
    return d_a, d_a.mm(state_kernel_t)


def layer_gradients(
    activated: Sequence[torch.Tensor],
    layer_cotangents: Sequence[torch.Tensor],
    head_cotangents: torch.Tensor,
) -> list[torch.Tensor]:
    """``[dW_2, db_2, ..., dW_{L+1}, db_{L+1}]``, each one matmul (or sum) over all rows."""
    gradients = []
    for k, z in enumerate(activated):
        following = layer_cotangents[k + 1] if k + 1 < len(activated) else head_cotangents
        gradients += [rows(z).t().mm(rows(following)), rows(following).sum(0)]
    return gradients

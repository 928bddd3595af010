"""A whole-sequence JAX scan for cells driven by an :class:`InputStateNetwork`.

The recurrence, for one step ``t`` with input ``I_t``, state ``x``, backbone
activation ``phi`` and per-sequence dropout masks ``m_k``:

    a_1 = I_t V + x R + c,   z_k = phi(a_k) * m_k,   a_{k+1} = z_k W_{k+1} + b_{k+1}   (k = 1..L)
    heads = a_{L+1}   (a_1 without a backbone, L = 0),   x' = update(heads, dt_t)

Reverse-mode differentiation of ``lax.scan`` computes every weight gradient inside
the reverse loop: per step, small products ``z_k^T da_{k+1}`` are added into the
loop's carry, though none of them is needed by the next step of the backward pass.
Here the reverse loop carries only the state's cotangent (one matmul per layer: the
sequential chain) and stores the pre-activation cotangents ``da_k`` of a chunk of
steps (about 8, unrolled); each weight gradient is then one matmul over the chunk's
``steps x batch`` rows, which XLA:CPU runs at several times the rate of the
per-step products (``V`` and ``R`` share one, and each bias rides along as a
column of ones). The forward pass computes ``I V`` for a chunk in one matmul
before stepping through it, and stores the pre-activations ``a_k`` and the heads;
the backward pass re-evaluates ``phi`` and ``update`` from them (elementwise work
only). Chunks keep the temporaries small and cache-resident: on a 2-core CPU, with
batch 128 and 256 steps, the pages a training step touches for the first time (each
a page fault) fell from ~31,000 to ~17,000 per step.

When only the last state is wanted (a layer without ``return_sequences``), the
function returns that state alone and its backward pass starts from its cotangent,
with no cotangent buffer for the whole sequence.

Used by :meth:`CfCCell.fused_scan` on JAX. The values are those of the
step-by-step ``transition`` (the same operations); the gradients agree with
``jax.grad`` of the plain scan to float rounding (tested). The dropout masks are
constants: their cotangent is zero.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

Update = Callable[[Any, Any, tuple], Any]


def network_scan(
    update: Update,
    activation: Callable[[Any], Any],
    inputs: Any,
    initial_state: Any,
    elapsed_time: Any,
    update_params: tuple,
    input_kernel: Any,
    first_bias: Any,
    state_kernel: Any,
    layers: Sequence[tuple[Any, Any]],
    dropout_masks: Sequence[Any] | None,
    return_sequences: bool = True,
) -> Any:
    """Runs the recurrence above over a whole sequence.

    Args:
        update: ``update(heads, dt, update_params) -> new_state``, elementwise in
            the batch (a pure function of its arguments).
        activation: The backbone activation ``phi``.
        inputs: ``I``, time-major ``(time, batch, features)``.
        initial_state: ``x_0``, ``(batch, n)``.
        elapsed_time: A Python float, or time-major ``(time, batch, 1)``.
        update_params: Parameters of ``update`` (a tuple of arrays, may be empty).
        input_kernel, first_bias, state_kernel: ``V`` ``(features, width)``,
            ``c`` ``(width,)``, ``R`` ``(n, width)`` of the first map.
        layers: ``(W_k, b_k)`` for ``k = 2..L+1``, the last one giving the heads;
            empty without a backbone.
        dropout_masks: ``L`` masks ``(batch, width)`` (already scaled), or None.
        return_sequences: Return the states of every step; otherwise only the
            last one, whose gradient needs no cotangent buffer for the whole
            sequence and no per-step addition of one (~4 % of a training step).

    Returns:
        The states after every step, ``(time, batch, n)``, or the last state
        ``(batch, n)``.

    Raises:
        ValueError: For a sequence without time steps (there is no last state).
    """
    if inputs.shape[0] == 0:
        raise ValueError(
            "Received an invalid value for argument `inputs`: expected at least one time "
            f"step, got time-major shape {tuple(inputs.shape)}."
        )
    layers = tuple((kernel, bias) for kernel, bias in layers)
    masks = tuple(dropout_masks) if dropout_masks is not None else ()
    constant_time = float(elapsed_time) if isinstance(elapsed_time, (int, float)) else None
    per_step_time = None if constant_time is not None else elapsed_time
    scan_fn = _make_scan(update, activation, len(layers), constant_time, return_sequences)
    first_map = (input_kernel, first_bias, state_kernel)
    return scan_fn(
        inputs, initial_state, per_step_time, tuple(update_params), first_map, layers, masks
    )


def _transposed_dot(x: Any, kernel: Any) -> Any:
    """``x @ kernel.T`` without materialising the transpose."""
    return lax.dot_general(x, kernel, (((x.ndim - 1,), (1,)), ((), ())))


def _affine_gradients(inputs: Any, cotangent: Any) -> tuple[Any, Any]:
    """The kernel and bias gradients of ``inputs @ kernel + bias`` over a chunk of steps.

    Args:
        inputs: ``(steps, batch, fan_in)``.
        cotangent: The cotangent of the map's output, ``(steps, batch, fan_out)``.

    Returns:
        ``(sum_{t, b} inputs^T cotangent, sum_{t, b} cotangent)``, shapes
        ``(fan_in, fan_out)`` and ``(fan_out,)``: one matmul, with a column of ones
        appended to ``inputs`` for the bias. (A separate ``sum`` of the chunk's
        cotangents, which XLA splits into one small reduction per step of the
        unrolled chunk, made ~5 % of a training step.)
    """
    ones = jnp.ones(inputs.shape[:-1] + (1,), inputs.dtype)
    rows = lambda a: a.reshape(-1, a.shape[-1])  # noqa: E731
    augmented = rows(jnp.concatenate([inputs, ones], axis=-1))
    both = lax.dot_general(augmented, rows(cotangent), (((0,), (0,)), ((), ())))
    return both[:-1], both[-1]


def _make_scan(update, activation, num_layers, constant_time, return_sequences):
    """The custom-VJP sequence function for one structure of the recurrence.

    ``constant_time`` is the elapsed time of every step (a float), or None when
    it is given per step; with ``return_sequences`` False the function returns
    the last state only.
    """

    def forward(inputs, x0, per_step_time, update_params, first_map, layers, masks, residuals):
        """The states of every step, and with ``residuals`` the pre-activations and heads."""
        input_kernel, first_bias, state_kernel = first_map

        def body(x, step_inputs):
            p_t, dt_t = step_inputs
            a = p_t + x @ state_kernel + first_bias
            pre_activations = []
            for k, (kernel, bias) in enumerate(layers):
                pre_activations.append(a)
                z = activation(a)
                if masks:
                    z = z * masks[k]
                a = z @ kernel + bias
            new_x = update(a, constant_time if dt_t is None else dt_t, update_params)
            return new_x, ((new_x, pre_activations, a) if residuals else new_x)

        def chunk(x, start, chunk_inputs):
            inputs_c, dt_c = chunk_inputs
            # The input-only part of a_1 for the chunk's steps: one batched matmul.
            return lax.scan(body, x, (inputs_c @ input_kernel, dt_c), unroll=True)

        return _chunked_scan(chunk, x0, (inputs, per_step_time), reverse=False)[1]

    def output(states):
        return states if return_sequences else states[-1]

    def primal(inputs, x0, per_step_time, update_params, first_map, layers, masks):
        return output(
            forward(inputs, x0, per_step_time, update_params, first_map, layers, masks, False)
        )

    def primal_forward(inputs, x0, per_step_time, update_params, first_map, layers, masks):
        states, pre_activations, heads = forward(
            inputs, x0, per_step_time, update_params, first_map, layers, masks, True
        )
        residuals = (
            inputs, x0, per_step_time, update_params, first_map, layers, masks,
            states, pre_activations, heads,
        )
        return output(states), residuals

    def update_pullback(heads_t, dt_t, update_params, d_new_x):
        if dt_t is None:
            _, pullback = jax.vjp(
                lambda h, p: update(h, constant_time, p), heads_t, update_params
            )
            d_heads, d_params = pullback(d_new_x)
            return d_heads, None, d_params
        _, pullback = jax.vjp(update, heads_t, dt_t, update_params)
        return pullback(d_new_x)

    def primal_backward(residuals, d_output):
        (inputs, x0, per_step_time, update_params, first_map, layers, masks,
         states, pre_activations, heads) = residuals
        input_kernel, _, state_kernel = first_map

        def body(carry, step_inputs):
            d_x, d_params_sum = carry
            d_out, a_t, heads_t, dt_t = step_inputs
            if d_out is not None:
                d_x = d_x + d_out
            d_heads, d_dt, d_params = update_pullback(heads_t, dt_t, update_params, d_x)
            d_a = d_heads
            d_pre_activations = [None] * num_layers
            for k in reversed(range(num_layers)):
                d_z = _transposed_dot(d_a, layers[k][0])
                if masks:
                    d_z = d_z * masks[k]
                _, activation_pullback = jax.vjp(activation, a_t[k])
                (d_a,) = activation_pullback(d_z)
                d_pre_activations[k] = d_a
            d_params_sum = jax.tree.map(jnp.add, d_params_sum, d_params)
            carry = (_transposed_dot(d_a, state_kernel), d_params_sum)
            return carry, (d_heads, d_pre_activations, d_dt)

        def chunk(carry, start, chunk_inputs):
            """The backward pass over a chunk of steps, and the chunk's weight gradients."""
            d_x, d_params_sum, d_weights = carry
            d_out, a_c, heads_c, dt_c, inputs_c, states_c = chunk_inputs
            (d_x, d_params_sum), (d_heads, d_pre_activations, d_dt) = lax.scan(
                body, (d_x, d_params_sum), (d_out, a_c, heads_c, dt_c), reverse=True, unroll=True
            )
            # The cotangent of a_1: the first backbone layer's, or the heads'.
            d_first = d_pre_activations[0] if num_layers else d_heads
            state_before = jnp.where(
                start > 0, lax.dynamic_index_in_dim(states, jnp.maximum(start - 1, 0), 0, False), x0
            )
            previous_states = jnp.concatenate([state_before[None], states_c[:-1]], axis=0)
            chunk_weights = [
                _affine_gradients(jnp.concatenate([inputs_c, previous_states], -1), d_first)
            ]
            for k in range(num_layers):
                z = activation(a_c[k])
                if masks:
                    z = z * masks[k]
                d_next = d_pre_activations[k + 1] if k + 1 < num_layers else d_heads
                chunk_weights.append(_affine_gradients(z, d_next))
            d_weights = jax.tree.map(jnp.add, d_weights, chunk_weights)
            d_inputs = _transposed_dot(d_first, input_kernel)
            return (d_x, d_params_sum, d_weights), (d_inputs, d_dt)

        first_kernels = jnp.concatenate([input_kernel, state_kernel], axis=0)
        zero_weights = [(jnp.zeros_like(first_kernels), jnp.zeros_like(first_map[1]))]
        zero_weights += [(jnp.zeros_like(kernel), jnp.zeros_like(bias)) for kernel, bias in layers]
        # The cotangent of every step's state, or (last state only) of the last one,
        # which then starts the reverse loop's carry.
        d_states, d_last = (d_output, jnp.zeros_like(x0)) if return_sequences else (None, d_output)
        carry = (d_last, jax.tree.map(jnp.zeros_like, update_params), zero_weights)
        per_step = (d_states, pre_activations, heads, per_step_time, inputs, states)
        carry, (d_inputs, d_per_step_time) = _chunked_scan(chunk, carry, per_step, reverse=True)
        d_x0, d_update_params, d_weights = carry
        features = inputs.shape[-1]
        (d_first_kernels, d_first_bias), *d_layers = d_weights
        d_first_map = (d_first_kernels[:features], d_first_bias, d_first_kernels[features:])
        d_masks = tuple(jnp.zeros_like(mask) for mask in masks)
        return (
            d_inputs, d_x0, d_per_step_time, d_update_params, d_first_map, tuple(d_layers), d_masks,
        )

    scan_fn = jax.custom_vjp(primal)
    scan_fn.defvjp(primal_forward, primal_backward)
    return scan_fn


_CHUNK = 8


def _chunk_size(length: int) -> int:
    """Steps per chunk: a divisor of ``length`` in [6, 16], nearest 8, if there is one.

    The loop over a chunk's steps is unrolled (its per-step outputs are then
    concatenated rather than written into zero-filled buffers), its temporaries
    stay small and cache-resident, and each batched matmul still has
    ``chunk x batch`` rows. Without such a divisor: chunks of 8 and a shorter
    remainder. Sequences of up to 16 steps are one chunk.
    """
    if length <= 2 * _CHUNK:
        return length
    for size in sorted(range(6, 17), key=lambda s: (abs(s - _CHUNK), s)):
        if length % size == 0:
            return size
    return _CHUNK


def _chunked_scan(chunk_fn: Callable, carry: Any, per_step: Any, reverse: bool) -> tuple[Any, Any]:
    """Applies ``chunk_fn`` to consecutive chunks of the steps (the leading axis of ``per_step``).

    Args:
        chunk_fn: ``(carry, start, chunk_inputs) -> (carry, chunk_outputs)``, with
            ``start`` the index of the chunk's first step and every array of
            ``chunk_inputs`` and ``chunk_outputs`` ``(chunk_length, ...)``.
        carry: The initial carry.
        per_step: A pytree of arrays with a common leading axis (None leaves allowed).
        reverse: Visit the chunks from the last one to the first.

    Returns:
        ``(carry, outputs)``, the outputs concatenated in time order.
    """
    length = jax.tree.leaves(per_step)[0].shape[0]
    size = _chunk_size(length)
    split = length - length % size
    parts = {}

    def run_tail(carry):
        tail = jax.tree.map(lambda a: a[split:], per_step)
        carry, parts["tail"] = chunk_fn(carry, split, tail)
        return carry

    if split < length and reverse:
        carry = run_tail(carry)
    if split:
        head = per_step if split == length else jax.tree.map(lambda a: a[:split], per_step)
        chunks = jax.tree.map(lambda a: a.reshape(split // size, size, *a.shape[1:]), head)
        starts = jnp.arange(0, split, size)
        carry, outputs = lax.scan(
            lambda c, xs: chunk_fn(c, xs[0], xs[1]), carry, (starts, chunks), reverse=reverse
        )
        parts["head"] = jax.tree.map(lambda a: a.reshape(split, *a.shape[2:]), outputs)
    if split < length and not reverse:
        carry = run_tail(carry)
    ordered = [parts[key] for key in ("head", "tail") if key in parts]
    if len(ordered) == 1:
        return carry, ordered[0]
    return carry, jax.tree.map(lambda *a: jnp.concatenate(a, axis=0), *ordered)

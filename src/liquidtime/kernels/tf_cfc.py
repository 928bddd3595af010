"""The CfC recurrence over a whole sequence on TensorFlow, with a hand-written backward pass.

The recurrence of :mod:`liquidtime.kernels.jax_cfc`, for one step ``t`` with input
``I_t``, state ``x``, backbone activation ``phi`` and dropout masks ``m_k``:

    a_1 = I_t V + x R + c,   z_k = phi(a_k) m_k,   a_{k+1} = z_k W_{k+1} + b_{k+1}
    heads = a_{L+1}   (a_1 without a backbone),   x' = update(heads, dt_t)

TensorFlow's own gradient of the step-by-step loop accumulates every weight
gradient inside its reverse loop (a small matmul per weight and step) and keeps
the loop's many small intermediates. Here the whole sequence is one
``tf.custom_gradient``:

* forward: a ``tf.while_loop`` over chunks of ~8 steps (:func:`_chunked_scan`; the
  steps of a chunk unrolled, ``I V + c`` one matmul per chunk) that keeps the
  pre-activations ``a_k``, the heads and the states;
* backward: the update and ``phi`` act element by element (each head column feeds
  one state unit), so their Jacobians are diagonal: ``J = d x'/d heads`` (group by
  group) and ``phi'(a_k) m_k`` come for a chunk's steps at once from one
  vector-Jacobian product with a cotangent of ones. The reverse loop then carries
  only the state's cotangent,

      d heads_t = J_t (d x_t, ..., d x_t),   d a_k = (d a_{k+1} W_{k+1}^T) phi'(a_k) m_k,
      d x_{t-1} = d a_1 R^T   (+ the cotangent of output t - 1),

  over the chunks in reverse, and keeps each chunk's ``d x_t`` and ``d a_k``; every
  weight gradient is then one matmul over the chunk's ``steps x batch`` rows
  (``[I; x_{t-1}]^T d a_1`` for ``V`` and ``R``), added into the loop's carry, and the
  gradients of ``dt`` and of the update's parameters one vector-Jacobian product of
  the update over the chunk. (As in the JAX kernel, chunks keep the temporaries small;
  with the whole sequence at once, a training step at configuration A of
  docs/performance.md took about as long under XLA as TensorFlow's own gradient, in
  one measurement on a loaded 2-core machine.)

The update is the caller's (``cells.cfc.cfc_update``), so the kernel re-derives no
equation. Used by :meth:`CfCCell.fused_scan` on TensorFlow; the values are those of
the step-by-step ``transition`` and the gradients those of TensorFlow's autodiff of
it, to float rounding (tested). The dropout masks are constants (no gradient).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import tensorflow as tf

from liquidtime._backend_ops import custom_gradient, scan

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
    """Runs the recurrence above over a whole sequence (the arguments of ``jax_cfc.network_scan``).

    Args:
        update: ``update(heads, dt, update_params) -> new_state``, elementwise in the
            batch and acting on each state unit through its own head columns.
        activation: The backbone activation ``phi`` (elementwise).
        inputs: ``I``, time-major ``(time, batch, features)``.
        initial_state: ``x_0``, ``(batch, n)``.
        elapsed_time: A Python float, or time-major ``(time, batch, 1)``.
        update_params: Parameters of ``update`` (a tuple of tensors, may be empty).
        input_kernel, first_bias, state_kernel: ``V`` ``(features, width)``, ``c``
            ``(width,)``, ``R`` ``(n, width)`` of the first map.
        layers: ``(W_k, b_k)`` for ``k = 2..L+1``, the last one giving the heads;
            empty without a backbone.
        dropout_masks: ``L`` masks ``(batch, width)`` (already scaled), or None.
        return_sequences: Return the states of every step; otherwise the last one.

    Returns:
        The states after every step, ``(time, batch, n)``, or the last state
        ``(batch, n)``; differentiable with respect to every tensor but the masks.

    Raises:
        ValueError: For a sequence without time steps (there is no last state).
    """
    if inputs.shape[0] == 0:
        raise ValueError(
            "Received an invalid value for argument `inputs`: expected at least one time "
            f"step, got time-major shape {tuple(inputs.shape)}."
        )
    constant_time = float(elapsed_time) if isinstance(elapsed_time, (int, float)) else None
    masks = tuple(dropout_masks) if dropout_masks is not None else ()
    recurrence = _Recurrence(update, activation, len(layers), len(masks), len(update_params),
                             constant_time, return_sequences)
    tensors = [inputs, initial_state, input_kernel, first_bias, state_kernel]
    tensors += [tensor for layer in layers for tensor in layer]
    tensors += [*masks, *update_params]
    if constant_time is None:
        tensors.append(elapsed_time)
    # TensorFlow variables (the cell's weights) as tensors: their ``value`` is a method.
    return custom_gradient(recurrence.sequence)(*[tf.convert_to_tensor(t) for t in tensors])


class _Recurrence:
    """The custom-gradient sequence function for one structure of the recurrence.

    Its tensors, flat: ``inputs, x0, V, c, R, (W_k, b_k)..., masks..., update_params...``
    and, when the elapsed time is given per step, ``dt``.
    """

    def __init__(
        self,
        update: Update,
        activation: Callable[[Any], Any],
        num_layers: int,
        num_masks: int,
        num_params: int,
        constant_time: float | None,
        return_sequences: bool,
    ):
        self.update, self.activation = update, activation
        self.num_layers, self.num_masks, self.num_params = num_layers, num_masks, num_params
        self.constant_time, self.return_sequences = constant_time, return_sequences

    def unpack(self, tensors: Sequence[Any]) -> tuple:
        """``(inputs, x0, (V, c, R), layers, masks, params, dt)`` from the flat tensors."""
        inputs, x0, input_kernel, first_bias, state_kernel, *rest = tensors
        layers = [(rest[2 * k], rest[2 * k + 1]) for k in range(self.num_layers)]
        rest = rest[2 * self.num_layers :]
        masks, rest = rest[: self.num_masks], rest[self.num_masks :]
        params, rest = tuple(rest[: self.num_params]), rest[self.num_params :]
        dt = rest[0] if self.constant_time is None else self.constant_time
        return inputs, x0, (input_kernel, first_bias, state_kernel), layers, masks, params, dt

    def sequence(self, *tensors: Any) -> tuple[Any, Callable]:
        """The states (or the last state) and the gradient function."""
        inputs, x0, first_map, layers, masks, params, dt = self.unpack(tensors)
        input_kernel, first_bias, state_kernel = first_map

        def chunk(x, chunk_inputs):
            projected = _affine(chunk_inputs["inputs"], input_kernel, first_bias)
            states, pre_activations, heads = [], [[] for _ in layers], []
            for s in range(projected.shape[0]):
                a = projected[s] + tf.matmul(x, state_kernel)
                for k, (kernel, bias) in enumerate(layers):
                    pre_activations[k].append(a)
                    z = self.activation(a)
                    if masks:
                        z = z * masks[k]
                    a = tf.matmul(z, kernel) + bias
                dt_s = chunk_inputs["dt"][s] if "dt" in chunk_inputs else self.constant_time
                x = self.update(a, dt_s, params)
                states.append(x)
                heads.append(a)
            return x, (tf.stack(states), [tf.stack(a) for a in pre_activations], tf.stack(heads))

        per_step = {"inputs": inputs}
        if self.constant_time is None:
            per_step["dt"] = dt
        _, (states, pre_activations, heads) = _chunked_scan(chunk, x0, per_step, reverse=False)

        def gradient(*args: Any, upstream: Any = None) -> list[Any]:
            if upstream is None:
                (upstream,) = args
            return self.backward(upstream, tensors, states, pre_activations, heads)

        return (states if self.return_sequences else states[-1]), gradient

    def backward(
        self, upstream: Any, tensors: Sequence[Any], states: Any, pre_activations: list, heads: Any
    ) -> list[Any]:
        """The gradients of every flat tensor (None for the masks)."""
        inputs, x0, first_map, layers, masks, params, dt = self.unpack(tensors)
        input_kernel, _, state_kernel = first_map
        groups = heads.shape[-1] // states.shape[-1]
        kernels = [kernel for kernel, _ in layers]
        per_step_time = self.constant_time is None

        def chunk(carry, chunk_inputs):
            """The reverse pass over a chunk of steps, and the chunk's weight gradients."""
            d_x, d_weights, d_params = carry
            heads_c, pre_c = chunk_inputs["heads"], chunk_inputs["pre_activations"]
            dt_c = chunk_inputs["dt"] if per_step_time else self.constant_time
            with tf.GradientTape(persistent=True) as tape:
                tape.watch([heads_c, *params, *([dt_c] if per_step_time else [])])
                new_states = self.update(heads_c, dt_c, params)
            # The update's diagonal Jacobian d x'/d heads, for the chunk's steps at once.
            factors = tape.gradient(new_states, heads_c, output_gradients=tf.ones_like(new_states))
            activated, slopes = [], []
            for k, a in enumerate(pre_c):
                z, slope = _value_and_slope(self.activation, a)
                if masks:
                    z, slope = z * masks[k], slope * masks[k]
                activated.append(z)
                slopes.append(slope)
            size = heads_c.shape[0]
            d_states, d_pre = [None] * size, [[None] * size for _ in layers]
            for s in reversed(range(size)):
                if "d_output" in chunk_inputs:
                    d_x = d_x + chunk_inputs["d_output"][s]
                d_states[s] = d_x
                d_a = factors[s] * tf.tile(d_x, [1, groups])
                for k in reversed(range(self.num_layers)):
                    d_a = tf.matmul(d_a, kernels[k], transpose_b=True) * slopes[k][s]
                    d_pre[k][s] = d_a
                d_x = tf.matmul(d_a, state_kernel, transpose_b=True)
            wrt = [heads_c, *params, *([dt_c] if per_step_time else [])]
            d_heads, *d_rest = tape.gradient(new_states, wrt, output_gradients=tf.stack(d_states))
            del tape
            d_pre_c = [tf.stack(d) for d in d_pre]
            d_first = d_pre_c[0] if self.num_layers else d_heads
            first_rows = tf.concat([chunk_inputs["inputs"], chunk_inputs["previous_states"]], -1)
            chunk_weights = list(_affine_gradients(first_rows, d_first))
            for k in range(self.num_layers):
                following = d_pre_c[k + 1] if k + 1 < self.num_layers else d_heads
                chunk_weights += _affine_gradients(activated[k], following)
            d_weights = [total + term for total, term in zip(d_weights, chunk_weights)]
            d_params = [total + term for total, term in zip(d_params, d_rest[: len(params)])]
            outputs = {"inputs": tf.matmul(d_first, input_kernel, transpose_b=True)}
            if per_step_time:
                outputs["dt"] = d_rest[-1]
            return (d_x, d_weights, d_params), outputs

        per_step = {
            "inputs": inputs,
            "previous_states": tf.concat([x0[None], states[:-1]], axis=0),
            "heads": heads,
            "pre_activations": pre_activations,
        }
        if per_step_time:
            per_step["dt"] = dt
        d_last = upstream
        if self.return_sequences:
            d_last, per_step["d_output"] = tf.zeros_like(x0), upstream
        first_kernels = tf.concat([input_kernel, state_kernel], axis=0)
        zero_weights = [tf.zeros_like(first_kernels), tf.zeros_like(first_map[1])]
        zero_weights += [tf.zeros_like(tensor) for layer in layers for tensor in layer]
        carry = (d_last, zero_weights, [tf.zeros_like(p) for p in params])
        (d_x0, d_weights, d_params), d_per_step = _chunked_scan(chunk, carry, per_step, reverse=True)
        features = inputs.shape[-1]
        d_first_kernels, d_first_bias, *d_layers = d_weights
        return [
            d_per_step["inputs"], d_x0, d_first_kernels[:features], d_first_bias,
            d_first_kernels[features:], *d_layers, *([None] * len(masks)), *d_params,
            *([d_per_step["dt"]] if per_step_time else []),
        ]


_CHUNK = 8


def _chunk_size(length: int | None) -> int:
    """Steps per chunk: the whole sequence up to 16 steps, else a divisor of ``length`` in
    [1, 16] nearest 8 (1, a plain loop over the steps, for a length unknown when tracing)."""
    if length is None:
        return 1
    if length <= 2 * _CHUNK:
        return length
    return min((s for s in range(1, 17) if length % s == 0), key=lambda s: (abs(s - _CHUNK), s))


def _chunked_scan(chunk_fn: Callable, carry: Any, per_step: Any, reverse: bool) -> tuple[Any, Any]:
    """Applies ``chunk_fn`` to consecutive chunks of the steps (the leading axis of ``per_step``).

    Each chunk's steps are unrolled by ``chunk_fn`` (a ``tf.while_loop`` iteration runs
    a chunk): fewer loop iterations, and each chunk's temporaries stay small.

    Args:
        chunk_fn: ``(carry, chunk_inputs) -> (carry, chunk_outputs)``, every tensor of
            ``chunk_inputs`` and ``chunk_outputs`` ``(chunk_length, ...)``; with
            ``reverse`` it visits the chunk's steps from the last one.
        carry: The initial carry.
        per_step: A nest of tensors with a common leading (time) axis.
        reverse: Visit the chunks from the last one to the first.

    Returns:
        ``(carry, outputs)``, the outputs ``(time, ...)`` in time order.
    """
    size = _chunk_size(tf.nest.flatten(per_step)[0].shape[0])

    def split(a):
        chunks = tf.reshape(a, tf.concat([[-1, size], tf.shape(a)[1:]], 0))
        chunks.set_shape([None, size, *a.shape[1:]])
        return tf.reverse(chunks, [0]) if reverse else chunks

    def merge(a):
        a = tf.reverse(a, [0]) if reverse else a
        steps = tf.reshape(a, tf.concat([[-1], tf.shape(a)[2:]], 0))
        steps.set_shape([None, *a.shape[2:]])
        return steps

    carry, outputs = scan(chunk_fn, carry, tf.nest.map_structure(split, per_step))
    return carry, tf.nest.map_structure(merge, outputs)


def _affine(inputs: Any, kernel: Any, bias: Any) -> Any:
    """``inputs @ kernel + bias`` for ``(time, batch, fan_in)`` inputs, one matmul over the rows."""
    rows = tf.reshape(inputs, [-1, inputs.shape[-1]])
    product = tf.matmul(rows, kernel) + bias
    return tf.reshape(product, tf.concat([tf.shape(inputs)[:-1], [kernel.shape[-1]]], 0))


def _affine_gradients(inputs: Any, cotangent: Any) -> tuple[Any, Any]:
    """The kernel and bias gradients of ``inputs @ kernel + bias`` over every step.

    Args:
        inputs: ``(time, batch, fan_in)``.
        cotangent: The cotangent of the map's output, ``(time, batch, fan_out)``.

    Returns:
        ``(sum_{t, b} inputs^T cotangent, sum_{t, b} cotangent)``: one matmul over the
        ``time x batch`` rows and one reduction.
    """
    rows = lambda a: tf.reshape(a, [-1, a.shape[-1]])  # noqa: E731
    kernel = tf.matmul(rows(inputs), rows(cotangent), transpose_a=True)
    return kernel, tf.reduce_sum(cotangent, axis=[0, 1])


def _value_and_slope(function: Callable[[Any], Any], x: Any) -> tuple[Any, Any]:
    """``(f(x), f'(x))`` of an elementwise ``f``, from one vector-Jacobian product."""
    with tf.GradientTape() as tape:
        tape.watch(x)
        value = function(x)
    return value, tape.gradient(value, x, output_gradients=tf.ones_like(value))

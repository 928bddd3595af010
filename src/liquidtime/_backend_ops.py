"""Operations that need framework-specific code; the one place that has any.

``tanh``: ``keras.ops.tanh`` follows Keras's dtype rules, which turn float64 into
float32 on JAX; this version keeps the input's dtype on every backend, so float64
models (and float64 gradient checks) stay float64.

``matmul``: for the same reason ``keras.ops.matmul`` on PyTorch computes a float64
product in float32 and casts the result back to float64 (errors of ~1e-8); this
version multiplies two tensors of one floating dtype in that dtype.

``tanh`` and ``sum_over_axis`` call PyTorch directly for PyTorch tensors: the
synaptic LTC runs thousands of small eager operations per sequence there, and
Keras's per-operation dispatch was a fifth of its training step.

``sigmoid_of_scaled`` and ``sum_over_axis``: on JAX (XLA:CPU) a logistic lowers to an
exponential and a division, about twice the cost of XLA's rational ``tanh``, and a
sum over a non-minor axis of a small 3-D tensor is emitted as a slow loop (66 us
against 6 us for a pairwise tree of slices, ``(64, 32, 32)`` over axis 1, measured
on a 2-core EPYC); both compute the same values (to float rounding) everywhere.

``checkpoint``: on JAX, ``jax.checkpoint`` (rematerialisation: the backward pass
recomputes a function's intermediates from its inputs instead of storing them); the
identity on TensorFlow and PyTorch.

``scan``: ``keras.ops.scan`` would do, except that its TensorFlow version requires the
per-step outputs to have the structure of the carry (so it stores the whole
carry at every step), and its PyTorch version stacks zero placeholders when the
step returns no output. This module keeps the ``jax.lax.scan`` contract
everywhere: ``step(carry, x) -> (carry, y)``, with ``y`` a pytree or None.

``check_on_host``: a value check that survives tracing. Eagerly it calls a Python
check at once; inside a compiled function it becomes ``jax.debug.callback`` under
``lax.cond`` (JAX: the callback, and its device-to-host copy, only when the
condition fails) or ``tf.debugging.Assert`` (TensorFlow); PyTorch runs eagerly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np


def tanh(x: Any) -> Any:
    """Hyperbolic tangent that keeps the input's floating dtype on every backend."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax.numpy as jnp

        return jnp.tanh(x)
    if backend == "torch":
        import torch

        if isinstance(x, torch.Tensor):
            return torch.tanh(x)
    return keras.ops.tanh(x)


def matmul(x1: Any, x2: Any) -> Any:
    """Matrix product that keeps float64 precision on every backend."""
    if keras.backend.backend() == "torch":
        import torch

        x1 = keras.ops.convert_to_tensor(x1)
        x2 = keras.ops.convert_to_tensor(x2)
        if x1.dtype == x2.dtype and x1.dtype.is_floating_point:
            return torch.matmul(x1, x2)
    return keras.ops.matmul(x1, x2)


def checkpoint(fn: Callable) -> Callable:
    """``fn`` whose intermediates the backward pass recomputes (JAX); ``fn`` elsewhere."""
    if keras.backend.backend() == "jax":
        import jax

        return jax.checkpoint(fn)
    return fn


def in_xla_function() -> bool:
    """Whether TensorFlow is tracing a function that XLA will compile (``jit_compile=True``).

    XLA cannot run Python (``tf.py_function``) inside such a function and drops
    ``tf.debugging.Assert``. False on the other backends and outside a trace.
    """
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    if tf.executing_eagerly():
        return False
    from tensorflow.python.ops import control_flow_util  # no public equivalent

    return bool(control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph()))


def custom_gradient(fn: Callable) -> Callable:
    """``keras.ops.custom_gradient`` whose function receives tensors, never variables.

    PyTorch's ``autograd.Function`` does not track Keras variables passed as
    arguments, and TensorFlow's ``tf.custom_gradient`` requires a gradient for every
    variable read inside the function; both are avoided by reading variables first.
    """
    wrapped = keras.ops.custom_gradient(fn)
    to_tensor = lambda arg: arg  # noqa: E731
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        to_tensor = tf.convert_to_tensor

    def call(*args):
        return wrapped(*[to_tensor(getattr(arg, "value", arg)) for arg in args])

    return call


def sigmoid_argument_scale() -> float:
    """``c`` such that :func:`sigmoid_of_scaled` of ``c x`` is ``sigmoid(x)``.

    0.5 on JAX, where the sigmoid is evaluated as ``0.5 + 0.5 tanh(x / 2)`` (XLA:CPU's
    tanh is about twice as fast as its logistic); 1 elsewhere (PyTorch's CPU sigmoid
    is about 7x faster than its tanh). A caller scales its parameters by ``c`` once
    and saves the multiply per element.
    """
    return 0.5 if keras.backend.backend() == "jax" else 1.0


def sigmoid_of_scaled(y: Any) -> Any:
    """``sigmoid(y / c)`` with ``c`` = :func:`sigmoid_argument_scale`."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax.numpy as jnp

        return 0.5 + 0.5 * jnp.tanh(y)
    if backend == "torch":
        import torch

        if isinstance(y, torch.Tensor):
            return torch.sigmoid(y)
    return keras.ops.sigmoid(y)


def sum_over_axis(x: Any, axis: int) -> Any:
    """``sum(x, axis)``; on JAX a non-minor axis of static size is summed as a pairwise tree.

    The tree (halves added until one slice is left) fuses with the elementwise work
    that produces ``x`` into one vectorised loop on XLA:CPU, where a ``reduce`` over a
    middle or leading axis does not. Other backends, and the last axis, use ``sum``.
    """
    axis = axis % len(x.shape)
    size = x.shape[axis]
    backend = keras.backend.backend()
    if backend == "torch":
        import torch

        if isinstance(x, torch.Tensor):
            return x.sum(dim=axis)
    if backend != "jax" or axis == len(x.shape) - 1 or size is None:
        return keras.ops.sum(x, axis=axis)
    from jax import lax

    while size > 1:
        half = size // 2
        paired = lax.slice_in_dim(x, 0, half, axis=axis) + lax.slice_in_dim(
            x, half, 2 * half, axis=axis
        )
        if size % 2:
            leftover = lax.slice_in_dim(x, 2 * half, size, axis=axis)
            paired = lax.concatenate([paired[_first(axis)] + leftover, paired[_rest(axis)]], axis)
        x, size = paired, half
    return lax.squeeze(x, (axis,))


def _first(axis: int) -> tuple:
    return (slice(None),) * axis + (slice(0, 1),)


def _rest(axis: int) -> tuple:
    return (slice(None),) * axis + (slice(1, None),)


def scan(step: Callable[[Any, Any], tuple[Any, Any]], init: Any, xs: Any, unroll: int | bool = 1):
    """Applies ``step`` along the leading axis of ``xs``.

    Args:
        step: ``(carry, x_t) -> (carry, y_t)``; ``y_t`` may be None.
        init: Initial carry (a pytree of tensors).
        xs: A pytree of tensors with a common leading (time) axis.
        unroll: Loop unrolling factor (JAX and TensorFlow), or True for full.

    Returns:
        ``(final_carry, ys)`` with ``ys`` stacked along a new leading axis, or None.
    """
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return jax.lax.scan(step, init, xs, unroll=unroll)
    if backend == "tensorflow":
        return _tensorflow_scan(step, init, xs, unroll)
    return _python_scan(step, init, xs)


def _python_scan(step, init, xs):
    flat_xs = keras.tree.flatten(xs)
    length = flat_xs[0].shape[0]
    carry, ys = init, []
    for t in range(length):
        carry, y = step(carry, keras.tree.pack_sequence_as(xs, [x[t] for x in flat_xs]))
        ys.append(y)
    if ys[0] is None:
        return carry, None
    return carry, keras.tree.map_structure(lambda *y: keras.ops.stack(y), *ys)


def _tensorflow_scan(step, init, xs, unroll):
    import tensorflow as tf

    if tf.executing_eagerly():
        return _python_scan(step, init, xs)
    flat_xs = [tf.convert_to_tensor(x) for x in keras.tree.flatten(xs)]
    length = tf.shape(flat_xs[0])[0]
    static_length = flat_xs[0].shape[0]
    inputs = [
        tf.TensorArray(x.dtype, size=length, element_shape=x.shape[1:]).unstack(x) for x in flat_xs
    ]
    first_x = keras.tree.pack_sequence_as(xs, [x[0] for x in flat_xs])
    # Trace the step once to learn the structure of y; graph pruning drops these ops.
    first_y = step(init, first_x)[1]
    y_spec = (
        None
        if first_y is None
        else tf.nest.map_structure(lambda y: tf.TensorSpec(y.shape, y.dtype), first_y)
    )
    flat_spec = [] if y_spec is None else tf.nest.flatten(y_spec)
    outputs = [
        tf.TensorArray(spec.dtype, size=length, element_shape=spec.shape) for spec in flat_spec
    ]

    def body(t, carry, outputs):
        x_t = keras.tree.pack_sequence_as(xs, [array.read(t) for array in inputs])
        carry, y = step(carry, x_t)
        if y is not None:
            outputs = [array.write(t, v) for array, v in zip(outputs, tf.nest.flatten(y))]
        return t + 1, carry, outputs

    parallel = static_length if unroll is True and static_length else int(unroll) or 1
    # maximum_iterations bounds the gradient's accumulators, which XLA needs
    # (`jit_compile=True`; Keras's "auto" on a GPU).
    _, carry, outputs = tf.while_loop(
        lambda t, *_: t < length, body, (0, init, outputs), parallel_iterations=parallel,
        maximum_iterations=length,
    )
    if y_spec is None:
        return carry, None
    stacked = [array.stack() for array in outputs]
    return carry, tf.nest.pack_sequence_as(y_spec, stacked)


def check_on_host(
    ok: Any, summary: Any, check: Callable[[np.ndarray], None], message: str, value: Any = None
) -> Any:
    """Raises ``check``'s error when ``ok`` is False, now or when a compiled function runs.

    Args:
        ok: A boolean scalar tensor, True when the values are valid.
        summary: A small 1-D tensor describing the values (for the message); reduce
            to it on the device first, so only a few numbers reach the host.
        check: Called with ``summary`` as NumPy when ``ok`` is False; raises the error.
        message: The error message's fixed part, for TensorFlow graphs, whose
            ``tf.debugging.Assert`` cannot run Python (it prints ``summary`` after it).
        value: Optional tensor to return guarded by the check: on TensorFlow graphs
            computations that read the returned tensor run after the assertion.

    Returns:
        ``value`` (on TensorFlow graphs an identity of it that depends on the check).

    On JAX, inside ``jax.jit`` the error is a ``JaxRuntimeError`` whose message
    contains ``check``'s; on TensorFlow graphs an ``InvalidArgumentError`` with
    ``message``. XLA drops ``tf.debugging.Assert``: under TensorFlow with
    ``jit_compile=True`` the check is not made. Nothing happens on symbolic tensors
    without values (Keras's shape inference).
    """
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        if isinstance(ok, jax.core.Tracer):
            report = lambda values: jax.debug.callback(check, values)  # noqa: E731
            jax.lax.cond(ok, lambda values: None, report, summary)
            return value
    elif backend == "tensorflow":
        import tensorflow as tf

        if not tf.executing_eagerly():
            assertion = tf.debugging.Assert(ok, [message, summary], summarize=16)
            if value is None:
                return None
            with tf.control_dependencies([assertion]):
                return tf.identity(value)
    elif backend == "torch":
        import torch

        if isinstance(ok, torch.Tensor) and ok.device.type == "meta":
            return value
    if not bool(keras.ops.convert_to_numpy(ok)):
        check(np.asarray(keras.ops.convert_to_numpy(summary)))
    return value

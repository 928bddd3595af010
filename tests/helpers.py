"""Backend-neutral helpers for the numerical tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras
import numpy as np


def value_and_gradients(loss_fn: Callable[[], object], variables: Sequence[keras.Variable]):
    """Evaluates ``loss_fn()`` and its gradients with respect to ``variables``.

    Returns:
        ``(loss, [gradient per variable])`` as float64 NumPy.
    """
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        from keras import StatelessScope

        originals = [variable.value for variable in variables]

        def stateless(values):
            with StatelessScope(state_mapping=list(zip(variables, values))):
                return loss_fn()

        loss, grads = jax.value_and_grad(stateless)(originals)
        return float(loss), [np.asarray(g, dtype=np.float64) for g in grads]
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = loss_fn()
        grads = tape.gradient(loss, [v.value for v in variables])
        return float(loss), [np.asarray(g, dtype=np.float64) for g in grads]
    if backend == "torch":
        loss = loss_fn()
        grads = __import__("torch").autograd.grad(loss, [v.value for v in variables])
        return float(loss.detach()), [g.detach().cpu().numpy().astype(np.float64) for g in grads]
    raise NotImplementedError(backend)


def finite_difference_gradients(
    loss_fn: Callable[[], object], variables: Sequence[keras.Variable], eps: float = 1e-6
) -> list[np.ndarray]:
    """Central differences of ``loss_fn`` with respect to every entry of ``variables``."""
    grads = []
    for variable in variables:
        base = np.asarray(keras.ops.convert_to_numpy(variable.value), dtype=np.float64)
        grad = np.zeros_like(base)
        for index in np.ndindex(base.shape):
            shifted = base.copy()
            shifted[index] += eps
            variable.assign(shifted)
            plus = float(keras.ops.convert_to_numpy(loss_fn()))
            shifted[index] -= 2 * eps
            variable.assign(shifted)
            minus = float(keras.ops.convert_to_numpy(loss_fn()))
            grad[index] = (plus - minus) / (2 * eps)
        variable.assign(base)
        grads.append(grad)
    return grads

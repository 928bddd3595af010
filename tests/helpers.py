"""Backend-neutral helpers for the numerical tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras
import numpy as np


def _pure_loss(loss_fn: Callable[[], object], variables: Sequence[keras.Variable]):
    """``values -> loss`` with the variables replaced by ``values`` (jitted on JAX)."""
    if keras.backend.backend() == "jax":
        import jax

        def stateless(values):
            with keras.StatelessScope(state_mapping=list(zip(variables, values))):
                return loss_fn()

        return jax.jit(stateless), jax.jit(jax.value_and_grad(stateless))

    def assigned(values):
        for variable, value in zip(variables, values):
            variable.assign(value)
        return loss_fn()

    return assigned, None


def value_and_gradients(loss_fn: Callable[[], object], variables: Sequence[keras.Variable]):
    """Evaluates ``loss_fn()`` and its gradients with respect to ``variables``.

    Returns:
        ``(loss, [gradient per variable])`` as float64 NumPy.
    """
    backend = keras.backend.backend()
    if backend == "jax":
        _, value_and_grad = _pure_loss(loss_fn, variables)
        loss, grads = value_and_grad([variable.value for variable in variables])
        return float(loss), [np.asarray(g, dtype=np.float64) for g in grads]
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = loss_fn()
        grads = tape.gradient(loss, [v.value for v in variables])
        return float(loss), [np.asarray(g, dtype=np.float64) for g in grads]
    if backend == "torch":
        import torch

        loss = loss_fn()
        grads = torch.autograd.grad(loss, [v.value for v in variables])
        return float(loss.detach()), [g.detach().cpu().numpy().astype(np.float64) for g in grads]
    raise NotImplementedError(backend)


def finite_difference_gradients(
    loss_fn: Callable[[], object],
    variables: Sequence[keras.Variable],
    eps: float = 1e-6,
    entries_per_variable: int = 3,
    seed: int = 0,
) -> list[tuple[list[tuple[int, ...]], np.ndarray]]:
    """Central differences of ``loss_fn`` at a few random entries of each variable.

    Returns:
        Per variable, ``(indices, derivatives)``: the entries checked and the
        numerical derivative at each.
    """
    rng = np.random.default_rng(seed)
    loss_of, _ = _pure_loss(loss_fn, variables)
    base = [np.asarray(keras.ops.convert_to_numpy(v.value), dtype=np.float64) for v in variables]

    def evaluate(values):
        loss = loss_of([keras.ops.convert_to_tensor(v, variables[0].dtype) for v in values])
        if keras.backend.backend() == "torch":
            loss = loss.detach()
        return float(keras.ops.convert_to_numpy(loss))

    results = []
    for position, value in enumerate(base):
        all_indices = list(np.ndindex(value.shape))
        count = min(entries_per_variable, len(all_indices))
        indices = [all_indices[i] for i in rng.choice(len(all_indices), count, replace=False)]
        grad = np.zeros(len(indices))
        for k, index in enumerate(indices):
            values = [v.copy() for v in base]
            values[position][index] += eps
            plus = evaluate(values)
            values[position][index] -= 2 * eps
            minus = evaluate(values)
            grad[k] = (plus - minus) / (2 * eps)
        results.append((indices, grad))
    for variable, value in zip(variables, base):
        variable.assign(value)
    return results


def assert_gradients_match_finite_differences(
    loss_fn: Callable[[], object],
    variables: Sequence[keras.Variable],
    rtol: float = 1e-5,
    atol: float = 1e-7,
) -> None:
    """Asserts that the backend's gradients of ``loss_fn`` equal central differences.

    Checks a few random entries of each variable (:func:`finite_difference_gradients`).
    """
    _, grads = value_and_gradients(loss_fn, variables)
    numeric = finite_difference_gradients(loss_fn, variables)
    for variable, analytic, (indices, expected) in zip(variables, grads, numeric):
        picked = np.array([analytic[index] for index in indices])
        np.testing.assert_allclose(picked, expected, rtol=rtol, atol=atol, err_msg=variable.path)

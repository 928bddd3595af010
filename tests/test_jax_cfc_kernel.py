"""The CfC's whole-sequence JAX scan (hand-written backward pass) against the plain scan.

``CfCCell.fused_scan`` (``implementation="jax_scan"``, which ``"auto"`` picks on JAX)
replaces the layer's step-by-step ``lax.scan`` of ``transition``
(``implementation="reference"``). Its values must be those of the step-by-step scan,
and its gradients (weights, inputs, initial state, elapsed times) those of
``jax.grad`` of the step-by-step scan, for every mode, backbone depth, kind of
elapsed time, and for sequence lengths that take each path of the chunked backward
pass.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "jax", reason="fused_scan is the JAX path"
)

from helpers import assert_gradients_match_finite_differences  # noqa: E402
from liquidtime.layers import CfC  # noqa: E402


def kernel_and_reference(input_shape, units, **kwargs):
    """Two CfC layers with the same weights: ``"jax_scan"`` and ``"reference"``."""
    layers = [CfC(units, implementation=name, **kwargs) for name in ("jax_scan", "reference")]
    for layer in layers:
        layer.build(input_shape)
    layers[1].set_weights(layers[0].get_weights())
    return layers


def gradients(layer, x, elapsed_time, initial_state, training=False):
    """Outputs, and the gradients of a loss w.r.t. weights, inputs, initial state and
    elapsed time (None for a constant one)."""
    import jax
    import jax.numpy as jnp

    trainable = [v.value for v in layer.trainable_variables]
    non_trainable = [v.value for v in layer.non_trainable_variables]

    def loss(trainable, x, initial_state, elapsed_time):
        outputs = layer.stateless_call(
            trainable,
            non_trainable,
            x,
            initial_state=initial_state,
            elapsed_time=elapsed_time,
            training=training,
        )[0]
        return jnp.sum(jnp.sin(3.0 * outputs)), outputs

    if isinstance(elapsed_time, float):  # a Python float selects the merged time heads
        constant = elapsed_time
        (_, outputs), grads = jax.value_and_grad(
            lambda w, x, s: loss(w, x, s, constant), argnums=(0, 1, 2), has_aux=True
        )(trainable, x, initial_state)
        grads = (*grads, None)
    else:
        (_, outputs), grads = jax.value_and_grad(loss, argnums=(0, 1, 2, 3), has_aux=True)(
            trainable, x, initial_state, elapsed_time
        )
    return np.asarray(outputs), jax.tree.map(np.asarray, grads)


def assert_trees_close(actual, expected):
    for a, e in zip(actual, expected):
        scale = max(float(np.max(np.abs(e))), 1e-3)
        np.testing.assert_allclose(a, e, rtol=0, atol=2e-6 * scale)


@pytest.mark.parametrize("mode", ["default", "no_gate", "pure"])
@pytest.mark.parametrize("backbone_layers", [0, 1, 2])
@pytest.mark.parametrize("time_kind", ["constant", "per_step"])
@pytest.mark.parametrize("return_sequences", [True, False])
def test_fused_scan_matches_step_by_step(mode, backbone_layers, time_kind, return_sequences):
    rng = np.random.default_rng(0)
    batch, length, features, units = 3, 9, 4, 5
    x = rng.normal(size=(batch, length, features)).astype("float32")
    elapsed = (
        0.7 if time_kind == "constant"
        else rng.uniform(0.1, 2.0, (batch, length)).astype("float32")
    )
    state = rng.normal(scale=0.5, size=(batch, units)).astype("float32")
    layer, reference_layer = kernel_and_reference(
        (None, length, features), units, mode=mode, backbone_units=6,
        backbone_layers=backbone_layers, return_sequences=return_sequences,
    )
    fused = gradients(layer, x, elapsed, state)
    reference = gradients(reference_layer, x, elapsed, state)
    np.testing.assert_allclose(fused[0], reference[0], rtol=0, atol=1e-6)
    grads, reference_grads = fused[1], reference[1]
    assert_trees_close(grads[0], reference_grads[0])  # weights
    assert_trees_close(grads[1:3], reference_grads[1:3])  # inputs, initial state
    if time_kind == "per_step":
        assert_trees_close([grads[3]], [reference_grads[3]])


@pytest.mark.parametrize("length", [1, 42, 37])
@pytest.mark.parametrize("return_sequences", [True, False])
def test_fused_scan_chunks(length, return_sequences):
    """One chunk (short), equal chunks (42 = 6 x 7), chunks and a remainder (37, prime)."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, length, 3)).astype("float32")
    state = np.zeros((2, 4), "float32")
    layer, reference_layer = kernel_and_reference(
        (None, length, 3), 4, backbone_units=8, backbone_dropout=0.3, seed=5,
        return_sequences=return_sequences,
    )
    fused = gradients(layer, x, 1.0, state, training=True)
    reference = gradients(reference_layer, x, 1.0, state, training=True)
    np.testing.assert_allclose(fused[0], reference[0], rtol=0, atol=1e-6)
    assert_trees_close(fused[1][0], reference[1][0])
    assert_trees_close(fused[1][1:3], reference[1][1:3])


def test_last_output_and_final_state_of_the_fused_scan():
    """Without sequences the fused scan returns the last state only; the layer's output
    and returned state are that state, as with the step-by-step scan."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 11, 2)).astype("float32")
    layer, reference_layer = kernel_and_reference(
        (None, 11, 2), 5, backbone_units=7, return_sequences=False, return_state=True
    )
    output, state = layer(x)
    reference_output, reference_state = reference_layer(x)
    np.testing.assert_allclose(np.asarray(output), np.asarray(reference_output), atol=1e-6)
    np.testing.assert_allclose(np.asarray(state), np.asarray(reference_state), atol=1e-6)
    np.testing.assert_array_equal(np.asarray(output), np.asarray(state))


def test_chunk_size_prefers_divisors_near_8():
    from liquidtime.kernels.jax_cfc import _chunk_size

    assert _chunk_size(7) == 7
    assert _chunk_size(16) == 16
    assert _chunk_size(64) == 8
    assert _chunk_size(256) == 8
    assert _chunk_size(40) == 8
    assert _chunk_size(42) == 7
    assert _chunk_size(37) == 8  # prime: chunks of 8 and a remainder of 5


@pytest.mark.usefixtures("float64")
def test_fused_scan_gradients_match_finite_differences():
    """Constant elapsed time (the merged time heads) and a remainder chunk, in float64."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 37, 2))
    target = rng.normal(size=(2, 3))
    layer = CfC(3, backbone_units=4, backbone_layers=2, dtype="float64")
    layer(x)
    for variable in layer.trainable_weights:
        variable.assign(rng.normal(scale=0.5, size=variable.shape))

    def loss():
        out = layer(x, elapsed_time=0.5)
        return keras.ops.sum((out - keras.ops.convert_to_tensor(target, out.dtype)) ** 2)

    assert_gradients_match_finite_differences(loss, layer.trainable_weights)


@pytest.mark.parametrize("implementation", ["auto", "jax_scan", "reference"])
def test_the_kernel_runs_on_unmasked_sequences_unless_reference(monkeypatch, implementation):
    """``"auto"`` and ``"jax_scan"`` run :func:`network_scan` on unmasked sequences;
    masked sequences and ``"reference"`` scan ``transition``."""
    from liquidtime.kernels import jax_cfc as module

    calls = []
    original = module.network_scan

    def spy(*args, **kwargs):
        calls.append(True)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, "network_scan", spy)
    layer = CfC(3, implementation=implementation)
    x = np.ones((2, 5, 2), "float32")
    mask = np.array([[True] * 5, [True, True, False, False, False]])
    masked = np.asarray(layer(x, mask=mask))
    assert not calls
    np.testing.assert_allclose(masked[0], np.asarray(layer(x[:1]))[0], atol=1e-6)
    np.testing.assert_allclose(masked[1], np.asarray(layer(x[1:, :2]))[0], atol=1e-6)
    assert bool(calls) == (implementation != "reference")

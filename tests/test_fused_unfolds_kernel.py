"""The synaptic LTC's fused unfolds: values and hand-written gradients against autodiff."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import ops

from helpers import value_and_gradients
from liquidtime._backend_ops import sum_over_axis
from liquidtime.kernels.fused_unfolds import fused_unfolds

B, N, L = 3, 5, 4
NAMES = ("state", "a0", "b0", "sigma", "sigma_mu", "w", "w_erev", "dt")


def _values(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "state": rng.normal(size=(B, N)),
        "a0": rng.uniform(0.2, 2.0, size=(B, N)),
        "b0": rng.normal(size=(B, N)),
        "sigma": rng.uniform(-2.0, 6.0, size=(N, N)),
        "sigma_mu": rng.normal(size=(N, N)),
        "w": rng.uniform(0.0, 1.5, size=(N, N)) * (rng.uniform(size=(N, N)) > 0.3),
        "w_erev": rng.normal(size=(N, N)),
        "dt": rng.uniform(0.1, 2.0, size=(B, 1)),
    }


def _plain_unfolds(state, a0, b0, dt, sigma, sigma_mu, w, w_erev, unfolds):
    """The same sub-steps written directly, differentiated by the backend's autodiff."""
    h = dt / unfolds
    for _ in range(unfolds):
        s = ops.sigmoid(ops.expand_dims(state, -1) * sigma - sigma_mu)
        a = a0 + ops.sum(s * w, axis=1)
        b = b0 + ops.sum(s * w_erev, axis=1)
        state = (state + h * b) / (1.0 + h * a)
    return state


def _numpy_unfolds(v, dt, unfolds):
    state, h = v["state"], v["dt"] / unfolds if dt is None else dt / unfolds
    for _ in range(unfolds):
        s = 1.0 / (1.0 + np.exp(-(state[:, :, None] * v["sigma"] - v["sigma_mu"])))
        a = v["a0"] + np.sum(s * v["w"], axis=1)
        b = v["b0"] + np.sum(s * v["w_erev"], axis=1)
        state = (state + h * b) / (1.0 + h * a)
    return state


@pytest.mark.backends
@pytest.mark.usefixtures("float64")
@pytest.mark.parametrize("scalar_time", [False, True])
def test_values_match_numpy(scalar_time):
    v = _values()
    dt = 0.7 if scalar_time else v["dt"]
    tensors = {k: ops.convert_to_tensor(x) for k, x in v.items()}
    result = fused_unfolds(
        tensors["state"], tensors["a0"], tensors["b0"], dt if scalar_time else tensors["dt"],
        tensors["sigma"], tensors["sigma_mu"], tensors["w"], tensors["w_erev"], L,
    )
    expected = _numpy_unfolds(v, 0.7 if scalar_time else None, L)
    np.testing.assert_allclose(ops.convert_to_numpy(result), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.backends
@pytest.mark.usefixtures("float64")
@pytest.mark.parametrize("scalar_time", [False, True])
def test_gradients_match_autodiff(scalar_time):
    v = _values(seed=1)
    names = NAMES[:-1] if scalar_time else NAMES
    variables = [keras.Variable(v[name], name=name) for name in names]
    weights = ops.convert_to_tensor(np.random.default_rng(2).normal(size=(B, N)))

    def loss_of(unfold):
        def loss():
            args = {variable.name: variable for variable in variables}
            dt = 0.7 if scalar_time else args["dt"]
            state = args["state"]
            for _ in range(2):  # two input steps, so the state's gradient is chained
                state = unfold(
                    state, args["a0"], args["b0"], dt, args["sigma"], args["sigma_mu"],
                    args["w"], args["w_erev"], L,
                )
            return ops.sum(ops.tanh(state) * weights)

        return loss

    fused_loss, fused_grads = value_and_gradients(loss_of(fused_unfolds), variables)
    plain_loss, plain_grads = value_and_gradients(loss_of(_plain_unfolds), variables)
    assert fused_loss == pytest.approx(plain_loss, rel=1e-12)
    for name, fused, plain in zip(names, fused_grads, plain_grads):
        np.testing.assert_allclose(fused, plain, rtol=1e-9, atol=1e-12, err_msg=name)


@pytest.mark.backends
def test_synapse_activation_and_sum_over_axis():
    from liquidtime.kernels.fused_unfolds import scale_synapses, synapse_activation

    rng = np.random.default_rng(1)
    v = rng.normal(size=(3, 4)).astype("float32") * 10
    sigma, mu = rng.uniform(1, 8, size=(4, 5)), rng.normal(size=(4, 5))
    scaled = scale_synapses(*(ops.convert_to_tensor(a, "float32") for a in (sigma, sigma * mu)))
    np.testing.assert_allclose(
        ops.convert_to_numpy(synapse_activation(ops.convert_to_tensor(v), *scaled)),
        1.0 / (1.0 + np.exp(-sigma * (v[:, :, None].astype(float) - mu))),
        atol=3e-6,
    )
    rng = np.random.default_rng(0)
    for shape in [(5, 7, 3), (2, 1, 4), (3, 6), (9,)]:
        values = rng.normal(size=shape).astype("float32")
        for axis in range(-len(shape), len(shape)):
            result = ops.convert_to_numpy(sum_over_axis(ops.convert_to_tensor(values), axis))
            np.testing.assert_allclose(result, values.sum(axis=axis), rtol=1e-5, atol=1e-5)

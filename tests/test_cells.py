"""LTC and CfC cells against NumPy references of their equations, and gradient checks."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from conftest import to_numpy
from helpers import assert_gradients_match_finite_differences
from liquidtime import LTC, CfC, CfCCell, LTCCell

B, T, M, N = 3, 5, 4, 6


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def lecun_tanh(x):
    return 1.7159 * np.tanh(0.666 * x)


def softplus(x):
    return np.logaddexp(0.0, x)


def randomize(layer, scale=0.5, seed=0):
    rng = np.random.default_rng(seed)
    for variable in layer.weights:
        variable.assign(rng.normal(scale=scale, size=variable.shape))


def numpy_network(cell, inputs, state):
    """heads of InputStateNetwork: affine on [I, x], optionally behind an MLP."""
    net = cell.network
    w = lambda v: to_numpy(v)  # noqa: E731
    pre = inputs @ w(net.input_kernel) + state @ w(net.state_kernel) + w(net.first_bias)
    if not net.backbone_layers:
        return pre
    z = lecun_tanh(pre)
    for kernel, bias in zip(net.hidden_kernels, net.hidden_biases):
        z = lecun_tanh(z @ w(kernel) + w(bias))
    return z @ w(net.head_kernel) + w(net.head_bias)


def numpy_ltc(cell, x_seq, dt_seq, solver="fused"):
    tau = softplus(to_numpy(cell.tau))
    a_rev = to_numpy(cell.A)
    state = np.zeros((x_seq.shape[0], cell.units))
    outputs = []
    for t in range(x_seq.shape[1]):
        h = dt_seq[:, t : t + 1] / cell.ode_unfolds
        for _ in range(cell.ode_unfolds):
            f = sigmoid(numpy_network(cell, x_seq[:, t], state))
            if solver == "fused":
                state = (state + h * f * a_rev) / (1 + h * (1 / tau + f))
            else:
                state = state + h * (-(1 / tau + f) * state + f * a_rev)
        outputs.append(state)
    return np.stack(outputs, axis=1)


def numpy_cfc(cell, x_seq, dt_seq):
    state = np.zeros((x_seq.shape[0], cell.units))
    outputs = []
    for t in range(x_seq.shape[1]):
        dt = dt_seq[:, t : t + 1]
        heads = numpy_network(cell, x_seq[:, t], state)
        if cell.mode == "pure":
            a, w_tau = to_numpy(cell.A), to_numpy(cell.w_tau)
            state = -a * np.exp(-dt * (np.abs(w_tau) + np.abs(heads))) * heads + a
        else:
            g, h, ta, tb = np.split(heads, 4, axis=-1)
            g, h = np.tanh(g), np.tanh(h)
            s = sigmoid(-ta * dt + tb)
            state = s * g + (1 - s) * h if cell.mode == "default" else h + s * g
        outputs.append(state)
    return np.stack(outputs, axis=1)


def data(seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(B, T, M)).astype("float32")
    dt = rng.uniform(0.1, 2.0, size=(B, T)).astype("float32")
    return x, dt


@pytest.mark.backends
@pytest.mark.parametrize("solver", ["fused", "euler"])
@pytest.mark.parametrize("backbone", [{}, {"backbone_units": 8, "backbone_layers": 2}])
def test_ltc_matches_numpy_reference(solver, backbone):
    x, dt = data()
    layer = LTC(N, solver=solver, ode_unfolds=3, return_sequences=True, **backbone)
    layer(x)
    randomize(layer)
    expected = numpy_ltc(layer.cell, x.astype(float), dt.astype(float), solver)
    np.testing.assert_allclose(to_numpy(layer(x, elapsed_time=dt)), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.backends
@pytest.mark.parametrize("mode", ["default", "no_gate", "pure"])
@pytest.mark.parametrize("backbone_layers", [0, 1, 2])
def test_cfc_matches_numpy_reference(mode, backbone_layers):
    x, dt = data()
    layer = CfC(N, mode=mode, backbone_units=8, backbone_layers=backbone_layers, return_sequences=True)
    layer(x)
    randomize(layer)
    expected = numpy_cfc(layer.cell, x.astype(float), dt.astype(float))
    np.testing.assert_allclose(to_numpy(layer(x, elapsed_time=dt)), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode, bound", [("default", 1.0), ("no_gate", 2.0)])
def test_cfc_state_bounds(mode, bound):
    x = np.random.default_rng(2).normal(scale=100.0, size=(B, 20, M)).astype("float32")
    layer = CfC(N, mode=mode, return_sequences=True)
    layer(x)
    randomize(layer, scale=3.0)
    assert np.max(np.abs(to_numpy(layer(x, elapsed_time=5.0)))) <= bound + 1e-6


@pytest.mark.backends
@pytest.mark.parametrize("cell_class", [LTCCell, CfCCell])
def test_cell_in_keras_rnn_matches_sequence_layer(cell_class):
    """The per-step ``call`` path (keras.layers.RNN) equals the hoisted scan path."""
    x, dt = data()
    layer = (LTC if cell_class is LTCCell else CfC)(N, return_sequences=True)
    layer(x)
    randomize(layer)
    rnn = keras.layers.RNN(cell_class(N, elapsed_time_as_feature=True), return_sequences=True)
    x_with_time = np.concatenate([x, dt[..., None]], axis=-1)
    rnn(x_with_time)
    for source, target in zip(layer.cell.weights, rnn.cell.weights):
        target.assign(source)
    np.testing.assert_allclose(
        to_numpy(rnn(x_with_time)), to_numpy(layer(x, elapsed_time=dt)), rtol=1e-5, atol=1e-5
    )


@pytest.mark.backends
@pytest.mark.usefixtures("float64")
@pytest.mark.parametrize(
    "make_layer",
    [
        lambda: LTC(3, ode_unfolds=2, dtype="float64"),
        lambda: LTC(3, ode_unfolds=2, backbone_units=4, backbone_layers=1, dtype="float64"),
        lambda: CfC(3, backbone_units=4, dtype="float64"),
        lambda: CfC(3, mode="pure", backbone_units=4, dtype="float64"),
    ],
)
def test_gradients_match_finite_differences(make_layer):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 4, 2))
    dt = rng.uniform(0.2, 1.5, size=(2, 4))
    target = rng.normal(size=(2, 3))
    layer = make_layer()
    layer(x)
    randomize(layer)

    def loss():
        out = layer(x, elapsed_time=dt)
        return keras.ops.sum((out - keras.ops.convert_to_tensor(target, out.dtype)) ** 2)

    assert_gradients_match_finite_differences(loss, layer.trainable_weights)

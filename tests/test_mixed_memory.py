"""Mixed memory (ODE-LSTM): NumPy reference, every backend, Bidirectional, masks, saving."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from conftest import to_numpy
from helpers import finite_difference_gradients, value_and_gradients
from liquidtime.cells.cfc import CfCCell
from liquidtime.cells.ltc import LTCCell
from liquidtime.cells.mixed_memory import MixedMemoryCell
from liquidtime.layers import LTC, CfC
from liquidtime.wirings import AutoNCP

B, T, M, N = 3, 5, 4, 6


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def data(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(B, T, M)), rng.uniform(0.1, 2.0, size=(B, T))


def tensors(*arrays):
    return [keras.ops.convert_to_tensor(a, "float64") for a in arrays]


def randomize(layer, seed=0, scale=0.5):
    rng = np.random.default_rng(seed)
    for variable in layer.weights:
        variable.assign(rng.normal(scale=scale, size=variable.shape))


def numpy_cell_step(cell, x, state, dt):
    """One step of the wrapped cell (CfC without backbone, or fused dense LTC)."""
    net = cell.network
    w = lambda v: to_numpy(v)  # noqa: E731

    def heads(s):
        return x @ w(net.input_kernel) + s @ w(net.state_kernel) + w(net.first_bias)

    if isinstance(cell, CfCCell):
        g, h, ta, tb = np.split(heads(state), 4, axis=-1)
        s = sigmoid(-ta * dt + tb)
        return s * np.tanh(g) + (1 - s) * np.tanh(h)
    tau, a_rev = np.logaddexp(0.0, w(cell.tau)), w(cell.A)
    step = dt / cell.ode_unfolds
    for _ in range(cell.ode_unfolds):
        f = sigmoid(heads(state))
        state = (state + step * f * a_rev) / (1 + step * (1 / tau + f))
    return state


def numpy_mixed_memory(wrapper, x_seq, dt_seq):
    w = lambda v: to_numpy(v)  # noqa: E731
    state = np.zeros((x_seq.shape[0], wrapper.memory_units))
    memory = np.zeros_like(state)
    outputs = []
    for t in range(x_seq.shape[1]):
        z = x_seq[:, t] @ w(wrapper.kernel) + state @ w(wrapper.recurrent_kernel) + w(wrapper.bias)
        i, f, k, o = np.split(z, 4, axis=-1)
        memory = sigmoid(f) * memory + sigmoid(i) * np.tanh(k)
        lstm_output = sigmoid(o) * np.tanh(memory)
        state = numpy_cell_step(wrapper.cell, x_seq[:, t], lstm_output, dt_seq[:, t : t + 1])
        outputs.append(state)
    return np.stack(outputs, 1), state, memory


@pytest.mark.backends
@pytest.mark.usefixtures("float64")
@pytest.mark.parametrize(
    "make_layer",
    [
        lambda: CfC(N, backbone_layers=0, mixed_memory=True, return_sequences=True,
                    return_state=True, dtype="float64"),
        lambda: LTC(N, ode_unfolds=3, mixed_memory=True, return_sequences=True,
                    return_state=True, dtype="float64"),
    ],
    ids=["cfc", "ltc"],
)
def test_matches_numpy_reference(make_layer):
    layer = make_layer()
    x, dt = data()
    layer.build(x.shape)
    randomize(layer)
    expected, expected_state, expected_memory = numpy_mixed_memory(layer.cell, x, dt)
    outputs, state, memory = layer(*tensors(x), elapsed_time=tensors(dt)[0])
    np.testing.assert_allclose(to_numpy(outputs), expected, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(to_numpy(state), expected_state, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(to_numpy(memory), expected_memory, rtol=1e-9, atol=1e-10)


def test_structure_and_initial_forget_bias():
    layer = LTC(AutoNCP(10, output_size=2, seed=0), mixed_memory=True, return_state=True)
    output, state, memory = layer(np.zeros((2, 4, 3)))
    cell = layer.cell
    assert isinstance(cell, MixedMemoryCell) and layer.mixed_memory
    assert output.shape == (2, 2) and state.shape == (2, 10) and memory.shape == (2, 10)
    assert cell.state_size == [10, 10] and cell.output_size == 2
    bias = to_numpy(cell.bias)
    np.testing.assert_array_equal(bias[10:20], 1.0)
    np.testing.assert_array_equal(np.delete(bias, np.s_[10:20]), 0.0)
    assert not CfC(4).mixed_memory


@pytest.mark.backends
@pytest.mark.parametrize("make_layer", [
    lambda: CfC(N, mixed_memory=True, backbone_units=8),
    lambda: LTC(AutoNCP(8, output_size=2, seed=1), mixed_memory=True, ode_unfolds=2),
], ids=["cfc", "ltc-ncp"])
def test_bidirectional(make_layer):
    x, _ = data(1)
    layer = keras.layers.Bidirectional(make_layer())
    y = to_numpy(layer(x))
    forward = to_numpy(layer.forward_layer(x))
    backward = to_numpy(layer.backward_layer(x))
    assert layer.backward_layer.mixed_memory and layer.backward_layer.go_backwards
    np.testing.assert_allclose(y, np.concatenate([forward, backward], -1), rtol=1e-5, atol=1e-6)


@pytest.mark.backends
def test_training_steps_run_and_reduce_the_loss():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 6, M)).astype("float32")
    y = x[:, 0, :1] * 0.5  # remember the first step
    model = keras.Sequential([keras.Input((6, M)), CfC(8, mixed_memory=True, backbone_units=8),
                              keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(0.03), "mse")
    history = model.fit(x, y, epochs=12, batch_size=16, verbose=0).history["loss"]
    assert np.all(np.isfinite(history)) and history[-1] < 0.7 * history[0]


@pytest.mark.backends
def test_keras_rnn_with_time_feature_matches_the_layer():
    x, dt = data(2)
    layer = CfC(N, backbone_units=8, mixed_memory=True, return_sequences=True)
    layer.build(x.shape)
    randomize(layer)
    cell = MixedMemoryCell(CfCCell(N, backbone_units=8, elapsed_time_as_feature=True))
    rnn = keras.layers.RNN(cell, return_sequences=True)
    x_with_time = np.concatenate([x, dt[..., None]], -1).astype("float32")
    rnn.build(x_with_time.shape)
    rnn.set_weights(layer.get_weights())
    assert cell.elapsed_time_as_feature
    np.testing.assert_allclose(
        to_numpy(rnn(x_with_time)), to_numpy(layer(x.astype("float32"), elapsed_time=dt)),
        rtol=1e-5, atol=1e-6,
    )


@pytest.mark.backends
def test_masked_steps_keep_the_memory():
    x, _ = data(3)
    x = x.astype("float32")
    mask = np.ones((B, T), bool)
    mask[:, 2:] = False
    layer = CfC(N, mixed_memory=True, backbone_units=8, return_state=True)
    _, *masked_states = layer(x, mask=mask)
    _, *short_states = layer(x[:, :2])
    for a, b in zip(masked_states, short_states):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=1e-6, atol=1e-6)


def test_initial_state_and_stateful():
    x, _ = data(4)
    x = x.astype("float32")
    layer = CfC(N, mixed_memory=True, return_state=True)
    _, state, memory = layer(x)
    _, state_2, memory_2 = layer(x, initial_state=[state, memory])
    assert not np.allclose(to_numpy(memory_2), to_numpy(memory))
    with pytest.raises(ValueError, match="2 state"):
        layer(x, initial_state=[state])
    stateful = keras.Sequential([keras.Input((T, M), batch_size=B),
                                 CfC(N, mixed_memory=True, stateful=True)])
    first, second = to_numpy(stateful(x)), to_numpy(stateful(x))
    assert not np.allclose(first, second)


@pytest.mark.backends
@pytest.mark.usefixtures("float64")
def test_gradients_match_finite_differences():
    x, dt = data(5)
    x, dt = tensors(x[:2, :3], dt[:2, :3])
    target = keras.ops.convert_to_tensor(np.random.default_rng(1).normal(size=(2, 4)), "float64")
    layer = CfC(4, backbone_units=3, mixed_memory=True, dtype="float64")
    layer.build(x.shape)
    randomize(layer, seed=2)

    def loss():
        return keras.ops.sum((layer(x, elapsed_time=dt) - target) ** 2)

    weights = layer.trainable_weights
    _, grads = value_and_gradients(loss, weights)
    numeric = finite_difference_gradients(loss, weights, entries_per_variable=3)
    for variable, analytic, (indices, expected) in zip(weights, grads, numeric):
        picked = np.array([analytic[index] for index in indices])
        np.testing.assert_allclose(picked, expected, rtol=1e-5, atol=1e-7, err_msg=variable.path)


@pytest.mark.parametrize(
    "make_layer",
    [
        lambda: CfC(N, mixed_memory=True, mode="no_gate", backbone_units=8, return_sequences=True),
        lambda: LTC(AutoNCP(9, output_size=2, seed=2), mixed_memory=True, ode_unfolds=2),
        lambda: LTC(N, mixed_memory=True, solver="rk4", ode_unfolds=1),
        lambda: CfC(AutoNCP(9, output_size=2, seed=3), mixed_memory=True, fully_recurrent=False),
    ],
    ids=["cfc", "ltc-ncp", "ltc-dense", "cfc-ncp"],
)
def test_keras_file_round_trip(make_layer, tmp_path):
    layer = make_layer()
    model = keras.Sequential([keras.Input((T, M)), layer, keras.layers.Dense(1)])
    x, _ = data()
    path = tmp_path / "mixed.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_array_equal(to_numpy(restored(x)), to_numpy(model(x)))
    config = layer.get_config()
    assert config["mixed_memory"] is True and "cell" not in config and "forget_gate_bias" not in config
    assert restored.layers[0].get_config() == config
    assert type(layer).from_config(config).get_config() == config


def test_cell_config_round_trip():
    cell = MixedMemoryCell(LTCCell(5, ode_unfolds=2), forget_gate_bias=2.0,
                           recurrent_initializer="glorot_uniform")
    config = cell.get_config()
    restored = MixedMemoryCell.from_config(config)
    assert restored.get_config() == config
    assert isinstance(restored.cell, LTCCell) and restored.cell.ode_unfolds == 2


def test_invalid_arguments():
    with pytest.raises(ValueError, match="`cell`"):
        MixedMemoryCell(keras.layers.LSTMCell(4))
    with pytest.raises(ValueError, match="`cell`"):
        MixedMemoryCell(MixedMemoryCell(CfCCell(4)))
    with pytest.raises(ValueError, match="`forget_gate_bias`"):
        MixedMemoryCell(CfCCell(4), forget_gate_bias="one")
    with pytest.raises(ValueError, match="`mixed_memory`"):
        CfC(4, mixed_memory="yes")

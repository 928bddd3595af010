"""Wired CfC: a NumPy reference per layer, sparsity on every head, recurrence, motor slicing."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from conftest import to_numpy
from helpers import finite_difference_gradients, value_and_gradients
from liquidtime.cells.wired_cfc import WiredCfCCell, wiring_layers
from liquidtime.layers import CfC
from liquidtime.wirings import NCP, FullyConnected, MatrixWiring, Random

B, T, M = 3, 5, 4
MODES = ("default", "no_gate", "pure")


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def small_ncp():
    # Ids: motor 0-1, command 2-4, inter 5-8.
    return NCP(inter_neurons=4, command_neurons=3, motor_neurons=2, sensory_fanout=2,
               inter_fanout=2, recurrent_command_synapses=3, motor_fanin=2, seed=11)


def data(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(B, T, M)), rng.uniform(0.1, 2.0, size=(B, T))


def tensors(*arrays):
    """float64 tensors (PyTorch's Keras would round float64 NumPy inputs to float32)."""
    return [keras.ops.convert_to_tensor(a, "float64") for a in arrays]


def randomize(layer, seed=0, scale=0.6):
    rng = np.random.default_rng(seed)
    for variable in layer.weights:
        variable.assign(rng.normal(scale=scale, size=variable.shape))


def numpy_wired_cfc(cell, wiring, layers, x_seq, dt_seq):
    """Independent reference: the layers' CfC blocks on the wiring's masks, neuron-id state."""
    adjacency = np.abs(wiring.build(x_seq.shape[-1]).adjacency_matrix).astype(float)
    sensory = np.abs(wiring.build(x_seq.shape[-1]).sensory_adjacency_matrix).astype(float)
    heads = 1 if cell.mode == "pure" else 4
    w = lambda v: to_numpy(v)  # noqa: E731
    state = np.zeros((x_seq.shape[0], wiring.units))
    outputs, states = [], []
    for t in range(x_seq.shape[1]):
        dt = dt_seq[:, t : t + 1]
        u, new_state = x_seq[:, t], state.copy()
        for index, ids in enumerate(layers):
            sources = np.arange(x_seq.shape[-1]) if index == 0 else layers[index - 1]
            in_mask = (sensory if index == 0 else adjacency)[np.ix_(sources, ids)]
            rec_mask = np.ones((ids.size, ids.size))
            if not cell.fully_recurrent:
                rec_mask = adjacency[np.ix_(ids, ids)]
            kernel = w(cell.kernels[index]) * np.tile(in_mask, (1, heads))
            recurrent = w(cell.recurrent_kernels[index]) * np.tile(rec_mask, (1, heads))
            z = u @ kernel + state[:, ids] @ recurrent + w(cell.biases[index])
            if cell.mode == "pure":
                a, w_tau = w(cell.A)[ids], w(cell.w_tau)[ids]
                x_new = a - a * np.exp(-dt * (np.abs(w_tau) + np.abs(z))) * z
            else:
                g, h, ta, tb = np.split(z, 4, axis=-1)
                g, h, s = np.tanh(g), np.tanh(h), sigmoid(-ta * dt + tb)
                x_new = s * g + (1 - s) * h if cell.mode == "default" else h + s * g
            new_state[:, ids] = x_new
            u = x_new
        state = new_state
        outputs.append(state[:, : wiring.output_dim])
        states.append(state)
    return np.stack(outputs, 1), np.stack(states, 1)


NCP_LAYERS = [np.arange(5, 9), np.arange(2, 5), np.arange(0, 2)]  # inter, command, motor


@pytest.mark.backends
@pytest.mark.usefixtures("float64")
@pytest.mark.parametrize(
    "mode, fully_recurrent",
    [("default", True), ("default", False), ("no_gate", False), ("pure", True)],
)
def test_ncp_matches_numpy_reference(mode, fully_recurrent):
    wiring = small_ncp()
    x, dt = data()
    layer = CfC(wiring, mode=mode, fully_recurrent=fully_recurrent, return_sequences=True,
                dtype="float64")
    layer.build(x.shape)
    randomize(layer)
    expected, _ = numpy_wired_cfc(layer.cell, wiring, NCP_LAYERS, x, dt)
    x, dt = tensors(x, dt)
    got = to_numpy(layer(x, elapsed_time=dt))
    assert got.shape == (B, T, 2)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-10)


@pytest.mark.backends
@pytest.mark.usefixtures("float64")
@pytest.mark.parametrize("fully_recurrent", [True, False])
def test_single_layer_wiring_matches_numpy_reference(fully_recurrent):
    wiring = Random(7, output_dim=3, sparsity_level=0.5, seed=2)
    x, dt = data(1)
    layer = CfC(wiring, fully_recurrent=fully_recurrent, return_sequences=True, dtype="float64")
    layer.build(x.shape)
    randomize(layer, seed=1)
    assert wiring_layers(wiring) == [(0, 7)]
    expected, _ = numpy_wired_cfc(layer.cell, wiring, [np.arange(7)], x, dt)
    x, dt = tensors(x, dt)
    np.testing.assert_allclose(to_numpy(layer(x, elapsed_time=dt)), expected, rtol=1e-9, atol=1e-10)


def test_layers_of_wirings():
    assert wiring_layers(small_ncp()) == [(5, 9), (2, 5), (0, 2)]
    assert wiring_layers(FullyConnected(5, output_dim=2, seed=0)) == [(0, 5)]


def test_output_is_the_motor_slice_of_the_state():
    wiring = FullyConnected(6, output_dim=2, seed=3)  # torch ncps forgets this slice
    x, dt = data()
    layer = CfC(wiring, return_sequences=True, return_state=True)
    outputs, state = layer(x, elapsed_time=dt)
    assert outputs.shape == (B, T, 2) and state.shape == (B, 6)
    np.testing.assert_allclose(to_numpy(outputs[:, -1]), to_numpy(state[:, :2]), rtol=1e-6)
    assert layer.cell.output_size == 2 and layer.cell.state_size == 6


@pytest.mark.parametrize("mode", MODES)
def test_missing_synapses_carry_no_signal_in_any_head(mode):
    """Weights at masked positions, time gates included, never change the output."""
    wiring = small_ncp()
    x, dt = data()
    layer = CfC(wiring, mode=mode, fully_recurrent=False, return_sequences=True)
    layer.build(x.shape)
    randomize(layer)
    cell = layer.cell
    before = to_numpy(layer(x, elapsed_time=dt))
    rng = np.random.default_rng(5)
    heads = cell.num_heads
    for index, (in_mask, rec_mask) in enumerate(cell.layer_masks()):
        for variable, mask in ((cell.kernels[index], in_mask), (cell.recurrent_kernels[index], rec_mask)):
            tiled = np.tile(mask, (1, heads))
            assert (tiled == 0).any()  # every block of this wiring has missing synapses
            value = to_numpy(variable)
            noise = rng.normal(scale=50.0, size=value.shape)
            variable.assign(np.where(tiled == 0, value + noise, value))
    np.testing.assert_allclose(to_numpy(layer(x, elapsed_time=dt)), before, rtol=1e-6, atol=1e-6)
    # ... and changing one existing synapse of the time gate does change it.
    if mode != "pure":
        in_mask = cell.layer_masks()[0][0]
        source, target = np.argwhere(in_mask)[0]
        n = in_mask.shape[1]
        value = to_numpy(cell.kernels[0])
        value[source, 2 * n + target] += 5.0  # time_a head of that neuron
        cell.kernels[0].assign(value)
        assert np.abs(to_numpy(layer(x, elapsed_time=dt)) - before).max() > 1e-4


def test_fully_recurrent_settings_differ_in_the_recurrent_masks():
    wiring = small_ncp()
    layers = {fr: CfC(wiring, fully_recurrent=fr) for fr in (True, False)}
    for layer in layers.values():
        layer.build((None, T, M))
    adjacency = np.abs(wiring.adjacency_matrix)
    dense = layers[True].cell.layer_masks()
    sparse = layers[False].cell.layer_masks()
    for (in_dense, rec_dense), (in_sparse, rec_sparse), ids in zip(dense, sparse, NCP_LAYERS):
        np.testing.assert_array_equal(in_dense, in_sparse)
        np.testing.assert_array_equal(rec_dense, np.ones((ids.size, ids.size)))
        np.testing.assert_array_equal(rec_sparse, adjacency[np.ix_(ids, ids)])
    # In an NCP only the command neurons have synapses among themselves.
    assert [int(r.sum()) for _, r in sparse] == [0, 3, 0]


def test_inputs_reach_only_the_neurons_they_synapse_onto():
    wiring = MatrixWiring([[0, 0], [1, 0]], [[0, 1], [0, 0]], output_dim=1)  # input 0 -> 1 -> 0
    layer = CfC(wiring, fully_recurrent=False, return_sequences=True, return_state=True)
    x = np.zeros((1, 3, 2))
    x_changed = x.copy()
    x_changed[..., 1] = 10.0  # input 1 has no synapse at all
    layer.build(x.shape)
    randomize(layer)
    for a, b in zip(layer(x), layer(x_changed)):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=1e-6)


@pytest.mark.backends
def test_keras_rnn_with_time_feature_matches_hoisted_layer():
    wiring = small_ncp()
    x, dt = data()
    layer = CfC(wiring, fully_recurrent=False, return_sequences=True)
    layer.build(x.shape)
    randomize(layer)
    rnn = keras.layers.RNN(WiredCfCCell(wiring, fully_recurrent=False, elapsed_time_as_feature=True),
                           return_sequences=True)
    x_with_time = np.concatenate([x, dt[..., None]], axis=-1)
    rnn.build(x_with_time.shape)
    rnn.set_weights(layer.get_weights())
    np.testing.assert_allclose(
        to_numpy(rnn(x_with_time)), to_numpy(layer(x, elapsed_time=dt)), rtol=1e-5, atol=1e-6
    )
    assert wiring.input_dim is None


@pytest.mark.backends
@pytest.mark.usefixtures("float64")
@pytest.mark.parametrize("mode", ["default", "pure"])
def test_gradients_match_finite_differences(mode):
    wiring = small_ncp()
    x, dt = data(2)
    x, dt = tensors(x[:2, :3], dt[:2, :3])
    target = keras.ops.convert_to_tensor(np.random.default_rng(4).normal(size=(2, 2)), "float64")
    layer = CfC(wiring, mode=mode, fully_recurrent=False, dtype="float64")
    layer.build(x.shape)
    randomize(layer, seed=3)

    def loss():
        return keras.ops.sum((layer(x, elapsed_time=dt) - target) ** 2)

    weights = layer.trainable_weights
    _, grads = value_and_gradients(loss, weights)
    numeric = finite_difference_gradients(loss, weights, entries_per_variable=3)
    for variable, analytic, (indices, expected) in zip(weights, grads, numeric):
        picked = np.array([analytic[index] for index in indices])
        np.testing.assert_allclose(picked, expected, rtol=1e-5, atol=1e-7, err_msg=variable.path)
    # Masked entries get exactly zero gradient.
    cell = layer.cell
    for index, (in_mask, _) in enumerate(cell.layer_masks()):
        gradient = grads[[id(v) for v in weights].index(id(cell.kernels[index]))]
        assert np.all(gradient[np.tile(in_mask, (1, cell.num_heads)) == 0] == 0.0)


@pytest.mark.parametrize("mode, fully_recurrent", [("default", True), ("pure", False)])
def test_keras_file_round_trip(mode, fully_recurrent, tmp_path):
    layer = CfC(small_ncp(), mode=mode, fully_recurrent=fully_recurrent, return_sequences=True,
                kernel_regularizer="l2")
    model = keras.Sequential([keras.Input((T, M)), layer, keras.layers.Dense(1)])
    x, _ = data()
    path = tmp_path / "wired.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_array_equal(to_numpy(restored(x)), to_numpy(model(x)))
    assert restored.layers[0].get_config() == layer.get_config()
    config = layer.get_config()
    assert config["units"]["class_name"] == "NCP" and "wiring" not in config
    cell_config = layer.cell.get_config()
    assert WiredCfCCell.from_config(cell_config).get_config() == cell_config


def test_training_reduces_the_loss():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 8, M)).astype("float32")
    y = np.cumsum(x[..., :1], axis=1)[:, -1] * 0.3
    model = keras.Sequential([keras.Input((8, M)), CfC(small_ncp(), fully_recurrent=False),
                              keras.layers.Dense(1)])
    model.compile(keras.optimizers.Adam(0.02), "mse")
    history = model.fit(x, y, epochs=15, batch_size=16, verbose=0).history["loss"]
    assert history[-1] < 0.7 * history[0]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"backbone_units": 8}, "belong to CfCCell"),
        ({"fully_recurrent": "yes"}, "fully_recurrent"),
        ({"mode": "fast"}, "mode"),
    ],
)
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CfC(small_ncp(), **kwargs)


def test_fully_recurrent_needs_a_wiring():
    with pytest.raises(ValueError, match="belong to WiredCfCCell"):
        CfC(8, fully_recurrent=False)


def test_non_consecutive_layers_are_rejected():
    class Scrambled(MatrixWiring):
        def neuron_type(self, neuron_id):
            return ("motor", "command", "inter", "command")[neuron_id]

    wiring = Scrambled(np.zeros((4, 4)), np.ones((1, 4)), output_dim=1)
    with pytest.raises(ValueError, match="consecutive ids"):
        WiredCfCCell(wiring)

"""From ncps to liquidtime: the compat module runs ncps.keras code; weights convert exactly.

The equivalence tests need ncps 1.0.1 (a test-only dependency; its Keras part needs no
torch) and skip without it; the PyTorch state_dict tests also need torch.
"""

from __future__ import annotations

import textwrap

import keras
import numpy as np
import pytest

from conftest import to_numpy
from liquidtime.cells.ltc import LTCCell
from liquidtime.compat import ConvertedWiring, load_ncps_weights, wiring_from_ncps
from liquidtime.compat.ncps import keras as ncps_keras
from liquidtime.compat.ncps import wirings as ncps_wirings
from liquidtime.layers import LTC, CfC
from liquidtime.wirings import AutoNCP, FullyConnected

B, T, M = 3, 6, 4
POSITIVE = ("gleak", "cm", "w", "sensory_w")

# Typical ncps.keras user code (after its README and examples), verbatim apart from the
# two import lines that the test rewrites. With its original imports, ncps 1.0.1 runs it on
# TensorFlow except the fully_recurrent=False branch (ncps crashes there), and on JAX it fails
# at the first fit (integer reversal potentials). The cells inside keras.layers.RNN get no backbone
# dropout: Keras's RNN draws per-step dropout masks inside its JAX scan for cells that are
# not keras's own DropoutRNNCell, which JAX rejects while training (ncps's cells too).
NCPS_SCRIPT = textwrap.dedent(
    """
    import keras
    import numpy as np
    from ncps import wirings
    from ncps.keras import LTC, CfC, CfCCell, LTCCell, MixedMemoryRNN, WiredCfCCell

    x = np.random.default_rng(0).normal(size=(8, 5, 2)).astype("float32")
    y = np.sin(np.cumsum(x[..., :1], axis=1)).astype("float32")

    wiring = wirings.AutoNCP(12, 1)
    model = keras.models.Sequential(
        [keras.layers.InputLayer(shape=(None, 2)), LTC(wiring, return_sequences=True)]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mean_squared_error")
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][-1])
    assert wiring.synapse_count > 0 and wiring.sensory_synapse_count > 0
    assert wiring.get_type_of_neuron(0) == "motor" and wiring.num_layers == 3

    inputs = keras.Input(shape=(5, 2))
    branches = [
        CfC(6, mixed_memory=True, mode="no_gate", backbone_units=16, return_sequences=True)(inputs),
        CfC(wirings.NCP(4, 3, 2, 2, 2, 2, 2), mode="pure", return_sequences=True)(inputs),
        CfC(wirings.Random(6, 2, sparsity_level=0.5), fully_recurrent=False, return_sequences=True)(inputs),
        LTC(wirings.FullyConnected(5, 2), mixed_memory=True, return_sequences=True)(inputs),
        keras.layers.RNN(LTCCell(wirings.FullyConnected(4), input_mapping="linear",
                                 output_mapping=None, ode_unfolds=3), return_sequences=True)(inputs),
        keras.layers.RNN(CfCCell(5, backbone_units=8, backbone_dropout=0.0), return_sequences=True)(inputs),
        keras.layers.RNN(WiredCfCCell(wirings.AutoNCP(8, 2)), return_sequences=True)(inputs),
        keras.layers.RNN(MixedMemoryRNN(CfCCell(5, backbone_dropout=0.0)), return_sequences=True)(inputs),
        keras.layers.Bidirectional(CfC(4, return_sequences=True))(inputs),
    ]
    outputs = keras.layers.Dense(1)(keras.layers.Concatenate()(branches))
    model = keras.Model(inputs, outputs)
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(model(x))))
    """
)


def to_liquidtime(script: str) -> str:
    script = script.replace("from ncps import wirings", "from liquidtime.compat.ncps import wirings")
    return script.replace("from ncps.keras import", "from liquidtime.compat.ncps.keras import")


@pytest.mark.backends
def test_typical_ncps_keras_code_runs_after_changing_the_imports():
    script = to_liquidtime(NCPS_SCRIPT)
    assert script.count("liquidtime.compat.ncps") == 2 and "from ncps" not in script
    exec(compile(script, "ncps_user_code.py", "exec"), {})


def test_compat_classes_are_liquidtime_classes_with_ncps_signatures():
    assert issubclass(ncps_keras.LTC, LTC) and issubclass(ncps_keras.CfC, CfC)
    layer = ncps_keras.LTC(5)
    assert isinstance(layer.cell.wiring, ncps_wirings.FullyConnected)
    assert layer.cell.wiring.seed == 1111 and layer.cell.epsilon == 1e-8
    assert layer.cell.ode_unfolds == 6 and layer.cell.input_mapping == "affine"
    cfc = ncps_keras.CfC(5)
    assert (cfc.cell.backbone_units, cfc.cell.backbone_layers, cfc.cell.backbone_dropout) == (128, 1, 0.0)
    assert ncps_keras.CfCCell(5).backbone_dropout == 0.1
    wired = ncps_keras.CfC(ncps_wirings.AutoNCP(8, 2), activation="relu", fully_recurrent=False)
    assert not wired.cell.fully_recurrent
    mixed = ncps_keras.MixedMemoryRNN(ncps_keras.CfCCell(4))
    assert mixed.rnn_cell is mixed.cell and mixed.forget_gate_bias == 1.0
    assert ncps_keras.CfC(4, fully_recurrent=False).cell.units == 4  # ignored, as in ncps


def test_compat_wirings_follow_ncps():
    ncp = ncps_wirings.NCP(4, 3, 2, 2, 2, 2, 2)
    assert ncp.seed == 22222 and ncp.num_layers == 3
    assert [ncp.get_neurons_of_layer(i) for i in range(3)] == [[5, 6, 7, 8], [2, 3, 4], [0, 1]]
    auto = ncps_wirings.AutoNCP(16, 3)
    assert isinstance(auto, ncps_wirings.NCP) and isinstance(auto, ncps_wirings.Wiring)
    assert auto.seed == 22222 and auto.sparsity_level == 0.5
    assert ncps_wirings.Random(6).seed == 1111 and ncps_wirings.FullyConnected(6).num_layers == 1
    assert ncps_wirings.FullyConnected(6).erev_initializer().dtype == np.float32
    assert auto.build(5) is auto and auto.input_dim == 5  # in place, as ncps
    assert auto.sensory_erev_initializer().shape == (5, 16)
    with pytest.raises(ValueError, match="input_dim=5"):
        auto.build(4)
    layer = ncps_keras.LTC(ncps_wirings.AutoNCP(10, 2))
    layer(np.zeros((2, 3, 4)))
    assert layer.cell.wiring.input_dim == 4  # the layer built the user's wiring, as ncps
    graph = auto.get_graph()
    assert graph.number_of_edges() == auto.synapse_count + auto.sensory_synapse_count


def test_custom_wiring_in_ncps_style_runs_and_saves(tmp_path):
    @keras.saving.register_keras_serializable(package="test_ncps_compat")
    class Chain(ncps_wirings.Wiring):
        def __init__(self, units=3, input_dim=None):
            super().__init__(units, input_dim=input_dim)
            self.set_output_dim(1)
            for i in range(units - 1):
                self.add_synapse(i + 1, i, 1)

        def build(self, input_dim):
            super().build(input_dim)
            for k in range(input_dim):
                self.add_sensory_synapse(k, self.units - 1, -1)
            return self

        def get_config(self):
            return {"units": self.units, "input_dim": self.input_dim}

    wiring = Chain()
    assert wiring.synapse_count == 2
    model = keras.Sequential([keras.Input((T, 2)), ncps_keras.LTC(wiring), keras.layers.Dense(1)])
    assert wiring.sensory_synapse_count == 2
    x = np.random.default_rng(0).normal(size=(2, T, 2))
    path = tmp_path / "chain.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_array_equal(to_numpy(restored(x)), to_numpy(model(x)))


@pytest.mark.parametrize(
    "make_layer",
    [
        lambda: ncps_keras.LTC(ncps_wirings.AutoNCP(10, 2), mixed_memory=True, output_mapping=None),
        lambda: ncps_keras.CfC(6, mode="pure", backbone_layers=2, backbone_units=8),
        lambda: ncps_keras.CfC(ncps_wirings.Random(6, 2, sparsity_level=0.4), mixed_memory=True),
    ],
    ids=["ltc", "cfc", "wired-cfc"],
)
def test_compat_layers_save_and_load(make_layer, tmp_path):
    layer = make_layer()
    model = keras.Sequential([keras.Input((T, M)), layer, keras.layers.Dense(1)])
    x = np.random.default_rng(1).normal(size=(2, T, M))
    path = tmp_path / "compat.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    assert type(restored.layers[0]) is type(layer)
    np.testing.assert_array_equal(to_numpy(restored(x)), to_numpy(model(x)))


def without_names(config):
    """A layer config as ncps's tests compare them: names dropped, wirings as their configs."""
    config = dict(config)
    config.pop("name")
    config["cell"] = {**config["cell"], "config": dict(config["cell"]["config"])}
    config["cell"]["config"].pop("name")
    for key in ("units", "wiring"):
        if hasattr(config.get(key), "get_config"):
            config[key] = config[key].get_config()
    return config


@pytest.mark.parametrize(
    "make_layer, units_kind, cell_class",
    [
        (lambda: ncps_keras.LTC(7, return_sequences=True), "wiring", ncps_keras.LTCCell),
        (lambda: ncps_keras.LTC(ncps_wirings.AutoNCP(10, 3)), "wiring", ncps_keras.LTCCell),
        (lambda: ncps_keras.CfC(7, backbone_units=8), "int", ncps_keras.CfCCell),
        (lambda: ncps_keras.CfC(ncps_wirings.AutoNCP(10, 3)), "wiring", ncps_keras.WiredCfCCell),
        (lambda: ncps_keras.CfC(ncps_wirings.AutoNCP(10, 3), mixed_memory=True), "wiring",
         ncps_keras.MixedMemoryRNN),
    ],
    ids=["ltc", "ltc-ncp", "cfc", "cfc-ncp", "cfc-ncp-mixed"],
)
def test_layer_configs_have_ncps_layout(make_layer, units_kind, cell_class):
    layer = make_layer()
    layer(np.zeros((2, T, M), "float32"))
    assert type(layer.cell) is cell_class
    config = layer.get_config()
    # As ncps.keras writes it: keras.layers.RNN's serialized cell, units the wiring object.
    assert config["cell"]["config"]["name"] == layer.cell.name
    if units_kind == "int":
        assert config["units"] == 7 and config["activation"] == "lecun_tanh"
    else:
        assert isinstance(config["units"], ncps_wirings.Wiring)
        assert config["units"].get_config() == layer.get_config()["units"].get_config()
    # Keras's Bidirectional makes its backward layer from this config: same but the names.
    twin = type(layer).from_config({**config, "go_backwards": True})
    twin(np.zeros((2, T, M), "float32"))
    assert without_names(twin.get_config()) == without_names({**config, "go_backwards": True})
    if cell_class is ncps_keras.MixedMemoryRNN:
        rnn_cell = layer.cell.get_config()["rnn_cell"]
        assert rnn_cell["name"] == layer.cell.rnn_cell.name
        assert isinstance(rnn_cell["wiring"], ncps_wirings.AutoNCP)
        assert rnn_cell["activation"] == "lecun_tanh"


@pytest.mark.parametrize("bidirectional", [False, True])
def test_saved_configs_load_with_ncps_layout_and_equal_weights(bidirectional, tmp_path):
    layer = ncps_keras.CfC(ncps_wirings.AutoNCP(10, 3), mixed_memory=True, return_sequences=True)
    if bidirectional:
        layer = keras.layers.Bidirectional(layer)
    model = keras.Sequential([keras.Input((None, 2)), layer, keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    x = np.random.default_rng(0).normal(size=(2, T, 2)).astype("float32")
    model.fit(x, x[..., :1], epochs=1, verbose=0)
    model.save(tmp_path / "model.keras")
    restored = keras.saving.load_model(tmp_path / "model.keras")
    saved, loaded = model.layers[0], restored.layers[0]
    pairs = [(saved.forward_layer, loaded.forward_layer), (saved.backward_layer, loaded.backward_layer)] \
        if bidirectional else [(saved, loaded)]
    for before, after in pairs:
        assert without_names(after.get_config()) == without_names(before.get_config())
        assert isinstance(after.cell, ncps_keras.MixedMemoryRNN)
    for a, b in zip(restored.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_configs_load_in_the_earlier_layout_and_in_ncps_layout():
    x = np.random.default_rng(2).normal(size=(2, T, M)).astype("float32")
    for layer in (ncps_keras.LTC(ncps_wirings.AutoNCP(10, 3), mixed_memory=True),
                  ncps_keras.CfC(ncps_wirings.NCP(4, 3, 2, 2, 2, 2, 2)), ncps_keras.CfC(5)):
        layer(x)
        config = keras.saving.serialize_keras_object(layer)["config"]  # as saved: all JSON
        # Earlier versions: flat arguments, units the serialized wiring, no cell or wiring keys.
        earlier = {k: v for k, v in config.items() if k not in ("cell", "wiring")}
        for restored in (type(layer).from_config(config), type(layer).from_config(earlier)):
            restored(x)
            restored.set_weights(layer.get_weights())
            np.testing.assert_array_equal(to_numpy(restored(x)), to_numpy(layer(x)))
    # Earlier MixedMemoryRNN configs: rnn_cell was the serialized cell.
    memory = ncps_keras.MixedMemoryRNN(ncps_keras.CfCCell(4))
    earlier = {**memory.get_config(), "rnn_cell": keras.saving.serialize_keras_object(memory.cell)}
    earlier.pop("cell")
    assert isinstance(ncps_keras.MixedMemoryRNN.from_config(earlier).rnn_cell, ncps_keras.CfCCell)


def test_ncps_own_configs_load(ncps_keras_module):
    nk, nw = ncps_keras_module
    x = np.random.default_rng(3).normal(size=(2, T, M)).astype("float32")
    for ncps_layer, ours in [
        (nk.LTC(nw.AutoNCP(10, 3), return_sequences=True), ncps_keras.LTC),
        (nk.CfC(6, mode="pure", backbone_units=8), ncps_keras.CfC),
        (nk.CfC(nw.AutoNCP(10, 3), mode="no_gate"), ncps_keras.CfC),
    ]:
        expected = ncps_layer(x)
        config = keras.saving.serialize_keras_object(ncps_layer)["config"]  # as ncps saves it
        layer = ours.from_config(config)
        assert tuple(layer(x).shape) == tuple(expected.shape)
        assert layer.get_config()["mode" if ours is ncps_keras.CfC else "ode_unfolds"] == \
            ncps_layer.get_config()["mode" if ours is ncps_keras.CfC else "ode_unfolds"]
        ncps_units = ncps_layer.get_config()["units"]
        if isinstance(ncps_units, int):
            assert layer.cell.units == ncps_units
        else:  # the same wiring class and arguments
            assert type(layer.cell.wiring).__name__ == type(ncps_units).__name__
            assert layer.cell.wiring.units == ncps_units.units
            assert layer.cell.wiring.output_dim == ncps_units.output_dim
    bare = {"rnn_cell": nk.CfCCell(4, backbone_units=8).get_config(), "forget_gate_bias": 1.0}
    memory = ncps_keras.MixedMemoryRNN.from_config(bare)
    assert isinstance(memory.rnn_cell, ncps_keras.CfCCell) and memory.rnn_cell.backbone_units == 8


def test_draw_graph_returns_the_legend_handles_inside_the_figure():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    wiring = ncps_wirings.AutoNCP(12, 2)
    wiring.build(3)
    figure = plt.figure(figsize=(6, 4))
    try:
        handles = wiring.draw_graph(draw_labels=True)
        labels = [handle.get_label() for handle in handles]
        assert labels[:4] == ["sensory neurons (3)", "inter neurons (6)", "command neurons (4)",
                              "motor neurons (2)"]
        assert labels[4].startswith("excitatory synapses") and labels[5].startswith("inhibitory")
        figure.canvas.draw()
        box, frame = plt.gca().get_legend().get_window_extent(), figure.bbox
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
        assert len(plt.legend(handles=handles).get_texts()) == 6  # ncps's tutorial
    finally:
        plt.close(figure)


def test_get_graph_without_networkx_says_what_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "networkx", None)  # import networkx then fails
    with pytest.raises(ImportError, match="pip install networkx"):
        ncps_wirings.AutoNCP(8, 2).get_graph()


def test_compat_arguments_that_ncps_rejects_or_we_do_not_support():
    with pytest.raises(ValueError, match="backbone_units in wired mode"):
        ncps_keras.CfC(ncps_wirings.AutoNCP(8, 2), backbone_units=8)
    with pytest.raises(ValueError, match="sparsity_mask"):
        ncps_keras.CfCCell(4, sparsity_mask=np.ones((8, 4)))
    with pytest.raises(ValueError, match="polarity"):
        ncps_wirings.Wiring(3).add_synapse(0, 1, 2)


# Weight conversion against ncps itself --------------------------------------------------


def data(seed=0):
    return np.random.default_rng(seed).normal(size=(B, T, M)).astype("float32")


def randomize_ncps_keras(layer, seed=0):
    """Random weights; positive conductances; reversal potentials zero off the synapses."""
    rng = np.random.default_rng(seed)
    values = []
    for variable, old in zip(layer.weights, layer.get_weights()):
        name = variable.name
        if name in POSITIVE:
            value = rng.uniform(0.05, 1.0, size=old.shape)
        else:
            value = rng.normal(scale=0.6, size=old.shape)
        if name.endswith("erev"):
            value = np.where(old == 0, 0.0, value)
        values.append(value.astype("float32"))
    layer.set_weights(values)


def convert_keras(ncps_layer, ours, x, **kwargs):
    ncps_layer(x)
    randomize_ncps_keras(ncps_layer)
    expected = to_numpy(ncps_layer(x))
    ours.build(x.shape)
    load_ncps_weights(ours, ncps_layer.get_weights(), **kwargs)
    return to_numpy(ours(x)), expected


@pytest.fixture
def ncps_keras_module():
    pytest.importorskip("ncps", reason="ncps==1.0.1 is a test-only dependency")
    from ncps import keras as real_ncps_keras
    from ncps import wirings as real_ncps_wirings

    return real_ncps_keras, real_ncps_wirings


@pytest.mark.backends
@pytest.mark.parametrize(
    "mappings, positivity",
    [(("affine", "affine"), "softplus"), (("linear", None), "clip"), ((None, "linear"), "softplus")],
)
def test_keras_ncps_ltc_on_an_ncp_converts_exactly(ncps_keras_module, mappings, positivity):
    nk, nw = ncps_keras_module
    x = data()
    wiring = nw.AutoNCP(12, 2, seed=5)
    ncps_layer = nk.LTC(wiring, input_mapping=mappings[0], output_mapping=mappings[1],
                        ode_unfolds=4, epsilon=1e-6, return_sequences=True)
    ncps_layer(x)  # builds the ncps wiring
    ours = ncps_keras.LTC(wiring_from_ncps(wiring), input_mapping=mappings[0],
                          output_mapping=mappings[1], ode_unfolds=4, epsilon=1e-6,
                          positivity=positivity, return_sequences=True)
    got, expected = convert_keras(ncps_layer, ours, x)
    assert got.shape == (B, T, 2)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_keras_ncps_fully_connected_ltc_converts_exactly(ncps_keras_module):
    nk, _ = ncps_keras_module
    x = data(1)
    got, expected = convert_keras(nk.LTC(6, return_sequences=True),
                                  ncps_keras.LTC(6, return_sequences=True), x)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.backends
@pytest.mark.parametrize("backbone_layers", [0, 2])
def test_keras_ncps_pure_cfc_converts_exactly(ncps_keras_module, backbone_layers):
    nk, _ = ncps_keras_module
    x = data(2)
    options = {"mode": "pure", "backbone_units": 7, "backbone_layers": backbone_layers,
               "return_sequences": True}
    got, expected = convert_keras(nk.CfC(5, **options), ncps_keras.CfC(5, **options), x)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_keras_ncps_wired_pure_cfc_converts_exactly(ncps_keras_module):
    nk, nw = ncps_keras_module
    x = data(3)
    wiring = nw.AutoNCP(12, 2, seed=6)
    ncps_layer = nk.CfC(wiring, mode="pure", return_sequences=True)
    ncps_layer(x)
    ours = CfC(wiring_from_ncps(wiring), mode="pure", return_sequences=True)
    got, expected = convert_keras(ncps_layer, ours, x)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("wired", [False, True])
def test_keras_ncps_gated_cfc_is_refused_for_its_missing_tanh(ncps_keras_module, wired):
    nk, nw = ncps_keras_module
    x = data(4)
    if wired:
        wiring = nw.AutoNCP(12, 2, seed=6)
        ncps_layer = nk.CfC(wiring, return_sequences=True)
        ncps_layer(x)
        ours = CfC(wiring_from_ncps(wiring), return_sequences=True)
    else:
        ncps_layer, ours = nk.CfC(5, return_sequences=True), CfC(5, return_sequences=True)
    with pytest.raises(ValueError, match="no tanh"):
        convert_keras(ncps_layer, ours, x)
    with pytest.warns(UserWarning, match="no tanh"):
        got, expected = convert_keras(ncps_layer, ours, x, strict=False)
    assert got.shape == expected.shape


def test_keras_ncps_mixed_memory_and_mismatches_are_refused(ncps_keras_module):
    nk, nw = ncps_keras_module
    x = data(5)
    with pytest.raises(ValueError, match="another model|models differ"):
        layer = CfC(5, mixed_memory=True)
        layer.build(x.shape)
        load_ncps_weights(layer, [])
    wiring = nw.AutoNCP(12, 2, seed=7)
    ncps_layer = nk.LTC(wiring)
    ncps_layer(x)
    randomize_ncps_keras(ncps_layer)
    own_synapses = LTC(AutoNCP(12, 2, seed=7))
    own_synapses.build(x.shape)
    with pytest.raises(ValueError, match="wiring_from_ncps"):
        load_ncps_weights(own_synapses, ncps_layer.get_weights())
    dense = LTC(12)
    dense.build(x.shape)
    with pytest.raises(ValueError, match="dense LTC"):
        load_ncps_weights(dense, ncps_layer.get_weights())
    with pytest.raises(ValueError, match="Build the liquidtime layer"):
        load_ncps_weights(LTC(wiring_from_ncps(wiring)), ncps_layer.get_weights())
    with pytest.raises(ValueError, match="left over|ran out"):
        other = LTC(wiring_from_ncps(wiring), output_mapping="none")
        other.build(x.shape)
        load_ncps_weights(other, ncps_layer.get_weights())


def test_wiring_from_ncps_keeps_synapses_and_layers(ncps_keras_module):
    _, nw = ncps_keras_module
    wiring = nw.AutoNCP(14, 3, seed=1)
    with pytest.raises(ValueError, match="build it first"):
        wiring_from_ncps(wiring)
    wiring.build(4)
    converted = wiring_from_ncps(wiring)
    np.testing.assert_array_equal(converted.adjacency_matrix, wiring.adjacency_matrix)
    np.testing.assert_array_equal(converted.sensory_adjacency_matrix, wiring.sensory_adjacency_matrix)
    assert [converted.neurons_of_type(k).tolist() for k in ("inter", "command", "motor")] == [
        list(wiring.get_neurons_of_layer(i)) for i in range(3)
    ]
    restored = ConvertedWiring.from_config(converted.get_config())
    assert restored.get_config() == converted.get_config()
    fully = nw.FullyConnected(5, 2)
    fully.build(3)
    config = nw.Wiring.get_config(fully)  # the base class's config holds the matrices
    assert wiring_from_ncps(config).neuron_types.count("command") == 0


# PyTorch state_dicts --------------------------------------------------------------------


@pytest.fixture
def ncps_torch():
    pytest.importorskip("ncps", reason="ncps==1.0.1 is a test-only dependency")
    pytest.importorskip("torch")
    import torch
    from ncps import torch as real_ncps_torch
    from ncps import wirings as real_ncps_wirings

    torch.manual_seed(0)
    return real_ncps_torch, real_ncps_wirings, torch


def torch_outputs(module, x, torch, seed=0, mutate=None):
    """Randomizes the trainable parameters, runs the module, returns (outputs, state_dict)."""
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            if parameter.requires_grad:
                parameter.copy_(torch.tensor(rng.normal(scale=0.5, size=tuple(parameter.shape))))
        if mutate is not None:
            mutate(module)
        outputs, _ = module(torch.tensor(x))
    return outputs.numpy(), {k: v.numpy() for k, v in module.state_dict().items()}


def convert_torch(module, ours, x, torch, mutate=None, **kwargs):
    expected, state_dict = torch_outputs(module, x, torch, mutate=mutate)
    ours.build(x.shape)
    load_ncps_weights(ours, state_dict, **kwargs)
    return to_numpy(ours(x)), expected


@pytest.mark.backends
@pytest.mark.parametrize("implicit", [True, False])
@pytest.mark.parametrize("positivity", ["softplus", "clip"])
def test_torch_ncps_ltc_converts_exactly(ncps_torch, implicit, positivity):
    nt, nw, torch = ncps_torch
    x = data(6)

    def make_positive(module):
        if not implicit:
            for name in POSITIVE:
                getattr(module.rnn_cell, name).abs_()

    wiring = nw.AutoNCP(12, 2, seed=8)
    module = nt.LTC(M, wiring, implicit_param_constraints=implicit, ode_unfolds=3)
    ours = LTC(wiring_from_ncps(wiring), ode_unfolds=3, positivity=positivity,
               return_sequences=True)
    got, expected = convert_torch(module, ours, x, torch, mutate=make_positive,
                                  implicit_param_constraints=implicit)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_torch_ncps_mixed_memory_ltc_converts_exactly(ncps_torch):
    nt, _, torch = ncps_torch
    x = data(7)
    got, expected = convert_torch(nt.LTC(M, 6, mixed_memory=True),
                                  ncps_keras.LTC(6, mixed_memory=True, return_sequences=True),
                                  x, torch)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.backends
@pytest.mark.parametrize("mode", ["default", "no_gate", "pure"])
@pytest.mark.parametrize("mixed_memory", [False, True])
def test_torch_ncps_cfc_converts_exactly(ncps_torch, mode, mixed_memory):
    nt, _, torch = ncps_torch
    x = data(8)
    module = nt.CfC(M, 5, mode=mode, mixed_memory=mixed_memory, backbone_units=7,
                    backbone_layers=2)
    ours = CfC(5, mode=mode, mixed_memory=mixed_memory, backbone_units=7, backbone_layers=2,
               return_sequences=True)
    got, expected = convert_torch(module, ours, x, torch)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_torch_ncps_wired_cfc(ncps_torch):
    nt, nw, torch = ncps_torch
    x = data(9)
    wiring = nw.AutoNCP(12, 2, seed=9)
    pure = nt.CfC(M, wiring, mode="pure")
    got, expected = convert_torch(pure, CfC(wiring_from_ncps(wiring), mode="pure",
                                            return_sequences=True), x, torch)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)

    gated = nt.CfC(M, wiring)
    ours = CfC(wiring_from_ncps(wiring), return_sequences=True)
    with pytest.raises(ValueError, match="does not mask its time gates"):
        convert_torch(gated, ours, x, torch)

    def mask_time_gates(module):  # time-gate weights only on the wiring's synapses
        for layer in module.rnn_cell._layers:
            layer.time_a.weight.mul_(layer.sparsity_mask)
            layer.time_b.weight.mul_(layer.sparsity_mask)

    got, expected = convert_torch(gated, ours, x, torch, mutate=mask_time_gates)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_torch_state_dict_mismatches_are_refused(ncps_torch):
    nt, nw, torch = ncps_torch
    x = data(10)
    _, state_dict = torch_outputs(nt.LTC(M, nw.AutoNCP(12, 2, seed=3)), x, torch)
    for layer, match in [
        (LTC(AutoNCP(12, 2, seed=3)), "sparsity_mask"),
        (LTC(AutoNCP(12, 2, seed=3), mixed_memory=True), "lstm"),
        (LTC(FullyConnected(12), solver="rk4"), "fused"),
    ]:
        layer.build(x.shape)
        with pytest.raises(ValueError, match=match):
            load_ncps_weights(layer, state_dict)
    _, mixed = torch_outputs(nt.CfC(M, 5, mixed_memory=True), x, torch)
    plain = CfC(5)
    plain.build(x.shape)
    with pytest.raises(ValueError, match="mixed_memory=True"):
        load_ncps_weights(plain, mixed)
    _, with_projection = torch_outputs(nt.CfC(M, 5, proj_size=2), x, torch)
    with pytest.raises(ValueError, match="fc.weight"):
        load_ncps_weights(plain, with_projection)


@pytest.mark.skipif(keras.backend.backend() == "torch", reason="checks the error under another backend")
def test_the_torch_api_under_another_backend_says_to_set_keras_backend():
    with pytest.raises(ImportError, match="Set the environment variable KERAS_BACKEND=torch"):
        import liquidtime.compat.ncps.torch  # noqa: F401


def test_a_dense_ltc_cell_is_not_an_ncps_ltc():
    cell = LTCCell(4)
    cell.build((None, 3))
    with pytest.raises(ValueError, match="synaptic LTC"):
        load_ncps_weights(cell, [])

"""The model factory: every name builds a model that compiles, trains, saves and loads."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from liquidtime import data
from liquidtime.cells.ctrnn import CTRNNCell
from liquidtime.layers import LTC
from liquidtime.layers.ctgru import CTGRU
from liquidtime.layers.ctrnn import CTRNN
from liquidtime.layers.node import NeuralODE
from liquidtime.models import (
    MODEL_NAMES,
    MODELS,
    PRESETS,
    WIRED_MODELS,
    build_model,
    make_rnn_layer,
    preset_arguments,
)

FEATURES, OUTPUTS, UNITS, TIME, BATCH = 3, 2, 8, 5, 4


def _data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(BATCH, TIME, FEATURES)).astype("float32")
    dt = rng.uniform(0.5, 1.5, size=(BATCH, TIME)).astype("float32")
    labels = rng.integers(0, OUTPUTS, size=(BATCH, TIME))
    return x, dt, labels


def test_names_and_presets():
    assert set(MODEL_NAMES) >= {
        "ltc", "ltc-dense", "ltc-ncp", "cfc", "cfc-ncp", "ctrnn", "liquid-neuron", "node", "ctgru", "lstm"
    }
    assert PRESETS == ("default", "paper")


@pytest.mark.parametrize("preset", PRESETS)
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_registry_entry_builds_its_layer(name, preset):
    spec = MODELS[name]
    x, dt, _ = _data()
    wiring = {"output_size": OUTPUTS} if spec.wired else {}
    layer = make_rnn_layer(
        name, UNITS, preset=preset, return_sequences=True, input_features=FEATURES, **wiring
    )
    outputs = layer(x, elapsed_time=dt) if spec.takes_elapsed_time else layer(x)
    assert tuple(outputs.shape) == (BATCH, TIME, OUTPUTS if spec.wired else UNITS)
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(outputs)))


def test_the_registry_specs_agree_with_the_factory():
    assert tuple(MODELS) == MODEL_NAMES
    assert WIRED_MODELS == ("ltc-ncp", "cfc-ncp")
    assert {spec.paper_name for spec in MODELS.values()} - {None} == set(data.MODELS)
    for name, spec in MODELS.items():
        assert spec.name == name
        assert spec.paper_counterpart in data.MODELS
        if spec.paper_name is not None:  # the paper's own model: its own column and learning rate
            assert spec.paper_name == spec.paper_counterpart == name
            assert all(name in row for row in data.PAPER_RESULTS.values())
        if spec.wired:
            with pytest.raises(ValueError, match="needs `output_size`"):
                make_rnn_layer(name, UNITS)
        elif spec.wiring is None:
            with pytest.raises(ValueError, match="has no wiring"):
                make_rnn_layer(name, UNITS, wiring_seed=1)
        else:
            assert make_rnn_layer(name, UNITS, wiring_seed=1).cell.wiring.seed == 1
    for name in [name for name, spec in MODELS.items() if not spec.takes_elapsed_time]:
        model = build_model(name, FEATURES, OUTPUTS, units=UNITS, irregular=True)
        assert model.get_layer(name.replace("-", "_")).input.shape[-1] == FEATURES + 1


ON_EVERY_BACKEND = ("ltc", "ctrnn", "node", "ctgru", "lstm")
"""The paper's models; their factory test is also rerun on TensorFlow and PyTorch."""


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=pytest.mark.backends) if n in ON_EVERY_BACKEND else n for n in MODEL_NAMES],
)
def test_every_model_trains_saves_and_loads_with_elapsed_time(name, tmp_path):
    x, dt, labels = _data()
    model = build_model(name, FEATURES, OUTPUTS, units=UNITS, irregular=True, preset="paper")
    model.compile(
        keras.optimizers.Adam(0.01),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    history = model.fit([x, dt], labels, batch_size=2, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    expected = model.predict([x, dt], verbose=0)
    assert expected.shape == (BATCH, TIME, OUTPUTS)
    model.save(tmp_path / "model.keras")
    restored = keras.models.load_model(tmp_path / "model.keras")
    np.testing.assert_allclose(restored.predict([x, dt], verbose=0), expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["ctrnn", "lstm", "cfc-ncp"])
def test_last_step_output_and_regular_inputs(name):
    x, _, _ = _data()
    model = build_model(name, FEATURES, OUTPUTS, units=UNITS, return_sequences=False)
    assert len(model.inputs) == 1
    assert model.predict(x, verbose=0).shape == (BATCH, OUTPUTS)


def test_continuous_time_models_use_the_elapsed_time():
    x, dt, _ = _data(2)
    for name in ("ctrnn", "ctgru"):
        model = build_model(name, FEATURES, OUTPUTS, units=UNITS, irregular=True)
        moved = model.predict([x, dt], verbose=0) - model.predict([x, 2 * dt], verbose=0)
        assert np.max(np.abs(moved)) > 1e-4, name


def test_lstm_receives_the_elapsed_time_as_a_feature():
    model = build_model("lstm", FEATURES, OUTPUTS, units=UNITS, irregular=True)
    lstm = model.get_layer("lstm")
    assert isinstance(lstm, keras.layers.LSTM)
    assert tuple(lstm.cell.kernel.shape) == (FEATURES + 1, 4 * UNITS)


def test_paper_presets_reproduce_the_original_code():
    ctrnn = make_rnn_layer("ctrnn", UNITS, preset="paper")
    assert isinstance(ctrnn, CTRNN)
    cell = ctrnn.cell
    assert (cell.solver.name, cell.ode_unfolds, cell.time_scale) == ("euler", 6, 0.6)
    assert not cell.learn_tau and not cell.tau_scales_drive and not cell.use_gain
    assert cell.time_scale * 1.0 / cell.ode_unfolds == pytest.approx(0.1)  # h = 0.1 at dt = 1

    node = make_rnn_layer("node", UNITS, preset="paper", clip_state=10.0)
    assert isinstance(node, NeuralODE)
    assert (node.cell.solver.name, node.cell.ode_unfolds, node.cell.time_scale) == ("rk4", 6, 0.6)
    assert node.cell.clip_state == 10.0

    ctgru = make_rnn_layer("ctgru", UNITS, preset="paper")
    assert isinstance(ctgru, CTGRU)
    assert ctgru.cell.num_traces == 8 and ctgru.cell.original_decay and ctgru.cell.per_trace_scales

    ltc = make_rnn_layer("ltc", UNITS, preset="paper")
    assert isinstance(ltc, LTC) and type(ltc.cell).__name__ == "SynapticLTCCell"
    config = ltc.cell.get_config()
    assert config["solver"]["class_name"] == "FusedSolver" and config["ode_unfolds"] == 6
    assert config["input_mapping"] == "affine" and config["positivity"] == "clip"
    assert ltc.cell.output_size == UNITS

    lstm = make_rnn_layer("lstm", 32, preset="paper")
    assert isinstance(lstm, keras.layers.LSTM) and lstm.units == 32


def test_default_presets_are_the_layer_defaults():
    for name in MODEL_NAMES:
        assert preset_arguments(name, UNITS, "default") == {}
    ctrnn = make_rnn_layer("ctrnn", UNITS)
    assert ctrnn.cell.learn_tau and ctrnn.cell.time_scale == 1.0
    ctgru = make_rnn_layer("ctgru", UNITS)
    assert not ctgru.cell.original_decay


def test_paper_initializers_use_the_joint_glorot_range():
    model = build_model("ctrnn", FEATURES, OUTPUTS, units=UNITS, preset="paper")
    network = model.get_layer("ctrnn").cell.network
    limit = math.sqrt(6.0 / (FEATURES + 2 * UNITS))
    for kernel in (network.input_kernel, network.state_kernel):
        values = keras.ops.convert_to_numpy(kernel)
        assert np.max(np.abs(values)) <= limit
        assert np.max(np.abs(values)) > 0.5 * limit


def test_liquid_neuron_name_is_the_seed_configuration():
    layer = make_rnn_layer("liquid-neuron", UNITS)
    assert isinstance(layer.cell, CTRNNCell)
    assert layer.cell.use_gain and layer.cell.tau_scales_drive and layer.cell.ode_unfolds == 1


@pytest.mark.parametrize("name", ["ltc-ncp", "cfc-ncp"])
def test_wired_models_read_the_motor_neurons(name):
    model = build_model(name, FEATURES, OUTPUTS, units=UNITS, wiring_seed=3)
    layer = model.get_layer(name.replace("-", "_"))
    assert type(layer.cell.wiring).__name__ == "AutoNCP"
    assert layer.cell.wiring.output_dim == OUTPUTS and layer.cell.wiring.seed == 3
    assert tuple(model.get_layer("head").kernel.shape) == (OUTPUTS, OUTPUTS)
    wider = make_rnn_layer(name, UNITS, output_size=4)
    assert wider.cell.output_size == 4


def test_fully_connected_ltc():
    fully_connected = make_rnn_layer("ltc", UNITS, wiring_seed=3)
    assert type(fully_connected.cell.wiring).__name__ == "FullyConnected"
    assert fully_connected.cell.wiring.seed == 3


def test_overrides_replace_preset_arguments():
    layer = make_rnn_layer("ctrnn", UNITS, preset="paper", ode_unfolds=12, name="custom")
    assert layer.cell.ode_unfolds == 12 and layer.name == "custom"
    assert layer.cell.time_scale == 0.6


def test_errors():
    with pytest.raises(ValueError, match=r"`name`, expected one of \['ltc'"):
        make_rnn_layer("gru")
    with pytest.raises(ValueError, match="`preset`"):
        build_model("ctrnn", FEATURES, OUTPUTS, preset="original")
    with pytest.raises(ValueError, match="needs `output_size`"):
        make_rnn_layer("ltc-ncp", UNITS)
    with pytest.raises(ValueError, match="needs `output_size`"):
        make_rnn_layer("cfc-ncp", UNITS)
    with pytest.raises(ValueError, match="has no wiring"):
        make_rnn_layer("ctgru", UNITS, sparsity_level=0.5)
    with pytest.raises(ValueError, match="`time_scale`"):
        make_rnn_layer("node", UNITS, time_scale=-1.0)

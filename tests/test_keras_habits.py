"""Keras habits hold for liquidtime cells inside plain ``keras.layers.RNN``.

Training, saving to ``.keras`` and loading it back, and dropout inside the RNN's
compiled loop, on every backend (these tests are rerun under TensorFlow and PyTorch).
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

import liquidtime as lt

pytestmark = pytest.mark.backends


def _data(features: int = 3):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 6, features)).astype("float32")
    y = rng.normal(size=(8, 1)).astype("float32")
    return x, y


def _fit(cell: keras.layers.Layer, x, y) -> keras.Model:
    model = keras.Sequential(
        [keras.Input(x.shape[1:]), keras.layers.RNN(cell), keras.layers.Dense(1)]
    )
    model.compile("adam", "mse")
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][-1])
    return model


@pytest.mark.parametrize(
    "make_inner",
    [lambda: lt.CfCCell(8, backbone_units=8), lambda: lt.LTCCell(8)],
    ids=["cfc", "ltc"],
)
def test_mixed_memory_in_rnn_saves_and_loads(tmp_path, make_inner):
    x, y = _data()
    model = _fit(lt.MixedMemoryCell(make_inner()), x, y)
    path = tmp_path / "mixed.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6, atol=1e-6
    )


def test_mixed_memory_rejects_a_cell_built_for_other_inputs():
    inner = lt.CfCCell(4, backbone_units=8)
    inner.build((None, 5))
    with pytest.raises(ValueError, match="built for 3 input features, got a cell built for 5"):
        keras.layers.RNN(lt.MixedMemoryCell(inner))(np.zeros((2, 4, 3), "float32"))


_DROPOUT = {"backbone_units": 16, "backbone_layers": 1, "backbone_dropout": 0.3, "seed": 1}


@pytest.mark.parametrize(
    "make_cell",
    [
        lambda: lt.CfCCell(8, **_DROPOUT),
        lambda: lt.MixedMemoryCell(lt.CfCCell(8, **_DROPOUT)),
        lambda: lt.LTCCell(8, **_DROPOUT),
        lambda: lt.CTRNNCell(8, **_DROPOUT),
    ],
    ids=["cfc", "mixed-memory-cfc", "ltc", "ctrnn"],
)
def test_backbone_dropout_trains_inside_rnn(make_cell):
    x, y = _data()
    model = _fit(make_cell(), x, y)
    # Inference is deterministic: no mask is applied outside training.
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))


def test_cfc_backbone_dropout_uses_one_mask_per_sequence_inside_rnn():
    cell = lt.CfCCell(6, backbone_units=32, backbone_dropout=0.5, seed=3)
    rnn = keras.layers.RNN(cell, return_sequences=True)
    x = np.ones((4, 2, 3), "float32")
    rnn(x)  # build
    first = keras.ops.convert_to_numpy(rnn(x, training=True))
    second = keras.ops.convert_to_numpy(rnn(x, training=True))
    assert not np.allclose(first, second)  # dropout is active: new masks for each call
    assert cell.network._sequence_masks is None  # the RNN cleared them after its loop

    # keras.layers.RNN's hook draws the masks once; both steps then reuse them.
    masks = cell.get_dropout_mask(x[:, 0])
    out1, state = cell(x[:, 0], [keras.ops.zeros((4, 6))], training=True)
    out2, _ = cell(x[:, 1], state, training=True)
    cell.reset_dropout_mask()
    zero = [keras.ops.zeros((4, 6))]
    expected1, expected_state = cell.transition(
        cell.project_inputs(x[:, 0]), zero, 1.0, {"dropout": masks}, True
    )
    expected2, _ = cell.transition(
        cell.project_inputs(x[:, 1]), expected_state, 1.0, {"dropout": masks}, True
    )
    for got, expected in ((out1, expected1), (out2, expected2)):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(got), keras.ops.convert_to_numpy(expected), rtol=1e-6
        )


@pytest.mark.backends
@pytest.mark.parametrize(
    "make",
    [
        lambda: lt.LTC(4, dtype="float64"),
        lambda: lt.LTC(lt.wirings.FullyConnected(4), dtype="float64"),
        lambda: lt.CfC(4, dtype="float64"),
        lambda: lt.CTRNN(4, dtype="float64"),
        lambda: lt.CTRNN.liquid_neuron(4, dtype="float64"),
        lambda: lt.NeuralODE(4, dtype="float64"),
        lambda: lt.CTGRU(4, dtype="float64"),
    ],
    ids=["ltc-dense", "ltc-synaptic", "cfc", "ctrnn", "liquid-neuron", "node", "ctgru"],
)
def test_a_float64_layer_has_only_float64_weights(make):
    layer = make()
    layer.build((2, 3, 5))
    assert layer.weights and {weight.dtype for weight in layer.weights} == {"float64"}


@pytest.mark.parametrize("argument", ["dropout", "recurrent_dropout", "use_bias", "unit_forget_bias"])
@pytest.mark.parametrize(
    "make",
    [
        lambda **kw: lt.LTC(4, **kw),
        lambda **kw: lt.LTC(lt.wirings.FullyConnected(4), **kw),
        lambda **kw: lt.CfC(4, **kw),
        lambda **kw: lt.CTRNN(4, **kw),
        lambda **kw: lt.NeuralODE(4, **kw),
        lambda **kw: lt.CTGRU(4, **kw),
        lambda **kw: lt.LTC(4, mixed_memory=True, **kw),
        lambda **kw: keras.layers.RNN(lt.CfCCell(4, **kw)),
        lambda **kw: keras.layers.RNN(lt.LTCCell(4, **kw)),
    ],
    ids=["ltc-dense", "ltc-synaptic", "cfc", "ctrnn", "node", "ctgru", "mixed", "rnn-cfc", "rnn-ltc"],
)
def test_lstm_arguments_are_refused_with_what_to_use_instead(make, argument):
    value = False if argument in ("use_bias", "unit_forget_bias") else 0.1
    with pytest.raises(ValueError, match=rf"does not take the argument `{argument}` of keras\.layers"):
        make(**{argument: value})

"""A dtype given to a wrapper: ContinuousTimeRNN as keras.layers.RNN, MixedMemoryCell to its cell."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from conftest import to_numpy
from liquidtime.cells.cfc import CfCCell
from liquidtime.cells.ltc import LTCCell
from liquidtime.cells.mixed_memory import MixedMemoryCell
from liquidtime.layers import ContinuousTimeRNN

B, T, M, N = 2, 4, 3, 5


def _inputs() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(B, T, M))


def _dtypes(tensors) -> list[str]:
    return [keras.backend.standardize_dtype(t.dtype) for t in keras.tree.flatten(tensors)]


@pytest.mark.parametrize(
    "make_cell",
    [lambda: LTCCell(N, implementation="reference"), lambda: CfCCell(N, implementation="reference")],
    ids=["LTCCell", "CfCCell"],
)
def test_continuous_time_rnn_takes_a_layer_dtype_as_keras_rnn_does(make_cell):
    """``keras.layers.RNN(cell, dtype="float64")`` keeps the cell's dtype and returns float64;
    so does ContinuousTimeRNN, with the same values."""
    flags = {"return_sequences": True, "return_state": True, "dtype": "float64"}
    keras_rnn = keras.layers.RNN(make_cell(), **flags)
    expected = keras_rnn(_inputs())
    layer = ContinuousTimeRNN(make_cell(), **flags)
    layer.build((B, T, M))
    layer.cell.set_weights(keras_rnn.cell.get_weights())
    actual = layer(_inputs())
    assert _dtypes(actual) == _dtypes(expected) == ["float64"] * 2  # outputs, state
    assert _dtypes(layer.weights) == _dtypes(keras_rnn.weights)
    for a, e in zip(keras.tree.flatten(actual), keras.tree.flatten(expected)):
        np.testing.assert_allclose(to_numpy(a), to_numpy(e), rtol=1e-5, atol=1e-6)


def test_continuous_time_rnn_returns_its_dtype_from_a_cell_of_another():
    layer = ContinuousTimeRNN(LTCCell(N, dtype="float64"), return_state=True, dtype="float32")
    assert _dtypes(layer(_inputs())) == ["float32"] * 2
    assert set(_dtypes(layer.weights)) == {"float64"}


def test_a_mixed_memory_cell_gives_its_dtype_to_the_cell_it_wraps():
    cell = MixedMemoryCell(CfCCell(N, backbone_units=3), dtype="float64")
    assert cell.cell.dtype_policy.name == "float64"
    outputs = keras.layers.RNN(cell, return_sequences=True, dtype="float64")(_inputs())
    assert _dtypes(outputs) == ["float64"]
    assert {w.path: d for w, d in zip(cell.weights, _dtypes(cell.weights)) if d != "float64"} == {}
    assert cell.cell.network.built and len(cell.cell.weights) > 3
    clone = MixedMemoryCell.from_config(cell.get_config())
    assert clone.cell.dtype_policy.name == "float64"


def test_a_mixed_memory_cell_in_a_float64_continuous_time_rnn():
    layer = ContinuousTimeRNN(MixedMemoryCell(LTCCell(N), dtype="float64"), dtype="float64")
    assert _dtypes(layer(_inputs())) == ["float64"]
    assert set(_dtypes(layer.weights)) == {"float64"}

"""Truncated BPTT over chunks (liquidtime.training.chunked).

The reference for chunked training is written here from the definition: each chunk
is one SGD step on the loss of that chunk, starting from the previous chunk's final
state as a constant (computed with the weights before the update). Gradients come
from the backend's autodiff on the plain layers (no stateful machinery), so the
trainer's state carrying, resetting and gradient truncation are all checked.
Synthetic data only.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from conftest import to_numpy
from helpers import value_and_gradients
from liquidtime.layers import LTC, CfC
from liquidtime.layers.ctrnn import CTRNN
from liquidtime.training import ChunkedSequence, ChunkedTrainer, train_chunked

FEATURES, UNITS = 3, 4
LEARNING_RATE = 0.05


def _data(recordings=2, steps=24, seed=0, dtype="float32"):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(recordings, steps, FEATURES)).astype(dtype)
    y = np.sin(np.cumsum(x[..., :1], axis=1) / 3).astype(dtype)
    return x, y


def _model(layer_class=LTC, seed=3, **layer_kwargs):
    keras.utils.set_random_seed(seed)
    if layer_class is LTC:
        layer_kwargs.setdefault("ode_unfolds", 2)
    model = keras.Sequential(
        [
            keras.Input((None, FEATURES)),
            layer_class(UNITS, return_sequences=True, **layer_kwargs),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer=keras.optimizers.SGD(LEARNING_RATE), loss="mse")
    return model


def _value(variable):
    return np.asarray(variable.numpy(), dtype=np.float64)


def _weights(model):
    return [_value(w) for w in model.weights]


def _reference_truncated_sgd(model, x, y, chunk_length):
    """Chunked SGD from the definition; returns the per-chunk losses (one pass)."""
    rnn, dense = model.layers
    variables = model.trainable_variables
    state = np.zeros((x.shape[0], UNITS), dtype=x.dtype)
    losses = []
    for start in range(0, x.shape[1], chunk_length):
        xc, yc = x[:, start : start + chunk_length], y[:, start : start + chunk_length]

        def loss_fn(xc=xc, yc=yc, state=state):
            prediction = dense(rnn(xc, initial_state=[state]))
            return keras.ops.mean((prediction - keras.ops.convert_to_tensor(yc)) ** 2)

        loss, grads = value_and_gradients(loss_fn, variables)
        # The next chunk starts from this chunk's final state under the weights used
        # for this chunk's loss (LTC's output is its state).
        state = to_numpy(keras.ops.stop_gradient(rnn(xc, initial_state=[state])[:, -1]))
        for variable, grad in zip(variables, grads):
            variable.assign(_value(variable) - LEARNING_RATE * grad)
        losses.append(loss)
    return losses


@pytest.mark.backends
def test_one_chunk_covering_the_sequence_is_ordinary_training(float64):
    x, y = _data(recordings=4, dtype="float64")
    plain, chunked = _model(), _model()
    plain_history = plain.fit(x, y, batch_size=2, epochs=2, shuffle=False, verbose=0)
    chunked_history = ChunkedTrainer(chunked, chunk_length=x.shape[1], batch_size=2).fit(
        x, y, epochs=2, verbose=0
    )
    np.testing.assert_allclose(
        chunked_history.history["loss"], plain_history.history["loss"], rtol=1e-6
    )
    for a, b in zip(_weights(chunked), _weights(plain)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


@pytest.mark.backends
def test_chunk_gradient_equals_full_gradient_when_the_chunk_covers_the_sequence(float64):
    x, y = _data(recordings=2, dtype="float64")
    model = _model()
    rnn, dense = model.layers
    _, full_gradient = value_and_gradients(
        lambda: keras.ops.mean((dense(rnn(x)) - keras.ops.convert_to_tensor(y)) ** 2),
        model.trainable_variables,
    )
    before = [_value(v) for v in model.trainable_variables]
    ChunkedTrainer(model, chunk_length=100, batch_size=2).fit(x, y, verbose=0)
    applied = [(b - _value(v)) / LEARNING_RATE for b, v in zip(before, model.trainable_variables)]
    for g_chunk, g_full in zip(applied, full_gradient):
        np.testing.assert_allclose(g_chunk, g_full, rtol=1e-8, atol=1e-11)


@pytest.mark.backends
def test_truncated_training_matches_the_definition(float64):
    chunk_length = 5  # chunks of 5, 5 and 2 steps
    x, y = _data(recordings=2, steps=12, dtype="float64")
    trained, reference = _model(), _model()
    history = ChunkedTrainer(trained, chunk_length=chunk_length, batch_size=2).fit(
        x, y, verbose=0
    )
    losses = _reference_truncated_sgd(reference, x, y, chunk_length)
    # The History loss is a float32 Keras metric.
    np.testing.assert_allclose(history.history["loss"][0], np.mean(losses), rtol=1e-6)
    for a, b in zip(_weights(trained), _weights(reference)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_truncation_changes_the_gradient(float64):
    """The test above has power: not truncating would give a different gradient."""
    x, y = _data(recordings=2, steps=8, dtype="float64")
    model = _model()
    rnn, dense = model.layers
    head, tail = slice(0, 4), slice(4, 8)

    def tail_loss(truncate):
        state = rnn(x[:, head])[:, -1]
        if truncate:
            state = keras.ops.stop_gradient(state)
        return keras.ops.mean((dense(rnn(x[:, tail], initial_state=[state])) - y[:, tail]) ** 2)

    _, truncated = value_and_gradients(lambda: tail_loss(True), model.trainable_variables)
    _, full = value_and_gradients(lambda: tail_loss(False), model.trainable_variables)
    difference = max(np.abs(a - b).max() for a, b in zip(truncated, full))
    assert difference > 1e-4


@pytest.mark.backends
@pytest.mark.parametrize("layer_class", [LTC, CfC, CTRNN], ids=lambda c: c.__name__)
def test_chunked_predictions_equal_whole_sequence_predictions(layer_class):
    x, _ = _data(recordings=4, steps=23)
    model = _model(layer_class, **({"backbone_units": 8} if layer_class is CfC else {}))
    whole = model.predict(x, verbose=0)
    chunked = ChunkedTrainer(model, chunk_length=5, batch_size=2).predict(x)
    # Two groups of two recordings: the states are carried within a group and
    # reset at the start of the next one.
    np.testing.assert_allclose(chunked, whole, rtol=1e-5, atol=1e-6)


def test_elapsed_time_input_is_chunked_with_the_data():
    """A two-input model (data and per-step elapsed times) predicts the same in chunks."""
    x, _ = _data(recordings=2, steps=17)
    dt = np.random.default_rng(2).uniform(0.1, 2.0, size=(2, 17)).astype("float32")
    keras.utils.set_random_seed(0)
    data, elapsed = keras.Input((None, FEATURES)), keras.Input((None,))
    hidden = LTC(UNITS, return_sequences=True, ode_unfolds=2)(data, elapsed_time=elapsed)
    model = keras.Model([data, elapsed], keras.layers.Dense(1)(hidden))
    model.compile(optimizer="sgd", loss="mse")
    whole = model.predict([x, dt], verbose=0)
    chunked = ChunkedTrainer(model, chunk_length=6, batch_size=2).predict([x, dt])
    np.testing.assert_allclose(chunked, whole, rtol=1e-5, atol=1e-6)


def test_long_sequence_trains_in_chunks_and_leaves_the_model_as_it_was(tmp_path):
    x, y = _data(recordings=1, steps=3000, seed=1)
    model = _model(CfC, backbone_units=8)
    weight_count = len(model.weights)
    history = train_chunked(model, x, y, chunk_length=250, epochs=3, verbose=0)
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]
    rnn = model.layers[0]
    assert not rnn.stateful and rnn.states is None
    assert len(model.weights) == weight_count
    path = tmp_path / "chunked.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded.predict(x[:, :50], verbose=0), model.predict(x[:, :50], verbose=0))


def test_trainer_reuses_a_stateful_models_own_states():
    x, y = _data(recordings=2, steps=12)
    keras.utils.set_random_seed(0)
    rnn = LTC(UNITS, return_sequences=True, stateful=True, ode_unfolds=2)
    model = keras.Sequential([keras.Input((None, FEATURES), batch_size=2), rnn, keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    ChunkedTrainer(model, chunk_length=5, batch_size=2).fit(x, y, verbose=0)
    # The layer's own state variables hold the final state of the last chunk.
    assert rnn.stateful
    assert np.abs(_value(rnn.states[0])).max() > 0
    with pytest.raises(ValueError, match="built for batches of 2"):
        ChunkedTrainer(model, chunk_length=5, batch_size=1)


def test_chunk_iterator_order_and_resets():
    x = np.arange(4 * 7 * 1, dtype="float32").reshape(4, 7, 1)
    data = ChunkedSequence(x, x, batch_size=2, chunk_length=3)
    assert len(data) == 2 * 3
    (inputs, reset), targets = data[4]  # group 1, chunk 1
    np.testing.assert_array_equal(inputs, x[2:4, 3:6])
    np.testing.assert_array_equal(targets, x[2:4, 3:6])
    np.testing.assert_array_equal(reset, 0.0)
    assert data[3][0][1].min() == 1.0 and data[5][0][0].shape == (2, 1, 1)


def test_bad_arguments():
    x, y = _data(recordings=3, steps=10)
    model = _model()
    with pytest.raises(ValueError, match="`chunk_length`"):
        ChunkedTrainer(model, chunk_length=0, batch_size=1)
    with pytest.raises(ValueError, match="`batch_size`.*divisor"):
        ChunkedTrainer(model, chunk_length=4, batch_size=2).fit(x, y, verbose=0)
    with pytest.raises(ValueError, match="per-step targets"):
        ChunkedTrainer(model, chunk_length=4, batch_size=1).fit(x, y[:, 0], verbose=0)
    uncompiled = keras.Sequential([keras.Input((None, FEATURES)), LTC(UNITS)])
    with pytest.raises(ValueError, match="compile it first"):
        ChunkedTrainer(uncompiled, chunk_length=4, batch_size=1)
    dense_only = keras.Sequential([keras.Input((None, FEATURES)), keras.layers.Dense(1)])
    dense_only.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="no recurrent layer"):
        ChunkedTrainer(dense_only, chunk_length=4, batch_size=1)
    backwards = keras.Sequential(
        [keras.Input((None, FEATURES)), keras.layers.Bidirectional(LTC(UNITS))]
    )
    backwards.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="runs backwards"):
        ChunkedTrainer(backwards, chunk_length=4, batch_size=1)

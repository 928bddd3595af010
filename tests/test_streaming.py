"""Streaming (``liquidtime.deploy.Stepper``): step by step equals the whole sequence."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import liquidtime as lt
from liquidtime.deploy import Stepper
from liquidtime.wirings import AutoNCP

FEATURES, STEPS = 3, 9


def sequence_data(batch: int = 2, steps: int = STEPS, seed: int = 0):
    """Inputs ``(batch, steps, FEATURES)`` and irregular elapsed times ``(batch, steps)``."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, steps, FEATURES)).astype("float32")
    dt = rng.uniform(0.1, 2.0, size=(batch, steps)).astype("float32")
    return x, dt


def timed_model(*layers: keras.layers.Layer, head: bool = True) -> keras.Model:
    """A functional model ``[x (b, t, F), dt (b, t)] -> (b, t, 1)``; dt goes to every liquidtime layer."""
    x_in = keras.Input((None, FEATURES), name="x")
    dt_in = keras.Input((None,), name="elapsed_time")
    h = x_in
    for layer in layers:
        if isinstance(layer, lt.ContinuousTimeRNN):
            h = layer(h, elapsed_time=dt_in)
        else:
            h = layer(h)
    if head:
        h = keras.layers.Dense(1, name="head")(h)
    return keras.Model([x_in, dt_in], h)


# Every sequence layer of the brief: liquidtime's own (dense and wired, with mixed
# memory) and Keras's, alone and stacked.
MODELS = {
    "ltc_dense": lambda: timed_model(lt.LTC(6, return_sequences=True)),
    "ltc_ncp": lambda: timed_model(lt.LTC(AutoNCP(10, 2), return_sequences=True)),
    "cfc": lambda: timed_model(lt.CfC(6, return_sequences=True)),
    "cfc_wired": lambda: timed_model(lt.CfC(AutoNCP(10, 2), return_sequences=True)),
    "ltc_mixed_memory": lambda: timed_model(lt.LTC(6, mixed_memory=True, return_sequences=True)),
    "cfc_mixed_memory": lambda: timed_model(lt.CfC(6, mixed_memory=True, return_sequences=True)),
    "ctrnn": lambda: timed_model(lt.CTRNN(6, return_sequences=True)),
    "node": lambda: timed_model(lt.NeuralODE(6, return_sequences=True)),
    "ctgru": lambda: timed_model(lt.CTGRU(6, return_sequences=True)),
    "lstm_then_ltc": lambda: timed_model(
        keras.layers.LSTM(5, return_sequences=True), lt.LTC(4, return_sequences=True)
    ),
    "gru_then_cfc_last": lambda: timed_model(
        keras.layers.GRU(5, return_sequences=True), lt.CfC(4), keras.layers.Dense(3, activation="tanh")
    ),
}


def stream(stepper: Stepper, x: np.ndarray, dt: np.ndarray) -> list[np.ndarray]:
    """Steps through ``x`` with the model's own elapsed-time input; one output per step."""
    return [stepper.step([x[:, t], dt[:, t]]) for t in range(x.shape[1])]


# Rerun under TensorFlow and PyTorch for a few models only: compiling each step there
# (XLA, torch.compile) takes seconds per model.
ON_EVERY_BACKEND = ("ltc_ncp", "cfc_mixed_memory", "gru_then_cfc_last")


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=pytest.mark.backends) if name in ON_EVERY_BACKEND else name
        for name in sorted(MODELS)
    ],
)
def test_stepping_equals_the_whole_sequence(name):
    model = MODELS[name]()
    x, dt = sequence_data()
    expected = keras.ops.convert_to_numpy(model([x, dt]))
    stepper = Stepper(model, batch_size=2)
    outputs = stream(stepper, x, dt)
    if expected.ndim == 3:
        np.testing.assert_allclose(np.stack(outputs, axis=1), expected, atol=1e-6, rtol=0)
    else:  # return_sequences=False: the output after the last step
        np.testing.assert_allclose(outputs[-1], expected, atol=1e-6, rtol=0)


@pytest.mark.backends
def test_sequential_model_takes_the_elapsed_time_in_step():
    layer = lt.LTC(AutoNCP(10, 1), return_sequences=True)
    model = keras.Sequential([keras.Input((None, FEATURES)), layer])
    x, dt = sequence_data(batch=1)
    expected = keras.ops.convert_to_numpy(layer(x, elapsed_time=dt))
    stepper = Stepper(model)
    outputs = [stepper.step(x[:, t], elapsed_time=float(dt[0, t])) for t in range(STEPS)]
    np.testing.assert_allclose(np.stack(outputs, axis=1), expected, atol=1e-6, rtol=0)


def test_state_can_be_read_and_set():
    model = MODELS["ltc_mixed_memory"]()
    x, dt = sequence_data()
    stepper = Stepper(model, batch_size=2)
    stream(stepper, x[:, :5], dt[:, :5])
    saved = stepper.state
    assert [s.shape for s in saved] == [(2, 6), (2, 6)]
    rest = stream(stepper, x[:, 5:], dt[:, 5:])
    stepper.reset()
    assert all(np.all(s == 0) for s in stepper.state)
    # From zero states after reset(): a sequence of 5 steps.
    expected = keras.ops.convert_to_numpy(model([x[:, :5], dt[:, :5]]))[:, -1]
    np.testing.assert_allclose(stream(stepper, x[:, :5], dt[:, :5])[-1], expected, atol=1e-6)
    stepper.state = saved
    np.testing.assert_allclose(stream(stepper, x[:, 5:], dt[:, 5:])[-1], rest[-1], atol=1e-7)
    message = r"argument `state`, expected arrays of shapes \[\(2, 6\), \(2, 6\)\]"
    with pytest.raises(ValueError, match=message):
        stepper.state = [np.zeros((2, 6))]


def test_bidirectional_is_refused():
    x_in = keras.Input((None, FEATURES))
    model = keras.Model(x_in, keras.layers.Bidirectional(lt.CfC(4))(x_in))
    with pytest.raises(ValueError, match="Bidirectional layer reads the sequence backwards"):
        Stepper(model)


@pytest.mark.parametrize(
    "layer, message",
    [
        (keras.layers.GlobalAveragePooling1D(), "may combine several time steps"),
        (keras.layers.Conv1D(2, 3), "may combine several time steps"),
        (lt.CfC(4, go_backwards=True), "go_backwards=True"),
    ],
)
def test_layers_that_cannot_step_are_refused(layer, message):
    model = keras.Sequential([keras.Input((None, FEATURES)), lt.CfC(4, return_sequences=True), layer])
    with pytest.raises(ValueError, match=message):
        Stepper(model)


def test_bad_step_arguments_are_refused():
    model = MODELS["cfc"]()
    stepper = Stepper(model, batch_size=2)
    x, dt = sequence_data()
    with pytest.raises(ValueError, match=r"expected an array of shape \(2, 3\) \(one time step\)"):
        stepper.step([x, dt])
    with pytest.raises(ValueError, match="expected 2 array"):
        stepper.step(x[:, 0])
    with pytest.raises(ValueError, match="passes elapsed times to all its layers itself"):
        stepper.step([x[:, 0], dt[:, 0]], elapsed_time=1.0)
    sequential = Stepper(keras.Sequential([keras.Input((None, FEATURES)), lt.LTC(4)]))
    with pytest.raises(ValueError, match="elapsed times must be >= 0"):
        sequential.step(x[:1, 0], elapsed_time=-1.0)
    with pytest.raises(ValueError, match="elapsed times must be finite"):
        sequential.step(x[:1, 0], elapsed_time=np.inf)
    with pytest.raises(ValueError, match=r"`elapsed_time`, expected a scalar or an array of shape \(1,\)"):
        sequential.step(x[:1, 0], elapsed_time=np.ones(3))
    with pytest.raises(ValueError, match="argument `batch_size`, expected a positive integer"):
        Stepper(model, batch_size=0)

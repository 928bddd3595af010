"""Bad input to the sequence layers and cells: an error naming it, never a silently wrong result.

Elapsed times checked inside compiled ``fit``/``predict``/``evaluate`` and in
``keras.layers.RNN``; stateful layers given another batch size; sequences without
time steps; NaN padding under a mask (no NaN in the gradients).
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from conftest import to_numpy
from liquidtime import (
    CTGRU,
    CTRNN,
    LTC,
    CfC,
    CfCCell,
    CTRNNCell,
    LTCCell,
    NeuralODE,
    config,
)
from liquidtime.solvers import SolverFailureWarning
from liquidtime.wirings import FullyConnected

BATCH, STEPS, FEATURES = 4, 12, 3

LAYERS = [
    pytest.param(lambda **kw: LTC(8, **kw), id="ltc"),
    pytest.param(lambda **kw: LTC(FullyConnected(6, 2), **kw), id="synaptic_ltc"),
    pytest.param(lambda **kw: LTC(8, mixed_memory=True, **kw), id="ltc_mixed_memory"),
    pytest.param(lambda **kw: CfC(8, backbone_units=16, **kw), id="cfc"),
    pytest.param(lambda **kw: CfC(8, mode="pure", **kw), id="cfc_pure"),
    pytest.param(lambda **kw: CfC(FullyConnected(6, 2), **kw), id="wired_cfc"),
    pytest.param(lambda **kw: CTRNN(8, **kw), id="ctrnn"),
    pytest.param(lambda **kw: CTGRU(8, **kw), id="ctgru"),
    pytest.param(lambda **kw: NeuralODE(8, **kw), id="node"),
]

BAD_ELAPSED_TIMES = [
    pytest.param(-3.0, ">= 0", id="negative"),
    pytest.param(np.nan, "finite", id="nan"),
    pytest.param(np.inf, "finite", id="inf"),
]


def sequences(batch=BATCH, steps=STEPS, features=FEATURES, seed=0):
    return np.random.default_rng(seed).normal(size=(batch, steps, features)).astype("float32")


def elapsed_times(value, batch=BATCH, steps=STEPS):
    """Elapsed times of 1 with one bad ``value`` in the middle of the first sequence."""
    dt = np.ones((batch, steps), "float32")
    dt[0, steps // 2] = value
    return dt


def model_with_elapsed_time(make_layer):
    """A compiled model taking ``[sequences, elapsed_time]`` of unknown length."""
    x_in = keras.Input((None, FEATURES))
    dt_in = keras.Input((None,))
    model = keras.Model([x_in, dt_in], make_layer()(x_in, elapsed_time=dt_in))
    model.compile("adam", "mse")
    return model


@pytest.fixture
def runtime_checks_off():
    config.set_runtime_checks(False)
    yield
    config.set_runtime_checks(True)


@pytest.mark.backends
def test_matmul_precision_sets_the_active_backends_switch():
    backend = keras.backend.backend()

    def backend_setting():
        if backend == "jax":
            import jax

            return jax.config.jax_default_matmul_precision
        if backend == "tensorflow":
            import tensorflow as tf

            return tf.config.experimental.tensor_float_32_execution_enabled()
        import torch

        return (torch.get_float32_matmul_precision(), torch.backends.cudnn.allow_tf32)

    assert config.matmul_precision() == "highest"  # pinned by conftest for the whole suite
    highest = backend_setting()
    try:
        config.set_matmul_precision("fast")
        fast = backend_setting()
    finally:
        config.set_matmul_precision("highest")
    assert backend_setting() == highest
    expected = {
        "jax": ("highest", None),
        "tensorflow": (False, True),
        "torch": (("highest", False), ("highest", True)),
    }[backend]
    assert (highest, fast) == expected
    with pytest.raises(ValueError, match=r"`precision`, expected one of \['fast', 'highest'\], got 'tf32'"):
        config.set_matmul_precision("tf32")


@pytest.mark.backends
@pytest.mark.parametrize("value, message", BAD_ELAPSED_TIMES)
@pytest.mark.parametrize("make_layer", [LAYERS[0], LAYERS[3]])
@pytest.mark.parametrize("method", ["predict", "fit", "evaluate"])
def test_bad_elapsed_time_raises_inside_compiled_functions(make_layer, method, value, message):
    # A fresh model for each call: on JAX, Keras's loops leave a model's variables
    # detached after an error inside a compiled step.
    model = model_with_elapsed_time(make_layer)
    inputs = [sequences(), elapsed_times(value)]
    run = {
        "predict": lambda: model.predict(inputs, verbose=0),
        "fit": lambda: model.fit(inputs, np.zeros((BATCH, 8)), verbose=0),
        "evaluate": lambda: model.evaluate(inputs, np.zeros((BATCH, 8)), verbose=0),
    }[method]
    with pytest.raises(Exception, match=f"argument `elapsed_time`.*{message}"):
        run()


@pytest.mark.backends
@pytest.mark.parametrize("value, message", BAD_ELAPSED_TIMES)
@pytest.mark.parametrize("cell_class", [LTCCell, CfCCell, CTRNNCell])
def test_time_feature_of_cells_in_keras_rnn_is_checked(cell_class, value, message):
    x = np.concatenate([sequences(), elapsed_times(value)[..., None]], axis=-1)
    model = keras.Sequential(
        [keras.Input((STEPS, FEATURES + 1)), keras.layers.RNN(cell_class(8, elapsed_time_as_feature=True))]
    )
    # On JAX even an eager call runs the cell inside lax.scan: a JaxRuntimeError.
    with pytest.raises(Exception, match=rf"argument `inputs\[..., -1\]`.*{message}"):
        model(x)
    with pytest.raises(Exception, match=rf"argument `inputs\[..., -1\]`.*{message}"):
        model.predict(x, verbose=0)


@pytest.mark.backends
def test_runtime_checks_can_be_turned_off(runtime_checks_off):
    model = model_with_elapsed_time(LAYERS[0].values[0])
    # Unchecked, the negative elapsed times make the states NaN, which the solver report tells.
    with pytest.warns(SolverFailureWarning, match="NaN or infinite"):
        outputs = model.predict([sequences(), elapsed_times(-3.0)], verbose=0)
    assert outputs.shape == (BATCH, 8)


@pytest.mark.backends
@pytest.mark.parametrize("make_layer", [LAYERS[0], LAYERS[3]])
def test_stateful_layer_rejects_another_batch_size(make_layer):
    layer = make_layer(stateful=True)
    layer(sequences())
    for batch in (1, 2, 5):
        with pytest.raises(ValueError, match=f"stateful .* batch of {BATCH} .* got a batch of {batch}"):
            layer(sequences(batch=batch))
    assert to_numpy(layer(sequences())).shape == (BATCH, 8)


@pytest.mark.backends
def test_stateful_model_predict_rejects_a_partial_last_batch():
    model = keras.Sequential([keras.Input((STEPS, FEATURES), batch_size=BATCH), LTC(8, stateful=True)])
    with pytest.raises(Exception, match=f"stateful .* batch of {BATCH}"):
        model.predict(sequences(batch=BATCH + 2), batch_size=BATCH, verbose=0)


@pytest.mark.backends
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("make_layer", LAYERS)
def test_sequences_without_steps_are_rejected(make_layer, return_sequences):
    layer = make_layer(return_sequences=return_sequences)
    layer(sequences())
    with pytest.raises(ValueError, match="at least one time step, got a sequence of length 0"):
        layer(sequences(steps=0))


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="the fused CfC scan is JAX-only")
def test_network_scan_rejects_sequences_without_steps():
    import jax.numpy as jnp

    from liquidtime.kernels.jax_cfc import network_scan

    with pytest.raises(ValueError, match="at least one time step"):
        network_scan(
            lambda heads, dt, params: heads,
            jnp.tanh,
            jnp.zeros((0, 2, 3)),
            jnp.zeros((2, 4)),
            1.0,
            (),
            jnp.zeros((3, 4)),
            jnp.zeros((4,)),
            jnp.zeros((4, 4)),
            [],
            None,
        )


@pytest.mark.backends
@pytest.mark.parametrize("make_layer", LAYERS)
def test_nan_padding_under_a_mask_keeps_gradients_finite(make_layer):
    x = sequences()
    mask = np.ones((BATCH, STEPS), bool)
    mask[:, 8:] = False
    mask[0, 5:] = False
    x[~mask] = np.nan
    x_in = keras.Input((STEPS, FEATURES))
    mask_in = keras.Input((STEPS,), dtype="bool")
    model = keras.Model([x_in, mask_in], keras.layers.Dense(1)(make_layer()(x_in, mask=mask_in)))
    model.compile(keras.optimizers.SGD(0.01), "mse")
    loss = model.train_on_batch([x, mask], np.ones((BATCH, 1), "float32"))
    assert np.isfinite(loss)
    for weight in model.trainable_weights:
        assert np.all(np.isfinite(to_numpy(weight))), weight.path


@pytest.mark.backends
@pytest.mark.parametrize("make_layer", [LAYERS[0], LAYERS[3]])
def test_masked_steps_may_hold_any_elapsed_time(make_layer):
    mask = np.ones((BATCH, STEPS), bool)
    mask[:, 8:] = False
    dt = np.where(mask, 0.5, np.nan).astype("float32")
    layer = make_layer()
    padded = to_numpy(layer(sequences(), mask=mask, elapsed_time=dt))
    unpadded = to_numpy(layer(sequences()[:, :8], elapsed_time=dt[:, :8]))
    np.testing.assert_allclose(padded, unpadded, rtol=1e-5, atol=1e-6)

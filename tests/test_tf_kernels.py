"""The TensorFlow CfC kernel (``liquidtime.kernels.tf_cfc``) against the reference form.

On Keras's TensorFlow backend ``CfCCell`` runs whole unmasked sequences through one
``tf.custom_gradient`` with a hand-written backward pass. Its outputs and its
gradients with respect to every weight, the inputs, the initial state and per-step
elapsed times must be those of the reference form (``implementation="reference"``:
TensorFlow's autodiff of the cell's ``transition`` scanned step by step, with the
same weights) to 1e-5 in float32 and 1e-10 in float64 (relative to the largest
value): eagerly for every CfC mode and backbone depth, both kinds of elapsed time,
with and without ``return_sequences`` (float32); in a ``tf.function`` graph for
every mode in float64; in a graph and compiled by XLA for sequences of one chunk,
of several chunks and of one-step chunks; and inside ``model.fit``.

Marked ``backends``: ``tests/test_backends.py`` reruns them in a TensorFlow-backend
process from the default run; under other backends they are skipped.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

pytestmark = [
    pytest.mark.backends,
    pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="the TensorFlow kernels"),
]

from liquidtime.layers import CfC  # noqa: E402

TOLERANCE = {"float32": 1e-5, "float64": 1e-10}


def outputs_and_gradients(layer, x, elapsed_time, initial_state, compiled, training=False):
    """The layer's outputs, and the gradients of ``sum(sin(3 y))`` with respect to every
    trainable weight, the inputs, the initial state and the elapsed time (when it is a
    tensor), as float64 NumPy; ``compiled``: "eager", "graph" or "xla"."""
    import tensorflow as tf

    per_step_time = not isinstance(elapsed_time, float)

    def run(x, initial_state, elapsed_time):
        with tf.GradientTape() as tape:
            tape.watch([x, initial_state, *([elapsed_time] if per_step_time else [])])
            outputs = layer(x, initial_state=initial_state, elapsed_time=elapsed_time,
                            training=training)
            loss = tf.reduce_sum(tf.sin(3.0 * outputs))
        wrt = [v.value for v in layer.trainable_variables] + [x, initial_state]
        if per_step_time:
            wrt.append(elapsed_time)
        return outputs, tape.gradient(loss, wrt)

    if compiled != "eager":
        run = tf.function(run, jit_compile=compiled == "xla")
    time_argument = tf.constant(elapsed_time) if per_step_time else elapsed_time
    outputs, grads = run(tf.constant(x), tf.constant(initial_state), time_argument)
    as_numpy = lambda t: np.asarray(t, dtype=np.float64)  # noqa: E731
    return as_numpy(outputs), [as_numpy(g) for g in grads]


def assert_close(actual, expected, dtype):
    for a, e in zip(actual, expected, strict=True):
        scale = max(float(np.max(np.abs(e))), 1.0)
        np.testing.assert_allclose(a, e, rtol=0, atol=TOLERANCE[dtype] * scale)


def sequence_data(dtype, batch, length, features, units, time_kind, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, length, features)).astype(dtype)
    initial_state = rng.normal(scale=0.5, size=(batch, units)).astype(dtype)
    elapsed = 0.7 if time_kind == "constant" else rng.uniform(0.1, 1.5, (batch, length)).astype(dtype)
    return x, initial_state, elapsed


class Spy:
    """Wraps ``tf_cfc.network_scan`` and counts its calls (traces, when compiled)."""

    def __init__(self, monkeypatch):
        from liquidtime.kernels import tf_cfc

        self.calls = 0
        function = tf_cfc.network_scan

        def counted(*args, **kwargs):
            self.calls += 1
            return function(*args, **kwargs)

        monkeypatch.setattr(tf_cfc, "network_scan", counted)


@pytest.fixture
def spy(monkeypatch):
    return Spy(monkeypatch)


def compare(make_layer, data, dtype, spy, compiled="eager", training=False):
    """The layer with ``implementation="tensorflow"`` against the same weights with
    ``implementation="reference"`` (the cell's ``transition`` scanned step by step)."""
    x, initial_state, elapsed = data
    layer, reference = make_layer("tensorflow"), make_layer("reference")
    layer.build(x.shape)
    reference.build(x.shape)
    reference.set_weights(layer.get_weights())
    kernel = outputs_and_gradients(layer, x, elapsed, initial_state, compiled, training)
    assert spy.calls >= 1, "the kernel did not run"
    calls = spy.calls
    expected = outputs_and_gradients(reference, x, elapsed, initial_state, compiled, training)
    assert spy.calls == calls, "the reference ran the kernel"
    assert_close([kernel[0], *kernel[1]], [expected[0], *expected[1]], dtype)


@pytest.mark.parametrize("mode", ["default", "no_gate", "pure"])
@pytest.mark.parametrize("backbone_layers", [0, 1, 2])
@pytest.mark.parametrize("time_kind", ["constant", "per_step"])
@pytest.mark.parametrize("return_sequences", [True, False])
def test_cfc_kernel_matches_reference(spy, mode, backbone_layers, time_kind, return_sequences):
    data = sequence_data("float32", 3, 9, 4, 5, time_kind)

    def make_layer(implementation):
        return CfC(
            5, mode=mode, backbone_units=6, backbone_layers=backbone_layers,
            return_sequences=return_sequences, implementation=implementation,
        )

    compare(make_layer, data, "float32", spy)


@pytest.mark.parametrize("compiled", ["graph", "xla"])
@pytest.mark.parametrize(
    ("length", "time_kind"),  # one chunk; chunks of 8 steps; chunks of one step
    [(9, "constant"), (24, "per_step"), (17, "constant")],
)
def test_cfc_kernel_matches_reference_when_compiled(spy, compiled, length, time_kind):
    data = sequence_data("float32", 3, length, 4, 5, time_kind)

    def make_layer(implementation):
        return CfC(5, backbone_units=6, return_sequences=True, implementation=implementation)

    compare(make_layer, data, "float32", spy, compiled)


@pytest.mark.parametrize("mode", ["default", "no_gate", "pure"])
@pytest.mark.parametrize("return_sequences", [True, False])
def test_cfc_kernel_in_float64(float64, spy, mode, return_sequences):
    data = sequence_data("float64", 2, 20, 3, 4, "per_step")

    def make_layer(implementation):
        return CfC(4, mode=mode, backbone_units=5, backbone_layers=2,
                   return_sequences=return_sequences, implementation=implementation)

    compare(make_layer, data, "float64", spy, "graph")


def test_cfc_kernel_with_backbone_dropout_masks(monkeypatch, spy):
    """The same (fixed) dropout masks in both forms give the same gradients."""
    data = sequence_data("float32", 4, 6, 3, 5, "per_step")
    rng = np.random.default_rng(1)
    masks = [keras.ops.convert_to_tensor((rng.uniform(size=(4, 8)) > 0.4) / 0.6, "float32")
             for _ in range(2)]

    def make_layer(implementation):
        layer = CfC(5, backbone_units=8, backbone_layers=2, backbone_dropout=0.4,
                    return_sequences=True, implementation=implementation)
        monkeypatch.setattr(layer.cell.network, "dropout_masks", lambda batch, training: masks)
        return layer

    compare(make_layer, data, "float32", spy, training=True)


def test_masked_sequences_go_through_the_reference(spy):
    """A mask sends the sequence through ``transition``: the kernel does not run."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 5, 2)).astype("float32")
    mask = np.ones((3, 5), bool)
    mask[0, 3:] = False
    layer, reference = CfC(4, implementation="tensorflow"), CfC(4, implementation="reference")
    layer.build(x.shape)
    reference.build(x.shape)
    reference.set_weights(layer.get_weights())
    np.testing.assert_allclose(np.asarray(layer(x, mask=mask)), np.asarray(reference(x, mask=mask)),
                               atol=1e-6)
    assert spy.calls == 0


def test_auto_picks_the_kernel(spy):
    layer = CfC(4)
    layer(np.zeros((2, 3, 2), "float32"))
    assert layer.cell.implementation == "auto" and spy.calls == 1


@pytest.mark.parametrize(
    "jit_compile, implementation, kernel_runs",
    [
        (False, "auto", True),  # a TensorFlow graph: "auto" picks the kernel
        (True, "tensorflow", True),  # XLA, the kernel named
        (True, "auto", False),  # XLA: "auto" keeps the reference (the kernel compiles slowly)
    ],
)
def test_fit_trains_through_the_chosen_form(spy, jit_compile, implementation, kernel_runs):
    """``model.fit`` (as a graph and with XLA) reduces the loss, through the kernel where chosen."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 12, 3)).astype("float32")
    y = np.tanh(x.sum(axis=(1, 2), keepdims=False) / 6.0)[:, None].astype("float32")
    inputs = keras.Input((12, 3))
    network = keras.Model(
        inputs, keras.layers.Dense(1)(CfC(8, implementation=implementation)(inputs))
    )
    network.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse", jit_compile=jit_compile)
    before = network.evaluate(x, y, verbose=0)
    calls_before_fit = spy.calls
    network.fit(x, y, batch_size=16, epochs=2, verbose=0)
    after = network.evaluate(x, y, verbose=0)
    assert (spy.calls > calls_before_fit) == kernel_runs
    assert np.isfinite(after) and after < before

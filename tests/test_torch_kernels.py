"""The native PyTorch kernels (``liquidtime.kernels.torch_*``) against the reference forms.

On Keras's PyTorch backend ``SynapticLTCCell`` and ``LTCCell`` (fused solver) and ``CfCCell`` run
whole sequences through ``torch.autograd.Function`` kernels with hand-written
backward passes. Their outputs and their gradients with respect to every weight,
the inputs, the initial state and per-step elapsed times must be those of the
reference form (``implementation="reference"``: PyTorch's autograd of the cell's
``transition`` scanned step by step, with the same weights) to 1e-5 in float32 and
1e-10 in float64 (relative to the largest value), for both kinds of elapsed time,
with and without ``return_sequences``, for fully connected and NCP wirings, for
every CfC mode and backbone depth, and for the dense LTC's activations and backbones.

Marked ``backends``: ``tests/test_backends.py`` reruns them in a PyTorch-backend
process from the default run; under other backends they are skipped.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

pytestmark = [
    pytest.mark.backends,
    pytest.mark.skipif(keras.backend.backend() != "torch", reason="the PyTorch kernels"),
]

from liquidtime.layers import LTC, CfC  # noqa: E402
from liquidtime.wirings import NCP, FullyConnected  # noqa: E402

TOLERANCE = {"float32": 1e-5, "float64": 1e-10}


def outputs_and_gradients(layer, x, elapsed_time, initial_state, training=False):
    """The layer's outputs, and the gradients of ``sum(sin(3 y))`` with respect to
    every trainable weight, the inputs, the initial state and the elapsed time
    (when it is a tensor), as float64 NumPy."""
    import torch

    x = torch.tensor(x, requires_grad=True)
    initial_state = torch.tensor(initial_state, requires_grad=True)
    if not isinstance(elapsed_time, float):
        elapsed_time = torch.tensor(elapsed_time, requires_grad=True)
    outputs = layer(x, initial_state=initial_state, elapsed_time=elapsed_time, training=training)
    loss = torch.sum(torch.sin(3.0 * outputs))
    wrt = [v.value for v in layer.trainable_variables] + [x, initial_state]
    if isinstance(elapsed_time, torch.Tensor):
        wrt.append(elapsed_time)
    grads = torch.autograd.grad(loss, wrt)
    as_numpy = lambda t: t.detach().numpy().astype(np.float64)  # noqa: E731
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


def compare(make_layer, data, dtype, kernel_spy, training=False):
    """The layer with ``implementation="torch"`` against the same weights with
    ``implementation="reference"`` (the cell's ``transition`` scanned step by step)."""
    x, initial_state, elapsed = data
    layer, reference = make_layer("torch"), make_layer("reference")
    layer.build(x.shape)
    reference.build(x.shape)
    reference.set_weights(layer.get_weights())
    kernel = outputs_and_gradients(layer, x, elapsed, initial_state, training)
    assert kernel_spy.calls == 1, "the kernel did not run"
    expected = outputs_and_gradients(reference, x, elapsed, initial_state, training)
    assert kernel_spy.calls == 1, "the reference ran the kernel"
    assert_close([kernel[0], *kernel[1]], [expected[0], *expected[1]], dtype)


class Spy:
    """Wraps a kernel function and counts its calls."""

    def __init__(self, monkeypatch, module, name):
        self.calls = 0
        function = getattr(module, name)

        def counted(*args, **kwargs):
            self.calls += 1
            return function(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)


@pytest.fixture
def ltc_spy(monkeypatch):
    from liquidtime.kernels import torch_synaptic_ltc

    return Spy(monkeypatch, torch_synaptic_ltc, "synaptic_ltc_sequence")


@pytest.fixture
def cfc_spy(monkeypatch):
    from liquidtime.kernels import torch_cfc

    return Spy(monkeypatch, torch_cfc, "cfc_sequence")


@pytest.fixture
def dense_ltc_spy(monkeypatch):
    from liquidtime.kernels import torch_dense_ltc

    return Spy(monkeypatch, torch_dense_ltc, "dense_ltc_sequence")


@pytest.fixture(params=["float32", "float64"])
def dtype(request):
    if request.param == "float64":
        request.getfixturevalue("float64")
    return request.param


WIRINGS = {
    "fully_connected": lambda: FullyConnected(5, output_dim=3, seed=3),
    "ncp": lambda: NCP(
        inter_neurons=3, command_neurons=3, motor_neurons=2, sensory_fanout=2,
        inter_fanout=2, recurrent_command_synapses=2, motor_fanin=2, seed=1,
    ),
}


@pytest.mark.parametrize("wiring", sorted(WIRINGS))
@pytest.mark.parametrize("time_kind", ["constant", "per_step"])
@pytest.mark.parametrize("return_sequences", [True, False])
def test_synaptic_ltc_kernel_matches_reference(
    ltc_spy, dtype, wiring, time_kind, return_sequences
):
    units = WIRINGS[wiring]().units
    data = sequence_data(dtype, 3, 7, 4, units, time_kind)

    def make_layer(implementation):
        return LTC(WIRINGS[wiring](), ode_unfolds=3, return_sequences=return_sequences,
                   implementation=implementation)

    compare(make_layer, data, dtype, ltc_spy)


@pytest.mark.parametrize("mode", ["default", "no_gate", "pure"])
@pytest.mark.parametrize("backbone_layers", [0, 1, 2])
@pytest.mark.parametrize("time_kind", ["constant", "per_step"])
@pytest.mark.parametrize("return_sequences", [True, False])
def test_cfc_kernel_matches_reference(
    cfc_spy, dtype, mode, backbone_layers, time_kind, return_sequences
):
    data = sequence_data(dtype, 3, 9, 4, 5, time_kind)

    def make_layer(implementation):
        return CfC(
            5, mode=mode, backbone_units=6, backbone_layers=backbone_layers,
            return_sequences=return_sequences, implementation=implementation,
        )

    compare(make_layer, data, dtype, cfc_spy)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"activation": "tanh", "ode_unfolds": 2},
        {"activation": "relu", "positivity": "clip"},
        {"backbone_units": 6, "backbone_layers": 1},
        {"backbone_units": 6, "backbone_layers": 2, "backbone_activation": "relu"},
    ],
    ids=["sigmoid", "tanh", "relu_clip", "backbone_1", "backbone_2_relu"],
)
@pytest.mark.parametrize("time_kind", ["constant", "per_step"])
@pytest.mark.parametrize("return_sequences", [True, False])
def test_dense_ltc_kernel_matches_reference(
    dense_ltc_spy, dtype, options, time_kind, return_sequences
):
    data = sequence_data(dtype, 3, 7, 4, 5, time_kind)

    def make_layer(implementation):
        options_here = {"ode_unfolds": 3, **options}
        return LTC(5, return_sequences=return_sequences, implementation=implementation,
                   **options_here)

    compare(make_layer, data, dtype, dense_ltc_spy)


@pytest.mark.parametrize("model", ["cfc", "dense_ltc"])
def test_kernels_with_backbone_dropout_masks(monkeypatch, cfc_spy, dense_ltc_spy, model):
    """The same (fixed) dropout masks in both forms give the same gradients."""
    data = sequence_data("float32", 4, 6, 3, 5, "per_step")
    rng = np.random.default_rng(1)
    masks = [keras.ops.convert_to_tensor((rng.uniform(size=(4, 8)) > 0.4) / 0.6, "float32")
             for _ in range(2)]
    layer_class = CfC if model == "cfc" else LTC

    def make_layer(implementation):
        layer = layer_class(5, backbone_units=8, backbone_layers=2, backbone_dropout=0.4,
                            return_sequences=True, implementation=implementation)
        monkeypatch.setattr(layer.cell.network, "dropout_masks", lambda batch, training: masks)
        return layer

    compare(make_layer, data, "float32", cfc_spy if model == "cfc" else dense_ltc_spy, training=True)


@pytest.mark.parametrize("kernel", ["ltc", "cfc", "dense_ltc"])
def test_kernel_gradients_pass_gradcheck(kernel):
    """PyTorch's finite-difference check of each kernel function on its own (float64)."""
    import torch

    from liquidtime.activations import lecun_tanh
    from liquidtime.kernels.torch_cfc import cfc_sequence
    from liquidtime.kernels.torch_dense_ltc import dense_ltc_sequence
    from liquidtime.kernels.torch_synaptic_ltc import synaptic_ltc_sequence

    generator = torch.Generator().manual_seed(0)

    def tensor(*shape, low=-1.0, high=1.0):
        values = torch.rand(*shape, generator=generator, dtype=torch.float64)
        return (low + (high - low) * values).requires_grad_()

    time, batch, n = 4, 2, 3
    dt = tensor(time, batch, 1, low=0.2, high=1.2)
    if kernel == "ltc":
        args = (tensor(time, batch, n, low=0.5, high=1.5), tensor(time, batch, n), tensor(batch, n),
                dt, tensor(n, n, low=3, high=8), tensor(n, n, low=1, high=4),
                tensor(n, n, low=0.1, high=1), tensor(n, n))
        function = lambda *a: synaptic_ltc_sequence(*a, unfolds=2)  # noqa: E731
    elif kernel == "dense_ltc":
        args = (tensor(time, batch, 2), tensor(batch, n), dt, tensor(n, low=0.5, high=2),
                tensor(n), tensor(2, 4), tensor(4), tensor(n, 4), tensor(4, n), tensor(n))

        def function(x, x0, dt, inverse_tau, reversal, v, c, r, w, b):
            return dense_ltc_sequence(torch.sigmoid, lecun_tanh, x, x0, dt, 2, inverse_tau,
                                      reversal, v, c, r, [(w, b)], None)
    else:
        args = (tensor(time, batch, 2), tensor(batch, n), dt, tensor(2, 4), tensor(4),
                tensor(n, 4), tensor(4, 4 * n), tensor(4 * n))

        def function(x, x0, dt, v, c, r, w, b):
            return cfc_sequence("default", lecun_tanh, x, x0, dt, (), v, c, r, [(w, b)], None)

    assert torch.autograd.gradcheck(function, args, eps=1e-6, atol=1e-8, rtol=1e-6)


@pytest.mark.parametrize("model", ["ltc", "cfc", "dense_ltc"])
def test_fit_on_torch_trains_through_the_kernels(model, ltc_spy, cfc_spy, dense_ltc_spy):
    """``model.fit`` reduces the loss when every training step runs a kernel."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 12, 3)).astype("float32")
    y = np.tanh(x.sum(axis=(1, 2), keepdims=False) / 6.0)[:, None].astype("float32")
    layers = {"ltc": lambda: LTC(FullyConnected(8, seed=0), ode_unfolds=3), "cfc": lambda: CfC(8),
              "dense_ltc": lambda: LTC(8, ode_unfolds=3)}
    layer = layers[model]()
    inputs = keras.Input((12, 3))
    network = keras.Model(inputs, keras.layers.Dense(1)(layer(inputs)))
    network.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    before = network.evaluate(x, y, verbose=0)
    network.fit(x, y, batch_size=16, epochs=1, verbose=0)
    after = network.evaluate(x, y, verbose=0)
    assert {"ltc": ltc_spy, "cfc": cfc_spy, "dense_ltc": dense_ltc_spy}[model].calls
    assert np.isfinite(after) and after < before

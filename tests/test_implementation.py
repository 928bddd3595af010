"""The ``implementation`` argument: validation, saving, and every kernel against the reference.

``"reference"`` scans each cell's plain ``transition``; ``"auto"`` and the named kernels
(:mod:`liquidtime.kernels.selection`) must give the same outputs and gradients.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from conftest import to_numpy
from helpers import value_and_gradients
from liquidtime.cells import CfCCell, MixedMemoryCell, SynapticLTCCell
from liquidtime.layers import CTGRU, CTRNN, LTC, CfC, NeuralODE
from liquidtime.wirings import AutoNCP

B, T, M = 3, 7, 2

LAYERS = {
    "ltc": lambda **kw: LTC(4, ode_unfolds=2, **kw),
    "synaptic_ltc": lambda **kw: LTC(AutoNCP(8, output_size=2, seed=1), ode_unfolds=2, **kw),
    "synaptic_ltc_mixed": lambda **kw: LTC(
        AutoNCP(8, output_size=2, seed=1), ode_unfolds=2, mixed_memory=True, **kw
    ),
    "cfc": lambda **kw: CfC(4, backbone_units=6, **kw),
    "cfc_pure": lambda **kw: CfC(4, mode="pure", backbone_layers=0, **kw),
    "cfc_mixed": lambda **kw: CfC(4, backbone_units=6, mixed_memory=True, **kw),
    "wired_cfc": lambda **kw: CfC(AutoNCP(8, output_size=2, seed=1), **kw),
    "ctrnn": lambda **kw: CTRNN(4, ode_unfolds=2, **kw),
    "neural_ode": lambda **kw: NeuralODE(4, ode_unfolds=2, **kw),
    "ctgru": lambda **kw: CTGRU(4, num_traces=3, **kw),
}


def inner_cell(layer):
    """The layer's continuous-time cell (inside a mixed-memory wrapper, if any)."""
    return layer.cell.cell if isinstance(layer.cell, MixedMemoryCell) else layer.cell


def kernels_here(layer) -> list[str]:
    """The layer's cell's kernels that run on the current backend with its solver."""
    cell = inner_cell(layer)
    return [name for name, kernel in cell.named_kernels.items() if kernel.runs_here(cell)]


def outputs_and_gradients(layer, x, elapsed_time):
    def loss():
        return keras.ops.sum(keras.ops.sin(3.0 * layer(x, elapsed_time=elapsed_time)))

    _, grads = value_and_gradients(loss, layer.trainable_weights)
    return to_numpy(layer(x, elapsed_time=elapsed_time)), grads


# A constant elapsed time takes other paths in the CfC (merged time heads) and the
# synaptic LTC's kernels (no time gradient); the other cells are checked with per-step times.
CASES = [(name, "per_step") for name in sorted(LAYERS)] + [
    ("cfc", "constant"), ("cfc_pure", "constant"), ("synaptic_ltc", "constant")
]


@pytest.mark.backends
@pytest.mark.usefixtures("float64")
@pytest.mark.parametrize("name, time_kind", CASES)
def test_auto_and_every_kernel_match_the_reference(name, time_kind):
    """In float64, where the kernels' other order of operations leaves no visible rounding
    (in float32 a gradient differs by up to ~1e-4 of its largest entry on PyTorch)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(B, T, M))
    elapsed_time = 0.7 if time_kind == "constant" else rng.uniform(0.1, 2.0, (B, T))
    reference = LAYERS[name](implementation="reference", return_sequences=True)
    reference.build((None, T, M))
    for variable in reference.trainable_weights:
        variable.assign(variable + rng.normal(scale=0.1, size=variable.shape))
    expected, expected_grads = outputs_and_gradients(reference, x, elapsed_time)
    for implementation in ["auto", *kernels_here(reference)]:
        layer = LAYERS[name](implementation=implementation, return_sequences=True)
        layer.build((None, T, M))
        layer.set_weights(reference.get_weights())
        actual, grads = outputs_and_gradients(layer, x, elapsed_time)
        np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-10, err_msg=implementation)
        for grad, expected_grad in zip(grads, expected_grads):
            scale = max(float(np.max(np.abs(expected_grad))), 1e-3)
            np.testing.assert_allclose(
                grad, expected_grad, rtol=0, atol=1e-10 * scale, err_msg=implementation
            )


def test_auto_picks_the_kernels_of_the_backend():
    backend = keras.backend.backend()
    assert kernels_here(LAYERS["cfc"]()) == {
        "jax": ["jax_scan"], "torch": ["torch"], "tensorflow": ["tensorflow"]
    }[backend]
    synaptic = ["fused_unfolds", "torch"] if backend == "torch" else ["fused_unfolds"]
    assert kernels_here(LAYERS["synaptic_ltc"]()) == synaptic
    assert kernels_here(LAYERS["synaptic_ltc"](solver="rk4")) == []
    assert kernels_here(LAYERS["ltc"]()) == (["torch"] if backend == "torch" else [])
    assert kernels_here(LAYERS["ltc"](solver="euler")) == []
    cell = inner_cell(LAYERS["synaptic_ltc"]())
    assert not cell.rematerialize  # fused_unfolds recomputes by itself
    assert inner_cell(LAYERS["synaptic_ltc"](implementation="reference")).rematerialize


def test_an_unknown_implementation_lists_the_valid_ones():
    with pytest.raises(
        ValueError,
        match=r"expected one of \['auto', 'reference', 'jax_scan', 'torch', 'tensorflow'\] "
        r"for CfCCell, got 'fast'",
    ):
        CfC(4, implementation="fast")
    with pytest.raises(ValueError, match=r"expected one of \['auto', 'reference'\] for CTGRUCell"):
        CTGRU(4, implementation=None)


def test_a_kernel_the_cell_lacks_names_the_backend_and_the_choices():
    backend = keras.backend.backend()
    with pytest.raises(
        ValueError,
        match=rf"CTRNNCell has no kernel 'jax_scan'\. On the {backend} backend, CTRNNCell "
        r"takes one of \['auto', 'reference'\]",
    ):
        CTRNN(4, implementation="jax_scan")


def test_a_kernel_of_another_backend_names_the_backend_and_the_choices():
    backend = keras.backend.backend()
    if backend == "jax":
        make, kernel, runs_on = lambda: LTC(AutoNCP(8, 2), implementation="torch"), "torch", "torch"
    else:
        make, kernel, runs_on = lambda: CfC(4, implementation="jax_scan"), "jax_scan", "jax"
    with pytest.raises(
        ValueError,
        match=rf"the kernel '{kernel}' of \w+ runs on {runs_on}, not on the current backend\. "
        rf"On the {backend} backend",
    ):
        make()


def test_a_solver_kernel_needs_its_solver():
    with pytest.raises(
        ValueError,
        match=r"'fused_unfolds' of SynapticLTCCell computes the steps of the 'fused' solver, "
        r"not of the cell's solver 'rk4'.*one of \['auto', 'reference'\]",
    ):
        SynapticLTCCell(AutoNCP(8, 2), solver="rk4", implementation="fused_unfolds")


def test_kernels_need_elementwise_activations():
    """The kernels differentiate the activations value by value: with one that mixes
    values (softmax, or a callable not known to be elementwise) "auto" runs the
    reference form, and naming a kernel is an error that says why."""
    backend = keras.backend.backend()
    cfc_kernel = {"jax": "jax_scan", "torch": "torch", "tensorflow": "tensorflow"}[backend]
    mixing = CfC(4, backbone_units=6, backbone_layers=1, activation="softmax")
    assert kernels_here(mixing) == []
    assert kernels_here(CfC(4, backbone_units=6, backbone_layers=1, activation="relu")) == [
        cfc_kernel
    ]
    no_backbone = CfC(4, backbone_layers=0, activation=lambda x: x)
    assert kernels_here(no_backbone) == [cfc_kernel]  # the activation is unused
    with pytest.raises(
        ValueError,
        match=rf"the kernel '{cfc_kernel}' of CfCCell needs an elementwise `activation`.*"
        r"one of \['auto', 'reference'\]",
    ):
        CfC(4, backbone_units=6, backbone_layers=1, activation=lambda x: x,
            implementation=cfc_kernel)
    if backend == "torch":
        assert kernels_here(LTC(4, activation="softmax")) == []
        assert kernels_here(LTC(4, backbone_units=6, backbone_layers=1,
                                backbone_activation=lambda x: x)) == []
        with pytest.raises(ValueError, match=r"needs an elementwise `backbone_activation`"):
            LTC(4, backbone_units=6, backbone_layers=1, backbone_activation="softmax",
                implementation="torch")


def test_the_mixed_memory_cell_runs_its_cells_implementation():
    cell = MixedMemoryCell(CfCCell(3, implementation="reference"))
    assert cell.implementation == "reference"
    assert "implementation" not in cell.get_config()
    assert MixedMemoryCell.from_config(cell.get_config()).implementation == "reference"
    with pytest.raises(ValueError, match="pass implementation='reference' to that cell"):
        MixedMemoryCell(CfCCell(3), implementation="reference")


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_the_choice_is_in_the_config(name):
    layer = LAYERS[name](implementation="reference")
    config = layer.get_config()
    assert config["implementation"] == "reference"
    assert type(layer).from_config(config).cell.implementation == "reference"
    assert LAYERS[name]().get_config()["implementation"] == "auto"
    old = {k: v for k, v in LAYERS[name]().get_config().items() if k != "implementation"}
    assert type(layer).from_config(old).cell.implementation == "auto"  # configs saved before


@pytest.mark.parametrize("name", ["synaptic_ltc_mixed", "cfc"])
def test_the_choice_survives_a_keras_file(name, tmp_path):
    x = np.random.default_rng(1).normal(size=(B, T, M)).astype("float32")
    model = keras.Sequential([keras.Input((T, M)), LAYERS[name](implementation="reference")])
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    assert restored.layers[0].cell.implementation == "reference"
    np.testing.assert_allclose(to_numpy(restored(x)), to_numpy(model(x)), rtol=0, atol=1e-6)


def test_cells_take_it_inside_keras_rnn():
    x = np.random.default_rng(2).normal(size=(B, T, M)).astype("float32")
    rnn = keras.layers.RNN(CfCCell(4, implementation="reference"))
    restored = keras.layers.RNN.from_config(rnn.get_config())
    assert restored.cell.implementation == "reference"
    assert rnn(x).shape == (B, 4)

"""One harness for every public layer and cell (issue 18).

Each public Keras layer class of liquidtime (the sequence layers and the cells) has a case
in :data:`CASES`: a small constructor call with as many arguments as reasonable set to
values other than their defaults. Every case is checked for

* (a) ``get_config`` / ``from_config``: every argument passed is in the config with its
  value (its serialized form), so an argument that is silently dropped fails, and the
  clone's config equals the original's;
* (b) a ``.keras`` file: a model holding it (a cell inside ``keras.layers.RNN``) is saved
  and loaded back with ``keras.saving.load_model``; weights, config and outputs agree;
* (c) ``dtype="float64"``: every weight and every output is float64;
* (d) the reference: the sequence layer's scan and ``keras.layers.RNN`` stepping the cell
  give the same outputs, and so do ``implementation="auto"`` and ``"reference"`` where
  the backend has a kernel for the cell.

:func:`test_every_public_layer_and_cell_has_a_case` fails when a public layer or cell
class has no case, and :func:`test_the_cases_set_every_argument` when a constructor
argument is set by none of its class's cases.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import json
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import pytest

import liquidtime
import liquidtime.cells
import liquidtime.layers
from conftest import to_numpy
from liquidtime.cells import (
    BaseCell,
    CfCCell,
    CTGRUCell,
    CTRNNCell,
    LTCCell,
    MixedMemoryCell,
    NeuralODECell,
    SynapticLTCCell,
    WiredCfCCell,
)
from liquidtime.cells.parameters import MinValue
from liquidtime.layers import CTGRU, CTRNN, LTC, CfC, ContinuousTimeRNN, NeuralODE
from liquidtime.solvers import get_solver
from liquidtime.wirings import NCP, AutoNCP, FullyConnected, Random

pytestmark = pytest.mark.backends

# Small and alike across cases: JAX compiles the weight initializers once per shape.
BATCH, STEPS, FEATURES = 2, 4, 3  # the last feature is the elapsed time
UNITS, BACKBONE = 4, 4


@pytest.fixture(scope="module", autouse=True)
def _quick_xla_compiles():
    """On JAX, XLA compiles with few optimizations while this module runs.

    The module's time goes to compiling small programs once each (every case has new
    shapes), not to running them: unoptimized, it takes about 30% less time. The results
    agree to rounding, far below the tolerances here. (Programs compiled here stay in
    JAX's in-memory cache for the rest of the process.)
    """
    if keras.backend.backend() != "jax":
        yield
        return
    import jax

    previous = jax.config.values["jax_disable_most_optimizations"]
    jax.config.update("jax_disable_most_optimizations", True)
    yield
    jax.config.update("jax_disable_most_optimizations", previous)


# Public Keras layer classes that are not layers one builds on their own: abstract bases
# (``transition`` unimplemented) and the cells' internal network (built by the cells,
# serialized through their arguments, so covered by their cases).
NOT_CONSTRUCTED = {
    "BaseCell": "abstract base of the cells",
    "ContinuousTimeCell": "abstract base of the ODE cells",
    "NetworkODECell": "abstract base of CTRNNCell and NeuralODECell",
    "CellSequenceLayer": "abstract base of the sequence layers",
    "InputStateNetwork": "the cells' input/state network, covered through the cells",
}


def _weight_options() -> dict[str, Any]:
    """Non-default initializers, regularizers and constraints of kernel, recurrent, bias."""
    return {
        # Uniform: on JAX, normal and orthogonal initializers take longer to compile.
        "kernel_initializer": keras.initializers.RandomUniform(-0.5, 0.5, seed=1),
        "recurrent_initializer": keras.initializers.RandomUniform(-0.3, 0.3, seed=2),
        "bias_initializer": keras.initializers.Constant(0.05),
        "kernel_regularizer": keras.regularizers.L2(1e-4),
        "recurrent_regularizer": keras.regularizers.L1L2(1e-5, 1e-5),
        "bias_regularizer": keras.regularizers.L1(1e-4),
        "kernel_constraint": keras.constraints.MaxNorm(3.0),
        "recurrent_constraint": keras.constraints.MaxNorm(2.5),
        "bias_constraint": keras.constraints.MaxNorm(4.0),
    }


@dataclasses.dataclass(frozen=True)
class Case:
    """A public class and a constructor call with non-default arguments.

    Attributes:
        id: The test id.
        cls: The class.
        first: Returns the positional argument: units, a wiring, or (for a wrapper) the
            wrapped cell, made with ``first(dtype=..., implementation=...)``.
        args: Returns fresh keyword arguments (initializers are not shared between objects).
        saved_as: The config's form of arguments that are saved transformed (by name).
        wrapper: ``implementation`` belongs to the wrapped cell (``first``), not to ``cls``.
    """

    id: str
    cls: type
    first: Callable[..., Any]
    args: Callable[[], dict[str, Any]]
    saved_as: dict[str, Any] = dataclasses.field(default_factory=dict)
    wrapper: bool = False

    def make(self, dtype: str | None = None, implementation: str = "reference") -> Any:
        args = self.args()
        if self.wrapper:
            first = self.first(dtype=dtype, implementation=implementation)
        else:
            first = self.first()
            args["implementation"] = implementation
        if dtype is not None:
            args["dtype"] = dtype
        return self.cls(first, **args)

    def first_kwargs(self) -> dict[str, Any]:
        return {"implementation": "reference"} if self.wrapper else {}

    @property
    def is_cell(self) -> bool:
        return issubclass(self.cls, BaseCell)

    def __repr__(self) -> str:
        return self.id


def _units() -> int:
    return UNITS


def _ncp() -> NCP:
    return NCP(
        inter_neurons=2,
        command_neurons=2,
        motor_neurons=2,
        sensory_fanout=1,
        inter_fanout=1,
        recurrent_command_synapses=2,
        motor_fanin=1,
        seed=4,
    )


def _random() -> Random:
    return Random(5, output_dim=2, sparsity_level=0.3, seed=5)


def _fully_connected() -> FullyConnected:
    return FullyConnected(4, output_dim=3, self_connections=False, seed=6, input_dim=FEATURES - 1)


def _auto_ncp() -> AutoNCP:
    return AutoNCP(6, output_size=2, sparsity_level=0.4, seed=3)


def _inner(cls: type, args: Callable[[], dict[str, Any]]) -> Callable[..., Any]:
    """``first`` of a wrapper: the wrapped cell, with the wrapper's dtype and implementation."""

    def make(dtype: str | None = None, implementation: str = "reference") -> BaseCell:
        extra = {} if dtype is None else {"dtype": dtype}
        return cls(UNITS, implementation=implementation, **args(), **extra)

    return make


def _ltc_args() -> dict[str, Any]:
    return {
        "activation": "tanh",
        "solver": "rk4",
        "ode_unfolds": 2,
        "backbone_units": BACKBONE,
        "backbone_layers": 2,
        "backbone_dropout": 0.1,
        "backbone_activation": "relu",
        "positivity": "clip",
        **_weight_options(),
        "tau_initializer": 2.0,
        "reversal_initializer": keras.initializers.RandomUniform(-0.5, 0.5, seed=3),
        "tau_regularizer": keras.regularizers.L2(1e-5),
        "reversal_regularizer": keras.regularizers.L1(1e-5),
        "tau_constraint": MinValue(0.01),
        "reversal_constraint": keras.constraints.MaxNorm(5.0),
        "elapsed_time_as_feature": True,
        "seed": 7,
    }


def _synaptic_args() -> dict[str, Any]:
    return {
        "input_mapping": "linear",
        "output_mapping": "none",
        "solver": "euler",
        "ode_unfolds": 4,
        "epsilon": 1e-6,
        "positivity": "clip",
        # Small synaptic weights and a larger capacitance keep Euler stable (h / tau < 2).
        "initialization_ranges": {"w": (0.01, 0.2), "sensory_w": (0.01, 0.2), "cm": (0.8, 1.0)},
        "regularizers": {"w": keras.regularizers.L2(1e-4), "gleak": keras.regularizers.L1(1e-5)},
        "elapsed_time_as_feature": True,
    }


def _cfc_args() -> dict[str, Any]:
    return {
        "mode": "no_gate",
        "activation": "relu",
        "backbone_units": BACKBONE,
        "backbone_layers": 2,
        "backbone_dropout": 0.1,
        "seed": 5,
        **_weight_options(),
        "elapsed_time_as_feature": True,
    }


def _wired_cfc_args() -> dict[str, Any]:
    return {
        "mode": "pure",
        "fully_recurrent": False,
        **_weight_options(),
        "elapsed_time_as_feature": True,
    }


def _ctrnn_args() -> dict[str, Any]:
    return {
        "activation": "sigmoid",
        "learn_tau": False,
        "tau_scales_drive": True,
        "use_gain": True,
        "positivity": "clip",
        "solver": "fused",
        "ode_unfolds": 2,
        "time_scale": 0.6,
        "clip_state": 5.0,
        "tau_initializer": 1.5,
        "gain_initializer": keras.initializers.Constant(0.8),
        "tau_regularizer": keras.regularizers.L2(1e-5),
        "gain_regularizer": keras.regularizers.L1(1e-5),
        "tau_constraint": MinValue(0.01),
        "gain_constraint": keras.constraints.NonNeg(),
        "backbone_units": BACKBONE,
        "backbone_layers": 1,
        "backbone_dropout": 0.2,
        "backbone_activation": "gelu",
        **_weight_options(),
        "elapsed_time_as_feature": True,
        "seed": 9,
    }


def _node_args() -> dict[str, Any]:
    return {
        "activation": "softsign",
        "solver": "euler",
        "ode_unfolds": 3,
        "time_scale": 0.5,
        "clip_state": 4.0,
        "backbone_units": BACKBONE,
        "backbone_layers": 1,
        "backbone_dropout": 0.2,
        "backbone_activation": "relu",
        **_weight_options(),
        "elapsed_time_as_feature": True,
        "seed": 11,
    }


def _ctgru_args() -> dict[str, Any]:
    return {
        "num_traces": 3,
        "min_timescale": 1.5,
        "timescale_ratio": 2.0,
        "per_trace_scales": True,
        "original_decay": True,
        **_weight_options(),
        "elapsed_time_as_feature": True,
    }


def _mixed_memory_args() -> dict[str, Any]:
    return {
        "forget_gate_bias": 0.5,
        "kernel_initializer": keras.initializers.RandomUniform(-0.5, 0.5, seed=4),
        "recurrent_initializer": keras.initializers.RandomUniform(-0.3, 0.3, seed=5),
        "bias_initializer": keras.initializers.Constant(0.1),
        "kernel_regularizer": keras.regularizers.L2(1e-4),
        "recurrent_regularizer": keras.regularizers.L1(1e-5),
        "bias_regularizer": keras.regularizers.L2(1e-3),
    }


def _layer_args() -> dict[str, Any]:
    """Non-default arguments of keras.layers.Layer."""
    return {"name": "under_test", "activity_regularizer": keras.regularizers.L2(1e-3), "trainable": False}


def _sequence_args() -> dict[str, Any]:
    """Non-default arguments of keras.layers.RNN (``return_state``, ``stateful`` and
    ``unroll=True`` are set by some cases: they change the outputs or the input's batch)."""
    return {"return_sequences": True, "go_backwards": True, "zero_output_for_mask": True, "unroll": 2}


def _cell(args: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    return lambda: {**args(), **_layer_args()}


def _layer(args: Callable[[], dict[str, Any]], **more: Any) -> Callable[[], dict[str, Any]]:
    return lambda: {**args(), **_sequence_args(), **_layer_args(), **more}


def _tau(value: float) -> dict[str, Any]:
    """A number as tau_initializer is saved as the Constant initializer of that value."""
    return {"tau_initializer": keras.initializers.Constant(value)}


CASES = [
    # Cells (inside keras.layers.RNN, and ContinuousTimeRNN for the reference check).
    Case("LTCCell", LTCCell, _units, _cell(_ltc_args), _tau(2.0)),
    Case("SynapticLTCCell", SynapticLTCCell, _ncp, _cell(_synaptic_args)),
    Case("CfCCell", CfCCell, _units, _cell(_cfc_args)),
    Case("WiredCfCCell", WiredCfCCell, _random, _cell(_wired_cfc_args)),
    Case("CTRNNCell", CTRNNCell, _units, _cell(_ctrnn_args), _tau(1.5)),
    Case("NeuralODECell", NeuralODECell, _units, _cell(_node_args)),
    Case("CTGRUCell", CTGRUCell, _units, _cell(_ctgru_args)),
    Case(
        "MixedMemoryCell",
        MixedMemoryCell,
        _inner(
            LTCCell,
            lambda: {
                "solver": "euler",
                "ode_unfolds": 2,
                "elapsed_time_as_feature": True,
                "recurrent_initializer": "glorot_uniform",
            },
        ),
        _cell(_mixed_memory_args),
        wrapper=True,
    ),
    # Sequence layers.
    Case("LTC", LTC, _units, _layer(_ltc_args, return_state=True), _tau(2.0)),
    Case("LTC-synaptic", LTC, _fully_connected, _layer(_synaptic_args, stateful=True)),
    Case(
        "LTC-mixed-memory",
        LTC,
        _auto_ncp,
        # The fused solver, whose kernel "auto" picks (fused_unfolds; torch on PyTorch).
        _layer(_synaptic_args, mixed_memory=True, return_state=True, solver="fused"),
    ),
    Case("CfC", CfC, _units, _layer(_cfc_args, stateful=True)),
    Case("CfC-wired", CfC, _ncp, _layer(_wired_cfc_args, return_state=True)),
    Case("CfC-mixed-memory", CfC, _units, _layer(_cfc_args, mixed_memory=True, mode="default")),
    Case("CTRNN", CTRNN, _units, _layer(_ctrnn_args, return_state=True, stateful=True), _tau(1.5)),
    Case(
        "NeuralODE",
        NeuralODE,
        _units,
        _layer(_node_args, unroll=True, return_state=True, stateful=True),
    ),
    Case("CTGRU", CTGRU, _units, _layer(_ctgru_args, return_state=True, stateful=True)),
    Case(
        "ContinuousTimeRNN",
        ContinuousTimeRNN,
        _inner(CfCCell, lambda: {"backbone_units": BACKBONE, "elapsed_time_as_feature": True}),
        lambda: {**_sequence_args(), **_layer_args(), "return_state": True, "stateful": True},
        wrapper=True,
    ),
]

# Constructor arguments that no case sets: of every class, or "Class.argument".
NOT_SET = {
    "autocast": "keras.layers.Layer's, not saved by Keras's own layers either",
    "cell": "the sequence layers build their cell from their own arguments",
    "units": "taken from the wiring or the wrapped cell",
    "MixedMemoryCell.elapsed_time_as_feature": "taken from the wrapped cell",
}


def _public_layer_classes() -> dict[str, type]:
    found = {}
    for module in (liquidtime, liquidtime.layers, liquidtime.cells):
        for name in module.__all__:
            value = getattr(module, name)
            if inspect.isclass(value) and issubclass(value, keras.layers.Layer):
                found[value.__name__] = value
    return found


def test_every_public_layer_and_cell_has_a_case():
    public = set(_public_layer_classes()) - set(NOT_CONSTRUCTED)
    covered = {case.cls.__name__ for case in CASES}
    assert public - covered == set(), "public layer or cell classes without a case in CASES"
    assert covered <= public


def _parameters(cls: type) -> set[str]:
    """Every named constructor argument of ``cls``, through its bases to keras.layers.Layer."""
    names = set()
    for klass in cls.__mro__:
        init = vars(klass).get("__init__")
        if init is not None:
            for name, parameter in inspect.signature(init).parameters.items():
                if parameter.kind not in (parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL):
                    names.add(name)
        if klass is keras.layers.Layer:
            break
    return names - {"self"}


@pytest.mark.parametrize("cls", sorted({case.cls for case in CASES}, key=repr), ids=repr)
def test_the_cases_set_every_argument(cls):
    """A new constructor argument fails here until a case sets it (or NOT_SET names it)."""
    passed = {"dtype", "implementation"}
    for case in CASES:
        if case.cls is cls:
            passed |= {_first_parameter(cls), *case.args()}
    not_set = {
        name.removeprefix(f"{cls.__name__}.")
        for name in NOT_SET
        if "." not in name or name.startswith(f"{cls.__name__}.")
    }
    assert sorted(_parameters(cls) - passed - not_set) == []


# --- helpers ---------------------------------------------------------------------------------


def _inputs(dtype: str = "float32", seed: int = 0) -> np.ndarray:
    """``(batch, time, features)``; the last feature is a positive elapsed time."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(BATCH, STEPS, FEATURES))
    x[..., -1] = rng.uniform(0.2, 1.2, size=(BATCH, STEPS))
    return x.astype(dtype)


class _Entries(dict):
    """Entries that a saved dict holds, beside others (``==`` tests that)."""

    def __eq__(self, saved: object) -> bool:
        return isinstance(saved, dict) and all(
            key in saved and saved[key] == value for key, value in self.items()
        )

    def __ne__(self, saved: object) -> bool:
        return not self == saved

    __hash__ = None  # type: ignore[assignment]


def _serialized(name: str, value: Any) -> Any:
    """The form an argument takes in a config."""
    if name == "solver":
        return keras.saving.serialize_keras_object(get_solver(value))
    if isinstance(value, dict):  # merged into defaults (initialization_ranges): a subset
        return _Entries({key: _serialized(key, item) for key, item in value.items()})
    if isinstance(value, tuple):
        return list(value)
    if hasattr(value, "get_config"):
        return keras.saving.serialize_keras_object(value)
    return value


def _nameless(value: Any) -> Any:
    """A serialized cell without its (generated) name."""
    if isinstance(value, dict) and "config" in value and isinstance(value["config"], dict):
        return {**value, "config": {k: v for k, v in value["config"].items() if k != "name"}}
    return value


def _first_parameter(cls: type) -> str:
    return next(iter(inspect.signature(cls).parameters))


# --- (a) the config ----------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_every_argument_survives_the_config(case):
    obj = case.make()
    config = obj.get_config()
    expected = {name: _serialized(name, value) for name, value in case.args().items()}
    if not case.wrapper:
        expected["implementation"] = "reference"
    expected.update({name: _serialized(name, value) for name, value in case.saved_as.items()})
    expected[_first_parameter(case.cls)] = _serialized("", case.first(**case.first_kwargs()))
    saved = {name: _nameless(value) for name, value in config.items()}
    expected = {name: _nameless(value) for name, value in expected.items()}
    missing = sorted(set(expected) - set(saved))
    assert not missing, f"arguments missing from the config: {missing}"
    differ = {k: (saved[k], v) for k, v in expected.items() if v != saved[k]}
    assert not differ, f"arguments saved with other values (saved, passed): {differ}"
    clone = case.cls.from_config(copy.deepcopy(config))  # RNN.from_config pops "cell"
    assert type(clone) is case.cls
    assert clone.get_config() == config


# --- shared by (b), (c) and (d) -------------------------------------------------------------


def _sequence_layer(case: Case, **make: Any) -> keras.layers.Layer:
    """The case's layer, or its cell inside ``keras.layers.RNN`` (every output and state)."""
    obj = case.make(**make)
    if not case.is_cell:
        return obj
    dtype = {} if make.get("dtype") is None else {"dtype": make["dtype"]}
    return keras.layers.RNN(obj, return_sequences=True, return_state=True, **dtype)


def _call(layer: keras.layers.Layer, x: np.ndarray) -> list[np.ndarray]:
    """Every output of ``layer`` on ``x``, from zero states (a stateful layer is reset)."""
    if getattr(layer, "stateful", False) and layer.built:
        layer.reset_state()
    return [to_numpy(y) for y in keras.tree.flatten(layer(x))]


def _perturb(weights: list[Any], seed: int = 0) -> None:
    """Moves every weight off its initial value, so that a weight not restored shows."""
    rng = np.random.default_rng(seed)
    for weight in weights:
        value = keras.ops.convert_to_numpy(weight.value)
        weight.assign(value + rng.uniform(0.0, 0.05, size=value.shape).astype(value.dtype))


def _assert_all_close(
    actual: list[np.ndarray], expected: list[np.ndarray], err_msg: str = "", **tolerance: float
) -> None:
    assert len(actual) == len(expected), err_msg
    for position, (got, wanted) in enumerate(zip(actual, expected)):
        np.testing.assert_allclose(got, wanted, err_msg=f"{err_msg} output {position}", **tolerance)


_RUNS: dict[str, tuple[keras.layers.Layer, list[np.ndarray]]] = {}


def _run(case: Case) -> tuple[keras.layers.Layer, list[np.ndarray]]:
    """:func:`_sequence_layer` with ``implementation="auto"`` and perturbed weights, and its
    outputs on :func:`_inputs`: made once per case, for (b) and (d) (each call compiles)."""
    if case.id not in _RUNS:
        layer = _sequence_layer(case, implementation="auto")
        layer.build((BATCH, STEPS, FEATURES))
        _perturb(layer.weights)
        _RUNS[case.id] = layer, _call(layer, _inputs())
    return _RUNS[case.id]


# --- (b) a .keras file ----------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_a_keras_file_gives_the_same_outputs(case, tmp_path):
    layer, outputs = _run(case)
    inputs = keras.Input((STEPS, FEATURES), batch_size=BATCH if layer.stateful else None)
    model = keras.Model(inputs, layer(inputs))
    model.save(tmp_path / "model.keras")
    restored = keras.saving.load_model(tmp_path / "model.keras")
    assert len(restored.weights) == len(model.weights)
    for saved, loaded in zip(model.weights, restored.weights):
        np.testing.assert_array_equal(to_numpy(loaded.value), to_numpy(saved.value), err_msg=saved.path)
    restored_layer = restored.layers[-1]
    # As JSON, which the file holds (a build_config's tuple is read back as a list).
    assert json.loads(json.dumps(restored_layer.get_config())) == json.loads(json.dumps(layer.get_config()))
    _assert_all_close(_call(restored_layer, _inputs()), outputs, rtol=1e-6, atol=1e-6)


# --- (c) float64 ----------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_a_float64_object_computes_in_float64(case):
    layer = _sequence_layer(case, implementation="auto", dtype="float64")
    outputs = keras.tree.flatten(layer(_inputs("float64")))
    assert layer.weights
    dtypes = {w.path: keras.backend.standardize_dtype(w.dtype) for w in layer.weights}
    assert {path: d for path, d in dtypes.items() if d != "float64"} == {}
    assert [keras.backend.standardize_dtype(y.dtype) for y in outputs] == ["float64"] * len(outputs)


# --- (d) the reference ------------------------------------------------------------------------


def _kernels_here(cell: BaseCell) -> list[str]:
    """The cell's named kernels that ``"auto"`` runs on this backend (with its solver)."""
    inner = cell.cell if isinstance(cell, MixedMemoryCell) else cell
    return [name for name, kernel in inner.named_kernels.items() if kernel.runs_here(inner)]


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_auto_the_reference_and_keras_rnn_agree(case):
    """The sequence layer's scan and ``keras.layers.RNN`` stepping the cell's ``call`` give
    the same outputs (float32), and so do ``implementation="auto"`` and ``"reference"``
    where the backend has a kernel for the cell (else "auto" runs the reference code)."""
    layer, expected = _run(case)  # a layer with "auto", or keras.layers.RNN on a cell
    flags = {
        "return_sequences": layer.return_sequences,
        "return_state": layer.return_state,
        "go_backwards": layer.go_backwards,
        "zero_output_for_mask": layer.zero_output_for_mask,
    }
    kernels = _kernels_here(layer.cell)
    if case.is_cell:
        others = {"ContinuousTimeRNN, reference": ContinuousTimeRNN(case.make(), **flags)}
        if kernels:
            others["ContinuousTimeRNN, auto"] = ContinuousTimeRNN(case.make(implementation="auto"), **flags)
    else:
        cell = type(layer.cell).from_config(layer.cell.get_config())
        others = {"keras.layers.RNN": keras.layers.RNN(cell, **flags)}
        if kernels:
            others["reference"] = case.make(implementation="reference")
    for label, other in others.items():
        other.build((BATCH, STEPS, FEATURES))
        other.cell.set_weights(layer.cell.get_weights())
        actual = _call(other, _inputs())
        _assert_all_close(actual, expected, rtol=1e-5, atol=1e-5, err_msg=label)

"""One factory for every model liquidtime compares: name a model by a string.

``make_rnn_layer(name, units)`` returns the recurrent layer and
``build_model(name, input_features, output_units)`` a whole ``keras.Model``
(recurrent layer and a dense head per step or at the last step, optionally with an
elapsed-time input), so that an experiment swaps models by changing one argument.

Each name has one entry in the registry :data:`MODELS`, a :class:`ModelSpec`: the layer
that builds it, its ``"paper"`` preset, its wiring, whether it integrates the elapsed
time, its column in the paper's tables and whose learning rate of the paper it
trains with. Names (:data:`MODEL_NAMES`, the registry's keys):

=================  ===========================================================
``ltc``            Synaptic LTC (the original code's form) on a fully connected
                   wiring: ``LTC(FullyConnected(units))``.
``ltc-dense``      Dense LTC of the paper's Eq. 1 / Algorithm 1: ``LTC(units)``.
``ltc-ncp``        Synaptic LTC on an ``AutoNCP`` wiring; its motor neurons are
                   the layer's outputs.
``cfc``            Closed-form continuous-time network: ``CfC(units)``.
``cfc-ncp``        Wired CfC on an ``AutoNCP`` wiring; its motor neurons are the
                   layer's outputs.
``ctrnn``          CT-RNN: ``CTRNN(units)``.
``liquid-neuron``  The seed's learnable-tau neuron: ``CTRNN.liquid_neuron(units)``
                   (a CT-RNN; its tau does not depend on the input).
``node``           The paper's Neural ODE: ``NeuralODE(units)``.
``ctgru``          CT-GRU (Mozer et al. 2017): ``CTGRU(units)``.
``lstm``           ``keras.layers.LSTM(units)``.
=================  ===========================================================

Presets (:data:`PRESETS`): ``"default"`` is each layer's own defaults.
``"paper"`` reproduces the original LTC experiment code (see
:func:`preset_arguments`):

* ``ltc``: fused solver, 6 unfolds, affine input map, full state as output
  (``output_mapping="none"``), positive parameters clipped after each step
  (``positivity="clip"``) and the original initial values (``gleak = 1``,
  ``w, sensory_w ~ U(0.01, 1)``, and ``cm = 0.5 / 6``: the original's fused step
  used ``cm_t = 0.5`` where liquidtime uses ``cm / h`` with ``h = 1/6``).
* ``ctrnn``: tau fixed at 1, 6 explicit Euler steps of 0.1 per input step
  (``time_scale=0.6``), ``tanh``.
* ``node``: 6 RK4 steps of 0.1 per input step (``time_scale=0.6``); the paper
  clipped the state at 10 for traffic and power: pass ``clip_state=10.0``.
* ``ctgru``: 8 traces, per-trace scales and the original decay quirk
  ``exp(-1 / ln tau_k)`` (see :class:`~liquidtime.cells.CTGRUCell`).
* ``ctrnn``, ``node`` and ``lstm``: the original's dense maps act on ``[I, x]``
  with one Glorot-uniform matrix; the preset draws the input and recurrent
  kernels from that matrix's range ``U(+-sqrt(6 / (M + N + fan_out)))`` when
  ``input_features`` is known.
* ``ltc-dense``, ``ltc-ncp``, ``cfc``, ``cfc-ncp``, ``liquid-neuron``: not in the LTC paper;
  both presets are the defaults.

Known differences of the ``"paper"`` preset from the original code: the
fully connected wiring draws excitatory synapses with probability 2/3 (ncps), the
original 1/2; the CT-GRU's three heads keep the layer's initializers (the
original drew each dense map on ``[I, h]`` from its own Glorot range). The LSTM
matches: TF1's ``LSTMCell`` added its forget bias of 1 at every step, Keras
initializes that bias at 1, a shift of the same parameter.

The paper's step size. The original CT-RNN and Neural ODE took 6 solver steps of
0.1 per input step: they integrated 0.6 time units per input step whatever the
data's sampling. liquidtime's layers integrate ``time_scale * dt`` per input step;
the ``"default"`` preset integrates exactly the elapsed time (``time_scale=1``),
the ``"paper"`` preset ``0.6 dt`` (``time_scale=0.6``), which is the original for
``dt = 1`` and scales with the elapsed time for irregular data.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any, Literal

import keras

from liquidtime._validation import one_of
from liquidtime.layers.cfc import CfC
from liquidtime.layers.ctgru import CTGRU
from liquidtime.layers.ctrnn import CTRNN
from liquidtime.layers.ltc import LTC
from liquidtime.layers.node import NeuralODE

PRESETS: tuple[str, ...] = ("default", "paper")

_WIRING_ARGUMENTS = ("output_size", "sparsity_level", "wiring_seed")

PAPER_LTC_INITIALIZATION = {
    "gleak": (1.0, 1.0),
    "cm": (0.5 / 6, 0.5 / 6),
    "w": (0.01, 1.0),
    "sensory_w": (0.01, 1.0),
}
"""The original code's initial values in liquidtime's parametrization (6 unfolds, dt = 1)."""


def _layer_defaults(units: int, input_features: int | None) -> dict[str, Any]:
    """No arguments: the ``"paper"`` preset of a model the LTC paper did not train."""
    return {}


def _joint_glorot_kernels(units: int, input_features: int | None, fan_out: int) -> dict[str, Any]:
    """The original's one Glorot-uniform matrix on ``[I, x]``, for the input and recurrent kernels.

    Args:
        units: Number of neurons N.
        input_features: Number of input features M, or None when unknown.
        fan_out: Columns of the original's matrix (``N``; ``4 N`` for the LSTM's gates).

    Returns:
        ``kernel_initializer`` and ``recurrent_initializer``, both
        ``U(+-sqrt(6 / (M + N + fan_out)))``; empty when ``input_features`` is None.
    """
    if input_features is None:
        return {}
    limit = math.sqrt(6.0 / (input_features + units + fan_out))
    return {
        key: keras.initializers.RandomUniform(-limit, limit)
        for key in ("kernel_initializer", "recurrent_initializer")
    }


def _paper_ltc(units: int, input_features: int | None) -> dict[str, Any]:
    """The original LTC: fused solver, 6 unfolds, affine input, clipped parameters, its initial values."""
    return {
        "input_mapping": "affine",
        "output_mapping": "none",
        "solver": "fused",
        "ode_unfolds": 6,
        "positivity": "clip",
        "initialization_ranges": dict(PAPER_LTC_INITIALIZATION),
    }


def _paper_ctrnn(units: int, input_features: int | None) -> dict[str, Any]:
    """The original CT-RNN: tau fixed at 1, 6 Euler steps of 0.1 per input step, ``tanh``."""
    return {
        "activation": "tanh",
        "learn_tau": False,
        "tau_initializer": 1.0,
        "solver": "euler",
        "ode_unfolds": 6,
        "time_scale": 0.6,
        **_joint_glorot_kernels(units, input_features, fan_out=units),
    }


def _paper_node(units: int, input_features: int | None) -> dict[str, Any]:
    """The original Neural ODE: 6 RK4 steps of 0.1 per input step, ``tanh``."""
    return {
        "activation": "tanh",
        "solver": "rk4",
        "ode_unfolds": 6,
        "time_scale": 0.6,
        **_joint_glorot_kernels(units, input_features, fan_out=units),
    }


def _paper_ctgru(units: int, input_features: int | None) -> dict[str, Any]:
    """The original CT-GRU: 8 traces, per-trace scales and its decay quirk."""
    return {"num_traces": 8, "per_trace_scales": True, "original_decay": True}


def _paper_lstm(units: int, input_features: int | None) -> dict[str, Any]:
    """The original LSTM: Keras's defaults but the joint Glorot range of its four gates."""
    return _joint_glorot_kernels(units, input_features, fan_out=4 * units)


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """One named model: how liquidtime builds it and what it stands for in the LTC paper.

    Attributes:
        name: The model's name, its key in :data:`MODELS`.
        build: Makes the recurrent layer, called as ``build(units_or_wiring, **arguments)``:
            the number of neurons, or the wiring for a model with one (:attr:`wiring`),
            and the layer's keyword arguments.
        paper_counterpart: The model of the paper whose default Adam learning rate this
            model trains with (:meth:`liquidtime.data.TrainingDefaults.learning_rate`:
            the LTC's 0.01, or 0.005 for occupancy and smnist, the baselines' 0.001).
        paper_preset: The ``"paper"`` preset's layer arguments, called as
            ``paper_preset(units, input_features)`` (``input_features`` None when unknown).
        wiring: ``"fully_connected"`` (a seeded ``FullyConnected`` wiring),
            ``"ncp"`` (an ``AutoNCP`` wiring whose motor neurons are the layer's
            outputs) or None for a layer without a wiring.
        takes_elapsed_time: Whether the layer integrates ``elapsed_time=``; otherwise
            :func:`build_model` feeds the elapsed time as an extra input feature.
        paper_name: The model's column in the paper's tables (its key in
            :data:`liquidtime.data.PAPER_RESULTS`), or None for a model the paper did not train.
    """

    name: str
    build: Callable[..., keras.layers.Layer]
    paper_counterpart: str
    paper_preset: Callable[[int, int | None], dict[str, Any]] = _layer_defaults
    wiring: Literal["fully_connected", "ncp"] | None = None
    takes_elapsed_time: bool = True
    paper_name: str | None = None

    @property
    def wired(self) -> bool:
        """Whether the layer's outputs are its NCP wiring's motor neurons (``output_size`` of them)."""
        return self.wiring == "ncp"


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "ltc", LTC, paper_counterpart="ltc", paper_preset=_paper_ltc, wiring="fully_connected",
            paper_name="ltc",
        ),
        ModelSpec("ltc-dense", LTC, paper_counterpart="ltc"),
        ModelSpec("ltc-ncp", LTC, paper_counterpart="ltc", wiring="ncp"),
        ModelSpec("cfc", CfC, paper_counterpart="lstm"),
        ModelSpec("cfc-ncp", CfC, paper_counterpart="lstm", wiring="ncp"),
        ModelSpec("ctrnn", CTRNN, paper_counterpart="ctrnn", paper_preset=_paper_ctrnn, paper_name="ctrnn"),
        ModelSpec("liquid-neuron", CTRNN.liquid_neuron, paper_counterpart="ctrnn"),
        ModelSpec("node", NeuralODE, paper_counterpart="node", paper_preset=_paper_node, paper_name="node"),
        ModelSpec("ctgru", CTGRU, paper_counterpart="ctgru", paper_preset=_paper_ctgru, paper_name="ctgru"),
        ModelSpec(
            "lstm", keras.layers.LSTM, paper_counterpart="lstm", paper_preset=_paper_lstm,
            takes_elapsed_time=False, paper_name="lstm",
        ),
    )
}
"""The model registry: each name's :class:`ModelSpec`, in the order of :data:`MODEL_NAMES`."""

MODEL_NAMES: tuple[str, ...] = tuple(MODELS)
"""The names :func:`make_rnn_layer` and :func:`build_model` accept."""

WIRED_MODELS: tuple[str, ...] = tuple(name for name, spec in MODELS.items() if spec.wired)
"""Models whose layer outputs are the wiring's motor neurons (``output_size`` of them)."""


def _spec(name: Any) -> ModelSpec:
    """The registry's entry of a model name.

    Args:
        name: A model name from :data:`MODEL_NAMES`.

    Returns:
        Its :class:`ModelSpec`.

    Raises:
        ValueError: For an unknown name.
    """
    return MODELS[one_of("name", name, MODEL_NAMES)]


def preset_arguments(
    name: str, units: int = 32, preset: str = "default", input_features: int | None = None
) -> dict[str, Any]:
    """The layer arguments a preset sets for a model (before user overrides).

    Args:
        name: A model name from :data:`MODEL_NAMES`.
        units: Number of neurons (needed for the paper's initializer ranges).
        preset: ``"default"`` or ``"paper"``.
        input_features: Number of input features M, if known; the ``"paper"``
            preset then sets the original code's joint Glorot range for the input and
            recurrent kernels of ``ctrnn``, ``node`` and ``lstm``.

    Returns:
        A dict of keyword arguments (empty for the defaults).
    """
    spec, preset = _spec(name), one_of("preset", preset, PRESETS)
    if preset == "default":
        return {}
    return spec.paper_preset(units, input_features)


def _wiring(spec: ModelSpec, units: int, options: dict[str, Any]) -> Any:
    from liquidtime.wirings import AutoNCP, FullyConnected

    seed = options.get("wiring_seed")
    if not spec.wired:
        return FullyConnected(units, seed=seed)
    if "output_size" not in options:
        raise ValueError(
            f"Model {spec.name!r} needs `output_size`, the number of motor neurons of its NCP wiring."
        )
    return AutoNCP(
        units, options["output_size"], sparsity_level=options.get("sparsity_level", 0.5), seed=seed
    )


def make_rnn_layer(
    name: str,
    /,
    units: int = 32,
    *,
    preset: str = "default",
    return_sequences: bool = False,
    input_features: int | None = None,
    **overrides: Any,
) -> keras.layers.Layer:
    """The recurrent layer of a named model.

    Args:
        name: One of :data:`MODEL_NAMES` (positional; ``name=`` is the layer's name).
        units: Number of neurons (hidden units).
        preset: ``"default"`` or ``"paper"`` (see the module docstring).
        return_sequences: Return every step's output.
        input_features: Number of input features, if known (used by the ``"paper"``
            preset's initializers).
        **overrides: Layer arguments that replace the preset's (e.g.
            ``clip_state=10.0`` for ``node``, ``ode_unfolds=12``). For ``ltc`` and
            the wired models (:data:`WIRED_MODELS`): ``wiring_seed``; for the wired
            models also ``output_size`` (their number of motor neurons, required)
            and ``sparsity_level`` (default 0.5).

    Returns:
        A Keras layer taking ``(batch, time, features)``; liquidtime layers also take
        ``elapsed_time=``, ``keras.layers.LSTM`` does not.

    Raises:
        ValueError: For an unknown name or preset, or a missing ``output_size``.
    """
    spec = _spec(name)
    arguments = {**preset_arguments(name, units, preset, input_features), **overrides}
    arguments["return_sequences"] = return_sequences
    wiring_options = {key: arguments.pop(key) for key in _WIRING_ARGUMENTS if key in arguments}
    if spec.wiring is not None:
        return spec.build(_wiring(spec, units, wiring_options), **arguments)
    if wiring_options:
        raise ValueError(
            f"Model {name!r} has no wiring; it does not take {sorted(wiring_options)}."
        )
    return spec.build(units, **arguments)


def build_model(
    name: str,
    /,
    input_features: int,
    output_units: int,
    *,
    units: int = 32,
    return_sequences: bool = True,
    irregular: bool = False,
    sequence_length: int | None = None,
    preset: str = "default",
    output_activation: Any = None,
    **overrides: Any,
) -> keras.Model:
    """A complete sequence model: recurrent layer and linear head, ready to compile.

    The head is ``Dense(output_units)`` applied at every step
    (``return_sequences=True``) or at the last step, for every model. For
    classification it returns logits (compile with ``from_logits=True``) unless
    ``output_activation`` is set. The wired models (``ltc-ncp``, ``cfc-ncp``) get
    ``output_units`` motor neurons unless ``output_size`` is given, so the head
    reads the NCP's motor neurons only.

    With ``irregular=True`` the model takes two inputs ``[x, elapsed_time]``, the
    second of shape ``(batch, time)``. Continuous-time layers integrate over it;
    the LSTM, which has no notion of time, receives it as an extra input feature.

    Args:
        name: One of :data:`MODEL_NAMES` (positional).
        input_features: Number of input features per step.
        output_units: Outputs per step (classes, or regression targets).
        units: Number of neurons of the recurrent layer (default 32, as the paper).
        return_sequences: Output at every step (default) or at the last step only.
        irregular: Add the elapsed-time input.
        sequence_length: Fixed sequence length, or None for any length.
        preset: ``"default"`` or ``"paper"`` (see the module docstring).
        output_activation: Activation of the head (default linear).
        **overrides: Arguments of the recurrent layer (see :func:`make_rnn_layer`).

    Returns:
        An uncompiled ``keras.Model`` named ``"{name}"``.

    Example:
    >>> model = build_model("ctrnn", input_features=7, output_units=1, preset="paper")
    >>> model.compile("adam", "mse")
    >>> model.predict(np.zeros((4, 32, 7))).shape
    (4, 32, 1)
    """
    spec = _spec(name)
    if spec.wired:
        overrides = {"output_size": output_units, **overrides}
    inputs = keras.Input((sequence_length, input_features), name="inputs")
    model_inputs: Any = inputs
    time_as_feature = irregular and not spec.takes_elapsed_time
    layer_features = input_features + 1 if time_as_feature else input_features
    layer = make_rnn_layer(
        name,
        units,
        preset=preset,
        return_sequences=return_sequences,
        input_features=layer_features,
        **{"name": name.replace("-", "_"), **overrides},
    )
    if irregular:
        elapsed_time = keras.Input((sequence_length,), name="elapsed_time")
        model_inputs = [inputs, elapsed_time]
        if time_as_feature:
            with_time = keras.layers.Concatenate(axis=-1)(
                [inputs, keras.layers.Reshape((-1, 1))(elapsed_time)]
            )
            hidden = layer(with_time)
        else:
            hidden = layer(inputs, elapsed_time=elapsed_time)
    else:
        hidden = layer(inputs)
    outputs = keras.layers.Dense(output_units, activation=output_activation, name="head")(hidden)
    return keras.Model(model_inputs, outputs, name=name.replace("-", "_"))

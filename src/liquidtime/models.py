"""One factory for every model liquidtime compares: name a model by a string.

``make_rnn_layer(name, units)`` returns the recurrent layer and
``build_model(name, input_features, output_units)`` a whole ``keras.Model``
(recurrent layer and a dense head per step or at the last step, optionally with an
elapsed-time input), so that an experiment swaps models by changing one argument.

Names (:data:`MODEL_NAMES`):

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

import math
from typing import Any

import keras

from liquidtime.layers.cfc import CfC
from liquidtime.layers.ctgru import CTGRU
from liquidtime.layers.ctrnn import CTRNN
from liquidtime.layers.ltc import LTC
from liquidtime.layers.node import NeuralODE

MODEL_NAMES: tuple[str, ...] = (
    "ltc",
    "ltc-dense",
    "ltc-ncp",
    "cfc",
    "cfc-ncp",
    "ctrnn",
    "liquid-neuron",
    "node",
    "ctgru",
    "lstm",
)
"""The names :func:`make_rnn_layer` and :func:`build_model` accept."""

PRESETS: tuple[str, ...] = ("default", "paper")

WIRED_MODELS: tuple[str, ...] = ("ltc-ncp", "cfc-ncp")
"""Models whose layer outputs are the wiring's motor neurons (``output_size`` of them)."""

_WIRING_ARGUMENTS = ("output_size", "sparsity_level", "wiring_seed")

PAPER_LTC_INITIALIZATION = {
    "gleak": (1.0, 1.0),
    "cm": (0.5 / 6, 0.5 / 6),
    "w": (0.01, 1.0),
    "sensory_w": (0.01, 1.0),
}
"""The original code's initial values in liquidtime's parametrization (6 unfolds, dt = 1)."""


def _check_name(name: Any) -> str:
    if name not in MODEL_NAMES:
        raise ValueError(
            f"Received an invalid value for argument `name`, expected one of "
            f"{list(MODEL_NAMES)}, got {name!r}."
        )
    return name


def _check_preset(preset: Any) -> str:
    if preset not in PRESETS:
        raise ValueError(
            f"Received an invalid value for argument `preset`, expected one of {list(PRESETS)}, "
            f"got {preset!r}."
        )
    return preset


def _joint_glorot(units: int, input_features: int, fan_out: int) -> keras.initializers.Initializer:
    """The range of one Glorot-uniform matrix on ``[I, x]``: ``U(+-sqrt(6 / (M + N + fan_out)))``."""
    limit = math.sqrt(6.0 / (input_features + units + fan_out))
    return keras.initializers.RandomUniform(-limit, limit)


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
    name, preset = _check_name(name), _check_preset(preset)
    if preset == "default":
        return {}
    if name == "ltc":
        return {
            "input_mapping": "affine",
            "output_mapping": "none",
            "solver": "fused",
            "ode_unfolds": 6,
            "positivity": "clip",
            "initialization_ranges": dict(PAPER_LTC_INITIALIZATION),
        }
    arguments: dict[str, Any] = {}
    if name == "ctrnn":
        arguments = {
            "activation": "tanh",
            "learn_tau": False,
            "tau_initializer": 1.0,
            "solver": "euler",
            "ode_unfolds": 6,
            "time_scale": 0.6,
        }
    elif name == "node":
        arguments = {"activation": "tanh", "solver": "rk4", "ode_unfolds": 6, "time_scale": 0.6}
    elif name == "ctgru":
        arguments = {"num_traces": 8, "per_trace_scales": True, "original_decay": True}
    if name in ("ctrnn", "node", "lstm") and input_features is not None:
        fan_out = 4 * units if name == "lstm" else units
        arguments["kernel_initializer"] = _joint_glorot(units, input_features, fan_out)
        arguments["recurrent_initializer"] = _joint_glorot(units, input_features, fan_out)
    return arguments


def _wiring(name: str, units: int, options: dict[str, Any]) -> Any:
    from liquidtime.wirings import AutoNCP, FullyConnected

    seed = options.get("wiring_seed")
    if name == "ltc":
        return FullyConnected(units, seed=seed)
    # ltc-ncp, cfc-ncp
    if "output_size" not in options:
        raise ValueError(
            f"Model {name!r} needs `output_size`, the number of motor neurons of its NCP wiring."
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
    name = _check_name(name)
    arguments = {**preset_arguments(name, units, preset, input_features), **overrides}
    arguments["return_sequences"] = return_sequences
    wiring_options = {key: arguments.pop(key) for key in _WIRING_ARGUMENTS if key in arguments}
    if name in ("ltc", "ltc-ncp"):
        return LTC(_wiring(name, units, wiring_options), **arguments)
    if name == "cfc-ncp":
        return CfC(_wiring(name, units, wiring_options), **arguments)
    if wiring_options:
        raise ValueError(
            f"Model {name!r} has no wiring; it does not take {sorted(wiring_options)}."
        )
    if name == "ltc-dense":
        return LTC(units, **arguments)
    if name == "cfc":
        return CfC(units, **arguments)
    if name == "ctrnn":
        return CTRNN(units, **arguments)
    if name == "liquid-neuron":
        return CTRNN.liquid_neuron(units, **arguments)
    if name == "node":
        return NeuralODE(units, **arguments)
    if name == "ctgru":
        return CTGRU(units, **arguments)
    return keras.layers.LSTM(units, **arguments)


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
    name = _check_name(name)
    if name in WIRED_MODELS:
        overrides = {"output_size": output_units, **overrides}
    inputs = keras.Input((sequence_length, input_features), name="inputs")
    model_inputs: Any = inputs
    layer_features = input_features + 1 if irregular and name == "lstm" else input_features
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
        if name == "lstm":
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

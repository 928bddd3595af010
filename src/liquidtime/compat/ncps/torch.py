"""ncps's PyTorch API (``ncps.torch``) on liquidtime: the same classes, arguments and calls.

Code written for ``ncps.torch`` runs after changing its imports to
``from liquidtime.compat.ncps.torch import LTC, CfC`` (also ``LTCCell``, ``CfCCell``,
``WiredCfCCell``) and ``from liquidtime.compat.ncps.wirings import AutoNCP, ...``. Each
class is a ``torch.nn.Module`` that owns a liquidtime Keras layer (or cell) running on
Keras's PyTorch backend, so it only works when that is Keras's backend: importing this
module under another backend raises ``ImportError`` (set ``KERAS_BACKEND=torch`` before
importing keras or liquidtime).

What is the same as ncps 1.0.1: constructor arguments and defaults
(``LTC(input_size, units, return_sequences=True, batch_first=True,
mixed_memory=False, ...)``, ``CfC(input_size, units, proj_size=None, ...)``), the call
``forward(input, hx=None, timespans=None) -> (output, hx)`` with ``hx`` a tensor, or
``(h, c)`` with mixed memory, unbatched input ``(L, C)``, ``batch_first``, and the
equations (the outputs of an ncps module equal ours once its ``state_dict`` is loaded).
``parameters()`` and ``state_dict()`` work with plain torch optimizers and
``torch.save``; ``load_state_dict`` also takes a ``state_dict`` of the ncps module
(converted by :func:`liquidtime.compat.load_ncps_weights`).

Differences, on purpose:

* ``timespans`` of a batch, ``(B, L)`` or ``(B, L, 1)``, give each sequence its own
  elapsed times (ncps squeezes them and fails unless the batch has one sequence);
  they must be >= 0 and finite.
* The ``state_dict`` keys are ours (``rnn.<variable path>``, ``fc.weight``); an ncps
  ``state_dict`` still loads. A wired ncps module's synapses load only into a module on
  the same synapses: build it on :func:`liquidtime.compat.wiring_from_ncps` of the ncps
  wiring (a seed draws other synapses here than in ncps).
* The wired CfC's ``hx`` is in ncps's order (its layers' states in signal-flow order:
  inter, command, motor); the Keras layer inside keeps them in neuron-id order.
* Errors are ``ValueError`` (ncps: ``RuntimeError``) and name the argument.
* ``LTC(implicit_param_constraints=False)`` keeps the positive parameters as values;
  call the module's ``apply_weight_constraints()`` after each optimizer step (ncps:
  ``module.rnn_cell.apply_weight_constraints()``).
* Modules run in float32, the dtype of Keras's policy; ``module.double()`` is not
  supported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras

if keras.backend.backend() != "torch":
    raise ImportError(
        "liquidtime.compat.ncps.torch runs on Keras's PyTorch backend, but Keras's backend "
        f"is {keras.backend.backend()!r}. Set the environment variable KERAS_BACKEND=torch "
        "before importing keras or liquidtime."
    )

import numpy as np
import torch

from liquidtime.cells.wired_cfc import wiring_layers
from liquidtime.compat.convert import load_ncps_weights
from liquidtime.compat.ncps import keras as _ncps_keras
from liquidtime.compat.ncps import wirings as _wirings
from liquidtime.wirings.base import Wiring


def _as_wiring(units: Any) -> Any:
    """ncps: an int means a fully connected wiring of that many neurons."""
    if isinstance(units, Wiring):
        return units
    return _wirings.FullyConnected(units)


def _positivity(implicit_param_constraints: bool) -> str:
    """The LTC's ``positivity`` for ncps.torch's ``implicit_param_constraints``.

    Args:
        implicit_param_constraints: ncps's option: positive parameters held as softplus
            preimages (True) or as values (False).

    Returns:
        ``"softplus"`` or ``"clip"``.
    """
    return "softplus" if implicit_param_constraints else "clip"


def _ncps_state_order(wiring: Wiring) -> torch.Tensor | None:
    """Where ncps's wired CfC state has each of our neurons, or None if in neuron-id order.

    ncps's wired CfC concatenates its layers' states in signal-flow order (inter,
    command, motor); liquidtime keeps the state in neuron-id order (motor first).
    """
    layers = wiring_layers(wiring)
    if len(layers) == 1:
        return None
    return torch.cat([torch.arange(start, stop) for start, stop in layers])


def _lstm_in_neuron_order(arrays: dict[str, Any], order: Any) -> dict[str, Any]:
    """An ncps wired CfC's mixed-memory LSTM weights, reordered from its state order to ours.

    Its LSTM's units (the four gate chunks' rows, the recurrent columns) follow the
    state, which ncps orders by layer (see :func:`_ncps_state_order`).
    """
    inverse = np.argsort(order)
    arrays = dict(arrays)
    for key in ("lstm.input_map.weight", "lstm.input_map.bias",
                "lstm.recurrent_map.weight", "lstm.recurrent_map.bias"):
        if key not in arrays:
            continue
        value = np.asarray(arrays[key])
        chunks = np.split(value, 4, axis=0)
        value = np.concatenate([chunk[inverse] for chunk in chunks], axis=0)
        if key == "lstm.recurrent_map.weight":
            value = value[:, inverse]
        arrays[key] = value
    return arrays


def _ncps_arrays(state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """A state_dict's tensors as NumPy arrays, for the converter."""
    return {
        key: value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else value
        for key, value in state_dict.items()
    }


class _KerasModule(torch.nn.Module):
    """A ``torch.nn.Module`` owning a built liquidtime Keras layer or cell.

    The Keras object's variables are registered as this module's parameters under
    their variable paths without the Keras object's own (unique, per-instance) name,
    so ``state_dict()`` keys are the same for every instance. The Keras object itself
    is not a submodule: its own ``state_dict`` lists each variable once per nested
    layer, under names that change from one instance to the next.
    """

    _KERAS_KEY = "rnn"
    _keras_object: Any  # set by _adopt, outside torch's module registry

    def _adopt(self, keras_object: Any) -> None:
        object.__setattr__(self, "_keras_object", keras_object)
        prefix = keras_object.name + "/"
        parameters = {}
        for variable in keras_object.weights:
            parameters[variable.path.removeprefix(prefix)] = variable.value
        setattr(self, self._KERAS_KEY, torch.nn.ParameterDict(parameters))

    @property
    def keras_layer(self) -> Any:
        """The liquidtime Keras layer (or cell) that this module runs."""
        return self._keras_object

    def _is_ncps_state_dict(self, state_dict: Mapping[str, Any]) -> bool:
        ours = (self._KERAS_KEY + ".", "fc.")
        return any(not key.startswith(ours) for key in state_dict)

    def _load_ncps_state_dict(self, state_dict: Mapping[str, Any], strict: bool) -> None:
        arrays = _ncps_arrays({k: v for k, v in state_dict.items() if not k.startswith("fc.")})
        order = getattr(self, "_state_order", None)
        if order is not None:
            arrays = _lstm_in_neuron_order(arrays, order.numpy())
        load_ncps_weights(
            self._keras_object,
            arrays,
            implicit_param_constraints=getattr(self, "implicit_param_constraints", True),
            strict=strict,
        )

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False):
        """Loads a ``state_dict`` of this module, or of the equivalent ncps.torch module.

        An ncps ``state_dict`` (keys such as ``rnn_cell.gleak``, ``lstm.*``,
        ``ff1.weight``) goes through :func:`liquidtime.compat.load_ncps_weights`; with
        ``strict`` it raises when the ncps module's equations or sizes differ.

        Args:
            state_dict: The tensors, by key.
            strict: As for ``torch.nn.Module.load_state_dict``; for an ncps
                ``state_dict`` the converter's ``strict``.
            assign: As for ``torch.nn.Module.load_state_dict`` (our own layout only).

        Returns:
            torch's ``(missing_keys, unexpected_keys)``; empty for an ncps state_dict.
        """
        if not self._is_ncps_state_dict(state_dict):
            return super().load_state_dict(state_dict, strict=strict, assign=assign)
        self._load_ncps_state_dict(state_dict, strict)
        fc = {k[len("fc."):]: v for k, v in state_dict.items() if k.startswith("fc.")}
        projection = getattr(self, "fc", None)
        if isinstance(projection, torch.nn.Linear):
            projection.load_state_dict(fc, strict=strict)
        return torch.nn.modules.module._IncompatibleKeys([], [])

    def apply_weight_constraints(self) -> None:
        """Applies the Keras constraints of the variables (``implicit_param_constraints=False``).

        A Keras optimizer applies them after each step; call this after each step of a
        torch optimizer (ncps: ``rnn_cell.apply_weight_constraints()``).
        """
        with torch.no_grad():
            for variable in self._keras_object.weights:
                if variable.constraint is not None:
                    variable.assign(variable.constraint(variable.value))


def _check_state(name: str, state: Any, batched: bool) -> torch.Tensor:
    rank = 2 if batched else 1
    if not isinstance(state, torch.Tensor) or state.dim() != rank:
        got = f"a {state.dim()}-D tensor" if isinstance(state, torch.Tensor) else repr(type(state))
        raise ValueError(
            f"Received an invalid value for argument `{name}`, expected a {rank}-D tensor for "
            f"{'batched 3-D' if batched else 'unbatched 2-D'} input, got {got}."
        )
    return state if batched else state.unsqueeze(0)


class _Sequence(_KerasModule):
    """The sequence loop of ncps.torch's LTC and CfC, run by a liquidtime layer."""

    fc: torch.nn.Module  # the projection (proj_size), set by _setup

    def _setup(self, layer: Any, units: int | Wiring, input_size: int, return_sequences: bool,
               batch_first: bool, mixed_memory: bool, proj_size: int | None,
               state_order: torch.Tensor | None = None) -> None:
        layer.build((None, None, input_size))
        self._adopt(layer)
        self._state_order = state_order
        if isinstance(units, Wiring):
            self.state_size, self.output_size = units.units, units.output_dim
        else:
            self.state_size = self.output_size = int(units)
        self.input_size = input_size
        self.return_sequences = bool(return_sequences)
        self.batch_first = bool(batch_first)
        self.use_mixed = bool(mixed_memory)
        self.proj_size = proj_size
        self.fc = (
            torch.nn.Identity() if proj_size is None else torch.nn.Linear(self.output_size, proj_size)
        )

    def forward(self, input: torch.Tensor, hx: Any = None, timespans: Any = None) -> tuple[Any, Any]:
        """Runs the sequence.

        Args:
            input: ``(B, L, C)`` with ``batch_first`` (default), ``(L, B, C)``
                without, or unbatched ``(L, C)``.
            hx: Initial state ``(B, units)`` (unbatched: ``(units,)``), or the pair
                ``(h, c)`` with mixed memory; None for zeros.
            timespans: Elapsed time of each step, laid out like ``input`` without
                its feature axis (``(B, L)``, ``(L, B)``, ``(L,)``, optionally with a
                trailing 1); None for 1.0.

        Returns:
            ``(output, hx)``: the outputs ``(B, L, output)`` (``return_sequences``)
            or the last one ``(B, output)``, and the final state in ``hx``'s form.
        """
        if not isinstance(input, torch.Tensor) or input.dim() not in (2, 3):
            got = f"shape {tuple(input.shape)}" if isinstance(input, torch.Tensor) else repr(type(input))
            raise ValueError(
                "Received an invalid value for argument `input`, expected a 3-D tensor "
                f"(batched) or a 2-D tensor (unbatched), got {got}."
            )
        batched = input.dim() == 3
        if not batched:
            input = input.unsqueeze(0)
            if isinstance(timespans, torch.Tensor) and timespans.dim() >= 1:
                timespans = timespans.unsqueeze(0)
        elif not self.batch_first:
            input = input.transpose(0, 1)
            if isinstance(timespans, torch.Tensor) and timespans.dim() >= 2:
                timespans = timespans.transpose(0, 1)
        initial_state = None
        if hx is not None:
            if self.use_mixed:
                if not (isinstance(hx, (tuple, list)) and len(hx) == 2):
                    raise ValueError(
                        "Received an invalid value for argument `hx`, expected a pair (h, c) "
                        f"with mixed_memory=True, got {type(hx).__name__}."
                    )
                initial_state = [_check_state("hx", state, batched) for state in hx]
            else:
                initial_state = [_check_state("hx", hx, batched)]
            if self._state_order is not None:  # h and the LSTM's c, per neuron
                inverse = torch.argsort(self._state_order)
                initial_state = [state[:, inverse] for state in initial_state]
        output, *states = self._keras_object(
            input, initial_state=initial_state, elapsed_time=timespans, training=self.training
        )
        if self._state_order is not None:
            states = [state[:, self._state_order] for state in states]
        output = self.fc(output)
        if not batched:
            output = output[0]
            states = [state[0] for state in states]
        elif not self.batch_first and self.return_sequences:
            output = output.transpose(0, 1)
        return output, (tuple(states) if self.use_mixed else states[0])


class LTC(_Sequence):
    """``ncps.torch.LTC(input_size, units, return_sequences=True, batch_first=True,
    mixed_memory=False, input_mapping="affine", output_mapping="affine", ode_unfolds=6,
    epsilon=1e-8, implicit_param_constraints=True)``: the synaptic LTC on a wiring.

    Args:
        input_size: Number of input features.
        units: A wiring, or an int for ``wirings.FullyConnected(units)``.
        return_sequences: Return every step's output (True) or the last one.
        batch_first: Input ``(B, L, C)`` (True) or ``(L, B, C)``.
        mixed_memory: Add an LSTM memory (the ODE-LSTM); ``hx`` is then ``(h, c)``.
        input_mapping: ``"affine"``, ``"linear"`` or None.
        output_mapping: ``"affine"``, ``"linear"`` or None.
        ode_unfolds: Fused solver steps per input step.
        epsilon: Extra leak conductance in the fused step's denominator.
        implicit_param_constraints: True: the positive parameters are held as
            softplus preimages; False: as values, kept positive by
            :meth:`apply_weight_constraints`.

    Example:

    >>> rnn = LTC(20, 50)
    >>> output, hn = rnn(torch.randn(2, 3, 20))  # (2, 3, 50), (2, 50)
    """

    def __init__(
        self,
        input_size: int,
        units: int | Wiring,
        return_sequences: bool = True,
        batch_first: bool = True,
        mixed_memory: bool = False,
        input_mapping: str | None = "affine",
        output_mapping: str | None = "affine",
        ode_unfolds: int = 6,
        epsilon: float = 1e-8,
        implicit_param_constraints: bool = True,
    ):
        super().__init__()
        wiring = _as_wiring(units)
        self.implicit_param_constraints = bool(implicit_param_constraints)
        layer = _ncps_keras.LTC(
            wiring,
            mixed_memory=mixed_memory,
            input_mapping=input_mapping,
            output_mapping=output_mapping,
            ode_unfolds=ode_unfolds,
            epsilon=epsilon,
            positivity=_positivity(implicit_param_constraints),
            return_sequences=return_sequences,
            return_state=True,
        )
        self._setup(layer, wiring, input_size, return_sequences, batch_first, mixed_memory, None)


class CfC(_Sequence):
    """``ncps.torch.CfC(input_size, units, proj_size=None, return_sequences=True,
    batch_first=True, mixed_memory=False, mode="default", activation="lecun_tanh",
    backbone_units=None, backbone_layers=None, backbone_dropout=None)``.

    Args:
        input_size: Number of input features.
        units: Number of neurons, or a wiring (the wired CfC, without backbone
            arguments).
        proj_size: If given, a ``torch.nn.Linear`` from the outputs to this size.
        return_sequences: Return every step's output (True) or the last one.
        batch_first: Input ``(B, L, C)`` (True) or ``(L, B, C)``.
        mixed_memory: Add an LSTM memory; ``hx`` is then ``(h, c)``.
        mode: ``"default"``, ``"pure"`` or ``"no_gate"``.
        activation: The backbone's activation.
        backbone_units: Backbone width (default 128).
        backbone_layers: Backbone depth (default 1).
        backbone_dropout: Backbone dropout rate (default 0).

    Example:

    >>> rnn = CfC(20, 50)
    >>> output, hn = rnn(torch.randn(2, 3, 20))  # (2, 3, 50), (2, 50)
    """

    def __init__(
        self,
        input_size: int,
        units: int | Wiring,
        proj_size: int | None = None,
        return_sequences: bool = True,
        batch_first: bool = True,
        mixed_memory: bool = False,
        mode: str = "default",
        activation: str = "lecun_tanh",
        backbone_units: int | None = None,
        backbone_layers: int | None = None,
        backbone_dropout: float | None = None,
    ):
        super().__init__()
        layer = _ncps_keras.CfC(
            units,
            mixed_memory=mixed_memory,
            mode=mode,
            activation=activation,
            backbone_units=backbone_units,
            backbone_layers=backbone_layers,
            backbone_dropout=backbone_dropout,
            return_sequences=return_sequences,
            return_state=True,
        )
        state_order = _ncps_state_order(units) if isinstance(units, Wiring) else None
        self._setup(layer, units, input_size, return_sequences, batch_first, mixed_memory,
                    proj_size, state_order)


def _elapsed(ts: Any, batch_size: int) -> Any:
    """ncps cells' elapsed time (a float, a scalar or ``(B,)`` tensor) as ours: float or ``(B, 1)``."""
    if isinstance(ts, torch.Tensor):
        return ts.reshape(-1, 1).expand(batch_size, 1).to(torch.float32)
    return float(ts)


def _input_size(name: str, size: int | None, wiring: Wiring) -> int:
    """A wired cell's number of input features: ``size``, or else the wiring's.

    Args:
        name: The argument that gives it, for the error.
        size: Its value.
        wiring: The cell's wiring.

    Returns:
        The number of input features.

    Raises:
        ValueError: If neither ``size`` nor the wiring knows it.
    """
    if size is None:
        size = wiring.input_dim
    if size is None:
        raise ValueError(
            f"Received an invalid value for argument `{name}`, expected the number "
            "of input features (or a wiring that knows it), got None."
        )
    return size


class _Cell(_KerasModule):
    """One step of a liquidtime cell, as ncps.torch's cells: ``forward(input, hx, ts)``."""

    _KERAS_KEY = "cell"

    def _setup(self, cell: Any, input_size: int, state_order: torch.Tensor | None = None) -> None:
        cell.build((None, input_size))
        self._adopt(cell)
        self._state_order = state_order

    def _is_ncps_state_dict(self, state_dict: Mapping[str, Any]) -> bool:
        return any(not key.startswith(self._KERAS_KEY + ".") for key in state_dict)

    def forward(self, input: torch.Tensor, hx: torch.Tensor, ts: Any = 1.0) -> tuple[Any, Any]:
        """One step.

        Args:
            input: ``(B, C)``.
            hx: The state, ``(B, units)``.
            ts: The step's elapsed time: a float, or a tensor ``()`` / ``(B,)``.

        Returns:
            ``(output, new_hx)``.
        """
        cell = self._keras_object
        if self._state_order is not None:
            hx = hx[:, torch.argsort(self._state_order)]
        constants = cell.sequence_constants(input.shape[0], self.training)
        output, states = cell.transition(
            cell.sequence_inputs(input), [hx], _elapsed(ts, input.shape[0]), constants, self.training
        )
        if self._state_order is not None:
            return output, states[0][:, self._state_order]
        return output, states[0]


class LTCCell(_Cell):
    """``ncps.torch.LTCCell(wiring, in_features=None, input_mapping="affine",
    output_mapping="affine", ode_unfolds=6, epsilon=1e-8, implicit_param_constraints=False)``.

    ``in_features`` may be None when the wiring already knows its input size.
    """

    def __init__(
        self,
        wiring: Wiring,
        in_features: int | None = None,
        input_mapping: str | None = "affine",
        output_mapping: str | None = "affine",
        ode_unfolds: int = 6,
        epsilon: float = 1e-8,
        implicit_param_constraints: bool = False,
    ):
        super().__init__()
        in_features = _input_size("in_features", in_features, wiring)
        self.implicit_param_constraints = bool(implicit_param_constraints)
        cell = _ncps_keras.LTCCell(
            wiring,
            input_mapping=input_mapping,
            output_mapping=output_mapping,
            ode_unfolds=ode_unfolds,
            epsilon=epsilon,
            positivity=_positivity(implicit_param_constraints),
        )
        self._setup(cell, in_features)

    def forward(self, inputs: torch.Tensor, states: torch.Tensor, elapsed_time: Any = 1.0):
        return super().forward(inputs, states, elapsed_time)


class CfCCell(_Cell):
    """``ncps.torch.CfCCell(input_size, hidden_size, mode="default",
    backbone_activation="lecun_tanh", backbone_units=128, backbone_layers=1,
    backbone_dropout=0.0, sparsity_mask=None)``; ``sparsity_mask`` is not supported
    (use ``WiredCfCCell``)."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        mode: str = "default",
        backbone_activation: str = "lecun_tanh",
        backbone_units: int = 128,
        backbone_layers: int = 1,
        backbone_dropout: float = 0.0,
        sparsity_mask: Any = None,
    ):
        super().__init__()
        cell = _ncps_keras.CfCCell(
            hidden_size,
            mode=mode,
            activation=backbone_activation,
            backbone_units=backbone_units,
            backbone_layers=backbone_layers,
            backbone_dropout=backbone_dropout,
            sparsity_mask=sparsity_mask,
        )
        self._setup(cell, input_size)


class WiredCfCCell(_Cell):
    """``ncps.torch.WiredCfCCell(input_size, wiring, mode="default")``."""

    def __init__(self, input_size: int | None, wiring: Wiring, mode: str = "default"):
        super().__init__()
        input_size = _input_size("input_size", input_size, wiring)
        self._setup(_ncps_keras.WiredCfCCell(wiring, mode=mode), input_size, _ncps_state_order(wiring))


__all__ = ["CfC", "CfCCell", "LTC", "LTCCell", "WiredCfCCell"]

"""Loading trained ncps (1.0.1) LTC and CfC weights into liquidtime layers.

:func:`load_ncps_weights` takes the weights of an ncps layer, either its Keras
weights (``ncps_layer.get_weights()``, a list) or a PyTorch ``state_dict`` given as a
dict of arrays, and assigns them to the equivalent liquidtime layer, which must be
built and configured like the ncps one (same wiring, mode, mappings,
``ode_unfolds``, ``epsilon``, backbone and activation). The ncps layer and its
liquidtime twin then give the same outputs (to float32 round-off) when their
equations are the same:

=============================================  =======================================
ncps layer                                      converts to the same outputs?
=============================================  =======================================
LTC (Keras or PyTorch), any wiring               yes (fused solver; set ``positivity``
                                                 as you like, see below)
LTC with ``mixed_memory`` (PyTorch)              yes (ODE-LSTM, liquidtime's design)
LTC / CfC with ``mixed_memory`` (Keras)          no, refused: ncps's Keras
                                                 ``MixedMemoryRNN`` feeds the LSTM output
                                                 to the cell as input (another model)
CfC ``pure`` mode (Keras or PyTorch)             yes
CfC ``default`` / ``no_gate`` (PyTorch)          yes (its time gate
                                                 ``sigmoid(t_a dt + t_b)`` becomes
                                                 liquidtime's with ``W_a = -t_a``)
CfC ``default`` / ``no_gate`` (Keras)            no: ncps's Keras CfC applies no tanh
                                                 to its two heads, liquidtime does
wired CfC ``pure`` mode (Keras or PyTorch)       yes
wired CfC ``default`` / ``no_gate`` (PyTorch)    only if the time-gate weights of
                                                 missing synapses are zero: ncps does
                                                 not mask its time gates, liquidtime
                                                 does
wired CfC ``default`` / ``no_gate`` (Keras)      no: no tanh on the heads (as above)
=============================================  =======================================

For the cases marked "no" the converter raises (with ``strict=True``, the
default), saying why; ``strict=False`` loads the mapped weights anyway with a
warning (a starting point for fine-tuning, not the same model).

Wirings: the liquidtime layer must use the ncps wiring's synapses, which
:func:`wiring_from_ncps` returns (liquidtime's own wirings draw other synapses from
a seed). Positive LTC parameters (``gleak``, ``cm``, ``w``, ``sensory_w``): ncps's
Keras layer and its PyTorch layer with ``implicit_param_constraints=False`` store
the values; its PyTorch layer with ``implicit_param_constraints=True`` (the default
of ``ncps.torch.LTC``) stores their softplus preimages. Both load into either
liquidtime ``positivity``; a value of exactly 0 becomes 1e-30 under ``"softplus"``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, TypeVar

import keras
import numpy as np

from liquidtime.cells.cfc import CfCCell
from liquidtime.cells.ltc import LTCCell
from liquidtime.cells.mixed_memory import MixedMemoryCell
from liquidtime.cells.synaptic_ltc import SynapticLTCCell
from liquidtime.cells.wired_cfc import WiredCfCCell
from liquidtime.solvers import FusedSolver
from liquidtime.wirings.base import check_int
from liquidtime.wirings.matrix import MatrixWiring

TINY_POSITIVE = 1e-30
"""What an ncps conductance of exactly 0 becomes under ``positivity="softplus"``."""


@keras.saving.register_keras_serializable(package="liquidtime")
class ConvertedWiring(MatrixWiring):
    """An ncps wiring's synapses with its neuron kinds: motor, command, inter.

    Like :class:`~liquidtime.wirings.MatrixWiring`, plus ``command_neurons``: neurons
    ``output_dim .. output_dim + command_neurons - 1`` are command neurons and the
    rest inter neurons, so a wired CfC on it has an NCP's three layers.

    Args:
        adjacency_matrix: ``(units, units)`` polarities.
        sensory_adjacency_matrix: ``(input_dim, units)`` polarities.
        output_dim: Number of motor neurons (default: all).
        command_neurons: Number of command neurons (0 for a one-layer wiring).
        input_dim: As for ``MatrixWiring``.
    """

    def __init__(
        self,
        adjacency_matrix: Any,
        sensory_adjacency_matrix: Any,
        output_dim: int | None = None,
        command_neurons: int = 0,
        input_dim: int | None = None,
    ):
        super().__init__(adjacency_matrix, sensory_adjacency_matrix, output_dim, input_dim)
        self.command_neurons = check_int(
            "command_neurons", command_neurons, 0, self.units - self.output_dim
        )

    def neuron_type(self, neuron_id: int) -> str:
        kind = super().neuron_type(neuron_id)  # "motor" or "inter"
        if kind == "inter" and neuron_id < self.output_dim + self.command_neurons:
            return "command"
        return kind

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "command_neurons": self.command_neurons}


def wiring_from_ncps(wiring: Any) -> ConvertedWiring:
    """The liquidtime wiring with the synapses and layers of a built ncps wiring.

    Args:
        wiring: An ncps wiring after ``build`` (an ncps layer builds its wiring; or
            call ``wiring.build(input_dim)``), or the config of an ncps ``Wiring``
            (a dict with ``adjacency_matrix``, ``sensory_adjacency_matrix`` and
            ``output_dim``).

    Returns:
        A :class:`ConvertedWiring`; an NCP keeps its inter/command/motor layers.

    Raises:
        ValueError: If the wiring has no sensory synapses yet, or an NCP's layers are
            not the id ranges ``[motor | command | inter]``.
    """
    get = wiring.get if isinstance(wiring, Mapping) else lambda name: getattr(wiring, name, None)
    adjacency, sensory = get("adjacency_matrix"), get("sensory_adjacency_matrix")
    if adjacency is None or sensory is None:
        raise ValueError(
            f"Received an ncps wiring without sensory synapses ({wiring!r}): build it first "
            "(`wiring.build(input_dim)`, or use it in a layer that has been called)."
        )
    adjacency, sensory = np.asarray(adjacency), np.asarray(sensory)
    output_dim = int(get("output_dim") or adjacency.shape[0])
    command = 0
    if not isinstance(wiring, Mapping) and getattr(wiring, "num_layers", 1) == 3:
        layers = [list(wiring.get_neurons_of_layer(i)) for i in range(3)]
        command = len(layers[1])
        expected = [
            list(range(output_dim + command, adjacency.shape[0])),
            list(range(output_dim, output_dim + command)),
            list(range(output_dim)),
        ]
        if layers != expected:
            raise ValueError(
                "The ncps wiring's layers are not the neuron-id ranges [motor | command | "
                f"inter] that liquidtime's wired CfC uses; got {layers}."
            )
    return ConvertedWiring(adjacency, sensory, output_dim=output_dim, command_neurons=command)


# Reading the ncps weights -----------------------------------------------------------


class _KerasWeights:
    """ncps Keras weights, consumed in ``get_weights()`` order."""

    source = "keras"

    def __init__(self, weights: list[Any]):
        self._weights = [np.asarray(w, dtype=np.float64) for w in weights]
        self._position = 0

    def take(self, name: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
        if self._position >= len(self._weights):
            raise ValueError(
                f"The ncps weights ran out at `{name}` (weight {self._position}); the "
                "liquidtime layer is configured differently from the ncps one (mode, "
                "backbone, mappings, mixed_memory?)."
            )
        value = self._weights[self._position]
        self._position += 1
        return _check_shape(name, value, shape)

    def has(self, name: str) -> bool:
        return False

    def finish(self) -> None:
        left = len(self._weights) - self._position
        if left:
            raise ValueError(
                f"{left} ncps weight(s) were left over (shapes "
                f"{[w.shape for w in self._weights[self._position:]]}); the liquidtime layer "
                "is configured differently from the ncps one (mode, backbone, mappings, "
                "mixed_memory?)."
            )


class _TorchWeights:
    """An ncps PyTorch state_dict, by parameter name (module prefixes removed)."""

    source = "torch"

    def __init__(self, state_dict: Mapping[str, Any]):
        self._weights: dict[str, np.ndarray] = {}
        for key, value in state_dict.items():
            if "rnn_cell." in key:
                key = key.split("rnn_cell.")[-1]
            elif key.startswith("lstm.") or ".lstm." in key:
                key = "lstm." + key.split("lstm.")[-1]
            if hasattr(value, "detach"):
                value = value.detach().cpu().numpy()
            self._weights[key] = np.asarray(value, dtype=np.float64)
        self._used: set[str] = set()

    def take(self, name: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
        if name not in self._weights:
            raise ValueError(
                f"The ncps state_dict has no `{name}`; it has {sorted(self._weights)}. The "
                "liquidtime layer is configured differently from the ncps one (mode, "
                "backbone, mappings, mixed_memory?)."
            )
        self._used.add(name)
        return _check_shape(name, self._weights[name], shape)

    def has(self, name: str) -> bool:
        return name in self._weights

    def keys(self) -> list[str]:
        return list(self._weights)

    def finish(self) -> None:
        left = sorted(set(self._weights) - self._used)
        if left:
            raise ValueError(
                f"The ncps state_dict entries {left} have no place in the liquidtime layer; "
                "pass the state_dict of the ncps LTC/CfC module (or its cell) only."
            )


def _check_shape(name: str, value: np.ndarray, shape: tuple[int, ...] | None) -> np.ndarray:
    if shape is not None and value.shape != tuple(shape):
        raise ValueError(
            f"The ncps weight `{name}` has shape {value.shape}, but the liquidtime layer "
            f"needs {tuple(shape)}: build it with the ncps layer's sizes and wiring."
        )
    return value


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


def _softplus_inverse(p: np.ndarray) -> np.ndarray:
    p = np.maximum(p, TINY_POSITIVE)
    return p + np.log(-np.expm1(-p))


# Per-cell conversion ----------------------------------------------------------------


_T = TypeVar("_T")


def _built(value: _T | None, cell: Any) -> _T:
    """``value`` (an input size or wiring) of a cell that the converter found built."""
    if value is None:
        raise ValueError(f"The {type(cell).__name__} is not built; build the layer first.")
    return value


class _Conversion:
    """Collects (variable, value) pairs and the reasons the result is not exact."""

    def __init__(self, weights: _KerasWeights | _TorchWeights, implicit: bool):
        self.weights = weights
        self.implicit = implicit
        self.values: list[tuple[keras.Variable, np.ndarray]] = []
        self.inexact: list[str] = []

    def set(self, variable: keras.Variable, value: np.ndarray) -> None:
        value = np.asarray(value, dtype=np.float64).reshape(tuple(variable.shape))
        self.values.append((variable, value))

    def positive(self, cell: SynapticLTCCell, variable: keras.Variable, raw: np.ndarray) -> None:
        """Stores an ncps positive parameter into a liquidtime positive variable."""
        from_softplus = self.weights.source == "torch" and self.implicit
        if cell.positivity == "softplus" and from_softplus:
            self.set(variable, raw)
            return
        value = _softplus(raw) if from_softplus else raw
        if cell.positivity == "clip":
            self.set(variable, value)
            return
        if np.any(value < 0):
            raise ValueError(
                f"The ncps parameter `{variable.name}` has negative values, which "
                "`positivity='softplus'` cannot represent; build the liquidtime layer with "
                "positivity='clip'."
            )
        self.set(variable, _softplus_inverse(value))


def _convert_synaptic_ltc(cell: SynapticLTCCell, job: _Conversion) -> None:
    weights, wiring = job.weights, _built(cell.built_wiring, cell)
    n, m, k = cell.units, _built(cell.input_dim, cell), cell.wiring.output_dim
    if not isinstance(cell.solver, FusedSolver):
        raise ValueError(
            "ncps integrates the LTC with the fused step; build the liquidtime layer with "
            f"solver='fused' (it has {type(cell.solver).__name__})."
        )
    shapes = {"gleak": (n,), "vleak": (n,), "cm": (n,), "sigma": (n, n), "mu": (n, n),
              "w": (n, n), "erev": (n, n), "sensory_sigma": (m, n), "sensory_mu": (m, n),
              "sensory_w": (m, n), "sensory_erev": (m, n)}
    values = {name: weights.take(name, shape) for name, shape in shapes.items()}
    for name, size in (("input_w", m), ("input_b", m), ("output_w", k), ("output_b", k)):
        if getattr(cell, name) is not None:
            values[name] = weights.take(name, (size,))
    mask = np.abs(wiring.adjacency_matrix).astype(np.float64)
    sensory_mask = np.abs(wiring.sensory_adjacency_matrix).astype(np.float64)
    masks = {"sparsity_mask": mask, "sensory_sparsity_mask": sensory_mask}
    if weights.source == "torch":
        for name, mask in masks.items():
            if not np.array_equal(np.abs(weights.take(name, mask.shape)), mask):
                raise ValueError(
                    f"The ncps `{name}` differs from the liquidtime layer's wiring; build the "
                    "layer on `wiring_from_ncps(ncps_wiring)`."
                )
    else:
        # ncps's reversal potentials start at the polarities and get no gradient where
        # there is no synapse, so their zeros reveal the wiring.
        pairs = ((values["erev"], mask), (values["sensory_erev"], sensory_mask))
        for erev, mask in pairs:
            if not np.array_equal(erev != 0, mask != 0):
                raise ValueError(
                    "The ncps reversal potentials are zero exactly where the liquidtime "
                    "layer's wiring has synapses, or the reverse: the wirings differ. Build "
                    "the layer on `wiring_from_ncps(ncps_wiring)`."
                )
    for name, value in values.items():
        variable = getattr(cell, name)
        if name in ("gleak", "cm", "w", "sensory_w"):
            job.positive(cell, variable, value)
        else:
            job.set(variable, value)


def _gated_heads(ff1, ff2, time_a, time_b, source: str) -> np.ndarray:
    """ncps heads to liquidtime's ``[g | h | time_a | time_b]`` (columns)."""
    sign = -1.0 if source == "torch" else 1.0  # torch: sigmoid(t_a dt + t_b)
    return np.concatenate([ff2, ff1, sign * time_a, time_b], axis=-1)


def _linear(
    weights: _KerasWeights | _TorchWeights, name: str, torch_name: str, rows: int, cols: int
) -> tuple[np.ndarray, np.ndarray]:
    """A Keras Dense's (kernel, bias), or a PyTorch Linear's (weight.T, bias)."""
    if weights.source == "torch":
        kernel = weights.take(f"{torch_name}.weight", (cols, rows)).T
        return kernel, weights.take(f"{torch_name}.bias", (cols,))
    return weights.take(f"{name} kernel", (rows, cols)), weights.take(f"{name} bias", (cols,))


def _keras_no_tanh(mode: str) -> list[str]:
    if mode == "pure":
        return []
    return [
        "ncps's Keras CfC applies no tanh to its two heads (its state is unbounded), "
        "liquidtime's CfC does; only mode='pure' has the same equations"
    ]


def _pure_parameters(job: _Conversion, prefix: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(w_tau, A)`` of pure mode, each ``(n,)`` (ncps stores them as ``(1, n)``)."""
    weights = job.weights
    if weights.source == "keras":
        w_tau, a = weights.take("w_tau", (1, n)), weights.take("A", (1, n))
    else:
        w_tau, a = weights.take(f"{prefix}w_tau", (1, n)), weights.take(f"{prefix}A", (1, n))
    return w_tau.reshape(n), a.reshape(n)


def _convert_cfc(cell: CfCCell, job: _Conversion) -> None:
    weights, net, n = job.weights, cell.network, cell.units
    m, layers, units = _built(cell.input_dim, cell), cell.backbone_layers, cell.backbone_units
    head_rows = units if layers else m + n
    if isinstance(weights, _KerasWeights):
        job.inexact += _keras_no_tanh(cell.mode)
        ff1 = (weights.take("ff1_weight", (head_rows, n)), weights.take("ff1_bias", (n,)))
        if cell.mode == "pure":
            w_tau, a = _pure_parameters(job, "", n)
        else:
            ff2 = (weights.take("ff2_weight", (head_rows, n)), weights.take("ff2_bias", (n,)))
        backbone = [
            _linear(weights, f"backbone{i}", "", m + n if i == 0 else units, units)
            for i in range(layers)
        ]
        if cell.mode != "pure":
            time_a = _linear(weights, "time_a", "", head_rows, n)
            time_b = _linear(weights, "time_b", "", head_rows, n)
    else:
        linear_ids = sorted(
            int(key.split(".")[1]) for key in weights.keys()
            if key.startswith("backbone.") and key.endswith(".weight")
        )
        if len(linear_ids) != layers:
            raise ValueError(
                f"The ncps CfC has {len(linear_ids)} backbone layer(s), the liquidtime one "
                f"{layers}; build it with the same backbone."
            )
        backbone = [
            _linear(weights, "", f"backbone.{idx}", m + n if i == 0 else units, units)
            for i, idx in enumerate(linear_ids)
        ]
        ff1 = _linear(weights, "", "ff1", head_rows, n)
        if cell.mode == "pure":
            w_tau, a = _pure_parameters(job, "", n)
        else:
            ff2 = _linear(weights, "", "ff2", head_rows, n)
            time_a = _linear(weights, "", "time_a", head_rows, n)
            time_b = _linear(weights, "", "time_b", head_rows, n)
    if cell.mode == "pure":
        head_kernel, head_bias = ff1
        job.set(cell.A, a)
        job.set(cell.w_tau, w_tau)
    else:
        head_kernel = _gated_heads(ff1[0], ff2[0], time_a[0], time_b[0], weights.source)
        head_bias = _gated_heads(ff1[1], ff2[1], time_a[1], time_b[1], weights.source)
    first_kernel, first_bias = backbone[0] if layers else (head_kernel, head_bias)
    job.set(net.input_kernel, first_kernel[:m])
    job.set(net.state_kernel, first_kernel[m:])
    job.set(net.first_bias, first_bias)
    for (kernel, bias), kernel_var, bias_var in zip(
        backbone[1:], net.hidden_kernels, net.hidden_biases
    ):
        job.set(kernel_var, kernel)
        job.set(bias_var, bias)
    if layers:
        job.set(net.head_kernel, head_kernel)
        job.set(net.head_bias, head_bias)


def _convert_wired_cfc(cell: WiredCfCCell, job: _Conversion) -> None:
    weights, wiring = job.weights, _built(cell.built_wiring, cell)
    job.inexact += _keras_no_tanh(cell.mode) if weights.source == "keras" else []
    a_full, w_tau_full = np.ones(cell.units), np.zeros(cell.units)
    for index, ((start, stop), (in_mask, rec_mask)) in enumerate(
        zip(cell.layer_ranges, cell.layer_masks())
    ):
        sources, n = in_mask.shape[0], stop - start
        rows = sources + n
        if index == 0:
            polarity = wiring.sensory_adjacency_matrix[:, start:stop]
        else:
            previous_start, previous_stop = cell.layer_ranges[index - 1]
            polarity = wiring.adjacency_matrix[previous_start:previous_stop, start:stop]
        prefix = f"layer_{index}."
        if weights.source == "torch":
            ncps_mask = np.abs(weights.take(prefix + "sparsity_mask", (n, rows))).T
            expected = np.concatenate([np.abs(polarity), np.ones((n, n))], axis=0)
            if not np.array_equal(ncps_mask, expected):
                raise ValueError(
                    f"The ncps sparsity mask of layer {index} differs from the liquidtime "
                    "layer's wiring; build the layer on `wiring_from_ncps(ncps_wiring)`."
                )
        else:
            # ncps's Keras wired CfC multiplies its kernels by the signed polarities.
            ncps_mask = np.concatenate([polarity, np.ones((n, n))], axis=0).astype(np.float64)
        names = ("ff1",) if cell.mode == "pure" else ("ff1", "ff2", "time_a", "time_b")
        heads = {}
        for name in names:
            if weights.source == "torch":
                kernel, bias = _linear(weights, "", prefix + name, rows, n)
            elif name.startswith("ff"):
                kernel = weights.take(f"{prefix}{name}_weight", (rows, n))
                bias = weights.take(f"{prefix}{name}_bias", (n,))
            else:
                kernel, bias = _linear(weights, prefix + name, "", rows, n)
            if name.startswith("ff"):
                kernel = kernel * ncps_mask  # what ncps multiplies with
            heads[name] = (kernel, bias)
        if cell.mode == "pure":
            # Keras: ff1 kernel and bias, then w_tau and A, per layer.
            w_tau_full[start:stop], a_full[start:stop] = _pure_parameters(job, prefix, n)
            kernel, bias = heads["ff1"]
        else:
            ff1, ff2, time_a, time_b = (heads[h] for h in names)
            kernel = _gated_heads(ff1[0], ff2[0], time_a[0], time_b[0], weights.source)
            bias = _gated_heads(ff1[1], ff2[1], time_a[1], time_b[1], weights.source)
        ours = np.concatenate([in_mask, rec_mask], axis=0)
        ours = np.tile(ours, (1, kernel.shape[1] // n))
        dropped = np.abs(kernel[ours == 0])
        if dropped.size and dropped.max() > 0:
            job.inexact.append(
                f"layer {index} of the ncps wired CfC uses weights where the liquidtime "
                f"layer has no synapse (largest {dropped.max():.3g}): ncps does not mask "
                "its time gates (and its Keras version is always fully recurrent)"
            )
        job.set(cell.kernels[index], kernel[:sources])
        job.set(cell.recurrent_kernels[index], kernel[sources:])
        job.set(cell.biases[index], bias)
    if cell.mode == "pure":
        job.set(cell.A, a_full)
        job.set(cell.w_tau, w_tau_full)


def _convert_lstm(memory: MixedMemoryCell, job: _Conversion) -> None:
    weights, n, m = job.weights, memory.memory_units, _built(memory.input_dim, memory)
    kernel = weights.take("lstm.input_map.weight", (4 * n, m)).T
    bias = weights.take("lstm.input_map.bias", (4 * n,))
    recurrent = weights.take("lstm.recurrent_map.weight", (4 * n, n)).T
    # ncps's chunks: candidate, input gate, forget gate (+1 added), output gate.
    # liquidtime (Keras's order): input gate, forget gate, candidate, output gate.
    order = lambda x: np.concatenate(  # noqa: E731
        [x[..., n : 2 * n], x[..., 2 * n : 3 * n], x[..., :n], x[..., 3 * n :]], axis=-1
    )
    forget_shift = np.concatenate([np.zeros(n), np.ones(n), np.zeros(2 * n)])
    job.set(memory.kernel, order(kernel))
    job.set(memory.recurrent_kernel, order(recurrent))
    job.set(memory.bias, order(bias) + forget_shift)


def load_ncps_weights(
    layer: Any,
    weights: list[Any] | Mapping[str, Any],
    *,
    implicit_param_constraints: bool = True,
    strict: bool = True,
) -> None:
    """Loads the weights of a trained ncps LTC or CfC into a liquidtime layer.

    See the module docstring for which ncps layers give the same outputs.

    Args:
        layer: A built liquidtime ``LTC`` or ``CfC`` layer (or its cell), configured
            like the ncps layer: an ncps ``LTC(units)`` is ``LTC(FullyConnected(units))``
            here (or ``liquidtime.compat.ncps.keras.LTC``), a wired layer uses
            :func:`wiring_from_ncps`, and mode, backbone, activation, mappings,
            ``ode_unfolds``, ``epsilon`` and ``mixed_memory`` must match.
        weights: ``ncps_layer.get_weights()`` (a list, from ``ncps.keras``), or a
            PyTorch ``state_dict`` of an ``ncps.torch`` module as a dict of arrays or
            tensors (module prefixes such as ``rnn_cell.`` are allowed).
        implicit_param_constraints: For a PyTorch LTC: the value of ncps's argument
            of that name (True, the default of ``ncps.torch.LTC``, stores the positive
            parameters as softplus preimages).
        strict: Raise (True) or warn (False) when the equations of the ncps layer
            differ from liquidtime's, so the outputs cannot be the same.

    Raises:
        ValueError: For an unbuilt layer, a layer configured differently from the
            ncps one (sizes, wiring, mode, mappings), an ncps Keras mixed-memory
            layer (another model), or, with ``strict``, differing equations.
    """
    cell = layer.cell if isinstance(layer, keras.layers.RNN) else layer
    if not getattr(cell, "built", False):
        raise ValueError(
            "Build the liquidtime layer before loading ncps weights (call it on data or "
            "`layer.build((None, None, features))`)."
        )
    memory = cell if isinstance(cell, MixedMemoryCell) else None
    if memory is not None:
        cell = memory.cell
    if isinstance(weights, Mapping):
        source: _KerasWeights | _TorchWeights = _TorchWeights(weights)
    else:
        source = _KerasWeights(list(weights))
    job = _Conversion(source, implicit_param_constraints)
    if memory is not None and source.source == "keras":
        raise ValueError(
            "ncps's Keras MixedMemoryRNN feeds the LSTM output to the cell as its input; "
            "liquidtime's mixed memory (and ncps's PyTorch one) evolves the LSTM output as "
            "the cell's state. The models differ, so these weights cannot be converted."
        )
    if memory is not None:
        _convert_lstm(memory, job)
    elif source.source == "torch" and source.has("lstm.input_map.weight"):
        raise ValueError(
            "The ncps layer has mixed memory; build the liquidtime one with mixed_memory=True."
        )
    if isinstance(cell, SynapticLTCCell):
        _convert_synaptic_ltc(cell, job)
    elif isinstance(cell, WiredCfCCell):
        _convert_wired_cfc(cell, job)
    elif isinstance(cell, CfCCell):
        _convert_cfc(cell, job)
    elif isinstance(cell, LTCCell):
        raise ValueError(
            "ncps's LTC is the synaptic LTC on a wiring (an int means FullyConnected); "
            "liquidtime's LTC(int) is the paper's dense LTC. Build LTC(FullyConnected(units)) "
            "(or liquidtime.compat.ncps.keras.LTC(units))."
        )
    else:
        raise ValueError(f"Cannot load ncps weights into a {type(cell).__name__}.")
    source.finish()
    if job.inexact:
        message = (
            "The ncps layer's equations differ from liquidtime's, so the converted layer "
            "will not give the same outputs: " + "; ".join(job.inexact) + "."
        )
        if strict:
            raise ValueError(message + " Pass strict=False to load the weights anyway.")
        warnings.warn(message, stacklevel=2)
    for variable, value in job.values:
        variable.assign(value.astype(variable.dtype))

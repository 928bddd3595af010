"""ncps's Keras layers and cells (``ncps.keras``) on liquidtime: the same names and signatures.

Code written for ``ncps.keras`` runs after changing its imports to
``from liquidtime.compat.ncps import wirings`` and
``from liquidtime.compat.ncps.keras import LTC, LTCCell, CfC, CfCCell, WiredCfCCell,
MixedMemoryRNN``, on JAX, TensorFlow and PyTorch. Each class is a subclass of the
liquidtime class that runs it, so it has liquidtime's extras too (``elapsed_time=``
in the call, ``solver=``, ``positivity=``, ...). ncps models convert with
:func:`liquidtime.compat.load_ncps_weights`.

What is the same as ncps 1.0.1: ``LTC(int)`` and ``LTC(wiring)`` are the synaptic
LTC (an int means a ``FullyConnected`` wiring), with ncps's parameters, ranges,
mappings, ``ode_unfolds`` and ``epsilon``; ``CfC`` has ncps's modes and backbone
defaults (128 units, 1 layer, no dropout; the cell alone: dropout 0.1); a wiring
gives the wired CfC; outputs are the motor neurons. The layers' cells are this
module's classes (``MixedMemoryRNN`` with ``mixed_memory=True``), and their configs
have ncps's layout (``cell``, ``units`` the wiring object, ``wiring``,
``activation``), so code that reads configs as ncps's tests do works; ``from_config``
loads that layout, ncps's saved one and that of earlier liquidtime versions.

Differences, on purpose (ncps's behaviour is a bug or does not run):

* CfC: the ``g``/``h`` heads go through ``tanh`` (ncps's PyTorch CfC does, its Keras
  CfC does not, so its state is unbounded); the wired CfC's sparsity also masks the
  time gates, and ``fully_recurrent=False`` works.
* ``mixed_memory`` / ``MixedMemoryRNN`` is the ODE-LSTM of Lechner & Hasani (2020),
  as ncps's PyTorch version: the LSTM output is the state the cell evolves. ncps's
  Keras version feeds it to the cell as input instead (another model).
* The positive LTC parameters are kept positive by softplus (pass
  ``positivity="clip"`` for ncps's projection); the reversal potentials are floats
  (ncps's are integer tensors on JAX, which cannot be trained).
* ``CfCCell(sparsity_mask=...)`` is not supported: use a wiring (``WiredCfCCell``).
* Irregular sampling is ``layer(x, elapsed_time=dt)`` (ncps's tuple inputs do not work
  in Keras 3); ``MixedMemoryRNN``'s ``state_size`` is ``[cell states..., memory]``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import keras

from liquidtime.cells import cfc as _cfc
from liquidtime.cells import mixed_memory as _mixed_memory
from liquidtime.cells import synaptic_ltc as _synaptic_ltc
from liquidtime.cells import wired_cfc as _wired_cfc
from liquidtime.compat.ncps import wirings
from liquidtime.layers import cfc as _cfc_layer
from liquidtime.layers import ltc as _ltc_layer
from liquidtime.layers._arguments import named_arguments
from liquidtime.wirings.base import Wiring

if TYPE_CHECKING:
    # The mixin is listed before a liquidtime layer with the mixed_memory option.
    from liquidtime.layers.mixed_memory import MixedMemoryOption as _MixinBase
else:
    _MixinBase = object

_PACKAGE = "liquidtime.compat.ncps"

# ncps's CfC layer on an int: its backbone when the arguments are left at None.
_DENSE_BACKBONE = {"backbone_units": 128, "backbone_layers": 1, "backbone_dropout": 0.0}


def _arguments(init: Callable[..., None], values: Mapping[str, Any]) -> dict[str, Any]:
    """The named arguments of a class's ``__init__`` (see :func:`named_arguments`) as
    liquidtime takes them: ncps's mapping ``None`` is ``"none"``.

    Args:
        init: The ``__init__`` of a class of this module.
        values: Its ``locals()``, taken first thing in the function.

    Returns:
        ``{name: value}`` for every parameter but ``self``, ``units``, ``mixed_memory``
        and ``**kwargs``.
    """
    arguments = named_arguments(init, values)
    for name in ("input_mapping", "output_mapping"):
        if name in arguments and arguments[name] is None:
            arguments[name] = "none"
    return arguments


def _as_wiring(units: Any) -> Any:
    """ncps's LTC: an int means a fully connected wiring of that many neurons."""
    if isinstance(units, int) and not isinstance(units, bool):
        return wirings.FullyConnected(units)
    return units


def _restore_wiring(value: Any) -> Any:
    """A serialized wiring, ours or as ncps saves it, as a wiring; other values pass through.

    ncps's wirings are not registered with Keras: ncps saves them as
    ``{"class_name": "AutoNCP", "config": {...}}`` (with ``module`` ``ncps.wirings...``
    when Keras serialized them), which load as the wirings of this package.
    """
    if not (isinstance(value, dict) and "class_name" in value and "config" in value):
        return value
    module = value.get("module") or ""
    if module and not module.startswith("ncps"):
        return keras.saving.deserialize_keras_object(value)
    wiring_class = getattr(wirings, value["class_name"], None)
    if wiring_class is None:
        raise ValueError(
            "Received an invalid value for argument `units`, expected one of ncps's wirings "
            f"({', '.join(wirings.__all__)}), got class_name {value['class_name']!r}."
        )
    return wiring_class.from_config(value["config"])


def _from_ncps_layout(config: dict[str, Any]) -> dict[str, Any]:
    """A layer's constructor arguments from its config, in ncps's layout or ours.

    ncps's layer config is its cell's config merged with ``keras.layers.RNN``'s:
    ``cell`` (the serialized cell) and ``wiring`` repeat what ``units`` and the
    other arguments say, so they are dropped; ``units`` may be a serialized wiring.
    """
    config = dict(config)
    config.pop("cell", None)
    wiring = config.pop("wiring", None)
    if "units" not in config:
        config["units"] = wiring
    config["units"] = _restore_wiring(config["units"])
    return config


def _to_ncps_layout(layer: Any, config: dict[str, Any]) -> dict[str, Any]:
    """Adds ncps's keys to a layer's (flat, liquidtime) config.

    As ``ncps.keras`` writes it: ``cell``, the serialized cell (as
    ``keras.layers.RNN``), ``units`` the wiring object (an int for the dense CfC),
    and the cell's ``wiring``.
    """
    cell = layer.cell.cell if isinstance(layer.cell, MixedMemoryRNN) else layer.cell
    config["cell"] = keras.saving.serialize_keras_object(layer.cell)
    if isinstance(cell, LTCCell):
        config["units"] = cell.wiring
        config["wiring"] = cell.wiring.get_config()
    elif isinstance(cell, WiredCfCCell):
        config["units"] = cell.wiring
        config["wiring"] = cell.wiring
        config["activation"] = cell.ncps_activation
    return config


class _NcpsLayer(_MixinBase):
    """Mixin for the layers: ncps's cell classes (its mixed memory too) and config layout."""

    def make_cell(self, units: Any, cell_kwargs: dict[str, Any], dtype: Any) -> Any:
        cell_class = _COMPAT_CELLS[self.cell_class_for(units)]
        cell = cell_class(units, dtype=dtype, name="cell", **cell_kwargs)
        if not self._wrap_in_memory:
            return cell
        return MixedMemoryRNN(cell, dtype=dtype, name="mixed_memory")

    def get_config(self) -> dict[str, Any]:
        return _to_ncps_layout(self, super().get_config())

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: Any = None) -> Any:
        return super().from_config(_from_ncps_layout(config))


@keras.saving.register_keras_serializable(package=_PACKAGE)
class LTCCell(_synaptic_ltc.SynapticLTCCell):
    """``ncps.keras.LTCCell(wiring, input_mapping="affine", output_mapping="affine",
    ode_unfolds=6, epsilon=1e-8, initialization_ranges=None)``: the synaptic LTC cell."""

    def __init__(
        self,
        wiring: Wiring | dict,
        input_mapping: str | None = "affine",
        output_mapping: str | None = "affine",
        ode_unfolds: int = 6,
        epsilon: float = 1e-8,
        initialization_ranges: dict | None = None,
        **kwargs: Any,
    ):
        super().__init__(**_arguments(LTCCell.__init__, locals()), **kwargs)

    @property
    def sensory_size(self) -> int | None:
        return self.wiring.input_dim

    @property
    def motor_size(self) -> int:
        return self.wiring.output_dim


@keras.saving.register_keras_serializable(package=_PACKAGE)
class CfCCell(_cfc.CfCCell):
    """``ncps.keras.CfCCell(units, mode="default", activation="lecun_tanh",
    backbone_units=128, backbone_layers=1, backbone_dropout=0.1, sparsity_mask=None)``."""

    def __init__(
        self,
        units: int,
        mode: str = "default",
        activation: Any = "lecun_tanh",
        backbone_units: int = 128,
        backbone_layers: int = 1,
        backbone_dropout: float = 0.1,
        sparsity_mask: Any = None,
        **kwargs: Any,
    ):
        arguments = _arguments(CfCCell.__init__, locals())
        if arguments.pop("sparsity_mask") is not None:
            raise ValueError(
                "CfCCell(sparsity_mask=...) is not supported; give the sparsity as a wiring: "
                "WiredCfCCell(wiring) or CfC(wiring)."
            )
        super().__init__(units, **arguments, **kwargs)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class WiredCfCCell(_wired_cfc.WiredCfCCell):
    """``ncps.keras.WiredCfCCell(wiring, fully_recurrent=True, mode="default",
    activation="lecun_tanh")``; ``activation`` is unused, as in ncps (no backbone)."""

    def __init__(
        self,
        wiring: Wiring | dict,
        fully_recurrent: bool = True,
        mode: str = "default",
        activation: Any = "lecun_tanh",
        **kwargs: Any,
    ):
        super().__init__(_restore_wiring(wiring), mode=mode, fully_recurrent=fully_recurrent,
                         **kwargs)
        self.ncps_activation = activation

    def get_config(self) -> dict[str, Any]:
        """Our config with ncps's keys: ``wiring`` (the object) and ``activation``."""
        return {**super().get_config(), "wiring": self.wiring, "activation": self.ncps_activation}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class MixedMemoryRNN(_mixed_memory.MixedMemoryCell):
    """``ncps.keras.MixedMemoryRNN(rnn_cell, forget_gate_bias=1.0)``: an LSTM memory
    beside ``rnn_cell`` (the ODE-LSTM design; see the module docstring)."""

    def __init__(self, rnn_cell: Any = None, forget_gate_bias: float = 1.0, **kwargs: Any):
        if rnn_cell is None:
            rnn_cell = kwargs.pop("cell", None)
        super().__init__(rnn_cell, forget_gate_bias=forget_gate_bias, **kwargs)

    @property
    def rnn_cell(self) -> Any:
        """The wrapped cell (ncps's name)."""
        return self.cell

    def get_config(self) -> dict[str, Any]:
        """Our config (the serialized ``cell``) with ncps's ``rnn_cell``: the cell's config."""
        return {**super().get_config(), "rnn_cell": self.cell.get_config()}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> MixedMemoryRNN:
        """Loads our configs (``cell``, or ``rnn_cell`` serialized, as earlier versions
        saved) and ncps's (``rnn_cell`` the cell's bare config)."""
        config = dict(config)
        rnn_cell = config.pop("rnn_cell", None)
        if "cell" not in config:
            if "class_name" not in rnn_cell:  # ncps: the bare config; its keys tell the class
                cell_class: type[keras.layers.Layer]
                if "wiring" not in rnn_cell:
                    cell_class = CfCCell
                elif "ode_unfolds" in rnn_cell:
                    cell_class = LTCCell
                else:
                    cell_class = WiredCfCCell
                rnn_cell = cell_class.from_config(rnn_cell)
            config["cell"] = rnn_cell
        return cls(**config)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class LTC(_NcpsLayer, _ltc_layer.LTC):
    """``ncps.keras.LTC(units, mixed_memory=False, input_mapping="affine",
    output_mapping="affine", ode_unfolds=6, epsilon=1e-8, initialization_ranges=None,
    return_sequences=False, return_state=False, go_backwards=False, stateful=False,
    unroll=False, zero_output_for_mask=False)``.

    ``units`` is a wiring or an int (a ``wirings.FullyConnected(units)``); the layer
    runs the synaptic LTC on it, as ncps does.
    """

    def __init__(
        self,
        units: int | Wiring | dict,
        mixed_memory: bool = False,
        input_mapping: str | None = "affine",
        output_mapping: str | None = "affine",
        ode_unfolds: int = 6,
        epsilon: float = 1e-8,
        initialization_ranges: dict | None = None,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        zero_output_for_mask: bool = False,
        **kwargs: Any,
    ):
        arguments = _arguments(LTC.__init__, locals())
        super().__init__(_as_wiring(units), mixed_memory=mixed_memory, **arguments, **kwargs)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class CfC(_NcpsLayer, _cfc_layer.CfC):
    """``ncps.keras.CfC(units, mixed_memory=False, mode="default", activation="lecun_tanh",
    backbone_units=None, backbone_layers=None, backbone_dropout=None, sparsity_mask=None,
    fully_recurrent=True, return_sequences=False, return_state=False, go_backwards=False,
    stateful=False, unroll=False, zero_output_for_mask=False)``.

    An int gives the dense CfC (backbone defaults 128 units, 1 layer, dropout 0); a
    wiring gives the wired CfC, which takes no backbone arguments (as in ncps) and
    ignores ``activation``. ``fully_recurrent`` is ignored for an int, as in ncps.
    """

    def __init__(
        self,
        units: int | Wiring | dict,
        mixed_memory: bool = False,
        mode: str = "default",
        activation: Any = "lecun_tanh",
        backbone_units: int | None = None,
        backbone_layers: int | None = None,
        backbone_dropout: float | None = None,
        sparsity_mask: Any = None,
        fully_recurrent: bool = True,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        zero_output_for_mask: bool = False,
        **kwargs: Any,
    ):
        arguments = _arguments(CfC.__init__, locals())
        if arguments.pop("sparsity_mask") is not None:
            raise ValueError(
                "CfC(sparsity_mask=...) is not supported; give the sparsity as a wiring: "
                "CfC(wiring)."
            )
        if isinstance(units, dict):
            units = keras.saving.deserialize_keras_object(units)
        if isinstance(units, Wiring):
            for name in _DENSE_BACKBONE:
                if arguments.pop(name) is not None:
                    raise ValueError(f"Cannot use {name} in wired mode.")
            del arguments["activation"]  # the wired CfC has no backbone
        else:
            del arguments["fully_recurrent"]
            for name, default in _DENSE_BACKBONE.items():
                if arguments[name] is None:
                    arguments[name] = default
        super().__init__(units, mixed_memory=mixed_memory, **arguments, **kwargs)


_COMPAT_CELLS = {
    _synaptic_ltc.SynapticLTCCell: LTCCell,
    _cfc.CfCCell: CfCCell,
    _wired_cfc.WiredCfCCell: WiredCfCCell,
}

__all__ = ["CfC", "CfCCell", "LTC", "LTCCell", "MixedMemoryRNN", "WiredCfCCell"]

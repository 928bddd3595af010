"""ncps's wirings (``ncps.wirings``) on liquidtime's: the same names, signatures and methods.

``FullyConnected``, ``Random``, ``NCP`` and ``AutoNCP`` take ncps's constructor
arguments (``erev_init_seed``, ``random_seed``, ``seed`` with ncps's defaults) and
are liquidtime wirings, so every liquidtime layer accepts them and ``.keras`` files
of models using them load back. They add ncps's methods: ``num_layers``,
``get_neurons_of_layer``, ``get_type_of_neuron``, ``erev_initializer``,
``sensory_erev_initializer``, ``draw_graph``, ``get_graph`` and, for custom wirings
derived from :class:`Wiring`, ``add_synapse``, ``add_sensory_synapse``,
``set_input_dim`` and ``set_output_dim``.

Differences from ncps 1.0.1:

* The synapses are liquidtime's (see :mod:`liquidtime.wirings`): a seed gives other
  synapses than in ncps (and NCP's recurrent command synapses are drawn without
  replacement). To load a trained ncps model, take its wiring's synapses with
  :func:`liquidtime.compat.wiring_from_ncps`.
* ``build(input_dim)`` sets the input size in place, as in ncps, and also returns the
  wiring. ``is_built`` is a property (ncps: a method), as in liquidtime.
* ``adjacency_matrix`` and ``sensory_adjacency_matrix`` are read-only int8 arrays;
  change synapses with ``add_synapse`` / ``add_sensory_synapse``.
* ``AutoNCP`` accepts a sparsity level below 0.1 (ncps rejects it).
"""

from __future__ import annotations

import importlib
from typing import Any

import keras
import numpy as np

from liquidtime import wirings as _wirings
from liquidtime.cells.wired_cfc import wiring_layers
from liquidtime.wirings.base import check_int

_PACKAGE = "liquidtime.compat.ncps"


def _optional_import(module: str, user: str, package: str | None = None) -> Any:
    """Imports an optional dependency, or says which package to install.

    Args:
        module: The module to import.
        user: What needs it, for the message.
        package: The pip package (default: the module's top-level name).

    Returns:
        The module.

    Raises:
        ImportError: Naming ``pip install <package>``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        package = package or module.split(".")[0]
        raise ImportError(
            f"{user} needs {package}, which is not installed: `pip install {package}`."
        ) from error


def _seed_named(config: dict[str, Any], name: str) -> dict[str, Any]:
    """A liquidtime wiring's config with its ``seed`` under ncps's argument name.

    Args:
        config: The config, with ``seed``.
        name: ncps's name of the seed argument, e.g. ``"erev_init_seed"``.

    Returns:
        The same entries in the same order, ``seed`` renamed.
    """
    return {name if key == "seed" else key: value for key, value in config.items()}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class Wiring(_wirings.Wiring):
    """ncps's wiring base class: a custom wiring adds its synapses one by one.

    As in ncps, subclass it, call ``add_synapse(source, target, polarity)`` in
    ``__init__`` and ``add_sensory_synapse(feature, target, polarity)`` in
    ``build(input_dim)`` after ``super().build(input_dim)``.

    Args:
        units: Number of neurons.
        output_dim: Number of motor neurons (default: all; ncps sets it with
            ``set_output_dim``).
        input_dim: Number of input features, or None until :meth:`build`.
    """

    def __init__(self, units: int, output_dim: int | None = None, input_dim: int | None = None):
        super().__init__(units, output_dim=output_dim, input_dim=input_dim)
        self._synapses = np.zeros((self.units, self.units), dtype=np.int8)
        self._sensory_synapses = None
        if input_dim is not None:
            self._sensory_synapses = np.zeros((input_dim, self.units), dtype=np.int8)

    def make_adjacency_matrix(self) -> np.ndarray:
        return self._synapses

    def make_sensory_adjacency_matrix(self, input_dim: int) -> np.ndarray:
        if self._sensory_synapses is None:
            self._sensory_synapses = np.zeros((input_dim, self.units), dtype=np.int8)
        return self._sensory_synapses

    # ncps's mutating API -----------------------------------------------------

    def build(self, input_dim: int) -> Wiring:
        """Sets the input size in place (as ncps does) and returns the wiring.

        Raises:
            ValueError: If the wiring already has another input size.
        """
        input_dim = check_int("input_dim", input_dim, 1)
        if self._input_dim is None:
            self.set_input_dim(input_dim)
        return super().build(input_dim)

    def set_input_dim(self, input_dim: int) -> None:
        """Sets the number of input features (the sensory synapses start empty)."""
        self._input_dim = check_int("input_dim", input_dim, 1)
        self._sensory_adjacency = None
        self._sensory_synapses = None

    def set_output_dim(self, output_dim: int) -> None:
        """Sets the number of motor neurons."""
        self._output_dim = check_int("output_dim", output_dim, 1, self.units)

    def _check_polarity(self, polarity: Any) -> int:
        if polarity not in (-1, 1):
            raise ValueError(
                "Received an invalid value for argument `polarity`, expected -1 or +1, "
                f"got {polarity!r}."
            )
        return int(polarity)

    def add_synapse(self, src: int, dest: int, polarity: int) -> None:
        """Adds the synapse from neuron ``src`` to neuron ``dest`` (+1 or -1)."""
        src = check_int("src", src, 0, self.units - 1)
        dest = check_int("dest", dest, 0, self.units - 1)
        self._synapses[src, dest] = self._check_polarity(polarity)
        self._adjacency = None

    def add_sensory_synapse(self, src: int, dest: int, polarity: int) -> None:
        """Adds the synapse from input feature ``src`` to neuron ``dest`` (+1 or -1)."""
        if self._input_dim is None:
            raise ValueError("Cannot add sensory synapses before build() has been called.")
        src = check_int("src", src, 0, self._input_dim - 1)
        dest = check_int("dest", dest, 0, self.units - 1)
        sensory = self.make_sensory_adjacency_matrix(self._input_dim)
        sensory[src, dest] = self._check_polarity(polarity)
        self._sensory_adjacency = None

    # ncps's read API ---------------------------------------------------------

    @property
    def num_layers(self) -> int:
        """Number of layers (3 for an NCP: inter, command, motor; else 1)."""
        return len(wiring_layers(self))

    def get_neurons_of_layer(self, layer_id: int) -> list[int]:
        """The neuron ids of layer ``layer_id`` (signal-flow order)."""
        start, stop = wiring_layers(self)[check_int("layer_id", layer_id, 0, self.num_layers - 1)]
        return list(range(start, stop))

    def get_type_of_neuron(self, neuron_id: int) -> str:
        """``"motor"``, ``"command"`` or ``"inter"``."""
        return self.neuron_type(neuron_id)

    def erev_initializer(self, shape: Any = None, dtype: Any = None) -> np.ndarray:
        """The synapse polarities as float32 (ncps returns integers, which JAX cannot train)."""
        return np.asarray(self.adjacency_matrix, dtype=dtype or "float32")

    def sensory_erev_initializer(self, shape: Any = None, dtype: Any = None) -> np.ndarray:
        """The sensory synapse polarities as float32."""
        return np.asarray(self.sensory_adjacency_matrix, dtype=dtype or "float32")

    def get_graph(self, include_sensory_neurons: bool = True) -> Any:
        """The wiring as a ``networkx.DiGraph`` (nodes ``neuron_i`` / ``sensory_i``).

        Raises:
            ImportError: If networkx is not installed (``pip install networkx``).
        """
        nx = _optional_import("networkx", "Wiring.get_graph")

        graph = nx.DiGraph()
        for i in range(self.units):
            graph.add_node(f"neuron_{i}", neuron_type=self.neuron_type(i))
        for src, dest in zip(*np.nonzero(self.adjacency_matrix)):
            polarity = int(self.adjacency_matrix[src, dest])
            graph.add_edge(f"neuron_{src}", f"neuron_{dest}", polarity=polarity)
        if include_sensory_neurons and self.is_built:
            sensory = self.sensory_adjacency_matrix
            for k in range(sensory.shape[0]):
                graph.add_node(f"sensory_{k}", neuron_type="sensory")
            for src, dest in zip(*np.nonzero(sensory)):
                graph.add_edge(f"sensory_{src}", f"neuron_{dest}", polarity=int(sensory[src, dest]))
        return graph

    def draw_graph(
        self,
        layout: str = "shell",
        neuron_colors: dict[str, str] | None = None,
        synapse_colors: dict[str, str] | None = None,
        draw_labels: bool = False,
    ) -> list[Any]:
        """Draws the wiring into the current matplotlib axes and returns the legend handles.

        As in ncps, the handles (neuron kinds, excitatory and inhibitory synapses) are
        returned for ``plt.legend(handles=...)``; a legend with them is also drawn,
        inside the axes so that no figure edge clips it. ncps's networkx layouts map
        to liquidtime's: ``"shell"``, ``"circular"`` and ``"spiral"`` draw a circle,
        the others the layered picture. The wiring must know its input size (a layer
        using it sets it, or call ``build(input_dim)``).

        Returns:
            The legend handles, a list of matplotlib artists with labels.

        Raises:
            ImportError: If matplotlib is not installed (``pip install matplotlib``).
        """
        plt = _optional_import("matplotlib.pyplot", "Wiring.draw_graph", "matplotlib")

        from liquidtime.wirings.drawing import draw_wiring

        circular = layout in ("shell", "circular", "spiral")
        ax = draw_wiring(
            self,
            ax=plt.gca(),
            layout="circular" if circular else "layered",
            neuron_colors=neuron_colors,
            synapse_colors=synapse_colors,
            draw_labels=draw_labels,
        )
        # draw_wiring puts its legend right of the axes, where plt.show() clips it.
        handles = list(ax.get_legend().legend_handles)
        ax.get_legend().remove()
        ax.legend(handles=handles, loc="best", fontsize=8, framealpha=0.8)
        return handles

    def _synapses_added_by_hand(self) -> bool:
        return type(self).make_adjacency_matrix is Wiring.make_adjacency_matrix

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        if not self._synapses_added_by_hand():
            return config
        sensory = self.sensory_adjacency_matrix.tolist() if self.is_built else None
        return {
            **config,
            "units": self.units,
            "output_dim": self.output_dim,
            "adjacency_matrix": self.adjacency_matrix.tolist(),
            "sensory_adjacency_matrix": sensory,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Wiring:
        config = dict(config)
        adjacency = config.pop("adjacency_matrix", None)
        sensory = config.pop("sensory_adjacency_matrix", None)
        wiring = cls(**config)
        if adjacency is not None:
            wiring._synapses = np.asarray(adjacency, dtype=np.int8)
        if sensory is not None:
            wiring._sensory_synapses = np.asarray(sensory, dtype=np.int8)
        return wiring


@keras.saving.register_keras_serializable(package=_PACKAGE)
class FullyConnected(_wirings.FullyConnected, Wiring):
    """``ncps.wirings.FullyConnected(units, output_dim=None, erev_init_seed=1111,
    self_connections=True)``."""

    def __init__(
        self,
        units: int,
        output_dim: int | None = None,
        erev_init_seed: int = 1111,
        self_connections: bool = True,
        input_dim: int | None = None,
    ):
        super().__init__(
            units, output_dim=output_dim, self_connections=self_connections,
            seed=erev_init_seed, input_dim=input_dim,
        )

    def get_config(self) -> dict[str, Any]:
        return _seed_named(super().get_config(), "erev_init_seed")



@keras.saving.register_keras_serializable(package=_PACKAGE)
class Random(_wirings.Random, Wiring):
    """``ncps.wirings.Random(units, output_dim=None, sparsity_level=0.0, random_seed=1111)``."""

    def __init__(
        self,
        units: int,
        output_dim: int | None = None,
        sparsity_level: float = 0.0,
        random_seed: int = 1111,
        input_dim: int | None = None,
    ):
        super().__init__(
            units, output_dim=output_dim, sparsity_level=sparsity_level,
            seed=random_seed, input_dim=input_dim,
        )

    def get_config(self) -> dict[str, Any]:
        return _seed_named(super().get_config(), "random_seed")



@keras.saving.register_keras_serializable(package=_PACKAGE)
class NCP(_wirings.NCP, Wiring):
    """``ncps.wirings.NCP(inter_neurons, command_neurons, motor_neurons, sensory_fanout,
    inter_fanout, recurrent_command_synapses, motor_fanin, seed=22222)``."""

    def __init__(
        self,
        inter_neurons: int,
        command_neurons: int,
        motor_neurons: int,
        sensory_fanout: int,
        inter_fanout: int,
        recurrent_command_synapses: int,
        motor_fanin: int,
        seed: int = 22222,
        input_dim: int | None = None,
    ):
        super().__init__(
            inter_neurons, command_neurons, motor_neurons, sensory_fanout, inter_fanout,
            recurrent_command_synapses, motor_fanin, seed=seed, input_dim=input_dim,
        )



@keras.saving.register_keras_serializable(package=_PACKAGE)
class AutoNCP(_wirings.AutoNCP, NCP):
    """``ncps.wirings.AutoNCP(units, output_size, sparsity_level=0.5, seed=22222)``."""

    def __init__(
        self,
        units: int,
        output_size: int,
        sparsity_level: float = 0.5,
        seed: int = 22222,
        input_dim: int | None = None,
    ):
        _wirings.AutoNCP.__init__(
            self, units, output_size, sparsity_level=sparsity_level, seed=seed, input_dim=input_dim
        )



__all__ = ["AutoNCP", "FullyConnected", "NCP", "Random", "Wiring"]

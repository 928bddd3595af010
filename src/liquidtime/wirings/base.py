"""The wiring base class: which neuron talks to which, and with which sign.

A wiring is an immutable value. Its synapses are generated deterministically
from its constructor arguments (for the built-in wirings, sizes and a seed), so
``Wiring.from_config(w.get_config())`` has exactly the synapses of ``w``. The
input size is not set by mutating the wiring: :meth:`Wiring.build` returns a
*new* wiring with ``input_dim`` fixed, so one wiring object can serve several
layers, even layers with different input sizes.

Conventions (as in Lechner et al. 2020 and ncps):

* ``adjacency_matrix[j, i]`` is the polarity of the synapse from neuron ``j`` to
  neuron ``i`` (source row, target column): ``+1`` excitatory, ``-1`` inhibitory,
  ``0`` no synapse. Shape ``(units, units)``.
* ``sensory_adjacency_matrix[k, i]`` is the polarity of the synapse from input
  feature (sensory neuron) ``k`` to neuron ``i``. Shape ``(input_dim, units)``.
* Neurons ``0 .. output_dim - 1`` are the motor neurons: the outputs.
"""

from __future__ import annotations

import copy
from typing import Any, TypeVar

import numpy as np

from liquidtime._validation import int_at_least, int_in_range, one_of

_W = TypeVar("_W", bound="Wiring")

NEURON_KINDS = ("sensory", "inter", "command", "motor")
"""The kinds of neuron a wiring can have, in signal-flow order."""

_SEED_BOUND = 2**32


def check_int(name: str, value: Any, low: int, high: int | None = None) -> int:
    """The integer check of the wirings, kept for :mod:`liquidtime.compat`.

    Equivalent to :func:`liquidtime._validation.int_at_least` (``high`` None) or
    :func:`liquidtime._validation.int_in_range` with ``allow_numpy=True``.

    Args:
        name: The argument's name, for the message.
        value: The value to check: a Python or NumPy integer.
        low: Smallest allowed value.
        high: Largest allowed value, or None for no upper bound.

    Returns:
        ``value`` as a Python int.

    Raises:
        ValueError: For a bool, a non-integer or an integer out of range.
    """
    if high is None:
        return int_at_least(name, value, low, allow_numpy=True)
    return int_in_range(name, value, low, high, allow_numpy=True)


def resolve_seed(seed: Any) -> int:
    """Returns the seed of a wiring, drawing one if ``seed`` is None.

    A drawn seed comes from NumPy's global generator, so
    ``keras.utils.set_random_seed`` makes it reproducible; it is stored in the
    wiring's config, so a saved wiring reloads with the same synapses.
    """
    if seed is None:
        return int(np.random.randint(0, 2**31 - 1))
    return int_in_range("seed", seed, 0, _SEED_BOUND - 1, allow_numpy=True)


def random_state(seed: int, stream: int) -> np.random.RandomState:
    """An independent random stream of a seeded wiring.

    NumPy's legacy ``RandomState`` is used on purpose: its streams are frozen, so a
    wiring saved today regenerates the same synapses under any NumPy version
    (``numpy.random.Generator`` makes no such promise).

    Args:
        seed: The wiring's seed.
        stream: 0 for the synapses between neurons, 1 for the sensory synapses.

    Returns:
        A fresh ``RandomState``.
    """
    return np.random.RandomState([seed, stream])


def _frozen_polarities(matrix: Any, shape: tuple[int, int], owner: str, what: str) -> np.ndarray:
    """Checks a generated polarity matrix and returns it as a read-only int8 array."""
    array = np.asarray(matrix)
    if array.shape != shape:
        raise ValueError(f"{owner} produced {what} of shape {array.shape}; expected {shape}.")
    if not np.isin(array, (-1, 0, 1)).all():
        bad = sorted(set(np.unique(array).tolist()) - {-1, 0, 1})
        raise ValueError(
            f"{owner} produced {what} with values {bad}; synapse polarities must be "
            "+1 (excitatory), -1 (inhibitory) or 0 (no synapse)."
        )
    array = array.astype(np.int8)
    array.setflags(write=False)
    return array


class Wiring:
    """Base class of neural circuit wirings (sparse, signed connectivity of a cell).

    Subclasses implement :meth:`make_adjacency_matrix` and
    :meth:`make_sensory_adjacency_matrix` as deterministic functions of their
    constructor arguments, accept ``input_dim=None`` in ``__init__`` and pass it
    to ``super().__init__``, and return ``{**super().get_config(), ...}`` from
    :meth:`get_config`. Register them with
    ``@keras.saving.register_keras_serializable(package=...)`` to save models
    that use them.

    Args:
        units: Number of neurons N (the state size of the cell).
        output_dim: Number of motor neurons, the first ``output_dim`` neurons
            (default: all ``units``).
        input_dim: Number of input features (sensory neurons) M, or None to let
            the layer that uses the wiring set it (see :meth:`build`).

    Example:
    >>> wiring = FullyConnected(8, output_dim=2, seed=0)
    >>> wiring.adjacency_matrix.shape                # (units, units)
    (8, 8)
    >>> wiring.build(3).sensory_adjacency_matrix.shape  # (input_dim, units)
    (3, 8)
    """

    def __init__(self, units: int, output_dim: int | None = None, input_dim: int | None = None):
        units = int_at_least("units", units, 1, allow_numpy=True)
        if output_dim is None:
            output_dim = units
        else:
            output_dim = int_in_range("output_dim", output_dim, 1, units, allow_numpy=True)
        if input_dim is not None:
            input_dim = int_at_least("input_dim", input_dim, 1, allow_numpy=True)
        self._units = units
        self._output_dim = output_dim
        self._input_dim = input_dim
        self._adjacency: np.ndarray | None = None
        self._sensory_adjacency: np.ndarray | None = None

    # Sizes -------------------------------------------------------------------

    @property
    def units(self) -> int:
        """Number of neurons N."""
        return self._units

    @property
    def output_dim(self) -> int:
        """Number of motor neurons (the first ``output_dim`` neurons)."""
        return self._output_dim

    @property
    def input_dim(self) -> int | None:
        """Number of sensory neurons (input features), or None before :meth:`build`."""
        return self._input_dim

    @property
    def is_built(self) -> bool:
        """Whether the input size is known (and so the sensory synapses)."""
        return self._input_dim is not None

    def build(self: _W, input_dim: int) -> _W:
        """Returns this wiring with ``input_dim`` input features; ``self`` is unchanged.

        Args:
            input_dim: The number of input features of the data.

        Returns:
            ``self`` if it already has that input size, else a new wiring.

        Raises:
            ValueError: If the wiring was created for another input size.
        """
        input_dim = int_at_least("input_dim", input_dim, 1, allow_numpy=True)
        if self._input_dim is not None:
            if self._input_dim != input_dim:
                raise ValueError(
                    f"The {type(self).__name__} wiring was created for input_dim="
                    f"{self._input_dim} input features, but the data has {input_dim} "
                    "features. Pass data with that many features, or create the wiring "
                    "with a matching `input_dim` (or input_dim=None to take it from the data)."
                )
            return self
        built = copy.copy(self)
        built._input_dim = input_dim
        built._sensory_adjacency = None
        return built

    # Synapses ----------------------------------------------------------------

    def make_adjacency_matrix(self) -> np.ndarray:
        """Generates the ``(units, units)`` polarity matrix (subclasses implement)."""
        raise NotImplementedError

    def make_sensory_adjacency_matrix(self, input_dim: int) -> np.ndarray:
        """Generates the ``(input_dim, units)`` sensory polarity matrix (subclasses implement)."""
        raise NotImplementedError

    @property
    def adjacency_matrix(self) -> np.ndarray:
        """Polarities of the synapses between neurons, ``(units, units)`` int8, read-only.

        Entry ``[j, i]`` is the synapse from neuron ``j`` to neuron ``i``.
        """
        if self._adjacency is None:
            self._adjacency = _frozen_polarities(
                self.make_adjacency_matrix(),
                (self.units, self.units),
                type(self).__name__,
                "an adjacency matrix",
            )
        return self._adjacency

    @property
    def sensory_adjacency_matrix(self) -> np.ndarray:
        """Polarities of the input synapses, ``(input_dim, units)`` int8, read-only.

        Raises:
            ValueError: If the input size is not known yet.
        """
        if self._input_dim is None:
            raise ValueError(
                f"The {type(self).__name__} wiring has no input size yet, so it has no sensory "
                "synapses. Use `wiring.build(input_dim)` (which returns a built copy) or "
                "create it with `input_dim=...`."
            )
        if self._sensory_adjacency is None:
            self._sensory_adjacency = _frozen_polarities(
                self.make_sensory_adjacency_matrix(self._input_dim),
                (self._input_dim, self.units),
                type(self).__name__,
                "a sensory adjacency matrix",
            )
        return self._sensory_adjacency

    @property
    def synapse_count(self) -> int:
        """Number of synapses between neurons."""
        return int(np.count_nonzero(self.adjacency_matrix))

    @property
    def sensory_synapse_count(self) -> int:
        """Number of synapses from the input features to the neurons."""
        return int(np.count_nonzero(self.sensory_adjacency_matrix))

    # Neuron kinds ------------------------------------------------------------

    def neuron_type(self, neuron_id: int) -> str:
        """The kind of neuron ``neuron_id``: ``"motor"`` or ``"inter"`` here.

        Subclasses with more kinds (see :class:`~liquidtime.wirings.NCP`) override it.
        """
        neuron_id = int_in_range("neuron_id", neuron_id, 0, self.units - 1, allow_numpy=True)
        return "motor" if neuron_id < self.output_dim else "inter"

    @property
    def neuron_types(self) -> tuple[str, ...]:
        """The kind of every neuron, in neuron order."""
        return tuple(self.neuron_type(i) for i in range(self.units))

    def neurons_of_type(self, kind: str) -> np.ndarray:
        """The ids of the neurons of one kind (``"inter"``, ``"command"`` or ``"motor"``)."""
        one_of("kind", kind, NEURON_KINDS[1:])
        return np.array([i for i, t in enumerate(self.neuron_types) if t == kind], dtype=np.int64)

    # Picture -----------------------------------------------------------------

    def draw(self, path: Any = None, **kwargs: Any) -> Any:
        """Draws the wiring with matplotlib; see :func:`liquidtime.wirings.draw_wiring`."""
        from liquidtime.wirings.drawing import draw_wiring

        return draw_wiring(self, path, **kwargs)

    # Serialization -----------------------------------------------------------

    def get_config(self) -> dict[str, Any]:
        """Returns the constructor arguments (subclasses add theirs to this dict)."""
        return {"input_dim": self._input_dim}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Wiring:
        """Creates a wiring from :meth:`get_config`'s output."""
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"

"""Theorems 1 and 2 of the LTC paper as per-neuron numbers for a built cell.

Both LTC forms are written in decay-drive form (see :mod:`liquidtime.solvers`),

    dx/dt = -a(x, I) x + b(x, I),        tau_sys = 1 / a,

and both theorems follow from two facts about ``a`` and ``b``: ``a`` lies in a
known interval ``[a_min, a_max]`` with ``a_min > 0``, and the steady state
``b / a`` is a convex combination of fixed "reversal" values.

**Theorem 1** (time constant). ``tau_sys = 1 / a`` lies in ``[1 / a_max, 1 / a_min]``.

**Theorem 2** (state). If the initial state lies in ``[lo, hi]`` (the convex hull
of the reversal values), so does the state at every later time: at ``x = hi``,
``dx/dt = a (b/a - hi) <= 0``, and at ``x = lo``, ``dx/dt >= 0``, so the
solution cannot leave the interval (the paper argues through an explicit-Euler
approximation; this is the same sign argument).

Dense form (``LTCCell``, the paper's Eq. 1)::

    dx_i/dt = -[1/tau_i + f_i] x_i + f_i A_i,     f_i = activation(...) in [0, W_i]

    a_i = 1/tau_i + f_i in [1/tau_i, 1/tau_i + W_i]
      =>  tau_i / (1 + tau_i W_i) <= tau_sys_i <= tau_i                     (Thm 1)
    b_i / a_i = A_i * f_i / (1/tau_i + f_i),  with f_i / (1/tau_i + f_i) in [0, 1)
      =>  min(0, A_i) <= x_i <= max(0, A_i)                                (Thm 2)

``W_i`` is the supremum of the activation (1 for the default sigmoid); the
argument of f (input, recurrent state, optional backbone) does not matter, only
the range of f. The dense cell has one ``A_i`` per neuron, so the paper's
``A_i^min = A_i^max = A_i``.

Synaptic form (``SynapticLTCCell``; Lechner et al. 2020, ncps)::

    cm_i dv_i/dt = gleak_i (vleak_i - v_i) + epsilon (0 - v_i)
                 + sum_j w_ji s_ji (erev_ji - v_i) + sum_k sw_ki ss_ki (serev_ki - v_i)

    a_i = (gleak_i + epsilon + sum_j w_ji s_ji + sum_k sw_ki ss_ki) / cm_i,  s in [0, 1]
      =>  cm_i / (gleak_i + epsilon + sum_j w_ji + sum_k sw_ki) <= tau_sys_i
                                               <= cm_i / (gleak_i + epsilon)   (Thm 1)
    b_i / a_i = conductance-weighted average of vleak_i, 0 (if epsilon > 0), and the
                erev_ji / serev_ki of the synapses connected to neuron i
      =>  min(E_i) <= v_i <= max(E_i),   E_i = those reversal potentials      (Thm 2)

(sums over the wiring's connected synapses only). ``vleak`` plays the role of
the dense form's 0 and the synapses' ``erev`` that of ``A``.

Assumptions, checked where possible and reported in ``TheoremBounds.violated``:
f bounded and non-negative (the activation's range), tau / cm / gleak > 0
(guaranteed by the cells' positivity), dt > 0, and the initial state inside the
envelope (both are properties of a run; see :func:`liquidtime.bounds.check_bounds`).
The paper also assumes f monotonic; the derivation above does not use it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from keras import ops

from liquidtime.activations import serialize_activation
from liquidtime.cells.base import ContinuousTimeCell
from liquidtime.cells.ltc import LTCCell
from liquidtime.cells.parameters import positive_value
from liquidtime.layers.base import ContinuousTimeRNN

ACTIVATION_RANGES: dict[str, tuple[float, float]] = {
    "sigmoid": (0.0, 1.0),
    "hard_sigmoid": (0.0, 1.0),
    "relu6": (0.0, 6.0),
    "relu": (0.0, math.inf),
    "softplus": (0.0, math.inf),
    "exponential": (0.0, math.inf),
    "tanh": (-1.0, 1.0),
    "hard_tanh": (-1.0, 1.0),
    "softsign": (-1.0, 1.0),
    "lecun_tanh": (-1.7159, 1.7159),
    "elu": (-1.0, math.inf),
    "linear": (-math.inf, math.inf),
}
"""Closed hulls of the ranges of named activations (inf and sup), by serialized name."""


def activation_range(activation: Any) -> tuple[float, float] | None:
    """The infimum and supremum of a named activation, or None if unknown.

    Args:
        activation: An activation function (or its name).

    Returns:
        ``(inf f, sup f)`` from :data:`ACTIVATION_RANGES`, or None for an activation
        this module does not know (pass ``activation_range`` to
        :func:`theorem_bounds` then).
    """
    name = activation if isinstance(activation, str) else serialize_activation(activation)
    if isinstance(name, dict):
        name = name.get("config", name.get("class_name"))
    return ACTIVATION_RANGES.get(name) if isinstance(name, str) else None


@dataclass(frozen=True)
class TheoremBounds:
    """Per-neuron bounds of Theorems 1 and 2 for one cell.

    Attributes:
        form: ``"dense"`` or ``"synaptic"``.
        tau_sys_low, tau_sys_high: Theorem 1's range of ``tau_sys``, shape ``(units,)``.
        state_low, state_high: Theorem 2's state envelope, shape ``(units,)``.
        violated: The assumptions of the theorems that this cell does not meet
            (empty when both theorems apply). When not empty, the ranges above are
            what the theorems *would* claim, and the cell's trajectories may leave them.
    """

    form: str
    tau_sys_low: np.ndarray
    tau_sys_high: np.ndarray
    state_low: np.ndarray
    state_high: np.ndarray
    violated: tuple[str, ...] = field(default=())

    @property
    def holds(self) -> bool:
        """True if the cell meets every assumption the theorems put on its parameters."""
        return not self.violated

    @property
    def units(self) -> int:
        return int(self.state_low.shape[0])

    def contains_state(self, state: Any, tolerance: float = 1e-5) -> np.ndarray:
        """Which entries of ``state`` (..., units) lie in the envelope, up to a relative tolerance.

        An entry ``x_i`` is inside when
        ``lo_i - tol * s_i <= x_i <= hi_i + tol * s_i`` with ``s_i = max(|lo_i|, |hi_i|)``.
        """
        state = np.asarray(state, dtype=np.float64)
        slack = tolerance * np.maximum(np.abs(self.state_low), np.abs(self.state_high))
        return (state >= self.state_low - slack) & (state <= self.state_high + slack)

    def contains_tau_sys(self, tau_sys: Any, tolerance: float = 1e-5) -> np.ndarray:
        """Which entries of ``tau_sys`` (..., units) lie in Theorem 1's range (relative tolerance)."""
        tau_sys = np.asarray(tau_sys, dtype=np.float64)
        return (tau_sys >= self.tau_sys_low * (1.0 - tolerance)) & (
            tau_sys <= self.tau_sys_high * (1.0 + tolerance)
        )


def _as_cell(cell_or_layer: Any) -> ContinuousTimeCell:
    cell = cell_or_layer.cell if isinstance(cell_or_layer, ContinuousTimeRNN) else cell_or_layer
    if not isinstance(cell, ContinuousTimeCell):
        raise ValueError(
            "Received an invalid value for argument `cell_or_layer`, expected an LTC cell "
            f"or a sequence layer running one, got {cell_or_layer!r}."
        )
    if not cell.built:
        raise ValueError(
            f"{type(cell).__name__} '{cell.name}' is not built yet; call the layer on data "
            "(or build it) before computing its bounds."
        )
    return cell


def _numpy(value: Any) -> np.ndarray:
    return np.asarray(ops.convert_to_numpy(value), dtype=np.float64)


def _activation_assumptions(lo: float, hi: float) -> list[str]:
    violated = []
    if lo < 0:
        violated.append(f"f is not non-negative (activation range [{lo:g}, {hi:g}])")
    if not math.isfinite(hi):
        violated.append(f"f is not bounded (activation range [{lo:g}, {hi:g}])")
    return violated


def _resolve_activation_range(cell: Any, given: tuple[float, float] | None) -> tuple[float, float]:
    if given is not None:
        lo, hi = (float(v) for v in given)
        if not lo <= hi:
            raise ValueError(
                "Received an invalid value for argument `activation_range`, expected "
                f"(inf f, sup f) with inf <= sup, got {given!r}."
            )
        return lo, hi
    known = activation_range(cell.activation)
    if known is None:
        raise ValueError(
            f"The range of the activation {cell.activation!r} of {type(cell).__name__} "
            f"'{cell.name}' is unknown; pass `activation_range=(inf f, sup f)`."
        )
    return known


def _dense_bounds(cell: LTCCell, f_range: tuple[float, float]) -> TheoremBounds:
    """Theorems 1-2 for ``dx/dt = -(1/tau + f) x + f A`` with ``f in [0, W]``."""
    _, sup_f = f_range
    tau = _numpy(cell.time_constant())
    reversal = _numpy(cell.A)
    with np.errstate(divide="ignore", invalid="ignore"):
        tau_low = tau / (1.0 + tau * sup_f) if math.isfinite(sup_f) else np.zeros_like(tau)
    return TheoremBounds(
        form="dense",
        tau_sys_low=tau_low,
        tau_sys_high=tau,
        state_low=np.minimum(0.0, reversal),
        state_high=np.maximum(0.0, reversal),
        violated=tuple(_activation_assumptions(*f_range)),
    )


def _synaptic_bounds(cell: Any) -> TheoremBounds:
    """Theorems 1-2 for the synaptic (conductance-based) LTC.

    With ``s = sigmoid(...) in [0, 1]`` for every synapse (recurrent ``s_ji`` and
    sensory ``ss_ki``, whatever the inputs), connected synapses only (``w``,
    ``sw`` masked by the wiring), and ``epsilon >= 0`` the cell's extra leak towards 0:

        cm_i dv_i/dt = gleak_i (vleak_i - v_i) + epsilon (0 - v_i)
                     + sum_j w_ji s_ji (erev_ji - v_i) + sum_k sw_ki ss_ki (serev_ki - v_i)

    Decay-drive form: ``a_i = (gleak_i + epsilon + sum_j w_ji s_ji + sum_k sw_ki ss_ki) / cm_i``
    and ``b_i / a_i`` is the average of ``vleak_i``, 0, ``erev_ji`` and ``serev_ki``
    weighted by the non-negative conductances ``gleak_i``, ``epsilon``,
    ``w_ji s_ji`` and ``sw_ki ss_ki``. Hence

    * Theorem 1: ``a_i`` is smallest with every synapse closed (``s = 0``) and largest
      with every synapse fully open (``s = 1``):

          cm_i / (gleak_i + epsilon + sum_j w_ji + sum_k sw_ki) <= tau_sys_i
                                                   <= cm_i / (gleak_i + epsilon);

    * Theorem 2: a weighted average lies in the hull of its values, so with
      ``E_i = {vleak_i} U {erev_ji: j -> i connected} U {serev_ki: k -> i connected}``
      (and 0 when ``epsilon > 0``):

          min(E_i) <= v_i <= max(E_i).

    This is the paper's ``min(0, A_min) <= x <= max(0, A_max)`` with the leak
    reversal ``vleak`` in the role of 0 and the synapses' ``erev`` in that of A.
    """
    mask = np.abs(np.asarray(cell.built_wiring.adjacency_matrix, dtype=np.float64))
    sensory_mask = np.abs(np.asarray(cell.built_wiring.sensory_adjacency_matrix, dtype=np.float64))
    positive = lambda variable: _numpy(positive_value(variable, cell.positivity))  # noqa: E731
    gleak, cm = positive(cell.gleak), positive(cell.cm)
    total_w = np.sum(positive(cell.w) * mask, axis=0) + np.sum(
        positive(cell.sensory_w) * sensory_mask, axis=0
    )
    leak = gleak + cell.epsilon
    vleak = _numpy(cell.vleak)
    erev = np.where(mask > 0, _numpy(cell.erev), np.nan)
    sensory_erev = np.where(sensory_mask > 0, _numpy(cell.sensory_erev), np.nan)
    reversals = np.concatenate([vleak[None, :], erev, sensory_erev], axis=0)
    if cell.epsilon > 0:
        reversals = np.concatenate([reversals, np.zeros((1, cell.units))], axis=0)
    return TheoremBounds(
        form="synaptic",
        tau_sys_low=cm / (leak + total_w),
        tau_sys_high=cm / leak,
        state_low=np.nanmin(reversals, axis=0),
        state_high=np.nanmax(reversals, axis=0),
    )


def _synaptic_cell_class() -> type | None:
    try:
        from liquidtime.cells.synaptic_ltc import SynapticLTCCell
    except ImportError:
        return None
    return SynapticLTCCell


def theorem_bounds(
    cell_or_layer: Any, activation_range: tuple[float, float] | None = None
) -> TheoremBounds:
    """Theorem 1's range of ``tau_sys`` and Theorem 2's state envelope, per neuron.

    Args:
        cell_or_layer: A built ``LTCCell`` or ``SynapticLTCCell``, or a sequence
            layer (``LTC``, ``ContinuousTimeRNN``) running one.
        activation_range: ``(inf f, sup f)`` of the dense cell's activation, needed
            only for activations not in :data:`ACTIVATION_RANGES`. The synaptic form's
            synapses are sigmoids, with range ``[0, 1]``.

    Returns:
        A :class:`TheoremBounds` (float64 NumPy arrays of shape ``(units,)``).

    Raises:
        ValueError: For an unbuilt or unsupported cell, or an unknown activation range.
    """
    cell = _as_cell(cell_or_layer)
    if isinstance(cell, LTCCell):
        return _dense_bounds(cell, _resolve_activation_range(cell, activation_range))
    synaptic = _synaptic_cell_class()
    if synaptic is not None and isinstance(cell, synaptic):
        return _synaptic_bounds(cell)
    raise ValueError(
        "Received an invalid value for argument `cell_or_layer`: the LTC theorems are "
        f"implemented for LTCCell and SynapticLTCCell, got {type(cell).__name__}."
    )


def max_guaranteed_elapsed_time(cell_or_layer: Any, bounds: TheoremBounds | None = None) -> float | None:
    """The largest elapsed time per input step for which the solver provably keeps Theorem 2.

    Every fixed-step solver takes ``L = ode_unfolds`` sub-steps of ``h = dt / L``.

    * ``fused``: ``x <- (x + h b) / (1 + h a) = x / (1 + h a) + (h a / (1 + h a)) (b / a)``
      is a convex combination of ``x`` and the steady state ``b / a``, which lies in
      the envelope: inside for every ``h > 0``, so ``inf``.
    * ``euler``: ``x <- (1 - h a) x + h a (b / a)`` is a convex combination while
      ``h a <= 1``; with ``a <= 1 / tau_sys_low`` that holds for
      ``dt <= L * min_i tau_sys_low_i``.
    * ``rk4``, ``dopri5`` and other solvers: ``a`` and ``b`` change between stages;
      no step size is proven here, so None (the exact ODE does stay inside; the
      :class:`~liquidtime.bounds.BoundsMonitor` checks runs empirically).

    Args:
        cell_or_layer: A built LTC cell or a layer running one.
        bounds: Precomputed :func:`theorem_bounds` (computed if None).

    Returns:
        ``math.inf``, a positive float, or None (no guarantee known). Also None when
        the theorems' assumptions do not hold for the cell.
    """
    cell = _as_cell(cell_or_layer)
    bounds = theorem_bounds(cell) if bounds is None else bounds
    if not bounds.holds:
        return None
    if cell.solver.name == "fused":
        return math.inf
    if cell.solver.name == "euler":
        return float(cell.ode_unfolds * np.min(bounds.tau_sys_low))
    return None

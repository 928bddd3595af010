"""Observed state and ``tau_sys`` ranges of a run, side by side with the theorems' bounds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from keras import ops

from liquidtime._validation import non_negative_float
from liquidtime.bounds.theorems import TheoremBounds, max_guaranteed_elapsed_time, theorem_bounds
from liquidtime.bounds.trajectories import state_and_time_constants


@dataclass(frozen=True)
class BoundsCheck:
    """What a run of one LTC layer did, against Theorems 1 and 2.

    Attributes:
        name: The layer's (or cell's) name.
        bounds: The theorems' per-neuron bounds.
        state_min, state_max: Observed per-neuron extremes of the state over batch
            and time (input-step states), ``(units,)``.
        tau_sys_min, tau_sys_max: Observed per-neuron extremes of ``tau_sys``.
        finite: Per neuron, True if every observed state and ``tau_sys`` was finite.
        state_inside: Per neuron, True if the observed states stayed in the envelope.
        tau_sys_inside: Per neuron, True if the observed ``tau_sys`` stayed in Theorem 1's range.
        initial_state_inside: True if the initial state (zeros by default) was inside
            the envelope (an assumption of Theorem 2).
        guaranteed_elapsed_time: :func:`~liquidtime.bounds.max_guaranteed_elapsed_time`
            of the cell (inf for the fused solver, None if no guarantee is known).
        max_elapsed_time: The largest elapsed time of the run.
        tolerance: The relative tolerance used.
    """

    name: str
    bounds: TheoremBounds
    state_min: np.ndarray
    state_max: np.ndarray
    tau_sys_min: np.ndarray
    tau_sys_max: np.ndarray
    finite: np.ndarray
    state_inside: np.ndarray
    tau_sys_inside: np.ndarray
    initial_state_inside: bool
    guaranteed_elapsed_time: float | None
    max_elapsed_time: float
    tolerance: float

    @property
    def ok(self) -> bool:
        """True if every neuron stayed finite, in the envelope and in Theorem 1's range."""
        return bool(np.all(self.finite) and np.all(self.state_inside) and np.all(self.tau_sys_inside))

    @property
    def state_violations(self) -> np.ndarray:
        """Indices of neurons whose state left the envelope or was not finite."""
        return np.flatnonzero(~(self.state_inside & self.finite))

    @property
    def tau_sys_violations(self) -> np.ndarray:
        """Indices of neurons whose ``tau_sys`` left Theorem 1's range or was not finite."""
        return np.flatnonzero(~(self.tau_sys_inside & self.finite))

    def violations(self) -> list[str]:
        """One sentence per violated theorem (empty when :attr:`ok`)."""
        messages = []
        neurons = self.state_violations
        if neurons.size:
            messages.append(
                f"layer '{self.name}': Theorem 2 violated for neuron(s) {_short(neurons)}: "
                f"observed state range [{np.min(self.state_min):.6g}, "
                f"{np.max(self.state_max):.6g}] vs envelope "
                f"[{np.min(self.bounds.state_low):.6g}, {np.max(self.bounds.state_high):.6g}]"
                + ("" if np.all(self.finite) else " (non-finite states)")
            )
        neurons = self.tau_sys_violations
        if neurons.size:
            messages.append(
                f"layer '{self.name}': Theorem 1 violated for neuron(s) {_short(neurons)}: "
                f"observed tau_sys range [{np.min(self.tau_sys_min):.6g}, "
                f"{np.max(self.tau_sys_max):.6g}] vs bounds "
                f"[{np.min(self.bounds.tau_sys_low):.6g}, {np.max(self.bounds.tau_sys_high):.6g}]"
            )
        if messages:
            messages[-1] += self._cause()
        return messages

    def _cause(self) -> str:
        causes = list(self.bounds.violated)
        if not self.initial_state_inside:
            causes.append("the initial state is outside the envelope")
        guaranteed = self.guaranteed_elapsed_time
        if self.bounds.holds and guaranteed is not None and self.max_elapsed_time > guaranteed:
            causes.append(
                f"the elapsed time {self.max_elapsed_time:g} exceeds {guaranteed:g}, the "
                "largest for which the solver keeps the envelope"
            )
        elif self.bounds.holds and guaranteed is None:
            causes.append("the solver has no discrete-time guarantee")
        return f" (assumption not met: {'; '.join(causes)})" if causes else ""

    def format(self) -> str:
        """A per-neuron table: envelope vs observed state, Theorem-1 range vs observed tau_sys."""
        b = self.bounds
        lines = [
            f"Layer '{self.name}' ({b.form} LTC): "
            + ("within the theorems' bounds" if self.ok else "BOUNDS VIOLATED"),
            f"{'neuron':>6}  {'envelope':>23}  {'observed state':>23}  "
            f"{'Thm 1 tau_sys range':>23}  {'observed tau_sys':>23}",
        ]
        for i in range(b.units):
            flag = "" if (self.state_inside[i] and self.tau_sys_inside[i] and self.finite[i]) else "  <-"
            lines.append(
                f"{i:>6}  {_pair(b.state_low[i], b.state_high[i])}  "
                f"{_pair(self.state_min[i], self.state_max[i])}  "
                f"{_pair(b.tau_sys_low[i], b.tau_sys_high[i])}  "
                f"{_pair(self.tau_sys_min[i], self.tau_sys_max[i])}{flag}"
            )
        lines.extend(self.violations())
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()


def _pair(low: float, high: float) -> str:
    return f"[{low:>10.4g}, {high:>10.4g}]"


def _short(indices: np.ndarray, limit: int = 8) -> str:
    shown = ", ".join(str(int(i)) for i in indices[:limit])
    return f"[{shown}{', ...' if indices.size > limit else ''}]"


def _max_elapsed_time(elapsed_time: Any, inputs: Any, cell: Any) -> float:
    if cell.elapsed_time_as_feature:
        return float(np.max(ops.convert_to_numpy(inputs)[..., -1]))
    if elapsed_time is None:
        return 1.0
    return float(np.max(ops.convert_to_numpy(elapsed_time)))


def check_bounds(
    layer: Any,
    inputs: Any,
    elapsed_time: Any = None,
    initial_state: Any = None,
    tolerance: float = 1e-5,
    activation_range: tuple[float, float] | None = None,
) -> BoundsCheck:
    """Runs an LTC layer on ``inputs`` and compares what it does with Theorems 1 and 2.

    Args:
        layer: A built ``LTC`` layer (dense or synaptic), or an LTC cell.
        inputs: ``(batch, time, features)``.
        elapsed_time: None, a scalar, or ``(batch, time)`` / ``(batch, time, 1)``.
        initial_state: Optional ``(batch, units)`` initial state (default zeros).
        tolerance: Relative tolerance of the comparisons (see
            :meth:`TheoremBounds.contains_state`), >= 0.
        activation_range: For dense cells with an activation of unknown range.

    Returns:
        A :class:`BoundsCheck`; ``print`` it for a per-neuron table.
    """
    tolerance = non_negative_float("tolerance", tolerance)
    bounds = theorem_bounds(layer, activation_range=activation_range)
    states, tau_sys = state_and_time_constants(layer, inputs, elapsed_time, initial_state)
    states = np.asarray(ops.convert_to_numpy(states), dtype=np.float64)
    tau_sys = np.asarray(ops.convert_to_numpy(tau_sys), dtype=np.float64)
    flat_states = states.reshape(-1, bounds.units)
    flat_tau = tau_sys.reshape(-1, bounds.units)
    cell = getattr(layer, "cell", layer)
    if initial_state is None:
        initial = np.zeros((1, bounds.units))  # the layers' default initial state
    else:
        initial = np.asarray(ops.convert_to_numpy(initial_state), dtype=np.float64)
    initial_inside = bool(np.all(bounds.contains_state(initial, tolerance)))
    return BoundsCheck(
        name=layer.name,
        bounds=bounds,
        state_min=np.min(flat_states, axis=0),
        state_max=np.max(flat_states, axis=0),
        tau_sys_min=np.min(flat_tau, axis=0),
        tau_sys_max=np.max(flat_tau, axis=0),
        finite=np.all(np.isfinite(flat_states) & np.isfinite(flat_tau), axis=0),
        state_inside=np.all(bounds.contains_state(flat_states, tolerance), axis=0),
        tau_sys_inside=np.all(bounds.contains_tau_sys(flat_tau, tolerance), axis=0),
        initial_state_inside=initial_inside,
        guaranteed_elapsed_time=max_guaranteed_elapsed_time(cell, bounds),
        max_elapsed_time=_max_elapsed_time(elapsed_time, inputs, cell),
        tolerance=float(tolerance),
    )

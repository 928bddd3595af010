"""ODE solvers for the trajectory-length study: SciPy's adaptive ones and fixed-step NumPy.

Variable-step solvers (the families of the paper's Fig. 3A) come from
``scipy.integrate`` and run with the original study's tolerances by default
(``rtol=1e-2, atol=1e-4``):

==========  ==================================================  ======================
name        method                                              paper / MATLAB
==========  ==================================================  ======================
``RK23``    Bogacki-Shampine Runge-Kutta 3(2)                   RK2(3), ``ode23``
``RK45``    Dormand-Prince Runge-Kutta 5(4)                     RK4(5), ``ode45``
``DOP853``  Dormand-Prince Runge-Kutta 8(5,3)                   --
``LSODA``   variable-order Adams, switches to BDF when stiff    ABM1(13), ``ode113``
``BDF``     implicit variable-order backward differentiation    TR-BDF2, ``ode23tb``
``Radau``   implicit Runge-Kutta Radau IIA (order 5)            TR-BDF2, ``ode23tb``
==========  ==================================================  ======================

SciPy has neither a pure Adams-Bashforth-Moulton method nor TR-BDF2 in ``solve_ivp``;
LSODA, BDF and Radau are the closest stand-ins. SciPy also measures the local error in
an RMS norm over the state where MATLAB uses the max norm, so equal tolerances are
somewhat looser here. Implicit methods receive the system's analytic sparse Jacobian.

Fixed-step solvers take one step per interval of the output grid:

* ``euler``: ``x <- x + h F(t, x)``.
* ``rk4``: the classical fourth-order Runge-Kutta step.
* ``fused``: the LTC paper's fused explicit/implicit Euler step (Eq. 3) for systems
  ``dx/dt = -decay * x + drive``: ``x <- (x + h drive) / (1 + h decay)``. For the LTC this
  is ``(x + h f A) / (1 + h (1/tau + f))``, for the CT-RNN ``(x + h f) / (1 + h / tau)``,
  and for the Neural ODE (no decay) it equals Euler.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Protocol

import numpy as np
from scipy import integrate, sparse

from liquidtime._validation import one_of, positive_float
from liquidtime.solvers.fused import fused_step
from liquidtime.solvers.runge_kutta import RK4_TABLEAU, explicit_runge_kutta

ADAPTIVE_SOLVERS: tuple[str, ...] = ("RK23", "RK45", "DOP853", "LSODA", "BDF", "Radau")
FIXED_STEP_SOLVERS: tuple[str, ...] = ("euler", "rk4", "fused")
SOLVERS: tuple[str, ...] = ADAPTIVE_SOLVERS + FIXED_STEP_SOLVERS
_IMPLICIT = ("LSODA", "BDF", "Radau")


class LinearDecaySystem(Protocol):
    """An ODE ``dx/dt = -decay(t, x) * x + drive(t, x)`` with a flat state of ``size``."""

    @property
    def size(self) -> int:
        """Length of the flat state ``y``."""

    @property
    def state_shape(self) -> tuple[int, ...]:
        """Shape of the unflattened state ``x``."""

    def vector_field(self, t: float, y: np.ndarray) -> np.ndarray:
        """Returns ``dy/dt`` for the flat state ``y``."""

    def jacobian(self, t: float, y: np.ndarray) -> sparse.spmatrix | np.ndarray:
        """Returns ``d(dy/dt)/dy``."""

    def coefficients(self, t: float, x: np.ndarray) -> tuple[np.ndarray | float, np.ndarray]:
        """Returns ``(decay, drive)`` for the state ``x`` of shape ``state_shape``."""


@dataclasses.dataclass(frozen=True)
class Integration:
    """The solution of one solver run on a fixed output grid.

    Attributes:
        times: Output times, shape ``(time,)``.
        states: Flat states at ``times``, shape ``(time, size)``; adaptive solvers fill
            them from their dense output (the interpolant of each accepted step).
        steps: Accepted solver steps on the whole interval.
        nfev: Evaluations of the vector field.
        njev: Evaluations of the Jacobian (0 for explicit methods).
        step_times: End times of the accepted steps, shape ``(steps,)``.
    """

    times: np.ndarray
    states: np.ndarray
    steps: int
    nfev: int
    njev: int
    step_times: np.ndarray


def integrate_system(
    system: LinearDecaySystem,
    times: np.ndarray,
    solver: str = "RK45",
    rtol: float = 1e-2,
    atol: float = 1e-4,
) -> Integration:
    """Integrates ``system`` from a zero state over ``[times[0], times[-1]]``.

    Args:
        system: The ODE, e.g. :class:`liquidtime.analysis.networks.RandomNetworks`.
        times: Increasing output times; fixed-step solvers step exactly on this grid.
        solver: One of :data:`SOLVERS`.
        rtol: Relative tolerance of adaptive solvers.
        atol: Absolute tolerance of adaptive solvers.

    Returns:
        The states at ``times`` and the solver's work counts.

    Raises:
        RuntimeError: If an adaptive solver fails (e.g. the step size underflows).
    """
    one_of("solver", solver, SOLVERS)
    rtol = positive_float("rtol", rtol)
    atol = positive_float("atol", atol)
    times = np.asarray(times, dtype=float)
    if times.ndim != 1 or times.size < 2 or np.any(np.diff(times) <= 0):
        raise ValueError(
            "Received an invalid value for argument `times`, expected a strictly increasing "
            f"1-D array of at least 2 times, got shape {times.shape}."
        )
    if solver in FIXED_STEP_SOLVERS:
        return _integrate_fixed(system, times, solver)
    return _integrate_adaptive(system, times, solver, rtol, atol)


def _dense(matrix: sparse.spmatrix | np.ndarray) -> np.ndarray:
    """Returns ``matrix`` as a dense array (LSODA takes no sparse Jacobian)."""
    if isinstance(matrix, np.ndarray):
        return matrix
    return matrix.toarray()


def _integrate_adaptive(
    system: LinearDecaySystem, times: np.ndarray, solver: str, rtol: float, atol: float
) -> Integration:
    """Steps a ``scipy.integrate.OdeSolver`` and samples its dense output on ``times``."""
    options: dict = {}
    if solver in ("BDF", "Radau"):
        options["jac"] = system.jacobian
    elif solver == "LSODA":
        options["jac"] = lambda t, y: _dense(system.jacobian(t, y))
    method = getattr(integrate, solver)(
        system.vector_field,
        times[0],
        np.zeros(system.size),
        times[-1],
        rtol=rtol,
        atol=atol,
        **options,
    )
    states = np.empty((times.size, system.size))
    states[0] = method.y
    filled = 1
    step_times = []
    while method.status == "running":
        message = method.step()
        if method.status == "failed":
            raise RuntimeError(f"Solver {solver} failed at t={method.t}: {message}")
        step_times.append(method.t)
        reached = int(np.searchsorted(times, method.t, side="right"))
        if reached > filled:
            states[filled:reached] = method.dense_output()(times[filled:reached]).T
            filled = reached
    return Integration(
        times=times,
        states=states,
        steps=len(step_times),
        nfev=int(method.nfev),
        njev=int(method.njev),
        step_times=np.asarray(step_times),
    )


def _at_stage_time(
    field: Callable[[float, np.ndarray], np.ndarray], t: float, h: float, node: float, x: np.ndarray
) -> np.ndarray:
    """``F(t + node h, x)``: a Runge-Kutta stage of a step from ``t`` of size ``h``."""
    return field(t + node * h, x)


def _integrate_fixed(system: LinearDecaySystem, times: np.ndarray, solver: str) -> Integration:
    """Euler, RK4 or the fused step, one step per interval of ``times``."""
    x = np.zeros(system.state_shape)
    states = np.empty((times.size, system.size))
    states[0] = x.ravel()
    stages = {"euler": 1, "rk4": 4, "fused": 1}[solver]

    def field(t: float, state: np.ndarray) -> np.ndarray:
        return system.vector_field(t, state.ravel()).reshape(system.state_shape)

    # An explicit step beyond its stability limit (h / tau too large) overflows; the
    # diverged states become inf/nan and are reported as such, without warnings.
    with np.errstate(over="ignore", invalid="ignore"):
        for i, (t, h) in enumerate(zip(times[:-1], np.diff(times)), start=1):
            if solver == "euler":
                x = x + h * field(t, x)
            elif solver == "rk4":
                x, _ = explicit_runge_kutta(
                    RK4_TABLEAU, functools.partial(_at_stage_time, field, t, h), x, h
                )
            else:
                decay, drive = system.coefficients(t, x)
                x = fused_step(x, decay, drive, h)
            states[i] = x.ravel()
    steps = times.size - 1
    return Integration(
        times=times,
        states=states,
        steps=steps,
        nfev=stages * steps,
        njev=0,
        step_times=times[1:].copy(),
    )

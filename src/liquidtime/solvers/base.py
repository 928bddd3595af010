"""The contract between continuous-time cells and ODE solvers.

Every continuous-time cell in liquidtime writes its dynamics in *decay-drive form*

    dx/dt = -a(x) * x + b(x),        a(x) >= 0,

where ``a`` and ``b`` may depend on the state, the current input and the parameters
(the cell closes over the input). The liquid time-constant of a neuron is 1 / a.
A solver only ever sees a :data:`VectorField` that returns ``(a, b)``; it never sees
the cell. This lets one fused (semi-implicit) solver, explicit Euler and the whole
explicit Runge-Kutta family serve every cell.
"""

from __future__ import annotations

import abc
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import keras
from keras import ops

from liquidtime._validation import one_of

VectorField = Callable[[Any], tuple[Any, Any]]
"""A function ``x -> (a, b)`` with ``dx/dt = -a * x + b``; shapes broadcast to ``x``."""


def time_derivative(field: VectorField, x: Any) -> Any:
    """Evaluates dx/dt = -a(x) x + b(x) for a decay-drive vector field.

    Args:
        field: The vector field, returning ``(a, b)``.
        x: The state, shape ``(batch, units)``.

    Returns:
        The time derivative, same shape as ``x``.
    """
    a, b = field(x)
    return b - a * x


@dataclass(frozen=True)
class SolveResult:
    """What a solver returns for one input step.

    Attributes:
        state: The state at the end of the step, shape ``(batch, units)``.
        num_steps: Sub-steps taken per sequence, shape ``(batch,)`` for adaptive
            solvers; the Python int ``ode_unfolds`` for fixed-step solvers.
        capped: For adaptive solvers, a boolean tensor of shape ``(batch,)`` that is
            True where the step cap was reached before the end of the interval (the
            remainder was then covered by one final step of the size left, without
            error control). Always False for fixed-step solvers.
        step_ratio: For solvers with a finite :attr:`Solver.stability_limit`, a
            ``(batch,)`` tensor: the largest ``h * a`` of any sub-step and unit,
            divided by that limit (above 1: a sub-step beyond the limit). None for
            solvers without a limit (``fused``, ``dopri5``) and when ``a`` is the
            constant 0 (the Neural ODE, which has no decay to amplify).
    """

    state: Any
    num_steps: Any
    capped: Any
    step_ratio: Any = None

    def status(self) -> Any:
        """The solver status per sequence, ``(batch, 2)``: ``[capped, step_ratio]``.

        Failures inside compiled code are values: the sequence layers carry this
        status out of their scan (the maximum over time steps) and turn it into a
        warning, an error or :attr:`~liquidtime.layers.ContinuousTimeRNN.solver_report`.
        Column 0 is 1 where the step cap was reached, column 1 the
        :attr:`step_ratio` (0 when there is none).
        """
        state = self.state
        batch = ops.shape(state)[0]
        zeros = ops.zeros((batch,), dtype=state.dtype)
        capped = zeros if self.capped is False else ops.cast(self.capped, state.dtype)
        ratio = zeros
        if self.step_ratio is not None:
            ratio = ops.cast(self.step_ratio, state.dtype)
            # NaN once the state is NaN (reported as such): keep the earlier steps' maximum.
            ratio = ops.where(ops.isnan(ratio), zeros, ratio)
        return ops.stop_gradient(ops.stack([capped, ratio], axis=-1))


class Solver(abc.ABC):
    """Integrates a decay-drive ODE over one input step of elapsed time ``dt``.

    Subclasses are registered as Keras-serializable objects, so a cell stores its
    solver in its config and a saved model reloads with the same solver.
    """

    name: str = ""
    order: int = 0
    adaptive: bool = False
    stability_limit: float = math.inf
    """The largest ``h * a`` of a sub-step for which the solver damps the decay.

    For ``dx/dt = -a x + b`` with ``a`` and ``b`` frozen over a sub-step of size
    ``h``, one step maps ``x - b/a`` to ``R(-h a) (x - b/a)``; the solver damps the
    deviation from the steady state while ``|R(-h a)| <= 1``. Beyond, the state
    oscillates with a growing amplitude and blows up (to 1e27 or NaN). ``inf`` for
    the fused solver (``R = 1 / (1 + h a)``) and for adaptive solvers, whose step
    control keeps the error (hence the growth) in check.
    """

    @property
    def can_fail(self) -> bool:
        """Whether the solver returns a status worth carrying (a step limit or a step cap)."""
        return self.adaptive or math.isfinite(self.stability_limit)

    @abc.abstractmethod
    def integrate(
        self, field: VectorField, x: Any, dt: Any, num_steps: int, clip: float | None = None
    ) -> SolveResult:
        """Advances ``x`` by elapsed time ``dt``.

        Args:
            field: The decay-drive vector field ``x -> (a, b)``; the input is held
                constant over the step, as in the LTC paper.
            x: Initial state, shape ``(batch, units)``.
            dt: Elapsed time, a Python float or a tensor broadcastable to ``x``
                (``(batch, 1)`` for irregular sampling); must be >= 0.
            num_steps: Sub-steps of size ``dt / num_steps`` (the cell's
                ``ode_unfolds``). Adaptive solvers use it only for the first trial step.
            clip: None, or ``c > 0``: the state is clipped to ``[-c, c]`` after every
                sub-step of a fixed-step solver (as the LTC paper's original code did),
                or at the end of the step for an adaptive solver.

        Returns:
            A :class:`SolveResult`.
        """

    def get_config(self) -> dict[str, Any]:
        """Returns the solver's constructor arguments."""
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Solver:
        """Creates a solver from :meth:`get_config`'s output."""
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class FixedStepSolver(Solver):
    """A solver that takes ``num_steps`` equal sub-steps per input step.

    With a finite :attr:`stability_limit`, every sub-step also measures ``h * a``
    at its start (from the ``a`` the step evaluates anyway) and the result's
    ``step_ratio`` is the largest ``h * a / stability_limit`` per sequence.
    """

    def integrate(
        self, field: VectorField, x: Any, dt: Any, num_steps: int, clip: float | None = None
    ) -> SolveResult:
        h = dt / num_steps
        ratio = None
        for _ in range(num_steps):
            new_x, decay = self.step_and_decay(field, x, h)
            no_decay = decay is None or (isinstance(decay, (int, float)) and decay == 0)
            if not no_decay and math.isfinite(self.stability_limit):
                step_ratio = ops.max(
                    ops.broadcast_to(h * decay, ops.shape(x)), axis=-1
                ) / self.stability_limit
                ratio = step_ratio if ratio is None else ops.maximum(ratio, step_ratio)
            x = new_x if clip is None else ops.clip(new_x, -clip, clip)
        return SolveResult(state=x, num_steps=num_steps, capped=False, step_ratio=ratio)

    @abc.abstractmethod
    def step(self, field: VectorField, x: Any, h: Any) -> Any:
        """Advances ``x`` by one sub-step of size ``h``."""

    def step_and_decay(self, field: VectorField, x: Any, h: Any) -> tuple[Any, Any]:
        """One sub-step and the decay ``a`` at its start (None if the step does not have it).

        Solvers with a finite :attr:`stability_limit` override this to return the
        ``a`` their first evaluation of ``field`` computed, at no extra cost.
        """
        return self.step(field, x, h), None


FAILURE_POLICIES = ("warn", "raise", "off")

_failure_policy = os.environ.get("LIQUIDTIME_SOLVER_FAILURES", "warn").strip().lower()
if _failure_policy not in FAILURE_POLICIES:
    _failure_policy = "warn"


class SolverFailureWarning(RuntimeWarning):
    """A solver missed its tolerance, stepped beyond its stability limit, or produced NaN/inf."""


class SolverFailureError(RuntimeError):
    """Raised (with the ``"raise"`` failure policy) where :class:`SolverFailureWarning` would warn."""


def failure_policy() -> str:
    """What the sequence layers do when a solver fails: ``"warn"`` (default), ``"raise"``, ``"off"``.

    A solver fails when ``dopri5`` reaches ``max_steps`` before the end of an input
    step, when an explicit solver takes a sub-step with ``h * a`` above its
    :attr:`Solver.stability_limit`, or when the state becomes NaN or infinite.
    ``"warn"`` counts the failures in the layer's report
    (``layer.read_solver_report()``) and warns once per layer and kind of failure,
    eagerly and from compiled functions; ``"raise"`` raises
    :class:`SolverFailureError` instead, eagerly and inside compiled functions
    when the function runs; ``"off"`` checks nothing (the layers' scans are then
    exactly those of a version without the checks). See ``docs/reliability.md``.
    Read when a function is traced; the environment variable
    ``LIQUIDTIME_SOLVER_FAILURES`` sets it at import.
    """
    return _failure_policy


def set_failure_policy(policy: str) -> None:
    """Sets :func:`failure_policy`.

    Args:
        policy: ``"warn"``, ``"raise"`` or ``"off"``.
    """
    global _failure_policy
    one_of("policy", policy, FAILURE_POLICIES)
    _failure_policy = policy



def register_solver(cls: type[Solver]) -> type[Solver]:
    """Class decorator: registers a solver for Keras serialization under ``liquidtime``."""
    return keras.saving.register_keras_serializable(package="liquidtime")(cls)

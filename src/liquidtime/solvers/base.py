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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import keras

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
    """

    state: Any
    num_steps: Any
    capped: Any


class Solver(abc.ABC):
    """Integrates a decay-drive ODE over one input step of elapsed time ``dt``.

    Subclasses are registered as Keras-serializable objects, so a cell stores its
    solver in its config and a saved model reloads with the same solver.
    """

    name: str = ""
    order: int = 0
    adaptive: bool = False

    @abc.abstractmethod
    def integrate(self, field: VectorField, x: Any, dt: Any, num_steps: int) -> SolveResult:
        """Advances ``x`` by elapsed time ``dt``.

        Args:
            field: The decay-drive vector field ``x -> (a, b)``; the input is held
                constant over the step, as in the LTC paper.
            x: Initial state, shape ``(batch, units)``.
            dt: Elapsed time, a Python float or a tensor broadcastable to ``x``
                (``(batch, 1)`` for irregular sampling); must be >= 0.
            num_steps: Sub-steps of size ``dt / num_steps`` (the cell's
                ``ode_unfolds``). Adaptive solvers use it only for the first trial step.

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
    """A solver that takes ``num_steps`` equal sub-steps per input step."""

    def integrate(self, field: VectorField, x: Any, dt: Any, num_steps: int) -> SolveResult:
        h = dt / num_steps
        for _ in range(num_steps):
            x = self.step(field, x, h)
        return SolveResult(state=x, num_steps=num_steps, capped=False)

    @abc.abstractmethod
    def step(self, field: VectorField, x: Any, h: Any) -> Any:
        """Advances ``x`` by one sub-step of size ``h``."""



def register_solver(cls: type[Solver]) -> type[Solver]:
    """Class decorator: registers a solver for Keras serialization under ``liquidtime``."""
    return keras.saving.register_keras_serializable(package="liquidtime")(cls)

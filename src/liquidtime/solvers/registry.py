"""Look-up of solvers by name."""

from __future__ import annotations

from typing import Any

import keras

from liquidtime.solvers.base import Solver
from liquidtime.solvers.euler import EulerSolver
from liquidtime.solvers.fused import FusedSolver
from liquidtime.solvers.runge_kutta import Dopri5Solver, RK4Solver

SOLVERS: dict[str, type[Solver]] = {
    cls.name: cls for cls in (FusedSolver, EulerSolver, RK4Solver, Dopri5Solver)
}


def get_solver(identifier: str | Solver | dict[str, Any], **options: Any) -> Solver:
    """Returns a solver from a name, an instance or a serialized config.

    Args:
        identifier: One of ``"fused"``, ``"euler"``, ``"rk4"``, ``"dopri5"``, a
            :class:`Solver` instance, or the dict that Keras serialization produced.
        **options: Constructor options for a solver given by name (``rtol``,
            ``atol``, ``max_steps`` for ``"dopri5"``).

    Returns:
        A :class:`Solver`.

    Raises:
        ValueError: For an unknown name, or an option the solver does not take.
    """
    if isinstance(identifier, Solver):
        if options:
            raise ValueError(
                f"Options {sorted(options)} cannot be combined with a solver instance; "
                "pass them to the solver's constructor instead."
            )
        return identifier
    if isinstance(identifier, dict):
        return keras.saving.deserialize_keras_object(identifier)
    if not isinstance(identifier, str) or identifier.lower() not in SOLVERS:
        raise ValueError(
            "Received an invalid value for argument `solver`, expected one of "
            f"{sorted(SOLVERS)} or a `Solver` instance, got {identifier!r}."
        )
    cls = SOLVERS[identifier.lower()]
    accepted = set(cls().get_config())
    unknown = set(options) - accepted
    if unknown:
        raise ValueError(
            f"Solver {cls.name!r} does not take the option(s) {sorted(unknown)}; it "
            f"accepts {sorted(accepted) or 'no options'}."
        )
    return cls(**options)

"""Explicit (forward) Euler."""

from __future__ import annotations

from typing import Any

from liquidtime.solvers.base import FixedStepSolver, VectorField, register_solver, time_derivative


@register_solver
class EulerSolver(FixedStepSolver):
    """Explicit Euler: ``x <- x + h * (-a(x) x + b(x))``.

    First order. Stable only while ``h * a < 2``; with the stiff dynamics of an LTC
    (large ``a`` when the synaptic drive is strong) it can oscillate and diverge,
    which is what the fused solver avoids.
    """

    name = "euler"
    order = 1

    def step(self, field: VectorField, x: Any, h: Any) -> Any:
        return x + h * time_derivative(field, x)

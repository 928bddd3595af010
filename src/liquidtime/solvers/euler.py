"""Explicit (forward) Euler."""

from __future__ import annotations

from typing import Any

from liquidtime.solvers.base import FixedStepSolver, VectorField, register_solver


@register_solver
class EulerSolver(FixedStepSolver):
    """Explicit Euler: ``x <- x + h * (-a(x) x + b(x))``.

    First order. Stable only while ``h * a <= 2`` (``R(-z) = 1 - z``, its
    :attr:`stability_limit`); with the stiff dynamics of an LTC (large ``a`` when
    the synaptic drive is strong) it can oscillate and diverge, which is what the
    fused solver avoids. It keeps Theorem 2's envelope only while ``h * a <= 1``
    (see :func:`liquidtime.bounds.max_guaranteed_elapsed_time`).
    """

    name = "euler"
    order = 1
    stability_limit = 2.0

    def step(self, field: VectorField, x: Any, h: Any) -> Any:
        return self.step_and_decay(field, x, h)[0]

    def step_and_decay(self, field: VectorField, x: Any, h: Any) -> tuple[Any, Any]:
        a, b = field(x)
        return x + h * (b - a * x), a

"""The LTC paper's fused ODE solver (Hasani et al., 2021, Eq. 2-3, Algorithm 1)."""

from __future__ import annotations

from typing import Any

from liquidtime.solvers.base import FixedStepSolver, VectorField, register_solver


@register_solver
class FusedSolver(FixedStepSolver):
    """The fused explicit-implicit Euler step of the LTC paper (Eq. 3).

    The paper's Eq. 2 evaluates ``x`` implicitly where it appears *linearly* in the
    vector field and explicitly everywhere else. In decay-drive form
    ``dx/dt = -a(x) x + b(x)`` that gives, for a sub-step of size ``h``,

        x <- (x + h * b(x)) / (1 + h * a(x)).

    For the dense LTC (Eq. 1), ``a = 1/tau + f`` and ``b = f * A``, which is exactly
    Eq. 3. With ``a >= 0`` and ``b / a`` bounded, the new state is a convex
    combination of the old state and the steady state ``b / a``: it stays in the
    envelope of Theorem 2 for any ``h > 0`` (unconditionally stable).

    First order. Not to be confused with the symplectic "semi-implicit Euler"
    method of Hamiltonian mechanics.
    """

    name = "fused"
    order = 1

    def step(self, field: VectorField, x: Any, h: Any) -> Any:
        a, b = field(x)
        return (x + h * b) / (1.0 + h * a)

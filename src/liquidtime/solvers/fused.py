"""The LTC paper's fused ODE solver (Hasani et al., 2021, Eq. 2-3, Algorithm 1)."""

from __future__ import annotations

from typing import Any

from liquidtime.solvers.base import FixedStepSolver, VectorField, register_solver


def fused_step(x: Any, decay: Any, drive: Any, h: Any) -> Any:
    """The fused step ``x <- (x + h b) / (1 + h a)`` of ``dx/dt = -a x + b`` (Eq. 3).

    The one definition of the step: :class:`FusedSolver`, the synaptic LTC's
    unfolds kernel and the NumPy integrators of the expressivity study call it.

    Args:
        x: The state.
        decay: ``a`` at ``x`` (broadcastable to ``x``), ``>= 0`` for stability.
        drive: ``b`` at ``x``.
        h: The step size (a float or a tensor broadcastable to ``x``).

    Returns:
        The state after the step; any array type with arithmetic operators.
    """
    return (x + h * drive) / (1.0 + h * decay)


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
        return fused_step(x, a, b, h)

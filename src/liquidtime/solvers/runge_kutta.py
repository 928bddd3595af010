"""Explicit Runge-Kutta methods as Butcher tableaus plus one generic step.

References:
    Hairer, Norsett & Wanner, *Solving Ordinary Differential Equations I* (1993),
    Sections II.1 and II.4 (classic RK4; step-size control).
    Dormand & Prince, "A family of embedded Runge-Kutta formulae",
    J. Comput. Appl. Math. 6 (1980) 19-26 (the 5(4) pair, as in scipy's RK45).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from keras import ops

from liquidtime._validation import positive_float, positive_int
from liquidtime.solvers.base import (
    FixedStepSolver,
    Solver,
    SolveResult,
    VectorField,
    register_solver,
    time_derivative,
)


@dataclass(frozen=True)
class ButcherTableau:
    """Coefficients of an explicit Runge-Kutta method.

    Attributes:
        c: Nodes, one per stage.
        a: Strictly lower-triangular coupling, ``a[i]`` has ``i`` entries.
        b: Weights of the propagated solution.
        b_error: ``b - b_hat`` for an embedded pair (error estimate), or None.
        order: Order of the propagated solution.
    """

    c: tuple[float, ...]
    a: tuple[tuple[float, ...], ...]
    b: tuple[float, ...]
    order: int
    b_error: tuple[float, ...] | None = None

    @property
    def num_stages(self) -> int:
        return len(self.b)


RK4_TABLEAU = ButcherTableau(
    c=(0.0, 0.5, 0.5, 1.0),
    a=((), (0.5,), (0.0, 0.5), (0.0, 0.0, 1.0)),
    b=(1 / 6, 1 / 3, 1 / 3, 1 / 6),
    order=4,
)

_DOPRI5_B = (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0)
_DOPRI5_B_HAT = (5179 / 57600, 0.0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40)

DOPRI5_TABLEAU = ButcherTableau(
    c=(0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0),
    a=(
        (),
        (1 / 5,),
        (3 / 40, 9 / 40),
        (44 / 45, -56 / 15, 32 / 9),
        (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
        (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
        _DOPRI5_B[:6],
    ),
    b=_DOPRI5_B,
    order=5,
    b_error=tuple(b - bh for b, bh in zip(_DOPRI5_B, _DOPRI5_B_HAT)),
)


def runge_kutta_step(
    tableau: ButcherTableau, field: VectorField, x: Any, h: Any, first_stage: Any = None
) -> tuple[Any, Any | None]:
    """One explicit Runge-Kutta step of an autonomous decay-drive ODE.

    :func:`explicit_runge_kutta` with ``F(x) = -a(x) x + b(x)``.

    Args:
        tableau: The method.
        field: The decay-drive vector field.
        x: State, shape ``(batch, units)``.
        h: Step size, a float or a tensor broadcastable to ``x``.
        first_stage: ``F(x)`` if the caller has already evaluated it (else None).

    Returns:
        ``(x_new, error)``; ``error`` is None for a tableau without an embedded pair.
    """
    return explicit_runge_kutta(
        tableau, lambda _, x_stage: time_derivative(field, x_stage), x, h, first_stage
    )


def explicit_runge_kutta(
    tableau: ButcherTableau,
    derivative: Callable[[float, Any], Any],
    x: Any,
    h: Any,
    first_stage: Any = None,
) -> tuple[Any, Any | None]:
    """One explicit Runge-Kutta step, the one definition every RK solver here calls.

    k_i = F(c_i, x + h * sum_j a_ij k_j),  x_new = x + h * sum_i b_i k_i,
    error = h * sum_i (b_i - b_hat_i) k_i  (embedded pairs only).

    Args:
        tableau: The method.
        derivative: ``F(c, x)``: the time derivative at the state ``x`` and the stage's
            node ``c`` (the fraction of the step where the stage lies; an autonomous
            ODE ignores it).
        x: The state (a tensor, or a NumPy array for the NumPy integrators).
        h: Step size, a float or a tensor broadcastable to ``x``.
        first_stage: ``F(0, x)`` if the caller has already evaluated it (else None).

    Returns:
        ``(x_new, error)``; ``error`` is None for a tableau without an embedded pair.
    """
    stages: list[Any] = []
    for node, coupling in zip(tableau.c, tableau.a):
        if not stages and first_stage is not None:
            stages.append(first_stage)
            continue
        x_stage = x
        for a_ij, k_j in zip(coupling, stages):
            if a_ij != 0.0:
                x_stage = x_stage + (h * a_ij) * k_j
        stages.append(derivative(node, x_stage))
    x_new = x + h * _weighted_sum(tableau.b, stages)
    if tableau.b_error is None:
        return x_new, None
    return x_new, h * _weighted_sum(tableau.b_error, stages)


def _weighted_sum(weights: tuple[float, ...], stages: list[Any]) -> Any:
    terms = [w * k for w, k in zip(weights, stages) if w != 0.0]
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


@register_solver
class RK4Solver(FixedStepSolver):
    """The classic fourth-order Runge-Kutta method with fixed sub-steps.

    Its stability function ``R(-z) = 1 - z + z^2/2 - z^3/6 + z^4/24`` stays in
    ``(0, 1]`` for ``0 <= z = h a <= 2.785`` (Hairer & Wanner II, Section IV.2), its
    :attr:`stability_limit`.
    """

    name = "rk4"
    order = 4
    stability_limit = 2.785

    def step(self, field: VectorField, x: Any, h: Any) -> Any:
        return self.step_and_decay(field, x, h)[0]

    def step_and_decay(self, field: VectorField, x: Any, h: Any) -> tuple[Any, Any]:
        a, b = field(x)
        return runge_kutta_step(RK4_TABLEAU, field, x, h, first_stage=b - a * x)[0], a


@register_solver
class Dopri5Solver(Solver):
    """Adaptive Dormand-Prince 5(4) with per-sequence step-size control.

    Each sequence in the batch has its own step size and clock, so irregularly
    sampled batches are integrated exactly as each sequence would be alone. A trial
    step is accepted when the RMS over units of ``error / (atol + rtol * max(|x|,
    |x_new|))`` is at most 1; the next step is scaled by
    ``clip(0.9 * norm ** (-1/5), 0.2, 10)`` (Hairer et al. II.4). The first trial
    step is ``dt / num_steps``.

    The loop has a fixed trip count ``max_steps`` so that it is reverse-mode
    differentiable on every backend; sequences that finish early stop changing.
    Failures inside compiled code are values: where the cap is reached before the
    end of the interval, the remainder is covered by one final step without error
    control and ``SolveResult.capped`` is True. Raise ``max_steps`` or loosen
    ``rtol``/``atol`` if that happens. Step sizes are treated as constants for
    differentiation (as in diffrax).

    Args:
        rtol: Relative tolerance, > 0.
        atol: Absolute tolerance, > 0.
        max_steps: Cap on trial steps per input step, a positive integer.
    """

    name = "dopri5"
    order = 5
    adaptive = True

    def __init__(self, rtol: float = 1e-3, atol: float = 1e-6, max_steps: int = 64):
        self.rtol = positive_float("rtol", rtol)
        self.atol = positive_float("atol", atol)
        self.max_steps = positive_int("max_steps", max_steps)

    def integrate(
        self, field: VectorField, x: Any, dt: Any, num_steps: int, clip: float | None = None
    ) -> SolveResult:
        dtype = x.dtype
        batch = ops.shape(x)[0]
        dt = ops.broadcast_to(ops.cast(dt, dtype), (batch, 1))
        t0 = ops.zeros((batch, 1), dtype=dtype)
        steps0 = ops.zeros((batch,), dtype="int32")

        def trial(_, carry):
            t, h, x, steps = carry
            remaining = dt - t
            active = remaining > 0
            last = h >= remaining
            h_try = ops.where(last, remaining, h)
            x_new, error = runge_kutta_step(DOPRI5_TABLEAU, field, x, h_try)
            scale = self.atol + self.rtol * ops.maximum(ops.abs(x), ops.abs(x_new))
            norm = ops.sqrt(ops.mean(ops.square(error / scale), axis=-1, keepdims=True))
            norm = ops.stop_gradient(norm)
            accept = ops.logical_and(norm <= 1.0, active)
            x = ops.where(accept, x_new, x)
            t = ops.where(accept, ops.where(last, dt, t + h_try), t)
            safe_norm = ops.maximum(norm, 1e-10)
            factor = ops.clip(0.9 * ops.power(safe_norm, -0.2), 0.2, 10.0)
            h = ops.stop_gradient(ops.where(active, h_try * factor, h))
            steps = steps + ops.cast(ops.squeeze(accept, -1), "int32")
            return t, h, x, steps

        t, _, x, steps = ops.fori_loop(
            0, self.max_steps, trial, (t0, ops.stop_gradient(dt / num_steps), x, steps0)
        )
        remaining = dt - t
        capped = remaining > 0
        x_last, _ = runge_kutta_step(DOPRI5_TABLEAU, field, x, remaining)
        x = ops.where(capped, x_last, x)
        if clip is not None:
            x = ops.clip(x, -clip, clip)
        return SolveResult(state=x, num_steps=steps, capped=ops.squeeze(capped, -1))

    def get_config(self) -> dict[str, Any]:
        return {"rtol": self.rtol, "atol": self.atol, "max_steps": self.max_steps}

"""ODE solvers for decay-drive vector fields ``dx/dt = -a(x) x + b(x)``."""

from liquidtime.solvers.base import (
    FAILURE_POLICIES,
    Solver,
    SolveResult,
    SolverFailureError,
    SolverFailureWarning,
    VectorField,
    failure_policy,
    set_failure_policy,
    time_derivative,
)
from liquidtime.solvers.euler import EulerSolver
from liquidtime.solvers.fused import FusedSolver
from liquidtime.solvers.registry import SOLVERS, get_solver
from liquidtime.solvers.runge_kutta import (
    DOPRI5_TABLEAU,
    RK4_TABLEAU,
    ButcherTableau,
    Dopri5Solver,
    RK4Solver,
    runge_kutta_step,
)

__all__ = [
    "ButcherTableau",
    "DOPRI5_TABLEAU",
    "Dopri5Solver",
    "EulerSolver",
    "FAILURE_POLICIES",
    "FusedSolver",
    "RK4Solver",
    "RK4_TABLEAU",
    "SOLVERS",
    "SolveResult",
    "Solver",
    "SolverFailureError",
    "SolverFailureWarning",
    "VectorField",
    "failure_policy",
    "get_solver",
    "runge_kutta_step",
    "set_failure_policy",
    "time_derivative",
]

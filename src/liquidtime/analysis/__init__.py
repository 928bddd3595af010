"""Analyses of continuous-time networks: trajectory-length expressivity (LTC paper, Sec. 5).

NumPy and SciPy arrays throughout; the fixed-step integrators call the one definition
of each step in ``liquidtime.solvers`` (:func:`~liquidtime.solvers.fused.fused_step`,
:func:`~liquidtime.solvers.runge_kutta.explicit_runge_kutta`), plain arithmetic that
runs on NumPy arrays as on tensors.
"""

from __future__ import annotations

from liquidtime.analysis.expressivity import TrajectoryLengths, measure_trajectory_lengths
from liquidtime.analysis.integration import (
    ADAPTIVE_SOLVERS,
    FIXED_STEP_SOLVERS,
    SOLVERS,
    Integration,
    LinearDecaySystem,
    integrate_system,
)
from liquidtime.analysis.length_bounds import (
    ctrnn_lower_bound,
    ltc_lower_bound,
    neural_ode_lower_bound,
)
from liquidtime.analysis.networks import (
    ACTIVATIONS,
    MODELS,
    NetworkParameters,
    RandomNetworks,
    activate,
    sample_parameters,
)
from liquidtime.analysis.plots import plot_latent_trajectories, plot_length_boxes
from liquidtime.analysis.sweeps import (
    SWEEP_VALUES,
    SWEEPS,
    SweepConfig,
    SweepPoint,
    SweepResult,
    lower_bounds,
    measure_point,
    run_sweep,
    run_sweeps,
    summary_markdown,
    table_rows,
    write_table,
)
from liquidtime.analysis.trajectory import (
    PiecewiseLinearInput,
    arc_length,
    circle_input,
    latent_trajectory,
    principal_components,
)

__all__ = [
    "ACTIVATIONS",
    "ADAPTIVE_SOLVERS",
    "FIXED_STEP_SOLVERS",
    "MODELS",
    "SOLVERS",
    "SWEEPS",
    "SWEEP_VALUES",
    "Integration",
    "LinearDecaySystem",
    "NetworkParameters",
    "PiecewiseLinearInput",
    "RandomNetworks",
    "SweepConfig",
    "SweepPoint",
    "SweepResult",
    "TrajectoryLengths",
    "activate",
    "arc_length",
    "circle_input",
    "ctrnn_lower_bound",
    "integrate_system",
    "latent_trajectory",
    "lower_bounds",
    "ltc_lower_bound",
    "measure_point",
    "measure_trajectory_lengths",
    "neural_ode_lower_bound",
    "plot_latent_trajectories",
    "plot_length_boxes",
    "principal_components",
    "run_sweep",
    "run_sweeps",
    "sample_parameters",
    "summary_markdown",
    "table_rows",
    "write_table",
]

"""Stability guarantees of LTC networks as code: the LTC paper's Theorems 1 and 2.

* :func:`theorem_bounds`: per-neuron range of the liquid time constant
  (Theorem 1) and state envelope (Theorem 2) of a built dense or synaptic LTC cell.
* :func:`liquid_time_constants` / :func:`state_and_time_constants`: ``tau_sys``
  (and the states) of a layer over a batch of sequences, ``(batch, time, units)``.
* :func:`check_bounds`: a run's observed ranges beside the theorems' ones.
* :class:`RangeRegularizer`, :class:`TimeConstantRangeRegularizer`: Keras
  regularizers that keep the envelope and the ``tau_sys`` range in a box.
* :class:`BoundsMonitor`: a callback that checks the theorems every epoch.

See ``docs/stability.md`` for the derivations and what the tests show.
"""

from liquidtime.bounds.monitor import (
    BoundsMonitor,
    BoundsViolationError,
    BoundsViolationWarning,
    find_ltc_layers,
    plot_checks,
)
from liquidtime.bounds.regularizers import RangeRegularizer, TimeConstantRangeRegularizer
from liquidtime.bounds.report import BoundsCheck, check_bounds
from liquidtime.bounds.theorems import (
    ACTIVATION_RANGES,
    TheoremBounds,
    activation_range,
    max_guaranteed_elapsed_time,
    theorem_bounds,
)
from liquidtime.bounds.trajectories import liquid_time_constants, state_and_time_constants

__all__ = [
    "ACTIVATION_RANGES",
    "BoundsCheck",
    "BoundsMonitor",
    "BoundsViolationError",
    "BoundsViolationWarning",
    "RangeRegularizer",
    "TheoremBounds",
    "TimeConstantRangeRegularizer",
    "activation_range",
    "check_bounds",
    "find_ltc_layers",
    "liquid_time_constants",
    "max_guaranteed_elapsed_time",
    "plot_checks",
    "state_and_time_constants",
    "theorem_bounds",
]

"""The names that the command line's options offer, importable without Keras.

Building the parser (``liquidtime --help``) must not start a backend, so the
choices of the options live here rather than in the modules that use them, which
import Keras. Each constant equals the library's own (``tests/test_cli_help.py``
checks it):

* :data:`MODEL_NAMES`, :data:`PRESETS`: ``liquidtime.models``;
* :data:`PAPER_COUNTERPART`, :data:`PROGRESS_MODES`: ``liquidtime.experiments.runner``;
* :data:`NCPS_MODELS`: ``liquidtime.experiments.ncps_runner``;
* :data:`RESULTS_FILE`: ``liquidtime.experiments.records``;
* :data:`PLOT_X_AXES`: ``liquidtime.experiments.plots.X_AXES``;
* :data:`SOLVER_NAMES`: the keys of ``liquidtime.solvers.SOLVERS``;
* :data:`EXPORT_FORMATS`, :data:`EXPORT_FUNCTIONS`: ``liquidtime.deploy.FORMATS``, ``FUNCTIONS``;
* ``EXPRESSIVITY_*``: the expressivity study's names in ``liquidtime.analysis``.
"""

from __future__ import annotations

MODEL_NAMES = (
    "ltc", "ltc-dense", "ltc-ncp", "cfc", "cfc-ncp", "ctrnn", "liquid-neuron", "node", "ctgru",
    "lstm",
)
PRESETS = ("default", "paper")
PAPER_COUNTERPART = {
    "ltc": "ltc", "ltc-dense": "ltc", "ltc-ncp": "ltc", "cfc": "lstm", "cfc-ncp": "lstm",
    "ctrnn": "ctrnn", "liquid-neuron": "ctrnn", "node": "node", "ctgru": "ctgru", "lstm": "lstm",
    "ncps-ltc": "ltc", "ncps-cfc": "lstm",
}
PROGRESS_MODES = ("auto", "bar", "epoch", "none")
NCPS_MODELS = ("ncps-ltc", "ncps-cfc")
RESULTS_FILE = "results.jsonl"
PLOT_X_AXES = ("epoch", "time")
SOLVER_NAMES = ("fused", "euler", "rk4", "dopri5")
EXPORT_FORMATS = ("onnx", "tf_saved_model", "litert", "stablehlo")
EXPORT_FUNCTIONS = ("step", "sequence")

# The expressivity study (liquidtime.analysis: SOLVERS of .integration; ACTIVATIONS,
# HARD_TANH_FLAVOURS, LTC_DECAYS, MODELS of .networks; SWEEPS, SWEEP_VALUES of .sweeps).
EXPRESSIVITY_SOLVERS = ("RK23", "RK45", "DOP853", "LSODA", "BDF", "Radau", "euler", "rk4", "fused")
EXPRESSIVITY_ACTIVATIONS = ("tanh", "sigmoid", "relu", "hard_tanh")
EXPRESSIVITY_HARD_TANH_FLAVOURS = ("elementwise", "original")
EXPRESSIVITY_LTC_DECAYS = ("signed", "abs")
EXPRESSIVITY_MODELS = ("ltc", "ctrnn", "node")
EXPRESSIVITY_SWEEPS = ("width", "sigma_w", "solver", "depth", "activation")
EXPRESSIVITY_SWEEP_VALUES: dict[str, tuple[int | float | str, ...]] = {
    "width": (10, 25, 50, 100, 150, 200),
    "sigma_w": (1.0, 2.0, 4.0, 8.0, 16.0, 32.0),
    "solver": ("RK23", "RK45", "LSODA", "BDF", "Radau", "euler", "rk4", "fused"),
    "depth": (1, 2, 3, 4),
    "activation": ("tanh", "sigmoid", "relu", "hard_tanh"),
}

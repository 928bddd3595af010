"""The paper's tables at the paper's protocol: which models, presets and seeds each task runs.

:func:`reproduction_configs` lists the runs of ``liquidtime reproduce --task TASK``:
200 epochs (the paper's), the task's paper batch size and learning rates, and

* on every task but power and smnist, with 5 seeds: the LTC under both presets
  (``paper``, the original code's settings, and ``default``, the layer's own), the
  LSTM, the CfC and ncps's LTC (``ncps-ltc``, trained under our protocol); with 3
  seeds: the dense LTC, CT-RNN, Neural ODE and CT-GRU;
* on power and smnist (about 2 hours per LTC run on 2 cores): the LTC under both
  presets, the LSTM and the CfC with 3 seeds.

Every model but the second LTC runs with the ``paper`` preset, which is the
original code's settings for the baselines and the layer's defaults for the models
the paper did not have (the CfC, the dense LTC); ncps's LTC always takes ncps's own
defaults. The runs are ordered seed by seed over the
models, so that an interrupted campaign has every model's first seeds.

:func:`ablation_configs` adds the LTC ablations behind the ``paper`` preset:
each of its three settings that differ from the layer's defaults (positivity by
clipping, the original initial values, the state as output without an affine map)
switched to the default one at a time, and the reverse from the ``default``
preset.
"""

from __future__ import annotations

import dataclasses
import json

from liquidtime.experiments.runner import RunConfig
from liquidtime.models import PAPER_LTC_INITIALIZATION

LONG_TASKS: tuple[str, ...] = ("power", "smnist")
"""Tasks whose runs take hours on a CPU: fewer models and seeds."""


@dataclasses.dataclass(frozen=True)
class PlannedRuns:
    """One model under one preset, over a number of seeds.

    Attributes:
        model: A model name of :class:`~liquidtime.experiments.runner.RunConfig`.
        preset: ``"paper"`` or ``"default"``.
        seeds: How many seeds (0, 1, ...).
        layer_options: Layer arguments replacing the preset's (ablations).
    """

    model: str
    preset: str
    seeds: int
    layer_options: tuple[tuple[str, str], ...] = ()


def reproduction_plan(task: str) -> list[PlannedRuns]:
    """The models, presets and seeds of the paper's protocol for ``task``."""
    if task in LONG_TASKS:
        return [
            PlannedRuns("ltc", "paper", 3),
            PlannedRuns("ltc", "default", 3),
            PlannedRuns("lstm", "paper", 3),
            PlannedRuns("cfc", "paper", 3),
        ]
    return [
        PlannedRuns("ltc", "paper", 5),
        PlannedRuns("ltc", "default", 5),
        PlannedRuns("lstm", "paper", 5),
        PlannedRuns("cfc", "paper", 5),
        PlannedRuns("ncps-ltc", "paper", 5),
        PlannedRuns("ltc-dense", "paper", 3),
        PlannedRuns("ctrnn", "paper", 3),
        PlannedRuns("node", "paper", 3),
        PlannedRuns("ctgru", "paper", 3),
    ]


def _option(name: str, value: object) -> tuple[str, str]:
    return name, json.dumps(value, sort_keys=True)


ABLATIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "paper": (
        _option("positivity", "softplus"),
        _option("initialization_ranges", None),
        _option("output_mapping", "affine"),
    ),
    "default": (
        _option("positivity", "clip"),
        _option("initialization_ranges", PAPER_LTC_INITIALIZATION),
        _option("output_mapping", "none"),
    ),
}
"""Per preset, the LTC settings switched one at a time to the other preset's value."""


def ablation_plan(seeds: int = 5) -> list[PlannedRuns]:
    """The LTC ablations: each preset with one of its settings switched (see :data:`ABLATIONS`)."""
    return [
        PlannedRuns("ltc", preset, seeds, (option,))
        for preset, options in ABLATIONS.items()
        for option in options
    ]


def _configs(
    task: str,
    plan: list[PlannedRuns],
    *,
    seeds: int | None,
    epochs: int | None,
    batch_size: int | None,
    models: list[str] | None,
    max_train_windows: int | None,
    protocol: str,
) -> list[RunConfig]:
    chosen = [entry for entry in plan if models is None or entry.model in models]
    most = max((seeds or entry.seeds for entry in chosen), default=0)
    return [
        RunConfig(
            task=task,
            model=entry.model,
            seed=seed,
            protocol=protocol,
            preset=entry.preset,
            epochs=epochs,
            batch_size=batch_size,
            max_train_windows=max_train_windows,
            layer_options=entry.layer_options,
        )
        for seed in range(most)
        for entry in chosen
        if seed < (seeds or entry.seeds)
    ]


def reproduction_configs(
    task: str,
    *,
    seeds: int | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    models: list[str] | None = None,
    max_train_windows: int | None = None,
    protocol: str = "corrected",
    ablations: bool = False,
) -> list[RunConfig]:
    """Every run of the paper's protocol for ``task``, seed by seed over the models.

    Args:
        task: A task name.
        seeds: Seeds per model instead of the plan's (quick checks).
        epochs: Epochs instead of the paper's 200 (quick checks).
        batch_size: Batch size instead of the paper's (quick checks on small data).
        models: Only these models of the plan.
        max_train_windows: Train on a fixed subset of this many windows (quick checks).
        protocol: ``"corrected"`` or ``"original"``.
        ablations: Also the LTC ablations of :func:`ablation_plan`.

    Returns:
        The run configurations, in the order they should run.
    """
    plan = reproduction_plan(task) + (ablation_plan() if ablations else [])
    return _configs(
        task, plan, seeds=seeds, epochs=epochs, batch_size=batch_size, models=models,
        max_train_windows=max_train_windows, protocol=protocol,
    )

"""The sweeps of the LTC paper's Fig. 3 and their results table.

Each sweep varies one setting of a base :class:`SweepConfig` over the values of
:data:`SWEEP_VALUES` and measures every model at every value with
:func:`liquidtime.analysis.expressivity.measure_trajectory_lengths`. All models at a
value share the same random draws, and so do all values of the ``sigma_w``, ``solver``
and ``activation`` sweeps (common random numbers), so differences between them are not
sampling noise.
"""

from __future__ import annotations

import concurrent.futures
import csv
import dataclasses
import multiprocessing
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from liquidtime._validation import int_at_least, non_negative_float, one_of, positive_float, positive_int
from liquidtime.analysis.expressivity import TrajectoryLengths, measure_trajectory_lengths
from liquidtime.analysis.integration import SOLVERS
from liquidtime.analysis.length_bounds import (
    ctrnn_lower_bound,
    ltc_lower_bound,
    neural_ode_lower_bound,
)
from liquidtime.analysis.networks import (
    ACTIVATIONS,
    HARD_TANH_FLAVOURS,
    LTC_DECAYS,
    MODEL_NAMES,
    MODELS,
    Activation,
    HardTanh,
    LTCDecay,
    Model,
    sample_parameters,
)

SWEEP_VALUES: dict[str, tuple] = {
    "width": (10, 25, 50, 100, 150, 200),
    "sigma_w": (1.0, 2.0, 4.0, 8.0, 16.0, 32.0),
    "solver": ("RK23", "RK45", "LSODA", "BDF", "Radau", "euler", "rk4", "fused"),
    "depth": (1, 2, 3, 4),
    "activation": ACTIVATIONS,
}
SWEEPS: tuple[str, ...] = tuple(SWEEP_VALUES)


@dataclasses.dataclass(frozen=True)
class SweepConfig:
    """The base settings of a sweep; the swept setting replaces its field.

    Attributes:
        width: Neurons per layer ``k``.
        depth: Number of layers ``d``.
        sigma_w: Weight spread, ``W ~ N(0, sigma_w^2 / fan_in)``.
        sigma_b: Bias spread, ``b ~ N(0, sigma_b^2)``.
        tau_min: Floor of the time constants ``tau = max(|N(0, 1)|, tau_min)`` (see
            :func:`liquidtime.analysis.networks.sample_parameters`).
        activation: ``"tanh"``, ``"sigmoid"``, ``"relu"`` or ``"hard_tanh"``.
        solver: An ODE solver name from :data:`liquidtime.analysis.integration.SOLVERS`.
        hard_tanh: ``"elementwise"`` or ``"original"`` (see
            :func:`liquidtime.analysis.networks.activate`).
        ltc_decay: ``"signed"`` (Eq. 1) or ``"abs"`` (the original code's).
        models: The models to measure.
        draws: Random networks per model and value.
        seed: Seed of the random draws.
        samples: Input samples on ``[0, 2 pi]``.
        eval_points: Output times on which the trajectories are measured.
        rtol: Relative tolerance of adaptive solvers.
        atol: Absolute tolerance of adaptive solvers.
        vectorize: Whether to stack the draws into one solver run; ``None`` chooses per
            solver (see :func:`liquidtime.analysis.expressivity.measure_trajectory_lengths`).
    """

    width: int = 100
    depth: int = 1
    sigma_w: float = 2.0
    sigma_b: float = 1.0
    tau_min: float = 1e-3
    activation: Activation = "tanh"
    solver: str = "RK45"
    hard_tanh: HardTanh = "elementwise"
    ltc_decay: LTCDecay = "signed"
    models: tuple[Model, ...] = MODELS
    draws: int = 10
    seed: int = 0
    samples: int = 100
    eval_points: int = 1000
    rtol: float = 1e-2
    atol: float = 1e-4
    vectorize: bool | None = None

    def __post_init__(self) -> None:
        positive_int("width", self.width)
        positive_int("depth", self.depth)
        non_negative_float("sigma_w", self.sigma_w)
        non_negative_float("sigma_b", self.sigma_b)
        non_negative_float("tau_min", self.tau_min)
        one_of("activation", self.activation, ACTIVATIONS)
        one_of("solver", self.solver, SOLVERS)
        one_of("hard_tanh", self.hard_tanh, HARD_TANH_FLAVOURS)
        one_of("ltc_decay", self.ltc_decay, LTC_DECAYS)
        if not self.models:
            raise ValueError(
                "Received an invalid value for argument `models`, expected a non-empty "
                f"sequence of {MODELS}, got {self.models!r}."
            )
        for model in self.models:
            one_of("models", model, MODELS)
        positive_int("draws", self.draws)
        int_at_least("seed", self.seed, 0)
        int_at_least("samples", self.samples, 2)
        int_at_least("eval_points", self.eval_points, 2)
        positive_float("rtol", self.rtol)
        positive_float("atol", self.atol)


@dataclasses.dataclass(frozen=True)
class SweepPoint:
    """The measurements at one value of a sweep.

    Attributes:
        value: The swept setting's value.
        config: The full settings at this value.
        results: Measurements per model.
        bounds: Theorem 4/5 lower bound per model, ``(draws, depth)``, evaluated with each
            draw's computational depth ``L`` and, for the LTC, its ``max_t ||z(t)||``.
        seconds: Wall time of this point.
    """

    value: int | float | str
    config: SweepConfig
    results: dict[str, TrajectoryLengths]
    bounds: dict[str, np.ndarray]
    seconds: float


@dataclasses.dataclass(frozen=True)
class SweepResult:
    """The measurements of one sweep.

    Attributes:
        kind: The swept setting, one of :data:`SWEEPS`.
        points: One entry per value, in sweep order.
    """

    kind: str
    points: tuple[SweepPoint, ...]

    @property
    def seconds(self) -> float:
        """Compute time of the sweep: the sum of its points' wall times."""
        return sum(point.seconds for point in self.points)


def nan_median(values: np.ndarray) -> float:
    """Median of the non-NaN entries of ``values`` (infinities count); NaN if none."""
    values = np.asarray(values, dtype=float)
    kept = values[~np.isnan(values)]
    return float(np.median(kept)) if kept.size else float("nan")


def lower_bounds(result: TrajectoryLengths, config: SweepConfig) -> np.ndarray:
    """Evaluates the Theorem 4/5 bound of ``result.model`` for every draw and layer.

    Args:
        result: A measurement.
        config: The settings it was made with.

    Returns:
        The bounds, shape ``(draws, depth)``; layer ``l`` (1-based) uses ``d = l``.
    """
    layers = np.arange(1, result.lengths.shape[1] + 1)[None, :]
    steps = result.steps_per_sample[:, None]
    common = (config.sigma_w, config.sigma_b, config.width, layers, steps, result.input_length)
    if result.model == "node":
        return neural_ode_lower_bound(*common)
    if result.model == "ctrnn":
        return ctrnn_lower_bound(*common)
    latent_norm = np.linalg.norm(result.latent, axis=-1).max(axis=-1)
    return ltc_lower_bound(*common, latent_norm, result.sample_interval)


def measure_point(kind: str, value: int | float | str, config: SweepConfig) -> SweepPoint:
    """Measures every model of ``config`` with the setting ``kind`` set to ``value``.

    Args:
        kind: The swept setting, one of :data:`SWEEPS`.
        value: Its value.
        config: The base settings.

    Returns:
        The measurements and bounds at this value.
    """
    one_of("kind", kind, SWEEPS)
    start = time.perf_counter()
    changes: dict[str, Any] = {kind: value}
    config = dataclasses.replace(config, **changes)
    parameters = sample_parameters(
        config.draws,
        config.width,
        config.depth,
        config.sigma_w,
        config.sigma_b,
        seed=config.seed,
        tau_min=config.tau_min,
    )
    results: dict[str, TrajectoryLengths] = {}
    bounds: dict[str, np.ndarray] = {}
    for model in config.models:
        results[model] = measure_trajectory_lengths(
            model,
            parameters,
            activation=config.activation,
            solver=config.solver,
            hard_tanh=config.hard_tanh,
            ltc_decay=config.ltc_decay,
            samples=config.samples,
            eval_points=config.eval_points,
            rtol=config.rtol,
            atol=config.atol,
            vectorize=config.vectorize,
        )
        bounds[model] = lower_bounds(results[model], config)
    return SweepPoint(value, config, results, bounds, time.perf_counter() - start)


def run_sweeps(
    kinds: Sequence[str],
    config: SweepConfig = SweepConfig(),
    values: Mapping[str, Sequence] | None = None,
    progress: Callable[[str], None] | None = None,
    jobs: int = 1,
) -> list[SweepResult]:
    """Runs sweeps of the paper's Fig. 3, optionally in parallel processes.

    Args:
        kinds: Sweeps to run, from :data:`SWEEPS`.
        config: The base settings.
        values: Values per sweep; sweeps not in it use :data:`SWEEP_VALUES`.
        progress: Called with a one-line message after each value.
        jobs: Number of worker processes; the values of all sweeps are spread over
            them. ``1`` runs everything in this process.

    Returns:
        One result per sweep, in the order of ``kinds``.
    """
    if not kinds:
        raise ValueError(
            f"Received an invalid value for argument `kinds`, expected a non-empty "
            f"sequence of {SWEEPS}, got {kinds!r}."
        )
    for kind in kinds:
        one_of("kinds", kind, SWEEPS)
    positive_int("jobs", jobs)
    values = dict(values or {})
    tasks = []
    for kind in kinds:
        kind_values = tuple(values.get(kind, SWEEP_VALUES[kind]))
        if not kind_values:
            raise ValueError(
                f"Received an invalid value for argument `values`, expected a non-empty "
                f"sequence of values for sweep {kind!r}, got {kind_values!r}."
            )
        # Validate every value up front rather than failing in the middle of a sweep.
        for value in kind_values:
            dataclasses.replace(config, **{kind: value})
        tasks += [(kind, value) for value in kind_values]
    points: dict[tuple[str, int | float | str], SweepPoint] = {}

    def record(kind: str, point: SweepPoint) -> None:
        points[kind, point.value] = point
        if progress is not None:
            medians = ", ".join(
                f"{MODEL_NAMES[m]} {nan_median(r.lengths[:, -1]):.4g}"
                for m, r in point.results.items()
            )
            progress(f"{kind}={point.value}: median length {medians} ({point.seconds:.1f} s)")

    if jobs == 1:
        for kind, value in tasks:
            record(kind, measure_point(kind, value, config))
    else:
        # spawn, not fork: forking a process in which JAX has started its threads can deadlock.
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            futures = {
                pool.submit(measure_point, kind, value, config): kind for kind, value in tasks
            }
            for future in concurrent.futures.as_completed(futures):
                record(futures[future], future.result())
    return [
        SweepResult(
            kind,
            tuple(points[kind, value] for k, value in tasks if k == kind),
        )
        for kind in kinds
    ]


def run_sweep(
    kind: str,
    config: SweepConfig = SweepConfig(),
    values: Sequence | None = None,
    progress: Callable[[str], None] | None = None,
    jobs: int = 1,
) -> SweepResult:
    """Runs one sweep of the paper's Fig. 3; see :func:`run_sweeps`.

    Args:
        kind: ``"width"``, ``"sigma_w"``, ``"solver"``, ``"depth"`` or ``"activation"``.
        config: The base settings.
        values: The values of the swept setting; defaults to ``SWEEP_VALUES[kind]``.
        progress: Called with a one-line message after each value.
        jobs: Number of worker processes.

    Returns:
        The measurements.
    """
    one_of("kind", kind, SWEEPS)
    return run_sweeps([kind], config, None if values is None else {kind: values}, progress, jobs)[0]


TABLE_COLUMNS: tuple[str, ...] = (
    "sweep", "value", "model", "draw", "layer", "length", "explained_variance",
    "steps", "nfev", "steps_per_sample", "lower_bound", "width", "depth", "sigma_w",
    "sigma_b", "tau_min", "activation", "solver", "hard_tanh", "ltc_decay", "seed",
)  # fmt: skip


def table_rows(sweeps: Iterable[SweepResult]) -> list[dict]:
    """One row per sweep, value, model, draw and layer, with the columns of
    :data:`TABLE_COLUMNS`."""
    rows = []
    for sweep in sweeps:
        for point in sweep.points:
            c = point.config
            for model, result in point.results.items():
                draws, depth = result.lengths.shape
                for draw in range(draws):
                    for layer in range(depth):
                        rows.append({
                            "sweep": sweep.kind, "value": point.value, "model": model,
                            "draw": draw, "layer": layer + 1,
                            "length": float(result.lengths[draw, layer]),
                            "explained_variance": float(result.explained_variance[draw, layer]),
                            "steps": int(result.steps[draw]), "nfev": int(result.nfev[draw]),
                            "steps_per_sample": float(result.steps_per_sample[draw]),
                            "lower_bound": float(point.bounds[model][draw, layer]),
                            "width": c.width, "depth": c.depth, "sigma_w": c.sigma_w,
                            "sigma_b": c.sigma_b, "tau_min": c.tau_min, "activation": c.activation,
                            "solver": c.solver, "hard_tanh": c.hard_tanh,
                            "ltc_decay": c.ltc_decay, "seed": c.seed,
                        })  # fmt: skip
    return rows


def write_table(sweeps: Iterable[SweepResult], path: str | Path) -> Path:
    """Writes :func:`table_rows` as CSV and returns the path."""
    path = Path(path)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=TABLE_COLUMNS)
        writer.writeheader()
        writer.writerows(table_rows(sweeps))
    return path


def summary_markdown(sweeps: Iterable[SweepResult]) -> str:
    """A Markdown table per sweep: median and interquartile range of the last layer's
    length, median computational depth ``L`` and median lower bound, per value and model."""
    lines = []
    for sweep in sweeps:
        lines += [
            f"### Sweep over `{sweep.kind}` ({sweep.seconds:.1f} s)",
            "",
            "| value | model | median length | IQR | median L | median bound | expl. var. |",
            "|---|---|---|---|---|---|---|",
        ]
        for point in sweep.points:
            for model, result in point.results.items():
                last = result.lengths[:, -1]
                finite = np.isfinite(last)
                if finite.any():
                    q1, median, q3 = np.percentile(last[finite], [25, 50, 75])
                    spread = f"{q1:.4g}-{q3:.4g}"
                else:
                    median, spread = np.nan, "-"
                if not finite.all():
                    spread += f" ({(~finite).sum()} of {last.size} diverged)"
                lines.append(
                    f"| {point.value} | {MODEL_NAMES[model]} | {median:.4g} | {spread} | "
                    f"{np.median(result.steps_per_sample):.3g} | "
                    f"{nan_median(point.bounds[model][:, -1]):.3g} | "
                    f"{nan_median(result.explained_variance[:, -1]):.2f} |"
                )
        lines.append("")
    return "\n".join(lines)

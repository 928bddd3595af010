"""Figures of the trajectory-length study: Fig. 3-style box plots and Fig. 2-style curves.

The figures are built on ``matplotlib.figure.Figure`` directly (no ``pyplot`` state), so
they work with any backend and in threads.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from liquidtime.analysis.networks import MODEL_NAMES
from liquidtime.analysis.sweeps import SweepResult, nan_median

MODEL_COLOURS: dict[str, str] = {"ltc": "#1b7837", "ctrnn": "#2166ac", "node": "#b2182b"}
_AXIS_LABELS: dict[str, str] = {
    "width": "width k",
    "sigma_w": r"weight spread $\sigma_w$",
    "solver": "ODE solver",
    "depth": "layer (depth d)",
    "activation": "activation",
}
_BOUND_SWEEPS = ("width", "sigma_w")


def plot_length_boxes(result: SweepResult, path: str | Path) -> Path:
    """Box plots of the last layer's trajectory length per value and model (Fig. 3).

    The y axis is logarithmic. Non-finite lengths (diverged solves, e.g. explicit Euler
    on a stiff network) cannot be drawn; their count is noted under the axis. For the
    ``width`` and ``sigma_w`` sweeps a second panel draws, per model, the median measured
    length (solid) beside the median Theorem 4/5 lower bound (dashed).

    Args:
        result: A sweep.
        path: Where to write the PNG.

    Returns:
        The path.
    """
    with_bounds = result.kind in _BOUND_SWEEPS
    figure = Figure(figsize=(11 if with_bounds else 7, 4.2), layout="tight")
    axes = figure.subplots(1, 2 if with_bounds else 1, squeeze=False)[0]
    models = list(result.points[0].results)
    labels = [str(point.value) for point in result.points]
    positions = np.arange(len(result.points), dtype=float)
    box_width = 0.8 / len(models)
    diverged = 0
    for index, model in enumerate(models):
        offset = (index - (len(models) - 1) / 2) * box_width
        data = []
        for point in result.points:
            lengths = point.results[model].lengths[:, -1]
            finite = lengths[np.isfinite(lengths) & (lengths > 0)]
            diverged += lengths.size - finite.size
            data.append(finite if finite.size else [np.nan])
        boxes = axes[0].boxplot(
            data,
            positions=positions + offset,
            widths=box_width * 0.85,
            patch_artist=True,
            manage_ticks=False,
            flierprops={"markersize": 3, "markeredgecolor": MODEL_COLOURS[model]},
        )
        for patch in boxes["boxes"]:
            patch.set(facecolor=MODEL_COLOURS[model], alpha=0.45, edgecolor=MODEL_COLOURS[model])
        for line in boxes["medians"]:
            line.set(color="black")
        axes[0].plot([], [], "s", color=MODEL_COLOURS[model], alpha=0.6, label=MODEL_NAMES[model])
    axes[0].set(
        yscale="log",
        xticks=positions,
        xlabel=_AXIS_LABELS[result.kind],
        ylabel="trajectory length (last layer)",
        title=_title(result),
    )
    axes[0].set_xticklabels(labels, rotation=30 if result.kind == "solver" else 0)
    axes[0].legend(fontsize=8)
    if diverged:
        axes[0].annotate(
            f"{diverged} non-finite length(s) not drawn",
            (0.01, 0.01),
            xycoords="axes fraction",
            fontsize=8,
        )
    if with_bounds:
        _plot_bounds(axes[1], result, models, positions, labels)
    path = Path(path)
    figure.savefig(path, dpi=110)
    return path


def _plot_bounds(axis, result: SweepResult, models, positions, labels) -> None:
    """Median measured length and median Theorem 4/5 bound per model."""
    for model in models:
        colour = MODEL_COLOURS[model]
        measured = [nan_median(p.results[model].lengths[:, -1]) for p in result.points]
        medians = np.asarray([nan_median(p.bounds[model][:, -1]) for p in result.points])
        bound = np.where(medians > 0, medians, np.nan)
        axis.plot(positions, measured, "o-", color=colour, label=f"{MODEL_NAMES[model]} measured")
        axis.plot(positions, bound, "^--", color=colour, label=f"{MODEL_NAMES[model]} bound")
    axis.set(
        yscale="log",
        xticks=positions,
        xlabel=_AXIS_LABELS[result.kind],
        ylabel="median length / lower bound",
        title="Theorems 4 (Neural ODE, CT-RNN) and 5 (LTC)",
    )
    axis.set_xticklabels(labels)
    axis.legend(fontsize=7, ncol=2)


def plot_latent_trajectories(result: SweepResult, path: str | Path, draw: int = 0) -> Path:
    """The 2-D latent trajectories of one draw's last layer (Fig. 2 style).

    One row per model, one column per value of the sweep; each panel shows the first two
    principal-component scores over ``t in [0, 2 pi]`` and its arc length.

    Args:
        result: A sweep.
        path: Where to write the PNG.
        draw: Which random draw to show.

    Returns:
        The path.
    """
    models = list(result.points[0].results)
    figure = Figure(
        figsize=(1.9 * len(result.points) + 0.6, 1.9 * len(models) + 0.4), layout="tight"
    )
    axes = figure.subplots(len(models), len(result.points), squeeze=False)
    for row, model in enumerate(models):
        for column, point in enumerate(result.points):
            measurement = point.results[model]
            curve = measurement.latent[draw, -1]
            axis = axes[row, column]
            axis.plot(curve[:, 0], curve[:, 1], color=MODEL_COLOURS[model], linewidth=0.9)
            axis.plot(curve[0, 0], curve[0, 1], "o", color="black", markersize=2.5)
            axis.set_title(f"l = {measurement.lengths[draw, -1]:.3g}", fontsize=8)
            axis.set_xticks([])
            axis.set_yticks([])
            if row == len(models) - 1:
                axis.set_xlabel(f"{result.kind} = {point.value}", fontsize=8)
            if column == 0:
                axis.set_ylabel(MODEL_NAMES[model], fontsize=9)
    figure.suptitle(
        f"Latent trajectories (PC1 vs PC2, last layer, draw {draw})\n{_title(result)}", fontsize=9
    )
    path = Path(path)
    figure.savefig(path, dpi=110)
    return path


def _title(result: SweepResult) -> str:
    """The fixed settings of a sweep, for figure titles."""
    config = result.points[0].config
    settings = {
        "width": f"k={config.width}",
        "depth": f"d={config.depth}",
        "sigma_w": f"σw={config.sigma_w:g}",
        "activation": config.activation,
        "solver": config.solver,
    }
    settings.pop(result.kind)
    return ", ".join(settings.values()) + f", σb={config.sigma_b:g}, {config.draws} draws"

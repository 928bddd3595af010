"""Learning curves of training runs (PNG), from their result records.

Built on ``matplotlib.figure.Figure`` directly (no ``pyplot`` state), so it works
with any matplotlib backend, also without a display.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from liquidtime._validation import one_of
from liquidtime.data import PAPER_UNITS
from liquidtime.experiments.records import latest_per_run
from liquidtime.experiments.tables import MODEL_ORDER

_METRIC_LABELS = {"accuracy": "accuracy (%)", "mse": "MSE", "f1": "F1 (positive class)"}
X_AXES = ("epoch", "time")
"""``epoch``: epochs on the x axis, seeds averaged; ``time``: the run's cumulative wall
time (``elapsed_s``: loading, compiling, training, validation), one line per seed."""
TEST_MARKER = "*"
"""Marker of a run's test metric, drawn at its best validation epoch."""


def _curves(records: list[dict[str, Any]], key: str, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Epochs and a ``(seeds, epochs)`` array of ``key`` from the records' histories
    (NaN where a run has no value, e.g. after a NaN stop or for epoch 0's loss)."""
    epochs = sorted({entry["epoch"] for record in records for entry in record.get("history", [])})
    index = {epoch: position for position, epoch in enumerate(epochs)}
    values = np.full((len(records), len(epochs)), np.nan)
    for row, record in enumerate(records):
        for entry in record.get("history", []):
            if entry.get(key) is not None:
                values[row, index[entry["epoch"]]] = float(entry[key]) * scale
    return np.asarray(epochs), values


def _run_curve(record: dict[str, Any], key: str, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Elapsed seconds and ``key`` of one run's history (NaN where it has no value)."""
    history = record.get("history", [])
    times = np.array([float(entry.get("elapsed_s", np.nan)) for entry in history])
    values = np.array(
        [np.nan if entry.get(key) is None else float(entry[key]) * scale for entry in history]
    )
    return times, values


def _time_of_epoch(record: dict[str, Any], epoch: int | None) -> float:
    for entry in record.get("history", []):
        if entry["epoch"] == epoch:
            return float(entry.get("elapsed_s", np.nan))
    return np.nan


def _test_label(values: list[float], metric: str) -> str:
    """``test 93.7`` or, over several seeds, ``test 93.7 ± 0.4`` (population std)."""
    digits = 4 if metric == "mse" else (3 if metric == "f1" else 1)
    finite = [value for value in values if np.isfinite(value)]
    if not finite:
        return "test -"
    text = f"test {np.mean(finite):.{digits}f}"
    return text + (f" ± {np.std(finite):.{digits}f}" if len(finite) > 1 else "")


def _fit_to_trained_epochs(axis: Axes, values: list[float]) -> None:
    """Sets the y limits to ``values`` (trained epochs and test markers) with a 5 % margin,
    so that epoch 0, the untrained weights, does not flatten the curves."""
    finite = np.asarray([value for value in values if np.isfinite(value)])
    if finite.size == 0:
        return
    low, high = float(finite.min()), float(finite.max())
    margin = 0.05 * (high - low) if high > low else 0.05 * max(abs(high), 1e-12)
    axis.set_ylim(low - margin, high + margin)


def learning_curves_figure(
    records: Iterable[dict[str, Any]], title: str | None = None, x: str = "epoch"
) -> Figure:
    """The figure of :func:`plot_learning_curves` (see there), not yet written."""
    one_of("x", x, X_AXES)
    records = latest_per_run(records)
    if not records:
        raise ValueError("Received no records to plot.")
    tasks = list(dict.fromkeys(record["task"] for record in records))
    figure = Figure(figsize=(14, 3.8 * len(tasks)), layout="constrained")
    axes = figure.subplots(len(tasks), 2, squeeze=False)
    colours = {model: f"C{index}" for index, model in enumerate(MODEL_ORDER)}
    for row, task in enumerate(tasks):
        of_task = [record for record in records if record["task"] == task]
        groups: dict[tuple, list[dict[str, Any]]] = {}
        for record in of_task:
            key = (record["model"], record.get("learning_rate"), record.get("preset", "paper"),
                   record.get("units"), record.get("epochs"), record.get("max_train_windows"),
                   record.get("protocol"), str(record.get("layer_options", "")))
            groups.setdefault(key, []).append(record)
        metric = of_task[0]["metric"]
        scale = 100.0 if PAPER_UNITS.get(task) == "accuracy %" else 1.0
        ordered = sorted(groups.items(), key=lambda item: _model_rank(item[0][0]))
        styles = ["-", "--", ":", "-."]
        seen: dict[str, int] = {}
        loss_axis, metric_axis = axes[row]
        fitted: list[float] = []  # the metric values the metric axis is fitted to
        for (model, learning_rate, preset, *_), members in ordered:
            style = styles[seen.get(model, 0) % len(styles)]
            seen[model] = seen.get(model, 0) + 1
            tests = [np.nan if member.get("test_metric") is None
                     else float(member["test_metric"]) * scale for member in members]
            setting = "" if preset == "paper" else f", {preset} preset"
            label = (f"{model} (lr {learning_rate:g}{setting}, {len(members)} "
                     f"seed{'s' if len(members) > 1 else ''}; {_test_label(tests, metric)})")
            colour = colours.get(model, "black")
            if x == "epoch":
                for axis, curve, factor in ((loss_axis, "loss", 1.0), (metric_axis, "valid", scale)):
                    epochs, values = _curves(members, curve, factor)
                    _plot_mean_and_band(axis, epochs, values, style, colour, label)
                    if curve == "valid":
                        fitted += list(values[:, epochs > 0].ravel())
                best = [np.nan if member.get("best_epoch") is None
                        else float(member["best_epoch"]) for member in members]
            else:
                for number, member in enumerate(members):
                    for axis, curve, factor in ((loss_axis, "loss", 1.0),
                                                (metric_axis, "valid", scale)):
                        times, values = _run_curve(member, curve, factor)
                        axis.plot(times, values, style, color=colour, linewidth=1.2,
                                  label=label if number == 0 else None,
                                  marker="." if len(times) < 30 else None)
                        if curve == "valid":
                            run_epochs = [entry["epoch"] for entry in member.get("history", [])]
                            fitted += [value for value, epoch in zip(values, run_epochs) if epoch > 0]
                best = [_time_of_epoch(member, member.get("best_epoch")) for member in members]
            metric_axis.plot(best, tests, linestyle="none", marker=TEST_MARKER, markersize=11,
                             color=colour, markeredgecolor="black", markeredgewidth=0.6)
            fitted += tests
        loss_axis.set_yscale("log")
        loss_axis.set_title(f"{task}: training loss")
        loss_axis.set_ylabel("mean loss over the epoch")
        metric_axis.set_title(f"{task}: validation {metric} ({TEST_MARKER}: test, at the best epoch)")
        metric_axis.set_ylabel(_METRIC_LABELS.get(metric, metric))
        _fit_to_trained_epochs(metric_axis, fitted)
        for axis in (loss_axis, metric_axis):
            axis.grid(True, alpha=0.3)
            if x == "epoch":
                axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        if x == "epoch":
            loss_axis.set_xlabel("epoch")
            metric_axis.set_xlabel("epoch (0 = initial weights, off the axis if far below)")
        else:
            loss_axis.set_xlabel("wall time (s)")
            metric_axis.set_xlabel("wall time (s), loading and compiling included")
        metric_axis.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1.0))
    if title:
        figure.suptitle(title)
    return figure


def plot_learning_curves(
    records: Iterable[dict[str, Any]],
    path: os.PathLike | str,
    title: str | None = None,
    x: str = "epoch",
) -> Path:
    """Plots training loss and validation metric per epoch (or over time), one line per model.

    One row of two panels per task (left: mean training loss per epoch, log
    scale; right: the validation metric, accuracies in percent). A star marks
    each run's test metric at its best validation epoch, and the legend gives
    the test metric (mean ± std over the seeds). The metric axis is fitted to
    the trained epochs and the test values: epoch 0 (the initial weights) may
    lie below it. With ``x="epoch"`` and several seeds the line is their mean
    and the band spans their minimum and maximum; with ``x="time"`` each seed
    is its own line over its cumulative wall time. Runs of one model with
    different settings are drawn as separate lines.

    Args:
        records: Result records with a ``history``.
        path: Where to write the PNG (parent directories are created).
        title: Figure title (default: none).
        x: One of :data:`X_AXES`: ``"epoch"`` or ``"time"`` (seconds).

    Returns:
        The path.

    Raises:
        ValueError: If there are no records, or for another ``x``.
    """
    figure = learning_curves_figure(records, title=title, x=x)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    return path


def _plot_mean_and_band(
    axis: Axes, epochs: np.ndarray, values: np.ndarray, style: str, colour: str, label: str
) -> None:
    """The mean over the seeds (rows of ``values``) and, for several, their min-max band."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN epochs
        mean = np.nanmean(values, axis=0)
        low, high = np.nanmin(values, axis=0), np.nanmax(values, axis=0)
    axis.plot(epochs, mean, style, color=colour, label=label,
              marker="." if len(epochs) < 30 else None)
    if len(values) > 1:
        axis.fill_between(epochs, low, high, color=colour, alpha=0.15, linewidth=0)


def _model_rank(model: str) -> int:
    return MODEL_ORDER.index(model) if model in MODEL_ORDER else len(MODEL_ORDER)

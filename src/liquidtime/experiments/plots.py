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
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from liquidtime.data import PAPER_UNITS
from liquidtime.experiments.records import latest_per_run
from liquidtime.experiments.tables import MODEL_ORDER

_METRIC_LABELS = {"accuracy": "accuracy (%)", "mse": "MSE", "f1": "F1 (positive class)"}


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


def plot_learning_curves(
    records: Iterable[dict[str, Any]], path: os.PathLike | str, title: str | None = None
) -> Path:
    """Plots training loss and validation metric per epoch, one line per model.

    One row of two panels per task (left: mean training loss per epoch, log
    scale; right: the validation metric, accuracies in percent). With several
    seeds the line is their mean and the band spans their minimum and maximum.
    Runs of one model with different settings are drawn as separate lines.

    Args:
        records: Result records with a ``history``.
        path: Where to write the PNG (parent directories are created).
        title: Figure title (default: none).

    Returns:
        The path.

    Raises:
        ValueError: If there are no records.
    """
    records = latest_per_run(records)
    if not records:
        raise ValueError("Received no records to plot.")
    tasks = list(dict.fromkeys(record["task"] for record in records))
    figure = Figure(figsize=(11, 3.8 * len(tasks)), layout="constrained")
    axes = figure.subplots(len(tasks), 2, squeeze=False)
    colours = {model: f"C{index}" for index, model in enumerate(MODEL_ORDER)}
    for row, task in enumerate(tasks):
        of_task = [record for record in records if record["task"] == task]
        groups: dict[tuple, list[dict[str, Any]]] = {}
        for record in of_task:
            key = (record["model"], record.get("learning_rate"), record.get("units"),
                   record.get("epochs"), record.get("max_train_windows"), record.get("protocol"))
            groups.setdefault(key, []).append(record)
        metric = of_task[0]["metric"]
        scale = 100.0 if PAPER_UNITS.get(task) == "accuracy %" else 1.0
        ordered = sorted(groups.items(), key=lambda item: _model_rank(item[0][0]))
        styles = ["-", "--", ":", "-."]
        seen: dict[str, int] = {}
        for (model, learning_rate, *_), members in ordered:
            style = styles[seen.get(model, 0) % len(styles)]
            seen[model] = seen.get(model, 0) + 1
            label = f"{model} (lr {learning_rate:g}, {len(members)} seed{'s' if len(members) > 1 else ''})"
            colour = colours.get(model, "black")
            for column, (key, factor) in enumerate((("loss", 1.0), ("valid", scale))):
                epochs, values = _curves(members, key, factor)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN epochs
                    mean = np.nanmean(values, axis=0)
                axis = axes[row, column]
                axis.plot(epochs, mean, style, color=colour, label=label, marker="." if len(epochs) < 30 else None)
                if len(members) > 1:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", RuntimeWarning)
                        axis.fill_between(epochs, np.nanmin(values, axis=0), np.nanmax(values, axis=0),
                                          color=colour, alpha=0.15, linewidth=0)
        loss_axis, metric_axis = axes[row]
        loss_axis.set_yscale("log")
        loss_axis.set_title(f"{task}: training loss")
        loss_axis.set_xlabel("epoch")
        loss_axis.set_ylabel("mean loss over the epoch")
        metric_axis.set_title(f"{task}: validation {metric}")
        metric_axis.set_xlabel("epoch (0 = initial weights)")
        metric_axis.set_ylabel(_METRIC_LABELS.get(metric, metric))
        for axis in (loss_axis, metric_axis):
            axis.grid(True, alpha=0.3)
            axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        metric_axis.legend(fontsize="small")
    if title:
        figure.suptitle(title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    return path


def _model_rank(model: str) -> int:
    return MODEL_ORDER.index(model) if model in MODEL_ORDER else len(MODEL_ORDER)

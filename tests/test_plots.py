"""Learning-curve plots: the metric axis fitted to the trained epochs, each run's test metric
marked at its best epoch and named in the legend, and wall time on the x axis."""

from __future__ import annotations

import numpy as np
import pytest

from liquidtime.experiments.plots import (
    TEST_MARKER,
    learning_curves_figure,
    plot_learning_curves,
)


def _record(model: str, seed: int, valid: list[float], test: float, seconds_per_epoch: float):
    """A record whose validation accuracy is ``valid`` (epoch 0 first)."""
    history = [{"epoch": 0, "loss": None, "valid": valid[0], "elapsed_s": 4.0}]
    history += [
        {"epoch": epoch, "loss": 0.5 / epoch, "valid": value,
         "elapsed_s": 4.0 + seconds_per_epoch * epoch}
        for epoch, value in enumerate(valid[1:], start=1)
    ]
    best = max(range(len(valid)), key=lambda epoch: valid[epoch])
    return {"task": "occupancy", "model": model, "seed": seed, "learning_rate": 0.005,
            "units": 32, "epochs": len(valid) - 1, "max_train_windows": None,
            "protocol": "corrected", "preset": "paper", "metric": "accuracy", "history": history,
            "best_epoch": best, "test_metric": test, "run_key": f"{model}-{seed}",
            "timestamp": "2026-01-01T00:00:00Z"}


RECORDS = [
    _record("ltc", 0, [0.20, 0.90, 0.93, 0.95], test=0.940, seconds_per_epoch=6.0),
    _record("ltc", 1, [0.21, 0.91, 0.94, 0.92], test=0.930, seconds_per_epoch=6.5),
    _record("lstm", 0, [0.22, 0.88, 0.91, 0.92], test=0.925, seconds_per_epoch=1.0),
]


def _metric_axis(figure):
    return figure.axes[1]


def test_the_metric_axis_is_fitted_to_the_trained_epochs_not_epoch_0():
    axis = _metric_axis(learning_curves_figure(RECORDS))
    low, high = axis.get_ylim()
    assert 87.0 < low < 88.0 and 95.0 < high < 96.0  # 88..95 % with a 5 % margin
    assert axis.get_ylabel() == "accuracy (%)"
    assert axis.get_xlabel().startswith("epoch (0 = initial weights")


def test_each_run_test_metric_is_marked_at_its_best_epoch_and_in_the_legend():
    axis = _metric_axis(learning_curves_figure(RECORDS))
    stars = [line for line in axis.get_lines() if line.get_marker() == TEST_MARKER]
    points = sorted((float(x), round(float(y), 6))
                    for line in stars for x, y in zip(line.get_xdata(), line.get_ydata()))
    assert points == [(2.0, 93.0), (3.0, 92.5), (3.0, 94.0)]
    legend = [text.get_text() for text in axis.get_legend().get_texts()]
    assert legend == ["lstm (lr 0.005, 1 seed; test 92.5)",
                      "ltc (lr 0.005, 2 seeds; test 93.5 ± 0.5)"]


def test_wall_time_on_the_x_axis_draws_each_run_over_its_elapsed_seconds(tmp_path):
    figure = learning_curves_figure(RECORDS, x="time")
    loss_axis, metric_axis = figure.axes[:2]
    assert loss_axis.get_xlabel() == "wall time (s)"
    assert metric_axis.get_xlabel().startswith("wall time (s)")
    curves = [line for line in metric_axis.get_lines() if line.get_marker() != TEST_MARKER]
    assert len(curves) == 3  # one per run, seeds not averaged over different times
    assert sorted(tuple(line.get_xdata()) for line in curves) == [
        (4.0, 5.0, 6.0, 7.0), (4.0, 10.0, 16.0, 22.0), (4.0, 10.5, 17.0, 23.5)]
    stars = [line for line in metric_axis.get_lines() if line.get_marker() == TEST_MARKER]
    assert sorted(x for line in stars for x in line.get_xdata()) == [7.0, 17.0, 22.0]
    path = plot_learning_curves(RECORDS, tmp_path / "curves.png", x="time")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_unknown_x_axis_is_refused():
    with pytest.raises(ValueError, match="argument `x`, expected one of \\['epoch', 'time'\\]"):
        learning_curves_figure(RECORDS, x="seconds")


def test_a_run_without_a_test_value_keeps_autoscale_free_of_nan():
    record = _record("cfc", 0, [0.2, 0.8, 0.85], test=0.83, seconds_per_epoch=1.0)
    record["test_metric"] = None
    axis = _metric_axis(learning_curves_figure([record]))
    assert np.isfinite(axis.get_ylim()).all() and axis.get_ylim()[0] > 75.0

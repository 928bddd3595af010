"""The best-validation rule that every run of the command line follows, ours and ncps's.

After every epoch (and once before training) a run computes its validation metric; the
epoch with the best value so far becomes the run's best epoch (higher accuracy or F1,
lower MSE; a NaN never does, see :func:`~liquidtime.experiments.metrics.is_better`), and
its weights are the ones tested at the end. The run's ``state`` dict holds
``best_metric``, ``best_epoch`` and the ``history`` of every epoch.
"""

from __future__ import annotations

import math
from typing import Any

from liquidtime.experiments.metrics import is_better


def format_metric(value: float | None) -> str:
    """A metric (or loss) for progress lines: 4 decimals, ``nan``, or ``-`` for none."""
    if value is None:
        return "-"
    return f"{value:.4f}" if math.isfinite(value) else "nan"


def record_validation(
    state: dict[str, Any],
    metric: str,
    epoch: int,
    epochs: int | None,
    loss: float | None,
    value: float,
    elapsed_s: float,
) -> tuple[bool, str]:
    """Adds one epoch's validation to ``state`` under the best-validation rule.

    Args:
        state: The run's state (``best_metric``, ``best_epoch``, ``history``), updated.
        metric: The task's metric name.
        epoch: The epoch just finished (0: before training).
        epochs: The run's number of epochs, for the progress line.
        loss: The epoch's training loss (None before training).
        value: The validation metric.
        elapsed_s: The run's training time so far.

    Returns:
        ``(improved, line)``: whether this epoch is the new best (the caller keeps its
        weights), and the progress line.
    """
    improved = is_better(metric, value, state["best_metric"])
    if improved:
        state["best_metric"], state["best_epoch"] = value, epoch
    state["history"].append(
        {"epoch": epoch, "loss": loss, "valid": value, "elapsed_s": round(elapsed_s, 3)}
    )
    line = (
        f"  epoch {epoch:>3}/{epochs}  loss {format_metric(loss)}  valid {metric} "
        f"{format_metric(value)}  best {format_metric(state['best_metric'])} "
        f"(epoch {state['best_epoch']})  {elapsed_s:.1f}s"
    )
    return improved, line


def test_line(run_name: str, metric: str, test_metric: float, state: dict[str, Any], wall_s: float) -> str:
    """The line that ends a run: its test metric at the best validation epoch."""
    return (
        f"{run_name}: test {metric} {format_metric(test_metric)} at the best validation epoch "
        f"{state['best_epoch']} ({metric} {format_metric(state['best_metric'])}); {wall_s:.1f}s"
    )

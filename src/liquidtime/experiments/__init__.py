"""Experiments of the LTC paper: training runs, result records, tables and plots.

* :mod:`~liquidtime.experiments.runner`: one training run with the paper's protocol
  (:class:`RunConfig`, :func:`train_run`), exact resume from per-epoch checkpoints
  (:mod:`~liquidtime.experiments.checkpoints`);
* :mod:`~liquidtime.experiments.campaign`: several runs, optionally in worker processes;
* :mod:`~liquidtime.experiments.metrics`: accuracy, MSE and pooled positive-class F1;
* :mod:`~liquidtime.experiments.records`: JSON-lines result records;
* :mod:`~liquidtime.experiments.tables`: mean ± std over seeds beside the paper's numbers;
* :mod:`~liquidtime.experiments.plots`: learning curves (PNG).

The command line over these is ``liquidtime train | compare | table`` (``docs/cli.md``).
"""

from __future__ import annotations

from liquidtime.experiments.campaign import run_configs
from liquidtime.experiments.metrics import accuracy, compute_metric, mean_squared_error, positive_f1
from liquidtime.experiments.plots import plot_learning_curves
from liquidtime.experiments.records import append_record, read_records
from liquidtime.experiments.runner import RunConfig, epoch_order, train_run
from liquidtime.experiments.tables import markdown_table, summarize

__all__ = [
    "RunConfig",
    "accuracy",
    "append_record",
    "compute_metric",
    "epoch_order",
    "markdown_table",
    "mean_squared_error",
    "plot_learning_curves",
    "positive_f1",
    "read_records",
    "run_configs",
    "summarize",
    "train_run",
]

"""Ozone level detection (UCI 172, eight-hour peak): is a day an ozone day.

File (folder ``ozone/``): ``eighthr.data``, no header; each line is a date
(``m/d/yyyy``), 72 numeric features and the class (``0.`` or ``1.``), separated
by commas; missing values are ``?``.

Protocol:

- ``?`` becomes 0 (any other value that is not a finite number is an error);
  all 72 features are standardised with one global mean and
  standard deviation (over every value of every feature); the class is the
  label at every step;
- windows of 32 days with stride 4 (starts ``s < rows - 32``);
- windows split at random (permutation seed 23489): 10% validation, 15% test,
  the rest training;
- metric: F1 of the positive class pooled over all steps; the paper weighted
  the cross-entropy of every step by 1.6 for class 1 and 0.1 for class 0
  (:attr:`TaskInfo.class_weights` ``(0.1, 1.6)``) and averaged over steps.

``protocol="original"`` reproduces the original code's extra stacking along the
wrong axis: 32 sequences of ``N`` steps (626 on the UCI file; sequence ``j`` is
days ``j, j + 4, j + 8, ...``), split 25 training / 3 validation / 4 test by
the same seed, so that training was one batch per epoch. The paper's numbers
come from that layout.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from liquidtime.data._errors import MalformedDatasetError
from liquidtime.data._parsing import read_float_table
from liquidtime.data._paths import locate_files
from liquidtime.data._scaling import standardise
from liquidtime.data._splits import random_split
from liquidtime.data._task import (
    F1,
    ORIGINAL,
    PER_STEP_CLASSIFICATION,
    Task,
    TaskInfo,
    build_task,
    check_protocol,
)
from liquidtime.data._windows import stack_as_sequences, take_windows, window_starts

NUM_FEATURES = 72
NUM_FIELDS = NUM_FEATURES + 2
SEQUENCE_LENGTH = 32
STRIDE = 4
SPLIT_SEED = 23489
COLUMN_NAMES = ("date", *(f"feature {index}" for index in range(1, NUM_FEATURES + 1)), "class")
NON_FINITE_FIX = (
    "only '?' marks a missing value in this file (it becomes 0); write '?' or correct the value"
)

INFO = TaskInfo(
    name="ozone",
    title="Ozone level detection (eight-hour peak)",
    kind=PER_STEP_CLASSIFICATION,
    metric=F1,
    num_classes=2,
    folder="ozone",
    files=("eighthr.data",),
    source=(
        "Zhang & Fan, 'Ozone Level Detection', UCI Machine Learning Repository id 172 "
        "(Zhang, Fan & Li, 'Forecasting skewed biased stochastic ozone days', ICDM 2006). "
        "CC BY 4.0."
    ),
    origin=(
        "https://archive.ics.uci.edu/dataset/172/ozone+level+detection; "
        "put eighthr.data into ozone/."
    ),
    quirks="windows stacked into 32 sequences of N steps split 25/3/4 (one batch per epoch)",
    class_weights=(0.1, 1.6),
)


def load_data(data_dir: os.PathLike | str | None = None, protocol: str = "corrected") -> Task:
    """Loads the ozone task.

    Args:
        data_dir: Data root or the ``ozone`` folder; ``None`` uses ``LIQUIDTIME_DATA``.
        protocol: ``"corrected"`` (default) or ``"original"`` (see the module
            docstring).

    Returns:
        A :class:`~liquidtime.data.Task` with float32 inputs ``(N, T, 72)`` and
        int32 labels ``(N, T)`` in ``{0, 1}``. Corrected on the UCI file (2,534
        days): 626 windows of 32 steps, 471 training, 62 validation and 93 test.
        Original: sequences of 626 steps, 25 training, 3 validation and 4 test.

    Raises:
        DatasetNotFoundError: If the file is missing.
        MalformedDatasetError: If the file does not have the format above.
    """
    protocol = check_protocol(protocol)
    (path,) = locate_files(INFO, data_dir)
    x, y = _read_file(path)
    starts = window_starts(len(x), SEQUENCE_LENGTH, STRIDE)
    windows_x = take_windows(x, starts, SEQUENCE_LENGTH)
    windows_y = take_windows(y, starts, SEQUENCE_LENGTH)
    if protocol == ORIGINAL:
        windows_x, windows_y = stack_as_sequences(windows_x), stack_as_sequences(windows_y)
    train_idx, valid_idx, test_idx = random_split(len(windows_x), SPLIT_SEED)
    return build_task(
        INFO,
        protocol,
        train=(windows_x[train_idx], windows_y[train_idx]),
        valid=(windows_x[valid_idx], windows_y[valid_idx]),
        test=(windows_x[test_idx], windows_y[test_idx]),
    )


def _read_file(path: Path) -> tuple[np.ndarray, np.ndarray]:
    table = read_float_table(
        path, NUM_FIELDS, delimiter=",", usecols=range(1, NUM_FIELDS), missing=("?",),
        column_names=COLUMN_NAMES, fix=NON_FINITE_FIX,
    )
    features, labels = table[:, :NUM_FEATURES], table[:, NUM_FEATURES]
    bad = np.flatnonzero((labels != 0) & (labels != 1))
    if bad.size:
        raise MalformedDatasetError(
            path,
            f"expected the class 0. or 1. in the last field, "
            f"found {labels[bad[0]]!r} in data row {bad[0] + 1}",
        )
    if len(labels) <= SEQUENCE_LENGTH:
        raise MalformedDatasetError(
            path, f"expected more than {SEQUENCE_LENGTH} data rows, found {len(labels)}"
        )
    features = np.nan_to_num(features, nan=0.0)
    return standardise(features, features.mean(), features.std()), labels.astype(np.int32)

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

from pathlib import Path

import numpy as np

from liquidtime.data._errors import MalformedDatasetError
from liquidtime.data._loader import task_loader
from liquidtime.data._parsing import check_more_rows_than, read_float_table
from liquidtime.data._scaling import standardise
from liquidtime.data._splits import split_at_random
from liquidtime.data._task import F1, ORIGINAL, PER_STEP_CLASSIFICATION, Splits, TaskInfo
from liquidtime.data._windows import strided_windows

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


def _arrays(paths: list[Path], protocol: str) -> Splits:
    """Windows of 32 days (the original protocol: 32 sequences), split at random."""
    (path,) = paths
    x, y = _read_file(path)
    windows = strided_windows(x, y, SEQUENCE_LENGTH, STRIDE, as_sequences=protocol == ORIGINAL)
    return split_at_random(*windows, SPLIT_SEED)


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
    check_more_rows_than(path, len(labels), SEQUENCE_LENGTH)
    features = np.nan_to_num(features, nan=0.0)
    return standardise(features, features.mean(), features.std()), labels.astype(np.int32)


load_data = task_loader(
    INFO,
    _arrays,
    returns=(
        "float32 inputs ``(N, T, 72)`` and int32 labels ``(N, T)`` in ``{0, 1}``. Corrected on "
        "the UCI file (2,534 days): 626 windows of 32 steps, 471 training, 62 validation and 93 "
        "test. Original: sequences of 626 steps, 25 training, 3 validation and 4 test."
    ),
)

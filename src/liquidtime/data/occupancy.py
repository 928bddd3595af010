"""Occupancy detection (UCI 357): is the office room occupied, minute by minute.

Files (folder ``occupancy/``): ``datatraining.txt``, ``datatest.txt`` and
``datatest2.txt``. Each is CSV whose header names 7 columns
(``"date","Temperature","Humidity","Light","CO2","HumidityRatio","Occupancy"``)
while every row has 8 fields, the first a quoted row index. A copy of the three
files ships with liquidtime and is used when neither ``data_dir`` nor
``LIQUIDTIME_DATA`` is given.

Protocol (the original and the corrected protocol are the same):

- inputs Temperature, Humidity, Light, CO2 and HumidityRatio, z-scored with the
  mean and standard deviation of ``datatraining.txt``; label Occupancy (0/1)
  at every step;
- windows of 16 rows, stride 1 in the training file and stride 8 in the two
  test files (starts ``s < rows - 16``);
- validation is 10% of the training windows (permutation seed 893429, see
  :func:`liquidtime.data._splits.random_split`); the test set is the windows of
  ``datatest.txt`` followed by those of ``datatest2.txt``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from liquidtime.data._errors import MalformedDatasetError
from liquidtime.data._parsing import check_field_count, check_header, csv_rows, parse_float
from liquidtime.data._paths import locate_files
from liquidtime.data._scaling import standardise
from liquidtime.data._splits import random_split
from liquidtime.data._task import (
    ACCURACY,
    PER_STEP_CLASSIFICATION,
    Task,
    TaskInfo,
    TrainingDefaults,
    build_task,
    check_protocol,
)
from liquidtime.data._windows import take_windows, window_starts

HEADER = ("date", "Temperature", "Humidity", "Light", "CO2", "HumidityRatio", "Occupancy")
FEATURES = ("Temperature", "Humidity", "Light", "CO2", "HumidityRatio")
SEQUENCE_LENGTH = 16
TRAIN_STRIDE = 1
TEST_STRIDE = 8
SPLIT_SEED = 893429

INFO = TaskInfo(
    name="occupancy",
    title="Occupancy detection",
    kind=PER_STEP_CLASSIFICATION,
    metric=ACCURACY,
    num_classes=2,
    folder="occupancy",
    files=("datatraining.txt", "datatest.txt", "datatest2.txt"),
    source=(
        "Candanedo & Feldheim, 'Accurate occupancy detection of an office room from light, "
        "temperature, humidity and CO2 measurements using statistical learning models', "
        "Energy and Buildings 112 (2016). UCI Machine Learning Repository id 357. CC BY 4.0."
    ),
    origin=(
        "https://archive.ics.uci.edu/dataset/357/occupancy+detection (occupancy_data.zip); "
        "unzip the three .txt files into occupancy/."
    ),
    defaults=TrainingDefaults(ltc_learning_rate=0.005),
)


def load_data(data_dir: os.PathLike | str | None = None, protocol: str = "corrected") -> Task:
    """Loads the occupancy task.

    Args:
        data_dir: Data root or the ``occupancy`` folder; ``None`` uses
            ``LIQUIDTIME_DATA`` and then the copy shipped with liquidtime.
        protocol: ``"corrected"`` or ``"original"`` (identical for this task).

    Returns:
        A :class:`~liquidtime.data.Task` with float32 inputs ``(N, 16, 5)`` and
        int32 labels ``(N, 16)``. On the UCI files: 7,315 training, 812
        validation and 1,549 test windows.

    Raises:
        DatasetNotFoundError: If a file is missing.
        MalformedDatasetError: If a file does not have the format above.
    """
    protocol = check_protocol(protocol)
    train_path, test_path, test2_path = locate_files(INFO, data_dir)
    train_x, train_y = _read_file(train_path)
    mean, std = train_x.mean(axis=0), train_x.std(axis=0)

    starts = window_starts(len(train_x), SEQUENCE_LENGTH, TRAIN_STRIDE)
    train_idx, valid_idx, _ = random_split(
        len(starts), SPLIT_SEED, valid_fraction=0.1, test_fraction=0.0
    )
    train_x = standardise(train_x, mean, std)

    test_windows = []
    for path in (test_path, test2_path):
        x, y = _read_file(path)
        test_starts = window_starts(len(x), SEQUENCE_LENGTH, TEST_STRIDE)
        test_windows.append(
            (
                take_windows(standardise(x, mean, std), test_starts, SEQUENCE_LENGTH),
                take_windows(y, test_starts, SEQUENCE_LENGTH),
            )
        )

    def windows(index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (
            take_windows(train_x, starts[index], SEQUENCE_LENGTH),
            take_windows(train_y, starts[index], SEQUENCE_LENGTH),
        )

    return build_task(
        INFO,
        protocol,
        train=windows(train_idx),
        valid=windows(valid_idx),
        test=(
            np.concatenate([x for x, _ in test_windows]),
            np.concatenate([y for _, y in test_windows]),
        ),
    )


def _read_file(path: Path) -> tuple[np.ndarray, np.ndarray]:
    rows = csv_rows(path)
    header = next(rows, None)
    if header is None:
        raise MalformedDatasetError(path, "the file is empty")
    check_header(path, header[1], HEADER, header[0])
    columns = [HEADER.index(name) + 1 for name in FEATURES]
    features, labels = [], []
    for line, fields in rows:
        check_field_count(path, fields, len(HEADER) + 1, line)
        features.append([parse_float(path, fields[c], line, HEADER[c - 1]) for c in columns])
        label = fields[len(HEADER)].strip()
        if label not in ("0", "1"):
            raise MalformedDatasetError(path, f"expected Occupancy 0 or 1, found {label!r}", line)
        labels.append(int(label))
    if len(labels) <= SEQUENCE_LENGTH:
        raise MalformedDatasetError(
            path, f"expected more than {SEQUENCE_LENGTH} data rows, found {len(labels)}"
        )
    return np.asarray(features, dtype=np.float64), np.asarray(labels, dtype=np.int32)

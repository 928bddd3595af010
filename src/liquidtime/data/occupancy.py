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

from pathlib import Path

import numpy as np

from liquidtime.data._errors import MalformedDatasetError
from liquidtime.data._loader import task_loader
from liquidtime.data._parsing import check_field_count, check_more_rows_than, csv_data_rows, parse_float
from liquidtime.data._scaling import standardise
from liquidtime.data._splits import split_off_validation
from liquidtime.data._task import ACCURACY, PER_STEP_CLASSIFICATION, Splits, TaskInfo, TrainingDefaults
from liquidtime.data._windows import concatenate_pairs, strided_windows

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


def _arrays(paths: list[Path], protocol: str) -> Splits:
    """Training windows (10% for validation), then the windows of both test files."""
    train_path, *test_paths = paths
    train_x, train_y = _read_file(train_path)
    mean, std = train_x.mean(axis=0), train_x.std(axis=0)
    train, valid = split_off_validation(
        standardise(train_x, mean, std), train_y, SEQUENCE_LENGTH, TRAIN_STRIDE, SPLIT_SEED
    )
    test = concatenate_pairs(
        strided_windows(standardise(x, mean, std), y, SEQUENCE_LENGTH, TEST_STRIDE)
        for x, y in map(_read_file, test_paths)
    )
    return train, valid, test


def _read_file(path: Path) -> tuple[np.ndarray, np.ndarray]:
    columns = [HEADER.index(name) + 1 for name in FEATURES]
    features, labels = [], []
    for line, fields in csv_data_rows(path, HEADER):
        check_field_count(path, fields, len(HEADER) + 1, line)
        features.append([parse_float(path, fields[c], line, HEADER[c - 1]) for c in columns])
        label = fields[len(HEADER)].strip()
        if label not in ("0", "1"):
            raise MalformedDatasetError(path, f"expected Occupancy 0 or 1, found {label!r}", line)
        labels.append(int(label))
    check_more_rows_than(path, len(labels), SEQUENCE_LENGTH)
    return np.asarray(features, dtype=np.float64), np.asarray(labels, dtype=np.int32)


load_data = task_loader(
    INFO,
    _arrays,
    returns=(
        "float32 inputs ``(N, 16, 5)`` and int32 labels ``(N, 16)``. On the UCI files: 7,315 "
        "training, 812 validation and 1,549 test windows."
    ),
)

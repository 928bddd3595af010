"""Individual household electric power consumption (UCI 235): active power from the other meters.

File (folder ``power/``): ``household_power_consumption.txt`` (about 2 million
minutes, 133 MB), ``;``-separated with the header ``Date;Time;
Global_active_power;Global_reactive_power;Voltage;Global_intensity;
Sub_metering_1;Sub_metering_2;Sub_metering_3``, CRLF line endings, and ``?``
(or an empty field) for missing values.

Protocol:

- missing values (``?`` or an empty field, nothing else: ``nan`` or ``inf``
  is an error) are forward-filled per column (a column that starts with
  missing values takes its first observed value there);
- all 7 numeric columns are z-scored with their mean and standard deviation
  over the whole file; the target is ``Global_active_power`` at every step, the
  inputs are the other 6 columns;
- non-overlapping windows of 32 minutes (starts ``0, 32, ...`` with
  ``s < rows - 32``);
- windows split at random (permutation seed 23489): 10% validation, 15% test,
  the rest training.

``protocol="original"`` computes the statistics in float32 with NumPy's
row-by-row accumulation, as the original code did (it gives a Voltage mean of
about 243.4 instead of 240.8); the corrected protocol uses float64.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from liquidtime.data._errors import MalformedDatasetError
from liquidtime.data._loader import task_loader
from liquidtime.data._parsing import check_header, check_more_rows_than, read_first_line, read_float_table
from liquidtime.data._scaling import standardise
from liquidtime.data._splits import random_split
from liquidtime.data._task import MSE, ORIGINAL, REGRESSION, Split, Splits, TaskInfo, TrainingDefaults
from liquidtime.data._windows import take_windows, window_starts

HEADER = (
    "Date",
    "Time",
    "Global_active_power",
    "Global_reactive_power",
    "Voltage",
    "Global_intensity",
    "Sub_metering_1",
    "Sub_metering_2",
    "Sub_metering_3",
)
SEQUENCE_LENGTH = 32
SPLIT_SEED = 23489
NON_FINITE_FIX = (
    "only '?' or an empty field marks a missing value in this file (it is forward-filled); "
    "write '?' or correct the value"
)

INFO = TaskInfo(
    name="power",
    title="Household electric power consumption",
    kind=REGRESSION,
    metric=MSE,
    num_classes=None,
    folder="power",
    files=("household_power_consumption.txt",),
    source=(
        "Hebrail & Berard, 'Individual household electric power consumption', UCI Machine "
        "Learning Repository id 235. CC BY 4.0."
    ),
    origin=(
        "https://archive.ics.uci.edu/dataset/235/individual+household+electric+power+consumption "
        "(household_power_consumption.zip); unzip it into power/."
    ),
    quirks="statistics computed in float32 (Voltage mean 243.4 instead of 240.8)",
    defaults=TrainingDefaults(node_state_clip=10.0),
)


def _arrays(paths: list[Path], protocol: str) -> Splits:
    """Non-overlapping windows of the z-scored columns, split at random."""
    (path,) = paths
    values = _read_file(path)
    if protocol == ORIGINAL:
        values = values.astype(np.float32)
        values -= np.mean(values, axis=0)
        values /= np.std(values, axis=0)
    else:
        values = standardise(values, values.mean(axis=0), values.std(axis=0))
    starts = window_starts(len(values), SEQUENCE_LENGTH, SEQUENCE_LENGTH)

    def windows(index: np.ndarray) -> Split:
        window = take_windows(values, starts[index], SEQUENCE_LENGTH)
        return window[..., 1:], window[..., :1]

    train_idx, valid_idx, test_idx = random_split(len(starts), SPLIT_SEED)
    return windows(train_idx), windows(valid_idx), windows(test_idx)


def _read_file(path: Path) -> np.ndarray:
    """The 7 numeric columns as float64, missing values forward-filled."""
    check_header(path, read_first_line(path).split(";"), HEADER)
    values = read_float_table(
        path,
        len(HEADER),
        delimiter=";",
        skip_rows=1,
        usecols=range(2, len(HEADER)),
        missing=("?", ""),
        column_names=HEADER,
        fix=NON_FINITE_FIX,
    )
    check_more_rows_than(path, len(values), SEQUENCE_LENGTH)
    return _forward_fill(path, values)


def _forward_fill(path: Path, values: np.ndarray) -> np.ndarray:
    """Fills NaNs in place with the column's previous value (its first value at the start)."""
    for column in range(values.shape[1]):
        missing = np.isnan(values[:, column])
        if not missing.any():
            continue
        observed = np.flatnonzero(~missing)
        if observed.size == 0:
            raise MalformedDatasetError(path, f"column {HEADER[column + 2]!r} has no values")
        holes = np.flatnonzero(missing)
        previous = np.maximum(np.searchsorted(observed, holes) - 1, 0)
        values[holes, column] = values[observed[previous], column]
    return values


load_data = task_loader(
    INFO,
    _arrays,
    returns=(
        "float32 inputs ``(N, 32, 6)`` and float32 targets ``(N, 32, 1)``. On the UCI file "
        "(2,075,259 rows, read in a few seconds): 64,851 windows, 48,639 training, 6,485 "
        "validation and 9,727 test."
    ),
)

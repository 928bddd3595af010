"""Gesture phase segmentation (UCI 302): the phase of a gesture at every frame.

Files (folder ``gesture/``): the seven processed files ``a1_va3.csv``,
``a2_va3.csv``, ``a3_va3.csv``, ``b1_va3.csv``, ``b3_va3.csv``, ``c1_va3.csv``
and ``c3_va3.csv``. Each is CSV with the header ``1,2,...,32,Phase``; every row
is 32 floats followed by the phase letter ``D`` (rest), ``P`` (preparation),
``S`` (stroke), ``H`` (hold) or ``R`` (retraction).

Protocol (the original and the corrected protocol are the same):

- the files are read in the original code's order ``a3, b1, b3, c1, c3, a2,
  a1`` (the order fixes which window gets which index, and so the split);
- each file with ``n`` rows gives ``m = n // 32`` windows of 32 rows at starts
  ``0, 32, ..., 32 (m - 1)`` plus ``m - 1`` half-shifted windows at
  ``16, 48, ...``, in order of their start (605 windows on the UCI files);
- the 32 features are z-scored with the mean and standard deviation over all
  rows of all windows (rows in two windows count twice); labels D0 P1 S2 H3 R4
  at every step;
- windows are split at random (permutation seed 23489): 10% validation, 15%
  test, the rest training.
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
    build_task,
    check_protocol,
)
from liquidtime.data._windows import take_windows

NUM_FEATURES = 32
HEADER = tuple(str(i) for i in range(1, NUM_FEATURES + 1)) + ("Phase",)
PHASES = {"D": 0, "P": 1, "S": 2, "H": 3, "R": 4}
SEQUENCE_LENGTH = 32
SPLIT_SEED = 23489

INFO = TaskInfo(
    name="gesture",
    title="Gesture phase segmentation",
    kind=PER_STEP_CLASSIFICATION,
    metric=ACCURACY,
    num_classes=5,
    folder="gesture",
    files=(
        "a3_va3.csv",
        "b1_va3.csv",
        "b3_va3.csv",
        "c1_va3.csv",
        "c3_va3.csv",
        "a2_va3.csv",
        "a1_va3.csv",
    ),
    source=(
        "Madeo, Lima & Peres, 'Gesture Unit Segmentation using Support Vector Machines: "
        "Segmenting Gestures from Rest Positions', SAC 2013. UCI Machine Learning Repository "
        "id 302 ('Gesture Phase Segmentation'). CC BY 4.0."
    ),
    origin=(
        "https://archive.ics.uci.edu/dataset/302/gesture+phase+segmentation "
        "(gesture_phase_dataset.zip); put the seven *_va3.csv files into gesture/."
    ),
)


def load_data(data_dir: os.PathLike | str | None = None, protocol: str = "corrected") -> Task:
    """Loads the gesture task.

    Args:
        data_dir: Data root or the ``gesture`` folder; ``None`` uses ``LIQUIDTIME_DATA``.
        protocol: ``"corrected"`` or ``"original"`` (identical for this task).

    Returns:
        A :class:`~liquidtime.data.Task` with float32 inputs ``(N, 32, 32)``
        and int32 labels ``(N, 32)`` in ``0..4``. On the UCI files: 605
        windows, 455 training, 60 validation and 90 test.

    Raises:
        DatasetNotFoundError: If a file is missing.
        MalformedDatasetError: If a file does not have the format above.
    """
    protocol = check_protocol(protocol)
    paths = locate_files(INFO, data_dir)
    windows_x, windows_y = [], []
    for path in paths:
        x, y = _read_file(path)
        starts = _interleaved_starts(len(x))
        windows_x.append(take_windows(x, starts, SEQUENCE_LENGTH))
        windows_y.append(take_windows(y, starts, SEQUENCE_LENGTH))
    x = np.concatenate(windows_x)
    y = np.concatenate(windows_y)
    if len(x) == 0:
        raise MalformedDatasetError(
            paths[0].parent,
            f"expected at least one file with {SEQUENCE_LENGTH} or more rows, found none",
        )
    flat = x.reshape(-1, NUM_FEATURES)
    x = standardise(x, flat.mean(axis=0), flat.std(axis=0))

    train_idx, valid_idx, test_idx = random_split(len(x), SPLIT_SEED)
    return build_task(
        INFO,
        protocol,
        train=(x[train_idx], y[train_idx]),
        valid=(x[valid_idx], y[valid_idx]),
        test=(x[test_idx], y[test_idx]),
    )


def _interleaved_starts(num_rows: int) -> np.ndarray:
    """``0, 16, 32, ..., 32 (m - 1)`` for ``m = num_rows // 32`` whole blocks."""
    num_blocks = num_rows // SEQUENCE_LENGTH
    return np.arange(0, max(2 * num_blocks - 1, 0), dtype=np.int64) * (SEQUENCE_LENGTH // 2)


def _read_file(path: Path) -> tuple[np.ndarray, np.ndarray]:
    rows = csv_rows(path)
    header = next(rows, None)
    if header is None:
        raise MalformedDatasetError(path, "the file is empty")
    check_header(path, header[1], HEADER, header[0])
    features, labels = [], []
    for line, fields in rows:
        check_field_count(path, fields, len(HEADER), line)
        features.append(
            [parse_float(path, fields[i], line, HEADER[i]) for i in range(NUM_FEATURES)]
        )
        phase = fields[NUM_FEATURES].strip()
        if phase not in PHASES:
            raise MalformedDatasetError(
                path, f"expected a phase in {sorted(PHASES)}, found {phase!r}", line
            )
        labels.append(PHASES[phase])
    return np.asarray(features, dtype=np.float64).reshape(-1, NUM_FEATURES), np.asarray(
        labels, dtype=np.int32
    )

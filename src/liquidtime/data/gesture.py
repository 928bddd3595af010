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

from pathlib import Path

import numpy as np

from liquidtime.data._errors import MalformedDatasetError
from liquidtime.data._loader import task_loader
from liquidtime.data._parsing import check_field_count, csv_data_rows, parse_float
from liquidtime.data._scaling import standardise
from liquidtime.data._splits import split_at_random
from liquidtime.data._task import ACCURACY, PER_STEP_CLASSIFICATION, Splits, TaskInfo
from liquidtime.data._windows import concatenate_pairs, window_pairs

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


def _arrays(paths: list[Path], protocol: str) -> Splits:
    """The windows of all files, z-scored together and split at random."""
    x, y = concatenate_pairs(_interleaved_windows(*_read_file(path)) for path in paths)
    if len(x) == 0:
        raise MalformedDatasetError(
            paths[0].parent,
            f"expected at least one file with {SEQUENCE_LENGTH} or more rows, found none",
        )
    flat = x.reshape(-1, NUM_FEATURES)
    return split_at_random(standardise(x, flat.mean(axis=0), flat.std(axis=0)), y, SPLIT_SEED)


def _interleaved_windows(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A file's windows at ``0, 16, 32, ..., 32 (m - 1)`` for its ``m = rows // 32`` whole blocks.

    Args:
        x: The file's features, one row per frame.
        y: Its phase labels.

    Returns:
        Feature and label windows of 32 frames.
    """
    num_blocks = len(x) // SEQUENCE_LENGTH
    starts = np.arange(0, max(2 * num_blocks - 1, 0), dtype=np.int64) * (SEQUENCE_LENGTH // 2)
    return window_pairs(x, y, starts, SEQUENCE_LENGTH)


def _read_file(path: Path) -> tuple[np.ndarray, np.ndarray]:
    features, labels = [], []
    for line, fields in csv_data_rows(path, HEADER):
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


load_data = task_loader(
    INFO,
    _arrays,
    returns=(
        "float32 inputs ``(N, 32, 32)`` and int32 labels ``(N, 32)`` in ``0..4``. On the UCI "
        "files: 605 windows, 455 training, 60 validation and 90 test."
    ),
)

"""Human activity recognition with smartphones (UCI 240): six activities from 561 features.

Files (folder ``har/``, the UCI zip unpacked as is):
``UCI HAR Dataset/train/X_train.txt``, ``UCI HAR Dataset/train/y_train.txt``,
``UCI HAR Dataset/test/X_test.txt`` and ``UCI HAR Dataset/test/y_test.txt``.
Each X row is 561 whitespace-separated floats; each y row one integer 1-6, and
the X and y files of a split have the same number of rows.

Protocol (the original and the corrected protocol are the same):

- inputs the 561 features as given (no normalisation); label ``y - 1`` at
  every step;
- windows of 16 rows, stride 1 in the training files and stride 8 in the test
  files (starts ``s < rows - 16``), following the row order of the files;
- validation is 10% of the training windows (permutation seed 893429); the
  test windows are the test set.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from liquidtime.data._errors import MalformedDatasetError
from liquidtime.data._loader import task_loader
from liquidtime.data._parsing import read_float_table
from liquidtime.data._splits import split_off_validation
from liquidtime.data._task import ACCURACY, PER_STEP_CLASSIFICATION, Splits, TaskInfo
from liquidtime.data._windows import strided_windows

NUM_FEATURES = 561
SEQUENCE_LENGTH = 16
TRAIN_STRIDE = 1
TEST_STRIDE = 8
SPLIT_SEED = 893429

INFO = TaskInfo(
    name="har",
    title="Human activity recognition using smartphones",
    kind=PER_STEP_CLASSIFICATION,
    metric=ACCURACY,
    num_classes=6,
    folder="har",
    files=(
        "UCI HAR Dataset/train/X_train.txt",
        "UCI HAR Dataset/train/y_train.txt",
        "UCI HAR Dataset/test/X_test.txt",
        "UCI HAR Dataset/test/y_test.txt",
    ),
    source=(
        "Anguita, Ghio, Oneto, Parra & Reyes-Ortiz, 'A Public Domain Dataset for Human Activity "
        "Recognition Using Smartphones', ESANN 2013. UCI Machine Learning Repository id 240. "
        "CC BY 4.0."
    ),
    origin=(
        "https://archive.ics.uci.edu/dataset/240/human+activity+recognition+using+smartphones; "
        "unzip 'UCI HAR Dataset.zip' into har/ so that "
        "har/UCI HAR Dataset/train/X_train.txt exists."
    ),
)


def _arrays(paths: list[Path], protocol: str) -> Splits:
    """Training windows (10% for validation) and test windows, in the files' row order."""
    x_train_path, y_train_path, x_test_path, y_test_path = paths
    train_x, train_y = _read_split(x_train_path, y_train_path)
    test_x, test_y = _read_split(x_test_path, y_test_path)
    train, valid = split_off_validation(
        train_x, train_y, SEQUENCE_LENGTH, TRAIN_STRIDE, SPLIT_SEED
    )
    return train, valid, strided_windows(test_x, test_y, SEQUENCE_LENGTH, TEST_STRIDE)


def _read_split(x_path: Path, y_path: Path) -> tuple[np.ndarray, np.ndarray]:
    x = read_float_table(x_path, NUM_FEATURES).astype(np.float32)
    y = read_float_table(y_path, 1)[:, 0]
    bad = np.flatnonzero((y != np.round(y)) | (y < 1) | (y > 6))
    if bad.size:
        raise MalformedDatasetError(
            y_path,
            f"expected an activity label 1-6 on every row, "
            f"found {y[bad[0]]!r} in data row {bad[0] + 1}",
        )
    if len(x) != len(y):
        raise MalformedDatasetError(
            y_path, f"expected as many rows as {x_path.name} ({len(x)}), found {len(y)}"
        )
    if len(x) <= SEQUENCE_LENGTH:
        raise MalformedDatasetError(
            x_path, f"expected more than {SEQUENCE_LENGTH} rows, found {len(x)}"
        )
    return x, (y - 1).astype(np.int32)


load_data = task_loader(
    INFO,
    _arrays,
    returns=(
        "float32 inputs ``(N, 16, 561)`` and int32 labels ``(N, 16)`` in ``0..5``. On the UCI "
        "files (7,352 training and 2,947 test rows): 6,603 training, 733 validation and 367 "
        "test windows."
    ),
)

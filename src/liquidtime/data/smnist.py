"""Sequential MNIST: a digit image read row by row, classified after the last row.

Files (folder ``mnist/``): the four uncompressed IDX files
``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``. An image file is a
16-byte header (magic ``0x00000803``, then image count, rows and columns as
big-endian uint32) followed by one unsigned byte per pixel; a label file an
8-byte header (magic ``0x00000801``, label count) and one byte per label.

Protocol (the original and the corrected protocol are the same): every image
is one sequence of 28 steps (its rows) of 28 features (pixels / 255); the label
belongs to the whole sequence. Training is the first 90% of the training file
(54,000 images), validation the last 10% (6,000) and test the 10,000 test
images.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from liquidtime.data._errors import MalformedDatasetError
from liquidtime.data._loader import task_loader
from liquidtime.data._task import ACCURACY, SEQUENCE_CLASSIFICATION, Splits, TaskInfo, TrainingDefaults

IMAGE_MAGIC = 0x803
LABEL_MAGIC = 0x801
IMAGE_SIZE = 28
TRAIN_FRACTION = 0.9

INFO = TaskInfo(
    name="smnist",
    title="Sequential MNIST",
    kind=SEQUENCE_CLASSIFICATION,
    metric=ACCURACY,
    num_classes=10,
    folder="mnist",
    files=(
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ),
    source=(
        "LeCun, Cortes & Burges, 'The MNIST database of handwritten digits'. "
        "Commonly distributed under CC BY-SA 3.0."
    ),
    origin=(
        "http://yann.lecun.com/exdb/mnist/ or any mirror of the four IDX files; decompress "
        "the .gz files (gunzip) into mnist/."
    ),
    defaults=TrainingDefaults(ltc_learning_rate=0.005),
)


def _arrays(paths: list[Path], protocol: str) -> Splits:
    """The first 90% of the training images for training, the rest for validation."""
    train_images, train_labels, test_images, test_labels = paths
    train_x, train_y = _read_pair(train_images, train_labels)
    num_train = int(TRAIN_FRACTION * len(train_x))
    train = train_x[:num_train], train_y[:num_train]
    valid = train_x[num_train:], train_y[num_train:]
    return train, valid, _read_pair(test_images, test_labels)


def _read_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    images = _read_idx(images_path, IMAGE_MAGIC, (IMAGE_SIZE, IMAGE_SIZE))
    labels = _read_idx(labels_path, LABEL_MAGIC, ())
    if len(images) != len(labels):
        raise MalformedDatasetError(
            labels_path, f"expected {len(images)} labels (one per image), found {len(labels)}"
        )
    if labels.size and labels.max() > 9:
        raise MalformedDatasetError(
            labels_path, f"expected digit labels 0-9, found {int(labels.max())}"
        )
    return images.astype(np.float32) / 255.0, labels.astype(np.int32)


def _read_idx(path: Path, magic: int, item_shape: tuple[int, ...]) -> np.ndarray:
    """Reads an unsigned-byte IDX file whose items have shape ``item_shape``."""
    data = path.read_bytes()
    header_size = 4 * (2 + len(item_shape))
    if len(data) < header_size:
        raise MalformedDatasetError(
            path, f"expected an IDX header of {header_size} bytes, the file has {len(data)} bytes"
        )
    header = np.frombuffer(data, dtype=">u4", count=header_size // 4)
    if header[0] != magic:
        raise MalformedDatasetError(
            path, f"expected the IDX magic number {magic:#010x}, found {int(header[0]):#010x}"
        )
    count, shape = int(header[1]), tuple(int(d) for d in header[2:])
    if shape != item_shape:
        raise MalformedDatasetError(path, f"expected items of shape {item_shape}, found {shape}")
    expected_size = header_size + count * int(np.prod(item_shape, dtype=np.int64))
    if len(data) != expected_size:
        state = "truncated" if len(data) < expected_size else "longer than its header says"
        raise MalformedDatasetError(
            path,
            f"the header announces {count} items, i.e. {expected_size} bytes, but the file has "
            f"{len(data)} bytes ({state})",
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_size).reshape((count,) + item_shape)


load_data = task_loader(
    INFO,
    _arrays,
    returns=(
        "float32 inputs ``(N, 28, 28)`` in ``[0, 1]`` and int32 labels ``(N,)`` in ``0..9``: "
        "54,000 training, 6,000 validation and 10,000 test sequences on the MNIST files."
    ),
    malformed=(
        "If a file is not a valid IDX file of this shape, is truncated, or its image and "
        "label counts differ."
    ),
)

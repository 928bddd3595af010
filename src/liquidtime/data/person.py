"""Localization data for person activity (UCI 196): activity from four body tags.

File (folder ``person/``): ``ConfLongDemo_JSI.txt``. Each line has 8
comma-separated fields: recording name (``A01`` ... ``E05``), tag id, timestamp
(ticks), date string, x, y, z, activity. Lines of one recording are
consecutive.

Protocol:

- inputs per line (one tag reading): one-hot of the tag id
  (``010-000-024-033``, ``010-000-030-096``, ``020-000-033-111``,
  ``020-000-032-221``) followed by x, y, z, not normalised (the original code
  computed statistics but never applied them);
- the 11 activities map to 7 classes: lying down / lying 0; sitting down /
  sitting 1; standing up from lying, from sitting and from sitting on the
  ground 2; walking 3; falling 4; on all fours 5; sitting on the ground 6;
- every recording (run of consecutive lines with the same name) is cut into
  windows of 32 lines with stride 16 (starts ``s < lines - 32``), recordings in
  file order;
- windows split at random (permutation seed 27731): 10% validation, 15% test,
  the rest training.

``protocol="original"`` drops the file's last recording (``E05`` in the UCI
file), which the original code never appended.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from liquidtime.data._errors import MalformedDatasetError
from liquidtime.data._loader import task_loader
from liquidtime.data._parsing import check_field_count, parse_float, read_text
from liquidtime.data._splits import split_at_random
from liquidtime.data._task import (
    ACCURACY,
    ORIGINAL,
    PER_STEP_CLASSIFICATION,
    Splits,
    TaskInfo,
    TrainingDefaults,
)
from liquidtime.data._windows import concatenate_pairs, strided_windows

TAGS = ("010-000-024-033", "010-000-030-096", "020-000-033-111", "020-000-032-221")
ACTIVITIES = {
    "lying down": 0,
    "lying": 0,
    "sitting down": 1,
    "sitting": 1,
    "standing up from lying": 2,
    "standing up from sitting": 2,
    "standing up from sitting on the ground": 2,
    "walking": 3,
    "falling": 4,
    "on all fours": 5,
    "sitting on the ground": 6,
}
NUM_FIELDS = 8
SEQUENCE_LENGTH = 32
STRIDE = 16
SPLIT_SEED = 27731

INFO = TaskInfo(
    name="person",
    title="Person activity recognition",
    kind=PER_STEP_CLASSIFICATION,
    metric=ACCURACY,
    num_classes=7,
    folder="person",
    files=("ConfLongDemo_JSI.txt",),
    source=(
        "Kaluza, Mirchevska, Dovgan, Lustrek & Gams, 'An agent-based approach to care in "
        "independent living', AmI 2010. UCI Machine Learning Repository id 196 ('Localization "
        "Data for Person Activity'). CC BY 4.0."
    ),
    origin=(
        "https://archive.ics.uci.edu/dataset/196/localization+data+for+person+activity; "
        "put ConfLongDemo_JSI.txt into person/."
    ),
    quirks="the last recording of the file (E05) is not used",
    defaults=TrainingDefaults(batch_size=64),
)


def _arrays(paths: list[Path], protocol: str) -> Splits:
    """The windows of every recording (the original protocol: but the last), split at random."""
    (path,) = paths
    recordings = _read_recordings(path)
    if protocol == ORIGINAL:
        if len(recordings) < 2:
            raise MalformedDatasetError(
                path, "expected at least two recordings (the original protocol drops the last one)"
            )
        recordings = recordings[:-1]
    windows = concatenate_pairs(strided_windows(x, y, SEQUENCE_LENGTH, STRIDE) for x, y in recordings)
    return split_at_random(*windows, SPLIT_SEED)


def _read_recordings(path: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """Splits the file into runs of consecutive lines with the same recording name."""
    names, features, labels = [], [], []
    for line, text in enumerate(read_text(path).split("\n"), start=1):
        if not text.strip():
            continue
        fields = [field.strip() for field in text.split(",")]
        check_field_count(path, fields, NUM_FIELDS, line)
        name, tag, activity = fields[0], fields[1], fields[7]
        if tag not in TAGS:
            raise MalformedDatasetError(
                path, f"expected a tag id in {list(TAGS)}, found {tag!r}", line
            )
        if activity not in ACTIVITIES:
            raise MalformedDatasetError(
                path, f"expected an activity in {sorted(ACTIVITIES)}, found {activity!r}", line
            )
        one_hot = [1.0 if tag == known else 0.0 for known in TAGS]
        position = [
            parse_float(path, fields[i], line, axis)
            for i, axis in zip((4, 5, 6), "xyz", strict=True)
        ]
        names.append(name)
        features.append(one_hot + position)
        labels.append(ACTIVITIES[activity])
    if not names:
        raise MalformedDatasetError(path, "expected lines of tag readings, found none")
    x = np.asarray(features, dtype=np.float32)
    y = np.asarray(labels, dtype=np.int32)
    names_array = np.asarray(names)
    boundaries = np.flatnonzero(names_array[1:] != names_array[:-1]) + 1
    return list(zip(np.split(x, boundaries), np.split(y, boundaries), strict=True))


load_data = task_loader(
    INFO, _arrays, returns="float32 inputs ``(N, 32, 7)`` and int32 labels ``(N, 32)`` in ``0..6``."
)

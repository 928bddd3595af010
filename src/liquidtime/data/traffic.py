"""Metro Interstate traffic volume (UCI 492): hourly westbound I-94 traffic from weather and time.

File (folder ``traffic/``): ``Metro_Interstate_Traffic_Volume.csv``, CSV with the
header ``holiday,temp,rain_1h,snow_1h,clouds_all,weather_main,
weather_description,date_time,traffic_volume``; ``holiday`` is the string
``None`` on ordinary days and the holiday's name otherwise, ``temp`` is in
kelvin (a few rows are 0 K and are kept as they are), ``date_time`` is
``YYYY-MM-DD HH:MM:SS``.

Protocol:

- 7 inputs per hour: holiday flag (1 where ``holiday`` names a holiday; the
  UCI file names it only on the midnight row of each holiday, 61 rows),
  ``temp`` minus its mean, ``rain_1h``, ``snow_1h``, ``clouds_all``, weekday
  (Monday 0 to Sunday 6) and ``sin(pi * hour / 24)``; target
  ``traffic_volume`` z-scored, at every step;
- windows of 32 hours with stride 4 (starts ``s < rows - 32``);
- windows split at random (permutation seed 23489): 10% validation, 15% test,
  the rest training.

``protocol="original"`` reproduces two quirks of the code of the paper's time:
the holiday flag compared the column with Python ``None`` and so was always 0,
and the windows were stacked once more along the wrong axis, giving 32
sequences of ``N`` steps (12,043 on the UCI file; sequence ``j`` is rows
``j, j + 4, j + 8, ...``) split 25 training / 3 validation / 4 test by the
same seed.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np

from liquidtime.data._errors import MalformedDatasetError
from liquidtime.data._loader import task_loader
from liquidtime.data._parsing import check_field_count, check_more_rows_than, csv_data_rows, parse_float
from liquidtime.data._scaling import standardise
from liquidtime.data._splits import split_at_random
from liquidtime.data._task import MSE, ORIGINAL, REGRESSION, Splits, TaskInfo, TrainingDefaults
from liquidtime.data._windows import strided_windows

HEADER = (
    "holiday",
    "temp",
    "rain_1h",
    "snow_1h",
    "clouds_all",
    "weather_main",
    "weather_description",
    "date_time",
    "traffic_volume",
)
NO_HOLIDAY = "None"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
SEQUENCE_LENGTH = 32
STRIDE = 4
SPLIT_SEED = 23489

INFO = TaskInfo(
    name="traffic",
    title="Metro Interstate traffic volume",
    kind=REGRESSION,
    metric=MSE,
    num_classes=None,
    folder="traffic",
    files=("Metro_Interstate_Traffic_Volume.csv",),
    source=(
        "Metro Interstate Traffic Volume, UCI Machine Learning Repository id 492 (John Hogue; "
        "MN DoT ATR station 301 and OpenWeatherMap). CC BY 4.0."
    ),
    origin=(
        "https://archive.ics.uci.edu/dataset/492/metro+interstate+traffic+volume; gunzip "
        "Metro_Interstate_Traffic_Volume.csv.gz into traffic/."
    ),
    quirks=(
        "holiday flag always 0 (the column was compared with Python None); windows stacked "
        "into 32 sequences of N steps split 25/3/4"
    ),
    defaults=TrainingDefaults(node_state_clip=10.0),
)


def _arrays(paths: list[Path], protocol: str) -> Splits:
    """Windows of 32 hours (the original protocol: 32 sequences), split at random."""
    (path,) = paths
    original = protocol == ORIGINAL
    x, y = _read_file(path, holiday_flag=not original)
    windows = strided_windows(x, y, SEQUENCE_LENGTH, STRIDE, as_sequences=original)
    return split_at_random(*windows, SPLIT_SEED)


def _read_file(path: Path, holiday_flag: bool) -> tuple[np.ndarray, np.ndarray]:
    """Returns float64 inputs ``(rows, 7)`` and z-scored targets ``(rows, 1)``."""
    features, volumes = [], []
    for line, fields in csv_data_rows(path, HEADER):
        check_field_count(path, fields, len(HEADER), line)
        try:
            moment = datetime.datetime.strptime(fields[7].strip(), DATE_FORMAT)
        except ValueError:
            raise MalformedDatasetError(
                path, f"expected date_time as YYYY-MM-DD HH:MM:SS, found {fields[7]!r}", line
            ) from None
        holiday = 1.0 if holiday_flag and fields[0].strip() != NO_HOLIDAY else 0.0
        numbers = [parse_float(path, fields[i], line, HEADER[i]) for i in range(1, 5)]
        features.append([holiday, *numbers, moment.weekday(), np.sin(np.pi * moment.hour / 24)])
        volumes.append(parse_float(path, fields[8], line, "traffic_volume"))
    check_more_rows_than(path, len(volumes), SEQUENCE_LENGTH)
    x = np.asarray(features, dtype=np.float64)
    x[:, 1] -= x[:, 1].mean()
    volume = np.asarray(volumes, dtype=np.float64)
    y = standardise(volume, volume.mean(), volume.std())
    return x, y[:, None]


load_data = task_loader(
    INFO,
    _arrays,
    returns=(
        "float32 inputs ``(N, T, 7)`` and float32 targets ``(N, T, 1)``. Corrected on the UCI "
        "file (48,204 rows): 12,043 windows of 32 steps, 9,033 training, 1,204 validation and "
        "1,806 test. Original: sequences of 12,043 steps, 25 training, 3 validation and 4 test."
    ),
)

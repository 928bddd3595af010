"""Loaders for the nine tasks of the LTC paper (Hasani et al., AAAI 2021).

Each task has a module with a ``load_data(data_dir=None, protocol="corrected")``
function, in the style of ``keras.datasets``, and :func:`load_task` loads any of
them by name. They read the data sets' original files from a data root holding
one folder per task (``occupancy/``, ``traffic/``, ``ozone/``, ``power/``,
``mnist/``, ``gesture/``, ``har/``, ``person/``, ``cheetah/``), given as
``data_dir`` or by the environment variable ``LIQUIDTIME_DATA``; ``data_dir``
may also be the task's folder itself. The occupancy files ship with liquidtime.

A loaded :class:`Task` holds float32 inputs ``(N, T, F)`` and targets: int32
``(N, T)`` for per-step classification, int32 ``(N,)`` for sequence
classification (smnist) and float32 ``(N, T, D)`` for regression. Each task's
protocol (windows, strides, normalisation, seeded splits) is the one of the
paper's code; ``protocol="original"`` also reproduces the code's quirks where
a task has them (ozone, traffic, power, person).

Example:

```python
from liquidtime import data

task = data.load_task("occupancy")
task.x_train.shape            # (7315, 16, 5)
task.defaults.learning_rate("ltc")         # 0.005
data.PAPER_RESULTS["occupancy"]["ltc"]      # PaperResult(mean=94.63, std=0.17)
```
"""

from __future__ import annotations

from liquidtime.data import (
    cheetah,
    gesture,
    har,
    occupancy,
    ozone,
    person,
    power,
    smnist,
    traffic,
)
from liquidtime.data._errors import DatasetNotFoundError, MalformedDatasetError
from liquidtime.data._paths import ENV_VAR
from liquidtime.data._task import (
    MODELS,
    PROTOCOLS,
    Task,
    TaskInfo,
    TrainingDefaults,
)
from liquidtime.data.paper_results import PAPER_RESULTS, PAPER_TABLES, PAPER_UNITS, PaperResult
from liquidtime.data.registry import TASKS, get_task_defaults, get_task_info, load_task, task_names

__all__ = [
    "DatasetNotFoundError",
    "ENV_VAR",
    "MODELS",
    "MalformedDatasetError",
    "PAPER_RESULTS",
    "PAPER_TABLES",
    "PAPER_UNITS",
    "PROTOCOLS",
    "PaperResult",
    "TASKS",
    "Task",
    "TaskInfo",
    "TrainingDefaults",
    "cheetah",
    "gesture",
    "get_task_defaults",
    "get_task_info",
    "har",
    "load_task",
    "occupancy",
    "ozone",
    "person",
    "power",
    "smnist",
    "task_names",
    "traffic",
]

"""Look-up of the paper's tasks by name."""

from __future__ import annotations

import os
from collections.abc import Callable
from types import MappingProxyType

from liquidtime.data import cheetah, gesture, har, occupancy, ozone, person, power, smnist, traffic
from liquidtime.data._task import Task, TaskInfo, TrainingDefaults

_MODULES = (gesture, occupancy, har, smnist, traffic, power, ozone, person, cheetah)

#: Task name -> :class:`TaskInfo`, in the paper's order.
TASKS: MappingProxyType[str, TaskInfo] = MappingProxyType({m.INFO.name: m.INFO for m in _MODULES})

_LOADERS: dict[str, Callable[..., Task]] = {m.INFO.name: m.load_data for m in _MODULES}


def task_names() -> tuple[str, ...]:
    """The names of the nine tasks, in the paper's order."""
    return tuple(TASKS)


def get_task_info(name: str) -> TaskInfo:
    """The static description of task ``name`` (kind, metric, files, source, defaults).

    Raises:
        ValueError: For an unknown task name.
    """
    if name not in TASKS:
        raise ValueError(f"Unknown task {name!r}; expected one of {list(TASKS)}.")
    return TASKS[name]


def get_task_defaults(name: str) -> TrainingDefaults:
    """The paper's training hyperparameters for task ``name``.

    Raises:
        ValueError: For an unknown task name.
    """
    return get_task_info(name).defaults


def load_task(
    name: str, data_dir: os.PathLike | str | None = None, protocol: str = "corrected"
) -> Task:
    """Loads one of the paper's tasks.

    Args:
        name: One of :func:`task_names`: ``gesture``, ``occupancy``, ``har``,
            ``smnist``, ``traffic``, ``power``, ``ozone``, ``person``, ``cheetah``.
        data_dir: The data root (holding one folder per task) or the task's
            folder itself. ``None`` uses the environment variable
            ``LIQUIDTIME_DATA``, and for occupancy then the copy shipped with
            liquidtime.
        protocol: ``"corrected"`` (default) or ``"original"``, which reproduces
            the quirks of the paper's code where the task has any
            (``TaskInfo.quirks``); otherwise both are the same.

    Returns:
        The :class:`Task`.

    Raises:
        ValueError: For an unknown task or protocol name.
        DatasetNotFoundError: If a file is missing.
        MalformedDatasetError: If a file does not have the expected format.
    """
    get_task_info(name)
    return _LOADERS[name](data_dir=data_dir, protocol=protocol)

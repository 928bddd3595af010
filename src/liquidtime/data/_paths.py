"""Where a task's files are looked for.

The data root holds one sub-folder per task::

    $LIQUIDTIME_DATA/
        occupancy/  datatraining.txt  datatest.txt  datatest2.txt
        traffic/    Metro_Interstate_Traffic_Volume.csv
        ozone/      eighthr.data
        power/      household_power_consumption.txt
        mnist/      train-images-idx3-ubyte  train-labels-idx1-ubyte
                    t10k-images-idx3-ubyte   t10k-labels-idx1-ubyte
        gesture/    a1_va3.csv ... c3_va3.csv
        har/        UCI HAR Dataset/train/X_train.txt ...
        person/     ConfLongDemo_JSI.txt
        cheetah/    trace_0000.npy ... trace_0024.npy

Search order: an explicit ``data_dir`` (either the root or the task folder
itself) and nothing else; without one, the root named by the environment
variable ``LIQUIDTIME_DATA`` (again root or task folder), then a copy shipped
inside the package (occupancy only).
"""

from __future__ import annotations

import importlib.resources
import os
from collections.abc import Sequence
from pathlib import Path

from liquidtime.data._errors import DatasetNotFoundError
from liquidtime.data._task import TaskInfo

ENV_VAR = "LIQUIDTIME_DATA"

_PACKAGED_TASKS = ("occupancy",)


def ships_with_liquidtime(info: TaskInfo) -> bool:
    """Whether a copy of a task's files is inside the package.

    Args:
        info: The task.

    Returns:
        True for occupancy, False for the others.
    """
    return info.name in _PACKAGED_TASKS


def _packaged_dir(info: TaskInfo) -> Path | None:
    if not ships_with_liquidtime(info):
        return None
    return Path(str(importlib.resources.files("liquidtime.data").joinpath("_files").joinpath(info.folder)))


def candidate_dirs(info: TaskInfo, data_dir: os.PathLike | str | None) -> list[Path]:
    """The directories searched for ``info``'s files, in order."""
    if data_dir is not None:
        root = Path(data_dir).expanduser()
        return [root / info.folder, root]
    candidates = []
    env_root = os.environ.get(ENV_VAR)
    if env_root:
        root = Path(env_root).expanduser()
        candidates += [root / info.folder, root]
    packaged = _packaged_dir(info)
    if packaged is not None:
        candidates.append(packaged)
    return candidates


def locate_files(info: TaskInfo, data_dir: os.PathLike | str | None) -> list[Path]:
    """Finds a task's files.

    The first candidate directory (see :func:`candidate_dirs`) that holds any of
    the files is taken to be the task folder; every file must then be there.

    Args:
        info: The task.
        data_dir: Explicit data root or task folder, or ``None``.

    Returns:
        The paths of ``info.files``, in the same order.

    Raises:
        DatasetNotFoundError: If a file is missing; the message names it, the
            directories searched and where the data set comes from.
    """
    files = info.files
    candidates = candidate_dirs(info, data_dir)
    for directory in candidates:
        if any((directory / name).is_file() for name in files):
            for name in files:
                if not (directory / name).is_file():
                    raise _not_found(info, name, [directory], data_dir)
            return [directory / name for name in files]
    raise _not_found(info, files[0], candidates, data_dir)


def _not_found(
    info: TaskInfo, name: str, searched: Sequence[Path], data_dir: os.PathLike | str | None
) -> DatasetNotFoundError:
    if searched:
        looked = "Looked in:\n" + "\n".join(f"  {directory}" for directory in searched)
    else:
        looked = f"No data directory was given and the environment variable {ENV_VAR} is not set."
    layout = f"a data root holding {info.folder}/, or the {info.folder} folder itself"
    env_root = os.environ.get(ENV_VAR)
    if data_dir is not None:
        how = f"data_dir must be {layout}."
    elif env_root:
        how = f"The data root is {ENV_VAR}={env_root}; point it at {layout}, or pass data_dir=."
    else:
        how = f"Pass data_dir= ({layout}) or set the environment variable {ENV_VAR} to a data root."
    message = (
        f"Data file {name!r} of task {info.name!r} was not found.\n{looked}\n{how}\n"
        f"Where to get it: {info.origin}\nData set: {info.source}"
    )
    return DatasetNotFoundError(message, name, searched)

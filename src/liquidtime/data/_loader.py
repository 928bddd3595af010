"""A task module's ``load_data``: the steps and the documentation that every task shares.

Every loader checks the protocol, finds the task's files, turns them into the train,
validation and test arrays its own way, and casts them (:func:`build_task`). Its task
module gives :func:`task_loader` that middle step and what the arrays are; the rest,
the signature and the docstring included, is made here.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from liquidtime.data._paths import locate_files, ships_with_liquidtime
from liquidtime.data._task import Splits, Task, TaskInfo, build_task, check_protocol


class LoadData(Protocol):
    """The signature of every task module's ``load_data``."""

    def __call__(
        self, data_dir: os.PathLike | str | None = None, protocol: str = "corrected"
    ) -> Task: ...


def task_loader(
    info: TaskInfo,
    arrays: Callable[[list[Path], str], Splits],
    returns: str,
    malformed: str = "If a file does not have the format of the module docstring.",
) -> LoadData:
    """Makes a task module's ``load_data(data_dir=None, protocol="corrected")``.

    Args:
        info: The task.
        arrays: The task module's own step (its ``_arrays``): given the paths of
            ``info.files`` and the checked protocol, reads the files and returns
            ``(train, valid, test)``, each ``(inputs, targets)``.
        returns: What the task holds, the end of the sentence "A Task with ...".
        malformed: When :class:`MalformedDatasetError` is raised, for the docstring.

    Returns:
        The function, named ``load_data`` in ``arrays``'s module, with its docstring.
    """

    def load_data(data_dir: os.PathLike | str | None = None, protocol: str = "corrected") -> Task:
        protocol = check_protocol(protocol)
        train, valid, test = arrays(locate_files(info, data_dir), protocol)
        return build_task(info, protocol, train, valid, test)

    load_data.__module__ = arrays.__module__
    load_data.__qualname__ = "load_data"
    load_data.__doc__ = _docstring(info, returns, malformed)
    return load_data


def _docstring(info: TaskInfo, returns: str, malformed: str) -> str:
    """The docstring of a task's ``load_data``.

    Args:
        info: The task: its name, title, folder and quirks.
        returns: What the task holds (see :func:`task_loader`).
        malformed: When :class:`MalformedDatasetError` is raised.

    Returns:
        Google-style text: summary, Args, Returns and Raises.
    """
    fallback = " and then the copy shipped with liquidtime" if ships_with_liquidtime(info) else ""
    if info.quirks:
        protocol = (
            '``"corrected"`` (default) or ``"original"``, which keeps the quirks of the '
            f"paper's code (see the module docstring): {info.quirks}."
        )
    else:
        protocol = '``"corrected"`` or ``"original"`` (identical for this task).'
    sections = {
        "Args": {
            "data_dir": f"Data root or the ``{info.folder}`` folder; ``None`` uses "
            f"``LIQUIDTIME_DATA``{fallback}.",
            "protocol": protocol,
        },
        "Returns": {"": f"A :class:`~liquidtime.data.Task` with {returns}"},
        "Raises": {
            "DatasetNotFoundError": "If a file is missing.",
            "MalformedDatasetError": malformed,
        },
    }
    lines = [f"Loads the {info.name} task ({info.title})."]
    for section, entries in sections.items():
        lines += ["", f"{section}:"]
        for name, text in entries.items():
            entry = f"{name}: {text}" if name else text
            lines += textwrap.wrap(
                entry, 88, initial_indent=" " * 4, subsequent_indent=" " * (8 if name else 4),
                break_on_hyphens=False,
            )
    return "\n".join(lines) + "\n"

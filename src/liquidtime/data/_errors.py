"""Errors raised by the data loaders."""

from __future__ import annotations

import os
from collections.abc import Sequence


class DatasetNotFoundError(FileNotFoundError):
    """A file of a data set is not where the loader looked for it.

    The message names the missing file, every directory searched, how to point
    the loader at the data, and where the data set can be downloaded.

    Attributes:
        filename: The missing file's path relative to a task folder.
        searched: The directories that were searched, in order.
    """

    def __init__(self, message: str, filename: str, searched: Sequence[os.PathLike | str]):
        super().__init__(message)
        self.message = message
        self.filename = filename
        self.searched = tuple(str(directory) for directory in searched)

    def __str__(self) -> str:
        # OSError would print "[Errno None] None: <filename>" once filename is set.
        return self.message


class MalformedDatasetError(ValueError):
    """A data file exists but does not have the expected format.

    Raised for truncated files, rows with the wrong number of fields, values
    that are not numbers, unknown labels and binary headers that do not match.

    Attributes:
        path: The offending file.
        line: The 1-based line number of the problem in a text file, or
            ``None`` when the problem is not tied to a line.
    """

    def __init__(self, path: os.PathLike | str, problem: str, line: int | None = None):
        where = f"{os.fspath(path)}, line {line}" if line is not None else os.fspath(path)
        super().__init__(f"Malformed data file {where}: {problem}")
        self.path = os.fspath(path)
        self.line = line

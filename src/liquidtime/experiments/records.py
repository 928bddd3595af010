"""Result records: one JSON object per training run, appended to a JSON-lines file.

A record holds everything needed to reproduce and compare a run: the task and
protocol, every hyperparameter (after the task's defaults were filled in), the
validation and test metrics of the best-validation checkpoint, the per-epoch
history, the wall time, the software versions and the Keras backend. Tables
(:mod:`liquidtime.experiments.tables`) and plots read them back.
"""

from __future__ import annotations

import datetime
import fcntl
import importlib.metadata
import json
import math
import os
import platform
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import keras

RESULTS_FILE = "results.jsonl"
"""The default name of the records file in an output directory."""

RECORD_VERSION = 1

_PACKAGES = ("liquidtime", "keras", "jax", "jaxlib", "tensorflow", "tensorflow-cpu", "torch", "numpy")


def environment() -> dict[str, Any]:
    """Software versions, the Keras backend and the machine, for a record."""
    versions = {}
    for package in _PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            continue
    return {
        "backend": keras.backend.backend(),
        "floatx": keras.config.floatx(),
        "versions": versions,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
    }


def timestamp() -> str:
    """The current UTC time in ISO 8601, to the second."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _jsonable(value: Any) -> Any:
    """Converts NumPy scalars and non-finite floats to JSON (NaN/inf become None)."""
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def check_output_dir(path: os.PathLike | str) -> Path:
    """Creates the output folder if missing and checks that files can be written there.

    Args:
        path: The folder of ``results.jsonl`` and the checkpoints.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: If ``path`` (or a folder above it) is a file, if it cannot be
            created or written to, or if its ``results.jsonl`` is not a file.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(
            f"Received an invalid value for argument `output_dir` (--output), expected a "
            f"folder, got the file {str(path)!r}: name a new or an existing folder."
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        raise ValueError(
            f"Received an invalid value for argument `output_dir` (--output): cannot write "
            f"into {str(path)!r} ({error.strerror or error}); name a folder you can write to."
        ) from None
    results = path / RESULTS_FILE
    if results.exists() and not (results.is_file() and os.access(results, os.W_OK)):
        raise ValueError(
            f"Received an invalid value for argument `output_dir` (--output): "
            f"{str(results)!r} exists but is not a writable file."
        )
    return path


def append_record(path: os.PathLike | str, record: dict[str, Any]) -> Path:
    """Appends ``record`` as one line to the JSON-lines file ``path``.

    The line is written with ``O_APPEND`` writes under an exclusive ``flock``,
    so that several processes can append to the same file without losing or
    interleaving lines. NaN and infinite values are written as ``null``.

    Returns:
        The path of the file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(_jsonable(record), sort_keys=False) + "\n").encode("utf-8")
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        written = 0
        while written < len(line):  # one write, unless the system writes part of it
            written += os.write(descriptor, line[written:])
    finally:
        os.close(descriptor)  # releases the lock
    return path


def find_record(path: os.PathLike | str, run_key: str) -> dict[str, Any] | None:
    """The latest record of ``run_key`` in the JSON-lines file ``path``, or None.

    Raises:
        ValueError: If the file has a malformed line (see :func:`read_records`).
    """
    path = Path(path)
    if not path.is_file():
        return None
    found = [record for record in read_records(path) if record.get("run_key") == run_key]
    return found[-1] if found else None


def record_files(paths: Sequence[os.PathLike | str]) -> list[Path]:
    """The JSON-lines files named by ``paths``: files as given, directories searched
    recursively for ``*.jsonl``.

    Raises:
        FileNotFoundError: If a path does not exist.
        ValueError: If no records file was found at all.
    """
    files: list[Path] = []
    for entry in paths:
        entry = Path(entry)
        if entry.is_dir():
            files.extend(sorted(entry.rglob("*.jsonl")))
        elif entry.is_file():
            files.append(entry)
        else:
            raise FileNotFoundError(f"No such results file or directory: {str(entry)!r}.")
    if not files:
        raise ValueError(
            f"Found no *.jsonl results files in {[str(Path(p)) for p in paths]}; "
            "run `liquidtime train` or `liquidtime compare` first."
        )
    return files


def read_records(paths: Sequence[os.PathLike | str] | os.PathLike | str) -> list[dict[str, Any]]:
    """Reads every record of the given JSON-lines files or directories, in file order.

    Raises:
        FileNotFoundError: If a path does not exist.
        ValueError: If no file was found, or a line is not a JSON object with
            ``task``, ``model`` and ``metric`` (the message names file and line).
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    records = []
    for file in record_files(paths):
        with open(file, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as error:
                    raise ValueError(
                        f"Malformed results file {str(file)!r}, line {number}: not JSON ({error})."
                    ) from None
                if not isinstance(record, dict) or not {"task", "model", "metric"} <= set(record):
                    raise ValueError(
                        f"Malformed results file {str(file)!r}, line {number}: expected a run "
                        "record with `task`, `model` and `metric`."
                    )
                records.append(record)
    return records


def latest_per_run(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keeps the last record of each run (same ``run_key``), in order of first appearance.

    A run repeated with identical settings and seed (for instance extended with
    ``--resume``) then counts once.
    """
    latest: dict[str, dict[str, Any]] = {}
    for record in records:
        latest[record.get("run_key", id(record))] = record
    return list(latest.values())

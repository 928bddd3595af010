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


def append_record(path: os.PathLike | str, record: dict[str, Any]) -> Path:
    """Appends ``record`` as one line to the JSON-lines file ``path``.

    The line is written with one ``write`` under an exclusive lock, so that
    several processes can append to the same file. NaN and infinite values are
    written as ``null``.

    Returns:
        The path of the file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(_jsonable(record), sort_keys=False) + "\n"
    with open(path, "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            handle.write(line)
            handle.flush()
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    return path


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

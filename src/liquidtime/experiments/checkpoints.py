"""Per-epoch training checkpoints that make ``--resume`` exact.

One ``checkpoint.npz`` per run holds, after every epoch:

* every model variable (``model.variables``: weights, non-trainable state and
  Keras seed-generator states),
* every optimizer variable (Adam's step counter, moments and velocities),
* the weights of the best-validation epoch so far,
* a JSON state: epochs done, best metric and epoch, history, elapsed time,
  and the run's settings (to refuse resuming a different run).

The file is written to a temporary name of the writing process and renamed, so
a run killed while writing keeps its previous checkpoint. A damaged checkpoint
(cut short, empty, not a checkpoint) raises :class:`CheckpointError`, which
names the file and says how to start the run afresh. :func:`run_lock` keeps two
processes from training the same run in the same folder at once. The training
data order is a function of ``(seed, epoch)`` only (:func:`liquidtime.experiments.runner.epoch_order`), so
restoring these variables and continuing at the next epoch gives the same
weights as an uninterrupted run.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keras
import numpy as np

CHECKPOINT_FILE = "checkpoint.npz"
LOCK_FILE = "run.lock"
"""Held (``flock``) by the process training the run; it holds that process's id."""

_STATE_KEYS = ("settings", "seed", "epochs_done", "best_metric", "best_epoch", "history",
               "elapsed_s", "segments", "stopped_on_nan")


class CheckpointError(ValueError):
    """A checkpoint file exists but cannot be read: the message names it and the fix.

    Attributes:
        path: The checkpoint file.
    """

    def __init__(self, path: os.PathLike | str, problem: str):
        super().__init__(
            f"Cannot resume from the checkpoint {os.fspath(path)!r}: {problem}. Delete the "
            "file to train this run from scratch (`liquidtime train --restart`, or "
            "`train_run(..., restart=True)`, does that)."
        )
        self.path = os.fspath(path)


class RunLockedError(RuntimeError):
    """Another process is training the same run in the same output folder."""


@contextlib.contextmanager
def run_lock(directory: os.PathLike | str) -> Iterator[None]:
    """Holds ``<directory>/run.lock`` for the duration, or fails at once if it is held.

    The lock is an ``flock`` on the file, so that the system releases it when its
    process ends, however it ends; the file holds the process id for the message.

    Args:
        directory: The run's checkpoint directory (created if missing).

    Raises:
        RunLockedError: If another process holds the lock.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / LOCK_FILE
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(descriptor, 64, 0).decode(errors="replace").strip() or "unknown"
            raise RunLockedError(
                f"Another process (pid {owner}) is training this run in {str(directory)!r} "
                f"(it holds {str(path)!r}). Wait for it to finish, or train into another output "
                "folder."
            ) from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(descriptor, 0)
            fcntl.flock(descriptor, fcntl.LOCK_UN)
    finally:
        os.close(descriptor)


def _values(variables: list[Any]) -> list[np.ndarray]:
    return [keras.ops.convert_to_numpy(variable) for variable in variables]


def _assign(variables: list[Any], values: list[np.ndarray], what: str, path: Path) -> None:
    if len(variables) != len(values):
        raise ValueError(
            f"Checkpoint {str(path)!r} holds {len(values)} {what} variables, the model has "
            f"{len(variables)}: it was written by a different model."
        )
    for variable, value in zip(variables, values):
        if tuple(variable.shape) != tuple(value.shape):
            raise ValueError(
                f"Checkpoint {str(path)!r}: {what} variable {variable.path!r} has shape "
                f"{tuple(value.shape)} in the checkpoint and {tuple(variable.shape)} in the model."
            )
        variable.assign(value)


def model_values(model: keras.Model) -> list[np.ndarray]:
    """Copies of every model variable (``model.variables``) as NumPy arrays."""
    return _values(model.variables)


def set_model_values(model: keras.Model, values: list[np.ndarray]) -> None:
    """Assigns :func:`model_values` output back to ``model``."""
    _assign(model.variables, values, "model", Path("<memory>"))


def save_checkpoint(
    directory: os.PathLike | str,
    model: keras.Model,
    best_values: list[np.ndarray] | None,
    state: dict[str, Any],
) -> Path:
    """Writes the model, its optimizer, the best weights and ``state`` atomically.

    Args:
        directory: The run's checkpoint directory (created if missing).
        model: A compiled model whose optimizer has been built.
        best_values: :func:`model_values` of the best-validation epoch, or None.
        state: JSON-serializable training state.

    Returns:
        The checkpoint's path.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {"state": np.array(json.dumps(state))}
    for index, value in enumerate(model_values(model)):
        arrays[f"model_{index}"] = value
    for index, value in enumerate(_values(model.optimizer.variables)):
        arrays[f"optimizer_{index}"] = value
    for index, value in enumerate(best_values or []):
        arrays[f"best_{index}"] = value
    path = directory / CHECKPOINT_FILE
    temporary = directory / f"{CHECKPOINT_FILE}.{os.getpid()}.tmp.npz"
    try:
        # NumPy's stub types **kwds as its `allow_pickle: bool`; every value here is an array.
        np.savez(temporary, **arrays)  # type: ignore[arg-type]
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def remove_checkpoint(directory: os.PathLike | str) -> bool:
    """Deletes ``directory``'s checkpoint; returns whether there was one."""
    path = Path(directory) / CHECKPOINT_FILE
    existed = path.is_file()
    path.unlink(missing_ok=True)
    return existed


def has_checkpoint(directory: os.PathLike | str) -> bool:
    """Whether ``directory`` holds a checkpoint."""
    return (Path(directory) / CHECKPOINT_FILE).is_file()


def load_checkpoint(
    directory: os.PathLike | str, model: keras.Model
) -> tuple[dict[str, Any], list[np.ndarray] | None]:
    """Restores the model and optimizer variables from ``directory``'s checkpoint.

    The optimizer is built on the model's trainable variables first, so that its
    variables exist to be assigned.

    Returns:
        ``(state, best_values)``: the saved JSON state and the best weights (None
        if the checkpoint has none).

    Raises:
        FileNotFoundError: If there is no checkpoint.
        CheckpointError: If the file cannot be read as a checkpoint.
        ValueError: If the checkpoint does not match the model.
    """
    path = Path(directory) / CHECKPOINT_FILE
    if not path.is_file():
        raise FileNotFoundError(f"No checkpoint to resume from: {str(path)!r} does not exist.")
    state, groups = _read_checkpoint(path)
    ordered = {group: [value for _, value in sorted(items)] for group, items in groups.items()}
    _assign(model.variables, ordered["model"], "model", path)
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    _assign(model.optimizer.variables, ordered["optimizer"], "optimizer", path)
    return state, ordered["best"] or None


def _read_checkpoint(path: Path) -> tuple[dict[str, Any], dict[str, list[tuple[int, np.ndarray]]]]:
    """The state and the numbered arrays of each group, or :class:`CheckpointError`."""
    groups: dict[str, list[tuple[int, np.ndarray]]] = {"model": [], "optimizer": [], "best": []}
    size = path.stat().st_size
    try:
        # Our own handle: np.load leaves the file it opened unclosed when the archive is damaged.
        with open(path, "rb") as handle:
            data = np.load(handle, allow_pickle=False)
            archive = isinstance(data, np.lib.npyio.NpzFile)
            if archive:
                with data:
                    for key in data.files:
                        if key == "state":
                            continue
                        group, index = key.rsplit("_", 1)
                        groups[group].append((int(index), data[key]))
                    state = json.loads(str(data["state"]))
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile, zlib.error) as error:
        with open(path, "rb") as handle:
            archive_start = handle.read(4) == b"PK\x03\x04"
        if size == 0:
            problem = "the file is empty"
        elif not archive_start:
            problem = f"the file ({size} bytes) is not a .npz archive"
        else:
            problem = (
                f"the archive ({size} bytes) is damaged, perhaps cut short while being copied "
                f"or by a full disk ({type(error).__name__}: {error})"
            )
        raise CheckpointError(path, problem) from error
    if not archive:
        raise CheckpointError(path, "it holds a single array, not a checkpoint archive")
    missing = [key for key in _STATE_KEYS if not isinstance(state, dict) or key not in state]
    if missing:
        raise CheckpointError(path, f"its training state lacks {missing}")
    return state, groups

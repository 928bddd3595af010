"""Per-epoch training checkpoints that make ``--resume`` exact.

One ``checkpoint.npz`` per run holds, after every epoch:

* every model variable (``model.variables``: weights, non-trainable state and
  Keras seed-generator states),
* every optimizer variable (Adam's step counter, moments and velocities),
* the weights of the best-validation epoch so far,
* a JSON state: epochs done, best metric and epoch, history, elapsed time,
  and the run's settings (to refuse resuming a different run).

The file is written to a temporary name and renamed, so a run killed while
writing keeps its previous checkpoint. The training data order is a function of
``(seed, epoch)`` only (:func:`liquidtime.experiments.runner.epoch_order`), so
restoring these variables and continuing at the next epoch gives the same
weights as an uninterrupted run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import keras
import numpy as np

CHECKPOINT_FILE = "checkpoint.npz"


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
    temporary = directory / (CHECKPOINT_FILE + ".tmp.npz")
    np.savez(temporary, **arrays)
    os.replace(temporary, path)
    return path


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
        ValueError: If the checkpoint does not match the model.
    """
    path = Path(directory) / CHECKPOINT_FILE
    if not path.is_file():
        raise FileNotFoundError(f"No checkpoint to resume from: {str(path)!r} does not exist.")
    with np.load(path) as data:
        groups: dict[str, list[tuple[int, np.ndarray]]] = {"model": [], "optimizer": [], "best": []}
        for key in data.files:
            if key == "state":
                continue
            group, index = key.rsplit("_", 1)
            groups[group].append((int(index), data[key]))
        state = json.loads(str(data["state"]))
    ordered = {group: [value for _, value in sorted(items)] for group, items in groups.items()}
    _assign(model.variables, ordered["model"], "model", path)
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    _assign(model.optimizer.variables, ordered["optimizer"], "optimizer", path)
    return state, ordered["best"] or None

"""What a loaded task is: its arrays, what to predict, how to score it, how the paper trained it."""

from __future__ import annotations

import dataclasses

import numpy as np

PER_STEP_CLASSIFICATION = "per_step_classification"
SEQUENCE_CLASSIFICATION = "sequence_classification"
REGRESSION = "regression"

ACCURACY = "accuracy"
MSE = "mse"
F1 = "f1"

CORRECTED = "corrected"
ORIGINAL = "original"
PROTOCOLS = (CORRECTED, ORIGINAL)

#: One split of a task: inputs and targets.
Split = tuple[np.ndarray, np.ndarray]
#: A task's ``(train, valid, test)`` splits.
Splits = tuple[Split, Split, Split]

#: Model names of the paper's comparison, as used by :data:`PAPER_RESULTS` and
#: :meth:`TrainingDefaults.learning_rate`.
MODELS = ("lstm", "ctrnn", "node", "ctgru", "ltc")


def check_protocol(protocol: str) -> str:
    """Returns ``protocol`` if it is ``"corrected"`` or ``"original"``.

    Raises:
        ValueError: For any other value.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"Unknown protocol {protocol!r}; expected one of {list(PROTOCOLS)}.")
    return protocol


@dataclasses.dataclass(frozen=True)
class TrainingDefaults:
    """The paper's training hyperparameters for one task.

    Attributes:
        units: Hidden units of every model (32).
        batch_size: Training batch size (16; 64 for person).
        epochs: Maximum number of epochs (200).
        ltc_learning_rate: Adam learning rate of the LTC (0.01; 0.005 for
            occupancy and smnist).
        baseline_learning_rate: Adam learning rate of LSTM, CT-RNN, Neural ODE
            and CT-GRU (0.001).
        node_state_clip: The Neural ODE's state was clipped to
            ``[-node_state_clip, node_state_clip]`` (10 for traffic and power),
            or ``None`` for no clipping.
    """

    units: int = 32
    batch_size: int = 16
    epochs: int = 200
    ltc_learning_rate: float = 0.01
    baseline_learning_rate: float = 0.001
    node_state_clip: float | None = None

    def learning_rate(self, model: str) -> float:
        """The paper's learning rate for ``model``, one of :data:`MODELS`.

        Raises:
            ValueError: For a model the paper did not train.
        """
        if model not in MODELS:
            raise ValueError(f"Unknown model {model!r}; expected one of {list(MODELS)}.")
        return self.ltc_learning_rate if model == "ltc" else self.baseline_learning_rate


@dataclasses.dataclass(frozen=True)
class TaskInfo:
    """Everything about a task that is known without reading its files.

    Attributes:
        name: Registry name, e.g. ``"occupancy"``.
        title: Human-readable name.
        kind: ``"per_step_classification"`` (integer labels ``(N, T)``),
            ``"sequence_classification"`` (integer labels ``(N,)``) or
            ``"regression"`` (float32 targets ``(N, T, D)``).
        metric: ``"accuracy"``, ``"mse"`` or ``"f1"`` (F1 of class 1 pooled over
            all steps).
        num_classes: Number of classes, ``None`` for regression.
        folder: Name of the task's sub-folder of the data root.
        files: The files the loader reads, relative to the task folder.
        source: Citation and licence of the data set.
        origin: Where the data set can be downloaded and how to lay it out.
        quirks: What ``protocol="original"`` changes; empty when the original
            and the corrected protocol are the same.
        defaults: The paper's training hyperparameters.
        class_weights: Per-class loss weights the paper used (indexed by
            class), or ``None`` for an unweighted loss.
    """

    name: str
    title: str
    kind: str
    metric: str
    num_classes: int | None
    folder: str
    files: tuple[str, ...]
    source: str
    origin: str
    quirks: str = ""
    defaults: TrainingDefaults = TrainingDefaults()
    class_weights: tuple[float, ...] | None = None

    @property
    def higher_is_better(self) -> bool:
        """Whether a larger value of :attr:`metric` is better (accuracy, F1)."""
        return self.metric != MSE


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class Task:
    """A task's train, validation and test arrays and how to use them.

    Inputs are float32 arrays of shape ``(N, T, F)``. Targets depend on
    ``kind``: int32 ``(N, T)`` for per-step classification, int32 ``(N,)`` for
    sequence classification and float32 ``(N, T, D)`` for regression.

    Attributes:
        info: The static description (:class:`TaskInfo`).
        protocol: ``"corrected"`` or ``"original"``: which protocol built the arrays.
        x_train, y_train, x_valid, y_valid, x_test, y_test: The arrays.
    """

    info: TaskInfo
    protocol: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_valid: np.ndarray
    y_valid: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def kind(self) -> str:
        return self.info.kind

    @property
    def metric(self) -> str:
        return self.info.metric

    @property
    def num_classes(self) -> int | None:
        return self.info.num_classes

    @property
    def class_weights(self) -> tuple[float, ...] | None:
        return self.info.class_weights

    @property
    def source(self) -> str:
        return self.info.source

    @property
    def defaults(self) -> TrainingDefaults:
        return self.info.defaults

    @property
    def higher_is_better(self) -> bool:
        return self.info.higher_is_better

    @property
    def input_dim(self) -> int:
        """Number of input features ``F``."""
        return int(self.x_train.shape[-1])

    @property
    def output_dim(self) -> int:
        """Width of the model's head: classes, or target features ``D``."""
        if self.info.num_classes is not None:
            return self.info.num_classes
        return int(self.y_train.shape[-1])

    def splits(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """The three splits as ``{"train": (x, y), "valid": (x, y), "test": (x, y)}``."""
        return {
            "train": (self.x_train, self.y_train),
            "valid": (self.x_valid, self.y_valid),
            "test": (self.x_test, self.y_test),
        }

    def __repr__(self) -> str:
        shapes = ", ".join(
            f"{split}={tuple(x.shape)}->{tuple(y.shape)}" for split, (x, y) in self.splits().items()
        )
        return (
            f"Task(name={self.name!r}, protocol={self.protocol!r}, kind={self.kind!r}, "
            f"metric={self.metric!r}, {shapes})"
        )


def build_task(info: TaskInfo, protocol: str, train: Split, valid: Split, test: Split) -> Task:
    """Makes a :class:`Task`, casting inputs to float32 and targets to the kind's dtype."""
    target_dtype = np.float32 if info.kind == REGRESSION else np.int32
    arrays = {}
    for split, (x, y) in (("train", train), ("valid", valid), ("test", test)):
        arrays[f"x_{split}"] = np.asarray(x, dtype=np.float32)
        arrays[f"y_{split}"] = np.asarray(y, dtype=target_dtype)
    return Task(info=info, protocol=protocol, **arrays)

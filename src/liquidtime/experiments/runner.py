"""One training run with the LTC paper's protocol (Algorithm 2: BPTT with Adam).

:func:`train_run` loads a task, builds a model by name
(:func:`liquidtime.models.build_model`), and trains it with one Keras ``fit``
over all epochs, the per-epoch work below done by callbacks (so that callbacks
of the caller, such as ``EarlyStopping``, ``CSVLogger`` or ``TensorBoard``, see
Keras's epoch numbers and the validation metric as ``logs["val_<metric>"]``):

* each epoch visits the training windows in the order :func:`epoch_order`
  (a permutation drawn from ``(seed, epoch)``, the last incomplete batch
  dropped), one Adam step per batch;
* after each epoch (and once before training, "epoch 0") the validation metric
  is computed; the weights of the best validation epoch (higher accuracy/F1,
  lower MSE) are kept and restored for the test;
* training stops early only on a NaN or infinite loss, or when a callback of the
  caller stops it (with
  ``record_untrained_nan=False`` a loss that is not finite in the first epoch
  raises :class:`TrainingDivergedError` instead: no record of untrained weights);
* a checkpoint (model and optimizer variables, best weights, history) is written
  after every epoch, so ``resume=True`` continues a killed run from its last
  epoch and ends with the same weights as an uninterrupted run;
* one result record (:mod:`liquidtime.experiments.records`) is appended to
  ``<output_dir>/results.jsonl``;
* the output folder and the batch size are checked before the first epoch, one
  process at a time trains a run (:func:`~liquidtime.experiments.checkpoints.run_lock`),
  and Ctrl-C (SIGINT) stops at the next batch boundary and raises
  ``KeyboardInterrupt`` at the end of that epoch, before any callback of the
  caller sees it, the last finished epoch checkpointed.

Loss: cross-entropy on logits for classification (ozone: each step's term
weighted by the task's class weights 0.1/1.6, then averaged over all steps),
mean squared error for regression.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

from liquidtime._validation import non_negative_int, one_of, positive_float, positive_int
from liquidtime.cells.base import ContinuousTimeCell
from liquidtime.data import load_task
from liquidtime.data._task import PROTOCOLS, REGRESSION, SEQUENCE_CLASSIFICATION, Task
from liquidtime.data.registry import get_task_defaults, task_names
from liquidtime.experiments import checkpoints, records
from liquidtime.experiments.best_epoch import format_metric, record_validation, test_line
from liquidtime.experiments.metrics import compute_metric
from liquidtime.experiments.ncps_runner import NCPS_MODELS, train_ncps_run
from liquidtime.models import (
    MODEL_NAMES,
    MODELS,
    PRESETS,
    WIRED_MODELS,
    build_model,
    make_rnn_layer,
)
from liquidtime.solvers import SOLVERS
from liquidtime.training.distributed import check_global_batch_size, describe_distribution

PAPER_COUNTERPART: dict[str, str] = {
    **{name: spec.paper_counterpart for name, spec in MODELS.items()},
    "ncps-ltc": "ltc",
    "ncps-cfc": "lstm",
}
"""Whose learning rate of the paper each model gets by default (``ModelSpec.paper_counterpart``
for liquidtime's models): the LTC's (0.01, or 0.005 for occupancy and smnist) for the LTC
variants, the baselines' 0.001 for the rest (also for a model missing here). CfC is not in
the paper; with the LTC's rate its training loss rose again within three epochs on
occupancy, so it gets the baselines' rate."""

PROGRESS_MODES = ("auto", "bar", "epoch", "none")
"""``bar``: Keras's progress bar within each epoch plus a line per epoch;
``epoch``: one line per epoch; ``none``: silent; ``auto``: ``bar`` on a terminal,
else ``epoch``."""

EVAL_BATCH_SIZE = 256
SUBSAMPLE_SEED = 0
"""Seed of the fixed random subset of training windows kept by ``max_train_windows``."""


@functools.cache
def solver_models() -> tuple[str, ...]:
    """The model names whose layer integrates an ODE with a solver (``solver``, ``unfolds``)."""
    names = []
    for name in MODEL_NAMES:
        extra: dict[str, Any] = {"output_size": 1} if name in WIRED_MODELS else {}
        layer = make_rnn_layer(name, 4, **extra)
        if isinstance(getattr(layer, "cell", None), ContinuousTimeCell):
            names.append(name)
    return tuple(names)


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """The settings of one training run; ``None`` means the task's paper default.

    Attributes:
        task: A task name (:func:`liquidtime.data.task_names`).
        model: A model name (:data:`liquidtime.models.MODEL_NAMES`).
        seed: Seed of the weight initialisation, the wiring and the epoch order.
        protocol: ``"corrected"`` or ``"original"`` (see ``docs/data.md``).
        preset: ``"default"`` (the layers' own defaults) or ``"paper"`` (the
            original code's model settings).
        units: Hidden units (paper: 32).
        epochs: Number of epochs (paper: 200).
        batch_size: Training batch size (paper: 16; person 64).
        learning_rate: Adam learning rate (paper: LTC 0.01 or 0.005, others 0.001;
            see :data:`PAPER_COUNTERPART`).
        solver: ODE solver (``fused``, ``euler``, ``rk4``, ``dopri5``) of the models
            in :func:`solver_models`; None keeps the preset's.
        unfolds: Solver steps per input step; None keeps the preset's.
        max_train_windows: Train on a fixed random subset of this many training
            windows (the same subset for every model and seed); None uses all.
        layer_options: Arguments of the recurrent layer that replace the preset's
            (ablations), as sorted ``(name, JSON value)`` pairs; see
            :func:`parse_layer_option`. Left out of the settings digest when empty,
            so runs without options keep their checkpoint names.
    """

    task: str
    model: str
    seed: int = 0
    protocol: str = "corrected"
    preset: str = "default"
    units: int | None = None
    epochs: int | None = None
    batch_size: int | None = None
    learning_rate: float | None = None
    solver: str | None = None
    unfolds: int | None = None
    max_train_windows: int | None = None
    layer_options: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        one_of("task", self.task, task_names())
        one_of("model", self.model, MODEL_NAMES + NCPS_MODELS)
        non_negative_int("seed", self.seed)
        one_of("protocol", self.protocol, PROTOCOLS)
        one_of("preset", self.preset, PRESETS)
        for name in ("units", "epochs", "batch_size", "unfolds", "max_train_windows"):
            if getattr(self, name) is not None:
                positive_int(name, getattr(self, name))
        if self.learning_rate is not None:
            positive_float("learning_rate", self.learning_rate)
        if self.solver is not None:
            one_of("solver", self.solver, tuple(SOLVERS))
        if (self.solver is not None or self.unfolds is not None) and (
            self.model not in solver_models()
        ):
            option = "solver" if self.solver is not None else "unfolds"
            raise ValueError(
                f"Received an invalid value for argument `{option}`: model {self.model!r} "
                f"has no ODE solver; `solver` and `unfolds` apply to {list(solver_models())}."
            )
        if self.layer_options:
            _check_layer_options(self.model, self.layer_options)

    def resolved(self) -> RunConfig:
        """This configuration with the task's paper defaults filled in."""
        defaults = get_task_defaults(self.task)
        return dataclasses.replace(
            self,
            units=self.units or defaults.units,
            epochs=self.epochs or defaults.epochs,
            batch_size=self.batch_size or defaults.batch_size,
            learning_rate=self.learning_rate
            or defaults.learning_rate(PAPER_COUNTERPART.get(self.model, "lstm")),
        )

    def settings(self) -> dict[str, Any]:
        """Every setting except ``seed`` and ``epochs``: what a resumed run must share."""
        values = self._digest_values()
        del values["seed"], values["epochs"]
        return values

    def _digest_values(self) -> dict[str, Any]:
        """Every resolved setting; ``layer_options`` only when set (older runs had none)."""
        values = dataclasses.asdict(self.resolved())
        if values["layer_options"]:
            values["layer_options"] = [list(pair) for pair in values["layer_options"]]
        else:
            del values["layer_options"]
        return values

    @property
    def run_name(self) -> str:
        """``<task>-<model>-seed<seed>-<digest of the settings>``: the checkpoint folder."""
        digest = hashlib.sha1(json.dumps(self.settings(), sort_keys=True).encode()).hexdigest()
        return f"{self.task}-{self.model}-seed{self.seed}-{digest[:8]}"

    @property
    def run_key(self) -> str:
        """A digest of every setting including seed and epochs: equal for repeated runs."""
        values = self._digest_values()
        return hashlib.sha1(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]


def parse_layer_option(text: str) -> tuple[str, str]:
    """``"NAME=VALUE"`` as ``(NAME, JSON value)``; a VALUE that is not JSON is a string.

    Example: ``positivity=softplus`` -> ``("positivity", '"softplus"')``,
    ``initialization_ranges=null`` -> ``("initialization_ranges", "null")``.
    """
    name, separator, value = text.partition("=")
    if not separator or not name.strip().isidentifier():
        raise ValueError(
            f"Received an invalid value for argument `layer_options`, expected NAME=VALUE "
            f"with a layer argument's name, got {text!r}."
        )
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        parsed = value
    return name.strip(), json.dumps(parsed, sort_keys=True)


def _check_layer_options(model: str, options: tuple[tuple[str, str], ...]) -> None:
    """Refuses options that the model's layer does not take, before any training."""
    if model in NCPS_MODELS:
        raise ValueError(
            f"Received an invalid value for argument `layer_options`: model {model!r} is "
            "ncps's own layer, which liquidtime does not configure."
        )
    names = [name for name, _ in options]
    if names != sorted(set(names)):
        raise ValueError(
            f"Received an invalid value for argument `layer_options`, expected sorted "
            f"(name, JSON value) pairs with distinct names, got {options!r}."
        )
    extra: dict[str, Any] = {"output_size": 1} if model in WIRED_MODELS else {}
    try:
        make_rnn_layer(model, 4, **extra, **{name: json.loads(value) for name, value in options})
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"Received an invalid value for argument `layer_options`: the {model!r} layer "
            f"does not accept {dict(options)}: {error}"
        ) from error


def initial_state(config: RunConfig) -> dict[str, Any]:
    """The training state a run starts from (and its checkpoint stores): no epoch done yet."""
    return {
        "settings": config.settings(),
        "seed": config.seed,
        "epochs_done": 0,
        "best_metric": None,
        "best_epoch": None,
        "history": [],
        "elapsed_s": 0.0,
        "segments": 0,
        "stopped_on_nan": False,
    }


def epoch_order(seed: int, epoch: int, num_windows: int, batch_size: int) -> np.ndarray:
    """The training windows of one epoch, in order: a permutation drawn from
    ``RandomState([seed, epoch])`` with the last incomplete batch dropped.

    Args:
        seed: The run's seed.
        epoch: The epoch, counted from 1.
        num_windows: Number of training windows.
        batch_size: Batch size.

    Returns:
        ``(num_windows // batch_size) * batch_size`` window indices.
    """
    permutation = np.random.RandomState([seed, epoch]).permutation(num_windows)
    return permutation[: (num_windows // batch_size) * batch_size]


def subsample_train(task: Task, max_windows: int | None) -> Task:
    """``task`` with at most ``max_windows`` training windows: a fixed random subset
    (seed :data:`SUBSAMPLE_SEED`, original order kept). Validation and test are unchanged."""
    count = len(task.x_train)
    if max_windows is None or max_windows >= count:
        return task
    keep = np.sort(np.random.RandomState(SUBSAMPLE_SEED).choice(count, max_windows, replace=False))
    return dataclasses.replace(task, x_train=task.x_train[keep], y_train=task.y_train[keep])


def make_loss(task: Task) -> keras.losses.Loss:
    """Cross-entropy on logits for classification, mean squared error for regression."""
    if task.kind == REGRESSION:
        return keras.losses.MeanSquaredError()
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def sample_weights(task: Task, labels: np.ndarray) -> np.ndarray | None:
    """Per-step loss weights from the task's class weights (ozone), or None."""
    if task.class_weights is None:
        return None
    return np.asarray(task.class_weights, dtype="float32")[labels]


def _resolved(value: int | None, name: str) -> int:
    """``value`` of a configuration that :meth:`RunConfig.resolved` has filled in."""
    if value is None:
        raise ValueError(f"`{name}` is not set: call `RunConfig.resolved()` first.")
    return value


def build_run_model(config: RunConfig, task: Task) -> keras.Model:
    """The model of a run: the factory's model with the run's overrides.

    The wirings (``ltc``'s fully connected one, the NCPs) are seeded by the run's seed; the paper
    clipped the Neural
    ODE's state at ``task.defaults.node_state_clip`` (traffic, power), which the
    ``paper`` preset reproduces.
    """
    config = config.resolved()
    overrides: dict[str, Any] = {}
    if MODELS[config.model].wiring is not None:
        overrides["wiring_seed"] = config.seed
    if config.solver is not None:
        overrides["solver"] = config.solver
    if config.unfolds is not None:
        overrides["ode_unfolds"] = config.unfolds
    clip = task.defaults.node_state_clip
    if config.model == "node" and config.preset == "paper" and clip is not None:
        overrides["clip_state"] = clip
    overrides.update({name: json.loads(value) for name, value in config.layer_options})
    return build_model(
        config.model,
        task.input_dim,
        task.output_dim,
        units=_resolved(config.units, "units"),
        return_sequences=task.kind != SEQUENCE_CLASSIFICATION,
        sequence_length=task.x_train.shape[1],
        preset=config.preset,
        **overrides,
    )


def _effective_solver(model: keras.Model) -> tuple[str | None, int | None]:
    """The solver name and unfolds the model's recurrent layer uses (None, None without)."""
    names = {cls.__name__: name for name, cls in SOLVERS.items()}
    for layer in model.layers:
        config = layer.get_config()
        if "ode_unfolds" in config:
            solver = config.get("solver")
            if isinstance(solver, dict):
                solver = names.get(solver["class_name"], solver["class_name"])
            return solver, config["ode_unfolds"]
    return None, None


def predict(model: keras.Model, x: np.ndarray) -> np.ndarray:
    """Model outputs for ``x`` in batches of :data:`EVAL_BATCH_SIZE`.

    The inputs are zero-padded to full batches and the padding is dropped: one
    compiled shape serves every split, and under a data-parallel distribution
    every device takes an equal shard.
    """
    count = len(x)
    padding = (-count) % EVAL_BATCH_SIZE
    if padding:
        x = np.concatenate([x, np.zeros((padding, *x.shape[1:]), x.dtype)])
    outputs = model.predict(x, batch_size=EVAL_BATCH_SIZE, verbose=0)
    return np.asarray(outputs)[:count]


class _EpochBatches(keras.utils.PyDataset):
    """The training batches of every epoch from ``first_epoch`` on, as one stream for ``fit``.

    Batch ``i`` of the stream is batch ``i % batches_per_epoch`` of epoch
    ``first_epoch + i // batches_per_epoch`` in the order :func:`epoch_order`: the
    stream has no length (``num_batches`` is None) and ``fit`` takes
    ``steps_per_epoch=batches_per_epoch``. Each batch is a function of its index
    alone, so a prefetching adapter (``tf.data`` on TensorFlow, one batch ahead on
    accelerators) can read ahead across an epoch boundary. Floating arrays are
    cast to ``keras.config.floatx()`` as ``fit`` does with arrays.

    Args:
        task: The task; its training windows, labels.
        seed: The run's seed.
        batch_size: Batch size.
        sample_weight: Per-window loss weights (ozone), or None.
        first_epoch: The epoch of the stream's first batch, counted from 1.
    """

    def __init__(
        self,
        task: Task,
        seed: int,
        batch_size: int,
        sample_weight: np.ndarray | None,
        first_epoch: int,
    ):
        super().__init__()
        arrays = [task.x_train, task.y_train] + ([] if sample_weight is None else [sample_weight])
        self.arrays = [
            array.astype(keras.config.floatx(), copy=False)
            if np.issubdtype(array.dtype, np.floating) else array
            for array in arrays
        ]
        self.seed, self.batch_size, self.first_epoch = seed, batch_size, first_epoch
        self.batches_per_epoch = len(task.x_train) // batch_size
        self._order: tuple[int, np.ndarray] | None = None

    @property
    def num_batches(self) -> None:
        return None

    def __getitem__(self, index: int) -> tuple[np.ndarray, ...]:
        epoch = self.first_epoch + index // self.batches_per_epoch
        if self._order is None or self._order[0] != epoch:
            self._order = (epoch, epoch_order(self.seed, epoch, len(self.arrays[0]), self.batch_size))
        start = (index % self.batches_per_epoch) * self.batch_size
        rows = self._order[1][start : start + self.batch_size]
        return tuple(array[rows] for array in self.arrays)


class TrainingDivergedError(RuntimeError):
    """The training loss was not finite before the first epoch finished."""


class RunFinishedError(RuntimeError):
    """The run's record is already in the output folder's results.

    Attributes:
        record: That record (the latest one of the run).
    """

    def __init__(self, message: str, record: dict[str, Any]):
        super().__init__(message)
        self.record = record


class _InterruptAtBatchBoundary(keras.callbacks.Callback):
    """Turns Ctrl-C (SIGINT) into a stop at the next batch boundary.

    A ``KeyboardInterrupt`` raised wherever the signal lands can leave JAX or XLA
    mid-computation: the interpreter then crashed at exit with a segmentation
    fault, or the interrupt was lost inside Keras and training went on. While :meth:`installed`, the
    first SIGINT only sets
    :attr:`requested`; ``fit`` stops after the running batch and the runner
    raises ``KeyboardInterrupt`` at a point of its own (:meth:`check`). A second
    SIGINT raises at once.
    """

    def __init__(self):
        super().__init__()
        self.requested = False

    def _handle(self, signum: int, frame: Any) -> None:
        self.requested = True
        signal.signal(signal.SIGINT, signal.default_int_handler)
        print("\nInterrupted: stopping after the current batch (Ctrl-C again to stop now).",
              file=sys.stderr, flush=True)

    @contextlib.contextmanager
    def installed(self) -> Iterator[_InterruptAtBatchBoundary]:
        """Handles SIGINT as above for the duration (in the main thread only)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = signal.signal(signal.SIGINT, self._handle)
        try:
            yield self
        finally:  # None: a handler installed outside Python, which cannot be put back
            signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self.requested:
            self.model.stop_training = True

    def check(self) -> None:
        """Raises ``KeyboardInterrupt`` if SIGINT arrived."""
        if self.requested:
            raise KeyboardInterrupt


def _progress_mode(progress: str) -> str:
    one_of("progress", progress, PROGRESS_MODES)
    if progress == "auto":
        return "bar" if sys.stdout.isatty() else "epoch"
    return progress


def train_run(
    config: RunConfig,
    *,
    data_dir: os.PathLike | str | None = None,
    output_dir: os.PathLike | str = "runs",
    resume: bool = False,
    progress: str = "auto",
    task: Task | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    save_model: bool = False,
    log: Callable[[str], None] | None = None,
    restart: bool = False,
    retrain: bool = True,
    record_untrained_nan: bool = True,
) -> dict[str, Any]:
    """Trains one model on one task and appends its result record.

    Args:
        config: The run's settings (defaults filled in from the task).
        data_dir: The data root or task folder (see :func:`liquidtime.data.load_task`).
        output_dir: Where ``results.jsonl`` and ``checkpoints/<run_name>/`` go.
        resume: Continue from the run's checkpoint if there is one (a missing
            checkpoint starts the run from scratch). The checkpoint must come
            from the same settings; ``epochs`` may be larger than before.
        progress: One of :data:`PROGRESS_MODES`.
        task: The already loaded task (its name and protocol must match
            ``config``), to skip loading it again.
        callbacks: Extra Keras callbacks of the run's ``fit``. They run after the
            runner's own, so the epoch logs they get hold the mean training
            ``loss`` and the validation metric under Keras's name ``val_<metric>``
            (``val_accuracy``, ``val_mse``, ``val_f1``; NaN after a NaN loss), so
            ``EarlyStopping(monitor="val_accuracy", mode="max")`` works and
            ``CSVLogger``/``TensorBoard`` file it as validation; epochs are counted as
            Keras does, from 0 (the history's epoch ``k`` is Keras's ``k - 1``),
            and a resumed run continues the count (``initial_epoch``). A callback
            that stops training (``EarlyStopping``) ends the run after the
            current epoch, which is checkpointed and recorded; its own state is
            not checkpointed, so after a resume it starts afresh.
        save_model: Also save the best-validation model as
            ``checkpoints/<run_name>/best.keras``.
        log: Where progress lines go (default ``print``).
        restart: Delete the run's checkpoint first and train from scratch
            (for a damaged checkpoint); not with ``resume``.
        retrain: Train even if ``<output_dir>/results.jsonl`` already holds
            the record of this run (same ``run_key``); False raises
            :class:`RunFinishedError` instead.
        record_untrained_nan: Record a run whose loss was not finite already
            in its first epoch (tested with the epoch-0 weights, marked
            ``stopped_on_nan``); False raises :class:`TrainingDivergedError`
            and writes neither a record nor a checkpoint.

    Returns:
        The result record (also appended to ``<output_dir>/results.jsonl``).

    Raises:
        ValueError: For bad settings (a batch larger than the training set, an
            output folder that is a file or not writable) or a checkpoint of
            different settings.
        CheckpointError: If ``resume`` finds a damaged checkpoint.
        RunLockedError: If another process is training this run into ``output_dir``.
        RunFinishedError, TrainingDivergedError: See ``retrain`` and
            ``record_untrained_nan``.
        DatasetNotFoundError, MalformedDatasetError: If the data cannot be read.
        KeyboardInterrupt: On Ctrl-C, at a batch boundary (see
            :class:`_InterruptAtBatchBoundary`).
    """
    config = config.resolved()
    _progress_mode(progress)
    if resume and restart:
        raise ValueError(
            "Received an invalid combination of arguments `resume` and `restart`: `restart` "
            "trains from scratch, `resume` continues the checkpoint; pass one of them."
        )
    if callbacks and config.model in NCPS_MODELS:
        raise ValueError(
            f"Received an invalid value for argument `callbacks`: model {config.model!r} is "
            "ncps's PyTorch model, trained by a loop without Keras callbacks; pass none."
        )
    output_dir = records.check_output_dir(output_dir)
    run_dir = output_dir / "checkpoints" / config.run_name
    with checkpoints.run_lock(run_dir):
        if not retrain:
            finished = records.find_record(output_dir / records.RESULTS_FILE, config.run_key)
            if finished is not None:
                raise RunFinishedError(
                    f"Run {config.run_name} is already finished: its record (test "
                    f"{finished.get('metric')} {format_metric(finished.get('test_metric'))}, "
                    f"{finished.get('epochs_run')} epochs) is in "
                    f"{str(output_dir / records.RESULTS_FILE)!r}.",
                    finished,
                )
        if restart:
            checkpoints.remove_checkpoint(run_dir)
        return _train_locked(
            config, data_dir=data_dir, output_dir=output_dir, resume=resume, progress=progress,
            task=task, callbacks=callbacks, save_model=save_model, log=log,
            record_untrained_nan=record_untrained_nan,
        )


def _train_locked(
    config: RunConfig,
    *,
    data_dir: os.PathLike | str | None,
    output_dir: Path,
    resume: bool,
    progress: str,
    task: Task | None,
    callbacks: Sequence[keras.callbacks.Callback],
    save_model: bool,
    log: Callable[[str], None] | None,
    record_untrained_nan: bool,
) -> dict[str, Any]:
    """:func:`train_run` once the output is checked and the run locked."""
    started = time.perf_counter()
    mode = _progress_mode(progress)
    say = (lambda line: None) if mode == "none" else (log or functools.partial(print, flush=True))
    batch_size = _resolved(config.batch_size, "batch_size")
    check_global_batch_size(batch_size)
    run_dir = output_dir / "checkpoints" / config.run_name

    if task is None:
        task = load_task(config.task, data_dir=data_dir, protocol=config.protocol)
    elif (task.name, task.protocol) != (config.task, config.protocol):
        raise ValueError(
            f"Received an invalid value for argument `task`: the loaded task is "
            f"{task.name!r} ({task.protocol}), the configuration asks for {config.task!r} "
            f"({config.protocol})."
        )
    task = subsample_train(task, config.max_train_windows)
    if batch_size > len(task.x_train):
        raise ValueError(
            f"Received an invalid value for argument `batch_size`, expected at most the "
            f"{len(task.x_train)} training windows of {config.task}, got {config.batch_size}: "
            "an epoch would have no batch. Lower the batch size"
            + (" or raise `max_train_windows`." if config.max_train_windows else ".")
        )
    load_time = time.perf_counter() - started
    if config.model in NCPS_MODELS:
        return train_ncps_run(
            config, task, output_dir=output_dir, resume=resume, say=say, started=started,
            load_time=load_time, data_dir=data_dir, make_record=_record,
        )

    interrupt = _InterruptAtBatchBoundary()
    with interrupt.installed():
        return _train_keras(
            config, task, run_dir=run_dir, output_dir=output_dir, resume=resume, mode=mode,
            say=say, started=started, load_time=load_time, data_dir=data_dir,
            callbacks=callbacks, save_model=save_model,
            record_untrained_nan=record_untrained_nan, interrupt=interrupt,
        )


def _train_keras(
    config: RunConfig,
    task: Task,
    *,
    run_dir: Path,
    output_dir: Path,
    resume: bool,
    mode: str,
    say: Callable[[str], None],
    started: float,
    load_time: float,
    data_dir: os.PathLike | str | None,
    callbacks: Sequence[keras.callbacks.Callback],
    save_model: bool,
    record_untrained_nan: bool,
    interrupt: _InterruptAtBatchBoundary,
) -> dict[str, Any]:
    """The epochs of a Keras model, the test and the record (see :func:`train_run`)."""
    keras.utils.set_random_seed(config.seed)
    model = build_run_model(config, task)
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate), loss=make_loss(task))
    solver, unfolds = _effective_solver(model)
    weights = sample_weights(task, task.y_train)

    state = initial_state(config)
    best_values: list[np.ndarray] | None = None
    resumed = False
    if resume and checkpoints.has_checkpoint(run_dir):
        state, best_values = _resume(run_dir, model, config)
        resumed = True
    previous_elapsed = state["elapsed_s"]
    state["segments"] += 1

    say(
        f"{config.run_name}: {config.model} on {config.task} ({config.protocol} protocol), "
        f"{len(task.x_train)}/{len(task.x_valid)}/{len(task.x_test)} train/valid/test windows, "
        f"{config.units} units, batch {config.batch_size}, lr {config.learning_rate:g}, "
        f"{config.epochs} epochs, seed {config.seed}, {keras.backend.backend()} backend, "
        f"{describe_distribution()}"
        + (f"; resuming after epoch {state['epochs_done']}" if resumed else "")
    )

    def elapsed() -> float:
        return previous_elapsed + time.perf_counter() - started

    def validate(epoch: int, loss: float | None) -> None:
        nonlocal best_values
        value = compute_metric(task.metric, predict(model, task.x_valid), task.y_valid)
        improved, line = record_validation(
            state, task.metric, epoch, config.epochs, loss, value, elapsed()
        )
        if improved:
            best_values = checkpoints.model_values(model)
        say(line)

    if not resumed:
        validate(0, None)
    valid_key = f"val_{task.metric}"

    def end_epoch(index: int, logs: dict[str, Any]) -> None:
        """Validation, best weights, history and checkpoint after Keras's epoch ``index``."""
        interrupt.check()  # an interrupted epoch is not checkpointed: resume repeats it
        epoch = index + 1
        loss = float(logs["loss"])
        if not math.isfinite(loss):  # TerminateOnNaN stopped within this epoch
            if not record_untrained_nan and not any(
                entry["loss"] is not None for entry in state["history"]
            ):
                raise TrainingDivergedError(
                    f"{config.run_name}: the training loss became NaN or infinite in epoch "
                    f"{epoch}, before any epoch finished; no record was written. Check the "
                    f"data for non-finite values, or lower the learning rate (now "
                    f"{config.learning_rate:g})."
                )
            state["stopped_on_nan"] = True
            state["history"].append(
                {"epoch": epoch, "loss": None, "valid": None, "elapsed_s": round(elapsed(), 3)}
            )
            logs[valid_key] = math.nan
            say(f"  epoch {epoch:>3}/{config.epochs}  loss is NaN: training stopped")
        else:
            validate(epoch, loss)
            logs[valid_key] = state["history"][-1]["valid"]
        state["epochs_done"] = epoch
        state["elapsed_s"] = elapsed()
        checkpoints.save_checkpoint(run_dir, model, best_values, state)

    interrupt.check()
    if state["epochs_done"] < config.epochs and not state["stopped_on_nan"]:
        batches = _EpochBatches(
            task,
            config.seed,
            _resolved(config.batch_size, "batch_size"),
            weights,
            first_epoch=state["epochs_done"] + 1,
        )
        runner_callbacks: list[keras.callbacks.Callback] = [
            interrupt,
            keras.callbacks.TerminateOnNaN(),
            keras.callbacks.LambdaCallback(
                on_epoch_begin=lambda index, logs: interrupt.check(), on_epoch_end=end_epoch
            ),
        ]
        if mode == "bar":  # before the runner's line, so that the bar ends first
            runner_callbacks.insert(0, keras.callbacks.ProgbarLogger())
        model.fit(
            batches,
            epochs=config.epochs,
            initial_epoch=state["epochs_done"],
            steps_per_epoch=batches.batches_per_epoch,
            shuffle=False,
            verbose=1 if mode == "bar" else 0,
            callbacks=[*runner_callbacks, *callbacks],
        )
    interrupt.check()

    if best_values is not None:
        checkpoints.set_model_values(model, best_values)
    test_metric = compute_metric(task.metric, predict(model, task.x_test), task.y_test)
    if save_model:
        model.save(run_dir / "best.keras")
    wall = elapsed()
    record = _record(
        config, task, state, int(model.count_params()), solver, unfolds, test_metric, wall,
        load_time, data_dir,
    )
    records.append_record(output_dir / records.RESULTS_FILE, record)
    say(test_line(config.run_name, task.metric, test_metric, state, wall))
    return record


def _resume(
    run_dir: Path, model: keras.Model, config: RunConfig
) -> tuple[dict[str, Any], list[np.ndarray] | None]:
    """Restores a checkpoint after checking that it belongs to ``config``."""
    state, best_values = checkpoints.load_checkpoint(run_dir, model)
    if state["settings"] != config.settings() or state["seed"] != config.seed:
        saved = {**state["settings"], "seed": state["seed"]}
        wanted = {**config.settings(), "seed": config.seed}
        differences = {key: (saved.get(key), wanted.get(key)) for key in wanted
                       if saved.get(key) != wanted.get(key)}
        raise ValueError(
            f"Cannot resume from {str(run_dir)!r}: it was written with different settings "
            f"(checkpoint, requested): {differences}."
        )
    if state["epochs_done"] > config.epochs:
        raise ValueError(
            f"Received an invalid value for argument `epochs`: the checkpoint in "
            f"{str(run_dir)!r} has already trained {state['epochs_done']} epochs, more than "
            f"the requested {config.epochs}."
        )
    return state, best_values


def _record(
    config: RunConfig,
    task: Task,
    state: dict[str, Any],
    parameters: int,
    solver: str | None,
    unfolds: int | None,
    test_metric: float,
    wall: float,
    load_time: float,
    data_dir: os.PathLike | str | None,
) -> dict[str, Any]:
    """The result record of a finished run (see :mod:`liquidtime.experiments.records`)."""
    trained = [entry for entry in state["history"] if entry["loss"] is not None]
    return {
        "record_version": records.RECORD_VERSION,
        "run_key": config.run_key,
        "run_name": config.run_name,
        "task": config.task,
        "protocol": config.protocol,
        "model": config.model,
        "seed": config.seed,
        "preset": config.preset,
        "units": config.units,
        "epochs": config.epochs,
        "epochs_run": state["epochs_done"],
        "batch_size": config.batch_size,
        "learning_rate": config.learning_rate,
        "optimizer": "adam",
        "solver": solver,
        "unfolds": unfolds,
        "max_train_windows": config.max_train_windows,
        **({"layer_options": {name: json.loads(value) for name, value in config.layer_options}}
           if config.layer_options else {}),
        "train_windows": len(task.x_train),
        "valid_windows": len(task.x_valid),
        "test_windows": len(task.x_test),
        "loss": "mse" if task.kind == REGRESSION else "cross_entropy",
        "class_weights": task.class_weights,
        "metric": task.metric,
        "higher_is_better": task.higher_is_better,
        "test_metric": test_metric,
        "valid_metric": state["best_metric"],
        "best_epoch": state["best_epoch"],
        "final_train_loss": trained[-1]["loss"] if trained else None,
        "stopped_on_nan": state["stopped_on_nan"],
        "segments": state["segments"],
        "history": state["history"],
        "wall_time_s": round(wall, 3),
        "load_time_s": round(load_time, 3),
        "parameters": parameters,
        "data_dir": None if data_dir is None else str(data_dir),
        "distribution": describe_distribution(),
        "timestamp": records.timestamp(),
        **records.environment(),
    }

"""ncps's LTC and CfC (``ncps.torch``) trained under liquidtime's protocol, for comparison.

The models ``ncps-ltc`` and ``ncps-cfc`` (:data:`NCPS_MODELS`) are ncps 1.0.1's
PyTorch ``LTC`` and ``CfC`` with their own defaults (the LTC's softplus
reparametrisation of the positive parameters, affine input and output maps, 6
fused unfolds; the CfC's default mode and backbone) and a linear head at every
step (or at the last step for sequence classification), exactly as
:func:`liquidtime.models.build_model` puts a head on our layers. They are trained
by :func:`train_ncps_run` with everything else of :func:`~liquidtime.experiments.runner.train_run`:
the same loaded windows and splits, the epoch order of
:func:`~liquidtime.experiments.runner.epoch_order`, the same loss (cross-entropy
on logits, ozone's per-step class weights averaged over all steps, or the mean
squared error), Adam with the run's learning rate and Keras's default moments
(``beta = (0.9, 0.999)``, ``epsilon = 1e-7``), the validation metric before
training and after every epoch, the best-validation weights for the test, a
checkpoint after every epoch (``--resume``) and one record in the command line's
format (``backend`` is ``"torch"``, ``versions`` names ncps).

Seeds: ``torch.manual_seed(seed)`` draws the weights and the fully connected
wiring's synapse polarities are drawn with ``erev_init_seed=seed`` (ncps's
default is a fixed 1111), as our ``ltc`` model seeds its wiring with the run's seed.

ncps and torch are optional: they are imported when such a run starts, and a
missing package is named with the command that installs it.
"""

from __future__ import annotations

import copy
import importlib.metadata
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from liquidtime.data._task import REGRESSION, SEQUENCE_CLASSIFICATION, Task
from liquidtime.experiments import records
from liquidtime.experiments.best_epoch import record_validation, test_line
from liquidtime.experiments.metrics import compute_metric

NCPS_MODELS: tuple[str, ...] = ("ncps-ltc", "ncps-cfc")
"""Comparison models trained with ncps.torch instead of liquidtime's layers."""

CHECKPOINT_FILE = "checkpoint.pt"
EVAL_BATCH_SIZE = 256
ADAM_EPSILON = 1e-7
"""Keras's Adam default, which liquidtime's runs use."""
TORCH_THREADS = 1
"""ncps's step-by-step loop runs on one thread: at the paper's batch of 16 each op is tiny,
and with two threads a training step took 7-40x longer on a busy 2-core machine (threads
waiting for each other), 174 ms against 1.2-7.4 s for the LTC on ozone's shapes."""


def import_ncps() -> tuple[Any, Any]:
    """``(torch, ncps)``, or an ImportError that says how to install them."""
    try:
        import ncps.torch  # noqa: F401
        import ncps.wirings  # noqa: F401
        import torch
    except ImportError as error:
        raise ImportError(
            "The comparison models 'ncps-ltc' and 'ncps-cfc' train ncps's PyTorch LTC and CfC; "
            "they need the packages ncps and torch: pip install ncps==1.0.1 torch==2.13.0 "
            f"(missing: {error.name})."
        ) from error
    import ncps

    return torch, ncps


def build_ncps_model(model: str, task: Task, units: int, seed: int) -> Any:
    """The ncps.torch recurrent layer and a linear head, as a ``torch.nn.Module``.

    Args:
        model: ``"ncps-ltc"`` or ``"ncps-cfc"``.
        task: The loaded task (input and output sizes, per-step or last-step head).
        units: Hidden units.
        seed: Seed of the weights and of the LTC wiring's polarities.

    Returns:
        A module mapping ``(batch, time, features)`` to ``(batch, time, outputs)``
        (``(batch, outputs)`` for sequence classification).
    """
    torch, ncps = import_ncps()
    torch.manual_seed(seed)
    sequences = task.kind != SEQUENCE_CLASSIFICATION
    if model == "ncps-ltc":
        wiring = ncps.wirings.FullyConnected(units, erev_init_seed=seed)
        rnn = ncps.torch.LTC(task.input_dim, wiring, return_sequences=sequences, batch_first=True)
    elif model == "ncps-cfc":
        rnn = ncps.torch.CfC(task.input_dim, units, return_sequences=sequences, batch_first=True)
    else:
        raise ValueError(
            f"Received an invalid value for argument `model`, expected one of "
            f"{list(NCPS_MODELS)}, got {model!r}."
        )

    # torch is imported lazily (import_ncps), so mypy cannot see the base class.
    class SequenceModel(torch.nn.Module):  # type: ignore[name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.rnn = rnn
            self.head = torch.nn.Linear(units, task.output_dim)

        def forward(self, inputs: Any) -> Any:
            hidden, _ = self.rnn(inputs)
            return self.head(hidden)

        def apply_constraints(self) -> None:
            """ncps's clipping of the LTC's positive parameters (a no-op in its softplus mode)."""
            cell = getattr(self.rnn, "rnn_cell", None)
            if cell is not None and hasattr(cell, "apply_weight_constraints"):
                cell.apply_weight_constraints()

    return SequenceModel()


def _loss(torch: Any, task: Task, outputs: Any, targets: Any, weights: Any) -> Any:
    """The runner's loss: weighted cross-entropy on logits averaged over all steps, or the MSE."""
    if task.kind == REGRESSION:
        return torch.mean((outputs - targets.reshape(outputs.shape)) ** 2)
    losses = torch.nn.functional.cross_entropy(
        outputs.reshape(-1, outputs.shape[-1]), targets.reshape(-1).long(), reduction="none"
    )
    if weights is not None:
        losses = losses * weights.reshape(-1)
    return torch.mean(losses)


def _predict(torch: Any, model: Any, x: np.ndarray) -> np.ndarray:
    model.eval()
    with torch.no_grad():
        outputs = [
            model(torch.from_numpy(x[start : start + EVAL_BATCH_SIZE])).numpy()
            for start in range(0, len(x), EVAL_BATCH_SIZE)
        ]
    model.train()
    return np.concatenate(outputs)


def _save(torch: Any, path: Path, payload: dict[str, Any]) -> None:
    """Writes the checkpoint to a per-process temporary file and renames it (atomic)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    torch.save(payload, temporary)
    os.replace(temporary, path)


def _load(torch: Any, path: Path) -> dict[str, Any]:
    try:
        return torch.load(path, weights_only=False)
    except Exception as error:  # a truncated or foreign file: name it and say what to do
        raise ValueError(
            f"Cannot read the checkpoint {str(path)!r} ({type(error).__name__}: {error}). "
            "Delete it to train this run from scratch."
        ) from error


def train_ncps_run(
    config: Any,
    task: Task,
    *,
    output_dir: Path,
    resume: bool,
    say: Callable[[str], None],
    started: float,
    load_time: float,
    data_dir: Any,
    make_record: Callable[..., dict[str, Any]],
) -> dict[str, Any]:
    """Trains an ncps.torch model with the runner's protocol and appends its record.

    Args:
        config: The resolved :class:`~liquidtime.experiments.runner.RunConfig`
            (model ``ncps-ltc`` or ``ncps-cfc``).
        task: The loaded task (already subsampled).
        output_dir: Where ``results.jsonl`` and ``checkpoints/<run_name>/`` go.
        resume: Continue from the run's checkpoint if there is one.
        say: Where progress lines go.
        started: ``time.perf_counter()`` at the start of the run.
        load_time: Seconds spent loading the data.
        data_dir: The data root, for the record.
        make_record: The runner's record builder (one record format for every model).

    Returns:
        The result record.
    """
    from liquidtime.experiments.runner import epoch_order, initial_state, sample_weights

    torch, ncps = import_ncps()
    torch.set_num_threads(TORCH_THREADS)
    run_dir = output_dir / "checkpoints" / config.run_name
    checkpoint_path = run_dir / CHECKPOINT_FILE
    model = build_ncps_model(config.model, task, config.units, config.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate, eps=ADAM_EPSILON)
    state = initial_state(config)
    best_weights: dict[str, Any] | None = None
    resumed = resume and checkpoint_path.is_file()
    if resumed:
        saved = _load(torch, checkpoint_path)
        if saved["state"]["settings"] != config.settings() or saved["state"]["seed"] != config.seed:
            raise ValueError(
                f"Cannot resume from {str(run_dir)!r}: it was written with different settings."
            )
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        state, best_weights = saved["state"], saved["best"]
    previous_elapsed = state["elapsed_s"]
    state["segments"] += 1

    def elapsed() -> float:
        return previous_elapsed + time.perf_counter() - started

    say(
        f"{config.run_name}: {config.model} (ncps {importlib.metadata.version('ncps')}, torch "
        f"{torch.__version__}) on {config.task} ({config.protocol} protocol), "
        f"{len(task.x_train)}/{len(task.x_valid)}/{len(task.x_test)} train/valid/test windows, "
        f"{config.units} units, batch {config.batch_size}, lr {config.learning_rate:g}, "
        f"{config.epochs} epochs, seed {config.seed}"
        + (f"; resuming after epoch {state['epochs_done']}" if resumed else "")
    )

    def validate(epoch: int, loss: float | None) -> None:
        nonlocal best_weights
        value = compute_metric(task.metric, _predict(torch, model, task.x_valid), task.y_valid)
        improved, line = record_validation(
            state, task.metric, epoch, config.epochs, loss, value, elapsed()
        )
        if improved:
            best_weights = copy.deepcopy(model.state_dict())
        say(line)

    if not resumed:
        validate(0, None)
    weights = sample_weights(task, task.y_train)
    epoch = state["epochs_done"]
    while epoch < config.epochs and not state["stopped_on_nan"]:
        epoch += 1
        order = epoch_order(config.seed, epoch, len(task.x_train), config.batch_size)
        total, steps = 0.0, 0
        for start in range(0, len(order), config.batch_size):
            batch = order[start : start + config.batch_size]
            outputs = model(torch.from_numpy(task.x_train[batch]))
            batch_weights = None if weights is None else torch.from_numpy(weights[batch])
            loss = _loss(torch, task, outputs, torch.from_numpy(task.y_train[batch]), batch_weights)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            model.apply_constraints()
            total, steps = total + loss.item(), steps + 1
            if not math.isfinite(total):
                break
        mean_loss = total / max(steps, 1)
        if not math.isfinite(mean_loss):
            state["stopped_on_nan"] = True
            state["history"].append(
                {"epoch": epoch, "loss": None, "valid": None, "elapsed_s": round(elapsed(), 3)}
            )
            say(f"  epoch {epoch:>3}/{config.epochs}  loss is NaN: training stopped")
        else:
            validate(epoch, mean_loss)
        state["epochs_done"] = epoch
        state["elapsed_s"] = elapsed()
        _save(torch, checkpoint_path,
              {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
               "best": best_weights, "state": state})

    if best_weights is not None:
        model.load_state_dict(best_weights)
    test_metric = compute_metric(task.metric, _predict(torch, model, task.x_test), task.y_test)
    wall = elapsed()
    parameters = sum(parameter.numel() for parameter in model.parameters())
    record = make_record(
        config, task, state, parameters, "fused", 6 if config.model == "ncps-ltc" else None,
        test_metric, wall, load_time, data_dir,
    )
    if config.model == "ncps-cfc":
        record["solver"] = None
    record["backend"] = "torch"
    record["versions"] = {**record["versions"], "ncps": importlib.metadata.version("ncps"),
                          "torch": torch.__version__}
    records.append_record(output_dir / records.RESULTS_FILE, record)
    say(test_line(config.run_name, task.metric, test_metric, state, wall))
    return record

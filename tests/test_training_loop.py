"""The runner's one ``fit`` over all epochs: the same numbers as a plain per-epoch loop
(fresh, resumed and NaN-stopped runs, with and without sample weights), callbacks of the
caller that see Keras's epochs and the validation metric, and the command line's
``--csv``, ``--tensorboard`` and ``--config``.

Runs use the occupancy data shipped with liquidtime (subsampled) or a small synthetic task in
the shape of ozone (class-weighted loss); nothing reads data from outside the repository.
"""

from __future__ import annotations

import csv
import dataclasses
import importlib.util
import math
import sys

import keras
import numpy as np
import pytest

from liquidtime.cli import main
from liquidtime.data import get_task_info, load_task
from liquidtime.data._task import build_task
from liquidtime.experiments import checkpoints, records
from liquidtime.experiments.metrics import compute_metric
from liquidtime.experiments.runner import (
    RunConfig,
    build_run_model,
    epoch_order,
    make_loss,
    predict,
    sample_weights,
    subsample_train,
    train_run,
)

TINY = {"units": 4, "max_train_windows": 64, "batch_size": 16}


@pytest.fixture(scope="module")
def occupancy():
    return load_task("occupancy")


def _ozone_like(windows: int = 40):
    """A small task with ozone's shapes and class weights, split 24 / 8 / 8 windows."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(windows, 32, 72)).astype("float32")
    y = (x[..., 0] > 1.0).astype("int32")
    splits = [(x[i:j], y[i:j]) for i, j in ((0, 24), (24, 32), (32, 40))]
    return build_task(get_task_info("ozone"), "corrected", *splits)


def _per_epoch_loop(config: RunConfig, task):
    """The training as a plain loop: one ``fit(epochs=1)`` per epoch on the windows in
    ``epoch_order``, the validation metric after each, stopping on a non-finite loss.

    Returns:
        The model, the epoch losses and the validation metrics (epoch 0 first).
    """
    config = config.resolved()
    task = subsample_train(task, config.max_train_windows)
    keras.utils.set_random_seed(config.seed)
    model = build_run_model(config, task)
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate), loss=make_loss(task))
    weights = sample_weights(task, task.y_train)
    losses = []
    valid = [compute_metric(task.metric, predict(model, task.x_valid), task.y_valid)]
    for epoch in range(1, config.epochs + 1):
        order = epoch_order(config.seed, epoch, len(task.x_train), config.batch_size)
        history = model.fit(
            task.x_train[order], task.y_train[order],
            sample_weight=None if weights is None else weights[order],
            batch_size=config.batch_size, epochs=1, shuffle=False, verbose=0,
            callbacks=[keras.callbacks.TerminateOnNaN()],
        )
        losses.append(float(history.history["loss"][-1]))
        if not math.isfinite(losses[-1]):
            break
        valid.append(compute_metric(task.metric, predict(model, task.x_valid), task.y_valid))
    return model, losses, valid


def _assert_same_as_loop(record, output_dir, model, losses, valid):
    path = output_dir / "checkpoints" / record["run_name"] / checkpoints.CHECKPOINT_FILE
    with np.load(path) as data:
        saved = [data[f"model_{index}"] for index in range(len(model.variables))]
    for index, value in enumerate(checkpoints.model_values(model)):
        np.testing.assert_array_equal(saved[index], value, err_msg=f"variable {index}")
    history = record["history"]
    assert [entry["loss"] for entry in history[1:]] == [
        loss if math.isfinite(loss) else None for loss in losses
    ]
    assert [entry["valid"] for entry in history if entry["valid"] is not None] == valid


@pytest.mark.parametrize("kind", ["occupancy", "ozone-like"])
def test_one_fit_trains_bit_for_bit_like_a_per_epoch_loop_fresh_and_resumed(
    kind, occupancy, tmp_path
):
    if kind == "occupancy":
        config, task = RunConfig("occupancy", "lstm", seed=3, epochs=3, **TINY), occupancy
    else:  # class-weighted loss: per-step sample weights in every batch
        config = RunConfig("ozone", "cfc", seed=1, epochs=2, units=4, batch_size=8)
        task = _ozone_like()
    model, losses, valid = _per_epoch_loop(config, task)

    fresh = train_run(config, output_dir=tmp_path / "fresh", task=task, progress="none")
    _assert_same_as_loop(fresh, tmp_path / "fresh", model, losses, valid)

    train_run(dataclasses.replace(config, epochs=1), output_dir=tmp_path / "resumed",
              task=task, progress="none")
    resumed = train_run(config, output_dir=tmp_path / "resumed", task=task, progress="none",
                        resume=True)
    _assert_same_as_loop(resumed, tmp_path / "resumed", model, losses, valid)
    assert resumed["test_metric"] == fresh["test_metric"] and resumed["segments"] == 2


def test_a_nan_in_a_later_epoch_stops_like_a_per_epoch_loop(occupancy, tmp_path):
    """70 windows in batches of 16 drop 6 per epoch: the poisoned window is left out of
    epoch 1 and trained on in epoch 2."""
    poisoned_window = next(
        window for window in range(70)
        if window not in epoch_order(0, 1, 70, 16) and window in epoch_order(0, 2, 70, 16)
    )
    x_train = occupancy.x_train[:70].copy()
    x_train[poisoned_window, 3, 0] = np.nan
    task = dataclasses.replace(occupancy, x_train=x_train, y_train=occupancy.y_train[:70])
    config = RunConfig("occupancy", "lstm", epochs=4, units=4, batch_size=16)
    model, losses, valid = _per_epoch_loop(config, task)
    assert len(losses) == 2 and not math.isfinite(losses[-1])

    record = train_run(config, output_dir=tmp_path, task=task, progress="none")
    assert record["stopped_on_nan"] and record["epochs_run"] == 2
    _assert_same_as_loop(record, tmp_path, model, losses, valid)


class _Recorder(keras.callbacks.Callback):
    """Keeps the epoch numbers and logs that Keras passes to ``on_epoch_end``."""

    def __init__(self):
        super().__init__()
        self.epochs, self.logs = [], []

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append(epoch)
        self.logs.append(dict(logs))


def test_callbacks_see_keras_epochs_and_the_validation_metric(occupancy, tmp_path):
    """EarlyStopping keeps its state over the run: with no possible improvement
    (min_delta 1) and patience 1 it stops after the second epoch."""
    config = RunConfig("occupancy", "lstm", epochs=5, **TINY)
    recorder = _Recorder()
    stopping = keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=1,
                                             min_delta=1.0)
    record = train_run(config, output_dir=tmp_path, task=occupancy, progress="none",
                       callbacks=[stopping, recorder])
    assert record["epochs_run"] == 2 and not record["stopped_on_nan"]
    assert [entry["epoch"] for entry in record["history"]] == [0, 1, 2]
    assert recorder.epochs == [0, 1] and stopping.stopped_epoch == 1
    assert [logs["val_accuracy"] for logs in recorder.logs] == [
        entry["valid"] for entry in record["history"][1:]
    ]
    assert [logs["loss"] for logs in recorder.logs] == [
        entry["loss"] for entry in record["history"][1:]
    ]

    later = _Recorder()  # a resumed run goes on counting
    resumed = train_run(config, output_dir=tmp_path, task=occupancy, progress="none",
                        resume=True, callbacks=[later])
    assert later.epochs == [2, 3, 4] and resumed["epochs_run"] == 5


def test_callbacks_are_refused_for_ncps_models(tmp_path):
    with pytest.raises(ValueError, match="argument `callbacks`: model 'ncps-ltc'"):
        train_run(RunConfig("occupancy", "ncps-ltc"), output_dir=tmp_path,
                  callbacks=[keras.callbacks.TerminateOnNaN()])


# --- the command line ----------------------------------------------------------------

CLI_TINY = ["--task", "occupancy", "--model", "lstm", "--units", "4", "--max-train-windows",
            "64", "--progress", "none"]


def test_csv_has_one_row_per_epoch_with_keras_epochs_and_resume_appends(tmp_path):
    log = tmp_path / "logs" / "run.csv"
    assert main(["train", *CLI_TINY, "--epochs", "2", "--output", str(tmp_path),
                 "--csv", str(log)]) == 0
    assert main(["train", *CLI_TINY, "--epochs", "3", "--output", str(tmp_path),
                 "--csv", str(log), "--resume"]) == 0
    latest = records.read_records(tmp_path)[-1]
    with log.open() as file:
        rows = list(csv.DictReader(file))
    assert list(rows[0]) == ["epoch", "loss", "val_accuracy"]
    assert [row["epoch"] for row in rows] == ["0", "1", "2"]
    history = latest["history"][1:]
    assert [float(row["loss"]) for row in rows] == [entry["loss"] for entry in history]
    assert [float(row["val_accuracy"]) for row in rows] == [entry["valid"] for entry in history]


def test_tensorboard_logs_go_to_a_folder_per_run(tmp_path, monkeypatch, captured):
    """Keras's TensorBoard callback, in DIR/<run name> (its files need TensorFlow and
    TensorBoard, so here only the callback is checked, as if both were installed)."""
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *rest: (
        object() if name in ("tensorflow", "tensorboard") else real_find_spec(name, *rest)))
    assert main(["train", *CLI_TINY, "--output", str(tmp_path), "--tensorboard",
                 str(tmp_path / "tb")]) == 0
    ((config, options),) = captured
    (board,) = options["callbacks"]
    assert isinstance(board, keras.callbacks.TensorBoard)
    assert board.log_dir == str(tmp_path / "tb" / config.run_name)


def test_tensorboard_without_tensorboard_installed_is_a_clear_error(tmp_path, monkeypatch,
                                                                    capsys):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # find_spec then finds nothing
    code = main(["train", *CLI_TINY, "--output", str(tmp_path), "--tensorboard",
                 str(tmp_path / "tb")])
    assert code == 2
    assert "but tensorboard is not installed: pip install tensorboard" in capsys.readouterr().err
    assert not (tmp_path / "results.jsonl").exists()


@pytest.fixture
def captured(monkeypatch):
    """Replaces ``train_run`` in the train command; returns the calls' arguments."""
    calls = []

    def fake(config, **options):
        calls.append((config, options))
        return {}

    # The command imports train_run when it runs (its --help loads no backend).
    monkeypatch.setattr("liquidtime.experiments.runner.train_run", fake)
    return calls


@pytest.mark.parametrize("suffix", [".toml", ".yaml"])
def test_config_file_gives_options_and_the_command_line_wins(suffix, tmp_path, captured):
    lines = {
        ".toml": ['task = "occupancy"', 'model = "ltc"', "epochs = 7", "batch_size = 8",
                  '"learning-rate" = 0.02', 'protocol = "original"', "resume = true",
                  'layer_option = ["ode_unfolds=3"]', 'csv = "out.csv"'],
        ".yaml": ["task: occupancy", "model: ltc", "epochs: 7", "batch_size: 8",
                  "learning-rate: 0.02", "protocol: original", "resume: true",
                  "layer_option: [ode_unfolds=3]", "csv: out.csv"],
    }[suffix]
    path = tmp_path / f"run{suffix}"
    path.write_text("\n".join(lines) + "\n")
    assert main(["train", "--config", str(path), "--epochs", "2", "--protocol", "corrected",
                 "--output", str(tmp_path)]) == 0
    ((config, options),) = captured
    assert (config.task, config.model, config.epochs, config.batch_size) == (
        "occupancy", "ltc", 2, 8)
    assert config.learning_rate == 0.02 and config.protocol == "corrected"
    assert config.layer_options == (("ode_unfolds", "3"),)
    assert options["resume"] is True and options["progress"] == "auto"
    assert [type(callback) for callback in options["callbacks"]] == [keras.callbacks.CSVLogger]


@pytest.mark.parametrize(
    "text, message",
    [
        ('task = "occupancy"\nmodel = "ltc"\nepoch = 3\n', "unknown key 'epoch' in --config"),
        ('task = "occupancy"\nmodel = "ltc"\nepochs = 0\n',
         "epochs = 0 in --config {path}: expected a positive integer, got '0'"),
        ('task = "occupancy"\nmodel = "gru"\n', "model = 'gru' in --config {path}: invalid choice"),
        ('task = "occupancy"\nmodel = "ltc"\nresume = "yes"\n', "expected true or false"),
        ('task = "occupancy"\nepochs = 3\n', "the following arguments are required: --model"),
        ('task = "occupancy"\nmodel = "ltc"\nlr = 0.1\nlearning_rate = 0.2\n',
         "set the same option"),
        ("task = \n", "is not valid TOML"),
    ],
)
def test_bad_config_files_are_usage_errors_naming_the_key_and_file(
    text, message, tmp_path, capsys, captured
):
    path = tmp_path / "run.toml"
    path.write_text(text)
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--config", str(path)])
    assert exit_info.value.code == 2
    assert message.format(path=path) in capsys.readouterr().err
    assert not captured


def test_compare_takes_a_config_file_and_plot_x(tmp_path, monkeypatch):
    seen = {}

    def fake_runs(configs, **options):
        seen["configs"] = configs
        return []

    def fake_plot(records, path, x):
        seen["x"] = x
        return path

    # The command imports these when it runs (its --help loads no backend).
    monkeypatch.setattr("liquidtime.experiments.campaign.run_configs", fake_runs)
    monkeypatch.setattr("liquidtime.experiments.plots.plot_learning_curves", fake_plot)
    monkeypatch.setattr("liquidtime.experiments.tables.markdown_table", lambda records: "table")
    path = tmp_path / "compare.toml"
    path.write_text('task = "occupancy"\nmodels = ["lstm", "cfc"]\nseeds = 2\nplot-x = "time"\n'
                    'epochs = 4\n')
    assert main(["compare", "--config", str(path), "--output", str(tmp_path / "out")]) == 0
    assert [(config.model, config.seed, config.epochs) for config in seen["configs"]] == [
        ("lstm", 0, 4), ("cfc", 0, 4), ("lstm", 1, 4), ("cfc", 1, 4)]
    assert seen["x"] == "time"


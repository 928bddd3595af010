"""The experiment runner: metrics, epoch order, exact resume, NaN stop, each task kind,
result records, tables beside the paper's numbers and learning-curve plots.

Runs use the occupancy data shipped with liquidtime (subsampled) or small synthetic
tasks in the shapes of ozone, traffic and smnist; nothing reads data from outside the repository.
"""

from __future__ import annotations

import dataclasses
import json
import math

import keras
import numpy as np
import pytest

from liquidtime.data import get_task_info, load_task
from liquidtime.data._task import build_task
from liquidtime.experiments import checkpoints, metrics, records, tables
from liquidtime.experiments.campaign import run_configs
from liquidtime.experiments.plots import plot_learning_curves
from liquidtime.experiments.runner import (
    RunConfig,
    epoch_order,
    sample_weights,
    solver_models,
    subsample_train,
    train_run,
)

TINY = dict(units=4, max_train_windows=64, batch_size=16)


@pytest.fixture(scope="module")
def occupancy():
    return load_task("occupancy")


def _checkpoint_arrays(output_dir, record):
    path = output_dir / "checkpoints" / record["run_name"] / checkpoints.CHECKPOINT_FILE
    with np.load(path) as data:
        return {key: data[key] for key in data.files if key != "state"}


def _synthetic(name: str, windows: int = 40, seed: int = 0):
    """A small task with the shapes and kind of ``name``, split 24 / 8 / 8 windows."""
    info = get_task_info(name)
    rng = np.random.default_rng(seed)
    length, features = {"ozone": (32, 72), "traffic": (32, 7), "smnist": (28, 28)}[name]
    x = rng.normal(size=(windows, length, features)).astype("float32")
    if info.kind == "regression":
        y = (x[..., :1] * 0.5 + 0.1 * rng.normal(size=(windows, length, 1))).astype("float32")
    elif info.kind == "sequence_classification":
        y = rng.integers(0, info.num_classes, size=windows)
    else:
        y = (x[..., 0] > 1.0).astype("int32")
    splits = [(x[i:j], y[i:j]) for i, j in ((0, 24), (24, 32), (32, 40))]
    return build_task(info, "corrected", *splits)


# --- metrics -------------------------------------------------------------------------


def test_metrics_against_hand_computed_values():
    logits = np.array([[[2.0, 1.0], [0.0, 3.0], [0.0, 1.0], [5.0, 0.0]]])
    labels = np.array([[0, 1, 0, 1]])
    assert metrics.accuracy(logits, labels) == 0.5
    # predicted positives at steps 1 and 2, actual at 1 and 3: tp=1, fp=1, fn=1.
    assert metrics.positive_f1(logits, labels) == pytest.approx(2 / (2 + 2))
    assert metrics.positive_f1(np.array([[1.0, 0.0]]), np.array([0])) == 0.0
    assert metrics.mean_squared_error(np.array([1.0, 3.0]), np.array([0.0, 1.0])) == 2.5
    assert metrics.compute_metric("f1", logits, labels) == metrics.positive_f1(logits, labels)
    with pytest.raises(ValueError, match="`metric`.*'auc'"):
        metrics.compute_metric("auc", logits, labels)


def test_is_better_follows_the_metric_direction():
    assert metrics.is_better("accuracy", 0.9, 0.8)
    assert not metrics.is_better("accuracy", 0.8, 0.8)
    assert metrics.is_better("mse", 0.1, 0.2)
    assert not metrics.is_better("mse", math.nan, 0.2)
    assert metrics.is_better("f1", 0.0, None)


# --- data order and settings ---------------------------------------------------------


def test_epoch_order_is_a_seeded_permutation_without_the_last_incomplete_batch():
    order = epoch_order(seed=3, epoch=1, num_windows=50, batch_size=16)
    assert len(order) == 48 and len(set(order)) == 48 and order.max() < 50
    np.testing.assert_array_equal(order, epoch_order(3, 1, 50, 16))
    assert not np.array_equal(order, epoch_order(3, 2, 50, 16))
    assert not np.array_equal(epoch_order(0, 1, 50, 16), epoch_order(1, 0, 50, 16))


def test_subsample_keeps_a_fixed_subset_and_the_evaluation_splits(occupancy):
    small = subsample_train(occupancy, 100)
    assert small.x_train.shape == (100, 16, 5)
    np.testing.assert_array_equal(small.x_train, subsample_train(occupancy, 100).x_train)
    assert small.x_valid is occupancy.x_valid and small.x_test is occupancy.x_test
    assert subsample_train(occupancy, None) is occupancy


def test_config_takes_the_paper_defaults_and_validates():
    config = RunConfig("occupancy", "ltc").resolved()
    assert (config.units, config.epochs, config.batch_size) == (32, 200, 16)
    assert config.learning_rate == 0.005
    assert RunConfig("traffic", "ltc-dense").resolved().learning_rate == 0.01
    assert RunConfig("traffic", "lstm").resolved().learning_rate == 0.001
    assert RunConfig("occupancy", "ltc", epochs=3).run_name == RunConfig("occupancy", "ltc").run_name
    assert RunConfig("occupancy", "ltc", epochs=3).run_key != RunConfig("occupancy", "ltc").run_key
    assert set(solver_models()) >= {"ltc", "ltc-dense", "ctrnn", "node"}
    assert not {"lstm", "cfc", "ctgru"} & set(solver_models())
    with pytest.raises(ValueError, match="`epochs`, expected a positive integer, got 0"):
        RunConfig("occupancy", "ltc", epochs=0)
    with pytest.raises(ValueError, match="`task`.*'mnist'"):
        RunConfig("mnist", "ltc")
    with pytest.raises(ValueError, match="`model`.*'gru'"):
        RunConfig("occupancy", "gru")
    with pytest.raises(ValueError, match="`solver`: model 'lstm' has no ODE solver"):
        RunConfig("occupancy", "lstm", solver="rk4")
    with pytest.raises(ValueError, match="`learning_rate`"):
        RunConfig("occupancy", "ltc", learning_rate=-1.0)


def test_ozone_class_weights_become_per_step_sample_weights():
    task = _synthetic("ozone")
    weights = sample_weights(task, np.array([[0, 1, 1], [1, 0, 0]]))
    np.testing.assert_allclose(weights, [[0.1, 1.6, 1.6], [1.6, 0.1, 0.1]])
    assert sample_weights(_synthetic("traffic"), np.zeros((2, 3))) is None


# --- training runs -------------------------------------------------------------------


class _KillDuringEpoch(keras.callbacks.Callback):
    """Raises KeyboardInterrupt in the middle of the given epoch (counted from 1)."""

    def __init__(self, epoch: int):
        super().__init__()
        self.epoch, self.epochs_begun = epoch, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs_begun += 1

    def on_train_batch_end(self, batch, logs=None):
        if self.epochs_begun == self.epoch and batch == 1:
            raise KeyboardInterrupt


def test_a_killed_run_resumes_to_the_weights_of_an_uninterrupted_run(occupancy, tmp_path):
    config = RunConfig("occupancy", "ltc", seed=2, epochs=3, **TINY)
    whole = train_run(config, output_dir=tmp_path / "whole", task=occupancy, progress="none")

    with pytest.raises(KeyboardInterrupt):
        train_run(config, output_dir=tmp_path / "killed", task=occupancy, progress="none",
                  callbacks=[_KillDuringEpoch(3)])
    resumed = train_run(config, output_dir=tmp_path / "killed", task=occupancy,
                        progress="none", resume=True)

    expected = _checkpoint_arrays(tmp_path / "whole", whole)
    actual = _checkpoint_arrays(tmp_path / "killed", resumed)
    assert expected.keys() == actual.keys()
    assert any(key.startswith("optimizer_") for key in expected)
    for key in expected:  # model, optimizer and best-validation variables
        np.testing.assert_array_equal(actual[key], expected[key], err_msg=key)
    assert resumed["test_metric"] == whole["test_metric"]
    assert resumed["history"] == [
        {**entry, "elapsed_s": resumed["history"][i]["elapsed_s"]}
        for i, entry in enumerate(whole["history"])
    ]
    assert resumed["segments"] == 2 and whole["segments"] == 1


def test_resume_refuses_other_settings_and_fewer_epochs(occupancy, tmp_path):
    config = RunConfig("occupancy", "lstm", epochs=2, **TINY)
    train_run(config, output_dir=tmp_path, task=occupancy, progress="none")
    with pytest.raises(ValueError, match="already trained 2 epochs, more than the requested 1"):
        train_run(dataclasses.replace(config, epochs=1), output_dir=tmp_path, task=occupancy,
                  progress="none", resume=True)
    # A finished checkpoint with the same epochs only re-evaluates the best weights.
    again = train_run(config, output_dir=tmp_path, task=occupancy, progress="none", resume=True)
    assert again["epochs_run"] == 2 and len(again["history"]) == 3
    with pytest.raises(ValueError, match="`task`: the loaded task is 'occupancy'"):
        train_run(RunConfig("traffic", "lstm"), task=occupancy, output_dir=tmp_path)


def test_checkpoint_of_another_model_is_refused(occupancy, tmp_path):
    config = RunConfig("occupancy", "lstm", epochs=1, **TINY)
    record = train_run(config, output_dir=tmp_path, task=occupancy, progress="none")
    other = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    other.compile("adam", "mse")
    with pytest.raises(ValueError, match="holds .* model variables, the model has 2"):
        checkpoints.load_checkpoint(tmp_path / "checkpoints" / record["run_name"], other)
    with pytest.raises(FileNotFoundError, match="No checkpoint to resume from"):
        checkpoints.load_checkpoint(tmp_path / "nothing", other)


def test_nan_loss_stops_training_and_the_best_weights_are_tested(occupancy, tmp_path, capsys):
    x_train = occupancy.x_train[:64].copy()
    x_train[5, 3, 0] = np.nan
    poisoned = dataclasses.replace(occupancy, x_train=x_train, y_train=occupancy.y_train[:64])
    record = train_run(RunConfig("occupancy", "lstm", epochs=3, units=4), task=poisoned,
                       output_dir=tmp_path, progress="epoch")
    assert record["stopped_on_nan"] and record["epochs_run"] == 1
    assert record["best_epoch"] == 0 and math.isfinite(record["test_metric"])
    assert record["history"][-1] == {**record["history"][-1], "loss": None, "valid": None}
    assert "loss is NaN: training stopped" in capsys.readouterr().out


@pytest.mark.parametrize(
    "name, metric, model",
    [("ozone", "f1", "cfc"), ("traffic", "mse", "ltc-dense"), ("smnist", "accuracy", "lstm")],
)
def test_each_task_kind_trains_and_records_its_metric(name, metric, model, tmp_path):
    task = _synthetic(name)
    record = train_run(RunConfig(name, model, epochs=2, units=4, batch_size=8), task=task,
                       output_dir=tmp_path, progress="none")
    assert record["metric"] == metric and math.isfinite(record["test_metric"])
    assert record["class_weights"] == ((0.1, 1.6) if name == "ozone" else None)
    assert [entry["epoch"] for entry in record["history"]] == [0, 1, 2]
    assert all(math.isfinite(entry["loss"]) for entry in record["history"][1:])
    best = [entry["valid"] for entry in record["history"]]
    assert record["valid_metric"] == (min(best) if metric == "mse" else max(best))
    saved = records.read_records(tmp_path)
    assert len(saved) == 1 and saved[0]["test_metric"] == pytest.approx(record["test_metric"])


def test_record_holds_every_hyperparameter_metrics_time_and_versions(occupancy, tmp_path):
    config = RunConfig("occupancy", "ltc-dense", epochs=1, solver="euler", unfolds=2, **TINY)
    record = train_run(config, task=occupancy, output_dir=tmp_path, progress="none",
                       save_model=True)
    line = json.loads((tmp_path / records.RESULTS_FILE).read_text().splitlines()[0])
    assert line == json.loads(json.dumps(records._jsonable(record)))
    expected = {
        "task": "occupancy", "protocol": "corrected", "model": "ltc-dense", "seed": 0,
        "preset": "default", "units": 4, "epochs": 1, "epochs_run": 1, "batch_size": 16,
        "learning_rate": 0.005, "optimizer": "adam", "solver": "euler", "unfolds": 2,
        "max_train_windows": 64, "train_windows": 64, "metric": "accuracy", "backend": "jax",
    }
    assert {key: line[key] for key in expected} == expected
    for key in ("test_metric", "valid_metric", "wall_time_s", "parameters", "timestamp",
                "versions", "history", "run_key", "final_train_loss"):
        assert line[key] is not None, key
    assert line["versions"]["keras"] == keras.__version__
    restored = keras.models.load_model(tmp_path / "checkpoints" / record["run_name"] / "best.keras")
    assert restored.count_params() == record["parameters"]


def test_campaign_reuses_finished_runs_on_resume(occupancy, tmp_path):
    configs = [RunConfig("occupancy", "lstm", seed=seed, epochs=1, **TINY) for seed in (0, 1)]
    first = run_configs(configs[:1], output_dir=tmp_path, progress="none")
    lines = []
    both = run_configs(configs, output_dir=tmp_path, progress="none", resume=True, log=lines.append)
    assert both[0] == json.loads(json.dumps(records._jsonable(first[0])))
    assert [record["seed"] for record in both] == [0, 1]
    assert len(lines) == 1 and "already finished" in lines[0]
    assert len(records.read_records(tmp_path)) == 2


# --- records, tables, plots ----------------------------------------------------------


def _fake(task, model, seed, value, epochs=10, **extra):
    record = {
        "task": task, "protocol": "corrected", "model": model, "seed": seed, "preset": "paper",
        "units": 32, "epochs": epochs, "epochs_run": epochs, "batch_size": 16,
        "learning_rate": 0.001, "solver": None, "unfolds": None, "max_train_windows": None,
        "metric": {"occupancy": "accuracy", "traffic": "mse"}[task], "test_metric": value,
        "wall_time_s": 10.0, "stopped_on_nan": False,
        "history": [{"epoch": e, "loss": None if e == 0 else 1.0 / e, "valid": 0.5 + e / 100}
                    for e in range(epochs + 1)],
    }
    record.update(extra)
    record["run_key"] = f"{task}-{model}-{seed}-{epochs}-{record['max_train_windows']}"
    return record


def test_table_gives_mean_and_std_over_seeds_in_the_paper_units():
    fakes = [
        _fake("traffic", "ltc", 0, 0.10, learning_rate=0.01, solver="fused", unfolds=6),
        _fake("occupancy", "lstm", 0, 0.90),
        _fake("occupancy", "lstm", 1, 0.95),
        _fake("occupancy", "lstm", 1, 0.94),  # a repeat of seed 1: the latest counts
        _fake("occupancy", "cfc", 0, 0.97, max_train_windows=100),
        _fake("traffic", "ltc", 1, 0.12, learning_rate=0.01, solver="fused", unfolds=6),
    ]
    rows = tables.summarize(fakes)
    assert [(row.task, row.model) for row in rows] == [
        ("occupancy", "lstm"), ("occupancy", "cfc"), ("traffic", "ltc")
    ]
    lstm = rows[0]
    assert lstm.values == (90.0, 94.0) and lstm.seeds == (0, 1)
    assert lstm.mean == pytest.approx(92.0) and lstm.std == pytest.approx(2.0)  # ddof=0
    table = tables.markdown_table(fakes)
    assert "| occupancy (accuracy %) | lstm | 10 | 92.00 ± 2.00 (2 seeds) | 93.18 ± 1.66 |" in table
    assert "| occupancy (accuracy %) | cfc | 10 | 97.00 (1 seed) | — |" in table
    assert "≤100 train windows" in table
    assert "| traffic (mse) | ltc | 10 | 0.110 ± 0.010 (2 seeds) | 0.099 ± 0.010 |" in table
    assert "fused x6" in table and "Table 3" in table
    assert tables.markdown_table([]) == "No results.\n"


def test_table_notes_diverged_runs():
    fakes = [_fake("traffic", "node", 0, None, stopped_on_nan=True, epochs_run=4),
             _fake("traffic", "node", 1, 0.5)]
    table = tables.markdown_table(fakes)
    assert "0.500 (1 seed)" in table and "NaN stop in 1 run(s)" in table
    assert "1 run(s) without a finite test metric" in table


def _seeds(task, model, values, **extra):
    """One record per value, seeds 0, 1, ...; run keys distinct per preset and options."""
    fakes = [_fake(task, model, seed, value, **extra) for seed, value in enumerate(values)]
    for fake in fakes:
        fake["run_key"] += f"-{fake['preset']}-{fake.get('layer_options')}"
    return fakes


def test_ncps_comparison_signs_by_the_metric_and_judges_by_the_pooled_std():
    fakes = (
        _seeds("traffic", "ltc", [0.10, 0.12])  # mean 0.11, std 0.01
        + _seeds("traffic", "ltc", [0.20, 0.20], preset="default")
        + _seeds("traffic", "ncps-ltc", [0.14, 0.16])  # mean 0.15, std 0.01
        + _seeds("occupancy", "ltc", [0.90, 0.92])
        + _seeds("occupancy", "ncps-ltc", [0.95])
    )
    table = tables.ncps_comparison_table(fakes)
    # MSE: lower is better, so ours leads by 0.04 > pooled std 0.01 (paper preset) ...
    assert (
        "| traffic (mse) | paper | 0.110 ± 0.010 (2) | 0.150 ± 0.010 (2) | +0.040 | 0.010 | ahead |"
    ) in table
    # ... and trails by 0.05 > sqrt((0 + 0.01^2) / 2) with the default preset.
    assert (
        "| traffic (mse) | default | 0.200 ± 0.000 (2) | 0.150 ± 0.010 (2) | -0.050 | 0.007 "
        "| behind |"
    ) in table
    # Accuracy in percent, higher is better; one ncps seed gives no verdict.
    assert "| occupancy (accuracy %) | paper | 91.00 ± 1.00 (2) | 95.00 (1) | -4.00 |" in table
    assert "too few seeds to judge" in table
    within = _seeds("traffic", "ltc", [0.10, 0.12]) + _seeds("traffic", "ncps-ltc", [0.11, 0.13])
    assert "within the spread" in tables.ncps_comparison_table(within)
    assert tables.ncps_comparison_table(_seeds("traffic", "ltc", [0.1])) == ""


def test_ablation_table_compares_each_option_with_its_preset():
    option = '{"positivity": "softplus"}'
    fakes = (
        _seeds("traffic", "ltc", [0.10, 0.12])
        + _seeds("traffic", "ltc", [0.08, 0.08], layer_options=option)
        + _seeds("traffic", "ltc", [0.3], preset="default", layer_options='{"positivity": "clip"}')
    )
    table = tables.ablation_table(fakes)
    assert (
        '| traffic (mse) | paper | `positivity="softplus"` | 0.080 ± 0.000 (2) | 0.110 ± 0.010 (2) '
        "| +0.030 |"
    ) in table
    assert "clip" not in table  # no base row for the default preset
    assert tables.ablation_table(_seeds("traffic", "ltc", [0.1])) == ""
    report = tables.markdown_report(fakes, "liquidtime table --report")
    assert "## LTC ablations" in report and "## Our LTC beside" not in report


def test_records_round_trip_and_errors(tmp_path):
    path = records.append_record(tmp_path / "a" / "r.jsonl", _fake("traffic", "ltc", 0, math.nan))
    records.append_record(path, _fake("traffic", "ltc", 1, 0.2))
    (tmp_path / "b.jsonl").write_text(json.dumps(_fake("occupancy", "cfc", 0, 0.9)) + "\n\n")
    loaded = records.read_records(tmp_path)
    assert [record["model"] for record in loaded] == ["ltc", "ltc", "cfc"]
    assert loaded[0]["test_metric"] is None  # NaN is written as null
    (tmp_path / "bad.jsonl").write_text('{"task": "x"}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl', line 1: expected a run record"):
        records.read_records(tmp_path / "bad.jsonl")
    (tmp_path / "worse.jsonl").write_text("not json\n")
    with pytest.raises(ValueError, match=r"worse.jsonl', line 1: not JSON"):
        records.read_records(tmp_path / "worse.jsonl")
    with pytest.raises(FileNotFoundError, match="No such results file"):
        records.read_records(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="Found no"):
        records.read_records(tmp_path / "empty")


def test_learning_curves_are_written_as_png(tmp_path):
    fakes = [_fake("occupancy", "lstm", 0, 0.9), _fake("occupancy", "lstm", 1, 0.95),
             _fake("traffic", "ltc", 0, 0.1, epochs=3)]
    path = plot_learning_curves(fakes, tmp_path / "plots" / "curves.png", title="test")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="no records"):
        plot_learning_curves([], tmp_path / "none.png")

"""The ``liquidtime`` command line: train, compare and table end to end on the shipped
occupancy data (tiny models, subsampled windows), resume, help and argument errors."""

from __future__ import annotations

import importlib.metadata
import json

import keras
import numpy as np
import pytest

from liquidtime.cli import main
from liquidtime.experiments import checkpoints, records

TINY = ["--units", "4", "--max-train-windows", "64", "--progress", "epoch"]


@pytest.fixture
def no_distribution():
    yield
    keras.distribution.set_distribution(None)


def _train(output, *extra):
    return main(["train", "--task", "occupancy", "--output", str(output), *TINY, *extra])


def _only_record(output):
    (record,) = records.read_records(output)
    return record


def _checkpoint(output, record):
    path = output / "checkpoints" / record["run_name"] / checkpoints.CHECKPOINT_FILE
    with np.load(path) as data:
        return {key: data[key] for key in data.files if key != "state"}


def test_console_script_is_declared():
    (entry,) = importlib.metadata.entry_points(group="console_scripts", name="liquidtime")
    assert entry.value == "liquidtime.cli:main"


def test_train_one_epoch_end_to_end(tmp_path, capsys):
    assert _train(tmp_path, "--model", "ltc", "--epochs", "1", "--seed", "5") == 0
    out = capsys.readouterr().out
    assert "ltc on occupancy (corrected protocol), 64/812/1549" in out
    assert "epoch   1/1  loss " in out and "test accuracy" in out
    assert f"Result appended to {tmp_path / 'results.jsonl'}" in out
    record = _only_record(tmp_path)
    assert (record["model"], record["seed"], record["epochs_run"], record["units"]) == ("ltc", 5, 1, 4)
    assert (record["solver"], record["unfolds"], record["learning_rate"]) == ("fused", 6, 0.005)
    assert 0.0 <= record["test_metric"] <= 1.0 and record["wall_time_s"] > 0


@pytest.mark.backends
def test_resume_on_the_command_line_gives_the_same_weights(tmp_path):
    """Exact on every backend: the data order depends only on (seed, epoch)."""
    assert _train(tmp_path / "whole", "--model", "lstm", "--epochs", "2") == 0
    assert _train(tmp_path / "parts", "--model", "lstm", "--epochs", "1") == 0
    assert _train(tmp_path / "parts", "--model", "lstm", "--epochs", "2", "--resume") == 0
    whole = _only_record(tmp_path / "whole")
    parts = records.read_records(tmp_path / "parts")
    assert [record["epochs_run"] for record in parts] == [1, 2]
    expected, actual = _checkpoint(tmp_path / "whole", whole), _checkpoint(tmp_path / "parts", parts[1])
    assert expected.keys() == actual.keys()
    for key in expected:
        np.testing.assert_array_equal(actual[key], expected[key], err_msg=key)
    assert parts[1]["test_metric"] == whole["test_metric"]


def test_compare_writes_records_table_and_plot(tmp_path, capsys):
    output = tmp_path / "cmp"
    argv = ["compare", "--task", "occupancy", "--models", "lstm,ctrnn", "--seeds", "1",
            "--epochs", "1", "--solver", "euler", "--unfolds", "2", "--output", str(output), *TINY]
    assert main(argv) == 0
    out = capsys.readouterr().out
    table = (output / "table.md").read_text()
    assert table in out
    assert "| occupancy (accuracy %) | lstm | 1 |" in table and "93.18 ± 1.66" in table
    assert "| occupancy (accuracy %) | ctrnn | 1 |" in table and "euler x2" in table
    assert (output / "learning_curves.png").read_bytes()[:4] == b"\x89PNG"
    saved = {record["model"]: record for record in records.read_records(output)}
    assert (saved["ctrnn"]["solver"], saved["ctrnn"]["unfolds"]) == ("euler", 2)
    assert (saved["lstm"]["solver"], saved["lstm"]["unfolds"]) == (None, None)
    # --resume reuses both finished runs instead of training again.
    assert main([*argv, "--resume"]) == 0
    assert capsys.readouterr().out.count("already finished") == 2
    assert len(records.read_records(output)) == 2


def test_table_command(tmp_path, capsys):
    base = {"protocol": "corrected", "preset": "paper", "units": 32, "epochs": 5, "batch_size": 16,
            "learning_rate": 0.01, "solver": "fused", "unfolds": 6, "max_train_windows": None,
            "wall_time_s": 3.0, "history": []}
    lines = [
        {**base, "task": "ozone", "model": "ltc", "seed": 0, "metric": "f1", "test_metric": 0.25,
         "run_key": "a"},
        {**base, "task": "ozone", "model": "ltc", "seed": 1, "metric": "f1", "test_metric": 0.35,
         "run_key": "b"},
        {**base, "task": "power", "model": "ltc", "seed": 0, "metric": "mse", "test_metric": 0.7,
         "run_key": "c"},
    ]
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "results.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert main(["table", "--results", str(tmp_path / "runs"), "--tasks", "ozone",
                 "--output", str(tmp_path / "t.md")]) == 0
    out = capsys.readouterr().out
    assert "| ozone (f1) | ltc | 5 | 0.300 ± 0.050 (2 seeds) | 0.302 ± 0.016 |" in out
    assert "power" not in out.split("Paper:")[0]
    assert (tmp_path / "t.md").read_text() == out


def test_data_parallel_option(tmp_path, no_distribution):
    assert _train(tmp_path, "--model", "cfc", "--epochs", "1", "--data-parallel") == 0
    assert _only_record(tmp_path)["distribution"].startswith("DataParallel over")


@pytest.mark.parametrize(
    "command, expected",
    [
        ("train", ["--resume", "--max-train-windows", "paper defaults per task", "occupancy  accuracy",
                   "--data-parallel", "checkpoint.npz"]),
        ("compare", ["--models M1,M2,...", "--seeds N", "--jobs N", "learning_curves.png",
                     "default: ltc,cfc,lstm"]),
        ("table", ["--results PATH", "Tables 3, 4 and 6", "--tasks"]),
    ],
)
def test_help_is_complete(command, expected, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for piece in expected:
        assert piece in text, piece


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--task", "nope", "--model", "ltc"], "argument --task: invalid choice: 'nope'"),
        (["train", "--task", "occupancy"], "the following arguments are required: --model"),
        (["train", "--task", "occupancy", "--model", "ltc", "--epochs", "0"],
         "argument --epochs: expected a positive integer, got '0'"),
        (["train", "--task", "occupancy", "--model", "ltc", "--lr", "fast"],
         "argument --learning-rate/--lr: expected a positive number, got 'fast'"),
        (["train", "--task", "occupancy", "--model", "ltc", "--seed", "-1"],
         "argument --seed: expected a non-negative integer, got '-1'"),
        (["compare", "--task", "occupancy", "--models", "ltc,gru"], "unknown model 'gru'"),
        (["compare", "--task", "occupancy", "--models", "ltc,ltc"], "model names repeat"),
        (["table", "--tasks", "occupancy,foo"], "unknown task 'foo'"),
    ],
)
def test_bad_arguments_are_usage_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--task", "occupancy", "--model", "lstm", "--solver", "rk4"],
         "liquidtime train: error: Received an invalid value for argument `solver`: model 'lstm' "
         "has no ODE solver"),
        (["train", "--task", "traffic", "--model", "lstm", "--data-dir", "{tmp}"],
         "Metro_Interstate_Traffic_Volume.csv"),
        (["train", "--task", "occupancy", "--model", "lstm", "--devices", "2"],
         "--devices=2 needs --data-parallel"),
        (["compare", "--task", "occupancy", "--jobs", "2", "--data-parallel"],
         "--jobs > 1 cannot be combined with --data-parallel"),
        (["table", "--results", "{tmp}/missing"], "liquidtime table: error: No such results file"),
        (["table", "--results", "{tmp}"], "Found no *.jsonl results files"),
    ],
)
def test_bad_settings_exit_with_a_clear_message(argv, message, tmp_path, capsys, no_distribution):
    argv = [word.format(tmp=tmp_path) for word in argv]
    assert main(argv) == 2
    assert message in capsys.readouterr().err

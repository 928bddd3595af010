"""``liquidtime train`` on bad input: every case ends with a clear message, at once, and
never with a traceback, a lost record, a blocked run or a result of untrained weights.

Runs are tiny (4 units, a few occupancy windows from the copy shipped with liquidtime).
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from liquidtime.cli import main
from liquidtime.data import load_task
from liquidtime.experiments import checkpoints, records, tables
from liquidtime.experiments.runner import RunConfig, TrainingDivergedError, train_run
from test_data import write_occupancy

TINY = ["--units", "4", "--max-train-windows", "32", "--batch-size", "16", "--progress", "epoch"]


def _train(output, *extra):
    return main(["train", "--task", "occupancy", "--model", "lstm", "--output", str(output),
                 *TINY, *extra])


def _run_dir(output: Path) -> Path:
    (run_dir,) = (output / "checkpoints").iterdir()
    return run_dir


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """An output folder with one finished 1-epoch run (record and checkpoint)."""
    output = tmp_path_factory.mktemp("trained")
    assert _train(output, "--epochs", "1") == 0
    return output


# --- arguments and the output folder, before the first epoch -------------------------------


def test_a_batch_larger_than_the_training_set_names_both_numbers(tmp_path, capsys):
    assert _train(tmp_path, "--epochs", "1", "--max-train-windows", "8") == 2
    captured = capsys.readouterr()
    assert ("expected at most the 8 training windows of occupancy, got 16" in captured.err
            and "raise `max_train_windows`" in captured.err)
    assert "epoch" not in captured.out and not (tmp_path / records.RESULTS_FILE).exists()


def test_an_output_that_is_a_file_is_refused_before_loading_anything(tmp_path, capsys):
    output = tmp_path / "results.txt"
    output.write_text("not a folder")
    assert _train(output, "--epochs", "1") == 2
    captured = capsys.readouterr()
    assert f"expected a folder, got the file {str(output)!r}" in captured.err
    assert captured.out == "" and output.read_text() == "not a folder"
    assert _train(output / "below", "--epochs", "1") == 2
    assert "cannot write into" in capsys.readouterr().err


def _unwritable_folder(tmp_path: Path) -> Path:
    if os.geteuid() != 0:
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(0o500)
        return folder
    if Path("/sys").is_dir():  # root may write anywhere but into sysfs
        return Path("/sys/liquidtime-test-output")
    pytest.skip("no folder that this user cannot write to")


def test_an_unwritable_output_is_refused_at_once(tmp_path, capsys):
    assert _train(_unwritable_folder(tmp_path), "--epochs", "1") == 2
    captured = capsys.readouterr()
    assert "cannot write into" in captured.err and "name a folder you can write to" in captured.err
    assert captured.out == ""


# --- damaged checkpoints ---------------------------------------------------------------------


def _damage(path: Path, how: str) -> None:
    raw = path.read_bytes()
    damaged = {
        "truncated": raw[: len(raw) // 2],
        "empty": b"",
        "random": np.random.default_rng(0).bytes(4096),
        "npy": b"",
    }[how]
    if how == "npy":
        with open(path, "wb") as handle:
            np.save(handle, np.zeros(3))
    else:
        path.write_bytes(damaged)


@pytest.mark.parametrize("how", ["truncated", "empty", "random", "npy"])
def test_a_damaged_checkpoint_is_named_with_the_fix(how, trained, tmp_path, capsys):
    output = tmp_path / "out"
    output.mkdir()
    run_dir = output / "checkpoints" / _run_dir(trained).name
    run_dir.mkdir(parents=True)
    path = run_dir / checkpoints.CHECKPOINT_FILE
    path.write_bytes((_run_dir(trained) / checkpoints.CHECKPOINT_FILE).read_bytes())
    _damage(path, how)
    assert _train(output, "--epochs", "2", "--resume") == 2
    err = capsys.readouterr().err
    assert f"Cannot resume from the checkpoint {str(path)!r}" in err
    assert "Delete the file" in err and "--restart" in err
    if how == "random":  # the run is not blocked: --restart trains it from scratch
        assert _train(output, "--epochs", "2", "--restart") == 0
        (record,) = records.read_records(output)
        assert record["epochs_run"] == 2 and record["segments"] == 1


def test_resume_and_restart_together_are_refused(tmp_path, capsys):
    assert _train(tmp_path, "--epochs", "1", "--resume", "--restart") == 2
    assert "`resume` and `restart`" in capsys.readouterr().err


# --- finished runs, concurrent runs ----------------------------------------------------------


def test_a_finished_run_is_reported_instead_of_trained_again(trained, tmp_path, capsys):
    output = tmp_path / "out"
    output.mkdir()
    (output / records.RESULTS_FILE).write_bytes((trained / records.RESULTS_FILE).read_bytes())
    assert _train(output, "--epochs", "1") == 0
    out = capsys.readouterr().out
    assert "is already finished" in out and "Use --force to train it again" in out
    assert "epoch   1/1" not in out and len(records.read_records(output)) == 1
    assert _train(output, "--epochs", "1", "--force") == 0
    assert len(records.read_records(output)) == 2


def test_a_second_process_on_the_same_run_stops_at_once(trained, tmp_path, capsys):
    output = tmp_path / "out"
    run_dir = output / "checkpoints" / _run_dir(trained).name
    with checkpoints.run_lock(run_dir):  # as if another process were training this run
        assert _train(output, "--epochs", "1") == 2
    captured = capsys.readouterr()
    assert "epoch" not in captured.out  # stopped before validating or training anything
    err = captured.err
    assert f"Another process (pid {os.getpid()}) is training this run" in err
    assert not (output / records.RESULTS_FILE).exists()
    assert _train(output, "--epochs", "1") == 0  # the lock is gone with its holder


def test_checkpoint_temporary_files_belong_to_their_process(trained, tmp_path, monkeypatch):
    """Two writers of one folder must not rename each other's temporary file."""
    names = []
    real_replace = os.replace

    def replace(source, target):
        names.append(Path(source).name)
        real_replace(source, target)

    monkeypatch.setattr(checkpoints.os, "replace", replace)
    assert _train(tmp_path, "--epochs", "1") == 0
    assert names == [f"{checkpoints.CHECKPOINT_FILE}.{os.getpid()}.tmp.npz"]
    assert not list(_run_dir(tmp_path).glob("*.tmp.npz"))


# --- NaN -------------------------------------------------------------------------------------


def test_non_finite_data_fails_before_training_naming_the_file(tmp_path, capsys):
    write_occupancy(tmp_path / "occupancy")
    path = tmp_path / "occupancy" / "datatraining.txt"
    lines = path.read_text().split("\n")
    fields = lines[9].split(",")
    fields[4] = "nan"
    lines[9] = ",".join(fields)
    path.write_text("\n".join(lines))
    assert main(["train", "--task", "occupancy", "--model", "lstm", "--data-dir", str(tmp_path),
                 "--output", str(tmp_path / "runs"), "--units", "4", "--epochs", "1",
                 "--batch-size", "8"]) == 2
    err = capsys.readouterr().err
    assert f"{path}, line 10: expected a finite number in column 'Light', found 'nan'" in err
    assert not (tmp_path / "runs" / records.RESULTS_FILE).exists()


def test_a_nan_loss_in_the_first_epoch_writes_no_record(tmp_path):
    occupancy = load_task("occupancy")
    x_train = occupancy.x_train[:32].copy()
    x_train[5, 3, 0] = np.nan
    poisoned = dataclasses.replace(occupancy, x_train=x_train, y_train=occupancy.y_train[:32])
    config = RunConfig("occupancy", "lstm", epochs=2, units=4, batch_size=16)
    with pytest.raises(TrainingDivergedError, match=r"NaN or infinite in epoch 1, before any "
                       r"epoch finished; no record was written.*lower the learning rate"):
        train_run(config, task=poisoned, output_dir=tmp_path, progress="none",
                  record_untrained_nan=False)
    assert not (tmp_path / records.RESULTS_FILE).exists()
    assert not checkpoints.has_checkpoint(tmp_path / "checkpoints" / config.resolved().run_name)


def test_a_later_nan_stop_is_marked_in_the_result_cell():
    record = {
        "task": "occupancy", "protocol": "corrected", "model": "lstm", "seed": 0,
        "preset": "paper", "units": 32, "epochs": 10, "epochs_run": 4, "batch_size": 16,
        "learning_rate": 0.001, "solver": None, "unfolds": None, "max_train_windows": None,
        "metric": "accuracy", "test_metric": 0.9, "wall_time_s": 1.0, "stopped_on_nan": True,
        "run_key": "k",
    }
    table = tables.markdown_table([record])
    assert "| 90.00 (1 seed) ⚠ 1 NaN stop |" in table


# --- Ctrl-C ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_with_exit_code_130_and_a_resumable_checkpoint(tmp_path):
    output = tmp_path / "runs"
    entry = "import sys; from liquidtime.cli import main; sys.exit(main())"
    command = [sys.executable, "-c", entry, "train", "--task", "occupancy", "--model", "lstm",
               "--output", str(output), *TINY, "--epochs", "100000"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    try:
        for line in process.stdout:  # interrupt while epochs run
            lines.append(line)
            if "epoch   3/" in line:
                process.send_signal(signal.SIGINT)
                break
        out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:  # Ctrl-C was not obeyed
            process.kill()
    lines.append(out)
    assert process.returncode == 130, (process.returncode, err[-2000:])
    assert "stopping after the current batch" in err
    assert "run the same command with --resume to continue" in err
    state, _ = checkpoints._read_checkpoint(_run_dir(output) / checkpoints.CHECKPOINT_FILE)
    last = max(int(line.split("/")[0].split()[-1]) for line in "".join(lines).splitlines()
               if line.strip().startswith("epoch"))
    assert state["epochs_done"] == last and not state["stopped_on_nan"]
    assert not (output / records.RESULTS_FILE).exists()
    with open(_run_dir(output) / checkpoints.LOCK_FILE) as handle:
        assert handle.read() == ""  # released

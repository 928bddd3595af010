"""The data package's parts: file look-up, windows, splits, parsing, registry, paper numbers."""

from __future__ import annotations

import inspect
import shutil

import numpy as np
import pytest

from liquidtime import data
from liquidtime.data import DatasetNotFoundError, MalformedDatasetError, occupancy
from liquidtime.data._parsing import read_float_table
from liquidtime.data._paths import candidate_dirs, locate_files
from liquidtime.data._scaling import standardise
from liquidtime.data._splits import random_split
from liquidtime.data._windows import stack_as_sequences, take_windows, window_starts


@pytest.fixture
def shipped_occupancy(tmp_path):
    """A copy of the packaged occupancy files in ``tmp_path / "root" / "occupancy"``."""
    source = candidate_dirs(occupancy.INFO, None)[-1]
    target = tmp_path / "root" / "occupancy"
    shutil.copytree(source, target)
    return target


# --------------------------------------------------------------------------- file look-up


def test_data_dir_may_be_root_or_task_folder(shipped_occupancy):
    from_root = locate_files(occupancy.INFO, shipped_occupancy.parent)
    from_folder = locate_files(occupancy.INFO, shipped_occupancy)
    assert from_root == from_folder == [shipped_occupancy / name for name in occupancy.INFO.files]


def test_environment_variable_then_packaged_copy(shipped_occupancy, tmp_path, monkeypatch):
    monkeypatch.setenv(data.ENV_VAR, str(shipped_occupancy.parent))
    assert locate_files(occupancy.INFO, None)[0] == shipped_occupancy / "datatraining.txt"
    # An environment root without occupancy/ falls back to the copy inside the package.
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path / "empty"))
    packaged = locate_files(occupancy.INFO, None)[0]
    assert packaged.parent.name == "occupancy" and "_files" in packaged.parts
    monkeypatch.delenv(data.ENV_VAR)
    assert locate_files(occupancy.INFO, None) == [packaged.parent / n for n in occupancy.INFO.files]


def test_explicit_data_dir_does_not_fall_back(tmp_path, monkeypatch):
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    with pytest.raises(DatasetNotFoundError) as caught:
        occupancy.load_data(tmp_path)
    assert caught.value.searched == (str(tmp_path / "occupancy"), str(tmp_path))
    assert "data_dir must be a data root holding occupancy/" in str(caught.value)
    assert "https://archive.ics.uci.edu/dataset/357" in str(caught.value)


def test_partial_folder_names_the_missing_file(shipped_occupancy):
    (shipped_occupancy / "datatest2.txt").unlink()
    with pytest.raises(
        DatasetNotFoundError, match="Data file 'datatest2.txt' of task 'occupancy' was not found"
    ) as caught:
        occupancy.load_data(shipped_occupancy.parent)
    assert caught.value.searched == (str(shipped_occupancy),)


def test_no_directory_at_all(monkeypatch):
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    with pytest.raises(
        DatasetNotFoundError, match="the environment variable LIQUIDTIME_DATA is not set"
    ):
        data.load_task("ozone")


def test_environment_root_in_message(tmp_path, monkeypatch):
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path))
    with pytest.raises(DatasetNotFoundError, match=f"The data root is LIQUIDTIME_DATA={tmp_path}"):
        data.load_task("power")


# ------------------------------------------------------------------ windows, splits, scaling


@pytest.mark.parametrize(
    ("rows", "span", "stride", "expected"),
    [
        (10, 4, 1, [0, 1, 2, 3, 4, 5]),  # the window 6..9 ending at the last row is not used
        (10, 4, 3, [0, 3]),
        (11, 4, 3, [0, 3, 6]),
        (4, 4, 1, []),
        (2, 4, 1, []),
    ],
)
def test_window_starts(rows, span, stride, expected):
    np.testing.assert_array_equal(window_starts(rows, span, stride), expected)


def test_take_windows_and_stacking():
    series = np.arange(20).reshape(10, 2)
    windows = take_windows(series, np.array([0, 3]), 4)
    np.testing.assert_array_equal(windows[1], series[3:7])
    np.testing.assert_array_equal(take_windows(series, np.array([2]), 3, offset=1)[0], series[3:6])
    stacked = stack_as_sequences(windows)
    assert stacked.shape == (4, 2, 2)
    np.testing.assert_array_equal(stacked[1, :, 0], [2, 8])  # rows 1 and 1 + 3


def test_random_split_matches_the_original_code():
    train, valid, test = random_split(626, 23489)
    permutation = np.random.RandomState(23489).permutation(626)
    np.testing.assert_array_equal(valid, permutation[:62])
    np.testing.assert_array_equal(test, permutation[62:155])
    np.testing.assert_array_equal(train, permutation[155:])
    train, valid, test = random_split(8127, 893429, test_fraction=0.0)
    assert (len(train), len(valid), len(test)) == (7315, 812, 0)


def test_standardise_guards_constant_features():
    values = np.array([[1.0, 5.0], [3.0, 5.0]])
    result = standardise(values, values.mean(0), values.std(0))
    np.testing.assert_array_equal(result, [[-1.0, 0.0], [1.0, 0.0]])


# --------------------------------------------------------------------------- parsing


def test_read_float_table_missing_markers(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes(b"a;b;c\r\n1;?;3\r\n;5;\r\n\r\n7;8;9")
    table = read_float_table(path, 3, delimiter=";", skip_rows=1, missing=("?", ""))
    np.testing.assert_array_equal(np.isnan(table), [[0, 1, 0], [1, 0, 1], [0, 0, 0]])
    np.testing.assert_array_equal(table[2], [7, 8, 9])


def test_read_float_table_errors(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("1 2 3\n4 x 6\n")
    with pytest.raises(
        MalformedDatasetError,
        match=r"t\.txt, line 2: expected a number in column 'field 2', found 'x'",
    ):
        read_float_table(path, 3)
    path.write_text("1 2\n3 4\n")
    with pytest.raises(
        MalformedDatasetError, match=r"line 1: expected 3 whitespace-separated fields, found 2"
    ):
        read_float_table(path, 3)
    path.write_text("header\n\n")
    with pytest.raises(MalformedDatasetError, match="found no data rows"):
        read_float_table(path, 3, skip_rows=1)


def test_binary_garbage_in_a_text_file(shipped_occupancy):
    (shipped_occupancy / "datatest.txt").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(
        MalformedDatasetError, match=r"datatest\.txt: expected text, found a byte that is not UTF-8"
    ):
        occupancy.load_data(shipped_occupancy)


def test_empty_and_too_short_files(shipped_occupancy):
    path = shipped_occupancy / "datatest.txt"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:10]) + "\n")
    with pytest.raises(MalformedDatasetError, match="expected more than 16 data rows, found 9"):
        occupancy.load_data(shipped_occupancy)
    path.write_text("")
    with pytest.raises(MalformedDatasetError, match=r"datatest\.txt: the file is empty"):
        occupancy.load_data(shipped_occupancy)


# ------------------------------------------------------ registry, defaults, paper numbers


def test_registry_names_and_errors():
    assert data.task_names() == (
        "gesture",
        "occupancy",
        "har",
        "smnist",
        "traffic",
        "power",
        "ozone",
        "person",
        "cheetah",
    )
    with pytest.raises(ValueError, match=r"Unknown task 'mnist'; expected one of \['gesture'"):
        data.load_task("mnist")
    with pytest.raises(
        ValueError, match=r"Unknown protocol 'paper'; expected one of \['corrected', 'original'\]"
    ):
        data.load_task("occupancy", protocol="paper")


def test_infos_are_consistent():
    for name, info in data.TASKS.items():
        assert info.name == name
        assert (info.num_classes is None) == (info.kind == "regression")
        assert info.metric in ("accuracy", "mse", "f1")
        assert info.higher_is_better == (info.metric != "mse")
        assert "CC BY" in info.source or "licence" in info.source
    assert {name for name, info in data.TASKS.items() if info.quirks} == {
        "ozone",
        "traffic",
        "power",
        "person",
    }


def test_every_load_data_has_the_shared_signature_and_its_own_docstring():
    for name, info in data.TASKS.items():
        load_data = getattr(data, name).load_data
        assert load_data.__module__ == f"liquidtime.data.{name}"
        assert load_data.__name__ == "load_data"
        assert str(inspect.signature(load_data)) == (
            "(data_dir: 'os.PathLike | str | None' = None, protocol: 'str' = 'corrected') -> 'Task'"
        )
        doc = " ".join(inspect.getdoc(load_data).split())
        assert doc.startswith(f"Loads the {name} task ({info.title}).")
        assert f"the ``{info.folder}`` folder" in doc
        assert ("copy shipped with liquidtime" in doc) == (name == "occupancy")
        if info.quirks:
            assert f"the quirks of the paper's code (see the module docstring): {info.quirks}." in doc
        else:
            assert "(identical for this task)" in doc
        for section in ("Args:", "Returns:", "Raises:", "A :class:`~liquidtime.data.Task` with "):
            assert section in doc


def test_training_defaults():
    lrs = {name: data.get_task_defaults(name).learning_rate("ltc") for name in data.task_names()}
    assert lrs == {**dict.fromkeys(data.task_names(), 0.01), "occupancy": 0.005, "smnist": 0.005}
    for name in data.task_names():
        defaults = data.get_task_defaults(name)
        assert (defaults.units, defaults.epochs) == (32, 200)
        assert defaults.batch_size == (64 if name == "person" else 16)
        assert all(defaults.learning_rate(m) == 0.001 for m in ("lstm", "ctrnn", "node", "ctgru"))
        assert defaults.node_state_clip == (10.0 if name in ("traffic", "power") else None)
    with pytest.raises(ValueError, match="Unknown model 'gru'"):
        data.get_task_defaults("har").learning_rate("gru")


def test_paper_results_table():
    assert (
        set(data.PAPER_RESULTS)
        == set(data.task_names())
        == set(data.PAPER_UNITS)
        == set(data.PAPER_TABLES)
    )
    for row in data.PAPER_RESULTS.values():
        assert tuple(row) == data.MODELS
    assert data.PAPER_RESULTS["traffic"]["ltc"] == (0.099, 0.010)
    assert data.PAPER_RESULTS["cheetah"]["node"].mean == 3.805
    assert data.PAPER_RESULTS["person"]["ctgru"] == data.PaperResult(85.27, 0.39)


def test_task_repr_and_output_dim(monkeypatch):
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    task = data.load_task("occupancy")
    assert repr(task).startswith("Task(name='occupancy', protocol='corrected'")
    assert "train=(7315, 16, 5)->(7315, 16)" in repr(task)
    assert task.output_dim == 2 and task.defaults is data.get_task_defaults("occupancy")

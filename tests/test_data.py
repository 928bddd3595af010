"""The nine task loaders on small fixtures written in each data set's original format.

Every expected count below is worked out by hand from the protocol: windows
start at ``0, stride, 2 * stride, ...`` while ``start < rows - span`` (span = the
window length, plus one for cheetah's shifted target), and a random split of
``n`` windows has ``int(0.1 * n)`` validation and ``int(0.15 * n)`` test windows.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from liquidtime import data
from liquidtime.data import (
    DatasetNotFoundError,
    MalformedDatasetError,
    cheetah,
    gesture,
    har,
    occupancy,
    ozone,
    person,
    power,
    smnist,
    traffic,
)

RNG_SEED = 7


def split_indices(n: int, seed: int, valid: float = 0.1, test: float = 0.15):
    permutation = np.random.RandomState(seed).permutation(n)
    v, t = int(valid * n), int(test * n)
    return permutation[v + t :], permutation[:v], permutation[v : v + t]


def zscore(values: np.ndarray, axis=0) -> np.ndarray:
    return (values - values.mean(axis=axis)) / values.std(axis=axis)


# --------------------------------------------------------------------------- writers


def write_occupancy(
    folder: Path, rows: tuple[int, int, int] = (60, 30, 41)
) -> dict[str, np.ndarray]:
    """The UCI files: 7 names in the header, 8 fields per row (a quoted row index first)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(RNG_SEED)
    tables = {}
    for name, count in zip(
        ("datatraining.txt", "datatest.txt", "datatest2.txt"), rows, strict=True
    ):
        values = rng.normal(
            [21.0, 27.0, 400.0, 700.0, 0.0045], [1.0, 2.0, 100.0, 50.0, 0.0005], (count, 5)
        )
        labels = rng.integers(0, 2, count)
        lines = ['"date","Temperature","Humidity","Light","CO2","HumidityRatio","Occupancy"']
        for i, (row, label) in enumerate(zip(values, labels, strict=True)):
            fields = ",".join(repr(float(v)) for v in row)
            lines.append(f'"{i + 1}","2015-02-04 17:{i % 60:02d}:00",{fields},{label}')
        (folder / name).write_text("\n".join(lines) + "\n")
        tables[name] = np.column_stack([values, labels])
    return tables


def write_har(folder: Path, train_rows: int = 50, test_rows: int = 40) -> dict[str, np.ndarray]:
    """``UCI HAR Dataset/{train,test}/X_*.txt`` (561 floats a row) and ``y_*.txt`` (1-6)."""
    rng = np.random.default_rng(RNG_SEED)
    arrays = {}
    for split, rows in (("train", train_rows), ("test", test_rows)):
        directory = folder / "UCI HAR Dataset" / split
        directory.mkdir(parents=True, exist_ok=True)
        x = rng.uniform(-1, 1, (rows, 561))
        y = rng.integers(1, 7, rows)
        (directory / f"X_{split}.txt").write_text(
            "".join("  " + " ".join(f"{v:.7e}" for v in row) + "\n" for row in x)
        )
        (directory / f"y_{split}.txt").write_text("".join(f"{v}\n" for v in y))
        arrays[split] = (x, y)
    return arrays


def write_idx(path: Path, array: np.ndarray, magic: int) -> None:
    header = struct.pack(">II", magic, array.shape[0]) + b"".join(
        struct.pack(">I", d) for d in array.shape[1:]
    )
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def write_mnist(folder: Path, train: int = 20, test: int = 7) -> dict[str, np.ndarray]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(RNG_SEED)
    arrays = {}
    for prefix, count in (("train", train), ("t10k", test)):
        images = rng.integers(0, 256, (count, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, count, dtype=np.uint8)
        write_idx(folder / f"{prefix}-images-idx3-ubyte", images, 0x803)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels, 0x801)
        arrays[prefix] = (images, labels)
    return arrays


TRAFFIC_HEADER = (
    "holiday,temp,rain_1h,snow_1h,clouds_all,weather_main,weather_description,"
    "date_time,traffic_volume"
)


def write_traffic(folder: Path, rows: int = 100) -> np.ndarray:
    """Hourly rows from 2012-10-02 09:00 (a Tuesday); row 15 is a holiday (2012-10-03 00:00)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(RNG_SEED)
    temp = np.round(rng.uniform(260, 300, rows), 2)
    volume = rng.integers(100, 7000, rows)
    lines = [TRAFFIC_HEADER]
    for i in range(rows):
        day, hour = divmod(9 + i, 24)
        holiday = "Columbus Day" if i == 15 else "None"
        stamp = f"2012-10-{2 + day:02d} {hour:02d}:00:00"
        lines.append(
            f"{holiday},{temp[i]:.2f},0.0,0.0,{i % 90},Clouds,scattered clouds,{stamp},{volume[i]}"
        )
    (folder / "Metro_Interstate_Traffic_Volume.csv").write_text("\n".join(lines) + "\n")
    return np.column_stack([temp, volume])


POWER_HEADER = (
    "Date;Time;Global_active_power;Global_reactive_power;Voltage;Global_intensity;"
    "Sub_metering_1;Sub_metering_2;Sub_metering_3"
)


def write_power(
    folder: Path, rows: int = 1056, missing: tuple[int, ...] = (5, 6, 700)
) -> np.ndarray:
    """CRLF and ``;``; rows in ``missing`` are ``?;?;?;?;?;?;`` (empty last field), as in UCI's."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(RNG_SEED)
    values = rng.uniform(
        [0.1, 0.0, 230.0, 1.0, 0.0, 0.0, 0.0], [5.0, 0.5, 250.0, 20.0, 3.0, 2.0, 18.0], (rows, 7)
    )
    values = np.round(values, 3)
    lines = [POWER_HEADER]
    for i, row in enumerate(values):
        stamp = f"16/12/2006;{i // 60 % 24:02d}:{i % 60:02d}:00"
        if i in missing:
            lines.append(f"{stamp};?;?;?;?;?;?;")
        else:
            lines.append(stamp + ";" + ";".join(f"{v:.3f}" for v in row))
    (folder / "household_power_consumption.txt").write_bytes(("\r\n".join(lines) + "\r\n").encode())
    return values


def write_ozone(folder: Path, rows: int = 100) -> np.ndarray:
    """No header; date, 72 features (some ``?``), class ``0.``/``1.``; no final newline."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(RNG_SEED)
    values = np.round(rng.normal(10.0, 5.0, (rows, 72)), 2)
    values[3, 10] = values[40, 0] = np.nan
    labels = (rng.uniform(size=rows) < 0.2).astype(int)
    lines = []
    for i in range(rows):
        fields = ["?" if np.isnan(v) else f"{v:g}" for v in values[i]]
        lines.append(f"1/{i % 28 + 1}/1998," + ",".join(fields) + f",{labels[i]}.")
    (folder / "eighthr.data").write_text("\n".join(lines))
    return np.column_stack([values, labels])


GESTURE_ROWS = {
    "a1_va3.csv": 70,
    "a2_va3.csv": 64,
    "a3_va3.csv": 40,
    "b1_va3.csv": 96,
    "b3_va3.csv": 33,
    "c1_va3.csv": 100,
    "c3_va3.csv": 31,
}


def write_gesture(folder: Path) -> dict[str, tuple[np.ndarray, list[str]]]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(RNG_SEED)
    files = {}
    for name, rows in GESTURE_ROWS.items():
        x = rng.normal(0.0, 1.0, (rows, 32))
        phases = [str(p) for p in rng.choice(list("DPSHR"), rows)]
        lines = [",".join(str(i) for i in range(1, 33)) + ",Phase"]
        lines += [
            ",".join(f"{v:.6f}" for v in row) + f",{p}" for row, p in zip(x, phases, strict=True)
        ]
        (folder / name).write_text("\n".join(lines) + "\n")
        files[name] = (np.round(x, 6), phases)
    return files


PERSON_TAGS = ("010-000-024-033", "010-000-030-096", "020-000-033-111", "020-000-032-221")
PERSON_ACTIVITIES = (
    "walking",
    "falling",
    "lying down",
    "lying",
    "sitting on the ground",
    "on all fours",
)


def write_person(
    folder: Path,
    recordings: tuple[tuple[str, int], ...] = (("A01", 200), ("A02", 120), ("E05", 100)),
) -> list[tuple[int, list[float], str]]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(RNG_SEED)
    lines, records = [], []
    for name, count in recordings:
        for i in range(count):
            tag = int(rng.integers(0, 4))
            xyz = [float(v) for v in np.round(rng.normal(2.0, 1.0, 3), 6)]
            activity = PERSON_ACTIVITIES[int(rng.integers(0, len(PERSON_ACTIVITIES)))]
            lines.append(
                f"{name},{PERSON_TAGS[tag]},6337902260{i:08d},27.05.2009 14:03:25:127,"
                f"{xyz[0]},{xyz[1]},{xyz[2]},{activity}"
            )
            records.append((tag, xyz, activity))
    (folder / "ConfLongDemo_JSI.txt").write_text("\n".join(lines) + "\n")
    return records


def write_cheetah(folder: Path, traces: int = 26, steps: int = 60) -> list[np.ndarray]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(RNG_SEED)
    arrays = []
    for i in range(traces):
        trace = rng.normal(size=(steps, 17)) + i
        np.save(folder / f"trace_{i:04d}.npy", trace)
        arrays.append(trace)
    return arrays


# --------------------------------------------------------------------------- occupancy


def test_occupancy_counts_normalisation_and_split(tmp_path):
    tables = write_occupancy(tmp_path / "occupancy")
    task = occupancy.load_data(tmp_path)
    # train 60 rows: starts 0..43 -> 44 windows, 4 valid, 40 train.
    # datatest 30 rows, stride 8: starts 0, 8 (< 14) -> 2;
    # datatest2 41 rows: 0, 8, 16, 24 (< 25) -> 4.
    assert task.x_train.shape == (40, 16, 5) and task.y_train.shape == (40, 16)
    assert task.x_valid.shape == (4, 16, 5)
    assert task.x_test.shape == (6, 16, 5) and task.y_test.shape == (6, 16)
    assert task.x_train.dtype == np.float32 and task.y_train.dtype == np.int32

    train = tables["datatraining.txt"]
    mean, std = train[:, :5].mean(0), train[:, :5].std(0)
    train_idx, valid_idx, _ = split_indices(44, 893429, test=0.0)
    np.testing.assert_allclose(
        task.x_valid[0], (train[valid_idx[0] : valid_idx[0] + 16, :5] - mean) / std, rtol=1e-5
    )
    np.testing.assert_array_equal(task.y_train[-1], train[train_idx[-1] : train_idx[-1] + 16, 5])
    test2 = tables["datatest2.txt"]
    np.testing.assert_allclose(
        task.x_test[2 + 3], (test2[24:40, :5] - mean) / std, rtol=1e-5, atol=1e-6
    )
    assert task.protocol == "corrected" and task.kind == "per_step_classification"
    assert (task.num_classes, task.metric, task.output_dim, task.input_dim) == (2, "accuracy", 2, 5)


def test_occupancy_shipped_copy_has_the_real_counts(monkeypatch):
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    task = data.load_task("occupancy")
    # 8,143 training rows -> 8,127 windows: 812 validation, 7,315 training;
    # test 2,665 rows -> 332 windows and 9,752 rows -> 1,217 windows.
    assert (len(task.x_train), len(task.x_valid), len(task.x_test)) == (7315, 812, 1549)
    assert np.abs(task.x_train.reshape(-1, 5).mean(0)).max() < 0.05


def test_occupancy_wrong_field_count_names_the_line(tmp_path):
    write_occupancy(tmp_path)
    path = tmp_path / "datatest.txt"
    lines = path.read_text().splitlines()
    lines[4] = lines[4].rsplit(",", 2)[0]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(
        MalformedDatasetError,
        match=r"datatest\.txt, line 5: expected 8 ','-separated fields, found 6",
    ):
        occupancy.load_data(tmp_path)


def test_occupancy_non_numeric_value(tmp_path):
    write_occupancy(tmp_path)
    path = tmp_path / "datatraining.txt"
    lines = path.read_text().splitlines()
    fields = lines[10].split(",")
    fields[4] = "abc"
    lines[10] = ",".join(fields)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(
        MalformedDatasetError, match=r"line 11: expected a number in column 'Light', found 'abc'"
    ):
        occupancy.load_data(tmp_path)


# --------------------------------------------------------------------------- har


def test_har_counts_and_labels(tmp_path):
    arrays = write_har(tmp_path / "har")
    task = har.load_data(tmp_path)
    # train 50 rows: starts 0..33 -> 34 windows, 3 valid, 31 train;
    # test 40 rows, stride 8: 0, 8, 16 -> 3.
    assert task.x_train.shape == (31, 16, 561) and task.y_train.shape == (31, 16)
    assert task.x_valid.shape == (3, 16, 561)
    assert task.x_test.shape == (3, 16, 561)
    x_test, y_test = arrays["test"]
    np.testing.assert_allclose(task.x_test[1], x_test[8:24], rtol=1e-6)
    np.testing.assert_array_equal(task.y_test[2], y_test[16:32] - 1)
    _, valid_idx, _ = split_indices(34, 893429, test=0.0)
    np.testing.assert_array_equal(
        task.y_valid[0], arrays["train"][1][valid_idx[0] : valid_idx[0] + 16] - 1
    )
    assert task.num_classes == 6


def test_har_truncated_file(tmp_path):
    write_har(tmp_path)
    path = tmp_path / "UCI HAR Dataset" / "train" / "X_train.txt"
    text = path.read_text()
    path.write_text(text[: len(text) - 3000])
    with pytest.raises(
        MalformedDatasetError,
        match=r"X_train\.txt, line 50: expected 561 whitespace-separated fields, found \d+ "
        r"\(truncated file\?\)",
    ):
        har.load_data(tmp_path)


def test_har_label_count_mismatch(tmp_path):
    write_har(tmp_path)
    path = tmp_path / "UCI HAR Dataset" / "test" / "y_test.txt"
    path.write_text("".join(path.read_text().splitlines(keepends=True)[:-2]))
    with pytest.raises(
        MalformedDatasetError,
        match=r"y_test\.txt: expected as many rows as X_test\.txt \(40\), found 38",
    ):
        har.load_data(tmp_path)


# --------------------------------------------------------------------------- smnist


def test_smnist_rows_are_steps(tmp_path):
    arrays = write_mnist(tmp_path / "mnist")
    task = smnist.load_data(tmp_path)
    # int(0.9 * 20) = 18 training images, 2 validation, 7 test.
    assert task.x_train.shape == (18, 28, 28) and task.y_train.shape == (18,)
    assert task.x_valid.shape == (2, 28, 28) and task.x_test.shape == (7, 28, 28)
    images, labels = arrays["train"]
    np.testing.assert_allclose(task.x_valid[1], images[19] / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(task.y_test, arrays["t10k"][1])
    assert task.kind == "sequence_classification" and task.num_classes == 10


def test_smnist_bad_magic_and_truncation(tmp_path):
    write_mnist(tmp_path)
    images = tmp_path / "t10k-images-idx3-ubyte"
    original = images.read_bytes()
    images.write_bytes(original[:-100])
    with pytest.raises(
        MalformedDatasetError,
        match=r"t10k-images-idx3-ubyte: the header announces 7 items.*\(truncated\)",
    ):
        smnist.load_data(tmp_path)
    images.write_bytes(struct.pack(">I", 0x801) + original[4:])
    with pytest.raises(
        MalformedDatasetError, match=r"expected the IDX magic number 0x00000803, found 0x00000801"
    ):
        smnist.load_data(tmp_path)


# --------------------------------------------------------------------------- traffic


def test_traffic_corrected_and_original(tmp_path):
    raw = write_traffic(tmp_path / "traffic")
    task = traffic.load_data(tmp_path)
    # 100 rows, stride 4: starts 0..64 (< 68) -> 17 windows: 1 valid, 2 test, 14 train.
    assert task.x_train.shape == (14, 32, 7) and task.y_train.shape == (14, 32, 1)
    assert task.x_valid.shape == (1, 32, 7) and task.x_test.shape == (2, 32, 7)
    train_idx, _, _ = split_indices(17, 23489)
    start = 4 * train_idx[0]
    window = task.x_train[0]
    volume = zscore(raw[:, 1])
    np.testing.assert_allclose(
        task.y_train[0, :, 0], volume[start : start + 32], rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        window[:, 1], raw[start : start + 32, 0] - raw[:, 0].mean(), rtol=1e-5, atol=1e-4
    )
    rows = np.arange(start, start + 32)
    hours = (9 + rows) % 24
    weekdays = (1 + (9 + rows) // 24) % 7  # 2012-10-02 was a Tuesday (1)
    np.testing.assert_array_equal(window[:, 5], weekdays)
    np.testing.assert_allclose(window[:, 6], np.sin(np.pi * hours / 24), atol=1e-6)
    np.testing.assert_array_equal(window[:, 0], (rows == 15).astype(np.float32))

    original = traffic.load_data(tmp_path, protocol="original")
    # 32 sequences of 17 steps, split 25 / 3 / 4 by the same seed; holiday always 0.
    assert original.x_train.shape == (25, 17, 7) and original.y_train.shape == (25, 17, 1)
    assert original.x_valid.shape == (3, 17, 7) and original.x_test.shape == (4, 17, 7)
    j = split_indices(32, 23489)[0][0]
    np.testing.assert_allclose(
        original.y_train[0, :, 0], volume[j : j + 4 * 17 : 4], rtol=1e-5, atol=1e-6
    )
    for x in (original.x_train, original.x_valid, original.x_test):
        assert not x[..., 0].any()


def test_traffic_bad_date(tmp_path):
    write_traffic(tmp_path)
    path = tmp_path / "Metro_Interstate_Traffic_Volume.csv"
    path.write_text(path.read_text().replace("2012-10-02 12:00:00", "2012/10/02 12h"))
    with pytest.raises(
        MalformedDatasetError,
        match=r"line 5: expected date_time as YYYY-MM-DD HH:MM:SS, found '2012/10/02 12h'",
    ):
        traffic.load_data(tmp_path)


# --------------------------------------------------------------------------- power


def test_power_counts_fill_and_statistics(tmp_path):
    raw = write_power(tmp_path / "power")
    task = power.load_data(tmp_path)
    # 1,056 rows, non-overlapping: starts 0, 32, ..., 992 (< 1024) -> 32 windows
    # (the window at 1024 that ends at the last row is not used): 3 valid, 4 test, 25 train.
    assert task.x_train.shape == (25, 32, 6) and task.y_train.shape == (25, 32, 1)
    assert task.x_valid.shape == (3, 32, 6) and task.x_test.shape == (4, 32, 6)

    filled = raw.copy()
    filled[5] = filled[6] = filled[4]
    filled[700] = filled[699]
    expected = zscore(filled)
    train_idx, valid_idx, test_idx = split_indices(32, 23489)
    for index, x, y in (
        (train_idx, task.x_train, task.y_train),
        (test_idx, task.x_test, task.y_test),
    ):
        start = 32 * index[-1]
        np.testing.assert_allclose(x[-1], expected[start : start + 32, 1:], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(
            y[-1, :, 0], expected[start : start + 32, 0], rtol=1e-5, atol=1e-5
        )

    original = power.load_data(tmp_path, protocol="original")
    assert original.x_train.shape == task.x_train.shape
    np.testing.assert_allclose(original.x_train, task.x_train, atol=1e-3)


def test_power_float32_statistics_quirk(monkeypatch, tmp_path):
    # A large offset makes float32 accumulation visibly wrong; float64 is exact enough.
    monkeypatch.setattr(
        power,
        "_read_file",
        lambda path: np.full((20000, 7), 240.8) + np.linspace(0, 1, 20000)[:, None],
    )
    (tmp_path / "household_power_consumption.txt").write_text("")
    corrected = power.load_data(tmp_path)
    original = power.load_data(tmp_path, protocol="original")
    assert abs(float(corrected.x_train.mean())) < 0.05
    assert abs(float(original.x_train.mean())) > 0.05


def test_power_truncated_last_line(tmp_path):
    write_power(tmp_path, rows=100, missing=())
    path = tmp_path / "household_power_consumption.txt"
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(
        MalformedDatasetError,
        match=r"household_power_consumption\.txt, line 101: expected 9 ';'-separated fields, "
        r"found \d \(truncated file\?\)",
    ):
        power.load_data(tmp_path)


def test_power_wrong_header(tmp_path):
    write_power(tmp_path, rows=100)
    path = tmp_path / "household_power_consumption.txt"
    path.write_bytes(path.read_bytes().replace(b"Voltage", b"Volts", 1))
    with pytest.raises(MalformedDatasetError, match=r"line 1: expected the header 'Date,Time,"):
        power.load_data(tmp_path)


# --------------------------------------------------------------------------- ozone


def test_ozone_corrected_and_original(tmp_path):
    raw = write_ozone(tmp_path / "ozone")
    task = ozone.load_data(tmp_path)
    # 100 days, stride 4: starts 0..64 (< 68) -> 17 windows: 1 valid, 2 test, 14 train.
    assert task.x_train.shape == (14, 32, 72) and task.y_train.shape == (14, 32)
    assert task.x_valid.shape == (1, 32, 72) and task.x_test.shape == (2, 32, 72)
    features = np.nan_to_num(raw[:, :72], nan=0.0)
    expected = (features - features.mean()) / features.std()
    _, _, test_idx = split_indices(17, 23489)
    start = 4 * test_idx[1]
    np.testing.assert_allclose(task.x_test[1], expected[start : start + 32], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(task.y_test[1], raw[start : start + 32, 72])
    assert task.metric == "f1" and task.class_weights == (0.1, 1.6)

    original = ozone.load_data(tmp_path, protocol="original")
    assert original.x_train.shape == (25, 17, 72) and original.y_train.shape == (25, 17)
    assert original.x_valid.shape == (3, 17, 72) and original.x_test.shape == (4, 17, 72)
    j = split_indices(32, 23489)[2][0]
    np.testing.assert_array_equal(original.y_test[0], raw[j : j + 4 * 17 : 4, 72])


def test_ozone_short_line(tmp_path):
    write_ozone(tmp_path)
    path = tmp_path / "eighthr.data"
    lines = path.read_text().split("\n")
    lines[41] = lines[41][:60]
    path.write_text("\n".join(lines))
    with pytest.raises(
        MalformedDatasetError, match=r"eighthr\.data, line 42: expected 74 ','-separated fields"
    ):
        ozone.load_data(tmp_path)


# --------------------------------------------------------------------------- gesture


def test_gesture_interleaved_windows_and_split(tmp_path):
    files = write_gesture(tmp_path / "gesture")
    task = gesture.load_data(tmp_path)
    # m = rows // 32 whole blocks give 2m - 1 windows: a3 40 -> 1, b1 96 -> 5, b3 33 -> 1,
    # c1 100 -> 5, c3 31 -> 0, a2 64 -> 3, a1 70 -> 3: 18 windows; 1 valid, 2 test, 15 train.
    assert task.x_train.shape == (15, 32, 32) and task.y_train.shape == (15, 32)
    assert task.x_valid.shape == (1, 32, 32) and task.x_test.shape == (2, 32, 32)

    order = [
        "a3_va3.csv",
        "b1_va3.csv",
        "b3_va3.csv",
        "c1_va3.csv",
        "c3_va3.csv",
        "a2_va3.csv",
        "a1_va3.csv",
    ]
    windows_x, windows_y = [], []
    codes = {"D": 0, "P": 1, "S": 2, "H": 3, "R": 4}
    for name in order:
        x, phases = files[name]
        for start in range(0, 16 * (2 * (len(x) // 32) - 1), 16):
            windows_x.append(x[start : start + 32])
            windows_y.append([codes[p] for p in phases[start : start + 32]])
    windows_x = np.array(windows_x)
    flat = windows_x.reshape(-1, 32)
    expected = (windows_x - flat.mean(0)) / flat.std(0)
    train_idx, valid_idx, test_idx = split_indices(18, 23489)
    np.testing.assert_allclose(task.x_train, expected[train_idx], rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(task.y_test, np.array(windows_y)[test_idx])


def test_gesture_unknown_phase(tmp_path):
    write_gesture(tmp_path)
    path = tmp_path / "b3_va3.csv"
    lines = path.read_text().splitlines()
    lines[7] = lines[7][:-1] + "X"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(
        MalformedDatasetError,
        match=r"b3_va3\.csv, line 8: expected a phase in \['D', 'H', 'P', 'R', 'S'\], found 'X'",
    ):
        gesture.load_data(tmp_path)


# --------------------------------------------------------------------------- person


def test_person_corrected_and_original(tmp_path):
    records = write_person(tmp_path / "person")
    task = person.load_data(tmp_path)
    # stride 16, starts < lines - 32:
    # A01 200 -> 0..160: 11, A02 120 -> 0..80: 6, E05 100 -> 0..64: 5.
    # corrected: 22 windows -> 2 valid, 3 test, 17 train.
    assert task.x_train.shape == (17, 32, 7) and task.y_train.shape == (17, 32)
    assert task.x_valid.shape == (2, 32, 7) and task.x_test.shape == (3, 32, 7)
    # original drops the last recording (E05): 17 windows -> 1 valid, 2 test, 14 train.
    original = person.load_data(tmp_path, protocol="original")
    assert original.x_train.shape == (14, 32, 7)
    assert original.x_valid.shape == (1, 32, 7) and original.x_test.shape == (2, 32, 7)

    classes = {
        "walking": 3,
        "falling": 4,
        "lying down": 0,
        "lying": 0,
        "sitting on the ground": 6,
        "on all fours": 5,
    }
    starts = (
        [16 * k for k in range(11)]
        + [200 + 16 * k for k in range(6)]
        + [320 + 16 * k for k in range(5)]
    )
    _, valid_idx, _ = split_indices(22, 27731)
    start = starts[valid_idx[1]]
    expected_x = [np.eye(4)[tag].tolist() + xyz for tag, xyz, _ in records[start : start + 32]]
    np.testing.assert_allclose(task.x_valid[1], expected_x, rtol=1e-6)
    np.testing.assert_array_equal(
        task.y_valid[1], [classes[a] for _, _, a in records[start : start + 32]]
    )
    assert task.defaults.batch_size == 64


def test_person_unknown_activity(tmp_path):
    write_person(tmp_path)
    path = tmp_path / "ConfLongDemo_JSI.txt"
    lines = path.read_text().splitlines()
    lines[120] = lines[120].rsplit(",", 1)[0] + ",dancing"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(
        MalformedDatasetError, match=r"line 121: expected an activity in .*found 'dancing'"
    ):
        person.load_data(tmp_path)


# --------------------------------------------------------------------------- cheetah


def test_cheetah_trace_split_and_shift(tmp_path):
    traces = write_cheetah(tmp_path / "cheetah")
    task = cheetah.load_data(tmp_path)
    # 60 steps, stride 10: starts < 60 - 33 = 27 -> 0, 10, 20: 3 windows per trace.
    # valid traces 0-4 -> 15, test 5-14 -> 30, train 15-24 -> 30 (trace 25 unused).
    assert task.x_train.shape == (30, 32, 17) and task.y_train.shape == (30, 32, 17)
    assert task.x_valid.shape == (15, 32, 17) and task.x_test.shape == (30, 32, 17)
    np.testing.assert_allclose(task.x_valid[4], traces[1][10:42], rtol=1e-6)
    np.testing.assert_allclose(task.y_valid[4], traces[1][11:43], rtol=1e-6)
    np.testing.assert_allclose(task.x_train[0], traces[15][0:32], rtol=1e-6)
    np.testing.assert_allclose(task.x_test[-1], traces[14][20:52], rtol=1e-6)
    assert task.output_dim == 17


def test_cheetah_missing_trace_and_bad_shape(tmp_path):
    write_cheetah(tmp_path, traces=25)
    (tmp_path / "trace_0017.npy").unlink()
    with pytest.raises(
        DatasetNotFoundError, match=r"'trace_0017\.npy' of task 'cheetah' was not found"
    ):
        cheetah.load_data(tmp_path)
    np.save(tmp_path / "trace_0017.npy", np.zeros((60, 16)))
    with pytest.raises(
        MalformedDatasetError,
        match=r"trace_0017\.npy: expected a numeric array of shape \(steps, 17\), "
        r"found float64 \(60, 16\)",
    ):
        cheetah.load_data(tmp_path)
    (tmp_path / "trace_0017.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(MalformedDatasetError, match=r"trace_0017\.npy: expected a \.npy array"):
        cheetah.load_data(tmp_path)


# --------------------------------------------------------------------------- all tasks


WRITERS = {
    "gesture": lambda root: write_gesture(root / "gesture"),
    "occupancy": lambda root: write_occupancy(root / "occupancy"),
    "har": lambda root: write_har(root / "har"),
    "smnist": lambda root: write_mnist(root / "mnist"),
    "traffic": lambda root: write_traffic(root / "traffic"),
    "power": lambda root: write_power(root / "power"),
    "ozone": lambda root: write_ozone(root / "ozone"),
    "person": lambda root: write_person(root / "person"),
    "cheetah": lambda root: write_cheetah(root / "cheetah"),
}


@pytest.mark.parametrize("name", list(WRITERS))
def test_every_task_through_the_registry(name, tmp_path, monkeypatch):
    WRITERS[name](tmp_path)
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path))
    for protocol in data.PROTOCOLS:
        task = data.load_task(name, protocol=protocol)
        info = data.get_task_info(name)
        assert task.info is info and task.protocol == protocol
        for x, y in task.splits().values():
            assert x.dtype == np.float32 and x.ndim == 3 and len(x) == len(y)
            if info.kind == "regression":
                assert y.dtype == np.float32 and y.shape[:2] == x.shape[:2]
            elif info.kind == "sequence_classification":
                assert y.dtype == np.int32 and y.shape == x.shape[:1]
            else:
                assert y.dtype == np.int32 and y.shape == x.shape[:2]
                assert 0 <= y.min() and y.max() < info.num_classes
            assert np.isfinite(x).all()
    if not info.quirks:
        corrected = data.load_task(name)
        np.testing.assert_array_equal(
            corrected.x_train, data.load_task(name, protocol="original").x_train
        )


@pytest.mark.parametrize("name", list(WRITERS))
def test_every_missing_file_message(name, tmp_path, monkeypatch):
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    info = data.get_task_info(name)
    with pytest.raises(DatasetNotFoundError) as caught:
        data.load_task(name, data_dir=tmp_path)
    message = str(caught.value)
    assert repr(info.files[0]) in message
    assert str(tmp_path / info.folder) in message and f"\n  {tmp_path}\n" in message
    assert info.origin in message and info.source in message
    assert caught.value.filename == info.files[0]
    assert isinstance(caught.value, FileNotFoundError)

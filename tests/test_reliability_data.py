"""Non-finite values in the data files: every loader refuses them with an error naming the
file, the line (or row) and the column, and saying how to fix it; the missing-value markers
that a protocol defines (ozone's ``?``, power's ``?`` and empty field) keep working.

The fixtures are the small files of ``test_data.py``, in each data set's own format, with
one field replaced.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from liquidtime import data
from liquidtime.data import MalformedDatasetError
from test_data import (
    write_cheetah,
    write_gesture,
    write_har,
    write_occupancy,
    write_ozone,
    write_person,
    write_power,
    write_traffic,
)

_FIX = "correct the value or delete the line"


def _replace_field(path: Path, line: int, field: int, text: str, delimiter: str | None) -> None:
    """Sets field ``field`` (0-based) of 1-based line ``line`` of a text file to ``text``."""
    raw = path.read_bytes().decode()
    newline = "\r\n" if "\r\n" in raw else "\n"
    lines = raw.split(newline)
    fields = lines[line - 1].split(delimiter)
    fields[field] = text
    lines[line - 1] = (delimiter or " ").join(fields)
    path.write_bytes(newline.join(lines).encode())


# (task, writer, file under the task folder, line, 0-based field, delimiter, column in the message)
CASES = {
    "occupancy-light": ("occupancy", write_occupancy, "datatraining.txt", 9, 4, ",", "Light"),
    "occupancy-test2": ("occupancy", write_occupancy, "datatest2.txt", 30, 2, ",", "Temperature"),
    "traffic-target": ("traffic", write_traffic, "Metro_Interstate_Traffic_Volume.csv", 50, 8, ",",
                       "traffic_volume"),
    "traffic-temp": ("traffic", write_traffic, "Metro_Interstate_Traffic_Volume.csv", 3, 1, ",",
                     "temp"),
    "power-target": ("power", write_power, "household_power_consumption.txt", 11, 2, ";",
                     "Global_active_power"),
    "power-voltage": ("power", write_power, "household_power_consumption.txt", 400, 4, ";",
                      "Voltage"),
    "ozone": ("ozone", write_ozone, "eighthr.data", 20, 8, ",", "feature 8"),
    "har": ("har", write_har, "UCI HAR Dataset/train/X_train.txt", 7, 31, None, "field 31"),
    "gesture": ("gesture", write_gesture, "b1_va3.csv", 12, 5, ",", "6"),
    "person": ("person", write_person, "ConfLongDemo_JSI.txt", 150, 5, ",", "y"),
}


@pytest.mark.parametrize("value", ["nan", "inf", "-Infinity", "1e999"])
@pytest.mark.parametrize("case", list(CASES))
def test_a_non_finite_value_names_the_file_line_and_column(case, value, tmp_path):
    task, writer, filename, line, field, delimiter, column = CASES[case]
    writer(tmp_path / task)
    path = tmp_path / task / filename
    if task == "har":  # the lines start with two spaces: fields are whitespace-separated
        text = path.read_text().split("\n")
        values = text[line - 1].split()
        values[field - 1] = value
        text[line - 1] = "  " + " ".join(values)
        path.write_text("\n".join(text))
    else:
        _replace_field(path, line, field, value, delimiter)
    with pytest.raises(MalformedDatasetError) as caught:
        data.load_task(task, data_dir=tmp_path)
    message = str(caught.value)
    assert f"{path}, line {line}: " in message, message
    assert re.search(rf"expected a finite number in column '{column}', found '{re.escape(value)}'",
                     message), message
    assert caught.value.line == line and caught.value.path == str(path)
    assert "correct the value" in message


def test_only_the_protocols_missing_value_markers_are_accepted(tmp_path):
    # ozone: '?' becomes 0, a word in the date (a column that is not read) is no value;
    # power: '?' and an empty field are forward-filled. Nothing else passes.
    write_ozone(tmp_path / "ozone")  # has '?' fields
    _replace_field(tmp_path / "ozone" / "eighthr.data", 7, 0, "nan", ",")
    write_power(tmp_path / "power")  # has '?' rows with an empty last field
    for name in ("ozone", "power"):
        for x, y in data.load_task(name, data_dir=tmp_path).splits().values():
            assert np.isfinite(x).all() and np.isfinite(y).all()
    _replace_field(tmp_path / "ozone" / "eighthr.data", 5, 3, "NaN", ",")
    with pytest.raises(MalformedDatasetError, match=r"only '\?' marks a missing value .*becomes 0"):
        data.load_task("ozone", data_dir=tmp_path)
    _replace_field(tmp_path / "power" / "household_power_consumption.txt", 8, 6, "nan", ";")
    with pytest.raises(MalformedDatasetError, match=r"'\?' or an empty field .*forward-filled"):
        data.load_task("power", data_dir=tmp_path)
    write_occupancy(tmp_path / "occupancy")
    _replace_field(tmp_path / "occupancy" / "datatraining.txt", 4, 5, "nan", ",")
    with pytest.raises(MalformedDatasetError, match=_FIX):
        data.load_task("occupancy", data_dir=tmp_path)


@pytest.mark.parametrize("value", [np.nan, np.inf, 1e300])
def test_a_non_finite_cheetah_value_names_the_trace_row_and_column(value, tmp_path):
    traces = write_cheetah(tmp_path / "cheetah")
    trace = traces[17].copy()
    trace[40, 3] = value
    path = tmp_path / "cheetah" / "trace_0017.npy"
    np.save(path, trace)
    with pytest.raises(MalformedDatasetError) as caught:
        data.load_task("cheetah", data_dir=tmp_path)
    message = str(caught.value)
    assert str(path) in message and "row 40 (step), column 3" in message
    assert "regenerate the trace" in message

"""Reading text tables with errors that name the file and the line."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NoReturn

import numpy as np

from liquidtime.data._errors import MalformedDatasetError


def read_text(path: Path) -> str:
    """The file's text with ``\\n`` line endings.

    Raises:
        MalformedDatasetError: If the file is not UTF-8 (or ASCII) text.
    """
    try:
        with open(path, encoding="utf-8", newline=None) as handle:
            return handle.read()
    except UnicodeDecodeError as error:
        raise MalformedDatasetError(
            path, f"expected text, found a byte that is not UTF-8 at offset {error.start}"
        ) from None


def read_first_line(path: Path) -> str:
    """The first line of a text file without its line ending."""
    with open(path, encoding="utf-8", errors="replace", newline=None) as handle:
        return handle.readline().rstrip("\n")


def csv_rows(path: Path, delimiter: str = ",") -> Iterator[tuple[int, list[str]]]:
    """Yields ``(line_number, fields)`` for each non-blank line, quotes removed."""
    reader = csv.reader(io.StringIO(read_text(path)), delimiter=delimiter)
    for fields in reader:
        if fields and any(field.strip() for field in fields):
            yield reader.line_num, fields


def check_header(path: Path, fields: Sequence[str], expected: Sequence[str], line: int = 1) -> None:
    """Raises :class:`MalformedDatasetError` unless ``fields == expected``."""
    if [field.strip() for field in fields] != list(expected):
        raise MalformedDatasetError(
            path, f"expected the header {','.join(expected)!r}, found {','.join(fields)!r}", line
        )


def check_field_count(
    path: Path, fields: Sequence[str], expected: int, line: int, delimiter: str | None = ","
) -> None:
    """Raises :class:`MalformedDatasetError` unless there are ``expected`` fields."""
    if len(fields) != expected:
        separated = "whitespace-separated" if delimiter is None else f"{delimiter!r}-separated"
        hint = " (truncated file?)" if len(fields) < expected else ""
        raise MalformedDatasetError(
            path, f"expected {expected} {separated} fields, found {len(fields)}{hint}", line
        )


def parse_float(path: Path, text: str, line: int, column: str) -> float:
    """``float(text)``, or :class:`MalformedDatasetError` naming the column."""
    try:
        return float(text)
    except ValueError:
        raise MalformedDatasetError(
            path, f"expected a number in column {column!r}, found {text!r}", line
        ) from None


def read_float_table(
    path: Path,
    num_fields: int,
    delimiter: str | None = None,
    skip_rows: int = 0,
    usecols: Sequence[int] | None = None,
    missing: Sequence[str] = (),
) -> np.ndarray:
    """Reads a numeric table fast, with a clear error for a malformed line.

    Blank lines are skipped. Fields equal to one of ``missing`` become NaN; the
    empty string may be one of them.

    Args:
        path: The file.
        num_fields: Fields every line must have.
        delimiter: Field separator; ``None`` for runs of whitespace.
        skip_rows: Leading lines (headers) to skip.
        usecols: Indices of the fields to return (all by default); the other
            fields are not checked.
        missing: Markers of missing values.

    Returns:
        float64 array of shape ``(rows, len(usecols))``.

    Raises:
        MalformedDatasetError: For a line with the wrong number of fields or a
            non-numeric value in a used column, with its line number.
    """
    columns = list(range(num_fields) if usecols is None else usecols)
    raw = path.read_bytes()
    first = _first_data_line(raw, skip_rows)
    if first is None:
        raise MalformedDatasetError(path, "expected rows of numbers, found no data rows")
    line_number, line = first
    check_field_count(path, line.split(delimiter), num_fields, line_number, delimiter)
    if missing:
        raw = _mark_missing(raw, delimiter, missing)
    try:
        table = np.loadtxt(
            io.BytesIO(raw),
            delimiter=delimiter,
            skiprows=skip_rows,
            usecols=columns,
            dtype=np.float64,
            comments=None,
            ndmin=2,
            encoding="utf-8",
        )
    except (ValueError, UnicodeDecodeError) as error:
        _raise_first_bad_line(path, num_fields, delimiter, skip_rows, columns, missing, error)
    return table


def _first_data_line(raw: bytes, skip_rows: int) -> tuple[int, str] | None:
    for number, line in enumerate(io.BytesIO(raw), start=1):
        if number > skip_rows and line.strip():
            return number, line.decode("utf-8", errors="replace").rstrip("\r\n")
    return None


def _mark_missing(raw: bytes, delimiter: str | None, missing: Sequence[str]) -> bytes:
    for marker in missing:
        if marker:
            raw = raw.replace(marker.encode(), b"nan")
    if "" in missing and delimiter is not None:
        separator = delimiter.encode()
        empty_between = separator + separator
        while empty_between in raw:
            raw = raw.replace(empty_between, separator + b"nan" + separator)
        raw = raw.replace(separator + b"\r\n", separator + b"nan\r\n")
        raw = raw.replace(separator + b"\n", separator + b"nan\n")
        raw = raw.replace(b"\n" + separator, b"\nnan" + separator)
        if raw.endswith(separator):
            raw += b"nan"
        if raw.startswith(separator):
            raw = b"nan" + raw
    return raw


def _raise_first_bad_line(
    path: Path,
    num_fields: int,
    delimiter: str | None,
    skip_rows: int,
    columns: Sequence[int],
    missing: Sequence[str],
    error: Exception,
) -> NoReturn:
    text = read_text(path)
    for number, line in enumerate(text.split("\n"), start=1):
        if number <= skip_rows or not line.strip():
            continue
        fields = line.split(delimiter)
        if delimiter is not None:
            fields = [field.strip() for field in fields]
        check_field_count(path, fields, num_fields, number, delimiter)
        for column in columns:
            if fields[column] not in missing:
                parse_float(path, fields[column], number, f"field {column + 1}")
    raise MalformedDatasetError(path, f"could not be read as a numeric table ({error})")

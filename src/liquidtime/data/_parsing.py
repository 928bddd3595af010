"""Reading text tables with errors that name the file and the line."""

from __future__ import annotations

import csv
import functools
import io
import math
from collections.abc import Iterator, Sequence
from pathlib import Path

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


def csv_data_rows(path: Path, header: Sequence[str]) -> Iterator[tuple[int, list[str]]]:
    """The rows after the header of a CSV file, once the header is checked.

    Args:
        path: The file.
        header: The fields its first non-blank line must hold.

    Returns:
        ``(line_number, fields)`` of each following non-blank line (see :func:`csv_rows`).

    Raises:
        MalformedDatasetError: If the file is empty or its header differs.
    """
    rows = csv_rows(path)
    first = next(rows, None)
    if first is None:
        raise MalformedDatasetError(path, "the file is empty")
    check_header(path, first[1], header, first[0])
    return rows


def check_more_rows_than(path: Path, num_rows: int, length: int) -> None:
    """Raises :class:`MalformedDatasetError` unless a file has more than ``length`` data rows.

    Args:
        path: The file, for the error.
        num_rows: Its number of data rows.
        length: The window length, which the rows must exceed.
    """
    if num_rows <= length:
        raise MalformedDatasetError(
            path, f"expected more than {length} data rows, found {num_rows}"
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


NON_FINITE_FIX = (
    "one non-finite value would turn whole features into NaN after z-scoring; "
    "correct the value or delete the line"
)
"""How to fix a non-finite value, the end of every such error."""


def parse_float(path: Path, text: str, line: int, column: str, fix: str = NON_FINITE_FIX) -> float:
    """``float(text)`` if it is a finite number, else :class:`MalformedDatasetError`.

    Args:
        path: The file, for the error.
        text: The field.
        line: Its 1-based line number, for the error.
        column: The column's name, for the error.
        fix: What the error says to do about a non-finite value (``nan``,
            ``inf``, or a number too large for float64).

    Returns:
        The number.

    Raises:
        MalformedDatasetError: Naming the file, the line and the column, if the
            field is not a number or is not finite.
    """
    try:
        value = float(text)
    except ValueError:
        raise MalformedDatasetError(
            path, f"expected a number in column {column!r}, found {text!r}", line
        ) from None
    if not math.isfinite(value):
        raise MalformedDatasetError(
            path, f"expected a finite number in column {column!r}, found {text.strip()!r}: {fix}",
            line,
        )
    return value


def read_float_table(
    path: Path,
    num_fields: int,
    delimiter: str | None = None,
    skip_rows: int = 0,
    usecols: Sequence[int] | None = None,
    missing: Sequence[str] = (),
    column_names: Sequence[str] | None = None,
    fix: str = NON_FINITE_FIX,
) -> np.ndarray:
    """Reads a numeric table fast, with a clear error for a malformed line.

    Blank lines are skipped. Fields equal to one of ``missing`` become NaN; the
    empty string may be one of them. Any other value that is not a finite
    number (``nan``, ``inf``, ``1e999``) is an error.

    Args:
        path: The file.
        num_fields: Fields every line must have.
        delimiter: Field separator; ``None`` for runs of whitespace.
        skip_rows: Leading lines (headers) to skip.
        usecols: Indices of the fields to return (all by default); the other
            fields are not checked.
        missing: Markers of missing values.
        column_names: The names of all ``num_fields`` fields, for errors
            (default ``field 1``, ``field 2``, ...).
        fix: What the error for a non-finite value says to do.

    Returns:
        float64 array of shape ``(rows, len(usecols))``.

    Raises:
        MalformedDatasetError: For a line with the wrong number of fields or a
            non-numeric or non-finite value in a used column, with its line
            number and column.
    """
    columns = list(range(num_fields) if usecols is None else usecols)
    raw = path.read_bytes()
    first = _first_data_line(raw, skip_rows)
    if first is None:
        raise MalformedDatasetError(path, "expected rows of numbers, found no data rows")
    line_number, line = first
    check_field_count(path, line.split(delimiter), num_fields, line_number, delimiter)
    body = raw.split(b"\n", skip_rows)[-1] if skip_rows else raw
    # "nan", "inf" and "infinity" all contain an n; a missing marker turned into NaN does not.
    spelled_non_finite = b"n" in body or b"N" in body
    bad_line = functools.partial(
        _raise_first_bad_line, path, num_fields, delimiter, skip_rows, columns, missing,
        column_names, fix,
    )
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
        bad_line(f"could not be read as a numeric table ({error})")
    if np.isinf(table).any() or (np.isnan(table).any() if not missing else spelled_non_finite):
        bad_line(None)
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
    column_names: Sequence[str] | None,
    fix: str,
    problem: str | None,
) -> None:
    """Raises :class:`MalformedDatasetError` for the first line with a bad field.

    Without such a line: raises with ``problem`` if given, else returns (the
    table was suspected of holding a non-finite value and does not).
    """
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
                name = column_names[column] if column_names else f"field {column + 1}"
                parse_float(path, fields[column], number, name, fix)
    if problem is not None:
        raise MalformedDatasetError(path, problem)

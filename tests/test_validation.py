"""The generic argument checks of ``liquidtime._validation``, each on its own."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from liquidtime import _validation as v

NAN, INF = math.nan, math.inf


def _message(name: str, expected: str, value: object) -> str:
    """The whole message, as a regular expression matching it exactly."""
    return re.escape(
        f"Received an invalid value for argument `{name}`, expected {expected}, got {value!r}."
    )


# --------------------------------------------------------------------------- integers


@pytest.mark.parametrize("value", [1, 2, 10**30])
def test_positive_int_accepts_python_ints(value):
    assert v.positive_int("n", value) == value
    assert type(v.positive_int("n", value)) is int


@pytest.mark.parametrize(
    "value", [0, -1, True, False, 1.0, 2.5, NAN, INF, "3", None, np.int64(3), np.bool_(True)]
)
def test_positive_int_refuses(value):
    with pytest.raises(ValueError, match=_message("n", "a positive integer", value)):
        v.positive_int("n", value)


def test_positive_int_takes_numpy_integers_when_asked():
    result = v.positive_int("n", np.int64(3), allow_numpy=True)
    assert result == 3 and type(result) is int
    for value in (np.int64(0), np.bool_(True), True, np.float64(3.0)):
        with pytest.raises(ValueError, match="expected a positive integer"):
            v.positive_int("n", value, allow_numpy=True)


@pytest.mark.parametrize("value", [0, 1, 7])
def test_non_negative_int_accepts(value):
    assert v.non_negative_int("k", value) == value


@pytest.mark.parametrize("value", [-1, True, False, 0.0, NAN, INF, "0", None, np.int32(0)])
def test_non_negative_int_refuses(value):
    with pytest.raises(ValueError, match=_message("k", "a non-negative integer", value)):
        v.non_negative_int("k", value)


def test_non_negative_int_takes_numpy_integers_when_asked():
    assert v.non_negative_int("k", np.uint8(0), allow_numpy=True) == 0
    with pytest.raises(ValueError, match="expected a non-negative integer"):
        v.non_negative_int("k", np.int8(-1), allow_numpy=True)


def test_int_at_least():
    assert v.int_at_least("samples", 2, 2) == 2
    assert v.int_at_least("seed", 0, 0) == 0
    for value in (1, True, 2.0, NAN, INF, None, np.int64(5)):
        with pytest.raises(ValueError, match=_message("samples", "an integer >= 2", value)):
            v.int_at_least("samples", value, 2)
    result = v.int_at_least("units", np.int16(3), 3, allow_numpy=True)
    assert result == 3 and type(result) is int
    with pytest.raises(ValueError, match=_message("units", "an integer >= 3", np.int16(2))):
        v.int_at_least("units", np.int16(2), 3, allow_numpy=True)
    with pytest.raises(ValueError, match=_message("units", "an integer >= 0", np.bool_(True))):
        v.int_at_least("units", np.bool_(True), 0, allow_numpy=True)


def test_int_in_range_includes_both_ends():
    assert v.int_in_range("seed", 0, 0, 9) == 0
    assert v.int_in_range("seed", 9, 0, 9) == 9
    assert v.int_in_range("seed", np.int64(4), 0, 9, allow_numpy=True) == 4
    for value in (-1, 10, True, 4.0, NAN, INF, "4", np.int64(4)):
        with pytest.raises(ValueError, match=_message("seed", "an integer in [0, 9]", value)):
            v.int_in_range("seed", value, 0, 9)
    with pytest.raises(ValueError, match=re.escape("an integer in [0, 9], got np.int64(10)")):
        v.int_in_range("seed", np.int64(10), 0, 9, allow_numpy=True)


# --------------------------------------------------------------------------- floats


@pytest.mark.parametrize("value", [1, 0.5, 1e-300, 1e300, np.float64(2.0), 10**300])
def test_positive_float_accepts_finite_positive_numbers(value):
    result = v.positive_float("rtol", value)
    assert type(result) is float and result > 0


@pytest.mark.parametrize(
    "value",
    [0, 0.0, -1.0, -INF, INF, NAN, 10**400, True, False, "1", None, np.float32(1.0), np.int64(1)],
)
def test_positive_float_refuses(value):
    with pytest.raises(ValueError, match=_message("rtol", "a positive finite number", value)):
        v.positive_float("rtol", value)


@pytest.mark.parametrize("value", [0, 0.0, -0.0, 3, 2.5, np.float64(0.0)])
def test_non_negative_float_accepts(value):
    result = v.non_negative_float("tolerance", value)
    assert type(result) is float and result >= 0


@pytest.mark.parametrize(
    "value", [-1e-12, -1, INF, -INF, NAN, 10**400, True, False, "0", None, np.float32(0.0)]
)
def test_non_negative_float_refuses(value):
    expected = "a non-negative finite number"
    with pytest.raises(ValueError, match=_message("tolerance", expected, value)):
        v.non_negative_float("tolerance", value)


@pytest.mark.parametrize("value", [0, 0.0, 0.5, 0.999, np.float64(0.25)])
def test_probability_accepts_the_half_open_unit_interval(value):
    assert v.probability("rate", value) == float(value)


@pytest.mark.parametrize(
    "value", [1, 1.0, -0.1, NAN, INF, True, False, "0.5", None, np.float32(0.5), np.int64(0)]
)
def test_probability_refuses(value):
    with pytest.raises(ValueError, match=_message("rate", "a float in [0, 1)", value)):
        v.probability("rate", value)


def test_probability_takes_numpy_numbers_when_asked():
    for value in (np.float32(0.5), np.float16(0.0), np.int64(0)):
        result = v.probability("sparsity_level", value, allow_numpy=True)
        assert result == float(value) and type(result) is float
    for value in (np.float32(1.0), np.float32(NAN), np.bool_(False), np.complex64(0.5)):
        with pytest.raises(ValueError, match=re.escape("expected a float in [0, 1), got ")):
            v.probability("sparsity_level", value, allow_numpy=True)


# --------------------------------------------------------------------------- choices


def test_one_of_returns_the_value():
    assert v.one_of("mode", "pure", ("default", "pure")) == "pure"
    assert v.one_of("solver", "rk4", {"euler": 1, "rk4": 2}) == "rk4"  # a dict: its keys
    assert v.one_of("mode", "b", (c for c in "abc")) == "b"  # any iterable, read once


@pytest.mark.parametrize("value", ["PURE", "", None, 1, ["pure"], {"pure": 1}])
def test_one_of_refuses_anything_else(value):
    with pytest.raises(ValueError, match=_message("mode", "one of ['default', 'pure']", value)):
        v.one_of("mode", value, ("default", "pure"))

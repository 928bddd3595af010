"""Generic argument checks, worded like Keras's own.

Every check returns the value it accepts (an int or float as documented) and
raises ``ValueError("Received an invalid value for argument `NAME`, expected
WHAT, got VALUE.")`` otherwise, the wording of Keras's layers (e.g.
``keras.layers.LSTM(units=0)``). A bool (Python's or NumPy's) is never accepted
where a number is expected, although Python counts ``True`` as an int.

Python ints are the only integers accepted unless a check is given
``allow_numpy=True`` (the wirings take NumPy integers; the cells do not, so that a
layer's config holds plain ints). The float checks take Python ints and floats,
which include ``numpy.float64`` (a ``float`` subclass) but not ``numpy.float32``.

The module imports no third-party package: NumPy's scalars are recognised through
the :mod:`numbers` classes NumPy registers them with.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any, TypeVar

_T = TypeVar("_T")


def _invalid(name: str, expected: str, value: Any) -> ValueError:
    return ValueError(
        f"Received an invalid value for argument `{name}`, expected {expected}, got {value!r}."
    )


def _is_int(value: Any, allow_numpy: bool) -> bool:
    """Python ints, and with ``allow_numpy`` any ``numbers.Integral`` (NumPy integers); no bool."""
    integer_type = numbers.Integral if allow_numpy else int
    return isinstance(value, integer_type) and not isinstance(value, bool)


def _is_real(value: Any, allow_numpy: bool = False) -> bool:
    """Python ints and floats, and with ``allow_numpy`` any ``numbers.Real``; no bool."""
    real_types: tuple[type, ...] = (numbers.Real,) if allow_numpy else (int, float)
    return isinstance(value, real_types) and not isinstance(value, bool)


def _as_float(value: Any, allow_numpy: bool = False) -> float | None:
    """``value`` as a float if :func:`_is_real` accepts it and it fits a float, else None."""
    if not _is_real(value, allow_numpy):
        return None
    try:
        return float(value)
    except OverflowError:  # an int beyond the range of floats
        return None


def positive_int(name: str, value: Any, *, allow_numpy: bool = False) -> int:
    """Checks that ``value`` is an integer >= 1.

    Args:
        name: The argument's name, for the message.
        value: The value to check.
        allow_numpy: Also accept NumPy integers (any ``numbers.Integral``).

    Returns:
        ``value`` as a Python int.

    Raises:
        ValueError: ``expected a positive integer`` for a bool, a non-integer or an
            integer < 1.
    """
    if not _is_int(value, allow_numpy) or value < 1:
        raise _invalid(name, "a positive integer", value)
    return int(value)


def non_negative_int(name: str, value: Any, *, allow_numpy: bool = False) -> int:
    """Checks that ``value`` is an integer >= 0.

    Args:
        name: The argument's name, for the message.
        value: The value to check.
        allow_numpy: Also accept NumPy integers (any ``numbers.Integral``).

    Returns:
        ``value`` as a Python int.

    Raises:
        ValueError: ``expected a non-negative integer`` for a bool, a non-integer or
            a negative integer.
    """
    if not _is_int(value, allow_numpy) or value < 0:
        raise _invalid(name, "a non-negative integer", value)
    return int(value)


def int_at_least(name: str, value: Any, minimum: int, *, allow_numpy: bool = False) -> int:
    """Checks that ``value`` is an integer >= ``minimum``.

    Args:
        name: The argument's name, for the message.
        value: The value to check.
        minimum: The smallest value allowed.
        allow_numpy: Also accept NumPy integers (any ``numbers.Integral``).

    Returns:
        ``value`` as a Python int.

    Raises:
        ValueError: ``expected an integer >= MINIMUM`` for a bool, a non-integer or
            an integer < ``minimum``.
    """
    if not _is_int(value, allow_numpy) or value < minimum:
        raise _invalid(name, f"an integer >= {minimum}", value)
    return int(value)


def int_in_range(name: str, value: Any, low: int, high: int, *, allow_numpy: bool = False) -> int:
    """Checks that ``value`` is an integer in ``[low, high]`` (both included).

    Args:
        name: The argument's name, for the message.
        value: The value to check.
        low: The smallest value allowed.
        high: The largest value allowed.
        allow_numpy: Also accept NumPy integers (any ``numbers.Integral``).

    Returns:
        ``value`` as a Python int.

    Raises:
        ValueError: ``expected an integer in [LOW, HIGH]`` for a bool, a non-integer
            or an integer outside the range.
    """
    if not _is_int(value, allow_numpy) or not low <= value <= high:
        raise _invalid(name, f"an integer in [{low}, {high}]", value)
    return int(value)


def positive_float(name: str, value: Any) -> float:
    """Checks that ``value`` is a finite number > 0.

    Args:
        name: The argument's name, for the message.
        value: The value to check: a Python int or float.

    Returns:
        ``value`` as a float.

    Raises:
        ValueError: ``expected a positive finite number`` for a bool, a non-number,
            NaN, an infinity or a number <= 0.
    """
    number = _as_float(value)
    if number is None or not 0 < number < math.inf:  # NaN fails the comparison
        raise _invalid(name, "a positive finite number", value)
    return number


def non_negative_float(name: str, value: Any) -> float:
    """Checks that ``value`` is a finite number >= 0.

    Args:
        name: The argument's name, for the message.
        value: The value to check: a Python int or float.

    Returns:
        ``value`` as a float.

    Raises:
        ValueError: ``expected a non-negative finite number`` for a bool, a
            non-number, NaN, an infinity or a negative number.
    """
    number = _as_float(value)
    if number is None or not 0 <= number < math.inf:  # NaN fails the comparison
        raise _invalid(name, "a non-negative finite number", value)
    return number


def probability(name: str, value: Any, *, allow_numpy: bool = False) -> float:
    """Checks that ``value`` is a number in ``[0, 1)``, as a dropout rate or a sparsity.

    Args:
        name: The argument's name, for the message.
        value: The value to check: a Python int or float.
        allow_numpy: Also accept NumPy integers and floats of any width (any
            ``numbers.Real``).

    Returns:
        ``value`` as a float.

    Raises:
        ValueError: ``expected a float in [0, 1)`` for a bool, a non-number, NaN or a
            number outside ``[0, 1)``.
    """
    number = _as_float(value, allow_numpy)
    if number is None or not 0 <= number < 1:  # NaN fails the comparison
        raise _invalid(name, "a float in [0, 1)", value)
    return number


def one_of(name: str, value: Any, allowed: Iterable[_T]) -> _T:
    """Checks that ``value`` is one of ``allowed``.

    Args:
        name: The argument's name, for the message.
        value: The value to check.
        allowed: The accepted values (a dict stands for its keys), listed in the
            message in this order.

    Returns:
        ``value``.

    Raises:
        ValueError: ``expected one of [...]`` for any other value.
    """
    choices = tuple(allowed)
    if value not in choices:
        raise _invalid(name, f"one of {list(choices)}", value)
    return value

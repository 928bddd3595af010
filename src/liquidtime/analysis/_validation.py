"""Argument checks shared by the analysis modules, with Keras-style messages."""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any, TypeVar

_Choice = TypeVar("_Choice", bound=str)


def check_positive_int(name: str, value: Any) -> int:
    """Returns ``value`` if it is a positive integer, else raises ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(
            f"Received an invalid value for argument `{name}`, "
            f"expected a positive integer, got {value!r}."
        )
    return value


def check_int_at_least(name: str, value: Any, minimum: int) -> int:
    """Returns ``value`` if it is an integer ``>= minimum``, else raises ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(
            f"Received an invalid value for argument `{name}`, "
            f"expected an integer >= {minimum}, got {value!r}."
        )
    return value


def check_positive_float(name: str, value: Any) -> float:
    """Returns ``value`` as a float if it is finite and > 0, else raises ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
        math.isfinite(value) and value > 0
    ):
        raise ValueError(
            f"Received an invalid value for argument `{name}`, "
            f"expected a positive finite number, got {value!r}."
        )
    return float(value)


def check_non_negative_float(name: str, value: Any) -> float:
    """Returns ``value`` as a float if it is finite and >= 0, else raises ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
        math.isfinite(value) and value >= 0
    ):
        raise ValueError(
            f"Received an invalid value for argument `{name}`, "
            f"expected a non-negative finite number, got {value!r}."
        )
    return float(value)


def check_choice(name: str, value: Any, choices: Collection[_Choice]) -> _Choice:
    """Returns ``value`` if it is one of ``choices``, else raises ``ValueError``."""
    if value not in choices:
        expected = ", ".join(repr(choice) for choice in choices)
        raise ValueError(
            f"Received an invalid value for argument `{name}`, "
            f"expected one of {expected}, got {value!r}."
        )
    return value

"""The sequence layers' explicit constructor arguments, forwarded to their cells.

Each public layer spells out its cell's arguments and the sequence-layer ones with
their defaults, so that ``help()`` and IDEs show them; its ``__init__`` hands them on
with :func:`named_arguments`. A layer with two cell forms (``LTC``, ``CfC``: an int
or a wiring) lists the arguments of both; :func:`named_arguments` drops those of the
form not chosen that were left at their defaults, and any given explicitly reach the
layer's check, which names the form they belong to. ``tests/test_signatures.py`` checks
that every argument of a layer's cells appears in its signature with the cell's
default.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

# Received by the layer itself, not passed on as keyword arguments.
_OWN = ("self", "units", "mixed_memory")


def _is_default(value: Any, default: Any) -> bool:
    if value is default:
        return True
    plain = (str, int, float, bool, type(None))
    return isinstance(value, plain) and isinstance(default, plain) and value == default


def named_arguments(
    init: Callable[..., None], values: Mapping[str, Any], unused: set[str] | frozenset = frozenset()
) -> dict[str, Any]:
    """The named parameters of ``init`` with their values, as keyword arguments.

    Args:
        init: The layer's ``__init__``.
        values: Its ``locals()``, taken first thing in the function.
        unused: Parameters that the chosen cell does not take: dropped when at their
            default, kept (for the layer to refuse) otherwise.

    Returns:
        ``{name: value}`` for every parameter but ``self``, ``units``,
        ``mixed_memory`` and ``**kwargs``.
    """
    arguments = {}
    for name, parameter in inspect.signature(init).parameters.items():
        if name in _OWN or parameter.kind is inspect.Parameter.VAR_KEYWORD:
            continue
        if name in unused and _is_default(values[name], parameter.default):
            continue
        arguments[name] = values[name]
    return arguments

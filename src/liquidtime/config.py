"""Library-wide settings.

``runtime_checks`` (default on): whether the sequence layers and cells check the
values of elapsed times (negative, NaN or infinite values raise an error naming
the argument). Eagerly the check runs in Python; inside a compiled function
(``fit``, ``predict``, ``evaluate``, ``jax.jit``, ``tf.function``) it is compiled into
the function as a device-side condition that raises when the function runs (see
:func:`liquidtime._backend_ops.check_on_host`). It costs a reduction over the
elapsed times per call (see ``benchmarks/runtime_checks.py`` and
``docs/reliability.md``). Turn it off with :func:`set_runtime_checks` or the
environment variable ``LIQUIDTIME_RUNTIME_CHECKS=0`` (read at import). The setting
is read when a function is traced: a compiled function keeps the setting it was
traced with.
"""

from __future__ import annotations

import os

_FALSE_WORDS = ("0", "false", "no", "off")

_runtime_checks = os.environ.get("LIQUIDTIME_RUNTIME_CHECKS", "1").strip().lower() not in (
    _FALSE_WORDS
)


def runtime_checks() -> bool:
    """Returns whether value checks of elapsed times are made (see the module docstring)."""
    return _runtime_checks


def set_runtime_checks(enabled: bool) -> None:
    """Turns the value checks of elapsed times on or off.

    Args:
        enabled: True to check (the default), False to skip the checks for speed.
            Functions already traced keep the setting they were traced with.
    """
    global _runtime_checks
    if not isinstance(enabled, bool):
        raise ValueError(
            f"Received an invalid value for argument `enabled`, expected a bool, got {enabled!r}."
        )
    _runtime_checks = enabled


__all__ = ["runtime_checks", "set_runtime_checks"]

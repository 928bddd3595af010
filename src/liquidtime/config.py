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

``matmul_precision``: the precision of float32 matrix products on the active
backend. liquidtime leaves each backend's default (``"fast"``): on NVIDIA GPUs
since Ampere, JAX and TensorFlow then compute float32 matmuls with TF32 inputs
(10-bit mantissa), which moves a CfC's outputs by up to about 1e-3 from the CPU's
values for the same weights; PyTorch keeps full float32 unless asked. CPUs always
compute in full float32. :func:`set_matmul_precision` (``"highest"``) asks every
device for full float32 products, as the test suite does; see
``docs/performance.md`` ("Matmul precision on GPUs").
"""

from __future__ import annotations

import os

from liquidtime._validation import one_of

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


MATMUL_PRECISIONS: tuple[str, ...] = ("fast", "highest")
"""``"fast"``: the backend's default (TF32 allowed on GPUs); ``"highest"``: full float32."""

_matmul_precision = "fast"


def matmul_precision() -> str:
    """Returns the float32 matmul precision last set by :func:`set_matmul_precision`."""
    return _matmul_precision


def set_matmul_precision(precision: str) -> None:
    """Sets the precision of float32 matrix products on the active Keras backend.

    ``"highest"`` computes them in full float32 on every device
    (``jax_default_matmul_precision = "highest"`` on JAX,
    ``tf.config.experimental.enable_tensor_float_32_execution(False)`` on TensorFlow,
    ``torch.set_float32_matmul_precision("highest")`` and no TF32 in cuDNN on PyTorch);
    ``"fast"`` restores the backends' defaults, which let NVIDIA GPUs use TF32 for
    matmuls on JAX and TensorFlow (PyTorch's default matmuls are full float32; its
    cuDNN kernels may use TF32). CPUs compute in float32 either way.
    Functions already compiled keep the precision they were compiled with.

    Args:
        precision: ``"fast"`` or ``"highest"``.
    """
    global _matmul_precision
    one_of("precision", precision, MATMUL_PRECISIONS)
    import keras

    highest = precision == "highest"
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        jax.config.update("jax_default_matmul_precision", "highest" if highest else None)
    elif backend == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_tensor_float_32_execution(not highest)
    elif backend == "torch":
        import torch

        # PyTorch's defaults: full float32 matmuls, TF32 in cuDNN's convolutions and RNNs.
        torch.set_float32_matmul_precision("highest")
        torch.backends.cudnn.allow_tf32 = not highest
    _matmul_precision = precision


__all__ = [
    "MATMUL_PRECISIONS",
    "matmul_precision",
    "runtime_checks",
    "set_matmul_precision",
    "set_runtime_checks",
]

"""Shared test configuration.

The suite runs under the backend in ``KERAS_BACKEND`` (JAX by default). Tests marked
``backends`` are numerical checks that must hold on every backend:
``tests/test_backends.py`` reruns them in one subprocess per other backend.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

# isort: off
import liquidtime  # selects the default backend before Keras is imported
import liquidtime.config
import keras

# isort: on


@pytest.fixture(autouse=True)
def _seed_everything():
    keras.utils.set_random_seed(1234)
    yield


@pytest.fixture
def backend() -> str:
    return keras.backend.backend()


def to_numpy(x) -> np.ndarray:
    """Converts a backend tensor to float64 NumPy."""
    return np.asarray(keras.ops.convert_to_numpy(x), dtype=np.float64)


def pytest_report_header(config):
    return f"keras backend: {keras.backend.backend()} (KERAS_BACKEND={os.environ.get('KERAS_BACKEND')})"


if keras.backend.backend() == "jax":
    # float64 gradient checks need 64-bit floats, which JAX disables by default.
    import jax

    jax.config.update("jax_enable_x64", True)

# Full float32 matmuls on every device, so that the tolerances hold on a GPU too
# (TF32 moves results by up to ~1e-3 there; see liquidtime.config).
liquidtime.config.set_matmul_precision("highest")


@pytest.fixture
def float64():
    """Runs a test with Keras's floatx and global dtype policy set to float64.

    Both are needed: some Keras ops follow floatx, and layers follow the global dtype
    policy, which Keras caches the first time a layer is created.
    """
    previous_floatx = keras.config.floatx()
    previous_policy = keras.config.dtype_policy()
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    yield
    keras.config.set_floatx(previous_floatx)
    keras.config.set_dtype_policy(previous_policy)

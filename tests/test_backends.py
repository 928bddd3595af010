"""Reruns the ``backends``-marked tests under TensorFlow and PyTorch, one process each."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import keras
import pytest

TESTS = Path(__file__).parent
OTHER_BACKENDS = ("tensorflow", "torch")


@pytest.mark.skipif(
    keras.backend.backend() != "jax" or os.environ.get("LIQUIDTIME_IN_BACKEND_RUN") == "1",
    reason="the per-backend reruns are launched from the default (JAX) session only",
)
@pytest.mark.parametrize("backend_name", OTHER_BACKENDS)
def test_marked_tests_pass_on_backend(backend_name):
    env = {**os.environ, "KERAS_BACKEND": backend_name, "LIQUIDTIME_IN_BACKEND_RUN": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-m", "backends", "-p", "no:cacheprovider", str(TESTS)],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    summary = result.stdout[-6000:]
    assert result.returncode == 0, f"{backend_name} run failed:\n{summary}\n{result.stderr[-3000:]}"
    print(summary.splitlines()[-1])

"""A model saved under one backend loads under another with the same outputs."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import keras
import pytest

SAVE = textwrap.dedent(
    """
    import sys, numpy as np, keras, liquidtime as lt
    keras.utils.set_random_seed(7)
    inputs = keras.Input((6, 3))
    dt = keras.Input((6,))
    h = lt.LTC(5, return_sequences=True)(inputs, elapsed_time=dt)
    h = lt.CfC(4, mode="pure", return_sequences=True)(h, elapsed_time=dt)
    h = keras.layers.Bidirectional(lt.CfC(3, backbone_units=8))(h)
    model = keras.Model([inputs, dt], keras.layers.Dense(2)(h))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 6, 3)).astype("float32")
    t = rng.uniform(0.1, 2.0, size=(4, 6)).astype("float32")
    model.save(sys.argv[1] + "/model.keras")
    y = keras.ops.convert_to_numpy(model.predict([x, t], verbose=0))
    np.savez(sys.argv[1] + "/data.npz", x=x, t=t, y=y)
    """
)

LOAD = textwrap.dedent(
    """
    import sys, numpy as np, keras, liquidtime as lt
    model = keras.saving.load_model(sys.argv[1] + "/model.keras")
    data = np.load(sys.argv[1] + "/data.npz")
    y = keras.ops.convert_to_numpy(model.predict([data["x"], data["t"]], verbose=0))
    np.testing.assert_allclose(y, data["y"], rtol=1e-5, atol=1e-5)
    print("max difference", float(np.max(np.abs(y - data["y"]))))
    """
)


def run(code: str, backend: str, directory) -> str:
    env = {**os.environ, "KERAS_BACKEND": backend}
    result = subprocess.run(
        [sys.executable, "-c", code, str(directory)], env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, f"{backend}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="launched from the default session only")
@pytest.mark.parametrize(
    "saved_on, loaded_on",
    [("jax", "tensorflow"), ("torch", "jax")],
)
def test_model_moves_between_backends(saved_on, loaded_on, tmp_path):
    run(SAVE, saved_on, tmp_path)
    assert "max difference" in run(LOAD, loaded_on, tmp_path)

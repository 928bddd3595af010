"""`import liquidtime` chooses the Keras backend with Keras's precedence.

Each case runs in a fresh interpreter with a temporary ``KERAS_HOME`` (and ``HOME``), so
neither the user's ``~/.keras/keras.json`` nor this process's backend is involved.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

_PRINT_BACKEND = "import liquidtime, keras; print(keras.backend.backend())"


def _run(code: str, env_updates: dict[str, str], home: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("KERAS_BACKEND", "KERAS_HOME")}
    env["HOME"] = str(home)
    env.update(env_updates)
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )


def _backend_of(env_updates: dict[str, str], home: Path) -> str:
    result = _run(_PRINT_BACKEND, env_updates, home)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip().splitlines()[-1]


def _write_config(directory: Path, config: dict) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "keras.json"
    path.write_text(json.dumps(config))
    return path


def test_keras_json_backend_is_respected(tmp_path):
    # A user who chose torch in keras.json gets torch, not liquidtime's JAX default.
    _write_config(tmp_path / "kh", {"backend": "torch"})
    assert _backend_of({"KERAS_HOME": str(tmp_path / "kh")}, tmp_path) == "torch"


def test_home_keras_json_is_read_without_keras_home(tmp_path):
    _write_config(tmp_path / ".keras", {"backend": "numpy"})
    assert _backend_of({}, tmp_path) == "numpy"


def test_environment_variable_wins_over_keras_json(tmp_path):
    _write_config(tmp_path / "kh", {"backend": "torch"})
    env = {"KERAS_HOME": str(tmp_path / "kh"), "KERAS_BACKEND": "numpy"}
    assert _backend_of(env, tmp_path) == "numpy"


def test_jax_when_nothing_is_chosen_and_the_choice_is_recorded(tmp_path):
    keras_home = tmp_path / "kh"
    assert _backend_of({"KERAS_HOME": str(keras_home)}, tmp_path) == "jax"
    # Keras would have written "tensorflow" here; the next session must stay on JAX.
    assert json.loads((keras_home / "keras.json").read_text())["backend"] == "jax"
    assert _backend_of({"KERAS_HOME": str(keras_home)}, tmp_path) == "jax"


def test_keras_json_without_backend_entry_falls_back_to_jax_and_is_not_modified(tmp_path):
    path = _write_config(tmp_path / "kh", {"floatx": "float32"})
    before = path.read_text()
    assert _backend_of({"KERAS_HOME": str(tmp_path / "kh")}, tmp_path) == "jax"
    assert path.read_text() == before


@pytest.mark.parametrize("source", ["env", "keras.json"])
def test_chosen_backend_that_is_not_installed_gets_a_clear_error(tmp_path, source):
    if importlib.util.find_spec("openvino") is not None:
        pytest.skip("openvino is installed")
    if source == "env":
        env = {"KERAS_HOME": str(tmp_path / "kh"), "KERAS_BACKEND": "openvino"}
    else:
        _write_config(tmp_path / "kh", {"backend": "openvino"})
        env = {"KERAS_HOME": str(tmp_path / "kh")}
    result = _run("import liquidtime", env, tmp_path)
    assert result.returncode != 0
    assert "The Keras backend `openvino` is selected by" in result.stderr
    assert "`openvino` package is not installed" in result.stderr

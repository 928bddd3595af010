"""Choose the Keras backend before Keras is imported.

The backend follows Keras's own precedence:

1. the ``KERAS_BACKEND`` environment variable, when set and not empty;
2. the ``"backend"`` entry of ``keras.json`` in the Keras home directory
   (``$KERAS_HOME``, else ``~/.keras``, else ``/tmp/.keras`` when the home directory is
   not writable, exactly as Keras resolves it);
3. otherwise liquidtime's default, JAX, when JAX is installed. Keras's own default,
   TensorFlow, is not installed by ``pip install liquidtime[jax]``.

In case 3 liquidtime writes the choice where Keras keeps it: a ``keras.json`` that does
not exist yet is created with ``"backend": "jax"`` (Keras would otherwise create it
with ``"tensorflow"`` on its first import, and the next session would silently change
backend). An existing ``keras.json`` is never modified. Nothing changes when Keras was
imported before liquidtime: its backend is fixed by then.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys

DEFAULT_BACKEND = "jax"

# The package each Keras backend imports; a chosen backend whose package is missing
# gets a clear error here instead of a bare ModuleNotFoundError deep inside Keras.
_BACKEND_PACKAGES = {
    "jax": "jax",
    "tensorflow": "tensorflow",
    "torch": "torch",
    "numpy": "numpy",
    "openvino": "openvino",
}


def keras_home() -> str:
    """Returns the directory where Keras keeps ``keras.json``, resolved as Keras does.

    Returns:
        ``$KERAS_HOME`` when set, else ``~/.keras``, else ``/tmp/.keras`` when the
        user's home directory is not writable.
    """
    if "KERAS_HOME" in os.environ:
        return os.environ["KERAS_HOME"]
    base = os.path.expanduser("~")
    if not os.access(base, os.W_OK):
        base = "/tmp"
    return os.path.join(base, ".keras")


def _configured_backend(config_path: str) -> str | None:
    """Returns the ``"backend"`` entry of ``keras.json``, or None when it names none.

    A missing or unreadable file, or one that is not a JSON object, names no backend:
    Keras treats an unparsable file as empty too.
    """
    try:
        with open(config_path) as f:
            config = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(config, dict):
        return None
    backend = config.get("backend")
    return backend if isinstance(backend, str) and backend else None


def _write_default_config(keras_dir: str, config_path: str, backend: str) -> None:
    """Creates ``keras.json`` with Keras's default settings and ``backend``; best effort.

    Like Keras, a directory or file that cannot be written is left alone.
    """
    config = {
        "floatx": "float32",
        "epsilon": 1e-07,
        "backend": backend,
        "image_data_format": "channels_last",
    }
    try:
        os.makedirs(keras_dir, exist_ok=True)
        # "x": never overwrite a file another process created in the meantime.
        with open(config_path, "x") as f:
            f.write(json.dumps(config, indent=4))
    except OSError:
        pass


def _check_installed(backend: str, source: str) -> None:
    """Raises a clear ImportError when the chosen backend's package is not installed."""
    package = _BACKEND_PACKAGES.get(backend)
    if package is None or importlib.util.find_spec(package) is not None:
        return  # Unknown names are left to Keras, which lists the valid ones.
    extra = {"jax": "jax", "tensorflow": "tensorflow", "torch": "torch"}.get(backend)
    install = f'`pip install "liquidtime[{extra}]"`' if extra else f"`pip install {package}`"
    alternatives = [b for b in ("jax", "tensorflow", "torch") if importlib.util.find_spec(b)]
    raise ImportError(
        f"The Keras backend `{backend}` is selected by {source}, but the `{package}` "
        f"package is not installed. Install it with {install}, or choose an installed "
        f"backend ({', '.join(alternatives) or 'none found'}) with the KERAS_BACKEND "
        f"environment variable or the `backend` entry of that keras.json."
    )


def select_default_backend() -> str | None:
    """Selects the Keras backend by Keras's precedence, falling back to JAX.

    Returns:
        The backend that Keras will load, or None when Keras was already imported
        (its backend is fixed then) or when nothing was chosen and JAX is not
        installed (Keras's own default applies).

    Raises:
        ImportError: when ``KERAS_BACKEND`` or ``keras.json`` chooses a backend whose
            package is not installed.
    """
    if "keras" in sys.modules:
        return None
    if os.environ.get("KERAS_BACKEND"):
        backend = os.environ["KERAS_BACKEND"]
        _check_installed(backend, "the KERAS_BACKEND environment variable")
        return backend
    keras_dir = keras_home()
    config_path = os.path.expanduser(os.path.join(keras_dir, "keras.json"))
    configured = _configured_backend(config_path)
    if configured is not None:
        _check_installed(configured, f"the `backend` entry of {config_path}")
        return configured
    if importlib.util.find_spec(DEFAULT_BACKEND) is None:
        return None
    if not os.path.exists(config_path):
        _write_default_config(os.path.expanduser(keras_dir), config_path, DEFAULT_BACKEND)
    os.environ["KERAS_BACKEND"] = DEFAULT_BACKEND
    return DEFAULT_BACKEND

"""Choose the Keras backend before Keras is imported.

liquidtime's default backend is JAX. Keras itself defaults to TensorFlow, which a
`pip install liquidtime[jax]` does not install; so when the user has not set
``KERAS_BACKEND`` and JAX is importable, we select JAX. An explicit
``KERAS_BACKEND`` is always respected, and nothing changes if Keras was imported
before liquidtime (its backend is fixed by then).
"""

from __future__ import annotations

import importlib.util
import os
import sys


def select_default_backend() -> None:
    """Sets ``KERAS_BACKEND=jax`` when the user chose no backend and JAX is installed."""
    if "KERAS_BACKEND" in os.environ or "keras" in sys.modules:
        return
    if importlib.util.find_spec("jax") is not None:
        os.environ["KERAS_BACKEND"] = "jax"

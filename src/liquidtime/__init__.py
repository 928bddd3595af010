"""liquidtime: Liquid Time-Constant networks and their relatives as Keras 3 layers.

Importing liquidtime chooses the Keras backend as Keras does (the ``KERAS_BACKEND``
environment variable, then the ``backend`` entry of ``keras.json`` in ``$KERAS_HOME`` or
``~/.keras``) and falls back to JAX when neither names one and JAX is installed (see
:mod:`liquidtime._backend`). Import liquidtime before Keras for the fallback to apply.

``import liquidtime`` then loads Keras and every layer, cell and wiring, which
registers them with Keras's serialization: ``keras.saving.load_model`` reads
``.keras`` files of liquidtime models after it. Only the ``liquidtime`` command
defers this to the first use of a public name (``liquidtime.LTC``,
``liquidtime.layers``, ...; see :func:`import_all`), so that its ``--help`` starts
no backend.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from liquidtime._backend import select_default_backend

select_default_backend()

if TYPE_CHECKING:  # what the names below resolve to, for type checkers and IDEs
    from liquidtime import (
        activations,
        bounds,
        cells,
        compat,
        layers,
        models,
        solvers,
        training,
        wirings,
    )
    from liquidtime.activations import lecun_tanh
    from liquidtime.bounds import BoundsMonitor
    from liquidtime.cells import (
        BaseCell,
        CfCCell,
        ContinuousTimeCell,
        CTGRUCell,
        CTRNNCell,
        LTCCell,
        MixedMemoryCell,
        NeuralODECell,
        SynapticLTCCell,
        WiredCfCCell,
    )
    from liquidtime.layers import CTGRU, CTRNN, LTC, CfC, ContinuousTimeRNN, NeuralODE
    from liquidtime.models import build_model, make_rnn_layer
    from liquidtime.training import ChunkedTrainer, data_parallel, train_chunked

# Sub-packages in import order, then where each public name is defined.
_SUBPACKAGES = (
    "activations", "bounds", "cells", "compat", "layers", "models", "solvers", "training",
    "wirings",
)
_HOMES = {
    "lecun_tanh": "activations",
    "BoundsMonitor": "bounds",
    **dict.fromkeys(
        [
            "BaseCell", "CfCCell", "ContinuousTimeCell", "CTGRUCell", "CTRNNCell", "LTCCell",
            "MixedMemoryCell", "NeuralODECell", "SynapticLTCCell", "WiredCfCCell",
        ],
        "cells",
    ),
    **dict.fromkeys(["CTGRU", "CTRNN", "LTC", "CfC", "ContinuousTimeRNN", "NeuralODE"], "layers"),
    "build_model": "models",
    "make_rnn_layer": "models",
    **dict.fromkeys(["ChunkedTrainer", "data_parallel", "train_chunked"], "training"),
}


def import_all() -> None:
    """Imports every sub-package, registering all of liquidtime's classes with Keras.

    ``import liquidtime`` does it, except in the ``liquidtime`` command, where the
    first use of a public name does.
    """
    for subpackage in _SUBPACKAGES:
        importlib.import_module(f"liquidtime.{subpackage}")  # also binds it in globals()


def _run_by_the_command() -> bool:
    """Whether this process is the ``liquidtime`` console script (pip's launcher)."""
    return bool(sys.argv) and Path(sys.argv[0]).stem in ("liquidtime", "liquidtime-script")


def __getattr__(name: str) -> Any:
    """Loads liquidtime's layers (and Keras) on first use of a public name (PEP 562).

    Every sub-package is imported then, so every layer, cell and wiring is registered
    with Keras's serialization from that point on, as an eager import would.
    """
    if name not in _HOMES and name not in _SUBPACKAGES:
        raise AttributeError(f"module 'liquidtime' has no attribute {name!r}")
    import_all()
    if name in _SUBPACKAGES:
        return globals()[name]
    value = getattr(globals()[_HOMES[name]], name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__version__ = "0.1.0"

__all__ = [
    "BaseCell",
    "BoundsMonitor",
    "CTGRU",
    "CTGRUCell",
    "CTRNN",
    "CTRNNCell",
    "CfC",
    "CfCCell",
    "ChunkedTrainer",
    "ContinuousTimeCell",
    "ContinuousTimeRNN",
    "LTC",
    "LTCCell",
    "MixedMemoryCell",
    "NeuralODE",
    "NeuralODECell",
    "SynapticLTCCell",
    "WiredCfCCell",
    "activations",
    "bounds",
    "build_model",
    "cells",
    "compat",
    "data_parallel",
    "import_all",
    "layers",
    "lecun_tanh",
    "make_rnn_layer",
    "models",
    "solvers",
    "train_chunked",
    "training",
    "wirings",
]

if not _run_by_the_command():
    import_all()

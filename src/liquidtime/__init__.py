"""liquidtime: Liquid Time-Constant networks and their relatives as Keras 3 layers.

Importing liquidtime chooses the Keras backend as Keras does (the ``KERAS_BACKEND``
environment variable, then the ``backend`` entry of ``keras.json`` in ``$KERAS_HOME`` or
``~/.keras``) and falls back to JAX when neither names one and JAX is installed (see
:mod:`liquidtime._backend`). Import liquidtime before Keras for the fallback to apply.
"""

from liquidtime._backend import select_default_backend

select_default_backend()

# Sub-packages first, then the public names they define.
from liquidtime import (  # noqa: E402
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
from liquidtime.activations import lecun_tanh  # noqa: E402
from liquidtime.bounds import BoundsMonitor  # noqa: E402
from liquidtime.cells import (  # noqa: E402
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
from liquidtime.layers import CTGRU, CTRNN, LTC, CfC, ContinuousTimeRNN, NeuralODE  # noqa: E402
from liquidtime.models import build_model, make_rnn_layer  # noqa: E402
from liquidtime.training import ChunkedTrainer, data_parallel, train_chunked  # noqa: E402

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
    "layers",
    "lecun_tanh",
    "make_rnn_layer",
    "models",
    "solvers",
    "train_chunked",
    "training",
    "wirings",
]

"""ncps's Keras and PyTorch APIs on liquidtime: change ``ncps`` to ``liquidtime.compat.ncps``
in the imports.

``from liquidtime.compat.ncps import wirings`` and
``from liquidtime.compat.ncps.keras import LTC, LTCCell, CfC, CfCCell, WiredCfCCell,
MixedMemoryRNN`` mirror ``from ncps import wirings`` and ``from ncps.keras import ...``:
the same names, constructor signatures and defaults, built on liquidtime's layers, so
they run on JAX, TensorFlow and PyTorch and save to ``.keras`` files. The differences
from ncps 1.0.1, all on purpose, are listed in :mod:`liquidtime.compat.ncps.keras`
and :mod:`liquidtime.compat.ncps.wirings`.

``from liquidtime.compat.ncps.torch import LTC, CfC, LTCCell, CfCCell, WiredCfCCell``
mirrors ``ncps.torch`` (``torch.nn.Module``s, ``forward(input, hx, timespans)``) on
Keras's PyTorch backend; it is not imported here, as it needs ``KERAS_BACKEND=torch``
(see :mod:`liquidtime.compat.ncps.torch`).
"""

from liquidtime.compat.ncps import keras, wirings

__all__ = ["keras", "wirings"]

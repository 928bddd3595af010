"""Compatibility with other LTC libraries.

* :mod:`liquidtime.compat.ncps`: ncps's Keras names and constructor signatures
  (``from liquidtime.compat.ncps import wirings`` and
  ``from liquidtime.compat.ncps.keras import LTC, CfC, ...``), running on every backend,
  and ncps's PyTorch modules (``from liquidtime.compat.ncps.torch import LTC, CfC, ...``)
  on Keras's PyTorch backend.
* :func:`load_ncps_weights`: loads the weights of a trained ncps LTC or CfC (Keras
  weights or a PyTorch state_dict) into the equivalent liquidtime layer;
  :func:`wiring_from_ncps` gives the liquidtime wiring with an ncps wiring's synapses.
"""

from liquidtime.compat.convert import ConvertedWiring, load_ncps_weights, wiring_from_ncps

__all__ = ["ConvertedWiring", "load_ncps_weights", "wiring_from_ncps"]

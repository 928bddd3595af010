"""Taking a trained model out: streaming one step at a time, and export.

- :class:`Stepper`: a model advanced one time step per call, its states carried
  (control loops), compiled once on every backend.
- :func:`export`: ONNX, TensorFlow SavedModel, LiteRT (TFLite) and JAX StableHLO
  artefacts of a model's step function (states in, states out) or, where the format
  can hold a loop of any length, of the whole sequence. See ``docs/deployment.md``.
"""

from liquidtime.deploy._export import FORMATS, FUNCTIONS, export, missing_packages
from liquidtime.deploy._stepper import Stepper

__all__ = ["FORMATS", "FUNCTIONS", "Stepper", "export", "missing_packages"]

"""liquidtime: Liquid Time-Constant networks and their relatives as Keras 3 layers."""

from liquidtime._backend import select_default_backend

select_default_backend()

__version__ = "0.1.0"

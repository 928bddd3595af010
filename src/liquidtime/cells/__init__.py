"""Recurrent cells: one step of each model, usable inside ``keras.layers.RNN``."""

from liquidtime.cells.base import BaseCell, ContinuousTimeCell
from liquidtime.cells.cfc import CFC_MODES, CfCCell
from liquidtime.cells.ltc import LTCCell
from liquidtime.cells.network import InputStateNetwork

__all__ = [
    "BaseCell",
    "CFC_MODES",
    "CfCCell",
    "ContinuousTimeCell",
    "InputStateNetwork",
    "LTCCell",
]

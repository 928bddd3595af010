"""Recurrent cells: one step of each model, usable inside ``keras.layers.RNN``."""

from liquidtime.cells.base import BaseCell, ContinuousTimeCell
from liquidtime.cells.cfc import CFC_MODES, CfCCell
from liquidtime.cells.ctgru import CTGRUCell
from liquidtime.cells.ctrnn import CTRNNCell, NetworkODECell
from liquidtime.cells.ltc import LTCCell
from liquidtime.cells.mixed_memory import MixedMemoryCell
from liquidtime.cells.network import InputStateNetwork
from liquidtime.cells.node import NeuralODECell
from liquidtime.cells.synaptic_ltc import SynapticLTCCell
from liquidtime.cells.wired_cfc import WiredCfCCell

__all__ = [
    "BaseCell",
    "CFC_MODES",
    "CTGRUCell",
    "CTRNNCell",
    "CfCCell",
    "ContinuousTimeCell",
    "InputStateNetwork",
    "LTCCell",
    "MixedMemoryCell",
    "NetworkODECell",
    "NeuralODECell",
    "SynapticLTCCell",
    "WiredCfCCell",
]

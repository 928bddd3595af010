"""Sequence layers: whole-sequence computation with per-step elapsed times."""

from liquidtime.layers.base import CellSequenceLayer, ContinuousTimeRNN
from liquidtime.layers.cfc import CfC
from liquidtime.layers.ctgru import CTGRU
from liquidtime.layers.ctrnn import CTRNN
from liquidtime.layers.ltc import LTC
from liquidtime.layers.node import NeuralODE

__all__ = ["CTGRU", "CTRNN", "CellSequenceLayer", "CfC", "ContinuousTimeRNN", "LTC", "NeuralODE"]

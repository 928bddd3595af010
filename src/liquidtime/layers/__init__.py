"""Sequence layers: whole-sequence computation with per-step elapsed times."""

from liquidtime.layers.base import CellSequenceLayer, ContinuousTimeRNN
from liquidtime.layers.cfc import CfC
from liquidtime.layers.ltc import LTC

__all__ = ["CellSequenceLayer", "CfC", "ContinuousTimeRNN", "LTC"]

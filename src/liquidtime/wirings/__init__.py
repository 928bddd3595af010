"""Neural circuit wirings: sparse, signed connectivity for wired cells.

A wiring says which neuron has a synapse onto which (and from which input
feature), and whether each synapse is excitatory (+1) or inhibitory (-1). Wirings
are immutable values generated deterministically from their config;
``wiring.build(input_dim)`` returns a copy with the input size fixed.
"""

from liquidtime.wirings.base import NEURON_KINDS, Wiring
from liquidtime.wirings.drawing import draw_wiring
from liquidtime.wirings.fully_connected import FullyConnected
from liquidtime.wirings.matrix import MatrixWiring
from liquidtime.wirings.ncp import NCP, AutoNCP, auto_ncp_sizes
from liquidtime.wirings.random_wiring import Random

__all__ = [
    "AutoNCP",
    "FullyConnected",
    "MatrixWiring",
    "NCP",
    "NEURON_KINDS",
    "Random",
    "Wiring",
    "auto_ncp_sizes",
    "draw_wiring",
]

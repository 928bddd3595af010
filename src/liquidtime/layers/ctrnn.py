"""The ``CTRNN`` sequence layer."""

from __future__ import annotations

from typing import Any

import keras

from liquidtime.cells.ctrnn import LIQUID_NEURON_CONFIG, CTRNNCell
from liquidtime.layers.base import CellSequenceLayer


@keras.saving.register_keras_serializable(package="liquidtime")
class CTRNN(CellSequenceLayer):
    """Continuous-time RNN over whole sequences (the LTC paper's CT-RNN baseline).

    ``CTRNN(units, ...)`` runs :class:`~liquidtime.cells.CTRNNCell`
    (``dx/dt = -x / tau + f(W [I; x] + b)``) through
    :class:`~liquidtime.layers.ContinuousTimeRNN`. Every ``CTRNNCell`` argument
    (``learn_tau``, ``solver``, ``ode_unfolds``, ``time_scale``, ...) and every
    sequence-layer argument (``return_sequences``, ``return_state``, ...) is accepted.

    The defaults integrate the elapsed time of each step with 6 Euler sub-steps
    and a learnable tau. The paper's original code: ``CTRNN(units, learn_tau=False,
    time_scale=0.6)`` (6 Euler steps of 0.1 per input step, tau = 1).

    Call arguments:
        sequences: ``(batch, time, features)``.
        elapsed_time: Optional elapsed time per step, ``(batch, time)``,
            ``(batch, time, 1)`` or a scalar (default 1.0).
        initial_state, mask, training: As for ``keras.layers.RNN``.

    Example:
    >>> y = CTRNN(32, return_sequences=True)(x, elapsed_time=dt)   # (batch, time, 32)
    """

    cell_class = CTRNNCell

    @classmethod
    def liquid_neuron(cls, units: int, **kwargs: Any) -> CTRNN:
        """The seed's "liquid neuron" over sequences; see :meth:`CTRNNCell.liquid_neuron`.

        Its tau is a learnable constant per neuron, independent of the input: a
        CT-RNN with a learnable time constant, not a liquid time-constant network.
        """
        return cls(units, **{**LIQUID_NEURON_CONFIG, **kwargs})

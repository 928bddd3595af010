"""The ``CfC`` sequence layer."""

from __future__ import annotations

import keras

from liquidtime.cells.cfc import CfCCell
from liquidtime.layers.base import CellSequenceLayer


@keras.saving.register_keras_serializable(package="liquidtime")
class CfC(CellSequenceLayer):
    """Closed-form continuous-time network over whole sequences.

    ``CfC(units, mode="default", ...)`` runs :class:`~liquidtime.cells.CfCCell`
    through :class:`~liquidtime.layers.ContinuousTimeRNN`; every ``CfCCell``
    argument and every sequence-layer argument is accepted.

    Example:
    >>> y = CfC(32, mode="pure", return_sequences=True)(x, elapsed_time=dt)
    """

    cell_class = CfCCell

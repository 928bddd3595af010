"""Keras regularizers that keep the LTC theorems' ranges inside user-given intervals.

Theorem 1's range of ``tau_sys`` and Theorem 2's state envelope are functions of
a few parameters (:mod:`liquidtime.bounds.theorems`), so keeping those parameters
in a box keeps the ranges in a box:

* dense cell, envelope ``[min(0, A_i), max(0, A_i)]``: :class:`RangeRegularizer`
  on ``A`` (``reversal_regularizer=``) with ``low <= 0 <= high`` keeps every
  envelope inside ``[low, high]``.
* dense cell, ``tau_sys`` range ``[tau_i / (1 + tau_i W), tau_i]``:
  :class:`TimeConstantRangeRegularizer` on ``tau`` (``tau_regularizer=``; the cell
  hands it the positive value of tau) keeps the whole interval inside ``[low, high]``.
* synaptic cell, envelope = hull of ``vleak``, the connected ``erev`` /
  ``sensory_erev`` (and 0 when ``epsilon > 0``): :class:`RangeRegularizer` on
  each of them, through ``SynapticLTCCell(regularizers={"vleak": r, "erev": r,
  "sensory_erev": r})``. Its Theorem-1 range ``[cm / (gleak + eps + sum w),
  cm / (gleak + eps)]`` spans several weights, which no weight regularizer sees
  together: bound it with :class:`RangeRegularizer` boxes on ``cm``, ``gleak``,
  ``w`` and ``sensory_w`` (``docs/stability.md``).

Both are soft: a squared hinge outside the interval, zero inside, so they act
only on parameters that leave it; ``strength`` trades them against the task loss.
"""

from __future__ import annotations

import math
from typing import Any

import keras
from keras import ops

from liquidtime._validation import non_negative_float


def _check_interval(low: float | None, high: float | None, strength: float) -> tuple:
    for name, value in (("low", low), ("high", high)):
        if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value)):
            raise ValueError(
                f"Received an invalid value for argument `{name}`, expected a finite number "
                f"or None, got {value!r}."
            )
    if low is None and high is None:
        raise ValueError("Received `low=None` and `high=None`; give at least one bound.")
    if low is not None and high is not None and not low <= high:
        raise ValueError(
            f"Received an invalid interval: expected `low <= high`, got low={low!r}, "
            f"high={high!r}."
        )
    return (
        None if low is None else float(low),
        None if high is None else float(high),
        non_negative_float("strength", strength),
    )


def _interval_penalty(lower_value: Any, upper_value: Any, low: Any, high: Any) -> Any:
    """``sum(relu(low - lower_value)^2) + sum(relu(upper_value - high)^2)``."""
    penalty = 0.0
    if low is not None:
        penalty = penalty + ops.sum(ops.square(ops.relu(low - lower_value)))
    if high is not None:
        penalty = penalty + ops.sum(ops.square(ops.relu(upper_value - high)))
    return penalty


@keras.saving.register_keras_serializable(package="liquidtime")
class RangeRegularizer(keras.regularizers.Regularizer):
    """Penalises the entries of a weight that leave ``[low, high]``.

        penalty(v) = strength * sum(relu(low - v)^2 + relu(v - high)^2)

    On the dense LTC's ``A`` (``LTCCell(reversal_regularizer=...)``) with
    ``low <= 0 <= high`` it keeps Theorem 2's envelope ``[min(0, A), max(0, A)]``
    inside ``[low, high]``; on the synaptic LTC's ``erev``, ``sensory_erev`` and
    ``vleak`` it does the same for the synaptic envelope.

    Args:
        low: Lower end, or None for none.
        high: Upper end, or None for none.
        strength: Multiplier of the penalty, >= 0.
    """

    def __init__(self, low: float | None = None, high: float | None = None, strength: float = 1.0):
        self.low, self.high, self.strength = _check_interval(low, high, strength)

    def __call__(self, x: Any) -> Any:
        return self.strength * _interval_penalty(x, x, self.low, self.high)

    def get_config(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high, "strength": self.strength}


@keras.saving.register_keras_serializable(package="liquidtime")
class TimeConstantRangeRegularizer(keras.regularizers.Regularizer):
    """Keeps the dense LTC's whole Theorem-1 range of ``tau_sys`` inside ``[low, high]``.

    For a neuron with resting time constant ``tau`` and ``f <= W``, Theorem 1 gives
    ``tau / (1 + tau W) <= tau_sys <= tau``. Given to ``LTCCell(tau_regularizer=...)``
    (which receives the positive value of tau), the penalty is

        strength * sum(relu(low - tau / (1 + tau W))^2 + relu(tau - high)^2),

    zero exactly when ``[tau / (1 + tau W), tau]`` lies in ``[low, high]``. Since
    ``tau / (1 + tau W) < 1 / W`` for every tau, ``low`` must be below ``1 / W``, and
    the interval is feasible only if ``low <= high / (1 + high W)``.

    Args:
        low: Smallest allowed ``tau_sys``, or None.
        high: Largest allowed ``tau_sys`` (equivalently, largest tau), or None.
        max_activation: ``W``, the supremum of the cell's activation (1 for sigmoid).
        strength: Multiplier of the penalty, >= 0.
    """

    def __init__(
        self,
        low: float | None = None,
        high: float | None = None,
        max_activation: float = 1.0,
        strength: float = 1.0,
    ):
        self.low, self.high, self.strength = _check_interval(low, high, strength)
        self.max_activation = non_negative_float("max_activation", max_activation)
        if self.low is not None and self.low > 0 and self.max_activation > 0:
            largest_low = (
                1.0 / self.max_activation
                if self.high is None
                else self.high / (1.0 + self.high * self.max_activation)
            )
            if self.low > largest_low:
                raise ValueError(
                    f"Received an infeasible range: with max_activation={self.max_activation}"
                    f" and high={self.high}, tau / (1 + tau W) is at most {largest_low:g}, "
                    f"below low={self.low}. Lower `low` or raise `high`."
                )

    def __call__(self, tau: Any) -> Any:
        fastest = tau / (1.0 + tau * self.max_activation)
        return self.strength * _interval_penalty(fastest, tau, self.low, self.high)

    def get_config(self) -> dict[str, Any]:
        return {
            "low": self.low,
            "high": self.high,
            "max_activation": self.max_activation,
            "strength": self.strength,
        }

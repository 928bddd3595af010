"""Lower bounds on the trajectory length from Theorems 4 and 5 of the LTC paper.

The paper states the bounds as ``E[l(z^(d)(t))] >= O(...)``; these functions return the
expression inside ``O(...)`` with constant 1. The theorems assume hard-tanh activations,
a 2-D input whose progressive points have a component perpendicular to ``I(t)``, and (per
the original code's note) networks without recurrent synapses; with other settings the
values are what the formulas give, not proven bounds.

Common notation: ``k`` width, ``d`` layer (depth), ``L`` the computational depth (solver
steps per input sample) and ``l(I)`` the arc length of the input (6.2821 for the sampled
circle). All arguments broadcast. Large exponents ``d L`` overflow to ``inf`` and
underflow to 0 without warnings.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def _base(sigma_w: ArrayLike, sigma_b: ArrayLike, width: ArrayLike) -> np.ndarray:
    """``sqrt(k) / sqrt(sigma_w^2 + sigma_b^2 + k sqrt(sigma_w^2 + sigma_b^2))``."""
    spread = np.square(sigma_w) + np.square(sigma_b)
    return np.sqrt(width) / np.sqrt(spread + np.asarray(width) * np.sqrt(spread))


def _power(base: np.ndarray, exponent: ArrayLike) -> np.ndarray:
    """``base ** exponent`` for ``base >= 0``, silently overflowing to ``inf``."""
    with np.errstate(over="ignore", under="ignore", divide="ignore"):
        return np.power(base, exponent)


def neural_ode_lower_bound(
    sigma_w: ArrayLike,
    sigma_b: ArrayLike,
    width: ArrayLike,
    depth: ArrayLike,
    steps_per_sample: ArrayLike,
    input_length: ArrayLike,
) -> np.ndarray:
    """Theorem 4, Eq. 7: the Neural ODE's trajectory-length lower bound.

    ``E[l(z^(d))] >= O( sigma_w sqrt(k) / sqrt(sigma_w^2 + sigma_b^2 + k sqrt(sigma_w^2
    + sigma_b^2)) )^(d L) l(I)``.

    Args:
        sigma_w: Weight spread.
        sigma_b: Bias spread.
        width: Width ``k``.
        depth: Layer index ``d``.
        steps_per_sample: Computational depth ``L``.
        input_length: ``l(I)``.

    Returns:
        The bound.
    """
    base = np.asarray(sigma_w, dtype=float) * _base(sigma_w, sigma_b, width)
    return _power(base, np.multiply(depth, steps_per_sample)) * input_length


def ctrnn_lower_bound(
    sigma_w: ArrayLike,
    sigma_b: ArrayLike,
    width: ArrayLike,
    depth: ArrayLike,
    steps_per_sample: ArrayLike,
    input_length: ArrayLike,
) -> np.ndarray:
    """Theorem 4, Eq. 8: the CT-RNN's trajectory-length lower bound.

    ``E[l(z^(d))] >= O( (sigma_w - sigma_b) sqrt(k) / sqrt(sigma_w^2 + sigma_b^2
    + k sqrt(sigma_w^2 + sigma_b^2)) )^(d L) l(I)``.

    For ``sigma_w <= sigma_b`` the base is not positive and a real power of it is
    undefined; the function then returns 0, the trivial lower bound of a length.

    Args:
        sigma_w: Weight spread.
        sigma_b: Bias spread.
        width: Width ``k``.
        depth: Layer index ``d``.
        steps_per_sample: Computational depth ``L``.
        input_length: ``l(I)``.

    Returns:
        The bound.
    """
    difference = np.subtract(sigma_w, sigma_b, dtype=float)
    base = np.maximum(difference, 0.0) * _base(sigma_w, sigma_b, width)
    return _power(base, np.multiply(depth, steps_per_sample)) * input_length


def ltc_lower_bound(
    sigma_w: ArrayLike,
    sigma_b: ArrayLike,
    width: ArrayLike,
    depth: ArrayLike,
    steps_per_sample: ArrayLike,
    input_length: ArrayLike,
    latent_norm: ArrayLike,
    sample_interval: ArrayLike,
) -> np.ndarray:
    """Theorem 5, Eq. 9: the LTC's trajectory-length lower bound.

    ``E[l(z^(d))] >= O( ( sigma_w sqrt(k) / sqrt(sigma_w^2 + sigma_b^2 + k sqrt(sigma_w^2
    + sigma_b^2)) )^(d L) (sigma_w + ||z^(d)|| / min(delta t, L)) ) l(I)``.

    The paper does not define the norm ``||z^(d)||`` of the latent trajectory or
    ``delta t`` further; the sweeps pass ``max_t ||z^(d)(t)||_2`` (the radius of the
    latent curve) and the spacing of the input samples.

    Args:
        sigma_w: Weight spread.
        sigma_b: Bias spread.
        width: Width ``k``.
        depth: Layer index ``d``.
        steps_per_sample: Computational depth ``L``.
        input_length: ``l(I)``.
        latent_norm: ``||z^(d)||``.
        sample_interval: ``delta t``.

    Returns:
        The bound.
    """
    growth = neural_ode_lower_bound(sigma_w, sigma_b, width, depth, steps_per_sample, 1.0)
    offset = np.add(sigma_w, np.divide(latent_norm, np.minimum(sample_interval, steps_per_sample)))
    with np.errstate(invalid="ignore", over="ignore"):
        return growth * offset * input_length

"""Trajectory geometry: the circular input, PCA projection and arc length.

These functions are model-agnostic: :func:`latent_trajectory` measures any hidden-state
trajectory, e.g. one recorded from a trained model, the way the LTC paper does
(Hasani et al., AAAI 2021, Section "Measuring expressivity by trajectory length",
after Raghu et al., ICML 2017).
"""

from __future__ import annotations

import bisect
import dataclasses

import numpy as np

from liquidtime._validation import int_at_least, positive_float


@dataclasses.dataclass(frozen=True)
class PiecewiseLinearInput:
    """A sampled input signal, linearly interpolated between its samples.

    ``I(t) = (1 - w) v_i + w v_{i+1}`` with ``t_i <= t <= t_{i+1}`` and
    ``w = (t - t_i) / (t_{i+1} - t_i)``; constant beyond the first and last sample.

    Attributes:
        times: Increasing sample times, shape ``(samples,)``.
        values: Samples, shape ``(samples, channels)``.
    """

    times: np.ndarray
    values: np.ndarray
    # Derived in __post_init__: the solvers call the input once per vector-field evaluation.
    _knots: list[float] = dataclasses.field(init=False, repr=False, compare=False)
    _slopes: np.ndarray = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        times = np.asarray(self.times, dtype=float)
        values = np.asarray(self.values, dtype=float)
        if times.ndim != 1 or times.size < 2 or np.any(np.diff(times) <= 0):
            raise ValueError(
                "Received an invalid value for argument `times`, expected a strictly "
                f"increasing 1-D array of at least 2 times, got shape {times.shape}."
            )
        if values.ndim != 2 or values.shape[0] != times.size:
            raise ValueError(
                "Received an invalid value for argument `values`, expected shape "
                f"({times.size}, channels), got {values.shape}."
            )
        object.__setattr__(self, "times", times)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "_knots", times.tolist())
        object.__setattr__(self, "_slopes", np.diff(values, axis=0) / np.diff(times)[:, None])

    @property
    def channels(self) -> int:
        """Number of input channels."""
        return self.values.shape[1]

    @property
    def sample_interval(self) -> float:
        """Mean spacing of the samples, the paper's input ``delta t``."""
        return float((self.times[-1] - self.times[0]) / (self.times.size - 1))

    def __call__(self, t: float) -> np.ndarray:
        """Returns ``I(t)``, shape ``(channels,)``."""
        knots = self._knots
        t = min(max(float(t), knots[0]), knots[-1])
        i = min(bisect.bisect_right(knots, t), len(knots) - 1) - 1
        return self.values[i] + (t - knots[i]) * self._slopes[i]


def circle_input(samples: int = 100, period: float = 2 * np.pi) -> PiecewiseLinearInput:
    """The paper's circular input ``I(t) = [sin t, cos t]`` on ``[0, period]``.

    Args:
        samples: Number of samples, equally spaced on ``[0, period]`` including both
            ends (the original MATLAB code uses ``linspace(0, 2*pi, 100)``).
        period: End of the time interval.

    Returns:
        The linearly interpolated input. Its arc length ``l(I)`` is that of the sampled
        polygon, ``2 (samples - 1) sin(period / (2 (samples - 1)))``: 6.2821 for the
        defaults, the constant used by the original code.
    """
    int_at_least("samples", samples, 2)
    period = positive_float("period", period)
    times = np.linspace(0.0, period, samples)
    return PiecewiseLinearInput(times, np.stack([np.sin(times), np.cos(times)], axis=-1))


def arc_length(curve: np.ndarray) -> np.ndarray:
    """Arc length of sampled curves: the sum of the lengths of their chords.

    ``l = sum_i ||c_{i+1} - c_i||_2`` (the "linear" method of the MATLAB ``arclength.m``
    used by the original study), a discretisation of ``integral ||dc/dt|| dt``.

    Args:
        curve: Points along the curve(s), shape ``(..., points, dims)``.

    Returns:
        The lengths, shape ``(...)``.
    """
    curve = np.asarray(curve, dtype=float)
    if curve.ndim < 2 or curve.shape[-2] < 2:
        raise ValueError(
            "Received an invalid value for argument `curve`, expected shape "
            f"(..., points >= 2, dims), got {curve.shape}."
        )
    return np.linalg.norm(np.diff(curve, axis=-2), axis=-1).sum(axis=-1)


def principal_components(
    trajectory: np.ndarray, num_components: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """Projects trajectories on their leading principal components.

    With the centred trajectory ``X_c = X - mean_t X``, the principal axes are the
    leading eigenvectors ``V`` of ``X_c^T X_c`` (the right singular vectors of ``X_c``)
    and the scores are ``X_c V``. The eigendecomposition of the ``features x features``
    matrix gives the same subspace as an SVD of ``X_c`` and is about 50 times faster for
    long trajectories. Each component's sign is fixed so that its largest-magnitude
    loading is positive, which makes plots reproducible; lengths do not depend on it.

    Args:
        trajectory: States over time, shape ``(..., time, features)``.
        num_components: Number of components ``c`` to keep.

    Returns:
        ``(scores, explained)``: scores of shape ``(..., time, c)`` (zero columns beyond
        the number of features) and the fraction of the variance they explain, shape
        ``(...)`` (0 for a constant trajectory). Trajectories with non-finite values
        (e.g. from a diverged solve) get NaN scores and a NaN fraction.
    """
    int_at_least("num_components", num_components, 1)
    trajectory = np.asarray(trajectory, dtype=float)
    if trajectory.ndim < 2:
        raise ValueError(
            "Received an invalid value for argument `trajectory`, expected shape "
            f"(..., time, features), got {trajectory.shape}."
        )
    finite = np.isfinite(trajectory).all(axis=(-2, -1))
    centred = np.where(finite[..., None, None], trajectory, 0.0)
    centred = centred - centred.mean(axis=-2, keepdims=True)
    # Work on trajectories scaled to a maximum of 1, so that huge (nearly diverged)
    # states do not overflow the Gram matrix; the scale is restored on the scores.
    scale = np.abs(centred).max(axis=(-2, -1), keepdims=True)
    scale = np.where(scale > 0, scale, 1.0)
    centred = centred / scale
    power, axes = np.linalg.eigh(np.swapaxes(centred, -1, -2) @ centred)
    c = min(num_components, power.shape[-1])
    # eigh sorts ascending: take the last c, largest first.
    power = np.clip(power, 0.0, None)
    loadings = axes[..., :, ::-1][..., :, :c]
    pivot = np.take_along_axis(loadings, np.abs(loadings).argmax(axis=-2)[..., None, :], axis=-2)
    with np.errstate(over="ignore"):
        scores = (centred @ (loadings * np.where(pivot < 0, -1.0, 1.0))) * scale
    if c < num_components:
        pad = [(0, 0)] * (scores.ndim - 1) + [(0, num_components - c)]
        scores = np.pad(scores, pad)
    total = power.sum(axis=-1)
    leading = power[..., ::-1][..., :c].sum(axis=-1)
    explained = np.divide(leading, total, out=np.zeros_like(total), where=total > 0)
    scores = np.where(finite[..., None, None], scores, np.nan)
    return scores, np.where(finite, explained, np.nan)


def latent_trajectory(
    trajectory: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The paper's trajectory-length measure of hidden-state trajectories.

    Projects each trajectory on its first two principal components (the paper's 2-D
    latent trajectory ``z(t)``) and measures the arc length ``l(z)`` of that curve.

    Args:
        trajectory: Hidden states of one layer over time, shape ``(..., time, width)``;
            pass states on a fixed time grid, since the chord sum depends on the sampling.

    Returns:
        ``(lengths, latent, explained)`` with shapes ``(...)``, ``(..., time, 2)`` and
        ``(...)``: the arc lengths, the projected curves and the fraction of variance
        explained by the two components. Trajectories with non-finite values get NaN;
        finite but huge ones (a diverging solve) may get an infinite length.
    """
    latent, explained = principal_components(trajectory, num_components=2)
    with np.errstate(over="ignore", invalid="ignore"):
        return arc_length(latent), latent, explained

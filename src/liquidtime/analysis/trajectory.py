"""Trajectory geometry: the circular input, PCA projection and arc length.

These functions are model-agnostic: :func:`latent_trajectory` measures any hidden-state
trajectory, e.g. one recorded from a trained model, the way the LTC paper does
(Hasani et al., AAAI 2021, Section "Measuring expressivity by trajectory length",
after Raghu et al., ICML 2017).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from liquidtime.analysis._validation import check_int_at_least, check_positive_float


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
        i = int(np.clip(np.searchsorted(self.times, t, side="right") - 1, 0, self.times.size - 2))
        w = float(np.clip((t - self.times[i]) / (self.times[i + 1] - self.times[i]), 0.0, 1.0))
        return (1.0 - w) * self.values[i] + w * self.values[i + 1]


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
    check_int_at_least("samples", samples, 2)
    period = check_positive_float("period", period)
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

    With the centred trajectory ``X - mean_t X = U S V^T`` (an SVD), the scores are
    ``U[:, :c] S[:c]``, i.e. the projection of the centred states on the first ``c``
    right singular vectors. Each component's sign is fixed so that its largest-magnitude
    loading is positive, which makes plots reproducible; lengths do not depend on it.

    Args:
        trajectory: States over time, shape ``(..., time, features)``.
        num_components: Number of components ``c`` to keep.

    Returns:
        ``(scores, explained)``: scores of shape ``(..., time, c)`` (zero-padded if there
        are fewer than ``c`` features) and the fraction of the variance they explain,
        shape ``(...)`` (0 for a constant trajectory).
    """
    check_int_at_least("num_components", num_components, 1)
    trajectory = np.asarray(trajectory, dtype=float)
    if trajectory.ndim < 2:
        raise ValueError(
            "Received an invalid value for argument `trajectory`, expected shape "
            f"(..., time, features), got {trajectory.shape}."
        )
    centred = trajectory - trajectory.mean(axis=-2, keepdims=True)
    u, s, vt = np.linalg.svd(centred, full_matrices=False)
    c = min(num_components, s.shape[-1])
    loadings = vt[..., :c, :]
    pivot = np.take_along_axis(loadings, np.abs(loadings).argmax(axis=-1)[..., None], axis=-1)
    signs = np.where(pivot[..., 0] < 0, -1.0, 1.0)
    scores = u[..., :, :c] * (s[..., None, :c] * signs[..., None, :])
    if c < num_components:
        pad = [(0, 0)] * (scores.ndim - 1) + [(0, num_components - c)]
        scores = np.pad(scores, pad)
    power = np.square(s)
    total = power.sum(axis=-1)
    explained = np.divide(
        power[..., :c].sum(axis=-1), total, out=np.zeros_like(total), where=total > 0
    )
    return scores, explained


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
        explained by the two components.
    """
    latent, explained = principal_components(trajectory, num_components=2)
    return arc_length(latent), latent, explained

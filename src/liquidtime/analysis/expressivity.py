"""Trajectory length of random Neural ODEs, CT-RNNs and LTCs driven by a circle.

One measurement (:func:`measure_trajectory_lengths`) feeds the circle
``I(t) = [sin t, cos t]``, ``t in [0, 2 pi]``, through ``draws`` random networks of one
model, solves their ODE, projects each layer's hidden-state trajectory on its first two
principal components and returns the arc lengths of those 2-D curves, as in Section 5 of
Hasani et al., "Liquid Time-Constant Networks" (AAAI 2021).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from liquidtime._validation import int_at_least
from liquidtime.analysis.integration import FIXED_STEP_SOLVERS, integrate_system
from liquidtime.analysis.networks import (
    Activation,
    HardTanh,
    LTCDecay,
    Model,
    NetworkParameters,
    RandomNetworks,
)
from liquidtime.analysis.trajectory import arc_length, circle_input, latent_trajectory


@dataclasses.dataclass(frozen=True)
class TrajectoryLengths:
    """Trajectory lengths of ``draws`` random networks of one model.

    Attributes:
        model: ``"ltc"``, ``"ctrnn"`` or ``"node"``.
        solver: The ODE solver used.
        times: The output grid on which the trajectories were measured, shape ``(time,)``.
        lengths: Arc length of each layer's 2-D latent trajectory, ``(draws, depth)``.
        latent: The latent trajectories (first two PCA scores), ``(draws, depth, time, 2)``.
        explained_variance: Fraction of each layer's variance explained by the two
            components, ``(draws, depth)``.
        steps: Accepted steps of the solver run that integrated each draw, ``(draws,)``.
            When the draws are stacked into one run they share its count.
        nfev: Vector-field evaluations of that run, ``(draws,)``; when stacked, each
            evaluation covers every draw.
        steps_per_sample: The paper's computational depth ``L``: ``steps`` divided by the
            number of input intervals (``samples - 1``), ``(draws,)``.
        input_length: Arc length ``l(I)`` of the sampled input circle.
        sample_interval: Spacing ``delta t`` of the input samples.
    """

    model: str
    solver: str
    times: np.ndarray
    lengths: np.ndarray
    latent: np.ndarray
    explained_variance: np.ndarray
    steps: np.ndarray
    nfev: np.ndarray
    steps_per_sample: np.ndarray
    input_length: float
    sample_interval: float


def measure_trajectory_lengths(
    model: Model,
    parameters: NetworkParameters,
    *,
    activation: Activation = "tanh",
    solver: str = "RK45",
    hard_tanh: HardTanh = "elementwise",
    ltc_decay: LTCDecay = "signed",
    samples: int = 100,
    eval_points: int = 1000,
    rtol: float = 1e-2,
    atol: float = 1e-4,
    vectorize: bool | None = None,
) -> TrajectoryLengths:
    """Measures the latent trajectory length of random networks driven by a circle.

    The input is :func:`liquidtime.analysis.trajectory.circle_input` with ``samples``
    points on ``[0, 2 pi]``, linearly interpolated. The networks start at ``x = 0`` and
    are solved on ``[0, 2 pi]``; the states are read on ``eval_points`` equally spaced
    times (from the adaptive solver's dense output, or the fixed-step solver's own grid,
    so a fixed-step solver takes ``eval_points - 1`` steps). For every draw and layer the
    ``(time, width)`` state trajectory is projected on its first two principal components
    and the arc length of that 2-D curve is the layer's trajectory length.

    Args:
        model: ``"ltc"``, ``"ctrnn"`` or ``"node"``.
        parameters: Random parameters, e.g. from
            :func:`liquidtime.analysis.networks.sample_parameters`.
        activation: ``"tanh"``, ``"sigmoid"``, ``"relu"`` or ``"hard_tanh"``.
        solver: One of :data:`liquidtime.analysis.integration.SOLVERS`.
        hard_tanh: ``"elementwise"`` (true hard tanh) or ``"original"`` (the MATLAB code's).
        ltc_decay: ``"signed"`` (Eq. 1) or ``"abs"`` (the MATLAB code's ``1/tau + |f|``).
        samples: Number of input samples.
        eval_points: Number of output times.
        rtol: Relative tolerance of adaptive solvers.
        atol: Absolute tolerance of adaptive solvers.
        vectorize: If True, stack all draws into one block-diagonal system and solve it
            in a single run. If False, give every draw its own run, so that step counts
            and error control are per draw, as in the original code. ``None`` (default)
            stacks for the fixed-step solvers, where stacking changes nothing but speed,
            and solves per draw for the adaptive ones: a stacked adaptive run steps at
            the pace of its stiffest draw and takes its error norm over all draws, and
            with random time constants it is rarely faster than separate runs.

    Returns:
        The lengths, latent curves and solver statistics.
    """
    int_at_least("samples", samples, 2)
    int_at_least("eval_points", eval_points, 2)
    inputs = circle_input(samples)
    times = np.linspace(inputs.times[0], inputs.times[-1], eval_points)
    if vectorize is None:
        vectorize = solver in FIXED_STEP_SOLVERS
    if vectorize:
        groups = [parameters]
    else:
        groups = [_select(parameters, draw) for draw in range(parameters.draws)]
    states, steps, nfev = [], [], []
    for group in groups:
        network = RandomNetworks(model, group, inputs, activation, hard_tanh, ltc_decay)
        solution = integrate_system(network, times, solver, rtol, atol)
        states.append(solution.states.reshape(times.size, *network.state_shape))
        steps += [solution.steps] * group.draws
        nfev += [solution.nfev] * group.draws
    # (time, draws, depth, width) -> (draws, depth, time, width)
    trajectories = np.concatenate(states, axis=1).transpose(1, 2, 0, 3)
    lengths, latent, explained = latent_trajectory(trajectories)
    step_counts = np.asarray(steps)
    return TrajectoryLengths(
        model=model,
        solver=solver,
        times=times,
        lengths=lengths,
        latent=latent,
        explained_variance=explained,
        steps=step_counts,
        nfev=np.asarray(nfev),
        steps_per_sample=step_counts / (samples - 1),
        input_length=float(arc_length(inputs.values)),
        sample_interval=inputs.sample_interval,
    )


def _select(parameters: NetworkParameters, draw: int) -> NetworkParameters:
    """The parameters of one draw, keeping a leading axis of size 1."""
    return NetworkParameters(
        **{
            field.name: getattr(parameters, field.name)[draw : draw + 1]
            for field in dataclasses.fields(parameters)
        }
    )

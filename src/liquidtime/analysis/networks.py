"""Randomly weighted Neural ODE, CT-RNN and LTC networks, stacked over draws.

The three models share one gate ``f`` (the paper's "instances of Neural ODEs, CT-RNNs
and LTCs with shared f"). In layer ``l`` of a depth-``d`` network of width ``k``::

    f_l = act(W_r^l x_l + W_in^l u_l + b^l),  u_1 = I(t),  u_l = x_{l-1}(t) for l > 1

    Neural ODE:  dx_l/dt = f_l
    CT-RNN:      dx_l/dt = -x_l / tau_l + f_l
    LTC (Eq. 1): dx_l/dt = -(1 / tau_l + f_l) x_l + f_l A_l

All three are of the form ``dx/dt = -decay * x + drive``, which is what the fused solver
needs. The layers form one ODE system that is solved jointly: each layer reads the
previous layer's *current* state, so there is no interpolation between layers.

Many independent draws are stacked into one state of shape ``(draws, depth, width)``:
the system is block diagonal over draws, so one solver call integrates all of them.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import numpy as np
from scipy import sparse, special

from liquidtime._validation import non_negative_float, one_of, positive_int
from liquidtime.analysis.trajectory import PiecewiseLinearInput

Model = Literal["ltc", "ctrnn", "node"]
Activation = Literal["tanh", "sigmoid", "relu", "hard_tanh"]
HardTanh = Literal["elementwise", "original"]
LTCDecay = Literal["signed", "abs"]

MODELS: tuple[Model, ...] = ("ltc", "ctrnn", "node")
MODEL_NAMES: dict[str, str] = {"ltc": "LTC", "ctrnn": "CT-RNN", "node": "Neural ODE"}
ACTIVATIONS: tuple[Activation, ...] = ("tanh", "sigmoid", "relu", "hard_tanh")
HARD_TANH_FLAVOURS: tuple[HardTanh, ...] = ("elementwise", "original")
LTC_DECAYS: tuple[LTCDecay, ...] = ("signed", "abs")


@dataclasses.dataclass(frozen=True)
class NetworkParameters:
    """Random parameters of ``draws`` independent networks (shared by all three models).

    Attributes:
        input_weights: ``W_in^1``, shape ``(draws, width, channels)``.
        layer_weights: ``W_in^l`` for ``l = 2..depth``, shape ``(draws, depth-1, width, width)``.
        recurrent_weights: ``W_r^l``, shape ``(draws, depth, width, width)``.
        bias: ``b^l``, shape ``(draws, depth, width)``.
        tau: Time constants (CT-RNN and LTC), shape ``(draws, depth, width)``.
        reversal: The LTC's ``A``, shape ``(draws, depth, width)``.
    """

    input_weights: np.ndarray
    layer_weights: np.ndarray
    recurrent_weights: np.ndarray
    bias: np.ndarray
    tau: np.ndarray
    reversal: np.ndarray

    @property
    def draws(self) -> int:
        """Number of independent networks."""
        return self.bias.shape[0]

    @property
    def depth(self) -> int:
        """Number of layers ``d``."""
        return self.bias.shape[1]

    @property
    def width(self) -> int:
        """Neurons per layer ``k``."""
        return self.bias.shape[2]


def sample_parameters(
    draws: int,
    width: int,
    depth: int,
    sigma_w: float,
    sigma_b: float,
    seed: int | np.random.Generator | None = None,
    channels: int = 2,
    tau_min: float = 1e-3,
) -> NetworkParameters:
    """Draws random network parameters as in the trajectory-length literature.

    Weights follow Raghu et al. (2017) and the LTC paper, ``W ~ N(0, sigma_w^2 / fan_in)``:
    ``fan_in = width`` for the recurrent matrices ``W_r`` and the layer-to-layer matrices,
    and ``fan_in = channels`` (2 for the circle) for the first layer's input matrix, so
    that the input's contribution to the pre-activation does not vanish as the width
    grows. Biases ``b ~ N(0, sigma_b^2)``, time constants ``tau = |N(0, 1)|`` and the LTC's
    ``A ~ N(0, sigma_w^2)``. The original MATLAB code builds ``A_i`` as the sum of a column
    of a ``width x width`` matrix drawn like the weights; with ``N(0, sigma_w^2 / width)``
    entries that sum is exactly ``N(0, sigma_w^2)``.

    ``1 / |N(0, 1)|`` is heavy-tailed: now and then a neuron gets ``tau ~ 1e-5`` and
    makes the ODE so stiff that an explicit solver needs ~10^5 steps for it alone.
    Such a neuron's state stays within ``~tau`` of its equilibrium and adds almost
    nothing to the trajectory length (a floor of ``1e-3`` changed the measured lengths
    by less than 3e-4 relative in our checks, while cutting the worst step counts from
    88 000 to 1 900), so by default ``tau`` is floored at ``tau_min = 1e-3``; pass
    ``tau_min=0`` for the exact ``|N(0, 1)|``.

    The parameters are scaled standard-normal draws taken in a fixed order, so one seed
    gives the same underlying draws for every ``sigma_w`` and ``sigma_b`` (common random
    numbers across a spread sweep).

    Args:
        draws: Number of independent networks.
        width: Neurons per layer ``k``.
        depth: Number of layers ``d``.
        sigma_w: Weight spread ``sigma_w``.
        sigma_b: Bias spread ``sigma_b``.
        seed: Seed or generator for ``numpy.random.default_rng``.
        channels: Input dimension.
        tau_min: Lower limit of the time constants.

    Returns:
        The parameters.
    """
    positive_int("draws", draws)
    positive_int("width", width)
    positive_int("depth", depth)
    positive_int("channels", channels)
    sigma_w = non_negative_float("sigma_w", sigma_w)
    sigma_b = non_negative_float("sigma_b", sigma_b)
    tau_min = non_negative_float("tau_min", tau_min)
    rng = np.random.default_rng(seed)
    hidden = sigma_w / np.sqrt(width)
    return NetworkParameters(
        input_weights=rng.standard_normal((draws, width, channels)) * (sigma_w / np.sqrt(channels)),
        layer_weights=rng.standard_normal((draws, depth - 1, width, width)) * hidden,
        recurrent_weights=rng.standard_normal((draws, depth, width, width)) * hidden,
        bias=rng.standard_normal((draws, depth, width)) * sigma_b,
        tau=np.maximum(np.abs(rng.standard_normal((draws, depth, width))), tau_min),
        reversal=rng.standard_normal((draws, depth, width)) * sigma_w,
    )


def activate(
    z: np.ndarray, activation: Activation, hard_tanh: HardTanh = "elementwise"
) -> tuple[np.ndarray, np.ndarray]:
    """Applies an activation to pre-activations ``z`` and returns ``(act(z), act'(z))``.

    ``hard_tanh="elementwise"`` is the true hard tanh ``clip(z, -1, 1)``.
    ``hard_tanh="original"`` reproduces the original MATLAB ``Htanh.m``, whose
    ``if x >= 1`` on a vector is true only when *every* entry is ``>= 1``: a layer's
    pre-activation vector (last axis) is mapped to all ones if all entries are ``>= 1``,
    to all minus ones if all are ``<= -1``, and is passed through unchanged otherwise,
    so in practice that activation is the identity and the network is nearly linear.

    Args:
        z: Pre-activations, shape ``(..., width)``.
        activation: One of ``"tanh"``, ``"sigmoid"``, ``"relu"``, ``"hard_tanh"``.
        hard_tanh: Hard-tanh flavour, ``"elementwise"`` or ``"original"``.

    Returns:
        The activation and its derivative (almost everywhere), both shaped like ``z``.
    """
    one_of("activation", activation, ACTIVATIONS)
    one_of("hard_tanh", hard_tanh, HARD_TANH_FLAVOURS)
    if activation == "tanh":
        f = np.tanh(z)
        return f, 1.0 - f * f
    if activation == "sigmoid":
        f = special.expit(z)
        return f, f * (1.0 - f)
    if activation == "relu":
        return np.maximum(z, 0.0), (z > 0).astype(z.dtype)
    if hard_tanh == "elementwise":
        return np.clip(z, -1.0, 1.0), (np.abs(z) < 1).astype(z.dtype)
    high = np.all(z >= 1, axis=-1, keepdims=True)
    low = np.all(z <= -1, axis=-1, keepdims=True)
    saturated = high | low
    f = np.where(high, 1.0, np.where(low, -1.0, z))
    return f, np.broadcast_to(~saturated, z.shape).astype(z.dtype)


class RandomNetworks:
    """``draws`` random networks of one model, as one ODE ``dy/dt = F(t, y)``.

    The flat state ``y`` holds ``x`` of shape ``(draws, depth, width)`` in C order, starts
    at zero (as in the original code) and follows ``dx/dt = -decay * x + drive`` with

    ==========  ==============================  ===========
    model       decay                           drive
    ==========  ==============================  ===========
    ``node``    0                               ``f``
    ``ctrnn``   ``1 / tau``                     ``f``
    ``ltc``     ``1 / tau + f`` (``"signed"``)  ``f * A``
                ``1 / tau + |f|`` (``"abs"``)
    ==========  ==============================  ===========

    ``ltc_decay="signed"`` is Eq. 1 of the paper; ``"abs"`` is what the original MATLAB
    ``ltc_def.m`` integrates. They differ only for activations with negative values
    (tanh, hard tanh), where Eq. 1's decay can become negative.

    Args:
        model: ``"ltc"``, ``"ctrnn"`` or ``"node"``.
        parameters: The random parameters, e.g. from :func:`sample_parameters`.
        inputs: The input signal ``I(t)`` of the first layer.
        activation: The activation of ``f``.
        hard_tanh: Hard-tanh flavour (see :func:`activate`).
        ltc_decay: ``"signed"`` or ``"abs"``, used by the LTC only.
    """

    def __init__(
        self,
        model: Model,
        parameters: NetworkParameters,
        inputs: PiecewiseLinearInput,
        activation: Activation = "tanh",
        hard_tanh: HardTanh = "elementwise",
        ltc_decay: LTCDecay = "signed",
    ) -> None:
        self.model = one_of("model", model, MODELS)
        self.activation = one_of("activation", activation, ACTIVATIONS)
        self.hard_tanh = one_of("hard_tanh", hard_tanh, HARD_TANH_FLAVOURS)
        self.ltc_decay = one_of("ltc_decay", ltc_decay, LTC_DECAYS)
        if inputs.channels != parameters.input_weights.shape[-1]:
            raise ValueError(
                "Received an invalid value for argument `inputs`, expected "
                f"{parameters.input_weights.shape[-1]} channels, got {inputs.channels}."
            )
        self.parameters = parameters
        self.inputs = inputs
        self._inverse_tau = 1.0 / parameters.tau
        self._jacobian_structure: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def state_shape(self) -> tuple[int, int, int]:
        """Shape ``(draws, depth, width)`` of the unflattened state."""
        return self.parameters.bias.shape

    @property
    def size(self) -> int:
        """Length of the flat state ``y``."""
        return int(np.prod(self.state_shape))

    def gate(self, t: float, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Returns ``f`` and ``act'`` at the pre-activations, for states ``x``."""
        p = self.parameters
        z = np.matmul(p.recurrent_weights, x[..., None])[..., 0] + p.bias
        z[:, 0] += p.input_weights @ self.inputs(t)
        if p.depth > 1:
            z[:, 1:] += np.matmul(p.layer_weights, x[:, :-1, :, None])[..., 0]
        return activate(z, self.activation, self.hard_tanh)

    def coefficients(self, t: float, x: np.ndarray) -> tuple[np.ndarray | float, np.ndarray]:
        """Returns ``(decay, drive)`` of ``dx/dt = -decay * x + drive`` at states ``x``."""
        f, _ = self.gate(t, x)
        if self.model == "node":
            return 0.0, f
        if self.model == "ctrnn":
            return self._inverse_tau, f
        conductance = f if self.ltc_decay == "signed" else np.abs(f)
        return self._inverse_tau + conductance, f * self.parameters.reversal

    def vector_field(self, t: float, y: np.ndarray) -> np.ndarray:
        """Returns ``F(t, y)`` for the flat state ``y``."""
        x = y.reshape(self.state_shape)
        decay, drive = self.coefficients(t, x)
        return (drive - decay * x).ravel()

    def jacobian(self, t: float, y: np.ndarray) -> sparse.csr_matrix:
        """Returns ``dF/dy`` as a sparse matrix (block diagonal over draws).

        Row ``(draw, l, i)`` has ``-decay_i delta_ij + s_i W_r^l[i, j]`` on layer ``l`` and
        ``s_i W_in^l[i, j]`` on layer ``l - 1``, with ``s = d(drive - decay * x)/df * act'``.
        """
        p = self.parameters
        x = y.reshape(self.state_shape)
        f, slope = self.gate(t, x)
        decay: float | np.ndarray
        if self.model == "node":
            decay, sensitivity = 0.0, slope
        elif self.model == "ctrnn":
            decay, sensitivity = self._inverse_tau, slope
        else:
            sign = 1.0 if self.ltc_decay == "signed" else np.sign(f)
            decay = self._inverse_tau + sign * f
            sensitivity = (p.reversal - sign * x) * slope
        own = sensitivity[..., None] * p.recurrent_weights
        diagonal = np.arange(p.width)
        own[..., diagonal, diagonal] -= np.broadcast_to(decay, x.shape)
        blocks = [own[:, 0].reshape(p.draws, -1)]
        if p.depth > 1:
            below = sensitivity[:, 1:, :, None] * p.layer_weights
            blocks.append(np.concatenate([below, own[:, 1:]], axis=-1).reshape(p.draws, -1))
        indices, indptr = self._structure()
        data = np.concatenate(blocks, axis=1).ravel()
        return sparse.csr_matrix((data, indices, indptr), shape=(self.size, self.size))

    def _structure(self) -> tuple[np.ndarray, np.ndarray]:
        """Column indices and row pointers of the Jacobian's sparsity pattern (cached)."""
        if self._jacobian_structure is None:
            draws, depth, width = self.state_shape
            # Each row's columns are a contiguous range: its own layer for layer 1, the
            # layer below and its own layer for the others.
            starts = np.arange(draws)[:, None] * depth + np.maximum(np.arange(depth) - 1, 0)
            lengths = np.where(np.arange(depth) == 0, width, 2 * width)
            row_starts = np.repeat((starts * width)[..., None], width, axis=-1).ravel()
            row_lengths = np.tile(np.repeat(lengths, width), draws)
            indptr = np.concatenate([[0], np.cumsum(row_lengths)])
            offsets = np.arange(indptr[-1]) - np.repeat(indptr[:-1], row_lengths)
            indices = np.repeat(row_starts, row_lengths) + offsets
            self._jacobian_structure = (indices, indptr)
        return self._jacobian_structure

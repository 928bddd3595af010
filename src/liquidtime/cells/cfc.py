"""The closed-form continuous-time cell (CfC; Hasani et al., Nature Machine Intelligence 2022)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import keras
from keras import ops

from liquidtime import _validation
from liquidtime._backend_ops import sigmoid_argument_scale, tanh
from liquidtime.cells.base import BaseCell
from liquidtime.cells.network import BackboneDropoutRNNHook
from liquidtime.cells.network_cell import NetworkCell
from liquidtime.kernels.selection import Kernel, elementwise_activations

CFC_MODES = ("default", "pure", "no_gate")


def cfc_update(
    mode: str, heads: Any, elapsed_time: Any, params: tuple = (), folded: bool = False
) -> Any:
    """The CfC state update from the pre-activation heads; see :class:`CfCCell`.

    The one definition of the update, for the cell's step, its whole-sequence kernels
    and the wired CfC:

        g = tanh(g_pre),  h = tanh(h_pre),  s = sigmoid(time_b - time_a * dt)
        default: x' = h + s (g - h);   no_gate: x' = h + s g
        pure:    x' = A - A exp(-dt (|w_tau| + |f|)) f

    Args:
        mode: ``"default"``, ``"no_gate"`` or ``"pure"``.
        heads: ``(batch, 4 n)`` as ``[g | h | time_a | time_b]`` in the gated modes;
            ``(batch, 3 n)`` as ``[g | h | time_b - dt time_a]`` when ``folded``
            (:func:`fold_time_gate`); ``(batch, n)`` (``f``) in ``pure`` mode.
        elapsed_time: A Python float or ``(batch, 1)`` (unused when ``folded``).
        params: ``(A, w_tau)``, each ``(n,)``, in ``pure`` mode; ``()`` otherwise.
        folded: Whether the time heads are folded into the gate's argument.

    Returns:
        The new state, ``(batch, n)``.
    """
    if mode == "pure":
        A, w_tau = params
        decay = ops.exp(-elapsed_time * (ops.abs(w_tau) + ops.abs(heads)))
        return A - A * decay * heads
    if folded:
        g, h, gate = _activated_folded_heads(heads)
    else:
        g, h, time_a, time_b = ops.split(heads, 4, axis=-1)
        g, h, gate = tanh(g), tanh(h), ops.sigmoid(time_b - time_a * elapsed_time)
    if mode == "default":
        return h + gate * (g - h)
    return h + gate * g


def _activated_folded_heads(heads: Any) -> tuple[Any, Any, Any]:
    """``(tanh g, tanh h, sigmoid gate)`` of folded heads ``[g | h | gate argument]``."""
    scale = sigmoid_argument_scale()
    if scale == 1.0:
        g, h, gate = ops.split(heads, 3, axis=-1)
        return tanh(g), tanh(h), ops.sigmoid(gate)
    # One tanh over all heads (the gate's sigmoid in its tanh form): uniform
    # elementwise work, which XLA vectorises, also in the backward pass.
    units = heads.shape[-1] // 3
    column_scale = ops.concatenate(
        [ops.ones((2 * units,), heads.dtype), ops.full((units,), scale, heads.dtype)]
    )
    g, h, gate = ops.split(tanh(heads * column_scale), 3, axis=-1)
    return g, h, 0.5 + 0.5 * gate


def fold_time_gate(units: int, elapsed_time: float) -> Callable[[Any], Any]:
    """The linear map that merges the two time heads for a constant elapsed time.

    With a constant ``dt`` the gate's argument ``time_b - time_a * dt`` is one affine
    head, ``(W_b - dt W_a) z + (b_b - dt b_a)``: mapping the last axis
    ``[g | h | time_a | time_b]`` to ``[g | h | time_b - dt time_a]`` (applied to the
    head weights) makes the matmul in the loop 3 instead of 4 heads wide.

    Args:
        units: Width ``n`` of each head.
        elapsed_time: The constant ``dt``.

    Returns:
        A function from ``(..., 4 n)`` to ``(..., 3 n)``.
    """

    def fold(columns: Any) -> Any:
        kept = columns[..., : 2 * units]
        gate = columns[..., 3 * units :] - elapsed_time * columns[..., 2 * units : 3 * units]
        return ops.concatenate([kept, gate], axis=-1)

    return fold


@keras.saving.register_keras_serializable(package="liquidtime")
class CfCCell(NetworkCell, BaseCell, BackboneDropoutRNNHook):
    """Closed-form continuous-time cell: the LTC's solution in closed form, no solver.

    With ``z = backbone([I, x])`` (or ``z = [I, x]`` without a backbone) and the
    elapsed time ``dt`` of the step:

        g = tanh(W_g z + b_g),   h = tanh(W_h z + b_h)
        s = sigmoid(-(W_a z + b_a) * dt + (W_b z + b_b))          (time gate)

        default:  x' = s * g + (1 - s) * h
        no_gate:  x' = h + s * g
        pure:     x' = -A * exp(-dt * (|w_tau| + |f|)) * f + A,   f = W_f z + b_f

    In ``default`` mode the state stays in [-1, 1] (a convex combination of two
    tanh heads); in ``no_gate`` mode in [-2, 2]; ``pure`` mode is the direct
    closed-form approximation of the LTC ODE with ``A`` (initialised to 1) and
    ``w_tau`` (initialised to 0) learnable, and is not bounded by construction.

    The four heads of the gated modes are one matmul of width ``4 * units``; when
    the elapsed time is a constant (no per-step ``elapsed_time``), the two time heads
    are merged into one (:func:`fold_time_gate`, the same function), so the matmul
    is ``3 * units`` wide. The part of the first layer that sees the input is
    computed for the whole sequence before the loop.

    Args:
        units: Number of neurons.
        mode: ``"default"``, ``"pure"`` or ``"no_gate"``.
        activation: Backbone activation (default ``"lecun_tanh"``,
            ``1.7159 * tanh(0.666 x)``).
        backbone_units: Width of the backbone layers (default 128).
        backbone_layers: Number of backbone layers (default 1; 0 for none).
        backbone_dropout: Dropout on backbone activations while training (default 0),
            one mask per sequence (Gal & Ghahramani, 2016), also inside
            ``keras.layers.RNN``, which draws it before its time loop as for
            Keras's own ``LSTMCell``.
        kernel_initializer, recurrent_initializer, bias_initializer: Initializers
            for the input-side kernels (backbone and heads), the state-side kernel,
            and the biases.
        *_regularizer, *_constraint: Likewise.
        elapsed_time_as_feature: See :class:`~liquidtime.cells.base.BaseCell`.
        seed: Seed of the dropout masks.
        implementation: ``"auto"``, ``"reference"``, ``"jax_scan"`` (the whole
            sequence by :func:`~liquidtime.kernels.jax_cfc.network_scan` on JAX),
            ``"torch"`` (the native PyTorch kernel) or ``"tensorflow"``
            (:func:`~liquidtime.kernels.tf_cfc.network_scan`); ``"auto"`` picks the
            kernel of the backend (on TensorFlow, outside functions that XLA
            compiles). See :class:`~liquidtime.cells.base.BaseCell`.

    Returns:
        ``(x_new, [x_new])`` for a step.
    """

    activation_is_backbone_activation = True

    named_kernels = {
        "jax_scan": Kernel(backends=("jax",), condition=elementwise_activations),
        "torch": Kernel(backends=("torch",), condition=elementwise_activations),
        # XLA compiles it ~8x more slowly than the reference for the same wall time
        # (docs/performance.md): "auto" leaves it to the TensorFlow graph.
        "tensorflow": Kernel(
            backends=("tensorflow",), auto_under_xla=False, condition=elementwise_activations
        ),
    }

    def __init__(
        self,
        units: int,
        mode: str = "default",
        activation: Any = "lecun_tanh",
        backbone_units: int | None = 128,
        backbone_layers: int = 1,
        backbone_dropout: float = 0.0,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        recurrent_regularizer: Any = None,
        bias_regularizer: Any = None,
        kernel_constraint: Any = None,
        recurrent_constraint: Any = None,
        bias_constraint: Any = None,
        elapsed_time_as_feature: bool = False,
        seed: int | None = None,
        **kwargs: Any,
    ):
        self.mode = _validation.one_of("mode", mode, CFC_MODES)
        if not backbone_layers:
            backbone_units = None
        self.init_network_cell(units, locals(), head_units=self.num_heads * units)

    @property
    def num_heads(self) -> int:
        """Heads computed from z: f (pure) or g, h, time-a, time-b (gated modes)."""
        return 1 if self.mode == "pure" else 4

    def build_weights(self, input_dim: int) -> None:
        super().build_weights(input_dim)
        if self.mode == "pure":
            self.A = self.add_weight(name="A", shape=(self.units,), initializer="ones")
            self.w_tau = self.add_weight(name="w_tau", shape=(self.units,), initializer="zeros")

    def transition(self, projected, states, elapsed_time, constants, training=None):
        folded, update_params, head_map = self._update_arguments(elapsed_time)
        heads = self.network.step(projected, states[0], constants["dropout"], head_map=head_map)
        new_state = cfc_update(self.mode, heads, elapsed_time, update_params, folded)
        return new_state, [new_state, *states[1:]]

    def _update_arguments(self, elapsed_time: Any) -> tuple[bool, tuple, Callable | None]:
        """How this step's heads are computed and updated.

        For a constant elapsed time (modes other than ``pure``) the time heads are
        folded into the gate (:func:`fold_time_gate`).

        Returns:
            ``(folded, update_params, head_map)``: whether the time heads are folded;
            ``(A, w_tau)`` in mode ``pure``, else ``()``; the folding map or None.
        """
        if self.mode == "pure":
            return False, (self.A.value, self.w_tau.value), None
        if isinstance(elapsed_time, (int, float)):
            return True, (), fold_time_gate(self.units, float(elapsed_time))
        return False, (), None

    def fused_scan(
        self, inputs, states, elapsed_time, constants, training=None, return_sequences=True
    ):
        """On JAX, the sequence by :func:`~liquidtime.kernels.jax_cfc.network_scan`;
        on TensorFlow by :func:`~liquidtime.kernels.tf_cfc.network_scan` (the same
        arguments); on PyTorch by :func:`~liquidtime.kernels.torch_cfc.cfc_sequence`.

        The same values as scanning :meth:`transition`; the backward pass carries
        only the state's cotangent through the steps and computes each weight
        gradient as one matmul per chunk of ~8 steps (JAX) or over the whole
        sequence (PyTorch). With ``return_sequences`` False the outputs are the
        last state only. Returns None (scan :meth:`transition`) unless the
        ``"jax_scan"``, ``"tensorflow"`` or ``"torch"`` kernel runs (:meth:`uses_kernel`).
        """
        on_torch = self.uses_kernel("torch")
        if on_torch:
            from liquidtime.kernels.torch_cfc import cfc_sequence
        elif self.uses_kernel("jax_scan"):
            from liquidtime.kernels.jax_cfc import network_scan
        elif self.uses_kernel("tensorflow"):
            from liquidtime.kernels.tf_cfc import network_scan
        else:
            return None

        self.check_input_features(inputs)
        folded, update_params, weights = self._sequence_weights(elapsed_time)
        arguments = (
            self.activation, inputs, states[0], elapsed_time, update_params, *weights,
            constants["dropout"],
        )
        if on_torch:
            # The PyTorch kernel folds the time heads itself, for a constant elapsed time
            # as _update_arguments does, and returns every step's state.
            sequence = cfc_sequence(self.mode, *arguments)
            outputs = sequence if return_sequences else sequence[-1]
        else:
            update = functools.partial(cfc_update, self.mode, folded=folded)
            outputs = network_scan(update, *arguments, return_sequences=return_sequences)
        last_state = outputs[-1] if return_sequences else outputs
        return outputs, [last_state, *states[1:]]

    def _sequence_weights(self, elapsed_time: Any) -> tuple[bool, tuple, tuple]:
        """The weights both whole-sequence kernels take.

        Returns:
            ``(folded, update_params, weights)``: as :meth:`_update_arguments`, and the
            network's mapped weights as arrays, ``(input_kernel, first_bias,
            state_kernel, [(kernel, bias) per backbone layer])``.
        """
        folded, update_params, head_map = self._update_arguments(elapsed_time)
        arrays = self.network_arrays(head_map)
        return folded, update_params, arrays

    def get_config(self) -> dict[str, Any]:
        config = {"mode": self.mode, **self.network_config()}
        return {**super().get_config(), **config}


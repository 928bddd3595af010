"""The feed-forward map on ``[input, state]`` that drives a cell, split for hoisting.

A cell's nonlinearity sees the concatenation ``[I, x]`` of the current input and
state. Its first affine map is split as ``[I, x] W + c = (I W_I + c) + x W_x`` so that
the input part, which does not depend on the state, is computed for the whole
sequence in one batched matmul before the time loop (:meth:`project_inputs`); only
``x W_x`` and what follows run inside the loop (:meth:`step`).

Without a backbone the network is one affine map to the heads:

    heads = I W_I + x W_x + c                      (weights: kernel, recurrent_kernel, bias)

With a backbone of ``L`` layers of width ``U`` and activation ``phi``:

    z_1 = phi(I V_I + x V_x + d_1),  z_k = phi(z_{k-1} V_k + d_k),  heads = z_L W + c
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
from keras import ops

from liquidtime._backend_ops import matmul


class InputStateNetwork(keras.layers.Layer):
    """Affine heads on ``[I, x]``, optionally behind an MLP backbone.

    Args:
        head_units: Total width of the heads (e.g. ``units`` for an LTC, ``4 * units``
            for a gated CfC).
        backbone_units: Width of each backbone layer (0 for no backbone).
        backbone_layers: Number of backbone layers (0 for no backbone).
        backbone_activation: Activation of the backbone layers.
        backbone_dropout: Rate of the dropout applied to each backbone layer's
            activations while training. The masks are drawn once per sequence
            (see :meth:`dropout_masks`).
        kernel_initializer, recurrent_initializer, bias_initializer: For the input
            kernels (and backbone hidden and head kernels), the state kernel and the
            biases.
        kernel_regularizer, recurrent_regularizer, bias_regularizer: Likewise.
        kernel_constraint, recurrent_constraint, bias_constraint: Likewise.
        seed: Seed of the dropout masks.
    """

    def __init__(
        self,
        head_units: int,
        *,
        backbone_units: int,
        backbone_layers: int,
        backbone_activation: Callable,
        backbone_dropout: float,
        kernel_initializer: Any,
        recurrent_initializer: Any,
        bias_initializer: Any,
        kernel_regularizer: Any = None,
        recurrent_regularizer: Any = None,
        bias_regularizer: Any = None,
        kernel_constraint: Any = None,
        recurrent_constraint: Any = None,
        bias_constraint: Any = None,
        seed: int | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.head_units = head_units
        self.backbone_units = backbone_units
        self.backbone_layers = backbone_layers
        self.backbone_activation = backbone_activation
        self.backbone_dropout = backbone_dropout
        self._weight_options = {
            "kernel": (kernel_initializer, kernel_regularizer, kernel_constraint),
            "recurrent": (recurrent_initializer, recurrent_regularizer, recurrent_constraint),
            "bias": (bias_initializer, bias_regularizer, bias_constraint),
        }
        self.seed_generator = keras.random.SeedGenerator(seed) if backbone_dropout > 0 else None

    def _add(self, name: str, shape: tuple[int, ...], kind: str) -> keras.Variable:
        initializer, regularizer, constraint = self._weight_options[kind]
        return self.add_weight(
            name=name,
            shape=shape,
            initializer=initializer,
            regularizer=regularizer,
            constraint=constraint,
        )

    def build(self, input_dim: int, state_dim: int) -> None:
        """Creates the weights for inputs of size ``input_dim`` and a state of ``state_dim``."""
        first_width = self.backbone_units if self.backbone_layers else self.head_units
        prefix = "backbone_" if self.backbone_layers else ""
        self.input_kernel = self._add(f"{prefix}kernel", (input_dim, first_width), "kernel")
        self.state_kernel = self._add(f"{prefix}recurrent_kernel", (state_dim, first_width), "recurrent")
        self.first_bias = self._add(f"{prefix}bias", (first_width,), "bias")
        self.hidden_kernels = []
        self.hidden_biases = []
        for i in range(1, self.backbone_layers):
            units = self.backbone_units
            self.hidden_kernels.append(self._add(f"backbone_kernel_{i}", (units, units), "kernel"))
            self.hidden_biases.append(self._add(f"backbone_bias_{i}", (units,), "bias"))
        if self.backbone_layers:
            self.head_kernel = self._add("kernel", (self.backbone_units, self.head_units), "kernel")
            self.head_bias = self._add("bias", (self.head_units,), "bias")
        self.built = True

    def project_inputs(self, inputs: Any) -> Any:
        """The state-independent part ``I W_I + c`` of the first map, any leading shape."""
        return matmul(inputs, self.input_kernel) + self.first_bias

    def dropout_masks(self, batch_size: Any, training: bool | None) -> list[Any] | None:
        """Per-sequence dropout masks of the backbone activations (Gal & Ghahramani, 2016).

        Returns:
            One ``(batch, backbone_units)`` mask (already scaled by ``1/(1-rate)``)
            per backbone layer, or None when no dropout applies.
        """
        if not (training and self.backbone_layers and self.backbone_dropout > 0):
            return None
        ones = ops.ones((batch_size, self.backbone_units), dtype=self.compute_dtype)
        return [
            keras.random.dropout(ones, self.backbone_dropout, seed=self.seed_generator)
            for _ in range(self.backbone_layers)
        ]

    def step(
        self,
        projected_inputs: Any,
        state: Any,
        dropout_masks: list[Any] | None = None,
        head_map: Callable[[Any], Any] | None = None,
    ) -> Any:
        """Heads (pre-activation) for one step.

        Args:
            projected_inputs: Output of :meth:`project_inputs` for this step, ``(batch, width)``.
            state: The state, ``(batch, state_dim)``.
            dropout_masks: From :meth:`dropout_masks`, or None.
            head_map: Optional linear map ``M`` on the heads' last axis (a callable
                mapping ``(..., head_units)`` to ``(..., k)``). The result is
                ``heads M``, computed by applying ``M`` to the last layer's weights
                (and, without a backbone, to the projected inputs), so that the
                matmul in the loop is only ``k`` wide.

        Returns:
            ``(batch, head_units)``, or ``(batch, k)`` with ``head_map``.
        """
        if not self.backbone_layers:
            if head_map is None:
                return projected_inputs + matmul(state, self.state_kernel)
            return head_map(projected_inputs) + matmul(state, head_map(self.state_kernel))
        pre = projected_inputs + matmul(state, self.state_kernel)
        z = self.backbone_activation(pre)
        if dropout_masks is not None:
            z = z * dropout_masks[0]
        for i, (kernel, bias) in enumerate(zip(self.hidden_kernels, self.hidden_biases), start=1):
            z = self.backbone_activation(matmul(z, kernel) + bias)
            if dropout_masks is not None:
                z = z * dropout_masks[i]
        if head_map is None:
            return matmul(z, self.head_kernel) + self.head_bias
        return matmul(z, head_map(self.head_kernel)) + head_map(self.head_bias)

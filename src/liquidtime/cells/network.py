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
from typing import Any, NamedTuple

import keras
from keras import ops

# Private in Keras (no public export): keras.layers.RNN draws the dropout masks of a
# cell that is an instance of this class before its time loop and clears them after,
# which keeps the loop free of random-state updates (the only way on JAX, whose scan
# cannot update a seed generator) and gives one mask per sequence on every backend.
from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell

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
        # Masks drawn for the current sequence by draw_sequence_masks, or None.
        self._sequence_masks: list[Any] | None = None

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

        The masks of :meth:`draw_sequence_masks` while it holds some, else new ones.

        Returns:
            One ``(batch, backbone_units)`` mask (already scaled by ``1/(1-rate)``)
            per backbone layer, or None when no dropout applies.
        """
        if not (training and self.backbone_layers and self.backbone_dropout > 0):
            return None
        if self._sequence_masks is not None:
            return self._sequence_masks
        ones = ops.ones((batch_size, self.backbone_units), dtype=self.compute_dtype)
        return [
            keras.random.dropout(ones, self.backbone_dropout, seed=self.seed_generator)
            for _ in range(self.backbone_layers)
        ]

    def draw_sequence_masks(self, batch_size: Any) -> list[Any] | None:
        """Draws the masks of one sequence, which :meth:`dropout_masks` then returns.

        Returns:
            The masks, or None when the network has no backbone dropout.
        """
        if self._sequence_masks is None:
            self._sequence_masks = self.dropout_masks(batch_size, training=True)
        return self._sequence_masks

    def forget_sequence_masks(self) -> None:
        """Forgets the masks of :meth:`draw_sequence_masks`."""
        self._sequence_masks = None

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
        if not self.backbone_layers and head_map is not None:
            projected_inputs = head_map(projected_inputs)
        weights = self.mapped_weights(head_map)
        a = projected_inputs + matmul(state, weights.state_kernel)
        for i, (kernel, bias) in enumerate(weights.layers):
            z = self.backbone_activation(a)
            if dropout_masks is not None:
                z = z * dropout_masks[i]
            a = matmul(z, kernel) + bias
        return a

    def mapped_weights(self, head_map: Callable[[Any], Any] | None = None) -> NetworkWeights:
        """The weights of the network, with ``head_map`` applied to the map that gives the heads.

        Args:
            head_map: As in :meth:`step`: applied to the last layer's kernel and bias,
                or, without a backbone, to the first map (input kernel, state
                kernel and bias).

        Returns:
            A :class:`NetworkWeights`.
        """
        mapped = (lambda w: w) if head_map is None else head_map  # noqa: E731
        if not self.backbone_layers:
            return NetworkWeights(
                mapped(self.input_kernel), mapped(self.first_bias), mapped(self.state_kernel), []
            )
        layers = list(zip(self.hidden_kernels, self.hidden_biases))
        layers.append((mapped(self.head_kernel), mapped(self.head_bias)))
        return NetworkWeights(self.input_kernel, self.first_bias, self.state_kernel, layers)


class NetworkWeights(NamedTuple):
    """The weights of an :class:`InputStateNetwork`, in the order the maps apply.

    ``a_1 = I input_kernel + x state_kernel + first_bias``; then, for each
    ``(kernel, bias)`` in ``layers``, ``a_{k+1} = phi(a_k) kernel + bias`` (the last
    one gives the heads; ``layers`` is empty without a backbone).
    """

    input_kernel: Any
    first_bias: Any
    state_kernel: Any
    layers: list[tuple[Any, Any]]


class BackboneDropoutRNNHook(DropoutRNNCell):
    """keras.layers.RNN's dropout hook for a cell whose backbone is ``self.network``.

    ``keras.layers.RNN`` calls :meth:`get_dropout_mask` before its time loop (whether
    training or not, as for Keras's ``LSTMCell``) and :meth:`reset_dropout_mask`
    after it; the steps in between reuse the backbone's masks while training. The
    cell's own sequence layers draw their masks once per call without this hook.
    """

    def get_dropout_mask(self, step_input: Any) -> list[Any] | None:
        """Draws the backbone's masks for one sequence.

        Args:
            step_input: The first step's inputs, ``(batch, features)``.

        Returns:
            One ``(batch, backbone_units)`` mask per backbone layer, or None.
        """
        return self.network.draw_sequence_masks(ops.shape(step_input)[0])

    def reset_dropout_mask(self) -> None:
        """Forgets the masks of :meth:`get_dropout_mask` (after the RNN's loop)."""
        self.network.forget_sequence_masks()

    def get_recurrent_dropout_mask(self, step_input: Any) -> None:
        """None: these cells have no recurrent dropout."""
        return None

    def reset_recurrent_dropout_mask(self) -> None:
        """Nothing to reset: these cells have no recurrent dropout."""

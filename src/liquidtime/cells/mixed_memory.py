"""Mixed memory: an LSTM memory path beside a continuous-time cell (ODE-LSTM)."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

# Private in Keras (no public export): see liquidtime.cells.cfc, which draws its
# dropout masks through this keras.layers.RNN hook; the wrapper forwards it.
from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell

from liquidtime._backend_ops import matmul, tanh
from liquidtime.cells.base import BaseCell
from liquidtime.cells.network_cell import RNN_WEIGHT_KINDS, set_weight_options, weight_options_config

_ser = keras.saving.serialize_keras_object

_MEMORY_WEIGHT_OPTIONS = ("initializer", "regularizer")
"""The options the LSTM memory's weights take (no constraints)."""


@keras.saving.register_keras_serializable(package="liquidtime")
class MixedMemoryCell(BaseCell, DropoutRNNCell):
    """Wraps a liquidtime cell with an LSTM memory, as the ODE-LSTM of Lechner & Hasani (2020).

    "Learning long-term dependencies in irregularly-sampled time series" (NeurIPS
    2020) shows that a continuous-time state alone suffers vanishing or exploding
    gradients over long sequences, and separates memory from dynamics: an LSTM
    cell state ``c`` carries the long-term memory with a constant error flow, and
    the continuous-time cell evolves the LSTM's output for the elapsed time. With
    input ``I``, elapsed time ``dt``, the wrapped cell's state ``x`` (its first
    state) and the memory ``c``, one step is

        i, f, k, o = split(I W + x U + b)                 (Keras's LSTM gate order)
        c' = sigmoid(f) * c + sigmoid(i) * tanh(k)
        h  = sigmoid(o) * tanh(c')                        (LSTM output)
        y, x' = cell step from state h with input I over dt

    so the LSTM runs first and its output is the state the continuous-time cell
    starts the step from (the design of the paper and of ncps's PyTorch version;
    ncps's Keras version instead feeds the LSTM output to the cell as its input,
    a different model). Both input projections (``I W + b`` and the cell's own)
    depend only on the input and are computed for the whole sequence before the
    time loop.

    The states are a flat list ``[*cell_states, c]`` (``c`` has the size of the
    cell's first state), which every backend's scan accepts; the output is the
    wrapped cell's output. The forget-gate bias starts at ``forget_gate_bias``
    (1.0, as Keras's ``unit_forget_bias`` and ncps's fixed ``+1``).

    Args:
        cell: The continuous-time cell, any :class:`~liquidtime.cells.BaseCell`
            (or its Keras serialization). Its ``elapsed_time_as_feature`` setting
            is the wrapper's, and so is its ``implementation`` (pass that argument
            to the wrapped cell). A ``dtype`` given to the wrapper is the cell's too
            (unless the cell is built already).
        forget_gate_bias: Initial value of the forget gate's bias.
        kernel_initializer, recurrent_initializer, bias_initializer: Initializers
            of ``W``, ``U`` and ``b`` (the forget gate's part of ``b`` is then
            ``forget_gate_bias`` plus the bias initializer's value).
        kernel_regularizer, recurrent_regularizer, bias_regularizer: Likewise.

    Example:
    >>> cell = MixedMemoryCell(CfCCell(16))
    >>> keras.layers.RNN(cell)(np.zeros((4, 20, 3))).shape
    (4, 16)
    """

    def __init__(
        self,
        cell: BaseCell | dict,
        forget_gate_bias: float = 1.0,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        recurrent_regularizer: Any = None,
        bias_regularizer: Any = None,
        **kwargs: Any,
    ):
        if isinstance(cell, dict):
            cell = keras.saving.deserialize_keras_object(cell)
        if not isinstance(cell, BaseCell) or isinstance(cell, MixedMemoryCell):
            raise ValueError(
                "Received an invalid value for argument `cell`, expected a liquidtime cell "
                f"(a subclass of liquidtime.cells.BaseCell, not already mixed), got {cell!r}."
            )
        if "implementation" in kwargs:
            raise ValueError(
                "MixedMemoryCell runs the `implementation` of the cell it wraps; pass "
                f"implementation={kwargs['implementation']!r} to that cell instead."
            )
        if not isinstance(forget_gate_bias, (int, float)) or isinstance(forget_gate_bias, bool):
            raise ValueError(
                "Received an invalid value for argument `forget_gate_bias`, expected a number, "
                f"got {forget_gate_bias!r}."
            )
        super().__init__(
            cell.units, elapsed_time_as_feature=cell.elapsed_time_as_feature, **kwargs
        )
        if kwargs.get("dtype") is not None and not cell.built:
            # One step mixes the memory's weights and the cell's: they share one dtype.
            for layer in cell._flatten_layers(include_self=True):
                layer.dtype_policy = self.dtype_policy
        self.cell = cell
        self.forget_gate_bias = float(forget_gate_bias)
        set_weight_options(self, RNN_WEIGHT_KINDS, locals(), _MEMORY_WEIGHT_OPTIONS)

    @property
    def implementation(self) -> str:
        """The wrapped cell's ``implementation``."""
        return self.cell.implementation

    @property
    def cell_state_sizes(self) -> list[int]:
        """The state sizes of the wrapped cell, as a list."""
        sizes = self.cell.state_size
        return list(sizes) if isinstance(sizes, (list, tuple)) else [sizes]

    @property
    def memory_units(self) -> int:
        """Size of the LSTM memory ``c`` (the wrapped cell's first state size)."""
        return self.cell_state_sizes[0]

    @property
    def state_size(self) -> list[int]:
        return [*self.cell_state_sizes, self.memory_units]

    @property
    def output_size(self) -> int:
        return self.cell.output_size

    def build_weights(self, input_dim: int) -> None:
        # The wrapped cell may be built already: Keras's deserialization builds it from
        # its own build config before this wrapper is built (as for Keras's wrappers,
        # building a layer twice would try to add its weights again).
        if not self.cell.built:
            time_feature = 1 if self.elapsed_time_as_feature else 0
            self.cell.build((None, input_dim + time_feature))
        elif self.cell.input_dim != input_dim:
            raise ValueError(
                f"Received an invalid value for argument `cell`, expected a cell that is "
                f"unbuilt or built for {input_dim} input features, got a cell built for "
                f"{self.cell.input_dim}."
            )
        n = self.memory_units

        def bias_initializer(shape, dtype=None):
            forget = ops.concatenate(
                [ops.zeros((n,)), ops.full((n,), self.forget_gate_bias), ops.zeros((2 * n,))]
            )
            return self.bias_initializer(shape, dtype=dtype) + ops.cast(forget, dtype)

        self.kernel = self.add_weight(
            name="memory_kernel",
            shape=(input_dim, 4 * n),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
        )
        self.recurrent_kernel = self.add_weight(
            name="memory_recurrent_kernel",
            shape=(n, 4 * n),
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
        )
        self.bias = self.add_weight(
            name="memory_bias",
            shape=(4 * n,),
            initializer=bias_initializer,
            regularizer=self.bias_regularizer,
        )

    def project_inputs(self, inputs: Any) -> tuple[Any, Any]:
        """``(cell's sequence inputs, I W + b)``, any leading shape."""
        self.check_input_features(inputs)
        return self.cell.sequence_inputs(inputs), matmul(inputs, self.kernel) + self.bias

    def sequence_constants(self, batch_size, training=None):
        return {"cell": self.cell.sequence_constants(batch_size, training)}

    def get_dropout_mask(self, step_input: Any) -> Any:
        """The wrapped cell's masks for one sequence, drawn before keras.layers.RNN's loop.

        Args:
            step_input: The first step's inputs, ``(batch, features)``.

        Returns:
            The wrapped cell's :meth:`get_dropout_mask`, or None when it has none.
        """
        if isinstance(self.cell, DropoutRNNCell):
            return self.cell.get_dropout_mask(step_input)
        return None

    def reset_dropout_mask(self) -> None:
        """Forgets the wrapped cell's masks (after keras.layers.RNN's loop)."""
        if isinstance(self.cell, DropoutRNNCell):
            self.cell.reset_dropout_mask()

    def get_recurrent_dropout_mask(self, step_input: Any) -> None:
        """None: no recurrent dropout (part of keras.layers.RNN's hook)."""
        return None

    def reset_recurrent_dropout_mask(self) -> None:
        """Nothing to reset: no recurrent dropout."""

    def transition(self, projected, states, elapsed_time, constants, training=None):
        cell_projected, memory_projected = projected
        *cell_states, memory = states
        gates = memory_projected + matmul(cell_states[0], self.recurrent_kernel)
        input_gate, forget_gate, candidate, output_gate = ops.split(gates, 4, axis=-1)
        memory = ops.sigmoid(forget_gate) * memory + ops.sigmoid(input_gate) * tanh(candidate)
        lstm_output = ops.sigmoid(output_gate) * tanh(memory)
        output, new_cell_states = self.cell.transition(
            cell_projected,
            [lstm_output, *cell_states[1:]],
            elapsed_time,
            constants["cell"],
            training,
        )
        return output, [*new_cell_states, memory]

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        for key in ("units", "elapsed_time_as_feature", "implementation"):
            config.pop(key)
        config.update(
            {
                "cell": _ser(self.cell),
                "forget_gate_bias": self.forget_gate_bias,
                **weight_options_config(self, RNN_WEIGHT_KINDS, _MEMORY_WEIGHT_OPTIONS),
            }
        )
        return config

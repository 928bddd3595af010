"""A Keras model's computation for one time step, with its recurrent states made explicit.

A sequence model ``y = model(x)`` over ``x`` of shape ``(batch, time, ...)`` is, step
by step, ``(y_t, states) = step(x_t, elapsed_time_t, states)``: every recurrent layer
advances its cell by one step and every other layer of the model must act on each
time step on its own (a ``Dense`` on the last axis, an activation, a
``TimeDistributed`` layer, ...). :class:`StepProgram` walks the model's graph once
with per-step tensors and checks that, refusing what cannot be stepped (a layer that
mixes time steps, ``Bidirectional``, ``go_backwards``, masks, a nested model) with a
message that names the layer.

Each model output either keeps the time axis (it passes only through layers with
``return_sequences=True``, or through none) or not (the last step of a recurrent
layer with ``return_sequences=False``). Over a whole sequence the first are the
stacked step outputs and the second the step output at the last step; both are
equal to what the model computes (see ``tests/test_streaming.py``).
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from liquidtime.layers.base import ContinuousTimeRNN

# Layers that act on each time step independently (on the last axis, or elementwise),
# so that applying them to a step's tensor equals slicing their output over time.
_STEPWISE_LAYERS = (
    keras.layers.Dense,
    keras.layers.Activation,
    keras.layers.ReLU,
    keras.layers.LeakyReLU,
    keras.layers.ELU,
    keras.layers.PReLU,
    keras.layers.Dropout,
    keras.layers.GaussianNoise,
    keras.layers.GaussianDropout,
    keras.layers.AlphaDropout,
    keras.layers.Identity,
    keras.layers.Rescaling,
    keras.layers.Add,
    keras.layers.Subtract,
    keras.layers.Multiply,
    keras.layers.Average,
    keras.layers.Maximum,
    keras.layers.Minimum,
)
# Layers that act on one axis: stepwise when that axis is the last one.
_LAST_AXIS_LAYERS = (
    keras.layers.LayerNormalization,
    keras.layers.BatchNormalization,
    keras.layers.Softmax,
    keras.layers.Concatenate,
    keras.layers.Normalization,
)


def _is_last_axis(layer: Any) -> bool:
    axis = layer.axis
    axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
    rank = len(layer.input.shape) if isinstance(layer.input, keras.KerasTensor) else None
    return all(a == -1 or (rank is not None and a == rank - 1) for a in axes)


def _cannot_step(layer: Any, why: str) -> ValueError:
    return ValueError(
        f"Cannot run layer '{layer.name}' ({type(layer).__name__}) one time step at a "
        f"time: {why}"
    )


def _graph(model: keras.Model) -> Any:
    """The functional graph of a Functional or built Sequential model."""
    if isinstance(model, keras.Sequential):
        # A built Sequential model keeps its layers as a Functional graph here.
        graph = getattr(model, "_functional", None)
        if graph is None:
            raise ValueError(
                "Received an invalid value for argument `model`, expected a built model, got "
                f"Sequential model '{model.name}' with no input shape. Start it with "
                "`keras.Input(shape=(None, features))` or call it once on data."
            )
        return graph
    if not hasattr(model, "_run_through_graph") or not hasattr(model, "inputs"):
        raise ValueError(
            "Received an invalid value for argument `model`, expected a Sequential or "
            f"functional keras.Model, got {type(model).__name__} '{getattr(model, 'name', '')}'. "
            "A subclassed model has no graph to step through; rebuild it with the "
            "functional API."
        )
    return model


class StepProgram:
    """One time step of a Sequential or functional model, states in and states out.

    Args:
        model: A built Sequential or functional ``keras.Model`` whose inputs all have a
            time axis at position 1 (``(batch, time, ...)``), such as
            ``keras.Sequential([keras.Input((None, 3)), lt.LTC(19), keras.layers.Dense(1)])``
            or a functional model with a second input ``elapsed_time`` of shape
            ``(batch, time)`` passed to its layers.

    Attributes:
        input_specs: ``(shape, dtype)`` of each per-step input, the model's inputs
            without their time axis (``None`` for the batch size).
        uses_elapsed_time: Whether some liquidtime layer of the model receives no
            elapsed time from the model itself (a Sequential model, say); the step
            then takes one elapsed time ``(batch,)`` for all such layers.
        state_sizes: Size of each state, the layers' states concatenated in graph order.
        output_has_time: For each model output, whether it has a time axis.

    Raises:
        ValueError: For a model with a layer that cannot be stepped (naming it).
    """

    def __init__(self, model: keras.Model):
        self.model = model
        self._graph = _graph(model)
        for layer in self._graph.operations:
            if isinstance(layer, keras.Model):
                raise _cannot_step(
                    layer,
                    "nested models are not stepped through; build one functional model "
                    "from their layers.",
                )
        self.input_specs = []
        for tensor in self._graph.inputs:
            if len(tensor.shape) < 2:
                raise ValueError(
                    "Received an invalid value for argument `model`, expected inputs with a "
                    f"time axis (batch, time, ...), got input '{tensor.name}' of shape "
                    f"{tuple(tensor.shape)}."
                )
            self.input_specs.append(((None, *tensor.shape[2:]), tensor.dtype))
        self.compute_dtype = keras.backend.floatx()
        inputs = [np.zeros((1, *shape[1:]), dtype=dtype) for shape, dtype in self.input_specs]
        self._dry_run = True
        self.uses_elapsed_time = False
        self.state_sizes: list[int] = []
        outputs, flags, _ = self(inputs, np.ones((1,), self.compute_dtype), None)
        self._dry_run = False
        self.output_has_time = flags
        self.num_outputs = len(outputs)

    def initial_states(self, batch_size: int) -> list[Any]:
        """Zero states for a batch of ``batch_size`` sequences."""
        return [ops.zeros((batch_size, size), dtype=self.compute_dtype) for size in self.state_sizes]

    def __call__(
        self, inputs: list[Any], elapsed_time: Any, states: list[Any] | None
    ) -> tuple[list[Any], list[bool], list[Any]]:
        """Computes one time step.

        Args:
            inputs: The per-step inputs (one per model input, each ``(batch, ...)``).
            elapsed_time: ``(batch,)`` elapsed time for the layers the model feeds
                none (ignored when :attr:`uses_elapsed_time` is False).
            states: The states (see :attr:`state_sizes`), or None for zeros.

        Returns:
            ``(outputs, output_has_time, new_states)``: the model's outputs at this step
            (flat list), for each whether it has a time axis, and the new states.
        """
        has_time: dict[int, bool] = {}
        keep_alive: list[Any] = []  # ids of tensors must stay unique during the walk
        new_states: list[Any] = []
        counter = [0]
        if states is not None:
            states = list(states)

        def flag(tensor: Any, value: bool) -> None:
            keep_alive.append(tensor)
            has_time[id(tensor)] = value

        def time_of(layer: Any, tensors: list[Any]) -> bool:
            flags = {has_time.get(id(t), True) for t in tensors}
            if len(flags) > 1:
                raise _cannot_step(
                    layer,
                    "it combines tensors with a time axis and tensors without one (the "
                    "last output of a recurrent layer with return_sequences=False), which "
                    "broadcasts differently over a sequence than over one step.",
                )
            return flags.pop()

        def call_fn(layer: Any, *args: Any, **kwargs: Any) -> Any:
            tensors = [t for t in keras.tree.flatten((args, kwargs)) if hasattr(t, "shape")]
            if isinstance(layer, keras.layers.Bidirectional):
                raise _cannot_step(
                    layer,
                    "a Bidirectional layer reads the sequence backwards from its end, which "
                    "a stream does not have yet. Use a forward-only recurrent layer.",
                )
            if isinstance(layer, keras.layers.RNN):
                if not time_of(layer, [args[0]]):
                    raise _cannot_step(layer, "its input has no time axis.")
                return rnn_step(layer, args, kwargs)
            if isinstance(layer, keras.layers.TimeDistributed):
                result = layer.layer(args[0], training=False)
            elif isinstance(layer, _STEPWISE_LAYERS) or (
                isinstance(layer, _LAST_AXIS_LAYERS) and _is_last_axis(layer)
            ):
                result = layer(*args, **kwargs)
            else:
                raise _cannot_step(
                    layer,
                    "it may combine several time steps (liquidtime steps through recurrent "
                    "layers and layers that act on each step alone: Dense, activations, "
                    "normalisation on the last axis, merges, TimeDistributed).",
                )
            value = time_of(layer, tensors)
            for tensor in keras.tree.flatten(result):
                flag(tensor, value)
            return result

        def rnn_step(layer: keras.layers.RNN, args: tuple, kwargs: dict) -> Any:
            x = args[0]
            if layer.go_backwards:
                raise _cannot_step(layer, "it has go_backwards=True.")
            if kwargs.get("initial_state") is not None or len(args) > 1:
                raise _cannot_step(
                    layer,
                    "its initial state comes from the model's graph; the stream carries "
                    "the states instead (set Stepper.state).",
                )
            if kwargs.get("mask") is not None or getattr(x, "_keras_mask", None) is not None:
                raise _cannot_step(layer, "it receives a mask; masks are not streamed.")
            cell = layer.cell
            sizes = cell.state_size if isinstance(cell.state_size, (list, tuple)) else [cell.state_size]
            if not all(isinstance(size, int) for size in sizes):
                raise _cannot_step(layer, f"its cell has nested state sizes {cell.state_size}.")
            batch = ops.shape(x)[0]
            if self._dry_run:
                self.state_sizes.extend(sizes)
                layer_states = cell.get_initial_state(batch_size=batch)
                layer_states = (
                    list(layer_states) if isinstance(layer_states, (list, tuple)) else [layer_states]
                )
            elif states is None:
                layer_states = [ops.zeros((batch, size), dtype=self.compute_dtype) for size in sizes]
            else:
                layer_states = states[counter[0] : counter[0] + len(sizes)]
            counter[0] += len(sizes)
            if isinstance(layer, ContinuousTimeRNN):
                if cell.elapsed_time_as_feature:
                    x, step_time = x[..., :-1], x[..., -1:]
                elif kwargs.get("elapsed_time") is not None:
                    step_time = kwargs["elapsed_time"]
                    if not isinstance(step_time, (int, float)):
                        step_time = ops.reshape(step_time, (-1, 1))
                else:
                    if self._dry_run:
                        self.uses_elapsed_time = True
                    step_time = ops.reshape(elapsed_time, (-1, 1))
                if not isinstance(step_time, (int, float)):
                    step_time = ops.cast(step_time, cell.compute_dtype)
                cell.check_input_features(x)
                constants = cell.sequence_constants(batch, False)
                output, layer_new = cell.transition(
                    cell.sequence_inputs(x), list(layer_states), step_time, constants, False
                )
            else:
                output, layer_new = cell(x, list(layer_states), training=False)
            layer_new = list(layer_new) if isinstance(layer_new, (list, tuple)) else [layer_new]
            new_states.extend(layer_new)
            for state in layer_new:
                flag(state, False)
            # After the states: a Keras cell's output may be one of its states.
            flag(output, bool(layer.return_sequences))
            if layer.return_state:
                return [output, *layer_new]
            return output

        outputs = self._graph._run_through_graph(inputs, call_fn=call_fn)
        outputs = keras.tree.flatten(outputs)
        flags = [has_time.get(id(output), True) for output in outputs]
        return outputs, flags, new_states

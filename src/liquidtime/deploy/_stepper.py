"""Streaming: a model advanced one time step per call, carrying its recurrent states."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from keras import ops

from liquidtime._validation import positive_int
from liquidtime.deploy._program import StepProgram
from liquidtime.layers.elapsed_time import check_elapsed_time_values


def compile_step(program: StepProgram, batch_size: int) -> Any:
    """The program's step for ``batch_size`` streams, compiled once for the backend.

    Returns ``fn(inputs, elapsed_time, states) -> (outputs, new_states)`` taking NumPy
    inputs and elapsed times and backend states: ``jax.jit`` on JAX; on TensorFlow the
    concrete function of a ``tf.function`` with XLA (``jit_compile=True``); on PyTorch
    the step traced by ``torch.export`` (non-strict) and compiled by ``torch.compile``.
    The weights are read when the step is traced: a model trained further needs a new
    step.
    """
    backend = keras.backend.backend()

    def step(inputs, elapsed_time, states):
        outputs, _, new_states = program(list(inputs), elapsed_time, list(states))
        return outputs, new_states

    examples = (
        [np.zeros((batch_size, *shape[1:]), dtype) for shape, dtype in program.input_specs],
        np.ones((batch_size,), program.compute_dtype),
        program.initial_states(batch_size),
    )
    if backend == "jax":
        import jax

        return jax.jit(step)
    if backend == "tensorflow":
        import tensorflow as tf

        # Calling the concrete function skips tf.function's argument matching (~2x faster).
        concrete = tf.function(step, jit_compile=True).get_concrete_function(
            *tf.nest.map_structure(tf.convert_to_tensor, examples)
        )
        return lambda inputs, elapsed_time, states: concrete(
            [tf.convert_to_tensor(x) for x in inputs], tf.convert_to_tensor(elapsed_time), states
        )
    if backend == "torch":
        import torch

        count = len(examples[0])

        class Step(torch.nn.Module):
            def __init__(self, model):
                super().__init__()
                self.model = model  # registers the weights as parameters

            def forward(self, elapsed_time, *tensors):
                outputs, new_states = step(tensors[:count], elapsed_time, tensors[count:])
                return (*outputs, *new_states)

        def to_torch(x):
            return torch.from_numpy(np.asarray(x))

        arguments = (to_torch(examples[1]), *map(to_torch, examples[0]), *examples[2])
        with torch.no_grad():
            traced = torch.export.export(Step(program.model), arguments, strict=False).module()
        compiled = torch.compile(traced)
        outputs = program.num_outputs

        def run(inputs, elapsed_time, states):
            with torch.no_grad():
                flat = compiled(to_torch(elapsed_time), *map(to_torch, inputs), *states)
            return list(flat[:outputs]), list(flat[outputs:])

        return run
    raise ValueError(
        f"Streaming supports the jax, tensorflow and torch backends, got {backend!r}."
    )


class Stepper:
    """Runs a sequence model one time step per call, for control loops and streams.

    ``step`` advances every recurrent layer of the model by one step and returns the
    model's outputs for that step; after ``T`` steps from zero states they equal the
    model's outputs on the whole sequence of ``T`` steps (to float rounding): the
    ``t``-th step of an output with a time axis, the output itself for one without.
    The step is compiled once (``jax.jit``, ``tf.function``, ``torch.compile``).

    Args:
        model: A Sequential or functional ``keras.Model`` of sequences ``(batch, time,
            ...)``: liquidtime layers (LTC, CfC, CTRNN, NeuralODE, CTGRU, with or
            without ``mixed_memory``), ``keras.layers.LSTM``/``GRU``/``SimpleRNN``,
            stacked, and layers that act on each step alone (``Dense``, activations,
            ...). ``Bidirectional`` and ``go_backwards`` cannot stream and are refused.
        batch_size: Number of independent streams stepped together (default 1).

    Example:

    ```python
    stepper = Stepper(model)              # model: (batch, time, 3) -> (batch, time, 1)
    for x_t, dt in sensor_stream:         # x_t: (1, 3), dt: seconds since the last sample
        y_t = stepper.step(x_t, elapsed_time=dt)  # (1, 1)
    stepper.reset()                       # zero states for a new episode
    ```
    """

    def __init__(self, model: keras.Model, batch_size: int = 1):
        self.batch_size = positive_int("batch_size", batch_size)
        self.program = StepProgram(model)
        self._step = compile_step(self.program, batch_size)
        self._input_shapes = [(batch_size, *shape[1:]) for shape, _ in self.program.input_specs]
        self._input_dtypes = [dtype for _, dtype in self.program.input_specs]
        self._unit_time = np.ones((batch_size,), self.program.compute_dtype)
        self.reset()

    def _step_time(self, elapsed_time: Any) -> np.ndarray:
        """``elapsed_time`` as a checked ``(batch_size,)`` array."""
        if elapsed_time is None:
            return self._unit_time
        if not self.program.uses_elapsed_time:
            raise ValueError(
                "Received an invalid value for argument `elapsed_time`: the model passes "
                "elapsed times to all its layers itself (or has no liquidtime layer); give "
                "them in `inputs` instead."
            )
        step_time = np.asarray(elapsed_time, dtype=self.program.compute_dtype)
        if step_time.shape != self._unit_time.shape:
            if step_time.ndim:
                raise ValueError(
                    "Received an invalid value for argument `elapsed_time`, expected a scalar "
                    f"or an array of shape {self._unit_time.shape}, got shape {step_time.shape}."
                )
            step_time = np.full(self._unit_time.shape, step_time)
        if not (step_time >= 0).all() or not np.isfinite(step_time).all():
            check_elapsed_time_values(step_time)  # raises, naming what is wrong
        return step_time

    def reset(self) -> None:
        """Sets every state to zero (a new stream starts)."""
        self._states = self.program.initial_states(self.batch_size)

    @property
    def state(self) -> list[np.ndarray]:
        """The states as NumPy arrays, each ``(batch_size, size)``, layers in graph order."""
        return [np.asarray(ops.convert_to_numpy(s)) for s in self._states]

    @state.setter
    def state(self, values: Sequence[Any]) -> None:
        values = list(values)
        expected = [(self.batch_size, size) for size in self.program.state_sizes]
        shapes = [tuple(np.shape(v)) for v in values]
        if shapes != expected:
            raise ValueError(
                "Received an invalid value for argument `state`, expected arrays of shapes "
                f"{expected}, got shapes {shapes}."
            )
        self._states = [ops.convert_to_tensor(np.asarray(v), self.program.compute_dtype) for v in values]

    def step(self, inputs: Any, elapsed_time: Any = None) -> Any:
        """Advances the model by one time step.

        Args:
            inputs: This step's input, ``(batch_size, features)`` (a list of arrays, one
                per model input, for a model with several inputs, such as a functional
                model that also takes its elapsed times as an input).
            elapsed_time: Time since the previous step, a scalar or ``(batch_size,)``,
                for the liquidtime layers to which the model itself passes no elapsed
                time (default 1.0). Must be finite and >= 0.

        Returns:
            The model's output(s) at this step as NumPy arrays (a list for several).
        """
        inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        specs = self.program.input_specs
        if len(inputs) != len(specs):
            raise ValueError(
                f"Received an invalid value for argument `inputs`, expected {len(specs)} "
                f"array(s), one per model input, got {len(inputs)}."
            )
        arrays = []
        for value, shape, dtype in zip(inputs, self._input_shapes, self._input_dtypes):
            array = np.asarray(value, dtype=dtype)
            if array.shape != shape:
                raise ValueError(
                    "Received an invalid value for argument `inputs`, expected an array of "
                    f"shape {shape} (one time step), got shape {array.shape}."
                )
            arrays.append(array)
        outputs, self._states = self._step(arrays, self._step_time(elapsed_time), self._states)
        # np.asarray reads JAX, TensorFlow and (CPU, no-grad) PyTorch tensors alike.
        outputs = [np.asarray(o) for o in outputs]
        return outputs[0] if len(outputs) == 1 else outputs

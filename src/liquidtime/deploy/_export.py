"""Export of a model's step function (states in, states out) or of its whole sequence."""

from __future__ import annotations

import importlib.util
import os
from typing import Any

import keras
import numpy as np
from keras import ops

from liquidtime._backend_ops import scan
from liquidtime._validation import one_of
from liquidtime.deploy._program import StepProgram

FORMATS = ("onnx", "tf_saved_model", "litert", "stablehlo")
FUNCTIONS = ("step", "sequence")

# The runtime each format's artefact is run by, and the packages its export needs.
_EXPORT_PACKAGES = {
    "onnx": ("onnx", "onnxruntime"),
    "tf_saved_model": ("tensorflow",),
    "litert": ("tensorflow",),  # and litert_torch on PyTorch
    "stablehlo": ("jax",),
}
_ONNX_BACKEND_PACKAGES = {"jax": ("jax2onnx",), "tensorflow": ("tf2onnx",), "torch": ("onnxscript",)}

# Formats that hold a loop whose trip count is the input's time axis (a while loop
# that the exporter keeps): the sequence function is correct for every length.
# ONNX and LiteRT exporters unroll or fix the loop for the traced length on some
# backends (Keras's own LSTM included), so only the step function is exported there.
_SEQUENCE_FORMATS = {"stablehlo": ("jax",), "tf_saved_model": ("tensorflow", "jax")}


def missing_packages(format: str) -> list[str]:
    """Packages that exporting to (and running) ``format`` needs and that are not installed."""
    one_of("format", format, FORMATS)
    needed = list(_EXPORT_PACKAGES[format])
    if format == "onnx":
        needed += _ONNX_BACKEND_PACKAGES.get(keras.backend.backend(), ())
    if format == "litert" and keras.backend.backend() == "torch":
        needed.append("litert_torch")
    return [name for name in needed if importlib.util.find_spec(name) is None]


def step_signature(program: StepProgram, batch_size: int | None) -> dict[str, tuple[tuple, str]]:
    """Names, shapes and dtypes of the step function's inputs.

    ``input_<i>`` for each per-step model input ``(batch, ...)``, ``elapsed_time``
    ``(batch,)`` when the model takes one, ``state_<i>`` ``(batch, size)`` for each state.
    """
    signature = {
        f"input_{i}": ((batch_size, *shape[1:]), dtype)
        for i, (shape, dtype) in enumerate(program.input_specs)
    }
    if program.uses_elapsed_time:
        signature["elapsed_time"] = ((batch_size,), program.compute_dtype)
    for i, size in enumerate(program.state_sizes):
        signature[f"state_{i}"] = ((batch_size, size), program.compute_dtype)
    return _sorted(signature)


def _sorted(named: dict[str, Any]) -> dict[str, Any]:
    """``named`` with its keys in sorted order.

    Exporters flatten a dict either in insertion order (PyTorch) or by sorted keys
    (JAX, TensorFlow); with sorted keys both give one order, which names the ONNX
    graph's inputs and outputs (:func:`_name_onnx_graph`).
    """
    return {key: named[key] for key in sorted(named)}


def sequence_signature(program: StepProgram, batch_size: int | None) -> dict[str, tuple[tuple, str]]:
    """Names, shapes and dtypes of the sequence function's inputs (time axis of any length).

    ``input_<i>`` ``(batch, time, ...)`` for each model input and ``elapsed_time``
    ``(batch, time)`` when the model takes one.
    """
    signature = {
        f"input_{i}": ((batch_size, None, *shape[1:]), dtype)
        for i, (shape, dtype) in enumerate(program.input_specs)
    }
    if program.uses_elapsed_time:
        signature["elapsed_time"] = ((batch_size, None), program.compute_dtype)
    return _sorted(signature)


def run_step(program: StepProgram, arguments: dict[str, Any]) -> dict[str, Any]:
    """The step function: ``arguments`` as named by :func:`step_signature`.

    Returns:
        ``output_<i>`` for each model output and ``new_state_<i>`` for each state.
    """
    inputs = [arguments[f"input_{i}"] for i in range(len(program.input_specs))]
    states = [arguments[f"state_{i}"] for i in range(len(program.state_sizes))]
    outputs, _, new_states = program(inputs, arguments.get("elapsed_time", 1.0), states)
    result = {f"output_{i}": output for i, output in enumerate(outputs)}
    result.update({f"new_state_{i}": state for i, state in enumerate(new_states)})
    return _sorted(result)


def run_sequence(program: StepProgram, arguments: dict[str, Any]) -> dict[str, Any]:
    """The whole model over a sequence: the step function in the backend's scan.

    Args:
        program: The model's step program.
        arguments: As named by :func:`sequence_signature`.

    Returns:
        ``output_<i>`` for each model output: ``(batch, time, ...)`` for an output with
        a time axis, else its value at the last step.
    """
    count = len(program.input_specs)
    time_major = {
        f"input_{i}": ops.moveaxis(arguments[f"input_{i}"], 1, 0) for i in range(count)
    }
    if program.uses_elapsed_time:
        time_major["elapsed_time"] = ops.moveaxis(arguments["elapsed_time"], 1, 0)
    batch = ops.shape(arguments["input_0"])[0]
    states = program.initial_states(batch)
    has_time = program.output_has_time

    def step(carry, x_t):
        states, last = carry
        outputs, _, new_states = program(
            [x_t[f"input_{i}"] for i in range(count)], x_t.get("elapsed_time", 1.0), states
        )
        last = [o if not t else previous for o, t, previous in zip(outputs, has_time, last)]
        return (new_states, last), [o for o, t in zip(outputs, has_time) if t]

    # The outputs without a time axis start as zeros of their per-step shape.
    first = program([x[0] for x in (time_major[f"input_{i}"] for i in range(count))],
                    time_major.get("elapsed_time", [1.0])[0], states)[0]
    last = [ops.zeros_like(o) for o in first]
    (_, last), stacked = scan(step, (states, last), time_major)
    stacked = iter(ops.moveaxis(y, 0, 1) for y in stacked)
    return _sorted(
        {f"output_{i}": next(stacked) if t else last[i] for i, t in enumerate(has_time)}
    )


class _Deployable(keras.Model):
    """The step or sequence function as a Keras model, for Keras's exporters.

    It holds the original model (so its weights are tracked and exported) and calls
    :func:`run_step` or :func:`run_sequence` on a dict of named inputs.
    """

    def __init__(self, program: StepProgram, function: str):
        super().__init__(name=f"{program.model.name}_{function}")
        self.wrapped = program.model
        self._program = program
        self._function = run_step if function == "step" else run_sequence

    def call(self, inputs: dict[str, Any]) -> dict[str, Any]:
        return self._function(self._program, inputs)


def export(
    model: keras.Model,
    filepath: str | os.PathLike,
    format: str,
    function: str = "step",
    batch_size: int | None = 1,
    verbose: bool = False,
) -> str:
    """Exports a sequence model for inference outside Keras.

    ``function="step"`` exports one time step with the states as inputs and outputs,

        (output_0.., new_state_0..) = step(input_0.., elapsed_time, state_0..),

    which every format holds exactly; the caller runs the loop (``docs/deployment.md``
    shows it for each runtime), starting from zero states. ``function="sequence"``
    exports the whole model for sequences of any length, with per-step elapsed times
    as an input; only formats whose exporter keeps a loop over a time axis of unknown
    length hold it (``stablehlo``, and ``tf_saved_model`` on JAX and TensorFlow); the
    others are refused rather than writing an artefact that is only right for one
    length.

    Args:
        model: A built Sequential or functional ``keras.Model`` whose inputs are
            sequences ``(batch, time, ...)`` (see :class:`~liquidtime.deploy.Stepper`
            for the layers it may contain).
        filepath: Where to write: a ``.onnx``, ``.tflite`` or StableHLO file, or a
            SavedModel directory.
        format: ``"onnx"``, ``"tf_saved_model"``, ``"litert"`` (TFLite) or
            ``"stablehlo"`` (``jax.export``, JAX backend).
        function: ``"step"`` (default) or ``"sequence"``.
        batch_size: Batch size of the artefact's inputs, or None for any (not with
            ONNX and LiteRT on PyTorch, whose exporters need fixed shapes).
        verbose: Let the underlying exporter print its progress.

    Returns:
        ``filepath`` as a string.

    Raises:
        ValueError: For an unknown format or function, a format that cannot hold the
            sequence loop, or a model that contains a layer that cannot be stepped.
        ImportError: When a package the format needs is not installed.
    """
    one_of("format", format, FORMATS)
    one_of("function", function, FUNCTIONS)
    if batch_size is not None and (
        not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1
    ):
        raise ValueError(
            "Received an invalid value for argument `batch_size`, expected a positive "
            f"integer or None, got {batch_size!r}."
        )
    backend = keras.backend.backend()
    if format == "stablehlo" and backend != "jax":
        raise ValueError(
            "Received an invalid value for argument `format`: 'stablehlo' is written by "
            f"jax.export and needs the JAX backend, got the {backend!r} backend. Set "
            "KERAS_BACKEND=jax (weights saved with model.save load on every backend)."
        )
    if function == "sequence" and backend not in _SEQUENCE_FORMATS.get(format, ()):
        raise ValueError(
            f"Received an invalid value for argument `function`: format {format!r} on the "
            f"{backend!r} backend cannot hold a loop over a time axis of any length (its "
            "exporter fixes the loop to the traced length, which would give wrong outputs "
            "for other lengths). Export function='step' and run the loop yourself (see "
            "docs/deployment.md), or use "
            + " / ".join(f"{f!r} on {', '.join(b)}" for f, b in _SEQUENCE_FORMATS.items())
            + "."
        )
    if batch_size is None and backend == "torch" and format in ("onnx", "litert"):
        raise ValueError(
            "Received an invalid value for argument `batch_size`: Keras exports "
            f"{format!r} on PyTorch with fixed shapes only; give a batch size, got None."
        )
    if format == "litert" and backend == "jax":
        raise ValueError(
            "Received an invalid value for argument `format`: Keras writes 'litert' on the "
            "TensorFlow and PyTorch backends only, got the 'jax' backend. Set "
            "KERAS_BACKEND=tensorflow (weights saved with model.save load on every backend)."
        )
    missing = missing_packages(format)
    if missing:
        raise ImportError(
            f"Exporting to {format!r} on the {backend!r} backend needs "
            f"{', '.join(missing)}, which are not installed. Install them with "
            "`pip install 'liquidtime[deploy]'`."
        )
    program = StepProgram(model)
    filepath = os.fspath(filepath)
    signature = (step_signature if function == "step" else sequence_signature)(program, batch_size)
    if format == "stablehlo":
        _export_stablehlo(program, function, signature, filepath)
        return filepath
    deployable = _Deployable(program, function)
    example = {
        name: np.ones([1 if d is None else d for d in shape], dtype)
        for name, (shape, dtype) in signature.items()
    }
    deployable(example)
    input_signature = [
        {name: keras.InputSpec(shape=shape, dtype=dtype) for name, (shape, dtype) in signature.items()}
    ]
    if format == "litert" and backend == "tensorflow":
        import tensorflow as tf

        # Named specs: Keras's LiteRT signature then names its inputs as ours, not args_0...
        input_signature = [
            {name: tf.TensorSpec(shape, dtype, name=name) for name, (shape, dtype) in signature.items()}
        ]
    options = {}
    if backend == "jax" and format == "tf_saved_model":
        # One symbol per axis kind, so that jax2tf knows every input shares the time axis.
        polymorphic = {
            name: "(" + ", ".join("batch" if i == 0 and d is None else "time" if d is None else str(d)
                                  for i, d in enumerate(shape)) + ")"
            for name, (shape, _) in signature.items()
        }
        options["jax2tf_kwargs"] = {"polymorphic_shapes": [polymorphic]}
    deployable.export(
        filepath, format=format, verbose=verbose, input_signature=input_signature, **options
    )
    if format == "onnx":
        outputs = deployable(example)
        _name_onnx_graph(filepath, keras.tree.flatten(list(signature)), keras.tree.flatten(list(outputs)))
    return filepath


def _export_stablehlo(program: StepProgram, function: str, signature: dict, filepath: str) -> None:
    """Serialises ``jax.export`` of the function with symbolic batch and time sizes.

    Its arguments are positional: ``input_*``, then ``elapsed_time``, then ``state_*``;
    its results ``output_*`` then ``new_state_*``.
    """
    import jax

    run = run_step if function == "step" else run_sequence
    names = sorted(signature, key=_argument_order)
    symbols = iter(jax.export.symbolic_shape("batch, time"))
    batch_dim, time_dim = next(symbols), next(symbols)

    def spec(shape, dtype):
        dims = [
            (batch_dim if axis == 0 else time_dim) if d is None else d
            for axis, d in enumerate(shape)
        ]
        return jax.ShapeDtypeStruct(dims, dtype)

    specs = [spec(*signature[name]) for name in names]

    def fn(*arrays):
        result = run(program, dict(zip(names, arrays)))
        return [result[key] for key in sorted(result, key=_output_order)]

    exported = jax.export.export(jax.jit(fn))(*specs)
    with open(filepath, "wb") as file:
        file.write(exported.serialize())


def _argument_order(name: str) -> tuple[int, int]:
    """StableHLO's positional arguments: ``input_*``, ``elapsed_time``, ``state_*``."""
    if name == "elapsed_time":
        return (1, 0)
    kind, index = name.rsplit("_", 1)
    return (0 if kind == "input" else 2, int(index))


def _output_order(name: str) -> tuple[int, int]:
    """``output_*`` before ``new_state_*``, each by index."""
    kind, index = name.rsplit("_", 1)
    return (0 if kind == "output" else 1, int(index))


def _name_onnx_graph(filepath: str, input_names: list[str], output_names: list[str]) -> None:
    """Gives the ONNX graph's inputs and outputs the names of :func:`step_signature`.

    Keras's ONNX exporters name them by position or with backend prefixes; they come in
    the order of the input and output dicts, whose keys are sorted (:func:`_sorted`).
    """
    import onnx

    model = onnx.load(filepath)
    graph = model.graph
    initializers = {init.name for init in graph.initializer}
    graph_inputs = [value for value in graph.input if value.name not in initializers]
    renames = {}
    for value, name in zip(graph_inputs, sorted(input_names)):
        renames[value.name] = name
    for value, name in zip(graph.output, sorted(output_names)):
        renames[value.name] = name
    for value in [*graph_inputs, *graph.output]:
        value.name = renames[value.name]
    for node in graph.node:
        node.input[:] = [renames.get(name, name) for name in node.input]
        node.output[:] = [renames.get(name, name) for name in node.output]
    onnx.save(model, filepath)


"""The liquid time constant ``tau_sys`` along the state trajectory of a sequence."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from liquidtime._backend_ops import scan
from liquidtime.cells.base import ContinuousTimeCell
from liquidtime.layers.base import ContinuousTimeRNN
from liquidtime.layers.elapsed_time import prepare_elapsed_time


def _layer_and_cell(layer: Any) -> tuple[ContinuousTimeRNN | None, ContinuousTimeCell]:
    if isinstance(layer, ContinuousTimeRNN) and isinstance(layer.cell, ContinuousTimeCell):
        return layer, layer.cell
    if isinstance(layer, ContinuousTimeCell):
        return None, layer
    raise ValueError(
        "Received an invalid value for argument `layer`, expected a continuous-time "
        "liquidtime sequence layer (e.g. `LTC`) or cell, got "
        f"{layer!r}."
    )


def state_and_time_constants(
    layer: Any,
    inputs: Any,
    elapsed_time: Any = None,
    initial_state: Any = None,
) -> tuple[Any, Any]:
    """Runs a continuous-time layer and returns its states and liquid time constants.

    For input step ``t`` (``t = 1..T``), with state ``x_{t-1}`` at the start of the
    step and input ``I_t``, the cell's decay-drive form gives
    ``dx/dt = -a(x_{t-1}, I_t) x + b(x_{t-1}, I_t)`` and

        tau_sys[:, t] = 1 / a(x_{t-1}, I_t),

    the time constant that governs step ``t`` as it begins (the one the fused and
    Euler solvers use for their first sub-step). With ``ode_unfolds > 1`` the
    solver also visits sub-step states; ``tau_sys`` is defined at input-step states
    only. ``states[:, t]`` is ``x_t``, the state at the end of step ``t``, exactly as
    the layer with ``return_sequences=True`` returns it.

    The loop is one backend scan (``cell.project_inputs`` and
    ``cell.sequence_inputs`` once on the whole sequence, then ``cell.transition``
    per step), as in the sequence layer.
    Masks are not supported; ``go_backwards`` is honoured.

    Args:
        layer: A built ``ContinuousTimeRNN`` (``LTC``, ...) whose cell is a
            ``ContinuousTimeCell``, or such a cell.
        inputs: ``(batch, time, features)``; with ``elapsed_time_as_feature`` the last
            feature is the elapsed time.
        elapsed_time: None (1.0), a scalar, or ``(batch, time)`` / ``(batch, time, 1)``.
        initial_state: Optional ``(batch, units)`` initial state (default zeros).

    Returns:
        ``(states, tau_sys)``, each ``(batch, time, units)`` in the cell's compute dtype.
    """
    seq_layer, cell = _layer_and_cell(layer)
    if not cell.built:
        raise ValueError(
            f"{type(cell).__name__} '{cell.name}' is not built yet; call the layer on data first."
        )
    inputs = ops.convert_to_tensor(inputs, dtype=cell.compute_dtype)
    if len(inputs.shape) != 3:
        raise ValueError(
            "Received an invalid value for argument `inputs`, expected a tensor of rank 3 "
            f"(batch, time, features), got shape {tuple(inputs.shape)}."
        )
    if cell.elapsed_time_as_feature:
        if elapsed_time is not None:
            raise ValueError(
                "The cell reads the elapsed time from the last input feature "
                "(`elapsed_time_as_feature=True`); do not also pass `elapsed_time`."
            )
        elapsed_time = inputs[..., -1]
        inputs = inputs[..., :-1]
    cell.check_input_features(inputs)
    elapsed_time = prepare_elapsed_time(elapsed_time, inputs, cell.compute_dtype)
    if seq_layer is not None and seq_layer.go_backwards:
        inputs = ops.flip(inputs, axis=1)
        if not isinstance(elapsed_time, float):
            elapsed_time = ops.flip(elapsed_time, axis=1)
    batch_size = ops.shape(inputs)[0]
    if initial_state is None:
        states0 = cell.get_initial_state(batch_size)
    else:
        given = initial_state if isinstance(initial_state, (list, tuple)) else [initial_state]
        states0 = [ops.cast(s, cell.compute_dtype) for s in given]

    # decay_and_drive reads the projected inputs, transition the loop's sequence inputs
    # (the same unless the cell finishes its input work inside the loop).
    constants = cell.sequence_constants(batch_size, training=False)
    time_major = lambda t: keras.tree.map_structure(lambda x: ops.moveaxis(x, 1, 0), t)  # noqa: E731
    per_step = {
        "projected": time_major(cell.project_inputs(inputs)),
        "sequence": time_major(cell.sequence_inputs(inputs)),
    }
    if not isinstance(elapsed_time, float):
        per_step["elapsed_time"] = time_major(elapsed_time)

    def step(states, xs):
        decay, _ = cell.decay_and_drive(states[0], xs["projected"], constants)
        _, new_states = cell.transition(
            xs["sequence"], list(states), xs.get("elapsed_time", elapsed_time), constants, False
        )
        return list(new_states), (new_states[0], 1.0 / decay)

    _, (states, tau_sys) = scan(step, list(states0), per_step)
    return ops.moveaxis(states, 0, 1), ops.moveaxis(tau_sys, 0, 1)


def liquid_time_constants(
    layer: Any, inputs: Any, elapsed_time: Any = None, initial_state: Any = None
) -> Any:
    """The liquid time constant ``tau_sys = 1 / a`` of every neuron at every input step.

    See :func:`state_and_time_constants` for the definition (``tau_sys[:, t]`` is
    evaluated at the state that starts step ``t`` and the input of step ``t``).

    Args:
        layer: A continuous-time sequence layer (``LTC``, ...) or cell.
        inputs: ``(batch, time, features)``.
        elapsed_time: None, a scalar, or ``(batch, time)`` / ``(batch, time, 1)``.
        initial_state: Optional ``(batch, units)`` initial state.

    Returns:
        ``(batch, time, units)`` tensor of ``tau_sys``.
    """
    return state_and_time_constants(layer, inputs, elapsed_time, initial_state)[1]

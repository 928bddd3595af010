"""The sequence layer shared by every liquidtime model: one scan, elapsed time, masks."""

from __future__ import annotations

import inspect
from typing import Any

import keras
from keras import ops

from liquidtime._backend_ops import checkpoint, scan
from liquidtime.cells import validation
from liquidtime.cells.base import BaseCell
from liquidtime.layers.checks import check_not_empty, check_stateful_batch
from liquidtime.layers.elapsed_time import prepare_elapsed_time
from liquidtime.solvers import failure_policy
from liquidtime.solvers.report import SolverReport, report_solver_failures


@keras.saving.register_keras_serializable(package="liquidtime")
class ContinuousTimeRNN(keras.layers.RNN):
    """Runs a liquidtime cell over whole sequences, with per-step elapsed times.

    Unlike ``keras.layers.RNN``, which calls the cell's full step at every time
    step, this layer first calls ``cell.sequence_inputs`` once on the whole input
    sequence (the input-only work, such as ``I gamma`` for every step, becomes one
    batched matmul) and ``cell.sequence_constants`` once per call, then runs
    ``cell.transition`` in the backend's scan (``lax.scan`` on JAX, a ``tf.while_loop``
    on TensorFlow; see :mod:`liquidtime._backend_ops`). There is no Python loop over time steps
    on JAX and TensorFlow. A cell may instead compute the whole (unmasked) sequence
    itself (``cell.fused_scan``; the CfC does on JAX, with a hand-written backward
    pass), in which case ``unroll`` does not apply. The cell's ``implementation``
    argument chooses (``"reference"``: always scan ``transition``; see
    :mod:`liquidtime.kernels.selection`).

    It keeps ``keras.layers.RNN``'s contract: ``return_sequences``,
    ``return_state``, ``go_backwards``, ``stateful``, ``initial_state``, masks,
    and works inside ``keras.layers.Bidirectional``.

    Args:
        cell: A :class:`~liquidtime.cells.BaseCell`.
        return_sequences: Return the output of every step (default: the last one).
        return_state: Also return the final states.
        go_backwards: Process the sequence in reverse (and return reversed outputs).
        stateful: Carry the final states of a batch into the next batch.
        unroll: Loop unrolling: False, True, or an unroll factor (JAX, TensorFlow).
        zero_output_for_mask: Output zeros at masked steps instead of repeating the
            previous output.
        **kwargs: Passed to ``keras.layers.Layer``. As for ``keras.layers.RNN``, a
            ``dtype`` given here is the layer's, not the cell's: the cell computes in
            its own dtype, and the outputs and states are cast to the layer's. Give
            the cell the dtype to compute in it (the layers that make their cell,
            ``LTC``, ``CfC``, ..., pass theirs on).

    Call arguments:
        sequences: ``(batch, time, features)``.
        initial_state: Optional list of initial states, each ``(batch, size)``.
        mask: Optional boolean ``(batch, time)``; masked steps keep the state.
        training: Training mode (backbone dropout).
        elapsed_time: Elapsed time of each step: None (1.0), a scalar, or a tensor
            ``(batch, time)`` / ``(batch, time, 1)``. Must be >= 0 and finite
            (checked also inside compiled functions; see
            :mod:`liquidtime.config`); masked steps may hold any value. Not
            allowed when the cell reads the elapsed time from its last feature.

    Returns:
        ``(batch, units)``, or ``(batch, time, units)`` with ``return_sequences``;
        followed by the final states with ``return_state``.
    """

    def __init__(
        self,
        cell: BaseCell,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool | int = False,
        zero_output_for_mask: bool = False,
        **kwargs: Any,
    ):
        if not isinstance(cell, BaseCell):
            raise ValueError(
                "Received an invalid value for argument `cell`, expected a liquidtime "
                f"cell (a subclass of liquidtime.cells.BaseCell), got {cell!r}. Use "
                "keras.layers.RNN for other cells."
            )
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            zero_output_for_mask=zero_output_for_mask,
            **kwargs,
        )

    def build(self, sequences_shape, initial_state_shape=None, elapsed_time_shape=None):
        self._check_rank(sequences_shape)
        super().build(sequences_shape, initial_state_shape)
        # Solver failures counted on the host (see liquidtime.solvers.report).
        self._solver_report = SolverReport()

    def read_solver_report(self) -> dict[str, float] | None:
        """Solver failures counted since the layer was built or last reset.

        Counted eagerly and inside compiled functions (``fit``, ``predict``,
        ``jax.jit``, ``tf.function``): there a failure calls back to the host, and
        only when there is one. See :mod:`liquidtime.solvers.report`.

        Returns:
            None when the cell's solver cannot fail (the fused solver) or the cell
            has no solver, else ``{"capped_sequences", "max_step_ratio",
            "nonfinite_sequences"}``: the number of (sequence, call) pairs in which
            ``dopri5`` reached ``max_steps``, the largest ``h * a`` of any sub-step
            divided by the solver's stability limit (above 1: unstable; recorded
            only when above 1), and the number of (sequence, call) pairs whose final
            state was NaN or infinite.
        """
        if not self.built or not getattr(self.cell, "reports_solver_status", False):
            return None
        return self._solver_report.read()

    def reset_solver_report(self) -> None:
        """Zeroes the counts of :meth:`read_solver_report` (and warns again)."""
        if self.built:
            self._solver_report.reset()

    def _create_state_variables(self, batch_size):
        """Stateful layers keep their states as non-trainable weights.

        ``keras.layers.RNN`` creates untracked variables, which a compiled JAX train
        or predict step never writes back: with ``fit`` on JAX, its state silently
        stays at zero (Keras's own LSTM included). Tracked non-trainable weights are
        threaded through the compiled step like a BatchNormalization's statistics,
        and, like those, they are part of the layer's weights and saved with it.
        """
        states = [
            self.add_weight(
                name=f"state_{i}",
                shape=(batch_size, size),
                initializer="zeros",
                trainable=False,
                dtype=self.variable_dtype,
            )
            for i, size in enumerate(self.state_size)
        ]
        object.__setattr__(self, "states", states)

    def compute_output_shape(self, sequences_shape, initial_state_shape=None, elapsed_time_shape=None):
        return super().compute_output_shape(sequences_shape, initial_state_shape)

    def _check_rank(self, shape) -> None:
        if len(shape) != 3:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' expects input sequences of rank 3 "
                f"(batch, time, features), got shape {tuple(shape)}."
            )

    def call(self, sequences, initial_state=None, mask=None, training=False, elapsed_time=None):
        self._check_rank(sequences.shape)
        if self.cell.elapsed_time_as_feature:
            if elapsed_time is not None:
                raise ValueError(
                    "The cell reads the elapsed time from the last input feature "
                    "(`elapsed_time_as_feature=True`); do not also pass `elapsed_time`."
                )
            elapsed_time = sequences[..., -1]
            sequences = sequences[..., :-1]
        self.cell.check_input_features(sequences)
        sequences = check_not_empty(sequences, f"{type(self).__name__} '{self.name}'")
        if self.stateful:
            sequences = check_stateful_batch(
                sequences, self.states[0].shape[0], f"{type(self).__name__} '{self.name}'"
            )
        # As in keras.layers.RNN, the cell computes in its own dtype and the layer returns its
        # own (the same unless the layer alone was given a dtype).
        sequences = ops.cast(sequences, self.cell.compute_dtype)
        if mask is not None:
            mask = ops.expand_dims(ops.cast(mask, "bool"), -1)
            # Masked steps are computed and then discarded: give them zeros, so that
            # padding (even NaN) reaches neither the outputs nor the gradients.
            sequences = ops.where(mask, sequences, ops.zeros_like(sequences))
        elapsed_time = prepare_elapsed_time(elapsed_time, sequences, self.cell.compute_dtype, mask)
        batch_size = ops.shape(sequences)[0]
        initial_state = self._initial_state(initial_state, batch_size)

        if self.go_backwards:
            sequences = ops.flip(sequences, axis=1)
            if not isinstance(elapsed_time, float):
                elapsed_time = ops.flip(elapsed_time, axis=1)
            if mask is not None:
                mask = ops.flip(mask, axis=1)

        constants = self.cell.sequence_constants(batch_size, training)
        last_output, outputs, states, status = self._scan(
            sequences, initial_state, elapsed_time, mask, constants, training
        )

        if self.stateful:
            for variable, state in zip(self.states, states):
                variable.assign(ops.cast(state, variable.dtype))
        output = outputs if self.return_sequences else last_output
        output = ops.cast(self._report_solver(status, states, output), self.compute_dtype)
        states = [ops.cast(state, self.compute_dtype) for state in states]
        if self.return_state:
            return output, *states
        return output

    def _initial_state(self, initial_state, batch_size) -> list[Any]:
        if initial_state is None:
            if self.stateful:
                # A copy: the final states are assigned to these variables in place,
                # which on PyTorch would overwrite a tensor autograd still needs.
                return [ops.cast(ops.copy(v), self.cell.compute_dtype) for v in self.states]
            return self.get_initial_state(batch_size=batch_size)
        if not isinstance(initial_state, (list, tuple)):
            initial_state = [initial_state]
        if len(initial_state) != len(self.state_size):
            raise ValueError(
                f"{type(self).__name__} '{self.name}' has {len(self.state_size)} state(s) of "
                f"sizes {self.state_size}, but received {len(initial_state)} initial state(s)."
            )
        return [ops.cast(state, self.cell.compute_dtype) for state in initial_state]

    def _scan(self, sequences, initial_state, elapsed_time, mask, constants, training):
        """Runs the cell over time: its ``fused_scan``, or ``transition`` in a scan.

        Args:
            sequences: ``(batch, time, features)``.
            initial_state, constants, training: As for the cell.
            elapsed_time: A float or ``(batch, time, 1)``.
            mask: None or ``(batch, time, 1)``.

        Returns:
            ``(last_output, outputs or None, final_states, status)``; ``status`` is
            the maximum over time of the solver's ``(batch, 2)`` status when the cell
            reports one (``cell.reports_solver_status``), else None.
        """
        time_major = lambda t: ops.moveaxis(t, 1, 0)  # noqa: E731
        # Time-major before the input-only work: transposing the inputs is cheaper
        # than transposing what they are projected to.
        sequences = time_major(sequences)
        if not isinstance(elapsed_time, float):
            elapsed_time = time_major(elapsed_time)
        cell = self.cell
        if mask is None:
            fused = cell.fused_scan(
                sequences, list(initial_state), elapsed_time, constants, training,
                return_sequences=self.return_sequences,
            )
            if fused is not None:
                outputs, states = fused
                if self.return_sequences:
                    return outputs[-1], ops.moveaxis(outputs, 0, 1), states, None
                return outputs, None, states, None
        per_step = {"projected": cell.sequence_inputs(sequences)}
        if not isinstance(elapsed_time, float):
            per_step["elapsed_time"] = elapsed_time
        if mask is not None:
            per_step["mask"] = time_major(mask)
        zero_output = ops.zeros(
            (ops.shape(initial_state[0])[0], cell.output_size), dtype=cell.compute_dtype
        )

        reports = getattr(cell, "reports_solver_status", False) and failure_policy() != "off"

        def step(carry, inputs):
            states, previous_output, *worst = carry
            arguments = (
                inputs["projected"],
                list(states),
                inputs.get("elapsed_time", elapsed_time),
                constants,
                training,
            )
            if reports:
                output, new_states, status = cell.transition_and_status(*arguments)
                if "mask" in inputs:
                    status = ops.where(inputs["mask"], status, ops.zeros_like(status))
                worst = [ops.maximum(worst[0], status)]
            else:
                output, new_states = cell.transition(*arguments)
            if "mask" in inputs:
                keep = inputs["mask"]
                new_states = [ops.where(keep, new, old) for new, old in zip(new_states, states)]
                fallback = zero_output if self.zero_output_for_mask else previous_output
                output = ops.where(keep, output, fallback)
                previous_output = ops.where(keep, output, previous_output)
            else:
                previous_output = output
            return (list(new_states), previous_output, *worst), (
                output if self.return_sequences else None
            )

        if cell.rematerialize:
            step = checkpoint(step)
        batch = ops.shape(zero_output)[0]
        worst = [ops.zeros((batch, 2), dtype=cell.compute_dtype)] if reports else []
        (states, last_output, *worst), outputs = scan(
            step, (list(initial_state), zero_output, *worst), per_step, unroll=self.unroll or 1
        )
        if self.return_sequences:
            outputs = ops.moveaxis(outputs, 0, 1)
        return last_output, outputs, states, (worst[0] if worst else None)

    def _report_solver(self, status: Any, states: list[Any], output: Any) -> Any:
        """Turns the scan's solver status into the report, a warning or an error.

        See :mod:`liquidtime.solvers.report`. Cells without a solver (CfC, CT-GRU)
        are not checked; with the fused solver only non-finite final states are.
        """
        if not hasattr(self.cell, "solver") or failure_policy() == "off":
            return output
        return report_solver_failures(
            status, states, f"{type(self).__name__} '{self.name}'", self.cell,
            self._solver_report, output,
        )

def split_cell_arguments(cell_class: type[BaseCell], kwargs: dict[str, Any]) -> tuple[dict, dict]:
    """Splits keyword arguments into those of ``cell_class`` and the rest (layer's).

    Args:
        cell_class: The cell class whose constructor parameters to pick.
        kwargs: Mixed keyword arguments.

    Returns:
        ``(cell_kwargs, layer_kwargs)``.
    """
    parameters: set[str] = set()
    for klass in cell_class.__mro__:
        if klass is keras.layers.Layer:
            break
        init = vars(klass).get("__init__")
        if init is not None:
            parameters |= set(inspect.signature(init).parameters)
    parameters -= {"self", "units", "kwargs"}
    cell_kwargs = {k: v for k, v in kwargs.items() if k in parameters}
    layer_kwargs = {k: v for k, v in kwargs.items() if k not in parameters}
    return cell_kwargs, layer_kwargs


_LAYER_BASE_KEYS = ("name", "trainable", "dtype")


class CellSequenceLayer(ContinuousTimeRNN):
    """A sequence layer that builds its own cell from constructor arguments.

    Subclasses set ``cell_class``, or override :meth:`cell_class_for` to choose
    the cell class from ``units`` (for example a wiring instead of an int). Every
    argument of the cell's constructor is accepted by the layer and forwarded to
    the cell; the layer's config is flat (cell arguments beside the layer's), like
    ``keras.layers.LSTM``'s.
    """

    cell_class: type[BaseCell]

    def __init__(self, units: Any, **kwargs: Any):
        cell_kwargs, layer_kwargs = split_cell_arguments(self.cell_class_for(units), kwargs)
        validation.reject_keras_rnn_habits(type(self).__name__, layer_kwargs)
        cell = self.make_cell(units, cell_kwargs, layer_kwargs.get("dtype"))
        super().__init__(cell, **layer_kwargs)

    def cell_class_for(self, units: Any) -> type[BaseCell]:
        """The cell class used for ``units`` (``cell_class`` unless overridden)."""
        return self.cell_class

    def make_cell(self, units: Any, cell_kwargs: dict[str, Any], dtype: Any) -> BaseCell:
        """Creates the cell of class :meth:`cell_class_for` ``(units)``."""
        return self.cell_class_for(units)(units, dtype=dtype, name="cell", **cell_kwargs)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.pop("cell")
        cell_config = self.cell.get_config()
        for key in _LAYER_BASE_KEYS:
            cell_config.pop(key, None)
        return {**config, **cell_config}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)

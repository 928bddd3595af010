"""Solver failures, from the status values a scan carries to a warning, an error or a report.

Failures inside compiled code are values: a solver returns its status per sequence
(:meth:`~liquidtime.solvers.SolveResult.status`), the sequence layer carries the
worst status of every sequence out of its scan, and :func:`report_solver_failures`
turns it, with the final states, into a summary

    [sequences that reached dopri5's max_steps,
     largest h * a / stability_limit of any sub-step,
     sequences whose final state is NaN or infinite]

When something failed, the summary reaches the host (also from compiled
``fit``/``predict``: ``jax.debug.callback`` under ``lax.cond``, ``tf.py_function``
under ``tf.cond``; PyTorch runs eagerly) and, depending on
:func:`~liquidtime.solvers.failure_policy`, is added to the layer's
:class:`SolverReport` with a warning once per layer and kind of failure
(``"warn"``), or raises :class:`~liquidtime.solvers.SolverFailureError`
(``"raise"``). When nothing failed, nothing leaves the device.
"""

from __future__ import annotations

import functools
import math
import warnings
from typing import Any

import keras
import numpy as np
from keras import ops

from liquidtime._backend_ops import check_on_host, in_xla_function
from liquidtime.solvers.base import SolverFailureError, SolverFailureWarning, failure_policy

REPORT_FIELDS = ("capped_sequences", "max_step_ratio", "nonfinite_sequences")
"""The entries of a layer's solver report (see :class:`SolverReport`)."""


def status_summary(status: Any, final_states: list[Any]) -> Any:
    """Reduces a scan's worst status and the final states to the 3 report numbers.

    Args:
        status: None, or the ``(batch, 2)`` maximum over time of the solver's status.
        final_states: The layer's final states, each ``(batch, size)``.

    Returns:
        A float32 tensor of shape ``(3,)`` (see :data:`REPORT_FIELDS`).
    """
    nonfinite = None
    for state in final_states:
        bad = ops.logical_not(ops.all(ops.isfinite(state), axis=-1))
        nonfinite = bad if nonfinite is None else ops.logical_or(nonfinite, bad)
    nonfinite_count = ops.sum(ops.cast(nonfinite, "float32"))
    if status is None:
        zero = ops.zeros((), dtype="float32")
        return ops.stack([zero, zero, nonfinite_count])
    status = ops.cast(ops.stop_gradient(status), "float32")
    capped_count = ops.sum(ops.cast(status[:, 0] > 0, "float32"))
    ratio = status[:, 1]
    ratio = ops.max(ops.where(ops.isnan(ratio), ops.zeros_like(ratio), ratio))
    return ops.stack([capped_count, ratio, nonfinite_count])


def failure_messages(summary: np.ndarray, layer_name: str, cell: Any) -> dict[str, str]:
    """One message per kind of failure in ``summary`` (``capped``, ``unstable``, ``nonfinite``).

    Args:
        summary: The 3 numbers of :func:`status_summary`, as NumPy.
        layer_name: The layer, for the messages.
        cell: The layer's cell (for its solver and ``ode_unfolds``).

    Returns:
        ``{kind: message}``, empty when nothing failed.
    """
    capped, ratio, nonfinite = (float(v) for v in summary)
    solver = getattr(cell, "solver", None)
    name = getattr(solver, "name", "") or type(solver).__name__
    messages = {}
    if capped > 0:
        messages["capped"] = (
            f"{layer_name}: the {name!r} solver reached max_steps="
            f"{getattr(solver, 'max_steps', '?')} before the end of an input step in "
            f"{int(capped)} sequence(s); the rest of the step was covered by one step "
            "without error control, so the states may be inaccurate or unbounded. "
            "Increase `max_steps` (or loosen `rtol`/`atol`) of the solver, shorten the "
            "elapsed times, or use solver='fused', which is stable for any step."
        )
    if ratio > 1:
        unfolds = getattr(cell, "ode_unfolds", 1)
        # The ratio comes from float32 sums: forgive it a relative 1e-5 before rounding up.
        needed = math.ceil(unfolds * ratio * (1 - 1e-5)) if math.isfinite(ratio) else None
        # Only a solver with a stability limit reports a ratio.
        limit = getattr(solver, "stability_limit", math.inf)
        messages["unstable"] = (
            f"{layer_name}: the {name!r} solver took sub-steps with h * a = "
            f"{ratio * limit:.4g}, {ratio:.4g} times its stability limit "
            f"{limit:g} (h = elapsed time / ode_unfolds, a = 1 / the "
            "neuron's time constant): the state oscillates with a growing amplitude. "
            + (f"Increase `ode_unfolds` to at least {needed} (now {unfolds}), " if needed else "")
            + "shorten the elapsed times, or use solver='fused', which is stable for any step."
        )
    if nonfinite > 0:
        messages["nonfinite"] = (
            f"{layer_name}: the state became NaN or infinite in {int(nonfinite)} "
            f"sequence(s) (solver {name!r}). Check the inputs and elapsed times for "
            "NaN, infinite or very large values; with an explicit solver ('euler', "
            "'rk4') use more `ode_unfolds` or solver='fused'."
        )
    return messages


def _raise(summary: np.ndarray, layer_name: str, cell: Any) -> None:
    messages = failure_messages(summary, layer_name, cell)
    if messages:
        raise SolverFailureError(" ".join(messages.values()))


def _is_traced(value: Any) -> bool:
    """True when ``value`` has no values now (inside a traced function, or symbolic)."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return isinstance(value, jax.core.Tracer)
    if backend == "tensorflow":
        import tensorflow as tf

        return not tf.executing_eagerly()
    if backend == "torch":
        return value.device.type == "meta"
    return False


class SolverReport:
    """A sequence layer's count of solver failures, kept on the host.

    :meth:`record` adds one call's summary (counts summed, step ratio
    maximised) and warns, once per kind of failure until :meth:`reset`, with a
    :class:`~liquidtime.solvers.SolverFailureWarning`.
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Zeroes the counts and forgets which kinds were warned about."""
        self.values = np.zeros(3)
        self.warned: set[str] = set()

    def record(self, summary: np.ndarray, layer_name: str, cell: Any) -> None:
        """Adds a :func:`status_summary` (as NumPy) and warns about new kinds of failure."""
        summary = np.asarray(summary, dtype=np.float64)
        self.values = np.array([
            self.values[0] + summary[0],
            max(self.values[1], summary[1]),
            self.values[2] + summary[2],
        ])
        for kind, message in failure_messages(summary, layer_name, cell).items():
            if kind not in self.warned:
                self.warned.add(kind)
                warnings.warn(message, SolverFailureWarning, stacklevel=2)

    def read(self) -> dict[str, float]:
        """``{field: value}`` for the fields of :data:`REPORT_FIELDS`."""
        if keras.backend.backend() == "jax":
            import jax

            jax.effects_barrier()  # callbacks of compiled functions still in flight
        return dict(zip(REPORT_FIELDS, (float(v) for v in self.values)))


def _on_host(ok: Any, summary: Any, callback: Any, value: Any) -> Any:
    """Calls ``callback(summary as NumPy)`` when ``ok`` is False, also from compiled code.

    Like :func:`liquidtime._backend_ops.check_on_host`, but the callback runs
    Python (it records and warns) on TensorFlow graphs too, through
    ``tf.py_function``, except in functions that XLA compiles (``jit_compile=True``),
    which cannot run Python: there nothing is recorded. On JAX the callback, and its
    copy to the host, happen only when ``ok`` is False.
    """
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        if isinstance(ok, jax.core.Tracer):
            report = lambda values: jax.debug.callback(callback, values)  # noqa: E731
            jax.lax.cond(ok, lambda values: None, report, summary)
            return value
    elif backend == "tensorflow":
        import tensorflow as tf

        if in_xla_function():
            return value
        if not tf.executing_eagerly():
            def report_from_graph():
                tf.py_function(lambda values: callback(values.numpy()), [summary], [])
                return tf.constant(False)

            done = tf.cond(ok, lambda: tf.constant(True), report_from_graph)
            with tf.control_dependencies([done]):
                return tf.identity(value)
    if not bool(ops.convert_to_numpy(ok)):
        callback(np.asarray(ops.convert_to_numpy(summary)))
    return value


def report_solver_failures(
    status: Any,
    final_states: list[Any],
    layer_name: str,
    cell: Any,
    report: SolverReport,
    value: Any,
) -> Any:
    """Records, warns about or raises for the failures of one call of a sequence layer.

    Args:
        status: None, or the ``(batch, 2)`` maximum over time of the solver's status.
        final_states: The layer's final states, each ``(batch, size)``.
        layer_name: The layer, for the messages.
        cell: The layer's cell.
        report: The layer's :class:`SolverReport`; failures are recorded there
            (with the ``"warn"`` policy), eagerly or from compiled code.
        value: The layer's output, returned (on TensorFlow graphs an identity
            that depends on the check).

    Returns:
        ``value``.
    """
    if _is_traced(final_states[0]) and keras.backend.backend() == "torch":
        return value  # Keras's shape inference on the meta device: no values
    summary = status_summary(status, final_states)
    ok = ops.logical_and(
        ops.logical_and(ops.equal(summary[0], 0), ops.less_equal(summary[1], 1)),
        ops.equal(summary[2], 0),
    )
    if failure_policy() == "raise":
        return check_on_host(
            ok,
            summary,
            functools.partial(_raise, layer_name=layer_name, cell=cell),
            f"{layer_name}: the solver failed; (sequences that reached max_steps, largest "
            "h * a / stability limit, sequences with NaN or infinite states) =",
            value,
        )
    record = functools.partial(report.record, layer_name=layer_name, cell=cell)
    return _on_host(ok, summary, record, value)

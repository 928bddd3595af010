"""The ``implementation`` argument of the cells: which form of their equations runs.

Every cell has a reference form, its ``transition`` in plain ``keras.ops`` (the
sequence layers scan it), and may have named kernels: faster forms of the same
maths for some backends (and, for a solver cell, one solver). A cell lists its
kernels in its ``named_kernels`` class attribute; its ``implementation`` chooses:

* ``"auto"`` (default): every kernel of the cell that runs here, else the reference;
* ``"reference"``: the reference form only (the tests compare the kernels with it);
* a kernel's name: that kernel, which must run here (else a ``ValueError``).

A whole-sequence kernel applies to unmasked sequences; masked sequences, and cells
stepped by ``keras.layers.RNN``, always go through ``transition``.

Known kernel names: ``"jax_scan"`` (the CfC's whole-sequence JAX scan with a
hand-written backward pass, :mod:`liquidtime.kernels.jax_cfc`),
``"fused_unfolds"`` (the synaptic LTC's fused-solver unfolds with a recomputing
gradient, :mod:`liquidtime.kernels.fused_unfolds`, every backend), ``"torch"``
(native PyTorch kernels, ``liquidtime.kernels.torch_*``) and ``"tensorflow"`` (the
CfC's whole sequence in one ``tf.custom_gradient`` with a hand-written backward pass,
:mod:`liquidtime.kernels.tf_cfc`, graphs and XLA).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import keras

from liquidtime.activations import is_elementwise

AUTO = "auto"
REFERENCE = "reference"
KERNEL_NAMES = ("jax_scan", "fused_unfolds", "torch", "tensorflow")
"""Every kernel name some cell may have (for the message about an unknown value)."""

ALL_BACKENDS = ("jax", "tensorflow", "torch")


@dataclasses.dataclass(frozen=True)
class Kernel:
    """A named fast form of a cell's equations.

    Attributes:
        backends: The Keras backends it runs on.
        solver: For a solver cell, the solver class whose steps the kernel computes
            (the cell's solver must be exactly that class), or None.
        auto_under_xla: Whether ``"auto"`` picks the kernel in a TensorFlow function
            that XLA compiles (``jit_compile=True``). False for a kernel that XLA
            compiles much more slowly than the reference form without running faster;
            named explicitly, the kernel runs there too.
        condition: Further requirements on the cell's arguments, or None: a function
            of the cell returning why the kernel cannot compute it (a phrase that
            completes "the kernel ... of CfCCell ..."), or None when it can.
    """

    backends: tuple[str, ...]
    solver: type | None = None
    auto_under_xla: bool = True
    condition: Callable[[Any], str | None] | None = None

    def why_not_here(self, cell: Any) -> str | None:
        """Why the kernel does not run here for ``cell``, or None when it does.

        Args:
            cell: The cell (its constructor has set its solver and activations).

        Returns:
            A phrase completing "the kernel ... of CELL ...", or None.
        """
        backend = keras.backend.backend()
        if backend not in self.backends:
            return f"runs on {' and '.join(self.backends)}, not on the current backend"
        solver = getattr(cell, "solver", None)
        if self.solver is not None and type(solver) is not self.solver:
            solver_name = getattr(solver, "name", type(solver).__name__)
            kernel_solver = getattr(self.solver, "name", self.solver)  # a Solver class
            return (
                f"computes the steps of the {kernel_solver!r} solver, not of the cell's "
                f"solver {solver_name!r}"
            )
        return None if self.condition is None else self.condition(cell)

    def runs_here(self, cell: Any) -> bool:
        """Whether the kernel runs on the current backend for ``cell``."""
        return self.why_not_here(cell) is None


def elementwise_activations(cell: Any) -> str | None:
    """A :attr:`Kernel.condition`: the activations the cell's kernel uses are elementwise.

    For kernels that differentiate an activation value by value (its derivative as a
    vector, from one vector-Jacobian product). The cell lists what it uses in
    ``kernel_activations()``, a dict from argument name to function.
    """
    for name, activation in cell.kernel_activations().items():
        if not is_elementwise(activation):
            return (
                f"needs an elementwise `{name}` (liquidtime's or one of Keras's own, "
                f"not softmax), not {activation!r}"
            )
    return None


def check_implementation(cell: Any, implementation: Any) -> str:
    """Validates a cell's ``implementation`` argument.

    Args:
        cell: The cell, whose :attr:`~liquidtime.cells.BaseCell.named_kernels` are its
            kernels (its constructor has set its solver and activations).
        implementation: The value given.

    Returns:
        ``implementation``.

    Raises:
        ValueError: For an unknown value (listing the valid ones), a kernel the cell
            does not have, or one that does not run on the current backend (or with
            the cell's solver or arguments); the message names the choices available
            here.
    """
    owner, kernels = type(cell).__name__, cell.named_kernels
    backend = keras.backend.backend()
    here = [AUTO, REFERENCE, *(n for n, k in kernels.items() if k.runs_here(cell))]
    if implementation in (AUTO, REFERENCE):
        return implementation
    if implementation not in KERNEL_NAMES and implementation not in kernels:
        raise ValueError(
            "Received an invalid value for argument `implementation`, expected one of "
            f"{[AUTO, REFERENCE, *kernels]} for {owner}, got {implementation!r}."
        )
    kernel = kernels.get(implementation)
    if kernel is None:
        reason = f"{owner} has no kernel {implementation!r}"
    else:
        why_not = kernel.why_not_here(cell)
        if why_not is None:
            return implementation
        reason = f"the kernel {implementation!r} of {owner} {why_not}"
    raise ValueError(
        f"Received an invalid value for argument `implementation`: {reason}. On the "
        f"{backend} backend, {owner} takes one of {here}."
    )

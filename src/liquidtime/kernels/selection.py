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
from collections.abc import Mapping
from typing import Any

import keras

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
    """

    backends: tuple[str, ...]
    solver: type | None = None
    auto_under_xla: bool = True

    def runs_here(self, solver: Any = None) -> bool:
        """Whether the kernel runs on the current backend, for a cell with ``solver``."""
        if keras.backend.backend() not in self.backends:
            return False
        return self.solver is None or type(solver) is self.solver


def check_implementation(
    owner: str, implementation: Any, kernels: Mapping[str, Kernel], solver: Any = None
) -> str:
    """Validates a cell's ``implementation`` argument.

    Args:
        owner: The cell's class name, for messages.
        implementation: The value given.
        kernels: The cell's kernels, by name.
        solver: The cell's solver, if it has one.

    Returns:
        ``implementation``.

    Raises:
        ValueError: For an unknown value (listing the valid ones), a kernel the cell
            does not have, or one that does not run on the current backend (or with
            the cell's solver); the message names the choices available here.
    """
    backend = keras.backend.backend()
    here = [AUTO, REFERENCE, *(n for n, k in kernels.items() if k.runs_here(solver))]
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
    elif backend not in kernel.backends:
        reason = (
            f"the kernel {implementation!r} of {owner} runs on "
            f"{' and '.join(kernel.backends)}, not on the current backend"
        )
    elif not kernel.runs_here(solver):
        solver_name = getattr(solver, "name", type(solver).__name__)
        kernel_solver = getattr(kernel.solver, "name", kernel.solver)  # a Solver class
        reason = (
            f"the kernel {implementation!r} of {owner} computes the steps of the "
            f"{kernel_solver!r} solver, not of the cell's solver {solver_name!r}"
        )
    else:
        return implementation
    raise ValueError(
        f"Received an invalid value for argument `implementation`: {reason}. On the "
        f"{backend} backend, {owner} takes one of {here}."
    )

"""Base classes of liquidtime's recurrent cells.

A cell computes one step; the sequence layers own the loop. To let the layers
hoist work out of the loop, every cell splits its step in two:

* :meth:`BaseCell.project_inputs` does the work that depends only on the inputs
  (for example ``I gamma + mu``). It accepts any leading shape, so a sequence layer
  calls it once on the whole ``(batch, time, features)`` tensor.
* :meth:`BaseCell.transition` does the rest for one step, given the projected
  input, the states, the elapsed time and per-sequence constants
  (:meth:`BaseCell.sequence_constants`: dropout masks and parameters transformed
  once per call, such as ``1 / tau``).

``call`` chains the two, so every cell also works inside ``keras.layers.RNN``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import keras
from keras import ops

from liquidtime import _validation
from liquidtime._backend_ops import in_xla_function
from liquidtime.cells import validation
from liquidtime.kernels.selection import Kernel, check_implementation
from liquidtime.solvers import Solver, get_solver


class BaseCell(keras.layers.Layer):
    """A recurrent cell usable in ``keras.layers.RNN`` and in liquidtime's sequence layers.

    A cell whose :attr:`rematerialize` is True has its :meth:`transition` recomputed
    in the backward pass by the sequence layers (on JAX, see
    :func:`liquidtime._backend_ops.checkpoint`) instead of having its intermediates
    stored for every step.

    Args:
        units: Number of neurons (state size), a positive integer.
        elapsed_time_as_feature: If True, the last input feature is the elapsed time
            of the step rather than data. This is how irregularly sampled sequences
            go through ``keras.layers.RNN``, which accepts one input tensor only:
            ``RNN(cell)(ops.concatenate([x, dt[..., None]], axis=-1))``.
        implementation: Which form of the cell's equations runs, in the manner of
            Keras's ``use_cudnn``: ``"auto"`` (the fastest available on the current
            backend), ``"reference"`` (the plain ``keras.ops`` form, :meth:`transition`
            scanned by the layer), or the name of one of the cell's :attr:`named_kernels`
            (an error where it does not run). See :mod:`liquidtime.kernels.selection`.
        **kwargs: Passed to ``keras.layers.Layer``.
    """

    rematerialize: bool = False

    named_kernels: ClassVar[Mapping[str, Kernel]] = {}
    """The cell's named kernels (faster forms of :meth:`transition` or of the whole scan)."""

    def __init__(
        self,
        units: int,
        elapsed_time_as_feature: bool = False,
        implementation: str = "auto",
        **kwargs: Any,
    ):
        _validation.positive_int("units", units)
        validation.reject_keras_rnn_habits(type(self).__name__, kwargs)
        self._implementation = check_implementation(self, implementation)
        super().__init__(**kwargs)
        self.units = units
        self.elapsed_time_as_feature = bool(elapsed_time_as_feature)
        self.input_dim: int | None = None

    @property
    def implementation(self) -> str:
        """The ``implementation`` argument: ``"auto"``, ``"reference"`` or a kernel's name."""
        return self._implementation

    def uses_kernel(self, name: str) -> bool:
        """Whether the kernel ``name`` runs: chosen by name, or by ``"auto"`` where it runs.

        ``"auto"`` skips a kernel marked ``auto_under_xla=False`` inside a TensorFlow
        function that XLA compiles.

        Args:
            name: A key of :attr:`named_kernels`.
        """
        if self.implementation == name:
            return True
        kernel = self.named_kernels.get(name)
        return (
            self.implementation == "auto"
            and kernel is not None
            and kernel.runs_here(self)
            and (kernel.auto_under_xla or not in_xla_function())
        )

    @property
    def state_size(self) -> int | list[int]:
        return self.units

    @property
    def output_size(self) -> int:
        return self.units

    def _data_features(self, input_shape: tuple[int | None, ...]) -> int:
        """The number of data features in a step input of ``input_shape``."""
        features = input_shape[-1]
        if features is None:
            raise ValueError(
                f"The last dimension of the inputs to {type(self).__name__} must be known; "
                f"received input_shape={tuple(input_shape)}."
            )
        data = features - 1 if self.elapsed_time_as_feature else features
        if data < 1:
            raise ValueError(
                f"{type(self).__name__} needs at least one input feature"
                + (" besides the elapsed time" if self.elapsed_time_as_feature else "")
                + f"; received input_shape={tuple(input_shape)}."
            )
        return data

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self.input_dim = self._data_features(input_shape)
        self.build_weights(self.input_dim)
        self.built = True

    def build_weights(self, input_dim: int) -> None:
        """Creates the cell's weights for ``input_dim`` data features."""
        raise NotImplementedError

    def check_input_features(self, inputs: Any) -> None:
        """Raises a clear error if the feature size differs from the one built for."""
        features = inputs.shape[-1]
        # Only a Python int is compared: under torch.jit tracing (ONNX export) a shape entry is
        # a traced value, and comparing it would record the answer as a constant.
        if self.input_dim is not None and isinstance(features, int) and features != self.input_dim:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' was built for {self.input_dim} input "
                f"features but received inputs with {features} features (shape "
                f"{tuple(inputs.shape)}). A built layer's feature size cannot change."
            )

    def get_initial_state(self, batch_size: int | None = None) -> list[Any]:
        sizes = self.state_size if isinstance(self.state_size, (list, tuple)) else [self.state_size]
        return [ops.zeros((batch_size, size), dtype=self.compute_dtype) for size in sizes]

    def project_inputs(self, inputs: Any) -> Any:
        """State-independent input work; any leading shape, last axis = data features."""
        raise NotImplementedError

    def sequence_inputs(self, inputs: Any) -> Any:
        """What the time loop receives: computed once for the whole sequence.

        Defaults to :meth:`project_inputs` (all input-only work hoisted out of the
        loop). A cell whose input-only work would materialise tensors much larger
        than its inputs may instead hoist part of it and finish the rest in
        :meth:`transition`.
        """
        return self.project_inputs(inputs)

    def sequence_constants(self, batch_size: Any, training: bool | None = None) -> dict[str, Any]:
        """Values computed once per call and reused at every step (masks, folded parameters)."""
        return {}

    def transition(
        self,
        projected: Any,
        states: list[Any],
        elapsed_time: Any,
        constants: dict[str, Any],
        training: bool | None = None,
    ) -> tuple[Any, list[Any]]:
        """One step from projected inputs.

        Args:
            projected: This step's slice of :meth:`sequence_inputs`, ``(batch, ...)``.
            states: The states, a list of ``(batch, size)`` tensors.
            elapsed_time: Elapsed time of the step: a Python float or ``(batch, 1)``.
            constants: From :meth:`sequence_constants`.
            training: Training mode.

        Returns:
            ``(output, new_states)``.
        """
        raise NotImplementedError

    def fused_scan(
        self,
        inputs: Any,
        states: list[Any],
        elapsed_time: Any,
        constants: dict[str, Any],
        training: bool | None = None,
        return_sequences: bool = True,
    ) -> tuple[Any, list[Any]] | None:
        """The whole (unmasked) sequence in one call, or None to scan :meth:`transition`.

        A cell may override this with a faster computation of the same values, for
        example one with a hand-written backward pass (a kernel, run when
        :meth:`uses_kernel` says so); the sequence layers call it first when no mask
        is given. The default returns None.

        Args:
            inputs: The time-major input sequence, ``(time, batch, features)``.
            states: The initial states, a list of ``(batch, size)`` tensors.
            elapsed_time: A Python float, or time-major ``(time, batch, 1)``.
            constants: From :meth:`sequence_constants`.
            training: Training mode.
            return_sequences: Whether the outputs of every step are needed, or
                only the last one.

        Returns:
            ``(outputs, final_states)`` with ``outputs`` time-major
            ``(time, batch, output_size)``, or the last output ``(batch,
            output_size)`` when ``return_sequences`` is False; or None.
        """
        return None

    def split_elapsed_time(self, inputs: Any) -> tuple[Any, Any]:
        """Splits off the elapsed-time feature if the cell was built with one.

        The elapsed time's values are checked (>= 0 and finite, also inside
        compiled functions; see :mod:`liquidtime.config`). Inside
        ``keras.layers.RNN``, which runs the cell on masked steps too, pad the
        time feature with valid values (0).

        Returns:
            ``(data_inputs, elapsed_time)``; the elapsed time is 1.0 otherwise.
        """
        if not self.elapsed_time_as_feature:
            return inputs, 1.0
        # Imported here: liquidtime.layers imports the cells.
        from liquidtime.layers.elapsed_time import check_elapsed_time_values

        elapsed_time = check_elapsed_time_values(inputs[..., -1:], "inputs[..., -1]")
        return inputs[..., :-1], elapsed_time

    def call(self, inputs: Any, states: Any, training: bool | None = None) -> tuple[Any, list[Any]]:
        inputs, elapsed_time = self.split_elapsed_time(inputs)
        self.check_input_features(inputs)
        states = list(states) if isinstance(states, (list, tuple)) else [states]
        constants = self.sequence_constants(ops.shape(inputs)[0], training)
        return self.transition(
            self.sequence_inputs(inputs), states, elapsed_time, constants, training
        )

    def get_config(self) -> dict[str, Any]:
        config = {
            "units": self.units,
            "elapsed_time_as_feature": self.elapsed_time_as_feature,
            "implementation": self.implementation,
        }
        return {**super().get_config(), **config}


class ContinuousTimeCell(BaseCell):
    """A cell whose state follows an ODE in decay-drive form, integrated by a solver.

    Subclasses implement :meth:`decay_and_drive`, returning ``(a, b)`` with
    ``dx/dt = -a x + b`` for the current input; the solver does the rest. The
    liquid time-constant of neuron i is ``tau_sys_i = 1 / a_i``.

    Args:
        units: Number of neurons.
        solver: ``"fused"`` (the LTC paper's semi-implicit step, default), ``"euler"``,
            ``"rk4"``, ``"dopri5"``, or a :class:`~liquidtime.solvers.Solver`.
        ode_unfolds: Sub-steps ``L`` per input step (each of size ``dt / L``); for
            ``dopri5`` it sets the first trial step only.
        **kwargs: Passed to :class:`BaseCell`.
    """

    rematerialize = True  # the sub-steps' intermediates: recomputing beats storing them

    def __init__(
        self,
        units: int,
        solver: str | Solver | dict = "fused",
        ode_unfolds: int = 6,
        **kwargs: Any,
    ):
        _validation.positive_int("ode_unfolds", ode_unfolds)
        self.solver = get_solver(solver)
        self.ode_unfolds = ode_unfolds
        super().__init__(units, **kwargs)

    def decay_and_drive(
        self, state: Any, projected: Any, constants: dict[str, Any]
    ) -> tuple[Any, Any]:
        """Returns ``(a, b)`` of ``dx/dt = -a x + b`` at ``state`` for this step's input."""
        raise NotImplementedError

    def readout(self, state: Any) -> Any:
        """The cell's output for a state (the state itself unless overridden)."""
        return state

    @property
    def reports_solver_status(self) -> bool:
        """Whether the sequence layers carry :meth:`transition_and_status`'s status.

        True for solvers that can fail (``Solver.can_fail``: a stability limit or a
        step cap); the fused solver's scan stays as it is.
        """
        return self.solver.can_fail

    def transition(self, projected, states, elapsed_time, constants, training=None):
        field = lambda x: self.decay_and_drive(x, projected, constants)  # noqa: E731
        result = self.solver.integrate(field, states[0], elapsed_time, self.ode_unfolds)
        return self.readout(result.state), [result.state, *states[1:]]

    def transition_and_status(
        self,
        projected: Any,
        states: list[Any],
        elapsed_time: Any,
        constants: dict[str, Any],
        training: bool | None = None,
    ) -> tuple[Any, list[Any], Any]:
        """:meth:`transition` and the solver's status for the step.

        Subclasses that override :meth:`transition` override this too.

        Returns:
            ``(output, new_states, status)`` with ``status`` the
            :meth:`~liquidtime.solvers.SolveResult.status` of the step, ``(batch, 2)``.
        """
        field = lambda x: self.decay_and_drive(x, projected, constants)  # noqa: E731
        result = self.solver.integrate(field, states[0], elapsed_time, self.ode_unfolds)
        return self.readout(result.state), [result.state, *states[1:]], result.status()

    def get_config(self) -> dict[str, Any]:
        config = {
            "solver": keras.saving.serialize_keras_object(self.solver),
            "ode_unfolds": self.ode_unfolds,
        }
        return {**super().get_config(), **config}

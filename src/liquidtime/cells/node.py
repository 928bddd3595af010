"""The Neural ODE recurrent cell: the LTC paper's "Neural ODE" baseline."""

from __future__ import annotations

from typing import Any

import keras

from liquidtime.cells.ctrnn import NetworkODECell
from liquidtime.solvers import Solver


@keras.saving.register_keras_serializable(package="liquidtime")
class NeuralODECell(NetworkODECell):
    """A recurrent cell whose state derivative is a network of input and state.

    The LTC paper's Neural ODE baseline (Chen et al., 2018, as a recurrent model):

        dx/dt = activation(I W + x U + c)            (default activation tanh)

    In decay-drive form ``a = 0`` (no leak) and ``b = f``. The input is held over
    the input step and the solver, RK4 by default, re-evaluates f at every stage.
    Without a leak nothing pulls the state back, so it can grow without bound over
    long sequences; ``clip_state`` clips it (the paper clipped at 10 for traffic and
    power).

    Naming: this is the model the LTC paper calls "Neural ODE". It is not the
    ODE-RNN of Rubanova et al. (2019), which evolves the state by an ODE between
    observations and applies a discrete RNN update at each observation.

    Step size. Each input step integrates over ``time_scale * dt`` with
    ``ode_unfolds`` sub-steps. The defaults integrate exactly the elapsed time
    (``time_scale=1``, 6 sub-steps). The original code took 6 RK4 steps of 0.1 per
    input step: ``NeuralODECell(units, time_scale=0.6)`` (``preset="paper"`` in
    :mod:`liquidtime.models`). ``solver="dopri5"`` (or a
    :class:`~liquidtime.solvers.Dopri5Solver` with tolerances) integrates
    adaptively.

    Weights: ``kernel`` W (M x N), ``recurrent_kernel`` U (N x N), ``bias`` c (N);
    with a backbone, an MLP on ``[I, x]`` followed by the affine head.

    Args:
        units: Number of neurons N.
        activation: The nonlinearity of f (default ``"tanh"``).
        solver: ``"rk4"`` (default), ``"dopri5"``, ``"euler"``, ``"fused"`` (identical
            to Euler here, since ``a = 0``) or a Solver.
        ode_unfolds: Sub-steps per input step (default 6).
        time_scale: Model time per unit of elapsed time (default 1.0; the paper 0.6).
        clip_state: None (default) or a positive float: the state is clipped to
            ``[-clip_state, clip_state]`` after every fixed-step sub-step, as in the
            original code (after the input step for ``dopri5``).
        **kwargs: Network, backbone and base arguments of
            :class:`~liquidtime.cells.ctrnn.NetworkODECell`.

    Call arguments (inside ``keras.layers.RNN``):
        inputs: ``(batch, M)``, or ``(batch, M + 1)`` with the elapsed time last.
        states: ``[x]`` with ``x`` of shape ``(batch, N)``.

    Returns:
        ``(x_new, [x_new])``.

    Example:
    >>> cell = NeuralODECell(16, clip_state=10.0)
    >>> y = keras.layers.RNN(cell)(np.zeros((2, 20, 3)))   # (2, 16)
    """

    def __init__(
        self,
        units: int,
        activation: Any = "tanh",
        solver: str | Solver | dict = "rk4",
        ode_unfolds: int = 6,
        time_scale: float = 1.0,
        clip_state: float | None = None,
        **kwargs: Any,
    ):
        super().__init__(
            units,
            activation=activation,
            solver=solver,
            ode_unfolds=ode_unfolds,
            time_scale=time_scale,
            clip_state=clip_state,
            **kwargs,
        )

    def decay_and_drive(self, state, projected, constants):
        return 0.0, self.drive(state, projected, constants)

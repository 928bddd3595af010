"""Solvers against independent references: hand-written NumPy steps and scipy's solve_ivp."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.integrate
from keras import ops

from conftest import to_numpy
from liquidtime._backend_ops import matmul, tanh
from liquidtime.solvers import (
    DOPRI5_TABLEAU,
    RK4_TABLEAU,
    Dopri5Solver,
    EulerSolver,
    FusedSolver,
    RK4Solver,
    get_solver,
)

pytestmark = pytest.mark.usefixtures("float64")

RNG = np.random.default_rng(0)
UNITS = 4
W_A = RNG.normal(size=(UNITS, UNITS)) * 0.5
C_A = RNG.normal(size=UNITS)
W_B = RNG.normal(size=(UNITS, UNITS))
C_B = RNG.normal(size=UNITS)
X0 = RNG.normal(size=(3, UNITS))


def numpy_field(x):
    """a(x) = softplus(x W_a + c_a) >= 0, b(x) = tanh(x W_b + c_b)."""
    return np.logaddexp(0.0, x @ W_A + C_A), np.tanh(x @ W_B + C_B)


def keras_field(x):
    a = ops.softplus(matmul(x, ops.convert_to_tensor(W_A, x.dtype)) + ops.convert_to_tensor(C_A, x.dtype))
    b = tanh(matmul(x, ops.convert_to_tensor(W_B, x.dtype)) + ops.convert_to_tensor(C_B, x.dtype))
    return a, b


def numpy_rhs(x):
    a, b = numpy_field(x)
    return -a * x + b


def solve_ivp_reference(x0, t):
    solution = scipy.integrate.solve_ivp(
        lambda _, y: numpy_rhs(y.reshape(x0.shape)).ravel(),
        (0.0, t),
        x0.ravel(),
        method="DOP853",
        rtol=1e-12,
        atol=1e-12,
    )
    return solution.y[:, -1].reshape(x0.shape)


def integrate(solver, dt, num_steps, x0=X0):
    return to_numpy(solver.integrate(keras_field, ops.convert_to_tensor(x0, "float64"), dt, num_steps).state)


@pytest.mark.parametrize("tableau", [RK4_TABLEAU, DOPRI5_TABLEAU])
def test_tableau_identities(tableau):
    for c, row in zip(tableau.c, tableau.a):
        assert sum(row) == pytest.approx(c, abs=1e-14)
    assert sum(tableau.b) == pytest.approx(1.0, abs=1e-14)
    if tableau.b_error is not None:
        assert sum(tableau.b_error) == pytest.approx(0.0, abs=1e-14)


@pytest.mark.backends
def test_fused_matches_hand_written_steps():
    dt, steps = 0.7, 3
    x = X0.copy()
    h = dt / steps
    for _ in range(steps):
        a, b = numpy_field(x)
        x = (x + h * b) / (1 + h * a)
    np.testing.assert_allclose(integrate(FusedSolver(), dt, steps), x, rtol=1e-10, atol=1e-12)


@pytest.mark.backends
def test_euler_matches_hand_written_steps():
    dt, steps = 0.3, 4
    x = X0.copy()
    for _ in range(steps):
        x = x + dt / steps * numpy_rhs(x)
    np.testing.assert_allclose(integrate(EulerSolver(), dt, steps), x, rtol=1e-10, atol=1e-12)


@pytest.mark.backends
def test_rk4_matches_hand_written_steps():
    dt, steps = 0.5, 2
    h = dt / steps
    x = X0.copy()
    for _ in range(steps):
        k1 = numpy_rhs(x)
        k2 = numpy_rhs(x + h / 2 * k1)
        k3 = numpy_rhs(x + h / 2 * k2)
        k4 = numpy_rhs(x + h * k3)
        x = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    np.testing.assert_allclose(integrate(RK4Solver(), dt, steps), x, rtol=1e-10, atol=1e-12)


@pytest.mark.backends
def test_dopri5_matches_solve_ivp():
    dt = 2.0
    solver = Dopri5Solver(rtol=1e-8, atol=1e-10, max_steps=400)
    result = solver.integrate(keras_field, ops.convert_to_tensor(X0, "float64"), dt, 1)
    np.testing.assert_allclose(to_numpy(result.state), solve_ivp_reference(X0, dt), rtol=1e-6, atol=1e-8)
    assert not np.any(to_numpy(result.capped))
    assert np.all(to_numpy(result.num_steps) > 1)


@pytest.mark.backends
def test_dopri5_per_sequence_elapsed_time():
    dts = np.array([[0.5], [1.5], [0.0]])
    solver = Dopri5Solver(rtol=1e-8, atol=1e-10, max_steps=400)
    result = solver.integrate(
        keras_field, ops.convert_to_tensor(X0, "float64"), ops.convert_to_tensor(dts), 1
    )
    for i, dt in enumerate(dts[:, 0]):
        expected = solve_ivp_reference(X0[i : i + 1], dt) if dt > 0 else X0[i : i + 1]
        np.testing.assert_allclose(to_numpy(result.state)[i : i + 1], expected, rtol=1e-6, atol=1e-8)
    assert to_numpy(result.num_steps)[2] == 0


def test_dopri5_reports_the_step_cap():
    solver = Dopri5Solver(rtol=1e-10, atol=1e-12, max_steps=2)
    result = solver.integrate(keras_field, ops.convert_to_tensor(X0, "float64"), 5.0, 1)
    assert np.all(to_numpy(result.capped))
    assert np.all(np.isfinite(to_numpy(result.state)))


@pytest.mark.parametrize(
    "solver, order", [(FusedSolver(), 1), (EulerSolver(), 1), (RK4Solver(), 4)]
)
def test_convergence_order(solver, order):
    dt = 1.0
    reference = solve_ivp_reference(X0, dt)
    steps = np.array([8, 16, 32, 64])
    errors = [np.max(np.abs(integrate(solver, dt, int(n)) - reference)) for n in steps]
    slope = -np.polyfit(np.log(steps), np.log(errors), 1)[0]
    assert slope == pytest.approx(order, abs=0.25), errors


def test_get_solver_by_name_and_errors():
    assert isinstance(get_solver("fused"), FusedSolver)
    assert get_solver("dopri5", rtol=1e-4).rtol == 1e-4
    with pytest.raises(ValueError, match="expected one of"):
        get_solver("midpoint")
    with pytest.raises(ValueError, match="does not take the option"):
        get_solver("euler", rtol=1e-3)
    with pytest.raises(ValueError, match="`max_steps`"):
        Dopri5Solver(max_steps=0)
    with pytest.raises(ValueError, match="`rtol`"):
        Dopri5Solver(rtol=-1.0)


@pytest.mark.parametrize("name", ["euler", "fused", "rk4"])
def test_fixed_step_solvers_clip_the_state_after_every_sub_step(name):
    """``clip=c`` against a NumPy loop that clips after each sub-step (the original code's rule)."""
    solver, steps, dt, limit = get_solver(name), 4, 3.0, 0.2
    x = X0 * 3
    for _ in range(steps):
        x = np.clip(integrate(solver, dt / steps, 1, x0=x), -limit, limit)
    state = solver.integrate(keras_field, ops.convert_to_tensor(X0 * 3, "float64"), dt, steps, clip=limit)
    np.testing.assert_allclose(to_numpy(state.state), x, rtol=1e-12, atol=1e-12)
    unclipped = integrate(solver, dt, steps, x0=X0 * 3)
    assert np.max(np.abs(unclipped)) > limit


def test_adaptive_solver_clips_the_state_at_the_end_of_the_step():
    solver, limit = Dopri5Solver(rtol=1e-8, atol=1e-10, max_steps=200), 0.2
    clipped = solver.integrate(keras_field, ops.convert_to_tensor(X0 * 3, "float64"), 1.0, 2, clip=limit)
    np.testing.assert_allclose(
        to_numpy(clipped.state), np.clip(integrate(solver, 1.0, 2, x0=X0 * 3), -limit, limit), atol=1e-12
    )

"""Theorems 1-2 as code: bound calculator, tau_sys trajectories, regularizers and monitor."""

from __future__ import annotations

import math
import warnings

import keras
import numpy as np
import pytest

from conftest import to_numpy
from liquidtime import LTC
from liquidtime.bounds import (
    BoundsMonitor,
    BoundsViolationError,
    BoundsViolationWarning,
    RangeRegularizer,
    TimeConstantRangeRegularizer,
    activation_range,
    check_bounds,
    liquid_time_constants,
    max_guaranteed_elapsed_time,
    state_and_time_constants,
    theorem_bounds,
)
from liquidtime.solvers import SolverFailureWarning

B, T, M, N = 3, 6, 4, 5


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def softplus(x):
    return np.logaddexp(0.0, x)


def built_ltc(units=N, features=M, seed=0, **kwargs):
    layer = LTC(units, return_sequences=True, **kwargs)
    layer(np.zeros((2, 3, features), dtype="float32"))
    rng = np.random.default_rng(seed)
    for variable in layer.weights:
        variable.assign(rng.normal(scale=0.8, size=variable.shape))
    return layer


def numpy_dense_trajectory(cell, inputs, dt, activation=sigmoid):
    """Independent reference: fused/Euler sub-steps of Eq. 1 and tau_sys = 1/(1/tau + f)."""
    net = cell.network
    kernel, recurrent, bias = (to_numpy(v) for v in (net.input_kernel, net.state_kernel, net.first_bias))
    tau, reversal = softplus(to_numpy(cell.tau)), to_numpy(cell.A)
    x = np.zeros((inputs.shape[0], cell.units))
    states, tau_sys = [], []
    for t in range(inputs.shape[1]):
        f = lambda state, t=t: activation(inputs[:, t] @ kernel + state @ recurrent + bias)  # noqa: E731
        tau_sys.append(1.0 / (1.0 / tau + f(x)))
        h = dt[:, t : t + 1] / cell.ode_unfolds
        for _ in range(cell.ode_unfolds):
            ft = f(x)
            if cell.solver.name == "fused":
                x = (x + h * ft * reversal) / (1.0 + h * (1.0 / tau + ft))
            else:
                x = x + h * (-(1.0 / tau + ft) * x + ft * reversal)
        states.append(x)
    return np.stack(states, 1), np.stack(tau_sys, 1)


# --------------------------------------------------------------------------- bound calculator


@pytest.mark.backends
def test_dense_theorem_bounds_match_formulas():
    layer = built_ltc()
    bounds = theorem_bounds(layer)
    tau, reversal = softplus(to_numpy(layer.cell.tau)), to_numpy(layer.cell.A)
    assert bounds.form == "dense" and bounds.holds and bounds.units == N
    np.testing.assert_allclose(bounds.tau_sys_low, tau / (1.0 + tau), rtol=1e-6)
    np.testing.assert_allclose(bounds.tau_sys_high, tau, rtol=1e-6)
    np.testing.assert_allclose(bounds.state_low, np.minimum(0.0, reversal), rtol=1e-6)
    np.testing.assert_allclose(bounds.state_high, np.maximum(0.0, reversal), rtol=1e-6)
    assert theorem_bounds(layer.cell).tau_sys_low == pytest.approx(bounds.tau_sys_low)


@pytest.mark.parametrize(
    "activation, sup_f, violated",
    [
        ("sigmoid", 1.0, ""),
        ("hard_sigmoid", 1.0, ""),
        ("relu6", 6.0, ""),
        ("tanh", 1.0, "non-negative"),
        ("relu", math.inf, "not bounded"),
    ],
)
def test_dense_bounds_use_the_activation_supremum(activation, sup_f, violated):
    layer = built_ltc(activation=activation)
    bounds = theorem_bounds(layer)
    tau = softplus(to_numpy(layer.cell.tau))
    expected_low = np.zeros_like(tau) if math.isinf(sup_f) else tau / (1.0 + tau * sup_f)
    np.testing.assert_allclose(bounds.tau_sys_low, expected_low, rtol=1e-6)
    assert bounds.holds == (not violated)
    assert all(violated in reason for reason in bounds.violated)


def double_sigmoid(z):
    return keras.ops.sigmoid(z) * 2.0


def test_unknown_activation_needs_an_explicit_range():
    layer = built_ltc(activation=double_sigmoid)
    assert activation_range(layer.cell.activation) is None
    with pytest.raises(ValueError, match="activation_range"):
        theorem_bounds(layer)
    bounds = theorem_bounds(layer, activation_range=(0.0, 2.0))
    tau = softplus(to_numpy(layer.cell.tau))
    np.testing.assert_allclose(bounds.tau_sys_low, tau / (1.0 + 2.0 * tau), rtol=1e-6)
    with pytest.raises(ValueError, match="activation_range"):
        theorem_bounds(layer, activation_range=(1.0, 0.0))


def test_bound_calculator_rejects_unbuilt_and_foreign_layers():
    with pytest.raises(ValueError, match="not built"):
        theorem_bounds(LTC(3))
    with pytest.raises(ValueError, match="cell_or_layer"):
        theorem_bounds(keras.layers.Dense(3))
    cfc = keras.layers.RNN  # a non-liquidtime object
    with pytest.raises(ValueError, match="cell_or_layer"):
        theorem_bounds(cfc)


def test_max_guaranteed_elapsed_time_per_solver():
    fused = built_ltc()
    assert max_guaranteed_elapsed_time(fused) == math.inf
    euler = built_ltc(solver="euler", ode_unfolds=3)
    expected = 3 * np.min(theorem_bounds(euler).tau_sys_low)
    assert max_guaranteed_elapsed_time(euler) == pytest.approx(expected)
    assert max_guaranteed_elapsed_time(built_ltc(solver="rk4")) is None
    assert max_guaranteed_elapsed_time(built_ltc(activation="tanh")) is None


# --------------------------------------------------------------------------- tau_sys over sequences


@pytest.mark.backends
@pytest.mark.parametrize("solver", ["fused", "euler"])
def test_liquid_time_constants_match_numpy_reference(solver):
    layer = built_ltc(solver=solver, ode_unfolds=3)
    rng = np.random.default_rng(1)
    inputs = rng.normal(size=(B, T, M)).astype("float32")
    dt = rng.uniform(0.05, 0.5, size=(B, T)).astype("float32")
    states, tau_sys = state_and_time_constants(layer, inputs, elapsed_time=dt)
    ref_states, ref_tau = numpy_dense_trajectory(layer.cell, inputs.astype(np.float64), dt.astype(np.float64))
    assert tuple(tau_sys.shape) == (B, T, N)
    np.testing.assert_allclose(to_numpy(states), ref_states, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(to_numpy(tau_sys), ref_tau, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(
        to_numpy(layer(inputs, elapsed_time=dt)), to_numpy(states), rtol=1e-6, atol=1e-7
    )
    np.testing.assert_allclose(to_numpy(liquid_time_constants(layer, inputs, dt)), to_numpy(tau_sys))


def test_liquid_time_constants_with_feature_time_backwards_and_initial_state():
    inputs = np.random.default_rng(2).normal(size=(B, T, M)).astype("float32")
    dt = np.full((B, T, 1), 0.3, dtype="float32")
    feature = built_ltc(features=M + 1, elapsed_time_as_feature=True)
    with_time = np.concatenate([inputs, dt], axis=-1)
    states, _ = state_and_time_constants(feature, with_time)
    np.testing.assert_allclose(to_numpy(states), to_numpy(feature(with_time)), rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="elapsed_time"):
        state_and_time_constants(feature, with_time, elapsed_time=1.0)

    backwards = built_ltc(go_backwards=True)
    states, _ = state_and_time_constants(backwards, inputs, elapsed_time=0.3)
    np.testing.assert_allclose(
        to_numpy(states), to_numpy(backwards(inputs, elapsed_time=0.3)), rtol=1e-6, atol=1e-7
    )

    layer = built_ltc()
    start = np.full((B, N), 0.1, dtype="float32")
    states, _ = state_and_time_constants(layer, inputs, initial_state=start)
    np.testing.assert_allclose(
        to_numpy(states), to_numpy(layer(inputs, initial_state=[start])), rtol=1e-6, atol=1e-7
    )
    with pytest.raises(ValueError, match="rank 3"):
        liquid_time_constants(layer, inputs[0])
    with pytest.raises(ValueError, match="not built"):
        liquid_time_constants(LTC(3), inputs)


# --------------------------------------------------------------------------- guarantees, and what breaks


@pytest.mark.backends
def test_fused_solver_keeps_the_envelope_for_huge_steps_and_inputs():
    layer = built_ltc(ode_unfolds=1)
    inputs = np.random.default_rng(3).normal(scale=1e6, size=(B, T, M)).astype("float32")
    result = check_bounds(layer, inputs, elapsed_time=1e3)
    assert result.ok, result.format()
    assert result.guaranteed_elapsed_time == math.inf


@pytest.mark.parametrize("solver", ["fused", "euler", "rk4", "dopri5"])
def test_every_solver_is_checked_and_small_steps_stay_inside(solver):
    layer = built_ltc(solver=solver, ode_unfolds=2)
    inputs = np.random.default_rng(12).normal(size=(B, T, M)).astype("float32")
    result = check_bounds(layer, inputs, elapsed_time=0.1)
    assert result.ok, result.format()
    expected = {"fused": math.inf, "euler": 2 * np.min(result.bounds.tau_sys_low)}.get(solver)
    assert result.guaranteed_elapsed_time == (None if expected is None else pytest.approx(expected))


def _tanh_layer_with_negative_f():
    # f = tanh(-3) ~ -1 while 1/tau = 0.5: a = 1/tau + f < 0, a growing mode, and
    # the fused step divides by 1 + h a, which crosses zero.
    layer = built_ltc(activation="tanh", ode_unfolds=1)
    cell = layer.cell
    cell.network.input_kernel.assign(np.zeros((M, N)))
    cell.network.state_kernel.assign(np.zeros((N, N)))
    cell.network.first_bias.assign(np.full((N,), -3.0))
    cell.tau.assign(np.full((N,), np.log(np.expm1(2.0))))  # tau = 2
    cell.A.assign(np.full((N,), 1.0))
    return layer


def test_dropping_non_negative_f_breaks_both_theorems_and_is_reported():
    layer = _tanh_layer_with_negative_f()
    inputs = np.zeros((B, T, M), dtype="float32")
    result = check_bounds(layer, inputs, elapsed_time=0.5)
    assert not result.bounds.holds
    # tau_sys = 1 / (0.5 + tanh(-3)) < 0: outside [tau / (1 + tau), tau] for every neuron.
    assert np.all(result.tau_sys_max < 0)
    assert result.tau_sys_violations.size == N
    # With a < 0 the equilibrium b / a ~ 2 is unstable: from x = 0 the drive f A < 0
    # pushes the state below min(0, A) = 0, and it then grows geometrically.
    assert np.all(result.state_min < -1.0)
    assert result.state_violations.size == N
    text = "\n".join(result.violations())
    assert "Theorem 1" in text and "Theorem 2" in text and "non-negative" in text


def test_dropping_small_steps_breaks_explicit_euler_but_not_fused():
    inputs = np.random.default_rng(4).normal(size=(B, 12, M)).astype("float32")
    euler = built_ltc(solver="euler", ode_unfolds=1)
    fused = built_ltc(solver="fused", ode_unfolds=1)
    dt = 20.0 * max_guaranteed_elapsed_time(euler)
    euler_result = check_bounds(euler, inputs, elapsed_time=dt)
    assert not euler_result.ok
    assert euler_result.state_violations.size > 0
    assert np.all(euler_result.tau_sys_inside)  # f stays in [0, 1]: Theorem 1 still holds
    assert "exceeds" in euler_result.violations()[-1]
    assert check_bounds(fused, inputs, elapsed_time=dt).ok


def test_initial_state_outside_the_envelope_is_reported():
    layer = built_ltc()
    inputs = np.zeros((B, T, M), dtype="float32")
    start = np.full((B, N), 50.0, dtype="float32")
    result = check_bounds(layer, inputs, elapsed_time=0.01, initial_state=start)
    assert not result.initial_state_inside
    assert not result.ok
    assert "initial state" in result.violations()[-1]


def test_report_table_lists_every_neuron():
    layer = built_ltc()
    text = check_bounds(layer, np.zeros((B, T, M), dtype="float32")).format()
    assert "within the theorems' bounds" in text
    assert len(text.splitlines()) == 2 + N
    with pytest.raises(ValueError, match="tolerance"):
        check_bounds(layer, np.zeros((B, T, M), dtype="float32"), tolerance=-1.0)


# --------------------------------------------------------------------------- regularizers


@pytest.mark.backends
def test_regularizer_penalties_match_formulas():
    values = np.array([-3.0, -0.5, 0.2, 1.5, 4.0])
    range_reg = RangeRegularizer(-1.0, 1.0, strength=2.0)
    expected = 2.0 * np.sum(np.maximum(-1.0 - values, 0) ** 2 + np.maximum(values - 1.0, 0) ** 2)
    assert float(to_numpy(range_reg(keras.ops.convert_to_tensor(values)))) == pytest.approx(expected)

    tau = np.array([0.05, 0.5, 3.0, 10.0])
    tau_reg = TimeConstantRangeRegularizer(0.2, 2.0, max_activation=1.0, strength=3.0)
    fastest = tau / (1.0 + tau)
    expected = 3.0 * np.sum(np.maximum(0.2 - fastest, 0) ** 2 + np.maximum(tau - 2.0, 0) ** 2)
    assert float(to_numpy(tau_reg(keras.ops.convert_to_tensor(tau)))) == pytest.approx(expected)
    assert float(to_numpy(RangeRegularizer(high=5.0)(keras.ops.convert_to_tensor(values)))) == 0.0


def test_regularizers_serialize_and_validate():
    for regularizer in (
        RangeRegularizer(-1.0, None, strength=0.5),
        TimeConstantRangeRegularizer(0.1, 3.0, max_activation=2.0, strength=4.0),
    ):
        restored = keras.regularizers.deserialize(keras.regularizers.serialize(regularizer))
        assert type(restored) is type(regularizer)
        assert restored.get_config() == regularizer.get_config()
    with pytest.raises(ValueError, match="low <= high"):
        RangeRegularizer(2.0, 1.0)
    with pytest.raises(ValueError, match="at least one bound"):
        RangeRegularizer()
    with pytest.raises(ValueError, match="strength"):
        RangeRegularizer(0.0, 1.0, strength=-1.0)
    with pytest.raises(ValueError, match="infeasible"):
        TimeConstantRangeRegularizer(0.9, 2.0)  # tau / (1 + tau) <= 2/3 for tau <= 2
    with pytest.raises(ValueError, match="max_activation"):
        TimeConstantRangeRegularizer(0.1, 2.0, max_activation=math.inf)


def test_regularizers_through_the_cell_arguments_and_saving(tmp_path):
    layer = LTC(
        3,
        tau_regularizer=TimeConstantRangeRegularizer(0.1, 0.5),
        reversal_regularizer=RangeRegularizer(-0.1, 0.1),
    )
    model = keras.Sequential([keras.Input((4, 2)), layer])
    inputs = np.random.default_rng(5).normal(size=(2, 4, 2)).astype("float32")
    # tau = 1 > 0.5 and |A| up to 1 > 0.1: both penalties are active at initialization.
    tau, reversal = to_numpy(layer.cell.time_constant()), to_numpy(layer.cell.A)
    expected = np.sum(np.maximum(tau - 0.5, 0) ** 2) + np.sum(np.maximum(np.abs(reversal) - 0.1, 0) ** 2)
    assert sum(float(to_numpy(loss)) for loss in model.losses) == pytest.approx(expected, rel=1e-5)
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    assert isinstance(restored.layers[0].cell.tau_regularizer, TimeConstantRangeRegularizer)
    assert sum(float(to_numpy(loss)) for loss in restored.losses) == pytest.approx(expected, rel=1e-5)
    np.testing.assert_allclose(to_numpy(restored(inputs)), to_numpy(model(inputs)), rtol=1e-6)


def _train_towards_large_state(regularized: bool):
    """Targets of 3 need |A| > 3 (Theorem 2) and a slow tau: both leave [-1, 1] and [0.1, 2]."""
    keras.utils.set_random_seed(0)
    kwargs = {}
    if regularized:
        kwargs = {
            "tau_regularizer": TimeConstantRangeRegularizer(0.1, 2.0, strength=1000.0),
            "reversal_regularizer": RangeRegularizer(-1.0, 1.0, strength=1000.0),
        }
    layer = LTC(3, **kwargs)
    model = keras.Sequential([keras.Input((8, 2)), layer])
    model.compile(keras.optimizers.Adam(0.05), "mse")
    inputs = np.random.default_rng(6).uniform(0, 1, (32, 8, 2)).astype("float32")
    model.fit(inputs, np.full((32, 3), 3.0, "float32"), epochs=80, batch_size=32, verbose=0)
    return layer, check_bounds(layer, inputs)


def test_bound_regularizers_keep_the_ranges_only_when_used():
    slack = 1.01  # the penalties are soft: a strength of 1000 allows well under 1 % overshoot
    free, free_check = _train_towards_large_state(regularized=False)
    bounds = free_check.bounds
    assert np.max(bounds.state_high) > 1.5
    assert np.max(bounds.tau_sys_high) > 2.5
    assert np.max(free_check.state_max) > 1.2  # the observed states follow the envelope out

    kept, kept_check = _train_towards_large_state(regularized=True)
    bounds = kept_check.bounds
    assert np.max(bounds.state_high) <= 1.0 * slack and np.min(bounds.state_low) >= -1.0 * slack
    assert np.max(bounds.tau_sys_high) <= 2.0 * slack
    assert np.min(bounds.tau_sys_low) >= 0.1 / slack
    assert np.max(kept_check.state_max) <= 1.0 * slack
    assert kept_check.ok


# --------------------------------------------------------------------------- monitor


def _model(layer, features=M, head=True):
    inputs = keras.Input((T, features))
    hidden = layer(keras.layers.Dense(features)(inputs)) if head else layer(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(hidden[:, -1]))
    model.compile(keras.optimizers.Adam(1e-3), "mse")
    return model


def test_monitor_logs_ranges_in_history_and_plots(tmp_path):
    layer = LTC(N, return_sequences=True, name="ltc")
    model = _model(layer)
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(16, T, M)).astype("float32"), rng.normal(size=(16, 1)).astype("float32")
    path = tmp_path / "bounds.png"
    monitor = BoundsMonitor(x[:4], plot_path=str(path))
    with warnings.catch_warnings():
        warnings.simplefilter("error", BoundsViolationWarning)
        history = model.fit(x, y, epochs=2, verbose=0, callbacks=[monitor])
    for field in ("state_min", "state_max", "envelope_low", "envelope_high", "tau_sys_min",
                  "tau_sys_max", "tau_sys_bound_low", "tau_sys_bound_high", "violations"):
        assert len(history.history[f"bounds/ltc/{field}"]) == 2
    logged = history.history
    assert logged["bounds/ltc/violations"] == [0.0, 0.0]
    assert logged["bounds/ltc/envelope_low"][-1] <= logged["bounds/ltc/state_min"][-1]
    assert logged["bounds/ltc/state_max"][-1] <= logged["bounds/ltc/envelope_high"][-1]
    assert logged["bounds/ltc/tau_sys_bound_low"][-1] <= logged["bounds/ltc/tau_sys_min"][-1] * (1 + 1e-5)
    assert sorted(monitor.checks) == [0, 1] and monitor.checks[1]["ltc"].ok
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    other = tmp_path / "epoch0.png"
    monitor.plot(str(other), epoch=0)
    assert other.exists()
    with pytest.raises(ValueError, match="epoch"):
        monitor.plot(str(other), epoch=7)


def _tanh_model():
    layer = _tanh_layer_with_negative_f()
    inputs = keras.Input((T, M))
    model = keras.Model(inputs, keras.layers.Dense(1)(layer(inputs)[:, -1]))
    model.compile(keras.optimizers.SGD(0.0), "mse")
    return model


def test_monitor_warns_and_strict_monitor_raises_on_tanh():
    x = np.zeros((4, T, M), dtype="float32")
    y = np.zeros((4, 1), dtype="float32")
    model = _tanh_model()
    monitor = BoundsMonitor(x, elapsed_time=None)
    with pytest.warns(BoundsViolationWarning, match="Theorem 2 violated.*non-negative"):
        history = model.fit(x, y, epochs=1, verbose=0, callbacks=[monitor])
    assert history.history[f"bounds/{model.layers[1].name}/violations"] == [float(N)]
    with pytest.raises(BoundsViolationError, match="Theorem 1 violated"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[BoundsMonitor(x, strict=True)])


def test_monitor_reports_explicit_euler_with_a_large_step():
    layer = LTC(N, solver="euler", ode_unfolds=1, return_sequences=True, name="euler_ltc")
    model = _model(layer, head=False)
    x = np.random.default_rng(8).normal(size=(8, T, M)).astype("float32")
    y = np.zeros((8, 1), dtype="float32")
    monitor = BoundsMonitor(x, elapsed_time=20.0)
    with pytest.warns(BoundsViolationWarning, match="euler_ltc.*exceeds"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[monitor])
    assert not monitor.checks[0]["euler_ltc"].ok


def test_monitor_with_elapsed_time_as_a_model_input():
    sequences, elapsed = keras.Input((T, M)), keras.Input((T,))
    hidden = LTC(N, name="ltc", solver="euler", ode_unfolds=1)(sequences, elapsed_time=elapsed)
    model = keras.Model([sequences, elapsed], keras.layers.Dense(1)(hidden))
    model.compile(keras.optimizers.SGD(0.0), "mse")
    x = np.random.default_rng(11).normal(size=(4, T, M)).astype("float32")
    small, large = np.full((4, T), 0.1, "float32"), np.full((4, T), 30.0, "float32")
    monitor = BoundsMonitor([x, small], elapsed_time=small, strict=True)
    model.fit([x, small], np.zeros((4, 1)), epochs=1, verbose=0, callbacks=[monitor])
    assert monitor.checks[0]["ltc"].ok
    # The explicit Euler step is unstable there, which the layer's solver report tells too.
    with pytest.raises(BoundsViolationError, match="exceeds"), pytest.warns(
        SolverFailureWarning, match="stability limit"
    ):
        model.fit([x, large], np.zeros((4, 1)), epochs=1, verbose=0,
                  callbacks=[BoundsMonitor([x, large], elapsed_time=large, strict=True)])


def test_monitor_argument_errors():
    with pytest.raises(ValueError, match="tolerance"):
        BoundsMonitor(np.zeros((1, T, M)), tolerance=-1.0)
    model = keras.Sequential([keras.Input((T, M)), keras.layers.GRU(2)])
    model.compile("adam", "mse")
    monitor = BoundsMonitor(np.zeros((1, T, M), "float32"))
    monitor.set_model(model)
    with pytest.raises(ValueError, match="no built LTC layer"):
        monitor.check()
    ltc_model = _model(LTC(N, return_sequences=True, name="ltc"))
    monitor = BoundsMonitor(np.zeros((1, T, M), "float32"), layer_names=["nope"])
    monitor.set_model(ltc_model)
    with pytest.raises(ValueError, match="nope"):
        monitor.check()
    with pytest.raises(ValueError, match="no recorded epoch"):
        monitor.plot("unused.png")


# --------------------------------------------------------------------------- synaptic form


def built_synaptic(solver="fused", ode_unfolds=3, seed=0, epsilon=1e-8):
    synaptic = pytest.importorskip("liquidtime.cells.synaptic_ltc")
    from liquidtime.layers import ContinuousTimeRNN
    from liquidtime.wirings import Random

    cell = synaptic.SynapticLTCCell(
        Random(N, output_dim=2, sparsity_level=0.5, seed=5),
        solver=solver,
        ode_unfolds=ode_unfolds,
        epsilon=epsilon,
    )
    layer = ContinuousTimeRNN(cell, return_sequences=True, name="synaptic")
    layer.build((2, 3, M))  # not a call: an explicit solver may be unstable at the initial weights
    rng = np.random.default_rng(seed)
    for variable in cell.weights:
        variable.assign(rng.normal(scale=0.8, size=variable.shape))
    return layer


def numpy_synaptic_trajectory(cell, inputs, dt):
    """Independent reference of the conductance-based LTC (fused steps) and tau_sys = cm / conductance."""
    g = lambda name: to_numpy(getattr(cell, name))  # noqa: E731
    mask = np.abs(cell.built_wiring.adjacency_matrix)
    sensory_mask = np.abs(cell.built_wiring.sensory_adjacency_matrix)
    gleak, cm = softplus(g("gleak")), softplus(g("cm"))
    w, sw = softplus(g("w")) * mask, softplus(g("sensory_w")) * sensory_mask
    v = np.zeros((inputs.shape[0], cell.units))
    states, tau_sys = [], []
    for t in range(inputs.shape[1]):
        u = inputs[:, t] * g("input_w") + g("input_b")
        ss = sigmoid(g("sensory_sigma") * (u[:, :, None] - g("sensory_mu")))  # (B, M, N)
        a_in = np.sum(sw * ss, axis=1)
        b_in = np.sum(sw * ss * g("sensory_erev"), axis=1)

        def conductance_and_current(v, a_in=a_in, b_in=b_in):
            s = sigmoid(g("sigma") * (v[:, :, None] - g("mu")))  # (B, N_pre, N_post)
            conductance = gleak + cell.epsilon + a_in + np.sum(w * s, axis=1)
            current = gleak * g("vleak") + b_in + np.sum(w * s * g("erev"), axis=1)
            return conductance, current

        tau_sys.append(cm / conductance_and_current(v)[0])
        h = dt[:, t : t + 1] / cell.ode_unfolds
        for _ in range(cell.ode_unfolds):
            conductance, current = conductance_and_current(v)
            v = (cm * v + h * current) / (cm + h * conductance)
        states.append(v)
    return np.stack(states, 1), np.stack(tau_sys, 1)


@pytest.mark.backends
def test_synaptic_theorem_bounds_match_formulas():
    layer = built_synaptic(epsilon=0.0)
    cell = layer.cell
    bounds = theorem_bounds(layer)
    g = lambda name: to_numpy(getattr(cell, name))  # noqa: E731
    mask = np.abs(cell.built_wiring.adjacency_matrix) > 0
    sensory_mask = np.abs(cell.built_wiring.sensory_adjacency_matrix) > 0
    gleak, cm = softplus(g("gleak")), softplus(g("cm"))
    total = (softplus(g("w")) * mask).sum(0) + (softplus(g("sensory_w")) * sensory_mask).sum(0)
    assert bounds.form == "synaptic" and bounds.holds
    np.testing.assert_allclose(bounds.tau_sys_high, cm / gleak, rtol=1e-6)
    np.testing.assert_allclose(bounds.tau_sys_low, cm / (gleak + total), rtol=1e-6)
    for i in range(N):
        reversals = [g("vleak")[i], *g("erev")[mask[:, i], i], *g("sensory_erev")[sensory_mask[:, i], i]]
        assert bounds.state_low[i] == pytest.approx(min(reversals))
        assert bounds.state_high[i] == pytest.approx(max(reversals))
    # epsilon > 0 is a leak towards 0: 0 joins the reversal potentials.
    with_epsilon = theorem_bounds(built_synaptic(epsilon=1e-3))
    assert np.all(with_epsilon.state_low <= 0.0) and np.all(with_epsilon.state_high >= 0.0)


@pytest.mark.backends
def test_synaptic_liquid_time_constants_match_numpy_reference():
    layer = built_synaptic()
    rng = np.random.default_rng(9)
    inputs = rng.normal(size=(B, T, M)).astype("float32")
    dt = rng.uniform(0.1, 1.0, size=(B, T)).astype("float32")
    states, tau_sys = state_and_time_constants(layer, inputs, elapsed_time=dt)
    ref_states, ref_tau = numpy_synaptic_trajectory(
        layer.cell, inputs.astype(np.float64), dt.astype(np.float64)
    )
    np.testing.assert_allclose(to_numpy(states), ref_states, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(to_numpy(tau_sys), ref_tau, rtol=1e-4, atol=1e-6)
    result = check_bounds(layer, inputs * 1e5, elapsed_time=1e3)
    assert result.ok, result.format()


def test_synaptic_euler_with_a_large_step_is_reported_by_the_monitor():
    layer = built_synaptic(solver="euler", ode_unfolds=1)
    largest = max_guaranteed_elapsed_time(layer)
    assert largest == pytest.approx(np.min(theorem_bounds(layer).tau_sys_low))
    inputs = keras.Input((T, M))
    model = keras.Model(inputs, keras.layers.Dense(1)(layer(inputs)[:, -1]))
    model.compile(keras.optimizers.SGD(0.0), "mse")
    x = np.random.default_rng(10).normal(size=(4, T, M)).astype("float32")
    monitor = BoundsMonitor(x, elapsed_time=30.0 * largest)
    # The training steps (elapsed time 1) are past the Euler step's stability limit too.
    with pytest.warns(SolverFailureWarning, match="stability limit"), pytest.warns(
        BoundsViolationWarning, match="synaptic.*Theorem 2.*exceeds"
    ):
        model.fit(x, np.zeros((4, 1), "float32"), epochs=1, verbose=0, callbacks=[monitor])
    assert check_bounds(built_synaptic(), x, elapsed_time=30.0 * largest).ok


def _train_synaptic_towards_large_state(regularized: bool):
    """Motor potentials of 3 need a reversal potential above 3 (synaptic Theorem 2)."""
    from liquidtime.wirings import FullyConnected

    keras.utils.set_random_seed(0)
    regularizers = None
    if regularized:
        envelope = RangeRegularizer(-1.0, 1.0, strength=1000.0)
        regularizers = {"vleak": envelope, "erev": envelope, "sensory_erev": envelope}
    layer = LTC(FullyConnected(3, seed=0), output_mapping="none", regularizers=regularizers)
    model = keras.Sequential([keras.Input((8, 2)), layer])
    model.compile(keras.optimizers.Adam(0.05), "mse")
    inputs = np.random.default_rng(13).uniform(0, 1, (32, 8, 2)).astype("float32")
    model.fit(inputs, np.full((32, 3), 3.0, "float32"), epochs=60, batch_size=32, verbose=0)
    return model, check_bounds(layer, inputs)


def test_synaptic_envelope_regularizers_keep_the_range_only_when_used(tmp_path):
    _, free = _train_synaptic_towards_large_state(regularized=False)
    assert np.max(free.bounds.state_high) > 1.5 and np.max(free.state_max) > 1.2
    model, kept = _train_synaptic_towards_large_state(regularized=True)
    assert np.max(kept.bounds.state_high) <= 1.01 and np.min(kept.bounds.state_low) >= -1.01
    assert np.max(kept.state_max) <= 1.01 and kept.ok
    path = tmp_path / "synaptic.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    assert isinstance(restored.layers[0].cell.regularizers["erev"], RangeRegularizer)
    losses = lambda m: sum(float(to_numpy(loss)) for loss in m.losses)  # noqa: E731
    assert losses(restored) == pytest.approx(losses(model), rel=1e-6)

"""No silent wrong answers from the solvers: failures are warned about, raised or recorded.

A solver fails when ``dopri5`` reaches ``max_steps`` before the end of an input
step, when an explicit solver (euler, rk4) takes a sub-step with ``h * a`` above
its stability limit, or when the state becomes NaN or infinite. Also: the CT-GRU
stays finite (and equal to a NumPy reference) at inputs of 1e5 and 1e6, where it
was all NaN on JAX.
"""

from __future__ import annotations

import warnings

import keras
import numpy as np
import pytest
from keras import ops

from conftest import to_numpy
from liquidtime.bounds import BoundsMonitor, BoundsViolationWarning
from liquidtime.layers.ctgru import CTGRU
from liquidtime.layers.ctrnn import CTRNN
from liquidtime.layers.ltc import LTC
from liquidtime.solvers import (
    SolverFailureError,
    SolverFailureWarning,
    failure_policy,
    set_failure_policy,
)
from test_baselines import _ctgru_weights, _set_ctgru_weights, ctgru_reference

BATCH, TIME, FEATURES, UNITS = 4, 6, 3, 8


@pytest.fixture
def raise_policy():
    previous = failure_policy()
    set_failure_policy("raise")
    yield
    set_failure_policy(previous)


def _inputs(scale: float = 1.0) -> np.ndarray:
    return (np.random.default_rng(0).normal(size=(BATCH, TIME, FEATURES)) * scale).astype("float32")


def _run(layer, elapsed_time):
    return to_numpy(layer(_inputs(), elapsed_time=elapsed_time))


def _solver_warnings(layer, elapsed_time):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _run(layer, elapsed_time)
    return [str(w.message) for w in caught if issubclass(w.category, SolverFailureWarning)]


@pytest.mark.backends
def test_dopri5_at_max_steps_warns_and_reports():
    layer = LTC(UNITS, solver="dopri5")
    messages = _solver_warnings(layer, 1e3)
    assert any("reached max_steps=64" in m and "Increase `max_steps`" in m for m in messages)
    assert layer.read_solver_report()["capped_sequences"] == BATCH


@pytest.mark.backends
def test_euler_above_its_stability_limit_warns_with_the_unfolds_needed():
    layer = CTRNN(UNITS)  # euler, 6 unfolds, tau = 1: h * a = 1e3 / 6 = 83.3 x the limit 2
    messages = _solver_warnings(layer, 1e3)
    unstable = [m for m in messages if "stability limit" in m]
    assert len(unstable) == 1 and "`ode_unfolds` to at least 500 (now 6)" in unstable[0]
    report = layer.read_solver_report()
    np.testing.assert_allclose(report["max_step_ratio"], 1e3 / 6 / 2, rtol=1e-5)
    assert report["nonfinite_sequences"] == BATCH  # the state did blow up
    assert any("NaN or infinite in 4 sequence(s)" in m for m in messages)


@pytest.mark.backends
def test_rk4_above_its_stability_limit_is_reported():
    layer = LTC(UNITS, solver="rk4", ode_unfolds=1, tau_initializer=0.01)  # h * a >= 100
    messages = _solver_warnings(layer, 1.0)
    assert any("'rk4' solver took sub-steps" in m for m in messages)
    assert layer.read_solver_report()["max_step_ratio"] > 100 / 2.785


@pytest.mark.backends
def test_steps_within_the_limits_report_nothing():
    layer = CTRNN(UNITS)  # h * a = 1/6
    _run(layer, 1.0)  # warnings are errors in this suite
    assert layer.read_solver_report() == {
        "capped_sequences": 0.0, "max_step_ratio": 0.0, "nonfinite_sequences": 0.0
    }


@pytest.mark.backends
def test_each_kind_of_failure_is_warned_once_per_layer():
    layer = CTRNN(UNITS)
    first = _solver_warnings(layer, 1e3)
    second = _solver_warnings(layer, 1e3)
    assert len(first) == 2 and second == []
    assert layer.read_solver_report()["nonfinite_sequences"] == 2 * BATCH


@pytest.mark.backends
def test_fused_solver_reports_only_non_finite_states():
    layer = LTC(UNITS)
    assert _solver_warnings(layer, 1e3) == [] and layer.read_solver_report() is None
    nan_inputs = _inputs()
    nan_inputs[0, 2, 0] = np.nan
    with pytest.warns(SolverFailureWarning, match="NaN or infinite in 1 sequence"):
        layer(nan_inputs)


@pytest.mark.backends
@pytest.mark.usefixtures("raise_policy")
def test_raise_policy_raises_eagerly():
    with pytest.raises(SolverFailureError, match="stability limit"):
        _run(CTRNN(UNITS), 1e3)


def _fit(layer, epochs=1, callbacks=None):
    model = keras.Sequential([keras.Input((TIME, FEATURES)), layer, keras.layers.Dense(1)])
    model.compile("adam", "mse")
    return model.fit(
        _inputs(), np.zeros((BATCH, 1)), batch_size=2, epochs=epochs, verbose=0,
        callbacks=callbacks,
    )


@pytest.mark.backends
@pytest.mark.usefixtures("raise_policy")
def test_raise_policy_raises_inside_compiled_fit():
    # time_scale stretches each input step of elapsed time 1 to 1e3.
    with pytest.raises(Exception, match="solver") as error:
        _fit(CTRNN(UNITS, time_scale=1e3))
    assert "stability" in str(error.value) or "stability limit" in repr(error.value)


@pytest.mark.backends
def test_compiled_fit_warns_and_the_report_is_readable_afterwards():
    layer = CTRNN(UNITS, time_scale=1e3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _fit(layer, epochs=2)
    messages = [str(w.message) for w in caught if issubclass(w.category, SolverFailureWarning)]
    assert len(messages) == 2  # once per kind: unstable steps, NaN states
    report = layer.read_solver_report()
    np.testing.assert_allclose(report["max_step_ratio"], 1e3 / 6 / 2, rtol=1e-5)
    assert report["nonfinite_sequences"] == 2 * BATCH  # 2 epochs, 2 batches of 2
    layer.reset_solver_report()
    assert layer.read_solver_report()["max_step_ratio"] == 0.0


def test_bounds_monitor_logs_and_warns_about_solver_failures():
    layer = LTC(UNITS, solver="euler", ode_unfolds=1, tau_initializer=0.01, name="ltc")
    monitor = BoundsMonitor(_inputs())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = _fit(layer, callbacks=[monitor])
    assert history.history["bounds/ltc/solver_max_step_ratio"][0] > 100 / 2
    assert any(
        issubclass(w.category, BoundsViolationWarning) and "'euler' solver" in str(w.message)
        for w in caught
    )


# --------------------------------------------------------------------------- CT-GRU


@pytest.mark.backends
@pytest.mark.parametrize("scale", [1e5, 1e6])
@pytest.mark.parametrize("per_trace", [False, True])
def test_ctgru_is_finite_and_exact_for_huge_inputs(scale, per_trace):
    traces = 8
    x = np.random.default_rng(3).normal(size=(2, 5, 2)) * scale
    dt = np.full((2, 5), 1.0)
    w = _ctgru_weights(np.random.default_rng(4), traces, per_trace)
    layer = CTGRU(4, num_traces=traces, per_trace_scales=per_trace, return_sequences=True)
    layer(np.zeros((1, 5, 2)), elapsed_time=np.ones((1, 5)))
    _set_ctgru_weights(layer.cell, w)
    got = to_numpy(layer(ops.convert_to_tensor(x, "float32"), elapsed_time=dt))
    expected = np.stack([
        ctgru_reference(x[i], dt[i], w, traces=traces, per_trace=per_trace, original=False)
        for i in range(2)
    ])
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)

"""Property-based tests of the LTC theorems' guarantees (hypothesis).

For random weights, inputs up to 1e6 in magnitude, elapsed times from 1e-4 to 1e3
and initial states inside the envelope, the default (fused) LTC must never
produce NaN or Inf, must keep every state in Theorem 2's envelope and every
``tau_sys`` in Theorem 1's range (relative tolerance 1e-5, float32). The
computation is compiled once per configuration on JAX (weights are arguments).
"""

from __future__ import annotations

import functools
import math

import keras
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from conftest import to_numpy
from liquidtime.bounds import max_guaranteed_elapsed_time, state_and_time_constants, theorem_bounds
from liquidtime.layers import LTC

BATCH, TIME, FEATURES, UNITS = 3, 5, 3, 4
TOLERANCE = 1e-5
PROPERTY_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _floats(low: float, high: float) -> st.SearchStrategy:
    return st.floats(low, high, allow_nan=False, allow_infinity=False, allow_subnormal=False, width=32)


def _log_uniform(low: float, high: float) -> st.SearchStrategy:
    return st.floats(math.log10(low), math.log10(high)).map(lambda e: 10.0**e)


def _array(shape, elements) -> st.SearchStrategy:
    return hnp.arrays(np.float64, shape, elements=elements)


inputs_strategy = _array((BATCH, TIME, FEATURES), _floats(-1e6, 1e6))
elapsed_strategy = _array((BATCH, TIME), _log_uniform(1e-4, 1e3))
dense_weights_strategy = st.fixed_dictionaries(
    {
        "tau": _array((UNITS,), _log_uniform(1e-3, 1e3)),
        "A": _array((UNITS,), _floats(-100.0, 100.0)),
        "kernel": _array((FEATURES, UNITS), _floats(-20.0, 20.0)),
        "recurrent_kernel": _array((UNITS, UNITS), _floats(-20.0, 20.0)),
        "bias": _array((UNITS,), _floats(-20.0, 20.0)),
        "initial_fraction": _array((BATCH, UNITS), _floats(0.0, 1.0)),
    }
)


def _softplus_inverse(value: np.ndarray) -> np.ndarray:
    return value + np.log(-np.expm1(-value))


def _compile(layer):
    """Returns ``run(x, dt, x0) -> (states, tau_sys)`` as NumPy, jit-compiled on JAX."""
    variables = layer.cell.variables

    def run(values, x, dt, x0):
        with keras.StatelessScope(state_mapping=list(zip(variables, values))):
            return state_and_time_constants(layer, x, dt, x0)

    if keras.backend.backend() == "jax":
        import jax

        run = jax.jit(run)

    def call(x, dt, x0):
        values = [variable.value for variable in variables]
        cast = lambda a: np.asarray(a, dtype="float32")  # noqa: E731
        states, tau_sys = run(values, cast(x), cast(dt), cast(x0))
        return to_numpy(states), to_numpy(tau_sys)

    return call


@functools.cache
def _dense_runner(solver: str, ode_unfolds: int):
    layer = LTC(UNITS, solver=solver, ode_unfolds=ode_unfolds, return_sequences=True)
    layer(np.zeros((BATCH, TIME, FEATURES), dtype="float32"))
    return layer, _compile(layer)


def _set_dense_weights(cell, weights) -> np.ndarray:
    """Assigns the drawn weights; returns an initial state inside the envelope."""
    cell.tau.assign(_softplus_inverse(weights["tau"]))
    cell.A.assign(weights["A"])
    cell.network.input_kernel.assign(weights["kernel"])
    cell.network.state_kernel.assign(weights["recurrent_kernel"])
    cell.network.first_bias.assign(weights["bias"])
    reversal = to_numpy(cell.A)
    return (weights["initial_fraction"] * reversal).astype("float32")


def _assert_within_theorems(bounds, states, tau_sys):
    assert np.all(np.isfinite(states)), "non-finite state"
    assert np.all(np.isfinite(tau_sys)), "non-finite tau_sys"
    inside = bounds.contains_state(states, TOLERANCE)
    assert inside.all(), (
        f"state left the envelope: states {states[~inside]}, envelope "
        f"[{bounds.state_low}, {bounds.state_high}]"
    )
    inside = bounds.contains_tau_sys(tau_sys, TOLERANCE)
    assert inside.all(), (
        f"tau_sys left Theorem 1's range: {tau_sys[~inside]}, range "
        f"[{bounds.tau_sys_low}, {bounds.tau_sys_high}]"
    )


@PROPERTY_SETTINGS
@given(
    weights=dense_weights_strategy,
    inputs=inputs_strategy,
    elapsed_time=elapsed_strategy,
    ode_unfolds=st.sampled_from([1, 3, 6, 20]),
)
def test_fused_dense_ltc_stays_within_theorems(weights, inputs, elapsed_time, ode_unfolds):
    layer, run = _dense_runner("fused", ode_unfolds)
    initial_state = _set_dense_weights(layer.cell, weights)
    bounds = theorem_bounds(layer)
    assert bounds.holds
    assert max_guaranteed_elapsed_time(layer) == math.inf
    states, tau_sys = run(inputs, elapsed_time, initial_state)
    _assert_within_theorems(bounds, states, tau_sys)


@PROPERTY_SETTINGS
@given(
    weights=dense_weights_strategy,
    inputs=inputs_strategy,
    fraction=_array((BATCH, TIME), st.floats(1e-3, 1.0)),
    ode_unfolds=st.sampled_from([1, 4]),
)
def test_euler_dense_ltc_stays_within_theorems_below_its_guaranteed_step(
    weights, inputs, fraction, ode_unfolds
):
    # Explicit Euler is a convex combination while h * a <= 1, i.e. for elapsed
    # times up to max_guaranteed_elapsed_time = ode_unfolds * min(tau_sys_low).
    layer, run = _dense_runner("euler", ode_unfolds)
    initial_state = _set_dense_weights(layer.cell, weights)
    bounds = theorem_bounds(layer)
    largest = max_guaranteed_elapsed_time(layer)
    assert largest == pytest.approx(ode_unfolds * np.min(bounds.tau_sys_low))
    states, tau_sys = run(inputs, fraction * largest, initial_state)
    _assert_within_theorems(bounds, states, tau_sys)


# --------------------------------------------------------------------------- synaptic form

_SYNAPTIC_POSITIVE = ("gleak", "cm", "w", "sensory_w")
synaptic_weights_strategy = st.fixed_dictionaries(
    {
        "gleak": _array((UNITS,), _log_uniform(1e-3, 1e3)),
        "cm": _array((UNITS,), _log_uniform(1e-3, 1e3)),
        "w": _array((UNITS, UNITS), _log_uniform(1e-3, 1e3)),
        "sensory_w": _array((FEATURES, UNITS), _log_uniform(1e-3, 1e3)),
        "vleak": _array((UNITS,), _floats(-10.0, 10.0)),
        "erev": _array((UNITS, UNITS), _floats(-10.0, 10.0)),
        "sensory_erev": _array((FEATURES, UNITS), _floats(-10.0, 10.0)),
        "sigma": _array((UNITS, UNITS), _floats(-20.0, 20.0)),
        "mu": _array((UNITS, UNITS), _floats(-20.0, 20.0)),
        "sensory_sigma": _array((FEATURES, UNITS), _floats(-20.0, 20.0)),
        "sensory_mu": _array((FEATURES, UNITS), _floats(-20.0, 20.0)),
        "input_w": _array((FEATURES,), _floats(-10.0, 10.0)),
        "input_b": _array((FEATURES,), _floats(-10.0, 10.0)),
        "initial_fraction": _array((BATCH, UNITS), _floats(0.0, 1.0)),
    }
)


@functools.cache
def _synaptic_runner(solver: str, ode_unfolds: int):
    synaptic = pytest.importorskip("liquidtime.cells.synaptic_ltc")
    from liquidtime.layers import ContinuousTimeRNN
    from liquidtime.wirings import Random

    # A sparse wiring: unconnected synapses' erev must not widen (or break) the envelope.
    wiring = Random(UNITS, sparsity_level=0.5, seed=3)
    cell = synaptic.SynapticLTCCell(wiring, solver=solver, ode_unfolds=ode_unfolds)
    layer = ContinuousTimeRNN(cell, return_sequences=True)
    layer(np.zeros((BATCH, TIME, FEATURES), dtype="float32"))
    return layer, _compile(layer)


def _set_synaptic_weights(cell, weights) -> np.ndarray:
    """Assigns the drawn weights; returns an initial state inside the envelope."""
    for name, value in weights.items():
        if name == "initial_fraction":
            continue
        variable = getattr(cell, name)
        variable.assign(_softplus_inverse(value) if name in _SYNAPTIC_POSITIVE else value)
    bounds = theorem_bounds(cell)
    fraction = weights["initial_fraction"]
    return (bounds.state_low + fraction * (bounds.state_high - bounds.state_low)).astype("float32")


@PROPERTY_SETTINGS
@given(
    weights=synaptic_weights_strategy,
    inputs=inputs_strategy,
    elapsed_time=elapsed_strategy,
    ode_unfolds=st.sampled_from([1, 6]),
)
def test_fused_synaptic_ltc_stays_within_theorems(weights, inputs, elapsed_time, ode_unfolds):
    layer, run = _synaptic_runner("fused", ode_unfolds)
    initial_state = _set_synaptic_weights(layer.cell, weights)
    bounds = theorem_bounds(layer)
    assert bounds.holds
    states, tau_sys = run(inputs, elapsed_time, initial_state)
    _assert_within_theorems(bounds, states, tau_sys)

"""The LTC paper's baselines (CT-RNN, Neural ODE, CT-GRU) and the seed's neuron.

Every cell is checked against a NumPy reference written here from the equations
(not from the library's solvers), in float64, on every backend. Saving whole
models with these layers is tested through the factory in test_models.py; here
the cells' configs are round-tripped inside keras.layers.RNN.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import scipy.integrate
from keras import ops

from conftest import to_numpy
from helpers import finite_difference_gradients, value_and_gradients
from liquidtime.cells.ctgru import CTGRUCell
from liquidtime.cells.ctrnn import CTRNNCell
from liquidtime.cells.node import NeuralODECell
from liquidtime.layers.ctgru import CTGRU
from liquidtime.layers.ctrnn import CTRNN
from liquidtime.layers.node import NeuralODE
from liquidtime.solvers import Dopri5Solver

BATCH, TIME, FEATURES, UNITS = 3, 5, 2, 4


def _rng(seed=0):
    return np.random.default_rng(seed)


def _data(seed=0):
    rng = _rng(seed)
    x = rng.normal(size=(BATCH, TIME, FEATURES))
    dt = rng.uniform(0.2, 1.8, size=(BATCH, TIME))
    return x, dt


def _softplus_inverse(p):
    return np.log(np.expm1(p))


# --------------------------------------------------------------------------- references


def network_ode_reference(x, dt, w, *, leak, solver, unfolds, time_scale, clip=None):
    """CT-RNN (``leak=True``) or Neural ODE (``leak=False``) on one sequence.

    dx/dt = -x / tau + g * tanh(I W + x U + c) [/ tau if w["scaled"]]   (CT-RNN)
    dx/dt = tanh(I W + x U + c)                                           (Neural ODE)
    """
    tau = w.get("tau", np.ones(UNITS))
    gain = w.get("gain", np.ones(UNITS))
    scale = gain / tau if w.get("scaled") else gain
    state = np.zeros(UNITS)
    outputs = []
    for t in range(x.shape[0]):
        def drive(s, t=t):
            return scale * np.tanh(x[t] @ w["W"] + s @ w["U"] + w["c"])

        def rhs(s):
            return (-s / tau if leak else 0.0) + drive(s)

        h = dt[t] * time_scale / unfolds
        for _ in range(unfolds):
            if solver == "euler":
                state = state + h * rhs(state)
            elif solver == "fused":
                state = (state + h * drive(state)) / (1.0 + h / tau)
            else:  # rk4
                k1 = rhs(state)
                k2 = rhs(state + h / 2 * k1)
                k3 = rhs(state + h / 2 * k2)
                k4 = rhs(state + h * k3)
                state = state + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
            if clip is not None:
                state = np.clip(state, -clip, clip)
        outputs.append(state)
    return np.stack(outputs)


def ctgru_reference(x, dt, w, *, traces, per_trace, original):
    """CT-GRU (Mozer et al. 2017) on one sequence; ``original`` uses exp(-1 / ln tau_k)."""
    taus = 10.0 ** (np.arange(traces) / 2.0)
    log_taus = np.log(taus)
    if original:
        decay_table = np.array([0.0] + [np.exp(-1.0 / np.log(tau)) for tau in taus[1:]])
    width = UNITS * traces if per_trace else UNITS
    memory = np.zeros((UNITS, traces))

    def mixture(log_tau):
        logits = -((log_tau.reshape(UNITS, -1) - log_taus) ** 2)
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    outputs = []
    for t in range(x.shape[0]):
        h = memory.sum(axis=1)
        z = x[t] @ w["W"] + w["c"]
        retrieval = mixture(z[:width] + h @ w["U"][:, :width])
        storage = mixture(z[width : 2 * width] + h @ w["U"][:, width:])
        event = np.tanh(z[2 * width :] + (retrieval * memory).sum(axis=1) @ w["UQ"])
        decay = decay_table if original else np.exp(-dt[t] / taus)
        memory = ((1 - storage) * memory + storage * event[:, None]) * decay
        outputs.append(memory.sum(axis=1))
    return np.stack(outputs)


# --------------------------------------------------------------------------- helpers


def _network_weights(rng, gain=False, tau=True):
    w = {
        "W": rng.normal(size=(FEATURES, UNITS)),
        "U": rng.normal(size=(UNITS, UNITS)) * 0.5,
        "c": rng.normal(size=UNITS) * 0.1,
    }
    if tau:
        w["tau"] = rng.uniform(0.5, 2.0, size=UNITS)
    if gain:
        w["gain"] = rng.uniform(0.5, 1.5, size=UNITS)
    return w


def _set_network_weights(cell, w):
    cell.network.input_kernel.assign(w["W"])
    cell.network.state_kernel.assign(w["U"])
    cell.network.first_bias.assign(w["c"])
    if "tau" in w:
        cell.tau.assign(_softplus_inverse(w["tau"]))
    if "gain" in w:
        cell.gain.assign(w["gain"])


def _ctgru_weights(rng, traces, per_trace):
    width = UNITS * traces if per_trace else UNITS
    return {
        "W": rng.normal(size=(FEATURES, 2 * width + UNITS)),
        "U": rng.normal(size=(UNITS, 2 * width)),
        "UQ": rng.normal(size=(UNITS, UNITS)) * 0.5,
        "c": rng.normal(size=2 * width + UNITS) + np.r_[np.full(2 * width, 2.0), np.zeros(UNITS)],
    }


def _set_ctgru_weights(cell, w):
    cell.kernel.assign(w["W"])
    cell.recurrent_kernel.assign(w["U"])
    cell.retrieval_kernel.assign(w["UQ"])
    cell.bias.assign(w["c"])


def _run(layer, x, dt):
    return to_numpy(layer(ops.convert_to_tensor(x), elapsed_time=ops.convert_to_tensor(dt)))


def _build(layer):
    layer(np.zeros((1, TIME, FEATURES)), elapsed_time=np.ones((1, TIME)))
    return layer


# --------------------------------------------------------------------------- CT-RNN


CTRNN_CASES = {
    "euler": dict(solver="euler", ode_unfolds=6),
    "fused": dict(solver="fused", ode_unfolds=3),
    "rk4": dict(solver="rk4", ode_unfolds=2),
    "paper": dict(solver="euler", ode_unfolds=6, time_scale=0.6, learn_tau=False),
    "relaxation-gain": dict(solver="euler", ode_unfolds=4, tau_scales_drive=True, use_gain=True),
}


@pytest.mark.backends
@pytest.mark.usefixtures("float64")
@pytest.mark.parametrize("case", sorted(CTRNN_CASES))
def test_ctrnn_matches_numpy(case):
    options = CTRNN_CASES[case]
    x, dt = _data()
    w = _network_weights(_rng(1), gain=options.get("use_gain", False))
    if case == "paper":
        w["tau"] = np.ones(UNITS)
    layer = _build(CTRNN(UNITS, return_sequences=True, **options))
    _set_network_weights(layer.cell, w)
    w["scaled"] = options.get("tau_scales_drive", False)
    expected = np.stack([
        network_ode_reference(
            x[i], dt[i], w, leak=True, solver=options["solver"], unfolds=options["ode_unfolds"],
            time_scale=options.get("time_scale", 1.0),
        )
        for i in range(BATCH)
    ])
    np.testing.assert_allclose(_run(layer, x, dt), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.backends
@pytest.mark.usefixtures("float64")
def test_ctrnn_paper_preset_takes_six_steps_of_one_tenth():
    """time_scale=0.6 with 6 unfolds: h = 0.1 per Euler step when dt = 1 (the original code)."""
    x, _ = _data()
    w = {**_network_weights(_rng(2), tau=False), "tau": np.ones(UNITS)}
    layer = _build(CTRNN(UNITS, learn_tau=False, time_scale=0.6, return_sequences=True))
    _set_network_weights(layer.cell, w)
    state, expected = np.zeros((BATCH, UNITS)), []
    for t in range(TIME):
        for _ in range(6):
            state = state + 0.1 * (-state + np.tanh(x[:, t] @ w["W"] + state @ w["U"] + w["c"]))
        expected.append(state)
    actual = to_numpy(layer(ops.convert_to_tensor(x)))
    np.testing.assert_allclose(actual, np.stack(expected, axis=1), rtol=1e-10, atol=1e-12)


@pytest.mark.backends
@pytest.mark.usefixtures("float64")
def test_seed_liquid_neuron_reproduces_the_seed_update():
    """The seed's update, verbatim: h <- h + (alpha tanh(W_in x + W_rec h + beta) - h) / tau, dt = 1."""
    rng = _rng(3)
    x, _ = _data(3)
    w_in = rng.normal(size=(UNITS, FEATURES))
    w_rec = rng.normal(size=(UNITS, UNITS)) * 0.5
    alpha, beta = rng.uniform(0.5, 1.5, UNITS), rng.normal(size=UNITS) * 0.1
    tau_param = rng.normal(size=UNITS)
    cell = CTRNNCell.liquid_neuron(UNITS)
    rnn = keras.layers.RNN(cell, return_sequences=True)
    rnn(np.zeros((1, TIME, FEATURES)))
    cell.network.input_kernel.assign(w_in.T)
    cell.network.state_kernel.assign(w_rec.T)
    cell.network.first_bias.assign(beta)
    cell.gain.assign(alpha)
    cell.tau.assign(tau_param)  # the stored variable is the seed's pre-softplus parameter
    tau = np.log1p(np.exp(tau_param))
    h, expected = np.zeros((BATCH, UNITS)), []
    for t in range(TIME):
        u = x[:, t] @ w_in.T + h @ w_rec.T
        dh = (-h + alpha * np.tanh(u + beta)) / tau
        h = h + dh
        expected.append(h)
    np.testing.assert_allclose(
        to_numpy(rnn(ops.convert_to_tensor(x))), np.stack(expected, axis=1), rtol=1e-10, atol=1e-12
    )


def test_liquid_neuron_is_a_ctrnn_configuration():
    cell = CTRNNCell.liquid_neuron(UNITS, solver="fused")
    assert isinstance(cell, CTRNNCell)
    config = cell.get_config()
    assert config["tau_scales_drive"] and config["use_gain"] and config["learn_tau"]
    assert config["ode_unfolds"] == 1
    assert config["solver"]["class_name"] == "FusedSolver"
    layer = CTRNN.liquid_neuron(UNITS)
    assert layer.cell.use_gain and layer.cell.tau_scales_drive
    assert "not a liquid time-constant" in " ".join(CTRNNCell.liquid_neuron.__doc__.split())


def test_fixed_tau_is_not_a_trainable_weight():
    for learn in (True, False):
        layer = _build(CTRNN(UNITS, learn_tau=learn))
        names = [v.name for v in layer.trainable_weights]
        assert ("tau" in names) is learn
        assert any(v.name == "tau" for v in layer.weights)


# --------------------------------------------------------------------------- Neural ODE


NODE_CASES = {
    "rk4": dict(solver="rk4", ode_unfolds=6),
    "paper-clipped": dict(solver="rk4", ode_unfolds=6, time_scale=0.6, clip_state=0.3),
    "euler": dict(solver="euler", ode_unfolds=3),
}


@pytest.mark.backends
@pytest.mark.usefixtures("float64")
@pytest.mark.parametrize("case", sorted(NODE_CASES))
def test_neural_ode_matches_numpy(case):
    options = NODE_CASES[case]
    x, dt = _data(4)
    w = _network_weights(_rng(5), tau=False)
    layer = _build(NeuralODE(UNITS, return_sequences=True, **options))
    _set_network_weights(layer.cell, w)
    expected = np.stack([
        network_ode_reference(
            x[i], dt[i], w, leak=False, solver=options["solver"], unfolds=options["ode_unfolds"],
            time_scale=options.get("time_scale", 1.0), clip=options.get("clip_state"),
        )
        for i in range(BATCH)
    ])
    actual = _run(layer, x, dt)
    np.testing.assert_allclose(actual, expected, rtol=1e-10, atol=1e-12)
    if "clip_state" in options:
        assert np.max(np.abs(actual)) == pytest.approx(options["clip_state"])


@pytest.mark.backends
@pytest.mark.usefixtures("float64")
def test_neural_ode_dopri5_matches_solve_ivp():
    x, dt = _data(6)
    w = _network_weights(_rng(7), tau=False)
    solver = Dopri5Solver(rtol=1e-7, atol=1e-9, max_steps=48)
    layer = _build(NeuralODE(UNITS, solver=solver, return_sequences=True))
    _set_network_weights(layer.cell, w)
    actual = _run(layer, x, dt)
    for i in range(BATCH):
        state, expected = np.zeros(UNITS), []
        for t in range(TIME):
            rhs = lambda _, s, i=i, t=t: np.tanh(x[i, t] @ w["W"] + s @ w["U"] + w["c"])  # noqa: E731
            state = scipy.integrate.solve_ivp(
                rhs, (0.0, dt[i, t]), state, method="DOP853", rtol=1e-12, atol=1e-12
            ).y[:, -1]
            expected.append(state)
        np.testing.assert_allclose(actual[i], np.stack(expected), rtol=1e-5, atol=1e-7)


# --------------------------------------------------------------------------- CT-GRU


CTGRU_CASES = {
    "mozer": dict(num_traces=8),
    "mozer-3-traces": dict(num_traces=3),
    "original": dict(num_traces=8, per_trace_scales=True, original_decay=True),
}


@pytest.mark.backends
@pytest.mark.usefixtures("float64")
@pytest.mark.parametrize("case", sorted(CTGRU_CASES))
def test_ctgru_matches_numpy(case):
    options = CTGRU_CASES[case]
    traces = options["num_traces"]
    per_trace = options.get("per_trace_scales", False)
    x, dt = _data(8)
    w = _ctgru_weights(_rng(9), traces, per_trace)
    layer = _build(CTGRU(UNITS, return_sequences=True, **options))
    _set_ctgru_weights(layer.cell, w)
    expected = np.stack([
        ctgru_reference(
            x[i], dt[i], w, traces=traces, per_trace=per_trace,
            original=options.get("original_decay", False),
        )
        for i in range(BATCH)
    ])
    np.testing.assert_allclose(_run(layer, x, dt), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.backends
def test_ctgru_original_decay_zeroes_the_first_trace_without_nan():
    x, _ = _data(10)
    layer = CTGRU(UNITS, per_trace_scales=True, original_decay=True, return_state=True)
    output, traces = layer(ops.convert_to_tensor(x, "float32"))
    traces = to_numpy(traces).reshape(BATCH, UNITS, 8)
    assert np.all(np.isfinite(traces)) and np.all(np.isfinite(to_numpy(output)))
    np.testing.assert_array_equal(traces[:, :, 0], 0.0)
    assert np.any(traces[:, :, 1:] != 0.0)
    np.testing.assert_allclose(to_numpy(output), traces.sum(-1), rtol=1e-5, atol=1e-6)


def test_ctgru_state_and_output_sizes():
    cell = CTGRUCell(UNITS, num_traces=5)
    assert cell.state_size == UNITS * 5 and cell.output_size == UNITS
    layer = CTGRU(UNITS, num_traces=5, return_state=True)
    output, state = layer(np.zeros((2, TIME, FEATURES), "float32"))
    assert tuple(output.shape) == (2, UNITS) and tuple(state.shape) == (2, UNITS * 5)


# --------------------------------------------------------------------------- shared contract


LAYERS = {
    "ctrnn": lambda **kw: CTRNN(UNITS, **kw),
    "liquid-neuron": lambda **kw: CTRNN.liquid_neuron(UNITS, **kw),
    "node": lambda **kw: NeuralODE(UNITS, **kw),
    "ctgru": lambda **kw: CTGRU(UNITS, **kw),
}
CELLS = {
    "ctrnn": lambda **kw: CTRNNCell(UNITS, **kw),
    "node": lambda **kw: NeuralODECell(UNITS, **kw),
    "ctgru": lambda **kw: CTGRUCell(UNITS, **kw),
}


@pytest.mark.backends
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_batched_elapsed_times_equal_each_sequence_alone(name):
    x, dt = _data(11)
    x, dt = x.astype("float32"), dt.astype("float32")
    layer = LAYERS[name](return_sequences=True)
    together = _run(layer, x, dt)
    for i in range(BATCH):
        np.testing.assert_allclose(
            together[i], _run(layer, x[i : i + 1], dt[i : i + 1])[0], rtol=1e-5, atol=1e-6
        )
    assert np.max(np.abs(together - _run(layer, x, np.ones_like(dt)))) > 1e-4, "elapsed time ignored"


@pytest.mark.backends
@pytest.mark.parametrize("name", sorted(CELLS))
def test_cell_in_keras_rnn_reads_elapsed_time_feature(name):
    x, dt = _data(12)
    x, dt = x.astype("float32"), dt.astype("float32")
    layer = {"ctrnn": CTRNN, "node": NeuralODE, "ctgru": CTGRU}[name](UNITS, return_sequences=True)
    expected = _run(layer, x, dt)
    cell = CELLS[name](elapsed_time_as_feature=True)
    rnn = keras.layers.RNN(cell, return_sequences=True)
    rnn(np.concatenate([x, dt[..., None]], -1))
    rnn.set_weights(layer.get_weights())
    actual = to_numpy(rnn(np.concatenate([x, dt[..., None]], -1)))
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6)


def _compiled_loss(loss_fn, variables):
    """``loss_fn`` reading ``variables``; on JAX compiled once instead of re-traced per call.

    Eager JAX re-traces and re-compiles the scan at every call, which makes the
    dozens of finite-difference evaluations slow; the compiled function reads the
    variables' current values, so ``variable.assign`` between calls still counts.
    """
    if keras.backend.backend() != "jax":
        return loss_fn
    import jax

    def pure(values):
        with keras.StatelessScope(state_mapping=list(zip(variables, values))):
            return loss_fn()

    compiled = jax.jit(pure)
    return lambda: compiled([variable.value for variable in variables])


@pytest.mark.backends
@pytest.mark.usefixtures("float64")
@pytest.mark.parametrize("name", sorted(CELLS))
def test_gradients_match_finite_differences(name):
    x, dt = _data(13)
    x, dt = x[:2, :3], dt[:2, :3]
    layer = {"ctrnn": CTRNN, "node": NeuralODE, "ctgru": CTGRU}[name](
        UNITS, **({"ode_unfolds": 2} if name != "ctgru" else {"num_traces": 3})
    )
    xt, dtt = ops.convert_to_tensor(x), ops.convert_to_tensor(dt)
    layer(xt, elapsed_time=dtt)
    loss = _compiled_loss(lambda: ops.sum(ops.square(layer(xt, elapsed_time=dtt))), layer.weights)
    _, grads = value_and_gradients(loss, layer.trainable_variables)
    numeric = finite_difference_gradients(loss, layer.trainable_variables, entries_per_variable=3)
    for gradient, (indices, derivatives) in zip(grads, numeric):
        analytic = np.array([gradient[index] for index in indices])
        np.testing.assert_allclose(analytic, derivatives, rtol=1e-5, atol=1e-7)


def _toy_regression(seed=0):
    rng = _rng(seed)
    x = rng.normal(size=(32, 6, FEATURES)).astype("float32")
    dt = rng.uniform(0.5, 1.5, size=(32, 6)).astype("float32")
    y = np.cumsum(x[..., :1] * dt[..., None], axis=1).astype("float32") * 0.5
    return x, dt, y


def _irregular_model(layer):
    x = keras.Input((None, FEATURES))
    dt = keras.Input((None,))
    y = keras.layers.Dense(1)(layer(x, elapsed_time=dt))
    return keras.Model([x, dt], y)


@pytest.mark.backends
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_two_epoch_fit_lowers_the_loss(name):
    x, dt, y = _toy_regression()
    model = _irregular_model(LAYERS[name](return_sequences=True))
    model.compile(keras.optimizers.Adam(0.02), "mse")
    history = model.fit([x, dt], y, batch_size=8, epochs=2, verbose=0, shuffle=False)
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses)) and losses[1] < losses[0], losses


@pytest.mark.parametrize("name", sorted(CELLS))
def test_cell_config_round_trip_in_keras_rnn(name, tmp_path):
    x, _, _ = _toy_regression(2)
    model = keras.Sequential([keras.Input((None, FEATURES)), keras.layers.RNN(CELLS[name]())])
    expected = model.predict(x, verbose=0)
    model.save(tmp_path / "cell.keras")
    restored = keras.models.load_model(tmp_path / "cell.keras")
    np.testing.assert_allclose(restored.predict(x, verbose=0), expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    "factory, argument",
    [
        (lambda: CTRNNCell(UNITS, time_scale=0.0), "time_scale"),
        (lambda: CTRNNCell(UNITS, clip_state=-1.0), "clip_state"),
        (lambda: CTRNNCell(UNITS, tau_initializer=0.0), "tau_initializer"),
        (lambda: CTRNNCell(UNITS, positivity="abs"), "positivity"),
        (lambda: CTRNNCell(UNITS, solver="midpoint"), "solver"),
        (lambda: CTRNNCell(UNITS, ode_unfolds=0), "ode_unfolds"),
        (lambda: CTRNN(0), "units"),
        (lambda: NeuralODECell(UNITS, clip_state=0), "clip_state"),
        (lambda: NeuralODE(UNITS, time_scale="fast"), "time_scale"),
        (lambda: CTGRUCell(UNITS, num_traces=0), "num_traces"),
        (lambda: CTGRUCell(UNITS, min_timescale=0.0), "min_timescale"),
        (lambda: CTGRUCell(UNITS, timescale_ratio=1.0), "timescale_ratio"),
        (lambda: CTGRUCell(UNITS, min_timescale=0.5, original_decay=True), "min_timescale"),
    ],
)
def test_bad_arguments_raise_clear_errors(factory, argument):
    with pytest.raises(ValueError, match=f"`{argument}`"):
        factory()


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_feature_size_cannot_change_after_build(name):
    layer = LAYERS[name]()
    layer(np.zeros((2, TIME, FEATURES), "float32"))
    with pytest.raises(ValueError, match="was built for 2 input features"):
        layer(np.zeros((2, TIME, FEATURES + 1), "float32"))

"""The synaptic LTC cell on wirings: NumPy references, gradients, saving, errors."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from conftest import to_numpy
from helpers import finite_difference_gradients, value_and_gradients
from liquidtime.cells.parameters import MinValue
from liquidtime.cells.synaptic_ltc import DEFAULT_INITIALIZATION_RANGES, SynapticLTCCell
from liquidtime.layers import LTC
from liquidtime.solvers import Dopri5Solver
from liquidtime.wirings import NCP, AutoNCP, FullyConnected, MatrixWiring, Random, Wiring

B, T, M = 2, 5, 3
POSITIVE = ("gleak", "cm", "w", "sensory_w")


@keras.saving.register_keras_serializable(package="liquidtime_tests")
class Chain(Wiring):
    """A user's wiring: input 0 excites the last neuron, neuron i + 1 inhibits neuron i."""

    def __init__(self, units, input_dim=None):
        super().__init__(units, output_dim=1, input_dim=input_dim)

    def make_adjacency_matrix(self):
        matrix = np.zeros((self.units, self.units), dtype=int)
        matrix[np.arange(1, self.units), np.arange(self.units - 1)] = -1
        return matrix

    def make_sensory_adjacency_matrix(self, input_dim):
        matrix = np.zeros((input_dim, self.units), dtype=int)
        matrix[0, -1] = 1
        return matrix

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def small_ncp():
    return NCP(4, 3, 2, sensory_fanout=2, inter_fanout=2, recurrent_command_synapses=3,
               motor_fanin=2, seed=11)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def softplus(x):
    return np.logaddexp(0.0, x)


def randomize(cell: SynapticLTCCell, seed: int = 0) -> None:
    """Random but plausible values for every weight (positive ones in the variable's space)."""
    rng = np.random.default_rng(seed)
    for variable in cell.weights:
        name = variable.name
        if name in POSITIVE:
            if cell.positivity == "softplus":
                value = rng.normal(scale=0.5, size=variable.shape)
            else:
                value = rng.uniform(0.3, 1.0, size=variable.shape)
        elif name.endswith("sigma"):
            value = rng.uniform(-2.0, 6.0, size=variable.shape)
        elif name.endswith("mu"):
            value = rng.uniform(-0.5, 1.0, size=variable.shape)
        else:
            value = rng.normal(scale=0.7, size=variable.shape)
        variable.assign(value)


def parameters(cell: SynapticLTCCell) -> dict[str, np.ndarray]:
    """The cell's parameters as float64 NumPy, positive ones resolved."""
    values = {variable.name: to_numpy(variable) for variable in cell.weights}
    if cell.positivity == "softplus":
        for name in POSITIVE:
            values[name] = softplus(values[name])
    return values


def numpy_synaptic_ltc(cell, x, dt, solver="fused"):
    """The synaptic LTC written from its equation, with ncps's fused update for "fused".

    Returns:
        ``(outputs (B, T, motor), final potentials (B, N))``.
    """
    p = parameters(cell)
    mask = np.abs(cell.built_wiring.adjacency_matrix).astype(float)
    sensory_mask = np.abs(cell.built_wiring.sensory_adjacency_matrix).astype(float)
    eps, unfolds, motor = cell.epsilon, cell.ode_unfolds, cell.wiring.output_dim
    u = x * p.get("input_w", 1.0) + p.get("input_b", 0.0)
    v = np.zeros((x.shape[0], cell.units))
    outputs = []
    for t in range(x.shape[1]):
        # Sensory synapses, [b, k, i]: input k onto neuron i.
        g_sensory = (
            p["sensory_w"] * sensory_mask
            * sigmoid(p["sensory_sigma"] * (u[:, t, :, None] - p["sensory_mu"]))
        )

        def synapses(v):  # [b, j, i]: neuron j onto neuron i
            return p["w"] * mask * sigmoid(p["sigma"] * (v[:, :, None] - p["mu"]))

        def dv_dt(v, g_sensory=g_sensory):
            current = p["gleak"] * (p["vleak"] - v) - eps * v
            current = current + np.sum(synapses(v) * (p["erev"] - v[:, None, :]), axis=1)
            current = current + np.sum(g_sensory * (p["sensory_erev"] - v[:, None, :]), axis=1)
            return current / p["cm"]

        h = dt[:, t : t + 1] / unfolds
        for _ in range(unfolds):
            if solver == "fused":  # ncps's update
                g = synapses(v)
                numerator = (
                    p["cm"] / h * v + p["gleak"] * p["vleak"]
                    + np.sum(g * p["erev"], axis=1) + np.sum(g_sensory * p["sensory_erev"], axis=1)
                )
                denominator = p["cm"] / h + p["gleak"] + g.sum(axis=1) + g_sensory.sum(axis=1)
                v = numerator / (denominator + eps)
            elif solver == "euler":
                v = v + h * dv_dt(v)
            else:  # classic RK4
                k1 = dv_dt(v)
                k2 = dv_dt(v + h / 2 * k1)
                k3 = dv_dt(v + h / 2 * k2)
                k4 = dv_dt(v + h * k3)
                v = v + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        outputs.append(v[:, :motor] * p.get("output_w", 1.0) + p.get("output_b", 0.0))
    return np.stack(outputs, axis=1), v


def data(seed=1, dt_range=(0.2, 1.5)):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(B, T, M)).astype("float32")
    dt = rng.uniform(*dt_range, size=(B, T)).astype("float32")
    return x, dt


@pytest.mark.backends
@pytest.mark.parametrize(
    "input_mapping, output_mapping, positivity, epsilon",
    [
        ("affine", "affine", "softplus", 1e-8),
        ("linear", "none", "clip", 1e-8),
        ("none", "linear", "softplus", 0.5),
    ],
)
def test_fused_matches_ncps_style_numpy_reference(
    input_mapping, output_mapping, positivity, epsilon
):
    x, dt = data()
    layer = LTC(small_ncp(), input_mapping=input_mapping, output_mapping=output_mapping,
                positivity=positivity, epsilon=epsilon, return_sequences=True, return_state=True)
    layer.build(x.shape)
    randomize(layer.cell)
    outputs, state = layer(x, elapsed_time=dt)
    expected_outputs, expected_state = numpy_synaptic_ltc(
        layer.cell, x.astype(float), dt.astype(float)
    )
    assert outputs.shape == (B, T, 2) and state.shape == (B, 9)
    np.testing.assert_allclose(to_numpy(outputs), expected_outputs, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(to_numpy(state), expected_state, rtol=1e-5, atol=1e-5)


@pytest.mark.backends
@pytest.mark.parametrize("solver", ["euler", "rk4"])
def test_euler_and_rk4_match_numpy_reference(solver):
    x, dt = data(dt_range=(0.05, 0.4))
    layer = LTC(FullyConnected(5, output_dim=2, seed=2), solver=solver, ode_unfolds=4,
                return_sequences=True, epsilon=0.1)
    layer.build(x.shape)
    randomize(layer.cell, seed=4)
    expected, _ = numpy_synaptic_ltc(layer.cell, x.astype(float), dt.astype(float), solver)
    np.testing.assert_allclose(to_numpy(layer(x, elapsed_time=dt)), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.usefixtures("float64")
def test_dopri5_converges_to_the_ode_solution():
    x, dt = (array[:, :3] for array in data(seed=5))
    layer = LTC(small_ncp(), solver=Dopri5Solver(rtol=1e-9, atol=1e-11, max_steps=200),
                return_sequences=True, dtype="float64")
    layer.build(x.shape)
    randomize(layer.cell, seed=6)
    layer.cell.ode_unfolds = 400  # the reference: RK4 with 400 sub-steps per input step
    expected, _ = numpy_synaptic_ltc(layer.cell, x.astype(float), dt.astype(float), "rk4")
    layer.cell.ode_unfolds = 6
    np.testing.assert_allclose(to_numpy(layer(x, elapsed_time=dt)), expected, rtol=1e-7, atol=1e-8)


@pytest.mark.backends
@pytest.mark.usefixtures("float64")
@pytest.mark.parametrize("positivity", ["softplus", "clip"])
def test_gradients_match_finite_differences(positivity):
    # Neuron 2 has no synapse onto neuron 0 and input 1 none onto neuron 2: masked entries.
    wiring = MatrixWiring([[1, -1, 1], [1, 0, -1], [0, 1, 1]], [[1, 0, -1], [-1, 1, 0]], 2)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 3, 2))
    dt = rng.uniform(0.2, 1.5, size=(2, 3))
    target = keras.ops.convert_to_tensor(rng.normal(size=(2, 2)))
    layer = LTC(wiring, ode_unfolds=2, positivity=positivity, epsilon=0.01, dtype="float64")
    layer.build(x.shape)
    randomize(layer.cell, seed=7)

    def loss():
        return keras.ops.sum((layer(x, elapsed_time=dt) - target) ** 2)

    _, grads = value_and_gradients(loss, layer.trainable_weights)
    numeric = finite_difference_gradients(loss, layer.trainable_weights, entries_per_variable=4)
    for variable, analytic, (indices, expected) in zip(layer.trainable_weights, grads, numeric):
        picked = np.array([analytic[index] for index in indices])
        np.testing.assert_allclose(picked, expected, rtol=1e-5, atol=1e-7, err_msg=variable.path)
    by_name = dict(zip((v.name for v in layer.trainable_weights), grads))
    assert by_name["w"][2, 0] == 0.0 and by_name["erev"][2, 0] == 0.0
    assert by_name["sensory_w"][1, 2] == 0.0 and by_name["sensory_mu"][1, 2] == 0.0


@pytest.mark.backends
def test_keras_rnn_with_time_feature_matches_layer_sharing_one_wiring():
    wiring = AutoNCP(10, output_size=3, seed=1)
    x, dt = data()
    layer = LTC(wiring, return_sequences=True)
    layer.build(x.shape)
    randomize(layer.cell)
    rnn = keras.layers.RNN(SynapticLTCCell(wiring, elapsed_time_as_feature=True),
                           return_sequences=True)
    x_with_time = np.concatenate([x, dt[..., None]], axis=-1)
    rnn.build(x_with_time.shape)
    rnn.set_weights(layer.get_weights())
    np.testing.assert_allclose(
        to_numpy(rnn(x_with_time)), to_numpy(layer(x, elapsed_time=dt)), rtol=1e-5, atol=1e-6
    )
    assert wiring.input_dim is None  # neither layer changed the wiring


def test_one_wiring_serves_layers_with_different_input_sizes(tmp_path):
    wiring = AutoNCP(12, output_size=2, seed=3)
    a, b = keras.Input((6, 3)), keras.Input((6, 5))
    first, second = LTC(wiring, ode_unfolds=1), LTC(wiring, ode_unfolds=1)
    merged = keras.layers.Concatenate()([first(a), second(b)])
    model = keras.Model([a, b], keras.layers.Dense(1)(merged))
    rng = np.random.default_rng(0)
    inputs = [rng.normal(size=(2, 6, 3)), rng.normal(size=(2, 6, 5))]
    cells = [layer.cell for layer in model.layers if isinstance(layer, LTC)]
    assert [c.built_wiring.input_dim for c in cells] == [3, 5] and wiring.input_dim is None
    np.testing.assert_array_equal(cells[0].built_wiring.adjacency_matrix, wiring.adjacency_matrix)
    path = tmp_path / "two.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_array_equal(to_numpy(restored(inputs)), to_numpy(model(inputs)))


def test_project_inputs_hoists_the_sensory_synapses():
    x, _ = data()
    layer = LTC(small_ncp())
    layer.build(x.shape)
    a0, b0 = layer.cell.project_inputs(x)  # the whole sequence at once
    assert a0.shape == b0.shape == (B, T, 9)
    step_a0, _ = layer.cell.project_inputs(x[:, 2])
    np.testing.assert_allclose(to_numpy(a0[:, 2]), to_numpy(step_a0), rtol=1e-6)


WIRED_MODELS = {
    "ncp": small_ncp,
    "auto_ncp": lambda: AutoNCP(10, output_size=2, sparsity_level=0.3, seed=4),
    "fully_connected": lambda: FullyConnected(6, output_dim=2, self_connections=False, seed=5),
    "random": lambda: Random(7, output_dim=2, sparsity_level=0.5, seed=6),
    "custom": lambda: Chain(4),
}


@pytest.mark.parametrize("name", sorted(WIRED_MODELS))
def test_keras_file_round_trip(name, tmp_path):
    layer = LTC(WIRED_MODELS[name](), return_sequences=True, ode_unfolds=1, positivity="clip",
                initialization_ranges={"cm": (0.5, 0.7)}, output_mapping="linear")
    model = keras.Sequential([keras.Input((T, M)), layer, keras.layers.Dense(1)])
    x, _ = data()
    path = tmp_path / f"{name}.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_array_equal(to_numpy(restored(x)), to_numpy(model(x)))
    cell = restored.layers[0].cell
    assert type(cell.wiring) is type(layer.cell.wiring)
    assert cell.wiring.get_config() == layer.cell.wiring.get_config()
    np.testing.assert_array_equal(cell.built_wiring.sensory_adjacency_matrix,
                                  layer.cell.built_wiring.sensory_adjacency_matrix)
    assert cell.initialization_ranges["cm"] == (0.5, 0.7) and cell.positivity == "clip"
    assert restored.layers[0].get_config() == layer.get_config()


def test_layer_and_cell_config_round_trip():
    layer = LTC(small_ncp(), solver="rk4", ode_unfolds=2, epsilon=1e-4, input_mapping="none",
                initialization_ranges={"sigma": [4, 5]}, return_state=True)
    config = layer.get_config()
    assert config["units"]["class_name"] == "NCP" and "wiring" not in config
    assert LTC.from_config(config).get_config() == config
    cell_config = layer.cell.get_config()
    assert SynapticLTCCell.from_config(cell_config).get_config() == cell_config
    assert config["initialization_ranges"] == {
        **{k: list(v) for k, v in DEFAULT_INITIALIZATION_RANGES.items()}, "sigma": [4.0, 5.0]
    }


def test_dense_ltc_unchanged_by_int_units(tmp_path):
    model = keras.Sequential([keras.Input((T, M)), LTC(4, ode_unfolds=2)])
    assert type(model.layers[0].cell).__name__ == "LTCCell"
    path = tmp_path / "dense.keras"
    model.save(path)
    x, _ = data()
    np.testing.assert_array_equal(to_numpy(keras.saving.load_model(path)(x)), to_numpy(model(x)))


def test_initialization():
    wiring = small_ncp()
    ranges = {"cm": (0.5, 0.5), "sigma": (4.0, 4.0), "w": (0.2, 0.3)}
    layer = LTC(wiring, initialization_ranges=ranges)
    layer(data()[0])
    p = parameters(layer.cell)
    np.testing.assert_allclose(p["cm"], 0.5, rtol=1e-6)
    np.testing.assert_array_equal(p["sigma"], 4.0)
    assert 0.2 - 1e-6 <= p["w"].min() and p["w"].max() <= 0.3 + 1e-6
    for name, (low, high) in DEFAULT_INITIALIZATION_RANGES.items():
        if name not in ranges:
            assert low - 1e-6 <= p[name].min() and p[name].max() <= high + 1e-6, name
    # Reversal potentials: the wiring's polarities, as floating-point trainable weights.
    cell = layer.cell
    assert cell.erev.dtype == cell.sensory_erev.dtype == "float32" and cell.erev.trainable
    np.testing.assert_array_equal(p["erev"], cell.built_wiring.adjacency_matrix)
    np.testing.assert_array_equal(p["sensory_erev"], cell.built_wiring.sensory_adjacency_matrix)
    np.testing.assert_array_equal(p["input_w"], 1.0)
    np.testing.assert_array_equal(p["output_b"], 0.0)
    assert cell.output_size == 2 and cell.state_size == 9


def clip_trained_layer(learning_rate, epochs):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 8, M)).astype("float32")
    y = 0.5 * np.tanh(x[:, -1, :1])  # the last step's first feature
    layer = LTC(AutoNCP(8, output_size=1, seed=0), positivity="clip", ode_unfolds=1)
    model = keras.Sequential([keras.Input((8, M)), layer])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse")
    losses = model.fit(x, y, epochs=epochs, batch_size=16, verbose=0).history["loss"]
    return layer, losses


def test_training_reduces_the_loss():
    _, losses = clip_trained_layer(0.02, epochs=30)
    assert np.isfinite(losses).all() and losses[-1] < 0.8 * losses[0]


def test_clip_keeps_weights_positive_where_the_optimizer_pushes_them_below():
    # A learning rate large enough that steps push some weights below zero.
    layer, losses = clip_trained_layer(0.2, epochs=10)
    assert np.isfinite(losses).all()
    positive = (layer.cell.w, layer.cell.sensory_w, layer.cell.cm, layer.cell.gleak)
    for variable in positive:
        assert isinstance(variable.constraint, MinValue)
        assert to_numpy(variable).min() >= np.float32(1e-6)
    assert any(np.isclose(to_numpy(v).min(), 1e-6) for v in positive)  # the clip did bind


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"initialization_ranges": {"tau": (1, 2)}}, r"unknown parameter 'tau'.*'gleak'"),
        ({"initialization_ranges": {"mu": (0.8, 0.3)}}, r"'mu'.*low <= high, got \(0.8, 0.3\)"),
        ({"initialization_ranges": {"cm": (0.0, 1.0)}}, r"'cm', a positive parameter.*low > 0"),
        ({"initialization_ranges": {"sigma": 3}}, r"'sigma', expected a pair"),
        ({"initialization_ranges": [("sigma", (3, 4))]}, r"`initialization_ranges`, expected a"),
        ({"input_mapping": "bias"}, r"`input_mapping`.*'affine', 'linear', 'none'.*'bias'"),
        ({"output_mapping": None}, r"`output_mapping`"),
        ({"epsilon": -1.0}, r"`epsilon`, expected a non-negative finite number, got -1.0"),
        ({"positivity": "abs"}, r"`positivity`"),
        ({"backbone_units": 4}, r"does not take the argument\(s\) \['backbone_units'\]"),
    ],
)
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LTC(small_ncp(), **kwargs)


def test_wiring_conflicting_with_the_data_names_the_sizes():
    layer = LTC(AutoNCP(8, 2, seed=0, input_dim=3))
    with pytest.raises(ValueError, match=r"input_dim=3 input features, but the data has 5"):
        layer(np.zeros((2, 4, 5), dtype="float32"))
    with pytest.raises(ValueError, match="expected a liquidtime.wirings.Wiring, got 8"):
        SynapticLTCCell(8)
    with pytest.raises(ValueError, match=r"does not take the argument\(s\) \['input_mapping'\]"):
        LTC(8, input_mapping="none")

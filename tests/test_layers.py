"""Sequence layers: Keras contract (fit, save/load, masks, directions, state) and irregular time."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from conftest import to_numpy
from liquidtime import LTC, CfC, CfCCell, LTCCell
from liquidtime.solvers import get_solver

LAYERS = [
    pytest.param(lambda **kw: LTC(8, **kw), id="ltc"),
    pytest.param(lambda **kw: CfC(8, backbone_units=16, **kw), id="cfc"),
]


def sequences(batch=3, steps=6, features=4, seed=0):
    return np.random.default_rng(seed).normal(size=(batch, steps, features)).astype("float32")


@pytest.mark.backends
@pytest.mark.parametrize("cell_class", [CfCCell, LTCCell])
def test_seed_usage_fits_with_falling_loss(cell_class):
    """Seed 004's usage: Sequential([RNN(Cell(32)), Dense(10)]) with adam/mse."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 10, 3)).astype("float32")
    y = np.stack([np.sin(x[:, :, 0].sum(1) * (k + 1) / 10) for k in range(10)], axis=1).astype("float32")
    model = keras.Sequential(
        [keras.Input((10, 3)), keras.layers.RNN(cell_class(32)), keras.layers.Dense(10)]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    history = model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    assert history.history["loss"][1] < history.history["loss"][0]


@pytest.mark.backends
@pytest.mark.parametrize("make_layer", LAYERS)
def test_save_and_load_gives_identical_predictions(make_layer, tmp_path):
    x = sequences()
    inputs = keras.Input((6, 4))
    model = keras.Model(inputs, keras.layers.Dense(2)(make_layer(return_sequences=True)(inputs)))
    model.compile("adam", "mse")
    model.fit(x, np.ones((3, 6, 2), "float32"), epochs=1, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_array_equal(
        to_numpy(restored.predict(x, verbose=0)), to_numpy(model.predict(x, verbose=0))
    )


@pytest.mark.parametrize(
    ("layer_class", "arguments"),
    [
        (LTC, dict(return_sequences=True, go_backwards=True, solver="rk4", activation="tanh")),
        (LTC, dict(solver="dopri5", backbone_units=4, backbone_layers=2, positivity="clip")),
        (CfC, dict(mode="pure", backbone_layers=0, stateful=True)),
        (CfC, dict(mode="no_gate", backbone_dropout=0.2, seed=3)),
    ],
    ids=["ltc-rk4", "ltc-dopri5-backbone", "cfc-pure", "cfc-no-gate"],
)
def test_config_round_trip(layer_class, arguments):
    """Every argument given is in the config and in the config of ``from_config``'s layer.

    Checked against the arguments themselves: a config that left one out would pass a
    comparison of the round trip with itself.
    """
    expected = {"units": 8, **arguments}
    if "solver" in arguments:  # a solver name is saved as its solver object
        expected["solver"] = keras.saving.serialize_keras_object(get_solver(arguments["solver"]))
    config = layer_class(8, **arguments).get_config()
    clone_config = layer_class.from_config(config).get_config()
    assert {name: config[name] for name in expected} == expected
    assert clone_config == config


@pytest.mark.backends
@pytest.mark.parametrize("make_layer", LAYERS)
def test_irregular_batch_matches_each_sequence_alone(make_layer):
    x = sequences()
    dt = np.array([[0.1] * 6, [1.0, 2.0, 0.5, 0.5, 3.0, 0.0], [5.0] * 6], dtype="float32")
    layer = make_layer(return_sequences=True)
    batched = to_numpy(layer(x, elapsed_time=dt))
    for i in range(3):
        alone = to_numpy(layer(x[i : i + 1], elapsed_time=dt[i : i + 1]))
        np.testing.assert_allclose(batched[i : i + 1], alone, rtol=1e-5, atol=1e-6)
    assert not np.allclose(batched[0], to_numpy(layer(x, elapsed_time=1.0))[0])


@pytest.mark.parametrize("make_layer", LAYERS)
def test_elapsed_time_shapes_agree(make_layer):
    x = sequences()
    layer = make_layer()
    dt = np.full((3, 6), 0.5, "float32")
    reference = to_numpy(layer(x, elapsed_time=dt))
    np.testing.assert_allclose(to_numpy(layer(x, elapsed_time=dt[..., None])), reference, rtol=1e-6)
    # A constant elapsed time may take another path (the CfC merges its time heads),
    # equal up to float32 rounding.
    np.testing.assert_allclose(to_numpy(layer(x, elapsed_time=0.5)), reference, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(to_numpy(layer(x)), to_numpy(layer(x, elapsed_time=1.0)), rtol=1e-6)


@pytest.mark.backends
@pytest.mark.parametrize("make_layer", LAYERS)
def test_masked_steps_keep_the_state(make_layer):
    x = sequences()
    mask = np.array([[1, 1, 1, 1, 0, 0]] * 3, dtype=bool)
    layer = make_layer(return_state=True)
    _, masked_state = layer(x, mask=mask)
    _, truncated_state = layer(x[:, :4])
    np.testing.assert_allclose(to_numpy(masked_state), to_numpy(truncated_state), rtol=1e-5, atol=1e-6)


def test_masking_layer_in_a_model():
    x = sequences()
    x[:, 4:] = 0.0
    model = keras.Sequential([keras.Input((6, 4)), keras.layers.Masking(0.0), LTC(5)])
    direct = LTC(5)
    direct(x[:, :4])
    direct.set_weights(model.layers[-1].get_weights())
    np.testing.assert_allclose(to_numpy(model(x)), to_numpy(direct(x[:, :4])), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("make_layer", LAYERS)
def test_go_backwards_equals_reversed_input(make_layer):
    x = sequences()
    dt = np.random.default_rng(1).uniform(0.1, 2, size=(3, 6)).astype("float32")
    forward = make_layer()
    backward = make_layer(go_backwards=True)
    forward(x)
    backward(x)
    backward.set_weights(forward.get_weights())
    np.testing.assert_allclose(
        to_numpy(backward(x, elapsed_time=dt)),
        to_numpy(forward(x[:, ::-1], elapsed_time=dt[:, ::-1])),
        rtol=1e-5,
        atol=1e-6,
    )


@pytest.mark.parametrize("make_layer", LAYERS)
def test_bidirectional_and_stacking(make_layer, tmp_path):
    x = sequences()
    model = keras.Sequential(
        [
            keras.Input((6, 4)),
            keras.layers.Bidirectional(make_layer(return_sequences=True)),
            make_layer(),
            keras.layers.Dense(1),
        ]
    )
    assert tuple(model(x).shape) == (3, 1)
    model.save(tmp_path / "bidirectional.keras")
    restored = keras.saving.load_model(tmp_path / "bidirectional.keras")
    np.testing.assert_allclose(to_numpy(restored(x)), to_numpy(model(x)), rtol=1e-6)


@pytest.mark.parametrize("make_layer", LAYERS)
def test_stateful_carries_state_between_calls(make_layer):
    x = sequences()
    stateful = make_layer(stateful=True)
    stateless = make_layer(return_state=True)
    stateful(x[:, :3])
    stateless(x)
    stateless.cell.set_weights(stateful.cell.get_weights())
    stateful.reset_state()
    stateful(x[:, :3])
    second_half = to_numpy(stateful(x[:, 3:]))
    _, state = stateless(x)
    np.testing.assert_allclose(second_half, to_numpy(state), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("make_layer", LAYERS)
def test_stateful_state_is_carried_through_compiled_fit_and_predict(make_layer):
    """keras.layers.RNN's state variables are not written back by a compiled JAX step; ours are."""
    x = sequences(batch=4)
    layer = make_layer(stateful=True)
    model = keras.Sequential([keras.Input((6, 4), batch_size=4), layer, keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    model.fit(x, np.ones((4, 1), "float32"), batch_size=4, epochs=1, verbose=0)
    assert np.abs(to_numpy(layer.states[0])).max() > 0
    layer.reset_state()
    model.predict(x, batch_size=4, verbose=0)
    carried = to_numpy(layer.states[0])
    reference = make_layer(return_state=True)
    reference(x)
    reference.cell.set_weights(layer.cell.get_weights())
    np.testing.assert_allclose(carried, to_numpy(reference(x)[1]), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("make_layer", LAYERS)
def test_initial_state_and_return_state(make_layer):
    x = sequences()
    layer = make_layer(return_state=True)
    _, first = layer(x[:, :3])
    _, second = layer(x[:, 3:], initial_state=[first])
    _, whole = layer(x)
    np.testing.assert_allclose(to_numpy(second), to_numpy(whole), rtol=1e-5, atol=1e-6)


def test_dopri5_layer_runs_and_agrees_with_many_fused_unfolds():
    x = sequences()
    fine = LTC(5, ode_unfolds=40, solver="rk4")
    adaptive = LTC(5, solver="dopri5")
    fine(x)
    adaptive(x)
    adaptive.set_weights(fine.get_weights())
    np.testing.assert_allclose(to_numpy(adaptive(x)), to_numpy(fine(x)), rtol=1e-3, atol=1e-4)


# --- Bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: LTCCell(0), "`units`"),
        (lambda: LTCCell(-3), "`units`"),
        (lambda: CfCCell(2.5), "`units`"),
        (lambda: LTCCell(4, ode_unfolds=0), "`ode_unfolds`"),
        (lambda: LTCCell(4, solver="midpoint"), "`solver`"),
        (lambda: CfCCell(4, mode="fast"), "`mode`"),
        (lambda: LTCCell(4, backbone_units=8), "backbone_layers=0"),
        (lambda: LTCCell(4, backbone_layers=2), "backbone_units"),
        (lambda: CfCCell(4, backbone_dropout=1.5), "`backbone_dropout`"),
        (lambda: LTCCell(4, positivity="abs"), "`positivity`"),
        (lambda: LTCCell(4, activation="nonsense"), "`activation`"),
        (lambda: LTCCell(4, tau_initializer=-1.0), "`tau_initializer`"),
    ],
)
def test_bad_arguments_are_named(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_wrong_rank_is_rejected():
    with pytest.raises(ValueError, match="rank 3"):
        LTC(4)(np.zeros((2, 5), "float32"))


def test_feature_size_change_after_build_is_rejected():
    layer = LTC(4)
    layer(sequences(features=4))
    with pytest.raises(ValueError, match="built for 4 input features but received inputs with 7"):
        layer(sequences(features=7))


@pytest.mark.parametrize(
    "elapsed_time, message",
    [
        (-np.ones((3, 6), "float32"), ">= 0"),
        (np.full((3, 6), np.nan, "float32"), "finite"),
        (np.full((3, 6), np.inf, "float32"), "finite"),
        (np.ones((3, 5), "float32"), "shape"),
        (np.ones((6,), "float32"), "shape"),
        (-1.0, ">= 0"),
    ],
)
def test_bad_elapsed_time_is_rejected(elapsed_time, message):
    with pytest.raises(ValueError, match=message):
        CfC(4)(sequences(), elapsed_time=elapsed_time)


def test_elapsed_time_twice_is_rejected():
    x = np.concatenate([sequences(), np.ones((3, 6, 1), "float32")], axis=-1)
    layer = LTC(4, elapsed_time_as_feature=True)
    layer(x)
    with pytest.raises(ValueError, match="do not also pass"):
        layer(x, elapsed_time=1.0)

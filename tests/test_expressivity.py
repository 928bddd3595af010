"""Tests of the trajectory-length expressivity study (liquidtime.analysis, issue 8)."""

from __future__ import annotations

import argparse
import csv
import warnings

import numpy as np
import pytest

from liquidtime.analysis import (
    RandomNetworks,
    SweepConfig,
    activate,
    arc_length,
    circle_input,
    ctrnn_lower_bound,
    integrate_system,
    latent_trajectory,
    ltc_lower_bound,
    measure_trajectory_lengths,
    neural_ode_lower_bound,
    principal_components,
    run_sweep,
    run_sweeps,
    sample_parameters,
)
from liquidtime.analysis import sweeps as sweeps_module
from liquidtime.cli import expressivity as expressivity_cli

# --------------------------------------------------------------------------- geometry


@pytest.mark.parametrize("radius", [0.5, 3.0])
def test_arc_length_of_sampled_circle(radius):
    points = 2001
    t = np.linspace(0.0, 2 * np.pi, points)
    circle = radius * np.stack([np.cos(t), np.sin(t)], axis=-1)
    # The inscribed polygon's perimeter, and 2 pi r up to the chord error O(1/n^2).
    polygon = 2 * (points - 1) * radius * np.sin(np.pi / (points - 1))
    np.testing.assert_allclose(arc_length(circle), polygon, rtol=1e-12)
    np.testing.assert_allclose(arc_length(circle), 2 * np.pi * radius, rtol=1e-6)


def test_arc_length_of_lines():
    start, end = np.array([1.0, -2.0, 0.5]), np.array([4.0, 2.0, 0.5])
    fractions = np.sort(np.random.default_rng(0).uniform(size=37))
    fractions = np.concatenate([[0.0], fractions, [1.0]])
    line = start + fractions[:, None] * (end - start)
    np.testing.assert_allclose(arc_length(line), 5.0, rtol=1e-12)
    # There and back again: the path length, not the displacement.
    np.testing.assert_allclose(arc_length(np.concatenate([line, line[::-1]])), 10.0)
    # Batched curves.
    np.testing.assert_allclose(arc_length(np.stack([line, 2 * line])), [5.0, 10.0])


def test_pca_recovers_a_planar_curve_embedded_in_high_dimension():
    t = np.linspace(0.0, 2 * np.pi, 500)
    # An ellipse with a wobble: planar, not a circle, so the axes are well defined.
    curve = np.stack([3 * np.cos(t) + 0.3 * np.cos(5 * t), np.sin(t)], axis=-1)
    rotation, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((40, 40)))
    embedded = curve @ rotation[:2] + np.linspace(-1.0, 1.0, 40)  # plus an offset
    length, latent, explained = latent_trajectory(embedded)
    np.testing.assert_allclose(length, arc_length(curve), rtol=1e-10)
    np.testing.assert_allclose(explained, 1.0, rtol=1e-12)
    # The scores are the centred curve up to an orthogonal 2x2 map.
    centred = curve - curve.mean(axis=0)
    np.testing.assert_allclose(latent.T @ latent, np.diag(np.diag(latent.T @ latent)), atol=1e-8)
    np.testing.assert_allclose(
        np.sort(np.linalg.eigvalsh(latent.T @ latent)),
        np.sort(np.linalg.eigvalsh(centred.T @ centred)),
        rtol=1e-10,
    )


def test_pca_matches_svd_and_handles_degenerate_trajectories():
    states = np.random.default_rng(2).standard_normal((3, 2, 120, 6)).cumsum(axis=-2)
    scores, explained = principal_components(states)
    centred = states - states.mean(axis=-2, keepdims=True)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    np.testing.assert_allclose(np.abs(scores), np.abs(u[..., :2] * s[..., None, :2]), atol=1e-9)
    np.testing.assert_allclose(explained, (s[..., :2] ** 2).sum(-1) / (s**2).sum(-1))
    constant_scores, constant_explained = principal_components(np.ones((10, 3)))
    assert np.all(constant_scores == 0) and constant_explained == 0
    line_scores, _ = principal_components(np.arange(5.0)[:, None])  # one feature
    np.testing.assert_allclose(line_scores[:, 1], 0.0)
    diverged = states.copy()
    diverged[1, 0, 7, 2] = np.nan
    lengths, _, fractions = latent_trajectory(diverged)
    assert np.isnan(lengths[1, 0]) and np.isnan(fractions[1, 0])
    assert np.isfinite(np.delete(lengths.ravel(), 2)).all()


def test_circle_input():
    circle = circle_input(100)
    np.testing.assert_allclose(circle(0.0), [0.0, 1.0])
    np.testing.assert_allclose(circle(2 * np.pi), [0.0, 1.0], atol=1e-12)
    t0, t1 = circle.times[10], circle.times[11]
    np.testing.assert_allclose(circle((t0 + t1) / 2), (circle.values[10] + circle.values[11]) / 2)
    np.testing.assert_allclose(circle(-1.0), circle.values[0])  # held beyond the ends
    np.testing.assert_allclose(circle.sample_interval, 2 * np.pi / 99)
    np.testing.assert_allclose(arc_length(circle.values), 6.2821, atol=1e-4)


# --------------------------------------------------------------------------- networks


def test_parameter_distributions():
    parameters = sample_parameters(40, 50, 2, sigma_w=3.0, sigma_b=0.5, seed=0, tau_min=0.0)
    np.testing.assert_allclose(parameters.recurrent_weights.std(), 3.0 / np.sqrt(50), rtol=0.02)
    np.testing.assert_allclose(parameters.layer_weights.std(), 3.0 / np.sqrt(50), rtol=0.02)
    np.testing.assert_allclose(parameters.input_weights.std(), 3.0 / np.sqrt(2), rtol=0.05)
    np.testing.assert_allclose(parameters.bias.std(), 0.5, rtol=0.05)
    np.testing.assert_allclose(parameters.reversal.std(), 3.0, rtol=0.05)
    np.testing.assert_allclose(parameters.tau.mean(), np.sqrt(2 / np.pi), rtol=0.05)  # |N(0,1)|
    floored = sample_parameters(40, 50, 2, sigma_w=3.0, sigma_b=0.5, seed=0)
    np.testing.assert_array_equal(floored.tau, np.maximum(parameters.tau, 1e-3))
    # Common random numbers: the spreads only scale the same draws.
    other = sample_parameters(40, 50, 2, sigma_w=6.0, sigma_b=1.0, seed=0, tau_min=0.0)
    np.testing.assert_allclose(other.recurrent_weights, 2 * parameters.recurrent_weights)
    np.testing.assert_array_equal(other.tau, parameters.tau)


def test_hard_tanh_flavours():
    z = np.array([[-3.0, -0.5, 0.2, 4.0], [1.5, 2.0, 1.0, 7.0], [-2.0, -1.0, -5.0, -1.5]])
    f, slope = activate(z, "hard_tanh", "elementwise")
    np.testing.assert_array_equal(f, np.clip(z, -1, 1))
    np.testing.assert_array_equal(slope, np.abs(z) < 1)
    f, slope = activate(z, "hard_tanh", "original")
    np.testing.assert_array_equal(f[0], z[0])  # not every neuron saturates: identity
    np.testing.assert_array_equal(f[1], 1.0)
    np.testing.assert_array_equal(f[2], -1.0)
    np.testing.assert_array_equal(slope, [[1, 1, 1, 1], [0, 0, 0, 0], [0, 0, 0, 0]])


@pytest.mark.parametrize("model", ["ltc", "ctrnn", "node"])
@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu", "hard_tanh"])
@pytest.mark.parametrize("ltc_decay", ["signed", "abs"])
def test_jacobian_matches_finite_differences(model, activation, ltc_decay):
    parameters = sample_parameters(2, 4, 3, sigma_w=2.0, sigma_b=1.0, seed=3)
    network = RandomNetworks(model, parameters, circle_input(), activation, ltc_decay=ltc_decay)
    y = np.random.default_rng(4).standard_normal(network.size)
    eps = 1e-6
    numeric = np.stack(
        [
            (network.vector_field(0.7, y + eps * e) - network.vector_field(0.7, y - eps * e))
            / (2 * eps)
            for e in np.eye(network.size)
        ],
        axis=1,
    )
    np.testing.assert_allclose(network.jacobian(0.7, y).toarray(), numeric, atol=1e-7)


def test_vector_fields_follow_the_paper():
    parameters = sample_parameters(2, 5, 2, sigma_w=2.0, sigma_b=1.0, seed=5)
    x = np.random.default_rng(6).standard_normal((2, 2, 5))
    t = 1.3
    p = parameters
    u0 = circle_input()(t)
    z = np.einsum("dlij,dlj->dli", p.recurrent_weights, x) + p.bias
    z[:, 0] += np.einsum("dij,j->di", p.input_weights, u0)
    z[:, 1] += np.einsum("dij,dj->di", p.layer_weights[:, 0], x[:, 0])
    f = np.tanh(z)
    expected = {
        "node": f,
        "ctrnn": -x / p.tau + f,
        "ltc": -(1 / p.tau + f) * x + f * p.reversal,
    }
    for model, rhs in expected.items():
        network = RandomNetworks(model, parameters, circle_input())
        np.testing.assert_allclose(network.vector_field(t, x.ravel()), rhs.ravel())


# --------------------------------------------------------------------------- solvers


@pytest.mark.parametrize("model", ["ltc", "ctrnn", "node"])
def test_fused_solver_steps(model):
    parameters = sample_parameters(3, 4, 1, sigma_w=2.0, sigma_b=1.0, seed=7)
    network = RandomNetworks(model, parameters, circle_input())
    times = np.array([0.0, 0.05, 0.12])
    fused = integrate_system(network, times, "fused").states
    euler = integrate_system(network, times, "euler").states
    x = np.zeros(network.state_shape)
    for i, (t, h) in enumerate(zip(times[:-1], np.diff(times)), start=1):
        f, _ = network.gate(t, x)
        if model == "ltc":  # Eq. 3
            x = (x + h * f * parameters.reversal) / (1 + h * (1 / parameters.tau + f))
        elif model == "ctrnn":
            x = (x + h * f) / (1 + h / parameters.tau)
        else:
            x = x + h * f
        np.testing.assert_allclose(fused[i], x.ravel(), rtol=1e-12)
    if model == "node":
        np.testing.assert_allclose(fused, euler)
    else:
        assert not np.allclose(fused, euler)


def test_solvers_count_steps_and_converge():
    parameters = sample_parameters(3, 8, 1, sigma_w=2.0, sigma_b=1.0, seed=8)
    network = RandomNetworks("ltc", parameters, circle_input())
    times = np.linspace(0, 2 * np.pi, 200)
    reference = integrate_system(network, times, "DOP853", rtol=1e-10, atol=1e-12)
    for solver in ("RK23", "RK45", "LSODA", "BDF", "Radau", "rk4"):
        solution = integrate_system(network, times, solver, rtol=1e-6, atol=1e-8)
        assert solution.steps == solution.step_times.size > 0
        assert solution.nfev >= solution.steps
        error = np.abs(solution.states - reference.states).max()
        assert error < 1e-3, (solver, error)
    rk4 = integrate_system(network, times, "rk4")
    assert (rk4.steps, rk4.nfev) == (199, 4 * 199)
    # Euler and the fused step are first order: 10 times the steps, ~1/10 the error.
    fine = np.linspace(0, 2 * np.pi, 1991)
    fine_reference = integrate_system(network, fine, "DOP853", rtol=1e-10, atol=1e-12)
    for solver in ("euler", "fused"):
        coarse_error = np.abs(integrate_system(network, times, solver).states - reference.states)
        fine_error = np.abs(integrate_system(network, fine, solver).states - fine_reference.states)
        assert 6 < coarse_error.max() / fine_error.max() < 16, solver


def test_measurement_shapes_and_stacking():
    parameters = sample_parameters(3, 6, 2, sigma_w=2.0, sigma_b=1.0, seed=9)
    joint = measure_trajectory_lengths("ltc", parameters, solver="fused", eval_points=300)
    split = measure_trajectory_lengths(
        "ltc", parameters, solver="fused", eval_points=300, vectorize=False
    )
    assert joint.lengths.shape == (3, 2) and joint.latent.shape == (3, 2, 300, 2)
    np.testing.assert_allclose(joint.lengths, split.lengths, rtol=1e-10)
    np.testing.assert_array_equal(joint.steps, [299] * 3)
    np.testing.assert_allclose(joint.steps_per_sample, 299 / 99)
    adaptive = measure_trajectory_lengths("ltc", parameters, rtol=1e-6, atol=1e-8)
    stacked = measure_trajectory_lengths("ltc", parameters, rtol=1e-6, atol=1e-8, vectorize=True)
    np.testing.assert_allclose(adaptive.lengths, stacked.lengths, rtol=1e-3)
    assert len(set(stacked.steps)) == 1 and len(set(adaptive.steps)) > 1  # per-draw counts
    # The paper's observation VIII: the length hardly depends on the solver.
    fused = measure_trajectory_lengths("ltc", parameters, solver="fused")
    np.testing.assert_allclose(fused.lengths, adaptive.lengths, rtol=0.05)


def test_explicit_euler_divergence_is_reported_not_raised():
    parameters = sample_parameters(2, 4, 1, sigma_w=2.0, sigma_b=1.0, seed=0)
    # tau = 1e-3 with h = 2 pi / 99: explicit Euler is far beyond its stability limit.
    stiff = type(parameters)(**{**parameters.__dict__, "tau": np.full((2, 1, 4), 1e-3)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = measure_trajectory_lengths("ctrnn", stiff, solver="euler", eval_points=100)
    assert not np.isfinite(result.lengths).any()  # NaN, or inf if the length overflows
    fused = measure_trajectory_lengths("ctrnn", stiff, solver="fused", eval_points=100)
    assert np.isfinite(fused.lengths).all()


# --------------------------------------------------------------------------- bounds


def test_theorem_bounds_match_hand_computation():
    # sigma_w = 2, sigma_b = 1, k = 100: sqrt(4 + 1 + 100 sqrt(5)) = 15.1198...
    denominator = np.sqrt(5 + 100 * np.sqrt(5))
    node_base = 2 * 10 / denominator
    ctrnn_base = (2 - 1) * 10 / denominator
    np.testing.assert_allclose(
        neural_ode_lower_bound(2.0, 1.0, 100, 2, 3.0, 6.2821), node_base**6 * 6.2821
    )
    np.testing.assert_allclose(
        ctrnn_lower_bound(2.0, 1.0, 100, 2, 3.0, 6.2821), ctrnn_base**6 * 6.2821
    )
    # Eq. 9: min(delta t, L) picks delta t = 0.1 here, and L = 5 in the second case.
    np.testing.assert_allclose(
        ltc_lower_bound(2.0, 1.0, 100, 1, 3.0, 6.2821, latent_norm=4.0, sample_interval=0.1),
        node_base**3 * (2 + 4.0 / 0.1) * 6.2821,
    )
    np.testing.assert_allclose(
        ltc_lower_bound(2.0, 1.0, 100, 1, 5.0, 1.0, latent_norm=4.0, sample_interval=9.0),
        node_base**5 * (2 + 4.0 / 5.0),
    )
    assert ctrnn_lower_bound(1.0, 1.0, 100, 1, 3.0, 6.28) == 0.0  # sigma_w <= sigma_b
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert neural_ode_lower_bound(32.0, 1.0, 200, 4, 1e4, 6.28) == np.inf


# --------------------------------------------------------------------------- findings
# Settings shared by the qualitative checks: one layer, sigma_b = 1, 1000 output points,
# tau = max(|N(0,1)|, 1e-3), A ~ N(0, sigma_w^2), Eq. 1 ("signed") LTC decay unless
# stated, seed 0, 6 draws. The solves are accurate (RK45 with rtol=1e-6, atol=1e-8, or
# the fused step, which agrees with it here): at sigma_w >= 8 the original tolerances
# (rtol=1e-2) overestimate some LTC lengths by up to 2x.


def _lengths(width, sigma_w, activation, ltc_decay="signed", solver="RK45", draws=6, **tolerances):
    parameters = sample_parameters(draws, width, 1, sigma_w, 1.0, seed=0)
    return {
        model: measure_trajectory_lengths(
            model,
            parameters,
            activation=activation,
            solver=solver,
            ltc_decay=ltc_decay,
            **tolerances,
        ).lengths[:, 0]
        for model in ("ltc", "ctrnn", "node")
    }


@pytest.mark.parametrize(
    "activation, sigma_w, ltc_decay",
    # Where it holds: with sigma_w <= 4 the sigmoid Neural ODE, whose state drifts
    # monotonically (f > 0), is longer than the LTC, and so is the tanh Neural ODE
    # against the original code's 1/tau + |f| decay; from sigma_w = 16 on the LTC is
    # longer in every draw with either decay (see docs/expressivity.md).
    [("tanh", 4.0, "signed"), ("tanh", 16.0, "abs"), ("sigmoid", 16.0, "signed")],
)
def test_ltc_trajectories_are_longer_than_ctrnn_and_neural_ode(activation, sigma_w, ltc_decay):
    lengths = _lengths(25, sigma_w, activation, ltc_decay, rtol=1e-6, atol=1e-8)
    assert np.all(lengths["ltc"] > lengths["ctrnn"]), lengths
    assert np.all(lengths["ltc"] > lengths["node"]), lengths
    assert np.median(lengths["ltc"]) > 1.5 * max(
        np.median(lengths["ctrnn"]), np.median(lengths["node"])
    )


# The growth checks use the fused solver: one vectorised run per model, 5x faster than
# RK45 here; its medians are within 1% of tight-tolerance solves at these settings.


def test_length_grows_with_width():
    # tanh, sigma_w = 2.
    medians = [
        {m: np.median(v) for m, v in _lengths(width, 2.0, "tanh", solver="fused").items()}
        for width in (10, 50)
    ]
    for model in ("ltc", "ctrnn", "node"):
        assert medians[1][model] > 1.4 * medians[0][model], (model, medians)


def test_length_grows_with_sigma_w():
    # tanh, width 25; the Neural ODE grows only slightly (f is bounded by 1 in any case).
    medians = [
        {m: np.median(v) for m, v in _lengths(25, sigma_w, "tanh", solver="fused").items()}
        for sigma_w in (1.0, 2.0, 4.0, 8.0)
    ]
    for model in ("ltc", "ctrnn", "node"):
        series = [m[model] for m in medians]
        assert np.all(np.diff(series) > 0), (model, series)
    assert medians[-1]["ltc"] > 10 * medians[0]["ltc"]
    assert medians[-1]["ctrnn"] > 1.5 * medians[0]["ctrnn"]


# --------------------------------------------------------------------------- sweeps, CLI


def test_sweep_runs_in_parallel_with_the_same_results():
    config = SweepConfig(width=6, draws=2, eval_points=200, solver="fused")
    serial = run_sweep("sigma_w", config, values=[1.0, 4.0])
    (parallel,) = run_sweeps(["sigma_w"], config, {"sigma_w": [1.0, 4.0]}, jobs=2)
    assert [p.value for p in parallel.points] == [1.0, 4.0]
    for a, b in zip(serial.points, parallel.points):
        for model in config.models:
            np.testing.assert_array_equal(a.results[model].lengths, b.results[model].lengths)
            assert a.bounds[model].shape == (2, 1)


def _cli(argv):
    parser = argparse.ArgumentParser(prog="liquidtime")
    expressivity_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["expressivity", *argv])
    return args.func(args)


def test_cli_small_sweep_writes_figures_and_table(tmp_path, capsys):
    out = tmp_path / "run"
    code = _cli(
        ["--sweep", "width", "--values", "4", "8", "--draws", "2", "--eval-points", "200",
         "--output-dir", str(out)]
    )  # fmt: skip
    assert code == 0
    for name in ("expressivity_width.png", "expressivity_width_latent.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with (out / "expressivity.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2 * 3 * 2  # values x models x draws (one layer)
    assert {row["model"] for row in rows} == {"ltc", "ctrnn", "node"}
    assert all(float(row["length"]) > 0 for row in rows)
    summary = (out / "expressivity.md").read_text()
    assert "liquidtime expressivity --sweep width --values 4 8" in summary
    assert "| 8 | LTC |" in summary
    assert "Finished in" in capsys.readouterr().out


def test_cli_all_sweeps_with_tiny_settings(tmp_path, monkeypatch):
    # Two values per sweep keep this fast; the dispatch over all five sweeps is the point.
    for kind, values in sweeps_module.SWEEP_VALUES.items():
        monkeypatch.setitem(sweeps_module.SWEEP_VALUES, kind, values[:2])
    out = tmp_path / "all"
    code = _cli(
        ["--width", "4", "--draws", "1", "--eval-points", "100", "--solver", "fused",
         "--models", "ltc", "node", "--output-dir", str(out)]
    )  # fmt: skip
    assert code == 0
    for kind in ("width", "sigma_w", "solver", "depth", "activation"):
        assert (out / f"expressivity_{kind}.png").exists()
        assert (out / f"expressivity_{kind}_latent.png").exists()
    assert (out / "expressivity.md").read_text().count("### Sweep over") == 5


def test_cli_help_and_errors(capsys, tmp_path):
    with pytest.raises(SystemExit):
        _cli(["--help"])
    text = capsys.readouterr().out
    for option in ("--sweep", "--models", "--draws", "--seed", "--output-dir", "--activation",
                   "--solver", "--hard-tanh", "--ltc-decay", "--jobs", "--stacking"):  # fmt: skip
        assert option in text
    out = tmp_path / "never"
    assert _cli(["--width", "0", "--sweep", "depth", "--output-dir", str(out)]) == 2
    assert (
        "Received an invalid value for argument `width`, expected a positive integer, got 0."
        in capsys.readouterr().err
    )
    assert _cli(["--jobs", "0", "--output-dir", str(out)]) == 2
    assert "argument `jobs`" in capsys.readouterr().err
    assert not out.exists()
    assert _cli(["--sweep", "width", "--values", "ten"]) == 2
    assert "expected int values for sweep 'width'" in capsys.readouterr().err


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: sample_parameters(2, 0, 1, 1.0, 1.0),
         "argument `width`, expected a positive integer, got 0."),
        (lambda: sample_parameters(2, 3, 1, -1.0, 1.0),
         "argument `sigma_w`, expected a non-negative"),
        (lambda: SweepConfig(solver="ode45"), "argument `solver`, expected one of ['RK23'"),
        (lambda: SweepConfig(models=("lstm",)), "argument `models`, expected one of ['ltc'"),
        (lambda: run_sweep("height"), "argument `kind`, expected one of ['width'"),
        (lambda: arc_length(np.zeros(3)), "argument `curve`"),
        (lambda: circle_input(1), "argument `samples`, expected an integer >= 2, got 1."),
    ],
)  # fmt: skip
def test_invalid_arguments(call, message):
    with pytest.raises(ValueError, match="Received an invalid value for") as info:
        call()
    assert message in str(info.value)

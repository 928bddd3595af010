"""The paper-protocol reproduction: ncps's LTC under our protocol, layer-option ablations,
the run plan and the ``liquidtime reproduce`` command.

Runs use small synthetic tasks in the shapes of ozone and traffic and the occupancy data
shipped with liquidtime; nothing reads data from outside the repository.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from liquidtime.cli import main
from liquidtime.data import get_task_info
from liquidtime.data._task import build_task
from liquidtime.experiments import records, tables
from liquidtime.experiments.reproduction import (
    ABLATIONS,
    reproduction_configs,
)
from liquidtime.experiments.runner import (
    RunConfig,
    build_run_model,
    epoch_order,
    parse_layer_option,
    train_run,
)

torch = pytest.importorskip("torch")
pytest.importorskip("ncps")

from liquidtime.experiments import ncps_runner  # noqa: E402  (needs torch and ncps)


def _synthetic(name: str, windows: int = 40, seed: int = 0):
    """A small task with the shapes and kind of ``name``, split 24 / 8 / 8 windows."""
    info = get_task_info(name)
    rng = np.random.default_rng(seed)
    length, features = {"ozone": (32, 72), "traffic": (32, 7)}[name]
    x = rng.normal(size=(windows, length, features)).astype("float32")
    if info.kind == "regression":
        y = (x[..., :1] * 0.5 + 0.1 * rng.normal(size=(windows, length, 1))).astype("float32")
    else:
        y = (x[..., 0] > 1.0).astype("int32")
    splits = [(x[i:j], y[i:j]) for i, j in ((0, 24), (24, 32), (32, 40))]
    return build_task(info, "corrected", *splits)


# --- ncps's LTC under our protocol -----------------------------------------------------


def test_ncps_loss_matches_a_numpy_weighted_cross_entropy():
    task = _synthetic("ozone")
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(4, 32, 2)).astype("float32")
    labels = task.y_train[:4]
    weights = np.asarray(task.class_weights, "float32")[labels]
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_probabilities = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    chosen = np.take_along_axis(log_probabilities, labels[..., None], axis=-1)[..., 0]
    expected = np.mean(-chosen * weights)  # Keras: weighted sum over all steps / steps
    loss = ncps_runner._loss(
        torch, task, torch.from_numpy(logits), torch.from_numpy(labels), torch.from_numpy(weights)
    )
    np.testing.assert_allclose(float(loss), expected, rtol=1e-6)


def test_ncps_loss_is_the_mean_squared_error_for_regression():
    task = _synthetic("traffic")
    outputs = np.random.default_rng(4).normal(size=(4, 32, 1)).astype("float32")
    loss = ncps_runner._loss(
        torch, task, torch.from_numpy(outputs), torch.from_numpy(task.y_train[:4]), None
    )
    np.testing.assert_allclose(float(loss), np.mean((outputs - task.y_train[:4]) ** 2), rtol=1e-6)


def test_ncps_model_is_ncps_torch_ltc_with_a_per_step_head():
    import ncps.torch

    task = _synthetic("ozone")
    model = ncps_runner.build_ncps_model("ncps-ltc", task, units=6, seed=2)
    assert isinstance(model.rnn, ncps.torch.LTC)
    x = torch.from_numpy(task.x_valid[:3])
    hidden, _ = model.rnn(x)
    np.testing.assert_allclose(
        model(x).detach().numpy(), model.head(hidden).detach().numpy(), rtol=0, atol=0
    )
    assert tuple(model(x).shape) == (3, 32, 2)
    # The seed draws the weights and the wiring's polarities.
    again = ncps_runner.build_ncps_model("ncps-ltc", task, units=6, seed=2)
    other = ncps_runner.build_ncps_model("ncps-ltc", task, units=6, seed=3)
    np.testing.assert_array_equal(again(x).detach().numpy(), model(x).detach().numpy())
    assert not np.allclose(other(x).detach().numpy(), model(x).detach().numpy())


@pytest.mark.parametrize("model", ["ncps-ltc", "ncps-cfc"])
def test_ncps_run_writes_our_record_and_resumes_exactly(tmp_path, model):
    task = _synthetic("traffic")
    config = RunConfig("traffic", model, seed=1, units=4, epochs=3, batch_size=8)
    uninterrupted = train_run(config, task=task, output_dir=tmp_path / "a", progress="none")
    train_run(RunConfig("traffic", model, seed=1, units=4, epochs=2, batch_size=8), task=task,
              output_dir=tmp_path / "b", progress="none")
    resumed = train_run(config, task=task, output_dir=tmp_path / "b", progress="none",
                        resume=True)
    assert resumed["segments"] == 2 and resumed["epochs_run"] == 3
    assert resumed["test_metric"] == pytest.approx(uninterrupted["test_metric"], rel=1e-6)
    assert [entry["loss"] for entry in resumed["history"][1:]] == pytest.approx(
        [entry["loss"] for entry in uninterrupted["history"][1:]], rel=1e-6
    )
    # One record format for every model: the same fields as a liquidtime run's record.
    ours = train_run(RunConfig("traffic", "cfc", units=4, epochs=1, batch_size=8), task=task,
                     output_dir=tmp_path / "c", progress="none")
    assert set(ours) <= set(uninterrupted)
    assert uninterrupted["backend"] == "torch" and "ncps" in uninterrupted["versions"]
    assert uninterrupted["learning_rate"] == (0.01 if model == "ncps-ltc" else 0.001)
    best = uninterrupted["history"][uninterrupted["best_epoch"]]
    assert uninterrupted["valid_metric"] == best["valid"]
    assert len(records.read_records(tmp_path / "a")) == 1


def test_ncps_run_follows_our_epoch_order(tmp_path, monkeypatch):
    """The windows of each epoch are exactly :func:`epoch_order`'s, in batches."""
    task = _synthetic("traffic")
    seen = []
    original = ncps_runner.build_ncps_model

    def spying_model(*args, **kwargs):
        model = original(*args, **kwargs)
        forward = model.forward

        def remember(inputs):
            if model.training:
                seen.append(inputs.numpy().copy())
            return forward(inputs)

        model.forward = remember
        return model

    monkeypatch.setattr(ncps_runner, "build_ncps_model", spying_model)
    train_run(RunConfig("traffic", "ncps-ltc", seed=5, units=4, epochs=2, batch_size=8), task=task,
              output_dir=tmp_path, progress="none")
    expected = np.concatenate([epoch_order(5, epoch, 24, 8) for epoch in (1, 2)])
    np.testing.assert_array_equal(np.concatenate(seen), task.x_train[expected])


def test_ncps_models_refuse_layer_options():
    with pytest.raises(ValueError, match="ncps's own layer"):
        RunConfig("ozone", "ncps-ltc", layer_options=(parse_layer_option("positivity=clip"),))


# --- layer options (ablations) ------------------------------------------------------------


def test_run_names_without_layer_options_are_unchanged():
    """Checkpoint folders of runs made before layer options existed must still resume."""
    config = RunConfig("ozone", "ltc", seed=0, preset="paper", epochs=200)
    assert config.run_name == "ozone-ltc-seed0-38a4b1d5"
    ablated = RunConfig("ozone", "ltc", seed=0, preset="paper", epochs=200,
                        layer_options=(parse_layer_option("positivity=softplus"),))
    assert ablated.run_name != config.run_name and ablated.run_key != config.run_key


def test_layer_options_reach_the_layer_and_the_record(tmp_path):
    task = _synthetic("traffic")
    options = tuple(sorted([parse_layer_option("positivity=softplus"),
                            parse_layer_option("output_mapping=affine")]))
    config = RunConfig("traffic", "ltc", units=4, epochs=1, batch_size=8, layer_options=options)
    layer = build_run_model(config, task).get_layer("ltc")
    assert layer.cell.positivity == "softplus" and layer.cell.output_mapping == "affine"
    record = train_run(config, task=task, output_dir=tmp_path, progress="none")
    assert record["layer_options"] == {"output_mapping": "affine", "positivity": "softplus"}
    plain = train_run(RunConfig("traffic", "ltc", units=4, epochs=1, batch_size=8), task=task,
                      output_dir=tmp_path, progress="none")
    assert "layer_options" not in plain
    table = tables.markdown_table(records.read_records(tmp_path))
    assert table.count("| traffic (mse) | ltc |") == 2
    assert 'output_mapping="affine", positivity="softplus"' in table


def test_parse_layer_option_reads_json_or_a_string():
    assert parse_layer_option("positivity=clip") == ("positivity", '"clip"')
    assert parse_layer_option("initialization_ranges=null") == ("initialization_ranges", "null")
    assert parse_layer_option("epsilon=1e-6") == ("epsilon", "1e-06")
    for bad in ("positivity", "=3", "two words=1"):
        with pytest.raises(ValueError, match="NAME=VALUE"):
            parse_layer_option(bad)


def test_unknown_layer_options_are_refused_before_training():
    with pytest.raises(ValueError, match="does not accept.*bogus"):
        RunConfig("ozone", "ltc", layer_options=(parse_layer_option("bogus=1"),))
    with pytest.raises(ValueError, match="positivity"):
        RunConfig("ozone", "ltc", layer_options=(parse_layer_option("positivity=maybe"),))


# --- the plan and the command ------------------------------------------------------------


def test_the_plan_follows_the_paper_protocol():
    configs = reproduction_configs("ozone")
    counts: dict[tuple[str, str], int] = {}
    for config in configs:
        counts[config.model, config.preset] = counts.get((config.model, config.preset), 0) + 1
        assert config.resolved().epochs == 200 and config.resolved().batch_size == 16
    assert counts == {
        ("ltc", "paper"): 5, ("ltc", "default"): 5, ("lstm", "paper"): 5, ("cfc", "paper"): 5,
        ("ncps-ltc", "paper"): 5, ("ltc-dense", "paper"): 3, ("ctrnn", "paper"): 3,
        ("node", "paper"): 3, ("ctgru", "paper"): 3,
    }
    # Seed by seed over the models: every model's first seed comes first.
    assert [config.seed for config in configs[:9]] == [0] * 9
    assert len({config.run_key for config in configs}) == len(configs)
    power = reproduction_configs("power")
    assert {(c.model, c.preset) for c in power} == {
        ("ltc", "paper"), ("ltc", "default"), ("lstm", "paper"), ("cfc", "paper")}
    assert len(power) == 12


def test_ablations_switch_one_setting_at_a_time():
    configs = reproduction_configs("ozone", ablations=True, models=["ltc"], seeds=1)
    ablated = [config for config in configs if config.layer_options]
    assert len(ablated) == sum(len(options) for options in ABLATIONS.values()) == 6
    assert all(len(config.layer_options) == 1 for config in ablated)
    # Each ablation sets the other preset's value of one setting: the paper preset's, or the
    # cell's own default.
    import inspect

    from liquidtime.cells.synaptic_ltc import SynapticLTCCell
    from liquidtime.models import preset_arguments

    own = inspect.signature(SynapticLTCCell.__init__).parameters
    for config in ablated:
        (name, value), = config.layer_options
        if config.preset == "paper":
            expected = own[name].default
        else:
            expected = json.loads(json.dumps(preset_arguments("ltc", 32, "paper")[name]))
        assert json.loads(value) == expected
        assert preset_arguments("ltc", 32, config.preset).get(name, own[name].default) != expected


def test_reproduce_lists_and_runs_a_reduced_plan(tmp_path, capsys):
    arguments = ["reproduce", "--task", "occupancy", "--output", str(tmp_path), "--seeds", "1",
                 "--epochs", "1", "--max-train-windows", "32", "--models", "cfc,ncps-ltc",
                 "--progress", "none"]
    assert main([*arguments, "--list"]) == 0
    listed = capsys.readouterr().out
    assert "2 runs planned, 0 already finished" in listed and "[todo] ncps-ltc" in listed
    assert main(arguments) == 0
    out = capsys.readouterr().out
    assert "| occupancy (accuracy %) | ncps-ltc |" in out
    assert (tmp_path / "occupancy" / "table.md").is_file()
    assert main([*arguments, "--list"]) == 0
    assert "2 already finished" in capsys.readouterr().out
    # A later run of some models keeps the others' rows in the task's table.
    assert main([*(a if a != "cfc,ncps-ltc" else "cfc" for a in arguments)]) == 0
    assert "| occupancy (accuracy %) | ncps-ltc |" in (tmp_path / "occupancy" / "table.md").read_text()



@pytest.mark.parametrize("name", ["gesture", "har", "person", "cheetah"])
def test_reproduce_runs_the_tasks_we_hold_no_data_for_on_fixtures(name, tmp_path, capsys):
    """The command that would run gesture, HAR, person and half-cheetah, on fixture files."""
    from test_data import WRITERS

    WRITERS[name](tmp_path / "data")
    output = tmp_path / "results"
    arguments = ["reproduce", "--task", name, "--data-dir", str(tmp_path / "data"), "--output",
                 str(output), "--seeds", "1", "--epochs", "1", "--batch-size", "4", "--models", "ltc,lstm",
                 "--progress", "none"]
    assert main(arguments) == 0
    assert f"| {name} (" in capsys.readouterr().out
    runs = records.read_records(output / name)
    assert sorted((run["model"], run["preset"]) for run in runs) == [
        ("lstm", "paper"), ("ltc", "default"), ("ltc", "paper")]

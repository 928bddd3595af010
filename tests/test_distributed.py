"""Data-parallel training with keras.distribution (JAX), on one machine.

``XLA_FLAGS=--xla_force_host_platform_device_count=2`` must be set before JAX is
imported, so the checks run in subprocesses (this file is also the worker script):

* one process with two virtual CPU devices compares single-device training with
  ``DataParallel`` training on the same global batch (losses and final weights),
  checks that the batch really is sharded inside the train step, that the
  batch-sharded scan keeps every sequence's state its own, that a model trained
  data-parallel saves and loads, and that chunked training runs data-parallel;
* two processes with one device each form a two-host cluster on localhost through
  ``initialize_multi_host`` (JAX's distributed runtime) and train the same model,
  each feeding its half of every global batch;
* what the other backends offer instead, with the same model and data: TensorFlow's
  ``MirroredStrategy`` over two logical CPUs, and PyTorch's
  ``DistributedDataParallel`` over two gloo processes, each against one device.

float32 throughout: data parallelism only changes the order in which the
per-example gradients are summed (per device, then across devices), which moves
float32 results by a few ulps per step, far below the 1e-5 tolerance.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

TOLERANCE = 1e-5
SAMPLES, STEPS, FEATURES, UNITS, GLOBAL_BATCH, EPOCHS = 16, 12, 3, 6, 8, 3


# ----------------------------------------------------------------------------- worker


def _worker_data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(SAMPLES, STEPS, FEATURES)).astype("float32")
    y = np.tanh(x.sum(axis=(1, 2)))[:, None].astype("float32")
    return x, y


def _worker_model(case, probe=None):
    import keras

    from liquidtime.layers import LTC, CfC

    keras.utils.set_random_seed(7)
    rnn = LTC(UNITS, ode_unfolds=3) if case == "ltc_sgd" else CfC(UNITS, backbone_units=8)
    layers = [keras.Input((STEPS, FEATURES)), rnn]
    if probe is not None:
        layers.append(probe)
    layers.append(keras.layers.Dense(1))
    model = keras.Sequential(layers)
    optimizer = keras.optimizers.SGD(0.1) if case == "ltc_sgd" else keras.optimizers.Adam(0.01)
    model.compile(optimizer=optimizer, loss="mse")
    return model


def _worker_train(case, x, y, batch_size=GLOBAL_BATCH, probe=None):
    model = _worker_model(case, probe)
    history = model.fit(x, y, batch_size=batch_size, epochs=EPOCHS, shuffle=False, verbose=0)
    return model, history.history["loss"]


def _max_weight_difference(a, b):
    return max(float(np.abs(np.asarray(u) - np.asarray(v)).max()) for u, v in zip(a, b))


def _sharding_probe(records):
    import jax
    import keras

    class ShardingProbe(keras.layers.Layer):
        """Identity; records the sharding of its input when the train step is compiled."""

        def call(self, inputs):
            jax.debug.inspect_array_sharding(
                inputs,
                callback=lambda s: records.append(
                    [list(s.shard_shape(inputs.shape)), bool(s.is_fully_replicated)]
                ),
            )
            return inputs

    return ShardingProbe()


def _worker_devices(out: Path) -> None:
    import jax
    import keras

    from liquidtime.layers import LTC
    from liquidtime.training import ChunkedTrainer, data_parallel

    results: dict = {"devices": len(jax.devices())}
    x, y = _worker_data()

    # Single device against DataParallel over both devices, same global batch.
    for case in ("ltc_sgd", "cfc_adam"):
        keras.distribution.set_distribution(None)
        single, single_losses = _worker_train(case, x, y)
        data_parallel()
        records: list = []
        probe = _sharding_probe(records)
        parallel, parallel_losses = _worker_train(case, x, y, probe=probe)
        results[case] = {
            "single_losses": single_losses,
            "parallel_losses": parallel_losses,
            "weight_difference": _max_weight_difference(single.get_weights(), parallel.get_weights()),
            "variable_shardings": sorted({str(v.value.sharding.spec) for v in parallel.weights}),
            "activation_shardings": list(records),  # before any predict adds more
        }
        if case == "ltc_sgd":
            results["single_weights"] = [np.asarray(w).tolist() for w in single.get_weights()]
            results["single_losses"] = single_losses
            trained_parallel, probe_of_trained = parallel, probe

    # Save and load a model trained data-parallel, with and without the distribution.
    path = out.parent / "parallel.keras"
    expected = trained_parallel.predict(x, verbose=0)
    trained_parallel.save(path)
    custom_objects = {"ShardingProbe": type(probe_of_trained)}
    loaded_parallel = keras.saving.load_model(path, custom_objects=custom_objects)
    keras.distribution.set_distribution(None)
    loaded_single = keras.saving.load_model(path, custom_objects=custom_objects)
    results["save_load"] = {
        "with_distribution": float(np.abs(loaded_parallel.predict(x, verbose=0) - expected).max()),
        "without_distribution": float(np.abs(loaded_single.predict(x, verbose=0) - expected).max()),
    }

    # The batch-sharded scan: each sequence's state is its own.
    distribution = data_parallel()
    keras.utils.set_random_seed(3)
    layer = LTC(UNITS, return_sequences=True, return_state=True, ode_unfolds=3)
    rng = np.random.default_rng(1)
    xs = rng.normal(size=(4, STEPS, FEATURES)).astype("float32")
    dts = rng.uniform(0.2, 2.0, size=(4, STEPS)).astype("float32")
    layer(xs, elapsed_time=dts)
    trainable = [v.value for v in layer.trainable_variables]
    non_trainable = [v.value for v in layer.non_trainable_variables]

    @jax.jit
    def run(inputs, elapsed):
        return layer.stateless_call(trainable, non_trainable, inputs, elapsed_time=elapsed)[0]

    def sharded(array):
        return keras.distribution.distribute_tensor(array, distribution.get_data_layout(array.shape))

    outputs, state = run(sharded(xs), sharded(dts))
    alone = [layer(xs[i : i + 1], elapsed_time=dts[i : i + 1]) for i in range(4)]
    perturbed = xs.copy()
    perturbed[0] += 5.0  # sequence 0 lives on device 0 with sequence 1
    perturbed_outputs, _ = run(sharded(perturbed), sharded(dts))
    results["independence"] = {
        "output_shard_shape": list(outputs.sharding.shard_shape(outputs.shape)),
        "state_shard_shape": list(state.sharding.shard_shape(state.shape)),
        "vs_alone": max(
            float(np.abs(np.asarray(outputs[i]) - np.asarray(alone[i][0][0])).max()) for i in range(4)
        ),
        "state_vs_alone": max(
            float(np.abs(np.asarray(state[i]) - np.asarray(alone[i][1][0])).max()) for i in range(4)
        ),
        "others_after_perturbing_0": float(
            np.abs(np.asarray(perturbed_outputs[1:]) - np.asarray(outputs[1:])).max()
        ),
        "perturbed_itself": float(np.abs(np.asarray(perturbed_outputs[0]) - np.asarray(outputs[0])).max()),
    }

    # Chunked training (carried states) under DataParallel against one device.
    xc = rng.normal(size=(4, 30, FEATURES)).astype("float32")
    yc = np.sin(np.cumsum(xc[..., :1], axis=1) / 4).astype("float32")
    chunked = {}
    for name in ("single", "parallel"):
        if name == "single":
            keras.distribution.set_distribution(None)
        else:
            data_parallel()
        keras.utils.set_random_seed(5)
        model = keras.Sequential(
            [keras.Input((None, FEATURES)), LTC(UNITS, return_sequences=True, ode_unfolds=2),
             keras.layers.Dense(1)]
        )
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
        history = ChunkedTrainer(model, chunk_length=8, batch_size=4).fit(xc, yc, epochs=2, verbose=0)
        chunked[name] = (history.history["loss"], model.get_weights())
    results["chunked"] = {
        "single_losses": chunked["single"][0],
        "parallel_losses": chunked["parallel"][0],
        "weight_difference": _max_weight_difference(chunked["single"][1], chunked["parallel"][1]),
    }
    out.write_text(json.dumps(results))


def _worker_host(out: Path, address: str, process_id: int) -> None:
    import jax

    from liquidtime.training import data_parallel, initialize_multi_host, process_shard

    initialize_multi_host(address, num_processes=2, process_id=process_id)
    data_parallel(auto_shard_dataset=False)
    x, y = _worker_data()
    local_x, local_y = process_shard(x, y, batch_size=GLOBAL_BATCH)
    model, losses = _worker_train("ltc_sgd", local_x, local_y, batch_size=GLOBAL_BATCH // 2)
    out.write_text(
        json.dumps(
            {
                "process_count": jax.process_count(),
                "global_devices": len(jax.devices()),
                "local_devices": len(jax.local_devices()),
                "losses": losses,
                "weights": [np.asarray(w).tolist() for w in model.get_weights()],
            }
        )
    )


def _worker_mirrored(out: Path) -> None:
    """TensorFlow backend: MirroredStrategy over two logical CPUs against one device."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

    x, y = _worker_data()
    runs = {}
    for name in ("single", "mirrored"):
        strategy = (
            tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
            if name == "mirrored"
            else tf.distribute.get_strategy()
        )
        with strategy.scope():
            model = _worker_model("ltc_sgd")
        history = model.fit(x, y, batch_size=GLOBAL_BATCH, epochs=EPOCHS, shuffle=False, verbose=0)
        runs[name] = (history.history["loss"], model.get_weights(), strategy.num_replicas_in_sync)
    out.write_text(
        json.dumps(
            {
                "replicas": runs["mirrored"][2],
                "single_losses": runs["single"][0],
                "mirrored_losses": runs["mirrored"][0],
                "weight_difference": _max_weight_difference(runs["single"][1], runs["mirrored"][1]),
            }
        )
    )


def _torch_train(model, x, y, rank, world, wrapped=None):
    import torch

    network = wrapped if wrapped is not None else model
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    share = GLOBAL_BATCH // world
    for _ in range(EPOCHS):
        for start in range(0, SAMPLES, GLOBAL_BATCH):
            rows = slice(start + rank * share, start + (rank + 1) * share)
            optimizer.zero_grad()
            loss = torch.mean((network(torch.tensor(x[rows])) - torch.tensor(y[rows])) ** 2)
            loss.backward()
            optimizer.step()
    return [np.asarray(w.detach().numpy()).tolist() for w in model.parameters()]


def _worker_ddp(out: Path, address: str, rank: int) -> None:
    """PyTorch backend: DistributedDataParallel over two gloo processes."""
    import torch
    import torch.distributed as dist

    x, y = _worker_data()
    dist.init_process_group("gloo", init_method=f"tcp://{address}", rank=rank, world_size=2)
    model = _worker_model("ltc_sgd")
    weights = _torch_train(model, x, y, rank, 2, torch.nn.parallel.DistributedDataParallel(model))
    dist.destroy_process_group()
    result = {"weights": weights}
    if rank == 0:
        result["single_weights"] = _torch_train(_worker_model("ltc_sgd"), x, y, 0, 1)
    out.write_text(json.dumps(result))


# ------------------------------------------------------------------------------ tests


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _launch(args, devices, backend="jax"):
    env = {
        **os.environ,
        "KERAS_BACKEND": backend,
        "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}",
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.Popen(
        [sys.executable, __file__, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@pytest.fixture(scope="module")
def worker_results(tmp_path_factory):
    """Runs every worker side by side: JAX devices and cluster, TF mirrored, torch DDP."""
    directory = tmp_path_factory.mktemp("distributed")
    address, torch_address = f"localhost:{_free_port()}", f"127.0.0.1:{_free_port()}"
    runs = {
        "devices": _launch(["devices", str(directory / "devices.json")], devices=2),
        "host0": _launch(["host", str(directory / "host0.json"), address, "0"], devices=1),
        "host1": _launch(["host", str(directory / "host1.json"), address, "1"], devices=1),
        "mirrored": _launch(["mirrored", str(directory / "mirrored.json")], 1, "tensorflow"),
        "ddp0": _launch(["ddp", str(directory / "ddp0.json"), torch_address, "0"], 1, "torch"),
        "ddp1": _launch(["ddp", str(directory / "ddp1.json"), torch_address, "1"], 1, "torch"),
    }
    results = {}
    for name, process in runs.items():
        try:
            _, stderr = process.communicate(timeout=600)
        except subprocess.TimeoutExpired:
            process.kill()
            _, stderr = process.communicate()
        if process.returncode != 0:
            pytest.fail(f"worker {name} failed:\n{stderr[-4000:]}")
        results[name] = json.loads((directory / f"{name}.json").read_text())
    return results


@pytest.mark.parametrize("case", ["ltc_sgd", "cfc_adam"])
def test_data_parallel_matches_single_device(worker_results, case):
    run = worker_results["devices"]
    assert run["devices"] == 2
    result = run[case]
    np.testing.assert_allclose(result["parallel_losses"], result["single_losses"], rtol=TOLERANCE)
    assert result["weight_difference"] < TOLERANCE
    # Weights replicated; activations split along the batch inside the train step.
    assert result["variable_shardings"] == ["PartitionSpec()"] or all(
        "batch" not in spec for spec in result["variable_shardings"]
    )
    assert result["activation_shardings"], "the probe saw no traced train step"
    for shard_shape, replicated in result["activation_shardings"]:
        assert shard_shape[0] == GLOBAL_BATCH // 2 and not replicated


def test_batch_sharded_scan_keeps_each_sequence_its_own_state(worker_results):
    result = worker_results["devices"]["independence"]
    assert result["output_shard_shape"][0] == 2 and result["state_shard_shape"] == [2, UNITS]
    assert result["vs_alone"] < 1e-6 and result["state_vs_alone"] < 1e-6
    assert result["others_after_perturbing_0"] == 0.0
    assert result["perturbed_itself"] > 1e-3


def test_model_trained_data_parallel_saves_and_loads(worker_results):
    result = worker_results["devices"]["save_load"]
    assert result["with_distribution"] < 1e-6
    assert result["without_distribution"] < 1e-6


def test_chunked_training_runs_data_parallel(worker_results):
    result = worker_results["devices"]["chunked"]
    np.testing.assert_allclose(result["parallel_losses"], result["single_losses"], rtol=TOLERANCE)
    assert result["weight_difference"] < TOLERANCE


def test_two_process_cluster_matches_single_device(worker_results):
    reference = worker_results["devices"]
    for name in ("host0", "host1"):
        host = worker_results[name]
        assert host["process_count"] == 2 and host["global_devices"] == 2
        assert host["local_devices"] == 1
        np.testing.assert_allclose(host["losses"], reference["single_losses"], rtol=TOLERANCE)
        difference = _max_weight_difference(host["weights"], reference["single_weights"])
        assert difference < TOLERANCE


def test_tensorflow_mirrored_strategy_matches_single_device(worker_results):
    result = worker_results["mirrored"]
    assert result["replicas"] == 2
    np.testing.assert_allclose(result["mirrored_losses"], result["single_losses"], rtol=TOLERANCE)
    assert result["weight_difference"] < TOLERANCE


def test_torch_ddp_matches_single_process(worker_results):
    reference = worker_results["ddp0"]["single_weights"]
    for name in ("ddp0", "ddp1"):
        assert _max_weight_difference(worker_results[name]["weights"], reference) < TOLERANCE


# In-process checks of the helpers (no second device needed).


@pytest.fixture
def no_distribution():
    import keras

    yield
    keras.distribution.set_distribution(None)


def _jax_only():
    import keras

    if keras.backend.backend() != "jax":
        pytest.skip("keras.distribution data parallelism is JAX-only")


def test_command_line_options(no_distribution):
    _jax_only()
    import keras

    from liquidtime.training import add_distribution_arguments, configure_distribution

    parser = add_distribution_arguments(argparse.ArgumentParser())
    assert configure_distribution(parser.parse_args([])) is None
    distribution = configure_distribution(parser.parse_args(["--data-parallel"]))
    assert isinstance(distribution, keras.distribution.DataParallel)
    assert keras.distribution.distribution() is distribution
    with pytest.raises(ValueError, match="--devices=1 needs --data-parallel"):
        configure_distribution(parser.parse_args(["--devices", "1"]))
    with pytest.raises(ValueError, match="need --data-parallel"):
        configure_distribution(parser.parse_args(["--num-processes", "2"]))


def test_helper_arguments_are_validated(no_distribution):
    _jax_only()
    import keras

    from liquidtime.training import (
        check_global_batch_size,
        data_parallel,
        initialize_multi_host,
        process_shard,
    )

    count = len(keras.distribution.list_devices())
    with pytest.raises(ValueError, match="`devices`, expected at most"):
        data_parallel(devices=count + 1)
    with pytest.raises(ValueError, match="unknown device"):
        data_parallel(devices=["tpu:7"])
    with pytest.raises(ValueError, match="`devices`"):
        data_parallel(devices=0)
    distribution = data_parallel(devices=1, set_global=False)
    assert keras.distribution.distribution() is None
    assert check_global_batch_size(6, distribution) == 6
    with pytest.raises(ValueError, match="`process_id`"):
        initialize_multi_host("localhost:1", num_processes=2, process_id=2)
    x = np.arange(10)
    np.testing.assert_array_equal(process_shard(x, batch_size=4), x)  # one process: all rows
    with pytest.raises(ValueError, match="same number of examples"):
        process_shard(x, x[:3], batch_size=4)


def _main() -> None:
    mode, out = sys.argv[1], Path(sys.argv[2])
    import liquidtime  # noqa: F401  (selects the backend before Keras is imported)

    if mode == "devices":
        _worker_devices(out)
    elif mode == "host":
        _worker_host(out, sys.argv[3], int(sys.argv[4]))
    elif mode == "mirrored":
        _worker_mirrored(out)
    else:
        _worker_ddp(out, sys.argv[3], int(sys.argv[4]))


if __name__ == "__main__":
    _main()

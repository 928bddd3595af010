"""Data-parallel training of liquidtime models with ``keras.distribution`` (JAX backend).

liquidtime has no distributed engine of its own: every model is a Keras model, and
on the JAX backend ``keras.distribution.DataParallel`` replicates its weights on
every device, splits each global batch along the batch axis, and averages the
gradients (one all-reduce per step). The sequence layers scan over *time* with the
batch axis inside the carry, so a batch-sharded scan needs no communication:
every device advances its own sequences.

This module holds thin, validated helpers around that engine:

* :func:`data_parallel` builds (and by default installs) a ``DataParallel``
  distribution over all or some local devices;
* :func:`initialize_multi_host` starts JAX's distributed runtime for training
  across machines (``keras.distribution.initialize``);
* :func:`add_distribution_arguments` / :func:`configure_distribution` give a
  command line ``--data-parallel`` and the multi-host options.

See ``docs/distributed.md`` for launching on several machines and for what the
TensorFlow (``tf.distribute.MirroredStrategy``) and PyTorch (DDP) backends offer.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from liquidtime import _validation

# Defined without Keras, for the command line's parser (add_distribution_arguments is
# re-exported from here).
from liquidtime._distribution_options import ENV_PROCESSES as _ENV_PROCESSES
from liquidtime._distribution_options import add_distribution_arguments


def _require_jax(what: str) -> None:
    backend = keras.backend.backend()
    if backend != "jax":
        raise RuntimeError(
            f"{what} uses keras.distribution, which trains data-parallel on the JAX "
            f"backend only; the current backend is {backend!r}. Set KERAS_BACKEND=jax, "
            "or use tf.distribute.MirroredStrategy (TensorFlow) or "
            "torch.nn.parallel.DistributedDataParallel (PyTorch): see docs/distributed.md."
        )


def data_parallel(
    devices: int | Sequence[str] | None = None,
    set_global: bool = True,
    auto_shard_dataset: bool = True,
) -> keras.distribution.DataParallel:
    """A ``keras.distribution.DataParallel`` over the given devices.

    Weights are replicated on every device; each global batch is split along its
    first axis, one equal shard per device, so the global batch size must be a
    multiple of the number of devices (:func:`check_global_batch_size`). The
    gradient of the mean loss over the global batch is the mean of the per-device
    gradients, so training matches single-device training with the same global
    batch up to floating-point summation order.

    In a multi-host run (after :func:`initialize_multi_host`) the devices are the
    global ones, and each process feeds its own part of every global batch
    (``global_batch / num_processes`` examples): either a ``tf.data.Dataset`` that
    Keras shards per process (``auto_shard_dataset=True``), or NumPy arrays / a
    ``PyDataset`` already split per process (:func:`process_shard`) with
    ``auto_shard_dataset=False``.

    Args:
        devices: None for every available device (``keras.distribution.list_devices()``),
            an integer ``n`` for the first ``n`` of them, or a list of device names
            such as ``["cpu:0", "cpu:1"]``.
        set_global: Install the distribution with ``keras.distribution.set_distribution``
            (default). Create models *after* this call, so that their variables are
            placed by the distribution.
        auto_shard_dataset: Let Keras split a ``tf.data.Dataset`` between processes
            (multi-host only). Set False when every process already feeds its own shard.

    Returns:
        The ``DataParallel`` distribution.
    """
    _require_jax("data_parallel()")
    available = keras.distribution.list_devices()
    if devices is None:
        chosen = list(available)
    elif isinstance(devices, int) and not isinstance(devices, bool):
        _validation.positive_int("devices", devices)
        if devices > len(available):
            raise ValueError(
                f"Received an invalid value for argument `devices`, expected at most "
                f"{len(available)} (the available devices: {available}), got {devices}."
            )
        chosen = list(available[:devices])
    elif isinstance(devices, (list, tuple)) and devices:
        unknown = [name for name in devices if str(name).lower() not in available]
        if unknown:
            raise ValueError(
                f"Received an invalid value for argument `devices`: unknown device(s) "
                f"{unknown}; the available devices are {available}."
            )
        chosen = [str(name).lower() for name in devices]
    else:
        raise ValueError(
            "Received an invalid value for argument `devices`, expected None, a positive "
            f"integer or a non-empty list of device names, got {devices!r}."
        )
    distribution = keras.distribution.DataParallel(
        devices=chosen, auto_shard_dataset=auto_shard_dataset
    )
    if set_global:
        keras.distribution.set_distribution(distribution)
    return distribution


def check_global_batch_size(
    batch_size: int, distribution: keras.distribution.Distribution | None = None
) -> int:
    """Checks that ``batch_size`` splits evenly over the data-parallel devices.

    Args:
        batch_size: The global batch size.
        distribution: The distribution (default: the installed one). Without one,
            any positive batch size is fine.

    Returns:
        The batch size per device.
    """
    _validation.positive_int("batch_size", batch_size)
    distribution = distribution or keras.distribution.distribution()
    if distribution is None:
        return batch_size
    replicas = int(distribution.device_mesh.shape[0])
    if batch_size % replicas:
        raise ValueError(
            f"Received an invalid value for argument `batch_size`, expected a multiple of "
            f"the {replicas} data-parallel devices (each device takes an equal shard of "
            f"every batch), got {batch_size}."
        )
    return batch_size // replicas


def process_shard(*arrays: Any, batch_size: int) -> tuple[Any, ...] | Any:
    """This process's share of every global batch, for multi-host data-parallel training.

    With ``P`` processes (``jax.process_count()``), process ``p`` takes, from every
    consecutive global batch of ``batch_size`` rows, the ``p``-th of ``P`` equal
    blocks. Fed to ``fit`` with ``batch_size // P`` and ``shuffle=False``, the
    cluster then trains on exactly the global batches a single process would see
    with ``batch_size`` (with shuffling, each process shuffles its own rows). Rows of
    a last, partial batch that do not split into ``P`` equal blocks are dropped.
    With one process the arrays are returned unchanged. Use it under
    ``data_parallel(auto_shard_dataset=False)``.

    Args:
        *arrays: Arrays (or nested lists/dicts of arrays) with the examples on axis 0.
        batch_size: The global batch size, a multiple of the number of processes.

    Returns:
        The shards, one per argument (a single value for a single argument).
    """
    _require_jax("process_shard()")
    import jax

    processes, index = jax.process_count(), jax.process_index()
    _validation.positive_int("batch_size", batch_size)
    if batch_size % processes:
        raise ValueError(
            "Received an invalid value for argument `batch_size`, expected a multiple of "
            f"the {processes} processes, got {batch_size}."
        )
    flat = [a for array in arrays for a in keras.tree.flatten(array)]
    counts = {int(a.shape[0]) for a in flat}
    if len(counts) != 1:
        raise ValueError(
            "Received an invalid value for argument `arrays`: every array must have the "
            f"same number of examples on axis 0, got {sorted(counts)}."
        )
    rows = counts.pop()
    selected: list[int] = []
    for start in range(0, rows, batch_size):
        share = (min(batch_size, rows - start)) // processes
        selected.extend(range(start + index * share, start + (index + 1) * share))
    if not selected:
        raise ValueError(
            f"Received an invalid value for argument `arrays`: {rows} examples cannot be "
            f"split between {processes} processes."
        )
    rows_of_process = np.asarray(selected)
    shards = tuple(
        keras.tree.map_structure(lambda a: a[rows_of_process], array) for array in arrays
    )
    return shards[0] if len(shards) == 1 else shards


def initialize_multi_host(
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
) -> None:
    """Starts JAX's distributed runtime so that one model trains across machines.

    A thin wrapper over ``keras.distribution.initialize`` (``jax.distributed.initialize``).
    Run the *same* script on every machine, each with its own ``process_id``
    (0 is the coordinator), and call this first, before any other JAX or Keras
    computation; then :func:`data_parallel` spans the devices of all processes.
    Every argument left as None is read from the environment:
    ``KERAS_DISTRIBUTION_JOB_ADDRESSES``, ``KERAS_DISTRIBUTION_NUM_PROCESSES``,
    ``KERAS_DISTRIBUTION_PROCESS_ID`` (on Cloud TPU and SLURM, JAX can also find
    them itself).

    Example (two machines, the coordinator at 10.0.0.1)::

        # on machine 0                        # on machine 1
        initialize_multi_host("10.0.0.1:1234", 2, 0)
                                              initialize_multi_host("10.0.0.1:1234", 2, 1)
        data_parallel()                       data_parallel()
        model.fit(local_part_of_each_batch)   model.fit(local_part_of_each_batch)

    Args:
        coordinator_address: ``"host:port"`` of process 0, reachable from every process.
        num_processes: Number of processes (usually one per machine).
        process_id: This process's index in ``[0, num_processes)``.
    """
    _require_jax("initialize_multi_host()")
    if num_processes is not None:
        _validation.positive_int("num_processes", num_processes)
    if process_id is not None:
        _validation.non_negative_int("process_id", process_id)
        processes = num_processes or int(os.environ.get(_ENV_PROCESSES, 0)) or None
        if processes is not None and process_id >= processes:
            raise ValueError(
                "Received an invalid value for argument `process_id`, expected an integer "
                f"in [0, {processes}) (num_processes={processes}), got {process_id}."
            )
    keras.distribution.initialize(
        job_addresses=coordinator_address, num_processes=num_processes, process_id=process_id
    )


def configure_distribution(args: argparse.Namespace) -> keras.distribution.DataParallel | None:
    """Sets up distribution from :func:`add_distribution_arguments`'s options.

    Call it before building the model. With ``--data-parallel`` it installs
    :func:`data_parallel` over ``--devices``; with multi-host options (given, or
    ``KERAS_DISTRIBUTION_NUM_PROCESSES`` in the environment) it first calls
    :func:`initialize_multi_host`, and every process must then feed its own
    shard of the data (``process_shard(x, y, batch_size=global_batch)``) with
    batch size ``global_batch / num_processes``.

    Returns:
        The installed distribution, or None for ordinary single-device training.
    """
    multi_host = (
        args.coordinator_address is not None
        or args.num_processes is not None
        or args.process_id is not None
    )
    if multi_host and not args.data_parallel:
        raise ValueError(
            "The multi-host options (--coordinator-address, --num-processes, --process-id) "
            "need --data-parallel."
        )
    if args.devices is not None and not args.data_parallel:
        raise ValueError(f"--devices={args.devices} needs --data-parallel.")
    if not args.data_parallel:
        return None
    if multi_host or _ENV_PROCESSES in os.environ:
        initialize_multi_host(args.coordinator_address, args.num_processes, args.process_id)
        # Each process then feeds its own shard (process_shard) of NumPy data.
        return data_parallel(args.devices, auto_shard_dataset=False)
    return data_parallel(args.devices)


def describe_distribution(distribution: keras.distribution.Distribution | None = None) -> str:
    """A one-line description of the installed distribution, for logs."""
    distribution = distribution or keras.distribution.distribution()
    if distribution is None:
        return "single device"
    devices = list(distribution.device_mesh.devices.flatten())
    processes = getattr(distribution, "num_processes", 1)
    return f"{type(distribution).__name__} over {len(devices)} devices in {processes} process(es)"


__all__ = [
    "add_distribution_arguments",
    "check_global_batch_size",
    "configure_distribution",
    "data_parallel",
    "describe_distribution",
    "initialize_multi_host",
    "process_shard",
]


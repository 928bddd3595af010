"""The command line's data-parallel options, importable without Keras.

:func:`add_distribution_arguments` is part of :mod:`liquidtime.training.distributed`
(re-exported there, beside :func:`~liquidtime.training.distributed.configure_distribution`,
which reads the parsed options); it lives here so that building the ``liquidtime``
command's parser does not import a backend.
"""

from __future__ import annotations

import argparse

ENV_ADDRESS = "KERAS_DISTRIBUTION_JOB_ADDRESSES"
ENV_PROCESSES = "KERAS_DISTRIBUTION_NUM_PROCESSES"
ENV_PROCESS_ID = "KERAS_DISTRIBUTION_PROCESS_ID"


def add_distribution_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Adds the data-parallel options to a command-line parser.

    Options: ``--data-parallel`` (train data-parallel over the available devices),
    ``--devices N`` (use the first N devices only), and for several machines
    ``--coordinator-address HOST:PORT``, ``--num-processes N``, ``--process-id I``
    (defaults from the ``KERAS_DISTRIBUTION_*`` environment variables).
    Use :func:`configure_distribution` on the parsed arguments.

    Returns:
        The parser.
    """
    group = parser.add_argument_group(
        "distribution", "Data-parallel training with keras.distribution (JAX backend)."
    )
    group.add_argument(
        "--data-parallel",
        action="store_true",
        help="Train data-parallel: replicate the model on every available device and "
        "split each batch over them (the batch size must be a multiple of the device count).",
    )
    group.add_argument(
        "--devices",
        type=int,
        default=None,
        metavar="N",
        help="With --data-parallel, use only the first N devices (default: all).",
    )
    group.add_argument(
        "--coordinator-address",
        default=None,
        metavar="HOST:PORT",
        help=f"Multi-host training: address of process 0 (default: ${ENV_ADDRESS}).",
    )
    group.add_argument(
        "--num-processes",
        type=int,
        default=None,
        metavar="N",
        help=f"Multi-host training: number of processes (default: ${ENV_PROCESSES}).",
    )
    group.add_argument(
        "--process-id",
        type=int,
        default=None,
        metavar="I",
        help=f"Multi-host training: this process's index (default: ${ENV_PROCESS_ID}).",
    )
    return parser

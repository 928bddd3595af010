"""Training at scale: data-parallel training and truncated BPTT over long recordings.

* :mod:`liquidtime.training.distributed`: ``keras.distribution`` data parallelism
  (JAX backend) over local devices and across hosts, and the command-line options.
* :mod:`liquidtime.training.chunked`: truncated backpropagation through time over
  chunks, with the recurrent states carried between chunks.
"""

from liquidtime.training.chunked import (
    ChunkedSequence,
    ChunkedTrainer,
    recurrent_layers,
    train_chunked,
)
from liquidtime.training.distributed import (
    add_distribution_arguments,
    check_global_batch_size,
    configure_distribution,
    data_parallel,
    describe_distribution,
    initialize_multi_host,
    process_shard,
)

__all__ = [
    "ChunkedSequence",
    "ChunkedTrainer",
    "add_distribution_arguments",
    "check_global_batch_size",
    "configure_distribution",
    "data_parallel",
    "describe_distribution",
    "initialize_multi_host",
    "process_shard",
    "recurrent_layers",
    "train_chunked",
]

"""Milliseconds per training step (forward, backward, Adam) of liquidtime layers and Keras's LSTM.

Each model runs in its own process, on the Keras backend named by ``KERAS_BACKEND``
(JAX by default), so that compile caches and memory do not leak between models.

Usage:
    python benchmarks/train_step.py                       # B64 T64 F8 N32, all models
    python benchmarks/train_step.py --batch 128 --length 256 --features 16 --units 64
    KERAS_BACKEND=torch python benchmarks/train_step.py --models ltc-dense,cfc,lstm

Prints, per model: median ms per training step over ``--steps`` steps after
``--warmup`` warm-up steps, sequences per second, first-call (compile) time and the
process's peak resident memory.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

MODELS = ("ltc-dense", "ltc", "cfc", "lstm")


def build_layer(name: str, units: int, unfolds: int):
    import keras

    import liquidtime as lt

    if name == "ltc-dense":
        return lt.LTC(units, ode_unfolds=unfolds)
    if name == "ltc":
        from liquidtime.wirings import FullyConnected

        return lt.LTC(FullyConnected(units), ode_unfolds=unfolds)
    if name == "cfc":
        return lt.CfC(units)
    if name == "lstm":
        return keras.layers.LSTM(units)
    raise ValueError(f"Unknown model {name!r}; expected one of {MODELS}.")


def measure(args: argparse.Namespace) -> dict:
    """Runs one model in this process and returns its figures."""
    import keras
    import numpy as np

    import liquidtime  # noqa: F401  (selects JAX unless KERAS_BACKEND is set)

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(args.batch, args.length, args.features)).astype("float32")
    y = rng.normal(size=(args.batch, 1)).astype("float32")
    inputs = keras.Input((args.length, args.features))
    model = keras.Model(inputs, keras.layers.Dense(1)(build_layer(args.single, args.units, args.unfolds)(inputs)))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")

    start = time.perf_counter()
    model.train_on_batch(x, y)
    first_call = time.perf_counter() - start
    for _ in range(args.warmup):
        model.train_on_batch(x, y)
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        loss = model.train_on_batch(x, y)
        float(np.asarray(loss))  # wait for the result
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    return {
        "model": args.single,
        "backend": keras.backend.backend(),
        "ms_per_step": 1e3 * median,
        "sequences_per_s": args.batch / median,
        "first_call_s": first_call,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(MODELS), help=f"comma-separated subset of {MODELS}")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--length", type=int, default=64)
    parser.add_argument("--features", type=int, default=8)
    parser.add_argument("--units", type=int, default=32)
    parser.add_argument("--unfolds", type=int, default=6, help="ODE unfolds of the LTCs")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--single", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.single:
        print(json.dumps(measure(args)))
        return

    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, KERAS_BACKEND={os.environ.get('KERAS_BACKEND', 'jax (default)')}"
    )
    print(f"# batch {args.batch}, length {args.length}, features {args.features}, units {args.units}, unfolds {args.unfolds}")
    print(f"{'model':<10} {'ms/step':>9} {'seq/s':>9} {'first call s':>13} {'peak MB':>9}")
    for name in args.models.split(","):
        command = [sys.executable, __file__, "--single", name] + [
            f"--{key}={getattr(args, key)}" for key in ("batch", "length", "features", "units", "unfolds", "warmup", "steps")
        ]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            print(f"{name:<10} failed: {result.stderr.strip().splitlines()[-1]}")
            continue
        row = json.loads(result.stdout.strip().splitlines()[-1])
        print(
            f"{name:<10} {row['ms_per_step']:>9.1f} {row['sequences_per_s']:>9.0f} "
            f"{row['first_call_s']:>13.1f} {row['peak_rss_mb']:>9.0f}"
        )


if __name__ == "__main__":
    main()

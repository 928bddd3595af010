"""Cost of the traced elapsed-time check per training step (checks on against off).

Builds the same model twice in one process, once traced with
``liquidtime.config.set_runtime_checks(True)`` (the default) and once with it off,
and times ``train_on_batch`` of the two alternately, call by call (the order
alternating), so that load from other processes falls on both alike; it prints
the median and minimum step times and the median of the paired ratios.
Configuration A: batch 64, 64 steps, 8 features, 32 units, a per-step
elapsed time ``(batch, time)``; for the LTC and CfC sequence layers, and for
``keras.layers.RNN(LTCCell(32, elapsed_time_as_feature=True))`` (the cell checks its
time feature at every step).

Usage:
    python benchmarks/runtime_checks.py                  # the backend of KERAS_BACKEND (JAX)
    python benchmarks/runtime_checks.py --calls 500 --models ltc,cfc
"""

from __future__ import annotations

import argparse
import statistics
import time

import keras
import numpy as np

import liquidtime as lt
from liquidtime import config

BATCH, LENGTH, FEATURES, UNITS = 64, 64, 8, 32


def build(kind: str) -> keras.Model:
    """The model of ``kind`` (``ltc``, ``cfc`` or ``rnn_ltc_cell``) compiled with Adam and MSE."""
    if kind == "rnn_ltc_cell":
        inputs = keras.Input((LENGTH, FEATURES + 1), batch_size=BATCH)
        outputs = keras.layers.RNN(lt.LTCCell(UNITS, elapsed_time_as_feature=True))(inputs)
        model = keras.Model(inputs, keras.layers.Dense(1)(outputs))
    else:
        layer = {"ltc": lt.LTC, "cfc": lt.CfC}[kind](UNITS)
        sequences = keras.Input((LENGTH, FEATURES), batch_size=BATCH)
        elapsed = keras.Input((LENGTH,), batch_size=BATCH)
        outputs = layer(sequences, elapsed_time=elapsed)
        model = keras.Model([sequences, elapsed], keras.layers.Dense(1)(outputs))
    model.compile(keras.optimizers.Adam(1e-3), "mse")
    return model


def data(kind: str) -> tuple:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH, LENGTH, FEATURES)).astype("float32")
    dt = rng.uniform(0.5, 1.5, size=(BATCH, LENGTH)).astype("float32")
    y = rng.normal(size=(BATCH, 1)).astype("float32")
    if kind == "rnn_ltc_cell":
        return np.concatenate([x, dt[..., None]], axis=-1), y
    return [x, dt], y


def compare(kind: str, calls: int) -> dict[str, float]:
    """Step times with checks on and off, the two models called alternately.

    Returns:
        Median and minimum of each (ms), and the median of the paired ratios
        on / off (each pair timed back to back, the order alternating).
    """
    x, y = data(kind)
    steps = {}
    for enabled in (True, False):
        config.set_runtime_checks(enabled)
        model = build(kind)
        step = lambda model=model: float(model.train_on_batch(x, y))  # noqa: E731
        step()  # traced here, with the setting of this iteration
        for _ in range(5):
            step()
        steps[enabled] = step
    config.set_runtime_checks(True)
    times: dict[bool, list[float]] = {True: [], False: []}
    for call in range(calls):
        for enabled in (True, False) if call % 2 else (False, True):
            start = time.perf_counter()
            steps[enabled]()
            times[enabled].append(1e3 * (time.perf_counter() - start))
    ratios = [on / off for on, off in zip(times[True], times[False])]
    return {
        "on": statistics.median(times[True]),
        "off": statistics.median(times[False]),
        "on_min": min(times[True]),
        "off_min": min(times[False]),
        "ratio": statistics.median(ratios),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="ltc,cfc,rnn_ltc_cell")
    parser.add_argument("--calls", type=int, default=200, help="timed calls of each model")
    args = parser.parse_args()
    print(
        f"backend {keras.backend.backend()}, batch {BATCH}, length {LENGTH}, "
        f"{FEATURES} features, {UNITS} units; train_on_batch, median ms"
    )
    print(
        f"{'model':<14} {'on':>8} {'off':>8} {'on min':>8} {'off min':>8} "
        f"{'paired cost':>12}"
    )
    for kind in args.models.split(","):
        r = compare(kind, args.calls)
        print(
            f"{kind:<14} {r['on']:8.2f} {r['off']:8.2f} {r['on_min']:8.2f} "
            f"{r['off_min']:8.2f} {100 * (r['ratio'] - 1):+11.1f}%"
        )


if __name__ == "__main__":
    main()

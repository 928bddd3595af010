"""Cost of the solver failure checks per training step (policy "warn" against "off").

Builds the same model twice in one process, once traced with
``liquidtime.solvers.set_failure_policy("warn")`` (the default: the scan carries
the solver's status, the layer reduces it and calls back to the host only on a
failure) and once with ``"off"`` (the scan of a version without the checks), and
times ``train_on_batch`` of the two alternately, call by call (the order
alternating), so that load from other processes falls on both alike. It prints
the median step times and the median of the paired ratios. Configuration A:
batch 64, 64 steps, 8 features, 32 units, elapsed time 1 per step.

Models: ``synaptic`` (the synaptic LTC on a fully connected wiring, fused solver:
only the final states are checked for NaN), ``ltc_euler``, ``ltc_dopri5``,
``ctrnn`` (euler, its default).

Usage:
    python benchmarks/solver_checks.py                   # the backend of KERAS_BACKEND (JAX)
    python benchmarks/solver_checks.py --calls 100 --models synaptic,ltc_euler
"""

from __future__ import annotations

import argparse
import statistics
import time

import keras
import numpy as np

import liquidtime as lt
from liquidtime.solvers import set_failure_policy

BATCH, LENGTH, FEATURES, UNITS = 64, 64, 8, 32

MODELS = {
    "synaptic": lambda: lt.LTC(lt.wirings.FullyConnected(UNITS)),
    "ltc_euler": lambda: lt.LTC(UNITS, solver="euler"),
    "ltc_dopri5": lambda: lt.LTC(UNITS, solver="dopri5"),
    "ctrnn": lambda: lt.CTRNN(UNITS),
}


def build(kind: str, policy: str) -> keras.Model:
    """The model of ``kind``, compiled with Adam and MSE and traced under ``policy``."""
    set_failure_policy(policy)
    model = keras.Sequential(
        [keras.Input((LENGTH, FEATURES), batch_size=BATCH), MODELS[kind](), keras.layers.Dense(1)]
    )
    model.compile(keras.optimizers.Adam(1e-3), "mse")
    x, y = data()
    model.train_on_batch(x, y)  # traced now, under ``policy``
    set_failure_policy("warn")
    return model


def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH, LENGTH, FEATURES)).astype("float32")
    return x, rng.normal(size=(BATCH, 1)).astype("float32")


def compare(kind: str, calls: int) -> dict[str, float]:
    """Median step times (ms) with the checks and without, and the median paired ratio."""
    models = {policy: build(kind, policy) for policy in ("warn", "off")}
    x, y = data()
    times: dict[str, list[float]] = {"warn": [], "off": []}
    for call in range(calls):
        order = ("warn", "off") if call % 2 == 0 else ("off", "warn")
        for policy in order:
            start = time.perf_counter()
            models[policy].train_on_batch(x, y)
            times[policy].append(time.perf_counter() - start)
    ratios = [w / o for w, o in zip(times["warn"], times["off"])]
    return {
        "warn_ms": 1e3 * statistics.median(times["warn"]),
        "off_ms": 1e3 * statistics.median(times["off"]),
        "ratio": statistics.median(ratios),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=50, help="timed steps per model and policy")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated: " + ",".join(MODELS))
    args = parser.parse_args()
    print(f"backend {keras.backend.backend()}, configuration A, {args.calls} paired steps")
    print(f"{'model':<12} {'warn ms':>9} {'off ms':>9} {'warn/off':>9}")
    for kind in args.models.split(","):
        result = compare(kind, args.calls)
        print(f"{kind:<12} {result['warn_ms']:>9.2f} {result['off_ms']:>9.2f} {result['ratio']:>9.3f}")


if __name__ == "__main__":
    main()

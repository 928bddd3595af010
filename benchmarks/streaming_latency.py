"""Latency of one streaming step (``liquidtime.deploy.Stepper``), against a Keras GRU.

Models: a 19-neuron NCP LTC (``LTC(AutoNCP(19, 1))``, the LTC paper's driving
controller size) and a 64-unit CfC, each beside a ``keras.layers.GRU`` of the same
number of units stepped the same way (a ``Stepper``, batch 1, 3 input features, a
new NumPy input and elapsed time every step, the output read back as NumPy). Rounds
of ``--steps`` steps alternate between the models so that load from other processes
falls on all of them alike; the figures are the median microseconds per step over
all timed steps and the 10th-90th percentile spread.

    python benchmarks/streaming_latency.py [--rounds 20] [--steps 200]

Run with KERAS_BACKEND=tensorflow or torch for those backends (JAX by default).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import liquidtime as lt  # first: it selects the Keras backend

# isort: split
import keras

from liquidtime.deploy import Stepper
from liquidtime.wirings import AutoNCP

FEATURES = 3


def sequential(layer: keras.layers.Layer) -> keras.Model:
    return keras.Sequential([keras.Input((None, FEATURES)), layer])


def models() -> dict[str, keras.Model]:
    return {
        "NCP LTC, 19 neurons": sequential(lt.LTC(AutoNCP(19, 1), return_sequences=True)),
        "GRU, 19 units": sequential(keras.layers.GRU(19, return_sequences=True)),
        "CfC, 64 units": sequential(lt.CfC(64, return_sequences=True)),
        "GRU, 64 units": sequential(keras.layers.GRU(64, return_sequences=True)),
    }


def time_steps(stepper: Stepper, inputs: np.ndarray, elapsed: np.ndarray) -> list[float]:
    """Seconds per ``step`` call, one per row of ``inputs``."""
    takes_time = stepper.program.uses_elapsed_time
    times = []
    for x_t, dt in zip(inputs, elapsed):
        start = time.perf_counter()
        stepper.step(x_t[None], elapsed_time=dt if takes_time else None)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=20, help="alternating rounds (default 20)")
    parser.add_argument("--steps", type=int, default=200, help="steps per model per round (default 200)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(args.steps, FEATURES)).astype("float32")
    elapsed = rng.uniform(0.05, 0.2, size=args.steps).astype("float32")
    steppers = {}
    for name, model in models().items():
        start = time.perf_counter()
        steppers[name] = Stepper(model)
        steppers[name].step(inputs[:1])  # compiles
        print(f"{name}: built and compiled in {time.perf_counter() - start:.1f} s")
        time_steps(steppers[name], inputs, elapsed)  # warm-up round
    samples = {name: [] for name in steppers}
    for _ in range(args.rounds):
        for name, stepper in steppers.items():
            samples[name] += time_steps(stepper, inputs, elapsed)
    medians = {name: float(np.median(times)) * 1e6 for name, times in samples.items()}
    print(
        f"\nbackend {keras.backend.backend()}, {os.cpu_count()} CPUs, {args.rounds} rounds x "
        f"{args.steps} steps per model\n"
    )
    print("| model | median µs/step | p10-p90 µs | vs GRU of the same size |")
    print("|---|---|---|---|")
    for name, times in samples.items():
        low, high = np.percentile(np.asarray(times) * 1e6, [10, 90])
        size = name.rsplit(",", 1)[1].split()[0]
        gru = medians[f"GRU, {size} units"]
        print(f"| {name} | {medians[name]:.1f} | {low:.1f}-{high:.1f} | {medians[name] / gru:.2f}x |")


if __name__ == "__main__":
    main()

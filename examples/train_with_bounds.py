"""Train an LTC under the stability theorems' regularizers, by BPTT with Adam, on occupancy.

This is the seed's "ltc_model_reg" + "ltc_train": an LTC whose Theorem-1 range of
the liquid time constant and Theorem-2 state envelope are kept inside
user-given intervals by regularizers, trained by backpropagation through time
(``model.fit`` differentiates through every fused solver step of the scan: the
paper's Algorithm 2 with Adam), with a report of the bounds before and after
training and a :class:`~liquidtime.bounds.BoundsMonitor` checking them at every
epoch.

Run:
    python examples/train_with_bounds.py --epochs 3
    python examples/train_with_bounds.py --epochs 3 --no-regularizers   # for comparison
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import liquidtime  # noqa: F401  (selects the default backend)
import keras
from liquidtime import LTC
from liquidtime.bounds import (
    BoundsMonitor,
    RangeRegularizer,
    TimeConstantRangeRegularizer,
    check_bounds,
)
from liquidtime.data import occupancy


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--units", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=None, help="default: the paper's (0.005)")
    parser.add_argument("--tau-range", type=float, nargs=2, default=(0.2, 2.0), metavar=("LOW", "HIGH"),
                        help="allowed range of tau_sys (Theorem 1)")
    parser.add_argument("--envelope", type=float, nargs=2, default=(-0.5, 0.5), metavar=("LOW", "HIGH"),
                        help="allowed state envelope (Theorem 2), LOW <= 0 <= HIGH")
    parser.add_argument("--strength", type=float, default=10.0, help="regularization strength")
    parser.add_argument("--no-regularizers", action="store_true")
    parser.add_argument("--plot", default="bounds_occupancy.png", help="PNG of the last epoch's ranges")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def build_model(args: argparse.Namespace, num_features: int, num_classes: int) -> keras.Model:
    regularizers = {}
    if not args.no_regularizers:
        regularizers = {
            # keeps [tau / (1 + tau W), tau] inside --tau-range (W = 1 for the sigmoid)
            "tau_regularizer": TimeConstantRangeRegularizer(*args.tau_range, strength=args.strength),
            # keeps [min(0, A), max(0, A)] inside --envelope
            "reversal_regularizer": RangeRegularizer(*args.envelope, strength=args.strength),
        }
    inputs = keras.Input((None, num_features))
    states = LTC(args.units, return_sequences=True, name="ltc", **regularizers)(inputs)
    logits = keras.layers.Dense(num_classes)(states)
    return keras.Model(inputs, logits)


def summary(title: str, result) -> None:
    b = result.bounds
    print(f"--- {title} ---")
    print(result.format())
    print(
        f"over all neurons: envelope [{b.state_low.min():.4f}, {b.state_high.max():.4f}], "
        f"observed state [{result.state_min.min():.4f}, {result.state_max.max():.4f}]; "
        f"Theorem-1 range [{b.tau_sys_low.min():.4f}, {b.tau_sys_high.max():.4f}], "
        f"observed tau_sys [{result.tau_sys_min.min():.4f}, {result.tau_sys_max.max():.4f}]; "
        f"{'OK' if result.ok else 'VIOLATED'}"
    )


def main() -> None:
    args = parse_args()
    keras.utils.set_random_seed(args.seed)
    task = occupancy.load_data()
    learning_rate = args.learning_rate or task.defaults.learning_rate("ltc")
    print(
        f"occupancy: train {task.x_train.shape}, valid {task.x_valid.shape}, test "
        f"{task.x_test.shape}; backend {keras.backend.backend()}; Adam lr {learning_rate}; "
        f"regularizers {'off' if args.no_regularizers else 'on'} (tau_sys in {tuple(args.tau_range)}, "
        f"envelope in {tuple(args.envelope)}, strength {args.strength})"
    )
    model = build_model(args, task.x_train.shape[-1], task.num_classes)
    model.compile(
        keras.optimizers.Adam(learning_rate),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["sparse_categorical_accuracy"],
    )
    reference = task.x_valid[:256]
    layer = model.get_layer("ltc")
    summary("bounds before training", check_bounds(layer, reference))

    monitor = BoundsMonitor(reference, plot_path=args.plot)
    start = time.perf_counter()
    history = model.fit(
        task.x_train,
        task.y_train,
        batch_size=args.batch_size,
        epochs=args.epochs,
        validation_data=(task.x_valid, task.y_valid),
        callbacks=[monitor],
        verbose=2,
    )
    elapsed = time.perf_counter() - start
    summary("bounds after training", check_bounds(layer, reference))
    print("per-epoch history of the monitor (layer 'ltc'):")
    for key in ("state_min", "state_max", "envelope_low", "envelope_high", "tau_sys_min",
                "tau_sys_max", "tau_sys_bound_low", "tau_sys_bound_high", "violations"):
        values = ", ".join(f"{v:.4f}" for v in history.history[f"bounds/ltc/{key}"])
        print(f"  {key:>18}: {values}")
    _, accuracy = model.evaluate(task.x_test, task.y_test, batch_size=256, verbose=0)
    print(f"test accuracy {100 * accuracy:.2f}% after {args.epochs} epoch(s), {elapsed:.0f} s of training")
    print(f"plot of the last epoch's ranges: {args.plot}")
    tau = np.asarray(keras.ops.convert_to_numpy(layer.cell.time_constant()))
    reversal = np.asarray(keras.ops.convert_to_numpy(layer.cell.A))
    print(f"tau in [{tau.min():.4f}, {tau.max():.4f}], A in [{reversal.min():.4f}, {reversal.max():.4f}]")


if __name__ == "__main__":
    main()

"""liquidtime on Keras's PyTorch backend against ncps.torch, in one process, alternating.

Both sides are PyTorch, so they run in one process under the same thread count:
every round times one training step (forward + backward + Adam) and one
inference step of every model in turn, so that a change of the machine's load
during the run affects all of them alike. Models, each followed by a dense layer
to one output with MSE loss and Adam 1e-3 (as in ``compare_ncps.py``):

- ``ltc``: liquidtime's synaptic LTC ``LTC(FullyConnected(units))`` (the native torch
  kernel, :mod:`liquidtime.kernels.torch_synaptic_ltc`) against ncps.torch's ``LTC``
  with softplus (its default) and with clip constraints;
- ``cfc``: liquidtime's ``CfC(units)`` (:mod:`liquidtime.kernels.torch_cfc`) against
  ``ncps.torch.CfC`` (both with a backbone of 128 units, one layer);
- ``ltc-dense``: liquidtime's dense LTC ``LTC(units)``
  (:mod:`liquidtime.kernels.torch_dense_ltc`); ncps has no such model.

Every model also runs with ``implementation="reference"`` (the same layer without its
kernel: the cell's step scanned by Keras's ops). The ratios are the fastest ncps
variant's median time over ours, and our reference's over our kernel's. Needs ncps
in the same environment for the ``ltc`` and ``cfc`` duels. Run with
``KERAS_BACKEND=torch`` (``compare_ncps.py --torch-duel`` does), for example::

    KERAS_BACKEND=torch python benchmarks/torch_backend.py --config A --rounds 15 --threads 1
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import numpy as np

CONFIGS = {
    "A": {"batch": 64, "length": 64, "features": 8, "units": 32, "unfolds": 6},
    "B": {"batch": 128, "length": 256, "features": 16, "units": 64, "unfolds": 6},
}

Step = Callable[[], float]


def liquidtime_steps(
    model: str, config: dict, x: np.ndarray, y: np.ndarray, implementation: str = "auto"
) -> tuple[Step, Step]:
    """``(train_step, infer_step)`` of liquidtime's model on the PyTorch backend."""
    import keras

    import liquidtime as lt
    from liquidtime.wirings import FullyConnected

    unfolds = config["unfolds"]
    if model == "ltc":
        layer = lt.LTC(FullyConnected(config["units"], seed=0), ode_unfolds=unfolds,
                       implementation=implementation)
    elif model == "ltc-dense":
        layer = lt.LTC(config["units"], ode_unfolds=unfolds, implementation=implementation)
    else:
        layer = lt.CfC(config["units"], implementation=implementation)
    inputs = keras.Input((config["length"], config["features"]))
    network = keras.Model(inputs, keras.layers.Dense(1)(layer(inputs)))
    network.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    return (
        lambda: float(np.asarray(network.train_on_batch(x, y))),
        lambda: float(np.asarray(network.predict_on_batch(x)).sum()),
    )


def ncps_steps(model: str, variant: str, config: dict, x: np.ndarray, y: np.ndarray):
    """``(train_step, infer_step)`` of an ncps.torch model (as ``_ncps_worker.py``)."""
    import torch
    from ncps.torch import LTC, CfC

    torch.manual_seed(0)
    features, units = config["features"], config["units"]
    if model == "ltc":
        rnn = LTC(features, units, return_sequences=False, ode_unfolds=config["unfolds"],
                  implicit_param_constraints=variant == "softplus")
    else:
        rnn = CfC(features, units, return_sequences=False)
    head = torch.nn.Linear(units, 1)
    optimizer = torch.optim.Adam([*rnn.parameters(), *head.parameters()], lr=1e-3)
    inputs, targets = torch.from_numpy(x), torch.from_numpy(y)

    def train_step() -> float:
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(head(rnn(inputs)[0]), targets)
        loss.backward()
        optimizer.step()
        if variant == "clip":
            rnn.rnn_cell.apply_weight_constraints()
        return float(loss.detach())

    def infer_step() -> float:
        with torch.no_grad():
            return float(head(rnn(inputs)[0]).sum())

    return train_step, infer_step


def duel(model: str, config: dict, rounds: int, warmup: int) -> dict[str, dict[str, float]]:
    """Times every contender of ``model`` in alternation.

    Returns:
        ``{contender: {"train_ms", "train_cpu_ms", "infer_ms", "infer_cpu_ms"}}``,
        medians over ``rounds`` (wall and process CPU time).
    """
    rng = np.random.default_rng(0)
    x = rng.normal(size=(config["batch"], config["length"], config["features"])).astype("float32")
    y = rng.normal(size=(config["batch"], 1)).astype("float32")
    contenders = {
        f"liquidtime {model}": liquidtime_steps(model, config, x, y),
        f"liquidtime {model}, reference": liquidtime_steps(model, config, x, y, "reference"),
    }
    variants = {"ltc": ("softplus", "clip"), "cfc": ("default",)}.get(model, ())
    for variant in variants:
        name = f"ncps.torch {model}" + (f", {variant}" if model == "ltc" else "")
        contenders[name] = ncps_steps(model, variant, config, x, y)
    samples = {name: {key: [] for key in ("train", "train_cpu", "infer", "infer_cpu")}
               for name in contenders}
    for round_index in range(warmup + rounds):
        order = list(contenders) if round_index % 2 == 0 else list(contenders)[::-1]
        for name in order:
            for mode, step in zip(("train", "infer"), contenders[name]):
                wall, cpu = time.perf_counter(), time.process_time()
                step()
                if round_index >= warmup:
                    samples[name][mode].append(1e3 * (time.perf_counter() - wall))
                    samples[name][f"{mode}_cpu"].append(1e3 * (time.process_time() - cpu))
    return {
        name: {f"{key}_ms": statistics.median(values)
               for key, values in series.items()}
        for name, series in samples.items()
    }


def render(model: str, results: dict[str, dict[str, float]]) -> str:
    """A Markdown table of one duel: the fastest ncps variant over ours, and our
    reference form over our kernel."""
    ours_name = f"liquidtime {model}"
    ours = results[ours_name]
    reference = results[f"{ours_name}, reference"]
    peers = {name: r for name, r in results.items() if name.startswith("ncps")}
    lines = ["| model | training step, ms (CPU ms) | inference, ms (CPU ms) |", "|---|---|---|"]
    for name, r in results.items():
        lines.append(f"| {name} | {r['train_ms']:.1f} ({r['train_cpu_ms']:.1f}) | "
                     f"{r['infer_ms']:.1f} ({r['infer_cpu_ms']:.1f}) |")
    for mode in ("train", "infer"):
        label = "training step" if mode == "train" else "inference"
        contrasts = [("our reference / our kernel", reference)]
        if peers:
            fastest = min(peers, key=lambda name: peers[name][f"{mode}_ms"])
            contrasts.insert(0, (f"fastest ncps ({fastest}) / ours", peers[fastest]))
        for title, other in contrasts:
            ratio = other[f"{mode}_ms"] / ours[f"{mode}_ms"]
            cpu_ratio = other[f"{mode}_cpu_ms"] / ours[f"{mode}_cpu_ms"]
            lines.append(f"| **{label}: {title}** | **{ratio:.2f}x** wall, {cpu_ratio:.2f}x CPU | |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="A", choices=sorted(CONFIGS))
    parser.add_argument("--models", default="ltc,cfc", help="comma-separated: ltc, cfc, ltc-dense")
    parser.add_argument("--rounds", type=int, default=15, help="timed rounds (medians)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed rounds first")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch.set_num_threads for both sides (0: torch's default)")
    args = parser.parse_args()
    import keras
    import torch

    if keras.backend.backend() != "torch":
        raise SystemExit("Run with KERAS_BACKEND=torch.")
    if args.threads:
        torch.set_num_threads(args.threads)
    config = CONFIGS[args.config]
    print(f"# configuration {args.config}: " + ", ".join(f"{k} {v}" for k, v in config.items())
          + f"; torch {torch.__version__}, {torch.get_num_threads()} thread(s); "
          f"load average at start {os.getloadavg()[0]:.1f}", flush=True)
    for model in [m.strip() for m in args.models.split(",") if m.strip()]:
        results = duel(model, config, args.rounds, args.warmup)
        print()
        print(render(model, results), flush=True)
    print(f"\n# load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

"""liquidtime against ncps: training and inference speed, memory and compile time (issue 4).

One command runs every row, each in its own process (with a timeout and a memory
guard), at configuration A (batch 64, length 64, 8 features, 32 units) and B (batch
128, length 256, 16 features, 64 units), 6 ODE unfolds:

- liquidtime on JAX: the synaptic LTC (``LTC(FullyConnected(units))``, the form of
  ncps's LTC), the dense LTC (``LTC(units)``, Algorithm 1), ``CfC(units)``, and
  ``keras.layers.LSTM(units)`` for reference;
- ncps 1.0.1 (from a separate virtual environment, ``--ncps-python``): ``ncps.torch``
  LTC (softplus and clip constraints, with torch's default threads and with one
  thread) and CfC, and ``ncps.keras`` LTC and CfC on JAX (erev cast to float32);
- liquidtime on PyTorch and TensorFlow (``--other-backends``, configuration A by
  default);
- with ``--torch-duel``, instead of the rows: liquidtime on Keras's PyTorch backend
  against ncps.torch in one process, alternating step by step
  (``torch_backend.py``; needs ncps in this environment), with the ratios.

Every model is followed by a dense layer to one output, MSE loss and Adam; a
training step is forward + backward + update, inference one forward pass. Each row
prints the median wall time of its steps (at least ``--steps`` of them and
``--min-seconds`` of timing, after at least ``--warmup`` warm-up steps; and the
median process CPU time, steadier on a loaded machine), sequences per
second, the first call's time (compilation + one step), and the process's peak
resident memory before the first step (baseline: interpreter, framework, model),
after inference and after training. With ``--repeats N`` every row whose training
step is under ``--repeat-below-ms`` runs N times, in alternating order (so that a
drift of the machine's load between rows favours neither side), and its numbers
are the medians over the runs, with the range shown. The targets of issue 4 are
then checked as ratios between rows of this run.

Usage:
    python benchmarks/compare_ncps.py --ncps-python /work/ncps-venv/bin/python
    python benchmarks/compare_ncps.py --configs A --rows ltc,ncps-torch-ltc-1t
    python benchmarks/compare_ncps.py --rows cfc,ncps-keras-cfc --repeats 3
    python benchmarks/compare_ncps.py --write-docs docs/performance.md
    python benchmarks/compare_ncps.py --torch-duel --configs A --threads 1

Without ``--ncps-python`` the environment variable ``LIQUIDTIME_NCPS_PYTHON`` is used;
if neither is set the ncps rows are reported as skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from _harness import write_markdown_section

HERE = Path(__file__).resolve().parent
SECTION = "## Benchmark against ncps (issue 4)"

CONFIGS = {
    "A": {"batch": 64, "length": 64, "features": 8, "units": 32, "unfolds": 6},
    "B": {"batch": 128, "length": 256, "features": 16, "units": 64, "unfolds": 6},
}


@dataclass(frozen=True)
class Row:
    """One model measured in its own process."""

    key: str
    label: str
    runner: str  # "liquidtime" or "ncps"
    model: str  # ltc, ltc-dense, cfc, lstm
    backend: str = "jax"  # Keras backend (liquidtime, ncps.keras) or "torch" for ncps.torch
    options: dict = field(default_factory=dict)

    @property
    def is_ncps(self) -> bool:
        return self.runner == "ncps"


ROWS = [
    Row("ltc", "liquidtime LTC, synaptic", "liquidtime", "ltc"),
    Row("ncps-torch-ltc", "ncps.torch LTC, softplus", "ncps", "ltc", "torch", {"variant": "softplus"}),
    Row("ncps-torch-ltc-1t", "ncps.torch LTC, softplus, 1 thread", "ncps", "ltc", "torch",
        {"variant": "softplus", "threads": 1}),
    Row("ncps-torch-ltc-clip", "ncps.torch LTC, clip", "ncps", "ltc", "torch", {"variant": "clip"}),
    Row("ncps-torch-ltc-clip-1t", "ncps.torch LTC, clip, 1 thread", "ncps", "ltc", "torch",
        {"variant": "clip", "threads": 1}),
    Row("ncps-keras-ltc", "ncps.keras LTC (JAX, erev cast)", "ncps", "ltc", "jax"),
    Row("ltc-dense", "liquidtime LTC, dense (Alg. 1)", "liquidtime", "ltc-dense"),
    Row("lstm", "keras.layers.LSTM", "liquidtime", "lstm"),
    Row("cfc", "liquidtime CfC", "liquidtime", "cfc"),
    Row("ncps-keras-cfc", "ncps.keras CfC (JAX)", "ncps", "cfc", "jax"),
    Row("ncps-torch-cfc", "ncps.torch CfC", "ncps", "cfc", "torch"),
    Row("ncps-torch-cfc-1t", "ncps.torch CfC, 1 thread", "ncps", "cfc", "torch", {"threads": 1}),
]
OTHER_BACKEND_MODELS = ("ltc", "ltc-dense", "cfc", "lstm")
KERNEL_MODELS = {"tensorflow": ("ltc", "cfc"), "torch": ("ltc", "ltc-dense", "cfc")}
"""Models whose rows on these backends are also measured with ``implementation="reference"``
(the ``...-ref`` rows: the same model without its kernels)."""


def other_backend_rows(backends: list[str]) -> list[Row]:
    """liquidtime (and LSTM) rows on other Keras backends.

    TensorFlow gets each model twice: compiled as Keras's ``jit_compile="auto"``
    does on a CPU (a graph, no XLA) and with ``jit_compile=True`` (XLA, as JAX).
    """
    labels = {row.key: row.label for row in ROWS}
    rows = []
    for backend in backends:
        for model in OTHER_BACKEND_MODELS:
            rows.append(
                Row(f"{model}@{backend}", f"{labels[model]} ({backend})", "liquidtime", model, backend)
            )
            if backend == "tensorflow":
                rows.append(Row(f"{model}@tensorflow-xla", f"{labels[model]} (tensorflow, XLA)",
                                "liquidtime", model, backend, {"jit_compile": True}))
            if model in KERNEL_MODELS.get(backend, ()):
                # The same without the backend's kernels (the before of issue 19).
                reference = {"implementation": "reference"}
                rows.append(Row(f"{model}@{backend}-ref", f"{labels[model]} ({backend}, reference)",
                                "liquidtime", model, backend, reference))
            if backend == "tensorflow" and model in KERNEL_MODELS[backend]:
                rows.append(Row(f"{model}@tensorflow-xla-ref",
                                f"{labels[model]} (tensorflow, XLA, reference)", "liquidtime", model,
                                backend, {"jit_compile": True, **reference}))
    return rows


# --------------------------------------------------------------------------- worker


def build_layer(model: str, units: int, unfolds: int, implementation: str = "auto"):
    """The recurrent layer of a liquidtime row (or Keras's LSTM); ``implementation`` as the
    cells' (liquidtime models only)."""
    import keras

    import liquidtime as lt
    from liquidtime.wirings import FullyConnected

    if model == "ltc":
        return lt.LTC(FullyConnected(units, seed=0), ode_unfolds=unfolds, implementation=implementation)
    if model == "ltc-dense":
        return lt.LTC(units, ode_unfolds=unfolds, implementation=implementation)
    if model == "cfc":
        return lt.CfC(units, implementation=implementation)
    if model == "lstm":
        return keras.layers.LSTM(units)
    raise ValueError(f"Unknown model {model!r}.")


def run_liquidtime(spec: dict) -> dict:
    """Builds and measures one liquidtime (or LSTM) model in this process."""
    import keras
    import numpy as np

    import liquidtime  # noqa: F401  (JAX unless KERAS_BACKEND is set)
    from _harness import measure

    # Not keras.utils.set_random_seed: it imports TensorFlow when installed (~400 MB of
    # resident memory the model does not use), which would inflate the baseline.
    np.random.seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(spec["batch"], spec["length"], spec["features"])).astype("float32")
    y = rng.normal(size=(spec["batch"], 1)).astype("float32")
    inputs = keras.Input((spec["length"], spec["features"]))
    layer = build_layer(spec["model"], spec["units"], spec["unfolds"], spec.get("implementation", "auto"))
    model = keras.Model(inputs, keras.layers.Dense(1)(layer(inputs)))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse",
                  jit_compile=spec.get("jit_compile", "auto"))

    def train_step():
        return float(np.asarray(model.train_on_batch(x, y)))

    def infer_step():
        return float(np.asarray(model.predict_on_batch(x)).sum())

    result = measure(train_step, infer_step, spec["batch"], spec["warmup"], spec["steps"],
                     spec.get("modes", "infer,train"), spec.get("min_seconds", 0.0))
    versions = {"keras": keras.__version__, "backend": keras.backend.backend()}
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        versions["jax"] = jax.__version__
    elif backend == "torch":
        import torch

        versions["torch"] = torch.__version__
        versions["threads"] = torch.get_num_threads()
    else:
        import tensorflow as tf

        versions["tensorflow"] = tf.__version__
    return {**result, **versions}


def forward_unfold_rate(batch: int, units: int, repeats: int = 384) -> dict:
    """Measured cost of one forward unfold of the synaptic LTC, per element of ``(B, N, N)``.

    Runs ``repeats`` loop-carried fused-solver unfolds (as the 64 x 6 unfolds of a
    sequence at configuration A) of exactly the model's arithmetic: the synapse
    activation ``s = 0.5 + 0.5 tanh(v sigma / 2 - sigma mu / 2)``, the two sums
    ``a = sum_j s_ji W_ji`` and ``b = sum_j s_ji E_ji`` (pairwise trees, as in the
    model) and the update ``v <- (v + h (b0 + b)) / (1 + h (a0 + a))``, without the
    input projection, the scan's stacking of outputs or any gradient.

    Returns:
        ``unfold_ns_per_element`` (wall time) and ``unfold_cpu_ns_per_element`` (CPU
        time of this process), nanoseconds per element-unfold, medians of 7 runs.
    """
    import jax
    import jax.numpy as jnp
    import numpy as np

    import liquidtime  # noqa: F401
    from liquidtime._backend_ops import sum_over_axis

    rng = np.random.default_rng(0)
    sigma = jnp.asarray(rng.uniform(3, 8, (units, units)), "float32")
    sigma_mu = sigma * jnp.asarray(rng.uniform(0.3, 0.8, (units, units)), "float32")
    weight = jnp.asarray(rng.uniform(0, 1, (units, units)), "float32")
    weight_erev = weight * jnp.asarray(rng.uniform(-1, 1, (units, units)), "float32")
    state = jnp.asarray(rng.normal(size=(batch, units)), "float32")
    a0 = jnp.asarray(rng.uniform(1, 2, (batch, units)), "float32")
    b0 = jnp.asarray(rng.normal(size=(batch, units)), "float32")
    h = 1.0 / 6

    half_sigma, half_sigma_mu = 0.5 * sigma, 0.5 * sigma_mu

    def unfold(v, _):
        s = 0.5 + 0.5 * jnp.tanh(v[:, :, None] * half_sigma - half_sigma_mu)
        a, b = sum_over_axis(s * weight, 1), sum_over_axis(s * weight_erev, 1)
        return (v + h * (b0 + b)) / (1.0 + h * (a0 + a)), None

    run = jax.jit(lambda init: jax.lax.scan(unfold, init, None, length=repeats)[0])
    jax.block_until_ready(run(state))
    wall, cpu = [], []
    for _ in range(7):
        start, start_cpu = time.perf_counter(), time.process_time()
        jax.block_until_ready(run(state))
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    elements = repeats * batch * units * units
    return {
        "unfold_ns_per_element": 1e9 * sorted(wall)[3] / elements,
        "unfold_cpu_ns_per_element": 1e9 * sorted(cpu)[3] / elements,
    }


def training_estimate_ms(config: dict, unfold_ns_per_element: float) -> float:
    """Arithmetic estimate of the synaptic LTC's recurrent work in one training step.

    A training step passes over every ``(B, N, N)`` element-unfold three times with
    about the work of a forward unfold each: the forward pass, the backward pass's
    recomputation of the step's unfolds, and the vector-Jacobian product (about nine
    multiply-adds over the activations, no ``tanh``; see docs/performance.md).
    """
    element_unfolds = (
        config["length"] * config["unfolds"] * config["batch"] * config["units"] ** 2
    )
    return 3 * element_unfolds * unfold_ns_per_element / 1e6


# --------------------------------------------------------------------------- orchestration


def mem_available_gb() -> float:
    """MemAvailable from /proc/meminfo in GiB (inf where unavailable)."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return float("inf")


def run_row(row: Row, config: str, args: argparse.Namespace) -> dict:
    """Runs one row in a subprocess; returns its figures or an ``error``."""
    spec = {**CONFIGS[config], "model": row.model, "warmup": args.warmup, "steps": args.steps,
            "min_seconds": args.min_seconds, "modes": args.modes, **row.options}
    env = dict(os.environ)
    if row.is_ncps:
        if not args.ncps_python:
            return {"error": "skipped: no --ncps-python / LIQUIDTIME_NCPS_PYTHON"}
        spec["framework"] = "torch" if row.backend == "torch" else "keras"
        command = [args.ncps_python, str(HERE / "_ncps_worker.py"), json.dumps(spec)]
        if row.backend != "torch":
            env["KERAS_BACKEND"] = row.backend
    else:
        command = [sys.executable, str(HERE / "compare_ncps.py"), "--worker", json.dumps(spec)]
        env["KERAS_BACKEND"] = row.backend
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH", "")]))
    start = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=env, cwd=HERE)
    stdout = stderr = ""
    reason = None
    while True:
        try:
            out, err = process.communicate(timeout=0.5)
            stdout += out or ""
            stderr += err or ""
            break
        except subprocess.TimeoutExpired:
            if time.monotonic() - start > args.timeout:
                reason = f"timeout after {args.timeout:.0f} s"
            elif mem_available_gb() < args.min_free_gb:
                reason = f"stopped: free memory fell below {args.min_free_gb} GiB"
            if reason:
                process.kill()
                out, err = process.communicate()
                stdout += out or ""
                stderr += err or ""
                break
    if reason:
        return {"error": reason}
    if process.returncode != 0:
        lines = [line for line in stderr.strip().splitlines() if line.strip()]
        return {"error": f"failed: {lines[-1][:160] if lines else process.returncode}"}
    try:
        return json.loads(stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return {"error": "failed: no result printed"}


def _repeatable(first_run: dict, below_ms: float) -> bool:
    """Whether a row is run again: it ran, and its training step took under ``below_ms``."""
    if first_run.get("error"):
        return False
    step_ms = first_run.get("train_ms", first_run.get("infer_ms"))
    return step_ms is not None and step_ms < below_ms


def median_of_runs(runs: list[dict]) -> dict:
    """One row from its runs: every number the median over the runs.

    Also records ``runs`` (how many) and ``train_ms_runs`` / ``infer_ms_runs`` (each
    run's median step time), so that the spread stays visible.
    """
    runs = [run for run in runs if not run.get("error")] or runs[:1]
    if len(runs) == 1:
        return {**runs[0], "runs": 1}
    merged = dict(runs[0])
    for key, value in runs[0].items():
        if isinstance(value, (int, float)) and not isinstance(value, bool) and key != "run":
            values = [run[key] for run in runs if isinstance(run.get(key), (int, float))]
            merged[key] = statistics.median(values)
    for mode in ("train", "infer"):
        if f"{mode}_ms" in merged:
            merged[f"{mode}_ms_runs"] = [run[f"{mode}_ms"] for run in runs if f"{mode}_ms" in run]
    merged["runs"] = len(runs)
    merged.pop("run", None)
    return merged


def machine_description() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory = ""
    try:
        with open("/proc/meminfo") as handle:
            total = int(handle.readline().split()[1]) / 2**20
            memory = f", {total:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    system = f"{platform.system()} {platform.release()}"
    return f"{cpu}, {os.cpu_count()} cores{memory}, {system}, Python {platform.python_version()}"


def fmt(value, spec: str = ".1f", missing: str = "-") -> str:
    return missing if value is None else format(value, spec)


def render_rows(results: list[dict]) -> str:
    header = (
        "| config | model | backend | train ms | train CPU ms | train seq/s | infer ms | "
        "infer CPU ms | train compile s | infer compile s | baseline MB | peak MB | "
        "peak - baseline MB | load |"
    )
    lines = [header, "|" + "---|" * 14]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['config']} | {r['label']} | {r['backend']} | {r['error']} |" + " |" * 10)
            continue
        lines.append(
            f"| {r['config']} | {r['label']} | {r['backend']} | {_with_runs(r, 'train')} | "
            f"{fmt(r.get('train_cpu_ms'))} | {fmt(r.get('train_seq_per_s'), '.0f')} | "
            f"{_with_runs(r, 'infer')} | {fmt(r.get('infer_cpu_ms'))} | "
            f"{fmt(r.get('train_compile_s'))} | {fmt(r.get('infer_compile_s'))} | "
            f"{fmt(r.get('baseline_mb'), '.0f')} | "
            f"{fmt(r.get('train_peak_mb', r.get('infer_peak_mb')), '.0f')} | "
            f"{fmt(_increment(r), '.0f')} | {fmt(r.get('load_before'))} |"
        )
    return "\n".join(lines)


def _with_runs(r: dict, mode: str) -> str:
    """The median step time, and with several runs their range: ``8.1 (7.9-8.6, 3 runs)``."""
    runs = r.get(f"{mode}_ms_runs")
    if not runs or len(runs) < 2:
        return fmt(r.get(f"{mode}_ms"))
    return f"{fmt(r.get(f'{mode}_ms'))} ({min(runs):.1f}-{max(runs):.1f}, {len(runs)} runs)"


def _increment(r: dict):
    peak = r.get("train_peak_mb", r.get("infer_peak_mb"))
    return None if peak is None else peak - r["baseline_mb"]


def _get(results: list[dict], config: str, key: str) -> dict | None:
    for r in results:
        if r["config"] == config and r["key"] == key and "error" not in r:
            return r
    return None


def _fastest(results: list[dict], config: str, keys: list[str], metric: str) -> dict | None:
    candidates = [r for k in keys if (r := _get(results, config, k)) and r.get(metric) is not None]
    return min(candidates, key=lambda r: r[metric]) if candidates else None


NCPS_LTC = ["ncps-torch-ltc", "ncps-torch-ltc-1t", "ncps-torch-ltc-clip", "ncps-torch-ltc-clip-1t",
            "ncps-keras-ltc"]


def check_targets(results: list[dict], configs: list[str]) -> list[dict]:
    """The ratios of issue 4, from rows of this run."""
    checks = []

    def add(name, ours, peer, ratio, needed, higher_is_better=True, note=""):
        met = None if ratio is None else (ratio >= needed if higher_is_better else ratio <= needed)
        checks.append({"target": name, "ours": ours, "peer": peer, "ratio": ratio,
                       "needed": needed, "higher": higher_is_better, "met": met, "note": note})

    for config in configs:
        ours = _get(results, config, "ltc")
        for metric, needed in (("train_ms", 3.0 if config == "A" else 2.0), ("infer_ms", 1.5)):
            peer = _fastest(results, config, NCPS_LTC, metric)
            mode = "training step" if metric == "train_ms" else "inference"
            ratio = peer[metric] / ours[metric] if ours and peer else None
            add(f"{config}: synaptic LTC {mode}, fastest ncps / ours",
                ours and f"{ours[metric]:.1f} ms", peer and f"{peer[metric]:.1f} ms ({peer['label']})",
                ratio, needed)
        if config == "B":
            candidates = [r for k in NCPS_LTC if (r := _get(results, config, k)) and "train_peak_mb" in r]
            peer = min(candidates, key=lambda r: r["train_peak_mb"]) if candidates else None
            ratio = (
                peer["train_peak_mb"] / ours["train_peak_mb"]
                if ours and peer and "train_peak_mb" in ours
                else None
            )
            increment = (_increment(peer) / _increment(ours)) if ours and peer and _increment(ours) else None
            add(f"{config}: LTC training peak memory, ncps / ours (lowest ncps)",
                ours and f"{ours['train_peak_mb']:.0f} MB",
                peer and f"{peer['train_peak_mb']:.0f} MB ({peer['label']})",
                ratio, 8.0, note=increment and f"above baseline: {increment:.1f}x")
        dense, lstm = _get(results, config, "ltc-dense"), _get(results, config, "lstm")
        add(f"{config}: dense LTC / LSTM training step", dense and f"{dense['train_ms']:.1f} ms",
            lstm and f"{lstm['train_ms']:.1f} ms",
            dense["train_ms"] / lstm["train_ms"] if dense and lstm else None,
            2.0, higher_is_better=False)
        cfc = _get(results, config, "cfc")
        for key, needed in (("ncps-keras-cfc", 1.5), ("ncps-torch-cfc", None), ("ncps-torch-cfc-1t", None)):
            peer = _get(results, config, key)
            if needed is None and peer is None:
                continue
            add(f"{config}: CfC training step, {key} / ours", cfc and f"{cfc['train_ms']:.1f} ms",
                peer and f"{peer['train_ms']:.1f} ms",
                peer["train_ms"] / cfc["train_ms"] if cfc and peer else None,
                needed if needed is not None else 1.5,
                note=""
                if needed is not None
                else "same backend target is ncps.keras on JAX; shown for reference")
        compile_rows = [r for r in results if r["config"] == config and not r.get("error")
                        and r["runner"] == "liquidtime" and r["backend"] == "jax" and "train_compile_s" in r]
        if compile_rows:
            worst = max(compile_rows, key=lambda r: r["train_compile_s"])
            add(f"{config}: slowest training compile of ours on JAX (first call - step), s",
                f"{worst['train_compile_s']:.1f} s ({worst['label']})", "-",
                worst["train_compile_s"], 10.0, higher_is_better=False)
    return checks


def arithmetic_estimate(config: str, results: list[dict]) -> str:
    """Measures the forward-unfold rate (own process) and compares ours with the estimate."""
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    spec = json.dumps({**CONFIGS[config], "rate": True})
    process = subprocess.run([sys.executable, str(HERE / "compare_ncps.py"), "--worker", spec],
                             capture_output=True, text=True, env=env, cwd=HERE)
    try:
        rate = json.loads(process.stdout.strip().splitlines()[-1])["unfold_ns_per_element"]
    except (IndexError, KeyError, json.JSONDecodeError):
        return f"- {config}: rate measurement failed"
    estimate = training_estimate_ms(CONFIGS[config], rate)
    ours = _get(results, config, "ltc")
    measured = (f"; measured training step {ours['train_ms']:.0f} ms = "
                f"{ours['train_ms'] / estimate:.2f} x the estimate") if ours else ""
    return (f"- {config}: forward unfold {rate:.3f} ns per element-unfold (wall); "
            f"3 passes of that work per training step: ~{estimate:.0f} ms{measured}")


def render_checks(checks: list[dict]) -> str:
    lines = ["| target | ours | peer | ratio | needed | met |", "|---|---|---|---|---|---|"]
    for c in checks:
        needed = f"{'>=' if c['higher'] else '<='} {c['needed']:g}"
        met = {True: "yes", False: "**no**", None: "n/a"}[c["met"]]
        ratio = "-" if c["ratio"] is None else f"{c['ratio']:.2f}"
        note = f" ({c['note']})" if c["note"] else ""
        lines.append(
            f"| {c['target']}{note} | {c['ours'] or '-'} | {c['peer'] or '-'} | {ratio} | {needed} | {met} |"
        )
    return "\n".join(lines)




def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", default="A,B", help="comma-separated: A, B")
    parser.add_argument("--rows", default=None,
                        help="comma-separated row keys (default all; with --torch-duel the models: "
                             "ltc, cfc, ltc-dense): " + ", ".join(r.key for r in ROWS))
    parser.add_argument("--other-backends", default="torch,tensorflow",
                        help="liquidtime rows on these Keras backends too ('' for none)")
    parser.add_argument("--other-backends-configs", default="A")
    parser.add_argument("--ncps-python", default=os.environ.get("LIQUIDTIME_NCPS_PYTHON"),
                        help="Python of a virtual environment with ncps==1.0.1 (see docs/performance.md)")
    parser.add_argument("--steps", type=int, default=10, help="timed steps (median), at least")
    parser.add_argument("--min-seconds", type=float, default=3.0,
                        help="time each mode for at least this long (more steps for fast rows)")
    parser.add_argument("--repeats", type=int, default=1,
                        help="run each row this many times, in alternating order, and report the "
                             "median of the runs (rows whose training step is slower than "
                             "--repeat-below-ms are run once)")
    parser.add_argument("--repeat-below-ms", type=float, default=1000.0)
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps after the first call")
    parser.add_argument("--modes", default="infer,train")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per process")
    parser.add_argument("--min-free-gb", type=float, default=2.0,
                        help="stop a process when the machine's available memory falls below this")
    parser.add_argument("--json", type=Path, help="also write all results to this file")
    parser.add_argument("--write-docs", type=Path, help="replace the results section of this Markdown file")
    parser.add_argument("--rate", action="store_true",
                        help="only measure the forward-unfold rate behind the arithmetic estimate")
    parser.add_argument("--torch-duel", action="store_true",
                        help="only the PyTorch-backend duel of torch_backend.py (same process, "
                             "alternating), for each of --configs")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads for --torch-duel (0: torch's default)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.torch_duel:
        env = {**os.environ, "KERAS_BACKEND": "torch"}
        for config in [c.strip().upper() for c in args.configs.split(",") if c.strip()]:
            subprocess.run([sys.executable, str(HERE / "torch_backend.py"), "--config", config,
                            "--threads", str(args.threads), "--rounds", str(max(args.steps, 5)),
                            "--warmup", str(args.warmup), "--models", args.rows or "ltc,cfc"],
                           env=env, cwd=HERE, check=True)
        return

    if args.worker:
        spec = json.loads(args.worker)
        if spec.get("rate"):
            print(json.dumps(forward_unfold_rate(spec["batch"], spec["units"])))
        else:
            print(json.dumps(run_liquidtime(spec)))
        return
    if args.rate:
        os.environ.setdefault("KERAS_BACKEND", "jax")
        for config in [c.strip().upper() for c in args.configs.split(",") if c.strip()]:
            rates = forward_unfold_rate(CONFIGS[config]["batch"], CONFIGS[config]["units"])
            estimate = training_estimate_ms(CONFIGS[config], rates["unfold_ns_per_element"])
            print(f"{config}: forward unfold {rates['unfold_ns_per_element']:.3f} ns per element "
                  f"(wall; CPU {rates['unfold_cpu_ns_per_element']:.3f}); recurrent work of a "
                  f"training step ~ {estimate:.0f} ms (load {os.getloadavg()[0]:.1f})")
        return

    configs = [c.strip().upper() for c in args.configs.split(",") if c.strip()]
    backends = [b.strip() for b in args.other_backends.split(",") if b.strip()]
    other_configs = {c.strip().upper() for c in args.other_backends_configs.split(",") if c.strip()}
    wanted = None if args.rows is None else {k.strip() for k in args.rows.split(",")}
    machine = machine_description()
    print(f"# {machine}")
    print(f"# load average at start: {', '.join(f'{x:.1f}' for x in os.getloadavg())}; "
          f"ncps python: {args.ncps_python or 'none (ncps rows skipped)'}", flush=True)
    results = []
    for config in configs:
        rows = list(ROWS) + (other_backend_rows(backends) if config in other_configs else [])
        rows = [row for row in rows if wanted is None or row.key in wanted]
        runs: dict[str, list[dict]] = {row.key: [] for row in rows}
        for repeat in range(args.repeats):
            # Alternating order, so that a slow drift of the machine's load does not
            # favour the rows that come first.
            for row in rows if repeat % 2 == 0 else rows[::-1]:
                if repeat and not _repeatable(runs[row.key][0], args.repeat_below_ms):
                    continue
                result = run_row(row, config, args)
                result.update(config=config, key=row.key, label=row.label, backend=row.backend,
                              runner=row.runner, run=repeat + 1)
                runs[row.key].append(result)
                print(render_rows([result]).splitlines()[-1], flush=True)
        results.extend(median_of_runs(runs[row.key]) for row in rows)
    estimates = [arithmetic_estimate(config, results) for config in configs]
    load_end = os.getloadavg()
    checks = check_targets(results, configs)
    report = (
        f"Machine: {machine}. Load average at the end: {', '.join(f'{x:.1f}' for x in load_end)} "
        "(the 'load' column is the 1-minute load average when each row started).\n\n"
        + "\n".join(f"- {c}: " + ", ".join(f"{k} {v}" for k, v in CONFIGS[c].items()) for c in configs)
        + "\n\n" + render_rows(results) + "\n\n" + render_checks(checks) + "\n\n"
        + "Arithmetic estimate of the synaptic LTC (see below for the count):\n\n"
        + "\n".join(estimates) + "\n"
    )
    print()
    print(report)
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "results": results, "checks": checks}, indent=1))
    if args.write_docs:
        command = "python benchmarks/compare_ncps.py " + " ".join(
            a for a in sys.argv[1:] if not a.startswith("--write-docs") and a != str(args.write_docs))
        write_markdown_section(args.write_docs, SECTION, f"Command: `{command.strip()}`\n\n{report}")


if __name__ == "__main__":
    main()

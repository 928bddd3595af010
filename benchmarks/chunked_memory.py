"""Peak memory of training on one long recording, against the truncated-BPTT chunk length.

One recording of ``--steps`` time steps (default: the first 10^5 minutes of the
household power data set as one series: 6 meters in, active power out, z-scored;
``--synthetic`` for random data of the same shape) trains for one pass with
Adam, batch 1, per-step MSE, either unchunked (``model.fit`` on the whole
sequence: backpropagation through all steps) or with
:class:`liquidtime.training.ChunkedTrainer` at each ``--chunks`` length. Every
configuration runs in a fresh process, which reports its peak resident memory
(``VmHWM`` from ``/proc/self/status``; ``ru_maxrss`` elsewhere), its memory before
training (imports, data and built model) and the wall time of the pass.

Usage:
    python benchmarks/chunked_memory.py                          # LTC, 10^5 steps
    python benchmarks/chunked_memory.py --steps 100000,1000000 --unchunked-max-steps 100000
    python benchmarks/chunked_memory.py --models ltc,cfc --write-docs docs/performance.md

``--write-docs`` replaces the section "Long sequences: memory against chunk length"
of the given Markdown file (creating the file or the section if needed) and leaves
everything else in it untouched. Set ``LIQUIDTIME_DATA`` or pass ``--data`` to point
at the folder holding ``power/household_power_consumption.txt``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

from _harness import write_markdown_section

SECTION = "## Long sequences: memory against chunk length"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "liquidtime"
POWER_FILE = "household_power_consumption.txt"


# ---------------------------------------------------------------------- measurement


def _memory_mb() -> dict[str, float]:
    """Current and peak resident memory of this process, in MB."""
    status = Path("/proc/self/status")
    if status.exists():
        fields = dict(
            line.split(":", 1) for line in status.read_text().splitlines() if ":" in line
        )
        kb = lambda key: float(fields[key].split()[0])  # noqa: E731
        return {"rss": kb("VmRSS") / 1024, "peak": kb("VmHWM") / 1024}
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scale = 1 / 1024 / 1024 if sys.platform == "darwin" else 1 / 1024
    return {"rss": float("nan"), "peak": peak * scale}


def power_series(data_dir: str | None, steps: int):
    """The first ``steps`` minutes of the power data: inputs (steps, 6), target (steps, 1)."""
    import numpy as np

    CACHE.mkdir(parents=True, exist_ok=True)
    cache = CACHE / "power_series.npy"
    if cache.exists():
        values = np.load(cache)
    else:
        root = Path(data_dir or os.environ.get("LIQUIDTIME_DATA", "/work/shared/data"))
        path = root / POWER_FILE if (root / POWER_FILE).exists() else root / "power" / POWER_FILE
        rows = []
        with open(path) as handle:
            next(handle)
            for line in handle:
                fields = line.rstrip().split(";")[2:]
                rows.append([float(v) if v not in ("?", "") else np.nan for v in fields])
        values = np.asarray(rows)
        for column in range(values.shape[1]):  # forward fill
            missing = np.isnan(values[:, column])
            index = np.where(~missing, np.arange(len(values)), 0)
            np.maximum.accumulate(index, out=index)
            values[:, column] = values[index, column]
        np.save(cache, values)
    if steps > len(values):
        raise SystemExit(f"--steps {steps} exceeds the {len(values)} minutes of the power data")
    values = values[:steps]
    values = (values - values.mean(axis=0)) / values.std(axis=0)
    values = values.astype("float32")
    return values[None, :, 1:], values[None, :, :1]


def synthetic_series(steps: int):
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(1, steps, 6)).astype("float32")
    y = np.sin(np.cumsum(x[..., :1], axis=1) / 50).astype("float32")
    return x, y


def run_one(args: argparse.Namespace) -> dict:
    """Worker: one configuration in this process."""
    import keras
    import numpy as np

    import liquidtime as lt  # first: selects the JAX backend unless KERAS_BACKEND is set
    from liquidtime.training import ChunkedTrainer

    x, y = synthetic_series(args.steps) if args.synthetic else power_series(args.data, args.steps)
    keras.utils.set_random_seed(0)
    layer = (
        lt.LTC(args.units, return_sequences=True, ode_unfolds=args.unfolds)
        if args.model == "ltc"
        else lt.CfC(args.units, return_sequences=True)
    )
    model = keras.Sequential([keras.Input((None, x.shape[-1])), layer, keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    before = _memory_mb()
    start = time.perf_counter()
    if args.chunk == 0:
        history = model.fit(x, y, batch_size=1, epochs=1, verbose=0)
    else:
        trainer = ChunkedTrainer(model, chunk_length=args.chunk, batch_size=1)
        history = trainer.fit(x, y, epochs=1, verbose=0)
    seconds = time.perf_counter() - start
    after = _memory_mb()
    return {
        "model": args.model,
        "steps": args.steps,
        "chunk": args.chunk,
        "loss": float(np.mean(history.history["loss"])),
        "seconds": seconds,
        "rss_before_mb": before["rss"],
        "peak_mb": after["peak"],
        "backend": keras.backend.backend(),
        "keras": keras.__version__,
    }


# ------------------------------------------------------------------------------ driver


def measure(args: argparse.Namespace, model: str, steps: int, chunk: int) -> dict:
    command = [
        sys.executable, __file__, "--worker", "--model", model, "--chunk", str(chunk),
        "--steps", str(steps), "--units", str(args.units), "--unfolds", str(args.unfolds),
    ]
    command += ["--synthetic"] if args.synthetic else []
    command += ["--data", args.data] if args.data else []
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        # Out of memory (killed) or any other failure is a result too.
        reason = "killed (out of memory?)" if result.returncode < 0 else result.stderr[-300:]
        return {"model": model, "steps": steps, "chunk": chunk, "error": reason}
    return json.loads(result.stdout.strip().splitlines()[-1])


def table(results: list[dict]) -> str:
    lines = [
        "| model | steps | chunk length | peak RSS (MB) | RSS before training (MB) "
        "| training memory (MB) | one pass (s) | mean chunk loss |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        chunk = "whole sequence" if r["chunk"] == 0 else f"{r['chunk']:,}"
        if "error" in r:
            lines.append(f"| {r['model']} | {r['steps']:,} | {chunk} | {r['error']} | | | | |")
            continue
        lines.append(
            f"| {r['model']} | {r['steps']:,} | {chunk} | {r['peak_mb']:,.0f} | "
            f"{r['rss_before_mb']:,.0f} | {r['peak_mb'] - r['rss_before_mb']:,.0f} | "
            f"{r['seconds']:.1f} | {r['loss']:.4f} |"
        )
    return "\n".join(lines)


def summary(results: list[dict]) -> str:
    """Memory per 1,000 backpropagated steps, from the whole-sequence and chunked runs."""
    lines = []
    ok = [r for r in results if "error" not in r]
    for r in ok:
        if r["chunk"] != 0:
            continue
        chunked = [c for c in ok if c["model"] == r["model"] and c["steps"] == r["steps"] and c["chunk"]]
        if not chunked:
            continue
        smallest = min(chunked, key=lambda c: c["chunk"])
        largest = max(chunked, key=lambda c: c["chunk"])
        per_thousand = (r["peak_mb"] - smallest["peak_mb"]) / (r["steps"] - smallest["chunk"]) * 1000
        lines.append(
            f"- {r['model']}, {r['steps']:,} steps: backpropagating through the whole recording "
            f"costs about {per_thousand:.1f} MB per 1,000 steps ({r['peak_mb']:,.0f} MB peak); "
            f"in chunks of {smallest['chunk']:,} to {largest['chunk']:,} steps the peak stays "
            f"between {smallest['peak_mb']:,.0f} and {largest['peak_mb']:,.0f} MB."
        )
    return "\n".join(lines)




def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="ltc", help="comma-separated: ltc, cfc")
    parser.add_argument(
        "--steps", default="100000", help="recording length(s), comma-separated"
    )
    parser.add_argument("--chunks", default="100,1000,10000", help="comma-separated lengths")
    parser.add_argument(
        "--unchunked-max-steps",
        type=int,
        default=None,
        help="run the whole-sequence baseline only up to this length (default: always)",
    )
    parser.add_argument("--units", type=int, default=32)
    parser.add_argument("--unfolds", type=int, default=6, help="LTC ODE unfolds per step")
    parser.add_argument("--synthetic", action="store_true")
    parser.add_argument("--data", default=None, help="data root or power folder")
    parser.add_argument("--write-docs", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="also save raw results here")
    parser.add_argument(
        "--from-json", type=Path, default=None, help="render saved results instead of measuring"
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--model", default="ltc", help=argparse.SUPPRESS)
    parser.add_argument("--chunk", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        args.steps = int(args.steps)
        print(json.dumps(run_one(args)))
        return

    chunks = [int(c) for c in args.chunks.split(",") if c]
    results = json.loads(args.from_json.read_text()) if args.from_json else []
    for model in [] if args.from_json else args.models.split(","):
        for steps in [int(s) for s in args.steps.split(",")]:
            runs = [c for c in chunks if c < steps]
            if args.unchunked_max_steps is None or steps <= args.unchunked_max_steps:
                runs.append(0)
            for chunk in runs:
                result = measure(args, model, steps, chunk)
                print(json.dumps(result), flush=True)
                results.append(result)
    rendered = table(results)
    print(rendered)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    if args.write_docs:
        data = "synthetic data" if args.synthetic else "the household power data as one series"
        versions = next((r for r in results if "backend" in r), {"backend": "?", "keras": "?"})
        body = (
            f"One recording ({data}; 6 inputs, 1 target per step), "
            f"batch 1, Adam, per-step MSE, one pass; LTC: {args.units} units, "
            f"{args.unfolds} ODE unfolds (fused solver); CfC: {args.units} units, default "
            f"backbone. 'whole sequence' is `model.fit` on the full recording "
            f"(backpropagation through every step); the others use "
            f"`liquidtime.training.ChunkedTrainer(model, chunk_length)` (truncated BPTT, "
            f"states carried between chunks). Peak RSS is the process's `VmHWM`; 'training "
            f"memory' is the peak minus the resident memory just before training (imports, "
            f"data, built model). 'mean chunk loss' is the training loss averaged over the "
            f"pass: smaller chunks make more optimizer steps per pass, so it is not a "
            f"comparison of final quality. Each row is a fresh process; backend "
            f"{versions['backend']}, Keras {versions['keras']}, "
            f"{platform.machine()} CPU, {os.cpu_count()} cores (shared with other jobs, so "
            f"times are indicative only).\n\n"
            f"Command: `python benchmarks/chunked_memory.py --models {args.models} "
            f"--steps {args.steps} --chunks {args.chunks}"
            f"{f' --unchunked-max-steps {args.unchunked_max_steps}' if args.unchunked_max_steps else ''}"
            f"{' --synthetic' if args.synthetic else ''} --write-docs {args.write_docs}`\n\n"
            f"{rendered}\n\n{summary(results)}\n"
        )
        write_markdown_section(args.write_docs, SECTION, body)


if __name__ == "__main__":
    main()

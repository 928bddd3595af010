"""Timing, memory measurement and Markdown output shared by the benchmarks (no liquidtime import).

Both ``compare_ncps.py`` (liquidtime and Keras models) and ``_ncps_worker.py`` (which
runs inside the separate ncps virtual environment) time their models with
:func:`measure`, so that every row of the comparison is measured the same way.
"""

from __future__ import annotations

import os
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (``ru_maxrss``)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _time_calls(fn: Callable[[], object], warmup: int, steps: int, min_seconds: float = 0.0) -> dict:
    """First-call time, then median wall and CPU time of the timed calls.

    Warm-up: at least ``warmup`` calls and ``min_seconds / 4`` seconds. Timed: at
    least ``steps`` calls and ``min_seconds`` seconds (a fast step is sampled
    hundreds of times, so that a burst of load from other processes moves the
    median little), at most 5000 calls.
    """
    start = time.perf_counter()
    fn()
    first_call = time.perf_counter() - start
    warm_start = time.perf_counter()
    calls = 0
    while calls < warmup or time.perf_counter() - warm_start < min_seconds / 4:
        fn()
        calls += 1
    wall, cpu = [], []
    timed_start = time.perf_counter()
    while len(wall) < steps or (time.perf_counter() - timed_start < min_seconds and len(wall) < 5000):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return {
        "first_call_s": first_call,
        "ms": 1e3 * statistics.median(wall),
        "ms_min": 1e3 * min(wall),
        "cpu_ms": 1e3 * statistics.median(cpu),
        "calls": len(wall),
    }


def measure(
    train_step: Callable[[], object],
    infer_step: Callable[[], object],
    batch: int,
    warmup: int,
    steps: int,
    modes: str = "infer,train",
    min_seconds: float = 0.0,
) -> dict:
    """Times inference, then training, of a model already built in this process.

    Each callable must block until its result is computed (e.g. convert the loss to
    a float). Inference runs first so that its peak memory is not that of training.

    Args:
        train_step: One training step (forward, backward, optimizer update).
        infer_step: One forward pass without gradients.
        batch: Sequences per step (for sequences per second).
        warmup: Untimed calls after the first (compiling) call.
        steps: Timed calls (at least); the median is reported.
        modes: Comma-separated subset of ``infer,train`` to run.
        min_seconds: Keep timing (and warming up for a quarter of it) until this
            many seconds have passed, for each mode.

    Returns:
        A dict with, per mode, ``{mode}_ms`` (median wall), ``{mode}_ms_min``,
        ``{mode}_cpu_ms`` (median process CPU time), ``{mode}_calls`` (timed
        calls), ``{mode}_first_call_s``
        (compile + first step), ``{mode}_seq_per_s``, ``{mode}_peak_mb`` (peak RSS
        after that mode), plus ``baseline_mb`` (peak RSS before the first step) and
        the load averages before and after.
    """
    result = {"baseline_mb": peak_rss_mb(), "load_before": os.getloadavg()[0]}
    for mode in modes.split(","):
        fn = {"infer": infer_step, "train": train_step}[mode]
        timing = _time_calls(fn, warmup, steps, min_seconds)
        for key, value in timing.items():
            result[f"{mode}_{key}"] = value
        result[f"{mode}_seq_per_s"] = batch / (timing["ms"] / 1e3)
        # The first call compiles and runs one step: its excess over a step is the compile time.
        result[f"{mode}_compile_s"] = max(timing["first_call_s"] - timing["ms"] / 1e3, 0.0)
        result[f"{mode}_peak_mb"] = peak_rss_mb()
    result["load_after"] = os.getloadavg()[0]
    result["threads"] = os.cpu_count()
    return result


def write_markdown_section(path: Path, heading: str, body: str) -> None:
    """Replaces (or appends) the section under ``heading`` of ``path``, re-reading it first.

    The section runs from ``heading`` to the next level-2 heading (``## ``); the rest
    of the file, including sections written by hand, is kept.
    """
    text = path.read_text() if path.exists() else "# Performance\n"
    section = f"{heading}\n\n{body.strip()}\n"
    if heading in text:
        head, rest = text.split(heading, 1)
        following = rest.find("\n## ")
        tail = rest[following + 1 :] if following >= 0 else ""
        text = head + section + ("\n" + tail if tail else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)

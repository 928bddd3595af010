"""The benchmark's timing and aggregation helpers (no timing is asserted, only counts and medians)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from _harness import _time_calls  # noqa: E402
from compare_ncps import _repeatable, _with_runs, median_of_runs  # noqa: E402


def _counter():
    calls = []
    return calls, lambda: calls.append(None)


def test_time_calls_makes_first_warmup_and_timed_calls():
    calls, step = _counter()
    timing = _time_calls(step, warmup=2, steps=5)
    assert len(calls) == 1 + 2 + 5
    assert timing["calls"] == 5
    assert timing["ms_min"] <= timing["ms"]


def test_time_calls_keeps_timing_for_min_seconds():
    calls, step = _counter()
    timing = _time_calls(step, warmup=0, steps=3, min_seconds=0.05)
    # A call takes microseconds: 0.05 s of timing needs far more than the 3 steps.
    assert timing["calls"] > 3
    # The warm-up ran for a quarter of that time: calls beyond the first and the timed ones.
    assert len(calls) - 1 - timing["calls"] > 0


def test_median_of_runs_takes_the_median_of_every_number_and_keeps_the_spread():
    runs = [
        {"label": "x", "run": 1, "train_ms": 9.0, "infer_ms": 3.0, "train_peak_mb": 100.0},
        {"label": "x", "run": 2, "train_ms": 7.0, "infer_ms": 2.0, "train_peak_mb": 120.0},
        {"label": "x", "run": 3, "train_ms": 8.0, "infer_ms": 4.0, "train_peak_mb": 110.0},
    ]
    merged = median_of_runs(runs)
    assert merged["train_ms"] == 8.0 and merged["infer_ms"] == 3.0
    assert merged["train_peak_mb"] == 110.0
    assert merged["train_ms_runs"] == [9.0, 7.0, 8.0]
    assert merged["runs"] == 3 and "run" not in merged and merged["label"] == "x"
    assert _with_runs(merged, "train") == "8.0 (7.0-9.0, 3 runs)"


def test_median_of_runs_ignores_failed_repeats():
    runs = [{"train_ms": 5.0}, {"error": "timeout after 1800 s"}, {"train_ms": 7.0}]
    merged = median_of_runs(runs)
    assert merged["train_ms"] == 6.0 and merged["runs"] == 2 and "error" not in merged


@pytest.mark.parametrize(
    ("first", "expected"),
    [({"train_ms": 10.0}, True), ({"train_ms": 2000.0}, False), ({"error": "failed"}, False)],
)
def test_only_fast_rows_that_ran_are_repeated(first, expected):
    assert _repeatable(first, below_ms=1000.0) is expected

"""Half-cheetah kinematics: predict the next 17-dimensional state of a simulated half-cheetah.

Files (folder ``cheetah/``): ``trace_0000.npy`` ... ``trace_0030.npy``, each a
NumPy array of float64 with shape ``(steps, 17)`` (1000 steps in the original
traces). Only ``trace_0000`` to ``trace_0024`` are used and required.

Protocol (the original and the corrected protocol are the same):

- the input is a window of 32 states, the target the same window shifted by
  one step (``x = trace[s : s + 32]``, ``y = trace[s + 1 : s + 33]``), not
  normalised;
- windows start every 10 steps (starts ``s < steps - 33``: 97 per 1000-step
  trace);
- split by trace, in sorted order: validation traces 0-4, test traces 5-14,
  training traces 15-24 (25-30 are not used). Windows keep trace and start
  order.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from liquidtime.data._errors import MalformedDatasetError
from liquidtime.data._loader import task_loader
from liquidtime.data._task import MSE, REGRESSION, Split, Splits, TaskInfo
from liquidtime.data._windows import concatenate_pairs, take_windows, window_starts

STATE_SIZE = 17
SEQUENCE_LENGTH = 32
STRIDE = 10
VALID_TRACES = range(0, 5)
TEST_TRACES = range(5, 15)
TRAIN_TRACES = range(15, 25)

INFO = TaskInfo(
    name="cheetah",
    title="Half-cheetah kinematic modelling",
    kind=REGRESSION,
    metric=MSE,
    num_classes=None,
    folder="cheetah",
    files=tuple(f"trace_{i:04d}.npy" for i in range(25)),
    source=(
        "Half-cheetah (MuJoCo HalfCheetah) state traces recorded by Lechner & Hasani and "
        "published with the LTC paper's experiment code (Hasani, Lechner, Amini, Rus & Grosu, "
        "'Liquid Time-constant Networks', AAAI 2021); no separate data licence is stated."
    ),
    origin=(
        "the folder experiments_with_ltcs/data/cheetah of the repository "
        "github.com/raminmh/liquid_time_constant_networks; copy the trace_*.npy files "
        "into cheetah/."
    ),
)


def _arrays(paths: list[Path], protocol: str) -> Splits:
    """Each split: the next-step windows of its traces, in trace and start order."""

    def windows(traces: range) -> Split:
        return concatenate_pairs(_next_step_windows(_read_trace(paths[index])) for index in traces)

    return windows(TRAIN_TRACES), windows(VALID_TRACES), windows(TEST_TRACES)


def _next_step_windows(trace: np.ndarray) -> Split:
    """Windows of 32 states every 10 steps, with the same windows one step later as targets.

    Args:
        trace: ``(steps, 17)`` states.

    Returns:
        Input and target windows, each ``(N, 32, 17)``.
    """
    starts = window_starts(len(trace), SEQUENCE_LENGTH + 1, STRIDE)
    return (
        take_windows(trace, starts, SEQUENCE_LENGTH),
        take_windows(trace, starts, SEQUENCE_LENGTH, offset=1),
    )


def _read_trace(path: Path) -> np.ndarray:
    try:
        trace = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise MalformedDatasetError(
            path, f"expected a .npy array, the file cannot be read ({error})"
        ) from None
    if trace.ndim != 2 or trace.shape[1] != STATE_SIZE or not np.issubdtype(trace.dtype, np.number):
        raise MalformedDatasetError(
            path,
            f"expected a numeric array of shape (steps, {STATE_SIZE}), "
            f"found {trace.dtype} {trace.shape}",
        )
    with np.errstate(over="ignore"):  # a float64 above float32's range becomes inf, refused below
        trace = trace.astype(np.float32)
    bad = np.argwhere(~np.isfinite(trace))
    if bad.size:
        step, column = (int(index) for index in bad[0])
        raise MalformedDatasetError(
            path,
            f"expected finite numbers, found {trace[step, column]} in row {step} (step), "
            f"column {column} ({len(bad)} non-finite values in all; float32 overflows above "
            f"3.4e38): regenerate the trace or replace it with a finite one",
        )
    return trace


load_data = task_loader(
    INFO,
    _arrays,
    returns=(
        "float32 inputs ``(N, 32, 17)`` and float32 targets ``(N, 32, 17)``. With 1000-step "
        "traces: 970 training, 485 validation and 970 test windows."
    ),
    malformed=(
        "If a trace is not a readable ``(steps, 17)`` numeric array or holds a value that is "
        "not finite in float32."
    ),
)

"""Cutting long series into fixed-length windows."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def window_starts(num_rows: int, span: int, stride: int) -> np.ndarray:
    """Start rows of the windows the original code cut from a series.

    The starts are ``0, stride, 2 * stride, ...`` while ``start < num_rows - span``
    (the original ``range(0, num_rows - span, stride)``). A window that would end
    exactly at the last row is therefore not used; both protocols keep this rule
    so that window counts and random splits match the paper's code.

    Args:
        num_rows: Length of the series.
        span: Rows a window needs (its length, plus one for a shifted target).
        stride: Rows between consecutive starts.

    Returns:
        int64 array of start rows (empty when the series is too short).
    """
    return np.arange(0, max(num_rows - span, 0), stride, dtype=np.int64)


def take_windows(
    series: np.ndarray, starts: np.ndarray, length: int, offset: int = 0
) -> np.ndarray:
    """Gathers ``series[start + offset : start + offset + length]`` for every start.

    Args:
        series: Array whose first axis is time.
        starts: Start rows.
        length: Window length ``T``.
        offset: Shift added to every start (1 gives next-step targets).

    Returns:
        Array of shape ``(len(starts), length) + series.shape[1:]``.
    """
    index = np.asarray(starts, dtype=np.int64)[:, None] + offset + np.arange(length)
    return series[index]


def stack_as_sequences(windows: np.ndarray) -> np.ndarray:
    """The original ozone/traffic layout: swaps the window and step axes.

    The original code stacked its time-major windows once more along the wrong
    axis, so that sequence ``j`` became the ``j``-th step of every window in
    turn: for windows of length ``T`` cut with stride ``s`` from rows ``r``,
    sequence ``j`` is ``r[j], r[j + s], r[j + 2s], ...``. ``(N, T, ...)``
    windows become ``T`` sequences of ``N`` steps.
    """
    return np.swapaxes(windows, 0, 1)


def window_pairs(
    x: np.ndarray, y: np.ndarray, starts: np.ndarray, length: int
) -> tuple[np.ndarray, np.ndarray]:
    """The windows of inputs and of targets that start at the same rows.

    Args:
        x: Inputs, time on the first axis.
        y: Targets, one per row of ``x``.
        starts: Start rows.
        length: Window length ``T``.

    Returns:
        ``(take_windows(x, starts, length), take_windows(y, starts, length))``.
    """
    return take_windows(x, starts, length), take_windows(y, starts, length)


def strided_windows(
    x: np.ndarray, y: np.ndarray, length: int, stride: int, as_sequences: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Windows of ``length`` rows of ``x`` and ``y``, ``stride`` rows apart.

    Args:
        x: Inputs, time on the first axis.
        y: Targets, one per row of ``x``.
        length: Window length ``T``.
        stride: Rows between consecutive starts (see :func:`window_starts`).
        as_sequences: Give the original ozone/traffic layout instead
            (:func:`stack_as_sequences`).

    Returns:
        Input and target windows, ``(N, T, ...)`` (``(T, N, ...)`` with ``as_sequences``).
    """
    windows = window_pairs(x, y, window_starts(len(x), length, stride), length)
    if as_sequences:
        return stack_as_sequences(windows[0]), stack_as_sequences(windows[1])
    return windows


def concatenate_pairs(pairs: Iterable[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Joins the windows cut from several series (files, recordings, traces), in order.

    Args:
        pairs: ``(inputs, targets)`` windows of each series.

    Returns:
        All inputs and all targets, each concatenated along the first axis.
    """
    inputs, targets = zip(*pairs, strict=True)
    return np.concatenate(inputs), np.concatenate(targets)

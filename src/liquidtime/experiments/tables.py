"""Markdown tables of our results beside the LTC paper's (Tables 3, 4 and 6).

Records (:mod:`liquidtime.experiments.records`) are grouped by task, protocol,
model and every training setting except the seed; each group becomes one row
with the mean and standard deviation of the test metric over its seeds, next to
the paper's mean ± std over 5 runs. Units follow the paper
(:data:`liquidtime.data.PAPER_UNITS`): accuracies in percent, MSE and F1 as
they are. The standard deviation is the population one (``numpy.std``,
``ddof=0``); with one seed none is shown. A row with runs stopped by a NaN loss
(tested with their best weights before it) says so in its result cell
("⚠ 1 NaN stop") and in its settings.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from liquidtime.data import PAPER_RESULTS, PAPER_TABLES, PAPER_UNITS, PaperResult
from liquidtime.data.registry import get_task_defaults, task_names
from liquidtime.experiments.records import latest_per_run
from liquidtime.models import MODELS

MODEL_ORDER: tuple[str, ...] = (
    "lstm",
    "ctrnn",
    "node",
    "ctgru",
    "ltc",
    "ltc-dense",
    "ltc-ncp",
    "cfc",
    "cfc-ncp",
    "liquid-neuron",
    "ncps-ltc",
    "ncps-cfc",
)
"""Row order of the models: the paper's columns first (LSTM, CT-RNN, Neural ODE, CT-GRU, LTC),
then liquidtime's other models, then ncps's for comparison."""

_GROUP_FIELDS = (
    "task",
    "protocol",
    "model",
    "preset",
    "units",
    "epochs",
    "batch_size",
    "learning_rate",
    "solver",
    "unfolds",
    "max_train_windows",
    "layer_options",
)


@dataclasses.dataclass(frozen=True)
class ResultRow:
    """One table row: a task and model with fixed settings, summarised over seeds.

    Attributes:
        task, protocol, model: What ran.
        unit: The paper's unit of the metric (``"accuracy %"``, ``"mse"``, ``"f1"``).
        values: The finite test metrics of the seeds, in the paper's unit.
        seeds: The seeds of the runs (including diverged ones).
        failed: Runs whose test metric is not finite.
        nan_stops: Runs stopped early on a NaN loss.
        epochs: Requested epochs; ``epochs_run``: the most any seed ran.
        wall_time_s: Mean wall time per run in seconds.
        settings: The group's settings (``_GROUP_FIELDS``).
        paper: The paper's result, or None for models the paper did not train.
    """

    task: str
    protocol: str
    model: str
    unit: str
    values: tuple[float, ...]
    seeds: tuple[int, ...]
    failed: int
    nan_stops: int
    epochs: int
    epochs_run: int
    wall_time_s: float
    settings: dict[str, Any]
    paper: PaperResult | None

    @property
    def mean(self) -> float:
        return float(np.mean(self.values)) if self.values else math.nan

    @property
    def std(self) -> float:
        return float(np.std(self.values)) if self.values else math.nan


def _in_paper_units(task: str, value: Any) -> float:
    if value is None or not math.isfinite(float(value)):
        return math.nan
    return float(value) * (100.0 if PAPER_UNITS.get(task) == "accuracy %" else 1.0)


def summarize(records: Iterable[dict[str, Any]]) -> list[ResultRow]:
    """Groups records into rows (repeated runs of one seed count once: the latest).

    Returns:
        Rows in the paper's task order, then :data:`MODEL_ORDER`.
    """
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for record in latest_per_run(records):
        key = tuple(
            _hashable(record.get(field)) for field in _GROUP_FIELDS
        )
        groups.setdefault(key, []).append(record)
    rows = []
    for key, members in groups.items():
        settings = dict(zip(_GROUP_FIELDS, key))
        task, model = settings["task"], settings["model"]
        metrics = [_in_paper_units(task, member.get("test_metric")) for member in members]
        finite = tuple(value for value in metrics if math.isfinite(value))
        rows.append(
            ResultRow(
                task=task,
                protocol=settings["protocol"],
                model=model,
                unit=PAPER_UNITS.get(task, members[0].get("metric", "")),
                values=finite,
                seeds=tuple(sorted(int(member.get("seed", 0)) for member in members)),
                failed=len(metrics) - len(finite),
                nan_stops=sum(bool(member.get("stopped_on_nan")) for member in members),
                epochs=int(settings["epochs"] or 0),
                epochs_run=max(int(member.get("epochs_run") or 0) for member in members),
                wall_time_s=float(np.mean([member.get("wall_time_s") or 0.0 for member in members])),
                settings=settings,
                paper=_paper_result(task, model),
            )
        )
    return sorted(rows, key=_row_order)


def _paper_result(task: str, model: str) -> PaperResult | None:
    """The paper's result of ``model``'s column (``ModelSpec.paper_name``) on ``task``.

    Args:
        task: A task name.
        model: A model name (ncps's models included).

    Returns:
        The paper's mean and std, or None for a model or task the paper did not report.
    """
    spec = MODELS.get(model)
    if spec is None or spec.paper_name is None:
        return None
    return PAPER_RESULTS.get(task, {}).get(spec.paper_name)


def _hashable(value: Any) -> Any:
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return tuple(value) if isinstance(value, list) else value


def _row_order(row: ResultRow) -> tuple:
    tasks = task_names()
    task_rank = tasks.index(row.task) if row.task in tasks else len(tasks)
    model_rank = MODEL_ORDER.index(row.model) if row.model in MODEL_ORDER else len(MODEL_ORDER)
    return (task_rank, row.task, row.protocol, model_rank, row.model, row.epochs,
            str(sorted(row.settings.items())))


def _decimals(unit: str) -> int:
    return 2 if unit == "accuracy %" else 3


def format_mean_std(mean: float, std: float | None, unit: str) -> str:
    """``mean ± std`` with the paper's decimals (2 for percentages, 3 otherwise)."""
    if not math.isfinite(mean):
        return "n/a"
    digits = _decimals(unit)
    if std is None:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def _ours(row: ResultRow) -> str:
    count = len(row.values)
    if not count:
        return "n/a (diverged)"
    text = format_mean_std(row.mean, row.std if count > 1 else None, row.unit)
    text = f"{text} ({count} seed{'s' if count > 1 else ''})"
    if row.nan_stops:  # best-validation weights of a run whose loss diverged: not a normal result
        text += f" ⚠ {row.nan_stops} NaN stop{'s' if row.nan_stops > 1 else ''}"
    return text


def _notes(row: ResultRow) -> str:
    """What differs from the paper's protocol for this row."""
    settings = row.settings
    notes = []
    if row.protocol != "corrected":
        notes.append(f"{row.protocol} protocol")
    if settings["preset"] != "paper":
        notes.append(f"preset {settings['preset']}")
    try:
        defaults = get_task_defaults(row.task)
    except ValueError:
        defaults = None
    if defaults is not None:
        if settings["units"] != defaults.units:
            notes.append(f"{settings['units']} units")
        if settings["batch_size"] != defaults.batch_size:
            notes.append(f"batch {settings['batch_size']}")
    notes.append(f"lr {settings['learning_rate']:g}")
    if settings["solver"] is not None:
        notes.append(f"{settings['solver']} x{settings['unfolds']}")
    if settings.get("layer_options"):
        options = json.loads(settings["layer_options"])
        notes.append(", ".join(f"{name}={json.dumps(value)}" for name, value in sorted(options.items())))
    if settings["max_train_windows"] is not None:
        notes.append(f"≤{settings['max_train_windows']} train windows")
    if row.nan_stops:
        notes.append(f"NaN stop in {row.nan_stops} run(s), at most {row.epochs_run} epochs")
    if row.failed:
        notes.append(f"{row.failed} run(s) without a finite test metric")
    return ", ".join(notes)


def markdown_table(records: Iterable[dict[str, Any]]) -> str:
    """Markdown table of ``records`` beside the paper's numbers.

    Columns: task (metric, unit) | model | epochs | ours mean ± std (seeds) |
    paper mean ± std | mean wall time per run | settings (learning rate, solver,
    and whatever differs from the paper's protocol).

    Returns:
        The table followed by a note on the paper's sources, or a one-line
        message when there are no records.
    """
    rows = summarize(records)
    if not rows:
        return "No results.\n"
    lines = [
        "| task (metric) | model | epochs | ours: mean ± std | paper: mean ± std | time/run | settings |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        paper = format_mean_std(row.paper.mean, row.paper.std, row.unit) if row.paper else "—"
        lines.append(
            f"| {row.task} ({row.unit}) | {row.model} | {row.epochs} | {_ours(row)} | {paper} | "
            f"{_duration(row.wall_time_s)} | {_notes(row)} |"
        )
    sources = sorted({f"{row.task}: {PAPER_TABLES[row.task]}" for row in rows if row.task in PAPER_TABLES})
    footer = (
        "\nPaper: Hasani et al., Liquid Time-constant Networks, AAAI 2021, mean ± std over 5 runs "
        f"({'; '.join(sources)}). Ours: test metric at the best validation epoch; "
        "std over seeds with ddof=0.\n"
    )
    return "\n".join(lines) + "\n" + footer


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def environment_summary(records: Iterable[dict[str, Any]]) -> str:
    """Markdown list of the machines and software the records ran on, with run counts.

    One line per distinct (platform, CPU count, backend, Python, package versions).
    """
    counts: dict[tuple, int] = {}
    for record in latest_per_run(records):
        versions = record.get("versions") or {}
        key = (
            record.get("platform"),
            record.get("cpu_count"),
            record.get("backend"),
            record.get("python"),
            tuple(sorted(versions.items())),
        )
        counts[key] = counts.get(key, 0) + 1
    lines = []
    for (machine, cpus, backend, python, versions), count in sorted(
        counts.items(), key=lambda item: -item[1]
    ):
        packages = ", ".join(f"{name} {version}" for name, version in versions)
        lines.append(
            f"- {count} run{'s' if count > 1 else ''}: {machine}, {cpus} CPUs, {backend} backend, "
            f"Python {python}; {packages}"
        )
    return "\n".join(lines) + "\n"


def _improvement(row: ResultRow, mean: float) -> float:
    """How much ``row``'s mean improves on ``mean``: positive when better (lower for MSE)."""
    return mean - row.mean if row.unit == "mse" else row.mean - mean


def _pooled_std(first: ResultRow, second: ResultRow) -> float:
    """``sqrt((s1^2 + s2^2) / 2)``, the two rows' standard deviations pooled (equal weights)."""
    return math.sqrt((first.std**2 + second.std**2) / 2.0)


def _signed(value: float, unit: str) -> str:
    return f"{value:+.{_decimals(unit)}f}"


def _seeds_text(row: ResultRow) -> str:
    count = len(row.values)
    return format_mean_std(row.mean, row.std if count > 1 else None, row.unit) + f" ({count})"


def _plain_rows(rows: list[ResultRow], model: str) -> dict[tuple, list[ResultRow]]:
    """Rows of ``model`` without layer options, by (task, protocol, epochs)."""
    found: dict[tuple, list[ResultRow]] = {}
    for row in rows:
        if row.model == model and not row.settings.get("layer_options") and row.values:
            found.setdefault((row.task, row.protocol, row.epochs), []).append(row)
    return found


def _rounded(value: Any) -> Any:
    """``value`` with its floats to 4 significant digits (for display)."""
    if isinstance(value, float):
        return float(f"{value:.4g}")
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_rounded(item) for item in value]
    return value


def ncps_comparison_table(records: Iterable[dict[str, Any]]) -> str:
    """Our LTC under each preset beside ncps's LTC trained under the same protocol.

    For every task, protocol and epoch count with an ``ncps-ltc`` row, each
    ``ltc`` row without layer options is compared with it: the difference of the
    means, signed so that positive means ours is better (higher accuracy or F1,
    lower MSE), against the pooled standard deviation
    ``sqrt((s_ours^2 + s_ncps^2) / 2)``. The verdict is "behind" when ours trails
    by more than the pooled standard deviation, "ahead" when it leads by more, and
    "within the spread" otherwise (no verdict with fewer than 2 seeds on a side);
    the paper's LTC is shown beside them.

    Returns:
        A markdown table, or an empty string when no task has both models.
    """
    rows = summarize(records)
    ours, theirs = _plain_rows(rows, "ltc"), _plain_rows(rows, "ncps-ltc")
    lines = []
    for key, ncps_rows in theirs.items():
        ncps = ncps_rows[0]
        for row in ours.get(key, []):
            difference, pooled = _improvement(row, ncps.mean), _pooled_std(row, ncps)
            if min(len(row.values), len(ncps.values)) < 2:
                verdict = "too few seeds to judge"
            elif difference < -pooled:
                verdict = "behind"
            elif difference > pooled:
                verdict = "ahead"
            else:
                verdict = "within the spread"
            paper = format_mean_std(row.paper.mean, row.paper.std, row.unit) if row.paper else "—"
            lines.append(
                f"| {row.task} ({row.unit}) | {row.settings['preset']} | {_seeds_text(row)} | "
                f"{_seeds_text(ncps)} | {_signed(difference, row.unit)} | "
                f"{pooled:.{_decimals(row.unit)}f} | {verdict} | {paper} |"
            )
    if not lines:
        return ""
    header = [
        "| task (metric) | our LTC preset | ours (seeds) | ncps's LTC (seeds) | ours better by | "
        "pooled std | verdict | paper's LTC |",
        "|---|---|---:|---:|---:|---:|---|---:|",
    ]
    return "\n".join(header + lines) + "\n"


def ablation_table(records: Iterable[dict[str, Any]]) -> str:
    """Each LTC ablation (one layer option switched) beside the preset it starts from.

    An ablation row is an ``ltc`` row with layer options; its base is the row of
    the same task, protocol, epochs and preset without options. The change of the
    mean is signed so that positive means the switched setting helps (higher
    accuracy or F1, lower MSE); the pooled standard deviation of the two rows is
    beside it for scale.

    Returns:
        A markdown table, or an empty string when there are no ablations.
    """
    rows = summarize(records)
    bases = {
        (*key, row.settings["preset"]): row
        for key, plain in _plain_rows(rows, "ltc").items()
        for row in plain
    }
    lines = []
    for row in rows:
        options = row.settings.get("layer_options")
        base = bases.get((row.task, row.protocol, row.epochs, row.settings["preset"]))
        if row.model != "ltc" or not options or base is None or not row.values:
            continue
        switched = ", ".join(
            f"`{name}={json.dumps(_rounded(value))}`"
            for name, value in sorted(json.loads(options).items())
        )
        lines.append(
            f"| {row.task} ({row.unit}) | {row.settings['preset']} | {switched} | "
            f"{_seeds_text(row)} | {_seeds_text(base)} | "
            f"{_signed(_improvement(row, base.mean), row.unit)} | "
            f"{_pooled_std(row, base):.{_decimals(row.unit)}f} |"
        )
    if not lines:
        return ""
    header = [
        "| task (metric) | preset | switched to | with it (seeds) | preset as is (seeds) | "
        "change (+ better) | pooled std |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    return "\n".join(header + lines) + "\n"


def markdown_report(records: Iterable[dict[str, Any]], command: str) -> str:
    """A whole results document: the table, how it was made, and the machines it ran on.

    Args:
        records: The result records.
        command: The command line that generated the document (printed in it).

    Returns:
        Markdown text with a title, the table (:func:`markdown_table`), our LTC
        beside ncps's (:func:`ncps_comparison_table`), the ablations
        (:func:`ablation_table`) and the environment (:func:`environment_summary`).
    """
    records = list(records)
    comparison, ablations = ncps_comparison_table(records), ablation_table(records)
    sections = ""
    if comparison:
        sections += (
            "\n## Our LTC beside ncps's LTC\n\n"
            "ncps 1.0.1's LTC (ncps.torch, its own defaults) trained on the same windows, splits, "
            "seeds, batch order, loss and best-validation rule (`ncps-ltc`). \"ours better by\" is "
            "signed: positive when ours is better (higher accuracy or F1, lower MSE); the verdict "
            "compares it with the pooled standard deviation of the two rows.\n\n" + comparison
        )
    if ablations:
        sections += (
            "\n## LTC ablations: one preset setting switched at a time\n\n"
            "Each row starts from a preset and switches one of the settings in which the two "
            "presets differ to the other preset's value; \"change\" is the difference of the "
            "means, positive when the switched setting is better.\n\n" + ablations
        )
    return (
        "# Results: the LTC paper's tables at its protocol\n\n"
        f"Generated from the result records by `{command}`; do not edit by hand. "
        "Each row is one model under one set of settings: the test metric of the "
        "best-validation epoch, mean ± std over its seeds, beside the paper's mean ± std over "
        "5 runs; `time/run` is the mean wall time of one run (loading, compiling, training, "
        "evaluation) on the machine below. Rows marked `preset default` use the layer's own "
        "defaults instead of the original code's settings; rows with layer options are "
        "ablations (docs/reproduction.md discusses them).\n\n"
        + markdown_table(records)
        + sections
        + "\n## Machines and versions\n\n"
        + environment_summary(records)
    )

"""``liquidtime compare``: train several models over several seeds on one task, then
print the table beside the paper's numbers and plot the learning curves."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

from liquidtime._distribution_options import add_distribution_arguments
from liquidtime.cli._names import (
    MODEL_NAMES,
    NCPS_MODELS,
    PLOT_X_AXES,
    RESULTS_FILE,
)
from liquidtime.cli.train import (
    EXPECTED_ERRORS,
    add_command,
    add_config_argument,
    add_data_arguments,
    add_output_arguments,
    add_training_arguments,
    config_from_args,
    fail,
    interrupted,
    non_negative_int,
    positive_int,
)

if TYPE_CHECKING:
    from liquidtime.experiments.runner import RunConfig

TABLE_FILE = "table.md"
PLOT_FILE = "learning_curves.png"
#: What an interrupted campaign of runs has kept (also ``reproduce``'s).
RUNS_SAVED = "finished runs are recorded and the others checkpointed"

_HELP = "train several models over seeds on one task; table and learning-curve plot"
_DESCRIPTION = f"""\
Train several models with several seeds on one task (each run as `liquidtime
train` does: the paper's protocol, checkpoints, one record per run), then print
a Markdown table of our mean ± std over the seeds beside the paper's numbers
and plot the learning curves.

Outputs in --output: {RESULTS_FILE} (one record per run), {TABLE_FILE} (the table
of this comparison), {PLOT_FILE} (training loss and validation metric per
epoch, or over wall time with --plot-x time; mean over seeds with a min-max
band; a star marks each run's test metric at its best epoch) and checkpoints/. With --resume,
runs already finished in --output are reused and unfinished ones continue from
their checkpoints. --solver and --unfolds apply to the models that have an ODE
solver only.
"""

_EPILOG = """\
examples:
  liquidtime compare --task occupancy --models ltc,cfc,lstm --seeds 1 --epochs 3 \\
      --output runs/occupancy
  liquidtime compare --task traffic --models all --seeds 5 --data-dir ~/ltc-data \\
      --output runs/traffic --jobs 2
"""


def model_list(text: str) -> list[str]:
    """argparse type: comma-separated model names, or ``all`` (every model the factory has)."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if names == ["all"]:
        return list(MODEL_NAMES)
    if not names:
        raise argparse.ArgumentTypeError("expected comma-separated model names, got nothing")
    for name in names:
        if name not in MODEL_NAMES + NCPS_MODELS:
            raise argparse.ArgumentTypeError(
                f"unknown model {name!r}; choose from {', '.join(MODEL_NAMES + NCPS_MODELS)} "
                "(or 'all')"
            )
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"model names repeat in {text!r}")
    return names


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Adds the ``compare`` sub-command to ``subparsers`` and returns its parser."""
    parser = add_command(subparsers, "compare", _HELP, _DESCRIPTION, _EPILOG)
    add_data_arguments(parser)
    runs = parser.add_argument_group("runs")
    runs.add_argument("--models", type=model_list, default="ltc,cfc,lstm",
                      metavar="M1,M2,...",
                      help=f"comma-separated models, or 'all' (liquidtime's); available: "
                           f"{', '.join(MODEL_NAMES)}; for comparison, ncps's PyTorch models "
                           f"{', '.join(NCPS_MODELS)} (need ncps and torch)")
    runs.add_argument("--seeds", type=positive_int, default=1, metavar="N",
                      help="number of seeds per model: --seed, --seed + 1, ...")
    runs.add_argument("--seed", type=non_negative_int, default=0, help="the first seed")
    runs.add_argument("--jobs", type=positive_int, default=1, metavar="N",
                      help="runs trained at once in worker processes (not with --data-parallel)")
    add_training_arguments(parser)
    add_output_arguments(parser)
    parser.add_argument("--plot-x", choices=PLOT_X_AXES, default="epoch",
                        help=f"x axis of {PLOT_FILE}: 'epoch' (seeds averaged) or 'time' (each "
                             "run over its cumulative wall time in seconds)")
    add_distribution_arguments(parser)
    add_config_argument(parser, run)
    return parser


def run_campaign(
    args: argparse.Namespace, configs: list[RunConfig], output: Path, resume: bool
) -> list[dict]:
    """Trains ``configs`` as ``--data-dir``, ``--progress`` and ``--jobs`` say (also for ``reproduce``).

    Args:
        args: The parsed options.
        configs: The runs.
        output: The directory of their records and checkpoints.
        resume: Reuse the finished runs in ``output`` and continue the others.

    Returns:
        The records of the runs.
    """
    from liquidtime.experiments.campaign import run_configs

    return run_configs(
        configs, data_dir=args.data_dir, output_dir=output, resume=resume, progress=args.progress,
        jobs=args.jobs,
    )


def run(args: argparse.Namespace) -> int:
    """Runs the comparison described by ``args``; returns an exit code."""
    from liquidtime.experiments.plots import plot_learning_curves
    from liquidtime.experiments.records import check_output_dir
    from liquidtime.experiments.runner import solver_models
    from liquidtime.experiments.tables import markdown_table
    from liquidtime.training.distributed import configure_distribution

    started = time.perf_counter()
    try:
        if args.jobs > 1 and args.data_parallel:
            raise ValueError("--jobs > 1 cannot be combined with --data-parallel.")
        check_output_dir(args.output)
        configs = [
            config_from_args(args, model, seed, solver_options=model in solver_models())
            for seed in range(args.seed, args.seed + args.seeds)
            for model in args.models
        ]
        configure_distribution(args)
        records = run_campaign(args, configs, args.output, resume=args.resume)
    except EXPECTED_ERRORS as error:
        return fail("compare", error)
    except KeyboardInterrupt:
        return interrupted("compare", RUNS_SAVED, "with --resume")
    table = markdown_table(records)
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / TABLE_FILE).write_text(table)
    plot = plot_learning_curves(records, args.output / PLOT_FILE, x=args.plot_x)
    print()
    print(table)
    print(f"Wall time {time.perf_counter() - started:.1f} s. Wrote {args.output / RESULTS_FILE}, "
          f"{args.output / TABLE_FILE} and {plot}.")
    return 0

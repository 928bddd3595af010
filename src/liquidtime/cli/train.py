"""``liquidtime train``: train one model on one of the LTC paper's tasks.

BPTT with Adam (the paper's Algorithm 2), validation after every epoch, the
best-validation weights restored for the test, early stop on a NaN loss, a
checkpoint after every epoch (``--resume`` continues exactly), and one JSON-lines
result record per run. The option helpers here are shared with ``compare``.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from liquidtime.data import DatasetNotFoundError, MalformedDatasetError
from liquidtime.data.registry import TASKS, task_names
from liquidtime.experiments.records import RESULTS_FILE
from liquidtime.experiments.runner import (
    PAPER_COUNTERPART,
    PROGRESS_MODES,
    RunConfig,
    RunFinishedError,
    parse_layer_option,
    train_run,
)
from liquidtime.experiments.ncps_runner import NCPS_MODELS
from liquidtime.models import MODEL_NAMES, PRESETS
from liquidtime.solvers import SOLVERS
from liquidtime.training.distributed import add_distribution_arguments, configure_distribution

_DESCRIPTION = """\
Train one model on one task of the LTC paper (Hasani et al., AAAI 2021) with the
paper's protocol: Adam on the full backpropagation through time, training
windows permuted every epoch (last incomplete batch dropped), the validation
metric after every epoch, and the test metric of the best-validation weights.
Training stops early only on a NaN loss. Every option left out takes the task's
paper default (table below).

Outputs in --output: results.jsonl (one record per run: every hyperparameter,
the metrics, the per-epoch history, the wall time, versions and backend) and
checkpoints/<run>/checkpoint.npz, written after every epoch. A run that was
killed continues from its last finished epoch with the same command plus
--resume, and ends with the same weights as an uninterrupted run. Ctrl-C stops
after the current batch (exit code 130). A run whose record is already in
--output is not trained again unless --force is given; a loss that is NaN in the
first epoch is an error and writes no record.
"""


def _epilog() -> str:
    lines = [
        "paper defaults per task (units 32 for all; learning rate: LTC / baselines):",
        f"  {'task':<10} {'metric':<9} {'batch':>5} {'epochs':>6} {'lr':>13}   data folder",
    ]
    for name, info in TASKS.items():
        defaults = info.defaults
        rates = f"{defaults.ltc_learning_rate:g} / {defaults.baseline_learning_rate:g}"
        lines.append(
            f"  {name:<10} {info.metric:<9} {defaults.batch_size:>5} {defaults.epochs:>6} "
            f"{rates:>13}   {info.folder}/"
        )
    counterparts = ", ".join(
        f"{model}: {other}" for model, other in PAPER_COUNTERPART.items() if model != other
    )
    lines += [
        f"models outside the paper take the learning rate of: {counterparts}",
        "",
        "examples:",
        "  liquidtime train --task occupancy --model ltc --epochs 20",
        "  liquidtime train --task traffic --model cfc --data-dir ~/ltc-data --seed 3",
        "  liquidtime train --task traffic --model cfc --data-dir ~/ltc-data --seed 3 --resume",
        "",
        "The data directory holds one folder per task (see docs/data.md); without",
        "--data-dir the environment variable LIQUIDTIME_DATA is used, and occupancy",
        "also works from the copy shipped with liquidtime.",
    ]
    return "\n".join(lines)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the description's layout and shows each option's default, when it has one."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if any(action.default is value for value in (None, False, argparse.SUPPRESS)) or (
            "default" in text
        ):
            return text
        return text + " (default: %(default)s)"


def positive_int(text: str) -> int:
    """argparse type: an integer > 0."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0 or str(value) != text.strip().lstrip("+"):
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """``--task``, ``--data-dir``, ``--protocol``, ``--max-train-windows``."""
    group = parser.add_argument_group("data")
    group.add_argument("--task", required=True, choices=task_names(), help="the task to train on")
    group.add_argument(
        "--data-dir", type=Path, default=None, metavar="DIR",
        help="data root holding one folder per task, or the task's folder itself "
             "(default: $LIQUIDTIME_DATA; occupancy also ships with liquidtime)",
    )
    group.add_argument(
        "--protocol", choices=("corrected", "original"), default="corrected",
        help="'original' reproduces the quirks of the paper's code for ozone, traffic, "
             "power and person (docs/data.md)",
    )
    group.add_argument(
        "--max-train-windows", type=positive_int, default=None, metavar="N",
        help="train on a fixed random subset of N training windows (quick runs); "
             "validation and test data stay complete (default: all)",
    )


def add_training_arguments(parser: argparse.ArgumentParser) -> None:
    """Model and optimisation options shared by ``train`` and ``compare`` (no model/seed)."""
    group = parser.add_argument_group(
        "training (an option left out takes the task's paper default)"
    )
    group.add_argument("--units", type=positive_int, default=None, metavar="N",
                       help="hidden units (paper: 32)")
    group.add_argument("--epochs", type=positive_int, default=None, metavar="N",
                       help="epochs (paper: 200)")
    group.add_argument("--batch-size", type=positive_int, default=None, metavar="N",
                       help="training batch size (paper: 16, person 64)")
    group.add_argument("--learning-rate", "--lr", type=positive_float, default=None, metavar="LR",
                       dest="learning_rate",
                       help="Adam learning rate (paper: LTC 0.01, occupancy/smnist 0.005; "
                            "baselines 0.001)")
    group.add_argument("--solver", choices=tuple(SOLVERS), default=None,
                       help="ODE solver of the continuous-time models (default: the preset's: "
                            "LTC fused, CT-RNN euler, Neural ODE rk4)")
    group.add_argument("--unfolds", type=positive_int, default=None, metavar="N",
                       help="solver steps per input step (default: the preset's, 6 in the paper)")
    group.add_argument("--preset", choices=PRESETS, default="paper",
                       help="'paper': the original code's model settings; 'default': each "
                            "layer's own defaults (liquidtime.models)")
    group.add_argument("--layer-option", action="append", default=[], metavar="NAME=VALUE",
                       dest="layer_options",
                       help="a layer argument replacing the preset's, VALUE as JSON or a string "
                            "(repeatable; for ablations), e.g. --layer-option positivity=softplus")


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    """``--output``, ``--resume``, ``--progress``."""
    group = parser.add_argument_group("output")
    group.add_argument("--output", type=Path, default=Path("runs"), metavar="DIR",
                       help=f"directory of {RESULTS_FILE} and the checkpoints (created if missing)")
    group.add_argument("--resume", action="store_true",
                       help="continue from the run's last checkpoint in --output (same settings; "
                            "--epochs may be larger than before)")
    group.add_argument("--progress", choices=PROGRESS_MODES, default="auto",
                       help="'bar': a progress bar per epoch and a line per epoch; 'epoch': a "
                            "line per epoch; 'none': quiet; 'auto': 'bar' on a terminal, "
                            "else 'epoch'")


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Adds the ``train`` sub-command to ``subparsers`` and returns its parser."""
    parser = subparsers.add_parser(
        "train",
        help="train one model on one task with the paper's protocol",
        description=_DESCRIPTION,
        epilog=_epilog(),
        formatter_class=HelpFormatter,
    )
    add_data_arguments(parser)
    model = parser.add_argument_group("model")
    model.add_argument("--model", required=True, choices=MODEL_NAMES + NCPS_MODELS,
                       help="the model (liquidtime.models.MODEL_NAMES), or for comparison ncps's "
                       "PyTorch LTC or CfC (ncps-ltc, ncps-cfc; need ncps and torch)")
    model.add_argument("--seed", type=non_negative_int, default=0,
                       help="seed of the initial weights, the wiring and the epoch order")
    add_training_arguments(parser)
    add_output_arguments(parser)
    parser.add_argument("--restart", action="store_true",
                        help="delete this run's checkpoint in --output first and train from "
                             "scratch (for a damaged checkpoint); not with --resume")
    parser.add_argument("--force", action="store_true",
                        help="train even if --output already holds this run's record (same "
                             "settings, seed and epochs); another record is appended")
    parser.add_argument("--save-model", action="store_true",
                        help="also save the best-validation model as "
                             "checkpoints/<run>/best.keras")
    add_distribution_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def config_from_args(
    args: argparse.Namespace, model: str, seed: int, solver_options: bool = True
) -> RunConfig:
    """The :class:`RunConfig` of the parsed options for one model and seed.

    With ``solver_options=False`` (models without an ODE solver, in ``compare``)
    ``--solver`` and ``--unfolds`` are left out.
    """
    return RunConfig(
        task=args.task,
        model=model,
        seed=seed,
        protocol=args.protocol,
        preset=args.preset,
        units=args.units,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        solver=args.solver if solver_options else None,
        unfolds=args.unfolds if solver_options else None,
        max_train_windows=args.max_train_windows,
        layer_options=tuple(sorted(parse_layer_option(text) for text in args.layer_options)),
    )


def fail(command: str, error: BaseException) -> int:
    """Prints ``liquidtime <command>: error: ...`` to stderr and returns exit code 2."""
    print(f"liquidtime {command}: error: {error}", file=sys.stderr)
    return 2


EXPECTED_ERRORS = (ValueError, RuntimeError, NotImplementedError, FileNotFoundError,
                   DatasetNotFoundError, MalformedDatasetError)


def run(args: argparse.Namespace) -> int:
    """Trains the run described by ``args``; returns an exit code."""
    try:
        config = config_from_args(args, args.model, args.seed)
        configure_distribution(args)
        train_run(
            config,
            data_dir=args.data_dir,
            output_dir=args.output,
            resume=args.resume,
            progress=args.progress,
            save_model=args.save_model,
            restart=args.restart,
            retrain=args.force,
            record_untrained_nan=False,
        )
    except RunFinishedError as finished:
        print(f"liquidtime train: {finished} Use --force to train it again.")
        return 0
    except EXPECTED_ERRORS as error:
        return fail("train", error)
    except KeyboardInterrupt:
        print(
            "\nliquidtime train: interrupted; the last finished epoch is checkpointed: "
            "run the same command with --resume to continue.",
            file=sys.stderr,
        )
        return 130
    print(f"Result appended to {args.output / RESULTS_FILE}")
    return 0

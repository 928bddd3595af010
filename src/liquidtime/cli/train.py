"""``liquidtime train``: train one model on one of the LTC paper's tasks.

BPTT with Adam (the paper's Algorithm 2), validation after every epoch, the
best-validation weights restored for the test, early stop on a NaN loss, a
checkpoint after every epoch (``--resume`` continues exactly), and one JSON-lines
result record per run. The option helpers here are shared with ``compare``.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if sys.version_info >= (3, 11):
    import tomllib
else:  # the same parser, as a package before Python 3.11
    import tomli as tomllib

# Only modules that import no backend here: building the parser (--help) must not
# start one. What trains is imported by the functions that run the commands.
from liquidtime._distribution_options import add_distribution_arguments
from liquidtime.cli._names import (
    MODEL_NAMES,
    NCPS_MODELS,
    PAPER_COUNTERPART,
    PRESETS,
    PROGRESS_MODES,
    RESULTS_FILE,
    SOLVER_NAMES,
)
from liquidtime.data import DatasetNotFoundError, MalformedDatasetError
from liquidtime.data.registry import TASKS, task_names

if TYPE_CHECKING:
    import keras

    from liquidtime.experiments.runner import RunConfig

_N = TypeVar("_N", int, float)

_HELP = "train one model on one task with the paper's protocol"
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
        default = action.default.value if isinstance(action.default, _Unset) else action.default
        if any(default is value for value in (None, False, argparse.SUPPRESS)) or (
            "default" in text
        ):
            return text
        return text + " (default: %(default)s)"


class _Unset:
    """The default of an option left out on the command line, told apart from a value
    given there, so that ``--config`` fills in only what the command line left out."""

    def __init__(self, value: Any):
        self.value = value

    def __str__(self) -> str:
        return str(self.value)


def positive_int(text: str) -> int:
    """argparse type: an integer > 0."""
    return _number(
        text, int, "a positive integer",
        lambda value: value > 0 and str(value) == text.strip().lstrip("+"),
    )


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    return _number(text, int, "a non-negative integer", lambda value: value >= 0)


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    return _number(
        text, float, "a positive number", lambda value: math.isfinite(value) and value > 0
    )


def _number(text: str, convert: Callable[[str], _N], expected: str, valid: Callable[[_N], bool]) -> _N:
    """``convert(text)`` if it converts and is ``valid``, else argparse's error.

    Args:
        text: The option's value on the command line.
        convert: ``int`` or ``float``.
        expected: What a valid value is, for the error ("a positive integer").
        valid: Whether a converted value is allowed.

    Returns:
        The converted value.

    Raises:
        argparse.ArgumentTypeError: "expected <expected>, got <text>".
    """
    error = argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    try:
        value = convert(text)
    except ValueError:
        raise error from None
    if not valid(value):
        raise error
    return value


def add_command(
    subparsers: argparse._SubParsersAction,
    name: str,
    summary: str,
    description: str,
    epilog: str,
    formatter_class: type[argparse.HelpFormatter] = HelpFormatter,
) -> argparse.ArgumentParser:
    """Adds the parser of sub-command ``name``, its description laid out as written.

    Args:
        subparsers: The ``liquidtime`` parser's sub-commands.
        name: The sub-command.
        summary: Its line in ``liquidtime --help``.
        description: The text above its options.
        epilog: The text below them (examples).
        formatter_class: How the help is laid out (default :class:`HelpFormatter`).

    Returns:
        The sub-command's parser, without options yet.
    """
    return subparsers.add_parser(
        name, help=summary, description=description, epilog=epilog, formatter_class=formatter_class
    )


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
    group.add_argument("--solver", choices=SOLVER_NAMES, default=None,
                       help="ODE solver of the continuous-time models (default: the preset's: "
                            "LTC fused, CT-RNN euler, Neural ODE rk4)")
    group.add_argument("--unfolds", type=positive_int, default=None, metavar="N",
                       help="solver steps per input step (default: the preset's, 6 in the paper)")
    group.add_argument("--preset", choices=PRESETS, default="default",
                       help="'default': each layer's own defaults (liquidtime.models), the LTC "
                            "that never trailed ncps's LTC in our runs (docs/reproduction.md); "
                            "'paper': the original code's model settings, to reproduce it")
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


def add_logging_arguments(parser: argparse.ArgumentParser) -> None:
    """``--tensorboard``, ``--csv``: Keras's ``TensorBoard`` and ``CSVLogger`` callbacks."""
    group = parser.add_argument_group("logging (Keras callbacks; epochs counted from 0 as in Keras)")
    group.add_argument("--tensorboard", type=Path, default=None, metavar="DIR",
                       help="write TensorBoard logs (per epoch: loss, val_<metric>) to "
                            "DIR/<run>; needs tensorflow and tensorboard installed")
    group.add_argument("--csv", type=Path, default=None, metavar="FILE",
                       help="write one CSV row per epoch (epoch, loss, val_<metric>) to FILE; "
                            "with --resume the rows are appended")


def logging_callbacks(args: argparse.Namespace, run_name: str) -> list[keras.callbacks.Callback]:
    """The ``TensorBoard`` and ``CSVLogger`` callbacks that ``--tensorboard`` and ``--csv`` ask for.

    Args:
        args: The parsed options (``tensorboard``, ``csv``, ``resume``).
        run_name: The run's name (:attr:`RunConfig.run_name`): its TensorBoard folder.

    Returns:
        The callbacks, none without those options.

    Raises:
        ValueError: If ``--tensorboard`` is given and TensorFlow or TensorBoard is not
            installed.
    """
    import keras

    callbacks: list[keras.callbacks.Callback] = []
    if args.tensorboard is not None:
        missing = [name for name in ("tensorflow", "tensorboard")
                   if importlib.util.find_spec(name) is None]
        if missing:
            raise ValueError(
                f"--tensorboard needs TensorFlow and TensorBoard (Keras's TensorBoard callback "
                f"writes with tf.summary), but {' and '.join(missing)} is not installed: "
                f"pip install {' '.join(missing)}, or leave out --tensorboard."
            )
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(args.tensorboard / run_name)))
    if args.csv is not None:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        callbacks.append(keras.callbacks.CSVLogger(str(args.csv), append=args.resume))
    return callbacks


def add_config_argument(
    parser: argparse.ArgumentParser, run: Callable[[argparse.Namespace], int]
) -> None:
    """Adds ``--config FILE`` to a command whose options are all added, and sets ``func``.

    FILE is TOML (or YAML, ``.yaml``/``.yml``, with PyYAML installed): a table whose
    keys are the command's long options without the dashes, written with dashes or
    underscores (``learning-rate = 0.01``, ``batch_size = 16``, ``resume = true``,
    ``layer-option = ["positivity=softplus"]``). Options given on the command line
    win over the file; unknown keys and bad values stop the command with exit code 2.

    Args:
        parser: The command's parser, every option already added.
        run: The command's function, called with the merged options.
    """
    parser.add_argument("--config", type=Path, default=None, metavar="FILE",
                        help="read options from a TOML file (YAML: .yaml/.yml, needs PyYAML); "
                             "keys are the long options (dashes or underscores), e.g. "
                             "'epochs = 20'; the command line wins over the file")
    actions: dict[str, argparse.Action] = {}
    required = []
    for action in parser._actions:
        if not action.option_strings or action.dest in ("help", "config"):
            continue
        if action.required:  # may come from --config instead; checked once merged
            action.required = False
            action.help = (action.help or "") + " (required, here or in --config)"
            required.append(action)
        # An append option starts from None (argparse copies the default list).
        action.default = None if isinstance(action.default, list) else _Unset(action.default)
        for option in action.option_strings:
            if option.startswith("--"):
                actions[option[2:]] = action
    parser.set_defaults(
        func=functools.partial(_run_with_config, parser, actions, required, run)
    )


def _run_with_config(
    parser: argparse.ArgumentParser,
    actions: dict[str, argparse.Action],
    required: list[argparse.Action],
    run: Callable[[argparse.Namespace], int],
    args: argparse.Namespace,
) -> int:
    """Fills the options left out on the command line from ``--config`` (or their
    defaults), checks the required ones, and calls ``run``."""
    from_file: dict[str, Any] = {}
    keys: dict[str, str] = {}
    if args.config is not None:
        for key, value in _read_config_file(parser, args.config).items():
            action = actions.get(str(key).replace("_", "-"))
            if action is None:
                parser.error(
                    f"unknown key {key!r} in --config {args.config}; the keys are the long "
                    f"options: {', '.join(sorted(actions))}"
                )
            if action.dest in keys:
                parser.error(f"keys {keys[action.dest]!r} and {key!r} in --config "
                             f"{args.config} set the same option")
            keys[action.dest] = key
            from_file[action.dest] = _value_from_file(parser, action, key, value, args.config)
    for action in dict.fromkeys(actions.values()):
        value = getattr(args, action.dest)
        if value is None and action.default is None:  # an append option left out
            setattr(args, action.dest, from_file.get(action.dest, []))
        elif isinstance(value, _Unset):
            default = value.value
            if isinstance(default, str) and callable(action.type):
                default = action.type(default)
            setattr(args, action.dest, from_file.get(action.dest, default))
    missing = ["/".join(action.option_strings) for action in required
               if getattr(args, action.dest) is None]
    if missing:
        parser.error(f"the following arguments are required: {', '.join(missing)}")
    return run(args)


def _read_config_file(parser: argparse.ArgumentParser, path: Path) -> dict[str, Any]:
    """The table of a TOML or YAML ``--config`` file; a usage error if it cannot be read."""
    try:
        data = path.read_bytes()
    except OSError as error:
        parser.error(f"cannot read --config {path}: {error.strerror}")
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            parser.error(f"reading the YAML file --config {path} needs PyYAML "
                         "(pip install pyyaml); or write it as TOML")
        try:
            table = yaml.safe_load(data)
        except yaml.YAMLError as error:
            parser.error(f"--config {path} is not valid YAML: {error}")
        table = {} if table is None else table
    else:
        try:
            table = tomllib.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            parser.error(f"--config {path} is not valid TOML: {error}")
    if not isinstance(table, dict):
        parser.error(f"--config {path} must hold a table of options (key = value), "
                     f"got a {type(table).__name__}")
    return table


def _value_from_file(
    parser: argparse.ArgumentParser, action: argparse.Action, key: str, value: Any, path: Path
) -> Any:
    """``value`` of ``key`` in the config file, converted and checked as the command line's."""
    where = f"{key} = {value!r} in --config {path}"
    if action.nargs == 0:  # a flag
        if not isinstance(value, bool):
            parser.error(f"{where}: expected true or false")
        return action.const if value else action.default.value
    if action.default is None:  # an append option (see add_config_argument)
        items = value if isinstance(value, list) else [value]
        return [_scalar_from_file(parser, action, item, where) for item in items]
    if isinstance(value, list):  # a comma-separated option such as --models
        value = ",".join(str(item) for item in value)
    return _scalar_from_file(parser, action, value, where)


def _scalar_from_file(
    parser: argparse.ArgumentParser, action: argparse.Action, value: Any, where: str
) -> Any:
    if isinstance(value, (bool, dict, list)) or value is None:
        parser.error(f"{where}: expected a single value as on the command line")
    try:
        converted = action.type(str(value)) if callable(action.type) else str(value)
    except (argparse.ArgumentTypeError, TypeError, ValueError) as error:
        parser.error(f"{where}: {error}")
    if action.choices is not None and converted not in action.choices:
        parser.error(f"{where}: invalid choice (choose from {', '.join(map(str, action.choices))})")
    return converted


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Adds the ``train`` sub-command to ``subparsers`` and returns its parser."""
    parser = add_command(subparsers, "train", _HELP, _DESCRIPTION, _epilog())
    add_data_arguments(parser)
    model = parser.add_argument_group("model")
    model.add_argument("--model", required=True, choices=MODEL_NAMES + NCPS_MODELS,
                       help="the model (liquidtime.models.MODEL_NAMES), or for comparison ncps's "
                       "PyTorch LTC or CfC (ncps-ltc, ncps-cfc; need ncps and torch)")
    model.add_argument("--seed", type=non_negative_int, default=0,
                       help="seed of the initial weights, the wiring and the epoch order")
    add_training_arguments(parser)
    add_output_arguments(parser)
    add_logging_arguments(parser)
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
    add_config_argument(parser, run)
    return parser


def config_from_args(
    args: argparse.Namespace, model: str, seed: int, solver_options: bool = True
) -> RunConfig:
    """The :class:`RunConfig` of the parsed options for one model and seed.

    With ``solver_options=False`` (models without an ODE solver, in ``compare``)
    ``--solver`` and ``--unfolds`` are left out.
    """
    from liquidtime.experiments.runner import RunConfig, parse_layer_option

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


def interrupted(command: str, saved: str, again: str) -> int:
    """Prints to stderr how to go on after Ctrl-C stopped a command; returns exit code 130.

    Args:
        command: The sub-command, e.g. ``"train"``.
        saved: What was kept, e.g. ``"the last finished epoch is checkpointed"``.
        again: How to run the command to continue: ``"with --resume"`` or ``"again"``.

    Returns:
        130.
    """
    print(f"\nliquidtime {command}: interrupted; {saved}: run the same command {again} to continue.",
          file=sys.stderr)
    return 130


EXPECTED_ERRORS = (ValueError, RuntimeError, NotImplementedError, FileNotFoundError,
                   DatasetNotFoundError, MalformedDatasetError)


def run(args: argparse.Namespace) -> int:
    """Trains the run described by ``args``; returns an exit code."""
    from liquidtime.experiments.runner import RunFinishedError, train_run
    from liquidtime.training.distributed import configure_distribution

    try:
        config = config_from_args(args, args.model, args.seed)
        callbacks = logging_callbacks(args, config.run_name)
        configure_distribution(args)
        train_run(
            config,
            callbacks=callbacks,
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
        return interrupted("train", "the last finished epoch is checkpointed", "with --resume")
    print(f"Result appended to {args.output / RESULTS_FILE}")
    return 0

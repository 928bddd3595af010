"""``liquidtime table``: our results (mean ± std over seeds) beside the LTC paper's."""

from __future__ import annotations

import argparse
from pathlib import Path

from liquidtime.cli._names import MODEL_NAMES, NCPS_MODELS
from liquidtime.cli.train import EXPECTED_ERRORS, add_command, fail
from liquidtime.data.registry import task_names

_HELP = "Markdown table of our results beside the paper's Tables 3, 4 and 6"
_DESCRIPTION = """\
Print a Markdown table of the result records written by `liquidtime train` and
`liquidtime compare`: per task, model and settings, the mean ± std of the test
metric over the seeds beside the paper's mean ± std over 5 runs (Hasani et al.,
AAAI 2021, Tables 3, 4 and 6). Accuracies are in percent, as in the paper. Runs
repeated with identical settings and seed count once (the latest record).
"""

_EPILOG = """\
examples:
  liquidtime table --results runs
  liquidtime table --results runs/occupancy/results.jsonl runs/traffic --tasks traffic
  liquidtime table --results runs --output docs/table.md
"""


def _names(allowed: tuple[str, ...], what: str):
    def parse(text: str) -> list[str]:
        names = [name.strip() for name in text.split(",") if name.strip()]
        unknown = [name for name in names if name not in allowed]
        if unknown or not names:
            raise argparse.ArgumentTypeError(
                f"unknown {what} {', '.join(map(repr, unknown)) or repr(text)}; "
                f"choose from {', '.join(allowed)}"
            )
        return names

    return parse


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Adds the ``table`` sub-command to ``subparsers`` and returns its parser."""
    parser = add_command(subparsers, "table", _HELP, _DESCRIPTION, _EPILOG)
    parser.add_argument("--results", nargs="+", type=Path, default=[Path("runs")],
                        metavar="PATH",
                        help="results files (*.jsonl) or directories searched recursively")
    parser.add_argument("--tasks", type=_names(task_names(), "task"), default=None,
                        metavar="T1,T2,...", help="only these tasks (default: all)")
    parser.add_argument("--models", type=_names(MODEL_NAMES + NCPS_MODELS, "model"), default=None,
                        metavar="M1,M2,...", help="only these models (default: all)")
    parser.add_argument("--output", type=Path, default=None, metavar="FILE",
                        help="also write the table to this file")
    parser.add_argument("--report", action="store_true",
                        help="a whole document: title, the table, the machines and versions "
                             "(how docs/results.md is made)")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Prints (and optionally writes) the table; returns an exit code."""
    from liquidtime.experiments.records import read_records
    from liquidtime.experiments.tables import markdown_report, markdown_table

    try:
        records = read_records(args.results)
    except EXPECTED_ERRORS as error:
        return fail("table", error)
    if args.tasks is not None:
        records = [record for record in records if record["task"] in args.tasks]
    if args.models is not None:
        records = [record for record in records if record["model"] in args.models]
    if args.report:
        command = "liquidtime table --results " + " ".join(str(path) for path in args.results)
        command += "".join(f" --{name} {','.join(value)}" for name, value in
                           (("tasks", args.tasks), ("models", args.models)) if value)
        command += " --report" + (f" --output {args.output}" if args.output else "")
        table = markdown_report(records, command)
    else:
        table = markdown_table(records)
    print(table, end="")
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(table)
    return 0

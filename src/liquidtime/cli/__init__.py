"""The ``liquidtime`` command line: one sub-command per module in this package.

Each command module exposes ``register(subparsers)``, which adds its parser and sets
``func`` (a callable taking the parsed arguments and returning an exit code).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import sys
from collections.abc import Sequence

_COMMAND_MODULES = ("train", "compare", "reproduce", "table", "expressivity", "export")


def build_parser() -> argparse.ArgumentParser:
    """Returns the top-level parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="liquidtime",
        description=(
            "Train and evaluate Liquid Time-Constant networks and their relatives on the "
            "LTC paper's tasks, and analyse them."
        ),
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {importlib.metadata.version('liquidtime')}"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in _COMMAND_MODULES:
        importlib.import_module(f"liquidtime.cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``liquidtime`` console script."""
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())

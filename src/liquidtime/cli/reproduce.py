"""``liquidtime reproduce``: the paper's table for one task at the paper's protocol."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from liquidtime.cli._names import PROGRESS_MODES, RESULTS_FILE
from liquidtime.cli.compare import RUNS_SAVED, model_list, run_campaign
from liquidtime.cli.train import (
    EXPECTED_ERRORS,
    add_command,
    add_data_arguments,
    fail,
    interrupted,
    positive_int,
)

TABLE_FILE = "table.md"

_HELP = "the paper's protocol for every model and seed of one task, then the table"
_DESCRIPTION = f"""\
Run every model and seed of the LTC paper's protocol on one task (200 epochs,
the paper's batch size and learning rates, best-validation test metric) and
end with the table beside the paper's numbers.

Models: the LTC under both presets ('paper', the original code's settings, and
'default', the layer's own), the LSTM, the CfC and ncps's LTC (ncps-ltc) with 5
seeds; the dense LTC, CT-RNN, Neural ODE and CT-GRU with 3 seeds. On power and
smnist (hours per run on a CPU): the two LTCs, the LSTM and the CfC with 3 seeds.
--ablations adds the LTC's preset ablations (one setting switched at a time).

Results go to OUTPUT/TASK/{RESULTS_FILE}. The command is always resumable: runs
already finished there are reused and interrupted ones continue from their last
epoch, so run it again after any interruption.
"""

_EPILOG = """\
examples:
  liquidtime reproduce --task ozone --data-dir ~/ltc-data --jobs 2
  liquidtime reproduce --task occupancy --list
  liquidtime reproduce --task traffic --models ltc,ncps-ltc --data-dir ~/ltc-data
"""


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Adds the ``reproduce`` sub-command to ``subparsers`` and returns its parser."""
    parser = add_command(subparsers, "reproduce", _HELP, _DESCRIPTION, _EPILOG)
    add_data_arguments(parser)
    plan = parser.add_argument_group("what runs (default: the paper's protocol)")
    plan.add_argument("--models", type=model_list, default=None, metavar="M1,M2,...",
                      help="only these models of the plan")
    plan.add_argument("--seeds", type=positive_int, default=None, metavar="N",
                      help="seeds per model instead of the plan's 5 or 3 (quick checks)")
    plan.add_argument("--epochs", type=positive_int, default=None, metavar="N",
                      help="epochs instead of the paper's 200 (quick checks)")
    plan.add_argument("--batch-size", type=positive_int, default=None, metavar="N",
                      help="batch size instead of the paper's (quick checks on small data)")
    plan.add_argument("--ablations", action="store_true",
                      help="also the LTC's preset ablations (one setting switched at a time)")
    plan.add_argument("--list", action="store_true",
                      help="print the planned runs and which are finished, and stop")
    output = parser.add_argument_group("output")
    output.add_argument("--output", type=Path, default=Path("results/paper"), metavar="DIR",
                        help="the records go to DIR/TASK/ (default: results/paper)")
    output.add_argument("--jobs", type=positive_int, default=1, metavar="N",
                        help="runs trained at once in worker processes")
    output.add_argument("--progress", choices=PROGRESS_MODES, default="epoch",
                        help="per run: 'epoch' a line per epoch, 'none' quiet")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Runs (or lists) the reproduction described by ``args``; returns an exit code."""
    from liquidtime.experiments.campaign import finished_records
    from liquidtime.experiments.reproduction import reproduction_configs
    from liquidtime.experiments.tables import markdown_table

    started = time.perf_counter()
    output = args.output / args.task
    try:
        configs = reproduction_configs(
            args.task,
            seeds=args.seeds,
            epochs=args.epochs,
            batch_size=args.batch_size,
            models=args.models,
            max_train_windows=args.max_train_windows,
            protocol=args.protocol,
            ablations=args.ablations,
        )
        done = finished_records(output)
        finished = sum(config.run_key in done for config in configs)
        print(f"liquidtime reproduce {args.task}: {len(configs)} runs planned, {finished} already "
              f"finished in {output}, {len(configs) - finished} to run.", flush=True)
        if args.list:
            for config in configs:
                mark = "done" if config.run_key in done else "todo"
                options = f" {dict(config.layer_options)}" if config.layer_options else ""
                print(f"  [{mark}] {config.model} preset {config.preset} seed {config.seed}{options}")
            return 0
        records = run_campaign(args, configs, output, resume=True)
    except EXPECTED_ERRORS as error:
        return fail("reproduce", error)
    except KeyboardInterrupt:
        return interrupted("reproduce", RUNS_SAVED, "again")
    # The table of every finished run of the task, also those of models not selected now.
    table = markdown_table(list({**finished_records(output), **_by_key(records)}.values()))
    (output / TABLE_FILE).write_text(table)
    print()
    print(table)
    print(f"Wall time {time.perf_counter() - started:.1f} s. Wrote {output / RESULTS_FILE} and "
          f"{output / TABLE_FILE}.")
    return 0


def _by_key(records: list[dict]) -> dict[str, dict]:
    """``records`` by their ``run_key``."""
    return {record["run_key"]: record for record in records}

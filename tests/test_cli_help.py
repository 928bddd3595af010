"""``liquidtime --help`` imports no backend, and the names its options offer are the library's."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from liquidtime.cli import _names

_COMMANDS = ("train", "compare", "reproduce", "table", "expressivity", "export")

_HELP_WITHOUT_BACKEND = """
import contextlib, io, sys
sys.argv = ["/venv/bin/liquidtime", "--help"]  # as pip's launcher of the command runs
from liquidtime.cli import build_parser, main
for argv in [["--help"]] + [[command, "--help"] for command in {commands!r}]:
    with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.suppress(SystemExit):
        main(argv)
    assert "usage: liquidtime" in out.getvalue(), argv
build_parser()
loaded = sorted(set(sys.modules) & {{"keras", "jax", "tensorflow", "torch"}})
assert not loaded, loaded
print("no backend")
"""


def test_help_imports_no_backend():
    """The parser and every command's ``--help``, in a fresh process."""
    result = subprocess.run(
        [sys.executable, "-c", _HELP_WITHOUT_BACKEND.format(commands=_COMMANDS)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "no backend"


def test_import_liquidtime_registers_every_class_and_the_command_defers_it():
    eager = (
        "import sys, liquidtime\n"
        "assert 'keras' in sys.modules\n"
        "import keras\n"
        "assert keras.saving.get_registered_object('liquidtime>CfC') is liquidtime.CfC\n"
        "assert 'import_all' in dir(liquidtime) and 'CTGRU' in dir(liquidtime)\n"
    )
    deferred = (
        "import sys\n"
        "sys.argv = ['/venv/bin/liquidtime']\n"
        "import liquidtime\n"
        "assert 'keras' not in sys.modules\n"
        "assert liquidtime.LTC.__name__ == 'LTC' and 'keras' in sys.modules\n"
    )
    for script in (eager, deferred):
        result = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, result.stderr[-3000:]


def test_unknown_names_raise_attribute_error():
    import liquidtime

    with pytest.raises(AttributeError, match="has no attribute 'NoSuchLayer'"):
        _ = liquidtime.NoSuchLayer


def test_option_names_are_the_librarys():
    """Each name list of :mod:`liquidtime.cli._names` equals the one it stands for."""
    from liquidtime import deploy, models, solvers
    from liquidtime.analysis import integration, networks, sweeps
    from liquidtime.experiments import ncps_runner, plots, records, runner

    assert _names.MODEL_NAMES == models.MODEL_NAMES
    assert tuple(_names.PRESETS) == tuple(models.PRESETS)
    assert _names.PAPER_COUNTERPART == runner.PAPER_COUNTERPART
    assert _names.PROGRESS_MODES == runner.PROGRESS_MODES
    assert _names.NCPS_MODELS == ncps_runner.NCPS_MODELS
    assert _names.RESULTS_FILE == records.RESULTS_FILE
    assert _names.PLOT_X_AXES == plots.X_AXES
    assert _names.SOLVER_NAMES == tuple(solvers.SOLVERS)
    assert _names.EXPORT_FORMATS == tuple(deploy.FORMATS)
    assert _names.EXPORT_FUNCTIONS == tuple(deploy.FUNCTIONS)
    assert _names.EXPRESSIVITY_SOLVERS == integration.SOLVERS
    assert _names.EXPRESSIVITY_ACTIVATIONS == networks.ACTIVATIONS
    assert _names.EXPRESSIVITY_HARD_TANH_FLAVOURS == networks.HARD_TANH_FLAVOURS
    assert _names.EXPRESSIVITY_LTC_DECAYS == networks.LTC_DECAYS
    assert _names.EXPRESSIVITY_MODELS == networks.MODELS
    assert _names.EXPRESSIVITY_SWEEPS == sweeps.SWEEPS
    assert _names.EXPRESSIVITY_SWEEP_VALUES == dict(sweeps.SWEEP_VALUES)


def test_distribution_options_are_reexported():
    from liquidtime._distribution_options import add_distribution_arguments
    from liquidtime.training import distributed

    assert distributed.add_distribution_arguments is add_distribution_arguments

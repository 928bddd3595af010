"""``liquidtime --version`` prints the installed package's version."""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
import sys
from pathlib import Path

import liquidtime


def test_version_is_the_installed_metadata_version():
    script = shutil.which("liquidtime", path=str(Path(sys.executable).parent))
    assert script is not None, "the liquidtime console script is not installed beside Python"
    result = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    version = importlib.metadata.version("liquidtime")
    assert result.stdout.strip() == f"liquidtime {version}"
    assert liquidtime.__version__ == version  # the package and its metadata agree

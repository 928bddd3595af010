"""Kept for ``liquidtime.cli.expressivity`` only: the checks are in :mod:`liquidtime._validation`.

Delete this module once the command imports ``positive_int`` from there.
"""

from __future__ import annotations

from liquidtime._validation import positive_int as check_positive_int

__all__ = ["check_positive_int"]

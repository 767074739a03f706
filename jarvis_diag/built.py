"""The compiled helpers of ``jarvis_diag/_records.c``, or None where they were not compiled
(the callers then do the same work in Python)."""

from __future__ import annotations

from types import ModuleType

RECORDS_VERSION = 7  # the VERSION of the _records.c this code expects

compiled: ModuleType | None
try:
    from jarvis_diag import _records as compiled
except ImportError:  # pragma: no cover - a machine without a C compiler
    compiled = None
if compiled is not None and getattr(compiled, "VERSION", 0) != RECORDS_VERSION:  # built from an older _records.c
    compiled = None

"""jarvis-diag: find out why Socket.IO long connections in multi-session chat apps fail
to recover, from the logs both sides write.

The library API (the ``jarvis-diag`` CLI is a thin layer over it)::

    from jarvis_diag.ingest import ingest
    result = ingest(["logs/"])          # files, directories, globs, "-"
    result.events                        # one typed row per event (events.COLUMNS)

``jarvis_diag.ingest`` stays the module (``jarvis_diag.ingest.ingest``); the function is
also re-exported here as ``ingest_logs``.
"""

from jarvis_diag.errors import DiagError
from jarvis_diag.events import COLUMNS, KINDS, Event
from jarvis_diag.ingest import Ingested, SourceInfo, read_events
from jarvis_diag.ingest import ingest as ingest_logs
from jarvis_diag.logs import detect_format, parse_line, parse_text
from jarvis_diag.zone import ZoneInfo

__all__ = [
    "COLUMNS",
    "KINDS",
    "DiagError",
    "Event",
    "Ingested",
    "SourceInfo",
    "ZoneInfo",
    "detect_format",
    "ingest_logs",
    "parse_line",
    "parse_text",
    "read_events",
]

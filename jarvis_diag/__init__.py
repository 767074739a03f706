"""jarvis-diag: find out why Socket.IO long connections in multi-session chat apps fail
to recover, from the logs both sides write.

The library API (the ``jarvis-diag`` CLI is a thin layer over it), for scripts and notebooks::

    import jarvis_diag as jd
    events = jd.read_events(["logs/"])        # one typed row per log line (events.COLUMNS)
    tl = jd.load_timeline(["logs/"])          # clocks aligned, correlated
    tl.connections, tl.attaches, tl.episodes, tl.findings   # DataFrames
    cycles = jd.load_results("sim-out/")      # simulate-mobile results, one row per cycle
    jd.make_report(["sim-out/"], compare=["before/"])        # latency report (renders itself)
    jd.plot_waterfall(tl, finding="F1"); jd.plot_cdf({"switch": tl.attaches.latency_ms})

``jarvis_diag.ingest`` stays the module (``jarvis_diag.ingest.ingest``); the function is
also re-exported here as ``ingest_logs``. The heavier parts (timeline, report, plots) load
on first use, so ``import jarvis_diag`` stays quick.
"""

from importlib import import_module

from jarvis_diag.errors import DiagError
from jarvis_diag.events import COLUMNS, KINDS, Event
from jarvis_diag.ingest import Ingested, SourceInfo, read_events
from jarvis_diag.ingest import ingest as ingest_logs
from jarvis_diag.logs import detect_format, parse_line, parse_text
from jarvis_diag.zone import ZoneInfo

# name -> module that defines it, imported when first asked for
_LAZY = {
    "Timeline": "jarvis_diag.timeline",
    "build_timeline": "jarvis_diag.timeline",
    "load_timeline": "jarvis_diag.timeline",
    "Report": "jarvis_diag.report",
    "make_report": "jarvis_diag.report",
    "load_results": "jarvis_diag.results",
    "session_results": "jarvis_diag.results",
    "plot_waterfall": "jarvis_diag.plots",
    "plot_cdf": "jarvis_diag.plots",
    "waterfall_frame": "jarvis_diag.plots",
}


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'jarvis_diag' has no attribute {name!r}")


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
    *_LAZY,
]

"""jarvis-diag: find out why Socket.IO long connections in multi-session chat apps fail
to recover, from the logs both sides write.

The library API (the ``jarvis-diag`` CLI is a thin layer over it), for scripts and notebooks::

    import jarvis_diag as jd
    events = jd.read_events(["logs/"])        # one typed row per log line (events.COLUMNS)
    tl = jd.load_timeline(["logs/"])          # clocks aligned, correlated
    tl.connections, tl.attaches, tl.episodes, tl.findings   # DataFrames
    cycles = jd.load_results("sim-out/")      # simulate-mobile results, one row per cycle
    jd.make_report(["sim-out/"], compare=["before/"])        # latency report (renders itself)
    jd.plot_waterfall(tl, finding="F1")
    jd.plot_cdf({kind: a.latency_ms for kind, a in tl.attaches.groupby("kind", observed=True)})

``jarvis_diag.ingest`` stays the module (``jarvis_diag.ingest.ingest``); the function is
also re-exported here as ``ingest_logs``. Everything that needs pandas (ingest, timeline,
report, plots) loads on first use, so ``import jarvis_diag`` stays quick.
"""

from importlib import import_module

from jarvis_diag.errors import DiagError, DiagWarning
from jarvis_diag.events import COLUMNS, KINDS, Event

# name -> module that defines it (or (module, its name there)), imported when first asked
# for: the command line starts without pandas, and a Ctrl-C while it loads is a clean stop
_LAZY = {
    "Ingested": "jarvis_diag.ingest",
    "SourceInfo": "jarvis_diag.ingest",
    "read_events": "jarvis_diag.told",
    "ingest_logs": ("jarvis_diag.ingest", "ingest"),
    "detect_format": "jarvis_diag.logs",
    "parse_line": "jarvis_diag.logs",
    "parse_text": "jarvis_diag.logs",
    "ZoneInfo": "jarvis_diag.zone",
    "Timeline": "jarvis_diag.timeline",
    "build_timeline": "jarvis_diag.timeline",
    "load_timeline": "jarvis_diag.told",
    "Report": "jarvis_diag.report",
    "make_report": "jarvis_diag.report",
    "load_results": "jarvis_diag.results",
    "session_results": "jarvis_diag.results",
    "plot_waterfall": "jarvis_diag.plots",
    "plot_cdf": "jarvis_diag.plots",
    "waterfall_frame": "jarvis_diag.plots",
}


def __getattr__(name: str):
    if name == "__version__":  # (the installed distribution's, read when asked for)
        from importlib.metadata import version

        return version("jarvis-diag")
    if name in _LAZY:
        module, attr = _LAZY[name] if isinstance(_LAZY[name], tuple) else (_LAZY[name], name)
        value = getattr(import_module(module), attr)
        globals()[name] = value
        return value
    try:  # a submodule: ``jarvis_diag.ingest`` stays the module
        return import_module(f"jarvis_diag.{name}")
    except ModuleNotFoundError:
        raise AttributeError(f"module 'jarvis_diag' has no attribute {name!r}") from None


def __dir__() -> list[str]:
    # (the lazy names too: a notebook's tab completion of ``jd.lo`` offered nothing)
    return sorted({*globals(), *_LAZY, "__version__"})


__all__ = ["COLUMNS", "KINDS", "DiagError", "DiagWarning", "Event", *_LAZY]

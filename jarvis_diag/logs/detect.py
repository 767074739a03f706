"""Which format a file holds, from its first lines."""

from __future__ import annotations

from collections import Counter

from jarvis_diag.frames import EVENT_SCHEMA
from jarvis_diag.logs import backend, console, frontend, panel

FORMATS = ("backend", "frontend", "panel", "console", "jsonl")
SIM_SCHEMA = "jarvis-diag.sim/1"
SIM_RESULTS = "sim-results"  # simulate-mobile's results.jsonl: not a log


def detect_format(first_lines: list[str]) -> str:
    """``backend | frontend | panel | console | jsonl``, or ``sim-results`` for a
    simulation's results file. A captured stdout file (backend lines plus uvicorn console
    lines) is ``backend``; a file with no known line defaults to ``backend``."""
    votes: Counter[str] = Counter()
    for line in first_lines:
        s = line.lstrip("\ufeff").rstrip("\r\n")
        if not s.strip():
            continue
        if s.lstrip().startswith("{"):
            if f'"{EVENT_SCHEMA}"' in s:
                votes["jsonl"] += 1
            elif f'"{SIM_SCHEMA}"' in s:
                votes[SIM_RESULTS] += 1
        elif backend.PREFIX_RE.match(s):
            votes["backend"] += 1
        elif frontend.PREFIX_RE.match(s):
            votes["frontend"] += 1
        elif panel.PREFIX_RE.match(s):
            votes["panel"] += 1
        elif console.LINE_RE.match(s):
            votes["console"] += 1
    if not votes:
        return "backend"
    if votes["backend"] and votes["console"]:
        return "backend"
    return votes.most_common(1)[0][0]

"""Which format a file holds, from its first lines."""

from __future__ import annotations

from collections import Counter

from jarvis_diag.frames import EVENT_SCHEMA
from jarvis_diag.logs import backend, console, frontend, journal_json, panel, prefixed

FORMATS = ("backend", "frontend", "panel", "console", "jsonl")
SIM_SCHEMA = "jarvis-diag.sim/1"
SIM_RESULTS = "sim-results"  # simulate-mobile's results.jsonl: not a log


def detect_format(first_lines: list[str]) -> str:
    """``backend | frontend | panel | console | jsonl``, or ``sim-results`` for a
    simulation's results file. A captured stdout file (backend lines plus uvicorn console
    lines) is ``backend``; a file with no known line defaults to ``backend``."""
    return _choose(_votes(first_lines))


def detect_with_prefix(first_lines: list[str], more_lines: list[str] | None = None) -> tuple[str, str | None]:
    """(format, prefix): as :func:`detect_format`, and for a file none of whose first lines
    is a log line, the collector's prefix its lines carry (``journal``, ``docker``...: see
    :mod:`logs.prefixed`) when they do, the backend's log behind it; ``journal-json`` for
    a journal export (:mod:`logs.journal_json`). ``more_lines``: the lines the prefix is
    looked for in (default: ``first_lines``); another service's lines may come first in a
    collector's output."""
    return detect_head(first_lines, more_lines)[:2]


def detect_head(first_lines: list[str], more_lines: list[str] | None = None) -> tuple[str, str | None, bool]:
    """:func:`detect_with_prefix`, and whether the lines are a log collector's output with
    no line of the backend's among them, nor any other log line jarvis-diag reads: its
    backend's lines, if it has any, come later (the prefix is to be looked for further on)."""
    votes = _votes(first_lines)
    if votes:
        return _choose(votes), None, False
    if journal_json.detect(first_lines):
        return "backend", journal_json.NAME, False
    more = first_lines if more_lines is None else more_lines
    shape = prefixed.detect(more)
    return "backend", shape, shape is None and prefixed.carried(more) is not None


def log_lines_among(first_lines: list[str]) -> bool:
    """Whether any of a file's first lines is one jarvis-diag reads: a line of the backend's
    or a page's log (behind a collector's prefix or not), a journal entry, an event's."""
    return bool(_votes(first_lines)) or journal_json.detect(first_lines) or prefixed.detect(first_lines) is not None


def _votes(first_lines: list[str]) -> Counter[str]:
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
    return votes


def _choose(votes: Counter[str]) -> str:
    if not votes:
        return "backend"
    if votes["backend"] and votes["console"]:
        return "backend"
    return votes.most_common(1)[0][0]

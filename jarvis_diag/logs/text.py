"""The reference parser of text logs: one Python step per line.

Every line is recognised by its own prefix, so a file that mixes formats (a user's
concatenation of app.log and a frontend log) parses line by line:

* ``YYYY-MM-DD HH:MM:SS,mmm - ...``   backend (server local time)
* ``[YYYY-MM-DDTHH:MM:SS.mmmZ] ...``  frontend (browser clock, UTC)
* ``[HH:MM:SS.mmm] ...``              debug panel (browser local time of day)
* ``INFO:     ...``                    uvicorn console (no time: carried from the line before)
* anything else: a continuation of the event before (a traceback) or an ``unknown`` event.
  Before the file's first line of a known shape there is no event for a traceback to
  belong to: each line there is an ``unknown`` event (a file that is no log: a JSON
  document's indented lines are not one event).

The result is :class:`RawColumns`: times still on the writer's clock kind (see ``CLOCK_*``)
so that the ingestion can apply the backend zone and the panel's date once it knows them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from jarvis_diag.logs import backend, console, frontend, panel
from jarvis_diag.logs.shapes import classify, tag_of

try:  # (the compiled loops, when the package was built with a C compiler)
    from jarvis_diag.logs._scan import strip_codes as _strip_codes
except ImportError:
    _strip_codes = None

# How a row's raw time must be read.
CLOCK_UTC = 0  # epoch seconds, UTC
CLOCK_LOCAL = 1  # server local time read as if UTC: subtract the zone offset
CLOCK_DAY = 2  # seconds since local midnight: add the date, subtract the zone offset

SOURCE_CLOCK = {"backend": CLOCK_LOCAL, "console": CLOCK_LOCAL, "frontend": CLOCK_UTC, "panel": CLOCK_DAY}
FORMAT_SOURCE = {"backend": "backend", "console": "console", "frontend": "frontend", "panel": "panel"}

# A line is kept whole up to MAX_LINE characters: a message padded to megabytes (a pasted file,
# an image as a data URL) is still one line of a log, and is read and classified as such. Only
# what no log line is (a file with no newline at all, binary data) is longer: such a line keeps
# its first MAX_LINE characters, and is counted (``long_lines``) and warned about.
MAX_LINE = 64 * 1024 * 1024
MAX_LINE_NAME = "64 MiB"  # (MAX_LINE as the warning says it)
# A terminal's colour and style codes (ECMA-48 CSI sequences: ``ESC [ ... m``): a log captured
# from a terminal has them (uvicorn and colouring log handlers colour the level when they
# write to one). They say how a line looked, not what it says: they are removed before parsing.
_TERMINAL_CODE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")
_TERMINAL_CODE_BYTES = re.compile(_TERMINAL_CODE.pattern.encode())  # (the same, for bytes)
_CONTINUATION_START = re.compile(r"[ \t]|Traceback \(most recent call last\)")


@dataclass
class RawColumns:
    """Parsed rows of one file before zone/date are applied. ``columns`` holds event
    columns (``t_source`` raw, see ``clock``); the counters feed :class:`SourceInfo`."""

    columns: dict[str, list[Any]]
    clock: list[int]
    lines: int = 0
    bad_lines: int = 0
    long_lines: int = 0
    truncated: bool = False
    notes: list[str] = field(default_factory=list)
    rows: Any = None  # the fast parser's FastRows: builds the other columns in a given order

    def __len__(self) -> int:
        return len(self.clock)


def strip_terminal_codes(data: bytes | bytearray) -> tuple[bytes | bytearray, int]:
    """(``data`` without terminal colour codes, how many there were); ``data`` itself when
    it has none. A bytearray is changed in place (with the compiled loops)."""
    # (ESC alone first: a one-byte search is a memchr, 0.014 s on 212 MB; the two-byte one took 0.18 s)
    if b"\x1b" not in data or b"\x1b[" not in data:
        return data, 0
    if _strip_codes is not None:  # (one pass, no copy: the regular expression takes 4 ms a MB)
        out = data if isinstance(data, bytearray) else bytearray(data)
        return out, _strip_codes(out)
    out, n = _TERMINAL_CODE_BYTES.subn(b"", data)
    return (bytearray(out) if isinstance(data, bytearray) else out), n


def clean(line: str) -> tuple[str, bool, bool]:
    """(text to keep, was it bad: NUL/undecodable bytes, was it cut to MAX_LINE); terminal
    colour codes removed."""
    if "\x1b[" in line:
        line = _TERMINAL_CODE.sub("", line)
    long = len(line) > MAX_LINE
    if long:
        line = line[:MAX_LINE]
    bad = "\x00" in line or "\ufffd" in line
    if "\x00" in line:
        line = line.replace("\x00", "")
    return line, bad, long


def split_line(line: str) -> tuple[str, float | None, str | None, str | None, str] | None:
    """(source, raw time, logger, level, message) of a line with a known prefix, else None
    (also for an impossible date such as month 13: such a line is not what it looks like)."""
    try:
        return _split_line(line)
    except ValueError:
        return None


def _split_line(line: str) -> tuple[str, float | None, str | None, str | None, str] | None:
    c = line[:1]
    if c.isdigit():
        parts = backend.split(line)
        if parts:
            ts, logger, level, message = parts
            return "backend", backend.local_seconds(ts), logger, level, message
    elif c == "[":
        parts = frontend.split(line)
        if parts:
            ts, level, message = parts
            return "frontend", frontend.utc_seconds(ts), None, level, message
        parts = panel.split(line)
        if parts:
            ts, level, message = parts
            return "panel", panel.day_seconds(ts), None, level, message
    else:
        parts = console.split(line)
        if parts:
            level, message = parts
            return "console", None, "uvicorn", level, message
    return None


def row_of(source: str, logger: str | None, level: str | None, message: str) -> dict[str, Any]:
    kind, shape, fields = classify(source, message, logger)
    fields.update(kind=kind, shape=shape, source=source, logger=logger, level=level, tag=tag_of(message, logger))
    return fields


def parse_lines(lines: Iterable[str], fmt: str, path: str = "-", client: str | None = None) -> RawColumns:
    """Parse text lines (without their newline) of a file of format ``fmt``."""
    rows: list[dict[str, Any]] = []
    clocks: list[int] = []
    raw = RawColumns({}, clocks)
    default_source = FORMAT_SOURCE.get(fmt, "backend")
    last_time: float | None = None
    last_clock = SOURCE_CLOCK[default_source]
    last_source = default_source
    in_traceback = False
    known = False  # a line with a known prefix was read: what a traceback's lines can belong to
    tracebacks: dict[int, list[str]] = {}  # row -> the lines that continue it (joined once, at the end)
    lineno = 0
    for lineno, line in enumerate(lines, 1):  # noqa: B007 - lineno is the count after the loop
        text, bad, long = clean(line.rstrip("\r"))
        raw.bad_lines += bad
        raw.long_lines += long
        parts = split_line(text)
        if parts is None:
            if not text.strip():
                continue
            if known and (in_traceback or _CONTINUATION_START.match(text)):
                tracebacks.setdefault(len(rows) - 1, []).append(text)
                in_traceback = True
                continue
            row = {"kind": "unknown", "source": last_source, "logger": None, "level": None,
                   "tag": tag_of(text), "shape": None}
            row["t_source"] = last_time
            clocks.append(last_clock)
        else:
            in_traceback, known = False, True
            source, t, logger, level, message = parts
            row = row_of(source, logger, level, message)
            if t is None:  # console: takes the time of the timestamped line before it
                row["t_source"] = last_time
                clocks.append(last_clock)
            else:
                row["t_source"] = last_time = t
                last_clock = SOURCE_CLOCK[source]
                last_source = source
                clocks.append(last_clock)
        row["text"] = text
        row["line"] = lineno
        if client is not None and row["source"] in ("frontend", "panel") and row.get("client") is None:
            row["client"] = client
        rows.append(row)
    raw.lines = lineno
    for i, more in tracebacks.items():
        rows[i]["traceback"] = "\n".join(more)
    _backfill_times(rows, clocks)
    names = {k for r in rows for k in r}
    raw.columns = {k: [r.get(k) for r in rows] for k in names}
    raw.columns["path"] = [path] * len(rows)
    return raw


def _backfill_times(rows: list[dict[str, Any]], clocks: list[int]) -> None:
    """Rows before the first timestamped line take the first time that follows them."""
    for i, row in enumerate(rows):
        if row["t_source"] is not None:
            for j in range(i):
                rows[j]["t_source"] = row["t_source"]
                clocks[j] = clocks[i]
            return




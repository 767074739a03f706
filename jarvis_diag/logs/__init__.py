"""Log formats: one module per format, :mod:`detect` to tell them apart, and the two
entry points the rest of the package uses.

* :func:`parse_text` - a whole text (or list of lines) into the events DataFrame (pure);
* :func:`parse_line` - one line into an :class:`events.Event`, for streams.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Iterable, Sequence
from datetime import date

import numpy as np
import pandas as pd

from jarvis_diag import frames
from jarvis_diag.events import Event
from jarvis_diag.logs import fast, journal_json, jsonl, prefixed
from jarvis_diag.logs.detect import FORMATS, detect_format
from jarvis_diag.logs.text import (
    CLOCK_DAY,
    CLOCK_LOCAL,
    SOURCE_CLOCK,
    RawColumns,
    clean,
    parse_lines,
    row_of,
    split_line,
)
from jarvis_diag.zone import OffsetChange, local_offsets

__all__ = ["ENGINES", "FORMATS", "parse_raw", "detect_format", "parse_line", "parse_text", "raw_to_frame", "utc_times"]

_DAY_S = 86400


def _midnight(day: date | str | None) -> float | None:
    if day is None:
        return None
    d = date.fromisoformat(day) if isinstance(day, str) else day
    return float(calendar.timegm((d.year, d.month, d.day, 0, 0, 0, 0, 0, 0)))


def utc_times(raw_t: np.ndarray, clock: np.ndarray, *, offset_minutes: int = 0,
              offset_changes: Sequence[OffsetChange] = (), panel_date: date | str | None = None,
              panel_offset_minutes: int | None = None, consume: bool = False) -> np.ndarray:
    """UTC epoch seconds from raw times and their clock kinds (see :mod:`logs.text`).

    Backend local times are ``offset_minutes`` east of UTC, then each of ``offset_changes``'s
    offset from its instant on (the rows are one file's, in its order: see
    :func:`zone.local_offsets`).

    Panel times (time of day) get ``panel_date`` (a run past midnight moves to the next
    day) and ``panel_offset_minutes`` (default: the backend's); without a date they stay NaN.
    ``consume``: ``raw_t`` (float64) is the caller's to give away: it is changed in place.
    """
    t = np.asarray(raw_t, dtype="float64")
    if not (consume and t is raw_t and t.flags.writeable):
        t = t.copy()
    clock = np.asarray(clock, dtype="int8")
    local = clock == CLOCK_LOCAL
    if offset_changes:
        rows = np.flatnonzero(local)
        t[rows] -= local_offsets(t[rows], offset_minutes, offset_changes) * 60
    elif offset_minutes:
        np.subtract(t, offset_minutes * 60, out=t, where=local)
    day = clock == CLOCK_DAY
    if day.any():
        midnight = _midnight(panel_date)
        if midnight is None:
            t[day] = math.nan
        else:
            secs = t[day]
            # the clock going back by more than half a day means the copy ran past midnight
            wraps = np.concatenate([[0], np.cumsum(np.diff(secs) < -_DAY_S / 2)])
            pan = offset_minutes if panel_offset_minutes is None else panel_offset_minutes
            t[day] = midnight + secs + wraps * _DAY_S - pan * 60
    return t


def raw_to_frame(raw: RawColumns, **clock_options) -> pd.DataFrame:
    """The events frame of parsed rows, with times made UTC (see :func:`utc_times`)."""
    cols = dict(raw.columns)
    if raw.rows is not None:
        cols = {**cols, **raw.rows.columns(None)}
    if len(raw):
        t = cols["t_source"]
        t = np.asarray(frames.nan_list(t) if isinstance(t, list) else t, dtype="float64")
        cols["t_source"] = utc_times(t, np.asarray(raw.clock), **clock_options)
    return frames.events_from_columns(cols, len(raw)) if len(raw) else frames.empty_events()


def _as_lines(text_or_lines: str | Iterable[str]) -> Iterable[str]:
    if isinstance(text_or_lines, str):
        return text_or_lines.split("\n") if text_or_lines else []
    return (line.rstrip("\n") for line in text_or_lines)


# fast: whole-file array work (with the compiled loops when built); numpy: the same without
# them; reference: one line at a time, what the other two are checked against.
ENGINES = ("fast", "numpy", "reference")


def parse_raw(data: bytes | bytearray, fmt: str, path: str = "-", client: str | None = None, *,
              engine: str = "fast", consume: bool = False, memo: dict | None = None) -> RawColumns:
    """Rows of a text log's bytes with raw times (see :mod:`logs.text`), by either parser.
    ``consume``: the bytes may be reused for the rows; ``memo``: message classifications
    shared by the files of one reading (see :func:`fast.parse_bytes`)."""
    if engine in ("fast", "numpy"):
        return fast.parse_bytes(data, fmt, path, client, compiled=engine == "fast", consume=consume, memo=memo)
    if engine != "reference":
        raise ValueError(f"unknown parser engine {engine!r} (one of {', '.join(ENGINES)})")
    text = data.decode("utf-8", errors="replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\n")
    cut = lines[-1] != ""
    if not cut:
        lines.pop()
    raw = parse_lines(lines, fmt, path, client)
    raw.truncated = cut
    return raw


def parse_text(text_or_lines: str | bytes | Iterable[str], fmt: str, path: str = "-", *, client: str | None = None,
               offset_minutes: int = 0, panel_date: date | str | None = None,
               panel_offset_minutes: int | None = None, engine: str = "fast") -> pd.DataFrame:
    """Parse a log's text (or its lines, or its bytes) of format ``fmt`` into the events DataFrame.

    Backend local times are shifted by ``offset_minutes`` (minutes east of UTC, default 0);
    panel times need ``panel_date``. Rows keep file order (no sorting, no dedup).
    ``engine="reference"`` uses the one-line-at-a-time parser the fast one is checked against.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown log format {fmt!r} (one of {', '.join(FORMATS)})")
    if fmt == "jsonl":
        if isinstance(text_or_lines, bytes):
            text_or_lines = text_or_lines.decode("utf-8", errors="replace")
        _, rows = jsonl.parse_lines(_as_lines(text_or_lines), path)
        return frames.events_from_records(rows)
    if isinstance(text_or_lines, bytes):
        data = text_or_lines
    elif isinstance(text_or_lines, str):
        data = text_or_lines.encode("utf-8", errors="replace")
    else:
        data = "".join(line if line.endswith("\n") else line + "\n" for line in text_or_lines).encode(
            "utf-8", errors="replace")
    raw = parse_raw(data, fmt, path, client, engine=engine)
    return raw_to_frame(raw, offset_minutes=offset_minutes, panel_date=panel_date,
                        panel_offset_minutes=panel_offset_minutes)


def parse_line(line: str, fmt: str, path: str = "-", lineno: int = 0, *, client: str | None = None,
               offset_minutes: int = 0, panel_date: date | str | None = None,
               panel_offset_minutes: int | None = None) -> Event | None:
    """One line as an Event, or None for a blank line or a traceback continuation
    (an indented line or ``Traceback ...``): those belong to the event before. A backend
    line behind a collector's prefix (see :mod:`logs.prefixed`) reads as the line behind it,
    ``text`` the whole line; a journal entry (:mod:`logs.journal_json`) as the line
    journalctl shows for it (its message's first line behind its time and service).

    ``t_source`` is UTC epoch seconds, or None for a line with no time of its own.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown log format {fmt!r} (one of {', '.join(FORMATS)})")
    text, _, _ = clean(line.rstrip("\r\n"))
    if fmt == "jsonl":
        _, rows = jsonl.parse_lines([text], path)
        if not rows:
            return None
        r = rows[0]
        base = {"kind", "source", "text", "t_source", "path", "line", "logger", "level", "tag", "shape", "t"}
        return Event(kind=r["kind"], source=r["source"], text=r["text"], t_source=r.get("t_source"),
                     path=r["path"], line=r["line"], logger=r.get("logger"), level=r.get("level"),
                     tag=r.get("tag"), shape=r.get("shape"), fields={k: v for k, v in r.items() if k not in base})
    parts = split_line(text)
    if parts is None:
        if not text.strip() or text[0] in " \t" or text.startswith("Traceback (most recent call last)"):
            return None  # (no collector's prefix starts so: a plain log's continuation lines are not tried)
        if fmt in ("backend", "console"):  # (a line of a collector's output: its rest)
            # (a journal entry: the line journalctl shows for it, as the whole export is read)
            text = (journal_json.shown_line(text) or text) if text[0] in "{\x1e" else text
            rest = prefixed.log_line_of(text)
            parts = None if rest is None else split_line(rest)
    if parts is None:
        source = "backend" if fmt in ("backend", "console") else fmt
        return Event(kind="unknown", source=source, text=text, path=path, line=lineno)
    source, raw_t, logger, level, message = parts
    row = row_of(source, logger, level, message)
    t = None
    if raw_t is not None:
        t = float(utc_times(np.array([raw_t]), np.array([SOURCE_CLOCK[source]]), offset_minutes=offset_minutes,
                            panel_date=panel_date, panel_offset_minutes=panel_offset_minutes)[0])
        t = None if math.isnan(t) else t
    if client is not None and source in ("frontend", "panel") and row.get("client") is None:
        row["client"] = client
    base = ("kind", "source", "logger", "level", "tag", "shape")
    return Event(kind=row["kind"], source=source, text=text, t_source=t, path=path, line=lineno,
                 logger=logger, level=level, tag=row["tag"], shape=row["shape"],
                 fields={k: v for k, v in row.items() if k not in base})

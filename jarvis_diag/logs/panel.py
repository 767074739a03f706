"""A debug-panel copy pasted by a user: ``[HH:MM:SS.mmm] <message>`` in the browser's
local time, with no date and no zone (the ingestion supplies both)."""

from __future__ import annotations

import re

LINE_RE = re.compile(r"\[(?P<ts>\d\d:\d\d:\d\d(?:\.\d{1,6})?)\] (?:\[(?P<level>[A-Z]+)\] )?(?P<message>.*)\Z", re.S)
PREFIX_RE = re.compile(r"\[\d\d:\d\d:\d\d(?:\.\d{1,6})?\] ")


def day_seconds(ts: str) -> float:
    """``"11:03:38.402"`` as seconds since local midnight."""
    frac = ts[9:]
    return int(ts[0:2]) * 3600 + int(ts[3:5]) * 60 + int(ts[6:8]) + (int(frac) / 10 ** len(frac) if frac else 0.0)


def split(line: str) -> tuple[str, str | None, str] | None:
    m = LINE_RE.match(line)
    if m is None:
        return None
    return m.group("ts"), m.group("level"), m.group("message")

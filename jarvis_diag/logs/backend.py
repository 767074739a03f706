"""The backend app log (``logs/app.log``): ``YYYY-MM-DD HH:MM:SS,mmm - logger - LEVEL - msg``.

The time is the server's local time with no zone; parsers return it as if it were UTC
(``local_s``) and the ingestion shifts it once the zone is known.
"""

from __future__ import annotations

import calendar
import re

LINE_RE = re.compile(
    r"(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) - (?P<logger>.+?) - "
    r"(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL) - (?P<message>.*)\Z",
    re.S,
)
# Cheap test used by format detection and the continuation rule.
PREFIX_RE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} - ")


def local_seconds(ts: str) -> float:
    """``"2026-11-24 11:03:38,055"`` as epoch seconds, reading the local time as UTC."""
    whole = calendar.timegm((int(ts[0:4]), int(ts[5:7]), int(ts[8:10]), int(ts[11:13]), int(ts[14:16]),
                             int(ts[17:19]), 0, 0, 0))
    return whole + int(ts[20:23]) / 1000


def split(line: str) -> tuple[str, str, str, str] | None:
    """(timestamp text, logger, level, message) of a backend line, else None."""
    m = LINE_RE.match(line)
    if m is None:
        return None
    return m.group("ts"), m.group("logger"), m.group("level"), m.group("message")

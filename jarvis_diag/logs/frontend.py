"""The frontend remote log (``logs/frontend/YYYYMMDD_<clientId>.log``):
``[<ISO UTC with ms>Z] [<LEVEL>] <message>``, by the browser's clock."""

from __future__ import annotations

import calendar
import re
from pathlib import PurePath

LINE_RE = re.compile(
    r"\[(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?)Z\] \[(?P<level>[A-Z]+)\] (?P<message>.*)\Z", re.S
)
PREFIX_RE = re.compile(r"\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?Z\] ")
# The server names the file after the day and the page's clientId.
# (and a copy saved by a browser or a file manager: "... (1).log", "... copy.log", or as .txt)
FILE_RE = re.compile(r"(?:\d{8})_(?P<client>[A-Za-z0-9_-]+?)(?: \(\d+\)| copy(?: \d+)?)?\.(?:log|txt)(?:\.\d+)?"
                     r"(?:\.(?:gz|xz|bz2))?\Z")

# Browser console levels onto the backend's names.
LEVELS = {"DEBUG": "DEBUG", "INFO": "INFO", "LOG": "INFO", "WARN": "WARNING", "WARNING": "WARNING",
          "ERROR": "ERROR", "TRACE": "DEBUG", "CRITICAL": "CRITICAL"}


def utc_seconds(ts: str) -> float:
    """``"2026-11-24T10:03:38.402"`` (the ``Z`` stripped) as epoch seconds."""
    whole = calendar.timegm((int(ts[0:4]), int(ts[5:7]), int(ts[8:10]), int(ts[11:13]), int(ts[14:16]),
                             int(ts[17:19]), 0, 0, 0))
    frac = ts[20:]
    return whole + (int(frac) / 10 ** len(frac) if frac else 0.0)


def split(line: str) -> tuple[str, str | None, str] | None:
    """(timestamp text, level, message) of a frontend line, else None."""
    m = LINE_RE.match(line)
    if m is None:
        return None
    return m.group("ts"), LEVELS.get(m.group("level")), m.group("message")


def client_of(path: str) -> str | None:
    """The clientId in a frontend log's file name, else None."""
    m = FILE_RE.match(PurePath(path).name)
    return m.group("client") if m else None

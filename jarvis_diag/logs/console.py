"""uvicorn's console lines in a captured stdout file: ``LEVEL:`` padded to 10 columns,
then the message, and no timestamp at all."""

from __future__ import annotations

import re

LINE_RE = re.compile(r"(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL|TRACE):\s+(?P<message>.*)\Z", re.S)


def split(line: str) -> tuple[str, str] | None:
    """(level, message) of a console line, else None."""
    m = LINE_RE.match(line)
    if m is None:
        return None
    level = m.group("level")
    return ("DEBUG" if level == "TRACE" else level), m.group("message")

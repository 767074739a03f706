"""The frontend remote log of a virtual client, in the real line shapes.

Lines are rendered from :mod:`jarvis_diag.lines` (the same templates the parser reads)
and kept in memory until :meth:`ClientLog.flush` appends them to
``<out>/frontend/YYYYMMDD_<clientId>.log``, the file the real server writes for a page
(a run flushes every page's lines each second, as a page posts its remote log).
"""

from __future__ import annotations

import random
import re
import time
from datetime import UTC, datetime
from pathlib import Path

from jarvis_diag import lines

# An iPhone's Safari: its first 20 alphanumerics give the clientId prefix seen in the field.
MOBILE_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
             "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1")

_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_UNSAFE = re.compile(r"[^A-Za-z0-9-]")


def base36(n: int) -> str:
    if n < 0:
        raise ValueError("base36 of a negative number")
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = _B36[r] + out
        if n == 0:
            return out


def make_client_id(user_agent: str, epoch_ms: int, rng: random.Random) -> str:
    """``<first 20 alphanumerics of the UA>-<epoch ms base36>-<4 random base36>``."""
    prefix = "".join(ch for ch in user_agent if ch.isascii() and ch.isalnum())[:20]
    return f"{prefix}-{base36(epoch_ms)}-{''.join(rng.choice(_B36) for _ in range(4))}"


def log_file_name(client_id: str, epoch_s: float) -> str:
    day = datetime.fromtimestamp(epoch_s, tz=UTC).strftime("%Y%m%d")
    return f"{day}_{_UNSAFE.sub('_', client_id)}.log"


def short(session_id: str | None) -> str:
    """Ids in log messages are cut to 8 characters, as the real page prints them."""
    return session_id[:8] if session_id else "undefined"


class ClientLog:
    """Lines of one page load. ``clock`` gives epoch seconds (the phone's clock)."""

    def __init__(self, client_id: str, directory: Path | None, clock=time.time, max_lines: int = 200_000):
        self.client_id = client_id
        self.directory = directory
        self.clock = clock
        self.max_lines = max_lines  # a bounded buffer: a runaway loop cannot fill the memory
        self.pending: list[str] = []
        self.written = 0
        self.dropped = 0
        self.path: Path | None = None

    def log(self, shape: str, level: str | None = None, **fields: object) -> str:
        message = lines.render(shape, **fields)
        line = lines.frontend_line(self.clock(), level or lines.SHAPES_BY_NAME[shape].level, message)
        if len(self.pending) < self.max_lines:
            self.pending.append(line)
        else:
            self.dropped += 1
        return line

    def flush(self) -> None:
        if not self.pending or self.directory is None:
            self.pending.clear()
            return
        if self.path is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self.path = self.directory / log_file_name(self.client_id, self.clock())
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write("\n".join(self.pending) + "\n")
        self.written += len(self.pending)
        self.pending.clear()

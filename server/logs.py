"""The server's log files, written exactly like the real system's.

* ``<log-dir>/app.log``: the app logger's lines (``jarvis_diag.lines.backend_line``), local
  time with no zone (``--log-tz`` picks the zone).
* ``<log-dir>/backend.log``: the captured stdout of a deployment: every app.log line plus
  uvicorn-style console lines without a timestamp.
* ``<log-dir>/frontend/YYYYMMDD_<clientId>.log``: the frontend remote log.

Every message is rendered from a shape of ``jarvis_diag.lines`` so the parser reads it back.
Writes are buffered and flushed once per event-loop turn: an attach logs ~15 lines and one
write is much cheaper than fifteen. While an attach's chat:ready is on its way out they wait
(:meth:`ServerLog.hold`): the attach is measured to chat:ready, and writing came first.
"""

from __future__ import annotations

import asyncio
import math
import re
import sys
import time
from collections.abc import Callable
from datetime import datetime, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

from jarvis_diag import lines

_CLIENT_ID_UNSAFE = re.compile(r"[^A-Za-z0-9-]")
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
MAX_CLIENT_ID = 100
# Lines held (see ServerLog.hold) are written anyway once the oldest is this old: attaches on
# many sockets at once hold the buffer one after the other, and the log must not lag behind.
MAX_HOLD_S = 0.05


def short(value: object) -> str:
    """Ids in messages are cut to 8 characters, as the real server does. A character no id
    has (a line break, a space in an id a client made up) becomes ``_``: the line stays one
    line that reads back with its id."""
    return _ID_UNSAFE.sub("_", str(value)[:8])


def one_line(text: object, limit: int | None = None) -> str:
    """Text that stays on one log line (newlines would read as a traceback)."""
    s = str(text)
    if limit is not None:
        s = s[:limit]
    return s.replace("\r", "\\r").replace("\n", "\\n")


def sanitize_client_id(client_id: object) -> str:
    """The file-name part of a clientId: ``[A-Za-z0-9-]`` kept, anything else ``_``."""
    cleaned = _CLIENT_ID_UNSAFE.sub("_", str(client_id))[:MAX_CLIENT_ID]
    return cleaned or "unknown"


def zone(name: str | None) -> tzinfo | None:
    """The zone for log times; None means the machine's local zone. Raises on a bad name."""
    if not name:
        return None
    return ZoneInfo(name)


class ServerLog:
    """app.log + backend.log + the frontend log directory of one server."""

    def __init__(self, log_dir: Path, tz_name: str | None = None, echo: bool = False):
        self.log_dir = Path(log_dir)
        self.frontend_dir = self.log_dir / "frontend"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.frontend_dir.mkdir(parents=True, exist_ok=True)
        self.tz = zone(tz_name)
        self.echo = echo
        self.app_path = self.log_dir / "app.log"
        self.backend_path = self.log_dir / "backend.log"
        self._app = open(self.app_path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self._app_opened_at = self._app.tell()  # (where this server's lines start: see start_echo)
        self._backend = open(self.backend_path, "a", encoding="utf-8")  # noqa: SIM115
        self._pending: list[tuple[float | None, lines.Shape, str, dict]] = []
        self._flush_scheduled = False
        self._held = 0  # (see hold)
        self._oldest = 0.0  # (monotonic time the oldest pending line was logged at)
        self.closed = False
        self._stamp_second: int | None = None  # (see _stamp)
        self._stamp_text = ""

    # ---- time -------------------------------------------------------------------------
    def local(self, epoch_s: float | None = None) -> datetime:
        """Wall-clock time in the log zone, without its zone (as the real log prints it)."""
        t = time.time() if epoch_s is None else epoch_s
        if self.tz is None:
            return datetime.fromtimestamp(t)
        return datetime.fromtimestamp(t, self.tz).replace(tzinfo=None)

    def _stamp(self, epoch_s: float) -> str:
        """The time of an app.log line, as :func:`jarvis_diag.lines.backend_line` writes it;
        the part to the second is made once a second (an attach logs ~15 lines in the same
        millisecond; a zone's offset changes on a whole second)."""
        second = math.floor(epoch_s)
        micros = round((epoch_s - second) * 1_000_000)  # (to the microsecond, as datetime rounds)
        if micros == 1_000_000:
            second, micros = second + 1, 0
        if second != self._stamp_second:
            self._stamp_second, self._stamp_text = second, f"{self.local(second):%Y-%m-%d %H:%M:%S}"
        return f"{self._stamp_text},{micros // 1000:03d}"

    # ---- writers ----------------------------------------------------------------------
    def log(self, shape_name: str, *, level: str | None = None, **fields: object) -> None:
        """Write one app line of shape ``shape_name`` (at its usual level unless ``level``).

        The time is taken now; the line is rendered when the buffer is flushed, after the
        handler has queued its replies (rendering ~15 lines would otherwise delay chat:ready).
        """
        shape = lines.SHAPES_BY_NAME[shape_name]
        self._buffer((time.time(), shape, level or shape.level, fields))

    def console(self, shape_name: str, **fields: object) -> None:
        """Write one uvicorn-style console line (backend.log only, no timestamp)."""
        shape = lines.SHAPES_BY_NAME[shape_name]
        self._buffer((None, shape, shape.level, fields))

    def frontend(self, client_id: object, entries: list[tuple[str, str, str]]) -> Path:
        """Append ``(timestamp, LEVEL, message)`` entries to the client's frontend file."""
        name = f"{self.local():%Y%m%d}_{sanitize_client_id(client_id)}.log"
        path = self.frontend_dir / name
        text = "".join(lines.frontend_entry_line(ts, level, msg) + "\n" for ts, level, msg in entries)
        with open(path, "a", encoding="utf-8") as f:
            f.write(text)
        return path

    # ---- buffering --------------------------------------------------------------------
    def _buffer(self, record: tuple[float | None, lines.Shape, str, dict]) -> None:
        if not self._pending:
            self._oldest = time.monotonic()
        self._pending.append(record)
        self._schedule()

    def hold(self) -> Callable[[], None]:
        """Keep lines in the buffer until the function returned is called (a reply on its
        way to the wire: writing ~15 lines would otherwise come first), or at most MAX_HOLD_S.
        Calling it again does nothing."""
        self._held += 1
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            self._held -= 1
            if self._pending:
                self._schedule()

        return release

    def _due(self) -> bool:
        return not self._held or time.monotonic() - self._oldest >= MAX_HOLD_S

    def _schedule(self) -> None:
        if self._flush_scheduled or not self._due():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        self._flush_scheduled = True
        loop.call_soon(self._flush_soon)

    def render_pending(self) -> tuple[list[str], list[str]]:
        """The buffered records as (app.log lines, backend.log lines)."""
        app_lines: list[str] = []
        backend_lines: list[str] = []
        for epoch_s, shape, level, fields in self._pending:
            message = shape.render(**fields)
            if epoch_s is None:
                backend_lines.append(lines.console_line(level, message))
            else:
                line = lines.stamped_backend_line(self._stamp(epoch_s), shape.logger, level, message)
                app_lines.append(line)
                backend_lines.append(line)
        self._pending.clear()
        return app_lines, backend_lines

    def _flush_soon(self) -> None:
        self._flush_scheduled = False
        if self._due():  # (held: the hold's end, or the next line once due, schedules it again)
            self.flush()

    def flush(self) -> None:
        if self.closed or not self._pending:
            return
        app_lines, backend_lines = self.render_pending()
        if app_lines:
            text = "\n".join(app_lines) + "\n"
            self._app.write(text)
            self._app.flush()
            if self.echo:
                sys.stdout.write(text)
                sys.stdout.flush()
        if backend_lines:
            self._backend.write("\n".join(backend_lines) + "\n")
            self._backend.flush()

    def start_echo(self) -> None:
        """Echo app.log lines on stdout from now on, after the ones this server wrote before
        (its start-up): `serve --echo` prints its banner first, whose first line is
        `listening on URL` for whoever reads it."""
        self.flush()
        with open(self.app_path, encoding="utf-8") as f:
            f.seek(self._app_opened_at)
            sys.stdout.write(f.read())
        sys.stdout.flush()
        self.echo = True

    def close(self) -> None:
        self.flush()
        self.closed = True
        self._app.close()
        self._backend.close()

"""The log writer: buffered lines in the real format, local time in the chosen zone."""

from __future__ import annotations

import re

from server.logs import ServerLog, one_line, short


def test_lines_in_the_real_format(tmp_path):
    log = ServerLog(tmp_path, tz_name="Europe/Berlin")
    log.log("sio.client_connected", sid=short("QEy5Hbsz123"))
    log.log("sm.reader_stopped", session="d910c8f8", detail="False", level="WARNING")
    log.console("uv.conn_open")
    log.close()
    app = (tmp_path / "app.log").read_text().splitlines()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} - jarvis - INFO - \[SocketIO\] Client QEy5Hbsz connected",
                        app[0])
    assert app[1].endswith(" - app.services.chat_session_manager - WARNING - Chat session d910c8f8 reader stopped, "
                           "_is_running=False")
    backend = (tmp_path / "backend.log").read_text().splitlines()
    assert backend == [*app, "INFO:     connection open"]


def test_one_line():
    assert one_line("a\nb\r", 3) == "a\\nb"

"""The server's logs read back by the shared line shapes: no unknown line, real formats."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime, timedelta

import aiohttp

from jarvis_diag import lines
from server.testing import Client, running_server

BACKEND_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) - (\S+) - (DEBUG|INFO|WARNING|ERROR|CRITICAL) - (.*)$")
CONSOLE_LINE = re.compile(r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL):\s+(.*)$")


def unknown_backend_lines(text: str) -> list[str]:
    bad = []
    for line in text.splitlines():
        m = BACKEND_LINE.match(line)
        if not m or lines.match("backend", m.group(4), m.group(2)) is None:
            bad.append(line)
    return bad


def unknown_console_lines(text: str) -> list[str]:
    bad = []
    for line in text.splitlines():
        if BACKEND_LINE.match(line):
            continue
        m = CONSOLE_LINE.match(line)
        if not m or lines.match("console", m.group(2)) is None:
            bad.append(line)
    return bad


async def _scenario(srv) -> None:
    async with Client(srv.url, srv.token, "a") as a, Client(srv.url, srv.token, "b") as b:
        sid = (await a.attach("new-1769736575123"))["session_id"]
        await a.say("new-1769736575123", "hello\nwith a newline", sid)
        await a.attach("new-2")
        await a.say(sid, "back to the first")  # single-live-session: no callback, auto-connect
        await b.attach("new-1769736575123")
        await b.say(sid, "/tool grep")
        await a.attach(sid, last_seq=3)
        await a.sio.emit("chat:load_more_history", {"session_id": sid, "before_index": 2, "limit": 1})
        await a.wait("chat:history_page_end")
        await a.sio.emit("chat:message", {"session_id": "nope", "content": "x"})
        await a.sio.emit("chat:connect", {"session_id": "x"})
        await a.sio.emit("bogus", 1)
        await a.sio.emit("chat:disconnect", {"session_id": sid})
        await a.sio.emit("chat:close", {"session_id": "new-2"})
        await a.sio.emit("system:ping", {})
        await a.wait("system:pong")
    bad = Client(srv.url, "wrong")
    await bad.connect(auth=False)
    await bad.sio.emit("auth", {"token": "wrong"})
    await bad.wait("auth_failed")
    await bad.close()
    async with aiohttp.ClientSession() as http:
        body = {"clientId": "Mozilla50iPhone-mwuj1maq-u1k8", "logs": [
            {"timestamp": "2026-01-30T01:29:39.290Z", "level": "debug", "message": "[ConnMgr] Page hidden"}]}
        async with http.post(srv.url + "/api/debug/logs", json=body) as r:
            assert r.status == 200
        async with http.post(srv.url + "/api/debug/logs", data=b"not json") as r:
            assert r.status == 400


async def test_app_log_has_no_unknown_line_and_real_timings(tmp_path):
    async with running_server(log_dir=tmp_path / "logs", data_dir=tmp_path / "data",
                              bugs=["single-live-session", "single-owner"]) as srv:
        await _scenario(srv)
    text = (tmp_path / "logs" / "app.log").read_text()
    assert unknown_backend_lines(text) == []
    for needle in ("Chat connect T1 get_session", "T1.1", "T1.2", "T2 session_ready", "T3 callback_set",
                   "T4 history_loaded", "T5 ready_sent", "T6 history_sent", "Chat connect DONE", "recv_ts=",
                   "Stored chat UUID mapping: 'new-1769' ->", "Callback cleared by", "Switched session",
                   "Callback owner:", "has no callback", "Application started successfully", "Application stopped",
                   "[DebugLog] HTTP received 1 logs from Mozilla50iPhone-mwu"):
        assert needle in text, needle
    assert unknown_console_lines((tmp_path / "logs" / "backend.log").read_text()) == []


async def test_correct_mode_logs_parse_too(tmp_path):
    async with running_server(log_dir=tmp_path / "logs", data_dir=tmp_path / "data") as srv:
        await _scenario(srv)
    text = (tmp_path / "logs" / "app.log").read_text()
    assert unknown_backend_lines(text) == []
    assert "Chat connect resume: session=" in text
    assert "Callback cleared" not in text


async def test_log_times_are_local_in_the_chosen_zone(tmp_path):
    async with running_server(log_dir=tmp_path / "logs", data_dir=tmp_path / "data", log_tz="Asia/Kolkata") as srv:
        async with Client(srv.url, srv.token) as c:
            await c.attach("new-5")
    text = (tmp_path / "logs" / "app.log").read_text()
    m = re.search(r"^(\S+ \S+) - jarvis - INFO - \[SocketIO\] Received chat:connect .* recv_ts=([\d.]+)$", text, re.M)
    assert m
    local = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f")
    utc = datetime.fromtimestamp(float(m.group(2)), UTC).replace(tzinfo=None)
    offset_min = (local - utc).total_seconds() / 60
    assert abs(offset_min - 330) < 1  # UTC+05:30, no zone printed


async def test_the_ingest_parser_reads_every_file_the_server_writes(tmp_path):
    from jarvis_diag.ingest import read_events

    async with running_server(log_dir=tmp_path / "logs", data_dir=tmp_path / "data", bugs=["single-live-session"]) as srv:
        await _scenario(srv)
    logs = tmp_path / "logs"
    paths = [str(logs / "app.log"), str(logs / "backend.log"), *map(str, (logs / "frontend").iterdir())]
    events = read_events(paths)
    unknown = events[events["kind"] == "unknown"]
    assert unknown.empty, unknown["text"].tolist()[:10]
    assert {"chat.connect.phase", "chat.connect.done", "chat.ready.sent", "page.hidden"} <= set(events["kind"])


async def test_a_session_id_with_a_line_break_or_a_space_stays_one_line_that_reads_back(tmp_path):
    async with running_server(log_dir=tmp_path / "logs", data_dir=tmp_path / "data") as srv:
        async with Client(srv.url, srv.token) as c:
            sid = (await c.attach("new-3\nINFO:     fake"))["session_id"]
            await c.say("new-3\nINFO:     fake", "hello", sid)
            await c.attach("new 4 é")
    text = (tmp_path / "logs" / "app.log").read_text()
    assert unknown_backend_lines(text) == []
    assert "Stored chat UUID mapping: 'new-3_IN' ->" in text
    assert unknown_console_lines((tmp_path / "logs" / "backend.log").read_text()) == []


def test_an_app_line_time_is_written_as_backend_line_writes_it(tmp_path):
    # (the part to the second is made once a second: the milliseconds, a second's edges and a
    # zone's change must read as jarvis_diag.lines.backend_line writes them)
    from jarvis_diag import lines
    from server.logs import ServerLog
    change = 1792890000.0  # 2026-10-25 01:00 UTC: Europe/Berlin from UTC+02:00 to UTC+01:00
    times = [change + d for d in (-1.0, -0.0005, -0.0000004, 0.0, 0.0000004, 0.3919995, 0.9999996, 1.999)]
    for tz in (None, "Europe/Berlin", "Asia/Shanghai"):
        log = ServerLog(tmp_path / str(tz), tz)
        for t in times:
            assert log._stamp(t) == lines.backend_line(log.local(t), "x", "INFO", "m")[:23], (tz, t)
        log.close()


async def test_held_lines_are_written_when_the_hold_ends_with_the_times_they_were_logged_at(tmp_path):
    # (an attach holds its lines while chat:ready goes out: writing them came first before)
    from server.logs import ServerLog
    log = ServerLog(tmp_path, "UTC")
    try:
        log.log("sio.client_connected", sid="aaaaaaaa")
        release = log.hold()
        log.log("sio.client_connected", sid="bbbbbbbb")
        await asyncio.sleep(0.02)  # turns of the loop: the flush scheduled before the hold waits too
        assert log.app_path.read_text() == ""
        release()
        release()  # (a second call changes nothing)
        await asyncio.sleep(0)
        written = log.app_path.read_text().splitlines()
        log.log("sio.client_connected", sid="cccccccc")
        await asyncio.sleep(0)
        assert log.app_path.read_text().splitlines()[2:] != [], "not held any more"
    finally:
        log.close()
    assert [line.rsplit(" ", 2)[-2] for line in written] == ["aaaaaaaa", "bbbbbbbb"]
    first, second = (datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f") for line in written)
    assert timedelta(0) <= second - first < timedelta(milliseconds=15)  # logged then, not when written


async def test_an_attach_is_in_app_log_while_the_server_runs_for_websocket_and_polling_clients(tmp_path):
    # (its lines wait while chat:ready goes out, then are written: not only when the server stops)
    # (a short ping interval: the polling client's disconnect waits for its pending long-poll)
    async with running_server(log_dir=tmp_path / "logs", data_dir=tmp_path / "data", ping_interval=0.5,
                              ping_timeout=1) as srv:
        for transports in (("websocket",), ("polling",)):
            async with Client(srv.url, srv.token, "a", transports=transports) as a:
                ready = await a.attach("new-1")
                done = f"Consumer started: sid={a.sid[:8]}, session={ready['session_id'][:8]}"
                for _ in range(100):  # bounded: 2 s
                    text = srv.app_log.read_text()
                    if done in text and "Chat connect DONE" in text.split(done, 1)[1]:
                        break
                    await asyncio.sleep(0.02)
                else:
                    raise AssertionError(f"{transports}: the attach's lines are not in app.log after 2 s")


async def test_lines_held_on_and_on_are_written_once_the_oldest_is_max_hold_old(tmp_path):
    # (attaches on many sockets hold the buffer one after another: the log must not lag behind)
    from server.logs import MAX_HOLD_S, ServerLog
    log = ServerLog(tmp_path, "UTC")
    try:
        log.hold()  # (never released)
        start = time.monotonic()
        log.log("sio.client_connected", sid="aaaaaaaa")
        log.log("sio.client_connected", sid="bbbbbbbb")
        await asyncio.sleep(0)
        if time.monotonic() - start < MAX_HOLD_S:  # (a machine too busy to tell: the rest still holds)
            assert log.app_path.read_text() == ""
        await asyncio.sleep(MAX_HOLD_S)
        log.log("sio.client_connected", sid="cccccccc")
        await asyncio.sleep(0)
        assert [line.rsplit(" ", 2)[-2] for line in log.app_path.read_text().splitlines()] == [
            "aaaaaaaa", "bbbbbbbb", "cccccccc"]
    finally:
        log.close()

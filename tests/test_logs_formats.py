"""Each log format, line by line, with real-shaped lines of the real system."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from jarvis_diag.events import COLUMNS
from jarvis_diag.logs import parse_line, parse_text
from jarvis_diag.logs.detect import detect_format

BACKEND = """\
2026-01-30 09:29:35,591 - jarvis - INFO - [SocketIO] Client QEy5Hbsz connected
2026-01-30 09:29:35,610 - jarvis - INFO - [SocketIO] Received chat:connect from QEy5Hbsz, data={'working_dir': '/home/u/proj', 'resume': None, 'session_id': 'new-1769736575123'}, recv_ts=1769736575.610
2026-01-30 09:29:35,611 - jarvis - INFO - [SocketIO] Chat connect T1 get_session: 0ms, found=False
2026-01-30 09:29:35,612 - jarvis - INFO - [SocketIO] Creating new chat session: d910c8f8, T1.1: 1ms
2026-01-30 09:29:37,713 - jarvis - INFO - [SocketIO] Stored chat UUID mapping: 'new-1769' -> d910c8f8
2026-01-30 09:29:37,716 - jarvis - INFO - [SocketIO] Switched session: sid=QEy5Hbsz, 5b1e0a77 -> d910c8f8
2026-01-30 09:29:37,720 - jarvis - INFO - [SocketIO] Loaded 15/42 history messages for 7c2d9e01
2026-01-30 09:29:37,721 - jarvis - INFO - [SocketIO] Chat connect T5 ready_sent: 2110ms, emit took 0ms
2026-01-30 09:29:37,734 - jarvis - INFO - [SocketIO] Chat connect DONE: 2123ms total
2026-01-30 09:30:12,005 - jarvis - WARNING - [SocketIO] Client QEy5Hbsz has no callback for session d910c8f8, auto-connecting...
2026-01-30 09:30:40,100 - watchfiles.main - INFO - 1 change detected
2026-01-30 09:29:35,612 - app.services.chat_session_manager - INFO - [ChatSession:d910c8f8] start() S1 before subprocess: 0ms
2026-01-30 09:31:05,300 - app.services.chat_session_manager - INFO - [Session:d910c8f8] Callback owner: QEy5Hbsz -> T3TU_-Yi
2026-01-30 09:31:05,120 - jarvis - INFO - [DebugLog] HTTP received 20 logs from Mozilla50iPhoneCPUiP
"""

FRONTEND = """\
[2026-01-30T01:29:39.290Z] [DEBUG] [SocketIO] [TIMING] connectChat START: sessionId=d910c8f8, state=connected
[2026-01-30T01:29:39.291Z] [DEBUG] [SocketIO] [TIMING] connectChat: handler EXISTS, updating callbacks at +0.4ms
[2026-01-30T01:29:39.291Z] [DEBUG] [SocketIO] [DIAG] send EMIT: chat:connect to d910c8f8, transport=websocket
[2026-01-30T01:29:39.344Z] [DEBUG] [SocketIO] [TIMING] Socket.IO delivered chat:ready, network_delay=-0ms (server=1769736579344, client=1769736579344)
[2026-01-30T01:29:39.350Z] [DEBUG] [Chat] [TIMING] onConnect callback received at +69926.4ms
[2026-01-30T01:31:02.101Z] [DEBUG] [ConnMgr] State: connected -> suspended (suspend)
[2026-01-30T01:31:40.514Z] [DEBUG] [ConnMgr] Scheduling reconnect in 100ms (attempt 1)
[2026-01-30T01:31:40.615Z] [DEBUG] [ConnMgr] Reconnecting (attempt 1/20)
[2026-01-30T01:31:40.703Z] [DEBUG] [SocketIO] Re-sending 2 subscriptions after reconnect (skipped 0)
[2026-01-30T01:31:41.000Z] [DEBUG] [SocketIO] Chat d910c8f8 already connected, updating callbacks
[2026-01-30T01:31:41.001Z] [DEBUG] [SocketIO] [TIMING] connectChat: handler EXISTS, sending connect to re-establish backend callback
[2026-01-30T01:31:41.002Z] [DEBUG] [SocketIO] Disconnected: ping timeout
[2026-01-30T01:31:41.003Z] [DEBUG] === connectSession START at 1506.59ms ===
[2026-01-30T01:31:41.004Z] [DEBUG] [API] → GET /api/sessions
"""

CONSOLE = """\
INFO:     Started server process [11777]
INFO:     Will watch for changes in these directories: ['/srv/jarvis']
WARNING:  WatchFiles detected changes in 'app/api/debug.py'. Reloading...
INFO:     127.0.0.1:53806 - "POST /api/debug/logs HTTP/1.1" 200 OK
INFO:     ('127.0.0.1', 53866) - "WebSocket /socket.io/?EIO=4&transport=websocket" [accepted]
INFO:     connection open
INFO:     connection closed
"""


def test_backend_lines() -> None:
    df = parse_text(BACKEND, "backend", "app.log")
    assert list(df.columns) == list(COLUMNS) and (df["kind"] != "unknown").all()
    assert list(df["kind"][:4]) == ["socket.connected", "chat.connect.received", "chat.connect.phase",
                                    "session.creating"]
    # local time read as UTC when no offset is given
    assert df["t_source"][0] == pd.Timestamp("2026-01-30T09:29:35.591Z")
    assert df["line"].tolist() == list(range(1, 15))
    r = df.iloc[1]
    assert (r["sid"], r["session"], r["temp_id"], r["recv_ts"]) == ("QEy5Hbsz", "new-1769736575123",
                                                                    "new-1769736575123", 1769736575.61)
    assert (df["phase"][2], df["ms"][2]) == ("T1", 0.0)
    assert (df["phase"][3], df["ms"][3], df["session"][3]) == ("T1.1", 1.0, "d910c8f8")
    assert (df["temp_id"][4], df["session"][4]) == ("new-1769", "d910c8f8")
    assert (df["from_session"][5], df["session"][5]) == ("5b1e0a77", "d910c8f8")
    assert (df["n"][6], df["total"][6]) == (15, 42)
    assert (df["ms"][7], df["emit_ms"][7], df["phase"][7]) == (2110.0, 0.0, "T5")
    assert df["kind"][9] == "callback.missing" and df["level"][9] == "WARNING"
    assert (df["kind"][10], df["logger"][10], df["tag"][10]) == ("server.reload", "watchfiles.main", "watchfiles")
    assert (df["tag"][11], df["phase"][11], df["session"][11]) == ("[ChatSession]", "S1", "d910c8f8")
    assert (df["sid"][12], df["to_sid"][12]) == ("QEy5Hbsz", "T3TU_-Yi")
    assert (df["client"][13], df["n"][13]) == ("Mozilla50iPhoneCPUiP", 20)
    assert df["tag"][0] == "[SocketIO]" and df["text"][0] == BACKEND.splitlines()[0]


def test_backend_zone_offset_applied() -> None:
    df = parse_text(BACKEND.splitlines()[:1], "backend", offset_minutes=60)
    assert df["t_source"][0] == pd.Timestamp("2026-01-30T08:29:35.591Z")


def test_frontend_lines_and_traps() -> None:
    df = parse_text(FRONTEND, "frontend", "x.log", client="Mozilla50iPhoneCPUiP-mwuj1maq-u1k8")
    assert (df["kind"] != "unknown").all(), df[df["kind"] == "unknown"]["text"].tolist()
    assert (df["source"] == "frontend").all() and (df["level"] == "DEBUG").all()
    assert (df["client"] == "Mozilla50iPhoneCPUiP-mwuj1maq-u1k8").all()
    assert df["t_source"][0] == pd.Timestamp("2026-01-30T01:29:39.290Z")
    assert (df["kind"][0], df["session"][0], df["state_from"][0]) == ("chat.connect.start", "d910c8f8", "connected")
    assert df["tag"][0] == "[SocketIO] [TIMING]"
    assert (df["kind"][1], df["ms"][1]) == ("chat.handler.exists", 0.4)
    assert (df["kind"][2], df["event"][2], df["transport"][2]) == ("chat.connect.sent", "chat:connect", "websocket")
    ready = df.iloc[3]
    # network_delay=-0ms is a real value, not a parse failure
    assert ready["kind"] == "chat.ready.received" and ready["ms"] == 0 and math.copysign(1, ready["ms"]) == -1
    assert (ready["server_ms"], ready["client_ms"]) == (1769736579344, 1769736579344)
    assert (df["kind"][4], df["ms"][4]) == ("ui.connected", 69926.4)
    assert (df["state_from"][5], df["state_to"][5], df["trigger"][5]) == ("connected", "suspended", "suspend")
    assert (df["kind"][6], df["ms"][6], df["attempt"][6]) == ("reconnect.scheduled", 100.0, 1)
    assert (df["attempt"][7], df["max_attempts"][7]) == (1, 20)
    assert (df["n"][8], df["total"][8]) == (2, 0)
    # the old and the new frontend say "handler exists" differently
    assert df["shape"][9] == "fe.already_connected" and df["shape"][10] == "fe.handler_exists_resend"
    assert df["kind"][9] == df["kind"][10] == "chat.handler.exists"
    assert (df["kind"][11], df["reason"][11]) == ("socket.disconnected", "ping timeout")
    assert (df["kind"][12], df["ms"][12]) == ("ui.session.start", 1506.59)
    assert df["kind"][13] == "api.request"


def test_console_lines() -> None:
    df = parse_text(CONSOLE, "console")
    assert (df["kind"] != "unknown").all() and (df["source"] == "console").all()
    assert df["kind"].tolist() == ["server.process", "server.process", "server.reload", "http.request",
                                   "ws.accepted", "ws.open", "ws.closed"]
    assert df["level"][2] == "WARNING" and (df["tag"] == "uvicorn").all()
    assert (df["event"][3], df["detail"][3], df["n"][3]) == ("POST", "/api/debug/logs", 200)
    assert df["transport"][4] == "websocket"
    # no line has a time of its own and none came before them
    assert df["t_source"].isna().all()


def test_panel_copy_needs_a_date() -> None:
    text = "[23:59:59.900] [ConnMgr] Page hidden\n[00:00:00.100] [ConnMgr] Page visible\n"
    undated = parse_text(text, "panel")
    assert undated["t_source"].isna().all() and (undated["source"] == "panel").all()
    df = parse_text(text, "panel", panel_date="2026-11-24", panel_offset_minutes=60)
    assert df["kind"].tolist() == ["page.hidden", "page.visible"]
    # browser local UTC+1, and the copy runs past midnight into the next day
    assert df["t_source"].tolist() == [pd.Timestamp("2026-11-24T22:59:59.900Z"),
                                       pd.Timestamp("2026-11-24T23:00:00.100Z")]


def test_traceback_attaches_to_the_line_before() -> None:
    text = (
        "2026-01-30 09:29:35,591 - jarvis - ERROR - [SocketIO] Client QEy5Hbsz send error: boom\n"
        "Traceback (most recent call last):\n"
        '  File "/srv/app.py", line 3, in send\n'
        "    raise ValueError('boom')\n"
        "ValueError: boom\n"
        "2026-01-30 09:29:36,000 - jarvis - INFO - [SocketIO] Client QEy5Hbsz connected\n"
        "something nobody wrote a shape for\n"
    )
    df = parse_text(text, "backend")
    assert len(df) == 3
    assert df["kind"][0] == "emit.error" and df["traceback"][0].splitlines()[-1] == "ValueError: boom"
    assert df["traceback"][0].count("\n") == 3
    assert df["kind"][2] == "unknown" and df["line"][2] == 7
    assert df["t_source"][2] == df["t_source"][1]  # an unknown line takes the time before it


def test_parse_line_streams_one_event() -> None:
    ev = parse_line(FRONTEND.splitlines()[3], "frontend", "f.log", 4, client="c1")
    assert ev is not None and ev.kind == "chat.ready.received" and ev.fields["client"] == "c1"
    assert ev.t_source == pd.Timestamp("2026-01-30T01:29:39.344Z").timestamp() and ev.line == 4
    be = parse_line(BACKEND.splitlines()[0], "backend", offset_minutes=-480)
    assert be is not None and be.fields["sid"] == "QEy5Hbsz" and be.tag == "[SocketIO]"
    assert be.t_source == pd.Timestamp("2026-01-30T17:29:35.591Z").timestamp()
    assert parse_line("   at foo (bar.js:1:2)", "frontend") is None
    assert parse_line("", "backend") is None
    odd = parse_line("garbage", "backend")
    assert odd is not None and odd.kind == "unknown" and odd.t_source is None
    console = parse_line("INFO:     connection open", "backend")
    assert console is not None and console.kind == "ws.open" and console.source == "console"
    with pytest.raises(ValueError, match="unknown log format 'nosuchfmt'"):  # (as parse_text says)
        parse_line("x", "nosuchfmt")


@pytest.mark.parametrize(
    ("text", "fmt"),
    [(BACKEND, "backend"), (FRONTEND, "frontend"), (CONSOLE, "console"),
     (CONSOLE + BACKEND, "backend"), ("[11:03:38.402] [ConnMgr] Page hidden\n", "panel"),
     ('{"schema": "jarvis-diag.event/1", "kind": "unknown"}\n', "jsonl"),
     ('{"schema": "jarvis-diag.sim/1", "run": "x"}\n', "sim-results"), ("\n\n", "backend")],
)
def test_detect_format(text: str, fmt: str) -> None:
    assert detect_format(text.splitlines()) == fmt


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown log format"):
        parse_text("", "syslog")

"""A socket that closes while its chat:connect waits for a slow agent start: the disconnect
line is written when the socket closes (the real server runs each event as a task of its
own), and the connect that ends afterwards leaves nothing attached to the gone socket."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import subprocess
import sys
from datetime import datetime

from server.logs import short
from server.testing import Client, running_server

SLOW_START = 4.0  # seconds the connect waits for the agent; the client leaves well before


def _line(lines: list[str], needle: str) -> int:
    found = [i for i, line in enumerate(lines) if needle in line]
    assert found, f"no line with {needle!r}"
    return found[0]


def _time(line: str) -> datetime:
    return datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")


async def _wait_for(path, *needles: str, rounds: int = 400) -> list[str]:
    for _ in range(rounds):  # (bounded: 400 x 50 ms)
        lines = path.read_text().splitlines()
        if all(any(n in line for line in lines) for n in needles):
            return lines
        await asyncio.sleep(0.05)
    raise AssertionError(f"{needles} not all in {path}")


async def test_disconnect_during_a_slow_connect_is_logged_when_the_socket_closes(tmp_path):
    async with running_server(bugs=["slow-start"], slow_start=SLOW_START, agent_startup=0.05,
                              log_dir=tmp_path / "logs", data_dir=tmp_path / "data") as srv:
        leaver = Client(srv.url, srv.token, "leaver")
        await leaver.connect()
        gone = short(leaver.sid)
        await leaver.sio.emit("chat:connect", {"session_id": "new-1", "working_dir": "/tmp"})
        await _wait_for(srv.app_log, "Chat connect START")
        await leaver.close()
        lines = await _wait_for(srv.app_log, f"Client {gone} disconnected", "Chat connect DONE")

        disconnected = _line(lines, f"Client {gone} disconnected")
        done = _line(lines, "Chat connect DONE")
        assert disconnected < done and _time(lines[disconnected]) < _time(lines[done]), lines
        # the session being made was no subscription yet, as the real server counts
        assert lines[disconnected].endswith("cleaned up 0 subscriptions")
        assert not any("chat:ready tag=connect_ready" in line for line in lines[disconnected:])

        # The chat goes on (its temporary id reaches it); its output goes to the socket that
        # attached it now, never to the gone one.
        async with Client(srv.url, srv.token, "stayer") as stayer:
            ready = await stayer.attach("new-1")
            session_id = ready["session_id"]
            await stayer.say("new-1", "hello", real_id=session_id)
            assert list(srv.chat.sessions[session_id].subscribers) == [stayer.sid]
            stays = short(stayer.sid)
        text = srv.app_log.read_text()
        assert f"Callback: sid={stays}, session={short(session_id)}, type=result" in text
        assert f"Callback: sid={gone}," not in text
        assert all(gone not in line for line in text.splitlines()[done + 1:]), "a line names the gone socket"

    # jarvis-diag timeline reads the socket closed at its disconnect, before the connect's DONE
    out = subprocess.run([sys.executable, "-m", "jarvis_diag", "timeline", str(tmp_path / "logs"), "-f", "json"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    timeline = json.loads(out.stdout)
    closed = [c["disconnected_at"] for c in timeline["connections"] if c["sid"] == gone]
    attaches = [a for s in timeline["sessions"] for a in s["attaches"] if a["sid"] == gone]
    assert closed and closed[0] is not None and attaches
    closed_at = datetime.fromisoformat(closed[0].replace("Z", "+00:00"))
    received_at = datetime.fromisoformat(attaches[0]["received_at"].replace("Z", "+00:00"))
    assert (closed_at - received_at).total_seconds() * 1000 < attaches[0]["server_ms"]


async def test_a_client_that_leaves_during_the_upgrade_costs_no_traceback(caplog):
    # a phone that gives up right after asking for the WebSocket: aiohttp logged "Error
    # handling request" with a traceback for each one ("Cannot write to closing transport")
    upgrade = (b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
               b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               b"Sec-WebSocket-Version: 13\r\n\r\n")
    async with running_server() as srv:
        host, port = srv.url.removeprefix("http://").rsplit(":", 1)
        for _ in range(5):
            _, writer = await asyncio.open_connection(host, int(port))
            writer.write(upgrade)
            await writer.drain()
            writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()  # (reset: the request is read, the answer finds the socket gone)
        await asyncio.sleep(0.5)
        async with Client(srv.url, srv.token) as c:  # and the server goes on serving
            assert c.sio.connected
    assert [r.getMessage() for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")] == []

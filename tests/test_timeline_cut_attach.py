"""A page that leaves while its chat:connect waits for a slow agent start: the server logs
the socket's disconnect when it closes, then the connect's phases to DONE, and sends the
gone socket nothing. The timeline marks that attach as cut (``cut_at``) with no chat:ready
sent, and shows when the request came, not its T5. Another socket that attaches the chat
through its temporary id (the server finds the mapping in its database) re-attached an
existing session: a ``reconnect``, not a ``new`` one."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from logbuilder import LogSet, uuid_of

from jarvis_diag.timeline import load_timeline
from server.logs import short
from server.testing import Client, running_server

SLOW_START = 3.0  # seconds the connect waits for the agent; the page leaves well before
TEMP = "new-1796000000001"
FIXTURES = Path(__file__).parent / "fixtures"


async def _wait_for(path: Path, needle: str, rounds: int = 400) -> None:
    for _ in range(rounds):  # (bounded: 400 x 50 ms)
        if path.exists() and needle in path.read_text():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{needle!r} not in {path}")


def _timeline(logs: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    out = subprocess.run([sys.executable, "-m", "jarvis_diag", "timeline", str(logs), *args],
                         capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    return out


@pytest.fixture(scope="module")
def left_during_slow_start(tmp_path_factory) -> tuple[Path, str, str]:
    """A real server's logs: socket 1 sends chat:connect for a new chat and closes during
    its slow start; socket 2 then attaches the chat by its temporary id, chats, and attaches
    it again by its UUID."""
    tmp = tmp_path_factory.mktemp("cut")

    async def run() -> tuple[str, str]:
        async with running_server(bugs=["slow-start"], slow_start=SLOW_START, agent_startup=0.05,
                                  log_dir=tmp / "logs", data_dir=tmp / "data") as srv:
            leaver = Client(srv.url, srv.token, "leaver")
            await leaver.connect()
            gone = short(leaver.sid)
            await leaver.sio.emit("chat:connect", {"session_id": TEMP, "working_dir": "/tmp"})
            await _wait_for(srv.app_log, "Chat connect START")
            await leaver.close()
            await _wait_for(srv.app_log, "Chat connect DONE")
            async with Client(srv.url, srv.token, "stayer") as stayer:
                ready = await stayer.attach(TEMP)
                await stayer.say(TEMP, "hello", real_id=ready["session_id"])
                await stayer.attach(ready["session_id"])  # (again, by its UUID, on the same socket)
                return gone, short(stayer.sid)

    gone, stays = asyncio.run(run())
    return tmp / "logs", gone, stays


def test_an_attach_whose_socket_closed_during_it_is_cut_and_sent_nothing(left_during_slow_start):
    logs, gone, _stays = left_during_slow_start
    app = (logs / "app.log").read_text().splitlines()
    closed_line = next(i for i, line in enumerate(app) if f"Client {gone} disconnected" in line) + 1
    timeline = json.loads(_timeline(logs, "-f", "json").stdout)
    closed = next(c for c in timeline["connections"] if c["sid"] == gone)
    [attach] = [a for s in timeline["sessions"] for a in s["attaches"] if a["sid"] == gone]

    assert attach["cut_at"] == closed["disconnected_at"] is not None
    assert attach["received_at"] < attach["cut_at"]
    assert attach["ready_sent_at"] is None  # the server logged T5, but sent the gone socket nothing
    assert "T5" in attach["phases"] and attach["phases"]["DONE"] == attach["server_ms"] >= SLOW_START * 1000
    cited = [e["line"] for e in attach["evidence"]]  # (the disconnect among the attach's lines, in file order)
    assert cited.count(closed_line) == 1 and cited == sorted(cited) and "DONE" in attach["evidence"][-1]["text"]


def test_the_table_shows_when_the_cut_attach_was_requested_and_its_cut(left_during_slow_start):
    logs, gone, _stays = left_during_slow_start
    timeline = json.loads(_timeline(logs, "-f", "json").stdout)
    [attach] = [a for s in timeline["sessions"] for a in s["attaches"] if a["sid"] == gone]
    text = _timeline(logs).stdout
    rows = text.splitlines()
    at = next(i for i, line in enumerate(rows) if f"│ {gone} │" in line)
    t5 = next(line for line in (logs / "app.log").read_text().splitlines() if "T5 ready_sent" in line)
    assert attach["received_at"][11:23] in rows[at], "\n".join(rows[at - 3:at + 2])
    assert t5[11:23].replace(",", ".") not in rows[at]
    assert f"cut {attach['cut_at'][11:23]}" in rows[at + 1], "\n".join(rows[at - 3:at + 2])


def test_the_cut_attach_that_sent_no_chat_ready_shows_no_history_count(left_during_slow_start):
    # the table's history column said 0 (the messages the server loaded for a new chat), as if
    # an empty history had been replayed to the page; it sent the gone socket nothing
    logs, gone, stays = left_during_slow_start
    attaches = load_timeline(logs).attaches
    assert attaches.loc[attaches["sid"] == gone, "history_count"].isna().all()
    assert attaches.loc[attaches["sid"] == stays, "history_count"].notna().all()
    rows = _timeline(logs).stdout.splitlines()
    row = next(line for line in rows if f"│ {gone} │" in line)
    assert row.rstrip().endswith("│"), row  # (the history cell, the last, is empty)
    stayed = next(line for line in rows if f"│ {stays} │" in line)
    assert stayed.rstrip()[-1].isdigit(), stayed


def test_a_window_around_the_request_keeps_the_cut_attach(left_during_slow_start):
    """--since/--until place an attach by its chat:ready, else its request: the server's
    receipt when that is all there is (a cut attach sent no chat:ready; its T5 came seconds
    after the window)."""
    logs, gone, _stays = left_during_slow_start
    timeline = load_timeline(logs)
    [attach] = [a for s in timeline.to_json_dict()["sessions"] for a in s["attaches"] if a["sid"] == gone]
    received = pd.Timestamp(attach["received_at"])
    window = timeline.filter(since=received - pd.Timedelta(seconds=0.5), until=received + pd.Timedelta(seconds=0.5))
    assert list(window.attaches["sid"]) == [gone]


def test_the_chat_attached_again_through_its_temporary_id_is_a_reconnect(left_during_slow_start):
    logs, gone, stays = left_during_slow_start
    assert "Restored chat mapping from DB: new-1796 ->" in (logs / "app.log").read_text()
    timeline = json.loads(_timeline(logs, "-f", "json").stdout)
    [entry] = [s for s in timeline["sessions"] if any(a["sid"] == stays for a in s["attaches"])]
    assert TEMP in entry["temp_ids"]
    # (and the same page's attach again on that socket is a switch, not a first one)
    assert [(a["sid"], a["kind"]) for a in entry["attaches"]] == [(gone, "new"), (stays, "reconnect"),
                                                                 (stays, "switch")]
    stayed = entry["attaches"][1]
    assert stayed["ready_sent_at"] is not None and stayed.get("cut_at", "absent") is None


def test_a_socket_that_closes_after_its_chat_ready_leaves_the_ready_sent(tmp_path):
    """The server logs the disconnect after T5 but before DONE (the history still being
    sent): the attach is cut, its chat:ready was sent all the same."""
    logs = LogSet()
    uuid = uuid_of(0xC1)
    sid = "Qx7pLm2wAAAB"
    logs.be(logs.now, "sio.client_connected", sid=sid[:8])
    logs.be(logs.now, "sio.client_authenticated", sid=sid[:8])
    t = logs.now + 0.01
    data = {"working_dir": "/tmp", "session_id": uuid}
    logs.be(t, "sio.connect_received", sid=sid[:8], detail=repr(data), recv_ts=f"{t:.3f}")
    logs.be(t, "sio.connect_start", session=uuid[:8], detail="/tmp")
    logs.be(t, "sio.connect_t1", phase="T1", ms="0", detail="True")
    logs.be(t + 0.001, "sio.connect_phase", phase="T2", detail="session_ready", ms="1")
    logs.be(t + 0.001, "sio.connect_phase", phase="T3", detail="callback_set", ms="1")
    logs.be(t + 0.002, "sio.connect_phase", phase="T4", detail="history_loaded", ms="2")
    logs.be(t + 0.002, "sio.ready_emit", emit_ms="0", event="chat:ready")
    logs.be(t + 0.002, "sio.connect_t5", phase="T5", ms="2", emit_ms="0")
    logs.be(t + 0.300, "sio.client_disconnected", sid=sid[:8], n=0)
    logs.be(t + 0.400, "sio.connect_phase", phase="T6", detail="history_sent", ms="400")
    logs.be(t + 0.400, "sio.connect_done", ms="400")
    logs.write(tmp_path)
    [attach] = load_timeline(tmp_path).to_json_dict()["sessions"][0]["attaches"]
    assert attach["cut_at"] is not None and attach["ready_sent_at"] is not None
    assert attach["ready_sent_at"] < attach["cut_at"]


@pytest.mark.parametrize("name", ["normal", "callback-desync"])
def test_real_logs_have_no_cut_attach(name):
    timeline = load_timeline(FIXTURES / name).to_json_dict()
    attaches = [a for s in timeline["sessions"] for a in s["attaches"]]
    assert attaches and all(a["cut_at"] is None for a in attaches)
    assert all(a["ready_sent_at"] is not None for a in attaches if a["server_ms"] is not None)


def test_the_slow_start_of_a_cut_attach_says_its_socket_closed_before_chat_ready(left_during_slow_start):
    # it said only 'before chat:ready could be sent', as if the page had got it then
    logs, gone, _stays = left_during_slow_start
    timeline = json.loads(_timeline(logs, "-f", "json").stdout)
    [attach] = [a for s in timeline["sessions"] for a in s["attaches"] if a["sid"] == gone]
    [slow] = [f for f in timeline["findings"] if f["kind"] == "slow-session-start" and f["sid"] == gone]
    assert f"the page's socket closed at {attach['cut_at']}, before it was sent" in slow["summary"]

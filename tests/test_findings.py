"""Each finding reproduced end to end on a log set written by tests/logbuilder.py, and a
healthy log set that must give no warning or critical finding."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from logbuilder import Client, LogSet, uuid_of
from rich.console import Console

from jarvis_diag.timeline import load_timeline

A, B, C = uuid_of(0xA1), uuid_of(0xB2), uuid_of(0xC3)
SID1, SID2, SID3 = "QEy5HbszAAAB", "T3TU_-YiAAAC", "Vh2kW9pqAAAD"
SID4 = "Zp0q7RwkAAAE"
FIXTURES = Path(__file__).parent / "fixtures"


def _findings(tl, kind=None):
    rows = tl.to_json_dict()["findings"]
    return [f for f in rows if kind is None or f["kind"] == kind]


def _serious(tl):
    return [f for f in _findings(tl) if f["severity"] in ("warning", "critical")]


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def healthy(logs: LogSet) -> None:
    c = logs.client()
    logs.connect(c, SID1)
    logs.wait(1.5)
    temp_a = logs.temp_id(c)
    logs.attach(c, SID1, A, temp=temp_a)
    logs.wait(2)
    logs.message(c, SID1, A, key=temp_a[:8])
    logs.wait(3)
    temp_b = logs.temp_id(c)
    logs.attach(c, SID1, B, temp=temp_b, prev=A)
    logs.wait(2)
    logs.message(c, SID1, B, key=temp_b[:8])
    logs.wait(5)
    logs.attach(c, SID1, A, temp=temp_a, existing=True, prev=B, history=2, handler_new=False)
    logs.wait(3)
    logs.page_hidden(c)
    logs.wait(20)
    logs.page_visible(c)
    logs.client_disconnect(c, SID1, reason="io client disconnect", n=2)
    logs.wait(0.1)
    logs.connect(c, SID2)
    logs.resubscribe(c, [A])
    logs.attach(c, SID2, A, existing=True, history=4, handler_new=False)
    logs.wait(2)
    logs.message(c, SID2, A)
    logs.wait(3)


def test_healthy_log_set_has_no_warning_or_critical(tmp_path):
    logs = LogSet()
    healthy(logs)
    tl = load_timeline([str(p) for p in logs.write(tmp_path)])
    assert _serious(tl) == []
    eps = tl.to_json_dict()["episodes"]
    assert len(eps) == 1 and eps[0]["recovered"] and eps[0]["trigger"] == "page.hidden"
    assert eps[0]["sessions"] == [A] and eps[0]["sid_after"] == SID2[:8]


def test_callback_desync_names_the_wait(tmp_path):
    logs = LogSet()
    c = logs.client()
    logs.connect(c, SID1)
    logs.attach(c, SID1, A, existing=True, history=4)
    logs.wait(3)
    logs.attach(c, SID1, B, existing=True, prev=A, history=4)
    logs.wait(5)
    back = logs.now
    logs.switch_back_without_connect(c, A)
    logs.wait(12)
    received = logs.message(c, SID1, A, missing_callback_prev=B, history=6)
    logs.wait(3)
    tl = load_timeline([str(p) for p in logs.write(tmp_path)])
    [f] = _findings(tl, "callback-desync")
    assert f["session"] == A and f["sid"] == SID1[:8] and f["client"] == c.id
    assert f["delay_ms"] == pytest.approx((received - back) * 1000, abs=5)
    assert f["severity"] == "critical"
    assert any("has no callback" in e["text"] for e in f["evidence"])
    assert any("already connected" in e["text"] for e in f["evidence"])
    auto = tl.attaches[tl.attaches["kind"] == "auto"]
    assert len(auto) == 1 and auto.iloc[0]["latency_ms"] < 20


def test_server_reload_names_the_cut_connections(tmp_path):
    logs = LogSet()
    c = logs.client()
    logs.connect(c, SID1)
    logs.attach(c, SID1, A, existing=True)
    logs.wait(5)
    logs.reload_then_reconnect(c, SID1, SID2, A)
    logs.wait(3)
    tl = load_timeline([str(p) for p in logs.write(tmp_path)])
    [f] = _findings(tl, "server-reload")
    assert f["severity"] == "warning" and SID1[:8] in f["summary"]
    assert 1500 < f["delay_ms"] < 3000
    eps = tl.to_json_dict()["episodes"]
    assert eps[0]["trigger"] in ("server.reload", "socket.disconnected") and eps[0]["recovered"]


def test_server_reload_that_cut_many_phones_names_a_few_and_counts_the_rest(tmp_path):
    logs = LogSet()
    sids = [f"Sock{i:04d}AAAA" for i in range(12)]
    for i, sid in enumerate(sids):
        logs.connect(logs.client(suffix=f"p{i:03d}"), sid)
    logs.wait(2)
    logs.server_reload()
    logs.wait(30)  # long enough to know that nobody came back
    logs.be(logs.now, "sio.client_connected", sid="LateSock")  # a line to end the log
    [f] = _findings(load_timeline([str(p) for p in logs.write(tmp_path)]), "server-reload")
    assert f["severity"] == "critical"
    assert "it cut 12 connection(s) (" + ", ".join(s[:8] for s in sids[:8]) + " and 4 more)" in f["summary"]
    assert "none of them came back" in f["summary"] and sids[11][:8] not in f["summary"]


@pytest.mark.parametrize("returning", [3, 2])
def test_server_reload_from_the_server_log_alone_counts_the_new_sockets_as_returns(tmp_path, returning):
    """No frontend log joins the sockets to pages, but the server's log shows new sockets
    authenticated after the restart: as many pages came back (one socket each), not 'none'."""
    logs = LogSet()
    phones = [logs.client(suffix=f"p{i}") for i in range(3)]
    for i, c in enumerate(phones):
        logs.connect(c, f"Old{i:05d}AAAA")
    logs.wait(2)
    t_reload = logs.now
    logs.server_reload()
    for i, c in enumerate(phones):
        logs.client_disconnect(c, f"Old{i:05d}AAAA", server_sees=False)
    logs.wait(1.0)
    for i, c in enumerate(phones[:returning]):
        logs.connect(c, f"New{i:05d}AAAA")
        logs.wait(0.5)
    back = logs.now - 0.5
    logs.wait(30)
    logs.be(logs.now, "sio.client_connected", sid="LateSock")  # (a line to end the log: never authenticated)
    app, *pages = logs.write(tmp_path)
    [full] = _findings(load_timeline([str(app), *map(str, pages)]), "server-reload")
    [alone] = _findings(load_timeline([str(app)]), "server-reload")
    assert alone["severity"] == full["severity"] == ("warning" if returning == 3 else "critical")
    assert alone["delay_ms"] == pytest.approx(full["delay_ms"], abs=50)
    assert alone["delay_ms"] == pytest.approx((back - t_reload) * 1000, abs=50)
    assert f"({returning} by the new sockets the server authenticated after it" in alone["summary"]
    assert ("1 of them never came back" in alone["summary"]) == (returning == 2)
    assert "none of them came back" not in alone["summary"]


def test_a_new_socket_after_the_next_reload_is_no_return_from_the_one_before(tmp_path):
    logs = LogSet()
    c = logs.client()
    logs.connect(c, "Old00000AAAA")
    logs.wait(2)
    logs.server_reload()
    logs.wait(20)
    logs.server_reload()  # (no socket was open: it cut nothing)
    logs.wait(1)
    logs.connect(c, "New00000AAAA")
    logs.wait(15)
    first, second = sorted(_findings(load_timeline([str(logs.write(tmp_path)[0])]), "server-reload"),
                           key=lambda f: f["at"])
    assert "none of them came back" in first["summary"] and first["severity"] == "critical"
    assert "no client was connected" in second["summary"]


def test_server_reload_that_stops_a_reply_says_the_reply_is_lost(tmp_path):
    logs = LogSet()
    c = logs.client()
    logs.open_on(c, SID1, A)
    logs.message(c, SID1, A, reply_s=0.5)  # answered before the reload
    logs.wait(1)
    t = logs.now  # refused: no reply was coming
    logs.be(t, "sio.message_received", sid=SID1[:8], session=A[:8], detail="hello")
    logs.be(t, "sio.processing", session=A[:8], detail="hello")
    logs.be(t + 0.01, "sio.chat_error", sid=SID1[:8], reason="Session is busy")
    logs.wait(1)
    logs.message(c, SID1, A, chunks=5, reply_s=4.0, cut_at=1, completes=False)
    logs.wait(1)
    logs.server_reload()
    logs.reattach(c, SID1, SID2, A, history=3)
    logs.wait(3)
    paths = logs.write(tmp_path)
    [f] = _findings(load_timeline([str(p) for p in paths]), "server-reload")
    assert f["severity"] == "critical"
    assert f"it stopped the agent while it was answering 1 message(s) (session(s) {A[:8]})" in f["summary"]
    assert "never finished" in f["summary"]
    received = [e for e in f["evidence"] if "Chat message received" in e["text"]]
    messages = [(str(p), i) for p in paths for i, line in enumerate(p.read_text().splitlines(), 1)
                if "Chat message received" in line]
    assert [(e["path"], e["line"]) for e in received] == messages[-1:]  # the last message, not the others


def _stop(logs: LogSet, sids: list[str]) -> None:
    """A plain shutdown (no file change): the server closes its sockets, then the app stops."""
    for sid in sids:
        logs.be(logs.now, "sio.client_disconnected", sid=sid[:8], n=1)
    logs.be(logs.now + 0.002, "app.shutting_down")
    logs.be(logs.now + 0.003, "app.stopped")
    logs.now += 0.01


def _start(logs: LogSet) -> None:
    logs.be(logs.now, "app.starting")
    logs.be(logs.now + 0.001, "app.started")
    logs.now += 0.01


def test_a_plain_shutdown_that_stops_a_reply_says_so_once(tmp_path):
    logs = LogSet()
    c = logs.client()
    logs.open_on(c, SID1, A)
    for key in (B, C):
        logs.attach(c, SID1, key, existing=True, prev=A)
        logs.message(c, SID1, key, chunks=5, reply_s=4.0, cut_at=1, completes=False)
    logs.wait(1)
    t = logs.now
    logs.be(t, "app.shutting_down")
    logs.be(t, "app.stopped")
    for key in (A, B, C):
        logs.be_raw(t, "app.services.chat_session_manager", "WARNING", f"Chat session {key[:8]} reader stopped, "
                    "_is_running=False")
    paths = logs.write(tmp_path)
    tl = load_timeline([str(p) for p in paths])
    # the log ends with the server stopped (how logs are often captured), but two replies were cut
    [f] = _findings(tl, "server-restart")
    assert f["severity"] == "critical" and f["sid"] == SID1[:8]
    assert f"with 1 connection(s) open ({SID1[:8]})" in f["summary"]
    assert "it stopped the agent while it was answering 2 message(s)" in f["summary"]
    assert B[:8] in f["summary"] and C[:8] in f["summary"] and "never finished" in f["summary"]
    received = [e for e in f["evidence"] if "Chat message received" in e["text"]]
    assert len(received) == 2
    # the readers' stops are what the shutdown did: told by that finding, not again
    stops = [f for f in _findings(tl) if "reader stopped" in f["summary"]]
    assert [(f["severity"], f["occurrences"]) for f in stops] == [("info", 3)]
    # told once for the three chats, it says so: not as one chat's reader stopped three times
    assert f"(about 3 sessions: {A[:8]}, {B[:8]}, {C[:8]})" in stops[0]["summary"]


def _two_phones(other: str) -> tuple[LogSet, Client, Client]:
    """Two phones, each on its own socket and session ("here" on SID1 and A, ``other`` on
    SID2 and B), two seconds in."""
    logs = LogSet()
    here, there = logs.client(suffix="here"), logs.client(suffix=other, skew_ms=-900.0)
    logs.open_on(here, SID1, A)
    logs.open_on(there, SID2, B)
    logs.wait(2)
    return logs, here, there


def test_a_restart_while_phones_are_connected_and_their_return(tmp_path):
    logs, here, quiet = _two_phones("quit")
    logs.client_disconnect(quiet, SID2, reason="io client disconnect")  # (closed on purpose, just before)
    logs.wait(0.05)
    logs.client_disconnect(here, SID1, server_sees=False)
    t_stop = logs.now + 0.002  # (the shutdown line)
    _stop(logs, [SID1])
    logs.wait(3.0)
    _start(logs)
    logs.wait(0.8)
    logs.connect(here, SID3)
    logs.attach(here, SID3, A, existing=True, history=1, handler_new=False)
    logs.wait(20)
    [f] = _findings(load_timeline([str(p) for p in logs.write(tmp_path)]), "server-restart")
    assert f["severity"] == "warning" and f["sid"] == SID1[:8] and f["client"] == here.id
    assert _epoch(f["at"]) == pytest.approx(t_stop, abs=0.01)
    assert "with no file change behind it (a restart or a deploy), started again 3.0 s later" in f["summary"]
    assert f"it cut 1 connection(s) ({SID1[:8]}); clients were back after 3.8 s" in f["summary"]
    assert f["delay_ms"] == pytest.approx(3800, abs=50)


def test_a_process_that_died_closes_its_sockets_at_the_next_start(tmp_path):
    logs = LogSet()
    c = logs.client()
    logs.open_on(c, SID1, A)
    logs.message(c, SID1, A, chunks=5, reply_s=4.0, cut_at=1, completes=False)
    logs.wait(1)
    t_lost = logs.now
    logs.client_disconnect(c, SID1, server_sees=False)  # (killed: no line from the server)
    logs.wait(5)
    t_start = logs.now
    _start(logs)
    logs.wait(0.5)
    logs.connect(c, SID2)
    logs.attach(c, SID2, A, existing=True, history=1, handler_new=False)
    logs.wait(20)
    tl = load_timeline([str(p) for p in logs.write(tmp_path)])
    [conn] = [x for x in tl.to_json_dict()["connections"] if x["sid"] == SID1[:8]]
    assert conn["reason"] == "server restarted"
    assert _epoch(conn["disconnected_at"]) == pytest.approx(t_start, abs=0.002)
    [f] = _findings(tl, "server-restart")
    assert f["severity"] == "critical"
    # the phone's log tells when the process ended; its outage is counted from then
    assert "with no shutdown logged since its last start (its process was killed or died, 5.0 s before: its " \
           "phones lost their sockets from " in f["summary"]
    assert f"it cut 1 connection(s) ({SID1[:8]}); clients were back after 5." in f["summary"]
    assert f["delay_ms"] == pytest.approx((t_start - t_lost + 0.5) * 1000, abs=100)
    assert any("Disconnected" in e["text"] for e in f["evidence"])
    assert "answering 1 message(s)" in f["summary"]


def test_a_process_that_died_while_its_phone_gave_up_is_one_restart(tmp_path):
    """The server's process was killed; the phone tried three times and gave up; the server
    was started 14 s later, and stopped again at once. Before: its socket was also
    'half-open' ('stayed open on the server 14 s after the client lost it (closed: server
    restarted)': it had no process), the crash's delay read 0 ms, and the stop right after
    the start said that dead socket was open then."""
    logs = LogSet()
    c = logs.client()
    logs.open_on(c, SID1, A)
    logs.wait(2)
    t_lost = logs.now
    logs.client_disconnect(c, SID1, server_sees=False)  # (killed: no line from the server)
    logs.reconnect_attempts(c, 3, exhausted=True)
    logs.wait(14)
    t_start = logs.now
    _start(logs)
    logs.wait(0.04)
    _stop(logs, [])
    tl = load_timeline([str(p) for p in logs.write(tmp_path)])
    assert not _findings(tl, "half-open")
    [f] = _findings(tl, "server-restart")
    assert f["sid"] == SID1[:8] and "its process was killed or died" in f["summary"]
    assert "none of them came back" in f["summary"]
    assert f["delay_ms"] == pytest.approx((t_start - t_lost) * 1000, abs=50)  # (down that long at least)
    [failed] = _findings(tl, "reconnect-failed")
    assert failed["client"] == c.id and "it gave up after its retries" in failed["summary"]


def _away_through_a_stop(logs: LogSet, c: Client, stop) -> tuple[float, float]:
    """The page goes to the background (frozen: it logs nothing more), the server's process
    ends meanwhile (``stop()``, which logs what it logs and returns when it was started
    again), and the page comes back 2 s before that: its reconnects are refused until then.
    Returns (when it came back, when its new socket was authenticated)."""
    logs.page_hidden(c)
    logs.wait(1)
    restart_in = stop()
    logs.wait(restart_in - 2.0)
    came_back = logs.now
    logs.page_visible(c)
    logs.reconnect_attempts(c, 4)  # (refused: 1.5 s of retries)
    logs.wait(max(0.0, came_back + 2.0 - logs.now))
    _start(logs)
    logs.wait(0.3)
    logs.connect(c, SID2)
    back = max(t for t, line in logs.backend if f"Client {SID2[:8]} authenticated" in line)
    logs.attach(c, SID2, A, existing=True, history=1, handler_new=False)
    logs.wait(20)
    return came_back, back


@pytest.mark.parametrize("end", ["killed", "shut down"])
def test_a_page_away_when_the_server_went_down_counts_from_its_return(tmp_path, end):
    """The phone was in the background when the server's process ended and came back while it
    was still down: the user waited from then until a new socket, not from the end (a killed
    process logs no end at all: from its next start, 0.3 s, the outage read as nothing; a
    shutdown 6 s before the return read as 8 s). As simulate-mobile measures it."""
    logs = LogSet()
    c = logs.client(skew_ms=-1200.0)
    logs.open_on(c, SID1, A)
    logs.wait(2)

    def stop() -> float:
        logs.wait(1)
        if end == "shut down":
            _stop(logs, [SID1])
        logs.wait(1)
        return 6.0

    came_back, back = _away_through_a_stop(logs, c, stop)
    tl = load_timeline([str(p) for p in logs.write(tmp_path)])
    [f] = _findings(tl, "server-restart")
    assert f["delay_ms"] == pytest.approx((back - came_back) * 1000, abs=20)
    assert f"clients were back after {back - came_back:.1f} s (1 of them counted from when their page came back: " \
           "it was in the background or offline when the server went down, and came back before it was up " \
           "again)" in f["summary"]
    [ep] = tl.to_json_dict()["episodes"]
    assert ep["visible_at"] is not None and _epoch(ep["visible_at"]) == pytest.approx(came_back, abs=0.002)
    # the lines: its socket, its page's return (what the wait is counted from), its next socket
    texts = [e["text"] for e in f["evidence"]]
    assert any("[ConnMgr] Page visible" in t for t in texts)
    assert texts.index(next(t for t in texts if "Page visible" in t)) < texts.index(
        next(t for t in texts if f"Client {SID2[:8]} connected" in t))


def test_a_page_in_view_when_the_process_died_counts_from_its_own_loss_not_an_earlier_return(tmp_path):
    # it had been in the background and back, and was using its socket when the process
    # died: its log says when it lost it, and the wait runs from there
    logs = LogSet()
    c = logs.client()
    logs.open_on(c, SID1, A)
    logs.page_hidden(c)
    logs.wait(3)
    logs.page_visible(c)  # (the page re-uses its socket: a frozen page's socket can live on)
    logs.wait(2)
    logs.message(c, SID1, A)
    logs.wait(3)
    lost = logs.now
    logs.client_disconnect(c, SID1, server_sees=False)
    logs.wait(4)
    _start(logs)
    logs.wait(0.5)
    logs.connect(c, SID2)
    back = max(t for t, line in logs.backend if f"Client {SID2[:8]} authenticated" in line)
    logs.wait(20)
    [f] = _findings(load_timeline([str(p) for p in logs.write(tmp_path)]), "server-restart")
    assert f["delay_ms"] == pytest.approx((back - lost) * 1000, abs=20)
    assert "counted from when their page came back" not in f["summary"]


def test_a_socket_whose_connect_line_is_missing_was_not_cut_by_a_stop_before_its_process(tmp_path):
    logs = LogSet()
    c = logs.client()
    logs.open_on(c, SID1, A)
    logs.wait(2)
    logs.client_disconnect(c, SID1, server_sees=False)
    _stop(logs, [SID1])
    logs.wait(2)
    _start(logs)
    # (a gap in the log: the new process's socket shows only from its authentication on)
    logs.wait(1)
    logs.be(logs.now, "sio.client_authenticated", sid=SID2[:8])
    logs.wait(5)
    logs.server_disconnect(SID2)
    logs.wait(20)
    tl = load_timeline([str(p) for p in logs.write(tmp_path)])
    [f] = _findings(tl, "server-restart")
    assert f"it cut 1 connection(s) ({SID1[:8]})" in f["summary"]
    assert SID2[:8] not in f["summary"] and not any(SID2[:8] in e["text"] for e in f["evidence"])


def test_a_stop_counts_the_sockets_it_closed_not_one_closed_before_its_signal(tmp_path):
    """uvicorn's shutdown logs 'Shutting down', asks every connection to close, sleeps 0.1 s
    and only then runs the app's shutdown ('Application shutting down...'): a socket the stop
    closed is logged about 0.1 s before that line (101 ms when the sleep woke a little late;
    the lines' times are cut to the ms), which read as closed before the stop, and the stop as
    cutting nothing. A socket its client closed 50 ms before the signal (150 ms before the
    line), as a script's client does just before it stops the server, is not the stop's."""
    logs = LogSet()
    for sid in (SID1, SID2):
        logs.be(logs.now, "sio.client_connected", sid=sid[:8])
        logs.be(logs.now + 0.001, "sio.client_authenticated", sid=sid[:8])
        logs.wait(0.5)
    logs.wait(2)
    t_stop = logs.now
    logs.be(t_stop - 0.150, "sio.client_disconnected", sid=SID1[:8], n=0)  # (its client closed it)
    logs.be(t_stop - 0.1015, "sio.client_disconnected", sid=SID2[:8], n=0)  # (the stop closed it)
    logs.be(t_stop, "app.shutting_down")
    logs.be(t_stop + 0.001, "app.stopped")
    [f] = _findings(load_timeline([str(p) for p in logs.write(tmp_path)]), "server-restart")
    assert f"with 1 connection(s) open ({SID2[:8]})" in f["summary"] and SID1[:8] not in f["summary"]


def test_a_log_that_ends_with_the_server_stopped_is_no_incident(tmp_path):
    logs = LogSet()
    healthy(logs)
    _stop(logs, [SID2])
    tl = load_timeline([str(p) for p in logs.write(tmp_path)])
    assert _serious(tl) == []
    [f] = _findings(tl, "server-restart")
    assert f["severity"] == "info" and "before the logs end, with 1 connection(s) open" in f["summary"]


def test_server_reload_counts_a_page_away_meanwhile_from_its_return(tmp_path):
    logs, here, away = _two_phones("away")
    t_reload = logs.now
    logs.server_reload()
    logs.now = t_reload + 0.3
    logs.page_hidden(away)  # (its socket is already gone: the reload cut it)
    logs.now = t_reload + 1.8
    logs.reattach(here, SID1, SID3, A)
    logs.now = t_reload + 12.0
    logs.page_visible(away)
    logs.connect(away, SID4)
    logs.attach(away, SID4, B, existing=True, history=1, handler_new=False)
    logs.wait(3)
    [f] = _findings(load_timeline([str(p) for p in logs.write(tmp_path)]), "server-reload")
    assert f["severity"] == "warning"
    assert 1500 < f["delay_ms"] < 2500  # the phone in view; not the 12 s the other was away
    assert "(1 of them counted from when their page came back: it was in the background or offline until after the restart)" in f["summary"]


def test_transport_delay_stands_out_after_skew_correction(tmp_path):
    logs = LogSet()
    c = logs.client(skew_ms=-4200.0)
    logs.connect(c, SID1)
    logs.attach(c, SID1, A, existing=True)
    for _ in range(4):
        logs.wait(2)
        logs.message(c, SID1, A)
    logs.wait(2)
    logs.message(c, SID1, A, wire_delay_s=3.2)
    logs.wait(2)
    tl = load_timeline([str(p) for p in logs.write(tmp_path)])
    [f] = _findings(tl, "transport-delay")
    assert f["delay_ms"] == pytest.approx(3200, abs=10)
    assert f["client"] == c.id


def test_a_connect_queued_behind_a_slow_attach_is_named_for_what_it_waited_on(tmp_path):
    """The phone opens A (its agent takes 3 s to start) and switches to B half a second
    later: the server runs one socket's events in order, so B's chat:connect is received
    only when A's attach is done. The delay is the server's queue, not the network."""
    logs = LogSet()
    c = logs.client(skew_ms=900.0)
    logs.connect(c, SID1)
    logs.attach(c, SID1, C, existing=True)
    logs.wait(2)
    t0 = logs.now
    logs.attach(c, SID1, A, temp=logs.temp_id(c), create_ms=3000)
    done_a = max(t for t, line in logs.backend if "Chat connect DONE" in line)
    end = logs.now
    logs.now = t0 + 0.5
    logs.attach(c, SID1, B, existing=True, prev=A, received_at=done_a + 0.002)
    logs.now = max(logs.now, end) + 2
    logs.message(c, SID1, B)
    tl = load_timeline([str(p) for p in logs.write(tmp_path)])
    [f] = _findings(tl, "transport-delay")
    assert f["delay_ms"] == pytest.approx((done_a + 0.002 - t0 - 0.5) * 1000, abs=10)
    assert f["session"] == B and f["client"] == c.id
    assert f"waited on the server behind socket {SID1[:8]}'s attach of session {A[:8]}" in f["summary"]
    texts = [e["text"] for e in f["evidence"]]
    assert any("Chat connect START: session_id=new-" in t for t in texts)  # A's START and DONE, as it
    assert any("Chat connect DONE: 300" in t for t in texts)  # ran while B's connect waited
    # a delay on the wire itself is still told as one (see above): only a receipt right
    # after a DONE on its own socket is put down to the queue


def test_slow_session_start(tmp_path):
    logs = LogSet()
    c = logs.client()
    logs.connect(c, SID1)
    logs.attach(c, SID1, A, temp=logs.temp_id(c), create_ms=2600)
    logs.wait(2)
    tl = load_timeline([str(p) for p in logs.write(tmp_path)])
    [f] = _findings(tl, "slow-session-start")
    assert f["delay_ms"] == pytest.approx(2600, abs=2) and f["session"] == A


def test_a_page_that_hears_of_its_closed_socket_as_it_wakes_is_not_half_open(tmp_path):
    """The server closed the socket while the page was in the background; the page's JS,
    woken, logs the disconnect a moment before it logs being visible. A page in view that
    hears of it as late is half-open."""
    logs = LogSet()
    away, here = logs.client(suffix="away"), logs.client(suffix="here", skew_ms=-500.0)
    logs.open_on(away, SID1, A)
    logs.open_on(here, SID2, B)
    logs.page_hidden(away)
    logs.wait(1)
    logs.server_disconnect(SID1)
    logs.server_disconnect(SID2)
    logs.wait(8)
    logs.client_disconnect(away, SID1, server_sees=False)
    logs.client_disconnect(here, SID2, server_sees=False)
    logs.now += 0.005
    logs.page_visible(away)
    logs.wait(2)
    [f] = _findings(load_timeline([str(p) for p in logs.write(tmp_path)]), "half-open")
    assert f["sid"] == SID2[:8] and f["client"] == here.id and f["severity"] == "warning"
    assert "went on for 8.0 s believing it was connected" in f["summary"]
    # both ends are cited: when the server closed it, and when the page heard of it (before,
    # only the page's line: nothing showed the server's close the 8 s run from)
    texts = [e["text"] for e in f["evidence"]]
    assert f"Client {SID2[:8]} disconnected" in texts[0] and "Disconnected: transport close" in texts[1]


def _socket_lost_unseen_by_the_server() -> tuple[LogSet, str, float]:
    """A page attached to A on SID1 loses its socket; the server does not see it go."""
    logs = LogSet()
    c = logs.client()
    logs.connect(c, SID1)
    logs.attach(c, SID1, A, existing=True)
    logs.wait(2)
    lost_at = logs.now
    logs.client_disconnect(c, SID1, reason="transport close", server_sees=False)
    return logs, c, lost_at


def test_half_open_server_keeps_a_dead_socket_and_output_is_lost(tmp_path):
    logs, c, lost_at = _socket_lost_unseen_by_the_server()
    logs.reconnect_attempts(c, 1)
    logs.connect(c, SID2)
    # the agent's output still goes to the old socket until the server notices it is dead
    logs.be(lost_at + 5, "sio.callback", sid=SID1[:8], session=A[:8], event="stream")
    logs.be(lost_at + 70, "sio.client_disconnected_reason", sid=SID1[:8], reason="ping timeout", n=1)
    logs.attach(c, SID2, A, existing=True, history=3, handler_new=False)
    logs.now = lost_at + 75
    logs.be(logs.now, "app.batch_saved", n=1)
    tl = load_timeline([str(p) for p in logs.write(tmp_path)])
    [f] = _findings(tl, "half-open")
    assert f["sid"] == SID1[:8] and f["severity"] == "critical"
    assert f["delay_ms"] == pytest.approx(70_000, abs=50)
    assert "85 s" in f["summary"]
    # the page's loss, the output into the dead socket, and the server's close at its ping
    # timeout 70 s later, in that order (before, the server's close was not cited)
    texts = [e["text"] for e in f["evidence"]]
    assert "Disconnected: transport close" in texts[0] and "type=stream" in texts[1]
    assert f"Client {SID1[:8]} disconnected (ping timeout)" in texts[2] and len(texts) == 3


def test_reconnect_failed_when_retries_run_out(tmp_path):
    logs = LogSet()
    c = logs.client()
    logs.connect(c, SID1)
    logs.attach(c, SID1, A, existing=True)
    logs.wait(2)
    logs.fe(c, logs.now, "cm.offline")
    logs.client_disconnect(c, SID1, reason="transport error")
    logs.reconnect_attempts(c, 5, exhausted=True)
    logs.wait(20)
    logs.be(logs.now, "app.batch_saved", n=1)
    tl = load_timeline([str(p) for p in logs.write(tmp_path)])
    [f] = _findings(tl, "reconnect-failed")
    assert f["severity"] == "critical" and "gave up" in f["summary"]
    # what began it, in words (it said "(network.offline at ...)", an event kind)
    assert f"lost its connection at {f['at']} (its network went offline) and did not recover" in f["summary"]
    # how its attempts failed, with the first and last failure cited (it said only 'gave up')
    assert "5 attempts failed to connect, all of them with 'xhr poll error'" in f["summary"]
    assert "the server or the network was down all along" in f["summary"]
    assert sum("Connection error: xhr poll error" in e["text"] for e in f["evidence"]) == 2
    _well_formed(f["summary"])


def test_reconnect_failed_on_refused_websocket_upgrades_says_so(tmp_path):
    # a proxy that refuses WebSocket upgrades: every attempt fails with 'websocket error', and
    # the page (socket.io-client without tryAllTransports) never falls back to polling
    logs, c = _lost_after_attach()
    logs.reconnect_attempts(c, 4, exhausted=True, reason="websocket error")
    logs.wait(20)
    logs.be(logs.now, "app.batch_saved", n=1)
    tl = load_timeline([str(p) for p in logs.write(tmp_path)])
    [f] = _findings(tl, "reconnect-failed")
    assert "4 attempts failed to connect, all of them with 'websocket error'" in f["summary"]
    assert "refuses WebSocket upgrades" in f["summary"] and "tryAllTransports" in f["summary"]
    # the server's log says nothing of that time: the other cause is named too
    assert "both when nothing answers (a server that is down, a phone with no network)" in f["summary"]
    _well_formed(f["summary"])


@pytest.mark.parametrize("how", ["stopped", "killed", "up"])
def test_websocket_errors_while_the_server_was_down_are_not_blamed_on_a_proxy(tmp_path, how):
    # socket.io-client says 'websocket error' when nothing answers at the address too (checked:
    # the official client against a closed port). A page that gave up while the server was
    # stopped was told a proxy refused its WebSocket upgrades
    logs = LogSet()
    logs.be(logs.now, "app.starting")
    logs.wait(1)
    c = logs.client()
    logs.connect(c, SID1)
    logs.attach(c, SID1, A, existing=True)
    logs.wait(2)
    if how == "stopped":
        logs.be(logs.now, "app.shutting_down")
    logs.wait(0.5)
    logs.client_disconnect(c, SID1, reason="transport close", server_sees=how != "killed")
    logs.reconnect_attempts(c, 2, reason="websocket error")
    if how == "up":  # another phone connects meanwhile
        logs.connect(logs.client(suffix="p2x7"), SID2)
    logs.reconnect_attempts(c, 2, exhausted=True, reason="websocket error")
    logs.wait(20)
    if how != "up":
        logs.be(logs.now, "app.starting")
    logs.be(logs.now + 0.1, "app.batch_saved", n=1)
    tl = load_timeline([str(p) for p in logs.write(tmp_path)])
    [f] = _findings(tl, "reconnect-failed")
    texts = [e["text"] for e in f["evidence"]]
    if how == "up":
        assert re.search(r"while the server was up \(it logged \d+ lines meanwhile, from ", f["summary"])
        assert "refuses WebSocket upgrades" in f["summary"] and "tryAllTransports" in f["summary"]
        assert any(SID2[:8] in t for t in texts), texts
    else:
        assert "Every attempt failed while the server was down (" in f["summary"]
        assert "proxy" not in f["summary"] and "tryAllTransports" not in f["summary"]
        said = "it was shut down at " if how == "stopped" else "with no shutdown logged: killed, or died"
        assert ("it logged nothing from " in f["summary"]) == (how == "killed")
        assert said in f["summary"] and any("Application starting" in t for t in texts), texts
    _well_formed(f["summary"])


def _lost_after_attach(**attach) -> tuple[LogSet, object]:
    """A page attached to session A on SID1, which it loses 2 s later (transport close)."""
    logs = LogSet()
    c = logs.client()
    logs.connect(c, SID1)
    logs.attach(c, SID1, A, existing=True, **attach)
    logs.wait(2)
    logs.client_disconnect(c, SID1, reason="transport close")
    return logs, c


@pytest.mark.parametrize("attempt", ["dropped", "failed"])
def test_reconnect_failed_names_the_attempt_after_which_the_page_stopped_trying(tmp_path, attempt):
    """The page's reconnect machine stalled: its last attempt came to nothing (a socket that
    closed before auth_success, or a connection error) and no retry followed. Before, the
    finding said 'it never reconnected', and advised reconnecting on visibility."""
    logs, c = _lost_after_attach()
    logs.wait(0.1)
    logs.fe(c, logs.now, "fe.connecting")
    if attempt == "dropped":
        logs.be(logs.now + 0.002, "sio.client_connected", sid=SID2[:8])
        logs.fe(c, logs.now + 0.004, "fe.connected")
        logs.fe(c, logs.now + 0.02, "fe.disconnected", reason="transport close")
        logs.be(logs.now + 0.021, "sio.client_disconnected", sid=SID2[:8], n=0)
    else:
        logs.fe(c, logs.now + 0.3, "fe.connect_error", reason="xhr poll error")
    logs.wait(40)
    logs.be(logs.now, "app.batch_saved", n=1)
    tl = load_timeline([str(p) for p in logs.write(tmp_path)])
    [f] = _findings(tl, "reconnect-failed")
    said = "opened a socket that closed before it was authenticated" if attempt == "dropped" else \
        "its last attempt failed at"
    assert said in f["summary"] and "it tried no more in the 40 s of log that follow" in f["summary"]
    assert "Schedule the next attempt whenever one fails" in f["summary"]
    texts = [e["text"] for e in f["evidence"]]
    assert any(("Connected, authenticating" if attempt == "dropped" else "Connection error") in t for t in texts)
    _well_formed(f["summary"])


def _back_without_reattach(tmp_path, wait_s: float, auto_connect: bool, after_s: float):
    """A page reconnected (on SID2) that re-attached nothing; ``wait_s`` later it sends a
    message (which auto-connects the chat, or not); the log goes on ``after_s``."""
    logs, c = _lost_after_attach()
    logs.reconnect_attempts(c, 1)
    logs.connect(c, SID2)
    logs.wait(wait_s)
    logs.message(c, SID2, A, missing_callback_prev=A if auto_connect else None)
    logs.wait(after_s)
    return load_timeline([str(p) for p in logs.write(tmp_path)])


def test_missing_resubscribe_after_reconnect(tmp_path):
    tl = _back_without_reattach(tmp_path, 20, auto_connect=False, after_s=2)
    [f] = _findings(tl, "missing-resubscribe")
    assert f["session"] == A and f["sid"] == SID2[:8]
    assert f["delay_ms"] > 15_000


def test_missing_resubscribe_is_an_outage_only_when_output_waited_long(tmp_path):
    # re-attached (auto-connected by the next message) 8 s after the reconnect: an outage
    [f] = _findings(_back_without_reattach(tmp_path, 8.0, auto_connect=True, after_s=20), "missing-resubscribe")
    assert f["severity"] == "critical" and f["delay_ms"] == pytest.approx(8000, abs=50)
    # 0.6 s: a hiccup (what the user saw of it, a reply cut off, is its own critical finding)
    tl = load_timeline("sample_logs/callback-desync-switch-back")
    [f] = _findings(tl, "missing-resubscribe")
    assert f["severity"] == "warning" and f["delay_ms"] == pytest.approx(600, abs=50)
    assert [x["severity"] for x in _findings(tl, "single-live-session")] == ["critical"]


def test_each_cycle_a_page_never_recovers_from_is_an_episode_of_its_own(tmp_path):
    # a legacy page re-attaches nothing after a reconnect, cycle after cycle. Before, the
    # first episode never ended: the second cycle's loss, reconnect and missing re-attach
    # were not told.
    logs, c = _lost_after_attach()
    for lost, new in ((SID1, SID2), (SID2, SID3)):
        if lost != SID1:
            logs.client_disconnect(c, lost, reason="transport close")
        logs.reconnect_attempts(c, 1)
        logs.connect(c, new)
        logs.resubscribe(c, [])  # ("Re-sending 0 subscriptions after reconnect")
        logs.wait(8)
        logs.message(c, new, A)
        logs.wait(4)
    logs.wait(10)
    tl = load_timeline([str(p) for p in logs.write(tmp_path)])
    episodes = tl.to_json_dict()["episodes"]
    assert [(e["sid_before"], e["sid_after"], e["recovered"]) for e in episodes] == \
        [(SID1[:8], SID2[:8], False), (SID2[:8], SID3[:8], False)]
    first, second = sorted(_findings(tl, "missing-resubscribe"), key=lambda f: f["at"])
    assert (first["session"], first["sid"], second["session"], second["sid"]) == (A, SID2[:8], A, SID3[:8])
    # the first cycle's cost ends where the page lost that socket too; the second's with the log
    lost_again = episodes[1]["started_at"]
    assert f"its output reaches no one until the client lost that socket too at {lost_again}" in first["summary"]
    assert first["delay_ms"] == pytest.approx((_epoch(lost_again) - _epoch(first["at"])) * 1000, abs=1)
    assert "for the rest of the log" in second["summary"]


def test_a_give_up_after_the_next_loss_is_the_next_episodes(tmp_path):
    # reconnected without re-attaching, lost again, then gave up: the give-up ends the
    # second episode only (the first ended with the second loss)
    logs, c = _lost_after_attach()
    logs.reconnect_attempts(c, 1)
    logs.connect(c, SID2)
    logs.wait(8)
    logs.client_disconnect(c, SID2, reason="transport close")
    logs.reconnect_attempts(c, 3, exhausted=True)
    logs.wait(15)
    logs.message(c, SID2, A, deliver=False)  # (the server's log goes on)
    tl = load_timeline([str(p) for p in logs.write(tmp_path)])
    first, second = tl.to_json_dict()["episodes"]
    assert (first["sid_after"], second["sid_before"], second["sid_after"]) == (SID2[:8], SID2[:8], None)
    [failed] = _findings(tl, "reconnect-failed")
    assert failed["at"] == second["started_at"] and "it gave up after its retries" in failed["summary"]
    [missing] = _findings(tl, "missing-resubscribe")
    assert missing["sid"] == SID2[:8] and f"lost that socket too at {second['started_at']}" in missing["summary"]


@pytest.mark.parametrize(("skipped", "said_before_s"), [(1, 0.0), (0, 0.0), (1, 0.02)])
def test_a_socket_lost_again_soon_tells_a_missing_reattach_only_when_the_page_said_it_skipped(tmp_path, skipped,
                                                                                               said_before_s):
    # lost again 3 s after the reconnect: too soon to tell, unless the page's own log said
    # its re-subscription skipped the session (as soon as it was authenticated: by its
    # corrected clock, that can be a little before the server's line)
    logs, c = _lost_after_attach()
    logs.reconnect_attempts(c, 1)
    logs.connect(c, SID2)
    logs.fe(c, logs.now - said_before_s, "fe.resending", n=0, total=skipped)
    logs.wait(3)
    logs.client_disconnect(c, SID2, reason="transport close")
    logs.reconnect_attempts(c, 1)
    logs.connect(c, SID3)
    logs.wait(15)
    logs.message(c, SID3, A)  # (the log goes on long enough to tell this one)
    tl = load_timeline([str(p) for p in logs.write(tmp_path)])
    assert [e["sid_after"] for e in tl.to_json_dict()["episodes"]] == [SID2[:8], SID3[:8]]
    missing = sorted(_findings(tl, "missing-resubscribe"), key=lambda f: f["at"])
    assert [f["sid"] for f in missing] == ([SID2[:8]] if skipped else []) + [SID3[:8]]


def test_single_live_session_after_reattaching_two_sessions(tmp_path):
    logs = LogSet()
    c = logs.client()
    logs.connect(c, SID1)
    logs.attach(c, SID1, A, existing=True)
    logs.attach(c, SID1, B, existing=True, prev=A)
    logs.wait(2)
    logs.client_disconnect(c, SID1, reason="transport close")
    logs.reconnect_attempts(c, 1)
    logs.connect(c, SID2)
    logs.resubscribe(c, [A, B])
    logs.attach(c, SID2, A, existing=True, handler_new=False)
    logs.attach(c, SID2, B, existing=True, prev=A, handler_new=False)
    logs.wait(3)
    tl = load_timeline([str(p) for p in logs.write(tmp_path)])
    [f] = _findings(tl, "single-live-session")
    assert f["session"] == B and A[:8] in f["summary"]


def test_polling_fallback(tmp_path):
    logs = LogSet()
    c = logs.client()
    logs.connect(c, SID1, transport="polling")
    logs.attach(c, SID1, A, existing=True, transport="polling")
    logs.wait(1)
    tl = load_timeline([str(p) for p in logs.write(tmp_path)])
    [f] = _findings(tl, "polling-fallback")
    assert f["client"] == c.id and f["severity"] == "warning"
    # named by its page load, not by the user agent every iPhone shares
    assert f["summary"].startswith(f"Client {c.id.split('-', 1)[1]} fell back")
    assert tl.connections.iloc[0]["transport"] == "polling"


def test_auth_failed_never_recovered(tmp_path):
    logs = LogSet()
    c = logs.client()
    logs.connect(c, SID1, auth_ok=False)
    logs.wait(15)
    logs.be(logs.now, "app.batch_saved", n=1)
    # no chat:connect, so no recv_ts to find the zone from: the user gives it
    tl = load_timeline([str(p) for p in logs.write(tmp_path)], tz="Asia/Shanghai")
    [f] = _findings(tl, "auth-failed")
    assert f["severity"] == "critical" and f["sid"] == SID1[:8]


def test_auth_failed_then_a_good_token_on_the_same_socket_in_the_servers_log_alone(tmp_path):
    # no page log names the socket: "never succeeded afterwards", though it did
    logs = LogSet()
    logs.be(logs.now, "sio.client_connected", sid=SID1[:8])
    logs.wait(0.05)
    logs.be(logs.now, "sio.client_auth_failed", sid=SID1[:8])
    logs.wait(2)
    logs.be(logs.now, "sio.client_authenticated", sid=SID1[:8])
    logs.wait(5)
    logs.be(logs.now, "app.batch_saved", n=1)
    tl = load_timeline([str(logs.write(tmp_path)[0])], tz="Asia/Shanghai")
    [f] = _findings(tl, "auth-failed")
    assert f["severity"] == "warning" and "and later succeeded" in f["summary"], f["summary"]


def test_app_errors_grouped_with_their_context(tmp_path):
    logs = LogSet()
    c = logs.client()
    logs.connect(c, SID1)
    logs.attach(c, SID1, A, existing=True)
    logs.wait(1)
    logs.server_reload()
    for _ in range(3):
        logs.app_error("Client QEy5Hbsz send error: Connection closed")
        logs.wait(0.5)
    tl = load_timeline([str(p) for p in logs.write(tmp_path)])
    errors = _findings(tl, "app-error")
    assert len(errors) == 1
    [f] = errors
    assert f["summary"].startswith("3x ") and len(f["evidence"]) == 3
    assert "server" in (f["context"] or "")


def test_a_warning_repeated_in_two_sessions_is_told_for_each(tmp_path):
    # the same warning about two chats: one finding per chat, each naming its own and the
    # context of its own, so that a look at either session finds it
    logs = LogSet()
    c = logs.client()
    logs.connect(c, SID1)
    logs.attach(c, SID1, A, existing=True)
    logs.wait(1)
    logs.attach(c, SID1, B, existing=True, prev=A)
    logs.wait(1)
    for key in (A, B, B):
        logs.be_raw(logs.now, "jarvis", "WARNING", f"[SocketIO] Session not found for message: {key[:8]}")
        logs.wait(0.5)
    tl = load_timeline([str(p) for p in logs.write(tmp_path)])
    warned = {f["session"]: f for f in _findings(tl, "app-warning")}
    assert set(warned) == {A, B}
    assert warned[B]["summary"].startswith("2x ") and not warned[A]["summary"].startswith("2x ")
    assert [f["session"] for f in tl.filter(session=B[:8]).findings.to_dict("records")
            if f["kind"] == "app-warning"] == [B]


def test_findings_are_ranked_and_numbered(tmp_path):
    logs = LogSet()
    c = logs.client()
    logs.connect(c, SID1, transport="polling")
    logs.attach(c, SID1, A, temp=logs.temp_id(c), create_ms=2600)
    logs.wait(2)
    tl = load_timeline([str(p) for p in logs.write(tmp_path)])
    rows = _findings(tl)
    assert [f["id"] for f in rows] == [f"F{i}" for i in range(1, len(rows) + 1)]
    ranks = [{"critical": 0, "warning": 1, "info": 2}[f["severity"]] for f in rows]
    assert ranks == sorted(ranks)
    assert rows[0]["kind"] == "slow-session-start"  # same severity, costlier first


def _ping_pong(logs: LogSet):
    """Two chats on one socket: B's attach drops A's callback, then a message to A
    (sent without switching back to it) makes the server auto-connect A."""
    c = logs.client()
    logs.connect(c, SID1)
    logs.attach(c, SID1, A, existing=True)
    logs.wait(1)
    logs.attach(c, SID1, B, existing=True, prev=A)
    logs.wait(0.2)
    logs.message(c, SID1, A, missing_callback_prev=B)
    logs.wait(2)
    return c


def _well_formed(summary: str) -> None:
    depth = 0
    for ch in summary:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        assert 0 <= depth <= 1, summary  # no bracket inside a bracket
    assert depth == 0, summary
    assert "((" not in summary and "))" not in summary and " )" not in summary and ";;" not in summary
    assert "until then" not in summary and "None" not in summary and "client ?" not in summary


def _two_new_chats(logs: LogSet, c) -> str:
    """Chats A then B opened as new ones (temporary ids) on SID1; A's temporary id."""
    logs.connect(c, SID1)
    temp_a = logs.temp_id(c)
    logs.attach(c, SID1, A, temp=temp_a)
    logs.wait(3)
    logs.attach(c, SID1, B, temp=logs.temp_id(c), prev=A)
    logs.wait(5)
    return temp_a


def _switch_back_by_temporary_id(logs: LogSet, c, temp_a: str) -> float:
    """An older page's switch back to chat A, named by its temporary id's prefix, with its
    handler in place and no chat:connect; when."""
    back = logs.now
    for name, fields in (("chat.mux_start", {"session": temp_a[:8], "detail": "/w"}),
                         ("fe.connect_chat_start", {"session": temp_a[:8], "state_from": "connected"}),
                         ("fe.handler_exists", {"ms": "0.0"}), ("fe.already_connected", {"session": temp_a[:8]})):
        logs.fe(c, back, name, **fields)
    return back


def test_a_switch_back_by_temporary_id_is_found(tmp_path):
    """An older page still names a new chat by its temporary id's prefix (``new-1795``) when
    it switches back to it; the server's warning names the UUID."""
    logs = LogSet()
    c = logs.client()
    temp_a = _two_new_chats(logs, c)
    back = _switch_back_by_temporary_id(logs, c, temp_a)
    logs.wait(12)
    received = logs.message(c, SID1, A, key=temp_a[:8], missing_callback_prev=B)
    logs.wait(3)
    tl = load_timeline([str(p) for p in logs.write(tmp_path)])
    [f] = _findings(tl, "callback-desync")
    assert f["session"] == A and f["delay_ms"] == pytest.approx((received - back) * 1000, abs=5)
    assert "switched back to it at" in f["summary"] and "Fix: always send chat:connect when switching back" \
        in f["summary"]
    assert any("already connected" in e["text"] for e in f["evidence"])


@pytest.mark.parametrize("by_temporary_id", [False, True])
def test_callback_desync_from_the_page_log_alone(tmp_path, by_temporary_id):
    """No backend log: the page's switch back without chat:connect, then a chat:ready it did not
    ask for right after its next message, is the same incident, with the same wait."""
    logs = LogSet()
    c = logs.client(skew_ms=250.0)
    temp_a = _two_new_chats(logs, c)
    back = logs.now
    if by_temporary_id:
        _switch_back_by_temporary_id(logs, c, temp_a)
    else:
        logs.switch_back_without_connect(c, A)
    logs.wait(12)
    received = logs.message(c, SID1, A, key=temp_a[:8] if by_temporary_id else None, missing_callback_prev=B)
    logs.wait(3)
    app, page = logs.write(tmp_path)
    [f] = _findings(load_timeline([str(page)]), "callback-desync")
    assert f["session"].startswith(A[:8]) and f["client"] == c.id and f["severity"] == "critical"
    assert f["delay_ms"] == pytest.approx((received - back) * 1000, abs=10)
    assert "switched back at" in f["summary"] and "no backend log covers this time" in f["summary"]
    assert [e["path"] for e in f["evidence"]] == [str(page)] * 3
    assert "already connected" in f["evidence"][0]["text"] and "chat:ready" in f["evidence"][-1]["text"]
    # with the server's log, the server's account alone (no second finding from the page)
    [both] = _findings(load_timeline([str(app), str(page)]), "callback-desync")
    assert both["delay_ms"] == pytest.approx(f["delay_ms"], abs=10) and "inferred" not in both["summary"]


def test_from_the_page_log_a_desync_after_attaching_another_chat_on_the_socket(tmp_path):
    """The page attached A, then B on the same socket, and never left A: on a server with one
    live session per socket, B's attach dropped A's callback. Its next message to A gets a
    chat:ready it did not ask for, which drops B in turn, and so on: each time again on the
    same socket is the same problem: one finding for the socket, whatever the session, that
    says how many times (it was one per session, each telling the same cause again)."""
    logs = LogSet()
    c = logs.client(skew_ms=120.0)
    logs.connect(c, SID1)
    logs.attach(c, SID1, A, existing=True, history=2)
    logs.wait(1)
    logs.attach(c, SID1, B, existing=True, prev=A, history=2)
    logs.wait(2)
    for session, other in ((A, B), (B, A), (A, B), (B, A)):
        logs.message(c, SID1, session, missing_callback_prev=other, history=2)
        logs.wait(1)
    logs.wait(3)
    app, page = logs.write(tmp_path)
    full = sorted(_findings(load_timeline([str(app), str(page)]), "callback-desync"), key=lambda f: f["session"])
    alone = sorted(_findings(load_timeline([str(page)]), "callback-desync"), key=lambda f: f["session"])
    assert [(f["session"][:8], f["severity"], f["occurrences"]) for f in alone] == \
        [(f["session"][:8], f["severity"], f["occurrences"]) for f in full] == [(A[:8], "warning", 4)]
    assert [f["delay_ms"] for f in alone] == pytest.approx([f["delay_ms"] for f in full], abs=50)
    assert f"it attached session {B[:8]} on the same socket at" in alone[0]["summary"]
    assert alone[0]["summary"].count("Fix: the server keeps one live session per socket") == 1
    # (the server's log shows the replies the auto-connects cut off too: told in the same finding)
    assert "(4 messages found their session without a callback); the worst is described." in alone[0]["summary"]
    assert "(4 messages found their session without a callback, 2 replies were cut off live); the worst is " \
        "described." in full[0]["summary"]
    # (but for the last reply cut, which the page never saw: an outage of its own)
    assert [f["severity"] for f in _findings(load_timeline([str(app), str(page)]), "single-live-session")] == \
        ["critical"]
    for f in alone + full:
        _well_formed(f["summary"])


# the reference web client (profile connmgr) on `serve --bug single-live-session`, as its page
# logged a reconnect: both chats re-attached, then a message to each; each pair of chat:ready
# lines came in one millisecond (ms after the first line, the line)
_REATTACHED_IN_ONE_MS = [
    (0, "[SocketIO] Connecting..."),
    (13, "[SocketIO] Connected, authenticating..."),
    (18, "[SocketIO] [DIAG] Authentication successful, transport=websocket"),
    (18, "[ConnMgr] Connected"),
    (18, "[SocketIO] Re-sending 2 subscriptions after reconnect (skipped 0)"),
    (18, "[SocketIO] Re-subscribing to chat:new-1796"),
    (18, "[SocketIO] [DIAG] send EMIT: chat:connect to new-1796, transport=websocket"),
    (18, "[SocketIO] Re-subscribing to chat:new-1796"),
    (18, "[SocketIO] [DIAG] send EMIT: chat:connect to new-1796, transport=websocket"),
    (29, "[SocketIO] [TIMING] Socket.IO delivered chat:ready, network_delay=10ms (server={s}, client={c})"),
    (29, "[SocketIO] [TIMING] _handleMessage: RECEIVED chat:ready, triggering onConnect for chat:c648784d-7"),
    (29, "[Chat] History loading for new-1796, count=2, isReconnect=true"),
    (29, "[SocketIO] [TIMING] Socket.IO delivered chat:ready, network_delay=10ms (server={s}, client={c})"),
    (29, "[SocketIO] [TIMING] _handleMessage: RECEIVED chat:ready, triggering onConnect for chat:ae456c6e-a"),
    (29, "[Chat] History loading for new-1796, count=2, isReconnect=true"),
    (401, "[SocketIO] [DIAG] chatMessage: sessionId=new-1796, actualSessionId=new-1796, handler=found, "
          "state=connected"),
    (401, "[SocketIO] [DIAG] send EMIT: chat:message to new-1796, transport=websocket"),
    (401, "[SocketIO] [DIAG] chatMessage: sessionId=new-1796, actualSessionId=new-1796, handler=found, "
          "state=connected"),
    (401, "[SocketIO] [DIAG] send EMIT: chat:message to new-1796, transport=websocket"),
    (403, "[SocketIO] [TIMING] Socket.IO delivered chat:ready, network_delay=1ms (server={s}, client={c})"),
    (403, "[SocketIO] [TIMING] _handleMessage: RECEIVED chat:ready, triggering onConnect for chat:c648784d-7"),
    (403, "[SocketIO] [DIAG] user_ack for c648784d"),
    (403, "[SocketIO] [TIMING] Socket.IO delivered chat:ready, network_delay=1ms (server={s}, client={c})"),
    (403, "[SocketIO] [TIMING] _handleMessage: RECEIVED chat:ready, triggering onConnect for chat:ae456c6e-a"),
    (403, "[SocketIO] [DIAG] user_ack for ae456c6e"),
]


def test_from_the_page_log_chats_re_attached_in_one_millisecond_drop_each_other(tmp_path):
    """A page re-sent chat:connect for two chats at once and logged both chat:ready in the
    same millisecond: on a server with one live session per socket the second dropped the
    first, whose next message got a chat:ready it did not ask for (and that auto-connect
    dropped the second in turn). The page's log alone told neither, since neither attach
    came after the other by the clock; the line order says which came last."""
    t0 = 1796601218140
    lines = []
    for ms, text in _REATTACHED_IN_ONE_MS:
        at = datetime.fromtimestamp((t0 + ms) / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
        lines.append(f"[{at}Z] [DEBUG] " + text.format(s=t0 + ms - 1, c=t0 + ms))
    page = tmp_path / "frontend" / "20261206_Mozilla50iPhoneCPUiP-mxchz42n-luop.log"
    page.parent.mkdir()
    page.write_text("\n".join(lines) + "\n")
    # (one finding for the socket: its worst, saying both happened)
    [f] = _findings(load_timeline([str(page.parent)]), "callback-desync")
    assert (f["session"][:8], f["delay_ms"], f["occurrences"]) == ("c648784d", 374.0, 2)
    assert "it attached session ae456c6e on the same socket at" in f["summary"]
    assert "(2 messages found their session without a callback)" in f["summary"]
    _well_formed(f["summary"])


def test_the_real_page_log_alone_tells_the_callback_desync():
    page = FIXTURES / "callback-desync" / "frontend"
    found = _findings(load_timeline([str(page)]))
    assert [(f["kind"], f["severity"]) for f in found] == [("callback-desync", "critical")] * 2
    assert sorted(round(f["delay_ms"] / 1000, 1) for f in found) == [15.0, 15.0]  # the server's: 15.007, 15.005
    # a server log of another hour covers none of it: the page's account stands
    other = FIXTURES / "normal" / "app.log"
    assert len(_findings(load_timeline([str(other), str(page)]), "callback-desync")) == 2
    assert _serious(load_timeline([str(FIXTURES / "normal" / "frontend")])) == []


def test_the_page_log_alone_of_a_simulated_phone_tells_what_the_server_log_does():
    # a legacy page: a switch back, then a reconnect with no re-subscription, on two chats
    # whose temporary ids share their printed prefix
    sample = Path(__file__).parent.parent / "sample_logs" / "callback-desync-switch-back"

    def waits(paths):
        # (a session not re-attached until an auto-connect is one missing-resubscribe, or, where the
        # page's log alone does not show it was live on the lost socket, its callback-desync)
        found = [f for f in _findings(load_timeline([str(p) for p in paths]))
                 if f["kind"] in ("callback-desync", "missing-resubscribe")]
        return sorted((f["session"][:8], f["severity"], "reconnect" in f["summary"], f["delay_ms"]) for f in found)

    both = waits([sample / "app.log", sample / "frontend"])
    page = waits([sample / "frontend"])
    # each session's wait after the switch back and after the reconnect, told once each
    assert len(both) == 3 and [x[:3] for x in page] == [x[:3] for x in both]
    assert [x[3] for x in page] == pytest.approx([x[3] for x in both], abs=20)


def test_callback_desync_after_another_device_took_the_session_names_it(tmp_path):
    """Two devices on one chat, on a server that gives a session one live owner: the tablet
    attaching the chat takes its output from the phone, which still shows it."""
    logs = LogSet()
    phone, tablet = logs.client(suffix="phon"), logs.client(skew_ms=-1500.0, suffix="tabl")
    logs.connect(phone, SID1)
    logs.attach(phone, SID1, A, existing=True, history=2)
    logs.wait(2)
    logs.connect(tablet, SID2)
    logs.attach(tablet, SID2, A, existing=True, history=2)
    taken = logs.now
    logs.be(taken, "sm.owner_changed", session=A[:8], sid=SID1[:8], to_sid=SID2[:8])
    logs.wait(9)
    received = logs.message(phone, SID1, A, missing_callback_prev=B, history=4)
    logs.wait(3)
    tl = load_timeline([str(p) for p in logs.write(tmp_path)])
    [f] = _findings(tl, "callback-desync")
    assert f["sid"] == SID1[:8] and f["client"] == phone.id and f["session"] == A
    assert f["delay_ms"] == pytest.approx((received - taken) * 1000, abs=5)
    assert f"socket {SID2[:8]} took over its live output at" in f["summary"]
    assert "Fix: the server keeps one live owner per session" in f["summary"]
    assert any("Callback owner:" in e["text"] for e in f["evidence"])
    _well_formed(f["summary"])
    # the two pages' logs alone: the tablet's attach of the chat is when the phone's output stopped
    [page] = _findings(load_timeline([str(tmp_path / "frontend")]), "callback-desync")
    assert page["client"] == phone.id and page["delay_ms"] == pytest.approx(f["delay_ms"], abs=50)
    assert f"client {tablet.id.split('-', 1)[-1]} attached the same session at" in page["summary"]
    assert "Fix: the server keeps one live owner per session" in page["summary"]
    _well_formed(page["summary"])


def _reconnect_keeping_handlers(logs: LogSet, c, old_sid: str, new_sid: str, after_s: float = 1.2) -> float:
    """The page loses ``old_sid`` and, ``after_s`` later, reconnects on ``new_sid`` keeping
    its handler for its one chat: it re-sends no chat:connect and logs that it skipped it.
    Returns when the reconnect began."""
    logs.client_disconnect(c, old_sid, reason="transport close")
    logs.wait(after_s)
    back = logs.now
    logs.connect(c, new_sid)
    logs.fe(c, logs.now, "fe.resending", n=0, total=1)
    return back


def _live_then_reconnected(logs: LogSet, c) -> float:
    """The page attaches A on SID1 and, 3 s later, loses SID1 and reconnects on SID2 without
    re-sending its chat:connect (see :func:`_reconnect_keeping_handlers`). Returns when the
    reconnect began."""
    logs.connect(c, SID1)
    logs.attach(c, SID1, A, existing=True, history=4)
    logs.wait(3)
    return _reconnect_keeping_handlers(logs, c, SID1, SID2)


def test_a_reconnect_without_resubscribe_is_told_with_its_fix(tmp_path):
    """A page that kept its handlers through a reconnect and sent no chat:connect on the new
    socket: the server never had a callback for the session there. The advice is the
    re-send after a reconnect, not the one for switching back between sessions. It is a
    missing-resubscribe however soon the log ends after the auto-connect that ended it (it
    was a callback-desync when the log ended within 5 s of the reconnect)."""
    logs = LogSet()
    c = logs.client()
    back = _live_then_reconnected(logs, c)
    logs.switch_back_without_connect(c, A)
    logs.wait(3)
    received = logs.message(c, SID2, A, missing_callback_prev=B, history=6)
    logs.wait(0.5)  # (the log ends soon after)
    tl = load_timeline([str(p) for p in logs.write(tmp_path)])
    assert not _findings(tl, "callback-desync")
    [f] = _findings(tl, "missing-resubscribe")
    assert f["sid"] == SID2[:8] and f["session"] == A
    # the page's own account of the re-subscription it did not do
    assert "its log says it re-sent 0 subscription(s) after the reconnect and skipped 1" in f["summary"]
    assert any("Re-sending 0 subscriptions after reconnect (skipped 1)" in e["text"] for e in f["evidence"])
    assert "auto-connects it on its next message" in f["summary"]
    assert f["summary"].endswith("Re-send chat:connect for every open session after a reconnect.")
    assert "switching back" not in f["summary"]
    assert f["delay_ms"] == pytest.approx((received - back) * 1000, abs=50)
    _well_formed(f["summary"])
    # the page's log alone tells the same
    [page] = _findings(load_timeline([str(tmp_path / "frontend")]), "missing-resubscribe")
    assert page["session"].startswith(A[:8]) and page["delay_ms"] == pytest.approx(f["delay_ms"], abs=50)
    assert page["summary"].endswith("Re-send chat:connect for every open session after a reconnect.")
    assert any("Re-sending 0 subscriptions after reconnect" in e["text"] for e in page["evidence"])
    _well_formed(page["summary"])
    # and the server's log alone: a new socket that never attached the session, whose last
    # attach was on a socket the server had lost
    [server] = _findings(load_timeline([str(tmp_path / "app.log")]), "callback-desync")
    assert server["delay_ms"] == pytest.approx(f["delay_ms"], abs=50) and server["severity"] == f["severity"]
    assert (f"socket {SID2[:8]} connected at" in server["summary"] and f"last attached on socket {SID1[:8]}"
            in server["summary"] and "which no frontend log confirms" in server["summary"])
    assert "Fix: re-send chat:connect for every open session after a reconnect" in server["summary"]
    assert any("has no callback" in e["text"] for e in server["evidence"])
    _well_formed(server["summary"])


@pytest.mark.parametrize("logs_given", ["both", "page"])
def test_a_session_not_reattached_until_an_auto_connect_is_told_once(tmp_path, logs_given):
    """A page reconnected, re-sent no chat:connect, and its next message, 8 s later, made the
    server auto-connect the session. One problem with one fix: it was told twice, as a
    missing-resubscribe (from the reconnect to that auto-connect) and as the callback-desync
    of the same socket and session (from the reconnect to the server's 'has no callback'),
    with the same wait, from both logs and from the page's alone."""
    logs = LogSet()
    c = logs.client(skew_ms=-700.0)
    _live_then_reconnected(logs, c)
    back = max(t for t, line in logs.backend if f"Client {SID2[:8]} authenticated" in line)
    logs.wait(8)
    logs.message(c, SID2, A, missing_callback_prev=B, history=6)
    auto_ready = max(t for t, line in c.lines if "delivered chat:ready" in line)
    logs.wait(10)
    app, page = logs.write(tmp_path)
    tl = load_timeline([str(app), str(page)] if logs_given == "both" else [str(page)])
    assert not _findings(tl, "callback-desync")
    [f] = _findings(tl, "missing-resubscribe")
    assert f["session"].startswith(A[:8]) and f["client"] == c.id and f["severity"] == "critical"
    assert f["delay_ms"] == pytest.approx((auto_ready - back) * 1000, abs=50)
    assert (f"its output reaches no one until the server, finding no callback for it, auto-connects it on its "
            f"next message at {f['at'][:11]}") in f["summary"]
    assert "re-sent 0 subscription(s) after the reconnect and skipped 1" in f["summary"]
    assert f["summary"].endswith("Re-send chat:connect for every open session after a reconnect.")
    texts = [e["text"] for e in f["evidence"]]
    assert any("delivered chat:ready" in t for t in texts)  # (the auto-connect's chat:ready)
    if logs_given == "both":
        assert any(f"Client {SID2[:8]} has no callback for session {A[:8]}" in t for t in texts)
        # (the server's warning is told by this finding: no app-warning of it)
        assert not [w for w in _findings(tl, "app-warning") if "has no callback" in w["summary"]]
    _well_formed(f["summary"])


def test_from_the_page_log_a_reconnect_without_resubscribe_counts_from_the_reconnect(tmp_path):
    """The user opens the chat again just before writing, long after the page reconnected
    without re-subscribing: the chat was dead since the reconnect, not since that click."""
    logs = LogSet()
    c = logs.client(skew_ms=-700.0)
    _live_then_reconnected(logs, c)
    logs.wait(3.5)
    logs.switch_back_without_connect(c, A)
    logs.wait(0.05)
    logs.message(c, SID2, A, missing_callback_prev=B, history=6)
    logs.wait(0.4)  # (the log ends soon after)
    app, page = logs.write(tmp_path)
    [server] = _findings(load_timeline([str(app), str(page)]), "missing-resubscribe")
    [alone] = _findings(load_timeline([str(page)]), "missing-resubscribe")
    assert server["delay_ms"] > 3500 and alone["delay_ms"] == pytest.approx(server["delay_ms"], abs=50)
    assert "switched back" not in alone["summary"]
    assert [e["text"].split("] ")[-1] for e in alone["evidence"][:2]] == [
        "Disconnected: transport close", "Authentication successful, transport=websocket"]
    _well_formed(alone["summary"])


def test_a_second_reconnect_of_an_unrecovered_page_is_told_too(tmp_path):
    """The same page loses its socket again before it ever re-attached (the server's
    auto-connects are no recovery): the second reconnect's socket is a reconnect too."""
    logs = LogSet()
    c = logs.client()
    _live_then_reconnected(logs, c)
    logs.wait(2)
    logs.message(c, SID2, A, missing_callback_prev=B, history=6)
    logs.wait(5)
    back = _reconnect_keeping_handlers(logs, c, SID2, SID3, after_s=1.5)
    logs.wait(3)
    received = logs.message(c, SID3, A, missing_callback_prev=B, history=7)
    logs.wait(0.5)  # (the log ends soon after)
    tl = load_timeline([str(p) for p in logs.write(tmp_path)])
    # each socket's wait is told once, as its missing-resubscribe (see
    # test_a_session_not_reattached_until_an_auto_connect_is_told_once)
    assert not _findings(tl, "callback-desync")
    first, second = sorted(_findings(tl, "missing-resubscribe"), key=lambda f: f["at"])
    assert (first["sid"], second["sid"]) == (SID2[:8], SID3[:8])
    for f in (first, second):
        assert "until the server, finding no callback for it, auto-connects it on its next message" in f["summary"]
        assert f["summary"].endswith("Re-send chat:connect for every open session after a reconnect.")
        _well_formed(f["summary"])
    assert "re-sent 0 subscription(s) after the reconnect and skipped 1" in second["summary"]
    assert second["delay_ms"] == pytest.approx((received - back) * 1000, abs=50)
    assert any(f"Client {SID3[:8]} connected" in e["text"] for e in second["evidence"])


def test_callback_desync_says_the_frontend_log_shows_no_switch_back(tmp_path):
    logs = LogSet()
    c = _ping_pong(logs)
    tl = load_timeline([str(p) for p in logs.write(tmp_path)])
    [f] = _findings(tl, "callback-desync")
    assert f["client"] == c.id and 200 <= f["delay_ms"] < 250  # from B's attach (the drop) to the auto-connect
    assert f"client {c.id.split('-', 1)[1]} believed" in f["summary"]
    assert "frontend log shows no switch back to it in between" in f["summary"]
    assert "no frontend log" not in f["summary"]
    # the page never left the session: the advice is about the socket the sessions share
    assert "Fix: the server keeps one live session per socket: attach each open session on its own socket" \
        in f["summary"] and "switching back" not in f["summary"]
    assert "upper bound" in f["summary"]
    assert f"waited {f['delay_ms']:.0f} ms until" in f["summary"]  # a sub-second wait in ms, not "0.2 s"
    _well_formed(f["summary"])


def test_callback_desync_without_a_frontend_log_says_so(tmp_path):
    logs = LogSet()
    _ping_pong(logs)
    app_log = logs.write(tmp_path)[0]
    tl = load_timeline([str(app_log)])
    [f] = _findings(tl, "callback-desync")
    assert "no frontend log shows when the user came back to it" in f["summary"]
    _well_formed(f["summary"])


def test_callback_desync_with_no_known_start_names_no_wait(tmp_path):
    logs = LogSet()
    c = logs.client()
    logs.connect(c, SID1)
    logs.wait(1)
    # the server has no callback for A on this socket, and nothing says when it was lost
    logs.message(c, SID1, A, missing_callback_prev=B)
    logs.wait(2)
    tl = load_timeline([str(p) for p in logs.write(tmp_path)])
    [f] = _findings(tl, "callback-desync")
    assert f["delay_ms"] is None and f["severity"] == "critical"
    assert "live output waited until the next message auto-connected." in f["summary"]
    _well_formed(f["summary"])


def test_missing_resubscribe_when_the_new_socket_is_not_in_the_backend_log(tmp_path):
    logs, c = _lost_after_attach()
    logs.reconnect_attempts(c, 1)
    # the phone reconnects, but the backend log has no line of that socket
    for name in ("fe.connecting", "fe.connected"):
        logs.fe(c, logs.now, name)
    logs.fe(c, logs.now, "fe.auth_ok", transport="websocket")
    logs.fe(c, logs.now, "cm.connected")
    logs.wait(20)
    logs.be(logs.now, "app.batch_saved", n=1)
    tl = load_timeline([str(p) for p in logs.write(tmp_path)])
    [f] = _findings(tl, "missing-resubscribe")
    assert f["session"] == A and f["sid"] is None
    assert "socket None" not in f["summary"]
    assert "(on a socket not identified in the backend log)" in f["summary"]


def test_single_live_session_context_is_what_came_before_the_cut(tmp_path):
    logs = LogSet()
    c = logs.client()
    logs.connect(c, SID1)
    logs.attach(c, SID1, A, existing=True)
    logs.wait(1)
    logs.attach(c, SID1, B, existing=True, prev=A, handler_new=False)
    logs.wait(1)
    logs.attach(c, SID1, A, existing=True, prev=B, handler_new=False)
    logs.wait(1)
    logs.message(c, SID1, A, reply_s=3.0)
    logs.wait(0.5)
    logs.attach(c, SID1, B, existing=True, prev=A, handler_new=False)  # cuts A's reply off live
    logs.wait(5)
    tl = load_timeline([str(p) for p in logs.write(tmp_path)])
    [f] = [f for f in _findings(tl, "single-live-session") if f["session"] == A]
    cut = f["at"]
    assert f"socket {SID1[:8]} attached session {B[:8]} at {cut}" in f["summary"]
    notes = [n.strip() for n in f["context"].split(";")]
    assert len(notes) == len(set(notes)) == 2
    # the switch that cut the reply is the finding itself, not what came before it
    assert all(n.split(" ", 1)[0] < cut for n in notes), notes
    assert notes[-1].endswith(f"switched {B[:8]} -> {A[:8]}")


def test_a_desync_repeated_per_message_is_one_finding_per_socket(tmp_path):
    logs = LogSet()
    c = logs.client()
    logs.connect(c, SID1)
    logs.attach(c, SID1, A, existing=True)
    logs.attach(c, SID1, B, existing=True, prev=A)
    for wait in (0.3, 2.5, 6.0, 0.6):
        logs.wait(wait)
        # each chat's message finds its callback dropped by the other chat's last attach
        logs.message(c, SID1, A, missing_callback_prev=B, reply_s=0.05)
        logs.wait(0.2)
        logs.message(c, SID1, B, missing_callback_prev=A, reply_s=0.05)
    logs.wait(1)
    logs.client_disconnect(c, SID1, reason="transport close")
    logs.reconnect_attempts(c, 1)
    logs.connect(c, SID2)
    logs.resubscribe(c, [A, B])
    logs.attach(c, SID2, A, existing=True, handler_new=False)
    logs.attach(c, SID2, B, existing=True, prev=A, handler_new=False)
    logs.wait(0.4)
    logs.message(c, SID2, A, missing_callback_prev=B, reply_s=0.05)
    logs.wait(2)
    tl = load_timeline([str(p) for p in logs.write(tmp_path)])
    desyncs = _findings(tl, "callback-desync")
    by = {(f["sid"], f["severity"]): f for f in desyncs}
    # one cause, the server's one live session per socket: the warnings of both chats on the first
    # socket are one finding (they were one per chat), A's outage there one on its own, and on the
    # new socket the re-attach in turn and the message it left without a callback one more (they
    # were a single-live-session and a callback-desync finding)
    assert len(by) == len(desyncs) == 3 and not _findings(tl, "single-live-session")
    a1, outage, a2 = by[(SID1[:8], "warning")], by[(SID1[:8], "critical")], by[(SID2[:8], "warning")]
    assert a1["occurrences"] == 7 and a2["occurrences"] == 2 and outage["occurrences"] == 1
    # the worst is kept, with its own time and evidence; the span covers every occurrence
    assert a1["session"] == outage["session"] == A and 2500 <= a1["delay_ms"] < 3000 and outage["delay_ms"] >= 6000
    assert a1["first_at"] < a1["at"] < a1["last_at"] and a1["first_at"] < outage["at"] < a1["last_at"]
    assert sum("has no callback" in e["text"] for e in a1["evidence"]) == 1
    assert (f"This happened 7 times on socket {SID1[:8]}, from {a1['first_at']} to {a1['last_at']} (7 messages "
            f"found their session without a callback); the worst is described.") in a1["summary"]
    assert (f"This happened 2 times on socket {SID2[:8]}, from {a2['first_at']} to {a2['last_at']} (1 message found "
            f"its session without a callback, 1 reconnect re-attached its sessions in turn)") in a2["summary"]
    assert a1["summary"].count("Fix:") == a2["summary"].count("Fix:") == 1
    assert "times on socket" not in outage["summary"] and outage["first_at"] == outage["at"] == outage["last_at"]
    for f in desyncs:
        _well_formed(f["summary"])
    # the lines of the folded occurrences are still no app-warning of their own
    assert not [f for f in _serious(tl) if f["kind"] == "app-warning"]


def _cut_off_then_replayed_on_the_next_socket(away_s: float = 1.0) -> tuple[LogSet, float]:
    logs = LogSet()
    c = logs.client()
    logs.reply_cut_off_by_a_switch(c, SID1, A, B)
    logs.wait(away_s)
    logs.client_disconnect(c, SID1, reason="transport close")
    logs.reconnect_attempts(c, 1)
    logs.connect(c, SID2)
    logs.resubscribe(c, [B, A])
    logs.attach(c, SID2, B, existing=True, handler_new=False)
    logs.attach(c, SID2, A, existing=True, prev=B, history=2, handler_new=False)
    back = logs.now
    logs.wait(3)
    return logs, back


def test_a_reply_cut_off_then_replayed_on_the_next_socket_was_seen(tmp_path):
    logs, back = _cut_off_then_replayed_on_the_next_socket()
    tl = load_timeline([str(p) for p in logs.write(tmp_path)])
    [f] = [f for f in _findings(tl, "single-live-session") if f["sid"] == SID1[:8]]
    assert f["session"] == A and f["severity"] == "warning"
    assert "never saw it" not in f["summary"]
    assert f"history replay (2 messages) on its next socket {SID2[:8]} at" in f["summary"]
    assert f["delay_ms"] == pytest.approx((back - _epoch(f["at"])) * 1000, abs=20)


def test_a_reply_cut_off_and_replayed_only_after_5_s_is_an_outage(tmp_path):
    # the reply reached the page 7 s late, in the replay of its next socket: the user waited
    # as long as a critical desync. Before, a reply seen in any replay was a warning, while
    # the callback-desync that told the same wait was critical (simulate-mobile against
    # --bug single-live-session: 7.5 s, a warning for one phone, critical for the other)
    logs, back = _cut_off_then_replayed_on_the_next_socket(away_s=7.0)
    tl = load_timeline([str(p) for p in logs.write(tmp_path)])
    [f] = [f for f in _findings(tl, "single-live-session") if f["sid"] == SID1[:8]]
    assert f"history replay (2 messages) on its next socket {SID2[:8]} at" in f["summary"]
    assert f["delay_ms"] == pytest.approx((back - _epoch(f["at"])) * 1000, abs=20) and f["delay_ms"] > 7000
    assert f["severity"] == "critical"


def test_with_the_server_log_alone_a_cut_reply_names_the_next_attach_and_claims_nothing_of_the_page(tmp_path):
    logs, back = _cut_off_then_replayed_on_the_next_socket()
    [app] = [p for p in logs.write(tmp_path) if p.name == "app.log"]
    [f] = [f for f in _findings(load_timeline([str(app)]), "single-live-session") if f["sid"] == SID1[:8]]
    assert f["session"] == A and f["severity"] == "warning"
    assert "live event(s)" not in f["summary"] and "never saw it" not in f["summary"]
    assert f"no frontend log joins socket {SID1[:8]} to a page, so what reached it live is unknown" in f["summary"]
    assert f"next attached on socket {SID2[:8]} at" in f["summary"] and "history replay of 2 messages" in f["summary"]
    # (the server sent chat:ready a network delay before the page had it)
    assert f["delay_ms"] == pytest.approx((back - _epoch(f["at"])) * 1000, abs=150)



def test_the_terminal_shows_the_clients_findings_name_first(tmp_path):
    # one frontend log per page load: the view shows 8 clients, those the findings name first
    logs = LogSet()
    quiet = []
    for i in range(10):
        c = logs.client(suffix=f"q{i:03d}")
        logs.connect(c, f"Quiet{i:03d}AAAA")
        quiet.append(c)
        logs.wait(1)
    slow = logs.client(suffix="zslow")  # made last, so its id sorts last
    logs.connect(slow, SID1, transport="polling")
    logs.wait(1)
    tl = load_timeline([str(p) for p in logs.write(tmp_path)])
    assert [f["client"] for f in _findings(tl, "polling-fallback")] == [slow.id]
    console = Console(file=io.StringIO(), width=200)
    console.print(tl)
    text = console.file.getvalue()
    shown = [c.id for c in [*quiet, slow] if f"Client {c.id}" in text]
    assert len(shown) == 8 and slow.id in shown and shown[:7] == [c.id for c in quiet[:7]]
    assert "... 3 more clients not shown (" in text and "--client ID shows one" in text


def test_an_emit_lost_with_its_socket_is_no_transport_delay(tmp_path):
    """A flaky network: the page re-sends chat:connect on a new socket that dies before the
    server reads it, then re-sends on the next socket, where it arrives at once. The lost
    emit was paired with the next socket's receipt: a 'transport-delay' of the time between."""
    logs = LogSet()
    c = logs.client()
    logs.connect(c, SID1)
    logs.attach(c, SID1, A, existing=True, history=2)
    for _ in range(3):  # the usual: a few ms on the wire
        logs.wait(1)
        logs.message(c, SID1, A)
    logs.wait(1)
    logs.client_disconnect(c, SID1, reason="transport close")
    logs.wait(0.2)
    logs.connect(c, SID2)
    logs.fe(c, logs.now, "fe.resending", n=1, total=0)
    logs.fe(c, logs.now, "fe.resubscribing", session=A[:8])
    logs.fe(c, logs.now, "fe.emit_connect", session=A[:8], transport="websocket")  # never read by the server
    logs.wait(1.5)
    logs.client_disconnect(c, SID2, reason="transport close")
    logs.wait(0.2)
    logs.connect(c, SID3)
    logs.attach(c, SID3, A, existing=True, history=4, handler_new=False, resubscribe=True)
    logs.wait(2)
    tl = load_timeline([str(p) for p in logs.write(tmp_path)])
    assert _findings(tl, "transport-delay") == []
    # the re-send on the last socket is paired with its own receipt
    [attach] = [a for a in tl.to_json_dict()["sessions"][0]["attaches"] if a["sid"] == SID3[:8]]
    assert attach["transport_ms"] is not None and attach["transport_ms"] < 100


def _resumed_after_seq_40(tmp_path, **reattach):
    """The timeline of a page that loses its socket and re-attaches its chat asking to
    resume after seq 40 (``reattach``: how the server answers, see LogSet.attach)."""
    logs, c = _lost_after_attach(history=2)
    logs.wait(1)
    logs.connect(c, SID2)
    logs.attach(c, SID2, A, existing=True, history=3, last_seq=40, handler_new=False, resubscribe=True, **reattach)
    logs.wait(2)
    return load_timeline([str(p) for p in logs.write(tmp_path)])


@pytest.mark.parametrize(("total", "severity"), [(9, "critical"), (3, "warning")])
def test_history_window_when_the_server_ignores_last_seq(tmp_path, total, severity):
    """A page on the seq extension asks to resume after seq 40; the server replays its
    history window (3 of ``total`` messages) instead of the events after 40."""
    tl = _resumed_after_seq_40(tmp_path, history_total=total)
    [f] = _findings(tl, "history-window")
    assert f["severity"] == severity and f["session"] == A and f["sid"] == SID2[:8]
    assert "asked to resume after seq 40" in f["summary"]
    assert ("the last 3 of its 9 history messages" if total == 9 else "its whole history (3 messages)") in f["summary"]
    texts = [e["text"] for e in f["evidence"]]
    assert any("'last_seq': 40" in t for t in texts) and any(f"Loaded 3/{total} history" in t for t in texts)
    _well_formed(f["summary"])


@pytest.mark.parametrize("writing", [True, False])
def test_history_window_of_a_reply_being_written_as_the_page_came_back(tmp_path, writing):
    # the page asked a question, lost its socket while the agent answered, and came back
    # asking to resume: the history holds finished messages only, so what the agent wrote
    # meanwhile is in no replay (the page shows the reply from the middle)
    logs = LogSet()
    c = logs.client()
    logs.connect(c, SID1)
    logs.attach(c, SID1, A, existing=True, history=1)
    logs.message(c, SID1, A, reply_s=8.0 if writing else 0.5, deliver=False)
    logs.wait(1.0)
    logs.client_disconnect(c, SID1)
    logs.wait(1.5)
    logs.connect(c, SID2)
    logs.attach(c, SID2, A, existing=True, history=1, last_seq=2, handler_new=False, resubscribe=True)
    logs.wait(10)
    [f] = _findings(load_timeline([str(p) for p in logs.write(tmp_path)]), "history-window")
    assert ("A reply was being written as it came back" in f["summary"]) is writing
    assert any("Processing chat message" in e["text"] or "Chat message received" in e["text"]
               for e in f["evidence"]) is writing
    _well_formed(f["summary"])


def test_no_history_window_when_the_server_resumes(tmp_path):
    tl = _resumed_after_seq_40(tmp_path, resumed=True)
    assert _findings(tl, "history-window") == []
    assert [f for f in tl.to_json_dict()["findings"] if f["severity"] != "info"] == []


def test_a_history_replay_still_arriving_at_a_cut_is_no_live_output_of_the_cut_reply(tmp_path):
    """A message auto-connects A (its chat:ready and history replay on their way to the page)
    and the page's next chat:connect, for B, cuts A's reply off live a few ms later: the
    replayed messages the page logs after the cut are history, not the reply. Before, they
    were counted as live events of it ('the client received 4 live event(s) of it')."""
    logs = LogSet()
    c = logs.client(skew_ms=-430.0)
    logs.connect(c, SID1)
    logs.attach(c, SID1, A, existing=True)
    logs.attach(c, SID1, B, existing=True, prev=A)
    logs.wait(2)
    logs.message(c, SID1, A, missing_callback_prev=B, history=4, reply_s=3.0, deliver=False)
    # the page logs the end of A's replay only after the cut below, the replay with it
    [end] = [x for x in c.lines if "_handleHistoryEnd" in x[1]][-1:]
    c.lines.remove(end)
    logs.attach(c, SID1, B, existing=True, prev=A, handler_new=False)
    cut = max(t for t, line in logs.backend if f"{A[:8]} -> {B[:8]}" in line)
    for i in range(4):  # (on the wire before B's chat:ready, logged after the server's switch)
        logs.fe(c, cut + 0.001, "fe.handle_message", event="chat:user" if i % 2 == 0 else "chat:assistant",
                session=A[:8], detail=A[:10])
    logs.fe(c, cut + 0.0015, "chat.history_end", n=4)
    logs.wait(5)
    tl = load_timeline([str(p) for p in logs.write(tmp_path)])
    [f] = [f for f in _findings(tl, "single-live-session") if f["session"] == A and "cut off live" in f["summary"]]
    assert "the client received 0 live event(s) of it" in f["summary"], f["summary"]


def test_half_open_output_the_page_had_back_at_once_is_a_warning(tmp_path):
    # a network loss: the server keeps the dead socket until the phone is back, its output goes
    # into it, but the page re-attaches on its new socket at once and the history replay holds
    # the finished reply: nothing is lost (this was critical, as if the output never arrived)
    logs, c, lost_at = _socket_lost_unseen_by_the_server()
    logs.be(lost_at + 3, "sio.callback", sid=SID1[:8], session=A[:8], event="stream")
    logs.now = lost_at + 8
    logs.be(logs.now, "sio.client_disconnected_reason", sid=SID1[:8], reason="transport close", n=1)
    logs.connect(c, SID2)
    logs.attach(c, SID2, A, existing=True, history=3, handler_new=False)
    logs.wait(10)
    logs.be(logs.now, "app.batch_saved", n=1)
    tl = load_timeline([str(p) for p in logs.write(tmp_path)])
    [f] = _findings(tl, "half-open")
    assert f["sid"] == SID1[:8] and f["severity"] == "warning"
    assert f["delay_ms"] == pytest.approx(8_000, abs=50)
    assert "1 output event(s) went into the dead socket, and the page had them back from the history of its " \
           "re-attach at" in f["summary"]


def test_a_socket_lost_again_within_a_moment_is_no_outage_of_its_own(tmp_path):
    # a flaky network: the page reconnects without re-attaching and loses the new socket
    # 200 ms later, then reconnects for good. The short-lived socket's missing re-attach cost
    # 200 ms (a warning); the outage is the last socket's, for the rest of the log (critical).
    # Before, both were critical, the 200 ms one ranked as an outage like the real one.
    logs, c = _lost_after_attach()
    logs.reconnect_attempts(c, 1)
    logs.connect(c, SID2)
    logs.fe(c, logs.now, "fe.resending", n=0, total=1)
    logs.wait(0.2)
    logs.client_disconnect(c, SID2, reason="transport close")
    logs.reconnect_attempts(c, 1)
    logs.connect(c, SID3)
    logs.wait(15)
    logs.message(c, SID3, A)
    tl = load_timeline([str(p) for p in logs.write(tmp_path)])
    short, last = sorted(_findings(tl, "missing-resubscribe"), key=lambda f: f["at"])
    assert (short["sid"], last["sid"]) == (SID2[:8], SID3[:8])
    assert short["delay_ms"] == pytest.approx(200, abs=50) and "lost that socket too" in short["summary"]
    assert (short["severity"], last["severity"]) == ("warning", "critical")


def test_clients_back_within_a_second_of_a_restart_say_it_in_ms(tmp_path):
    # a quick restart: the phone was back 300 ms after the stop. Before, the summary said
    # "clients were back after 0.3 s" (and 37 ms read "0.0 s", beside a delay_ms of 37)
    logs, here, _ = _two_phones("there")
    logs.client_disconnect(here, SID1, server_sees=False)
    _stop(logs, [SID1, SID2])
    logs.wait(0.2)
    _start(logs)
    logs.wait(0.1)
    logs.connect(here, SID3)
    logs.attach(here, SID3, A, existing=True, history=1, handler_new=False)
    logs.wait(20)
    [f] = _findings(load_timeline([str(p) for p in logs.write(tmp_path)]), "server-restart")
    assert f"clients were back after {f['delay_ms']:.0f} ms" in f["summary"]
    assert f["delay_ms"] == pytest.approx(330, abs=50)


def test_a_socket_its_page_had_lost_long_before_is_not_cut_by_the_reload_after_it(tmp_path):
    # a phone went offline: its page lost the socket at once, the server closed its side when
    # the network came back, 2 s later, and 0.5 s before a reload (as simulate-mobile's
    # offline fault does). Before, the reload "cut 2 connection(s)", that one too (a close
    # this near a reload's line can be the reload's, unless the page lost it long before).
    logs, here, there = _two_phones("offline")
    logs.client_disconnect(there, SID2, reason="transport close", server_delay_s=2.0)
    logs.wait(2.5)
    logs.reload_then_reconnect(here, SID1, SID3, A)
    logs.connect(there, SID4)
    logs.attach(there, SID4, B, existing=True, history=2, handler_new=False)
    logs.wait(3)
    [f] = _findings(load_timeline([str(p) for p in logs.write(tmp_path)]), "server-reload")
    assert f"it cut 1 connection(s) ({SID1[:8]}); clients were back after" in f["summary"]
    assert SID2[:8] not in f["summary"]


def test_an_error_with_a_traceback_names_the_exception_it_raised(tmp_path):
    # its finding said "read the traceback", which a report (Markdown, HTML, JSON) never shows:
    # the exception the traceback ends in is what its reader needs first
    logs = LogSet()
    c = logs.client()
    logs.connect(c, SID1)
    logs.attach(c, SID1, A, existing=True)
    logs.wait(1)
    logs.app_error("Exception in handler\nTraceback (most recent call last):\n  File \"app.py\", line 9, in handle\n"
                   "    run()\nValueError: session 453424df has no agent")
    logs.wait(1)
    logs.app_error("Client QEy5Hbsz send error: Connection closed")
    tl = load_timeline([str(p) for p in logs.write(tmp_path)])
    raised, plain = sorted(_findings(tl, "app-error"), key=lambda f: f["severity"])
    assert raised["severity"] == "critical" and raised["summary"].startswith("Exception in handler — ")
    assert "which raised ValueError: session 453424df has no agent: read the context" in raised["summary"]
    assert plain["severity"] == "warning" and "raised" not in plain["summary"]


def _re_attached_in_turn_after_a_reconnect(one_live_before: bool) -> tuple[LogSet, Client]:
    """A page with chats A and B on SID1 goes to the background, comes back on SID2 and
    re-attaches A, then B, whose attach the server logs as a switch from A (and B's first
    attach on SID1 too, when ``one_live_before``)."""
    logs = LogSet()
    c = logs.client()
    logs.connect(c, SID1)
    logs.attach(c, SID1, A, existing=True)
    logs.attach(c, SID1, B, existing=True, prev=A if one_live_before else None)
    logs.wait(2)
    logs.page_hidden(c)
    logs.wait(5)
    logs.page_visible(c)
    logs.client_disconnect(c, SID1, reason="io client disconnect", n=2)
    logs.connect(c, SID2)
    logs.resubscribe(c, [A, B])
    logs.attach(c, SID2, A, existing=True, handler_new=False, resubscribe=True)
    logs.attach(c, SID2, B, existing=True, prev=A, handler_new=False, resubscribe=True)
    return logs, c


@pytest.mark.parametrize("cleared_line", [False, True])
def test_chats_re_attached_in_turn_whose_output_still_came_live_are_no_single_live_session(tmp_path, cleared_line):
    # a server that logs 'Switched session' when a socket attaches another chat but keeps every
    # chat's callback (a fixed server that kept the line): after the reconnect A's reply came
    # live on the new socket, after B's attach, so A was not dropped. It was named a
    # single-live-session ("A will look stuck") on the logs of the very fix it should clear.
    logs, c = _re_attached_in_turn_after_a_reconnect(one_live_before=False)
    if not cleared_line:
        logs.backend = [(t, line) for t, line in logs.backend if "Callback cleared" not in line]
    logs.wait(1)
    logs.message(c, SID2, A)
    logs.wait(2)
    tl = load_timeline([str(p) for p in logs.write(tmp_path)])
    assert _serious(tl) == []


def test_chats_re_attached_in_turn_are_a_single_live_session_when_the_first_gets_nothing_live(tmp_path):
    # the same on a server that keeps one live chat per socket: nothing of A comes live after
    # B's attach, and the finding stands
    logs, _ = _re_attached_in_turn_after_a_reconnect(one_live_before=True)
    logs.wait(5)
    tl = load_timeline([str(p) for p in logs.write(tmp_path)])
    (f,) = [f for f in _serious(tl) if f["sid"] == SID2[:8]]
    assert f["kind"] == "single-live-session" and f"only {B[:8]} receives live output" in f["summary"]

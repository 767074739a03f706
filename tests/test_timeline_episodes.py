"""Reconnect episodes: which sessions a client had when it lost its socket, and whether
they came back. Written with tests/logbuilder.py, so each test knows the truth."""

from __future__ import annotations

from datetime import datetime

from logbuilder import LogSet, uuid_of

from jarvis_diag.timeline import load_timeline

A, B = uuid_of(0xA1), uuid_of(0xB2)
SID1, SID2, SID3 = "QEy5HbszAAAB", "T3TU_-YiAAAC", "Vh2kW9pqAAAD"


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_a_closing_sockets_clean_up_does_not_hide_the_sessions_it_had(tmp_path):
    """The server closes the socket (its ping timeout) and, closing it, clears the session's
    callback in the same millisecond; the page hears of it a moment later. The session was
    live until the loss, so a reconnect that does not re-attach it has not recovered."""
    logs = LogSet()
    c = logs.client()
    logs.connect(c, SID1)
    logs.attach(c, SID1, A, existing=True, history=2)
    logs.wait(8.0)
    lost_at = logs.now
    logs.be(lost_at, "sm.callback_cleared", session=A[:8], sid=SID1[:8])
    logs.server_disconnect(SID1)
    logs.now = lost_at + 0.004
    logs.client_disconnect(c, SID1, reason="transport close", server_sees=False)
    logs.wait(0.7)
    logs.connect(c, SID2)  # ... and no chat:connect for A
    logs.wait(12.0)
    logs.be(logs.now, "app.db_init")  # the log goes on long enough to tell
    doc = load_timeline([str(p) for p in logs.write(tmp_path)]).to_json_dict()
    [ep] = doc["episodes"]
    assert ep["sessions"] == [A] and ep["sid_before"] == SID1[:8] and ep["sid_after"] == SID2[:8]
    assert not ep["recovered"] and ep["ready_at"] == {A: None}
    [missing] = [f for f in doc["findings"] if f["kind"] == "missing-resubscribe"]
    assert missing["session"] == A and missing["sid"] == SID2[:8]


def test_a_switch_just_before_the_close_still_counts(tmp_path):
    """Only the close's own clean-up is discounted: a switch a moment before the socket
    closed (one live session per socket: a message for B auto-connected it and took A's
    callback) still left only B live."""
    logs = LogSet()
    c = logs.client()
    logs.connect(c, SID1)
    logs.attach(c, SID1, A, existing=True)
    logs.wait(1.0)
    logs.attach(c, SID1, B, existing=True, prev=A)
    logs.wait(1.0)
    logs.attach(c, SID1, A, existing=True, prev=B)
    logs.wait(1.0)
    logs.message(c, SID1, B, missing_callback_prev=A, chunks=0, reply_s=0.01)
    logs.wait(0.03)
    logs.be(logs.now, "sm.callback_cleared", session=B[:8], sid=SID1[:8])
    logs.server_disconnect(SID1)  # the page logged nothing: frozen
    logs.wait(2.0)
    logs.connect(c, SID2)
    logs.attach(c, SID2, B, existing=True, handler_new=False)
    logs.wait(3.0)
    doc = load_timeline([str(p) for p in logs.write(tmp_path)]).to_json_dict()
    [ep] = doc["episodes"]
    assert ep["trigger"] == "socket.disconnected"
    assert ep["sessions"] == [B] and ep["recovered"]


def test_a_page_in_view_through_a_reload_was_never_visible_again_until_its_next_background(tmp_path):
    """A reload cuts a page that stays in view: its episode has no 'visible again'. The page's
    return from a later background belongs to the later episode."""
    logs = LogSet()
    c = logs.client()
    logs.open_on(c, SID1, A)
    logs.wait(2)
    logs.server_reload()
    logs.reattach(c, SID1, SID2, A)
    logs.wait(5)
    logs.page_hidden(c)
    logs.client_disconnect(c, SID2)
    logs.wait(6)
    logs.page_visible(c)
    back = logs.now - 0.01
    logs.connect(c, SID3)
    logs.attach(c, SID3, A, existing=True, history=1, handler_new=False)
    logs.wait(2)
    first, second = load_timeline([str(p) for p in logs.write(tmp_path)]).to_json_dict()["episodes"]
    assert first["trigger"] == "server.reload" and first["recovered"] and first["visible_at"] is None
    assert second["trigger"] == "page.hidden" and second["recovered"]
    assert abs(_epoch(second["visible_at"]) - back) < 0.01


def _two_sessions_then_reconnect(logs: LogSet):
    c = logs.client()
    logs.open_on(c, SID1, A)
    logs.attach(c, SID1, B, existing=True, prev=A)
    logs.wait(2)
    logs.client_disconnect(c, SID1)
    logs.wait(1)
    logs.connect(c, SID2)
    return c


def _frontend_only(logs: LogSet, tmp_path):
    paths = [p for p in logs.write(tmp_path) if p.name != "app.log"]
    return load_timeline([str(p) for p in paths]).to_json_dict()


def test_frontend_only_a_page_re_sending_every_session_before_the_first_answer_recovered(tmp_path):
    logs = LogSet()
    c = _two_sessions_then_reconnect(logs)
    logs.resubscribe(c, [A, B])
    t = logs.now
    logs.attach(c, SID2, A, existing=True, history=1, resubscribe=True)
    logs.now = t + 0.001  # (both chat:connects leave before the first chat:ready comes back)
    logs.attach(c, SID2, B, existing=True, history=1, resubscribe=True)
    logs.wait(3)
    [ep] = _frontend_only(logs, tmp_path)["episodes"]
    assert ep["recovered"] and set(ep["ready_at"]) == {A[:8], B[:8]}


def test_frontend_only_a_chat_ready_the_page_never_asked_for_is_no_recovery(tmp_path):
    """The page re-sent nothing after the reconnect; its chat:ready came from the server
    auto-connecting on the user's next message. Its own log is enough to tell."""
    logs = LogSet()
    c = _two_sessions_then_reconnect(logs)
    logs.fe(c, logs.now, "fe.resending", n=0, total=2)  # (it kept both handlers, so it skipped both)
    logs.wait(4)
    logs.message(c, SID2, B, missing_callback_prev=A, history=2)
    logs.wait(12)
    logs.message(c, SID2, B)  # (the log goes on long enough to tell)
    doc = _frontend_only(logs, tmp_path)
    [ep] = doc["episodes"]
    assert not ep["recovered"] and ep["ready_at"] == {A[:8]: None, B[:8]: None}
    missing = [f for f in doc["findings"] if f["kind"] == "missing-resubscribe"]
    assert {f["session"] for f in missing} == {A[:8], B[:8]}
    assert all("its log says it re-sent 0 subscription(s) after the reconnect and skipped 2" in f["summary"]
               and any("Re-sending 0 subscriptions" in e["text"] for e in f["evidence"]) for f in missing)


def test_frontend_only_sockets_a_second_apart_are_two_sockets(tmp_path):
    """A dev-server reload: the page reconnects within a second of its first connect, and
    again after. With no server log to join them to, each authentication the page logs is a
    socket of its own (they were one, so the first loss after the reconnect was a retry)."""
    logs = LogSet()
    c = logs.client()
    logs.open_on(c, SID1, A)
    logs.client_disconnect(c, SID1)
    logs.wait(0.9)
    logs.connect(c, SID2)
    back = logs.now
    logs.fe(c, logs.now, "fe.resending", n=0, total=1)
    logs.wait(4)
    logs.client_disconnect(c, SID2)
    logs.wait(2)
    logs.connect(c, SID3)
    logs.wait(4)
    doc = _frontend_only(logs, tmp_path)
    assert len(doc["connections"]) == 3
    first, second = doc["episodes"]
    assert _epoch(first["authenticated_at"]) < back and _epoch(second["started_at"]) > back + 3
    assert not first["recovered"] and not second["recovered"]


def test_a_page_that_logs_nothing_after_the_server_lost_its_socket_was_closed_not_lost(tmp_path):
    """A tab closed (or reloaded: a new page, a new client id) leaves the server a 'transport
    close' and the page's log ends. A frozen page's log goes on when it wakes: that is a loss."""
    logs = LogSet()
    closed, frozen = logs.client(suffix="shut"), logs.client(suffix="froz", skew_ms=-700.0)
    logs.open_on(closed, SID1, A)
    logs.open_on(frozen, SID2, B)
    logs.wait(2)
    logs.server_disconnect(SID1)
    logs.server_disconnect(SID2)
    logs.wait(5)
    logs.reattach(frozen, SID2, SID3, B)  # (woken: it hears of the loss, reconnects)
    logs.wait(2)
    [ep] = load_timeline([str(p) for p in logs.write(tmp_path)]).to_json_dict()["episodes"]
    assert ep["client"] == frozen.id and ep["sid_before"] == SID2[:8] and ep["recovered"]

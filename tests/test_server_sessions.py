"""The session state and the attach rules (pure: no sockets)."""

from __future__ import annotations

from server.sessions import Session, SocketState, attach, detach, is_uuid, message_event


def _session(sid="s1") -> Session:
    return Session(sid, "/w")


def test_record_numbers_events_and_keeps_messages():
    s = _session()
    p1, m1 = s.record("chat:user_ack", "hi")
    p2, m2 = s.record("chat:stream", "h")
    p3, m3 = s.record("chat:assistant", "hello", {"k": 1})
    assert [p["seq"] for p in (p1, p2, p3)] == [1, 2, 3] and s.head_seq == 3
    assert m1["type"] == "user" and m2 is None and m3["extra"] == {"k": 1}
    assert [m["index"] for m in s.messages] == [0, 1]
    assert message_event(m3, "s1") == ("chat:assistant", {"session_id": "s1", "seq": 3, "index": 1,
                                                          "type": "assistant", "content": "hello",
                                                          "timestamp": m3["timestamp"], "extra": {"k": 1}})


def test_events_after_and_pages():
    s = _session()
    for i in range(10):
        s.record("chat:user_ack" if i % 2 == 0 else "chat:assistant", str(i))
    assert [e[0] for e in s.events_after(7)] == [8, 9, 10]
    assert s.events_after(10) == [] and s.events_after(99) == [] and len(s.events_after(0)) == 10
    assert [m["content"] for m in s.history_window(3)] == ["7", "8", "9"]
    assert s.history_window(0) == []
    assert [m["index"] for m in s.history_page(5, 2)] == [3, 4]
    assert [m["index"] for m in s.history_page(1, 5)] == [0]
    assert s.history_page(0, 5) == []


def test_attach_correct_keeps_every_session_and_socket_live():
    a, b = _session("A"), _session("B")
    sessions = {"A": a, "B": b}
    s1, s2 = SocketState("x"), SocketState("y")
    assert not attach(a, s1, sessions).reconnect
    attach(b, s1, sessions)
    attach(a, s2, sessions)
    assert list(a.subscribers) == ["x", "y"] and list(b.subscribers) == ["x"]
    assert attach(a, s1, sessions).reconnect


def test_attach_single_live_session_drops_the_others():
    a, b = _session("A"), _session("B")
    sessions = {"A": a, "B": b}
    sock = SocketState("x")
    attach(a, sock, sessions, single_live=True)
    change = attach(b, sock, sessions, single_live=True)
    assert change.cleared == ["A"] and change.switched_from == "A"
    # the socket keeps its subscription to A (the real server counts it when the socket goes:
    # "cleaned up 3 subscriptions" after three chats in turn); only A's callback went
    assert "x" not in a.subscribers and list(sock.sessions) == ["A", "B"]
    # back to A: only B's callback goes (A's went already, and is not told again)
    change = attach(a, sock, sessions, single_live=True)
    assert change.cleared == ["B"] and change.switched_from == "B" and list(a.subscribers) == ["x"]
    assert "x" not in b.subscribers


def test_attach_single_owner_moves_the_output():
    a = _session("A")
    s1, s2 = SocketState("x"), SocketState("y")
    attach(a, s1, {"A": a}, single_owner=True)
    change = attach(a, s2, {"A": a}, single_owner=True)
    assert change.owner_from == "x" and list(a.subscribers) == ["y"] and a.owner == "y"


def test_detach():
    a = _session("A")
    sock = SocketState("x")
    attach(a, sock, {"A": a})
    assert detach(a, sock) is True and detach(a, sock) is False
    assert not a.subscribers and not sock.sessions


def test_is_uuid():
    assert is_uuid("d910c8f8-1c2e-4b7a-9e01-5a6b7c8d9e0f") and not is_uuid("new-1769736575123")

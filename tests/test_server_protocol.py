"""The protocol of docs/protocol.md against the reference server, with real clients."""

from __future__ import annotations

import asyncio

from server.agents import sim_reply, sim_text
from server.testing import Client, running_server

WD = "/tmp"


def _events(items, session=None):
    return [e for e, d in items if session is None or (isinstance(d, dict) and d.get("session_id") == session)]


async def test_auth_success_and_failure():
    async with running_server() as srv:
        async with Client(srv.url, srv.token) as good:
            assert good.events[-1] == ("auth_success", {})
        bad = Client(srv.url, "wrong")
        await bad.connect(auth=False)
        await bad.sio.emit("auth", {"token": "wrong"})
        data = await bad.wait("auth_failed")
        assert data["reason"]
        # nothing is honoured before a successful auth
        mark = bad.mark()
        await bad.sio.emit("chat:connect", {"session_id": "new-1", "working_dir": WD})
        err = await bad.wait("chat:error", since=mark)
        assert "not authenticated" in err["message"]
        assert "chat:ready" not in _events(bad.events)
        await bad.close()


async def test_second_auth_is_ignored():
    async with running_server() as srv, Client(srv.url, srv.token) as c:
        mark = c.mark()
        await c.sio.emit("auth", {"token": "wrong"})
        await c.sio.emit("system:ping", {})
        await c.wait("system:pong", since=mark)
        assert _events(c.events[mark:]) == ["system:pong"]


async def test_new_session_ready_history_and_reply():
    async with running_server() as srv, Client(srv.url, srv.token) as c:
        mark = c.mark()
        ready = await c.attach("new-1700000000000")
        sid = ready["session_id"]
        assert len(sid) == 36 and ready["original_session_id"] == "new-1700000000000"
        assert ready["working_dir"] == WD and ready["history_count"] == 0
        assert isinstance(ready["server_ts"], int) and ready["resumed"] is False
        assert _events(c.events[mark:]) == ["chat:ready", "chat:history_end"]
        end = c.events[-1][1]
        assert end["count"] == 0 and end["total"] == 0 and end["session_id"] == sid

        items = await c.say("new-1700000000000", "hello there", sid)
        got = [(e, d["content"]) for e, d in items if e != "chat:user_ack"]
        expected = [(i["event"], i["content"]) for i in sim_reply("hello there")]
        assert got == expected
        assert items[0][0] == "chat:user_ack" and items[0][1]["content"] == "hello there"
        seqs = [d["seq"] for _, d in items]
        assert seqs == list(range(1, len(items) + 1))
        assert all(d["session_id"] == sid for _, d in items)
        assert items[-1][1]["content"] == sim_text("hello there")


async def test_history_replay_and_pages():
    async with running_server(history=3) as srv, Client(srv.url, srv.token) as c:
        sid = (await c.attach("new-1"))["session_id"]
        for i in range(3):
            await c.say(sid, f"q{i}")
        mark = c.mark()
        ready = await c.attach(sid)
        replay = c.since(mark, sid)
        names = _events(replay)
        assert names[0] == "chat:ready" and names[-1] == "chat:history_end"
        msgs = [d for e, d in replay[1:-1]]
        assert ready["history_count"] == 3 == len(msgs)
        assert [(m["type"], m["content"]) for m in msgs] == [
            ("assistant", sim_text("q1")), ("user", "q2"), ("assistant", sim_text("q2"))]
        assert replay[-1][1]["total"] == 6 and replay[-1][1]["count"] == 3
        oldest = msgs[0]["index"]
        assert oldest == 3

        mark = c.mark()
        await c.sio.emit("chat:load_more_history", {"session_id": sid, "before_index": oldest, "limit": 2})
        end = await c.wait("chat:history_page_end", since=mark)
        page = [d for e, d in c.since(mark, sid)][:-1]
        assert [(m["type"], m["content"]) for m in page] == [("assistant", sim_text("q0")), ("user", "q1")]
        assert end == {"session_id": sid, "oldest_index": 1, "has_more": True, "count": 2}
        mark = c.mark()
        await c.sio.emit("chat:load_more_history", {"session_id": sid, "before_index": 1, "limit": 5})
        end = await c.wait("chat:history_page_end", since=mark)
        assert end["oldest_index"] == 0 and end["has_more"] is False and end["count"] == 1


async def test_temp_id_maps_across_sockets_and_both_get_output():
    async with running_server() as srv, Client(srv.url, srv.token, "a") as a, Client(srv.url, srv.token, "b") as b:
        sid = (await a.attach("new-42"))["session_id"]
        await a.say("new-42", "one", sid)
        ready_b = await b.attach("new-42")
        assert ready_b["session_id"] == sid
        mark_a = a.mark()
        await b.say("new-42", "two", sid)
        await a.wait("chat:result", since=mark_a, session=sid)
        assert "chat:user_ack" in _events(a.events[mark_a:])  # the laptop sees the phone's message


async def test_many_sessions_per_socket_all_live():
    async with running_server() as srv, Client(srv.url, srv.token) as c:
        ids = [(await c.attach(f"new-{i}"))["session_id"] for i in range(3)]
        marks = c.mark()
        for sid in ids:
            await c.sio.emit("chat:message", {"session_id": sid, "content": f"to {sid[:4]}"})
        for sid in ids:
            await c.wait("chat:result", since=marks, session=sid)


async def test_session_runs_without_sockets_and_resume_is_gap_free():
    async with running_server(agent_pace=0.01) as srv:
        async with Client(srv.url, srv.token) as c:
            sid = (await c.attach("new-9"))["session_id"]
            await c.say(sid, "first")
            seen = [d["seq"] for e, d in c.since(0, sid) if isinstance(d, dict) and "seq" in d
                    and e not in ("chat:ready", "chat:history_end")]
            await c.sio.emit("chat:message", {"session_id": sid, "content": "/stream 30"})
            await c.wait("chat:stream", session=sid, since=len(c.events) - 1)
            seen += [d["seq"] for e, d in c.since(0, sid)[len(seen) + 2:] if "seq" in d and e.startswith("chat:")
                     and e not in ("chat:ready", "chat:history_end")]
        last_seq = max(seen)
        await asyncio.sleep(0.6)  # the reply goes on with nobody attached
        async with Client(srv.url, srv.token) as c2:
            mark = c2.mark()
            ready = await c2.attach(sid, last_seq=last_seq)
            assert ready["resumed"] is True and ready["replay_from"] == last_seq + 1
            await c2.wait("chat:result", session=sid, since=mark, timeout=10)
            got = [d["seq"] for e, d in c2.since(mark, sid) if e not in ("chat:ready", "chat:history_end")]
            assert got == list(range(last_seq + 1, got[-1] + 1))  # no gap, no duplicate
            assert sorted(set(seen) | set(got)) == list(range(1, got[-1] + 1))
            assert not set(seen) & set(got)


async def test_chat_disconnect_stops_live_output_for_that_socket_only():
    async with running_server() as srv, Client(srv.url, srv.token, "a") as a, Client(srv.url, srv.token, "b") as b:
        sid = (await a.attach("new-1"))["session_id"]
        await b.attach(sid)
        await a.sio.emit("chat:disconnect", {"session_id": sid})
        await a.sio.emit("system:ping", {})
        await a.wait("system:pong")
        mark_a = a.mark()
        await b.say(sid, "hello")
        await asyncio.sleep(0.05)
        assert a.since(mark_a, sid) == []


async def test_chat_close_stops_agent_and_message_restarts_it():
    async with running_server() as srv, Client(srv.url, srv.token) as c:
        sid = (await c.attach("new-1"))["session_id"]
        await c.sio.emit("chat:close", {"session_id": sid})
        await c.sio.emit("system:ping", {})
        await c.wait("system:pong")
        assert sid not in srv.chat.runtimes
        events = await c.say(sid, "again")  # auto-connects and restarts the agent
        assert "chat:ready" in _events(events)


async def test_message_without_callback_auto_connects():
    async with running_server() as srv, Client(srv.url, srv.token, "a") as a, Client(srv.url, srv.token, "b") as b:
        sid = (await a.attach("new-1"))["session_id"]
        events = await b.say(sid, "late")
        names = _events(events)
        assert names.index("chat:ready") < names.index("chat:history_end") < names.index("chat:user_ack")
        assert "has no callback for session" in srv.app_log.read_text()


async def test_ping_pong():
    async with running_server() as srv, Client(srv.url, srv.token) as c:
        await c.sio.emit("system:ping", {})
        assert await c.wait("system:pong") == {}


async def test_polling_transport_works():
    # a short ping interval: the polling client's disconnect waits for its pending long-poll
    async with running_server(ping_interval=0.5, ping_timeout=1) as srv, Client(srv.url, srv.token, transports=("polling",)) as c:
        sid = (await c.attach("new-1"))["session_id"]
        await c.say(sid, "over polling")


async def test_attach_in_the_middle_of_a_stream_loses_nothing_and_repeats_nothing():
    async with running_server(agent_pace=0.002) as srv, Client(srv.url, srv.token, "a") as a, \
            Client(srv.url, srv.token, "b") as b:
        A = (await a.attach("new-1"))["session_id"]
        await a.sio.emit("chat:message", {"session_id": A, "content": "/stream 150"})
        await a.wait("chat:stream", session=A, pred=lambda d: d["content"] == "chunk 20 ")
        mark = b.mark()
        ready = await b.attach(A, last_seq=0)  # replay from the start while the stream goes on
        assert ready["resumed"] and ready["head_seq"] > 20
        await b.wait("chat:result", since=mark, session=A)
        seqs = [d["seq"] for e, d in b.since(mark, A) if e not in ("chat:ready", "chat:history_end")]
        assert seqs == list(range(1, seqs[-1] + 1))
        await a.wait("chat:result", session=A)
        assert [d["seq"] for e, d in a.since(0, A) if "seq" in d and e not in ("chat:history_end",)] == seqs


async def test_a_stopped_server_leaves_no_task_running():
    # (the Engine.IO heartbeat of a closed socket sleeps out its interval and ends on its own)
    before = asyncio.all_tasks()
    async with running_server() as srv:
        async with Client(srv.url, srv.token) as c:
            await c.attach("new-1")
    await asyncio.sleep(0)
    left = [t for t in asyncio.all_tasks() - before if "_send_ping" not in repr(t.get_coro())]
    assert left == []

"""Each --bug shows its bad behaviour; without it the server is correct."""

from __future__ import annotations

import asyncio
import time

import pytest
import socketio

from server.agents import sim_text
from server.bugs import BUGS, check, describe
from server.testing import Client, running_server


async def _quiet(client: Client, session: str, mark: int, wait_s: float = 0.15) -> bool:
    """True when ``client`` got no chat:result for ``session`` since ``mark``."""
    await asyncio.sleep(wait_s)
    return all(e != "chat:result" for e, _ in client.since(mark, session))


@pytest.mark.parametrize("bug", [None, "single-live-session"])
async def test_single_live_session(bug):
    async with running_server(bugs=[bug] if bug else []) as srv, \
            Client(srv.url, srv.token, "a") as a, Client(srv.url, srv.token, "b") as b:
        A = (await a.attach("new-1"))["session_id"]
        await a.attach("new-2")  # attaching B ...
        await b.attach(A)
        mark = a.mark()
        await b.say(A, "who hears this?")
        if bug:
            assert await _quiet(a, A, mark)  # ... dropped socket a's callback for A
            log = srv.app_log.read_text()
            assert f"Callback cleared by {a.sid[:8]}" in log and f"Switched session: sid={a.sid[:8]}" in log
        else:
            await a.wait("chat:result", since=mark, session=A)


async def _disconnect_lines(srv, sid: str) -> list[str]:
    """The app.log lines naming socket ``sid`` after the last attach, read once its disconnect
    is logged (the lines of a disconnect are written at once)."""
    for _ in range(200):
        lines = srv.app_log.read_text().splitlines()
        if any(f"Client {sid[:8]} disconnected" in line for line in lines):
            break
        await asyncio.sleep(0.02)
    start = max(i for i, line in enumerate(lines) if "Chat connect DONE" in line)
    return [line.split(" - ", 3)[-1] for line in lines[start + 1:] if sid[:8] in line]


async def test_single_live_session_disconnect_counts_every_subscription_and_clears_only_the_live_one():
    # as the real server logs it (../real-logs: a socket that attached 3 chats in turn): one
    # "Callback cleared", "cleaned up 3 subscriptions", one "Consumer cancelled"
    async with running_server(bugs=["single-live-session"]) as srv:
        a = await Client(srv.url, srv.token, "a").connect()
        sid = a.sid
        sessions = [(await a.attach(f"new-{k}"))["session_id"] for k in range(3)]
        await a.close()
        assert await _disconnect_lines(srv, sid) == [
            f"[Session:{sessions[2][:8]}] Callback cleared by {sid[:8]}",
            f"[SocketIO] Client {sid[:8]} disconnected, cleaned up 3 subscriptions",
            f"[SocketIO] Consumer cancelled: sid={sid[:8]}, session={sessions[2][:8]}",
        ]


async def test_single_owner_disconnect_clears_no_callback_another_socket_took():
    async with running_server(bugs=["single-owner"]) as srv, Client(srv.url, srv.token, "laptop") as laptop:
        phone = await Client(srv.url, srv.token, "phone").connect()
        sid = phone.sid
        A = (await phone.attach("new-1"))["session_id"]
        await laptop.attach(A)
        await phone.close()
        # (the laptop took A's callback: the phone's disconnect has none to clear)
        assert await _disconnect_lines(srv, sid) == [
            f"[SocketIO] Client {sid[:8]} disconnected, cleaned up 1 subscriptions"]


@pytest.mark.parametrize("bug", [None, "single-owner"])
async def test_single_owner(bug):
    async with running_server(bugs=[bug] if bug else []) as srv, \
            Client(srv.url, srv.token, "phone") as phone, Client(srv.url, srv.token, "laptop") as laptop:
        A = (await phone.attach("new-1"))["session_id"]
        await laptop.attach(A)
        mark = phone.mark()
        await laptop.say(A, "typed on the laptop")
        if bug:
            assert await _quiet(phone, A, mark)
            assert f"[Session:{A[:8]}] Callback owner: {phone.sid[:8]} -> {laptop.sid[:8]}" in srv.app_log.read_text()
        else:
            await phone.wait("chat:result", since=mark, session=A)


@pytest.mark.parametrize("bug", [None, "history-window"])
async def test_history_window_ignores_last_seq(bug):
    async with running_server(bugs=[bug] if bug else [], history=2) as srv:
        async with Client(srv.url, srv.token) as c:
            A = (await c.attach("new-1"))["session_id"]
            await c.say(A, "first")
            mark = c.mark()
            await c.sio.emit("chat:message", {"session_id": A, "content": "second"})
            await c.wait("chat:user_ack", since=mark)
        last_seq = 3  # the client saw user_ack, system and thinking_start of the first reply
        await asyncio.sleep(0.3)  # "second" is answered with nobody attached
        async with Client(srv.url, srv.token) as c2:
            mark = c2.mark()
            ready = await c2.attach(A, last_seq=last_seq)
            got = [(e, d) for e, d in c2.since(mark, A) if e not in ("chat:ready", "chat:history_end")]
            total = srv.chat.sessions[A].head_seq
            if bug:
                assert ready["resumed"] is False and len(got) == 2  # only the window of messages
                assert [d["content"] for _, d in got] == ["second", sim_text("second")]
            else:
                assert ready["resumed"] is True
                assert [d["seq"] for _, d in got] == list(range(last_seq + 1, total + 1))


@pytest.mark.parametrize("bug", [None, "slow-start"])
async def test_slow_start(bug):
    async with running_server(bugs=[bug] if bug else [], slow_start=0.6, agent_startup=0.3) as srv, \
            Client(srv.url, srv.token) as c:
        t0 = time.monotonic()
        A = (await c.attach("new-1"))["session_id"]
        attach_s = time.monotonic() - t0
        t1 = time.monotonic()
        await c.say(A, "hi")
        reply_s = time.monotonic() - t1
        if bug:
            assert attach_s >= 0.6 and reply_s < 0.3  # the wait is in chat:ready (T1.2)
            assert "T1.2: 6" in srv.app_log.read_text()
        else:
            assert attach_s < 0.3 and reply_s >= 0.3  # the wait is in the first reply


async def test_a_slow_start_longer_than_the_ping_window_keeps_the_socket_and_its_order():
    # the heartbeat goes on while chat:connect waits for the agent; the socket's next
    # events wait for it, in order
    async with running_server(bugs=["slow-start"], slow_start=3.0, agent_startup=0.1,
                              ping_interval=1.0, ping_timeout=1.0) as srv, Client(srv.url, srv.token) as c:
        mark = c.mark()
        await c.sio.emit("chat:connect", {"session_id": "new-slow", "working_dir": "/tmp"})
        await c.sio.emit("chat:message", {"session_id": "new-slow", "content": "right behind the connect"})
        await c.sio.emit("system:ping", {})
        ready = await c.wait("chat:ready", since=mark, timeout=10)
        await c.wait("chat:result", since=mark, session=ready["session_id"], timeout=10)
        names = [e for e, _ in c.since(mark)]
        assert names.index("chat:ready") < names.index("chat:user_ack") < names.index("system:pong")
        assert c.sio.connected
        assert "disconnected" not in srv.app_log.read_text()


async def test_reload_drops_sockets_refuses_then_comes_back():
    # (one reload: a second one, 0.6 s after the first is over, could come before the client is back)
    async with running_server(bugs=["reload"], reload_after=0.6, reload_downtime=0.6, reload_count=1) as srv:
        c = Client(srv.url, srv.token)
        await c.connect()
        A = (await c.attach("new-7"))["session_id"]
        await c.say(A, "before the reload")
        deadline = time.monotonic() + 5
        while c.sio.connected and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert not c.sio.connected  # dropped by the reload
        await c.close()
        probe = Client(srv.url, srv.token, "probe")
        with pytest.raises(socketio.exceptions.ConnectionError):
            await probe.connect()
        # (retried until the restart is over; each try is bounded. The server's state is not a
        # sign of it: the sessions are cleared a moment after the listening socket is closed)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            c2 = Client(srv.url, srv.token, connect_timeout=3)
            try:
                await c2.connect()
            except socketio.exceptions.ConnectionError:
                await asyncio.sleep(0.05)
                continue
            ready = await c2.attach("new-7")  # the mapping survived in the database
            assert ready["session_id"] == A and ready["history_count"] == 2
            await c2.close()
            break
        else:
            pytest.fail("server did not come back after the reload")
        assert "watchfiles.main - INFO - 1 change detected" in srv.app_log.read_text()
        assert "WARNING:  WatchFiles detected changes in 'app/main.py'. Reloading..." in srv.backend_log.read_text()


async def test_reload_count_stops_the_reloads():
    async with running_server(bugs=["reload"], reload_after=0.2, reload_downtime=0.1, reload_count=2) as srv:
        deadline = time.monotonic() + 5
        while srv.state.reloads < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # (three more periods)
        assert srv.state.reloads == 2
        assert srv.app_log.read_text().count("1 change detected") == 2
        await srv.stop()
        console = srv.backend_log.read_text()
    # each reload's worker is a new process, as uvicorn's reloader starts one: its start names
    # it, and the shutdown before names the one that ended (every start said the same pid)
    import re

    started = re.findall(r"Started server process \[(\d+)\]", console)
    finished = re.findall(r"Finished server process \[(\d+)\]", console)
    assert len(started) == 3 and len(set(started)) == 3, started
    assert finished == started, (started, finished)


def test_bug_catalogue():
    assert set(BUGS) == {"single-live-session", "single-owner", "history-window", "reload", "slow-start"}
    assert check(["reload", "reload"]) == ("reload",)
    with pytest.raises(ValueError, match="unknown bug 'nope'"):
        check(["nope"])
    assert all(name in describe() for name in BUGS)


async def test_no_seq_sends_what_the_real_server_does_and_ignores_last_seq():
    # the real server has no seq extension: a client's fallback (and the simulator's `resume`
    # profile) is tried against it with `serve --no-seq`
    async with running_server(no_seq=True, history=2) as srv, Client(srv.url, srv.token) as c:
        ready = await c.attach("new-1")
        A = ready["session_id"]
        assert set(ready) == {"session_id", "working_dir", "original_session_id", "history_count",
                              "claude_session_id", "server_ts"}
        events = await c.say(A, "first")
        assert events and all("seq" not in data for _, data in events if isinstance(data, dict))
        await c.say(A, "second")
        mark = c.mark()
        ready = await c.attach(A, last_seq=1)  # (asks to resume: gets the history window)
        assert "resumed" not in ready and ready["history_count"] == 2
        end = next(data for event, data in c.since(mark, A) if event == "chat:history_end")
        assert set(end) == {"session_id", "count", "total", "oldest_index"}
    async with running_server() as srv, Client(srv.url, srv.token) as c:  # (by default, the extension)
        ready = await c.attach("new-1")
        assert ready["resumed"] is False and ready["head_seq"] == 0

"""Virtual clients against the reference server (127.0.0.1, port 0): the expected findings.

Small ping windows (0.5 s + 0.5 s), short backgrounds, a fast sim agent and profiles at a
tenth of their real delays keep each run to a few seconds.
"""

import asyncio
import json
import random
import re
from pathlib import Path

import pytest
import socketio
from aiohttp import web

from jarvis_diag.simulate.run import ServerUnusable, preflight, run_simulation
from jarvis_diag.simulate.scenario import SimConfig, scenario_from_dict
from jarvis_diag.simulate.verdict import cycle_ok
from server.testing import running_server, serving

FAST = dict(ping_interval=0.5, ping_timeout=0.5)


def config(srv, **scenario) -> SimConfig:
    base = SimConfig(url=srv.url, token=srv.token, time_scale=0.1, deadline_s=6.0, reaction_s=0.3, seed=1)
    return scenario_from_dict(scenario, base) if scenario else base


def every_fault_steps(sessions: int = 2) -> list[dict]:
    steps = [{"action": "connect"}] + [{"action": "open"}] * sessions
    for fault, secs in (("freeze", "1.6s"), ("close", "0.5s"), ("offline", "0.8s"), ("flaky", "1.5s")):
        steps += [{"action": "send"}, {"action": "background", "for": secs, "fault": fault}]
    return steps


async def test_connmgr_and_resume_recover_from_every_fault_and_resume_proves_nothing_lost(tmp_path: Path):
    async with running_server(**FAST) as srv:
        cfg = config(srv, profile=["connmgr", "resume"], clients=2, flaky_mean_gap=0.5, steps=every_fault_steps())
        result = await run_simulation(cfg, tmp_path)
    records = result.records
    assert len(records) == result.planned == 8 and result.error is None
    bad = [(r["profile"], r["fault"], r["failure"], r["lost"], r["duplicated"]) for r in records if not cycle_ok(r)]
    assert bad == []
    resumed = [s for r in records if r["profile"] == "resume" for s in r["sessions"]]
    assert resumed and all(s["check"] == "seq" and s["produced"] > 0 for s in resumed)
    assert all(s["check"] == "content" for r in records if r["profile"] == "connmgr" for s in r["sessions"])
    freeze = next(r for r in records if r["fault"] == "freeze")
    assert freeze["reconnected"] and freeze["times_ms"]["recovery"] is not None
    # written as they were made: the file holds the same records
    on_disk = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert on_disk == records
    logs = list((tmp_path / "frontend").glob("*_Mozilla50iPhoneCPUiP-*.log"))
    assert len(logs) == 2
    assert "[ConnMgr] Page visible" in logs[0].read_text()


async def test_legacy_survives_a_freeze_shorter_than_the_ping_window(tmp_path: Path):
    async with running_server(ping_interval=1.0, ping_timeout=2.0) as srv:
        cfg = config(srv, profile="legacy", sessions=2, background="0.4s", fault="freeze")
        result = await run_simulation(cfg, tmp_path)
    (record,) = result.records
    assert cycle_ok(record), record["failure"]
    assert not record["reconnected"]


async def test_legacy_frozen_past_the_ping_window_fails_the_way_the_field_did(tmp_path: Path):
    async with running_server(**FAST) as srv:
        cfg = config(srv, profile="legacy", sessions=2, background="2s", fault="freeze")
        result = await run_simulation(cfg, tmp_path)
        app_log = srv.app_log.read_text()
    (record,) = result.records
    assert not record["recovered"] and record["reconnected"]
    assert "sent no chat:connect" in record["failure"] and "auto-connected" in record["failure"]
    assert all(s["ready_ms"] is None or s["ready_ms"] >= record["times_ms"]["probe_sent"]
               for s in record["sessions"])  # attached only after the user's message
    assert "has no callback for session" in app_log
    (log,) = (tmp_path / "frontend").glob("*.log")
    text = log.read_text()
    # suspended like a page: it noticed nothing while frozen, only once visible again
    disconnects = [line[1:25] for line in text.splitlines() if "[SocketIO] Disconnected:" in line]
    assert disconnects and all(t >= record["visible_at"] for t in disconnects)
    after_reconnect = text.rsplit("Connected, authenticating...", 1)[1]
    assert "already connected, updating callbacks" in after_reconnect
    assert "send EMIT: chat:connect" not in after_reconnect.split("send EMIT: chat:message")[0]


async def test_legacy_shows_the_background_message_twice_after_the_auto_connects_replay(tmp_path: Path):
    async with running_server(**FAST) as srv:
        cfg = config(srv, profile="legacy", background="0.5s", fault="close")
        result = await run_simulation(cfg, tmp_path)
    (record,) = result.records
    # the old page appends the replay to what it shows (its log: "History loading ...
    # isReconnect=true" then the replayed messages rendered): the message sent before the
    # background is on screen twice
    assert record["duplicated"] >= 1 and not cycle_ok(record)
    (log,) = (tmp_path / "frontend").glob("*.log")
    assert "isReconnect=true" in log.read_text()


async def test_single_live_session_bug_loses_live_output_of_one_of_two_sessions(tmp_path: Path):
    async with running_server(bugs=["single-live-session"], **FAST) as srv:
        cfg = config(srv, profile="connmgr", sessions=2, background="0.5s", fault="close")
        result = await run_simulation(cfg, tmp_path)
    (record,) = result.records
    assert not record["recovered"]
    live = [s["live"] for s in record["sessions"]]
    assert live.count(False) >= 1 and "did not arrive live" in record["failure"]


async def test_a_failed_run_adds_no_socket_of_its_own_to_the_server_log_after_its_cycles(tmp_path: Path):
    # after a run with a failed cycle the run asked whether the server was still up by
    # opening a Socket.IO session (connect, auth, disconnect): a socket no page had, gone a
    # moment before a script (demo) stopped the server, which timeline then named "shut down
    # with 1 connection(s) open"
    async with running_server(bugs=["single-live-session"], **FAST) as srv:
        cfg = config(srv, profile="connmgr", sessions=2, background="0.5s", fault="close")
        result = await run_simulation(cfg, tmp_path)
        app_log = srv.app_log.read_text()
    assert not result.records[0]["recovered"] and result.error is None
    connected = re.findall(r"\[SocketIO\] Client (\S+) connected", app_log)
    attached = set(re.findall(r"Received chat:connect from (\S+),", app_log))
    # the check before the run is the one socket that attaches nothing
    assert len([sid for sid in connected if sid not in attached]) == 1, connected


async def test_a_server_frozen_mid_run_is_said_to_have_stopped_answering(tmp_path: Path, monkeypatch):
    # a frozen server (SIGSTOP) still accepts connections (the kernel does), so a check that
    # only connects took it for up, and the run's failures went unexplained
    from jarvis_diag.simulate import run as sim_run
    from server.testing import ServerProcess

    monkeypatch.setattr(sim_run, "RESTART_GRACE_S", 0.5)
    with ServerProcess(**FAST) as proc:
        cfg = SimConfig(url=proc.url, token=proc.token, time_scale=0.1, deadline_s=1.5, reaction_s=0.3, seed=1,
                        connect_timeout_s=1.0)
        cfg = scenario_from_dict({"profile": "connmgr", "cycles": 2, "background": "0.3s", "fault": "close"}, cfg)

        def on_record(record):
            if not proc_frozen:
                proc.freeze()
                proc_frozen.append(True)

        proc_frozen: list[bool] = []
        try:
            result = await run_simulation(cfg, tmp_path, on_record=on_record)
        finally:
            proc.thaw()
    assert cycle_ok(result.records[0]) and not result.records[-1]["recovered"]
    assert result.error and "stopped answering" in result.error and "no answer within 2 s" in result.error, result.error


async def test_the_same_client_recovers_without_the_bug(tmp_path: Path):
    async with running_server(**FAST) as srv:
        cfg = config(srv, profile="connmgr", sessions=2, background="0.5s", fault="close")
        result = await run_simulation(cfg, tmp_path)
    assert all(cycle_ok(r) for r in result.records) and len(result.records) == 1


async def test_server_dying_mid_run_keeps_the_partial_results_and_says_so(tmp_path: Path):
    async with running_server(**FAST) as srv:
        cfg = config(srv, profile="connmgr", cycles=3, background="0.3s", fault="close", deadline="1.5s")
        stopping: list[asyncio.Task] = []

        def on_record(record):
            if not stopping:
                stopping.append(asyncio.ensure_future(srv.stop()))

        result = await run_simulation(cfg, tmp_path, on_record=on_record)
        await asyncio.gather(*stopping)
    assert cycle_ok(result.records[0])
    assert not any(r["recovered"] for r in result.records[1:]) and len(result.records) >= 2
    assert result.error and "stopped answering" in result.error
    # each says why its phone got no socket (python-engineio's own words were "Connection error"):
    # its proxy, listening still, takes the connection and drops it
    gone = "(connection refused|connection reset by peer|server disconnected)"
    assert all(re.search(rf"\(last attempt: {gone}\)", r["failure"]) for r in result.records[1:]), \
        [r["failure"] for r in result.records[1:]]
    (page,) = (tmp_path / "frontend").glob("*.log")
    assert re.search(rf"\[SocketIO\] Connection error: {gone}\n", page.read_text())
    assert len((tmp_path / "results.jsonl").read_text().splitlines()) == len(result.records)


async def test_a_server_on_an_ipv6_loopback_address_is_simulated_against(tmp_path: Path):
    # http://[::1]:PORT was checked at "http://::1:PORT", which is no URL: 'cannot reach
    # http://::1:PORT: http://::1:PORT/socket.io/'
    import socket

    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        async with running_server(host="::1", **FAST) as srv:
            cfg = config(srv, background="0.3s", fault="close")
            cfg.url = f"http://[::1]:{srv.port}"
            result = await run_simulation(cfg, tmp_path)
    except OSError as exc:  # (::1 not configured)
        pytest.skip(f"cannot listen on ::1: {exc}")
    assert len(result.records) == 1 and cycle_ok(result.records[0]), result.records[0]["failure"]


@pytest.mark.parametrize("answer, expected", [
    (None, "accepted the connection but did not answer GET /socket.io/?EIO=4&transport=polling within 1 s"),
    (b"SSH-2.0-OpenSSH_9.2\r\n", "does not answer in HTTP (Bad status line); give the plain http:// port"),
    (b"", "closed the connection without answering GET /socket.io/"),
])
async def test_preflight_says_in_one_line_why_a_tcp_server_that_is_not_http_gave_no_handshake(answer, expected):
    # a port that accepts and stays silent said "cannot reach URL: TimeoutError"; one that
    # answers an SSH banner gave aiohttp's five-line "Bad status line" with its class name
    held: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(100)
        if answer is None:
            held.append(writer)  # (open, unanswered, until the test ends)
            return
        writer.write(answer)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(ServerUnusable) as caught:
            await preflight(f"http://127.0.0.1:{port}", "t", timeout=1)
    finally:
        for writer in held:
            writer.close()
        server.close()
    message = str(caught.value)
    assert message.startswith(f"http://127.0.0.1:{port} ") and expected in message, message
    assert "\n" not in message and "Error" not in message, message


async def test_preflight_names_what_is_wrong_with_the_server():
    async with running_server(**FAST) as srv:
        with pytest.raises(ServerUnusable, match="refused the token"):
            await preflight(srv.url, "wrong-token", timeout=3)
        port = srv.port
    with pytest.raises(ServerUnusable, match="cannot reach"):
        await preflight(f"http://127.0.0.1:{port}", "t", timeout=2)
    with pytest.raises(ServerUnusable, match=r"^localhost:1: not a URL; .* e\.g\. http://localhost:1$"):
        await preflight("localhost:1", "t")
    with pytest.raises(ServerUnusable, match="only http"):
        await preflight("ftp://127.0.0.1:1", "t")


async def test_preflight_of_a_socketio_server_that_never_answers_auth_says_so():
    # a Socket.IO server with no `auth` handler: the wait for its answer timed out, and the
    # timeout (an OSError too) was taken for a refused connection: "connection failed: " with
    # no reason, after six more seconds of waiting for a restart
    from aiohttp import web

    sio = socketio.AsyncServer(async_mode="aiohttp")
    web_app = web.Application()
    sio.attach(web_app)
    async with serving(web_app) as port:
        with pytest.raises(ServerUnusable) as caught:
            await preflight(f"http://127.0.0.1:{port}", "t", timeout=1)
    assert str(caught.value) == f"http://127.0.0.1:{port}: no answer to `auth` within 1s (not a Jarvis server?)"


async def test_a_3g_network_and_a_scripted_switch_still_recover(tmp_path: Path):
    steps = [{"action": "connect"}, {"action": "open"}, {"action": "open"},
             {"action": "switch", "session": 0}, {"action": "send", "session": 0},
             {"action": "background", "for": "0.6s", "fault": "close"}]
    async with running_server(**FAST) as srv:
        cfg = config(srv, profile="resume", network="3g", steps=steps)
        result = await run_simulation(cfg, tmp_path)
    (record,) = result.records
    assert record["network"] == "3g" and cycle_ok(record), record["failure"]
    # every attach crossed the shaped link twice (150 ms +/- 50 ms each way)
    assert all(a["ms"] >= 180 for a in record["attaches"])



async def test_skewed_phone_clocks_are_what_the_timeline_measures(tmp_path: Path):
    from jarvis_diag.timeline import load_timeline

    async with running_server(**FAST) as srv:
        steps = [{"action": "connect"}, {"action": "wait", "for": "0.3s"}, {"action": "open"},
                 {"action": "send"}, {"action": "background", "for": "0.3s", "fault": "close"}]
        cfg = config(srv, clients=2, cycles=2, clock_skew_ms=[-400, 400], steps=steps)
        result = await run_simulation(cfg, tmp_path)
        tl = load_timeline([tmp_path / "frontend", srv.app_log])
    assert [cycle_ok(r) for r in result.records] == [True] * 4
    # the verdict's times stay on the true clock: nothing negative, nothing near the skew
    assert all(0 <= r["times_ms"]["recovery"] < 3000 for r in result.records)
    # (records come as cycles end, in either phone's order: each names its phone's index)
    phones = {r["client_id"]: r["client"] for r in result.records}
    assert sorted(phones.values()) == [0, 1], phones
    clients = tl.to_json_dict()["clock"]["clients"]
    for client_id, index in phones.items():
        applied = random.Random(f"{cfg.seed}/{index}/clock").uniform(-400, 400)
        assert abs(clients[client_id]["skew_ms"] - applied) < 15, (client_id, clients[client_id], applied)


async def test_a_page_that_gave_up_while_offline_and_reconnected_online_recovered(tmp_path: Path):
    steps = [{"action": "connect"}, {"action": "open"}, {"action": "send"},
             {"action": "background", "for": "1.0s", "fault": "offline"}]
    impatient = {"base": "connmgr", "max_attempts": 2, "suspend_when_hidden": False, "reconnect_on_visible": False}
    async with running_server(**FAST) as srv:
        cfg = config(srv, profile="impatient", profiles={"impatient": impatient}, steps=steps)
        result = await run_simulation(cfg, tmp_path)
    (record,) = result.records
    assert cycle_ok(record), record["failure"]
    [log] = (tmp_path / "frontend").glob("*.log")
    assert "[ConnMgr] Max retries reached" in log.read_text()  # it did give up, and came back online


async def test_two_phones_on_one_session_each_see_their_own_reply_after_a_freeze(tmp_path: Path):
    # both send, then freeze: the history they get back holds both messages, then both replies
    async with running_server(**FAST) as srv:
        first = await run_simulation(config(srv, background="0.3s", fault="close"), tmp_path / "first")
        shared = first.records[0]["sessions"][0]["session"]
        steps = [{"action": "connect"}, {"action": "open", "session": shared}, {"action": "send"},
                 {"action": "background", "for": "1.6s", "fault": "freeze"}]
        result = await run_simulation(config(srv, clients=2, steps=steps), tmp_path / "shared")
    assert [r["sessions"][0]["session"] for r in result.records] == [shared, shared]
    bad = [(r["client"], r["failure"], r["lost"], r["duplicated"]) for r in result.records if not cycle_ok(r)]
    assert bad == []


def test_a_scenario_rejects_a_bad_clock_skew():
    with pytest.raises(ValueError, match="clock_skew_ms"):
        scenario_from_dict({"clock_skew_ms": [1, "a"]})
    with pytest.raises(ValueError, match="clock_skew_ms"):
        scenario_from_dict({"clock_skew_ms": [400, -400]}).validate()


def test_waits_between_connect_and_open_run_once_and_trailing_waits_belong_to_the_cycle():
    from jarvis_diag.simulate.scenario import Step, split_steps

    setup, cycle = split_steps([Step("connect"), Step("wait", for_s=1), Step("open"), Step("wait", for_s=2),
                                Step("background", for_s=1, fault="close")])
    assert [s.action for s in setup] == ["connect", "wait", "open"]
    assert [(s.action, s.for_s) for s in cycle] == [("wait", 2), ("background", 1)]


async def test_a_reply_that_starts_after_the_next_message_was_acknowledged_is_not_counted_lost(tmp_path: Path):
    # new sessions whose agent is still starting when the page comes back: the reply to the
    # message sent before the background only starts after the message sent on return was
    # acknowledged. The agent answers in order, so it is the first message's reply.
    async with running_server(agent_startup=1.5) as srv:
        cfg = config(srv, profile="connmgr", sessions=2, background="0.5s", fault="close", deadline="8s")
        result = await run_simulation(cfg, tmp_path)
    (record,) = result.records
    assert cycle_ok(record), (record["failure"], record["lost"])
    assert [(s["produced"], s["lost"], s["live"]) for s in record["sessions"]] == [(1, 0, True), (1, 0, True)]


async def test_a_reply_a_restart_cut_off_does_not_shift_the_replayed_replies_after_it(tmp_path: Path):
    # the server restarts while the agent answers the page's first message: that message
    # stays unanswered in the history. The next message's reply, replayed after the page's
    # next loss, is that message's (it names it), not the unanswered one's.
    steps = [{"action": "connect"}, {"action": "open"}, {"action": "send"}, {"action": "wait", "for": "4s"},
             {"action": "send"}, {"action": "background", "for": "2.5s", "fault": "close"}]
    async with running_server(agent_pace=0.05) as srv:

        async def restart_mid_reply() -> None:
            for _ in range(100):
                if "Processing chat message for" in srv.app_log.read_text():
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)
            await srv.restart()

        restarting = asyncio.ensure_future(restart_mid_reply())
        result = await run_simulation(config(srv, profile="connmgr", steps=steps, deadline="8s"), tmp_path)
        await restarting
        app_log = srv.app_log.read_text()
    assert app_log.count("Application starting") == 2
    (record,) = result.records
    [session] = record["sessions"]
    assert (session["produced"], session["lost"], session["duplicated"]) == (1, 0, 0), record["failure"]
    assert cycle_ok(record), record["failure"]


async def test_a_server_restarting_after_a_failed_run_is_not_reported_dead(tmp_path: Path, monkeypatch):
    from jarvis_diag.simulate import run as sim_run

    async with running_server(**FAST) as srv:
        cfg = config(srv)
        await srv.stop()

        async def back_later() -> None:
            await asyncio.sleep(1.0)
            await srv.start()  # (the same port: a dev server's reload)

        coming_back = asyncio.ensure_future(back_later())
        assert await sim_run._server_gone(cfg) is None
        await coming_back
        await srv.stop()
        monkeypatch.setattr(sim_run, "RESTART_GRACE_S", 0.5)
        assert "stopped answering" in (await sim_run._server_gone(cfg) or "")


@pytest.mark.parametrize("profile", ["legacy", "connmgr"])
async def test_sessions_opened_after_the_first_connect_are_not_re_sent(tmp_path: Path, profile: str):
    # the page's re-subscription after a connect is for the sessions it had then. Taken
    # when its task ran instead, a session opened right after the first connect was
    # 'Re-sent after reconnect' (a second chat:connect) or, on the old page, logged as a
    # switch back with its handler in place, which timeline reads as a desync's cause.
    steps = [{"action": "connect"}, {"action": "open"}, {"action": "open"},
             {"action": "send"}, {"action": "background", "for": "0.5s", "fault": "close"}]
    async with running_server(**FAST) as srv:
        result = await run_simulation(config(srv, profile=profile, steps=steps), tmp_path)
        app_log = srv.app_log.read_text()
    (record,) = result.records
    [page] = (tmp_path / "frontend").glob("*.log")
    lines = page.read_text().splitlines()
    first_loss = next(i for i, line in enumerate(lines) if "Disconnected:" in line)
    before = lines[:first_loss]
    assert not [line for line in before if "Re-sending" in line or "handler EXISTS" in line]
    assert sum("send EMIT: chat:connect" in line for line in before) == 2
    # after each reconnect (one, or more on a busy machine): a batch for the two sessions
    batches = [line for line in lines[first_loss:] if "Re-sending" in line]
    said = "Re-sending 2 subscriptions after reconnect (skipped 0)" if profile == "connmgr" else \
        "Re-sending 0 subscriptions after reconnect (skipped 2)"
    assert batches and all(said in line for line in batches), batches
    # the server got one chat:connect per session until the page's first socket closed
    received: list[str] = []
    for line in app_log.splitlines():
        if "Received chat:connect from " in line:
            received.append(line.split("Received chat:connect from ", 1)[1][:8])
        elif received and f"Client {received[0]} disconnected" in line:
            break
    assert len(received) == 2, record["failure"]


async def test_offline_the_server_learns_of_the_old_socket_only_when_the_network_is_back(tmp_path: Path):
    # no packet of a phone without network reaches the server: it keeps the old socket open
    # (its ping window, 10 s here, is longer than the 1.5 s offline) until the phone's FIN
    # arrives with the network; the page meanwhile reconnects on a new socket.
    from datetime import datetime

    steps = [{"action": "connect"}, {"action": "open"}, {"action": "send"},
             {"action": "background", "for": "1.5s", "fault": "offline"}]
    async with running_server(ping_interval=5.0, ping_timeout=5.0) as srv:
        result = await run_simulation(config(srv, steps=steps), tmp_path)
        app_log = srv.app_log.read_text()
    (record,) = result.records
    assert cycle_ok(record), record["failure"]

    def epoch(line: str) -> float:  # the server writes its local wall clock, to the ms
        return datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()

    hidden_at = datetime.fromisoformat(record["hidden_at"]).timestamp()
    visible_at = datetime.fromisoformat(record["visible_at"]).timestamp()
    connected = [line for line in app_log.splitlines() if "[SocketIO] Client " in line and line.endswith(" connected")]
    before = [line for line in connected if epoch(line) <= hidden_at]
    assert before and len(connected) == len(before) + 1  # the page's socket, then its new one
    old_sid = before[-1].split("[SocketIO] Client ")[1].split()[0]
    [gone] = [line for line in app_log.splitlines() if f"[SocketIO] Client {old_sid} disconnected" in line]
    assert epoch(gone) > hidden_at + 1.0, (gone, record["hidden_at"])  # not at the start of the window
    assert epoch(gone) >= visible_at - 0.1, (gone, record["visible_at"])  # with the network's return


async def test_a_run_started_while_the_server_restarts_waits_for_it_instead_of_failing(tmp_path: Path):
    # a dev server reloading on a file change refuses connections for a few seconds; a run
    # started then (or looping on `--bug reload`) stopped with "cannot reach" and exit 2
    async with running_server(**FAST) as srv:
        cfg = config(srv, background="0.5s", fault="close")
        await srv.stop()

        async def back_later() -> None:
            await asyncio.sleep(1.0)
            await srv.start()  # (the same port)

        coming_back = asyncio.ensure_future(back_later())
        result = await run_simulation(cfg, tmp_path)
        await coming_back
    (record,) = result.records
    assert result.error is None and cycle_ok(record), record["failure"]


async def test_pages_loading_while_the_server_restarts_retry_like_the_page_does(tmp_path: Path):
    # the restart starts between the run's check of the server and the pages' first connect:
    # the page's reconnect logic retries, as in a browser; the cycle is measured, not
    # recorded as a client that "could not start"
    async with running_server(**FAST) as srv:
        cfg = config(srv, background="0.5s", fault="close")
        restarting: list[asyncio.Future] = []

        async def restart() -> None:
            await srv.stop()
            await asyncio.sleep(1.0)
            await srv.start()

        def on_phase(phase: str) -> None:
            if phase == "running" and not restarting:  # (scheduled before the pages' tasks)
                restarting.append(asyncio.ensure_future(restart()))

        result = await run_simulation(cfg, tmp_path, on_phase=on_phase)
        await asyncio.gather(*restarting)
    (record,) = result.records
    assert "could not start" not in (record["failure"] or "")
    assert result.error is None and cycle_ok(record), record["failure"]


async def test_a_history_replay_instead_of_a_resume_loses_no_chunk_of_a_finished_reply(tmp_path: Path):
    # the page resumes from its last seq; a server that ignores it replays its history of
    # finished messages. The reply made while the page was away is in that history: its
    # streamed chunks, never replayed one by one, were counted lost (26 in one run)
    async with running_server(bugs=["history-window"], **FAST) as srv:
        cfg = config(srv, profile="resume", background="1s", fault="close")
        result = await run_simulation(cfg, tmp_path)
    (record,) = result.records
    [session] = record["sessions"]
    assert session["check"] == "content"
    assert (session["produced"], session["lost"], session["duplicated"]) == (1, 0, 0), record["failure"]
    assert cycle_ok(record), record["failure"]


async def test_a_pages_log_lines_reach_its_file_while_its_cycle_runs(tmp_path: Path):
    # written at the cycle's end alone, a `timeline --follow` saw the phones' side only after
    # the verdict: here the page goes to the background at once and stays 4 s
    async with running_server(**FAST) as srv:
        cfg = config(srv, profile="connmgr", steps=[{"action": "connect"}, {"action": "open"},
                                                      {"action": "background", "for": "4s", "fault": "close"}])
        run = asyncio.ensure_future(run_simulation(cfg, tmp_path))
        hidden = None
        for _ in range(60):  # (bounded: 6 s at most, the cycle's background is 4 s)
            await asyncio.sleep(0.1)
            logs = list((tmp_path / "frontend").glob("*.log"))
            if logs and "[ConnMgr] Page hidden" in logs[0].read_text():
                hidden = run.done()
                break
        result = await run
    assert hidden is False  # (seen before the run, and so its one cycle, had ended)
    assert len(result.records) == 1


async def test_preflight_of_a_server_whose_websocket_open_packet_is_garbage_is_one_line():
    # it answered the polling handshake, then sent "0hello-not-json" on the WebSocket: the
    # client library's TypeError came out as a 74-line traceback
    async def engineio(request):
        if request.query.get("transport") == "websocket":
            ws = web.WebSocketResponse()
            await ws.prepare(request)
            await ws.send_str("0hello-not-json")
            await ws.close()
            return ws
        return web.Response(text='0{"sid":"x","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000}')

    app = web.Application()
    app.router.add_get("/socket.io/", engineio)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(ServerUnusable, match=r"does not speak Socket.IO \(Engine.IO v4\) over WebSocket: its "
                                                 r"open packet is not one \(TypeError"):
            await preflight(f"http://127.0.0.1:{port}", "secret", timeout=3.0)
    finally:
        await runner.cleanup()


async def test_a_cycles_messages_name_the_cycle_of_its_record(tmp_path: Path):
    # the message sent before a cycle's background said 'cycle 0' in cycle 1 (the count went
    # up at the background step), so a failure quoting it named the cycle before its record's
    async with running_server(**FAST) as srv:
        result = await run_simulation(config(srv, background="0.3s", fault="close", cycles=2), tmp_path)
        (session,) = {s["session"] for r in result.records for s in r["sessions"]}
        said = [m["content"] for m in srv.chat.store.messages(session) if m["type"] == "user"]
    assert [r["cycle"] for r in result.records] == [1, 2]
    assert [re.match(r"(\w+) from client 0 session 0 cycle (\d+) of run", c).groups() for c in said] == [
        ("background", "1"), ("probe", "1"), ("background", "2"), ("probe", "2")]


async def test_the_resume_profile_against_a_server_with_no_seq_is_said_to_have_tested_no_resume(tmp_path: Path):
    # the real server has no seq extension: resume's cycles fall back to connmgr's checks, and
    # a table row 'resume 2/2 recovered' read as resume tested
    from jarvis_diag.simulate.results import run_notes, summary_json

    async with running_server(no_seq=True, **FAST) as srv:
        result = await run_simulation(config(srv, profile="resume", background="0.3s", fault="close", cycles=2),
                                      tmp_path / "a")
    assert [cycle_ok(r) for r in result.records] == [True, True]
    assert {s["check"] for r in result.records for s in r["sessions"]} == {"content"}
    notes = summary_json(result.records, run=result.run_id, out_dir=tmp_path)["notes"]
    assert notes == ["profile resume: the server sent no seq (it has no seq extension), so its 2 cycles resumed "
                     "nothing after a seq and were checked by their messages' contents, as connmgr's are: this run "
                     "does not test resume"]
    async with running_server(**FAST) as srv:  # (with the extension: resumed, no note)
        result = await run_simulation(config(srv, profile="resume", background="0.3s", fault="close"), tmp_path / "b")
    assert {s["check"] for r in result.records for s in r["sessions"]} == {"seq"} and run_notes(result.records) == []

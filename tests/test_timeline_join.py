"""Several phones at once: joining sockets, sessions and episodes to the right client.

Phones that open their chats in the same second all name them ``new-1795...`` and print
that as ``new-1795``; their connects and emits reach the server within milliseconds of
each other. Written with tests/logbuilder.py (backend in UTC+8, each phone's clock a few
hundred ms off), so each test knows the truth it checks against.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pytest
from logbuilder import Client, LogSet, uuid_of

from jarvis_diag.timeline import load_timeline

SKEWS_MS = (-294.0, -156.0, -22.0)
FIRST_SIDS = ("RnHZXCW6AAAB", "0OkQ24HLAAAC", "JQ0A6WcUAAAD")
SECOND_SIDS = ("SC8P8mNyAAAE", "rmbzD7XAAAAF", "kPL7-I_LAAAG")
FREEZE_S = 2.0  # shorter than the server's ping window: the server does not drop the socket


@dataclass
class Phone:
    client: Client
    sids: tuple[str, str]
    sessions: tuple[str, str]
    temps: list[str]
    hidden_at: float = 0.0
    visible_at: float = 0.0


def _together(logs: LogSet, phones: list[Phone], step) -> None:
    """One protocol step on every phone, all starting within a millisecond."""
    t0 = logs.now
    ends = []
    for i, phone in enumerate(phones):
        logs.now = t0 + i * 0.0004
        step(phone)
        ends.append(logs.now)
    logs.now = max(ends)


def _freeze_day(logs: LogSet, n: int = 3, server_close_after_s: float = 0.002) -> list[Phone]:
    """``n`` phones (ConnectionManager) open two chats each, freeze in the background for
    FREEZE_S, come back, drop the stale socket, reconnect and re-send chat:connect for both
    chats. The server logs the stale socket's close ``server_close_after_s`` after the page
    is visible again."""
    phones = [Phone(client=logs.client(skew_ms=SKEWS_MS[i], suffix=f"p{i}x9"), sids=(FIRST_SIDS[i], SECOND_SIDS[i]),
                    sessions=(uuid_of(0xA0 + i), uuid_of(0xB0 + i)), temps=[]) for i in range(n)]
    _together(logs, phones, lambda p: logs.connect(p.client, p.sids[0]))
    for which in (0, 1):
        def open_chat(p: Phone, which: int = which) -> None:
            p.temps.append(logs.temp_id(p.client))
            logs.attach(p.client, p.sids[0], p.sessions[which], temp=p.temps[which])
        _together(logs, phones, open_chat)
    logs.wait(1.0)

    def hide(p: Phone) -> None:
        p.hidden_at = logs.now
        logs.page_hidden(p.client)
    _together(logs, phones, hide)
    logs.wait(FREEZE_S)

    def show(p: Phone) -> None:
        p.visible_at = logs.now
        logs.page_visible(p.client)
    _together(logs, phones, show)
    if server_close_after_s < 0.05:
        for p in phones:
            logs.be(p.visible_at + server_close_after_s, "sio.client_disconnected", sid=p.sids[0][:8], n=2)
    logs.wait(0.1)
    _together(logs, phones, lambda p: logs.connect(p.client, p.sids[1]))

    def reattach(p: Phone) -> None:
        logs.fe(p.client, logs.now, "fe.resending", n=2, total=0)
        for which in (0, 1):
            logs.attach(p.client, p.sids[1], p.sessions[which], temp=p.temps[which], existing=True, history=2,
                        resubscribe=True)
    _together(logs, phones, reattach)
    if server_close_after_s >= 0.05:
        for p in phones:
            logs.be(p.visible_at + server_close_after_s, "sio.client_disconnected", sid=p.sids[0][:8], n=2)
    logs.wait(0.2)
    for which in (0, 1):
        _together(logs, phones, lambda p, which=which: logs.message(p.client, p.sids[1], p.sessions[which],
                                                                     key=p.temps[which][:8]))
    logs.wait(3.0)
    return phones


@pytest.fixture(scope="module")
def freeze_day(tmp_path_factory):
    logs = LogSet()
    phones = _freeze_day(logs)
    paths = logs.write(tmp_path_factory.mktemp("freeze-day"))
    return phones, load_timeline([str(p) for p in paths]).to_json_dict()


def _epoch(iso: str | None) -> float | None:
    return None if iso is None else pd.Timestamp(iso).value / 1e9


def test_the_phones_temporary_ids_share_their_printed_prefix(freeze_day):
    phones, _doc = freeze_day
    temps = [t for p in phones for t in p.temps]
    assert len(set(temps)) == len(temps) and {t[:8] for t in temps} == {"new-1795"}


def test_sessions_with_the_same_temp_prefix_stay_with_their_own_phone(freeze_day):
    phones, doc = freeze_day
    sessions = {s["session"]: s for s in doc["sessions"]}
    assert set(sessions) == {u for p in phones for u in p.sessions}
    for p in phones:
        for uuid, temp in zip(p.sessions, p.temps, strict=True):
            s = sessions[uuid]
            assert s["clients"] == [p.client.id], uuid
            assert s["temp_ids"] == [temp]
            assert [a["sid"] for a in s["attaches"]] == [p.sids[0][:8], p.sids[1][:8]]
            assert all(a["ready_received_at"] is not None for a in s["attaches"])
    owner = {c["sid"]: c["client"] for c in doc["connections"]}
    assert owner == {sid[:8]: p.client.id for p in phones for sid in p.sids}


def test_a_freeze_shorter_than_the_ping_window_is_one_recovered_episode_per_phone(freeze_day):
    phones, doc = freeze_day
    for p in phones:
        [ep] = [e for e in doc["episodes"] if e["client"] == p.client.id]
        assert ep["trigger"] == "page.hidden" and ep["recovered"]
        assert (ep["sid_before"], ep["sid_after"]) == (p.sids[0][:8], p.sids[1][:8])
        assert sorted(ep["sessions"]) == sorted(p.sessions)
        assert sorted(ep["ready_at"]) == sorted(p.sessions)
        ready = [_epoch(v) for v in ep["ready_at"].values()]
        assert all(r is not None and r >= _epoch(ep["authenticated_at"]) for r in ready)
        # on the server's clock again: the phone's skew is corrected
        assert _epoch(ep["started_at"]) == pytest.approx(p.hidden_at, abs=0.003)
        assert _epoch(ep["visible_at"]) == pytest.approx(p.visible_at, abs=0.003)
        assert _epoch(ep["recovered_at"]) == pytest.approx(max(ready))
    assert [f for f in doc["findings"] if f["severity"] in ("warning", "critical")] == []


def test_a_stale_socket_closed_after_the_reconnect_starts_no_second_episode(tmp_path):
    """The page dropped its stale socket, but the server noticed only later (its ping
    timeout): the old socket's close is not a new loss for a client already back."""
    logs = LogSet()
    phones = _freeze_day(logs, n=2, server_close_after_s=2.5)
    logs.wait(15.0)  # long enough after the late close for a failed recovery to show
    for p in phones:
        logs.message(p.client, p.sids[1], p.sessions[0], key=p.temps[0][:8])
    doc = load_timeline([str(p) for p in logs.write(tmp_path)]).to_json_dict()
    for p in phones:
        [ep] = [e for e in doc["episodes"] if e["client"] == p.client.id]
        assert ep["recovered"] and sorted(ep["sessions"]) == sorted(p.sessions)
    assert [f for f in doc["findings"] if f["severity"] in ("warning", "critical")] == []


def test_chats_never_mapped_to_a_uuid_are_not_merged_across_phones(tmp_path):
    """Each page opens a chat whose chat:connect never reaches the server: both are known
    only as ``new-1795``, and stay two sessions of two phones."""
    logs = LogSet()
    phones = [logs.client(skew_ms=skew, suffix=f"p{i}x9") for i, skew in enumerate(SKEWS_MS[:2])]
    for c, sid in zip(phones, FIRST_SIDS, strict=False):
        logs.connect(c, sid)
    for i, (c, sid) in enumerate(zip(phones, FIRST_SIDS, strict=False)):
        logs.attach(c, sid, uuid_of(0xA0 + i), temp=logs.temp_id(c))
    logs.wait(1.0)
    for c in phones:
        logs.fe(c, logs.now, "fe.emit_connect", session=logs.temp_id(c)[:8], transport="websocket")
        logs.wait(0.001)
    logs.wait(2.0)
    doc = load_timeline([str(p) for p in logs.write(tmp_path)]).to_json_dict()
    unmapped = [s for s in doc["sessions"] if s["session"] == "new-1795"]
    assert sorted(s["clients"][0] for s in unmapped) == sorted(c.id for c in phones)
    assert all(len(s["clients"]) == 1 and len(s["attaches"]) == 1 for s in unmapped)
    mapped = [s for s in doc["sessions"] if s["session"] != "new-1795"]
    assert all(len(s["clients"]) == 1 for s in mapped) and len(mapped) == 2


def test_timings_of_interleaved_attaches_go_to_their_own_attach(tmp_path):
    """Two phones attach at once: A's new session takes 2 s to create, and B's attach starts
    and finishes meanwhile. A's ``Chat connect T2..T6`` lines carry no id; each says how long
    after its START it was written, which names A, not B (the attach started last)."""
    ls = LogSet()
    a, b = ls.client(skew_ms=1200.0, suffix="aaaa"), ls.client(skew_ms=-800.0, suffix="bbbb")
    ls.connect(a, "SidAAAAA1")
    ls.connect(b, "SidBBBBB1")
    t0 = ls.now
    ls.attach(a, "SidAAAAA1", uuid_of(1), temp=ls.temp_id(a), create_ms=2000.0)
    after_a = ls.now
    ls.now = t0 + 0.5
    ls.attach(b, "SidBBBBB1", uuid_of(2), existing=True, history=3)
    ls.now = after_a
    tl = load_timeline(ls.write(tmp_path))
    sessions = {s["session"]: s for s in tl.to_json_dict()["sessions"]}
    [first] = sessions[uuid_of(1)]["attaches"]
    [second] = sessions[uuid_of(2)]["attaches"]
    assert list(first["phases"]) == ["T1", "T1.1", "T1.2", "T2", "T3", "T4", "T5", "T6", "DONE"]
    assert first["phases"]["T2"] >= 2000 and first["phases"]["T6"] >= first["phases"]["T2"]
    assert first["phases"]["DONE"] == first["server_ms"]
    assert list(second["phases"]) == ["T1", "T2", "T3", "T4", "T5", "T6", "DONE"]
    assert second["phases"]["T6"] < 50 and second["phases"]["DONE"] == second["server_ms"]


def test_a_timing_line_goes_to_the_attach_its_ms_points_at():
    import numpy as np

    from jarvis_diag.timeline import _phase_owners

    inf = np.inf
    # A starts at 10.000 (a 2 s session start, row 10), B at 10.500 (row 20) and is done at
    # 10.510; C (row 30) and D (row 40) start in the same ms at 20.000, C done in that ms
    starts, start_rows = np.array([10.0, 10.5, 20.0, 20.0]), np.array([10, 20, 30, 40])
    done = np.array([12.010, 10.510, 20.0, inf])
    lines = [  # (time, row, ms) -> the attach expected
        (10.501, 21, 1.0, 1),  # B's own line: B started last and fits
        (12.004, 50, 2004.0, 0),  # A's T2 after B is done: 2004 ms after A's START
        (12.004, 51, np.nan, -1),  # no ms: as before (the last started, B, is done)
        (12.004, 52, 69926.4, -1),  # ms measured from elsewhere: as before
        (20.0, 31, 0.0, 2),  # read between C's START and D's: C's, though D starts in the same ms
        (20.0, 41, 0.0, 3),  # read after D's START: D's
        (30.0, 60, 10000.0, 3),  # 10 s after D's START, D still in progress
        (5.0, 1, 0.0, -1),  # before any START
    ]
    times, rows, ms, expected = (np.array(x) for x in zip(*lines, strict=True))
    assert _phase_owners(starts, start_rows, done, times, rows, ms).tolist() == expected.tolist()


def _t(iso: str) -> float:
    return pd.Timestamp(iso).value / 1e9


def test_a_done_line_goes_to_the_attach_its_ms_points_at(tmp_path):
    """The server awaits inside an attach: A's session creation finishes (its ``Session
    created`` line names A) between B's START and B's last lines, which name no session.
    B's ``DONE: 1ms`` belongs to B (1 ms after B's START), not to A, which stays open and
    gets its own DONE."""
    ls = LogSet()
    a8, b8 = uuid_of(1)[:8], uuid_of(2)[:8]
    t = ls.now

    def attach_lines(at: float, sid: str, uuid: str) -> None:
        data = {"working_dir": "/w", "resume": uuid, "session_id": uuid}
        ls.be(at, "sio.connect_received", sid=sid, detail=repr(data), recv_ts=f"{at:.3f}")
        ls.be(at, "sio.connect_start", session=uuid[:8], detail="/w")

    def rest(at: float, start: float, found: bool) -> None:
        ms = f"{(at - start) * 1000:.0f}"
        for phase in ("T2", "T3", "T4"):
            ls.be(at, "sio.connect_phase", phase=phase, detail="x", ms=ms)
        ls.be(at, "sio.ready_emit", emit_ms="0", event="chat:ready")
        ls.be(at, "sio.connect_t5", phase="T5", ms=ms, emit_ms="0")
        ls.be(at, "sio.connect_phase", phase="T6", detail="history_sent", ms=ms)
        ls.be(at, "sio.connect_done", ms=ms)

    attach_lines(t, "SidAAAAA", uuid_of(1))
    ls.be(t, "sio.connect_t1", phase="T1", ms="0", detail="False")
    ls.be(t, "sio.creating_session", session=a8, phase="T1.1", ms="0")
    attach_lines(t + 1.0, "SidBBBBB", uuid_of(2))
    ls.be(t + 1.001, "sio.session_created", session=a8, phase="T1.2", ms="1001")  # A, while B runs
    ls.be(t + 1.001, "sio.connect_t1", phase="T1", ms="1", detail="True")  # B
    rest(t + 1.001, t + 1.0, True)  # B's, naming no session
    rest(t + 1.003, t, False)  # A's
    tl = load_timeline(ls.write(tmp_path))
    sessions = {s["session"][:8]: s for s in tl.to_json_dict()["sessions"]}
    [first], [second] = sessions[a8]["attaches"], sessions[b8]["attaches"]
    assert first["server_ms"] == 1003.0 and first["phases"]["DONE"] == 1003.0 and first["phases"]["T5"] == 1003.0
    assert second["server_ms"] == 1.0 and list(second["phases"]) == ["T1", "T2", "T3", "T4", "T5", "T6", "DONE"]
    assert _t(first["ready_sent_at"]) == pytest.approx(t + 1.003, abs=0.002)
    assert _t(second["ready_sent_at"]) == pytest.approx(t + 1.001, abs=0.002)


def _slow_connect(logs: LogSet, c: Client, sid: str, ack_s: float, stray_sid: str | None = None) -> None:
    """A connect on a bad mobile network: the server's packets take ``ack_s`` to reach the
    phone. ``stray_sid``: another socket, no one's, connects and drops (unauthenticated)
    just as the phone hears of its own connect."""
    t = logs.now
    logs.fe(c, t, "fe.sio_state", state_from="disconnected", state_to="connecting")
    logs.fe(c, t, "fe.connecting")
    logs.be(t + 0.05, "sio.client_connected", sid=sid[:8])
    logs.be(t + 0.06, "sio.client_authenticated", sid=sid[:8])
    logs.fe(c, t + 0.05 + ack_s, "fe.connected")
    if stray_sid:
        logs.be(t + 0.1 + ack_s, "sio.client_connected", sid=stray_sid[:8])
        logs.be(t + 0.15 + ack_s, "sio.client_disconnected", sid=stray_sid[:8], n=0)
    logs.fe(c, t + 0.06 + 2 * ack_s, "fe.auth_ok", transport="websocket")
    logs.fe(c, t + 0.06 + 2 * ack_s, "fe.sio_state", state_from="authenticating", state_to="connected")
    logs.now = t + 0.07 + 2 * ack_s


def test_a_slow_network_socket_is_the_phones_until_both_sides_close_it(tmp_path):
    # The server's auth_success took 2.4 s to arrive (more than the 1 s join window) and a
    # stray socket connected meanwhile. Before, the phone's auth line made a connection of
    # its own, the stray socket took the phone's later disconnect, and the real socket was
    # reported half-open ("stayed open on the server 10 s after the client lost it").
    logs = LogSet()
    c = logs.client(skew_ms=-180.0)
    a = uuid_of(0xC1)
    logs.connect(c, SID_A)
    logs.attach(c, SID_A, a)
    logs.wait(1.0)
    logs.client_disconnect(c, SID_A)
    logs.wait(0.1)
    _slow_connect(logs, c, SID_B, ack_s=1.2, stray_sid=SID_STRAY)
    logs.attach(c, SID_B, a, existing=True, history=2, handler_new=False, resubscribe=True)
    logs.message(c, SID_B, a)
    logs.wait(8.0)
    logs.client_disconnect(c, SID_B)
    logs.wait(0.1)
    logs.connect(c, SID_C)
    logs.attach(c, SID_C, a, existing=True, history=3, handler_new=False, resubscribe=True)
    logs.wait(2.0)
    doc = load_timeline([str(p) for p in logs.write(tmp_path)]).to_json_dict()
    mine = [x for x in doc["connections"] if x["client"] == c.id]
    assert None not in [x["sid"] for x in mine]  # (the phone's auth line made no socket-less connection)
    # (the stray socket, the only phone's by time, may be joined to it: it is no matter)
    assert [x["sid"] for x in mine if x["sid"] != SID_STRAY[:8]] == [SID_A[:8], SID_B[:8], SID_C[:8]]
    slow = mine[1]
    assert slow["transport"] == "websocket" and slow["reason"] == "transport close"
    assert not [f for f in doc["findings"] if f["kind"] == "half-open"]
    assert not [f for f in doc["findings"] if f["severity"] != "info"]


SID_A, SID_B, SID_C, SID_STRAY = "Ak9sPq2xAAAA", "Bm3tRw7yAAAB", "Cn5uSv1zAAAC", "Dq8vTx4wAAAD"


FIXTURES = __import__("pathlib").Path(__file__).parent / "fixtures"


def _cut_server_log(tmp_path, name: str, first: int) -> list[str]:
    """The real set ``name`` with its server log from line ``first`` (0-based) on: as a
    user sends the last lines of a long app.log."""
    lines = (FIXTURES / name / "app.log").read_text().splitlines(keepends=True)
    (tmp_path / "app.log").write_text("".join(lines[first:]))
    return [str(tmp_path / "app.log"), str(FIXTURES / name / "frontend")]


@pytest.mark.parametrize("receipt", range(4))
def test_a_server_log_cut_to_its_last_lines_names_no_delay_or_dead_socket_it_cannot_see(tmp_path, receipt):
    # cut just after the line of a message's receipt: the page's emit of it is in the page
    # log, its receipt is not. Paired in order with the next receipt, every later message
    # seemed to take seconds on the wire (transport-delay); the page's socket, whose opening
    # the cut server log lacks, was taken for another one the server had kept open for a
    # minute after the page lost it (half-open). What is named instead is what the whole log
    # names from there on, with a warning that the server's log begins after the page's.
    lines = (FIXTURES / "callback-desync" / "app.log").read_text().splitlines()
    received = [i for i, line in enumerate(lines) if "Chat message received" in line]
    first = received[receipt] + 1
    # (its zone given: the lines left may hold no epoch to take it from)
    tl = load_timeline(_cut_server_log(tmp_path, "callback-desync", first), tz="Europe/Berlin")
    whole = load_timeline(str(FIXTURES / "callback-desync"))
    begins = pd.Timestamp(tl.sources[0]["first"])
    kinds = {(f.kind, f.severity) for f in tl.findings.itertuples()}
    assert not kinds & {("transport-delay", s) for s in ("warning", "critical")}, tl.findings["summary"].tolist()
    assert "half-open" not in {k for k, _ in kinds}, tl.findings["summary"].tolist()
    later = {(f.kind, f.severity) for f in whole.findings.itertuples() if f.at >= begins}
    assert {k for k in kinds if k[1] != "info"} <= later
    [skew] = tl.clock["clients"].values()
    assert skew["skew_ms"] == pytest.approx(350, abs=2)
    page_begins = pd.Timestamp(tl.sources[1]["first"]) - pd.Timedelta(milliseconds=skew["skew_ms"])
    warned = [w for w in tl.warnings if "begins before the server's log does" in w]
    assert bool(warned) == (begins - page_begins > pd.Timedelta(seconds=10)), (begins, page_begins, warned)


def test_a_cut_server_log_joins_its_first_socket_to_the_pages_last_login_before_it(tmp_path):
    # the page had socket X, lost it, then Y; the server's log begins after Y's login. Y was
    # joined to X's login line, X's close then closed Y, and a critical half-open was named
    from datetime import datetime

    logs = LogSet(one_way_ms=2.0)
    c = logs.client(skew_ms=350)
    x, y = "Ak9sPq2xAAAA", "Bm3tRw7yAAAB"
    logs.connect(c, x)
    logs.wait(1.0)
    temp = logs.temp_id(c)
    logs.attach(c, x, uuid_of(1), temp=temp)
    logs.wait(2)
    logs.message(c, x, uuid_of(1), key=temp[:8])
    logs.wait(2)
    logs.client_disconnect(c, x, reason="transport close")
    logs.wait(1)
    logs.connect(c, y)
    logs.wait(0.5)
    logs.attach(c, y, uuid_of(1), existing=True)
    cut_at = logs.now + 1.0
    for _ in range(4):
        logs.wait(2.0)
        logs.message(c, y, uuid_of(1))
    logs.wait(3)
    logs.client_disconnect(c, y, reason="transport close")
    logs.wait(1)
    logs.write(tmp_path / "full")
    zone = logs.zone
    lines = (tmp_path / "full" / "app.log").read_text().splitlines(keepends=True)
    kept = [line for line in lines
            if datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").replace(tzinfo=zone).timestamp() >= cut_at]
    (tmp_path / "app.log").write_text("".join(kept))
    tl = load_timeline([str(tmp_path / "app.log"), str(tmp_path / "full" / "frontend")], tz=zone.key)
    serious = [f.summary for f in tl.findings.itertuples() if f.severity != "info"]
    assert serious == []
    [mine] = [row for row in tl.connections.itertuples() if row.sid == y[:8]]
    assert mine.client == c.id and mine.connected_at.timestamp() == pytest.approx(cut_at - 1.5, abs=0.1)


def test_a_page_that_waited_for_a_server_starting_is_no_cut_server_log(tmp_path):
    # the page loaded while the server was down and retried for about 20 s; the server's log
    # begins with its start: nothing of the server is missing, and no warning says so
    logs = LogSet(one_way_ms=2.0)
    c = logs.client(skew_ms=350)
    logs.fe(c, logs.now, "cm.state_labelled", state_from="idle", state_to="connecting", trigger="connect")
    logs.reconnect_attempts(c, 12)
    logs.server_reload()
    logs.wait(0.5)
    sid = "QEy5HbszAAAB"
    logs.connect(c, sid)
    logs.wait(1.0)
    temp = logs.temp_id(c)
    logs.attach(c, sid, uuid_of(1), temp=temp)
    logs.wait(1.5)
    logs.message(c, sid, uuid_of(1), key=temp[:8])
    files = logs.write(tmp_path)
    app = tmp_path / "app.log"
    # (as a fresh process writes it: from its start, without the lines of the one before stopping)
    kept = [line for line in app.read_text().splitlines(keepends=True)
            if "hutting down" not in line and "watchfiles" not in line and "stopped" not in line.lower()]
    app.write_text("".join(kept))
    assert "Application starting" in kept[0]
    tl = load_timeline([str(p) for p in files])
    assert not [w for w in tl.warnings if "begins before the server's log does" in w], tl.warnings
    # the same page log beside a server log cut after the start: warned of
    app.write_text("".join(kept[len(kept) // 2:]))
    cut = load_timeline([str(p) for p in files], tz=logs.zone.key)
    assert [w for w in cut.warnings if "begins before the server's log does" in w], cut.warnings

"""Frontend clock skew: bounds, their combination, and recovery of a known injected skew
and backend zone from log sets written in that zone with that skew."""

from __future__ import annotations

import math
import shutil

import pandas as pd
import pytest
from logbuilder import LogSet, uuid_of

from jarvis_diag.clock import combine_bounds, session_key
from jarvis_diag.timeline import load_timeline


def test_combine_takes_the_tightest_bounds_and_the_middle():
    est = combine_bounds(lowers=[340.0, 348.0, 345.0], uppers=[360.0, 352.0])
    assert (est.lower_ms, est.upper_ms, est.skew_ms, est.pairs) == (348.0, 352.0, 350.0, 5)


def test_combine_drops_a_lower_bound_that_contradicts_the_uppers():
    # a mis-paired emit claims skew >= 2000 while a chat:ready pair says <= 352
    est = combine_bounds(lowers=[348.0, 2000.0], uppers=[352.0])
    assert est.lower_ms == 348.0 and est.dropped == 1


def test_combine_with_one_side_only():
    assert combine_bounds([], [351.0, 350.0]).skew_ms == 350.0
    assert combine_bounds([349.0, 350.0], []).skew_ms == 350.0
    assert combine_bounds([], []) is None


def test_rounding_disagreement_is_tolerated():
    est = combine_bounds(lowers=[351.0], uppers=[350.0])
    assert est.skew_ms == pytest.approx(350.5) and est.dropped == 0


def test_combine_outvotes_mis_paired_handshake_uppers():
    # true skew 0: emits (lowers) -60..-20, chat:ready (exact) <= 25, handshake uppers mostly
    # >= 0 but three paired with another phone's connect a few hundred ms later
    lowers = [-60.0, -48.0, -35.0, -31.0, -20.0]
    loose = [4.0, 12.0, 30.0, -754.0, -506.0, -414.0]
    est = combine_bounds(lowers, [25.0, 40.0], loose)
    assert (est.lower_ms, est.upper_ms) == (-20.0, 4.0) and est.dropped == 3
    assert est.pairs == len(lowers) + 2 + 3
    # trusted like chat:ready's, the same uppers would have dragged the clock by ~-400 ms
    assert combine_bounds(lowers, [25.0, 40.0, *loose]).skew_ms < -300


def test_combine_on_a_tie_drops_the_lower_bound():
    est = combine_bounds([360.0], [], [350.0])
    assert (est.lower_ms, est.upper_ms, est.dropped) == (None, 350.0, 1)


def test_session_key():
    assert session_key("977bcd1b-92d4-4b16-832f-db55897da081") == "977bcd1b"
    assert session_key("new-1795514619908") == "new-1795"
    assert session_key(None) is None and session_key("") is None


SID = "QEy5HbszAAAB"


def _session_log(logs: LogSet, skew_ms: float, messages: int = 3, gap_s: float = 1.7) -> str:
    c = logs.client(skew_ms=skew_ms)
    sid = SID
    logs.connect(c, sid)
    logs.wait(1.2)
    temp = logs.temp_id(c)
    logs.attach(c, sid, uuid_of(1), temp=temp)
    for _ in range(messages):
        logs.wait(gap_s)
        logs.message(c, sid, uuid_of(1), key=temp[:8])
    logs.wait(2.0)
    logs.attach(c, sid, uuid_of(2), existing=True, prev=uuid_of(1))
    return c.id


@pytest.mark.parametrize(("zone", "offset", "skew_ms"), [
    ("Asia/Shanghai", 480, 2734.0),
    ("America/New_York", -300, -1890.0),
    ("Asia/Kolkata", 330, 12.0),
    ("Europe/Berlin", 60, 350.0),
])
def test_injected_skew_and_zone_are_recovered(tmp_path, zone, offset, skew_ms):
    logs = LogSet(zone=zone, one_way_ms=1.0)
    client = _session_log(logs, skew_ms)
    tl = load_timeline([str(p) for p in logs.write(tmp_path)])
    assert tl.clock["backend_utc_offset_minutes"] == offset
    assert tl.clock["backend_zone_source"] == "recv_ts"
    got = tl.clock["clients"][client]
    assert got["skew_ms"] == pytest.approx(skew_ms, abs=5)
    assert got["lower_ms"] <= skew_ms + 2 and got["upper_ms"] >= skew_ms - 2
    assert got["applied"] and got["pairs"] >= 8


def test_a_log_across_the_change_back_to_winter_time_stays_aligned(tmp_path):
    # Europe/Berlin goes from UTC+02:00 to UTC+01:00 at 01:00 UTC: the server writes 02:10..02:59,
    # then 02:00..03:10; one chat:connect before the change, two after, a message every 5 minutes
    change = 1792890000.0  # 2026-10-25T01:00:00Z
    logs = LogSet(zone="Europe/Berlin", start=change - 50 * 60, one_way_ms=1.0)
    client = _session_log(logs, 350.0, messages=12, gap_s=300)
    logs.wait(5.0)
    logs.attach(logs.clients[0], SID, uuid_of(1), existing=True, prev=uuid_of(2))
    tl = load_timeline([str(p) for p in logs.write(tmp_path)])
    clock = tl.clock
    assert clock["backend_utc_offset_minutes"] == 120 and "warning" not in clock
    [moved] = clock["backend_utc_offset_changes"]
    assert moved["at"] == "2026-10-25T01:00:00.000Z" and moved["offset_minutes"] == 60
    assert moved["zone"].startswith("Europe/")
    assert clock["clients"][client]["skew_ms"] == pytest.approx(350, abs=5)
    # every backend line at its true instant: the messages' receipts 1-3 ms after their emits
    ev = tl.events
    sent = ev[ev["kind"] == "message.sent"]["t"].reset_index(drop=True)
    received = ev[ev["kind"] == "message.received"]["t"].reset_index(drop=True)
    assert len(sent) == len(received) == 12
    gaps = (received - sent).dt.total_seconds() * 1000
    assert ((gaps > -3) & (gaps < 10)).all()
    attaches = [(a["kind"], a["received_at"] is not None, a["latency_ms"] is not None)
                for s in tl.to_json_dict()["sessions"] for a in s["attaches"]]
    assert sorted(attaches) == [("new", True, True), ("new", True, True), ("switch", True, True)]


def test_no_skew_reports_the_estimate_but_leaves_times(tmp_path):
    logs = LogSet()
    client = _session_log(logs, 2734.0)
    paths = [str(p) for p in logs.write(tmp_path)]
    corrected = load_timeline(paths)
    raw = load_timeline(paths, no_skew=True)
    assert raw.clock["clients"][client]["applied"] is False
    fe = raw.events["source"] == "frontend"
    assert (raw.events.loc[fe, "t"] == raw.events.loc[fe, "t_source"]).all()
    fe = corrected.events["source"] == "frontend"
    delta = (corrected.events.loc[fe, "t_source"] - corrected.events.loc[fe, "t"]).dt.total_seconds() * 1000
    assert delta.round().eq(round(corrected.clock["clients"][client]["skew_ms"])).all()


def test_corrected_times_put_each_emit_before_its_receipt(tmp_path):
    logs = LogSet(one_way_ms=1.0)
    _session_log(logs, -4500.0)
    tl = load_timeline([str(p) for p in logs.write(tmp_path)])
    ev = tl.events
    sent = ev[ev["kind"] == "message.sent"]["t"].reset_index(drop=True)
    received = ev[ev["kind"] == "message.received"]["t"].reset_index(drop=True)
    gaps = (received - sent).dt.total_seconds() * 1000
    assert ((gaps > -3) & (gaps < 10)).all()


def test_corrected_times_and_spans_are_whole_microseconds():
    # the logs' times are whole ms: a correction of -22 ms must not leave a row 122 ns early,
    # which an exact comparison (``t >= start`` in a notebook) would drop
    tl = load_timeline(["sample_logs/callback-desync-switch-back"])
    [got] = tl.clock["clients"].values()
    assert got["skew_ms"] == -22.0
    fe = tl.events[tl.events["source"] == "frontend"]
    assert ((fe["t_source"] - fe["t"]) == pd.Timedelta(milliseconds=-22)).all()
    spans = pd.concat([tl.attaches["latency_ms"], tl.connections["duration_ms"]]).dropna()
    assert len(spans) and (spans == spans.round(3)).all()


def test_real_fixture_skew_is_350_ms():
    for name in ("normal", "callback-desync"):
        tl = load_timeline([f"tests/fixtures/{name}"])
        [(client, got)] = tl.clock["clients"].items()
        assert got["skew_ms"] == pytest.approx(350, abs=2), name
        assert got["upper_ms"] - got["lower_ms"] <= 3
        assert tl.clock["backend_utc_offset_minutes"] == 60


def test_a_phone_minutes_behind_is_corrected_not_taken_for_another_days_log(tmp_path):
    # the real page log with the phone's clock 125 s behind: its times and its client= epochs.
    # Corrected, it runs within the server log's time: no "another day's log?" warning
    import re
    from pathlib import Path

    behind_ms = 125_000
    fixture = Path("tests/fixtures/callback-desync")
    shutil.copy(fixture / "app.log", tmp_path / "app.log")
    (tmp_path / "frontend").mkdir()
    for page in (fixture / "frontend").glob("*.log"):
        text = re.sub(r"^\[([^\]]+)\]", lambda m: "[" + (pd.Timestamp(m[1]) - pd.Timedelta(milliseconds=behind_ms))
                      .strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z]", page.read_text(), flags=re.M)
        text = re.sub(r"network_delay=(-?\d+)ms \(server=(\d+), client=(\d+)\)",
                      lambda m: f"network_delay={int(m[1]) - behind_ms}ms (server={m[2]}, client={int(m[3]) - behind_ms})",
                      text)
        (tmp_path / "frontend" / page.name).write_text(text)
    tl = load_timeline(str(tmp_path))
    [got] = tl.clock["clients"].values()
    assert got["skew_ms"] == pytest.approx(350 - behind_ms, abs=2)
    assert not [w for w in tl.warnings if "page log" in w], tl.warnings
    assert {(f.kind, f.severity) for f in tl.findings.itertuples()} == {
        (f.kind, f.severity) for f in load_timeline(str(fixture)).findings.itertuples()}


@pytest.mark.parametrize("numbers", [
    # another day's numbers in both (pasted from elsewhere): the phone 5 s behind the server
    "network_delay=-5000ms (server=1769736584344, client=1769736579344)",
    # the page's own time in client=, another day's in server=: a bound 298 days below the others
    "network_delay=0ms (server=1821292732500, client=1795514732500)",
])
def test_a_chat_ready_line_with_numbers_not_its_own_bounds_nothing(tmp_path, numbers):
    # the phone's other pairs say it runs 350 ms ahead
    shutil.copytree("tests/fixtures/callback-desync", tmp_path / "set")
    [fe] = (tmp_path / "set" / "frontend").glob("*.log")
    with fe.open("a") as fh:
        fh.write(f"[2026-11-24T10:05:32.500Z] [DEBUG] [SocketIO] [TIMING] Socket.IO delivered chat:ready, {numbers}\n")
    tl = load_timeline([str(tmp_path / "set")])
    [(_client, got)] = tl.clock["clients"].items()
    assert got["skew_ms"] == pytest.approx(350, abs=2) and got["upper_ms"] - got["lower_ms"] <= 3


def test_emits_of_many_phones_sharing_a_temporary_key_pair_with_their_own_sockets() -> None:
    # every temporary id of the same hours prints as "new-1795": a phone's chat:connect
    # must pair with the receipt on its own socket once sockets are known, and a receipt
    # is used once; 300 phones, each emit 1 ms after the previous, the receipts out of order
    from jarvis_diag import frames
    from jarvis_diag.clock import emit_pairs

    t0, rows, owner = 1795514619.0, [], {}
    for i in range(300):
        client, sid = f"phone-{i:03d}", f"S{i:07d}"
        owner[sid] = client
        rows.append({"t_source": t0 + i / 1000, "source": "frontend", "kind": "chat.connect.sent",
                     "session": f"new-1795{i:09d}", "client": client})
        # phone i's receipt comes after phone i+1's (2 ms late, the next one 1 ms late)
        late = 0.002 if i % 2 == 0 else 0.0
        rows.append({"t_source": t0 + i / 1000 + late, "source": "backend", "kind": "chat.connect.received",
                     "session": "new-1795", "sid": sid})
    events = frames.events_from_records({**r, "path": r["source"] + ".log", "line": n, "t": r["t_source"]}
                                        for n, r in enumerate(rows, 1))
    skew = {f"phone-{i:03d}": 0.0 for i in range(300)}
    pairs = emit_pairs(events, skew, owner=owner)
    assert len(pairs) == 300
    assert (pairs["sid"].map(owner) == pairs["client"]).all()
    assert pairs["be"].is_unique
    # without knowing the sockets, the n-th emit takes the first receipt not used yet
    blind = emit_pairs(events, skew)
    assert len(blind) == 300 and blind["be"].is_unique
    assert (blind["be_ms"] >= blind["fe_ms"] - 250).all()
    assert (blind["sid"].map(owner) != blind["client"]).sum() > 100


def test_the_socket_a_phone_had_when_it_emitted():
    from jarvis_diag.clock import Sockets

    sockets = Sockets([(12.5, 20.0, "B"), (10.0, 12.0, "A"), (30.0, math.inf, "C")])
    assert [sockets.at(t) for t in (11.0, 12.0, 15.0, 30.5)] == ["A", "A", "B", "C"]
    assert sockets.at(21.0) is None and sockets.at(5.0) is None  # between sockets, before any
    # an emit the moment the page is authenticated can read a few ms before the server's
    # connect on the corrected clocks: the socket opened just after is it
    assert sockets.at(29.9) == "C" and sockets.at(12.45) == "B"


def test_a_handshake_with_another_phones_connect_as_near_gives_no_bound(tmp_path):
    # Phone A is on a slow link (50 ms down, 30 ms up); phone B's server connect comes 5 ms
    # after A has already heard of its own. Paired with B's (the nearest), A's 'Connected'
    # line said A's clock was at least 5 ms behind; with A's emits (>= 30 ms up) that made
    # a consistent, wrong interval [-30, -5] around a true skew of 0.
    logs = LogSet(zone="UTC")
    a, b = logs.client(skew_ms=0.0, suffix="aaaa"), logs.client(skew_ms=0.0, suffix="bbbb")
    for round_ in range(3):
        t0 = logs.now
        sid_a, sid_b = f"AaaaAaa{round_}xxxx", f"BbbbBbb{round_}xxxx"
        logs.be(t0, "sio.client_connected", sid=sid_a[:8])
        logs.be(t0 + 0.001, "sio.client_authenticated", sid=sid_a[:8])
        logs.fe(a, t0 + 0.050, "fe.connected")
        logs.be(t0 + 0.055, "sio.client_connected", sid=sid_b[:8])
        logs.fe(b, t0 + 0.056, "fe.connected")
        logs.be(t0 + 0.057, "sio.client_authenticated", sid=sid_b[:8])
        logs.fe(b, t0 + 0.058, "fe.auth_ok", transport="websocket")
        logs.fe(a, t0 + 0.051 + 0.050, "fe.auth_ok", transport="websocket")
        logs.now = t0 + 0.2
        logs.attach(a, sid_a, uuid_of(0xA0 + round_), existing=True, received_at=logs.now + 0.030)
        logs.attach(b, sid_b, uuid_of(0xB0 + round_), existing=True)
        logs.wait(5)
        logs.client_disconnect(a, sid_a)
        logs.client_disconnect(b, sid_b)
        logs.wait(1)
    doc = load_timeline([str(p) for p in logs.write(tmp_path)]).to_json_dict()
    est = doc["clock"]["clients"][a.id]
    assert est["lower_ms"] <= 0.0 <= est["upper_ms"], est
    assert abs(est["skew_ms"]) < 20, est

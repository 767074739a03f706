"""Timeline JSON -> Chrome trace-event JSON (Perfetto UI / chrome://tracing)."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import pytest
from test_report import TIMELINE

from jarvis_diag.perfetto import to_trace

FIXTURES = Path(__file__).parent / "fixtures"


def us(iso: str) -> int:
    return round(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1_000_000)


def names(trace: dict) -> tuple[dict, dict]:
    procs = {e["pid"]: e["args"]["name"] for e in trace["traceEvents"] if e["name"] == "process_name"}
    threads = {(e["pid"], e["tid"]): e["args"]["name"] for e in trace["traceEvents"] if e["name"] == "thread_name"}
    return procs, threads


def check_well_formed(trace: dict) -> None:
    """What the trace viewers need: known phases, integer microseconds, and slices on one
    track that nest (a slice that starts inside another ends inside it)."""
    json.dumps(trace)
    tracks = defaultdict(list)
    for e in trace["traceEvents"]:
        assert e["ph"] in ("M", "X", "i"), e
        assert isinstance(e["pid"], int) and isinstance(e["tid"], int)
        if e["ph"] == "X":
            assert isinstance(e["ts"], int) and isinstance(e["dur"], int) and e["dur"] >= 0
            tracks[(e["pid"], e["tid"])].append((e["ts"], e["ts"] + e["dur"]))
        if e["ph"] == "i":
            assert e["s"] in ("t", "p", "g") and isinstance(e["ts"], int)
    for spans in tracks.values():
        spans.sort(key=lambda s: (s[0], -s[1]))
        stack: list[int] = []
        for start, end in spans:
            while stack and stack[-1] <= start:
                stack.pop()
            assert not stack or end <= stack[-1], "slices overlap without nesting"
            stack.append(end)


def test_tracks_per_client_connection_and_session():
    trace = to_trace(TIMELINE)
    check_well_formed(trace)
    procs, threads = names(trace)
    assert sorted(procs.values()) == ["client phone", "server", "sessions"]
    assert sorted(threads.values()) == ["client phone", "connection AAAAAAAA", "connection BBBBBBBB",
                                        "session 977bcd1b"]
    by_name = {e["name"]: e for e in trace["traceEvents"] if e["ph"] == "X"}
    conn = by_name["connection AAAAAAAA"]
    assert conn["ts"] == us("2026-11-24T10:00:00.000Z") and conn["dur"] == 85_000_000
    assert threads[(conn["pid"], conn["tid"])] == "connection AAAAAAAA"
    assert procs[conn["pid"]] == "client phone"
    open_conn = by_name["connection BBBBBBBB"]  # still open: it ends with the logs
    assert open_conn["ts"] + open_conn["dur"] == us("2026-11-24T10:01:25.000Z")
    assert open_conn["args"]["open at end of logs"] is True
    episode = by_name["episode: page.hidden (recovered)"]
    assert episode["dur"] == 20_127_000
    attach = by_name["attach new"]
    assert attach["dur"] == 17_000 and attach["args"]["latency_ms"] == 17.0
    assert threads[(attach["pid"], attach["tid"])] == "session 977bcd1b"


def test_findings_are_instant_events_on_their_track():
    trace = to_trace(TIMELINE)
    procs, threads = names(trace)
    found = {e["name"]: e for e in trace["traceEvents"] if e.get("cat") == "finding"}
    half_open = found["critical: half-open"]
    assert half_open["ph"] == "i" and half_open["s"] == "t"
    assert threads[(half_open["pid"], half_open["tid"])] == "client phone"
    assert half_open["ts"] == us("2026-11-24T10:01:25.000Z")
    assert half_open["args"]["evidence"] == ["app.log:88 [SocketIO] Client AAAAAAAA disconnected"]
    warning = found["info: app-warning"]
    assert warning["s"] == "g"  # no session, no client: global


def test_empty_timeline():
    trace = to_trace({"schema": "jarvis-diag.timeline/1"})
    assert [e["args"]["name"] for e in trace["traceEvents"] if e["name"] == "process_name"] == ["server",
                                                                                                 "sessions"]


def test_real_logs_to_trace():
    timeline = pytest.importorskip("jarvis_diag.timeline")
    doc = timeline.load_timeline([str(FIXTURES / "callback-desync")]).to_json_dict()
    trace = to_trace(doc)
    check_well_formed(trace)
    procs, threads = names(trace)
    assert "client Mozilla50iPhoneCPUiP-mwuj2r4i-8t1u" in procs.values()
    assert "connection 1oqN3Huv" in threads.values()
    sessions = sorted(t for t in threads.values() if t.startswith("session "))
    assert sessions == ["session 453424df", "session 9342a748", "session aa50ecc2"]
    desync = [e for e in trace["traceEvents"] if e["name"] == "critical: callback-desync"]
    assert len(desync) == 2
    assert {threads[(e["pid"], e["tid"])] for e in desync} == {"session 453424df"}

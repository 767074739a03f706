"""One finding per incident: what one cause did to a page is told once, with its cost and
evidence, its lesser repeats grouped (on log sets written by tests/logbuilder.py, the real
desync fixture and the committed single-live-session sample)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from logbuilder import LogSet, uuid_of

from jarvis_diag.timeline import load_timeline

A, B = uuid_of(0xA1), uuid_of(0xB2)
SID1 = "QEy5HbszAAAB"
ROOT = Path(__file__).resolve().parents[1]


def _serious(tl) -> list[dict]:
    return [f for f in tl.to_json_dict()["findings"] if f["severity"] in ("warning", "critical")]


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_a_reply_cut_off_and_the_wait_for_the_next_message_are_one_outage(tmp_path):
    """Attaching B on A's socket cut A's reply off live and dropped A's callback; 7 s later
    A's next message found no callback and the server auto-connected A, whose replay showed
    the reply. That is one outage with one cause: it was told twice, as a critical
    single-live-session (the cut reply, 7 s) and a critical callback-desync (the wait from
    the same switch) that told the cut reply again."""
    logs = LogSet()
    c = logs.client()
    logs.reply_cut_off_by_a_switch(c, SID1, A, B)
    logs.wait(7)
    back = logs.message(c, SID1, A, missing_callback_prev=B, history=2, reply_s=0.5)
    logs.wait(3)
    [f] = _serious(load_timeline([str(p) for p in logs.write(tmp_path)]))
    assert (f["kind"], f["severity"], f["session"], f["sid"], f["occurrences"]) == \
        ("single-live-session", "critical", A, SID1[:8], 1)
    assert f["delay_ms"] == pytest.approx((back - _epoch(f["at"])) * 1000, abs=50) and f["delay_ms"] > 7000
    assert f["summary"].count("cut off live") == 1 and f["summary"].count("The server keeps one live session") == 1
    assert "the next message to it found none at" in f["summary"]
    # the server's line that says so is its evidence
    assert any("has no callback" in e["text"] for e in f["evidence"])


def test_the_real_desync_tells_the_cut_reply_once():
    # REAL_LOGS.md: round 2's reply, cut off live when session C was opened, reached the page
    # in the replay of the second auto-connect; the desync that auto-connect ends began at the
    # user's switch back, a cause of its own, and no longer tells the cut reply again
    findings = load_timeline([str(ROOT / "tests" / "fixtures" / "callback-desync")]).to_json_dict()["findings"]
    assert [(f["kind"], f["severity"], round(f["delay_ms"] / 1000, 1)) for f in findings[:3]] == \
        [("single-live-session", "critical", 20.0), ("callback-desync", "critical", 15.0),
         ("callback-desync", "critical", 15.0)]
    assert [f["id"] for f in findings if "cut off live" in f["summary"]] == ["F1"]
    assert all(f["summary"].endswith("Fix: always send chat:connect when switching back to a session.")
               for f in findings[1:3])


def test_the_single_live_session_sample_is_one_finding_per_incident():
    # one phone, two chats on one socket, one reconnect (sample_logs/single-live-session): on
    # each socket the messages that found no callback and the replies cut off live were a
    # finding each (7 warnings or worse); each socket's repeats are one finding now, and the
    # reply never seen an outage of its own
    serious = _serious(load_timeline([str(ROOT / "sample_logs" / "single-live-session")]))
    assert [(f["kind"], f["severity"], f["occurrences"]) for f in serious] == \
        [("single-live-session", "critical", 1), ("single-live-session", "warning", 3),
         ("callback-desync", "warning", 3)]
    assert len({f["sid"] for f in serious[1:]}) == 2  # (one per socket)
    assert "(2 messages found their session without a callback, 1 reply was cut off live)" in serious[1]["summary"]
    assert ("(2 messages found their session without a callback, 1 reconnect re-attached its sessions in turn)"
            in serious[2]["summary"])


def test_a_desync_waits_from_the_drop_before_it_not_from_the_next_one_of_its_millisecond(tmp_path):
    """A's callback was dropped when B attached; 0.4 s later A's message found no callback and
    auto-connected A, and B's message, in the same millisecond, auto-connected B, dropping A
    again. A's wait ran from B's attach: it was counted from the drop written after its own
    'has no callback' line (0 ms), and that drop, which cut A's next reply, was taken for
    the start of the same outage (simulate-mobile against --bug single-live-session, the
    sample's second socket)."""
    logs = LogSet()
    c = logs.client()
    logs.connect(c, SID1)
    logs.attach(c, SID1, A, existing=True)
    logs.attach(c, SID1, B, existing=True, prev=A)
    dropped = max(t for t, line in logs.backend if f"{A[:8]} -> {B[:8]}" in line)
    logs.wait(0.4)
    t0 = logs.now
    logs.message(c, SID1, A, missing_callback_prev=B, wire_delay_s=0.003, reply_s=0.5)
    logs.now = t0
    logs.message(c, SID1, B, missing_callback_prev=A, wire_delay_s=0.003, reply_s=0.5)
    logs.wait(3)
    found = load_timeline([str(p) for p in logs.write(tmp_path)]).to_json_dict()["findings"]
    [f] = [f for f in found if f["kind"] == "callback-desync" and f["session"] == A]
    assert f["delay_ms"] == pytest.approx((t0 + 0.003 - dropped) * 1000, abs=2) and f["delay_ms"] > 390
    assert _epoch(f["summary"].split("dropped at ")[1][:24]) == pytest.approx(dropped, abs=0.001)

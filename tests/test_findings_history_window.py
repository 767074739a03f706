"""history-window: the page asked to resume after a seq and the server replayed its history
window instead. The logs carry no seq of a replayed message, so the finding says a message
made while the page was away is lost to it only when the logs show it, and otherwise what they
do show (log sets written by tests/logbuilder.py)."""

from __future__ import annotations

import pytest
from logbuilder import LogSet, uuid_of

from jarvis_diag.timeline import load_timeline

A = uuid_of(0xA1)
SID1, SID2, SID3 = "QEy5HbszAAAB", "T3TU_-YiAAAC", "Vh2kW9pqAAAD"


def _window_after_a_loss(tmp_path, *, before: int, now: int, replies_meanwhile: int = 0) -> dict:
    """A page attached to A (the session then had ``before`` messages) loses its socket and
    re-attaches asking to resume after seq 40; the server replays the last 3 of its ``now``
    messages. ``replies_meanwhile``: messages another device sent to A (each answered) while
    the page was away."""
    logs = LogSet()
    c = logs.client()
    logs.connect(c, SID1)
    logs.attach(c, SID1, A, existing=True, history=2, history_total=before)
    logs.wait(2)
    logs.client_disconnect(c, SID1, reason="transport close")
    if replies_meanwhile:
        tablet = logs.client(suffix="tabl")
        logs.connect(tablet, SID3)
        logs.attach(tablet, SID3, A, existing=True, history=2, history_total=before)
        for _ in range(replies_meanwhile):
            logs.message(tablet, SID3, A, reply_s=0.3)
            logs.wait(0.5)
    logs.wait(1)
    logs.connect(c, SID2)
    logs.attach(c, SID2, A, existing=True, history=3, history_total=now, last_seq=40, handler_new=False,
                resubscribe=True)
    logs.wait(2)
    found = [f for f in load_timeline([str(p) for p in logs.write(tmp_path)]).to_json_dict()["findings"]
             if f["kind"] == "history-window"]
    assert len(found) == 1, found
    return found[0]


def test_a_window_that_held_everything_made_since_the_last_attach_loses_nothing(tmp_path):
    # 8 messages at the page's last attach, 9 now: the 3 replayed hold the one made since, so
    # nothing made while it was away is missing. It said 'what was made while the page was away
    # and is not among them is lost to it' (critical) all the same.
    f = _window_after_a_loss(tmp_path, before=8, now=9)
    assert f["severity"] == "warning"
    assert "the window holds the one message made since the page's previous attach of it at" in f["summary"]
    assert "so nothing made while it was away is lost, but what it already had is shown again" in f["summary"]
    assert "is lost to it" not in f["summary"]


def test_a_window_smaller_than_what_was_made_since_says_what_the_logs_cannot_tell(tmp_path):
    # 7 made since the last attach, 3 replayed: some of the 7 may have reached the page live
    # before it left, and the logs carry no seqs of the replayed ones
    f = _window_after_a_loss(tmp_path, before=2, now=9)
    assert f["severity"] == "critical"
    assert "7 messages were made since the page's previous attach of it at" in f["summary"]
    assert "more than the 3 replayed" in f["summary"] and "they cannot tell" in f["summary"]
    assert "is lost to it" not in f["summary"] and "are lost to it" not in f["summary"]


@pytest.mark.parametrize(("replies", "lost"), [(2, 1), (3, 3)])
def test_more_made_while_away_than_the_window_holds_is_a_known_loss(tmp_path, replies, lost):
    # another device's messages to the chat while the page was away, each answered: a message
    # and its reply each, more than the 3 replayed
    f = _window_after_a_loss(tmp_path, before=8, now=8 + 2 * replies, replies_meanwhile=replies)
    assert f["severity"] == "critical"
    assert f"at least {2 * replies} messages were made while the page was away (since " in f["summary"]
    assert f"at least {lost} of them {'is' if lost == 1 else 'are'} lost to it" in f["summary"]


def test_with_no_earlier_attach_in_the_logs_it_says_what_they_cannot_tell(tmp_path):
    # the logs begin with the page's return: how many messages were made while it was away
    # is nowhere in them
    logs = LogSet()
    c = logs.client()
    logs.connect(c, SID2)
    logs.attach(c, SID2, A, existing=True, history=3, history_total=9, last_seq=40, resubscribe=True)
    logs.wait(2)
    [f] = [f for f in load_timeline([str(p) for p in logs.write(tmp_path)]).to_json_dict()["findings"]
           if f["kind"] == "history-window"]
    assert f["severity"] == "critical" and "the last 3 of its 9 history messages" in f["summary"]
    assert "do not show how many were made while the page was away" in f["summary"]
    assert "they cannot tell; what it already had is shown again" in f["summary"]
    assert "is lost to it" not in f["summary"]


def test_the_pages_own_message_sent_as_it_left_is_not_counted_lost(tmp_path):
    # the page sent a message and went to the background before the server had it; the reply
    # was written while it was away. Its own message is on the page: of what was made while it
    # was away only the reply may be missing, and the window of 1 holds the last message. It
    # said 'at least 2 messages were made while the page was away ... at least 1 of them is lost'.
    logs = LogSet()
    c = logs.client()
    logs.connect(c, SID1)
    logs.attach(c, SID1, A, existing=True, history=2, history_total=2)
    logs.wait(1)
    sent = logs.now
    logs.message(c, SID1, A, reply_s=1.0, deliver=False, wire_delay_s=0.05)
    logs.now = sent + 0.01  # (hidden before the server had the message)
    logs.page_hidden(c)
    logs.wait(3)
    logs.page_visible(c)
    logs.client_disconnect(c, SID1, reason="io client disconnect")
    logs.connect(c, SID2)
    logs.resubscribe(c, [A])
    logs.attach(c, SID2, A, existing=True, history=1, history_total=4, last_seq=9, handler_new=False)
    logs.wait(2)
    [f] = [f for f in load_timeline([str(p) for p in logs.write(tmp_path)]).to_json_dict()["findings"]
           if f["kind"] == "history-window"]
    assert "were made while the page was away" not in f["summary"] and "is lost to it" not in f["summary"]
    assert "2 messages were made since the page's previous attach of it at" in f["summary"]

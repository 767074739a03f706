"""`timeline --follow`'s rebuilds of the timeline: spaced on a big log, run beside the lines
printed, and one last one at Ctrl-C for the lines --session / --client hold."""

from __future__ import annotations

import shutil
import signal
import time
from pathlib import Path

from test_timeline_cli import _following, _read_until

from jarvis_diag.commands.timeline import (
    FOLLOW_REBUILD_S,
    FOLLOW_REBUILD_SHARE,
    _rebuild_due,
    finding_key,
    match_findings,
)

SWITCH_BACK = Path(__file__).parent.parent / "sample_logs" / "callback-desync-switch-back"


def _copy_set(tmp_path: Path) -> tuple[Path, Path, list[str]]:
    """(app.log, the frontend directory, the page log's lines) of a copy of the switch-back set."""
    shutil.copy(SWITCH_BACK / "app.log", tmp_path / "app.log")
    [page] = (SWITCH_BACK / "frontend").iterdir()
    fe_dir = tmp_path / "frontend"
    fe_dir.mkdir()
    return tmp_path / "app.log", fe_dir, page.read_text().splitlines(keepends=True)


def test_a_rebuild_that_took_long_spaces_the_next_to_a_share_of_a_cpu():
    # (monotonic seconds, given: no clock read) a small log's rebuild (a tenth of a second)
    # comes a second after the change, as before
    assert _rebuild_due(now=100.0, dirty_since=100.0 - FOLLOW_REBUILD_S, last_end=99.0, last_cost=0.1)
    assert not _rebuild_due(now=100.0, dirty_since=99.5, last_end=90.0, last_cost=0.1)
    assert not _rebuild_due(now=100.0, dirty_since=None, last_end=0.0, last_cost=0.1)  # (nothing new)
    # a big log's (4 s): a line each second no longer keeps a CPU busy reading it again; the
    # next one waits so that rebuilding takes FOLLOW_REBUILD_SHARE of a CPU at most
    wait = 4.0 * (1 / FOLLOW_REBUILD_SHARE - 1)
    assert not _rebuild_due(now=100.0, dirty_since=95.0, last_end=100.0 - wait + 0.5, last_cost=4.0)
    assert _rebuild_due(now=100.0, dirty_since=95.0, last_end=100.0 - wait, last_cost=4.0)
    assert 4.0 / (4.0 + wait) <= FOLLOW_REBUILD_SHARE


def test_follow_of_one_client_prints_the_lines_held_at_ctrl_c(tmp_path):
    # the page writes three lines just before Ctrl-C: with --client they wait for the
    # timeline to tell whose they are; at the stop the logs are read once more and they are
    # printed (before, they were left out), then "stopped"
    app_log, fe_dir, lines = _copy_set(tmp_path)
    page = fe_dir / "20261206_Mozilla50iPhoneCPUiP-mxbyzm1u-m37a.log"
    page.write_text("".join(lines[:-3]))
    with _following(app_log, fe_dir, "--client", "mxbyzm1u") as proc:
        _read_until(proc, "following 2 file(s)", 20)
        time.sleep(0.6)  # (more than a poll: the follow is past its first look)
        with page.open("a") as fh:
            fh.write("".join(lines[-3:]))
        with app_log.open("a") as fh:  # (another socket's: still left out)
            fh.write("2026-12-06 23:05:00,000 - jarvis - INFO - [SocketIO] Client ZZZZZZZZ connected\n")
        proc.send_signal(signal.SIGINT)
        out = _read_until(proc, "stopped", 30)
        proc.wait(timeout=30)  # (its end, before the one Ctrl-C sent on leaving)
    rows = out.splitlines()
    [stopping] = [i for i, row in enumerate(rows) if row.startswith("stopping: the logs are read once more (up to 10 s) for ")]
    assert rows[-1] == "stopped" and "ZZZZZZZZ" not in out
    printed = [i for i, row in enumerate(rows) if row.split()[1:2] == ["mxbyzm1u-m37a"]]
    assert printed == list(range(stopping + 1, stopping + 4))
    for line, i in zip(lines[-3:], printed, strict=True):
        assert line.rstrip("\n") in rows[i]


def test_follow_of_one_client_prints_each_line_once_in_order_while_the_logs_are_read_again(tmp_path):
    # the page writes a line every tenth of a second while the timeline is read again beside
    # the follow: those read before a rebuild started are printed after it, the others after
    # the next, each once and in the order written
    app_log, fe_dir, lines = _copy_set(tmp_path)
    page = fe_dir / "20261206_Mozilla50iPhoneCPUiP-mxbyzm1u-m37a.log"
    page.write_text("".join(lines[:3]))
    with _following(app_log, fe_dir, "--client", "mxbyzm1u") as proc:
        _read_until(proc, "following 2 file(s)", 20)
        for line in lines[3:]:
            with page.open("a") as fh:
                fh.write(line)
            time.sleep(0.1)
        out = _read_until(proc, lines[-1].rstrip("\n"), 30)
    printed = [row for row in out.splitlines() if row.split()[1:2] == ["mxbyzm1u-m37a"]]
    assert len(printed) == len(lines) - 3
    for line, row in zip(lines[3:], printed, strict=True):
        assert line.rstrip("\n") in row


def _found(kind, at, session=None, client=None, summary="s", severity="warning"):
    return {"kind": kind, "at": at, "session": session, "client": client, "severity": severity, "summary": summary}


def test_findings_of_one_instant_for_two_phones_are_two_findings_not_a_revision():
    # a server stop cuts two phones at the same instant: both reconnect-failed, no session
    a = _found("reconnect-failed", "10:00:00.000Z", client="phone-a", summary="a")
    b = _found("reconnect-failed", "10:00:00.000Z", client="phone-b", summary="b")
    matched, gone = match_findings({}, [a, b])
    assert [before for _, _, before in matched] == [None, None] and gone == []
    seen = {finding_key(f): (f["severity"], f["summary"]) for f in (a, b)}
    # read again: the same two, each its own
    matched, gone = match_findings(seen, [b, a])
    assert [before for _, _, before in matched] == [finding_key(b), finding_key(a)] and gone == []


def test_a_finding_whose_session_is_now_a_prefix_or_whose_client_is_now_known_is_revised():
    full = "c221dadf-23e5-4d1e-9c1a-0123456789ab"
    told = [_found("missing-resubscribe", "t1", session=full, client="phone"),
            _found("half-open", "t2", session=None, client=None)]
    seen = {finding_key(f): (f["severity"], f["summary"]) for f in told}
    now = [_found("missing-resubscribe", "t1", session="c221dadf", client="phone"),
           _found("half-open", "t2", session=None, client="phone", summary="joined")]
    matched, gone = match_findings(seen, now)
    assert [before for _, _, before in matched] == [finding_key(told[0]), finding_key(told[1])]
    assert gone == []
    # and one no reading bears out any more is withdrawn
    matched, gone = match_findings(seen, now[:1])
    assert gone == [finding_key(told[1])]

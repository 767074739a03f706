"""Work in a forked child (jarvis_diag/forked.py): its result comes back; a child that fails
leaves the work to the parent; nothing is left running. And a timeline whose findings are
named in a child is the one named in the process itself."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from jarvis_diag import forked, timeline
from jarvis_diag.ingest import ingest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(not forked.AVAILABLE, reason="no fork here")


def _pid_and(value: object) -> tuple[int, object]:
    return os.getpid(), value


def _fails_in_child(parent: int) -> int:
    if os.getpid() != parent:
        raise RuntimeError("the child's own failure")
    return os.getpid()


def _dies_in_child(parent: int) -> int:
    if os.getpid() != parent:
        os.kill(os.getpid(), signal.SIGKILL)
    return os.getpid()


def _gone(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def test_the_result_is_made_in_another_process_and_comes_back_whole():
    big = ["x" * 100] * 20_000  # (more than a pipe holds at once)
    job = forked.Forked(_pid_and, big)
    child = job._pid
    pid, value = job.result()
    assert pid != os.getpid() and pid == child and value == big
    assert _gone(child)


@pytest.mark.parametrize("work", [_fails_in_child, _dies_in_child])
def test_a_child_that_fails_leaves_the_work_to_the_parent(work):
    job = forked.Forked(work, os.getpid())
    child = job._pid
    assert job.result() == os.getpid()
    assert _gone(child)


def test_a_cancelled_child_is_stopped_and_reaped():
    job = forked.Forked(_pid_and, "unused")
    child = job._pid
    job.cancel()
    assert _gone(child)
    job.cancel()  # (twice is harmless)


@pytest.mark.parametrize("logs", ["tests/fixtures/callback-desync", "sample_logs/callback-desync-switch-back"])
def test_findings_named_in_a_child_are_those_named_here(logs, monkeypatch):
    ingested = ingest([str(ROOT / logs)])
    here = timeline.build_timeline(ingested).to_json_dict()
    monkeypatch.setattr(timeline, "FORK_MIN_RECORDS", 0)
    monkeypatch.setattr(timeline, "_findings", _named_in_child(timeline._findings))
    tl = timeline.build_timeline(ingest([str(ROOT / logs)]), parallel=True)
    assert tl.to_json_dict() == here and here["findings"]
    assert list(tl.findings["kind"]) == [f["kind"] for f in here["findings"]]


def _named_in_child(findings):
    parent = os.getpid()

    def named(corr):
        assert os.getpid() != parent  # (an assertion failed in the child: the parent would name them itself)
        return findings(corr)

    return named


def test_work_started_from_another_thread_is_done_in_that_thread_not_in_a_fork():
    # (a fork copies the locks the other threads hold; --follow rebuilds in a thread)
    import threading

    out = []
    worker = threading.Thread(target=lambda: out.append((forked.Forked(_pid_and, 1)._pid, forked.Forked(_pid_and, 2).result())))
    worker.start()
    worker.join(60)
    assert out == [(None, (os.getpid(), 2))]

"""`timeline --follow` stopped with Ctrl-C in the middle of a batch of lines being printed:
each line is printed once, the line being printed when it came and those after it too."""

from __future__ import annotations

import array
import fcntl
import platform
import shutil
import signal
import sys
import termios
import time
from pathlib import Path

import pytest
from test_timeline_cli import _following, _read_until

SWITCH_BACK = Path(__file__).parent.parent / "sample_logs" / "callback-desync-switch-back"
PAGE = "20261206_Mozilla50iPhoneCPUiP-mxbyzm1u-m37a.log"
F_GETPIPE_SZ = 1032  # (fcntl's, Linux)
WRITE = {"x86_64": "1", "aarch64": "64"}.get(platform.machine())  # (the write system call's number)
LINES = 3000  # (printed, some 350 kB: several times what a pipe holds)


def _blocked_writing(proc) -> None:
    """Wait till the follow is blocked writing its output: the pipe it writes to full (no one
    reads it), its main thread in write(1, ...), lines of the batch still to print."""
    fd = proc.stdout.fileno()
    capacity = fcntl.fcntl(fd, F_GETPIPE_SZ)
    queued = array.array("i", [0])
    for _ in range(1200):  # (a minute at most)
        fcntl.ioctl(fd, termios.FIONREAD, queued)
        call = Path(f"/proc/{proc.pid}/syscall").read_text().split()
        if queued[0] >= capacity - 4096 and call[:2] == [WRITE, "0x1"]:
            return
        time.sleep(0.05)
    raise AssertionError(f"the follow did not block writing ({queued[0]} bytes in the pipe; {call[:2]})")


@pytest.mark.skipif(not sys.platform.startswith("linux") or WRITE is None, reason="reads /proc/PID/syscall")
@pytest.mark.parametrize("selecting", [False, True], ids=["every-line", "one-client"])
def test_ctrl_c_while_a_batch_is_printed_prints_each_line_once(tmp_path, selecting):
    # LINES lines are written at once while the follow runs; its output is not read, so it
    # blocks writing in the middle of them, and Ctrl-C comes then. Before, the line being
    # written was printed again with the next one; of the others, those read straight from
    # the file were lost, and those --client held were all printed again at the stop
    shutil.copy(SWITCH_BACK / "app.log", tmp_path / "app.log")
    fe_dir = tmp_path / "frontend"
    fe_dir.mkdir()
    shutil.copy(SWITCH_BACK / "frontend" / PAGE, fe_dir / PAGE)
    if selecting:  # (a page's lines, held till the timeline tells they are the client's)
        written, line = fe_dir / PAGE, "[2026-12-06T15:02:29.700Z] [DEBUG] [SocketIO] note {:05d}\n"
    else:  # (the server's, printed as they are read)
        written, line = tmp_path / "app.log", "2026-12-06 23:02:29,700 - jarvis - INFO - [SocketIO] note {:05d}\n"
    client = ("--client", "mxbyzm1u") if selecting else ()
    with _following(tmp_path / "app.log", fe_dir, *client) as proc:
        _read_until(proc, "following 2 file(s)", 30)
        with written.open("a") as fh:
            fh.write("".join(line.format(i) for i in range(LINES)))
        _blocked_writing(proc)
        proc.send_signal(signal.SIGINT)
        out = _read_until(proc, "stopped", 60)
        proc.wait(timeout=30)  # (its end, before the one Ctrl-C sent on leaving)
    notes = [row.rsplit("note ", 1)[1] for row in out.splitlines() if "[SocketIO] note " in row]
    assert notes == [f"{i:05d}" for i in range(LINES)]

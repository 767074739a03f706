"""`timeline --follow` on a big log: while it first reads the logs (seconds), a person at a
terminal is told so on stderr, as the one-shot view tells them; a pipe gets nothing."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).parent.parent / "benchmarks"
STATUS = b"reading logs..."


@pytest.fixture(scope="module")
def big_log(tmp_path_factory) -> Path:
    """A log that takes about a second to read (100,000 lines of the benchmark's mix)."""
    out = tmp_path_factory.mktemp("big") / "app.log"
    subprocess.run([sys.executable, str(BENCHMARKS / "gen_mixed_log.py"), "--lines", "100000", "--out", str(out)],
                   check=True, capture_output=True, timeout=120)
    return out


def _follow_on_a_terminal(log: Path) -> tuple[subprocess.Popen, int]:
    """The follow with its stderr on a pseudo-terminal (stdout a pipe): (process, the
    terminal's end the test reads)."""
    reader, writer = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "jarvis_diag", "timeline", "--follow", str(log)],
                            stdout=subprocess.PIPE, stderr=writer, stdin=subprocess.DEVNULL,
                            env={**os.environ, "COLUMNS": "120", "TERM": "xterm-256color"})
    os.close(writer)
    return proc, reader


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 1 << 16)
    except OSError:  # (the terminal's other end closed: EIO)
        return b""


def _end(proc: subprocess.Popen, reader: int) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)
    proc.stdout.close()
    os.close(reader)


def test_follow_says_it_reads_the_logs_on_a_terminal_before_the_first_line(big_log):
    proc, reader = _follow_on_a_terminal(big_log)
    terminal, out = b"", b""
    try:
        deadline = time.monotonic() + 60
        while b"following" not in out and time.monotonic() < deadline:
            ready = select.select([reader, proc.stdout.fileno()], [], [], 1.0)[0]
            if reader in ready:  # (the terminal first: it was written first, if both were)
                terminal += _read(reader)
            if proc.stdout.fileno() in ready:
                chunk = os.read(proc.stdout.fileno(), 1 << 16)
                if not chunk:
                    break
                # the first thing printed comes once the status was up
                assert out or STATUS in terminal, (terminal, chunk)
                out += chunk
        assert b"following 1 file(s)" in out, (out, terminal)
        assert STATUS in terminal
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        finally:
            _end(proc, reader)
    assert proc.returncode == 0


def test_follow_says_nothing_of_reading_the_logs_on_a_pipe(big_log):
    proc = subprocess.Popen([sys.executable, "-m", "jarvis_diag", "timeline", "--follow", str(big_log)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        deadline, out = time.monotonic() + 60, b""
        while b"following" not in out and time.monotonic() < deadline:
            if select.select([proc.stdout.fileno()], [], [], 1.0)[0]:
                chunk = os.read(proc.stdout.fileno(), 1 << 16)
                if not chunk:
                    break
                out += chunk
        assert b"following 1 file(s)" in out
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
    assert proc.returncode == 0 and err == b""


def test_ctrl_c_while_the_follow_first_reads_the_logs_ends_it_as_before(big_log):
    # (interrupted before it follows anything: exit 130, said in one line, the cursor shown again)
    proc, reader = _follow_on_a_terminal(big_log)
    terminal = b""
    try:
        deadline = time.monotonic() + 30
        while STATUS not in terminal and time.monotonic() < deadline:
            if select.select([reader], [], [], 1.0)[0]:
                terminal += _read(reader)
        assert STATUS in terminal
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
        while select.select([reader], [], [], 0.5)[0] and (chunk := _read(reader)):
            terminal += chunk
        out = proc.stdout.read()
    finally:
        _end(proc, reader)
    assert proc.returncode == 130 and out == b""
    assert b"\x1b[?25h" in terminal and terminal.endswith(b"\x1b[2Kjarvis-diag: interrupted\r\n"), terminal[-200:]

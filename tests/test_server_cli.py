"""`jarvis-diag serve` on the command line."""

from __future__ import annotations

import subprocess
import sys

from server.testing import ServerProcess


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "jarvis_diag", "serve", *args], capture_output=True, text=True,
                          timeout=60)


def test_help_has_an_example():
    out = _run("--help")
    assert out.returncode == 0 and "Example: jarvis-diag serve" in out.stdout


def test_bug_list_explains_each():
    out = _run("--bug", "list")
    assert out.returncode == 0
    for name in ("single-live-session", "single-owner", "history-window", "reload", "slow-start"):
        assert name in out.stdout


def test_bad_options_are_one_line_errors(tmp_path):
    for args, needle in ((["--bug", "nope"], "unknown bug 'nope'"), (["--log-tz", "Mars/Olympus"], "unknown time zone"),
                         (["--port", "70000"], "out of range")):
        out = _run(*args, "--data-dir", str(tmp_path))
        assert out.returncode == 2 and needle in out.stderr and "Traceback" not in out.stderr
        assert len(out.stderr.strip().splitlines()) == 1


def test_port_in_use_is_a_clean_error(tmp_path):
    with ServerProcess(data_dir=tmp_path / "a", log_dir=tmp_path / "la") as first:
        out = _run("--port", str(first.port), "--data-dir", str(tmp_path / "b"))
        assert out.returncode == 2 and "cannot listen" in out.stderr and "Traceback" not in out.stderr


def test_prints_url_token_and_logs(tmp_path):
    with ServerProcess(data_dir=tmp_path / "d", log_dir=tmp_path / "l", token="tok") as proc:
        text = "".join(proc.output)
        assert text.startswith(f"listening on {proc.url}") and "token: tok" in text and str(tmp_path / "l") in text

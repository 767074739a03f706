"""`jarvis-diag serve` on the command line."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from jarvis_diag.cli import main
from server.testing import ServerProcess


@pytest.fixture
def run(capsys):
    """`jarvis-diag serve ARGS` in-process (the CLI entry point), as a completed-process-like result."""

    def _run(*args: str) -> SimpleNamespace:
        with pytest.raises(SystemExit) as exit_info:
            main(["serve", *args])
        out = capsys.readouterr()
        return SimpleNamespace(returncode=exit_info.value.code or 0, stdout=out.out, stderr=out.err)

    return _run


def test_help_has_an_example(run):
    out = run("--help")
    assert out.returncode == 0 and "Example: jarvis-diag serve" in out.stdout


def test_bug_list_explains_each():
    out = subprocess.run([sys.executable, "-m", "jarvis_diag", "serve", "--bug", "list"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0
    for name in ("single-live-session", "single-owner", "history-window", "reload", "slow-start"):
        assert name in out.stdout


def test_bad_options_are_one_line_errors(tmp_path, run):
    for args, needle in ((["--bug", "nope"], "unknown bug 'nope'"), (["--log-tz", "Mars/Olympus"], "unknown time zone"),
                         (["--port", "70000"], "out of range"),
                         (["--bug", "reload", "--reload-count", "0"], "--reload-count must be 1 or more"),
                         (["--reload-after", "5", "--reload-downtime", "-1"], "--reload-after needs --bug reload"),
                         # (the server started, and Engine.IO failed every handshake on them)
                         (["--ping-interval", "nan"], "--ping-interval must be a positive number of seconds up to "
                                                         "86400 (a day), not nan"),
                         (["--ping-timeout", "inf"], "--ping-timeout must be a positive number of seconds up to 86400 "
                                                     "(a day), not inf"),
                         # (the server started, and every connection was an HTTP 500: its ms overflowed)
                         (["--ping-interval", "1e308"], "--ping-interval must be a positive number of seconds up to"),
                         (["--agent-pace", "nan"], "--agent-pace must be a number, not negative: not nan"),
                         # (it listened on every interface, and said http://:PORT)
                         (["--host", ""], "--host is empty: give an address to listen on")):
        out = run(*args, "--data-dir", str(tmp_path))
        assert out.returncode == 2 and needle in out.stderr and "Traceback" not in out.stderr
        assert len(out.stderr.strip().splitlines()) == 1


def test_port_in_use_is_a_clean_error(tmp_path, run):
    with ServerProcess(data_dir=tmp_path / "a", log_dir=tmp_path / "la") as first:
        out = run("--port", str(first.port), "--data-dir", str(tmp_path / "b"))
        assert out.returncode == 2 and "cannot listen" in out.stderr and "Traceback" not in out.stderr


def test_prints_url_token_and_logs(tmp_path):
    with ServerProcess(data_dir=tmp_path / "d", log_dir=tmp_path / "l", token="tok") as proc:
        text = "".join(proc.output)
        assert text.startswith(f"listening on {proc.url}") and "token: tok" in text and str(tmp_path / "l") in text


def serve_cli(*args: str) -> subprocess.CompletedProcess:
    # (a subprocess: a server that starts anyway is stopped by the timeout instead of hanging the test)
    return subprocess.run([sys.executable, "-m", "jarvis_diag", "serve", "--port", "0", *args], capture_output=True,
                          text=True, timeout=20)


def test_a_data_or_log_dir_that_cannot_be_a_directory_is_named(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("")
    (tmp_path / "logs" / "app.log").mkdir(parents=True)
    (tmp_path / "db" / "jarvis.db").mkdir(parents=True)
    for args, needle in ((["--data-dir", str(afile)], f"--data-dir {afile}: exists and is not a directory"),
                         (["--data-dir", "/proc/nope"], "--data-dir /proc/nope: cannot create the directory: No such"),
                         (["--data-dir", str(tmp_path / "d"), "--log-dir", "/proc/x"],
                          "--log-dir /proc/x: cannot create the directory"),
                         (["--data-dir", str(tmp_path / "d"), "--log-dir", str(tmp_path / "logs")],
                          f"cannot open {tmp_path / 'logs' / 'app.log'}: Is a directory"),
                         (["--data-dir", str(tmp_path / "db")], f"cannot open the database {tmp_path / 'db' / 'jarvis.db'}")):
        out = serve_cli(*args)
        assert out.returncode == 2 and needle in out.stderr, out.stderr
        assert "cannot listen" not in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_a_log_dir_the_user_did_not_name_is_called_the_data_dirs(tmp_path):
    # its logs/ could not be made: the error named "--log-dir", an option the user never gave
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "logs").write_text("")
    out = serve_cli("--data-dir", str(tmp_path / "d"))
    assert out.returncode == 2, out.stderr
    assert out.stderr.strip() == (f"jarvis-diag: error: --data-dir's log directory {tmp_path / 'd' / 'logs'}: "
                                  "exists and is not a directory")


def test_a_negative_slow_start_and_an_agent_that_cannot_run_are_refused_at_start(tmp_path):
    for args, needle in ((["--slow-start", "-1"], "--slow-start -1: must be >= 0"),
                         (["--reload-downtime", "-2"], "--reload-downtime -2: must be >= 0"),
                         (["--agent", "/nonexistent/agent"], "--agent '/nonexistent/agent': /nonexistent/agent is not"),
                         (["--agent", "no-such-agent-command --flag"], "no-such-agent-command is not found on $PATH"),
                         (["--agent", str(tmp_path)], "is not an executable file"),
                         (["--agent", "claude 'unclosed"], "cannot be split into words")):
        out = serve_cli(*args, "--data-dir", str(tmp_path / "d"))
        assert out.returncode == 2 and needle in out.stderr, out.stderr
        assert "listening on" not in out.stdout and len(out.stderr.strip().splitlines()) == 1
    # a command on $PATH with its arguments is accepted
    with ServerProcess("--agent", f"{sys.executable} -m server.standin_agent", data_dir=tmp_path / "ok") as proc:
        assert "".join(proc.output).startswith("listening on")


def test_echo_prints_the_banner_first_and_the_start_up_lines_after_it(tmp_path):
    # with --echo the app's start-up lines came before `listening on URL`, the first line
    # whoever starts the server reads for its address
    import signal

    proc = subprocess.Popen([sys.executable, "-m", "jarvis_diag", "serve", "--port", "0", "--token", "t",
                             "--data-dir", str(tmp_path / "d"), "--echo"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        assert first.startswith("listening on http://127.0.0.1:"), first
        seen = []
        for _ in range(50):  # (bounded: the banner's lines and the start-up's)
            line = proc.stdout.readline()
            seen.append(line)
            if "Application started successfully" in line or not line:
                break
        assert any(" - jarvis - INFO - Application starting..." in line for line in seen), seen
        proc.send_signal(signal.SIGTERM)
        rest, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "Application shutting down..." in rest and rest.rstrip().endswith("stopped")


def test_signals_that_keep_coming_while_it_stops_do_not_change_its_exit(tmp_path):
    # SIGINT, SIGINT, SIGTERM within 40 ms (a script's cleanup and a user's Ctrl+C): the late
    # ones came after the event loop had let go of its handlers, and killed the process
    # (status -2 or -15) after it had printed "stopped" and written complete logs
    import os
    import signal
    import time

    with ServerProcess(data_dir=tmp_path / "d", log_dir=tmp_path / "logs") as proc:
        sent = 0
        for sig in [signal.SIGINT, signal.SIGINT, signal.SIGTERM] * 300:  # (bounded: up to 3 s of signals)
            if proc.proc.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, sig)
                sent += 1
            time.sleep(0.01)
        code = proc.proc.wait(10)
        proc._reader.join(2.0)
    assert sent > 3  # (it was still stopping when the later ones came)
    assert code == 0, "".join(proc.output)[-2000:]
    assert "".join(proc.output).rstrip().endswith("stopped")
    assert "INFO:     Finished server process" in (tmp_path / "logs" / "backend.log").read_text()


@pytest.mark.skipif(not Path("/proc/self/limits").exists(), reason="reads /proc/PID/limits")
def test_serve_raises_its_open_file_limit_for_a_socket_per_phone(tmp_path):
    # a soft limit of 128 (the usual is 1024): each socket is a file, and at the limit every
    # refused accept printed a traceback while the phones saw a correct server lose messages
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard <= 128:
        pytest.skip("the hard limit leaves no room to raise")
    proc = subprocess.Popen([sys.executable, "-m", "jarvis_diag", "serve", "--port", "0", "--data-dir",
                             str(tmp_path / "d"), "--log-dir", str(tmp_path / "l")], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (128, hard)))
    try:
        for _ in range(20):  # (the banner's lines, bounded)
            if proc.stdout.readline().startswith("listening on "):
                break
        limits = Path(f"/proc/{proc.pid}/limits").read_text()
    finally:
        proc.terminate()
        proc.communicate(timeout=20)
    [row] = [line for line in limits.splitlines() if line.startswith("Max open files")]
    soft = row.split()[3]
    assert soft == "unlimited" or int(soft) >= min(1 << 16, hard), row

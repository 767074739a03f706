"""Every command's --help shows an example, and a bad option is one line on stderr, not a traceback.

The commands are discovered from the typer app, so a new command is checked without editing
this file. They run as the installed console script, the way a user meets them.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

from jarvis_diag.cli import app

SCRIPT = Path(sys.executable).with_name("jarvis-diag")
BASE = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "jarvis_diag"]


def _command_paths(command, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """The root and every registered command below it (groups recursively), hidden ones left out."""
    paths = [path]
    for name, sub in getattr(command, "commands", {}).items():
        if not getattr(sub, "hidden", False):
            paths += _command_paths(sub, (*path, name))
    return paths


COMMANDS = _command_paths(typer.main.get_command(app))


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1"}
    return subprocess.run([*BASE, *args], capture_output=True, text=True, timeout=60, env=env)


def _flat(text: str) -> str:
    """Help text without the panel borders and line wrapping."""
    return re.sub(r"\s+", " ", re.sub(r"[│╭╮╰╯─]", " ", text))


def test_every_command_is_discovered():
    names = {p[0] for p in COMMANDS if p}
    assert {"timeline", "serve", "simulate-mobile", "report", "demo", "samples"} <= names
    root_help = _run("--help").stdout
    for name in names:
        assert name in root_help


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "jarvis-diag")
def test_help_has_an_example(path):
    out = _run(*path, "--help")
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    help_text = _flat(out.stdout)
    assert "Example" in help_text, out.stdout
    after = help_text.split("Example", 1)[1]
    assert " ".join(("jarvis-diag", *path)) in after, f"the example does not run {' '.join(path)}"


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "jarvis-diag")
def test_bad_option_is_one_line_and_no_traceback(path):
    out = _run(*path, "--no-such-option")
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("jarvis-diag: error:") and "--no-such-option" in lines[0]
    assert out.stdout == ""


@pytest.mark.parametrize(("args", "needle"), [
    (["report", "x.jsonl", "--format", "xml"], "'xml' is not one of"),
    (["report", "x.jsonl", "--resamples", "5"], "--resamples"),
    (["simulate-mobile", "http://127.0.0.1:9", "--clients", "many"], "--clients"),
    (["no-such-command"], "no-such-command"),
])
def test_bad_values_and_commands_are_one_line(args, needle):
    out = _run(*args)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], out.stderr


def test_exit_codes_pass_through():
    """Help exits 0; no arguments show the help and exit 2, as before."""
    assert _run("report", "--help").returncode == 0
    out = _run()
    assert out.returncode == 2 and "Usage" in out.stdout and out.stderr == ""


FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize("base", [BASE, [sys.executable, "-m", "jarvis_diag"]], ids=["script", "module"])
def test_output_is_whole_when_the_process_leaves_early(base, tmp_path):
    """The command ends its process without tearing the interpreter down (cli.run): what
    it wrote to a pipe must all be there, the same bytes as the file it writes."""
    out_file = tmp_path / "t.json"
    args = ["timeline", str(FIXTURES / "callback-desync"), "--format", "json"]
    assert subprocess.run([*base, *args, "--output", str(out_file)], timeout=120).returncode == 0
    piped = subprocess.run([*base, *args], capture_output=True, timeout=120)
    assert piped.returncode == 0 and piped.stderr == b""
    assert len(piped.stdout) > 10_000 and piped.stdout == out_file.read_bytes()
    text = subprocess.run([*base, "timeline", str(FIXTURES / "callback-desync")], capture_output=True, timeout=120)
    assert text.returncode == 0 and b"callback-desync" in text.stdout


def test_an_error_keeps_its_exit_code_when_the_process_leaves_early(tmp_path):
    out = _run("timeline", str(tmp_path / "missing.log"))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.startswith("jarvis-diag: error:") and len(out.stderr.strip().splitlines()) == 1


def test_version():
    from importlib.metadata import version

    result = _run("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"jarvis-diag {version('jarvis-diag')}"


def test_a_ctrl_c_while_the_command_loads_is_a_clean_stop():
    # the installed command (or python -m) interrupted at any moment of its start: no traceback
    # from the moment the command's own code runs (__main__.main). An interrupt that lands
    # before it - the interpreter still starting, or runpy importing the package, which a
    # busy machine can stretch past 50 ms - is reported by Python itself, before any code of
    # ours can catch it; its traceback goes through none of the command's files.
    import signal
    import time

    ours = re.compile(r'File "[^"]*jarvis_diag/(__main__|cli)\.py"|File "[^"]*jarvis_diag/commands/')
    for delay in (0.05, 0.1, 0.2, 0.3, 0.5):
        proc = subprocess.Popen([sys.executable, "-m", "jarvis_diag", "timeline", "tests/fixtures/callback-desync"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        if "Traceback" in err and not ours.search(err):
            continue  # (the interpreter's own start-up: see above)
        assert "Traceback" not in err, (delay, err)
        assert proc.returncode in (0, 130, -signal.SIGINT), (delay, proc.returncode, err)


def test_a_ctrl_c_while_a_command_runs_says_it_was_interrupted():
    # typer turns a Ctrl-C inside a command into a bare exit 130: the user saw the command end
    # without a word
    import signal
    import time

    proc = subprocess.Popen([sys.executable, "-m", "jarvis_diag", "timeline", "-"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        proc.stdin.write("[2026-01-30T01:29:39.290Z] [DEBUG] [ConnMgr] Page hidden\n")
        proc.stdin.flush()
        syscall = f"/proc/{proc.pid}/syscall"
        read = {"x86_64": 0, "aarch64": 63}.get(platform.machine())
        if read is None:
            pytest.skip("the number of read(2) on this machine is not known here")
        for _ in range(600):  # until the command waits on its standard input (read(0, ...))
            with open(syscall) as fh:
                if fh.read().startswith(f"{read} 0x0 "):
                    break
            time.sleep(0.05)
        else:
            raise AssertionError("the command never read its standard input")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert err == "jarvis-diag: interrupted\n"

"""`jarvis-diag timeline` from the command line: formats, output file, filters, bad input
and --follow on a growing file."""

from __future__ import annotations

import io
import json
import os
import select
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest
from logbuilder import LogSet, uuid_of
from typer.testing import CliRunner

from jarvis_diag.cli import app
from jarvis_diag.events import COLUMNS

FIXTURES = Path(__file__).parent / "fixtures"
DESYNC = str(FIXTURES / "callback-desync")
runner = CliRunner()


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "jarvis_diag", *args], capture_output=True, text=True, timeout=60)


def test_help_has_an_example():
    result = runner.invoke(app, ["timeline", "--help"])
    assert result.exit_code == 0 and "Example (in the Jarvis backend's folder" in result.output
    assert "jarvis-diag timeline logs/app.log logs/frontend/" in result.output


def test_default_view_prints_clock_and_findings():
    result = runner.invoke(app, ["timeline", DESYNC])
    assert result.exit_code == 0, result.output
    assert "Clock corrections" in result.output and "callback-desync" in result.output


def test_json_to_stdout_and_to_a_file(tmp_path):
    result = runner.invoke(app, ["timeline", DESYNC, "--format", "json"])
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["schema"] == "jarvis-diag.timeline/1"
    assert data["clock"]["backend_utc_offset_minutes"] == 60
    out = tmp_path / "t.json"
    result = runner.invoke(app, ["timeline", DESYNC, "-f", "json", "--output", str(out)])
    assert result.exit_code == 0 and result.output == ""
    assert json.loads(out.read_text()) == data


def test_csv_parquet_jsonl_hold_the_events(tmp_path):
    result = runner.invoke(app, ["timeline", DESYNC, "-f", "csv"])
    assert result.exit_code == 0
    header = result.output.splitlines()[0].split(",")
    assert header == list(COLUMNS)
    n_csv = len(pd.read_csv(io.StringIO(result.output)))
    parquet = tmp_path / "events.parquet"
    assert runner.invoke(app, ["timeline", DESYNC, "-f", "parquet", "-o", str(parquet)]).exit_code == 0
    frame = pd.read_parquet(parquet)
    assert len(frame) == n_csv and list(frame.columns) == list(COLUMNS)
    # the events' own types, as documented: categories stay categories
    assert {c: str(t) for c, t in frame.dtypes.items()} == {c: str(t) for c, t in COLUMNS.items()}
    result = runner.invoke(app, ["timeline", DESYNC, "-f", "jsonl"])
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert len(rows) == n_csv and rows[0]["kind"]


def test_a_panel_copy_alone_takes_its_date_and_zone_from_the_command_line(tmp_path):
    # the panel writes the browser's local time of day, no date: the user says which day and zone
    panel = tmp_path / "panel.txt"
    panel.write_text("[09:31:02.100] [ConnMgr] Page hidden\n[09:31:40.512] [ConnMgr] Page visible\n")
    alone = runner.invoke(app, ["timeline", str(panel), "-f", "csv"])
    assert "give its date with --panel-date YYYY-MM-DD" in alone.output
    result = runner.invoke(app, ["timeline", str(panel), "-f", "csv", "--panel-date", "2026-11-24",
                                 "--panel-tz", "Europe/Berlin"])
    assert result.exit_code == 0, result.output
    back = pd.read_csv(io.StringIO(result.output))
    assert back["t"].tolist() == ["2026-11-24T08:31:02.100000Z", "2026-11-24T08:31:40.512000Z"]
    assert back["kind"].tolist() == ["page.hidden", "page.visible"]
    for option, value, said in (("--panel-date", "24.11.2026", "--panel-date 24.11.2026: not a date (YYYY-MM-DD)"),
                                ("--panel-tz", "Mars/Base", "--panel-tz: unknown time zone 'Mars/Base'")):
        bad = subprocess.run([sys.executable, "-m", "jarvis_diag", "timeline", str(panel), option, value],
                             capture_output=True, text=True, timeout=60)
        assert bad.returncode == 2 and bad.stderr.startswith(f"jarvis-diag: error: {said}")


def test_parquet_goes_to_stdout_when_it_is_redirected(tmp_path):
    # `-f parquet -o - > events.parquet` (or `| duckdb`): the bytes, as to a file
    out = tmp_path / "events.parquet"
    with out.open("wb") as fh:
        result = subprocess.run([sys.executable, "-m", "jarvis_diag", "timeline", DESYNC, "-f", "parquet", "-o", "-"],
                                stdout=fh, stderr=subprocess.PIPE, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    frame = pd.read_parquet(out)
    assert list(frame.columns) == list(COLUMNS) and len(frame) == len(pd.read_csv(io.StringIO(
        runner.invoke(app, ["timeline", DESYNC, "-f", "csv"]).output)))
    # on a terminal, binary output is refused
    import pty

    main, terminal = pty.openpty()
    try:
        result = subprocess.run([sys.executable, "-m", "jarvis_diag", "timeline", DESYNC, "-f", "parquet"],
                                stdout=terminal, stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(terminal)
        os.close(main)
    assert result.returncode == 2
    assert result.stderr.endswith("--format parquet writes a binary file: give --output FILE, or pipe it\n")


def test_a_carriage_return_inside_a_line_stays_in_its_csv_field(tmp_path):
    # a message with a CR in it (pasted from Windows): one row, its text whole, as read back
    line = ("2026-11-24 11:03:39,000 - jarvis - INFO - [SocketIO] Chat message received: sid=LU4XadoC, "
            "session=977bcd1b, content=a\rb...")
    log = tmp_path / "app.log"
    log.write_bytes(f"{line}\n".encode())
    out = tmp_path / "events.csv"
    result = runner.invoke(app, ["timeline", str(log), "--tz", "+01:00", "-f", "csv", "-o", str(out)])
    assert result.exit_code == 0, result.output
    back = pd.read_csv(out)
    assert len(back) == 1 and back["text"][0] == line


def test_filters_narrow_the_json():
    result = runner.invoke(app, ["timeline", DESYNC, "-f", "json", "--session", "453424df",
                                 "--since", "2026-11-24T10:05:10Z", "--until", "2026-11-24T10:06:00Z"])
    data = json.loads(result.output)
    kinds = [f["kind"] for f in data["findings"]]
    assert kinds.count("callback-desync") == 1
    assert all(f["session"].startswith("453424df") for f in data["findings"] if f["session"])


@pytest.mark.parametrize(("option", "value", "named"), [
    ("--session", "453424dx", "sessions: 453424df, 9342a748, aa50ecc2)"),
    ("--client", "nobody", "clients: Mozilla50iPhoneCPUiP-mwuj2r4i-8t1u"),
    # a mistyped UUID whose first 8 characters are a session's kept the lines that print only
    # those 8 and no attach or finding: 'No findings in the selection'
    ("--session", "453424df-x", "sessions: 453424df, 9342a748, aa50ecc2)"),
    ("--session", "453424df-5bfd-446d-b919-74b5a950f76e", "sessions: 453424df, 9342a748, aa50ecc2)"),
])
def test_a_session_or_client_the_logs_lack_is_an_error(option, value, named):
    # a typo must not read as "no findings": the error names what the logs have
    result = _run("timeline", DESYNC, "-f", "json", option, value)
    assert result.returncode == 2 and result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert f"{option} {value}: no " in line and named in line


@pytest.mark.parametrize(("args", "message"), [
    (["--since", "10:05:20", "--until", "10:05:00"], "--until 10:05:00: before since 10:05:20"),
    (["--since", "yesterday-ish"], "--since yesterday-ish: not a time"),
    (["--client", "nobody", "--since", "10:05:00"], "--client nobody: no client in these logs matches it"),
    # pandas alone read these as times of year 1 (so every event was kept) or as the machine's now
    (["--since", "5m"], "--since 5m: not a time"),
    (["--until", "10am"], "--until 10am: not a time"),
    (["--since", "now"], "--since now: not a time"),
    (["--since", "11-24"], "--since 11-24: not a time"),
    # (the time of day as given, not with the logs' date put before it)
    (["--since", "25:00"], "--since 25:00: not a time"),
])
def test_a_window_or_name_that_cannot_be_is_an_error(args, message):
    result = _run("timeline", DESYNC, "-f", "json", *args)
    assert result.returncode == 2 and result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert message in line


def test_a_page_log_of_another_day_than_the_server_log_is_said():
    # the page's findings came with no word that the server's log (12-06) was not the page's
    # day (11-24), and the files table showed times of day alone, alike
    server = Path(__file__).parent.parent / "sample_logs" / "healthy-day" / "app.log"
    page = FIXTURES / "callback-desync" / "frontend"
    result = _run("timeline", str(server), str(page), "-f", "json")
    assert result.returncode == 0, result.stderr
    [warning] = json.loads(result.stdout)["warnings"]
    assert warning.startswith("a page log runs outside the server log's time (2026-12-06T15:03:42.063Z to "
                              "2026-12-06T15:03:50.757Z): ")
    assert "20261124_Mozilla50iPhoneCPUiP-mwuj2r4i-8t1u.log (2026-11-24T10:04:31.314Z to " in warning
    assert warning.endswith("what the server did for that page is not in the logs given (another day's log?)")
    assert result.stderr.strip() == f"warning: {warning}"
    env = {**os.environ, "COLUMNS": "200"}
    text = subprocess.run([sys.executable, "-m", "jarvis_diag", "timeline", str(server), str(page)],
                          capture_output=True, text=True, timeout=60, env=env).stdout
    [row] = [line for line in text.splitlines() if "│ frontend │" in line]
    assert "│ 2026-11-24 10:04:31.314 │ 2026-11-24 10:05:32.363" in row
    # (logs of one day: their times of day alone, and nothing to say)
    same = _run("timeline", DESYNC, "-f", "json")
    assert json.loads(same.stdout)["warnings"] == [] and same.stderr == ""


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (a device that is always full)")
@pytest.mark.parametrize("fmt", ["parquet", "csv", "json", "text"])
def test_an_output_that_cannot_be_written_says_why_in_one_line(fmt):
    # parquet said "cannot write (Error writing bytes to file. Detail: [errno 28] No space left on device)"
    result = _run("timeline", DESYNC, "-f", fmt, "-o", "/dev/full")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == "jarvis-diag: error: /dev/full: cannot write (No space left on device)\n"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (a device that is always full)")
@pytest.mark.parametrize("command", [["timeline", DESYNC], ["report", DESYNC, "-f", "md"], ["samples", "--list"]])
def test_a_stdout_that_cannot_be_written_says_why_in_one_line(command):
    # `> /dev/full`: a traceback of report's and samples' own writes, before
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, "-m", "jarvis_diag", *command], stdout=full, stderr=subprocess.PIPE,
                                text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr == "jarvis-diag: error: No space left on device\n"


@pytest.mark.parametrize(("tz", "message"), [
    ("Europe", "--tz: unknown time zone 'Europe' (use an IANA name"),  # (a traceback: IsADirectoryError)
    ("America/Argentina", "--tz: unknown time zone 'America/Argentina'"),
    ("Europe/Berln", "--tz: unknown time zone 'Europe/Berln'"),
    ("+25:00", "--tz: time zone offset out of range: '+25:00'"),
])
def test_a_tz_that_names_no_zone_is_a_one_line_error(tz, message):
    result = _run("timeline", DESYNC, "--tz", tz)
    assert result.returncode == 2 and result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert message in line


@pytest.mark.parametrize(("logs", "option", "value", "one", "warning"), [
    ("healthy-day", "--client", "mxbz1p", "mxbz1psb", "client mxbz1p matches 3 clients (Mozilla50iPhoneCPUiP-mxbz1psb-3zac, "
     "Mozilla50iPhoneCPUiP-mxbz1pw5-kulu, Mozilla50iPhoneCPUiP-mxbz1pzw-m37a): all are kept; give more of it for one"),
    ("single-live-session", "--session", "new-17", "3678d2dc",
     "session new-17 matches 2 sessions (3678d2dc, 9699efde): all are kept; give more of it for one"),
])
def test_a_prefix_that_matches_several_says_so(logs, option, value, one, warning):
    # they were all kept with no word: the view read as the one client or session asked for
    logs = str(Path(__file__).parent.parent / "sample_logs" / logs)
    result = _run("timeline", logs, "-f", "json", option, value)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["warnings"] == [warning]
    assert result.stderr.strip() == f"warning: {warning}"
    alone = _run("timeline", logs, "-f", "json", option, one)
    assert alone.returncode == 0 and json.loads(alone.stdout)["warnings"] == [], alone.stderr


@pytest.mark.parametrize("logs", [DESYNC, f"{DESYNC}/app.log", f"{DESYNC}/frontend"])
def test_a_whole_uuid_selects_its_session_where_only_its_prefix_is_logged_too(logs):
    whole = _run("timeline", logs, "-f", "json", "--session", "453424df-5bfd-446d-b919-74b5a950f76f")
    short = _run("timeline", logs, "-f", "json", "--session", "453424df")
    assert whole.returncode == short.returncode == 0, whole.stderr
    assert json.loads(whole.stdout)["sessions"] == json.loads(short.stdout)["sessions"] != []


def test_a_time_of_day_is_on_the_logs_day_and_a_client_as_the_views_show_it():
    result = _run("timeline", DESYNC, "-f", "json", "--since", "10:05:20", "--client", "mwuj2r4i-8t1u")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [f["kind"] for f in data["findings"]].count("callback-desync") == 1
    assert data["warnings"] == []


@pytest.mark.parametrize("since", ["10:05:20Z", "11:05:20+01:00", "11:05:20+0100", "2026-11-24T11:05:20+01:00",
                                   "2026-11-24 10:05:20", "20261124T100520Z"])
def test_a_time_of_day_with_its_zone_is_on_the_logs_day_too(since):
    # '10:05:20Z' and '11:05:20+01:00' were taken as today's date, leaving an empty window
    result = _run("timeline", DESYNC, "-f", "json", "--since", since)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    data = json.loads(result.stdout)
    assert [f["kind"] for f in data["findings"]].count("callback-desync") == 1 and data["warnings"] == []


def test_an_empty_time_window_says_so_and_where_the_logs_are():
    result = _run("timeline", DESYNC, "-f", "json", "--since", "2026-11-25T00:00:00Z")
    assert result.returncode == 0
    data = json.loads(result.stdout)
    assert data["findings"] == [] and data["sessions"] == []
    [warning] = data["warnings"]
    assert warning == ("no events in the selection (since 2026-11-25T00:00:00Z); these logs run from "
                       "2026-11-24T10:04:29.391Z to 2026-11-24T10:05:33.250Z")
    assert result.stderr.strip() == f"warning: {warning}"
    text = _run("timeline", DESYNC, "--session", "453424df", "--since", "2026-11-25T00:00:00Z").stdout
    assert "No findings in the selection (session 453424df, since 2026-11-25T00:00:00Z)." in text
    assert "nothing went wrong" not in text


def test_a_file_that_is_no_jarvis_log_is_not_an_all_clear(tmp_path):
    other = tmp_path / "dpkg.log"
    other.write_text("2026-11-24 10:00:00 startup archives unpack\n"
                     "2026-11-24 10:00:01 install libfoo:amd64 <none> 1.2-3\n")
    (tmp_path / "empty.log").write_text("")
    result = _run("timeline", str(tmp_path))
    # what was read and why is shown; the exit code says that nothing was checked (a script's
    # or CI's check of another program's log, or an empty one, is no all-clear)
    assert result.returncode == 2
    assert result.stderr == ("jarvis-diag: error: no line of these logs is one the Jarvis backend or frontend writes: "
                             "nothing could be checked (timeline --format-of PATH=KIND forces a format)\n")
    assert (f"{other}: none of its 2 lines is one the Jarvis backend or frontend writes"
            in " ".join(result.stdout.split()))
    assert f"{tmp_path / 'empty.log'}: empty" in result.stdout
    assert "no line of these logs was recognised: nothing could be checked" in result.stdout
    assert "nothing went wrong" not in result.stdout
    as_json = _run("timeline", str(other), "-f", "json")
    data = json.loads(as_json.stdout)
    assert [w.split(":")[0] for w in data["warnings"]] == [str(other)] and as_json.returncode == 2
    empty = subprocess.run([sys.executable, "-m", "jarvis_diag", "timeline", "-"], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=60)
    assert empty.returncode == 2 and "nothing could be checked" in empty.stderr


def test_no_skew_and_tz_options():
    data = json.loads(runner.invoke(app, ["timeline", DESYNC, "-f", "json", "--no-skew"]).output)
    [client] = data["clock"]["clients"].values()
    assert client["applied"] is False and client["skew_ms"] == pytest.approx(350, abs=2)


def test_kinds_lists_the_vocabulary():
    result = runner.invoke(app, ["timeline", "--kinds"])
    assert result.exit_code == 0 and "callback.missing" in result.output and "chat.ready.received" in result.output


@pytest.mark.parametrize(("args", "needle"), [
    (["timeline", "/no/such/file.log"], "no such file"),
    (["timeline", DESYNC, "--format", "xml"], "--format xml"),
    (["timeline", DESYNC, "--since", "yesterday-ish"], "--since"),
    (["timeline", DESYNC, "--format-of", "nokind"], "--format-of"),
    (["timeline"], "give log files"),
    (["timeline", DESYNC, "-f", "parquet", "-o", "/no/such/dir/x.parquet"], "no directory /no/such/dir"),
    (["timeline", DESYNC, "-f", "json", "-o", "/tmp"], "is a directory"),
    (["timeline", DESYNC, "--format-of", "app.log=backend"], "--format-of app.log: not one of the files read"),
    (["timeline", DESYNC, "--follow", "-f", "json", "--since", "10:05"], "it takes no --format or --since"),
    (["timeline", DESYNC, "--session", ""], "--session: empty"),
])
def test_bad_input_is_one_line_and_exit_2(args, needle):
    result = _run(*args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in result.stderr


def _desync_set(folder: Path, **logset: object) -> tuple[list[Path], int]:
    """A phone switching back to a chat without chat:connect, 10 s before its next message
    auto-connects it: the written (app.log, frontend log) and how many backend lines come
    before that message."""
    logs = LogSet(**logset)
    c = logs.client(skew_ms=350.0)
    sid = "QEy5HbszAAAB"
    a, b = uuid_of(1), uuid_of(2)
    logs.connect(c, sid)
    logs.attach(c, sid, a, existing=True)
    logs.wait(2)
    logs.attach(c, sid, b, existing=True, prev=a)
    logs.wait(2)
    logs.switch_back_without_connect(c, a)
    logs.wait(10)
    first = len(logs.backend)
    logs.message(c, sid, a, missing_callback_prev=b, history=2)
    return logs.write(folder), first


@contextmanager
def _following(*paths: Path, columns: int = 200) -> Iterator[subprocess.Popen]:
    """``timeline --follow`` on these paths, stopped with Ctrl-C at the end (exit 0)."""
    proc = subprocess.Popen([sys.executable, "-m", "jarvis_diag", "timeline", "--follow", *map(str, paths)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "COLUMNS": str(columns)})
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    assert proc.returncode == 0, proc.stderr.read()


def test_follow_prints_new_events_and_findings(tmp_path):
    paths, first = _desync_set(tmp_path / "full", zone="Europe/Berlin")
    # start with everything up to the desync, append the rest while following
    app_log = tmp_path / "app.log"
    full_lines = paths[0].read_text().splitlines(keepends=True)
    app_log.write_text("".join(full_lines[:first]))
    fe_dir = tmp_path / "frontend"
    fe_dir.mkdir()
    # the page's log too, up to its message (its next lines alone would tell the desync)
    fe_lines = paths[1].read_text().splitlines(keepends=True)
    cut = max(i for i, line in enumerate(fe_lines) if "send EMIT: chat:message" in line)
    page = fe_dir / paths[1].name
    page.write_text("".join(fe_lines[:cut]))
    with _following(app_log, fe_dir) as proc:
        out = _read_until(proc, "following", 20)
        assert "callback-desync" not in out
        with app_log.open("a") as fh:
            fh.write("".join(full_lines[first:]))
        with page.open("a") as fh:
            fh.write("".join(fe_lines[cut:]))
        out += _read_until(proc, "callback-desync", 20)
        assert "callback.missing" in out  # the new line, printed as an event
        assert "CRITICAL callback-desync" in out or "WARNING  callback-desync" in out


def test_follow_waits_for_logs_not_written_yet(tmp_path):
    # started before any phone connected: the app log is empty and the frontend directory
    # has no file yet (the server makes one per phone). Before, this was an error.
    paths, _ = _desync_set(tmp_path / "full")
    app_log = tmp_path / "app.log"
    app_log.write_text("")
    fe_dir = tmp_path / "frontend"
    fe_dir.mkdir()
    with _following(app_log, fe_dir) as proc:
        out = _read_until(proc, "following", 20)
        assert "waiting for log files" not in out  # (the app log is there, empty)
        (fe_dir / paths[1].name).write_text(paths[1].read_text())
        app_log.write_text(paths[0].read_text())
        out += _read_until(proc, "callback-desync", 30)
        assert "chat.ready.received" in out and "callback.missing" in out


def test_follow_prints_a_finding_again_when_more_logs_change_it(tmp_path):
    # the server's log first: the desync is told without the phone's side; the phone's log
    # then names the switch back and the wait
    paths, _ = _desync_set(tmp_path / "full")
    fe_dir = tmp_path / "frontend"
    fe_dir.mkdir()
    with _following(paths[0], fe_dir, columns=400) as proc:
        out = _read_until(proc, "following", 20)
        [first] = [line for line in out.splitlines() if "callback-desync" in line]
        assert "switched back" not in first
        (fe_dir / paths[1].name).write_text(paths[1].read_text())
        revised = _read_until(proc, "callback-desync (+", 30).splitlines()[-1]
        assert "(revised: more of the logs came in)" in revised and "switched back to it at" in revised


def test_follow_waits_for_a_file_not_written_yet_as_tail_does(tmp_path):
    # started before the server: its log file is not there yet, its directory is
    paths, _ = _desync_set(tmp_path / "full")
    app_log = tmp_path / "logs" / "app.log"
    app_log.parent.mkdir()
    with _following(app_log) as proc:
        out = _read_until(proc, "following", 20)
        assert f"following 0 file(s) (waiting for {app_log} to appear)" in out
        app_log.write_text(paths[0].read_text())
        out += _read_until(proc, "callback-desync", 30)
        assert "callback.missing" in out
    # a directory that is not there either is a mistyped path
    result = subprocess.run([sys.executable, "-m", "jarvis_diag", "timeline", "--follow", str(tmp_path / "nope" / "a.log")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stderr.strip().endswith("a.log: no such file or directory")


def test_follow_reads_on_through_a_rotation(tmp_path):
    # the server's log handler renames app.log to app.log.1 and starts a new app.log; the
    # directory is followed, so app.log.1 shows up as a new name of a file already read
    paths, first = _desync_set(tmp_path / "full")
    lines = paths[0].read_text().splitlines(keepends=True)
    logs = tmp_path / "logs"
    (logs / "frontend").mkdir(parents=True)
    (logs / "frontend" / paths[1].name).write_text(paths[1].read_text())
    app_log = logs / "app.log"
    app_log.write_text("".join(lines[:first]))
    with _following(logs) as proc:
        out = _read_until(proc, "following", 20)
        with app_log.open("a") as fh:  # written just before the rotation, not read yet
            fh.write("".join(lines[first:first + 2]))
        app_log.rename(logs / "app.log.1")
        app_log.write_text("".join(lines[first + 2:]))
        out += _read_until(proc, lines[first + 1].rstrip("\n"), 20)  # (read before it was renamed)
        if lines[-1].rstrip("\n") not in out:
            out += _read_until(proc, lines[-1].rstrip("\n"), 20)  # (the new app.log)
    for line in lines[first:]:  # every line written while following: printed once
        assert out.count(line.rstrip("\n")) == 1, line
    assert lines[0].rstrip("\n") not in out  # read before following: not printed again


def test_follow_of_only_an_empty_directory_says_it_waits(tmp_path):
    with _following(tmp_path) as proc:
        assert "following 0 file(s) (waiting for log files to appear)" in _read_until(proc, "following", 20)


# What _read_until read from a child's stdout past the line it returned at, by pid.
_UNREAD: dict[int, bytes] = {}


def _read_until(proc: subprocess.Popen, needle: str, timeout_s: float) -> str:
    """Lines of the child's stdout until one holds ``needle`` (bounded by ``timeout_s``).
    Read from the pipe itself: a buffered reader can hold the awaited line while the pipe
    it waits on stays empty."""
    fd = proc.stdout.fileno()
    buf = _UNREAD.pop(proc.pid, b"")
    out = ""
    deadline = time.monotonic() + timeout_s
    while True:
        while b"\n" in buf:
            raw, buf = buf.split(b"\n", 1)
            line = raw.decode("utf-8", errors="replace") + "\n"
            out += line
            if needle in line:
                _UNREAD[proc.pid] = buf
                return out
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            break
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            break
        buf += chunk
    raise AssertionError(f"{needle!r} not seen within {timeout_s} s; got:\n{out}")


SAMPLE_SETS = sorted(p for p in (Path(__file__).parent.parent / "sample_logs").iterdir() if p.is_dir())


@pytest.mark.parametrize("logs", [FIXTURES / "callback-desync", *SAMPLE_SETS], ids=lambda p: p.name)
def test_json_output_is_the_documented_document_byte_for_byte(logs: Path, tmp_path: Path):
    # the CLI writes with a fast encoder; it must give exactly what json.dumps gives for the
    # library's document (numbers from numpy included), as compact UTF-8 with one newline
    from jarvis_diag.timeline import load_timeline

    out = tmp_path / "t.json"
    result = runner.invoke(app, ["timeline", str(logs), "--format", "json", "--output", str(out)])
    assert result.exit_code == 0, result.output
    expected = json.dumps(load_timeline([logs]).to_json_dict(), ensure_ascii=False, separators=(",", ":")) + "\n"
    assert out.read_bytes() == expected.encode("utf-8")


@pytest.mark.parametrize(("columns", "widest"), [(None, 160), ("100", 100)])
def test_the_piped_view_is_a_wide_page_unless_columns_says_otherwise(columns, widest):
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"} | ({"COLUMNS": columns} if columns else {})
    out = subprocess.run([sys.executable, "-m", "jarvis_diag", "timeline", DESYNC], capture_output=True, text=True,
                         timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    assert max(len(line) for line in out.stdout.splitlines()) == widest


def test_a_pages_log_from_stdin_or_renamed_is_still_one_page(tmp_path):
    # the page is named by its file (YYYYMMDD_<clientId>.log); piped or renamed, its lines
    # must still make one page, not a silent "nothing went wrong"
    [page] = (FIXTURES / "callback-desync" / "frontend").glob("*.log")
    renamed = tmp_path / "phone.log"
    renamed.write_bytes(page.read_bytes())
    piped = subprocess.run([sys.executable, "-m", "jarvis_diag", "timeline", "-", "-f", "json"],
                           input=page.read_bytes(), capture_output=True, timeout=60)
    for result, name in ((piped, "stdin"), (_run("timeline", str(renamed), "-f", "json"), "phone")):
        assert result.returncode == 0, result.stderr
        data = json.loads(result.stdout)
        desyncs = [f for f in data["findings"] if f["kind"] == "callback-desync"]
        assert [f["severity"] for f in desyncs] == ["critical", "critical"]
        assert all(f["client"] == name for f in desyncs)
        [warning] = data["warnings"]
        assert "does not give its clientId" in warning and f"named '{name}'" in warning


def test_a_reader_that_stops_early_ends_it_quietly():
    # `timeline ... -f json | head -c 100`, with more output than a pipe holds: as for the other
    # formats, no error and exit 0
    proc = subprocess.Popen([sys.executable, "-m", "jarvis_diag", "timeline", "sample_logs", "-f", "json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.read(100).startswith(b"{")
    proc.stdout.close()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and b"Traceback" not in err and b"error" not in err


def test_an_output_that_is_one_of_the_logs_is_refused(tmp_path):
    log = tmp_path / "app.log"
    log.write_bytes((FIXTURES / "callback-desync" / "app.log").read_bytes())
    result = _run("timeline", str(tmp_path), "-f", "json", "-o", str(log))
    assert result.returncode == 2 and f"is one of the logs given ({tmp_path}); writing it would destroy it" in result.stderr
    assert log.read_bytes() == (FIXTURES / "callback-desync" / "app.log").read_bytes()
    # and a run's results in a folder given (the timeline does not read them, but the user gave them)
    results = tmp_path / "results.jsonl"
    results.write_text("{}\n")
    result = _run("timeline", str(tmp_path), "-f", "json", "-o", str(results))
    assert result.returncode == 2 and "writing it would destroy it" in result.stderr and results.read_text() == "{}\n"


def test_output_dash_is_standard_output(tmp_path):
    # `-o -` wrote a file named '-' in the current directory, and printed nothing
    result = subprocess.run([sys.executable, "-m", "jarvis_diag", "timeline", str(FIXTURES / "normal"), "-f", "json",
                             "-o", "-"], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["sources"] and not (tmp_path / "-").exists()


@pytest.mark.parametrize("unreadable", ["logs", "logs/frontend"])
def test_a_directory_that_cannot_be_read_is_not_called_empty(tmp_path, unreadable):
    # the folder given, or a folder in it (the page logs: a timeline of the server's log
    # alone would name other findings, and not say that the pages' side was missing)
    logs = tmp_path / "logs"
    (logs / "frontend").mkdir(parents=True)
    (logs / "app.log").write_bytes((FIXTURES / "callback-desync" / "app.log").read_bytes())
    for page_log in (FIXTURES / "callback-desync" / "frontend").glob("*.log"):
        (logs / "frontend" / page_log.name).write_bytes(page_log.read_bytes())
    locked = tmp_path / unreadable
    locked.chmod(0)
    command = [sys.executable, "-m", "jarvis_diag", "timeline", str(logs)]
    if os.geteuid() == 0:  # (root reads it all the same: run without that privilege)
        if not shutil.which("setpriv"):
            pytest.skip("needs setpriv to drop root's read-anything privilege")
        command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search",
                   "--inh-caps=-dac_override,-dac_read_search", *command]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    finally:
        locked.chmod(0o755)
    assert result.returncode == 2
    assert result.stderr.strip() == f"jarvis-diag: error: {locked}: cannot read (Permission denied)"


@pytest.mark.parametrize("where", ["input", "output"])
def test_a_path_the_file_system_refuses_is_one_line(tmp_path, where):
    # a name longer than a file name can be: the system's words, with the path, no traceback
    too_long = str(tmp_path / ("x" * 300))
    real = str(FIXTURES / "callback-desync")
    args = [too_long] if where == "input" else [real, "-f", "json", "-o", f"{too_long}.json"]
    result = subprocess.run([sys.executable, "-m", "jarvis_diag", "timeline", *args], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2
    assert result.stderr.endswith("x: File name too long\n" if where == "input" else "x.json: File name too long\n")
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"jarvis-diag: error: {too_long}")


def _app_log_so_far(tmp_path: Path) -> tuple[list[str], int, Path]:
    """(the desync set's app.log lines, how many come before its message, an app.log of
    those lines alone, to follow)."""
    paths, first = _desync_set(tmp_path / "full")
    lines = paths[0].read_text().splitlines(keepends=True)
    app_log = tmp_path / "app.log"
    app_log.write_text("".join(lines[:first]))
    return lines, first, app_log


def test_follow_of_one_file_reads_what_was_written_just_before_its_rotation(tmp_path):
    # app.log alone is followed (not its directory): the lines written to it just before it
    # was renamed must still be printed, then the new app.log's, as tail -F does
    lines, first, app_log = _app_log_so_far(tmp_path)
    with _following(app_log) as proc:
        out = _read_until(proc, "following", 20)
        with app_log.open("a") as fh:
            fh.write("".join(lines[first:first + 3]))
        app_log.rename(tmp_path / "app.log.1")
        time.sleep(0.6)  # (more than a poll: the name is gone a while, as between a rename and a reopen)
        app_log.write_text("".join(lines[first + 3:]))
        out += _read_until(proc, lines[-1].rstrip("\n"), 20)
    for line in lines[first:]:
        assert out.count(line.rstrip("\n")) == 1, line


def test_follow_says_when_a_file_is_cut_short_and_reads_it_again(tmp_path):
    # copytruncate: the log is copied away and emptied in place, then written on
    lines, first, app_log = _app_log_so_far(tmp_path)
    with _following(app_log) as proc:
        _read_until(proc, "following", 20)
        app_log.write_text("".join(lines[first:first + 2]))  # (shorter than what was read)
        out = _read_until(proc, lines[first + 1].rstrip("\n"), 20)
        time.sleep(1.5)  # (the timeline is read again)
        with app_log.open("a") as fh:
            fh.write("".join(lines[first + 2:]))
        out += _read_until(proc, lines[-1].rstrip("\n"), 20)
    assert f"{app_log} was cut short (a copytruncate rotation?): read again from its start" in out
    assert out.count(lines[first].rstrip("\n")) == 1
    # the lines left hold no epoch: the server's zone (Asia/Shanghai, UTC+8) is the one the
    # logs gave before, not this machine's (their times were 8 hours off, and so were findings)
    for line in lines[first:]:
        [shown] = [s for s in out.splitlines() if s.endswith(line.rstrip("\n"))]
        local = pd.Timestamp(line[:23].replace(",", "."))
        assert shown.split()[0] == (local - pd.Timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z", shown
    assert "time zone unknown" not in out


@pytest.mark.parametrize("followed", ["the file", "its folder"])
def test_a_copytruncate_rotation_keeps_what_its_copy_holds_and_prints_no_line_twice(tmp_path, followed):
    # logrotate's copytruncate copies app.log to app.log.1 and empties app.log. Following
    # app.log alone, the findings its lines had told were withdrawn ("no longer show it");
    # following the folder, the copy was a new file and every line of it was printed again
    (app_log, page), _ = _desync_set(tmp_path / "logs")
    lines = app_log.read_text().splitlines(keepends=True)
    later = (pd.Timestamp(lines[-1][:23].replace(",", ".")) + pd.Timedelta(seconds=1)).strftime("%Y-%m-%d %H:%M:%S,%f")
    args = (app_log, page.parent) if followed == "the file" else (app_log.parent,)
    with _following(*args) as proc:
        out = _read_until(proc, "following", 30)
        assert "callback-desync" in out
        shutil.copy(app_log, app_log.with_name("app.log.1"))
        with app_log.open("r+") as fh:
            fh.truncate(0)
        time.sleep(0.6)  # (a poll or two: the cut is seen before the line after it)
        with app_log.open("a") as fh:
            fh.write(f"{later[:23]} - jarvis - INFO - written after the rotation\n")
        out += _read_until(proc, "written after the rotation", 20)
        time.sleep(3)  # (the timeline is read again)
    out += _UNREAD.pop(proc.pid, b"").decode() + proc.stdout.read()  # (all it printed till it stopped)
    assert "copytruncate rotation" in out and "withdrawn" not in out
    assert out.count("written after the rotation") == 1
    assert not [line for line in lines if line.rstrip("\n") in out]  # (told when written, not again)


def test_follow_of_a_renamed_page_log_corrects_its_new_lines_as_the_timeline_does(tmp_path):
    # a page's log not named YYYYMMDD_<clientId>.log is one page, named after its file: its
    # lines written while following are that page's too, corrected by its clock skew (350 ms)
    paths, _ = _desync_set(tmp_path / "full")
    page = tmp_path / "phone.log"
    fe_lines = paths[1].read_text().splitlines(keepends=True)
    page.write_text("".join(fe_lines[:-1]))
    with _following(tmp_path / "full" / "app.log", page) as proc:
        _read_until(proc, "following", 20)
        with page.open("a") as fh:
            fh.write(fe_lines[-1])
        stamp = fe_lines[-1][1:25]  # (the page's own clock: [2026-...Z])
        corrected = (pd.Timestamp(stamp) - pd.Timedelta(milliseconds=350)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
        out = _read_until(proc, fe_lines[-1].rstrip("\n")[27:60], 20)
    assert f"{corrected}Z phone " in out  # (the page, named after its file)


def test_a_session_filter_lists_the_finding_that_session_caused():
    # the reply of 453424df cut off when 9342a748 was attached: filtering on 9342a748 hid it
    data = json.loads(_run("timeline", DESYNC, "-f", "json", "--session", "9342a748").stdout)
    [cut] = [f for f in data["findings"] if f["kind"] == "single-live-session"]
    assert cut["session"].startswith("453424df")
    text = _run("timeline", DESYNC, "--session", "9342a748").stdout
    assert "single-live-session" in text and "Session 453424df: the reply" in text


def test_a_long_evidence_path_keeps_its_line_number_in_the_findings_table(tmp_path):
    # at 120 columns the "what happened" column is about 60 wide: the page log's path was cut
    # with "…", and with it the line number the evidence is for
    logs = tmp_path / "a-folder-name-long-enough-to-need-more-than-one-line" / "callback-desync"
    shutil.copytree(FIXTURES / "callback-desync", logs)
    view = subprocess.run([sys.executable, "-m", "jarvis_diag", "timeline", str(logs)], capture_output=True,
                          text=True, timeout=60, env={**os.environ, "COLUMNS": "120"})
    data = json.loads(_run("timeline", str(logs), "-f", "json").stdout)
    assert view.returncode == 0, view.stderr
    findings = view.stdout[view.stdout.index("Findings (worst first)"):]
    assert "│" in findings and "…" not in findings  # (the table, not the narrow list)
    # the last column's pieces, the folds joined again
    column = "".join(line.split("│")[-1].strip() for line in findings.splitlines())
    cited = [e for f in data["findings"] for e in f["evidence"][:4]]
    assert any("frontend" in e["path"] for e in cited)
    for e in cited:
        assert f"{e['path']}:{e['line']}" in column


@pytest.mark.parametrize("closed", [">&-", "2>&-", "<&-"])
def test_a_standard_stream_the_shell_closed_is_no_traceback(tmp_path, closed):
    # Python makes a closed stream None: "'NoneType' object has no attribute 'isatty'"
    out = tmp_path / "t.json"
    source = "-" if closed == "<&-" else DESYNC
    command = " ".join(shlex.quote(a) for a in (sys.executable, "-m", "jarvis_diag", "timeline", source, "-f", "json",
                                                "-o", str(out)))
    result = subprocess.run(["sh", "-c", f"{command} {closed}"], capture_output=closed != "2>&-", text=True,
                            timeout=60)
    if closed == "<&-":  # (read as empty)
        assert result.returncode == 2 and "Traceback" not in result.stderr and "-: empty" in result.stderr
    else:
        assert result.returncode == 0 and json.loads(out.read_text())["findings"]


@pytest.mark.parametrize(("name", "starts"), [("t.json", b'{"schema":"jarvis-diag.timeline/1"'), ("t.csv", b"t,t_source,"),
                                              ("t.jsonl", b'{"schema": "jarvis-diag.event/1"'), ("t.txt", b"Sources read")])
def test_the_output_files_suffix_picks_the_format_when_none_is_given(tmp_path, name, starts):
    # -o tl.json wrote the terminal's table into tl.json (report -o r.json writes JSON)
    result = _run("timeline", DESYNC, "-o", str(tmp_path / name))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / name).read_bytes().startswith(starts)
    # and --format, given, wins
    assert _run("timeline", DESYNC, "-f", "csv", "-o", str(tmp_path / "x.json")).returncode == 0
    assert (tmp_path / "x.json").read_bytes().startswith(b"t,t_source,")


def test_the_attach_tables_latency_is_its_server_part_and_its_wire():
    # the server column was the attach's DONE, after the history it sends: 13 + 2 made 14,
    # and on a server that sends the history later 10 + 6 made 7
    result = CliRunner().invoke(app, ["timeline", str(FIXTURES / "callback-desync")], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    table = result.stdout[result.stdout.index("Sessions: attaches"):].split("\n\n")[0]
    rows = [[cell.strip() for cell in line.split("│")] for line in table.splitlines() if "│" in line]
    with_wire = [(float(r[5]), float(r[6]), float(r[7])) for r in rows if r[7]]
    assert len(with_wire) == 3 and all(abs(lat - (server + wire)) < 0.05 for lat, server, wire in with_wire)

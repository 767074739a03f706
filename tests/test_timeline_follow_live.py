"""`timeline --follow` on logs that change under it as a live server's do: a page's log
removed, findings that more lines no longer bear out, a line half written when it starts,
and an idle follow of many page logs."""

from __future__ import annotations

import gzip
import lzma
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from test_timeline_cli import _following, _read_until

SWITCH_BACK = Path(__file__).parent.parent / "sample_logs" / "callback-desync-switch-back"


def _copy_set(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(app.log, the frontend directory, the page's log) of a copy of the switch-back set."""
    shutil.copy(SWITCH_BACK / "app.log", tmp_path / "app.log")
    [page] = (SWITCH_BACK / "frontend").iterdir()
    fe_dir = tmp_path / "frontend"
    fe_dir.mkdir()
    return tmp_path / "app.log", fe_dir, page


def test_follow_reads_on_when_a_pages_log_is_removed(tmp_path):
    app_log, fe_dir, page = _copy_set(tmp_path)
    shutil.copy(page, fe_dir / page.name)
    with _following(app_log, fe_dir) as proc:
        _read_until(proc, "following 2 file(s)", 20)
        (fe_dir / page.name).unlink()
        out = _read_until(proc, "was removed", 20)
        assert f"{fe_dir / page.name} was removed: no longer read" in out
        # still following: a line written now is printed
        with app_log.open("a") as fh:
            fh.write("2026-12-06 15:05:00,000 - jarvis - INFO - [SocketIO] Client ZZZZZZZZ connected\n")
        _read_until(proc, "Client ZZZZZZZZ connected", 20)


def test_follow_says_a_finding_more_lines_no_longer_show_is_withdrawn(tmp_path):
    # the server's log alone tells a third desync (15:02:21.956) that the page's log shows
    # is not one: once the page's log comes in, the finding printed is said to be withdrawn
    app_log, fe_dir, page = _copy_set(tmp_path)
    with _following(app_log, fe_dir, columns=400) as proc:
        out = _read_until(proc, "following", 20)
        assert "2026-12-06T15:02:21.956Z WARNING  callback-desync" in out \
            or "2026-12-06T15:02:21.956Z CRITICAL callback-desync" in out
        shutil.copy(page, fe_dir / page.name)
        line = _read_until(proc, "withdrawn", 30).splitlines()[-1]
        assert line.startswith("2026-12-06T15:02:21.956Z") and "callback-desync (withdrawn: more of the logs " \
            "no longer show it)" in line


def test_follow_prints_a_line_half_written_when_it_started_whole(tmp_path):
    # the server is writing a line when the follow starts: its first half is in the file, no
    # newline yet; once the rest comes the line is printed once, whole, as its event
    app_log, fe_dir, _ = _copy_set(tmp_path)
    line = "2026-12-06 15:05:00,000 - jarvis - INFO - [SocketIO] Client ZZZZZZZZ connected\n"
    with app_log.open("a") as fh:
        fh.write(line[:30])
    with _following(app_log, fe_dir) as proc:
        _read_until(proc, "following", 20)
        with app_log.open("a") as fh:
            fh.write(line[30:])
            fh.write("2026-12-06 15:05:01,000 - jarvis - INFO - [SocketIO] Client YYYYYYYY connected\n")
        out = _read_until(proc, "Client YYYYYYYY connected", 20)
    [printed] = [row for row in out.splitlines() if "ZZZZZZZZ" in row]
    assert "socket.connected" in printed and line.rstrip("\n") in printed
    assert "unknown" not in out


def test_follow_names_the_page_each_page_line_is_from(tmp_path):
    # two phones load the page after the follow started: their lines interleave, and each
    # printed line says which page (clientId) wrote it, as the views do
    app_log, fe_dir, page = _copy_set(tmp_path)
    lines = page.read_text().splitlines(keepends=True)
    with _following(app_log, fe_dir) as proc:
        _read_until(proc, "following", 20)
        for client in ("Mozilla50iPhoneCPUiP-aaaa1111-0001", "Mozilla50iPhoneCPUiP-bbbb2222-0002"):
            (fe_dir / f"20261206_{client}.log").write_text("".join(lines[:5]))
        out = _read_until(proc, lines[4].rstrip("\n")[30:], 20)
        if out.count(lines[4].rstrip("\n")[30:]) < 2:
            out += _read_until(proc, lines[4].rstrip("\n")[30:], 20)
    for line in lines[:5]:
        printed = [row for row in out.splitlines() if line.rstrip("\n") in row]
        assert len(printed) == 2, (line, printed)
        assert sorted(row.split()[1] for row in printed) == ["aaaa1111-0001", "bbbb2222-0002"]


def test_follow_corrects_the_clock_of_a_page_log_that_appears_while_following(tmp_path):
    # the page's clock is 22 ms off the server's (as `timeline` on the whole set says): a
    # page log written only after the follow started has its lines corrected all the same
    app_log, fe_dir, page = _copy_set(tmp_path)
    lines = page.read_text().splitlines(keepends=True)
    with _following(app_log, fe_dir) as proc:
        _read_until(proc, "following", 20)
        (fe_dir / page.name).write_text("".join(lines))
        out = _read_until(proc, lines[-1].rstrip("\n"), 30)
    for line in (lines[0], lines[-1]):
        stamp = line[1:25]  # (the page's own clock: [2026-...Z])
        corrected = (pd.Timestamp(stamp) + pd.Timedelta(milliseconds=22)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
        [printed] = [row for row in out.splitlines() if line.rstrip("\n") in row]
        assert printed.startswith(f"{corrected}Z mxbyzm1u-m37a "), printed


def test_follow_picks_up_new_page_logs_in_directories_quiet_for_a_while(tmp_path):
    # the directories are listed again only when they change: a quiet directory (last
    # changed long ago), then a new folder in it, then a page log in that folder
    app_log, fe_dir, page = _copy_set(tmp_path)
    lines = page.read_text().splitlines(keepends=True)
    long_ago = time.time() - 3600
    os.utime(fe_dir, (long_ago, long_ago))
    with _following(app_log, fe_dir) as proc:
        _read_until(proc, "following", 20)
        day = fe_dir / "20261206"
        day.mkdir()
        (day / page.name).write_text(lines[0])
        _read_until(proc, lines[0].rstrip("\n"), 20)
        os.utime(day, (long_ago, long_ago))
        os.utime(fe_dir, (long_ago, long_ago))
        other = day / page.name.replace("m37a", "n48b")
        other.write_text(lines[1])
        _read_until(proc, lines[1].rstrip("\n"), 20)


def test_follow_reads_on_a_page_log_renamed_in_its_directory(tmp_path):
    # a page log renamed (rotated) in the directory followed is the same file: read on from
    # where it was, not read again from its start as a new one
    app_log, fe_dir, page = _copy_set(tmp_path)
    lines = page.read_text().splitlines(keepends=True)
    (fe_dir / page.name).write_text("".join(lines[:-2]))
    with _following(app_log, fe_dir) as proc:
        _read_until(proc, "following", 20)
        with app_log.open("a") as fh:  # (once it is printed, the follow is past its first look)
            fh.write("2026-12-06 15:04:59,000 - jarvis - INFO - [SocketIO] Client YYYYYYYY connected\n")
        _read_until(proc, "Client YYYYYYYY connected", 20)
        time.sleep(0.6)  # (more than a poll: the rename is seen by a new look at the files, not the last one)
        (fe_dir / page.name).rename(fe_dir / (page.name + ".1"))
        with (fe_dir / (page.name + ".1")).open("a") as fh:
            fh.write("".join(lines[-2:]))
        out = _read_until(proc, lines[-1].rstrip("\n"), 20)
        with app_log.open("a") as fh:
            fh.write("2026-12-06 15:05:00,000 - jarvis - INFO - [SocketIO] Client ZZZZZZZZ connected\n")
        out += _read_until(proc, "Client ZZZZZZZZ connected", 20)
    assert "was removed" not in out
    assert lines[0].rstrip("\n") not in out  # (read before following)
    assert out.count(lines[-2].rstrip("\n")) == 1


def test_follow_of_app_log_renamed_away_keeps_its_findings(tmp_path):
    # `mv app.log app.log.1` while the server keeps writing to the file it has open: the
    # follow reads on in app.log.1, and what it found in that file still stands (before,
    # every finding of the server's log was said to be withdrawn, or the follow ended)
    app_log, _, _ = _copy_set(tmp_path)
    warning = "2026-12-06 23:02:04,000 - app.services.chat_session_manager - WARNING - Session file not found " \
              "for new-1796, creating new session\n"
    with _following(app_log, columns=400) as proc:
        out = _read_until(proc, "following", 20)
        assert "CRITICAL callback-desync" in out
        app_log.rename(tmp_path / "app.log.1")
        with (tmp_path / "app.log.1").open("a") as fh:
            fh.write(warning)
        out = _read_until(proc, "app-warning (revised", 30)  # (a rebuild, with the line written on)
        assert "3x Session file not found" in out.splitlines()[-1]
        with (tmp_path / "app.log.1").open("a") as fh:  # (printed after all the rebuild said)
            fh.write("2026-12-06 23:05:00,000 - jarvis - INFO - [SocketIO] Client ZZZZZZZZ connected\n")
        out += _read_until(proc, "Client ZZZZZZZZ connected", 20)
    assert "withdrawn" not in out


def test_follow_started_before_the_server_prints_its_lines_in_utc(tmp_path):
    # the server writes its local time (UTC+08:00 here, known from the recv_ts of its lines):
    # an app.log that appears only after the follow started is printed in UTC all the same
    logs = tmp_path / "logs"
    logs.mkdir()
    lines = (SWITCH_BACK / "app.log").read_text().splitlines(keepends=True)
    with _following(logs) as proc:
        _read_until(proc, "following 0 file(s)", 20)
        (logs / "app.log").write_text("".join(lines))
        out = _read_until(proc, lines[-1].rstrip("\n"), 30)
    [first] = [row for row in out.splitlines() if lines[0].rstrip("\n") in row]
    assert lines[0].startswith("2026-12-06 23:02:03,635") and first.startswith("2026-12-06T15:02:03.635Z backend ")


def test_follow_of_a_session_goes_on_when_the_logs_that_come_do_not_name_it(tmp_path):
    # started before any log, for a session to come: the first logs do not name it, and the
    # follow goes on (before, it ended with an error at its first rebuild)
    logs = tmp_path / "logs"
    logs.mkdir()
    with _following(logs, "--session", "0123abcd") as proc:
        _read_until(proc, "following 0 file(s)", 20)
        shutil.copy(SWITCH_BACK / "app.log", logs / "app.log")  # (its lines are not the session's: not printed)
        time.sleep(2.0)  # (more than a rebuild's wait)
        with (logs / "app.log").open("a") as fh:  # (after a rebuild: still following)
            fh.write("2026-12-06 23:05:00,000 - jarvis - INFO - [SocketIO] Consumer cancelled: sid=ZZZZZZZZ, "
                     "session=0123abcd\n")
        out = _read_until(proc, "sid=ZZZZZZZZ, session=0123abcd", 20)
    assert "Application stopped" not in out
    # a session the logs there already do not name is a mistake, said as for the timeline
    result = subprocess.run([sys.executable, "-m", "jarvis_diag", "timeline", "--follow",
                             str(SWITCH_BACK / "app.log"), "--session", "0123abcd"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith("jarvis-diag: error: --session 0123abcd: no session in these logs matches it")


def test_follow_of_one_client_prints_that_clients_lines_only(tmp_path):
    # --client narrows the lines printed as it narrows the findings: another phone's page log
    # and another socket's server lines are left out (before, every phone's lines were printed)
    app_log, fe_dir, page = _copy_set(tmp_path)
    lines = page.read_text().splitlines(keepends=True)
    (fe_dir / page.name).write_text("".join(lines[:-3]))
    with _following(app_log, fe_dir, "--client", "mxbyzm1u") as proc:
        _read_until(proc, "following 2 file(s)", 20)
        (fe_dir / page.name.replace("mxbyzm1u-m37a", "zzzz9999-0001")).write_text("".join(lines[:5]))
        with app_log.open("a") as fh:
            fh.write("2026-12-06 23:05:00,000 - jarvis - INFO - [SocketIO] Client ZZZZZZZZ connected\n")
        time.sleep(0.6)  # (more than a poll: those are read first)
        with (fe_dir / page.name).open("a") as fh:
            fh.write("".join(lines[-3:]))
        out = _read_until(proc, lines[-1].rstrip("\n"), 30)
    assert "zzzz9999" not in out and "ZZZZZZZZ" not in out
    for line in lines[-3:]:
        [printed] = [row for row in out.splitlines() if line.rstrip("\n") in row]
        assert printed.split()[1] == "mxbyzm1u-m37a"


def test_follow_reads_a_file_named_by_format_of_that_appears_while_following(tmp_path):
    # --format-of names a page's log the phone has not written yet: the follow waits for it
    # (before, an error: "not one of the files read"), and reads it as that kind
    app_log, _, page = _copy_set(tmp_path)
    lines = page.read_text().splitlines(keepends=True)
    phone = tmp_path / "phone.log"
    with _following(app_log, tmp_path, "--format-of", f"{phone}=frontend") as proc:
        _read_until(proc, "following 1 file(s)", 20)
        phone.write_text("".join(lines[:3]))
        out = _read_until(proc, lines[2].rstrip("\n"), 30)
    [printed] = [row for row in out.splitlines() if lines[0].rstrip("\n") in row]
    assert printed.split()[1] == "phone"  # (a page's line, the page named after its file)
    # a file that no path followed is, nor may be, is still a typo
    result = subprocess.run([sys.executable, "-m", "jarvis_diag", "timeline", "--follow", str(app_log),
                             "--format-of", f"{tmp_path / 'elsewhere' / 'x.log'}=frontend"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "not one of the files followed" in result.stderr


@pytest.mark.parametrize("name", ["app.log.1.gz", "app.log.1.xz"])
def test_follow_says_a_compressed_log_that_appears_is_read_for_the_findings_only(tmp_path, name):
    # logrotate's compress: app.log.1.gz appears in the directory followed (or app.log.1.xz,
    # named: xz and bzip2 are read when named); its lines (printed when they were written) are
    # not printed again, nor its compressed bytes as lines
    app_log, fe_dir, page = _copy_set(tmp_path)
    shutil.copy(page, fe_dir / page.name)
    packed = tmp_path / name
    with _following(*([tmp_path] if name.endswith(".gz") else [app_log, fe_dir, packed])) as proc:
        _read_until(proc, "following 2 file(s)", 20)
        data = (SWITCH_BACK / "app.log").read_bytes()
        packed.write_bytes(gzip.compress(data) if name.endswith(".gz") else lzma.compress(data))
        out = _read_until(proc, "compressed", 20)
        assert out.splitlines()[-1] == f"{packed}: compressed: read for the findings, its lines not printed"
        with app_log.open("a") as fh:  # (still following)
            fh.write("2026-12-06 23:05:00,000 - jarvis - INFO - [SocketIO] Client ZZZZZZZZ connected\n")
        out += _read_until(proc, "Client ZZZZZZZZ connected", 20)
    assert " unknown " not in out and out.count(": compressed:") == 1


def test_follow_says_a_directory_followed_was_removed_and_follows_the_others(tmp_path):
    # the phones' logs were in a folder removed with its parent: said once, and the server's
    # log is followed on (before, the follow ended: "no such file or directory")
    app_log, _, page = _copy_set(tmp_path)
    fe_dir = tmp_path / "web" / "frontend"
    fe_dir.mkdir(parents=True)
    shutil.copy(page, fe_dir / page.name)
    with _following(app_log, fe_dir) as proc:
        _read_until(proc, "following 2 file(s)", 20)
        (tmp_path / "web").rename(tmp_path / "trash")  # (at once: rm -rf removes file by file)
        shutil.rmtree(tmp_path / "trash")
        out = _read_until(proc, "was removed", 20)
        # (the folder given, or the one it was in, as the follow first sees it gone)
        assert re.fullmatch(f"{re.escape(str(tmp_path / 'web'))}(/frontend)? was removed: followed again if it "
                            "comes back", out.splitlines()[-1])
        with app_log.open("a") as fh:
            fh.write("2026-12-06 23:05:00,000 - jarvis - INFO - [SocketIO] Client ZZZZZZZZ connected\n")
        out += _read_until(proc, "Client ZZZZZZZZ connected", 20)
        fe_dir.mkdir(parents=True)  # (back: read again)
        (fe_dir / page.name).write_text(page.read_text().splitlines(keepends=True)[0])
        out += _read_until(proc, page.read_text().splitlines()[0], 20)
    assert out.count("was removed") == 1


def test_follow_says_a_server_log_removed_and_reads_what_the_server_still_writes_to_it(tmp_path):
    # `rm app.log` while the server runs: it still writes to the file it holds open (the
    # reference server does), and those lines are printed; said once; the next app.log (the
    # server restarted) is read from its start
    app_log, _, _ = _copy_set(tmp_path)
    with _following(tmp_path) as proc, app_log.open("a") as server:
        _read_until(proc, "following 1 file(s)", 20)
        app_log.unlink()
        out = _read_until(proc, "was removed", 20)
        assert out.splitlines()[-1] == f"{app_log} was removed: what is still written to it is read, and a new " \
            f"{app_log} once there is one"
        server.write("2026-12-06 23:05:00,000 - jarvis - INFO - [SocketIO] Client YYYYYYYY connected\n")
        server.flush()
        out += _read_until(proc, "Client YYYYYYYY connected", 20)
        app_log.write_text("2026-12-06 23:06:00,000 - jarvis - INFO - [SocketIO] Client ZZZZZZZZ connected\n")
        out += _read_until(proc, "Client ZZZZZZZZ connected", 20)
    assert out.count("was removed") == 1


def test_follow_goes_on_when_the_logs_cannot_be_read_again(tmp_path):
    # a simulate-mobile results file is all the directory holds: the timeline cannot be
    # built again from it; said once, the follow goes on (before, it ended), and its lines
    # are not printed as a log's
    logs = tmp_path / "logs"
    logs.mkdir()
    with _following(logs) as proc:
        _read_until(proc, "following 0 file(s)", 20)
        shutil.copy(SWITCH_BACK / "results.jsonl", logs / "results.jsonl")
        out = _read_until(proc, "not a log", 20)
        shutil.copy(SWITCH_BACK / "app.log", logs / "app.log")
        out += _read_until(proc, "Application stopped", 30)
    assert out.count("not a log") == 1 and "jarvis-diag.sim" not in out


def test_follow_prints_a_character_written_in_two_goes_whole(tmp_path):
    # a line with a user's words (UTF-8) whose character the server wrote in two goes, read
    # between them: printed whole (before, as two replacement characters and a third)
    app_log, _, _ = _copy_set(tmp_path)
    line = "2026-12-06 23:05:00,000 - jarvis - INFO - [SocketIO] Client ZZZZZZZZ connected 你好\n".encode()
    cut = line.index("你".encode()) + 1
    with _following(app_log) as proc:
        _read_until(proc, "following", 20)
        with app_log.open("ab") as fh:
            fh.write(line[:cut])
        time.sleep(0.6)  # (more than a poll: read in two goes)
        with app_log.open("ab") as fh:
            fh.write(line[cut:])
        out = _read_until(proc, "ZZZZZZZZ", 20)
    assert "connected 你好" in out.splitlines()[-1] and "\ufffd" not in out


def test_follow_ends_quietly_when_its_reader_stops_reading(tmp_path):
    # `timeline --follow logs/ | head -3`: once head has its lines and goes, the next line
    # printed ends the follow, with no error and exit 0 as for the other views (before, 1)
    app_log, _, _ = _copy_set(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "jarvis_diag", "timeline", "--follow", str(app_log)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _read_until(proc, "following", 20)
        proc.stdout.close()
        with app_log.open("a") as fh:
            fh.write("2026-12-06 23:05:00,000 - jarvis - INFO - [SocketIO] Client ZZZZZZZZ connected\n")
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
    assert proc.returncode == 0 and err == b""


def test_follow_looks_for_new_files_naming_a_file_two_arguments_name_once(tmp_path):
    # `--follow /abs/logs/app.log logs/`: app.log is one file followed (before, the second
    # name joined the follow as a new file, read whole again, each poll that listed it)
    from jarvis_diag.commands.timeline import _files_now

    app_log, fe_dir, page = _copy_set(tmp_path)
    shutil.copy(page, fe_dir / page.name)
    found = _files_now([str(app_log.resolve()), os.path.relpath(tmp_path)])
    assert found == [str(app_log.resolve()), os.path.relpath(fe_dir / page.name)]
    # and a path that is gone with its directory names none, the others still theirs
    assert _files_now([str(tmp_path / "gone" / "x.log"), str(app_log)]) == [str(app_log)]


def test_follow_of_an_empty_page_log_tells_it_by_its_first_lines(tmp_path):
    # phone.log is empty when the follow starts (the timeline takes it for the server's):
    # once the page writes to it, its lines are a page's, named after the file, as the
    # timeline reads them (before, they were printed as no page's)
    app_log, _, page = _copy_set(tmp_path)
    lines = page.read_text().splitlines(keepends=True)
    phone = tmp_path / "phone.log"
    phone.write_text("")
    with _following(app_log, phone) as proc:
        _read_until(proc, "following 2 file(s)", 20)
        phone.write_text("".join(lines[:3]))
        out = _read_until(proc, lines[2].rstrip("\n"), 30)
    for line in lines[:3]:
        [printed] = [row for row in out.splitlines() if line.rstrip("\n") in row]
        assert printed.split()[1] == "phone"

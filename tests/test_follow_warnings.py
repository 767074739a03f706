"""`timeline --follow`: what the logs read and the --client/--session selection warn of is
told once when the follow starts (or when it first says it), and again only when a rebuild
has something new to say; what only says that a growing file was caught being written is not."""

from __future__ import annotations

import gzip
import lzma
import shutil
import time
from pathlib import Path

from test_timeline_cli import _following, _read_until

from jarvis_diag.commands.timeline import _warning_key

HEALTHY = Path(__file__).parent.parent / "sample_logs" / "healthy-day"
SEVERAL = ("warning: client mxbz1p matches 3 clients (Mozilla50iPhoneCPUiP-mxbz1psb-3zac, "
           "Mozilla50iPhoneCPUiP-mxbz1pw5-kulu, Mozilla50iPhoneCPUiP-mxbz1pzw-m37a): all are kept; "
           "give more of it for one")


def _server_and_one_page(tmp_path: Path) -> tuple[Path, Path]:
    """healthy-day's app.log and one of its page logs, copied to ``tmp_path`` (app.log,
    frontend/): the server log and the page-log folder a follow reads."""
    app_log = tmp_path / "app.log"
    shutil.copy(HEALTHY / "app.log", app_log)
    fe_dir = tmp_path / "frontend"
    fe_dir.mkdir()
    shutil.copy(HEALTHY / "frontend" / "20261206_Mozilla50iPhoneCPUiP-mxbz1psb-3zac.log", fe_dir)
    return app_log, fe_dir


def _another_page_comes(proc, fe_dir: Path) -> str:
    """Another of healthy-day's page logs copied into ``fe_dir`` while ``proc`` follows it;
    what the follow printed up to that log's last line (printed after the rebuild that read it)."""
    shutil.copy(HEALTHY / "frontend" / "20261206_Mozilla50iPhoneCPUiP-mxbz1pzw-m37a.log", fe_dir)
    last = (fe_dir / "20261206_Mozilla50iPhoneCPUiP-mxbz1pzw-m37a.log").read_text().splitlines()[-1]
    return _read_until(proc, last[last.index("]") + 1:].strip(), 30)


def test_follow_of_a_client_prefix_that_names_several_says_so_once(tmp_path):
    # three phones share the prefix mxbz1p: the one-shot view warns, the follow said nothing
    # and read as the one phone asked for. It is told once, not again at each rebuild; a
    # fourth phone under the prefix is news, told with the four
    shutil.copy(HEALTHY / "app.log", tmp_path / "app.log")
    fe_dir = tmp_path / "frontend"
    shutil.copytree(HEALTHY / "frontend", fe_dir)
    page = fe_dir / "20261206_Mozilla50iPhoneCPUiP-mxbz1psb-3zac.log"
    last = page.read_text().splitlines()[-1]
    stamp = last[:last.index("]") + 1]
    with _following(tmp_path / "app.log", fe_dir, "--client", "mxbz1p", columns=400) as proc:
        out = _read_until(proc, "following", 30)
        assert SEVERAL in out.splitlines(), out
        for i in range(2):  # (two rebuilds: each line is printed once the timeline has read it)
            time.sleep(0.6)  # (more than a poll: a line of its own batch)
            with page.open("a") as fh:
                fh.write(f"{stamp} [DEBUG] [SocketIO] still here {i}\n")
            out += _read_until(proc, f"still here {i}", 30)
        shutil.copy(fe_dir / "20261206_Mozilla50iPhoneCPUiP-mxbz1pzw-m37a.log",
                    fe_dir / "20261206_Mozilla50iPhoneCPUiP-mxbz1pqq-abcd.log")
        out += _read_until(proc, "matches 4 clients", 30)
        with page.open("a") as fh:
            fh.write(f"{stamp} [DEBUG] [SocketIO] still here 2\n")
        out += _read_until(proc, "still here 2", 30)
    rows = out.splitlines()
    told = [row for row in rows if row.startswith("warning: ")]
    assert told == [SEVERAL, "warning: client mxbz1p matches 4 clients (Mozilla50iPhoneCPUiP-mxbz1pqq-abcd, "
                    "Mozilla50iPhoneCPUiP-mxbz1psb-3zac, Mozilla50iPhoneCPUiP-mxbz1pw5-kulu, "
                    "Mozilla50iPhoneCPUiP-mxbz1pzw-m37a): all are kept; give more of it for one"], out
    assert rows.index(SEVERAL) < next(i for i, row in enumerate(rows) if row.startswith("following"))


def test_a_warning_is_told_again_only_when_more_than_its_counts_and_times_change():
    colours = "/logs/app.log: {} terminal colour code(s) removed (a capture of a terminal)"
    assert _warning_key(colours.format(2)) == _warning_key(colours.format("1,204"))
    apart = ("a page log runs outside the server log's time (2026-12-06T15:03:42.063Z to {}): "
             "/logs/frontend/{}_Mozilla50iPhoneCPUiP-mxbz1pw5-kulu.log (2026-12-05T15:03:41.911Z to "
             "2026-12-05T15:03:50.597Z); what the server did for that page is not in the logs given (another day's log?)")
    assert _warning_key(apart.format("2026-12-06T15:03:50.757Z", 20261205)) == \
        _warning_key(apart.format("2026-12-06T16:00:00.001Z", 20261205))  # (the server log grew)
    # another file, of the same page a day later: what it says is new
    assert _warning_key(apart.format("2026-12-06T15:03:50.757Z", 20261205)) != \
        _warning_key(apart.format("2026-12-06T15:03:50.757Z", 20261204))
    assert _warning_key(SEVERAL) != _warning_key(SEVERAL.replace("3 clients", "4 clients").replace(
        "-m37a)", "-m37a, Mozilla50iPhoneCPUiP-mxbz1pqq-abcd)"))


def test_follow_tells_the_logs_warnings_once_and_not_that_a_line_is_half_written(tmp_path):
    # the one-shot view warns of the colour codes of a captured terminal and of a log a
    # directory holds and does not read (app.log.2.xz); the follow said neither. Each is now
    # told as the follow starts, once: not again at each rebuild as the count of colour codes
    # grows. A line half written (the server writing it, its last character half written
    # too) is the normal state of a log followed (as are an empty log and a .gz half
    # written): the follow does not warn of it, nor of the half character as bad bytes
    logs = tmp_path / "logs"
    fe_dir = logs / "frontend"
    fe_dir.mkdir(parents=True)
    first, *rest = (HEALTHY / "app.log").read_text().splitlines(keepends=True)
    stamp = rest[-1][:23]
    app_log = logs / "app.log"
    half = f"{stamp} - jarvis - INFO - half caf".encode() + "é".encode()[:1]  # (and half a character)
    app_log.write_bytes(f"\x1b[32m{first.rstrip()}\x1b[0m\n{''.join(rest)}".encode() + half)
    (logs / "app.log.2.xz").write_bytes(lzma.compress(b"an older log\n"))
    packed = gzip.compress((HEALTHY / "app.log").read_bytes())
    (logs / "app.log.1.gz").write_bytes(packed[:len(packed) // 2])  # (gzip writing it: not said either)
    (fe_dir / "20261206_Mozilla50iPhoneCPUiP-mxbz1pqq-abcd.log").touch()  # (a page's log made, not written yet)
    page = fe_dir / "20261206_Mozilla50iPhoneCPUiP-mxbz1psb-3zac.log"
    shutil.copy(HEALTHY / "frontend" / page.name, page)
    last = page.read_text().splitlines()[-1]
    page_stamp = last[:last.index("]") + 1]
    colours = f"warning: {app_log}: 2 terminal colour code(s) removed (a capture of a terminal)"
    left_out = (f"warning: {logs / 'app.log.2.xz'}: left out of {logs}: a directory's .xz and .bz2 files are "
                "read when named or globbed")
    with _following(logs, "--client", "mxbz1psb", columns=400) as proc:
        out = _read_until(proc, "following", 30)
        for i in range(2):  # (two rebuilds: the page's lines are printed once the timeline has read them)
            time.sleep(0.6)  # (more than a poll: a line of its own batch)
            with app_log.open("ab") as fh:  # (the half line ended, a line in colour, another half line)
                fh.write("é".encode()[1:] + f" {i}\n\x1b[33m{stamp} - jarvis - INFO - coloured {i}\x1b[0m\n".encode()
                         + half)
            with page.open("a") as fh:
                fh.write(f"{page_stamp} [DEBUG] [SocketIO] still here {i}\n")
            out += _read_until(proc, f"still here {i}", 30)
    rows = out.splitlines()
    told = [row for row in rows if row.startswith("warning: ")]
    assert sorted(told) == sorted([colours, left_out]), out
    assert max(rows.index(row) for row in told) < next(i for i, row in enumerate(rows) if row.startswith("following"))


def test_follow_tells_of_a_page_log_of_another_day_when_it_appears(tmp_path):
    # a page log of the day before is copied into the folder followed: the one-shot view
    # warns that it runs outside the server log's time; the follow now does as the timeline
    # reads it, once: not again when the server log has grown and another page log came
    app_log, fe_dir = _server_and_one_page(tmp_path)
    day_before = fe_dir / "20261205_Mozilla50iPhoneCPUiP-mxbz1pw5-kulu.log"
    lines = (HEALTHY / "frontend" / "20261206_Mozilla50iPhoneCPUiP-mxbz1pw5-kulu.log").read_text()
    stamp = (HEALTHY / "app.log").read_text().splitlines()[-1][:23]
    with _following(app_log, fe_dir, columns=400) as proc:
        out = _read_until(proc, "following", 30)
        assert not [row for row in out.splitlines() if row.startswith("warning: ")], out
        time.sleep(0.6)  # (more than a poll)
        day_before.write_text(lines.replace("[2026-12-06T", "[2026-12-05T"))
        out += _read_until(proc, "outside the server log's time", 30)
        with app_log.open("a") as fh:  # (the server log's time, named in the warning, grows)
            fh.write(f"{stamp[:-6]}59,000 - jarvis - INFO - the server log grows\n")
        out += _read_until(proc, "the server log grows", 30)
        time.sleep(0.6)
        out += _another_page_comes(proc, fe_dir)
    told = [row for row in out.splitlines() if row.startswith("warning: ")]
    assert len(told) == 1 and told[0].startswith("warning: a page log runs outside the server log's time "), out
    assert f"{day_before} (2026-12-05T" in told[0], out


def test_follow_does_not_take_a_page_loaded_after_a_quiet_spell_for_another_days(tmp_path):
    # the server log has been quiet for an hour when a page loads: its log comes in before
    # the server logs anything of it. The one-shot view reads it as a page log of another
    # day (outside the server log's time); in a follow that is only the server log not
    # written yet: no warning
    from jarvis_diag.timeline import load_timeline

    app_log, fe_dir = _server_and_one_page(tmp_path)
    later = (HEALTHY / "frontend" / "20261206_Mozilla50iPhoneCPUiP-mxbz1pw5-kulu.log").read_text() \
        .replace("[2026-12-06T15:", "[2026-12-06T16:")
    once = tmp_path / "once" / "20261206_Mozilla50iPhoneCPUiP-mxbz1pw5-kulu.log"  # (the one-shot view's)
    once.parent.mkdir()
    once.write_text(later)
    assert any("outside the server log's time" in w for w in load_timeline([app_log, once]).warnings)
    last = later.splitlines()[-1]
    with _following(app_log, fe_dir, columns=400) as proc:
        out = _read_until(proc, "following", 30)
        time.sleep(0.6)  # (more than a poll)
        (fe_dir / "20261206_Mozilla50iPhoneCPUiP-mxbz1pw5-kulu.log").write_text(later)
        out += _read_until(proc, last[last.index("]") + 1:].strip(), 30)  # (printed after the rebuild that read it)
        # (the warnings of a rebuild are printed after the lines it held: those of the next
        # rebuild, held for a page log that came after, come after them)
        time.sleep(0.6)
        out += _another_page_comes(proc, fe_dir)
    assert not [row for row in out.splitlines() if row.startswith("warning: ")], out


def test_follow_does_not_say_a_compressed_log_named_beside_its_directory_is_left_out(tmp_path):
    # 'timeline --follow logs logs/app.log.1.xz' read the .xz (its lines in the findings' evidence)
    # and warned 'logs/app.log.1.xz: left out of logs: ... read when named or globbed' though it
    # was named; the one-shot view does not say so. Another .xz there, not named, is still said
    logs = tmp_path / "logs"
    logs.mkdir()
    shutil.copy(HEALTHY / "app.log", logs / "app.log")
    named, other = logs / "app.log.1.xz", logs / "app.log.2.xz"
    named.write_bytes(lzma.compress(b"an older log\n"))
    other.write_bytes(lzma.compress(b"an older log still\n"))
    with _following(logs, named) as proc:
        out = _read_until(proc, "following", 30)
    told = [row for row in out.splitlines() if row.startswith("warning: ") and "left out" in row]
    assert told == [f"warning: {other}: left out of {logs}: a directory's .xz and .bz2 files are read when named "
                    "or globbed"], out


def test_a_count_that_changes_the_words_of_a_warning_is_no_news(tmp_path):
    # a file's count of bad or unknown lines going past one changes more than the number
    # ('1 line with' -> '2 lines with', 'its one line is not' -> 'none of its 3 lines is'):
    # the key kept the words, so the follow said the warning again. Its file and its kind are
    # what it is about; binary data and a line with bad bytes stay two things, as do two files
    from jarvis_diag.ingest import ingest

    page = (HEALTHY / "frontend" / "20261206_Mozilla50iPhoneCPUiP-mxbz1psb-3zac.log").read_bytes()
    grown = {"other.log": (b"", b"some other program's line %d\n"), "bin.log": (b"", b"\0\0\xff junk %d\n"),
             "20261206_Mozilla50iPhoneCPUiP-mxbz1psb-3zac.log": (page, b"[2026-12-06T15:03:50.459Z] [DEBUG] bad \0 %d\n")}
    keys = []
    for name, (head, line) in grown.items():
        path = tmp_path / name
        said = []
        for n in (1, 2, 3):
            path.write_bytes(head + b"".join(line % i for i in range(n)))
            [warning] = ingest([str(path)]).warnings
            said.append(warning)
        assert len(set(said)) > 1 and len({_warning_key(w) for w in said}) == 1, said
        keys.append(_warning_key(said[0]))
    copy = tmp_path / "copy" / "other.log"
    copy.parent.mkdir()
    shutil.copy(tmp_path / "other.log", copy)
    [warning] = ingest([str(copy)]).warnings
    assert len({*keys, _warning_key(warning)}) == 4
    # (lines too long to make here: a 64 MiB line; and a journal export's messages left out)
    long = "/logs/app.log: {} over 64 MiB cut to {} first 64 MiB (no log writes such lines: binary data, or a file " \
           "with no newlines?)"
    assert _warning_key(long.format("1 line", "its")) == _warning_key(long.format("2 lines", "their"))
    journal = "/logs/journal.json: {} with no message: the export leaves out a message over 4096 bytes (a traceback?)"
    assert _warning_key(journal.format("1 entry")) == _warning_key(journal.format("1,204 entries"))


def test_follow_tells_of_a_files_bad_lines_once_as_their_count_grows_past_one(tmp_path):
    # another program's log given with the server's, and a page log that gets a line of NUL
    # bytes, then another: each warning was told again when its count passed one
    app_log, fe_dir = _server_and_one_page(tmp_path)
    page = fe_dir / "20261206_Mozilla50iPhoneCPUiP-mxbz1psb-3zac.log"
    last = page.read_text().splitlines()[-1]
    stamp = last[:last.index("]") + 1]
    other = tmp_path / "other.log"
    other.write_text("some other program's line 0\n")
    with _following(app_log, fe_dir, other, columns=400) as proc:
        out = _read_until(proc, "following", 30)
        for i in range(3):  # (each in a rebuild of its own: the warning of the one before is told first)
            time.sleep(0.6)  # (more than a poll: a line of its own batch)
            with page.open("ab") as fh:
                fh.write(f"{stamp} [DEBUG] [SocketIO] bad \0 {i}\n".encode())
            with other.open("a") as fh:
                fh.write(f"some other program's line {i + 1}\n")
            out += _read_until(proc, "1 line with undecodable" if i == 0 else f"bad  {i}", 30)
        time.sleep(0.6)
        with page.open("a") as fh:
            fh.write(f"{stamp} [DEBUG] [SocketIO] still here\n")
        out += _read_until(proc, "still here", 30)
    told = [row for row in out.splitlines() if row.startswith("warning: ")]
    assert told == [f"warning: {other}: its one line is not one the Jarvis backend or frontend writes (kept as "
                    "unknown events): not a Jarvis log? (timeline --format-of PATH=KIND forces a format)",
                    f"warning: {page}: 1 line with undecodable or NUL bytes (kept as read)"], out

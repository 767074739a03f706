"""Damaged input is counted and reported, never a crash, never a dropped line."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import pandas as pd
import pytest

from jarvis_diag.ingest import ingest
from jarvis_diag.logs import fast, parse_line

FIXTURES = Path(__file__).parent / "fixtures"
APP = (FIXTURES / "normal" / "app.log").read_bytes()
BACKEND = (FIXTURES / "callback-desync" / "backend.log").read_bytes()
LINE = b"2026-11-24 11:03:38,055 - jarvis - INFO - [SocketIO] Client LU4XadoC connected\n"


def test_bad_bytes_nul_and_huge_lines(tmp_path: Path) -> None:
    f = tmp_path / "app.log"
    huge = b"2026-11-24 11:03:38,056 - jarvis - INFO - [SocketIO] Client AAAAAAAA auth failed: " + b"x" * 200_000
    f.write_bytes(LINE + b"\xff\xfe garbage \x80\x81\n" + b"bin\x00ary\x00\n" + huge + b"\n" + random.Random(7).randbytes(3000)
                  + b"\n" + LINE)
    result = ingest([str(f)], tz="+01:00")
    info = result.sources[0]
    df = result.events
    assert info.bad_lines >= 3 and info.long_lines == 0 and not info.truncated
    assert len(df) >= 5 and info.events == len(df)
    assert df["text"].str.len().max() == len(huge)  # (kept whole: no log line is cut short of 64 MiB)
    assert df[df["text"].str.startswith("2026-11-24 11:03:38,056")]["kind"].tolist() == ["auth.failed"]
    assert not df["text"].str.contains("\x00", regex=False).any()
    assert df.sort_values("line")["kind"].iloc[-1] == "socket.connected"
    assert any("undecodable" in w for w in result.warnings) and not any("over 64 MiB" in w for w in result.warnings)


def test_truncated_gzip_and_cut_last_line(tmp_path: Path) -> None:
    packed = gzip.compress(APP)
    (tmp_path / "app.log.2.gz").write_bytes(packed[: len(packed) // 2])
    cut = tmp_path / "app.log.1"
    cut.write_bytes(APP[:-10])
    result = ingest([str(tmp_path / "app.log.2.gz"), str(cut)])
    by_name = {Path(s.path).name: s for s in result.sources}
    assert by_name["app.log.2.gz"].truncated and by_name["app.log.2.gz"].lines > 10
    assert by_name["app.log.1"].truncated and by_name["app.log.1"].lines == 165
    assert [w for w in result.warnings if "middle of a line" in w] == [f"{cut}: the file ends in the middle of a "
                                                                        "line (cut short while written?)"]
    assert [w for w in result.warnings if ": the gzip" in w or ": damaged gzip" in w] == [f"{tmp_path / 'app.log.2.gz'}: the gzip stream ends "
                                                           "early (a copy cut short?); what it holds is read"]


@pytest.mark.parametrize(("where", "kept", "reason"), [
    (-6, 165, "incorrect data check"),  # the checksum at the end: every line is there
    (0.5, 10, "invalid"),  # a block in the middle: the lines before it
])
def test_damaged_gzip_keeps_what_comes_before_the_damage(tmp_path: Path, where, kept, reason) -> None:
    packed = bytearray(gzip.compress(APP))
    packed[where if isinstance(where, int) else int(len(packed) * where)] ^= 0xFF
    (tmp_path / "app.log.gz").write_bytes(bytes(packed))
    result = ingest([str(tmp_path / "app.log.gz")])
    [info] = result.sources
    assert info.lines >= kept and info.truncated and info.damaged.startswith(f"damaged gzip data ({reason}")
    assert result.events["text"].iloc[0] == APP.split(b"\n")[0].decode()
    assert [w for w in result.warnings if ": the gzip" in w or ": damaged gzip" in w] == [f"{info.path}: {info.damaged}"]
    assert not [w for w in result.warnings if "empty" in w or "middle of a line" in w]


def test_empty_and_blank_files(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_bytes(b"")
    (tmp_path / "b.log").write_bytes(b"\n\n\r\n")
    result = ingest([str(tmp_path)])
    assert result.events.empty and [s.events for s in result.sources] == [0, 0]
    assert [s.lines for s in result.sources] == [0, 3]


def test_tz_option_and_machine_zone(tmp_path: Path) -> None:
    f = tmp_path / "app.log"
    f.write_bytes(LINE)
    z = ingest([str(f)], tz="Asia/Shanghai")
    assert (z.zone.offset_minutes, z.zone.source) == (480, "tz-option")
    assert z.events["t_source"][0] == pd.Timestamp("2026-11-24T03:03:38.055Z")
    m = ingest([str(f)])
    assert m.zone.source == "machine" and any("--tz" in w for w in m.warnings)


def test_panel_copy_takes_date_and_zone_from_the_backend(tmp_path: Path) -> None:
    (tmp_path / "app.log").write_bytes(APP)
    (tmp_path / "panel.log").write_text("[11:03:38.402] [ConnMgr] Page hidden\n[11:03:39.000] [ConnMgr] Page visible\n")
    result = ingest([str(tmp_path)])
    panel = result.events[result.events["source"] == "panel"]
    assert panel["t_source"].tolist() == [pd.Timestamp("2026-11-24T10:03:38.402Z"),
                                          pd.Timestamp("2026-11-24T10:03:39.000Z")]
    assert any("debug-panel times read as 2026-11-24 UTC+01:00" in w for w in result.warnings)
    alone = ingest([str(tmp_path / "panel.log")])
    assert alone.events["t_source"].isna().all() and any("no date" in w for w in alone.warnings)
    given = ingest([str(tmp_path / "panel.log")], panel_date="2026-11-25", panel_tz="+08:00")
    assert given.events["t_source"][0] == pd.Timestamp("2026-11-25T03:03:38.402Z")


def test_format_override(tmp_path: Path) -> None:
    f = tmp_path / "odd.txt"
    f.write_text("[11:03:38.402] [ConnMgr] Page hidden\n")
    result = ingest([str(f)], format_of={str(f): "panel"}, panel_date="2026-11-24", tz="UTC")
    assert result.sources[0].format == "panel" and result.events["kind"][0] == "page.hidden"


def test_console_lines_carry_the_time_before_them(tmp_path: Path) -> None:
    f = tmp_path / "backend.log"
    f.write_text("INFO:     Started server process [1]\n"
                 "2026-11-24 11:00:00,000 - jarvis - INFO - Application starting...\n"
                 "INFO:     Application startup complete.\n"
                 "2026-11-24 11:00:05,000 - jarvis - INFO - Application stopped\n")
    df = ingest([str(f)], tz="+01:00").events
    assert df["line"].tolist() == [1, 2, 3, 4]
    assert df["t_source"].tolist() == [pd.Timestamp("2026-11-24T10:00:00Z")] * 3 + [
        pd.Timestamp("2026-11-24T10:00:05Z")]


def _coloured(text: bytes) -> bytes:
    """A log as a terminal showed it: the level coloured (as uvicorn and colouring log
    handlers write to a terminal), a status code in bold green."""
    text = text.replace(b" - INFO - ", b" - \x1b[32mINFO\x1b[0m - ").replace(b" - WARNING - ", b" - \x1b[33mWARNING\x1b[0m - ")
    text = text.replace(b"\nINFO:     ", b"\n\x1b[32mINFO\x1b[0m:     ").replace(b" 200 OK", b" \x1b[1;32m200 OK\x1b[0m")
    return text


def _events(result) -> list[tuple]:
    df = result.events
    return list(zip(df["kind"].astype(str), df["line"], df["t"], df["text"], strict=True))


@pytest.mark.parametrize("copies", [1, fast.STREAM_MIN_BYTES // len(BACKEND) + 2], ids=["small", "streamed size"])
def test_a_terminal_capture_reads_as_the_plain_log(tmp_path: Path, copies: int) -> None:
    (tmp_path / "plain").mkdir()
    (tmp_path / "colour").mkdir()
    (tmp_path / "plain" / "backend.log").write_bytes(BACKEND * copies)
    coloured = _coloured(BACKEND) * copies
    assert coloured.count(b"\x1b[") > 200 * copies
    (tmp_path / "colour" / "backend.log").write_bytes(coloured)
    plain = ingest([str(tmp_path / "plain" / "backend.log")])
    colour = ingest([str(tmp_path / "colour" / "backend.log")])
    assert _events(colour) == _events(plain)
    assert (colour.events["kind"] == "unknown").sum() == 0
    codes = coloured.count(b"\x1b[")
    assert [w for w in colour.warnings if "terminal colour" in w] == \
        [f"{tmp_path / 'colour' / 'backend.log'}: {codes:,} terminal colour code(s) removed (a capture of a terminal)"]
    line = _coloured(b"\nINFO:     127.0.0.1:57692 - \"GET /health HTTP/1.1\" 200 OK")[1:].decode()
    assert parse_line(line, "console").text == parse_line(line.replace("\x1b[32m", "").replace("\x1b[1;32m", "")
                                                          .replace("\x1b[0m", ""), "console").text


def test_a_pipe_named_as_a_path_is_read_like_the_file(tmp_path):
    # `jarvis-diag timeline <(zcat app.log.gz) frontend/`: the shell passes /dev/fd/N, a pipe;
    # it was "no such file or directory"
    import os
    import threading

    source = FIXTURES / "callback-desync" / "backend.log"
    fifo = tmp_path / "backend.pipe"
    os.mkfifo(fifo)

    def write() -> None:
        with fifo.open("wb") as fh:
            fh.write(source.read_bytes())

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    piped = ingest([str(fifo)])
    writer.join(timeout=30)
    direct = ingest([str(source)])
    assert piped.sources[0].format == "backend" and piped.sources[0].lines == direct.sources[0].lines > 200
    assert piped.events["kind"].tolist() == direct.events["kind"].tolist()
    assert piped.events["t"].tolist() == direct.events["t"].tolist()


def test_a_device_named_as_a_log_is_a_clear_error():
    # /dev/zero would be read for ever; /dev/null holds no log
    from jarvis_diag.errors import DiagError

    for device in ("/dev/zero", "/dev/null"):
        with pytest.raises(DiagError, match=f"^{device}: not a log file, a directory or a pipe$"):
            ingest([device])


def test_an_archive_of_logs_is_a_clear_line_not_one_log(tmp_path: Path) -> None:
    # `timeline logs.tar.gz` read its files as one backend log: app.log's lines twice over
    # (backend.log repeats them, with nothing to tell which is which), the page's lines with
    # no page, and a "server-restart" where the second file began
    import tarfile
    import zipfile

    from jarvis_diag.errors import DiagError

    logs = tmp_path / "logs"
    (logs / "frontend").mkdir(parents=True)
    for name in ("app.log", "backend.log"):
        (logs / name).write_bytes((FIXTURES / "normal" / name).read_bytes())
    [page] = (FIXTURES / "normal" / "frontend").glob("*.log")
    (logs / "frontend" / page.name).write_bytes(page.read_bytes())
    for name, mode in (("logs.tar.gz", "w:gz"), ("logs.tar", "w")):
        with tarfile.open(tmp_path / name, mode) as tar:
            tar.add(logs, arcname="logs")
    with zipfile.ZipFile(tmp_path / "logs.zip", "w") as packed:
        for f in sorted(logs.rglob("*.log")):
            packed.write(f, f.relative_to(tmp_path))
    for name, unpack in (("logs.tar.gz", "tar xf"), ("logs.tar", "tar xf"), ("logs.zip", "unzip")):
        kind = "a zip archive" if name.endswith("zip") else "a tar archive"
        with pytest.raises(DiagError, match=f"^{tmp_path / name}: {kind}, not a log: unpack it "
                                            f"\\({unpack} {name}\\) and give the directory of its logs$"):
            ingest([str(tmp_path / name)])
    # beside logs, in a directory or named: left out, and said so
    (logs / "old.tar.gz").write_bytes((tmp_path / "logs.tar.gz").read_bytes())
    result = ingest([str(logs), str(tmp_path / "logs.zip")])
    assert sorted(Path(s.path).name for s in result.sources) == sorted(["app.log", "backend.log", page.name])
    assert [w for w in result.warnings if "archive" in w] == [
        f"{logs / 'old.tar.gz'}: skipped, a tar archive is not a log (unpack it to read the logs it holds)",
        f"{tmp_path / 'logs.zip'}: skipped, a zip archive is not a log (unpack it to read the logs it holds)"]


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_text_reads_as_the_same_text_in_utf8(tmp_path: Path, encoding: str) -> None:
    # a log saved as Windows' "Unicode" (PowerShell's `>`): read as UTF-8, every other byte
    # was a NUL, the file "binary data", its lines unknown, a reconnect-failed found in them
    [page] = (FIXTURES / "normal" / "frontend").glob("*.log")
    app = APP.decode() * 200  # (in UTF-16, over fast.STREAM_MIN_BYTES: a file read as it arrives)
    assert len(app.encode(encoding)) > fast.STREAM_MIN_BYTES
    for name, text in (("app.log", app), (page.name, page.read_text())):
        (tmp_path / "utf8" / name).parent.mkdir(exist_ok=True)
        (tmp_path / "utf8" / name).write_text(text)
        (tmp_path / encoding / name).parent.mkdir(exist_ok=True)
        (tmp_path / encoding / name).write_bytes(("\ufeff" + text.replace("\n", "\r\n")).encode(encoding))
    plain, wide = ingest([str(tmp_path / "utf8")]), ingest([str(tmp_path / encoding)])
    assert not wide.warnings and [s.bad_lines for s in wide.sources] == [0, 0]
    for column in ("text", "kind", "t", "client", "line"):
        assert wide.events[column].equals(plain.events[column]), column


def test_a_log_rotated_into_xz_and_bzip2_reads_as_the_plain_log(tmp_path: Path) -> None:
    # logrotate's compresscmd may be xz or bzip2: such files were read as binary data
    import bz2
    import lzma

    lines = APP.splitlines(keepends=True)
    (tmp_path / "rotated").mkdir()
    (tmp_path / "rotated" / "app.log.2.xz").write_bytes(lzma.compress(b"".join(lines[:50])))
    (tmp_path / "rotated" / "app.log.1.bz2").write_bytes(bz2.compress(b"".join(lines[50:100])))
    (tmp_path / "rotated" / "app.log").write_bytes(b"".join(lines[100:]))
    (tmp_path / "app.log").write_bytes(APP)
    named = [str(tmp_path / "rotated" / name) for name in ("app.log", "app.log.1.bz2", "app.log.2.xz")]
    rotated, plain = ingest(named), ingest([str(tmp_path / "app.log")])
    assert [Path(s.path).name for s in rotated.sources] == ["app.log.2.xz", "app.log.1.bz2", "app.log"]
    assert not rotated.warnings
    for column in ("text", "kind", "t"):
        assert rotated.events[column].equals(plain.events[column]), column
    # cut short: what it holds is read, and said
    packed = lzma.compress(APP)
    (tmp_path / "cut.log.xz").write_bytes(packed[:len(packed) // 2])
    cut = ingest([str(tmp_path / "cut.log.xz")])
    assert 0 < cut.sources[0].lines < len(lines) and cut.sources[0].truncated
    assert f"{tmp_path / 'cut.log.xz'}: the xz stream ends early (a copy cut short?); what it holds is read" \
        in cut.warnings
    # the directory given: its .xz and .bz2 files are left out (they are read when named), and said
    whole = ingest([str(tmp_path / "rotated")])
    assert [Path(s.path).name for s in whole.sources] == ["app.log"]
    assert [w for w in whole.warnings if "named" in w] == [
        f"{tmp_path / 'rotated' / name}: left out of {tmp_path / 'rotated'}: a directory's .xz and .bz2 files are "
        "read when named or globbed" for name in ("app.log.1.bz2", "app.log.2.xz")]


def test_a_directory_says_which_of_its_files_saved_under_another_name_begin_with_log_lines(tmp_path):
    # `journalctl -u jarvis > jarvis.txt` or `docker logs -t jarvis > backend.out` next to the
    # page logs: the directory's timeline left them out without a word, and was the pages' alone
    import shutil

    from jarvis_diag.errors import DiagError

    logs = tmp_path / "logs"
    shutil.copytree(FIXTURES / "callback-desync" / "frontend", logs / "frontend")
    backend = (FIXTURES / "callback-desync" / "backend.log").read_text().splitlines()
    (logs / "jarvis.txt").write_text("".join(f"Nov 24 10:03:29 myhost python3[1234]: {line}\n" for line in backend))
    (logs / "backend.out").write_text("".join(f"2026-11-24T10:03:29.000000000Z {line}\n" for line in backend))
    (logs / "notes.txt").write_text("what I did: opened the app at 10:03, then switched chats\n")
    got = ingest([str(logs)])
    assert [Path(s.path).parent.name for s in got.sources] == ["frontend"]
    told = [w for w in got.warnings if "begins with log lines" in w]
    assert told == [f"{logs / name}: left out of {logs}, though it begins with log lines: a directory's files are "
                    "read by their names (*.log, *.gz, *.jsonl, journal exports *.json); give it by name to read it"
                    for name in ("backend.out", "jarvis.txt")]
    # named, it is read
    named = ingest([str(logs / "jarvis.txt"), str(logs / "frontend")])
    assert named.sources[0].prefix == "journal" and not [w for w in named.warnings if "begins with" in w]
    # a directory holding nothing else: the error names it
    (logs / "frontend").rename(tmp_path / "pages")
    (logs / "backend.out").unlink()
    with pytest.raises(DiagError, match=f"no log files in this directory .*; {logs / 'jarvis.txt'} begins with log "
                                        "lines: give it by name to read it"):
        ingest([str(logs)])


def _said(tl) -> list[tuple]:
    return [(f["kind"], f["severity"], f["session"], f["client"], f["at"], f["delay_ms"])
            for f in tl.to_json_dict()["findings"]]


def test_a_log_whose_every_line_is_written_twice_reads_each_pair_once(tmp_path: Path) -> None:
    # a logger with two handlers on one file writes every line twice: each reconnect, attach
    # and message counted twice gave a false critical half-open on the healthy logs and a
    # second copy of every finding on the others
    import jarvis_diag as jd

    for name in ("normal", "callback-desync"):
        lines = (FIXTURES / name / "app.log").read_text().splitlines(keepends=True)
        folder = tmp_path / name
        folder.mkdir()
        (folder / "app.log").write_text("".join(line + line for line in lines))
        pages = str(FIXTURES / name / "frontend")
        result = ingest([str(folder / "app.log"), pages])
        (source,) = [s for s in result.sources if s.path.endswith("app.log")]
        assert (source.lines, source.duplicates) == (2 * len(lines), len(lines))
        assert any(w.startswith(f"{folder / 'app.log'}: every line is written twice") for w in result.warnings)
        assert len(result.events) == len(ingest([str(FIXTURES / name / "app.log"), pages]).events)
        with pytest.warns(jd.DiagWarning, match="every line is written twice"):
            doubled = jd.load_timeline([str(folder / "app.log"), pages])
        assert _said(doubled) == _said(jd.load_timeline([str(FIXTURES / name / "app.log"), pages]))


def test_a_line_written_twice_in_a_log_that_is_not_doubled_is_kept(tmp_path: Path) -> None:
    # two sessions' chat:ready in one millisecond write the same line twice: both are the log's
    lines = (FIXTURES / "normal" / "app.log").read_text().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if "emit took 0ms: chat:ready" in line)
    (tmp_path / "app.log").write_text("".join(lines[:at + 1] + lines[at:]))
    result = ingest([str(tmp_path / "app.log")])
    assert (result.sources[0].duplicates, len(result.events)) == (0, len(lines) + 1)
    assert not [w for w in result.warnings if "written twice" in w]
    # doubled, such a pair is four lines: two are read
    (tmp_path / "doubled.log").write_text("".join(line + line for line in lines[:at + 1] + lines[at:]))
    result = ingest([str(tmp_path / "doubled.log")])
    assert len(result.events) == len(lines) + 1
    assert (result.events["text"].str.contains("emit took 0ms: chat:ready").sum()
            == sum("emit took 0ms: chat:ready" in line for line in lines) + 1)


@pytest.mark.parametrize("saved_as", ["{name} (1).log", "{name} copy.log", "{name}.txt"])
def test_a_page_log_saved_under_a_copys_name_keeps_its_client(tmp_path: Path, saved_as: str) -> None:
    # a page log downloaded twice ("... (1).log") or kept as .txt was taken as a page named after
    # its file ('20261124_Mozilla...-8t1u (1)'), with a warning, and joined no socket by its id
    import jarvis_diag as jd

    (page,) = (FIXTURES / "callback-desync" / "frontend").glob("*.log")
    copy = tmp_path / saved_as.format(name=page.stem)
    copy.write_bytes(page.read_bytes())
    result = ingest([str(FIXTURES / "callback-desync" / "app.log"), str(copy)])
    assert not [w for w in result.warnings if "does not give its clientId" in w]
    pages = result.events[result.events["source"] == "frontend"]
    assert set(pages["client"].dropna()) == {page.stem.split("_", 1)[1]} and pages["client"].notna().all()
    plain = jd.load_timeline([str(FIXTURES / "callback-desync" / "app.log"), str(page)])
    saved = jd.load_timeline([str(FIXTURES / "callback-desync" / "app.log"), str(copy)])
    assert [(f["kind"], f["client"], f["delay_ms"]) for f in saved.to_json_dict()["findings"]] == \
        [(f["kind"], f["client"], f["delay_ms"]) for f in plain.to_json_dict()["findings"]]

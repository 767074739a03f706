"""The backend's log as systemd's journal exports it (``journalctl -u jarvis -o json``): each
line one entry, the backend's line in its MESSAGE, read as the plain log."""

from __future__ import annotations

import gzip
import json
import random
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from logbuilder import collector_stamps
from typer.testing import CliRunner

from jarvis_diag.cli import app
from jarvis_diag.events import COLUMNS
from jarvis_diag.frames import events_to_jsonl
from jarvis_diag.ingest import ingest
from jarvis_diag.logs import detect, fast, journal_json, parse_line, prefixed

FIXTURES = Path(__file__).parent / "fixtures"
ZONE = timedelta(hours=1)  # (the fixtures' backend ran at UTC+01:00: their recv_ts say so)
LAG = timedelta(microseconds=450)  # journald stamps a line when it reads it, a little after it was written
BOOT = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # (the monotonic clock counts from the boot)
runner = CliRunner()




def _micros(t: datetime) -> str:
    return str((t - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1))


def _entry(t: datetime, message, seq: int, *, host: str = "jarvis-vm", ident: str = "python3", pid: str = "30389",
           unit: str = "jarvis.service", rng: random.Random | None = None) -> str:
    """One journal entry as ``journalctl -o json`` writes it (the fields a service's stdout
    line carries; their order is not set, so it is shuffled)."""
    fields = {
        "__CURSOR": f"s=4d1c1d8a2b7e4c64a3c4e1b0f9d2a7c1;i={0x1a2b + seq:x};b=0b6f3c2e1d4a4e8f9a7b6c5d4e3f2a1b;"
                    f"m={(t - BOOT) // timedelta(microseconds=1):x};t={int(_micros(t)):x};x=5f1e2d3c4b5a6978",
        "__REALTIME_TIMESTAMP": _micros(t),
        "__MONOTONIC_TIMESTAMP": str((t - BOOT) // timedelta(microseconds=1)),
        "__SEQNUM": str(0x1a2b + seq),
        "_BOOT_ID": "0b6f3c2e1d4a4e8f9a7b6c5d4e3f2a1b",
        "_MACHINE_ID": "9f8e7d6c5b4a39281706f5e4d3c2b1a0",
        "_HOSTNAME": host,
        "_TRANSPORT": "stdout",
        "PRIORITY": "6",
        "SYSLOG_FACILITY": "3",
        "SYSLOG_IDENTIFIER": ident,
        "_PID": pid,
        "_UID": "1000",
        "_GID": "1000",
        "_COMM": ident,
        "_EXE": "/usr/bin/python3.11",
        "_CMDLINE": "/opt/jarvis/.venv/bin/python3 /opt/jarvis/.venv/bin/uvicorn app.main:app --host 127.0.0.1 "
                    "--port 38010",
        "_CAP_EFFECTIVE": "0",
        "_SYSTEMD_CGROUP": f"/system.slice/{unit}",
        "_SYSTEMD_UNIT": unit,
        "_SYSTEMD_SLICE": "system.slice",
        "_SYSTEMD_INVOCATION_ID": "6a5b4c3d2e1f40918273645546372819",
        "_STREAM_ID": "2f3e4d5c6b7a48399281736455463728",
        "MESSAGE": message,
    }
    items = list(fields.items())
    (rng or random.Random(seq)).shuffle(items)
    return json.dumps(dict(items), separators=(",", ":"))


def _export(lines: list[str]) -> list[str]:
    """The journal export of a captured stdout: one entry a line, as journald stores them."""
    rng = random.Random(7)
    stamps = collector_stamps(lines, ZONE, LAG)
    return [_entry(t, line, i, rng=rng) for i, (t, line) in enumerate(zip(stamps, lines, strict=True))]


def _write(path: Path, lines: list[str], end: str = "\n") -> str:
    path.write_text("".join(line + "\n" for line in lines[:-1]) + lines[-1] + end)
    return str(path)


def _timeline(*paths: str) -> dict:
    result = runner.invoke(app, ["timeline", *paths, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _evidence(value, path: str, plain: str):
    """``value`` with the lines of the export at ``path`` cited as the plain log's lines."""
    if isinstance(value, list):
        return [_evidence(v, path, plain) for v in value]
    if not isinstance(value, dict):
        return value
    if value.get("path") == path and "text" in value:
        value = {**value, "path": plain, "text": prefixed.strip(value["text"], journal_json.NAME)}
    return {k: _evidence(v, path, plain) for k, v in value.items()}


# every column but the file, the text (the file's line) and the times
SAME = [c for c in COLUMNS if c not in ("path", "text", "t", "t_source")]


@pytest.mark.parametrize("fixture", ["normal", "callback-desync"])
def test_the_timeline_of_an_export_finds_what_the_plain_log_does(tmp_path, fixture):
    plain = str(FIXTURES / fixture / "backend.log")
    lines = Path(plain).read_text().splitlines()
    export = _write(tmp_path / "jarvis.json", _export(lines))
    pages = str(FIXTURES / fixture / "frontend")
    want, got = _timeline(plain, pages), _timeline(export, pages)
    source = got["sources"][0]
    assert (source["format"], source["prefix"], source["lines"], source["unknown"]) == (
        "backend", "journal-json", len(lines), 0)
    assert got["clock"]["backend_utc_offset_minutes"] == want["clock"]["backend_utc_offset_minutes"] == 60
    assert got["clock"]["backend_zone_source"] == want["clock"]["backend_zone_source"] == "recv_ts"
    assert got["clock"]["clients"] == want["clock"]["clients"]
    assert _evidence(got["findings"], export, plain) == want["findings"]
    assert got["connections"] == want["connections"]
    assert _evidence(got["sessions"], export, plain) == want["sessions"]
    assert _evidence(got["episodes"], export, plain) == want["episodes"]
    # each row: the plain log's, at the same instant, its line the entry's, its text the
    # line as journalctl shows it
    a, b = ingest([plain]).events, ingest([export]).events
    assert len(a) == len(b) == len(lines)
    for col in [*SAME, "t_source"]:
        pd.testing.assert_series_equal(a[col].astype("object"), b[col].astype("object"), check_names=False)
    stamps = collector_stamps(lines, ZONE, LAG)
    assert b["text"].tolist() == [f"{stamps[i - 1]:%Y-%m-%dT%H:%M:%S.%f}+00:00 jarvis-vm python3[30389]: {lines[i - 1]}"
                                  for i in b["line"]]


def test_a_coloured_message_the_export_writes_as_a_byte_array_reads_as_the_plain_log(tmp_path):
    # journalctl exports a MESSAGE with control characters (a terminal's colour codes, as
    # uvicorn and coloured loggers write them) as an array of its bytes, not a string: its
    # codes were left in, and not one backend line was read (the zone taken from the machine)
    plain = str(FIXTURES / "normal" / "backend.log")
    lines = Path(plain).read_text().splitlines()
    coloured = [line.replace(" - INFO - ", " - \x1b[32mINFO\x1b[0m - ").replace("INFO:  ", "\x1b[32mINFO\x1b[0m:  ")
                for line in lines]
    stamps = collector_stamps(lines, ZONE, LAG)
    entries = [_entry(t, list(line.encode()) if "\x1b" in line else line, i)
               for i, (t, line) in enumerate(zip(stamps, coloured, strict=True))]
    assert sum('"MESSAGE":[' in e for e in entries) > len(entries) // 2
    export = _write(tmp_path / "jarvis.json", entries)
    pages = str(FIXTURES / "normal" / "frontend")
    result = runner.invoke(app, ["timeline", export, pages, "--format", "json"])
    assert result.exit_code == 0, result.output
    got, want = json.loads(result.stdout), _timeline(plain, pages)
    assert "terminal colour code(s) removed" in result.stderr
    assert (got["sources"][0]["prefix"], got["sources"][0]["unknown"]) == ("journal-json", 0)
    assert got["clock"]["backend_utc_offset_minutes"] == 60 and got["clock"]["clients"] == want["clock"]["clients"]
    assert [(f["kind"], f["severity"]) for f in got["findings"]] == [(f["kind"], f["severity"]) for f in want["findings"]]


def test_an_export_in_a_folder_is_read_and_other_json_there_is_not(tmp_path):
    # `journalctl -u jarvis -o json > logs/backend.json`, then `timeline logs/`: the export was
    # left out of the folder's files, and the pages' logs alone gave another story
    plain = FIXTURES / "callback-desync" / "backend.log"
    folder = tmp_path / "logs"
    folder.mkdir()
    _write(folder / "backend.json", _export(plain.read_text().splitlines()))
    shutil.copytree(FIXTURES / "callback-desync" / "frontend", folder / "frontend")
    (folder / "settings.json").write_text('{"port": 8000, "token": "t"}\n')
    (folder / "timeline.json").write_text(json.dumps(_timeline(str(plain))))  # (a saved timeline)
    want, got = _timeline(str(plain), str(FIXTURES / "callback-desync" / "frontend")), _timeline(str(folder))
    assert [Path(s["path"]).name for s in got["sources"]][0] == "backend.json"
    assert not any(s["path"].endswith(("settings.json", "timeline.json")) for s in got["sources"])
    assert len(got["sources"]) == len(want["sources"])
    assert [(f["kind"], f["severity"]) for f in got["findings"]] == [(f["kind"], f["severity"]) for f in want["findings"]]
    # a folder holding only JSON that is no export still has no log
    (folder / "backend.json").unlink()
    shutil.rmtree(folder / "frontend")
    result = runner.invoke(app, ["timeline", str(folder)])
    assert result.exit_code != 0 and "no log files in this directory" in str(result.exception)


def _pretty(entries: list[str]) -> list[str]:
    """The same entries as `journalctl -o json-pretty` writes them: a field a line, tab-indented."""
    lines = []
    for entry in entries:
        fields = list(json.loads(entry).items())
        lines += ["{", *[f"\t{json.dumps(k)} : {json.dumps(v)}{',' if i < len(fields) - 1 else ''}"
                         for i, (k, v) in enumerate(fields)], "}"]
    return lines


def test_a_json_pretty_export_reads_as_the_json_one(tmp_path):
    # `journalctl -u jarvis -o json-pretty` read as a file of unknown lines: "not a Jarvis log?"
    plain = FIXTURES / "callback-desync" / "backend.log"
    entries = _export(plain.read_text().splitlines())
    pages = str(FIXTURES / "callback-desync" / "frontend")
    one_line, pretty = _write(tmp_path / "j.json", entries), _write(tmp_path / "p.json", _pretty(entries))
    want, got = _timeline(one_line, pages), _timeline(pretty, pages)
    source = got["sources"][0]
    assert (source["format"], source["prefix"], source["unknown"]) == ("backend", "journal-json", 0)
    assert source["lines"] == len(Path(pretty).read_text().splitlines()) > 20 * len(entries)
    assert got["clock"] == want["clock"] and got["connections"] == want["connections"]
    assert [(f["kind"], f["severity"], f["summary"]) for f in got["findings"]] == \
        [(f["kind"], f["severity"], f["summary"]) for f in want["findings"]]
    # each row cites the line its entry starts on
    file_lines = Path(pretty).read_text().splitlines()
    events = ingest([pretty]).events
    assert len(events) == len(entries) and all(file_lines[n - 1] == "{" for n in events["line"])
    for col in [c for c in SAME if c != "line"]:
        pd.testing.assert_series_equal(ingest([one_line]).events[col].astype("object"),
                                       events[col].astype("object"), check_names=False)
    # in a folder too, beside pretty JSON that is no export
    folder = tmp_path / "logs"
    folder.mkdir()
    shutil.copy(pretty, folder / "backend.json")
    (folder / "settings.json").write_text('{\n\t"port" : 8000\n}\n')
    assert [Path(s["path"]).name for s in _timeline(str(folder))["sources"]] == ["backend.json"]


def test_a_json_pretty_export_cut_short_keeps_its_last_lines(tmp_path):
    entries = _export(["2026-11-24 11:04:29,391 - jarvis - INFO - Application starting..."] * 3)
    lines = _pretty(entries)
    path = _write(tmp_path / "p.json", lines[:-4], end="")  # (its last entry has no "}")
    events = ingest([path]).events
    last = len(lines) * 2 // 3
    # the two whole entries, then the cut one's lines as they are, in one unknown event (the
    # lines after its first as its continuation, as a traceback's): nothing lost
    assert events["kind"].tolist() == ["server.starting", "server.starting", "unknown"]
    cut = events.iloc[2]
    assert [cut["text"], *cut["traceback"].splitlines()] == lines[last:-4] and cut["line"] == last + 1


def test_app_log_and_the_export_of_the_capture_are_read_once(tmp_path):
    desync = FIXTURES / "callback-desync"
    export = _write(tmp_path / "jarvis.json", _export((desync / "backend.log").read_text().splitlines()))
    want = ingest([str(desync / "app.log"), str(desync / "backend.log")])
    got = ingest([str(desync / "app.log"), export])
    assert len(got.events) == len(want.events)
    assert [s.duplicates for s in got.sources] == [s.duplicates for s in want.sources]
    assert got.sources[1].duplicates > 0


def _at(ev: pd.DataFrame, line: int) -> pd.DataFrame:
    return ev[ev["line"] == line]


def test_a_message_of_several_lines_is_several_lines_of_the_log(tmp_path):
    t0 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    error = "2026-11-24 11:00:01,000 - jarvis - ERROR - Exception in handler"
    traceback = "Traceback (most recent call last):\n  File \"app.py\", line 1, in handler\nValueError: boom"
    two = ("2026-11-24 11:00:02,000 - jarvis - INFO - [SocketIO] Client AAAAAAAA connected\n"  # (and a last newline)
           "2026-11-24 11:00:02,001 - jarvis - INFO - [SocketIO] Client AAAAAAAA disconnected, cleaned up 0 subscriptions\n")
    entries = [_entry(t0, "2026-11-24 11:00:00,000 - jarvis - INFO - Application starting...", 0),
               _entry(t0 + timedelta(seconds=1), f"{error}\n{traceback}", 1),
               _entry(t0 + timedelta(seconds=2), two, 2),
               # uvicorn's console line, with no time of its own: the entry's, as journalctl shows
               _entry(t0 + timedelta(seconds=2, milliseconds=250), "INFO:     Shutting down", 3),
               _entry(t0 + timedelta(seconds=3), "2026-11-24 11:00:03,000 - jarvis - INFO - Database initialized", 4)]
    got = ingest([_write(tmp_path / "j.json", entries)])
    ev = got.events
    assert got.sources[0].lines == 5 and len(ev) == 6
    assert _at(ev, 2)["traceback"].tolist() == [traceback]  # (attached to its line, as in a plain file)
    assert _at(ev, 2)["text"].str.endswith(error).all()
    # a message's lines: one row each, all at their entry's line
    assert _at(ev, 3)["kind"].tolist() == ["socket.connected", "socket.disconnected"]
    assert _at(ev, 4)["kind"].tolist() == ["server.process"]
    # (the line before it, 02.001, stamped at 02.000 with it, plus the 250 ms the journal saw pass)
    assert _at(ev, 4)["t_source"].iloc[0].isoformat() == "2026-11-24T10:00:02.251000+00:00"
    assert ev["t_source"].is_monotonic_increasing


def test_other_services_in_one_export_are_kept_apart(tmp_path):
    # a merged export: the backend, another host's nginx, and another API run by uvicorn
    lines = (FIXTURES / "normal" / "backend.log").read_text().splitlines()
    stamps = collector_stamps(lines, ZONE, LAG)
    entries, others = [], []
    for i, (t, line) in enumerate(zip(stamps, lines, strict=True)):
        entries.append(_entry(t, line, i))
        if i % 40 == 5:
            entries.append(_entry(t, "10.0.0.1 - - \"GET / HTTP/1.1\" 200 612", 1000 + i, host="proxy", ident="nginx",
                                  pid="88", unit="nginx.service"))
            entries.append(_entry(t, "INFO:     Shutting down", 2000 + i, ident="uvicorn", pid="77",
                                  unit="other-api.service"))
            others += [len(entries) - 1, len(entries)]
    got = ingest([_write(tmp_path / "merged.json", entries)])
    ev = got.events
    kept = ev[ev["kind"] == "unknown"].sort_values("line")
    assert kept["line"].tolist() == others
    assert kept["text"].str.contains("nginx\\[88\\]: 10.0.0.1|uvicorn\\[77\\]: INFO").all()
    plain = ingest([str(FIXTURES / "normal" / "backend.log")]).events
    mine = ev[ev["kind"] != "unknown"]
    assert mine["kind"].tolist() == plain["kind"].tolist()
    assert mine["t_source"].tolist() == plain["t_source"].tolist()


def test_another_unit_of_the_same_identifier_is_not_the_backend(tmp_path):
    # `journalctl -o json -u jarvis -u metrics`: every `python3 -m uvicorn` unit is `python3`.
    # The other API's reload was taken for the backend's: a critical reconnect-failed ("the
    # server reloaded") of a page whose socket never dropped
    from jarvis_diag.timeline import build_timeline

    lines = (FIXTURES / "callback-desync" / "backend.log").read_text().splitlines()
    stamps = collector_stamps(lines, ZONE, LAG)
    reload = ["WARNING:  WatchFiles detected changes in 'metrics.py'. Reloading...", "INFO:     Shutting down",
              "INFO:     Finished server process [4242]", "INFO:     Started server process [4300]",
              "INFO:     Waiting for application startup.", "INFO:     Application startup complete."]
    entries, others = [], []
    for i, (t, line) in enumerate(zip(stamps, lines, strict=True)):
        entries.append(_entry(t, line, i))
        if i == len(lines) // 2:
            for k, text in enumerate(reload):
                entries.append(_entry(t, text, 5000 + k, pid="4242" if k < 3 else "4300", unit="metrics.service"))
                others.append(len(entries))
    pages = str(FIXTURES / "callback-desync" / "frontend")
    got = ingest([_write(tmp_path / "merged.json", entries), pages])
    ev = got.events
    kept = ev[(ev["kind"] == "unknown") & (ev["source"] == "backend")].sort_values("line")
    assert kept["line"].tolist() == others
    # (shown with their unit in place of the identifier, as journalctl -o with-unit shows them)
    assert kept["text"].str.contains(r"metrics\.service\[43?[02]\d*\]: ").all()
    want = build_timeline(ingest([str(FIXTURES / "callback-desync" / "backend.log"), pages])).to_json_dict()
    tl = build_timeline(got).to_json_dict()
    keys = ("kind", "severity", "at", "session", "client", "sid", "delay_ms")
    assert [{k: f[k] for k in keys} for f in tl["findings"]] == [{k: f[k] for k in keys} for f in want["findings"]]
    assert tl["episodes"] == want["episodes"]


def _robust_export() -> tuple[list[str], list[str]]:
    """(the backend's lines, an export of them with a message that is no UTF-8 (its 32nd line,
    at the export's line 34), a line that is no entry (line 11) and a message the export left
    out (line 21) among them)."""
    lines = (FIXTURES / "normal" / "backend.log").read_text().splitlines()
    entries = _export(lines)
    stamps = collector_stamps(lines, ZONE, LAG)
    bad = lines[31].replace("projA", "proj\udce9")  # (byte 0xE9 alone: Latin-1, no UTF-8)
    entries[31] = _entry(stamps[31], list(bad.encode("utf-8", "surrogateescape")), 31)
    entries.insert(10, "-- No entries --")
    entries.insert(20, _entry(stamps[19], None, 5000))
    return lines, entries


def test_lines_that_are_no_entry_and_messages_left_out_are_unknown_events(tmp_path):
    lines, entries = _robust_export()
    got = ingest([_write(tmp_path / "j.json", entries)])
    info, ev = got.sources[0], got.events
    assert (info.prefix, info.lines, info.events, info.unknown, info.bad_lines, info.truncated) == (
        "journal-json", len(entries), len(entries), 2, 1, False)
    assert _at(ev, 11)["text"].tolist() == ["-- No entries --"]
    assert _at(ev, 21)["text"].str.endswith(journal_json.LEFT_OUT.decode()).all()
    assert (_at(ev, 21)["kind"] == "unknown").all()
    assert any("1 entry with no message" in w and "--all" in w for w in got.warnings)
    # the message of bytes: decoded with U+FFFD for the byte that is no UTF-8, read as its line
    row = _at(ev, 34)
    assert row["text"].str.endswith(lines[31].replace("projA", "proj\ufffd")).all()
    plain = ingest([str(FIXTURES / "normal" / "backend.log")]).events
    assert row[["kind", "session"]].astype("object").values.tolist() == \
        plain[["kind", "session"]].astype("object").iloc[[31]].values.tolist()
    assert any("1 line with undecodable" in w for w in got.warnings)


def test_an_export_cut_short_keeps_its_last_line(tmp_path):
    lines, entries = _robust_export()
    cut = entries[-1][:len(entries[-1]) // 2]
    got = ingest([_write(tmp_path / "j.json", [*entries[:-1], cut], end="")])
    info, ev = got.sources[0], got.events
    assert (info.lines, info.events, info.unknown, info.truncated) == (len(entries), len(entries), 3, True)
    assert _at(ev, len(entries))["text"].tolist() == [cut]
    assert any("ends in the middle of a line" in w for w in got.warnings)
    # cut after its closing brace, before its newline: the entry is whole, the file still cut
    got = ingest([_write(tmp_path / "j2.json", entries, end="")])
    assert (got.sources[0].unknown, got.sources[0].truncated) == (2, True)


def test_a_gzipped_export_reads_as_the_export(tmp_path):
    lines, entries = _robust_export()
    path = _write(tmp_path / "j.json", entries)
    (tmp_path / "j.json.gz").write_bytes(gzip.compress(Path(path).read_bytes()))
    want, got = ingest([path]), ingest([str(tmp_path / "j.json.gz")])
    assert got.sources[0].prefix == "journal-json" and got.sources[0].unknown == 2
    for col in ["line", "t_source", *SAME]:
        pd.testing.assert_series_equal(want.events[col].astype("object"), got.events[col].astype("object"),
                                       check_names=False)


def test_a_json_seq_export_reads_as_the_json_one(tmp_path):
    # (journalctl -o json-seq: each entry after an ASCII record separator)
    _, entries = _robust_export()
    want = ingest([_write(tmp_path / "j.json", entries)])
    got = ingest([_write(tmp_path / "seq.json", ["\x1e" + e if e.startswith("{") else e for e in entries])])
    assert (got.sources[0].prefix, got.sources[0].unknown) == ("journal-json", 2)
    for col in ["line", "text", "t_source", *SAME]:
        pd.testing.assert_series_equal(want.events[col].astype("object"), got.events[col].astype("object"),
                                       check_names=False)


@pytest.mark.parametrize("engine", ["numpy", "reference"])
def test_every_parser_reads_an_export_alike(tmp_path, engine):
    _, entries = _robust_export()
    path = _write(tmp_path / "j.json", entries)
    want, got = ingest([path]).events, ingest([path], engine=engine).events
    for col in ["line", "text", "t_source", *SAME]:
        pd.testing.assert_series_equal(want[col].astype("object"), got[col].astype("object"), check_names=False)


def test_a_big_export_is_not_read_as_a_plain_log(tmp_path):
    # (files of 4 MiB and more are parsed as they are read, when no prefix is found in their head)
    one = _export((FIXTURES / "normal" / "backend.log").read_text().splitlines())
    copies = fast.STREAM_MIN_BYTES // sum(len(line) + 1 for line in one) + 1
    got = ingest([_write(tmp_path / "big.json", one * copies)])
    assert got.sources[0].prefix == "journal-json"
    assert got.sources[0].unknown == 0 and got.sources[0].events == len(one) * copies


def test_detection_tells_an_export_from_the_other_json_and_logs(tmp_path):
    entries = _export((FIXTURES / "normal" / "backend.log").read_text().splitlines()[:5])
    assert detect.detect_with_prefix(entries) == ("backend", "journal-json")
    assert detect.detect_with_prefix(["", *entries]) == ("backend", "journal-json")
    # our own events JSONL, a page's log, another program's JSON: as before
    events = ingest([str(FIXTURES / "normal" / "backend.log")]).events.head(5)
    events_to_jsonl(events, (tmp_path / "e.jsonl").open("w"))
    assert detect.detect_with_prefix((tmp_path / "e.jsonl").read_text().splitlines()) == ("jsonl", None)
    page = next((FIXTURES / "normal" / "frontend").iterdir()).read_text().splitlines()[:5]
    assert detect.detect_with_prefix(page) == ("frontend", None)
    assert detect.detect_with_prefix(['{"level": "info", "msg": "listening", "time": 1795514616}']) == ("backend", None)
    assert not journal_json.detect(['{"__REALTIME_TIMESTAMP": "1795514616523400"}'])  # (no message)


def test_stray_brace_lines_in_a_json_pretty_export_are_kept_and_the_entries_after_them_read():
    # (each "{" line with no "}" after it searched the rest of the export again: 20,000 of them
    # took 4.5 s, and twice as many four times as long; now each byte is searched once)
    line = "2026-11-24 11:04:29,391 - jarvis - INFO - Application starting..."
    entries = _export([line] * 2)
    data = "\n".join([entries[0], *["{"] * 2000, *_pretty(entries[1:])]) + "\n"
    export = journal_json.decode(data.encode())
    shown = bytes(export.data).decode().splitlines()
    assert export.lines == len(data.splitlines()) and len(shown) == 2 + 2000
    assert shown[1:2001] == ["{"] * 2000 and all(s.endswith(line) for s in (shown[0], shown[-1]))
    assert export.entry_of.tolist() == list(range(2001)) + [2001]


def test_follow_prints_each_entry_appended_to_a_json_pretty_export_as_one_line(tmp_path):
    # (each line of an entry was printed as an unknown event of its own, "{" and "}")
    from test_timeline_cli import _following, _read_until

    lines = (FIXTURES / "callback-desync" / "backend.log").read_text().splitlines()
    pretty = _pretty(_export(lines[:12]))
    path = tmp_path / "p.json"
    _write(path, pretty[:len(pretty) // 2])  # (six whole entries)
    with _following(path) as proc:
        _read_until(proc, "following 1 file(s)", 30)
        with path.open("a") as fh:
            fh.write("".join(line + "\n" for line in pretty[len(pretty) // 2:]))
        out = _read_until(proc, lines[11][24:], 30)
    printed = [line for line in out.splitlines() if "jarvis-vm python3[30389]: " in line]
    assert [line.split("python3[30389]: ", 1)[1] for line in printed] == lines[6:12]
    assert not [line for line in out.splitlines() if line.rstrip().endswith((" {", " }"))]


def test_format_of_backend_reads_an_export_as_a_plain_log(tmp_path):
    path = _write(tmp_path / "j.json", _export((FIXTURES / "normal" / "backend.log").read_text().splitlines()[:5]))
    got = ingest([path], format_of={path: "backend"})
    assert got.sources[0].prefix is None and got.sources[0].unknown == 5


def test_an_entry_read_alone_reads_as_its_message():
    # (timeline --follow reads a file's new lines one by one)
    line = "2026-11-24 11:04:30,967 - jarvis - INFO - [SocketIO] Client 1oqN3Huv connected"
    entry = _entry(datetime(2026, 11, 24, 10, 4, 30, 967400, tzinfo=UTC), line, 3)
    ev = parse_line(entry, "backend", "j.json", 7, offset_minutes=60)
    assert (ev.kind, ev.fields["sid"], ev.text, ev.line) == (
        "socket.connected", "1oqN3Huv", f"2026-11-24T10:04:30.967400+00:00 jarvis-vm python3[30389]: {line}", 7)
    assert ev.t_source == pd.Timestamp("2026-11-24T10:04:30.967Z").value / 1e9
    ev = parse_line(_entry(datetime(2026, 11, 24, tzinfo=UTC), "INFO:     Shutting down", 1), "backend")
    assert (ev.kind, ev.source) == ("server.process", "console")
    # another service's entry, a line that is no entry: unknown, as in the whole export
    ev = parse_line(_entry(datetime(2026, 11, 24, tzinfo=UTC), "GET / 200", 2, host="proxy", ident="nginx"), "backend")
    assert (ev.kind, ev.text) == ("unknown", "2026-11-24T00:00:00.000000+00:00 proxy nginx[30389]: GET / 200")
    assert parse_line('{"MESSAGE": "x"}', "backend").kind == "unknown"

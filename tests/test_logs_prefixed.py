"""The backend's log read through a log collector (journalctl, docker logs -t, kubectl logs
--timestamps, docker compose logs): every line behind a prefix, read as the plain log."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from logbuilder import collector_stamps

from jarvis_diag.events import COLUMNS
from jarvis_diag.ingest import ingest
from jarvis_diag.logs import fast, parse_line, prefixed
from jarvis_diag.timeline import build_timeline

FIXTURES = Path(__file__).parent / "fixtures"
DESYNC = FIXTURES / "callback-desync"
BACKEND_TIME = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) - ")
ZONE = timedelta(hours=1)  # (the fixture's backend ran at UTC+01:00: its recv_ts say so)
LAG = timedelta(microseconds=400)  # the collector stamps a line a little after it is written




def _local(t: datetime) -> datetime:
    return (t + ZONE).replace(tzinfo=None)


# (name, how a line's prefix is written from its stamp)
SHAPES = {
    "journal-short": ("journal", lambda t: f"{_local(t):%b %d %H:%M:%S} myhost python3[1234]: "),
    "journal-short-no-hostname": ("journal", lambda t: f"{_local(t):%b %d %H:%M:%S} jarvis[77]: "),
    "journal-short-precise": ("journal", lambda t: f"{_local(t):%b %d %H:%M:%S.%f} myhost python3[1234]: "),
    "journal-short-iso": ("journal", lambda t: f"{_local(t):%Y-%m-%dT%H:%M:%S}+01:00 myhost python3[1234]: "),
    "journal-short-iso-old": ("journal", lambda t: f"{_local(t):%Y-%m-%dT%H:%M:%S}+0100 myhost uvicorn[99]: "),
    "journal-short-iso-precise": ("journal", lambda t: f"{_local(t):%Y-%m-%dT%H:%M:%S.%f}+01:00 myhost python3[1234]: "),
    "journal-short-full": ("journal", lambda t: f"{_local(t):%a %Y-%m-%d %H:%M:%S} CET myhost python3[1234]: "),
    "journal-with-unit": ("journal", lambda t: f"{_local(t):%a %Y-%m-%d %H:%M:%S} CET myhost jarvis.service[1234]: "),
    "journal-short-unix": ("journal", lambda t: f"{t.timestamp():.6f} myhost python3[1234]: "),
    "journal-short-monotonic": ("journal", lambda t: f"[{t.timestamp() - 1795500000:12.6f}] myhost python3[1234]: "),
    "docker-t": ("docker", lambda t: f"{t:%Y-%m-%dT%H:%M:%S.%f}000Z "),
    "kubectl-timestamps": ("docker", lambda t: f"{t:%Y-%m-%dT%H:%M:%S.%f}".rstrip("0").rstrip(".") + "Z "),
    "compose": ("compose", lambda t: "jarvis-1  | "),
    "compose-t": ("compose", lambda t: f"jarvis-1  | {t:%Y-%m-%dT%H:%M:%S.%f}000Z "),
    "compose-t-local": ("compose", lambda t: f"jarvis-1  | {_local(t):%Y-%m-%dT%H:%M:%S.%f}000+01:00 "),
    "compose-t-no-log-prefix": ("docker", lambda t: f"{_local(t):%Y-%m-%dT%H:%M:%S.%f}000+01:00 "),
    "kubectl-prefix": ("kubectl", lambda t: "[pod/jarvis-7d9f/jarvis] "),
    "kubectl-prefix-timestamps": ("kubectl", lambda t: f"[pod/jarvis-7d9f/jarvis] {t:%Y-%m-%dT%H:%M:%S.%f}000Z "),
}


def _prefixed(lines: list[str], write) -> list[str]:
    return [write(t) + line for t, line in zip(collector_stamps(lines, ZONE, LAG), lines, strict=True)]


def _write(path: Path, lines: list[str]) -> str:
    path.write_text("".join(line + "\n" for line in lines))
    return str(path)


PLAIN_LINES = (DESYNC / "backend.log").read_text().splitlines()
# every column but the file, the text (the file's line) and the times (the plain log's rule, or the collector's)
SAME = [c for c in COLUMNS if c not in ("path", "text", "t", "t_source")]


@pytest.fixture(scope="module")
def plain():
    return ingest([str(DESYNC / "backend.log")])


@pytest.mark.parametrize("name", SHAPES)
def test_a_prefixed_backend_log_reads_as_the_plain_one(tmp_path, plain, name):
    shape, write = SHAPES[name]
    lines = _prefixed(PLAIN_LINES, write)
    got = ingest([_write(tmp_path / "backend.log", lines)])
    info = got.sources[0]
    assert (info.format, info.prefix, info.lines, info.unknown) == ("backend", shape, len(lines), 0)
    assert info.to_dict()["prefix"] == shape
    a, b = plain.events, got.events
    assert len(a) == len(b) == len(lines)
    for col in SAME:
        pd.testing.assert_series_equal(a[col].astype("object"), b[col].astype("object"), check_names=False)
    # the evidence is the file's line; a line with its own time keeps it
    assert b["text"].tolist() == [lines[i - 1] for i in b["line"]]
    own = a["text"].str.match(BACKEND_TIME.pattern).to_numpy()
    assert (a["t_source"][own].to_numpy() == b["t_source"][own].to_numpy()).all()
    assert got.zone.offset_minutes == 60


@pytest.mark.parametrize("name", ["journal-short", "docker-t", "compose-t", "kubectl-prefix"])
def test_the_timeline_of_a_prefixed_log_finds_what_the_plain_one_does(tmp_path, name):
    shape, write = SHAPES[name]
    path = _write(tmp_path / "jarvis.txt", _prefixed(PLAIN_LINES, write))
    pages = str(DESYNC / "frontend")
    want = build_timeline(ingest([str(DESYNC / "backend.log"), pages])).to_json_dict()
    got = build_timeline(ingest([path, pages])).to_json_dict()
    keys = ("kind", "severity", "at", "session", "client", "sid", "delay_ms", "occurrences", "first_at", "last_at")
    assert [{k: f[k] for k in keys} for f in got["findings"]] == [{k: f[k] for k in keys} for f in want["findings"]]
    assert [f["kind"] for f in got["findings"]][:3] == ["single-live-session", "callback-desync", "callback-desync"]
    plain = str(DESYNC / "backend.log")
    assert _evidence(got["findings"], path, shape) == _evidence(want["findings"], plain, shape)
    assert got["connections"] == want["connections"]
    assert _evidence(got["sessions"], path, shape) == _evidence(want["sessions"], plain, shape)


def _evidence(value, path: str, shape: str):
    """``value`` with the lines of the backend's log at ``path`` cited without their prefix."""
    if isinstance(value, list):
        return [_evidence(v, path, shape) for v in value]
    if not isinstance(value, dict):
        return value
    if value.get("path") == path and "text" in value:
        value = {**value, "path": "backend.log", "text": prefixed.strip(value["text"], shape)}
    return {k: _evidence(v, path, shape) for k, v in value.items()}


def test_app_log_and_the_journal_of_its_capture_are_read_once(tmp_path):
    journal = _write(tmp_path / "journal.log", _prefixed(PLAIN_LINES, SHAPES["journal-short-iso-precise"][1]))
    want = ingest([str(DESYNC / "app.log"), str(DESYNC / "backend.log")])
    got = ingest([str(DESYNC / "app.log"), journal])
    assert len(got.events) == len(want.events)
    assert [s.duplicates for s in got.sources] == [s.duplicates for s in want.sources]
    assert got.sources[1].duplicates > 0


def _at(df: pd.DataFrame, line: int) -> str:
    return df.loc[df["line"] == line, "t_source"].iloc[0].isoformat()


def test_a_line_with_no_time_of_its_own_takes_the_collectors(tmp_path):
    # uvicorn's console line 5 minutes after the backend's last line and 5 before its next:
    # the plain log can only put it with the line before
    body = ["2026-11-24 11:00:00,000 - jarvis - INFO - [SocketIO] Client AAAAAAAA connected",
            "INFO:     Shutting down",
            "2026-11-24 11:10:00,000 - jarvis - INFO - [SocketIO] Client BBBBBBBB connected"]
    docker = ["2026-11-24T10:00:00.000500000Z ", "2026-11-24T10:05:00.250500000Z ", "2026-11-24T10:10:00.000500000Z "]
    got = ingest([_write(tmp_path / "d.log", [p + b for p, b in zip(docker, body, strict=True)])], tz="+01:00")
    assert _at(got.events, 2) == "2026-11-24T10:05:00.250000+00:00"
    # journalctl's short output: local time of day, no year, whole seconds (the time that
    # passed is known to a second); past midnight too
    body = ["2026-12-31 23:59:58,900 - jarvis - INFO - [SocketIO] Client AAAAAAAA connected",
            "INFO:     Shutting down",
            "2027-01-01 00:10:00,000 - jarvis - INFO - [SocketIO] Client BBBBBBBB connected"]
    journal = ["Dec 31 23:59:58 h python3[1]: ", "Jan 01 00:05:00 h python3[1]: ", "Jan 01 00:10:00 h python3[1]: "]
    got = ingest([_write(tmp_path / "j.log", [p + b for p, b in zip(journal, body, strict=True)])], tz="UTC")
    assert _at(got.events, 2) == "2027-01-01T00:05:00.900000+00:00"
    # never out of the lines either side of it (a stamp that lags by more than the gap)
    body[2] = "2026-12-31 23:59:59,000 - jarvis - INFO - [SocketIO] Client BBBBBBBB connected"
    journal[2] = "Dec 31 23:59:59 h python3[1]: "
    got = ingest([_write(tmp_path / "j2.log", [p + b for p, b in zip(journal, body, strict=True)])], tz="UTC")
    assert _at(got.events, 2) == "2026-12-31T23:59:59+00:00"
    assert got.events["t_source"].is_monotonic_increasing


def test_other_services_in_the_same_output_are_kept_as_unknown_events(tmp_path):
    # docker compose logs of three services: the database's start-up first (more lines than
    # the format is told by), then its lines and the proxy's among the backend's, one in
    # the middle of a traceback
    other = [f"db-1      | 2026-11-24 10:04:{s:02d}.000 UTC [1] LOG:  checkpoint starting: time" for s in range(60)]
    jarvis = [f"jarvis-1  | {line}" for line in PLAIN_LINES]
    stamp = "2026-11-24 11:04:36,000 - jarvis - ERROR - Exception in handler"
    traceback = ["jarvis-1  | " + stamp, "jarvis-1  | Traceback (most recent call last):",
                 "proxy-1   | 172.18.0.1 - - [24/Nov/2026:10:04:36 +0000] \"GET /health HTTP/1.1\" 200 2",
                 "jarvis-1  |   File \"app.py\", line 1, in handler", "jarvis-1  | ValueError: boom"]
    lines = other + jarvis[:40] + ["proxy-1   | 172.18.0.1 - - \"GET / HTTP/1.1\" 200"] + traceback + jarvis[40:]
    path = _write(tmp_path / "compose.log", lines)
    got = ingest([path])
    info = got.sources[0]
    assert (info.format, info.prefix, info.lines) == ("backend", "compose", len(lines))
    ev = got.events
    assert len(ev) == len(lines) - 3  # (the traceback's three lines continue its first)
    unknown = ev[(ev["kind"] == "unknown") & ~ev["text"].str.startswith("jarvis-1")].sort_values("line")
    assert unknown["text"].tolist() == [line for line in lines if not line.startswith("jarvis-1")]
    assert unknown["line"].tolist() == [i + 1 for i, line in enumerate(lines) if not line.startswith("jarvis-1")]
    assert not [w for w in got.warnings if "not a Jarvis log" in w]
    error = ev[ev["text"] == traceback[0]]
    assert error["traceback"].iloc[0] == ("Traceback (most recent call last):\n  File \"app.py\", line 1, in handler\n"
                                          "ValueError: boom")
    # the backend's own lines read as they do alone
    plain = ingest([str(DESYNC / "backend.log")]).events
    mine = ev[ev["text"].str.startswith("jarvis-1") & (ev["text"] != traceback[0])].sort_values("line")
    assert mine["kind"].tolist() == plain["kind"].tolist()
    assert mine["sid"].astype("object").tolist() == plain["sid"].astype("object").tolist()


def test_another_uvicorn_service_is_not_the_backend(tmp_path):
    # docker compose logs of the backend and of another API served by uvicorn, which starts
    # and stops while the backend runs on: its lines are not the backend's restarts
    lines = [f"jarvis-1  | {line}" for line in PLAIN_LINES]
    other = ["api-1     | INFO:     Shutting down", "api-1     | INFO:     Finished server process [7]",
             "api-1     | INFO:     Started server process [8]", "api-1     | INFO:     Application startup complete."]
    lines[100:100] = other
    got = ingest([_write(tmp_path / "compose.log", lines)])
    ev = got.events
    theirs = ev[ev["text"].str.startswith("api-1")]
    assert theirs["kind"].tolist() == ["unknown"] * 4 and theirs["text"].tolist() == other
    plain = ingest([str(DESYNC / "backend.log")]).events
    assert (ev["kind"] != "unknown").sum() == (plain["kind"] != "unknown").sum()


def test_a_merged_journal_keeps_other_units_and_hosts(tmp_path):
    stamps = collector_stamps(PLAIN_LINES, ZONE, LAG)
    lines = ["-- Boot 0123456789abcdef0123456789abcdef --",
             f"{_local(stamps[0]):%b %d %H:%M:%S} myhost systemd[1]: Started jarvis.service - Jarvis backend."]
    for i, (t, line) in enumerate(zip(stamps, PLAIN_LINES, strict=True)):
        lines.append(f"{_local(t):%b %d %H:%M:%S} myhost python3[1234]: {line}")
        if i % 50 == 7:
            lines.append(f"{_local(t):%b %d %H:%M:%S} otherhost nginx[88]: 10.0.0.1 - - \"GET /\" 200")
    got = ingest([_write(tmp_path / "journal.txt", lines)])
    assert got.sources[0].prefix == "journal"
    ev = got.events
    kept = ev[ev["kind"] == "unknown"].sort_values("line")
    assert kept["text"].tolist() == [line for line in lines if "python3[" not in line]
    assert (ev["kind"] != "unknown").sum() == len(PLAIN_LINES)


def test_detect_tells_the_shapes_apart_and_leaves_other_lines_alone():
    assert prefixed.detect(["2026-01-30T01:29:39.123456789Z INFO:     Started server process [1]"]) == "docker"
    assert prefixed.detect(["2026-01-30T01:29:39+00:00 host python3[1]: INFO:     Started server process [1]"]) \
        == "journal"
    assert prefixed.detect(["jarvis-1  | 2026-01-30T01:29:39.123456789Z 2026-01-30 01:29:39,123 - jarvis - "
                            "INFO - Database initialized"]) == "compose"
    # a line of no service of the backend's, a plain log line, a frontend line: no prefix
    assert prefixed.detect(["Dec 07 01:02:03 host sshd[1]: Accepted publickey for dev"]) is None
    assert prefixed.detect(PLAIN_LINES[:5]) is None
    assert prefixed.detect(["[2026-11-24T10:03:38.402Z] [INFO] [SocketIO] Connected"]) is None


def test_place_keeps_lines_between_their_neighbours():
    t = prefixed.place(np.array([0, 2, 4]), np.array([5.0, 11.0, np.nan]), np.array([1, 3]), np.array([10.0, 20.0]),
                       np.array([100.0, 101.0]), wraps=False)
    # before the first anchor: from the one after; between: clamped to the next; no stamp:
    # the anchor's own time
    assert t.tolist() == [95.0, 101.0, 101.0]


def test_a_big_prefixed_file_is_not_read_as_a_plain_one(tmp_path):
    # (files of 4 MiB and more are parsed as they are read, when no prefix is found in their head)
    write = SHAPES["docker-t"][1]
    one = _prefixed(PLAIN_LINES, write)
    copies = fast.STREAM_MIN_BYTES // sum(len(line) + 1 for line in one) + 1
    path = _write(tmp_path / "big.log", one * copies)
    got = ingest([path])
    assert got.sources[0].prefix == "docker"
    assert got.sources[0].unknown == 0 and got.sources[0].events == len(one) * copies


@pytest.mark.parametrize("size", ["over 256 KiB", "over 4 MiB"])
def test_a_journal_whose_first_lines_are_all_other_services_finds_the_backend_further_on(tmp_path, size):
    # `journalctl -b > journal.log` on a busy host: more than its first 256 KiB (what the
    # format is told by) are other services' lines. It was read as no Jarvis log at all: the
    # timeline of the page logs alone, with a warning that the backend's log was none
    write = SHAPES["journal-short-iso-precise"][1]
    start = datetime(2026, 11, 24, 10, 3, 29)
    other_bytes = 300_000 if size == "over 256 KiB" else fast.STREAM_MIN_BYTES + 1000
    other, written = [], 0
    while written < other_bytes:
        at = start + timedelta(milliseconds=len(other))
        other.append(f"{_local(at):%Y-%m-%dT%H:%M:%S.%f}+01:00 myhost kernel[{len(other) % 900}]: an unrelated "
                     f"system message, number {len(other)}, padded to the length of a real one .........")
        written += len(other[-1]) + 1
    lines = ["-- Boot 4e3d4d0f51dd5d5cdd946658d2511c38 --", *other, *_prefixed(PLAIN_LINES, write)]
    path = _write(tmp_path / "journal.log", lines)
    pages = str(DESYNC / "frontend")
    got = ingest([path, pages])
    info = got.sources[0]
    assert (info.format, info.prefix, info.lines, info.unknown) == ("backend", "journal", len(lines), len(other) + 1)
    assert not [w for w in got.warnings if "Jarvis" in w], got.warnings
    want = build_timeline(ingest([str(DESYNC / "backend.log"), pages])).to_json_dict()
    findings = build_timeline(got).to_json_dict()["findings"]
    keys = ("kind", "severity", "at", "session", "client", "sid", "delay_ms")
    assert [{k: f[k] for k in keys} for f in findings] == [{k: f[k] for k in keys} for f in want["findings"]]


def test_a_collectors_output_of_other_services_alone_is_still_no_jarvis_log(tmp_path):
    # (the search for the backend's lines goes over the rest of the file, and finds none)
    other = [f"2026-11-24T10:03:{s % 60:02d}.000000+01:00 myhost kernel[1]: message {s}, " + "x" * 100
             for s in range(3000)]
    got = ingest([_write(tmp_path / "journal.log", other)])
    assert got.sources[0].prefix is None and got.sources[0].unknown == len(other)
    assert [w for w in got.warnings if "none of its 3,000 lines is one the Jarvis backend" in w]


@pytest.mark.parametrize("engine", ["numpy", "reference"])
def test_every_parser_reads_a_collectors_output_alike(tmp_path, engine):
    lines = _prefixed(PLAIN_LINES, SHAPES["compose-t"][1])
    lines[30:30] = ["redis-1   | 1:M 24 Nov 2026 10:04:40.000 * Ready to accept connections tcp"]
    path = _write(tmp_path / "compose.log", lines)
    want, got = ingest([path]).events, ingest([path], engine=engine).events
    for col in ["text", "t_source", *SAME]:
        pd.testing.assert_series_equal(want[col].astype("object"), got[col].astype("object"), check_names=False)


def test_a_line_read_alone_reads_behind_its_prefix():
    # (timeline --follow reads a file's new lines one by one)
    line = "2026-11-24T10:04:30.967400000Z 2026-11-24 11:04:30,967 - jarvis - INFO - [SocketIO] Client 1oqN3Huv connected"
    ev = parse_line(line, "backend", "d.log", 7, offset_minutes=60)
    assert (ev.kind, ev.fields["sid"], ev.logger, ev.level, ev.text, ev.line) == (
        "socket.connected", "1oqN3Huv", "jarvis", "INFO", line, 7)
    assert ev.t_source == pd.Timestamp("2026-11-24T10:04:30.967Z").value / 1e9
    ev = parse_line("Dec 07 01:02:03 host python3[1]: INFO:     Shutting down", "backend")
    assert (ev.kind, ev.source, ev.level) == ("server.process", "console", "INFO")
    ev = parse_line("Dec 07 01:02:03 host sshd[1]: Accepted publickey for dev", "backend")
    assert ev.kind == "unknown"


@pytest.mark.parametrize("name", ["docker-t", "compose-t-local", "journal-short-iso", "journal-short-unix"])
def test_a_collectors_instants_tell_the_backends_zone(tmp_path, name):
    # a backend log with no epoch of its own (no recv_ts, no request with the client's time):
    # alone, its zone is this machine's guess; the collector's stamps are instants
    lines = [line for line in PLAIN_LINES if "recv_ts=" not in line and "socket.io" not in line]
    plain = ingest([_write(tmp_path / "plain.log", lines)], tz=None)
    assert plain.zone.source == "machine" and plain.zone.pairs == 0
    got = ingest([_write(tmp_path / "prefixed.log", _prefixed(lines, SHAPES[name][1]))])
    assert (got.zone.offset_minutes, got.zone.source, got.zone.warning) == (60, "recv_ts", None)
    assert got.zone.pairs == sum(1 for line in lines if BACKEND_TIME.match(line))
    # a time of day (journalctl's short output) is no instant: the zone is still a guess
    got = ingest([_write(tmp_path / "short.log", _prefixed(lines, SHAPES["journal-short-precise"][1]))])
    assert got.zone.source == "machine"


def test_lines_stamped_long_after_they_were_written_tell_no_zone(tmp_path):
    # Python's stdout to a pipe is written in blocks: a collector stamps a block's lines when
    # it comes, 47 minutes later here for a third of them (an offset of 00:13 if believed)
    lines = [line for line in PLAIN_LINES if "recv_ts=" not in line and "socket.io" not in line]
    stamps = collector_stamps(lines, ZONE, LAG)
    stamps = [t + timedelta(minutes=47) if i % 3 == 0 else t for i, t in enumerate(stamps)]
    prefixed_lines = [f"{t:%Y-%m-%dT%H:%M:%S.%f}000Z {line}" for t, line in zip(stamps, lines, strict=True)]
    got = ingest([_write(tmp_path / "d.log", prefixed_lines)])
    assert (got.zone.offset_minutes, got.zone.source, got.zone.warning) == (60, "recv_ts", None)
    assert got.events["t_source"].is_monotonic_increasing


def test_the_terminal_sources_table_says_the_prefix_read(tmp_path):
    import subprocess
    import sys

    path = _write(tmp_path / "journal.log", _prefixed(PLAIN_LINES, SHAPES["journal-short"][1]))
    out = subprocess.run([sys.executable, "-m", "jarvis_diag", "timeline", path], capture_output=True, text=True,
                         env={**__import__("os").environ, "COLUMNS": "200"}, check=True).stdout
    assert re.search(r"journal\.log\s+│ backend \(journal\)", out)


def _variants(lines: list[str]) -> dict[str, bytes]:
    """A collector's output as files come: as written, with CRLF line ends, with no newline
    after the last line, with a byte-order mark, with a NUL and bytes that are no UTF-8, with
    a line of the collector itself, with a second service's lines."""
    text = "".join(line + "\n" for line in lines)
    other = [line.replace("jarvis-1", "nginx-1").replace("pod/jarvis-7d9f", "pod/nginx-5c4")
             .replace("myhost ", "otherhost ").replace("jarvis[77]", "nginx[77]") if i % 7 == 3 else line
             for i, line in enumerate(lines)]
    return {
        "as-written": text.encode(),
        "crlf": text.replace("\n", "\r\n").encode(),
        "no-last-newline": text[:-1].encode(),
        "bom": b"\xef\xbb\xbf" + text.encode(),
        "nul-and-bad-bytes": text.replace("\n", "\x00\n", 1).encode().replace(b"\n", b" \xff\n", 2),
        "collector-line": ("-- Boot 0123 --\n" + text).encode(),
        "two-services": "".join(line + "\n" for line in other).encode(),
    }


@pytest.mark.parametrize("name", SHAPES)
def test_the_compiled_reading_of_prefixes_gives_what_one_line_at_a_time_does(tmp_path, name):
    # (engine="fast" reads one service's prefixes and the stamps it needs in one pass each and
    # takes each row's text from the file's line; engine="numpy" reads them one line at a
    # time and joins prefix and text)
    lines = _prefixed(PLAIN_LINES, SHAPES[name][1])
    for variant, data in _variants(lines).items():
        path = tmp_path / f"{variant}.log"
        path.write_bytes(data)
        want, got = ingest([str(path)], engine="numpy"), ingest([str(path)])
        assert got.sources[0].prefix == SHAPES[name][0], variant
        pd.testing.assert_frame_equal(want.events, got.events, obj=variant)
        assert [s.to_dict() for s in want.sources] == [s.to_dict() for s in got.sources], variant
        assert want.zone.offset_minutes == got.zone.offset_minutes, variant


def test_prefixes_are_the_lines_heads_as_text_bad_bytes_and_all():
    lines = [b"Dec 07 01:02:03 myhost python3[1234]: 2026-12-07 01:02:03,123 - app - INFO - hi",
             b"Dec 07 01:02:04 my\xffhost python3[1234]: 2026-12-07 01:02:04,123 - app - INFO - hi",
             b"-- Boot 0123456789abcdef --",
             b"Dec 07 01:02:05 myhost python3[1234]: INFO:     connection open"]
    data = bytearray(b"\n".join(lines) + b"\n")
    sc = prefixed.scan(data, "journal")
    every = np.arange(len(sc))
    got = prefixed.prefixes(data, sc, every).to_pylist()
    assert got == [line[:cut].decode("utf-8", "replace") for line, cut in zip(lines, sc.cut.tolist(), strict=True)]
    assert got[1] == "Dec 07 01:02:04 my\ufffdhost python3[1234]: " and got[2] == ""
    assert prefixed.prefixes(data, sc, every[:0]).to_pylist() == []
    data += b"more\n"  # (the bytes are not held once the prefixes are cut: a file's buffer is reused)


def test_rfc3339_stamps_read_at_once_are_those_read_line_by_line():
    # (odd fractions and offsets, impossible months and years, a day past the month's end)
    times = ["2026-11-24T09:00:00Z", "2026-11-24T09:00:00.5Z", "2026-11-24T09:00:00,123456789+01:00",
             "1969-12-31T23:59:59.999-0530", "0000-01-01T00:00:00Z", "2026-13-01T00:00:00Z",
             "2026-02-31T25:61:61.1234567-00:00", "2024-02-29T12:00:00.000000001+14:00", "9999-12-31T23:59:59Z"]
    for shape, head in (("docker", ""), ("compose", "jarvis-1  | "), ("kubectl", "[pod/jarvis-7d9f/jarvis] ")):
        lines = [f"{head}{t} INFO:     connection open" for t in times] + [f"{head}INFO:     connection open"]
        data = "\n".join(lines).encode()
        sc = prefixed.scan(data, shape)
        every = np.arange(len(sc))[::-1].copy()
        fast_s, _ = prefixed.stamps(data, sc, every)
        slow_s, _ = prefixed.stamps(data, sc, every, at_once=False)
        np.testing.assert_array_equal(fast_s, slow_s)
        np.testing.assert_array_equal(prefixed._rfc3339_stamps(data, sc, every), slow_s)
        assert np.isnan(slow_s).sum() == 3  # (year 0, month 13, no time)


def test_journal_prefixes_and_stamps_read_at_once_are_those_read_line_by_line():
    # (every time journalctl writes, and what looks like one: a seventh decimal, a day of
    # three digits, a month 13, a host and no identifier, a pid with no digits...)
    times = ["Dec 07 01:02:03", "Dec  7 01:02:03", "Dec 7 01:02:03.123456", "Dec 07 01:02:03.1234567", "Dec 123 01:02:03",
             "Mon 2026-12-07 01:02:03 CET", "Mon 2026-13-07 01:02:03.5 CET", "2026-12-07T01:02:03+01:00",
             "2026-12-07T01:02:03.123456+0100", "2026-00-07T01:02:03Z", "1796605323.123456", "179660532.1234567",
             "[ 1234.567890]", "[1234.56789]", "Décembre 07 01:02:03", "ABCDEFGHI 07 01:02:03"]
    rests = [" myhost python3[1234]: ", " python3[1234]: ", " jarvis: ", " myhost python3[]: ", " h i[1]:",
             " myhost  python3: ", " otherhost python3[1]: "]
    lines = [t + r + "INFO:     connection open" for t in times for r in rests] + ["-- Boot 0123 --"]
    data = "\n".join(lines).encode()
    slow = prefixed.scan(data, "journal", compiled=False)
    fast_scan = prefixed.scan(data, "journal")  # (two hosts: read line by line as well)
    np.testing.assert_array_equal(fast_scan.cut, slow.cut)
    # (one service, and lines with no prefix: read in one pass)
    one = "\n".join(t + r + "INFO:     connection open" for t in times
                    for r in (" myhost python3[1234]: ", " myhost python3[]: ", " h i[1]:", " myhost  python3: ")).encode()
    slow, fast_scan = prefixed.scan(one, "journal", compiled=False), prefixed.scan(one, "journal")
    for name in ("starts", "ends", "cut", "key"):
        np.testing.assert_array_equal(getattr(fast_scan, name), getattr(slow, name))
    assert fast_scan.keys == slow.keys == ["myhost python3"]
    every = np.arange(len(slow))[::-1].copy()
    got, want = prefixed.stamps(one, fast_scan, every), prefixed.stamps(one, slow, every, at_once=False)
    np.testing.assert_array_equal(got[0], want[0])
    assert got[1] is want[1] is True


@pytest.mark.parametrize("services", [2, 300])
def test_the_compiled_scan_numbers_services_as_the_line_by_line_one(services):
    # (in the order first met; past 256 services the lines are read one by one)
    lines = [f"svc-{i % services}  | INFO:     connection open" if i % 7 else "no prefix" for i in range(1500)]
    data = "\n".join(lines).encode()
    got, want = prefixed.scan(data, "compose"), prefixed.scan(data, "compose", compiled=False)
    for name in ("cut", "key"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name))
    assert got.keys == want.keys and len(want.keys) == services


def test_a_message_s_second_line_in_app_log_and_a_capture_stamped_later_is_read_once(tmp_path):
    # a message of two lines, in app.log and in a `docker logs -t` capture of the backend: the
    # collector stamped the second line (no time of its own) microseconds after the first, and
    # it is placed there; app.log gives it the first line's time. To the millisecond the logs
    # write, the same instant: one event.
    app = (DESYNC / "app.log").read_text().splitlines()
    message, second = app[33], "second line of the message, not indented"  # (the next line: 7 ms on)
    at = app.index(message) + 1
    (tmp_path / "app.log").write_text("".join(f"{line}\n" for line in [*app[:at], second, *app[at:]]))
    captured = _prefixed(PLAIN_LINES, SHAPES["docker-t"][1])
    at = next(i for i, line in enumerate(captured) if line.endswith(message)) + 1
    stamp = datetime.strptime(captured[at - 1][:26], "%Y-%m-%dT%H:%M:%S.%f") + timedelta(microseconds=7)
    captured.insert(at, f"{stamp:%Y-%m-%dT%H:%M:%S.%f}000Z {second}")
    got = ingest([str(tmp_path / "app.log"), _write(tmp_path / "backend.log", captured)])
    assert got.sources[1].prefix == "docker"
    assert [s.duplicates for s in got.sources] == [0, len(app) + 1]
    assert (got.events["text"].str.endswith(second)).sum() == 1

"""A file that is no text (a core dump, a tarball, an image named as a log) is read like a log:
every line kept and counted, the undecodable ones said; and at the cost of a log: its bytes
are made text in one pass, and its lines, which no format writes, are told from their bytes
without a string made for each (benchmarks/bench_ingest.py measures the time and memory)."""

from __future__ import annotations

import random
import re
from pathlib import Path

import numpy as np
import pytest

from jarvis_diag.ingest import ingest
from jarvis_diag.logs import fast
from jarvis_diag.logs.shapes import tag_of
from jarvis_diag.logs.text import _CONTINUATION_START, _TERMINAL_CODE_BYTES, split_line, strip_terminal_codes

pytestmark = pytest.mark.skipif(not fast.COMPILED, reason="the compiled loops were not built")
_scan = fast._scan

LOG = (b"2026-01-30 09:29:35,591 - jarvis - INFO - [SocketIO] Client QEy5Hbsz connected\n"
       b"Traceback (most recent call last):\n  File \"app.py\", line 1\n"
       b"[2026-01-30T01:29:39.290Z] [DEBUG] [ConnMgr] Page hidden\n")


def _binary(size: int, seed: int) -> bytes:
    """Random bytes, with the shapes binary files have: NUL runs, carriage returns, colour
    codes, a U+FFFD, log lines among them."""
    rng = random.Random(seed)
    pieces = [rng.randbytes(rng.randint(1, 600)) for _ in range(size // 300)]
    extras = [b"\x00" * 5000, b"\r\r\n", b"\r", b"\x1b[31m", b"\x1b[", "\ufffd".encode(), LOG, b"\n   \n", b" "]
    for extra in extras * 4:
        pieces.insert(rng.randrange(len(pieces)), extra)
    return b"".join(pieces)


def _python_clean(data: bytes, max_line: int) -> tuple[bytes, int, int]:
    """What _scan.clean makes of bytes ending in a newline, as the reference parser reads them."""
    text = re.sub("\r+\n", "\n", data.decode("utf-8", errors="replace"))
    lines, bad, long = [], 0, 0
    for line in text.split("\n")[:-1]:
        if len(line) > max_line:
            line, long = line[:max_line], long + 1
        bad += "\x00" in line or "\ufffd" in line
        lines.append(line.replace("\x00", ""))
    return "".join(f"{line}\n" for line in lines).encode(), bad, long


def test_bytes_become_the_text_pythons_decoder_makes() -> None:
    rng = random.Random(7)
    alphabet = [b"\n", b"\r", b"\x00", b"a", b" ", "\ufffd".encode(), b"\xe0", b"\xa0", b"\x80", b"\xbf", b"\xed",
                b"\x9f", b"\xf0", b"\x90", b"\xf4", b"\x8f", b"\xc2", b"\xff", b"\xc1", "\u20ac".encode(),
                "\U0001f600".encode(), b"abcdefghijklmnop"]
    for trial in range(6000):
        data = b"".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) + b"\n"
        if trial % 3 == 0:
            data = rng.randbytes(rng.randint(0, 80)) + b"\n"
        max_line = rng.choice([1, 3, 8, 13, 1000])
        expected = _python_clean(data, max_line)
        text, bad, long = _scan.clean(data, max_line, False)
        assert (bytes(text), bad, long) == expected, (data, max_line)
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        buffer = bytearray(data)  # (valid UTF-8: cleaned where it is)
        text, bad, long = _scan.clean(buffer, max_line, True)
        assert text is buffer and (bytes(text), bad, long) == expected, (data, max_line)


def test_big_bytes_are_cleaned_in_two_halves_as_in_one() -> None:
    # (over 8 MiB, the second half is cleaned on a thread of its own, from a line's start)
    rng = random.Random(3)
    parts = [rng.randbytes(rng.randint(0, 3000)) if rng.random() < 0.5 else b"caf\xc3\xa9 line\r\n" * 40
             for _ in range(9000)]
    data = b"\n".join(parts) + b"\n"
    assert len(data) > 8 << 20
    for max_line in (100, 1 << 26):
        text, bad, long = _scan.clean(data, max_line, False)
        assert (bytes(text), bad, long) == _python_clean(data, max_line)
    valid = data.decode("utf-8", errors="replace").encode()
    text, bad, long = _scan.clean(bytearray(valid), 1 << 26, True)
    assert (bytes(text), bad, long) == _python_clean(valid, 1 << 26)


def test_terminal_codes_go_as_the_regular_expression_finds_them() -> None:
    rng = random.Random(5)
    alphabet = [b"\x1b", b"[", b"0", b";", b"?", b" ", b"/", b"m", b"@", b"~", b"\x7f", b"a", b"\n", b"\x1b[31m"]
    for _ in range(5000):
        data = b"".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24)))
        text, count = strip_terminal_codes(bytearray(data))
        assert (bytes(text), count) == _TERMINAL_CODE_BYTES.subn(b"", data), data


# lines that start as a log line does, or nearly (each told, or read, as text.split_line reads it)
NEAR = [b"2026-11-24 11:03:38,055 - x", b"2026-13-24 11:03:38,055 - jarvis - INFO - m", b"2026-11-24 11:03:38.055 - ",
        b"20261124", b"2", "\u0662026-11-24 11:03:38,055 - j - INFO - m".encode(), b"[2026-11-24T10:03:38Z] [INFO] m",
        b"[2026-11-24T10:03:38.1234567Z] m", b"[12:00:01] hello", b"[12:00:0x] hello", b"[x", b"[", b"INFO:     x",
        b"INFO:x", b"INFO", b"INFOx:", b"TRACE:\tx", b"Traceback (most recent call last):", b"Traceback (most",
        b"Tx", b"DEBUG", b"CRITICAL: y", "WARNING:\u00a0x".encode(), b" \t ", b"\x1c\x1f",
        "\u00a0".encode(), "\u2003x".encode(), b"\tx", b"  Traceback", b"Exception: boom", b"Cx", b"E", b"W"]


def test_binary_lines_are_told_from_their_bytes() -> None:
    data, _buf, nl, *_ = fast._sanitise(_binary(400_000, 1) + b"\n" + b"\n".join(NEAR) + b"\n", True)
    idx = np.arange(len(nl), dtype=np.int64)
    kinds = fast._plain_lines(data, nl, idx, True)
    # most lines of binary data are told without a string made for each ...
    assert np.count_nonzero(kinds) > 0.8 * len(nl)
    told = dict(zip(NEAR, kinds[-len(NEAR):].tolist(), strict=True))
    assert [told[line] for line in (b"2026-11-24 11:03:38.055 - ", b"INFOx:", b"Tx", b"Exception: boom")] == [2] * 4
    assert [told[line] for line in (b"Traceback (most recent call last):", b"\tx", b"  Traceback")] == [1] * 3
    assert [told[line] for line in (b"INFO:     x", b"[12:00:01] hello", b"[x", b"2026-13-24 11:03:38,055 - jarvis - INFO - m",
                                    "\u00a0".encode(), b" \t ")] == [0] * 6
    # ... and rightly: no prefix of any format, not blank, indented or not
    starts = fast._starts(nl)
    for line, kind in zip(idx.tolist(), kinds.tolist(), strict=True):
        if kind:
            text = bytes(data[starts[line]:nl[line]]).decode("utf-8")
            assert split_line(text) is None and text.strip() and tag_of(text) is None, text
            assert (_CONTINUATION_START.match(text) is not None) == (kind == fast._INDENTED), text


@pytest.mark.parametrize("seed", [1, 2])
def test_a_binary_file_reads_as_the_reference_parser_reads_it(tmp_path: Path, seed: int) -> None:
    path = tmp_path / "core.log"
    path.write_bytes(_binary(300_000, seed))
    got = {engine: ingest([str(path)], engine=engine) for engine in ("fast", "numpy", "reference")}
    for engine in ("numpy", "reference"):
        for column in ("text", "traceback", "kind", "line", "t_source", "source"):
            assert got["fast"].events[column].equals(got[engine].events[column]), (engine, column)
        assert got["fast"].sources == got[engine].sources, engine
    [info] = got["fast"].sources
    assert info.lines > 1000 and info.bad_lines > 0.9 * info.lines and info.events < info.lines
    # every line is kept: as an event, or in the traceback of the event before it
    df = got["fast"].events
    kept = len(df) + int(df["traceback"].dropna().str.count("\n").sum()) + int(df["traceback"].notna().sum())
    lines = path.read_bytes().removesuffix(b"\n").split(b"\n")
    blank = sum(not line.replace(b"\x00", b"").decode("utf-8", errors="replace").strip() for line in lines)
    assert kept + blank == info.lines == len(lines)
    # one line says what the file is (not that no line is the app's, nor that its last is cut)
    said = [w for w in got["fast"].warnings if w.startswith(f"{path}: ")]
    assert f"{path}: binary data, not a log? ({info.bad_lines:,} of its {info.lines:,} lines have undecodable or " \
           "NUL bytes; kept as read)" in said
    assert not [w for w in said if "not a Jarvis log" in w or "lines with undecodable" in w or "middle of a line" in w]

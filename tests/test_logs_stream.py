"""Big files are read and parsed at once (``fast.stream_parse``): the same frame as reading
them whole first, for clean text and for every kind of damage that sends them the whole-buffer way."""

from __future__ import annotations

import gzip
import os
import threading
from pathlib import Path

import pandas as pd
import pytest

from jarvis_diag.frames import events_to_jsonl
from jarvis_diag.ingest import ingest
from jarvis_diag.logs import _scan, fast
from jarvis_diag.logs.text import MAX_LINE

FIXTURES = Path(__file__).parent / "fixtures"
NOISE = (b"INFO:     127.0.0.1:50000 - \"GET / HTTP/1.1\" 200 OK\n\n"
         b"2026-11-24 11:03:39,000 - jarvis - ERROR - [SocketIO] Client AAAAAAAA send error: x\n"
         b"Traceback (most recent call last):\n  File \"x.py\", line 1\nValueError: y\n"
         + "2026-11-24 11:03:39,001 - jarvis - INFO - [Chat] réponse 中文 😀\n".encode())


def _big_log() -> bytes:
    """Over STREAM_MIN_BYTES of real backend and frontend lines, noise and tracebacks."""
    d = FIXTURES / "callback-desync"
    one = b"".join(p.read_bytes() for p in [d / "backend.log", *sorted((d / "frontend").glob("*.log"))]) + NOISE
    return one * (fast.STREAM_MIN_BYTES // len(one) + 2)


def _stream_of(path: Path) -> tuple[bool, list[str]]:
    """(dirty?, the messages handed out while reading) of the C reader on a file."""
    with open(path, "rb") as fh:
        stream = _scan.Stream(fh.fileno(), os.fstat(fh.fileno()).st_size, MAX_LINE)
    runner = threading.Thread(target=stream.run)
    runner.start()
    keys: list[str] = []
    while True:
        found, _got, done = stream.wait(len(keys), 2**62, 5.0)
        keys += stream.keys(len(keys), found)
        if done and found == len(keys):
            break
    runner.join()
    return stream.result()[0], keys


def assert_same_frame(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """assert_frame_equal, with categoricals compared by categories and codes (pandas compares
    their values one object at a time: seconds on frames this size)."""
    assert list(a.columns) == list(b.columns) and len(a) == len(b)
    for name in a.columns:
        x, y = a[name], b[name]
        if isinstance(x.dtype, pd.CategoricalDtype):
            assert x.dtype == y.dtype, name
            assert (x.cat.codes.to_numpy() == y.cat.codes.to_numpy()).all(), name
        else:
            pd.testing.assert_series_equal(x, y)


def _same_as_whole(path: Path, **kw) -> pd.DataFrame:
    """The streamed reading gives the rows, counters and warnings of the whole-buffer one."""
    got, whole = ingest([str(path)], **kw), ingest([str(path)], engine="numpy", **kw)
    assert_same_frame(got.events, whole.events)
    assert [s.to_dict() for s in got.sources] == [s.to_dict() for s in whole.sources]
    assert got.warnings == whole.warnings and got.zone == whole.zone
    return got.events


def test_a_big_clean_log_is_streamed_and_reads_as_a_whole(tmp_path: Path) -> None:
    path = tmp_path / "all.log"
    data = _big_log()
    path.write_bytes(data)
    dirty, keys = _stream_of(path)
    assert not dirty
    # every distinct message after a stamp, once, in the order first seen
    assert "- jarvis - INFO - [Chat] réponse 中文 😀" in keys and len(keys) == len(set(keys))
    events = _same_as_whole(path)
    assert len(events) > 30_000 and (events["kind"] == "unknown").any() and events["traceback"].notna().any()
    assert set(events["source"]) == {"backend", "frontend", "console"}


def test_a_big_log_with_no_stamped_line_is_streamed_too(tmp_path: Path) -> None:
    # uvicorn's console lines only (a captured stdout), read as a backend log: the reader
    # finds no message after a stamp at all
    path = tmp_path / "stdout.log"
    path.write_bytes(b"".join(b'INFO:     127.0.0.1:%d - "GET /health HTTP/1.1" 200 OK\n' % (40000 + i % 9000)
                              for i in range(fast.STREAM_MIN_BYTES // 50)))
    dirty, keys = _stream_of(path)
    assert not dirty and keys == []
    events = _same_as_whole(path, format_of={str(path): "backend"})
    assert len(events) == fast.STREAM_MIN_BYTES // 50 and set(events["source"]) == {"console"}


DAMAGE = {
    "byte-order mark": lambda d: b"\xef\xbb\xbf" + d,
    "NUL byte": lambda d: d[:1000] + b"\x00" + d[1000:],
    "bytes that are not UTF-8": lambda d: d[:2_000_000] + b"\xff\xfe\x80 " + d[2_000_000:],
    "a cut 3-byte character": lambda d: d[:3000] + "中".encode()[:2] + b"\n" + d[3000:],
    "U+FFFD in the text": lambda d: d[:5000] + "\ufffd".encode() + d[5000:],
    "CRLF endings": lambda d: d.replace(b"\n", b"\r\n"),
    "a line over MAX_LINE bytes": lambda d: d + b"2026-11-24 11:03:40,000 - jarvis - INFO - " + "é".encode() * (MAX_LINE // 2 + 10) + b"\n",
    "no newline at the end": lambda d: d + b"2026-11-24 11:03:40,000 - jarvis - INFO - cut sh",
}


@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
def test_damaged_big_logs_are_read_the_whole_buffer_way(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "all.log"
    path.write_bytes(DAMAGE[damage](_big_log()))
    dirty, _keys = _stream_of(path)
    assert dirty
    _same_as_whole(path)


def test_a_big_log_with_lines_of_megabytes_is_streamed_whole(tmp_path: Path) -> None:
    # a chat message of megabytes, and the traceback of its failed send that quotes it: a
    # realistic log, clean text: read as it arrives, every line whole
    path = tmp_path / "app.log"
    content = "data:image/png;base64," + "iVBORw0KGgo" * 300_000
    quoted = ["Traceback (most recent call last):", '  File "/app/socketio_handler.py", line 1, in send',
              *(f"    payload[{i}] = {content[:40_000]!r}" for i in range(400)), f"ValueError: {content}"]
    long = ("2026-11-24 11:03:41,578 - jarvis - INFO - [SocketIO] Chat message received: sid=LU4XadoC, "
            f"session=new-1795, content={content}...\n"
            f"2026-11-24 11:03:41,600 - jarvis - ERROR - [SocketIO] Client LU4XadoC send error: {content}\n"
            + "\n".join(quoted) + "\n").encode()
    d = FIXTURES / "callback-desync"
    real = b"".join(p.read_bytes() for p in [d / "backend.log", *sorted((d / "frontend").glob("*.log"))])
    real *= fast.STREAM_MIN_BYTES // len(real) + 2
    path.write_bytes(real + long + real)
    dirty, keys = _stream_of(path)
    assert not dirty and any(content in k for k in keys)
    events = _same_as_whole(path)
    # (its only traceback: the column was taken with Arrow, which reserved the mean length of
    # the tracebacks for every row, 19 MB times 80,000 rows: more memory than there is)
    assert events["traceback"].notna().sum() == 1
    [received] = events[events["kind"] == "message.received"].query("text.str.len() > 1000000").itertuples()
    assert received.text == long.decode().split("\n")[0]
    [failed] = events[events["text"].str.contains(content, regex=False) & (events["kind"] == "emit.error")].itertuples()
    assert failed.traceback == "\n".join(quoted)


def test_big_exports_gzip_and_forced_formats_keep_their_readers(tmp_path: Path) -> None:
    log = tmp_path / "all.log"
    log.write_bytes(_big_log())
    export = tmp_path / "events.jsonl"
    with open(export, "w") as fp:
        events_to_jsonl(ingest([str(log)]).events, fp)
    assert export.stat().st_size > fast.STREAM_MIN_BYTES
    # our own export: read as JSONL, not as a log
    read_back, read = ingest([str(export)]).events, ingest([str(log)]).events
    assert read_back["kind"].value_counts().to_dict() == read["kind"].value_counts().to_dict()
    assert read_back["text"].tolist() == read["text"].tolist()
    # gzip: unpacked first (its bytes are not text)
    packed = tmp_path / "all.log.gz"
    packed.write_bytes(gzip.compress(log.read_bytes(), compresslevel=1))
    unpacked = ingest([str(packed)]).events.drop(columns="path")
    assert_same_frame(unpacked, read.drop(columns="path"))
    # a format given by the user, not detected
    events = _same_as_whole(log, format_of={str(log): "frontend"})
    assert len(events)


def test_the_reader_refuses_misuse() -> None:
    with pytest.raises(OSError):
        _scan.Stream(987_654, 10, MAX_LINE)  # not an open file
    unmade = _scan.Stream.__new__(_scan.Stream)
    with pytest.raises(RuntimeError, match="not made"):
        unmade.run()
    r, w = os.pipe()
    os.write(w, b"2026-11-24 11:03:40,000 - jarvis - INFO - one\n")
    os.close(w)
    stream = _scan.Stream(r, 47, MAX_LINE)
    os.close(r)  # (the reader has a descriptor of its own)
    stream.run()
    with pytest.raises(RuntimeError, match="already run"):
        stream.run()
    assert stream.keys(0, 1) == ["- jarvis - INFO - one"]
    with pytest.raises(IndexError):
        stream.keys(0, 2)
    dirty, ends, *_ = stream.result()
    assert not dirty and bytes(ends) == (45).to_bytes(8, "little")  # (47 asked, 46 there: it stops at the end)


def test_a_log_that_grows_while_read_keeps_its_new_lines(tmp_path: Path) -> None:
    # the app writes on while it is read: what arrived after the size was taken is read too
    path = tmp_path / "app.log"
    path.write_bytes(_big_log())
    more = b"2026-11-24 11:03:41,000 - jarvis - INFO - [Chat] written while read\n"

    def format_of(head: bytes) -> str:  # (called once the first bytes are in, the rest still being read)
        with open(path, "ab") as out:
            out.write(more)
        return "backend"

    with open(path, "rb") as fh:
        fmt, raw, data = fast.stream_parse(fh, os.fstat(fh.fileno()).st_size, str(path), None, format_of, None)
    assert (fmt, data) == ("backend", None) and raw is not None
    whole = ingest([str(path)], engine="numpy").events  # (the file as it is now)
    assert path.read_bytes().endswith(more) and raw.lines == whole["line"].max()
    assert raw.rows.text.result()[-1].as_py() == more.decode().rstrip("\n")

"""The fast parser of text logs: whole-file array work instead of a Python step per line.

It gives the same rows as the reference parser (:func:`jarvis_diag.logs.text.parse_lines`,
checked by tests on every fixture and on lines of every shape) by doing the per-line work
once per *distinct message* instead of once per line:

1. the bytes are split at newlines with numpy and wrapped as an Arrow string array
   without copying;
2. the fixed-width timestamps of backend (``YYYY-MM-DD HH:MM:SS,mmm``) and frontend
   (``[YYYY-MM-DDTHH:MM:SS.mmmZ]``) lines are recognised and converted in numpy;
3. what follows the timestamp is dictionary-encoded: real logs repeat the same messages
   (the same socket ids, sessions and timings) so there are far fewer distinct ones than
   lines, and each distinct one is classified once (by the C template matcher,
   :mod:`jarvis_diag.logs._match`, when compiled; else by the indexed shape matcher);
4. the rare lines with no fixed-width timestamp (uvicorn console lines, panel copies,
   tracebacks, noise) are numbered by their text and split once per distinct text;
5. times of untimestamped lines are carried forward with ``maximum.accumulate``.

Steps 1 to 3 and the copy of the text column are loops over every line; when the package
was built with a C compiler they run in :mod:`jarvis_diag.logs._scan` (one pass each, the
GIL released), else in numpy. Both give the same rows. With the C loops, a big file is read
on one thread and scanned on another as it arrives, while this one classifies the messages
found so far and builds their columns (:func:`stream_parse`).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from jarvis_diag.built import compiled as _built  # (None: per-record columns are made in Python)
from jarvis_diag.events import COLUMNS, KIND_NAMES, LEVELS, SOURCES
from jarvis_diag.logs import frontend as fe
from jarvis_diag.logs.shapes import classify_records, split_keys, split_untimed, tag_of
from jarvis_diag.logs.text import _CONTINUATION_START, FORMAT_SOURCE, MAX_LINE, SOURCE_CLOCK, RawColumns, split_line

try:
    from jarvis_diag.logs import _scan
except ImportError:  # installed without a C compiler: the numpy steps do the same work
    _scan = None
# (a module compiled from an older _scan.c, left by an install that did not rebuild it, is not used)
COMPILED = _scan is not None and getattr(_scan, "VERSION", 0) == 5

_B_REST = re.compile(r"- (?P<logger>.+?) - (?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL) - (?P<message>.*)\Z", re.S)
_F_REST = re.compile(r"Z\] \[(?P<level>[A-Z]+)\] (?P<message>.*)\Z", re.S)
_KEY_START = 24  # backend: "- logger - ...", frontend: "Z] [LEVEL] ..."
_PREFIX = 32  # line heads: four 64-bit words
_BAD_UTF8 = "\ufffd".encode()

# Byte positions of the fixed-width timestamps (d = digit).
_B_SHAPE = "dddd-dd-dd dd:dd:dd,ddd - "
_F_SHAPE = "[dddd-dd-ddTdd:dd:dd.dddZ] "

# Big, short-lived buffers go to the system allocator, which hands freed memory straight
# back to the OS; Arrow's default pool keeps it, and peak memory is what counts here.
_POOL = pa.system_memory_pool()

SOURCE_CODE = {s: i for i, s in enumerate(SOURCES)}
_KIND_CODE = {k: i for i, k in enumerate(KIND_NAMES)}
_LEVEL_CODE = {v: i for i, v in enumerate(LEVELS)}
_ID_COLUMNS = [c for c, d in COLUMNS.items() if d == "category" and c not in ("source", "path", "kind", "level", "logger",
                                                                             "tag", "shape", "client")]
_NUMBER_COLUMNS = [c for c, d in COLUMNS.items() if d in ("float64", "Int64")]


def _newlines(buf: np.ndarray) -> np.ndarray:
    """Positions of the newline bytes, scanned in cache-sized chunks."""
    step = 1 << 22
    parts = [np.flatnonzero(buf[i:i + step] == 10) + i for i in range(0, len(buf), step)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _heads(buf: np.ndarray, s: np.ndarray, width: int) -> np.ndarray:
    """The ``width`` bytes from each position in ``s`` as a (len(s), width) array, one
    row copy per position (windows over the bytes, no per-column gathers). Past the end
    of the data the last byte (a newline) repeats."""
    limit = len(buf) - width
    if limit < 0:
        out = np.empty((len(s), width), dtype=np.uint8)
        outside = np.arange(len(s))
    else:
        windows = np.lib.stride_tricks.as_strided(buf, shape=(limit + 1, width), strides=(1, 1), writeable=False)
        out = windows[np.minimum(s, limit)]
        outside = np.flatnonzero(s > limit)  # the last few bytes: at most ``width`` positions
    for i in outside.tolist():
        tail = buf[s[i]:].tolist()
        out[i] = (tail + [buf[-1]] * width)[:width]
    return out


def _word_masks(shape: str) -> list[tuple[int, np.uint64, np.uint64, np.uint64]]:
    """Per 64-bit word of a line head: (word, digit bytes, separator bytes, separator values)
    of ``shape`` (little-endian: byte i of the head is bits 8*(i % 8) of word i // 8)."""
    out = []
    for k in range((len(shape) + 7) // 8):
        digits = seps = values = 0
        for i, ch in enumerate(shape[8 * k: 8 * k + 8]):
            if ch == "d":
                digits |= 0xFF << (8 * i)
            else:
                seps |= 0xFF << (8 * i)
                values |= ord(ch) << (8 * i)
        out.append((k, np.uint64(digits), np.uint64(seps), np.uint64(values)))
    return out


_LOW7 = np.uint64(0x7676767676767676)
_HIGH = np.uint64(0x8080808080808080)
_ZEROS = np.uint64(0x3030303030303030)


def _shape_mask(words: np.ndarray, shape: str) -> np.ndarray:
    """Rows of ``words`` (line heads as 64-bit words) that have ``shape``'s digits
    ("0"-"9") and separators, eight bytes at a time."""
    ok = np.ones(len(words), dtype=bool)
    for k, digits, seps, values in _word_masks(shape):
        w = words[:, k]
        ok &= (w & seps) == values
        # a digit byte XOR "0" is 0-9; adding 0x76 sets the high bit of anything larger
        # (a byte already >= 0x80 is caught by its own high bit)
        y = (w & digits) ^ (_ZEROS & digits)
        ok &= (((y + (_LOW7 & digits)) | y) & (_HIGH & digits)) == 0
    return ok


def _days_from_civil(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of a proleptic Gregorian date (linear in ``d``, like timegm)."""
    y = y - (m <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    mp = (m + 9) % 12
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _stamp_seconds(heads: np.ndarray, rows: np.ndarray, at: int) -> tuple[np.ndarray, np.ndarray]:
    """(epoch seconds as the reference computes them, valid) of ``YYYY-MM-DD?HH:MM:SS?mmm``
    starting at byte ``at`` of the line heads ``heads[rows]`` (digits already checked)."""
    words = heads.view("<u8")[rows]
    # log lines come in runs of the same second: convert each run's date and time once
    key_last = np.uint64((1 << (8 * (at + 3))) - 1)  # the bytes of word 2 up to the seconds
    last = words[:, 2] & key_last
    change = np.ones(len(rows), dtype=bool)
    change[1:] = (words[1:, 0] != words[:-1, 0]) | (words[1:, 1] != words[:-1, 1]) | (last[1:] != last[:-1])
    del last
    at_change = np.flatnonzero(change)
    dig = heads[rows[at_change], at:at + 19].astype(np.int64) - 48

    def num(start: int, width: int) -> np.ndarray:
        out = dig[:, start]
        for i in range(start + 1, start + width):
            out = out * 10 + dig[:, i]
        return out

    y, mo, d = num(0, 4), num(5, 2), num(8, 2)
    valid = (y >= 1) & (mo >= 1) & (mo <= 12)
    days = _days_from_civil(y, np.clip(mo, 1, 12), d)
    whole = days * 86400 + num(11, 2) * 3600 + num(14, 2) * 60 + num(17, 2)
    run = np.cumsum(change) - 1
    del change
    # the milliseconds: bytes at+20..at+22, bytes 4+at..6+at of word 2
    w2 = words[:, 2]
    del words

    def digit(byte: int) -> np.ndarray:
        return ((w2 >> np.uint64(8 * byte)) & np.uint64(0xFF)).astype(np.int64) - 48

    ms = (digit(4 + at) * 10 + digit(5 + at)) * 10 + digit(6 + at)
    return whole[run] + ms / 1000, valid[run]


def _valid_utf8(data: bytes) -> bool:
    """Arrow's UTF-8 check of the whole buffer (no decoded copy)."""
    if len(data) >= 2**31 - 1:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True
    whole = pa.StringArray.from_buffers(1, pa.py_buffer(np.array([0, len(data)], dtype=np.int32)), pa.py_buffer(data))
    try:
        whole.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def _odd_bytes(data: bytes | bytearray) -> bool:
    """Whether ``data`` holds a carriage return, a NUL or U+FFFD (what the parser drops or counts)."""
    # (memchr for the lead byte first: a 3-byte search of the whole file costs ten times more)
    return b"\r" in data or b"\x00" in data or (b"\xef" in data and _BAD_UTF8 in data)


def clean_text(data: bytes | bytearray) -> bool:
    """Whether the parser keeps the lines of ``data`` as they are (but for one over MAX_LINE
    characters): UTF-8 with no carriage return, NUL or U+FFFD."""
    return not _odd_bytes(data) and _valid_utf8(data)


def _character_at(buf: np.ndarray, a: int, b: int, k: int) -> int | None:
    """Where character ``k`` (0-based) of the UTF-8 text ``buf[a:b]`` starts; None when it has
    no more than ``k`` characters. (Counted a piece at a time: no decoded copy of the line.)"""
    step = 1 << 24
    count = 0
    for lo in range(a, b, step):
        starts = (buf[lo:min(b, lo + step)] & 0xC0) != 0x80  # (every byte but a continuation byte)
        here = int(np.count_nonzero(starts))
        if count + here > k:
            return lo + int(np.flatnonzero(starts)[k - count])
        count += here
    return None


def _sanitise(data: bytes | bytearray, compiled: bool, consume: bool = False
              ) -> tuple[bytes | bytearray, np.ndarray, np.ndarray, int, int, bool, bool]:
    """(clean UTF-8 bytes ending in a newline, its bytes as numpy, newline positions, bad lines,
    long lines, last line cut?, are the bytes ours to reuse?) with the reference parser's
    rules: lines cut to MAX_LINE characters, NUL bytes dropped, undecodable bytes as U+FFFD,
    trailing carriage returns dropped. ``consume``: ``data`` (a bytearray) may be changed."""
    own = consume and isinstance(data, bytearray)
    if data.startswith(b"\xef\xbb\xbf"):
        if own:
            del data[:3]
        else:
            data = data[3:]
    cut = bool(data) and not data.endswith(b"\n")
    if cut:
        if own:
            data += b"\n"
        else:
            data = data + b"\n"
    if not compiled:
        return _sanitise_numpy(data, cut)
    bad_lines = long_lines = 0
    valid = _valid_utf8(data)
    dirty = not valid or _odd_bytes(data)
    if not dirty:
        ends, longest = _scan.newlines(data)
        dirty = longest > MAX_LINE
    if dirty:  # (one pass in C, whatever the bytes: a binary file costs what a log does)
        cleaned, bad_lines, long_lines = _scan.clean(data, MAX_LINE, own and valid)
        if own and cleaned is not data:  # (the bytes given away: their memory goes now, not after the parse)
            data.clear()
        data, own = cleaned, True
        ends, _longest = _scan.newlines(data)
    return data, np.frombuffer(data, dtype=np.uint8), np.frombuffer(ends, dtype=np.int64), bad_lines, long_lines, cut, own


def _sanitise_numpy(data: bytes | bytearray, cut: bool) -> tuple[bytes | bytearray, np.ndarray, np.ndarray, int, int,
                                                                bool, bool]:
    """:func:`_sanitise` without the compiled loops, of bytes that end in a newline."""
    own = False
    if not _valid_utf8(data):
        data = data.decode("utf-8", errors="replace").encode("utf-8")
    if b"\r" in data:
        data = re.sub(rb"\r+\n", b"\n", data)
    buf = np.frombuffer(data, dtype=np.uint8)
    nl = _newlines(buf)
    long_lines = 0
    if len(nl) and max(int(nl[0]), int(np.diff(nl).max(initial=1)) - 1) > MAX_LINE:  # the longest line
        starts = _starts(nl)
        over = np.flatnonzero(nl - starts > MAX_LINE)  # over MAX_LINE bytes: maybe over MAX_LINE characters
        pieces: list[bytes | bytearray] = []
        kept = 0  # the bytes before this are in pieces
        for a, b in zip(starts[over].tolist(), nl[over].tolist(), strict=True):
            end = _character_at(buf, a, b, MAX_LINE)
            if end is not None:
                long_lines += 1
                pieces += [data[kept:end]]
                kept = b
        if pieces:
            data = b"".join([*pieces, data[kept:]])
            buf = np.frombuffer(data, dtype=np.uint8)
            nl = _newlines(buf)
    bad_lines = 0
    # (memchr for the lead byte first: a 3-byte search of the whole file costs ten times more)
    if b"\x00" in data or (b"\xef" in data and _BAD_UTF8 in data):
        # (each NUL, and each U+FFFD: its three bytes EF BF BD, which cannot overlap)
        replaced = (buf[:-2] == 0xEF) & (buf[1:-1] == 0xBF) & (buf[2:] == 0xBD)
        bad = np.zeros(len(nl), dtype=bool)
        bad[np.searchsorted(nl, np.flatnonzero(buf == 0))] = True
        bad[np.searchsorted(nl, np.flatnonzero(replaced))] = True
        bad_lines = int(np.count_nonzero(bad))
        del replaced, bad
        data = data.replace(b"\x00", b"")
    if len(buf) != len(data):
        buf = np.frombuffer(data, dtype=np.uint8)
        nl = _newlines(buf)
    return data, buf, nl, bad_lines, long_lines, cut, own


_FIXED = ("kind", "shape", "source", "logger", "level", "tag")
# what _scan.plain says of a line with no stamp whose text need not be read
_INDENTED = 1  # it continues a traceback, if there is one to continue
_PLAIN = 2  # it is an unknown event, or a traceback's line after one of those


def _memo_key(record: tuple[str, str | None, str | None, str]) -> tuple[str, str | None, str]:
    """What a record's classification depends on: (source, logger, message)."""
    return record[0], record[1], record[3]


def _classify_from(records: list[Any], start: int, memo: dict | None) -> list[tuple[Any, ...] | None]:
    """(kind, shape, fields, tag) of each record from ``start`` held as (source, logger,
    level, message); None for the others. ``memo``: classifications by (source, logger,
    message), shared by the files of one reading."""
    if memo is None:
        return classify_records(records, start)
    out: list[tuple[Any, ...] | None] = [None] * (len(records) - start)
    todo: list[Any] = []
    at: list[int] = []
    for j in range(start, len(records)):
        r = records[j]
        if isinstance(r, tuple):
            known = memo.get(_memo_key(r))
            if known is None:
                todo.append(r)
                at.append(j - start)
            else:
                out[j - start] = known
    for j, r, known in zip(at, todo, classify_records(todo), strict=True):
        out[j] = memo[_memo_key(r)] = known
    return out


def _record_columns(records: list[Any], memo: dict | None = None, known: list[Any] | None = None,
                    columns: dict[str, list[Any]] | None = None) -> dict[str, list[Any]]:
    """Per column, the value of each record (None: not set), classifying the records still
    held as (source, logger, level, message). ``memo``: classifications by (source, logger,
    message), shared by the files of one reading (a phone's logs repeat each other's lines);
    ``known``: the classifications of the first records, made already; ``columns``: those
    of the first records, made already (see :func:`_extend_columns`)."""
    known = (known or []) + _classify_from(records, len(known or ()), memo)
    columns = {} if columns is None else columns
    _extend_columns(columns, records, known, len(next(iter(columns.values()))) if columns else 0)
    for key in _FIXED:  # (a fixed column with no value is left out)
        if key in columns and columns[key].count(None) == len(columns[key]):
            del columns[key]
    return columns


def _extend_columns(columns: dict[str, list[Any]], records: list[Any], known: list[Any], start: int) -> None:
    """Grow ``columns`` (each list holding records[:start]) by records[start:]: record j
    is classified as known[j] (a dict record holds its fixed columns itself). The fixed
    columns come first, then each field's in the order first met."""
    if _built is not None:
        _built.extend(columns, records, known, _FIXED, start)
        return
    n = len(records)
    for column in columns.values():
        column.extend([None] * (n - start))
    for key in _FIXED:
        columns.setdefault(key, [None] * n)
    fixed = [columns[key] for key in _FIXED]
    for j in range(start, n):
        r = records[j]
        if isinstance(r, tuple):
            source, logger, level, _message = r
            kind, shape, fields, tag = known[j]
            values = (kind, shape, source, logger, level, tag)
            for key, v in fields.items():
                if v is not None and key not in _FIXED:
                    column = columns.get(key)
                    if column is None:
                        column = columns[key] = [None] * n
                    column[j] = v
        else:
            values = tuple(r[key] for key in _FIXED)
        for column, v in zip(fixed, values, strict=True):
            column[j] = v


_CHUNK_BITS = 30  # string views address the data in 1 GiB buffers (their offsets are int32)
_OVERLAP = 4 * MAX_LINE + 16  # a (cut) line is at most this long, so it fits in its chunk


def _views(data: bytes, buf: np.ndarray, s: np.ndarray, e: np.ndarray) -> pa.Array:
    """A string_view array of ``data[s[i]:e[i]]`` without copying the bytes.

    Each view is 16 bytes: length, then the bytes inline (<= 12) or a 4-byte prefix, the
    buffer index and the offset in that buffer."""
    k = len(s)
    length = (e - s).astype(np.int32)
    views = np.empty((k, 16), dtype=np.uint8)
    ints = views.view(np.int32)
    ints[:, 0] = length
    views[:, 4:8] = _heads(buf, s, 4)
    chunk = s >> _CHUNK_BITS
    ints[:, 2] = chunk
    ints[:, 3] = s - (chunk << _CHUNK_BITS)
    short = length <= 12
    if short.any():  # short strings are held inline instead
        si = np.flatnonzero(short)
        inline = _heads(buf, s[si], 12)
        inline[np.arange(12)[None, :] >= length[si, None]] = 0
        views[si, 4:16] = inline
    size = 1 << _CHUNK_BITS
    mv = memoryview(data)
    chunks = [pa.py_buffer(mv[c * size: min(len(data), (c + 1) * size + _OVERLAP)])
              for c in range(max(1, (len(data) + size - 1) // size))]
    return pa.Array.from_buffers(pa.string_view(), k, [None, pa.py_buffer(views), *chunks])


def gather_lines(data: bytes | bytearray, ends: np.ndarray, lines: np.ndarray, starts: np.ndarray | None = None,
                 into: Any = None) -> pa.Array:
    """The lines ``lines`` (ascending; line r ends at ``ends[r]``, int64) of clean ``data``
    (see :func:`clean_text`) as a large_string array, one string for each run of lines from
    one where ``starts`` holds to the next (joined by newlines; None: a string per line).
    Its values are the buffer ``into``, or with None ``data`` itself, the lines moved down to
    its start (it is not a log any more after this). Compiled loops only."""
    ends, lines = np.ascontiguousarray(ends, dtype=np.int64), np.ascontiguousarray(lines, dtype=np.int64)
    starts = None if starts is None else np.ascontiguousarray(starts, dtype=np.uint8)
    values = data if into is None else into
    offsets = _scan.gather(data, ends, lines, starts, into)
    count = len(offsets) // 8 - 1
    return pa.Array.from_buffers(pa.large_string(), count, [None, pa.py_buffer(offsets), pa.py_buffer(values)])


def _gathered(data: bytes | bytearray, ends: np.ndarray, rows: np.ndarray, traceback_lines: np.ndarray,
              traceback_starts: np.ndarray, in_place: bool) -> tuple[pa.Array, pa.Array]:
    """(the lines ``rows`` as one large_string array, what pandas' "string" dtype holds as it
    is; the tracebacks as another: the lines ``traceback_lines``, joined by newlines, each
    traceback from a line where ``traceback_starts`` holds). Line r ends at ``ends[r]``; both
    sets are in file order. The bigger of the two (the rows, unless the tracebacks are over
    half the text: binary data) moves down to the start of the buffer, which becomes its
    array's values: ``data`` itself when ``in_place`` (it is not a log any more after this),
    else a copy; the other is copied out first."""
    def size(lines: np.ndarray, starts: np.ndarray | None) -> int:
        joins = 0 if starts is None else len(starts) - int(np.count_nonzero(starts))
        return int((ends[lines] - _starts(ends, lines)).sum()) + joins

    # (from the pool Arrow's own steps draw on: memory they gave back, its pages taken already)
    def fresh(size: int) -> pa.Buffer:
        return pa.allocate_buffer(size, memory_pool=_POOL)

    traceback_size = size(traceback_lines, traceback_starts)  # (of a log: a few lines)
    if 2 * traceback_size < len(data) - len(ends):  # the rows are the bigger part (their size is not counted)
        tracebacks = gather_lines(data, ends, traceback_lines, traceback_starts, fresh(traceback_size))
        return gather_lines(data, ends, rows, None, None if in_place else fresh(size(rows, None))), tracebacks
    text = gather_lines(data, ends, rows, None, fresh(size(rows, None)))
    into = None if in_place else fresh(traceback_size)
    return text, gather_lines(data, ends, traceback_lines, traceback_starts, into)


def _joined(views: pa.Array, traceback_views: pa.Array, traceback_starts: np.ndarray) -> tuple[pa.Array, pa.Array]:
    """:func:`_gathered` with Arrow's steps, of the lines as string views."""
    text = pc.cast(views, pa.large_string(), memory_pool=_POOL)
    lines = pc.cast(traceback_views, pa.large_string(), memory_pool=_POOL)
    offsets = np.append(np.flatnonzero(traceback_starts), len(traceback_starts)).astype(np.int64)
    grouped = pa.LargeListArray.from_arrays(pa.array(offsets), lines)
    return text, pc.binary_join(grouped, pa.scalar("\n", pa.large_string()), memory_pool=_POOL)


def _plain_lines(data: bytes | bytearray, ends: np.ndarray, idx: np.ndarray, compiled: bool) -> np.ndarray:
    """Of the lines ``idx`` (with no stamp): _INDENTED or _PLAIN when their bytes alone tell
    that they have no prefix and are not blank (see ``_scan.plain``), else 0: their text is
    read. (0 for all without the compiled loops.)"""
    if not compiled:
        return np.zeros(len(idx), dtype=np.int8)
    return np.frombuffer(_scan.plain(data, ends, np.ascontiguousarray(idx, dtype=np.int64)), dtype=np.int8)


def _parts(future: Future[tuple[Any, ...]], count: int) -> list[Future[Any]]:
    """A future for each of the ``count`` results of ``future``."""
    parts: list[Future[Any]] = [Future() for _ in range(count)]

    def done(whole: Future[tuple[Any, ...]]) -> None:
        error = whole.exception()
        for k, part in enumerate(parts):
            if error is not None:
                part.set_exception(error)
            else:
                part.set_result(whole.result()[k])

    future.add_done_callback(done)
    return parts


# Below this many bytes a file's text column is made at once: starting and joining a
# thread costs more than the overlap gains (a directory of small per-phone logs).
BACKGROUND_MIN_BYTES = 1 << 20


def _in_background(fn: Any, *args: Any, now: bool = False) -> Future[Any]:
    """``fn(*args)`` on a thread of its own (for work that releases the GIL); ``now``: here,
    before returning (the same Future, already done)."""
    future: Future[Any] = Future()
    if now:
        try:
            future.set_result(fn(*args))
        except Exception as exc:  # handed to whoever waits for the result, as from the thread
            future.set_exception(exc)
        return future

    def run() -> None:
        try:
            future.set_result(fn(*args))
        except BaseException as exc:  # handed to whoever waits for the result
            future.set_exception(exc)

    threading.Thread(target=run, name="jarvis-diag-text", daemon=True).start()
    return future


class FastRows:
    """Rows of one or more parsed files whose columns are built on demand, in any row
    order, from one record per distinct message (so sorting costs no string copies)."""

    def __init__(self, *, text: Future[pa.Array] | Future[pa.ChunkedArray], rows: np.ndarray, rrec: np.ndarray, by_name: dict[str, list[Any]],
                 n_records: int, source: np.ndarray, path: str, client: str | None, traceback_rows: np.ndarray,
                 tracebacks: Future[pa.Array] | Future[pa.ChunkedArray], spare: Future[dict[str, np.ndarray]] | None = None):
        self.text = text  # the text column in file order, being built
        self.rows, self.rrec, self.source = rows, rrec, source  # (rows: each row's line index in its file)
        # each row's file (None: all in the first), and each file's path and clientId
        self.file_of: np.ndarray | None = None
        self.paths, self.clients = [path], [client]
        # the rows (file order, ascending) a traceback follows, and those tracebacks, being built
        self.traceback_rows, self.tracebacks = traceback_rows, tracebacks
        self.by_name = by_name  # column -> the value of each record (None: not set)
        self.n_records = n_records
        self.spare = spare  # memory for some columns, taken on another core (see _spare_columns)
        self._client: pd.Categorical | None = None  # (see client_column)

    def __len__(self) -> int:
        return len(self.rows)

    def values(self, name: str) -> list[Any]:
        return self.by_name.get(name) or [None] * self.n_records

    def zone_pairs(self, raw_t: np.ndarray, clock: np.ndarray, local_clock: int, request_shapes: tuple[str, ...]
                   ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """What the backend zone is found from (see ``ingest._zone_pairs``), read from the few
        rows that have an epoch instead of whole columns: (local times, epoch seconds) of the
        ``recv_ts`` lines, then of the request lines (``request_shapes``) with a ``client_ms``."""
        local: list[np.ndarray] = []
        utc: list[np.ndarray] = []
        shapes = self.values("shape")
        for name, only, scale in (("recv_ts", None, 1), ("client_ms", request_shapes, 1000)):
            values = self.by_name.get(name)
            if not values:
                continue
            per_record = _numbers(values, False)[0]  # (a fresh array: ours to change)
            if only is not None:  # (only the request lines' epochs)
                per_record[_coded(shapes, dict.fromkeys(only, 0), np.int8) < 0] = np.nan
            rows = np.flatnonzero(~np.isnan(per_record)[self.rrec])
            rows = rows[(clock[rows] == local_clock) & ~np.isnan(raw_t[rows])]
            local.append(raw_t[rows] if only is None else request_local_times(raw_t, rows, self.file_of))
            utc.append(per_record[self.rrec[rows]] / scale)
        return local, utc

    def client_column(self) -> pd.Categorical:
        """The client of each row, in file order: its line's own, else (frontend and panel
        lines) its file's. (Made once: the reader asks before it builds the columns.)"""
        if self._client is not None:
            return self._client
        rrec, source, files = self.rrec, self.source, self.file_of
        values = self.values("client")
        fills = [c for c in dict.fromkeys(self.clients) if c is not None]
        if not fills:
            self._client = _categorical(values, rrec)
            return self._client
        column = _categorical([*values, *fills], rrec)
        file_code = np.array([-1 if c is None else column.categories.get_loc(c) for c in self.clients], dtype=np.int64)
        own = file_code[0] if files is None else file_code[files]
        codes = column.codes.astype(np.int64)
        fill = (codes < 0) & ((source == SOURCE_CODE["frontend"]) | (source == SOURCE_CODE["panel"])) & (own >= 0)
        codes[fill] = own if files is None else own[fill]
        filled = pd.Categorical.from_codes(codes, dtype=column.dtype)
        named = set(values)
        used = np.zeros(len(column.categories), dtype=bool)
        used[codes[codes >= 0]] = True
        unused = [c for c in fills if c not in named and not used[column.categories.get_loc(c)]]
        self._client = filled.remove_categories(unused) if unused else filled
        return self._client

    def columns(self, order: np.ndarray | None = None, *, release: bool = False) -> dict[str, Any]:
        """Every events column but t_source, rows taken in ``order`` (None: file order).

        ``release``: the caller takes the text column (no second copy is kept here).
        """
        rrec = self.rrec if order is None else self.rrec[order]
        rows = self.rows if order is None else self.rows[order]
        source = self.source if order is None else self.source[order]
        m = len(rows)
        cols: dict[str, Any] = {}
        spare = self.spare.result() if self.spare is not None else {}
        self.spare = None

        def into(name: str) -> np.ndarray | None:
            buf = spare.get(name)
            return buf[:m] if buf is not None and len(buf) >= m else None

        text = self.text.result()  # in file order
        if release:
            self.text = None  # type: ignore[assignment]
        cols["text"] = text if order is None else _take_text(text, order)
        del text  # (the text in file order goes as soon as it is not needed)
        cols["source"] = pd.Categorical.from_codes(source, dtype=pd.CategoricalDtype(SOURCES))
        files = None if self.file_of is None else (self.file_of if order is None else self.file_of[order])
        cols["path"] = _categorical(self.paths, np.zeros(m, dtype=np.int8) if files is None else files)
        cols["line"] = np.add(rows, 1, out=into("line"))
        kinds = _coded(self.values("kind"), _KIND_CODE, np.int16)
        cols["kind"] = pd.Categorical.from_codes(kinds[rrec], dtype=pd.CategoricalDtype(KIND_NAMES))
        levels = _coded(self.values("level"), _LEVEL_CODE, np.int8)
        cols["level"] = pd.Categorical.from_codes(levels[rrec], dtype=pd.CategoricalDtype(LEVELS))
        for name in ("logger", "tag", "shape"):
            cols[name] = _categorical(self.values(name), rrec)
        for name in _ID_COLUMNS:
            if name in self.by_name:
                cols[name] = _categorical(self.by_name[name], rrec)
        for name in _NUMBER_COLUMNS:
            if name in self.by_name:
                per_record, mask = _numbers(self.by_name[name], COLUMNS[name] != "float64")
                if COLUMNS[name] == "float64":
                    cols[name] = np.take(per_record, rrec, out=into(name))
                else:
                    cols[name] = pd.arrays.IntegerArray(np.take(per_record, rrec, out=into(name)),
                                                        np.take(mask, rrec, out=into(f"{name} mask")))
            else:  # (no line has it, as in a file of unknown lines: all null at once, not from m Nones)
                cols[name] = (np.full(m, np.nan) if COLUMNS[name] == "float64"
                              else pd.arrays.IntegerArray(np.zeros(m, dtype=np.int64), np.ones(m, dtype=bool)))
        client = self.client_column()
        cols["client"] = client if order is None else client.take(order)
        self._client = None
        tracebacks = self.tracebacks.result()
        if release:
            self.tracebacks = None  # type: ignore[assignment]
        if len(self.traceback_rows):
            at = self.traceback_rows
            if order is not None:
                inverse = np.empty(m, dtype=np.int64)
                inverse[order] = np.arange(m)
                at = inverse[at]
            cols["traceback"] = _sparse_strings(m, at, tracebacks)
        else:  # (none: all null at once, not from m Nones)
            cols["traceback"] = pa.nulls(m, pa.large_string())
        return cols


def _take_text(text: pa.Array | pa.ChunkedArray, order: np.ndarray) -> pa.Array | pa.ChunkedArray:
    """The rows of a large_string column (the lines of one or more files) in ``order``.

    Arrow's take of a column in several pieces first joins the pieces into one copy, then
    takes from that into another: a third copy of the text at once (two files of 100 MB
    held 650 MB) and twice the copying. Here each piece's lines go straight to their place."""
    chunks = text.chunks if isinstance(text, pa.ChunkedArray) else [text]
    if len(chunks) < 2 or not COMPILED or any(c.null_count for c in chunks):
        return pc.take(text, pa.array(order), memory_pool=_POOL)
    starts, lengths = [], []
    for chunk in chunks:
        offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int64)[chunk.offset:chunk.offset + len(chunk) + 1]
        starts.append(offsets[:-1])
        lengths.append(np.diff(offsets))
    # (from the pool Arrow's own steps draw on: memory they gave back, its pages taken already)
    values = pa.allocate_buffer(int(sum(int(length.sum()) for length in lengths)), memory_pool=_POOL)
    piece = np.repeat(np.arange(len(chunks), dtype=np.int32), [len(c) for c in chunks])[order]
    start = np.concatenate(starts)[order]
    length = np.concatenate(lengths)[order]
    del starts, lengths
    new_offsets = np.zeros(len(order) + 1, dtype=np.int64)
    np.cumsum(length, out=new_offsets[1:])
    for k, chunk in enumerate(chunks):
        mine = np.flatnonzero(piece == k)
        _scan.copy_segments(values, chunk.buffers()[2], new_offsets[mine], start[mine], length[mine])
    return pa.Array.from_buffers(pa.large_string(), len(order),
                                 [None, pa.py_buffer(new_offsets), values])


def _sparse_strings(m: int, at: np.ndarray, texts: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A large_string array of ``m`` rows: ``texts[k]`` at row ``at[k]``, null elsewhere. (Made
    from its buffers: Arrow's take reserves the mean length of what it takes for every row,
    null or not, so one long traceback in a big file asked for terabytes.)"""
    by_row = np.argsort(at, kind="stable")
    if isinstance(texts, pa.ChunkedArray) and texts.num_chunks == 1:
        texts = texts.chunk(0)
    if isinstance(texts, pa.ChunkedArray) or bool((by_row != np.arange(len(by_row))).any()):
        texts = _take_text(texts, by_row)
        texts = texts.combine_chunks() if isinstance(texts, pa.ChunkedArray) else texts
    own = np.frombuffer(texts.buffers()[1], dtype=np.int64)[texts.offset:texts.offset + len(texts) + 1]
    lengths = np.zeros(m, dtype=np.int64)
    lengths[at[by_row]] = np.diff(own)
    offsets = np.empty(m + 1, dtype=np.int64)
    offsets[0] = own[0] if len(own) else 0
    np.cumsum(lengths, out=offsets[1:])
    offsets[1:] += offsets[0]
    valid = np.zeros(m, dtype=bool)
    valid[at] = True
    return pa.Array.from_buffers(pa.large_string(), m, [pa.py_buffer(np.packbits(valid, bitorder="little")),
                                                        pa.py_buffer(offsets), texts.buffers()[2]],
                                 null_count=m - len(at))


def _spare_columns(n: int, names: set[str]) -> dict[str, np.ndarray]:
    """Memory for the biggest columns of ``n`` rows (line, and the number columns in
    ``names``), its pages taken on this thread (another core) while the first one classifies:
    fresh memory costs about as much as filling it."""
    out = {"line": np.empty(n, dtype=np.int64)}
    for name in _NUMBER_COLUMNS:
        if name in names:
            if COLUMNS[name] == "float64":
                out[name] = np.empty(n, dtype=np.float64)
            else:
                out[name] = np.empty(n, dtype=np.int64)
                out[f"{name} mask"] = np.empty(n, dtype=bool)
    for buf in out.values():
        _scan.touch(buf)
    return out


def merge_rows(parts: list[FastRows]) -> FastRows:
    """The rows of several files as one (their rows one file after the other), so that each
    column is built once, not once per file: a user's set can hold a log per page load."""
    if len(parts) == 1:
        return parts[0]
    row_at = np.cumsum([0, *(len(p) for p in parts)])
    record_at = np.cumsum([0, *(p.n_records for p in parts)])
    file_at = np.cumsum([0, *(len(p.paths) for p in parts)])
    names = dict.fromkeys(name for p in parts for name in p.by_name)
    text: Future[pa.ChunkedArray] = Future()
    text.set_result(pa.chunked_array([p.text.result() for p in parts]))  # (no copy of the texts)
    tracebacks: Future[pa.ChunkedArray] = Future()
    tracebacks.set_result(pa.chunked_array([p.tracebacks.result() for p in parts], type=pa.large_string()))
    merged = FastRows(
        text=text, rows=np.concatenate([p.rows for p in parts]), tracebacks=tracebacks,
        traceback_rows=np.concatenate([p.traceback_rows + at for p, at in zip(parts, row_at.tolist(), strict=False)]),
        rrec=np.concatenate([p.rrec + at for p, at in zip(parts, record_at.tolist(), strict=False)]),
        by_name={name: [v for p in parts for v in p.values(name)] for name in names},
        n_records=int(record_at[-1]), source=np.concatenate([p.source for p in parts]), path="", client=None)
    merged.paths = [path for p in parts for path in p.paths]
    merged.clients = [client for p in parts for client in p.clients]
    merged.file_of = np.concatenate([(np.zeros(len(p), dtype=np.int32) if p.file_of is None else p.file_of) + at
                                     for p, at in zip(parts, file_at.tolist(), strict=False)])
    return merged


def parse_bytes(data: bytes | bytearray, fmt: str, path: str = "-", client: str | None = None, *,
                compiled: bool | None = None, consume: bool = False, memo: dict | None = None) -> RawColumns:
    """Parse a whole file's bytes; same rows as the reference parser.

    ``raw.columns`` holds ``t_source`` (raw) and the columns the zone detection needs;
    ``raw.rows`` builds the rest in the order the caller wants (see :class:`FastRows`).
    ``compiled``: use the C loops (default: when they were built); False: numpy only.
    ``consume``: ``data`` (a bytearray) is the caller's to give away; its bytes are reused
    for the text column and are no longer the log afterwards. ``memo``: the classifications
    of messages, for the next files of the same reading (see :func:`_record_columns`).
    """
    compiled = COMPILED if compiled is None else bool(compiled) and COMPILED
    data, buf, nl, bad_lines, long_lines, cut, consume = _sanitise(data, compiled, consume)
    n = len(nl)
    raw = RawColumns({}, [], lines=n, bad_lines=bad_lines, long_lines=long_lines, truncated=cut)
    if n == 0:
        raw.clock = np.zeros(0, dtype=np.int8)
        return raw
    if compiled:
        fast_idx, raw_t, keys, codes = _stamped_lines_compiled(data, nl)
    else:
        fast_idx, raw_t, keys, codes = _stamped_lines(data, buf, _starts(nl), nl)
    records: list[Any] = []
    to_record = split_keys(keys, records, _record_of_key)
    del keys
    return _parse_lines(raw, data, buf, nl, fast_idx, raw_t, to_record[codes], records, fmt, path, client,
                        compiled=compiled, consume=consume, memo=memo)


def _distinct_lines(data: bytes | bytearray, buf: np.ndarray, nl: np.ndarray, idx: np.ndarray, compiled: bool
                    ) -> tuple[np.ndarray, list[str]]:
    """(each line of ``idx``'s number among their distinct texts, those texts in the order
    first met)."""
    if compiled:
        codes, texts = _scan.distinct(data, nl, np.ascontiguousarray(idx, dtype=np.int64))
        return np.frombuffer(codes, dtype=np.int32), texts
    encoded = pc.dictionary_encode(_views(data, buf, _starts(nl, idx), nl[idx]), memory_pool=_POOL)
    return encoded.indices.to_numpy(zero_copy_only=False), encoded.dictionary.to_pylist()


def _starts(nl: np.ndarray, idx: np.ndarray | None = None) -> np.ndarray:
    """Where each line starts (only lines ``idx``, when given), from where each ends."""
    if idx is None:
        starts = np.empty(len(nl), dtype=np.int64)
        if len(nl):
            starts[0] = 0
            np.add(nl[:-1], 1, out=starts[1:])
        return starts
    starts = nl[np.maximum(idx - 1, 0)] + 1
    starts[idx == 0] = 0
    return starts


def _record_of_key(key: str) -> tuple[str, str | None, str | None, str] | None:
    """The record (source, logger, level, message) of what follows a stamp; None: it is not
    the rest of a backend or frontend line."""
    if key.startswith("- "):
        m = _B_REST.match(key)
        return ("backend", m.group("logger"), m.group("level"), m.group("message")) if m else None
    m = _F_REST.match(key)
    return ("frontend", None, fe.LEVELS.get(m.group("level")), m.group("message")) if m else None


def _parse_lines(raw: RawColumns, data: bytes | bytearray, buf: np.ndarray, nl: np.ndarray,
                 fast_idx: np.ndarray, raw_t: np.ndarray, fast_rec: np.ndarray, records: list[Any], fmt: str,
                 path: str, client: str | None, *, compiled: bool, consume: bool, memo: dict | None,
                 known: list[Any] | None = None, columns: dict[str, list[Any]] | None = None,
                 spare: Future[dict[str, np.ndarray]] | None = None) -> RawColumns:
    """The rows of clean bytes whose stamped lines are known: ``fast_rec``, the record of each
    line in ``fast_idx`` (-1: parse it the slow way); ``known`` and ``columns``: the
    classifications and the columns of the first records, already made; ``spare``: memory
    for some columns (see :func:`_spare_columns`)."""
    n = len(nl)
    # one record per distinct message; rec[i] is line i's record, -1 = not parsed yet. A record
    # is (source, logger, level, message) until it is classified, once the rows are known.
    rec = np.full(n, -1, dtype=np.int32)  # (int32 and in-place steps: fresh memory is what costs here)
    if len(fast_idx):
        rec[fast_idx] = fast_rec
    del fast_rec

    # everything else: the reference splitter, once per distinct text, but for the lines whose
    # bytes alone tell that they have no prefix (binary data, a traceback's lines): no text
    # of theirs is made, so garbage costs what a log does
    slow_idx = np.flatnonzero(rec < 0)
    raw_t[slow_idx] = np.nan
    is_blank = np.zeros(n, dtype=bool)
    is_other = np.zeros(n, dtype=bool)
    texts: list[str] = []  # the distinct slow lines read as text
    codes = np.zeros(0, dtype=np.int32)  # each slow line's text number (INDENTED, PLAIN: not read)
    if len(slow_idx):
        plain = _plain_lines(data, nl, slow_idx, compiled)
        read = slow_idx[plain == 0]
        read_codes, texts = _distinct_lines(data, buf, nl, read, compiled)
        kind_of, time_of = split_untimed(texts, records, split_line)  # (record, -1 other, -2 blank)
        got = kind_of[read_codes]
        rec[read] = np.where(got >= 0, got, -1)
        raw_t[read] = time_of[read_codes]
        is_blank[read[got == -2]] = True
        is_other[read[got == -1]] = True
        is_other[slow_idx[plain > 0]] = True
        codes = plain.astype(np.int32) + (len(texts) - 1)
        codes[plain == 0] = read_codes
        del plain, read, read_codes, got

    # lines with no prefix: a traceback continuation or an unknown event
    default_source = FORMAT_SOURCE.get(fmt, "backend")
    traceback_lines = traceback_owner = np.zeros(0, dtype=np.int64)
    unknown_tags: dict[str | None, int] = {}
    if is_other.any():
        parsed_idx = np.flatnonzero(rec >= 0)
        other_idx = np.flatnonzero(is_other)
        other_text = codes[np.searchsorted(slow_idx, other_idx)]  # (they are slow lines)
        # for each such line: the parsed row before it and the non-blank line before it
        k = np.searchsorted(parsed_idx, other_idx) - 1
        prev_parsed = (np.where(k >= 0, parsed_idx[np.maximum(k, 0)], -1) if len(parsed_idx)
                       else np.full(len(k), -1))
        prev_nonblank = np.where(other_idx > 0, _carried_index(~is_blank)[np.maximum(other_idx - 1, 0)], -1)
        distinct = np.unique(other_text)
        starts = np.zeros(len(texts) + 2, dtype=bool)
        starts[len(texts) + _INDENTED - 1] = True
        read = distinct[distinct < len(texts)]
        starts[read] = [_CONTINUATION_START.match(texts[u]) is not None for u in read.tolist()]
        cont, row = _continuations(other_idx, prev_parsed, prev_nonblank, starts[other_text])
        traceback_lines, traceback_owner = other_idx[cont], row[cont]
        # the others are unknown events, one record per tag, made in the order first met (a
        # line not read has none: no tag starts as it does)
        unknown_text = other_text[~cont]
        seen, first = np.unique(unknown_text, return_index=True)
        record_of_text = np.full(len(texts) + 2, -1, dtype=np.int32)
        for u in seen[np.argsort(first)].tolist():
            tag = tag_of(texts[u]) if u < len(texts) else None
            if tag not in unknown_tags:
                unknown_tags[tag] = len(records)
                records.append({"kind": "unknown", "source": default_source, "logger": None, "level": None,
                                "tag": tag, "shape": None})
            record_of_text[u] = unknown_tags[tag]
        rec[other_idx[~cont]] = record_of_text[unknown_text]

    rows = np.flatnonzero(rec >= 0)
    # each traceback: its lines, joined; the row it belongs to
    joined = np.zeros(len(traceback_lines), dtype=bool)
    joined[1:] = traceback_owner[1:] == traceback_owner[:-1]
    traceback_rows = np.searchsorted(rows, traceback_owner[~joined])
    # The text column in file order (what a sorted file needs) and the tracebacks are made on
    # another core while this one classifies the distinct messages; nothing else reads the
    # bytes after this.
    small = len(data) < BACKGROUND_MIN_BYTES
    if compiled:
        # a buffer that is ours (consume) becomes the values of a column: the lines move down in place
        made = _in_background(_gathered, data, nl, rows, traceback_lines, ~joined, consume and isinstance(data, bytearray),
                              now=small)
    else:
        # (the views are made here: numpy holds the GIL in parts of that; Arrow's copy does not)
        made = _in_background(_joined, _views(data, buf, _starts(nl, rows), nl[rows]),
                              _views(data, buf, _starts(nl, traceback_lines), nl[traceback_lines]), ~joined, now=small)
    text, tracebacks = _parts(made, 2)
    del data, buf, traceback_lines, traceback_owner, joined
    by_name = _record_columns(records, memo, known, columns)
    rrec = rec[rows].astype(np.intp)  # (intp: the columns are gathered with it; numpy converts other types each time)
    rt = raw_t[rows]

    rec_source = _coded(by_name["source"], SOURCE_CODE, np.int8) if records else np.zeros(0, dtype=np.int8)
    source = rec_source[rrec]
    clock_of_source = np.array([SOURCE_CLOCK[s] for s in SOURCES], dtype=np.int8)
    timed = ~np.isnan(rt)
    last = _carried_index(timed)
    clock = clock_of_source[rec_source][rrec]
    untimed = ~timed
    clock[untimed] = SOURCE_CLOCK[default_source]
    carried = untimed & (last >= 0)
    rt[carried] = rt[last[carried]]
    clock[carried] = clock[last[carried]]
    # an unknown line takes the source of the timestamped line before it
    is_unknown_record = np.zeros(len(records), dtype=bool)
    is_unknown_record[list(unknown_tags.values())] = True
    moved = is_unknown_record[rrec] & (last >= 0)
    source[moved] = source[last[moved]]
    if timed.any():
        first = int(np.argmax(timed))
        lead = untimed & (last < 0)
        rt[lead] = rt[first]
        clock[lead] = clock[first]
    fast_rows = FastRows(text=text, rows=rows, rrec=rrec, by_name=by_name, n_records=len(records), source=source,
                         path=path, client=client, spare=spare, traceback_rows=traceback_rows, tracebacks=tracebacks)
    raw.columns = {"t_source": rt}
    raw.rows = fast_rows
    raw.clock = clock
    return raw


STREAM_MIN_BYTES = 1 << 22  # smaller files are read whole first: there is little to overlap
HEAD_BYTES = 256 * 1024
_ANY_KEYS = 2**31 - 1  # (Stream.wait for bytes only)
_ALL_BYTES = 2**62  # (Stream.wait for messages only)


def stream_parse(fh: BinaryIO, size: int, path: str, client: str | None, format_of: Callable[[bytes], str],
                 memo: dict | None) -> tuple[str, RawColumns | None, bytearray | None]:
    """Read an open file and parse it at once: a thread of the C loop reads it and finds
    its lines, stamps and distinct messages (the GIL released) while this one classifies
    the messages found so far, so the two halves of the work overlap.

    ``format_of(head)``: the file's format from its first bytes. Returns (format, rows,
    None), or (format, None, the file's bytes) for a format this parser does not read.
    Bytes that are not clean text (see ``_scan.Stream``) are parsed by :func:`parse_bytes`,
    with the classifications made meanwhile."""
    stream = _scan.Stream(fh.fileno(), size, MAX_LINE)
    running = _in_background(stream.run)
    head = min(size, HEAD_BYTES)
    found, got, done = 0, 0, False
    while got < head and not done:
        found, got, done = stream.wait(_ANY_KEYS, head, 1.0)
        if running.done() and not done:
            running.result()  # (the reading failed before it began: its error)
    fmt = format_of(bytes(stream.data[:min(got, head)]))
    if fmt not in FORMAT_SOURCE:  # (JSONL, or not a log): the caller reads the bytes its way
        running.result()
        return fmt, None, _whole(stream, fh)
    records: list[Any] = []
    known: list[Any] = []
    columns: dict[str, list[Any]] = {}  # the columns of the messages classified (see _record_columns)
    to_record: list[np.ndarray] = []
    have = 0
    while True:
        found, got, done = stream.wait(have, _ALL_BYTES, 1.0)
        if found > have:
            to_record.append(split_keys(stream.keys(have, found), records, _record_of_key))
            batch = _classify_from(records, len(known), memo)
            known += batch
            _extend_columns(columns, records, known, len(known) - len(batch))
            have = found
        elif done:
            break
        elif running.done():
            running.result()  # (the reading failed before it began: its error)
    running.result()
    dirty, ends, shape, seconds, codes = stream.result()
    data = _whole(stream, fh)
    if dirty or len(data) != got:
        if memo is None:
            memo = {_memo_key(r): k for r, k in zip(records, known, strict=True)}
        return fmt, parse_bytes(data, fmt, path, client, consume=True, memo=memo), None
    nl = np.frombuffer(ends, dtype=np.int64)
    raw = RawColumns({}, [], lines=len(nl))
    if not len(nl):
        raw.clock = np.zeros(0, dtype=np.int8)
        return fmt, raw, None
    spare = _in_background(_spare_columns, len(nl), set(columns))
    fast_idx = np.flatnonzero(np.frombuffer(shape, dtype=np.int8))
    to_record_all = np.concatenate(to_record) if to_record else np.zeros(0, dtype=np.int32)
    fast_rec = to_record_all[np.frombuffer(codes, dtype=np.int32)[fast_idx]]
    del ends, shape, codes, to_record_all
    return fmt, _parse_lines(raw, data, np.frombuffer(data, dtype=np.uint8), nl, fast_idx,
                             np.frombuffer(seconds, dtype=np.float64), fast_rec, records, fmt, path, client,
                             compiled=True, consume=True, memo=memo, known=known, columns=columns,
                             spare=spare), None


def _whole(stream: Any, fh: BinaryIO) -> bytearray:
    """The stream's bytes once it has read them all, with what the file grew by since."""
    data = stream.data
    _found, got, _done = stream.wait(_ANY_KEYS, _ALL_BYTES, 0.0)
    if got < len(data):  # the file shrank meanwhile
        del data[got:]
    rest = fh.read()
    if rest:
        data += rest
    return data


def _continuations(other: np.ndarray, before: np.ndarray, prev_nonblank: np.ndarray, starts: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Which of the lines ``other`` (line numbers, ascending, of lines with no known prefix)
    continue the event before them (a traceback), and the row each would belong to.

    ``before``: the last parsed row before each (-1: none); ``prev_nonblank``: the non-blank
    line before each (-1: none); ``starts``: does its text start a continuation (indented,
    or "Traceback (most recent call last)"). A line continues when it starts one, or when
    the non-blank line before it is a continuation, provided a parsed row is before it (then
    it belongs to that row, or to an other line after it that was not a continuation: an
    unknown event, also a row). Before the first parsed row, each line is an unknown event.
    """
    m = len(other)
    at = np.arange(m)
    has_row = before >= 0
    # chains: runs of such lines with only blank lines between them
    linked = np.zeros(m, dtype=bool)
    linked[1:] = prev_nonblank[1:] == other[:-1]
    chain_start = np.maximum.accumulate(np.where(linked, 0, at))
    # in a chain, every line from the first that starts a continuation on is one
    last_start = np.maximum.accumulate(np.where(starts & has_row, at, -1))
    cont = last_start >= chain_start
    unknown_before = np.full(m, -1, dtype=np.int64)
    if m > 1:
        unknown_before[1:] = np.maximum.accumulate(np.where(cont, -1, other))[:-1]
    return cont, np.maximum(before, unknown_before)


def _carried_index(mask: np.ndarray) -> np.ndarray:
    """For each position, the last position at or before it where ``mask`` holds (-1: none)."""
    idx = np.arange(len(mask), dtype=np.int32)
    idx[~mask] = -1
    return np.maximum.accumulate(idx, out=idx)


def _stamped_lines(data: bytes, buf: np.ndarray, starts: np.ndarray, nl: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray]:
    """(the lines with a backend or frontend stamp, every line's raw time (NaN: none), the
    distinct messages after the stamps, each stamped line's message number), in numpy."""
    # the first bytes of each line; past the end of the data, the final newline repeats
    heads = _heads(buf, starts, _PREFIX)
    words = heads.view("<u8")
    is_b = _shape_mask(words, _B_SHAPE)
    is_f = _shape_mask(words, _F_SHAPE)
    del words
    raw_t = np.full(len(starts), np.nan)
    for is_x, at in ((is_b, 0), (is_f, 1)):
        if is_x.any():
            idx = np.flatnonzero(is_x)
            t, ok = _stamp_seconds(heads, idx, at)
            is_x[idx[~ok]] = False
            raw_t[is_x] = t[ok]
    del heads
    fast_idx = np.flatnonzero(is_b | is_f)
    if not len(fast_idx):
        return fast_idx, raw_t, [], np.zeros(0, dtype=np.int64)
    encoded = pc.dictionary_encode(_views(data, buf, starts[fast_idx] + _KEY_START, nl[fast_idx]), memory_pool=_POOL)
    return fast_idx, raw_t, encoded.dictionary.to_pylist(), encoded.indices.to_numpy(zero_copy_only=False)


def _stamped_lines_compiled(data: bytes, nl: np.ndarray
                            ) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray]:
    """:func:`_stamped_lines` in one pass of the C loop."""
    shape, seconds, codes, firsts = _scan.scan(data, nl)
    fast_idx = np.flatnonzero(np.frombuffer(shape, dtype=np.int8))
    raw_t = np.frombuffer(seconds, dtype=np.float64)
    first = np.frombuffer(firsts, dtype=np.int64)
    keys = [data[a:b].decode("utf-8") for a, b in zip((_starts(nl, first) + _KEY_START).tolist(), nl[first].tolist(),
                                                        strict=True)]
    return fast_idx, raw_t, keys, np.frombuffer(codes, dtype=np.int32)[fast_idx]


def _numbers(values: list[Any], integer: bool) -> tuple[np.ndarray, np.ndarray]:
    """(int64 with 0 for None, or float64 with NaN for None; where None) of per-record numbers."""
    if _built is not None:
        try:
            numbers, missing = _built.numbers(values, integer)
            return (np.frombuffer(numbers, dtype=np.int64 if integer else np.float64),
                    np.frombuffer(missing, dtype=bool))
        except TypeError:  # (an integer column's value that is not an int: numpy converts it below)
            pass
    mask = np.array([v is None for v in values], dtype=bool)
    if integer:
        return np.array([0 if v is None else v for v in values], dtype="int64"), mask
    return np.array([np.nan if v is None else v for v in values], dtype="float64"), mask


def _coded(values: list[str | None], code_of: dict[str, int], dtype: Any) -> np.ndarray:
    """``code_of[v]`` of each per-record value, -1 for None or a value it does not know."""
    if _built is not None:  # (each distinct value looked up once)
        cats, numbers = _built.codes(values)
        remap = np.array([code_of.get(c, -1) for c in cats] + [-1], dtype=dtype)  # (code -1 takes the last)
        return remap[np.frombuffer(numbers, dtype=np.int32)]
    return np.array([code_of.get(v, -1) if v is not None else -1 for v in values], dtype=dtype)


def _categorical(values: list[str | None], codes: np.ndarray) -> pd.Categorical:
    """A categorical with sorted categories of dtype "string" (as ``astype("category")`` of a
    string column gives) from per-record values and each row's record."""
    if _built is not None:
        cats, numbers = _built.codes(values)
        small = np.int8 if len(cats) < 127 else np.int16 if len(cats) < 32767 else np.int32
        rec_codes = np.frombuffer(numbers, dtype=np.int32).astype(small)
    else:
        cats = sorted({v for v in values if v is not None})
        where = {v: i for i, v in enumerate(cats)}
        small = np.int8 if len(cats) < 127 else np.int16 if len(cats) < 32767 else np.int32
        rec_codes = np.array([where[v] if v is not None else -1 for v in values], dtype=small)
    dtype = pd.CategoricalDtype(pd.Index(cats, dtype="string"))
    return pd.Categorical.from_codes(rec_codes[codes] if len(codes) else np.zeros(0, dtype=small), dtype=dtype,
                                     validate=False)


# how many lines after a request line the next line with a time of its own is looked for
# (uvicorn's "connection open", then the app's "Client ... connected")
_REQUEST_FOLLOWERS = 4


def request_local_times(raw_t: np.ndarray, rows: np.ndarray, files: np.ndarray | None = None) -> np.ndarray:
    """The backend's local time of uvicorn request lines (``rows`` of a file's ``raw_t``).
    Such a line has no time of its own and carries that of the line before it, which after
    an idle server is minutes before the request; the line after it (the app's connect line)
    is written in the same moment. So a line within _REQUEST_FOLLOWERS after it (in its file:
    ``files``, each row's, when the rows are of several) with a later time gives its time;
    else the carried one is kept."""
    rows = np.asarray(rows, dtype=np.int64)
    local = raw_t[rows]
    if not len(rows):
        return local
    after = np.full(len(rows), np.nan)
    for k in range(_REQUEST_FOLLOWERS, 0, -1):  # (the nearest later time wins)
        follower = np.minimum(rows + k, len(raw_t) - 1)
        near = raw_t[follower]
        later = near > local if files is None else (near > local) & (files[follower] == files[rows])
        after = np.where(later, near, after)
    return np.where(np.isnan(after), local, after)

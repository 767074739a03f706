"""Read log files into one events DataFrame: the I/O edge around :mod:`jarvis_diag.logs`.

``ingest(paths)`` expands files, directories and globs, reads plain, gzip, xz or bzip2 bytes
(salvaging a truncated stream; UTF-16 text as UTF-8; an archive is left out, said), detects each file's format, parses it, finds the backend
zone (:mod:`jarvis_diag.zone`), dates the debug-panel copies, drops lines that two files
repeat (``app.log`` and the captured ``backend.log``) and sorts by ``t_source``.
"""

from __future__ import annotations

import bz2
import glob
import gzip
import io
import lzma
import os
import re
import sys
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path, PurePath
from typing import Any, BinaryIO, TextIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)

from jarvis_diag import frames
from jarvis_diag.errors import DiagError, paths_argument
from jarvis_diag.gc_pause import no_cycle_collection
from jarvis_diag.lines import iso_ms
from jarvis_diag.logs import FORMATS, detect, fast, frontend, journal_json, jsonl, parse_raw, prefixed, utc_times
from jarvis_diag.logs.fast import FastRows, merge_rows
from jarvis_diag.logs.shapes import tag_of
from jarvis_diag.logs.text import (
    CLOCK_DAY,
    CLOCK_LOCAL,
    MAX_LINE,
    MAX_LINE_NAME,
    RawColumns,
    clean,
    strip_terminal_codes,
)
from jarvis_diag.zone import ZoneInfo, format_offset, machine_rule, offset_from_pages, parse_tz, resolve_zone

__all__ = ["Ingested", "SourceInfo", "ZoneInfo", "expand_paths", "ingest", "read_events"]

DETECT_LINES = 50
PACKED = (".gz", ".xz", ".bz2")  # (a rotated log compressed: app.log.1.gz)
# what a directory's files are read by; .xz and .bz2 only when named (timeline --follow, which
# reads a directory's files as they grow, tells a compressed one by .gz)
_LOG_SUFFIXES = (".log", ".gz", ".jsonl")
GLOB_CHARS = "*?["


@dataclass
class SourceInfo:
    """What was read from one file (the ``sources`` entries of docs/formats.md)."""

    path: str
    format: str
    lines: int = 0
    events: int = 0
    unknown: int = 0
    bad_lines: int = 0  # undecodable bytes / NUL bytes
    truncated: bool = False  # last line cut short, or a gzip, xz or bzip2 stream that ends early or is damaged
    damaged: str | None = None  # what is wrong with a gzip, xz or bzip2 stream
    duplicates: int = 0  # lines already read from another file
    client: str | None = None
    first: str | None = None
    last: str | None = None
    long_lines: int = 0  # lines over text.MAX_LINE (64 Mi characters: binary data, no newlines) cut to that
    prefix: str | None = None  # the collector's prefix the backend's lines carry (logs.prefixed: journal, docker...)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Ingested:
    """What ``ingest()`` read: ``events``, one typed row per line (events.COLUMNS, sorted by
    ``t_source``); ``sources``, what was read from each file; ``zone``, the backend's time
    zone and how it was found; ``warnings``, what the reader should know (bad bytes, cut
    lines, a file that is no Jarvis log, a guessed zone), one sentence each."""

    events: pd.DataFrame
    sources: list[SourceInfo]
    zone: ZoneInfo
    warnings: list[str] = field(default_factory=list)


# ---- finding the files ---------------------------------------------------------------------

def is_log_name(name: str) -> bool:
    return name.endswith(_LOG_SUFFIXES) or (_rotation(name) is not None and not name.endswith(PACKED[1:]))


def is_journal_export(path: Path) -> bool:
    """Whether a folder's ``.json`` file is a journal export (``journalctl -o json``, read like
    its logs) rather than any other JSON (a timeline's, a tool's settings), which is not read."""
    try:
        with path.open("rb") as fh:
            head = fh.read(fast.HEAD_BYTES)
    except OSError:
        return False
    return _format_of_head(head)[1] == journal_json.NAME  # (as the file is told when it is read)


# Names a log is often saved under that a directory's walk does not read (a capture of
# `journalctl ... > jarvis.txt`, `docker logs -t > backend.out`, an export as .ndjson): such a
# file whose first lines are log lines is named in a warning (read when named or globbed).
_SAVED_AS = (".txt", ".out", ".ndjson", ".json-seq", ".jsonseq", ".logs")
_SNIFFED_MAX = 50  # (files of a directory looked into, at most)


def _saved_log(path: Path) -> bool:
    """Whether a file of a directory that is not read from there holds log lines at its start."""
    try:
        with path.open("rb") as fh:
            head = fh.read(1 << 16)
    except OSError:
        return False
    if not head or compressed(head):
        return False
    lines = _head_lines(head)
    return detect.log_lines_among(lines[:DETECT_LINES])


def expand_paths(paths: list[str], *, allow_empty: bool = False) -> list[str]:
    """Files in the order given, but the files of a rotated log oldest first (``app.log.2``,
    ``app.log.1``, ``app.log``; dated ones by their dates); directories recursively (``*.log``,
    ``*.log.N``, dated rotations ``*.log.2026-11-23`` and ``*.log-20261123``, ``*.gz``,
    ``*.jsonl``, and ``*.json`` journal exports; sorted); globs; ``-`` for stdin. DiagError for a path that
    does not exist or matches nothing (``allow_empty``: a directory with no log file yet,
    a glob matching none, or a file not there yet in a directory that is, gives none, as when
    following logs about to be written or rotated)."""
    return _expand(paths, allow_empty)[0]


def _expand(paths: list[str], allow_empty: bool) -> tuple[list[str], list[tuple[str, str]]]:
    """(:func:`expand_paths`, the .xz and .bz2 files found in the directories given, and the
    files saved under another name whose first lines are log lines (see _SAVED_AS), which
    are not read from there, each with its directory as given), in one walk."""
    out: list[str] = []
    packed: list[tuple[str, str]] = []
    seen: set[str] = set()

    def add(p: str) -> None:
        key = p if p == "-" else str(Path(p).resolve())
        if key not in seen:
            seen.add(key)
            out.append(p)

    for p in paths:
        p = str(p)
        if p == "-":
            add(p)
            continue
        path = Path(p)
        if path.is_dir():
            try:  # (a directory that cannot be listed would read as one with no logs)
                with os.scandir(path) as entries:
                    next(entries, None)
                # (one removed while it is walked, as a follow can see it: pathlib lets that through)
                found, left, sniffed = [], [], 0
                for f in _walk(path):
                    if f.is_file():
                        if is_log_name(f.name) or (f.name.endswith(".json") and is_journal_export(f)):
                            found.append(str(f))
                        elif f.name.endswith(PACKED[1:]):
                            left.append(str(f))
                        elif f.name.lower().endswith(_SAVED_AS) and sniffed < _SNIFFED_MAX:
                            sniffed += 1
                            if _saved_log(f):
                                left.append(str(f))
            except OSError as exc:
                where = exc.filename if exc.filename and str(exc.filename) != p else p
                raise DiagError(f"{where}: cannot read ({exc.strerror or exc})") from exc
            found.sort()
            packed += [(p, f) for f in sorted(left)]
            if not found and not allow_empty:
                saved = [f for f in left if not f.endswith(PACKED[1:])]
                hint = f"; {saved[0]} begins with log lines: give it by name to read it" if saved else ""
                raise DiagError(f"{p}: no log files in this directory (*.log, *.log.N, *.log.DATE, *.gz, *.jsonl, "
                                f"journal exports *.json){hint}")
            for f in found:
                add(f)
        elif path.is_file():
            add(p)
        elif path.exists():
            if not path.is_fifo():  # (a device: /dev/zero would be read for ever, /dev/null holds no log)
                raise DiagError(f"{p}: not a log file, a directory or a pipe")
            add(p)  # `timeline <(zcat app.log.gz)`: the shell names a pipe
        elif any(c in p for c in GLOB_CHARS):
            matches = sorted(m for m in glob.glob(p, recursive=True) if Path(m).is_file())
            if not matches and not allow_empty:
                raise DiagError(f"{p}: matches no file")
            for m in matches:
                add(m)
        elif allow_empty and path.parent.is_dir():
            continue
        else:
            raise DiagError(f"{p}: no such file or directory")
    return _oldest_rotation_first(out), packed


def _walk(folder: Path) -> Iterator[Path]:
    """Every entry under ``folder``, at any depth; OSError for a subfolder that cannot be
    listed (``Path.rglob`` passes over one, and its logs would be missed unsaid). A subfolder
    removed while it is walked (a follow can see that) is passed over."""
    def fail(exc: OSError) -> None:
        if not isinstance(exc, FileNotFoundError):
            raise exc

    for top, dirs, files in os.walk(folder, onerror=fail):
        for name in (*dirs, *files):
            yield Path(top, name)


def _unpacked_name(path: str) -> str:
    """``path`` without a compression suffix (``app.log.1.gz``: ``app.log.1``)."""
    for suffix in PACKED:
        if path.endswith(suffix):
            return path[:-len(suffix)]
    return path


# the date a timed rotation adds to a log's name: Python's TimedRotatingFileHandler
# (``app.log.2026-11-23``, ``..._10``, ``..._10-00``, ``..._10-00-00``) and logrotate's
# dateext (``app.log-20261123``)
_DATED = re.compile(r"(.+\.log)(?:\.(\d{4}-\d\d-\d\d(?:_\d\d(?:-\d\d){0,2})?)|-(\d{8}(?:\d{2})?))")


def _rotation(path: str) -> tuple[str, tuple] | None:
    """(the current file's path, a key ordering the files of one log oldest first) of a
    rotated log (``app.log.2`` or ``app.log.2.gz``: the current ``app.log``, two rotations
    old; ``app.log.2026-11-23``: of that day); None for any other file."""
    stem = _unpacked_name(path)
    base, _, number = stem.rpartition(".")
    if number.isdigit() and base.endswith(".log"):
        return base, (0, -int(number), "")
    dated = _DATED.fullmatch(stem)
    if dated:
        return dated[1], (0, 0, dated[2] or dated[3])
    return None


def _oldest_rotation_first(paths: list[str]) -> list[str]:
    """``paths`` with the files of each rotated log (``app.log.2``, ``app.log.1``, ``app.log``,
    in whatever order the names or the shell's glob put them) oldest first, in the places
    they held: lines of the same millisecond on either side of a rotation keep the order
    they were written in."""
    family: dict[int, tuple[str, tuple]] = {}
    for i, p in enumerate(paths):
        if p != "-":
            rotated = _rotation(p)
            family[i] = rotated if rotated is not None else (_unpacked_name(p), (1, 0, ""))
    members: dict[str, list[int]] = {}
    for i, (base, _age) in family.items():
        members.setdefault(str(Path(base).resolve()), []).append(i)
    out = list(paths)
    for slots in members.values():
        if len(slots) > 1:
            for slot, i in zip(slots, sorted(slots, key=lambda i: family[i][1]), strict=True):
                out[slot] = paths[i]
    return out


# ---- reading bytes -------------------------------------------------------------------------

# gzip data is decompressed this much at a time: what comes before a damaged block is kept
GZIP_PIECE = 1 << 16


def gunzip(data: bytes | bytearray) -> tuple[bytes, str | None]:
    """(decompressed bytes, what is wrong with the stream or None) of gzip data (one member
    or several), keeping all that comes before a cut or a damaged part: a piece that fails
    is fed again in smaller pieces, down to the byte where it fails."""
    chunks: list[bytes] = []
    view = memoryview(data)
    start = 0
    while start < len(view):
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        at, step = start, GZIP_PIECE
        while at < len(view) and not d.eof:
            piece = view[at:at + step]
            before = d.copy()
            try:
                chunks.append(d.decompress(piece))
            except zlib.error as exc:
                if step > 1:
                    d, step = before, max(1, step // 16)
                    continue
                reason = str(exc).removeprefix("Error -3 while decompressing data: ")
                return b"".join(chunks), f"damaged gzip data ({reason}); what came before it is read"
            at += len(piece)
        if not d.eof:
            chunks.append(d.flush())
            return b"".join(chunks), "the gzip stream ends early (a copy cut short?); what it holds is read"
        start = at - len(d.unused_data)  # (the next member, if any)
        if bytes(view[start:start + 2]) != b"\x1f\x8b":
            break
    return b"".join(chunks), None


# xz and bzip2 (logrotate's compresscmd may be either): their first bytes, their module
_COMPRESSED = (("xz", b"\xfd7zXZ\x00", lzma.LZMADecompressor, lzma.LZMAError),
               ("bzip2", b"BZh", bz2.BZ2Decompressor, OSError))


def compressed(head: bytes | bytearray) -> bool:
    """Whether data starting with ``head`` is gzip, xz or bzip2 data."""
    return head[:2] == b"\x1f\x8b" or any(head.startswith(magic) for _, magic, _, _ in _COMPRESSED)


def unpack(data: bytes | bytearray) -> tuple[bytes | bytearray, str | None]:
    """(decompressed bytes, what is wrong with the stream or None) of gzip, xz or bzip2 data
    (streams one after the other too), keeping what comes before a cut or a damaged part (to
    the byte with gzip; xz and bzip2 to the last piece read whole); other data as it is."""
    if data[:2] == b"\x1f\x8b":
        return gunzip(data)
    for name, magic, decompressor, error in _COMPRESSED:
        if not data.startswith(magic):
            continue
        chunks: list[bytes] = []
        view = memoryview(data)
        start = 0
        while start < len(view):
            d = decompressor()
            at = start
            while at < len(view) and not d.eof:
                piece = view[at:at + GZIP_PIECE // 16]
                try:
                    chunks.append(d.decompress(piece))
                except (error, EOFError) as exc:
                    return b"".join(chunks), f"damaged {name} data ({exc}); what came before it is read"
                at += len(piece)
            if not d.eof:
                return b"".join(chunks), f"the {name} stream ends early (a copy cut short?); what it holds is read"
            start = at - len(d.unused_data)
            if not bytes(view[start:start + len(magic)]) == magic:
                break
        return b"".join(chunks), None
    return data, None


def decode(data: bytes) -> str:
    """UTF-8 text; undecodable bytes become U+FFFD (counted per line by the parser)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("utf-8", errors="replace")


def read_bytes(path: str, stdin: TextIO | BinaryIO | None) -> tuple[bytes, str | None]:
    """(plain bytes, what is wrong with its gzip, xz or bzip2 stream or None) of a path or ``-``."""
    if path == "-":
        stream: Any = stdin if stdin is not None else sys.stdin
        data = stream.read()
        if isinstance(data, str):
            data = data.encode("utf-8", errors="surrogateescape")
    else:
        try:
            data = _read_file(path)
        except OSError as exc:
            raise DiagError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    return unpack(data)


def _read_file(path: str) -> bytearray:
    """The whole file in a buffer of our own (the parser reuses it for the text column)."""
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        data = bytearray(size)
        got = fh.readinto(data) if size else 0
        if got < size:  # the file shrank meanwhile
            del data[got:]
        rest = fh.read()  # or grew
        if rest:
            data += rest
    return data


# Text saved as Windows' "Unicode" (PowerShell's `>`, Notepad's UTF-16) starts with one of these.
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def from_utf16(data: bytes | bytearray) -> bytes | bytearray:
    """The UTF-8 bytes of UTF-16 text (a byte-order mark starts it; what is not UTF-16 becomes
    U+FFFD), else ``data`` itself. Read as UTF-8, every other byte of it is a NUL."""
    if data[:2] not in _UTF16_BOMS:
        return data
    return bytearray(bytes(data).decode("utf-16", errors="replace").encode("utf-8"))


def split_lines(text: str) -> tuple[list[str], bool]:
    """(lines, last line cut short?) of a text."""
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
        return lines, False
    return lines, True


# Archives by their first bytes (a tar's "ustar" at byte 257), and how each is unpacked: a
# user's logs.tar.gz read as one log would run its files together, app.log's lines twice
# over (backend.log repeats them) and the pages' lines with no page.
_ARCHIVES = (("a tar archive", 257, b"ustar"), ("a zip archive", 0, b"PK\x03\x04"),
             ("a 7z archive", 0, b"7z\xbc\xaf\x27\x1c"))
_UNPACK = {"a tar archive": "tar xf", "a zip archive": "unzip", "a 7z archive": "7z x"}


def archive_of(path: str) -> str | None:
    """What archive the file ``path`` is (its first bytes, unpacked: a .tar.gz too), or None."""
    if path == "-" or not os.path.isfile(path):  # (a pipe: its head would be taken from it)
        return None
    try:
        with open(path, "rb") as fh:
            head = fh.read(GZIP_PIECE)
    except OSError:
        return None  # (the reading says why)
    if compressed(head):  # (a .tar.gz, .tar.xz or .tar.bz2: its first bytes unpacked)
        head = unpack(head)[0][:512]
    for name, at, magic in _ARCHIVES:
        if head[at:at + len(magic)] == magic:
            return name
    return None


# ---- the pipeline --------------------------------------------------------------------------

@dataclass
class _Parsed:
    info: SourceInfo
    raw: RawColumns | None = None
    frame: pd.DataFrame | None = None  # jsonl files: already UTC
    raw_t: np.ndarray | None = None
    clock: np.ndarray | None = None
    others: _Parsed | None = None  # a collector's output: the lines of its other services (see _parse_prefixed)
    pairs: tuple[np.ndarray, np.ndarray] | None = None  # more (local-as-UTC, epoch) pairs for the zone


def _format_for(path: str, format_of: dict[str, str]) -> str | None:
    if not format_of:
        return None
    if path in format_of:
        return format_of[path]
    resolved = str(Path(path).resolve()) if path != "-" else "-"
    for key, kind in format_of.items():
        if key != "-" and str(Path(key).resolve()) == resolved:
            return kind
    return None


def _head_lines(data: bytes | bytearray) -> list[str]:
    """The whole lines of a file's first bytes (fast.HEAD_BYTES)."""
    head, _ = split_lines(decode(data[:fast.HEAD_BYTES]))
    if len(data) > fast.HEAD_BYTES:
        head = head[:-1]  # (cut at the end of the head: not a whole line)
    return head


def _format_of_head(data: bytes | bytearray) -> tuple[str, str | None]:
    """(format, the collector's prefix or None) of a file from its first bytes; for a
    collector's output whose first bytes hold only other services' lines (``journalctl -b``
    on a busy host), from its first backend line after them, searched for in the rest of
    ``data``."""
    head = _head_lines(data)
    fmt, prefix, later = detect.detect_head(head[:DETECT_LINES], head)
    if later and len(data) > fast.HEAD_BYTES:
        prefix = prefixed.detect_further(data, fast.HEAD_BYTES) or None
    return fmt, prefix


def _read_and_parse(path: str, fmt: str | None, stdin: TextIO | BinaryIO | None, warnings: list[str],
                    engine: str, memo: dict | None) -> _Parsed | None:
    """A file read and parsed: big plain files by the streaming parser (reading and
    classifying at once), everything else read whole first."""
    # (a pipe is read whole: a look at its head would take what it holds)
    if engine == "fast" and fast.COMPILED and path != "-" and os.path.isfile(path):
        try:
            with open(path, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                head = os.pread(fh.fileno(), fast.HEAD_BYTES, 0) if size >= fast.STREAM_MIN_BYTES else b""
                # (a capture of a terminal, colour codes in its first lines, is read whole to remove them)
                # (nor UTF-16 text, read whole to make it UTF-8)
                if head and not compressed(head) and head[:2] not in _UTF16_BOMS and b"\x1b[" not in head:
                    if fmt is not None:
                        known, prefix, later = fmt, None, False
                    else:
                        lines = _head_lines(head)
                        known, prefix, later = detect.detect_head(lines[:DETECT_LINES], lines)
                    # (a collector's output is read whole: see _parse_prefixed; so is one whose
                    # head holds only other services' lines, to look for the backend's further on)
                    if prefix is None and not later:
                        found, raw, data = fast.stream_parse(fh, size, path, page_client(path, known),
                                                             lambda head: known, memo)
                        return _parse_one(path, data, None, found, warnings, engine, memo, raw=raw)
        except OSError as exc:
            raise DiagError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    data, damaged = read_bytes(path, stdin)
    return _parse_one(path, data, damaged, fmt, warnings, engine, memo)


def page_client(path: str, fmt: str) -> str | None:
    """The clientId of a page's log: from its file name, as the server names it; else, for a
    frontend log read from stdin or renamed, its file name's stem (``stdin``), so that its
    lines are still one page's."""
    client = frontend.client_of(path) if path != "-" else None
    if client is None and fmt == "frontend":
        client = "stdin" if path == "-" else PurePath(path).name.split(".")[0] or "page"
    return client


def _parse_one(path: str, data: bytes | bytearray | None, damaged: str | None, fmt: str | None, warnings: list[str],
               engine: str, memo: dict | None, raw: RawColumns | None = None) -> _Parsed | None:
    """``raw``: the file's rows, parsed already (then ``data`` is not needed)."""
    if data is not None and raw is None:
        data = from_utf16(data)
        data, codes = strip_terminal_codes(data)
        if codes:
            warnings.append(f"{path}: {codes:,} terminal colour code(s) removed (a capture of a terminal)")
    prefix = None
    if fmt is None:
        assert data is not None
        fmt, prefix = _format_of_head(data)
    if fmt == detect.SIM_RESULTS:  # (not a log: the caller says so when it was named)
        return None
    info = SourceInfo(path=path, format=fmt, prefix=prefix)
    if prefix == journal_json.NAME:
        assert data is not None
        return _parse_journal_export(info, data, damaged, engine, memo, warnings)
    if prefix is not None:
        assert data is not None
        return _parse_prefixed(info, data, damaged, engine, memo)
    client = page_client(path, fmt)
    if client is not None and frontend.client_of(path) is None:
        warnings.append(f"{path}: a page's log whose name does not give its clientId (YYYYMMDD_<clientId>.log, "
                        f"as the server writes it): its lines are taken as one page, named {client!r}")
    info.client = client
    if fmt == "jsonl":
        assert data is not None
        lines, cut = split_lines(decode(data))
        raw, rows = jsonl.parse_lines(lines, path)
        raw.truncated = cut
        parsed = _Parsed(info, raw=raw, frame=frames.events_from_records(rows))
        # (its events name the logs they were read from: counted here, as this file's)
        frame = parsed.frame
        info.events, info.unknown = len(frame), int((frame["kind"] == "unknown").sum())
        if len(frame):
            info.first, info.last = _iso(frame["t_source"].min()), _iso(frame["t_source"].max())
    else:
        if raw is None:
            assert data is not None
            raw = parse_raw(data, fmt, path, client, engine=engine, consume=isinstance(data, bytearray), memo=memo)
        parsed = _Parsed(info, raw=raw, raw_t=_floats(raw.columns.get("t_source"), len(raw)),
                         clock=np.asarray(raw.clock, dtype="int8"))
    info.lines, info.bad_lines, info.long_lines = raw.lines, raw.bad_lines, raw.long_lines
    info.truncated = raw.truncated or damaged is not None
    info.damaged = damaged
    return parsed


def _parse_journal_export(info: SourceInfo, data: bytes | bytearray, damaged: str | None, engine: str,
                          memo: dict | None, warnings: list[str]) -> _Parsed:
    """A journal export (``journalctl -o json``: see :mod:`logs.journal_json`), read as the
    journalctl output its entries make: each row's line is its entry's line of the export
    (a message of several lines: each of its rows that entry's line), its text the line as
    journalctl shows it."""
    export = journal_json.decode(data)
    del data
    # (a message with colour codes is exported as a byte array: its codes come out only here)
    text, codes = strip_terminal_codes(export.data)
    if codes:
        warnings.append(f"{info.path}: {codes:,} terminal colour code(s) removed (a capture of a terminal)")
    if export.left_out:
        which = "1 entry" if export.left_out == 1 else f"{export.left_out:,} entries"
        warnings.append(f"{info.path}: {which} with no message: the export leaves out a message over 4096 bytes "
                        f"(a traceback?); `journalctl -o json --all` keeps it (its line kept as an unknown event)")
    parsed = _parse_prefixed(info, text, damaged, engine, memo, line_of=export.entry_of)
    info.lines = export.lines
    return parsed


def _parse_prefixed(info: SourceInfo, data: bytes | bytearray, damaged: str | None, engine: str,
                    memo: dict | None, line_of: np.ndarray | None = None) -> _Parsed:
    """A collector's output (``journalctl``, ``docker logs -t``...: see :mod:`logs.prefixed`):
    the backend's lines behind their prefixes parsed as its plain log would be, each row
    then given its line of the file (number and text); the lines of another service in the
    same file are ``unknown`` events (``others``). Lines with no time of their own are
    placed by the collector's times (:func:`prefixed.place`). ``line_of``: the line of the
    file (0-based) each line of ``data`` comes from, when ``data`` was made from the file
    (a journal export's entries)."""
    assert info.prefix is not None
    if data[:3] == b"\xef\xbb\xbf":  # (a byte-order mark: not part of the first prefix)
        data = data[3:]
    compiled = engine == "fast"  # (the others read the prefixes one line at a time: what this is checked against)
    sc = prefixed.scan(data, prefixed.READ_AS.get(info.prefix, info.prefix), compiled=compiled)
    ours = prefixed.backend_lines(data, sc)
    mine = np.flatnonzero(ours)
    starts, ends = sc.starts, sc.ends
    body = prefixed.join_cut(data, sc, mine, compiled=compiled)
    raw = parse_raw(body, "backend", info.path, None, engine=engine, consume=isinstance(body, bytearray), memo=memo)
    del body
    raw.lines, raw.truncated = len(sc), len(data) > 0 and data[-1:] != b"\n"
    n = len(raw)
    raw_t = _floats(raw.columns.get("t_source"), n)
    clock = np.asarray(raw.clock, dtype="int8")
    # each row's line of the file, and its text there: the prefix, then the line as parsed
    # (of clean text, a row's text is its line: the file's line is taken whole, at the end)
    whole_lines = raw.rows is not None and compiled and _clean_lines(data, sc)
    if raw.rows is not None:
        at = mine[raw.rows.rows]
        raw.rows.rows = at
        if whole_lines:  # (the parser's own text column, the lines behind the prefixes, goes now)
            raw.rows.text.result()
            raw.rows.text = Future()
        else:
            full: Future[pa.Array] = Future()
            full.set_result(pa.compute.binary_join_element_wise(prefixed.prefixes(data, sc, at),
                                                                raw.rows.text.result(),
                                                                pa.scalar("", pa.large_string())))
            raw.rows.text = full
        loggers = np.array([v is not None for v in raw.rows.values("logger")], dtype=bool)
        own = (raw.rows.source == fast.SOURCE_CODE["backend"]) & loggers[raw.rows.rrec]
    else:
        at = mine[np.asarray(raw.columns["line"], dtype=np.int64) - 1]
        raw.columns["line"] = (at + 1).tolist()
        raw.columns["text"] = [p + t for p, t in zip(prefixed.prefixes(data, sc, at).to_pylist(),
                                                     raw.columns["text"], strict=True)]
        own = np.array([s == "backend" and lg is not None
                        for s, lg in zip(raw.columns["source"], raw.columns["logger"], strict=True)], dtype=bool)
    # a row with a backend time of its own is an anchor; the others are placed between them
    own &= (clock == CLOCK_LOCAL) & ~np.isnan(raw_t)
    anchors = np.flatnonzero(own)
    loose = np.flatnonzero(~own & ((clock == CLOCK_LOCAL) | np.isnan(raw_t)))
    other = np.flatnonzero(~ours)
    placed_at = np.concatenate([at[loose], other])
    near = _anchors_near(at[anchors], placed_at)
    stamped, wraps = prefixed.stamps(data, sc, np.concatenate([placed_at, at[anchors][near]]), at_once=compiled)
    anchor_stamp = np.full(len(anchors), np.nan)
    anchor_stamp[near] = stamped[len(placed_at):]
    times = prefixed.place(placed_at, stamped[:len(placed_at)], at[anchors], anchor_stamp, raw_t[anchors],
                           wraps=wraps)
    placed, others_t = times[:len(loose)], times[len(loose):]
    keep = ~np.isnan(placed)
    raw_t[loose[keep]] = placed[keep]
    clock[loose[keep]] = CLOCK_LOCAL
    parsed = _Parsed(info, raw=raw, raw_t=raw_t, clock=clock, pairs=_collector_pairs(data, sc, at[anchors],
                                                                                  raw_t[anchors]))
    # the lines of the other services: unknown events where the collector's times put them
    if len(other):
        texts = []
        for s, e in zip(starts[other].tolist(), ends[other].tolist(), strict=True):
            text, bad, long = clean(decode(bytes(data[s:e])).rstrip("\r"))
            texts.append(text)
            raw.bad_lines += bad
            raw.long_lines += long
        m = len(other)
        cols: dict[str, Any] = {"kind": ["unknown"] * m, "source": ["backend"] * m, "text": texts,
                                "line": (other + 1).tolist(), "path": [info.path] * m,
                                "tag": [tag_of(x) for x in texts]}
        parsed.others = _Parsed(info, raw=RawColumns(cols, [CLOCK_LOCAL] * m), raw_t=others_t,
                                clock=np.full(m, CLOCK_LOCAL, dtype="int8"))
    info.lines, info.bad_lines, info.long_lines = raw.lines, raw.bad_lines, raw.long_lines
    info.truncated = raw.truncated or damaged is not None
    info.damaged = damaged
    if whole_lines:  # (the last use of the bytes: a bytearray of ours becomes the column's values)
        assert raw.rows is not None
        text: Future[pa.Array] = Future()
        text.set_result(_whole_lines(data, sc, at))
        raw.rows.text = text
    if line_of is not None:  # (the lines of the file the rows come from)
        if raw.rows is not None:
            raw.rows.rows = line_of[at]
        else:
            raw.columns["line"] = (line_of[at] + 1).tolist()
        if parsed.others is not None:
            parsed.others.raw.columns["line"] = (line_of[other] + 1).tolist()
    return parsed


def _clean_lines(data: bytes | bytearray, sc: prefixed.Scan) -> bool:
    """Whether the file's lines are clean text (:func:`fast.clean_text`, none over MAX_LINE
    bytes): then the parser keeps the lines behind the prefixes as they are, and each row's
    text, its prefix then that line, is its line of the file."""
    if not fast.COMPILED or not len(sc):
        return False
    return int((sc.ends - sc.starts).max()) <= MAX_LINE and fast.clean_text(data)


def _whole_lines(data: bytes | bytearray, sc: prefixed.Scan, lines: np.ndarray) -> pa.Array:
    """The lines ``lines`` (ascending) of clean ``data`` (see :func:`_clean_lines`) as a
    large_string array; a bytearray becomes its values (the lines moved down in place)."""
    into = None if isinstance(data, bytearray) else pa.allocate_buffer(int((sc.ends[lines] - sc.starts[lines]).sum()))
    return fast.gather_lines(data, sc.ends, lines, into=into)


# the backend lines whose collector's stamps are read for the zone, at most (spread over the file)
_COLLECTOR_PAIRS = 2000
# how far from a whole quarter-hour offset a collector's stamp may be for its line's zone: a line
# the backend wrote to a buffer (Python's stdout to a pipe, without PYTHONUNBUFFERED) is stamped
# when the buffer is written, minutes or hours later, and tells nothing of the zone
_COLLECTOR_LAG_S = 2.0


def _collector_pairs(data: bytes | bytearray, sc: prefixed.Scan, lines: np.ndarray,
                     local: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(local-as-UTC, epoch) pairs of backend lines (file positions ``lines``, their own times
    ``local``) whose collector stamped them with an instant (``docker logs -t``, journalctl's
    ``short-iso``...): the backend's zone, as a ``recv_ts`` gives it (the stamp comes a little
    after the line is written); not those stamped long after (see ``_COLLECTOR_LAG_S``)."""
    if not len(lines):
        return None
    pick = np.unique(np.linspace(0, len(lines) - 1, min(len(lines), _COLLECTOR_PAIRS)).astype(np.int64))
    utc = prefixed.instants(data, sc, lines[pick])
    local = local[pick]
    diff = local - utc
    has = ~np.isnan(utc) & (np.abs(diff - np.round(diff / 900.0) * 900.0) <= _COLLECTOR_LAG_S)
    return (local[has], utc[has]) if has.any() else None


def _anchors_near(anchor_at: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The anchors (indices into ``anchor_at``, ascending) just before and after each of
    ``at``: the only ones whose collector's time is needed."""
    if not len(anchor_at) or not len(at):
        return np.zeros(0, dtype=np.int64)
    after = np.searchsorted(anchor_at, at, side="right")
    return np.unique(np.concatenate([np.maximum(after - 1, 0), np.minimum(after, len(anchor_at) - 1)]))


def _floats(col: Any, n: int) -> np.ndarray:
    """A column of either parser as float64 with NaN for nulls."""
    if col is None:
        return np.full(n, np.nan)
    if isinstance(col, list):
        return np.asarray(frames.nan_list(col), dtype="float64")
    if isinstance(col, pa.Array | pa.ChunkedArray):
        return col.to_numpy(zero_copy_only=False).astype("float64")
    if isinstance(col, np.ndarray):
        return col.astype("float64", copy=False)
    return pd.array(col).to_numpy(dtype="float64", na_value=np.nan)


# uvicorn request lines: the client's epoch in their query next to the backend's local time
_REQUEST_SHAPES = ("uv.ws_accepted", "uv.http")


def _zone_pairs(parsed: list[_Parsed]) -> tuple[list[float], list[float]]:
    """(local-as-UTC, epoch) pairs: recv_ts of backend lines, the client epoch of uvicorn
    request lines next to a timestamped line, and a collector's instants (see
    :func:`_collector_pairs`)."""
    local: list[np.ndarray] = []
    utc: list[np.ndarray] = []
    for p in parsed:
        if p.pairs is not None:  # (a collector's instants beside the backend's own times)
            local.append(p.pairs[0])
            utc.append(p.pairs[1])
        if p.raw is None or p.clock is None or p.raw_t is None or not len(p.raw):
            continue
        if p.raw.rows is not None:  # (the fast parser's rows: only those with an epoch are read)
            got = p.raw.rows.zone_pairs(p.raw_t, p.clock, CLOCK_LOCAL, _REQUEST_SHAPES)
            local += got[0]
            utc += got[1]
            continue
        n = len(p.raw)
        usable = (p.clock == CLOCK_LOCAL) & ~np.isnan(p.raw_t)
        recv = _floats(p.raw.columns.get("recv_ts"), n)
        sel = usable & ~np.isnan(recv)
        local.append(p.raw_t[sel])
        utc.append(recv[sel])
        shapes = p.raw.columns.get("shape")
        if p.raw.columns.get("client_ms") is not None and shapes is not None:
            epoch_ms = _floats(p.raw.columns["client_ms"], n)
            is_request = pd.Series(shapes).isin(_REQUEST_SHAPES).to_numpy()
            sel = usable & is_request & ~np.isnan(epoch_ms)
            local.append(fast.request_local_times(p.raw_t, np.flatnonzero(sel)))
            utc.append(epoch_ms[sel] / 1000)
    if not local:
        return [], []
    return np.concatenate(local).tolist(), np.concatenate(utc).tolist()


def _first_local_time(parsed: list[_Parsed]) -> float | None:
    for p in parsed:
        if p.clock is not None and p.raw_t is not None:
            sel = np.flatnonzero((p.clock == CLOCK_LOCAL) & ~np.isnan(p.raw_t))
            if len(sel):
                return float(p.raw_t[sel[0]])
    return None


def _local_span(parsed: list[_Parsed]) -> tuple[float | None, float | None]:
    """The earliest and latest backend local times (read as UTC) of all the files."""
    lows, highs = [], []
    for p in parsed:
        if p.clock is not None and p.raw_t is not None and len(p.raw_t):
            local = p.raw_t[(p.clock == CLOCK_LOCAL) & ~np.isnan(p.raw_t)]
            if len(local):
                lows.append(float(local.min()))
                highs.append(float(local.max()))
    return (min(lows), max(highs)) if lows else (None, None)


def _machine_zone_name() -> str | None:
    """This machine's zone as named in ``TZ`` or by the /etc/localtime link, when it says."""
    name = os.environ.get("TZ", "").lstrip(":")
    if not name:
        try:
            name = os.path.realpath("/etc/localtime").partition("/zoneinfo/")[2]
        except OSError:
            name = ""
    return name or None


def _machine_offset_minutes(at_utc_s: float | None) -> int:
    at = time.time() if at_utc_s is None else at_utc_s
    return time.localtime(at).tm_gmtoff // 60


def _panel_day(parsed: list[_Parsed], zone: ZoneInfo, panel_offset: int) -> str | None:
    """The date of a panel copy taken from the other files: the backend's local date, else
    the frontend's date in the panel's zone."""
    first_local = _first_local_time(parsed)
    if first_local is not None:
        return time.strftime("%Y-%m-%d", time.gmtime(first_local))
    for p in parsed:
        if p.clock is not None:
            sel = (p.clock == 0) & ~np.isnan(p.raw_t)
            if sel.any():
                return time.strftime("%Y-%m-%d", time.gmtime(float(p.raw_t[sel][0]) + panel_offset * 60))
        elif p.frame is not None and len(p.frame) and p.frame["t_source"].notna().any():
            t = p.frame["t_source"].dropna().iloc[0].timestamp()
            return time.strftime("%Y-%m-%d", time.gmtime(t + panel_offset * 60))
    return None


def _client_keys(client: pd.Categorical) -> np.ndarray:
    """A number per line for its client, as :func:`_dedup` compares them (-1: none or "")."""
    keys = client.codes.astype(np.int64)
    if "" in client.categories:
        keys[keys == client.categories.get_loc("")] = -1
    return keys


def _in_two_files(client: np.ndarray, paths: np.ndarray, n_paths: int) -> np.ndarray:
    """For each line (its client key and file number): whether that client has lines in
    two files or more. A line repeats another file's only for the same client (none, for
    backend lines), so only those can (see :func:`_dedup`)."""
    pairs = np.unique((client + 1) * n_paths + paths)  # each (client, file) once
    owners, files = np.unique(pairs // n_paths - 1, return_counts=True)
    return np.isin(client, owners[files > 1])


# A file in which this share of the lines repeats the line before it (its text, at its time)
# has every line written twice: a logger with two handlers on one file. (A log as written has
# a few such lines in a thousand: two sessions' 'emit took 0ms' in one millisecond.)
DOUBLED_SHARE = 0.4
_DOUBLED_LOOK = 4096  # (rows looked at first: a doubled file shows in any stretch of its lines)
_DOUBLED_MIN_LINES = 20


def _undouble(df: pd.DataFrame, infos: dict[str, SourceInfo], warnings: list[str]) -> pd.DataFrame:
    """Read each pair of a file whose every line is written twice once. Its repeats are
    counted as its duplicates and said in a warning; in other files, a line that repeats the
    one before it is kept, as written."""
    if len(df) < _DOUBLED_MIN_LINES:
        return df
    text = pa.array(df["text"].array)
    t = df["t_source"].to_numpy(dtype="datetime64[ns]")
    path = df["path"].cat.codes.to_numpy()

    def repeats(lo: int, hi: int) -> np.ndarray:  # row i+1 repeats row i, for rows lo..hi
        same = pa.compute.equal(text[lo + 1:hi], text[lo:hi - 1]).to_numpy(zero_copy_only=False)
        return same & (t[lo + 1:hi] == t[lo:hi - 1]) & (path[lo + 1:hi] == path[lo:hi - 1])

    if repeats(0, min(len(df), _DOUBLED_LOOK)).mean() < DOUBLED_SHARE / 20:  # (no file can be doubled)
        return df
    again = np.concatenate([[False], repeats(0, len(df))])
    counts = np.bincount(path[path >= 0], minlength=len(df["path"].cat.categories))
    doubled = [code for code, n in enumerate(np.bincount(path[again], minlength=len(counts)))
               if counts[code] >= _DOUBLED_MIN_LINES and n >= DOUBLED_SHARE * counts[code]]
    if not doubled:
        return df
    # in a run of equal lines (a line the log writes twice itself, doubled: 4), every second goes
    start = np.where(again, 0, np.arange(len(df)))
    np.maximum.accumulate(start, out=start)
    drop = again & ((np.arange(len(df)) - start) % 2 == 1) & np.isin(path, doubled)
    names = df["path"].cat.categories
    for code, n in zip(*np.unique(path[drop], return_counts=True), strict=True):
        name = str(names[code])
        infos[name].duplicates += int(n)
        warnings.append(f"{name}: every line is written twice (a logger with two handlers on this file?): each "
                        f"pair read once ({int(n):,} repeats left out)")
    return df.loc[~drop].reset_index(drop=True)


def _dedup(df: pd.DataFrame, infos: dict[str, SourceInfo]) -> pd.DataFrame:
    """Drop lines another file already gave: the same text of the same client at the same
    instant (to the millisecond the logs write), the same occurrence of it there. A line
    with no time of its own has the time of the timestamped line before it (a message's
    second line, in app.log and repeated in the captured backend.log); one with no time at
    all (a file that is no log: ``{`` starts many) repeats nothing."""
    cand = df["source"].isin(["backend", "frontend"]).to_numpy() & df["t_source"].notna().to_numpy()
    paths = df["path"].cat.codes.to_numpy()[cand]
    if not len(paths) or (paths == paths[0]).all():  # lines of one file only
        return df
    # only the clients whose lines come from two files or more can have repeats (the texts,
    # most of the data, are hashed only for theirs)
    client = _client_keys(df["client"].array)[cand]
    shared = _in_two_files(client, paths, len(df["path"].cat.categories))
    if not shared.any():
        return df
    cand[cand] = shared
    paths, client = paths[shared], client[shared]
    at = np.flatnonzero(cand)
    # (the times as the logs write them: a collector's capture places a line with no time of its
    # own a few microseconds after the line before it, which app.log gives that line's time)
    ms = (df["t_source"].to_numpy(dtype="datetime64[ns]").view("int64")[at] + 500_000) // 1_000_000
    # a number for each distinct text (a collector's line without its prefix: the line
    # app.log holds too)
    texts = df["text"].take(at)
    shapes = {path: info.prefix for path, info in infos.items() if info.prefix is not None}
    if shapes:
        texts = texts.to_numpy(dtype=object)
        for code, name in enumerate(df["path"].cat.categories):
            if name in shapes:
                sel = np.flatnonzero(paths == code)
                texts[sel] = [prefixed.strip(t, shapes[name]) for t in texts[sel]]
    text, _ = pd.factorize(texts)
    sub = pd.DataFrame({"path": paths, "text": text, "client": client, "ms": ms})
    occ = sub.groupby(["path", "text", "client", "ms"], sort=False).cumcount().to_numpy()
    dup_sub = sub.assign(occ=occ).duplicated(subset=["text", "client", "ms", "occ"], keep="first").to_numpy()
    if not dup_sub.any():
        return df
    names = df["path"].cat.categories
    for code, n in zip(*np.unique(paths[dup_sub], return_counts=True), strict=True):
        infos[str(names[code])].duplicates += int(n)
    drop = np.zeros(len(df), dtype=bool)
    drop[at[dup_sub]] = True
    return df.loc[~drop].reset_index(drop=True)


def _may_repeat(rows: FastRows) -> bool:
    """Whether lines of these files may repeat each other's (what :func:`_dedup` drops)."""
    if rows.file_of is None or len(rows.paths) < 2:
        return False
    lines = np.isin(rows.source, [fast.SOURCE_CODE["backend"], fast.SOURCE_CODE["frontend"]])
    client = _client_keys(rows.client_column())[lines]
    return bool(_in_two_files(client, rows.file_of[lines].astype(np.int64), len(rows.paths)).any())


def _iso(ts: pd.Timestamp) -> str | None:
    """``ts`` in ms, as the rest of the JSON."""
    return None if ts is pd.NaT or pd.isna(ts) else iso_ms(ts.value / 1e9)


def ingest(
    paths: list[str] | tuple[str, ...] | str,
    *,
    tz: str | None = None,
    format_of: dict[str, str] | None = None,
    stdin: TextIO | BinaryIO | None = None,
    panel_date: str | None = None,
    panel_tz: str | None = None,
    engine: str = "fast",
) -> Ingested:
    """Read logs into one events frame sorted by ``t_source`` (stable).

    ``tz``: the backend's zone when its logs carry no epochs (IANA name or ``+08:00``).
    ``format_of``: path -> format, overriding detection. ``panel_date`` (YYYY-MM-DD) and
    ``panel_tz``: the date and zone of debug-panel copies (default: from the other files).
    ``engine="reference"`` parses one line at a time (slow; the fast parser is checked against it);
    ``engine="numpy"`` is the fast parser without its compiled loops (what an install without a
    C compiler runs).
    """
    paths = paths_argument("paths", paths)
    if format_of is not None and not isinstance(format_of, dict):
        raise DiagError(f"format_of must be a dict of path -> format, not {format_of!r}")
    for name, value in (("tz", tz), ("panel_tz", panel_tz), ("panel_date", panel_date)):
        if value is not None and not isinstance(value, str) and not (name == "panel_date" and isinstance(value, date)):
            raise DiagError(f"{name} must be a string, not {value!r}")
    format_of = dict(format_of or {})
    for key, kind in format_of.items():
        if kind not in FORMATS:
            raise DiagError(f"--format-of {key}={kind}: unknown format (one of {', '.join(FORMATS)})")
    for name, value in (("--tz", tz), ("--panel-tz", panel_tz)):
        if value is not None:
            try:
                parse_tz(value)
            except ValueError as exc:
                raise DiagError(f"{name}: {exc}") from exc
    if panel_date is not None and not isinstance(panel_date, date):
        try:
            date.fromisoformat(str(panel_date))
        except ValueError:
            raise DiagError(f"--panel-date {panel_date}: not a date (YYYY-MM-DD)") from None
    if not paths:
        raise DiagError("no log paths given")
    files, packed = _expand(list(paths), False)
    for key in format_of:  # (a path that is none of the files would be ignored: a typo, most likely)
        if not any(_format_for(f, {key: "-"}) for f in files):
            shown = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
            raise DiagError(f"--format-of {key}: not one of the files read ({shown})")
    with no_cycle_collection():
        result = _ingest(files, tz=tz, format_of=format_of, stdin=stdin, panel_date=panel_date,
                         panel_tz=panel_tz, engine=engine, named=_named_files(paths))
    result.warnings.extend(_packed_left_out(packed, files))
    return result


def left_out_of_directories(paths: list[str]) -> list[str]:
    """The warnings for the .xz and .bz2 files the directories among ``paths`` hold, which
    are not read from there (as :func:`ingest` warns; for a reader given their other files
    one by one, as timeline --follow is), but those also named or globbed among ``paths``:
    they are read. A path gone or unreadable is passed over."""
    packed: list[tuple[str, str]] = []
    named: list[str] = []
    for p in paths:
        try:
            files, left = _expand([p], True)
        except DiagError:
            continue
        if os.path.isdir(p):
            packed += left
        else:
            named += files
    return _packed_left_out(packed, named)


def _packed_left_out(packed: list[tuple[str, str]], files: list[str]) -> list[str]:
    """What a directory given holds and is not read (``packed``: directory, file), a log
    compressed with xz or bzip2 (read when named or globbed: timeline --follow tells a
    compressed file by .gz) or saved under another name, one warning each."""
    if not packed:
        return []
    read = {str(Path(x).resolve()) for x in files if x != "-"}
    return [f"{f}: left out of {p}: a directory's .xz and .bz2 files are read when named or globbed"
            if f.endswith(PACKED[1:]) else
            f"{f}: left out of {p}, though it begins with log lines: a directory's files are read by their "
            f"names (*.log, *.gz, *.jsonl, journal exports *.json); give it by name to read it"
            for p, f in packed if str(Path(f).resolve()) not in read]


def _named_files(paths: list[str] | tuple[str, ...]) -> set[str]:
    """The files among ``paths`` named one by one (not found in a directory), resolved."""
    return {str(Path(p).resolve()) for p in map(str, paths) if p != "-" and Path(p).is_file()}


def _ingest(files: list[str], *, tz: str | None, format_of: dict[str, str], stdin: TextIO | BinaryIO | None,
            panel_date: str | None, panel_tz: str | None, engine: str, named: set[str] = frozenset()) -> Ingested:
    """``named``: the files the user named one by one (resolved); a simulate-mobile
    results file among them is said to be skipped (one found in a directory, next to the
    logs of its run, is skipped quietly, as any other file that is not a log)."""
    warnings: list[str] = []
    parsed: list[_Parsed] = []
    results: list[str] = []  # the named files that are simulate-mobile results
    archives: list[tuple[str, str]] = []  # (path, what archive it is)
    # message classifications shared by the files (one file has nothing to share them with,
    # and keeping them costs memory)
    memo: dict | None = {} if len(files) > 1 else None
    for path in files:
        archive = archive_of(path)
        if archive is not None:
            archives.append((path, archive))
            continue
        p = _read_and_parse(path, _format_for(path, format_of), stdin, warnings, engine, memo)
        if p is not None:
            parsed.append(p)
            if p.others is not None:
                parsed.append(p.others)
        elif path == "-" or str(Path(path).resolve()) in named:
            results.append(path)
    if archives and not parsed:
        path, archive = archives[0]
        raise DiagError(f"{path}: {archive}, not a log: unpack it ({_UNPACK[archive]} {PurePath(path).name}) and "
                        "give the directory of its logs")
    warnings.extend(f"{path}: skipped, {archive} is not a log (unpack it to read the logs it holds)"
                    for path, archive in archives)
    if results and not parsed:
        raise DiagError(f"{results[0]}: a simulate-mobile results file, not a log "
                        f"(`jarvis-diag report {results[0]}` reads it)")
    warnings.extend(f"{path}: skipped, a simulate-mobile results file is not a log" for path in results)
    memo = None  # (before the frame is made: memory is the cost there)
    return _assemble(parsed, warnings, tz=tz, panel_date=panel_date, panel_tz=panel_tz)


def _check_read_once(parsed: list[_Parsed]) -> None:
    """DiagError for events (our JSONL) given with a log they were read from: its lines would
    be two events each, and every attach, reply and finding of it named twice. The events
    name their logs as they were given when written: those not found from here are not
    compared."""
    logs = {str(Path(p.info.path).resolve()): p.info.path for p in parsed if p.frame is None and p.info.path != "-"}
    if not logs:
        return
    for p in parsed:
        if p.frame is None or "path" not in p.frame or "line" not in p.frame:
            continue
        frame = p.frame
        for source in frame["path"].dropna().unique().tolist():
            also = logs.get(str(Path(str(source)).resolve()))
            if also is None:
                continue
            # (a name alone is no proof: an export made in another folder, or before a rotation,
            # names an app.log that is another file now): its first line read is the same
            mine = frame[frame["path"] == source]
            first = mine.loc[mine["line"].idxmin()]
            if _line_of(also, int(first["line"])) == str(first["text"]):
                raise DiagError(f"{p.info.path}: the events of {source}, also given ({also}): its lines would be "
                                "read twice; give the events or the logs they were read from, not both")


def _line_of(path: str, number: int, most: int = 100_000) -> str | None:
    """Line ``number`` (1-based) of the log at ``path`` (gzip read through), without its line
    end; None past the end, past ``most`` lines, or when it cannot be read."""
    if not 1 <= number <= most:
        return None
    try:
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rb") as fh:
            for n, raw in enumerate(fh, 1):
                if n == number:
                    return raw.rstrip(b"\r\n").decode("utf-8", "replace")
    except (OSError, EOFError, zlib.error):
        return None
    return None


def _assemble(parsed: list[_Parsed], warnings: list[str], *, tz: str | None, panel_date: str | None,
              panel_tz: str | None) -> Ingested:
    _check_read_once(parsed)
    local, utc = _zone_pairs(parsed)
    first_local = _first_local_time(parsed)
    low, high = _local_span(parsed)
    machine = _machine_offset_minutes(None if first_local is None else first_local)
    zone = resolve_zone(local, utc, tz=tz, machine_offset_minutes=machine, at_utc_s=low, end_utc_s=high,
                        machine=machine_rule(_machine_zone_name()))
    has_backend = first_local is not None
    if zone.warning and not has_backend and zone.source == "machine":
        zone = replace(zone, warning=None)  # (no backend time to place: its zone is no question)
    if zone.warning:
        warnings.append(zone.warning)
    panel_offset = zone.offset_minutes if panel_tz is None else parse_tz(panel_tz, first_local)
    needs_panel = any(p.clock is not None and (p.clock == CLOCK_DAY).any() for p in parsed)
    day = panel_date
    if needs_panel and day is None:
        day = _panel_day(parsed, zone, panel_offset)
        if day is None:
            warnings.append("debug-panel copy has no date and no other log gives one: its times are unknown; "
                            "give its date with --panel-date YYYY-MM-DD (and the browser's zone with --panel-tz)")
        else:
            warnings.append(f"debug-panel times read as {day} UTC{format_offset(panel_offset)} "
                            "(taken from the other logs)")
    if panel_tz is None and zone.changes and day is not None:  # (the offset in force that day)
        panel_offset = zone.offset_at(datetime.fromisoformat(str(day)).replace(tzinfo=UTC).timestamp() + 43200)
    frames_: list[pd.DataFrame | dict[str, pd.Series]] = []
    infos = {p.info.path: p.info for p in parsed}
    # files parsed by the fast parser, one after the other, become one part: their columns
    # are built once (a set can hold a frontend log per page load, hundreds of files)
    run: list[tuple[FastRows, np.ndarray]] = []

    def end_run() -> None:
        if not run:
            return
        parts = [r for r, _ in run]
        every_file = len(parts) == len(parsed)  # (else the frames are put together, then sorted)
        t = run[0][1] if len(run) == 1 else np.concatenate([t for _, t in run])
        run.clear()
        rows = merge_rows(parts)
        del parts
        ns = frames.seconds_to_ns(t, consume=True)  # (t is ours: its memory is reused)
        del t
        # build the columns already sorted, instead of sorting the frame after (a copy of it),
        # unless lines of one file may repeat another's: those are found in file order
        order = _order(ns) if every_file and not _may_repeat(rows) else None
        cols = rows.columns(order, release=True)
        del rows  # (what the columns were built from, before the frame is made: memory is the cost here)
        cols["t_source"] = frames.time_column(ns if order is None else ns[order], unit="ns")
        del ns
        frames_.append(frames.event_columns(cols, len(cols["t_source"])))

    for p in parsed:
        if p.frame is not None:
            end_run()
            frames_.append(p.frame)
            continue
        assert p.raw is not None and p.raw_t is not None and p.clock is not None
        if not len(p.raw):
            end_run()
            frames_.append(frames.empty_events())
            continue
        times = utc_times(p.raw_t, p.clock, offset_minutes=zone.offset_minutes, offset_changes=zone.changes,
                          panel_date=day, panel_offset_minutes=panel_offset, consume=True)
        if p.raw.rows is not None:
            run.append((p.raw.rows, times))
            p.raw.columns, p.raw.rows, p.raw_t, times = {}, None, None, None
            continue
        end_run()
        cols = dict(p.raw.columns)
        cols["t_source"] = times
        p.raw.columns, p.raw.rows = {}, None
        frames_.append(frames.event_columns(cols, len(times)))
        del cols, times
    end_run()
    df = frames.concat_events(frames_)
    df = _undouble(df, infos, warnings)
    df = _dedup(df, infos)
    df = sort_events(df)
    if zone.source != "recv_ts":  # (no epochs in the backend's log: the pages' may say more)
        df, zone = _zone_by_pages(df, zone, tz, warnings, panel_too=panel_tz is None)
    _fill_counts(df, infos)
    for info in infos.values():
        # most lines undecodable: no text at all (a core dump, an archive, an image), said once
        binary = info.lines > 0 and 2 * info.bad_lines >= info.lines
        if not info.lines:
            warnings.append(f"{info.path}: empty")
        elif binary:
            which = (f"{info.bad_lines:,} of its {info.lines:,} lines have" if info.lines > 1
                     else "its one line has")
            warnings.append(f"{info.path}: binary data, not a log? ({which} undecodable or NUL bytes; kept as read)")
        elif info.events and info.unknown == info.events:
            # a wrong file given (another program's log): its lines are kept, but nothing in it
            # can be checked, and "no findings" alone would read as an all-clear
            which = f"none of its {info.lines:,} lines is" if info.lines > 1 else "its one line is not"
            warnings.append(f"{info.path}: {which} one the Jarvis backend or frontend writes (kept as unknown "
                            f"events): not a Jarvis log? (timeline --format-of PATH=KIND forces a format)")
        if info.bad_lines and not binary:
            which = "1 line" if info.bad_lines == 1 else f"{info.bad_lines:,} lines"
            warnings.append(f"{info.path}: {which} with undecodable or NUL bytes (kept as read)")
        if info.long_lines:
            which = "1 line" if info.long_lines == 1 else f"{info.long_lines} lines"
            whose = "its" if info.long_lines == 1 else "their"
            warnings.append(f"{info.path}: {which} over {MAX_LINE_NAME} cut to {whose} first {MAX_LINE_NAME} "
                            f"(no log writes such lines: binary data, or a file with no newlines?)")
        if info.damaged:
            warnings.append(f"{info.path}: {info.damaged}")
        elif info.truncated and not binary:
            warnings.append(f"{info.path}: the file ends in the middle of a line (cut short while written?)")
    return Ingested(df, list(infos.values()), zone, warnings)


def _order(ns: np.ndarray) -> np.ndarray | None:
    """The stable order of int64 nanoseconds (NaT last), or None when they already are in order."""
    unknown = ns == np.iinfo("int64").min
    key = np.where(unknown, np.iinfo("int64").max, ns) if unknown.any() else ns
    del unknown
    if len(key) < 2 or bool((key[1:] >= key[:-1]).all()):
        return None
    return np.argsort(key, kind="stable")


def _zone_by_pages(df: pd.DataFrame, zone: ZoneInfo, tz: str | None, warnings: list[str], *,
                   panel_too: bool) -> tuple[pd.DataFrame, ZoneInfo]:
    """The events and zone, by the pages' ``chat:ready`` lines when the backend's log has no
    epoch: each carries the server's clock as it sent it, and the server logged sending it.
    A zone they contradict (the machine's guess, or --tz) is corrected, the backend's lines
    moved with it (and the debug panel's, read in the same zone unless ``panel_too`` is
    False), and said; one they confirm is no longer a guess."""
    kinds, source = df["kind"], df["source"]
    sent = df.loc[((kinds == "chat.ready.sent") & (source == "backend")).to_numpy(), "t_source"]
    server = df.loc[((kinds == "chat.ready.received") & df["server_ms"].notna()).to_numpy(), "server_ms"]
    found = offset_from_pages(np.sort(sent.dropna().to_numpy(dtype="datetime64[ns]").view("int64") / 1e9),
                              server.to_numpy(dtype="float64") / 1000.0)
    if found is None:
        return df, zone
    off_by, votes = found
    if not off_by and zone.source == "tz-option":  # (the zone named, confirmed)
        return df, zone
    offset = zone.offset_minutes + off_by
    how = f"from {votes} of the pages' chat:ready lines (the server's clock as it sent them)"
    if zone.warning in warnings:
        warnings.remove(zone.warning)
    if not off_by:  # (the machine's zone, confirmed: no longer a guess)
        return df, replace(zone, source="pages", pairs=votes, warning=None)
    said = f"--tz {tz}" if zone.source == "tz-option" else f"this machine's zone (UTC{format_offset(zone.offset_minutes)})"
    warnings.append(f"the backend's log has no epoch to tell its zone, and {said} contradicts the pages: "
                    f"its times are read as UTC{format_offset(offset)}, {how}")
    local = source.isin(["backend", "console", "panel"] if panel_too else ["backend", "console"]).to_numpy()
    t = df["t_source"].copy()
    t.loc[local] = t.loc[local] - pd.Timedelta(minutes=off_by)
    df = sort_events(df.assign(t_source=t))
    return df, ZoneInfo(offset_minutes=offset, source="pages", pairs=votes)


def sort_events(df: pd.DataFrame) -> pd.DataFrame:
    """Stable sort by ``t_source`` (unknown times last); no copy when already in order."""
    order = _order(df["t_source"].to_numpy(dtype="datetime64[ns]").view("int64"))
    return df if order is None else take_rows(df, order)


def take_rows(df: pd.DataFrame, order: np.ndarray) -> pd.DataFrame:
    """``df.take(order)`` with a new RangeIndex; the text columns (Arrow) are taken by Arrow
    itself, which costs a tenth of pandas' take of them (0.05 s, not 0.6 s, for 2M lines)."""
    indices = None
    columns = {}
    for name in df.columns:
        values = df[name].array
        arrow = getattr(values, "_pa_array", None)
        if isinstance(arrow, pa.ChunkedArray):
            indices = pa.array(order) if indices is None else indices
            columns[name] = pd.array(pa.compute.take(arrow, indices), dtype=values.dtype)
        else:
            columns[name] = values.take(order)
    return pd.DataFrame(columns, copy=False)


def _fill_counts(df: pd.DataFrame, infos: dict[str, SourceInfo]) -> None:
    if not len(df):
        return
    paths = df["path"]
    if len(paths.cat.categories) == 1 and not (paths.cat.codes.to_numpy() != 0).any():
        # one file (the usual case): no grouping
        info = infos.get(paths.cat.categories[0])
        if info is not None:
            t = df["t_source"]
            info.events = len(df)
            info.unknown = int((df["kind"] == "unknown").sum())
            info.first = _iso(t.min())
            info.last = _iso(t.max())
        return
    g = df.groupby("path", observed=True, sort=False)
    events = g.size()
    unknown = (df["kind"] == "unknown").groupby(df["path"], observed=True).sum()
    first = g["t_source"].min()
    last = g["t_source"].max()
    for path, info in infos.items():
        if path in events.index:
            info.events = int(events[path])
            info.unknown = int(unknown.get(path, 0))
            info.first = _iso(first[path])
            info.last = _iso(last[path])


def read_events(paths: list[str] | str, **kw: Any) -> pd.DataFrame:
    """Just the events frame of :func:`ingest`: the lines as read, ``t`` equal to ``t_source``
    (the frontend skew is estimated by correlating both sides: ``load_timeline(paths).events``
    has ``t`` corrected)."""
    return ingest(paths, **kw).events


def ingest_text(text: str, name: str = "-", **kw: Any) -> Ingested:
    """:func:`ingest` of one in-memory text (tests, notebooks)."""
    return ingest(["-"], stdin=io.BytesIO(text.encode("utf-8")), **kw) if name == "-" else ingest([name], **kw)

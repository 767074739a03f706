"""The backend's log as a log collector shows it: every line behind a prefix of its own.

The backend often runs under systemd or in a container, and its log is then read back
through the collector, which puts a prefix before each line the backend wrote:

* ``journal`` - ``journalctl -u jarvis`` (its ``short`` output and kin):
  ``<time> [<host>] <identifier>[<pid>]: <line>``, the time as ``Dec 07 01:02:03``
  (``short``), ``Dec 07 01:02:03.123456`` (``short-precise``), ``2026-12-07T01:02:03+01:00``
  (``short-iso``; ``+0100`` from older systemd), ``2026-12-07T01:02:03.123456+01:00``
  (``short-iso-precise``), ``Mon 2026-12-07 01:02:03 CET`` (``short-full``, ``with-unit``),
  ``1796605323.123456`` (``short-unix``) or ``[12345.678901]`` (``short-monotonic``);
* ``compose`` - ``docker compose logs``: ``<container> | <line>`` (the name padded to the
  longest one), ``-t`` adding an RFC 3339 time after the bar;
* ``kubectl`` - ``kubectl logs --prefix``: ``[pod/<pod>/<container>] <line>``, a time after
  it with ``--timestamps``;
* ``docker`` - ``docker logs -t``, ``kubectl logs --timestamps``, ``docker compose logs -t
  --no-log-prefix``: ``<RFC 3339 time, up to nanoseconds, Z or an offset> <line>``.

:func:`detect` tells the shape from a file's first lines (when they are no log line
themselves); :func:`scan` finds each line's prefix and the service that wrote it (``key``:
host and identifier, container, pod), :func:`stamps` the collector's time of a line. A
file's lines are the backend's when their service wrote a line of the backend's log
(:func:`backend_lines`); the others are another service's. The compiled loops (_scan.c:
``prefix_cuts``, ``prefix_stamps``, ``join_cut``) do this in one pass each, as the patterns
here read it (without them, or past 256 services, a Python step per line does it).

Times: a line keeps the time it carries itself. A line that has none (uvicorn's console
lines, a traceback's first line, noise) is placed by the collector's times: the time of
the backend line before it plus what the collector saw pass between the two, kept between
the backend lines either side (:func:`place`). The collector's clock is only used for the
time that passed, never read as the backend's: its zone (journalctl's local time, with no
year in ``short``) and its lag behind the backend (the line is stamped when the collector
receives it) drop out. With whole seconds (``short``, ``short-iso``, ``short-full``) the
time that passed is known to a second, still bounded by the lines either side.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from jarvis_diag.logs import backend, console

try:  # (the compiled loops, when the package was built with them: see setup.py)
    from jarvis_diag.logs import _scan
except ImportError:  # pragma: no cover - an install with no C compiler
    _scan = None  # type: ignore[assignment]
_COMPILED = _scan is not None and hasattr(_scan, "prefix_stamps")  # (a module built from an older _scan.c: not used)

__all__ = ["READ_AS", "SHAPES", "Scan", "backend_lines", "carried", "detect", "detect_further", "instants", "join_cut", "log_line_of", "place", "prefixes",
           "scan", "stamps", "strip"]

_DAY_S = 86400.0
_RFC3339 = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:[.,]\d{1,9})?(?:Z|[+-]\d\d:?\d\d)"
# journalctl's times, one alternative per output mode (groups: what each gives)
_JOURNAL_TIME = (
    r"(?:(?P<iso>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-]\d\d:?\d\d))"
    r"|(?:[^\s\d]{2,8} (?P<full>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{1,6})?) [^\s:\[\]]+)"
    r"|(?:[^\s\d]{2,8} [ \d]?\d (?P<clock>\d\d:\d\d:\d\d(?:\.\d{1,6})?))"
    r"|(?P<unix>\d{9,11}\.\d{6})"
    r"|(?:\[ *(?P<mono>\d+\.\d{6})\]))"
)
SHAPES: dict[str, re.Pattern[str]] = {
    # (host: no colon or bracket, so that a line with no host is not read as one)
    "journal": re.compile(_JOURNAL_TIME + r" (?:(?P<host>[^\s:\[\]]+) )?(?P<ident>[^\s:\[\]]+)(?:\[\d+\])?: "),
    "compose": re.compile(r"(?P<service>[A-Za-z0-9][\w.-]*) *\| (?:(?P<iso>" + _RFC3339 + r") )?"),
    "kubectl": re.compile(r"\[(?P<service>pod/[^\s\]]+)\] (?:(?P<iso>" + _RFC3339 + r") )?"),
    "docker": re.compile(r"(?P<iso>" + _RFC3339 + r") "),
}


def _is_log_line(rest: str) -> bool:
    """Whether ``rest`` is a line the backend writes (its log's or uvicorn's console's)."""
    return backend.PREFIX_RE.match(rest) is not None or console.LINE_RE.match(rest) is not None


def detect(lines: Sequence[str]) -> str | None:
    """The prefix shape of a file's first lines (without their newline), or None: the one
    most of them carry with a backend or uvicorn line behind it. Lines of another service
    or of the collector itself (``-- Boot ... --``) may be among them."""
    best, score = None, 0
    for name, pattern in SHAPES.items():  # (in this order: a tie goes to the first)
        hits = 0
        for line in lines:
            m = pattern.match(line)
            if m is not None and _is_log_line(line[m.end():]):
                hits += 1
        if hits > score:
            best, score = name, hits
    return best


def carried(lines: Sequence[str]) -> str | None:
    """The prefix shape at least half of ``lines`` (the non-blank ones) carry, whatever is
    behind it, or None: a collector's output, whether or not the backend's lines are among
    these (on a busy host, the first 256 KiB of ``journalctl -b`` may be other services')."""
    lines = [line for line in lines if line.strip()]
    best, score = None, 0
    for name, pattern in SHAPES.items():
        hits = sum(1 for line in lines if pattern.match(line))
        if hits > score:
            best, score = name, hits
    return best if lines and score * 2 >= len(lines) else None


# a line of the backend's log, behind a prefix or not (bytes: searched for in a whole file):
# found by the milliseconds after its time, a literal first (the search skips to each comma,
# thirty times as fast as trying the whole time at every byte), then checked whole
_BACKEND_LINE = re.compile(backend.PREFIX_RE.pattern.encode("ascii"))
_BACKEND_MS = re.compile(rb",\d{3} - ")
_BEFORE_MS = len("2026-11-24 10:00:00")


def detect_further(data: bytes | bytearray, start: int) -> str | None:
    """The prefix shape of a collector's output whose lines up to ``start`` are all another
    service's: the shape of its first line from there on that carries a line of the
    backend's log behind a prefix, or None when none does. (The file is searched once, by
    the compiled regular expression engine, for such lines.)"""
    pos = start
    while pos < len(data):
        m = _BACKEND_MS.search(data, pos)
        if m is None:
            return None
        pos = m.end()
        if m.start() < start + _BEFORE_MS or not _BACKEND_LINE.match(data, m.start() - _BEFORE_MS):
            continue
        begin = data.rfind(b"\n", 0, m.start()) + 1
        end = data.find(b"\n", m.end())
        end = len(data) if end < 0 else end
        shape = detect([bytes(data[begin:end]).rstrip(b"\r").decode("utf-8", "replace")])
        if shape is not None:
            return shape
        pos = end + 1
    return None


def _iso_seconds(ts: str) -> float:
    """An RFC 3339 / ISO 8601 time with a zone (``Z``, ``+01:00``, ``+0100``) as epoch seconds."""
    whole = calendar.timegm((int(ts[0:4]), int(ts[5:7]), int(ts[8:10]), int(ts[11:13]), int(ts[14:16]),
                             int(ts[17:19]), 0, 0, 0))
    rest = ts[19:]
    frac = 0.0
    if rest[:1] in (".", ","):
        digits = len(rest) - len(rest[1:].lstrip("0123456789")) - 1
        frac = int(rest[1:1 + digits]) / 10 ** digits
        rest = rest[1 + digits:]
    if rest and rest != "Z":
        sign = -1 if rest[0] == "-" else 1
        zone = rest[1:].replace(":", "")
        whole -= sign * (int(zone[:2]) * 3600 + int(zone[2:4]) * 60)
    return whole + frac


def _clock_seconds(hms: str) -> float:
    """``"01:02:03.123456"`` as seconds since midnight."""
    return int(hms[0:2]) * 3600 + int(hms[3:5]) * 60 + float(hms[6:])


def _stamp(m: re.Match) -> float:
    """The collector's time in a prefix (a match of its shape), seconds; NaN for none."""
    groups = {k: (v.decode("ascii", "replace") if isinstance(v, bytes) else v)
              for k, v in m.groupdict().items() if v}
    try:
        if "iso" in groups:
            return _iso_seconds(groups["iso"])
        if "full" in groups:  # (its zone is a name such as CET: read as UTC, only differences count)
            return _iso_seconds(groups["full"].replace(" ", "T") + "Z")
        if "clock" in groups:
            return _clock_seconds(groups["clock"])
        for name in ("unix", "mono"):
            if name in groups:
                return float(groups[name])
    except ValueError:  # (an impossible date: month 13)
        pass
    return float("nan")


@dataclass
class Scan:
    """A prefixed file's lines, found in its bytes (see :func:`scan`); one entry per line."""

    shape: str
    starts: np.ndarray  # where each line starts (byte offsets)
    ends: np.ndarray  # where each ends: its newline, or the end of the data
    cut: np.ndarray  # how many bytes its prefix takes (0: none)
    key: np.ndarray  # which service wrote it: a number into ``keys`` (-1: no prefix)
    keys: list[str]  # the services (host and identifier, container, pod; "" for docker's)

    def __len__(self) -> int:
        return len(self.starts)


# inputs read through another's shape: a journal export (logs.journal_json), decoded into the
# lines journalctl's short-iso-precise output shows
READ_AS = {"journal-json": "journal"}

_BYTES = {name: re.compile(pattern.pattern.encode()) for name, pattern in SHAPES.items()}
_KEY_GROUPS = {"journal": ("host", "ident"), "compose": ("service",), "kubectl": ("service",)}


def scan(data: bytes | bytearray, shape: str, *, compiled: bool = True) -> Scan:
    """The lines of ``data`` (a file whose lines carry the prefix ``shape``) and their prefixes.
    ``compiled``: with the compiled loops, when the package was built with them (False: a
    Python step per line, what they are checked against)."""
    compiled = compiled and _COMPILED
    if compiled:
        newlines = np.frombuffer(_scan.newlines(data)[0], dtype=np.int64)
    else:
        newlines = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
    starts = np.concatenate([[0], newlines + 1]).astype(np.int64)
    ends = np.concatenate([newlines, [len(data)]]).astype(np.int64)
    del newlines
    if starts[-1] == len(data):  # (the data ends with a newline: no line after it)
        starts, ends = starts[:-1], ends[:-1]
    found = _compiled_scan(data, shape, starts, ends) if compiled else None
    if found is not None:
        return found
    match = _BYTES[shape].match
    groups = _KEY_GROUPS.get(shape)
    spans = zip(starts.tolist(), ends.tolist(), strict=True)
    if groups is None:
        found = np.fromiter((m.end() if (m := match(data, s, e)) else -1 for s, e in spans), dtype=np.int64,
                            count=len(starts))
        key = np.where(found >= 0, 0, -1).astype(np.int32)
        keys = [""]
    else:
        codes: dict[Any, int] = {}
        pairs = [(m.end(), codes.setdefault(m.group(*groups), len(codes))) if (m := match(data, s, e)) else (-1, -1)
                 for s, e in spans]
        found = np.fromiter((p[0] for p in pairs), dtype=np.int64, count=len(pairs))
        key = np.fromiter((p[1] for p in pairs), dtype=np.int32, count=len(pairs))
        del pairs
        keys = [" ".join(g.decode("utf-8", "replace") for g in k if g) if isinstance(k, tuple)
                else k.decode("utf-8", "replace") for k in codes]
    cut = np.where(found >= 0, found - starts, 0)
    return Scan(shape, starts, ends, cut, key, keys)


# the shapes the compiled loops read (their number there)
_COMPILED_SHAPES = {"docker": 0, "compose": 1, "kubectl": 2, "journal": 3}
# those whose stamp is an RFC 3339 time at the end of the prefix
_RFC3339_SHAPES = ("docker", "compose", "kubectl")


def _compiled_scan(data: bytes | bytearray, shape: str, starts: np.ndarray, ends: np.ndarray) -> Scan | None:
    """:func:`scan`'s result from the compiled loops (one pass over the bytes, no Python step
    per line); None past 256 services (then each line is read on its own)."""
    got, got_codes, services = _scan.prefix_cuts(data, np.ascontiguousarray(ends, dtype=np.int64),
                                                 _COMPILED_SHAPES[shape])
    if services is None:
        return None
    cut = np.frombuffer(got, dtype=np.int64).copy()
    key = np.frombuffer(got_codes, dtype=np.int32).copy()
    del got, got_codes
    keys = [""] if shape not in _KEY_GROUPS else [name.decode("utf-8", "replace") for name in services]
    # (the first prefixed line read by the pattern too: never otherwise, but should they differ,
    # the line-by-line reading decides)
    first = int(np.argmax(cut > 0)) if (cut > 0).any() else -1
    if first >= 0:
        m = _BYTES[shape].match(data, int(starts[first]), int(ends[first]))
        if m is None or m.end() - int(starts[first]) != cut[first]:
            return None
        if shape in _KEY_GROUPS:
            found = m.group(*_KEY_GROUPS[shape])
            if " ".join(g.decode("utf-8", "replace") for g in (found if isinstance(found, tuple) else (found,))
                        if g) != keys[0]:
                return None
    return Scan(shape, starts, ends, cut, key, keys)


def join_cut(data: bytes | bytearray, sc: Scan, lines: np.ndarray, *, compiled: bool = True) -> bytes | bytearray:
    """The lines ``lines`` (ascending) of ``data`` without their prefixes, each ending in a
    newline, one after the other: the backend's log behind the prefixes."""
    if compiled and _COMPILED:
        return _scan.join_cut(data, np.ascontiguousarray(sc.ends, dtype=np.int64),
                              np.ascontiguousarray(sc.cut, dtype=np.int64), np.ascontiguousarray(lines, dtype=np.int64))
    starts = (sc.starts[lines] + sc.cut[lines]).tolist()
    return b"".join([data[s:e] + b"\n" for s, e in zip(starts, sc.ends[lines].tolist(), strict=True)])


def backend_lines(data: bytes | bytearray, sc: Scan) -> np.ndarray:
    """Which lines are the backend's: those of the services that wrote a line of the
    backend's log (else, of those that wrote a uvicorn line; else all of them), and lines
    with no prefix (a collector's own line, such as journalctl's ``-- Boot ... --``, or one
    that continues the line before). Another service that runs uvicorn too (a second API
    in the same ``docker compose``) is not the backend: its console lines are not read as
    the backend's starts and stops."""
    if len(sc.keys) <= 1:  # (one service at most: all its lines are the backend's, whatever they are)
        return np.ones(len(sc), dtype=bool)
    by_code = [np.flatnonzero(sc.key == code) for code in range(len(sc.keys))]
    for test in (backend.PREFIX_RE.match, console.LINE_RE.match):
        confirmed = []
        for code, lines in enumerate(by_code):
            if any(_starts_with(data, sc, i, test) for i in _lazily(lines)):
                confirmed.append(code)
        if confirmed:
            return np.isin(sc.key, [-1, *confirmed])
    return np.ones(len(sc), dtype=bool)


def _starts_with(data: bytes | bytearray, sc: Scan, i: int, test: Any) -> bool:
    """Whether line ``i`` behind its prefix passes ``test`` (a pattern's match)."""
    start = int(sc.starts[i] + sc.cut[i])
    return test(bytes(data[start:min(int(sc.ends[i]), start + 256)]).decode("utf-8", "replace")) is not None


def _lazily(values: np.ndarray, step: int = 4096) -> Any:
    """The values one by one as Python ints, converted a few at a time (the caller may stop
    at the first)."""
    for a in range(0, len(values), step):
        yield from values[a:a + step].tolist()


def stamps(data: bytes | bytearray, sc: Scan, lines: np.ndarray, *, at_once: bool = True) -> tuple[np.ndarray, bool]:
    """(the collector's time of each of ``lines``, seconds, NaN for none; whether these are
    times of day: journalctl's short output, with no date). ``at_once``: all at once, by the
    compiled loops when built, else (RFC 3339 times) by Arrow's compute functions (False:
    one line at a time)."""
    if at_once and _COMPILED and len(lines):
        got, wraps = _scan.prefix_stamps(data, np.ascontiguousarray(sc.ends, dtype=np.int64),
                                         np.ascontiguousarray(lines, dtype=np.int64), _COMPILED_SHAPES[sc.shape])
        return np.frombuffer(got, dtype=np.float64).copy(), wraps
    if at_once and sc.shape in _RFC3339_SHAPES:
        return _rfc3339_stamps(data, sc, lines), False
    match = _BYTES[sc.shape].match
    out = np.full(len(lines), np.nan)
    wraps = False
    for j, i in enumerate(lines.tolist()):
        if sc.cut[i]:
            m = match(data, int(sc.starts[i]), int(sc.ends[i]))
            if m is not None:
                out[j] = _stamp(m)
                wraps = wraps or ("clock" in m.re.groupindex and m.group("clock") is not None)
    return out, wraps


def _prefix_bytes(data: bytes | bytearray, sc: Scan, lines: np.ndarray) -> pa.Array:
    """The prefixes of ``lines`` (ascending, one at least) as a large_binary array, cut from
    the bytes by Arrow (no bytes object per line in Python)."""
    starts, cut = sc.starts[lines], sc.cut[lines]
    base = int(starts[0])
    # every prefix and what lies between it and the next one, one after the other
    offsets = np.empty(2 * len(lines) + 1, dtype=np.int64)
    offsets[0:-1:2], offsets[1::2] = starts - base, starts + cut - base
    offsets[-1] = offsets[-2]
    values = pa.py_buffer(memoryview(data)[base:int(starts[-1] + cut[-1])])  # (no copy: take() copies the prefixes)
    pieces = pa.Array.from_buffers(pa.large_binary(), 2 * len(lines), [None, pa.py_buffer(offsets), values])
    return pc.take(pieces, pa.array(np.arange(0, 2 * len(lines), 2)))


def prefixes(data: bytes | bytearray, sc: Scan, lines: np.ndarray) -> pa.Array:
    """The prefixes of ``lines`` (ascending) as text, a large_string array (bytes that are no
    UTF-8 as U+FFFD)."""
    if not len(lines):
        return pa.array([], type=pa.large_string())
    got = _prefix_bytes(data, sc, lines)
    try:
        return got.cast(pa.large_string())
    except pa.ArrowInvalid:  # (bytes that are no UTF-8 in a prefix)
        return pa.array([b.decode("utf-8", "replace") for b in got.to_pylist()], type=pa.large_string())


# an RFC 3339 time at the end of a prefix (before its last space), in parts
_RFC3339_PARTS = (r"(?P<Y>\d{4})-(?P<Mo>\d\d)-(?P<D>\d\d)T(?P<h>\d\d):(?P<mi>\d\d):(?P<s>\d\d)"
                  r"(?:[.,](?P<f>\d{1,9}))?(?:Z|(?P<sign>[+-])(?P<zh>\d\d):?(?P<zm>\d\d)) $")


def _days_before_month(year: np.ndarray, month: np.ndarray) -> np.ndarray:
    """Days from 1970-01-01 to the first of ``month`` in ``year`` (proleptic Gregorian)."""
    y = year - (month <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    doy = (153 * ((month + 9) % 12) + 2) // 5
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _rfc3339_stamps(data: bytes | bytearray, sc: Scan, lines: np.ndarray) -> np.ndarray:
    """:func:`stamps` of prefixes whose time is an RFC 3339 one at their end (docker, compose,
    kubectl), read by Arrow's compute functions rather than one line at a time (without the
    compiled loops): the same seconds as :func:`_stamp` (whole seconds and the fraction
    added last), NaN for no time or an impossible month or year."""
    if not len(lines):
        return np.full(0, np.nan)
    order, back = np.unique(lines, return_inverse=True)
    parts = pc.extract_regex(_prefix_bytes(data, sc, order), _RFC3339_PARTS)
    found = parts.is_valid().to_numpy(zero_copy_only=False)

    def number(name: str) -> np.ndarray:
        field = pc.struct_field(parts, name).cast(pa.large_string())
        field = pc.if_else(pc.equal(pc.utf8_length(field), 0), "0", field)
        return pc.fill_null(field, "0").cast(pa.int64()).to_numpy(zero_copy_only=False)

    year, month = number("Y"), number("Mo")
    ok = found & (year >= 1) & (month >= 1) & (month <= 12)  # (else calendar.timegm refuses it)
    days = _days_before_month(year, np.clip(month, 1, 12)) + number("D") - 1
    whole = ((days * 24 + number("h")) * 60 + number("mi")) * 60 + number("s")
    sign = pc.fill_null(pc.struct_field(parts, "sign").cast(pa.large_string()), "")
    minus = pc.equal(sign, "-").to_numpy(zero_copy_only=False)
    plus = pc.equal(sign, "+").to_numpy(zero_copy_only=False)
    zone = number("zh") * 3600 + number("zm") * 60
    whole = whole - np.where(minus, -zone, np.where(plus, zone, 0))
    f = pc.fill_null(pc.struct_field(parts, "f").cast(pa.large_string()), "")
    scale = np.power(10.0, pc.utf8_length(f).to_numpy(zero_copy_only=False).astype(np.float64))
    frac = number("f").astype(np.float64) / scale
    seconds = np.where(ok, whole.astype(np.float64) + frac, np.nan)
    return seconds[back]


def instants(data: bytes | bytearray, sc: Scan, lines: np.ndarray) -> np.ndarray:
    """The instant (UTC epoch seconds) the collector stamped each of ``lines`` with, when its
    stamp is one (an RFC 3339 time with its offset, journalctl's ``short-iso`` or
    ``short-unix``); NaN for a time of day, a date with a zone's name or a boot's clock."""
    match = _BYTES[sc.shape].match
    out = np.full(len(lines), np.nan)
    for j, i in enumerate(lines.tolist()):
        m = match(data, int(sc.starts[i]), int(sc.ends[i])) if sc.cut[i] else None
        if m is not None and (m.groupdict().get("iso") or m.groupdict().get("unix")):
            out[j] = _stamp(m)
    return out


def log_line_of(line: str) -> str | None:
    """The backend or uvicorn line behind a collector's prefix of any shape, else None (a
    line read alone, as ``timeline --follow`` reads a file's new lines)."""
    for pattern in SHAPES.values():
        m = pattern.match(line)
        if m is not None and _is_log_line(line[m.end():]):
            return line[m.end():]
    return None


def strip(text: str, shape: str) -> str:
    """``text`` without its prefix of ``shape`` (itself when it has none)."""
    m = SHAPES[READ_AS.get(shape, shape)].match(text)
    return text if m is None else text[m.end():]


def place(at: np.ndarray, stamp: np.ndarray, anchor_at: np.ndarray, anchor_stamp: np.ndarray,
          anchor_t: np.ndarray, *, wraps: bool) -> np.ndarray:
    """Times for lines with none of their own: the lines at file positions ``at``, stamped
    ``stamp`` by the collector, between the backend's lines at ``anchor_at`` (ascending) that
    carry their own time ``anchor_t`` and were stamped ``anchor_stamp``.

    Each takes the time of the anchor before it plus the stamps' difference (the anchor after
    it, minus, at the top of a file), kept between the anchors either side; with no stamp,
    the anchor's time itself (the plain log's rule). ``wraps``: stamps are times of day, a
    difference is taken within half a day either way. NaN with no anchor at all."""
    out = np.full(len(at), np.nan)
    if not len(anchor_at) or not len(at):
        return out
    after = np.searchsorted(anchor_at, at, side="right")  # (the anchor after each line)
    before = after - 1
    has_before = before >= 0
    has_after = after < len(anchor_at)
    near = np.where(has_before, before, np.minimum(after, len(anchor_at) - 1))
    delta = stamp - anchor_stamp[near]
    if wraps:
        delta = (delta + _DAY_S / 2) % _DAY_S - _DAY_S / 2
    delta = np.where(np.isnan(delta), 0.0, delta)
    out = anchor_t[near] + delta
    low = np.where(has_before, anchor_t[np.maximum(before, 0)], -np.inf)
    high = np.where(has_after, anchor_t[np.minimum(after, len(anchor_at) - 1)], np.inf)
    return np.minimum(np.maximum(out, low), np.maximum(high, low))

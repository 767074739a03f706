"""The backend's log as systemd's journal exports it: ``journalctl -u jarvis -o json``
(or ``-o json-seq``, each entry after a record separator, or ``-o json-pretty``, each entry
over several lines).

Each line of the export is one journal entry, a JSON object of string fields in no set
order: ``__REALTIME_TIMESTAMP`` (microseconds since the epoch), ``_HOSTNAME``,
``SYSLOG_IDENTIFIER`` (else ``_COMM``), ``_PID``, ``MESSAGE``... ``MESSAGE`` is the text the
process wrote: one line of its log as a rule, several for a message logged whole (a
traceback); an array of byte values when it is no UTF-8, and null when it was over the
export's size limit (4096 bytes, unless ``journalctl -o json --all``).

:func:`decode` turns the entries into the lines journalctl's ``short-iso-precise`` output
would show (in UTC): each line of a message behind ``<time> <host> <identifier>[<pid>]: ``,
its entry's time and service. :mod:`logs.prefixed` reads them from there as it reads that
output (its ``journal`` shape), so the backend's lines are parsed as its plain log is. A line
that is no entry (a line cut short, another program's) is kept as it is, with no prefix.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import orjson

__all__ = ["NAME", "Export", "decode", "detect", "shown_line"]

NAME = "journal-json"  # (the ``prefix`` a source read from such an export is said to carry)
# the text put for a MESSAGE the export left out (null): its line is kept, as an unknown event
LEFT_OUT = b"[message left out of the export: over its size limit (journalctl -o json --all keeps it)]"
# what the journal prefix reads as a host or an identifier (logs.prefixed.SHAPES["journal"])
_NOT_IN_NAME = re.compile(r"[\s:\[\]]+")


def _entry(line: bytes | str) -> dict | None:
    """The journal entry a line of an export holds, or None."""
    try:
        entry = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return entry if isinstance(entry, dict) and "__REALTIME_TIMESTAMP" in entry and "MESSAGE" in entry else None


# ``-o json-pretty``: an entry over several lines, from a "{" to a "}" of their own, each
# field on its own line
_PRETTY_END = re.compile(rb"^\}[ \t\r]*$", re.MULTILINE)
_PRETTY_START = re.compile(rb"^\{[ \t\r]*$", re.MULTILINE)
_PRETTY_TIME = re.compile(r'^\s+"__REALTIME_TIMESTAMP" : "\d+",?\s*$')
_PRETTY_MAX = 1 << 22  # (bytes an entry may span: a message of 4 MB with --all)


def detect(lines: Sequence[str]) -> bool:
    """Whether a file's first lines (without their newline) are a journal export: the first
    of them that is a JSON object is an entry (it has a time and a message). An entry of
    ``-o json-pretty`` spans lines, from a ``{`` to a ``}`` of their own."""
    for i, line in enumerate(lines):
        s = line.lstrip("\ufeff").strip()  # (and json-seq's record separator, a space to Python)
        if s == "{":
            end = next((j for j in range(i + 1, len(lines)) if lines[j].rstrip() == "}"), None)
            if end is None:  # (an entry longer than the lines given: its time field tells)
                return any(_PRETTY_TIME.match(x) for x in lines[i + 1:])
            return _entry("\n".join(lines[i:end + 1])) is not None
        if s.startswith("{"):
            return _entry(s) is not None
    return False


def _name(value: object) -> str:
    """A host or identifier as the journal prefix reads it: one word."""
    return _NOT_IN_NAME.sub("_", value) if isinstance(value, str) and value else ""


def _message(value: object) -> bytes | None:
    """An entry's MESSAGE as bytes (a byte array as its bytes, null as :data:`LEFT_OUT`);
    None for one the journal never writes."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    if value is None:
        return LEFT_OUT
    if isinstance(value, list):
        try:
            return bytes(value)
        except (TypeError, ValueError):
            return None
    return None


def shown_line(line: str) -> str | None:
    """The line journalctl shows for a journal entry (its message's first line behind the
    prefix :func:`decode` gives it) when ``line`` is one, else None: a line of an export
    read alone, as ``timeline --follow`` reads a file's new lines."""
    s = line[1:] if line.startswith("\x1e") else line
    if not s.startswith("{") or _entry(s) is None:
        return None
    return decode(s.encode("utf-8", "surrogateescape")).data.split(b"\n", 1)[0].decode("utf-8", "replace")


@dataclass
class Export:
    """A journal export as journalctl's text output (see :func:`decode`)."""

    data: bytearray  # its entries' lines, each behind its prefix, each ending in a newline but a cut last one
    entry_of: np.ndarray  # for each of those lines, the line of the export (0-based) it comes from
    lines: int  # the export's lines
    left_out: int  # entries whose MESSAGE the export left out (null)


def decode(data: bytes | bytearray) -> Export:
    """The lines of a journal export (``journalctl -o json``), each of its entries' message
    lines behind the prefix ``<UTC time> <host> <identifier>[<pid>]: `` (the host and pid
    left out when the entry has none); a line that is no entry (not JSON, cut short, no
    time) kept as it is. One decoding a line: about 15 microseconds an entry of 1 KB."""
    view = memoryview(data)
    pos = 3 if data[:3] == b"\xef\xbb\xbf" else 0
    size = len(data)
    micros: list[int] = []  # each entry's time (0: a line kept as it is)
    heads: list[tuple | None] = []  # each entry's service (see below); None: a line kept as it is
    bodies: list[bytes] = []
    starts: list[int] = []  # the line of the export (0-based) each entry starts on
    services: dict[tuple, bytes] = {}  # each service's prefix after the time (see _name_services)
    left_out = 0
    n_lines = 0
    pretty = _PrettyEntries(data)
    while pos < size:
        end = data.find(b"\n", pos)
        end = size if end < 0 else end
        line = view[pos:end]
        starts.append(n_lines)
        n_lines += 1
        usable = None
        if len(line) < 8 and bytes(line).strip() == b"{":  # (-o json-pretty; one that is no entry:
            close = pretty.end_of(end)  # its lines kept one by one)
            entry = None if close is None else _entry(view[pos:close])
            usable = None if entry is None else _time_and_message(entry)
            if usable is not None:
                n_lines += data.count(b"\n", end, close)
                end = close
        pos = end + 1
        if usable is None:
            if line[:1] == b"\x1e":  # (-o json-seq: a record separator before each entry)
                line = line[1:]
            entry = _entry(line) if line[:1] == b"{" else None
            usable = None if entry is None else _time_and_message(entry)
        if usable is None:
            micros.append(0)
            heads.append(None)
            bodies.append(bytes(line))
            continue
        stamp, message = usable
        left_out += entry["MESSAGE"] is None
        micros.append(stamp)
        heads.append((entry.get("_HOSTNAME"), entry.get("SYSLOG_IDENTIFIER"), entry.get("_COMM"),
                      entry.get("_PID") or entry.get("SYSLOG_PID"), entry.get("_SYSTEMD_UNIT")))
        bodies.append(message[:-1] if message.endswith(b"\n") else message)
    _name_services(heads, services)
    times = np.char.encode(np.datetime_as_string(np.asarray(micros, dtype="datetime64[us]"), unit="us"),
                           "ascii").tolist()
    out = bytearray()
    entry_of: list[int] = []
    for i, (head, body, start) in enumerate(zip(heads, bodies, starts, strict=True)):
        if head is None:
            out += body
            out += b"\n"
            entry_of.append(start)
            continue
        prefix = times[i] + services[head]
        for part in body.split(b"\n") if b"\n" in body else (body,):
            out += prefix
            out += part
            out += b"\n"
            entry_of.append(start)
    if size and data[-1:] != b"\n" and out:  # (the export cut short: so is its last line)
        del out[-1:]
    return Export(out, np.asarray(entry_of, dtype=np.int64), n_lines, left_out)


def _name_services(keys: list[tuple | None], heads: dict[tuple, bytes]) -> None:
    """Put in ``heads`` the prefix (after the time) of each service of ``keys`` (host,
    identifier, command, pid and unit of each entry). A service is told by its host and
    identifier, as the journal's text shows it; where one identifier on a host belongs to
    several units (every ``python3 -m uvicorn`` unit is ``python3``), those entries show
    their unit in its place, as ``journalctl -o with-unit`` does, so that another unit's
    lines (its reload among them) are not taken for the backend's."""
    distinct = [k for k in dict.fromkeys(keys) if k is not None]
    service = {key: (_name(key[0]), _name(key[1]) or _name(key[2])) for key in distinct}
    units: dict[tuple, set] = {}
    for key in distinct:
        units.setdefault(service[key], set()).add(key[4])
    for key in distinct:
        host, ident, comm, pid, unit = key
        if len(units[service[key]]) > 1 and isinstance(unit, str) and unit:
            ident = unit
        heads[key] = _head(host, ident, comm, pid)


class _PrettyEntries:
    """Where the json-pretty entry a ``{`` line opens ends, in an export: each byte is searched
    once, however many ``{`` lines open no entry (the last ``}`` line found, how far none was,
    and the next ``{`` line are kept)."""

    def __init__(self, data: bytes | bytearray):
        self.data = data
        self.close: re.Match | None = None
        self.scanned = 0
        self.next_open: re.Match | None = None

    def end_of(self, end: int) -> int | None:
        """The end of the ``}`` line closing the entry whose ``{`` line ends at ``end``, or
        None: no ``}`` line within reach, or another ``{`` line before it."""
        data = self.data
        if self.close is None or self.close.start() < end:
            start, stop = max(end, self.scanned), min(len(data), end + _PRETTY_MAX)
            self.close = _PRETTY_END.search(data, start, stop) if start < stop else None
            if self.close is None:
                self.scanned = max(self.scanned, stop)
                return None
        if self.next_open is None or self.next_open.start() <= end:
            self.next_open = _PRETTY_START.search(data, end + 1, self.close.start())
        return self.close.end() if self.next_open is None else None


def _time_and_message(entry: dict) -> tuple[int, bytes] | None:
    """An entry's time (microseconds) and message, or None when it has no usable one."""
    message = _message(entry["MESSAGE"])
    stamp = entry["__REALTIME_TIMESTAMP"]
    if message is None or not isinstance(stamp, str) or not stamp.isdigit() or len(stamp) > 18:
        return None
    return int(stamp), message


def _head(host: object, ident: object, comm: object, pid: object) -> bytes:
    """The prefix after the time: ``+00:00 <host> <identifier>[<pid>]: ``, as journalctl shows
    an entry of ``host`` whose identifier is ``ident`` (else ``comm``)."""
    host = _name(host)
    ident = _name(ident) or _name(comm) or "unknown"
    pid = f"[{pid}]" if isinstance(pid, str) and pid.isdigit() else ""
    return (f"+00:00 {host} {ident}{pid}: " if host else f"+00:00 {ident}{pid}: ").encode()

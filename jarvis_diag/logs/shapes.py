"""From a matched message to event fields: the part every line format shares.

A format module splits a line into its timestamp, logger, level and message; this module
finds the message's shape (via :func:`jarvis_diag.lines.match`, the reference matcher),
its leading bracket tags and the typed fields, and derives the ids a shape's template
cannot capture (the full session id inside ``data={...}``, the transport and epoch of a
uvicorn WebSocket request line).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from jarvis_diag import lines
from jarvis_diag.events import COLUMNS
from jarvis_diag.logs.frontend import LEVELS as _FRONTEND_LEVELS

try:
    from jarvis_diag.logs import _match
except ImportError:  # installed without a C compiler: classify_tagged does the same work
    _match = None
# (a module compiled from an older _match.c, left by an install that did not rebuild it, is not used)
MATCH_VERSION = 1
if _match is not None and getattr(_match, "VERSION", 0) != MATCH_VERSION:
    _match = None

# Leading "[Tag] [Tag:id] " groups; the ":id" part is dropped so tags stay a small set.
TAGS_RE = re.compile(r"(?:\[[A-Za-z][A-Za-z0-9 _]*(?::[^\]\s]*)?\] ?)+")
_TAG_RE = re.compile(r"\[([A-Za-z][A-Za-z0-9 _]*)(?::[^\]\s]*)?\]")
_DATA_SESSION_RE = re.compile(r"'session_id': '([^']*)'")
_QUERY_TRANSPORT_RE = re.compile(r"[?&]transport=(\w+)")
_QUERY_EPOCH_RE = re.compile(r"[?&]t=(\d{9,11}(?:\.\d+)?)(?:&|$)")

_INT_COLUMNS = frozenset(c for c, d in COLUMNS.items() if d in ("Int64", "int64"))
_FLOAT_COLUMNS = frozenset(c for c, d in COLUMNS.items() if d == "float64")

# Loggers with no bracket tags still say where a line came from.
LOGGER_TAGS = {"watchfiles.main": "watchfiles", "uvicorn": "uvicorn"}


def tag_of(message: str, logger: str | None = None) -> str | None:
    """``"[SocketIO] [TIMING]"`` for a message starting with those tags; a logger's short
    name (``watchfiles``, ``uvicorn``) for untagged lines of such a logger."""
    m = TAGS_RE.match(message)
    if m:
        return " ".join(f"[{t}]" for t in _TAG_RE.findall(m.group(0)))
    return LOGGER_TAGS.get(logger or "")


_INT64 = 1 << 63


def integer(text: str) -> int | None:
    """A captured integer, or None when it does not fit the column's 64 bits (a count of
    thousands of digits is damage, not a number: the event keeps its kind and its text)."""
    if len(text) > 20:
        return None
    value = int(text)
    return value if -_INT64 <= value < _INT64 else None


def decimal(text: str) -> float | None:
    """A captured decimal, or None when it is too big to be finite."""
    value = float(text)
    return value if math.isfinite(value) else None


def typed(column: str, text: str) -> Any:
    """A captured field converted to its column's Python type (None: it does not fit)."""
    if column in _INT_COLUMNS:
        return integer(text)
    if column in _FLOAT_COLUMNS:
        return decimal(text)
    return text


# Shapes whose template spells the Socket.IO event out instead of capturing it.
IMPLIED_EVENT = {"fe.emit_connect": "chat:connect", "fe.emit_message": "chat:message",
                 "sio.connect_received": "chat:connect", "sio.message_received": "chat:message",
                 "fe.ready_delivered": "chat:ready", "fe.ready_handled": "chat:ready"}


# Shapes whose ids live inside their captured detail (derived_ids() finds them).
DERIVED = frozenset({"sio.connect_received", "uv.ws_accepted", "uv.ws_rejected", "uv.http"})


def derived_ids(shape: str, detail: str) -> dict[str, Any]:
    """The ids inside the detail of a DERIVED shape: the session (and temporary id) in a
    chat:connect's data; the transport and the client's epoch in a request's query."""
    out: dict[str, Any] = {}
    if shape == "sio.connect_received":
        m = _DATA_SESSION_RE.search(detail)
        if m:
            out["session"] = m.group(1)
            if m.group(1).startswith("new-"):
                out["temp_id"] = m.group(1)
    else:
        m = _QUERY_TRANSPORT_RE.search(detail)
        if m:
            out["transport"] = m.group(1)
        m = _QUERY_EPOCH_RE.search(detail)
        if m:
            # the client's own epoch (seconds) of the request: an epoch next to a local time
            out["client_ms"] = int(round(float(m.group(1)) * 1000))
    return out


def derive(shape: str | None, fields: dict[str, Any]) -> None:
    """Fill in the event a template implies and the ids inside its detail (in place)."""
    if shape in IMPLIED_EVENT:
        fields.setdefault("event", IMPLIED_EVENT[shape])
    if shape in DERIVED:
        fields.update(derived_ids(shape, fields.get("detail", "")))


def classify(source: str, message: str, logger: str | None) -> tuple[str, str | None, dict[str, Any]]:
    """(kind, shape name, typed fields) of a message, by the reference matcher."""
    found = lines.match("frontend" if source == "panel" else source, message, logger)  # the reference
    if found is None:
        return "unknown", None, {}
    shape, groups = found
    fields = {k: v for k, v in ((k, typed(k, v)) for k, v in groups.items()) if v is not None}
    derive(shape.name, fields)
    return shape.kind, shape.name, fields


# ---- the indexed matcher of the fast path -------------------------------------------------
# A shape's regex starts with its template's literal prefix, so only shapes whose prefix
# the message starts with can match. Indexing shapes by the first characters of that
# prefix leaves a handful of candidates per message, tried in table order: the same first
# match as lines.match, without trying every shape.

_KEY_LEN = 6


@dataclass(frozen=True, slots=True)
class _Candidate:
    order: int
    shape: lines.Shape
    prefix: str
    regex: re.Pattern[str]


def _literal_prefix(template: str) -> str:
    i = template.find("{")
    return template if i < 0 else template[:i]


@cache
def _index(source: str) -> tuple[dict[str, tuple[_Candidate, ...]], tuple[_Candidate, ...]]:
    """(candidates by the first _KEY_LEN characters, candidates with a shorter prefix)."""
    long: dict[str, list[_Candidate]] = {}
    short: list[_Candidate] = []
    for order, shape in enumerate(lines.SHAPES):
        if shape.source != source:
            continue
        prefix = _literal_prefix(shape.template)
        cand = _Candidate(order, shape, prefix, lines.shape_regex(shape))
        if len(prefix) >= _KEY_LEN:
            long.setdefault(prefix[:_KEY_LEN], []).append(cand)
        else:
            short.append(cand)
    return {k: tuple(v) for k, v in long.items()}, tuple(short)


_ANY_LOGGER = object()


# The candidates of a 6-character key are split again on the first characters all their
# prefixes have (a log's lines mostly start "[SocketIO] ": dozens of shapes share that
# key), and what depends only on the shape is worked out once: which captured fields are
# numbers, and the tag, when the literal prefix settles it.

_VARIES = object()  # the tag depends on the message: tag_of() it
_BY_LOGGER = object()  # the message cannot start with a tag: the logger's tag


def _fixed_tag(prefix: str) -> Any:
    """The tag of every message that starts with ``prefix`` (or _BY_LOGGER / _VARIES)."""
    m = TAGS_RE.match(prefix)
    if m is None:
        return _BY_LOGGER if prefix and prefix[0] != "[" else _VARIES
    # the tags end inside the prefix, before a character no tag starts with: a message with
    # this prefix has these same tags
    if m.end() < len(prefix) and prefix[m.end()] not in "[ ":
        return " ".join(f"[{t}]" for t in _TAG_RE.findall(m.group(0)))
    return _VARIES


def _entries(cands: list[_Candidate]) -> tuple[tuple[Any, ...], ...]:
    """(literal prefix, required logger or _ANY_LOGGER, regex, shape, numeric fields, tag)
    of each candidate, in table order."""
    out = []
    for c in sorted(cands, key=lambda c: c.order):
        numeric = tuple((name, integer if name in _INT_COLUMNS else decimal) for name in c.regex.groupindex
                        if name in _INT_COLUMNS or name in _FLOAT_COLUMNS)
        out.append((c.prefix, c.shape.logger if lines.needs_logger(c.shape) else _ANY_LOGGER, c.regex, c.shape,
                    numeric, _fixed_tag(c.prefix)))
    return tuple(out)


@cache
def _tree(source: str) -> tuple[dict[str, tuple[int, dict[str, tuple], tuple]], tuple]:
    """Per 6-character key: (length L all its prefixes have, the candidates by the first L
    characters, the candidates for any other start); and the candidates of any other key."""
    long, short = _index(source)
    tree = {}
    for key, cands in long.items():
        size = min(len(c.prefix) for c in cands)
        split: dict[str, list[_Candidate]] = {}
        for c in cands:
            split.setdefault(c.prefix[:size], []).append(c)
        tree[key] = (size, {k: _entries(v + list(short)) for k, v in split.items()}, _entries(list(short)))
    return tree, _entries(list(short))


def classify_tagged(source: str, message: str, logger: str | None) -> tuple[str, str | None, dict[str, Any], str | None]:
    """``(*classify(source, message, logger), tag_of(message, logger))``: the same answer,
    trying only the shapes whose literal prefix the message starts with."""
    tree, other = _tree("frontend" if source == "panel" else source)
    node = tree.get(message[:_KEY_LEN])
    entries = other if node is None else node[1].get(message[:node[0]], node[2])
    for prefix, required, regex, shape, numeric, tag in entries:
        if not message.startswith(prefix) or (required is not _ANY_LOGGER and required != logger):
            continue
        m = regex.match(message)
        if m is None:
            continue
        fields = {k: v for k, v in m.groupdict().items() if v is not None}
        for name, convert in numeric:
            if name in fields:
                value = convert(fields[name])
                if value is None:
                    del fields[name]
                else:
                    fields[name] = value
        derive(shape.name, fields)
        if tag is _VARIES:
            tag = tag_of(message, logger)
        elif tag is _BY_LOGGER:
            tag = LOGGER_TAGS.get(logger or "")
        return shape.kind, shape.name, fields, tag
    return "unknown", None, {}, tag_of(message, logger)


# ---- the same matcher in C ------------------------------------------------------------
# jarvis_diag/logs/_match.c matches the templates themselves (every placeholder pattern is
# a class run, a number or any text) in the order re tries them: the same answer as
# classify_tagged at a fraction of the cost, for every message of ASCII text.

_LAZY, _GREEDY, _RUN, _NUMBER = range(4)
_ASCII_WORD = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_"
# pattern -> (kind, class characters, minus, letter, fraction)
_PATTERNS: dict[str, tuple[int, str, bool, bool, bool]] = {
    r"[A-Za-z0-9_-]+": (_RUN, _ASCII_WORD + "-", False, False, False),
    r"[A-Za-z0-9_.-]+": (_RUN, _ASCII_WORD + ".-", False, False, False),
    r"[A-Za-z0-9_:.-]+": (_RUN, _ASCII_WORD + ":.-", False, False, False),
    r"\w+": (_RUN, _ASCII_WORD, False, False, False),  # (ASCII messages only: others go to Python)
    r"\d+": (_NUMBER, "", False, False, False),
    r"-?\d+": (_NUMBER, "", True, False, False),
    r"\d+(?:\.\d+)?": (_NUMBER, "", False, False, True),
    r"-?\d+(?:\.\d+)?": (_NUMBER, "", True, False, True),
    r"[A-Z]\d+(?:\.\d+)?": (_NUMBER, "", False, True, True),
    lines._LAZY: (_LAZY, "", False, False, False),
    lines._GREEDY_AT_END: (_GREEDY, "", False, False, False),
}
_TABLE_OF_SOURCE = {"backend": 0, "frontend": 1, "panel": 1, "console": 2}


def _c_entry(shape: lines.Shape) -> tuple[Any, ...] | None:
    """A shape as _match.compile reads it (None: a placeholder pattern it does not know)."""
    prefix, found = lines.placeholders(shape)
    fields = []
    for name, pattern, literal in found:
        if pattern not in _PATTERNS:
            return None
        kind, chars, minus, letter, fraction = _PATTERNS[pattern]
        convert = 1 if name in _INT_COLUMNS else 2 if name in _FLOAT_COLUMNS else 0
        fields.append((None if name.startswith("_") else name, kind, chars, minus, letter, fraction, convert, literal))
    tag = _fixed_tag(prefix)
    mode, fixed = (1, None) if tag is _BY_LOGGER else (2, None) if tag is _VARIES else (0, tag)
    return (prefix, shape.logger if lines.needs_logger(shape) else None, shape.kind, shape.name, mode, fixed,
            IMPLIED_EVENT.get(shape.name), shape.name in DERIVED, tuple(fields))


def c_spec(fallback: Any) -> tuple[Any, ...] | None:
    """What _match.compile reads: every shape, and ``fallback`` for the messages it leaves
    to Python (None: a shape has a placeholder pattern the C matcher does not know)."""
    tables: list[list[tuple[Any, ...]]] = [[], [], []]
    for shape in lines.SHAPES:
        entry = _c_entry(shape)
        if entry is None:
            return None
        tables[_TABLE_OF_SOURCE[shape.source]].append(entry)
    return _TABLE_OF_SOURCE, [tuple(t) for t in tables], LOGGER_TAGS, fallback, derived_ids


@cache
def _c_table() -> Any:
    """The compiled table of every shape (None: no C matcher, or a shape it cannot read)."""
    spec = c_spec(classify_tagged) if _match is not None else None
    return None if spec is None else _match.compile(spec)


def _classify_record(record: Any) -> tuple[str, str | None, dict[str, Any], str | None] | None:
    if not isinstance(record, tuple):
        return None
    source, logger, _level, message = record
    return classify_tagged(source, message, logger)


def split_keys(keys: list[str], records: list[Any], record_of_key: Any) -> np.ndarray:
    """What follows each stamp (``keys``) as its record (source, logger, level, message),
    appended to ``records`` (``record_of_key``, in C when it was compiled): each key's record
    number, -1 when it is no backend or frontend line's rest."""
    if _c_table() is not None:
        return np.frombuffer(_match.split(keys, records, _FRONTEND_LEVELS, record_of_key), dtype=np.int32)
    to_record = np.full(len(keys), -1, dtype=np.int32)
    for u, key in enumerate(keys):
        record = record_of_key(key)
        if record is not None:
            to_record[u] = len(records)
            records.append(record)
    return to_record


def split_untimed(texts: list[str], records: list[Any], split_line: Any) -> tuple[np.ndarray, np.ndarray]:
    """The lines with no fixed-width stamp, split by ``split_line`` (the console lines in C
    when it was compiled): each line split becomes a record (source, logger, level,
    message) appended to ``records``. Returns (per text: its record, -2 blank, -1 other;
    per text: the time split_line read, NaN for none)."""
    if _c_table() is not None:
        kinds, times = _match.untimed(texts, records, split_line)
        return np.frombuffer(kinds, dtype=np.int64), np.frombuffer(times, dtype=np.float64)
    kind_of = np.empty(len(texts), dtype=np.int64)
    time_of = np.full(len(texts), np.nan)
    for u, line in enumerate(texts):
        parts = split_line(line)
        if parts is None:
            kind_of[u] = -2 if not line.strip() else -1
        else:
            source, t, logger, level, message = parts
            kind_of[u] = len(records)
            time_of[u] = np.nan if t is None else t
            records.append((source, logger, level, message))
    return kind_of, time_of


def classify_records(records: list[Any], start: int = 0) -> list[tuple[str, str | None, dict[str, Any], str | None] | None]:
    """classify_tagged of each (source, logger, level, message) record from ``start`` (None
    for a record that is not such a tuple), in C when it was compiled."""
    table = _c_table()
    if table is not None:
        return _match.classify(table, records, start)
    return [_classify_record(r) for r in records[start:]]

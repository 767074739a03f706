"""Correlation: typed events -> connections, session attaches and reconnect episodes.

The two sides of the system log the same moments with different clocks and different
ids: the backend writes local time and 8-character prefixes (socket sid, session UUID,
temporary id), the frontend writes its own clock and its page's names. This module puts
them on one clock (:mod:`jarvis_diag.clock`), joins frontend clients to backend sockets
and every session alias to one id, and builds what a person reads to find out why a
connection did not recover. :mod:`jarvis_diag.findings` names what went wrong.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from itertools import accumulate
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa

from jarvis_diag.built import compiled as _built  # (None: the records are built in Python)
from jarvis_diag.clock import SkewEstimate, Sockets, emit_pairs, estimate_skews, select_rows, session_key
from jarvis_diag.errors import DiagError, paths_argument
from jarvis_diag.forked import Forked
from jarvis_diag.gc_pause import no_cycle_collection
from jarvis_diag.links import open_item

SCHEMA = "jarvis-diag.timeline/1"
FRONTEND_SOURCES = ("frontend", "panel")
# A frontend connect and the backend's "Client X connected/authenticated" are the same
# moment when they are this close on the corrected clock.
JOIN_WINDOW_S = 1.0
# A client's auth line with no server auth within JOIN_WINDOW_S: the server's auth_success can
# take this long to arrive on a bad mobile network.
SLOW_AUTH_S = 30.0
# What takes a page away (True) or brings it back (False): hidden or offline, either one.
AWAY_KINDS = {"page.hidden": ("hidden", True), "page.visible": ("hidden", False),
              "network.offline": ("offline", True), "network.online": ("offline", False)}
# An attach never seen to finish stops taking lines after this long (its DONE was not logged).
OPEN_ATTACH_S = 120.0
# A ``Chat connect Tn: <ms>`` line is <ms> after its attach's START (both logged to the ms).
PHASE_MATCH_S = 0.005
# A chat:ready's server_ts and the backend line that logged sending it.
READY_MATCH_MS = 5.0
# A chat:ready and the client's line naming the session it was for are written together.
READY_HANDLED_S = 0.05
# Frontend lines that name a session the client has (by its UUID once the server gave one).
CLIENT_KEY_KINDS = ("chat.ready.handled", "chat.handler.remapped", "chat.connect.sent", "message.sent")
# The callbacks a closing socket's clean-up clears are logged this close before its disconnect line.
DISCONNECT_CLEANUP_S = 0.1
# A disconnect closing the page on purpose is not a loss.
DELIBERATE_REASONS = ("io client disconnect",)

ALARM_LEVELS = ("WARNING", "ERROR", "CRITICAL")
# The kinds correlation reads; everything else only shows in the event list.
# (WARNING/ERROR lines of any kind are read too; the client's live events, the bulk of a
# frontend log, are only counted, from the frame.)
KINDS_USED = frozenset({
    "socket.connected", "socket.disconnected", "auth.ok", "auth.failed", "chat.connect.start",
    "chat.connect.sent", "chat.connect.received", "chat.connect.done",
    "chat.handler.exists", "chat.handler.remapped", "chat.ready.sent", "chat.ready.received",
    "chat.ready.handled", "history.loaded", "history.end", "session.creating", "session.created",
    "session.started", "session.mapped", "session.switched", "callback.missing", "callback.cleared",
    "message.sent", "message.received", "message.processing", "message.completed", "output.delivered",
    "page.hidden", "page.visible", "network.online", "network.offline", "cm.force_disconnect",
    "reconnect.exhausted", "server.reload", "server.starting", "server.started", "server.stopping",
    "server.stopped", "app.error", "chat.resubscribe.batch", "callback.owner_changed", "socket.error",
    "chat.connect.reconnect",
})
# The columns correlation and the detectors read (fewer columns, faster records on big logs).
# Lines of a used kind that correlation has no use for (they are many on big logs).
SKIPPED_SHAPES = ("fe.calling_send", "sio.session_found", "sio.history_end")
# T1..T6 timings are read column-wise (see _assign_phases), not as records.
RECORD_COLUMNS = ("t", "source", "kind", "shape", "path", "line", "text", "level", "client", "sid", "to_sid", "session",
                  "temp_id", "from_session", "phase", "transport", "reason", "detail", "ms", "n", "total", "server_ms",
                  "client_ms", "recv_ts", "traceback")


def iso(t: float | None) -> str | None:
    """Epoch seconds as ISO 8601 UTC with milliseconds (``2026-11-24T10:03:39.558Z``)."""
    if t is None or (isinstance(t, float) and math.isnan(t)):
        return None
    # (to the microsecond, then the nearest ms, half up: as the tables' times are written, so
    # that a time in a summary is the one in its row; a corrected page time often ends in .5 ms)
    ms = (int(round(t * 1e6)) + 500) // 1000
    seconds, milli = divmod(ms, 1000)
    day, second = divmod(seconds, 86400)
    if not 0 <= day < _LAST_DAY:  # (before 1970 or after 9999: the calendar's own way)
        d = datetime.fromtimestamp(seconds, tz=UTC)
        return f"{d:%Y-%m-%dT%H:%M:%S}.{milli:03d}Z"
    hour, second = divmod(second, 3600)
    minute, second = divmod(second, 60)
    # (a big log's findings write tens of thousands of times: the date once per day)
    return f"{_iso_day(day)}T{hour:02d}:{minute:02d}:{second:02d}.{milli:03d}Z"


_LAST_DAY = (datetime(9999, 12, 31, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)).days


@lru_cache(maxsize=4096)
def _iso_day(day: int) -> str:
    """The date ``day`` days after 1970-01-01, as YYYY-MM-DD."""
    return f"{datetime.fromtimestamp(day * 86400, tz=UTC):%Y-%m-%d}"


class Row(int):
    """A line's row in the events, standing for its text in evidence until
    :func:`fill_texts` reads the texts of every line used, in one take."""

    __slots__ = ()


def evidence(rec: dict) -> dict:
    """A line used as evidence: where it is and what it says (the text is read at the end)."""
    return {"path": rec["path"], "line": int(rec["line"]), "text": rec["text"] if "text" in rec else Row(rec["label"])}


def fill_texts(texts: pd.Series, items: list[list[dict]]) -> None:
    """Put the text of each line in the evidence lists ``items`` (those still a :class:`Row`)."""
    pending = [e for ev in items for e in ev if isinstance(e["text"], Row)]
    if not pending:
        return
    # (a dict in several lists is here more than once, and a line can be the evidence of
    # several things: each line's text is read once)
    rows = np.fromiter((e["text"] for e in pending), dtype=np.int64, count=len(pending))
    unique, inverse = np.unique(rows, return_inverse=True)
    found = _taken_values(texts, unique)
    for e, i in zip(pending, inverse.tolist(), strict=True):
        e["text"] = found[i]


# Every record has these keys; the other RECORD_COLUMNS are set only where the line has a
# value (most are sparse: a phase on phase lines, server_ms on chat:ready lines), so read
# them with ``rec.get``. Building hundreds of thousands of them is a cost that matters on
# big logs: the compiled module's records are mappings over the shared columns, one small
# object each, that read like these dicts (and take a key set later, as a dict does).
# The text is not among them: only the lines used as evidence need it (see :class:`Row`).
DENSE_COLUMNS = ("t", "source", "kind", "shape", "path", "line", "level")


def _column_values(s: pd.Series) -> list:
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(object)
    arr = s.to_numpy(dtype=object, na_value=None)
    if s.dtype == "float64":
        return [None if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in arr]
    return list(arr)


def _taken_values(s: pd.Series, rows: np.ndarray) -> list:
    """The values of ``s`` at positions ``rows`` as Python objects (None where missing)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        # the categories once, then an object take of the codes (-1, missing, is the last item)
        cats = np.append(s.cat.categories.to_numpy(dtype=object), None)
        return cats[s.cat.codes.to_numpy()[rows]].tolist()
    if s.dtype == "string" and isinstance(getattr(s.array, "_pa_array", None), pa.ChunkedArray):
        # straight from Arrow: a third of the time of pandas' object conversion (text of every row)
        return s.array._pa_array.take(pa.array(rows)).to_numpy(zero_copy_only=False).tolist()
    if s.dtype == "int64":
        return s.to_numpy()[rows].tolist()
    return _column_values(s.take(rows))


def _records(events: pd.DataFrame, rows: np.ndarray, t_ns: np.ndarray) -> list[dict]:
    """The rows at positions ``rows`` of ``events`` (a RangeIndex frame) as dicts (or the
    compiled module's records, which read the same), in that order, with ``t`` as epoch
    seconds (from ``t_ns``) and a ``label`` (the row's position); sparse columns only where
    set. Only the rows' own values are taken from each column, and a sparse column only
    where it has a value."""
    if not len(rows):
        return []
    keys = ("label", *(c for c in DENSE_COLUMNS if c in events.columns))
    columns = [rows.tolist()]
    for c in keys[1:]:
        columns.append((t_ns[rows] / 1e9).tolist() if c == "t" else _taken_values(events[c], rows))
    sparse = []
    for c in RECORD_COLUMNS:
        if c in keys or c == "text" or c not in events.columns:
            continue
        s = events[c]
        present = np.flatnonzero(s.notna().to_numpy()[rows])
        if len(present):
            sparse.append((c, present.tolist(), _taken_values(s, rows[present])))
    if _built is not None:
        return _built.records(keys, columns, sparse)
    records = [dict(zip(keys, row, strict=True)) for row in zip(*columns, strict=True)]
    for c, present, values in sparse:
        for i, v in zip(present, values, strict=True):
            records[i][c] = v
    return records


def _codes(s: pd.Series, rows: np.ndarray, prefix: int | None = None) -> np.ndarray:
    """Per row of ``rows``, a number that is the same for equal values of ``s`` (-1: missing);
    with ``prefix``, for equal first ``prefix`` characters."""
    cat = s if isinstance(s.dtype, pd.CategoricalDtype) else s.astype("category")
    codes = cat.cat.codes.to_numpy()[rows].astype(np.int64)
    if prefix is not None:
        _, inverse = np.unique(np.array([str(v)[:prefix] for v in cat.cat.categories], dtype=object),
                               return_inverse=True)
        codes = np.where(codes >= 0, np.append(inverse, -1)[codes], -1)
    return codes


def _groups(codes: np.ndarray) -> list[np.ndarray]:
    """The positions of each value of ``codes`` (>= 0), each in increasing order."""
    keep = np.flatnonzero(codes >= 0)
    if not len(keep):
        return []
    order = keep[np.argsort(codes[keep], kind="stable")]
    cuts = np.flatnonzero(np.diff(codes[order])) + 1
    return np.split(order, cuts)


def span_ms(t0: float, t1: float) -> float:
    """The ms from ``t0`` to ``t1`` (epoch seconds), to the microsecond: epoch seconds as
    floats carry a few hundred ns of rounding, and the logs' times are whole µs at best."""
    return round((t1 - t0) * 1000, 3)


@dataclass
class Attach:
    """One attach of a socket to a session, seen from both sides when both were logged."""

    session: str | None  # canonical id (filled in at the end)
    key: str | None  # 8-char join key of the UUID, else of the wire id
    sid: str | None = None
    client: str | None = None
    kind: str = "new"
    wire_id: str | None = None  # the id the client sent (a temporary id or a UUID)
    temp_id: str | None = None
    requested_at: float | None = None
    received_at: float | None = None
    started_at: float | None = None
    start_row: int | None = None  # the row of the server's START line
    done_row: int | None = None  # ... and of its DONE line
    phases: dict = field(default_factory=dict)
    server_ms: float | None = None
    ready_sent_at: float | None = None
    ready_sent_row: int | None = None  # the row of the line ready_sent_at was read from
    ready_received_at: float | None = None
    history_end_at: float | None = None
    history_count: int | None = None
    history_total: int | None = None  # the session's messages when the server replayed history_count
    history_row: int | None = None  # the row of the server's 'Loaded n/total history messages' line
    last_seq: int | None = None  # the seq the client asked to resume after (the seq extension)
    received_row: int | None = None  # the row of the server's 'Received chat:connect' line
    ready_row: int | None = None  # the row of the page's chat:ready line (its order in a millisecond)
    resumed: bool = False  # the server replayed the events after last_seq
    switched_from: str | None = None
    created: bool = False
    auto: bool = False
    done: bool = False
    done_at: float | None = None
    cut_at: float | None = None  # the server logged the socket's disconnect while the attach ran
    evidence: list = field(default_factory=list)

    @property
    def latency_ms(self) -> float | None:
        if self.requested_at is None or self.ready_received_at is None:
            return None
        return span_ms(self.requested_at, self.ready_received_at)

    @property
    def transport_ms(self) -> float | None:
        """The part of the latency spent on the wire (both ways): latency minus server time."""
        latency = self.latency_ms
        if latency is None or self.received_at is None or self.ready_sent_at is None:
            return None
        # (the server's two marks are taken by different clocks' roundings - recv_ts in epoch ms,
        # the log line's time cut to the ms - so a quick attach can show its ready sent before its
        # request received: no time of the server's, not time added to the wire)
        server = max(0.0, span_ms(self.received_at, self.ready_sent_at))
        return max(0.0, round(latency - server, 3))

    @property
    def ready_at(self) -> float | None:
        return self.ready_received_at if self.ready_received_at is not None else self.ready_sent_at


@dataclass
class Connection:
    sid: str | None
    client: str | None = None
    connected_at: float | None = None
    authenticated_at: float | None = None
    auth_failed_at: float | None = None
    disconnected_at: float | None = None
    client_disconnected_at: float | None = None  # when the frontend logged losing it
    # (no connect line: the start of the server process that logged it, when the log shows
    # one; a socket does not outlive its process, so it connected after that)
    started_after: float | None = None
    first_seen: float | None = None  # a socket whose start the server's log lacks: its first line there
    reason: str | None = None
    transport: str | None = None
    evidence: list = field(default_factory=list)

    @property
    def duration_ms(self) -> float | None:
        if self.connected_at is None or self.disconnected_at is None:
            return None
        return span_ms(self.connected_at, self.disconnected_at)


@dataclass
class Episode:
    client: str | None
    trigger: str
    started_at: float
    sid_before: str | None = None
    sid_after: str | None = None
    visible_at: float | None = None
    connected_at: float | None = None
    authenticated_at: float | None = None
    sessions: list = field(default_factory=list)
    ready_at: dict = field(default_factory=dict)
    recovered_at: float | None = None
    # when never recovered: the next loss, after its reconnect (the next episode's start)
    lost_again_at: float | None = None
    exhausted_at: float | None = None
    evidence: list = field(default_factory=list)

    @property
    def recovered(self) -> bool:
        return self.recovered_at is not None

    @property
    def duration_ms(self) -> float | None:
        end = self.recovered_at
        return None if end is None else span_ms(self.started_at, end)


class SessionIds:
    """Every alias of a session (8-char prefix, full UUID, temporary id) to one id."""

    def __init__(self) -> None:
        self.full: dict[str, str] = {}  # uuid8 -> full UUID
        self.temp_to_key: dict[str, str] = {}  # full temporary id -> uuid8
        self.temps: dict[str, set[str]] = {}  # uuid8 -> its temporary ids

    def learn_full(self, value: str | None) -> None:
        if value and len(value) > 8 and not value.startswith("new-"):
            self.full.setdefault(value[:8], value)

    def learn_temp(self, temp: str | None, key: str | None) -> None:
        if temp and key and temp.startswith("new-") and not key.startswith("new-"):
            self.temps.setdefault(key[:8], set()).add(temp)
            if len(temp) > 8:
                self.temp_to_key[temp] = key[:8]

    def canonical(self, value: str | None) -> str | None:
        if not value:
            return None
        if value.startswith("new-"):
            key = self.temp_to_key.get(value)
            return self.full.get(key, key) if key else value
        return self.full.get(value[:8], value)


class RecordIndex:
    """Records (in time order) grouped the ways the detectors look them up, so that no
    detector scans every record for every thing it checks."""

    def __init__(self, records: list[dict], events: pd.DataFrame, rows: np.ndarray, times: np.ndarray):
        """``records``: those of the rows at positions ``rows`` of ``events``, whose columns
        group them (no pass over the records); ``times``: their ``t``."""
        self.records = records
        self.times = times
        # the same records as an object array: taking a list of them by positions is one step
        self._array = np.empty(len(records), dtype=object)
        self._array[:] = records
        self._by_row = np.argsort(rows, kind="stable")  # the records in row order
        self._rows = rows[self._by_row]
        source = np.asarray(events["source"].astype(object).to_numpy()[rows], dtype=object)
        frontend = np.isin(source, FRONTEND_SOURCES)
        self.by_kind: dict[str, list[dict]] = {}
        self._kind_rows: dict[str, np.ndarray] = {}
        for group in _groups(_codes(events["kind"], rows)):
            kind = records[group[0]]["kind"]
            self._kind_rows[kind] = group
            self.by_kind[kind] = self.take(group)
        self._kind_times = {k: times[v] for k, v in self._kind_rows.items()}
        # WARNING/ERROR lines (and the client's errors) and lines naming the polling transport
        alarm = events["level"].isin(ALARM_LEVELS).to_numpy()[rows] | (events["kind"] == "app.error").to_numpy()[rows]
        self.alarms = self.take(np.flatnonzero(alarm))
        polling = (events["transport"] == "polling").fillna(False).to_numpy(dtype=bool)[rows] \
            if "transport" in events.columns else np.zeros(len(rows), dtype=bool)
        self.polling = self.take(np.flatnonzero(polling))
        self.fe_by_client: dict[str, list[dict]] = {}
        if "client" in events.columns:
            codes = _codes(events["client"], rows)
            codes[~frontend] = -1
            for group in _groups(codes):
                client = records[group[0]].get("client")
                if client:
                    self.fe_by_client[client] = self.take(group)
        self.be_by_sid: dict[str, list[dict]] = {}
        if "sid" in events.columns:
            codes = _codes(events["sid"], rows, prefix=8)
            codes[frontend] = -1
            for group in _groups(codes):
                sid = records[group[0]].get("sid")
                if sid:
                    self.be_by_sid[sid[:8]] = self.take(group)

    def take(self, positions: np.ndarray) -> list[dict]:
        """The records at these positions (of the time-ordered list), in that order."""
        return self._array[positions].tolist()

    def at_rows(self, labels: Any) -> list[dict | None]:
        """The record of each row label (None: that row has no record)."""
        labels = np.asarray(labels, dtype=np.int64)
        at = np.minimum(np.searchsorted(self._rows, labels), max(len(self._rows) - 1, 0))
        found = (self._rows[at] == labels) if len(self._rows) else np.zeros(len(labels), dtype=bool)
        return [self.records[i] if ok else None for i, ok in zip(self._by_row[at].tolist(), found.tolist(),
                                                                  strict=True)]

    def between(self, t0: float, t1: float) -> list[dict]:
        """Records with ``t0 <= t <= t1``."""
        lo, hi = self.times.searchsorted(t0, side="left"), self.times.searchsorted(t1, side="right")
        return self.records[lo:hi]

    def has_kind(self, kinds: tuple[str, ...] | list[str], t0: float, t1: float) -> bool:
        """Whether any record of these kinds has ``t0 <= t <= t1`` (``of_kind`` without the list)."""
        for kind in kinds:
            times = self._kind_times.get(kind)
            if times is not None and times.searchsorted(t1, side="right") > times.searchsorted(t0, side="left"):
                return True
        return False

    def of_kind(self, kinds: tuple[str, ...] | list[str], t0: float = -math.inf, t1: float = math.inf) -> list[dict]:
        """Records of these kinds with ``t0 <= t <= t1``, in time order; lines of the same
        instant in the order they were read (a client's chat:ready before the line naming
        its session)."""
        parts = []
        for kind in kinds:
            times = self._kind_times.get(kind)
            if times is None:
                continue
            lo, hi = times.searchsorted(t0, side="left"), times.searchsorted(t1, side="right")
            if len(kinds) == 1:
                return self.by_kind[kind][lo:hi]
            parts.append(self._kind_rows[kind][lo:hi])
        if not parts:
            return []
        return self.take(np.sort(np.concatenate(parts)))


@dataclass
class Correlation:
    """Everything the detectors read (the Timeline's working state)."""

    records: list[dict]
    skews: dict[str, SkewEstimate]
    sid_client: dict[str, str]
    connections: list[Connection]
    attaches: list[Attach]
    episodes: list[Episode]
    ids: SessionIds
    pairs: pd.DataFrame
    first_t: float | None
    last_t: float | None
    index: RecordIndex
    received: dict  # (client, session key) -> sorted times (epoch s) of live events it received
    texts: pd.Series  # the events' text, by row (records carry a row, see Row)
    warnings: list[str] = field(default_factory=list)  # what the reader should know of the correlation
    # the time (ns) of every line of the server's logs, of any kind, in the order read
    backend_ns: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))

    def text(self, rec: dict) -> str:
        """The text of a record's line."""
        return rec["text"] if "text" in rec else _taken_values(self.texts, np.array([rec["label"]]))[0]


# ---- joins -----------------------------------------------------------------------------

def _uuid_key(value: object) -> str | None:
    """The 8-char join key of a session UUID (None for a temporary id: ``new-<ms>`` prefixes
    repeat across sessions and clients, so they identify nothing on their own)."""
    key = session_key(value)
    return None if key is None or key.startswith("new-") else key


def _client_keys(index: RecordIndex) -> dict[str, set[str]]:
    """The sessions (UUID join keys) each frontend client named in its own lines."""
    keys: dict[str, set[str]] = {}
    for rec in index.of_kind(CLIENT_KEY_KINDS):
        kind = rec["kind"]
        if rec["source"] not in FRONTEND_SOURCES or not rec.get("client"):
            continue
        key = _uuid_key(rec.get("detail") if kind == "chat.ready.handled" else rec.get("session"))
        if key:
            keys.setdefault(rec["client"], set()).add(key)
    return keys


def _ready_keys(index: RecordIndex) -> dict:
    """A frontend ``chat:ready`` line's label -> the session it was for: the client names it
    on the ``triggering onConnect for chat:<id>`` line that follows it."""
    out: dict = {}
    waiting: dict[str, dict] = {}  # client -> its last chat:ready not yet handled
    for rec in index.of_kind(("chat.ready.received", "chat.ready.handled")):
        client = rec.get("client")
        if rec["source"] not in FRONTEND_SOURCES or not client:
            continue
        if rec["kind"] == "chat.ready.received":
            waiting[client] = rec
        elif rec["kind"] == "chat.ready.handled" and client in waiting:
            ready = waiting.pop(client)
            key = _uuid_key(rec.get("detail"))
            if key and rec["t"] - ready["t"] <= READY_HANDLED_S:
                out[ready["label"]] = key
    return out


def join_clients(index: RecordIndex, pairs: pd.DataFrame, attaches: list[Attach] | None = None,
                 ready_keys: dict | None = None) -> dict[str, str]:
    """Backend sid prefix -> frontend clientId, by votes.

    Each phone has its own sessions, and the same second's connects of several phones are
    only milliseconds apart, so time alone cannot join them: a socket whose attaches name
    sessions some client's own lines name is joined only to such a client (two devices on
    one chat both qualify, and time decides). Votes: a ``chat:ready`` received by the
    client for the session the socket attached, at the instant the server sent it (3);
    paired emits (2); connect/auth lines close together on the corrected clock, each
    frontend line given to at most one socket line and the other way round (1)."""
    attaches = attaches or []
    ready_keys = ready_keys or {}
    sid_keys: dict[str, set[str]] = {}
    for a in attaches:
        key = _uuid_key(a.key)
        if a.sid and key:
            sid_keys.setdefault(a.sid, set()).add(key)
    clients_of_key: dict[str, set[str]] = {}
    for client, keys in _client_keys(index).items():
        for key in keys:
            clients_of_key.setdefault(key, set()).add(client)
    owners = {sid: set().union(*(clients_of_key.get(k, ()) for k in keys)) for sid, keys in sid_keys.items()}

    def allowed(sid: str, client: str) -> bool:
        mine = owners.get(sid)
        return not mine or client in mine

    votes: dict[tuple[str, str], int] = {}

    def vote(sid: str, client: str, n: int) -> None:
        if allowed(sid, client):
            votes[(sid, client)] = votes.get((sid, client), 0) + n

    ready = sorted((a.ready_sent_at * 1000, i) for i, a in enumerate(attaches) if a.ready_sent_at and a.sid)
    ready_ms = np.array([m for m, _ in ready])
    for rec in index.by_kind.get("chat.ready.received", []) if len(ready_ms) else []:
        if rec["source"] not in FRONTEND_SOURCES or not rec.get("client") or rec.get("server_ms") is None:
            continue
        key = ready_keys.get(rec["label"])
        lo, hi = np.searchsorted(ready_ms, [rec["server_ms"] - READY_MATCH_MS, rec["server_ms"] + READY_MATCH_MS])
        sids = {attaches[i].sid for _m, i in ready[lo:hi]
                if key is None or _uuid_key(attaches[i].key) in (None, key)}
        if len(sids) == 1:
            vote(sids.pop(), rec["client"], 3)
    for client, rec in zip(pairs["client"], index.at_rows(pairs["be"].to_numpy()), strict=True):
        if rec is not None and rec.get("sid"):
            vote(rec["sid"][:8], client, 2)
    for kind in ("socket.connected", "auth.ok"):
        of_kind = index.by_kind.get(kind, [])
        fe_list = [(r["t"], r["client"]) for r in of_kind if r["source"] in FRONTEND_SOURCES and r.get("client")]
        be_list = [(r["t"], r["sid"][:8]) for r in of_kind if r["source"] == "backend" and r.get("sid")]
        if not fe_list or not be_list:
            continue
        be_t = np.array([t for t, _ in be_list])
        near: list[tuple[float, int, int]] = []
        for i, (t, client) in enumerate(fe_list):
            lo, hi = np.searchsorted(be_t, [t - JOIN_WINDOW_S, t + JOIN_WINDOW_S], side="left")
            near += [(abs(be_t[j] - t), i, int(j)) for j in range(lo, hi) if allowed(be_list[j][1], client)]
        fe_used: set[int] = set()
        be_used: set[int] = set()
        for _d, i, j in sorted(near):
            if i not in fe_used and j not in be_used:
                fe_used.add(i)
                be_used.add(j)
                vote(be_list[j][1], fe_list[i][1], 1)
    best: dict[str, tuple[int, str]] = {}
    for (sid, client), n in sorted(votes.items()):
        if sid not in best or n > best[sid][0]:
            best[sid] = (n, client)
    return {sid: client for sid, (_n, client) in best.items()}


# ---- building ----------------------------------------------------------------------------

class _OpenAttaches:
    """The attaches in progress a line with no attach of its own may belong to: those started,
    not done, and not left behind by a later START (one started more than OPEN_ATTACH_S before
    it). The latest one with a session key, with a socket id, or started a given time before a
    line is found without a pass over them all: a busy server (many phones attaching at once)
    has hundreds in progress. The STARTs come in time order."""

    def __init__(self) -> None:
        self._all: list[Attach] = []  # every attach started, in order
        self._starts: list[float] = []  # ... and its START's time
        self._first = 0  # the attaches before this position were left behind
        # the nearest position at or before each one whose attach is not done (-1: none),
        # followed and shortened as attaches get done
        self._left: list[int] = []
        self._pos: dict[int, int] = {}  # id(attach) -> its position
        self._by_key: dict[str, list[int]] = {}  # positions, in order (stale ones are skipped)
        self._by_sid: dict[str, list[int]] = {}

    def start(self, a: Attach) -> None:
        """A START at ``a.started_at``: the attaches started too long before are left behind."""
        t = a.started_at or 0
        while self._first < len(self._all) and t - (self._starts[self._first] or 0) > OPEN_ATTACH_S:
            self._first += 1
        self._pos[id(a)] = i = len(self._all)
        self._all.append(a)
        self._starts.append(a.started_at)
        self._left.append(i)
        # (i is the last position yet: it goes at the end of its lists)
        if a.key:
            self._by_key.setdefault(a.key, []).append(i)
        if a.sid:
            self._by_sid.setdefault(a.sid, []).append(i)

    def named(self, a: Attach, by: str) -> None:
        """``a``'s ``by`` ("key" or "sid") was set to a new value."""
        value = getattr(a, by)
        if value:
            self._name(self._by_key if by == "key" else self._by_sid, value, self._pos[id(a)])

    @staticmethod
    def _name(ids: dict[str, list[int]], value: str, i: int) -> None:
        positions = ids.get(value)
        if not positions:
            ids[value] = [i]
        elif positions[-1] < i:
            positions.append(i)
        else:
            at = bisect_left(positions, i)
            if positions[at] != i:
                positions.insert(at, i)

    def done(self, a: Attach) -> None:
        i = self._pos.get(id(a))
        if i is not None:
            self._left[i] = i - 1

    def _open(self, i: int) -> bool:
        return i >= self._first and not self._all[i].done

    def latest(self, by: str, value: str) -> Attach | None:
        """The latest attach in progress whose ``by`` ("key" or "sid") is ``value``."""
        positions = (self._by_key if by == "key" else self._by_sid).get(value)
        while positions:
            a = self._all[positions[-1]]
            if self._open(positions[-1]) and getattr(a, by) == value:
                return a
            positions.pop()  # done, left behind or renamed: for good (a rename adds it back)
        return None

    def _undone(self, i: int) -> int:
        """The nearest position at or before ``i`` whose attach is not done (-1: none)."""
        return open_item(self._left, i)

    def started_near(self, t: float) -> Attach | None:
        """The latest attach in progress whose START is within PHASE_MATCH_S of ``t``."""
        starts, first = self._starts, self._first
        # the last START not after t + PHASE_MATCH_S, by the very test below (not a sum's rounding)
        last = bisect_right(starts, t + PHASE_MATCH_S, lo=first) - 1
        while last + 1 < len(starts) and t - starts[last + 1] >= -PHASE_MATCH_S:
            last += 1
        while last >= first and t - starts[last] < -PHASE_MATCH_S:
            last -= 1
        i = self._undone(last) if last >= first else -1
        if i >= first and abs(t - starts[i]) <= PHASE_MATCH_S:
            return self._all[i]
        return None


def _open_attach(open_attaches: _OpenAttaches, current: Attach | None, rec: dict) -> Attach | None:
    """The attach in progress that a line naming a session (or a socket) belongs to. The
    server runs one handler at a time until it awaits, so attaches of several sockets can
    interleave (a session start takes seconds); a line that names its session tells which
    handler is running, and the lines without an id that follow are that handler's."""
    if rec["kind"] == "session.switched":
        sid = (rec.get("sid") or "")[:8]
        if current is not None and not current.done and current.sid == sid:
            return current
        match = open_attaches.latest("sid", sid) if sid else None
    else:
        key = session_key(rec.get("session"))
        if current is not None and not current.done and current.key == key:
            return current
        match = open_attaches.latest("key", key) if key else None
    return match or current


def _timed_attach(open_attaches: _OpenAttaches, current: Attach | None, rec: dict) -> Attach | None:
    """The attach in progress a line ``<ms>`` after its START belongs to (``Chat connect
    DONE: <ms>ms total`` names no session): ``current`` when it fits, or when no other
    attach in progress does (the server awaits inside an attach, so another one's lines
    can come between a START and its DONE)."""
    ms = rec.get("ms")
    if ms is None:
        return current
    started = rec["t"] - ms / 1000.0
    if current is not None and not current.done and current.started_at is not None \
            and abs(started - current.started_at) <= PHASE_MATCH_S:
        return current
    return open_attaches.started_near(started) or current


# Lines naming the session an attach in progress works on (see _open_attach).
ROUTED_KINDS = ("session.created", "session.switched", "history.loaded")
# The mapping lines written inside an attach that created the session, and the one written
# just before an attach, when a temporary id's mapping is read back from the database.
MAPPING_IN_ATTACH = ("sio.mapping_stored", "app.set_mapping")
MAPPING_RESTORED = "sio.mapping_restored"
# The kinds each pass over the records reads (the others pass through it untouched).
SERVER_ATTACH_KINDS = ("chat.connect.received", "callback.missing", "chat.connect.start", "session.creating",
                       "session.created", "session.started", "session.mapped", "session.switched", "history.loaded",
                       "chat.ready.sent", "chat.connect.done", "chat.connect.reconnect")
CLIENT_SIDE_KINDS = ("chat.connect.sent", "message.sent", "chat.ready.received", "chat.handler.remapped",
                     "chat.ready.handled", "history.end")
CONNECTION_KINDS = ("socket.connected", "auth.ok", "auth.failed", "socket.disconnected", "server.starting")
# What closed a connection the server never logged the disconnect of: its process ended
# (killed or crashed) and a new one started.
RESTART_REASON = "server restarted"


_LAST_SEQ = re.compile(r"['\"]last_seq['\"]:\s*(\d+)")


def _last_seq(data: object) -> int | None:
    """The ``last_seq`` of a logged chat:connect payload (``data={...}``), when it has one."""
    found = _LAST_SEQ.search(data) if isinstance(data, str) else None
    return int(found.group(1)) if found else None


def _server_attaches(records: list[dict], ids: SessionIds) -> tuple[list[Attach], dict]:
    """Backend attaches, in order, from ``Chat connect START`` to ``DONE``; and the map
    from a ``Received chat:connect`` line's label to its attach. ``records``: those of
    SERVER_ATTACH_KINDS at least, in time order."""
    attaches: list[Attach] = []
    by_received: dict = {}
    pending: list[dict] = []  # Received chat:connect / has-no-callback lines not yet started
    open_attaches = _OpenAttaches()
    current: Attach | None = None
    for rec in records:
        if rec["source"] != "backend":
            continue
        kind = rec["kind"]
        if kind in ROUTED_KINDS or (kind == "session.mapped" and rec.get("shape") in MAPPING_IN_ATTACH):
            current = _open_attach(open_attaches, current, rec)
        if kind in ("chat.connect.received", "callback.missing"):
            pending.append(rec)
            if kind == "chat.connect.received":
                ids.learn_full(rec.get("session"))
        elif kind == "chat.connect.start":
            trigger = None
            while pending and rec["t"] - pending[-1]["t"] > 10:
                pending.pop()
            if pending:
                trigger = pending.pop()
            current = Attach(session=None, key=session_key(rec.get("session")), started_at=rec["t"],
                             start_row=rec["label"])
            current.evidence.append(evidence(rec))
            if trigger is not None:
                current.sid = (trigger.get("sid") or "")[:8] or None
                current.evidence.insert(0, evidence(trigger))
                if trigger["kind"] == "callback.missing":
                    current.auto = True
                    current.kind = "auto"
                    current.key = session_key(trigger.get("session")) or current.key
                else:
                    current.received_at = trigger["recv_ts"] if trigger.get("recv_ts") else trigger["t"]
                    current.received_row = trigger["label"]
                    current.last_seq = _last_seq(trigger.get("detail"))
                    current.wire_id = trigger.get("session")
                    if current.wire_id and current.wire_id.startswith("new-"):
                        current.temp_id = current.wire_id
                    by_received[trigger["label"]] = current
            attaches.append(current)
            open_attaches.start(current)
        elif kind == "session.mapped" and rec.get("shape") not in MAPPING_IN_ATTACH:
            # read back before the attach starts: the full temporary id is on its Received line
            if rec.get("shape") == MAPPING_RESTORED and rec.get("session") and rec.get("temp_id"):
                wire = next((p.get("session") for p in reversed(pending) if p["kind"] == "chat.connect.received"
                             and (p.get("session") or "").startswith(rec["temp_id"])), None)
                ids.learn_temp(wire or rec["temp_id"], rec["session"])
        elif kind == "chat.connect.reconnect":
            # (the attach in progress of the session it names; the lines that follow are not routed by it)
            resumed = _open_attach(open_attaches, None, rec)
            if resumed is not None and not resumed.done:
                resumed.resumed = True
        elif kind == "chat.connect.done":
            # (the one line of the attach's end that says which attach it is: by its ms)
            done = _timed_attach(open_attaches, current, rec)
            if done is None or done.done:
                continue
            done.phases["DONE"] = rec.get("ms")
            done.server_ms = rec.get("ms")
            done.done = True
            done.done_at = rec["t"]
            done.done_row = rec["label"]
            done.evidence.append(evidence(rec))
            open_attaches.done(done)
        elif current is None or current.done:
            if kind == "session.created" and rec.get("session"):
                ids.learn_full(rec["session"])
                if rec.get("temp_id"):
                    ids.learn_temp(rec["temp_id"], rec["session"])
            elif kind == "session.started":
                ids.learn_full(rec.get("session"))
            continue
        elif kind == "session.creating":
            key = session_key(rec.get("session"))
            if key != current.key:
                current.key = key
                open_attaches.named(current, "key")
            current.created = True
            if rec.get("phase"):
                current.phases[rec["phase"]] = rec.get("ms")
            current.evidence.append(evidence(rec))
        elif kind == "session.created":
            if rec.get("phase"):
                current.phases[rec["phase"]] = rec.get("ms")
                current.evidence.append(evidence(rec))
            ids.learn_full(rec.get("session"))
            if rec.get("temp_id") and current.temp_id:
                ids.learn_temp(current.temp_id, rec["session"])
        elif kind == "session.started":
            ids.learn_full(rec.get("session"))
        elif kind == "session.mapped" and rec.get("session"):
            if current.temp_id:
                ids.learn_temp(current.temp_id, rec["session"])
            elif rec.get("temp_id"):
                ids.learn_temp(rec["temp_id"], rec["session"])
        elif kind == "session.switched":
            current.switched_from = rec.get("from_session")
            if not current.sid:
                current.sid = (rec.get("sid") or "")[:8] or None
                open_attaches.named(current, "sid")
            current.evidence.append(evidence(rec))
        elif kind == "history.loaded":
            current.history_count = rec.get("n")
            current.history_total = rec.get("total")
            current.history_row = rec["label"]
        elif kind == "chat.ready.sent":
            current.ready_sent_at = rec["t"]
            current.ready_sent_row = rec["label"]
            current.evidence.append(evidence(rec))
    for a in attaches:
        if a.temp_id and a.key and not a.key.startswith("new-"):
            ids.learn_temp(a.temp_id, a.key)
    for a in attaches:
        # a re-attach by temporary id whose START line still shows the temporary id
        if a.temp_id and (a.key is None or a.key.startswith("new-")):
            a.key = _uuid_key(ids.canonical(a.temp_id)) or a.key
    return attaches, by_received


@lru_cache(maxsize=256)
def _phase_rank(name: str) -> tuple:
    """T1 < T1.1 < T1.2 < T2 < ... < T6 < DONE."""
    if name == "DONE":
        return (1,)
    try:
        return (0, *(int(x) for x in name[1:].split(".")))
    except ValueError:
        return (0, 99, name)


def _phase_order(item: tuple[str, Any]) -> tuple:
    return _phase_rank(item[0])


def _phase_owners(starts: np.ndarray, start_rows: np.ndarray, done: np.ndarray, times: np.ndarray,
                  rows: np.ndarray, ms: np.ndarray) -> np.ndarray:
    """Per timing line (the line read at ``rows``, written at ``times``, ``ms`` after its
    START), the position of its attach among those whose START line was read at
    ``start_rows``, written at ``starts`` (in that order), done at ``done`` (inf: never seen
    done); -1 for none.

    The attach whose START came last before the line (in time, then in the order read: a
    fast server logs several attaches in one millisecond), until its DONE; but when that
    START is not ``ms`` before the line (within PHASE_MATCH_S) and the START of another
    attach in progress is, that one: a session start takes seconds, and other sockets'
    attaches start and finish meanwhile."""
    n = len(starts)

    def started_before(i: np.ndarray) -> np.ndarray:
        at = np.clip(i, 0, max(n - 1, 0))
        return (i >= 0) & ((starts[at] < times) | ((starts[at] == times) & (start_rows[at] < rows)))

    # how many STARTs came before each line: both sorted together by (time, row read)
    order = np.lexsort((np.concatenate([start_rows, rows]), np.concatenate([starts, times])))
    seen = np.empty(len(order), dtype=np.int64)
    seen[order] = np.cumsum(order < n)
    last = seen[n:] - 1
    owner = np.where((last >= 0) & (times <= done[np.maximum(last, 0)]), last, -1)
    implied = times - ms / 1000.0  # (NaN where the line has no ms: nothing fits)
    fits = (owner >= 0) & (np.abs(starts[np.maximum(owner, 0)] - implied) <= PHASE_MATCH_S)
    latest = np.searchsorted(starts, implied + PHASE_MATCH_S, side="right") - 1
    found = np.full(len(times), -1)
    for back in range(4):  # the latest in progress of the few STARTs that can share a moment
        c = latest - back
        at = np.clip(c, 0, max(n - 1, 0))
        ok = (found < 0) & started_before(c) & (np.abs(starts[at] - implied) <= PHASE_MATCH_S) \
            & (times <= done[at])
        found = np.where(ok, c, found)
    return np.where(fits | (found < 0), owner, found)


def _assign_phases(events: pd.DataFrame, attaches: list[Attach]) -> None:
    """Give each server attach its ``Chat connect Tn`` timings (see :func:`_phase_owners`).
    Read column-wise: there is one such line per phase per attach, the bulk of a busy
    backend log. ``attaches``: the server's, in the order their START lines were read."""
    rows = select_rows(events, (events["kind"] == "chat.connect.phase") & (events["source"] == "backend")
                       & events["phase"].notna(), ("t", "phase", "ms"))
    if not attaches or rows.empty:
        return
    starts = np.array([a.started_at for a in attaches], dtype="float64")
    start_rows = np.array([a.start_row for a in attaches], dtype="int64")
    done = np.array([math.inf if a.done_at is None else a.done_at for a in attaches], dtype="float64")
    times = rows["t"].to_numpy(dtype="datetime64[ns]").astype("int64") / 1e9
    owner = _phase_owners(starts, start_rows, done, times, rows.index.to_numpy(dtype="int64"),
                          rows["ms"].to_numpy(dtype="float64", na_value=np.nan))
    for i, t, phase, ms, row in zip(owner.tolist(), times.tolist(), rows["phase"].astype(object).tolist(),
                                    rows["ms"].tolist(), rows.index.tolist(), strict=True):
        if i < 0:
            continue
        a = attaches[i]
        a.phases[phase] = None if ms != ms else ms  # NaN -> None
        if phase == "T5" and a.ready_sent_at is None:
            a.ready_sent_at = t
            a.ready_sent_row = row
    for a in attaches:
        a.phases = dict(sorted(a.phases.items(), key=_phase_order))


def _cut_attaches(index: RecordIndex, attaches: list[Attach]) -> None:
    """Mark the server attaches whose socket the server logged closing after their START and
    before their DONE (with no DONE logged, before their chat:ready): a page that left while
    its chat:connect still ran (a slow agent start). The server logs the connect's phases to DONE all the same, but sends
    the gone socket nothing: ``cut_at`` is that disconnect, and a chat:ready logged after it
    (T5 among the phases) was sent to no one (``ready_sent_at`` None), nor the history it
    announced (``history_count`` None, not the messages loaded). The disconnect line
    joins the attach's evidence. ``attaches``: the server's, their phases assigned."""
    closed: dict[str, list[tuple]] = {}  # socket -> (time, row, line) of its disconnects, in time order
    for rec in index.by_kind.get("socket.disconnected", []):
        if rec["source"] == "backend" and rec.get("sid"):
            closed.setdefault(rec["sid"][:8], []).append((rec["t"], rec["label"], rec))
    for a in attaches:
        lines = closed.get(a.sid or "") if a.started_at is not None else None
        if not lines:
            continue
        # the first disconnect after the START (a (time, row) pair sorts before its lines)
        i = bisect_right(lines, (a.started_at, a.start_row if a.start_row is not None else -1))
        if i == len(lines):
            continue
        cut = lines[i][2]
        at = (cut["t"], cut["label"])
        if a.done_at is not None and at > (a.done_at, a.done_row if a.done_row is not None else math.inf):
            continue
        sent = (a.ready_sent_at, a.ready_sent_row if a.ready_sent_row is not None else math.inf) \
            if a.ready_sent_at is not None else None
        if a.done_at is None and sent is not None and sent < at:
            continue  # (no DONE logged, but its chat:ready was: the log cannot tell it still ran)
        a.cut_at = cut["t"]
        # (among the attach's lines as the file has them: a slow start logs its phases after it)
        cited = evidence(cut)
        a.evidence.insert(next((j for j, e in enumerate(a.evidence) if e["path"] == cited["path"]
                                and e["line"] > cited["line"]), len(a.evidence)), cited)
        if sent is not None and sent > at:
            a.ready_sent_at = None
        if a.ready_sent_at is None:  # (no chat:ready, so no history: what the server loaded was not sent)
            a.history_count = a.history_total = None


def _client_side(records: list[dict], attaches: list[Attach], by_received: dict, pairs: pd.DataFrame,
                 sid_client: dict[str, str], ids: SessionIds, ready_keys: dict | None = None
                 ) -> list[Attach]:
    """Attach the frontend's view (request, ready received, history end) to the server's
    attaches; attaches the server never logged stay client-only. A chat:ready goes to the
    server attach that sent it at that instant, of the session the client named for it
    (``ready_keys``) on one of the client's own sockets. ``records``: those of
    CLIENT_SIDE_KINDS, ``message.received`` and ``socket.disconnected`` at least, in time order."""
    ready_keys = ready_keys or {}
    fe_to_be = dict(zip(pairs["fe"], pairs["be"], strict=True)) if not pairs.empty else {}
    ready_index = sorted(((a.ready_sent_at * 1000, i) for i, a in enumerate(attaches) if a.ready_sent_at),
                         key=lambda x: x[0])
    ready_ms = np.array([m for m, _ in ready_index]) if ready_index else np.array([])
    client_only: list[Attach] = []
    # client -> its attaches awaiting their chat:ready, oldest first (a page re-attaching its
    # sessions after a reconnect sends every chat:connect before the first answer comes)
    requests: dict[str, list[Attach]] = {}
    awaiting_history: dict[str, Attach] = {}
    # a message emit that triggered a server auto-connect (message.received -> has no callback)
    msg_received = {rec["label"]: rec for rec in records if rec["kind"] == "message.received"}
    auto_of_sid: dict[str, tuple[list[Attach], list[float]]] = {}  # socket -> its auto-connects by start
    for a in attaches:
        if a.auto and a.started_at is not None:
            mine, starts = auto_of_sid.setdefault(a.sid or "", ([], []))
            mine.append(a)
            starts.append(a.started_at)
    # pages whose log shows their chat:connect emits: a chat:ready none of them asked for is the
    # server's own (an auto-connect on a message), also when no server log says so
    requesters = {rec.get("client") for rec in records
                  if rec["kind"] == "chat.connect.sent" and rec["source"] in FRONTEND_SOURCES}
    for rec in records:
        client = rec.get("client")
        if rec["source"] not in FRONTEND_SOURCES or not client:
            continue
        kind = rec["kind"]
        if kind == "chat.connect.sent":
            be_label = fe_to_be.get(rec["label"])
            attach = by_received.get(be_label) if be_label is not None else None
            if attach is None:
                attach = Attach(session=None, key=session_key(rec.get("session")), client=client)
                if (rec.get("session") or "").startswith("new-"):
                    attach.temp_id = rec["session"]
                client_only.append(attach)
            attach.client = client
            attach.requested_at = rec["t"]
            attach.evidence.insert(0, evidence(rec))
            requests.setdefault(client, []).append(attach)
        elif kind == "socket.disconnected":
            requests.pop(client, None)  # (the requests not answered yet died with the socket)
        elif kind == "message.sent":
            be_label = fe_to_be.get(rec["label"])
            if be_label is not None and be_label in msg_received:
                # an auto-connect right after the server received this message
                be_rec = msg_received[be_label]
                mine, starts = auto_of_sid.get((be_rec.get("sid") or "")[:8], ([], []))
                for a in mine[bisect_left(starts, be_rec["t"]):]:
                    if a.started_at - be_rec["t"] > 1.0:
                        break
                    if a.requested_at is None:
                        a.requested_at = rec["t"]
                        a.client = client
                        a.evidence.insert(0, evidence(rec))
                        break
        elif kind == "chat.ready.received":
            attach = None
            server_ms = rec.get("server_ms")
            if server_ms is not None and len(ready_ms):
                key = ready_keys.get(rec["label"])
                lo, hi = np.searchsorted(ready_ms, [server_ms - READY_MATCH_MS, server_ms + READY_MATCH_MS])
                best = None
                for j in range(lo, hi):
                    cand = attaches[ready_index[j][1]]
                    if cand.ready_received_at is not None or sid_client.get(cand.sid or "") not in (None, client):
                        continue
                    # a different session is a mismatch; then an unknown owner; then the gap
                    rank = (key is not None and _uuid_key(cand.key) not in (None, key),
                            sid_client.get(cand.sid or "") is None, abs(ready_ms[j] - server_ms))
                    if best is None or rank < best[0]:
                        best = (rank, cand)
                if best is not None and not best[0][0]:
                    attach = best[1]
            waiting = [a for a in requests.get(client, ()) if a.ready_received_at is None]
            if attach is None:
                if waiting:
                    attach = waiting[0]
                else:
                    attach = Attach(session=None, key=None, client=client, auto=client in requesters)
                    client_only.append(attach)
            attach.client = client
            attach.ready_received_at = rec["t"]
            attach.ready_row = rec["label"]
            attach.evidence.append(evidence(rec))
            awaiting_history[client] = attach
            requests[client] = [a for a in waiting if a is not attach]
        elif kind == "chat.handler.remapped":
            ids.learn_temp(rec.get("temp_id"), rec.get("session"))
            attach = awaiting_history.get(client)
            if attach is not None and attach.key is None:
                attach.key = session_key(rec.get("session"))
        elif kind == "chat.ready.handled" and rec.get("detail"):
            attach = awaiting_history.get(client)
            if attach is not None and (attach.key is None or attach.key.startswith("new-")):
                attach.key = rec["detail"][:8]
        elif kind == "history.end":
            attach = awaiting_history.pop(client, None)
            if attach is not None and attach.history_end_at is None:
                attach.history_end_at = rec["t"]
    return client_only


def _connections(records: list[dict], sid_client: dict[str, str]) -> list[Connection]:
    """Backend connections by sid prefix; frontend-only ones when the backend log is missing.
    ``records``: those of CONNECTION_KINDS at least, in time order."""
    conns: list[Connection] = []
    open_by_sid: dict[str, Connection] = {}
    fe_auth: dict[str, list[tuple[float, str | None, dict]]] = {}
    fe_disc: dict[str, list[tuple[float, str | None, dict]]] = {}
    process_start = None
    for rec in records:
        kind = rec["kind"]
        if rec["source"] == "backend":
            if kind == "server.starting":
                # a new process: no socket of the one before lives on (those it logged no
                # disconnect of end here, when it is certain they had)
                for conn in open_by_sid.values():
                    conn.disconnected_at = rec["t"]
                    conn.reason = RESTART_REASON
                open_by_sid.clear()
                process_start = rec["t"]
                continue
            sid = (rec.get("sid") or "")[:8]
            if not sid:
                continue
            if kind == "socket.connected":
                conn = Connection(sid=sid, client=sid_client.get(sid), connected_at=rec["t"])
                conn.evidence.append(evidence(rec))
                conns.append(conn)
                open_by_sid[sid] = conn
            elif kind in ("auth.ok", "auth.failed", "socket.disconnected"):
                conn = open_by_sid.get(sid)
                if conn is None:  # the log starts mid-connection (or lacks its connect line)
                    conn = Connection(sid=sid, client=sid_client.get(sid), started_after=process_start,
                                      first_seen=rec["t"])
                    conns.append(conn)
                    open_by_sid[sid] = conn
                conn.evidence.append(evidence(rec))
                if kind == "auth.ok":
                    conn.authenticated_at = rec["t"]
                elif kind == "auth.failed":
                    conn.auth_failed_at = rec["t"]
                    conn.reason = rec.get("reason") or "auth failed"
                else:
                    conn.disconnected_at = rec["t"]
                    conn.reason = rec.get("reason") or conn.reason or "disconnected"
                    del open_by_sid[sid]
        elif rec["source"] in FRONTEND_SOURCES and rec.get("client"):
            if kind == "auth.ok":
                fe_auth.setdefault(rec["client"], []).append((rec["t"], rec.get("transport"), rec))
            elif kind == "auth.failed":
                fe_auth.setdefault(rec["client"], []).append((rec["t"], None, rec))
            elif kind == "socket.disconnected":
                fe_disc.setdefault(rec["client"], []).append((rec["t"], rec.get("reason"), rec))
    conns_of: dict[str | None, list[Connection]] = {}
    for c in conns:
        conns_of.setdefault(c.client, []).append(c)
    opened: dict[int, float] = {}  # id(connection) -> when its client's auth line says it was ready
    for client, auths in fe_auth.items():
        # a client's auth line joins the first of its connections (by connect time, then as
        # found) that authenticated within JOIN_WINDOW_S of it; else it is a connection the
        # backend log does not show. The connections by that moment, to look up the window.
        mine = conns_of.get(client, [])
        rank = {id(c): (c.connected_at or 0, i) for i, c in enumerate(mine)}
        by_at = sorted((at, id(c), c) for c in mine
                       if (at := c.authenticated_at or c.auth_failed_at or c.connected_at) is not None)
        claimed: set[int] = set()

        # a socket whose start the server's log lacks is the one the page's last login before
        # its first line there opened (a login near a socket the log shows is that socket's)
        free = [t for t, _transport, _rec in auths if not _near(by_at, t)]  # (in time order, as the lines)
        login_of: dict[int, float] = {}
        for c in mine:
            if c.sid and c.connected_at is None and c.authenticated_at is None and c.first_seen is not None:
                k = bisect_right(free, c.first_seen)
                if k:
                    login_of[id(c)] = free[k - 1]
        for t, transport, rec in auths:
            found = _near(by_at, t)
            match = min(found, key=lambda c: rank[id(c)]) if found else None
            if match is None and rec["kind"] == "auth.ok":
                # a slow network: the server's auth_success took longer than the window to
                # arrive. The last socket of the client the server authenticated before,
                # still open there and not yet the client's
                slow = [c for c in mine if c.sid and c.authenticated_at is not None and id(c) not in claimed
                        and 0 <= t - c.authenticated_at <= SLOW_AUTH_S
                        and (c.disconnected_at is None or c.disconnected_at >= t)]
                match = max(slow, key=lambda c: c.authenticated_at) if slow else None
            if match is None:
                # a socket of the client's whose start the server's log does not hold (it
                # begins later: cut to its last lines) that this login opened (see login_of):
                # this one, not a socket the server never logged
                unlogged = [c for c in mine if login_of.get(id(c)) == t and id(c) not in claimed]
                match = min(unlogged, key=lambda c: (c.disconnected_at is None, c.disconnected_at or 0)) \
                    if unlogged else None
                if match is not None and rec["kind"] == "auth.ok":
                    # (its opening, by the page's login, as for a socket the server's log lacks)
                    match.connected_at = match.authenticated_at = t
                    rank[id(match)] = (t, rank[id(match)][1])
            if match is None:
                match = Connection(sid=None, client=client, connected_at=t)
                if rec["kind"] == "auth.ok":
                    match.authenticated_at = t
                else:
                    match.auth_failed_at = t
                    match.reason = rec.get("reason")
                conns.append(match)
                conns_of.setdefault(client, []).append(match)
                rank[id(match)] = (t, len(rank))
                insort(by_at, (t, id(match), match))
            claimed.add(id(match))
            opened.setdefault(id(match), t)
            if transport:
                match.transport = transport
            match.evidence.append(evidence(rec))
    for client, discs in fe_disc.items():
        # a client's disconnect closes its latest connection opened by then and not closed by
        # the client yet; opened when the client says it authenticated on it (its current
        # socket, however late the server's auth_success arrived), else when the server
        # logged its connect
        mine = sorted(conns_of.get(client, []), key=lambda c: opened.get(id(c), c.connected_at or 0))
        starts = [opened.get(id(c), c.connected_at or 0) for c in mine]
        links = list(range(len(mine)))  # (see open_item: every connection open)
        for t, reason, rec in discs:
            found = open_item(links, bisect_right(starts, t) - 1)
            if found >= 0:
                conn = mine[found]
                links[found] = found - 1
                conn.client_disconnected_at = t
                conn.evidence.append(evidence(rec))
                if conn.sid is None:
                    conn.disconnected_at = t
                    conn.reason = reason
                elif reason and (conn.reason in (None, "disconnected")):
                    conn.reason = reason
    conns.sort(key=lambda c: (c.connected_at if c.connected_at is not None else -math.inf))
    return conns


def _near(by_at: list[tuple[float, int, Connection]], t: float) -> list[Connection]:
    """The server's sockets among ``by_at`` (one client's connections by when they opened, in
    order) that opened within JOIN_WINDOW_S of a login line at ``t`` (not a connection an
    earlier login line of the page made: each such line is a socket of its own)."""
    lo = bisect_left(by_at, (t - JOIN_WINDOW_S - 1e-6,))
    return [c for at, _id, c in by_at[lo:bisect_left(by_at, (t + JOIN_WINDOW_S + 1e-6,))]
            if abs(at - t) <= JOIN_WINDOW_S and c.sid is not None]


def _sockets(conns: list[Connection]) -> dict[str, Sockets]:
    """Each client's sockets over time: from the server's connect to the client's own
    disconnect line (its emits go into the socket until it notices), else the server's."""
    spans: dict[str, list[tuple[float, float, str]]] = {}
    for c in conns:
        if c.client and c.sid:
            closed = c.client_disconnected_at if c.client_disconnected_at is not None else c.disconnected_at
            spans.setdefault(c.client, []).append((-math.inf if c.connected_at is None else c.connected_at,
                                                   math.inf if closed is None else closed, c.sid))
    return {client: Sockets(v) for client, v in spans.items()}


def _episodes(index: RecordIndex, conns: list[Connection], attaches: list[Attach]) -> list[Episode]:
    """Reconnect episodes per client: from the first sign of loss to every session the
    client had being ready again (or never, until the log ends or a loss after its
    reconnect begins the next one)."""
    episodes: list[Episode] = []
    clients = sorted(set(index.fe_by_client) | {c.client for c in conns if c.client})
    reloads = index.by_kind.get("server.reload", [])
    conns_of: dict[str, list[Connection]] = {}
    for c in conns:
        conns_of.setdefault(c.client, []).append(c)
    attaches_of: dict[str, list[Attach]] = {}
    for a in attaches:
        if a.ready_at is not None:
            attaches_of.setdefault(a.client, []).append(a)
    for client in clients:
        mine = index.fe_by_client.get(client, [])
        my_conns = conns_of.get(client, [])
        my_attaches = sorted(attaches_of.get(client, []), key=lambda a: a.ready_at)
        triggers: list[tuple[float, str, dict]] = []
        for rec in mine:
            kind = rec["kind"]
            if kind in ("page.hidden", "network.offline"):
                triggers.append((rec["t"], kind, rec))
            elif kind == "socket.disconnected" and (rec.get("reason") or "") not in DELIBERATE_REASONS:
                triggers.append((rec["t"], kind, rec))
        # a reload cuts the client when one of its sockets was open then (or closed in the
        # second before): by connect time, the latest close (None: never) so far
        opened = sorted(((c.connected_at or -math.inf), math.inf if c.disconnected_at is None else c.disconnected_at)
                        for c in my_conns if c.sid)
        starts = [start for start, _ in opened]
        latest_end = list(accumulate((end for _, end in opened), max))
        for rec in reloads:
            k = bisect_right(starts, rec["t"])
            if k and latest_end[k - 1] >= rec["t"] - 1:
                triggers.append((rec["t"], "server.reload", rec))
        page_ends = mine[-1]["t"] if mine else -math.inf  # the page's last line
        for c in my_conns:
            # the server lost the socket while the client logged nothing (a frozen page); not
            # when the client was already on a newer socket (it had dropped this one itself,
            # and the server noticed late: half-open's business, not a new loss), nor when the
            # page logged nothing after it (closed: a tab closed or reloaded is a new page)
            if c.disconnected_at is not None and c.client_disconnected_at is None \
                    and c.disconnected_at < page_ends \
                    and (c.reason or "") not in DELIBERATE_REASONS \
                    and not any(d is not c and d.connected_at is not None
                                and (c.connected_at or -math.inf) < d.connected_at < c.disconnected_at
                                for d in my_conns):
                triggers.append((c.disconnected_at, "socket.disconnected", {"path": c.evidence[-1]["path"],
                                 "line": c.evidence[-1]["line"], "text": c.evidence[-1]["text"]}))
        triggers.sort(key=lambda x: x[0])
        episode: Episode | None = None
        retries: list[dict] = []  # the evidence of the losses the episode took in
        for t, trigger, rec in triggers:
            if episode is not None and (episode.recovered_at is None or t <= episode.recovered_at):
                # (losses before the reconnect are its retries; one after a reconnect that
                # never got the sessions back is the next background cycle: a new episode)
                if episode.recovered_at is not None or episode.authenticated_at is None \
                        or t <= episode.authenticated_at:
                    if len(episode.evidence) < 6:
                        episode.evidence.append(evidence(rec))
                        retries.append(episode.evidence[-1])
                    continue
                # it ends at this loss: told again from what came before it (a return, a
                # give-up after it are the next episode's)
                # (its first evidence is the line of the loss it began with)
                ended = _start_episode(index, client, mine, my_conns, my_attaches, episode.started_at,
                                       episode.trigger, episode.evidence[0], until=t)
                ended.evidence += retries[:max(0, 6 - len(ended.evidence))]
                ended.lost_again_at = t
                episodes[-1] = ended
            episode = _start_episode(index, client, mine, my_conns, my_attaches, t, trigger, rec)
            retries = []
            episodes.append(episode)
    episodes.sort(key=lambda e: e.started_at)
    return episodes


def _start_episode(index: RecordIndex, client: str, mine: list[dict], conns: list[Connection],
                   attaches: list[Attach], t: float, trigger: str, rec: dict, until: float | None = None) -> Episode:
    """A client's episode from its loss at ``t`` (told from what came before ``until``)."""
    before = [c for c in conns if (c.connected_at or -math.inf) <= t]
    sid = before[-1].sid if before else None
    ep = Episode(client=client, trigger=trigger, started_at=t, sessions=_live_sessions(index, attaches, sid, t),
                 sid_before=sid)
    ep.evidence.append(evidence(rec))
    _recover(ep, mine, conns, attaches, until)
    return ep


def _live_sessions(index: RecordIndex, attaches: list[Attach], sid: str | None, t: float) -> list[str]:
    """The sessions live for a client at ``t``: on the server, those attached to its socket
    and not switched away or cleared since (one live session per socket on the real
    server); with no server log, every session the client had attached."""
    server_side = [a for a in attaches if sid and a.sid == sid and a.started_at is not None and a.started_at <= t]
    if not server_side:
        out = []
        for a in attaches:
            if a.ready_at is not None and a.ready_at <= t and a.session and a.session not in out:
                out.append(a.session)
        return out
    ops: list[tuple[float, int, str | None]] = [(a.started_at, 1, session_key(a.session)) for a in server_side]
    cleared: list[tuple[float, int, str | None]] = []
    for rec in index.be_by_sid.get(sid, []):
        if rec["t"] > t + DISCONNECT_CLEANUP_S:
            break
        if rec["kind"] == "socket.disconnected":
            # a closing socket's clean-up clears its callbacks: they were live until the loss
            # (a switch just before it still counts: its "Switched session" line says so)
            cleared = [op for op in cleared if op[0] < rec["t"] - DISCONNECT_CLEANUP_S]
            break
        if rec["t"] > t:
            continue
        if rec["kind"] == "session.switched":
            ops.append((rec["t"], 0, session_key(rec.get("from_session"))))
        elif rec["kind"] == "callback.cleared":
            cleared.append((rec["t"], 0, session_key(rec.get("session"))))
    ops += cleared
    live: dict[str, None] = {}
    for _t, op, key in sorted(ops, key=lambda x: (x[0], x[1])):
        if key is None:
            continue
        if op:
            live[key] = None
        else:
            live.pop(key, None)
    names = {session_key(a.session): a.session for a in server_side}
    return [names[k] for k in live if names.get(k)]


def _recover(ep: Episode, mine: list[dict], conns: list[Connection], attaches: list[Attach],
             until: float | None = None) -> None:
    """Fill in when the episode's client came back, reconnected and had its sessions ready
    (before ``until``: the next loss, when the episode ends there)."""
    t0 = ep.started_at
    end = math.inf if until is None else until
    lost = False
    away: set[str] | None = None  # what keeps the page away (see AWAY_KINDS); None: not known yet
    came_back = None
    for rec in mine:
        if rec["t"] >= end:
            break
        kind = rec["kind"]
        if kind in AWAY_KINDS:
            what, gone = AWAY_KINDS[kind]
            was_away = away is None or bool(away)  # (the first such line of the log: it was away)
            away = (away or set()) | {what} if gone else (away or set()) - {what}
            # (back from the background or offline; not a visible page's own redundant event)
            if not gone and rec["t"] >= t0 and was_away and not away and ep.visible_at is None:
                ep.visible_at = rec["t"]
                came_back = evidence(rec)
                ep.evidence.append(came_back)
        if rec["t"] < t0:
            continue
        if kind in ("socket.disconnected", "cm.force_disconnect"):
            lost = True
        elif kind == "reconnect.exhausted" and ep.exhausted_at is None:
            ep.exhausted_at = rec["t"]
            ep.evidence.append(evidence(rec))
    before = next((c for c in reversed(conns) if (c.connected_at or -math.inf) <= t0), None)
    if ep.trigger != "page.hidden" or (before is not None and before.disconnected_at is not None
                                       and before.disconnected_at >= t0):
        lost = True
    after = next((c for c in conns if t0 < (c.connected_at or -math.inf) < end and c.authenticated_at is not None),
                 None)
    if after is not None:
        ep.sid_after = after.sid
        ep.connected_at = after.connected_at
        ep.authenticated_at = after.authenticated_at
        ep.evidence.append(evidence({"path": after.evidence[0]["path"], "line": after.evidence[0]["line"],
                                     "text": after.evidence[0]["text"]}))
    if not lost and ep.visible_at is not None and after is None:
        # hidden and back with the same socket alive: nothing to re-attach
        for s in ep.sessions:
            ep.ready_at[s] = ep.visible_at
        ep.recovered_at = ep.visible_at
        return
    for s in ep.sessions:
        ep.ready_at[s] = None
    since = ep.authenticated_at if ep.authenticated_at is not None else t0
    for a in attaches:
        # an auto-connect is the server covering for a missing re-attach, not a recovery
        if a.auto:
            continue
        if a.ready_at is not None and since <= a.ready_at < end and a.session in ep.ready_at \
                and ep.ready_at[a.session] is None:
            ep.ready_at[a.session] = a.ready_at
    if ep.authenticated_at is None:
        return
    if all(v is not None for v in ep.ready_at.values()):
        ep.recovered_at = max([ep.authenticated_at, *[v for v in ep.ready_at.values() if v is not None]])
        if ep.visible_at is not None and ep.visible_at > ep.recovered_at:
            # the page went away again after this episode ended: that is the next one's return
            ep.visible_at = None
            ep.evidence.remove(came_back)


def correlate(events: pd.DataFrame, *, no_skew: bool = False) -> tuple[pd.DataFrame, Correlation]:
    """Correct the frontend clocks and correlate: the corrected events (in the order read:
    by the writer's clock) and the correlation the detectors read (in corrected time order)."""
    from jarvis_diag.clock import apply_skews, split_page_loads

    if not isinstance(events.index, pd.RangeIndex) or events.index.start != 0 or events.index.step != 1:
        events = events.reset_index(drop=True)
    events, warnings = split_page_loads(events)
    skews, pairs = estimate_skews(events)
    if no_skew:
        for s in skews.values():
            s.applied = False
    events = events.copy(deep=False)  # a new "t" column, not a copy of every column
    events["t"] = apply_skews(events, skews)
    used = (events["kind"].isin(list(KINDS_USED)) & ~events["shape"].isin(SKIPPED_SHAPES)) \
        | events["level"].isin(ALARM_LEVELS)
    rows = np.flatnonzero(used.to_numpy())
    t_ns = events["t"].to_numpy(dtype="datetime64[ns]").astype("int64")
    rows = rows[np.argsort(t_ns[rows], kind="stable")]
    records = _records(events, rows, t_ns)
    ids = SessionIds()
    index = RecordIndex(records, events, rows, t_ns[rows] / 1e9)
    attaches, by_received = _server_attaches(index.of_kind(SERVER_ATTACH_KINDS), ids)
    _assign_phases(events, attaches)
    _cut_attaches(index, attaches)
    ready_keys = _ready_keys(index)
    sid_client = join_clients(index, pairs, attaches, ready_keys)
    conns = _connections(index.of_kind(CONNECTION_KINDS), sid_client)
    if sid_client and not pairs.empty:
        # pair the emits again, each on the socket its client had when it sent it
        pairs = emit_pairs(events, {c: s.skew_ms for c, s in skews.items()}, owner=sid_client,
                           sockets=_sockets(conns))
    for sid, client in sid_client.items():  # a backend line's client is its socket's
        for rec in index.be_by_sid.get(sid, []):
            if rec["source"] == "backend" and not rec.get("client"):
                rec["client"] = client
    for a in attaches:
        a.client = sid_client.get(a.sid or "")
    client_only = _client_side(index.of_kind((*CLIENT_SIDE_KINDS, "message.received", "socket.disconnected")), attaches,
                               by_received, pairs, sid_client, ids, ready_keys)
    attaches = attaches + client_only
    for a in attaches:
        a.session = ids.canonical(a.key if a.key and not a.key.startswith("new-") else (a.temp_id or a.key))
    attaches.sort(key=lambda a: min(x for x in (a.requested_at, a.received_at, a.started_at, a.ready_at, math.inf)
                                    if x is not None))
    _attach_kinds(attaches)
    t_all = events["t"]
    first_t = float(t_all.min().value / 1e9) if len(t_all) and pd.notna(t_all.min()) else None
    last_t = float(t_all.max().value / 1e9) if len(t_all) and pd.notna(t_all.max()) else None
    episodes = _episodes(index, conns, attaches)
    corr = Correlation(records=records, skews=skews, sid_client=sid_client, connections=conns, attaches=attaches,
                       episodes=episodes, ids=ids, pairs=pairs, first_t=first_t, last_t=last_t, index=index,
                       received=_received_times(events), texts=events["text"], warnings=warnings,
                       backend_ns=t_ns[(events["source"] == "backend").to_numpy()])
    return events, corr


def _received_times(events: pd.DataFrame) -> dict:
    """(client, session key) -> sorted epoch seconds of the live events the client received."""
    rec = select_rows(events, (events["kind"] == "output.received") & events["client"].notna(),
                      ("client", "session", "t"))
    if rec.empty:
        return {}
    keys = rec["session"].astype("string").str.slice(0, 8)
    times = rec["t"].to_numpy(dtype="datetime64[ns]").astype("int64") / 1e9
    frame = pd.DataFrame({"client": rec["client"].astype(str).to_numpy(), "key": keys.to_numpy(dtype=object),
                          "t": times})
    return {(client, None if pd.isna(key) else key): np.sort(group["t"].to_numpy())
            for (client, key), group in frame.groupby(["client", "key"], dropna=False, sort=False)}


def _attach_kinds(attaches: list[Attach]) -> None:
    """new (first attach of the session by that client), switch (again on the same
    socket), reconnect (again on another socket), auto (the server attached on its own)."""
    seen: dict[tuple[str | None, str | None], str | None] = {}
    # With no client known (no page log), a socket stands for its page; but a socket that
    # sends a temporary id (new-<epoch ms>, one page's) another socket sent first is that
    # page's too (the server finds the id's session in its database): so are its attaches.
    # (Only a whole id: its printed prefix is every id of the same ~3 hours.)
    page_of_temp: dict[str, str | None] = {}
    page_of_sid: dict[str, str | None] = {}
    for a in attaches:
        owner = a.client or page_of_sid.get(a.sid or "", a.sid)
        if a.temp_id and len(a.temp_id) > 8:
            first = page_of_temp.setdefault(a.temp_id, owner)
            if a.client is None and a.sid and first != owner:
                owner = page_of_sid[a.sid] = first
        key = (owner, a.session)
        if a.auto:
            a.kind = "auto"
        elif key not in seen:
            a.kind = "new"
        elif seen[key] != a.sid:
            a.kind = "reconnect"
        else:
            a.kind = "switch"
        seen[key] = a.sid


# ---- the Timeline object ---------------------------------------------------------------

CONNECTION_COLUMNS = ["sid", "client", "connected_at", "authenticated_at", "disconnected_at", "reason", "transport",
                      "duration_ms", "client_disconnected_at", "evidence"]
ATTACH_COLUMNS = ["session", "temp_id", "client", "sid", "kind", "requested_at", "received_at", "phases", "server_ms",
                  "ready_sent_at", "ready_received_at", "history_end_at", "latency_ms", "transport_ms",
                  "history_count", "cut_at", "evidence"]
EPISODE_COLUMNS = ["client", "sid_before", "sid_after", "trigger", "started_at", "visible_at", "connected_at",
                   "authenticated_at", "sessions", "ready_at", "recovered", "recovered_at", "duration_ms",
                   "evidence"]
FINDING_COLUMNS = ["id", "kind", "severity", "at", "session", "client", "sid", "delay_ms", "occurrences", "first_at",
                   "last_at", "summary", "context", "evidence"]
FINDING_TIMES = ("at", "first_at", "last_at")
# Records from which a process about to end names the findings in a forked child (the fork
# and the findings' way back cost tens of ms; a big log's findings take a second).
FORK_MIN_RECORDS = 100_000


def _ts(t: float | None) -> pd.Timestamp | None:
    return None if t is None else pd.Timestamp(int(round(t * 1e6)), unit="us", tz="UTC")


# the text columns of the tables (ids, kinds, reasons, summaries), and the string dtype pandas
# gives text (``str`` from pandas 3, ``object`` before)
_TEXT_COLUMNS = frozenset({"id", "sid", "client", "reason", "transport", "session", "temp_id", "kind", "sid_before",
                           "sid_after", "trigger", "severity", "summary", "context"})
_TEXT_DTYPE = pd.Series(["text"]).dtype


def _frame(rows: list[dict], columns: list[str], times: tuple[str, ...]) -> pd.DataFrame:
    """A table; ``times`` columns arrive as epoch seconds (or None) and become UTC datetimes
    (to the microsecond), converted a column at a time. Each column has its dtype whatever
    the rows hold: a table with no row, or with no value in a column (a page's log alone
    names no socket), would otherwise have objects there, and ``tl.episodes[tl.episodes.recovered]``
    of no episode picks columns (none) instead of rows."""
    df = pd.DataFrame(rows, columns=columns)
    for c in times:
        df[c] = pd.Series(_frame_ns(df[c].tolist()), index=df.index).dt.tz_localize("UTC")
    for c in columns:
        if c.endswith("_ms"):
            df[c] = df[c].astype("float64")
        elif c == "history_count":
            df[c] = df[c].astype("Int64")
        elif c == "occurrences":
            df[c] = df[c].astype("int64")
        elif c == "recovered":
            df[c] = df[c].astype("boolean" if df[c].isna().any() else "bool")
        elif c in _TEXT_COLUMNS and df[c].dtype != _TEXT_DTYPE:
            df[c] = df[c].astype(_TEXT_DTYPE)
    return df


def _iso_column(col: pd.Series) -> list[str | None]:
    """ISO 8601 UTC strings with milliseconds of a datetime column (None for NaT), vectorized."""
    if not len(col):
        return []
    return _iso_ns(col.to_numpy(dtype="datetime64[ns]"))


def _iso_ns(ns: np.ndarray) -> list[str | None]:
    """:func:`_iso_column` of datetime64[ns] values."""
    missing = np.isnat(ns)
    ms = ((ns.astype("int64") + 500_000) // 1_000_000).astype("datetime64[ms]")
    text = np.char.add(np.datetime_as_string(ms, unit="ms"), "Z")
    return [None if m else str(v) for v, m in zip(text.tolist(), missing.tolist(), strict=True)]


def _frame_ns(values: list) -> np.ndarray:
    """Epoch seconds (None or NaN: missing) as datetime64[ns], to the microsecond: the times
    of a table, in its frame and in the JSON written from its rows."""
    us = np.round(np.array([np.nan if v is None else v for v in values], dtype="float64") * 1e6)
    ns = np.full(len(us), np.datetime64("NaT"), dtype="datetime64[ns]")
    known = ~np.isnan(us)
    ns[known] = (us[known].astype("int64") * 1000).astype("datetime64[ns]")
    return ns


def _plain(v: Any) -> Any:
    """A table value as the frames give it: None where missing."""
    return None if v is None or (v.__class__ is float and v != v) else v


class _Pending:
    """A table still being made (the findings, in a forked child): its rows when first needed."""

    __slots__ = ("make",)

    def __init__(self, make: Callable[[], _Rows]):
        self.make = make


class _Rows:
    """A table's rows as built (dicts; the ``times`` columns in epoch seconds), not yet a
    DataFrame: the JSON is written from them, and the frame is made the first time it is
    asked for (it is the same table; a big log's frames cost a tenth of a second or more)."""

    __slots__ = ("rows", "columns", "times")

    def __init__(self, rows: list[dict], columns: list[str], times: tuple[str, ...]):
        self.rows, self.columns, self.times = rows, columns, times

    def frame(self) -> pd.DataFrame:
        return _frame(self.rows, self.columns, self.times)

    def column(self, name: str, as_iso: bool = False) -> list:
        """What :func:`_plain_column` gives of the frame's column."""
        if as_iso:
            return _iso_ns(_frame_ns([r.get(name) for r in self.rows])) if self.rows else []
        return [_plain(r.get(name)) for r in self.rows]

    def stamps(self, name: str) -> list[str | None]:
        """The column's times as the episodes' JSON writes those of the frame (see Timeline._json_head)."""
        ns = _frame_ns([r.get(name) for r in self.rows])
        return [None if m else iso(v / 1e9) for v, m in zip(ns.astype("int64").tolist(), np.isnat(ns).tolist(),
                                                             strict=True)]


def _plain_column(frame: pd.DataFrame, name: str, as_iso: bool = False) -> list:
    """A column as a list of Python values with None where missing (all None when the
    frame has no such column); ``as_iso``: a datetime column as ISO text."""
    if name not in frame.columns:
        return [None] * len(frame)
    col = frame[name]
    if as_iso:
        return _iso_column(col)
    missing = col.isna().tolist()
    return [None if m else v for v, m in zip(col.tolist(), missing, strict=True)]


def _missing(v: Any) -> bool:
    """Whether a value of a table is missing: None, NA, NaT or NaN."""
    return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v))


def _json_time(v: Any) -> str | None:
    """A time of a table (Timestamp, epoch seconds or missing) as the JSON writes it."""
    return None if _missing(v) else iso(v.value / 1e9 if isinstance(v, pd.Timestamp) else v)


def _json_num(v: Any) -> float | None:
    """A number of a table to a tenth (None where missing)."""
    if type(v) is float and v.is_integer():  # its own value rounded (round() is the slow part)
        return v
    return None if _missing(v) else round(float(v), 1)


def _json_num1(v: Any) -> float | None:
    """:func:`_json_num` of a value that is a number or None."""
    if type(v) is float and v.is_integer():
        return v
    return None if v is None else round(float(v), 1)


def _json_opt(v: Any) -> Any:
    """A value of a table, None where missing."""
    return None if _missing(v) else v


def _json_number(value: object) -> float | int:
    """numpy scalars in the JSON document as the Python numbers json.dumps writes for them."""
    if isinstance(value, float):  # numpy.float64 is a float subclass
        return float(value)
    if hasattr(value, "item") and isinstance(value.item(), int | float):
        return value.item()
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


class Timeline:
    """The correlated view of a set of logs. Tables are pandas DataFrames; times are UTC.

    ``events`` has ``t`` corrected for each frontend's skew; ``connections``,
    ``attaches``, ``episodes`` and ``findings`` are one row per thing; ``clock`` and
    ``sources`` are plain data; ``to_json_dict()`` is the documented JSON."""

    def __init__(self, events: pd.DataFrame, clock: dict, sources: list[dict], connections: pd.DataFrame | _Rows,
                 attaches: pd.DataFrame | _Rows, episodes: pd.DataFrame | _Rows,
                 findings: pd.DataFrame | _Rows | _Pending, warnings: list[str] | None = None,
                 temp_ids: dict[str, list[str]] | None = None, selection: str | None = None):
        self.events = events
        self.clock = clock
        self.sources = sources
        self._tables = {"connections": connections, "attaches": attaches, "episodes": episodes, "findings": findings}
        self.warnings = list(warnings or [])
        self.temp_ids = dict(temp_ids or {})
        self.selection = selection  # what filter() kept ("session 453424df, since ..."), None: everything

    def _rows(self, name: str) -> pd.DataFrame | _Rows:
        """A table as it is now (its rows when no frame was made of them yet)."""
        table = self._tables[name]
        if isinstance(table, _Pending):
            table = self._tables[name] = table.make()
        return table

    def _table(self, name: str) -> pd.DataFrame:
        table = self._rows(name)
        if isinstance(table, _Rows):
            table = self._tables[name] = table.frame()
        return table

    @property
    def connections(self) -> pd.DataFrame:
        return self._table("connections")

    @property
    def attaches(self) -> pd.DataFrame:
        return self._table("attaches")

    @property
    def episodes(self) -> pd.DataFrame:
        return self._table("episodes")

    @property
    def findings(self) -> pd.DataFrame:
        return self._table("findings")

    # ---- JSON ----------------------------------------------------------------------
    def to_json_dict(self) -> dict:
        """The timeline as ``jarvis-diag.timeline/1`` (docs/formats.md)."""
        with no_cycle_collection():
            return {**self._json_head(), "findings": self._json_findings()}

    def to_json_chunks(self) -> list[bytes]:
        """:meth:`to_json_dict` as compact UTF-8 JSON with a final newline (what ``json.dumps``
        with ``ensure_ascii=False, separators=(",", ":")`` writes), in the pieces it is made of,
        to write one after the other (a big log's document is tens of MB). All but the findings
        are encoded before the findings are asked for: while a forked child may still be naming
        them."""
        with no_cycle_collection():
            head = orjson.dumps(self._json_head(), default=_json_number, option=orjson.OPT_NON_STR_KEYS)
            findings = orjson.dumps(self._json_findings(), default=_json_number, option=orjson.OPT_NON_STR_KEYS)
        return [memoryview(head)[:-1], b',"findings":', findings, b"}\n"]

    def _columns(self, name: str, names: tuple[str, ...], times: tuple[str, ...] = ()) -> Iterator[tuple]:
        """The rows of these columns of a table as Python values (None: missing; ``times`` as
        ISO text), from its frame or, when none was made, from its rows."""
        table = self._rows(name)
        if isinstance(table, _Rows):
            return zip(*(table.column(c, c in times) for c in names), strict=True)
        return zip(*(_plain_column(table, c, c in times) for c in names), strict=True)

    def _json_head(self) -> dict:
        """The documented JSON but its findings."""
        connections = [{"sid": sid, "client": client, "connected_at": connected, "authenticated_at": authenticated,
                        "disconnected_at": disconnected, "reason": reason, "transport": transport,
                        "duration_ms": _json_num1(duration)}
                       for sid, client, connected, authenticated, disconnected, reason, transport, duration
                       in self._columns("connections", ("sid", "client", "connected_at", "authenticated_at",
                                                        "disconnected_at", "reason", "transport", "duration_ms"),
                                        ("connected_at", "authenticated_at", "disconnected_at"))]
        sessions: dict[tuple, dict] = {}
        for (session, client, sid, kind, requested, received, phases, server_ms, ready_sent, ready_received,
             history_end, latency, transport, cut, evidence_list) in self._columns(
                "attaches", ("session", "client", "sid", "kind", "requested_at", "received_at", "phases",
                             "server_ms", "ready_sent_at", "ready_received_at", "history_end_at", "latency_ms",
                             "transport_ms", "cut_at", "evidence"),
                ("requested_at", "received_at", "ready_sent_at", "ready_received_at", "history_end_at", "cut_at")):
            name = session or "unknown"
            # a temporary id never mapped to its UUID is known only by its printed prefix,
            # which every session of the same ~3 hours shares: one entry per client, not one
            group = (name, client) if name.startswith("new-") and len(name) <= 8 else (name, None)
            entry = sessions.setdefault(group, {"session": name, "temp_ids": sorted(self.temp_ids.get(name, [])),
                                                "clients": [], "attaches": []})
            if client and client not in entry["clients"]:
                entry["clients"].append(client)
            entry["attaches"].append({
                "client": client, "sid": sid, "kind": kind, "requested_at": requested, "received_at": received,
                "phases": {k: _json_num(v) for k, v in (phases or {}).items()}, "server_ms": _json_num1(server_ms),
                "ready_sent_at": ready_sent, "ready_received_at": ready_received, "history_end_at": history_end,
                "latency_ms": _json_num1(latency), "transport_ms": _json_num1(transport), "cut_at": cut,
                "evidence": list(evidence_list)})
        times = ("started_at", "visible_at", "connected_at", "authenticated_at", "recovered_at")
        table = self._rows("episodes")
        if isinstance(table, _Rows):
            stamps = {c: table.stamps(c) for c in times}
            plain = [dict(r, **{c: stamps[c][i] for c in times}) for i, r in enumerate(table.rows)]
        else:
            plain = [dict(r._asdict(), **{c: _json_time(getattr(r, c)) for c in times})
                     for r in table.itertuples(index=False)]
        episodes = [{"client": _json_opt(r["client"]), "sid_before": _json_opt(r["sid_before"]),
                     "sid_after": _json_opt(r["sid_after"]), "trigger": r["trigger"], "started_at": r["started_at"],
                     "visible_at": r["visible_at"], "connected_at": r["connected_at"],
                     "authenticated_at": r["authenticated_at"], "sessions": list(r["sessions"]),
                     "ready_at": {k: _json_time(v) for k, v in r["ready_at"].items()},
                     "recovered": bool(r["recovered"]), "recovered_at": r["recovered_at"],
                     "duration_ms": _json_num(r["duration_ms"])} for r in plain]
        return {"schema": SCHEMA, "clock": self.clock, "sources": self.sources, "warnings": list(self.warnings),
                "connections": connections,
                "sessions": list(sessions.values()), "episodes": episodes}

    def _json_findings(self) -> list[dict]:
        """The documented JSON's findings."""
        return [{"id": fid, "kind": kind, "severity": severity, "at": at, "session": session, "client": client,
                 "sid": sid, "delay_ms": _json_num1(delay), "occurrences": int(occurrences or 1),
                 "first_at": first or at, "last_at": last or at, "summary": summary, "context": context,
                 "evidence": list(evidence_list)}
                for fid, kind, severity, at, session, client, sid, delay, occurrences, first, last, summary, context,
                evidence_list in self._columns("findings", ("id", "kind", "severity", "at", "session", "client", "sid",
                                                            "delay_ms", "occurrences", "first_at", "last_at",
                                                            "summary", "context", "evidence"), FINDING_TIMES)]

    # ---- filtering -------------------------------------------------------------------
    def filter(self, session: str | None = None, client: str | None = None, since: Any = None,
               until: Any = None) -> Timeline:
        """A Timeline restricted to one session (any alias or prefix), one client (id or
        prefix) and/or a time window (ISO strings, UTC unless they say; a time of day alone,
        ``10:05:00``, is on the logs' day; datetimes or Timestamps).

        A finding is kept for its own session and client, and for those of the lines it
        cites as evidence (a session, or a socket of the client): the attach of another
        session that cut off a reply is that session's too.

        A session or client the logs do not have, a time that is none and a window that
        ends before it starts raise DiagError (its message starts with the parameter's
        name); a selection with no event in it is said in ``warnings``."""
        for name, value in (("session", session), ("client", client)):
            if value is not None and not isinstance(value, str):
                raise DiagError(f"{name} must be a string (an id or a prefix of one), not {value!r}")
        if session and re.fullmatch(r"[0-9A-Fa-f-]+", session):
            session = session.lower()  # (the logs print UUIDs in lower case; one copied in upper case is the same)
        span = (self.events["t"].min(), self.events["t"].max()) if len(self.events) else None
        since_ts = parse_instant(since, "since", span)
        until_ts = parse_instant(until, "until", span)
        if since_ts is not None and until_ts is not None and until_ts < since_ts:
            raise DiagError(f"until {until}: before since {since}")

        def in_window(start: pd.Series, end: pd.Series | None = None) -> pd.Series:
            # what spans start..end is in the window when any of that span is: a connection or an
            # episode that began before it and was still open (one with no end ran on to the end
            # of the logs), a finding folded from several occurrences; an instant is its own span
            end = start if end is None else end
            keep = pd.Series(True, index=start.index)
            if since_ts is not None:
                keep &= end.isna() | (end >= since_ts)
            if until_ts is not None:
                keep &= start.isna() | (start <= until_ts)
            return keep

        def overlaps(found: pd.DataFrame) -> pd.Series:
            first = found["first_at"].fillna(found["at"]) if "first_at" in found else found["at"]
            last = found["last_at"].fillna(found["at"]) if "last_at" in found else found["at"]
            return in_window(first, last)

        def session_match(values: pd.Series) -> pd.Series:
            return self.session_mask(values, session)

        def client_match(values: pd.Series) -> pd.Series:
            return client_mask(values, client)

        def caused(found: pd.DataFrame, names: Callable[[pd.DataFrame], pd.Series]) -> pd.Series:
            """Where a finding of ``found`` cites a line whose event ``names`` holds for: a
            finding is told of the session it hurt, and kept for the one whose lines caused it
            too (the attach of 9342a748 that cut off 453424df's reply)."""
            cites = self._cited(found)
            if cites.empty:
                return pd.Series(False, index=found.index)
            return pd.Series(found.index.isin(cites.loc[names(cites).to_numpy(), "finding"]), index=found.index)

        def session_cited(cites: pd.DataFrame) -> pd.Series:
            logged = cites["session"].astype("string").fillna(cites["temp_id"].astype("string"))
            # (a temporary id's prefix, as the backend prints it, that several sessions share names none)
            return session_match(logged) & ~logged.isin(self._shared_temp_prefixes(set(logged.dropna())))

        ev, co, at, ep, fi = self.events, self.connections, self.attaches, self.episodes, self.findings
        several: list[str] = []  # a prefix that names more than one session or client: said
        if session:
            at = _keep(at, session_match(at["session"]))
            several += _several("session", session, {str(s)[:8] for s in at["session"].dropna()})
            fi = _keep(fi, session_match(fi["session"]) | caused(fi, session_cited))
            ep = _keep(ep, ep["sessions"].map(
                lambda ss: bool(session_match(pd.Series(list(ss), dtype="string")).any())))
            sids = set(at["sid"].dropna())
            ev = _keep(ev, session_match(ev["session"].astype("string").fillna(ev["temp_id"].astype("string")))
                       | (ev["session"].isna() & ev["sid"].isin(sids)))
            co = _keep(co, co["sid"].isin(sids))
        if client:
            co = _keep(co, client_match(co["client"]))
            at = _keep(at, client_match(at["client"]))
            ep = _keep(ep, client_match(ep["client"]))
            # (the server's lines name a socket, not its page: the client's sockets stand for it)
            client_sids = set(self.connections.loc[client_match(self.connections["client"]).to_numpy(), "sid"].dropna())
            fi = _keep(fi, client_match(fi["client"]) | caused(
                fi, lambda cites: client_match(cites["client"]) | cites["sid"].isin(client_sids)))
            # (a page's loads, <clientId>#2..., are that client's)
            several += _several("client", client, {str(c).split("#")[0] for c in (*co["client"].dropna(),
                                                                                  *at["client"].dropna())})
            sids = set(co["sid"].dropna())
            ev = _keep(ev, client_match(ev["client"]) | ev["sid"].isin(sids))
        if since_ts is not None or until_ts is not None:
            ev = _keep(ev, in_window(ev["t"]))
            co = _keep(co, in_window(co["connected_at"].fillna(co["authenticated_at"]),
                                     co["disconnected_at"].fillna(co["client_disconnected_at"])))
            at = _keep(at, in_window(at["ready_sent_at"].fillna(at["ready_received_at"]).fillna(at["requested_at"])
                                     .fillna(at["received_at"])))
            ep = _keep(ep, in_window(ep["started_at"], ep["recovered_at"]))
            fi = _keep(fi, overlaps(fi))
        chosen = [f"{name} {value}" for name, value in (
            ("session", session), ("client", client),
            ("since", since_ts and since_ts.isoformat().replace("+00:00", "Z")),
            ("until", until_ts and until_ts.isoformat().replace("+00:00", "Z"))) if value]
        if self.selection:
            chosen.insert(0, self.selection)
        selection = ", ".join(chosen) or None
        warnings = [*self.warnings, *several]
        if ev.empty and span is not None:
            # a name the logs lack is a typo, most likely, not "nothing happened"
            names = [(name, value) for name, value in (("session", session), ("client", client)) if value]
            for name, value in names:
                if len(names) + (since_ts is not None) + (until_ts is not None) > 1:
                    self.filter(**{name: value})  # (raises for a name the logs lack)
                else:
                    raise DiagError(self.unknown(name, value))
            warnings.append(f"no events in the selection ({selection}); these logs run from "
                            f"{iso(span[0].value / 1e9)} to {iso(span[1].value / 1e9)}")
        return Timeline(ev.reset_index(drop=True), self.clock, self.sources, co.reset_index(drop=True),
                        at.reset_index(drop=True), ep.reset_index(drop=True), fi.reset_index(drop=True),
                        warnings, self.temp_ids, selection=selection)

    def unknown(self, name: str, value: str) -> str:
        """What to say of a session or client the logs do not have: what they have."""
        if name == "session":
            known = {str(s)[:8] for s in self.attaches["session"].dropna()}
        else:
            known = set(self.clock.get("clients", {})) | {str(c) for c in self.connections["client"].dropna()}
        shown = sorted(known)[:6 if name == "session" else 4]
        listed = ", ".join(shown) + (f" and {len(known) - len(shown)} more" if len(known) > len(shown) else "")
        return (f"{name} {value}: no {name} in these logs matches it "
                f"({f'{name}s: {listed}' if known else f'they name no {name}'})")

    def session_mask(self, values: pd.Series, session: str) -> pd.Series:
        """Where ``values`` (session ids as logged: full, 8-char prefixes, temporary ids)
        name ``session`` (any of its aliases, or a prefix of one)."""
        aliases = self._aliases(session)
        text = values.astype("string").fillna("")
        known = self._session_ids()
        # an alias longer than a logged prefix of it names that session when some id the logs
        # print whole starts with it, or when they print none longer than the prefix (a full
        # UUID given, only its first 8 characters logged); '453424df-x' is no 453424df-...
        confirmed = {a for a in aliases if any(k.startswith(a) for k in known)}

        def names(v: str) -> bool:
            if not v:
                return False
            for a in aliases:
                if v == a or (len(v) >= 8 and v.startswith(a)):
                    return True
                if len(v) >= 8 and a.startswith(v) and (
                        a in confirmed or not any(len(k) > len(v) and k.startswith(v) for k in known)):
                    return True
            return False

        matched = {v: names(v) for v in text.unique()}
        return text.map(matched).astype(bool)

    def _cited(self, found: pd.DataFrame) -> pd.DataFrame:
        """The events the findings ``found`` cite as evidence, one row per citation: the
        finding's index in ``found`` (``finding``) and the event's session, temporary id,
        socket and client."""
        cited = [(i, e["path"], e["line"]) for i, lines in zip(found.index, found["evidence"], strict=True)
                 if isinstance(lines, list) for e in lines if isinstance(e, dict)]
        columns = ["path", "line", "session", "temp_id", "sid", "client"]
        if not cited or self.events.empty:
            return pd.DataFrame(columns=["finding", *columns])
        cites = pd.DataFrame(cited, columns=["finding", "path", "line"])
        ev = self.events
        near = ev.loc[ev["line"].isin(cites["line"].unique()).to_numpy(), columns]
        return cites.merge(near.assign(path=near["path"].astype(str)), on=["path", "line"])

    def _shared_temp_prefixes(self, values: set[str]) -> set[str]:
        """Those of ``values`` that are a temporary id's prefix as the backend prints it
        (``new-1795``) that the temporary ids of several sessions share."""
        prefixes = {v for v in values if v.startswith("new-") and len(v) <= 8}
        if not prefixes:
            return set()
        temps = {t for ts in self.temp_ids.values() for t in ts} | {s for s in self._session_ids() if s.startswith("new-")}
        return {v for v in prefixes if len({t for t in temps if len(t) > len(v) and t.startswith(v)}) > 1}

    def _session_ids(self) -> set[str]:
        """Every session id the logs print (whole, 8-char prefixes, temporary ids)."""
        ids = {str(s) for s in self.attaches["session"].dropna()} | set(self.temp_ids)
        ids |= {x for temps in self.temp_ids.values() for x in temps}
        if "session" in self.events:
            ids |= {str(s) for s in pd.unique(self.events["session"].dropna())}
        return ids

    def _aliases(self, session: str) -> list[str]:
        aliases = {session}
        for name, temps in self.temp_ids.items():
            if name.startswith(session) or session in temps or any(x.startswith(session) for x in temps):
                aliases |= {name, *temps}
        return sorted(aliases)

    # ---- rendering -------------------------------------------------------------------
    def __rich_console__(self, console, options):
        from jarvis_diag.render import render_timeline

        yield from render_timeline(self, options.max_width)

    def _repr_html_(self) -> str:
        from jarvis_diag.render import timeline_html

        return timeline_html(self)


def _several(name: str, value: str, matched: set[str]) -> list[str]:
    """A warning when ``value``, given for one session or client, matched several."""
    if len(matched) < 2:
        return []
    shown = sorted(matched)[:4]
    listed = ", ".join(shown) + (f" and {len(matched) - len(shown)} more" if len(matched) > len(shown) else "")
    return [f"{name} {value} matches {len(matched)} {name}s ({listed}): all are kept; give more of it for one"]


def client_mask(values: pd.Series, client: str) -> pd.Series:
    """Where ``values`` (client ids) start with ``client``, or their part after the
    browser's name does (``mwuj2r4i-8t1u`` of ``Mozilla50iPhoneCPUiP-mwuj2r4i-8t1u``, as
    the views show them)."""
    text = values.astype("string").fillna("")
    return (text.str.startswith(client) | text.str.split("-", n=1).str[-1].str.startswith(client)).astype(bool)


def _keep(frame: pd.DataFrame, mask: pd.Series) -> pd.DataFrame:
    """Rows where ``mask`` holds (an empty mask must not be read as a column list)."""
    return frame.loc[mask.fillna(False).astype(bool).to_numpy()] if len(frame) else frame


# a time of day alone, as the views show it, or with its zone (10:05:00, 11:05+01:00, 10:05Z)
_TIME_OF_DAY = re.compile(r"(\d{1,2}:\d\d(?::\d\d(?:[.,]\d+)?)?)(Z|[+-]\d\d(?::?\d\d)?)?", re.IGNORECASE)
# an ISO 8601 instant starts with its date (2026-11-24 or 20261124): pandas alone would also
# take '5m' or '10am' (in year 1) and 'now' (the machine's clock)
_ISO_DATE = re.compile(r"\d{4}-?\d\d-?\d\d(?!\d)")
_NOT_A_TIME = "not a time (ISO 8601 such as 2026-11-24T10:05:00Z, or a time of day such as 10:05:00)"


def parse_instant(value: Any, name: str = "time", span: tuple[pd.Timestamp, pd.Timestamp] | None = None
                  ) -> pd.Timestamp | None:
    """A UTC Timestamp of an ISO 8601 string (UTC unless it says), a datetime or a
    Timestamp; a time of day alone (``10:05:00``, as the terminal view shows, or with its
    zone, ``11:05+01:00``) is on the day of ``span`` (the logs' first and last instants, in
    that zone), an error when they cover several days. DiagError (starting with ``name``
    and the value as given) for anything else; without ``span``, a time of day is checked
    and None returned (no logs to take the day from)."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float | np.number) and not isinstance(value, bool):
        # (pandas reads a bare number as nanoseconds since 1970: an epoch in seconds was 1970's)
        raise DiagError(f"{name} {value}: a number is no time; give an ISO time, a datetime or a Timestamp "
                        f"(epoch seconds: pd.Timestamp({value}, unit='s'))")
    text = value.strip() if isinstance(value, str) else None
    try:
        if text is not None and (day := _TIME_OF_DAY.fullmatch(text)):
            clock, zone = day[1].replace(",", "."), (day[2] or "Z").upper()
            at = pd.Timestamp(f"2000-01-01T{clock}{zone}")  # (the time and zone checked)
            if span is None:
                return None
            first, last = (t.tz_convert(at.tzinfo) for t in span)
            if first.date() != last.date():
                raise DiagError(f"{name} {text}: a time of day, but these logs run from {first.date()} to "
                                f"{last.date()}; give the date too ({first.date()}T{clock}{zone})")
            ts = pd.Timestamp(f"{first.date()}T{clock}{zone}")
        elif text is not None and not _ISO_DATE.match(text):
            raise DiagError(f"{name} {text}: {_NOT_A_TIME}")
        else:
            ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise DiagError(f"{name} {text if text is not None else value}: {_NOT_A_TIME}") from exc
    if ts is pd.NaT:
        raise DiagError(f"{name} {value}: not a time")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def build_timeline(ingested: Any, *, no_skew: bool = False, keep: list | None = None,
                   parallel: bool = False) -> Timeline:
    """The Timeline of already ingested logs (``jarvis_diag.ingest.ingest`` output).

    ``keep``: a list the correlation's working state (a record per line read, hundreds of
    thousands on a big log) is put in instead of being freed here; a caller about to exit
    passes one and never frees it (freeing costs about a tenth of the whole run).
    ``parallel``: on a big log, name the findings in a forked child (see
    :mod:`jarvis_diag.forked`) while this process writes out the rest; for a command-line
    run, which reads the findings last and runs nothing else meanwhile that a fork could
    catch half-way (not for a notebook's kernel)."""
    with no_cycle_collection():
        return _build_timeline(ingested, no_skew=no_skew, keep=keep, parallel=parallel)


def _build_timeline(ingested: Any, *, no_skew: bool, keep: list | None, parallel: bool) -> Timeline:
    events, corr = correlate(ingested.events, no_skew=no_skew)
    if keep is not None:
        keep.append(corr)
    # The findings are the last table the output reads: they can be named on the other core
    # while this one writes out the rest (the child shares the correlation as it is, and
    # detect only reads it).
    if parallel and len(corr.records) >= FORK_MIN_RECORDS:
        child = Forked(_findings, corr)
        findings: _Rows | _Pending = _Pending(lambda: _Rows(child.result(), FINDING_COLUMNS, FINDING_TIMES))
    else:
        findings = _Rows(_findings(corr), FINDING_COLUMNS, FINDING_TIMES)
    fill_texts(corr.texts, [x.evidence for x in (*corr.connections, *corr.attaches, *corr.episodes)])
    zone = ingested.zone
    clock = {
        "backend_utc_offset_minutes": int(zone.offset_minutes) if zone is not None else 0,
        "backend_zone_source": getattr(zone, "source", None),
        "backend_zone_pairs": int(getattr(zone, "pairs", 0) or 0),
        "backend_utc_offset_changes": [{"at": iso(c.at), "offset_minutes": c.offset_minutes, "zone": c.zone}
                                       for c in getattr(zone, "changes", ())],
        "clients": {c: s.to_dict() for c, s in sorted(corr.skews.items())},
    }
    if getattr(zone, "warning", None):
        clock["warning"] = zone.warning
    sources = [_source_dict(s) for s in ingested.sources]
    temp_ids: dict[str, list[str]] = {}
    for key, temps in corr.ids.temps.items():
        full = [x for x in temps if len(x) > 8] or sorted(temps)
        temp_ids[corr.ids.canonical(key) or key] = sorted(set(full))
    conns = [{"sid": c.sid, "client": c.client, "connected_at": c.connected_at,
              "authenticated_at": c.authenticated_at, "disconnected_at": c.disconnected_at,
              "reason": c.reason, "transport": c.transport, "duration_ms": c.duration_ms,
              "client_disconnected_at": c.client_disconnected_at, "evidence": c.evidence}
             for c in corr.connections]
    attaches = [{"session": a.session, "temp_id": a.temp_id, "client": a.client, "sid": a.sid, "kind": a.kind,
                 "requested_at": a.requested_at, "received_at": a.received_at, "phases": a.phases,
                 "server_ms": a.server_ms, "ready_sent_at": a.ready_sent_at,
                 "ready_received_at": a.ready_received_at, "history_end_at": a.history_end_at,
                 "latency_ms": a.latency_ms, "transport_ms": a.transport_ms, "history_count": a.history_count,
                 "cut_at": a.cut_at, "evidence": a.evidence} for a in corr.attaches]
    episodes = [{"client": e.client, "sid_before": e.sid_before, "sid_after": e.sid_after, "trigger": e.trigger,
                 "started_at": e.started_at, "visible_at": e.visible_at, "connected_at": e.connected_at,
                 "authenticated_at": e.authenticated_at, "sessions": e.sessions,
                 "ready_at": {k: _ts(v) for k, v in e.ready_at.items()}, "recovered": e.recovered,
                 "recovered_at": e.recovered_at, "duration_ms": e.duration_ms, "evidence": e.evidence}
                for e in corr.episodes]
    return Timeline(
        events=events, clock=clock, sources=sources,
        connections=_Rows(conns, CONNECTION_COLUMNS, ("connected_at", "authenticated_at", "disconnected_at",
                                                       "client_disconnected_at")),
        attaches=_Rows(attaches, ATTACH_COLUMNS, ("requested_at", "received_at", "ready_sent_at",
                                                  "ready_received_at", "history_end_at", "cut_at")),
        episodes=_Rows(episodes, EPISODE_COLUMNS, ("started_at", "visible_at", "connected_at", "authenticated_at",
                                                   "recovered_at")),
        findings=findings,
        warnings=[*(getattr(ingested, "warnings", []) or []), *corr.warnings,
                  *apart_warnings(sources, clock["clients"], begins_with_a_start(events))],
        temp_ids=temp_ids,
    )


# How far outside the server log's time a page log may run and still be of the same run (its
# clock may be off by seconds; a page log of another day is hours away).
APART_S = 60.0
# How long a page log may run before the server's first line and still be all there (a page
# loaded as the server starts logs its first attempts before the server logs them).
BEFORE_S = 10.0


def begins_with_a_start(events: pd.DataFrame) -> bool:
    """Whether the server's logs begin with the server starting (its start line within their
    first seconds): nothing of it ran before them."""
    backend = (events["source"] == "backend").to_numpy()
    if not backend.any():
        return False
    t = events["t_source"][backend]
    starts = t[(events["kind"][backend] == "server.starting").to_numpy()]
    return bool(len(starts)) and (starts.min() - t.min()).total_seconds() <= START_S


# How soon after the server log's first line its start line may come (the lines it writes
# as it starts: migrations, the file watcher) for the log to be of the server's start.
START_S = 5.0


def apart_warnings(sources: list[dict], clients: dict | None = None, fresh_start: bool = False) -> list[str]:
    """Warnings naming the page logs that have no line within the time of any server log
    given (its ``sources``, as the JSON has them): another day's log, most likely, taken by
    mistake; and those that begin well before the server's logs do (cut to their last lines,
    or an older rotation left out): what the server did for those pages is not in the logs.
    ``clients`` (the JSON's ``clock.clients``): each page log's times are taken on its
    client's corrected clock (a phone minutes off is not another day's). ``fresh_start``: the
    server's logs begin with its start (see :func:`begins_with_a_start`): a page that ran
    before it was trying to reach a server that was not there, of which no log is missing."""
    from jarvis_diag.ingest import page_client

    def span(s: dict) -> tuple[float, float] | None:
        if not s.get("first") or not s.get("last"):
            return None
        first, last = pd.Timestamp(s["first"]).timestamp(), pd.Timestamp(s["last"]).timestamp()
        skew = (clients or {}).get(page_client(s["path"], "frontend")) if s.get("format") == "frontend" else None
        shift = skew["skew_ms"] / 1000.0 if skew and skew.get("applied") else 0.0
        return first - shift, last - shift

    server = [(s, t) for s in sources if s.get("format") == "backend" and (t := span(s))]
    if not server:
        return []
    pages = [(s, t) for s in sources if s.get("format") == "frontend" and (t := span(s))]
    first = min(server, key=lambda x: x[1][0])[0]["first"]
    last = max(server, key=lambda x: x[1][1])[0]["last"]
    apart = [(s, t) for s, t in pages if not any(t[0] <= b[1] + APART_S and b[0] <= t[1] + APART_S for _, b in server)]
    warnings = []
    if apart:
        named = "; ".join(f"{s['path']} ({s['first']} to {s['last']})" for s, _ in apart[:3])
        more = f" and {len(apart) - 3} more" if len(apart) > 3 else ""
        which = "a page log runs" if len(apart) == 1 else f"{len(apart)} page logs run"
        warnings.append(f"{which} outside the server log's time ({first} to {last}): {named}{more}; what the server "
                        f"did for {'that page' if len(apart) == 1 else 'those pages'} is not in the logs given "
                        f"(another day's log?)")
    begun = min(b[0] for _, b in server)
    apart_ids = {id(s) for s, _ in apart}
    early = [] if fresh_start else [(s, t) for s, t in pages if id(s) not in apart_ids and begun - t[0] > BEFORE_S]
    if early:
        s, t = min(early, key=lambda x: x[1][0])
        which = "a page log begins" if len(early) == 1 else f"{len(early)} page logs begin"
        warnings.append(f"{which} before the server's log does ({first}): {s['path']} {begun - t[0]:.0f} s before; "
                        f"what the server did for {'that page' if len(early) == 1 else 'those pages'} until then is "
                        f"not in the logs given (its older file, app.log.1?)")
    return warnings


def _findings(corr: Correlation) -> list[dict]:
    """The findings of a correlation, their evidence with its text."""
    from jarvis_diag.findings import detect

    findings = detect(corr)
    fill_texts(corr.texts, [f["evidence"] for f in findings])
    return findings


def _source_dict(source: Any) -> dict:
    """A SourceInfo as the documented JSON object (times as ISO strings)."""
    if hasattr(source, "to_dict"):
        data = source.to_dict()
    elif hasattr(source, "__dataclass_fields__"):
        from dataclasses import asdict

        data = asdict(source)
    elif isinstance(source, dict):
        data = dict(source)
    else:
        data = dict(vars(source))
    for key in ("first", "last"):
        v = data.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            data[key] = iso(float(v))
        elif isinstance(v, (pd.Timestamp, datetime)):
            data[key] = iso(pd.Timestamp(v).value / 1e9)
    if isinstance(data.get("path"), Path):
        data["path"] = str(data["path"])
    return data


def load_timeline(paths: str | Path | list[str] | list[Path], *, tz: str | None = None,
                  format_of: dict | None = None, no_skew: bool = False, stdin: Any = None,
                  panel_date: str | None = None, panel_tz: str | None = None) -> Timeline:
    """Read logs (files, directories, globs, ``-``; one path or a list) and build their
    Timeline (``panel_date``, ``panel_tz``: the date and zone of a debug-panel copy's times)."""
    from jarvis_diag.ingest import ingest

    ingested = ingest(paths_argument("paths", paths), tz=tz, format_of=format_of, stdin=stdin,
                      panel_date=panel_date, panel_tz=panel_tz)
    return build_timeline(ingested, no_skew=no_skew)

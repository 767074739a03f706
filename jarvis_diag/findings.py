"""Detectors: a correlated timeline -> findings a user can act on (pure).

Each finding names one thing that went wrong (``kind``, a stable id), when, for which
client, socket and session, what it cost (``delay_ms``) and the lines that show it
(``evidence``). Every WARNING/ERROR line not already explained by a named finding becomes
an ``app-warning`` / ``app-error`` finding, grouped when it repeats, with what its client
and session went through just before: that context is usually the diagnosis, and it is
also what tells a benign warning (severity ``info``) from a real one.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from jarvis_diag.clock import EMIT_KINDS, next_page_load, session_key
from jarvis_diag.timeline import (
    AWAY_KINDS,
    DELIBERATE_REASONS,
    FRONTEND_SOURCES,
    RESTART_REASON,
    Attach,
    Connection,
    Correlation,
    evidence,
    iso,
)

SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}
CLEARED_KINDS = ("callback.cleared", "session.switched", "callback.owner_changed")  # (lines that take a socket's
# live output of a session away)
# What to change, for each way a client comes to believe it is attached when the server has no callback
FIX_SWITCH_BACK = "always send chat:connect when switching back to a session"
FIX_RECONNECT = "re-send chat:connect for every open session after a reconnect"
FIX_ONE_PER_SOCKET = ("the server keeps one live session per socket: attach each open session on its own socket, "
                      "or re-send chat:connect before using a session again")
FIX_ONE_OWNER = ("the server keeps one live owner per session: send a session's output to every socket attached to "
                 "it, or re-send chat:connect before using a session again")
KINDS = ("callback-desync", "server-reload", "server-restart", "transport-delay", "slow-session-start", "half-open",
         "reconnect-failed", "missing-resubscribe", "single-live-session", "polling-fallback", "auth-failed",
         "history-window", "app-warning", "app-error")

# A finding's delay runs from its ``at`` (the cut, the loss, the send it held up), except for
# these kinds, whose ``at`` is where the wait ended (a callback-desync's: the auto-connect).
DELAY_ENDS_AT = frozenset({"callback-desync"})


# Thresholds, in ms unless said otherwise.
DESYNC_CRITICAL_MS = 5000.0  # output held back this long is an outage, not a hiccup
TRANSPORT_FLOOR_MS = 1000.0  # an emit->receive below this is never "far above the usual"
TRANSPORT_FACTOR = 10.0  # ... nor below this many times the client's median
# A receipt this soon after the DONE of an attach of its own socket waited behind that attach.
QUEUED_BEHIND_S = 0.05
SLOW_START_MS = 1000.0  # T1.1 -> T1.2 (session creation) above this delays chat:ready
HALF_OPEN_MS = 5000.0  # one side outliving the other's loss by more than this
WAKE_SLACK_S = 1.0  # a page coming back from the background logs its missed events this close to it
RESUBSCRIBE_WINDOW_S = 2.0  # a page re-sends its subscriptions right after it authenticates
CLOCK_SLACK_S = 0.5  # a corrected page clock can put a line this much before the server's line of the same moment
# A socket closed this long before a reload's line was cut by it (the lines of the two
# processes can interleave by that much)...
RELOAD_CLOSE_S = 1.0
# ... and before a shutdown line: uvicorn asks every connection to close, sleeps 0.1 s, then
# the app's shutdown runs and logs 'Application shutting down...', so the sockets the stop
# closed are logged about 0.1 s before it: a little more when the sleep wakes late, and the
# lines' times are cut to the ms (101 ms is common). A socket closed earlier closed for its
# own reasons: one its client closed even 20 ms before the signal is 0.12 s before the line.
STOP_CLOSE_S = 0.12
CUT_EVIDENCE = 10  # connections cited (with the client's next one) of those a stop cut
RECOVERY_GRACE_S = 10.0  # a log that goes on this long after a loss shows whether it recovered
CONTEXT_WINDOW_S = 60.0
# Socket.IO's heartbeat on the real server and uvicorn's WebSocket keepalive: who notices a dead peer, when.
PING_WINDOW = ("Jarvis's default settings have Socket.IO ping every 25 s and wait 60 s (a dead peer noticed after up "
               "to 85 s; sooner on a server given shorter ones, as a test server may be); uvicorn's WebSocket "
               "keepalive pings every 20 s with a 20 s timeout")


def _short(value: str | None, n: int = 8) -> str:
    return (value or "?")[:n]


def _client_name(client: str | None) -> str | None:
    """What tells a client apart in a sentence: a clientId's page-load part (after the user
    agent, which every phone of a kind shares: ``Mozilla50iPhoneCPUiP-mwuj2r4i-8t1u`` ->
    ``mwuj2r4i-8t1u``)."""
    if not client:
        return None
    return client.split("-", 1)[1] if "-" in client.strip("-") else client


def _the_client(client: str | None, *, start: bool = False) -> str:
    """``client mwuj2r4i-8t1u``, or ``the client`` when no frontend line or join names it
    (``start``: capitalized, to begin a sentence)."""
    name = _client_name(client)
    text = f"client {name}" if name else "the client"
    return text[0].upper() + text[1:] if start else text


def duration_text(ms: float) -> str:
    """A wait as a reader takes it in: ms below a second (a 3 ms wait is not "0.0 s")."""
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


def _f(kind: str, severity: str, at: float | None, summary: str, *, session: str | None = None,
       client: str | None = None, sid: str | None = None, delay_ms: float | None = None,
       context: str | None = None, evidence_list: list | None = None, repeats: bool = False,
       occurrences: int = 1, first_at: float | None = None, last_at: float | None = None) -> dict:
    """A finding. ``repeats``: the same problem can recur on a socket (once per message, say),
    and its lesser recurrences on one socket fold into one finding (see :func:`fold_repeats`)."""
    return {"id": "", "kind": kind, "severity": severity, "at": at, "session": session, "client": client, "sid": sid,
            "delay_ms": None if delay_ms is None else round(float(delay_ms), 1), "occurrences": occurrences,
            "first_at": at if first_at is None else first_at, "last_at": at if last_at is None else last_at,
            "summary": summary, "context": context, "evidence": _dedupe(evidence_list or []),
            "_fold": (kind, client, session, sid) if repeats and sid else None}


def _dedupe(items: list[dict]) -> list[dict]:
    seen = set()
    out = []
    for e in items:
        key = (e["path"], e["line"])
        if key not in seen:
            seen.add(key)
            out.append(e)
    return out


def _attach_start(a: Attach) -> float:
    """When an attach began: the server's START, else the client's request."""
    t = a.started_at if a.started_at is not None else a.requested_at
    return -np.inf if t is None else t


def _ready_time(a: Attach) -> tuple[float, int]:
    """When an attach got ready, and in a page's millisecond which came first (its line)."""
    return a.ready_at, -1 if a.ready_row is None else a.ready_row


def _sorted_groups(items: Iterable[Attach], key: Callable[[Attach], Any], order: Callable[[Attach], float]
                   ) -> dict[Any, list[Attach]]:
    """``items`` grouped by ``key``, each group sorted by ``order``."""
    groups: dict[Any, list[Attach]] = {}
    for a in items:
        groups.setdefault(key(a), []).append(a)
    for v in groups.values():
        v.sort(key=order)
    return groups


class _Index:
    """Lookups the detectors share."""

    def __init__(self, corr: Correlation):
        self.corr = corr
        self.episodes_of: dict[str, list] = {}
        for ep in corr.episodes:
            self.episodes_of.setdefault(ep.client, []).append(ep)
        self.attaches_of_sid: dict[str | None, list[Attach]] = {}
        for a in corr.attaches:
            self.attaches_of_sid.setdefault(a.sid, []).append(a)
        self.context: _ContextNotes | None = None
        self.replies: _Replies | None = None  # (made when first asked)
        self.open_spans: tuple[np.ndarray, np.ndarray, list[bool], list[int], np.ndarray, np.ndarray] | None = None
        # (see _cut)
        self.anonymous_auths: np.ndarray | None = None  # (see _cut)
        self.stop_times: np.ndarray | None = None  # (see _cut)
        self._ready_of_key: dict[str | None, tuple[list[Attach], list[float]]] | None = None
        self._away: dict[str, tuple[list[bool], np.ndarray]] | None = None
        self._of_session_client: dict[tuple, list[Attach]] | None = None  # (made when first asked)
        self._autos: dict[str | None, tuple[list, list[float]]] | None = None
        self._output: dict[str | None, tuple[list[dict], np.ndarray]] | None = None
        self._asked_of_key: dict[str | None, list[tuple[float, Attach]]] | None = None  # (made when first asked)
        self.backend_times: np.ndarray | None = None  # (see _backend_times)
        self._conn_of_sid: dict[str, Connection] | None = None  # (made when first asked)
        self._client_ready: dict[str, list[Attach]] | None = None  # (made when first asked)
        self._session_ready: dict[str | None, list[Attach]] | None = None  # (made when first asked)
        self._page_lines: dict[str, dict[str, tuple[list[dict], np.ndarray]]] = {}  # (see page_lines)
        self.conns_of: dict[str | None, list] = {}  # (in the order they connected)
        for c in corr.connections:
            self.conns_of.setdefault(c.client, []).append(c)
        self._conn_starts: dict[str | None, list[float]] = {}
        by_sid_key: dict[tuple, list[Attach]] = {}
        for a in corr.attaches:
            if a.started_at is not None:
                by_sid_key.setdefault((a.sid, session_key(a.session)), []).append(a)
        self._attaches_at = {k: (sorted(v, key=lambda a: a.started_at), None) for k, v in by_sid_key.items()}
        self._attaches_at = {k: (v, np.array([a.started_at for a in v])) for k, (v, _) in self._attaches_at.items()}
        # the attaches a phone got ready, on any of its sockets (a reconnect attaches again on a new one)
        self._ready_of_client: dict[tuple, list[Attach]] = _sorted_groups(
            (a for a in corr.attaches if a.client and a.ready_at is not None),
            lambda a: (a.client, session_key(a.session)), _attach_start)
        self._ready_starts = {k: [_attach_start(a) for a in v] for k, v in self._ready_of_client.items()}
        cleared: dict[tuple, list[dict]] = {}
        for r in corr.index.of_kind(CLEARED_KINDS):
            gone = r.get("from_session") if r["kind"] == "session.switched" else r.get("session")
            cleared.setdefault(((r.get("sid") or "")[:8], session_key(gone)), []).append(r)
        self._cleared = {k: (v, np.array([r["t"] for r in v])) for k, v in cleared.items()}

    def auto_connect_after(self, sid: str, t: float) -> Attach | None:
        """The server's auto-connect on this socket started within a second after ``t`` (the
        first in the attaches' order)."""
        if self._autos is None:
            autos: dict[str | None, list[tuple[float, int, Attach]]] = {}
            for i, a in enumerate(self.corr.attaches):
                if a.auto and a.started_at is not None:
                    autos.setdefault(a.sid, []).append((a.started_at, i, a))
            for v in autos.values():
                v.sort(key=lambda x: x[:2])
            self._autos = {k: (v, [x[0] for x in v]) for k, v in autos.items()}
        found = self._autos.get(sid)
        if found is None:
            return None
        items, starts = found
        near = items[bisect_left(starts, t):bisect_right(starts, t + 1.0)]
        near = [x for x in near if 0 <= x[0] - t <= 1.0]
        return min(near, key=lambda x: x[1])[2] if near else None

    def attaches_of(self, session: str | None, client: str | None) -> list[Attach]:
        """The attaches of this session by this client, in the correlation's order."""
        if self._of_session_client is None:
            self._of_session_client = {}
            for a in self.corr.attaches:
                self._of_session_client.setdefault((a.session, a.client), []).append(a)
        return self._of_session_client.get((session, client), [])

    def output_after(self, key: str | None, t: float, n: int) -> list[dict]:
        """The first ``n`` lines at or after ``t`` that show the agent working on the session
        with this key (processing a message, delivering output), in time order."""
        if self._output is None:
            by_key: dict[str | None, list[dict]] = {}
            for r in self.corr.index.of_kind(("message.processing", "output.delivered")):
                by_key.setdefault(session_key(r.get("session")), []).append(r)
            self._output = {k: (v, np.array([r["t"] for r in v])) for k, v in by_key.items()}
        found = self._output.get(key)
        if found is None:
            return []
        lo = int(found[1].searchsorted(t, side="left"))
        return found[0][lo:lo + n]

    def attaches_after(self, sid: str | None, key: str | None, t: float) -> list[Attach]:
        """Attaches of this socket and session started after ``t``, in order."""
        found = self._attaches_at.get((sid, key))
        if found is None:
            return []
        return found[0][int(found[1].searchsorted(t, side="right")):]

    def next_ready(self, sid: str, client: str | None, key: str | None, t: float) -> Attach | None:
        """The first attach of this session after ``t`` that got ready: on this socket, or on
        another socket of the same client (after a reconnect)."""
        found = []
        mine = self._attaches_at.get((sid, key))
        if mine is not None:
            attaches = mine[0]
            after = (attaches[j] for j in range(int(mine[1].searchsorted(t, side="right")), len(attaches)))
            found += [a for a in [next((a for a in after if a.ready_at is not None), None)] if a is not None]
        if client and (client, key) in self._ready_of_client:
            ready = self._ready_of_client[(client, key)]
            i = bisect_right(self._ready_starts[(client, key)], t)
            if i < len(ready):
                found.append(ready[i])
        return min(found, key=_attach_start, default=None)

    def ready_on_another_socket(self, client: str | None, key: str | None, t: float, sid: str) -> Attach | None:
        """The first attach of this session by this client started after ``t`` on a socket
        other than ``sid`` that got ready."""
        ready = self._ready_of_client.get((client, key), [])
        i = bisect_right(self._ready_starts.get((client, key), []), t)
        return next((a for a in ready[i:] if a.sid != sid), None)

    def next_ready_anywhere(self, key: str | None, t: float) -> Attach | None:
        """The first attach of the session with this key, on any socket, started after ``t``
        that got ready."""
        if self._ready_of_key is None:
            by_key: dict[str | None, list[Attach]] = {}
            for a in self.corr.attaches:
                if a.ready_at is not None:
                    by_key.setdefault(session_key(a.session), []).append(a)
            self._ready_of_key = {k: (v, [_attach_start(a) for a in v]) for k, v in
                                  ((k, sorted(v, key=_attach_start)) for k, v in by_key.items())}
        found = self._ready_of_key.get(key)
        if found is None:
            return None
        i = bisect_right(found[1], t)
        return found[0][i] if i < len(found[0]) else None

    def ready_of_page_session(self, client: str, key: str | None) -> list[Attach]:
        """The attaches of the session with this key that a client got ready, by start."""
        return self._ready_of_client.get((client, key), [])

    def last_cleared(self, sid: str, key: str | None, rec: dict) -> dict | None:
        """The last line before ``rec`` that took this session's live output off this socket
        (of ``rec``'s millisecond, only those written before it: a message that finds no
        callback and the auto-connect of the next one can share it)."""
        found = self._cleared.get((sid, key))
        if found is None:
            return None
        t = rec["t"]
        i = int(found[1].searchsorted(t, side="right"))
        if i and found[1][i - 1] == t:
            same = self.corr.index.of_kind((*CLEARED_KINDS, rec["kind"]), t, t)  # (in the order written)
            order = {id(r): n for n, r in enumerate(same)}
            while i and found[1][i - 1] == t and order.get(id(found[0][i - 1]), -1) > order.get(id(rec), -1):
                i -= 1
        return found[0][i - 1] if i else None

    def received_between(self, client: str, key: str | None, t0: float, t1: float | None) -> int:
        times = self.corr.received.get((client, key))
        if times is None:
            return 0
        hi = len(times) if t1 is None else int(times.searchsorted(t1, side="left"))
        return max(0, hi - int(times.searchsorted(t0, side="right")))

    def canonical(self, value: str | None) -> str | None:
        return self.corr.ids.canonical(value)

    def ready_of_client(self, client: str | None) -> list[Attach]:
        """The attaches a client got ready (the server's auto-connects too), by ready time, of
        every session."""
        if self._client_ready is None:
            self._client_ready = _sorted_groups((a for a in self.corr.attaches if a.client and a.ready_at is not None),
                                                lambda a: a.client, _ready_time)
        return self._client_ready.get(client or "", [])

    def page_lines(self, client: str | None, kind: str) -> tuple[list[dict], np.ndarray]:
        """A page's own lines of one of PAGE_SOCKET_KINDS, and their times."""
        if client not in self._page_lines:
            found: dict[str, list[dict]] = {k: [] for k in PAGE_SOCKET_KINDS}
            for r in self.corr.index.fe_by_client.get(client or "", []):
                if r["kind"] in found:
                    found[r["kind"]].append(r)
            self._page_lines[client] = {k: (v, np.array([r["t"] for r in v], dtype="float64"))
                                        for k, v in found.items()}
        return self._page_lines[client][kind]

    def ready_of_session(self, session: str | None) -> list[Attach]:
        """The attaches of a session that got ready (on any page, auto-connects too), by ready time."""
        if self._session_ready is None:
            self._session_ready = _sorted_groups((a for a in self.corr.attaches if a.ready_at is not None),
                                                 lambda a: a.session, _ready_time)
        return self._session_ready.get(session, [])

    def client_of(self, sid: str | None) -> str | None:
        return self.corr.sid_client.get((sid or "")[:8])

    def last_attach_elsewhere(self, sid: str, session: str | None, key: str | None, t: float) -> Attach | None:
        """The session's last attach a client asked for on another socket, started before ``t``."""
        if self._asked_of_key is None:
            self._asked_of_key = {}
            for a in self.corr.attaches:
                start = _attach_start(a)
                if not a.auto and a.sid and start > -np.inf:
                    self._asked_of_key.setdefault(session_key(a.session) or a.key, []).append((start, a))
            for v in self._asked_of_key.values():
                v.sort(key=lambda x: x[0])
        found = [a for start, a in self._asked_of_key.get(key, []) if start < t and a.sid[:8] != sid[:8]
                 and (a.session == session or a.key == key)]
        return found[-1] if found else None

    def connection(self, sid: str | None) -> Connection | None:
        """The server's connection of this socket (the first, should the prefix repeat)."""
        if self._conn_of_sid is None:
            self._conn_of_sid = {}
            for c in self.corr.connections:
                self._conn_of_sid.setdefault((c.sid or "")[:8], c)
        return self._conn_of_sid.get((sid or "")[:8])

    def _away_of(self, client: str | None) -> tuple[list[bool], np.ndarray] | None:
        """A page's background/offline changes: after each, whether it was away, and when."""
        if self._away is None:
            flags: dict[str, tuple[set[str], list[bool], list[float]]] = {}
            for r in self.corr.index.of_kind(tuple(AWAY_KINDS)):
                if r["source"] not in FRONTEND_SOURCES or not r.get("client"):
                    continue
                state, away, times = flags.setdefault(r["client"], (set(), [], []))
                what, gone = AWAY_KINDS[r["kind"]]
                (state.add if gone else state.discard)(what)
                away.append(bool(state))
                times.append(r["t"])
            self._away = {c: (away, np.array(times)) for c, (_s, away, times) in flags.items()}
        return self._away.get(client or "")

    def authenticated_after(self, client: str | None, t: float):
        """The client's first connection that connected after ``t`` and was authenticated."""
        mine = self.conns_of.get(client, [])
        starts = self._conn_starts.get(client)
        if starts is None:
            starts = self._conn_starts[client] = [c.connected_at or 0 for c in mine]
        for i in range(bisect_right(starts, t), len(mine)):
            if mine[i].authenticated_at is not None:
                return mine[i]
        return None

    def away_at(self, client: str | None, t: float) -> bool:
        """Whether the page was in the background or offline at ``t``."""
        found = self._away_of(client)
        if found is None:
            return False
        i = int(found[1].searchsorted(t, side="right"))
        return bool(i) and found[0][i - 1]

    def came_back(self, client: str | None, t0: float, t1: float) -> float | None:
        """When the page last came back (visible and online) between ``t0`` and ``t1``, having
        been in the background or offline; None when it was not away meanwhile."""
        found = self._away_of(client)
        if found is None:
            return None
        away, times = found
        lo, hi = int(times.searchsorted(t0, side="right")), int(times.searchsorted(t1, side="right"))
        back = None
        for j in range(max(lo, 1), hi):
            if away[j - 1] and not away[j]:
                back = float(times[j])
        return back


# ---- lost live output: one live session per socket ------------------------------------------

IN_FLIGHT_MAX_S = 600.0  # a reply not completed by then was never going to be (a crash, a reload)


@dataclass
class _Replies:
    """Messages whose reply was cut: live, when their socket attached another session
    (``cut_live``); for good, when the server reloaded while the agent was answering them
    (``stopped``: by the label of the reload line)."""

    cut_live: list[dict]
    stopped: dict[int, list[dict]]  # (by a reload line, the shutdown line of a plain stop, or the start
    # line after a process that ended with no shutdown)
    # every message, with ``until``: when its reply stopped being written (completed, given
    # up, cut by the process's end; None: still being written when the log ends)
    messages: list[dict]


def _replies(ix: _Index) -> _Replies:
    """The messages in flight, followed through the log once (see :class:`_Replies`)."""
    if ix.replies is not None:
        return ix.replies
    cut_live = []
    stopped: dict[int, list[dict]] = {}
    messages: list[dict] = []
    in_flight: list[dict] = []  # oldest first; "Message processing completed" ends the oldest

    def ended(gone: list[dict], t: float) -> None:
        for m in gone:
            m["until"] = t
    for rec in ix.corr.index.of_kind(("message.received", "message.processing", "session.switched",
                                      "message.completed", "chat.error", "server.reload", "server.stopping",
                                      "server.starting")):
        kind = rec["kind"]
        if in_flight and rec["t"] - in_flight[0]["rec"]["t"] > IN_FLIGHT_MAX_S:
            ended([m for m in in_flight if rec["t"] - m["rec"]["t"] > IN_FLIGHT_MAX_S], rec["t"])
            in_flight = [m for m in in_flight if rec["t"] - m["rec"]["t"] <= IN_FLIGHT_MAX_S]
        if kind == "message.received" and rec.get("sid"):
            in_flight.append({"rec": rec, "sid": rec["sid"][:8], "key": session_key(rec.get("session")),
                              "switched": None, "resolved": False, "until": None})
            messages.append(in_flight[-1])
        elif kind == "message.processing" and in_flight:
            for m in reversed(in_flight):
                if not m["resolved"]:
                    m["key"] = session_key(rec.get("session")) or m["key"]
                    m["resolved"] = True
                    break
        elif kind == "session.switched" and rec.get("sid") and in_flight:
            sid, key = rec["sid"][:8], session_key(rec.get("from_session"))
            for m in in_flight:
                if m["switched"] is None and m["sid"] == sid and m["key"] == key:
                    m["switched"] = rec
        elif kind == "chat.error" and rec["source"] == "backend" and rec.get("sid") and in_flight:
            # the server gave up on that socket's last message: no reply is coming
            sid = rec["sid"][:8]
            mine = [i for i, m in enumerate(in_flight) if m["sid"] == sid]
            if mine:
                ended([in_flight[mine[-1]]], rec["t"])
                del in_flight[mine[-1]]
        elif kind == "message.completed" and in_flight:
            m = in_flight.pop(0)
            m["completed"] = rec
            m["until"] = rec["t"]
            if m["switched"] is not None:
                cut_live.append(m)
        elif kind in ("server.reload", "server.stopping", "server.starting"):
            # the process ended (a start with messages still in flight: it was killed or
            # died): the agent stopped answering (only a message the server began to process
            # had an answer coming)
            answering = [m for m in in_flight if m["resolved"]]
            if answering:
                stopped[rec["label"]] = answering
            ended(in_flight, rec["t"])
            in_flight = []
    ix.replies = _Replies(cut_live, stopped, messages)
    return ix.replies


def _describe_lost(ix: _Index, m: dict) -> tuple[str, float | None, list]:
    """What became of a reply cut off live: replayed in a later attach's history, or never."""
    sid, key = m["sid"], m["key"]
    t_switch = m["switched"]["t"]
    client = ix.client_of(sid)
    later = ix.next_ready(sid, client, key, t_switch)
    other = session_key(m["switched"].get("session"))
    text = (f"the reply to the message of {iso(m['rec']['t'])} was cut off live when socket {sid} attached session "
            f"{other} at {iso(t_switch)}")
    ev = [evidence(m["rec"]), evidence(m["switched"])]
    if "completed" in m:
        ev.append(evidence(m["completed"]))
    if client is None:
        # no page is joined to the socket: what reached it is unknown; the server's next attach
        # of the session (on any socket: a page's next one cannot be told from another's) is known
        later = later or ix.next_ready_anywhere(key, t_switch)
        text += f"; no frontend log joins socket {sid} to a page, so what reached it live is unknown"
        if later is None:
            return text + ", and the session was not attached again in the log", None, ev
        n = f" with a history replay of {later.history_count} messages" if later.history_count is not None else ""
        where = f" on socket {later.sid}" if later.sid and later.sid != sid else ""
        return text + f"; the session was next attached{where} at {iso(later.ready_at)}{n}", later.ready_at, ev
    # (a history replay of an attach made before the cut, still arriving at it, is no output of the reply)
    since = max([t_switch, *(a.history_end_at for a in ix.ready_of_page_session(client, key)
                             if a.history_end_at is not None and _attach_start(a) <= t_switch < a.history_end_at)])
    live = ix.received_between(client, key, since, later.ready_at if later else None)
    text += f"; the client received {live} live event(s) of it"
    if later is not None:
        n = f" ({later.history_count} messages)" if later.history_count is not None else ""
        where = f" on its next socket {later.sid}" if later.sid and later.sid != sid else ""
        text += f" and saw it only in the history replay{n}{where} at {iso(later.ready_at)}"
        return text, later.ready_at, ev
    text += " and never saw it (the session was not attached again)"
    return text, None, ev


FIX_CUT = ("The server keeps one live session per socket: attach other sessions on their own socket or re-send "
           "chat:connect when switching back.")
ONE_LIVE_SESSION = "one live session per socket"  # (the cause a socket's findings of it fold under)


def _one_live_session(f: dict, what: str) -> dict:
    """Mark a finding whose cause is the server keeping one live session per socket (``what``:
    ``cut``, a reply cut off live; ``turn``, sessions re-attached in turn; ``desync``, a
    message that found its session without a callback): on one socket, of one page, its lesser
    recurrences, whatever the session, fold into one finding (see :func:`fold_repeats`)."""
    f["_what"] = [what]
    f["_fold"] = (ONE_LIVE_SESSION, f["client"], f["sid"] or (f["_fold"] or (None,) * 4)[3])
    return f


def detect_single_live_session(ix: _Index) -> list[dict]:
    findings = []
    for m in _replies(ix).cut_live:
        text, replay_at, ev = _describe_lost(ix, m)
        session = ix.canonical(m["key"])
        delay = (replay_at - m["switched"]["t"]) * 1000 if replay_at else None
        findings.append(_one_live_session(_f(
            # (seen in a replay: late, an outage when as late as a desync's critical one)
            "single-live-session", "critical" if delay is None or delay >= DESYNC_CRITICAL_MS else "warning",
            m["switched"]["t"], f"Session {_short(session)}: {text}. {FIX_CUT}",
            session=session, client=ix.client_of(m["sid"]), sid=m["sid"], delay_ms=delay, evidence_list=ev,
            repeats=True), "cut"))
        findings[-1]["_cut"] = (m["sid"], m["key"], m["switched"]["t"])
    # after a reconnect, several sessions re-attached in turn on one socket: only the last stays live
    for ep in ix.corr.episodes:
        if not ep.sid_after or ep.authenticated_at is None:
            continue
        end = ep.recovered_at or ix.corr.last_t or ep.authenticated_at
        re_attached = [a for a in ix.attaches_of_sid.get(ep.sid_after, []) if a.started_at is not None
                       and ep.authenticated_at <= a.started_at <= end + 1 and not a.auto]
        sessions = []
        for a in re_attached:
            if a.session not in sessions:
                sessions.append(a.session)
        if len(sessions) >= 2 and any(a.switched_from for a in re_attached):
            last = sessions[-1]
            # (a chat whose output still came live on the socket was not dropped: a server
            # that logs the switch but keeps every callback)
            dropped = [s for s in sessions if s != last and not _live_after(ix, ep.sid_after, ep.client,
                                                                            re_attached, s)]
            if not dropped:
                continue
            findings.append(_one_live_session(_f(
                "single-live-session", "warning", re_attached[-1].started_at,
                f"After the reconnect socket {ep.sid_after} re-attached {', '.join(_short(s) for s in sessions)} in "
                f"turn; the server keeps one live session per socket, so only {_short(last)} receives live output "
                f"({', '.join(_short(s) for s in dropped)} will look stuck until re-attached).",
                session=last, client=ep.client, sid=ep.sid_after,
                evidence_list=[e for a in re_attached for e in a.evidence[:2]]), "turn"))
    return findings


def _live_after(ix: _Index, sid: str, client: str | None, re_attached: list[Attach], session: str | None) -> bool:
    """Whether ``session``'s live output reached socket ``sid`` (the server's callback lines)
    or its page after ``re_attached`` were done (their history replays too, which a page logs
    as it logs live events) and before the session's next attach there (an auto-connect that
    gives it its callback back)."""
    t0 = max(t for a in re_attached for t in (a.started_at, a.ready_received_at, a.history_end_at) if t is not None)
    key = session_key(session)
    t1 = min((a.started_at for a in ix.attaches_of_sid.get(sid, []) if a.started_at is not None
              and a.started_at > t0 and session_key(a.session) == key), default=np.inf)
    if client and ix.received_between(client, key, t0, t1):
        return True
    return any(session_key(r.get("session")) == key and (r.get("sid") or "")[:8] == sid[:8]
               for r in ix.corr.index.of_kind(["output.delivered"], t0, t1))


def detect_callback_desync(ix: _Index) -> list[dict]:
    """The server found no callback for a socket+session and auto-connected on the next
    message: the client believed it was attached (handler exists) and sent no chat:connect."""
    findings = []
    # the client's switches back to a session without chat:connect (old frontend), per client
    # and session key (a chat:connect for the session settles them)
    switch_backs: dict[str | None, dict[str | None, list[tuple[float, dict]]]] = {}
    last_start: dict[str, dict] = {}
    for rec in ix.corr.index.of_kind(("chat.connect.start", "chat.handler.exists", "chat.connect.sent")):
        client = rec.get("client")
        if not client or rec["source"] not in FRONTEND_SOURCES:  # (a line of no page joins no socket)
            continue
        if rec["kind"] == "chat.connect.start":
            last_start[client] = rec
        elif rec["kind"] == "chat.handler.exists":
            start = last_start.get(client)
            key = session_key(rec.get("session")) or (session_key(start.get("session")) if start else None)
            switch_backs.setdefault(client, {}).setdefault(key, []).append((rec["t"], rec))
        elif rec["kind"] == "chat.connect.sent":
            switch_backs.get(client, {}).pop(session_key(rec.get("session")), None)
    for rec in ix.corr.index.of_kind(["callback.missing"]):
        if rec["source"] != "backend":
            continue
        sid = (rec.get("sid") or "")[:8]
        key = session_key(rec.get("session"))
        session = ix.canonical(key)
        client = ix.client_of(sid)
        ev = [evidence(rec)]
        delay = None
        how = ""
        cleared = None
        mine = switch_backs.get(client, {}) if client else {}
        slot = _switch_back_slot(ix, mine, key)
        backs = mine.get(slot, [])
        candidates = [s for s in backs if s[0] <= rec["t"]]
        fix = FIX_SWITCH_BACK
        reconnect = _reconnected_without(ix, client, sid, session, key, rec["t"])
        if reconnect is not None:
            delay = (rec["t"] - reconnect.authenticated_at) * 1000
            ev = reconnect.evidence + ev
            if candidates:
                mine[slot] = [s for s in backs if s[0] > rec["t"]]
            how = (f"socket {sid} is the one {_the_client(client)} reconnected on at "
                   f"{iso(reconnect.authenticated_at)}, and the session was never attached on it: the page kept its "
                   f"handler through the reconnect and sent no chat:connect")
            # the page's own account of its re-subscription, when it logs one
            said = [r for r in ix.corr.index.of_kind(["chat.resubscribe.batch"], reconnect.started_at, rec["t"])
                    if r.get("client") == client]
            if said:
                ev.insert(len(ev) - 1, evidence(said[-1]))
                how += (f"; its log says it re-sent {said[-1].get('n')} subscriptions after the reconnect and "
                        f"skipped {said[-1].get('total')}")
            fix = FIX_RECONNECT
        elif candidates:
            t_back, back = candidates[-1]
            delay = (rec["t"] - t_back) * 1000
            ev.insert(0, evidence(back))
            mine[slot] = [s for s in backs if s[0] > rec["t"]]
            how = (f"the client switched back to it at {iso(t_back)} with its handler still in place and sent no "
                   f"chat:connect")
        else:
            cleared = ix.last_cleared(sid, key, rec)
            if cleared is not None:
                delay = (rec["t"] - cleared["t"]) * 1000
                ev.insert(0, evidence(cleared))
                if client and client in ix.corr.index.fe_by_client:
                    unknown = "the client's frontend log shows no switch back to it in between"
                else:
                    unknown = "no frontend log shows when the user came back to it"
                if cleared["kind"] == "callback.owner_changed":
                    # another socket (another device, or this page's next socket) attached the session
                    how = (f"socket {(cleared.get('to_sid') or '?')[:8]} took over its live output at "
                           f"{iso(cleared['t'])}; {unknown}, so the wait is counted from the takeover and is an upper "
                           f"bound")
                    fix = FIX_ONE_OWNER
                else:
                    how = (f"its callback on this socket was dropped at {iso(cleared['t'])}; {unknown}, so the wait is "
                           f"counted from the drop and is an upper bound")
                    # (dropped by this socket's attach of another session, not by the page leaving it)
                    fix = FIX_ONE_PER_SOCKET
            elif not client or client not in ix.corr.index.fe_by_client:
                lost_socket = _new_socket_of_a_lost_one(ix, sid, session, key, rec["t"])
                if lost_socket is not None:
                    conn, before, prev = lost_socket
                    since = conn.authenticated_at if conn.authenticated_at is not None else conn.connected_at
                    delay = (rec["t"] - since) * 1000
                    ev = prev.evidence[-1:] + conn.evidence[:2] + ev
                    how = (f"socket {sid} connected at {iso(conn.connected_at)} and never attached the session, last "
                           f"attached on socket {before.sid[:8]}, which the server lost at {iso(prev.disconnected_at)}: "
                           f"most likely the same page reconnected and "
                           f"re-sent no chat:connect, which no frontend log confirms; the wait is counted from the new "
                           f"socket's connect")
                    fix = FIX_RECONNECT
        auto = ix.auto_connect_after(sid, rec["t"])
        if auto is not None:
            ev += auto.evidence[-2:]
        wait = f" {duration_text(delay)}" if delay is not None else ""
        summary = (f"Session {_short(session)}: {_the_client(client)} believed it was attached but the server had "
                   f"no callback for socket {sid}; live output waited{wait} until the next message auto-connected")
        if how:
            summary += f" ({how})"
        # (a reply cut off live before this auto-connect is told by its single-live-session finding, not again here)
        summary += f". Fix: {fix}."
        severity = "critical" if delay is None or delay >= DESYNC_CRITICAL_MS else "warning"
        findings.append(_f("callback-desync", severity, rec["t"], summary, session=session, client=client, sid=sid,
                           delay_ms=delay, evidence_list=ev, repeats=True))
        findings[-1]["_reconnect"] = fix == FIX_RECONNECT
        if fix == FIX_ONE_PER_SOCKET:
            _one_live_session(findings[-1], "desync")
            if cleared is not None and cleared["kind"] == "session.switched":
                # (the switch that dropped its callback may be the one that cut a reply of it off live)
                findings[-1]["_dropped"] = (sid, key, cleared["t"])
    return findings + _desync_seen_by_the_page(ix, switch_backs)


def _switch_back_slot(ix: _Index, mine: dict, key: str | None) -> str | None:
    """Where a client's switch backs to a session are kept: the page names a new session by
    its temporary id until it is told the UUID (and then still, where it kept that name), so
    they may be under that prefix."""
    if not mine or mine.get(key):
        return key
    return next((t[:8] for t in sorted(ix.corr.ids.temps.get(key or "", ())) if mine.get(t[:8])), key)


def _backend_span(ix: _Index) -> tuple[float, float] | None:
    """The first and last time of the backend's lines (None: no backend log)."""
    times = [r["t"] for r in ix.corr.records if r["source"] == "backend"]
    return (min(times), max(times)) if times else None


def _desync_seen_by_the_page(ix: _Index, switch_backs: dict) -> list[dict]:
    """The same incident from a page's log alone, where no backend log covers it: a chat:ready
    the page had not asked for, right after its next message (the server's auto-connect,
    which it makes only on finding no callback), for a session it kept its handler for and
    sent no chat:connect: through a reconnect (the wait runs from the reconnect), or when
    switching back to it (from the switch back); or for a session ready on its socket when
    another was attached there, on a server with one live session per socket (from that
    attach)."""
    autos = [a for a in ix.corr.attaches
             if a.kind == "auto" and a.received_at is None and a.ready_sent_at is None and a.client
             and a.ready_received_at is not None]
    if not autos:
        return []
    span = _backend_span(ix)
    findings = []
    for a in autos:
        t = a.ready_received_at
        if span is not None and span[0] <= t <= span[1]:
            continue  # the server's log tells it (or tells that it was no desync)
        key = session_key(a.session)
        mine = switch_backs.get(a.client, {})
        slot = _switch_back_slot(ix, mine, key)
        backs = mine.get(slot, [])
        candidates = [b for b in backs if b[0] <= t]
        if candidates:
            # (a temporary id's prefix may stand for several of the page's sessions: only the one used goes)
            mine[slot] = [b for b in backs if b[0] > t or (slot != key and b is not candidates[-1])]
        rejoined = _kept_through_a_reconnect(ix, a, t)
        dropped = _dropped_by_another_attach(ix, a, t) if rejoined is None and not candidates else None
        if rejoined is None and not candidates and dropped is None:
            continue
        lead: list[dict] = []  # (the lines of what took its output, before the switch back's)
        if rejoined is not None:
            since, lead = rejoined
            how = f"it reconnected at {iso(since)}, kept its handler and sent no chat:connect"
            fix = FIX_RECONNECT
        elif candidates:
            since = candidates[-1][0]
            how = f"it switched back at {iso(since)} with its handler still in place and sent no chat:connect"
            fix = FIX_SWITCH_BACK
        else:
            other = dropped
            since = other.ready_at
            lead = other.evidence[-1:]
            if other.client == a.client:
                how = (f"it attached session {_short(other.session)} on the same socket at {iso(since)}, which drops "
                       f"this one's callback on a server that keeps one live session per socket")
                fix = FIX_ONE_PER_SOCKET
            else:
                how = (f"{_the_client(other.client)} attached the same session at {iso(since)}, which takes its live "
                       f"output on a server that keeps one live owner per session")
                fix = FIX_ONE_OWNER
        # the message the server auto-connected on: the page's last to the session (by the pages' clocks
        # it can come a moment before another page's takeover)
        sent = [r for r in ix.corr.index.of_kind(["message.sent"], (candidates[-1][0] if candidates else t) - 60.0, t)
                if r.get("client") == a.client and session_key(r.get("session")) in (key, slot)]
        after = f"its next message at {iso(sent[-1]['t'])}" if sent else "its next message"
        ev = [*lead, *([evidence(candidates[-1][1])] if candidates else []), *([evidence(sent[-1])] if sent else []),
              *a.evidence]
        delay = (t - since) * 1000
        summary = (f"Session {_short(a.session)}: {_the_client(a.client)} believed it was attached, but no live "
                   f"output reached it for {duration_text(delay)}: {how}; the chat:ready it got at {iso(t)} without "
                   f"asking is the server's auto-connect on {after}, made only when the server has no callback "
                   f"(inferred: no backend log covers this time). Fix: {fix}.")
        severity = "critical" if delay >= DESYNC_CRITICAL_MS else "warning"
        found = _f("callback-desync", severity, t, summary, session=a.session, client=a.client, sid=a.sid,
                   delay_ms=delay, evidence_list=ev, repeats=True)
        if found["_fold"] is None:  # (no socket id: the page's socket is the one it authenticated last)
            found["_fold"] = ("callback-desync", a.client, a.session, ("page socket", _last_auth(ix, a.client, t)))
        found["_reconnect"] = fix == FIX_RECONNECT
        findings.append(_one_live_session(found, "desync") if fix == FIX_ONE_PER_SOCKET else found)
    return findings


PAGE_SOCKET_KINDS = ("auth.ok", "socket.disconnected", "chat.resubscribe.batch")  # (see _Index.page_lines)


def _last_of(ix: _Index, client: str | None, kind: str, t: float) -> dict | None:
    """The page's last line of this kind at or before ``t``."""
    lines, times = ix.page_lines(client, kind)
    i = int(times.searchsorted(t, side="right"))
    return lines[i - 1] if i else None


def _last_auth(ix: _Index, client: str | None, t: float) -> float | None:
    """When the page last logged its socket authenticated, at or before ``t``."""
    auth = _last_of(ix, client, "auth.ok", t)
    return None if auth is None else auth["t"]


def _dropped_by_another_attach(ix: _Index, auto: Attach, t: float) -> Attach | None:
    """When the page had ``auto``'s session ready on the socket it got ``auto`` on (no
    authentication of the page in between) and then another session was attached there (by
    the page, or by the server's auto-connect), or another page attached this session: that
    attach (the first such), where a server with one live session per socket, or one live
    owner per session, took the session's output off this socket."""
    since = _last_auth(ix, auto.client, t)
    if since is None:
        return None
    # (the session's last time ready there, an earlier auto-connect's included)
    # (by time, then by line: a page logs the chat:ready of two sessions re-attached at once in
    # the same millisecond)
    until = _ready_time(auto)
    mine = [a for a in ix.attaches_of(auto.session, auto.client)
            if a is not auto and a.ready_at is not None and since <= a.ready_at and _ready_time(a) < until]
    if not mine:
        return None
    after = max(_ready_time(a) for a in mine)
    # another session on this socket (one live session per socket), or this session on another
    # page's socket (one live owner per session): the first of either took its output
    same_socket = next((a for a in ix.ready_of_client(auto.client)
                        if a.session != auto.session and after < _ready_time(a) < until), None)
    other_page = next((a for a in ix.ready_of_session(auto.session)
                       if a.client != auto.client and after < _ready_time(a) < until), None)
    found = [a for a in (same_socket, other_page) if a is not None]
    return min(found, key=_ready_time) if found else None


def _kept_through_a_reconnect(ix: _Index, auto: Attach, t: float) -> tuple[float, list[dict]] | None:
    """When the page got ``auto`` on a socket it reconnected on (its last authentication
    before ``t`` follows a disconnect), having had the session ready before that loss and
    asked for it on no attach since: (when it was authenticated again, the lines that show the
    loss, the reconnect and its re-subscription)."""
    auth = _last_of(ix, auto.client, "auth.ok", t)
    lost = _last_of(ix, auto.client, "socket.disconnected", auth["t"]) if auth is not None else None
    if auth is None or lost is None:
        return None
    back = auth["t"]
    mine = [a for a in ix.attaches_of(auto.session, auto.client) if not a.auto and a.ready_at is not None]
    if not any(a.ready_at <= lost["t"] for a in mine) or any(back <= _attach_start(a) <= t for a in mine):
        return None
    said = _last_of(ix, auto.client, "chat.resubscribe.batch", t)
    return back, [evidence(lost), evidence(auth), *([evidence(said)] if said is not None and said["t"] >= back else [])]


def _new_socket_of_a_lost_one(ix: _Index, sid: str, session: str | None, key: str | None,
                              t: float) -> tuple[Connection, Attach, Connection] | None:
    """From the server's log alone: socket ``sid`` (connected before ``t``) never attached the
    session, whose last attach was on a socket the server had lost by ``t``: (this socket's
    connection, that attach, that socket's connection). The page behind both is not known."""
    conn = ix.connection(sid)
    if conn is None or conn.connected_at is None or conn.connected_at > t:
        return None
    for a in ix.attaches_of_sid.get(sid, []):
        start = a.started_at if a.started_at is not None else a.requested_at
        if not a.auto and start is not None and start < t and (a.session == session or a.key == key):
            return None
    before = ix.last_attach_elsewhere(sid, session, key, conn.connected_at)
    prev = ix.connection(before.sid) if before is not None else None
    if prev is None or prev.disconnected_at is None or prev.disconnected_at > t or not prev.evidence:
        return None
    return conn, before, prev


@dataclass(frozen=True, slots=True)
class _Reconnect:
    """How a socket came from a reconnect: when the loss began, when the socket was
    authenticated, and the lines that show it."""

    started_at: float
    authenticated_at: float
    evidence: list[dict]


def _reconnected_without(ix: _Index, client: str | None, sid: str, session: str | None, key: str | None,
                         t: float) -> _Reconnect | None:
    """How socket ``sid`` came from a reconnect of ``client`` (authenticated before ``t``),
    when the session was never attached on that socket before ``t`` (an auto-connect is the
    server's, not an attach the client asked for)."""
    if not client:
        return None
    for a in ix.attaches_of_sid.get(sid, []):
        start = a.started_at if a.started_at is not None else a.requested_at
        if not a.auto and start is not None and start < t and (a.session == session or a.key == key):
            return None
    found = next((ep for ep in ix.episodes_of.get(client, []) if ep.sid_after == sid
                  and ep.authenticated_at is not None and ep.authenticated_at <= t), None)
    if found is not None:
        # (the loss, and the new socket's connect and authentication)
        conn = next((c for c in ix.conns_of.get(client, []) if c.sid == sid), None)
        return _Reconnect(found.started_at, found.authenticated_at,
                          found.evidence[-2:] + (conn.evidence[:2] if conn is not None else []))
    # a later reconnect of an episode that never recovered (the page lost this socket's
    # predecessor too): its own loss and connect
    conn = next((c for c in ix.conns_of.get(client, []) if c.sid == sid and c.authenticated_at is not None
                 and c.authenticated_at <= t and c.connected_at is not None), None)
    if conn is None or not any(ep.started_at < conn.connected_at and (ep.recovered_at is None
                                                                      or ep.recovered_at > conn.connected_at)
                               for ep in ix.episodes_of.get(client, [])):
        return None
    ends = [(end, c) for c in ix.conns_of.get(client, []) if c is not conn
            for end in [c.client_disconnected_at or c.disconnected_at] if end is not None and end <= conn.connected_at]
    if not ends:
        return None
    lost_at, before = max(ends, key=lambda x: x[0])
    return _Reconnect(lost_at, conn.authenticated_at, before.evidence[-1:] + conn.evidence[:2])


SIDS_NAMED = 8  # a sentence names this many sockets, then says how many more


def _sid_list(sids: list[str]) -> str:
    """Socket ids for a sentence: each once, the first few by name, then how many more."""
    unique = list(dict.fromkeys(sids))
    named = ", ".join(unique[:SIDS_NAMED])
    return named if len(unique) <= SIDS_NAMED else f"{named} and {len(unique) - SIDS_NAMED} more"


def _fate(ix: _Index, client: str, t: float, restarted: float | None, lost: float | None = None,
          cut: Connection | None = None) -> tuple:
    """What became of a client whose socket ``cut`` a server's stop at ``t`` cut (``lost``:
    when the client lost it, when that is known to be earlier): ("back", seconds until its
    next authenticated socket, how that is counted, that connection), ("away",) when its page
    was still in the background or offline when the log ends, else ("never",). Counted from
    the stop (0), or from the page's return: 1 when it was away until after the restart, 2
    when it was away when the server went down and came back while it was down (it waited
    from then, not from the stop)."""
    back = ix.authenticated_after(client, t)
    if back is not None:
        returned = ix.came_back(client, t, back.connected_at or back.authenticated_at)
        if returned is not None and returned > (restarted or t):
            return "back", back.authenticated_at - min(returned, back.authenticated_at), 1, back
        if returned is not None and ix.away_at(client, t):
            return "back", back.authenticated_at - min(returned, back.authenticated_at), 2, back
        woke = _woke_to_a_dead_server(ix, client, t, cut) if restarted == t and lost is None else None
        if woke is not None:
            return "back", back.authenticated_at - woke, 2, back
        return "back", back.authenticated_at - (t if lost is None else lost), 0, back
    if ix.away_at(client, ix.corr.last_t or t):
        return ("away",)
    return ("never",)


def _woke_to_a_dead_server(ix: _Index, client: str, start: float, cut: Connection | None) -> float | None:
    """A process that died logs nothing; the next ``start`` is the first the server's log
    knows of it. A page that logged no loss of its socket ``cut`` yet came back from the
    background or offline before that start, after the server's last line of that socket, was
    away when the process died (a page in view logs its socket closing): it found the server
    gone when it came back. When it came back, or None."""
    if cut is None or not cut.sid:
        return None
    seen = [r["t"] for r in ix.corr.index.be_by_sid.get(cut.sid, []) if r["t"] < start]
    since = max([x for x in (cut.connected_at, cut.authenticated_at, *seen) if x is not None], default=None)
    return None if since is None else ix.came_back(client, since, start)


@dataclass
class _Cut:
    """What a server's stop did to the connections open then (see :func:`_cut`)."""

    what: str  # for the summary
    severity: str
    delay_ms: float | None
    evidence: list[dict]
    count: int  # connections cut
    names: str  # their socket ids, for a sentence
    only: Connection | None = None  # the connection, when one was cut
    lost_at: float | None = None  # (a crash) the first loss of a socket a phone logged before the start line


def _cut(ix: _Index, t: float, restarted: float | None, slack: float, *, crash: bool = False) -> _Cut:
    """What a server's process ending at ``t`` (up again at ``restarted``) did to the
    connections open then, or closed less than ``slack`` seconds before. A connection its page
    closed on purpose is not cut. (Column-wise: a log can hold many stops, each with many
    connections, and a connection no client is joined to is only counted.) ``crash``: ``t``
    is the next start (a process that died logs nothing): a phone's own loss of its socket
    before it, when its log shows one, is when that phone's outage began."""
    conns = ix.corr.connections
    if ix.open_spans is None:
        sids = np.array([c.sid or "" for c in conns], dtype=object)
        cuttable = np.array([bool(c.sid) and c.reason not in DELIBERATE_REASONS for c in conns], dtype=bool)
        # (a socket of unknown connect time connected after the start of the process that
        # logged it, a moment later: it was open at no earlier stop, nor at that start)
        opened = np.array([c.connected_at if c.connected_at is not None else
                           -np.inf if c.started_after is None else np.nextafter(c.started_after, np.inf)
                           for c in conns], dtype="float64")
        ix.open_spans = (
            np.where(cuttable, opened, np.inf),  # (one that cannot be cut never opened)
            np.array([np.inf if c.disconnected_at is None else c.disconnected_at for c in conns], dtype="float64"),
            [c.client is not None for c in conns],
            (np.unique(sids, return_inverse=True)[1] if len(conns) else np.zeros(0, dtype=np.int64)).tolist(),
            # (closed at a start line: its process had died; a later stop did not close it)
            np.array([c.reason == RESTART_REASON for c in conns], dtype=bool),
            # (when its page logged losing it)
            np.array([np.inf if c.client_disconnected_at is None else c.client_disconnected_at for c in conns],
                     dtype="float64"))
        # when the server authenticated the sockets no page is joined to (no frontend log for them)
        ix.anonymous_auths = np.sort(np.array([c.authenticated_at for c in conns if c.sid and c.client is None
                                               and c.authenticated_at is not None], dtype="float64"))
        ix.stop_times = np.array([r["t"] for r in ix.corr.index.of_kind(PROCESS_LINES) if r["source"] == "backend"],
                                 dtype="float64")
    opened, closed, joined, sid_codes, died, page_lost = ix.open_spans
    # (the sockets open at the stop first, a few of thousands: the rest is asked of those alone)
    near = np.flatnonzero((opened <= t) & (closed >= t - slack))
    before = closed[near] < t
    # (closed before the stop's line, within the slack, by the server after its page had lost it
    # long before: a phone gone offline, whose socket the server closed when the network came
    # back; the stop did not cut it)
    gone = (not crash) & before & (page_lost[near] < closed[near] - CLOCK_SLACK_S)
    # (a stop cuts a few: lists from here)
    cut = near[~(died[near] & before) & ~gone].tolist()
    fate = [0] * len(cut)  # 0: never came back, 1: back, 2: still away
    delays = []
    away = 0  # clients counted from their page's return after the restart, not from the stop
    woke = 0  # ... and from their page's return while the server was down
    backs: dict[int, Connection] = {}  # (the next connection of the first few cut, to cite)
    returns_seen: dict[int, list[dict]] = {}  # (... and their page's return, when counted from it)
    fates: dict[str, tuple] = {}  # (one look per client)
    lost_at = None
    for j, i in enumerate(cut):
        if not joined[i]:
            continue
        client, lost = conns[i].client, conns[i].client_disconnected_at
        lost = lost if crash and lost is not None and lost < t else None
        if lost is not None and (lost_at is None or lost < lost_at):
            lost_at = lost
        found = fates.get(client)
        if found is None:
            found = fates[client] = _fate(ix, client, t, restarted, lost, conns[i])
        if found[0] == "back":
            fate[j] = 1
            delays.append(found[1])
            away += found[2] == 1
            woke += found[2] == 2
            if j < CUT_EVIDENCE:
                backs[j] = found[3]
                if found[2]:  # (counted from its page's return: the line that shows it)
                    since = found[3].authenticated_at - found[1]
                    returns_seen[j] = [evidence(r) for r in ix.corr.index.of_kind(("page.visible", "network.online"),
                                                                                   since, since)
                                       if r.get("client") == client][:1]
        elif found[0] == "away":
            fate[j] = 2
    # sockets no page is joined to: the server's log shows new sockets authenticated after the
    # stop (and before the process after it ends in turn), not whose they are; each page has
    # one socket, so as many come back as there are new ones (the first, in order), the rest not
    anonymous = [j for j, i in enumerate(cut) if not joined[i]]
    returns: np.ndarray | tuple = ()
    if anonymous and restarted is not None:
        stops, auths = ix.stop_times, ix.anonymous_auths
        bound = stops[stops.searchsorted(restarted, side="right")] if stops[-1] > restarted else np.inf
        returns = auths[auths.searchsorted(t, side="right"):auths.searchsorted(bound)][:len(anonymous)]
    for j, at in zip(anonymous, returns, strict=False):
        fate[j] = 1
        delays.append(float(at) - t)
    ev: list[dict] = []
    for j, i in enumerate(cut[:CUT_EVIDENCE]):
        ev += conns[i].evidence[:1] + returns_seen.get(j, []) + (backs[j].evidence[:1] if j in backs else [])
    # (none back: the time the server was down, when known; a crash's start is its restart)
    delay = max(delays) * 1000 if delays else ((restarted - t) * 1000 if restarted is not None and restarted > t
                                               else None)

    def names(rows: list[int]) -> str:  # (as _sid_list says them)
        unique = len({sid_codes[i] for i in rows})
        first = list(dict.fromkeys(conns[i].sid for i in rows[:SIDS_NAMED * 4]))[:SIDS_NAMED]
        return ", ".join(first) + (f" and {unique - len(first)} more" if unique > len(first) else "")

    if not cut:
        return _Cut("no client was connected", "info", delay, ev, 0, "")
    never = [i for i, f in zip(cut, fate, strict=True) if f == 0]
    still_away = [i for i, f in zip(cut, fate, strict=True) if f == 2]
    severity = "critical" if never and (ix.corr.last_t or t) - t > RECOVERY_GRACE_S else "warning"
    all_names = names(cut)
    what = f"it cut {len(cut)} connection(s) ({all_names})"
    if delays:
        what += f"; clients were back after {duration_text(max(delays) * 1000)}"
        if len(returns):
            what += (f" ({len(returns)} by the new sockets the server authenticated after it, whose pages no "
                     f"frontend log tells)")
        if away:
            what += (f" ({away} of them counted from when their page came back: it was in the background "
                     f"or offline until after the restart)")
        if woke:
            what += (f" ({woke} of them counted from when their page came back: it was in the background "
                     f"or offline when the server went down, and came back before it was up again)")
    if never and len(never) == len(cut):
        what += "; none of them came back"
    elif never and all(joined[i] for i in never):
        what += f"; {names(never)} never came back"
    elif never:  # (which of the sockets no page is joined to came back is not known: how many did is)
        what += f"; {len(never)} of them never came back"
    if still_away:
        what += f"; {names(still_away)} belonged to pages still in the background or offline when the log ends"
    return _Cut(what, severity, delay, ev, len(cut), all_names, conns[cut[0]] if len(cut) == 1 else None, lost_at)


def _answering(ix: _Index, lines: list[dict]) -> tuple[str, list[dict]]:
    """The replies a process's end stopped (told by these lines): what to add to the summary
    ("" when none) and their ``Chat message received`` lines."""
    answering = [m for r in lines for m in _replies(ix).stopped.get(r["label"], [])]
    if not answering:
        return "", []
    sessions = list(dict.fromkeys(_short(ix.canonical(m["key"])) for m in answering))
    return (f"; it stopped the agent while it was answering {len(answering)} message(s) (session(s) "
            f"{', '.join(sessions[:5])}{' ...' if len(sessions) > 5 else ''}): those replies were never "
            f"finished, and no reconnect brings them back"), [m["rec"] for m in answering[:3]]


def detect_server_reload(ix: _Index) -> list[dict]:
    findings = []
    groups: list[list[dict]] = []
    for rec in ix.corr.index.of_kind(["server.reload"]):
        if rec["source"] == "backend":
            if groups and rec["t"] - groups[-1][-1]["t"] <= 5:
                groups[-1].append(rec)
            else:
                groups.append([rec])
    for group in groups:
        t = group[0]["t"]
        restarted = next((r["t"] for r in ix.corr.index.of_kind(["server.started"], t)), None)
        cut = _cut(ix, t, restarted, RELOAD_CLOSE_S)
        lost, received = _answering(ix, group)
        findings.append(_f(
            "server-reload", "critical" if lost else cut.severity, t,
            f"The dev server reloaded on a file change at {iso(t)}: {cut.what}{lost}. Do not run with auto-reload "
            f"where phones are connected (or exclude log/data directories from the watcher).",
            client=cut.only.client if cut.only else None, sid=cut.only.sid if cut.only else None,
            delay_ms=cut.delay_ms,
            evidence_list=[evidence(r) for r in group[:3]] + cut.evidence + [evidence(r) for r in received]))
    return findings


PROCESS_LINES = ("server.reload", "server.stopping", "server.starting")  # (a process's end, or the next one's start)


def _process_ends(ix: _Index) -> list[tuple[str, dict, float | None]]:
    """The ends of the server's process that no file change caused: ("stop", its shutdown
    line, when it started again) for a shutdown, ("crash", the start line, its time) for a
    start with no shutdown logged since the start before (the process was killed or died)."""
    ends: list[tuple[str, dict, float | None]] = []
    reload_t = None
    stopped = False  # (a log's first start ends a process only when it cuts what it shows)
    for rec in ix.corr.index.of_kind(PROCESS_LINES):
        if rec["source"] != "backend":
            continue
        kind, t = rec["kind"], rec["t"]
        if kind == "server.reload":
            reload_t, stopped = t, True
        elif kind == "server.stopping":
            if not stopped and (reload_t is None or t - reload_t > 5):
                ends.append(("stop", rec, None))
            stopped = True
        else:
            if not stopped:
                ends.append(("crash", rec, t))
            elif ends and ends[-1][0] == "stop" and ends[-1][2] is None:
                ends[-1] = ("stop", ends[-1][1], t)
            stopped = False
    return ends


def detect_server_restart(ix: _Index) -> list[dict]:
    """The server's process ended with no file change behind it (a restart, a deploy, a
    crash) while phones were connected or the agent was answering."""
    findings = []
    for how, rec, restarted in _process_ends(ix):
        t = rec["t"]
        lost, received = _answering(ix, [rec])
        tail = (ix.corr.last_t or t) - t
        # (a crash's sockets end at the new start, the first moment the server's log knows them gone)
        cut = _cut(ix, t, t if how == "crash" else restarted, STOP_CLOSE_S, crash=how == "crash")
        if not cut.count and not lost:
            continue
        severity, delay = cut.severity, cut.delay_ms
        ev = [evidence(rec)]
        if how == "crash":
            died = ""
            if cut.lost_at is not None and delay is None:  # (none came back: down that long at least)
                delay = (t - cut.lost_at) * 1000
            if cut.lost_at is not None:
                # the phones' logs tell when it ended: their sockets closed then
                died = (f", {t - cut.lost_at:.1f} s before: its phones lost their sockets from "
                        f"{iso(cut.lost_at)}")
                ev += [evidence(r) for r in ix.corr.index.of_kind(["socket.disconnected"], cut.lost_at, cut.lost_at)
                       if r["source"] in FRONTEND_SOURCES][:1]
            summary = (f"The server started again at {iso(t)} with no shutdown logged since its last start (its "
                       f"process was killed or died{died}): {cut.what}{lost}. Find out why it ended (its "
                       f"stdout/stderr, the system journal, the OOM killer); phones must reconnect and re-attach "
                       f"their sessions after it.")
        elif restarted is None and tail <= RECOVERY_GRACE_S:
            # a log that ends with the server stopped: most often how it was captured
            severity, delay = "info", None
            summary = (f"The server was shut down at {iso(t)}, {tail:.1f} s before the logs end, with "
                       f"{cut.count} connection(s) open ({cut.names}){lost}."
                       + (" Stop the server when no reply is streaming." if lost else ""))
        else:
            if restarted is None:
                severity = "warning"
            back = f"started again {restarted - t:.1f} s later" if restarted is not None else \
                f"not started again in the {tail:.1f} s the logs go on"
            summary = (f"The server was shut down at {iso(t)} with no file change behind it (a restart or a deploy), "
                       f"{back}: {cut.what}{lost}. A restart cuts every connection: restart when no reply is "
                       f"streaming.")
        findings.append(_f(
            "server-restart", "critical" if lost else severity, t, summary,
            client=cut.only.client if cut.only else None, sid=cut.only.sid if cut.only else None,
            delay_ms=delay, evidence_list=ev + cut.evidence + [evidence(r) for r in received]))
    return findings


def detect_transport_delay(ix: _Index) -> list[dict]:
    corr = ix.corr
    # per client: (delay ms, sent at, evidence, session, the receipt's record and time; None
    # for a chat:ready, whose receipt is the client's)
    per_client: dict[str, list[tuple]] = {}
    # the emits and receipts paired (no other record is looked up)
    labels = {r["label"]: r for r in corr.index.of_kind((*EMIT_KINDS, *EMIT_KINDS.values()))}
    for client, fe, be in zip(corr.pairs["client"], corr.pairs["fe"], corr.pairs["be"], strict=True):
        f, b = labels.get(fe), labels.get(be)
        if f is None or b is None:
            continue
        b_t = b["recv_ts"] if b.get("recv_ts") else b["t"]
        per_client.setdefault(client, []).append(((b_t - f["t"]) * 1000, f["t"], [evidence(f), evidence(b)],
                                                  f.get("session"), b, b_t))
    for rec in ix.corr.index.of_kind(["chat.ready.received"]):
        if rec["source"] in FRONTEND_SOURCES and rec.get("server_ms") is not None and rec.get("client_ms") is not None \
                and rec.get("client"):
            skew = corr.skews.get(rec["client"])
            if skew is None or not skew.applied:
                continue
            d = rec["client_ms"] - skew.skew_ms - rec["server_ms"]
            per_client.setdefault(rec["client"], []).append((d, rec["server_ms"] / 1000, [evidence(rec)], None, None,
                                                             None))
    findings = []
    for client, items in per_client.items():
        usual = float(np.median([d for d, *_ in items]))
        limit = max(TRANSPORT_FLOOR_MS, TRANSPORT_FACTOR * max(usual, 1.0))
        for d, t, ev, session, receipt, received in items:
            if d <= limit:
                continue
            ahead = _attach_ahead(ix, receipt.get("sid"), t, received) if receipt is not None else None
            if ahead is None:
                summary = (f"A message took {d / 1000:.1f} s on the wire (usual {usual:.0f} ms for this client, after "
                           f"clock correction): the network or a stalled socket held it; check for a half-open "
                           f"connection or a queued emit around {iso(t)}.")
            else:
                ran = (ahead.done_at - ahead.started_at) * 1000
                event = {"chat.connect.received": "chat:connect", "message.received": "chat:message"}.get(
                    receipt["kind"], "message")
                summary = (f"A {event} sent at {iso(t)} was received {d / 1000:.1f} s later (usual {usual:.0f} ms for "
                           f"this client): it waited on the server behind socket {ahead.sid}'s attach of session "
                           f"{session_key(ahead.session or ahead.key)}, which ran {duration_text(ran)} from its START to "
                           f"its DONE, not on the wire (the server takes one socket's events one at a time). Let "
                           f"chat:connect return before its slow part (the agent's start-up), or handle a socket's "
                           f"events concurrently.")
                ev = ev + [evidence(r) for r in ix.corr.index.at_rows([ahead.start_row, ahead.done_row]) if r]
            findings.append(_f("transport-delay", "critical" if d > 10_000 else "warning", t, summary,
                               session=ix.canonical(session), client=client, delay_ms=d, evidence_list=ev))
    return findings


def _attach_ahead(ix: _Index, sid: str | None, sent: float, received: float) -> Attach | None:
    """The attach of socket ``sid`` that the server was running when an emit sent at
    ``sent`` reached it (started by then, give or take the clocks' milliseconds), and whose
    DONE came just before the emit's receipt at ``received``: the server takes one socket's
    events in order, so the emit waited behind that attach."""
    for a in ix.attaches_of_sid.get((sid or "")[:8] or None, []):
        if a.started_at is not None and a.done_at is not None and a.done_row is not None \
                and a.started_at <= sent + QUEUED_BEHIND_S and 0 <= received - a.done_at <= QUEUED_BEHIND_S:
            return a
    return None


def detect_slow_session_start(ix: _Index) -> list[dict]:
    findings = []
    for a in ix.corr.attaches:
        t11, t12 = a.phases.get("T1.1"), a.phases.get("T1.2")
        if t11 is None or t12 is None:
            continue
        d = float(t12) - float(t11)
        if d >= SLOW_START_MS:
            # (a page that left while it waited: its socket closed before chat:ready could go out)
            gone = f"; the page's socket closed at {iso(a.cut_at)}, before it was sent" if a.cut_at is not None \
                and a.ready_sent_at is None else ""
            findings.append(_f(
                "slow-session-start", "warning", a.started_at,
                f"Creating session {_short(a.session)} took {d / 1000:.1f} s (T1.1 -> T1.2) before chat:ready could "
                f"be sent{gone}: the agent start blocks the attach; start the agent after replying.",
                session=a.session, client=a.client, sid=a.sid, delay_ms=d, evidence_list=a.evidence))
    return findings


def _with_close_lines(ix: _Index, c: Connection, lines: list[dict], otherwise: list[dict]) -> list[dict]:
    """Evidence of a half-open socket: the lines that show its two ends (the server logging
    it closed, the page logging it lost) with ``lines``, in time order; ``otherwise`` (the
    connection's last lines) go first when the page logged no loss of it."""
    server = [r for r in ix.corr.index.be_by_sid.get(c.sid or "", [])
              if r["kind"] == "socket.disconnected" and r["t"] == c.disconnected_at][:1]
    page = [r for r in ix.corr.index.fe_by_client.get(c.client or "", [])
            if r["kind"] == "socket.disconnected" and r["t"] == c.client_disconnected_at][:1]
    shown = [evidence(r) for r in sorted(server + page + lines, key=lambda r: r["t"])]
    return shown if page else otherwise + shown


def detect_half_open(ix: _Index) -> list[dict]:
    findings = []
    conns = ix.corr.connections
    for c in conns:
        if not c.sid:
            continue
        # the server kept a socket the client had already lost
        loss = c.client_disconnected_at
        if loss is None and c.client:
            newer = next((d for d in ix.conns_of.get(c.client, []) if d is not c and d.authenticated_at is not None
                          and (c.connected_at or 0) < (d.connected_at or 0)), None)
            if newer is not None and (c.disconnected_at is None or c.disconnected_at > newer.connected_at):
                ep = next((e for e in ix.episodes_of.get(c.client, []) if e.started_at <= newer.connected_at
                           and e.sid_before == c.sid), None)
                loss = ep.started_at if ep is not None else newer.connected_at
        # (a socket of a process that died "closed" at the next start: the server had no socket
        # left open meanwhile, it had no process; its server-restart finding tells that)
        if loss is not None and c.disconnected_at is not None and c.reason != RESTART_REASON \
                and (c.disconnected_at - loss) * 1000 > HALF_OPEN_MS:
            d = (c.disconnected_at - loss) * 1000
            lost_output = [r for r in ix.corr.index.be_by_sid.get(c.sid, []) if r["kind"] == "output.delivered"
                           and loss < r["t"] <= c.disconnected_at]
            back = _reattached_at(ix, c, lost_output, loss)
            got_back = "" if back is None else (
                f", and the page had them back from the history of its re-attach at {iso(back)}")
            findings.append(_f(
                "half-open", "critical" if lost_output and back is None else "warning", loss,
                f"Socket {c.sid} stayed open on the server {d / 1000:.1f} s after the client lost it "
                f"(closed: {c.reason or 'unknown'}); {len(lost_output)} output event(s) went into the dead socket"
                f"{got_back}. {PING_WINDOW}: shorten the heartbeat or have the client re-attach on resume.",
                client=c.client, sid=c.sid, delay_ms=d,
                evidence_list=_with_close_lines(ix, c, lost_output[:3], c.evidence[-2:])))
        # the client kept using a socket the server had already closed
        if c.disconnected_at is not None and c.client:
            stale = [r for r in ix.corr.index.fe_by_client.get(c.client, []) if r["kind"] in (
                "message.sent", "chat.connect.sent") and r["t"] > c.disconnected_at + 1
                and (c.client_disconnected_at is None or r["t"] < c.client_disconnected_at)]
            # emits on the client's next socket are not into this one, even when the server
            # noticed this one's end only after the client had moved on
            newer = next((d for d in ix.conns_of.get(c.client, []) if d is not c
                          and (d.connected_at or 0) > (c.connected_at or 0)), None)
            if newer is not None:
                stale = [r for r in stale if r["t"] < (newer.connected_at or 0)]
            noticed = c.client_disconnected_at
            # a page in the background or offline meanwhile could not notice: count from its return
            # (a woken page logs what it missed a moment before it logs being visible again)
            back = ix.came_back(c.client, c.disconnected_at, noticed + WAKE_SLACK_S) if noticed is not None else None
            since = c.disconnected_at if back is None else min(back, noticed)
            d = None
            if noticed is not None and (noticed - since) * 1000 > HALF_OPEN_MS:
                d = (noticed - since) * 1000
            elif stale:
                d = (stale[-1]["t"] - c.disconnected_at) * 1000
            if d is not None and d > HALF_OPEN_MS:
                after = f" after its page came back at {iso(back)}" if back is not None and not stale else ""
                findings.append(_f(
                    "half-open", "critical" if stale else "warning", c.disconnected_at,
                    f"The server closed socket {c.sid} ({c.reason or 'no reason'}) but {_the_client(c.client)} "
                    f"went on for {d / 1000:.1f} s{after} believing it was connected ({len(stale)} emit(s) into the "
                    f"dead socket). {PING_WINDOW}: lower the client's ping timeout or check the socket on resume.",
                    client=c.client, sid=c.sid, delay_ms=d,
                    evidence_list=_with_close_lines(ix, c, stale[:3], c.evidence[-1:])))
    return findings


def _reattached_at(ix: _Index, c: Connection, output: list[dict], loss: float) -> float | None:
    """When the page had back what ``output`` (lines of output sent into the dead socket
    ``c``) carried: the last of the re-attaches of their sessions on its next socket, when
    each came within DESYNC_CRITICAL_MS of that socket (a re-attach's history replay holds
    the finished replies); None when one did not, or there was no output."""
    if not output or not c.client:
        return None
    nxt = ix.authenticated_after(c.client, loss)
    if nxt is None:
        return None
    back = nxt.connected_at or 0
    last_of_key = {session_key(r.get("session")): r["t"] for r in output}
    ready = [ix.ready_on_another_socket(c.client, key, t, c.sid) for key, t in last_of_key.items()]
    if any(a is None or (_attach_start(a) - back) * 1000 >= DESYNC_CRITICAL_MS for a in ready):
        return None
    return max(a.ready_at for a in ready)


def _last_attempt(ix: _Index, client: str | None, t0: float) -> list[dict] | None:
    """The client's last reconnect attempt after ``t0`` that came to nothing, as its lines:
    [its 'Connection error'], or [its 'Connected, authenticating...', the 'Disconnected'
    that closed it before it was authenticated]. None when there was none, or the last
    one was authenticated."""
    last: list[dict] | None = None
    for rec in ix.corr.index.fe_by_client.get(client, []) if client else []:
        if rec["t"] <= t0:
            continue
        kind = rec["kind"]
        if kind in ("socket.error", "socket.connected"):
            last = [rec]
        elif kind == "auth.ok":
            last = None
        elif kind == "socket.disconnected" and last is not None and last[0]["kind"] == "socket.connected" \
                and len(last) == 1:
            last = [last[0], rec]
    if last is not None and last[0]["kind"] == "socket.connected" and len(last) == 1:
        return None  # (still authenticating when the log ends)
    return last


def _loaded_again_at(ix: _Index, client: str | None, t0: float) -> float | None:
    """When the page of ``client`` was loaded again after ``t0``: the first line of the next
    page load its log holds (``<clientId>#2`` after ``<clientId>``, see clock.split_page_loads);
    None when it holds none."""
    if not client:
        return None
    lines = ix.corr.index.fe_by_client.get(next_page_load(client))
    return lines[0]["t"] if lines and lines[0]["t"] > t0 else None


def _failed_attempts(ix: _Index, client: str | None, t0: float, t1: float) -> list[dict]:
    """The client's 'Connection error' lines from ``t0`` to ``t1``: the attempts that never
    opened a socket."""
    return [rec for rec in ix.corr.index.fe_by_client.get(client, []) if client
            and t0 < rec["t"] <= t1 and rec["kind"] == "socket.error"]


# a connection error that says the WebSocket could not be opened (socket.io-client: 'websocket error')
_UPGRADE_REFUSED = re.compile(r"websocket error", re.IGNORECASE)
# a page's clock, corrected, may still be off by this much from the server's
_ATTEMPT_SLACK_S = 1.0


def _server_downtimes(ix: _Index) -> list[tuple[float, float | None, str, list[dict]]]:
    """When the server's log shows it was not running: (from, until or None, how, evidence).
    Reloading, or shut down (an end of its process, see :func:`_process_ends`), from that line
    to its next start; killed or dead (a start with no shutdown since the one before) from its
    last line before that start."""
    index = ix.corr.index
    starts = [r for r in index.of_kind(["server.starting"]) if r["source"] == "backend"]
    stops = [("reloaded", r) for r in index.of_kind(["server.reload"]) if r["source"] == "backend"]
    downs: list[tuple[float, float | None, str, list[dict]]] = []
    for how, rec, _ in _process_ends(ix):
        if how == "stop":
            stops.append(("was shut down", rec))
            continue
        times = _backend_times(ix)
        before = times[:times.searchsorted(rec["t"], side="left")]
        if len(before) and rec is not starts[0]:  # (a log's first start ends nothing it shows)
            downs.append((before[-1], rec["t"], f"it logged nothing from {iso(before[-1])} and started again at "
                                                f"{iso(rec['t'])} with no shutdown logged: killed, or died",
                          [evidence(rec)]))
    for how, rec in stops:
        start = next((r for r in starts if r["t"] >= rec["t"]), None)
        if start is None:
            downs.append((rec["t"], None, f"it {how} at {iso(rec['t'])} and did not start again in the logs",
                          [evidence(rec)]))
        else:
            downs.append((rec["t"], start["t"], f"it {how} at {iso(rec['t'])} and started again at "
                                                f"{iso(start['t'])}", [evidence(rec), evidence(start)]))
    return downs


def _backend_times(ix: _Index) -> np.ndarray:
    """The time (epoch s) of every line of the server's logs, of any kind, in time order."""
    if ix.backend_times is None:
        ix.backend_times = np.sort(ix.corr.backend_ns) / 1e9
    return ix.backend_times


def _server_while_refused(ix: _Index, failures: list[dict]) -> tuple[str, str, list[dict]]:
    """Whether the server was running while every attempt of a page failed to open its
    WebSocket: ("down" | "up" | "unknown", how the logs say it, their lines). The page says
    'websocket error' both when nothing answers at the address and when a proxy refuses the
    upgrade; only the server's log tells the two apart."""
    t0, t1 = failures[0]["t"], failures[-1]["t"]
    for start, end, how, lines in _server_downtimes(ix):
        if start <= t0 + _ATTEMPT_SLACK_S and (end is None or end >= t1 - _ATTEMPT_SLACK_S):
            return "down", how, lines
    times = _backend_times(ix)
    logged = times.searchsorted(t1, side="right") - times.searchsorted(t0, side="left")
    if logged:
        first = times[times.searchsorted(t0, side="left")]
        lines = [evidence(r) for r in ix.corr.index.between(t0, t1) if r["source"] == "backend"][:1]
        return "up", f"it logged {logged} line{'s' if logged > 1 else ''} meanwhile, from {iso(first)}", lines
    return "unknown", "", []

# An episode's trigger, as a sentence says it
LOSS_WORDS = {"page.hidden": "its page went to the background", "network.offline": "its network went offline",
              "socket.disconnected": "its socket closed", "server.reload": "the server reloaded"}


def detect_reconnect_failed(ix: _Index) -> list[dict]:
    findings = []
    last_t = ix.corr.last_t
    for ep in ix.corr.episodes:
        if ep.recovered:
            continue
        since = ep.visible_at if ep.visible_at is not None else ep.started_at
        if ep.trigger == "page.hidden" and ep.visible_at is None:
            continue  # still in the background when the logs end: nothing was expected yet
        failures: list[dict] = []
        # a page's log holding a later load of the page (a reload, by hand most likely, or the
        # browser's on return): this load's log ends there, not where the logs end
        reloaded = _loaded_again_at(ix, ep.client, ep.started_at)
        end_t = reloaded if reloaded is not None else last_t
        again = "" if reloaded is None else \
            f"the page was loaded again at {iso(reloaded)}, {max(0.0, reloaded - since):.0f} s after"
        if ep.exhausted_at is not None:
            why = f"it gave up after its retries at {iso(ep.exhausted_at)}"
            failures = _failed_attempts(ix, ep.client, ep.started_at, ep.exhausted_at)
            if failures:
                reasons = list(dict.fromkeys(r.get("reason") or "connection error" for r in failures))
                how = f"all of them with '{reasons[0]}'" if len(reasons) == 1 else \
                    f"the last with '{failures[-1].get('reason') or 'connection error'}'"
                why += f"; {len(failures)} attempt{'s' if len(failures) > 1 else ''} failed to connect, {how}"
            why += f"; {again}" if again else ""
        elif end_t is not None and end_t - since >= RECOVERY_GRACE_S:
            if ep.authenticated_at is not None:
                continue  # reconnected: sessions left behind are missing-resubscribe findings
            why = f"it never reconnected in the {last_t - since:.0f} s of log that follow" if reloaded is None else \
                f"it had not reconnected when {again}"
        else:
            continue
        fix = "Reconnect on visibility/online and re-send chat:connect for every open session."
        server_lines: list[dict] = []
        if failures and all(_UPGRADE_REFUSED.search(r.get("reason") or "") for r in failures):
            state, how, server_lines = _server_while_refused(ix, failures)
            fallback = ("socket.io-client does not fall back to polling unless told to (tryAllTransports: true, "
                        "or transports ['polling', 'websocket']); let WebSockets through, or let the page fall back.")
            if state == "down":
                fix = (f"Every attempt failed while the server was down ({how}): 'websocket error' is what "
                       f"socket.io-client says when nothing answers. Let the page try again when it comes back "
                       f"to the foreground or online after giving up, and re-send chat:connect for every open "
                       f"session once connected.")
            elif state == "up":
                fix = (f"Every attempt failed to open the WebSocket while the server was up ({how}): a proxy or "
                       f"network that refuses WebSocket upgrades would do this, and {fallback}")
            else:
                fix = ("Every attempt failed to open the WebSocket. socket.io-client says 'websocket error' both "
                       "when nothing answers (a server that is down, a phone with no network) and when a proxy "
                       "refuses WebSocket upgrades; the server's log of that time tells which, and none here covers "
                       f"it. If it is a proxy: {fallback}")
        elif failures:
            fix = ("Every attempt failed before a socket opened (see the reason): the server or the network was "
                   "down all along. Let the page try again when it comes back to the foreground or online after "
                   "giving up, and re-send chat:connect for every open session once connected.")
        evidence_list = list(ep.evidence) + [evidence(r) for r in failures[:1] + failures[-1:]] + server_lines
        attempt = _last_attempt(ix, ep.client, ep.started_at) if ep.exhausted_at is None else None
        if attempt is not None and end_t is not None:
            evidence_list += [evidence(r) for r in attempt]  # (_f drops a line cited twice)
            end = attempt[-1]["t"]
            if attempt[0]["kind"] == "socket.error":
                why = f"its last attempt failed at {iso(end)} ({attempt[0].get('reason') or 'connection error'})"
            else:
                why = (f"its reconnect at {iso(attempt[0]['t'])} opened a socket that closed before it was "
                       f"authenticated ({iso(end)})")
            if end_t - end >= RECOVERY_GRACE_S:
                why += f", and it tried no more in the {end_t - end:.0f} s of log that follow" if reloaded is None \
                    else f", and it tried no more before the page was loaded again at {iso(reloaded)}, " \
                         f"{end_t - end:.0f} s after"
                fix = ("Schedule the next attempt whenever one fails, a socket that closes before auth_success "
                       "included, and re-send chat:connect for every open session once connected.")
        delay = ((end_t or since) - ep.started_at) * 1000
        findings.append(_f(
            "reconnect-failed", "critical", ep.started_at,
            f"{_the_client(ep.client, start=True)} lost its connection at {iso(ep.started_at)} "
            f"({LOSS_WORDS.get(ep.trigger, ep.trigger)}) and did not recover: {why}. {fix}",
            session=ep.sessions[0] if len(ep.sessions) == 1 else None, client=ep.client, sid=ep.sid_before,
            delay_ms=delay, evidence_list=evidence_list))
    return findings


def _new_socket(sid: str | None) -> str:
    # the client logged its reconnect, but no backend socket was joined to it (the backend
    # log does not cover that moment, or its connect lines could not be matched to this phone)
    return f"socket {sid}" if sid else "on a socket not identified in the backend log"


def _no_callback(ix: _Index, auto: Attach | None) -> list[dict]:
    """The server's ``has no callback ... auto-connecting`` line that began an auto-connect
    (none for another attach, or one the server's log does not show)."""
    if auto is None or not auto.auto or auto.started_at is None or not auto.sid:
        return []
    return [r for r in ix.corr.index.of_kind(["callback.missing"], auto.started_at - 1.0, auto.started_at)
            if r["source"] == "backend" and (r.get("sid") or "")[:8] == auto.sid[:8]
            and session_key(r.get("session")) == session_key(auto.session or auto.key)][-1:]


def detect_missing_resubscribe(ix: _Index) -> list[dict]:
    findings = []
    last_t = ix.corr.last_t
    for ep in ix.corr.episodes:
        if ep.authenticated_at is None or ep.recovered:
            continue
        missing = [s for s, v in ep.ready_at.items() if v is None]
        # (the time it had to re-attach: until the log ends, or it lost the new socket too, or
        # the page was loaded again: its log holds a later load)
        reloaded = _loaded_again_at(ix, ep.client, ep.authenticated_at)
        if reloaded is not None and ep.lost_again_at is not None and ep.lost_again_at <= reloaded:
            reloaded = None
        end = ep.lost_again_at if ep.lost_again_at is not None else reloaded if reloaded is not None else last_t
        if not missing or end is None:
            continue
        # the page's own word on what it re-sent (the ConnectionManager's re-subscription), which it
        # logs the moment it is authenticated: by its corrected clock, a little before the server's line
        said = [r for r in ix.corr.index.of_kind(["chat.resubscribe.batch"],
                                                 max(ep.started_at, ep.authenticated_at - CLOCK_SLACK_S),
                                                 min(end, ep.authenticated_at + RESUBSCRIBE_WINDOW_S))
                if r.get("client") == ep.client][:1]
        # too soon to tell (unless the log shows how it ended: a later attach); but a page that lost
        # the new socket soon after can have said already that its re-subscription skipped sessions
        too_soon = end - ep.authenticated_at < RECOVERY_GRACE_S / 2 and not (
            ep.lost_again_at is not None and said and (said[0].get("total") or 0) > 0)
        own = (f"; its log says it re-sent {said[0].get('n')} subscription(s) after the reconnect and skipped "
               f"{said[0].get('total')}") if said else ""
        for s in missing:
            later: Attach | None = next((a for a in ix.attaches_of(s, ep.client) if a.ready_at is not None
                                         and ep.authenticated_at < a.ready_at <= end), None)
            if too_soon and later is None:
                continue
            auto = later is not None and later.auto
            delay = ((later.ready_at if later else end) - ep.authenticated_at) * 1000
            output = ix.output_after(session_key(s), ep.authenticated_at, 3)
            found = _f(
                # (re-attached later, or the socket lost again, as a flaky network loses it within a
                # moment: an outage when output waited as long as a desync's critical one; the next
                # socket's own episode tells the rest)
                "missing-resubscribe",
                "critical" if (later is None and ep.lost_again_at is None and reloaded is None)
                or (output and delay >= DESYNC_CRITICAL_MS)
                else "warning",
                ep.authenticated_at,
                f"Session {_short(s)} was attached before the loss but was not re-attached after "
                f"{_the_client(ep.client)} reconnected ({_new_socket(ep.sid_after)}){own}; its output reaches no one "
                + (f"until the server, finding no callback for it, auto-connects it on its next message at "
                   f"{iso(later.ready_at)}" if auto else
                   f"until {iso(later.ready_at)}" if later else
                   f"until the client lost that socket too at {iso(end)}" if ep.lost_again_at is not None else
                   f"until the page was loaded again at {iso(end)}" if reloaded is not None else
                   "for the rest of the log")
                + ". Re-send chat:connect for every open session after a reconnect.",
                session=s, client=ep.client, sid=ep.sid_after, delay_ms=delay,
                evidence_list=ep.evidence + [evidence(r) for r in said + output + _no_callback(ix, later)]
                + (later.evidence[-1:] if auto else []))
            if auto:  # (the callback-desync of the same socket and session that auto-connect ends, told here)
                found["_auto"] = (ep.client, session_key(s), ep.authenticated_at, later.ready_at)
            findings.append(found)
    return findings


def detect_polling(ix: _Index) -> list[dict]:
    by_client: dict[str, list[dict]] = {}
    for rec in ix.corr.index.polling:
        if rec["source"] in FRONTEND_SOURCES and rec.get("client"):
            by_client.setdefault(rec["client"], []).append(rec)
    findings = []
    for client, recs in by_client.items():
        sids = sorted({c.sid for c in ix.corr.connections if c.client == client and c.transport == "polling" and c.sid})
        findings.append(_f(
            "polling-fallback", "warning", recs[0]["t"],
            f"{_the_client(client, start=True)} fell back to HTTP long-polling ({len(recs)} line(s)): WebSocket "
            f"upgrades fail on its network or proxy; every message now costs a request round trip and disconnects are "
            f"noticed late. Check the proxy's WebSocket support.",
            client=client, sid=sids[0] if len(sids) == 1 else None, evidence_list=[evidence(r) for r in recs[:5]]))
    return findings


def detect_auth_failed(ix: _Index) -> list[dict]:
    findings = []
    groups: dict[str | None, list[dict]] = {}
    for rec in ix.corr.index.of_kind(("auth.failed",)):
        client = rec.get("client") if rec["source"] in FRONTEND_SOURCES else ix.client_of(rec.get("sid"))
        groups.setdefault(client, []).append(rec)
    for client, recs in groups.items():
        last = recs[-1]["t"]
        # (by its client, or by its sockets when no page log names it: the server's log alone
        # shows a socket that sent a good token after a bad one)
        sids = {r.get("sid") for r in recs if r.get("sid")}
        ok_after = any(((client and c.client == client) or c.sid in sids or (c.sid or "")[:8] in sids)
                       and c.authenticated_at is not None and c.authenticated_at > last for c in ix.corr.connections)
        shown = sorted({sid[:8] for sid in sids})
        reasons = sorted({r.get("reason") for r in recs if r.get("reason")})
        findings.append(_f(
            "auth-failed", "warning" if ok_after else "critical", recs[0]["t"],
            f"Authentication was refused {len(recs)} time(s)" + (f" ({'; '.join(reasons)})" if reasons else "")
            + (" and later succeeded" if ok_after else " and never succeeded afterwards")
            + ": the client's token does not match the server's AUTH_TOKEN; update the token on the client.",
            client=client, sid=shown[0] if len(shown) == 1 else None, evidence_list=[evidence(r) for r in recs[:5]]))
    return findings


# ---- every other WARNING / ERROR line -----------------------------------------------------

_NORMALIZE = re.compile(r"\b(?:[0-9a-f]{8}(?:-[0-9a-f-]{27})?|new-\d+|[A-Za-z0-9_-]{8}(?=[, )])|\d+(?:\.\d+)?)\b")


def _signature(ix: _Index, rec: dict) -> str:
    if rec.get("shape"):
        return rec["shape"]
    text = ix.corr.text(rec)
    message = text.split(" - ", 3)[-1] if rec["source"] == "backend" else text
    return _NORMALIZE.sub("#", message)[:160]


def _benign(ix: _Index, rec: dict) -> str | None:
    """Why a warning is harmless in its context, or None when it is not."""
    shape = rec.get("shape")
    t = rec["t"]
    if shape == "sio.result_not_dict":
        if ix.corr.index.has_kind(["message.completed"], t, t + 2.0):
            return "the agent's final 'result' record is not a stream chunk; the reply completed right after"
    if shape == "sm.file_missing" and (rec.get("session") or "").startswith("new-"):
        return "a brand-new session (temporary id) has no agent session file yet; one is created"
    if shape == "sm.reader_stopped":
        if ix.corr.index.has_kind(("server.stopping", "server.stopped", "server.reload"), t - 5.0, t):
            return ("the agent readers stop because the server is shutting down; a shutdown that cut a "
                    "connection or a reply has a server-reload or server-restart finding of its own")
    return None


CONTEXT_KINDS = ("server.reload", "server.starting", "server.stopping", "session.switched", "socket.disconnected",
                 "session.creating")


def _window(items: list[tuple[float, str]], times: np.ndarray, t0: float, t1: float) -> list[tuple[float, str]]:
    """The items with ``t0 <= t < t1``."""
    lo, hi = int(times.searchsorted(t0, side="left")), int(times.searchsorted(t1, side="left"))
    return items[lo:hi]


class _ContextNotes:
    """What happened around each socket and session, as (time, note) lists with their
    times, so a finding's context is a few binary searches."""

    def __init__(self, ix: _Index):
        server: list[tuple[float, str]] = []
        by_sid: dict[str, list[tuple[float, str]]] = {}
        by_key: dict[str, list[tuple[float, str]]] = {}
        for rec in ix.corr.index.of_kind(CONTEXT_KINDS):
            kind = rec["kind"]
            rsid = (rec.get("sid") or "")[:8]
            if kind in ("server.reload", "server.starting", "server.stopping"):
                server.append((rec["t"], kind.replace(".", " ")))
            elif kind == "session.switched":
                note = (rec["t"], f"socket {rsid} switched {rec.get('from_session')} -> {rec.get('session')}")
                for k in {rsid, session_key(rec.get("session")), session_key(rec.get("from_session"))}:
                    if k:
                        (by_sid if k == rsid else by_key).setdefault(k, []).append(note)
            elif kind == "socket.disconnected" and rsid:
                by_sid.setdefault(rsid, []).append((rec["t"], f"disconnect ({rec.get('reason') or 'no reason'})"))
            elif kind == "session.creating" and rec.get("session"):
                by_key.setdefault(session_key(rec["session"]), []).append((rec["t"], "session created"))
        self.server = (server, np.array([x[0] for x in server]))
        self.by_sid = {k: (v, np.array([x[0] for x in v])) for k, v in by_sid.items()}
        self.by_key = {k: (v, np.array([x[0] for x in v])) for k, v in by_key.items()}


def context_before(ix: _Index, t: float, client: str | None, sid: str | None, session: str | None) -> str | None:
    """What this client / socket / session went through in the minute before ``t``. Strictly
    before: what happened at ``t`` is the finding itself (a switch that cut a reply off, the
    auto-connect of a desync), which its summary already tells, not what led to it."""
    if ix.context is None:
        ix.context = _ContextNotes(ix)
    ctx = ix.context
    t0 = t - CONTEXT_WINDOW_S
    notes: list[tuple[float, str]] = list(_window(*ctx.server, t0, t))
    for ep in ix.episodes_of.get(client, []) if client else []:
        if t0 <= ep.started_at < t:
            state = "recovered" if ep.recovered_at is not None and ep.recovered_at <= t else "not yet recovered"
            notes.append((ep.started_at, f"{ep.trigger} (reconnect episode, {state})"))
    if sid and sid[:8] in ctx.by_sid:
        notes += _window(*ctx.by_sid[sid[:8]], t0, t)
    key = session_key(session)
    if key and key in ctx.by_key:
        notes += _window(*ctx.by_key[key], t0, t)
    if not notes:
        return None
    notes = sorted(set(notes))
    return "; ".join(f"{iso(at)} {what}" for at, what in notes[-3:])


def _session_at(ix: _Index, rec: dict) -> str | None:
    """The session a line names; a bare temporary-id prefix (ambiguous: every new session of
    the same second shares it) resolves to the server attach the line was written in."""
    session = ix.canonical(rec.get("session"))
    if session and session.startswith("new-") and len(session) <= 8 and rec["source"] == "backend":
        for a in ix.corr.attaches:
            end = a.ready_sent_at if a.ready_sent_at is not None else (a.started_at or 0) + 5
            if a.started_at is not None and a.started_at <= rec["t"] <= end and a.session:
                return a.session
    return session


def _concerns(ix: _Index, rec: dict) -> tuple[str | None, str | None, str | None]:
    """The socket (8-character prefix), client and session a line is about."""
    sid = (rec.get("sid") or "")[:8] or None
    client = rec.get("client") if rec["source"] in FRONTEND_SOURCES else ix.client_of(sid)
    return sid, client, _session_at(ix, rec)


def detect_app_lines(ix: _Index, used: set[tuple[str, int]]) -> list[dict]:
    # (line, why it is harmless or None)
    groups: dict[tuple[str, str], list[tuple[dict, str | None]]] = {}
    for rec in ix.corr.index.alarms:
        level = rec.get("level")
        if (rec["path"], rec["line"]) in used or rec["kind"] in ("server.reload", "callback.missing", "auth.failed"):
            continue
        kind = "app-error" if level in ("ERROR", "CRITICAL") or rec["kind"] == "app.error" else "app-warning"
        groups.setdefault((kind, _signature(ix, rec)), []).append((rec, _benign(ix, rec)))
    findings = []
    for (kind, _sig), items in groups.items():
        # a harmful repeat is told per session and client: each has its own context, and a
        # finding names the one session and client it is about (a filter on another must not
        # lose it); a harmless one is told once
        harmful: dict[tuple, list[tuple[dict, str | None]]] = {}
        for item in items:
            if item[1] is None:
                harmful.setdefault(_concerns(ix, item[0])[1:], []).append(item)
        benign = [item for item in items if item[1] is not None]
        for subset, is_benign in [*((x, False) for x in harmful.values()), (benign, True)]:
            if not subset:
                continue
            first = subset[0][0]
            sid, client, session = _concerns(ix, first)
            text = ix.corr.text(first)
            message = text.split(" - ", 3)[-1] if first["source"] == "backend" else text
            count = f"{len(subset)}x " if len(subset) > 1 else ""
            about = ""
            if is_benign:
                severity = "info"
                advice = f"Harmless here: {subset[0][1]}."
                # (told once for all: the first line names one session, the others others)
                sessions = list(dict.fromkeys(x for item in subset if (x := item[0].get("session"))))
                if len(sessions) > 1:
                    names = ", ".join(_short(x) for x in sessions[:5]) + (", ..." if len(sessions) > 5 else "")
                    about = f" (about {len(sessions)} sessions: {names})"
            elif kind == "app-error":
                severity = "critical" if first.get("traceback") else "warning"
                advice = "An error of the application: read the context and the traceback."
                # (the exception the traceback ends in, what a reader of a report, where the
                # traceback is not, needs first)
                raised = [x.strip() for x in str(first.get("traceback") or "").splitlines() if x.strip()]
                if raised:
                    advice = f"An error of the application, which raised {raised[-1][:200]}: read the context " \
                             "and the traceback under its line."
            else:
                severity = "warning"
                advice = "A warning of the application: the context says what led to it."
            ev = [evidence(item[0]) for item in subset[:5]]
            context = context_before(ix, first["t"], client, sid, session)
            findings.append(_f(kind, severity, first["t"], f"{count}{message.strip()[:200]}{about} — {advice}",
                               session=session, client=client, sid=sid, context=context,
                               evidence_list=ev, occurrences=len(subset), last_at=subset[-1][0]["t"]))
    return findings


def detect_history_window(ix: _Index) -> list[dict]:
    """The page asked to resume after a seq (chat:connect with ``last_seq``, the seq
    extension) and the server replayed its history window instead of the events after it."""
    findings = []
    messages: dict[str | None, list[dict]] | None = None
    for a in ix.corr.attaches:
        if a.last_seq is None or a.resumed or a.history_count is None:
            continue
        total = a.history_total if a.history_total is not None else a.history_count
        cut = a.history_count < total
        lines = [r for r in ix.corr.index.at_rows([x for x in (a.received_row, a.history_row) if x is not None])
                 if r is not None]
        replay = f"the last {a.history_count} of its {total} history messages" if cut else \
            f"its whole history ({total} message{'' if total == 1 else 's'})"
        at = a.received_at or a.started_at or 0.0
        if messages is None:  # (the session's messages, grouped once: not a pass over all per attach)
            messages = {}
            for m in _replies(ix).messages:
                messages.setdefault(m["key"], []).append(m)
        what, lost = _left_out(ix, a, at, messages.get(a.key, [])) if cut else \
            ("what the page already had is shown again", False)
        # a reply being written as it came back: the history holds finished messages only
        writing = [m for m in messages.get(a.key, ()) if m["rec"]["t"] < at and (m["until"] is None or m["until"] > at)]
        if writing:
            what += (f". A reply was being written as it came back (to the message of "
                     f"{iso(writing[-1]['rec']['t'])}): what the agent wrote of it while the page was away is in "
                     "neither the replay nor the live output, so the page shows that reply from the middle until "
                     "its final message")
            lines.insert(0, writing[-1]["rec"])
        findings.append(_f(
            "history-window", "critical" if lost else "warning", at,
            f"Session {_short(a.session)}: {_the_client(a.client)} asked to resume after seq {a.last_seq} "
            f"(chat:connect with last_seq), but the server ignored it and replayed {replay}: {what}. Fix: "
            f"replay the events after last_seq, or a window that covers everything since the page's last one.",
            session=a.session, client=a.client, sid=a.sid, evidence_list=[evidence(r) for r in lines],
            repeats=True))
    return findings


def _left_out(ix: _Index, a: Attach, at: float, messages: list[dict]) -> tuple[str, bool]:
    """What a history window that held only the last of a session's messages left out, said
    as far as the logs tell it (they carry no seq of a replayed message), and whether
    something made while the page was away may be lost to it (False: known to be replayed).

    Known: the messages made since the page's previous attach of the session (the two
    'Loaded n/total' lines), a bound on those made while it was away: all replayed when the
    window holds as many; and, while the page was away (from the start of the reconnect
    episode this attach ends), the messages other pages sent and the replies completed, each
    at least one message: some lost when they outnumber the window."""
    n = a.history_count
    shown = "what it already had is shown again"
    before = [b for b in ix.corr.attaches if a.client and b.client == a.client and b.key == a.key
              and b.history_total is not None and _attach_start(b) < _attach_start(a)]
    prev = max(before, key=_attach_start) if before else None
    loss = max((ep.started_at for ep in ix.episodes_of.get(a.client or "", ())
                if ep.started_at <= at and (ep.recovered_at is None or ep.recovered_at >= at)), default=None)
    if loss is not None and (prev is None or _attach_start(prev) <= loss):
        made = sum(loss < m["rec"]["t"] < at and ix.client_of(m["sid"]) != a.client for m in messages) + \
            sum("completed" in m and loss < m["until"] < at for m in messages)
        if made > n:
            return (f"at least {made} messages were made while the page was away (since {iso(loss)}), more than "
                    f"the {n} replayed: at least {made - n} of them {'is' if made - n == 1 else 'are'} lost to it, and "
                    f"{shown}"), True
    if prev is not None:
        since = a.history_total - prev.history_total if a.history_total is not None else None
        t_prev = prev.ready_at or prev.started_at or prev.requested_at
        if since is not None and 0 <= since <= n:
            held = "no message was made" if since == 0 else \
                "the window holds the one message made" if since == 1 else f"the window holds all {since} messages made"
            return (f"{held} since the page's previous attach of it at {iso(t_prev)}, so nothing made while it was "
                    f"away is lost, but {shown}"), False
        if since is not None and since > n:
            return (f"{since} messages were made since the page's previous attach of it at {iso(t_prev)}, more "
                    f"than the {n} replayed, and the logs carry no seqs of replayed messages: whether any made "
                    f"while it was away is left out (and lost to it) they cannot tell; {shown}"), True
    return (f"the logs carry no seqs of replayed messages and do not show how many were made while the page was "
            f"away: whether any of them is left out (and lost to it) they cannot tell; {shown}"), True


DETECTORS: tuple[Callable[[_Index], list[dict]], ...] = (
    detect_server_reload, detect_server_restart, detect_transport_delay, detect_slow_session_start, detect_half_open,
    detect_reconnect_failed, detect_missing_resubscribe, detect_polling, detect_auth_failed, detect_history_window,
)


def _told_once(findings: list[dict]) -> list[dict]:
    """A session a page did not re-attach after a reconnect until its next message made the
    server auto-connect it is one problem, with one fix: its ``missing-resubscribe`` (from the
    reconnect to that auto-connect) and the ``callback-desync`` of the same page, socket and
    session that auto-connect ends (its wait counted from the reconnect too) were two findings.
    The missing-resubscribe tells it (with the server's ``has no callback`` line), at the
    worse of the two severities; the desync is not told again."""
    merged: dict[tuple, list[dict]] = {}  # (client, session key) -> its missing-resubscribes ended by an auto-connect
    for f in findings:
        if f.get("_auto"):
            merged.setdefault(f["_auto"][:2], []).append(f)
    out = []
    for f in findings:
        twin = None
        if f["kind"] == "callback-desync" and f.pop("_reconnect", False):
            twin = next((m for m in merged.get((f["client"], session_key(f["session"])), ())
                         if (m["sid"] == f["sid"] or not m["sid"] or not f["sid"])
                         and m["_auto"][2] - CLOCK_SLACK_S <= f["at"] <= m["_auto"][3] + CLOCK_SLACK_S), None)
        f.pop("_reconnect", None)
        if twin is None:
            out.append(f)
        elif SEVERITY_RANK[f["severity"]] < SEVERITY_RANK[twin["severity"]]:
            twin["severity"] = f["severity"]
    for f in out:
        f.pop("_auto", None)
    return out


def _one_outage(findings: list[dict]) -> list[dict]:
    """A reply cut off live when its socket attached another session, and the callback-desync of
    that socket and session whose wait runs from the same switch (the session had no callback
    from then until a message auto-connected it, whose replay is where the page saw the reply),
    are one outage with one cause: the single-live-session finding tells it, with the server's
    'has no callback' line, at the worse of the two severities; the desync is not told again."""
    cuts = {f.pop("_cut"): f for f in findings if "_cut" in f}
    out = []
    for f in findings:
        cut = cuts.get(f.pop("_dropped", None))
        if cut is None:
            out.append(f)
            continue
        found = (f"The session had no callback on the socket from then: the next message to it found none at "
                 f"{iso(f['at'])} and the server auto-connected it.")
        cut["summary"] = cut["summary"].removesuffix(FIX_CUT) + f"{found} {FIX_CUT}"
        cut["evidence"] = _dedupe(cut["evidence"] + f["evidence"])
        cut["_what"] = cut["_what"] + f["_what"]  # (a message that found no callback, and the reply it cut)
        if SEVERITY_RANK[f["severity"]] < SEVERITY_RANK[cut["severity"]]:
            cut["severity"] = f["severity"]
        if cut["delay_ms"] is None:
            cut["delay_ms"] = f["delay_ms"]
    return out


def _worst_first(f: dict) -> tuple:
    return SEVERITY_RANK[f["severity"]], -(f["delay_ms"] or 0.0), f["at"] or 0.0


def fold_repeats(findings: list[dict]) -> list[dict]:
    """One finding per problem and period: the recurrences of a warning of the same kind,
    client, session and socket (a socket lives from one connect to the next loss, so a
    reconnect starts a new period, with its own cause) become their worst one, which keeps
    its evidence and says how many times and over what span; ``occurrences``, ``first_at``
    and ``last_at`` give the same as data. The warnings whose cause is the server keeping
    one live session per socket fold by client and socket alone, whatever the session or
    kind (a message that found no callback, a reply cut off live, sessions re-attached in
    turn), and say how many of each: a phone whose two chats share a socket on such a server
    otherwise gets a warning per message and per chat. A critical finding (output held back
    past the threshold, a reply never shown) is an outage the user saw, each with its own
    time and lines: those stay one per incident."""
    groups: dict[tuple, list[dict]] = {}
    out = []
    for f in findings:
        key = f.pop("_fold", None)
        if key is None or f["severity"] == "critical":
            out.append(f)
        else:
            groups.setdefault(key, []).append(f)
    for key, items in groups.items():
        worst = min(items, key=_worst_first)
        if len(items) > 1:
            times = [t for f in items for t in (f["first_at"], f["last_at"]) if t is not None]
            what = f" ({_what_happened(items)})" if key[0] == ONE_LIVE_SESSION else ""
            worst["occurrences"] = sum(f["occurrences"] for f in items)
            worst["first_at"], worst["last_at"] = min(times), max(times)
            where = f"socket {worst['sid']}" if worst["sid"] else "the same socket of the page"
            worst["summary"] += (f" This happened {worst['occurrences']} times on {where}, from "
                                 f"{iso(worst['first_at'])} to {iso(worst['last_at'])}{what}; the worst is "
                                 f"described.")
        out.append(worst)
    for f in out:
        f.pop("_what", None)
    return out


def _what_happened(items: list[dict]) -> str:
    """What the server keeping one live session per socket did on one socket, in words: the
    messages that found their session without a callback, the replies cut off live, the
    reconnects that re-attached sessions in turn."""
    n = {what: sum(f["occurrences"] for f in items if what in f.get("_what", ())) for what in ("desync", "cut", "turn")}
    parts = []
    if n["desync"]:
        parts.append("1 message found its session without a callback" if n["desync"] == 1 else
                     f"{n['desync']} messages found their session without a callback")
    if n["cut"]:
        parts.append("1 reply was cut off live" if n["cut"] == 1 else f"{n['cut']} replies were cut off live")
    if n["turn"]:
        parts.append("1 reconnect re-attached its sessions in turn" if n["turn"] == 1 else
                     f"{n['turn']} reconnects re-attached their sessions in turn")
    return ", ".join(parts)


def rank(findings: list[dict]) -> list[dict]:
    """Most severe first, then the costliest, then the earliest; ids follow the order."""
    findings.sort(key=_worst_first)
    for i, f in enumerate(findings, 1):
        f["id"] = f"F{i}"
    return findings


def detect(corr: Correlation) -> list[dict]:
    """Every finding of a correlated timeline, ranked."""
    ix = _Index(corr)
    findings = detect_callback_desync(ix) + detect_single_live_session(ix)
    for detector in DETECTORS:
        findings += detector(ix)
    # lines a named finding explains are no app-warning, whether or not their finding folds away
    used = {(e["path"], e["line"]) for f in findings for e in f["evidence"]}
    findings = fold_repeats(_one_outage(_told_once(findings)) + detect_app_lines(ix, used))
    for f in findings:
        if f["context"] is None:
            f["context"] = context_before(ix, f["at"] or 0.0, f["client"], f["sid"], f["session"])
    return rank(findings)

"""A timeline as Chrome trace-event JSON, so it opens in Perfetto UI or chrome://tracing
(pure: the ``jarvis-diag.timeline/1`` document in, the trace document out).

Layout: a process per client with one track for the client itself (reconnect episodes) and
one per connection (socket sid); a "server" process for connections no client was joined
to; a "sessions" process with one track per chat session (its attaches). Findings are
instant events on their session's track, else their client's, else global. Times are
microseconds since the Unix epoch, as the trace format wants.
"""

from __future__ import annotations

from datetime import datetime

SERVER_PID = 1
_SEVERITY_SCOPE = "t"  # thread-scoped instant: drawn on its track


def _us(iso: str | None) -> int | None:
    if not iso:
        return None
    return round(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1_000_000)


class _Tracks:
    """Hands out stable pid/tid numbers and writes their name metadata."""

    def __init__(self) -> None:
        self.meta: list[dict] = []
        self.pids: dict[str, int] = {}
        self.tids: dict[tuple[int, str], int] = {}

    def process(self, key: str, name: str) -> int:
        if key not in self.pids:
            pid = self.pids[key] = len(self.pids) + 1
            self.meta.append({"ph": "M", "name": "process_name", "pid": pid, "tid": 0, "args": {"name": name}})
            self.meta.append({"ph": "M", "name": "process_sort_index", "pid": pid, "tid": 0,
                              "args": {"sort_index": pid}})
        return self.pids[key]

    def thread(self, pid: int, key: str, name: str) -> int:
        if (pid, key) not in self.tids:
            tid = self.tids[(pid, key)] = sum(1 for p, _ in self.tids if p == pid) + 1
            self.meta.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": tid, "args": {"name": name}})
            self.meta.append({"ph": "M", "name": "thread_sort_index", "pid": pid, "tid": tid,
                              "args": {"sort_index": tid}})
        return self.tids[(pid, key)]


def _end_of(doc: dict) -> int | None:
    """The last instant named anywhere in the document (open spans end there)."""
    last = None

    def walk(x):
        nonlocal last
        if isinstance(x, dict):
            for k, v in x.items():
                if isinstance(v, str) and (k.endswith("_at") or k in ("at", "first", "last")):
                    us = _us(v) if len(v) >= 19 and v[4] == "-" else None
                    if us is not None and (last is None or us > last):
                        last = us
                else:
                    walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(doc)
    return last


def _span(name: str, cat: str, start: int, end: int | None, pid: int, tid: int, args: dict) -> dict:
    return {"ph": "X", "name": name, "cat": cat, "ts": start, "dur": max((end or start) - start, 0),
            "pid": pid, "tid": tid, "args": args}


def to_trace(timeline: dict) -> dict:
    """The Chrome trace-event document of a ``jarvis-diag.timeline/1`` document."""
    tracks = _Tracks()
    events: list[dict] = []
    end = _end_of(timeline)
    tracks.process("server", "server")
    client_pid: dict[str, int] = {}
    for cid in sorted({c.get("client") for c in timeline.get("connections") or () if c.get("client")} |
                      {e.get("client") for e in timeline.get("episodes") or () if e.get("client")}):
        client_pid[cid] = tracks.process(f"client:{cid}", f"client {cid}")
        tracks.thread(client_pid[cid], "client", f"client {cid}")

    for conn in timeline.get("connections") or ():
        sid = str(conn.get("sid"))
        pid = client_pid.get(conn.get("client"), SERVER_PID)
        tid = tracks.thread(pid, f"conn:{sid}", f"connection {sid}")
        start = _us(conn.get("connected_at"))
        if start is None:
            continue
        stop = _us(conn.get("disconnected_at")) or end
        events.append(_span(f"connection {sid}", "connection", start, stop, pid, tid, {
            "transport": conn.get("transport"), "reason": conn.get("reason"),
            "open at end of logs": conn.get("disconnected_at") is None}))
        auth = _us(conn.get("authenticated_at"))
        if auth is not None:
            events.append({"ph": "i", "s": "t", "name": "authenticated", "cat": "connection", "ts": auth,
                           "pid": pid, "tid": tid, "args": {}})

    for ep in timeline.get("episodes") or ():
        pid = client_pid.get(ep.get("client"))
        start = _us(ep.get("started_at"))
        if pid is None or start is None:
            continue
        tid = tracks.thread(pid, "client", f"client {ep.get('client')}")
        stop = _us(ep.get("recovered_at")) or end
        state = "recovered" if ep.get("recovered") else "NOT recovered"
        events.append(_span(f"episode: {ep.get('trigger')} ({state})", "episode", start, stop, pid, tid, {
            k: ep.get(k) for k in ("sid_before", "sid_after", "visible_at", "connected_at", "authenticated_at",
                                   "duration_ms", "sessions")}))
        for key in ("visible_at", "connected_at", "authenticated_at"):
            t = _us(ep.get(key))
            if t is not None:
                events.append({"ph": "i", "s": "t", "name": key.removesuffix("_at"), "cat": "episode", "ts": t,
                               "pid": pid, "tid": tid, "args": {}})

    sessions_pid = tracks.process("sessions", "sessions")
    session_tid: dict[str, int] = {}
    aliases: dict[str, str] = {}
    for sess in timeline.get("sessions") or ():
        key = str(sess.get("session"))
        session_tid[key] = tracks.thread(sessions_pid, key, f"session {key[:8]}")
        for alias in [key[:8], *(sess.get("temp_ids") or ())]:
            aliases[alias] = key
        for att in sess.get("attaches") or ():
            start = _us(att.get("requested_at") or att.get("received_at"))
            if start is None:
                continue
            stop = _us(att.get("ready_received_at") or att.get("ready_sent_at") or att.get("history_end_at"))
            events.append(_span(f"attach {att.get('kind')}", "attach", start, stop, sessions_pid, session_tid[key], {
                "client": att.get("client"), "sid": att.get("sid"), "latency_ms": att.get("latency_ms"),
                "server_ms": att.get("server_ms"), "transport_ms": att.get("transport_ms"),
                "phases": att.get("phases")}))

    for f in timeline.get("findings") or ():
        t = _us(f.get("at"))
        if t is None:
            continue
        args = {"severity": f.get("severity"), "summary": f.get("summary"), "delay_ms": f.get("delay_ms"),
                "evidence": [f"{e.get('path')}:{e.get('line')} {e.get('text')}" for e in f.get("evidence") or ()]}
        name = f"{f.get('severity')}: {f.get('kind')}"
        session = aliases.get(str(f.get("session")), f.get("session"))
        if session in session_tid:
            events.append({"ph": "i", "s": "t", "name": name, "cat": "finding", "ts": t, "pid": sessions_pid,
                           "tid": session_tid[session], "args": args})
        elif f.get("client") in client_pid:
            pid = client_pid[f["client"]]
            events.append({"ph": "i", "s": "t", "name": name, "cat": "finding", "ts": t, "pid": pid,
                           "tid": tracks.thread(pid, "client", f"client {f['client']}"), "args": args})
        else:
            events.append({"ph": "i", "s": "g", "name": name, "cat": "finding", "ts": t, "pid": SERVER_PID,
                           "tid": 0, "args": args})

    events.sort(key=lambda e: (e["ts"], e["pid"], e["tid"], -e.get("dur", 0)))
    return {"traceEvents": tracks.meta + events, "displayTimeUnit": "ms",
            "otherData": {"source": timeline.get("schema"), "clock": timeline.get("clock")}}

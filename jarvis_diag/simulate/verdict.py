"""The verdict of one client-cycle, computed from what the client recorded. Pure.

The client pump records :class:`Obs` (observations: what it did and what it received,
with the wall time). :func:`cycle_verdict` turns one cycle's observations into the
``jarvis-diag.sim/1`` record of ``results.jsonl`` (docs/formats.md):

* recovered: connected and authenticated again, every session attached to the current
  socket by the client's own ``chat:connect`` before the user sends anything, and a message
  sent to each session afterwards got its whole reply live (``chat:result``), all within
  the deadline;
* times from "visible again" to connected, authenticated, each session ready, its history
  end, its first live output;
* lost / duplicated per session: what the user never sees, or sees twice. With ``seq``
  (the server sends it, the client resumes with ``last_seq`` and the server resumed) every
  seq in the cycle's range must arrive exactly once; otherwise, from the content: each
  message sent before the background must have its reply in the client's view, live or in
  a replayed history (which holds finished messages, not their streamed chunks), and no
  reply may be in the view twice.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from jarvis_diag.report.metrics import percentile

SCHEMA = "jarvis-diag.sim/1"

# Server -> client chat events that carry agent output (live or replayed).
OUTPUT_EVENTS = frozenset({
    "chat:stream", "chat:stream_end", "chat:thinking_start", "chat:thinking_delta", "chat:thinking_end",
    "chat:assistant", "chat:tool_call", "chat:tool_result", "chat:system", "chat:result",
})


@dataclass(slots=True)
class Obs:
    """One observation of a virtual client (``t``: epoch seconds)."""

    t: float
    kind: str
    client: int = 0
    session: str | None = None  # the client's key of the session
    event: str | None = None
    seq: int | None = None
    replay: bool = False
    content: str | None = None
    message: str | None = None  # the user message a reply belongs to, when known
    sid: str | None = None
    detail: dict[str, Any] | None = None


@dataclass(slots=True)
class SessionCycle:
    """What the verdict needs to know of one session besides the observations."""

    key: str
    temp_id: str | None
    uuid: str | None
    background_message: str | None  # sent just before the page went to the background
    probe_message: str | None  # sent after recovery; None when it could not be sent
    attached_before_probe: bool  # chat:ready on the current socket, requested by the client
    seq_check: bool  # the server sent seq and the client resumed with last_seq
    seen_before: set[int] = field(default_factory=set)  # seqs delivered before the cycle
    # the page appends a replayed history to what it shows (the old frontend) instead of
    # merging it: a message it showed before the re-attach is then shown twice
    replay_appends: bool = False


def _ms(t: float | None, t0: float) -> float | None:
    return None if t is None else round((t - t0) * 1000, 1)


def _first(obs: list[Obs], pred, after: float) -> Obs | None:
    return next((o for o in obs if o.t >= after and pred(o)), None)


def _seq_counts(obs: list[Obs], s: SessionCycle) -> dict[str, Any]:
    counts = Counter(o.seq for o in obs if o.session == s.key and o.seq is not None and o.kind in ("chat", "ack"))
    seen = set(counts) | s.seen_before
    start = max(s.seen_before, default=0)
    top = max(seen, default=0)
    produced = [q for q in range(start + 1, top + 1)]
    lost = [q for q in produced if q not in seen]
    duplicated = sorted(q for q, c in counts.items() if c + (q in s.seen_before) > 1)
    # a reply never made (the agent stopped by a restart before its first output) leaves no
    # gap in the seqs, but the user's message goes unanswered: lost, as the content check says
    unanswered = s.background_message is not None and not any(
        o.session == s.key and o.kind == "chat" and o.event in OUTPUT_EVENTS and o.message == s.background_message
        for o in obs)
    return {"produced": len(produced), "lost_seqs": lost, "duplicated_seqs": duplicated, "check": "seq",
            "_lost": len(lost) + unanswered}


def _resumed_only(mine: list[Obs]) -> bool:
    """Every attach of the cycle replayed the events after the page's last seq. A server that
    answered with its history instead (``resumed: false``) replays finished messages, not the
    chunks they were streamed in: what the page shows is then judged by content."""
    return not any(o.kind == "ready" and (o.detail or {}).get("resumed") is False for o in mine)


def _content_counts(obs: list[Obs], s: SessionCycle) -> dict[str, Any]:
    """The page's view. A page that merges a replay shows what the replay holds (a
    chat:ready replaces the view), live replies are appended; one that appends it shows
    the replayed messages and replies again after those it already showed."""
    view: list[tuple[str | None, str]] = []
    users: Counter[str] = Counter()  # the user's messages shown (an appending page)
    ever: set[str | None] = set()
    for o in obs:
        if o.session != s.key:
            continue
        if o.kind == "ready" and not s.replay_appends:
            view = []
        elif o.kind in ("message.sent", "probe.sent") and o.content is not None:
            users[o.content] += 1
        elif o.kind == "chat" and o.event == "chat:user" and o.content is not None:
            users[o.content] += 1
        elif o.kind == "chat" and o.event == "chat:assistant" and o.content is not None:
            view.append((o.message, o.content))
            ever.add(o.message)
    tracked = [m for m in (s.background_message,) if m is not None]
    lost = [m for m in tracked if m not in ever]
    items = Counter(item for item in view if item[0] in tracked or item[0] == s.probe_message)
    duplicated = [m for (m, _), c in items.items() for _ in range(c - 1)]
    if s.replay_appends:
        duplicated += [m for m in (*tracked, s.probe_message) if m is not None for _ in range(users[m] - 1)]
    return {"produced": len(tracked), "lost_seqs": [], "duplicated_seqs": [], "check": "content",
            "_lost": len(lost), "_dup": len(duplicated)}


def cycle_verdict(obs: list[Obs], sessions: list[SessionCycle], *, run: str, client: int, client_id: str,
                  profile: str, fault: str, network: str, cycle: int, background_s: float,
                  hidden_at: float, visible_at: float, deadline_s: float,
                  probe_sent_at: float | None, errors: list[str] | None = None) -> dict[str, Any]:
    """The results.jsonl record of one client and cycle."""
    from jarvis_diag.lines import iso_ms

    errors = list(errors or [])
    t0 = visible_at
    deadline_at = visible_at + deadline_s
    after_visible = [o for o in obs if o.t >= t0]
    connected = _first(after_visible, lambda o: o.kind == "socket.connected", t0)
    authenticated = _first(after_visible, lambda o: o.kind == "auth.ok", t0)
    reconnected = any(o.kind == "socket.connected" for o in obs if o.t >= hidden_at)
    failures: list[str] = []
    gave_up = [o.t for o in obs if o.kind == "reconnect.exhausted"]
    if gave_up and not any(o.kind == "auth.ok" and o.t >= gave_up[-1] for o in obs):
        # (a page that gave up and was brought back, by 'online' or a tap, is judged by the rest)
        failures.append("gave up reconnecting (attempts exhausted)")
    if any(o.kind == "auth.failed" for o in obs):
        failures.append("authentication failed")

    session_records = []
    attaches = []
    lost_total = dup_total = 0
    for s in sessions:
        mine = [o for o in obs if o.session == s.key]
        ready = _first(mine, lambda o: o.kind == "ready", t0)
        hist_end = _first(mine, lambda o: o.kind == "history_end", ready.t) if ready else None
        # (once the session is attached again, when it was: what a woken page reads from its
        # dead socket's buffers before that was sent while it was away, not live output again)
        first_live = _first(mine, lambda o: o.kind == "chat" and not o.replay and o.event in OUTPUT_EVENTS,
                            ready.t if ready else t0)
        live = False
        if probe_sent_at is not None and s.probe_message is not None:
            probe = s.probe_message
            done = _first(mine, lambda o, probe=probe: o.kind == "chat" and not o.replay
                          and o.event == "chat:result" and o.message in (probe, None), probe_sent_at)
            live = done is not None and done.t <= deadline_at
        counts = _seq_counts(obs, s) if s.seq_check and _resumed_only(mine) else _content_counts(obs, s)
        lost = counts.pop("_lost", len(counts["lost_seqs"]))
        dup = counts.pop("_dup", len(counts["duplicated_seqs"]))
        lost_total += lost
        dup_total += dup
        short = (s.uuid or s.key)[:8]
        if not s.attached_before_probe:
            skipped = any(o.kind == "connect.skipped" for o in mine if o.t >= hidden_at)
            why = "the page kept its handler and sent no chat:connect" if skipped else "no chat:ready"
            failures.append(f"session {short}: not re-attached before the user's message: {why}")
        if s.probe_message is not None and not live:
            failures.append(f"session {short}: the reply to a message sent after recovery did not arrive live")
        auto = [o for o in mine if o.kind == "ready" and o.t >= t0 and not (o.detail or {}).get("requested", True)]
        if auto and probe_sent_at is not None and auto[0].t >= probe_sent_at:
            # (re-attached by the page, the session lost its callback since: another attach
            # took it, which the page cannot see; not a page that never asked)
            asked = any(o.kind == "ready" and t0 <= o.t < auto[0].t and (o.detail or {}).get("requested", True)
                        for o in mine)
            failures.append(f"session {short}: re-attached, yet the server had dropped its callback by the user's "
                            "message, which auto-connected it" if asked else
                            f"session {short}: attached only when a message auto-connected it")
        # Attach latencies: each chat:connect sent in the cycle to the chat:ready that answered it.
        # A user's switch to the session stays a switch after the page came back; other
        # attaches then are the recovery (a client that does not say why: by time).
        pending: float | None = None
        cause = None
        for o in mine:
            if o.kind == "connect.sent":
                pending = o.t
                cause = o.detail.get("cause") if isinstance(o.detail, dict) else None
            elif o.kind == "ready":
                requested = (o.detail or {}).get("requested", True)
                kind = "auto" if not requested else \
                    ("switch" if cause == "switch" or o.t < hidden_at else "reconnect")
                # (no chat:connect sent for it, an auto-connect's: nothing to measure, null; it
                # was 0 ms, which pulled down the mean of a script's own figures)
                ms = round((o.t - pending) * 1000, 1) if pending is not None and kind != "auto" else None
                attaches.append({"session": s.uuid or s.key, "kind": kind, "ms": ms, "at": iso_ms(o.t)})
                pending = cause = None
        session_records.append({
            "session": s.uuid or s.key, "temp_id": s.temp_id,
            "ready_ms": _ms(ready.t if ready else None, t0),
            "history_end_ms": _ms(hist_end.t if hist_end else None, t0),
            "first_live_ms": _ms(first_live.t if first_live else None, t0),
            "live": live, "produced": counts["produced"], "lost": lost, "duplicated": dup,
            "lost_seqs": counts["lost_seqs"], "duplicated_seqs": counts["duplicated_seqs"],
            "check": counts["check"],
        })
    # Connected at the end: the last transport observation of the cycle is an authentication
    # (or there is none: the socket survived the background).
    transport = [o.kind for o in obs if o.t >= hidden_at and o.kind in ("auth.ok", "socket.disconnected",
                                                                        "socket.error")]
    if transport and transport[-1] != "auth.ok":
        # (connected again, then lost again before the end, as when a reloading server drops it: not the same)
        again = next((o for o in obs if o.t >= t0 and o.kind == "auth.ok"), None)
        # (what the last attempt got says why: a WebSocket refused is not a server down)
        error = next((o for o in reversed(obs) if o.kind == "socket.error" and o.t >= hidden_at), None)
        reason = (error.detail or {}).get("reason") if error is not None else None
        not_again = "not connected again" + (f" (last attempt: {reason})" if reason else "")
        failures.insert(0, not_again if again is None else
                        f"connected again after {_ms(again.t, t0):.0f} ms, then lost the connection again "
                        "before the cycle ended")
    if probe_sent_at is None and sessions:
        failures.append(f"not settled within the {deadline_s:g}s deadline: no message could be sent")
    all_ready = all(s.attached_before_probe for s in sessions)
    settled = _first(obs, lambda o: o.kind == "settled", t0)
    times = {
        "connected": _ms(connected.t if connected else None, t0),
        "authenticated": _ms(authenticated.t if authenticated else None, t0),
        "recovery": _ms(settled.t, t0) if settled is not None and all_ready else None,
        "probe_sent": _ms(probe_sent_at, t0),
    }
    recovered = not failures
    return {
        "schema": SCHEMA, "run": run, "client": client, "client_id": client_id, "profile": profile,
        "fault": fault, "network": network, "cycle": cycle, "background_ms": round(background_s * 1000, 1),
        "hidden_at": iso_ms(hidden_at), "visible_at": iso_ms(visible_at),
        "recovered": recovered, "deadline_ms": round(deadline_s * 1000, 1),
        "failure": None if recovered else "; ".join(dict.fromkeys(failures)),
        "reconnected": reconnected,
        "times_ms": times, "sessions": session_records,
        "lost": lost_total, "duplicated": dup_total, "attaches": attaches, "errors": errors,
    }


def cycle_ok(record: dict[str, Any]) -> bool:
    """What the exit code counts: recovered, nothing lost, nothing twice."""
    return bool(record.get("recovered")) and not record.get("lost") and not record.get("duplicated")


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals per (profile, fault, network), computed from the records (never stored)."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for r in records:
        groups.setdefault((r["profile"], r["fault"], r["network"]), []).append(r)
    rows = []
    for (profile, fault, network), rs in sorted(groups.items()):
        # recovery times of the cycles that recovered: a failed cycle's sessions may all have been
        # ready while its live output never came, and that is no recovery to time
        recov = [r["times_ms"]["recovery"] for r in rs if r["recovered"] and r["times_ms"].get("recovery") is not None]
        rows.append({
            "profile": profile, "fault": fault, "network": network, "cycles": len(rs),
            "recovered": sum(1 for r in rs if r["recovered"]), "ok": sum(1 for r in rs if cycle_ok(r)),
            "lost": sum(r["lost"] for r in rs), "duplicated": sum(r["duplicated"] for r in rs),
            "recovery_p50_ms": _percentile(recov, 50), "recovery_p95_ms": _percentile(recov, 95),
        })
    return {"rows": rows, "cycles": len(records), "ok": sum(1 for r in records if cycle_ok(r))}


def _percentile(values: list[float], p: float) -> float | None:
    # the report's nearest-rank percentile: an observed value, the same figure `report` gives
    return percentile(values, p) if values else None

"""The event record and the closed vocabulary of event kinds.

Everything in jarvis-diag speaks this vocabulary: the log parser turns lines into
events of these kinds, the reference server and the simulator write lines whose shapes
(see :mod:`jarvis_diag.lines`) parse back to them, and the correlator and the findings
read them. A kind names *what happened*; the ``source`` column says who saw it, so the
backend's ``socket.connected`` and the frontend's ``socket.connected`` are the same kind
seen from two sides.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Where an event was read from.
SOURCES = ("backend", "frontend", "panel", "console")

# The closed vocabulary. Keep it sorted by area; every kind has one line of meaning.
KINDS: dict[str, str] = {
    # transport and authentication
    "socket.connecting": "the client starts a Socket.IO connection",
    "socket.connected": "a Socket.IO connection is open (server: client connected)",
    "socket.disconnected": "a Socket.IO connection ended (reason when known)",
    "socket.error": "the client failed to connect (connection error)",
    "socket.state": "the client's socket wrapper changed state (from -> to)",
    "auth.ok": "the socket authenticated",
    "auth.failed": "authentication was refused",
    "ws.accepted": "the HTTP server accepted a WebSocket upgrade (uvicorn console)",
    "ws.open": "uvicorn: connection open",
    "ws.closed": "uvicorn: connection closed",
    "http.request": "an HTTP request line of the server console",
    # attaching a socket to a chat session
    "chat.connect.start": "an attach begins (client: connectChat START; server: Chat connect START)",
    "chat.connect.sent": "the client emitted chat:connect",
    "chat.connect.received": "the server received chat:connect (recv_ts = epoch seconds)",
    "chat.connect.phase": "a server attach timing T1..T6 (phase, ms since START)",
    "chat.connect.done": "the server finished handling chat:connect (ms total)",
    "chat.connect.reconnect": "the server re-attaches a known socket and will re-send history",
    "chat.connect.end": "the client finished its connectChat call",
    "chat.handler.new": "the client created a new handler for a session and subscribes",
    "chat.handler.exists": "the client already has a handler for the session",
    "chat.handler.remapped": "the client moved its handler from a temporary id to the UUID",
    "chat.handler.cleaned": "the client removed a forwarding handler",
    "chat.subscribe": "the client subscribes to a session's channel",
    "chat.resubscribe": "the client re-subscribes a session after a reconnect",
    "chat.resubscribe.batch": "the client re-sends its subscriptions after a reconnect (n, skipped)",
    "chat.detached": "the client's chat view detached from a session",
    "chat.ready.sent": "the server emitted chat:ready",
    "chat.ready.received": "the client received chat:ready (server_ms, client_ms epochs)",
    "chat.ready.handled": "the client dispatched chat:ready to its handler",
    "chat.error": "a chat:error (server sent / client received)",
    "history.loaded": "the server loaded history for a replay (n of total)",
    "history.load.phase": "a session-manager history load timing (L1..Ln)",
    "history.loading": "the client starts rendering a history replay",
    "history.end": "end of a history replay (server: history_end emitted; client: handled)",
    "history.synced": "the session manager synced messages from the agent's file",
    "history.page": "a load_more_history page",
    # sessions and the id mapping
    "session.creating": "the server starts creating a session (T1.1)",
    "session.created": "the server created a session (T1.2, or the manager's line)",
    "session.started": "the session manager started a session's agent in a directory",
    "session.file_missing": "no agent session file for the id: a new agent session is made",
    "session.mapped": "a temporary id maps to a UUID (stored, restored or used)",
    "session.switched": "the server moved a socket's live session (from -> to)",
    "session.not_found": "a message names a session the server does not know",
    "session.closed": "a session was closed and its agent stopped",
    # callbacks: who receives a session's live output
    "callback.missing": "the server found no callback for the socket+session and auto-connects",
    "callback.autoconnect_failed": "the server's auto-connect failed",
    "callback.cleared": "the session manager cleared a session's callback",
    "callback.owner_changed": "a session's live output moved to another socket",
    "consumer.started": "the server started a socket's output consumer for a session",
    "consumer.cancelled": "the server cancelled a socket's output consumer for a session",
    # messages and output
    "message.queued": "the client queued an emit while disconnected",
    "message.flushed": "the client flushed its queued emits",
    "message.sent": "the client emitted chat:message",
    "message.prepare": "the client resolved the session of a message",
    "message.received": "the server received chat:message",
    "message.processing": "the server processes a message for a session",
    "message.to_agent": "the message was handed to the session's agent",
    "message.completed": "the agent's reply finished (chunks)",
    "message.ack": "a chat:user_ack",
    "emit.sent": "the client emitted another event",
    "emit.timed": "the server timed an emit (tagged, or slow > 50 ms)",
    "emit.error": "the server failed to send to a socket",
    "output.delivered": "the server handed an agent output event to a socket (type)",
    "output.received": "the client received a live chat event for a session",
    "output.unhandled": "the client received an event it has no handler for",
    "output.block": "the server tracked a content block of the agent's stream",
    "output.skipped": "the server skipped an agent output it could not use",
    # agent
    "agent.start.phase": "a session-manager agent start timing (S1..Sn)",
    "agent.command": "the command line the agent runs",
    # client lifecycle (page, network, connection manager)
    "page.hidden": "the page went to the background",
    "page.visible": "the page came back to the foreground",
    "network.online": "the browser reports the network back",
    "network.offline": "the browser reports the network lost",
    "cm.init": "the connection manager started",
    "cm.state": "a connection-manager transition (from, to, event)",
    "cm.socket_state": "the connection manager saw the socket's state change",
    "cm.connected": "the connection manager reached connected",
    "cm.force_disconnect": "the connection manager drops a stale socket before reconnecting",
    "cm.invalid": "the connection manager refused a transition",
    "reconnect.scheduled": "a reconnect is scheduled (delay ms, attempt)",
    "reconnect.attempt": "a reconnect attempt starts (attempt, max)",
    "reconnect.exhausted": "the client gave up reconnecting (max retries)",
    # the client UI
    "ui.session.start": "the page starts opening a session (connectSession)",
    "ui.session": "the page's session bookkeeping (connectSession ...)",
    "ui.connect.start": "the chat view starts attaching (connectMux START)",
    "ui.connect": "the chat view's attach bookkeeping",
    "ui.connected": "the chat view's onConnect ran (+ms since its connectMux START)",
    "ui.info": "other page diagnostics",
    "api.request": "the page called the HTTP API",
    "app.error": "the page logged an error",
    # server process
    "server.starting": "the application starts",
    "server.started": "the application finished starting",
    "server.stopping": "the application shuts down",
    "server.stopped": "the application stopped",
    "server.info": "other application lifecycle lines (database, scheduler, watcher)",
    "server.process": "uvicorn's process and lifecycle console lines",
    "server.reload": "a dev-server reload: watchfiles change detected / WatchFiles reloading",
    "remote_log.received": "the server received a batch of frontend log lines",
    "db.timing": "a database call's timing",
    "db.saved": "the server saved messages in a batch",
    # everything else
    "unknown": "a line that matches no known shape (kept, never dropped)",
}

KIND_NAMES = tuple(KINDS)

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

# The typed columns of the events DataFrame, in order, with their pandas dtypes.
# Template fields of :mod:`jarvis_diag.lines` map onto these names. Ids and other short
# fields repeat from line to line, so they are categoricals (of strings); only the text of
# a line and its traceback are plain strings.
COLUMNS: dict[str, str] = {
    "t": "datetime64[ns, UTC]",  # best estimate of the true instant (zone + skew applied)
    "t_source": "datetime64[ns, UTC]",  # the instant by the writer's own clock (zone applied)
    "source": "category",  # backend / frontend / panel / console
    "path": "category",  # file the line came from
    "line": "int64",  # 1-based line number in that file
    "logger": "category",  # backend logger name (jarvis, watchfiles.main, ...)
    "level": "category",  # DEBUG / INFO / WARNING / ERROR / CRITICAL
    "tag": "category",  # leading bracket tags, e.g. "[SocketIO] [TIMING]"
    "kind": "category",  # one of KINDS
    "shape": "category",  # the name of the line shape that matched (lines.SHAPES)
    "client": "category",  # frontend clientId
    "sid": "category",  # socket sid (8-character prefix in backend lines)
    "session": "category",  # session id: UUID, 8-char prefix or temporary new-<ms>
    "temp_id": "category",  # temporary id (new-<ms> or its 8-char prefix)
    "from_session": "category",  # session.switched: the session before
    "to_sid": "category",  # callback.owner_changed: the new owner
    "phase": "category",  # T1..T6, T1.1, S1.., L4.. (timings)
    "event": "category",  # Socket.IO event name (chat:connect, chat:stream ...)
    "state_from": "category",
    "state_to": "category",
    "trigger": "category",  # connection-manager event: connect, suspend, resume ...
    "transport": "category",  # websocket / polling
    "reason": "category",  # disconnect reason, error message, auth failure reason
    "detail": "category",  # the rest worth keeping (label, content prefix, work dir ...)
    "ms": "float64",  # a duration in milliseconds
    "emit_ms": "float64",  # "emit took N ms"
    "n": "Int64",  # a count (subscriptions, messages, logs, chunks ...)
    "total": "Int64",  # the total of a count (history total)
    "attempt": "Int64",
    "max_attempts": "Int64",
    "server_ms": "Int64",  # epoch ms by the server's clock (chat:ready server_ts)
    "client_ms": "Int64",  # epoch ms by the client's clock
    "recv_ts": "float64",  # epoch seconds (server's clock) logged with a local time
    "text": "string",  # the whole line as written (the message part for parsing)
    "traceback": "string",  # continuation lines attached to this one
}


@dataclass(slots=True)
class Event:
    """One parsed line. The DataFrame is the bulk form; this is the form for streams
    (``timeline --follow``) and for writers that want to build a line from fields."""

    kind: str
    source: str
    text: str
    t_source: float | None = None  # epoch seconds by the writer's clock
    path: str = ""
    line: int = 0
    logger: str | None = None
    level: str | None = None
    tag: str | None = None
    shape: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown event kind {self.kind!r}")

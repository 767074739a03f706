"""The line shapes of the real system, written once.

Each :class:`Shape` is a message template such as ``"[SocketIO] Client {sid} connected"``.
The same table drives both directions:

* writers (the reference server, the simulator's virtual clients) call :func:`render`
  and the ``*_line`` helpers to produce lines exactly as the real system writes them;
* the parser compiles every template into a regular expression (:func:`shape_regex`)
  whose named groups are columns of the events DataFrame (:data:`events.COLUMNS`).

A placeholder ``{name}`` captures into column ``name``; ``{_name}`` matches the same
text but is not kept (the writer still passes it). Field syntax is in :data:`FIELDS`.
Order matters: within a source the first shape that matches wins, so specific shapes
come before general ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

from jarvis_diag.events import COLUMNS, KINDS

# What each placeholder matches. Names not listed match lazily up to what follows.
FIELDS: dict[str, str] = {
    "sid": r"[A-Za-z0-9_-]+",
    "to_sid": r"[A-Za-z0-9_-]+",
    "client": r"[A-Za-z0-9_-]+",
    "session": r"[A-Za-z0-9_.-]+",
    "from_session": r"[A-Za-z0-9_.-]+",
    "temp_id": r"[A-Za-z0-9_.-]+",
    "phase": r"[A-Z]\d+(?:\.\d+)?",
    "event": r"[A-Za-z0-9_:.-]+",
    "state_from": r"\w+",
    "state_to": r"\w+",
    "trigger": r"\w+",
    "transport": r"\w+",
    "ms": r"-?\d+(?:\.\d+)?",
    "emit_ms": r"-?\d+(?:\.\d+)?",
    "n": r"\d+",
    "total": r"\d+",
    "attempt": r"\d+",
    "max_attempts": r"\d+",
    "server_ms": r"-?\d+",
    "client_ms": r"-?\d+",
    "recv_ts": r"\d+(?:\.\d+)?",
}
_LAZY = r".*?"
_GREEDY_AT_END = r".*"


@dataclass(frozen=True, slots=True)
class Shape:
    name: str  # stable identifier, e.g. "sio.client_connected"
    kind: str  # one of events.KINDS
    source: str  # "backend" (app log message), "frontend" (remote log message), "console"
    template: str
    logger: str = "jarvis"  # backend logger that writes it
    level: str = "INFO"  # the level the real system writes it at

    def render(self, **fields: object) -> str:
        return self.template.format(**fields)


def _b(name, kind, template, logger="jarvis", level="INFO"):
    return Shape(name, kind, "backend", template, logger, level)


def _f(name, kind, template, level="DEBUG"):
    return Shape(name, kind, "frontend", template, "", level)


def _c(name, kind, template, level="INFO"):
    return Shape(name, kind, "console", template, "uvicorn", level)


_SM = "app.services.chat_session_manager"

SHAPES: tuple[Shape, ...] = (
    # ---- backend: [SocketIO] transport and auth -------------------------------------
    _b("sio.client_connected", "socket.connected", "[SocketIO] Client {sid} connected"),
    _b("sio.client_authenticated", "auth.ok", "[SocketIO] Client {sid} authenticated"),
    _b("sio.client_auth_failed", "auth.failed", "[SocketIO] Client {sid} auth failed", level="WARNING"),
    _b("sio.client_auth_failed_reason", "auth.failed", "[SocketIO] Client {sid} auth failed: {reason}", level="WARNING"),
    _b("sio.client_disconnected", "socket.disconnected",
       "[SocketIO] Client {sid} disconnected, cleaned up {n} subscriptions"),
    _b("sio.client_disconnected_reason", "socket.disconnected",
       "[SocketIO] Client {sid} disconnected ({reason}), cleaned up {n} subscriptions"),
    _b("sio.no_callback", "callback.missing",
       "[SocketIO] Client {sid} has no callback for session {session}, auto-connecting...", level="WARNING"),
    _b("sio.send_error", "emit.error", "[SocketIO] Client {sid} send error: {reason}", level="ERROR"),
    # ---- backend: chat:connect and its timings ---------------------------------------
    _b("sio.connect_received", "chat.connect.received",
       "[SocketIO] Received chat:connect from {sid}, data={detail}, recv_ts={recv_ts}"),
    _b("sio.connect_start", "chat.connect.start",
       "[SocketIO] Chat connect START: session_id={session}, workDir={detail}..."),
    _b("sio.connect_reconnect", "chat.connect.reconnect",
       "[SocketIO] Chat connect reconnect: session={session}, will re-send history"),
    _b("sio.connect_t1", "chat.connect.phase",
       "[SocketIO] Chat connect {phase} get_session: {ms}ms, found={detail}"),
    _b("sio.creating_session", "session.creating",
       "[SocketIO] Creating new chat session: {session}, {phase}: {ms}ms"),
    _b("sio.session_created", "session.created", "[SocketIO] Session created: {session}, {phase}: {ms}ms"),
    _b("sio.got_session", "chat.connect.phase", "[SocketIO] Got session object: {detail}, {phase}: {ms}ms"),
    _b("sio.mapping_stored", "session.mapped", "[SocketIO] Stored chat UUID mapping: '{temp_id}' -> {session}"),
    _b("sio.mapping_restored", "session.mapped", "[SocketIO] Restored chat mapping from DB: {temp_id} -> {session}"),
    _b("sio.auto_resume_mapped", "session.mapped", "[SocketIO] Auto-resume mapped session: {session}"),
    _b("sio.message_mapped", "session.mapped",
       "[SocketIO] Chat message using mapped session: {temp_id} -> {session}"),
    _b("sio.switched", "session.switched",
       "[SocketIO] Switched session: sid={sid}, {from_session} -> {session}"),
    _b("sio.history_loaded", "history.loaded", "[SocketIO] Loaded {n}/{total} history messages for {session}"),
    _b("sio.connect_t5", "chat.connect.phase",
       "[SocketIO] Chat connect {phase} ready_sent: {ms}ms, emit took {emit_ms}ms"),
    _b("sio.connect_phase", "chat.connect.phase", "[SocketIO] Chat connect {phase} {detail}: {ms}ms"),
    _b("sio.connect_done", "chat.connect.done", "[SocketIO] Chat connect DONE: {ms}ms total"),
    _b("sio.ready_emit", "chat.ready.sent", "[SocketIO] emit took {emit_ms}ms: {event} tag=connect_ready"),
    _b("sio.emit_timed", "emit.timed", "[SocketIO] emit took {emit_ms}ms: {event} tag={detail}"),
    _b("sio.emit_slow", "emit.timed", "[SocketIO] emit took {emit_ms}ms: {event}"),
    _b("sio.history_end", "history.end", "[SocketIO] history_end emit took {emit_ms}ms"),
    _b("sio.consumer_started", "consumer.started", "[SocketIO] Consumer started: sid={sid}, session={session}"),
    _b("sio.consumer_cancelled", "consumer.cancelled",
       "[SocketIO] Consumer cancelled: sid={sid}, session={session}"),
    _b("sio.consumer_cancel_old", "consumer.cancelled",
       "[SocketIO] Cancelling old consumer for reconnect: sid={sid}, session={session}"),
    _b("sio.consumer_cancel_old_any", "consumer.cancelled",
       "[SocketIO] Cancelling old consumer for reconnect: {detail}"),
    _b("sio.db_messages_desc", "db.timing", "[SocketIO] DB get_chat_messages_desc: {ms}ms, rows={n}"),
    _b("sio.db_message_count", "db.timing", "[SocketIO] DB get_chat_message_count: {ms}ms, count={n}"),
    _b("sio.db_set_session", "db.timing", "[SocketIO] DB set_chat_session_id: {ms}ms"),
    _b("sio.db_other", "db.timing", "[SocketIO] DB {detail}: {ms}ms"),
    # ---- backend: messages and output ------------------------------------------------
    _b("sio.message_received", "message.received",
       "[SocketIO] Chat message received: sid={sid}, session={session}, content={detail}..."),
    _b("sio.session_found", "message.processing", "[SocketIO] Session found: {detail}, active sessions: {_list}"),
    _b("sio.processing", "message.processing", "[SocketIO] Processing chat message for {session}: {detail}..."),
    _b("sio.sending", "message.to_agent",
       "[SocketIO] Session found, is_running={detail}, is_busy={_busy}, sending message..."),
    _b("sio.completed", "message.completed", "[SocketIO] Message processing completed, received {n} chunks"),
    _b("sio.session_not_found", "session.not_found",
       "[SocketIO] Session not found for message: {session}", level="WARNING"),
    _b("sio.autoconnect_failed", "callback.autoconnect_failed",
       "[SocketIO] Auto-connect failed for session {session}", level="ERROR"),
    _b("sio.callback", "output.delivered", "[SocketIO] Callback: sid={sid}, session={session}, type={event}"),
    _b("sio.block_start", "output.block", "[SocketIO] content_block_start: index={n}, type={event}, block={detail}"),
    _b("sio.block_stop", "output.block", "[SocketIO] content_block_stop: index={n}, tracked_type={event}"),
    _b("sio.result_not_dict", "output.skipped", "[SocketIO] result is not dict, skipping", level="WARNING"),
    # ---- backend: reference-server lines for protocol events the real one does not log
    _b("sio.resume", "chat.connect.reconnect",
       "[SocketIO] Chat connect resume: session={session}, last_seq={n}, replaying {total}"),
    _b("sio.chat_disconnect", "chat.detached", "[SocketIO] Chat disconnect: sid={sid}, session={session}"),
    _b("sio.chat_close", "session.closed", "[SocketIO] Chat close: sid={sid}, session={session}"),
    _b("sio.history_page", "history.page",
       "[SocketIO] History page for {session}: {n} messages before {total}"),
    _b("sio.chat_error", "chat.error", "[SocketIO] chat:error to {sid}: {reason}", level="WARNING"),
    _b("sio.event_rejected", "chat.error", "[SocketIO] Rejected {event} from {sid}: {reason}", level="WARNING"),
    # ---- backend: remote frontend logging -------------------------------------------
    _b("debuglog.http", "remote_log.received", "[DebugLog] HTTP received {n} logs from {client}"),
    _b("debuglog.ws", "remote_log.received", "[DebugLog] WS received {n} logs from {client}"),
    _b("debuglog.rejected", "remote_log.received", "[DebugLog] Rejected upload: {reason}", level="WARNING"),
    # ---- backend: session manager ----------------------------------------------------
    _b("sm.start_phase", "agent.start.phase", "[ChatSession:{session}] start() {phase} {detail}: {ms}ms", _SM),
    _b("sm.load_history_phase", "history.load.phase",
       "[ChatSession:{session}] load_history {phase} {detail}: {ms}ms, msgs={n}", _SM),
    _b("sm.load_history_step", "history.load.phase",
       "[ChatSession:{session}] load_history {phase} {detail}: {ms}ms", _SM),
    _b("sm.reader_stopped", "session.closed", "Chat session {session} reader stopped, _is_running={detail}", _SM),
    _b("sm.resuming_from", "session.mapped", "Chat session resuming from: {session}...", _SM),
    _b("sm.send_message", "message.to_agent",
       "[ChatSession:{session}] send_message: running={detail}, owner={sid}", _SM),
    _b("sm.started_in", "session.started", "Chat session {session} started in {detail}", _SM),
    _b("sm.command", "agent.command", "Claude command: {detail}", _SM),
    _b("sm.created", "session.created", "Created chat session {session} (resuming {temp_id})", _SM),
    _b("sm.file_missing", "session.file_missing",
       "Session file not found for {session}, creating new session", _SM, "WARNING"),
    _b("sm.owner_changed", "callback.owner_changed",
       "[Session:{session}] Callback owner: {sid} -> {to_sid}", _SM),
    _b("sm.callback_cleared", "callback.cleared", "[Session:{session}] Callback cleared by {sid}", _SM),
    _b("sm.synced", "history.synced", "Synced {n} new messages from Claude file to database", _SM),
    _b("sm.loaded_file", "history.synced", "Loaded {n} messages from session file", _SM),
    _b("sm.closed", "session.closed", "Chat session {session} closed", _SM),
    # ---- backend: the application ----------------------------------------------------
    _b("app.set_mapping", "session.mapped", "Set chat mapping: {temp_id}... -> {session}..."),
    _b("app.batch_saved", "db.saved", "Batch saved {n} chat messages"),
    _b("app.starting", "server.starting", "Application starting..."),
    _b("app.started", "server.started", "Application started successfully"),
    _b("app.shutting_down", "server.stopping", "Application shutting down..."),
    _b("app.stopped", "server.stopped", "Application stopped"),
    _b("app.db_init", "server.info", "Database initialized"),
    _b("app.db_column", "server.info", "Added '{detail}' column to {_table}"),
    _b("app.watcher_started", "server.info", "CLAUDE.md watcher started"),
    _b("app.watcher_stopped", "server.info", "CLAUDE.md watcher stopped"),
    _b("app.scheduler_started", "server.info", "[Scheduler] Started with {n} tasks"),
    _b("app.scheduler_stopped", "server.info", "[Scheduler] Stopped"),
    _b("watcher.check", "server.info", "Performing initial check...", "claude_md_watcher"),
    _b("watcher.created", "server.info", "Created new CLAUDE.md with instruction", "claude_md_watcher"),
    _b("watcher.watching", "server.info", "Started watching {detail}", "claude_md_watcher"),
    _b("watcher.stopped", "server.info", "Stopped watching", "claude_md_watcher"),
    _b("watcher.other", "server.info", "{detail}", "claude_md_watcher"),
    _b("scheduler.any", "server.info", "{detail}", "apscheduler.scheduler"),
    _b("scheduler.exec", "server.info", "{detail}", "apscheduler.executors.default"),
    _b("watchfiles.changes", "server.reload", "{n} changes detected", "watchfiles.main"),
    _b("watchfiles.change", "server.reload", "{n} change detected", "watchfiles.main"),
    # ---- uvicorn console lines (captured stdout, no timestamp) -----------------------
    _c("uv.reloading", "server.reload", "WatchFiles detected changes in {detail}. Reloading...", "WARNING"),
    _c("uv.started_process", "server.process", "Started server process [{n}]"),
    _c("uv.finished_process", "server.process", "Finished server process [{n}]"),
    _c("uv.reloader", "server.process", "Started reloader process [{n}] using {detail}"),
    _c("uv.stopping_reloader", "server.process", "Stopping reloader process [{n}]"),
    _c("uv.will_watch", "server.process", "Will watch for changes in these directories: {detail}"),
    _c("uv.waiting_startup", "server.process", "Waiting for application startup."),
    _c("uv.startup_complete", "server.process", "Application startup complete."),
    _c("uv.waiting_shutdown", "server.process", "Waiting for application shutdown."),
    _c("uv.shutdown_complete", "server.process", "Application shutdown complete."),
    _c("uv.shutting_down", "server.process", "Shutting down"),
    _c("uv.running", "server.process", "Uvicorn running on {detail} (Press CTRL+C to quit)"),
    _c("uv.ws_accepted", "ws.accepted", '{_peer} - "WebSocket {detail}" [accepted]'),
    _c("uv.ws_rejected", "ws.closed", '{_peer} - "WebSocket {detail}" {reason}'),
    _c("uv.conn_open", "ws.open", "connection open"),
    _c("uv.conn_closed", "ws.closed", "connection closed"),
    _c("uv.http", "http.request", '{_peer} - "{event} {detail} HTTP/{_v}" {n} {reason}'),
    # ---- frontend: [SocketIO] --------------------------------------------------------
    _f("fe.connect_chat_start", "chat.connect.start",
       "[SocketIO] [TIMING] connectChat START: sessionId={session}, state={state_from}"),
    _f("fe.handler_exists", "chat.handler.exists",
       "[SocketIO] [TIMING] connectChat: handler EXISTS, updating callbacks at +{ms}ms"),
    _f("fe.handler_exists_resend", "chat.handler.exists",
       "[SocketIO] [TIMING] connectChat: handler EXISTS{detail}"),
    _f("fe.handler_new", "chat.handler.new", "[SocketIO] [TIMING] connectChat: NEW handler, subscribing at +{ms}ms"),
    _f("fe.calling_send", "chat.connect.start", "[SocketIO] [TIMING] connectChat: calling send() at +{ms}ms"),
    _f("fe.connect_chat_end", "chat.connect.end", "[SocketIO] [TIMING] connectChat END at +{ms}ms"),
    _f("fe.already_connected", "chat.handler.exists",
       "[SocketIO] Chat {session} already connected, updating callbacks"),
    _f("fe.emit_connect", "chat.connect.sent",
       "[SocketIO] [DIAG] send EMIT: chat:connect to {session}, transport={transport}"),
    _f("fe.emit_message", "message.sent",
       "[SocketIO] [DIAG] send EMIT: chat:message to {session}, transport={transport}"),
    _f("fe.emit_other", "emit.sent", "[SocketIO] [DIAG] send EMIT: {event} to {session}, transport={transport}"),
    _f("fe.emit_queued", "message.queued",
       "[SocketIO] [DIAG] send QUEUED: {event} (state={state_from}, pendingCount={n})"),
    _f("fe.pending", "message.flushed", "[SocketIO] Processing {n} pending operations"),
    _f("fe.ready_delivered", "chat.ready.received",
       "[SocketIO] [TIMING] Socket.IO delivered chat:ready, network_delay={ms}ms "
       "(server={server_ms}, client={client_ms})"),
    _f("fe.ready_handled", "chat.ready.handled",
       "[SocketIO] [TIMING] _handleMessage: RECEIVED chat:ready, triggering onConnect for chat:{detail}"),
    _f("fe.handle_message", "output.received",
       "[SocketIO] [DIAG] _handleMessage: {event}, sessionId={session}, handlerKey=chat:{detail}"),
    _f("fe.no_handler", "output.unhandled", "[SocketIO] [DIAG] No handler for {detail}"),
    _f("fe.chat_message", "message.prepare",
       "[SocketIO] [DIAG] chatMessage: sessionId={temp_id}, actualSessionId={session}, handler={detail}, "
       "state={state_from}"),
    _f("fe.subscribing", "chat.subscribe", "[SocketIO] Subscribing to chat:{session}"),
    _f("fe.resubscribing", "chat.resubscribe", "[SocketIO] Re-subscribing to chat:{session}"),
    _f("fe.resending", "chat.resubscribe.batch",
       "[SocketIO] Re-sending {n} subscriptions after reconnect (skipped {total})"),
    _f("fe.remapping", "chat.handler.remapped", "[SocketIO] Remapping handler: chat:{temp_id} -> chat:{session}"),
    _f("fe.cleaned_up", "chat.handler.cleaned", "[SocketIO] Cleaned up forwarding handler for chat:{session}"),
    _f("fe.sio_state", "socket.state", "[SocketIO] State: {state_from} -> {state_to}"),
    _f("fe.connecting", "socket.connecting", "[SocketIO] Connecting..."),
    _f("fe.connected", "socket.connected", "[SocketIO] Connected, authenticating..."),
    _f("fe.auth_ok", "auth.ok", "[SocketIO] [DIAG] Authentication successful, transport={transport}"),
    _f("fe.auth_failed", "auth.failed", "[SocketIO] Authentication failed: {reason}"),
    _f("fe.disconnected", "socket.disconnected", "[SocketIO] Disconnected: {reason}"),
    _f("fe.connect_error", "socket.error", "[SocketIO] Connection error: {reason}"),
    _f("fe.chat_error", "chat.error", "[SocketIO] chat:error for {session}: {reason}"),
    _f("fe.user_ack", "message.ack", "[SocketIO] [DIAG] user_ack for {session}"),
    # ---- frontend: [ConnMgr] ---------------------------------------------------------
    _f("cm.page_hidden", "page.hidden", "[ConnMgr] Page hidden"),
    _f("cm.page_visible", "page.visible", "[ConnMgr] Page visible"),
    _f("cm.online", "network.online", "[ConnMgr] Network online"),
    _f("cm.offline", "network.offline", "[ConnMgr] Network offline"),
    _f("cm.state_labelled", "cm.state", "[ConnMgr] State: {state_from} -> {state_to} ({trigger})"),
    _f("cm.socket_state", "cm.socket_state", "[ConnMgr] SocketIO state: {state_from} -> {state_to}"),
    _f("cm.state", "cm.state", "[ConnMgr] {state_from} -> {state_to} ({trigger})"),
    _f("cm.force_disconnect", "cm.force_disconnect", "[ConnMgr] Force disconnecting stale socket before reconnect"),
    _f("cm.scheduling", "reconnect.scheduled", "[ConnMgr] Scheduling reconnect in {ms}ms (attempt {attempt})"),
    _f("cm.reconnecting_of", "reconnect.attempt", "[ConnMgr] Reconnecting (attempt {attempt}/{max_attempts})"),
    _f("cm.reconnecting", "reconnect.attempt", "[ConnMgr] Reconnecting attempt {attempt}"),
    _f("cm.max_retries", "reconnect.exhausted", "[ConnMgr] Max retries reached"),
    _f("cm.connected", "cm.connected", "[ConnMgr] Connected"),
    _f("cm.init", "cm.init", "[ConnMgr] ConnectionManager initialized"),
    _f("cm.invalid", "cm.invalid", "[ConnMgr] Invalid transition: {state_from} + {trigger}"),
    # ---- frontend: [Chat] and the page -----------------------------------------------
    _f("chat.mux_start", "ui.connect.start", "[Chat] [TIMING] connectMux START: session={session}, workingDir={detail}"),
    _f("chat.mux_calling", "ui.connect", "[Chat] [TIMING] connectMux calling muxWs.connectChat at +{ms}ms"),
    _f("chat.on_connect", "ui.connected", "[Chat] [TIMING] onConnect callback received at +{ms}ms"),
    _f("chat.on_connect_diag", "ui.connect", "[Chat] [DIAG] onConnect: {detail}"),
    _f("chat.history_end", "history.end", "[Chat] [DEBUG] _handleHistoryEnd: pendingMsgs.length={n}"),
    _f("chat.history_loading", "history.loading",
       "[Chat] History loading for {session}, count={n}, isReconnect={detail}"),
    _f("chat.mux_disconnected", "chat.detached", "[Chat] [MuxWS] Chat disconnected for {session}"),
    _f("chat.mux_stored", "ui.connect", "[Chat] connectMux: stored chatConnectionId={session}"),
    _f("chat.connect_using", "ui.connect",
       "[Chat] connect: using existing chatConnectionId={session} instead of sessionId={temp_id}"),
    _f("chat.connect_session", "ui.connect", "[Chat] connect: sessionId={session}, workingDir={detail}"),
    _f("chat.connect_diag", "ui.connect", "[Chat] [DIAG] connect: {detail}"),
    _f("chat.connect_other", "ui.connect", "[Chat] connect: {detail}"),
    _f("chat.other", "ui.info", "[Chat] {detail}"),
    _f("page.session_start", "ui.session.start", "=== connectSession START at {ms}ms ==="),
    _f("page.session", "ui.session", "connectSession: {detail}"),
    _f("page.keyboard", "ui.info", "initKeyboardHandler: {detail}"),
    _f("page.session_mgr", "ui.session", "[SessionMgr] {detail}"),
    _f("page.api", "api.request", "[API] {detail}"),
    _f("page.error", "app.error", "[ERROR] {detail}", "ERROR"),
    _f("page.unhandled", "app.error", "[UNHANDLED REJECTION] {detail}", "ERROR"),
)

SHAPES_BY_NAME: dict[str, Shape] = {s.name: s for s in SHAPES}

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def placeholders(shape: Shape) -> tuple[str, list[tuple[str, str, str]]]:
    """(the template's literal prefix, then per placeholder: its name, the pattern it
    matches and the literal text after it)."""
    matches = list(_PLACEHOLDER.finditer(shape.template))
    first = matches[0].start() if matches else len(shape.template)
    out = []
    for i, m in enumerate(matches):
        name = m.group(1)
        after = matches[i + 1].start() if i + 1 < len(matches) else len(shape.template)
        last = i == len(matches) - 1 and m.end() == len(shape.template)
        out.append((name, FIELDS.get(name.lstrip("_"), _GREEDY_AT_END if last else _LAZY),
                    shape.template[m.end():after]))
    return shape.template[:first], out


@cache
def shape_regex(shape: Shape) -> re.Pattern[str]:
    """The anchored regular expression of a shape; named groups are column names."""
    prefix, fields = placeholders(shape)
    parts = [re.escape(prefix)]
    for name, pattern, literal in fields:
        parts.append(f"(?:{pattern})" if name.startswith("_") else f"(?P<{name}>{pattern})")
        parts.append(re.escape(literal))
    return re.compile("".join(parts) + r"\Z", re.S)


def needs_logger(shape: Shape) -> bool:
    """A backend shape with no literal prefix (``{detail}``, ``{n} changes detected``)
    only belongs to its own logger; shapes that start with text match any logger."""
    return shape.source == "backend" and shape.template.startswith("{")


def match(source: str, message: str, logger: str | None = None) -> tuple[Shape, dict[str, str]] | None:
    """Reference (slow path) matcher: the first shape of ``source`` matching ``message``.

    ``source`` is "backend", "frontend" or "console"; a panel copy uses "frontend".
    """
    for shape in SHAPES:
        if shape.source == source and (not needs_logger(shape) or shape.logger == logger):
            m = shape_regex(shape).match(message)
            if m:
                return shape, {k: v for k, v in m.groupdict().items() if v is not None}
    return None


def render(name: str, **fields: object) -> str:
    """The message of shape ``name`` with its fields filled in."""
    return SHAPES_BY_NAME[name].render(**fields)


# ---- whole lines, as the real system writes them ------------------------------------

BACKEND_FORMAT = "%(asctime)s - %(name)s - %(levelname)s - %(message)s"


def backend_line(local: datetime, logger: str, level: str, message: str) -> str:
    """An app.log line: local time with no zone, ``YYYY-MM-DD HH:MM:SS,mmm``."""
    return stamped_backend_line(f"{local:%Y-%m-%d %H:%M:%S},{local.microsecond // 1000:03d}", logger, level, message)


def stamped_backend_line(stamp: str, logger: str, level: str, message: str) -> str:
    """An app.log line whose time is written already (``YYYY-MM-DD HH:MM:SS,mmm``)."""
    return f"{stamp} - {logger} - {level} - {message}"


def frontend_line(epoch_s: float, level: str, message: str) -> str:
    """A frontend remote-log line: ``[<ISO UTC with ms>Z] [<LEVEL>] <message>``."""
    return f"[{iso_ms(epoch_s)}] [{level}] {message}"


def frontend_entry_line(timestamp: str, level: str, message: str) -> str:
    """A frontend remote-log line from an uploaded entry, its timestamp kept as the browser sent it."""
    return f"[{timestamp}] [{level}] {message}"


def console_line(level: str, message: str) -> str:
    """A uvicorn console line: the level, a colon, padded to 10 columns, the message."""
    return f"{level + ':':<10}{message}"


def iso_ms(epoch_s: float) -> str:
    """Epoch seconds as ``2026-01-30T01:29:39.290Z`` (what the browser's toISOString gives)."""
    ms = int(round(epoch_s * 1000))
    d = datetime.fromtimestamp(ms // 1000, tz=UTC)
    return f"{d:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def _check_table() -> None:
    names = [s.name for s in SHAPES]
    if len(names) != len(set(names)):
        raise AssertionError("duplicate shape names")
    for s in SHAPES:
        if s.kind not in KINDS:
            raise AssertionError(f"{s.name}: unknown kind {s.kind}")
        for f in _PLACEHOLDER.findall(s.template):
            if not f.startswith("_") and f not in COLUMNS:
                raise AssertionError(f"{s.name}: field {f} is not an events column")


_check_table()

"""The chat service: attach (``chat:connect``), messages, agents running without sockets,
delivery of their output, and the log lines the real server writes for each step.

The namespace handlers validate payloads and call :class:`ChatService`; the state and the
attach rules live in :mod:`server.sessions`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import socketio
from engineio import packet as eio_packet

from jarvis_diag.tasks import stop_tasks
from server.agents import Agent, make_agent
from server.bugs import HISTORY_WINDOW, SINGLE_LIVE_SESSION, SINGLE_OWNER, SLOW_START
from server.config import ServerConfig
from server.logs import ServerLog, one_line, short
from server.sessions import AttachChange, Session, SocketState, attach, detach, is_uuid, message_event
from server.store import Store

NAMESPACE = "/"
# agent output types the real server logs a "Callback:" line for (stream chunks are not logged)
_LOGGED_CALLBACK_TYPES = frozenset({"system", "assistant", "result", "tool_call", "tool_result", "error"})
_CONTENT_PREVIEW = 30  # (the real server's cut: "content=list the files in this project...")
_WORKDIR_PREVIEW = 30  # (and its workDir's: "workDir=/home/dev/workspace/work/projA...")
_json_compact = json.JSONEncoder(separators=(",", ":")).encode


@dataclass(eq=False)
class AgentRuntime:
    agent: Agent
    start_task: asyncio.Task
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)
    worker: asyncio.Task | None = None
    busy: bool = False


# what the seq extension (PROTOCOL.md) adds to the real server's payloads
SEQ_EXTENSION_KEYS = frozenset({"seq", "head_seq", "resumed", "replay_from"})


class Emitter:
    """Sends Socket.IO events straight to Engine.IO sockets: the packet is encoded once and
    queued on each socket without a task per recipient (fan-out and attach latency).
    ``durable``: called before anything is sent (the store's pending writes committed, so
    that no client ever holds a ``seq`` the database could lose)."""

    def __init__(self, sio: socketio.AsyncServer, durable: Callable[[], None] | None = None, no_seq: bool = False):
        self.sio = sio
        self.durable = durable
        self.no_seq = no_seq  # leave out what the seq extension adds, as the real server has none
        self._waiting: set[asyncio.Task] = set()

    def encode(self, event: str, data: dict) -> str:
        # A Socket.IO EVENT on the default namespace is "2" + JSON [event, data], as
        # socketio.Packet.encode writes it; built directly because its binary-attachment
        # scan of every payload costs more than the rest of the send (payloads here are JSON).
        if self.no_seq:
            data = {k: v for k, v in data.items() if k not in SEQ_EXTENSION_KEYS}
        return "2" + _json_compact([event, data])

    async def send(self, sids, event: str, data: dict) -> int:
        return await self.send_encoded(sids, self.encode(event, data))

    async def send_encoded(self, sids, encoded: str) -> int:
        if self.durable is not None:
            self.durable()
        pkt = eio_packet.Packet(eio_packet.MESSAGE, encoded)
        manager = self.sio.manager
        eio = self.sio.eio
        sent = 0
        for sid in sids:
            eio_sid = manager.eio_sid_from_sid(sid, NAMESPACE)
            if eio_sid is None:
                continue
            await eio.send_packet(eio_sid, pkt)
            sent += 1
        return sent

    def when_written(self, sid: str, then: Callable[[], None], timeout: float = 0.05) -> None:
        """Call ``then`` once the packets queued so far for ``sid``'s WebSocket are taken by
        its writer (so are on the wire), or after ``timeout``; at once for a polling client
        (the client fetches them). The caller goes on meanwhile."""
        eio_sid = self.sio.manager.eio_sid_from_sid(sid, NAMESPACE)
        socket = self.sio.eio.sockets.get(eio_sid) if eio_sid is not None else None
        if socket is None or not socket.upgraded or socket.closed:
            then()
            return

        async def wait() -> None:
            try:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await socket.queue.join()
            finally:
                then()

        task = asyncio.ensure_future(wait())
        self._waiting.add(task)  # (a reference until it ends)
        task.add_done_callback(self._waiting.discard)


class ChatService:
    def __init__(self, sio: socketio.AsyncServer, config: ServerConfig, log: ServerLog, store: Store):
        self.sio = sio
        self.config = config
        self.log = log
        self.store = store
        # (a seq a client has seen must survive a crash: a process killed with writes pending
        # would otherwise give the same seq to its next event after the restart)
        self.emitter = Emitter(sio, durable=store.flush, no_seq=config.no_seq)
        self.sessions: dict[str, Session] = {}
        self.sockets: dict[str, SocketState] = {}
        self.runtimes: dict[str, AgentRuntime] = {}
        self.locks: dict[str, asyncio.Lock] = {}
        self.single_live = config.has_bug(SINGLE_LIVE_SESSION)
        self.single_owner = config.has_bug(SINGLE_OWNER)
        self.history_window_bug = config.has_bug(HISTORY_WINDOW)
        self.slow_start = config.has_bug(SLOW_START)

    # ---- sockets ----------------------------------------------------------------------
    def socket_connected(self, sid: str) -> SocketState:
        sock = SocketState(sid)
        self.sockets[sid] = sock
        self.log.log("sio.client_connected", sid=short(sid))
        return sock

    def socket_disconnected(self, sid: str) -> None:
        sock = self.sockets.pop(sid, None)
        if sock is None:
            return
        attached = list(sock.sessions)
        # (as the real server: every subscription is counted, and only the callbacks the socket
        # still held are cleared and their consumers cancelled, not those another attach took)
        live = [s for s in attached if (session := self.sessions.get(s)) is not None and detach(session, sock)]
        if self.single_live or self.single_owner:
            for session_id in live:
                self.log.log("sm.callback_cleared", session=short(session_id), sid=short(sid))
        self.log.log("sio.client_disconnected", sid=short(sid), n=len(attached))
        for session_id in live:
            self.log.log("sio.consumer_cancelled", sid=short(sid), session=short(session_id))

    async def error(self, sid: str, message: str, session_key: object = None) -> None:
        self.log.log("sio.chat_error", sid=short(sid), reason=one_line(message, 200))
        await self.emitter.send((sid,), "chat:error", {"session_id": session_key, "message": message})

    # ---- session lookup ---------------------------------------------------------------
    def resolve(self, sock: SocketState, key: str) -> tuple[str | None, str]:
        """The session UUID a client's id names, and where it was found:
        ``memory`` (this socket's mapping), ``db`` (mapping restored from the database),
        ``session`` (a known UUID), or ``""`` (unknown)."""
        mapped = sock.temp_map.get(key)
        if mapped is not None:
            return mapped, "memory"
        if key in self.sessions:
            return key, "session"
        from_db = self.store.get_mapping(key)
        if from_db is not None:
            sock.temp_map[key] = from_db
            self.log.log("sio.mapping_restored", temp_id=short(key), session=short(from_db))
            return from_db, "db"
        if self.store.get_session(key) is not None:
            return key, "session"
        return None, ""

    def lock(self, session_id: str) -> asyncio.Lock:
        lock = self.locks.get(session_id)
        if lock is None:
            lock = self.locks[session_id] = asyncio.Lock()
        return lock

    # ---- chat:connect -----------------------------------------------------------------
    def log_received(self, sid: str, data: dict) -> None:
        self.log.log("sio.connect_received", sid=short(sid), detail=one_line(repr(data), 2000),
                     recv_ts=f"{time.time():.3f}")

    async def connect(self, sid: str, key: str, working_dir: str, last_seq: int | None = None) -> Session | None:
        sock = self.sockets.get(sid)
        if sock is None:
            return None
        t0 = time.perf_counter()

        def ms() -> int:
            return int((time.perf_counter() - t0) * 1000)

        log = self.log.log
        session_id, found_by = self.resolve(sock, key)
        log("sio.connect_start", session=short(session_id or key), detail=one_line(working_dir, _WORKDIR_PREVIEW))
        session = self.sessions.get(session_id) if session_id else None
        log("sio.connect_t1", phase="T1", ms=ms(), detail=str(session is not None))
        if session is None:
            session = await self._open_session(sock, key, session_id, working_dir, ms)
        log("sio.connect_phase", phase="T2", detail="session_ready", ms=ms())

        async with self.lock(session.id):
            # The socket can have closed while the session was made (a slow agent start): the
            # connect then logs its phases to the end, as the real server's does, but attaches
            # nothing to the gone socket and sends it nothing. (The real server leaves a callback
            # to the gone socket behind, with no line naming it; nothing is left here.)
            live = self.sockets.get(sid) is sock
            change = attach(session, sock, self.sessions, self.single_live, self.single_owner) if live \
                else AttachChange()
            for other in change.cleared:
                log("sm.callback_cleared", session=short(other), sid=short(sid))
            if change.owner_from is not None:
                log("sm.owner_changed", session=short(session.id), sid=short(change.owner_from), to_sid=short(sid))
            if change.switched_from is not None:
                log("sio.switched", sid=short(sid), from_session=short(change.switched_from),
                    session=short(session.id))
            if change.reconnect:
                log("sio.connect_reconnect", session=short(session.id))
            log("sio.connect_phase", phase="T3", detail="callback_set", ms=ms())
            for other in change.cleared:
                log("sio.consumer_cancelled", sid=short(sid), session=short(other))
            if change.reconnect:
                log("sio.consumer_cancel_old", sid=short(sid), session=short(session.id))
            log("sio.consumer_started", sid=short(sid), session=short(session.id))

            resumed = last_seq is not None and not self.history_window_bug and not self.config.no_seq
            if resumed:
                replay = session.events_after(last_seq)
                log("sio.resume", session=short(session.id), n=last_seq, total=len(replay))
            else:
                window = session.history_window(self.config.history)
                replay = window
                log("sio.db_messages_desc", ms=0, n=len(window))
                log("sio.db_message_count", ms=0, n=len(session.messages))
                log("sio.history_loaded", n=len(window), total=len(session.messages), session=short(session.id))
            log("sio.connect_phase", phase="T4", detail="history_loaded", ms=ms())

            ready = {
                "session_id": session.id,
                "working_dir": session.working_dir,
                "original_session_id": key,
                "history_count": len(replay),
                "claude_session_id": session.agent_session_id or session.id,
                "head_seq": session.head_seq,
                "resumed": resumed,
                "server_ts": int(time.time() * 1000),
            }
            if resumed:
                ready["replay_from"] = last_seq + 1
            emit_ms = 0
            if self.sockets.get(sid) is sock:  # (the real server neither sends nor times it otherwise)
                # chat:ready (and the history after it) goes on the wire before this attach's
                # log lines are written: the attach's latency is the time to chat:ready. (No
                # wait here: one attach's lines stay together, as on the real server.)
                self.emitter.when_written(sid, self.log.hold())
                e0 = time.perf_counter()
                await self.emitter.send((sid,), "chat:ready", ready)
                emit_ms = int((time.perf_counter() - e0) * 1000)
                log("sio.ready_emit", emit_ms=emit_ms, event="chat:ready")
            log("sio.connect_t5", phase="T5", ms=ms(), emit_ms=emit_ms)
            for item in replay if self.sockets.get(sid) is sock else ():
                await self.emitter.send_encoded((sid,), self._replay_packet(session, item, resumed))
            log("sio.connect_phase", phase="T6", detail="history_sent", ms=ms())
            e0 = time.perf_counter()
            if self.sockets.get(sid) is sock:
                await self.emitter.send((sid,), "chat:history_end", {
                    "session_id": session.id, "count": len(replay), "total": len(session.messages),
                    "head_seq": session.head_seq,
                    "oldest_index": (replay[0]["index"] if replay and not resumed else len(session.messages)),
                })
            log("sio.history_end", emit_ms=int((time.perf_counter() - e0) * 1000))
        log("sio.connect_done", ms=ms())
        return session

    def _replay_packet(self, session: Session, item, resumed: bool) -> str:
        """The encoded packet replaying a stored event (resume) or a history message. History
        packets are cached: the same window is replayed on every attach."""
        if resumed:
            return self.emitter.encode(item[1], item[2])
        encoded = session.packets.get(item["index"])
        if encoded is None:
            encoded = session.packets[item["index"]] = self.emitter.encode(*message_event(item, session.id))
        return encoded

    async def _open_session(self, sock: SocketState, key: str, session_id: str | None, working_dir: str,
                            ms) -> Session:
        """Create a session, or load one the database knows (after a restart), and start its agent."""
        log = self.log.log
        row = self.store.get_session(session_id) if session_id else None
        if row is None:
            session_id = key if is_uuid(key) else str(uuid.uuid4())
        log("sio.creating_session", session=short(session_id), phase="T1.1", ms=ms())
        s0 = time.perf_counter()

        def sms() -> int:
            return int((time.perf_counter() - s0) * 1000)

        if row is not None:
            log("sm.resuming_from", session=short(session_id))
            session = Session(session_id, row.working_dir, closed=False, agent_session_id=row.agent_session_id)
            session.events = self.store.events(session_id)
            session.messages = self.store.messages(session_id)
            session.temp_ids.update(self.store.temp_ids(session_id))
            if row.closed:
                self.store.set_closed(session_id, False)
        else:
            if not is_uuid(key):
                log("sm.file_missing", session=short(key))
            session = Session(session_id, working_dir)
            self.store.add_session(session_id, working_dir)
        self.sessions[session_id] = session
        log("sm.start_phase", session=short(session_id), phase="S1", detail="before subprocess", ms=sms())
        runtime = self._start_agent(session)
        if self.slow_start:
            # the old behaviour: creating a session waits for the agent to be up
            with contextlib.suppress(Exception):
                await asyncio.shield(runtime.start_task)
        log("sm.start_phase", session=short(session_id), phase="S2", detail="subprocess created", ms=sms())
        log("sm.start_phase", session=short(session_id), phase="S3", detail="before load_history", ms=sms())
        if row is not None:
            log("sm.load_history_step", session=short(session_id), phase="L1", detail="before sync_to_db", ms=0)
            log("sm.loaded_file", n=len(session.messages))
            log("sm.load_history_phase", session=short(session_id), phase="L4", detail="after load_from_file",
                ms=sms(), n=len(session.messages))
        log("sm.start_phase", session=short(session_id), phase="S4", detail="after load_history", ms=sms())
        log("sm.started_in", session=session_id, detail=one_line(session.working_dir, 500))
        log("sm.command", detail=one_line(runtime.agent.command, 500))
        log("sm.created", session=session_id, temp_id=short(key))
        log("sio.session_created", session=short(session_id), phase="T1.2", ms=ms())
        log("sio.got_session", detail="True", phase="T1.3", ms=ms())
        if key != session_id:
            sock.temp_map[key] = session_id
            session.temp_ids.add(key)
            log("sio.mapping_stored", temp_id=short(key), session=short(session_id))
            d0 = time.perf_counter()
            self.store.add_mapping(key, session_id)
            log("app.set_mapping", temp_id=short(key), session=short(session_id))
            log("sio.db_set_session", ms=int((time.perf_counter() - d0) * 1000))
        return session

    # ---- agents -----------------------------------------------------------------------
    def answering(self) -> bool:
        """Whether an agent is writing a reply, or has messages waiting for one."""
        return any(rt.busy or not rt.queue.empty() for rt in self.runtimes.values())

    def _start_agent(self, session: Session) -> AgentRuntime:
        cfg = self.config
        startup = max(cfg.agent_startup, cfg.slow_start) if self.slow_start else cfg.agent_startup
        row = self.store.get_session(session.id)
        agent = make_agent(cfg.agent, session.working_dir, session.id, startup, cfg.agent_pace,
                           resume=row.agent_session_id if row else None)
        runtime = AgentRuntime(agent, asyncio.ensure_future(agent.start()))
        runtime.worker = asyncio.ensure_future(self._run_agent(session, runtime))
        self.runtimes[session.id] = runtime
        session.closed = False
        return runtime

    async def _run_agent(self, session: Session, runtime: AgentRuntime) -> None:
        """Feed the session's messages to its agent one at a time and deliver the output,
        whether or not any socket is attached."""
        try:
            await runtime.start_task
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the agent program could not start: every message gets an error
            await self.deliver(session, "chat:error", f"agent failed to start: {exc}")
            return
        while True:
            text = await runtime.queue.get()
            runtime.busy = True
            chunks = 0
            open_block: str | None = None
            try:
                async for item in runtime.agent.reply(text):
                    chunks += 1
                    event = item["event"]
                    event_type = event.removeprefix("chat:")
                    if event_type in ("stream", "thinking_start") and open_block is None:
                        open_block = "text" if event_type == "stream" else "thinking"
                        self.log.log("sio.block_start", n=0, event=open_block,
                                     detail=repr({"type": open_block, open_block: ""}))
                    elif event_type in ("stream_end", "thinking_end") and open_block is not None:
                        self.log.log("sio.block_stop", n=0, event=open_block)
                        open_block = None
                    await self.deliver(session, event, item.get("content", ""), item.get("extra"))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a broken agent must not take the server down
                await self.deliver(session, "chat:error", f"agent failed: {exc}")
            finally:
                runtime.busy = False
            agent_session_id = getattr(runtime.agent, "agent_session_id", None)
            if agent_session_id and agent_session_id != session.agent_session_id:
                session.agent_session_id = agent_session_id
                self.store.set_agent_session(session.id, agent_session_id)
            self.log.log("sio.completed", n=chunks)

    async def deliver(self, session: Session, event: str, content: str, extra: dict | None = None,
                      also: str | None = None) -> dict:
        """Record an event (seq, store) and send it to the session's live sockets."""
        async with self.lock(session.id):
            payload, message = session.record(event, content, extra)
            self.store.add_event(session.id, payload["seq"], event, payload)
            if message is not None:
                self.store.add_message(session.id, message)
            targets = list(session.subscribers)
            if also is not None and also not in session.subscribers:
                targets.append(also)
            if targets:
                await self.emitter.send(targets, event, payload)
            if payload["type"] in _LOGGED_CALLBACK_TYPES:
                for sid in targets:
                    self.log.log("sio.callback", sid=short(sid), session=short(session.id), event=payload["type"])
        return payload

    async def stop_agent(self, session_id: str) -> None:
        runtime = self.runtimes.pop(session_id, None)
        if runtime is None:
            return
        await stop_tasks([t for t in (runtime.worker, runtime.start_task) if t is not None])
        with contextlib.suppress(Exception):
            await runtime.agent.stop()

    # ---- chat:message -----------------------------------------------------------------
    async def message(self, sid: str, key: str, content: str) -> None:
        sock = self.sockets.get(sid)
        if sock is None:
            return
        log = self.log.log
        log("sio.message_received", sid=short(sid), session=short(key), detail=one_line(content, _CONTENT_PREVIEW))
        session_id, found_by = self.resolve(sock, key)
        if session_id is None:
            log("sio.session_not_found", session=short(key))  # (ids in messages are cut to 8 characters)
            await self.error(sid, f"session not found: {key[:64]}", key)
            return
        if session_id != key:
            log("sio.message_mapped", temp_id=short(key), session=short(session_id))
        log("sio.session_found", detail="True", _list=repr(list(self.sessions)))
        session = self.sessions.get(session_id)
        if session is None or sid not in session.subscribers:
            log("sio.no_callback", sid=short(sid), session=short(session_id))
            row = None if session else self.store.get_session(session_id)
            if session is None and row is None:
                log("sio.autoconnect_failed", session=short(session_id))
                await self.error(sid, f"session not found: {key[:64]}", key)
                return
            working_dir = session.working_dir if session else row.working_dir
            session = await self.connect(sid, session_id, working_dir)
            if session is None:
                log("sio.autoconnect_failed", session=short(session_id))
                return
        runtime = self.runtimes.get(session.id)
        if runtime is None:
            runtime = self._start_agent(session)
            self.store.set_closed(session.id, False)
        log("sio.processing", session=short(session.id), detail=one_line(content, _CONTENT_PREVIEW))
        log("sio.sending", detail="True", _busy=str(runtime.busy))
        log("sm.send_message", session=short(session.id), detail="True", sid=short(session.owner or sid))
        await self.deliver(session, "chat:user_ack", content, also=sid)
        runtime.queue.put_nowait(content)

    # ---- chat:disconnect / chat:close / load_more_history -----------------------------
    def _attached_session(self, sock: SocketState, key: str) -> Session | None:
        session_id = sock.temp_map.get(key, key)
        return self.sessions.get(session_id)

    async def _detach(self, sid: str, key: str, shape: str) -> Session | None:
        """Detach the socket from the session ``key`` names and log ``shape``; None (and a
        ``chat:error``) when there is no such session."""
        sock = self.sockets.get(sid)
        if sock is None:
            return None
        session = self._attached_session(sock, key)
        if session is None:
            await self.error(sid, f"session not found: {key[:64]}", key)
            return None
        detach(session, sock)
        self.log.log(shape, sid=short(sid), session=short(session.id))
        return session

    async def chat_disconnect(self, sid: str, key: str) -> None:
        await self._detach(sid, key, "sio.chat_disconnect")

    async def chat_close(self, sid: str, key: str) -> None:
        session = await self._detach(sid, key, "sio.chat_close")
        if session is None:
            return
        await self.stop_agent(session.id)
        session.closed = True
        self.store.set_closed(session.id, True)
        self.log.log("sm.closed", session=short(session.id))

    async def load_more_history(self, sid: str, key: str, before_index: int, limit: int) -> None:
        sock = self.sockets.get(sid)
        if sock is None:
            return
        session = self._attached_session(sock, key)
        if session is None:
            await self.error(sid, f"session not found: {key[:64]}", key)
            return
        page = session.history_page(before_index, limit)
        for message in page:
            event, payload = message_event(message, session.id)
            await self.emitter.send((sid,), event, payload)
        oldest = page[0]["index"] if page else min(max(before_index, 0), len(session.messages))
        await self.emitter.send((sid,), "chat:history_page_end", {
            "session_id": session.id, "oldest_index": oldest, "has_more": oldest > 0, "count": len(page),
        })
        self.log.log("sio.history_page", session=short(session.id), n=len(page), total=before_index)

    # ---- shutdown ---------------------------------------------------------------------
    async def close(self) -> None:
        for session_id in list(self.runtimes):
            await self.stop_agent(session_id)
            self.log.log("sm.reader_stopped", session=short(session_id), detail="False", level="WARNING")

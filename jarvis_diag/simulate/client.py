"""The virtual mobile client: a pump around a reconnect profile and a Socket.IO client.

It speaks only the wire protocol of docs/protocol.md (``auth``, ``chat:connect``,
``chat:message`` ...), so it works against any Jarvis server. What it sees is recorded as
:class:`~jarvis_diag.simulate.verdict.Obs` records for the verdict, and what the real page
would have logged is written to its frontend log in the real line shapes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from jarvis_diag.simulate.clientlog import ClientLog, short
from jarvis_diag.simulate.engine import AwakeClock, SuspendableClient
from jarvis_diag.simulate.profiles import Action, Profile, ReconnectMachine
from jarvis_diag.simulate.verdict import Obs
from jarvis_diag.tasks import stop_tasks
from server.agents import SIM_REPLY_PREFIX

EXHAUSTED = "reconnect attempts exhausted"  # (the page's failure until a later socket authenticates)

_ENGINE_REASONS = {
    "client disconnect": "io client disconnect",
    "server disconnect": "io server disconnect",
    "transport error": "transport close",
}

_last_temp_ms = 0


def new_temp_id(now_s: float) -> str:
    """``new-<epoch ms>`` like the page, made unique within this process: many virtual
    clients open sessions in the same millisecond and the server maps temporary ids."""
    global _last_temp_ms
    _last_temp_ms = max(int(now_s * 1000), _last_temp_ms + 1)
    return f"new-{_last_temp_ms}"


def refused_upgrade(exc: BaseException) -> int | None:
    """The HTTP status a refused WebSocket upgrade got, found along ``exc``'s causes
    (python-engineio says only "Connection error"), or None when the failure was another."""
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, aiohttp.WSServerHandshakeError):
            return e.status
        e = e.__cause__ or e.__context__
    return None


def connect_error_reason(exc: BaseException) -> str:
    """Why a connect failed; a refused upgrade in the page's words ('websocket error') and
    with the status the handshake got, a connect timed out as the page says it ('timeout').
    Otherwise what the connection got (python-engineio's own text is only "Connection error",
    which said nothing of a server gone: 'connection refused', 'server disconnected')."""
    status = refused_upgrade(exc)
    if status is not None:
        return f"websocket error: WebSocket upgrade refused with HTTP {status}"
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, TimeoutError) and not isinstance(e, aiohttp.ClientError):
            return "timeout"
        if isinstance(e, aiohttp.ServerDisconnectedError):
            return "server disconnected"
        if isinstance(e, OSError) and e.errno:
            return os.strerror(e.errno).lower() if e.errno > 0 else (e.strerror or str(e))
        e = e.__cause__ or e.__context__
    return str(exc) or type(exc).__name__


class ClientFailed(Exception):
    """The client could not do what was asked (connect, authenticate, attach)."""


@dataclass
class SessionState:
    key: str  # the id the client uses on the wire: its temporary id, or the UUID it opened
    working_dir: str
    temp_id: str | None = None
    uuid: str | None = None
    handler: bool = False  # the page has a handler for the session (legacy: sends no connect then)
    mux_started: float = 0.0  # performance.now()-like start of the chat view's connect
    ready_epoch: int = -1  # socket epoch of the last chat:ready
    in_replay: bool = False
    connect_pending: bool = False
    last_seq: int = 0  # highest seq delivered
    current_message: str | None = None  # the message whose live reply is streaming
    # the messages sent whose reply has not ended, oldest first: the agent answers them in
    # order, so a live reply belongs to the first (a reply can start after the next message
    # was acknowledged, when the page came back from the background meanwhile)
    awaiting: deque[str] = field(default_factory=deque)
    replay_open: deque[str] = field(default_factory=deque)  # replayed messages with no replayed reply yet
    replay_full: bool = True  # the replay is the whole history (not resumed from a seq)
    error: str | None = None  # the last chat:error for the session
    seqs: set[int] = field(default_factory=set)


def _drop_abandoned(awaiting: deque[str], result: object) -> None:
    """Replies come in the order of the messages, but a restart of the server stops an agent
    mid-reply, and that message is never answered: the next reply is the next message's.
    A reply that names its message (the reference server's sim agent does) shows which;
    the messages before it in ``awaiting`` are dropped."""
    if not isinstance(result, str) or not result.startswith(SIM_REPLY_PREFIX):
        return
    answered = result[len(SIM_REPLY_PREFIX):]
    for i, message in enumerate(awaiting):
        if message.strip() == answered:
            for _ in range(i):
                awaiting.popleft()
            return


class VirtualClient:
    """One page load. Every wait is bounded; every task is cancelled by :meth:`close`."""

    def __init__(self, index: int, url: str, token: str, profile: Profile, *, rng: random.Random,
                 log: ClientLog, record: Callable[[Obs], None], http: aiohttp.ClientSession | None = None,
                 connect_timeout: float = 10.0, wall=time.time, phone_clock=None):
        self.index = index
        self.url = url
        self.token = token
        self.profile = profile
        self.rng = rng
        self.log = log
        self.record = record
        self.http = http
        self.connect_timeout = connect_timeout
        self.wall = wall  # the true time: what every measurement uses
        self.phone_clock = phone_clock or wall  # the page's Date.now(), possibly off: what it writes
        self.clock = AwakeClock()
        self.machine = ReconnectMachine(profile, rng)
        self.sio: SuspendableClient | None = None
        self.sid: str | None = None
        self.epoch = 0  # counts sockets; chat:ready on an older socket does not count
        self.authenticated = False
        self.resubscribed_epoch = -1
        self.failed_reason: str | None = None
        self.last_error: str | None = None
        self.sessions: dict[str, SessionState] = {}
        self._by_id: dict[str, SessionState] = {}
        self._pending: list[tuple[str, dict]] = []
        self._timer: asyncio.Task | None = None
        self._tasks: set[asyncio.Task] = set()
        self._changed = asyncio.Event()
        self._t0 = time.monotonic()
        self._closed = False

    # ---- helpers -------------------------------------------------------------------
    def _perf_ms(self) -> float:
        """The page's performance.now(): milliseconds since load (pauses never matter here)."""
        return (time.monotonic() - self._t0) * 1000

    def _obs(self, kind: str, **fields: Any) -> None:
        self.record(Obs(self.wall(), kind, client=self.index, **fields))
        self._changed.set()

    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait (at most ``timeout`` s) until ``predicate()`` holds after some change."""
        deadline = time.monotonic() + timeout
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(remaining, 0.5)):
                    await self._changed.wait()
        return True

    @property
    def connected(self) -> bool:
        return self.sio is not None and self.authenticated

    def session(self, session_id: str | None) -> SessionState | None:
        return self._by_id.get(session_id or "")

    # ---- the machine's actions -------------------------------------------------------
    def _apply(self, actions: list[Action]) -> None:
        for act in actions:
            if act.kind == "log":
                self.log.log(act.shape, **act.fields)
            elif act.kind == "open":
                self._spawn(self._open())
            elif act.kind == "drop":
                self._drop()
            elif act.kind == "schedule":
                self._cancel_timer()
                self._timer = self._spawn(self._fire_timer(act.delay_s))
                self._obs("reconnect.scheduled", detail={"delay_s": act.delay_s, "attempt": act.attempt})
            elif act.kind == "cancel_timer":
                self._cancel_timer()
            elif act.kind == "resubscribe":
                # the sessions the page had when the socket came up: one it opens meanwhile
                # sends its own chat:connect (taken when the task runs, a session opened
                # right after the first connect was re-sent, or logged as 'skipped')
                had = [s for s in self.sessions.values() if s.handler]
                self._spawn(self._resubscribe(self.epoch, had))
            elif act.kind == "failed":
                self.failed_reason = EXHAUSTED
                self._obs("reconnect.exhausted")

    def _cancel_timer(self) -> None:
        if self._timer is not None and not self._timer.done():
            self._timer.cancel()
        self._timer = None

    async def _fire_timer(self, delay_s: float) -> None:
        deadline = self.clock.now() + delay_s
        while (remaining := deadline - self.clock.now()) > 0:  # timers do not run while suspended
            await self.clock.wait_awake()
            await asyncio.sleep(min(remaining, 1.0))
        self._timer = None
        self._apply(self.machine.on("timer"))

    def _sio_state(self, old: str, new: str) -> None:
        self.log.log("fe.sio_state", state_from=old, state_to=new)
        if self.machine.uses_connmgr:
            self.log.log("cm.socket_state", state_from=old, state_to=new)

    # ---- transport ---------------------------------------------------------------------
    def _new_socket(self) -> SuspendableClient:
        sio = SuspendableClient(self.clock, reconnection=False, http_session=self.http,
                                handle_sigint=False, logger=False, engineio_logger=False)
        epoch = self.epoch + 1

        async def on_connect() -> None:
            if sio is self.sio:
                self.sid = sio.get_sid() or sio.sid
                self.log.log("fe.connected")
                self._sio_state("connecting", "authenticating")
                self._obs("socket.connected", sid=self.sid)
                await sio.emit("auth", {"token": self.token})

        async def on_disconnect(reason: str = "transport error") -> None:
            js_reason = sio.eio.close_reason or _ENGINE_REASONS.get(reason, reason)
            self.log.log("fe.disconnected", reason=js_reason)
            if sio is not self.sio:
                return
            was_auth = self.authenticated
            self.sio, self.authenticated = None, False
            self._spawn(self._abort(sio))  # a transport that timed out is still open: close it
            self._sio_state("connected" if was_auth else "authenticating", "disconnected")
            self._obs("socket.disconnected", sid=self.sid, detail={"reason": js_reason})
            for s in self.sessions.values():
                s.in_replay = False
                s.connect_pending = False
            if not self._closed:
                self._apply(self.machine.on("disconnected"))

        async def on_any(event: str, data: Any = None) -> None:
            if sio is self.sio and self.epoch == epoch:
                await self._on_event(event, data if isinstance(data, dict) else {})

        sio.on("connect", on_connect)
        sio.on("disconnect", on_disconnect)
        sio.on("*", on_any)
        return sio

    async def _open(self) -> None:
        if self._closed:
            return
        self._drop()
        sio = self._new_socket()
        self.sio = sio
        self.epoch += 1
        self.authenticated = False
        self._sio_state("disconnected", "connecting")
        self.log.log("fe.connecting")
        self._obs("socket.connecting")
        try:
            async with asyncio.timeout(self.connect_timeout + 1):
                await sio.connect(self.url, transports=["websocket"], wait_timeout=self.connect_timeout)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            reason = connect_error_reason(exc)
            if sio is self.sio:
                self.sio = None
                self.log.log("fe.connect_error", reason=reason)
                self._sio_state("connecting", "disconnected")
                self.last_error = reason
                self._obs("socket.error", detail={"reason": reason})
                self._apply(self.machine.on("connect_error"))
            await self._abort(sio)

    def _drop(self) -> None:
        """Drop the current socket without waiting for a peer that may be gone."""
        sio, self.sio = self.sio, None
        self.authenticated = False
        if sio is not None:
            self._spawn(self._abort(sio))

    @staticmethod
    async def _abort(sio: SuspendableClient) -> None:
        # python-engineio leaves the WebSocket open when its read loop ends on a ping timeout or
        # an error, or a connect fails after the upgrade; it stayed open until the garbage
        # collector found it, and a busy run ran out of open files. A page closes it.
        with contextlib.suppress(Exception):
            sio.connected = False
            async with asyncio.timeout(5):
                await sio.eio.disconnect(abort=True)
                if sio.eio.ws is not None and not sio.eio.ws.closed:
                    await sio.eio.ws.close()

    async def _emit(self, event: str, data: dict) -> bool:
        sio = self.sio
        if sio is None or not self.authenticated:
            self.log.log("fe.emit_queued", event=event, state_from="disconnected", n=len(self._pending))
            self._pending.append((event, data))
            return False
        shape = {"chat:connect": "fe.emit_connect", "chat:message": "fe.emit_message"}.get(event, "fe.emit_other")
        fields = {"session": short(data.get("session_id")), "transport": "websocket"}
        if shape == "fe.emit_other":
            fields["event"] = event
        self.log.log(shape, **fields)
        try:
            await sio.emit(event, data)
        except Exception:
            return False
        return True

    # ---- what the server sends ---------------------------------------------------------
    async def _on_event(self, event: str, data: dict) -> None:
        if event == "auth_success":
            self.authenticated = True
            self.log.log("fe.auth_ok", transport="websocket")
            self._sio_state("authenticating", "connected")
            self._obs("auth.ok", sid=self.sid)
            if self.failed_reason == EXHAUSTED:  # (an 'online' or a user's tap brought it back)
                self.failed_reason = None
            self._apply(self.machine.on("connected"))
            if self._pending:
                pending, self._pending = self._pending, []
                self.log.log("fe.pending", n=len(pending))
                for ev, payload in pending:
                    await self._emit(ev, payload)
            return
        if event == "auth_failed":
            reason = str(data.get("reason", "invalid token"))
            self.log.log("fe.auth_failed", reason=reason)
            self.failed_reason = f"authentication failed: {reason}"
            self._obs("auth.failed", detail={"reason": reason})
            return
        if not event.startswith("chat:"):
            return
        s = self.session(data.get("session_id")) or self.session(data.get("original_session_id"))
        if event == "chat:ready":
            await self._on_ready(s, data)
            return
        if s is None:
            self.log.log("fe.no_handler", detail=f"{event} {short(data.get('session_id'))}")
            return
        seq = data.get("seq") if isinstance(data.get("seq"), int) else None
        handler_key = (s.uuid or s.key)[:10]
        if event == "chat:history_end":
            s.in_replay = False
            # a whole history says which messages are still waiting for their reply (a resumed
            # replay went on from where the page was: it kept count as if live)
            if s.replay_full:
                s.awaiting = deque(s.replay_open)
            s.replay_open = deque()
            self.log.log("chat.history_end", n=int(data.get("count", 0) or 0))
            self._obs("history_end", session=s.key, seq=seq)
            return
        if event == "chat:error":
            reason = str(data.get("message", ""))
            s.error = reason
            self.log.log("fe.chat_error", session=short(s.uuid or s.key), reason=reason)
            self._obs("chat.error", session=s.key, detail={"message": reason})
            return
        if seq is not None:
            s.seqs.add(seq)
            s.last_seq = max(s.last_seq, seq)
        if event == "chat:user_ack":
            s.current_message = str(data.get("content", ""))
            s.awaiting.append(s.current_message)
            self.log.log("fe.user_ack", session=short(s.uuid or s.key))
            self._obs("ack", session=s.key, content=s.current_message, seq=seq)
            return
        self.log.log("fe.handle_message", event=event, session=short(s.uuid or s.key), detail=handler_key)
        replay = s.in_replay
        content = data.get("content")
        history = replay and s.replay_full  # (a whole history, not events resumed from a seq)
        message = None
        if event == "chat:user" and replay:
            s.current_message = str(content)  # replayed replies belong to this message
            if history:
                s.replay_open.append(s.current_message)
        elif history and event == "chat:assistant" and s.replay_open:
            # a history holds each turn's reply as one chat:assistant, in the order of the
            # messages: messages sent together (several pages on one session) come first,
            # then their replies, so a reply is the oldest unanswered message's; past a
            # message a restart left unanswered, when the reply names its own
            _drop_abandoned(s.replay_open, content)
            message = s.replay_open.popleft()
        if event in ("chat:assistant", "chat:result") and not history:
            _drop_abandoned(s.awaiting, content)  # (both carry the whole answer)
        if message is None:
            message = s.current_message if history or not s.awaiting else s.awaiting[0]
        self._obs("chat", session=s.key, event=event, seq=seq, replay=replay,
                  content=content if isinstance(content, str) else None, message=message)
        if event == "chat:result" and not history and s.awaiting:
            s.awaiting.popleft()
        if event == "chat:result" and not replay:
            s.current_message = None

    async def _on_ready(self, s: SessionState | None, data: dict) -> None:
        if s is None:
            self.log.log("fe.no_handler", detail=f"chat:ready {short(data.get('session_id'))}")
            return
        uuid = data.get("session_id") or s.uuid
        client_ms = int(self.phone_clock() * 1000)
        server_ms = data.get("server_ts") if isinstance(data.get("server_ts"), int) else client_ms
        self.log.log("fe.ready_delivered", ms=client_ms - server_ms, server_ms=server_ms, client_ms=client_ms)
        if uuid and s.uuid != uuid:
            if s.uuid is None and s.temp_id:
                self.log.log("fe.remapping", temp_id=short(s.temp_id), session=short(uuid))
            s.uuid = uuid
            self._by_id[uuid] = s
        handler_key = (s.uuid or s.key)[:10]
        self.log.log("fe.ready_handled", detail=handler_key)
        self.log.log("chat.on_connect", ms=f"{self._perf_ms() - s.mux_started:.1f}")
        reconnect = s.ready_epoch >= 0
        count = int(data.get("history_count", 0) or 0)
        if count:
            self.log.log("chat.history_loading", session=short(s.key), n=count, detail=str(reconnect).lower())
        requested = s.connect_pending
        s.ready_epoch = self.epoch
        s.in_replay = True
        s.replay_open = deque()
        s.replay_full = not data.get("resumed")
        s.connect_pending = False
        self._obs("ready", session=s.key, sid=self.sid,
                  detail={"history_count": count, "resumed": bool(data.get("resumed")),
                          "replay_from": data.get("replay_from"), "server_ts": data.get("server_ts"),
                          "requested": requested, "uuid": s.uuid})

    # ---- what the page does ------------------------------------------------------------
    async def start(self, timeout: float) -> None:
        """Load the page: connect and authenticate, or raise :class:`ClientFailed`. A first
        connect that fails is retried by the profile, as the page does (a server restarting)."""
        self._apply(self.machine.on("connect"))
        ok = await self.wait_until(lambda: self.connected or self.failed_reason is not None
                                   or self.machine.state == "failed", timeout)
        if not self.connected:
            raise ClientFailed(self.failed_reason or self.last_error or
                               ("timed out connecting" if not ok else "could not connect"))

    async def open_session(self, session_id: str | None, working_dir: str, timeout: float) -> SessionState:
        """Open a session like the page: a new one (temporary id) or an existing one."""
        self.log.log("page.session_start", ms=f"{self._perf_ms():.2f}")
        if session_id is None:
            temp = new_temp_id(self.phone_clock())
            s = SessionState(key=temp, working_dir=working_dir, temp_id=temp)
        else:
            s = SessionState(key=session_id, working_dir=working_dir, uuid=session_id)
        self.sessions[s.key] = s
        self._by_id[s.key] = s
        self.log.log("page.session", detail=f"isNew={str(session_id is None).lower()}, workDir={working_dir}, "
                                            f"sessionId={short(session_id) if session_id else 'undefined'}, "
                                            "chatSid=undefined")
        await self._connect_chat(s, switching=False)
        if not await self.wait_until(lambda: (s.ready_epoch == self.epoch and not s.in_replay) or s.error, timeout):
            raise ClientFailed(f"session {short(s.key)}: no chat:ready within {timeout:g}s")
        if s.error:
            raise ClientFailed(f"session {short(s.key)}: chat:error {s.error}")
        return s

    async def switch_to(self, key: str) -> None:
        """Switch the view to a session: the profile decides whether chat:connect is re-sent."""
        await self._connect_chat(self.sessions[key], switching=True)

    async def _connect_chat(self, s: SessionState, switching: bool) -> None:
        s.mux_started = self._perf_ms()
        self.log.log("chat.mux_start", session=short(s.key), detail=s.working_dir)
        self.log.log("chat.mux_calling", ms="0.0")
        self.log.log("fe.connect_chat_start", session=short(s.key),
                     state_from="connected" if self.connected else "disconnected")
        if s.handler and not self.profile.resend_connect:
            # The field bug: the page thinks it is still attached and sends nothing.
            self.log.log("fe.handler_exists", ms="0.0")
            self.log.log("fe.already_connected", session=short(s.key))
            self._obs("connect.skipped", session=s.key)
            return
        if s.handler:
            self.log.log("fe.handler_exists_resend", detail=", sending connect to re-establish backend callback")
        else:
            s.handler = True
            self.log.log("fe.handler_new", ms="0.0")
            self.log.log("fe.subscribing", session=short(s.key))
        self.log.log("fe.calling_send", ms="0.0")
        await self._send_connect(s, "switch" if switching else "open")
        self.log.log("fe.connect_chat_end", ms=f"{self._perf_ms() - s.mux_started:.1f}")

    async def _send_connect(self, s: SessionState, cause: str) -> None:
        """``cause``: why the page attaches: ``open``, ``switch`` (the user), ``resubscribe``."""
        payload: dict[str, Any] = {"session_id": s.key, "working_dir": s.working_dir}
        if self.profile.last_seq and s.last_seq:
            payload["last_seq"] = s.last_seq
        s.connect_pending = True
        self._obs("connect.sent", session=s.key, seq=payload.get("last_seq"), detail={"cause": cause})
        await self._emit("chat:connect", payload)

    async def _resubscribe(self, epoch: int, sessions: list[SessionState]) -> None:
        """After a (re)connect: what the page does for ``sessions``, those it already had."""
        if sessions and self.profile.resend_connect:
            self.log.log("fe.resending", n=len(sessions), total=0)
            for s in sessions:
                self.log.log("fe.resubscribing", session=short(s.key))
                await self._send_connect(s, "resubscribe")
        elif sessions:
            self.log.log("fe.resending", n=0, total=len(sessions))
            for s in sessions:  # the old page: the handlers exist, nothing is sent
                self.log.log("fe.connect_chat_start", session=short(s.key), state_from="connected")
                self.log.log("fe.handler_exists", ms="0.0")
                self.log.log("fe.already_connected", session=short(s.key))
                self._obs("connect.skipped", session=s.key)
        if self.epoch == epoch:
            self.resubscribed_epoch = epoch
            self._changed.set()

    async def send_message(self, key: str, content: str, kind: str = "message") -> bool:
        s = self.sessions[key]
        self.log.log("fe.chat_message", temp_id=short(s.key), session=short(s.key),
                     detail="found" if s.handler else "missing",
                     state_from="connected" if self.connected else "disconnected")
        self._obs(f"{kind}.sent", session=s.key, content=content)
        return await self._emit("chat:message", {"session_id": s.key, "content": content})

    def settled(self) -> bool:
        """The page is connected and has done what it does after a reconnect: every session
        it re-attached is ready (or, for a page that sends no chat:connect, it believes so)."""
        if not self.connected or self.resubscribed_epoch != self.epoch:
            return False
        return all(not s.connect_pending and not s.in_replay for s in self.sessions.values())

    def hide(self, frozen: bool) -> None:
        self._obs("hidden", detail={"frozen": frozen})
        self._apply(self.machine.on("hidden"))
        if frozen:
            self.clock.suspend()

    def show(self, frozen: bool) -> None:
        if frozen:
            self.clock.resume()
        self._obs("visible")
        self._apply(self.machine.on("visible"))

    def mark(self, kind: str) -> None:
        """Record a moment the run decides: ``visible`` (end of a flaky window), ``settled``."""
        self._obs(kind)

    def network(self, online: bool) -> None:
        self._apply(self.machine.on("online" if online else "offline"))

    async def close(self) -> None:
        self._closed = True
        self._cancel_timer()
        self.clock.resume()
        self._apply(self.machine.on("close"))
        sio, self.sio = self.sio, None
        if sio is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await sio.disconnect()
            await self._abort(sio)
        await stop_tasks(list(self._tasks))
        self.log.flush()


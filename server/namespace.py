"""Socket.IO handlers: check the payload, then call the chat service. Nothing here decides
anything about sessions; bad input becomes a ``chat:error`` or a log line, never a crash."""

from __future__ import annotations

import asyncio
import hmac
import logging

import socketio
from socketio import packet

from server.chat import ChatService
from server.logs import ServerLog, one_line, short

MAX_ID_LEN = 200
MAX_DIR_LEN = 4096
MAX_PAGE = 500


class BadPayload(ValueError):
    """A payload the protocol does not allow; the message goes back in chat:error."""


def _field_str(data: dict, name: str, limit: int, required: bool = True) -> str | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():  # (a blank id opened a session of that name)
        raise BadPayload(f"{name} must be a non-empty string")
    if len(value) > limit:
        raise BadPayload(f"{name} is too long")
    return value


def _field_int(data: dict, name: str, default: int | None = None, minimum: int = 0) -> int | None:
    value = data.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise BadPayload(f"{name} must be an integer >= {minimum}")
    return value


def parse_connect(data: object) -> tuple[str, str, int | None]:
    """``chat:connect`` -> (session id, working dir, last_seq or None)."""
    if not isinstance(data, dict):
        raise BadPayload("chat:connect needs an object payload")
    key = _field_str(data, "session_id", MAX_ID_LEN)
    if data.get("working_dir") in (None, ""):
        raise BadPayload("working_dir is required")
    working_dir = _field_str(data, "working_dir", MAX_DIR_LEN)
    return key, working_dir, _field_int(data, "last_seq")


def parse_message(data: object, max_bytes: int) -> tuple[str, str]:
    if not isinstance(data, dict):
        raise BadPayload("chat:message needs an object payload")
    key = _field_str(data, "session_id", MAX_ID_LEN)
    content = data.get("content")
    if not isinstance(content, str) or not content.strip():
        raise BadPayload("content must be a non-empty string")
    if len(content.encode("utf-8", "surrogatepass")) > max_bytes:
        raise BadPayload(f"content is larger than {max_bytes} bytes")
    return key, content


def parse_session_only(data: object, event: str) -> str:
    if not isinstance(data, dict):
        raise BadPayload(f"{event} needs an object payload")
    return _field_str(data, "session_id", MAX_ID_LEN)


def parse_history_page(data: object) -> tuple[str, int, int]:
    if not isinstance(data, dict):
        raise BadPayload("chat:load_more_history needs an object payload")
    key = _field_str(data, "session_id", MAX_ID_LEN)
    before_index = _field_int(data, "before_index")
    if before_index is None:
        raise BadPayload("before_index is required")
    limit = _field_int(data, "limit", default=20, minimum=1)
    return key, before_index, min(limit, MAX_PAGE)


def _session_key(data: object) -> object:
    return data.get("session_id") if isinstance(data, dict) and isinstance(data.get("session_id"), str) else None


class _OneLineHandler(logging.Handler):
    """Engine.IO's errors (a frame of no known packet type) as one app line each, not a
    traceback on the console."""

    def __init__(self, log: ServerLog):
        super().__init__(logging.ERROR)
        self.log = log

    def emit(self, record: logging.LogRecord) -> None:
        exc = record.exc_info[1] if record.exc_info else None
        reason = record.getMessage() + (f": {type(exc).__name__}: {exc}" if exc else "")
        self.log.log("sio.event_rejected", event="frame", sid="-", reason=one_line(reason, 200))


class _NotAPacket:
    """The name of the event a frame that is no Socket.IO packet decodes to: no client can
    send it (a Socket.IO event name is a string)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<not a Socket.IO packet>"


NOT_A_PACKET = _NotAPacket()
# the packet types a client sends (CONNECT_ERROR goes from the server only)
_CLIENT_PACKET_TYPES = frozenset({packet.CONNECT, packet.DISCONNECT, packet.EVENT, packet.ACK,
                                  packet.BINARY_EVENT, packet.BINARY_ACK})


def _not_a_packet_reason(packet_type: object, data: object) -> str | None:
    """Why a decoded frame is no packet python-socketio can handle, or None."""
    if packet_type not in _CLIENT_PACKET_TYPES:
        return f"packet type {packet_type!r} is not one a client sends"
    if packet_type in (packet.EVENT, packet.BINARY_EVENT):
        if not (isinstance(data, list) and data):
            return "an event is a list of a name and data"
        # (python-socketio takes any other first item as the event's name, 42 or null as well:
        # an unknown event; a list or an object it cannot look up, and its lookup raises)
        if isinstance(data[0], (list, dict)):
            return "an event's name is no list or object"
    return None


class CheckedPacket(packet.Packet):
    """python-socketio's packet, given to the server as its ``serializer`` (the public way to
    change how frames are decoded). A frame that is no Socket.IO packet (not JSON, an event that
    is no list or an empty one, or whose name is a list or an object, a type no client sends)
    would raise out of python-socketio's message handler, and Engine.IO would log it without the
    socket's sid (with its default logger, as a traceback on the console). Here it decodes to an event named
    :data:`NOT_A_PACKET` carrying the reason, which :class:`ChatNamespace` logs as one line
    with the socket's sid; the socket carries on."""

    def __init__(self, *args, encoded_packet=None, **kwargs):
        super().__init__(*args, encoded_packet=encoded_packet, **kwargs)
        if encoded_packet is not None and len(encoded_packet) == 0:  # (decode is not called for it)
            self._not_a_packet("an empty frame")

    def decode(self, encoded_packet):
        try:
            attachments = super().decode(encoded_packet)
            reason = _not_a_packet_reason(self.packet_type, self.data)
        except Exception as exc:
            attachments, reason = 0, f"{type(exc).__name__}: {exc}"
        if reason is None:
            return attachments
        self._not_a_packet(reason)
        return 0

    def _not_a_packet(self, reason: str) -> None:
        self.packet_type, self.namespace, self.id = packet.EVENT, None, None
        self.data = [NOT_A_PACKET, reason]


class SocketServer(socketio.AsyncServer):
    """python-socketio's server, where a frame that is no Socket.IO packet is one log line, as
    a bad payload is, not a traceback on the console (:class:`CheckedPacket`); so is an error
    Engine.IO logs. The socket and the server carry on."""

    def __init__(self, log: ServerLog, **kwargs):
        engine_logger = logging.Logger("engineio.server", logging.ERROR)  # (this server's own)
        engine_logger.addHandler(_OneLineHandler(log))
        super().__init__(logger=False, engineio_logger=engine_logger, serializer=CheckedPacket, **kwargs)


class ChatNamespace(socketio.AsyncNamespace):
    def __init__(self, chat: ChatService, token: str):
        super().__init__("/")
        self.chat = chat
        self.token = token.encode()
        self.handlers = {
            "auth": self.on_auth,
            "chat:connect": self.on_chat_connect,
            "chat:message": self.on_chat_message,
            "chat:disconnect": self.on_chat_disconnect,
            "chat:close": self.on_chat_close,
            "chat:load_more_history": self.on_load_more_history,
            "system:ping": self.on_ping,
        }
        # One socket's events run one at a time, in the order they arrived (a message right
        # after chat:connect sees the attach): each event is a task of its own (the heartbeat
        # goes on meanwhile) that waits for this FIFO lock first. Its disconnect waits for
        # nothing, as on the real server: the line is logged when the socket closes, not after
        # a slow chat:connect ends (which then finds the socket gone and attaches nothing).
        self._in_order: dict[str, asyncio.Lock] = {}

    async def trigger_event(self, event, *args):
        if event == "connect":
            self.chat.socket_connected(args[0])
            return True
        sid = args[0]
        if event is NOT_A_PACKET:
            self.chat.log.log("sio.event_rejected", event="packet", sid=short(sid),
                              reason=one_line(f"not a Socket.IO packet: {args[1]}", 200))
            return None
        if event == "disconnect":
            self._in_order.pop(sid, None)
            self.chat.socket_disconnected(sid)
            return None
        if sid not in self._in_order and sid not in self.chat.sockets:
            return None  # (an event of a socket already gone)
        async with self._in_order.setdefault(sid, asyncio.Lock()):
            return await self._handle(event, sid, args[1] if len(args) > 1 else None)

    async def _handle(self, event: str, sid: str, data: object) -> None:
        log = self.chat.log.log
        handler = self.handlers.get(event)
        if handler is None:
            log("sio.event_rejected", event=one_line(event, 60), sid=short(sid), reason="unknown event")
            return None
        sock = self.chat.sockets.get(sid)
        if sock is None:
            return None
        if event != "auth" and not sock.authenticated:
            log("sio.event_rejected", event=event, sid=short(sid), reason="not authenticated")
            await self.chat.emitter.send((sid,), "chat:error",
                                         {"session_id": _session_key(data), "message": "not authenticated"})
            return None
        try:
            await handler(sid, data)
        except BadPayload as exc:
            log("sio.event_rejected", event=event, sid=short(sid), reason=str(exc))
            await self.chat.emitter.send((sid,), "chat:error", {"session_id": _session_key(data), "message": str(exc)})
        except Exception as exc:  # never let one client's bad input take the server down
            log("sio.send_error", sid=short(sid), reason=one_line(f"{event}: {type(exc).__name__}: {exc}", 300))
            await self.chat.emitter.send((sid,), "chat:error",
                                         {"session_id": _session_key(data), "message": "internal error"})
        return None

    async def on_auth(self, sid: str, data: object) -> None:
        sock = self.chat.sockets[sid]
        if sock.authenticated:
            return  # a second auth is ignored
        token = data.get("token") if isinstance(data, dict) else None
        if isinstance(token, str) and hmac.compare_digest(token.encode(), self.token):
            sock.authenticated = True
            self.chat.log.log("sio.client_authenticated", sid=short(sid))
            await self.chat.emitter.send((sid,), "auth_success", {})
        else:
            self.chat.log.log("sio.client_auth_failed", sid=short(sid))
            await self.chat.emitter.send((sid,), "auth_failed", {"reason": "invalid token"})

    async def on_chat_connect(self, sid: str, data: object) -> None:
        if isinstance(data, dict):
            self.chat.log_received(sid, data)
        key, working_dir, last_seq = parse_connect(data)
        await self.chat.connect(sid, key, working_dir, last_seq)

    async def on_chat_message(self, sid: str, data: object) -> None:
        key, content = parse_message(data, self.chat.config.max_message_bytes)
        await self.chat.message(sid, key, content)

    async def on_chat_disconnect(self, sid: str, data: object) -> None:
        await self.chat.chat_disconnect(sid, parse_session_only(data, "chat:disconnect"))

    async def on_chat_close(self, sid: str, data: object) -> None:
        await self.chat.chat_close(sid, parse_session_only(data, "chat:close"))

    async def on_load_more_history(self, sid: str, data: object) -> None:
        key, before_index, limit = parse_history_page(data)
        await self.chat.load_more_history(sid, key, before_index, limit)

    async def on_ping(self, sid: str, data: object) -> None:
        await self.chat.emitter.send((sid,), "system:pong", {})

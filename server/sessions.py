"""Sessions, sockets and who receives what: the state, and the attach rules (pure).

A session has an ordered log of events, each with ``seq`` (1, 2, 3 ... never repeated):
every ``chat:*`` event the session produces for its subscribers (``chat:user_ack``, the
agent's output, agent errors). Its *history* is the subset that are messages (user,
assistant, tool call, tool result), replayed on ``chat:connect``.

The ``--bug`` behaviours change only :func:`attach` (who stays subscribed) and which
events a connect replays; everything else is the same code.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

# output types that become history messages (what the real system stores in its database)
MESSAGE_TYPES = frozenset({"user", "assistant", "tool_call", "tool_result"})
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def is_uuid(value: str) -> bool:
    return bool(UUID_RE.match(value))


def timestamp_iso(epoch_s: float | None = None) -> str:
    t = time.time() if epoch_s is None else epoch_s
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"


@dataclass(eq=False)
class Session:
    id: str
    working_dir: str
    temp_ids: set[str] = field(default_factory=set)
    events: list[tuple[int, str, dict]] = field(default_factory=list)  # (seq, event, payload)
    messages: list[dict] = field(default_factory=list)
    subscribers: dict[str, None] = field(default_factory=dict)  # sids receiving live output, in order
    owner: str | None = None  # single-owner bug: the one live socket
    closed: bool = False
    agent_session_id: str | None = None  # the agent program's own id (Claude CLI --resume)
    packets: dict[int, str] = field(default_factory=dict, repr=False)  # history index -> encoded replay

    @property
    def head_seq(self) -> int:
        return self.events[-1][0] if self.events else 0

    def record(self, event: str, content: str, extra: dict | None = None) -> tuple[dict, dict | None]:
        """Append an event; return its payload and, if it is a history message, the message."""
        seq = self.head_seq + 1
        event_type = event.removeprefix("chat:")
        now = timestamp_iso()
        payload = {"session_id": self.id, "seq": seq, "type": event_type, "content": content, "timestamp": now}
        if extra is not None:
            payload["extra"] = extra
        self.events.append((seq, event, payload))
        message = None
        if event_type in MESSAGE_TYPES or event == "chat:user_ack":
            message = {"index": len(self.messages), "seq": seq, "type": "user" if event == "chat:user_ack" else event_type,
                       "content": content, "timestamp": now}
            if extra is not None:
                message["extra"] = extra
            self.messages.append(message)
        return payload, message

    def events_after(self, last_seq: int) -> list[tuple[int, str, dict]]:
        """Events with ``seq > last_seq`` (seqs are 1..head with no gap, so this is a slice)."""
        start = max(0, min(last_seq, len(self.events)))
        while start > 0 and self.events[start - 1][0] > last_seq:  # defensive: never skip one
            start -= 1
        return [e for e in self.events[start:] if e[0] > last_seq]

    def history_window(self, limit: int) -> list[dict]:
        return self.messages[-limit:] if limit > 0 else []

    def history_page(self, before_index: int, limit: int) -> list[dict]:
        end = max(0, min(before_index, len(self.messages)))
        return self.messages[max(0, end - limit) : end]


def message_event(message: dict, session_id: str) -> tuple[str, dict]:
    """The event that replays a history message: ``chat:<type>`` ``{type, content, timestamp, extra?}``."""
    payload = {"session_id": session_id, "seq": message["seq"], "index": message["index"], "type": message["type"],
               "content": message["content"], "timestamp": message["timestamp"]}
    if "extra" in message:
        payload["extra"] = message["extra"]
    return f"chat:{message['type']}", payload


@dataclass(eq=False)
class SocketState:
    sid: str
    authenticated: bool = False
    # sessions this socket is subscribed to: with single-live-session, also those whose callback it lost
    sessions: dict[str, None] = field(default_factory=dict)
    live_session: str | None = None  # the last session it attached (single-live-session bug)
    temp_map: dict[str, str] = field(default_factory=dict)  # (sid, 'chat', temp id) -> UUID, this socket's part


@dataclass(slots=True)
class AttachChange:
    """What an attach did, so the caller can log it like the real server."""

    reconnect: bool = False  # the socket was already subscribed to this session
    cleared: list[str] = field(default_factory=list)  # sessions this socket lost (single-live-session)
    switched_from: str | None = None  # the socket's previous live session (single-live-session)
    owner_from: str | None = None  # previous owner that lost the session (single-owner)


def attach(session: Session, sock: SocketState, sessions: dict[str, Session],
           single_live: bool = False, single_owner: bool = False) -> AttachChange:
    """Subscribe ``sock`` to ``session``'s live output, applying the chosen bug rules."""
    change = AttachChange(reconnect=sock.sid in session.subscribers)
    if single_live:
        if sock.live_session and sock.live_session != session.id:
            change.switched_from = sock.live_session
        # (the socket stays subscribed to the others, as the real server's subscription list
        # does: only their callbacks go, each told once, when it goes)
        for other_id in sock.sessions:
            other = sessions.get(other_id)
            if other_id != session.id and other is not None and sock.sid in other.subscribers:
                del other.subscribers[sock.sid]
                if other.owner == sock.sid:
                    other.owner = None
                change.cleared.append(other_id)
    if single_owner and session.owner is not None and session.owner != sock.sid:
        previous = session.owner
        change.owner_from = previous
        session.subscribers.pop(previous, None)
    if single_owner:
        session.owner = sock.sid
    session.subscribers[sock.sid] = None
    sock.sessions[session.id] = None
    sock.live_session = session.id
    return change


def detach(session: Session, sock: SocketState) -> bool:
    """Unsubscribe; True when the socket was subscribed."""
    was = sock.sid in session.subscribers
    session.subscribers.pop(sock.sid, None)
    sock.sessions.pop(session.id, None)
    if session.owner == sock.sid:
        session.owner = None
    if sock.live_session == session.id:
        sock.live_session = None
    return was

"""Write realistic log sets (app.log + frontend remote logs) for end-to-end tests.

Every line is produced with :mod:`jarvis_diag.lines` (the same templates the parser reads),
the backend writes local time of a non-UTC zone, and each frontend client's clock is
skewed: a test knows the truth (zone, skew, ids) and checks that `timeline` recovers it.
Times passed around are TRUE epoch seconds; the writers apply zone and skew.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from jarvis_diag import lines

DAY_START = 1795514400.0  # 2026-11-24 10:00:00 UTC
WORK_DIR = "/home/u/proj"


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out or "0"


@dataclass
class Client:
    """One page load: its id and how far its clock runs ahead of the server's (ms)."""

    skew_ms: float
    born: float
    suffix: str = "k3x9"
    lines: list[tuple[float, str]] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"Mozilla50iPhoneCPUiP-{_base36(int(round(self.born * 1000 + self.skew_ms)))}-{self.suffix}"

    def clock_ms(self, t: float) -> int:
        return int(round(t * 1000 + self.skew_ms))


class LogSet:
    """A growing log set. Methods append both sides' lines of one protocol step and move
    ``now`` forward; ``write(dir)`` puts the files on disk."""

    def __init__(self, *, zone: str = "Asia/Shanghai", start: float = DAY_START + 10.0, seed: int = 7,
                 one_way_ms: float = 3.0):
        self.zone = ZoneInfo(zone)
        self.now = start
        self.backend: list[tuple[float, str]] = []
        self.clients: list[Client] = []
        self.rng = random.Random(seed)
        self.one_way_ms = one_way_ms

    # ---- low level ------------------------------------------------------------------
    def delay(self) -> float:
        """A one-way network delay in seconds (a few ms, jittered)."""
        return (self.one_way_ms + self.rng.uniform(0, 2.0)) / 1000.0

    def be(self, t: float, name: str, **fields: object) -> float:
        shape = lines.SHAPES_BY_NAME[name]
        local = datetime.fromtimestamp(t, tz=self.zone).replace(tzinfo=None)
        self.backend.append((t, lines.backend_line(local, shape.logger, shape.level, shape.render(**fields))))
        return t

    def be_raw(self, t: float, logger: str, level: str, message: str) -> float:
        local = datetime.fromtimestamp(t, tz=self.zone).replace(tzinfo=None)
        self.backend.append((t, lines.backend_line(local, logger, level, message)))
        return t

    def fe(self, c: Client, t: float, name: str, **fields: object) -> float:
        shape = lines.SHAPES_BY_NAME[name]
        c.lines.append((t, lines.frontend_line(c.clock_ms(t) / 1000.0, shape.level, shape.render(**fields))))
        return t

    def client(self, skew_ms: float = 2734.0, suffix: str = "k3x9") -> Client:
        c = Client(skew_ms=skew_ms, born=self.now, suffix=suffix)
        self.clients.append(c)
        return c

    def wait(self, seconds: float) -> None:
        self.now += seconds

    def temp_id(self, c: Client) -> str:
        """A brand-new session's temporary id, made from the client's (skewed) clock."""
        return f"new-{c.clock_ms(self.now)}"

    # ---- protocol steps ---------------------------------------------------------------
    def connect(self, c: Client, sid: str, transport: str = "websocket", auth_ok: bool = True) -> None:
        t = self.now
        self.fe(c, t, "cm.state_labelled", state_from="idle", state_to="connecting", trigger="connect")
        self.fe(c, t, "fe.sio_state", state_from="disconnected", state_to="connecting")
        self.fe(c, t, "fe.connecting")
        t += self.delay()
        self.be(t, "sio.client_connected", sid=sid[:8])
        t += self.delay()
        self.fe(c, t, "fe.connected")
        t += self.delay()
        if not auth_ok:
            self.be(t, "sio.client_auth_failed", sid=sid[:8])
            t += self.delay()
            self.fe(c, t, "fe.auth_failed", reason="invalid token")
            self.now = t + 0.01
            return
        self.be(t, "sio.client_authenticated", sid=sid[:8])
        t += self.delay()
        self.fe(c, t, "fe.auth_ok", transport=transport)
        self.fe(c, t, "fe.sio_state", state_from="authenticating", state_to="connected")
        self.fe(c, t, "cm.state_labelled", state_from="connecting", state_to="connected", trigger="connected")
        self.fe(c, t, "cm.connected")
        self.now = t + 0.01

    def attach(self, c: Client, sid: str, uuid: str, *, temp: str | None = None, existing: bool = False,
               prev: str | None = None, history: int = 0, create_ms: float = 5.0, handler_new: bool = True,
               transport: str = "websocket", resubscribe: bool = False, received_at: float | None = None,
               last_seq: int | None = None, history_total: int | None = None, resumed: bool = False) -> None:
        """The client opens (or re-opens) a session with chat:connect; the server attaches.
        ``received_at``: when the server logs receiving it (default: a network delay later).
        ``last_seq``: the page asks to resume after it (the seq extension); ``resumed``: the
        server replays the events after it (else its history window: ``history`` of
        ``history_total`` messages)

        ``resubscribe``: the ConnectionManager's re-send after a reconnect (only
        ``Re-subscribing to chat:<id>`` and the emit on the page; the server restores a
        temporary id's mapping from its database, as the real one does)."""
        key = (temp or uuid)[:8]
        t = self.now
        if resubscribe:
            self.fe(c, t, "fe.resubscribing", session=key)
        else:
            self.fe(c, t, "chat.mux_start", session=key, detail=WORK_DIR)
            self.fe(c, t, "fe.connect_chat_start", session=key, state_from="connected")
            if handler_new:
                self.fe(c, t, "fe.handler_new", ms="0.0")
                self.fe(c, t, "fe.subscribing", session=key)
            else:
                self.fe(c, t, "fe.handler_exists_resend", detail=", sending connect to re-establish backend callback")
        self.fe(c, t, "fe.emit_connect", session=key, transport=transport)
        t0 = t
        t = t + self.delay() if received_at is None else received_at
        wire = temp or uuid
        data = {"working_dir": WORK_DIR, "resume": wire, "session_id": wire}
        if last_seq is not None:
            data["last_seq"] = last_seq
        self.be(t, "sio.connect_received", sid=sid[:8], detail=repr(data), recv_ts=f"{t:.3f}")
        start = t
        if resubscribe and existing and temp:
            self.be(t, "sio.mapping_restored", temp_id=key, session=uuid[:8])
            self.be(t, "sio.connect_start", session=uuid[:8], detail=WORK_DIR)
        else:
            self.be(t, "sio.connect_start", session=key, detail=WORK_DIR)
        if existing:
            self.be(t, "sio.connect_t1", phase="T1", ms="0", detail="True")
        else:
            self.be(t, "sio.connect_t1", phase="T1", ms="0", detail="False")
            self.be(t, "sio.creating_session", session=uuid[:8], phase="T1.1", ms="0")
            if temp:
                self.be(t, "sm.file_missing", session=key)
            t += create_ms / 1000.0
            self.be(t, "sm.started_in", session=uuid, detail=WORK_DIR)
            self.be(t, "sm.created", session=uuid, temp_id=key)
            self.be(t, "sio.session_created", session=uuid[:8], phase="T1.2", ms=f"{(t - start) * 1000:.0f}")
            if temp:
                self.be(t, "sio.mapping_stored", temp_id=key, session=uuid[:8])
        t += 0.001
        ms = lambda: f"{(t - start) * 1000:.0f}"  # noqa: E731
        self.be(t, "sio.connect_phase", phase="T2", detail="session_ready", ms=ms())
        if prev and prev[:8] != uuid[:8]:
            self.be(t, "sm.callback_cleared", session=prev[:8], sid=sid[:8])
            self.be(t, "sio.switched", sid=sid[:8], from_session=prev[:8], session=uuid[:8])
        self.be(t, "sio.connect_phase", phase="T3", detail="callback_set", ms=ms())
        if resumed:
            self.be(t, "sio.resume", session=uuid[:8], n=last_seq, total=history)
        elif history:
            self.be(t, "sio.history_loaded", n=history, total=history_total or history, session=uuid[:8])
        self.be(t, "sio.connect_phase", phase="T4", detail="history_loaded", ms=ms())
        self.be(t, "sio.consumer_started", sid=sid[:8], session=uuid[:8])
        t += 0.001
        self.be(t, "sio.ready_emit", emit_ms="0", event="chat:ready")
        server_ms = int(round(t * 1000))
        self.be(t, "sio.connect_t5", phase="T5", ms=ms(), emit_ms="0")
        self.be(t, "sio.connect_phase", phase="T6", detail="history_sent", ms=ms())
        self.be(t, "sio.history_end", emit_ms="0")
        self.be(t, "sio.connect_done", ms=ms())
        t_ready = server_ms / 1000.0 + self.delay()
        client_ms = c.clock_ms(t_ready)
        self.fe(c, t_ready, "fe.ready_delivered", ms=str(client_ms - server_ms), server_ms=server_ms,
                client_ms=client_ms)
        if temp and not resubscribe:
            self.fe(c, t_ready, "fe.remapping", temp_id=key, session=uuid[:8])
        self.fe(c, t_ready, "fe.ready_handled", detail=uuid[:10])
        self.fe(c, t_ready, "chat.on_connect", ms=f"{(t_ready - t0) * 1000:.1f}")
        if history:
            self.fe(c, t_ready, "chat.history_loading", session=key, n=history, detail="false")
        self.fe(c, t_ready, "chat.history_end", n=history)
        self.now = t_ready + 0.01

    def open_on(self, c: Client, sid: str, uuid: str) -> None:
        """The page connects on ``sid`` and attaches the existing session ``uuid``."""
        self.connect(c, sid)
        self.attach(c, sid, uuid, existing=True)

    def reattach(self, c: Client, lost: str, sid: str, uuid: str, history: int = 1) -> None:
        """The page hears that ``lost`` is gone (the server dropped it already), reconnects on
        ``sid`` and re-attaches ``uuid`` with its handler still in place."""
        self.client_disconnect(c, lost, server_sees=False)
        self.connect(c, sid)
        self.attach(c, sid, uuid, existing=True, history=history, handler_new=False)

    def reply_cut_off_by_a_switch(self, c: Client, sid: str, a: str, b: str) -> None:
        """On a new socket ``sid`` the page attaches ``a``, switches to ``b`` and back (the
        server keeps the handlers), sends ``a`` a message and, 0.2 s into its 0.5 s reply,
        attaches ``b`` again: one live session per socket, so ``a``'s reply is cut off live."""
        self.connect(c, sid)
        self.attach(c, sid, a, existing=True)
        self.attach(c, sid, b, existing=True, prev=a)
        self.attach(c, sid, a, existing=True, prev=b, handler_new=False)
        self.message(c, sid, a, reply_s=0.5)
        self.wait(0.2)
        self.attach(c, sid, b, existing=True, prev=a, handler_new=False)

    def reload_then_reconnect(self, c: Client, lost: str, sid: str, uuid: str) -> None:
        """The server reloads; 60 ms later the page hears ``lost`` close, tries 3 times and is
        back on ``sid`` 1.8 s after the reload, re-attaching ``uuid`` (2 history messages) with
        its handler still in place."""
        t_reload = self.now
        self.server_reload()
        self.now = t_reload + 0.06
        self.client_disconnect(c, lost, reason="transport close", server_sees=False)
        self.reconnect_attempts(c, 3)
        self.now = max(self.now, t_reload + 1.8)
        self.connect(c, sid)
        self.attach(c, sid, uuid, existing=True, history=2, handler_new=False)

    def switch_back_without_connect(self, c: Client, uuid: str) -> None:
        """The old frontend: a handler exists, so no chat:connect is sent."""
        t = self.now
        self.fe(c, t, "chat.mux_start", session=uuid[:8], detail=WORK_DIR)
        self.fe(c, t, "fe.connect_chat_start", session=uuid[:8], state_from="connected")
        self.fe(c, t, "fe.handler_exists", ms="0.0")
        self.fe(c, t, "fe.already_connected", session=uuid[:8])
        self.now = t + 0.01

    def message(self, c: Client, sid: str, uuid: str, *, key: str | None = None, chunks: int = 3,
                missing_callback_prev: str | None = None, history: int = 0, cut_at: int | None = None,
                reply_s: float = 1.0, deliver: bool = True, transport: str = "websocket",
                wire_delay_s: float | None = None, completes: bool = True) -> float:
        """The client sends a message; the server replies with ``chunks`` stream events.

        ``missing_callback_prev`` makes the server find no callback and auto-connect first
        (switching from that session); ``completes=False`` ends the log of the reply after its
        first ``cut_at`` chunks (the agent was stopped). Returns the true time the server
        received it."""
        key = key or uuid[:8]
        t = self.now
        self.fe(c, t, "fe.chat_message", temp_id=key, session=key, detail="found", state_from="connected")
        self.fe(c, t, "fe.emit_message", session=key, transport=transport)
        t += self.delay() if wire_delay_s is None else wire_delay_s
        received = t
        self.be(t, "sio.message_received", sid=sid[:8], session=key, detail="hello")
        if missing_callback_prev is not None:
            self.be(t, "sio.no_callback", sid=sid[:8], session=uuid[:8])
            start = t
            self.be(t, "sio.connect_start", session=uuid[:8], detail=WORK_DIR)
            self.be(t, "sio.connect_t1", phase="T1", ms="0", detail="True")
            self.be(t, "sio.connect_phase", phase="T2", detail="session_ready", ms="0")
            self.be(t, "sm.callback_cleared", session=missing_callback_prev[:8], sid=sid[:8])
            self.be(t, "sio.switched", sid=sid[:8], from_session=missing_callback_prev[:8], session=uuid[:8])
            self.be(t, "sio.connect_phase", phase="T3", detail="callback_set", ms="0")
            self.be(t, "sio.history_loaded", n=history, total=history, session=uuid[:8])
            t += 0.002
            self.be(t, "sio.connect_phase", phase="T4", detail="history_loaded", ms="2")
            self.be(t, "sio.ready_emit", emit_ms="0", event="chat:ready")
            server_ms = int(round(t * 1000))
            self.be(t, "sio.connect_t5", phase="T5", ms="2", emit_ms="0")
            self.be(t, "sio.connect_phase", phase="T6", detail="history_sent", ms="2")
            self.be(t, "sio.history_end", emit_ms="0")
            self.be(t, "sio.connect_done", ms=f"{(t - start) * 1000:.0f}")
            t_ready = server_ms / 1000.0 + self.delay()
            client_ms = c.clock_ms(t_ready)
            self.fe(c, t_ready, "fe.ready_delivered", ms=str(client_ms - server_ms), server_ms=server_ms,
                    client_ms=client_ms)
            self.fe(c, t_ready, "fe.ready_handled", detail=uuid[:10])
            self.fe(c, t_ready, "chat.on_connect", ms="15000.0")
            self.fe(c, t_ready, "chat.history_loading", session=uuid[:8], n=history, detail="true")
            self.fe(c, t_ready, "chat.history_end", n=history)
        self.be(t, "sio.processing", session=uuid[:8], detail="hello")
        self.be(t, "sio.sending", detail="True", _busy="False")
        self.be(t, "sm.send_message", session=uuid[:8], detail="True", sid=sid[:8])
        self.be(t + 0.05, "sio.callback", sid=sid[:8], session=uuid[:8], event="system")
        step = reply_s / max(chunks, 1)
        for i in range(chunks):
            tc = t + 0.1 + i * step
            if cut_at is not None and i >= cut_at:
                continue
            self.be(tc, "sio.callback", sid=sid[:8], session=uuid[:8], event="stream")
            if deliver:
                self.fe(c, tc + self.delay(), "fe.handle_message", event="chat:stream", session=uuid[:8],
                        detail=uuid[:10])
        t_end = t + 0.1 + reply_s
        if cut_at is None:
            self.be(t_end, "sio.callback", sid=sid[:8], session=uuid[:8], event="result")
            self.be(t_end, "sio.result_not_dict")
        if completes:
            self.be(t_end, "sio.completed", n=chunks)
        self.now = max(self.now, t + 0.01)
        return received

    def client_disconnect(self, c: Client, sid: str, reason: str = "transport close", server_sees: bool = True,
                          server_delay_s: float = 0.0, n: int = 1) -> None:
        t = self.now
        self.fe(c, t, "fe.disconnected", reason=reason)
        self.fe(c, t, "fe.sio_state", state_from="connected", state_to="disconnected")
        if server_sees:
            self.be(t + self.delay() + server_delay_s, "sio.client_disconnected", sid=sid[:8], n=n)
        self.now = t + 0.01

    def server_disconnect(self, sid: str, n: int = 1) -> None:
        self.be(self.now, "sio.client_disconnected", sid=sid[:8], n=n)
        self.now += 0.01

    def page_hidden(self, c: Client) -> None:
        self.fe(c, self.now, "cm.page_hidden")
        self.fe(c, self.now, "cm.state_labelled", state_from="connected", state_to="suspended", trigger="suspend")
        self.now += 0.01

    def page_visible(self, c: Client) -> None:
        self.fe(c, self.now, "cm.page_visible")
        self.fe(c, self.now, "cm.state_labelled", state_from="suspended", state_to="reconnecting", trigger="resume")
        self.fe(c, self.now, "cm.force_disconnect")
        self.now += 0.01

    def reconnect_attempts(self, c: Client, attempts: int, *, exhausted: bool = False,
                           reason: str = "xhr poll error") -> None:
        for i in range(1, attempts + 1):
            delay = min(100 * 2 ** (i - 1), 2000)
            self.fe(c, self.now, "cm.scheduling", ms=str(delay), attempt=i)
            self.now += delay / 1000.0
            self.fe(c, self.now, "cm.reconnecting_of", attempt=i, max_attempts=20)
            self.fe(c, self.now, "fe.connect_error", reason=reason)
        if exhausted:
            self.fe(c, self.now, "cm.max_retries")
            self.fe(c, self.now, "cm.state_labelled", state_from="reconnecting", state_to="failed", trigger="fail")
        self.now += 0.01

    def resubscribe(self, c: Client, keys: list[str]) -> None:
        self.fe(c, self.now, "fe.resending", n=len(keys), total=0)
        for key in keys:
            self.fe(c, self.now, "fe.resubscribing", session=key[:8])

    def server_reload(self, changed: str = "app/api/debug.py") -> None:
        t = self.now
        self.be(t, "watchfiles.change", n=1)
        self.be(t + 0.05, "app.shutting_down")
        self.be(t + 0.06, "app.stopped")
        self.be(t + 1.5, "app.starting")
        self.be(t + 1.6, "app.started")
        self.now = t + 1.7

    def app_error(self, message: str) -> None:
        self.be_raw(self.now, "jarvis", "ERROR", message)
        self.now += 0.01

    # ---- files ------------------------------------------------------------------------
    def write(self, directory: Path) -> list[Path]:
        """app.log (sorted by true time, as one process writes it) and one frontend file
        per client; returns the paths."""
        directory.mkdir(parents=True, exist_ok=True)
        app = directory / "app.log"
        ordered = sorted(enumerate(self.backend), key=lambda x: (x[1][0], x[0]))
        app.write_text("".join(line + "\n" for _i, (_t, line) in ordered))
        paths = [app]
        fe_dir = directory / "frontend"
        for c in self.clients:
            fe_dir.mkdir(exist_ok=True)
            path = fe_dir / f"20261124_{c.id}.log"
            ordered_fe = sorted(enumerate(c.lines), key=lambda x: (x[1][0], x[0]))
            path.write_text("".join(line + "\n" for _i, (_t, line) in ordered_fe))
            paths.append(path)
        return paths


def uuid_of(n: int) -> str:
    """A stable UUID-shaped id for test session ``n``."""
    return f"{n:08x}-1c2e-4b7a-9e01-{n:012x}"



_BACKEND_TIME = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) - ")


def collector_stamps(lines: list[str], zone: timedelta, lag: timedelta) -> list[datetime]:
    """The instant (UTC) a log collector (journald, docker...) would have stamped each of a
    backend log's ``lines`` with, the log written at UTC+``zone``: the line's own time plus
    ``lag``; a line with no time (a console line) the time of the line before it (the first
    ones: of the first line with a time)."""
    out: list[datetime | None] = []
    last = None
    for line in lines:
        m = _BACKEND_TIME.match(line)
        if m:
            last = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").replace(tzinfo=UTC) - zone + lag
        out.append(last)
    first = next(t for t in out if t is not None)
    return [first if t is None else t for t in out]

"""A python-socketio client whose timers stop while the page is suspended.

A suspended mobile page runs no JavaScript: its Engine.IO client neither answers pings
nor notices that the server went quiet, and its timers resume, not fire, when it wakes.
python-engineio's client would instead abort after ``pingInterval + pingTimeout`` of
silence even while "frozen". :class:`AwakeClock` counts only awake time and the two
loops below (the library's read and write loops with the waits measured on that clock,
and no packet handled while suspended) make the client behave like the page.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import aiohttp
import engineio
import socketio
from engineio import packet


class _Deadline:
    __slots__ = ("awake_at", "scope")

    def __init__(self, awake_at: float):
        self.awake_at = awake_at
        self.scope: asyncio.Timeout | None = None


def _reschedule(scope: asyncio.Timeout | None, when: float | None) -> None:
    if scope is not None:
        with contextlib.suppress(RuntimeError):  # already expiring: its timeout stands
            scope.reschedule(when)


class AwakeClock:
    """Monotonic seconds that do not advance while suspended.

    :meth:`wait_for` runs under an ``asyncio.timeout`` scope whose deadline the clock moves:
    away while suspended, to the awake time left on resume. No extra task per wait, which
    matters with thousands of clients each receiving a stream of packets.
    """

    def __init__(self) -> None:
        self._asleep_total = 0.0
        self._asleep_since: float | None = None
        self._awake = asyncio.Event()
        self._awake.set()
        self._deadlines: set[_Deadline] = set()

    @property
    def suspended(self) -> bool:
        return self._asleep_since is not None

    def now(self) -> float:
        t = time.monotonic()
        asleep = self._asleep_total + (t - self._asleep_since if self._asleep_since is not None else 0.0)
        return t - asleep

    def suspend(self) -> None:
        if self._asleep_since is None:
            self._asleep_since = time.monotonic()
            self._awake.clear()
            for d in self._deadlines:
                _reschedule(d.scope, None)

    def resume(self) -> None:
        if self._asleep_since is not None:
            self._asleep_total += time.monotonic() - self._asleep_since
            self._asleep_since = None
            self._awake.set()
            loop_now = asyncio.get_running_loop().time()
            for d in self._deadlines:
                _reschedule(d.scope, loop_now + max(0.0, d.awake_at - self.now()))

    async def wait_awake(self) -> None:
        if self._asleep_since is not None:
            await self._awake.wait()

    async def wait_for(self, aw, timeout: float):
        """``asyncio.wait_for`` with the timeout counted in awake time (TimeoutError on expiry)."""
        d = _Deadline(self.now() + timeout)
        when = None if self.suspended else asyncio.get_running_loop().time() + timeout
        self._deadlines.add(d)
        try:
            async with asyncio.timeout_at(when) as scope:
                d.scope = scope
                return await aw
        finally:
            self._deadlines.discard(d)


class SuspendableEngineIOClient(engineio.AsyncClient):
    awake_clock: AwakeClock | None = None
    # Why the transport ended, in the browser client's words (Socket.IO disconnect reasons).
    close_reason: str | None = None

    def _clock(self) -> AwakeClock:
        if self.awake_clock is None:
            self.awake_clock = AwakeClock()
        return self.awake_clock

    async def _receive_packet(self, pkt):
        # Handle a message in the read loop instead of a new task per message (the library's
        # default): in order, and far cheaper with thousands of clients. The handlers only
        # queue emits, so they never wait on this loop.
        # A Socket.IO DISCONNECT (data "1...") is the exception: its handler closes this
        # transport and waits for this very loop, so it runs as its own task.
        if pkt.packet_type == packet.MESSAGE:
            server_disconnect = isinstance(pkt.data, str) and pkt.data.startswith("1")
            await self._trigger_event("message", pkt.data, run_async=server_disconnect)
        else:
            await super()._receive_packet(pkt)

    async def _read_loop_websocket(self):  # the library's loop, on the awake clock
        clock = self._clock()
        while self.state == "connected" and self.write_loop_task:
            try:
                p = await clock.wait_for(self.ws.receive(), self.ping_interval + self.ping_timeout)
                await clock.wait_awake()  # a frozen page handles nothing until it wakes
                if not isinstance(p.data, str | bytes):
                    self.close_reason = "transport close"
                    await self.queue.put(None)
                    break
                p = p.data
            except TimeoutError:
                self.close_reason = "ping timeout"
                await self.queue.put(None)
                break
            except aiohttp.client_exceptions.ServerDisconnectedError:
                self.close_reason = "transport close"
                await self.queue.put(None)
                break
            except asyncio.CancelledError:
                raise
            except Exception:
                self.close_reason = "transport error"
                await self.queue.put(None)
                break
            try:
                pkt = packet.Packet(encoded_packet=p)
            except Exception:
                self.close_reason = "parse error"
                await self.queue.put(None)
                break
            await self._receive_packet(pkt)

        if self.write_loop_task:
            await self.write_loop_task
        if self.state == "connected":
            await self._trigger_event("disconnect", self.reason.TRANSPORT_ERROR, run_async=False)
            try:
                engineio.base_client.connected_clients.remove(self)
            except ValueError:
                pass
            await self._reset()

    async def _write_loop(self):  # the library's websocket write loop, on the awake clock
        if self.current_transport != "websocket":
            return await super()._write_loop()
        clock = self._clock()
        while self.state == "connected":
            timeout = max(self.ping_interval, self.ping_timeout) + 5
            try:
                packets = [await clock.wait_for(self.queue.get(), timeout)]
            except (TimeoutError, self.queue_empty):
                break
            except asyncio.CancelledError:
                break
            if packets == [None]:
                self.queue.task_done()
                packets = []
            else:
                while True:
                    try:
                        packets.append(self.queue.get_nowait())
                    except self.queue_empty:
                        break
                    if packets[-1] is None:
                        packets = packets[:-1]
                        self.queue.task_done()
                        break
            if not packets:
                break
            try:
                for pkt in packets:
                    if pkt.binary:
                        await self.ws.send_bytes(pkt.encode())
                    else:
                        await self.ws.send_str(pkt.encode())
                    self.queue.task_done()
            except (aiohttp.client_exceptions.ServerDisconnectedError, BrokenPipeError, OSError,
                    aiohttp.client_exceptions.ClientConnectionResetError):
                break
        self.write_loop_task = None


class SuspendableClient(socketio.AsyncClient):
    """``socketio.AsyncClient`` on the suspendable Engine.IO client."""

    def __init__(self, clock: AwakeClock, **kwargs):
        super().__init__(**kwargs)
        self.eio.awake_clock = clock

    def _engineio_client_class(self):
        return SuspendableEngineIOClient

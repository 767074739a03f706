"""A fault-injecting TCP relay on the loopback interface, one per virtual client.

The client connects to ``127.0.0.1:<proxy.port>``; every accepted connection gets its own
upstream connection to the server and two pumps copy bytes between them. The faults act
on the pumps, never on the protocol, so the relay works for any server and any client
(the virtual clients here, a real browser, the official JavaScript client):

* :meth:`freeze` / :meth:`thaw`: bytes stop both ways and nothing is closed. Bytes that
  arrive meanwhile wait (in the kernel's buffers, then a bounded queue) and are delivered
  in order, followed by any close, when thawed.
* :meth:`close_connections`: a clean close (FIN) of both sides of every connection.
* :meth:`go_offline` / :meth:`go_online`: the network is lost, as a phone loses it (airplane
  mode, wifi off, no signal). The client side of every connection is reset (RST) at once,
  as a page learns at once that its interface went down; the server side is held open and
  silent, since no packet of the phone reaches the server: it gets no FIN or RST, no byte
  from the client, and what it sends is read and dropped. New connections are refused. When
  the network is back each held connection is closed (FIN), as the phone's kernel's
  retransmitted FIN reaches the server then; so the server learns of the loss only at the
  return, or at its own ping timeout if that comes first (it closes the socket itself, and
  the relay lets it go).
* :meth:`reset_connections`: reset every open connection (one "flaky" drop).
* :attr:`refuse_websocket`: a network whose proxy refuses WebSocket (a carrier's or a
  hotel's): a new connection whose first request asks for the WebSocket upgrade gets
  ``403 Forbidden`` and is closed; plain HTTP requests (Engine.IO's polling) pass. Clients
  open a WebSocket on a connection of its own (browsers do), so the first request is the one.
* a :class:`~jarvis_diag.simulate.network.NetworkShape` delays each chunk (latency,
  jitter, bandwidth, stalls).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
from dataclasses import dataclass

from jarvis_diag.simulate.network import SHAPES, NetworkShape, ShapeTimer
from jarvis_diag.tasks import stop_tasks

LOOPBACK = ("127.0.0.1", "::1", "localhost")
_CHUNK = 65536
_QUEUE_CHUNKS = 256  # shaped pumps: chunks held before the reader waits (backpressure)
_REFUSAL_BODY = b"WebSocket upgrade refused by the network's proxy\n"
UPGRADE_REFUSAL = (b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\n"
                   b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(_REFUSAL_BODY)) + _REFUSAL_BODY


def is_websocket_upgrade(head: bytes) -> bool:
    """Whether an HTTP request head (up to its blank line) asks for the WebSocket upgrade."""
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"upgrade" and b"websocket" in value.lower():
            return True
    return False


@dataclass(slots=True)
class ProxyStats:
    accepted: int = 0
    refused: int = 0
    upstream_failed: int = 0
    bytes_up: int = 0  # client -> server
    bytes_down: int = 0  # server -> client
    resets: int = 0
    closes: int = 0
    upgrades_refused: int = 0  # WebSocket upgrades answered 403 (refuse_websocket)
    held: int = 0  # server sides held open while offline
    held_closed_by_server: int = 0  # of those, closed by the server before the network was back


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close with RST (SO_LINGER 0), the way a dropped network looks to the peer."""
    sock = writer.get_extra_info("socket")
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class _Relay:
    """One accepted connection and its upstream."""

    def __init__(self, proxy: FaultProxy, client_w: asyncio.StreamWriter, server_w: asyncio.StreamWriter):
        self.proxy = proxy
        self.client_w = client_w
        self.server_w = server_w
        self.tasks: list[asyncio.Task] = []
        self.closed = False
        self.held = False  # offline: the client side is gone, the server side open and silent
        self.released = False  # online again: the held server side was closed by the relay

    def abort(self) -> None:
        if not self.closed:
            self.closed = True
            _abort(self.client_w)
            _abort(self.server_w)
            for t in self.tasks:
                t.cancel()

    def hold(self) -> None:
        """The network is lost: reset the client side, stop relaying, leave the server side open."""
        if not self.closed and not self.held:
            self.held = True
            for t in self.tasks:
                t.cancel()  # before the reset: a pump must not pass the client's end on
            _abort(self.client_w)

    def release(self) -> None:
        """The network is back: the held server side gets its FIN."""
        if self.held and not self.closed and not self.released:
            self.released = True
            with contextlib.suppress(OSError, RuntimeError):
                if self.server_w.can_write_eof():
                    self.server_w.write_eof()
            with contextlib.suppress(Exception):
                self.server_w.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            for w in (self.client_w, self.server_w):
                with contextlib.suppress(Exception):
                    w.close()
            for t in self.tasks:
                t.cancel()


class FaultProxy:
    """A relay from ``host:port`` (port 0: any free one) to ``upstream``."""

    def __init__(self, upstream_host: str, upstream_port: int, *, shape: NetworkShape | None = None,
                 rng: random.Random | None = None, host: str = "127.0.0.1", connect_timeout: float = 10.0):
        if host not in LOOPBACK:
            raise ValueError(f"the proxy binds only to the loopback interface, not {host!r}")
        self.host = host
        self.upstream = (upstream_host, upstream_port)
        self.shape = shape or SHAPES["good"]
        self.rng = rng or random.Random(0)
        self.connect_timeout = connect_timeout
        self.port = 0
        self.stats = ProxyStats()
        self.offline = False
        self.refuse_websocket = False
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server: asyncio.base_events.Server | None = None
        self._relays: set[_Relay] = set()
        self._held: set[_Relay] = set()  # offline: server sides held open, see go_offline
        self._handlers: set[asyncio.Task] = set()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def frozen(self) -> bool:
        return not self._flowing.is_set()

    @property
    def open_connections(self) -> int:
        """Connections relayed for the client (not the server sides held while offline)."""
        return len(self._relays)

    @property
    def held_connections(self) -> int:
        """Server sides held open and silent while offline, not yet closed by either side."""
        return len(self._held)

    async def start(self) -> FaultProxy:
        self._server = await asyncio.start_server(self._accept, self.host, self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for relay in list(self._relays) + list(self._held):
            relay.abort()
        await stop_tasks(list(self._handlers))
        self._relays.clear()
        self._held.clear()
        self._flowing.set()

    async def __aenter__(self) -> FaultProxy:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ---- faults ----------------------------------------------------------------------
    def freeze(self) -> None:
        self._flowing.clear()

    def thaw(self) -> None:
        self._flowing.set()

    def close_connections(self) -> int:
        n = len(self._relays)
        for relay in list(self._relays):
            relay.close()
        self.stats.closes += n
        return n

    def reset_connections(self) -> int:
        n = len(self._relays)
        for relay in list(self._relays):
            relay.abort()
        self.stats.resets += n
        return n

    async def go_offline(self) -> None:
        """The network is lost: each client side is reset, each server side held open and
        silent until :meth:`go_online` (or until the server closes it), new connections refused."""
        self.offline = True
        self._flowing.set()  # an offline network does not also hold bytes
        if self._server is not None:
            self._server.close()  # new connections: refused by the kernel
            self._server = None
        for relay in list(self._relays):
            self._hold(relay)

    def _hold(self, relay: _Relay) -> None:
        relay.hold()
        self._relays.discard(relay)
        self._held.add(relay)
        self.stats.resets += 1
        self.stats.held += 1

    async def go_online(self) -> None:
        """The network is back: each held server side is closed (FIN), new connections accepted."""
        self.offline = False
        for relay in list(self._held):
            relay.release()
        if self._server is None:
            try:
                self._server = await asyncio.start_server(self._accept, self.host, self.port, reuse_address=True)
            except OSError:  # the port was taken meanwhile: keep accepting elsewhere is wrong, so fail loudly
                raise RuntimeError(f"proxy could not listen again on {self.host}:{self.port}") from None

    # ---- relaying --------------------------------------------------------------------
    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._handlers.add(task)
        try:
            await self._relay(client_r, client_w)
        except asyncio.CancelledError:
            pass  # stop() cancels relays; asyncio's stream callback must not see it as an error
        finally:
            self._handlers.discard(task)

    async def _relay(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        if self.offline:
            self.stats.refused += 1
            _abort(client_w)
            return
        head = b""
        if self.refuse_websocket:
            try:
                head = await client_r.readuntil(b"\r\n\r\n")
            except asyncio.LimitOverrunError:
                pass  # no HTTP request head: relayed as it is (it stays in client_r)
            except (asyncio.IncompleteReadError, ConnectionError, OSError):
                client_w.close()
                return
            if self.refuse_websocket and is_websocket_upgrade(head):
                self.stats.upgrades_refused += 1
                with contextlib.suppress(ConnectionError, OSError):
                    client_w.write(UPGRADE_REFUSAL)
                    await client_w.drain()
                client_w.close()
                return
        self.stats.accepted += 1
        try:
            async with asyncio.timeout(self.connect_timeout):
                server_r, server_w = await asyncio.open_connection(*self.upstream)
        except (TimeoutError, OSError):
            self.stats.upstream_failed += 1
            _abort(client_w)  # the client sees its connection fail, as it would without us
            return
        if head:
            server_w.write(head)  # (the request read to look at it)
            self._count("up", len(head))
        relay = _Relay(self, client_w, server_w)
        self._relays.add(relay)
        if self.offline:  # the network went while the upstream connection was being made
            self._hold(relay)
        else:
            up = self._pump(client_r, server_w, "up", relay)
            down = self._pump(server_r, client_w, "down", relay)
            relay.tasks = [asyncio.ensure_future(up), asyncio.ensure_future(down)]
        try:
            await asyncio.gather(*relay.tasks, return_exceptions=True)
            if relay.held:
                await self._held_until_closed(relay, server_r)
        finally:
            relay.close()
            self._relays.discard(relay)
            self._held.discard(relay)

    async def _held_until_closed(self, relay: _Relay, server_r: asyncio.StreamReader) -> None:
        """A held server side: what the server sends goes nowhere (read and dropped, so that
        its pings do not pile up), until the relay closes it when the network is back or the
        server closes it first (its ping timeout)."""
        try:
            while await server_r.read(_CHUNK):
                pass
        except (ConnectionError, OSError):
            pass
        if not relay.released:
            self.stats.held_closed_by_server += 1

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, direction: str, relay: _Relay) -> None:
        if self.shape.is_ideal:
            await self._pump_direct(src, dst, direction)
        else:
            await self._pump_shaped(src, dst, direction)
        # EOF from src: pass the half-close on once bytes flow (a frozen page sees it on wake).
        await self._flowing.wait()
        if not relay.closed and not relay.held:
            with contextlib.suppress(OSError, RuntimeError):
                if dst.can_write_eof():
                    dst.write_eof()
                else:
                    dst.close()

    def _count(self, direction: str, n: int) -> None:
        if direction == "up":
            self.stats.bytes_up += n
        else:
            self.stats.bytes_down += n

    async def _pump_direct(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, direction: str) -> None:
        try:
            while True:
                data = await src.read(_CHUNK)
                if not data:
                    return
                if not self._flowing.is_set():
                    await self._flowing.wait()
                dst.write(data)
                self._count(direction, len(data))
                await dst.drain()
        except (ConnectionError, OSError):
            return

    async def _pump_shaped(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, direction: str) -> None:
        loop = asyncio.get_running_loop()
        timer = ShapeTimer(self.shape, random.Random(self.rng.random()))
        queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue(_QUEUE_CHUNKS)

        async def read() -> None:
            cancelled = False
            try:
                while True:
                    data = await src.read(_CHUNK)
                    if not data:
                        break
                    await queue.put((timer.deliver_at(loop.time(), len(data)), data))
            except (ConnectionError, OSError):
                pass
            except asyncio.CancelledError:
                cancelled = True  # the writer is gone too: no end mark to wait for room for
                raise
            finally:
                if not cancelled:
                    await queue.put(None)

        reader = asyncio.ensure_future(read())
        try:
            while True:
                item = await queue.get()
                if item is None:
                    return
                at, data = item
                await self._flowing.wait()
                delay = at - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                await self._flowing.wait()
                dst.write(data)
                self._count(direction, len(data))
                await dst.drain()
        except (ConnectionError, OSError):
            return
        finally:
            reader.cancel()
            await asyncio.wait([reader])  # done before anyone else reads src (a held server side)

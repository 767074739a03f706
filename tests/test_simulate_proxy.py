"""The fault proxy against a plain asyncio echo server on 127.0.0.1 (real sockets)."""

import asyncio
import contextlib
import time

import pytest

from jarvis_diag.simulate.network import NetworkShape
from jarvis_diag.simulate.proxy import FaultProxy


@contextlib.asynccontextmanager
async def echo_server():
    closed_by_peer = []

    async def handle(reader, writer):
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
            closed_by_peer.append("eof")
        except ConnectionResetError:
            closed_by_peer.append("reset")
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    server.closed_by_peer = closed_by_peer
    try:
        yield server, server.sockets[0].getsockname()[1]
    finally:
        server.close()


@contextlib.asynccontextmanager
async def proxied(**kw):
    async with echo_server() as (server, port):
        proxy = await FaultProxy("127.0.0.1", port, **kw).start()
        try:
            yield server, proxy
        finally:
            await proxy.stop()


async def page_side_gone(reader) -> None:
    """The client's side of a connection ends (a reset, or the end of the stream) within 2 s."""
    with pytest.raises((ConnectionResetError, asyncio.IncompleteReadError)):
        data = await asyncio.wait_for(reader.read(10), 2)
        if data == b"":
            raise asyncio.IncompleteReadError(b"", 1)


async def roundtrip(reader, writer, data: bytes, timeout=2.0) -> bytes:
    writer.write(data)
    await writer.drain()
    return await asyncio.wait_for(reader.readexactly(len(data)), timeout)


async def test_relays_both_ways_and_counts_bytes():
    async with proxied() as (_, proxy):
        r, w = await asyncio.open_connection("127.0.0.1", proxy.port)
        assert await roundtrip(r, w, b"hello") == b"hello"
        assert proxy.stats.bytes_up == 5 and proxy.stats.bytes_down == 5 and proxy.open_connections == 1
        w.close()


async def test_freeze_holds_bytes_without_closing_and_thaw_delivers_them_in_order():
    async with proxied() as (server, proxy):
        r, w = await asyncio.open_connection("127.0.0.1", proxy.port)
        await roundtrip(r, w, b"a")
        proxy.freeze()
        w.write(b"bcd")
        await w.drain()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(r.read(10), 0.3)
        assert not r.at_eof() and server.closed_by_peer == [] and proxy.open_connections == 1
        proxy.thaw()
        assert await asyncio.wait_for(r.readexactly(3), 2) == b"bcd"
        w.close()


async def test_a_close_while_frozen_reaches_the_client_only_when_thawed():
    async with proxied() as (server, proxy):
        r, w = await asyncio.open_connection("127.0.0.1", proxy.port)
        await roundtrip(r, w, b"x")
        proxy.freeze()
        w.write_eof()  # the client half-closes; the server sees nothing while frozen
        await asyncio.sleep(0.2)
        assert server.closed_by_peer == []
        proxy.thaw()
        assert await asyncio.wait_for(r.read(), 2) == b""  # then the server's close comes back
        for _ in range(50):
            if server.closed_by_peer:
                break
            await asyncio.sleep(0.02)
        assert server.closed_by_peer == ["eof"]


async def test_close_connections_is_a_clean_close_and_new_connections_work():
    async with proxied() as (_, proxy):
        r, w = await asyncio.open_connection("127.0.0.1", proxy.port)
        await roundtrip(r, w, b"x")
        assert proxy.close_connections() == 1
        assert await asyncio.wait_for(r.read(), 2) == b""  # EOF, not a reset
        r2, w2 = await asyncio.open_connection("127.0.0.1", proxy.port)
        assert await roundtrip(r2, w2, b"again") == b"again"
        w2.close()


async def test_offline_resets_connections_refuses_new_ones_until_online():
    async with proxied() as (_, proxy):
        r, w = await asyncio.open_connection("127.0.0.1", proxy.port)
        await roundtrip(r, w, b"x")
        await proxy.go_offline()
        await page_side_gone(r)
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", proxy.port)
        await proxy.go_online()
        r2, w2 = await asyncio.open_connection("127.0.0.1", proxy.port)
        assert await roundtrip(r2, w2, b"back") == b"back"
        w2.close()


async def test_reset_connections_sends_rst():
    async with proxied() as (_, proxy):
        r, w = await asyncio.open_connection("127.0.0.1", proxy.port)
        await roundtrip(r, w, b"x")
        assert proxy.reset_connections() == 1
        with pytest.raises(ConnectionResetError):
            await asyncio.wait_for(r.read(10), 2)
        assert proxy.stats.resets == 1


async def test_shaped_network_adds_latency_both_ways():
    async with proxied(shape=NetworkShape("slow", latency_ms=100)) as (_, proxy):
        r, w = await asyncio.open_connection("127.0.0.1", proxy.port)
        t0 = time.monotonic()
        assert await roundtrip(r, w, b"ping") == b"ping"
        assert time.monotonic() - t0 >= 0.19  # 100 ms up, 100 ms down
        # a burst is pipelined, not delayed chunk after chunk
        t0 = time.monotonic()
        for i in range(10):
            w.write(b"%d" % i)
            await w.drain()
            await asyncio.sleep(0.005)
        assert await asyncio.wait_for(r.readexactly(10), 3) == b"0123456789"
        assert time.monotonic() - t0 < 0.6
        w.close()


async def test_unreachable_upstream_fails_the_client_connection():
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    async with FaultProxy("127.0.0.1", port) as proxy:
        r, w = await asyncio.open_connection("127.0.0.1", proxy.port)
        with pytest.raises((ConnectionResetError, asyncio.IncompleteReadError)):
            await asyncio.wait_for(r.readexactly(1), 2)
        assert proxy.stats.upstream_failed == 1


def test_binds_only_to_loopback():
    with pytest.raises(ValueError, match="loopback"):
        FaultProxy("127.0.0.1", 1, host="0.0.0.0")


@contextlib.asynccontextmanager
async def watching_server():
    """An upstream that records how each connection ended ("eof" / "reset") and keeps each
    connection's writer, so a test can close one from the server's side."""
    ended: list[str] = []
    writers: list[asyncio.StreamWriter] = []

    async def handle(reader, writer):
        writers.append(writer)
        try:
            while await reader.read(65536):
                writer.write(b"ping")  # the server keeps talking to a page it thinks is there
                await writer.drain()
            ended.append("closed by the server" if writer.is_closing() else "eof")
        except ConnectionError:
            ended.append("reset")
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield ended, writers, server.sockets[0].getsockname()[1]
    finally:
        server.close()


async def until(predicate, timeout=3.0):
    for _ in range(int(timeout / 0.02)):
        if predicate():
            return True
        await asyncio.sleep(0.02)
    return predicate()


@pytest.mark.parametrize("shape", [None, NetworkShape("slow", latency_ms=20)])
async def test_offline_holds_the_server_side_open_and_silent_and_online_closes_it_with_a_fin(shape):
    async with watching_server() as (ended, writers, port):
        async with FaultProxy("127.0.0.1", port, shape=shape) as proxy:
            r, w = await asyncio.open_connection("127.0.0.1", proxy.port)
            w.write(b"x")
            await w.drain()
            assert await asyncio.wait_for(r.readexactly(4), 2) == b"ping"
            await proxy.go_offline()
            await page_side_gone(r)
            with pytest.raises(OSError):
                await asyncio.open_connection("127.0.0.1", proxy.port)
            # the server keeps sending into the lost network and sees neither EOF nor reset
            for _ in range(3):
                writers[0].write(b"ping")
                await writers[0].drain()
                await asyncio.sleep(0.1)
            assert ended == [] and not writers[0].is_closing()
            assert proxy.held_connections == 1 and proxy.open_connections == 0
            await proxy.go_online()
            assert await until(lambda: ended == ["eof"]), ended  # a FIN, not a reset
            assert await until(lambda: proxy.held_connections == 0)
            assert proxy.stats.held == 1 and proxy.stats.held_closed_by_server == 0
            r2, w2 = await asyncio.open_connection("127.0.0.1", proxy.port)
            w2.write(b"y")
            await w2.drain()
            assert await asyncio.wait_for(r2.readexactly(4), 2) == b"ping"
            w2.close()


async def test_a_held_connection_the_server_closes_while_offline_is_let_go():
    async with watching_server() as (ended, writers, port):
        async with FaultProxy("127.0.0.1", port) as proxy:
            r, w = await asyncio.open_connection("127.0.0.1", proxy.port)
            w.write(b"x")
            await w.drain()
            await asyncio.wait_for(r.readexactly(4), 2)
            await proxy.go_offline()
            writers[0].close()  # the server's ping timeout ends the socket first
            assert await until(lambda: proxy.held_connections == 0)
            assert proxy.stats.held_closed_by_server == 1
            await proxy.go_online()  # nothing left to close: no error
            r2, w2 = await asyncio.open_connection("127.0.0.1", proxy.port)
            w2.write(b"y")
            await w2.drain()
            assert await asyncio.wait_for(r2.readexactly(4), 2) == b"ping"
            w2.close()
            assert await until(lambda: ended == ["closed by the server"]), ended

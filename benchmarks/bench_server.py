"""serve: attach latency, fan-out and memory of the reference server, each printed next to
the same figure for a bare python-socketio server measured in this run on loopback.

Both servers run as separate processes; the load comes from light raw Engine.IO clients
(aiohttp WebSockets speaking the Socket.IO text protocol) so the client side costs little.

1. Attach latency (chat:connect -> chat:ready, existing session, 2 history messages) p50/p99
   with 1, 100 and 1,000 connected clients. Reference: emit-with-ack round trip and
   connect + auth + subscribe on the bare server. Target: p50 <= 1 ms at 100 clients.
   The same attach as a python-socketio ``AsyncClient`` sees it (one client), next to the
   bare server answering chat:connect with chat:ready and chat:history_end. Target: p50 <= 1 ms.
2. Fan-out: one session's stream to 100 subscribers, deliveries/s (wall clock, and per
   second of server CPU). Reference: bare `sio.emit(..., room=...)`. Target >= 20k/s on one core.
3. Memory per idle connected (authenticated) client: server RSS delta over 1,000 clients.
   Target: 1,000 idle clients under 100 MB.

Sizes: BENCH_SERVER_ATTACHES (default 300), BENCH_SERVER_FANOUT_EVENTS (default 2000).
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from server.testing import ServerProcess  # noqa: E402

ATTACHES = int(os.environ.get("BENCH_SERVER_ATTACHES", "300"))
FANOUT_EVENTS = int(os.environ.get("BENCH_SERVER_FANOUT_EVENTS", "2000"))
SUBSCRIBERS = 100
IDLE_LEVELS = (1, 100, 1000)
TOKEN = "bench-token"

REFERENCE_SERVER = r'''
import asyncio, hmac, socket, sys
import socketio
from aiohttp import web

TOKEN = sys.argv[1]
sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins="*", ping_interval=25, ping_timeout=60,
                           max_http_buffer_size=10 * 1024 * 1024)
app = web.Application()
sio.attach(app)

@sio.on("auth")
async def auth(sid, data):
    ok = hmac.compare_digest(str((data or {}).get("token", "")).encode(), TOKEN.encode())
    await sio.emit("auth_success" if ok else "auth_failed", {}, to=sid)

@sio.on("subscribe")
async def subscribe(sid, data):
    await sio.enter_room(sid, data["room"])
    await sio.emit("subscribed", {"room": data["room"]}, to=sid)

@sio.on("echo")
async def echo(sid, data):
    return data

@sio.on("chat:connect")
async def chat_connect(sid, data):  # (the least an attach answers: ready, then the end of no history)
    key = (data or {}).get("session_id")
    await sio.emit("chat:ready", {"session_id": key, "history_count": 0}, to=sid)
    await sio.emit("chat:history_end", {"session_id": key, "count": 0}, to=sid)

@sio.on("fanout")
async def fanout(sid, data):
    for i in range(data["n"]):
        await sio.emit("chat:stream", {"session_id": data["room"], "seq": i + 1, "type": "stream",
                                       "content": f"chunk {i} "}, room=data["room"])
    await sio.emit("chat:result", {"session_id": data["room"], "content": "done"}, room=data["room"])

async def main():
    sock = socket.socket(); sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0)); sock.listen(1024)
    runner = web.AppRunner(app, access_log=None); await runner.setup()
    await web.SockSite(runner, sock).start()
    print(f"listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    print("data: -", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
'''


# ---- a raw Socket.IO client: cheap enough to hold 1,000 in one process --------------------
class RawClient:
    def __init__(self, http: aiohttp.ClientSession, url: str):
        self.http = http
        self.ws_url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        self.ws: aiohttp.ClientWebSocketResponse | None = None

    async def connect(self, token: str) -> None:
        self.ws = await self.http.ws_connect(self.ws_url, max_msg_size=0, autoping=True)
        await self.recv()  # engine.io open
        await self.ws.send_str("40")
        await self.recv_prefix("40")
        await self.emit("auth", {"token": token})
        await self.recv_prefix('42["auth_success"')

    async def emit(self, event: str, data: object, ack: int | None = None) -> None:
        assert self.ws is not None
        await self.ws.send_str(f"42{'' if ack is None else ack}" + json.dumps([event, data]))

    async def recv(self) -> str:
        assert self.ws is not None
        while True:
            msg = await self.ws.receive()
            if msg.type != aiohttp.WSMsgType.TEXT:
                raise ConnectionError(f"websocket {msg.type}")
            if msg.data == "2":  # engine.io ping
                await self.ws.send_str("3")
                continue
            return msg.data

    async def recv_prefix(self, prefix: str) -> str:
        while True:
            text = await self.recv()
            if text.startswith(prefix):
                return text

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


async def sio_attach_latencies(url: str, session_id: str) -> list[float]:
    """Attach latency as a python-socketio client sees it (a conformance checker, a Python
    app): ``AsyncClient``, every event through its catch-all handler; chat:connect sent ->
    chat:ready handled, then chat:history_end awaited before the next."""
    import socketio

    sio = socketio.AsyncClient(reconnection=False)
    arrived: asyncio.Queue = asyncio.Queue()

    @sio.on("*")
    async def _any(event, data=None):
        arrived.put_nowait((time.perf_counter(), event))

    async def until(event: str) -> float:
        while True:
            t, got = await asyncio.wait_for(arrived.get(), 10)
            if got == event:
                return t

    await sio.connect(url, transports=["websocket"])
    try:
        await sio.emit("auth", {"token": TOKEN})
        await until("auth_success")
        out = []
        for _ in range(ATTACHES):
            t0 = time.perf_counter()
            await sio.emit("chat:connect", {"session_id": session_id, "working_dir": "/tmp"})
            out.append((await until("chat:ready") - t0) * 1000)
            await until("chat:history_end")
    finally:
        await sio.disconnect()
    return out


async def connect_many(http, url: str, n: int, batch: int = 50) -> list[RawClient]:
    clients: list[RawClient] = []
    for start in range(0, n, batch):
        group = [RawClient(http, url) for _ in range(min(batch, n - start))]
        await asyncio.gather(*(c.connect(TOKEN) for c in group))
        clients += group
    return clients


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---- reference -----------------------------------------------------------------------------
class ReferenceProcess(ServerProcess):
    def argv(self) -> list[str]:
        return [sys.executable, "-c", REFERENCE_SERVER, TOKEN]


async def reference_figures(http) -> dict:
    figures: dict = {}
    with ReferenceProcess(token=TOKEN) as ref:
        base = rss_mb(ref.pid)
        c = RawClient(http, ref.url)
        await c.connect(TOKEN)
        rtt = []
        for i in range(ATTACHES):
            t0 = time.perf_counter()
            await c.emit("echo", {"i": i}, ack=i)
            await c.recv_prefix(f"43{i}[")
            rtt.append((time.perf_counter() - t0) * 1000)
        figures["ack_p50"], figures["ack_p99"] = median(rtt), pct(rtt, 0.99)
        lat = await sio_attach_latencies(ref.url, "bench")
        figures["sio_attach"] = (median(lat), pct(lat, 0.99))
        full = []
        for _ in range(min(ATTACHES, 200)):
            t0 = time.perf_counter()
            d = RawClient(http, ref.url)
            await d.connect(TOKEN)
            await d.emit("subscribe", {"room": "r"})
            await d.recv_prefix('42["subscribed"')
            full.append((time.perf_counter() - t0) * 1000)
            await d.close()
        figures["cas_p50"] = median(full)
        figures["fanout"] = await fanout_run(http, ref.pid, ref.url, reference=True)
        idle = await connect_many(http, ref.url, 1000)
        await asyncio.sleep(0.5)
        figures["mem_kb"] = (rss_mb(ref.pid) - base) * 1024 / 1000
        figures["mem_1000_mb"] = rss_mb(ref.pid) - base
        await asyncio.gather(*(x.close() for x in idle))
        await c.close()
    return figures


async def fanout_run(http, pid: int, url: str, reference: bool) -> tuple[float, float]:
    """Deliveries/s of FANOUT_EVENTS events to SUBSCRIBERS sockets: (wall clock, per server CPU second)."""
    subs = await connect_many(http, url, SUBSCRIBERS)
    if reference:
        for s in subs:
            await s.emit("subscribe", {"room": "r"})
            await s.recv_prefix('42["subscribed"')
    else:
        first = subs[0]
        await first.emit("chat:connect", {"session_id": "new-fanout", "working_dir": "/tmp"})
        ready = json.loads((await first.recv_prefix('42["chat:ready"'))[2:])[1]
        await first.recv_prefix('42["chat:history_end"')
        for s in subs[1:]:
            await s.emit("chat:connect", {"session_id": ready["session_id"], "working_dir": "/tmp"})
            await s.recv_prefix('42["chat:history_end"')
    counts = [0] * len(subs)

    async def drain(i: int, client: RawClient) -> None:
        while True:
            text = await client.recv()
            if text.startswith('42["chat:stream"'):
                counts[i] += 1
            elif text.startswith('42["chat:result"'):
                return

    cpu0 = cpu_s(pid)
    t0 = time.perf_counter()
    readers = [asyncio.ensure_future(drain(i, s)) for i, s in enumerate(subs)]
    if reference:
        await subs[0].emit("fanout", {"room": "r", "n": FANOUT_EVENTS})
    else:
        await subs[0].emit("chat:message", {"session_id": ready["session_id"], "content": f"/stream {FANOUT_EVENTS}"})
    await asyncio.wait_for(asyncio.gather(*readers), 300)
    wall = time.perf_counter() - t0
    cpu = cpu_s(pid) - cpu0
    delivered = sum(counts)
    assert delivered == FANOUT_EVENTS * SUBSCRIBERS, (delivered, FANOUT_EVENTS * SUBSCRIBERS)
    await asyncio.gather(*(s.close() for s in subs))
    return delivered / wall, delivered / cpu if cpu > 0 else float("nan")


# ---- the reference server of this project --------------------------------------------------
async def attach_latencies(http, url: str, session_id: str) -> list[float]:
    c = RawClient(http, url)
    await c.connect(TOKEN)
    out = []
    for _ in range(ATTACHES):
        t0 = time.perf_counter()
        await c.emit("chat:connect", {"session_id": session_id, "working_dir": "/tmp"})
        await c.recv_prefix('42["chat:ready"')
        out.append((time.perf_counter() - t0) * 1000)
        await c.recv_prefix('42["chat:history_end"')
    await c.close()
    return out


async def ours_figures(http) -> dict:
    figures: dict = {}
    with tempfile.TemporaryDirectory() as tmp, \
            ServerProcess(data_dir=Path(tmp) / "data", log_dir=Path(tmp) / "logs", token=TOKEN,
                          agent_startup=0, agent_pace=0) as srv:
        base = rss_mb(srv.pid)
        c = RawClient(http, srv.url)
        await c.connect(TOKEN)
        await c.emit("chat:connect", {"session_id": "new-bench", "working_dir": "/tmp"})
        session_id = json.loads((await c.recv_prefix('42["chat:ready"'))[2:])[1]["session_id"]
        await c.emit("chat:message", {"session_id": session_id, "content": "make some history"})
        await c.recv_prefix('42["chat:result"')
        await c.close()
        full = []
        for _ in range(min(ATTACHES, 200)):
            t0 = time.perf_counter()
            d = RawClient(http, srv.url)
            await d.connect(TOKEN)
            await d.emit("chat:connect", {"session_id": session_id, "working_dir": "/tmp"})
            await d.recv_prefix('42["chat:history_end"')
            full.append((time.perf_counter() - t0) * 1000)
            await d.close()
        figures["cas_p50"] = median(full)
        lat = await sio_attach_latencies(srv.url, session_id)
        figures["sio_attach"] = (median(lat), pct(lat, 0.99))
        idle: list[RawClient] = []
        for level in IDLE_LEVELS:
            idle += await connect_many(http, srv.url, level - 1 - len(idle))
            if level == 1000:
                await asyncio.sleep(0.5)
                figures["mem_1000_mb"] = rss_mb(srv.pid) - base
                figures["mem_kb"] = figures["mem_1000_mb"] * 1024 / 999
            lat = await attach_latencies(http, srv.url, session_id)
            figures[f"attach_{level}"] = (median(lat), pct(lat, 0.99))
        await asyncio.gather(*(x.close() for x in idle))
        figures["fanout"] = await fanout_run(http, srv.pid, srv.url, reference=False)
    return figures


def verdict(ok: bool) -> str:
    return "meets target" if ok else "MISSES target"


async def main() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 8192)), hard))
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        print("measuring the bare python-socketio reference ...", flush=True)
        ref = await reference_figures(http)
        print("measuring jarvis-diag serve ...", flush=True)
        ours = await ours_figures(http)
    print()
    print(f"reference (bare python-socketio, loopback): emit-with-ack round trip p50 {ref['ack_p50']:.2f} ms "
          f"p99 {ref['ack_p99']:.2f} ms; connect+auth+subscribe p50 {ref['cas_p50']:.2f} ms")
    for level in IDLE_LEVELS:
        p50, p99 = ours[f"attach_{level}"]
        note = f"  ({verdict(p50 <= 1.0)}: p50 <= 1 ms)" if level == 100 else ""
        print(f"attach latency, {level:>4} connected clients: p50 {p50:.2f} ms  p99 {p99:.2f} ms"
              f"   | reference emit-with-ack p50 {ref['ack_p50']:.2f} ms{note}")
    (p50, p99), (rp50, rp99) = ours["sio_attach"], ref["sio_attach"]
    print(f"attach latency, python-socketio client: p50 {p50:.2f} ms  p99 {p99:.2f} ms   | reference answering "
          f"chat:connect with chat:ready + chat:history_end p50 {rp50:.2f} ms p99 {rp99:.2f} ms"
          f"  ({verdict(p50 <= 1.0)}: p50 <= 1 ms)")
    print(f"connect+auth+attach (new socket): p50 {ours['cas_p50']:.2f} ms"
          f"   | reference connect+auth+subscribe p50 {ref['cas_p50']:.2f} ms")
    wall, per_cpu = ours["fanout"]
    rwall, rper_cpu = ref["fanout"]
    print(f"fan-out to {SUBSCRIBERS} subscribers: {wall:,.0f} deliveries/s wall, {per_cpu:,.0f} per server CPU-second"
          f"   | reference {rwall:,.0f} wall, {rper_cpu:,.0f} per CPU-second  ({verdict(per_cpu >= 20_000)}: >= 20k/s)")
    print(f"memory per idle client: {ours['mem_kb']:.1f} KB ({ours['mem_1000_mb']:.1f} MB for 1,000)"
          f"   | reference {ref['mem_kb']:.1f} KB ({ref['mem_1000_mb']:.1f} MB)"
          f"  ({verdict(ours['mem_1000_mb'] < 100)}: < 100 MB)")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

"""A network that refuses WebSocket: the page's io({transports: ['websocket', 'polling']})
does not fall back to polling (socket.io-client tries the next transport only with
tryAllTransports), so simulate-mobile reports the refused upgrade for what it is."""

import asyncio
import json
import shutil
from pathlib import Path

import aiohttp
import pytest
from test_simulate_cli import FAST, cli, sim_args

from jarvis_diag.simulate.faults import fault_schedule
from jarvis_diag.simulate.proxy import FaultProxy, is_websocket_upgrade
from jarvis_diag.simulate.run import ServerUnusable, preflight
from server.testing import running_server

NODE_DIR = Path(__file__).resolve().parent / "node"

# The page's io() options, through the official client; prints the transport it connected
# with or the connect_error it got (one attempt).
PAGE_JS = """
const { io } = require(process.argv[2]);
const opts = { transports: ["websocket", "polling"], timeout: 10000, reconnection: false };
if (process.argv[4] === "tryAll") opts.tryAllTransports = true;
const socket = io(process.argv[3], opts);
const done = (out) => { socket.disconnect(); console.log(JSON.stringify(out)); process.exit(0); };
socket.on("connect", () => done({ transport: socket.io.engine.transport.name }));
socket.on("connect_error", (err) => done({ error: err.message }));
setTimeout(() => done({ error: "no answer" }), 15000);
"""


def test_a_websocket_upgrade_request_is_told_from_a_polling_request():
    ws = (b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
          b"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n")
    assert is_websocket_upgrade(ws)
    assert is_websocket_upgrade(ws.replace(b"Upgrade: websocket", b"UPGRADE:WebSocket"))
    assert not is_websocket_upgrade(b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n")
    assert not is_websocket_upgrade(b"GET /upgrade:websocket HTTP/1.1\r\nHost: x\r\n\r\n")


def test_no_websocket_refuses_before_the_close_so_an_immediate_reconnect_meets_it():
    schedule = [(s.at_s, s.step) for s in fault_schedule("no-websocket", 5, None)]
    assert schedule == [(0.0, "hide"), (0.0, "refuse_websocket"), (0.0, "close"), (5, "show")]


@pytest.fixture
def node_client_lib() -> Path:
    lib = NODE_DIR / "node_modules" / "socket.io-client"
    if shutil.which("node") is None or not lib.is_dir():
        pytest.skip("node and tests/node/node_modules (npm install) are needed for the official client")
    return lib


async def page_connects(lib: Path, url: str, tmp_path: Path, *extra: str) -> dict:
    script = tmp_path / "page.js"
    script.write_text(PAGE_JS)
    proc = await asyncio.create_subprocess_exec("node", str(script), str(lib), url, *extra,
                                                stdout=asyncio.subprocess.PIPE)
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    return json.loads(out)


async def test_the_official_client_with_the_pages_options_does_not_fall_back_to_polling(
        node_client_lib: Path, tmp_path: Path):
    async with running_server(**FAST) as srv:
        host, port = srv.url.removeprefix("http://").split(":")
        async with FaultProxy(host, int(port)) as proxy:
            proxy.refuse_websocket = True
            # polling passes the proxy ...
            async with aiohttp.ClientSession() as http:
                async with http.get(f"{proxy.url}/socket.io/", params={"EIO": "4", "transport": "polling"}) as r:
                    assert r.status == 200 and (await r.text()).startswith("0{")
            # ... yet the page, WebSocket first, gets connect_error and no connection
            assert await page_connects(node_client_lib, proxy.url, tmp_path) == {"error": "websocket error"}
            assert proxy.stats.upgrades_refused == 1
            # only a page that asks for it tries polling next
            assert await page_connects(node_client_lib, proxy.url, tmp_path, "tryAll") == {"transport": "polling"}


async def test_a_server_behind_a_proxy_refusing_websocket_is_named_at_once_not_waited_for(tmp_path: Path):
    async with running_server(**FAST) as srv:
        host, port = srv.url.removeprefix("http://").split(":")
        async with FaultProxy(host, int(port)) as proxy:
            proxy.refuse_websocket = True
            with pytest.raises(ServerUnusable, match=r"refused the WebSocket upgrade \(HTTP 403\)"):
                await preflight(proxy.url, srv.token, timeout=3)
            code, out, err = await cli(*sim_args(proxy.url, srv.token, tmp_path / "o"))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "refused the WebSocket upgrade (HTTP 403)" in err
    assert "does not fall back to polling" in err and "for 6 s" not in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


async def test_fault_no_websocket_fails_each_cycle_naming_the_refused_upgrade(tmp_path: Path):
    out = tmp_path / "sim"
    async with running_server(**FAST) as srv:
        code, stdout, stderr = await cli(*sim_args(srv.url, srv.token, out, "--clients", "2", "--background", "1s",
                                                   "--fault", "no-websocket", "--format", "json"))
        assert code == 1, stderr
        summary = json.loads(stdout)
        assert summary["cycles"] == 2 and summary["ok"] == 0
        records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
        assert [r["fault"] for r in records] == ["no-websocket"] * 2
        for r in records:
            assert not r["recovered"] and not r["reconnected"]
            assert r["failure"].startswith(
                "not connected again (last attempt: websocket error: WebSocket upgrade refused with HTTP 403)")
        logs = "".join(p.read_text() for p in (out / "frontend").iterdir())
        assert "Connection error: websocket error: WebSocket upgrade refused with HTTP 403" in logs


async def test_a_websocket_upgrade_that_gets_no_answer_is_named_within_the_timeout(tmp_path: Path):
    # polling answered, the upgrade held without a word (a proxy that swallows it): the
    # check waited on aiohttp's 300 s default, printing nothing
    held: list[asyncio.StreamWriter] = []

    async with running_server(**FAST) as srv:
        host, port = srv.url.removeprefix("http://").split(":")

        async def relay(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
            head = await client_r.readuntil(b"\r\n\r\n")
            if is_websocket_upgrade(head):
                held.append(client_w)  # never answered
                return
            server_r, server_w = await asyncio.open_connection(host, int(port))
            server_w.write(head)

            async def pump(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
                while data := await r.read(65536):
                    w.write(data)
                    await w.drain()
                w.close()

            await asyncio.gather(pump(client_r, server_w), pump(server_r, client_w), return_exceptions=True)

        holder = await asyncio.start_server(relay, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{holder.sockets[0].getsockname()[1]}"
        try:
            with pytest.raises(ServerUnusable, match="WebSocket upgrade got no answer within 1s"):
                await asyncio.wait_for(preflight(url, srv.token, timeout=1), 30)
            scenario = tmp_path / "s.toml"
            scenario.write_text('connect_timeout = "1s"\n')
            code, out, err = await cli("simulate-mobile", url, "--token", srv.token, "--scenario", str(scenario),
                                       "--out", str(tmp_path / "o"), timeout=30)
        finally:
            for w in held:
                w.close()
            holder.close()
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert "WebSocket upgrade got no answer within 1s" in err and "Traceback" not in err

"""The frontend remote-log endpoints: POST /api/debug/logs and WebSocket /ws/debug."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest

from server.debuglog import BadUpload, parse_batch
from server.logs import sanitize_client_id
from server.testing import running_server

ENTRY = {"timestamp": "2026-01-30T01:29:39.290Z", "level": "debug", "message": "[ConnMgr] Page hidden",
         "clientId": "c"}


def test_sanitize_client_id():
    assert sanitize_client_id("Mozilla50iPhoneCPUiP-mwuj1maq-u1k8") == "Mozilla50iPhoneCPUiP-mwuj1maq-u1k8"
    assert sanitize_client_id("../../etc/passwd") == "______etc_passwd"
    assert sanitize_client_id("") == "unknown"
    assert len(sanitize_client_id("a" * 1000)) == 100


def test_parse_batch():
    client, entries = parse_batch({"clientId": "abc", "logs": [ENTRY, {"message": "two\nlines"}]})
    assert client == "abc"
    assert entries[0] == ("2026-01-30T01:29:39.290Z", "DEBUG", "[ConnMgr] Page hidden")
    assert entries[1][1:] == ("INFO", "two\\nlines")
    assert parse_batch({"logs": [ENTRY]})[0] == "c"
    for bad in (None, [], {"logs": 3}, {"clientId": "x", "logs": [1]}, {"logs": []}, {"logs": [{}] * 1001}):
        with pytest.raises(BadUpload):
            parse_batch(bad)


def _today_file(srv, client_id):
    return srv.frontend_dir / f"{time.strftime('%Y%m%d')}_{sanitize_client_id(client_id)}.log"


async def test_http_upload_writes_real_lines_and_rejects_bad(tmp_path):
    async with running_server(max_upload_bytes=10_000) as srv, aiohttp.ClientSession() as http:
        body = {"clientId": "Mozilla50iPhoneCPUiP-mwuj1maq-u1k8", "logs": [ENTRY, {**ENTRY, "level": "error"}]}
        async with http.post(srv.url + "/api/debug/logs", json=body) as r:
            assert r.status == 200 and (await r.json())["received"] == 2
        text = _today_file(srv, body["clientId"]).read_text()
        assert text == ("[2026-01-30T01:29:39.290Z] [DEBUG] [ConnMgr] Page hidden\n"
                        "[2026-01-30T01:29:39.290Z] [ERROR] [ConnMgr] Page hidden\n")
        async with http.post(srv.url + "/api/debug/logs", json={"clientId": "../../x", "logs": [ENTRY]}) as r:
            assert r.status == 200
        assert [p.name.split("_", 1)[1] for p in srv.frontend_dir.iterdir()].count("______x.log") == 1
        async with http.post(srv.url + "/api/debug/logs", data=b"{broken") as r:
            assert r.status == 400
        async with http.post(srv.url + "/api/debug/logs", json={"clientId": "big", "logs": [ENTRY] * 200}) as r:
            assert r.status == 413

        async def chunked():  # no Content-Length: the limit is enforced while reading
            for _ in range(200):
                yield b" " * 100
            yield json.dumps({"clientId": "slow", "logs": [ENTRY]}).encode()

        async with http.post(srv.url + "/api/debug/logs", data=chunked()) as r:
            assert r.status == 413
        small = json.dumps({"clientId": "split", "logs": [ENTRY] * 40}).encode()

        async def split():
            for i in range(0, len(small), 500):
                yield small[i : i + 500]
                await asyncio.sleep(0.001)

        async with http.post(srv.url + "/api/debug/logs", data=split()) as r:
            assert r.status == 200 and (await r.json())["received"] == 40
        assert "HTTP received 2 logs from Mozilla50iPhoneCPUiP" in srv.app_log.read_text()


async def test_ws_upload():
    async with running_server(max_upload_bytes=10_000) as srv, aiohttp.ClientSession() as http:
        async with http.ws_connect(srv.url + "/ws/debug") as ws:
            await ws.send_json({"clientId": "ws-client", "logs": [ENTRY]})
            assert (await ws.receive_json(timeout=5))["received"] == 1
            await ws.send_str("not json")
            assert "error" in await ws.receive_json(timeout=5)
            await ws.send_str("x" * 20_000)  # over the limit: the server closes the socket
            msg = await ws.receive(timeout=5)
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
        assert _today_file(srv, "ws-client").read_text().startswith("[2026-01-30T01:29:39.290Z] [DEBUG]")
        assert "WS received 1 logs from ws-client" in srv.app_log.read_text()


async def test_health_and_index():
    async with running_server() as srv, aiohttp.ClientSession() as http:
        async with http.get(srv.url + "/health") as r:
            body = await r.json()
            assert r.status == 200 and body["status"] == "ok" and body["sockets"] == 0
        async with http.get(srv.url + "/") as r:
            assert r.status == 200


async def test_an_empty_batch_leaves_no_file():
    async with running_server() as srv, aiohttp.ClientSession() as http:
        async with http.post(srv.url + "/api/debug/logs", json={"clientId": "empty-http", "logs": []}) as r:
            assert r.status == 200 and (await r.json())["received"] == 0
        async with http.ws_connect(srv.url + "/ws/debug") as ws:
            await ws.send_json({"clientId": "empty-ws", "logs": []})
            assert (await ws.receive_json(timeout=5))["received"] == 0
        assert list(srv.frontend_dir.iterdir()) == []
        assert "received 0 logs" not in srv.app_log.read_text()


async def test_ws_speaks_the_real_frontends_messages():
    """/ws/debug?client_id=X, {type: auth} then {type: logs} without clientId (the real page)."""
    async with running_server() as srv, aiohttp.ClientSession() as http:
        async with http.ws_connect(srv.url + "/ws/debug?client_id=Mozilla50iPhoneCPUiP-mwuj1maq-u1k8") as ws:
            await ws.send_json({"type": "auth", "token": "whatever"})
            assert await ws.receive_json(timeout=5) == {"type": "auth_ok"}
            entry = {k: v for k, v in ENTRY.items() if k != "clientId"}
            await ws.send_json({"type": "logs", "logs": [entry]})
            assert await ws.receive_json(timeout=5) == {"type": "ack", "status": "ok", "received": 1}
        assert _today_file(srv, "Mozilla50iPhoneCPUiP-mwuj1maq-u1k8").read_text() == \
            "[2026-01-30T01:29:39.290Z] [DEBUG] [ConnMgr] Page hidden\n"
        assert "rejected" not in srv.app_log.read_text().lower()

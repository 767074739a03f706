"""The official JavaScript socket.io-client (npm) against the reference server."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from server.agents import sim_text
from server.testing import running_server

NODE_DIR = Path(__file__).resolve().parent / "node"


@pytest.fixture(scope="module")
def node_client() -> Path:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed for the JavaScript client test (not installed)")
    if not (NODE_DIR / "node_modules" / "socket.io-client").is_dir():
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
    return NODE_DIR / "compat.js"


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_js_client_connects_authenticates_attaches_and_gets_a_reply(node_client, transport):
    async with running_server(ping_interval=1, ping_timeout=2) as srv:
        proc = await asyncio.create_subprocess_exec(
            "node", str(node_client), srv.url, srv.token, transport,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            stdout, stderr = await asyncio.wait_for(proc.communicate(), 30)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        result = json.loads(stdout.decode().strip().splitlines()[-1])
        assert proc.returncode == 0 and result["ok"], (result, stderr.decode()[-1000:])
        assert result["ready"]["original_session_id"] == result["tempId"]
        assert result["result"] == sim_text("hello from node")
        assert result["events"][:3] == ["auth_success", "chat:ready", "chat:history_end"]
        assert result["sessionId"] in srv.chat.sessions

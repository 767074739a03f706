"""The frontend remote-log endpoints: ``POST /api/debug/logs`` and WebSocket ``/ws/debug``.

Both take ``{clientId, logs: [{timestamp, level, message, clientId}]}`` and append one line
per entry to ``<log-dir>/frontend/YYYYMMDD_<clientId>.log``. Uploads are size-limited,
client ids sanitised for the file name, malformed batches rejected with a reason.
"""

from __future__ import annotations

import json
import re

from aiohttp import WSMsgType, web

from server.logs import ServerLog, one_line, sanitize_client_id
from server.sessions import timestamp_iso

MAX_ENTRIES = 1000
MAX_MESSAGE_CHARS = 10_000
_LEVEL_SAFE = re.compile(r"[^A-Za-z]")


class BadUpload(ValueError):
    pass


def parse_batch(body: object) -> tuple[str, list[tuple[str, str, str]]]:
    """A log batch -> (clientId, [(timestamp, LEVEL, message)]). Pure; raises BadUpload."""
    if not isinstance(body, dict):
        raise BadUpload("body must be a JSON object")
    logs = body.get("logs")
    if not isinstance(logs, list):
        raise BadUpload("logs must be a list")
    if len(logs) > MAX_ENTRIES:
        raise BadUpload(f"more than {MAX_ENTRIES} entries")
    client_id = body.get("clientId")
    if not isinstance(client_id, str) or not client_id:
        first = logs[0] if logs and isinstance(logs[0], dict) else {}
        client_id = first.get("clientId")
    if not isinstance(client_id, str) or not client_id.strip():
        raise BadUpload("clientId is required")
    entries = []
    for entry in logs:
        if not isinstance(entry, dict):
            raise BadUpload("each log entry must be an object")
        timestamp = entry.get("timestamp")
        timestamp = one_line(timestamp, 64) if isinstance(timestamp, str) and timestamp else timestamp_iso()
        level = entry.get("level")
        level = _LEVEL_SAFE.sub("", level)[:10].upper() if isinstance(level, str) else ""
        message = entry.get("message", "")
        message = message if isinstance(message, str) else json.dumps(message, ensure_ascii=False)
        entries.append((timestamp, level or "INFO", one_line(message, MAX_MESSAGE_CHARS)))
    return client_id, entries


def _log_name(client_id: str) -> str:
    return sanitize_client_id(client_id)[:20]


def add_routes(app: web.Application, log: ServerLog, max_bytes: int) -> None:
    async def http_logs(request: web.Request) -> web.Response:
        if request.content_length is not None and request.content_length > max_bytes:
            log.log("debuglog.rejected", reason=f"body larger than {max_bytes} bytes")
            return web.json_response({"error": f"body larger than {max_bytes} bytes"}, status=413)
        chunks: list[bytes] = []
        size = 0
        while chunk := await request.content.read(65536):  # read() returns what has arrived so far
            size += len(chunk)
            if size > max_bytes:
                log.log("debuglog.rejected", reason=f"body larger than {max_bytes} bytes")
                return web.json_response({"error": f"body larger than {max_bytes} bytes"}, status=413)
            chunks.append(chunk)
        raw = b"".join(chunks)
        try:
            client_id, entries = parse_batch(json.loads(raw))
        except (ValueError, UnicodeDecodeError) as exc:
            reason = str(exc) if isinstance(exc, BadUpload) else "body is not JSON"
            log.log("debuglog.rejected", reason=reason)
            return web.json_response({"error": reason}, status=400)
        if entries:  # (an empty batch leaves no file and no line, as the real server does)
            log.frontend(client_id, entries)
            log.log("debuglog.http", n=len(entries), client=_log_name(client_id))
        return web.json_response({"status": "ok", "received": len(entries)})

    async def ws_logs(request: web.Request) -> web.WebSocketResponse:
        # The real frontend opens /ws/debug?client_id=<clientId>, may send {type: "auth", token}
        # first, then {type: "logs", logs: [...]}: the real server answers auth_ok and ack.
        query_client = request.query.get("client_id") or None
        ws = web.WebSocketResponse(max_msg_size=max_bytes, heartbeat=30)
        await ws.prepare(request)
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                try:
                    body = json.loads(msg.data)
                    kind = body.get("type") if isinstance(body, dict) else None
                    if kind == "auth":
                        await ws.send_json({"type": "auth_ok"})
                        continue
                    if kind == "logs" and query_client and not body.get("clientId"):
                        body = {**body, "clientId": query_client}
                    client_id, entries = parse_batch(body)
                except ValueError as exc:
                    reason = str(exc) if isinstance(exc, BadUpload) else "message is not JSON"
                    log.log("debuglog.rejected", reason=reason)
                    await ws.send_json({"error": reason})
                    continue
                if entries:
                    log.frontend(client_id, entries)
                    log.log("debuglog.ws", n=len(entries), client=_log_name(client_id))
                reply = {"status": "ok", "received": len(entries)}
                await ws.send_json({"type": "ack", **reply} if kind == "logs" else reply)
            elif msg.type == WSMsgType.BINARY:
                log.log("debuglog.rejected", reason="binary message")
                await ws.send_json({"error": "binary messages are not accepted"})
            elif msg.type == WSMsgType.ERROR:
                log.log("debuglog.rejected", reason=one_line(f"websocket error: {ws.exception()}", 200))
                break
        return ws

    app.router.add_post("/api/debug/logs", http_logs)
    app.router.add_get("/ws/debug", ws_logs)

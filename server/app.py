"""``make_app(config)``: the aiohttp application with the Socket.IO server attached."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path

import socketio
from aiohttp import web

from jarvis_diag.tasks import stop_tasks
from server import assets, debuglog
from server.bugs import RELOAD
from server.chat import ChatService
from server.config import ServerConfig
from server.logs import ServerLog
from server.namespace import ChatNamespace, SocketServer
from server.store import Store

STATIC_DIR = Path(__file__).resolve().parent / "static"
MAX_HTTP_BUFFER = 10 * 1024 * 1024
RELOADED_FILE = "'app/main.py'"
CLOSE_TIMEOUT_S = 1.0
# uvicorn's shutdown asks every connection to close, then sleeps this long before it waits
# for the rest and runs the app's shutdown: a socket its client closed before the signal is
# logged more than this before "Application shutting down...", one the stop closed less
UVICORN_CLOSE_PAUSE_S = 0.1


@dataclass(eq=False)
class ServerState:
    config: ServerConfig
    log: ServerLog
    store: Store
    sio: socketio.AsyncServer
    chat: ChatService
    started_at: float = field(default_factory=time.time)
    # set by the runner: closes / reopens the listening socket (bug "reload")
    pause_listening: Callable[[], Awaitable[None]] | None = None
    resume_listening: Callable[[], Awaitable[None]] | None = None
    reloads: int = 0
    # the process uvicorn names in its lines: each reload's is a new one (a new worker process)
    worker_pid: int = field(default_factory=os.getpid)
    background: list[asyncio.Task] = field(default_factory=list)
    websockets: set[asyncio.Task] = field(default_factory=set)  # the open WebSocket handlers


STATE = web.AppKey("jarvis_state", ServerState)


def make_app(config: ServerConfig) -> web.Application:
    config.data_dir.mkdir(parents=True, exist_ok=True)
    log = ServerLog(config.log_dir, config.log_tz, config.echo)
    store = Store(config.data_dir / "jarvis.db")
    sio = SocketServer(
        log,
        async_mode="aiohttp",
        cors_allowed_origins="*",
        transports=["websocket", "polling"],
        ping_interval=config.ping_interval,
        ping_timeout=config.ping_timeout,
        max_http_buffer_size=MAX_HTTP_BUFFER,
        # each event in its own task, so a slow handler (an agent start-up) does not stop the
        # socket's heartbeat; ChatNamespace keeps one socket's events in order
        async_handlers=True,
    )
    chat = ChatService(sio, config, log, store)
    sio.register_namespace(ChatNamespace(chat, config.token or ""))
    app = web.Application(client_max_size=MAX_HTTP_BUFFER, middlewares=[_console_access_log])
    state = ServerState(config, log, store, sio, chat)
    app[STATE] = state
    sio.attach(app)
    app.router.add_get("/health", _health)
    assets.add_static_routes(app, STATIC_DIR)  # "/" and the hashed /static/ assets
    debuglog.add_routes(app, log, config.max_upload_bytes)
    app.on_startup.append(_on_startup)
    app.on_shutdown.append(_on_shutdown)
    app.on_cleanup.append(_on_cleanup)
    return app


def _peer(request: web.Request) -> tuple[str, int]:
    peer = request.transport.get_extra_info("peername") if request.transport else None
    return (str(peer[0]), int(peer[1])) if peer else ("-", 0)


@web.middleware
async def _console_access_log(request: web.Request, handler):
    """uvicorn's console lines in backend.log: the WebSocket accept/open/close and the HTTP
    request lines a deployment's captured stdout shows."""
    log = request.app[STATE].log
    host, port = _peer(request)
    if request.headers.get("Upgrade", "").lower() == "websocket":
        log.console("uv.ws_accepted", _peer=repr((host, port)), detail=request.path_qs)
        log.console("uv.conn_open")
        task = asyncio.current_task()
        request.app[STATE].websockets.add(task)
        try:
            return await handler(request)
        except ConnectionResetError:
            # the client left before the upgrade was answered (a phone giving up): no traceback
            return web.Response(status=400, text="the client left during the WebSocket upgrade")
        finally:
            request.app[STATE].websockets.discard(task)
            log.console("uv.conn_closed")
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        reason = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else ""
        log.console("uv.http", _peer=f"{host}:{port}", event=request.method, detail=request.path_qs,
                    _v=f"{request.version.major}.{request.version.minor}", n=status, reason=reason)


async def _health(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return web.json_response({
        "status": "ok",
        "sessions": len(state.chat.sessions),
        "sockets": len(state.chat.sockets),
        "uptime_s": round(time.time() - state.started_at, 3),
        "bugs": list(state.config.bugs),
    })


def log_startup(log: ServerLog, reloader: bool = False, pid: int | None = None) -> None:
    """The real app's start-up lines, in its order: the database is set up when the app is
    imported, before uvicorn starts the server process; then the CLAUDE.md watcher and the
    task scheduler start."""
    if reloader:
        log.console("uv.will_watch", detail=repr([os.getcwd()]))
        log.console("uv.reloader", n=os.getppid(), detail="WatchFiles")
    log.log("app.db_init")
    log.console("uv.started_process", n=os.getpid() if pid is None else pid)
    log.console("uv.waiting_startup")
    log.log("app.starting")
    log.log("watcher.check")
    log.log("watcher.watching", detail=str(Path.home() / ".claude"))
    log.log("app.watcher_started")
    log.log("scheduler.any", detail="Adding job tentatively -- it will be properly scheduled when the scheduler starts")
    log.log("scheduler.any", detail='Added job "Sync tasks from database" to job store "default"')
    log.log("scheduler.any", detail="Scheduler started")
    log.log("app.scheduler_started", n=0)
    log.log("app.started")
    log.console("uv.startup_complete")


async def shut_down(state: ServerState, stop_listening: Callable[[], Awaitable[None]] | None = None) -> None:
    """The real server's shutdown lines, in its order: uvicorn's "Shutting down", then every
    connection closed (their lines), then the app's shutdown, where the scheduler and the
    watcher stop between "Application shutting down..." and "Application stopped"; the
    sessions' agent readers stop last, after "Finished server process", as the process exits."""
    log = state.log
    log.console("uv.shutting_down")
    if stop_listening is not None:  # (uvicorn stops accepting first, then closes the connections)
        await stop_listening()
    await close_connections(state)
    log.console("uv.waiting_shutdown")
    log.log("app.shutting_down")
    log.log("app.scheduler_stopped")
    log.log("watcher.stopped")
    log.log("app.watcher_stopped")
    log.log("app.stopped")
    log.log("scheduler.any", detail="Scheduler has been shut down")
    log.console("uv.shutdown_complete")
    log.console("uv.finished_process", n=state.worker_pid)
    await state.chat.close()


async def _on_startup(app: web.Application) -> None:
    state = app[STATE]
    log_startup(state.log, reloader=state.config.has_bug(RELOAD), pid=state.worker_pid)
    if state.config.has_bug(RELOAD) and state.config.reload_after:
        state.background.append(asyncio.ensure_future(_reload_loop(state)))


async def drop_all_sockets(state: ServerState) -> None:
    for sid in list(state.chat.sockets):
        with contextlib.suppress(Exception):
            await state.sio.disconnect(sid)
    # End each Engine.IO writer now (an empty packet closes the WebSocket from our side)
    # rather than waiting for every client to close: shutdown and reload stay prompt.
    for eio_socket in list(state.sio.eio.sockets.values()):
        with contextlib.suppress(Exception):
            eio_socket.queue.put_nowait(None)


async def close_connections(state: ServerState) -> None:
    """Every Socket.IO socket dropped and every WebSocket closed, each with its lines (a
    WebSocket that does not end within CLOSE_TIMEOUT_S is cancelled), after uvicorn's pause
    (UVICORN_CLOSE_PAUSE_S from asking them to close)."""
    asked = time.monotonic()
    await drop_all_sockets(state)
    await asyncio.sleep(max(0.0, asked + UVICORN_CLOSE_PAUSE_S - time.monotonic()))
    open_now = state.websockets - {asyncio.current_task()}
    if open_now:
        _done, stuck = await asyncio.wait(open_now, timeout=CLOSE_TIMEOUT_S)
        for task in stuck:
            task.cancel()
        if stuck:
            await asyncio.wait(stuck, timeout=CLOSE_TIMEOUT_S)


async def _on_shutdown(app: web.Application) -> None:
    state = app[STATE]
    await stop_tasks(state.background)
    await shut_down(state)
    # Engine.IO's watch over stale sockets runs until told to stop (in a test process, one
    # such task a server would be left behind)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(CLOSE_TIMEOUT_S):
            await state.sio.shutdown()


async def _on_cleanup(app: web.Application) -> None:
    state = app[STATE]
    state.store.close()
    state.log.close()


async def simulate_reload(state: ServerState) -> None:
    """What a dev server with auto-reload does on a file change: every socket dropped, the
    agents and in-memory state gone, connections refused while it restarts."""
    log = state.log
    state.reloads += 1
    log.log("watchfiles.change", n=1)
    log.console("uv.reloading", detail=RELOADED_FILE)
    await shut_down(state, state.pause_listening)
    state.chat.sessions.clear()
    state.chat.locks.clear()
    await asyncio.sleep(state.config.reload_downtime)
    # (uvicorn's reloader starts a new worker: its "Started server process [N]" names another process)
    state.worker_pid += 1
    log_startup(log, pid=state.worker_pid)
    if state.resume_listening is not None:
        await state.resume_listening()


async def _reload_loop(state: ServerState) -> None:
    count = state.config.reload_count
    while count is None or state.reloads < count:
        await asyncio.sleep(state.config.reload_after or 0)
        await simulate_reload(state)

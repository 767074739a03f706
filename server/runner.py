"""Run the app on a pre-bound socket (port 0 works: the real port is read back)."""

from __future__ import annotations

import socket

from aiohttp import web

from server.app import STATE, make_app
from server.config import ServerConfig

SHUTDOWN_TIMEOUT_S = 1.0


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


class ServerRunner:
    """One server: ``await start()``, ``url``, ``await stop()``."""

    def __init__(self, config: ServerConfig):
        self.config = config
        self.app: web.Application | None = None
        self.runner: web.AppRunner | None = None
        self.site: web.SockSite | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        host = self.config.host if ":" not in self.config.host else f"[{self.config.host}]"
        return f"http://{host}:{self.port}"

    @property
    def state(self):
        assert self.app is not None
        return self.app[STATE]

    async def start(self) -> str:
        sock = bind(self.config.host, self.port if self.port is not None else self.config.port)
        self.port = sock.getsockname()[1]
        self.app = make_app(self.config)
        state = self.app[STATE]
        state.pause_listening = self._pause
        state.resume_listening = self._resume
        self.runner = web.AppRunner(self.app, handle_signals=False, access_log=None,
                                    shutdown_timeout=SHUTDOWN_TIMEOUT_S)
        await self.runner.setup()
        self.site = web.SockSite(self.runner, sock)
        await self.site.start()
        state.log.console("uv.running", detail=self.url)
        return self.url

    async def _pause(self) -> None:
        if self.site is not None:
            await self.site.stop()
            self.site = None

    async def _resume(self) -> None:
        if self.site is None and self.runner is not None:
            self.site = web.SockSite(self.runner, bind(self.config.host, self.port or 0))
            await self.site.start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
        self.runner = None
        self.site = None
        self.app = None

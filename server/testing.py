"""Run the reference server from tests and tools.

* :func:`running_server` — in this event loop, on 127.0.0.1 port 0::

      async with running_server(bugs=["single-owner"], history=5) as srv:
          srv.url, srv.token, srv.log_dir, srv.data_dir, srv.app_log
          await srv.restart()

* :func:`serving` — a test's own aiohttp application on 127.0.0.1 port 0 (its port).

* :class:`ServerProcess` — ``jarvis-diag serve`` as a real subprocess (signals, restarts,
  freezing with SIGSTOP)::

      with ServerProcess(bugs=["reload"], reload_after=2) as proc:
          proc.url; proc.freeze(); proc.thaw(); proc.stop()

Options are :class:`server.config.ServerConfig` fields (the CLI option names with ``_``).
Tests get fast agents by default (:data:`TEST_DEFAULTS`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import socketio

from server.config import ServerConfig
from server.runner import ServerRunner

# small start-up and pace so a test's reply arrives in tens of milliseconds
TEST_DEFAULTS: dict[str, object] = {
    "host": "127.0.0.1",
    "port": 0,
    "agent_startup": 0.05,
    "agent_pace": 0.002,
    "reload_downtime": 0.5,
    "slow_start": 1.0,
}
DEFAULT_TEST_TOKEN = "test-token"


class RunningServer:
    """A server running in the current event loop (see :func:`running_server`)."""

    def __init__(self, config: ServerConfig):
        self.config = config
        self._runner = ServerRunner(config)

    url = property(lambda self: self._runner.url)
    port = property(lambda self: self._runner.port)
    token = property(lambda self: self.config.token)
    data_dir = property(lambda self: self.config.data_dir)
    log_dir = property(lambda self: self.config.log_dir)
    app_log = property(lambda self: self.config.log_dir / "app.log")
    backend_log = property(lambda self: self.config.log_dir / "backend.log")
    frontend_dir = property(lambda self: self.config.log_dir / "frontend")

    @property
    def state(self):
        """The running app's state (chat service, store, log): for white-box checks."""
        return self._runner.state

    @property
    def chat(self):
        return self._runner.state.chat

    @property
    def running(self) -> bool:
        return self._runner.app is not None

    async def start(self) -> str:
        return await self._runner.start()

    async def stop(self) -> None:
        await self._runner.stop()

    async def restart(self) -> str:
        """Stop (graceful) and start again on the same port with the same data and logs."""
        await self.stop()
        return await self.start()


@contextlib.asynccontextmanager
async def running_server(**options: object) -> AsyncIterator[RunningServer]:
    """Start a server on 127.0.0.1 port 0; stop it (and remove its temporary dirs) on exit."""
    tmp = None
    if "data_dir" not in options or "log_dir" not in options:
        tmp = Path(tempfile.mkdtemp(prefix="jarvis-serve-"))
        options.setdefault("data_dir", tmp / "data")
        options.setdefault("log_dir", tmp / "logs")
    options = {**TEST_DEFAULTS, "token": DEFAULT_TEST_TOKEN, **options}
    server = RunningServer(ServerConfig.from_kwargs(**options))
    try:
        await server.start()
        yield server
    finally:
        if server.running:
            await server.stop()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


@contextlib.asynccontextmanager
async def serving(app) -> AsyncIterator[int]:
    """A test's own aiohttp application (a server that is no Jarvis one) on 127.0.0.1 port 0,
    in this event loop: its port; stopped on exit."""
    from aiohttp import web

    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        yield site._server.sockets[0].getsockname()[1]
    finally:
        await runner.cleanup()


def _cli_args(options: dict[str, object]) -> list[str]:
    args: list[str] = []
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if name == "bugs":
            for bug in value or ():  # type: ignore[union-attr]
                args += ["--bug", str(bug)]
        elif isinstance(value, bool):
            if value:
                args.append(flag)
        elif value is not None:
            args += [flag, str(value)]
    return args


class ServerProcess:
    """``jarvis-diag serve`` in a subprocess on port 0; the URL is read from its first line
    (``listening on http://127.0.0.1:PORT``)."""

    def __init__(self, *extra_args: str, data_dir: Path | None = None, log_dir: Path | None = None,
                 token: str = DEFAULT_TEST_TOKEN, start_timeout: float = 20.0, env: dict | None = None,
                 **options: object):
        self._tmp = None
        if data_dir is None or log_dir is None:
            self._tmp = Path(tempfile.mkdtemp(prefix="jarvis-serve-proc-"))
        self.data_dir = Path(data_dir) if data_dir is not None else self._tmp / "data"
        self.log_dir = Path(log_dir) if log_dir is not None else self._tmp / "logs"
        self.token = token
        defaults = {k: v for k, v in TEST_DEFAULTS.items() if k != "port"}
        self.options = {**defaults, **options}
        self.extra_args = list(extra_args)
        self.start_timeout = start_timeout
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.url: str | None = None
        self.port: int = 0
        self.output: list[str] = []
        self._reader: threading.Thread | None = None
        self._first_line = threading.Event()

    app_log = property(lambda self: self.log_dir / "app.log")
    backend_log = property(lambda self: self.log_dir / "backend.log")
    pid = property(lambda self: self.proc.pid if self.proc else None)

    def argv(self) -> list[str]:
        return [sys.executable, "-m", "jarvis_diag", "serve", "--port", str(self.port), "--token", self.token,
                "--data-dir", str(self.data_dir), "--log-dir", str(self.log_dir),
                *_cli_args(self.options), *self.extra_args]

    def start(self) -> str:
        self._first_line.clear()
        self.output = []
        self.url = None
        self.proc = subprocess.Popen(self.argv(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     env=self.env, bufsize=1)
        self._reader = threading.Thread(target=self._read, args=(self.proc,), daemon=True)
        self._reader.start()
        if not self._first_line.wait(self.start_timeout) or self.url is None:
            self.stop(signal.SIGKILL)
            raise RuntimeError("server did not start: " + "".join(self.output)[-2000:])
        return self.url

    def _read(self, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.output.append(line)
            if self.url is None and line.startswith("listening on "):
                self.url = line.split("listening on ", 1)[1].strip()
                self.port = int(self.url.rsplit(":", 1)[1])
            elif line.startswith("data: "):  # the last line of the start-up banner
                self._first_line.set()
        self._first_line.set()  # exited before listening

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int | None:
        """Send ``sig`` (SIGTERM: graceful) and wait; kills it after ``timeout``."""
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGCONT)  # a frozen process cannot handle SIGTERM
                proc.send_signal(sig)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._reader is not None:
            self._reader.join(2.0)
        return proc.returncode

    def kill(self) -> int | None:
        return self.stop(signal.SIGKILL)

    def freeze(self) -> None:
        """SIGSTOP: the process stops answering but its sockets stay open (a half-open peer)."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)

    def restart(self, sig: int = signal.SIGTERM) -> str:
        """Stop, then start again on the same port with the same data and log directories."""
        self.stop(sig)
        self.url = None
        deadline = time.monotonic() + 5.0
        while True:  # the port can take a moment to be free again
            try:
                return self.start()
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise

    def close(self) -> None:
        self.stop()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> ServerProcess:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.close)


CONNECT_TIMEOUT_S = 15.0


class Client:
    """A python-socketio client that records every event it receives, for tests::

        async with Client(srv.url, srv.token) as c:
            ready = await c.attach("new-1")
            events = await c.say(ready["session_id"], "hello")   # up to chat:result
    """

    def __init__(self, url: str, token: str | None, name: str = "client", transports=("websocket",),
                 connect_timeout: float = CONNECT_TIMEOUT_S):
        self.connect_timeout = connect_timeout
        self.url = url
        self.token = token
        self.name = name
        self.transports = list(transports)
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: list[tuple[str, object]] = []
        self._changed = asyncio.Event()

        @self.sio.on("*")
        async def _any(event, data=None):
            self.events.append((event, data))
            self._changed.set()

    @property
    def sid(self) -> str | None:
        return self.sio.get_sid()

    async def connect(self, auth: bool = True) -> Client:
        try:
            # (bounded: a connection the server took as it stopped listening for a reload can go
            # unanswered, and the HTTP client's own limit is 300 s)
            async with asyncio.timeout(self.connect_timeout):
                await self.sio.connect(self.url, transports=self.transports, wait_timeout=10)
        except TimeoutError:
            await self.close()
            raise socketio.exceptions.ConnectionError(f"no answer within {self.connect_timeout:g} s") from None
        except socketio.exceptions.ConnectionError:
            await self.close()  # closes the HTTP session a failed connect leaves open
            raise
        if auth:
            mark = len(self.events)
            await self.sio.emit("auth", {"token": self.token})
            event, data = await self.wait_any(("auth_success", "auth_failed"), since=mark)
            if event != "auth_success":
                raise RuntimeError(f"{self.name}: auth failed: {data}")
        return self

    async def close(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()
        http = getattr(self.sio.eio, "http", None)
        if http is not None and not http.closed:
            await http.close()  # left open when the server dropped the connection

    async def __aenter__(self) -> Client:
        return await self.connect()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def mark(self) -> int:
        return len(self.events)

    def since(self, mark: int, session: str | None = None) -> list[tuple[str, object]]:
        return [(e, d) for e, d in self.events[mark:]
                if session is None or (isinstance(d, dict) and d.get("session_id") == session)]

    async def wait_any(self, names, since: int = 0, session: str | None = None, timeout: float = 10.0, pred=None):
        deadline = time.monotonic() + timeout
        while True:
            for event, data in self.events[since:]:
                if event in names and (session is None or (isinstance(data, dict) and data.get("session_id") == session)) \
                        and (pred is None or pred(data)):
                    return event, data
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{self.name}: none of {names} (session={session}) within {timeout}s")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(left):
                    await self._changed.wait()

    async def wait(self, name: str, since: int = 0, session: str | None = None, timeout: float = 10.0, pred=None):
        return (await self.wait_any((name,), since, session, timeout, pred))[1]

    async def attach(self, session_id: str, working_dir: str = "/tmp", timeout: float = 10.0, **extra) -> dict:
        """chat:connect and wait for chat:history_end; returns the chat:ready payload."""
        mark = self.mark()
        await self.sio.emit("chat:connect", {"session_id": session_id, "working_dir": working_dir, **extra})
        event, ready = await self.wait_any(("chat:ready", "chat:error"), since=mark, timeout=timeout)
        if event == "chat:error":
            raise RuntimeError(f"{self.name}: chat:error {ready}")
        await self.wait("chat:history_end", since=mark, session=ready["session_id"], timeout=timeout)
        return ready

    async def say(self, session_id: str, text: str, real_id: str | None = None, timeout: float = 10.0) -> list:
        """chat:message; waits for chat:result of the session; returns the events since sending."""
        mark = self.mark()
        await self.sio.emit("chat:message", {"session_id": session_id, "content": text})
        await self.wait("chat:result", since=mark, session=real_id or session_id, timeout=timeout)
        return self.events[mark:]

"""Run a simulation: a proxy and a virtual client per page, each page's script, verdicts.

:func:`run_simulation` is the library entry point (the command and notebooks call it).
It checks the server first (reachable, speaks Engine.IO v4, accepts the token), then runs
every client concurrently; each cycle's record is written the moment it is made.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import random
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import socketio

from jarvis_diag.limits import allow_open_files
from jarvis_diag.simulate.client import ClientFailed, VirtualClient, refused_upgrade
from jarvis_diag.simulate.clientlog import MOBILE_UA, ClientLog, make_client_id
from jarvis_diag.simulate.faults import clock_skew_s, fault_schedule, page_hides, stagger_delay_s
from jarvis_diag.simulate.proxy import FaultProxy
from jarvis_diag.simulate.results import ResultWriter, new_run_id
from jarvis_diag.simulate.scenario import SimConfig, Step
from jarvis_diag.simulate.verdict import SCHEMA, Obs, SessionCycle, cycle_verdict
from jarvis_diag.tasks import stop_tasks

_ACK_TIMEOUT_S = 10.0


# After a run with failures, how long a server that does not answer is given to come back
# before the run reports it dead (a restart takes a few seconds).
RESTART_GRACE_S = 6.0
# How often the run checks that the server still accepts connections.
WATCH_INTERVAL_S = 1.0
# How often the pages' new log lines are appended to their files.
LOG_FLUSH_S = 1.0


# Open files a run needs: a phone holds its proxy's listener, its socket, the proxy's two ends
# of it and, while offline or reconnecting, a held or second connection (measured: 410 at
# the peak of 100 phones coming back from `close`, 13 for one); plus the process's own.
OPEN_FILES_PER_CLIENT = 6
OPEN_FILES_BASE = 64


class TooFewOpenFiles(Exception):
    """The process may not open the files a run of that many clients needs."""


def ensure_open_files(clients: int) -> None:
    """Raise the soft limit on open files to what ``clients`` need (up to the hard limit), or
    TooFewOpenFiles: running out mid-run fails every phone still starting, and each refused
    accept prints a traceback."""
    needed = OPEN_FILES_BASE + OPEN_FILES_PER_CLIENT * clients
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    if hard != resource.RLIM_INFINITY and hard < needed:
        most = max(1, (hard - OPEN_FILES_BASE) // OPEN_FILES_PER_CLIENT)
        raise TooFewOpenFiles(f"--clients {clients} needs about {needed} open files and this process may open "
                              f"{hard} (ulimit -n): raise the limit or run at most {most} clients")
    # with room to spare: a busy machine holds closing sockets longer than the estimate
    allow_open_files(max(2 * needed, 4096))


class ServerUnusable(Exception):
    """The server cannot be simulated against (unreachable, not Socket.IO, bad token)."""


class ServerRefused(ServerUnusable):
    """Nothing accepts connections at the address, or the server closed the connection
    before answering: a server that is down, or restarting."""


@dataclass
class RunResult:
    run_id: str
    out_dir: Path
    records: list[dict[str, Any]]
    planned: int
    interrupted: bool = False
    error: str | None = None
    client_errors: list[str] = field(default_factory=list)


def split_url(url: str) -> tuple[str, int]:
    if "://" not in url:  # ("localhost:8000" parses as the scheme "localhost")
        example = url if url and "/" not in url and " " not in url else "127.0.0.1:8000"
        shown = url or '""'
        raise ServerUnusable(f"{shown}: not a URL; give the server's base URL with its scheme, e.g. http://{example}")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:  # "Port out of range 0-65535", "Invalid IPv6 URL"
        why = "port out of range (0-65535)" if "Port" in str(exc) else str(exc)
        raise ServerUnusable(f"{url}: not a URL the server can be reached at: {why}") from None
    if parts.scheme not in ("http", "ws"):
        raise ServerUnusable(f"{url}: only http:// (or ws://) URLs can be proxied; use the server's plain port")
    if not parts.hostname:
        raise ServerUnusable(f"{url}: no host in the URL")
    if parts.path not in ("", "/"):
        raise ServerUnusable(f"{url}: give the server's base URL (Socket.IO is at /socket.io/)")
    return parts.hostname, port or 80


def http_base(host: str, port: int) -> str:
    """``http://host:port``, an IPv6 address in the brackets a URL needs."""
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


async def preflight(url: str, token: str, timeout: float = 5.0) -> None:
    """Reachable, speaking Engine.IO v4, and accepting the token; else ServerUnusable."""
    host, port = split_url(url)
    base = http_base(host, port)
    connected: list[bool] = []  # (a connect that timed out, or an accepted one left unanswered)
    trace = aiohttp.TraceConfig()

    async def _connected(*_: Any) -> None:
        connected.append(True)

    trace.on_connection_create_end.append(_connected)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout),
                                         trace_configs=[trace]) as http:
            async with http.get(f"{base}/socket.io/", params={"EIO": "4", "transport": "polling"}) as resp:
                body = (await resp.read())[:200].decode("utf-8", "replace")
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        if isinstance(getattr(exc, "os_error", exc), ConnectionRefusedError):
            raise ServerRefused(f"cannot reach {base}: connection refused") from None
        raise ServerUnusable(_handshake_failure(base, exc, timeout, bool(connected))) from None
    if resp.status != 200 or not body.startswith("0{"):
        raise ServerUnusable(f"{base} does not speak Socket.IO (Engine.IO v4) at /socket.io/: "
                             f"HTTP {resp.status}, {body[:60]!r}")
    http = aiohttp.ClientSession()  # (closed here, whatever happens to the connect)
    sio = socketio.AsyncClient(reconnection=False, handle_sigint=False, http_session=http)
    answer: asyncio.Future[tuple[str, Any]] = asyncio.get_running_loop().create_future()

    @sio.on("*")
    async def _any(event, data=None):
        if event in ("auth_success", "auth_failed") and not answer.done():
            answer.set_result((event, data))

    @sio.on("disconnect")
    async def _gone(reason=None):  # (a restarting server drops every socket)
        if not answer.done():
            answer.set_result(("disconnect", None))

    try:
        try:
            async with asyncio.timeout(timeout):
                await sio.connect(base, transports=["websocket"], wait_timeout=timeout)
        except (TypeError, KeyError, ValueError) as exc:  # (the client library choked on what it got)
            raise ServerUnusable(f"{base} does not speak Socket.IO (Engine.IO v4) over WebSocket: its open "
                                 f"packet is not one ({type(exc).__name__}: {exc})") from None
        except TimeoutError:  # (polling answered: something holds the upgrade, as a refusing proxy may)
            raise ServerUnusable(
                f"{base} answers Socket.IO by polling but its WebSocket upgrade got no answer within "
                f"{timeout:g}s; the page's io({{transports: ['websocket', 'polling']}}) does not fall back to "
                "polling either (its connect times out): let WebSocket through to the server") from None
        await sio.emit("auth", {"token": token})
        async with asyncio.timeout(timeout):
            event, data = await answer
    except TimeoutError:  # (before OSError, of which it is one: the server connected, then said nothing)
        raise ServerUnusable(f"{base}: no answer to `auth` within {timeout:g}s (not a Jarvis server?)") from None
    except (socketio.exceptions.ConnectionError, OSError) as exc:
        status = refused_upgrade(exc)
        if status is not None:  # (no server restarting: something in front of it refuses WebSocket)
            raise ServerUnusable(
                f"{base} answers Socket.IO by polling but refused the WebSocket upgrade (HTTP {status}); the "
                "page's io({transports: ['websocket', 'polling']}) does not fall back to polling "
                "(socket.io-client: tryAllTransports is off by default), so phones could not connect either: "
                "let WebSocket through (a reverse proxy needs the Upgrade and Connection headers passed on)"
            ) from None
        raise ServerRefused(f"{base}: Socket.IO connection failed: {exc}") from None
    finally:
        with contextlib.suppress(Exception):
            await sio.disconnect()
        await http.close()
    if event == "disconnect":
        raise ServerRefused(f"{base} closed the connection before answering `auth`")
    if event != "auth_success":
        reason = data.get("reason") if isinstance(data, dict) else None
        raise ServerUnusable(f"{base} refused the token (auth_failed{': ' + str(reason) if reason else ''})")


def _handshake_failure(base: str, exc: BaseException, timeout: float, connected: bool) -> str:
    """One line on why the Engine.IO handshake (GET /socket.io/?EIO=4&transport=polling) got
    no answer: aiohttp's own text is a class name (TimeoutError, nothing else) or spans lines."""
    if isinstance(exc, TimeoutError) and not isinstance(exc, aiohttp.ClientOSError):
        if connected:
            return (f"{base} accepted the connection but did not answer GET /socket.io/?EIO=4&transport=polling "
                    f"within {timeout:g} s (a server too busy to answer, or not an HTTP server)")
        return f"cannot reach {base}: no connection within {timeout:g} s"
    if isinstance(exc, aiohttp.ClientResponseError):  # (the answer was no HTTP: a bad status line)
        why = " ".join(str(exc.message).split()).split(":", 1)[0] or "not HTTP"
        return (f"{base} does not answer in HTTP ({why}); give the plain http:// port of a Jarvis-protocol "
                f"server (a TLS or other service answers so)")
    os_error = getattr(exc, "os_error", exc)
    if isinstance(exc, aiohttp.ServerDisconnectedError) or getattr(os_error, "errno", None) == errno.ECONNRESET:
        return f"{base} closed the connection without answering GET /socket.io/?EIO=4&transport=polling"
    why = (os_error.strerror if isinstance(os_error, OSError) else None) or " ".join(str(exc).split()) \
        or type(exc).__name__  # ("Name or service not known", "No route to host")
    return f"cannot reach {base}: {why}"


class _Page:
    """One virtual client with its proxy, log, observations and script state."""

    def __init__(self, index: int, cfg: SimConfig, run_id: str, upstream: tuple[str, int], out_dir: Path,
                 http: aiohttp.ClientSession, writer: ResultWriter, on_record: Callable[[dict], None]):
        self.index = index
        self.cfg = cfg
        self.run_id = run_id
        self.rng = random.Random(f"{cfg.seed}/{index}")
        self.profile = cfg.profile_for(index)
        self.proxy = FaultProxy(*upstream, shape=cfg.network, rng=random.Random(f"{cfg.seed}/{index}/net"))
        self.skew_s = clock_skew_s(cfg.seed, index, cfg.clock_skew_ms)
        self.client_id = make_client_id(MOBILE_UA, int(self.phone_clock() * 1000), self.rng)
        self.log = ClientLog(self.client_id, out_dir / "frontend", clock=self.phone_clock)
        self.obs: list[Obs] = []
        self.client: VirtualClient | None = None
        self.http = http
        self.writer = writer
        self.on_record = on_record
        self.keys: list[str] = []
        self.cycle = 0
        self.sent: dict[str, str] = {}
        self.messages = 0  # (sent by this client)
        self.seen_before: dict[str, set[int]] = {}
        self.error: str | None = None

    def phone_clock(self) -> float:
        """The phone's own clock: true time plus this page's skew (what its log lines say)."""
        return time.time() + self.skew_s

    def _content(self, kind: str, k: int, cycle: int) -> str:
        # Unique per run, client and message: replies are matched to their message by it (a
        # cycle can send more than one; a session opened with --existing holds earlier runs')
        self.messages += 1
        return (f"{kind} from client {self.index} session {k} cycle {cycle} of run {self.run_id} "
                f"(message {self.messages}): how is it going?")

    async def setup(self, steps: list[Step], ramp: asyncio.Semaphore) -> None:
        await self.proxy.start()
        self.client = VirtualClient(self.index, self.proxy.url, self.cfg.token, self.profile, rng=self.rng,
                                    log=self.log, record=self.obs.append, http=self.http,
                                    connect_timeout=self.cfg.connect_timeout_s, phone_clock=self.phone_clock)
        async with ramp:
            for step in steps:
                if step.action == "connect":
                    await self.client.start(self.cfg.connect_timeout_s + 2)
                elif step.action == "open":
                    existing = step.session if isinstance(step.session, str) else None
                    s = await self.client.open_session(existing, self.cfg.working_dir, self.cfg.deadline_s)
                    self.keys.append(s.key)
                elif step.action == "wait":
                    await asyncio.sleep(step.for_s)
        self.log.flush()

    def _sessions(self, step: Step) -> list[str]:
        if step.session is None:
            return list(self.keys)
        if not isinstance(step.session, int) or not 0 <= step.session < len(self.keys):
            raise ClientFailed(f"step {step.action}: no session {step.session!r} (opened {len(self.keys)})")
        return [self.keys[step.session]]

    async def run_cycles(self, steps: list[Step]) -> None:
        c = self.client
        assert c is not None
        if self.cfg.stagger_s > 0:
            await asyncio.sleep(stagger_delay_s(self.cfg.seed, self.index, self.cfg.stagger_s))
        for _ in range(self.cfg.cycles):
            self.obs.clear()
            self.sent.clear()
            self.seen_before = {k: set(c.sessions[k].seqs) for k in self.keys}
            for step in steps:
                if step.action == "wait":
                    await asyncio.sleep(step.for_s)
                elif step.action == "switch":
                    for key in self._sessions(step):
                        await c.switch_to(key)
                        await c.wait_until(lambda key=key: not c.sessions[key].connect_pending, _ACK_TIMEOUT_S)
                elif step.action == "send":
                    await self._send_and_wait_ack(step)
                elif step.action == "background":
                    self.cycle += 1
                    await self._background(step)
                    self.obs.clear()
                    self.seen_before = {k: set(c.sessions[k].seqs) for k in self.keys}
            self.log.flush()

    async def _send_and_wait_ack(self, step: Step) -> None:
        """Send like the user does before switching apps: the server has the message."""
        c = self.client
        contents: dict[str, str] = {}
        acked = self._watch(lambda o: o.kind == "ack" and contents.get(o.session) == o.content)
        for key in self._sessions(step):
            # (sent before the background step that counts its cycle: the record of that cycle)
            content = step.content or self._content("background", self.keys.index(key), self.cycle + 1)
            contents[key] = content
            self.sent[key] = content
            await c.send_message(key, content)
        await c.wait_until(lambda: len(acked()) == len(contents), min(_ACK_TIMEOUT_S, self.cfg.deadline_s))

    async def _background(self, step: Step) -> None:
        c, proxy, cfg = self.client, self.proxy, self.cfg
        fault = step.fault or cfg.fault
        frozen = fault == "freeze"
        schedule = fault_schedule(fault, step.for_s, random.Random(f"{cfg.seed}/{self.index}/{self.cycle}"),
                                  flaky_mean_gap_s=cfg.flaky_mean_gap_s)
        loop = asyncio.get_running_loop()
        t_start = loop.time()
        hidden_at = time.time()
        errors: list[str] = []
        for fs in schedule:
            delay = t_start + fs.at_s - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if fs.step == "hide":
                c.hide(frozen)
            elif fs.step == "show":
                c.show(frozen)
            elif fs.step == "freeze":
                proxy.freeze()
            elif fs.step == "thaw":
                proxy.thaw()
            elif fs.step == "close":
                proxy.close_connections()
            elif fs.step == "offline":
                c.network(False)
                await proxy.go_offline()
            elif fs.step == "online":
                try:
                    await proxy.go_online()
                except RuntimeError as exc:
                    errors.append(str(exc))
                c.network(True)
            elif fs.step == "reset":
                proxy.reset_connections()
            elif fs.step == "refuse_websocket":
                proxy.refuse_websocket = True
        rest = t_start + step.for_s - loop.time()
        if rest > 0:
            await asyncio.sleep(rest)
        if not page_hides(fault):
            c.mark("visible")  # the end of a flaky window: measured like coming back
        visible_at = time.time()
        deadline = visible_at + cfg.deadline_s
        settled = await self._wait_settled(visible_at + min(cfg.reaction_s, cfg.deadline_s), deadline)
        attached = {k: c.sessions[k].ready_epoch == c.epoch for k in self.keys}
        probe_sent_at = None
        probes: dict[str, str] = {}
        if settled:
            probe_sent_at = time.time()
            probes = {k: self._content("probe", i, self.cycle) for i, k in enumerate(self.keys)}
            replied = self._watch(lambda o: o.kind == "chat" and o.event == "chat:result" and not o.replay
                                  and o.session in probes and o.message in (probes[o.session], None))
            for k in self.keys:
                await c.send_message(k, probes[k], kind="probe")
            await c.wait_until(lambda: len(replied()) == len(probes), max(0.0, deadline - time.time()))
        if c.failed_reason:
            errors.append(c.failed_reason)
        sessions = []
        for k in self.keys:
            s = c.sessions[k]
            sessions.append(SessionCycle(
                key=k, temp_id=s.temp_id, uuid=s.uuid, background_message=self.sent.get(k),
                probe_message=probes.get(k), attached_before_probe=attached[k],
                seq_check=self.profile.last_seq and bool(s.seqs), seen_before=self.seen_before.get(k, set()),
                replay_appends=not self.profile.merge_history))
        record = cycle_verdict(
            list(self.obs), sessions, run=self.run_id, client=self.index, client_id=self.client_id,
            profile=self.profile.name, fault=fault, network=cfg.network.name, cycle=self.cycle,
            background_s=step.for_s, hidden_at=hidden_at, visible_at=visible_at, deadline_s=cfg.deadline_s,
            probe_sent_at=probe_sent_at, errors=errors)
        self.writer.write(record)
        self.on_record(record)
        proxy.refuse_websocket = False  # (the next cycle starts on a network that passes WebSocket)

    def _watch(self, match: Callable[[Obs], bool]) -> Callable[[], set[str]]:
        """The sessions with an observation matching ``match`` from now on; each call reads
        only what was recorded since the last one."""
        pos = len(self.obs)
        found: set[str] = set()

        def sessions() -> set[str]:
            nonlocal pos
            for o in self.obs[pos:]:
                if o.session is not None and match(o):
                    found.add(o.session)
            pos = len(self.obs)
            return found

        return sessions

    async def _wait_settled(self, not_before: float, deadline: float) -> bool:
        """Wait until the page has re-attached and stays so until the user would type
        (``not_before``): a stale socket looks fine for a moment after waking. Records the
        moment it settled for good."""
        c = self.client
        settled_at = None
        for _ in range(1000):  # bounded: each turn waits for a change or the deadline
            if not await c.wait_until(c.settled, max(0.0, deadline - time.time())):
                return False
            settled_at = settled_at or time.time()
            if time.time() >= not_before:
                c.record(Obs(settled_at, "settled", client=self.index))
                return True
            await asyncio.sleep(not_before - time.time())
            if not c.settled():
                settled_at = None
        return False

    def failed_record(self, cycle: int, why: str) -> dict[str, Any]:
        """A client that could not run its cycle still leaves a record (it did not recover)."""
        now = time.time()
        from jarvis_diag.lines import iso_ms

        return {"schema": SCHEMA, "run": self.run_id, "client": self.index, "client_id": self.client_id,
                "profile": self.profile.name, "fault": self.cfg.fault, "network": self.cfg.network.name,
                "cycle": cycle, "background_ms": round(self.cfg.background_s * 1000, 1),
                "hidden_at": iso_ms(now), "visible_at": iso_ms(now), "recovered": False,
                "deadline_ms": round(self.cfg.deadline_s * 1000, 1), "failure": why, "reconnected": False,
                "times_ms": {"connected": None, "authenticated": None, "recovery": None, "probe_sent": None},
                "sessions": [], "lost": 0, "duplicated": 0, "attaches": [], "errors": [why]}

    async def close(self) -> None:
        if self.client is not None:
            await self.client.close()
        else:
            self.log.flush()
        await self.proxy.stop()


async def run_simulation(cfg: SimConfig, out_dir: Path, *, run_id: str | None = None,
                         on_record: Callable[[dict], None] = lambda r: None,
                         on_phase: Callable[[str], None] = lambda p: None) -> RunResult:
    """Run ``cfg`` against its server; records go to ``out_dir/results.jsonl`` as they come.

    Raises :class:`ServerUnusable` before anything runs when the server cannot be used.
    Cancelling the task (Ctrl-C) stops every client and returns what was measured.
    """
    cfg.validate()
    upstream = split_url(cfg.url)
    ensure_open_files(cfg.clients)
    if run_id is None:  # (the messages a run sends carry it, see _content)
        run_id = new_run_id(cfg.seed)
    on_phase("checking the server")
    await _preflight_through_a_restart(cfg, on_phase)
    setup_steps, cycle_steps = cfg.script()
    planned = cfg.clients * cfg.cycles * sum(1 for s in cycle_steps if s.action == "background")
    writer = ResultWriter(out_dir)
    result = RunResult(run_id, out_dir, writer.records, planned)
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    http = aiohttp.ClientSession(connector=connector)
    pages = [_Page(i, cfg, run_id, upstream, out_dir, http, writer, on_record) for i in range(cfg.clients)]
    ramp = asyncio.Semaphore(max(1, cfg.ramp))

    async def page_main(page: _Page) -> None:
        try:
            await page.setup(setup_steps, ramp)
        except (ClientFailed, OSError) as exc:
            page.error = f"could not start: {exc}"
        except Exception as exc:  # one broken page must not take the others down
            page.error = f"could not start: {type(exc).__name__}: {exc}"
        if page.error is None:
            try:
                await page.run_cycles(cycle_steps)
            except ClientFailed as exc:
                page.error = str(exc)
            except Exception as exc:
                page.error = f"{type(exc).__name__}: {exc}"
        if page.error is not None:
            result.client_errors.append(f"client {page.index}: {page.error}")
            record = page.failed_record(page.cycle + 1, page.error)
            writer.write(record)
            on_record(record)

    on_phase("running")
    tasks = [asyncio.ensure_future(page_main(p)) for p in pages]
    pages_done = asyncio.gather(*tasks)
    # (down for as long as a cycle may wait, the server fails every cycle; a shorter restart,
    # a dev server reloading or a restart the run measures, is waited out)
    watch = asyncio.ensure_future(_watch_server(*upstream, grace_s=max(RESTART_GRACE_S, cfg.deadline_s)))
    flusher = asyncio.ensure_future(_flush_logs(pages))
    try:
        await asyncio.wait([pages_done, watch], return_when=asyncio.FIRST_COMPLETED)
        if pages_done.done():
            pages_done.result()
        else:  # the server is gone: the cycles under way would only wait out their deadlines
            result.error = watch.result()
    except asyncio.CancelledError:
        result.interrupted = True
    finally:
        await stop_tasks([watch, flusher, pages_done, *tasks])
        on_phase("stopping")
        await asyncio.gather(*(p.close() for p in pages), return_exceptions=True)
        await http.close()
        writer.close()
    if not result.interrupted and result.error is None and any(not r["recovered"] for r in result.records):
        # a server that died mid-run explains every failure at once: say so (one that is
        # only restarting, a dev server reloading say, answers again within a few seconds)
        result.error = await _server_gone(cfg)
    return result


async def _flush_logs(pages: list[_Page]) -> None:
    """Every page's new log lines appended to its file each LOG_FLUSH_S, as a page posts its
    remote log: written at a cycle's end alone, the lines of a 26 s cycle reached a
    ``timeline --follow`` at once, long after the server's. A file that cannot be written is
    left to the page's own flush (at its cycle's end), which says why."""
    while True:
        await asyncio.sleep(LOG_FLUSH_S)
        for page in pages:
            with contextlib.suppress(OSError):
                page.log.flush()


async def _preflight_through_a_restart(cfg: SimConfig, on_phase: Callable[[str], None]) -> None:
    """:func:`preflight`; a server refusing connections is given RESTART_GRACE_S to come
    back first (a dev server reloading on a file change, a restart the run is to measure)."""
    deadline = time.monotonic() + RESTART_GRACE_S
    for _ in range(1000):  # bounded: each turn waits 0.5 s, the deadline ends it sooner
        try:
            return await preflight(cfg.url, cfg.token, timeout=min(cfg.connect_timeout_s, 10.0))
        except ServerRefused as exc:
            if time.monotonic() >= deadline:
                raise ServerUnusable(f"{exc} (for {RESTART_GRACE_S:g} s)") from None
            on_phase("waiting for the server to accept connections")
        await asyncio.sleep(0.5)


async def _refused(host: str, port: int) -> str | None:
    """Why a TCP connect to the server fails (refused, unreachable), or None when it is
    accepted or only slow (a busy server's full backlog is no sign it is down). Nothing but
    the connect: a Socket.IO session would be a socket of its own in the server's logs."""
    try:
        async with asyncio.timeout(WATCH_INTERVAL_S * 2):
            _, writer = await asyncio.open_connection(host, port)
    except TimeoutError:
        return None
    except OSError as exc:
        return os.strerror(exc.errno) if exc.errno else "cannot connect"  # (asyncio's text adds the address)
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return None


async def _watch_server(host: str, port: int, grace_s: float) -> str:
    """Return (why) once the server has refused connections for ``grace_s`` on end.

    A refused or unreachable connect is the clear sign the server is down; a slow one is not
    (a busy server's full backlog), so only those count. Runs as long as the run does."""
    refused_since: float | None = None
    while True:
        why = await _refused(host, port)
        if why is None:
            refused_since = None
        else:
            now = time.monotonic()
            refused_since = refused_since or now
            if now - refused_since >= grace_s:
                return (f"the server stopped answering during the run ({host}:{port}: {why} "
                        f"for {now - refused_since:.0f} s)")
        await asyncio.sleep(WATCH_INTERVAL_S)


async def _server_gone(cfg: SimConfig) -> str | None:
    """Why the server is not answering after RESTART_GRACE_S of asking, or None.

    Asked after the run with a plain HTTP request (the Engine.IO handshake), not a Socket.IO
    session: that was a socket no page had in the server's log, connected and gone just before
    a script (demo) stops the server, which timeline then named cut by the stop. A server that
    accepts connections but answers nothing (frozen, SIGSTOP) is not answering either."""
    host, port = split_url(cfg.url)
    base = http_base(host, port)
    deadline = time.monotonic() + RESTART_GRACE_S
    for _ in range(1000):  # bounded: each turn waits 0.5 s or more, the deadline ends it sooner
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2.0)) as http:
                async with http.get(f"{base}/socket.io/", params={"EIO": "4", "transport": "polling"}) as resp:
                    await resp.read()
            return None  # (any answer: it is up, whatever it said)
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            os_error = getattr(exc, "os_error", exc)
            errno_ = os_error.errno if isinstance(os_error, OSError) else None
            why = ("no answer within 2 s" if isinstance(exc, TimeoutError) and not isinstance(exc, aiohttp.ClientError)
                   else os.strerror(errno_) if errno_ and errno_ > 0  # (asyncio's text adds the address)
                   else " ".join(str(exc).split()) or type(exc).__name__)
        if time.monotonic() >= deadline:
            return f"the server stopped answering during the run ({host}:{port}: {why} for {RESTART_GRACE_S:g} s)"
        await asyncio.sleep(0.5)
    return None

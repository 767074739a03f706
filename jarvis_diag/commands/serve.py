"""`jarvis-diag serve`: the reference Socket.IO session server."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import math
import os
import signal
import sqlite3
import sys
from pathlib import Path

import typer

from jarvis_diag.errors import DiagError

HELP = """Run the reference Jarvis session server (Socket.IO), correct by default or with known incident-causing behaviours turned on with --bug.

It prints where it listens (first line: `listening on URL`), the token and where logs go: <log-dir>/app.log (the real app log format), <log-dir>/backend.log (the captured console) and <log-dir>/frontend/ (remote frontend logs).

SIGINT or SIGTERM stops it gracefully (its shutdown lines written, then `stopped`) with exit status 0; another signal while it stops is ignored (the shutdown ends on its own within seconds).

Example: jarvis-diag serve --port 38010 --token secret --bug single-live-session
"""
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
MAX_PING_S = 86400.0  # (a day: far beyond any real ping setting, far below what overflows Engine.IO)


def register(app: typer.Typer) -> None:
    """Add this command to the application."""
    app.command("serve", help=HELP)(serve)


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(38010, help="Port to listen on (0: any free port)."),
    token: str = typer.Option(None, envvar="JARVIS_TOKEN", help="Auth token (generated when not given)."),
    data_dir: Path = typer.Option(Path(".jarvis-diag"), help="SQLite database directory."),
    log_dir: Path = typer.Option(None, help="Log directory (default: <data-dir>/logs)."),
    ping_interval: float = typer.Option(25.0, help="Socket.IO ping interval, seconds."),
    ping_timeout: float = typer.Option(60.0, help="Socket.IO ping timeout, seconds."),
    history: int = typer.Option(15, help="Messages replayed on chat:connect."),
    agent: str = typer.Option("sim", help='"sim", or a command speaking Claude CLI stream-json, found on $PATH or a path to an executable (a bare "claude" gets the stream-json flags).'),
    agent_startup: float = typer.Option(2.0, help="Sim agent start-up delay, seconds."),
    agent_pace: float = typer.Option(0.05, help="Sim agent delay between streamed events, seconds."),
    bug: list[str] = typer.Option(None, "--bug", help="Reproduce a known behaviour; repeatable. `--bug list` explains each."),
    bugs: list[str] = typer.Option(None, "--bugs", hidden=True),
    reload_after: float = typer.Option(None, help="Bug reload: seconds between simulated reloads (default 30)."),
    reload_downtime: float = typer.Option(3.0, help="Bug reload: seconds connections are refused."),
    reload_count: int = typer.Option(None, help="Bug reload: how many reloads (default: until stopped)."),
    slow_start: float = typer.Option(6.0, help="Bug slow-start: agent start-up chat:connect waits for, seconds."),
    log_tz: str = typer.Option(None, help="Time zone of app.log times, e.g. Europe/Berlin (default: local)."),
    echo: bool = typer.Option(False, help="Also print app.log lines on stdout."),
    no_seq: bool = typer.Option(False, "--no-seq", help="No seq extension, as the real Jarvis server: no `seq` in "
                                "what is sent, `last_seq` ignored (a resuming client's fallback)."),
) -> None:
    from jarvis_diag.simulate.results import make_output_dir
    from server import bugs as bug_catalogue
    from server.agents import check_agent_command
    from server.config import ServerConfig
    from server.logs import zone

    names = list(bug or []) + list(bugs or [])
    if "list" in names:
        typer.echo(bug_catalogue.describe())
        return
    try:
        chosen = bug_catalogue.check(names)
    except ValueError as exc:
        raise DiagError(str(exc)) from None
    try:
        zone(log_tz)
    except Exception:
        raise DiagError(f"unknown time zone {log_tz!r} (use an IANA name such as Europe/Berlin)") from None
    if not 0 <= port <= 65535:
        raise DiagError(f"port {port} is out of range")
    if not host.strip():
        raise DiagError("--host is empty: give an address to listen on (127.0.0.1, or 0.0.0.0 for every interface)")
    for name, value in (("ping-interval", ping_interval), ("ping-timeout", ping_timeout)):
        # (nan, inf and 1e308 too: Engine.IO failed every handshake on them, its ms overflowing)
        if not 0 < value <= MAX_PING_S:
            raise DiagError(f"--{name} must be a positive number of seconds up to {MAX_PING_S:g} (a day), "
                            f"not {value:g}")
    for name, value in (("history", history), ("agent-startup", agent_startup), ("agent-pace", agent_pace)):
        if not 0 <= value < math.inf:  # (nan is neither)
            raise DiagError(f"--{name} must be a number, not negative: not {value:g}")
    if bug_catalogue.RELOAD not in chosen:  # (else the server would run without a reload, saying nothing)
        given = [name for name, value in (("--reload-after", reload_after), ("--reload-count", reload_count))
                 if value is not None]
        if given:
            raise DiagError(f"{' and '.join(given)} need{'s' if len(given) == 1 else ''} --bug reload "
                            "(the server reloads only then)")
    if bug_catalogue.RELOAD in chosen and reload_after is None:
        reload_after = 30.0
    if reload_after is not None and not 0 < reload_after < math.inf:
        raise DiagError("--reload-after must be positive")
    if reload_count is not None and reload_count < 1:
        raise DiagError("--reload-count must be 1 or more")
    for name, value in (("reload-downtime", reload_downtime), ("slow-start", slow_start)):
        if not 0 <= value < math.inf:
            raise DiagError(f"--{name} {value:g}: must be >= 0")
    if agent != "sim":
        try:
            check_agent_command(agent)
        except ValueError as exc:
            raise DiagError(f"--agent {agent!r}: {exc}") from None
    config = ServerConfig(
        host=host, port=port, token=token or None, data_dir=data_dir, log_dir=log_dir,
        ping_interval=ping_interval, ping_timeout=ping_timeout, history=history, agent=agent,
        agent_startup=agent_startup, agent_pace=agent_pace, bugs=chosen, reload_after=reload_after,
        reload_downtime=reload_downtime, reload_count=reload_count, slow_start=slow_start, log_tz=log_tz, echo=echo,
        no_seq=no_seq,
    )
    # (a log directory the user did not name is the --data-dir's: an error naming --log-dir sent them looking
    # for an option they never gave)
    for option, directory in (("--data-dir", config.data_dir),
                              ("--log-dir" if log_dir is not None else "--data-dir's log directory", config.log_dir)):
        make_output_dir(directory, option)
    asyncio.run(_run(config))
    # Stopped (by a signal): the process ends here. Going back through the command line's
    # Ctrl-C handling and Python's teardown would set SIGINT and SIGTERM back to their
    # defaults, and a late one (SIGINT, SIGINT, SIGTERM within 40 ms) killed the process
    # (status -2 or -15) after it had printed "stopped" and closed complete logs.
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(0)


async def _run(config) -> None:
    from jarvis_diag.limits import allow_open_files
    from server.runner import ServerRunner

    # a socket per client: the usual soft limit (1024) ran out near a thousand phones, each
    # refused accept printed a traceback, and the phones saw a correct server lose messages
    allow_open_files(1 << 16)

    # (its start-up lines are echoed after the banner: the first line is `listening on URL`)
    runner = ServerRunner(dataclasses.replace(config, echo=False))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:  # before the banner: whoever reads it may signal at once
        loop.add_signal_handler(sig, stop.set)  # (once stopping, another one changes nothing)
    try:
        url = await runner.start()
    except OSError as exc:
        if exc.filename:  # a log or data file, not the address
            raise DiagError(f"cannot open {exc.filename}: {exc.strerror or exc}") from None
        raise DiagError(f"cannot listen on {config.host}:{config.port}: {exc.strerror or exc}") from None
    except sqlite3.Error as exc:  # jarvis.db is a directory, or a file that is no database
        raise DiagError(f"cannot open the database {config.data_dir / 'jarvis.db'}: {exc}") from None
    print(f"listening on {url}", flush=True)
    print(f"token: {config.token}", flush=True)
    print(f"logs: {config.log_dir / 'app.log'}, {config.log_dir / 'backend.log'}, {config.log_dir / 'frontend'}/",
          flush=True)
    print(f"data: {config.data_dir / 'jarvis.db'}", flush=True)
    if config.bugs:
        print(f"bugs: {', '.join(config.bugs)}", flush=True)
    if config.no_seq:
        print("seq: none (no seq extension, as the real server: last_seq ignored)", flush=True)
    if config.echo:
        runner.state.log.start_echo()
    try:
        await stop.wait()
    finally:
        await runner.stop()
        # Stop signals from here on are ignored, and the loop is kept from setting them back
        # to their defaults as it closes (SIG_IGN only now: an agent started while the server
        # ran would have inherited it).
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)
            signal.signal(sig, signal.SIG_IGN)
        print("stopped", flush=True)

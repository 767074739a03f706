"""`jarvis-diag simulate-mobile`: virtual phones through a fault proxy, a verdict per cycle."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from jarvis_diag.commands.interrupt import run_interruptible
from jarvis_diag.commands.progress import cycle_progress
from jarvis_diag.errors import DiagError

FORMATS = ("text", "json")

HELP = """Virtual mobile clients go to the background and come back through a fault proxy; each cycle gets a verdict: recovered or not, phase times, lost / duplicated output.

Writes DIR/results.jsonl (schema jarvis-diag.sim/1) and each client's frontend log in DIR/frontend/, which `jarvis-diag timeline DIR <server-log-dir>/app.log` reads with the server's log. `--format json` prints the summary as jarvis-diag.sim-summary/1 (docs/formats.md).

Examples, against the reference server (`jarvis-diag serve --port 38010 --token secret`):

    jarvis-diag simulate-mobile http://127.0.0.1:38010 --token secret \\
        --clients 2 --background 5s --fault close --out sim-quick/

    jarvis-diag simulate-mobile http://127.0.0.1:38010 --token secret \\
        --clients 20 --sessions 2 --cycles 3 --background 90s --fault freeze \\
        --client-profile legacy --out sim/

    jarvis-diag simulate-mobile http://127.0.0.1:38010 --token secret \\
        --browser --sessions 2 --background 90s --fault offline \\
        --client-profile connmgr --out sim-browser/

Exit code: 0 when every cycle recovered with nothing lost or duplicated, 1 otherwise (or when the server died mid-run), 2 on bad usage or a server that cannot be used (unreachable, not Socket.IO, token refused), 130 when interrupted (results kept)."""


def simulate_mobile(
    url: Annotated[str, typer.Argument(help="Base URL of a Jarvis-protocol server, e.g. http://127.0.0.1:38010")],
    token: Annotated[str | None, typer.Option(envvar="JARVIS_TOKEN", help="Auth token ($JARVIS_TOKEN)")] = None,
    clients: Annotated[int | None, typer.Option(help="Virtual clients (default 1)")] = None,
    sessions: Annotated[int | None, typer.Option(help="Sessions each client opens (default 1)")] = None,
    cycles: Annotated[int | None, typer.Option(help="Background cycles per client (default 1)")] = None,
    background: Annotated[str | None, typer.Option(help="Time in the background per cycle: 30s, 2m (default 30s)")] = None,
    fault: Annotated[str | None, typer.Option(help="freeze | close | offline | flaky | no-websocket (default freeze)")] = None,
    client_profile: Annotated[str | None, typer.Option(
        "--client-profile", help="legacy | connmgr | resume, or a profile of the scenario (default connmgr)")] = None,
    network: Annotated[str | None, typer.Option(help="good | 3g | lossy, or a network of the scenario (default good)")] = None,
    seed: Annotated[int | None, typer.Option(help="Makes a run repeatable (default 0)")] = None,
    scenario: Annotated[Path | None, typer.Option(help="Scenario file (TOML): settings, steps, profiles, networks (docs/formats.md)")] = None,
    out: Annotated[Path | None, typer.Option(help="Output directory (default ./sim-<run id>)")] = None,
    deadline: Annotated[str | None, typer.Option(help="Time allowed to recover after 'visible' (default 30s)")] = None,
    time_scale: Annotated[float | None, typer.Option(help="Multiplies the profiles' reconnect delays (default 1)")] = None,
    existing: Annotated[list[str] | None, typer.Option(help="Open this existing session id (repeatable)")] = None,
    fmt: Annotated[str, typer.Option("--format", help="text | json (the summary on stdout)")] = "text",
    browser: Annotated[bool, typer.Option(
        "--browser", help="Drive a real headless Chromium (the page at URL) instead of virtual clients")] = False,
    browser_app: Annotated[Path | None, typer.Option(
        help="With --browser: TOML/JSON saying how to drive your own app (login, sessions, ready)")] = None,
    chromium: Annotated[str | None, typer.Option(
        help="With --browser: the Chromium binary (default: the one Debian's chromium package installs)")] = None,
) -> None:
    from jarvis_diag.simulate.results import make_output_dir, new_run_id
    from jarvis_diag.simulate.scenario import SimConfig, load_scenario

    if fmt not in FORMATS:
        raise DiagError(f"--format must be one of {', '.join(FORMATS)}")
    if chromium is not None and not (browser or browser_app is not None):  # (else ignored: virtual phones ran)
        raise DiagError("--chromium is for --browser runs (add --browser)")
    cfg = SimConfig(url=url, token=token or "")
    try:
        if scenario is not None:
            cfg = load_scenario(scenario, cfg)
        for name, value in (("clients", clients), ("sessions", sessions), ("cycles", cycles), ("seed", seed),
                            ("fault", fault), ("time_scale", time_scale)):
            if value is not None:
                setattr(cfg, name, value)
        if background is not None:
            cfg.background_s = _duration("--background", background)
        if deadline is not None:
            cfg.deadline_s = _duration("--deadline", deadline)
        if client_profile is not None:
            if client_profile not in cfg.profile_table:
                raise ValueError(f"unknown client profile {client_profile!r} (one of {', '.join(cfg.profile_table)})")
            cfg.profiles = [cfg.profile_table[client_profile]]
        if network is not None:
            if network not in cfg.network_table:
                raise ValueError(f"unknown network {network!r} (one of {', '.join(cfg.network_table)})")
            cfg.network = cfg.network_table[network]
        if existing:
            cfg.existing = list(existing)
            cfg.sessions = max(cfg.sessions, len(existing))
        cfg.url = url
        if token:
            cfg.token = token
        if not cfg.token and browser_app is None:  # (an app of one's own may have no login: see browser_config)
            raise ValueError("no token: give --token T or set $JARVIS_TOKEN")
        cfg.validate()
        if cfg.steps is None and cfg.background_s > 24 * 3600:
            raise ValueError("--background must be at most 24h")
    except ValueError as exc:
        raise DiagError(str(exc)) from None

    if not (browser or browser_app is not None):  # (a URL no server can be at: said before --out is made)
        from jarvis_diag.simulate.run import ServerUnusable, split_url

        try:
            split_url(cfg.url)
        except ServerUnusable as exc:
            raise DiagError(str(exc)) from None
    run_id = new_run_id(cfg.seed)
    if out is None:
        # a folder of this run's own, whatever else is there: two runs started in the same second
        # (a script running a build with a bug and one without side by side) wrote their
        # records into one folder when the id was to the second
        run_id, out_dir = _fresh_run_dir(run_id)
        created = True
    else:
        out_dir = out
        results = out_dir / "results.jsonl"
        if out_dir.is_dir() and results.exists():
            if results.is_file() and results.stat().st_size == 0:
                raise DiagError(f"--out {out_dir}: holds the results.jsonl of a run that recorded no cycle, and its "
                                "logs; remove the folder or choose another")
            raise DiagError(f"--out {out_dir}: already holds results.jsonl; choose another directory")
        created = not out_dir.exists()
        make_output_dir(out_dir, "--out")
    try:
        if browser or browser_app is not None:
            from jarvis_diag.simulate.browser import CHROMIUM
            from jarvis_diag.simulate.browser_command import run_browser

            result = run_browser(cfg, out_dir, run_id, browser_app, chromium or CHROMIUM)
        else:
            result = _run(cfg, out_dir, run_id)
    except DiagError:
        # nothing ran (the server cannot be used, no Chromium): leave no empty directory, nor
        # in a folder the user gave the empty results.jsonl this run made, behind
        if created:
            _remove_if_empty(out_dir)
        else:
            with contextlib.suppress(OSError):
                results = out_dir / "results.jsonl"
                if results.is_file() and not results.is_symlink() and results.stat().st_size == 0:
                    results.unlink()
        raise
    _report(result, fmt)


def _remove_if_empty(folder: Path) -> None:
    """Remove ``folder`` when no file in it holds a byte (a run that failed before its first
    cycle: its results.jsonl made, empty), so that the same command can run again."""
    try:
        files = [p for p in folder.rglob("*") if not p.is_dir()]
        if any(p.is_symlink() or not p.is_file() or p.stat().st_size for p in files):
            return
        shutil.rmtree(folder)
    except OSError:
        pass


def _duration(option: str, text: str) -> float:
    from jarvis_diag.simulate.faults import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise ValueError(f"{option} {exc}") from None


def _fresh_run_dir(run_id: str) -> tuple[str, Path]:
    """The run's id and its default folder ``sim-<run id>``, made now, with ``-2``, ``-3``...
    after the id when another run took that folder first."""
    for n in range(1, 1000):
        rid = run_id if n == 1 else f"{run_id}-{n}"
        path = Path(f"sim-{rid}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            raise DiagError(f"{path}: cannot create the directory: {exc.strerror or exc}") from None
        return rid, path
    raise DiagError(f"sim-{run_id}: 999 folders of that name exist; give --out")


def _run(cfg, out_dir: Path, run_id: str):
    from jarvis_diag.simulate.run import ServerUnusable, TooFewOpenFiles, run_simulation

    setup, cycle_steps = cfg.script()
    planned = cfg.clients * cfg.cycles * sum(1 for s in cycle_steps if s.action == "background")
    with cycle_progress(planned, "starting") as (on_record, on_phase):
        try:
            return run_interruptible(run_simulation(cfg, out_dir, run_id=run_id, on_record=on_record,
                                                    on_phase=on_phase))
        except (ServerUnusable, TooFewOpenFiles) as exc:
            raise DiagError(str(exc)) from None
        except OSError as exc:  # e.g. --out not writable, out of file descriptors
            raise DiagError(f"{exc.filename or out_dir}: {exc.strerror or exc}", exit_code=1) from None
        except asyncio.CancelledError:
            raise DiagError("interrupted before the clients started", exit_code=130) from None


def _report(result, fmt: str) -> None:
    from jarvis_diag.simulate.results import failure_lines, summary_json, summary_table

    summary = summary_json(result.records, run=result.run_id, out_dir=result.out_dir,
                           interrupted=result.interrupted, error=result.error, planned=result.planned)
    if fmt == "json":
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    else:
        console = Console()
        if result.records:
            console.print(summary_table(result.records))
        lines, more = failure_lines(result.records)
        for line in lines:
            console.print(f"  [red]x[/] {line}", highlight=False, soft_wrap=True)
        if more:
            console.print(f"  ... and {more} more failed cycles in {result.out_dir}/results.jsonl", highlight=False)
        for note in summary["notes"]:
            console.print(f"note: {note}", style="yellow", highlight=False, soft_wrap=True)
        console.print(_outcome_line(summary, result), highlight=False, soft_wrap=True)
    if result.interrupted:
        _stderr(f"interrupted: {len(result.records)} records kept in {result.out_dir}/results.jsonl")
        raise typer.Exit(130)
    if result.error:
        _stderr(f"error: {result.error}; partial results in {result.out_dir}/results.jsonl")
        raise typer.Exit(1)
    if not summary["all_ok"]:
        raise typer.Exit(1)


def _outcome_line(summary: dict, result) -> str:
    """One line: how many cycles came through; a run cut short says after how many."""
    where = f"results in {result.out_dir}/results.jsonl"
    if (Path(result.out_dir) / "frontend").is_dir():  # (an app of one's own writes its log where it does)
        where += f", frontend logs in {result.out_dir}/frontend/"
    done, ok = summary["cycles"], summary["ok"]
    lost = sum(int(g.get("lost") or 0) for g in summary["groups"])
    dup = sum(int(g.get("duplicated") or 0) for g in summary["groups"])
    # (what "cleanly" means, or what was lost: "0/4 cycles recovered with nothing lost" read as
    # "nothing lost", and "(nothing lost or duplicated); 2 lost" as a contradiction)
    clean = (f"recovered cleanly (recovered, and lost or duplicated nothing); {lost} lost and {dup} duplicated in all"
             if lost or dup else "recovered cleanly (nothing lost or duplicated)")
    if result.interrupted or result.error:
        how = "interrupted" if result.interrupted else "stopped"
        if not done:  # ("0/0 finished cycles recovered cleanly (nothing lost ...)" read as a clean run)
            return f"{how} before any of {summary['planned']} cycles finished; {where}"
        return f"{how} after {done} of {summary['planned']} cycles: {ok}/{done} finished cycles {clean}; {where}"
    return f"{ok}/{summary['planned']} cycles {clean}; {where}"


def _stderr(message: str) -> None:
    # plain text, one line whatever the terminal's width (a wrapped message is hard to grep)
    sys.stderr.write(f"jarvis-diag: {message}\n")
    sys.stderr.flush()


def register(app: typer.Typer) -> None:
    """Add this command to the application."""
    app.command("simulate-mobile", help=HELP,
                short_help="Virtual mobile clients go to the background and come back through a fault proxy; "
                "each cycle gets a verdict: recovered or not, phase times, lost / duplicated output.")(simulate_mobile)

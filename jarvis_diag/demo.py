"""The main job in one call: reproduce an incident, diagnose it, and show the fix.

:func:`run_demo` starts the reference server on a free loopback port twice — once with
a known bug, once correct — runs the same simulated mobile clients against each, builds
both timelines from the logs the run wrote, and compares the two runs in a report::

    from jarvis_diag.demo import run_demo
    outcome = run_demo("demo-out")          # about half a minute
    outcome.report_html                      # Path of the self-contained HTML report
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from jarvis_diag.errors import DiagError
from jarvis_diag.folders import check_ours, fresh_folder
from jarvis_diag.simulate import SimConfig, run_simulation
from jarvis_diag.simulate.profiles import PRESETS
from jarvis_diag.tasks import stop_tasks

DEFAULT_BUG = "single-live-session"
# How long a run's server is given to finish the replies under way once the phones are done
REPLIES_FINISH_S = 15.0
# Small, fast settings: the demo must finish in well under two minutes on a laptop.
SERVER_OPTIONS: dict[str, object] = {
    "host": "127.0.0.1",
    "port": 0,
    "token": "demo-token",
    "ping_interval": 5.0,
    "ping_timeout": 5.0,
    "agent_startup": 0.3,
    "agent_pace": 0.01,
    "reload_after": 8.0,
    "reload_downtime": 1.0,
}


@dataclass
class RunOutcome:
    """One simulated run against one server."""

    label: str  # "with bug X" / "correct"
    bugs: tuple[str, ...]
    directory: Path  # holds app.log, frontend/, results.jsonl
    cycles: int = 0
    recovered: int = 0
    lost: int = 0
    duplicated: int = 0
    findings: list[dict] = field(default_factory=list)  # the timeline's findings (JSON form)
    interrupted: bool = False  # Ctrl-C stopped the run

    @property
    def healthy(self) -> bool:
        return self.cycles > 0 and self.recovered == self.cycles and not (self.lost or self.duplicated)


@dataclass
class DemoOutcome:
    runs: list[RunOutcome]
    report: object  # jarvis_diag.report.Report: correct run vs the run with the bug
    report_html: Path
    report_md: Path


# What a bug needs to show, both runs alike: (server options, phones' settings). Four phones with
# two chats each of their own show none of these: `demo --bug single-owner`, `history-window` and
# `reload` printed both servers recovering every cycle, with no finding.
# (made on their first attach; logs cut ids to 8 characters, the join keys, so those differ)
SHARED_CHATS = ("5ea7ed01-0000-4000-8000-000000000001", "5ea7ed02-0000-4000-8000-000000000002")
BUG_SETUPS: dict[str, tuple[dict[str, object], dict[str, object]]] = {
    # a phone and a laptop on the same two chats: the one that attaches last takes the live output
    "single-owner": ({}, {"clients": 2, "existing": list(SHARED_CHATS)}),
    # pages that resume from their last seq, on one chat that all four write to: what they missed
    # is more than the one message the server replays instead
    "history-window": ({"history": 1}, {"sessions": 1, "profiles": [PRESETS["resume"]],
                                        "existing": list(SHARED_CHATS[:1])}),
    # one reload, once the phones have opened their chats and the first went to the background
    # (see _reload_when_away), that outlasts their first retries
    "reload": ({"reload_after": None, "reload_downtime": 2.0, "reload_count": 1}, {}),
    # an agent start chat:ready waits for, slow (over a second) but inside the phones' 6 s
    # deadline: at the server's 6 s every phone gave up on its first chat and ran no cycle
    "slow-start": ({"slow_start": 2.5}, {}),
}


# What a run writes in its folder (the server's logs and data, the page logs, the results)
RUN_FILES = ("app.log", "backend.log", "data", "frontend", "results.jsonl")


def sim_config(url: str, token: str, seed: int, bug: str | None = None) -> SimConfig:
    """Four phones with two chats each, twice to the background and back (as ``bug`` needs
    them: :data:`BUG_SETUPS`)."""
    settings: dict[str, object] = dict(clients=4, sessions=2, cycles=2, background_s=2.0, fault="close",
                                       profiles=[PRESETS["connmgr"]], seed=seed, deadline_s=6.0, reaction_s=0.2)
    settings.update(BUG_SETUPS.get(bug or "", ({}, {}))[1])
    return SimConfig(url=url, token=token, **settings)


def describe_phones(bug: str | None = None) -> str:
    """The phones of a demo of ``bug``, as its table's title says them."""
    cfg = sim_config("", "", 0, bug)
    shared = f"sharing {len(cfg.existing)} chat{'s' if len(cfg.existing) > 1 else ''}" if cfg.existing else \
        f"x {cfg.sessions} sessions"
    return f"{cfg.clients} clients {shared} x {cfg.cycles} background cycles"


async def _one_run(label: str, bugs: tuple[str, ...], directory: Path, seed: int,
                   on_phase: Callable[[str], None], setup_for: str | None = None) -> RunOutcome:
    from server.config import ServerConfig
    from server.runner import ServerRunner

    options = {**SERVER_OPTIONS, **BUG_SETUPS.get(setup_for or "", ({}, {}))[0]}
    config = ServerConfig.from_kwargs(**options, bugs=bugs, data_dir=directory / "data", log_dir=directory)
    runner = ServerRunner(config)
    url = await runner.start()
    outcome = RunOutcome(label, bugs, directory)
    cfg = sim_config(url, str(config.token), seed, setup_for)
    reload = asyncio.ensure_future(_reload_when_away(runner.state, cfg.clients)) if "reload" in bugs else None
    try:
        on_phase(f"{label}: simulating phones against {url}")
        result = await run_simulation(cfg, directory,
                                      on_record=lambda r: on_phase(f"{label}: client {r['client']} "
                                                                   f"cycle {r['cycle']} done"))
        if not result.interrupted:
            await replies_finished(runner.state.chat, REPLIES_FINISH_S)
    finally:
        if reload is not None:
            await stop_tasks([reload])
        await runner.stop()
    if result.interrupted:  # Ctrl-C: the server is stopped; the caller stops the whole demo, outside the
        outcome.interrupted = True  # event loop (raised in this task, it was also logged with a traceback
        return outcome  # as a task exception never retrieved)
    records = result.records
    outcome.cycles = len(records)
    outcome.recovered = sum(1 for r in records if r.get("recovered"))
    outcome.lost = sum(int(r.get("lost") or 0) for r in records)
    outcome.duplicated = sum(int(r.get("duplicated") or 0) for r in records)
    return outcome


async def _reload_when_away(state, phones: int) -> None:
    """The reload bug's reload, as the file change that causes it comes in the field: while
    the phones are away. Once every phone has a socket with its chats attached, it comes as
    soon as one of those sockets closes (its phone went to the background). A reload timed
    from the server's start came while the phones were still opening their chats on a busy
    machine, and they then recovered every cycle."""
    from server.app import simulate_reload

    def attached() -> int:
        return sum(1 for sock in state.chat.sockets.values() if sock.sessions)

    while attached() < phones:
        await asyncio.sleep(0.02)
    while attached() >= phones:
        await asyncio.sleep(0.005)
    await simulate_reload(state)


async def replies_finished(chat, within_s: float) -> bool:
    """Wait (``within_s`` at most) for the server's agents to finish the replies under way:
    a server stopped while one is written logs a reply cut off by its shutdown, which the demo
    would then report against it (a critical server-restart finding in one run of four)."""
    loop = asyncio.get_running_loop()
    until = loop.time() + within_s
    while chat.answering():
        if loop.time() >= until:
            return False
        await asyncio.sleep(0.05)
    return True


def _diagnose(run: RunOutcome) -> None:
    from jarvis_diag.timeline import load_timeline

    timeline = load_timeline([str(run.directory / "app.log"), str(run.directory / "frontend")])
    run.findings = timeline.to_json_dict()["findings"]


REPORT_FILES = ("report.html", "report.md")
REPORT_TITLE = "Reconnect recovery: server with "  # (how a demo's report begins: the mark it wrote it)


def _check_report_ours(path: Path) -> None:
    """DiagError when ``path`` is there and is not a report a demo wrote (its title)."""
    if not path.exists() and not path.is_symlink():
        return
    head = ""
    if path.is_file() and not path.is_symlink():
        try:
            with path.open("rb") as fh:
                head = fh.read(4096).decode("utf-8", errors="replace")
        except OSError as exc:
            raise DiagError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if REPORT_TITLE not in head:
        raise DiagError(f"{path}: this command did not write it and would replace it with its report; move it, "
                        "or give another folder")


def run_demo(out_dir: str | Path = "jarvis-diag-demo", bug: str = DEFAULT_BUG, seed: int = 7,
             on_phase: Callable[[str], None] = lambda text: None, done: list[str] | None = None) -> DemoOutcome:
    """Reproduce ``bug`` and its absence, diagnose both, write the comparison report.
    ``done``: each run's folder name is appended once it is in place (what an interrupted
    demo has changed)."""
    from jarvis_diag.report import make_report, to_html, to_markdown

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plan = ((f"with bug {bug}", (bug,), "with-bug"), ("correct", (), "correct"))
    for _label, _bugs, name in plan:  # (before a run replaces the last demo's: only what a demo wrote)
        check_ours(out / name, RUN_FILES)
    for name in REPORT_FILES:  # (a report.md of the user's own in the folder was replaced without a word)
        _check_report_ours(out / name)
    runs: list[RunOutcome] = []
    for label, bugs, name in plan:
        # (written beside the last demo's run, which an interrupted run leaves as it was)
        with fresh_folder(out / name) as part:
            runs.append(asyncio.run(_one_run(label, bugs, part, seed, on_phase, setup_for=bug)))
            if runs[-1].interrupted:
                raise KeyboardInterrupt
        runs[-1].directory = out / name
        if done is not None:
            done.append(name)
        on_phase(f"{label}: building the timeline")
        _diagnose(runs[-1])
    on_phase("writing the report")
    # each run's folder: its phones' results and the logs both sides wrote, whose findings
    # (the bug named, as the terminal shows it) the report compares too
    report = make_report([str(runs[1].directory)], compare=[str(runs[0].directory)],
                         title=f"{REPORT_TITLE}{bug} (baseline) vs correct server")
    html_path, md_path = out / "report.html", out / "report.md"
    html_path.write_text(to_html(report), encoding="utf-8")
    md_path.write_text(to_markdown(report), encoding="utf-8")
    return DemoOutcome(runs, report, html_path, md_path)

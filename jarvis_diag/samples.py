"""Sample incident sets made by our own tools: the reference server with a bug, simulated
phones against it, and the logs both sides wrote.

Each set is a folder with ``app.log`` (backend, local time of ``LOG_TZ``), ``frontend/*.log``
(phone clocks skewed by a few hundred ms), ``results.jsonl`` (what the simulator measured),
a ``README.md`` (what happened, what to look for) and ``expected.json``: the findings
``jarvis-diag timeline`` must name, each with its session, client and delay within a
tolerance. The expectations come from the scenario itself (what was done to whom, and
when), never from the timeline's own output.

``make samples`` (``jarvis-diag samples sample_logs --seed 7``) regenerates them.
"""

from __future__ import annotations

import json
import shlex
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from jarvis_diag.folders import check_ours, fresh_folder
from jarvis_diag.simulate.profiles import PRESETS
from jarvis_diag.simulate.scenario import SimConfig, Step

LOG_TZ = "Asia/Shanghai"  # UTC+8: the backend writes local time with no zone, as in the field
SCHEMA = "jarvis-diag.expected/1"

# Fast agents and a short ping window so a set takes seconds, not minutes; the shapes of
# the incidents do not depend on the absolute numbers.
BASE_SERVER: dict[str, object] = {
    "host": "127.0.0.1",
    "port": 0,
    "token": "sample-token",
    "ping_interval": 3.0,
    "ping_timeout": 3.0,
    "agent_startup": 0.4,
    "agent_pace": 0.02,
    "log_tz": LOG_TZ,
}


@dataclass(frozen=True)
class Expect:
    """One finding the timeline must name. ``session`` is the index of the session the
    client opened (0, 1 ...), resolved to its id after the run."""

    kind: str
    severity: tuple[str, ...] = ("warning", "critical")
    session: int | None = None
    delay_ms: float | None = None
    tolerance_ms: float = 1500.0


@dataclass(frozen=True)
class Incident:
    name: str
    title: str
    story: str  # what happened
    look_for: str  # what to look for in the timeline
    server: dict[str, object]
    sim: dict[str, object]
    expect: tuple[Expect, ...] = ()
    recovers: bool | None = None  # whether every reconnect episode ends recovered (None: not checked)
    healthy: bool = False
    steps: tuple[Step, ...] | None = field(default=None)


def _steps(*items: tuple) -> tuple[Step, ...]:
    return tuple(Step(*item) for item in items)


INCIDENTS: tuple[Incident, ...] = (
    Incident(
        name="callback-desync-switch-back",
        title="Switching back to a chat: no output until the next message (14-42 s class)",
        story=(
            "An older frontend (profile `legacy`) opens chats A and B on one socket. The server keeps one live "
            "chat per socket (`--bug single-live-session`), so attaching B drops A's callback. The user switches "
            "back to A: the page already has a handler for A, so it sends no `chat:connect`, and believes it is "
            "attached. Nothing arrives until the user sends a message 15 s later, when the server logs "
            "`has no callback ... auto-connecting` and attaches A late. Then the phone goes to the background "
            "for a second; the page reconnects but re-sends `chat:connect` for neither chat, so A stays detached "
            "until a message auto-connects it, and each auto-connect cuts the other chat's live output."
        ),
        look_for=(
            "A `callback-desync` finding on session A with a delay of about 15 s: the gap between the switch "
            "back (frontend `connectChat ... already connected` / `handler EXISTS`, no `send EMIT: chat:connect`) "
            "and the backend's `has no callback` warning. After the reconnect: `missing-resubscribe` for A and "
            "`single-live-session` (a reply cut off when the socket's one callback moved to the other chat)."
        ),
        server={"bugs": ("single-live-session",)},
        sim={"profiles": ["legacy"], "sessions": 2, "background_s": 1.0, "fault": "close", "deadline_s": 8.0},
        steps=_steps(("connect",), ("open",), ("open",), ("switch", 0), ("wait", None, 15.0), ("send", 0),
                     ("wait", None, 2.0), ("background", None, 1.0, "close")),
        expect=(Expect("callback-desync", session=0, delay_ms=15000.0, tolerance_ms=2000.0),
                Expect("missing-resubscribe", session=0), Expect("single-live-session")),
        recovers=False,
    ),
    Incident(
        name="reload-during-open",
        title="A dev-server auto-reload during a session open (the 3.3 s class)",
        story=(
            "The backend runs with auto-reload (`--bug reload`): a file change makes watchfiles restart it. "
            "A phone opens a chat just as the reload starts: every socket is dropped and connections are refused "
            "for about 3 s, so the open completes only after the server is back."
        ),
        look_for=(
            "A `server-reload` finding: `watchfiles.main - 1 change detected`, the connections it cut, and the "
            "time until the phone's sessions were ready again (about 3.3 s)."
        ),
        # (one reload: a run that ended during a later one left the phone reconnecting)
        server={"bugs": ("reload",), "reload_after": 2.0, "reload_downtime": 3.0, "reload_count": 1},
        sim={"profiles": ["connmgr"], "sessions": 1, "background_s": 1.0, "fault": "close", "deadline_s": 10.0},
        steps=_steps(("connect",), ("wait", None, 1.9), ("open",), ("wait", None, 5.0),
                     ("background", None, 1.0, "close")),
        expect=(Expect("server-reload", delay_ms=3300.0, tolerance_ms=1500.0),),
        recovers=True,
    ),
    Incident(
        name="legacy-frozen-past-ping",
        title="Phones frozen past the ping window with the legacy client: chats silent until the user types",
        story=(
            "Three phones, each with one chat: the page is suspended in the background (`freeze`: no bytes "
            "either way, no FIN/RST) for longer than the server's ping window (interval 3 s + timeout 3 s here; 25 s + 60 s in production). The "
            "server drops the socket on ping timeout while the phone still believes it is connected. When the "
            "page wakes, Socket.IO's own reconnection brings a new socket, but the legacy page sends no "
            "`chat:connect` for chats it already has handlers for: the server has no callback, and the chat "
            "stays silent until the user's next message auto-connects it."
        ),
        look_for=(
            "A `half-open` finding (the server closed the socket at its ping timeout; the phone found out only "
            "when it woke, seconds later), then `missing-resubscribe`: the new socket was not re-attached and the "
            "server attached the session only when a message arrived (`has no callback ... auto-connecting`)."
        ),
        server={},
        sim={"profiles": ["legacy"], "clients": 3, "sessions": 1, "background_s": 20.0,
             "fault": "freeze", "deadline_s": 8.0, "stagger_s": 1.0},
        expect=(Expect("half-open"), Expect("missing-resubscribe", session=0)),
        recovers=False,
    ),
    Incident(
        name="connmgr-frozen-past-ping",
        title="The same freeze with the ConnectionManager client: recovers",
        story=(
            "The same freeze past the ping window for three phones with two chats each, with the newer frontend "
            "(`connmgr`): it suspends while hidden, drops the stale socket when visible, reconnects at once and re-sends `chat:connect` for "
            "every chat. The server still needed its ping timeout to notice the dead socket, but the user does "
            "not wait for it."
        ),
        look_for=(
            "No warning or critical finding: a reconnect episode that starts at `Page hidden`, in which the "
            "server drops the socket at its ping timeout, and that ends with every session ready again within "
            "a few hundred ms of `Page visible` (`Force disconnecting stale socket`, `Re-sending 2 subscriptions`)."
        ),
        server={},
        sim={"profiles": ["connmgr"], "clients": 3, "sessions": 2, "background_s": 20.0,
             "fault": "freeze", "deadline_s": 8.0, "stagger_s": 1.0},
        recovers=True,
    ),
    Incident(
        name="single-live-session",
        title="Two sessions re-attached on one socket, only one live",
        story=(
            "A phone with two open chats loses its connection and reconnects (`connmgr`, which re-sends "
            "`chat:connect` for both). The server keeps one live chat per socket (`--bug single-live-session`): "
            "attaching the second drops the first one's callback, so the first chat gets no live output. The "
            "page believes both are attached; each message the user sends auto-connects its chat and drops the "
            "other's callback in turn."
        ),
        look_for=(
            "A `single-live-session` finding on the first session: re-attached, then silent while the server's "
            "`Switched session` line moved the socket's only callback to the second; `callback-desync` findings "
            "where a message found its chat without a callback (`has no callback ... auto-connecting`)."
        ),
        server={"bugs": ("single-live-session",)},
        sim={"profiles": ["connmgr"], "sessions": 2, "background_s": 2.0, "fault": "close", "deadline_s": 6.0},
        expect=(Expect("single-live-session", session=0), Expect("callback-desync")),
    ),
    Incident(
        name="healthy-day",
        title="A healthy day: every reconnect recovers",
        story=(
            "Three phones with two chats each, on a correct server, go to the background three times "
            "(clean close, network loss, freeze shorter than the ping window) and come back."
        ),
        look_for="No warning or critical finding; reconnect episodes that all end recovered.",
        server={},
        sim={"profiles": ["connmgr", "resume"], "clients": 3, "sessions": 2, "background_s": 2.0,
             "fault": "close", "deadline_s": 8.0},
        steps=_steps(("connect",), ("open",), ("open",), ("send",), ("background", None, 2.0, "close"),
                     ("send",), ("background", None, 2.0, "offline"), ("send",),
                     ("background", None, 2.0, "freeze")),
        recovers=True,
        healthy=True,
    ),
)

INCIDENTS_BY_NAME = {i.name: i for i in INCIDENTS}


# the phones' settings no command-line flag gives: in every set's scenario.toml
REACTION_S = 0.3
CLOCK_SKEW_MS = (-400.0, 400.0)


def sim_config(incident: Incident, url: str, token: str, seed: int) -> SimConfig:
    options = dict(incident.sim)
    profiles = [PRESETS[name] for name in options.pop("profiles", ["connmgr"])]
    cfg = SimConfig(url=url, token=token, profiles=profiles, seed=seed, reaction_s=REACTION_S,
                    clock_skew_ms=CLOCK_SKEW_MS, **options)
    if incident.steps is not None:
        cfg.steps = list(incident.steps)
    return cfg


def expected_findings(incident: Incident, records: list[dict]) -> list[dict]:
    """The findings of ``incident`` with the ids the run gave its sessions and clients."""
    out = []
    for exp in incident.expect:
        for rec in _first_cycle_per_client(records):
            sessions = rec.get("sessions") or []
            session = None
            if exp.session is not None:
                if exp.session >= len(sessions):
                    continue
                session = sessions[exp.session]["session"]
            out.append({"kind": exp.kind, "severity": list(exp.severity), "client": rec["client_id"],
                        "session": session, "delay_ms": exp.delay_ms, "tolerance_ms": exp.tolerance_ms})
    return out


def _first_cycle_per_client(records: list[dict]) -> list[dict]:
    seen: dict[int, dict] = {}
    for rec in records:
        seen.setdefault(rec["client"], rec)
    return [seen[k] for k in sorted(seen)]


def readme_text(incident: Incident, expected: list[dict], folder: str | None = None) -> str:
    """The set's README; ``folder``: the set's folder as `samples` was given it (default
    ``sample_logs/<name>``), which its commands name, from where `samples` ran."""
    folder = folder or f"sample_logs/{incident.name}"
    lines = [f"# {incident.title}", "", "## What happened", incident.story, "", "## What to look for",
             incident.look_for, "", "## Try it", "```", f"jarvis-diag timeline {shlex.quote(folder)}", "```",
             "", "## How it was made",
             f"`jarvis-diag samples` ran the reference server as below (on a free port; app.log in local time "
             f"of {LOG_TZ}, no zone written) and simulated phones (profile "
             f"{', '.join(incident.sim.get('profiles', ['connmgr']))}) whose clocks run a few hundred ms off.",
             "`expected.json` lists the findings the timeline must name; "
             + ("none may be a warning or worse." if incident.healthy else f"{len(expected)} of them."), "",
             "## Make it again by hand",
             "`scenario.toml` holds the phones' settings and steps. From the folder `jarvis-diag samples` ran in, "
             "against the reference server, in two terminals (the phones run against any Jarvis server: give its "
             "URL and token), then the timeline of both sides once the phones are done:",
             "```", serve_command(incident), simulate_command(f"{folder}/scenario.toml"), TIMELINE_BY_HAND, "```",
             f"(`simulate-mobile` exits 1 when a phone does not recover; a second run wants other folders than "
             f"{BY_HAND_SERVER}/ and {BY_HAND_SIM}/, or the timeline reads both runs)", ""]
    return "\n".join(lines)


def scenario_text(incident: Incident, seed: int) -> str:
    """The set's phones as a scenario file (``simulate-mobile --scenario``, docs/formats.md):
    what :func:`sim_config` gives them, so that the same phones run against any server."""
    sim = incident.sim
    profiles = list(sim.get("profiles", ["connmgr"]))
    lines = [f"# the phones of sample set {incident.name}: jarvis-diag simulate-mobile URL --token TOKEN "
             "--scenario scenario.toml", f"seed = {seed}"]
    for key in ("clients", "sessions"):
        if key in sim:
            lines.append(f"{key} = {int(sim[key])}")  # type: ignore[call-overload]
    for key in ("background", "deadline", "stagger"):
        if f"{key}_s" in sim:
            lines.append(f'{key} = "{_seconds(sim[f"{key}_s"])}"')
    lines += [f'fault = "{sim["fault"]}"', "profile = " + (f'"{profiles[0]}"' if len(profiles) == 1 else
                                                          "[" + ", ".join(f'"{p}"' for p in profiles) + "]"),
              f'reaction = "{_seconds(REACTION_S)}"',
              f"clock_skew_ms = [{_number(CLOCK_SKEW_MS[0])}, {_number(CLOCK_SKEW_MS[1])}]"]
    for step in incident.steps or ():
        lines += ["", "[[steps]]", f'action = "{step.action}"']
        if step.session is not None:
            lines.append(f"session = {step.session}" if isinstance(step.session, int) else
                         f"session = {json.dumps(step.session)}")
        if step.action in ("wait", "background"):
            lines.append(f'for = "{_seconds(step.for_s)}"')
        if step.fault is not None:
            lines.append(f'fault = "{step.fault}"')
        if step.content is not None:
            lines.append(f"content = {json.dumps(step.content)}")
    return "\n".join(lines) + "\n"


# where the commands by hand put the server's data and logs, and the phones' results and logs
BY_HAND_SERVER = "repro-server"
BY_HAND_SIM = "repro-sim"


def serve_command(incident: Incident, port: int = 38010, token: str = "secret") -> str:
    """``jarvis-diag serve`` as the set's server ran: its bugs, reloads and ping window (the
    log's zone aside), its data and logs in a folder of their own."""
    args = ["jarvis-diag", "serve", "--port", str(port), "--token", token, "--data-dir", BY_HAND_SERVER]
    for bug in incident.server.get("bugs", ()):
        args += ["--bug", str(bug)]
    settings = {**BASE_SERVER, **incident.server}
    for key in ("reload_after", "reload_count", "ping_interval", "ping_timeout"):
        if settings.get(key) is not None:
            args += [f"--{key.replace('_', '-')}", _number(settings[key])]
    return shlex.join(args)


def simulate_command(scenario: str, port: int = 38010, token: str = "secret") -> str:
    """``jarvis-diag simulate-mobile`` with a set's ``scenario`` file, against ``serve_command``'s server."""
    return shlex.join(["jarvis-diag", "simulate-mobile", f"http://127.0.0.1:{port}", "--token", token,
                       "--scenario", scenario, "--out", BY_HAND_SIM])


# reads what the two commands by hand wrote
TIMELINE_BY_HAND = f"jarvis-diag timeline {BY_HAND_SERVER}/logs/app.log {BY_HAND_SIM}/frontend"


def _number(value: object) -> str:
    """2.0 as 2, 0.5 as 0.5."""
    number = float(value)  # type: ignore[arg-type]
    return str(int(number)) if number.is_integer() else str(number)


def _seconds(value: object) -> str:
    return f"{_number(value)}s"


async def _run(incident: Incident, folder: Path, seed: int, on_phase: Callable[[str], None]) -> list[dict]:
    from jarvis_diag.simulate.run import run_simulation
    from server.config import ServerConfig
    from server.runner import ServerRunner

    work = folder / ".work"
    config = ServerConfig.from_kwargs(**{**BASE_SERVER, **incident.server}, data_dir=work / "data", log_dir=folder)
    runner = ServerRunner(config)
    url = await runner.start()
    try:
        on_phase(f"{incident.name}: simulating against {url}")
        result = await run_simulation(sim_config(incident, url, str(config.token), seed), folder,
                                      on_record=lambda r: on_phase(f"{incident.name}: cycle {r['cycle']} of "
                                                                   f"client {r['client']} measured"))
    finally:
        await runner.stop()
    shutil.rmtree(work, ignore_errors=True)
    (folder / "backend.log").unlink(missing_ok=True)  # the captured console adds nothing to app.log here
    return result.records


def generate(out_dir: str | Path, names: list[str] | None = None, seed: int = 7,
             on_phase: Callable[[str], None] = lambda text: None) -> list[Path]:
    """Write the sample sets (all, or those named) under ``out_dir``; return their folders."""
    # (each set once, however often it is named)
    chosen = [INCIDENTS_BY_NAME[n] for n in dict.fromkeys(names)] if names else list(INCIDENTS)
    for incident in chosen:  # (before a set replaces one made before: only what a set holds)
        check_ours(Path(out_dir) / incident.name, SET_FILES)
    import asyncio  # (here: the timeline's view reads the sets' definitions, and runs none)

    folders = []
    for incident in chosen:
        folder = Path(out_dir) / incident.name
        # (written beside the set made before, which a failed or interrupted run leaves as it was)
        with fresh_folder(folder) as part:
            records = asyncio.run(_run(incident, part, seed, on_phase))
            expected = expected_findings(incident, records)
            clients = [{"client": r["client_id"], "profile": r["profile"], "recovers": incident.recovers}
                       for r in _first_cycle_per_client(records)]
            doc = {"schema": SCHEMA, "incident": incident.name, "title": incident.title,
                   "healthy": incident.healthy, "backend_tz": LOG_TZ, "findings": expected, "clients": clients}
            (part / "expected.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
            (part / "README.md").write_text(readme_text(incident, expected, str(folder)), encoding="utf-8")
            (part / "scenario.toml").write_text(scenario_text(incident, seed), encoding="utf-8")
        folders.append(folder)
    return folders


# What a sample set holds (and, while it is made, the server's data and captured console)
SET_FILES = ("README.md", "app.log", "expected.json", "frontend", "results.jsonl", "scenario.toml", ".work",
             "backend.log")


def check_timeline(expected_doc: dict, timeline_doc: dict) -> list[str]:
    """What is wrong with a timeline (its ``--format json`` document) against ``expected.json``;
    [] when right. Findings as :func:`check_findings`; then every client the set expects to
    recover has reconnect episodes that all ended recovered, and every client expected not to
    has at least one that did not."""
    problems = check_findings(expected_doc, timeline_doc.get("findings", []))
    for client in expected_doc.get("clients", []):
        if client.get("recovers") is None:
            continue
        episodes = [e for e in timeline_doc.get("episodes", []) if e.get("client") == client["client"]]
        if not episodes:
            problems.append(f"no reconnect episode for client {client['client']}")
        elif client["recovers"] and not all(e["recovered"] for e in episodes):
            bad = next(e for e in episodes if not e["recovered"])
            problems.append(f"client {client['client']}: episode at {bad['started_at']} not recovered")
        elif not client["recovers"] and all(e["recovered"] for e in episodes):
            problems.append(f"client {client['client']}: every episode recovered, expected a failure")
    return problems


def check_findings(expected_doc: dict, findings: list[dict]) -> list[str]:
    """What is wrong with ``findings`` (timeline JSON) against ``expected.json``; [] when right.

    Every expected finding must be named (kind, severity, client, session prefix, delay within
    its tolerance), and no warning or critical finding may be one that was not expected."""
    problems = []
    serious = [f for f in findings if f.get("severity") in ("warning", "critical")]
    for exp in expected_doc["findings"]:
        if not any(_matches(exp, f) for f in findings):
            problems.append(f"missing: {exp['kind']} for client {exp['client']} session {exp['session']} "
                            f"delay {exp['delay_ms']}")
    expected_kinds = {e["kind"] for e in expected_doc["findings"]}
    for f in serious:
        if f["kind"] not in expected_kinds:
            problems.append(f"unexpected {f['severity']} {f['kind']}: {f['summary']}")
    return problems


def _matches(exp: dict, f: dict) -> bool:
    if f.get("kind") != exp["kind"] or f.get("severity") not in exp["severity"]:
        return False
    if exp.get("client") and f.get("client") not in (None, exp["client"]):
        return False
    if exp.get("session"):
        if not f.get("session") or not exp["session"].startswith(f["session"][:8]):
            return False
    if exp.get("delay_ms") is not None:
        if f.get("delay_ms") is None or abs(f["delay_ms"] - exp["delay_ms"]) > exp["tolerance_ms"]:
            return False
    return True

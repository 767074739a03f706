"""What a simulation run does: its settings and each page's script, from options or TOML.

A scenario file (TOML) holds the same settings as the command's options, plus custom
profiles, network shapes and the page's steps::

    seed = 7
    clients = 4
    sessions = 2
    cycles = 3
    profile = ["legacy", "connmgr"]     # one name, or a list given out round-robin
    network = "3g"
    deadline = "20s"
    time_scale = 1.0                    # multiplies every reconnect delay of the profiles
    clock_skew_ms = [-400, 400]         # each phone's clock is off by a seeded amount in this range

    [profiles.impatient]                # a custom profile: a preset plus overrides
    base = "connmgr"
    base_delay_ms = 500
    max_attempts = 5

    [networks.edge]
    latency_ms = 300
    jitter_ms = 100
    bandwidth_kbps = 200

    [[steps]]                           # once: connect and open the sessions
    action = "connect"
    [[steps]]
    action = "open"                     # a new session; `session = "<uuid>"` opens an existing one
    [[steps]]
    action = "open"
    [[steps]]                           # from the first `background` on: repeated `cycles` times
    action = "send"                     # every session, or `session = 0`
    [[steps]]
    action = "switch"
    session = 0
    [[steps]]
    action = "background"
    for = "30s"
    fault = "freeze"

The leading ``connect`` / ``open`` steps (and waits between them) run once; every step after them is the cycle,
repeated ``cycles`` times. Each ``background`` step yields one verdict record per client.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from jarvis_diag.simulate.faults import FAULTS, parse_duration
from jarvis_diag.simulate.network import SHAPES, NetworkShape, shape_from_dict
from jarvis_diag.simulate.profiles import PRESETS, Profile, profile_from_dict

ACTIONS = ("connect", "open", "switch", "send", "wait", "background")
SETUP_ACTIONS = ("connect", "open")
LIMITS = {"clients": 50_000, "sessions": 50, "cycles": 10_000}


@dataclass(frozen=True, slots=True)
class Step:
    action: str
    session: int | str | None = None  # index of an opened session, or (open) an existing id
    for_s: float = 0.0
    fault: str | None = None
    content: str | None = None


@dataclass
class SimConfig:
    url: str = ""
    token: str = ""
    clients: int = 1
    sessions: int = 1
    cycles: int = 1
    background_s: float = 30.0
    fault: str = "freeze"
    profiles: list[Profile] = field(default_factory=lambda: [PRESETS["connmgr"]])
    network: NetworkShape = field(default_factory=lambda: SHAPES["good"])
    seed: int = 0
    deadline_s: float = 30.0
    reaction_s: float = 0.5  # the user looks at the page before typing after coming back
    time_scale: float = 1.0
    working_dir: str = "/tmp"
    existing: list[str] = field(default_factory=list)  # session ids to open instead of new ones
    connect_timeout_s: float = 10.0
    ramp: int = 200  # clients connecting at the same time at start
    flaky_mean_gap_s: float = 2.0
    stagger_s: float = 0.0  # each page starts its cycles after a random 0..stagger_s (users do not wake at once)
    clock_skew_ms: tuple[float, float] = (0.0, 0.0)  # each phone's clock runs off by a seeded amount in this range
    steps: list[Step] | None = None  # None: the default script
    profile_table: dict[str, Profile] = field(default_factory=lambda: dict(PRESETS))  # names usable here
    network_table: dict[str, NetworkShape] = field(default_factory=lambda: dict(SHAPES))

    def validate(self) -> None:
        for name, limit in LIMITS.items():
            value = getattr(self, name)
            if not 1 <= value <= limit:
                raise ValueError(f"--{name} must be between 1 and {limit}, not {value}")
        if self.fault not in FAULTS:
            raise ValueError(f"unknown fault {self.fault!r} (one of {', '.join(FAULTS)})")
        if self.deadline_s <= 0:
            raise ValueError("the deadline must be > 0")
        if self.time_scale <= 0:
            raise ValueError("time_scale must be > 0")
        if not self.profiles:
            raise ValueError("no client profile")
        lo, hi = self.clock_skew_ms
        if lo > hi or max(abs(lo), abs(hi)) > 3_600_000:
            raise ValueError("clock_skew_ms must be [low, high] with low <= high, within an hour")

    def profile_for(self, client: int) -> Profile:
        return self.profiles[client % len(self.profiles)].scaled(self.time_scale)

    def script(self) -> tuple[list[Step], list[Step]]:
        """(setup steps, cycle steps) of each page."""
        if self.steps is not None:
            return split_steps(self.steps)
        setup = [Step("connect")]
        for k in range(self.sessions):
            existing = self.existing[k] if k < len(self.existing) else None
            setup.append(Step("open", session=existing))
        return setup, [Step("send"), Step("background", for_s=self.background_s, fault=self.fault)]


def split_steps(steps: list[Step]) -> tuple[list[Step], list[Step]]:
    """(setup, cycle): the leading connect/open steps (with any waits between them) run once."""
    i = end = 0
    while i < len(steps) and steps[i].action in (*SETUP_ACTIONS, "wait"):
        i += 1
        if steps[i - 1].action in SETUP_ACTIONS:
            end = i
    setup, cycle = steps[:end], steps[end:]
    if not setup or setup[0].action != "connect":
        setup.insert(0, Step("connect"))
    if not any(s.action == "background" for s in cycle):
        raise ValueError("the scenario has no `background` step after its connect/open steps")
    if any(s.action in SETUP_ACTIONS for s in cycle):
        raise ValueError("`connect` and `open` steps must come before the others")
    return setup, cycle


def _step(raw: dict[str, Any], n: int, default_fault: str) -> Step:
    action = raw.get("action")
    if action not in ACTIONS:
        raise ValueError(f"step {n}: action must be one of {', '.join(ACTIONS)}, not {action!r}")
    unknown = set(raw) - {"action", "session", "for", "fault", "content"}
    if unknown:
        raise ValueError(f"step {n}: unknown keys {', '.join(sorted(unknown))}")
    fault = raw.get("fault", default_fault if action == "background" else None)
    if fault is not None and fault not in FAULTS:
        raise ValueError(f"step {n}: unknown fault {fault!r} (one of {', '.join(FAULTS)})")
    session = raw.get("session")
    if session is not None and not isinstance(session, int | str):
        raise ValueError(f"step {n}: session must be an index or an id")
    for_s = parse_duration(raw["for"]) if "for" in raw else 0.0
    if action in ("background", "wait") and "for" not in raw:
        raise ValueError(f"step {n}: `{action}` needs `for` (e.g. for = \"30s\")")
    return Step(action, session=session, for_s=for_s, fault=fault, content=raw.get("content"))


_SCALARS = {"clients": int, "sessions": int, "cycles": int, "seed": int, "fault": str, "working_dir": str,
            "ramp": int, "time_scale": float}
_DURATIONS = {"background": "background_s", "deadline": "deadline_s", "reaction": "reaction_s",
              "connect_timeout": "connect_timeout_s", "flaky_mean_gap": "flaky_mean_gap_s",
              "stagger": "stagger_s"}


def load_scenario(path: Path, base: SimConfig | None = None) -> SimConfig:
    """Read a scenario file over ``base``; raises ValueError with a one-line reason."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read scenario {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"scenario {path} is not valid TOML: {exc}") from None
    return scenario_from_dict(data, base)


def scenario_from_dict(data: dict[str, Any], base: SimConfig | None = None) -> SimConfig:
    cfg = replace(base) if base is not None else SimConfig()
    known = set(_SCALARS) | set(_DURATIONS) | {"profile", "network", "profiles", "networks", "steps",
                                                "existing", "url", "token", "clock_skew_ms"}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"scenario: unknown keys {', '.join(sorted(unknown))}")
    for key, typ in _SCALARS.items():
        if key in data:
            try:
                setattr(cfg, key, typ(data[key]))
            except (TypeError, ValueError):
                raise ValueError(f"scenario: {key} must be a {typ.__name__}") from None
    for key, attr in _DURATIONS.items():
        if key in data:
            setattr(cfg, attr, parse_duration(data[key]))
    if "clock_skew_ms" in data:
        skew = data["clock_skew_ms"]
        if (not isinstance(skew, list) or len(skew) != 2
                or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in skew)):
            raise ValueError("scenario: clock_skew_ms must be [low, high] in milliseconds")
        cfg.clock_skew_ms = (float(skew[0]), float(skew[1]))
    for key in ("url", "token"):
        if key in data and not getattr(cfg, key):
            setattr(cfg, key, str(data[key]))
    profiles = dict(cfg.profile_table)
    for name, spec in (data.get("profiles") or {}).items():
        if not isinstance(spec, dict):
            raise ValueError(f"scenario: [profiles.{name}] must be a table")
        try:
            profiles[name] = profile_from_dict(name, spec)
        except TypeError as exc:
            raise ValueError(f"scenario: profile {name}: {exc}") from None
    networks = dict(cfg.network_table)
    for name, spec in (data.get("networks") or {}).items():
        if not isinstance(spec, dict):
            raise ValueError(f"scenario: [networks.{name}] must be a table")
        networks[name] = shape_from_dict(name, spec)
    if "profile" in data:
        names = data["profile"] if isinstance(data["profile"], list) else [data["profile"]]
        cfg.profiles = [_pick(profiles, str(n), "profile") for n in names]
    if "network" in data:
        cfg.network = _pick(networks, str(data["network"]), "network")
    if "existing" in data:
        cfg.existing = [str(x) for x in data["existing"]]
    if "steps" in data:
        raw_steps = data["steps"]
        if not isinstance(raw_steps, list) or not all(isinstance(s, dict) for s in raw_steps):
            raise ValueError("scenario: steps must be an array of tables ([[steps]])")
        cfg.steps = [_step(s, i + 1, cfg.fault) for i, s in enumerate(raw_steps)]
        split_steps(cfg.steps)
    cfg.profile_table, cfg.network_table = profiles, networks
    return cfg


def _pick(table: dict[str, Any], name: str, what: str):
    if name not in table:
        raise ValueError(f"unknown {what} {name!r} (one of {', '.join(table)})")
    return table[name]

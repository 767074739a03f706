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

    [profiles.impatient]                # a custom profile: a preset plus overrides (a table named
    base = "connmgr"                    # after a preset, [profiles.legacy], changes that preset)
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
from jarvis_diag.simulate.profiles import PRESETS, PROFILE_KEYS, Profile, profile_from_dict

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
            raise ValueError(f"--deadline {self.deadline_s:g}s: must be > 0")
        if not 0 < self.time_scale < float("inf"):  # (NaN too)
            raise ValueError(f"--time-scale {self.time_scale:g}: must be > 0 and finite")
        if not self.profiles:
            raise ValueError("no client profile")
        if any(not x.strip() for x in self.existing):  # (a server would answer chat:error, or make one)
            raise ValueError("--existing: a session id must not be empty")
        lo, hi = self.clock_skew_ms
        if lo > hi or max(abs(lo), abs(hi)) > 3_600_000:
            raise ValueError("clock_skew_ms must be [low, high] with low <= high, within an hour")
        if self.steps is not None:
            check_sessions(self.steps)

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


def check_sessions(steps: list[Step]) -> None:
    """Each `switch` / `send` names a session the page has opened by then (their index, from 0):
    said before anything connects, not as a failed cycle."""
    setup, _ = split_steps(steps)
    opened = sum(1 for s in setup if s.action == "open")
    for n, step in enumerate(steps, 1):
        if step.action in ("switch", "send") and step.session is not None:
            if not isinstance(step.session, int) or not 0 <= step.session < opened:
                have = f"sessions 0..{opened - 1}" if opened else "no session"
                raise ValueError(f"[[steps]] {n}: `{step.action}` session = {step.session!r}, but the steps "
                                 f"before the cycle open {have}")


def _step(raw: dict[str, Any], n: int, default_fault: str) -> Step:
    where = f"[[steps]] {n}"
    action = raw.get("action")
    if action not in ACTIONS:
        raise ValueError(f"{where}: action must be one of {', '.join(ACTIONS)}, not {_shown(action)}")
    unknown = set(raw) - {"action", "session", "for", "fault", "content"}
    if unknown:
        raise ValueError(f"{where}: unknown keys {', '.join(sorted(unknown))}")
    fault = _typed(raw["fault"], "string", f"{where} fault") if "fault" in raw else None
    fault = fault or (default_fault if action == "background" else None)
    if fault is not None and fault not in FAULTS:
        raise ValueError(f"{where}: unknown fault {fault!r} (one of {', '.join(FAULTS)})")
    session = raw.get("session")
    if session is not None and (isinstance(session, bool) or not isinstance(session, int | str)):
        raise ValueError(f"{where} session must be an integer (the index of an opened session) or a "
                         f"string (an id to open), not {_shown(session)}")
    for_s = _duration(raw["for"], f"{where} for") if "for" in raw else 0.0
    if action in ("background", "wait") and "for" not in raw:
        raise ValueError(f"{where}: `{action}` needs `for` (e.g. for = \"30s\")")
    content = _typed(raw["content"], "string", f"{where} content") if "content" in raw else None
    return Step(action, session=session, for_s=for_s, fault=fault, content=content)


_SCALARS = {"clients": "integer", "sessions": "integer", "cycles": "integer", "seed": "integer", "fault": "string",
            "working_dir": "string", "ramp": "integer", "time_scale": "number"}
_DURATIONS = {"background": "background_s", "deadline": "deadline_s", "reaction": "reaction_s",
              "connect_timeout": "connect_timeout_s", "flaky_mean_gap": "flaky_mean_gap_s",
              "stagger": "stagger_s"}
_KINDS = {"integer": (int,), "number": (int, float), "string": (str,), "boolean": (bool,)}
_PROFILE_KINDS = {key: {bool: "boolean", int: "integer", float: "number", str: "string"}[
    type(getattr(PRESETS["connmgr"], key))] for key in PROFILE_KEYS}
_NETWORK_KINDS = {"latency_ms": "number", "jitter_ms": "number", "bandwidth_kbps": "number",
                  "stall_probability": "number"}


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _typed(value: Any, kind: str, where: str) -> Any:
    """``value`` when it is of the TOML ``kind``; else a ValueError naming ``where`` and the kind."""
    ok = isinstance(value, _KINDS[kind]) and (kind == "boolean" or not isinstance(value, bool))
    if not ok:
        article = "an" if kind == "integer" else "a"
        raise ValueError(f"{where} must be {article} {kind}, not {_shown(value)}")
    return float(value) if kind == "number" else value


def _duration(value: Any, where: str) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


def _pair(value: Any, where: str, unit: str) -> tuple[float, float]:
    if (not isinstance(value, list) or len(value) != 2
            or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in value)):
        raise ValueError(f"{where} must be [low, high] in {unit}, not {_shown(value)}")
    return float(value[0]), float(value[1])


def load_scenario(path: Path, base: SimConfig | None = None) -> SimConfig:
    """Read a scenario file over ``base``; raises ValueError with a one-line reason that names the file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read scenario {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"scenario {path} is not valid TOML: {exc}") from None
    return scenario_from_dict(data, base, source=f"scenario {path}")


def scenario_from_dict(data: dict[str, Any], base: SimConfig | None = None, source: str = "scenario") -> SimConfig:
    """The settings of a scenario over ``base``; raises ValueError "<source>: what is wrong"."""
    try:
        return _from_dict(data, replace(base) if base is not None else SimConfig())
    except ValueError as exc:
        raise ValueError(f"{source}: {exc}") from None


def _from_dict(data: dict[str, Any], cfg: SimConfig) -> SimConfig:
    known = set(_SCALARS) | set(_DURATIONS) | {"profile", "network", "profiles", "networks", "steps",
                                                "existing", "url", "token", "clock_skew_ms"}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"unknown keys {', '.join(sorted(unknown))}")
    for key, kind in _SCALARS.items():
        if key in data:
            setattr(cfg, key, _typed(data[key], kind, key))
    for key, limit in LIMITS.items():  # (said of the file's key: validate() names the command's options)
        if key in data and not 1 <= data[key] <= limit:
            raise ValueError(f"{key} must be between 1 and {limit}, not {data[key]}")
    for key, attr in _DURATIONS.items():
        if key in data:
            setattr(cfg, attr, _duration(data[key], key))
    if "clock_skew_ms" in data:
        cfg.clock_skew_ms = _pair(data["clock_skew_ms"], "clock_skew_ms", "milliseconds")
    for key in ("url", "token"):
        if key in data and not getattr(cfg, key):
            setattr(cfg, key, _typed(data[key], "string", key))
    profiles = dict(cfg.profile_table)
    for name, spec in _tables(data, "profiles"):
        for key, value in spec.items():
            kind = "string" if key == "base" else _PROFILE_KINDS.get(key)
            if kind is not None:  # (unknown keys: profile_from_dict says which)
                _typed(value, kind, f"[profiles.{name}] {key}")
        profiles[name] = profile_from_dict(name, spec)
    networks = dict(cfg.network_table)
    for name, spec in _tables(data, "networks"):
        for key, value in spec.items():
            if key == "stall_ms":
                _pair(value, f"[networks.{name}] stall_ms", "milliseconds")
            elif key in _NETWORK_KINDS:
                _typed(value, _NETWORK_KINDS[key], f"[networks.{name}] {key}")
        networks[name] = shape_from_dict(name, spec)
    if "profile" in data:
        names = data["profile"] if isinstance(data["profile"], list) else [data["profile"]]
        cfg.profiles = [_pick(profiles, _typed(n, "string", "profile"), "profile") for n in names]
    else:  # (the profiles in use, the default among them, as this file's tables may have changed them)
        cfg.profiles = [profiles.get(p.name, p) for p in cfg.profiles]
    if "network" in data:
        cfg.network = _pick(networks, _typed(data["network"], "string", "network"), "network")
    else:
        cfg.network = networks.get(cfg.network.name, cfg.network)
    if "existing" in data:
        existing = data["existing"]
        if not isinstance(existing, list) or not all(isinstance(x, str) for x in existing):
            raise ValueError(f"existing must be a list of session ids (strings), not {_shown(existing)}")
        cfg.existing = list(existing)
    if "steps" in data:
        raw_steps = data["steps"]
        if not isinstance(raw_steps, list) or not all(isinstance(s, dict) for s in raw_steps):
            raise ValueError("steps must be an array of tables ([[steps]])")
        cfg.steps = [_step(s, i + 1, cfg.fault) for i, s in enumerate(raw_steps)]
        check_sessions(cfg.steps)
    cfg.profile_table, cfg.network_table = profiles, networks
    return cfg


def _tables(data: dict[str, Any], key: str) -> list[tuple[str, dict[str, Any]]]:
    """The named tables of ``[key.NAME]``."""
    tables = data.get(key) or {}
    if not isinstance(tables, dict):
        raise ValueError(f"{key} must be tables ([{key}.NAME]), not {_shown(tables)}")
    for name, spec in tables.items():
        if not isinstance(spec, dict):
            raise ValueError(f"[{key}.{name}] must be a table, not {_shown(spec)}")
    return list(tables.items())


def _pick(table: dict[str, Any], name: str, what: str):
    if name not in table:
        raise ValueError(f"unknown {what} {name!r} (one of {', '.join(table)})")
    return table[name]

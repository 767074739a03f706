"""The settings of one server run. Field names mirror the `jarvis-diag serve` options."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, fields
from pathlib import Path


@dataclass(slots=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 38010
    token: str | None = None  # generated when not given
    data_dir: Path = Path(".jarvis-diag")
    log_dir: Path | None = None  # default: <data_dir>/logs
    ping_interval: float = 25.0
    ping_timeout: float = 60.0
    history: int = 15  # messages replayed on chat:connect
    agent: str = "sim"  # "sim" or a command speaking Claude CLI stream-json
    agent_startup: float = 2.0  # seconds before a new agent answers
    agent_pace: float = 0.05  # seconds between streamed chunks of the sim agent
    bugs: tuple[str, ...] = ()
    reload_after: float | None = None  # bug "reload": seconds before each simulated reload
    reload_downtime: float = 3.0  # bug "reload": seconds connections are refused
    reload_count: int | None = None  # bug "reload": how many reloads (None: until stopped)
    slow_start: float = 6.0  # bug "slow-start": agent start-up that chat:connect waits for
    no_seq: bool = False  # no seq extension, as the real server: no seq sent, last_seq ignored
    log_tz: str | None = None  # zone of app.log times; None: the machine's local zone
    echo: bool = False  # also print app.log lines on stdout, like the real app does
    max_upload_bytes: int = 1_000_000  # frontend log upload limit (HTTP body / WS message)
    max_message_bytes: int = 1_000_000  # chat:message content limit
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.token is None:
            self.token = secrets.token_urlsafe(18)
        self.data_dir = Path(self.data_dir)
        self.log_dir = Path(self.log_dir) if self.log_dir is not None else self.data_dir / "logs"
        self.bugs = tuple(self.bugs)

    @classmethod
    def from_kwargs(cls, **kwargs: object) -> ServerConfig:
        """Build from keyword arguments, rejecting unknown names with a clear message."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(kwargs) - names)
        if unknown:
            raise TypeError(f"unknown server option(s): {', '.join(unknown)}")
        return cls(**kwargs)  # type: ignore[arg-type]

    def has_bug(self, name: str) -> bool:
        return name in self.bugs

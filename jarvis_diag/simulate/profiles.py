"""Client profiles: how a frontend reconnects, as pure state machines.

A :class:`Profile` is the data (delays, attempts, what is re-sent); a
:class:`ReconnectMachine` is the behaviour: it is fed events (``connected``,
``disconnected``, ``hidden``, ``visible``, ``timer`` ...) and answers with the actions
the client pump must take (open a socket, schedule a timer, log a line). No sockets and
no clock reads: the pump passes nothing but events in, and tests drive it by hand.

The presets copy the real frontends of docs/protocol.md:

* ``legacy``: Socket.IO's own reconnection (1 s growing to 5 s, randomised by 0.5,
  10 attempts), blind to page visibility; on reconnect it sends no ``chat:connect`` for a
  session it already has a handler for (the field bug), and it appends a replayed history
  to the conversation it shows;
* ``connmgr``: the ConnectionManager: suspended while hidden, reconnects at once when
  visible, ``min(100 ms * 2^attempt, 2000 ms)``, 20 attempts, re-sends ``chat:connect``;
* ``resume``: connmgr plus ``last_seq`` on ``chat:connect``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

# Who drives reconnection: Socket.IO's built-in manager or the app's ConnectionManager.
MANAGERS = ("socketio", "connmgr")


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    manager: str = "connmgr"
    base_delay_ms: float = 100.0
    max_delay_ms: float = 2000.0
    max_attempts: int = 20
    randomization: float = 0.0  # Socket.IO's randomizationFactor (0.5 in its defaults)
    resend_connect: bool = True  # re-send chat:connect for sessions whose handler exists
    last_seq: bool = False  # the gap-free resume extension
    suspend_when_hidden: bool = True  # no retries while the page is hidden
    reconnect_on_visible: bool = True  # drop the (maybe stale) socket and reconnect when visible
    # merge a replayed history into the conversation shown; False: append it (the old
    # frontend: what it showed before a re-attach is shown twice)
    merge_history: bool = True
    time_scale: float = 1.0  # multiplies every delay (tests run the same machine faster)

    def __post_init__(self) -> None:
        if self.manager not in MANAGERS:
            raise ValueError(f"profile {self.name}: manager must be one of {', '.join(MANAGERS)}")
        if self.max_attempts < 1 or self.max_attempts > 1000:
            raise ValueError(f"profile {self.name}: max_attempts must be 1..1000")
        if self.base_delay_ms < 0 or self.max_delay_ms < self.base_delay_ms:
            raise ValueError(f"profile {self.name}: need 0 <= base_delay_ms <= max_delay_ms")
        if not 0 <= self.randomization < 1:
            raise ValueError(f"profile {self.name}: randomization must be in [0, 1)")
        if self.time_scale <= 0:
            raise ValueError(f"profile {self.name}: time_scale must be > 0")

    def scaled(self, time_scale: float) -> Profile:
        return replace(self, time_scale=time_scale)


PRESETS: dict[str, Profile] = {
    "legacy": Profile(
        "legacy", manager="socketio", base_delay_ms=1000, max_delay_ms=5000, max_attempts=10,
        randomization=0.5, resend_connect=False, suspend_when_hidden=False, reconnect_on_visible=False,
        merge_history=False,
    ),
    "connmgr": Profile("connmgr"),
    "resume": Profile("resume", last_seq=True),
}

PROFILE_KEYS = {f for f in Profile.__dataclass_fields__ if f != "name"}


def profile_from_dict(name: str, spec: dict[str, Any]) -> Profile:
    """A custom profile from a scenario table: ``base = "connmgr"`` plus overrides. A table
    named after a preset (``[profiles.legacy]``) changes that preset unless it names a base."""
    base_name = spec.get("base", name if name in PRESETS else "connmgr")
    if base_name not in PRESETS:
        raise ValueError(f"profile {name}: unknown base {base_name!r} (one of {', '.join(PRESETS)})")
    unknown = set(spec) - PROFILE_KEYS - {"base"}
    if unknown:
        raise ValueError(f"profile {name}: unknown keys {', '.join(sorted(unknown))}")
    overrides = {k: v for k, v in spec.items() if k != "base"}
    return replace(PRESETS[base_name], name=name, **overrides)


def reconnect_delays(profile: Profile, rng: random.Random) -> Iterator[float]:
    """The delay (seconds) before each reconnect attempt, ``max_attempts`` of them.

    connmgr: ``min(base * 2^(attempt-1), max)`` (100, 200, 400 ... 2000 ms).
    Socket.IO: the same doubling with its randomisation: ``ms +/- rand * factor * ms``.
    """
    for attempt in range(profile.max_attempts):
        ms = min(profile.base_delay_ms * 2**attempt, profile.max_delay_ms)
        if profile.randomization:
            deviation = rng.random() * profile.randomization * ms
            ms = ms - deviation if rng.random() < 0.5 else ms + deviation
            ms = min(ms, profile.max_delay_ms)
        yield ms * profile.time_scale / 1000.0


# ---- the state machine ---------------------------------------------------------------

STATES = ("idle", "connecting", "connected", "reconnecting", "suspended", "failed")
EVENTS = ("connect", "connected", "disconnected", "connect_error", "hidden", "visible", "timer",
          "online", "offline", "close")


@dataclass(frozen=True, slots=True)
class Action:
    """What the pump must do. ``kind``: open (a new socket), drop (close the current one),
    schedule (a timer of ``delay_s``), cancel_timer, resubscribe, log (a frontend line of
    shape ``shape`` with ``fields``), failed."""

    kind: str
    delay_s: float = 0.0
    attempt: int = 0
    shape: str = ""
    fields: dict[str, Any] = field(default_factory=dict)


def _log(shape: str, **fields: Any) -> Action:
    return Action("log", shape=shape, fields=fields)


class ReconnectMachine:
    """The reconnect behaviour of one profile. Feed :meth:`on` events; act on the answer."""

    def __init__(self, profile: Profile, rng: random.Random):
        self.profile = profile
        self.rng = rng
        self.state = "idle"
        self.attempt = 0
        self.hidden = False
        self._delays: Iterator[float] = iter(())
        self.timer_pending = False

    @property
    def uses_connmgr(self) -> bool:
        return self.profile.manager == "connmgr"

    def _to(self, new: str, trigger: str) -> list[Action]:
        old, self.state = self.state, new
        if not self.uses_connmgr or old == new:
            return []
        return [_log("cm.state_labelled", state_from=old, state_to=new, trigger=trigger),
                _log("cm.state", state_from=old, state_to=new, trigger=trigger)]

    def _schedule(self) -> list[Action]:
        """Schedule the next attempt, or give up when the attempts are spent."""
        delay = next(self._delays, None)
        if delay is None:
            acts = self._to("failed", "max_retries")
            if self.uses_connmgr:
                acts.insert(0, _log("cm.max_retries"))
            return [*acts, Action("failed")]
        self.attempt += 1
        self.timer_pending = True
        acts = [Action("schedule", delay_s=delay, attempt=self.attempt)]
        if self.uses_connmgr:
            ms = round(delay * 1000)  # what it really waits (time_scale applied)
            acts.insert(0, _log("cm.scheduling", ms=ms, attempt=self.attempt))
        return acts

    def _start_reconnecting(self, trigger: str) -> list[Action]:
        self.attempt = 0
        self._delays = reconnect_delays(self.profile, self.rng)
        return [*self._to("reconnecting", trigger), *self._schedule()]

    def on(self, event: str) -> list[Action]:
        if event not in EVENTS:
            raise ValueError(f"unknown event {event!r}")
        handler = getattr(self, f"_on_{event}")
        return handler()

    # Events. Each returns the actions, in order.
    def _on_connect(self) -> list[Action]:
        acts = []
        if self.uses_connmgr and self.state == "idle":
            acts.append(_log("cm.init"))
        return [*acts, *self._to("connecting", "connect"), Action("open")]

    def _on_connected(self) -> list[Action]:
        self.attempt = 0
        self.timer_pending = False
        acts = self._to("connected", "connected")
        if self.uses_connmgr:
            acts.append(_log("cm.connected"))
        return [*acts, Action("resubscribe")]

    def _on_disconnected(self) -> list[Action]:
        if self.state in ("failed", "idle", "suspended"):
            return []
        if self.uses_connmgr and self.hidden and self.profile.suspend_when_hidden:
            return self._to("suspended", "suspend")
        if self.state == "reconnecting":
            # an attempt whose socket opened and then closed before it was authenticated
            # (a flaky network): it failed like one that never opened
            return [] if self.timer_pending else self._on_connect_error()
        return self._start_reconnecting("disconnected")

    def _on_connect_error(self) -> list[Action]:
        if self.state == "connecting":  # the very first connect failed
            return self._start_reconnecting("error")
        if self.state != "reconnecting":
            return []
        if self.uses_connmgr and self.hidden and self.profile.suspend_when_hidden:
            return self._to("suspended", "suspend")
        return self._schedule()

    def _on_timer(self) -> list[Action]:
        self.timer_pending = False
        if self.state != "reconnecting":
            return []
        acts: list[Action] = []
        if self.uses_connmgr:
            acts.append(_log("cm.reconnecting_of", attempt=self.attempt, max_attempts=self.profile.max_attempts))
        return [*acts, Action("open", attempt=self.attempt)]

    def _on_hidden(self) -> list[Action]:
        self.hidden = True
        if not self.uses_connmgr:
            return []
        acts = [_log("cm.page_hidden")]
        if self.profile.suspend_when_hidden and self.state in ("connected", "reconnecting", "connecting"):
            acts += [Action("cancel_timer"), *self._to("suspended", "suspend")]
            self.timer_pending = False
        return acts

    def _on_visible(self) -> list[Action]:
        self.hidden = False
        if not self.uses_connmgr:
            return []
        acts = [_log("cm.page_visible")]
        if self.state == "suspended" or (self.profile.reconnect_on_visible and self.state == "connected"):
            # The socket may be half-open after a suspension: never trust it.
            acts += self._to("reconnecting", "resume")
            acts += [_log("cm.force_disconnect"), Action("drop")]
            self.attempt = 0
            self._delays = reconnect_delays(self.profile, self.rng)
            acts += self._schedule()
        elif self.state == "failed":
            acts += self._start_reconnecting("resume")
        return acts

    def _on_online(self) -> list[Action]:
        if not self.uses_connmgr:
            return []
        acts = [_log("cm.online")]
        if self.state in ("failed",) or (self.state == "reconnecting" and not self.hidden):
            acts += [Action("cancel_timer"), *self._start_reconnecting("online")]
        return acts

    def _on_offline(self) -> list[Action]:
        return [_log("cm.offline")] if self.uses_connmgr else []

    def _on_close(self) -> list[Action]:
        self.timer_pending = False
        return [Action("cancel_timer"), *self._to("idle", "close")]

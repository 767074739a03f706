"""Fault schedules: what the proxy and the page do during one background window. Pure.

A window starts when the page goes to the background (``at_s = 0``) and ends when it is
visible again (``at_s = background_s``). :func:`fault_schedule` lists the steps in time
order; the run pump sleeps to each ``at_s`` and applies it. Same seed, same schedule.

* ``freeze``: the page is suspended and bytes stop both ways, no FIN/RST. The server
  learns it only from its ping timeout, the client only when it wakes.
* ``close``: the page goes to the background and its connection is closed cleanly.
* ``offline``: the network drops (airplane mode, wifi off, no signal): the page learns
  at once (its connections are reset, it gets ``offline``), the server not at all, since
  no packet of the phone reaches it: it keeps the old socket open and silent until the
  network is back (the phone's FIN arrives then) or its own ping timeout, whichever comes
  first. New connections are refused until the network is back.
* ``no-websocket``: the phone comes back on a network whose proxy refuses WebSocket (a
  carrier's, a hotel's, a company's): the network change closes the connections, and from
  then until the cycle's verdict every WebSocket upgrade is answered ``403``, while plain
  HTTP (Engine.IO's polling) passes. The page's ``io({transports: ['websocket', 'polling']})``
  does not fall back to polling (socket.io-client tries the next transport only with
  ``tryAllTransports: true``, off by default), so it fails to connect, as a virtual client does.
* ``flaky``: the page stays in use on a bad network: connections are reset at random
  moments during the window (a Poisson process, ``flaky_mean_gap_s`` apart on average).

Each phone's own seeded draws (:func:`clock_skew_s`, :func:`stagger_delay_s`) are here
too, so a virtual client and a browser page of the same seed and index get the same ones.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

FAULTS = ("freeze", "close", "offline", "flaky", "no-websocket")

# Steps: page.hide / page.show (the page's visibility), freeze / thaw (stop / resume the
# proxy's bytes and suspend / wake the client's timers), close (clean close of the open
# connections), offline / online (reset the page's side of every connection, hold the
# server's open and silent and refuse new connections; online closes the held ones with a
# FIN), reset (one flaky drop of the open connections), refuse_websocket (WebSocket upgrades
# refused from now until the cycle's verdict).
STEPS = ("hide", "show", "freeze", "thaw", "close", "offline", "online", "reset", "refuse_websocket")


@dataclass(frozen=True, slots=True)
class FaultStep:
    at_s: float
    step: str


def page_hides(fault: str) -> bool:
    """Whether the fault sends the page to the background (flaky keeps it in use)."""
    return fault != "flaky"


def fault_schedule(fault: str, background_s: float, rng: random.Random,
                   flaky_mean_gap_s: float = 2.0, max_resets: int = 1000) -> list[FaultStep]:
    if fault not in FAULTS:
        raise ValueError(f"unknown fault {fault!r} (one of {', '.join(FAULTS)})")
    if background_s < 0:
        raise ValueError("the background time must be >= 0")
    end = background_s
    if fault == "freeze":
        # The order matters: the page is hidden (logs it) and then frozen; on wake the
        # bytes flow again before the page's visibility handler runs.
        return [FaultStep(0.0, "hide"), FaultStep(0.0, "freeze"), FaultStep(end, "thaw"), FaultStep(end, "show")]
    if fault == "close":
        return [FaultStep(0.0, "hide"), FaultStep(0.0, "close"), FaultStep(end, "show")]
    if fault == "offline":
        return [FaultStep(0.0, "hide"), FaultStep(0.0, "offline"), FaultStep(end, "online"), FaultStep(end, "show")]
    if fault == "no-websocket":
        # refused before the close: a page that reconnects at once meets the new network
        return [FaultStep(0.0, "hide"), FaultStep(0.0, "refuse_websocket"), FaultStep(0.0, "close"),
                FaultStep(end, "show")]
    steps: list[FaultStep] = []
    t = 0.0
    for _ in range(max_resets):  # bounded, however small the gap
        t += rng.expovariate(1.0 / flaky_mean_gap_s) if flaky_mean_gap_s > 0 else end
        if t >= end:
            break
        steps.append(FaultStep(round(t, 6), "reset"))
    return steps


def clock_skew_s(seed: int, index: int, skew_ms: tuple[float, float]) -> float:
    """How far phone ``index``'s clock is off (seconds, seeded): a draw in ``skew_ms``."""
    lo, hi = skew_ms
    return random.Random(f"{seed}/{index}/clock").uniform(lo, hi) / 1000 if hi > lo else lo / 1000


def stagger_delay_s(seed: int, index: int, stagger_s: float) -> float:
    """How long phone ``index`` waits before its first cycle (seeded): a draw in 0..``stagger_s``."""
    return random.Random(f"{seed}/{index}/stagger").uniform(0, stagger_s) if stagger_s > 0 else 0.0


DURATION_FORMS = "a number with s, ms, m or h, e.g. 30s, 250ms, 1.5m; a bare number is seconds"


def parse_duration(text: str | float | int) -> float:
    """``30s``, ``1.5m``, ``250ms``, ``2h`` or a bare number of seconds -> seconds."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        value = float(text)
    elif isinstance(text, str):
        s = text.strip().lower()
        number, factor = s, 1.0
        for suffix, unit in (("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0)):
            if s.endswith(suffix):
                number, factor = s[: -len(suffix)], unit
                break
        try:
            value = float(number) * factor
        except ValueError:
            raise ValueError(f"{text!r} is not a duration ({DURATION_FORMS})") from None
    else:
        raise ValueError(f"{text!r} is not a duration ({DURATION_FORMS})")
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{text!r} is not a duration ({DURATION_FORMS})")
    if value < 0:
        raise ValueError(f"{text!r}: a duration must not be negative ({DURATION_FORMS})")
    return value

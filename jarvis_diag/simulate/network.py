"""Network shapes: latency, jitter, a bandwidth cap and stalls, as pure timing.

:class:`ShapeTimer` answers "when may this chunk be delivered?" for one direction of
one connection; the proxy sleeps until then. Delivery times never go backwards, so the
byte stream keeps its order (TCP would not reorder either); a stall holds back the
chunk and everything behind it, which is what a lost packet and its retransmission do
to a TCP stream.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class NetworkShape:
    name: str
    latency_ms: float = 0.0  # one way
    jitter_ms: float = 0.0  # uniform +/- around the latency
    bandwidth_kbps: float = 0.0  # kilobits per second; 0 = unlimited
    stall_probability: float = 0.0  # per chunk
    stall_ms: tuple[float, float] = (0.0, 0.0)  # min, max of one stall

    def __post_init__(self) -> None:
        if self.latency_ms < 0 or self.jitter_ms < 0 or self.bandwidth_kbps < 0:
            raise ValueError(f"network {self.name}: latency, jitter and bandwidth must be >= 0")
        if not 0 <= self.stall_probability <= 1:
            raise ValueError(f"network {self.name}: stall_probability must be in [0, 1]")
        lo, hi = self.stall_ms
        if lo < 0 or hi < lo:
            raise ValueError(f"network {self.name}: stall_ms must be [min, max] with 0 <= min <= max")

    @property
    def is_ideal(self) -> bool:
        return not (self.latency_ms or self.jitter_ms or self.bandwidth_kbps or self.stall_probability)


SHAPES: dict[str, NetworkShape] = {
    "good": NetworkShape("good"),
    # A typical 3G link: 150 ms one way, some jitter, 750 kbit/s.
    "3g": NetworkShape("3g", latency_ms=150, jitter_ms=50, bandwidth_kbps=750),
    # A poor Wi-Fi / cell edge: moderate latency, and now and then a stall of a retransmission.
    "lossy": NetworkShape("lossy", latency_ms=60, jitter_ms=40, bandwidth_kbps=2000,
                          stall_probability=0.05, stall_ms=(200, 1200)),
}


def shape_from_dict(name: str, spec: dict) -> NetworkShape:
    known = {"latency_ms", "jitter_ms", "bandwidth_kbps", "stall_probability", "stall_ms"}
    unknown = set(spec) - known
    if unknown:
        raise ValueError(f"network {name}: unknown keys {', '.join(sorted(unknown))}")
    spec = dict(spec)
    if "stall_ms" in spec:
        spec["stall_ms"] = tuple(float(x) for x in spec["stall_ms"])
    return NetworkShape(name, **spec)


class ShapeTimer:
    """Delivery times of the chunks of one direction. Pure: the caller passes ``now``."""

    def __init__(self, shape: NetworkShape, rng: random.Random):
        self.shape = shape
        self.rng = rng
        self._last_delivery = 0.0  # never deliver before the previous chunk
        self._link_free_at = 0.0  # the bandwidth cap serialises chunks

    def deliver_at(self, now: float, size: int) -> float:
        s = self.shape
        start = max(now, self._link_free_at)
        if s.bandwidth_kbps:
            start += size * 8 / (s.bandwidth_kbps * 1000)
        self._link_free_at = start
        delay = s.latency_ms
        if s.jitter_ms:
            delay += self.rng.uniform(-s.jitter_ms, s.jitter_ms)
        if s.stall_probability and self.rng.random() < s.stall_probability:
            delay += self.rng.uniform(*s.stall_ms)
        at = max(start + max(delay, 0.0) / 1000.0, self._last_delivery)
        self._last_delivery = at
        return at

"""How to reproduce what a timeline found: the sample incident set (``jarvis-diag samples``)
made by the same mechanism, and the two commands that make it by hand: the reference server
with the set's bug, and simulated phones driven by the set's ``scenario.toml`` (the simulator
speaks the protocol to any Jarvis server, so the phones also run against the user's own).

Pure: findings in, reproductions out. A finding kind can have more than one mechanism
(``callback-desync`` after a switch back, after a reconnect, or when another device took the
output): the fix its summary names tells which, and a mechanism no set makes gets no
reproduction rather than another mechanism's."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from jarvis_diag.findings import FIX_ONE_OWNER, FIX_ONE_PER_SOCKET, FIX_RECONNECT, FIX_SWITCH_BACK
from jarvis_diag.samples import INCIDENTS_BY_NAME, TIMELINE_BY_HAND, serve_command, simulate_command

OUT = "repro"  # where the commands shown write a reproduction

# the sample set made by each finding kind of one mechanism (a test checks that each set
# expects the kind)
SET_OF_KIND: dict[str, str] = {
    "single-live-session": "single-live-session",
    "missing-resubscribe": "legacy-frozen-past-ping",
    "half-open": "legacy-frozen-past-ping",
    "server-reload": "reload-during-open",
}
# callback-desync by its mechanism, told by the fix its summary names: a switch back, or a
# reconnect, with no chat:connect (the old frontend); another attach on the socket (a server
# with one live session per socket). None: another device took the output, which no set does.
SWITCH_BACK_SET = "callback-desync-switch-back"
SET_OF_FIX: dict[str, str | None] = {
    FIX_SWITCH_BACK: SWITCH_BACK_SET,
    FIX_RECONNECT: SWITCH_BACK_SET,
    FIX_ONE_PER_SOCKET: "single-live-session",
    FIX_ONE_OWNER: None,
}


@dataclass(frozen=True)
class Reproduction:
    """One sample set and the findings (ids, kinds) it reproduces."""

    sample: str
    title: str
    findings: tuple[str, ...]
    kinds: tuple[str, ...]

    @property
    def make(self) -> tuple[str, str]:
        """Make the set, then read it."""
        return (f"jarvis-diag samples {OUT} --only {self.sample}", f"jarvis-diag timeline {OUT}/{self.sample}")

    @property
    def by_hand(self) -> tuple[str, str, str]:
        """The set's server, its phones (from the scenario file the set holds), then the
        timeline of both."""
        return (serve_command(INCIDENTS_BY_NAME[self.sample]), simulate_command(f"{OUT}/{self.sample}/scenario.toml"),
                TIMELINE_BY_HAND)


def sample_for(kind: str, summary: str) -> str | None:
    """The sample set made by the mechanism of a finding of ``kind`` (None: no set makes it)."""
    if kind == "callback-desync":
        return next((name for fix, name in SET_OF_FIX.items() if fix in summary), None)
    return SET_OF_KIND.get(kind)


def reproductions(findings: Iterable[dict]) -> list[Reproduction]:
    """The reproductions of the warning and critical ``findings`` (dicts with id, kind,
    severity, summary), one per sample set, in the order of their first finding. A finding
    of one mechanism whose kind the set chosen for a callback-desync also makes goes with that
    set: one run reproduces both."""
    chosen = [(f, name) for f in findings if f["severity"] in ("warning", "critical")
              if (name := sample_for(f["kind"], str(f.get("summary") or ""))) is not None]
    special = [name for f, name in chosen if f["kind"] not in SET_OF_KIND]
    by_set: dict[str, list[dict]] = {}
    for f, name in chosen:
        if f["kind"] in SET_OF_KIND:
            name = next((s for s in special if f["kind"] in _expected_kinds(s)), name)
        by_set.setdefault(name, []).append(f)
    return [Reproduction(name, INCIDENTS_BY_NAME[name].title, tuple(str(f["id"]) for f in found),
                         tuple(dict.fromkeys(str(f["kind"]) for f in found))) for name, found in by_set.items()]


def _expected_kinds(name: str) -> set[str]:
    return {e.kind for e in INCIDENTS_BY_NAME[name].expect}

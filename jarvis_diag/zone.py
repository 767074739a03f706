"""The backend's time zone, found from the logs themselves (pure: no clock reads).

Backend lines carry the server's local time with no zone. Some lines also carry an epoch
of the same moment (``recv_ts=`` of ``Received chat:connect``; the ``t=`` of a uvicorn
WebSocket request next to a timestamped line): local minus epoch is the UTC offset, rounded
to the nearest 15 minutes because real zones are whole quarter hours. Without pairs the
user's ``--tz`` is used, and without that the machine's zone, with a warning.

A log of several days can cross a daylight-saving change: its local times then move by an
hour. Pairs on both sides of it show the change (placed at the instant a real zone's rule
changes between them); a named zone (``--tz Europe/Berlin``, or the machine's) gives its
own changes. In the hour a change back repeats, a file's lines take the new offset from
where its clock goes back.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache
from zoneinfo import ZoneInfo as _IanaZone
from zoneinfo import ZoneInfoNotFoundError, available_timezones

import numpy as np

QUARTER_HOUR_S = 900
# A pair further than this from its quarter hour is not the same instant (a stale epoch).
PAIR_TOLERANCE_S = 300
# The offsets zones have (UTC-12:00 to UTC+14:00): a pair further apart is not one clock's
# local time and epoch (a log pieced together from two days, its epochs left as they were).
ZONE_MINUTES = (-12 * 60, 14 * 60)
_OFFSET_RE = re.compile(r"(?:UTC|GMT)?\s*(?P<sign>[+-])(?P<h>\d{1,2})(?::?(?P<m>\d\d))?\Z")


# How far apart two samples of a zone's offset are when looking for its changes (no zone
# changes twice within it).
_SCAN_STEP_S = 6 * 3600

OffsetAt = Callable[[float], int]  # minutes east of UTC at an epoch


@dataclass(frozen=True, slots=True)
class OffsetChange:
    """From ``at`` (UTC epoch seconds) on, the backend's clock is ``offset_minutes`` east of
    UTC; ``zone``: the zone whose rule puts the change at that second (None: only known to be
    between the pairs either side, and put half-way)."""

    at: float
    offset_minutes: int
    zone: str | None = None


@dataclass(frozen=True, slots=True)
class ZoneInfo:
    """The backend's UTC offset (at the start of its logs) and how it was found; ``changes``:
    where the offset changes after that (daylight saving)."""

    offset_minutes: int
    source: str  # "recv_ts" (pairs in the logs) | "tz-option" | "machine" | "pages" (their chat:ready lines)
    pairs: int = 0
    warning: str | None = None
    changes: tuple[OffsetChange, ...] = field(default=())

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @property
    def last_offset_minutes(self) -> int:
        """The offset in force at the end of the logs (and for lines written after them)."""
        return self.changes[-1].offset_minutes if self.changes else self.offset_minutes

    def offset_at(self, utc_s: float) -> int:
        """The offset in force at an instant."""
        offset = self.offset_minutes
        for change in self.changes:
            if change.at > utc_s:
                break
            offset = change.offset_minutes
        return offset


def parse_tz(tz: str, at_utc_s: float | None = None) -> int:
    """Minutes east of UTC for ``"+08:00"``, ``"-0530"``, ``"UTC"`` or an IANA name such
    as ``"Europe/Berlin"`` (evaluated at ``at_utc_s``, default 2000-01-01). ValueError if unknown."""
    text = tz.strip()
    if text.upper() in ("UTC", "Z", "GMT"):
        return 0
    m = _OFFSET_RE.match(text)
    if m:
        minutes = int(m.group("h")) * 60 + int(m.group("m") or 0)
        if minutes > 14 * 60:
            raise ValueError(f"time zone offset out of range: {tz!r}")
        return -minutes if m.group("sign") == "-" else minutes
    try:
        zone = _IanaZone(text)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # (OSError: 'Europe', a folder of zones)
        raise ValueError(f"unknown time zone {tz!r} (use an IANA name like Europe/Berlin or +08:00)") from exc
    at = datetime.fromtimestamp(at_utc_s if at_utc_s is not None else 946684800, tz=UTC)
    offset = at.astimezone(zone).utcoffset() or timedelta(0)
    return int(offset.total_seconds() // 60)


def local_offsets(local: np.ndarray, base: int, changes: Sequence[OffsetChange]) -> np.ndarray:
    """The UTC offset (minutes) of each local time of one file (read as UTC, in the file's
    order; NaN for a line without one): ``base`` before the first change. When the clocks go
    back, the repeated hour's lines take the new offset from where the file's clock goes back
    (the first pass of that hour keeps the old one)."""
    out = np.full(len(local), float(base))
    if not changes or not len(local):
        return out
    known = np.flatnonzero(~np.isnan(local))
    seen = local[known]
    before = base
    for change in changes:
        after = change.offset_minutes
        old_end = change.at + before * 60  # what the clock read as the change came
        later = seen >= old_end
        if after < before:
            twice = (seen >= change.at + after * 60) & ~later
            if twice.any():
                # the clock going back by more than half the shift, into the repeated hour
                back = np.flatnonzero(np.diff(seen) < -(before - after) * 30) + 1
                back = back[twice[back]]
                if len(back):
                    later |= twice & (np.arange(len(seen)) >= back[0])
        out[known[later]] = after
        before = after
    return out


def zone_rule(tz: str) -> tuple[OffsetAt, str] | None:
    """The offset at any instant of a named zone (``Europe/Berlin``) and its name; None for a
    fixed offset (``+08:00``, ``UTC``). ValueError if unknown."""
    text = tz.strip()
    if text.upper() in ("UTC", "Z", "GMT") or _OFFSET_RE.match(text):
        return None
    parse_tz(text)  # (the same error as everywhere for an unknown name)
    return _rule_of(text), text


def machine_rule(name: str | None) -> tuple[OffsetAt, str]:
    """The offset at any instant of this machine's zone, and its name (``name``, as the
    machine calls it, else "this machine's zone")."""
    return (lambda t: time.localtime(t).tm_gmtoff // 60), name or "this machine's zone"


@cache
def _rule_of(name: str) -> OffsetAt:
    zone = _IanaZone(name)

    def offset_at(t: float) -> int:
        offset = datetime.fromtimestamp(t, tz=zone).utcoffset() or timedelta(0)
        return int(offset.total_seconds() // 60)

    return offset_at


def _change_second(offset_at: OffsetAt, lo: float, hi: float) -> float:
    """The first whole second of ``hi``'s offset, when ``lo`` has another one (one change between)."""
    target = offset_at(hi)
    lo_s, hi_s = int(lo // 1), int(-(-hi // 1))
    while hi_s - lo_s > 1:
        mid = (lo_s + hi_s) // 2
        if offset_at(mid) == target:
            hi_s = mid
        else:
            lo_s = mid
    return float(hi_s)


def rule_changes(offset_at: OffsetAt, zone: str | None, *, start: float, end: float) -> list[OffsetChange]:
    """The changes of a zone's offset between two instants."""
    changes: list[OffsetChange] = []
    before = offset_at(start)
    t = start
    while t < end:
        step = min(t + _SCAN_STEP_S, end)
        after = offset_at(step)
        if after != before:
            changes.append(OffsetChange(_change_second(offset_at, t, step), after, zone))
            before = after
        t = step
    return changes


@lru_cache(maxsize=1)
def _zone_names() -> tuple[str, ...]:
    return tuple(sorted(n for n in available_timezones() if not n.startswith(("posix/", "right/"))))


@lru_cache(maxsize=256)
def _explained(before: int, after: int, t0: float, t1: float,
               rules: tuple[tuple[OffsetAt, str], ...]) -> OffsetChange | None:
    """A change from ``before`` to ``after`` between two instants that a zone's rule makes:
    the first of ``rules`` that does, else the instant most zones agree on."""
    for offset_at, name in rules:
        if offset_at(t0) == before and offset_at(t1) == after:
            return OffsetChange(_change_second(offset_at, t0, t1), after, name)
    votes: Counter[float] = Counter()
    named: dict[float, list[str]] = {}
    for name in _zone_names():
        try:
            offset_at = _rule_of(name)
            if offset_at(t0) != before or offset_at(t1) != after:
                continue
        except (ValueError, OSError):  # (a broken zone file)
            continue
        at = _change_second(offset_at, t0, t1)
        votes[at] += 1
        named.setdefault(at, []).append(name)
    if not votes:
        return None
    at = min(votes, key=lambda x: (-votes[x], x))
    # one of them to name it by: the first of the region most of them are in (Europe/Amsterdam
    # rather than Africa/Ceuta for the European rule)
    regions = Counter(n.partition("/")[0] for n in named[at] if "/" in n)
    region = min(regions, key=lambda r: (-regions[r], r)) if regions else None
    return OffsetChange(at, after, next((n for n in named[at] if n.startswith(f"{region}/")), named[at][0]))


@dataclass
class _Run:
    offset: int
    first: float  # UTC of its first and last pair
    last: float
    pairs: int


def _runs(local_s: Sequence[float], utc_s: Sequence[float]) -> tuple[list[_Run], int]:
    """The pairs in time order as runs of one quarter-hour offset, and how many pairs fit none
    (or give an offset no zone has)."""
    runs: list[_Run] = []
    stray = 0
    for utc, local in sorted(zip(utc_s, local_s, strict=True)):
        diff = local - utc
        quarters = round(diff / QUARTER_HOUR_S)
        if abs(diff - quarters * QUARTER_HOUR_S) > PAIR_TOLERANCE_S or not (
                ZONE_MINUTES[0] <= quarters * 15 <= ZONE_MINUTES[1]):
            stray += 1
            continue
        if runs and runs[-1].offset == quarters * 15:
            runs[-1].last = utc
            runs[-1].pairs += 1
        else:
            runs.append(_Run(quarters * 15, utc, utc, 1))
    return runs, stray


# Pairs on each side of an offset change no zone's rule explains, for it to be believed (a
# server restarted with another TZ); fewer, and the side with fewer pairs is wrong.
_UNRULED_CHANGE_PAIRS = 3
# More runs than this is not a zone changing: the most common offset is taken for all.
_MAX_RUNS = 12


def offset_changes(local_s: Sequence[float], utc_s: Sequence[float],
                   rules: Sequence[tuple[OffsetAt, str]] = ()) -> tuple[list[_Run], list[OffsetChange], int, int]:
    """The offsets the pairs show over time: (runs, a change between each two runs, pairs
    disagreeing with their run, pairs fitting no quarter hour). A change is placed by a zone's
    rule (``rules`` first); a run whose change no rule explains is taken as disagreeing pairs,
    unless both sides have many pairs (then the change is put half-way, with no zone)."""
    runs, stray = _runs(local_s, utc_s)
    if len(runs) > _MAX_RUNS:
        votes: Counter[int] = Counter()
        for run in runs:
            votes[run.offset] += run.pairs
        offset, used = votes.most_common(1)[0]
        return [_Run(offset, runs[0].first, runs[-1].last, used)], [], sum(votes.values()) - used, stray
    disagree = 0
    while True:
        changes: list[OffsetChange] = []
        weak = None
        for i in range(1, len(runs)):
            prev, run = runs[i - 1], runs[i]
            change = _explained(prev.offset, run.offset, prev.last, run.first, tuple(rules))
            if change is None and min(prev.pairs, run.pairs) >= _UNRULED_CHANGE_PAIRS:
                change = OffsetChange((prev.last + run.first) / 2, run.offset, None)
            if change is None:
                weak = i - 1 if prev.pairs < run.pairs else i
                break
            changes.append(change)
        if weak is None:
            return runs, changes, disagree, stray
        disagree += runs[weak].pairs
        del runs[weak]
        merged: list[_Run] = []
        for run in runs:  # (the runs either side of it may now be one)
            if merged and merged[-1].offset == run.offset:
                merged[-1].last, merged[-1].pairs = run.last, merged[-1].pairs + run.pairs
            else:
                merged.append(run)
        runs = merged


def format_offset(minutes: int) -> str:
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def resolve_zone(
    local_s: Sequence[float],
    utc_s: Sequence[float],
    *,
    tz: str | None,
    machine_offset_minutes: int,
    at_utc_s: float | None = None,
    end_utc_s: float | None = None,
    machine: tuple[OffsetAt, str] | None = None,
) -> ZoneInfo:
    """The backend zone: pairs first, else ``tz``, else the machine's offset (warned).

    ``at_utc_s``/``end_utc_s``: the first and last backend local times (read as UTC), the span
    a named zone's (``tz``, else ``machine``'s: its offset at an instant, and its name)
    daylight-saving changes are looked for in.
    ``tz`` that contradicts the pairs is reported, not applied: the logs are the evidence.
    """
    named = zone_rule(tz) if tz is not None else None
    rules = [r for r in (named, machine) if r is not None]
    runs, changes, disagree, stray = offset_changes(local_s, utc_s, rules)
    if runs:
        pairs = sum(r.pairs for r in runs)
        warnings = []
        if disagree or stray:
            against = (f"UTC{format_offset(runs[0].offset)}" if len(runs) == 1
                       else "the offsets either side of them")
            warnings.append(f"{disagree + stray} of {pairs + disagree + stray} epoch/local pairs disagree "
                            f"with {against}")
        for change in changes:
            if change.zone is None:
                warnings.append(f"the backend's clock changed to UTC{format_offset(change.offset_minutes)} "
                                f"with no zone rule saying when: put at {_iso(change.at)}, half-way between "
                                "the epochs either side")
        if tz is not None:
            wanted = parse_tz(tz, runs[0].first)
            if wanted != runs[0].offset:
                warnings.append(f"--tz {tz} (UTC{format_offset(wanted)}) contradicts the logs' own epochs "
                                f"(UTC{format_offset(runs[0].offset)}); using the logs")
        if named is not None:
            # the zone the user named, when it agrees with every pair, also gives the changes
            # before and after them (not the machine's: it may only share the offset)
            offset_at, name = named
            if all(offset_at(r.first) == r.offset and offset_at(r.last) == r.offset for r in runs):
                start, end = _utc_span(offset_at, at_utc_s, end_utc_s, runs)
                return ZoneInfo(offset_at(start), "recv_ts", pairs, "; ".join(warnings) or None,
                                tuple(rule_changes(offset_at, name, start=start, end=end)))
        return ZoneInfo(runs[0].offset, "recv_ts", pairs, "; ".join(warnings) or None, tuple(changes))
    pair_warning = f"{stray} epoch/local pairs gave no consistent zone" if stray else None
    if tz is not None:
        if named is None or at_utc_s is None:
            return ZoneInfo(parse_tz(tz, at_utc_s), "tz-option", 0, pair_warning)
        start, end = _utc_span(named[0], at_utc_s, end_utc_s, [])
        return ZoneInfo(named[0](start), "tz-option", 0, pair_warning,
                        tuple(rule_changes(*named, start=start, end=end)))
    warning = (f"backend time zone unknown (no recv_ts in the logs): assuming this machine's "
               f"UTC{format_offset(machine_offset_minutes)}; pass --tz to set it")
    if machine is None or at_utc_s is None:
        return ZoneInfo(machine_offset_minutes, "machine", 0, warning)
    start, end = _utc_span(machine[0], at_utc_s, end_utc_s, [])
    return ZoneInfo(machine[0](start), "machine", 0, warning, tuple(rule_changes(*machine, start=start, end=end)))


def _utc_span(offset_at: OffsetAt, first_local: float | None, last_local: float | None,
              runs: list[_Run]) -> tuple[float, float]:
    """The instants of the first and last backend lines, as near as a zone tells them: a
    local time of an hour the clocks repeat is either pass of it (its first line the earlier,
    its last the later), so that the change between them is in the span."""
    start = min([r.first for r in runs] + (_instants(offset_at, first_local)[:1] if first_local is not None else []))
    last = last_local if last_local is not None else first_local
    end = max([r.last for r in runs] + (_instants(offset_at, last)[-1:] if last is not None else []))
    return start, end + 1


def _instants(offset_at: OffsetAt, local: float) -> list[float]:
    """The instants a zone's clock reads ``local`` (a local time read as UTC), in order: two in
    an hour the clocks repeat; for one they skip, the instant its offset there gives."""
    guesses = {local - offset_at(local + d) * 60 for d in (-_DAY_HALF_S, 0.0, _DAY_HALF_S)}
    found = sorted(t for t in guesses if t + offset_at(t) * 60 == local)
    return found or [local - offset_at(local) * 60]


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# A page's chat:ready line carries the server's clock (server_ts, epoch ms) as it sent it, and
# the server logged sending it in local time, within this of it.
PAGE_PAIR_S = 2.0
PAGE_PAIRS_MAX = 200  # (page lines weighed: evenly spread, enough for a vote)
_QUARTER_HOUR_S = 900.0
_DAY_HALF_S = 14 * 3600.0  # (no zone is further from UTC)


def offset_from_pages(sent_s: np.ndarray, server_s: np.ndarray) -> tuple[int, int] | None:
    """What the backend's offset is off by, in minutes, by the pages' ``chat:ready``
    lines, and how many say so; None when they do not settle it.

    ``sent_s``: the times of the server's ``chat:ready`` sent lines, sorted (epoch seconds,
    as read with the offset in use); ``server_s``: the server's own epoch in each page's
    ``chat:ready`` line. Each page line votes for every whole quarter hour that puts a
    sent line within PAGE_PAIR_S of it; the shift most of them agree on wins, when at least
    half of them and twice as many as any other do."""
    if not len(sent_s) or not len(server_s):
        return None
    picks = server_s[np.linspace(0, len(server_s) - 1, min(len(server_s), PAGE_PAIRS_MAX)).astype(int)]
    votes: dict[float, int] = {}
    for s in picks:
        lo, hi = np.searchsorted(sent_s, [s - _DAY_HALF_S, s + _DAY_HALF_S])
        gaps = sent_s[lo:hi] - s
        quarters = np.round(gaps / _QUARTER_HOUR_S) * _QUARTER_HOUR_S
        for q in set(quarters[np.abs(gaps - quarters) <= PAGE_PAIR_S].tolist()):
            votes[q] = votes.get(q, 0) + 1
    if not votes:
        return None
    ranked = sorted(votes.items(), key=lambda kv: -kv[1])
    best, n = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0
    if n * 2 < len(picks) or n < 2 * runner_up:
        return None
    return int(round(best / 60)), n

"""The backend's time zone, found from the logs themselves (pure: no clock reads).

Backend lines carry the server's local time with no zone. Some lines also carry an epoch
of the same moment (``recv_ts=`` of ``Received chat:connect``; the ``t=`` of a uvicorn
WebSocket request next to a timestamped line): local minus epoch is the UTC offset, rounded
to the nearest 15 minutes because real zones are whole quarter hours. Without pairs the
user's ``--tz`` is used, and without that the machine's zone, with a warning.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo as _IanaZone
from zoneinfo import ZoneInfoNotFoundError

QUARTER_HOUR_S = 900
# A pair further than this from its quarter hour is not the same instant (a stale epoch).
PAIR_TOLERANCE_S = 300
_OFFSET_RE = re.compile(r"(?:UTC|GMT)?\s*(?P<sign>[+-])(?P<h>\d{1,2})(?::?(?P<m>\d\d))?\Z")


@dataclass(frozen=True, slots=True)
class ZoneInfo:
    """The backend's UTC offset and how it was found."""

    offset_minutes: int
    source: str  # "recv_ts" (pairs in the logs) | "tz-option" | "machine"
    pairs: int = 0
    warning: str | None = None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def offset_from_pairs(local_s: Sequence[float], utc_s: Sequence[float]) -> tuple[int | None, int, str | None]:
    """(offset minutes, pairs used, warning) from (local-read-as-UTC, true epoch) pairs.

    The most common quarter-hour offset wins; pairs that disagree are reported.
    """
    votes: Counter[int] = Counter()
    stray = 0
    for local, utc in zip(local_s, utc_s, strict=True):
        diff = local - utc
        quarters = round(diff / QUARTER_HOUR_S)
        if abs(diff - quarters * QUARTER_HOUR_S) > PAIR_TOLERANCE_S:
            stray += 1
            continue
        votes[quarters * 15] += 1
    if not votes:
        return None, 0, (f"{stray} epoch/local pairs gave no consistent zone" if stray else None)
    (offset, used), *others = votes.most_common()
    warning = None
    if others or stray:
        disagree = sum(n for _, n in others) + stray
        warning = f"{disagree} of {used + disagree} epoch/local pairs disagree with UTC{format_offset(offset)}"
    return offset, used, warning


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
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {tz!r} (use an IANA name like Europe/Berlin or +08:00)") from exc
    at = datetime.fromtimestamp(at_utc_s if at_utc_s is not None else 946684800, tz=UTC)
    offset = at.astimezone(zone).utcoffset() or timedelta(0)
    return int(offset.total_seconds() // 60)


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
) -> ZoneInfo:
    """The backend zone: pairs first, else ``tz``, else the machine's offset (warned).

    ``tz`` that contradicts the pairs is reported, not applied: the logs are the evidence.
    """
    offset, pairs, pair_warning = offset_from_pairs(local_s, utc_s)
    if offset is not None:
        warning = pair_warning
        if tz is not None:
            wanted = parse_tz(tz, at_utc_s)
            if wanted != offset:
                note = (f"--tz {tz} (UTC{format_offset(wanted)}) contradicts the logs' own epochs "
                        f"(UTC{format_offset(offset)}); using the logs")
                warning = f"{warning}; {note}" if warning else note
        return ZoneInfo(offset, "recv_ts", pairs, warning)
    if tz is not None:
        return ZoneInfo(parse_tz(tz, at_utc_s), "tz-option", 0, pair_warning)
    warning = (f"backend time zone unknown (no recv_ts in the logs): assuming this machine's "
               f"UTC{format_offset(machine_offset_minutes)}; pass --tz to set it")
    return ZoneInfo(machine_offset_minutes, "machine", 0, warning)

"""The backend zone from epoch/local pairs, --tz, or the machine."""

from __future__ import annotations

import pytest

from jarvis_diag.zone import format_offset, offset_from_pairs, parse_tz, resolve_zone

UTC_S = 1795514619.560  # 2026-11-24 10:03:39.560 UTC


def test_offset_rounds_to_a_quarter_hour() -> None:
    # a line logged 1 ms before its recv_ts in UTC+1, and one 3 s after a client epoch
    offset, pairs, warning = offset_from_pairs([UTC_S + 3600 - 0.001, UTC_S + 3603], [UTC_S, UTC_S])
    assert (offset, pairs, warning) == (60, 2, None)
    assert offset_from_pairs([UTC_S + 5.75 * 3600], [UTC_S])[0] == 345  # Nepal, UTC+05:45
    assert offset_from_pairs([UTC_S - 8 * 3600], [UTC_S])[0] == -480


def test_disagreeing_pairs_are_reported() -> None:
    local = [UTC_S + 3600] * 3 + [UTC_S + 7200, UTC_S + 1500]
    offset, pairs, warning = offset_from_pairs(local, [UTC_S] * 5)
    assert (offset, pairs) == (60, 3)
    assert warning is not None and "2 of 5" in warning


def test_no_pairs_then_tz_then_machine() -> None:
    z = resolve_zone([UTC_S + 3600], [UTC_S], tz="Asia/Shanghai", machine_offset_minutes=0)
    assert (z.offset_minutes, z.source, z.pairs) == (60, "recv_ts", 1)
    assert z.warning is not None and "contradicts" in z.warning
    z = resolve_zone([], [], tz="Europe/Berlin", machine_offset_minutes=0, at_utc_s=UTC_S)
    assert (z.offset_minutes, z.source, z.warning) == (60, "tz-option", None)
    z = resolve_zone([], [], tz="Europe/Berlin", machine_offset_minutes=0, at_utc_s=UTC_S - 150 * 86400)
    assert z.offset_minutes == 120  # summer time in June
    z = resolve_zone([], [], tz=None, machine_offset_minutes=-300)
    assert (z.offset_minutes, z.source) == (-300, "machine")
    assert z.warning is not None and "--tz" in z.warning


@pytest.mark.parametrize(("tz", "minutes"), [("+08:00", 480), ("-0530", -330), ("UTC", 0), ("+8", 480),
                                              ("UTC+01:00", 60), ("Asia/Kolkata", 330)])
def test_parse_tz(tz: str, minutes: int) -> None:
    assert parse_tz(tz) == minutes


@pytest.mark.parametrize("tz", ["Mars/Olympus", "+25:00", "eight"])
def test_parse_tz_refuses_nonsense(tz: str) -> None:
    with pytest.raises(ValueError):
        parse_tz(tz)


def test_format_offset() -> None:
    assert (format_offset(60), format_offset(-330), format_offset(0)) == ("+01:00", "-05:30", "+00:00")

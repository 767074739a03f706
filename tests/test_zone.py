"""The backend zone from epoch/local pairs, --tz, or the machine, and its daylight-saving
changes."""

from __future__ import annotations

import re
import shutil
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo as IanaZone

import numpy as np
import pytest

from jarvis_diag.ingest import ingest
from jarvis_diag.timeline import load_timeline
from jarvis_diag.zone import (
    OffsetChange,
    format_offset,
    local_offsets,
    offset_changes,
    parse_tz,
    resolve_zone,
    zone_rule,
)

UTC_S = 1795514619.560  # 2026-11-24 10:03:39.560 UTC
BACK = 1792890000.0  # 2026-10-25 01:00 UTC: Europe/Berlin from UTC+02:00 to UTC+01:00
FORWARD = 1774746000.0  # 2026-03-29 01:00 UTC: Europe/Berlin from UTC+01:00 to UTC+02:00


def offset_from_pairs(local, utc):
    """(offset, pairs used, disagreeing) of pairs that show one offset."""
    runs, changes, disagree, stray = offset_changes(local, utc)
    assert len(runs) == 1 and not changes
    return runs[0].offset, runs[0].pairs, disagree + stray


def _local(t: float, zone: str = "Europe/Berlin") -> float:
    """The local time a server in ``zone`` writes at ``t``, read as UTC (as the parser does)."""
    local = datetime.fromtimestamp(t, tz=IanaZone(zone)).replace(tzinfo=None)
    return (local - datetime(1970, 1, 1)).total_seconds()


def test_offset_rounds_to_a_quarter_hour() -> None:
    # a line logged 1 ms before its recv_ts in UTC+1, and one 3 s after a client epoch
    offset, pairs, disagree = offset_from_pairs([UTC_S + 3600 - 0.001, UTC_S + 3603], [UTC_S, UTC_S])
    assert (offset, pairs, disagree) == (60, 2, 0)
    assert offset_from_pairs([UTC_S + 5.75 * 3600], [UTC_S])[0] == 345  # Nepal, UTC+05:45
    assert offset_from_pairs([UTC_S - 8 * 3600], [UTC_S])[0] == -480


def test_disagreeing_pairs_are_reported() -> None:
    # a pair an hour off among pairs of one instant is no daylight-saving change: no zone
    # changes its clocks twice within a second
    local = [UTC_S + 3600] * 3 + [UTC_S + 7200, UTC_S + 1500]
    assert offset_from_pairs(local, [UTC_S] * 5) == (60, 3, 2)
    z = resolve_zone(local, [UTC_S] * 5, tz=None, machine_offset_minutes=0)
    assert (z.offset_minutes, z.pairs, z.changes) == (60, 3, ())
    assert z.warning is not None and "2 of 5" in z.warning


def test_a_pair_no_zone_could_give_is_no_change_of_zone() -> None:
    # app.log of two days pieced together, the second day's dates moved but not its epochs:
    # its pairs read UTC+25:00, which no zone is; its lines keep the first day's offset
    first, second = [UTC_S + 60 * k for k in range(5)], [UTC_S + 600 + 60 * k for k in range(5)]
    local = [t + 3600 for t in first] + [t + 86400 + 3600 for t in second]
    z = resolve_zone(local, first + second, tz=None, machine_offset_minutes=0)
    assert (z.offset_minutes, z.pairs, z.changes) == (60, 5, ())
    assert z.warning == "5 of 10 epoch/local pairs disagree with UTC+01:00"


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


@pytest.mark.parametrize("tz", ["Mars/Olympus", "+25:00", "eight", "Europe"])
def test_parse_tz_refuses_nonsense(tz: str) -> None:
    with pytest.raises(ValueError):
        parse_tz(tz)


def test_format_offset() -> None:
    assert (format_offset(60), format_offset(-330), format_offset(0)) == ("+01:00", "-05:30", "+00:00")


def test_pairs_either_side_of_a_change_back_place_it_at_the_zone_rule() -> None:
    # one pair in summer time, two in winter time, an hour apart: no --tz, a machine in UTC
    utc = [BACK - 1800, BACK + 1800, BACK + 3600]
    z = resolve_zone([_local(t) for t in utc], utc, tz=None, machine_offset_minutes=0)
    assert (z.offset_minutes, z.source, z.pairs, z.warning) == (120, "recv_ts", 3, None)
    [change] = z.changes
    assert (change.at, change.offset_minutes) == (BACK, 60)
    assert change.zone is not None and change.zone.startswith("Europe/")
    assert z.last_offset_minutes == 60 and z.offset_at(BACK - 1) == 120 and z.offset_at(BACK) == 60


def test_a_named_zone_that_agrees_with_the_pairs_gives_changes_beyond_them() -> None:
    # pairs only in the spring's summer time; the log runs on into the autumn
    utc = [FORWARD + 3600, FORWARD + 7200]
    local = [_local(t) for t in utc]
    z = resolve_zone(local, utc, tz="Europe/Berlin", machine_offset_minutes=0, at_utc_s=_local(FORWARD - 600),
                     end_utc_s=_local(BACK + 600))
    assert z.offset_minutes == 60 and z.warning is None
    assert [(c.at, c.offset_minutes, c.zone) for c in z.changes] == [(FORWARD, 120, "Europe/Berlin"),
                                                                   (BACK, 60, "Europe/Berlin")]


def test_tz_option_without_pairs_gives_its_changes() -> None:
    z = resolve_zone([], [], tz="Europe/Berlin", machine_offset_minutes=0, at_utc_s=_local(BACK - 7200),
                     end_utc_s=_local(BACK + 7200))
    assert (z.offset_minutes, z.source) == (120, "tz-option")
    assert [(c.at, c.offset_minutes) for c in z.changes] == [(BACK, 60)]
    assert resolve_zone([], [], tz="+02:00", machine_offset_minutes=0, at_utc_s=_local(BACK - 7200),
                        end_utc_s=_local(BACK + 7200)).changes == ()
    assert zone_rule("+02:00") is None and zone_rule("UTC") is None
    with pytest.raises(ValueError):
        zone_rule("Mars/Olympus")


def test_a_change_no_zone_makes_is_believed_only_with_many_pairs_each_side() -> None:
    # UTC+08:00 to UTC+03:00 (a server restarted with another TZ): half-way, with a warning
    utc = [UTC_S + i * 60 for i in range(4)] + [UTC_S + 3600 + i * 60 for i in range(4)]
    local = [t + 480 * 60 for t in utc[:4]] + [t + 180 * 60 for t in utc[4:]]
    z = resolve_zone(local, utc, tz=None, machine_offset_minutes=0)
    [change] = z.changes
    assert change.zone is None and change.offset_minutes == 180
    assert change.at == pytest.approx((utc[3] + utc[4]) / 2)
    assert z.warning is not None and "half-way" in z.warning
    # two pairs after it: taken as pairs that disagree
    z = resolve_zone(local[:6], utc[:6], tz=None, machine_offset_minutes=0)
    assert (z.offset_minutes, z.changes) == (480, ())
    assert z.warning is not None and "2 of 6" in z.warning


def test_the_repeated_hour_takes_the_new_offset_where_the_file_goes_back() -> None:
    # a line every 10 minutes from 00:00 to 02:00 UTC: 02:00..02:50 local twice
    truth = np.arange(BACK - 3600, BACK + 3601, 600.0)
    local = np.array([_local(t) for t in truth])
    offsets = local_offsets(local, 120, [OffsetChange(BACK, 60)])
    assert (local - offsets * 60).tolist() == truth.tolist()
    # a line with no time of its own (NaN) between does not hide where the clock went back
    with_gap = np.insert(local, 7, np.nan)
    got = with_gap - local_offsets(with_gap, 120, [OffsetChange(BACK, 60)]) * 60
    assert np.isnan(got[7]) and np.delete(got, 7).tolist() == truth.tolist()
    # clocks going forward: nothing is read twice
    truth = np.arange(FORWARD - 3600, FORWARD + 3601, 600.0)
    local = np.array([_local(t) for t in truth])
    assert (local - local_offsets(local, 60, [OffsetChange(FORWARD, 120)]) * 60).tolist() == truth.tolist()


def test_a_log_that_begins_in_the_repeated_hour_reads_its_first_pass_before_the_change(tmp_path) -> None:
    # 02:30..02:59 local is the first pass (UTC+02:00), then the clock goes back to 02:10: read
    # as UTC+01:00 from its first line, the first pass came after the second and no change was
    # seen, though the file shows its clock going back
    truth = [BACK - 1800, BACK - 900, BACK - 60, BACK + 600, BACK + 1200, BACK + 7800]
    log = tmp_path / "app.log"
    log.write_text("".join(
        datetime.fromtimestamp(t, tz=IanaZone("Europe/Berlin")).strftime("%Y-%m-%d %H:%M:%S,000")
        + f" - jarvis - INFO - [SocketIO] Client c{i}aaaaaa connected\n" for i, t in enumerate(truth)))
    tl = load_timeline([str(log)], tz="Europe/Berlin")
    clock = tl.to_json_dict()["clock"]
    assert clock["backend_utc_offset_minutes"] == 120
    assert [(c["offset_minutes"], c["zone"]) for c in clock["backend_utc_offset_changes"]] == [(60, "Europe/Berlin")]
    got = sorted(ts.timestamp() for ts in tl.connections["connected_at"])
    assert got == truth


@pytest.mark.parametrize(("tz", "warned"), [(None, "this machine's zone"), ("Asia/Tokyo", "--tz Asia/Tokyo"),
                                            ("Europe/Berlin", None)])
def test_a_backend_log_without_epochs_takes_its_zone_from_the_pages(tmp_path, tz, warned):
    # the real fixture with its recv_ts removed: the pages' chat:ready lines carry the server's
    # clock, and must give the same timeline as the epochs did (not the same desync twice)
    fixture = Path(__file__).parent / "fixtures" / "callback-desync"
    (tmp_path / "app.log").write_text(re.sub(r", recv_ts=[0-9.]+", "", (fixture / "app.log").read_text()))
    shutil.copytree(fixture / "frontend", tmp_path / "frontend")
    assert "recv_ts" not in (tmp_path / "app.log").read_text()
    tl = load_timeline([str(tmp_path)], tz=tz)
    full = load_timeline([str(fixture / "app.log"), str(fixture / "frontend")])
    assert tl.clock["backend_utc_offset_minutes"] == 60
    assert tl.clock["backend_zone_source"] == ("tz-option" if tz == "Europe/Berlin" else "pages")
    said = [w for w in tl.warnings if "contradicts the pages" in w]
    assert bool(said) == bool(warned) and all(warned in w and "UTC+01:00" in w for w in said)
    kept = ("kind", "severity", "at", "delay_ms", "session")
    assert [{k: f[k] for k in kept} for f in tl.to_json_dict()["findings"]] == \
        [{k: f[k] for k in kept} for f in full.to_json_dict()["findings"]]


def test_a_request_line_after_an_idle_server_is_paired_with_the_line_after_it(tmp_path) -> None:
    # uvicorn's request lines have no time of their own: the real fixture's server started,
    # then stayed idle for 10 minutes before its first client (every line from the first
    # request on 600 s later). The WebSocket request's t= was paired with the start-up line
    # before it, 10 minutes too early, and said to disagree with the zone
    fixture = Path(__file__).parent / "fixtures" / "callback-desync" / "backend.log"
    head, _, tail = fixture.read_text().partition('INFO:     127.0.0.1:57692 - "GET /health')
    assert tail

    def later(m: re.Match) -> str:
        t = datetime.strptime(m.group(0), "%Y-%m-%d %H:%M:%S,%f").timestamp() + 600
        return datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S,%f")[:-3]

    tail = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}", later, tail)
    tail = re.sub(r"(recv_ts=|&t=)([0-9.]+)", lambda m: f"{m.group(1)}{float(m.group(2)) + 600:.3f}", tail)
    log = tmp_path / "backend.log"
    log.write_text(head + 'INFO:     127.0.0.1:57692 - "GET /health' + tail)
    tl = load_timeline([str(log)])
    assert tl.clock["backend_utc_offset_minutes"] == 60
    assert tl.clock["backend_zone_pairs"] == 4  # (as in the fixture: the WebSocket request among them)
    assert not [w for w in tl.warnings if "pairs" in w]
    for engine in ("numpy", "reference"):  # (the parsers without the compiled loops)
        got = ingest([str(log)], engine=engine)
        assert (got.zone.offset_minutes, got.zone.pairs, got.zone.warning) == (60, 4, None), engine

"""Fault schedules, durations and network shapes: pure timing."""

import random

import pytest

from jarvis_diag.simulate.faults import FAULTS, fault_schedule, page_hides, parse_duration
from jarvis_diag.simulate.network import SHAPES, NetworkShape, ShapeTimer, shape_from_dict


def steps(schedule):
    return [(s.at_s, s.step) for s in schedule]


def test_freeze_hides_then_freezes_and_thaws_before_showing():
    assert steps(fault_schedule("freeze", 30, random.Random(0))) == [
        (0.0, "hide"), (0.0, "freeze"), (30, "thaw"), (30, "show")]


def test_close_and_offline_windows():
    assert steps(fault_schedule("close", 5, random.Random(0))) == [(0.0, "hide"), (0.0, "close"), (5, "show")]
    assert steps(fault_schedule("offline", 5, random.Random(0))) == [
        (0.0, "hide"), (0.0, "offline"), (5, "online"), (5, "show")]


def test_flaky_drops_at_seeded_random_moments_inside_the_window():
    a = fault_schedule("flaky", 60, random.Random(7), flaky_mean_gap_s=2.0)
    assert a == fault_schedule("flaky", 60, random.Random(7), flaky_mean_gap_s=2.0)
    assert a != fault_schedule("flaky", 60, random.Random(8), flaky_mean_gap_s=2.0)
    assert all(s.step == "reset" and 0 < s.at_s < 60 for s in a)
    assert 10 < len(a) < 60
    assert not page_hides("flaky") and all(page_hides(f) for f in FAULTS if f != "flaky")


def test_flaky_is_bounded_however_small_the_gap():
    assert len(fault_schedule("flaky", 1000, random.Random(0), flaky_mean_gap_s=1e-9, max_resets=50)) == 50


def test_bad_fault_and_durations():
    with pytest.raises(ValueError, match="unknown fault"):
        fault_schedule("meteor", 1, random.Random(0))
    assert parse_duration("30s") == 30 and parse_duration("250ms") == 0.25
    assert parse_duration("2m") == 120 and parse_duration("1.5") == 1.5 and parse_duration(3) == 3
    for bad in ("soon", "-1s", "", "nan"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_shape_timer_adds_latency_keeps_order_and_caps_bandwidth():
    timer = ShapeTimer(NetworkShape("t", latency_ms=100, jitter_ms=50), random.Random(1))
    times = [timer.deliver_at(now, 10) for now in (0.0, 0.001, 0.002, 0.003)]
    assert times == sorted(times) and all(t >= 0.05 for t in times)
    slow = ShapeTimer(NetworkShape("s", bandwidth_kbps=8), random.Random(1))  # 1000 bytes/s
    assert slow.deliver_at(0.0, 500) == pytest.approx(0.5)
    assert slow.deliver_at(0.0, 500) == pytest.approx(1.0)  # queued behind the first
    ideal = ShapeTimer(SHAPES["good"], random.Random(1))
    assert ideal.deliver_at(2.0, 1_000_000) == 2.0 and SHAPES["good"].is_ideal


def test_stalls_hold_back_a_chunk_and_everything_behind_it():
    timer = ShapeTimer(NetworkShape("l", stall_probability=1.0, stall_ms=(500, 500)), random.Random(0))
    assert timer.deliver_at(0.0, 1) == pytest.approx(0.5)
    assert timer.deliver_at(0.1, 1) == pytest.approx(0.6)


def test_network_from_scenario_table():
    edge = shape_from_dict("edge", {"latency_ms": 300, "stall_ms": [10, 20]})
    assert edge.latency_ms == 300 and edge.stall_ms == (10.0, 20.0)
    with pytest.raises(ValueError, match="unknown keys"):
        shape_from_dict("edge", {"loss": 1})
    with pytest.raises(ValueError):
        NetworkShape("bad", latency_ms=-1)

"""Reconnect profiles and their state machines, driven by hand (no sockets, no sleeping)."""

import random
from dataclasses import replace

import pytest

from jarvis_diag.simulate.profiles import PRESETS, Profile, ReconnectMachine, profile_from_dict, reconnect_delays
from jarvis_diag.simulate.scenario import scenario_from_dict


def kinds(actions):
    return [a.kind for a in actions]


def logged(actions):
    return [a.shape for a in actions if a.kind == "log"]


def test_connmgr_delays_double_from_100ms_to_a_2s_cap_for_20_attempts():
    delays = list(reconnect_delays(PRESETS["connmgr"], random.Random(0)))
    assert len(delays) == 20
    assert delays[:6] == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6, 2.0])
    assert max(delays) == pytest.approx(2.0)


def test_legacy_delays_are_socketio_randomised_1s_to_5s_for_10_attempts():
    delays = list(reconnect_delays(PRESETS["legacy"], random.Random(3)))
    assert len(delays) == 10
    assert 0.5 <= delays[0] <= 1.5
    assert all(0.5 <= d <= 5.0 for d in delays)
    assert delays != list(reconnect_delays(PRESETS["legacy"], random.Random(4)))
    assert delays == list(reconnect_delays(PRESETS["legacy"], random.Random(3)))


def test_time_scale_shrinks_every_delay():
    fast = PRESETS["connmgr"].scaled(0.01)
    assert list(reconnect_delays(fast, random.Random(0)))[:3] == pytest.approx([0.001, 0.002, 0.004])


def test_connmgr_suspends_when_hidden_and_reconnects_at_once_when_visible():
    m = ReconnectMachine(PRESETS["connmgr"], random.Random(0))
    assert kinds(m.on("connect"))[-1] == "open"
    assert "resubscribe" in kinds(m.on("connected"))
    acts = m.on("hidden")
    assert m.state == "suspended" and "cm.page_hidden" in logged(acts)
    assert m.on("disconnected") == []  # no retries while hidden
    acts = m.on("visible")
    assert m.state == "reconnecting"
    assert "cm.page_visible" in logged(acts) and "cm.force_disconnect" in logged(acts)
    assert kinds(acts).index("drop") < kinds(acts).index("schedule")
    schedule = next(a for a in acts if a.kind == "schedule")
    assert schedule.delay_s == pytest.approx(0.1) and schedule.attempt == 1
    assert kinds(m.on("timer")) == ["log", "open"]
    m.on("connected")
    assert m.state == "connected"


def test_connmgr_gives_up_after_20_failed_attempts():
    m = ReconnectMachine(PRESETS["connmgr"], random.Random(0))
    m.on("connect")
    m.on("connected")
    acts = m.on("disconnected")
    attempts = 0
    for _ in range(100):
        if "failed" in kinds(acts):
            break
        assert "schedule" in kinds(acts)
        m.on("timer")
        attempts += 1
        acts = m.on("connect_error")
    assert attempts == 20 and m.state == "failed"
    assert "cm.max_retries" in logged(acts)
    # visible again after giving up: start over
    assert "schedule" in kinds(m.on("visible"))


@pytest.mark.parametrize("name", ["connmgr", "legacy"])
def test_an_attempt_that_drops_before_authenticating_is_a_failed_attempt(name):
    # a flaky network: the reconnect's socket opens, then closes before auth_success.
    # Before, the machine waited for a connect_error that never comes and stayed
    # "reconnecting" with no timer: the client never tried again.
    m = ReconnectMachine(PRESETS[name], random.Random(0))
    m.on("connect")
    m.on("connected")
    assert kinds(m.on("disconnected"))[-1] == "schedule"
    assert kinds(m.on("timer"))[-1] == "open"
    acts = m.on("disconnected")
    schedule = [a for a in acts if a.kind == "schedule"]
    assert m.state == "reconnecting" and len(schedule) == 1 and schedule[0].attempt == 2
    assert m.on("disconnected") == []  # (a retry is already scheduled)
    m.on("timer")
    assert "resubscribe" in kinds(m.on("connected")) and m.state == "connected"


def test_connmgr_attempt_dropped_while_hidden_suspends():
    m = ReconnectMachine(PRESETS["connmgr"], random.Random(0))
    m.on("connect")
    m.on("connected")
    m.on("disconnected")
    m.on("timer")
    m.on("hidden")
    assert m.state == "suspended"
    assert m.on("disconnected") == []


def test_legacy_ignores_page_visibility_and_logs_no_connmgr_lines():
    m = ReconnectMachine(PRESETS["legacy"], random.Random(0))
    m.on("connect")
    m.on("connected")
    assert m.on("hidden") == [] and m.on("visible") == []
    acts = m.on("disconnected")
    assert kinds(acts) == ["schedule"] and m.state == "reconnecting"
    assert not any(a.kind == "log" for a in m.on("timer"))


def test_custom_profile_overrides_a_preset_and_rejects_unknown_keys():
    p = profile_from_dict("impatient", {"base": "resume", "max_attempts": 3, "base_delay_ms": 50})
    assert p.name == "impatient" and p.last_seq and p.max_attempts == 3
    assert len(list(reconnect_delays(p, random.Random(0)))) == 3
    with pytest.raises(ValueError, match="unknown keys"):
        profile_from_dict("x", {"retries": 3})
    with pytest.raises(ValueError, match="unknown base"):
        profile_from_dict("x", {"base": "nope"})
    with pytest.raises(ValueError):
        Profile("bad", max_attempts=0)


def test_a_scenario_table_named_after_a_preset_changes_that_preset_where_it_is_used():
    # [profiles.legacy] with no base is the legacy page changed, not a connmgr page named legacy
    legacy = profile_from_dict("legacy", {"max_attempts": 3})
    assert legacy == replace(PRESETS["legacy"], max_attempts=3)
    # the default profile (no `profile =` line) is the changed one, not the unchanged preset
    cfg = scenario_from_dict({"profiles": {"connmgr": {"max_attempts": 3}}})
    assert [(p.name, p.max_attempts) for p in cfg.profiles] == [("connmgr", 3)]
    assert cfg.profile_for(0).max_attempts == 3
    # and so is a network named after a shape
    cfg = scenario_from_dict({"networks": {"good": {"latency_ms": 80}}})
    assert (cfg.network.name, cfg.network.latency_ms) == ("good", 80)

"""Verdicts from recorded observations; client logs and scenario files. Pure."""

import random
import re
from pathlib import Path

import pytest

from jarvis_diag import lines
from jarvis_diag.simulate.clientlog import MOBILE_UA, ClientLog, base36, log_file_name, make_client_id
from jarvis_diag.simulate.scenario import SimConfig, load_scenario, scenario_from_dict
from jarvis_diag.simulate.verdict import SCHEMA, Obs, SessionCycle, cycle_ok, cycle_verdict, summarize

HIDE, SHOW = 1000.0, 1030.0


def verdict(obs, sessions, probe_at=SHOW + 0.6, **kw):
    args = dict(run="r", client=0, client_id="c", profile="connmgr", fault="freeze", network="good", cycle=1,
                background_s=30, hidden_at=HIDE, visible_at=SHOW, deadline_s=10, probe_sent_at=probe_at)
    args.update(kw)
    return cycle_verdict(obs, sessions, **args)


def chat(t, event, seq=None, replay=False, message="m1", content=None, session="A"):
    return Obs(t, "chat", session=session, event=event, seq=seq, replay=replay, message=message, content=content)


def reconnect_obs(session="A"):
    return [Obs(HIDE, "hidden"), Obs(SHOW, "visible"), Obs(SHOW + 0.1, "socket.connected"),
            Obs(SHOW + 0.11, "auth.ok"), Obs(SHOW + 0.12, "connect.sent", session=session),
            Obs(SHOW + 0.13, "ready", session=session, detail={"requested": True}),
            Obs(SHOW + 0.14, "history_end", session=session), Obs(SHOW + 0.15, "settled")]


def session(**kw):
    base = dict(key="A", temp_id="new-1", uuid="uuid-a", background_message="m1", probe_message="p1",
                attached_before_probe=True, seq_check=False)
    base.update(kw)
    return SessionCycle(**base)


def test_recovered_with_times_from_visible_and_content_check():
    obs = [Obs(HIDE - 0.1, "ack", session="A", content="m1"),
           *reconnect_obs(),
           chat(SHOW + 0.135, "chat:user", replay=True, content="m1"),
           chat(SHOW + 0.136, "chat:assistant", replay=True, content="reply 1"),
           chat(SHOW + 0.7, "chat:stream", message="p1"),
           chat(SHOW + 0.8, "chat:assistant", message="p1", content="reply p"),
           chat(SHOW + 0.9, "chat:result", message="p1")]
    r = verdict(obs, [session()])
    assert r["schema"] == SCHEMA and r["recovered"] and cycle_ok(r) and r["failure"] is None
    assert r["times_ms"]["connected"] == pytest.approx(100) and r["times_ms"]["recovery"] == pytest.approx(150)
    s = r["sessions"][0]
    assert s["ready_ms"] == pytest.approx(130) and s["history_end_ms"] == pytest.approx(140)
    assert s["first_live_ms"] == pytest.approx(700) and s["live"] and s["check"] == "content"
    assert (s["produced"], s["lost"], s["duplicated"]) == (1, 0, 0)
    assert r["attaches"][0]["kind"] == "reconnect" and r["attaches"][0]["ms"] == pytest.approx(10)


def test_live_again_counts_from_the_attach_not_from_what_the_dead_socket_still_held():
    # a frozen legacy page wakes, reads the output its old socket buffered, reconnects and
    # re-attaches nothing: its message at +600 ms auto-connects the session, the reply is live
    obs = [Obs(HIDE, "hidden"), Obs(SHOW, "visible"), chat(SHOW + 0.001, "chat:stream", message="m1"),
           Obs(SHOW + 0.1, "socket.connected"), Obs(SHOW + 0.11, "auth.ok"),
           Obs(SHOW + 0.61, "ready", session="A", detail={"requested": False}),
           chat(SHOW + 0.7, "chat:stream", message="p1"), chat(SHOW + 0.9, "chat:result", message="p1")]
    r = verdict(obs, [session(attached_before_probe=False)])
    s = r["sessions"][0]
    assert s["ready_ms"] == pytest.approx(610) and s["first_live_ms"] == pytest.approx(700) and s["live"]
    assert "attached only when a message auto-connected it" in r["failure"]
    # a socket that lived through the background needs no attach: live from the page's return
    alive = verdict([Obs(HIDE, "hidden"), Obs(SHOW, "visible"), chat(SHOW + 0.05, "chat:stream", message="m1"),
                     chat(SHOW + 0.9, "chat:result", message="p1")], [session()])
    assert alive["sessions"][0]["first_live_ms"] == pytest.approx(50)


def test_content_check_counts_a_missing_reply_as_lost_and_a_reply_shown_twice_as_duplicated():
    probe = [chat(SHOW + 0.9, "chat:result", message="p1")]
    lost = verdict([*reconnect_obs(), *probe], [session()])
    assert lost["lost"] == 1 and not cycle_ok(lost) and lost["recovered"]
    twice = [*reconnect_obs(), chat(SHOW + 0.136, "chat:assistant", replay=True, content="r1"),
             chat(SHOW + 0.5, "chat:assistant", content="r1"), *probe]
    assert verdict(twice, [session()])["duplicated"] == 1


def test_a_users_switch_after_coming_back_is_a_switch_not_a_reconnect():
    switch = [Obs(SHOW + 0.5, "connect.sent", session="A", detail={"cause": "switch"}),
              Obs(SHOW + 0.51, "ready", session="A", detail={"requested": True})]
    r = verdict([*reconnect_obs(), *switch, chat(SHOW + 0.9, "chat:result", message="p1")], [session()])
    assert [(a["kind"], a["ms"]) for a in r["attaches"]] == [("reconnect", pytest.approx(10)),
                                                            ("switch", pytest.approx(10))]
    assert r["sessions"][0]["ready_ms"] == pytest.approx(130)  # recovery is the first attach


def test_a_page_that_appends_the_replay_shows_what_it_showed_before_twice():
    # the old frontend: no chat:connect after the reconnect, the message auto-connects it, and
    # the replay of the history is appended after the background message already on screen
    obs = [Obs(HIDE - 0.2, "message.sent", session="A", content="m1"), Obs(HIDE - 0.1, "ack", session="A", content="m1"),
           Obs(HIDE, "hidden"), Obs(SHOW, "visible"), Obs(SHOW + 1.1, "socket.connected"),
           Obs(SHOW + 1.11, "auth.ok"), Obs(SHOW + 1.12, "connect.skipped", session="A"),
           Obs(SHOW + 1.6, "probe.sent", session="A", content="p1"),
           Obs(SHOW + 1.7, "ready", session="A", detail={"requested": False}),
           chat(SHOW + 1.71, "chat:user", replay=True, content="m1"),
           chat(SHOW + 1.72, "chat:assistant", replay=True, content="r1"),
           chat(SHOW + 1.9, "chat:assistant", message="p1", content="rp"), chat(SHOW + 1.91, "chat:result", message="p1")]
    appends = verdict(obs, [session(attached_before_probe=False, replay_appends=True)], probe_at=SHOW + 1.6)
    assert (appends["lost"], appends["duplicated"]) == (0, 1)
    merges = verdict(obs, [session(attached_before_probe=False)], probe_at=SHOW + 1.6)
    assert (merges["lost"], merges["duplicated"]) == (0, 0)


def test_seq_check_finds_gaps_and_repeats():
    obs = [*reconnect_obs()] + [chat(SHOW + 0.2, "chat:stream", seq=q, replay=True) for q in (11, 12, 12, 14)]
    obs.append(chat(SHOW + 0.9, "chat:result", seq=15, message="p1"))
    r = verdict(obs, [session(seq_check=True, seen_before=set(range(1, 11)))])
    s = r["sessions"][0]
    assert s["check"] == "seq" and s["lost_seqs"] == [13] and s["duplicated_seqs"] == [12]
    assert (s["produced"], r["lost"], r["duplicated"]) == (5, 1, 1)
    again = verdict(obs[:-1] + [chat(SHOW + 0.2, "chat:stream", seq=10, replay=True)] + obs[-1:],
                    [session(seq_check=True, seen_before=set(range(1, 11)))])
    assert 10 in again["sessions"][0]["duplicated_seqs"]


def test_seq_check_counts_a_reply_never_made_as_lost():
    # the server restarted before the agent wrote anything of the reply to the message sent
    # just before the background: no seq is missing, but the message is never answered
    obs = [Obs(HIDE - 0.1, "ack", session="A", content="m1", seq=11), *reconnect_obs(),
           chat(SHOW + 0.8, "chat:assistant", seq=12, message="p1", content="reply p"),
           chat(SHOW + 0.9, "chat:result", seq=13, message="p1")]
    r = verdict(obs, [session(seq_check=True, seen_before=set(range(1, 11)))])
    s = r["sessions"][0]
    assert (s["check"], s["lost_seqs"], s["lost"], r["lost"]) == ("seq", [], 1, 1)
    # answered, even in part: nothing lost that the seqs do not show
    answered = verdict(obs + [chat(HIDE + 0.2, "chat:stream", seq=14, replay=True)],
                       [session(seq_check=True, seen_before=set(range(1, 11)))])
    assert answered["lost"] == 0


def test_chunks_of_a_reply_replayed_finished_in_a_history_are_not_lost():
    # the page asked to resume from its last seq, but the server replayed its history of
    # finished messages instead (resumed: false): the reply's streamed chunks, made while the
    # page was away, never arrive one by one, yet the whole reply is in the conversation
    obs = [Obs(HIDE - 0.1, "ack", session="A", content="m1", seq=11), *reconnect_obs()]
    obs[-3].detail = {"requested": True, "resumed": False}
    obs += [chat(SHOW + 0.131, "chat:user", seq=11, replay=True, content="m1"),
            chat(SHOW + 0.132, "chat:assistant", seq=15, replay=True, content="reply 1"),
            chat(SHOW + 0.8, "chat:assistant", seq=18, message="p1", content="reply p"),
            chat(SHOW + 0.9, "chat:result", seq=19, message="p1")]
    r = verdict(obs, [session(seq_check=True, seen_before=set(range(1, 11)))])
    s = r["sessions"][0]
    assert (s["check"], s["lost"], s["duplicated"], r["lost"]) == ("content", 0, 0, 0)
    # the same gaps after a resumed replay are lost: that replay holds every event
    obs[-7].detail = {"requested": True, "resumed": True}
    s = verdict(obs, [session(seq_check=True, seen_before=set(range(1, 11)))])["sessions"][0]
    assert s["check"] == "seq" and s["lost_seqs"] == [12, 13, 14, 16, 17]


def test_a_page_that_sends_no_chat_connect_fails_like_the_field_bug():
    obs = [Obs(HIDE, "hidden"), Obs(SHOW, "visible"), Obs(SHOW + 0.1, "socket.disconnected"),
           Obs(SHOW + 1.1, "socket.connected"), Obs(SHOW + 1.11, "auth.ok"),
           Obs(SHOW + 1.12, "connect.skipped", session="A"), Obs(SHOW + 1.2, "settled"),
           Obs(SHOW + 1.7, "ready", session="A", detail={"requested": False}),
           chat(SHOW + 1.9, "chat:result", message="p1")]
    r = verdict(obs, [session(attached_before_probe=False)], probe_at=SHOW + 1.6)
    assert not r["recovered"] and r["reconnected"]
    assert "sent no chat:connect" in r["failure"] and "auto-connected" in r["failure"]
    assert r["times_ms"]["recovery"] is None and r["attaches"][0]["kind"] == "auto"
    # (no chat:connect was sent for it: no time to measure, not 0 ms)
    assert r["attaches"][0]["ms"] is None


def test_not_connected_again_and_no_probe():
    obs = [Obs(HIDE, "hidden"), Obs(SHOW, "visible"), Obs(SHOW + 0.1, "socket.disconnected"),
           Obs(SHOW + 0.2, "socket.error"), Obs(SHOW + 5, "reconnect.exhausted")]
    r = verdict(obs, [session(probe_message=None, attached_before_probe=False)], probe_at=None)
    assert not r["recovered"]
    assert r["failure"].startswith("not connected again") and "exhausted" in r["failure"]


def test_connected_again_then_lost_again_is_not_called_never_connected():
    # a reloading server drops the socket again while the probe's reply is under way
    obs = [*reconnect_obs(), Obs(SHOW + 0.7, "socket.disconnected")]
    r = verdict(obs, [session()])
    assert r["failure"].startswith("connected again after 110 ms, then lost the connection again before the "
                                   "cycle ended")


def test_a_page_that_gave_up_while_offline_and_came_back_online_is_judged_by_its_recovery():
    obs = [Obs(HIDE, "hidden"), Obs(HIDE + 0.1, "socket.disconnected"), Obs(HIDE + 2, "reconnect.exhausted"),
           *reconnect_obs()[1:],
           chat(SHOW + 0.136, "chat:assistant", replay=True, content="m1"),
           chat(SHOW + 0.9, "chat:result", message="p1")]
    r = verdict(obs, [session()])
    assert r["recovered"] and r["failure"] is None
    # gave up again after its last socket: a failure
    r = verdict([*obs, Obs(SHOW + 5, "socket.disconnected"), Obs(SHOW + 8, "reconnect.exhausted")], [session()])
    assert not r["recovered"] and "exhausted" in r["failure"]


def test_summary_groups_records():
    ok = verdict([*reconnect_obs(), chat(SHOW + 0.136, "chat:assistant", replay=True, content="r"),
                  chat(SHOW + 0.9, "chat:result", message="p1")], [session()])
    bad = verdict([*reconnect_obs()], [session()])
    s = summarize([ok, bad])
    assert s["cycles"] == 2 and s["ok"] == 1 and s["rows"][0]["recovered"] == 1
    # only recovered cycles are timed: a failed one whose sessions were ready does not count
    assert bad["times_ms"]["recovery"] is not None and not bad["recovered"]
    assert s["rows"][0]["recovery_p50_ms"] == ok["times_ms"]["recovery"]
    assert summarize([bad])["rows"][0]["recovery_p50_ms"] is None


def test_client_id_and_log_file_have_the_real_shapes(tmp_path: Path):
    cid = make_client_id(MOBILE_UA, 1795514611000, random.Random(1))
    assert re.fullmatch(r"Mozilla50iPhoneCPUiP-[0-9a-z]+-[0-9a-z]{4}", cid)
    assert cid.split("-")[1] == base36(1795514611000)
    assert log_file_name("a/b-c", 1795514611.0) == "20261124_a_b-c.log"
    log = ClientLog(cid, tmp_path / "frontend", clock=lambda: 1795514611.25)
    log.log("cm.page_hidden")
    log.log("fe.emit_connect", session="new-1795", transport="websocket")
    log.flush()
    path = tmp_path / "frontend" / f"20261124_{cid}.log"
    text = path.read_text().splitlines()
    assert text[0] == "[2026-11-24T10:03:31.250Z] [DEBUG] [ConnMgr] Page hidden"
    shape, fields = lines.match("frontend", text[1].split("] ", 2)[2])
    assert shape.kind == "chat.connect.sent" and fields["session"] == "new-1795"


def test_scenario_file_sets_profiles_networks_and_steps(tmp_path: Path):
    f = tmp_path / "s.toml"
    f.write_text("""
seed = 9
clients = 3
profile = ["legacy", "fast"]
network = "edge"
deadline = "5s"
[profiles.fast]
base = "resume"
base_delay_ms = 10
[networks.edge]
latency_ms = 30
[[steps]]
action = "connect"
[[steps]]
action = "open"
[[steps]]
action = "send"
session = 0
[[steps]]
action = "background"
for = "2s"
fault = "close"
""")
    cfg = load_scenario(f, SimConfig(url="http://x", token="t"))
    assert cfg.seed == 9 and cfg.clients == 3 and cfg.deadline_s == 5 and cfg.network.latency_ms == 30
    assert [cfg.profile_for(i).name for i in range(3)] == ["legacy", "fast", "legacy"]
    setup, cycle = cfg.script()
    assert [s.action for s in setup] == ["connect", "open"]
    assert [(s.action, s.fault, s.for_s) for s in cycle] == [("send", None, 0.0), ("background", "close", 2.0)]


@pytest.mark.parametrize("data,msg", [
    ({"clientz": 1}, "unknown keys"),
    ({"profile": "nope"}, "unknown profile"),
    ({"steps": [{"action": "fly"}]}, "action must be"),
    ({"steps": [{"action": "background"}]}, "needs `for`"),
    ({"steps": [{"action": "open"}]}, "no `background`"),
    ({"steps": [{"action": "background", "for": "1s"}, {"action": "open"}]}, "must come before"),
])
def test_bad_scenarios_say_what_is_wrong(data, msg):
    with pytest.raises(ValueError, match=msg):
        scenario_from_dict(data)


def test_bad_toml_is_one_clear_error(tmp_path: Path):
    f = tmp_path / "bad.toml"
    f.write_text("clients = = 3")
    with pytest.raises(ValueError, match="not valid TOML"):
        load_scenario(f)
    with pytest.raises(ValueError, match="cannot read"):
        load_scenario(tmp_path / "missing.toml")


def test_a_session_the_page_re_attached_and_then_lost_is_not_said_to_be_attached_only_by_a_message():
    # the page re-attached A (its chat:ready came), the attach of B on the same socket dropped
    # A's callback on a one-live-session server, and the probe auto-connected A: 'attached only
    # when a message auto-connected it' read as a page that never asked
    obs = [Obs(HIDE, "hidden"), Obs(SHOW, "visible"), Obs(SHOW + 0.1, "socket.connected"),
           Obs(SHOW + 0.11, "auth.ok"), Obs(SHOW + 0.12, "connect.sent", session="A"),
           Obs(SHOW + 0.13, "ready", session="A"),
           Obs(SHOW + 0.61, "ready", session="A", detail={"requested": False}),
           chat(SHOW + 0.7, "chat:stream", message="p1"), chat(SHOW + 0.9, "chat:result", message="p1")]
    r = verdict(obs, [session()])
    assert "re-attached, yet the server had dropped its callback by the user's message" in r["failure"]
    assert "attached only when" not in r["failure"]

"""simulate-mobile --browser: a real Chromium hidden, frozen and cut off, then measured."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from jarvis_diag import lines
from jarvis_diag.simulate.browser import (
    CHROMIUM,
    AppSpec,
    BrowserConfig,
    frontend_log_text,
    page_query,
    page_url,
    run_browser_simulation,
    view_counts,
)
from jarvis_diag.simulate.results import read_results
from jarvis_diag.simulate.verdict import cycle_ok
from server.testing import running_server

# a 2 s ping window (1 + 1) so "past the ping window" takes seconds, not 85 s
SERVER = {"ping_interval": 1.0, "ping_timeout": 1.0, "agent_pace": 0.01}


def _frontend_lines_all_known(out: Path) -> None:
    files = list((out / "frontend").glob("*.log"))
    assert len(files) == 1, files
    for text in files[0].read_text().splitlines():
        message = re.match(r"^\[[^\]]+\] \[[A-Z]+\] (.*)$", text).group(1)
        assert lines.match("frontend", message) is not None, text


# ---- pure parts ------------------------------------------------------------------------
def test_page_url_goes_through_the_proxy_and_keeps_the_query():
    assert page_url("http://127.0.0.1:38010", "http://127.0.0.1:5000", {"profile": "legacy"}) == \
        "http://127.0.0.1:5000/?profile=legacy"
    assert page_url("http://h:1/app/?x=1", "http://127.0.0.1:5000", {}) == "http://127.0.0.1:5000/app/?x=1"


def test_view_counts_lost_and_shown_twice():
    bg, probe = "cycle 1 background s1 aa", "cycle 1 probe s1 bb"
    good = [{"role": "user", "text": bg}, {"role": "assistant", "text": f"re {bg}", "final": True},
            {"role": "user", "text": probe}, {"role": "assistant", "text": f"re {probe}", "final": True}]
    assert view_counts(good, bg, probe) == (0, 0)
    assert view_counts(good[:1] + good[2:], bg, probe) == (1, 0)  # the background reply never shown
    unfinished = [good[0], {"role": "assistant", "text": "re cy", "final": False}] + good[2:]
    assert view_counts(unfinished, bg, probe) == (1, 0)
    replayed = good + good[:2]  # a re-attach that appended the replay
    assert view_counts(replayed, bg, probe) == (0, 2)


def test_frontend_log_text_is_the_server_line_form():
    text = frontend_log_text([{"timestamp": "2026-01-30T01:29:39.290Z", "level": "DEBUG",
                               "message": "[ConnMgr] Page hidden"}])
    assert text == "[2026-01-30T01:29:39.290Z] [DEBUG] [ConnMgr] Page hidden\n"


def test_app_spec_from_toml_and_json(tmp_path: Path):
    toml = tmp_path / "app.toml"
    toml.write_text('[app]\ntoken_selector = "#tok"\nready_log = "chat:ready"\nreply_selector = ".done"\n'
                    'query = {theme = "dark"}\n')
    spec = AppSpec.load(toml)
    assert spec.token_selector == "#tok" and spec.ready_log == "chat:ready" and spec.query == {"theme": "dark"}
    js = tmp_path / "app.json"
    js.write_text(json.dumps({"ready_selector": ".ready", "reply_selector": ".done"}))
    assert AppSpec.load(js).ready_selector == ".ready"
    bad = tmp_path / "bad.toml"
    checks = 'reply_selector = ".done"\nready_log = "x"\n'
    # (without a readiness and a reply check every cycle 'recovered', even a page with no
    # socket; a selector of another type failed in the page, seconds in)
    for text, message in (("nope = 1", "unknown setting"), ("ready_log = '('\nreply_selector = '.d'",
                                                            "not a regular expression"),
                          ("[app", "not valid TOML"), ('reply_selector = ".done"', "give ready_selector or ready_log"),
                          ('ready_selector = ".r"', "give reply_selector"),
                          (checks + "ready_selector = 5", "ready_selector must be a string (a CSS selector), not int"),
                          (checks + 'query = {a = 1}', "query must be a table of strings")):
        bad.write_text(text)
        with pytest.raises(ValueError, match=re.escape(message)):
            AppSpec.load(bad)
    with pytest.raises(ValueError, match="No such file"):
        AppSpec.load(tmp_path / "missing.toml")


def test_config_rejects_what_a_browser_run_cannot_do():
    for kwargs, message in (({"fault": "meteor"}, "unknown fault"), ({"clients": 50}, "--clients"),
                            ({"profile": "custom"}, "no profile"), ({"url": "ws://x"}, "http://")):
        cfg = BrowserConfig(**{"url": "http://127.0.0.1:1", "token": "t", **kwargs})
        with pytest.raises(ValueError, match=message):
            cfg.validate()
    assert page_query(BrowserConfig(url="http://h:1", token="t", profile="legacy")) == {"profile": "legacy"}
    assert page_query(BrowserConfig(url="http://h:1", token="t", time_scale=0.25, connect_timeout_s=3)) == \
        {"profile": "connmgr", "time_scale": "0.25", "connect_timeout_ms": "3000"}


def test_what_a_browser_run_would_drop_is_refused(tmp_path: Path):
    scenario = tmp_path / "s.toml"
    scenario.write_text('[[steps]]\naction = "connect"\n[[steps]]\naction = "open"\n'
                        '[[steps]]\naction = "background"\nfor = "1s"\n')
    two = tmp_path / "two.toml"
    two.write_text('profile = ["legacy", "connmgr"]\n')
    # the page's connmgr is its own: a scenario's changes to the preset would not reach it
    changed = tmp_path / "changed.toml"
    changed.write_text('profile = "connmgr"\n[profiles.connmgr]\nmax_attempts = 3\n')
    app = tmp_path / "app.toml"
    app.write_text('[app]\nready_log = "ready"\nreply_selector = ".done"\n')
    for args, message in ((["--scenario", str(scenario)], "[[steps]]"), (["--scenario", str(two)], "one page profile"),
                          (["--existing", "3f2a"], "--existing"), (["--scenario", str(changed)], "[profiles.connmgr]"),
                          (["--browser-app", str(app), "--time-scale", "0.5"], "its own pace")):
        out = subprocess.run([sys.executable, "-m", "jarvis_diag", "simulate-mobile", "http://127.0.0.1:9", "--token",
                              "t", "--browser", "--out", str(tmp_path / "o"), *args],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 2 and out.stderr.count("\n") == 1 and message in out.stderr, out.stderr
        assert not (tmp_path / "o").exists()


def test_a_new_chat_waits_for_a_millisecond_no_other_pages_chat_is_named_by():
    from jarvis_diag.simulate.browser import _NewSessions

    gate = _NewSessions()
    assert gate.clear_of(1000)
    gate.used.add(1005)
    # (a click lands some ms after the clock is read: a name up to the margin later is taken too)
    assert not gate.clear_of(1000) and not gate.clear_of(1005) and not gate.clear_of(1006)
    assert gate.clear_of(1007) and gate.clear_of(1005 - gate.MARGIN_MS - 1)
    assert not gate.clear_of(1005 - gate.MARGIN_MS)


# ---- real Chromium ---------------------------------------------------------------------
@pytest.mark.browser
async def test_connmgr_recovers_both_sessions_from_freeze_and_offline_with_nothing_lost(tmp_path: Path):
    async with running_server(**SERVER) as srv:
        cfg = BrowserConfig(url=srv.url, token=srv.token, profile="connmgr", sessions=2, cycles=1,
                            background_s=3.0, fault="offline", deadline_s=10.0)
        result = await run_browser_simulation(cfg, tmp_path, run_id="t")
    assert result.client_errors == []
    [record] = read_results(tmp_path / "results.jsonl")
    assert record == result.records[0]
    assert cycle_ok(record), record["failure"]
    assert record["recovered"] and record["lost"] == 0 and record["duplicated"] == 0
    assert record["reconnected"]  # the connection really died: a new socket was made
    assert 0 < record["times_ms"]["connected"] < 5000
    assert len(record["sessions"]) == 2
    for s in record["sessions"]:
        assert s["live"] and s["ready_ms"] is not None and s["ready_ms"] < 5000
        assert s["check"] == "content" and s["produced"] == 1
    assert [a["kind"] for a in record["attaches"]].count("reconnect") >= 2
    assert not list(tmp_path.glob("*.png"))  # screenshots only for failed cycles
    _frontend_lines_all_known(tmp_path)
    text = next((tmp_path / "frontend").glob("*.log")).read_text()
    for expected in ("[ConnMgr] Page hidden", "[ConnMgr] Page visible", "[ConnMgr] Network offline",
                     "Re-sending 2 subscriptions after reconnect"):
        assert expected in text


@pytest.mark.browser
async def test_legacy_past_the_ping_window_fails_and_is_reported(tmp_path: Path):
    async with running_server(**SERVER) as srv:
        cfg = BrowserConfig(url=srv.url, token=srv.token, profile="legacy", sessions=2, cycles=1,
                            background_s=3.5, fault="freeze", deadline_s=6.0)
        result = await run_browser_simulation(cfg, tmp_path, run_id="t")
        app_log = srv.app_log.read_text()
    (tmp_path / "app.log").write_text(app_log)
    assert result.client_errors == []
    [record] = result.records
    assert not record["recovered"] and not cycle_ok(record)
    assert "sent no chat:connect" in record["failure"]
    assert record["reconnected"]  # Socket.IO's own reconnection worked; the sessions did not come back
    assert all(s["ready_ms"] is None or s["ready_ms"] > record["times_ms"]["probe_sent"] for s in record["sessions"])
    assert record["duplicated"] > 0  # the auto-connect's history replay appended to the view
    assert (tmp_path / record["screenshot"]).stat().st_size > 10_000
    # the server saw it the way the real one did: a message with no callback, then auto-connect
    assert "has no callback for session" in app_log and "auto-connecting" in app_log
    _frontend_lines_all_known(tmp_path)
    # and the timeline tells the same story from the page's log and the server's
    out = subprocess.run([sys.executable, "-m", "jarvis_diag", "timeline", str(tmp_path / "frontend"),
                          str(tmp_path / "app.log"), "--format", "json"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    timeline = json.loads(out.stdout)
    assert all(s["unknown"] == 0 for s in timeline["sources"])
    assert {"callback-desync", "missing-resubscribe"} & {f["kind"] for f in timeline["findings"]}


@pytest.mark.browser
async def test_a_scenarios_clock_skew_stagger_time_scale_and_network_reach_the_pages(tmp_path: Path):
    # what the virtual phones take from a scenario, the pages take too, with the same seeded draws
    from jarvis_diag.simulate.browser_command import browser_config
    from jarvis_diag.simulate.faults import clock_skew_s, stagger_delay_s
    from jarvis_diag.simulate.scenario import SimConfig, scenario_from_dict
    from jarvis_diag.timeline import load_timeline

    scenario = {"seed": 6, "clients": 2, "background": "1s", "fault": "offline", "deadline": "8s", "time_scale": 0.5,
                "stagger": "2s", "clock_skew_ms": [-3000, 3000], "network": "near",
                "networks": {"near": {"latency_ms": 5}}}
    async with running_server(**SERVER) as srv:
        cfg = browser_config(scenario_from_dict(scenario, SimConfig(url=srv.url, token=srv.token)), None, CHROMIUM)
        result = await run_browser_simulation(cfg, tmp_path, run_id="t")
        tl = load_timeline([tmp_path / "frontend", srv.app_log])
    assert result.client_errors == []
    records = sorted(result.records, key=lambda r: r["client"])
    assert [(cycle_ok(r), r["network"]) for r in records] == [(True, "near")] * 2, [r["failure"] for r in records]
    # the verdict's times stay on the true clock, though the pages' clocks are seconds off
    assert all(0 <= r["times_ms"]["recovery"] < 3000 for r in records)
    clients = tl.to_json_dict()["clock"]["clients"]
    for r in records:
        skew_ms = clock_skew_s(6, r["client"], (-3000, 3000)) * 1000
        assert abs(skew_ms) > 1000  # (seed 6: -1799 and +1789 ms)
        assert abs(clients[r["client_id"]]["skew_ms"] - skew_ms) <= 5, (clients[r["client_id"]], skew_ms)
        log = next((tmp_path / "frontend").glob(f"*{r['client_id']}.log")).read_text().splitlines()
        # reconnect delays scaled: attempt 1 in 50 ms, not 100
        assert any(line.endswith("Scheduling reconnect in 50ms (attempt 1)") for line in log)
        # the first cycle started after the page's stagger (seed 6: client 1 waits 1.1 s)
        ready = next(line for line in log if "RECEIVED chat:ready" in line)
        sent = next(line for line in log if "send EMIT: chat:message" in line)
        gap_s = (datetime.fromisoformat(sent[1:25]) - datetime.fromisoformat(ready[1:25])).total_seconds()
        assert gap_s >= stagger_delay_s(6, r["client"], 2.0) - 0.001, (gap_s, r["client"])


async def _one_close_cycle_each_way(tmp_path: Path, profile: str, deadline_s: float) -> tuple[dict, dict]:
    """The record of one 1 s close cycle of one session with ``profile``, by the browser and by a
    virtual client, against the same server (their logs in tmp_path / browser, virtual)."""
    from jarvis_diag.simulate.run import run_simulation
    from jarvis_diag.simulate.scenario import SimConfig, scenario_from_dict

    async with running_server(**SERVER) as srv:
        cfg = BrowserConfig(url=srv.url, token=srv.token, profile=profile, sessions=1, cycles=1,
                            background_s=1.0, fault="close", deadline_s=deadline_s)
        browser = await run_browser_simulation(cfg, tmp_path / "browser", run_id="b")
        sim = scenario_from_dict({"profile": profile}, SimConfig(url=srv.url, token=srv.token, sessions=1,
                                                                  background_s=1.0, fault="close",
                                                                  deadline_s=deadline_s, seed=1))
        virtual = await run_simulation(sim, tmp_path / "virtual")
    [b], [v] = browser.records, virtual.records
    return b, v


@pytest.mark.browser
async def test_a_browser_cycle_records_the_attaches_the_virtual_client_records(tmp_path: Path):
    b, v = await _one_close_cycle_each_way(tmp_path, "connmgr", 8.0)
    assert cycle_ok(b) and cycle_ok(v), (b["failure"], v["failure"])
    # the page came back and attached its one chat again; the probe typed into the chat on
    # screen needs no tap on its tab, nor a second chat:connect
    assert [a["kind"] for a in b["attaches"]] == [a["kind"] for a in v["attaches"]] == ["reconnect"]
    # the same script: one message before the background, one after (no extra greeting first)
    for out in (tmp_path / "browser", tmp_path / "virtual"):
        (log,) = (out / "frontend").glob("*.log")
        assert log.read_text().count("send EMIT: chat:message") == 2, out


@pytest.mark.browser
async def test_legacy_duplicates_are_counted_alike_by_the_browser_and_the_virtual_client(tmp_path: Path):
    b, v = await _one_close_cycle_each_way(tmp_path, "legacy", 6.0)
    # both pages show the message sent before the background twice once the message after
    # it auto-connects the session and its history replay is appended
    assert b["duplicated"] >= 1 and v["duplicated"] >= 1
    # and both say, after the reconnect, that they keep their handler and send nothing
    for out in (tmp_path / "browser", tmp_path / "virtual"):
        (log,) = (out / "frontend").glob("*.log")
        assert "Re-sending 0 subscriptions after reconnect (skipped 1)" in log.read_text()
    assert "the page kept its handler" in b["failure"] and "the page kept its handler" in v["failure"]


@pytest.mark.browser
async def test_each_fault_does_to_the_page_what_it_does_to_a_virtual_client(tmp_path: Path):
    async with running_server(**SERVER) as srv:
        # a freeze shorter than the ping window: the socket lives, the old page has nothing to do
        short_freeze = BrowserConfig(url=srv.url, token=srv.token, profile="legacy", sessions=1, cycles=1,
                                     background_s=0.5, fault="freeze", deadline_s=6.0)
        frozen = await run_browser_simulation(short_freeze, tmp_path / "freeze", run_id="f")
        # flaky: the page stays in use (never hidden, never frozen) while its connections drop
        flaky_cfg = BrowserConfig(url=srv.url, token=srv.token, profile="connmgr", sessions=1, cycles=1,
                                  background_s=3.0, fault="flaky", deadline_s=6.0, seed=5)
        flaky = await run_browser_simulation(flaky_cfg, tmp_path / "flaky", run_id="k")
    [f], [k] = frozen.records, flaky.records
    assert cycle_ok(f), f["failure"]
    assert not f["reconnected"] and f["attaches"] == []
    assert cycle_ok(k), k["failure"]
    assert k["reconnected"]  # (seed 5: three resets in the window, as a virtual client gets them)
    (log,) = (tmp_path / "flaky" / "frontend").glob("*.log")
    assert "[ConnMgr] Page hidden" not in log.read_text()


@pytest.mark.browser
async def test_the_page_goes_to_the_background_once_the_server_has_its_messages(tmp_path: Path):
    # on a slow network a message still on its way when the network drops is not "lost
    # output": the virtual clients wait for chat:user_ack before the background, so does the page
    async with running_server(**SERVER) as srv:
        cfg = BrowserConfig(url=srv.url, token=srv.token, profile="connmgr", sessions=1, cycles=1,
                            background_s=1.0, fault="offline", network="3g", deadline_s=8.0)
        result = await run_browser_simulation(cfg, tmp_path, run_id="t")
    [record] = result.records
    assert cycle_ok(record), (record["failure"], record["lost"])
    assert record["sessions"][0]["produced"] == 1 and record["lost"] == 0


@pytest.mark.browser
async def test_resume_checks_every_seq_through_an_offline_cycle(tmp_path: Path):
    async with running_server(**SERVER) as srv:
        cfg = BrowserConfig(url=srv.url, token=srv.token, profile="resume", sessions=1, cycles=1,
                            background_s=1.0, fault="offline", deadline_s=8.0)
        result = await run_browser_simulation(cfg, tmp_path, run_id="t")
    [record] = result.records
    assert cycle_ok(record), record["failure"]
    [s] = record["sessions"]
    assert s["check"] == "seq" and s["produced"] > 0 and s["lost_seqs"] == [] and s["duplicated_seqs"] == []


@pytest.mark.browser
async def test_resume_answered_with_a_history_counts_no_chunk_of_a_finished_reply_lost(tmp_path: Path):
    # a server that ignores last_seq replays its history of finished messages: the reply made
    # while the page was away is shown whole, its streamed chunks never arrive one by one
    async with running_server(bugs=["history-window"], **SERVER) as srv:
        cfg = BrowserConfig(url=srv.url, token=srv.token, profile="resume", sessions=1, cycles=1,
                            background_s=1.0, fault="close", deadline_s=8.0)
        result = await run_browser_simulation(cfg, tmp_path, run_id="t")
    [record] = result.records
    [s] = record["sessions"]
    assert (s["check"], s["produced"], s["lost"]) == ("content", 1, 0), record["failure"]


@pytest.mark.browser
def test_cli_browser_run_and_its_errors(tmp_path: Path):
    from server.testing import ServerProcess

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "jarvis_diag", "simulate-mobile", *args], capture_output=True,
                              text=True, timeout=120)

    bad_app = tmp_path / "app.toml"
    bad_app.write_text("nonsense = 1\n")
    out = cli("http://127.0.0.1:9", "--token", "t", "--browser-app", str(bad_app), "--out", str(tmp_path / "a"))
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "unknown setting" in out.stderr
    # a server that cannot be used is said as for virtual clients, naming the URL given
    out = cli("http://127.0.0.1:9", "--token", "t", "--browser", "--out", str(tmp_path / "u"))
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "cannot reach http://127.0.0.1:9" in out.stderr
    with ServerProcess(ping_interval=1.0, ping_timeout=1.0) as proc:
        out = cli(proc.url, "--token", "wrong", "--browser", "--out", str(tmp_path / "b"))
        assert out.returncode == 2 and "refused the token" in out.stderr and "Traceback" not in out.stderr
        out = cli(proc.url, "--token", proc.token, "--browser", "--sessions", "1", "--background", "1s",
                  "--fault", "close", "--deadline", "8s", "--format", "json", "--out", str(tmp_path / "c"))
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["all_ok"] and summary["cycles"] == 1
    assert read_results(tmp_path / "c" / "results.jsonl")[0]["fault"] == "close"


@pytest.mark.browser
async def test_a_users_own_app_is_driven_by_its_config(tmp_path: Path):
    # The reference page driven only through selectors and its console, as any app would be.
    app_file = tmp_path / "app.toml"
    app_file.write_text(
        '[app]\n'
        'ready_log = "RECEIVED chat:ready"\n'
        'reply_selector = ".msg-assistant[data-final=\'1\']"\n'
        'query = {profile = "connmgr"}\n')
    async with running_server(**SERVER) as srv:
        cfg = BrowserConfig(url=srv.url, token=srv.token, profile="my-app", sessions=2, cycles=1, background_s=1.0,
                            fault="offline", deadline_s=8.0, app=AppSpec.load(app_file))
        result = await run_browser_simulation(cfg, tmp_path / "out", run_id="t")
        app_log = srv.app_log.read_text()
    assert result.client_errors == []
    [record] = result.records
    assert record["recovered"], record["failure"]
    assert record["profile"] == "my-app"
    assert all(s["check"] == "none" and s["live"] for s in record["sessions"])
    assert 0 < record["times_ms"]["recovery"] < 8000
    assert app_log.count("Chat connect DONE") >= 4  # two sessions opened, both attached again after the cycle
    assert not (tmp_path / "out" / "frontend").exists()  # an app's own log is not ours to write


@pytest.mark.browser
async def test_a_users_app_whose_selector_matches_nothing_names_it(tmp_path: Path):
    # a --browser-app whose token field is not on the page: the run said only
    # 'TimeoutError: Page.fill: Timeout 5000ms exceeded.', not which of its selectors
    app_file = tmp_path / "app.toml"
    app_file.write_text('[app]\ntoken_selector = "#no-such-token"\nready_log = "RECEIVED chat:ready"\n'
                        'reply_selector = ".msg-assistant"\n')
    async with running_server(**SERVER) as srv:
        cfg = BrowserConfig(url=srv.url, token=srv.token, profile="my-app", sessions=1, cycles=1, background_s=1.0,
                            fault="close", deadline_s=3.0, app=AppSpec.load(app_file))
        result = await run_browser_simulation(cfg, tmp_path / "out", run_id="t")
    [error] = result.client_errors
    assert error.startswith("client 0: ") and '"#no-such-token"' in error, error
    assert "\n" not in error
    [record] = result.records
    assert record["failure"] == error.removeprefix("client 0: ")


@pytest.mark.browser
async def test_the_page_in_chromium_does_not_fall_back_to_polling_when_websocket_is_refused(tmp_path: Path):
    # the reference page's io({transports: ['websocket', 'polling']}) through a proxy that
    # answers every WebSocket upgrade 403 and passes polling: no socket, each attempt
    # 'websocket error', as a virtual client (and the official client) gets it
    async with running_server(**SERVER) as srv:
        cfg = BrowserConfig(url=srv.url, token=srv.token, profile="connmgr", sessions=1, cycles=1,
                            background_s=0.5, fault="no-websocket", deadline_s=3.0)
        result = await run_browser_simulation(cfg, tmp_path / "b", run_id="w")
    [r] = result.records
    assert r["fault"] == "no-websocket" and not r["recovered"] and not r["reconnected"]
    assert r["failure"].startswith("not connected again (last attempt: websocket error)"), r["failure"]
    (log,) = (tmp_path / "b" / "frontend").glob("*.log")
    text = log.read_text()
    assert "[SocketIO] Connection error: websocket error" in text and "transport=polling" not in text


@pytest.mark.browser
async def test_pages_making_chats_at_once_each_get_their_own(tmp_path: Path):
    # pages name a new chat new-<Date.now()> and the server maps the name to one session: two
    # pages of one browser on the same clock made one chat in the same ms, and shared it (one
    # run in four; the phones then lost each other's replies on a correct server)
    async with running_server(**SERVER) as srv:
        cfg = BrowserConfig(url=srv.url, token=srv.token, profile="connmgr", clients=3, sessions=2, cycles=1,
                            background_s=1.0, fault="close", deadline_s=10.0, clock_skew_ms=(0.0, 0.0))
        result = await run_browser_simulation(cfg, tmp_path, run_id="t")
    assert result.client_errors == []
    sessions = [s for r in result.records for s in r["sessions"]]
    assert len(sessions) == 6
    assert len({s["temp_id"] for s in sessions}) == 6 and len({s["session"] for s in sessions}) == 6, sessions
    assert all(cycle_ok(r) for r in result.records), [r["failure"] for r in result.records]


def test_an_app_with_no_login_needs_no_token_and_one_that_signs_in_says_so(tmp_path: Path):
    # `--browser-app` of an app with no login asked for a token all the same ('no token: give
    # --token T'), a dummy one given to get past it
    from jarvis_diag.errors import DiagError
    from jarvis_diag.simulate.browser_command import browser_config
    from jarvis_diag.simulate.scenario import SimConfig

    checks = 'ready_log = "ready"\nreply_selector = ".done"\n'
    open_app = tmp_path / "open.toml"
    open_app.write_text('token_selector = ""\n' + checks)
    cfg = browser_config(SimConfig(url="http://127.0.0.1:9", token=""), open_app, CHROMIUM)
    assert cfg.token == "" and cfg.profile == "open"
    login = tmp_path / "login.toml"
    login.write_text('token_selector = "#token"\n' + checks)
    with pytest.raises(DiagError, match=r"login\.toml: the app signs in \(token_selector '#token'\): give --token T"):
        browser_config(SimConfig(url="http://127.0.0.1:9", token=""), login, CHROMIUM)
    # the command no longer refuses before reading the app
    out = subprocess.run([sys.executable, "-m", "jarvis_diag", "simulate-mobile", "http://127.0.0.1:9",
                          "--browser-app", str(login), "--out", str(tmp_path / "o")],
                         capture_output=True, text=True, timeout=60, env={**os.environ, "JARVIS_TOKEN": ""})
    assert out.returncode == 2 and "the app signs in" in out.stderr and out.stderr.count("\n") == 1, out.stderr

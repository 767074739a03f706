"""`timeline` says how to reproduce what it found: the sample set of the same mechanism, and
the server and phones to run by hand (its scenario.toml), which make those findings again."""

from __future__ import annotations

import dataclasses
import io
import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

import jarvis_diag as jd
from jarvis_diag.render import command_lines, render_timeline
from jarvis_diag.reproduce import SET_OF_FIX, SET_OF_KIND, SWITCH_BACK_SET, reproductions, sample_for
from jarvis_diag.samples import INCIDENTS, INCIDENTS_BY_NAME, readme_text, scenario_text, sim_config
from jarvis_diag.simulate.scenario import SimConfig, load_scenario

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
SAMPLES = ROOT / "sample_logs"
CLI = [sys.executable, "-m", "jarvis_diag"]


def _findings(paths: list[Path]) -> list[dict]:
    return jd.load_timeline([str(p) for p in paths]).findings.to_dict("records")


def test_each_set_named_for_a_kind_expects_that_kind():
    for kind, name in SET_OF_KIND.items():
        assert kind in {e.kind for e in INCIDENTS_BY_NAME[name].expect}, (kind, name)
    for name in filter(None, SET_OF_FIX.values()):
        assert "callback-desync" in {e.kind for e in INCIDENTS_BY_NAME[name].expect}, name


@pytest.mark.parametrize("incident", [i for i in INCIDENTS if i.expect], ids=lambda i: i.name)
def test_a_sample_sets_findings_are_reproduced_by_that_set(incident):
    found = reproductions(_findings([SAMPLES / incident.name]))
    assert [r.sample for r in found] == [incident.name]
    assert set(found[0].kinds) == {e.kind for e in incident.expect}


def test_the_real_switch_back_logs_are_reproduced_by_the_switch_back_set():
    # the real backend's logs: a single-live-session cut and two switch-back desyncs, all
    # three made by one set (its single-live-session too), not the reconnect set
    (found,) = reproductions(_findings([FIXTURES / "callback-desync"]))
    assert (found.sample, found.findings, found.kinds) == (
        SWITCH_BACK_SET, ("F1", "F2", "F3"), ("single-live-session", "callback-desync"))
    assert found.make == (f"jarvis-diag samples repro --only {SWITCH_BACK_SET}",
                          f"jarvis-diag timeline repro/{SWITCH_BACK_SET}")
    assert found.by_hand == (
        "jarvis-diag serve --port 38010 --token secret --data-dir repro-server --bug single-live-session "
        "--ping-interval 3 --ping-timeout 3",
        "jarvis-diag simulate-mobile http://127.0.0.1:38010 --token secret "
        f"--scenario repro/{SWITCH_BACK_SET}/scenario.toml --out repro-sim",
        "jarvis-diag timeline repro-server/logs/app.log repro-sim/frontend")


def test_healthy_logs_and_info_findings_get_no_reproduction():
    assert reproductions(_findings([FIXTURES / "normal"])) == []
    assert reproductions(_findings([SAMPLES / "healthy-day"])) == []
    assert reproductions([{"id": "F1", "kind": "half-open", "severity": "info", "summary": ""}]) == []


def test_a_desync_no_set_makes_gets_none_rather_than_another_mechanisms():
    from jarvis_diag.findings import FIX_ONE_OWNER, FIX_ONE_PER_SOCKET

    assert sample_for("callback-desync", f"... Fix: {FIX_ONE_OWNER}.") is None
    assert sample_for("callback-desync", "no fix named") is None
    assert sample_for("callback-desync", f"... Fix: {FIX_ONE_PER_SOCKET}.") == "single-live-session"
    assert sample_for("auth-failed", "") is None


@pytest.mark.parametrize("incident", INCIDENTS, ids=lambda i: i.name)
def test_a_sets_scenario_file_gives_its_phones_what_samples_gives_them(incident, tmp_path: Path):
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(scenario_text(incident, 7))
    got = load_scenario(scenario, SimConfig(url="u", token="t"))
    assert dataclasses.asdict(got) == dataclasses.asdict(sim_config(incident, "u", "t", 7))


@pytest.mark.parametrize("incident", INCIDENTS, ids=lambda i: i.name)
def test_each_committed_set_holds_its_scenario_and_its_readme_the_commands(incident):
    folder = SAMPLES / incident.name
    assert (folder / "scenario.toml").read_text() == scenario_text(incident, 7)
    readme = (folder / "README.md").read_text()
    # (from the folder `samples` ran in: the set's folder as it was given)
    assert f"--scenario sample_logs/{incident.name}/scenario.toml --out repro-sim" in readme
    assert f"## Try it\n```\njarvis-diag timeline sample_logs/{incident.name}\n```" in readme
    assert "jarvis-diag timeline repro-server/logs/app.log repro-sim/frontend" in readme


def test_the_terminal_view_shows_the_commands_each_fitting_the_width():
    tl = jd.load_timeline([str(FIXTURES / "callback-desync")])
    out = io.StringIO()
    Console(file=out, width=80, color_system=None).print(*render_timeline(tl))
    text = out.getvalue()
    tail = [line.rstrip() for line in text[text.index("Reproduce it"):].splitlines()]
    assert all(len(line) <= 80 for line in tail)
    assert "  jarvis-diag samples repro --only callback-desync-switch-back" in tail
    # a command too wide goes on after a backslash, as one shell command
    commands = " ".join("\n".join(tail).replace("\\\n", " ").split())
    assert (f"jarvis-diag simulate-mobile http://127.0.0.1:38010 --token secret --scenario "
            f"repro/{SWITCH_BACK_SET}/scenario.toml --out repro-sim") in commands
    healthy = io.StringIO()
    Console(file=healthy, width=80).print(*render_timeline(jd.load_timeline([str(FIXTURES / "normal")])))
    assert "Reproduce it" not in healthy.getvalue()


def test_command_lines_keep_an_option_with_its_value():
    assert command_lines("jarvis-diag serve --port 38010 --token secret", 32) == [
        "jarvis-diag serve --port 38010 \\", "    --token secret"]
    assert command_lines("a --b c", 80, indent=2) == ["  a --b c"]


def test_the_commands_by_hand_make_the_same_findings_again(tmp_path: Path):
    # what the view prints for the real logs, run as printed in a folder (on a free port)
    (found,) = reproductions(_findings([FIXTURES / "callback-desync"]))
    serve_cmd, simulate_cmd, timeline_cmd = (shlex.split(c) for c in found.by_hand)
    (tmp_path / "repro" / SWITCH_BACK_SET).mkdir(parents=True)
    (tmp_path / "repro" / SWITCH_BACK_SET / "scenario.toml").write_text(scenario_text(
        INCIDENTS_BY_NAME[SWITCH_BACK_SET], 7))
    serve_argv = [*CLI, *serve_cmd[1:]]
    serve_argv[serve_argv.index("--port") + 1] = "0"
    server = subprocess.Popen(serve_argv, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        assert first.startswith("listening on http://127.0.0.1:"), first
        sim_argv = [*CLI, *simulate_cmd[1:]]
        sim_argv[sim_argv.index("http://127.0.0.1:38010")] = first.split()[-1]
        sim = subprocess.run(sim_argv, cwd=tmp_path, capture_output=True, text=True, timeout=180)
        assert sim.returncode == 1, sim.stderr  # (the page does not recover: that is the incident)
    finally:
        server.terminate()
        server.wait(20)
    doc = json.loads(subprocess.run([*CLI, *timeline_cmd[1:], "--format", "json"], cwd=tmp_path,
                                    capture_output=True, text=True, timeout=120, check=True).stdout)
    severe = {(f["kind"], f["severity"]) for f in doc["findings"] if f["severity"] != "info"}
    assert {("callback-desync", "critical"), ("single-live-session", "critical")} <= severe
    assert [r.sample for r in reproductions(doc["findings"])] == [SWITCH_BACK_SET]


def test_a_set_made_elsewhere_names_its_own_folder_in_its_readme():
    # `samples repro --only X` wrote a README whose commands named sample_logs/X
    incident = INCIDENTS_BY_NAME[SWITCH_BACK_SET]
    readme = readme_text(incident, [], f"repro/{SWITCH_BACK_SET}")
    assert f"jarvis-diag timeline repro/{SWITCH_BACK_SET}\n" in readme
    assert f"--scenario repro/{SWITCH_BACK_SET}/scenario.toml" in readme and "sample_logs" not in readme

"""The committed sample incident sets: `timeline` names exactly what each expected.json says.

Each set was made by `make samples` (the reference server with a bug, simulated phones
against it). The expectations come from the scenario, not from the timeline's output, so a
change in correlation or findings that stops naming an incident, or starts naming one that
did not happen, fails here.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from jarvis_diag.samples import INCIDENTS, check_timeline, generate

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_logs"
CLI = [sys.executable, "-m", "jarvis_diag"]


def timeline_json(folder: Path) -> dict:
    proc = subprocess.run([*CLI, "timeline", str(folder), "--format", "json"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.parametrize("name", [i.name for i in INCIDENTS])
def test_timeline_names_exactly_the_expected_findings(name: str):
    folder = SAMPLES / name
    expected = json.loads((folder / "expected.json").read_text())
    assert expected["incident"] == name
    assert (folder / "app.log").is_file() and list((folder / "frontend").glob("*.log"))
    assert (folder / "README.md").read_text().startswith("# ")
    doc = timeline_json(folder)
    assert check_timeline(expected, doc) == []
    # clocks as in the field: the backend in UTC+8 found from the log itself, phones a few hundred ms off
    assert doc["clock"]["backend_utc_offset_minutes"] == 480
    skews = [c["skew_ms"] for c in doc["clock"]["clients"].values()]
    assert skews and all(abs(s) <= 450 for s in skews) and any(abs(s) >= 20 for s in skews)
    if expected["healthy"]:
        assert not expected["findings"]
        assert not [f for f in doc["findings"] if f["severity"] in ("warning", "critical")]
    else:
        assert expected["findings"] or any(c["recovers"] for c in expected["clients"])


def test_the_check_fails_when_a_finding_is_missing_or_unexpected():
    folder = SAMPLES / "callback-desync-switch-back"
    expected = json.loads((folder / "expected.json").read_text())
    doc = timeline_json(folder)
    without = {**doc, "findings": [f for f in doc["findings"] if f["kind"] != "callback-desync"]}
    assert any(p.startswith("missing: callback-desync") for p in check_timeline(expected, without))
    extra = {**doc, "findings": doc["findings"] + [{"kind": "half-open", "severity": "warning", "summary": "x"}]}
    assert any("unexpected warning half-open" in p for p in check_timeline(expected, extra))
    wrong_delay = {**doc, "findings": [{**f, "delay_ms": (f["delay_ms"] or 0) + 5000} for f in doc["findings"]]}
    assert any(p.startswith("missing") for p in check_timeline(expected, wrong_delay))


def test_a_set_regenerated_with_the_seed_passes_its_own_expectations(tmp_path: Path):
    # over a set made before (replaced whole), named twice (made once)
    (tmp_path / "single-live-session").mkdir()
    (tmp_path / "single-live-session" / "results.jsonl").write_text("the earlier set's\n")
    (folder,) = generate(tmp_path, ["single-live-session", "single-live-session"], seed=7)
    assert [p.name for p in tmp_path.iterdir()] == ["single-live-session"]
    expected = json.loads((folder / "expected.json").read_text())
    committed = json.loads((SAMPLES / "single-live-session" / "expected.json").read_text())
    # the same scenario: the same findings and clients, only ids differ
    assert [(f["kind"], f["severity"]) for f in expected["findings"]] == \
        [(f["kind"], f["severity"]) for f in committed["findings"]]
    assert [c["profile"] for c in expected["clients"]] == [c["profile"] for c in committed["clients"]]
    assert not (folder / ".work").exists()
    assert check_timeline(expected, timeline_json(folder)) == []


def test_samples_command_lists_and_rejects_unknown_sets(tmp_path: Path):
    listed = subprocess.run([*CLI, "samples", "--list"], capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0 and all(i.name in listed.stdout for i in INCIDENTS)
    bad = subprocess.run([*CLI, "samples", str(tmp_path), "--only", "nope"], capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode != 0 and "unknown sample set 'nope'" in bad.stderr
    assert "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())


def test_samples_into_a_folder_that_cannot_be_one_is_one_line_before_any_work(tmp_path: Path):
    afile = tmp_path / "afile"
    afile.write_text("mine")
    for out, needle in ((afile, f"sample folder {afile}: exists and is not a directory"),
                        (afile / "sub", f"sample folder {afile / 'sub'}: cannot create the directory: Not a directory")):
        proc = subprocess.run([*CLI, "samples", str(out), "--only", "healthy-day"], capture_output=True, text=True,
                              timeout=60)
        assert proc.returncode == 2 and proc.stderr == f"jarvis-diag: error: {needle}\n", proc.stderr
    assert afile.read_text() == "mine"


def test_an_interrupted_set_leaves_the_one_made_before_and_a_stranger_file_is_refused(tmp_path: Path):
    import signal
    import time

    made = tmp_path / "healthy-day"
    made.mkdir()
    (made / "README.md").write_text("the earlier set's\n")
    proc = subprocess.Popen([*CLI, "samples", str(tmp_path), "--only", "healthy-day"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list(tmp_path.glob(".healthy-day.*.part/app.log")):
            time.sleep(0.2)  # the set's server is up and writing
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert [p.name for p in tmp_path.iterdir()] == ["healthy-day"]
    assert [p.name for p in made.iterdir()] == ["README.md"] and (made / "README.md").read_text() == "the earlier set's\n"
    # a file the set does not hold, in the set's folder: someone else's, not removed with it
    (made / "notes.txt").write_text("mine\n")
    refused = subprocess.run([*CLI, "samples", str(tmp_path), "--only", "healthy-day"], capture_output=True,
                             text=True, timeout=60)
    assert refused.returncode == 2 and refused.stderr.startswith(f"jarvis-diag: error: {made}: holds notes.txt,")
    assert (made / "notes.txt").read_text() == "mine\n"

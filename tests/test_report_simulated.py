"""End to end with a real simulation: the reference server on a free port, simulate-mobile
against it, then the report of its results.jsonl and of the logs both sides wrote."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from test_report import check_markdown_tables, run_cli

TOKEN = "report-test-token"


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    root = tmp_path_factory.mktemp("sim")
    server = subprocess.Popen(
        [sys.executable, "-m", "jarvis_diag", "serve", "--port", "0", "--token", TOKEN, "--data-dir",
         str(root / "data"), "--agent-startup", "0.1", "--agent-pace", "0.01"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = ""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not line.startswith("listening on "):
            line = server.stdout.readline()
            if not line and server.poll() is not None:
                pytest.fail("the reference server exited before listening")
        assert line.startswith("listening on "), line
        url = line.split("listening on ", 1)[1].strip()
        sim = subprocess.run(
            [sys.executable, "-m", "jarvis_diag", "simulate-mobile", url, "--token", TOKEN, "--clients", "2",
             "--sessions", "2", "--cycles", "2", "--background", "1s", "--fault", "close", "--seed", "1",
             "--out", str(root / "out")],
            capture_output=True, text=True, timeout=120)
        assert sim.returncode in (0, 1), sim.stderr[-2000:]
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)
        server.stdout.close()
    return root


def test_report_of_a_simulation_run(simulated):
    results = simulated / "out" / "results.jsonl"
    records = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
    assert len(records) == 4  # 2 clients x 2 cycles
    p = run_cli(str(simulated / "out"), "--format", "json", "--budget", "recovery.p95<=10s",
                "--budget", "lost.count<=0", "--budget", "duplicated.count<=0")
    doc = json.loads(p.stdout)
    recovered = sum(r["recovered"] for r in records)
    assert doc["metrics"]["recovery"]["outcomes"].get("recovered", 0) == recovered
    assert doc["metrics"]["recovery"]["n"] == sum(1 for r in records if r["recovered"])
    expected = sorted(r["times_ms"]["recovery"] for r in records if r["recovered"])
    assert doc["metrics"]["recovery"]["max"] == pytest.approx(expected[-1], abs=0.001)
    assert doc["counts"]["lost"]["count"] == sum(r["lost"] for r in records)
    # a correct server, connmgr clients, a clean close: every budget holds
    assert p.returncode == 0, p.stderr
    assert doc["budgets_passed"]


def test_report_of_the_logs_of_a_simulation_run(simulated):
    logs = simulated / "data" / "logs"
    p = run_cli(str(logs / "app.log"), str(simulated / "out" / "frontend"), "--format", "md")
    assert p.returncode == 0, p.stderr
    assert check_markdown_tables(p.stdout) >= 2
    assert "`T5`" in p.stdout  # the server's own attach phases were read from its log

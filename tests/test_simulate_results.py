"""The end of a run: the summary table, the failures listed, the summary's percentiles."""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path

from rich.console import Console

from jarvis_diag.report import make_report
from jarvis_diag.simulate.results import ResultWriter, failure_lines, new_run_id, summary_json, summary_table
from jarvis_diag.simulate.verdict import SCHEMA


def record(client: int, recovery_ms: float | None, profile: str = "connmgr", fault: str = "offline",
           network: str = "lossy") -> dict:
    recovered = recovery_ms is not None
    return {"schema": SCHEMA, "run": "r1", "client": client, "client_id": f"c{client}", "profile": profile,
            "fault": fault, "network": network, "cycle": 1, "background_ms": 1000.0,
            "hidden_at": "2026-11-24T10:00:00.000Z", "visible_at": "2026-11-24T10:00:01.000Z",
            "recovered": recovered, "deadline_ms": 30000.0,
            "failure": None if recovered else "not connected again within the deadline",
            "reconnected": recovered, "times_ms": {"connected": 100.0 if recovered else None,
                                                   "authenticated": 101.0 if recovered else None,
                                                   "recovery": recovery_ms, "probe_sent": None},
            "sessions": [], "lost": 0, "duplicated": 0, "attaches": [], "errors": []}


def test_the_summary_percentiles_are_the_reports_observed_values(tmp_path: Path):
    with ResultWriter(tmp_path) as writer:
        for client, ms in enumerate((112.1, 114.0)):
            writer.write(record(client, ms))
    (group,) = summary_json(writer.records, run="r1", out_dir=tmp_path)["groups"]
    report = make_report([str(tmp_path / "results.jsonl")]).to_json_dict()
    recovery = report["metrics"]["recovery"]
    # nearest rank: values seen, not 113.0 interpolated between them
    assert (group["recovery_p50_ms"], group["recovery_p95_ms"]) == (recovery["p50"], recovery["p95"]) == (112.1, 114.0)


def test_more_than_ten_failures_say_how_many_more():
    records = [record(i, None) for i in range(13)] + [record(13, 120.0)]
    lines, more = failure_lines(records)
    assert len(lines) == 10 and more == 3 and lines[0].startswith("client 0 (connmgr, offline) cycle 1: not connected")
    assert failure_lines(records[:4]) == (failure_lines(records)[0][:4], 0)


def test_the_summary_table_fits_80_columns_without_cutting_a_header():
    records = [record(i, 12345.0 + i) for i in range(1000)] + [record(1000, None, "legacy", "freeze", "good")]
    console = Console(file=StringIO(), width=80)
    console.print(summary_table(records))
    text = console.file.getvalue()
    assert "…" not in text and max(len(line) for line in text.splitlines()) <= 80
    header = next(line for line in text.splitlines() if "cycles" in line)
    for name in ("profile", "fault", "network", "cycles", "recovered", "lost", "dup", "p50 ms", "p95 ms"):
        assert name in header
    assert "connmgr" in text and "offline" in text and "lossy" in text and "12844" in text


def test_the_last_line_says_what_was_lost_when_a_cycle_lost_output(tmp_path: Path):
    # "0/2 cycles recovered with nothing lost or duplicated" read as "nothing was lost"
    from types import SimpleNamespace

    from jarvis_diag.commands.simulate import _outcome_line

    records = [{**record(i, None), "lost": 1} for i in range(2)]
    summary = summary_json(records, run="r1", out_dir=tmp_path, planned=2)
    line = _outcome_line(summary, SimpleNamespace(out_dir=tmp_path, interrupted=False, error=None))
    # ("(a cycle that lost or duplicated nothing)" read as saying that these cycles had, beside
    # failures of another kind)
    assert line.startswith("0/2 cycles recovered cleanly (recovered, and lost or duplicated nothing); 2 lost and 0 "
                           "duplicated in all;")


def test_run_ids_of_runs_started_at_one_instant_differ_and_start_with_that_instant():
    # simulate-mobile made its run ids to the second, the library to the millisecond; runs
    # started in the same second by the command had one id. Both now take it from here
    at = 1796569422.0634  # 2026-12-06T15:03:42.063Z
    ids = {new_run_id(7, at) for _ in range(100)}
    assert len(ids) == 100
    assert all(re.fullmatch(r"20261206T150342\.063-7-[0-9a-f]{6}", run) for run in ids), ids
    assert new_run_id(0, at, tag="3fa2c1") == "20261206T150342.063-0-3fa2c1"
    assert new_run_id(0, at + 0.9365, tag="3fa2c1") == "20261206T150342.999-0-3fa2c1"


def test_a_run_cut_short_before_any_cycle_finished_says_so(tmp_path: Path):
    # a server stopped (or Ctrl-C) while the phones were still in their first background
    # printed "stopped after 0 of 2 cycles: 0/0 finished cycles recovered cleanly (nothing
    # lost or duplicated)", which reads as a clean run
    from types import SimpleNamespace

    from jarvis_diag.commands.simulate import _outcome_line

    summary = summary_json([], run="r1", out_dir=tmp_path, planned=2, error="the server stopped answering")
    for interrupted, error, how in ((False, "the server stopped answering", "stopped"), (True, None, "interrupted")):
        line = _outcome_line(summary, SimpleNamespace(out_dir=tmp_path, interrupted=interrupted, error=error))
        assert line.startswith(f"{how} before any of 2 cycles finished; results in {tmp_path}/results.jsonl"), line
        assert "cleanly" not in line


def test_the_last_line_names_the_frontend_logs_only_when_the_run_wrote_them(tmp_path: Path):
    # an app of one's own (--browser-app) writes no page log of ours: 'frontend logs in
    # DIR/frontend/' sent the user to a folder that is not there
    from types import SimpleNamespace

    from jarvis_diag.commands.simulate import _outcome_line

    summary = summary_json([record(0, 120.0)], run="r1", out_dir=tmp_path, planned=1)
    result = SimpleNamespace(out_dir=tmp_path, interrupted=False, error=None)
    assert _outcome_line(summary, result).endswith(f"results in {tmp_path}/results.jsonl")
    (tmp_path / "frontend").mkdir()
    assert _outcome_line(summary, result).endswith(f", frontend logs in {tmp_path}/frontend/")

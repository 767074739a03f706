"""The report computed from hand-made inputs whose answers are known, its renderers, and the
`jarvis-diag report` command."""

from __future__ import annotations

import io
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from rich.console import Console

from jarvis_diag.report import fmt
from jarvis_diag.report.budgets import parse_budget
from jarvis_diag.report.dataset import COUNTS, METRICS, Dataset, add_sim_records, add_timeline
from jarvis_diag.report.markdown import to_markdown
from jarvis_diag.report.model import SCHEMA, build_report
from jarvis_diag.report.text import to_text


def sim_record(i: int, recovery: float | None, lost: int = 0, duplicated: int = 0, connected: float = 10.0,
               authenticated: float = 12.0, switch_ms: float | None = None, failure: str | None = None,
               run: str = "r1") -> dict:
    """One jarvis-diag.sim/1 record as docs/formats.md shows it (client ``i``, cycle 1 of ``run``)."""
    ok = recovery is not None
    return {
        "schema": "jarvis-diag.sim/1", "run": run, "client": i, "client_id": f"Client{i}", "profile": "connmgr",
        "fault": "freeze", "network": "good", "cycle": 1, "background_ms": 30000,
        "hidden_at": "2026-11-24T10:00:00.000Z", "visible_at": f"2026-11-24T10:00:{30 + i % 30:02d}.000Z",
        "recovered": ok, "deadline_ms": 30000, "failure": failure if not ok else None,
        "times_ms": {"connected": connected, "authenticated": authenticated, "recovery": recovery},
        "sessions": [{"session": f"{i:08d}-0000-4000-8000-000000000000", "temp_id": None,
                      "ready_ms": recovery, "history_end_ms": None if recovery is None else recovery + 1,
                      "first_live_ms": None if recovery is None else recovery + 100, "live": ok,
                      "produced": 6, "lost": lost, "duplicated": duplicated,
                      "lost_seqs": list(range(3, 3 + lost)), "duplicated_seqs": [], "check": "seq"}],
        "lost": lost, "duplicated": duplicated,
        "attaches": [] if switch_ms is None else [{"session": "s", "kind": "switch", "ms": switch_ms}],
        "errors": [],
    }


def as_another_run(results: Path, run: str) -> Path:
    """``results`` (a copy of a run's results.jsonl) made the results of another run: each
    record's run id is ``run`` (a run is reported once, and compared only with another)."""
    records = [json.loads(line) for line in results.read_text().splitlines()]
    return write_jsonl(results, [dict(r, run=run) for r in records])


def dataset_of(records: list[dict], path: str = "run/results.jsonl") -> Dataset:
    ds = Dataset()
    add_sim_records(ds, path, ((n + 1, r) for n, r in enumerate(records)))
    return ds


def budgets(*texts):
    return [parse_budget(t, tuple(METRICS), tuple(COUNTS)) for t in texts]


# recovery times 10, 20, ..., 200 ms: 20 cases
TWENTY = [sim_record(i, 10.0 * (i + 1), switch_ms=float(i + 1)) for i in range(20)]


def test_recovery_percentiles_by_hand():
    report = build_report(dataset_of(TWENTY))
    rec = report.metric("recovery").summary
    # nearest rank of 20 cases: p50 = 10th = 100, p90 = 18th = 180, p95 = 19th = 190, p99 = 20th = 200
    assert (rec.n, rec.percentiles, rec.max) == (20, {50: 100.0, 90: 180.0, 95: 190.0, 99: 200.0}, 200.0)
    assert report.metric("switch").summary.percentiles[50] == 10.0
    assert report.metric("recovery").outcomes == {"recovered": 20}
    # phases of each case: connect 10, authenticate 2, attach sessions = recovery - 12, never below 0
    # (the 10 ms case counts 0, not -2): mean (93 * 20 + 2) / 20
    all_cases = report.metric("recovery").breakdown["all"]
    assert all_cases == pytest.approx({"connect": 10.0, "authenticate": 2.0, "attach sessions": 93.1})
    tail = report.metric("recovery").breakdown["slowest 5%"]  # cases at or above p95: 190 and 200
    assert tail["attach sessions"] == pytest.approx(195.0 - 12.0)
    slowest = report.metric("recovery").slowest
    assert [c["value_ms"] for c in slowest] == [200.0, 190.0, 180.0, 170.0, 160.0]
    assert slowest[0]["line"] == 20 and slowest[0]["path"] == "run/results.jsonl"
    assert slowest[0]["timeline"] == "jarvis-diag timeline run --client Client19"
    assert report.waterfall is not None and report.waterfall.total_ms == 200.0


def test_outcome_counts_and_findings_from_simulation():
    recs = [*TWENTY[:17], sim_record(17, None, failure="session s not ready within 30000 ms"),
            sim_record(18, 50.0, lost=2), sim_record(19, 60.0, duplicated=1)]
    report = build_report(dataset_of(recs))
    assert report.metric("recovery").outcomes == {"recovered": 19, "not recovered": 1}
    counts = {c.name: (c.total, c.affected, c.units) for c in report.counts}
    assert counts == {"lost": (2.0, 1, 20), "duplicated": (1.0, 1, 20), "unrecovered": (1.0, 1, 20)}
    kinds = [(f["rank"], f["kind"], f["severity"]) for f in report.findings]
    assert kinds == [(1, "not-recovered", "critical"), (2, "lost-output", "critical"),
                     (3, "duplicated-output", "warning")]
    lost = report.findings[1]
    assert lost["evidence"][0]["line"] == 19 and "seq 3, 4" in lost["evidence"][0]["text"]


def test_failing_budget():
    report = build_report(dataset_of([*TWENTY[:19], sim_record(19, 900.0, lost=1)]),
                          budgets=budgets("recovery.p95<=500ms", "recovery.p50<=500ms", "lost.count<=0",
                                          "detection.p95<=1s"))
    verdicts = [(b.budget.text, b.passed, b.actual) for b in report.budgets]
    # p95 of 20 cases is the 19th value (190); the outlier 900 is only the max
    assert verdicts == [("recovery.p95<=500ms", True, 190.0), ("recovery.p50<=500ms", True, 100.0),
                        ("lost.count<=0", False, 1.0), ("detection.p95<=1s", False, None)]
    assert [b.budget.text for b in report.budgets_failed] == ["lost.count<=0", "detection.p95<=1s"]
    assert report.to_json_dict()["budgets_passed"] is False


def test_comparison_with_a_known_shift():
    base = dataset_of([sim_record(i, 100.0 + (i * 37) % 50, run="r0") for i in range(200)], "before/results.jsonl")
    cand = dataset_of([sim_record(i, 60.0 + (i * 37) % 50) for i in range(200)], "after/results.jsonl")
    report = build_report(cand, baseline=base, seed=3, resamples=500)
    row = next(r for r in report.comparison.rows if r.metric == "recovery")
    assert row.difference.diff == pytest.approx(-40.0)  # every case moved 40 ms: so did the median
    assert row.verdict == "faster"
    assert row.difference.ci_high < 0
    headline = fmt.comparison_headlines(report.comparison)
    assert headline[0].startswith("recovery: faster, p50 ") and "−40.0 ms, 95% CI [−" in headline[0]
    assert "recovery: faster" in to_markdown(report).split("### Latency")[0]
    alike = dataset_of([sim_record(i, 60.0 + (i * 37) % 50, run="r2") for i in range(200)], "again/results.jsonl")
    same = build_report(cand, baseline=alike, resamples=500)
    assert next(r for r in same.comparison.rows if r.metric == "recovery").verdict == "no clear difference"
    again = build_report(cand, baseline=base, seed=3, resamples=500)
    assert again.to_json_dict()["comparison"] == report.to_json_dict()["comparison"]


TIMELINE = {
    "schema": "jarvis-diag.timeline/1",
    "clock": {"backend_utc_offset_minutes": 60, "clients": {}},
    "sources": [],
    "connections": [
        {"sid": "AAAAAAAA", "client": "phone", "connected_at": "2026-11-24T10:00:00.000Z",
         "authenticated_at": "2026-11-24T10:00:00.002Z", "disconnected_at": "2026-11-24T10:01:25.000Z",
         "reason": "ping timeout", "transport": "websocket", "duration_ms": 85000.0},
        {"sid": "BBBBBBBB", "client": "phone", "connected_at": "2026-11-24T10:00:30.100Z",
         "authenticated_at": "2026-11-24T10:00:30.110Z", "disconnected_at": None, "reason": None,
         "transport": "websocket", "duration_ms": None},
    ],
    "sessions": [{
        "session": "977bcd1b-92d4-4b16-832f-db55897da081", "temp_ids": ["new-1"], "clients": ["phone"],
        "attaches": [
            {"client": "phone", "sid": "AAAAAAAA", "kind": "new", "requested_at": "2026-11-24T10:00:01.000Z",
             "received_at": "2026-11-24T10:00:01.002Z",
             "phases": {"T1": 0, "T1.1": 0, "T1.2": 5, "T2": 11, "T3": 11, "T4": 11, "T5": 12, "T6": 12},
             "server_ms": 12.0, "ready_sent_at": "2026-11-24T10:00:01.014Z",
             "ready_received_at": "2026-11-24T10:00:01.017Z", "history_end_at": None, "latency_ms": 17.0,
             "transport_ms": 5.0, "evidence": []},  # (both ways: 2 up, 3 down)
            {"client": "phone", "sid": "BBBBBBBB", "kind": "reconnect", "requested_at": "2026-11-24T10:00:30.120Z",
             "received_at": "2026-11-24T10:00:30.121Z",
             "phases": {"T1": 0, "T2": 1, "T3": 1, "T4": 3, "T5": 4, "T6": 5},
             "server_ms": 5.0, "ready_sent_at": "2026-11-24T10:00:30.125Z",
             "ready_received_at": "2026-11-24T10:00:30.127Z", "history_end_at": "2026-11-24T10:00:30.128Z",
             "latency_ms": 7.0, "transport_ms": 3.0, "evidence": []},  # (1 up, 2 down)
        ]}],
    "episodes": [
        {"client": "phone", "sid_before": "AAAAAAAA", "sid_after": "BBBBBBBB", "trigger": "page.hidden",
         "started_at": "2026-11-24T10:00:10.000Z", "visible_at": "2026-11-24T10:00:30.000Z",
         "connected_at": "2026-11-24T10:00:30.100Z", "authenticated_at": "2026-11-24T10:00:30.110Z",
         "sessions": ["977bcd1b-92d4-4b16-832f-db55897da081"],
         "ready_at": {"977bcd1b-92d4-4b16-832f-db55897da081": "2026-11-24T10:00:30.127Z"},
         "recovered": True, "recovered_at": "2026-11-24T10:00:30.127Z", "duration_ms": 127.0},
    ],
    "findings": [
        {"id": "F2", "kind": "app-warning", "severity": "info", "at": "2026-11-24T10:00:05.000Z", "session": None,
         "client": None, "sid": None, "delay_ms": None, "summary": "a warning", "context": "",
         "evidence": [{"path": "app.log", "line": 3, "text": "WARNING x"}]},
        {"id": "F1", "kind": "half-open", "severity": "critical", "at": "2026-11-24T10:01:25.000Z",
         "session": None, "client": "phone", "sid": "AAAAAAAA", "delay_ms": 55000.0,
         "summary": "the server kept a dead socket | for 55 s", "context": "page hidden",
         "evidence": [{"path": "app.log", "line": 88, "text": "[SocketIO] Client AAAAAAAA disconnected"}]},
    ],
}


def timeline_report(**kw):
    ds = Dataset()
    add_timeline(ds, "timeline.json", TIMELINE)
    return build_report(ds, **kw)


def test_a_finding_that_cost_nothing_says_so_in_every_view():
    # a desync ended by the very next message (0 ms): its cost is told as 0 ms, as any other,
    # not left out as if it were unknown
    from jarvis_diag.report.html import to_html

    doc = json.loads(json.dumps(TIMELINE))
    doc["findings"][1]["delay_ms"] = 0.0
    ds = Dataset()
    add_timeline(ds, "timeline.json", doc)
    report = build_report(ds)
    for view in (to_markdown(report), to_html(report), to_text(report, width=200)):
        assert "cost 0.0 ms" in view


def test_timeline_metrics_by_hand():
    report = timeline_report()
    new = report.metric("new-session")
    assert new.summary.percentiles[50] == 17.0
    # uplink 2, T1 0, agent start 5 (T1.1 -> T1.2), T2 the rest (11 - 5), T3 0, T4 0, T5 1, downlink 3, other 0
    assert new.breakdown["all"] == pytest.approx({"uplink": 2.0, "T1": 0.0, "agent start": 5.0, "T2": 6.0, "T3": 0.0,
                                                  "T4": 0.0, "T5": 1.0, "downlink": 3.0, "other": 0.0})
    assert new.agent_start_share == pytest.approx(5 / 17)
    assert report.metric("reattach").summary.percentiles[50] == 7.0
    assert report.metric("transport").summary.n == 2
    assert report.metric("T5").summary.percentiles[99] == 12.0
    rec = report.metric("recovery")
    assert rec.summary.percentiles[50] == pytest.approx(127.0)
    assert rec.breakdown["all"] == pytest.approx({"connect": 100.0, "authenticate": 10.0, "attach sessions": 17.0})
    # loss began when hidden (10:00:10); the client noticed when visible (20 s), the server at 10:01:25 (75 s)
    det = report.metric("detection")
    assert det.summary.percentiles[50] == pytest.approx(75000.0)
    assert det.outcomes == {"server noticed last": 1}
    assert det.breakdown["all"] == pytest.approx({"first side": 20000.0, "second side": 55000.0})
    assert report.metric("detection-client").summary.max == pytest.approx(20000.0)
    assert report.metric("detection-server").summary.max == pytest.approx(75000.0)
    assert [f["kind"] for f in report.findings] == ["half-open", "app-warning"]  # critical first
    assert report.metric("switch") is None
    assert new.slowest[0]["timeline"] == "jarvis-diag timeline LOGS --session 977bcd1b"  # (it names no log)
    # counted as a reader counts: the session's first attach is #1 (it was '#0')
    assert new.slowest[0]["label"] == "session 977bcd1b new attach #1"
    sides = {r["side"] for r in report.waterfall.rows}
    assert sides == {"client", "server"}
    labels = [r["label"] for r in report.waterfall.rows]
    assert any("disconnected (ping timeout)" in x for x in labels)
    assert any(x.startswith("client: chat:connect 977bcd1b") for x in labels)


def test_an_episode_ready_before_its_visible_time_adds_no_negative_phase():
    doc = json.loads(json.dumps(TIMELINE))
    [ep] = doc["episodes"]
    ep["visible_at"] = "2026-11-24T10:00:31.000Z"  # (a timeline that took a later return for this one)
    ds = Dataset()
    add_timeline(ds, "timeline.json", doc)
    rec = build_report(ds).metric("recovery")
    assert rec.summary.max == 0.0
    assert all(v >= 0 for v in rec.breakdown["all"].values()) and sum(rec.breakdown["all"].values()) == 0.0


def test_json_is_the_documented_schema():
    doc = timeline_report(budgets=budgets("reattach.p95<=10ms")).to_json_dict()
    assert doc["schema"] == SCHEMA == "jarvis-diag.report/1"
    assert set(doc) == {"schema", "title", "inputs", "percentile_method", "metrics", "counts", "findings",
                        "worst_episode", "comparison", "budgets", "budgets_passed", "notes"}
    m = doc["metrics"]["new-session"]
    for key in ("description", "unit", "n", "p50", "p90", "p95", "p99", "max", "mean", "small_n", "unresolved",
                "outcomes", "phases", "slowest", "agent_start_share"):
        assert key in m
    assert doc["budgets"][0] == {"budget": "reattach.p95<=10ms", "metric": "reattach", "stat": "p95", "op": "<=",
                                 "limit": 10.0, "actual": 7.0, "passed": True,
                                 "message": "reattach.p95 = 7.0 ms (ok: budget <= 10 ms)"}
    json.dumps(doc)  # plain JSON all the way down


def check_markdown_tables(text: str) -> int:
    """Every table is well formed: a header, a separator with one cell per column, rows with
    as many cells as the header. Returns the number of tables."""
    tables = 0
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].startswith("|"):
            block = []
            while i < len(lines) and lines[i].startswith("|"):
                block.append(lines[i])
                i += 1
            cells = [len(re.findall(r"(?<!\\)\|", row)) - 1 for row in block]
            assert len(block) >= 2, block
            assert re.fullmatch(r"\|( :?-{3,}:? \|)+", block[1]), block[1]
            assert len(set(cells)) == 1, block
            tables += 1
        i += 1
    # and a CommonMark parser with GFM tables sees the same tables, header and body cells alike
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    assert sum(t.type == "table_open" for t in tokens) == tables
    widths: list[int] = []
    for t in tokens:
        if t.type == "table_open":
            widths = []
        elif t.type == "tr_open":
            widths.append(0)
        elif t.type in ("th_open", "td_open"):
            widths[-1] += 1
        elif t.type == "table_close":
            assert len(set(widths)) == 1 and len(widths) >= 2, widths
    return tables


def test_markdown_is_valid_and_fits_a_comment():
    base = dataset_of([sim_record(i, 100.0 + i, run="r0") for i in range(40)], "before/results.jsonl")
    report = build_report(dataset_of(TWENTY + [sim_record(20, None, failure="x | y")]), baseline=base,
                          budgets=budgets("recovery.p95<=100ms"), resamples=200)
    md = to_markdown(report)
    assert check_markdown_tables(md) >= 4  # latency, counts, comparison, breakdown (+ slowest, episode)
    assert md.count("<details>") == md.count("</details>")
    assert md.count("```") % 2 == 0
    assert "**Budgets: 1 of 1 failed**" in md
    assert len(md) < 65_536
    md2 = to_markdown(timeline_report())
    check_markdown_tables(md2)
    assert "the server kept a dead socket \\| for 55 s" not in md2.split("### Findings")[0]


def test_markdown_says_where_it_cut_an_evidence_line():
    # the Markdown kept 200 characters of each evidence line and dropped the rest unsaid: a
    # failure read as if it ended mid-word ("... before the user's")
    failure = "not connected again (last attempt: websocket error) " + "and more words " * 20
    md = to_markdown(build_report(dataset_of([sim_record(0, None, failure=failure)])))
    [line] = [line for line in md.splitlines() if "run/results.jsonl:1 " in line]
    shown = line.split("run/results.jsonl:1  ", 1)[1]
    assert len(shown) == 200 and shown.endswith("…") and failure.startswith(shown.split(": ", 1)[1][:-1])
    short = to_markdown(build_report(dataset_of([sim_record(0, None, failure="not connected again")])))
    assert "…" not in [line for line in short.splitlines() if "run/results.jsonl:1 " in line][0]


def test_markdown_shows_log_text_as_written():
    # a finding quoting a log line is prose in the Markdown: "Error in __call__ of *Handler*" was
    # shown as "Error in call of Handler" with two words in bold and one in italics, a [link](...)
    # as a link, and a path like run__a__/results.jsonl lost its underscores in a note
    import html as html_lib

    said = "3x Error in __call__ of *Handler* [see](http://x) ~~old~~ &lt; a\\b `x` #1"
    ds = dataset_of(TWENTY, "run__a__/results.jsonl")
    ds.findings.append({"kind": "app-warning", "severity": "warning", "at": "2026-11-24T10:00:00Z",
                        "summary": said, "context": None, "evidence": [], "source": "app.log"})
    report = build_report(ds, notes=["run__a__/results.jsonl: *cut*"], title="A *run* of [x]")
    md = to_markdown(report)
    check_markdown_tables(md)
    page = MarkdownIt("commonmark").enable("table").enable("strikethrough").render(md)
    assert not re.search(r"<(em|strong|a|s|del|code)>", page.split("10:00:00Z: ")[1].split("</li>")[0])
    text = html_lib.unescape(re.sub(r"<[^>]+>", "", page))
    assert said in text and "run__a__/results.jsonl: *cut*" in text and "A *run* of [x]" in text
    assert "<strong>" not in page.split("<h2>")[1].split("</h2>")[0]


def test_text_and_rich_rendering():
    report = timeline_report(budgets=budgets("new-session.p50<=10ms"))
    text = to_text(report, width=140)
    assert "Connection recovery report" in text and "new-session" in text
    assert "FAIL new-session.p50 = 17.0 ms (FAILED: budget <= 10 ms)" in text
    assert "half-open" in text and "app.log:88" in text
    buf = io.StringIO()
    Console(file=buf, width=100).print(report)  # the Report renders itself
    assert "Latency" in buf.getvalue()
    assert report._repr_html_().startswith('<div class="jd-report">')


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "jarvis_diag", "report", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_cli_budget_gate_and_formats(tmp_path):
    results = write_jsonl(tmp_path / "results.jsonl", [*TWENTY[:19], sim_record(19, 250.0, lost=1)])
    out = tmp_path / "report.json"
    p = run_cli(str(results), "--format", "json", "-o", str(out), "--budget", "recovery.p95<=150ms",
                "--budget", "lost.count<=0", "--budget", "switch.p50<=50ms")
    assert p.returncode == 3, p.stderr
    assert "2 of 3 budgets failed" in p.stderr
    assert "recovery.p95 = 190 ms (FAILED: budget <= 150 ms)" in p.stderr
    assert "lost.count = 1 (FAILED: budget <= 0)" in p.stderr
    assert "Traceback" not in p.stderr
    doc = json.loads(out.read_text())
    assert doc["metrics"]["recovery"]["p95"] == 190.0 and doc["budgets_passed"] is False
    ok = run_cli(str(tmp_path), "--format", "md", "--budget", "recovery.p50<=100ms", "--title", "PR 42")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("## PR 42")
    text = run_cli(str(results))
    assert text.returncode == 0 and "recovery" in text.stdout


def test_cli_compare_takes_several_paths(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    b1 = write_jsonl(tmp_path / "b" / "one.jsonl", [sim_record(i, 200.0 + i, run="b1") for i in range(30)])
    b2 = write_jsonl(tmp_path / "b" / "two.jsonl", [sim_record(i, 210.0 + i, run="b2") for i in range(30)])
    cand = write_jsonl(tmp_path / "a" / "results.jsonl", [sim_record(i, 100.0 + i) for i in range(60)])
    p = run_cli(str(cand), "--compare", str(b1), str(b2), "--format", "json", "--resamples", "300")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert [i["path"] for i in doc["inputs"]] == [str(cand)]
    assert len(doc["comparison"]["baseline_inputs"]) == 2
    rec = doc["comparison"]["metrics"]["recovery"]
    assert rec["verdict"] == "faster" and rec["baseline"]["n"] == 60


@pytest.mark.parametrize(("args", "says"), [
    (["--budget", "recovery.p95=<1"], "bad budget 'recovery.p95=<1'"),
    (["--budget", "nope.p95<=1ms"], "unknown metric 'nope'"),
])
def test_cli_bad_budget_exit_2(tmp_path, args, says):
    results = write_jsonl(tmp_path / "results.jsonl", TWENTY)
    p = run_cli(str(results), *args)
    assert p.returncode == 2
    assert says in p.stderr and len(p.stderr.strip().splitlines()) == 1


def test_cli_bad_inputs_are_one_line(tmp_path):
    missing = run_cli(str(tmp_path / "nope.jsonl"))
    assert missing.returncode == 2 and "no such file" in missing.stderr
    bad = tmp_path / "results.jsonl"
    bad.write_text(json.dumps(TWENTY[0]) + "\n{oops\n" + json.dumps(TWENTY[1]) + "\n")
    p = run_cli(str(bad))
    assert p.returncode == 2 and f"{bad}:2: not a JSON record" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
    cut = tmp_path / "cut.jsonl"  # a run stopped while writing its last line
    cut.write_text(json.dumps(TWENTY[0]) + "\n" + json.dumps(TWENTY[1])[:40])
    p = run_cli(str(cut), "--format", "json")
    assert p.returncode == 0, p.stderr
    assert "cut off" in json.loads(p.stdout)["notes"][0]
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"schema": "jarvis-diag.report/1"}))
    p = run_cli(str(other))
    assert p.returncode == 2 and "is a report" in p.stderr


def desync_timeline(path: Path) -> Path:
    """The timeline JSON document of the callback-desync fixture (5 records), on one line."""
    from jarvis_diag.timeline import load_timeline

    path.write_text(json.dumps(load_timeline("tests/fixtures/callback-desync").to_json_dict()))
    return path


def test_cli_a_timeline_json_cut_short_says_so(tmp_path):
    # a timeline JSON cut short while copied read as a log of unknown lines: "neither a
    # simulate-mobile results file nor a log jarvis-diag reads (its one line is not one...)"
    timeline = desync_timeline(tmp_path / "timeline.json")
    cut = tmp_path / "cut.json"
    cut.write_bytes(timeline.read_bytes()[:3000])
    p = run_cli(str(cut))
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr
    assert p.stderr.startswith(f"jarvis-diag: error: {cut}: a jarvis-diag.timeline/1 document that is not whole JSON "
                               "(JSON error at line 1 column ")
    assert p.stderr.rstrip().endswith("write it again with jarvis-diag timeline LOGS --format json -o FILE")
    assert "neither" not in p.stderr


@pytest.mark.parametrize("pack", ["gzip", "xz", "bzip2"])
def test_cli_compressed_results_or_timeline_say_how_to_read_them(tmp_path, pack):
    # a gzipped results.jsonl was read as a log, whose reader answered "a simulate-mobile results
    # file, not a log (`jarvis-diag report results.jsonl.gz` reads it)": the very command given
    import bz2
    import gzip
    import lzma

    compress, suffix, tool = {"gzip": (gzip.compress, ".gz", "gunzip -k"), "xz": (lzma.compress, ".xz", "unxz -k"),
                              "bzip2": (bz2.compress, ".bz2", "bunzip2 -k")}[pack]
    results = write_jsonl(tmp_path / "results.jsonl", TWENTY)
    timeline = tmp_path / "timeline.json"
    timeline.write_text(json.dumps({"schema": "jarvis-diag.timeline/1", "sessions": []}))
    for plain, what in ((results, "simulate-mobile results file"), (timeline, "timeline JSON document")):
        packed = plain.with_name(plain.name + suffix)
        packed.write_bytes(compress(plain.read_bytes()))
        p = run_cli(str(packed))
        assert p.returncode == 2 and p.stderr == (
            f"jarvis-diag: error: {packed}: a compressed {what}: report reads it uncompressed; decompress it first "
            f"({tool} {packed}) and give the file that makes\n")
    # a compressed log is read as the timeline reads it
    log = tmp_path / ("app.log" + suffix)
    log.write_bytes(compress(Path("tests/fixtures/callback-desync/app.log").read_bytes()))
    p = run_cli(str(log), "-f", "json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["inputs"][0]["kind"] == "logs"


def test_cli_a_large_bzip2_results_file_says_how_to_read_it(tmp_path):
    # bzip2 gives nothing of a block (up to 900 kB of text) before it is read whole: a results
    # file whose first block took more than the 64 kB looked at was read as a log, whose reader
    # answered "(`jarvis-diag report results.jsonl.bz2` reads it)", the command given
    import bz2
    import random

    noise = random.Random(0)
    records = [dict(sim_record(i % 20, 100.0), cycle=i + 1, errors=[noise.randbytes(1500).hex()]) for i in range(400)]
    packed = tmp_path / "results.jsonl.bz2"
    packed.write_bytes(bz2.compress(write_jsonl(tmp_path / "results.jsonl", records).read_bytes()))
    assert len(packed.read_bytes()) > 4 * 65536
    p = run_cli(str(packed))
    assert p.returncode == 2 and p.stderr == (
        f"jarvis-diag: error: {packed}: a compressed simulate-mobile results file: report reads it uncompressed; "
        f"decompress it first (bunzip2 -k {packed}) and give the file that makes\n")

def test_cli_results_and_timeline_saved_with_a_byte_order_mark_are_read(tmp_path):
    # an editor that saves UTF-8 with a BOM: results.jsonl was read as a log ("a simulate-mobile
    # results file, not a log (`jarvis-diag report bom.jsonl` reads it)"), a timeline as neither
    bom = b"\xef\xbb\xbf"
    results = tmp_path / "bom.jsonl"
    results.write_bytes(bom + write_jsonl(tmp_path / "plain.jsonl", TWENTY).read_bytes())
    timeline = desync_timeline(tmp_path / "timeline.json")
    timeline.write_bytes(bom + timeline.read_bytes())
    for path, kind, records in ((results, "sim", 20), (timeline, "timeline", 5)):
        p = run_cli(str(path), "-f", "json")
        assert p.returncode == 0, p.stderr
        [given] = json.loads(p.stdout)["inputs"]
        assert (given["kind"], given["records"]) == (kind, records)


@pytest.mark.parametrize("form", ["csv", "parquet"])
def test_cli_timeline_events_as_csv_or_parquet_say_which_forms_report_reads(tmp_path, form):
    # `timeline -f csv -o events.csv` then `report events.csv`: "neither a simulate-mobile
    # results file nor a log jarvis-diag reads", of a file jarvis-diag wrote
    events = tmp_path / f"events.{form}"
    made = subprocess.run([sys.executable, "-m", "jarvis_diag", "timeline", "tests/fixtures/callback-desync", "-f",
                           form, "-o", str(events)], capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    p = run_cli(str(events))
    what = "the events of a timeline as CSV" if form == "csv" else "a Parquet file (timeline --format parquet?)"
    assert p.returncode == 2 and p.stderr == (f"jarvis-diag: error: {events}: {what}: report reads a timeline JSON "
                                              "(timeline --format json) or its events as JSONL (timeline --format "
                                              "jsonl)\n")


def test_cli_a_timeline_given_with_the_logs_it_was_made_from_is_refused(tmp_path):
    # `report timeline.json logs/` counted every case of the logs twice (10 records of 5, each
    # finding twice) and said nothing; so did two copies of one timeline
    shutil.copytree("tests/fixtures/callback-desync", tmp_path / "logs")
    timeline = tmp_path / "timeline.json"
    made = subprocess.run([sys.executable, "-m", "jarvis_diag", "timeline", "logs", "-f", "json", "-o", str(timeline)],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    copy = tmp_path / "copy.json"
    copy.write_bytes(timeline.read_bytes())
    for args, refused, also in (([timeline, "logs"], timeline, "logs"), (["logs/app.log", timeline], timeline,
                                "logs/app.log"), ([timeline, copy], copy, timeline)):
        p = run_cli(*map(str, args), cwd=tmp_path)
        assert p.returncode == 2 and p.stderr == (
            f"jarvis-diag: error: {refused}: a timeline of logs/app.log, also given ({also}): its cases would be "
            "counted twice; give the timeline or the logs it was made from, not both\n"), args
    alone = json.loads(run_cli(str(timeline), "-f", "json", cwd=tmp_path).stdout)
    assert alone["inputs"][0]["records"] == 5
    # compared with its logs, each side is read once; but they are the same cases on both
    # sides, which a comparison refuses as it refuses a run compared with itself
    p = run_cli(str(timeline), "--compare", "logs", "-f", "json", cwd=tmp_path)
    assert p.returncode == 2 and "counted twice" not in p.stderr
    assert p.stderr.startswith("jarvis-diag: error: the same logs are on both sides of the comparison"), p.stderr


def test_a_run_folder_given_with_a_timeline_of_its_logs_adds_their_findings_once(tmp_path):
    sample_copy(tmp_path)  # (tmp_path/run)
    made = subprocess.run([sys.executable, "-m", "jarvis_diag", "timeline", "run", "-f", "json", "-o", "tl.json"],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    alone = json.loads(run_cli("tl.json", "-f", "json", cwd=tmp_path).stdout)
    both = json.loads(run_cli("run", "tl.json", "-f", "json", cwd=tmp_path).stdout)
    assert [(i["kind"], i["findings_only"]) for i in both["inputs"]] == [("sim", False), ("timeline", False)]
    from_logs = sorted(f["summary"] for f in both["findings"] if f["source"] == "tl.json")
    assert from_logs == sorted(f["summary"] for f in alone["findings"]) and from_logs


def test_cli_results_after_a_stray_line_name_the_line(tmp_path):
    # a results.jsonl with a line of something else first was read as a log, and the log
    # reader answered "(`jarvis-diag report garb.jsonl` reads it)", the command given
    results = tmp_path / "garb.jsonl"
    results.write_text("warning: something\n" + write_jsonl(tmp_path / "plain.jsonl", TWENTY).read_text())
    p = run_cli(str(results))
    assert p.returncode == 2 and p.stderr == f"jarvis-diag: error: {results}:1: not a JSON record\n"


def test_cli_notes_what_reading_the_logs_warned_of(tmp_path):
    run = sample_copy(tmp_path)
    app = run / "app.log"
    app.write_bytes(app.read_bytes()[:-20])  # the last line cut while written
    p = run_cli(str(app), "--format", "json")
    assert p.returncode == 0, p.stderr
    notes = json.loads(p.stdout)["notes"]
    assert any(n.startswith(f"{app}: the file ends in the middle of a line") for n in notes), notes
    timeline = tmp_path / "timeline.json"
    made = subprocess.run([sys.executable, "-m", "jarvis_diag", "timeline", str(app), "-f", "json", "-o",
                           str(timeline)], capture_output=True, text=True, timeout=60)
    assert made.returncode == 0 and "warning: " in made.stderr
    assert json.loads(run_cli(str(timeline), "--format", "json").stdout)["notes"] == notes


SAMPLE = Path(__file__).parent.parent / "sample_logs" / "single-live-session"
NOT_READ = "neither a simulate-mobile results file nor a log jarvis-diag reads"


def sample_copy(tmp_path) -> Path:
    """A run folder as simulate-mobile and the server leave it: results.jsonl, app.log, frontend/."""
    return Path(shutil.copytree(SAMPLE, tmp_path / "run"))


def test_cli_input_that_is_no_log_and_no_results_is_an_error(tmp_path):
    run = sample_copy(tmp_path)
    garbage = write_jsonl(tmp_path / "garbage.jsonl", [{"id": i, "name": "x"} for i in range(3)])
    other = tmp_path / "package.json"
    other.write_text(json.dumps({"name": "app", "version": "1.0.0", "dependencies": {}}, indent=2))
    noise = tmp_path / "noise.bin"
    noise.write_bytes(bytes(range(256)) * 4)
    syslog = tmp_path / "syslog.log"
    syslog.write_text("Nov 24 10:00:00 host cron[42]: (root) CMD (run-parts /etc/cron.hourly)\n")
    for bad in (garbage, other, noise, syslog):
        for args in ([str(bad)], [str(run / "app.log"), str(bad)], [str(run), str(bad)]):
            p = run_cli(*args)
            assert p.returncode == 2, (args, p.stdout)
            assert p.stderr.startswith(f"jarvis-diag: error: {bad}: {NOT_READ} ("), p.stderr
            assert len(p.stderr.strip().splitlines()) == 1 and "Findings" not in p.stdout
    empty = tmp_path / "empty.log"
    empty.write_text("")
    p = run_cli(str(empty))
    assert p.returncode == 2 and p.stderr.strip() == f"jarvis-diag: error: {empty}: empty, nothing to report"
    # a timeline made from such a file says so too
    timeline = tmp_path / "timeline.json"
    # (written, then exit 2: timeline says nothing could be checked)
    made = subprocess.run([sys.executable, "-m", "jarvis_diag", "timeline", str(syslog), "-f", "json", "-o",
                           str(timeline)], capture_output=True, timeout=60)
    assert made.returncode == 2 and timeline.is_file()
    p = run_cli(str(timeline))
    assert p.returncode == 2 and f"{timeline}: a timeline of {syslog}: {NOT_READ}" in p.stderr


def test_cli_reads_its_own_events_jsonl(tmp_path):
    run = sample_copy(tmp_path)
    events = tmp_path / "events.jsonl"
    subprocess.run([sys.executable, "-m", "jarvis_diag", "timeline", str(run / "app.log"), str(run / "frontend"),
                    "-f", "jsonl", "-o", str(events)], capture_output=True, timeout=60, check=True)
    p = run_cli(str(events), "-f", "json")
    assert p.returncode == 0, p.stderr
    from_logs = json.loads(run_cli(str(run / "app.log"), str(run / "frontend"), "-f", "json").stdout)

    def figures(doc):  # (the slowest cases cite the input they come from)
        return {name: {k: v for k, v in m.items() if k != "slowest"} for name, m in doc["metrics"].items()}

    assert figures(json.loads(p.stdout)) == figures(from_logs) and from_logs["metrics"]


def test_cli_logs_are_shown_by_the_paths_given(tmp_path):
    run = sample_copy(tmp_path)
    p = run_cli("app.log", "frontend/", cwd=run)
    assert p.returncode == 0, p.stderr
    assert "Inputs: app.log, frontend/ (logs, " in p.stdout
    assert str(run) not in p.stdout and "(app.log, frontend/)" in p.stdout  # the slowest cases
    doc = json.loads(run_cli("app.log", "frontend/", "-f", "json", cwd=run).stdout)
    assert [(i["path"], i["paths"], i["kind"]) for i in doc["inputs"]] == \
        [("app.log, frontend/", ["app.log", "frontend/"], "logs")]
    assert {c["path"] for m in doc["metrics"].values() for c in m["slowest"]} == {"app.log, frontend/"}
    assert all(c["timeline"].startswith("jarvis-diag timeline app.log frontend/")
               for m in doc["metrics"].values() for c in m["slowest"])


def _slowest_commands(doc: dict) -> set[str]:
    return {c["timeline"] for m in doc["metrics"].values() for c in m["slowest"]}


def _run_shown(command: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run a command a report shows for a case, as a user pasting it into a shell would."""
    argv = shlex.split(command)
    assert argv[:2] == ["jarvis-diag", "timeline"], command
    return subprocess.run([sys.executable, "-m", "jarvis_diag", *argv[1:], "-f", "json"], capture_output=True,
                          text=True, timeout=120, cwd=cwd)


@pytest.mark.parametrize("given", ["my run", "my run/results.jsonl"])
def test_cli_the_timeline_commands_shown_for_cases_run_as_pasted(tmp_path, given):
    # a run folder whose name has a space: each case's command, pasted into a shell, shows
    # that case's timeline (it named the folder unquoted: 'timeline my run', two paths)
    shutil.copytree(SAMPLE, tmp_path / "my run")
    p = run_cli(given, "-f", "json", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    commands = _slowest_commands(json.loads(p.stdout))
    assert commands
    for command in commands:
        shown = _run_shown(command, tmp_path)
        assert shown.returncode == 0, (command, shown.stderr)
        doc = json.loads(shown.stdout)
        assert doc["sessions"] and all(s["events"] != s["unknown"] for s in doc["sources"]), command


@pytest.mark.parametrize("logs", [["my run/app.log", "my run/frontend"], ["my run"]])
def test_cli_the_timeline_commands_shown_for_a_timeline_json_run_as_pasted(tmp_path, logs):
    # timeline reads logs, not its own JSON: the command shown for a case of a timeline JSON
    # is timeline of the logs it was made from ('timeline tl.json' read one unknown line)
    shutil.copytree(SAMPLE, tmp_path / "my run")
    made = subprocess.run([sys.executable, "-m", "jarvis_diag", "timeline", *logs, "-f", "json", "-o", "tl.json"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    p = run_cli("tl.json", "-f", "json", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    commands = _slowest_commands(json.loads(p.stdout))
    assert commands and all(shlex.split(c)[2].startswith("my run") for c in commands), commands
    for command in commands:
        shown = _run_shown(command, tmp_path)
        assert shown.returncode == 0, (command, shown.stderr)
        doc = json.loads(shown.stdout)
        assert doc["sessions"] and all(s["events"] != s["unknown"] for s in doc["sources"]), command


@pytest.mark.parametrize("width", [80, 100])
def test_a_narrow_terminal_shows_each_cases_command_on_one_line(width, tmp_path, monkeypatch):
    # at 80 columns the command after a slowest case wrapped mid-way ('... --client' then
    # the clientId on the next line): copied from the terminal, it was not the command
    from jarvis_diag.report import make_report

    shutil.copytree("sample_logs/healthy-day", tmp_path / "r")
    monkeypatch.chdir(tmp_path)
    report = make_report("r")
    lines = [line.strip() for line in to_text(report, width=width).splitlines()]
    commands = {c["timeline"] for m in report.metrics if m.breakdown for c in m.slowest[:3]}
    assert commands and all(c in lines or any(line.endswith("  " + c) for line in lines) for c in commands)
    assert max(len(line) for line in to_text(report, width=width).splitlines()) <= width


def test_cli_the_same_input_twice_is_read_once(tmp_path):
    run = sample_copy(tmp_path)
    once = json.loads(run_cli(str(run), "-f", "json").stdout)
    for args in ([str(run), str(run / "results.jsonl")], [str(run / "results.jsonl"), str(run / ".." / "run")],
                 [str(run / "app.log"), str(run / "app.log")]):
        p = run_cli(*args, "-f", "json")
        assert p.returncode == 0, p.stderr
        doc = json.loads(p.stdout)
        # (a run folder's logs are one more input, read for their findings only)
        assert len([i for i in doc["inputs"] if not i["findings_only"]]) == 1
        assert f"{args[1]}: the same input as {args[0]}, read once" in doc["notes"]
        if args[0].endswith("app.log"):
            continue
        def shape(doc):  # (the folder's logs are named as the folder was given: run/../run)
            return [(i["kind"], i["records"], i["findings_only"]) for i in doc["inputs"]], \
                [f["summary"] for f in doc["findings"]]

        assert shape(doc) == shape(once) and doc["inputs"][0]["records"] == 1
        assert doc["counts"] == once["counts"]


def test_the_progress_of_an_input_given_twice_counts_its_bytes_once(tmp_path):
    # `report run run/results.jsonl` on a terminal: the bar's total counted the results twice,
    # the file was read once, and the bar stopped half way
    from jarvis_diag.report.inputs import input_size, resolve_inputs

    run = sample_copy(tmp_path)
    size = (run / "results.jsonl").stat().st_size
    assert input_size(resolve_inputs([str(run), str(run / "results.jsonl"), str(run / "app.log")])) == size


def test_a_run_folder_reports_what_its_logs_found_without_counting_its_cycles_twice(tmp_path):
    # a run folder that holds the logs too (as the samples do) was read as results only: the
    # report named a cycle "not-recovered" but not the callback-desync, missing-resubscribe and
    # single-live-session its logs show, which `timeline` of the same folder names
    run = Path(shutil.copytree(SAMPLE.parent / "callback-desync-switch-back", tmp_path / "run"))
    results = str(run / "results.jsonl")
    folder = json.loads(run_cli(str(run), "-f", "json").stdout)
    alone = json.loads(run_cli(results, "-f", "json").stdout)
    for part in ("metrics", "counts", "worst_episode", "comparison", "notes"):
        assert folder[part] == alone[part], part
    assert folder["inputs"][0] == alone["inputs"][0] and len(alone["inputs"]) == 1
    logs = folder["inputs"][1]
    assert {k: logs[k] for k in ("path", "paths", "kind", "findings_only")} == \
        {"path": str(run), "paths": [str(run)], "kind": "logs", "findings_only": True}
    from_logs = [f for f in folder["findings"] if f["source"] == str(run)]
    assert {"callback-desync", "missing-resubscribe", "single-live-session"} <= {f["kind"] for f in from_logs}
    strip = [{k: v for k, v in f.items() if k != "rank"} for f in alone["findings"]]
    assert [{k: v for k, v in f.items() if k != "rank"} for f in folder["findings"] if f["source"] == results] == strip
    assert [f["rank"] for f in folder["findings"]] == list(range(1, len(folder["findings"]) + 1))
    assert f"{run} (logs, findings only)" in run_cli(str(run), cwd=tmp_path).stdout.replace("\n", "")
    # its logs given as inputs of their own are read once, as logs (figures and all)
    both = json.loads(run_cli(str(run), str(run / "app.log"), str(run / "frontend"), "-f", "json").stdout)
    assert not any(i["findings_only"] for i in both["inputs"])
    assert sorted(f["summary"] for f in both["findings"] if f["source"] != results) == \
        sorted(f["summary"] for f in from_logs)
    # a baseline's logs are read the same way: its findings are counted in the comparison,
    # the report lists the candidate's only (a run is compared with another: here one alike)
    before = Path(shutil.copytree(run, tmp_path / "before"))
    as_another_run(before / "results.jsonl", "r0")
    cmp = json.loads(run_cli(str(run), "--compare", str(before), "-f", "json").stdout)
    assert [i["kind"] for i in cmp["comparison"]["baseline_inputs"]] == ["sim", "logs"]
    assert cmp["findings"] == folder["findings"]
    assert cmp["comparison"]["findings"]["baseline"] == {
        sev: sum(f["severity"] == sev for f in folder["findings"]) for sev in ("critical", "warning", "info")}


def test_a_run_folder_with_no_logs_or_unreadable_ones_is_still_reported(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    write_jsonl(run / "results.jsonl", TWENTY)
    doc = json.loads(run_cli(str(run), "-f", "json").stdout)
    assert [i["kind"] for i in doc["inputs"]] == ["sim"] and doc["notes"] == []
    (run / "frontend").mkdir()
    (run / "frontend" / "page.log").write_text("Nov 24 10:00:00 host cron[42]: (root) CMD (run-parts)\n")
    p = run_cli(str(run), "-f", "json")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert [i["kind"] for i in doc["inputs"]] == ["sim"]
    assert doc["notes"] == [f"{run}: its logs were not read for findings: {run}: {run / 'frontend' / 'page.log'}: "
                            f"{NOT_READ} (its one line is not one the Jarvis backend or frontend writes)"]


def test_cli_compare_without_inputs(tmp_path):
    results = write_jsonl(tmp_path / "results.jsonl", TWENTY)
    for args in (["--compare"], ["--compare", "--format", "json"]):
        p = run_cli(str(results), *args)
        assert p.returncode == 2 and "--compare needs at least one INPUT" in p.stderr, p.stderr


def test_cli_help_has_an_example():
    p = run_cli("--help")
    assert p.returncode == 0 and "Example" in p.stdout and "--budget" in p.stdout


def test_library_entry_point(tmp_path):
    from jarvis_diag.report import make_report

    results = write_jsonl(tmp_path / "results.jsonl", TWENTY)
    report = make_report([results], budgets=["recovery.p50<=50ms"])
    assert report.metric("recovery").summary.percentiles[50] == 100.0
    assert [b.message for b in report.budgets_failed] == ["recovery.p50 = 100 ms (FAILED: budget <= 50 ms)"]


def test_breakdown_uses_only_cases_with_phases():
    # simulation attaches carry no phases, timeline attaches do: the slowest reattach here is a
    # simulated one, and must not turn the breakdown into zeros
    ds = Dataset()
    add_timeline(ds, "timeline.json", TIMELINE)
    add_sim_records(ds, "run/results.jsonl", [(1, sim_record(0, 50.0) | {
        "attaches": [{"session": "s", "kind": "reconnect", "ms": 99.0}]})])
    reattach = build_report(ds).metric("reattach")
    assert reattach.summary.n == 2 and reattach.summary.max == 99.0
    assert reattach.breakdown["slowest 5%"] == reattach.breakdown["all"]
    assert reattach.breakdown["all"]["T5"] == 1.0 and reattach.breakdown["all"]["downlink"] == 2.0


def test_counts_read_as_people_write_them():
    assert [fmt.fmt_value(v, "count") for v in (0, 12.0, 0.363636, 1234.5678, 0.004)] == \
        ["0", "12", "0.36", "1234.57", "0.004"]
    assert fmt.fmt_signed(0.363636, "count") == "+0.36" and fmt.fmt_signed(-0.25, "count") == "−0.25"
    assert fmt.fmt_value(0.363636, "ms") == "0.4 ms"


@pytest.mark.parametrize(("change", "says"), [
    ({"recovered": "yes", "times_ms": {"recovery": "fast"}}, "'recovered' must be true or false, not \"yes\""),
    ({"times_ms": {"recovery": "fast"}}, "'times_ms.recovery' must be a number or null, not \"fast\""),
    ({"lost": "2"}, "'lost' must be a number, not \"2\""),
    ({"lost": True}, "'lost' must be a number, not true"),
    ({"recovered": 1}, "'recovered' must be true or false, not 1"),
    ({"sessions": [{"ready_ms": [1]}]}, "'sessions[0].ready_ms' must be a number or null, not [1]"),
    ({"attaches": [{"kind": "switch", "ms": "3"}]}, "'attaches[0].ms' must be a number or null, not \"3\""),
    ({"attaches": [{"kind": ["switch"], "ms": 3}]}, "'attaches[0].kind' must be a string, not [\"switch\"]"),
    # (json reads NaN and 1e999: the report said "connect inf s (nan%)" and wrote Infinity, no JSON)
    ({"times_ms": {"connected": float("nan")}}, "'times_ms.connected' must be a finite number, not nan"),
    ({"background_ms": float("inf")}, "'background_ms' must be a finite number, not inf"),
    ({"times_ms": {"authenticated": -611.0}}, "'times_ms.authenticated' must not be negative, not -611.0"),
    ({"attaches": [{"kind": "switch", "ms": -3}]}, "'attaches[0].ms' must not be negative, not -3"),
])
def test_cli_a_record_of_wrong_types_is_one_line_naming_the_field(tmp_path, change, says):
    results = write_jsonl(tmp_path / "results.jsonl", [TWENTY[0], TWENTY[1] | change])
    p = run_cli(str(results))
    assert p.returncode == 2, p.stderr
    assert p.stderr.strip() == f"jarvis-diag: error: {results}:2: {says}"


def test_cli_a_record_missing_its_fields_is_an_error(tmp_path):
    results = write_jsonl(tmp_path / "results.jsonl", [{"schema": "jarvis-diag.sim/1"}])
    p = run_cli(str(results))
    assert p.returncode == 2 and "None" not in p.stdout
    assert p.stderr.startswith(f"jarvis-diag: error: {results}:1: not a complete jarvis-diag.sim/1 record: "
                               "no 'client', 'client_id', 'profile'")
    assert len(p.stderr.strip().splitlines()) == 1


def documented_report() -> tuple[dict, str]:
    """The report JSON example of docs/formats.md, and that section's text."""
    text = (Path(__file__).parent.parent / "docs" / "formats.md").read_text()
    section = text[text.index("## Report (`report --format json`)"):]
    section = section[:section.index("\n## ", 1)]
    return json.loads(section.split("```json", 1)[1].split("```", 1)[0]), section


def test_cli_json_of_simulation_results_is_the_documented_schema(tmp_path):
    run = sample_copy(tmp_path)  # a cycle that did not recover
    with open(run / "results.jsonl", "a") as f:
        f.write(json.dumps(sim_record(5, 80.0, lost=2)) + "\n" + json.dumps(sim_record(6, 90.0, duplicated=1)) + "\n")
    doc = json.loads(run_cli(str(run), "-f", "json").stdout)
    example, section = documented_report()
    sim = [f for f in doc["findings"] if f["source"] == str(run / "results.jsonl")]
    kinds = {f["kind"] for f in sim}
    assert kinds == {"not-recovered", "lost-output", "duplicated-output"}
    for kind in kinds:
        assert f"`{kind}`" in section
    for finding in doc["findings"]:
        assert set(example["findings"][0]) <= set(finding), finding
        assert finding["source"] in (str(run / "results.jsonl"), str(run))  # (the folder: its logs' findings)
    for name, count in doc["counts"].items():
        assert set(count) == set(example["counts"]["lost"])
        assert type(count["count"]) is type(example["counts"]["lost"]["count"]) is int, (name, count)
    assert {name: c["count"] for name, c in doc["counts"].items()} == {"lost": 2, "duplicated": 1, "unrecovered": 1}
    assert set(doc["inputs"][0]) == set(example["inputs"][0])


def test_cli_unrecovered_says_what_it_counts_for_each_input(tmp_path):
    # the server bug single-live-session: every session got chat:ready again (the record holds a
    # recovery time), but only one stayed live: the cycle did not recover
    run = sample_copy(tmp_path)
    [record] = [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]
    assert not record["recovered"] and record["times_ms"]["recovery"] is not None
    assert all(s["ready_ms"] is not None for s in record["sessions"])
    doc = json.loads(run_cli(str(run), "-f", "json").stdout)
    unrecovered = doc["counts"]["unrecovered"]
    assert (unrecovered["count"], unrecovered["per"]) == (1, "cycles")
    assert "ready again" not in unrecovered["description"]
    assert "arriving live" in unrecovered["description"]
    assert doc["metrics"]["recovery"]["outcomes"] == {"ready, not recovered": 1}
    assert doc["notes"] == ["recovery: 1 cycle had every session ready again but did not recover (simulate-mobile "
                            "also needs the replies to arrive live): its time is left out of the recovery figures, "
                            "as in simulate-mobile's table"]
    logs = json.loads(run_cli(str(run / "app.log"), str(run / "frontend"), "-f", "json").stdout)
    assert logs["counts"]["unrecovered"]["description"] == "episodes (read from logs) that never got every session " \
                                                          "ready again"
    both = json.loads(run_cli(str(run), str(run / "app.log"), str(run / "frontend"), "-f", "json").stdout)
    description = both["counts"]["unrecovered"]["description"]
    assert "arriving live" in description and "episodes (read from logs)" in description
    assert "| ready, not recovered 1 |" in run_cli(str(run), "-f", "md").stdout


def test_outcomes_are_told_apart_though_one_name_has_a_comma():
    # "not recovered 2, ready, not recovered 4" read as three outcomes
    assert fmt.outcomes_text({"not recovered": 2, "ready, not recovered": 4}) == \
        "not recovered 2; ready, not recovered 4"


@pytest.mark.parametrize(("name", "starts"), [
    ("out.json", '{\n  "schema": "jarvis-diag.report/1"'), ("out.md", "## Connection recovery report"),
    ("out.HTML", "<!DOCTYPE html>"), ("out.htm", "<!DOCTYPE html>"), ("out.txt", "─"), ("out", "─"),
])
def test_cli_output_format_follows_its_suffix(tmp_path, name, starts):
    results = write_jsonl(tmp_path / "results.jsonl", TWENTY)
    out = tmp_path / name
    p = run_cli(str(results), "-o", str(out))
    assert p.returncode == 0, p.stderr
    assert out.read_text().startswith(starts)


def test_cli_format_option_beats_the_suffix(tmp_path):
    results = write_jsonl(tmp_path / "results.jsonl", TWENTY)
    out = tmp_path / "report.json"
    assert run_cli(str(results), "-o", str(out), "-f", "md").returncode == 0
    assert out.read_text().startswith("## Connection recovery report")
    assert run_cli(str(results), "-f", "json").stdout.startswith("{")  # no -o: stdout in the format given
    assert "suffix" in " ".join(run_cli("--help").stdout.split())


def test_a_zero_difference_has_no_sign():
    assert [fmt.fmt_signed(v, "count") for v in (0, 0.0, -0.0, 1, -1, 0.004)] == ["0", "0", "0", "+1", "−1", "+0.004"]
    assert [fmt.fmt_signed(v, "ms") for v in (0.0, 0.04, -0.04, 0.3)] == ["0.0 ms", "0.0 ms", "0.0 ms", "+0.3 ms"]


def test_cli_wording_of_the_footnote_the_inputs_and_a_zero_difference(tmp_path):
    one = write_jsonl(tmp_path / "one.jsonl", TWENTY[:1])
    assert f"Inputs: {one} (sim, 1 record)" in " ".join(run_cli(str(one)).stdout.split())
    two = write_jsonl(tmp_path / "two.jsonl", TWENTY[:2])
    base = write_jsonl(tmp_path / "base.jsonl", [dict(r, run="r0") for r in TWENTY])
    p = run_cli(str(two), "--compare", str(base), "--resamples", "200")
    assert p.returncode == 0, p.stderr
    text = " ".join(p.stdout.split())
    assert f"Inputs: {two} (sim, 2 records)" in text
    assert "* no case lies above this percentile, so it is just the largest value seen (too few cases)." in text
    assert "fewer than 1" not in text and "±" not in text
    md = run_cli(str(two), "--compare", str(base), "--resamples", "200", "-f", "md").stdout
    assert "| `lost` | mean | 0 (n 20) | 0 (n 2) | 0 | [0, 0] | no clear difference |" in md
    assert "\\* no case lies above" in md and "±" not in md
    html = run_cli(str(two), "--compare", str(base), "--resamples", "200", "-f", "html").stdout
    assert "<td class=\"num\">[0, 0]</td>" in html and "±" not in html
    assert "(sim, 1 record)" in run_cli(str(one), "-f", "md").stdout
    assert "(sim, 1 record)" in run_cli(str(one), "-f", "html").stdout


def test_the_live_metric_says_output_seen_not_live():
    from jarvis_diag.report import make_report

    # a session whose first output came back but whose probe reply did not is not "live" in
    # its own record: the metric's outcome must not say it is
    live = make_report(["sample_logs/healthy-day"]).to_json_dict()["metrics"]["live"]
    assert live["outcomes"] == {"output seen": 9}
    assert make_report(["sample_logs/single-live-session"]).to_json_dict()["metrics"]["live"]["outcomes"] == \
        {"no output seen": 1}


def test_a_comparison_with_too_few_cases_says_so_not_no_difference():
    from jarvis_diag.report import make_report

    report = make_report(["sample_logs/single-live-session"], compare=["sample_logs/reload-during-open"])
    assert {r.verdict for r in report.comparison.rows} == {"not enough data"}
    assert fmt.comparison_headlines(report.comparison)[1:] == [
        "not enough data to compare: too few cases on one side or both"]
    assert fmt.comparison_headlines(report.comparison)[0].startswith("findings: ")


@pytest.mark.parametrize("logs", ["tests/fixtures/callback-desync", "tests/fixtures/normal",
                                  "sample_logs/healthy-day", "sample_logs/connmgr-frozen-past-ping"])
def test_an_attachs_phases_add_up_to_its_latency(logs):
    # the wire time is both ways: the downlink is what the uplink leaves of it (it was counted
    # whole, so the slowest case's phases came to 24 ms of a 23 ms latency); and the server's
    # marks are whole ms apart from its received / ready-sent lines, so a wire time can be 1 ms
    # more than the server phases leave (the breakdown of a 3 ms attach came to 4 ms)
    from jarvis_diag.report.dataset import _attach_phases
    from jarvis_diag.timeline import load_timeline

    doc = load_timeline(logs).to_json_dict()
    attaches = [a for s in doc["sessions"] for a in s["attaches"] if a["latency_ms"] and a["transport_ms"] is not None]
    assert attaches
    for a in attaches:
        phases = _attach_phases(a, "new-session" if a["kind"] == "new" else a["kind"])
        assert sum(phases.values()) == pytest.approx(a["latency_ms"], abs=0.01), (a, phases)


def test_the_breakdown_says_what_its_server_phases_mean():
    # T2 is a time since START in the latency table, and a phase's own length in the breakdown
    import html

    from jarvis_diag.report import make_report, to_html, to_markdown

    report = make_report(["tests/fixtures/callback-desync"])
    assert fmt.PHASES_NOTE in to_markdown(report)
    assert html.escape(fmt.PHASES_NOTE.replace("`", "")) in to_html(report)
    assert fmt.phases_note(make_report(["sample_logs/healthy-day"]).metrics) == ""


def test_the_transport_metric_says_what_it_measures_both_ways():
    # it is the latency less the server's time (uplink + downlink), not chat:ready emit -> receive
    from datetime import datetime

    from jarvis_diag.report import make_report
    from jarvis_diag.timeline import load_timeline

    def ms(later, earlier):
        return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds() * 1000

    doc = load_timeline("tests/fixtures/callback-desync").to_json_dict()
    attaches = [a for s in doc["sessions"] for a in s["attaches"] if a["transport_ms"] is not None]
    wire = sorted(a["latency_ms"] - ms(a["ready_sent_at"], a["received_at"]) for a in attaches)
    downlink = sorted(ms(a["ready_received_at"], a["ready_sent_at"]) for a in attaches)
    transport = make_report(["tests/fixtures/callback-desync"]).metric("transport")
    assert list(transport.values) == pytest.approx(wire) and wire != pytest.approx(downlink)
    assert "both ways" in transport.description and "latency less the server's time" in transport.description


def test_a_comparison_of_logs_counts_per_episode_not_per_cycle():
    # logs have reconnect episodes, not simulated cycles: every format said "per cycle"
    import html

    from jarvis_diag.report import make_report, to_html, to_markdown

    def logs(name):
        return [f"sample_logs/{name}/app.log", f"sample_logs/{name}/frontend"]

    report = make_report(logs("connmgr-frozen-past-ping"), compare=logs("legacy-frozen-past-ping"))
    assert "unrecovered: fewer, 3 of 3 episodes -> 0 of 3, per episode 1 -> 0 (−1, 95% CI [−1, −1])" in fmt.comparison_headlines(
        report.comparison)
    said = "p50 for times, mean per episode for counts"
    assert report.to_json_dict()["comparison"]["method"] == f"percentile bootstrap of candidate - baseline ({said})"
    for text in (to_text(report), to_markdown(report), html.unescape(to_html(report))):
        assert said in text and "per cycle" not in text
    # simulated cycles stay per cycle
    sims = make_report(["sample_logs/connmgr-frozen-past-ping"], compare=["sample_logs/legacy-frozen-past-ping"])
    assert "unrecovered: fewer, 3 of 3 cycles -> 0 of 3, per cycle 1 -> 0 (−1, 95% CI [−1, −1])" in fmt.comparison_headlines(sims.comparison)
    assert "mean per cycle for counts" in to_markdown(sims)


def _documented_report_example() -> dict:
    text = Path("docs/formats.md").read_text(encoding="utf-8")
    section = text.split("## Report (`report --format json`)", 1)[1]
    return json.loads(section.split("```json", 1)[1].split("```", 1)[0])


# objects keyed by a name (each value shaped as the documented one) and free-form mappings
_BY_NAME = {"report.metrics", "report.counts", "report.comparison.metrics", "report.comparison.findings.kinds"}
_FREE = {"outcomes", "phases"}  # (phases: {} when no case has any)


def _same_keys(documented, actual, where: str, problems: list[str]) -> None:
    """Every object of the documented example has exactly the keys of the real one ("..."
    stands for more keys as shown elsewhere; agent_start_share is only on new-session)."""
    if where in _BY_NAME:
        shape = next(iter(documented.values()))
        for name, value in actual.items():
            _same_keys(shape, value, f"{where}.{name}", problems)
    elif where.rsplit(".", 1)[-1] in _FREE:
        return
    elif isinstance(documented, dict) and isinstance(actual, dict):
        if "..." not in documented:
            extra = set(actual) - set(documented) - {"agent_start_share"}
            missing = set(documented) - set(actual) - {"agent_start_share"}
            if extra or missing:
                problems.append(f"{where}: undocumented {sorted(extra)}, documented but absent {sorted(missing)}")
        for key in set(documented) & set(actual):
            _same_keys(documented[key], actual[key], f"{where}.{key}", problems)
    elif isinstance(documented, list) and isinstance(actual, list) and documented and actual:
        _same_keys(documented[0], actual[0], f"{where}[0]", problems)


def test_the_json_has_exactly_the_keys_docs_formats_shows():
    from jarvis_diag.report import make_report

    example = _documented_report_example()
    report = make_report(["sample_logs/connmgr-frozen-past-ping"], compare=["sample_logs/legacy-frozen-past-ping"],
                         budgets=["recovery.p95<=500ms"]).to_json_dict()
    lost = make_report(["sample_logs/legacy-frozen-past-ping"]).to_json_dict()["counts"]["unrecovered"]
    report["counts"]["lost"] = lost  # (a count with a case in "where")
    report["findings"] = make_report(["tests/fixtures/callback-desync"]).to_json_dict()["findings"]
    problems: list[str] = []
    # findings: the timeline's own fields (docs: "kinds and fields as in the timeline's findings")
    documented_finding = example.pop("findings")[0]
    assert set(documented_finding) <= set(report.pop("findings")[0])
    _same_keys(example, report, "report", problems)
    assert not problems, problems


def test_a_narrow_terminal_cuts_no_metric_name_verdict_or_evidence_line_number():
    # at 80 columns detection-client and detection-server both read "detection…", a verdict
    # "not comparab…", and an evidence line lost its line number with the end of its path
    from jarvis_diag.report import make_report

    def logs(name):
        return [f"sample_logs/{name}/app.log", f"sample_logs/{name}/frontend"]

    report = make_report(logs("legacy-frozen-past-ping"), compare=logs("connmgr-frozen-past-ping"))
    text = to_text(report, width=80)
    assert "…" not in text.split("Comparison: candidate vs baseline", 1)[1]
    firsts = [line.split()[0] for line in text.splitlines() if line.strip()]
    for m in report.metrics:
        assert firsts.count(m.name) >= 2, m.name  # the latency table and the comparison, whole
    assert "not comparable" in text
    evidence = make_report(["tests/fixtures/callback-desync"])
    unfolded = to_text(evidence, width=80).replace("\n", "")
    for f in evidence.findings:
        for ev in f["evidence"][:5]:
            assert f"{ev['path']}:{ev['line']}" in unfolded


def test_the_worst_cycle_of_a_flaky_network_is_not_called_hidden():
    # flaky keeps the page visible and in use (docs/formats.md): its window is a bad network
    flaky = [dict(sim_record(i, 100.0 + i), fault="flaky", background_ms=8000) for i in range(3)]
    rows = build_report(dataset_of(flaky)).waterfall.rows
    assert rows[0]["label"] == "bad network (flaky, 8000 ms before)" and rows[0]["start_ms"] == -8000.0
    frozen = build_report(dataset_of([sim_record(0, 100.0)])).waterfall.rows
    assert frozen[0]["label"] == "hidden (freeze, 30000 ms before)"


def test_logs_given_one_by_one_are_named_once_and_markdown_keeps_its_findings(tmp_path):
    # a shell glob of 300 page logs: every slowest case repeated the whole list twice, the
    # comment was cut inside the slowest cases (an unclosed <details>) and lost its findings
    from jarvis_diag.report import make_report

    frontend = tmp_path / "frontend"
    frontend.mkdir()
    shutil.copy("tests/fixtures/callback-desync/app.log", tmp_path / "app.log")
    [page] = Path("tests/fixtures/callback-desync/frontend").glob("*.log")
    shutil.copy(page, frontend / page.name)
    for i in range(300):  # pages loaded and left at once
        (frontend / f"20261124_Mozilla50iPhoneCPUiP-page{i:03d}-{'x' * 40}.log").write_text(
            f"[2026-11-24T10:04:{i % 60:02d}.314Z] [DEBUG] initKeyboardHandler: visualViewport listener added\n")
    paths = [str(tmp_path / "app.log"), *sorted(str(p) for p in frontend.glob("*.log"))]
    report = make_report(paths)
    md = to_markdown(report)
    assert len(md) < 65_536 and "cut to fit a comment" not in md
    assert "### Findings (6)" in md and "callback-desync" in md.split("### Findings", 1)[1]
    assert md.count("<details>") == md.count("</details>") and md.count("```") % 2 == 0
    assert "… (300 more)" in md.split("\n")[2] and max(len(line) for line in md.splitlines()) < 2000
    check_markdown_tables(md)
    # the terminal and the HTML name them once too (the JSON keeps every path)
    from jarvis_diag.report import to_html

    for shown in (to_text(report, width=120), to_html(report)):
        assert shown.count(Path(paths[-1]).name) == 0 and "(300 more)" in shown and "it names every log given" in shown
    assert report.to_json_dict()["inputs"][0]["paths"] == paths


def test_markdown_cut_to_fit_a_comment_closes_what_it_opened(monkeypatch):
    from jarvis_diag.report import make_report, markdown

    report = make_report(["tests/fixtures/callback-desync"])
    whole = markdown.to_markdown(report)
    cut_in_evidence = whole.index("   ```text") + 200
    monkeypatch.setattr(markdown, "MAX_CHARS", cut_in_evidence)
    md = markdown.to_markdown(report)
    assert md.endswith("… (cut to fit a comment; see the HTML or JSON report)\n")
    assert md.count("<details>") == md.count("</details>") and md.count("```") % 2 == 0


def test_cli_a_dash_says_report_reads_files_not_stdin(tmp_path):
    # "-" is standard input to timeline; report said "no such file or directory: -"
    results = Path("sample_logs/healthy-day/results.jsonl").read_text()
    for args in (["-"], ["sample_logs/healthy-day", "--compare", "-"]):
        p = subprocess.run([sys.executable, "-m", "jarvis_diag", "report", *args], input=results,
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 2 and p.stdout == ""
        assert p.stderr == ("jarvis-diag: error: -: report reads files, not standard input (a report names the "
                            "file and line of each case): save it to a file and give that\n")


def test_cli_a_pipe_named_as_a_path_says_report_reads_files(tmp_path):
    # `report <(zcat app.log.gz)`: the shell passes /dev/fd/N, a pipe. Since timeline reads
    # pipes, report took it for a log: the look at its head for its kind took what the pipe
    # held, and the report said the log was "empty, nothing to report"
    import os
    import threading

    log = Path("tests/fixtures/normal/backend.log").read_bytes()
    read, write = os.pipe()

    def feed() -> None:
        try:
            os.write(write, log)
        except OSError:  # (the command closed its end unread)
            pass
        finally:
            os.close(write)

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    try:
        p = subprocess.run([sys.executable, "-m", "jarvis_diag", "report", f"/dev/fd/{read}"], pass_fds=(read,),
                           capture_output=True, text=True, timeout=120)
    finally:
        os.close(read)
        writer.join(timeout=30)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr == (f"jarvis-diag: error: /dev/fd/{read}: report reads files, not a pipe (a report names the "
                        "file and line of each case): save it to a file and give that\n")


def test_markdown_keeps_the_words_of_a_summary_that_quotes_angle_brackets():
    # "<Task pending name='Task-3' ...>" read as an HTML tag: a pull request page drops it
    import copy

    doc = copy.deepcopy(TIMELINE)
    doc["findings"][0]["summary"] = "2x Task was destroyed but it is pending! task: <Task pending name='Task-3'>"
    ds = Dataset()
    add_timeline(ds, "timeline.json", doc)
    md = to_markdown(build_report(ds, title="After <the fix>"))
    rendered = MarkdownIt("commonmark").enable("table").render(md)
    assert "&lt;Task pending name='Task-3'&gt;" in rendered or "&lt;Task pending name=&#x27;Task-3&#x27;" in rendered
    assert "<h2>After &lt;the fix&gt;</h2>" in rendered


def test_the_worst_episode_that_never_recovered_is_not_said_to_end_after_0_ms():
    from jarvis_diag.report import make_report

    report = make_report(["sample_logs/legacy-frozen-past-ping/app.log", "sample_logs/legacy-frozen-past-ping/frontend"])
    w = report.waterfall
    assert w.title.endswith("NOT recovered (a session never ready again)") and "after 0 ms" not in w.title
    last = max(r["end_ms"] if r["end_ms"] is not None else r["start_ms"] for r in w.rows)
    never = [r for r in w.rows if r["label"].endswith("never ready")]
    assert never and w.total_ms == last > 0 and all(r["start_ms"] == last for r in never)


def test_the_worst_episode_does_not_call_an_auto_attach_a_chat_connect():
    # the legacy page re-sent no chat:connect: its message made the server attach the chat
    from jarvis_diag.report import make_report

    legacy = make_report(["sample_logs/legacy-frozen-past-ping/app.log",
                          "sample_logs/legacy-frozen-past-ping/frontend"]).waterfall.rows
    labels = [r["label"] for r in legacy]
    assert any(re.fullmatch(r"client: message to \w{8} -> auto-attached, ready", x) for x in labels), labels
    assert not any("chat:connect" in x for x in labels)
    connmgr = make_report(["sample_logs/connmgr-frozen-past-ping/app.log",
                           "sample_logs/connmgr-frozen-past-ping/frontend"]).waterfall.rows
    labels = [r["label"] for r in connmgr]
    assert any(re.fullmatch(r"client: chat:connect \w{8} -> ready", x) for x in labels)
    assert any(re.fullmatch(r"server: chat:connect \w{8} \(T5 [\d.]+ ms\)", x) for x in labels)
    assert not any("None" in x for x in labels)


@pytest.mark.parametrize(("change", "says"), [
    (lambda d: d.update(sessions="x"), "'sessions' must be a list, not \"x\""),
    (lambda d: d["sessions"][0]["attaches"].insert(0, "oops"), "'sessions[0].attaches[0]' must be an object"),
    (lambda d: d["sessions"][0]["attaches"][0].update(latency_ms="fast"),
     "'sessions[0].attaches[0].latency_ms' must be a number or null, not \"fast\""),
    (lambda d: d["sessions"][0]["attaches"][0].update(requested_at="yesterday"),
     "'sessions[0].attaches[0].requested_at' must be an ISO 8601 instant or null, not \"yesterday\""),
    (lambda d: d["findings"][0].update(delay_ms="15 s"), "'findings[0].delay_ms' must be a number or null"),
    (lambda d: d["connections"].insert(0, None), "'connections[0]' must be an object, not null"),
    (lambda d: d["findings"][0]["evidence"].insert(0, "app.log:12"),
     "'findings[0].evidence' must be a list of objects, not [\"app.log:12\""),
    (lambda d: d["findings"][0].update(severity=["critical"]),
     "'findings[0].severity' must be a string or null, not [\"critical\"]"),
    (lambda d: d["sessions"][0]["attaches"][0].update(kind=["switch"]),
     "'sessions[0].attaches[0].kind' must be a string or null, not [\"switch\"]"),
    (lambda d: d["connections"][0].update(sid=7), "'connections[0].sid' must be a string or null, not 7"),
])
def test_cli_a_timeline_json_of_the_wrong_shape_is_one_line_naming_the_field(tmp_path, change, says):
    # a hand-edited timeline: AttributeError: 'str' object has no attribute 'get', a traceback
    from jarvis_diag.report.dataset import timeline_problem
    from jarvis_diag.timeline import load_timeline

    doc = load_timeline("tests/fixtures/callback-desync").to_json_dict()
    assert timeline_problem(doc) is None
    change(doc)
    path = tmp_path / "timeline.json"
    path.write_text(json.dumps(doc))
    p = run_cli(str(path))
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
    assert p.stderr.startswith(f"jarvis-diag: error: {path}: {says}") and len(p.stderr.splitlines()) == 1


@pytest.mark.parametrize("logs", ["tests/fixtures/normal", *sorted(str(p) for p in Path("sample_logs").iterdir()
                                                                   if p.is_dir())])
def test_every_timeline_the_timeline_command_writes_has_the_shape_the_report_reads(logs):
    from jarvis_diag.report.dataset import timeline_problem
    from jarvis_diag.timeline import load_timeline

    assert timeline_problem(json.loads(json.dumps(load_timeline(logs).to_json_dict()))) is None


def test_a_comparison_of_logs_with_no_case_on_either_side_renders_in_every_format(tmp_path):
    # a server's start-up alone has no attach and no episode: the comparison has no row, and
    # the terminal's table sized its verdict column by the longest verdict of none (a traceback)
    from jarvis_diag.report import make_report, to_html

    app = tmp_path / "app.log"
    app.write_text("".join(Path("tests/fixtures/normal/backend.log").read_text().splitlines(keepends=True)[:5]))
    other = tmp_path / "other.log"  # (the same logs on both sides are refused)
    other.write_bytes(app.read_bytes())
    report = make_report([str(app)], compare=[str(other)])
    assert report.comparison is not None and report.comparison.rows == []
    assert "Comparison: candidate vs baseline" in to_text(report, width=80)
    assert "Comparison with the baseline" in to_markdown(report) and "Comparison with the baseline" in to_html(report)
    p = run_cli(str(app), "--compare", str(other))
    assert p.returncode == 0 and "Traceback" not in p.stderr, p.stderr
    assert "Comparison: candidate vs baseline" in p.stdout


def test_one_long_path_is_shown_whole():
    # only a list of paths is cut ("… (N more)"): one path over the limit lost its file name
    # and line number to "…" in the inputs line and the slowest cases
    deep = "/ci/workspace/" + "nested/" * 50 + "run-7/results.jsonl"
    assert len(deep) > fmt.MAX_PATHS_CHARS and fmt.short_paths(deep) == deep
    listed = fmt.short_paths(", ".join([deep] * 3))
    assert listed == f"{deep} … (2 more)"
    report = build_report(dataset_of(TWENTY, path=deep))
    for text in (to_text(report, width=400), to_markdown(report)):
        assert deep in text and f"{deep}:1" in text


def test_a_quoted_glob_reads_the_files_it_matches_as_timeline_does():
    # `report "logs/frontend/*"` (a script's quoted glob): said "no such file or directory"
    real = "tests/fixtures/normal"
    run = [sys.executable, "-m", "jarvis_diag", "report", "-f", "json"]
    globbed = subprocess.run([*run, f"{real}/app.log", f"{real}/frontend/*"], capture_output=True, text=True,
                             timeout=120)
    named = subprocess.run([*run, f"{real}/app.log", *map(str, sorted(Path(f"{real}/frontend").glob("*")))],
                           capture_output=True, text=True, timeout=120)
    assert globbed.returncode == 0, globbed.stderr
    assert json.loads(globbed.stdout)["metrics"] == json.loads(named.stdout)["metrics"]
    # a glob of run folders: each folder an input
    runs = subprocess.run([*run, "sample_logs/healthy-*"], capture_output=True, text=True, timeout=120)
    assert runs.returncode == 0 and json.loads(runs.stdout)["inputs"][0]["path"].startswith("sample_logs/healthy-day")
    none = subprocess.run([*run, f"{real}/nothing*"], capture_output=True, text=True, timeout=60)
    assert none.returncode == 2 and none.stderr == f"jarvis-diag: error: {real}/nothing*: matches no file\n"


def test_cycles_compared_with_episodes_are_not_comparable(tmp_path):
    # one side a simulation's results (a cycle recovers when a reply arrives live), the other
    # the logs of a run (an episode recovers when its chats are ready again): the same run
    # counts 1 unrecovered cycle and 0 unrecovered episodes, which said nothing of a change
    run = sample_copy(tmp_path)
    p = run_cli(str(run / "results.jsonl"), "--compare", str(run / "app.log"), str(run / "frontend"), "-f", "json")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["comparison"]["metrics"]["unrecovered"]["verdict"] == "not comparable"
    assert any(n.startswith("unrecovered: not comparable: the baseline counts episodes, the candidate cycles")
               for n in doc["notes"]), doc["notes"]
    md = run_cli(str(run / "results.jsonl"), "--compare", str(run / "app.log"), str(run / "frontend"), "-f", "md")
    assert "unrecovered: not comparable" in md.stdout


def test_markdown_of_many_inputs_counts_them_and_keeps_its_tables():
    # `report runs/*/results.jsonl` of 900 nightly runs: the Inputs line named each one (47 KB
    # at 700), and the cut to fit a comment took everything after it: no table, no finding
    ds = Dataset()
    for n in range(900):
        add_sim_records(ds, f"runs/nightly-soak-2026-12-06-{n:04d}/results.jsonl",
                        ((k + 1, sim_record(k, 100.0 + k, run=f"r{n}")) for k in range(3)))
    md = to_markdown(build_report(ds))
    inputs = next(line for line in md.splitlines() if line.startswith("Inputs: "))
    assert inputs.endswith("; and 897 more, 2,691 records (see the JSON report)") and inputs.count("`") == 6
    assert "### Latency" in md and "### Lost, duplicated, unrecovered" in md and "cut to fit" not in md
    assert check_markdown_tables(md) >= 2


def test_markdown_keeps_each_finding_one_list_item_whatever_its_text_holds():
    # a finding of a timeline JSON (or of a failure text of several lines) went into the list
    # as written: a severity '<details><summary>x' opened a block that swallowed the rest of
    # the comment, and a blank line in a failure ended its list item, its evidence left out
    ds = dataset_of([sim_record(0, None, failure="line1\nline2 | x\n\n# not a heading")])
    ds.findings.append({"kind": "desync`|<details>", "severity": "<details><summary>x", "at": "2026-11-24T10:00:00Z",
                        "summary": "s", "context": "```\n</details>", "evidence": [], "source": "tl.json"})
    md = to_markdown(build_report(ds))
    page = MarkdownIt("commonmark").enable("table").render(md)
    findings = page.split("Findings (2)</h3>", 1)[1]
    items = findings.split("<ol>", 1)[1].split("</ol>", 1)[0]
    assert items.count("<li>") == 2 and "line1 line2 \\| x" not in items and "# not a heading" in items
    assert "<h1>" not in findings and "<details><summary>x" not in md
    assert md.count("<details>") == md.count("</details>") and md.count("```") % 2 == 0


def test_markdown_says_what_each_metric_measures_and_which_side_is_the_candidate():
    base = dataset_of([sim_record(i, 100.0 + i, run="r0") for i in range(20)], "before/results.jsonl")
    report = build_report(dataset_of(TWENTY), baseline=base, resamples=50)
    md = to_markdown(report)
    for m in report.metrics:
        assert f"- `{m.name}`: " in md.split("What each metric measures", 1)[1].split("</details>", 1)[0]
    assert "Candidate: the inputs above. Baseline: `before/results.jsonl`" in md


def test_markdown_cut_inside_the_tenth_findings_evidence_closes_its_code_block(monkeypatch):
    # the fence put to close it was indented by 3, the 10th item's by 4: not a closing fence,
    # so the cut notice and the closing </details> showed as code
    from jarvis_diag.report import markdown

    ds = dataset_of([sim_record(i, None, failure=f"failure kind {i}") for i in range(12)])
    report = build_report(ds)
    whole = markdown.to_markdown(report)
    tenth = whole.index("\n10. ")
    monkeypatch.setattr(markdown, "MAX_CHARS", whole.index("    ```text", tenth) + 30)
    md = markdown.to_markdown(report)
    page = MarkdownIt("commonmark").render(md)
    assert "cut to fit a comment" in page.split("</code></pre>")[-1], page[-400:]


def test_markdown_shows_a_path_with_backticks_as_it_is():
    # a backtick in a path was shown as a quote: the command to copy named another file
    report = build_report(dataset_of(TWENTY, "runs/a `b` c/results.jsonl"))
    md = to_markdown(report)
    page = MarkdownIt("commonmark").enable("table").render(md)
    assert "<code>runs/a `b` c/results.jsonl</code>" in page

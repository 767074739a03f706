"""A before/after report as a reviewer reads it in a pull request: what the comparison says
in words, and runs that recorded nothing."""

import html
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_report import as_another_run, sim_record, write_jsonl

from jarvis_diag.errors import DiagError
from jarvis_diag.report import fmt, make_report, to_html, to_markdown, to_text
from jarvis_diag.results import load_results, session_results


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "jarvis_diag", "report", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


@pytest.fixture
def before_after(tmp_path):
    """A fix: 12 cycles of which none recovered, half of them losing 3 messages, then 12 that all recovered."""
    before = write_jsonl(tmp_path / "before.jsonl",
                         [sim_record(i, None, lost=3 if i < 6 else 0, failure="no reply live", run="r0")
                          for i in range(12)])
    after = write_jsonl(tmp_path / "after.jsonl", [sim_record(i, 100.0 + i) for i in range(12)])
    return str(after), str(before)


def test_the_headline_says_how_many_cycles_each_side_had_counts_first(before_after):
    # it read 'unrecovered: fewer, per cycle 1 -> 0', after a latency line: that 12 cycles of
    # 12 failed before and none after was left for the reader to work out
    after, before = before_after
    report = make_report(after, compare=before, resamples=500)
    lines = fmt.comparison_headlines(report.comparison)
    assert lines[0] == "findings: fewer, 2 critical -> none (lost-output 1 -> 0, not-recovered 1 -> 0)"
    assert lines[1].startswith("lost: fewer, 18 messages in 12 cycles -> 0 in 12, per cycle 1.5 -> 0 (−1.5, 95% CI")
    assert lines[2].startswith("unrecovered: fewer, 12 of 12 cycles -> 0 of 12, per cycle 1 -> 0 (−1, 95% CI")
    # the times only the candidate has (its cycles recovered, the baseline's none) come after
    assert lines[3:] == ["recovery: none in the baseline (not recovered 12), p50 105 ms (n 12) in the candidate",
                         "live: none in the baseline (no output seen 12), p50 205 ms (n 12) in the candidate"]
    assert "12 of 12 cycles -> 0 of 12" in to_markdown(report).split("### Latency")[0]


def test_not_enough_data_says_which_side_had_no_case(before_after):
    # the baseline recovered no cycle, so it has no recovery time: 'not enough data' alone
    # read as if the report had failed to measure (and '0 cases; 5 needed', as if more cycles
    # would have given one: what its cycles had instead is said)
    after, before = before_after
    report = make_report(after, compare=before, resamples=500)
    said = "not enough data: baseline none of 12 (not recovered 12)"
    row = next(r for r in report.comparison.rows if r.metric == "recovery")
    assert row.verdict == "not enough data" and fmt.verdict_text(row) == said
    assert report.to_json_dict()["comparison"]["metrics"]["recovery"]["verdict"] == "not enough data"
    md_row = next(line for line in to_markdown(report).splitlines() if line.startswith("| `recovery` | p50"))
    assert md_row.endswith(f"| {said} |")
    assert said in html.unescape(to_html(report))
    assert " ".join(to_text(report, width=200).split()).count(said) == 1
    live = next(r for r in report.comparison.rows if r.metric == "live")
    assert fmt.verdict_text(live) == "not enough data: baseline none of 12 (no output seen 12)"


def test_a_time_only_one_side_has_is_the_headline_when_no_count_changed(tmp_path):
    # both sides' cycles all failed (the legacy page), but the candidate's replies came live
    # (p50 564 ms) and the baseline's never: the headline said 'no clear difference in any metric'
    def records(live):
        out = [sim_record(i, None, failure="not recovered", run="r1" if live else "r0") for i in range(5)]
        for i, rec in enumerate(out):
            rec["sessions"][0].update(first_live_ms=560.0 + i if live else None, live=live)
        return out
    before = write_jsonl(tmp_path / "before.jsonl", records(False))
    after = write_jsonl(tmp_path / "after.jsonl", records(True))
    report = make_report(str(after), compare=str(before), resamples=500)
    lines = fmt.comparison_headlines(report.comparison)
    assert "live: none in the baseline (no output seen 5), p50 562 ms (n 5) in the candidate" in lines
    assert not [line for line in lines if "no clear difference" in line]
    # the other way round: the candidate lost what the baseline had
    back = make_report(str(before), compare=str(after), resamples=500)
    assert "live: none in the candidate (no output seen 5), p50 562 ms (n 5) in the baseline" in \
        fmt.comparison_headlines(back.comparison)


def test_the_method_names_only_what_is_compared():
    # logs with no reconnect episode have no count to compare: 'mean per cycle for counts'
    # was said all the same
    report = make_report("tests/fixtures/normal", compare="tests/fixtures/callback-desync", resamples=500)
    assert {r.unit for r in report.comparison.rows} == {"ms"}
    assert report.comparison.statistics == "p50 for times"
    assert "for counts" not in to_markdown(report) and "per cycle" not in to_markdown(report)


@pytest.mark.parametrize("content, says", [("", "empty"), ('{"schema": "jarvis-diag.sim/1", "run"', "its only record "
                                                                                                     "is cut off")])
def test_a_run_that_recorded_no_cycle_is_an_error(tmp_path, content, says):
    # a run folder whose results.jsonl is empty (the run stopped before its first cycle) gave
    # a report with exit code 0: 'sim, 0 records', 'Findings (0) none', as if nothing went wrong
    run = tmp_path / "run"
    run.mkdir()
    (run / "results.jsonl").write_text(content)
    good = write_jsonl(tmp_path / "good.jsonl", [sim_record(i, 100.0) for i in range(3)])
    error = f"jarvis-diag: error: {run / 'results.jsonl'}: {says}, no cycle to report"
    for args in ([str(run)], [str(run / "results.jsonl")], [str(good), "--compare", str(run)],
                 [str(run), "-f", "json"]):
        p = run_cli(*args)
        assert p.returncode == 2, (args, p.stdout)
        assert p.stderr.startswith(error) and len(p.stderr.strip().splitlines()) == 1, p.stderr
        assert p.stdout == ""
    with pytest.raises(DiagError, match="no cycle to report"):
        make_report(str(run))
    # a run with records whose last line is cut still reports them, with a note
    (run / "results.jsonl").write_text(json.dumps(sim_record(0, 100.0)) + "\n" + content[:20])
    p = run_cli(str(run / "results.jsonl"), "-f", "json")
    assert p.returncode == 0 and json.loads(p.stdout)["inputs"][0]["records"] == 1


def test_cycles_that_failed_the_same_way_are_one_finding(tmp_path):
    # the failure text names each cycle's own sessions, so every phone of a run was a
    # not-recovered finding of its own: 20 phones filled the top ten with one cause
    reply = "the reply to a message sent after recovery did not arrive live"
    auto = "attached only when a message auto-connected it"
    records = [sim_record(i, None, failure=f"session {i:08x}: {reply}; session {i:08x}: {auto}; "
                                           f"session {i + 100:08x}: {auto}") for i in range(20)]
    records += [sim_record(20, None, failure="gave up reconnecting (attempts exhausted)")]
    results = write_jsonl(tmp_path / "results.jsonl", records)
    report = make_report(str(results))
    found = [(f["kind"], f["summary"], f["count"]) for f in report.findings]
    assert found == [("not-recovered", f"20 of 21 cycles did not recover: {reply}; {auto}", 20),
                     ("not-recovered", "1 of 21 cycles did not recover: gave up reconnecting (attempts exhausted)", 1)]
    evidence = report.findings[0]["evidence"]
    assert len(evidence) == 5 and evidence[1]["text"] == f"client 1 cycle 1 (Client1): {records[1]['failure']}"


def test_the_comparison_says_what_went_wrong_before_and_not_after(tmp_path):
    # a fix that ends the failures shows first in the findings: the comparison said nothing of
    # them (the baseline run folder's logs were not even read), so comparing the logs of a
    # serve --bug single-live-session run with those of a correct one said only 'reattach: slower'
    report = make_report("sample_logs/connmgr-frozen-past-ping", compare="sample_logs/legacy-frozen-past-ping",
                         resamples=500)
    baseline = make_report("sample_logs/legacy-frozen-past-ping").findings
    assert len(baseline) == 10
    assert {f["source"] for f in report.findings} == {"sample_logs/connmgr-frozen-past-ping"}
    change = report.to_json_dict()["comparison"]["findings"]
    assert change == {"baseline": {"critical": 1, "warning": 6, "info": 3},
                      "candidate": {"critical": 0, "warning": 0, "info": 2},
                      "kinds": {"half-open": {"baseline": 3, "candidate": 0},
                                "missing-resubscribe": {"baseline": 3, "candidate": 0},
                                "not-recovered": {"baseline": 1, "candidate": 0}}}
    said = ("findings: fewer, 1 critical and 6 warning -> none (half-open 3 -> 0, missing-resubscribe 3 -> 0, "
            "not-recovered 1 -> 0)")
    assert fmt.comparison_headlines(report.comparison)[0] == said
    assert f"- {said}" in to_markdown(report) and said in html.unescape(to_html(report))
    # the other way round: more, and the findings listed are still the candidate's own
    worse = make_report("sample_logs/legacy-frozen-past-ping", compare="sample_logs/connmgr-frozen-past-ping",
                        resamples=500)
    assert fmt.comparison_headlines(worse.comparison)[0].startswith("findings: more, none -> 1 critical and 6 warning")
    assert len(worse.findings) == 10
    # the same findings on both sides (another run alike): no line
    alike = Path(shutil.copytree("sample_logs/healthy-day", tmp_path / "alike"))
    as_another_run(alike / "results.jsonl", "r0")
    same = make_report("sample_logs/healthy-day", compare=alike, resamples=500)
    assert not [line for line in fmt.comparison_headlines(same.comparison) if line.startswith("findings")]


def test_a_folder_of_run_folders_says_their_results_were_not_read(tmp_path):
    # `report runs/` read the pages' logs of every run inside as one timeline and left their
    # results.jsonl out without a word
    import shutil

    runs = tmp_path / "runs"
    for name in ("connmgr-frozen-past-ping", "legacy-frozen-past-ping"):
        shutil.copytree(f"sample_logs/{name}", runs / name)
    p = run_cli(str(runs), "-f", "json")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert [i["kind"] for i in doc["inputs"]] == ["logs"]
    assert doc["notes"][-1] == (
        f"{runs}: read as a folder of logs, so the results.jsonl of the 2 run folders in it were not read; to read "
        f"them, give the run folders: jarvis-diag report {runs}/connmgr-frozen-past-ping "
        f"{runs}/legacy-frozen-past-ping")
    # a run folder given as such says nothing of the kind
    alone = json.loads(run_cli(str(runs / "connmgr-frozen-past-ping"), "-f", "json").stdout)
    assert not [n for n in alone["notes"] if "not read" in n]


def test_each_findings_evidence_stays_in_its_list_item():
    # the evidence was indented by 3, the width of '9. ': under '10. ' it left the list, so
    # a pull request showed the tenth finding's evidence, and what came after, outside it
    from markdown_it import MarkdownIt

    report = make_report("sample_logs/legacy-frozen-past-ping")
    assert len(report.findings) >= 10
    page = MarkdownIt("commonmark", {"html": True}).enable("table").render(to_markdown(report))
    items = page.split("<ol>", 1)[1].split("</ol>", 1)[0].split("<li>")[1:]
    assert len(items) == 10
    with_evidence = [f for f in report.findings[:10] if f.get("context") or f.get("evidence")]
    assert sum("<summary>evidence</summary>" in item for item in items) == len(with_evidence) == 10
    assert "<summary>evidence</summary>" not in page.split("</ol>", 1)[1]


def test_findings_that_changed_do_not_hide_that_no_metric_did():
    # with the findings' line first, what the metrics say was no longer said: here, that one
    # page's few attaches a side are too few to compare
    report = make_report("tests/fixtures/normal", compare="tests/fixtures/callback-desync", resamples=500)
    assert fmt.comparison_headlines(report.comparison) == [
        "findings: fewer, 3 critical -> none (callback-desync 2 -> 0, single-live-session 1 -> 0)",
        "not enough data to compare: too few cases on one side or both"]


def test_the_baseline_line_says_what_each_baseline_input_gave():
    # 'Baseline: `run/results.jsonl`; `run`': the second, the run's logs read for their
    # findings, was not said to be one, as the Inputs line says of the candidate's
    report = make_report("sample_logs/healthy-day", compare="sample_logs/legacy-frozen-past-ping", resamples=500)
    said = ("`sample_logs/legacy-frozen-past-ping/results.jsonl` (sim, 3 records); "
            "`sample_logs/legacy-frozen-past-ping` (logs, findings only)")
    assert f"Baseline: {said}\n" in to_markdown(report)
    assert f"Baseline: {said.replace('`', '')}</p>" in html.unescape(to_html(report)).replace("<code>", "").replace(
        "</code>", "")


def test_findings_compare_only_what_both_sides_read():
    # a results file given alone has no log findings: against a run folder whose logs were
    # read, its side read as 'callback-desync 24 -> 0', a fix the logs never showed
    run = "sample_logs/legacy-frozen-past-ping"
    alone = make_report("sample_logs/connmgr-frozen-past-ping/results.jsonl", compare=run, resamples=500)
    change = alone.comparison.findings
    assert change.kinds == {"not-recovered": (1, 0)}
    assert fmt.comparison_headlines(alone.comparison)[0] == "findings: fewer, 1 critical -> none (not-recovered 1 -> 0)"
    assert [n for n in alone.notes if n.startswith("findings")] == [
        "findings: the logs of one side only were read, so the comparison counts those of the results files only; give "
        "both sides alike (run folders: results and logs) to compare all they show"]
    # (and legacy against connmgr: said to be run with different settings)
    assert [n for n in alone.notes if n.startswith("the two sides were run with different settings")] == [
        "the two sides were run with different settings (a difference may come from any of them): baseline profile "
        "legacy, fault freeze, network good, background 20 s, deadline 8 s; candidate profile connmgr, fault freeze, "
        "network good, background 20 s, deadline 8 s"]
    # logs against a results file: nothing in common, nothing compared
    apart = make_report("tests/fixtures/normal", compare=f"{run}/results.jsonl", resamples=500)
    assert apart.comparison.findings.kinds == {}
    assert not [line for line in fmt.comparison_headlines(apart.comparison) if line.startswith("findings")]
    assert any("so the comparison counts none" in n for n in apart.notes)
    # both run folders: everything, and no note
    both = make_report("sample_logs/connmgr-frozen-past-ping", compare=run, resamples=500)
    assert len(both.comparison.findings.kinds) == 3 and not [n for n in both.notes if n.startswith("findings")]


def test_the_candidate_has_one_colour_in_every_chart(before_after):
    # the candidate's curve was orange beside a baseline and blue where the baseline had no
    # case (its recovery, when no baseline cycle recovered): the legend had to be read again
    import re

    colours = {"baseline": "#4e79a7", "candidate": "#f28e2b"}
    after, before = before_after
    page = to_html(make_report(after, compare=before, resamples=500))
    lines = re.findall(r'<polyline class="cdf-line" fill="none" stroke="(#[0-9a-f]+)"[^>]*><title>(\w+)</title>',
                       page)
    assert len(lines) == 2 and {name for _, name in lines} == {"candidate"}
    assert {color for color, _ in lines} == {colours["candidate"]}
    again = write_jsonl(Path(after).with_name("again.jsonl"), [sim_record(i, 100.0 + i, run="r2") for i in range(12)])
    both = to_html(make_report(after, compare=again, resamples=500))
    lines = re.findall(r'stroke="(#[0-9a-f]+)"[^>]*><title>(baseline|candidate)</title>', both)
    assert len(lines) == 4 and {name: color for color, name in lines} == colours


def test_a_servers_log_alone_does_not_say_its_attaches_got_no_ready():
    # every attach of a server's log given without the pages' logs was 'no ready': the server
    # sent each chat:ready, only the time the page got it is unknown
    alone = make_report("tests/fixtures/normal/app.log")
    assert {m.name: m.outcomes for m in alone.metrics if m.outcomes} == {
        "switch": {"ready sent (no page log)": 2}, "new-session": {"ready sent (no page log)": 2}}
    assert "| `switch` | 0 | — | — | — | — | — | ready sent (no page log) 2 |" in to_markdown(alone)
    both = make_report(["tests/fixtures/normal/app.log", "tests/fixtures/normal/frontend"])
    assert {m.name: m.outcomes for m in both.metrics if m.outcomes} == {
        "switch": {"ready": 2}, "new-session": {"ready": 2}}


def test_a_negative_seed_is_one_line_not_a_traceback(before_after):
    # --seed -1 with --compare ended in a 40-line traceback from numpy ('expected non-negative integer')
    after, before = before_after
    p = run_cli(after, "--compare", before, "--seed", "-1")
    assert p.returncode == 2 and "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert "--seed" in p.stderr and p.stdout == ""
    for seed in (-1, 1.5, "0", True):
        with pytest.raises(DiagError, match="seed must be a whole number of 0 or more"):
            make_report(after, compare=before, seed=seed)
    assert make_report(after, compare=before, seed=np.int64(7), resamples=200).comparison.seed == 7


def test_the_output_is_never_one_of_the_inputs(tmp_path):
    # `report run -o run/results.jsonl` wrote the report over the run's results: exit 0, and
    # the next report of the run failed on line 1
    import shutil

    run = Path(shutil.copytree("sample_logs/healthy-day", tmp_path / "run"))
    kept = {f: f.read_bytes() for f in run.rglob("*") if f.is_file()}
    page_log = next((run / "frontend").iterdir())
    for args, output in (([str(run)], run / "results.jsonl"), ([str(run)], page_log), ([str(run)], run / "app.log"),
                         ([str(run / "results.jsonl")], run / "results.jsonl"),
                         (["sample_logs/connmgr-frozen-past-ping", "--compare", str(run)], run / "results.jsonl")):
        p = run_cli(*args, "-o", str(output))
        assert p.returncode == 2, (args, output)
        assert p.stderr.strip().endswith("writing it would destroy it") and len(p.stderr.strip().splitlines()) == 1
    assert {f: f.read_bytes() for f in run.rglob("*") if f.is_file()} == kept
    for output, says in ((run, "is a directory"), (tmp_path / "nowhere" / "r.md", "no directory")):
        p = run_cli(str(run), "-o", str(output))
        assert p.returncode == 2 and says in p.stderr
    p = run_cli(str(run), "-o", str(run / "report.md"))
    assert p.returncode == 0 and (run / "report.md").read_text().startswith("## Connection recovery report")


def test_output_dash_is_standard_output(tmp_path, before_after):
    # `-o -` wrote a file named '-' in the current directory, and printed nothing
    after, _ = before_after
    p = subprocess.run([sys.executable, "-m", "jarvis_diag", "report", after, "-f", "json", "-o", "-"],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["inputs"][0]["path"] == after
    assert not (tmp_path / "-").exists()


@pytest.mark.parametrize("fmt", ["md", "html", "json", "text"])
def test_a_title_with_line_breaks_is_one_line_in_every_format(tmp_path, fmt):
    # `--title $'Fix\nfor the reload'` ended the Markdown heading at the line break: the
    # rest of the title became body text under it
    out = tmp_path / "report.out"
    p = run_cli("sample_logs/healthy-day", "--title", "Fix\r\nfor  the\treload\n", "-f", fmt, "-o", str(out))
    assert p.returncode == 0, p.stderr
    text = out.read_text(encoding="utf-8")
    if fmt == "md":
        assert text.splitlines()[0] == "## Fix for the reload"
    elif fmt == "html":
        assert "<title>Fix for the reload</title>" in text and "<h1>Fix for the reload</h1>" in text
    elif fmt == "json":
        assert json.loads(text)["title"] == "Fix for the reload"
    else:
        assert " Fix for the reload " in text.splitlines()[0]
    assert "for  the" not in text and "\nfor the reload" not in text


def test_a_title_of_blanks_is_the_default_and_one_that_is_no_text_is_refused():
    for title in ("", " \n ", None):
        assert make_report("sample_logs/healthy-day", title=title).title == "Connection recovery report"
    with pytest.raises(DiagError, match="title must be a string"):
        make_report("sample_logs/healthy-day", title=["a", "b"])


def test_a_results_file_of_two_runs_is_read_as_the_two_runs(tmp_path):
    # two runs' results joined with `cat a/results.jsonl b/results.jsonl` were one input of
    # 12 cycles, their findings '3 of 12 cycles', and nothing said the file held two runs
    first, second = (Path("sample_logs", name, "results.jsonl") for name in ("healthy-day", "legacy-frozen-past-ping"))
    runs = [json.loads(f.read_text().splitlines()[0])["run"] for f in (first, second)]
    both = tmp_path / "both.jsonl"
    both.write_bytes(first.read_bytes() + second.read_bytes())
    joined = make_report(both).to_json_dict()
    apart = make_report([first, second]).to_json_dict()
    assert [(i["path"], i["run"], i["records"]) for i in joined["inputs"]] == \
        [(str(both), runs[0], 9), (str(both), runs[1], 3)]
    assert [i["run"] for i in apart["inputs"]] == [None, None]  # (a file of one run)
    assert [f["summary"] for f in joined["findings"]] == [f["summary"] for f in apart["findings"]]
    assert joined["findings"][0]["summary"].startswith("3 of 3 cycles did not recover")
    def figures(doc):  # (without the cases, which name the file and line each came from)
        return [{name: {k: v for k, v in m.items() if k not in ("slowest", "where")} for name, m in doc[part].items()}
                for part in ("metrics", "counts")]

    assert figures(joined) == figures(apart)
    note = next(n for n in joined["notes"] if "2 runs" in n)
    assert note.startswith(f"{both} holds 2 runs one after the other ({runs[0]}, {runs[1]})")
    md = to_markdown(make_report(both))
    assert f"Inputs: `{both}` (sim, run {runs[0]}, 9 records); `{both}` (sim, run {runs[1]}, 3 records)" in md
    p = run_cli(str(both), "-f", "md")
    assert p.returncode == 0 and f"> {_md(note)}" in p.stdout
    other = "sample_logs/connmgr-frozen-past-ping"
    # (the table's title wraps at the table's width: a long temporary path is cut anywhere)
    compared = "".join(to_text(make_report(other, compare=both, resamples=200), width=200).split())
    assert "".join(f"Comparison: candidate vs baseline ({both} run {runs[0]}; {both} run {runs[1]})".split()) in compared


def _md(text: str) -> str:
    return re.sub(r"([\\`*_\[\]~#])", r"\\\1", text)


@pytest.mark.parametrize(("kwargs", "says"), [
    ({"inputs": None}, "inputs must be a path or a list of paths (str or pathlib.Path), not None"),
    ({"inputs": 3}, "inputs must be a path or a list of paths (str or pathlib.Path), not 3"),
    ({"inputs": b"sample_logs/healthy-day"}, "inputs must be a path or a list of paths"),
    ({"inputs": ["sample_logs/healthy-day", None]}, "inputs must be a path or a list of paths (str or "
                                                      "pathlib.Path); it holds None"),
    ({"inputs": "sample_logs/healthy-day", "compare": 3}, "compare must be a path or a list of paths"),
    ({"inputs": "sample_logs/healthy-day", "budgets": 500}, "budgets must be a budget such as"),
    ({"inputs": "sample_logs/healthy-day", "budgets": [None]}, "budgets must be a budget such as .*; it holds None"),
    ({"inputs": ""}, "an empty path was given as an input"),
])
def test_a_wrong_argument_to_make_report_is_an_error_naming_it(kwargs, says):
    # make_report(None) was "TypeError: 'NoneType' object is not iterable" from inside it;
    # make_report("") read the whole current folder as logs
    with pytest.raises(DiagError, match=says if ".*" in says else re.escape(says)):
        make_report(**kwargs)
    assert make_report(Path("sample_logs/healthy-day"), budgets=None).inputs[0]["records"] == 9


def test_an_empty_input_path_is_one_line(tmp_path):
    # `report "$RUN"` with RUN not set read every file under the current folder as logs
    for args in ([""], [str(Path("sample_logs/healthy-day").resolve()), "--compare", ""]):
        p = run_cli(*args, cwd=tmp_path)
        assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
        assert p.stderr.strip() == "jarvis-diag: error: an empty path was given as an input (a shell variable " \
                                   "that is not set?)"


def _joined(path: Path, *runs: str) -> Path:
    """The results of the sample runs named, one after the other in one file (``cat``)."""
    path.write_bytes(b"".join(Path("sample_logs", run, "results.jsonl").read_bytes() for run in runs))
    return path


def _run_id(name: str) -> str:
    return json.loads(Path("sample_logs", name, "results.jsonl").read_text().splitlines()[0])["run"]


def test_a_run_given_twice_is_refused_naming_the_run_and_both_places(tmp_path):
    # `report both.jsonl a/` (both.jsonl = cat a b), `cat a b a` and a copy of a results file
    # given with it counted every cycle of the run twice without a word ('healthy-day' 9
    # cycles read as 18); a timeline given with its logs is refused so too
    a, b = "healthy-day", "legacy-frozen-past-ping"
    run = _run_id(a)
    both = _joined(tmp_path / "both.jsonl", a, b)
    results = f"sample_logs/{a}/results.jsonl"
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes(Path(results).read_bytes())
    twice = "its cycles would be counted twice; give each run once"
    cases = [([str(both), f"sample_logs/{a}/"], f"run {run} is given twice, in {both} (line 1) and in {results} (line 1)"),
             ([results, str(copy)], f"run {run} is given twice, in {results} (line 1) and in {copy} (line 1)"),
             ([str(_joined(tmp_path / "aba.jsonl", a, b, a))], f"run {run} is given twice in {tmp_path / 'aba.jsonl'} "
                                                               "(at lines 1 and 13)"),
             ([str(_joined(tmp_path / "aa.jsonl", a, a))], f"run {run} is given twice in {tmp_path / 'aa.jsonl'} "
                                                           "(at lines 1 and 10)")]
    for args, said in cases:
        p = run_cli(*args)
        assert (p.returncode, p.stdout) == (2, ""), (args, p.stdout)
        assert p.stderr == f"jarvis-diag: error: {said}: {twice}\n"
        with pytest.raises(DiagError, match=re.escape(said)):
            make_report(args)
    # the same file given twice is still the same input, read once
    once = make_report([f"sample_logs/{a}/", results])
    assert [i["records"] for i in once.to_json_dict()["inputs"]] == [9, 33]
    assert once.notes[0] == f"{results}: the same input as sample_logs/{a}/, read once"


def test_the_library_refuses_a_run_a_results_file_holds_twice_as_report_does(tmp_path):
    # load_results / session_results of `cat a a` or `cat a b a` gave every cycle of run a
    # twice (healthy-day's 9 cycles as 18) where `report` refuses it: they now say what report
    # says, in the same words (one check, shared)
    a, b = "healthy-day", "legacy-frozen-past-ping"
    for name, runs, lines in (("aa.jsonl", (a, a), (1, 10)), ("aba.jsonl", (a, b, a), (1, 13))):
        joined = _joined(tmp_path / name, *runs)
        said = run_cli(str(joined)).stderr.removeprefix("jarvis-diag: error: ").rstrip("\n")
        assert said == (f"run {_run_id(a)} is given twice in {joined} (at lines {lines[0]} and {lines[1]}): "
                        "its cycles would be counted twice; give each run once")
        for load in (load_results, session_results):
            with pytest.raises(DiagError) as caught:
                load(joined)
            assert str(caught.value) == said
    # two runs one after the other are read whole, each once
    both = load_results(_joined(tmp_path / "ab.jsonl", a, b))
    assert both.groupby("run").size().to_dict() == {_run_id(a): 9, _run_id(b): 3}


def test_a_run_on_both_sides_of_a_comparison_is_refused(tmp_path):
    # `report both.jsonl --compare a/results.jsonl` compared run a (with b) with itself, and
    # `report a/ --compare a/` a run with itself, each with no word: 'not clearly different'
    a, b = "healthy-day", "legacy-frozen-past-ping"
    run = _run_id(a)
    both = _joined(tmp_path / "both.jsonl", a, b)
    results = f"sample_logs/{a}/results.jsonl"
    itself = "a run compared with itself says nothing; give it on one side only"
    for args, base in (([str(both)], results), ([f"sample_logs/{a}"], f"sample_logs/{a}")):
        said = (f"run {run} is on both sides of the comparison, in {both if base == results else results} (line 1) "
                f"and in the baseline's {results} (line 1)")
        p = run_cli(*args, "--compare", base)
        assert (p.returncode, p.stdout) == (2, ""), (args, p.stdout)
        assert p.stderr == f"jarvis-diag: error: {said}: {itself}\n"
        with pytest.raises(DiagError, match=re.escape(said)):
            make_report(args, compare=base)
    # the other run of the file against a third: compared
    other = make_report(both, compare="sample_logs/connmgr-frozen-past-ping", resamples=200)
    assert other.comparison is not None


def test_the_same_logs_on_both_sides_of_a_comparison_are_refused(tmp_path):
    # `report logs/ --compare logs/` (or a timeline JSON of those logs on one side) compared
    # every case with itself and said 'no clear difference in any metric'
    logs = tmp_path / "logs"
    shutil.copytree("tests/fixtures/callback-desync", logs, ignore=shutil.ignore_patterns("truth.json"))
    made = subprocess.run([sys.executable, "-m", "jarvis_diag", "timeline", "logs", "-f", "json", "-o", "tl.json"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    itself = "logs compared with themselves say nothing; give the baseline's own logs after --compare"
    for args, base in ((["logs"], "logs"), (["logs/app.log", "logs/frontend"], "logs/app.log logs/frontend"),
                       (["logs"], "tl.json"), (["tl.json"], "tl.json")):
        p = run_cli(*args, "--compare", *base.split(), cwd=tmp_path)
        assert (p.returncode, p.stdout) == (2, ""), (args, base, p.stdout)
        assert p.stderr.startswith("jarvis-diag: error: the same logs are on both sides of the comparison, read as ")
        assert p.stderr.endswith(f": {itself}\n"), p.stderr
    with pytest.raises(DiagError, match="the same logs are on both sides"):
        make_report(str(logs), compare=[str(logs / "app.log"), str(logs / "frontend"), str(logs / "backend.log")])
    # a server log of both periods with each period's pages: two sets of pages, compared
    shutil.copytree(logs / "frontend", tmp_path / "pages-b")
    p = run_cli("logs/app.log", "logs/frontend", "--compare", "logs/app.log", "pages-b", cwd=tmp_path)
    assert p.returncode == 0, p.stderr


def test_two_runs_that_share_a_run_id_are_two_runs(tmp_path):
    # simulate-mobile's run id was the second it started and its seed: two runs started side by
    # side (--out bug, --out fixed) share it, in results files kept from then. Their cycles were taken for one run given twice:
    # 'report fixed --compare bug' was 'run ... is on both sides of the comparison', and
    # 'report bug fixed' 'run ... is given twice'. A cycle read twice is one that went to the
    # background at the same instant too
    def run_at(name: str, hidden_at: str, recovery: float | None) -> Path:
        records = [dict(sim_record(i, recovery, failure=None if recovery else "no reply live",
                                   run="20261124T100000-0"), hidden_at=hidden_at) for i in range(12)]
        return write_jsonl(tmp_path / name, records)

    bug = run_at("bug.jsonl", "2026-11-24T10:00:00.000Z", None)
    fixed = run_at("fixed.jsonl", "2026-11-24T10:00:00.004Z", 100.0)
    p = run_cli(str(fixed), "--compare", str(bug), "-f", "json")
    assert p.returncode == 0, p.stderr
    assert [i["records"] for i in json.loads(p.stdout)["inputs"]] == [12]
    p = run_cli(str(bug), str(fixed), "-f", "json")
    assert p.returncode == 0, p.stderr
    assert [i["records"] for i in json.loads(p.stdout)["inputs"]] == [12, 12]
    # a copy of a run is still refused
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes(bug.read_bytes())
    p = run_cli(str(fixed), "--compare", str(copy), str(bug))
    assert p.returncode == 2 and "run 20261124T100000-0 is given twice" in p.stderr, p.stderr


def test_cycles_of_several_settings_on_one_side_are_said_to_be_pooled():
    # healthy-day holds connmgr and resume phones: one set of figures, said so
    report = make_report("sample_logs/healthy-day", resamples=200)
    [pooled] = [n for n in report.notes if "pooled" in n]
    assert pooled == ("the inputs hold simulated cycles run with different settings, pooled in one set of figures: "
                      "profile connmgr (6 cycles) or resume (3 cycles), fault close (3 cycles) or offline (3 cycles) or "
                      "freeze (3 cycles), network good, background 2 s, deadline 8 s")
    # the same settings on both sides: no note of them
    alike = make_report("sample_logs/connmgr-frozen-past-ping/results.jsonl",
                        compare="sample_logs/connmgr-frozen-past-ping/app.log", resamples=200)
    assert not [n for n in alike.notes if "settings" in n]


def test_the_findings_of_simulated_cycles_have_one_key_order_rank_first(before_after):
    # lost-output had 'count' before 'summary', not-recovered after 'context'; and 'rank', which
    # the documented example shows first, came last
    after, before = before_after
    findings = make_report(before, resamples=500).to_json_dict()["findings"]
    assert {f["kind"] for f in findings} >= {"not-recovered", "lost-output"}
    orders = {tuple(f) for f in findings}
    assert len(orders) == 1 and next(iter(orders))[0] == "rank"


def test_a_run_folder_without_the_servers_log_says_its_findings_are_the_pages_alone(tmp_path):
    # simulate-mobile against a server elsewhere writes no server log in its folder: the
    # report's findings had no single-live-session, the root cause, and nothing said why
    import shutil

    run = tmp_path / "run"
    shutil.copytree("sample_logs/single-live-session", run, ignore=shutil.ignore_patterns("app.log"))
    said = (f"{run}: no server log in the run folder, so its findings are the pages' alone; the server's side is "
            f"in the server's log: jarvis-diag timeline SERVER_LOG {run}")
    assert said in make_report(str(run)).notes
    assert not [n for n in make_report("sample_logs/single-live-session").notes if "no server log" in n]

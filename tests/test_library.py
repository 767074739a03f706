"""The library API as a notebook uses it: one path or a list, clear errors naming what is
there, and columns whose types do not depend on the run."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import jarvis_diag as jd

DESYNC = "tests/fixtures/callback-desync"
SWITCH_BACK = "sample_logs/callback-desync-switch-back"


@pytest.fixture(scope="module")
def switch_back():
    return jd.load_timeline(SWITCH_BACK)  # (one path, not a list)


def test_one_path_is_one_path_not_its_characters():
    assert len(jd.load_timeline(f"{DESYNC}/app.log").events) == 220
    report = jd.make_report("sample_logs/healthy-day", budgets="recovery.p95<=60s")
    [budget] = report.to_json_dict()["budgets"]
    assert budget["budget"] == "recovery.p95<=60s" and budget["passed"] is True


def test_waterfall_of_a_session_has_the_pages_lines_under_its_temporary_id(switch_back):
    frame = jd.waterfall_frame(switch_back, session="b2fbb0ed")
    # the page names the chat by its temporary id until the server maps it
    handler = frame[frame["kind"] == "chat.handler.exists"]
    assert len(handler) and (handler["source"] == "frontend").all()


@pytest.mark.parametrize(("kind", "began", "ended"), [
    # a desync's at is the auto-connect that ended the wait (the page had switched back at
    # 10:04:46.173 with no chat:connect); a cut reply's at is the cut (10:05:07.910), and its
    # replay came 20 s later: the chart showed the 20 s before the cut, the replay off it
    ("callback-desync", ("10:04:46.173", "chat.handler.exists"), ("10:05:01.183", "chat.ready.received")),
    ("single-live-session", ("10:05:07.910", "callback.cleared"), ("10:05:27.924", "history.end")),
])
def test_a_findings_waterfall_shows_the_time_it_cost(kind, began, ended):
    tl = jd.load_timeline(DESYNC)
    f = tl.findings[tl.findings["kind"] == kind].iloc[0]
    frame = jd.waterfall_frame(tl, finding=f["id"], margin_s=1.0)
    shown = set(zip(frame["t"].dt.strftime("%H:%M:%S.%f").str[:12], frame["kind"], strict=True))
    assert began in shown and ended in shown, sorted(shown)
    assert (frame["t"].max() - frame["t"].min()).total_seconds() < f["delay_ms"] / 1000 + 2.5


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"finding": "F99"}, r"finding 'F99': no such finding \(F1\.\.F{n}, or 0\.\.{last}\)"),
    ({"finding": 99}, r"finding 99: no such finding"),
    ({"session": "zzz"}, r"session zzz: no session in these logs matches it \(sessions: a5bc9f03, b2fbb0ed\)"),
    ({"client": "zzz"}, r"client zzz: no client in these logs matches it \(clients: Mozilla"),
])
def test_waterfall_of_what_the_logs_lack_is_an_error_naming_what_they_have(switch_back, kwargs, message):
    n = len(switch_back.findings)  # (how many the sample has is the findings' business, not this test's)
    assert n > 1
    with pytest.raises(jd.DiagError, match=message.replace("{n}", str(n)).replace("{last}", str(n - 1))):
        jd.waterfall_frame(switch_back, **kwargs)


def test_results_of_a_file_that_is_not_results_is_an_error(tmp_path):
    with pytest.raises(jd.DiagError, match="not a simulate-mobile results file"):
        jd.load_results(f"{DESYNC}/app.log")
    other = tmp_path / "results.jsonl"
    other.write_text(json.dumps({"schema": "jarvis-diag.timeline/1"}) + "\n")
    with pytest.raises(jd.DiagError, match="not a simulate-mobile results file"):
        jd.load_results(tmp_path)
    # a path that is not there says so (it said 'no results.jsonl there', as of a folder)
    with pytest.raises(jd.DiagError, match="no such file or directory"):
        jd.load_results(tmp_path / "nonexistent")


def test_result_columns_have_one_type_whatever_the_run(tmp_path):
    # no cycle of the legacy run recovered: its recovery times are NaN, not None in an object column
    legacy = jd.load_results("sample_logs/legacy-frozen-past-ping")
    healthy = jd.load_results("sample_logs/healthy-day")
    assert legacy["recovery_ms"].isna().all() and healthy["recovery_ms"].notna().any()
    for frame in (legacy, healthy):
        assert frame["recovery_ms"].dtype == "float64"
        assert str(frame["hidden_at"].dtype) == "datetime64[ns, UTC]"
        assert frame["recovered"].dtype == "boolean" and frame["profile"].dtype == "category"
    assert pd.concat([legacy, healthy])["recovery_ms"].dtype == "float64"
    # an empty run still has the columns, so that grouping by them works
    (tmp_path / "results.jsonl").write_text("")
    empty = jd.load_results(tmp_path)
    assert empty.empty and empty.groupby("profile", observed=True)["recovered"].mean().empty
    sessions = jd.session_results("sample_logs/healthy-day")
    assert sessions["profile"].dtype == "category" and sessions["live"].dtype == "boolean"


def test_timeline_tables_have_one_type_whatever_the_logs(switch_back):
    # no reconnect of the switch-back set recovered: its episodes' durations are NaN in a
    # float column, not None in an object one; a replay's size is a nullable integer
    desync = jd.load_timeline(DESYNC)
    assert switch_back.episodes["duration_ms"].isna().all()
    for tl in (switch_back, desync):
        for table, column in ((tl.episodes, "duration_ms"), (tl.attaches, "latency_ms"),
                              (tl.attaches, "transport_ms"), (tl.attaches, "server_ms"),
                              (tl.connections, "duration_ms"), (tl.findings, "delay_ms")):
            assert table[column].dtype == "float64", (table, column)
        assert tl.attaches["history_count"].dtype == "Int64"
    assert pd.concat([switch_back.episodes, desync.episodes])["duration_ms"].dtype == "float64"


def test_timeline_tables_of_no_row_or_no_value_keep_their_types(switch_back):
    # a page's log alone has no episode, no finding and names no socket: those tables and
    # columns were objects, and `tl.episodes[tl.episodes.recovered]` of no episode picked
    # columns (none) instead of rows
    page_only = jd.load_timeline(f"{DESYNC}/frontend")
    assert page_only.episodes.empty and page_only.connections["sid"].isna().all()
    for name in ("connections", "attaches", "episodes", "findings"):
        full, bare = getattr(switch_back, name), getattr(page_only, name)
        assert len(full), name
        assert full.dtypes.to_dict() == bare.dtypes.to_dict(), name
    assert switch_back.episodes["recovered"].dtype == bool
    assert switch_back.findings["occurrences"].dtype == "int64"
    assert str(switch_back.findings["summary"].dtype) == str(pd.Series(["text"]).dtype)
    none_recovered = page_only.episodes[page_only.episodes["recovered"]]
    assert list(none_recovered.columns) == list(page_only.episodes.columns) and none_recovered.empty
    assert not page_only.connections["sid"].str.startswith("x").fillna(False).astype(bool).any()


def test_the_package_names_each_public_name_once_and_has_it():
    # __all__ listed the lazily loaded names twice (by hand, then from the lazy table)
    assert len(jd.__all__) == len(set(jd.__all__))
    assert all(getattr(jd, name) is not None for name in jd.__all__)


@pytest.mark.parametrize(("call", "said"), [
    (lambda: jd.load_timeline(3), "paths must be a path or a list of paths (str or pathlib.Path), not 3"),
    (lambda: jd.load_timeline(None), "paths must be a path or a list of paths (str or pathlib.Path), not None"),
    (lambda: jd.load_timeline([DESYNC.encode()]), "paths must be a path or a list of paths (str or pathlib.Path); "
                                                  f"it holds {DESYNC.encode()!r}"),
    (lambda: jd.read_events(b"app.log"), "paths must be a path or a list of paths (str or pathlib.Path), not b'app.log'"),
    (lambda: jd.load_results(None), "path must be a path or a list of paths (str or pathlib.Path), not None"),
    (lambda: jd.session_results(7), "path must be a path or a list of paths (str or pathlib.Path), not 7"),
])
def test_a_library_call_given_no_path_says_which_argument_takes_what(call, said):
    # make_report said it; load_timeline(3) was "TypeError: 'int' object is not iterable",
    # load_results(None) a TypeError from os.fspath, and a path as bytes "no such file"
    with pytest.raises(jd.DiagError) as caught:
        call()
    assert str(caught.value) == said


@pytest.mark.parametrize(("call", "said"), [
    (lambda: jd.load_timeline(DESYNC, tz=5), "tz must be a string, not 5"),
    (lambda: jd.load_timeline(DESYNC, format_of=["x"]), "format_of must be a dict of path -> format, not ['x']"),
    (lambda: jd.load_timeline(DESYNC).filter(session=123), "session must be a string (an id or a prefix of one), "
                                                           "not 123"),
    # (pandas reads a bare number as nanoseconds: an epoch in seconds selected 1970, and nothing)
    (lambda: jd.load_timeline(DESYNC).filter(since=1795514700),
     "since 1795514700: a number is no time; give an ISO time, a datetime or a Timestamp (epoch seconds: "
     "pd.Timestamp(1795514700, unit='s'))"),
])
def test_a_library_call_given_the_wrong_type_says_which_argument_takes_what(call, said):
    # an AttributeError, a ValueError and a TypeError from deep inside, or a silent 1970
    with pytest.raises(jd.DiagError) as caught:
        call()
    assert str(caught.value) == said


def test_a_report_at_a_glance():
    report = jd.make_report("sample_logs/healthy-day", compare="sample_logs/connmgr-frozen-past-ping",
                            budgets="recovery.p95<=60s")
    # (2 inputs: the folder's results.jsonl, and its logs read for their findings, two harmless app warnings)
    assert repr(report) == ("<Report 'Connection recovery report': 2 input(s), metrics ['reattach', 'recovery', "
                            "'live'], 2 finding(s), compared with a baseline, budgets 1/1 passed>")


def test_a_waterfall_window_with_no_zone_is_utc_as_the_timeline_is(switch_back):
    # a naive start / end was a TypeError: "Invalid comparison between dtype=datetime64[ns, UTC] and Timestamp"
    utc = jd.waterfall_frame(switch_back, start="2026-12-06T15:02:03Z", end="2026-12-06T15:02:20Z")
    naive = jd.waterfall_frame(switch_back, start="2026-12-06 15:02:03", end="2026-12-06 15:02:20")
    assert len(utc) and utc.equals(naive)
    berlin = jd.waterfall_frame(switch_back, start="2026-12-06T16:02:03+01:00", end="2026-12-06T16:02:20+01:00")
    assert utc.equals(berlin)
    with pytest.raises(jd.DiagError, match="'yesterday': not a time"):
        jd.waterfall_frame(switch_back, start="yesterday")


@pytest.mark.parametrize("resamples", [0, -5, 2.5, "2000"])
def test_a_report_with_no_resamples_is_an_error_that_says_so(resamples):
    # 0 was a bare ValueError "no values" from deep in the bootstrap
    with pytest.raises(jd.DiagError, match=f"resamples must be a whole number of at least 1, not {resamples!r}"):
        jd.make_report("sample_logs/healthy-day", compare="sample_logs/healthy-day", resamples=resamples)


def test_a_report_takes_a_whole_number_of_resamples_from_numpy():
    # a count computed in a notebook is often numpy's: it was refused as "no whole number"
    import numpy as np

    report = jd.make_report("sample_logs/healthy-day", compare="sample_logs/connmgr-frozen-past-ping",
                            resamples=np.int64(200))
    assert report.comparison.resamples == 200 and type(report.comparison.resamples) is int
    assert report.to_json_dict()["comparison"]["resamples"] == 200


def test_events_dtypes_are_those_docs_formats_names():
    # docs/formats.md: times datetime64[ns, UTC], numbers float64 / Int64 (line int64), text and
    # traceback string, every other field a category
    from pathlib import Path

    doc = Path("docs/formats.md").read_text(encoding="utf-8").split("## Events JSONL", 1)[0]
    assert "(`line`, which every row has, `int64`)" in doc
    events = jd.read_events([DESYNC])
    for column, dtype in events.dtypes.items():
        if column in ("t", "t_source"):
            assert str(dtype) == "datetime64[ns, UTC]"
        elif column == "line":
            assert str(dtype) == "int64"
        elif column in ("text", "traceback"):
            assert str(dtype) == "string"
        else:
            assert str(dtype) in ("float64", "Int64", "category"), (column, dtype)
            assert (str(dtype) == "category") == (jd.COLUMNS[column] == "category"), column


def test_the_plots_example_runs_and_labels_each_curve_by_its_kind():
    # it labelled every attach's latency "switch", new sessions and reconnects too
    import textwrap

    import matplotlib

    import jarvis_diag.plots

    matplotlib.use("Agg")
    example = textwrap.dedent(jarvis_diag.plots.__doc__.split("::", 1)[1])
    scope: dict = {}
    exec(example, scope)  # noqa: S102 (the docstring's own example)
    import matplotlib.pyplot as plt

    legend = plt.gca().get_legend()
    kinds = scope["tl"].attaches["kind"].value_counts()
    assert sorted(t.get_text() for t in legend.get_texts()) == sorted(f"{k} (n={n})" for k, n in kinds.items() if n)
    plt.close("all")


def test_results_read_as_the_report_reads_them_naming_the_line(tmp_path):
    # a damaged line mid-file was skipped without a word, and a field of the wrong type failed
    # later in pandas ("Need to pass bool-like values") with no line named
    lines = open("sample_logs/healthy-day/results.jsonl", encoding="utf-8").read().splitlines()
    damaged = tmp_path / "damaged.jsonl"
    damaged.write_text(lines[0] + "\n{oops\n" + lines[1] + "\n")
    with pytest.raises(jd.DiagError, match=f"{damaged}:2: not a JSON record"):
        jd.load_results(damaged)
    for field, value, says in (("recovered", "yes", "'recovered' must be true or false, not \"yes\""),
                               ("lost", "2", "'lost' must be a number, not \"2\""),
                               ("visible_at", "soon", "'visible_at' must be an ISO 8601 instant or null, not \"soon\"")):
        bad = tmp_path / f"{field}.jsonl"
        bad.write_text(lines[0] + "\n" + json.dumps({**json.loads(lines[1]), field: value}) + "\n")
        for load in (jd.load_results, jd.session_results):
            with pytest.raises(jd.DiagError) as caught:
                load(bad)
            assert str(caught.value) == f"{bad}:2: {says}"
    cut = tmp_path / "cut.jsonl"  # a run stopped while writing: its finished cycles, and a warning
    cut.write_text(lines[0] + "\n" + lines[1][:50])
    with pytest.warns(UserWarning, match="cut.jsonl:2: the last line is cut off"):
        assert len(jd.load_results(cut)) == 1


def test_the_lazy_names_are_listed_and_the_version_is_the_installed_ones():
    # a notebook's tab completion lists dir(): the functions load on first use, and were not in it
    from importlib.metadata import version

    assert {"load_timeline", "read_events", "make_report", "plot_waterfall", "DiagError"} <= set(dir(jd))
    assert jd.__version__ == version("jarvis-diag")


def test_results_of_several_runs_are_one_table_and_sessions_join_their_cycles():
    # a list as load_timeline takes one (it was "path must be a path"), and session_results
    # has the run: two runs' client 0 cycle 1 were one key
    runs = ["sample_logs/healthy-day", "sample_logs/legacy-frozen-past-ping"]
    cycles, sessions = jd.load_results(runs), jd.session_results(runs)
    assert len(cycles) == sum(len(jd.load_results(r)) for r in runs) and cycles["run"].nunique() == 2
    joined = sessions.merge(cycles, on=["run", "client", "cycle"], how="left", suffixes=("", "_cycle"),
                            validate="many_to_one")
    assert len(joined) == len(sessions) and joined["recovered"].notna().all()
    with pytest.raises(jd.DiagError, match="is given twice in .*its cycles would be counted twice"):
        jd.load_results([runs[0], f"{runs[0]}/results.jsonl"])


@pytest.mark.parametrize("read", [jd.load_timeline, jd.read_events], ids=["load_timeline", "read_events"])
def test_a_file_that_is_no_log_is_warned_of_in_a_notebook(tmp_path, read):
    # the reading warning was in tl.warnings alone: an empty Timeline, and no word of why
    notes = tmp_path / "notes.txt"
    notes.write_text("shopping list\nmilk\neggs\n")
    with pytest.warns(jd.DiagWarning, match=r"notes\.txt: none of its 3 lines is one the Jarvis backend"):
        read(str(notes))


def test_logs_that_read_cleanly_warn_of_nothing():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(jd.load_timeline(DESYNC).findings) and len(jd.read_events(DESYNC))

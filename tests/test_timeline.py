"""Correlation on the real fixtures, checked against their truth.json, and the Timeline
object's JSON, filters and rendering."""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console

from jarvis_diag.errors import DiagError
from jarvis_diag.timeline import SCHEMA, Timeline, load_timeline

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def normal() -> Timeline:
    return load_timeline([str(FIXTURES / "normal")])


@pytest.fixture(scope="module")
def desync() -> Timeline:
    return load_timeline([str(FIXTURES / "callback-desync")])


def _truth(name: str) -> dict:
    return json.loads((FIXTURES / name / "truth.json").read_text())


def _epoch(iso: str) -> float:
    return pd.Timestamp(iso).value / 1e9


def test_normal_gives_no_warning_or_critical(normal):
    findings = normal.to_json_dict()["findings"]
    assert [f for f in findings if f["severity"] != "info"] == []
    # the benign WARNING lines still surface, as info, with the reason they are harmless
    texts = " ".join(f["summary"] for f in findings)
    assert "result is not dict" in texts and "Session file not found" in texts


def test_normal_connection_and_client_join(normal):
    truth = _truth("normal")
    [conn] = normal.to_json_dict()["connections"]
    assert conn["sid"] == truth["ids"]["socket_sid"][:8]
    assert conn["client"] == truth["ids"]["frontend_client_id"]
    assert conn["transport"] == "websocket"
    assert conn["duration_ms"] == pytest.approx(35261, abs=2)


def test_normal_sessions_temp_ids_and_attaches(normal):
    sessions = {s["session"]: s for s in normal.to_json_dict()["sessions"]}
    a = sessions["977bcd1b-92d4-4b16-832f-db55897da081"]
    b = sessions["7c0412cc-b5fc-4ffe-bf87-5cbca5331ba8"]
    assert a["temp_ids"] == ["new-1795514619908"] and b["temp_ids"] == ["new-1795514627091"]
    assert [x["kind"] for x in a["attaches"]] == ["new", "switch"]
    assert [x["kind"] for x in b["attaches"]] == ["new", "switch"]
    # truth: chat:ready after 15.3 ms (A), 13.1 ms (B), 3.0 ms on each switch; server DONE 12 ms
    assert a["attaches"][0]["latency_ms"] == pytest.approx(15.3, abs=1.5)
    assert b["attaches"][0]["latency_ms"] == pytest.approx(13.1, abs=1.5)
    assert a["attaches"][1]["latency_ms"] == pytest.approx(3.0, abs=1.5)
    assert a["attaches"][0]["server_ms"] == 12.0
    assert a["attaches"][0]["phases"]["T1.2"] == 5.0
    assert 0 <= a["attaches"][0]["transport_ms"] <= a["attaches"][0]["latency_ms"]
    first = a["attaches"][0]
    assert _epoch(first["requested_at"]) == pytest.approx(_epoch("2026-11-24T10:03:39.558Z"), abs=0.002)
    assert first["requested_at"] <= first["received_at"] <= first["ready_sent_at"] <= first["ready_received_at"]


def test_desync_two_callback_desync_findings_with_15_s_each(desync):
    truth = _truth("callback-desync")
    found = [f for f in desync.to_json_dict()["findings"] if f["kind"] == "callback-desync"]
    assert len(found) == truth["figures"]["no_callback_warnings"] == 2
    expected = [truth["figures"]["round1_switch_back_to_warning_s"], truth["figures"]["round2_switch_back_to_warning_s"]]
    for f, seconds in zip(sorted(found, key=lambda f: f["at"]), expected, strict=True):
        assert f["session"].startswith("453424df")
        assert f["sid"] == "1oqN3Huv" and f["client"] == truth["ids"]["frontend_client_id"]
        assert f["delay_ms"] == pytest.approx(seconds * 1000, abs=3)
        assert f["severity"] == "critical" and f["occurrences"] == 1 and f["first_at"] == f["at"] == f["last_at"]
    warn_times = [_epoch(w["t_iso"]) for w in truth["server_observed_from_app_log"]["no_callback_auto_connect_warnings"]]
    assert [_epoch(f["at"]) for f in sorted(found, key=lambda f: f["at"])] == pytest.approx(warn_times, abs=0.002)


def test_desync_round2_lost_reply_is_named(desync):
    findings = desync.to_json_dict()["findings"]
    # (told once: by its single-live-session finding, not again by the desync whose replay showed it)
    assert not [f for f in findings if f["kind"] == "callback-desync" and "cut off live" in f["summary"]]
    [lost] = [f for f in findings if f["kind"] == "single-live-session"]
    assert lost["session"].startswith("453424df") and "9342a748" in lost["summary"]
    assert "history replay (10 messages)" in lost["summary"] and "received 0 live event" in lost["summary"]


def test_evidence_points_at_the_lines_as_written(desync):
    for f in desync.to_json_dict()["findings"]:
        assert f["evidence"], f["kind"]
        for e in f["evidence"]:
            lines = Path(e["path"]).read_text().splitlines()
            assert lines[e["line"] - 1] == e["text"]


def test_every_table_cites_its_lines_as_written(desync):
    # the texts are read once, at the end, for every line cited anywhere
    files: dict[str, list[str]] = {}
    cited = 0
    for table in (desync.connections, desync.attaches, desync.episodes, desync.findings):
        for items in table["evidence"]:
            for e in items:
                lines = files.setdefault(e["path"], Path(e["path"]).read_text().splitlines())
                assert type(e["text"]) is str and lines[e["line"] - 1] == e["text"]
                cited += 1
    assert cited > 50


def test_desync_attaches_kinds_and_temp_id_from_skewed_clock(desync):
    sessions = {s["session"][:8]: s for s in desync.to_json_dict()["sessions"]}
    assert [x["kind"] for x in sessions["453424df"]["attaches"]] == ["new", "auto", "auto"]
    assert sessions["9342a748"]["temp_ids"] == ["new-1795514708246"]
    autos = sessions["453424df"]["attaches"][1:]
    assert [a["latency_ms"] for a in autos] == pytest.approx([4.8, 4.6], abs=1.5)


def test_json_has_the_documented_shape(desync):
    d = desync.to_json_dict()
    assert d["schema"] == SCHEMA
    assert set(d) == {"schema", "clock", "sources", "warnings", "connections", "sessions", "episodes", "findings"}
    assert d["warnings"] == []  # (the real logs read cleanly)
    assert set(d["clock"]) >= {"backend_utc_offset_minutes", "backend_zone_source", "backend_zone_pairs", "clients"}
    finding_keys = {"id", "kind", "severity", "at", "session", "client", "sid", "delay_ms", "occurrences", "first_at",
                    "last_at", "summary", "context", "evidence"}
    assert all(set(f) == finding_keys for f in d["findings"])
    assert all(f["occurrences"] >= 1 and f["first_at"] <= f["at"] <= f["last_at"] for f in d["findings"])
    attach_keys = {"client", "sid", "kind", "requested_at", "received_at", "phases", "server_ms", "ready_sent_at",
                   "ready_received_at", "history_end_at", "latency_ms", "transport_ms", "cut_at", "evidence"}
    assert all(set(a) == attach_keys for s in d["sessions"] for a in s["attaches"])
    json.dumps(d)  # plain data only


def test_filter_by_session_client_and_time(desync):
    only_a = desync.filter(session="453424df")
    assert set(only_a.findings["session"].dropna().str[:8]) == {"453424df"}
    assert set(only_a.attaches["session"].str[:8]) == {"453424df"}
    assert len(only_a.events) < len(desync.events)
    by_temp = desync.filter(session="new-1795514708246")
    assert set(by_temp.attaches["session"].str[:8]) == {"9342a748"}
    # a client or session the logs lack is a typo, most likely: an error naming what they have
    with pytest.raises(DiagError, match=r"client Android: no client in these logs matches it \(clients: Mozilla"):
        desync.filter(client="Android")
    with pytest.raises(DiagError, match=r"session zzz: no session .*\(sessions: 453424df, 9342a748, aa50ecc2\)"):
        desync.filter(session="zzz", since="2026-11-24T10:05:20Z")
    # the client as the views show it, without the browser's name
    assert len(desync.filter(client="mwuj2r4i-8t1u").connections) == len(desync.connections) > 0
    # a time of day is on the logs' day; a window that ends before it starts is an error
    assert desync.filter(since="10:05:20").selection == "since 2026-11-24T10:05:20Z"
    with pytest.raises(DiagError, match="until 10:05:00: before since 10:05:20"):
        desync.filter(since="10:05:20", until="10:05:00")
    with pytest.raises(DiagError, match="since garbage: not a time"):
        desync.filter(since="garbage")
    empty = desync.filter(since="2026-11-25T00:00:00Z")
    assert empty.events.empty and "no events in the selection" in empty.warnings[-1]
    late = desync.filter(since="2026-11-24T10:05:20Z")
    assert len(late.findings[late.findings["kind"] == "callback-desync"]) == 1
    assert (late.events["t"] >= pd.Timestamp("2026-11-24T10:05:20Z")).all()
    # the socket open from 10:04:30.967 to 10:05:32.015 was open in the window too: its events
    # and attaches were kept and it was not
    mid = desync.filter(since="10:05:00", until="10:05:20")
    assert list(mid.connections["sid"]) == ["1oqN3Huv"] and set(mid.attaches["sid"]) == {"1oqN3Huv"}
    assert desync.filter(until="10:04:30").connections.empty
    assert desync.filter(since="10:05:33").connections.empty


def test_a_session_uuid_in_upper_case_is_the_same_session(desync):
    # 'no session in these logs matches it (sessions: 453424df, ...)': the same id, in capitals
    upper = desync.filter(session="453424DF-5BFD-446D-B919-74B5A950F76F")
    lower = desync.filter(session="453424df-5bfd-446d-b919-74b5a950f76f")
    assert upper.to_json_dict()["sessions"] == lower.to_json_dict()["sessions"] != []
    assert upper.selection == "session 453424df-5bfd-446d-b919-74b5a950f76f"


def test_renders_in_the_terminal_and_in_notebooks(desync):
    console = Console(file=io.StringIO(), width=140)
    console.print(desync)
    text = console.file.getvalue()
    for expected in ("Sources read", "Clock corrections", "+350 ms", "UTC+01:00", "Findings (worst first)",
                     "callback-desync", "15.0 s gap", "Client Mozilla50iPhoneCPUiP-mwuj2r4i-8t1u"):
        assert expected in text, expected
    assert text.index("Clock corrections") < text.index("Client Mozilla") < text.index("Findings")
    html = desync._repr_html_()
    # a fragment that brings its own colours: a whole page's <body> style turned a notebook's
    # dark theme white
    assert html.startswith("<pre style=") and "background-color:#ffffff" in html.split(">", 1)[0]
    assert "<body" not in html and "<style" not in html
    assert "callback-desync" in html


def test_no_backend_zone_is_guessed_for_logs_with_no_backend_time(tmp_path):
    # the page's log alone: its clock is corrected, and the backend's zone is no question
    # (it said "backend time zone unknown ... pass --tz", in the JSON and the terminal)
    page = load_timeline(FIXTURES / "callback-desync" / "frontend")
    assert "warning" not in page.clock and page.clock["clients"]
    text = _rendered(page)
    assert "Clock corrections" in text and "+350 ms" in text and "backend (local time)" not in text
    # a file with no time at all: no clock table
    (tmp_path / "x.log").write_bytes(bytes(range(256)) * 64)
    garbage = load_timeline(tmp_path / "x.log")
    assert "warning" not in garbage.clock and not any("time zone" in w for w in garbage.warnings)
    assert "Clock corrections" not in _rendered(garbage)
    # a backend log with no epoch still says its zone is a guess
    lines = (FIXTURES / "callback-desync" / "app.log").read_text().splitlines(keepends=True)
    (tmp_path / "app.log").write_text("".join(x for x in lines if "recv_ts" not in x))
    app = load_timeline(tmp_path / "app.log")
    assert app.clock["backend_zone_source"] == "machine" and "pass --tz" in app.clock["warning"]
    assert "backend (local time)" in _rendered(app)


def _rendered(tl: Timeline) -> str:
    console = Console(file=io.StringIO(), width=140)
    console.print(tl)
    return console.file.getvalue()


def _with_findings(desync, findings: pd.DataFrame) -> tuple[Timeline, str]:
    """The timeline with these findings, and what the terminal shows of them (160 columns)."""
    view = Timeline(desync.events, desync.clock, desync.sources, desync.connections, desync.attaches,
                    desync.episodes, findings)
    console = Console(file=io.StringIO(), width=160)
    console.print(view)
    return view, console.file.getvalue().split("Findings (worst first)", 1)[1]


@pytest.mark.parametrize("width", [80, 100])
def test_a_narrow_terminal_shows_each_finding_whole(desync, width):
    # at 80 columns the findings table left its text 20 characters: the times in a summary
    # and the evidence paths were cut ('2026-11-24T10:05:0…'); a narrow terminal lists them
    console = Console(file=io.StringIO(), width=width)
    console.print(desync)
    text = console.file.getvalue().split("Findings (worst first)", 1)[1]
    assert "…" not in text and "what happened" not in text
    assert max(len(line.rstrip()) for line in text.splitlines()) <= width
    flat = " ".join(line.strip() for line in text.splitlines())
    for f in desync.findings.itertuples(index=False):
        assert f"{f.id} {f.severity} {f.kind} at " in flat
        for stamp in re.findall(r"\d{4}-\d\d-\d\dT[\d:.]+Z", f.summary):
            assert stamp in flat, (f.id, stamp)
        app_lines = [e for e in f.evidence if e["path"].endswith("app.log")][:4]
        for e in app_lines:
            assert f"{e['path']}:{e['line']}" in flat
    assert "F4 info app-warning at 10:04:37.144 (3 times)" in flat
    wide = Console(file=io.StringIO(), width=160)
    wide.print(desync)
    assert "what happened" in wide.file.getvalue()  # (a wide one keeps the table)


@pytest.mark.parametrize("width", [80, 100])
def test_a_narrow_terminal_shows_each_source_whole(desync, width):
    # at 80 columns the sources table cut every path and time ('tests/fi…', '10:04:2…') and
    # at 100 the paths: each file is named whole (folded if longer than a line), with its figures
    console = Console(file=io.StringIO(), width=width)
    console.print(desync)
    text = console.file.getvalue().split("Clock corrections", 1)[0]
    assert "…" not in text
    flat = "".join(line.strip() for line in text.splitlines())
    first_column = "".join(line.split("│")[0].strip() for line in text.splitlines())  # (a folded path)
    # (their folder said once, in the title)
    folder = os.path.dirname(desync.sources[0]["path"]) + os.sep
    assert f"Sourcesread,in{folder}".replace(" ", "") in flat.replace(" ", "")
    for s in desync.sources:
        assert s["path"].startswith(folder) and s["path"][len(folder):] in first_column
        for k in ("first", "last"):
            assert s[k][11:23] in flat


def _narrow_section(tl, width: int, start: str, end: str) -> str:
    """The terminal view of ``tl`` at ``width`` columns from ``start`` to ``end``, checked to
    fit them with nothing cut to an ellipsis."""
    console = Console(file=io.StringIO(), width=width)
    console.print(tl)
    text = console.file.getvalue().split(start, 1)[1].split(end, 1)[0]
    assert "…" not in text and max(len(line.rstrip()) for line in text.splitlines()) <= width
    return text


@pytest.mark.parametrize("width", [80, 100])
def test_a_narrow_terminal_shows_each_attach_whole(desync, width):
    # at 80 columns the attaches table cut every cell ('453424…', kind 'n…', '10:04:32.4…')
    text = _narrow_section(desync, width, "Sessions: attaches", "\n\n")
    for a in desync.attaches.itertuples(index=False):
        at = a.requested_at if not pd.isna(a.requested_at) else a.received_at
        row = f"{a.session[:8]}│mwuj2r4i-8t1u│{a.sid}│{a.kind}" if width < 100 else \
            f"{a.session[:8]} │ mwuj2r4i-8t1u │ {a.sid} │ {a.kind}"
        assert row in text and at.strftime("%H:%M:%S.%f")[:-3] in text, row


@pytest.mark.parametrize("width", [80, 100])
def test_a_narrow_terminal_shows_each_kind_of_a_clients_events_whole(desync, width):
    # at 80 columns the per-client table cut its long kinds ('socket.connecti…', 'chat.connect.rec…')
    text = _narrow_section(desync, width, "\nClient ", "\nFindings")
    cells = [[cell.strip() for cell in line.split("│")] for line in text.splitlines() if line.count("│") == 5]
    shown = {row[4] for row in cells if row[4]}
    assert {"socket.connected", "chat.connect.received", "chat.handler.remapped", "callback.missing"} <= shown
    assert shown <= set(desync.events["kind"].astype(str))
    # the line takes the squeeze: folded over rows, not cut
    folded = "".join(row[5] for row in cells).replace(" ", "")
    assert "[SocketIO]Remappinghandler:chat:new-1795->chat:9342a748[" in folded


def test_a_finding_seen_several_times_says_so_in_the_terminal(desync):
    folded = desync.findings.copy()
    folded.loc[0, "occurrences"] = 4
    _, text = _with_findings(desync, folded)
    assert "4 times" in text


def test_a_wait_under_a_second_reads_in_ms_in_the_findings_table_and_follow_lines(desync):
    # a 3 ms callback-desync showed "0.0 s" in the delay column (and "+0.0 s" in --follow's
    # line) while its summary said "3 ms"
    from jarvis_diag.commands.timeline import _finding_line

    short = desync.findings.copy()
    short.loc[0, "delay_ms"] = 3.0
    view, table = _with_findings(desync, short)
    first = table.split("F1", 1)[1].splitlines()[0]
    assert "3 ms" in first and not re.search(r"(?<![\d.])0\.0 s", table)
    assert "15.0 s" in table.split("F2", 1)[1].splitlines()[0]  # (a second and more: as before)
    row = view.to_json_dict()["findings"][0]
    assert " (+3 ms): " in _finding_line(row) and " (+15.0 s): " in _finding_line(desync.to_json_dict()["findings"][1])


def test_the_terminal_lists_the_worst_findings_and_counts_the_rest(desync):
    # a long log can name hundreds of findings: the view lists the first 50 in full
    many = pd.concat([desync.findings] * 20, ignore_index=True)
    many["id"] = [f"F{i}" for i in range(1, len(many) + 1)]
    view, text = _with_findings(desync, many)
    assert "F50 " in text and "F51 " not in text
    rest = many.iloc[50:]
    said = " ".join(text.replace("│", " ").split())  # (the note wraps in its table cell)
    assert f"{len(rest)} more findings (" in said
    for (severity, kind), n in rest.groupby(["severity", "kind"]).size().items():
        assert f"{n} {severity} {kind}" in said
    assert len(view.to_json_dict()["findings"]) == len(many)


def test_records_built_in_c_are_the_ones_built_in_python(monkeypatch):
    import numpy as np

    from jarvis_diag import timeline
    from jarvis_diag.ingest import ingest

    if timeline._built is None:
        pytest.skip("the records module was not compiled here")
    events = ingest([str(FIXTURES / "callback-desync")]).events
    rows = np.arange(len(events))[::-1].copy()  # any order: the records follow the rows given
    t_ns = events["t"].to_numpy(dtype="datetime64[ns]").astype("int64")
    built = timeline._records(events, rows, t_ns)
    monkeypatch.setattr(timeline, "_built", None)
    plain = timeline._records(events, rows, t_ns)
    assert len(built) == len(events) > 100
    assert built == plain
    assert [list(r) for r in built] == [list(r) for r in plain]  # the same keys, in the same order
    assert any("session" in r for r in built) and not all("session" in r for r in built)


def test_the_records_builder_refuses_what_it_cannot_build():
    from jarvis_diag import timeline

    if timeline._built is None:
        pytest.skip("the records module was not compiled here")
    build = timeline._built.records
    assert build(("a", "b"), [[1, 2], ["x", "y"]], [("c", [1], [None])]) == [{"a": 1, "b": "x"},
                                                                             {"a": 2, "b": "y", "c": None}]
    # each record's sparse keys in the order of the sparse columns, whatever the positions' order
    made = build(("a",), [[1, 2]], [("c", [1, 0], [5, 6]), ("b", [1], [7])])
    assert made == [{"a": 1, "c": 6}, {"a": 2, "c": 5, "b": 7}] and list(made[1]) == ["a", "c", "b"]
    with pytest.raises(ValueError):
        build(("a",), [[1], [2]], [])
    with pytest.raises(ValueError):
        build(("a", "b"), [[1, 2], [3]], [])
    with pytest.raises(IndexError):
        build(("a",), [[1]], [("c", [5], [0])])
    with pytest.raises(ValueError):
        build(("a",), [[1, 2]], [("c", [0, 1], [0])])
    with pytest.raises(TypeError):
        build(("a",), [[1]], [("c", 0)])


@pytest.mark.parametrize("t", [0.0, 1764000000.0, 1764000000.0005, 1764086399.9996, -0.0004, -1.5, 951782400.25,
                               253402300799.999, -62135596800.0, 4102444800.123])
def test_iso_writes_the_calendar_instant_to_the_millisecond(t):
    from datetime import UTC, datetime

    from jarvis_diag.timeline import iso

    ms = (int(round(t * 1e6)) + 500) // 1000  # (to the microsecond, then the ms half up: as the tables)
    want = f"{datetime.fromtimestamp(ms // 1000, tz=UTC):%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"
    assert iso(t) == want
    assert iso(None) is None and iso(float("nan")) is None


@pytest.mark.parametrize("t", [1795514412.0445, 1795514412.0455, 1795514412.04449, 1764000000.0005, -1.5005,
                               1795514412.9995])
def test_a_time_in_a_summary_is_the_one_in_its_row(t):
    # the tables (and the JSON of their rows) write a time to the microsecond, then to the ms
    # half up; iso(), which writes the times in summaries, rounded t * 1000 half to even: a
    # corrected page time ending in .5 ms read one ms apart in a finding's "at" and its summary
    from jarvis_diag.timeline import _frame_ns, _iso_ns, iso

    assert iso(t) == _iso_ns(_frame_ns([t]))[0]


def test_an_attachs_wire_time_is_never_more_than_its_latency():
    # the server's recv_ts (epoch ms) can read 1 ms after its own chat:ready line (a time cut
    # to the ms): the wire time came to the latency plus that millisecond
    timeline = load_timeline([str(Path(__file__).parent.parent / "sample_logs" / "healthy-day")])
    attaches = [a for s in timeline.to_json_dict()["sessions"] for a in s["attaches"] if a["transport_ms"] is not None]
    crossed = [a for a in attaches if a["received_at"] > a["ready_sent_at"]]
    assert crossed  # (the case itself is in the sample)
    assert all(0 <= a["transport_ms"] <= a["latency_ms"] for a in attaches)
    assert all(a["transport_ms"] == a["latency_ms"] for a in crossed)


def test_a_session_filter_keeps_the_finding_its_lines_caused(desync):
    # attaching 9342a748 cut off 453424df's reply: the finding is 453424df's, and it cites the
    # switch to 9342a748; --session 9342a748 (the session the user switched to) hid it
    cause = desync.filter(session="9342a748")
    cut = cause.findings[cause.findings["kind"] == "single-live-session"]
    assert cut["session"].str[:8].tolist() == ["453424df"]
    assert any("453424df -> 9342a748" in e["text"] for e in cut["evidence"].iloc[0])
    # by its temporary id as well; and a session no finding's lines name keeps none of them
    assert "single-live-session" in set(desync.filter(session="new-1795514708246").findings["kind"])
    assert "single-live-session" not in set(desync.filter(session="aa50ecc2").findings["kind"])
    # the same in the JSON
    assert "single-live-session" in {f["kind"] for f in cause.to_json_dict()["findings"]}


def test_a_client_filter_keeps_a_finding_that_cites_its_sockets_lines(desync):
    # a finding filed under another phone that cites the server's lines of this phone's socket
    # (its attach took the other's output): kept for this phone too
    findings = desync.findings.copy()
    findings["client"] = "Mozilla50iPhoneCPUiP-other-page"
    other = Timeline(desync.events, desync.clock, desync.sources, desync.connections, desync.attaches,
                     desync.episodes, findings, temp_ids=desync.temp_ids)
    kept = other.filter(client="mwuj2r4i-8t1u").findings
    # those citing a line of its socket 1oqN3Huv or of its page log, not the others
    assert set(kept["kind"]) == {"single-live-session", "callback-desync"}
    assert "app-warning" in set(other.findings["kind"])

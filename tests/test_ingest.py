"""ingest(): files, directories, globs and stdin into one sorted events frame."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from jarvis_diag import frames
from jarvis_diag.errors import DiagError
from jarvis_diag.events import COLUMNS
from jarvis_diag.ingest import ingest, read_events

FIXTURES = Path(__file__).parent / "fixtures"
SCENARIOS = ("normal", "callback-desync")


def _fixture_files(name: str) -> list[Path]:
    d = FIXTURES / name
    return [d / "app.log", d / "backend.log", *sorted((d / "frontend").glob("*.log"))]


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_fixture_line_is_a_typed_event(name: str) -> None:
    for f in _fixture_files(name):
        result = ingest([str(f)])
        unknown = result.events[result.events["kind"] == "unknown"]
        assert unknown.empty, unknown[["path", "line", "text"]].to_string()
        info = result.sources[0]
        assert info.unknown == 0 and info.bad_lines == 0 and not info.truncated
        assert info.lines == len(f.read_text().splitlines()) == info.events


@pytest.mark.parametrize("name", SCENARIOS)
def test_fixture_directory(name: str) -> None:
    result = ingest([str(FIXTURES / name)])
    df = result.events
    assert list(df.columns) == list(COLUMNS)
    assert [str(d) for d in df.dtypes] == list(COLUMNS.values())
    assert df["t_source"].is_monotonic_increasing
    assert df["t"].equals(df["t_source"])
    # the real server ran in Europe/Berlin: UTC+1 in November
    assert (result.zone.offset_minutes, result.zone.source) == (60, "recv_ts")
    assert result.zone.pairs >= 2 and result.zone.warning is None
    by_name = {Path(s.path).name: s for s in result.sources}
    app, captured = by_name["app.log"], by_name["backend.log"]
    # backend.log repeats every app.log line: kept once, counted as duplicates
    assert captured.duplicates == app.lines
    assert captured.events == captured.lines - app.lines
    assert len(df) == sum(s.events for s in result.sources)
    # no timestamped line survives from two different files
    stamped = df[df["source"] != "console"].astype({"path": "string"})
    assert (stamped.groupby("text")["path"].nunique() == 1).all()
    fe = df[df["source"] == "frontend"]
    client = next(s.client for s in result.sources if s.format == "frontend")
    assert client and client.startswith("Mozilla50iPhoneCPUiP-")
    assert (fe["client"] == client).all()
    # console lines sit between their timestamped neighbours, in file order
    cons = df[df["source"] == "console"]
    assert cons["t_source"].notna().all()
    assert list(cons["line"]) == sorted(cons["line"])


def test_normal_times_and_ids() -> None:
    df = read_events([str(FIXTURES / "normal")])
    first = df[df["shape"] == "sio.client_connected"].iloc[0]
    # "2026-11-24 11:03:38,055" CET is 10:03:38.055 UTC
    assert first["t_source"] == pd.Timestamp("2026-11-24T10:03:38.055Z")
    assert first["sid"] == "LU4XadoC"
    recv = df[df["kind"] == "chat.connect.received"]
    assert list(recv["session"][:1]) == ["new-1795514619908"]
    assert list(recv["temp_id"][:1]) == ["new-1795514619908"]
    # recv_ts is taken a moment after the line's own time
    lag_ms = (recv["recv_ts"] * 1000).round().astype("int64") - recv["t_source"].astype("int64") // 10**6
    assert lag_ms.between(0, 5).all()
    ws = df[df["shape"] == "uv.ws_accepted"].iloc[0]
    assert ws["transport"] == "websocket" and ws["client_ms"] == 1795514618053
    ready = df[df["kind"] == "chat.ready.received"].iloc[0]
    assert ready["server_ms"] > 0 and ready["client_ms"] - ready["server_ms"] == ready["ms"]


def test_missing_paths_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(DiagError, match="no such file"):
        ingest([str(tmp_path / "nope.log")])
    with pytest.raises(DiagError, match="matches no file"):
        ingest([str(tmp_path / "*.log")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(DiagError, match="no log files"):
        ingest([str(tmp_path / "empty")])
    f = tmp_path / "a.log"
    f.write_text("x\n")
    with pytest.raises(DiagError, match="unknown format"):
        ingest([str(f)], format_of={str(f): "syslog"})
    with pytest.raises(DiagError, match="--tz"):
        ingest([str(f)], tz="Mars/Olympus")


def test_stdin_gzip_glob_and_directory(tmp_path: Path) -> None:
    src = (FIXTURES / "normal" / "app.log").read_bytes()
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "app.log.1.gz").write_bytes(gzip.compress(src))
    (tmp_path / "notes.txt").write_text("not a log\n")
    by_dir = ingest([str(tmp_path)])
    by_stdin = ingest(["-"], stdin=io.BytesIO(src))
    by_text_stdin = ingest(["-"], stdin=io.StringIO(src.decode()))
    by_glob = ingest([str(tmp_path / "**" / "*.gz")])
    assert len(by_dir.events) == len(by_stdin.events) == len(by_text_stdin.events) == len(by_glob.events) == 165
    assert [s.path for s in by_dir.sources] == [str(tmp_path / "sub" / "app.log.1.gz")]


def test_sim_results_in_a_directory_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "results.jsonl").write_text(json.dumps({"schema": "jarvis-diag.sim/1", "run": "r"}) + "\n")
    (tmp_path / "app.log").write_bytes((FIXTURES / "normal" / "app.log").read_bytes())
    result = ingest([str(tmp_path)])
    assert [Path(s.path).name for s in result.sources] == ["app.log"]
    # found next to the logs of its run, it goes unmentioned, as any other file that is not a log
    assert not result.warnings
    # named, it is said to be skipped; named alone, it is an error that says what reads it
    named = ingest([str(tmp_path / "app.log"), str(tmp_path / "results.jsonl")])
    assert [Path(s.path).name for s in named.sources] == ["app.log"]
    assert [w for w in named.warnings if "results.jsonl" in w and "not a log" in w]
    with pytest.raises(DiagError, match="results.jsonl: a simulate-mobile results file, not a log.*report"):
        ingest([str(tmp_path / "results.jsonl")])


def test_events_jsonl_round_trip(tmp_path: Path) -> None:
    original = read_events([str(FIXTURES / "callback-desync")])
    original.loc[0, ["t", "t_source"]] = pd.Timestamp("2026-11-24T10:04:29Z")  # (a whole second)
    out = tmp_path / "events.jsonl"
    with out.open("w") as fp:
        frames.events_to_jsonl(original, fp)
    back = ingest([str(out)])
    assert back.sources[0].format == "jsonl"
    pd.testing.assert_frame_equal(back.events, original, check_categorical=False)
    # every time in one shape, as documented (a whole second keeps its fraction)
    times = [json.loads(line)["t"] for line in out.read_text().splitlines()]
    assert all(len(t) == len("2026-11-24T10:04:59.000000Z") and t.endswith("Z") for t in times)
    assert any(t.endswith(".000000Z") for t in times)


def test_files_that_cannot_repeat_each_other_come_out_sorted_as_one(tmp_path: Path) -> None:
    # an app log and a phone's frontend log (no line of one can be the other's): their rows
    # are gathered in time order at once; the same rows, in the same order, as each file
    # read alone, put together and sorted (stable: a file's own order kept on equal times)
    d = FIXTURES / "callback-desync"
    app, fe = d / "app.log", sorted((d / "frontend").glob("*.log"))[0]
    (tmp_path / "frontend").mkdir()
    (tmp_path / "app.log").write_bytes(app.read_bytes())
    (tmp_path / "frontend" / fe.name).write_bytes(fe.read_bytes())
    both = ingest([str(tmp_path / "app.log"), str(tmp_path / "frontend" / fe.name)]).events
    alone = [ingest([str(p)]).events for p in (tmp_path / "app.log", tmp_path / "frontend" / fe.name)]
    expected = frames.concat_events(alone)
    expected = expected.iloc[expected["t_source"].argsort(kind="stable")]
    assert both["t_source"].is_monotonic_increasing and len(both) == len(expected) > 300
    assert both["text"].tolist() == expected["text"].tolist()
    assert both["client"].astype(object).tolist() == expected["client"].astype(object).tolist()
    assert {"backend", "frontend"} <= set(both["source"])


def test_take_rows_is_a_take() -> None:
    import numpy as np

    from jarvis_diag.ingest import take_rows

    df = ingest([str(FIXTURES / "normal")]).events
    order = np.random.default_rng(3).permutation(len(df))
    pd.testing.assert_frame_equal(take_rows(df, order), df.take(order).reset_index(drop=True))


def _timeline_without_places(paths: list[str]) -> dict:
    """The timeline's JSON with each line cited by its text alone (not its file and number)."""
    from jarvis_diag.timeline import load_timeline

    def strip(x: object) -> object:
        if isinstance(x, dict):
            return {"text": x["text"]} if set(x) == {"path", "line", "text"} else {k: strip(v) for k, v in x.items()}
        return [strip(v) for v in x] if isinstance(x, list) else x

    doc = load_timeline(paths).to_json_dict()
    del doc["sources"]
    return strip(doc)


@pytest.mark.parametrize(("rotated", "paths"), [
    ("app.log.1", ["{dir}"]), ("app.log.1", ["{dir}/app.log", "{dir}/app.log.1"]),
    # a timed rotation's names: Python's TimedRotatingFileHandler, logrotate's dateext
    ("app.log.2026-11-23", ["{dir}"]), ("app.log-20261123", ["{dir}/app.log", "{dir}/app.log-20261123"]),
], ids=["directory", "shell-glob", "dated-directory", "dateext-glob"])
def test_a_rotated_log_reads_as_the_file_it_was(tmp_path: Path, rotated: str, paths: list[str]) -> None:
    # cut inside a burst of lines of one millisecond (an attach's timings): the rotated-out
    # part is the older one, whatever its name sorts as
    lines = (FIXTURES / "callback-desync" / "app.log").read_text().splitlines(keepends=True)
    cut = next(i for i in range(len(lines) // 2, len(lines)) if lines[i][:23] == lines[i - 1][:23]
               and "Chat connect T" in lines[i])
    (tmp_path / rotated).write_text("".join(lines[:cut]))
    (tmp_path / "app.log").write_text("".join(lines[cut:]))
    frontend = [str(p) for p in (FIXTURES / "callback-desync" / "frontend").glob("*.log")]
    whole = _timeline_without_places([str(FIXTURES / "callback-desync" / "app.log"), *frontend])
    rotated = _timeline_without_places([p.format(dir=tmp_path) for p in paths] + frontend)
    assert rotated == whole


@pytest.mark.parametrize("engine", ["fast", "numpy", "reference"])
def test_two_files_that_are_no_logs_keep_every_line(engine: str) -> None:
    # two JSON documents given as logs (each starts with a line "{", and many of their
    # indented lines are alike): a line with no time is at no instant the other file's lines
    # could share, so none is the other's repeat; and with no log line before them, the
    # indented lines continue no event: each line is an unknown event of its own
    files = [FIXTURES / name / "truth.json" for name in SCENARIOS]
    result = ingest([str(f) for f in files], engine=engine)
    for f, info in zip(files, result.sources, strict=True):
        lines = f.read_text().splitlines()
        assert lines[0] == "{" and all(line.strip() for line in lines)
        assert (info.lines, info.events, info.unknown, info.duplicates) == (len(lines), len(lines), len(lines), 0)
    assert result.events["traceback"].isna().all()
    assert sum(w.endswith("not a Jarvis log? (timeline --format-of PATH=KIND forces a format)")
               for w in result.warnings) == 2


def _insert_after(lines: list[str], text: str, new: str) -> list[str]:
    """``lines`` with the line ``new`` after the line ``text``."""
    at = lines.index(text) + 1
    return [*lines[:at], new, *lines[at:]]


def test_a_line_with_no_time_is_a_repeat_only_where_the_same_line_stands(tmp_path: Path) -> None:
    # app.log and the captured backend.log that repeats it: the second line of a message
    # (no time of its own) stands after the same line in both, at the same instant: it is one
    # event. A line the app printed (only in backend.log) that app.log holds elsewhere, at
    # another instant, is no repeat of it.
    d = FIXTURES / "normal"
    app, captured = d.joinpath("app.log").read_text().splitlines(), d.joinpath("backend.log").read_text().splitlines()
    message, elsewhere = app[20], app[100]
    second = "second line of the message, not indented"
    printed = "Loaded 3 projects"
    app = _insert_after(_insert_after(app, message, second), elsewhere, printed)
    captured = _insert_after(_insert_after(captured, message, second), app[5], printed)
    (tmp_path / "app.log").write_text("".join(f"{line}\n" for line in app))
    (tmp_path / "backend.log").write_text("".join(f"{line}\n" for line in captured))
    result = ingest([str(tmp_path / "app.log"), str(tmp_path / "backend.log")])
    by_name = {Path(s.path).name: s for s in result.sources}
    assert by_name["backend.log"].duplicates == by_name["app.log"].lines - 1
    df = result.events
    assert (df["text"] == second).sum() == 1
    both = df[df["text"] == printed]
    assert sorted(Path(p).name for p in both["path"]) == ["app.log", "backend.log"]
    assert both["t_source"].nunique() == 2


def test_a_line_printed_in_two_rotated_captures_is_kept_in_both(tmp_path: Path) -> None:
    # backend.log rotated: the same line printed (no time of its own) in both halves, after
    # different lines, is two events, not one file's line repeated by the other
    lines = (FIXTURES / "normal" / "backend.log").read_text().splitlines()
    printed = "Loaded 3 projects"
    half = len(lines) // 2
    old, new = _insert_after(lines[:half], lines[10], printed), _insert_after(lines[half:], lines[half + 10], printed)
    (tmp_path / "backend.log.1").write_text("".join(f"{line}\n" for line in old))
    (tmp_path / "backend.log").write_text("".join(f"{line}\n" for line in new))
    result = ingest([str(tmp_path)])
    assert [s.duplicates for s in result.sources] == [0, 0]
    assert (result.events["text"] == printed).sum() == 2


def test_events_read_back_are_counted_as_theirs_and_refused_beside_their_own_logs(tmp_path: Path) -> None:
    from jarvis_diag.timeline import load_timeline

    desync = FIXTURES / "callback-desync"
    events = tmp_path / "events.jsonl"
    subprocess.run([sys.executable, "-m", "jarvis_diag", "timeline", str(desync), "-f", "jsonl", "-o", str(events)],
                   check=True, timeout=120)
    back = ingest([str(events)])
    [info] = back.sources
    assert info.lines == info.events == len(back.events) > 0  # (they name the logs they came from)
    assert (info.first, info.last) == (back.events["t_source"].min().isoformat(timespec="milliseconds")
                                       .replace("+00:00", "Z"),
                                       back.events["t_source"].max().isoformat(timespec="milliseconds")
                                       .replace("+00:00", "Z"))
    assert {(f.kind, f.severity) for f in load_timeline(str(events)).findings.itertuples()} == \
        {(f.kind, f.severity) for f in load_timeline(str(desync)).findings.itertuples()}
    # with a log they were read from: every line twice, every finding named twice, before
    with pytest.raises(DiagError, match=r"events.jsonl: the events of .*app.log, also given .*: its lines would "
                                        r"be read twice; give the events or the logs they were read from, not both"):
        ingest([str(events), str(desync)])
    # events exported as app.log in one folder, read beside another app.log (the next day's,
    # after a rotation): a name alone is not the same file
    there, here = tmp_path / "there", tmp_path / "elsewhere"
    there.mkdir()
    here.mkdir()
    (there / "app.log").write_bytes((desync / "app.log").read_bytes())
    subprocess.run([sys.executable, "-m", "jarvis_diag", "timeline", "app.log", "-f", "jsonl", "-o", "ev.jsonl"],
                   cwd=there, check=True, timeout=120, capture_output=True)
    (there / "ev.jsonl").replace(here / "ev.jsonl")
    (here / "app.log").write_bytes((FIXTURES / "normal" / "app.log").read_bytes())
    import os

    before = os.getcwd()
    os.chdir(here)
    try:
        both = ingest(["ev.jsonl", "app.log"])
    finally:
        os.chdir(before)
    assert len(both.sources) == 2 and all(s.events for s in both.sources)

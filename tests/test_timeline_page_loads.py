"""A page's log holding more than one page load (two page logs put together, a file renamed
by hand): each load is a page of its own, with its own clock.

A clientId names one page load (LOG_FORMATS.md §2), so a page's log is one clock; a file
holding two loads whose clocks were off by different amounts was read on one clock, and
the lines of one load moved by the other's skew (a reply seen seconds "on the wire").
Written with tests/logbuilder.py: each test knows both loads' skews.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from logbuilder import LogSet, uuid_of

from jarvis_diag.timeline import load_timeline

SKEW_A, SKEW_B = 2734.0, -1800.0
SID_A, SID_B = "QEy5HbszAAAB", "rmbzD7XAAAAF"


def _reload(logs: LogSet, *, page_clock: bool = False) -> tuple:
    """A page that opens a chat and sends 3 messages, is loaded again (its clock off by
    another amount: the phone's clock was set meanwhile) and does the same on a new socket.
    ``page_clock``: each load writes how long after it loaded it opened its chat (the legacy
    page, no ConnectionManager), else the ConnectionManager's creation as it starts."""
    a = logs.client(skew_ms=SKEW_A, suffix="aaaa")
    if not page_clock:
        logs.fe(a, logs.now, "cm.init")
    logs.connect(a, SID_A)
    logs.wait(1.0)
    if page_clock:
        logs.fe(a, logs.now, "page.session_start", ms="2210.35")
    temp = logs.temp_id(a)
    logs.attach(a, SID_A, uuid_of(1), temp=temp)
    for _ in range(3):
        logs.wait(1.5)
        logs.message(a, SID_A, uuid_of(1), key=temp[:8])
    logs.wait(2.0)
    logs.client_disconnect(a, SID_A, reason="io client disconnect")
    logs.wait(1.0)
    b = logs.client(skew_ms=SKEW_B, suffix="bbbb")
    if not page_clock:
        logs.fe(b, logs.now, "cm.init")
    logs.connect(b, SID_B)
    logs.wait(1.0)
    if page_clock:
        logs.fe(b, logs.now, "page.session_start", ms="1507.12")
    logs.attach(b, SID_B, uuid_of(1), existing=True)
    for _ in range(3):
        logs.wait(1.5)
        logs.message(b, SID_B, uuid_of(1))
    return a, b


def _together(tmp_path, logs: LogSet, a, b, legacy: bool = False) -> tuple[str, int]:
    """Both loads' lines in the first one's file (as ``cat a.log b.log > a.log`` leaves them):
    the file, and the line the second load starts at. ``legacy``: pages with no
    ConnectionManager (none of its lines)."""
    paths = logs.write(tmp_path)
    [first] = [p for p in paths if a.id in p.name]
    [second] = [p for p in paths if b.id in p.name]
    texts = ["".join(x for x in p.read_text().splitlines(keepends=True) if not (legacy and "[ConnMgr]" in x))
             for p in (first, second)]
    first.write_text("".join(texts))
    second.unlink()
    return str(first), len(texts[0].splitlines()) + 1


def test_two_page_loads_in_one_file_are_two_pages_each_on_its_own_clock(tmp_path):
    logs = LogSet(one_way_ms=2.0)
    a, b = _reload(logs)
    path, line_b = _together(tmp_path, logs, a, b)
    tl = load_timeline([str(tmp_path)])
    clients = tl.clock["clients"]
    second = f"{a.id}#2"
    assert sorted(clients) == [a.id, second]
    assert clients[a.id]["skew_ms"] == pytest.approx(SKEW_A, abs=5)
    assert clients[second]["skew_ms"] == pytest.approx(SKEW_B, abs=5)
    data = tl.to_json_dict()
    assert {c["sid"]: c["client"] for c in data["connections"]} == {SID_A[:8]: a.id, SID_B[:8]: second}
    # every message of both loads crossed the wire in a few ms: no delay to report
    assert [f for f in data["findings"] if f["kind"] == "transport-delay"] == []
    [warning] = [w for w in data["warnings"] if "page loads" in w]
    assert warning.startswith(f"{path}: 2 page loads in one page's log (the page loaded again at line {line_b})")
    assert second in warning
    # the lines keep their file and line; --client with the file's clientId keeps both loads
    assert set(tl.filter(client=a.id).events["client"].dropna()) == {a.id, second}
    assert not [w for w in tl.filter(client=a.id).warnings if "matches" in w]  # (one client, loaded twice)


def test_a_page_load_with_no_start_line_is_told_by_its_page_clock_going_back(tmp_path):
    # the legacy page writes no ConnectionManager line: the second load is seen where the
    # time since the page loaded (=== connectSession START at <ms>ms ===) goes back, and
    # starts with the connect of its socket just before (its first line)
    logs = LogSet(one_way_ms=2.0)
    a, b = _reload(logs, page_clock=True)
    path, line_b = _together(tmp_path, logs, a, b, legacy=True)
    tl = load_timeline([str(tmp_path)])
    assert tl.clock["clients"][f"{a.id}#2"]["skew_ms"] == pytest.approx(SKEW_B, abs=5)
    assert tl.clock["clients"][a.id]["skew_ms"] == pytest.approx(SKEW_A, abs=5)
    [warning] = [w for w in tl.warnings if "page loads" in w]
    assert f"(the page loaded again at line {line_b})" in warning
    assert [f for f in tl.to_json_dict()["findings"] if f["kind"] == "transport-delay"] == []


@pytest.mark.parametrize("logs", ["tests/fixtures/callback-desync", "sample_logs/legacy-frozen-past-ping"])
def test_a_page_that_reconnects_is_one_page_load(logs):
    # the real page hidden, back and reconnecting twice; legacy pages that lost their socket
    root = Path(__file__).parent.parent
    tl = load_timeline([str(root / logs)])
    assert not [w for w in tl.warnings if "page loads" in w]
    files = sorted(p.name.split("_", 1)[1].removesuffix(".log") for p in (root / logs / "frontend").iterdir())
    assert sorted(tl.clock["clients"]) == files


def test_many_page_logs_holding_several_loads_are_told_in_a_few_warnings(tmp_path):
    # (the real page's log written twice over in each of 5 files: 2 loads in each)
    [page] = (Path(__file__).parent / "fixtures" / "normal" / "frontend").glob("*.log")
    text = page.read_text()
    lines = len(text.splitlines())
    for i in range(5):
        (tmp_path / f"20261124_Mozilla50iPhoneCPUiP-mwuj1maq-pg{i:02d}.log").write_text(text + text)
    tl = load_timeline([str(tmp_path)])
    told = [w for w in tl.warnings if "page load" in w]
    assert len(told) == 4
    assert all(f"(the page loaded again at line {lines + 1})" in w for w in told[:3])
    assert told[3].startswith("2 more page logs hold several page loads (10 loads in the 5 files)")
    assert len([c for c in tl.clock["clients"] if c.endswith("#2")]) == len(tl.clock["clients"]) // 2


def _loaded_again_after(tmp_path, first_load) -> tuple[float, dict]:
    """A page whose first load does ``first_load(logs, a)`` (returning when what it tells
    began), then is loaded again and attaches its chat on a new socket: (that time, the time
    of the reload) and the timeline's findings."""
    logs = LogSet(one_way_ms=2.0)
    a = logs.client(skew_ms=SKEW_A, suffix="aaaa")
    logs.fe(a, logs.now, "cm.init")
    logs.connect(a, SID_A)
    logs.attach(a, SID_A, uuid_of(1), existing=True)
    logs.wait(1.0)
    began = first_load(logs, a)
    b = logs.client(skew_ms=SKEW_B, suffix="bbbb")
    t_reload = logs.now
    logs.fe(b, logs.now, "cm.init")
    logs.connect(b, SID_B)
    logs.attach(b, SID_B, uuid_of(1), existing=True)
    logs.wait(60.0)
    logs.be(logs.now, "app.batch_saved", n=1)
    _together(tmp_path, logs, a, b)
    findings = load_timeline([str(tmp_path)]).to_json_dict()["findings"]
    return (t_reload - began) * 1000, {"client": a.id, "findings": findings}


def test_a_load_that_never_recovered_ends_where_the_page_was_loaded_again(tmp_path):
    # the first load lost its socket in the background and, visible again, never reconnected;
    # the user loaded the page again 40 s later. The finding counted 'the N s of log that
    # follow' (the next load's lines among them) and its cost ran to the end of the logs
    def lost(logs, a):
        logs.page_hidden(a)
        began = logs.now
        logs.client_disconnect(a, SID_A, reason="transport close")
        logs.wait(5.0)
        logs.page_visible(a)
        logs.wait(40.0)
        return began

    cost, tl = _loaded_again_after(tmp_path, lost)
    [f] = [f for f in tl["findings"] if f["kind"] == "reconnect-failed"]
    assert f["client"] == tl["client"]
    assert "it had not reconnected when the page was loaded again at" in f["summary"]
    assert "40 s after" in f["summary"] and "of log that follow" not in f["summary"]
    assert f["delay_ms"] == pytest.approx(cost, abs=100)


def test_a_session_not_re_attached_before_the_page_was_loaded_again_ends_there(tmp_path):
    # the first load reconnected without re-attaching its chat, and the page was loaded again
    # 20 s later: the chat's output 'reaches no one for the rest of the log' (critical) was
    # told of a page no longer there
    def back_without_the_chat(logs, a):
        logs.client_disconnect(a, SID_A, reason="transport close")
        logs.wait(1.0)
        logs.connect(a, "Zx9LmQ2wAAAC")
        began = logs.now
        logs.wait(20.0)
        return began

    cost, tl = _loaded_again_after(tmp_path, back_without_the_chat)
    [f] = [f for f in tl["findings"] if f["kind"] == "missing-resubscribe"]
    assert f["client"] == tl["client"] and f["severity"] == "warning"
    assert "until the page was loaded again at" in f["summary"] and "rest of the log" not in f["summary"]
    assert f["delay_ms"] == pytest.approx(cost, abs=100)


def test_a_page_with_several_loads_in_two_of_its_logs_numbers_them_on(tmp_path):
    # the same clientId's log in two folders, each holding two loads (the second a day
    # later): the loads were named <clientId>#2 in both, and the timeline ended in
    # "ValueError: Categorical categories must be unique"
    logs = LogSet(one_way_ms=2.0)
    a, b = _reload(logs)
    path, _ = _together(tmp_path / "day1", logs, a, b)
    later = tmp_path / "day2" / Path(path).name
    later.parent.mkdir()
    text = Path(path).read_text()
    day = date.fromisoformat(text[1:11])
    assert text.count(f"[{day}") == len(text.splitlines())
    later.write_text(text.replace(f"[{day}", f"[{day + timedelta(days=1)}"))
    tl = load_timeline([str(tmp_path / "day1"), str(later)])
    clients = tl.events.groupby("path", observed=True)["client"].unique()
    assert sorted(clients[path]) == [a.id, f"{a.id}#2"]
    assert sorted(clients[str(later)]) == [a.id, f"{a.id}#3"]
    warnings = [w for w in tl.warnings if "page loads" in w]
    assert len(warnings) == 2 and f"{a.id}#3" in warnings[1]

"""A line of megabytes (a pasted file or an image as a data URL in a chat message, echoed by
the log) is read whole by every reader, and classified by all of it; only what no log writes
(a line over text.MAX_LINE: binary data, a file with no newline) is cut, counted and warned about."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from jarvis_diag.frames import events_to_jsonl
from jarvis_diag.ingest import ingest
from jarvis_diag.logs.text import MAX_LINE
from jarvis_diag.timeline import build_timeline

FIXTURES = Path(__file__).parent / "fixtures"
ENGINES = ["fast", "numpy", "reference"]
# (past the 64 KiB every line was once cut to)
PAD = 200 * 1024
MESSAGE = "content=list the files in this project..."
MUX_START = "connectMux START: session=new-1795, workingDir=/home/dev/workspace/work/projA"


def _real_pair(d: Path, pad: int) -> list[str]:
    """The real 'normal' run, its backend log and its page's log, with the first chat message's
    text (its ``Chat message received`` line) and the page's first ``connectMux START``
    workingDir longer by ``pad`` characters."""
    (d / "frontend").mkdir(parents=True)
    app = (FIXTURES / "normal" / "app.log").read_text()
    assert app.count(MESSAGE) == 1
    (d / "app.log").write_text(app.replace(MESSAGE, MESSAGE[:-3] + " " + "y" * pad + "..."))
    [page] = (FIXTURES / "normal" / "frontend").glob("*.log")
    text = page.read_text()
    assert MUX_START in text
    (d / "frontend" / page.name).write_text(text.replace(MUX_START, MUX_START + "z" * pad, 1))
    return [str(d / "app.log"), str(d / "frontend" / page.name)]


def _without_places(doc: object) -> object:
    """The timeline's JSON with each line cited by its file name and number alone (the padded
    lines' texts and the two copies' directories differ)."""
    if isinstance(doc, dict):
        if set(doc) == {"path", "line", "text"}:
            return (Path(doc["path"]).name, doc["line"])
        return {k: _without_places(v) for k, v in doc.items() if k != "sources"}
    return [_without_places(v) for v in doc] if isinstance(doc, list) else doc


@pytest.mark.parametrize("engine", ENGINES)
def test_a_long_chat_message_is_no_false_transport_delay(tmp_path: Path, engine: str) -> None:
    # cut to its first 64 KiB, the receipt of the first message no longer matched its shape:
    # the page's emit was paired with the next message's receipt, a 15.6 s "transport-delay"
    short = ingest(_real_pair(tmp_path / "short", 0), engine=engine)
    app, page = _real_pair(tmp_path / "long", PAD)
    long = ingest([app, page], engine=engine)
    assert not [w for w in long.warnings if "over 64 MiB" in w] and all(s.long_lines == 0 for s in long.sources)
    df = long.events
    # each padded line: its whole text, and the kind of the same line unpadded
    for path, pad in ((app, "y" * PAD + "..."), (page, "z" * PAD)):
        [row] = df[df["text"].str.contains(pad, regex=False)].itertuples()
        assert row.text == Path(path).read_text().splitlines()[row.line - 1] and row.text.endswith(pad)
        same = short.events[short.events["line"].eq(row.line) & short.events["source"].eq(row.source)]
        assert row.kind == same["kind"].iloc[0] and row.kind in ("message.received", "ui.connect.start")
    a = build_timeline(short).to_json_dict()
    b = build_timeline(long).to_json_dict()
    assert not [f for f in b["findings"] if f["kind"] == "transport-delay"]
    assert _without_places(b) == _without_places(a)


MIB = 1 << 20


def _long_lines() -> bytes:
    """Real-shaped lines of megabytes, each of a different kind: a backend message, a page's
    line, a traceback line, an unknown line, a uvicorn console line, non-ASCII text."""
    stamp = "2026-11-24 11:03:41,578 - jarvis - INFO - "
    return "".join([
        "2026-11-24 11:03:38,055 - jarvis - INFO - [SocketIO] Client LU4XadoC connected\n",
        stamp + "[SocketIO] Chat message received: sid=LU4XadoC, session=new-1795, content=" + "data:image/png;base64,"
        + "iVBORw0KGgo" * (3 * MIB // 11) + "...\n",
        "[2026-11-24T10:03:39.908Z] [DEBUG] [Chat] [TIMING] connectMux START: session=new-1795, workingDir=/"
        + "deep/" * MIB + "\n",
        "not a log line " + "n" * (2 * MIB) + "\n",
        "INFO:     127.0.0.1:50000 - \"GET /api/x?q=" + "q" * MIB + " HTTP/1.1\" 200 OK\n",
        "2026-11-24 11:03:42,000 - jarvis - ERROR - [SocketIO] Client LU4XadoC send error: " + "x, " * MIB + "\n",
        "Traceback (most recent call last):\n",
        '  File "/app/main.py", line 1, in send\n',
        "ValueError: " + "x, " * MIB + "\n",
        stamp + "[Chat] réponse 中文 😀 " + "é中😀" * MIB + "\n",
    ]).encode()


@pytest.mark.parametrize("engine", ENGINES)
def test_lines_of_megabytes_are_kept_whole_by_every_reader(tmp_path: Path, engine: str) -> None:
    data = _long_lines()
    path = tmp_path / "app.log"
    path.write_bytes(data)
    result = ingest([str(path)], engine=engine)
    df = result.events.sort_values("line")
    [info] = result.sources
    assert info.long_lines == 0 and not [w for w in result.warnings if "over 64 MiB" in w]
    lines = data.decode().split("\n")
    kept = df["text"].tolist()
    assert kept == [lines[i] for i in (0, 1, 2, 3, 4, 5, 9)]  # (the traceback's lines are the send error's)
    assert df["kind"].tolist() == ["socket.connected", "message.received", "ui.connect.start", "unknown", "http.request",
                                   "emit.error", "unknown"]
    assert df["traceback"].iloc[5] == "\n".join(lines[6:9])


def test_a_line_over_the_limit_is_cut_alike_by_every_reader_and_said(tmp_path: Path) -> None:
    # what no log writes: a file of one line of 64 MiB and more (here with no newline at its end)
    path = tmp_path / "app.log"
    head = b"2026-11-24 11:03:40,000 - jarvis - INFO - [SocketIO] Chat message received: sid=QEy5Hbsz, content="
    path.write_bytes(b"2026-11-24 11:03:38,055 - jarvis - INFO - [SocketIO] Client LU4XadoC connected\n"
                     + head + b"ab, " * (MAX_LINE // 4) + "é".encode() * 10)
    texts = []
    for engine in ENGINES:
        result = ingest([str(path)], engine=engine)
        [info] = result.sources
        assert (info.lines, info.long_lines, info.truncated) == (2, 1, True)
        assert f"{path}: 1 line over 64 MiB cut to its first 64 MiB (no log writes such lines: binary data, or a " \
               "file with no newlines?)" in result.warnings
        df = result.events.sort_values("line")
        assert df["text"].str.len().tolist()[1] == MAX_LINE
        texts.append(df["text"].iloc[1])
    assert texts[0] == texts[1] == texts[2] and texts[0].startswith(head.decode())


def test_an_events_export_of_long_lines_reads_back_whole(tmp_path: Path) -> None:
    # our own JSONL: its line for a long event is longer still (the text, and its fields)
    logs = _real_pair(tmp_path / "logs", PAD)
    original = ingest(logs).events
    out = tmp_path / "events.jsonl"
    with out.open("w") as fp:
        events_to_jsonl(original, fp)
    back = ingest([str(out)])
    assert back.sources[0].bad_lines == 0 and back.sources[0].long_lines == 0
    pd.testing.assert_frame_equal(back.events, original, check_categorical=False)

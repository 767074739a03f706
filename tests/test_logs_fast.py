"""The fast parser gives exactly the reference parser's rows (and counters)."""

from __future__ import annotations

import random
from pathlib import Path

import pandas as pd
import pytest

from jarvis_diag import lines
from jarvis_diag.logs import examples, parse_raw, parse_text
from jarvis_diag.logs import fast as fast_module
from jarvis_diag.logs import text as text_module

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_FILES = sorted(p for p in FIXTURES.rglob("*.log"))


def _same(data: bytes, fmt: str = "backend", client: str | None = "client-1") -> pd.DataFrame:
    """Both fast engines (with the compiled loops, and numpy only) give the reference's rows."""
    ref = parse_text(data, fmt, "f.log", client=client, engine="reference", panel_date="2026-11-24")
    a = parse_raw(data, fmt, engine="reference")
    for engine in ("fast", "numpy"):
        fast = parse_text(data, fmt, "f.log", client=client, engine=engine, panel_date="2026-11-24")
        pd.testing.assert_frame_equal(fast, ref)
        # the text column made on a thread of its own, as for a big file
        with pytest.MonkeyPatch.context() as m:
            m.setattr(fast_module, "BACKGROUND_MIN_BYTES", 0)
            threaded = parse_text(data, fmt, "f.log", client=client, engine=engine, panel_date="2026-11-24")
        pd.testing.assert_frame_equal(threaded, ref)
        b = parse_raw(data, fmt, engine=engine)
        assert (a.lines, a.bad_lines, a.long_lines, a.truncated) == (b.lines, b.bad_lines, b.long_lines, b.truncated)
    return fast


def test_the_compiled_loops_are_built() -> None:
    # `pip install` compiles them where a C compiler is (as here and in CI); without them
    # the parser still works, only slower, so a failed build must not pass unnoticed
    from jarvis_diag.logs import fast

    assert fast.COMPILED, "jarvis_diag/logs/_scan.c was not compiled, or is out of date: reinstall with a C compiler"
    from jarvis_diag import built

    assert built.compiled is not None, "jarvis_diag/_records.c was not compiled, or is out of date: reinstall"


@pytest.mark.parametrize("path", FIXTURE_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fixtures(path: Path) -> None:
    fmt = "frontend" if path.parent.name == "frontend" else "backend"
    df = _same(path.read_bytes(), fmt)
    assert len(df) == len(path.read_text().splitlines())


def test_generated_lines_of_every_shape() -> None:
    rng = random.Random(11)
    out = []
    t = 1795514619.0
    for _ in range(4):
        for shape in lines.SHAPES:
            t += rng.random()
            out.append(examples.example_line(shape, rng, t))
    rng.shuffle(out)
    df = _same(("\n".join(out) + "\n").encode())
    assert set(df["shape"].dropna()) == {s.name for s in lines.SHAPES}


def test_damaged_and_odd_lines() -> None:
    rng = random.Random(3)
    good = (FIXTURES / "normal" / "backend.log").read_bytes()[:20000]
    odd = (
        b"garbage before any timestamp\n  indented first\nINFO:     connection open\n\n"
        + good
        + b"\xff\xfe bad utf-8 \x80\nNUL\x00inside\n"
        + b"2026-11-24 11:03:38,056 - jarvis - INFO - " + b"long " * 20000 + b"\n"
        + rng.randbytes(4000) + b"\n   \n\r\n"
        + b"2026-13-01 11:03:38,056 - jarvis - INFO - month 13\n"
        + b"2026-11-24 11:03:38,056 - jarvis - NOTICE - odd level\n"
        + b"\xd9\xa2026-11-24 11:03:38,056 - jarvis - INFO - arabic-indic digit\n"
        + b"[2026-11-24T10:00:00.1Z] [DEBUG] [ConnMgr] Page hidden\n"
        + b"[2026-11-24T10:00:00.123Z] [WARN] [ConnMgr] Page visible\r\n"
        + b"[2026-11-24T10:00:00.123Z] no level\n"
        + b"[10:00:00.123] [ConnMgr] Page visible\n[10:00:01.5] [INFO] [ConnMgr] Network online\n"
        + b"2026-11-24 11:03:39,000 - jarvis - ERROR - [SocketIO] Client AAAAAAAA send error: x\n"
        + b"Traceback (most recent call last):\n  File \"x.py\", line 1\nValueError: y\n\nmore after blank\n"
        + b"\xef\xbb\xbfBOM in the middle\n"
        + b"last line without newline"
    )
    df = _same(odd)
    assert (df["kind"] == "unknown").sum() >= 5
    _same(b"\xef\xbb\xbf" + good)
    _same(b"")
    _same(b"\n\n")
    _same(b"only text, no newline")


def test_tracebacks_and_unknown_lines_in_any_order() -> None:
    # lines with no known prefix continue the event before them (indented, a "Traceback"
    # line, or after such a line with only blanks between) or are unknown events: random
    # sequences of them, with and without a stamped line first, read as the reference reads them
    rng = random.Random(8)
    kinds = [b"2026-11-24 11:03:38,056 - jarvis - ERROR - [SocketIO] Client A send error: x",
             b"[2026-11-24T10:00:00.123Z] [DEBUG] [ConnMgr] Page hidden", b"INFO:     connection open",
             b"Traceback (most recent call last):", b'  File "x.py", line 1', b"\tat y", b"ValueError: bad",
             b"[X] plain text", b"garbage", b"", b"   "]
    for _ in range(60):
        picked = [rng.choice(kinds) for _ in range(rng.randint(1, 40))]
        _same(b"\n".join(picked) + b"\n")


def test_distinct_lines_numbered_in_c_as_arrow_numbers_them() -> None:
    import numpy as np

    from jarvis_diag.logs import _scan, fast

    data = "INFO:     a\nx\n\nINFO:     a\nx\n\u00e9\n".encode()
    buf = np.frombuffer(data, dtype=np.uint8)
    nl = fast._newlines(buf)
    for idx in (np.arange(len(nl)), np.array([5, 3, 0, 1]), np.zeros(0, dtype=np.int64)):
        made = fast._distinct_lines(data, buf, nl, idx, True)
        plain = fast._distinct_lines(data, buf, nl, idx, False)
        assert made[0].tolist() == plain[0].tolist() and made[1] == plain[1]
    with pytest.raises(ValueError):
        _scan.distinct(data, nl, np.array([len(nl)], dtype=np.int64))


def test_thousands_of_damaged_lines_are_each_counted() -> None:
    # a NUL, an undecodable byte or a U+FFFD written by the app: each damaged line counts
    # once, however many damaged bytes it has (a file of binary garbage has them by the
    # thousand, and counting them must not cost more than reading them)
    stamp = b"2026-11-24 11:03:38,056 - jarvis - INFO - "
    damage = [b"nul\x00here", b"bad \xff byte", "written \ufffd by the app".encode(), b"\x00\x00two \xfe\xff"]
    data = b"".join(stamp + damage[i % 4] + b" %d\n" % i for i in range(4000))
    df = _same(data)
    assert len(df) == 4000
    assert parse_raw(data, "backend", engine="fast").bad_lines == 4000
    assert parse_raw(data + stamp + b"clean\n", "backend", engine="fast").bad_lines == 4000


def test_numbers_too_big_for_their_column_are_left_out() -> None:
    # a count of 5,000 digits (past Python's int-from-text limit), one past int64 and a
    # decimal past float64: the line keeps its kind and text, the number is not set
    data = (b"[2026-11-24T10:00:00.123Z] [DEBUG] [SocketIO] Processing " + b"9" * 5000 + b" pending operations\n"
            + b"[2026-11-24T10:00:00.124Z] [DEBUG] [SocketIO] Processing 9223372036854775808 pending operations\n"
            + b"[2026-11-24T10:00:00.125Z] [DEBUG] [SocketIO] [TIMING] Socket.IO delivered chat:ready, network_delay=5ms"
            + b" (server=-9223372036854775809, client=-9223372036854775808)\n"
            + b"[2026-11-24T10:00:00.126Z] [DEBUG] [ConnMgr] Scheduling reconnect in 1" + b"0" * 400
            + b"ms (attempt 2)\n")
    df = _same(data, "frontend")
    assert df["kind"].tolist() == ["message.flushed"] * 2 + ["chat.ready.received", "reconnect.scheduled"]
    assert df["n"].isna().all()
    assert pd.isna(df["server_ms"][2]) and df["client_ms"][2] == -(2**63) and df["ms"][2] == 5
    assert pd.isna(df["ms"][3]) and df["attempt"][3] == 2

def test_lines_over_the_limit_in_bytes_or_in_characters() -> None:
    # lines past 64 KiB are kept whole (a chat message can be that long): every reader alike
    stamp = b"2026-11-24 11:03:38,056 - jarvis - INFO - [SocketIO] Session found: True, active sessions: "
    data = (stamp + "é".encode() * 40_000 + b"\n"
            + stamp + "😀".encode() * 70_000 + b"\n"
            + stamp + b"x" * 65_400 + "中".encode() * 200 + b"\n"
            + stamp + "中".encode() * 10 + b"\n")
    df = _same(data)
    assert df["text"].str.len().tolist() == [len(stamp) + n for n in (40_000, 70_000, 65_600, 10)]
    assert parse_raw(data, "backend").long_lines == 0
    # The limit (MAX_LINE) is in characters: a line of 2-byte characters can pass it in bytes
    # only, and one of 4-byte characters past 4x the limit is cut without reading all of it.
    # (Checked with the limit lowered to 64 KiB: at its 64 Mi characters such lines are
    # hundreds of megabytes.)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(text_module, "MAX_LINE", 64 * 1024)
        m.setattr(fast_module, "MAX_LINE", 64 * 1024)
        df = _same(data)
        assert parse_raw(data, "backend").long_lines == 2
    assert df["text"].str.len().tolist() == [len(stamp) + 40_000, 64 * 1024, 64 * 1024, len(stamp) + 10]


@pytest.mark.parametrize("fmt", ["frontend", "panel", "console"])
def test_default_source_of_other_formats(fmt: str) -> None:
    _same(b"noise first\n[2026-11-24T10:00:00.123Z] [DEBUG] [ConnMgr] Page hidden\nnoise after\n", fmt)


def test_ingest_of_an_unsorted_concatenation_matches_the_reference(tmp_path: Path) -> None:
    # what a user makes with `cat frontend/*.log backend.log > all.log`: out of time order
    d = FIXTURES / "callback-desync"
    f = tmp_path / "all.log"
    f.write_bytes(b"".join(p.read_bytes() for p in [*sorted((d / "frontend").glob("*.log")), d / "backend.log"]))
    from jarvis_diag.ingest import ingest

    fast, ref = ingest([str(f)]), ingest([str(f)], engine="reference")
    pd.testing.assert_frame_equal(fast.events, ref.events)
    pd.testing.assert_frame_equal(ingest([str(f)], engine="numpy").events, ref.events)
    assert fast.events["t_source"].is_monotonic_increasing
    assert fast.zone == ref.zone and [s.to_dict() for s in fast.sources] == [s.to_dict() for s in ref.sources]
    both = ingest([str(d)]), ingest([str(d)], engine="reference")
    pd.testing.assert_frame_equal(both[0].events, both[1].events)
    pd.testing.assert_frame_equal(ingest([str(d)], engine="numpy").events, both[1].events)


def test_files_read_together_match_the_reference_with_an_export_between_them(tmp_path: Path) -> None:
    # the fast parser builds the columns of consecutive files once; an events export (JSONL)
    # read between two logs splits them, and every row, column and category stays as read
    from jarvis_diag.cli import main
    from jarvis_diag.ingest import ingest

    src = FIXTURES / "callback-desync"
    with pytest.raises(SystemExit) as done:
        main(["timeline", str(FIXTURES / "normal"), "--format", "jsonl", "--output", str(tmp_path / "b_export.jsonl")])
    assert done.value.code == 0
    (tmp_path / "a_app.log").write_bytes((src / "app.log").read_bytes())
    for f in sorted((src / "frontend").glob("*.log")):
        (tmp_path / f"c_{f.name}").write_bytes(f.read_bytes())
    paths = [str(tmp_path / "a_app.log"), str(tmp_path / "b_export.jsonl"), *sorted(
        str(f) for f in tmp_path.glob("c_*.log"))]
    fast, ref = ingest(paths), ingest(paths, engine="reference")
    pd.testing.assert_frame_equal(fast.events, ref.events)
    read = set(fast.events["path"].astype(str))  # (the export's rows keep the paths they were read from)
    assert {paths[0], *paths[2:]} <= read and str(FIXTURES / "normal" / "app.log") in read
    assert (fast.events["client"].astype("string").str.startswith("Mozilla")).any()


def test_views_across_data_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    # files over 1 GiB are addressed in several buffers; shrink the chunk to see it work
    from jarvis_diag.logs import fast

    data = (FIXTURES / "normal" / "backend.log").read_bytes()
    expected = parse_text(data, "backend", engine="fast")
    monkeypatch.setattr(fast, "_CHUNK_BITS", 7)
    pd.testing.assert_frame_equal(parse_text(data, "backend", engine="fast"), expected)


def test_timestamps_across_days_months_and_leap_years() -> None:
    days = ["2024-02-28", "2024-02-29", "2024-03-01", "1999-12-31", "2000-02-29", "2026-12-31", "2027-01-01",
            "2100-03-01", "0001-01-01", "2026-02-31"]
    text = "".join(
        f"{day} 23:59:59,999 - jarvis - INFO - Application started successfully\n"
        f"[{day}T00:00:00.001Z] [DEBUG] [ConnMgr] Page hidden\n"
        for day in days for _ in range(2)
    )
    df = _same(text.encode())
    assert df["t_source"].notna().all()


def test_line_heads_with_one_byte_off() -> None:
    # the line-head check reads eight bytes at a time: every position, with bytes next to
    # the digits and the separators, and multi-byte characters in place of as many bytes
    heads = ["2026-11-24 10:00:01,234 - jarvis - INFO - Application started successfully",
             "[2026-11-24T10:00:01.234Z] [DEBUG] [ConnMgr] Page hidden"]
    out = []
    for head in heads:
        for i in range(27):
            for sub in ("/", ":", "0", "9", "-", " ", ".", "\x7f", "\u00b0", "\u00c0", "\u0660",
                        "\u4e00", "\U0001f600"):
                out.append(head[:i] + sub + head[i + len(sub.encode()):])
        out.append(head)
    _same(("\n".join(out) + "\n").encode())


def test_the_fast_classifier_agrees_with_the_reference_on_every_message() -> None:
    # classify_tagged works out a shape's tag and number fields once; every fixture message
    # and generated line of every shape (with odd tags and prefixes around them) must get
    # the reference's kind, shape, fields and tag
    from jarvis_diag.logs import text
    from jarvis_diag.logs.shapes import classify, classify_tagged, tag_of

    rng = random.Random(5)
    messages: set[tuple[str, str, str | None]] = set()
    found = [line for path in FIXTURE_FILES for line in path.read_text().splitlines()]
    found += [examples.example_line(shape, rng, 1795514619.0) for shape in lines.SHAPES for _ in range(3)]
    for line in found:
        parts = text.split_line(line)
        if parts is not None:
            source, _t, logger, _level, message = parts
            messages.add((source, message, logger))
    odd = {(s, prefix + m, logger) for s, m, logger in list(messages)[:200]
           for prefix in ("[X] ", "[SocketIO][TIMING] ", "[A:b c] ", "[", "")}
    odd |= {("backend", "[SocketIO]  Client AAAAAAAA connected", "jarvis"), ("backend", "plain text", "uvicorn"),
            ("backend", "[SocketIO]", "jarvis"), ("frontend", "[ConnMgr] [", None),
            # a template whose literal part ends with its tags: what follows can add more
            ("frontend", "[Chat] [Foo] something else", None), ("frontend", "[Chat] [Foo:1] [Bar] x", None),
            ("frontend", "[ConnMgr] [X] idle -> connecting (visible)", None), ("frontend", "[API] [Y]", None),
            ("backend", "[ChatSession:abc] [Z] start() S1 before: 1ms", "app.services.chat_session_manager")}
    assert len(messages) > 300
    for source, message, logger in sorted(messages | odd, key=str):
        assert classify_tagged(source, message, logger) == (*classify(source, message, logger),
                                                            tag_of(message, logger)), message


def test_categoricals_made_in_c_are_the_ones_made_in_python(monkeypatch) -> None:
    import numpy as np

    from jarvis_diag.logs import fast

    if fast._built is None:
        pytest.skip("the records module was not compiled here")
    rng = random.Random(2)
    values = [None if rng.random() < 0.4 else rng.choice(["b", "a", "ccc", "Ä", "a b", ""]) + str(rng.randrange(300))
              for _ in range(5000)]
    rows = np.array([rng.randrange(len(values)) for _ in range(20000)], dtype=np.intp)
    for vals in (values, [None] * 10, [], ["only"] * 3):
        made = fast._categorical(vals, rows[rows < len(vals)] if vals else rows[:0])
        with monkeypatch.context() as m:
            m.setattr(fast, "_built", None)
            plain = fast._categorical(vals, rows[rows < len(vals)] if vals else rows[:0])
        pd.testing.assert_extension_array_equal(made, plain)
        assert made.codes.dtype == plain.codes.dtype
    assert fast._built.codes(["b", None, "a", "b"]) == (["a", "b"], bytearray(np.array([1, -1, 0, 1], dtype=np.int32)))
    with pytest.raises(TypeError):
        fast._built.codes(["a", 1])  # (what sorted() says of them too)


def test_number_columns_made_in_c_are_the_ones_made_in_python(monkeypatch) -> None:
    import numpy as np

    from jarvis_diag.logs import fast

    if fast._built is None:
        pytest.skip("the records module was not compiled here")
    cases = [([1, None, -5, 2**40, None], True), ([1.5, None, 2.0, 3], False), ([None, None], True), ([], False),
             ([1, 2.5], True)]  # (a float among ints: the numpy path converts it, as before)
    for values, integer in cases:
        made = fast._numbers(values, integer)
        with monkeypatch.context() as m:
            m.setattr(fast, "_built", None)
            plain = fast._numbers(values, integer)
        np.testing.assert_array_equal(made[0], plain[0])
        np.testing.assert_array_equal(made[1], plain[1])
        assert made[0].dtype == plain[0].dtype and made[1].dtype == plain[1].dtype


def test_the_text_of_several_files_put_in_time_order_is_each_line_whole():
    # two files' lines interleaved by time: each piece of the text column goes straight to its
    # place (Arrow's take joined the pieces into a third copy first)
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from jarvis_diag.logs.fast import _take_text

    first = pa.array(["", "a", "€ é", "x" * 300, "b"], type=pa.large_string())
    second = pa.array(["skip", "c", "", "дд", "y" * 70_000, "d"], type=pa.large_string()).slice(1)
    text = pa.chunked_array([first, second])
    order = np.random.default_rng(3).permutation(len(text))
    taken = _take_text(text, order)
    assert taken.to_pylist() == pc.take(text, pa.array(order)).to_pylist()
    assert taken.to_pylist()[list(order).index(8)] == "y" * 70_000


def test_two_files_interleaved_read_as_the_reference_parser_reads_them(tmp_path):
    from jarvis_diag.ingest import ingest

    backend = tmp_path / "app.log"
    page = tmp_path / "frontend" / "20261124_Mozilla50iPhoneCPUiP-mwuj2r4i-8t1u.log"
    page.parent.mkdir()
    backend.write_text("".join(f"2026-11-24 10:00:{s:02d},{ms:03d} - jarvis - INFO - [SocketIO] tick {s} é\n"
                               for s in range(0, 60, 2) for ms in (100, 700)))
    page.write_text("".join(f"[2026-11-24T09:00:{s:02d}.400Z] [DEBUG] [ConnMgr] Page hidden {s}\n"
                            for s in range(1, 60, 2)))
    fast_events = ingest([str(backend), str(page)], tz="+01:00").events
    reference = ingest([str(backend), str(page)], tz="+01:00", engine="reference").events
    assert list(fast_events["text"]) == list(reference["text"])
    assert fast_events["t"].is_monotonic_increasing and fast_events["text"].iloc[2].endswith("Page hidden 1")

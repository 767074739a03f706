"""The shape matcher in C (jarvis_diag/logs/_match.c) gives the Python matcher's answers."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from jarvis_diag import lines
from jarvis_diag.logs import examples, fast, frontend, shapes, text

FIXTURES = Path(__file__).parent / "fixtures"
ODD = "0123456789.-_:[] ,=()'abcXYZ\t\x1c\x0b\u00e9\u3000"


def _fixture_lines() -> list[str]:
    rng = random.Random(11)
    found = [line for path in sorted(FIXTURES.rglob("*.log")) for line in path.read_text().splitlines()]
    return found + [examples.example_line(shape, rng, 1795514619.0) for shape in lines.SHAPES for _ in range(10)]


def _mutants(texts: list[str], rng: random.Random, per: int) -> list[str]:
    """Each text with a few characters inserted, replaced or deleted (``per`` variants)."""
    out = []
    for t in texts:
        for _ in range(per):
            m = list(t)
            for _ in range(rng.randint(1, 3)):
                i = rng.randrange(len(m) + 1)
                op = rng.random()
                if op < 0.4 and m:
                    m[min(i, len(m) - 1)] = rng.choice(ODD)
                elif op < 0.7:
                    m.insert(i, rng.choice(ODD))
                elif m:
                    del m[min(i, len(m) - 1)]
            out.append("".join(m))
    return out


needs_c = pytest.mark.skipif(shapes._match is None, reason="the C matcher was not compiled here")


def test_the_matcher_is_built() -> None:
    # pip compiles it where a C compiler is (as here and in CI); every shape's placeholder
    # patterns must be ones it reads, or the parser silently falls back to Python
    assert shapes._match is not None, "jarvis_diag/logs/_match.c was not compiled, or is out of date: reinstall"
    assert shapes._c_table() is not None, "a shape has a placeholder pattern _match.c does not read"


@needs_c
def test_every_message_gets_the_python_matchers_answer() -> None:
    # fixture and generated messages of every shape, then each with characters inserted,
    # replaced or deleted (digits, dots, signs, brackets, odd spaces, non-ASCII): the same
    # kind, shape, typed fields and tag; only non-ASCII messages are left to Python
    records = set()
    for line in _fixture_lines():
        parts = text.split_line(line)
        if parts is not None:
            source, _t, logger, level, message = parts
            records.add((source, logger, level, message))
    rng = random.Random(4)
    base = sorted(records, key=str)
    for r, m in zip([r for r in base for _ in range(8)], _mutants([r[3] for r in base], rng, 8), strict=True):
        records.add((r[0], r[1], r[2], m))
    for r in base[:300]:
        records.add(("panel", None, "INFO", r[3]))
    records |= {("backend", "jarvis", "INFO", "[" + "A" * 600 + "] long tag"),
                ("backend", None, "INFO", "[Tag] no logger"), ("console", "uvicorn", "INFO", "")}
    ordered = sorted(records, key=str)
    assert len(ordered) > 10_000

    asked: list[str] = []

    def fallback(source: str, message: str, logger: str | None) -> tuple:
        asked.append(message)
        return shapes.classify_tagged(source, message, logger)

    table = shapes._match.compile(shapes.c_spec(fallback))
    made = shapes._match.classify(table, [*ordered, {"kind": "unknown"}], 0)
    assert made[-1] is None
    for r, got in zip(ordered, made, strict=False):
        assert got == shapes.classify_tagged(r[0], r[3], r[1]), r
    assert asked and all(not m.isascii() for m in asked)
    assert shapes.classify_records(ordered[:50], 10) == made[10:50]


def test_the_record_after_each_stamp_is_pythons(monkeypatch: pytest.MonkeyPatch) -> None:
    keys = []
    for line in _fixture_lines():
        if line[:1].isdigit():
            keys.append(line[24:])
        elif line.startswith("[") and len(line) > 26:
            keys.append(line[25:])
    keys += _mutants(keys, random.Random(9), 6)
    keys += ["- x - INFO - ", "- - INFO - a", "-  - INFO - a", "- a - INFO -", "Z] [] x", "Z] [WARN]x", "Z] [LOG] ",
             "- a - DEBUG - b - ERROR - c", "- é - INFO - m", ""]
    made: list = []
    codes = shapes.split_keys(keys, made, fast._record_of_key)
    plain: list = []
    expected = [-1 if (r := fast._record_of_key(k)) is None else (plain.append(r) or len(plain) - 1) for k in keys]
    assert codes.tolist() == expected
    assert made == plain
    with monkeypatch.context() as m:  # (and the same without the C matcher)
        m.setattr(shapes, "_c_table", lambda: None)
        again: list = []
        assert shapes.split_keys(keys, again, fast._record_of_key).tolist() == expected and again == plain


def test_untimed_lines_are_split_as_python_splits_them(monkeypatch: pytest.MonkeyPatch) -> None:
    base = ['INFO:     127.0.0.1:5000 - "GET / HTTP/1.1" 200 OK', "WARNING:  x", "TRACE:    y", "CRITICAL: z",
            "ERROR:x", "INFO:", "INFO:\x1c\x1dmsg", "info:     a", "DEBUG:\t\tt", "2026-01-01 x", "[x] y", "", "  ",
            "Traceback (most recent call last):", "INFO:     é", "INFOX:  a", "\u3000\x85", "\x1c \t",
            "2026-11-24 11:03:38,056 - jarvis - INFO - [SocketIO] Client A connected", "[10:00:00.123] [INFO] x",
            "[2026-11-24T10:00:00.1Z] [DEBUG] odd stamp"]
    texts = base + _mutants(base, random.Random(3), 100)
    made: list = [("before",)]
    kinds, times = shapes.split_untimed(texts, made, text.split_line)
    with monkeypatch.context() as m:
        m.setattr(shapes, "_c_table", lambda: None)
        plain: list = [("before",)]
        plain_kinds, plain_times = shapes.split_untimed(texts, plain, text.split_line)
    assert made == plain and kinds.tolist() == plain_kinds.tolist()
    np.testing.assert_array_equal(times, plain_times)
    assert {-2, -1} <= set(kinds.tolist()) and kinds.max() == len(made) - 1 and (~np.isnan(times)).any()


@needs_c
def test_bad_tables_and_calls_are_refused() -> None:
    spec = shapes.c_spec(shapes.classify_tagged)
    sources, tables, tags, fallback, derive = spec
    broken = list(tables[0][0])
    broken[-1] = (("sid", 9, "", False, False, False, 0, ""),)  # pattern 9 does not exist
    with pytest.raises(ValueError):
        shapes._match.compile((sources, [(tuple(broken),)], tags, fallback, derive))
    table = shapes._match.compile(spec)
    with pytest.raises(IndexError):
        shapes._match.classify(table, [], 1)
    with pytest.raises(ValueError):
        shapes._match.classify("not a table", [], 0)
    with pytest.raises(KeyError):
        shapes._match.classify(table, [("nowhere", None, None, "x")], 0)
    with pytest.raises(TypeError):
        shapes._match.split([1], [], frontend.LEVELS, fast._record_of_key)


def test_record_columns_made_in_c_are_the_ones_made_in_python(monkeypatch: pytest.MonkeyPatch) -> None:
    if fast._built is None:
        pytest.skip("the records module was not compiled here")
    records: list = [("backend", "jarvis", "INFO", "[SocketIO] Client abc connected"),
                     ("frontend", None, "DEBUG", "[ConnMgr] Scheduling reconnect in 500ms (attempt 2)"),
                     {"kind": "unknown", "source": "backend", "logger": None, "level": None, "tag": None, "shape": None},
                     ("console", "uvicorn", "INFO", "connection open"), ("frontend", None, None, "no shape")]
    known = [shapes.classify_records([r])[0] for r in records]
    made = fast._record_columns(records)
    grown: dict = {}  # (as the reader makes them: the first records while the rest is read)
    fast._extend_columns(grown, records[:2], known[:2], 0)
    grown = fast._record_columns(records, None, known[:2], grown)
    with monkeypatch.context() as m:
        m.setattr(fast, "_built", None)
        plain = fast._record_columns(records)
        plain_grown: dict = {}
        fast._extend_columns(plain_grown, records[:2], known[:2], 0)
        plain_grown = fast._record_columns(records, None, known[:2], plain_grown)
    assert made == plain == grown == plain_grown
    assert list(made) == list(plain) == list(grown) == list(plain_grown)
    assert made["attempt"] == [None, 2, None, None, None] and "logger" in made
    assert fast._record_columns([]) == {}
    assert "logger" not in fast._record_columns(records[1:2])  # (a fixed column with no value is left out)
    with pytest.raises(ValueError):
        fast._built.extend({}, records, [], fast._FIXED, 0)
    with pytest.raises(ValueError):
        fast._built.extend({"kind": [None]}, records, known, fast._FIXED, 2)  # (columns shorter than start)
    with pytest.raises(KeyError):
        fast._built.extend({}, [{"kind": "x"}], [None], fast._FIXED, 0)
    assert np.array_equal(fast._coded(["b", None, "zz", "a"], {"a": 0, "b": 1}, np.int8), [1, -1, -1, 0])

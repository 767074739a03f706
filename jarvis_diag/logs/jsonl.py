"""Our own events JSONL (written by :func:`jarvis_diag.frames.events_to_jsonl`)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from jarvis_diag import frames
from jarvis_diag.logs.text import RawColumns, clean

_PASSTHROUGH = ("path", "line")


def parse_lines(lines: Iterable[str], path: str = "-") -> tuple[RawColumns, list[dict[str, Any]]]:
    """(counters, row dicts) of an events JSONL file. Lines that are not event objects are
    counted as bad; the rows keep the ``path``/``line`` of the log they came from."""
    raw = RawColumns({}, [])
    rows: list[dict[str, Any]] = []
    lineno = 0
    for lineno, line in enumerate(lines, 1):  # noqa: B007
        text, bad, long = clean(line.rstrip("\r"))
        raw.long_lines += long
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except ValueError:
            obj = None
        if not isinstance(obj, dict) or obj.get("schema") != frames.EVENT_SCHEMA or bad:
            raw.bad_lines += 1
            continue
        record = frames.record_from_json(obj)
        if record.get("kind") not in frames.KIND_NAMES:
            record["kind"] = "unknown"
        record.setdefault("path", path)
        record.setdefault("line", lineno)
        record.setdefault("source", "backend")
        record.setdefault("text", "")
        rows.append(record)
    raw.lines = lineno
    return raw, rows

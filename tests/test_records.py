"""The correlation's records built in C (jarvis_diag/_records.c) read as the dicts the
Python fallback builds, and give the same timeline."""

from __future__ import annotations

from pathlib import Path

import pytest

from jarvis_diag import built, timeline

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(built.compiled is None, reason="the records module was not compiled here")

KEYS = ("label", "t", "kind")
COLUMNS = [[0, 1, 2], [1.5, 2.5, 3.5], ["socket.connected", "auth.ok", "socket.disconnected"]]
SPARSE = [("sid", [0, 2], ["AbCdEfGh", "AbCdEfGh"]), ("reason", [2], ["transport close"])]


def _as_dicts() -> list[dict]:
    out = [dict(zip(KEYS, row, strict=True)) for row in zip(*COLUMNS, strict=True)]
    for key, positions, values in SPARSE:
        for i, v in zip(positions, values, strict=True):
            out[i][key] = v
    return out


def test_a_record_reads_like_its_dict():
    records = built.compiled.records(KEYS, [list(c) for c in COLUMNS], [(k, list(p), list(v)) for k, p, v in SPARSE])
    for rec, want in zip(records, _as_dicts(), strict=True):
        assert dict(rec.items()) == want and rec.copy() == want
        assert list(rec) == list(want) and list(rec.keys()) == list(want) and list(rec.values()) == list(want.values())
        assert len(rec) == len(want)
        for key, value in want.items():
            assert rec[key] == value and rec.get(key) == value and key in rec
            assert rec["".join(key)] == value  # an equal key that is another str object
        for missing in ("reason", "client") if "reason" not in want else ("client",):
            assert missing not in rec and rec.get(missing) is None and rec.get(missing, 7) == 7
            with pytest.raises(KeyError):
                rec[missing]
        assert 3 not in rec and rec.get(3) is None
    assert records == _as_dicts() and records[0] != records[1] and records[0] != "x"
    with pytest.raises(TypeError):
        hash(records[0])  # (as a dict)
    first = records[0]
    first["client"] = "phone-1"  # (correlation names a backend line's client)
    first["kind"] = "socket.closed"  # a key set later is read first
    assert first["client"] == "phone-1" and first["kind"] == "socket.closed" and "client" in first
    assert "client" not in records[1] and records[1]["kind"] == "auth.ok"
    assert "phone-1" in repr(first)
    del first["client"]
    assert "client" not in first
    with pytest.raises(TypeError):
        del first["label"]


def test_records_outlive_the_lists_they_were_made_from():
    columns = [list(c) for c in COLUMNS]
    records = built.compiled.records(KEYS, columns, [(k, list(p), list(v)) for k, p, v in SPARSE])
    columns[2][0] = "changed"
    del columns
    assert records[0]["kind"] == "socket.connected" and records[2]["reason"] == "transport close"


def test_bad_input_is_refused():
    with pytest.raises(ValueError):
        built.compiled.records(KEYS, [[0], [1.0]], [])
    with pytest.raises(IndexError):
        built.compiled.records(("label",), [[0]], [("sid", [5], ["x"])])


@pytest.mark.parametrize("logs", ["tests/fixtures/callback-desync", "sample_logs/single-live-session"])
def test_the_timeline_is_the_same_with_records_built_in_python(logs, monkeypatch):
    paths = [str(ROOT / logs)]
    with_c = timeline.load_timeline(paths).to_json_dict()
    monkeypatch.setattr(timeline, "_built", None)
    assert timeline.load_timeline(paths).to_json_dict() == with_c

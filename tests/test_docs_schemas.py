"""The JSON documents of docs/formats.md have exactly the keys the commands write: the
timeline's and a simulation record's (the report's are checked in test_report.py)."""

import json
from pathlib import Path

import pytest

from jarvis_diag import load_timeline

ROOT = Path(__file__).resolve().parent.parent
FORMATS = ROOT / "docs" / "formats.md"


def documented(heading: str) -> dict:
    """The first JSON example of the docs/formats.md section that starts with ``heading``."""
    text = FORMATS.read_text(encoding="utf-8")
    section = text[text.index(f"\n## {heading}"):]
    section = section[:section.index("\n## ", 1)]
    return json.loads(section.split("```json", 1)[1].split("```", 1)[0])


# documented as there only at times ("only when ...")
OPTIONAL = {"timeline.clock": {"warning"}}


def differences(doc: object, actual: object, where: str, by_name: tuple[str, ...] = ()) -> list[str]:
    """Where the documented object and the real one have different keys (``by_name``: the
    objects keyed by a name, a client id or a session, whose one documented entry shows
    every entry's keys)."""
    if isinstance(doc, dict) and isinstance(actual, dict):
        if where.rsplit(".", 1)[-1] in by_name:
            shape = next(iter(doc.values()))
            return [p for name, value in actual.items() for p in differences(shape, value, f"{where}.{name}", by_name)]
        found = []
        if set(doc) - OPTIONAL.get(where, set()) != set(actual) - OPTIONAL.get(where, set()):
            found.append(f"{where}: undocumented {sorted(set(actual) - set(doc))}, "
                         f"documented but absent {sorted(set(doc) - set(actual))}")
        for key in set(doc) & set(actual):
            found += differences(doc[key], actual[key], f"{where}.{key}", by_name)
        return found
    if isinstance(doc, list) and isinstance(actual, list) and doc and actual:
        return [p for item in actual for p in differences(doc[0], item, f"{where}[]", by_name)]
    return []


@pytest.mark.parametrize("logs", ["tests/fixtures/callback-desync", "sample_logs/legacy-frozen-past-ping"])
def test_the_timeline_json_has_exactly_the_documented_keys(logs):
    # (a script reading the JSON is written from the docs: a key renamed or added on one side
    # only broke it without a word)
    doc = documented("Timeline (`timeline --format json`)")
    actual = load_timeline(ROOT / logs).to_json_dict()
    assert not differences(doc, actual, "timeline", by_name=("clients", "ready_at", "phases")), \
        differences(doc, actual, "timeline", by_name=("clients", "ready_at", "phases"))
    assert actual["sessions"] and actual["findings"] and actual["connections"]
    assert actual["episodes"] or "fixtures" in logs  # (the sample's phones went to the background)


def test_a_simulation_record_has_exactly_the_documented_keys():
    doc = documented("Simulation results (`simulate-mobile --out DIR`")
    records = [json.loads(line) for line in
               (ROOT / "sample_logs" / "single-live-session" / "results.jsonl").read_text().splitlines()]
    assert records
    for record in records:
        assert not differences(doc, record, "record", by_name=("times_ms",)), differences(doc, record, "record")

"""The README's worked example is what `jarvis-diag timeline` prints for the real fixture.

The README quotes the command's output as real: its sources, clock corrections, attaches and
ranked findings. These are deterministic for tests/fixtures/callback-desync, so each quoted
row (cells compared, the table's width aside) must still be a row of the command's output.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(sys.executable).with_name("jarvis-diag")
BASE = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "jarvis_diag"]
COMMAND = "$ jarvis-diag timeline tests/fixtures/callback-desync/app.log tests/fixtures/callback-desync/frontend/"


def _quoted_output() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(COMMAND + "\n")
    block = text[start + len(COMMAND) + 1 : text.index("\n```", start)]
    return block.splitlines()


def _cells(line: str) -> list[str]:
    return [c.strip() for c in re.split(r"[│┃]", line)]


def _rows(lines: list[str], first_cell: str) -> list[list[str]]:
    return [_cells(line) for line in lines if re.match(first_cell, line)]


def _real_output() -> list[str]:
    env = {**os.environ, "COLUMNS": "400", "NO_COLOR": "1"}
    args = COMMAND.split()[2:]
    out = subprocess.run([*BASE, *args], capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


def test_readme_worked_example_rows_are_real():
    quoted, real = _quoted_output(), _real_output()
    findings = r"F\d+ "
    quoted_findings = [c[:5] for c in _rows(quoted, findings)]
    assert [c[0] for c in quoted_findings] == ["F1", "F2", "F3"]
    assert quoted_findings == [c[:5] for c in _rows(real, findings)][: len(quoted_findings)]
    for first_cell in (r"backend \(local time\)", r"Mozilla50iPhoneCPUiP-mwuj2r4i-8t1u ", r"[0-9a-f]{8} │"):
        assert _rows(quoted, first_cell), first_cell
        assert _rows(quoted, first_cell) == _rows(real, first_cell), first_cell
    title = "Sources read, in tests/fixtures/callback-desync/"
    assert title in [line.rstrip() for line in quoted] and title in [line.rstrip() for line in real]
    real_sources = {c[0]: c[1:] for c in _rows(real, r"(app\.log|frontend/)")}
    quoted_sources = _rows(quoted, r"(app\.log|frontend/)")
    assert len(quoted_sources) == 2
    for cells in quoted_sources:
        assert real_sources[cells[0]] == cells[1:]


def test_readme_worked_example_client_lines_are_real():
    """The client timeline's rows the README shows (by +ms, time, side, kind) are printed in that order."""
    quoted, real = _quoted_output(), _real_output()
    row = r"\s*\d[\d,]* │ \d\d:"
    quoted_rows = [c[:5] for c in _rows(quoted, row)]
    assert len(quoted_rows) >= 10
    real_rows = [c[:5] for c in _rows(real, row)]
    start = real_rows.index(quoted_rows[0])
    assert real_rows[start : start + len(quoted_rows)] == quoted_rows

"""``results.jsonl`` (schema ``jarvis-diag.sim/1``) and the summary of a run.

The writer appends and flushes each record as soon as it is made, so an interrupted or
failed run keeps everything it measured. Any simulator (these virtual clients, a real
browser) writes through it.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

from rich.table import Table

from jarvis_diag.errors import DiagError
from jarvis_diag.simulate.verdict import SCHEMA, cycle_ok, summarize

SUMMARY_SCHEMA = "jarvis-diag.sim-summary/1"


def new_run_id(seed: int, now: float | None = None, tag: str | None = None) -> str:
    """A new run's id: the UTC instant it starts, to the millisecond, its seed, and a random
    tag, e.g. ``20261206T150342.063-7-3fa2c1`` (``now`` and ``tag`` given for a known id).
    Unique for runs started side by side: to the second, two runs started in the same second
    with one seed had one id (report then read ``cat a b`` as one run), and the messages a
    run sends carry its id to match replies to them."""
    now = time.time() if now is None else now
    tag = secrets.token_hex(3) if tag is None else tag
    return f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime(now))}.{int(now * 1000) % 1000:03d}-{seed}-{tag}"


def make_output_dir(path: Path, what: str) -> None:
    """Create the directory ``path`` (and its parents) to write into, before any work starts;
    a DiagError says in one line why it cannot be (``what`` names it: an option, say)."""
    if path.exists() and not path.is_dir():
        raise DiagError(f"{what} {path}: exists and is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DiagError(f"{what} {path}: cannot create the directory: {exc.strerror or exc}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise DiagError(f"{what} {path}: the directory is not writable")


class ResultWriter:
    def __init__(self, out_dir: Path):
        self.out_dir = out_dir
        self.path = out_dir / "results.jsonl"
        self.frontend_dir = out_dir / "frontend"
        out_dir.mkdir(parents=True, exist_ok=True)
        self.records: list[dict[str, Any]] = []
        self._fh = self.path.open("a", encoding="utf-8")

    def write(self, record: dict[str, Any]) -> None:
        if record.get("schema") != SCHEMA:
            raise ValueError(f"a results record must have schema {SCHEMA}")
        self.records.append(record)
        self._fh.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
        self._fh.flush()

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()

    def __enter__(self) -> ResultWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_results(path: Path) -> list[dict[str, Any]]:
    """Records of a results.jsonl (a damaged last line, from a killed run, is skipped)."""
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and record.get("schema") == SCHEMA:
            records.append(record)
    return records


def summary_json(records: list[dict[str, Any]], *, run: str, out_dir: Path, interrupted: bool = False,
                 error: str | None = None, planned: int | None = None) -> dict[str, Any]:
    s = summarize(records)
    return {"schema": SUMMARY_SCHEMA, "run": run, "out": str(out_dir), "planned": planned,
            "cycles": s["cycles"], "ok": s["ok"], "all_ok": bool(records) and s["ok"] == s["cycles"]
            and not interrupted and error is None and (planned is None or planned == s["cycles"]),
            "interrupted": interrupted, "error": error, "groups": s["rows"], "notes": run_notes(records)}


def run_notes(records: list[dict[str, Any]]) -> list[str]:
    """What the figures do not say: the `resume` profile's cycles against a server that sent
    no seq (no seq extension) resumed nothing after a seq, and were checked by their messages'
    contents, as connmgr's are: such a run does not test resume."""
    resume = [r for r in records if r.get("profile") == "resume" and r.get("sessions")]
    if resume and all(s.get("check") == "content" for r in resume for s in r["sessions"]):
        return [f"profile resume: the server sent no seq (it has no seq extension), so its {len(resume)} "
                f"cycle{'' if len(resume) == 1 else 's'} resumed nothing after a seq and were checked by their "
                "messages' contents, as connmgr's are: this run does not test resume"]
    return []


def summary_table(records: list[dict[str, Any]]) -> Table:
    # borderless like the other commands' tables, and the unit in the header: it fits 80 columns
    table = Table(title="simulate-mobile: recovery per profile, fault and network",
                  title_justify="left", show_edge=False, pad_edge=False)
    for col in ("profile", "fault", "network"):
        table.add_column(col, overflow="fold")
    for col in ("cycles", "recovered", "lost", "dup", "p50 ms", "p95 ms"):
        table.add_column(col, justify="right", no_wrap=True)
    for row in summarize(records)["rows"]:
        ok = row["ok"] == row["cycles"]
        style = "green" if ok else "red"
        table.add_row(row["profile"], row["fault"], row["network"], str(row["cycles"]),
                      f"[{style}]{row['recovered']}[/{style}]", str(row["lost"]), str(row["duplicated"]),
                      _fmt_ms(row["recovery_p50_ms"]), _fmt_ms(row["recovery_p95_ms"]))
    return table


def failure_lines(records: list[dict[str, Any]], limit: int = 10) -> tuple[list[str], int]:
    """The first ``limit`` failures, one line each, for the end of the run, and how many more there are."""
    failed = [r for r in records if not cycle_ok(r)]
    lines = []
    for r in failed[:limit]:
        why = r.get("failure") or f"lost {r['lost']}, duplicated {r['duplicated']}"
        lines.append(f"client {r['client']} ({r['profile']}, {r['fault']}) cycle {r['cycle']}: {why}")
    return lines, len(failed) - len(lines)


def _fmt_ms(v: float | None) -> str:
    return "-" if v is None else f"{v:.0f}"

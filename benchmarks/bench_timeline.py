"""The whole `jarvis-diag timeline --format json` on the 2,000,000-line mixed log, next to
ingestion alone and `grep -c` on the same file, measured in the same run (and, for
information, the default terminal view).

Each measurement runs in its own process (wall time and that process's peak RSS, from
wait4). Target: the full timeline within 2x of ingestion.

    python benchmarks/bench_timeline.py [--lines N] [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import gen_mixed_log  # noqa: E402

INGEST_ONLY = "import sys; from jarvis_diag.ingest import ingest; ingest([sys.argv[1]])"
# the command as a user runs it: the installed script (``python -m jarvis_diag`` without one)
_SCRIPT = Path(sys.executable).with_name("jarvis-diag")
JARVIS_DIAG = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "jarvis_diag"]


def measure(argv: list[str], quiet: bool = False) -> tuple[float, float, int]:
    """(wall seconds, peak RSS in MB, exit status) of one child process (``quiet``: its
    warnings on stderr not shown)."""
    start = time.perf_counter()
    # a pipe, not /dev/null: GNU grep stops at the first match when its output is /dev/null
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL if quiet else None)
    proc.stdout.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss / 1024, proc.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each command (the best is shown)")
    args = parser.parse_args(argv)
    path = gen_mixed_log.ensure(args.lines)  # the same file as bench_ingest.py
    with path.open("rb") as fh:
        n_lines = sum(1 for _ in fh)
    print(f"file: {path.relative_to(ROOT)}  {n_lines:,} lines, {path.stat().st_size / 1e6:.0f} MB")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "timeline.json"
        commands = {
            "grep -c (reference)": ["grep", "-c", "", str(path)],
            "ingest -> events DataFrame": [sys.executable, "-c", INGEST_ONLY, str(path)],
            "timeline --format json (whole)": [*JARVIS_DIAG, "timeline", str(path), "--format", "json",
                                               "--output", str(out)],
            "timeline (terminal view, piped)": [*JARVIS_DIAG, "timeline", str(path)],
        }
        if not shutil.which("grep"):
            del commands["grep -c (reference)"]
        best: dict[str, tuple[float, float]] = {}
        for _ in range(args.repeat):  # rounds, each command once per round: noise falls on all alike
            for name, command in commands.items():
                wall, rss, code = measure(command)
                if code != 0 and not name.startswith("grep"):
                    print(f"{name} failed", file=sys.stderr)
                    return 1
                if name not in best or wall < best[name][0]:
                    best[name] = (wall, rss)
        size = out.stat().st_size
    rows = [(name, wall, rss) for name, (wall, rss) in best.items()]
    wall_ingest = best["ingest -> events DataFrame"][0]
    wall_tl = best["timeline --format json (whole)"][0]
    print(f"best of {args.repeat} runs each")
    print(f"{'what':34} {'wall s':>8} {'lines/s':>12} {'peak MB':>9}")
    for name, wall, rss in rows:
        print(f"{name:34} {wall:8.2f} {n_lines / wall:12,.0f} {rss:9.0f}")
    ratio = wall_tl / wall_ingest
    print(f"timeline JSON: {size / 1e6:.1f} MB; timeline / ingestion = {ratio:.2f}x (target <= 2.00x: "
          f"{'met' if ratio <= 2.0 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`jarvis-diag timeline --follow` on a big log that keeps growing: a copy of the mixed log
gets one line every 0.5 s (and, three times, an ERROR line the follow must tell as a
finding) while the follow runs; printed: the follow's share of a CPU (its rebuilds are
meant to take at most FOLLOW_REBUILD_SHARE of one), how late each appended line was
printed, how late each finding came, and the follow's memory.

    python benchmarks/bench_follow.py [--lines N] [--seconds S]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

import gen_mixed_log  # noqa: E402

from jarvis_diag.commands.timeline import FOLLOW_REBUILD_SHARE  # noqa: E402

ERRORS = ("Disk quota exceeded on alpha", "Backup volume unmounted", "Cache store unreachable")


def _last_day(path: Path) -> str:
    """The date of the log's last backend line: the lines appended come after it."""
    with path.open("rb") as fh:
        fh.seek(max(0, path.stat().st_size - 2_000_000))
        lines = fh.read().decode(errors="replace").splitlines()
    return [line for line in lines if line[:2] == "20" and line[10:11] == " "][-1][:10]


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> int:
    line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("VmRSS"))
    return int(line.split()[1]) // 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000, help="lines of the mixed log followed")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long lines are appended")
    args = parser.parse_args(argv)
    src = gen_mixed_log.ensure(args.lines)
    day = _last_day(src)
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "app.log"
        shutil.copy(src, log)
        print(f"file: copy of {src.relative_to(ROOT)} ({src.stat().st_size / 1e6:.0f} MB), a line appended each "
              f"0.5 s for {args.seconds:.0f} s", flush=True)
        started = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "jarvis_diag", "timeline", "--follow", str(log)], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env={**os.environ, "COLUMNS": "300"})
        seen: list[tuple[float, str]] = []
        threading.Thread(target=lambda: seen.extend((time.monotonic(), raw.decode(errors="replace"))
                                                    for raw in proc.stdout), daemon=True).start()
        try:
            return _run(proc, log, day, seen, started, args.seconds)
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _first(seen: list[tuple[float, str]], needle: str, limit_s: float, also: str = "") -> float | None:
    """When the first line holding ``needle`` (and ``also``) was printed; None: not within ``limit_s``."""
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        hit = next((t for t, line in list(seen) if needle in line and also in line), None)
        if hit is not None:
            return hit
        time.sleep(0.05)
    return None


def _run(proc: subprocess.Popen, log: Path, day: str, seen: list, started: float, seconds: float) -> int:
    if _first(seen, "following", 600) is None:
        print("the follow did not start within 600 s")
        return 1
    print(f"start (the first read of the logs): {time.monotonic() - started:.1f} s")
    rss0, cpu0, t0 = _rss_mb(proc.pid), _cpu_s(proc.pid), time.monotonic()
    written: dict[str, float] = {}
    errors_at: list[float] = []
    i = 0
    while time.monotonic() - t0 < seconds:
        i += 1
        stamp = f"{day} 23:{(i // 60) % 60:02d}:{i % 60:02d},000"
        marker = f"Client Z{i:07d} connected"
        text = f"{stamp} - jarvis - INFO - [SocketIO] {marker}\n"
        k = len(errors_at)
        if k < len(ERRORS) and time.monotonic() - t0 > seconds * (k + 1) / (len(ERRORS) + 1):
            text += f"{stamp} - jarvis - ERROR - {ERRORS[k]}\n"
            errors_at.append(time.monotonic())
        with log.open("a") as fh:
            fh.write(text)
        written[marker] = time.monotonic()
        time.sleep(0.5)
    cpu1, t1, rss1 = _cpu_s(proc.pid), time.monotonic(), _rss_mb(proc.pid)
    time.sleep(1.0)
    lags = sorted(hit - at for marker, at in written.items()
                  if (hit := next((t for t, line in list(seen) if marker in line), None)) is not None)
    share = (cpu1 - cpu0) / (t1 - t0)
    print(f"follow CPU: {cpu1 - cpu0:.1f} s in {t1 - t0:.0f} s = {share:.0%} of a CPU (rebuilds bounded to "
          f"{FOLLOW_REBUILD_SHARE:.0%}, plus reading and printing the lines)")
    if lags:
        print(f"line printed after: median {lags[len(lags) // 2]:.2f} s, max {lags[-1]:.2f} s "
              f"({len(lags)} of {len(written)} printed by the end)")
    print(f"memory: {rss0} MB at the start of the appends, {rss1} MB at their end")
    for text, at in zip(ERRORS, errors_at, strict=False):
        hit = _first(seen, text, 120, also="app-error")  # (the finding, not the line itself)
        print(f"finding {text!r} printed {hit - at:.1f} s after its line" if hit is not None else
              f"finding {text!r} not printed within 120 s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

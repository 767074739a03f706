"""Ingestion speed: the 2,000,000-line mixed log into the typed events DataFrame.

Printed next to ``grep -c ''`` and lnav (``lnav -n -c ';SELECT count(*) FROM all_logs'``
with a format file for both line shapes, benchmarks/lnav/jarvis_diag.json) on the same
file, in the same run; then 100 MB of random bytes (a wrong file given: a core dump, an
archive), which should cost no more a MB than the log. Every figure is one child process:
wall time, lines/s and its peak resident memory (``ru_maxrss``). The ingestion figure times
the ``ingest()`` call inside its process (imports excluded; the whole process time is
printed too). The same log as ``docker logs -t`` prints it (each line behind the time the
collector received it, made once next to the log) is read behind its prefixes, its figures
beside the plain log's; and the server's first 200,000 lines as ``journalctl -o json``
exports them (an entry of about 1 KB each) beside the same lines as a plain log.

    python benchmarks/bench_ingest.py [--lines N] [--repeat R]
"""

from __future__ import annotations

import argparse
import calendar
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import gen_mixed_log  # noqa: E402

TARGET_LINES_PER_S = 1_500_000
TARGET_PEAK_MB = 1024
LNAV_FORMAT = HERE / "lnav" / "jarvis_diag.json"

_CHILD = """
import json, sys, time
t0 = time.perf_counter()
from jarvis_diag.ingest import ingest
t1 = time.perf_counter()
result = ingest(sys.argv[2:], engine=sys.argv[1])
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "ingest_s": t2 - t1, "rows": len(result.events),
                  "lines": sum(s.lines for s in result.sources), "unknown": sum(s.unknown for s in result.sources),
                  "zone": result.zone.offset_minutes}))
"""


def measured(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Run ``cmd`` under a small helper that reports the child's own rusage."""
    helper = (
        "import os, subprocess, sys, time, json\n"
        "t = time.perf_counter()\n"
        "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)\n"
        "_, status, ru = os.wait4(p.pid, 0)\n"
        "wall = time.perf_counter() - t\n"
        "out = p.stdout.read().decode(); err = p.stderr.read().decode()\n"
        "print(json.dumps({'wall': wall, 'maxrss_kb': ru.ru_maxrss, 'status': status, 'out': out, 'err': err}))\n"
    )
    res = subprocess.run([sys.executable, "-c", helper, *cmd], capture_output=True, text=True, env=env, check=True)
    got = json.loads(res.stdout)
    if got["status"] != 0:
        raise SystemExit(f"{cmd[0]} failed: {got['err'].strip()[:500]}")
    return got["wall"], got["maxrss_kb"] / 1024, got["out"]


def best(cmd: list[str], repeat: int, env: dict[str, str] | None = None) -> tuple[float, float, str]:
    runs = [measured(cmd, env) for _ in range(repeat)]
    return min(runs, key=lambda r: r[0])


def best_ingest(data: Path | list[Path], engine: str, repeat: int) -> tuple[dict, float, float]:
    """(what the child printed, its whole wall time, its peak MB) of the run whose ingest() was fastest."""
    return best_ingests([data], engine, repeat)[0]


def best_ingests(inputs: list[Path | list[Path]], engine: str, repeat: int) -> list[tuple[dict, float, float]]:
    """:func:`best_ingest` of each input, their runs taken in turn (on a busy machine, each
    meets the same load)."""
    runs: list[list[tuple[dict, float, float]]] = [[] for _ in inputs]
    for _ in range(repeat):
        for k, data in enumerate(inputs):
            paths = [str(p) for p in (data if isinstance(data, list) else [data])]
            wall, peak, out = measured([sys.executable, "-c", _CHILD, engine, *paths])
            runs[k].append((json.loads(out), wall, peak))
    return [min(r, key=lambda r: r[0]["ingest_s"]) for r in runs]


_PAGE_LINE = re.compile(rb"^\[\d{4}-\d\d-\d\dT")
_SERVER_LINE = re.compile(rb"^\d{4}-\d\d-\d\d \d\d:")


def split_in_two(data: Path) -> list[Path]:
    """The mixed log's lines as the server's log and one page's log (kept next to it): a
    line with no time of its own (a traceback's, a console line) goes with the one before."""
    out = data.with_name(data.stem.replace("mixed", "split", 1))
    app, page = out / "app.log", out / "frontend" / "20261124_Mozilla50iPhoneCPUiP-split-0001.log"
    if app.exists() and page.exists():
        return [app, page]
    page.parent.mkdir(parents=True, exist_ok=True)
    with data.open("rb") as src, app.open("wb") as to_app, page.open("wb") as to_page:
        into = to_app
        for line in src:
            if _PAGE_LINE.match(line):
                into = to_page
            elif _SERVER_LINE.match(line):
                into = to_app
            into.write(line)
    return [app, page]


_BACKEND_TIME = re.compile(rb"^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d),(\d{3}) ")
# the mixed log's backend writes its local time, UTC+1 (see gen_mixed_log)
_BACKEND_OFFSET_S = 3600


def docker_prefixed(data: Path) -> Path:
    """The mixed log as ``docker logs -t`` prints it (kept next to it): each line behind the
    time the collector received it, RFC 3339 in UTC with nanoseconds, a little after the
    backend's own time (a line with none: a little after the line before)."""
    out = data.with_name(data.stem.replace("mixed", "docker", 1) + ".log")
    if out.exists():
        return out
    print(f"making {out} ...", flush=True)
    stamp_ns = 0
    tmp = out.with_suffix(".tmp")
    with data.open("rb") as src, tmp.open("wb") as dst:
        for line in src:
            m = _BACKEND_TIME.match(line)
            if m is not None:
                y, mo, d, h, mi, s, ms = (int(g) for g in m.groups())
                at = calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0)) - _BACKEND_OFFSET_S
                stamp_ns = max(stamp_ns + 1000, at * 10**9 + ms * 10**6 + 183_417)
            else:
                stamp_ns += 2_517
            whole, frac = divmod(stamp_ns, 10**9)
            dst.write(time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)).encode() + b".%09dZ " % frac + line)
    tmp.replace(out)
    return out


def lnav_env(tmp: Path) -> dict[str, str] | None:
    if shutil.which("lnav") is None:
        return None
    env = dict(os.environ, HOME=str(tmp))
    subprocess.run(["lnav", "-i", str(LNAV_FORMAT)], env=env, capture_output=True, check=True)
    return env


def row(name: str, wall: float, lines: int, peak_mb: float | None, note: str = "") -> None:
    peak = f"{peak_mb:8.0f}" if peak_mb is not None else "       -"
    print(f"{name:<34} {wall:8.2f} {lines / wall:14,.0f} {peak} {note}")


def journal_export(app_log: Path, entries: int) -> tuple[Path, Path]:
    """The first ``entries`` lines of the server's log (``app_log``) as ``journalctl -o json``
    exports them, an entry of about 1 KB each (the fields journald gives a service's stdout
    line), and the same lines as a plain log; both kept next to the mixed log."""
    # (named after the log they come from: a run with other --lines makes its own)
    out = app_log.parent.with_name(f"{app_log.parent.name}_journal_{entries}.json")
    plain = out.with_name(f"{app_log.parent.name}_app_first_{entries}.log")
    if out.exists() and plain.exists():
        return out, plain
    print(f"making {out} ...", flush=True)
    boot, machine = "0b6f3c2e1d4a4e8f9a7b6c5d4e3f2a1b", "9f8e7d6c5b4a39281706f5e4d3c2b1a0"
    micros = 0
    tmp, tmp_plain = out.with_suffix(".tmp"), plain.with_suffix(".tmp")
    with app_log.open("rb") as src, tmp.open("w") as dst, tmp_plain.open("wb") as dst_plain:
        for seq, line in enumerate(src):
            if seq >= entries:
                break
            dst_plain.write(line)
            m = _BACKEND_TIME.match(line)
            if m is not None:
                y, mo, d, h, mi, s, ms = (int(g) for g in m.groups())
                at = calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0)) - _BACKEND_OFFSET_S
                micros = max(micros + 1, at * 10**6 + ms * 1000 + 217)
            else:
                micros += 3
            mono = micros - 1_795_000_000 * 10**6
            entry = {
                "__CURSOR": f"s={machine};i={seq:x};b={boot};m={mono:x};t={micros:x};x=5f1e2d3c4b5a6978",
                "__REALTIME_TIMESTAMP": str(micros), "__MONOTONIC_TIMESTAMP": str(mono), "__SEQNUM": str(seq),
                "_BOOT_ID": boot, "_MACHINE_ID": machine, "_HOSTNAME": "jarvis-prod-1", "_TRANSPORT": "stdout",
                "PRIORITY": "6", "SYSLOG_FACILITY": "3", "SYSLOG_IDENTIFIER": "jarvis", "_PID": "30389",
                "_UID": "1000", "_GID": "1000", "_COMM": "uvicorn", "_EXE": "/usr/bin/python3.11",
                "_CMDLINE": "/opt/jarvis/.venv/bin/python3 /opt/jarvis/.venv/bin/uvicorn app.main:app "
                            "--host 127.0.0.1 --port 38010",
                "_CAP_EFFECTIVE": "0", "_SYSTEMD_CGROUP": "/system.slice/jarvis.service",
                "_SYSTEMD_UNIT": "jarvis.service", "_SYSTEMD_SLICE": "system.slice",
                "_SYSTEMD_INVOCATION_ID": "7c6b5a4938271605f4e3d2c1b0a99887",
                "_STREAM_ID": "2f3e4d5c6b7a89901a2b3c4d5e6f7081",
                "MESSAGE": line.rstrip(b"\r\n").decode("utf-8", "replace"),
            }
            dst.write(json.dumps(entry) + "\n")
    tmp.replace(out)
    tmp_plain.replace(plain)
    return out, plain


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=2_000_000)
    ap.add_argument("--repeat", type=int, default=2, help="best of R runs per tool")
    ap.add_argument("--garbage-mb", type=int, default=100, help="also time this many MB of random bytes (0: skip)")
    ap.add_argument("--journal-entries", type=int, default=200_000,
                    help="also time a journalctl -o json export of this many of the server's lines (0: skip)")
    ap.add_argument("--reference-lines", type=int, default=50_000,
                    help="also time the one-line-at-a-time reference parser on this many lines (0: skip)")
    args = ap.parse_args(argv)

    data = gen_mixed_log.data_path(args.lines)
    if not data.exists():
        print(f"generating {data} ...", flush=True)
        gen_mixed_log.generate(args.lines, data)
    n_lines = sum(1 for _ in data.open("rb"))
    print(f"file: {data} ({data.stat().st_size / 1e6:.0f} MB, {n_lines:,} lines); machine: {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'tool':<34} {'wall s':>8} {'lines/s':>14} {'peak MB':>8}")

    wall, peak, out = best(["grep", "-c", "", str(data)], args.repeat)
    row("grep -c ''", wall, n_lines, peak, f"({out.strip()} lines)")

    lnav_wall = None
    with tempfile.TemporaryDirectory() as tmp:
        env = lnav_env(Path(tmp))
        if env is None:
            print("lnav: not installed, skipped (apt-get install lnav)")
        else:
            wall, peak, out = best(["lnav", "-n", "-c", ";SELECT count(*) FROM all_logs", str(data)], args.repeat, env)
            lnav_wall = wall
            count = out.split()[-1] if out.split() else "?"
            row("lnav (count(*) FROM all_logs)", wall, n_lines, peak, f"({count} log messages)")

    # (and the same log as docker logs -t prints it, its runs taken in turn with the plain log's)
    (info, wall, peak), (docker_info, _, docker_peak) = best_ingests([data, docker_prefixed(data)], "fast", args.repeat)
    row("jarvis-diag ingest() -> DataFrame", info["ingest_s"], n_lines, peak,
        f"({info['rows']:,} events, {info['unknown']:,} unknown; whole process {wall:.2f} s "
        f"incl. {info['import_s']:.2f} s imports)")
    speed = n_lines / info["ingest_s"]
    ingest_peak = peak

    # the same parser without its compiled loops (what a machine with no C compiler gets)
    numpy_info, wall, peak = best_ingest(data, "numpy", args.repeat)
    row("  same, numpy only (engine=numpy)", numpy_info["ingest_s"], n_lines, peak,
        f"({numpy_info['rows']:,} events; no compiled loops)")

    # the same lines as a user has them: the server's log and the page's, two files (their
    # rows come out of two parsers interleaved, and are put in time order after)
    split_info, wall, peak = best_ingest(split_in_two(data), "fast", args.repeat)
    row("  same lines, as app.log + page log", split_info["ingest_s"], n_lines, peak,
        f"({split_info['rows']:,} events; the rows of two files sorted into one order)")

    # the same log as a log collector prints it (docker logs -t: a time before every line),
    # read behind its prefixes
    row("  same log, as docker logs -t", docker_info["ingest_s"], n_lines, docker_peak,
        f"({docker_info['rows']:,} events, {docker_info['unknown']:,} unknown; {docker_info['ingest_s'] / info['ingest_s']:.1f}x "
        f"the plain log's time, {docker_peak / ingest_peak:.1f}x its peak)")

    # a wrong file given (a core dump, an image, a compressed archive: random bytes, no log line)
    garbage_info = None
    if args.garbage_mb:
        garbage = HERE / "_data" / f"random_{args.garbage_mb}MB.log"
        if not garbage.exists():
            garbage.write_bytes(random.Random(0).randbytes(args.garbage_mb * 2**20))
        garbage_info, wall, garbage_peak = best_ingest(garbage, "fast", args.repeat)
        row(f"  {args.garbage_mb} MB of random bytes", garbage_info["ingest_s"], garbage_info["lines"], garbage_peak,
            f"(a wrong file: {garbage_info['rows']:,} events, each line kept as one)")
        garbage_mb = garbage.stat().st_size / 1e6

    # the server's log as systemd's journal exports it (journalctl -o json), against the same
    # lines as a plain log, their runs taken in turn
    if args.journal_entries:
        export, plain = journal_export(split_in_two(data)[0], args.journal_entries)
        (plain_info, _, plain_peak), (journal_info, _, journal_peak) = best_ingests([plain, export], "fast",
                                                                                     args.repeat)
        export_mb = export.stat().st_size / 1e6
        row(f"  {args.journal_entries:,} lines of app.log, plain", plain_info["ingest_s"], plain_info["lines"],
            plain_peak, f"({plain.stat().st_size / 1e6:.0f} MB)")
        row("  the same, as journalctl -o json", journal_info["ingest_s"], journal_info["lines"], journal_peak,
            f"({export_mb:.0f} MB, {export_mb * 1000 / journal_info['lines']:.2f} KB an entry; "
            f"{journal_info['ingest_s'] / plain_info['ingest_s']:.1f}x the plain lines' time)")

    if args.reference_lines:
        sample = HERE / "_data" / f"mixed_first_{args.reference_lines}.log"
        with data.open("rb") as src, sample.open("wb") as dst:
            for i, line in enumerate(src):
                if i >= args.reference_lines:
                    break
                dst.write(line)
        wall, peak, out = measured([sys.executable, "-c", _CHILD, "reference", str(sample)])
        ref = json.loads(out)
        row(f"  reference parser ({args.reference_lines:,} lines)", ref["ingest_s"], args.reference_lines, peak,
            "(one Python step per line: what the fast path is checked against)")

    met_speed = speed >= TARGET_LINES_PER_S
    met_memory = ingest_peak < TARGET_PEAK_MB
    print(f"target: >= {TARGET_LINES_PER_S:,} lines/s and peak < {TARGET_PEAK_MB} MB -> "
          f"speed {'MET' if met_speed else 'MISSED'} ({speed:,.0f} lines/s), "
          f"memory {'MET' if met_memory else 'MISSED'} ({ingest_peak:.0f} MB)")
    docker_ratio = docker_info["ingest_s"] / info["ingest_s"]
    print(f"target: docker logs -t within 2x the plain log's time and peak < {TARGET_PEAK_MB} MB -> "
          f"time {'MET' if docker_ratio <= 2 else 'MISSED'} ({docker_ratio:.1f}x), "
          f"memory {'MET' if docker_peak < TARGET_PEAK_MB else 'MISSED'} ({docker_peak:.0f} MB)")
    if garbage_info is not None:
        log_mb = data.stat().st_size / 1e6
        per_mb, garbage_per_mb = info["ingest_s"] / log_mb * 1000, garbage_info["ingest_s"] / garbage_mb * 1000
        print(f"target: random bytes cost no more a MB than the log -> "
              f"{'MET' if garbage_per_mb <= per_mb else 'MISSED'} ({garbage_per_mb:.1f} vs {per_mb:.1f} ms a MB; "
              f"peak {garbage_peak / garbage_mb:.1f} vs {ingest_peak / log_mb:.1f} MB a MB)")
    if lnav_wall is not None:
        faster = info["ingest_s"] < lnav_wall
        print(f"target: faster than lnav on the same file -> {'MET' if faster else 'MISSED'} "
              f"({info['ingest_s']:.2f} s vs lnav {lnav_wall:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Generate the benchmark's mixed log: 2,000,000 lines by default, deterministic.

The file is what a user hands over after ``cat backend.log frontend/*.log > all.log``
over a few days of use: blocks of captured backend stdout (app lines plus uvicorn console
lines) alternating with blocks of frontend remote-log lines. The lines are the real
fixtures' lines (so the mix of shapes is a real one) with fresh socket ids and times, plus
about 1% lines of every other shape, about 1% lines no shape knows and a traceback now
and then. What varies from line to line in a real log varies here too: each block has its
own sessions (and temporary ids), each line its own durations and client ports, so that
a line's text repeats about as often as in a real log rather than once per block.

    python benchmarks/gen_mixed_log.py [--lines N] [--out PATH]
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jarvis_diag import lines  # noqa: E402
from jarvis_diag.logs import examples  # noqa: E402

# (the version is in the name: a file made by an older generator is made again)
VERSION = 4


def data_path(n_lines: int) -> Path:
    """The generated log of ``n_lines`` lines the benchmarks share."""
    return ROOT / "benchmarks" / "_data" / f"mixed_v{VERSION}_{n_lines}.log"


def ensure(n_lines: int) -> Path:
    """``data_path(n_lines)``, generated first when it is not there yet."""
    path = data_path(n_lines)
    if not path.exists():
        print(f"generating {path} ({n_lines:,} lines)...", flush=True)
        generate(n_lines, path)
    return path


DEFAULT_OUT = data_path(2_000_000)
FIXTURES = ROOT / "tests" / "fixtures"
BLOCK = 5000
_BACKEND_TS = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ")
_FRONTEND_TS = re.compile(r"\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\] ")
_SIDS = ("LU4XadoC", "1oqN3Huv")
# epochs logged next to a local time must stay consistent with it (the zone is found from them)
_EPOCH = re.compile(r"(recv_ts=|&t=)\d{10}\.\d+")
# and a chat:ready's client= is the page's clock as it logged the line (server= keeps its distance)
_READY_MS = re.compile(r"\(server=(\d+), client=(\d+)\)")
_MS = re.compile(r"\b(\d+)ms\b")
_PORT = re.compile(r"(127\.0\.0\.1:)\d{4,5}")
_UUID = re.compile(r"\b[0-9a-f]{8}(?=-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b)")
_TEMP_ID = re.compile(r"new-1795\d{9}")
_NOISE = (
    "DEBUG:asyncio:Using selector: EpollSelector",
    "/srv/jarvis/app/main.py:12: DeprecationWarning: on_event is deprecated, use lifespan event handlers instead.",
    "  @app.on_event(\"startup\")",
    "Task exception was never retrieved",
    "[2026-11-24 11:03:39] stray print from a debug session",
    "Killed",
    "{\"level\": \"info\", \"msg\": \"third-party json logger\"}",
)
_TRACEBACK = (
    "Traceback (most recent call last):",
    '  File "/srv/jarvis/app/api/socketio.py", line 412, in chat_connect',
    "    await sio.emit('chat:ready', payload, to=sid)",
    "ConnectionResetError: [Errno 104] Connection reset by peer",
)


def _templates() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(backend stdout lines, frontend lines) of the fixtures as (kind, rest) pairs."""
    backend: list[tuple[str, str]] = []
    frontend: list[tuple[str, str]] = []
    for scenario in ("normal", "callback-desync"):
        for line in (FIXTURES / scenario / "backend.log").read_text().splitlines():
            m = _BACKEND_TS.match(line)
            backend.append(("b", line[m.end():]) if m else ("c", line))
        for f in sorted((FIXTURES / scenario / "frontend").glob("*.log")):
            for line in f.read_text().splitlines():
                m = _FRONTEND_TS.match(line)
                frontend.append(("f", line[m.end():]) if m else ("x", line))
    return backend, frontend


def _ids(backend: list[tuple[str, str]], frontend: list[tuple[str, str]]) -> tuple[set[str], set[str]]:
    """(session id prefixes, temporary ids) the fixtures' lines name."""
    text = "\n".join(rest for _kind, rest in backend + frontend)
    return set(_UUID.findall(text)), set(_TEMP_ID.findall(text))


def _vary(rest: str, rng: random.Random, names: dict[str, str]) -> str:
    """A line as another moment of the same use would write it: this block's sessions
    (``names``: fixture id -> this block's), this line's durations and client port."""
    for old, new in names.items():
        if old in rest:
            rest = rest.replace(old, new)
    if "ms" in rest:
        rest = _MS.sub(lambda m: f"{int(int(m.group(1)) * rng.uniform(0.6, 1.6)) + rng.randrange(3)}ms", rest)
    if "127.0.0.1:" in rest:
        rest = _PORT.sub(lambda m: f"{m.group(1)}{rng.randrange(32768, 61000)}", rest)
    return rest


def generate(n_lines: int, out: Path, seed: int = 20261124) -> int:
    rng = random.Random(seed)
    backend, frontend = _templates()
    prefixes, temp_ids = _ids(backend, frontend)
    extra_backend = [s for s in lines.SHAPES if s.source in ("backend", "console")]
    extra_frontend = [s for s in lines.SHAPES if s.source == "frontend"]
    t = datetime(2026, 11, 24, 9, 0, tzinfo=UTC).timestamp()
    out.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    block = 0
    with out.open("w", encoding="utf-8", newline="\n") as fp:
        while written < n_lines:
            is_backend = block % 2 == 0
            source = backend if is_backend else frontend
            extra = extra_backend if is_backend else extra_frontend
            sid = examples.sid(rng)
            # a session keeps the rest of its UUID: its 8-character prefix is what the lines share
            names = {p: f"{rng.getrandbits(32):08x}" for p in sorted(prefixes)}
            names.update({x: f"new-1795{rng.randrange(10**9):09d}" for x in sorted(temp_ids)})
            buf: list[str] = []
            i = rng.randrange(len(source))
            while len(buf) < BLOCK and written + len(buf) < n_lines:
                t += rng.random() * 0.02
                roll = rng.random()
                if roll < 0.01:
                    shape = rng.choice(extra)
                    line = examples.example_line(shape, rng, t + 3600 if is_backend else _page_clock(t))
                    buf.append(_epochs_at(t, _EPOCH.sub(lambda m, t=t: f"{m.group(1)}{t:.3f}", line)))
                    continue
                if roll < 0.02:
                    buf.append(rng.choice(_NOISE))
                    continue
                if roll < 0.0202 and is_backend:
                    buf.append(_stamp_backend(t, "jarvis - ERROR - [SocketIO] Client " + sid + " send error: reset"))
                    buf.extend(_TRACEBACK)
                    continue
                kind, rest = source[i % len(source)]
                i += 1
                for old in _SIDS:
                    rest = rest.replace(old, sid)
                rest = _vary(rest, rng, names)
                if "recv_ts=" in rest or "&t=" in rest:
                    rest = _EPOCH.sub(lambda m, t=t: f"{m.group(1)}{t:.3f}", rest)
                rest = _epochs_at(t, rest)
                if kind == "b":
                    buf.append(_stamp_backend(t, rest))
                elif kind == "f":
                    buf.append(f"[{lines.iso_ms(_page_clock(t))}] {rest}")
                else:
                    buf.append(rest)
            buf = buf[: n_lines - written]
            fp.write("\n".join(buf) + "\n")
            written += len(buf)
            block += 1
    return written


def _page_clock(t: float) -> float:
    """The time a page stamps a line written at ``t`` with: its clock's whole ms, cut, as the
    server's log cuts its own (rounding it instead put a page's line 1 ms after the server's
    next one where a block of one ends and a block of the other begins)."""
    return int(t * 1000) / 1000


def _epochs_at(t: float, line: str) -> str:
    """A chat:ready line's epochs moved to ``t``, the time its line is written at."""
    if "(server=" not in line:
        return line

    def moved(m: re.Match) -> str:
        client = int(t * 1000)
        return f"(server={client - (int(m.group(2)) - int(m.group(1)))}, client={client})"

    return _READY_MS.sub(moved, line)


def _stamp_backend(t: float, rest: str) -> str:
    # the server's local time (UTC+1 in these fixtures) with no zone
    d = datetime.fromtimestamp(t + 3600, tz=UTC)
    return f"{d:%Y-%m-%d %H:%M:%S},{d.microsecond // 1000:03d} {rest}" if rest.startswith("- ") else \
        f"{d:%Y-%m-%d %H:%M:%S},{d.microsecond // 1000:03d} - {rest}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=2_000_000)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    n = generate(args.lines, args.out)
    print(f"wrote {n:,} lines to {args.out} ({args.out.stat().st_size / 1e6:.0f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

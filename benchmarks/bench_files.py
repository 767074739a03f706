"""Many files: a backend log and a frontend log per page load, as a real set arrives, next
to the same lines in one file and `cat` of the files, measured in the same run.

The set is the 200,000-line mixed log split the way it was made: its backend blocks go to
app.log, each frontend block to 10 files named like the real system names them
(frontend/<date>_<clientId>.log), 200 files in all. What the figures show is the cost of a
file on its own: a set of many small files should read nearly as fast as one big file.
The same lines are also read as one phone's set (app.log and one frontend log holding all
the frontend blocks), where every connection, disconnect and reconnect is that one page
log's. Each block replays real page logs from their first line, so the timeline reads the
page's start lines again in such a file as the page loaded again (each load a client of its
own, with a warning): 600-odd page loads in the one phone's log, several in each of the 200.

    python benchmarks/bench_files.py [--lines N] [--repeat N]   (N over 5,000: one frontend block at least)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import gen_mixed_log  # noqa: E402
from bench_timeline import JARVIS_DIAG, measure  # noqa: E402

FILES_PER_BLOCK = 10
INGEST = "import sys; from jarvis_diag.ingest import ingest; ingest(sys.argv[1:])"


def split_set(mixed: Path, out: Path) -> list[Path]:
    """The mixed log's blocks as app.log and per-client frontend files (made once)."""
    app = out / "app.log"
    if app.exists():
        return [app, out / "frontend"]
    text = mixed.read_text(encoding="utf-8").split("\n")[:-1]
    block = gen_mixed_log.BLOCK
    (out / "frontend").mkdir(parents=True, exist_ok=True)
    backend: list[str] = []
    for k in range(0, len(text), block):
        lines = text[k:k + block]
        if (k // block) % 2 == 0:
            backend += lines
            continue
        size = -(-len(lines) // FILES_PER_BLOCK)
        for j in range(0, len(lines), size):
            client = f"Mozilla50iPhoneCPUiP-{k // block:06d}-{j // size:04d}"
            (out / "frontend" / f"20261124_{client}.log").write_text("\n".join(lines[j:j + size]) + "\n")
    app.write_text("\n".join(backend) + "\n")
    return [app, out / "frontend"]


def one_phone_set(mixed: Path, out: Path) -> list[Path]:
    """The mixed log's backend blocks as app.log, all its frontend blocks as one client's
    frontend log (made once)."""
    app, frontend = out / "app.log", out / "frontend" / "20261124_Mozilla50iPhoneCPUiP-onephone-0001.log"
    if app.exists() and frontend.exists():
        return [app, frontend.parent]
    text = mixed.read_text(encoding="utf-8").split("\n")[:-1]
    block = gen_mixed_log.BLOCK
    backend: list[str] = []
    phone: list[str] = []
    for k in range(0, len(text), block):
        (backend if (k // block) % 2 == 0 else phone).extend(text[k:k + block])
    frontend.parent.mkdir(parents=True, exist_ok=True)
    app.write_text("\n".join(backend) + "\n")
    frontend.write_text("\n".join(phone) + "\n")
    return [app, frontend.parent]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each command (the best is shown)")
    args = parser.parse_args(argv)
    if args.lines <= gen_mixed_log.BLOCK:  # (the set would be app.log alone: no file to measure the cost of)
        print(f"bench_files: --lines must be over {gen_mixed_log.BLOCK:,}: the mixed log's first "
              f"{gen_mixed_log.BLOCK:,} lines are backend ones, its frontend files come from the lines after",
              file=sys.stderr)
        return 2
    mixed = gen_mixed_log.ensure(args.lines)
    paths = split_set(mixed, mixed.with_name(mixed.stem.replace("mixed", "files", 1)))
    files = [paths[0], *sorted(paths[1].glob("*.log"))]
    print(f"set: {paths[0].parent.relative_to(ROOT)}  {len(files)} files, {args.lines:,} lines "
          f"(the same lines as {mixed.name})")
    phone = one_phone_set(mixed, mixed.with_name(mixed.stem.replace("mixed", "onephone", 1)))
    out = paths[0].parent / "timeline.json"
    timeline = [*JARVIS_DIAG, "timeline", "--format", "json", "--output", str(out)]
    commands = {
        "cat of the files (reference)": ["cat", *map(str, files)],
        "ingest, the one mixed file": [sys.executable, "-c", INGEST, str(mixed)],
        f"ingest, the {len(files)} files": [sys.executable, "-c", INGEST, *map(str, paths)],
        f"timeline --format json, {len(files)} files": [*timeline, *map(str, paths)],
        "timeline --format json, one phone's set": [*timeline, *map(str, phone)],
        "timeline --format json, the one mixed file": [*timeline, str(mixed)],
    }
    best: dict[str, tuple[float, float]] = {}
    for _ in range(args.repeat):  # rounds, each command once per round
        for name, command in commands.items():
            # (quiet: the page logs' warnings, said the same each run; a failure still shows by its status)
            wall, rss, code = measure(command, quiet=True)
            if code != 0:
                print(f"{name} failed", file=sys.stderr)
                return 1
            if name not in best or wall < best[name][0]:
                best[name] = (wall, rss)
    print(f"best of {args.repeat} runs each")
    print(f"{'what':44} {'wall s':>8} {'lines/s':>12} {'peak MB':>9}")
    for name, (wall, rss) in best.items():
        print(f"{name:44} {wall:8.2f} {args.lines / wall:12,.0f} {rss:9.0f}")
    one, many = best["ingest, the one mixed file"][0], best[f"ingest, the {len(files)} files"][0]
    print(f"cost of a file: {(many - one) / (len(files) - 1) * 1000:.1f} ms ({many / one:.2f}x the one file)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

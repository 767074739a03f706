"""`jarvis-diag timeline`: read logs, align clocks, correlate, name what went wrong."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import re
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from jarvis_diag.commands.output import check_output, output_file, replacing
from jarvis_diag.errors import DiagError

FORMATS = ("text", "json", "csv", "parquet", "jsonl")
FOLLOW_POLL_S = 0.25
FOLLOW_REBUILD_S = 1.0
# the most of a CPU the rebuilds of a follow take: after one that took long (a big log), the
# next waits three times the CPU time it took (for a quarter)
FOLLOW_REBUILD_SHARE = 0.25
# the longest a stop waits for one last read of the logs, to print the lines held for it (or
# twice as long as the last read took, on a big log)
FOLLOW_LAST_REBUILD_S = 10.0


# What a run leaves for the process exit to drop instead of freeing it object by object
# (see jarvis_diag.cli.run).
_HELD: list = []


def _page_width(terminal: bool) -> int | None:
    """The text view's width: $COLUMNS when set, else the terminal's; piped or written to a
    file, a wide page (160) instead of rich's 80 columns."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    return None if terminal else 160


def _formats() -> tuple[str, ...]:
    # the Perfetto export is offered once its module exists
    return FORMATS + (("perfetto",) if importlib.util.find_spec("jarvis_diag.perfetto") else ())


def _parse_format_of(values: list[str] | None) -> dict[str, str]:
    out = {}
    for value in values or []:
        path, sep, kind = value.rpartition("=")
        if not sep or not path or not kind:
            raise DiagError(f"--format-of {value}: expected PATH=KIND (e.g. logs/x.log=backend)")
        out[path] = kind
    return out


def _print_kinds(console: Console) -> None:
    from jarvis_diag.events import KINDS

    width = max(len(k) for k in KINDS)
    for kind, meaning in KINDS.items():
        console.print(f"{kind:<{width}}  {meaning}", highlight=False, markup=False, soft_wrap=True)


def _write_events(tl, fmt: str, output: Path | None) -> None:
    events = tl.events
    if fmt == "parquet":
        if output is None:
            if sys.stdout.isatty():
                raise DiagError("--format parquet writes a binary file: give --output FILE, or pipe it")
            buf = io.BytesIO()  # (piped or redirected: the bytes, as to a file)
            events.to_parquet(buf, index=False)
            _emit(buf.getvalue(), None)
            return
        try:
            with replacing(output) as part:
                events.to_parquet(part, index=False)  # (the events' own types, categories kept)
        except OSError as exc:  # (pyarrow's text repeats the path and the errno: its errno alone)
            raise DiagError(f"{output}: cannot write ({os.strerror(exc.errno) if exc.errno else exc})") from exc
        return
    if fmt == "csv":
        # rows end in CRLF, as RFC 4180 has them: a field holding a line break of either kind
        # (a traceback's lines, a stray CR in a message) is then quoted, and reads back whole
        text = events.to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%S.%fZ", lineterminator="\r\n")
    else:
        from jarvis_diag.frames import events_to_jsonl

        buf = io.StringIO()
        events_to_jsonl(events, buf)
        text = buf.getvalue()
    _emit(text, output)


def _emit(text: str | bytes | list[bytes], output: Path | None) -> None:
    """Write the output (bytes, or a list of byte strings: already UTF-8) to stdout or ``output``."""
    chunks = text if isinstance(text, list) else [text] if isinstance(text, bytes) else None
    if output is None:
        try:
            if chunks is not None:
                sys.stdout.flush()
                for chunk in chunks:
                    sys.stdout.buffer.write(chunk)
                sys.stdout.buffer.flush()
            else:
                sys.stdout.write(text)
                sys.stdout.flush()
        except BrokenPipeError:
            # the reader stopped reading (``| head``): a quiet end, whatever the format; the rest
            # goes nowhere, so that flushing it on the way out fails no more
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    else:
        try:
            with replacing(output) as part:
                if chunks is not None:
                    with part.open("wb") as fh:
                        for chunk in chunks:
                            fh.write(chunk)
                else:
                    part.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise DiagError(f"{output}: cannot write ({exc.strerror or exc})") from exc


def _check_tz(tz: str, name: str = "--tz") -> None:
    """DiagError for a --tz (or ``name``) that names no zone (before the logs are read: a
    typo costs no wait)."""
    from jarvis_diag.zone import parse_tz

    try:
        parse_tz(tz)
    except ValueError as exc:
        raise DiagError(f"{name}: {exc}") from None


def _select(tl, session: str | None, client: str | None, since: str | None, until: str | None):
    """``tl`` filtered (see Timeline.filter: a name the logs lack is an error, an empty window a warning)."""
    try:
        return tl.filter(session=session, client=client, since=since, until=until)
    except DiagError as exc:
        raise DiagError(f"--{exc}") from None


# What the timeline warns of that says only how a growing file was caught when read: a line
# half written, a file not written to yet, a gzip file gzip still writes. The normal state of
# a log being written: --follow does not print them.
_MID_LINE = ": the file ends in the middle of a line (cut short while written?)"
FOLLOW_UNSAID = (_MID_LINE, ": empty", " stream ends early (a copy cut short?); what it holds is read")
# what changes in a warning as the logs grow, not what it is about: instants (a span), counts
_INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:\d\d)?")
_COUNT = re.compile(r"(?<![\w.#/+-])\d[\d,]*(?![\w/]|\.\w)")


# the words that agree with a count, as a count of more than one says them (the file warnings
# of ingest: '1 line with' / '2 lines with', 'its one line is not' / 'none of its 3 lines is'):
# a count passing one is no more news than one growing
_AS_PLURAL = tuple((re.compile(singular), plural) for singular, plural in (
    (r"\bits one line has\b", "# of its # lines have"),
    (r"\bits one line is not\b", "none of its # lines is"),
    (r"(?<=# )line\b", "lines"),
    (r"(?<=# )entry\b", "entries"),
    (r"\bcut to its first\b", "cut to their first"),
))


def _warning_key(warning: str) -> str:
    """What a warning says, its instants and counts (and the words that agree with a count)
    left out: a rebuild says one again only when this changes (a fourth phone under a
    --client prefix, another page log of another day), not when only the logs' span or a
    count does as they grow."""
    key = _COUNT.sub("#", _INSTANT.sub("@", warning))
    for singular, plural in _AS_PLURAL:
        key = singular.sub(plural, key)
    return key


def _follow_warnings(tl, sel, left_out: list[str]) -> list[str]:
    """What a follow tells of the timeline ``tl`` read and its selection ``sel`` (--session /
    --client; None for none, or one that is gone): the warnings the one-shot view prints,
    ``left_out`` (a directory's files not read) with them, but those of FOLLOW_UNSAID. Bad
    bytes in a file read in the middle of a line wait for a read that ends on a line's end:
    the half line may end in half a character. Page logs said to run outside the server log's
    time are those of _apart_by_now."""
    said, instead = _apart_by_now(tl)
    warnings = [*(w for w in (tl.warnings if sel is None else sel.warnings) if w not in said), *instead, *left_out]
    cut = tuple(f"{w.removesuffix(_MID_LINE)}: " for w in warnings if w.endswith(_MID_LINE))
    return [w for w in warnings if not w.endswith(FOLLOW_UNSAID)
            and not (w.startswith(cut) and "undecodable or NUL bytes" in w)]


def _apart_by_now(tl) -> tuple[list[str], list[str]]:
    """(what ``tl`` warns of the page logs that run outside the server log's time, what a
    follow says of them instead): a page log that starts after the server log's last line is
    one the server has not written of yet (a page loaded after a quiet spell logs before the
    server logs its connection), not one of another day."""
    from datetime import datetime

    from jarvis_diag.timeline import apart_warnings, begins_with_a_start

    def at(s: dict, key: str) -> datetime | None:
        return datetime.fromisoformat(s[key]) if s.get(key) else None

    ends = [t for s in tl.sources if s.get("format") == "backend" and (t := at(s, "last")) is not None]
    if not ends:
        return [], []
    later = {id(s) for s in tl.sources if s.get("format") == "frontend" and (t := at(s, "first")) and t > max(ends)}
    if not later:
        return [], []
    clients, fresh = tl.clock.get("clients"), begins_with_a_start(tl.events)
    return (apart_warnings(tl.sources, clients, fresh),
            apart_warnings([s for s in tl.sources if id(s) not in later], clients, fresh))


def _finding_line(f: dict, revised: bool = False) -> str:
    from jarvis_diag.findings import duration_text

    delay = f" (+{duration_text(f['delay_ms'])})" if f.get("delay_ms") else ""
    where = ", ".join(f"{e['path']}:{e['line']}" for e in f["evidence"][:3])
    again = " (revised: more of the logs came in)" if revised else ""
    return f"{f['at']} {f['severity'].upper():8} {f['kind']}{delay}{again}: {f['summary']}  [{where}]"


def finding_key(f: dict) -> tuple:
    """What a finding is, from one reading of growing logs to the next: its kind, time, session
    (by its 8-character prefix: a session's full id can be known in one reading and not the
    next, its mapping line rotated away) and client (two phones' findings of one instant)."""
    session = f.get("session")
    return f["kind"], f["at"], session[:8] if isinstance(session, str) else session, f.get("client")


def match_findings(seen: dict[tuple, tuple], findings: list[dict]) -> tuple[list[tuple[tuple, dict, tuple | None]],
                                                                           list[tuple]]:
    """Each finding of a new reading with its key and the key of the one told before that it
    revises (None: it is new), and the keys told before that no finding of it bears out. A
    finding is the one told before with its key; else one with the same kind, time and session
    whose client it did not know or named otherwise (the page's lines joined it since)."""
    keys = [finding_key(f) for f in findings]
    taken = {k for k in keys if k in seen}
    loose: dict[tuple, list[tuple]] = {}
    for k in seen:
        if k not in taken:
            loose.setdefault(k[:3], []).append(k)
    out = []
    for key, f in zip(keys, findings, strict=True):
        before = key if key in seen else (loose[key[:3]].pop(0) if loose.get(key[:3]) else None)
        out.append((key, f, before))
    revised = {before for _, _, before in out if before is not None}
    return out, [k for k in seen if k not in revised]


def _withdrawn_line(key: tuple, said: tuple) -> str:
    kind, at, session, _client = key
    severity, summary = said
    return f"{at} {severity.upper():8} {kind} (withdrawn: more of the logs no longer show it): {summary}"


_SUFFIX_FORMAT = {".json": "json", ".csv": "csv", ".parquet": "parquet", ".jsonl": "jsonl"}
PRETTY_MAX_LINES = 10_000  # (lines of a json-pretty entry gathered at most: then printed as they are)


@dataclass
class _Tail:
    """How far ``--follow`` has read a file: the file itself (device, inode), whatever name it
    has now (a rotation renames ``app.log`` to ``app.log.1`` and starts a new ``app.log``)."""

    # the format the timeline read the file as; "" until it has read it, None for a file it
    # does not take for a log (its lines are not printed)
    format: str | None
    offset: int = 0
    line: int = 0
    # the start of a line not ended yet (bytes: a character written in two goes is read whole)
    pending: bytes = b""
    # the complete lines read and not printed (nor held) yet: a Ctrl-C between two lines of
    # a batch leaves the others to the last read at the stop
    unprinted: deque = field(default_factory=deque)
    ident: tuple[int, int] | None = None
    # the file, held open: what was written to it just before it was renamed or removed is
    # still read (tail -F reads a rotated file to its end before it moves on)
    fh: Any = None
    truncated: bool = False  # (the last read found the file cut shorter)
    # a gzip file: read by the timeline for the findings, its lines not printed (they are a
    # rotated log's, printed when they were written to it)
    compressed: bool = False
    unreadable: bool = False  # (said so once)
    removed_said: bool = False
    # a journal export (journalctl -o json...): an entry of -o json-pretty is over several
    # lines, gathered here (from its "{" line, with that line's number) until its "}" line
    journal: bool = False
    entry: list[str] = field(default_factory=list)
    entry_line: int = 0
    # the file's first bytes (HEAD_BYTES at most), and those it had before it was cut short:
    # a copytruncate rotation's copy begins with them
    head: bytes = b""
    cut_head: bytes = b""

    def whole_entry(self, raw: str) -> tuple[int, str] | None:
        """(its line, its text) for a line to print now: ``raw`` itself, or the entry of a
        json-pretty export it ends; None while an entry is gathered."""
        if self.journal and (self.entry or raw.strip() == "{"):
            if not self.entry:
                self.entry_line = self.line
            self.entry.append(raw)
            if raw.rstrip() != "}" and len(self.entry) < PRETTY_MAX_LINES:
                return None
            text, self.entry = "\n".join(self.entry), []
            return self.entry_line, text
        return self.line, raw

    def open(self, path: str) -> bool:
        """Open ``path`` as this tail's file; False when it is not there."""
        try:
            self.fh = open(path, "rb")  # noqa: SIM115 - held for as long as the follow runs
        except OSError:
            return False
        st = os.fstat(self.fh.fileno())
        self.ident = (st.st_dev, st.st_ino)
        self.head = os.pread(self.fh.fileno(), HEAD_BYTES, 0)
        return True

    def close(self) -> None:
        """Let the file go (a file removed is freed only once no one holds it open)."""
        if self.fh is not None:
            self.fh.close()
            self.fh = None

    def read_new(self) -> bytes:
        """What was written since the last read (b"" for nothing); a file cut shorter than
        what was read (truncated, as copytruncate does) is read again from its start, and
        ``truncated`` says so."""
        size = os.fstat(self.fh.fileno()).st_size
        self.truncated = size < self.offset
        if self.truncated:
            self.offset, self.line, self.pending = 0, 0, b""
            self.cut_head, self.head = self.head, b""
        if size == self.offset:
            return b""
        self.fh.seek(self.offset)
        chunk = self.fh.read(size - self.offset)
        if len(self.head) < HEAD_BYTES and self.offset <= len(self.head):
            self.head = (self.head + chunk[len(self.head) - self.offset:])[:HEAD_BYTES]
        self.offset += len(chunk)
        return chunk

    def grew(self) -> bool:
        """Whether a compressed file changed size since last looked at (one still being
        written by gzip is read again by the timeline)."""
        size = os.fstat(self.fh.fileno()).st_size
        changed, self.offset = size != self.offset, size
        return changed


HEAD_BYTES = 4096  # (how much of a file's start tells a copy of it)


def copy_of(path: str, head: bytes, candidates: list[str]) -> str | None:
    """Of ``candidates``, the copy a copytruncate rotation made of ``path`` before cutting it
    short: a rotated name of it (``app.log.1``, ``app.log-20261207``; not compressed yet)
    whose content begins with ``head``, what ``path`` began with. None when none is."""
    from jarvis_diag.ingest import PACKED, _rotation

    if not head:
        return None
    for c in candidates:
        rotated = _rotation(c)
        if rotated is None or c.endswith(PACKED) or os.path.normpath(rotated[0]) != os.path.normpath(path):
            continue
        try:
            with open(c, "rb") as fh:
                if fh.read(len(head)) == head:
                    return c
        except OSError:
            continue
    return None


def _siblings(path: str) -> list[str]:
    """The other files in ``path``'s directory, newest first."""
    d = os.path.dirname(path) or "."
    try:
        with os.scandir(d) as entries:
            found = [(e.stat().st_mtime, os.path.join(os.path.dirname(path), e.name)) for e in entries
                     if e.is_file() and e.name != os.path.basename(path)]
    except OSError:
        return []
    return [p for _, p in sorted(found, reverse=True)]


def _complete_lines(fh) -> tuple[int, int]:
    """(the offset just past the last complete line of the open file ``fh``, how many
    complete lines come before it)."""
    size = os.fstat(fh.fileno()).st_size
    fh.seek(0)
    read = lines = end = 0
    while read < size:
        chunk = fh.read(min(1 << 20, size - read))
        if not chunk:
            break
        n = chunk.count(b"\n")
        if n:
            lines += n
            end = read + chunk.rindex(b"\n") + 1
        read += len(chunk)
    return end, lines


def _name_now(path: str, ident: tuple[int, int] | None) -> str | None:
    """The name the file read as ``path`` (``ident``: its device and inode) has now: ``path``
    itself, or the name it was renamed to in the same directory (a rotation); None when it
    is gone."""
    found = _ident(path)
    if ident is None or (found is not None and found[0] == ident):
        return path if found is not None else None
    try:
        with os.scandir(os.path.dirname(path) or ".") as entries:
            for entry in entries:
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if (st.st_dev, st.st_ino) == ident:
                    return entry.path
    except OSError:
        pass
    return None


def _listing_state(paths: list[str]) -> tuple | None:
    """(directory, mtime) of each directory whose listing the arguments depend on (a
    directory given and those under it, the directory of a file given); None when an
    argument is a glob, whose matches are looked for each time."""
    from jarvis_diag.ingest import GLOB_CHARS

    state = []
    for p in paths:
        if any(c in p for c in GLOB_CHARS):
            return None
        if os.path.isdir(p):
            dirs = [root for root, _, _ in os.walk(p)]
        else:
            dirs = [os.path.dirname(p) or "."]
        for d in dirs:
            try:
                state.append((d, os.stat(d).st_mtime_ns))
            except OSError:
                state.append((d, None))
    return tuple(state)


def _newest(listing: tuple) -> float:
    """The latest change of the directories of a ``_listing_state``, epoch seconds."""
    return max((mtime / 1e9 for _, mtime in listing if mtime is not None), default=0.0)


def _ident(path: str) -> tuple[tuple[int, int], int] | None:
    """((device, inode), size) of a file, None when it is not there."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino), st.st_size


def _files_now(paths: list[str]) -> list[str]:
    """The files the arguments name now, each argument on its own: one that is gone with its
    directory (a folder of logs removed) names none, and the others are followed on. A file
    two arguments name (app.log, and the directory it is in) is named once, as the first
    names it (as the follow started with it)."""
    from jarvis_diag.ingest import expand_paths

    files: dict[str, str] = {}
    for p in paths:
        try:
            found = expand_paths([p], allow_empty=True)
        except DiagError:
            continue
        for f in found:
            files.setdefault(str(Path(f).resolve()), f)
    return list(files.values())


def _gone_dir(path: str) -> str | None:
    """The outermost directory removed of those ``path`` was in (None when its directory is
    there): the one to name when a folder of logs is removed."""
    d = os.path.dirname(path) or "."
    if os.path.isdir(d):
        return None
    while (up := os.path.dirname(d)) and up != d and not os.path.isdir(up):
        d = up
    return d


def _within(path: str, dirs: set[str]) -> bool:
    """Whether ``path`` is one of ``dirs`` or in one of them."""
    return any(d == path or Path(d) in Path(path).parents for d in dirs)


def _same_file(a: str, b: str) -> bool:
    return a == b or Path(a).resolve() == Path(b).resolve()


def _may_appear(path: str, args: list[str]) -> bool:
    """Whether ``path`` is one the follow of ``args`` would read once it is written: an
    argument itself, a log's name in a directory given, or a match of a glob given."""
    import fnmatch

    from jarvis_diag.ingest import GLOB_CHARS, is_log_name

    target = Path(path).resolve()
    for p in args:
        if any(c in p for c in GLOB_CHARS):
            if fnmatch.fnmatch(path, p) or fnmatch.fnmatch(str(target), str(Path(p).absolute())):
                return True
        elif target == Path(p).resolve() or (Path(p).resolve() in target.parents and is_log_name(target.name)):
            return True
    return False


def _format_of_these(format_of: dict[str, str], files: list[str]) -> dict[str, str]:
    """The --format-of entries that name one of ``files``: a file followed may not be there
    yet, or no more."""
    return {key: kind for key, kind in format_of.items() if any(_same_file(key, f) for f in files)}


def _rebuild_due(now: float, dirty_since: float | None, last_end: float, last_cost: float) -> bool:
    """Whether to read the logs again now (monotonic seconds; ``last_cost``: the CPU seconds
    the last rebuild took): FOLLOW_REBUILD_S after the first change since the last rebuild,
    and, after one that took long (a big log), no sooner than keeps the rebuilds to
    FOLLOW_REBUILD_SHARE of a CPU (a log written to each second kept a CPU busy, each rebuild
    later than the last)."""
    return dirty_since is not None and now - dirty_since >= FOLLOW_REBUILD_S \
        and now - last_end >= last_cost * (1 / FOLLOW_REBUILD_SHARE - 1)


class _Rebuild:
    """A rebuild of the timeline, under way beside the follow: the lines written meanwhile are
    printed as they come (a big log takes seconds to read again)."""

    def __init__(self, read, files: list[str], names: dict[int, str], tails: list, held: int) -> None:
        self.names = names  # (the name each file was read by, by id of its tail)
        self.tails = tails  # (those tails: held, so that no tail made meanwhile takes the id of one let go)
        self.held = held  # (how many lines were held when it started: those it tells on)
        self.result: Any = None
        self.error: BaseException | None = None
        self.cost = 0.0  # (the CPU seconds it took)
        self.took = 0.0  # (the seconds it took)
        self.done = threading.Event()
        threading.Thread(target=self._run, args=(read, files), daemon=True).start()

    def _run(self, read, files: list[str]) -> None:
        # (the process's CPU time, not the time it took: on a busy machine a rebuild takes
        # longer to read the same logs, and the findings would come later for nothing)
        started, began = time.process_time(), time.monotonic()
        try:
            self.result = read(files)
        except BaseException as exc:  # (told where the follow runs)
            self.error = exc
        self.cost, self.took = time.process_time() - started, time.monotonic() - began
        self.done.set()


class _CtrlCHeld:
    """``with ctrl_c:`` around printing one line and noting it printed: a Ctrl-C that comes
    meanwhile stops the follow once the line is out. (One that landed in the middle of a
    line left it in rich's buffer, printed again with the next, and the rest of its batch was
    printed a second time at the stop, the lines held, or never, the lines read.) A second
    Ctrl-C while the first waits (the output blocked: a reader that no longer reads) stops it
    at once."""

    def __init__(self) -> None:
        self.depth = 0  # (how many ``with`` are open)
        self.asked = False  # (a Ctrl-C came while one was)
        self.before: Any = None  # (the handler it replaces: told of each Ctrl-C it lets through)

    def install(self) -> None:
        """Handle Ctrl-C (in the main thread alone; a SIGINT ignored stays ignored)."""
        if threading.current_thread() is threading.main_thread() and callable(signal.getsignal(signal.SIGINT)):
            self.before = signal.signal(signal.SIGINT, self._on_sigint)

    def uninstall(self) -> None:
        if self.before is not None:
            signal.signal(signal.SIGINT, self.before)
            self.before = None

    def _on_sigint(self, signum: int, frame: Any) -> None:
        if self.depth and not self.asked:
            self.asked = True
            return
        self._stop(signum, frame)

    def _stop(self, signum: int, frame: Any) -> None:
        self.asked = False
        if self.before is not None:
            self.before(signum, frame)  # (raises KeyboardInterrupt, as it would have)
        raise KeyboardInterrupt

    def __enter__(self) -> None:
        self.depth += 1

    def __exit__(self, kind: Any, *exc: Any) -> None:
        self.depth -= 1
        if not self.depth and self.asked and kind is None:
            self._stop(signal.SIGINT, None)


class _ReaderGone(Exception):
    """The reader of the output stopped reading (``--follow | head``)."""


def _end_quietly_when_the_reader_goes(console: Console) -> None:
    """A reader that stops reading ends the follow quietly with exit 0, as it ends the
    other views (rich's own way exits 1, the code of a failed cycle)."""

    def gone() -> None:
        console.quiet = True
        # (what is still buffered goes nowhere, so that flushing it on the way out fails no more)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise _ReaderGone

    console.on_broken_pipe = gone


@contextmanager
def _reading_status() -> Iterator[Callable[[], None]]:
    """Says "reading logs..." on stderr when it is a terminal (only for a person watching)
    until the function it gives is called, or the block ends: a follow of a big log prints
    nothing for the seconds its first read of the logs takes, as the one-shot view does."""
    if not sys.stderr.isatty():
        yield lambda: None
        return
    status = Console(stderr=True).status("reading logs...")
    status.start()
    try:
        yield status.stop
    finally:
        status.stop()


def _follow(paths: list[str], tz: str | None, format_of: dict[str, str], no_skew: bool, console: Console,
            session: str | None, client: str | None, read: Callable[[], None] = lambda: None,
            panel: tuple[str | None, str | None] = (None, None)) -> None:
    """Print new lines as events and new findings as they appear, until Ctrl-C; ``read`` is
    called once the logs are first read; ``panel``: the debug-panel copies' date and zone."""
    from jarvis_diag.ingest import GLOB_CHARS, PACKED, expand_paths, left_out_of_directories, page_client
    from jarvis_diag.limits import allow_open_files
    from jarvis_diag.logs import frontend, journal_json, parse_line
    from jarvis_diag.timeline import iso, load_timeline
    from jarvis_diag.zone import format_offset

    allow_open_files(1 << 16)  # (each file followed is held open: a week of page logs is thousands)
    selecting = bool(session or client)
    ctrl_c = _CtrlCHeld()  # (around each line printed and noted as printed)

    def say(text: str) -> None:
        with ctrl_c:
            console.print(text, style="dim", highlight=False, markup=False, soft_wrap=True)

    learned: list[str] = []  # the server's UTC offset an earlier read took from the logs' epochs

    def build(files: list[str]):
        def read(zone: str | None):
            return load_timeline(files, tz=zone, format_of=_format_of_these(format_of, files), no_skew=no_skew,
                                 panel_date=panel[0], panel_tz=panel[1])

        new = read(tz)
        clock = new.clock
        if clock.get("backend_zone_source") == "machine" and learned:
            # a log cut short by a copytruncate rotation may hold no epoch yet: the offset the
            # logs gave before stands in (instead of this machine's zone, hours off); only then,
            # as --tz would contradict the epochs of logs that hold some
            new = read(learned[0])
            clock = new.clock
        if tz is None and clock.get("backend_zone_source") in ("recv_ts", "pages"):
            changes = clock.get("backend_utc_offset_changes") or []
            learned[:] = [format_offset(changes[-1]["offset_minutes"] if changes
                                        else clock["backend_utc_offset_minutes"])]
        return new

    def selection(tl, started: bool):
        """``tl`` for --session / --client. One the logs do not name is an error when the
        follow starts; once it runs, a rebuild that finds it no more (its file removed, or
        cut short) has none (None), and the follow goes on."""
        if not selecting:
            return tl
        try:
            return _select(tl, session, client, None, None)
        except DiagError:
            if started:
                return None
            raise

    def _read_lines(tail: _Tail, path: str) -> bool:
        """Read what was written to ``tail``'s file since the last read and print its complete
        lines as events, each once (a Ctrl-C comes between two lines); True when anything was
        new."""
        with ctrl_c:
            data = tail.read_new()
            if tail.truncated:
                copy = copy_of(path, tail.cut_head, _siblings(path))
                if copy is not None and (copied := _copied(copy, tail)) is not None:
                    say(f"{path} was cut short by a copytruncate rotation: read again from its start, and its "
                        f"lines before from its copy {copy}")
                    if copied.ident not in moved and copy not in tails:
                        moved[copied.ident], moved_from[copied.ident] = copied, copy
                    else:
                        copied.close()
                else:
                    say(f"{path} was cut short (a copytruncate rotation?): read again from its start")
            if data and tail.format is not None:
                *complete, tail.pending = (tail.pending + data).split(b"\n")
                tail.unprinted.extend(complete)
        skew_of, offset = _clock()
        while tail.unprinted:
            with ctrl_c:
                raw = tail.unprinted.popleft().decode("utf-8", errors="replace")
                tail.line += 1
                whole = tail.whole_entry(raw)
                if whole is None:
                    continue
                lineno, raw = whole
                # held till the next rebuild: a line that --session / --client may leave out (the
                # timeline tells which socket is whose); a file the timeline has not read yet (it
                # just appeared: its format, the server's time zone and a page's clock are known
                # once it is); what comes after a line held
                if selecting or held or not tail.format:
                    held.append((tail, path, lineno, raw))
                    continue
                ev = _parse(tail.format, path, lineno, raw, offset)
                if ev is None:
                    continue
                if ev.source != "backend" and ev.fields.get("client") and not no_skew \
                        and ev.fields["client"] not in skew_of:
                    held.append((tail, path, lineno, raw))
                else:
                    _show(ev, skew_of)
        return bool(data) and tail.format is not None

    def _copied(copy: str, of: _Tail) -> _Tail | None:
        """The copy a copytruncate made of ``of``'s file, opened where its lines end: read for
        the findings, its lines not printed again (they were as they were written)."""
        tail = _Tail(format=of.format, journal=of.journal)
        if not tail.open(copy):
            return None
        tail.offset, tail.line = _complete_lines(tail.fh)
        return tail

    def _clock() -> tuple[dict, int]:
        """(each page's clock correction, the server's UTC offset) as the timeline read them."""
        clock = tl.clock if tl is not None else {}
        # (new lines are written after the logs read: the offset in force at their end)
        changes = clock.get("backend_utc_offset_changes") or []
        offset = int(changes[-1]["offset_minutes"] if changes else clock.get("backend_utc_offset_minutes") or 0)
        return clock.get("clients", {}), offset

    def _parse(fmt: str, path: str, lineno: int, raw: str, offset: int):
        # (the page the timeline read this file as: a renamed page log is still one page)
        return parse_line(raw, fmt, path, lineno, client=page_client(path, fmt), offset_minutes=offset)

    def _show(ev, skew_of: dict) -> None:
        t = ev.t_source
        who = ev.fields.get("client") or ""
        if t is not None and who in skew_of and skew_of[who].get("applied") and ev.source != "backend":
            t -= skew_of[who]["skew_ms"] / 1000.0
        # (which page a page's line is from: its clientId's page-load part, as the views
        # name a client; the server's lines name their socket themselves)
        where = who.split("-", 1)[-1][:20] if who and ev.source != "backend" else ev.source
        console.print(f"{iso(t) or '-':24} {where:13} {ev.kind:22} {ev.text}", highlight=False,
                      markup=False, soft_wrap=True)

    def _show_held(kept: set | None = None, names: dict | None = None, final: bool = False,
                   upto: int | None = None) -> None:
        """Print the lines held (the first ``upto`` of them: those read before the rebuild
        started), as the timeline now reads them: with --session / --client those of the
        selection (``kept``: (file, line) of its events, ``names``: the name each file was read
        by). At the end (``final``), a line of a file the timeline has not read yet is printed
        as its name says it is; one --session / --client has not told on is left out."""
        if final and selecting:
            held.clear()
            return
        skew_of, offset = _clock()
        # (each taken off as it is printed: a Ctrl-C between two leaves the others held)
        for _ in range(len(held) if upto is None else min(upto, len(held))):
            with ctrl_c:
                tail, path, lineno, raw = held.popleft()
                fmt = tail.format or (("frontend" if frontend.client_of(path) else "backend") if final else None)
                if fmt is None:
                    continue  # (a file the timeline does not take for a log)
                if kept is not None and ((names or {}).get(id(tail)), lineno) not in kept:
                    continue
                if (ev := _parse(fmt, path, lineno, raw, offset)) is not None:
                    _show(ev, skew_of)

    def _kept(sel, names: dict) -> set | None:
        """(file, line) of the events of the selection ``sel`` in the files lines are held of."""
        if not selecting:
            return None
        if sel is None or not held:
            return set()
        wanted = {names.get(id(tail)) for tail, *_ in held} - {None}
        ev = sel.events
        rows = ev[ev["path"].isin(wanted)]
        return set(zip(rows["path"].astype(str), rows["line"].astype(int), strict=True))

    held: deque = deque()  # (tail, path, line, raw) of lines waiting for the next rebuild
    # (a directory the app has written no log into yet is followed all the same: the
    # frontend's files appear as phones connect; a path in no directory is a typo, an error)
    files = expand_paths(paths, allow_empty=True)
    # (a file not written yet is waited for, as tail -F does, when its directory is there)
    not_yet = [p for p in paths if p != "-" and not any(c in p for c in GLOB_CHARS) and not Path(p).exists()]
    for key in format_of:  # (a path no file followed is, nor may be, is a typo, most likely)
        if not any(_same_file(key, f) for f in files) and not _may_appear(key, paths):
            raise DiagError(f"--format-of {key}: not one of the files followed, nor in a directory followed")
    # each file is opened, and where its complete lines end noted, before the timeline reads
    # it: what is written while it is read (seconds, for a big log) is printed, not skipped,
    # and a line half written now is printed whole once its end comes
    tails: dict[str, _Tail] = {}
    for p in files:
        tail = _Tail(format=None)  # (one the timeline reads is given its format below)
        if tail.open(p):
            # (a compressed one is read whole, by the timeline alone: its lines are not counted)
            tail.offset, tail.line = (os.fstat(tail.fh.fileno()).st_size, 0) if p.endswith(PACKED) \
                else _complete_lines(tail.fh)
            tails[p] = tail
    started, began = time.process_time(), time.monotonic()
    tl = build(files) if files else None
    read()  # (the logs are read: the status goes)
    last_end = time.monotonic()
    last_cost = time.process_time() - started  # (the last rebuild's CPU time: the next waits according to it)
    last_took = last_end - began
    for source in tl.sources if tl is not None else []:
        tail = tails.get(source["path"])
        if tail is not None:
            # (a file with nothing in it yet is told by its first lines, at the rebuild that
            # reads them: the timeline takes an empty file for the server's, and a page's log
            # named phone.log was printed as no page's)
            tail.format = source["format"] if source.get("lines") else ""
            tail.journal = source.get("prefix") == journal_json.NAME
            if source["path"].endswith(PACKED):  # (read whole as it was)
                tail.compressed = True
                tail.offset, tail.line = os.fstat(tail.fh.fileno()).st_size, int(source.get("lines") or 0)
    # files renamed away by a rotation, by (device, inode), until they show up under their new name
    moved: dict[tuple[int, int], _Tail] = {}
    moved_from: dict[tuple[int, int], str] = {}  # (the name each had)
    # what each finding said when last printed: a finding told from part of the logs (a
    # phone's lines not read yet) is printed again when what it says changes
    seen: dict[tuple, tuple] = {}
    told_warnings: set[str] = set()  # (the warnings said, by _warning_key)

    def tell_warnings(tl, sel, left_out: list[str]) -> None:
        """What the logs read and --session / --client warn of, each said once: a rebuild says
        one again only when it says something new (see _warning_key)."""
        for warning in _follow_warnings(tl, sel, left_out):
            if (key := _warning_key(warning)) not in told_warnings:
                with ctrl_c:
                    console.print(f"warning: {warning}", style="yellow", highlight=False, markup=False,
                                  soft_wrap=True)
                    told_warnings.add(key)

    sel = selection(tl, started=False) if tl is not None else None
    for f in sel.to_json_dict()["findings"] if sel is not None else []:
        seen[finding_key(f)] = (f["severity"], f["summary"])
        console.print(_finding_line(f), highlight=False, markup=False, soft_wrap=True)
    if tl is not None:
        tell_warnings(tl, sel, left_out_of_directories(paths))
    sel = None  # (not held on to: the timeline read first is let go once the logs are read again)
    waiting = f" (waiting for {', '.join(not_yet)} to appear)" if not_yet else \
        "" if tails else " (waiting for log files to appear)"
    dirty_since = None
    last_listing = None
    said_gone: set[str] = set()  # (directories said to be removed)
    dirs_given = {p for p in paths if os.path.isdir(p)}
    said_error = None  # (the last error of a rebuild, said once)
    rebuild: _Rebuild | None = None  # (the one under way)

    def start_rebuild() -> None:
        """Read the logs again beside the follow, each file by the name it has now: one
        renamed by a rotation (app.log.1, when app.log alone is followed) still counts; one
        removed is left out (and let go: its space on the disk is freed)."""
        nonlocal rebuild
        names: dict[int, str] = {}
        read_by: list[_Tail] = []
        for ident in list(moved):
            if (name := _name_now(moved_from[ident], ident)) is None:
                moved.pop(ident).close()
                del moved_from[ident]
            else:
                names[id(moved[ident])] = name
                read_by.append(moved[ident])
        for p, t in tails.items():
            if t.fh is not None and (name := _name_now(p, t.ident)):
                names[id(t)] = name
                read_by.append(t)
        there = list(dict.fromkeys(names.values()))
        if not there:
            _show_held(kept=_kept(None, names), names=names)
            return

        def read(files: list[str]) -> tuple:
            tl = build(files)
            sel = selection(tl, started=True)
            return tl, sel, sel.to_json_dict()["findings"] if sel is not None else [], left_out_of_directories(paths)

        rebuild = _Rebuild(read, there, names, read_by, len(held))

    def finish_rebuild() -> None:
        """Tell what the rebuild done found: the lines held for it, the findings new, revised
        or withdrawn."""
        nonlocal rebuild, tl, said_error, last_end, last_cost, last_took
        done, rebuild = rebuild, None
        last_end, last_cost, last_took = time.monotonic(), done.cost, done.took
        if isinstance(done.error, DiagError):
            # (a file that went between the look and the read, or cannot be read: the
            # timeline read before stands, and it is read again at the next change)
            if str(done.error) != said_error:
                said_error = str(done.error)
                say(f"{done.error}: the findings are those of the logs read before")
            return
        if done.error is not None:
            raise done.error
        said_error = None
        tl, sel, findings, left_out = done.result
        names = done.names
        by_name = {source["path"]: source for source in tl.sources}
        for t in [*tails.values(), *moved.values()]:
            if t.format != "" or id(t) not in names:
                continue
            source = by_name.get(names[id(t)])
            if source is not None and source.get("lines"):
                t.format = source["format"]  # (as the timeline read it, once it has lines to tell by)
                t.journal = source.get("prefix") == journal_json.NAME
            elif source is None and t.offset:
                t.format = None  # (not a log: the timeline left it out)
        _show_held(kept=_kept(sel, names), names=names, upto=done.held)
        # (what is told from now on is this reading's findings, each under its own key)
        matched, gone = match_findings(seen, findings)
        told = dict(seen)
        seen.clear()
        for key, f, before in matched:
            said = seen[key] = (f["severity"], f["summary"])
            if before is None or told[before] != said:
                with ctrl_c:
                    console.print(_finding_line(f, revised=before is not None), highlight=False, markup=False,
                                  soft_wrap=True, style="bold")
        # a finding told from part of the logs that more of them no longer bear out
        for key in gone:
            with ctrl_c:
                console.print(_withdrawn_line(key, told[key]), highlight=False, markup=False,
                              soft_wrap=True, style="bold")
        tell_warnings(tl, sel, left_out)

    def last_rebuild() -> None:
        """At a stop with --session / --client, the lines held are printed once the logs are
        read once more (FOLLOW_LAST_REBUILD_S at most, or twice as long as the last read took;
        a second Ctrl-C leaves them out)."""
        wait = max(FOLLOW_LAST_REBUILD_S, 2 * last_took)
        say(f"stopping: the logs are read once more (up to {wait:.0f} s) for the {len(held)} line(s) not told on "
            f"yet (Ctrl-C again to leave them out)")
        deadline = time.monotonic() + wait
        for _ in range(2):  # (the rebuild under way, if it started before some were held; then one)
            if rebuild is None:
                start_rebuild()
            if rebuild is None or not rebuild.done.wait(max(0.0, deadline - time.monotonic())):
                break
            finish_rebuild()
            if not held:
                return
        say(f"{len(held)} line(s) left out: the logs could not be read again in time")

    followed = len([t for t in tails.values() if t.format is not None])
    ctrl_c.install()
    try:
        # (inside: a Ctrl-C once this is printed is a stop, not an interrupted start)
        with ctrl_c:
            console.print(f"following {followed} file(s){waiting}; Ctrl-C to stop", style="dim")
        while True:
            if rebuild is not None and rebuild.done.is_set():
                finish_rebuild()
            for path, tail in list(tails.items()):
                found = _ident(path)
                if tail.fh is not None and (found is None or found[0] != tail.ident):
                    # renamed or removed: first what was written to it until then
                    if not tail.compressed and _read_lines(tail, path):
                        dirty_since = dirty_since or time.monotonic()
                    if found is None:
                        if os.fstat(tail.fh.fileno()).st_nlink:
                            continue  # (a log rotated or renamed away: its new name is looked for)
                        # removed. The server's own log is still written to by a server that
                        # holds it open: read on, and a new one under its name is read once
                        # there. A page's log (opened for each line), a compressed one or one
                        # that is no log is let go: its lines no longer count, so the findings
                        # told from them are looked at again
                        keep = tail.format is not None and not tail.compressed and not frontend.client_of(path)
                        if not tail.removed_said:
                            tail.removed_said = True
                            if (gone := _gone_dir(path)) is not None:
                                if not _within(path, said_gone):
                                    said_gone.add(gone)
                                    say(f"{gone} was removed: followed again if it comes back")
                            elif keep:
                                say(f"{path} was removed: what is still written to it is read, and a new {path} "
                                    f"once there is one")
                            elif tail.format is not None:
                                say(f"{path} was removed: no longer read")
                        if keep:
                            continue
                        tail.close()
                        del tails[path]
                        dirty_since = dirty_since or time.monotonic()
                        continue
                    # another file under this name: the one read so far goes on under its new name
                    # (whole when a Ctrl-C comes: the stop reads on every file, by its name)
                    with ctrl_c:
                        moved[tail.ident] = tail
                        moved_from[tail.ident] = path
                        tail = tails[path] = _Tail(format=tail.format, compressed=tail.compressed)
                if tail.fh is None and not tail.open(path):
                    if found is not None and not tail.unreadable:
                        tail.unreadable = True
                        say(f"{path}: cannot read it: not followed till it can be")
                    continue
                if tail.compressed:
                    if tail.grew():  # (written by gzip still: the timeline reads it again)
                        dirty_since = dirty_since or time.monotonic()
                    continue
                if _read_lines(tail, path):
                    dirty_since = dirty_since or time.monotonic()
            # new paths matching the arguments (a new frontend file, a rotated file) join the follow;
            # the directories are listed again only when one changed (a listing of thousands of
            # page logs four times a second kept a CPU busy while nothing was written)
            # (a change within a coarse clock's tick of the last look may not move it: a
            # directory changed lately is listed each time)
            listing = _listing_state(paths)
            unchanged = listing is not None and listing == last_listing and time.time() - _newest(listing) > 2.0
            last_listing = listing
            if not unchanged:
                said_gone = {d for d in said_gone if not os.path.isdir(d)}  # (one back is said again)
                for p in paths:  # (a directory given, removed with no file in it, is said so too)
                    if os.path.isdir(p):
                        dirs_given.add(p)
                    elif p in dirs_given:
                        dirs_given.discard(p)
                        if not _within(p, said_gone):
                            said_gone.add(p)
                            say(f"{p} was removed: followed again if it comes back")
            for p in [] if unchanged else _files_now(paths):
                if p in tails or (found := _ident(p)) is None:
                    continue
                ident = found[0]
                # a file already read, renamed by a rotation: read on from where it was (taken
                # from where it waited and put under its name as one, whatever the Ctrl-C)
                with ctrl_c:
                    renamed = moved.pop(ident, None) or next(
                        (tails.pop(q) for q, t in list(tails.items()) if t.ident == ident and _ident(q) is None),
                        None)
                    if renamed is None:
                        # (a copytruncate's copy, seen before or after its file was cut short)
                        of = next((t for q, t in tails.items() if t.format is not None and not t.compressed
                                   and (copy_of(q, t.head, [p]) or copy_of(q, t.cut_head, [p]))), None)
                        if of is not None and (renamed := _copied(p, of)) is not None:
                            say(f"{p}: a copy of a log followed (a copytruncate rotation): read for the findings, "
                                f"its lines not printed again")
                            dirty_since = dirty_since or time.monotonic()
                    if renamed is None and p.endswith(PACKED):
                        # (a rotated log compressed, most likely: its lines were printed as they were
                        # written to it)
                        renamed = _Tail(format="", compressed=True)
                        if renamed.open(p):
                            say(f"{p}: compressed: read for the findings, its lines not printed")
                            dirty_since = dirty_since or time.monotonic()
                    tails[p] = renamed or _Tail(format="", ident=ident)
            if rebuild is None and _rebuild_due(time.monotonic(), dirty_since, last_end, last_cost):
                dirty_since = None
                start_rebuild()
            if rebuild is not None:
                rebuild.done.wait(FOLLOW_POLL_S)  # (its findings are told as soon as it is done)
            else:
                time.sleep(FOLLOW_POLL_S)
    except KeyboardInterrupt:
        # (what was written till the stop is printed: a line just written is not lost to it)
        for path, tail in [*tails.items(), *((moved_from[ident], t) for ident, t in moved.items())]:
            if tail.fh is not None and not tail.compressed:
                _read_lines(tail, path)
        if selecting and held:
            try:
                last_rebuild()
            except KeyboardInterrupt:
                pass
        _show_held(final=True)
        console.print("stopped", style="dim")
    finally:
        ctrl_c.uninstall()


def timeline(
    paths: Annotated[list[str] | None, typer.Argument(
        help="Log files, directories (recursively *.log, *.log.N, *.log.DATE, *.gz, *.jsonl, journal exports *.json), globs, "
             "or - for stdin.",
        show_default=False)] = None,
    fmt: Annotated[str | None, typer.Option("--format", "-f", help="Output: text, json (the timeline), csv, parquet, "
                                            "jsonl (the events), perfetto (a trace for ui.perfetto.dev). Default: "
                                            "the one --output's suffix names (.json, .csv, .parquet, .jsonl), "
                                            "else text.", show_default=False)]
    = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to FILE instead of stdout (- for stdout).")] = None,
    session: Annotated[str | None, typer.Option(help="Only this session (UUID, 8-char prefix or new-... id).")]
    = None,
    client: Annotated[str | None, typer.Option(help="Only this frontend clientId (or a prefix of it).")] = None,
    since: Annotated[str | None, typer.Option(help="Only from this instant (ISO 8601, UTC unless it says; or a "
                                              "time of day, 10:05:00 or 11:05+01:00, on the logs' day).")]
    = None,
    until: Annotated[str | None, typer.Option(help="Only up to this instant (as --since).")] = None,
    tz: Annotated[str | None, typer.Option(help="Backend zone when the logs carry no epochs (Europe/Berlin, +08:00).")]
    = None,
    panel_date: Annotated[str | None, typer.Option(help="The date of a debug-panel copy's times (YYYY-MM-DD), "
                                                   "which the panel leaves out (default: the other logs' day).")]
    = None,
    panel_tz: Annotated[str | None, typer.Option(help="The zone of a debug-panel copy's times: the browser's "
                                                 "(default: the backend's).")] = None,
    no_skew: Annotated[bool, typer.Option("--no-skew", help="Do not correct frontend clocks.")] = False,
    format_of: Annotated[list[str] | None, typer.Option("--format-of", help="Force a file's format: PATH=KIND "
                                                        "(backend, frontend, panel, console, jsonl).")] = None,
    follow: Annotated[bool, typer.Option("--follow", help="Keep reading growing files, and new files "
                                         "in the directories given (a file not written yet is waited for; a "
                                         "rotated one is read on); print events and findings as they appear "
                                         "(Ctrl-C stops).")] = False,
    kinds: Annotated[bool, typer.Option("--kinds", help="List the event kinds and exit.")] = False,
) -> None:
    """Correlate frontend and backend logs into one clock-aligned timeline per client and
    session, and name what went wrong (findings with evidence).

    Example (in the Jarvis backend's folder, where it writes its logs):
    jarvis-diag timeline logs/app.log logs/frontend/ --session 453424df
    """
    console = Console(soft_wrap=False, width=_page_width(sys.stdout.isatty()))
    if kinds:
        _print_kinds(console)
        return
    if not paths:
        raise DiagError("give log files or directories (or --kinds); see jarvis-diag timeline --help")
    formats = _formats()
    format_given = fmt is not None
    if fmt is None:  # (-o tl.json wrote the terminal's table into tl.json, which report then could not read)
        fmt = _SUFFIX_FORMAT.get(output.suffix.lower(), "text") if output is not None else "text"
    if fmt not in formats:
        raise DiagError(f"--format {fmt}: unknown (one of {', '.join(formats)})")
    fmt_of = _parse_format_of(format_of)
    from jarvis_diag.timeline import parse_instant

    for name, value in (("session", session), ("client", client), ("since", since), ("until", until)):
        if value is not None and not value.strip():  # (an empty variable in a script, most likely)
            raise DiagError(f"--{name}: empty; leave the option out to keep every {name}")
    for name, value in (("since", since), ("until", until)):
        try:
            parse_instant(value, name)  # (before the logs are read: a typo costs no wait)
        except DiagError as exc:
            raise DiagError(f"--{exc}") from None
    for name, value in (("--tz", tz), ("--panel-tz", panel_tz)):
        if value is not None:
            _check_tz(value, name)
    output = output_file(output)
    check_output(output, paths, "logs")
    if follow:
        if "-" in paths:
            raise DiagError("--follow reads files, not stdin")
        # (it prints lines as they come, from now on: an option it would ignore is an error)
        ignored = [name for name, given in (("--format", format_given and fmt != "text"), ("--output", output is not None),
                                            ("--since", since), ("--until", until)) if given]
        if ignored:
            raise DiagError(f"--follow prints new lines and findings as text, from now on: it takes no "
                            f"{' or '.join(ignored)} (run without --follow for those)")
        _end_quietly_when_the_reader_goes(console)
        try:
            # (from the start: the files are opened and their lines counted before they are read)
            with _reading_status() as read:
                _follow(paths, tz, fmt_of, no_skew, console, session, client, read, (panel_date, panel_tz))
        except _ReaderGone:
            pass
        return
    from jarvis_diag.ingest import ingest
    from jarvis_diag.timeline import build_timeline

    stdin = sys.stdin.buffer if "-" in paths else None
    # big logs take seconds: say what is going on (on stderr, only for a person watching)
    with Console(stderr=True).status("reading logs...") if sys.stderr.isatty() else nullcontext() as status:
        ingested = ingest(paths, tz=tz, format_of=fmt_of, stdin=stdin, panel_date=panel_date, panel_tz=panel_tz)
        if status is not None:
            status.update(f"correlating {len(ingested.events):,} events...")
        _HELD.clear()  # (one run's worth at most, for callers in the same process)
        # (the output formats of the events alone need no findings)
        tl = build_timeline(ingested, no_skew=no_skew, keep=_HELD, parallel=fmt in ("text", "json", "perfetto"))
        _HELD.append(tl)
    # (no line of a Jarvis log: the output shows what was read and why, and the exit code says
    # that nothing was checked, as a script or CI must not read it as an all-clear)
    recognised = bool((tl.events["kind"] != "unknown").any())
    if session or client or since or until:
        tl = _select(tl, session, client, since, until)
    if fmt != "text" and tl.warnings:  # (the text view shows them itself)
        errors = Console(stderr=True, soft_wrap=True, highlight=False)
        for warning in tl.warnings:
            errors.print(f"warning: {warning}", style="yellow", markup=False)
    if fmt == "text":
        if output is not None:
            out = Console(file=io.StringIO(), width=_page_width(False), soft_wrap=False)
            out.print(tl)
            _emit(out.file.getvalue(), output)
        else:
            console.print(tl)
    elif fmt == "json":
        _emit(tl.to_json_chunks(), output)
    elif fmt == "perfetto":
        from jarvis_diag.perfetto import to_trace

        _emit(json.dumps(to_trace(tl.to_json_dict())) + "\n", output)
    else:
        _write_events(tl, fmt, output)
    if not recognised:
        raise DiagError("no line of these logs is one the Jarvis backend or frontend writes: nothing could be "
                        "checked (timeline --format-of PATH=KIND forces a format)")


def register(app: typer.Typer) -> None:
    """Add this command to the application."""
    app.command("timeline", short_help="Correlate frontend and backend logs into one clock-aligned timeline per "
                "client and session, and name what went wrong (findings with evidence).")(timeline)

"""Reading report inputs (the I/O edge): a simulate-mobile ``results.jsonl`` (or the folder
holding it), a ``timeline --format json`` file, or raw logs and folders of logs, from which a
timeline is built on the fly."""

from __future__ import annotations

import codecs
import glob
import json
import re
import shlex
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from jarvis_diag.errors import DiagError
from jarvis_diag.report.dataset import Dataset, InputInfo, add_sim_records, add_timeline, timeline_problem

SIM_SCHEMA = "jarvis-diag.sim/1"
TIMELINE_SCHEMA = "jarvis-diag.timeline/1"
REPORT_SCHEMA = "jarvis-diag.report/1"
EVENT_SCHEMA = "jarvis-diag.event/1"

_SIM_HEAD = re.compile(rb'\{\s*"schema"\s*:\s*"' + re.escape(SIM_SCHEMA.encode()) + rb'"')
_SIM_LINE = re.compile(rb'^[ \t]*' + _SIM_HEAD.pattern, re.MULTILINE)
_SCHEMA_HEAD = re.compile(rb'\{\s*"schema"\s*:\s*"(jarvis-diag\.[\w.-]+/\d+)"')
# magic -> (the module that reads it, how to decompress it on the command line)
_UNPACK = {b"\x1f\x8b": ("gzip", "gunzip -k"), b"\xfd7zXZ\x00": ("lzma", "unxz -k"), b"BZh": ("bz2", "bunzip2 -k")}

Progress = Callable[[int], None]  # called with bytes read since the last call


def _not_a_file(path: str, what: str) -> str:
    return (f"{path}: report reads files, not {what} (a report names the file and line of each case): save it to "
            "a file and give that")


def classify(path: str) -> str:
    """``sim``, ``timeline`` or ``logs`` for one input path."""
    if not path:  # (Path("") is the current folder: `report "$RUN"` with RUN unset read all of it)
        raise DiagError("an empty path was given as an input (a shell variable that is not set?)")
    p = Path(path)
    if path == "-" and not p.exists():
        raise DiagError(_not_a_file("-", "standard input"))
    if not p.exists():
        raise DiagError(f"no such file or directory: {path}")
    if p.is_dir():
        return "sim" if (p / "results.jsonl").is_file() else "logs"
    if not p.is_file():  # (`report <(zcat app.log.gz)`: a look at a pipe's head takes what it holds)
        raise DiagError(_not_a_file(path, "a pipe" if p.is_fifo() else "a device"))
    try:
        with open(p, "rb") as f:
            head = f.read(65536)
    except OSError as exc:
        raise DiagError(f"cannot read {path}: {exc.strerror}") from None
    if head.startswith(tuple(_UNPACK)):  # (gzip, xz or bzip2: no import of the log reader for the rest)
        return _compressed_kind(path, head)
    text = head.removeprefix(codecs.BOM_UTF8).lstrip()  # (a BOM: an editor saved it so)
    if not text and p.name == "results.jsonl":
        return "sim"  # (a run that stopped before its first cycle: said as such, see _no_record)
    if head.startswith(b"PAR1") or _events_csv(text):
        what = "a Parquet file (timeline --format parquet?)" if head.startswith(b"PAR1") else \
            "the events of a timeline as CSV"
        raise DiagError(f"{path}: {what}: report reads a timeline JSON (timeline --format json) or its events as "
                        "JSONL (timeline --format jsonl)")
    if not text.startswith(b"{"):
        # (results with a line of something else before them: read as results, the line is said to be wrong)
        return "sim" if _SIM_LINE.search(text) else "logs"
    first = text.split(b"\n", 1)[0]
    try:
        schema = json.loads(first).get("schema")
    except (ValueError, AttributeError):
        # (a results file whose one line is cut off: a run stopped while writing its first record)
        schema = SIM_SCHEMA if _SIM_HEAD.match(first) else None
    if schema == SIM_SCHEMA:
        return "sim"
    if schema == EVENT_SCHEMA:
        return "logs"  # our own JSONL events, read by the timeline builder
    if schema is None and b'"schema"' in head[:4096]:
        schema = _document_schema(path, text)
    if schema == TIMELINE_SCHEMA:
        return "timeline"
    if schema == REPORT_SCHEMA:
        raise DiagError(f"{path} is a report: it keeps no per-case data; give the inputs it was made from")
    if schema and str(schema).startswith("jarvis-diag."):
        raise DiagError(f"{path}: unsupported schema {schema!r} (expected {SIM_SCHEMA} or {TIMELINE_SCHEMA})")
    return "logs"  # whether it is one is known once read (see _check_read)


def _events_csv(text: bytes) -> bool:
    """Whether ``text`` begins with the header of the events as timeline --format csv writes them."""
    from jarvis_diag.events import COLUMNS

    return text.startswith(",".join(list(COLUMNS)[:6]).encode() + b",")


def _document_schema(path: str, head: bytes) -> str | None:
    """The schema of a JSON document; a DiagError for a timeline document that breaks off
    (cut short while written or copied), which would read as a log of unknown lines."""
    try:
        with open(path, encoding="utf-8-sig") as f:
            doc = json.load(f)
    except (ValueError, UnicodeDecodeError) as exc:
        named = _SCHEMA_HEAD.match(head)
        if named is None or named.group(1).decode() != TIMELINE_SCHEMA:
            return named.group(1).decode() if named else None
        where = f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise DiagError(f"{path}: a {TIMELINE_SCHEMA} document that is not whole JSON (JSON error{where}: cut "
                        "short while written or copied?); write it again with jarvis-diag timeline LOGS --format "
                        "json -o FILE") from None
    return doc.get("schema") if isinstance(doc, dict) else None


def _packed_as(head: bytes) -> tuple[str, str]:
    """(the module that reads it, how to decompress it) of data starting with ``head``, gzip,
    xz or bzip2 data."""
    return next(v for magic, v in _UNPACK.items() if head.startswith(magic))


def _unpacked_start(path: str, head: bytes, size: int = 4096) -> bytes:
    """The first ``size`` bytes that the compressed file ``path`` (``head``: its first bytes)
    holds, or what comes before a cut or damage in them. Read from the file as far as they
    need: bzip2 gives nothing of a block (up to 900 kB of text) before it is read whole."""
    import importlib
    import lzma

    module, _ = _packed_as(head)
    opener = importlib.import_module(module).open
    got = b""
    try:
        with opener(path, "rb") as f:
            while len(got) < size and (piece := f.read(size - len(got))):
                got += piece
    except (OSError, EOFError, lzma.LZMAError):
        pass  # (a damaged or cut stream: what came before it; the log reader says what is wrong)
    return got


def _compressed_kind(path: str, head: bytes) -> str:
    """``logs`` for gzip, xz or bzip2 data (the timeline builder reads compressed logs); a
    DiagError for compressed results or a compressed timeline, which report reads as written."""
    text = _unpacked_start(path, head).removeprefix(codecs.BOM_UTF8).lstrip()
    named = _SCHEMA_HEAD.match(text)
    schema = named.group(1).decode() if named else None
    if schema not in (SIM_SCHEMA, TIMELINE_SCHEMA):
        return "logs"
    what = "timeline JSON document" if schema == TIMELINE_SCHEMA else "simulate-mobile results file"
    _, tool = _packed_as(head)
    raise DiagError(f"{path}: a compressed {what}: report reads it uncompressed; decompress it first "
                    f"({tool} {shlex.quote(path)}) and give the file that makes")


def read_sim_records(path: Path, progress: Progress | None = None,
                     notes: list[str] | None = None) -> Iterator[tuple[int, dict]]:
    """The records of a results.jsonl with their line numbers. A damaged last line (a run
    stopped while writing) is skipped with a note; damage elsewhere is an error."""
    bad: list[int] = []
    pending = 0
    with open(path, "rb") as f:
        for line_no, raw in enumerate(f, 1):
            pending += len(raw)
            if progress is not None and pending >= 1 << 20:
                progress(pending)
                pending = 0
            if not raw.strip():
                continue
            if bad:  # a damaged line followed by more records: not just a cut-off end
                raise DiagError(f"{path}:{bad[0]}: not a JSON record")
            try:
                rec = json.loads(raw)
            except ValueError:
                bad.append(line_no)
                continue
            if not isinstance(rec, dict) or rec.get("schema") != SIM_SCHEMA:
                raise DiagError(f"{path}:{line_no}: not a {SIM_SCHEMA} record")
            yield line_no, rec
    if progress is not None and pending:
        progress(pending)
    if bad and notes is not None:
        notes.append(f"{path}:{bad[0]}: the last line is cut off (run stopped while writing?) and was skipped")


def _no_record(path: Path) -> str:
    """Why a results file holding no record is an error (a report of it would read as a run
    with nothing wrong): empty (the run stopped before its first cycle), or only a cut line."""
    with open(path, "rb") as f:
        what = "its only record is cut off" if f.read(4096).strip() else "empty"
    return f"{path}: {what}, no cycle to report (did the run stop before its first cycle ended?)"


def _runs_note(path: str, runs: list[str]) -> str:
    """What a results file holding several runs (``cat a/results.jsonl b/results.jsonl``)
    was read as: each run an input of its own, reported together."""
    shown = ", ".join(runs[:5]) + (f" and {len(runs) - 5} more" if len(runs) > 5 else "")
    return (f"{path} holds {len(runs)} runs one after the other ({shown}): each is listed as an input of its own "
            "and, as several results files given together are, they are reported together; to compare one run "
            "with another, give each in a file of its own, the baseline after --compare")


def _timeline_doc(paths: list[str]) -> dict:
    try:
        from jarvis_diag.timeline import load_timeline
    except ImportError:
        raise DiagError("raw logs need the timeline builder, which this installation lacks; "
                        "give a results.jsonl or a timeline JSON file") from None
    return load_timeline([str(p) for p in paths]).to_json_dict()


@dataclass(frozen=True)
class Input:
    """One path given, looked at once (what it is, the files it stands for) for every use:
    the --output check, the size progress is measured in, and the reading."""

    path: str  # as given
    kind: str  # "sim", "timeline" or "logs"
    file: Path  # what is read: a run folder's results.jsonl, else the path itself
    files: tuple[str, ...]  # the files it stands for (a folder's: its logs and results.jsonl, found once)
    unlisted: str | None = None  # why a run folder's logs could not be listed (its results.jsonl is read)


def resolve_inputs(paths: list[str]) -> list[Input]:
    """Each path given as an :class:`Input`; a glob (quoted, so the shell left it, as
    ``timeline`` takes it) as each file or folder it matches. A folder is walked here and only here; a
    path that is not there, a glob matching no file, or one that cannot be read is a DiagError."""
    if not paths:
        raise DiagError("no input given")
    from jarvis_diag.ingest import GLOB_CHARS, expand_paths

    globbed = []
    for path in paths:
        if path and not Path(path).exists() and any(c in path for c in GLOB_CHARS):
            # (files, and folders: a run's folder is an input of its own)
            matches = sorted(m for m in glob.glob(path, recursive=True) if Path(m).is_file() or Path(m).is_dir())
            if not matches:
                raise DiagError(f"{path}: matches no file")
            globbed += matches
        else:
            globbed.append(path)
    out = []
    for path in globbed:
        kind = classify(path)
        p = Path(path)
        if not p.is_dir():
            out.append(Input(path, kind, p, (path,)))
            continue
        f = p / "results.jsonl" if kind == "sim" else p
        try:
            files = tuple(expand_paths([path], allow_empty=True))
        except DiagError as exc:
            if kind != "sim":
                raise
            out.append(Input(path, kind, f, (str(f),), str(exc)))  # (a note: the results were read)
            continue
        out.append(Input(path, kind, f, files if kind != "sim" or str(f) in files else (str(f), *files)))
    return out


def input_size(inputs: list[Input]) -> int:
    """Bytes of the results.jsonl files among ``inputs`` (what progress is measured in), each
    counted once, as it is read once (``run`` and ``run/results.jsonl``)."""
    return sum(f.stat().st_size for f in {i.file.resolve() for i in inputs if i.kind == "sim"})


def load_dataset(paths: list[str], progress: Progress | None = None,
                 notes: list[str] | None = None, folder_logs: bool = True) -> Dataset:
    """Read every input into one Dataset (:func:`load_inputs` of :func:`resolve_inputs`)."""
    return load_inputs(resolve_inputs(paths), progress, notes, folder_logs)


def load_inputs(inputs: list[Input], progress: Progress | None = None,
                notes: list[str] | None = None, folder_logs: bool = True) -> Dataset:
    """Read every input into one Dataset. Raw logs are read together, as one timeline,
    since a backend log and its frontend logs only make sense side by side. A file given
    twice (``run`` and ``run/results.jsonl``) is read once; a file that is neither results,
    a timeline nor a log jarvis-diag reads is a DiagError.

    A run folder (``results.jsonl`` with the logs of the run beside it, ``frontend/`` and
    perhaps ``app.log``) gives its figures from ``results.jsonl`` alone and, with
    ``folder_logs``, the findings of its logs too (see :func:`_add_folder_findings`)."""
    if not inputs:
        raise DiagError("no input given")
    ds = Dataset()
    raw: list[Input] = []
    folders: list[tuple[Input, Path]] = []  # run folders given: (the input, its results.jsonl resolved)
    seen: dict[str, str] = {}  # resolved file -> the path it was given as
    timelines: list[tuple[str, dict]] = []  # timeline documents given: (path, document)
    for inp in inputs:
        path, kind, f = inp.path, inp.kind, inp.file
        key = str(f.resolve())
        if kind == "sim" and Path(path).is_dir() and all(r != f.resolve() for _, r in folders):
            folders.append((inp, f.resolve()))  # (also after its results.jsonl: the folder was given)
        if key in seen:
            if notes is not None:
                notes.append(f"{path}: the same input as {seen[key]}, read once")
            continue
        seen[key] = path
        if kind == "sim":
            runs = add_sim_records(ds, str(f), read_sim_records(f, progress, notes))
            if not ds.inputs[-1].records:
                raise DiagError(_no_record(f))
            if runs and notes is not None:
                notes.append(_runs_note(str(f), runs))
        elif kind == "timeline":
            with open(path, encoding="utf-8-sig") as fh:
                doc = json.load(fh)
            if (problem := timeline_problem(doc)) is not None:
                raise DiagError(f"{path}: {problem} (not a {TIMELINE_SCHEMA} document as timeline --format json "
                                "writes it)")
            _check_read(doc, f"{path}: a timeline of ")
            add_timeline(ds, path, doc)
            _note_warnings(doc, notes)
            timelines.append((path, doc))
        else:
            raw.append(inp)
    given = _check_counted_once(timelines, raw)
    ds.logs = dict(given)
    if raw:
        _note_runs_inside(raw, notes)
        paths = [i.path for i in raw]
        doc = _timeline_doc(paths)
        _check_read(doc, "")
        add_timeline(ds, ", ".join(paths), doc, "jarvis-diag timeline " + " ".join(shlex.quote(r) for r in paths))
        ds.inputs[-1].kind = "logs"
        ds.inputs[-1].paths = paths
        _note_warnings(doc, notes)
    if folder_logs and folders:
        for inp, results in folders:
            _add_folder_findings(ds, inp, results, set(given), notes)
    return ds


def _check_counted_once(timelines: list[tuple[str, dict]], raw: list[Input]) -> dict[str, str]:
    """The log files read (resolved, each to the input it was read as): the raw logs given
    and those the timelines given were made from. A DiagError for a timeline given with logs
    it was made from (given as logs, or read by another timeline given): the cases of those
    logs would be counted twice. A timeline names its logs as they were given when it was
    made: those not found from here are not compared."""
    given = {str(Path(f).resolve()): i.path for i in raw for f in i.files}
    for path, doc in timelines:
        mine = {str(Path(s["path"]).resolve()): s["path"] for s in doc.get("sources") or ()
                if isinstance(s.get("path"), str) and s["path"] != "-" and Path(s["path"]).is_file()}
        both = sorted(mine.keys() & given.keys())
        if both:
            raise DiagError(f"{path}: a timeline of {mine[both[0]]}, also given ({given[both[0]]}): its cases would "
                            "be counted twice; give the timeline or the logs it was made from, not both")
        given.update(dict.fromkeys(mine, path))
    return given


def _note_runs_inside(inputs: list[Input], notes: list[str] | None) -> None:
    """A note for each folder of logs given that holds run folders (``runs/`` with
    ``runs/a/results.jsonl``...): their logs are read, but not their results, which a
    folder of logs does not name; the note says how to have them read."""
    if notes is None:
        return
    for inp in inputs:
        path = inp.path
        if not Path(path).is_dir():
            continue
        runs = sorted(str(Path(f).parent) for f in inp.files
                      if Path(f).name == "results.jsonl" and classify(f) == "sim")
        if runs:
            shown = " ".join(shlex.quote(r) for r in runs[:3]) + (" ..." if len(runs) > 3 else "")
            folders = "the run folder" if len(runs) == 1 else f"the {len(runs)} run folders"
            notes.append(f"{path}: read as a folder of logs, so the results.jsonl of {folders} in it "
                         f"{'was' if len(runs) == 1 else 'were'} not read; to read "
                         f"{'it' if len(runs) == 1 else 'them'}, give the run folders: jarvis-diag report {shown}")


def _resolved(files: Iterable[str]) -> set[str]:
    return {str(Path(f).resolve()) for f in files}


def _add_folder_findings(ds: Dataset, inp: Input, results: Path, given: set[str], notes: list[str] | None) -> None:
    """The findings of the logs in a run folder (the pages' ``frontend/`` logs, the server's
    ``app.log`` when it was written there): what went wrong, which results.jsonl does not
    say. Only the findings: the folder's figures (attaches, recoveries, unrecovered cycles)
    come from results.jsonl, and its logs measure the same cycles again, so counting both
    would count every case twice. Nothing is read when the folder holds no log, or when its
    logs are also given as inputs of their own (they are read there, figures and all). Logs
    that cannot be read are a note: the results were."""
    path = inp.path
    try:
        if inp.unlisted is not None:
            raise DiagError(inp.unlisted)
        logs = _resolved(inp.files) - {str(results)}
        if not logs or logs & given:
            return
        doc = _timeline_doc([path])
        _check_read(doc, f"{path}: ")
    except DiagError as exc:
        if notes is not None:
            notes.append(f"{path}: its logs were not read for findings: {exc}")
        return
    ds.timeline_hint[path] = "jarvis-diag timeline " + shlex.quote(path)
    if notes is not None and not any(s.get("format") == "backend" for s in doc.get("sources") or ()):
        # (a run against a server elsewhere: what went wrong on the server's side, a
        # single-live-session, a reload, is in its log, which the folder does not hold)
        notes.append(f"{path}: no server log in the run folder, so its findings are the pages' alone; the server's "
                     f"side is in the server's log: jarvis-diag timeline SERVER_LOG {shlex.quote(path)}")
    ds.findings.extend(dict(f, source=path) for f in doc.get("findings") or ())
    records = sum(len(s.get("attaches") or ()) for s in doc.get("sessions") or ()) + len(doc.get("episodes") or ())
    ds.inputs.append(InputInfo(path, "logs", records, [path], findings_only=True))
    _note_warnings(doc, notes)


NOT_READ = "neither a simulate-mobile results file nor a log jarvis-diag reads"


def _check_read(doc: dict, prefix: str) -> None:
    """A DiagError when a log of ``doc`` (a timeline) has lines but none jarvis-diag reads
    (another program's log, some other JSON, binary data), or when every log is empty: a
    report of them would say "no findings" of what was never read."""
    sources = doc.get("sources") or []
    unread = [s for s in sources if s.get("events") and s.get("unknown") == s.get("events")]
    if unread:
        s = unread[0]
        lines = "its one line is not one" if s["lines"] == 1 else f"none of its {s['lines']} lines is one"
        more = f" (and {len(unread) - 1} more such files)" if len(unread) > 1 else ""
        raise DiagError(f"{prefix}{s.get('path')}: {NOT_READ} ({lines} the Jarvis backend or frontend writes)"
                        f"{more}")
    if sources and not any(s.get("lines") for s in sources):
        names = ", ".join(str(s.get("path")) for s in sources)
        raise DiagError(f"{prefix}{names}: empty, nothing to report")


def _note_warnings(doc: dict, notes: list[str] | None) -> None:
    """What reading the logs warned of (a file that is no Jarvis log, a guessed zone...)."""
    if notes is not None:
        notes.extend(w for w in doc.get("warnings", []) if w not in notes)

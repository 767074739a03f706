"""The checks an --output file passes before any input is read."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from jarvis_diag.errors import DiagError


def output_file(output: Path | None) -> Path | None:
    """The file an --output names; None for standard output (no --output, or ``-``: a file
    named '-' was written)."""
    return None if output is None or str(output) == "-" else output


def check_output(output: Path | None, paths: list[str], what: str = "inputs") -> None:
    """An --output that cannot be written, or that is one of the ``paths`` given (``what``
    they are, in the message: a log, a folder's log, a run's results.jsonl), which writing
    would destroy, is an error before anything is read."""
    if output is None:
        return
    if output.is_dir():
        raise DiagError(f"--output {output}: is a directory (give a file name)")
    if not output.parent.is_dir():
        raise DiagError(f"--output {output}: no directory {output.parent} to write it in")
    from jarvis_diag.ingest import expand_paths

    target = output.resolve()
    for path in paths:
        if path == "-":
            continue
        p = Path(path)
        # (a folder: its logs and its run's results; a glob: the files it matches)
        given = [p / "results.jsonl", *map(Path, expand_paths([path], allow_empty=True))] if p.is_dir() else \
            [p] if p.exists() else list(map(Path, expand_paths([path], allow_empty=True)))
        if any(f.resolve() == target for f in given):
            raise DiagError(f"--output {output}: is one of the {what} given ({path}); writing it would destroy it")


@contextmanager
def replacing(output: Path) -> Iterator[Path]:
    """The path to write an --output file at: a new file beside it, renamed over it when the
    block ends without an error and removed when it fails, so that a write that fails half
    way (a full disk) leaves the file that was there as it was. A symlink's file is the one
    replaced; a device, a pipe or another special file is written in place. The new file is
    made here, as no file was before (whatever was at its name, a symlink put there, is
    removed first), with the permissions of the file it replaces from the start. A file in a
    folder where no file can be made beside it is written in place."""
    target = output.resolve()
    if target.exists() and not target.is_file():
        yield output
        return
    mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else 0o666  # (less the umask for a new file)
    part = target.with_name(f".{target.name}.{os.getpid()}.part")
    with contextlib.suppress(OSError):  # (one that stays makes the next step fail: nothing written)
        part.unlink(missing_ok=True)
    try:
        os.close(os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode))
    except PermissionError:  # a folder we may not add to, holding a file we may write: in place, as before
        if not (target.is_file() and os.access(target, os.W_OK)):
            raise
        yield output
        return
    try:
        yield part
        if target.exists():  # (the file keeps its permissions, whatever the umask)
            os.chmod(part, mode)
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)

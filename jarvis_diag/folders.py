"""Output folders a command makes anew (a sample set, a demo run): written beside the old one
and put in its place whole once done, so that a run that fails or is interrupted half way
leaves what was there as it was."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from jarvis_diag.errors import DiagError


def check_ours(folder: Path, names: Iterable[str]) -> None:
    """DiagError when ``folder`` holds an entry not among ``names`` (what the command writes
    there): someone else's file, not the command's to remove with the rest."""
    if not folder.is_dir() or folder.is_symlink():
        return
    try:
        stray = sorted(p.name for p in folder.iterdir() if p.name not in set(names))
    except OSError as exc:
        raise DiagError(f"{folder}: cannot read ({exc.strerror or exc})") from exc
    if stray:
        shown = ", ".join(stray[:3]) + (f" and {len(stray) - 3} more" if len(stray) > 3 else "")
        raise DiagError(f"{folder}: holds {shown}, which this command did not write and would remove with the "
                        f"folder; move it, or give another folder")


@contextmanager
def fresh_folder(folder: Path) -> Iterator[Path]:
    """An empty folder beside ``folder`` to write what goes there; when the block ends without
    an error it takes ``folder``'s place (what was there, a folder or a file, removed then);
    when it fails or is interrupted it is removed and ``folder`` is left as it was."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    _clear_leftovers(folder)
    part = folder.with_name(f".{folder.name}.{os.getpid()}.part")
    part.mkdir()
    try:
        yield part
    except BaseException:
        shutil.rmtree(part, ignore_errors=True)
        raise
    old = folder.with_name(f".{folder.name}.{os.getpid()}.old")
    try:
        if folder.is_dir() and not folder.is_symlink():
            folder.rename(old)
        elif folder.exists() or folder.is_symlink():
            folder.unlink()
        part.rename(folder)
    except OSError as exc:  # (what was made is kept, where it is, and said)
        raise DiagError(f"{folder}: cannot put the new one in its place ({exc.strerror or exc}); it is in "
                        f"{part}") from None
    shutil.rmtree(old, ignore_errors=True)


def _clear_leftovers(folder: Path) -> None:
    """Remove what a run killed half way left beside ``folder`` (``.NAME.PID.part`` and
    ``.NAME.PID.old``, of a process gone, or of this process id, which a container reuses)."""
    for left in [*folder.parent.glob(f".{folder.name}.*.part"), *folder.parent.glob(f".{folder.name}.*.old")]:
        pid = left.name[len(folder.name) + 2:].rsplit(".", 1)[0]
        if pid.isdigit() and (int(pid) == os.getpid() or not _alive(int(pid))) and left.is_dir() \
                and not left.is_symlink():
            shutil.rmtree(left, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # (another user's process)
        return True
    return True

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
    part = folder.with_name(f".{folder.name}.{os.getpid()}.part")
    shutil.rmtree(part, ignore_errors=True)
    part.mkdir()
    try:
        yield part
    except BaseException:
        shutil.rmtree(part, ignore_errors=True)
        raise
    old = folder.with_name(f".{folder.name}.{os.getpid()}.old")
    if folder.is_dir() and not folder.is_symlink():
        folder.rename(old)
    elif folder.exists() or folder.is_symlink():
        folder.unlink()
    part.rename(folder)
    shutil.rmtree(old, ignore_errors=True)

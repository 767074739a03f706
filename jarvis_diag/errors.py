"""Errors a user can act on. The CLI turns each into one line on stderr and an exit code."""

import os
from collections.abc import Iterable


class DiagError(Exception):
    """A problem with the user's input or environment, said in one line."""

    exit_code = 2

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


def path_argument(name: str, value: object) -> str:
    """``value`` (one path: a str or a Path) as a str; a DiagError naming the library
    function's argument for anything else (None, a number, bytes), as for a wrong path."""
    if isinstance(value, str | os.PathLike) and isinstance(os.fspath(value), str):
        return os.fspath(value)
    raise DiagError(f"{name} must be a path (str or pathlib.Path), not {value!r}")


def paths_argument(name: str, value: object) -> list[str]:
    """``value`` (a path, or a list of paths, each a str or a Path) as a list of paths; a
    DiagError naming the argument for anything else (None, a number, bytes: not iterable,
    or iterated as numbers)."""
    if isinstance(value, str | os.PathLike):
        value = [value]
    elif isinstance(value, bytes | bytearray) or not isinstance(value, Iterable):
        raise DiagError(f"{name} must be a path or a list of paths (str or pathlib.Path), not {value!r}")
    paths = list(value)
    for p in paths:
        if not isinstance(p, str | os.PathLike) or not isinstance(os.fspath(p), str):
            raise DiagError(f"{name} must be a path or a list of paths (str or pathlib.Path); it holds {p!r}")
    return [os.fspath(p) for p in paths]


class DiagWarning(UserWarning):
    """What reading logs warned of (a file that is no Jarvis log, a guessed time zone), told
    by the library's entry points as a Python warning; ``warnings.simplefilter("ignore",
    jd.DiagWarning)`` silences them."""

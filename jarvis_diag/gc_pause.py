"""Pausing Python's cycle collector around the big batch steps."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def no_cycle_collection() -> Iterator[None]:
    """Python's cycle collector paused for the duration: reading or correlating a big log
    makes millions of tuples, dicts and lists, none of them garbage, and the collector would
    go over all of them again and again (a tenth to a fifth of the time). Reference counting
    still frees what is dropped."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()

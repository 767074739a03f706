"""The process's own limits, raised as far as the system lets it."""

from __future__ import annotations

import resource


def allow_open_files(n: int) -> None:
    """Raise this process's limit of open files to ``n``, as far as the hard limit lets it
    (a soft limit of 1024, the usual default, is a thousand sockets or followed files)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = n if hard == resource.RLIM_INFINITY else min(n, hard)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))

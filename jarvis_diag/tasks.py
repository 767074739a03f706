"""Stopping asyncio tasks that may not stop when cancelled once.

On Python 3.11, ``asyncio.wait_for`` returns its result instead of raising when the task
running it is cancelled in the moment the awaited thing completes (3.12 mends it), and the
libraries we run on use it. A task cancelled once can then go on, and whoever cancelled it
and waits for its end waits forever: a simulation that never returns. So a task we stop is
cancelled again while it runs, and waited for a bounded time."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

# how long a cancelled task is given to end before it is cancelled again (its clean-up after
# a cancellation is short: closing sockets, a last line logged)
RECANCEL_S = 0.5


async def stop_tasks(tasks: Iterable[asyncio.Future], limit_s: float = 10.0) -> set[asyncio.Future]:
    """Cancel ``tasks`` and wait for their end, cancelling those still running again every
    RECANCEL_S; after ``limit_s`` stop waiting and return those still running (else an
    empty set). What a task raised is left to whoever reads its result."""
    tasks = list(tasks)
    pending = {t for t in tasks if not t.done()}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while pending:
        for t in pending:
            t.cancel()
        left = deadline - loop.time()
        if left <= 0:
            break
        _, pending = await asyncio.wait(pending, timeout=min(RECANCEL_S, left))
    for t in tasks:  # (read: an exception nobody asks for is not reported at exit)
        if t.done() and not t.cancelled():
            t.exception()
    return pending
